/* libFuzzer harness for the import CSV reader (RFC 4180 as csv.h reads it) and the rejects
 * file's quoting. Besides crashes it checks what the headers promise: the same rows at every
 * read size, rows in file order, and every raw row back unchanged through a rejects file. */
/* memmem, memfd_create. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <talloc.h>

#include "fuzzlib.h"

#include "import/csv.h"
#include "import/rejects.h"

static const char *const wanted[] = { "imei", "msisdn", "kyc_id" };

/* One memory file for every run: the rejects file is written there and read back. */
static int memfd = -1;
static char memfd_path[64];

static int field_in(const struct csv_field *f, const struct csv_row *row)
{
	return f->p >= row->raw && f->p + f->len <= row->raw + row->raw_len;
}

static void check_row(const struct csv_row *row, size_t newlines)
{
	size_t k;
	int idx[3];

	CHECK(row->line >= 1 && row->line <= newlines + 1);
	CHECK(row->raw_len <= CSV_ROW_MAX);
	CHECK(row->nfields <= CSV_FIELDS_MAX);
	CHECK(row->nfields >= 1 || row->error != 0);
	CHECK(row->error >= CSV_E_NONE && row->error <= CSV_E_TOO_MANY_FIELDS);
	CHECK(strcmp(csv_error_name(row->error), "unknown") != 0);
	/* A field is in the raw row, or an unescaped copy (shorter than the row). */
	for (k = 0; k < row->nfields; k++)
		CHECK(field_in(&row->fields[k], row) || row->fields[k].len < row->raw_len);
	if (csv_map_header(row, wanted, 3, idx) == 0) {
		for (k = 0; k < 3; k++)
			CHECK(idx[k] >= -1 && idx[k] < (int)row->nfields);
	}
}

static void same_row(const struct csv_row *a, const struct csv_row *b)
{
	size_t k;

	CHECK(a->line == b->line);
	CHECK(a->error == b->error);
	CHECK(a->raw_len == b->raw_len);
	CHECK(memcmp(a->raw, b->raw, a->raw_len) == 0);
	CHECK(a->nfields == b->nfields);
	for (k = 0; k < a->nfields; k++) {
		CHECK(a->fields[k].len == b->fields[k].len);
		CHECK(memcmp(a->fields[k].p, b->fields[k].p, a->fields[k].len) == 0);
	}
}

/* Reads the rejects file back: the header, then one row per reject whose last field is the
 * raw row (or its first REJECTS_RAW_MAX bytes at most, with the marker). */
static void check_rejects(const char *in, size_t size, size_t nrows)
{
	struct csv_reader *a = csv_open_mem(NULL, in, size), *r;
	struct csv_row row, back;
	struct stat sb;
	char *file;
	size_t n = 0, len;

	CHECK(fstat(memfd, &sb) == 0);
	file = malloc((size_t)sb.st_size + 1);
	CHECK(file != NULL);
	CHECK(pread(memfd, file, (size_t)sb.st_size, 0) == sb.st_size);
	r = csv_open_mem(NULL, file, (size_t)sb.st_size);
	CHECK(a != NULL && r != NULL);
	CHECK(csv_next(r, &back) == 1);
	CHECK(back.nfields == 4 && back.error == 0);
	while (csv_next(a, &row) == 1) {
		CHECK(csv_next(r, &back) == 1);
		CHECK(back.nfields == 4);
		CHECK(back.error == 0 || back.error == CSV_E_NUL_BYTE);
		CHECK(back.fields[0].len == 4 && memcmp(back.fields[0].p, "fuzz", 4) == 0);
		CHECK(back.fields[2].len == strlen(csv_error_name(row.error)));
		len = back.fields[3].len;
		if (row.raw_len <= REJECTS_RAW_MAX) {
			CHECK(len == row.raw_len);
			CHECK(memcmp(back.fields[3].p, row.raw, len) == 0);
		} else {
			CHECK(len > REJECTS_RAW_MAX - 3 && len < REJECTS_RAW_MAX + 40);
			CHECK(memcmp(back.fields[3].p, row.raw, REJECTS_RAW_MAX - 3) == 0);
		}
		n++;
	}
	CHECK(n == nrows);
	CHECK(csv_next(r, &back) == 0);
	csv_close(r);
	csv_close(a);
	free(file);
}

/* Reads in[0..size) in one piece and in reads of read_size bytes, in step. */
static void run(const char *in, size_t size, size_t read_size)
{
	struct csv_reader *whole, *bits;
	struct csv_row a, b;
	struct rejects *rj;
	size_t newlines = 0, off = 0, last = 0, rows = 0, i;
	const char *at;
	int ra, rb;

	for (i = 0; i < size; i++)
		newlines += in[i] == '\n';
	whole = csv_open_mem(NULL, in, size);
	bits = csv_open_mem(NULL, in, size);
	CHECK(whole != NULL && bits != NULL);
	csv_set_read_size(bits, read_size);
	rj = rejects_open(NULL, memfd_path, NULL, 0);
	CHECK(rj != NULL);

	for (;;) {
		ra = csv_next(whole, &a);
		rb = csv_next(bits, &b);
		CHECK(ra == rb);
		if (ra != 1)
			break;
		check_row(&a, newlines);
		same_row(&a, &b);
		CHECK(a.line > last);
		last = a.line;
		/* Rows come in file order and their raw bytes are the file's. */
		at = memmem(in + off, size - off, a.raw, a.raw_len);
		CHECK(at != NULL);
		off = (size_t)(at - in) + a.raw_len;
		CHECK(rejects_add(rj, "fuzz", a.line, csv_error_name(a.error), a.raw,
				  a.raw_len) == 0);
		rows++;
	}
	CHECK(ra == 0);
	CHECK(csv_error(whole)[0] == '\0');
	CHECK(rejects_count(rj) == rows);
	CHECK(rejects_close(rj) == 0);
	talloc_free(rj);
	check_rejects(in, size, rows);
	csv_close(whole);
	csv_close(bits);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	size_t fill, tail;
	char *rep;

	if (memfd < 0) {
		memfd = memfd_create("fuzz_csv_rejects", 0);
		CHECK(memfd >= 0);
		snprintf(memfd_path, sizeof(memfd_path), "/proc/self/fd/%d", memfd);
	}
	/* The first byte picks the second reader's read size: rows, quotes, CRLF and "" cut
	 * at every place must read as they do in one piece. */
	run(in, size, size > 0 ? 1 + data[0] % 97 : 1);
	/* One input in 16 is also read twice around 64 KiB of filler, which no input of a sane
	 * -max_len reaches on its own: the second copy lands on the CSV_ROW_MAX limit, give
	 * or take 32 bytes, so that long rows, the limit and the skip to the next line are
	 * fuzzed too. The filler is text or commas (too many fields on top). */
	if (size >= 2 && data[0] % 16 == 0) {
		tail = data[size - 1];
		fill = CSV_ROW_MAX - 32 + tail % 64;
		fill = fill > size - 1 ? fill - (size - 1) : 0;
		rep = malloc(2 * (size - 1) + fill);
		CHECK(rep != NULL);
		memcpy(rep, in + 1, size - 1);
		memset(rep + size - 1, tail & 0x80 ? ',' : 'x', fill);
		memcpy(rep + size - 1 + fill, in + 1, size - 1);
		run(rep, 2 * (size - 1) + fill, 1000 + tail * 16);
		free(rep);
	}
	return 0;
}
