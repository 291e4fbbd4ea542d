/* Streaming reader for the operators' subscriber dumps: CSV per RFC 4180 (quoted fields,
 * "" for a quote, newlines inside quotes, CRLF or LF), plain or gzip (RFC 1952) through zlib,
 * one row at a time out of one big buffer, with no allocation per row. */
#ifndef CEIRGW_IMPORT_CSV_H
#define CEIRGW_IMPORT_CSV_H

#include <stddef.h>

/* Bytes of one row without its line end: far above any subscriber row (a few hundred bytes),
 * low enough that an unterminated quote costs one bounded reject, not the rest of the file. */
#define CSV_ROW_MAX		(64 * 1024)
/* Fields kept per row; the dumps have a dozen columns at most. */
#define CSV_FIELDS_MAX		64

/* Why a row is broken (struct csv_row.error); csv_error_name gives the word for the rejects
 * file. A broken row is still returned, with its line and raw bytes, so that the load goes on. */
enum csv_row_error {
	CSV_E_NONE = 0,
	CSV_E_UNTERMINATED_QUOTE,	/* the file ends inside a quoted field */
	CSV_E_TOO_LONG,			/* over CSV_ROW_MAX bytes; the rest of its line is skipped */
	CSV_E_BAD_QUOTE,		/* text after a closing quote; the rest of its line is skipped */
	CSV_E_NUL_BYTE,			/* a NUL byte anywhere in the row */
	CSV_E_TOO_MANY_FIELDS,		/* more than CSV_FIELDS_MAX; the first ones are kept */
};

struct csv_field {
	const char *p;		/* the value: quotes removed, "" turned into " */
	size_t len;
};

/* Lent by the reader: every pointer stays valid until the next csv_next or csv_close. */
struct csv_row {
	size_t line;		/* 1-based physical line where the row starts */
	size_t nfields;		/* at least 1, except in a broken row */
	struct csv_field *fields;
	const char *raw;	/* the row's bytes as in the file, without the line end */
	size_t raw_len;
	int error;		/* 0 or a CSV_E_*; with an error, fields hold what could be read */
};

struct csv_reader;	/* opaque, a talloc child of the ctx it was opened with */

/* Opens path, "-" for standard input, plain or gzip (told apart by zlib from the content).
 * Returns a reader, or NULL with errno set and "path: reason" in err (errsz bytes). */
struct csv_reader *csv_open(void *ctx, const char *path, char *err, size_t errsz);

/* Reads buf[0..len) (copied as it is read: buf may hold anything, NUL bytes included, and
 * must stay valid while the reader is used). Returns NULL only when out of memory. */
struct csv_reader *csv_open_mem(void *ctx, const char *buf, size_t len);

/* Fills *row with the next row. Returns 1 with a row (possibly broken, see row->error), 0 at
 * the end, or a negative errno on a read or gzip error (-EIO, -EBADMSG for corrupt or
 * truncated gzip, -ENOMEM), then again on every later call; csv_error says what happened.
 * Empty lines and lines of only spaces and tabs are skipped, as is a UTF-8 BOM at the start. */
int csv_next(struct csv_reader *r, struct csv_row *row);

/* A one-line description of the last error of csv_next, "" if none. */
const char *csv_error(const struct csv_reader *r);

/* Closes the file and frees the reader; NULL is accepted. */
void csv_close(struct csv_reader *r);

/* "unterminated_quote", "row_too_long", "bad_quote", "nul_byte", "too_many_fields"; "ok" for
 * CSV_E_NONE and "unknown" for anything else. */
const char *csv_error_name(int code);

/* Where each of the n wanted names is in the header row: idx[k] is the column of names[k],
 * or -1 when absent. Names match without regard to ASCII case or surrounding spaces and tabs.
 * Returns 0, or -EINVAL when a wanted name matches two columns (which one would be meant?);
 * columns that nobody asked for may repeat. */
int csv_map_header(const struct csv_row *hdr, const char *const *names, size_t n, int *idx);

/* For tests and fuzzing: the largest number of bytes one read may bring in (at least 1), so
 * that rows cross the buffer's refills at every offset. */
void csv_set_read_size(struct csv_reader *r, size_t n);

#endif
