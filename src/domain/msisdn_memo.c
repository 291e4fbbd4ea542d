/* The block memo over msisdn_parse (see msisdn_memo.h). A block is the input's form ('+' or
 * not), its length and all its digits but the last four; the E.164 numbers libphonenumber
 * makes from one block share everything but those four digits, which it never rewrites.
 * A reading where that does not hold is simply not memorised. */
#include "domain/msisdn_memo.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <talloc.h>

#define MEMO_TAIL 4		/* digits a block leaves free */
#define MEMO_MIN_DIGITS 8	/* shorter numbers are read in full: too few per block */

struct block {
	uint8_t used;
	uint8_t plus;
	uint8_t ndigits;
	char prefix[MSISDN_INPUT_MAX];	/* the input's digits but the tail */
	/* The verdict: */
	uint8_t reason, type;
	char region[3];
	char e164_prefix[MSISDN_E164_MAX + 1];	/* the E.164 form but the tail */
};

struct msisdn_memo {
	char region[3];
	struct block *slots;
	size_t cap, used, max_blocks;
	size_t hits, misses;
};

struct msisdn_memo *msisdn_memo_new(void *ctx, const char *region, size_t max_blocks)
{
	struct msisdn_memo *m = talloc_zero(ctx, struct msisdn_memo);
	size_t cap = 64;

	if (m == NULL)
		return NULL;
	snprintf(m->region, sizeof(m->region), "%s", region ? region : "");
	while (cap < 2 * max_blocks)
		cap *= 2;
	m->cap = cap;
	m->max_blocks = max_blocks;
	m->slots = talloc_zero_array(m, struct block, cap);
	if (m->slots == NULL) {
		talloc_free(m);
		return NULL;
	}
	return m;
}

static uint32_t block_hash(int plus, size_t n, const char *p)
{
	uint32_t h = 2166136261u ^ (uint32_t)(plus * 131 + n);
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 16777619u;
	}
	return h;
}

/* The slot of the block, or the empty slot where it would go. */
static struct block *find(struct msisdn_memo *m, int plus, size_t ndigits, const char *digits)
{
	size_t plen = ndigits - MEMO_TAIL;
	size_t j = block_hash(plus, plen, digits) & (m->cap - 1);
	struct block *b;

	for (;;) {
		b = &m->slots[j];
		if (!b->used || (b->plus == plus && b->ndigits == ndigits &&
				 memcmp(b->prefix, digits, plen) == 0))
			return b;
		j = (j + 1) & (m->cap - 1);
	}
}

enum msisdn_reason msisdn_memo_parse(struct msisdn_memo *m, const char *in, size_t len,
				     struct msisdn *out)
{
	const char *digits = in;
	size_t n = len, i, elen;
	struct block *b;
	int plus = 0;

	if (len > 0 && in[0] == '+') {
		plus = 1;
		digits++;
		n--;
	}
	for (i = 0; i < n; i++) {
		if (digits[i] < '0' || digits[i] > '9')
			break;
	}
	if (i < n || n < MEMO_MIN_DIGITS || n > MSISDN_INPUT_MAX) {
		m->misses++;
		return msisdn_parse(in, len, m->region, out);
	}
	b = find(m, plus, n, digits);
	if (b->used) {
		m->hits++;
		memset(out, 0, sizeof(*out));
		out->reason = (enum msisdn_reason)b->reason;
		if (out->reason != MSISDN_OK)
			return out->reason;
		out->valid = true;
		out->type = (enum msisdn_type)b->type;
		memcpy(out->region, b->region, sizeof(out->region));
		elen = strlen(b->e164_prefix);
		memcpy(out->e164, b->e164_prefix, elen);
		memcpy(out->e164 + elen, digits + n - MEMO_TAIL, MEMO_TAIL);
		out->e164[elen + MEMO_TAIL] = '\0';
		return out->reason;
	}
	m->misses++;
	msisdn_parse(in, len, m->region, out);
	if (m->used >= m->max_blocks)
		return out->reason;
	if (out->valid) {
		elen = strlen(out->e164);
		/* Only blocks whose tail libphonenumber left as typed. */
		if (elen < MEMO_TAIL + 2 ||
		    memcmp(out->e164 + elen - MEMO_TAIL, digits + n - MEMO_TAIL, MEMO_TAIL) != 0)
			return out->reason;
		memcpy(b->e164_prefix, out->e164, elen - MEMO_TAIL);
		b->e164_prefix[elen - MEMO_TAIL] = '\0';
		memcpy(b->region, out->region, sizeof(b->region));
		b->type = (uint8_t)out->type;
	} else if (out->reason == MSISDN_TOO_SHORT || out->reason == MSISDN_TOO_LONG ||
		   out->reason == MSISDN_INVALID_NUMBER) {
		/* Ranges not in use, and lengths the plan does not have: the block's verdict. */
	} else {
		return out->reason;
	}
	b->used = 1;
	b->plus = (uint8_t)plus;
	b->ndigits = (uint8_t)n;
	memcpy(b->prefix, digits, n - MEMO_TAIL);
	b->reason = (uint8_t)out->reason;
	m->used++;
	return out->reason;
}

void msisdn_memo_stats(const struct msisdn_memo *m, size_t *hits, size_t *misses)
{
	*hits = m->hits;
	*misses = m->misses;
}
