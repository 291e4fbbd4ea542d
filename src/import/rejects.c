/* The rejects file: CSV with RFC 4180 quoting (a field holding a comma, a quote, CR or LF is
 * quoted and its quotes doubled), so that the raw row comes back byte for byte through any
 * RFC 4180 reader, csv.h's included. Records end with LF, as every other file of the tree. */
/* open, write, fsync, O_CLOEXEC. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "import/rejects.h"

#include "core/errbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <talloc.h>
#include <unistd.h>

/* Enough for a few hundred rejected rows per write(). */
#define REJECTS_BUF		(64 * 1024)
/* An import has a handful of reasons (bad_imei, bad_msisdn and the CSV ones); past this the
 * caller is passing something other than a reason. */
#define REJECTS_REASONS_MAX	32

/* Compared by content: the caller's pointer may be a buffer it reuses. */
struct rejects_reason {
	char *name;
	size_t count;
};

struct rejects {
	int fd;			/* -1 when discarding or closed */
	int err;		/* 0, or the negative errno of the first failure */
	char *buf;
	size_t len;
	size_t count;
	size_t other;		/* rows whose reason did not fit in reasons[] */
	size_t nreasons;
	struct rejects_reason reasons[REJECTS_REASONS_MAX];
	char *path;		/* NULL when counting only */
	bool drop_empty;	/* rejects_open_default's: removed when no row came */
};

/* Writes the buffer out. Returns 0 or the negative errno of the first failure, after which
 * nothing more is written (a file with a hole in the middle would mislead). */
static int flush(struct rejects *rj)
{
	size_t off = 0;
	ssize_t w;

	if (rj->err == 0 && rj->fd >= 0) {
		while (off < rj->len) {
			w = write(rj->fd, rj->buf + off, rj->len - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				rj->err = -errno;
				break;
			}
			off += (size_t)w;
		}
	}
	rj->len = 0;
	return rj->err;
}

static void put(struct rejects *rj, const char *p, size_t n)
{
	size_t k;

	while (n > 0) {
		if (rj->len == REJECTS_BUF)
			flush(rj);
		k = REJECTS_BUF - rj->len;
		if (k > n)
			k = n;
		memcpy(rj->buf + rj->len, p, k);
		rj->len += k;
		p += k;
		n -= k;
	}
}

static int needs_quotes(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] == ',' || p[i] == '"' || p[i] == '\r' || p[i] == '\n')
			return 1;
	}
	return 0;
}

/* Writes p[0..n) and then tail (the truncation marker, no quotes in it) as one field, quoted
 * per RFC 4180 section 2, rules 6 and 7, when either holds a comma, a quote, CR or LF. Fields
 * without them go out as they are, so that the common row reads the same as in the dump. */
static void put_field(struct rejects *rj, const char *p, size_t n, const char *tail,
		      size_t tail_n)
{
	const char *q;

	if (!needs_quotes(p, n) && !needs_quotes(tail, tail_n)) {
		put(rj, p, n);
		put(rj, tail, tail_n);
		return;
	}
	put(rj, "\"", 1);
	while ((q = memchr(p, '"', n)) != NULL) {
		put(rj, p, (size_t)(q - p) + 1);
		put(rj, "\"", 1);
		n -= (size_t)(q - p) + 1;
		p = q + 1;
	}
	put(rj, p, n);
	put(rj, tail, tail_n);
	put(rj, "\"", 1);
}

static int rejects_destructor(struct rejects *rj)
{
	if (rj->fd >= 0) {
		flush(rj);
		close(rj->fd);
	}
	return 0;
}

static struct rejects *open_rejects(void *ctx, const char *path, bool own, char *err,
				    size_t errsz)
{
	static const char header[] = "file,line,reason,row\n";
	struct rejects *rj = talloc_zero(ctx, struct rejects);
	struct stat sb;
	int e, flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC;

	if (rj == NULL || (rj->buf = talloc_size(rj, REJECTS_BUF)) == NULL) {
		talloc_free(rj);
		errbuf_set(err, errsz, "%s: out of memory", path ? path : "rejects");
		errno = ENOMEM;
		return NULL;
	}
	rj->fd = -1;
	if (path == NULL)
		return rj;
	if ((rj->path = talloc_strdup(rj, path)) == NULL) {
		talloc_free(rj);
		errbuf_set(err, errsz, "%s: out of memory", path);
		errno = ENOMEM;
		return NULL;
	}
	/* A name we chose ourselves beside the input: O_NONBLOCK so that a FIFO there fails
	 * (ENXIO) or is refused below instead of blocking the import. */
	if (own)
		flags |= O_NOFOLLOW | O_NONBLOCK;
	rj->fd = open(path, flags, 0600);
	if (rj->fd < 0) {
		e = errno;
		talloc_free(rj);
		errbuf_set(err, errsz, "%s: %s", path, own && e == ELOOP ?
			   "a symbolic link, not followed" : strerror(e));
		errno = e;
		return NULL;
	}
	talloc_set_destructor(rj, rejects_destructor);
	if (own) {
		const char *why = NULL;

		if (fstat(rj->fd, &sb) < 0)
			why = strerror(errno);
		else if (!S_ISREG(sb.st_mode))
			why = "not a regular file; give --rejects FILE";
		else if (fchmod(rj->fd, 0600) < 0 || fcntl(rj->fd, F_SETFL, 0) < 0)
			why = strerror(errno);
		if (why != NULL) {
			errbuf_set(err, errsz, "%s: %s", path, why);
			close(rj->fd);
			rj->fd = -1;
			talloc_free(rj);
			errno = EINVAL;
			return NULL;
		}
	}
	rj->drop_empty = own;
	put(rj, header, sizeof(header) - 1);
	return rj;
}

static void count_reason(struct rejects *rj, const char *reason)
{
	struct rejects_reason *rr;
	size_t i;

	for (i = 0; i < rj->nreasons; i++) {
		rr = &rj->reasons[i];
		if (strcmp(rr->name, reason) == 0) {
			rr->count++;
			return;
		}
	}
	if (rj->nreasons == REJECTS_REASONS_MAX) {
		rj->other++;
		return;
	}
	rr = &rj->reasons[rj->nreasons];
	rr->name = talloc_strdup(rj, reason);
	if (rr->name == NULL) {
		rj->other++;
		return;
	}
	rr->count = 1;
	rj->nreasons++;
}

/* Cuts raw at REJECTS_RAW_MAX bytes, moved back to the start of a UTF-8 sequence so that a
 * valid row stays valid once cut. */
static size_t cut_len(const char *raw, size_t raw_len)
{
	size_t cut = REJECTS_RAW_MAX;

	if (raw_len <= REJECTS_RAW_MAX)
		return raw_len;
	while (cut > REJECTS_RAW_MAX - 3 && ((unsigned char)raw[cut] & 0xC0) == 0x80)
		cut--;
	return cut;
}

int rejects_add(struct rejects *rj, const char *file, size_t line, const char *reason,
		const char *raw, size_t raw_len)
{
	char num[32], tail[64];
	size_t cut, tail_n = 0;
	int n;

	if (reason == NULL)
		reason = "";
	if (raw == NULL)
		raw_len = 0;
	rj->count++;
	count_reason(rj, reason);
	if (rj->fd < 0 || rj->err < 0)
		return rj->err;
	if (file == NULL)
		file = "";
	put_field(rj, file, strlen(file), "", 0);
	n = snprintf(num, sizeof(num), ",%zu,", line);
	put(rj, num, (size_t)n);
	put_field(rj, reason, strlen(reason), "", 0);
	put(rj, ",", 1);
	cut = raw_len > 0 ? cut_len(raw, raw_len) : 0;
	if (cut < raw_len)
		tail_n = (size_t)snprintf(tail, sizeof(tail), " [truncated, %zu bytes]", raw_len);
	put_field(rj, cut > 0 ? raw : "", cut, tail, tail_n);
	put(rj, "\n", 1);
	return rj->err;
}

struct rejects *rejects_open(void *ctx, const char *path, char *err, size_t errsz)
{
	return open_rejects(ctx, path, false, err, errsz);
}

struct rejects *rejects_open_default(void *ctx, const char *path, char *err, size_t errsz)
{
	return open_rejects(ctx, path, true, err, errsz);
}

size_t rejects_count(const struct rejects *rj)
{
	return rj->count;
}

const char *rejects_path(const struct rejects *rj)
{
	return rj->path;
}

void rejects_summary(const struct rejects *rj, FILE *out)
{
	size_t order[REJECTS_REASONS_MAX], i, j, t;

	fprintf(out, "rejected %zu", rj->count);
	/* Insertion sort, stable: reasons with equal counts keep the order they first came. */
	for (i = 0; i < rj->nreasons; i++) {
		order[i] = i;
		for (j = i; j > 0 && rj->reasons[order[j - 1]].count < rj->reasons[order[j]].count;
		     j--) {
			t = order[j];
			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	}
	for (i = 0; i < rj->nreasons; i++)
		fprintf(out, "%s %s %zu", i == 0 ? ":" : ",", rj->reasons[order[i]].name,
			rj->reasons[order[i]].count);
	if (rj->other > 0)
		fprintf(out, "%s other %zu", rj->nreasons == 0 ? ":" : ",", rj->other);
	fputc('\n', out);
}

int rejects_close(struct rejects *rj)
{
	if (rj->fd < 0)
		return rj->err;
	flush(rj);
	/* fsync: the rejects are the only record of rows that were not loaded. A pipe or a
	 * character device cannot be synced and says so with EINVAL; that is not a loss. */
	if (rj->err == 0 && fsync(rj->fd) < 0 && errno != EINVAL && errno != EROFS)
		rj->err = -errno;
	if (close(rj->fd) < 0 && rj->err == 0 && errno != EINTR)
		rj->err = -errno;
	rj->fd = -1;
	/* Only the header: no stale file of an earlier run says rows were rejected. */
	if (rj->drop_empty && rj->count == 0)
		unlink(rj->path);
	return rj->err;
}
