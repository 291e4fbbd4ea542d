/* The rejects file of an import: one CSV row (RFC 4180 quoting) per row that was not loaded,
 * saying where it was (file, line), why (a short snake_case reason) and what it held, so that
 * an operator can fix the rows and load the file again. Counts per reason for the summary. */
#ifndef CEIRGW_IMPORT_REJECTS_H
#define CEIRGW_IMPORT_REJECTS_H

#include <stddef.h>
#include <stdio.h>

/* Raw bytes kept per rejected row; a longer row is cut (on a UTF-8 character boundary) and
 * a marker " [truncated, N bytes]" says how long it was. */
#define REJECTS_RAW_MAX		1024

struct rejects;		/* opaque, a talloc child of the ctx it was opened with */

/* Creates (or truncates) path, mode 0600 since rows hold subscriber data, and writes the
 * header "file,line,reason,row". path NULL counts the rejects and writes nothing. Returns
 * the object, or NULL with errno set and "path: reason" in err (errsz bytes). */
struct rejects *rejects_open(void *ctx, const char *path, char *err, size_t errsz);

/* The rejects file ceirgwctl names itself when --rejects is not given (<input>.rejects.csv):
 * opened as rejects_open does, but never through a symbolic link (O_NOFOLLOW), only if it is
 * a regular file (a FIFO or device there is refused, never waited on), and made 0600 again
 * if it existed. rejects_close removes it again when no row was rejected, so that the file
 * is there after an import exactly when that import rejected rows. */
struct rejects *rejects_open_default(void *ctx, const char *path, char *err, size_t errsz);

/* Records one rejected row: file (NULL for ""), its line, the reason (copied on first use,
 * counted by content) and raw[0..raw_len), which may hold any bytes. Writes are buffered.
 * Returns 0, or the negative errno of the first failed write (the row is still counted). */
int rejects_add(struct rejects *rj, const char *file, size_t line, const char *reason,
		const char *raw, size_t raw_len);

/* Rows recorded so far. */
size_t rejects_count(const struct rejects *rj);

/* The file's path, or NULL when the rows are only counted. */
const char *rejects_path(const struct rejects *rj);

/* One line: "rejected 12: bad_imei 7, bad_msisdn 5", reasons by count, largest first. More
 * than 32 distinct reasons are summed as "other". */
void rejects_summary(const struct rejects *rj, FILE *out);

/* Writes what is buffered, fsyncs and closes the file. Returns 0, or the negative errno of
 * the first failed write, fsync or close (-ENOSPC for a full disk): the file is then not to
 * be trusted. The object stays readable (count, summary) until its talloc parent is freed or
 * talloc_free(rj); freeing it without rejects_close writes the buffer but does not fsync. */
int rejects_close(struct rejects *rj);

#endif
