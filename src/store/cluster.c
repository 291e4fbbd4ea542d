/* Redis Cluster's slot map, hash slots and redirections (cluster.h; Redis Cluster
 * specification, "Keys distribution model" and "Redirection and resharding"). */
#include "store/cluster.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* CRC16-CCITT in its XMODEM form (polynomial 0x1021, initial value 0, no reflection): the one
 * the specification names, whose check value is 0x31C3 for "123456789". Bit by bit: keys are
 * tens of bytes, and a table would be 512 bytes of cache for a few hundred cycles. */
static uint16_t crc16(const unsigned char *p, size_t len)
{
	uint16_t crc = 0;

	for (size_t i = 0; i < len; i++) {
		crc ^= (uint16_t)(p[i] << 8);
		for (int b = 0; b < 8; b++)
			crc = (uint16_t)(crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1);
	}
	return crc;
}

unsigned cluster_keyslot(const char *key, size_t len)
{
	const char *open = memchr(key, '{', len), *close;

	if (open) {
		size_t rest = len - (size_t)(open - key) - 1;

		close = memchr(open + 1, '}', rest);
		if (close && close > open + 1)
			return crc16((const unsigned char *)open + 1, (size_t)(close - open - 1)) &
			       (CLUSTER_SLOTS - 1);
	}
	return crc16((const unsigned char *)key, len) & (CLUSTER_SLOTS - 1);
}

/* Digits only, no sign, no leading garbage: a value of at most max. -1 when not such. */
static long parse_uint(const char *s, size_t len, long max)
{
	long v = 0;

	if (len == 0 || len > 6)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v <= max ? v : -1;
}

int cluster_redirect_parse(const char *s, size_t len, struct cluster_redirect *out)
{
	const char *p, *end = s + len, *sp, *colon, *host;
	size_t hlen;
	long slot, port;

	if (len > 6 && memcmp(s, "MOVED ", 6) == 0) {
		out->kind = CLUSTER_MOVED;
		p = s + 6;
	} else if (len > 4 && memcmp(s, "ASK ", 4) == 0) {
		out->kind = CLUSTER_ASK;
		p = s + 4;
	} else {
		return -ENOENT;
	}
	sp = memchr(p, ' ', (size_t)(end - p));
	if (sp == NULL)
		return -EINVAL;
	slot = parse_uint(p, (size_t)(sp - p), CLUSTER_SLOTS - 1);
	host = sp + 1;
	if (slot < 0 || host >= end)
		return -EINVAL;
	/* The port follows the last ':', so a bare IPv6 address keeps its own colons. */
	colon = NULL;
	for (const char *q = host; q < end; q++)
		if (*q == ':')
			colon = q;
	if (colon == NULL)
		return -EINVAL;
	port = parse_uint(colon + 1, (size_t)(end - colon - 1), 65535);
	if (port < 1)
		return -EINVAL;
	hlen = (size_t)(colon - host);
	if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
		host++;
		hlen -= 2;
	}
	if (hlen > CLUSTER_HOST_MAX)
		return -EINVAL;
	for (size_t i = 0; i < hlen; i++)
		if (host[i] <= ' ' || host[i] == '[' || host[i] == ']' || (unsigned char)host[i] >= 0x7f)
			return -EINVAL;
	memcpy(out->host, host, hlen);
	out->host[hlen] = '\0';
	out->slot = (unsigned)slot;
	out->port = (int)port;
	return 0;
}

void cluster_map_init(struct cluster_map *m)
{
	m->nnodes = 0;
	for (unsigned i = 0; i < CLUSTER_SLOTS; i++)
		m->slot_node[i] = -1;
}

const struct cluster_node *cluster_map_node(const struct cluster_map *m, unsigned slot)
{
	if (slot >= CLUSTER_SLOTS || m->slot_node[slot] < 0)
		return NULL;
	return &m->nodes[m->slot_node[slot]];
}

/* The node's index, added when new; -1 when the map is full. */
static int node_index(struct cluster_map *m, const char *host, size_t hlen, int port)
{
	for (unsigned i = 0; i < m->nnodes; i++)
		if (m->nodes[i].port == port && strlen(m->nodes[i].host) == hlen &&
		    memcmp(m->nodes[i].host, host, hlen) == 0)
			return (int)i;
	if (m->nnodes == CLUSTER_NODES_MAX)
		return -1;
	memcpy(m->nodes[m->nnodes].host, host, hlen);
	m->nodes[m->nnodes].host[hlen] = '\0';
	m->nodes[m->nnodes].port = port;
	return (int)m->nnodes++;
}

int cluster_map_set(struct cluster_map *m, unsigned slot, const char *host, int port)
{
	size_t hlen = host ? strlen(host) : 0;
	int i;

	if (slot >= CLUSTER_SLOTS || hlen == 0 || hlen > CLUSTER_HOST_MAX || port < 1 ||
	    port > 65535)
		return -EINVAL;
	i = node_index(m, host, hlen, port);
	if (i < 0)
		return -ENOSPC;
	m->slot_node[slot] = (int16_t)i;
	return 0;
}

int cluster_map_from_slots(struct cluster_map *m, const redisReply *r, const char *default_host)
{
	struct cluster_map *next;
	int rc = 0;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY)
		return -EPROTO;
	next = malloc(sizeof(*next));
	if (next == NULL)
		return -ENOMEM;
	cluster_map_init(next);
	for (size_t k = 0; k < r->elements && rc == 0; k++) {
		const redisReply *range = r->element[k], *master, *h, *p;
		const char *host;
		size_t hlen;
		int i;

		if (range->type != REDIS_REPLY_ARRAY || range->elements < 3 ||
		    range->element[0]->type != REDIS_REPLY_INTEGER ||
		    range->element[1]->type != REDIS_REPLY_INTEGER ||
		    range->element[2]->type != REDIS_REPLY_ARRAY) {
			rc = -EPROTO;
			break;
		}
		master = range->element[2];
		if (master->elements < 2 || master->element[0]->type != REDIS_REPLY_STRING ||
		    master->element[1]->type != REDIS_REPLY_INTEGER) {
			rc = -EPROTO;
			break;
		}
		h = master->element[0];
		p = master->element[1];
		host = h->str;
		hlen = h->len;
		if (hlen == 0 || (hlen == 1 && host[0] == '?')) {
			host = default_host ? default_host : "";
			hlen = strlen(host);
		}
		if (range->element[0]->integer < 0 ||
		    range->element[1]->integer >= CLUSTER_SLOTS ||
		    range->element[0]->integer > range->element[1]->integer || hlen == 0 ||
		    hlen > CLUSTER_HOST_MAX || memchr(host, '\0', hlen) || p->integer < 1 ||
		    p->integer > 65535) {
			rc = -EPROTO;
			break;
		}
		i = node_index(next, host, hlen, (int)p->integer);
		if (i < 0) {
			rc = -ENOSPC;
			break;
		}
		for (long long s = range->element[0]->integer; s <= range->element[1]->integer; s++) {
			if (next->slot_node[s] >= 0) {
				rc = -EPROTO;	/* two masters for one slot */
				break;
			}
			next->slot_node[s] = (int16_t)i;
		}
	}
	if (rc == 0)
		memcpy(m, next, sizeof(*m));
	free(next);
	return rc;
}
