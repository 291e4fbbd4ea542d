/* Bulk loading of pairings (hiredis, blocking, pipelined). A batch is sorted by bucket, then
 * written bucket by bucket: HMGET of the fields the batch touches, a merge in the client, an
 * HSET of the fields that changed. Windows of buckets keep the pipeline and its replies
 * bounded. Commands are argv, never formatted strings.
 *
 * On a Redis Cluster (Redis Cluster specification, "Redirection and resharding") each
 * bucket's commands go to the master of its key's slot, one connection per master, so a
 * window is one pipeline per node and the nodes work side by side. A command answered
 * MOVED (its slot moved: the map learns it, and is read again from CLUSTER SLOTS before the
 * next window), ASK (its key is being migrated: ASKING, then the command, on the node named)
 * or TRYAGAIN (a multi-key command met a slot half migrated: wait, send again) is sent again
 * from the bytes kept for it until its reply is read. A single Redis is the same code with
 * one connection and no map: it is never sent a CLUSTER command. */
#define _GNU_SOURCE
#include "store/bulk.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <talloc.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "domain/tac.h"
#include "store/bulk_int.h"
#include "store/cluster.h"
#include "store/feed_keys.h"

#define WINDOW_BUCKETS 512	/* buckets whose commands are in flight together */
#define LOCK_KEY "import:{lock}"
#define LOCK_TTL_MS "600000"	/* renewed by every batch: a crashed import frees it */
#define COMMAND_TIMEOUT_S 60	/* replies to a million-field pipeline arrive in large
				 * pieces; no command may hang */
#define REDIRECTS_MAX 16	/* per command: a slot that moves takes one MOVED, or an ASK
				 * and a MOVED; more is a cluster that does not settle */
#define TRYAGAIN_MS 10		/* doubled at each TRYAGAIN, up to 320 ms */
#define CONNS_MAX (2 * CLUSTER_NODES_MAX)	/* the masters, and nodes redirections name */
#define STR_(x) #x
#define STR(x) STR_(x)

/* Rows of a batch. sk, the sort key, comes first: the bucket, then the number, as one
 * integer that a radix sort orders (see sort_key). */
struct imei_ent {
	uint64_t sk;
	uint64_t body;
	struct pair_rec rec;
};

struct msisdn_ent {
	uint64_t sk;
	uint64_t msisdn;
	uint64_t body;
};

struct kyc_ent {
	uint64_t sk;
	uint64_t msisdn;
	uint8_t value[PAIRS_KYC_VALUE_LEN];
};

/* A set of IMEI bodies, to count each duplicated IMEI once over the whole import. */
struct u64set {
	uint64_t *slots;	/* 0 is empty: no body is 0 once the reserved check ran */
	size_t cap, used;
};

/* Commands in the Redis protocol (RESP), one after the other. */
struct bytes {
	char *p;
	size_t len, cap;
};

/* One connection: the single Redis, or one cluster node. Replies come back in the order the
 * commands went. A command sent again on a connection that has others in flight (after a
 * redirection) reads their replies first: they wait in early, in order, for their owners. */
struct conn {
	char host[CLUSTER_HOST_MAX + 1];
	int port;
	redisContext *c;
	unsigned gen;		/* counts (re)connections: a pipelined command sent on an
				 * earlier one lost its reply with it */
	size_t pending;		/* commands sent whose replies are still in the socket */
	redisReply **early;	/* replies read ahead, the oldest at early[early_head] */
	size_t early_head, early_n, early_cap;
};

/* A pipelined command: its connection, and its bytes in its window's arena, kept until its
 * reply is read so that a redirection can send it again. */
struct pcmd {
	unsigned conn, gen;
	size_t off, len;
};

struct bulk {
	struct conn *conns;
	unsigned nconns;
	struct redis_url url;	/* a single Redis: its address; both: the credentials */
	struct cluster_map *map;	/* NULL: a single Redis, every command on conns[0] */
	int16_t node_conn[CLUSTER_NODES_MAX];	/* map node -> conns index, -1: not yet */
	bool map_stale;		/* a MOVED was followed: read CLUSTER SLOTS again */
	int timeout_ms;		/* to connect */
	struct bytes cmd;	/* the command being sent outside the pipelines */
	struct bulk_options o;
	struct bulk_stats st;
	char err[512];
	struct imei_ent *ie;
	struct msisdn_ent *me;
	void *sort_tmp;		/* the radix sort's second buffer */
	size_t n, cap;
	struct kyc_ent *ke;
	void *kyc_tmp;
	size_t kn, kcap;
	uint64_t bucket_mod;
	uint64_t imei_rest, msisdn_rest;	/* 10^(digits left after the bucket) */
	char token[40];
	bool locked;
	struct u64set dups;
	bulk_gate_fn gate;
	void *gate_arg;
};

static void conn_drop(struct conn *cn)
{
	if (cn->c)
		redisFree(cn->c);
	cn->c = NULL;
	while (cn->early_n > 0) {
		freeReplyObject(cn->early[cn->early_head++]);
		cn->early_n--;
	}
	cn->early_head = 0;
	cn->pending = 0;
}

static int bulk_destructor(struct bulk *b)
{
	unsigned i;

	if (b->locked)
		bulk_unlock(b);
	for (i = 0; i < b->nconns; i++)
		conn_drop(&b->conns[i]);
	explicit_bzero(b->url.password, sizeof(b->url.password));
	free(b->dups.slots);
	free(b->ie);
	free(b->me);
	free(b->sort_tmp);
	free(b->ke);
	free(b->kyc_tmp);
	return 0;
}

/* Says what failed in b->err: the connection's error, an error reply, or a reply of the wrong
 * type. A cluster node is named (a single Redis is the one the user gave). Returns -EIO. */
static int set_err(struct bulk *b, unsigned i, const char *what, const redisReply *r)
{
	const struct conn *cn = &b->conns[i];
	char node[CLUSTER_HOST_MAX + 24] = "";

	if (b->map)
		snprintf(node, sizeof(node), " (node %.100s:%d)", cn->host, cn->port);
	if (cn->c && cn->c->err)
		snprintf(b->err, sizeof(b->err), "%s%s: %s", what, node, cn->c->errstr);
	else if (r && r->type == REDIS_REPLY_ERROR)
		snprintf(b->err, sizeof(b->err), "%s%s: %.200s", what, node, r->str);
	else
		snprintf(b->err, sizeof(b->err), "%s%s: unexpected reply", what, node);
	return -EIO;
}

/* Appends one command, argv in RESP, to out: formatted here rather than by hiredis, whose
 * formatting grows an sds string argument by argument and showed at the top of the import's
 * profile. The same bytes on the wire. Returns 0 or -ENOMEM. */
static int bytes_argv(void *ctx, struct bytes *out, size_t argc, const char **argv,
		      const size_t *lens);

/* The connection to host:port, added (not yet connected) when new. Returns its index, or
 * -ENOSPC past CONNS_MAX (a cluster naming ever new nodes). The table never moves: a
 * connection's address stays valid while others are added. */
static int conn_get(struct bulk *b, const char *host, int port)
{
	struct conn *cn;
	unsigned i;

	for (i = 0; i < b->nconns; i++)
		if (b->conns[i].port == port && strcmp(b->conns[i].host, host) == 0)
			return (int)i;
	if (b->nconns == CONNS_MAX) {
		snprintf(b->err, sizeof(b->err), "more than %d Redis nodes named", CONNS_MAX);
		return -ENOSPC;
	}
	cn = &b->conns[b->nconns];
	snprintf(cn->host, sizeof(cn->host), "%s", host);
	cn->port = port;
	return (int)b->nconns++;
}

/* A command on a connection with nothing in flight (just opened): AUTH, SELECT. */
static int conn_setup_command(struct bulk *b, unsigned i, const char *what, int argc,
			      const char **argv, const size_t *lens)
{
	redisReply *r = redisCommandArgv(b->conns[i].c, argc, argv, lens);
	int rc = 0;

	if (r == NULL || r->type != REDIS_REPLY_STATUS)
		rc = set_err(b, i, what, r);
	freeReplyObject(r);
	return rc;
}

/* Connects connection i unless it is up: a single Redis at b->url, a cluster node at its
 * host:port; AUTH with the credentials, SELECT a database other than 0, a timeout on every
 * command. A connection that failed is opened again: what was in flight on it is lost (its
 * commands' owners see gen change). Returns 0 or -EIO. */
static int conn_open(struct bulk *b, unsigned i)
{
	struct timeval tv = { b->timeout_ms / 1000, (b->timeout_ms % 1000) * 1000 };
	struct conn *cn = &b->conns[i];
	const char *argv[3];
	size_t lens[3];
	char db[16];
	int n;

	if (cn->c && !cn->c->err)
		return 0;
	conn_drop(cn);
	cn->gen++;
	cn->c = b->map == NULL && b->url.kind == REDIS_URL_UNIX ?
		redisConnectUnixWithTimeout(b->url.path, tv) :
		redisConnectWithTimeout(cn->host, cn->port, tv);
	if (cn->c == NULL || cn->c->err) {
		if (b->map)
			snprintf(b->err, sizeof(b->err), "cannot connect to cluster node "
				 "%.100s:%d: %s", cn->host, cn->port,
				 cn->c ? cn->c->errstr : "out of memory");
		else
			snprintf(b->err, sizeof(b->err), "cannot connect to Redis: %s",
				 cn->c ? cn->c->errstr : "out of memory");
		conn_drop(cn);
		return -EIO;
	}
	tv.tv_sec = COMMAND_TIMEOUT_S;
	tv.tv_usec = 0;
	if (b->o.command_timeout_ms > 0) {
		tv.tv_sec = b->o.command_timeout_ms / 1000;
		tv.tv_usec = (b->o.command_timeout_ms % 1000) * 1000;
	}
	redisSetTimeout(cn->c, tv);
	if (b->url.password[0]) {
		argv[0] = "AUTH";
		lens[0] = 4;
		n = 1;
		if (b->url.user[0]) {
			argv[n] = b->url.user;
			lens[n++] = strlen(b->url.user);
		}
		argv[n] = b->url.password;
		lens[n++] = strlen(b->url.password);
		if (conn_setup_command(b, i, "AUTH", n, argv, lens) < 0)
			goto fail;
	}
	if (b->url.db) {
		argv[0] = "SELECT";
		lens[0] = 6;
		lens[1] = (size_t)snprintf(db, sizeof(db), "%d", b->url.db);
		argv[1] = db;
		if (conn_setup_command(b, i, "SELECT", 2, argv, lens) < 0)
			goto fail;
	}
	return 0;
fail:
	conn_drop(cn);
	return -EIO;
}

/* Reads the next reply from connection i's socket. Returns 0 or -EIO. */
static int read_socket(struct bulk *b, unsigned i, const char *what, redisReply **out)
{
	struct conn *cn = &b->conns[i];
	redisReply *r = NULL;

	if (redisGetReply(cn->c, (void **)&r) != REDIS_OK || r == NULL) {
		set_err(b, i, what, r);
		freeReplyObject(r);
		return -EIO;
	}
	cn->pending--;
	*out = r;
	return 0;
}

/* The next reply of connection i: one read ahead first, else the socket's. */
static int take_reply(struct bulk *b, unsigned i, const char *what, redisReply **out)
{
	struct conn *cn = &b->conns[i];

	if (cn->early_n == 0)
		return read_socket(b, i, what, out);
	*out = cn->early[cn->early_head++];
	if (--cn->early_n == 0)
		cn->early_head = 0;
	return 0;
}

static int early_push(struct bulk *b, struct conn *cn, redisReply *r)
{
	if (cn->early_head + cn->early_n == cn->early_cap) {
		if (cn->early_head > 0) {
			memmove(cn->early, cn->early + cn->early_head,
				cn->early_n * sizeof(*cn->early));
			cn->early_head = 0;
		} else {
			size_t cap = cn->early_cap ? 2 * cn->early_cap : 64;
			redisReply **e = talloc_realloc(b, cn->early, redisReply *, cap);

			if (e == NULL) {
				freeReplyObject(r);
				snprintf(b->err, sizeof(b->err), "out of memory");
				return -ENOMEM;
			}
			cn->early = e;
			cn->early_cap = cap;
		}
	}
	cn->early[cn->early_head + cn->early_n++] = r;
	return 0;
}

/* Sends one command, given as RESP bytes, on connection i, preceded by ASKING when asking,
 * and reads its reply (and first, into early, the replies of what was in flight before it).
 * Returns 0 with the reply in *out (an error reply included), or -EIO. */
static int call_raw(struct bulk *b, unsigned i, const char *cmd, size_t len, bool asking,
		    const char *what, redisReply **out)
{
	static const char asking_cmd[] = "*1\r\n$6\r\nASKING\r\n";
	struct conn *cn;
	redisReply *r;
	size_t before;

	if (conn_open(b, i) < 0)
		return -EIO;
	cn = &b->conns[i];
	before = cn->pending;
	if ((asking && redisAppendFormattedCommand(cn->c, asking_cmd,
						   sizeof(asking_cmd) - 1) != REDIS_OK) ||
	    redisAppendFormattedCommand(cn->c, cmd, len) != REDIS_OK) {
		snprintf(b->err, sizeof(b->err), "%s: out of memory", what);
		return -EIO;
	}
	cn->pending += 1 + asking;
	for (; before > 0; before--) {
		if (read_socket(b, i, what, &r) < 0 || early_push(b, cn, r) < 0)
			return -EIO;
	}
	if (asking) {
		if (read_socket(b, i, "ASKING", &r) < 0)
			return -EIO;
		if (r->type != REDIS_REPLY_STATUS) {
			set_err(b, i, "ASKING", r);
			freeReplyObject(r);
			return -EIO;
		}
		freeReplyObject(r);
	}
	return read_socket(b, i, what, out);
}

/* How long the n-th TRYAGAIN waits, in microseconds. */
static useconds_t tryagain_wait(unsigned n)
{
	return (useconds_t)(TRYAGAIN_MS << (n < 5 ? n : 5)) * 1000;
}

/* Follows the redirections of a cluster: *r is the reply connection *i gave to cmd; while it
 * is MOVED, ASK or TRYAGAIN, sends cmd where it says (at most REDIRECTS_MAX times) and puts
 * the new reply in *r and its connection in *i. Any other reply is left to the caller.
 * Returns 0, or -EIO (*r freed). */
static int follow(struct bulk *b, unsigned *i, const char *cmd, size_t len, const char *what,
		  redisReply **r)
{
	struct cluster_redirect rd;
	unsigned hops, tries = 0;
	bool asking;
	int to, rc;

	for (hops = 0; b->map && (*r)->type == REDIS_REPLY_ERROR; hops++) {
		rc = cluster_redirect_parse((*r)->str, (*r)->len, &rd);
		if (rc == -ENOENT && strncmp((*r)->str, "TRYAGAIN", 8) != 0)
			return 0;	/* an error of the command itself */
		if (rc == -EINVAL || hops == REDIRECTS_MAX) {
			snprintf(b->err, sizeof(b->err), "%s: %s (%.100s)", what,
				 rc == -EINVAL ? "a redirection that does not parse" :
				 "still redirected after " STR(REDIRECTS_MAX) " tries: the "
				 "cluster's slots do not settle", (*r)->str);
			freeReplyObject(*r);
			return -EIO;
		}
		b->st.redirects++;
		asking = false;
		if (rc == -ENOENT) {
			/* TRYAGAIN: the keys of a multi-key command are half migrated. */
			usleep(tryagain_wait(tries++));
			to = (int)*i;
		} else {
			const char *host = rd.host[0] ? rd.host : b->conns[*i].host;

			if (rd.kind == CLUSTER_MOVED) {
				/* The slot is elsewhere for good: route it there from now on, and
				 * read the whole map again before the next window. */
				if (cluster_map_set(b->map, rd.slot, host, rd.port) < 0) {
					snprintf(b->err, sizeof(b->err), "%s: MOVED to a node the "
						 "map cannot hold (%.100s)", what, (*r)->str);
					freeReplyObject(*r);
					return -EIO;
				}
				b->map_stale = true;
			} else {
				asking = true;	/* this command only, the map unchanged */
			}
			to = conn_get(b, host, rd.port);
		}
		freeReplyObject(*r);
		*r = NULL;
		if (to < 0 || call_raw(b, (unsigned)to, cmd, len, asking, what, r) < 0)
			return -EIO;
		*i = (unsigned)to;
	}
	return 0;
}

/* Reads the slot map again from CLUSTER SLOTS, asking a connection with nothing in flight
 * first, then any other. Returns 0 or -EIO. */
static int refresh_map(struct bulk *b)
{
	static const char cmd[] = "*2\r\n$7\r\nCLUSTER\r\n$5\r\nSLOTS\r\n";
	redisReply *r;
	unsigned pass, i, k;
	int rc;

	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < b->nconns; i++) {
			const struct conn *cn = &b->conns[i];
			bool idle = cn->c && !cn->c->err && cn->pending == 0 && cn->early_n == 0;

			if (idle != (pass == 0))
				continue;
			if (call_raw(b, i, cmd, sizeof(cmd) - 1, false, "CLUSTER SLOTS", &r) < 0)
				continue;
			if (r->type == REDIS_REPLY_ERROR) {
				set_err(b, i, "CLUSTER SLOTS", r);
				freeReplyObject(r);
				continue;
			}
			rc = cluster_map_from_slots(b->map, r, cn->host);
			freeReplyObject(r);
			if (rc < 0) {
				snprintf(b->err, sizeof(b->err), "CLUSTER SLOTS of %.100s:%d: %s",
					 cn->host, cn->port, rc == -ENOSPC ? "more masters than "
					 "ceirgw handles" : rc == -ENOMEM ? "out of memory" :
					 "not a slot map");
				continue;
			}
			for (k = 0; k < CLUSTER_NODES_MAX; k++)
				b->node_conn[k] = -1;
			b->map_stale = false;
			return 0;
		}
	}
	return -EIO;
}

/* The connection for a command on key: the single Redis's, or the master of its slot's.
 * Returns its index, or -EIO (err says why). */
static int route(struct bulk *b, const char *key, size_t keylen)
{
	const struct cluster_node *node;
	unsigned slot;
	int n, i;

	if (b->map == NULL)
		return 0;
	slot = cluster_keyslot(key, keylen);
	n = b->map->slot_node[slot];
	if (n < 0 && refresh_map(b) == 0)
		n = b->map->slot_node[slot];
	if (n < 0) {
		snprintf(b->err, sizeof(b->err), "no master serves slot %u (the cluster does not "
			 "cover every slot)", slot);
		return -EIO;
	}
	if (b->node_conn[n] < 0) {
		node = &b->map->nodes[n];
		i = conn_get(b, node->host, node->port);
		if (i < 0)
			return -EIO;
		b->node_conn[n] = (int16_t)i;
	}
	return b->node_conn[n];
}

/* Runs one command on connection i, following redirections, and checks its reply type
 * (want < 0: any but an error). Returns 0 with the reply in *out when out is given (freed
 * otherwise), or -EIO. */
static int command_on(struct bulk *b, unsigned i, const char *what, int want, size_t argc,
		      const char **argv, const size_t *lens, redisReply **out)
{
	redisReply *r;

	b->cmd.len = 0;
	if (bytes_argv(b, &b->cmd, argc, argv, lens) < 0) {
		snprintf(b->err, sizeof(b->err), "%s: out of memory", what);
		return -EIO;
	}
	if (call_raw(b, i, b->cmd.p, b->cmd.len, false, what, &r) < 0 ||
	    follow(b, &i, b->cmd.p, b->cmd.len, what, &r) < 0)
		return -EIO;
	if (want >= 0 ? (int)r->type != want : r->type == REDIS_REPLY_ERROR) {
		set_err(b, i, what, r);
		freeReplyObject(r);
		return -EIO;
	}
	if (out)
		*out = r;
	else
		freeReplyObject(r);
	return 0;
}

/* Runs one command on argv[1], its key: on the master of the key's slot. */
static int command(struct bulk *b, const char *what, int want, size_t argc, const char **argv,
		   const size_t *lens, redisReply **out)
{
	int i;

	/* A refresh that fails is tried again next time: the map MOVED patched still routes. */
	if (b->map_stale)
		refresh_map(b);
	i = route(b, argv[1], lens[1]);
	return i < 0 ? -EIO : command_on(b, (unsigned)i, what, want, argc, argv, lens, out);
}

int bulk_command(struct bulk *b, const char *what, int want, size_t argc, const char **argv,
		 const size_t *lens, redisReply **out)
{
	return command(b, what, want, argc, argv, lens, out);
}

int bulk_command_key(struct bulk *b, const char *what, int want, size_t argc,
		     const char **argv, const size_t *lens, size_t key, redisReply **out)
{
	int i;

	if (key >= argc)
		return -EINVAL;
	if (b->map_stale)
		refresh_map(b);
	i = route(b, argv[key], lens[key]);
	return i < 0 ? -EIO : command_on(b, (unsigned)i, what, want, argc, argv, lens, out);
}

int bulk_scan(struct bulk *b, const char *pattern,
	      int (*cb)(void *arg, const char *key, size_t len), void *arg)
{
	unsigned n, nodes = 1;
	int i, rc = 0;

	if (b->map) {
		if (refresh_map(b) < 0)
			return -EIO;
		nodes = b->map->nnodes;
	}
	for (n = 0; n < nodes && rc == 0; n++) {
		char cursor[24] = "0";
		const char *argv[6] = { "SCAN", cursor, "MATCH", pattern, "COUNT", "1000" };
		size_t lens[6] = { 4, 1, 5, strlen(pattern), 5, 4 };

		i = b->map ? conn_get(b, b->map->nodes[n].host, b->map->nodes[n].port) : 0;
		if (i < 0 || conn_open(b, (unsigned)i) < 0)
			return -EIO;
		do {
			redisReply *r;
			const redisReply *keys;

			lens[1] = strlen(cursor);
			if (command_on(b, (unsigned)i, "SCAN", REDIS_REPLY_ARRAY, 6, argv, lens,
				       &r) < 0)
				return -EIO;
			if (r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING ||
			    r->element[0]->len >= sizeof(cursor) ||
			    r->element[1]->type != REDIS_REPLY_ARRAY) {
				snprintf(b->err, sizeof(b->err), "SCAN: an answer that does not read");
				freeReplyObject(r);
				return -EIO;
			}
			memcpy(cursor, r->element[0]->str, r->element[0]->len);
			cursor[r->element[0]->len] = '\0';
			keys = r->element[1];
			for (size_t k = 0; k < keys->elements && rc == 0; k++)
				if (keys->element[k]->type == REDIS_REPLY_STRING)
					rc = cb(arg, keys->element[k]->str, keys->element[k]->len);
			freeReplyObject(r);
		} while (rc == 0 && strcmp(cursor, "0") != 0);
	}
	return rc;
}

int bulk_bucket_digits(const struct bulk *b)
{
	return b->o.bucket_digits;
}

void bulk_set_error(struct bulk *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(b->err, sizeof(b->err), fmt, ap);
	va_end(ap);
}

/* What both constructors share: the options, the bucket arithmetic. */
static struct bulk *bulk_new(void *ctx, const struct bulk_options *o, int timeout_ms)
{
	struct bulk *b = talloc_zero(ctx, struct bulk);
	int i;

	if (b == NULL)
		return NULL;
	b->conns = talloc_zero_array(b, struct conn, CONNS_MAX);
	if (b->conns == NULL) {
		talloc_free(b);
		return NULL;
	}
	talloc_set_destructor(b, bulk_destructor);
	b->o = *o;
	b->timeout_ms = timeout_ms;
	b->bucket_mod = 1;
	for (i = 0; i < o->bucket_digits; i++)
		b->bucket_mod *= 10;
	b->imei_rest = b->msisdn_rest = 1;
	for (i = o->bucket_digits; i < 14; i++)
		b->imei_rest *= 10;
	b->msisdn_rest = b->imei_rest * 10;	/* E.164 numbers have up to 15 digits */
	for (i = 0; i < CLUSTER_NODES_MAX; i++)
		b->node_conn[i] = -1;
	return b;
}

struct bulk *bulk_connect(void *ctx, const struct redis_url *url, const struct bulk_options *o,
			  int timeout_ms, char *err, size_t errsz)
{
	struct bulk *b = bulk_new(ctx, o, timeout_ms);

	if (b == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	b->url = *url;
	if (conn_get(b, url->kind == REDIS_URL_TCP ? url->host : url->path, url->port) < 0 ||
	    conn_open(b, 0) < 0) {
		snprintf(err, errsz, "%s", b->err);
		talloc_free(b);
		return NULL;
	}
	return b;
}

struct bulk *bulk_connect_cluster(void *ctx, const struct redis_seeds *seeds,
				  const struct bulk_options *o, int timeout_ms, char *err,
				  size_t errsz)
{
	static const char cmd[] = "*2\r\n$7\r\nCLUSTER\r\n$5\r\nSLOTS\r\n";
	struct bulk *b = bulk_new(ctx, o, timeout_ms);
	redisReply *r;
	unsigned s, k, covered;
	int i, rc;

	if (b == NULL || (b->map = talloc(b, struct cluster_map)) == NULL) {
		talloc_free(b);
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	cluster_map_init(b->map);
	/* The cluster's nodes share one ACL: the seeds' credentials open every connection. */
	memcpy(b->url.user, seeds->seed[0].user, sizeof(b->url.user));
	memcpy(b->url.password, seeds->seed[0].password, sizeof(b->url.password));
	snprintf(b->err, sizeof(b->err), "no seed node given");
	for (s = 0; s < seeds->n; s++) {
		i = conn_get(b, seeds->seed[s].host, seeds->seed[s].port);
		if (i < 0)
			break;
		if (call_raw(b, (unsigned)i, cmd, sizeof(cmd) - 1, false, "CLUSTER SLOTS",
			     &r) < 0)
			continue;	/* a seed that is down: the next one */
		if (r->type == REDIS_REPLY_ERROR) {
			if (strstr(r->str, "cluster support disabled"))
				snprintf(b->err, sizeof(b->err), "%.100s:%d is not a cluster node "
					 "(cluster support disabled): a single Redis is given as "
					 "redis, not redis-cluster", seeds->seed[s].host,
					 seeds->seed[s].port);
			else
				set_err(b, (unsigned)i, "CLUSTER SLOTS", r);
			freeReplyObject(r);
			continue;
		}
		rc = cluster_map_from_slots(b->map, r, seeds->seed[s].host);
		freeReplyObject(r);
		if (rc < 0) {
			snprintf(b->err, sizeof(b->err), "CLUSTER SLOTS of %.100s:%d: %s",
				 seeds->seed[s].host, seeds->seed[s].port, rc == -ENOSPC ?
				 "more masters than ceirgw handles" : rc == -ENOMEM ?
				 "out of memory" : "not a slot map");
			continue;
		}
		for (covered = 0, k = 0; k < CLUSTER_SLOTS; k++)
			covered += b->map->slot_node[k] >= 0;
		if (covered == 0) {
			snprintf(b->err, sizeof(b->err), "the cluster of %.100s:%d serves no slot "
				 "yet (CLUSTER ADDSLOTS, or redis-cli --cluster create)",
				 seeds->seed[s].host, seeds->seed[s].port);
			continue;
		}
		return b;
	}
	snprintf(err, errsz, "%s", b->err);
	talloc_free(b);
	return NULL;
}

int bulk_lock(struct bulk *b, char *err, size_t errsz)
{
	const char *argv[] = { "SET", LOCK_KEY, b->token, "NX", "PX", LOCK_TTL_MS };
	size_t lens[6];
	redisReply *r;
	size_t i;

	snprintf(b->token, sizeof(b->token), "%ld-%lx", (long)getpid(), (unsigned long)random());
	for (i = 0; i < 6; i++)
		lens[i] = strlen(argv[i]);
	if (command(b, "SET " LOCK_KEY, -1, 6, argv, lens, &r) < 0) {
		snprintf(err, errsz, "%s", b->err);
		return -EIO;
	}
	if (r->type == REDIS_REPLY_NIL) {
		snprintf(err, errsz, "another import is running (Redis key %s); it expires "
			 "10 minutes after that import's last batch", LOCK_KEY);
		freeReplyObject(r);
		return -EBUSY;
	}
	freeReplyObject(r);
	b->locked = true;
	return 0;
}

void bulk_unlock(struct bulk *b)
{
	/* Delete the lock only if it is still ours. */
	static const char script[] =
		"if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end";
	const char *argv[] = { "EVAL", script, "1", LOCK_KEY, b->token };
	size_t lens[5];
	size_t i;
	int n;

	for (i = 0; i < 5; i++)
		lens[i] = strlen(argv[i]);
	/* The key is argv[3]: route by it. */
	if (b->map_stale)
		refresh_map(b);
	n = route(b, LOCK_KEY, strlen(LOCK_KEY));
	if (n >= 0)
		command_on(b, (unsigned)n, "EVAL", -1, 5, argv, lens, NULL);
	b->locked = false;
}

static int renew_lock(struct bulk *b)
{
	const char *argv[] = { "PEXPIRE", LOCK_KEY, LOCK_TTL_MS };
	size_t lens[] = { 7, strlen(LOCK_KEY), strlen(LOCK_TTL_MS) };

	if (!b->locked)
		return 0;
	return command(b, "PEXPIRE", -1, 3, argv, lens, NULL);
}

static bool u64set_add(struct u64set *s, uint64_t v)
{
	size_t j, i;

	if (2 * (s->used + 1) > s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 1024;
		uint64_t *slots = calloc(cap, sizeof(*slots));

		if (slots == NULL)
			return false;
		for (i = 0; i < s->cap; i++) {
			if (s->slots[i] == 0)
				continue;
			for (j = (s->slots[i] * 0x9E3779B97F4A7C15ULL) >> 40 & (cap - 1);
			     slots[j]; j = (j + 1) & (cap - 1))
				;
			slots[j] = s->slots[i];
		}
		free(s->slots);
		s->slots = slots;
		s->cap = cap;
	}
	for (j = (v * 0x9E3779B97F4A7C15ULL) >> 40 & (s->cap - 1); s->slots[j];
	     j = (j + 1) & (s->cap - 1)) {
		if (s->slots[j] == v)
			return false;
	}
	s->slots[j] = v;
	s->used++;
	return true;
}

/* The bucket (v's last digits) before the rest of v: rows sort by bucket, then number. */
static uint64_t sort_key(uint64_t v, uint64_t bucket_mod, uint64_t rest)
{
	return (v % bucket_mod) * rest + v / bucket_mod;
}

/* Grows a batch array to cap entries. The batch arrays are plain malloc: a batch of several
 * million rows passes talloc's 256 MiB limit on one block. */
static int grow(struct bulk *b, void **p, size_t cap, size_t size)
{
	void *q = cap <= SIZE_MAX / size ? realloc(*p, cap * size) : NULL;

	if (q == NULL) {
		snprintf(b->err, sizeof(b->err), "out of memory for a batch of %zu rows (--batch)",
			 cap);
		return -ENOMEM;
	}
	*p = q;
	return 0;
}

int bulk_add_pairing(struct bulk *b, uint64_t imei_body, const struct pair_rec *rec)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 4096;

		if (cap > b->o.batch_rows && b->o.batch_rows > b->cap)
			cap = b->o.batch_rows;
		free(b->sort_tmp);
		b->sort_tmp = NULL;
		if (grow(b, (void **)&b->ie, cap, sizeof(*b->ie)) < 0 ||
		    grow(b, (void **)&b->me, cap, sizeof(*b->me)) < 0 ||
		    grow(b, &b->sort_tmp, cap, sizeof(*b->ie)) < 0)
			return -ENOMEM;
		b->cap = cap;
	}
	b->ie[b->n] = (struct imei_ent){ sort_key(imei_body, b->bucket_mod, b->imei_rest),
					 imei_body, *rec };
	b->me[b->n] = (struct msisdn_ent){ sort_key(rec->msisdn, b->bucket_mod, b->msisdn_rest),
					   rec->msisdn, imei_body };
	b->n++;
	b->st.rows++;
	if (b->n >= b->o.batch_rows)
		return bulk_flush(b);
	return 0;
}

/* Sorting by (bucket, number) groups a bucket's rows, and a number's rows within it. */
static void radix_sort(void *base, void *tmp, size_t n, size_t size)
{
	enum { BITS = 13, PASSES = 4 };	/* sort keys are below 10^15 < 2^52 */
	static size_t count[1 << BITS];
	unsigned char *src = base, *dst = tmp, *t;
	size_t i, pass, sum, c;
	uint64_t sk;

	for (pass = 0; pass < PASSES; pass++) {
		memset(count, 0, sizeof(count));
		for (i = 0; i < n; i++) {
			memcpy(&sk, src + i * size, sizeof(sk));
			count[(sk >> (pass * BITS)) & ((1 << BITS) - 1)]++;
		}
		for (sum = 0, i = 0; i < (1 << BITS); i++) {
			c = count[i];
			count[i] = sum;
			sum += c;
		}
		for (i = 0; i < n; i++) {
			memcpy(&sk, src + i * size, sizeof(sk));
			memcpy(dst + size * count[(sk >> (pass * BITS)) & ((1 << BITS) - 1)]++,
			       src + i * size, size);
		}
		t = src;
		src = dst;
		dst = t;
	}
	/* An even number of passes: the sorted rows are back in base. */
}

/* One direction of a flush, described by these so the window loop is written once. */
struct direction {
	const char *name;
	size_t n;
	uint64_t (*key_of)(const struct bulk *b, size_t i);	/* the number bucketed */
	void (*make_key)(uint64_t v, int digits, char *key, size_t *keylen, uint8_t *field,
			 size_t *fieldlen);
	/* Merges rows [i, j) (one number) into the stored value old[0..oldlen) and encodes the
	 * result into out. Returns its length, or 0 when nothing changed. */
	size_t (*merge)(struct bulk *b, size_t i, size_t j, const uint8_t *old, size_t oldlen,
			uint8_t *out);
};

static uint64_t imei_key_of(const struct bulk *b, size_t i)
{
	return b->ie[i].body;
}

static uint64_t msisdn_key_of(const struct bulk *b, size_t i)
{
	return b->me[i].msisdn;
}

static uint64_t kyc_key_of(const struct bulk *b, size_t i)
{
	return b->ke[i].msisdn;
}

/* A subscriber's KYC record is replaced by the latest row (the last one of a batch). */
static size_t kyc_merge_rows(struct bulk *b, size_t i, size_t j, const uint8_t *old,
			     size_t oldlen, uint8_t *out)
{
	const uint8_t *v = b->ke[j - 1].value;

	b->st.unchanged += j - i - 1;
	if (old && oldlen == PAIRS_KYC_VALUE_LEN && memcmp(old, v, oldlen) == 0) {
		b->st.unchanged++;
		return 0;
	}
	b->st.kyc_written++;
	memcpy(out, v, PAIRS_KYC_VALUE_LEN);
	return PAIRS_KYC_VALUE_LEN;
}

static size_t imei_merge_rows(struct bulk *b, size_t i, size_t j, const uint8_t *old,
			      size_t oldlen, uint8_t *out)
{
	struct pair_rec recs[PAIRS_MAX_RECORDS];
	size_t n = 0, k, changed = 0;
	int got;

	if (old) {
		got = pairs_imei_decode(old, oldlen, recs, PAIRS_MAX_RECORDS);
		if (got < 0) {
			b->st.corrupt++;
			changed = 1;
		} else {
			n = (size_t)got;
		}
	}
	for (k = i; k < j; k++) {
		if (pairs_imei_merge(recs, &n, &b->ie[k].rec))
			changed++;
		else
			b->st.unchanged++;
	}
	if (pairs_duplicated(recs, n, b->o.dup_min_ids, b->o.dup_by_imsi) &&
	    u64set_add(&b->dups, b->ie[i].body))
		b->st.duplicated++;
	if (!changed)
		return 0;
	b->st.imei_written++;
	return pairs_imei_encode(recs, n, out);
}

static size_t msisdn_merge_rows(struct bulk *b, size_t i, size_t j, const uint8_t *old,
				size_t oldlen, uint8_t *out)
{
	uint64_t bodies[PAIRS_MAX_RECORDS];
	size_t n = 0, k;
	bool changed = false;
	int got;

	if (old) {
		got = pairs_msisdn_decode(old, oldlen, bodies, PAIRS_MAX_RECORDS);
		if (got < 0) {
			b->st.corrupt++;
			changed = true;
		} else {
			n = (size_t)got;
		}
	}
	for (k = i; k < j; k++)
		changed |= pairs_msisdn_merge(bodies, &n, b->me[k].body);
	if (!changed)
		return 0;
	b->st.msisdn_written++;
	return pairs_msisdn_encode(bodies, n, out);
}

/* Command buffers for one bucket: HMGET key f... and HSET key f v ... */
struct cmdbuf {
	const char **argv;
	size_t *lens;
	uint8_t *bytes;		/* fields and values live here while the command is formatted */
	size_t cap_args, cap_bytes;
};

static int cmdbuf_reserve(void *ctx, struct cmdbuf *cb, size_t args, size_t bytes)
{
	if (args > cb->cap_args) {
		cb->argv = talloc_realloc(ctx, cb->argv, const char *, args);
		cb->lens = talloc_realloc(ctx, cb->lens, size_t, args);
		if (cb->argv == NULL || cb->lens == NULL)
			return -ENOMEM;
		cb->cap_args = args;
	}
	if (bytes > cb->cap_bytes) {
		cb->bytes = talloc_realloc(ctx, cb->bytes, uint8_t, bytes);
		if (cb->bytes == NULL)
			return -ENOMEM;
		cb->cap_bytes = bytes;
	}
	return 0;
}

/* The end of the bucket that starts at row i. */
static size_t bucket_end(const struct bulk *b, const struct direction *d, size_t i)
{
	uint64_t bucket = d->key_of(b, i) % b->bucket_mod;
	size_t j = i + 1;

	while (j < d->n && d->key_of(b, j) % b->bucket_mod == bucket)
		j++;
	return j;
}

/* Writes n in decimal at p; returns the digits written. */
static size_t put_dec(char *p, size_t n)
{
	char tmp[24];
	size_t len = 0, i;

	do {
		tmp[len++] = (char)('0' + n % 10);
		n /= 10;
	} while (n);
	for (i = 0; i < len; i++)
		p[i] = tmp[len - 1 - i];
	return len;
}

static int bytes_argv(void *ctx, struct bytes *out, size_t argc, const char **argv,
		      const size_t *lens)
{
	size_t need = out->len + 16, i, pos = out->len;
	char *p;

	for (i = 0; i < argc; i++)
		need += lens[i] + 24;
	if (need > out->cap) {
		size_t cap = need > 2 * out->cap ? need : 2 * out->cap;

		p = talloc_realloc(ctx, out->p, char, cap);
		if (p == NULL)
			return -ENOMEM;
		out->p = p;
		out->cap = cap;
	}
	p = out->p;
	p[pos++] = '*';
	pos += put_dec(p + pos, argc);
	p[pos++] = '\r';
	p[pos++] = '\n';
	for (i = 0; i < argc; i++) {
		p[pos++] = '$';
		pos += put_dec(p + pos, lens[i]);
		p[pos++] = '\r';
		p[pos++] = '\n';
		memcpy(p + pos, argv[i], lens[i]);
		pos += lens[i];
		p[pos++] = '\r';
		p[pos++] = '\n';
	}
	out->len = pos;
	return 0;
}

/* A window of buckets: the HMGETs of its buckets go out together, then the HSETs of the
 * ones that changed. */
struct window {
	size_t starts[WINDOW_BUCKETS + 1];
	size_t nb;		/* buckets; 0: none were left */
	size_t hsets;		/* HSETs its merge appended, whose replies are unread */
	struct pcmd hmget[WINDOW_BUCKETS], hset[WINDOW_BUCKETS];
	struct bytes arena;	/* its commands' bytes, until their replies are read */
};

/* Queues argv (argv[1] its key) on the connection of its key's slot, keeping its bytes in
 * w's arena; *p says where it went. hiredis holds it until flush_all or a read on that
 * connection writes it. Returns 0, -ENOMEM or -EIO. */
static int pipe_append_key(struct bulk *b, void *tmp, struct window *w, struct pcmd *p,
			   size_t argc, const char **argv, const size_t *lens, size_t key);

static int pipe_append(struct bulk *b, void *tmp, struct window *w, struct pcmd *p,
		       size_t argc, const char **argv, const size_t *lens)
{
	return pipe_append_key(b, tmp, w, p, argc, argv, lens, 1);
}

/* The same with the key at argv[key] (EVALSHA sha numkeys key ...). */
static int pipe_append_key(struct bulk *b, void *tmp, struct window *w, struct pcmd *p,
			   size_t argc, const char **argv, const size_t *lens, size_t key)
{
	size_t off = w->arena.len;
	struct conn *cn;
	int i = route(b, argv[key], lens[key]);

	if (i < 0 || conn_open(b, (unsigned)i) < 0)
		return -EIO;
	if (bytes_argv(tmp, &w->arena, argc, argv, lens) < 0)
		return -ENOMEM;
	cn = &b->conns[i];
	if (redisAppendFormattedCommand(cn->c, w->arena.p + off, w->arena.len - off) != REDIS_OK)
		return -ENOMEM;
	cn->pending++;
	*p = (struct pcmd){ (unsigned)i, cn->gen, off, w->arena.len - off };
	return 0;
}

/* Reads the reply to pipelined command p of window w, following redirections, and checks
 * its type. Returns 0 with the reply in *out, or -EIO. */
static int pipe_reply(struct bulk *b, const struct window *w, const struct pcmd *p,
		      const char *what, int want, redisReply **out)
{
	unsigned i = p->conn;
	redisReply *r;

	if (p->gen != b->conns[i].gen) {
		snprintf(b->err, sizeof(b->err), "%s: the connection to %.100s:%d was lost and "
			 "opened again", what, b->conns[i].host, b->conns[i].port);
		return -EIO;
	}
	if (take_reply(b, i, what, &r) < 0 ||
	    follow(b, &i, w->arena.p + p->off, p->len, what, &r) < 0)
		return -EIO;
	if (want >= 0 && (int)r->type != want) {
		set_err(b, i, what, r);
		freeReplyObject(r);
		return -EIO;
	}
	*out = r;
	return 0;
}

static int flush_all(struct bulk *b);

int bulk_pipeline(struct bulk *b, const char *what, size_t n, const struct bulk_pcmd *cmds,
		  redisReply **replies)
{
	void *tmp;
	struct window *w;
	size_t k, got = 0;
	int rc = 0;

	if (n > BULK_PIPELINE_MAX)
		return -EINVAL;
	for (k = 0; k < n; k++)
		replies[k] = NULL;
	if (n == 0)
		return 0;
	tmp = talloc_new(b);
	w = tmp ? talloc_zero(tmp, struct window) : NULL;
	if (w == NULL) {
		talloc_free(tmp);
		snprintf(b->err, sizeof(b->err), "%s: out of memory", what);
		return -ENOMEM;
	}
	if (b->map_stale)
		refresh_map(b);
	for (k = 0; k < n && rc == 0; k++)
		rc = pipe_append_key(b, tmp, w, &w->hmget[k], cmds[k].argc, cmds[k].argv,
				     cmds[k].lens, cmds[k].key);
	if (rc == 0)
		rc = flush_all(b);
	/* Every reply is read, also after an error, so that none is left in a socket. */
	for (got = 0; rc == 0 && got < n; got++)
		rc = pipe_reply(b, w, &w->hmget[got], what, -1, &replies[got]);
	talloc_free(tmp);
	if (rc < 0) {
		for (k = 0; k < got; k++) {
			freeReplyObject(replies[k]);
			replies[k] = NULL;
		}
		if (rc == -ENOMEM)
			snprintf(b->err, sizeof(b->err), "%s: out of memory", what);
		return rc;
	}
	return 0;
}

/* Writes what every connection has queued, so that all nodes work on their part of a window
 * while the replies are read one node after the other. Returns 0 or -EIO. */
static int flush_all(struct bulk *b)
{
	unsigned i;
	int done;

	for (i = 0; i < b->nconns; i++) {
		redisContext *c = b->conns[i].c;

		if (c == NULL || c->err)
			continue;
		do {
			if (redisBufferWrite(c, &done) == REDIS_ERR)
				return set_err(b, i, "writing commands", NULL);
		} while (!done);
	}
	return 0;
}

/* Appends HMGET for the bucket of rows [i, j), the window's k-th. */
static int append_hmget(struct bulk *b, const struct direction *d, void *tmp,
			struct cmdbuf *cb, struct window *w, size_t k, size_t i, size_t j)
{
	char key[PAIRS_KEY_MAX];
	size_t keylen, fl, nargs = 2, used = 0, r;
	uint8_t *field;

	if (cmdbuf_reserve(tmp, cb, 2 + (j - i), (j - i) * PAIRS_FIELD_MAX + PAIRS_KEY_MAX) < 0)
		return -ENOMEM;
	for (r = i; r < j; r++) {
		if (r > i && d->key_of(b, r) == d->key_of(b, r - 1))
			continue;	/* one field per number */
		field = cb->bytes + PAIRS_KEY_MAX + used;
		d->make_key(d->key_of(b, r), b->o.bucket_digits, key, &keylen, field, &fl);
		cb->argv[nargs] = (const char *)field;
		cb->lens[nargs++] = fl;
		used += fl;
	}
	memcpy(cb->bytes, key, keylen);
	cb->argv[0] = "HMGET";
	cb->lens[0] = 5;
	cb->argv[1] = (const char *)cb->bytes;
	cb->lens[1] = keylen;
	return pipe_append(b, tmp, w, &w->hmget[k], nargs, cb->argv, cb->lens);
}

/* Reads the HMGET reply of the window's k-th bucket, rows [i, j), merges, and appends an
 * HSET of what changed. Returns 1 when an HSET was appended, 0 when nothing changed, -EIO,
 * -ENOMEM. */
static int merge_bucket(struct bulk *b, const struct direction *d, void *tmp,
			struct cmdbuf *cb, struct window *w, size_t kb, size_t i, size_t j)
{
	char key[PAIRS_KEY_MAX];
	size_t keylen, fl, nargs = 2, used = PAIRS_KEY_MAX, k, end, vlen, f = 0;
	redisReply *r = NULL;
	uint8_t *field;
	const redisReply *old;
	int rc = 0;

	if (pipe_reply(b, w, &w->hmget[kb], "HMGET", REDIS_REPLY_ARRAY, &r) < 0)
		return -EIO;
	if (cmdbuf_reserve(tmp, cb, 2 + 2 * (j - i), PAIRS_KEY_MAX +
			   (j - i) * (PAIRS_FIELD_MAX + PAIRS_IMEI_VALUE_MAX)) < 0) {
		rc = -ENOMEM;
		goto out;
	}
	for (k = i; k < j; k = end, f++) {
		for (end = k + 1; end < j && d->key_of(b, end) == d->key_of(b, k); end++)
			;
		if (f >= r->elements) {
			snprintf(b->err, sizeof(b->err), "HMGET (short reply)");
			rc = -EIO;
			goto out;
		}
		old = r->element[f];
		field = cb->bytes + used;
		d->make_key(d->key_of(b, k), b->o.bucket_digits, key, &keylen, field, &fl);
		vlen = d->merge(b, k, end, old->type == REDIS_REPLY_STRING ? (uint8_t *)old->str
					   : NULL, old->type == REDIS_REPLY_STRING ? old->len : 0,
				field + fl);
		if (vlen == 0)
			continue;
		cb->argv[nargs] = (const char *)field;
		cb->lens[nargs++] = fl;
		cb->argv[nargs] = (const char *)field + fl;
		cb->lens[nargs++] = vlen;
		used += fl + vlen;
	}
	if (nargs == 2)
		goto out;
	memcpy(cb->bytes, key, keylen);
	cb->argv[0] = "HSET";
	cb->lens[0] = 4;
	cb->argv[1] = (const char *)cb->bytes;
	cb->lens[1] = keylen;
	rc = pipe_append(b, tmp, w, &w->hset[w->hsets], nargs, cb->argv, cb->lens);
	rc = rc < 0 ? rc : 1;
out:
	freeReplyObject(r);
	return rc;
}

/* Appends the HMGETs of the next window's buckets, from row *i on, and writes them out. */
static int window_fill(struct bulk *b, const struct direction *d, void *tmp, struct cmdbuf *cb,
		       struct window *w, size_t *i)
{
	int rc = 0;

	/* A MOVED since the last window: the map is read again before routing more (when that
	 * fails, the map as MOVED patched it still routes; the next window tries again). */
	if (b->map_stale)
		refresh_map(b);
	w->hsets = 0;
	w->arena.len = 0;
	for (w->nb = 0; w->nb < WINDOW_BUCKETS && *i < d->n && rc == 0; w->nb++) {
		w->starts[w->nb] = *i;
		*i = bucket_end(b, d, *i);
		rc = append_hmget(b, d, tmp, cb, w, w->nb, w->starts[w->nb], *i);
	}
	w->starts[w->nb] = *i;
	return rc < 0 ? rc : flush_all(b);
}

static int read_hsets(struct bulk *b, struct window *w)
{
	redisReply *r;
	size_t k;

	for (k = 0; k < w->hsets; k++) {
		if (pipe_reply(b, w, &w->hset[k], "HSET", REDIS_REPLY_INTEGER, &r) < 0)
			return -EIO;
		freeReplyObject(r);
	}
	w->hsets = 0;
	return 0;
}

/* Writes one direction of the batch. Two windows of HMGETs are in flight ahead of the merge,
 * so that Redis works while the client merges: the commands go out as H0 H1 S0 H2 S1 H3 ...
 * (H: a window's HMGETs, S: its HSETs), and their replies come back in that order (on each
 * node of a cluster, for its buckets). The windows hold distinct buckets, so an HMGET sent
 * before an earlier window's HSET reads nothing that HSET changes. */
static int flush_direction(struct bulk *b, const struct direction *d)
{
	void *tmp = talloc_new(b);
	struct cmdbuf cb = { 0 };
	struct window *win = talloc_zero_array(tmp, struct window, 4), *cur;
	size_t i = 0, w, k;
	int rc = 0;

	if (tmp == NULL || win == NULL) {
		talloc_free(tmp);
		snprintf(b->err, sizeof(b->err), "%s: out of memory", d->name);
		return -ENOMEM;
	}
	rc = window_fill(b, d, tmp, &cb, &win[0], &i);
	if (rc == 0)
		rc = window_fill(b, d, tmp, &cb, &win[1], &i);
	for (w = 0; rc == 0 && win[w % 4].nb > 0; w++) {
		cur = &win[w % 4];
		if (w >= 2)
			rc = read_hsets(b, &win[(w - 2) % 4]);
		for (k = 0; k < cur->nb && rc >= 0; k++) {
			rc = merge_bucket(b, d, tmp, &cb, cur, k, cur->starts[k],
					  cur->starts[k + 1]);
			cur->hsets += rc > 0;
		}
		if (rc >= 0)
			rc = window_fill(b, d, tmp, &cb, &win[(w + 2) % 4], &i);
	}
	/* The HSET replies of the last two windows (an empty window has none). */
	if (rc == 0 && w >= 2)
		rc = read_hsets(b, &win[(w - 2) % 4]);
	if (rc == 0 && w >= 1)
		rc = read_hsets(b, &win[(w - 1) % 4]);
	talloc_free(tmp);
	if (rc == -ENOMEM)
		snprintf(b->err, sizeof(b->err), "%s: out of memory", d->name);
	return rc;
}

int bulk_add_kyc(struct bulk *b, uint64_t msisdn, const struct kyc_rec *rec)
{
	if (b->kn == b->kcap) {
		size_t cap = b->kcap ? 2 * b->kcap : 4096;

		free(b->kyc_tmp);
		b->kyc_tmp = NULL;
		if (grow(b, (void **)&b->ke, cap, sizeof(*b->ke)) < 0 ||
		    grow(b, &b->kyc_tmp, cap, sizeof(*b->ke)) < 0)
			return -ENOMEM;
		b->kcap = cap;
	}
	b->ke[b->kn].sk = sort_key(msisdn, b->bucket_mod, b->msisdn_rest);
	b->ke[b->kn].msisdn = msisdn;
	pairs_kyc_encode(rec, b->ke[b->kn].value);
	b->kn++;
	b->st.rows++;
	if (b->kn >= b->o.batch_rows)
		return bulk_flush(b);
	return 0;
}

/* Radix sort is stable: rows of one subscriber keep their file order, the last one wins. */
static int flush_kyc(struct bulk *b)
{
	struct direction kyc = { "KYC", b->kn, kyc_key_of, pairs_kyc_key, kyc_merge_rows };
	int rc;

	if (b->kn == 0)
		return 0;
	radix_sort(b->ke, b->kyc_tmp, b->kn, sizeof(*b->ke));
	rc = flush_direction(b, &kyc);
	b->kn = 0;
	return rc;
}

void bulk_set_gate(struct bulk *b, bulk_gate_fn gate, void *arg)
{
	b->gate = gate;
	b->gate_arg = arg;
}

int bulk_flush(struct bulk *b)
{
	struct direction imei = { "IMEI pairings", b->n, imei_key_of, pairs_imei_key,
				  imei_merge_rows };
	struct direction msisdn = { "MSISDN handsets", b->n, msisdn_key_of, pairs_msisdn_key,
				    msisdn_merge_rows };
	size_t rows = b->n + b->kn;
	int rc;

	/* The gate sees the batch before a byte of it goes out: a refused batch leaves Redis
	 * as the batches before it left it. */
	if (rows > 0 && b->gate && (rc = b->gate(b->gate_arg, rows, b->err, sizeof(b->err))) < 0) {
		b->st.dropped += rows;
		b->n = b->kn = 0;
		return rc;
	}
	if (b->n == 0) {
		rc = flush_kyc(b) < 0 ? -EIO : renew_lock(b);
	} else {
		radix_sort(b->ie, b->sort_tmp, b->n, sizeof(*b->ie));
		radix_sort(b->me, b->sort_tmp, b->n, sizeof(*b->me));
		rc = flush_direction(b, &imei);
		if (rc == 0)
			rc = flush_direction(b, &msisdn);
		b->n = 0;
		if (rc == 0)
			rc = flush_kyc(b);
		if (rc == 0)
			rc = renew_lock(b);
	}
	if (rc == 0 && rows > 0) {
		b->st.rows_written += rows;
		b->st.batches++;
	}
	return rc;
}

const struct bulk_stats *bulk_stats(const struct bulk *b)
{
	return &b->st;
}

const char *bulk_error(const struct bulk *b)
{
	return b->err;
}

/* HGET of v's field where make (pairs_imei_key, ...) puts it; key gets the key's name.
 * *out is the reply (NIL or STRING). Returns 0 or -EIO. */
static int hget(struct bulk *b, void (*make)(uint64_t, int, char *, size_t *, uint8_t *,
					     size_t *),
		uint64_t v, char key[PAIRS_KEY_MAX], redisReply **out)
{
	uint8_t field[PAIRS_FIELD_MAX];
	const char *argv[] = { "HGET", key, (const char *)field };
	size_t lens[] = { 4, 0, 0 };

	make(v, b->o.bucket_digits, key, &lens[1], field, &lens[2]);

	if (command(b, "HGET", -1, 3, argv, lens, out) < 0)
		return -EIO;
	if ((*out)->type != REDIS_REPLY_NIL && (*out)->type != REDIS_REPLY_STRING) {
		snprintf(b->err, sizeof(b->err), "HGET: unexpected reply");
		freeReplyObject(*out);
		return -EIO;
	}
	return 0;
}

/* key's value did not decode: said in err. Returns -EIO. */
static int undecodable(struct bulk *b, const char *key)
{
	snprintf(b->err, sizeof(b->err), "%s: stored value does not decode", key);
	return -EIO;
}

int bulk_imei_pairings(struct bulk *b, uint64_t imei_body, struct pair_rec *recs)
{
	char key[PAIRS_KEY_MAX];
	redisReply *r;
	int n = 0;

	if (hget(b, pairs_imei_key, imei_body, key, &r) < 0)
		return -EIO;
	if (r->type == REDIS_REPLY_STRING)
		n = pairs_imei_decode((uint8_t *)r->str, r->len, recs, PAIRS_MAX_RECORDS);
	freeReplyObject(r);
	return n < 0 ? undecodable(b, key) : n;
}

int bulk_msisdn_handsets(struct bulk *b, uint64_t msisdn, uint64_t *bodies)
{
	char key[PAIRS_KEY_MAX];
	redisReply *r;
	int n = 0;

	if (hget(b, pairs_msisdn_key, msisdn, key, &r) < 0)
		return -EIO;
	if (r->type == REDIS_REPLY_STRING)
		n = pairs_msisdn_decode((uint8_t *)r->str, r->len, bodies, PAIRS_MAX_RECORDS);
	freeReplyObject(r);
	return n < 0 ? undecodable(b, key) : n;
}

int bulk_kyc_get(struct bulk *b, uint64_t msisdn, struct kyc_rec *rec)
{
	char key[PAIRS_KEY_MAX];
	redisReply *r;
	int rc = 0;

	if (hget(b, pairs_kyc_key, msisdn, key, &r) < 0)
		return -EIO;
	if (r->type == REDIS_REPLY_NIL)
		rc = -ENOENT;
	else if (pairs_kyc_decode((uint8_t *)r->str, r->len, rec) < 0)
		rc = -EIO;
	freeReplyObject(r);
	return rc == -EIO ? undecodable(b, key) : rc;
}

/* Writes the table to a new key, then renames it over the old one. Every key shares the
 * hash tag {tac}: on a cluster, RENAME (two keys) stays within one slot, and a slot being
 * migrated between the two answers TRYAGAIN until both keys are across. */
int bulk_tac_replace(struct bulk *b, const struct tac_table *t, const char *source)
{
	enum { CHUNK = 1000 };
	static const char tmp_key[] = "tac:{tac}:new";
	const char *argv[2 + 2 * CHUNK];
	size_t lens[2 + 2 * CHUNK], i, n = tac_table_size(t), k = 0, vl;
	char *tacs = talloc_size(b, CHUNK * 9), *vals = talloc_size(b, CHUNK * 512);
	struct tac_entry e;
	int rc = 0;

	if (tacs == NULL || vals == NULL) {
		talloc_free(tacs);
		talloc_free(vals);
		snprintf(b->err, sizeof(b->err), "out of memory");
		return -ENOMEM;
	}
	argv[0] = "DEL";
	lens[0] = 3;
	argv[1] = tmp_key;
	lens[1] = sizeof(tmp_key) - 1;
	rc = command(b, "DEL tac:{tac}:new", -1, 2, argv, lens, NULL);
	for (i = 0; i < n && rc == 0; i++) {
		tac_table_at(t, i, tacs + 9 * k, &e);
		/* maker, unit separator, model: neither holds a control character */
		vl = (size_t)snprintf(vals + 512 * k, 512, "%.250s\x1f%.250s", e.maker, e.model);
		argv[2 + 2 * k] = tacs + 9 * k;
		lens[2 + 2 * k] = 8;
		argv[3 + 2 * k] = vals + 512 * k;
		lens[3 + 2 * k] = vl;
		if (++k == CHUNK || i + 1 == n) {
			/* Sent and answered before tacs and vals are reused. */
			argv[0] = "HSET";
			lens[0] = 4;
			rc = command(b, "HSET tac:{tac}:new", -1, 2 + 2 * k, argv, lens, NULL);
			k = 0;
		}
	}
	if (rc == 0) {
		const char *ren[] = { "RENAME", tmp_key, "tac:{tac}" };
		size_t renl[] = { 6, sizeof(tmp_key) - 1, 9 };
		const char *meta[] = { "SET", "tac:{tac}:source", source };
		size_t metal[] = { 3, 16, strlen(source) };

		rc = command(b, "RENAME tac:{tac}", -1, 3, ren, renl, NULL);
		if (rc == 0)
			rc = command(b, "SET tac:{tac}:source", -1, 3, meta, metal, NULL);
	}
	talloc_free(tacs);
	talloc_free(vals);
	return rc < 0 ? -EIO : 0;
}

/* used_memory less used_memory_startup of connection i's Redis; 0 when it does not say. */
static size_t used_memory(struct bulk *b, unsigned i)
{
	const char *argv[] = { "INFO", "memory" };
	size_t lens[] = { 4, 6 };
	unsigned long long used = 0, startup = 0;
	redisReply *r;
	const char *p;

	if (command_on(b, i, "INFO", REDIS_REPLY_STRING, 2, argv, lens, &r) < 0)
		return 0;
	if ((p = strstr(r->str, "\r\nused_memory:")) != NULL)
		used = strtoull(p + 14, NULL, 10);
	if ((p = strstr(r->str, "\r\nused_memory_startup:")) != NULL)
		startup = strtoull(p + 22, NULL, 10);
	freeReplyObject(r);
	return used > startup ? (size_t)(used - startup) : 0;
}

size_t bulk_used_memory(struct bulk *b)
{
	size_t sum = 0;
	unsigned n;
	int i;

	if (b->map == NULL)
		return used_memory(b, 0);
	if (b->map_stale)
		refresh_map(b);
	/* The masters that serve slots: the map's nodes once read from CLUSTER SLOTS. */
	for (n = 0; n < b->map->nnodes; n++) {
		i = conn_get(b, b->map->nodes[n].host, b->map->nodes[n].port);
		if (i >= 0)
			sum += used_memory(b, (unsigned)i);
	}
	return sum;
}

/* ---- the feeds (issue 19) ------------------------------------------------------------------- */

/* GET of key into *r (NIL or STRING). Returns 0 or -EIO. */
static int get_string(struct bulk *b, const char *key, size_t keylen, redisReply **r)
{
	const char *argv[] = { "GET", key };
	size_t lens[] = { 3, keylen };

	if (command(b, "GET", -1, 2, argv, lens, r) < 0)
		return -EIO;
	if ((*r)->type != REDIS_REPLY_NIL && (*r)->type != REDIS_REPLY_STRING) {
		snprintf(b->err, sizeof(b->err), "GET %s: unexpected reply", key);
		freeReplyObject(*r);
		return -EIO;
	}
	return 0;
}

int bulk_feed_checkpoint(struct bulk *b, void *ctx, char **note, size_t *len)
{
	redisReply *r;
	int rc = 0;

	if (get_string(b, FEED_CHECKPOINT, strlen(FEED_CHECKPOINT), &r) < 0)
		return -EIO;
	if (r->type == REDIS_REPLY_NIL) {
		rc = -ENOENT;
	} else if ((*note = talloc_memdup(ctx, r->str, r->len + 1)) == NULL) {
		snprintf(b->err, sizeof(b->err), "out of memory");
		rc = -EIO;
	} else {
		*len = r->len;
	}
	freeReplyObject(r);
	return rc;
}

int bulk_feed_size(struct bulk *b, uint64_t *n)
{
	const char *argv[] = { "LLEN", FEED_ENTRIES };
	size_t lens[] = { 4, strlen(FEED_ENTRIES) };
	redisReply *r;

	if (command(b, "LLEN " FEED_ENTRIES, REDIS_REPLY_INTEGER, 2, argv, lens, &r) < 0)
		return -EIO;
	*n = r->integer > 0 ? (uint64_t)r->integer : 0;
	freeReplyObject(r);
	return 0;
}

int bulk_feed_entries(struct bulk *b, uint64_t start, unsigned count,
		      int (*cb)(void *arg, uint64_t index, const char *entry, size_t len),
		      void *arg)
{
	char a[24], z[24];
	const char *argv[] = { "LRANGE", FEED_ENTRIES, a, z };
	size_t lens[] = { 6, strlen(FEED_ENTRIES), 0, 0 };
	redisReply *r;
	int rc = 0;

	if (count == 0 || count > BULK_FEED_ENTRIES_MAX || start > (uint64_t)INT64_MAX - count)
		return -EINVAL;
	lens[2] = (size_t)snprintf(a, sizeof(a), "%llu", (unsigned long long)start);
	lens[3] = (size_t)snprintf(z, sizeof(z), "%llu", (unsigned long long)(start + count - 1));
	if (command(b, "LRANGE " FEED_ENTRIES, REDIS_REPLY_ARRAY, 4, argv, lens, &r) < 0)
		return -EIO;
	if (r->elements < count)
		rc = -ERANGE;
	for (size_t i = 0; i < r->elements && rc == 0; i++) {
		if (r->element[i]->type != REDIS_REPLY_STRING) {
			snprintf(b->err, sizeof(b->err), "LRANGE " FEED_ENTRIES ": unexpected reply");
			rc = -EIO;
			break;
		}
		rc = cb(arg, start + i, r->element[i]->str, r->element[i]->len);
	}
	freeReplyObject(r);
	return rc;
}

int bulk_feed_tile(struct bulk *b, unsigned level, uint64_t n, uint8_t *out, size_t cap,
		   size_t *len)
{
	char key[64];
	int kl = snprintf(key, sizeof(key), FEED_TILE_FMT, level, (unsigned long long)n);
	redisReply *r;
	int rc = 0;

	if (level > 63 || kl < 0 || (size_t)kl >= sizeof(key))
		return -EINVAL;
	if (get_string(b, key, (size_t)kl, &r) < 0)
		return -EIO;
	if (r->type == REDIS_REPLY_NIL) {
		rc = -ENOENT;
	} else {
		*len = r->len;
		memcpy(out, r->str, r->len < cap ? r->len : cap);
	}
	freeReplyObject(r);
	return rc;
}

int bulk_peer_fields(struct bulk *b, const char *origin,
		     void (*cb)(void *arg, const char *field, size_t flen, const char *val,
				size_t vlen),
		     void *arg)
{
	char key[300];
	int kl;
	const char *argv[] = { "HGETALL", key };
	size_t lens[] = { 7, 0 };
	redisReply *r;
	size_t i;

	if (origin == NULL || *origin == '\0' || strpbrk(origin, "{}") != NULL)
		return -EINVAL;
	kl = snprintf(key, sizeof(key), PEER_KEY_FMT, origin, "");
	if (kl < 0 || (size_t)kl >= sizeof(key))
		return -EINVAL;
	lens[1] = (size_t)kl;
	if (command(b, "HGETALL", REDIS_REPLY_ARRAY, 2, argv, lens, &r) < 0)
		return -EIO;
	for (i = 0; i + 1 < r->elements; i += 2) {
		const redisReply *f = r->element[i], *v = r->element[i + 1];

		if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) {
			snprintf(b->err, sizeof(b->err), "HGETALL %s: unexpected reply", key);
			freeReplyObject(r);
			return -EIO;
		}
		cb(arg, f->str, f->len, v->str, v->len);
	}
	freeReplyObject(r);
	return (int)(i / 2);
}

/* One step, so that an operator never clears a halt the follower wrote after it was shown:
 * {0} nothing kept, {1} not halted, or {2, then the fields' values in the order of
 * RESUME_FIELDS} once cleared. KEYS: peer:{<origin>}. ARGV: the new state line. */
#define RESUME_FIELDS X("halted") X("halted-at") X("shown") X("other") X("checkpoint") X("size")
static const char resume_script[] =
	"if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end\n"
	"local h = redis.call('HMGET', KEYS[1], 'halted', 'halted-at', 'shown', 'other',\n"
	"                     'checkpoint', 'size')\n"
	"if not h[1] then return {1} end\n"
	"redis.call('HDEL', KEYS[1], 'halted', 'halted-at', 'shown', 'other')\n"
	"redis.call('HSET', KEYS[1], 'state', ARGV[1])\n"
	"local out = {2}\n"
	"for i = 1, 6 do out[i + 1] = h[i] or '' end\n"
	"return out\n";

int bulk_peer_resume(struct bulk *b, const char *origin, const char *state,
		     void (*cb)(void *arg, const char *field, size_t flen, const char *val,
				size_t vlen),
		     void *arg)
{
#define X(name) name,
	static const char *const fields[] = { RESUME_FIELDS };
#undef X
	char key[300];
	int kl, rc;
	const char *argv[] = { "EVAL", resume_script, "1", key, state };
	size_t lens[] = { 4, sizeof(resume_script) - 1, 1, 0, 0 };
	redisReply *r;

	if (origin == NULL || *origin == '\0' || strpbrk(origin, "{}") != NULL || state == NULL)
		return -EINVAL;
	kl = snprintf(key, sizeof(key), PEER_KEY_FMT, origin, "");
	if (kl < 0 || (size_t)kl >= sizeof(key))
		return -EINVAL;
	lens[3] = (size_t)kl;
	lens[4] = strlen(state);
	if (bulk_command_key(b, "EVAL resume", REDIS_REPLY_ARRAY, 5, argv, lens, 3, &r) < 0)
		return -EIO;
	if (r->elements < 1 || r->element[0]->type != REDIS_REPLY_INTEGER ||
	    (r->element[0]->integer == 2 &&
	     r->elements != 1 + sizeof(fields) / sizeof(fields[0]))) {
		snprintf(b->err, sizeof(b->err), "EVAL resume %s: unexpected reply", key);
		freeReplyObject(r);
		return -EIO;
	}
	rc = r->element[0]->integer == 0 ? -ENOENT : r->element[0]->integer == 1 ? -EALREADY : 0;
	for (size_t i = 0; rc == 0 && i < sizeof(fields) / sizeof(fields[0]); i++) {
		const redisReply *v = r->element[i + 1];

		if (v->type == REDIS_REPLY_STRING)
			cb(arg, fields[i], strlen(fields[i]), v->str, v->len);
	}
	freeReplyObject(r);
	return rc;
}
