/* Parsing Redis addresses: the redis:// scheme of the IANA registration
 * (https://www.iana.org/assignments/uri-schemes/prov/redis) and a unix:// form for sockets. */
#include "core/redis_url.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hex.h"

/* Percent-decodes s[0..len) into out (outsz bytes). Returns 0 or -EINVAL. */
static int pct_decode(const char *s, size_t len, char *out, size_t outsz)
{
	size_t i, o = 0;
	int hi, lo;

	for (i = 0; i < len; i++) {
		char c = s[i];

		if (c == '%') {
			if (i + 2 >= len)
				return -EINVAL;
			hi = hex_value(s[i + 1]);
			lo = hex_value(s[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -EINVAL;
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		if (o + 1 >= outsz)
			return -EINVAL;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

/* A decimal number in [min, max] filling s[0..len) exactly. */
static int parse_num(const char *s, size_t len, long min, long max, int *out)
{
	long v = 0;
	size_t i;

	if (len == 0 || len > 9)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	if (v < min || v > max)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

/* Splits "[user]:password@" off the front of *p (up to end) when there is one. */
static int parse_userinfo(const char **p, const char *end, struct redis_url *u,
			  const char **why)
{
	const char *at = memchr(*p, '@', (size_t)(end - *p));
	const char *colon;

	if (at == NULL)
		return 0;
	colon = memchr(*p, ':', (size_t)(at - *p));
	if (colon == NULL) {
		/* "redis://secret@host": a password alone, as redis-cli -u reads it. */
		colon = *p - 1;
	} else if (pct_decode(*p, (size_t)(colon - *p), u->user, sizeof(u->user)) < 0) {
		*why = "bad user name (too long or bad %-escape)";
		return -EINVAL;
	}
	if (pct_decode(colon + 1, (size_t)(at - colon - 1), u->password, sizeof(u->password)) < 0) {
		*why = "bad password (too long or bad %-escape)";
		return -EINVAL;
	}
	*p = at + 1;
	return 0;
}

static int parse_tcp(const char *p, const char *end, struct redis_url *u, const char **why)
{
	const char *slash = memchr(p, '/', (size_t)(end - p));
	const char *hend = slash ? slash : end, *colon = NULL, *h = p;
	size_t hlen;

	if (*p == '[') {
		const char *rb = memchr(p, ']', (size_t)(hend - p));

		if (rb == NULL) {
			*why = "unterminated [IPv6 address]";
			return -EINVAL;
		}
		h = p + 1;
		hlen = (size_t)(rb - h);
		if (rb + 1 < hend) {
			if (rb[1] != ':') {
				*why = "expected ':' after ]";
				return -EINVAL;
			}
			colon = rb + 1;
		}
	} else {
		colon = memchr(p, ':', (size_t)(hend - p));
		hlen = (size_t)((colon ? colon : hend) - p);
	}
	if (hlen == 0 || hlen >= sizeof(u->host)) {
		*why = "missing or overlong host";
		return -EINVAL;
	}
	memcpy(u->host, h, hlen);
	u->host[hlen] = '\0';
	if (colon && parse_num(colon + 1, (size_t)(hend - colon - 1), 1, 65535, &u->port) < 0) {
		*why = "port must be 1..65535";
		return -EINVAL;
	}
	if (slash && slash + 1 < end &&
	    parse_num(slash + 1, (size_t)(end - slash - 1), 0, 100000, &u->db) < 0) {
		*why = "database must be a number";
		return -EINVAL;
	}
	return 0;
}

static int parse_unix(const char *p, const char *end, struct redis_url *u, const char **why)
{
	const char *q = memchr(p, '?', (size_t)(end - p));
	const char *pend = q ? q : end;
	size_t plen = (size_t)(pend - p);

	if (plen == 0 || *p != '/') {
		*why = "socket path must be absolute (unix:///path)";
		return -EINVAL;
	}
	if (plen >= sizeof(u->path)) {
		*why = "socket path longer than 107 bytes";
		return -EINVAL;
	}
	memcpy(u->path, p, plen);
	u->path[plen] = '\0';
	if (q) {
		if ((size_t)(end - q) < 4 || strncmp(q, "?db=", 4) != 0 ||
		    parse_num(q + 4, (size_t)(end - q - 4), 0, 100000, &u->db) < 0) {
			*why = "only ?db=N may follow the socket path";
			return -EINVAL;
		}
	}
	return 0;
}

int redis_url_parse(const char *s, struct redis_url *u, const char **why)
{
	static const char tcp[] = "redis://", unx[] = "unix://";
	const char *p, *end;
	const char *dummy;

	if (why == NULL)
		why = &dummy;
	memset(u, 0, sizeof(*u));
	u->port = 6379;
	if (s == NULL || strlen(s) > 1024) {
		*why = "missing or overlong URL";
		return -EINVAL;
	}
	end = s + strlen(s);
	if (strncmp(s, tcp, sizeof(tcp) - 1) == 0) {
		u->kind = REDIS_URL_TCP;
		p = s + sizeof(tcp) - 1;
	} else if (strncmp(s, unx, sizeof(unx) - 1) == 0) {
		u->kind = REDIS_URL_UNIX;
		p = s + sizeof(unx) - 1;
	} else if (strncmp(s, "rediss://", 9) == 0) {
		*why = "TLS (rediss://) is not supported: use a local TLS tunnel";
		return -EINVAL;
	} else {
		*why = "expected redis://host:port or unix:///path";
		return -EINVAL;
	}
	if (parse_userinfo(&p, end, u, why) < 0)
		return -EINVAL;
	if (u->kind == REDIS_URL_TCP)
		return parse_tcp(p, end, u, why);
	return parse_unix(p, end, u, why);
}

int redis_seeds_parse(const char *s, struct redis_seeds *out, const char **why)
{
	const char *dummy, *p, *end, *comma;
	const struct redis_url *cred = NULL;
	char item[1100];
	unsigned i;

	if (why == NULL)
		why = &dummy;
	memset(out, 0, sizeof(*out));
	if (s == NULL || strlen(s) > 4096) {
		*why = "missing or overlong list of seed nodes";
		return -EINVAL;
	}
	for (p = s; *p; p = *comma ? comma + 1 : comma) {
		struct redis_url *u;
		size_t len;

		comma = strchr(p, ',');
		if (comma == NULL)
			comma = p + strlen(p);
		while (p < comma && isspace((unsigned char)*p))
			p++;
		end = comma;
		while (end > p && isspace((unsigned char)end[-1]))
			end--;
		len = (size_t)(end - p);
		if (len == 0) {
			*why = "an empty item in the list of seed nodes";
			return -EINVAL;
		}
		if (out->n == REDIS_SEEDS_MAX) {
			*why = "more than 16 seed nodes";
			return -EINVAL;
		}
		if (len + 9 >= sizeof(item)) {
			*why = "an overlong seed node";
			return -EINVAL;
		}
		u = &out->seed[out->n];
		if (strncmp(p, "redis://", 8) == 0 || strncmp(p, "rediss://", 9) == 0 ||
		    strncmp(p, "unix://", 7) == 0)
			snprintf(item, sizeof(item), "%.*s", (int)len, p);
		else
			snprintf(item, sizeof(item), "redis://%.*s", (int)len, p);
		if (redis_url_parse(item, u, why) < 0)
			return -EINVAL;
		if (u->kind != REDIS_URL_TCP) {
			*why = "cluster nodes are reached over TCP (host:port), not a unix socket";
			return -EINVAL;
		}
		if (u->db != 0) {
			*why = "a Redis Cluster has only database 0";
			return -EINVAL;
		}
		if (u->password[0]) {
			if (cred && (strcmp(cred->user, u->user) != 0 ||
				     strcmp(cred->password, u->password) != 0)) {
				*why = "seed nodes with different credentials (a cluster's nodes share "
				       "one ACL)";
				return -EINVAL;
			}
			cred = u;
		}
		out->n++;
	}
	if (out->n == 0) {
		*why = "no seed node";
		return -EINVAL;
	}
	for (i = 0; cred && i < out->n; i++) {
		memcpy(out->seed[i].user, cred->user, sizeof(cred->user));
		memcpy(out->seed[i].password, cred->password, sizeof(cred->password));
	}
	return 0;
}
