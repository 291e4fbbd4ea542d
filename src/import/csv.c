/* Streaming CSV reader for subscriber dumps, RFC 4180: a field is quoted or not, "" inside
 * quotes is one quote, a quoted field may hold commas and line breaks, records end with CRLF or
 * LF. Input comes through zlib's gzread, which passes plain files through unchanged. */
/* open, fstat, F_DUPFD_CLOEXEC, O_CLOEXEC. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "import/csv.h"

#include "core/errbuf.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <talloc.h>
#include <unistd.h>
#include <zlib.h>

/* One read brings in up to 1 MiB: a gzip stream inflates in large steps and a plain file is
 * read straight into the buffer (zlib copies transparently), so a 2 GB dump costs ~2000
 * reads. */
#define CSV_BUF_SIZE	((size_t)1 << 20)
/* Unread bytes move to the front when less than half the buffer is free. A row in progress is
 * at most CSV_ROW_MAX bytes plus its CRLF, so it always fits in the free half. */
#define CSV_BUF_MIN	((size_t)2 * CSV_ROW_MAX + 16)
/* zlib's input buffer: its 8 KiB default costs a read() per 8 KiB of compressed data. */
#define CSV_GZ_BUF	(256u * 1024u)

/* Which fields hold "" is one bit per field. */
_Static_assert(CSV_FIELDS_MAX <= 64, "the escape mask is 64 bits");

/* A field while its row is read: offsets from the row's start, because the row may move to
 * the front of the buffer when more input is needed. */
struct csv_span {
	uint32_t off, len;
};

struct csv_reader {
	gzFile gz;		/* NULL for a memory reader */
	const char *mem;	/* csv_open_mem's input, copied in as it is read */
	size_t mem_len, mem_pos;
	char *buf;		/* cap bytes; buf[pos..end) is not consumed yet */
	size_t cap, pos, end;
	size_t read_size;	/* the most one read may bring in */
	size_t line;		/* physical line of buf[pos] */
	int eof;
	int fail;		/* 0, or the negative errno every later csv_next returns */
	int skip_line;		/* the last row was too long: drop the rest of its line */
	int started;		/* the BOM check is done */
	char *scratch;		/* unescaped values of fields with "", CSV_ROW_MAX bytes */
	char *name;		/* for messages: the path, or "stdin" */
	struct csv_span spans[CSV_FIELDS_MAX];
	struct csv_field fields[CSV_FIELDS_MAX];
	char msg[256];
};

/* Bytes that end a run of plain text outside quotes, and inside quotes. A quote in the middle
 * of an unquoted field is kept as text (RFC 4180 forbids it; spreadsheets write it). */
static const unsigned char plain_stop[256] = {
	[','] = 1, ['\n'] = 1, ['\r'] = 1, ['\0'] = 1,
};
static const unsigned char quoted_stop[256] = {
	['"'] = 1, ['\n'] = 1, ['\0'] = 1,
};

static const char *const error_names[] = {
	[CSV_E_NONE] = "ok",
	[CSV_E_UNTERMINATED_QUOTE] = "unterminated_quote",
	[CSV_E_TOO_LONG] = "row_too_long",
	[CSV_E_BAD_QUOTE] = "bad_quote",
	[CSV_E_NUL_BYTE] = "nul_byte",
	[CSV_E_TOO_MANY_FIELDS] = "too_many_fields",
};

static int reader_destructor(struct csv_reader *r)
{
	if (r->gz != NULL)
		gzclose(r->gz);
	return 0;
}

static struct csv_reader *reader_new(void *ctx, size_t cap, const char *name)
{
	struct csv_reader *r = talloc_zero(ctx, struct csv_reader);

	if (r == NULL)
		return NULL;
	r->cap = cap;
	r->buf = talloc_size(r, cap);
	r->name = talloc_strdup(r, name);
	if (r->buf == NULL || r->name == NULL) {
		talloc_free(r);
		return NULL;
	}
	r->read_size = cap;
	r->line = 1;
	talloc_set_destructor(r, reader_destructor);
	return r;
}

struct csv_reader *csv_open(void *ctx, const char *path, char *err, size_t errsz)
{
	int is_stdin = strcmp(path, "-") == 0;
	const char *name = is_stdin ? "stdin" : path;
	struct csv_reader *r;
	struct stat sb;
	int fd, e;

	/* A copy of stdin, so that gzclose leaves the process's own descriptor 0 open. */
	fd = is_stdin ? fcntl(0, F_DUPFD_CLOEXEC, 3) : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		errbuf_set(err, errsz, "%s: %s", name, strerror(e));
		errno = e;
		return NULL;
	}
	/* read() on a directory fails later with a less helpful message. */
	if (fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		close(fd);
		errbuf_set(err, errsz, "%s: %s", name, strerror(EISDIR));
		errno = EISDIR;
		return NULL;
	}
	r = reader_new(ctx, CSV_BUF_SIZE, name);
	if (r != NULL)
		r->gz = gzdopen(fd, "rb");
	if (r == NULL || r->gz == NULL) {
		/* gzdopen does not close fd when it fails. */
		close(fd);
		talloc_free(r);
		errbuf_set(err, errsz, "%s: out of memory", name);
		errno = ENOMEM;
		return NULL;
	}
	gzbuffer(r->gz, CSV_GZ_BUF);
	return r;
}

struct csv_reader *csv_open_mem(void *ctx, const char *buf, size_t len)
{
	size_t cap = len < CSV_BUF_MIN ? CSV_BUF_MIN : len > CSV_BUF_SIZE ? CSV_BUF_SIZE : len;
	struct csv_reader *r = reader_new(ctx, cap, "memory");

	if (r == NULL)
		return NULL;
	r->mem = buf;
	r->mem_len = len;
	return r;
}

void csv_close(struct csv_reader *r)
{
	talloc_free(r);
}

void csv_set_read_size(struct csv_reader *r, size_t n)
{
	r->read_size = n == 0 ? 1 : n;
}

const char *csv_error(const struct csv_reader *r)
{
	return r->msg;
}

const char *csv_error_name(int code)
{
	if (code < 0 || (size_t)code >= sizeof(error_names) / sizeof(error_names[0]))
		return "unknown";
	return error_names[code];
}

/* zlib prefixes its messages with the path it was given, "<fd:3>" for gzdopen; the reader's
 * own name replaces it. */
static const char *zlib_message(gzFile gz, int *errnum)
{
	const char *m = gzerror(gz, errnum), *colon;

	if (m != NULL && strncmp(m, "<fd:", 4) == 0 && (colon = strstr(m, ": ")) != NULL)
		m = colon + 2;
	return m != NULL && *m != '\0' ? m : "unknown error";
}

static int fail(struct csv_reader *r, int e, const char *what, const char *detail)
{
	snprintf(r->msg, sizeof(r->msg), "%s: %s near line %zu: %s", r->name, what, r->line,
		 detail);
	r->fail = -e;
	return r->fail;
}

/* Brings more input in after buf[end], first moving buf[pos..end) to the front when less
 * than half the buffer is free. Returns the number of new bytes, 0 at the end of the input,
 * or a negative errno (and the message for csv_error). */
static int fill(struct csv_reader *r)
{
	size_t want, keep;
	int got, errnum, e;
	const char *m;

	if (r->fail < 0)
		return r->fail;
	if (r->eof)
		return 0;
	if (r->pos > 0 && r->cap - r->end < r->cap / 2) {
		keep = r->end - r->pos;
		memmove(r->buf, r->buf + r->pos, keep);
		r->pos = 0;
		r->end = keep;
	}
	assert(r->end < r->cap);
	want = r->cap - r->end;
	if (want > r->read_size)
		want = r->read_size;

	if (r->gz == NULL) {
		if (want > r->mem_len - r->mem_pos)
			want = r->mem_len - r->mem_pos;
		if (want == 0) {
			r->eof = 1;
			return 0;
		}
		memcpy(r->buf + r->end, r->mem + r->mem_pos, want);
		r->mem_pos += want;
		r->end += want;
		return (int)want;
	}

	errno = 0;
	got = gzread(r->gz, r->buf + r->end, (unsigned)want);
	if (got > 0) {
		r->end += (size_t)got;
		return got;
	}
	e = errno;
	m = zlib_message(r->gz, &errnum);
	if (got == 0 && errnum == Z_OK) {
		r->eof = 1;
		return 0;
	}
	/* gzread gives 0, not -1, for a stream cut short (Z_BUF_ERROR). */
	switch (errnum) {
	case Z_ERRNO:
		e = e != 0 ? e : EIO;
		return fail(r, e, "read error", strerror(e));
	case Z_MEM_ERROR:
		return fail(r, ENOMEM, "gzip", m);
	case Z_BUF_ERROR:
		return fail(r, EBADMSG, "truncated gzip", m);
	default:
		return fail(r, EBADMSG, "corrupt gzip", m);
	}
}

/* Makes buf[pos + off] available. Returns 1, 0 at the end of the input, or a negative errno.
 * It may move the buffer: the caller reloads its pointers. */
static int need(struct csv_reader *r, size_t off)
{
	int rc;

	while (r->pos + off >= r->end) {
		rc = fill(r);
		if (rc <= 0)
			return rc;
	}
	return 1;
}

/* The row being read starts at b = buf + pos and has n bytes in the buffer so far. */
#define NEED(off)							\
	((off) < n ? 1 : (rc = need(r, (off)), b = r->buf + r->pos,	\
			  n = r->end - r->pos, rc))

#define ADD_FIELD(o, l)							\
	do {								\
		if (nf < CSV_FIELDS_MAX) {				\
			r->spans[nf].off = (uint32_t)(o);		\
			r->spans[nf].len = (uint32_t)(l);		\
		} else if (err == 0) {					\
			err = CSV_E_TOO_MANY_FIELDS;			\
		}							\
		nf++;							\
	} while (0)

/* The first error of a row is its reason, except that running into the end of the file or
 * the length limit says more about the row (its end was not where the writer meant). */
static int merge_error(int err, int e)
{
	if (err == 0 || e == CSV_E_TOO_LONG || e == CSV_E_UNTERMINATED_QUOTE)
		return e;
	return err;
}

static int is_blank(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] != ' ' && p[i] != '\t')
			return 0;
	}
	return 1;
}

/* Copies a quoted field's content into the scratch area with each "" made one ". */
static size_t unescape(char *out, const char *in, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		out[n++] = in[i];
		if (in[i] == '"' && i + 1 < len && in[i + 1] == '"')
			i++;
	}
	return n;
}

/* Reads the row at buf[pos], whose first byte is in the buffer. Returns 1 with a row, 2 for
 * a blank line (consumed, no row), or a negative errno.
 *
 * Offsets: a content byte at offset CSV_ROW_MAX makes the row too long, and the line end may
 * sit at CSV_ROW_MAX and CSV_ROW_MAX + 1. Scans stop at the limit so that the decision
 * depends only on the bytes, never on where a read happened to end. */
static int parse_row(struct csv_reader *r, struct csv_row *row)
{
	const char *b = r->buf + r->pos, *nl;
	size_t n = r->end - r->pos;
	size_t i = 0, start, lim, nf = 0, lines = 0, raw_len = 0, used = 0, k, s = 0;
	uint64_t esc = 0;
	int err = 0, rc, quoted0 = 0;
	unsigned char c;

	for (;;) {
		/* A field starts at i. */
		start = i;
		if (i == CSV_ROW_MAX) {
			ADD_FIELD(start, 0);
			goto at_limit;
		}
		if ((rc = NEED(i)) < 0)
			return rc;
		if (rc == 0) {
			/* The file ends right after a comma: an empty last field. */
			ADD_FIELD(start, 0);
			raw_len = used = i;
			goto done;
		}
		if (b[i] != '"') {
			for (;;) {
				lim = n < CSV_ROW_MAX ? n : CSV_ROW_MAX;
				while (i < lim && !plain_stop[(unsigned char)b[i]])
					i++;
				if (i < lim) {
					c = (unsigned char)b[i];
					if (c == ',') {
						ADD_FIELD(start, i - start);
						i++;
						break;
					}
					if (c == '\n') {
						ADD_FIELD(start, i - start);
						raw_len = i;
						used = i + 1;
						lines++;
						goto done;
					}
					if (c == '\0') {
						err = merge_error(err, CSV_E_NUL_BYTE);
						i++;
						continue;
					}
					/* CR: a line end before LF or at the end, else text. */
					if ((rc = NEED(i + 1)) < 0)
						return rc;
					if (rc == 0 || b[i + 1] == '\n') {
						ADD_FIELD(start, i - start);
						raw_len = i;
						used = i + 1 + (size_t)rc;
						lines += (size_t)rc;
						goto done;
					}
					i++;
					continue;
				}
				if (i == CSV_ROW_MAX) {
					ADD_FIELD(start, i - start);
					goto at_limit;
				}
				if ((rc = NEED(i)) < 0)
					return rc;
				if (rc == 0) {
					ADD_FIELD(start, i - start);
					raw_len = used = i;
					goto done;
				}
			}
			continue;
		}

		/* A quoted field. */
		if (nf == 0)
			quoted0 = 1;
		start = ++i;
		for (;;) {
			lim = n < CSV_ROW_MAX ? n : CSV_ROW_MAX;
			while (i < lim && !quoted_stop[(unsigned char)b[i]])
				i++;
			if (i == lim) {
				if ((rc = NEED(i)) < 0)
					return rc;
				if (rc == 0) {
					ADD_FIELD(start, i - start);
					err = merge_error(err, CSV_E_UNTERMINATED_QUOTE);
					raw_len = used = i;
					goto done;
				}
				if (i == CSV_ROW_MAX)
					goto too_long;
				continue;
			}
			c = (unsigned char)b[i];
			if (c == '\n') {
				lines++;
				i++;
				continue;
			}
			if (c == '\0') {
				err = merge_error(err, CSV_E_NUL_BYTE);
				i++;
				continue;
			}
			if ((rc = NEED(i + 1)) < 0)
				return rc;
			if (rc == 1 && b[i + 1] == '"') {
				/* The second quote is content too, and may be past the limit. */
				if (i + 1 == CSV_ROW_MAX)
					goto too_long;
				if (nf < CSV_FIELDS_MAX)
					esc |= (uint64_t)1 << nf;
				i += 2;
				continue;
			}
			ADD_FIELD(start, i - start);
			i++;
			break;
		}
		/* After a closing quote: a comma, a line end or the end of the file. */
		if (i == CSV_ROW_MAX)
			goto at_limit;
		if ((rc = NEED(i)) < 0)
			return rc;
		if (rc == 0) {
			raw_len = used = i;
			goto done;
		}
		c = (unsigned char)b[i];
		if (c == ',') {
			i++;
			continue;
		}
		if (c == '\n') {
			raw_len = i;
			used = i + 1;
			lines++;
			goto done;
		}
		if (c == '\r') {
			if ((rc = NEED(i + 1)) < 0)
				return rc;
			if (rc == 0 || b[i + 1] == '\n') {
				raw_len = i;
				used = i + 1 + (size_t)rc;
				lines += (size_t)rc;
				goto done;
			}
		}
		/* Where the writer meant the field to end is anyone's guess: the rest of the
		 * physical line goes with this row, and the next row starts on the next line. */
		err = merge_error(err, CSV_E_BAD_QUOTE);
		for (;;) {
			lim = n < CSV_ROW_MAX ? n : CSV_ROW_MAX;
			nl = memchr(b + i, '\n', lim - i);
			if (nl != NULL) {
				i = (size_t)(nl - b);
				raw_len = b[i - 1] == '\r' ? i - 1 : i;
				used = i + 1;
				lines++;
				goto done;
			}
			i = lim;
			if (i == CSV_ROW_MAX)
				goto at_limit;
			if ((rc = NEED(i)) < 0)
				return rc;
			if (rc == 0) {
				raw_len = b[i - 1] == '\r' ? i - 1 : i;
				used = i;
				goto done;
			}
		}
	}

at_limit:
	/* i == CSV_ROW_MAX, between fields: only the line end or the end of the file may
	 * follow. */
	if ((rc = NEED(i)) < 0)
		return rc;
	if (rc == 0) {
		raw_len = used = i;
		goto done;
	}
	if (b[i] == '\n') {
		raw_len = b[i - 1] == '\r' ? i - 1 : i;
		used = i + 1;
		lines++;
		goto done;
	}
	if (b[i] == '\r') {
		if ((rc = NEED(i + 1)) < 0)
			return rc;
		if (rc == 0 || b[i + 1] == '\n') {
			raw_len = i;
			used = i + 1 + (size_t)rc;
			lines += (size_t)rc;
			goto done;
		}
	}

too_long:
	/* The first CSV_ROW_MAX bytes are the row; the next csv_next drops the rest of the
	 * line. Inside quotes that line may be in the middle of the writer's record: the cost
	 * of a bound. */
	err = CSV_E_TOO_LONG;
	raw_len = used = CSV_ROW_MAX;
	r->skip_line = 1;

done:
	if (nf > CSV_FIELDS_MAX)
		nf = CSV_FIELDS_MAX;
	if (err == 0 && nf == 1 && !quoted0 && is_blank(b, r->spans[0].len)) {
		r->pos += used;
		r->line += lines;
		return 2;
	}
	for (k = 0; k < nf; k++) {
		r->fields[k].p = b + r->spans[k].off;
		r->fields[k].len = r->spans[k].len;
	}
	if (esc != 0) {
		if (r->scratch == NULL) {
			r->scratch = talloc_size(r, CSV_ROW_MAX);
			if (r->scratch == NULL) {
				snprintf(r->msg, sizeof(r->msg), "%s: out of memory", r->name);
				r->fail = -ENOMEM;
				return r->fail;
			}
		}
		/* Unescaped values are shorter than the row, so they all fit. */
		for (k = 0; k < nf; k++) {
			if (!(esc & ((uint64_t)1 << k)))
				continue;
			r->fields[k].len = unescape(r->scratch + s, r->fields[k].p, r->fields[k].len);
			r->fields[k].p = r->scratch + s;
			s += r->fields[k].len;
		}
	}
	row->line = r->line;
	row->nfields = nf;
	row->fields = r->fields;
	row->raw = b;
	row->raw_len = raw_len;
	row->error = err;
	r->pos += used;
	r->line += lines;
	return 1;
}

int csv_next(struct csv_reader *r, struct csv_row *row)
{
	const char *nl;
	int rc;

	if (r->fail < 0)
		return r->fail;
	while (r->skip_line) {
		if (r->pos == r->end) {
			rc = fill(r);
			if (rc < 0)
				return rc;
			if (rc == 0)
				break;
		}
		nl = memchr(r->buf + r->pos, '\n', r->end - r->pos);
		if (nl == NULL) {
			r->pos = r->end;
			continue;
		}
		r->pos = (size_t)(nl - r->buf) + 1;
		r->line++;
		r->skip_line = 0;
	}
	r->skip_line = 0;
	if (!r->started) {
		/* Spreadsheets save "UTF-8 with BOM"; the header's first name must not carry
		 * it. */
		r->started = 1;
		rc = need(r, 2);
		if (rc < 0)
			return rc;
		if (rc == 1 && memcmp(r->buf + r->pos, "\xEF\xBB\xBF", 3) == 0)
			r->pos += 3;
	}
	for (;;) {
		if (r->pos == r->end) {
			rc = fill(r);
			if (rc <= 0)
				return rc;
		}
		rc = parse_row(r, row);
		if (rc != 2)
			return rc;
	}
}

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static void trim(const char **p, size_t *len)
{
	while (*len > 0 && ((*p)[0] == ' ' || (*p)[0] == '\t')) {
		(*p)++;
		(*len)--;
	}
	while (*len > 0 && ((*p)[*len - 1] == ' ' || (*p)[*len - 1] == '\t'))
		(*len)--;
}

static int same_name(const char *a, size_t an, const char *b, size_t bn)
{
	size_t i;

	if (an != bn)
		return 0;
	for (i = 0; i < an; i++) {
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return 0;
	}
	return 1;
}

int csv_map_header(const struct csv_row *hdr, const char *const *names, size_t n, int *idx)
{
	const char *hp, *np;
	size_t c, k, hn, nn;

	for (k = 0; k < n; k++)
		idx[k] = -1;
	for (c = 0; c < hdr->nfields; c++) {
		hp = hdr->fields[c].p;
		hn = hdr->fields[c].len;
		trim(&hp, &hn);
		for (k = 0; k < n; k++) {
			np = names[k];
			nn = strlen(np);
			trim(&np, &nn);
			if (!same_name(hp, hn, np, nn))
				continue;
			if (idx[k] >= 0)
				return -EINVAL;
			idx[k] = (int)c;
		}
	}
	return 0;
}
