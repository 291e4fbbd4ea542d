/* ceirgwctl stats: what ceirgw's admin listener serves at /metrics (the Prometheus text
 * exposition format 0.0.4), fetched with one bounded HTTP/1.0 GET (a timeout, at most 1 MiB)
 * and printed for people: one line per family with its HELP, then each label set and its
 * value; histograms and summaries as count, sum and average. */
#include "config.h"

#include "ctl/admin.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <talloc.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/config.h"
#include "ctl/options.h"

#define BODY_MAX (1 << 20)	/* a /metrics page larger than this is refused */
#define FETCH_TIMEOUT_MS 5000	/* connect, send and read, in all */
#define SERIES_MAX 4096		/* label sets of one histogram or summary family */
#define LINE_SHOWN 300		/* bytes of a label set or HELP shown */

void admin_stats_usage(FILE *out)
{
	fprintf(out,
		"Usage: ceirgwctl stats [-c FILE] [--admin HOST:PORT]\n"
		"\n"
		"What ceirgw's /metrics says (the admin listener, admin-listen in the\n"
		"configuration, default 127.0.0.1:9384), readable: one line per metric family\n"
		"with its help text, then each label set with its value; histograms and\n"
		"summaries as count, sum and average.\n"
		"\n"
		"  -c, --config FILE    take admin-listen from ceirgw's configuration\n"
		"  --admin HOST:PORT    the admin listener to ask (replaces admin-listen)\n"
		"\n"
		"Exit status: 0, 1 when /metrics could not be fetched (no answer within %d s,\n"
		"not HTTP 200, larger than 1 MiB), 2 on a usage error.\n", FETCH_TIMEOUT_MS / 1000);
}

/* Waits for events on fd until the deadline. Returns 0, or -ETIMEDOUT. */
static int wait_fd(int fd, short events, long long deadline)
{
	struct pollfd p = { fd, events, 0 };
	long long left;
	int n;

	for (;;) {
		left = deadline - clock_mono_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&p, 1, (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

/* "HOST:PORT" or "[V6]:PORT" into host and port. Returns 0 or -EINVAL. */
static int split_hostport(const char *s, char *host, size_t hostsz, char *port, size_t portsz)
{
	const char *colon;
	size_t hl;

	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (end == NULL || end[1] != ':')
			return -EINVAL;
		hl = (size_t)(end - s - 1);
		s++;
		colon = end + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return -EINVAL;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= hostsz || strlen(colon + 1) == 0 || strlen(colon + 1) >= portsz ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return -EINVAL;
	memcpy(host, s, hl);
	host[hl] = '\0';
	snprintf(port, portsz, "%s", colon + 1);
	return 0;
}

/* Whether the headers (NUL-terminated) say Transfer-Encoding: chunked. We ask HTTP/1.0, which
 * a server answers without chunks, but a proxy in between may not. */
static bool chunked(const char *headers)
{
	const char *h = headers;

	while ((h = strchr(h, '\n')) != NULL) {
		h++;
		if (strncasecmp(h, "transfer-encoding:", 18) == 0) {
			const char *v = h + 18, *end = strchr(v, '\r');
			size_t n = end ? (size_t)(end - v) : strlen(v);

			for (size_t i = 0; i + 7 <= n; i++)
				if (strncasecmp(v + i, "chunked", 7) == 0)
					return true;
		}
	}
	return false;
}

/* Joins a chunked body (RFC 9112 section 7.1) in place. Returns 0, or -EPROTO. */
static int dechunk(char *body, size_t *len)
{
	char *in = body, *out = body, *end = body + *len, *e;
	unsigned long n;

	for (;;) {
		if (in >= end || !isxdigit((unsigned char)*in))
			return -EPROTO;
		errno = 0;
		n = strtoul(in, &e, 16);
		if (errno || e == in)
			return -EPROTO;
		e = memchr(e, '\n', (size_t)(end - e));	/* chunk extensions skipped */
		if (e == NULL)
			return -EPROTO;
		in = e + 1;
		if (n == 0)
			break;
		if (n > (size_t)(end - in))
			return -EPROTO;
		memmove(out, in, n);
		out += n;
		in += n;
		if (in < end && *in == '\r')
			in++;
		if (in < end && *in == '\n')
			in++;
	}
	*out = '\0';
	*len = (size_t)(out - body);
	return 0;
}

/* GET http://addr/metrics into *body (a talloc child of ctx, NUL-terminated). Returns 0, or
 * -errno with why in err. */
static int fetch(void *ctx, const char *addr, char **body, size_t *len, char *err,
		 size_t errsz)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	char host[256], port[8], req[400], *buf = NULL, *p;
	long long deadline = clock_mono_ms() + FETCH_TIMEOUT_MS;
	size_t got = 0, cap = BODY_MAX + 16384, sent = 0, reqlen;
	int fd = -1, rc, soerr = 0, status;
	socklen_t sl = sizeof(soerr);
	ssize_t n;

	if (split_hostport(addr, host, sizeof(host), port, sizeof(port)) < 0) {
		snprintf(err, errsz, "%s: expected HOST:PORT", addr);
		return -EINVAL;
	}
	if ((rc = getaddrinfo(host, port, &hints, &ai)) != 0) {
		snprintf(err, errsz, "%s: %s", host, gai_strerror(rc));
		return -EHOSTUNREACH;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		goto fail;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS) {
			rc = -errno;
			goto fail;
		}
		if ((rc = wait_fd(fd, POLLOUT, deadline)) < 0)
			goto fail;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr) {
			rc = soerr ? -soerr : -errno;
			goto fail;
		}
	}
	reqlen = (size_t)snprintf(req, sizeof(req), "GET /metrics HTTP/1.0\r\nHost: %s\r\n"
				  "Accept: text/plain;version=0.0.4\r\nUser-Agent: ceirgwctl/"
				  PACKAGE_VERSION "\r\n\r\n", addr);
	while (sent < reqlen) {
		n = send(fd, req + sent, reqlen - sent, MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			rc = -errno;
			goto fail;
		}
		if (n < 0 && (rc = wait_fd(fd, POLLOUT, deadline)) < 0)
			goto fail;
		if (n > 0)
			sent += (size_t)n;
	}
	buf = talloc_size(ctx, cap + 1);
	if (buf == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	for (;;) {
		if ((rc = wait_fd(fd, POLLIN, deadline)) < 0)
			goto fail;
		n = recv(fd, buf + got, cap - got, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0) {
			rc = -errno;
			goto fail;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got == cap) {
			snprintf(err, errsz, "http://%s/metrics: larger than 1 MiB", addr);
			rc = -EFBIG;
			goto out;
		}
	}
	buf[got] = '\0';
	if (sscanf(buf, "HTTP/%*d.%*d %d", &status) != 1) {
		snprintf(err, errsz, "http://%s/metrics: not an HTTP answer", addr);
		rc = -EPROTO;
		goto out;
	}
	if (status != 200) {
		snprintf(err, errsz, "http://%s/metrics: HTTP %d", addr, status);
		rc = -EPROTO;
		goto out;
	}
	p = strstr(buf, "\r\n\r\n");
	if (p == NULL) {
		snprintf(err, errsz, "http://%s/metrics: the answer ends in its headers", addr);
		rc = -EPROTO;
		goto out;
	}
	p += 4;
	if (got - (size_t)(p - buf) > BODY_MAX) {
		snprintf(err, errsz, "http://%s/metrics: larger than 1 MiB", addr);
		rc = -EFBIG;
		goto out;
	}
	*body = p;
	*len = got - (size_t)(p - buf);
	p[-2] = '\0';	/* the headers end here: searched below as one string */
	if (chunked(buf) && dechunk(p, len) < 0) {
		snprintf(err, errsz, "http://%s/metrics: a chunked body that does not parse",
			 addr);
		rc = -EPROTO;
		goto out;
	}
	rc = 0;
	goto out;
fail:
	snprintf(err, errsz, "http://%s/metrics: %s", addr, rc == -ETIMEDOUT ?
		 "no answer within " "the timeout" : strerror(-rc));
out:
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return rc;
}

/* ---- the text format ---- */

struct series {
	char labels[LINE_SHOWN + 1];	/* without le / quantile */
	double count, sum;
	bool has_count, has_sum;
};

struct family {
	char name[LINE_SHOWN + 1];
	char type[16];
	char help[LINE_SHOWN + 1];
	bool header_done;
	struct series *s;		/* histograms and summaries */
	size_t ns;
	size_t dropped;			/* series past SERIES_MAX */
};

/* A line's bytes for a terminal: control bytes as '?', cut at LINE_SHOWN. */
static void copy_shown(char *out, const char *s, size_t len)
{
	size_t i, n = len < LINE_SHOWN ? len : LINE_SHOWN;

	for (i = 0; i < n; i++)
		out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	out[n] = '\0';
}

static bool is_aggregate(const struct family *f)
{
	return strcmp(f->type, "histogram") == 0 || strcmp(f->type, "summary") == 0;
}

static void family_header(struct family *f)
{
	if (f->header_done || f->name[0] == '\0')
		return;
	printf("%s (%s)%s%s\n", f->name, f->type[0] ? f->type : "untyped",
	       f->help[0] ? ": " : "", f->help);
	f->header_done = true;
}

static void family_end(struct family *f)
{
	size_t i;

	if (f->name[0] && is_aggregate(f)) {
		family_header(f);
		for (i = 0; i < f->ns; i++) {
			const struct series *s = &f->s[i];

			printf("  %-40s count %.17g  sum %.17g", s->labels[0] ? s->labels : "{}",
			       s->count, s->sum);
			if (s->has_count && s->has_sum && s->count > 0)
				printf("  avg %.6g", s->sum / s->count);
			putchar('\n');
		}
		if (f->dropped)
			printf("  (%zu more label sets not shown)\n", f->dropped);
	}
	f->name[0] = f->type[0] = f->help[0] = '\0';
	f->header_done = false;
	f->ns = f->dropped = 0;
}

/* Starts family name unless it is the current one. */
static void family_to(struct family *f, const char *name, size_t len)
{
	char n[LINE_SHOWN + 1];

	copy_shown(n, name, len);
	if (strcmp(n, f->name) == 0)
		return;
	family_end(f);
	snprintf(f->name, sizeof(f->name), "%s", n);
}

/* The label set {..} at s[0..len) without the label drop ("le", "quantile") into out
 * (LINE_SHOWN + 1 bytes: cut to fit, the braces and the NUL always there). */
static void labels_without(const char *s, size_t len, const char *drop, char *out)
{
	size_t i = 1, o = 0, start, dl = strlen(drop);
	bool q;

	out[o++] = '{';
	while (i < len && s[i] != '}') {
		start = i;
		q = false;
		while (i < len && (q || (s[i] != ',' && s[i] != '}'))) {
			if (s[i] == '\\' && q)
				i++;
			else if (s[i] == '"')
				q = !q;
			i++;
		}
		if (i > len)
			i = len;
		if (!(i - start > dl && strncmp(s + start, drop, dl) == 0 && s[start + dl] == '=')) {
			if (o > 1 && o < LINE_SHOWN - 1)
				out[o++] = ',';
			for (size_t k = start; k < i && o < LINE_SHOWN - 1; k++)
				out[o++] = (unsigned char)s[k] < 0x20 ? '?' : s[k];
		}
		if (i < len && s[i] == ',')
			i++;
	}
	out[o++] = '}';
	out[o] = '\0';
	if (strcmp(out, "{}") == 0)
		out[0] = '\0';
}

/* One sample line: name, label set, value. */
static void sample(struct family *f, const char *line, size_t len)
{
	size_t nl = strspn(line, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			   "0123456789_:"), ll = 0, i;
	const char *labels = line + nl, *value;
	char lab[LINE_SHOWN + 1], v[64];
	const char *suffix = NULL;
	size_t fl, slen = 0;
	bool q = false;
	double d;
	char *end;

	if (nl == 0 || nl > LINE_SHOWN)
		return;
	if (nl < len && line[nl] == '{') {
		for (i = nl; i < len; i++) {
			if (line[i] == '\\' && q)
				i++;
			else if (line[i] == '"')
				q = !q;
			else if (line[i] == '}' && !q)
				break;
		}
		if (i >= len)
			return;
		ll = i + 1 - nl;
	}
	value = labels + ll;
	while (value < line + len && (*value == ' ' || *value == '\t'))
		value++;
	i = strcspn(value, " \t");
	if (i == 0 || i >= sizeof(v))
		return;
	memcpy(v, value, i);
	v[i] = '\0';
	d = strtod(v, &end);
	if (*end != '\0')
		return;
	/* A histogram's or summary's own samples (name, _bucket, _sum, _count) belong to its
	 * family; any other sample starts its own, typed or not. */
	fl = strlen(f->name);
	if (f->name[0] && is_aggregate(f) && nl >= fl && strncmp(line, f->name, fl) == 0) {
		suffix = line + fl;
		slen = nl - fl;
		if (!(slen == 0 || (slen == 7 && strncmp(suffix, "_bucket", 7) == 0) ||
		      (slen == 4 && strncmp(suffix, "_sum", 4) == 0) ||
		      (slen == 6 && strncmp(suffix, "_count", 6) == 0)))
			suffix = NULL;
	}
	if (suffix == NULL) {
		if (!(fl == nl && strncmp(line, f->name, nl) == 0))
			family_to(f, line, nl);
		family_header(f);
		copy_shown(lab, labels, ll);
		printf("  %-40s %s\n", lab[0] ? lab : "{}", v);
		return;
	}
	if (slen != 4 && slen != 6)
		return;		/* buckets and quantiles: count and sum say what they add up to */
	labels_without(labels, ll, strcmp(f->type, "summary") == 0 ? "quantile" : "le", lab);
	for (i = 0; i < f->ns; i++) {
		if (strcmp(f->s[i].labels, lab) == 0)
			break;
	}
	if (i == f->ns) {
		if (f->ns == SERIES_MAX) {
			f->dropped++;
			return;
		}
		memset(&f->s[f->ns], 0, sizeof(f->s[0]));
		snprintf(f->s[f->ns].labels, sizeof(f->s[0].labels), "%s", lab);
		f->ns++;
	}
	if (slen == 4) {
		f->s[i].sum = d;
		f->s[i].has_sum = true;
	} else {
		f->s[i].count = d;
		f->s[i].has_count = true;
	}
}

/* "# HELP name text" or "# TYPE name type". */
static void comment(struct family *f, const char *line, size_t len)
{
	bool help = len > 7 && strncmp(line, "# HELP ", 7) == 0;
	bool type = len > 7 && strncmp(line, "# TYPE ", 7) == 0;
	const char *name = line + 7, *rest;
	size_t nl;

	if (!help && !type)
		return;
	nl = strcspn(name, " \t");
	if (nl == 0 || nl > LINE_SHOWN || nl >= len - 7)
		return;
	family_to(f, name, nl);
	rest = name + nl + 1;
	if (help)
		copy_shown(f->help, rest, len - (size_t)(rest - line));
	else
		snprintf(f->type, sizeof(f->type), "%.*s", (int)(len - (size_t)(rest - line)) < 15 ?
			 (int)(len - (size_t)(rest - line)) : 15, rest);
}

int admin_stats_main(void *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "admin", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_path = NULL, *addr = NULL;
	struct ceirgw_config *cfg;
	struct family f;
	char err[1024], *body = NULL, *line, *nl;
	size_t len = 0;
	bool any = false;
	int opt, rc;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': config_path = optarg; break;
		case 'a': addr = optarg; break;
		case 'h': admin_stats_usage(stdout); return 0;
		default:
			fprintf(stderr, "ceirgwctl stats: unexpected option (ceirgwctl stats "
				"--help)\n");
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "ceirgwctl stats: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (addr == NULL && config_path) {
		if ((cfg = ctl_config_load(ctx, config_path)) == NULL)
			return 2;
		addr = cfg->admin_listen;
	}
	if (addr == NULL)
		addr = "127.0.0.1:9384";
	if ((rc = fetch(ctx, addr, &body, &len, err, sizeof(err))) < 0) {
		fprintf(stderr, "ceirgwctl stats: %s\n", err);
		return rc == -EINVAL ? 2 : 1;
	}
	memset(&f, 0, sizeof(f));
	f.s = talloc_array(ctx, struct series, SERIES_MAX);
	if (f.s == NULL) {
		fprintf(stderr, "ceirgwctl: out of memory\n");
		return 2;
	}
	for (line = body; line < body + len; line = nl + 1) {
		nl = memchr(line, '\n', (size_t)(body + len - line));
		if (nl == NULL)
			nl = body + len;
		*nl = '\0';
		if (nl > line && nl[-1] == '\r')
			nl[-1] = '\0';
		if (line[0] == '#')
			comment(&f, line, strlen(line));
		else if (line[0] != '\0' && (any = true))
			sample(&f, line, strlen(line));
	}
	family_end(&f);
	if (!any)
		printf("http://%s/metrics: no samples\n", addr);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "ceirgwctl: writing the output: %s\n", strerror(errno));
		return 2;
	}
	return 0;
}
