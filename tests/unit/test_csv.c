/* The import CSV reader (RFC 4180 as csv.h reads it: quotes, CRLF, BOM, broken rows) and the
 * rejects file (RFC 4180 quoting read back through the reader). Every table row is one cmocka
 * test (one TAP line) and is read at several read sizes, which must all give the same rows. */
/* mkdtemp, dup, dup2; the build may define it already. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "testlib.h"
#include <talloc.h>
#include <zlib.h>

#include "import/csv.h"
#include "import/rejects.h"

/* ---- a growing string, for the dumps the tables compare against ------------------------ */

struct out {
	char *s;
	size_t len, cap;
};

static void out_put(struct out *o, const char *p, size_t n)
{
	if (o->len + n + 1 > o->cap) {
		o->cap = (o->len + n + 1) * 2;
		o->s = realloc(o->s, o->cap);
		assert_non_null(o->s);
	}
	memcpy(o->s + o->len, p, n);
	o->len += n;
	o->s[o->len] = '\0';
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void out_printf(struct out *o, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	out_put(o, tmp, (size_t)n);
}

/* Bytes made readable in one line: \n \r \0 \\ \| and \xNN for the rest of the controls and
 * everything above 0x7e. */
static void out_escaped(struct out *o, const char *p, size_t n)
{
	unsigned char c;
	size_t i;

	for (i = 0; i < n; i++) {
		c = (unsigned char)p[i];
		if (c == '\n')
			out_put(o, "\\n", 2);
		else if (c == '\r')
			out_put(o, "\\r", 2);
		else if (c == '\0')
			out_put(o, "\\0", 2);
		else if (c == '\\' || c == '|')
			out_printf(o, "\\%c", c);
		else if (c < 0x20 || c > 0x7e)
			out_printf(o, "\\x%02x", c);
		else
			out_put(o, p + i, 1);
	}
}

/* Reads everything and writes one line per row, "LINE:field|field" or "LINE!reason:...",
 * and the raw rows into raws. Checks what csv.h promises of every row on the way. */
static int read_all(struct csv_reader *r, struct out *rows, struct out *raws)
{
	struct csv_row row;
	size_t last = 0, k;
	int rc;

	while ((rc = csv_next(r, &row)) == 1) {
		assert_true(row.line > last);
		last = row.line;
		assert_true(row.raw_len <= CSV_ROW_MAX);
		assert_true(row.nfields <= CSV_FIELDS_MAX);
		assert_true(row.nfields >= 1 || row.error != 0);
		out_printf(rows, "%zu", row.line);
		if (row.error != 0)
			out_printf(rows, "!%s", csv_error_name(row.error));
		out_put(rows, ":", 1);
		for (k = 0; k < row.nfields; k++) {
			if (k > 0)
				out_put(rows, "|", 1);
			out_escaped(rows, row.fields[k].p, row.fields[k].len);
		}
		out_put(rows, "\n", 1);
		if (raws != NULL) {
			out_escaped(raws, row.raw, row.raw_len);
			out_put(raws, "\n", 1);
		}
	}
	return rc;
}

/* An empty output, ready for out_put. */
static void out_init(struct out *o)
{
	memset(o, 0, sizeof(*o));
	out_put(o, "", 0);
}

/* read_mem IN LEN SIZE ROWS RAWS: IN read to its end at read size SIZE (0: csv.c's own), as
 * read_all writes it into ROWS and RAWS (NULL: not kept), both made empty first; the reader. */
static struct csv_reader *read_mem(const char *in, size_t len, size_t size, struct out *rows,
				   struct out *raws)
{
	struct csv_reader *r = csv_open_mem(NULL, in, len);

	assert_non_null(r);
	out_init(rows);
	if (raws != NULL)
		out_init(raws);
	if (size != 0)
		csv_set_read_size(r, size);
	assert_int_equal(read_all(r, rows, raws), 0);
	return r;
}

/* The read sizes every table row is read at: whole, and small enough to cut rows, quotes,
 * CRLF pairs and "" pairs at every place. */
static const size_t read_sizes[] = { 0, 1, 2, 3, 5, 64 };

/* ---- table: one input, the rows it gives ------------------------------------------------- */

struct parse_case {
	const char *name;
	const char *in;
	size_t len;
	const char *rows;
	const char *raws;	/* NULL: not checked */
};

#define ROWS(name, in, rows) { name, in, sizeof(in) - 1, rows, NULL }
#define RAWS(name, in, rows, raws) { name, in, sizeof(in) - 1, rows, raws }

static const struct parse_case parse_cases[] = {
	ROWS("csv: two rows of two fields", "a,b\nc,d\n", "1:a|b\n2:c|d\n"),
	ROWS("csv: last row without a line end", "a,b\nc,d", "1:a|b\n2:c|d\n"),
	ROWS("csv: empty input has no rows", "", ""),
	ROWS("csv: one field per row", "a\nb\n", "1:a\n2:b\n"),
	RAWS("csv: quoted field with a comma", "\"a,b\",c\n", "1:a,b|c\n", "\"a,b\",c\n"),
	ROWS("csv: every field quoted", "\"a\",\"b\",\"c\"\n", "1:a|b|c\n"),
	RAWS("csv: doubled quotes are one quote", "\"say \"\"hi\"\"\",x\n", "1:say \"hi\"|x\n",
	     "\"say \"\"hi\"\"\",x\n"),
	ROWS("csv: a field that is one quote", "\"\"\"\",a\n", "1:\"|a\n"),
	ROWS("csv: doubled quotes in two fields of a row", "\"a\"\"\",b,\"\"\"c\"\n",
	     "1:a\"|b|\"c\n"),
	ROWS("csv: quoted empty field", "\"\",a\n", "1:|a\n"),
	ROWS("csv: empty fields between commas", "a,,b\n,,\n", "1:a||b\n2:||\n"),
	ROWS("csv: trailing comma is an empty last field", "a,b,\nc,\n", "1:a|b|\n2:c|\n"),
	ROWS("csv: trailing comma at the end of the file", "a,", "1:a|\n"),
	ROWS("csv: spaces around unquoted fields are kept", " a , b \n", "1: a | b \n"),
	ROWS("csv: space before an opening quote makes it text", " \"a\",b\n", "1: \"a\"|b\n"),
	ROWS("csv: a quote inside an unquoted field is text", "ab\"c,d\"\n", "1:ab\"c|d\"\n"),
	RAWS("csv: CRLF line ends", "a,b\r\nc,d\r\n", "1:a|b\n2:c|d\n", "a,b\nc,d\n"),
	ROWS("csv: CRLF after a quoted field", "\"a\"\r\n\"b\"\r\n", "1:a\n2:b\n"),
	ROWS("csv: CRLF and LF mixed", "a\r\nb\nc\r\n", "1:a\n2:b\n3:c\n"),
	ROWS("csv: a CR before the end of the file ends the row", "a,b\r", "1:a|b\n"),
	ROWS("csv: a CR not before LF is text", "a\rb,c\n", "1:a\\rb|c\n"),
	ROWS("csv: a CR inside quotes is text", "\"a\rb\"\n", "1:a\\rb\n"),
	ROWS("csv: UTF-8 BOM at the start is skipped", "\xEF\xBB\xBFimei,msisdn\n1,2\n",
	     "1:imei|msisdn\n2:1|2\n"),
	ROWS("csv: UTF-8 BOM alone is an empty file", "\xEF\xBB\xBF", ""),
	ROWS("csv: UTF-8 BOM then a quoted header", "\xEF\xBB\xBF\"imei\"\n", "1:imei\n"),
	ROWS("csv: UTF-8 BOM later in the file is data", "a\n\xEF\xBB\xBF" "b\n",
	     "1:a\n2:\\xef\\xbb\\xbfb\n"),
	ROWS("csv: two bytes of a BOM are data", "\xEF\xBB", "1:\\xef\\xbb\n"),
	ROWS("csv: UTF-8 and invalid bytes pass through", "\xC3\xA9,\xFF\xFE\n",
	     "1:\\xc3\\xa9|\\xff\\xfe\n"),
	ROWS("csv: blank lines are skipped and counted", "\n\na\n\n\r\nb\n  \n\t\nc",
	     "3:a\n6:b\n9:c\n"),
	ROWS("csv: only blank lines", "\n\r\n \n", ""),
	ROWS("csv: a quoted empty line is a row", "\"\"\n", "1:\n"),
	ROWS("csv: a line of blanks and a comma is a row", " , \n", "1: | \n"),
	RAWS("csv: newline inside quotes, next row on line 3", "a,\"x\ny\"\nb,c\n",
	     "1:a|x\\ny\n3:b|c\n", "a,\"x\\ny\"\nb,c\n"),
	ROWS("csv: CRLF inside quotes is kept", "\"x\r\ny\"\r\nz\r\n", "1:x\\r\\ny\n3:z\n"),
	ROWS("csv: three lines in one field", "\"1\n2\n3\"\nnext\n", "1:1\\n2\\n3\n4:next\n"),
	ROWS("csv: quoted line ends in two fields", "\"a\n\",\"\nb\"\nc\n",
	     "1:a\\n|\\nb\n4:c\n"),
	ROWS("csv: blank lines inside quotes are data", "\"\n\n\"\nx\n", "1:\\n\\n\n4:x\n"),
	RAWS("csv: unterminated quote at the end of the file", "a,b\nc,\"d\ne\n",
	     "1:a|b\n2!unterminated_quote:c|d\\ne\\n\n", "a,b\nc,\"d\\ne\\n\n"),
	ROWS("csv: unterminated quote after a doubled quote", "\"ab\"\"",
	     "1!unterminated_quote:ab\"\n"),
	ROWS("csv: a lone quote", "\"", "1!unterminated_quote:\n"),
	ROWS("csv: quote closed at the very end", "\"ab\"", "1:ab\n"),
	RAWS("csv: text after a closing quote skips to the line end",
	     "\"ab\"c,d\ne,f\n", "1!bad_quote:ab\n2:e|f\n", "\"ab\"c,d\ne,f\n"),
	RAWS("csv: space after a closing quote with CRLF", "x,\"a\" ,b\r\nc\r\n",
	     "1!bad_quote:x|a\n2:c\n", "x,\"a\" ,b\nc\n"),
	ROWS("csv: text after a closing quote at the end of the file", "\"a\"b",
	     "1!bad_quote:a\n"),
	ROWS("csv: text after a closing quote then CR at the end", "\"a\"b\r",
	     "1!bad_quote:a\n"),
	ROWS("csv: bad quote after a quoted newline", "\"a\nb\"x\nc\n",
	     "1!bad_quote:a\\nb\n3:c\n"),
	ROWS("csv: a quote after a closing quote is bad", "\"a\"\"\"\"b\"x\n",
	     "1!bad_quote:a\"\"b\n"),
	ROWS("csv: CR then text after a closing quote", "\"a\"\rb\nc\n", "1!bad_quote:a\n2:c\n"),
	RAWS("csv: NUL byte in an unquoted field", "a\0b,c\nd\n", "1!nul_byte:a\\0b|c\n2:d\n",
	     "a\\0b,c\nd\n"),
	ROWS("csv: NUL byte in a quoted field", "\"a\0\",c\n", "1!nul_byte:a\\0|c\n"),
	ROWS("csv: NUL byte alone", "\0", "1!nul_byte:\\0\n"),
	ROWS("csv: unterminated quote wins over a NUL byte", "\0,\"a",
	     "1!unterminated_quote:\\0|a\n"),
	ROWS("csv: the first error of a row is its reason", "\0\"x\"\"y,\"a\"b\n",
	     "1!nul_byte:\\0\"x\"\"y|a\n"),
	ROWS("csv: line numbers after every kind of broken row",
	     "\"a\"x\n\0\n\"b\nc\"\n\nok\n\"open",
	     "1!bad_quote:a\n2!nul_byte:\\0\n3:b\\nc\n6:ok\n7!unterminated_quote:open\n"),
};

static void test_parse_case(void **state)
{
	const struct parse_case *c = *state;
	struct out rows, raws;
	struct csv_reader *r;
	size_t i;

	for (i = 0; i < sizeof(read_sizes) / sizeof(read_sizes[0]); i++) {
		r = read_mem(c->in, c->len, read_sizes[i], &rows, &raws);
		/* After the end: still the end. */
		assert_int_equal(csv_next(r, &(struct csv_row){ 0 }), 0);
		if (strcmp(rows.s, c->rows) != 0)
			fail_msg("read size %zu:\nwant\n%sgot\n%s", read_sizes[i], c->rows, rows.s);
		if (c->raws != NULL && strcmp(raws.s, c->raws) != 0)
			fail_msg("read size %zu: raw rows:\nwant\n%sgot\n%s", read_sizes[i], c->raws,
				 raws.s);
		csv_close(r);
		free(rows.s);
		free(raws.s);
	}
}

/* ---- generated rows around the limits ---------------------------------------------------- */

static char *repeat(char *p, int c, size_t n)
{
	memset(p, c, n);
	return p + n;
}

/* Reads buf at every read size and returns the rows as read_all writes them (the first read
 * size's, after checking that the others agree). */
static char *rows_of(const char *buf, size_t len, struct out *raws_out)
{
	static const size_t sizes[] = { 0, 1, 7, 4093, 65536 };
	struct out rows, raws, first = { 0 }, first_raws = { 0 };
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		csv_close(read_mem(buf, len, sizes[i], &rows, &raws));
		if (i == 0) {
			first = rows;
			first_raws = raws;
			continue;
		}
		if (strcmp(rows.s, first.s) != 0 || strcmp(raws.s, first_raws.s) != 0)
			fail_msg("read size %zu reads differently from one read", sizes[i]);
		free(rows.s);
		free(raws.s);
	}
	if (raws_out != NULL)
		*raws_out = first_raws;
	else
		free(first_raws.s);
	return first.s;
}

/* "LINE:" plus a field of n x's, as read_all writes it. */
static char *xs_row(size_t line, const char *err, size_t n, const char *rest)
{
	char *s = malloc(n + 128), *p;

	assert_non_null(s);
	p = s + sprintf(s, "%zu%s%s:", line, err ? "!" : "", err ? err : "");
	p = repeat(p, 'x', n);
	strcpy(p, rest);
	return s;
}

static void check_rows(const char *buf, size_t len, const char *want)
{
	char *got = rows_of(buf, len, NULL);

	if (strcmp(got, want) != 0)
		fail_msg("rows differ (%zu and %zu bytes)", strlen(got), strlen(want));
	free(got);
}

static void test_row_max_exact(void **state)
{
	char *buf = malloc(CSV_ROW_MAX + 16), *p = buf, *want;

	assert_non_null(buf);
	p = repeat(p, 'x', CSV_ROW_MAX);
	p += sprintf(p, "\nok\n");
	want = xs_row(1, NULL, CSV_ROW_MAX, "\n2:ok\n");
	check_rows(buf, (size_t)(p - buf), want);
	free(want);
	/* The same with CRLF: the line end may sit past the limit. */
	p = repeat(buf, 'x', CSV_ROW_MAX);
	p += sprintf(p, "\r\nok\r\n");
	want = xs_row(1, NULL, CSV_ROW_MAX, "\n2:ok\n");
	check_rows(buf, (size_t)(p - buf), want);
	free(want);
	/* And at the end of the file. */
	want = xs_row(1, NULL, CSV_ROW_MAX, "\n");
	check_rows(buf, CSV_ROW_MAX, want);
	free(want);
	free(buf);
}

static void test_row_max_plus_one(void **state)
{
	char *buf = malloc(CSV_ROW_MAX + 16), *p = buf, *want;
	struct out raws;
	char *got;

	assert_non_null(buf);
	p = repeat(p, 'x', CSV_ROW_MAX + 1);
	p += sprintf(p, "\nok\n");
	want = xs_row(1, "row_too_long", CSV_ROW_MAX, "\n2:ok\n");
	got = rows_of(buf, (size_t)(p - buf), &raws);
	assert_string_equal(got, want);
	/* The raw row is the first CSV_ROW_MAX bytes. */
	assert_int_equal(raws.len, CSV_ROW_MAX + 1 + 3);
	free(got);
	free(raws.s);
	free(want);
	/* A comma at the limit is content too. */
	p = repeat(buf, 'x', CSV_ROW_MAX - 1);
	p += sprintf(p, ",\nok\n");
	want = xs_row(1, NULL, CSV_ROW_MAX - 1, "|\n2:ok\n");
	check_rows(buf, (size_t)(p - buf), want);
	free(want);
	p = repeat(buf, 'x', CSV_ROW_MAX);
	p += sprintf(p, ",\nok\n");
	want = xs_row(1, "row_too_long", CSV_ROW_MAX, "\n2:ok\n");
	check_rows(buf, (size_t)(p - buf), want);
	free(want);
	/* Too long at the end of the file: nothing left to skip. */
	repeat(buf, 'x', CSV_ROW_MAX + 10);
	want = xs_row(1, "row_too_long", CSV_ROW_MAX, "\n");
	check_rows(buf, CSV_ROW_MAX + 10, want);
	free(want);
	free(buf);
}

/* Text after a closing quote runs to the line end, which may be past the limit. */
static void test_bad_quote_too_long(void **state)
{
	char *buf = malloc(CSV_ROW_MAX + 64), *p = buf;

	assert_non_null(buf);
	p += sprintf(p, "\"a\"b");
	p = repeat(p, 'x', CSV_ROW_MAX);
	p += sprintf(p, "\nok\n");
	check_rows(buf, (size_t)(p - buf), "1!row_too_long:a\n2:ok\n");
	free(buf);
}

static void test_row_100k_then_good(void **state)
{
	size_t big = 100 * 1024;
	char *buf = malloc(big + 64), *p = buf, *want;

	assert_non_null(buf);
	p += sprintf(p, "first\n");
	p = repeat(p, 'x', big);
	p += sprintf(p, "\r\ngood,row\r\nlast\n");
	want = xs_row(2, "row_too_long", CSV_ROW_MAX, "\n3:good|row\n4:last\n");
	memmove(want + strlen("1:first\n"), want, strlen(want) + 1);
	memcpy(want, "1:first\n", strlen("1:first\n"));
	check_rows(buf, (size_t)(p - buf), want);
	free(want);
	free(buf);
}

/* check_quoted BUF N TAIL WANT: a quote, N x's and TAIL, written in BUF, read as WANT (freed). */
static void check_quoted(char *buf, size_t n, const char *tail, char *want)
{
	char *p = buf;

	assert_non_null(want);
	*p++ = '"';
	p = repeat(p, 'x', n);
	p += sprintf(p, "%s", tail);
	check_rows(buf, (size_t)(p - buf), want);
	free(want);
}

/* A quoted field of exactly the limit, its quotes included, and one byte more. */
static void test_row_max_quoted(void **state)
{
	char *buf = malloc(CSV_ROW_MAX + 16);

	assert_non_null(buf);
	check_quoted(buf, CSV_ROW_MAX - 2, "\"\nok\n",
		     xs_row(1, NULL, CSV_ROW_MAX - 2, "\n2:ok\n"));
	check_quoted(buf, CSV_ROW_MAX - 1, "\"\nok\n", strdup("1!row_too_long:\n2:ok\n"));
	/* A doubled quote whose second half is past the limit. */
	check_quoted(buf, CSV_ROW_MAX - 2, "\"\"\"\nok\n", strdup("1!row_too_long:\n2:ok\n"));
	/* Unterminated exactly at the limit, at the end of the file. */
	check_quoted(buf, CSV_ROW_MAX - 1, "",
		     xs_row(1, "unterminated_quote", CSV_ROW_MAX - 1, "\n"));
	free(buf);
}

/* A field made of doubled quotes up to the limit: all of it goes through unescaping. The
 * row is 1 + 2 * pairs + 1 = CSV_ROW_MAX bytes (CSV_ROW_MAX is even). */
static void test_row_max_escaped(void **state)
{
	size_t pairs = (CSV_ROW_MAX - 2) / 2;
	char *buf = malloc(CSV_ROW_MAX + 16), *p, *want = malloc(pairs + 64), *w;

	assert_non_null(buf);
	assert_non_null(want);
	p = buf;
	*p++ = '"';
	p = repeat(p, '"', pairs * 2);
	p += sprintf(p, "\"\nz\n");
	w = want + sprintf(want, "1:");
	w = repeat(w, '"', pairs);
	strcpy(w, "\n2:z\n");
	check_rows(buf, (size_t)(p - buf), want);
	/* One more field makes it too long; the field read so far is kept. */
	p = buf + 1 + pairs * 2 + 1;
	p += sprintf(p, ",y\nz\n");
	w = want + sprintf(want, "1!row_too_long:");
	w = repeat(w, '"', pairs);
	strcpy(w, "\n2:z\n");
	check_rows(buf, (size_t)(p - buf), want);
	free(want);
	free(buf);
}

/* An unterminated quote early in a file swallows lines up to the limit, then the reader
 * finds its feet on the next line. */
static void test_unterminated_resyncs(void **state)
{
	enum { LINES = 2000 };
	char *buf = malloc(LINES * 64 + 64), *p = buf;
	struct csv_reader *r;
	struct csv_row row;
	size_t i, after = 0, good = 0, first_good = 0;
	int rc;

	assert_non_null(buf);
	p += sprintf(p, "id,\"name\n");
	for (i = 2; i <= LINES; i++)
		p += sprintf(p, "%05zu,a line of about forty bytes......\n", i);
	r = csv_open_mem(NULL, buf, (size_t)(p - buf));
	assert_non_null(r);
	csv_set_read_size(r, 1000);
	assert_int_equal(csv_next(r, &row), 1);
	assert_int_equal(row.line, 1);
	assert_int_equal(row.error, CSV_E_TOO_LONG);
	assert_int_equal(row.raw_len, CSV_ROW_MAX);
	while ((rc = csv_next(r, &row)) == 1) {
		assert_int_equal(row.error, 0);
		assert_int_equal(row.nfields, 2);
		/* Each row's first field is its own line number. */
		assert_int_equal(strtoul(row.fields[0].p, NULL, 10), row.line);
		if (first_good == 0)
			first_good = row.line;
		good++;
		after = row.line;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(after, LINES);
	assert_int_equal(good, LINES - first_good + 1);
	/* 64 KiB of 41-byte lines: the first good row is about line 1600. */
	assert_true(first_good > 1500 && first_good < 1700);
	csv_close(r);
	free(buf);
}

static void test_fields_max(void **state)
{
	char buf[4096], *p;
	struct csv_reader *r;
	struct csv_row row;
	int i;

	for (p = buf, i = 0; i < CSV_FIELDS_MAX; i++)
		p += sprintf(p, "%s%d", i ? "," : "", i);
	p += sprintf(p, "\n");
	for (i = 0; i < CSV_FIELDS_MAX + 1; i++)
		p += sprintf(p, "%s%d", i ? "," : "", i);
	p += sprintf(p, "\n");
	for (i = 0; i < 200; i++)
		p += sprintf(p, "%s", i ? ",\"q\"" : "\"q\"");
	p += sprintf(p, "\nlast\n");
	r = csv_open_mem(NULL, buf, (size_t)(p - buf));
	assert_non_null(r);
	assert_int_equal(csv_next(r, &row), 1);
	assert_int_equal(row.error, 0);
	assert_int_equal(row.nfields, CSV_FIELDS_MAX);
	assert_memory_equal(row.fields[63].p, "63", 2);
	assert_int_equal(csv_next(r, &row), 1);
	assert_int_equal(row.error, CSV_E_TOO_MANY_FIELDS);
	assert_string_equal(csv_error_name(row.error), "too_many_fields");
	assert_int_equal(row.nfields, CSV_FIELDS_MAX);
	assert_memory_equal(row.fields[63].p, "63", 2);
	assert_int_equal(row.line, 2);
	assert_int_equal(csv_next(r, &row), 1);
	assert_int_equal(row.error, CSV_E_TOO_MANY_FIELDS);
	assert_int_equal(row.nfields, CSV_FIELDS_MAX);
	assert_int_equal(csv_next(r, &row), 1);
	assert_int_equal(row.line, 4);
	assert_int_equal(row.error, 0);
	assert_int_equal(csv_next(r, &row), 0);
	csv_close(r);
}

static void test_error_names(void **state)
{
	assert_string_equal(csv_error_name(CSV_E_NONE), "ok");
	assert_string_equal(csv_error_name(CSV_E_UNTERMINATED_QUOTE), "unterminated_quote");
	assert_string_equal(csv_error_name(CSV_E_TOO_LONG), "row_too_long");
	assert_string_equal(csv_error_name(CSV_E_BAD_QUOTE), "bad_quote");
	assert_string_equal(csv_error_name(CSV_E_NUL_BYTE), "nul_byte");
	assert_string_equal(csv_error_name(CSV_E_TOO_MANY_FIELDS), "too_many_fields");
	assert_string_equal(csv_error_name(-1), "unknown");
	assert_string_equal(csv_error_name(99), "unknown");
}

/* Fields lent by one csv_next stay put until the next one, even when a refill follows. */
static void test_fields_valid_until_next(void **state)
{
	static const char in[] = "\"a\"\"b\",c\nd,\"e\"\"f\"\n";
	struct csv_reader *r = csv_open_mem(NULL, in, sizeof(in) - 1);
	struct csv_row row;

	assert_non_null(r);
	csv_set_read_size(r, 1);
	assert_int_equal(csv_next(r, &row), 1);
	assert_int_equal(row.fields[0].len, 3);
	assert_memory_equal(row.fields[0].p, "a\"b", 3);
	assert_memory_equal(row.raw, "\"a\"\"b\",c", 8);
	assert_int_equal(csv_next(r, &row), 1);
	assert_memory_equal(row.fields[1].p, "e\"f", 3);
	assert_int_equal(csv_next(r, &row), 0);
	csv_close(r);
}

static uint64_t rng_state;

static uint32_t rng(void)
{
	return test_rng(&rng_state);
}

/* Random CSV-ish buffers: every read size gives the same rows and csv.h's promises hold. */
static void test_random_buffers(void **state)
{
	static const char *const bits[] = {
		",", ",", "\"", "\"\"", "\n", "\r\n", "\r", " ", "a", "bc", "12345", "\xef\xbb\xbf",
		"\xff", "\"x,y\"", "\"\n\"", "",
	};
	size_t nbits = sizeof(bits) / sizeof(bits[0]);
	char buf[400], *got;
	size_t len, k, bl;
	int iter;

	rng_state = 4180;
	for (iter = 0; iter < 3000; iter++) {
		len = 0;
		while (len < sizeof(buf) - 8 && rng() % 48 != 0) {
			k = rng() % nbits;
			/* The last bit is a NUL byte. */
			bl = k == nbits - 1 ? 1 : strlen(bits[k]);
			memcpy(buf + len, k == nbits - 1 ? "\0" : bits[k], bl);
			len += bl;
		}
		got = rows_of(buf, len, NULL);
		free(got);
	}
}

/* ---- header mapping ------------------------------------------------------------------ */

struct header_case {
	const char *name;
	const char *header;
	const char *wanted[4];	/* up to NULL */
	int idx[4];
	int rc;
};

static const struct header_case header_cases[] = {
	{ "header: columns in the order asked", "imei,msisdn", { "imei", "msisdn" }, { 0, 1 },
	  0 },
	{ "header: columns in another order, one missing", "msisdn,x,imei",
	  { "imei", "msisdn", "kyc_id" }, { 2, 0, -1 }, 0 },
	{ "header: case does not matter", "IMEI,MsIsDn", { "imei", "msisdn" }, { 0, 1 }, 0 },
	{ "header: spaces and tabs around names are trimmed", " imei \t,\tmsisdn ",
	  { "imei", "msisdn" }, { 0, 1 }, 0 },
	{ "header: wanted names are trimmed too", "imei", { " imei " }, { 0 }, 0 },
	{ "header: quoted names", "\"msisdn\",\" imei\"", { "imei", "msisdn" }, { 1, 0 }, 0 },
	{ "header: unknown columns are ignored", "a,b,imei,c", { "imei" }, { 2 }, 0 },
	{ "header: a wanted name twice is EINVAL", "imei,msisdn,IMEI ", { "imei", "msisdn" },
	  { 0, 0 }, -EINVAL },
	{ "header: an unwanted name twice is fine", "x,x,imei,,", { "imei" }, { 2 }, 0 },
	{ "header: an empty name matches nothing useful", "imei,,msisdn", { "msisdn" }, { 2 },
	  0 },
	{ "header: a prefix is not a match", "imeisv,msisdn2", { "imei", "msisdn" },
	  { -1, -1 }, 0 },
	{ "header: UTF-8 BOM is not part of the first name", "\xEF\xBB\xBFimei,msisdn",
	  { "imei", "msisdn" }, { 0, 1 }, 0 },
};

static void test_header_case(void **state)
{
	const struct header_case *c = *state;
	struct csv_reader *r = csv_open_mem(NULL, c->header, strlen(c->header));
	struct csv_row row;
	size_t n = 0, k;
	int idx[4];

	assert_non_null(r);
	assert_int_equal(csv_next(r, &row), 1);
	while (n < 4 && c->wanted[n] != NULL)
		n++;
	assert_int_equal(csv_map_header(&row, c->wanted, n, idx), c->rc);
	if (c->rc == 0) {
		for (k = 0; k < n; k++)
			assert_int_equal(idx[k], c->idx[k]);
	}
	csv_close(r);
}

/* ---- files --------------------------------------------------------------------------- */

static char tmpdir[4096];

static char *tmp_path(const char *name)
{
	char *p = malloc(strlen(tmpdir) + strlen(name) + 2);

	assert_non_null(p);
	sprintf(p, "%s/%s", tmpdir, name);
	return p;
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void write_gz(const char *path, const void *data, size_t len)
{
	gzFile gz = gzopen(path, "wb");

	assert_non_null(gz);
	assert_int_equal(gzwrite(gz, data, (unsigned)len), (int)len);
	assert_int_equal(gzclose(gz), Z_OK);
}

static char *read_whole(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* A dump of about 3 MiB crossing the 1 MiB buffer at least twice: row i has its number, a
 * value that is plain, quoted with a comma, quoted with "" and a line break, empty or long,
 * and CRLF on every third row. */
#define BIG_ROWS	90000

static size_t big_value(size_t i, char *v)
{
	switch (i % 5) {
	case 0:
		return (size_t)sprintf(v, "2547%08zu", i);
	case 1:
		return (size_t)sprintf(v, "Name %zu, Surname", i);
	case 2:
		return (size_t)sprintf(v, "say \"%zu\"\nagain", i);
	case 3:
		return 0;
	default:
		memset(v, 'a' + (int)(i % 26), 40 + i % 97);
		return 40 + i % 97;
	}
}

static char *big_csv(size_t *len)
{
	char *buf = malloc((size_t)BIG_ROWS * 200 + 64), *p = buf, v[256];
	size_t i, n, k;

	assert_non_null(buf);
	p += sprintf(p, "\xEF\xBB\xBFid,value,tail\r\n");
	for (i = 0; i < BIG_ROWS; i++) {
		n = big_value(i, v);
		p += sprintf(p, "%zu,", i);
		if (i % 5 == 1 || i % 5 == 2) {
			*p++ = '"';
			for (k = 0; k < n; k++) {
				if (v[k] == '"')
					*p++ = '"';
				*p++ = v[k];
			}
			*p++ = '"';
		} else {
			memcpy(p, v, n);
			p += n;
		}
		p += sprintf(p, ",end%s", i % 3 == 0 ? "\r\n" : "\n");
	}
	*len = (size_t)(p - buf);
	return buf;
}

static void check_big(struct csv_reader *r)
{
	struct csv_row row;
	size_t i, line = 2, n;
	char v[256], id[32];

	assert_int_equal(csv_next(r, &row), 1);
	assert_int_equal(row.nfields, 3);
	assert_memory_equal(row.fields[0].p, "id", 2);
	for (i = 0; i < BIG_ROWS; i++) {
		if (csv_next(r, &row) != 1)
			fail_msg("row %zu missing: %s", i, csv_error(r));
		n = big_value(i, v);
		sprintf(id, "%zu", i);
		assert_int_equal(row.line, line);
		assert_int_equal(row.error, 0);
		assert_int_equal(row.nfields, 3);
		assert_int_equal(row.fields[0].len, strlen(id));
		assert_memory_equal(row.fields[0].p, id, strlen(id));
		assert_int_equal(row.fields[1].len, n);
		assert_memory_equal(row.fields[1].p, v, n);
		assert_int_equal(row.fields[2].len, 3);
		line += i % 5 == 2 ? 2 : 1;
	}
	assert_int_equal(csv_next(r, &row), 0);
	assert_string_equal(csv_error(r), "");
}

/* check_big_file PATH SIZE: the big CSV read back from PATH at read size SIZE (0: csv.c's
 * own). */
static void check_big_file(const char *path, size_t size)
{
	char err[256];
	struct csv_reader *r = csv_open(NULL, path, err, sizeof(err));

	assert_non_null(r);
	if (size != 0)
		csv_set_read_size(r, size);
	check_big(r);
	csv_close(r);
}

static void test_big_plain(void **state)
{
	char *path = tmp_path("big.csv");
	size_t len;
	char *buf = big_csv(&len);
	struct csv_reader *r;

	assert_true(len > 3 * 1024 * 1024);
	write_file(path, buf, len);
	check_big_file(path, 0);
	/* A read size prime to everything in the rows: refills cut every kind of row. */
	check_big_file(path, 4093);
	/* The same bytes from memory. */
	r = csv_open_mem(NULL, buf, len);
	assert_non_null(r);
	check_big(r);
	csv_close(r);
	unlink(path);
	free(path);
	free(buf);
}

static void test_big_gzip(void **state)
{
	char *path = tmp_path("big.csv.gz");
	size_t len;
	char *buf = big_csv(&len);

	write_gz(path, buf, len);
	check_big_file(path, 0);
	check_big_file(path, 777);
	unlink(path);
	free(path);
	free(buf);
}

/* Every table row through a gzip file reads as it does from memory. */
static void test_gzip_round_trip(void **state)
{
	char *path = tmp_path("table.csv.gz"), err[256];
	struct out want, got;
	struct csv_reader *r;
	size_t i;

	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		out_init(&got);
		csv_close(read_mem(parse_cases[i].in, parse_cases[i].len, 0, &want, NULL));
		write_gz(path, parse_cases[i].in, parse_cases[i].len);
		r = csv_open(NULL, path, err, sizeof(err));
		assert_non_null(r);
		assert_int_equal(read_all(r, &got, NULL), 0);
		csv_close(r);
		if (strcmp(want.s, got.s) != 0)
			fail_msg("%s: gzip reads\n%sinstead of\n%s", parse_cases[i].name, got.s,
				 want.s);
		free(want.s);
		free(got.s);
	}
	unlink(path);
	free(path);
}

/* Reads until the end or an error; returns the last csv_next result and the row count. */
static int drain(struct csv_reader *r, size_t *rows)
{
	struct csv_row row;
	int rc;

	*rows = 0;
	while ((rc = csv_next(r, &row)) == 1)
		(*rows)++;
	return rc;
}

/* A gzip file with its deflate data damaged, cut short, or with a wrong CRC: a clean
 * -EBADMSG with a message, after the rows before the damage. */
static void test_gzip_damaged(void **state)
{
	char *path = tmp_path("damaged.csv.gz"), *gzbuf, err[256];
	size_t len, gzlen, rows;
	char *buf = big_csv(&len);
	struct csv_reader *r;
	struct csv_row row;
	size_t i;

	write_gz(path, buf, len);
	gzbuf = read_whole(path, &gzlen);

	/* Garbage in the middle of the deflate stream. */
	for (i = gzlen / 2; i < gzlen / 2 + 64; i++)
		gzbuf[i] = (char)(0x5a ^ (i * 7));
	write_file(path, gzbuf, gzlen);
	r = csv_open(NULL, path, err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(drain(r, &rows), -EBADMSG);
	assert_true(rows < BIG_ROWS);
	assert_non_null(strstr(csv_error(r), path));
	assert_non_null(strstr(csv_error(r), "gzip"));
	/* The error stays. */
	assert_int_equal(csv_next(r, &row), -EBADMSG);
	csv_close(r);

	/* Cut in the middle. */
	write_gz(path, buf, len);
	free(gzbuf);
	gzbuf = read_whole(path, &gzlen);
	write_file(path, gzbuf, gzlen / 2);
	r = csv_open(NULL, path, err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(drain(r, &rows), -EBADMSG);
	assert_true(rows > 0 && rows < BIG_ROWS);
	assert_non_null(strstr(csv_error(r), "truncated gzip"));
	csv_close(r);

	/* A wrong CRC in the trailer: every row reads, then the error. */
	gzbuf[gzlen - 8] ^= 0x01;
	write_file(path, gzbuf, gzlen);
	r = csv_open(NULL, path, err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(drain(r, &rows), -EBADMSG);
	assert_non_null(strstr(csv_error(r), "corrupt gzip"));
	csv_close(r);

	/* A gzip header and then nothing that inflates. */
	write_file(path, "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xff\xff\xff\xff", 14);
	r = csv_open(NULL, path, err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(drain(r, &rows), -EBADMSG);
	assert_int_equal(rows, 0);
	assert_true(csv_error(r)[0] != '\0');
	csv_close(r);

	unlink(path);
	free(path);
	free(gzbuf);
	free(buf);
}

static void test_open_missing(void **state)
{
	char err[256], want[512];
	const char *path = "/nonexistent/dir/dump.csv";

	errno = 0;
	assert_null(csv_open(NULL, path, err, sizeof(err)));
	assert_int_equal(errno, ENOENT);
	snprintf(want, sizeof(want), "%s: %s", path, strerror(ENOENT));
	assert_string_equal(err, want);
}

static void test_open_directory(void **state)
{
	char err[256];

	errno = 0;
	assert_null(csv_open(NULL, tmpdir, err, sizeof(err)));
	assert_int_equal(errno, EISDIR);
	assert_non_null(strstr(err, strerror(EISDIR)));
}

/* "-" reads standard input, gzip or not, and leaves descriptor 0 open. */
static void test_open_stdin(void **state)
{
	static const char in[] = "imei,msisdn\n1,2\n";
	char *path = tmp_path("stdin.csv.gz"), err[256];
	struct csv_reader *r;
	struct csv_row row;
	int saved = dup(0), fd;

	assert_true(saved >= 0);
	write_gz(path, in, sizeof(in) - 1);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(dup2(fd, 0), 0);
	close(fd);
	r = csv_open(NULL, "-", err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(csv_next(r, &row), 1);
	assert_int_equal(csv_next(r, &row), 1);
	assert_memory_equal(row.fields[1].p, "2", 1);
	assert_int_equal(csv_next(r, &row), 0);
	csv_close(r);
	assert_true(fcntl(0, F_GETFD) >= 0);
	assert_int_equal(dup2(saved, 0), 0);
	close(saved);
	unlink(path);
	free(path);
}

/* Everything the reader allocates hangs under its context and goes with csv_close. */
static void test_talloc_tree(void **state)
{
	static const char in[] = "\"a\"\"\",b\n";
	void *ctx = talloc_new(NULL);
	char *path = tmp_path("tree.csv"), err[256];
	struct csv_reader *r;
	struct csv_row row;

	r = csv_open_mem(ctx, in, sizeof(in) - 1);
	assert_non_null(r);
	assert_ptr_equal(talloc_parent(r), ctx);
	assert_int_equal(csv_next(r, &row), 1);
	csv_close(r);
	assert_int_equal(talloc_total_blocks(ctx), 1);
	write_file(path, in, sizeof(in) - 1);
	r = csv_open(ctx, path, err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(csv_next(r, &row), 1);
	/* Freeing the context closes the file too (valgrind sees no leak). */
	talloc_free(ctx);
	csv_close(NULL);
	unlink(path);
	free(path);
}

/* ---- rejects ------------------------------------------------------------------------- */

struct reject {
	const char *file;
	size_t line;
	const char *reason;
	const char *raw;
	size_t raw_len;
};

#define REJ(file, line, reason, raw) { file, line, reason, raw, sizeof(raw) - 1 }

static const struct reject rejects_rows[] = {
	REJ("dump.csv", 2, "bad_imei", "12345,254712345678"),
	REJ("dump.csv", 3, "bad_msisdn", "356938035643809,\"+254 7\"\"12\"\""),
	REJ("dump, copy.csv", 4, "bad_quote", "\"a\"b,c"),
	REJ("dump.csv", 5, "unterminated_quote", "x,\"multi\nline\r\nrow"),
	REJ("d\"q\".csv", 6, "bad_imei", "\xff\xfe,\xc3\xa9\xe2\x82"),
	REJ("dump.csv", 7, "bad_imei", ""),
	REJ("dump.csv", 8, "odd, reason", " leading and trailing "),
	REJ("", 9, "bad_imei", "\""),
	REJ("dump.csv", 10, "bad_imei", ",,,"),
	REJ("dump.csv", 11, "bad_imei", "\r"),
	REJ("dump.csv", (size_t)-1, "bad_imei", "\xEF\xBB\xBF" "bom"),
};

static char *num(size_t v)
{
	static char s[32];

	sprintf(s, "%zu", v);
	return s;
}

static void expect_field(const struct csv_row *row, size_t k, const char *p, size_t n)
{
	assert_true(k < row->nfields);
	if (row->fields[k].len != n || memcmp(row->fields[k].p, p, n) != 0)
		fail_msg("line %zu field %zu: got %zu bytes, want %zu", row->line, k,
			 row->fields[k].len, n);
}

/* The end of a rejects file read back: no row left; the reader closed, the writer freed and
 * the file removed. */
static void rejects_read_done(struct csv_reader *r, struct rejects *rj, char *path)
{
	struct csv_row row;

	assert_int_equal(csv_next(r, &row), 0);
	csv_close(r);
	talloc_free(rj);
	unlink(path);
	free(path);
}

static void test_rejects_round_trip(void **state)
{
	size_t n = sizeof(rejects_rows) / sizeof(rejects_rows[0]), i;
	char *path = tmp_path("rejects.csv"), err[256];
	struct csv_reader *r;
	struct rejects *rj;
	struct csv_row row;
	struct stat sb;

	rj = rejects_open(NULL, path, err, sizeof(err));
	assert_non_null(rj);
	for (i = 0; i < n; i++)
		assert_int_equal(rejects_add(rj, rejects_rows[i].file, rejects_rows[i].line,
					     rejects_rows[i].reason, rejects_rows[i].raw,
					     rejects_rows[i].raw_len), 0);
	assert_int_equal(rejects_count(rj), n);
	assert_int_equal(rejects_close(rj), 0);
	/* Subscriber data: readable by its owner only. */
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);

	r = csv_open(NULL, path, err, sizeof(err));
	assert_non_null(r);
	csv_set_read_size(r, 3);
	assert_int_equal(csv_next(r, &row), 1);
	assert_int_equal(row.nfields, 4);
	expect_field(&row, 0, "file", 4);
	expect_field(&row, 3, "row", 3);
	for (i = 0; i < n; i++) {
		assert_int_equal(csv_next(r, &row), 1);
		assert_int_equal(row.error, 0);
		assert_int_equal(row.nfields, 4);
		expect_field(&row, 0, rejects_rows[i].file, strlen(rejects_rows[i].file));
		expect_field(&row, 1, num(rejects_rows[i].line), strlen(num(rejects_rows[i].line)));
		expect_field(&row, 2, rejects_rows[i].reason, strlen(rejects_rows[i].reason));
		expect_field(&row, 3, rejects_rows[i].raw, rejects_rows[i].raw_len);
	}
	rejects_read_done(r, rj, path);
}

/* What the importer does: broken rows of a dump go to the rejects file with their reason,
 * and come back from it as they were in the dump. */
static void test_rejects_of_broken_rows(void **state)
{
	static const char dump[] = "imei,msisdn\r\n\"a\"b,1\r\nok,2\r\nn\0l,3\r\n\"x\"\"\ny\",4\r\n"
				   ",,\"open\r\nmore";
	char *path = tmp_path("broken.rejects.csv"), err[256];
	struct csv_row row, back;
	struct csv_reader *r, *rr;
	struct rejects *rj;
	char *raws[8];
	size_t lines[8], n = 0, i;
	int errs[8];

	rj = rejects_open(NULL, path, err, sizeof(err));
	assert_non_null(rj);
	r = csv_open_mem(NULL, dump, sizeof(dump) - 1);
	assert_non_null(r);
	while (csv_next(r, &row) == 1) {
		if (row.line == 1)
			continue;
		assert_true(n < 8);
		raws[n] = malloc(row.raw_len + 1);
		assert_non_null(raws[n]);
		memcpy(raws[n], row.raw, row.raw_len);
		raws[n][row.raw_len] = '\0';
		lines[n] = row.line;
		errs[n] = row.error;
		assert_int_equal(rejects_add(rj, "dump.csv", row.line,
					     row.error ? csv_error_name(row.error) : "fine",
					     row.raw, row.raw_len), 0);
		n++;
	}
	csv_close(r);
	assert_int_equal(rejects_close(rj), 0);
	assert_int_equal(n, 5);
	assert_int_equal(errs[0], CSV_E_BAD_QUOTE);
	assert_int_equal(errs[2], CSV_E_NUL_BYTE);
	assert_int_equal(errs[4], CSV_E_UNTERMINATED_QUOTE);
	assert_int_equal(lines[4], 7);

	rr = csv_open(NULL, path, err, sizeof(err));
	assert_non_null(rr);
	assert_int_equal(csv_next(rr, &back), 1);
	for (i = 0; i < n; i++) {
		assert_int_equal(csv_next(rr, &back), 1);
		/* The NUL byte is written as it was: the rejects row says so too. */
		assert_int_equal(back.error, errs[i] == CSV_E_NUL_BYTE ? CSV_E_NUL_BYTE : 0);
		expect_field(&back, 1, num(lines[i]), strlen(num(lines[i])));
		expect_field(&back, 2, errs[i] ? csv_error_name(errs[i]) : "fine",
			     strlen(errs[i] ? csv_error_name(errs[i]) : "fine"));
		expect_field(&back, 3, raws[i], i == 2 ? 5 : strlen(raws[i]));
		free(raws[i]);
	}
	rejects_read_done(rr, rj, path);
}

/* Rows over 1 KiB are cut, on a character boundary, with the marker. */
static void test_rejects_truncated(void **state)
{
	char *path = tmp_path("long.rejects.csv"), err[256], raw[5000], want[1100], plain[1100];
	struct csv_reader *r;
	struct rejects *rj;
	struct csv_row row;
	size_t k;

	memset(raw, 'a', sizeof(raw));
	raw[10] = '"';
	raw[11] = ',';
	rj = rejects_open(NULL, path, err, sizeof(err));
	assert_non_null(rj);
	assert_int_equal(rejects_add(rj, "f", 1, "r", raw, sizeof(raw)), 0);
	assert_int_equal(rejects_add(rj, "f", 2, "r", raw, REJECTS_RAW_MAX), 0);
	/* Nothing to quote in the row, but the marker has a comma. */
	assert_int_equal(rejects_add(rj, "f", 3, "r", raw + 12, 3000), 0);
	/* A 2-byte character over the cut (bytes 1023 and 1024): it goes as a whole. */
	raw[1023] = '\xc3';
	raw[1024] = '\xa9';
	assert_int_equal(rejects_add(rj, "f", 4, "r", raw, 2000), 0);
	/* A 4-byte character starting at 1022. */
	raw[1022] = '\xf0';
	raw[1023] = '\x9f';
	raw[1024] = '\x98';
	raw[1025] = '\x80';
	assert_int_equal(rejects_add(rj, "f", 5, "r", raw, 2000), 0);
	assert_int_equal(rejects_close(rj), 0);
	talloc_free(rj);

	r = csv_open(NULL, path, err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(csv_next(r, &row), 1);
	/* The first two rows were written before the multi-byte characters. */
	memcpy(want, raw, REJECTS_RAW_MAX);
	want[1022] = want[1023] = 'a';
	assert_int_equal(csv_next(r, &row), 1);
	k = (size_t)sprintf(want + REJECTS_RAW_MAX, " [truncated, 5000 bytes]");
	expect_field(&row, 3, want, REJECTS_RAW_MAX + k);
	assert_int_equal(csv_next(r, &row), 1);
	expect_field(&row, 3, want, REJECTS_RAW_MAX);
	assert_int_equal(csv_next(r, &row), 1);
	assert_int_equal(row.nfields, 4);
	memset(plain, 'a', REJECTS_RAW_MAX);
	memcpy(plain + REJECTS_RAW_MAX, " [truncated, 3000 bytes]", 24);
	expect_field(&row, 3, plain, REJECTS_RAW_MAX + 24);
	assert_int_equal(csv_next(r, &row), 1);
	memcpy(want + 1023, " [truncated, 2000 bytes]", 24);
	expect_field(&row, 3, want, 1023 + 24);
	assert_int_equal(csv_next(r, &row), 1);
	memcpy(want + 1022, " [truncated, 2000 bytes]", 24);
	expect_field(&row, 3, want, 1022 + 24);
	assert_int_equal(csv_next(r, &row), 0);
	csv_close(r);
	unlink(path);
	free(path);
}

/* Thousands of rows: the write buffer is flushed many times and nothing is lost. */
static void test_rejects_many(void **state)
{
	enum { N = 20000 };
	char *path = tmp_path("many.rejects.csv"), err[256], raw[64];
	struct csv_reader *r;
	struct rejects *rj;
	struct csv_row row;
	size_t i, n;

	rj = rejects_open(NULL, path, err, sizeof(err));
	assert_non_null(rj);
	for (i = 0; i < N; i++) {
		n = (size_t)sprintf(raw, "%zu,\"quoted, \"\"row\"\"\"", i);
		assert_int_equal(rejects_add(rj, "many.csv", i + 2, "bad_imei", raw, n), 0);
	}
	assert_int_equal(rejects_close(rj), 0);
	talloc_free(rj);
	r = csv_open(NULL, path, err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(csv_next(r, &row), 1);
	for (i = 0; i < N; i++) {
		assert_int_equal(csv_next(r, &row), 1);
		n = (size_t)sprintf(raw, "%zu,\"quoted, \"\"row\"\"\"", i);
		expect_field(&row, 3, raw, n);
	}
	assert_int_equal(csv_next(r, &row), 0);
	csv_close(r);
	unlink(path);
	free(path);
}

/* A full disk: the error comes back from rejects_add once the buffer is written, and from
 * rejects_close in any case. */
static void test_rejects_disk_full(void **state)
{
	char err[256], raw[200];
	struct rejects *rj;
	int rc = 0, i;

	if (access("/dev/full", W_OK) != 0) {
		printf("# /dev/full is missing: the disk-full case is not exercised\n");
		return;
	}
	memset(raw, 'x', sizeof(raw));
	rj = rejects_open(NULL, "/dev/full", err, sizeof(err));
	assert_non_null(rj);
	assert_int_equal(rejects_add(rj, "f", 1, "r", raw, 10), 0);
	for (i = 0; i < 1000 && rc == 0; i++)
		rc = rejects_add(rj, "f", 1, "r", raw, sizeof(raw));
	assert_int_equal(rc, -ENOSPC);
	assert_int_equal(rejects_add(rj, "f", 1, "r", raw, sizeof(raw)), -ENOSPC);
	assert_int_equal(rejects_close(rj), -ENOSPC);
	assert_int_equal(rejects_close(rj), -ENOSPC);
	talloc_free(rj);

	rj = rejects_open(NULL, "/dev/full", err, sizeof(err));
	assert_non_null(rj);
	assert_int_equal(rejects_add(rj, "f", 1, "r", raw, 10), 0);
	assert_int_equal(rejects_close(rj), -ENOSPC);
	talloc_free(rj);
}

/* Freed without rejects_close (an error path of the caller): what was buffered is written. */
static void test_rejects_freed_unclosed(void **state)
{
	char *path = tmp_path("unclosed.rejects.csv"), *text;
	struct rejects *rj = rejects_open(NULL, path, NULL, 0);
	size_t len;

	assert_non_null(rj);
	assert_int_equal(rejects_add(rj, "f.csv", 7, "bad_imei", "1,2", 3), 0);
	talloc_free(rj);
	text = read_whole(path, &len);
	assert_int_equal(len, strlen("file,line,reason,row\nf.csv,7,bad_imei,\"1,2\"\n"));
	assert_memory_equal(text, "file,line,reason,row\nf.csv,7,bad_imei,\"1,2\"\n", len);
	free(text);
	unlink(path);
	free(path);
}

static void test_rejects_open_fails(void **state)
{
	char err[256];

	errno = 0;
	assert_null(rejects_open(NULL, "/nonexistent/dir/rejects.csv", err, sizeof(err)));
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(err, "/nonexistent/dir/rejects.csv: "));
}

static char *summary_of(const struct rejects *rj)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);

	assert_non_null(f);
	rejects_summary(rj, f);
	fclose(f);
	return s;
}

/* With no file: counted all the same, and summed per reason. */
static void test_rejects_summary(void **state)
{
	struct rejects *rj = rejects_open(NULL, NULL, NULL, 0);
	char reason[32], *s;
	int i;

	assert_non_null(rj);
	s = summary_of(rj);
	assert_string_equal(s, "rejected 0\n");
	free(s);
	for (i = 0; i < 5; i++)
		assert_int_equal(rejects_add(rj, "f", 1, "bad_msisdn", "x", 1), 0);
	for (i = 0; i < 7; i++) {
		/* The same reason from a buffer that is reused: counted by content. */
		strcpy(reason, "bad_imei");
		assert_int_equal(rejects_add(rj, "f", 1, reason, "x", 1), 0);
		strcpy(reason, "garbage");
	}
	assert_int_equal(rejects_count(rj), 12);
	s = summary_of(rj);
	assert_string_equal(s, "rejected 12: bad_imei 7, bad_msisdn 5\n");
	free(s);
	assert_int_equal(rejects_close(rj), 0);
	talloc_free(rj);

	/* Equal counts keep their first-seen order; past 32 reasons, "other". */
	rj = rejects_open(NULL, NULL, NULL, 0);
	assert_non_null(rj);
	for (i = 0; i < 40; i++) {
		sprintf(reason, "r%d", i);
		assert_int_equal(rejects_add(rj, NULL, 1, reason, NULL, 0), 0);
	}
	assert_int_equal(rejects_add(rj, NULL, 1, "r5", NULL, 0), 0);
	s = summary_of(rj);
	assert_non_null(strstr(s, "rejected 41: r5 2, r0 1, r1 1, r2 1,"));
	assert_non_null(strstr(s, ", r31 1, other 8\n"));
	free(s);
	talloc_free(rj);
}

int main(void)
{
	size_t nparse = sizeof(parse_cases) / sizeof(parse_cases[0]);
	size_t nhead = sizeof(header_cases) / sizeof(header_cases[0]);
	struct CMUnitTest *tests = calloc(nparse + nhead + 64, sizeof(*tests));
	const char *dir = getenv("TMPDIR");
	size_t n = 0, i;
	int rc;

	if (tests == NULL)
		return 99;
	snprintf(tmpdir, sizeof(tmpdir), "%s/test_csv.XXXXXX", dir && *dir ? dir : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		printf("Bail out! cannot create %s: %s\n", tmpdir, strerror(errno));
		free(tests);
		return 1;
	}
	for (i = 0; i < nparse; i++)
		tests[n++] = (struct CMUnitTest){ parse_cases[i].name, test_parse_case, NULL, NULL,
						  (void *)&parse_cases[i] };
#define ADD(name, fn) (tests[n++] = (struct CMUnitTest){ name, fn, NULL, NULL, NULL })
	ADD("limit: a row of exactly 64 KiB, LF, CRLF or at the end", test_row_max_exact);
	ADD("limit: 64 KiB plus one byte is row_too_long, the next row reads", test_row_max_plus_one);
	ADD("limit: a 100 KiB row then good rows with their line numbers", test_row_100k_then_good);
	ADD("limit: text after a closing quote past 64 KiB is row_too_long", test_bad_quote_too_long);
	ADD("limit: quoted field at and over 64 KiB", test_row_max_quoted);
	ADD("limit: 32 KiB of doubled quotes unescaped", test_row_max_escaped);
	ADD("limit: an unterminated quote costs one row of 64 KiB", test_unterminated_resyncs);
	ADD("limit: 64 fields read, 65 and 200 are too_many_fields", test_fields_max);
	ADD("csv: error names for the rejects file", test_error_names);
	ADD("csv: fields stay valid until the next row", test_fields_valid_until_next);
	ADD("csv: 3000 random buffers read the same at every read size", test_random_buffers);
	for (i = 0; i < nhead; i++)
		tests[n++] = (struct CMUnitTest){ header_cases[i].name, test_header_case, NULL,
						  NULL, (void *)&header_cases[i] };
	ADD("file: 3 MiB plain file, every row checked", test_big_plain);
	ADD("file: 3 MiB gzip file, every row checked", test_big_gzip);
	ADD("file: every table input through gzip reads the same", test_gzip_round_trip);
	ADD("file: damaged, cut or bad-CRC gzip is EBADMSG with a message", test_gzip_damaged);
	ADD("file: missing file is ENOENT with the path", test_open_missing);
	ADD("file: a directory is EISDIR", test_open_directory);
	ADD("file: - reads standard input", test_open_stdin);
	ADD("file: the reader is one talloc tree", test_talloc_tree);
	ADD("rejects: rows with quotes, commas, newlines, bad UTF-8 read back", test_rejects_round_trip);
	ADD("rejects: broken dump rows read back as they were", test_rejects_of_broken_rows);
	ADD("rejects: rows over 1 KiB cut on a character with a marker", test_rejects_truncated);
	ADD("rejects: 20000 rows through the write buffer", test_rejects_many);
	ADD("rejects: a full disk is ENOSPC", test_rejects_disk_full);
	ADD("rejects: freed without close still writes its rows", test_rejects_freed_unclosed);
	ADD("rejects: unwritable path is ENOENT with the path", test_rejects_open_fails);
	ADD("rejects: counts and summary without a file", test_rejects_summary);
#undef ADD

	rc = _cmocka_run_group_tests("csv", tests, n, NULL, NULL);
	rmdir(tmpdir);
	free(tests);
	return rc;
}
