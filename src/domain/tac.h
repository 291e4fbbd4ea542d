/* TAC (Type Allocation Code, the first 8 digits of an IMEI) -> maker and model, from a CSV
 * table in the Osmocom tacdb format: optional preamble lines (the licence), a header line
 * starting with "tac" whose next two columns are maker and model ("tac,name,name,..." or
 * "tac,maker,model,..."), then one row per TAC. Quoted fields ("a,b") are read as CSV. A TAC
 * of fewer than 8 digits ("1130000": a spreadsheet read it as a number) is left-padded. */
#ifndef CEIRGW_DOMAIN_TAC_H
#define CEIRGW_DOMAIN_TAC_H

#include <stddef.h>

struct tac_table;	/* opaque, one talloc allocation tree */

struct tac_entry {
	const char *maker;	/* never NULL for a found entry; leading/trailing spaces trimmed */
	const char *model;
};

struct tac_load_stats {
	size_t rows;		/* data rows read */
	size_t loaded;		/* entries in the table */
	size_t rejected;	/* rows with a bad TAC or too few columns */
	size_t duplicates;	/* rows whose TAC was already loaded (the first one wins, but a
				 * TAC written with 8 digits wins over the same one padded) */
	size_t first_bad_line;	/* line number of the first rejected row, 0 if none */
	size_t padded;		/* rows whose TAC had fewer than 8 digits (a spreadsheet dropped
				 * its leading zeros), read left-padded with zeros */
	size_t padded_dropped;	/* of those, rows left out for a row of the same TAC written
				 * with 8 digits (counted in duplicates too) */
};

/* Loads a table from a file. Returns the table (a talloc child of ctx) or NULL with errno set
 * and a one-line reason in err (errsz bytes): file unreadable, no header line, no rows. */
struct tac_table *tac_table_load(void *ctx, const char *path, struct tac_load_stats *stats,
				 char *err, size_t errsz);

/* Same from a buffer in memory (buf[0..len)); the table does not keep buf. */
struct tac_table *tac_table_parse(void *ctx, const char *buf, size_t len,
				  struct tac_load_stats *stats, char *err, size_t errsz);

/* As tac_table_parse, and calls reject for every row it leaves out, with the row's line
 * number, a reason ("bad_tac", "too_few_columns", "row_too_long") and its bytes. */
typedef void (*tac_reject_fn)(void *arg, size_t line, const char *reason, const char *row,
			      size_t len);
struct tac_table *tac_table_parse_ex(void *ctx, const char *buf, size_t len,
				     struct tac_load_stats *stats, tac_reject_fn reject,
				     void *arg, char *err, size_t errsz);

struct tac_table *tac_table_load_ex(void *ctx, const char *path, struct tac_load_stats *stats,
				    tac_reject_fn reject, void *arg, char *err, size_t errsz);

/* The i-th entry in TAC order (0 <= i < tac_table_size): its 8 digits and NUL in tac.
 * Returns 0 or -ENOENT. */
int tac_table_at(const struct tac_table *t, size_t i, char tac[9], struct tac_entry *out);

/* Looks up 8 ASCII digits. Returns 0 and fills *out, or -ENOENT. */
int tac_lookup(const struct tac_table *t, const char tac[8], struct tac_entry *out);

/* Number of entries; the preamble lines before the header (the licence), or "". */
size_t tac_table_size(const struct tac_table *t);
const char *tac_table_preamble(const struct tac_table *t);

void tac_table_free(struct tac_table *t);

#endif
