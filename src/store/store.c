/* The asynchronous store: hiredis's async API on the daemon's libevent loop
 * (hiredis/adapters/libevent.h). Commands are always argv, never formatted strings. A lost
 * connection is retried with exponential backoff from 100 ms up to 5 s; hiredis answers every
 * command still pending with a NULL reply when the connection drops, which becomes -EAGAIN
 * for the operation's caller, once. Scripts run by EVALSHA, and by EVAL when Redis does not
 * know them yet (NOSCRIPT: a restarted or flushed server). */
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <talloc.h>

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/adapters/libevent.h>
#include <openssl/sha.h>

#include "core/logging.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define ID_MAX 128		/* session ids and counter names */

enum store_state { ST_DOWN, ST_CONNECTING, ST_UP };

static const char *const state_names[] = {
	[ST_DOWN] = "down", [ST_CONNECTING] = "connecting", [ST_UP] = "up",
};

/* A Lua script and its SHA-1, the name EVALSHA knows it by. */
struct script {
	const char *body;
	char sha[2 * SHA_DIGEST_LENGTH + 1];
};

/* Rate-limit counter: the window starts with the first hit. */
static struct script rate_script = {
	"local n = redis.call('INCR', KEYS[1])\n"
	"if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end\n"
	"return n\n", ""
};

struct store {
	struct event_base *base;
	struct redis_url url;
	struct store_options o;
	char address[300];	/* host (255) and port, or "unix:" and a path */
	redisAsyncContext *ac;
	enum store_state state;
	struct event *retry;
	int backoff_ms;
	bool closing;
	size_t pending;
};

enum op_kind { OP_PING, OP_PAIRINGS, OP_HANDSETS, OP_KYC, OP_SET, OP_GET, OP_DEL, OP_RATE };

/* One operation in flight; a talloc child of the store. */
struct op {
	struct store *st;
	enum op_kind kind;
	union {
		store_done_cb done;
		store_count_cb count;
		store_data_cb data;
		store_pairings_cb pairings;
		store_handsets_cb handsets;
		store_kyc_cb kyc;
	} cb;
	void *arg;
	/* For a script: what EVAL needs if EVALSHA meets NOSCRIPT. */
	const struct script *script;
	char key[ID_MAX + 8];
	size_t keylen;
	char arg1[24];
	bool retried;
};

static void connect_now(struct store *st);

static void set_state(struct store *st, enum store_state s)
{
	if (st->state != s)
		LOGP(LOGC_STORE, s == ST_UP ? LOGL_NOTICE : LOGL_INFO, "redis %s: %s -> %s",
		     st->address, state_names[st->state], state_names[s]);
	st->state = s;
}

static void schedule_retry(struct store *st)
{
	struct timeval tv;

	if (st->closing)
		return;
	set_state(st, ST_DOWN);
	tv.tv_sec = st->backoff_ms / 1000;
	tv.tv_usec = (st->backoff_ms % 1000) * 1000;
	evtimer_add(st->retry, &tv);
	st->backoff_ms *= 2;
	if (st->backoff_ms > BACKOFF_MAX_MS)
		st->backoff_ms = BACKOFF_MAX_MS;
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	connect_now(arg);
}

/* The last step of the handshake (AUTH, SELECT, PING: whichever are needed, pipelined) has
 * answered. */
static void handshake_cb(redisAsyncContext *ac, void *r, void *privdata)
{
	struct store *st = ac->data;
	redisReply *reply = r;
	long step = (long)privdata;

	if (st == NULL || st->closing || reply == NULL)
		return;		/* the disconnect callback handles a NULL reply */
	if (reply->type == REDIS_REPLY_ERROR) {
		LOGP(LOGC_STORE, LOGL_ERROR, "redis %s: %s refused: %.200s", st->address,
		     step == 0 ? "AUTH" : step == 1 ? "SELECT" : "PING", reply->str);
		redisAsyncDisconnect(ac);
		return;
	}
	if (step == 2) {
		st->backoff_ms = BACKOFF_MIN_MS;
		set_state(st, ST_UP);
	}
}

static void connected_cb(const redisAsyncContext *ac, int status)
{
	struct store *st = ac->data;

	if (st == NULL)
		return;
	if (status != REDIS_OK) {
		LOGP(LOGC_STORE, LOGL_WARN, "redis %s: cannot connect: %s", st->address, ac->errstr);
		st->ac = NULL;	/* hiredis frees the context after this callback */
		schedule_retry(st);
	}
}

static void disconnected_cb(const redisAsyncContext *ac, int status)
{
	struct store *st = ac->data;

	if (st == NULL)
		return;
	st->ac = NULL;
	if (st->closing)
		return;
	LOGP(LOGC_STORE, LOGL_WARN, "redis %s: connection lost%s%s", st->address,
	     status == REDIS_OK ? "" : ": ", status == REDIS_OK ? "" : ac->errstr);
	schedule_retry(st);
}

static void connect_now(struct store *st)
{
	const char *argv[3];
	size_t lens[3];
	redisAsyncContext *ac;
	char db[16];
	int n;

	set_state(st, ST_CONNECTING);
	if (st->url.kind == REDIS_URL_UNIX)
		ac = redisAsyncConnectUnix(st->url.path);
	else
		ac = redisAsyncConnect(st->url.host, st->url.port);
	if (ac == NULL || ac->err) {
		LOGP(LOGC_STORE, LOGL_WARN, "redis %s: cannot connect: %s", st->address,
		     ac ? ac->errstr : "out of memory");
		if (ac)
			redisAsyncFree(ac);
		schedule_retry(st);
		return;
	}
	ac->data = st;
	st->ac = ac;
	redisLibeventAttach(ac, st->base);
	redisAsyncSetConnectCallback(ac, connected_cb);
	redisAsyncSetDisconnectCallback(ac, disconnected_cb);
	if (st->url.password[0]) {
		/* AUTH user password (a Redis 6 ACL user) or AUTH password. */
		n = 0;
		argv[n] = "AUTH";
		lens[n++] = 4;
		if (st->url.user[0]) {
			argv[n] = st->url.user;
			lens[n++] = strlen(st->url.user);
		}
		argv[n] = st->url.password;
		lens[n++] = strlen(st->url.password);
		redisAsyncCommandArgv(ac, handshake_cb, (void *)0L, n, argv, lens);
	}
	if (st->url.db) {
		n = snprintf(db, sizeof(db), "%d", st->url.db);
		argv[0] = "SELECT";
		lens[0] = 6;
		argv[1] = db;
		lens[1] = (size_t)n;
		redisAsyncCommandArgv(ac, handshake_cb, (void *)1L, 2, argv, lens);
	}
	argv[0] = "PING";
	lens[0] = 4;
	redisAsyncCommandArgv(ac, handshake_cb, (void *)2L, 1, argv, lens);
}

static int store_destructor(struct store *st)
{
	st->closing = true;
	if (st->retry)
		event_free(st->retry);
	if (st->ac) {
		/* Pending operations are answered with -ECANCELED from inside this call. */
		redisAsyncFree(st->ac);
		st->ac = NULL;
	}
	return 0;
}

static void script_sha(struct script *s)
{
	unsigned char md[SHA_DIGEST_LENGTH];
	size_t i;

	if (s->sha[0])
		return;
	SHA1((const unsigned char *)s->body, strlen(s->body), md);
	for (i = 0; i < SHA_DIGEST_LENGTH; i++)
		snprintf(s->sha + 2 * i, 3, "%02x", md[i]);
}

struct store *store_create(void *ctx, struct event_base *base, const struct redis_url *url,
			   const struct store_options *o)
{
	struct store *st = talloc_zero(ctx, struct store);

	if (st == NULL)
		return NULL;
	st->base = base;
	st->url = *url;
	st->o = *o;
	st->backoff_ms = BACKOFF_MIN_MS;
	if (url->kind == REDIS_URL_UNIX)
		snprintf(st->address, sizeof(st->address), "unix:%s", url->path);
	else if (strchr(url->host, ':'))
		snprintf(st->address, sizeof(st->address), "[%s]:%d", url->host, url->port);
	else
		snprintf(st->address, sizeof(st->address), "%s:%d", url->host, url->port);
	script_sha(&rate_script);
	st->retry = evtimer_new(base, retry_cb, st);
	if (st->retry == NULL) {
		talloc_free(st);
		return NULL;
	}
	talloc_set_destructor(st, store_destructor);
	connect_now(st);
	return st;
}

bool store_is_up(const struct store *st)
{
	return st->state == ST_UP;
}

const char *store_address(const struct store *st)
{
	return st->address;
}

size_t store_pending(const struct store *st)
{
	return st->pending;
}

/* ---- operations ----------------------------------------------------------------------- */

static struct op *op_new(struct store *st, enum op_kind kind, void *arg)
{
	struct op *op;

	if (st->state != ST_UP || st->ac == NULL)
		return NULL;
	op = talloc_zero(st, struct op);
	if (op) {
		op->st = st;
		op->kind = kind;
		op->arg = arg;
	}
	return op;
}

/* The reason op_new returned NULL. */
static int op_new_err(const struct store *st)
{
	return st->state != ST_UP || st->ac == NULL ? -EAGAIN : -ENOMEM;
}

/* Answers an operation that failed as a whole. */
static void op_fail(struct op *op, int err)
{
	switch (op->kind) {
	case OP_PING:
	case OP_SET:
	case OP_DEL:
		op->cb.done(op->arg, err);
		break;
	case OP_RATE:
		op->cb.count(op->arg, err, 0);
		break;
	case OP_GET:
		op->cb.data(op->arg, err, NULL, 0, false);
		break;
	case OP_PAIRINGS:
		op->cb.pairings(op->arg, err, NULL, 0);
		break;
	case OP_HANDSETS:
		op->cb.handsets(op->arg, err, NULL, 0);
		break;
	case OP_KYC:
		op->cb.kyc(op->arg, err, NULL);
		break;
	}
}

static void op_reply(redisAsyncContext *ac, void *r, void *privdata);

static int op_send(struct op *op, int argc, const char **argv, const size_t *lens)
{
	struct store *st = op->st;

	if (st->ac == NULL ||
	    redisAsyncCommandArgv(st->ac, op_reply, op, argc, argv, lens) != REDIS_OK)
		return -EAGAIN;
	st->pending++;
	return 0;
}

/* Sends an operation, or frees it and returns why it could not be sent. */
static int op_start(struct op *op, int argc, const char **argv, const size_t *lens)
{
	int rc = op_send(op, argc, argv, lens);

	if (rc < 0)
		talloc_free(op);
	return rc;
}

/* EVALSHA, or EVAL with the body once Redis said NOSCRIPT. */
static int op_script(struct op *op, bool eval)
{
	const char *argv[] = { eval ? "EVAL" : "EVALSHA",
			       eval ? op->script->body : op->script->sha, "1", op->key, op->arg1 };
	size_t lens[] = { strlen(argv[0]), strlen(argv[1]), 1, op->keylen, strlen(op->arg1) };

	return op_send(op, 5, argv, lens);
}

static void op_reply(redisAsyncContext *ac, void *r, void *privdata)
{
	struct op *op = privdata;
	struct store *st = op->st;
	redisReply *reply = r;
	struct pair_rec recs[PAIRS_MAX_RECORDS];
	uint64_t bodies[PAIRS_MAX_RECORDS];
	struct kyc_rec kyc;
	int n = 0;

	st->pending--;
	if (reply == NULL) {
		op_fail(op, st->closing ? -ECANCELED : -EAGAIN);
		goto done;
	}
	if (reply->type == REDIS_REPLY_ERROR && op->script && !op->retried &&
	    strncmp(reply->str, "NOSCRIPT", 8) == 0) {
		op->retried = true;
		if (op_script(op, true) == 0)
			return;		/* the same op, answered by EVAL */
		op_fail(op, -EAGAIN);
		goto done;
	}
	if (reply->type == REDIS_REPLY_ERROR) {
		LOGP(LOGC_STORE, LOGL_ERROR, "redis %s: %.200s", st->address, reply->str);
		op_fail(op, -EPROTO);
		goto done;
	}
	switch (op->kind) {
	case OP_PING:
		op->cb.done(op->arg, reply->type == REDIS_REPLY_STATUS &&
			    strcmp(reply->str, "PONG") == 0 ? 0 : -EPROTO);
		break;
	case OP_SET:
	case OP_DEL:
		op->cb.done(op->arg, 0);
		break;
	case OP_RATE:
		if (reply->type == REDIS_REPLY_INTEGER)
			op->cb.count(op->arg, 0, reply->integer);
		else
			op_fail(op, -EPROTO);
		break;
	case OP_GET:
		if (reply->type == REDIS_REPLY_STRING)
			op->cb.data(op->arg, 0, reply->str, reply->len, true);
		else
			op->cb.data(op->arg, 0, NULL, 0, false);
		break;
	case OP_PAIRINGS:
		if (reply->type == REDIS_REPLY_STRING)
			n = pairs_imei_decode((const uint8_t *)reply->str, reply->len, recs,
					      PAIRS_MAX_RECORDS);
		if (n < 0) {
			LOGP(LOGC_STORE, LOGL_ERROR, "redis %s: %s: an IMEI value that does not "
			     "decode", st->address, op->key);
			op_fail(op, -EPROTO);
		} else {
			op->cb.pairings(op->arg, 0, recs, (size_t)n);
		}
		break;
	case OP_KYC:
		if (reply->type != REDIS_REPLY_STRING) {
			op->cb.kyc(op->arg, 0, NULL);
		} else if (pairs_kyc_decode((const uint8_t *)reply->str, reply->len, &kyc) < 0) {
			LOGP(LOGC_STORE, LOGL_ERROR, "redis %s: %s: a KYC value that does not "
			     "decode", st->address, op->key);
			op_fail(op, -EPROTO);
		} else {
			op->cb.kyc(op->arg, 0, &kyc);
		}
		break;
	case OP_HANDSETS:
		if (reply->type == REDIS_REPLY_STRING)
			n = pairs_msisdn_decode((const uint8_t *)reply->str, reply->len, bodies,
						PAIRS_MAX_RECORDS);
		if (n < 0) {
			LOGP(LOGC_STORE, LOGL_ERROR, "redis %s: %s: an MSISDN value that does not "
			     "decode", st->address, op->key);
			op_fail(op, -EPROTO);
		} else {
			op->cb.handsets(op->arg, 0, bodies, (size_t)n);
		}
		break;
	}
done:
	talloc_free(op);
}

/* HGET of a bucketed field: the operators' data. */
static int field_op(struct op *op, void (*make)(uint64_t, int, char *, size_t *, uint8_t *,
						 size_t *), uint64_t v)
{
	uint8_t field[PAIRS_FIELD_MAX];
	const char *argv[3];
	size_t lens[3], fl;

	make(v, op->st->o.bucket_digits, op->key, &op->keylen, field, &fl);
	argv[0] = "HGET";
	lens[0] = 4;
	argv[1] = op->key;
	lens[1] = op->keylen;
	argv[2] = (const char *)field;
	lens[2] = fl;
	return op_start(op, 3, argv, lens);
}

int store_ping(struct store *st, store_done_cb cb, void *arg)
{
	struct op *op = op_new(st, OP_PING, arg);
	const char *argv[] = { "PING" };
	size_t lens[] = { 4 };

	if (op == NULL)
		return op_new_err(st);
	op->cb.done = cb;
	return op_start(op, 1, argv, lens);
}

int store_imei_pairings(struct store *st, uint64_t imei_body, store_pairings_cb cb, void *arg)
{
	struct op *op = op_new(st, OP_PAIRINGS, arg);

	if (op == NULL)
		return op_new_err(st);
	op->cb.pairings = cb;
	return field_op(op, pairs_imei_key, imei_body);
}

int store_msisdn_handsets(struct store *st, uint64_t msisdn, store_handsets_cb cb, void *arg)
{
	struct op *op = op_new(st, OP_HANDSETS, arg);

	if (op == NULL)
		return op_new_err(st);
	op->cb.handsets = cb;
	return field_op(op, pairs_msisdn_key, msisdn);
}

int store_kyc_get(struct store *st, uint64_t msisdn, store_kyc_cb cb, void *arg)
{
	struct op *op = op_new(st, OP_KYC, arg);

	if (op == NULL)
		return op_new_err(st);
	op->cb.kyc = cb;
	return field_op(op, pairs_kyc_key, msisdn);
}

/* "s:{id}": the hash tag keeps a session's keys on one slot. Returns 0 or -EINVAL. */
static int make_key(struct op *op, const char *prefix, const char *id, size_t idlen)
{
	size_t pl = strlen(prefix);

	if (idlen == 0 || idlen > ID_MAX)
		return -EINVAL;
	memcpy(op->key, prefix, pl);
	op->key[pl] = '{';
	memcpy(op->key + pl + 1, id, idlen);
	op->key[pl + 1 + idlen] = '}';
	op->keylen = pl + 2 + idlen;
	return 0;
}

static int keyed_op(struct store *st, enum op_kind kind, const char *prefix, const char *id,
		    size_t idlen, void *arg, struct op **out)
{
	struct op *op = op_new(st, kind, arg);

	if (op == NULL)
		return op_new_err(st);
	if (make_key(op, prefix, id, idlen) < 0) {
		talloc_free(op);
		return -EINVAL;
	}
	*out = op;
	return 0;
}

int store_session_set(struct store *st, const char *id, size_t idlen, const void *data,
		      size_t len, unsigned ttl_s, store_done_cb cb, void *arg)
{
	struct op *op;
	int rc = keyed_op(st, OP_SET, "s:", id, idlen, arg, &op);
	char ttl[16];
	const char *argv[5];
	size_t lens[5];

	if (rc < 0)
		return rc;
	if (ttl_s == 0) {
		talloc_free(op);
		return -EINVAL;
	}
	op->cb.done = cb;
	argv[0] = "SET";
	lens[0] = 3;
	argv[1] = op->key;
	lens[1] = op->keylen;
	argv[2] = data;
	lens[2] = len;
	argv[3] = "EX";
	lens[3] = 2;
	lens[4] = (size_t)snprintf(ttl, sizeof(ttl), "%u", ttl_s);
	argv[4] = ttl;
	return op_start(op, 5, argv, lens);
}

int store_session_get(struct store *st, const char *id, size_t idlen, store_data_cb cb,
		      void *arg)
{
	struct op *op;
	int rc = keyed_op(st, OP_GET, "s:", id, idlen, arg, &op);
	const char *argv[2];
	size_t lens[2];

	if (rc < 0)
		return rc;
	op->cb.data = cb;
	argv[0] = "GET";
	lens[0] = 3;
	argv[1] = op->key;
	lens[1] = op->keylen;
	return op_start(op, 2, argv, lens);
}

int store_session_del(struct store *st, const char *id, size_t idlen, store_done_cb cb,
		      void *arg)
{
	struct op *op;
	int rc = keyed_op(st, OP_DEL, "s:", id, idlen, arg, &op);
	const char *argv[2];
	size_t lens[2];

	if (rc < 0)
		return rc;
	op->cb.done = cb;
	argv[0] = "DEL";
	lens[0] = 3;
	argv[1] = op->key;
	lens[1] = op->keylen;
	return op_start(op, 2, argv, lens);
}

int store_rate_hit(struct store *st, const char *name, size_t len, unsigned window_s,
		   store_count_cb cb, void *arg)
{
	struct op *op;
	int rc = keyed_op(st, OP_RATE, "rl:", name, len, arg, &op);

	if (rc < 0)
		return rc;
	if (window_s == 0) {
		talloc_free(op);
		return -EINVAL;
	}
	op->cb.count = cb;
	op->script = &rate_script;
	snprintf(op->arg1, sizeof(op->arg1), "%llu", (unsigned long long)window_s * 1000);
	rc = op_script(op, false);
	if (rc < 0)
		talloc_free(op);
	return rc;
}
