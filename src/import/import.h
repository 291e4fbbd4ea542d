/* ceirgwctl import: operators' CSV dumps (plain or gzip) streamed into the store. Rows are
 * checked with the domain rules (IMEI, MSISDN, dates, national IDs); a bad row goes to the
 * rejects file with its line and reason and never stops the load. */
#ifndef CEIRGW_IMPORT_IMPORT_H
#define CEIRGW_IMPORT_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bulk;
struct import_counts;
struct import_metrics;
struct msisdn_memo;
struct rejects;
struct sight;

enum import_kind {
	IMPORT_PAIRINGS,	/* imei, msisdn; imsi, first_seen, last_seen, operator, rat */
	IMPORT_KYC,		/* msisdn, national_id; registered_at, name */
};

struct import_opts {
	struct bulk *bulk;
	struct msisdn_memo *memo;
	struct rejects *rejects;
	const uint8_t *kyc_key;		/* HMAC key for IMPORT_KYC */
	size_t kyc_keylen;
	bool progress;			/* a progress line on standard error */
	/* No batch is written while more than this share of the rows read so far (this file
	 * and the before ones) was rejected: the import stops with -ECANCELED. 1: no limit. */
	double max_reject_ratio;
	const struct import_counts *before;	/* the command's earlier files, or NULL */
	struct import_metrics *metrics;		/* progress for Prometheus, or NULL */
	struct sight *sight;			/* IMPORT_PAIRINGS: sightings, or NULL */
};

struct import_counts {
	size_t rows;		/* data rows read (the header not counted) */
	size_t imported;	/* rows handed to the store */
	size_t rejected;
	size_t bytes;		/* of the file's rows, for the progress line */
};

/* Whether rejected of rows is more than ratio (0..1; 1 never is). */
bool import_ratio_exceeded(size_t rejected, size_t rows, double ratio);

/* Reads one file into the store. Returns 0 or a negative errno when the file could not be
 * read to its end or the store failed (err says which); rows already handed over stay.
 * -ECANCELED: max_reject_ratio was passed, at a batch (which was not written: the batches
 * before it stay) or at the file's end. */
int import_file(enum import_kind kind, const char *path, const struct import_opts *o,
		struct import_counts *c, char *err, size_t errsz);

#endif
