/* ceirgwctl import: operators' CSV dumps (plain or gzip) streamed into the store. Rows are
 * checked with the domain rules (IMEI, MSISDN, dates, national IDs); a bad row goes to the
 * rejects file with its line and reason and never stops the load. */
#ifndef CEIRGW_IMPORT_IMPORT_H
#define CEIRGW_IMPORT_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bulk;
struct msisdn_memo;
struct rejects;

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
};

struct import_counts {
	size_t rows;		/* data rows read (the header not counted) */
	size_t imported;	/* rows handed to the store */
	size_t rejected;
	size_t bytes;		/* of the file's rows, for the progress line */
};

/* Reads one file into the store. Returns 0 or a negative errno when the file could not be
 * read to its end or the store failed (err says which); rows already handed over stay. */
int import_file(enum import_kind kind, const char *path, const struct import_opts *o,
		struct import_counts *c, char *err, size_t errsz);

#endif
