/* ceirgwctl import: operators' CSV dumps (plain or gzip) streamed into the store. Rows are
 * checked with the domain rules (IMEI, MSISDN, dates); a bad row goes to the rejects file
 * with its line and reason and never stops the load. */
#ifndef CEIRGW_IMPORT_IMPORT_H
#define CEIRGW_IMPORT_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bulk;
struct msisdn_memo;
struct rejects;

struct import_counts {
	size_t rows;		/* data rows read (the header not counted) */
	size_t imported;	/* rows handed to the store */
	size_t rejected;
	size_t bytes;		/* of the file's rows, for the progress line */
};

/* Reads one pairings file into b. Returns 0 or a negative errno when the file could not be
 * read to its end or the store failed (err says which); rows already handed over stay. */
int import_pairings(const char *path, struct bulk *b, struct msisdn_memo *memo,
		    struct rejects *rj, bool progress, struct import_counts *c,
		    char *err, size_t errsz);

#endif
