/* The textfile-collector file of an import (Prometheus exposition formats, "Text-based
 * format" 0.0.4; node_exporter's textfile collector). Names follow the Prometheus naming
 * conventions: ceirgw_ prefix, base units (seconds, bytes), _total for counters. */
/* open, fsync, O_NOFOLLOW, O_CLOEXEC. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "import/metrics.h"

#include "core/errbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <talloc.h>
#include <time.h>
#include <unistd.h>

/* The file is ours, a few hundred bytes: what more a file of that name holds is not ours
 * to read. */
#define METRICS_READ_MAX 65536
#define METRICS_TEXT_MAX 4096

struct import_metrics {
	char *path, *tmp;
	char kind[16];
	struct timespec t0, last;
	double last_success;	/* Unix time, 0 for never */
	size_t stored, rejected;
	uint64_t bytes;
	bool running, warned;
};

static double mono_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* The last success of this kind from an earlier file, so that an alert on its age does not
 * fire while the next import runs. Whatever does not read as our line is ignored. */
static double read_last_success(const char *path, const char *kind)
{
	char buf[METRICS_READ_MAX + 1], want[96], *p, *end;
	ssize_t n;
	size_t len = 0;
	double v;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return 0;
	while (len < METRICS_READ_MAX &&
	       (n = read(fd, buf + len, METRICS_READ_MAX - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	snprintf(want, sizeof(want), "\nceirgw_import_last_success_timestamp_seconds{kind=\"%s\"} ",
		 kind);
	p = strstr(buf, want);
	if (p == NULL)
		return 0;
	errno = 0;
	v = strtod(p + strlen(want), &end);
	if (errno != 0 || end == p + strlen(want) || (*end != '\n' && *end != ' ') ||
	    !isfinite(v) || v < 0 || v > 1e11)
		return 0;
	return v;
}

/* The whole file: HELP and TYPE before each family, one series a kind. */
static int render(const struct import_metrics *m, char *out, size_t outsz)
{
	const char *k = m->kind;

	return snprintf(out, outsz,
		"# HELP ceirgw_import_rows_total Data rows of the dumps read by ceirgwctl import: "
		"stored (written to Redis) or rejected (to the rejects file).\n"
		"# TYPE ceirgw_import_rows_total counter\n"
		"ceirgw_import_rows_total{kind=\"%s\",result=\"stored\"} %zu\n"
		"ceirgw_import_rows_total{kind=\"%s\",result=\"rejected\"} %zu\n"
		"# HELP ceirgw_import_bytes_read_total Bytes of CSV rows read by ceirgwctl import "
		"(after gzip decompression).\n"
		"# TYPE ceirgw_import_bytes_read_total counter\n"
		"ceirgw_import_bytes_read_total{kind=\"%s\"} %llu\n"
		"# HELP ceirgw_import_running Whether a ceirgwctl import of this kind is running "
		"(1) or has ended (0).\n"
		"# TYPE ceirgw_import_running gauge\n"
		"ceirgw_import_running{kind=\"%s\"} %d\n"
		"# HELP ceirgw_import_duration_seconds Seconds the running import has taken so "
		"far, or the last one took.\n"
		"# TYPE ceirgw_import_duration_seconds gauge\n"
		"ceirgw_import_duration_seconds{kind=\"%s\"} %.3f\n"
		"# HELP ceirgw_import_last_success_timestamp_seconds When an import of this kind "
		"last ended with its rows stored (Unix time; 0: never).\n"
		"# TYPE ceirgw_import_last_success_timestamp_seconds gauge\n"
		"ceirgw_import_last_success_timestamp_seconds{kind=\"%s\"} %.0f\n",
		k, m->stored, k, m->rejected, k, (unsigned long long)m->bytes, k, m->running ? 1 : 0,
		k, mono_since(&m->t0), k, m->last_success);
}

/* Writes FILE.tmp, fsyncs it and renames it over FILE. Returns 0 or a negative errno. */
static int write_file(struct import_metrics *m)
{
	char text[METRICS_TEXT_MAX];
	int n = render(m, text, sizeof(text)), fd, e = 0;
	size_t off = 0;
	ssize_t w;

	if (n < 0 || (size_t)n >= sizeof(text))
		return -EOVERFLOW;
	clock_gettime(CLOCK_MONOTONIC, &m->last);
	/* O_NOFOLLOW: a link planted at FILE.tmp does not redirect the write. 0644: the
	 * collector runs as another user, and the file holds counts only. */
	fd = open(m->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	while (off < (size_t)n) {
		w = write(fd, text + off, (size_t)n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			e = -errno;
			break;
		}
		off += (size_t)w;
	}
	if (e == 0 && fsync(fd) < 0)
		e = -errno;
	if (close(fd) < 0 && e == 0 && errno != EINTR)
		e = -errno;
	if (e == 0 && rename(m->tmp, m->path) < 0)
		e = -errno;
	if (e < 0)
		unlink(m->tmp);
	return e;
}

struct import_metrics *import_metrics_open(void *ctx, const char *path, const char *kind,
					   char *err, size_t errsz)
{
	struct import_metrics *m = talloc_zero(ctx, struct import_metrics);
	int rc;

	if (m == NULL || (m->path = talloc_strdup(m, path)) == NULL ||
	    (m->tmp = talloc_asprintf(m, "%s.tmp", path)) == NULL) {
		talloc_free(m);
		errbuf_set(err, errsz, "%s: out of memory", path);
		return NULL;
	}
	snprintf(m->kind, sizeof(m->kind), "%s", kind);
	clock_gettime(CLOCK_MONOTONIC, &m->t0);
	m->last_success = read_last_success(path, m->kind);
	m->running = true;
	rc = write_file(m);
	if (rc < 0) {
		errbuf_set(err, errsz, "%s: %s", rc == -EOVERFLOW ? path : m->tmp, strerror(-rc));
		talloc_free(m);
		errno = -rc;
		return NULL;
	}
	return m;
}

void import_metrics_set(struct import_metrics *m, size_t stored, size_t rejected,
			uint64_t bytes)
{
	m->stored = stored;
	m->rejected = rejected;
	m->bytes = bytes;
}

static void warn(struct import_metrics *m, int rc)
{
	if (rc < 0 && !m->warned) {
		fprintf(stderr, "ceirgwctl: --metrics-file %s: %s (the import goes on)\n", m->path,
			strerror(-rc));
		m->warned = true;
	}
}

void import_metrics_tick(struct import_metrics *m)
{
	if (m && mono_since(&m->last) >= IMPORT_METRICS_INTERVAL_S)
		warn(m, write_file(m));
}

int import_metrics_end(struct import_metrics *m, bool success)
{
	int rc;

	m->running = false;
	if (success)
		m->last_success = (double)time(NULL);
	rc = write_file(m);
	warn(m, rc);
	return rc;
}
