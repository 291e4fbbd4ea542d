/* TAC table: the Osmocom tacdb CSV (https://osmocom.org/projects/tacdb) read into one sorted
 * array of {tac, maker, model} over a string pool, looked up by binary search. CSV per
 * RFC 4180, read leniently: one row per line, quotes are honoured only within the line. */
/* open, fstat, read, O_CLOEXEC. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "domain/tac.h"

#include "core/errbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <talloc.h>
#include <unistd.h>

/* Far above the 25k-row, 3.3 MB Osmocom file, low enough that every offset fits 32 bits
 * and a wrong path (a disk image, a log) fails at once instead of eating memory. */
#define TAC_FILE_MAX	((size_t)256 << 20)
/* Osmocom's longest line is under 400 bytes; a longer line is a broken row, not a reason to
 * give up on the file, and the bound lets fields be copied into stack buffers. */
#define TAC_LINE_MAX	4096
#define TAC_DIGITS	8

struct tac_row {
	uint32_t tac;		/* the 8 digits as a number: 01130000 is 1130000 */
	uint32_t maker_off;	/* into the pool */
	uint32_t model_off;
};

struct tac_table {
	struct tac_row *rows;	/* sorted by tac, no duplicates */
	size_t n;
	char *pool;		/* NUL-terminated strings, each stored once */
	char *preamble;
};

/* A row while loading: seq (its order in the file) makes "first one wins" survive qsort;
 * padded marks a TAC read from fewer than 8 digits. */
struct build_row {
	uint32_t tac, maker_off, model_off, seq;
	bool padded;
};

/* Everything temporary hangs under tmp and goes in one talloc_free. */
struct builder {
	void *tmp;
	char *pool;
	size_t pool_len, pool_cap;
	uint32_t *slots;	/* open addressing over the pool: offset + 1, 0 for empty */
	size_t slots_cap, slots_used;
	struct build_row *rows;
	size_t n, cap;
};

/* FNV-1a: the strings are short and few (about 600 makers, 20k models), nothing fancier
 * is needed. */
static uint32_t hash_str(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

static int slots_grow(struct builder *b)
{
	size_t cap = b->slots_cap ? b->slots_cap * 2 : 1024, i, j;
	uint32_t *slots = talloc_zero_array(b->tmp, uint32_t, cap);
	const char *s;

	if (slots == NULL)
		return -ENOMEM;
	for (i = 0; i < b->slots_cap; i++) {
		if (b->slots[i] == 0)
			continue;
		s = b->pool + b->slots[i] - 1;
		j = hash_str(s, strlen(s)) & (cap - 1);
		while (slots[j] != 0)
			j = (j + 1) & (cap - 1);
		slots[j] = b->slots[i];
	}
	talloc_free(b->slots);
	b->slots = slots;
	b->slots_cap = cap;
	return 0;
}

/* Stores s[0..n) in the pool once: a maker repeats on thousands of rows and a model on
 * dozens (one per TAC the maker was given). Returns 0 and the offset in *off, or -ENOMEM. */
static int intern(struct builder *b, const char *s, size_t n, uint32_t *off)
{
	size_t j, cap;
	const char *p;
	char *pool;

	if (2 * (b->slots_used + 1) > b->slots_cap && slots_grow(b) < 0)
		return -ENOMEM;
	j = hash_str(s, n) & (b->slots_cap - 1);
	while (b->slots[j] != 0) {
		p = b->pool + b->slots[j] - 1;
		if (strncmp(p, s, n) == 0 && p[n] == '\0') {
			*off = b->slots[j] - 1;
			return 0;
		}
		j = (j + 1) & (b->slots_cap - 1);
	}
	if (b->pool_len + n + 1 > b->pool_cap) {
		cap = b->pool_cap ? b->pool_cap : 64 * 1024;
		while (b->pool_len + n + 1 > cap)
			cap *= 2;
		pool = talloc_realloc(b->tmp, b->pool, char, cap);
		if (pool == NULL)
			return -ENOMEM;
		b->pool = pool;
		b->pool_cap = cap;
	}
	memcpy(b->pool + b->pool_len, s, n);
	b->pool[b->pool_len + n] = '\0';
	*off = (uint32_t)b->pool_len;
	b->slots[j] = (uint32_t)b->pool_len + 1;
	b->slots_used++;
	b->pool_len += n + 1;
	return 0;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Reads the CSV field at line[*pos..len) into out (at least len + 1 bytes: unquoting never
 * makes a field longer), unquoted and with surrounding blanks trimmed, and moves *pos past
 * its comma. Returns 1 when a comma ended it (another field follows), 0 at the end of the
 * line. Lenient where RFC 4180 is strict: blanks before an opening quote are allowed (the
 * Osmocom file has ", Apple"), text after a closing quote is kept, and an unterminated quote
 * ends with the line. */
static int csv_field(const char *line, size_t len, size_t *pos, char *out, size_t *outlen)
{
	size_t i = *pos, n = 0, lead;
	int more = 0;

	while (i < len && is_blank(line[i]))
		i++;
	if (i < len && line[i] == '"') {
		for (i++; i < len; i++) {
			if (line[i] == '"') {
				if (i + 1 < len && line[i + 1] == '"') {
					out[n++] = '"';
					i++;
					continue;
				}
				i++;
				break;
			}
			out[n++] = line[i];
		}
	}
	for (; i < len; i++) {
		if (line[i] == ',') {
			more = 1;
			i++;
			break;
		}
		out[n++] = line[i];
	}
	*pos = i;
	/* Blanks inside quotes (" Apple") are trimmed too: nobody means them. */
	while (n > 0 && is_blank(out[n - 1]))
		n--;
	for (lead = 0; lead < n && is_blank(out[lead]); lead++)
		;
	n -= lead;
	memmove(out, out + lead, n);
	out[n] = '\0';
	/* The pool holds C strings: a NUL byte in a field ends it. */
	*outlen = strlen(out);
	return more;
}

/* Parses "12345678" (1 to 8 ASCII digits: fewer are the same TAC without its leading
 * zeros, see add_row). Returns 0, or -EINVAL. */
static int parse_tac(const char *s, size_t n, uint32_t *tac)
{
	uint32_t v = 0;
	size_t i;

	if (n == 0 || n > TAC_DIGITS)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint32_t)(s[i] - '0');
	}
	*tac = v;
	return 0;
}

/* The next line of buf[*pos..len) without its LF or CRLF; returns 0 at the end. */
static int next_line(const char *buf, size_t len, size_t *pos, const char **line,
		     size_t *linelen)
{
	const char *nl;
	size_t n;

	if (*pos >= len)
		return 0;
	*line = buf + *pos;
	nl = memchr(*line, '\n', len - *pos);
	n = nl ? (size_t)(nl - *line) : len - *pos;
	*pos += nl ? n + 1 : n;
	if (n > 0 && (*line)[n - 1] == '\r')
		n--;
	*linelen = n;
	return 1;
}

/* True for the header: its first field is "tac" in any case. */
static int is_header(const char *line, size_t len)
{
	char field[TAC_LINE_MAX + 1];
	size_t pos = 0, n;

	if (len > TAC_LINE_MAX)
		return 0;
	csv_field(line, len, &pos, field, &n);
	return n == 3 && (field[0] | 0x20) == 't' && (field[1] | 0x20) == 'a' &&
	       (field[2] | 0x20) == 'c';
}

static int is_blank_line(const char *line, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (!is_blank(line[i]))
			return 0;
	}
	return 1;
}

/* Reads one data row. Returns 1 when it was added, 0 when it was rejected, -ENOMEM. */
/* Returns 1 when the row was added, 0 when rejected (*why says why), -ENOMEM. */
static int add_row(struct builder *b, const char *line, size_t len, const char **why)
{
	/* Lines are at most TAC_LINE_MAX bytes, so no field can overflow these. */
	char tac_s[TAC_LINE_MAX + 1], maker[TAC_LINE_MAX + 1], model[TAC_LINE_MAX + 1];
	size_t pos = 0, tac_n, maker_n, model_n, cap;
	struct build_row *rows, r;
	bool nul;

	*why = "row_too_long";
	if (len > TAC_LINE_MAX)
		return 0;
	*why = "too_few_columns";
	if (!csv_field(line, len, &pos, tac_s, &tac_n))
		return 0;
	/* A NUL byte ends a field (csv_field): "1234\0" "5678" would read as a short TAC. */
	nul = memchr(line, '\0', pos) != NULL;
	if (!csv_field(line, len, &pos, maker, &maker_n))
		return 0;
	csv_field(line, len, &pos, model, &model_n);
	*why = "bad_tac";
	if (nul || parse_tac(tac_s, tac_n, &r.tac) < 0)
		return 0;
	/* TACs are 8 digits (3GPP TS 23.003 6.2.1); a shorter one is a spreadsheet's number
	 * that lost its leading zeros (779 Apple rows of the Osmocom file read "1130000" for
	 * 01130000), so it is the same TAC left-padded: the value as a number already is. */
	r.padded = tac_n < TAC_DIGITS;
	if (intern(b, maker, maker_n, &r.maker_off) < 0 ||
	    intern(b, model, model_n, &r.model_off) < 0)
		return -ENOMEM;
	if (b->n == b->cap) {
		cap = b->cap ? b->cap * 2 : 1024;
		rows = talloc_realloc(b->tmp, b->rows, struct build_row, cap);
		if (rows == NULL)
			return -ENOMEM;
		b->rows = rows;
		b->cap = cap;
	}
	r.seq = (uint32_t)b->n;
	b->rows[b->n++] = r;
	return 1;
}

static int build_row_cmp(const void *a, const void *b)
{
	const struct build_row *x = a, *y = b;

	if (x->tac != y->tac)
		return x->tac < y->tac ? -1 : 1;
	/* A TAC written with its 8 digits comes before the same TAC padded: the padded one is
	 * a repair, the other one is what its author wrote. */
	if (x->padded != y->padded)
		return x->padded ? 1 : -1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Copies the lines before the header, CRLF turned into LF and without the last newline. */
static char *copy_preamble(void *ctx, const char *buf, size_t len)
{
	char *p = talloc_array(ctx, char, len + 1);
	size_t pos = 0, n = 0, linelen;
	const char *line;

	if (p == NULL)
		return NULL;
	while (next_line(buf, len, &pos, &line, &linelen)) {
		if (n > 0)
			p[n++] = '\n';
		memcpy(p + n, line, linelen);
		n += linelen;
	}
	p[n] = '\0';
	return p;
}

static struct tac_table *fail(struct tac_table *t, void *tmp, int err)
{
	talloc_free(tmp);
	talloc_free(t);
	errno = err;
	return NULL;
}

/* Lines up to the header are the preamble; after it, blank lines are skipped and every other
 * line is a row, rejected unless it has three columns and a TAC of 1 to 8 ASCII digits
 * once the blanks around it are trimmed (the Osmocom file has " 35572302"); a TAC of fewer
 * digits is left-padded with zeros. Rows are collected in file order, sorted, and the first
 * of each TAC kept, a TAC written with 8 digits before one padded to them. */
struct tac_table *tac_table_parse(void *ctx, const char *buf, size_t len,
				  struct tac_load_stats *stats, char *err, size_t errsz)
{
	return tac_table_parse_ex(ctx, buf, len, stats, NULL, NULL, err, errsz);
}

struct tac_table *tac_table_parse_ex(void *ctx, const char *buf, size_t len,
				     struct tac_load_stats *stats, tac_reject_fn reject,
				     void *arg, char *err, size_t errsz)
{
	const char *why;
	struct tac_load_stats st = { 0 };
	struct builder b = { 0 };
	struct tac_table *t = NULL;
	size_t pos = 0, start, header_at, linelen, lineno = 0, i, j;
	bool kept_padded = false;
	const char *line;
	int rc;

	if (stats != NULL)
		*stats = st;
	if (len > TAC_FILE_MAX) {
		errbuf_set(err, errsz, "larger than %zu MiB", TAC_FILE_MAX >> 20);
		return fail(NULL, NULL, EFBIG);
	}
	/* A spreadsheet that saved the file as "UTF-8 with BOM" is still the same file. */
	if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
		pos = 3;
	start = pos;
	if (pos == len) {
		errbuf_set(err, errsz, "empty");
		return fail(NULL, NULL, EINVAL);
	}

	for (;;) {
		header_at = pos;
		if (!next_line(buf, len, &pos, &line, &linelen)) {
			errbuf_set(err, errsz, "no header line starting with 'tac'");
			return fail(NULL, NULL, EINVAL);
		}
		lineno++;
		if (is_header(line, linelen))
			break;
	}

	t = talloc_zero(ctx, struct tac_table);
	b.tmp = talloc_new(NULL);
	if (t == NULL || b.tmp == NULL)
		goto nomem;
	t->preamble = copy_preamble(t, buf + start, header_at - start);
	if (t->preamble == NULL)
		goto nomem;

	while (next_line(buf, len, &pos, &line, &linelen)) {
		lineno++;
		if (is_blank_line(line, linelen))
			continue;
		st.rows++;
		rc = add_row(&b, line, linelen, &why);
		if (rc < 0)
			goto nomem;
		if (rc == 1 && b.rows[b.n - 1].padded)
			st.padded++;
		if (rc == 0) {
			if (reject)
				reject(arg, lineno, why, line, linelen);
			st.rejected++;
			if (st.first_bad_line == 0)
				st.first_bad_line = lineno;
		}
	}

	if (b.n == 0) {
		if (st.rows == 0)
			errbuf_set(err, errsz, "no rows after the header line");
		else
			errbuf_set(err, errsz, "none of the %zu rows is valid (the first bad one is "
				"line %zu)", st.rows, st.first_bad_line);
		if (stats != NULL)
			*stats = st;
		return fail(t, b.tmp, EINVAL);
	}

	qsort(b.rows, b.n, sizeof(b.rows[0]), build_row_cmp);
	t->rows = talloc_array(t, struct tac_row, b.n);
	if (t->rows == NULL)
		goto nomem;
	for (i = 0, j = 0; i < b.n; i++) {
		if (j > 0 && t->rows[j - 1].tac == b.rows[i].tac) {
			st.duplicates++;
			/* Sorted 8-digit first: a padded row loses to the 8-digit one kept. */
			if (b.rows[i].padded && !kept_padded)
				st.padded_dropped++;
			continue;
		}
		kept_padded = b.rows[i].padded;
		t->rows[j].tac = b.rows[i].tac;
		t->rows[j].maker_off = b.rows[i].maker_off;
		t->rows[j].model_off = b.rows[i].model_off;
		j++;
	}
	t->n = j;
	st.loaded = j;
	if (j < b.n) {
		/* Shrinking cannot fail in practice, and the larger array is as good. */
		struct tac_row *rows = talloc_realloc(t, t->rows, struct tac_row, j);

		if (rows != NULL)
			t->rows = rows;
	}
	t->pool = talloc_realloc(b.tmp, b.pool, char, b.pool_len);
	if (t->pool == NULL)
		t->pool = b.pool;
	talloc_steal(t, t->pool);
	talloc_free(b.tmp);
	if (stats != NULL)
		*stats = st;
	return t;

nomem:
	errbuf_set(err, errsz, "out of memory");
	if (stats != NULL)
		*stats = st;
	return fail(t, b.tmp, ENOMEM);
}

struct tac_table *tac_table_load(void *ctx, const char *path, struct tac_load_stats *stats,
				 char *err, size_t errsz)
{
	return tac_table_load_ex(ctx, path, stats, NULL, NULL, err, errsz);
}

struct tac_table *tac_table_load_ex(void *ctx, const char *path, struct tac_load_stats *stats,
				    tac_reject_fn reject, void *arg, char *err, size_t errsz)
{
	struct tac_table *t;
	char why[256];
	struct stat sb;
	char *buf = NULL;
	size_t got = 0;
	ssize_t r;
	int fd, e;

	if (stats != NULL)
		memset(stats, 0, sizeof(*stats));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		errbuf_set(err, errsz, "%s: %s", path, strerror(e));
		errno = e;
		return NULL;
	}
	if (fstat(fd, &sb) < 0) {
		e = errno;
		goto fail_errno;
	}
	/* A FIFO or a device has no size to read up to; nobody keeps a tacdb in one. */
	if (!S_ISREG(sb.st_mode)) {
		close(fd);
		errbuf_set(err, errsz, "%s: not a regular file", path);
		errno = EINVAL;
		return NULL;
	}
	if ((uintmax_t)sb.st_size > TAC_FILE_MAX) {
		close(fd);
		errbuf_set(err, errsz, "%s: larger than %zu MiB", path, TAC_FILE_MAX >> 20);
		errno = EFBIG;
		return NULL;
	}
	buf = talloc_size(NULL, (size_t)sb.st_size + 1);
	if (buf == NULL) {
		e = ENOMEM;
		goto fail_errno;
	}
	/* Up to the size fstat saw: a file that grows meanwhile is read as it was. */
	while (got < (size_t)sb.st_size) {
		r = read(fd, buf + got, (size_t)sb.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			e = errno;
			goto fail_errno;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	close(fd);

	why[0] = '\0';
	t = tac_table_parse_ex(ctx, buf, got, stats, reject, arg, why, sizeof(why));
	e = errno;
	talloc_free(buf);
	if (t == NULL) {
		errbuf_set(err, errsz, "%s: %s", path, why);
		errno = e;
	}
	return t;

fail_errno:
	close(fd);
	talloc_free(buf);
	errbuf_set(err, errsz, "%s: %s", path, strerror(e));
	errno = e;
	return NULL;
}

int tac_lookup(const struct tac_table *t, const char tac[8], struct tac_entry *out)
{
	size_t lo = 0, hi, mid;
	uint32_t key;

	/* Not 8 digits cannot be in the table: the same answer as an unknown TAC. */
	if (t == NULL || parse_tac(tac, TAC_DIGITS, &key) < 0)
		return -ENOENT;
	hi = t->n;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (t->rows[mid].tac < key) {
			lo = mid + 1;
		} else if (t->rows[mid].tac > key) {
			hi = mid;
		} else {
			out->maker = t->pool + t->rows[mid].maker_off;
			out->model = t->pool + t->rows[mid].model_off;
			return 0;
		}
	}
	return -ENOENT;
}

int tac_table_at(const struct tac_table *t, size_t i, char tac[9], struct tac_entry *out)
{
	uint32_t v;
	int k;

	if (i >= t->n)
		return -ENOENT;
	v = t->rows[i].tac;
	for (k = 7; k >= 0; k--) {
		tac[k] = (char)('0' + v % 10);
		v /= 10;
	}
	tac[8] = '\0';
	out->maker = t->pool + t->rows[i].maker_off;
	out->model = t->pool + t->rows[i].model_off;
	return 0;
}

size_t tac_table_size(const struct tac_table *t)
{
	return t ? t->n : 0;
}

const char *tac_table_preamble(const struct tac_table *t)
{
	return t && t->preamble ? t->preamble : "";
}

void tac_table_free(struct tac_table *t)
{
	talloc_free(t);
}
