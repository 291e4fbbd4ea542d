/* Fast MSISDN reading for bulk imports: libphonenumber costs about 13 us a number, far too
 * slow for millions of dump rows. Numbering plans allocate numbers in blocks, so numbers that
 * agree in all but their last four digits (and in length and form) read the same way: the
 * memo keeps, per block, libphonenumber's verdict and how the block's prefix maps to E.164. */
#ifndef CEIRGW_DOMAIN_MSISDN_MEMO_H
#define CEIRGW_DOMAIN_MSISDN_MEMO_H

#include <stddef.h>

#include "domain/msisdn.h"

struct msisdn_memo;

/* A memo for one default region (as msisdn_parse takes it), a talloc child of ctx, holding
 * at most max_blocks blocks (beyond that it reads each number in full). NULL on ENOMEM. */
struct msisdn_memo *msisdn_memo_new(void *ctx, const char *region, size_t max_blocks);

/* As msisdn_parse(in, len, region, out). Inputs of plain ASCII digits with an optional '+'
 * (what dumps carry) go through the memo; anything else is read in full. */
enum msisdn_reason msisdn_memo_parse(struct msisdn_memo *m, const char *in, size_t len,
				     struct msisdn *out);

/* Numbers answered from the memo, and read in full. */
void msisdn_memo_stats(const struct msisdn_memo *m, size_t *hits, size_t *misses);

#endif
