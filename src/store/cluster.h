/* Redis Cluster's slot map and the pieces of its protocol the store routes by (Redis Cluster
 * specification: "Keys distribution model", "Redirection and resharding"): a key's hash slot
 * (CRC16-XMODEM of its hash tag, modulo 16384), the MOVED and ASK redirections, and the map
 * of slots to masters from CLUSTER SLOTS. No I/O: the routing on hiredis's async API uses it
 * (issue 16). Debian 12 packages no cluster client for hiredis 0.14, hence our own. */
#ifndef CEIRGW_STORE_CLUSTER_H
#define CEIRGW_STORE_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#define CLUSTER_SLOTS 16384
#define CLUSTER_NODES_MAX 64
#define CLUSTER_HOST_MAX 255

/* The hash slot of a key: of what is between the first '{' and the next '}' when that is
 * not empty, else of the whole key. */
unsigned cluster_keyslot(const char *key, size_t len);

enum cluster_redirect_kind { CLUSTER_MOVED, CLUSTER_ASK };

struct cluster_redirect {
	enum cluster_redirect_kind kind;
	unsigned slot;
	char host[CLUSTER_HOST_MAX + 1];	/* "" : the host of the node that answered */
	int port;
};

/* Reads an error reply's text, "MOVED 3999 127.0.0.1:6381" or "ASK 3999 10.0.0.2:6381" (an
 * IPv6 host bare, "::1:6381", or in brackets, "[::1]:6381"; an empty host, ":6381", when the
 * node does not know its address). Returns 0, -ENOENT for an error that is no redirection,
 * or -EINVAL for a malformed one (a slot over 16383, a port out of 1..65535, a host too
 * long or with spaces, anything after the port). */
int cluster_redirect_parse(const char *s, size_t len, struct cluster_redirect *out);

struct cluster_node {
	char host[CLUSTER_HOST_MAX + 1];
	int port;
};

/* Which master serves each slot. */
struct cluster_map {
	unsigned nnodes;
	struct cluster_node nodes[CLUSTER_NODES_MAX];
	int16_t slot_node[CLUSTER_SLOTS];	/* index in nodes, -1: no master known */
};

void cluster_map_init(struct cluster_map *m);

/* The master of slot, or NULL when none is known. */
const struct cluster_node *cluster_map_node(const struct cluster_map *m, unsigned slot);

/* Gives slot to host:port (what a MOVED says), adding the node when it is new. Returns 0,
 * -EINVAL (a slot over 16383, an empty host or a bad port) or -ENOSPC (the map's
 * CLUSTER_NODES_MAX nodes are taken). */
int cluster_map_set(struct cluster_map *m, unsigned slot, const char *host, int port);

/* Replaces the map with a CLUSTER SLOTS reply: for each range [first, last, master,
 * replicas...] its master ([host, port, id, ...]); an empty host or "?" is default_host (the
 * node that answered). Returns 0, or -EPROTO for a reply that is not such a list (a range
 * out of bounds or reversed, a master that is not [host, port, ...], ranges that overlap) or
 * -ENOSPC for more masters than CLUSTER_NODES_MAX, or -ENOMEM: the map is then unchanged. */
int cluster_map_from_slots(struct cluster_map *m, const redisReply *r, const char *default_host);

#endif
