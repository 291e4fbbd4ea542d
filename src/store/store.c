/* The asynchronous store: hiredis's async API on the daemon's libevent loop
 * (redis_ev.c: hiredis's libevent adapter, writing at the end of each pass of the loop).
 * Commands are always argv, never formatted strings. A lost connection is retried with
 * exponential backoff from 100 ms up to 5 s; hiredis answers every command still pending
 * with a NULL reply when the connection drops, which becomes -EAGAIN for the operation's
 * caller, once. hiredis 0.14 has no command timeout, so the store keeps its own: see
 * watch_cb. Scripts run by EVALSHA, and by EVAL when Redis does not know them yet
 * (NOSCRIPT: a restarted or flushed server). */
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <talloc.h>

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <openssl/sha.h>
#include <sys/queue.h>

#include "core/logging.h"
#include "store/redis_ev.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define TIMEOUT_DEFAULT_MS 1000
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

/* Rate-limit counter: the window starts with the first hit. Answers the hits in the window
 * and how long it has left (ms), so that a refusal can say when to try again. */
static struct script limit_script = {
	"local n = redis.call('INCR', KEYS[1])\n"
	"if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end\n"
	"local ttl = redis.call('PTTL', KEYS[1])\n"
	"if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end\n"
	"return {n, ttl}\n", ""
};

/* A secret's check that cannot be raced (issue 15): the try is counted and the secret
 * compared in one step, so that however many requests arrive at once, at most `tries`
 * candidates are ever compared within the counter's window. KEYS: the hash that holds the
 * digest, the failure counter (the same hash tag: one slot). ARGV: the hash's field, the
 * digest's 1-based offset in the value, the candidate digest, tries, window (ms), the
 * value's length (0: any). The try is counted first; a match, or a record that is not
 * there, gives it back, so that only failures use the budget. Returns {result, tries left,
 * ms until the window ends}: result 0 no record, 1 match, 2 mismatch, 3 locked (compared
 * nothing). An empty candidate (what was typed is not an ID at all) counts nothing and
 * answers 4 with the tries left, or 3 when locked out. The comparison is not constant-time,
 * but it runs inside Redis, far from any clock a caller can read, and the counter bounds the
 * tries whatever their timing. */
static struct script verify_script = {
	"if ARGV[3] == '' then\n"
	"  local n = tonumber(redis.call('GET', KEYS[2]) or '0')\n"
	"  if n >= tonumber(ARGV[4]) then return {3, 0, redis.call('PTTL', KEYS[2])} end\n"
	"  return {4, tonumber(ARGV[4]) - n, 0}\n"
	"end\n"
	"local n = redis.call('INCR', KEYS[2])\n"
	"if n == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[5]) end\n"
	"local tries = tonumber(ARGV[4])\n"
	"local function giveback()\n"
	"  if n == 1 then redis.call('DEL', KEYS[2]) else redis.call('DECR', KEYS[2]) end\n"
	"end\n"
	"if n > tries then\n"
	"  redis.call('DECR', KEYS[2])\n"
	"  local ttl = redis.call('PTTL', KEYS[2])\n"
	"  if ttl < 0 then redis.call('PEXPIRE', KEYS[2], ARGV[5]); ttl = tonumber(ARGV[5]) end\n"
	"  return {3, 0, ttl}\n"
	"end\n"
	"local v = redis.call('HGET', KEYS[1], ARGV[1])\n"
	"local off, c, want = tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[6])\n"
	"if not v or (want > 0 and #v ~= want) or #v < off + #c - 1 then\n"
	"  giveback()\n"
	"  return {0, tries - n + 1, 0}\n"
	"end\n"
	"if string.sub(v, off, off + #c - 1) == c then\n"
	"  giveback()\n"
	"  return {1, tries - n + 1, 0}\n"
	"end\n"
	"return {2, tries - n, redis.call('PTTL', KEYS[2])}\n", ""
};

/* A report for an IMEI, unless one is open: then its reference. KEYS: rep:{imei},
 * rep:{imei}:past. ARGV: the new reference, then field/value pairs. A closed report
 * (unblocked or rejected) moves to the list of past references. */
static struct script report_create_script = {
	"local st = redis.call('HGET', KEYS[1], 'state')\n"
	"if st and st ~= 'unblocked' and st ~= 'rejected' then\n"
	"  return {redis.call('HGET', KEYS[1], 'ref'), 0}\n"
	"end\n"
	"if st then\n"
	"  redis.call('RPUSH', KEYS[2], redis.call('HGET', KEYS[1], 'ref'))\n"
	"  redis.call('DEL', KEYS[1])\n"
	"end\n"
	"local t = redis.call('TIME')[1]\n"
	"redis.call('HSET', KEYS[1], 'ref', ARGV[1], 'state', 'received', 'created', t,\n"
	"           'updated', t, unpack(ARGV, 2))\n"
	"return {ARGV[1], 1}\n", ""
};

/* A report's state changes only from the states given, and with an idle time > 0 only when
 * its last change is at least that many seconds old (another journey may be at work on it).
 * With an outbox stream (KEYS[2]), the SMS that tell of the change are added to it in the
 * same step: a ceirgw that stops in between cannot leave one without the other. KEYS:
 * rep:{imei}[, the outbox stream]. ARGV: allowed states "a|b", the new state, the idle
 * seconds, the count of SMS, their to and text pairs, then field/value pairs. Returns the
 * state now (or 'busy') and whether it changed; '' for no report. */
static struct script report_transition_script = {
	"local st = redis.call('HGET', KEYS[1], 'state')\n"
	"if not st then return {'', 0} end\n"
	"if not string.find('|' .. ARGV[1] .. '|', '|' .. st .. '|', 1, true) then\n"
	"  return {st, 0}\n"
	"end\n"
	"local now = tonumber(redis.call('TIME')[1])\n"
	"local idle = tonumber(ARGV[3])\n"
	"if idle > 0 and now - tonumber(redis.call('HGET', KEYS[1], 'updated') or '0') < idle then\n"
	"  return {'busy', 0}\n"
	"end\n"
	"local k = tonumber(ARGV[4])\n"
	"redis.call('HSET', KEYS[1], 'state', ARGV[2], 'updated', now, unpack(ARGV, 5 + 2 * k))\n"
	"for i = 0, k - 1 do\n"
	"  redis.call('XADD', KEYS[2], '*', 'to', ARGV[5 + 2 * i], 'text', ARGV[6 + 2 * i])\n"
	"end\n"
	"return {ARGV[2], 1}\n", ""
};

/* Open reports that have not moved for ARGV[1] seconds, at most ARGV[2], as "imei,imei".
 * KEYS: the index of open reports (a sorted set: IMEI by the time it was opened). */
static struct script report_due_script = {
	"local t = tonumber(redis.call('TIME')[1]) - tonumber(ARGV[1])\n"
	"local l = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', t, 'LIMIT', 0, tonumber(ARGV[2]))\n"
	"return table.concat(l, ',')\n", ""
};

/* One stream entry per request id. KEYS: the stream, its dedup key (same slot). ARGV: how
 * long a request id is remembered (s), then field/value pairs. Returns the entry id and
 * whether it is new. */
static struct script enqueue_script = {
	"local id = redis.call('GET', KEYS[2])\n"
	"if id then return {id, 0} end\n"
	"id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))\n"
	"redis.call('SET', KEYS[2], id, 'EX', ARGV[1])\n"
	"return {id, 1}\n", ""
};

struct op;
TAILQ_HEAD(op_list, op);

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
	void (*on_up)(void *arg);
	void *on_up_arg;
	/* The timeout (watch_cb): the connection's one timer, the operations on the wire
	 * oldest first, and the times it checks them against (ms, monotonic clock). */
	struct event *watch;
	struct op_list flight;
	long long connect_deadline, last_sent;
	unsigned timeouts;	/* in this episode: since the connection was last up */
	bool dropping;		/* in drop(): hiredis's NULL replies leave the ops to it */
	bool *gone;		/* set by the destructor while drop() answers */
};

enum op_kind { OP_PING, OP_PAIRINGS, OP_HANDSETS, OP_KYC, OP_SET, OP_GET, OP_DEL, OP_RATE,
	OP_RESULT, OP_FIELDS, OP_TAC, OP_SETNX, OP_ENTRIES, OP_LIMIT,
	OP_VERIFY };

/* One operation in flight; a talloc child of the store. */
struct op {
	struct store *st;
	enum op_kind kind;
	TAILQ_ENTRY(op) link;	/* in st->flight while its command is on the wire */
	long long deadline;	/* of that command (ms, monotonic) */
	union {
		store_done_cb done;
		store_count_cb count;
		store_data_cb data;
		store_pairings_cb pairings;
		store_handsets_cb handsets;
		store_kyc_cb kyc;
		store_result_cb result;
		store_fields_cb fields;
		store_entries_cb entries;
		store_limit_cb limit;
		store_verify_cb verify;
	} cb;
	void *arg;
	char key[ID_MAX + 8];
	size_t keylen;
	/* For a script: its arguments after the name, kept to send EVAL if EVALSHA meets
	 * NOSCRIPT. */
	const struct script *script;
	int sargc;
	const char **sargv;
	size_t *slens;
	bool retried;
	/* store_report_create: the answer waits until ref:{ref} maps the reference back. */
	char imei[16];
	char result[40];
	size_t result_len;
	bool result_changed, mapping;
	bool tolerate_busygroup;	/* XGROUP CREATE: an existing group is fine */
	bool autoclaim;			/* XAUTOCLAIM: [cursor, entries, deleted] */
	/* store_group_claim_from: its caller, reached through claim_answer. */
	store_claim_cb claim_cb;
	void *claim_arg;
	char cursor[48];
};

static void connect_now(struct store *st);
static int keepalive(struct store *st);

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_state(struct store *st, enum store_state s)
{
	if (st->state != s)
		LOGP(LOGC_STORE, s == ST_UP ? LOGL_NOTICE : LOGL_INFO, "redis %s: %s -> %s",
		     st->address, state_names[st->state], state_names[s]);
	if (s == ST_UP && st->timeouts) {
		LOGP(LOGC_STORE, LOGL_NOTICE, "redis %s: answering again, after %u timeouts",
		     st->address, st->timeouts);
		st->timeouts = 0;
	}
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

static void op_fail(struct op *op, int err);

static void watch_arm(struct store *st, long long ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };

	evtimer_add(st->watch, &tv);
}

/* Redis did not answer in time: the connection goes, and every operation on it is answered
 * -EAGAIN now, as when a connection drops. Only from the watch timer: inside a hiredis
 * callback, redisAsyncFree would only mark the context and free it later. hiredis first
 * answers its commands with NULL replies, which op_reply leaves to this function (dropping),
 * then has no pointer left to any op: each is answered here once, out of the list first. */
static void drop(struct store *st)
{
	redisAsyncContext *ac = st->ac;
	bool gone = false;
	struct op *op;

	st->ac = NULL;
	ac->data = NULL;	/* its connect and disconnect callbacks: nothing to do */
	st->dropping = true;
	redisAsyncFree(ac);
	st->dropping = false;
	schedule_retry(st);	/* down first: what the callers try now fails at once */
	st->gone = &gone;
	while ((op = TAILQ_FIRST(&st->flight)) != NULL) {
		TAILQ_REMOVE(&st->flight, op, link);
		op_fail(op, -EAGAIN);
		if (gone)
			return;	/* a caller freed the store, and the op with it */
		talloc_free(op);
	}
	st->gone = NULL;
}

/* The connection's one timer. Redis answers a connection's commands in the order they were
 * sent, so the oldest command on the wire is the one to time: the timer is due at its
 * deadline, or at the handshake's, and moves on lazily (checked when it fires, never
 * re-armed per command). A connection with nothing on the wire gets a PING once a timeout
 * has passed since the last command, so that a frozen Redis shows (store_is_up, /healthz)
 * even when no traffic meets it. */
static void watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct store *st = arg;
	struct op *op = TAILQ_FIRST(&st->flight);
	long long now = now_ms(), due;

	(void)fd;
	(void)what;
	if (st->ac == NULL)
		return;		/* down: the retry timer connects again, and arms this */
	if (st->state != ST_UP)
		due = st->connect_deadline;
	else
		due = op ? op->deadline : st->last_sent + st->o.timeout_ms;
	if (now < due) {
		watch_arm(st, due - now);
		return;
	}
	if (st->state == ST_UP && op == NULL) {
		keepalive(st);	/* out of memory: the next round tries again */
		watch_arm(st, st->o.timeout_ms);
		return;
	}
	if (st->timeouts++ == 0)
		LOGP(LOGC_STORE, LOGL_WARN, "redis %s: no answer in %d ms %s; dropping the "
		     "connection, %zu operations answered \"try again\"", st->address,
		     st->o.timeout_ms, st->state == ST_UP ? "to a command" : "while connecting",
		     st->pending);
	else
		LOGP(LOGC_STORE, LOGL_DEBUG, "redis %s: no answer in %d ms again (%u)",
		     st->address, st->o.timeout_ms, st->timeouts);
	drop(st);
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
		if (st->on_up)
			st->on_up(st->on_up_arg);
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
	/* The handshake times out too: a frozen server accepts connections (the kernel does)
	 * and never answers. */
	st->connect_deadline = now_ms() + st->o.timeout_ms;
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
	if (redis_ev_attach(ac, st->base) < 0) {
		LOGP(LOGC_STORE, LOGL_WARN, "redis %s: cannot connect: out of memory", st->address);
		redisAsyncFree(ac);
		schedule_retry(st);
		return;
	}
	ac->data = st;
	st->ac = ac;
	watch_arm(st, st->o.timeout_ms);
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
	struct op *op;

	st->closing = true;
	if (st->gone)
		*st->gone = true;
	if (st->retry)
		event_free(st->retry);
	if (st->watch)
		event_free(st->watch);
	if (st->ac) {
		/* Pending operations are answered with -ECANCELED from inside this call. */
		redisAsyncFree(st->ac);
		st->ac = NULL;
	}
	/* And those a timeout's drop() had not answered yet when its caller freed the store. */
	while ((op = TAILQ_FIRST(&st->flight)) != NULL) {
		TAILQ_REMOVE(&st->flight, op, link);
		op_fail(op, -ECANCELED);
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
	if (st->o.timeout_ms <= 0)
		st->o.timeout_ms = TIMEOUT_DEFAULT_MS;
	TAILQ_INIT(&st->flight);
	st->backoff_ms = BACKOFF_MIN_MS;
	if (url->kind == REDIS_URL_UNIX)
		snprintf(st->address, sizeof(st->address), "unix:%s", url->path);
	else if (strchr(url->host, ':'))
		snprintf(st->address, sizeof(st->address), "[%s]:%d", url->host, url->port);
	else
		snprintf(st->address, sizeof(st->address), "%s:%d", url->host, url->port);
	script_sha(&report_create_script);
	script_sha(&report_transition_script);
	script_sha(&enqueue_script);
	script_sha(&report_due_script);
	script_sha(&limit_script);
	script_sha(&verify_script);
	st->retry = evtimer_new(base, retry_cb, st);
	if (st->retry == NULL) {
		talloc_free(st);
		return NULL;
	}
	talloc_set_destructor(st, store_destructor);
	st->watch = evtimer_new(base, watch_cb, st);
	if (st->watch == NULL) {
		talloc_free(st);
		return NULL;
	}
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
	case OP_SETNX:
		op->cb.count(op->arg, err, 0);
		break;
	case OP_ENTRIES:
		op->cb.entries(op->arg, err, NULL, 0);
		break;
	case OP_GET:
	case OP_TAC:
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
	case OP_RESULT:
		op->cb.result(op->arg, err, NULL, 0, false);
		break;
	case OP_FIELDS:
		op->cb.fields(op->arg, err, NULL, 0);
		break;
	case OP_LIMIT:
		op->cb.limit(op->arg, err, 0, 0);
		break;
	case OP_VERIFY:
		op->cb.verify(op->arg, err, STORE_VERIFY_NONE, 0, 0);
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
	/* Each command is timed from its own sending (a resent one as well): it is the
	 * connection that is judged, and watch_cb finds the list in deadline order. */
	st->last_sent = now_ms();
	op->deadline = st->last_sent + st->o.timeout_ms;
	TAILQ_INSERT_TAIL(&st->flight, op, link);
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
	op->sargv[0] = eval ? "EVAL" : "EVALSHA";
	op->slens[0] = strlen(op->sargv[0]);
	op->sargv[1] = eval ? op->script->body : op->script->sha;
	op->slens[1] = strlen(op->sargv[1]);
	return op_send(op, op->sargc, op->sargv, op->slens);
}

/* Keeps a copy of a script's arguments (numkeys, keys, args) in the op and sends it.
 * Returns 0, or frees the op and returns why it could not be sent. */
static int op_start_script(struct op *op, const struct script *sc, int argc,
			   const char **argv, const size_t *lens)
{
	int i;
	char *copy;

	op->script = sc;
	op->sargc = argc + 2;
	op->sargv = talloc_array(op, const char *, op->sargc);
	op->slens = talloc_array(op, size_t, op->sargc);
	if (op->sargv == NULL || op->slens == NULL)
		goto oom;
	for (i = 0; i < argc; i++) {
		/* Binary arguments (a digest, a bucketed field) have no NUL after them. */
		copy = talloc_size(op, lens[i] + 1);
		if (copy == NULL)
			goto oom;
		memcpy(copy, argv[i], lens[i]);
		copy[lens[i]] = '\0';
		op->sargv[i + 2] = copy;
		op->slens[i + 2] = lens[i];
	}
	if (op_script(op, false) == 0)
		return 0;
	talloc_free(op);
	return -EAGAIN;
oom:
	talloc_free(op);
	return -ENOMEM;
}

/* Appends s[0..n) to the CSV text as one quoted field (RFC 4180). */
static char *csv_quoted(char *out, const char *s, size_t n)
{
	size_t i;

	*out++ = '"';
	for (i = 0; i < n; i++) {
		if (s[i] == '"')
			*out++ = '"';
		*out++ = s[i] == '\n' || s[i] == '\r' ? ' ' : s[i];
	}
	*out++ = '"';
	return out;
}

/* The HGETALL of tac:{tac} as tacdb CSV text. */
static void tac_reply(struct op *op, const redisReply *reply)
{
	size_t i, cap = 32;
	char *text, *p;
	const char *sep;

	if (reply->type != REDIS_REPLY_ARRAY) {
		op_fail(op, -EPROTO);
		return;
	}
	if (reply->elements == 0) {
		op->cb.data(op->arg, 0, NULL, 0, false);
		return;
	}
	for (i = 0; i < reply->elements; i++)
		cap += 2 * reply->element[i]->len + 8;
	text = talloc_size(op, cap);
	if (text == NULL) {
		op_fail(op, -ENOMEM);
		return;
	}
	p = text + sprintf(text, "tac,maker,model\n");
	for (i = 0; i + 1 < reply->elements; i += 2) {
		const redisReply *k = reply->element[i], *v = reply->element[i + 1];

		sep = memchr(v->str, 0x1f, v->len);
		p = csv_quoted(p, k->str, k->len);
		*p++ = ',';
		p = csv_quoted(p, v->str, sep ? (size_t)(sep - v->str) : v->len);
		*p++ = ',';
		if (sep)
			p = csv_quoted(p, sep + 1, v->len - (size_t)(sep + 1 - v->str));
		*p++ = '\n';
	}
	op->cb.data(op->arg, 0, text, (size_t)(p - text), true);
}

/* XREADGROUP's answer: [[stream, [[id, [f, v, ...]], ...]]], or nil when nothing came. */
static void entries_reply(struct op *op, const redisReply *reply)
{
	struct store_entry e[STORE_ENTRIES_MAX];
	struct store_kv kv[STORE_ENTRIES_MAX][16];
	const redisReply *list;
	size_t i, j, n = 0;

	if (reply->type == REDIS_REPLY_NIL) {
		op->cb.entries(op->arg, 0, NULL, 0);
		return;
	}
	if (op->autoclaim) {
		/* XAUTOCLAIM: [next cursor, entries, deleted ids] */
		if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2 ||
		    reply->element[1]->type != REDIS_REPLY_ARRAY) {
			op_fail(op, -EPROTO);
			return;
		}
		if (op->claim_cb && (reply->element[0]->type != REDIS_REPLY_STRING ||
				     reply->element[0]->len >= sizeof(op->cursor))) {
			op_fail(op, -EPROTO);
			return;
		}
		if (op->claim_cb)
			memcpy(op->cursor, reply->element[0]->str, reply->element[0]->len + 1);
		list = reply->element[1];
	} else if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 1 ||
		   reply->element[0]->type != REDIS_REPLY_ARRAY ||
		   reply->element[0]->elements != 2 ||
		   reply->element[0]->element[1]->type != REDIS_REPLY_ARRAY) {
		op_fail(op, -EPROTO);
		return;
	} else {
		list = reply->element[0]->element[1];
	}
	for (i = 0; i < list->elements && n < STORE_ENTRIES_MAX; i++) {
		const redisReply *ent = list->element[i], *f;

		if (ent->type != REDIS_REPLY_ARRAY || ent->elements != 2 ||
		    ent->element[0]->type != REDIS_REPLY_STRING) {
			op_fail(op, -EPROTO);
			return;
		}
		e[n].id = ent->element[0]->str;
		e[n].idlen = ent->element[0]->len;
		e[n].kv = kv[n];
		e[n].n = 0;
		f = ent->element[1];
		/* An entry deleted from the stream but still pending comes with nil fields. */
		for (j = 0; f->type == REDIS_REPLY_ARRAY && j + 1 < f->elements && e[n].n < 16;
		     j += 2) {
			if (f->element[j]->type != REDIS_REPLY_STRING ||
			    f->element[j + 1]->type != REDIS_REPLY_STRING)
				continue;
			kv[n][e[n].n].key = f->element[j]->str;
			kv[n][e[n].n].klen = f->element[j]->len;
			kv[n][e[n].n].val = f->element[j + 1]->str;
			kv[n][e[n].n].vlen = f->element[j + 1]->len;
			e[n].n++;
		}
		n++;
	}
	op->cb.entries(op->arg, 0, e, n);
}

/* Whether a script answered an array of n integers. */
static bool int_array(const redisReply *reply, size_t n)
{
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (reply->element[i]->type != REDIS_REPLY_INTEGER)
			return false;
	return true;
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
	if (reply == NULL && st->dropping)
		return;		/* drop() answers it, once hiredis has let go of it */
	TAILQ_REMOVE(&st->flight, op, link);
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
	if (reply->type == REDIS_REPLY_ERROR && op->tolerate_busygroup &&
	    strncmp(reply->str, "BUSYGROUP", 9) == 0) {
		op->cb.done(op->arg, 0);
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
		if (int_array(reply, 2))
			op->cb.count(op->arg, 0, reply->element[0]->integer);
		else
			op_fail(op, -EPROTO);
		break;
	case OP_SETNX:
		op->cb.count(op->arg, 0, reply->type == REDIS_REPLY_STATUS ? 1 : 0);
		break;
	case OP_LIMIT:
		if (int_array(reply, 2))
			op->cb.limit(op->arg, 0, reply->element[0]->integer,
				     reply->element[1]->integer);
		else
			op_fail(op, -EPROTO);
		break;
	case OP_VERIFY:
		if (int_array(reply, 3) && reply->element[0]->integer >= STORE_VERIFY_NONE &&
		    reply->element[0]->integer <= STORE_VERIFY_PEEKED)
			op->cb.verify(op->arg, 0,
				      (enum store_verify_result)reply->element[0]->integer,
				      reply->element[1]->integer, reply->element[2]->integer);
		else
			op_fail(op, -EPROTO);
		break;
	case OP_ENTRIES:
		entries_reply(op, reply);
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
	case OP_RESULT:
		if (op->mapping) {
			/* The reference's mapping is written: now the report's answer. */
			op->cb.result(op->arg, 0, op->result, op->result_len, op->result_changed);
			break;
		}
		if (op->imei[0] && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
		    reply->element[0]->type == REDIS_REPLY_STRING &&
		    reply->element[0]->len > 0 && reply->element[0]->len < sizeof(op->result)) {
			/* Every answer maps its reference, the open report's too: a retry repairs
			 * a mapping that a dropped connection left unwritten. */
			char key[ID_MAX + 8];
			const char *argv[3] = { "SET", key, op->imei };
			size_t lens[3];

			op->result_len = reply->element[0]->len;
			memcpy(op->result, reply->element[0]->str, op->result_len);
			op->result_changed = reply->element[1]->type == REDIS_REPLY_INTEGER &&
					     reply->element[1]->integer != 0;
			lens[0] = 3;
			lens[1] = (size_t)snprintf(key, sizeof(key), "ref:{%.*s}",
						   (int)op->result_len, op->result);
			lens[2] = 15;
			op->mapping = true;
			if (op_send(op, 3, argv, lens) == 0)
				return;
			op_fail(op, -EAGAIN);
			break;
		}
		if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
		    reply->element[0]->type == REDIS_REPLY_STRING &&
		    reply->element[1]->type == REDIS_REPLY_INTEGER)
			op->cb.result(op->arg, 0, reply->element[0]->str, reply->element[0]->len,
				      reply->element[1]->integer != 0);
		else
			op_fail(op, -EPROTO);
		break;
	case OP_FIELDS: {
		struct store_kv kv[64];
		size_t i, nkv = 0;

		if (reply->type != REDIS_REPLY_ARRAY) {
			op_fail(op, -EPROTO);
			break;
		}
		for (i = 0; i + 1 < reply->elements && nkv < 64; i += 2, nkv++) {
			kv[nkv].key = reply->element[i]->str;
			kv[nkv].klen = reply->element[i]->len;
			kv[nkv].val = reply->element[i + 1]->str;
			kv[nkv].vlen = reply->element[i + 1]->len;
		}
		op->cb.fields(op->arg, 0, kv, nkv);
		break;
	}
	case OP_TAC:
		tac_reply(op, reply);
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

static void keepalive_done(void *arg, int err)
{
	(void)arg;
	(void)err;
}

/* The PING watch_cb sends on an idle connection: an op like any other, timed like any. */
static int keepalive(struct store *st)
{
	return store_ping(st, keepalive_done, NULL);
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

/* Sends "CMD key" for an op made by keyed_op. */
static int key_command(struct op *op, const char *cmd)
{
	const char *argv[2] = { cmd, op->key };
	size_t lens[2] = { strlen(cmd), op->keylen };

	return op_start(op, 2, argv, lens);
}

int store_session_get(struct store *st, const char *id, size_t idlen, store_data_cb cb,
		      void *arg)
{
	struct op *op;
	int rc = keyed_op(st, OP_GET, "s:", id, idlen, arg, &op);

	if (rc < 0)
		return rc;
	op->cb.data = cb;
	return key_command(op, "GET");
}

int store_session_del(struct store *st, const char *id, size_t idlen, store_done_cb cb,
		      void *arg)
{
	struct op *op;
	int rc = keyed_op(st, OP_DEL, "s:", id, idlen, arg, &op);

	if (rc < 0)
		return rc;
	op->cb.done = cb;
	return key_command(op, "DEL");
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
	{
		char ms[24];
		const char *argv[] = { "1", op->key, ms };
		size_t lens[] = { 1, op->keylen,
				  (size_t)snprintf(ms, sizeof(ms), "%llu",
						   (unsigned long long)window_s * 1000) };

		return op_start_script(op, &limit_script, 3, argv, lens);
	}
}

/* ---- reports and the CEIR queue ------------------------------------------------------ */

#define FIELDS_MAX 32

/* "rep:{356938035643809}" and its list of past references. Returns 0 or -EINVAL. */
static int report_keys(const char *imei, char *key, size_t *keylen, char *past,
		       size_t *pastlen)
{
	size_t i;

	for (i = 0; i < 15; i++) {
		if (imei[i] < '0' || imei[i] > '9')
			return -EINVAL;
	}
	if (imei[15] != '\0')
		return -EINVAL;
	*keylen = (size_t)snprintf(key, ID_MAX + 8, "rep:{%s}", imei);
	if (past)
		*pastlen = (size_t)snprintf(past, ID_MAX + 8, "rep:{%s}:past", imei);
	return 0;
}

/* Appends the field/value pairs to argv. Returns the new argc, or -EINVAL. */
static int add_fields(const char **argv, size_t *lens, int argc, const struct store_kv *kv,
		      size_t n)
{
	size_t i;

	if (n > FIELDS_MAX)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		argv[argc] = kv[i].key;
		lens[argc++] = kv[i].klen;
		argv[argc] = kv[i].val;
		lens[argc++] = kv[i].vlen;
	}
	return argc;
}

int store_report_create(struct store *st, const char *imei, const char *ref,
			const struct store_kv *fields, size_t n, store_result_cb cb, void *arg)
{
	const char *argv[4 + 2 * FIELDS_MAX];
	size_t lens[4 + 2 * FIELDS_MAX], pastlen;
	char past[ID_MAX + 8];
	struct op *op;
	int argc;

	op = op_new(st, OP_RESULT, arg);
	if (op == NULL)
		return op_new_err(st);
	op->cb.result = cb;
	if (report_keys(imei, op->key, &op->keylen, past, &pastlen) < 0 || ref == NULL ||
	    *ref == '\0' || strlen(ref) > 32) {
		talloc_free(op);
		return -EINVAL;
	}
	memcpy(op->imei, imei, 16);
	argv[0] = "2";
	lens[0] = 1;
	argv[1] = op->key;
	lens[1] = op->keylen;
	argv[2] = past;
	lens[2] = pastlen;
	argv[3] = ref;
	lens[3] = strlen(ref);
	argc = add_fields(argv, lens, 4, fields, n);
	if (argc < 0) {
		talloc_free(op);
		return -EINVAL;
	}
	return op_start_script(op, &report_create_script, argc, argv, lens);
}

static int report_transition(struct store *st, const char *imei, const char *from,
			     const char *to, unsigned idle_s, const struct store_kv *fields,
			     size_t n, const char *stream, const struct store_sms *sms,
			     size_t nsms, store_result_cb cb, void *arg)
{
	const char *argv[7 + 2 * STORE_SMS_MAX + 2 * FIELDS_MAX];
	size_t lens[7 + 2 * STORE_SMS_MAX + 2 * FIELDS_MAX];
	char idle[12], count[4];
	struct op *op;
	int argc = 0;

	op = op_new(st, OP_RESULT, arg);
	if (op == NULL)
		return op_new_err(st);
	op->cb.result = cb;
	if (report_keys(imei, op->key, &op->keylen, NULL, NULL) < 0 || from == NULL ||
	    to == NULL || *to == '\0' || nsms > STORE_SMS_MAX ||
	    (nsms && (stream == NULL || *stream == '\0'))) {
		talloc_free(op);
		return -EINVAL;
	}
	argv[argc] = nsms ? "2" : "1";	/* the keys: the report, and the outbox */
	lens[argc++] = 1;
	argv[argc] = op->key;
	lens[argc++] = op->keylen;
	if (nsms) {
		argv[argc] = stream;
		lens[argc++] = strlen(stream);
	}
	argv[argc] = from;
	lens[argc++] = strlen(from);
	argv[argc] = to;
	lens[argc++] = strlen(to);
	lens[argc] = (size_t)snprintf(idle, sizeof(idle), "%u", idle_s);
	argv[argc++] = idle;
	lens[argc] = (size_t)snprintf(count, sizeof(count), "%zu", nsms);
	argv[argc++] = count;
	for (size_t i = 0; i < nsms; i++) {
		argv[argc] = sms[i].to;
		lens[argc++] = strlen(sms[i].to);
		argv[argc] = sms[i].text;
		lens[argc++] = sms[i].len;
	}
	argc = add_fields(argv, lens, argc, fields, n);
	if (argc < 0) {
		talloc_free(op);
		return -EINVAL;
	}
	return op_start_script(op, &report_transition_script, argc, argv, lens);
}

int store_report_transition(struct store *st, const char *imei, const char *from,
			    const char *to, const struct store_kv *fields, size_t n,
			    store_result_cb cb, void *arg)
{
	return report_transition(st, imei, from, to, 0, fields, n, NULL, NULL, 0, cb, arg);
}

int store_report_transition_sms(struct store *st, const char *imei, const char *from,
				const char *to, const struct store_kv *fields, size_t n,
				const char *stream, const struct store_sms *sms, size_t nsms,
				store_result_cb cb, void *arg)
{
	if (stream == NULL || *stream == '\0')
		return -EINVAL;
	return report_transition(st, imei, from, to, 0, fields, n, stream, sms, nsms, cb, arg);
}

int store_report_resume(struct store *st, const char *imei, const char *from, const char *to,
			unsigned idle_s, const struct store_kv *fields, size_t n,
			store_result_cb cb, void *arg)
{
	return report_transition(st, imei, from, to, idle_s, fields, n, NULL, NULL, 0, cb, arg);
}

int store_report_get(struct store *st, const char *imei, store_fields_cb cb, void *arg)
{
	struct op *op = op_new(st, OP_FIELDS, arg);

	if (op == NULL)
		return op_new_err(st);
	op->cb.fields = cb;
	if (report_keys(imei, op->key, &op->keylen, NULL, NULL) < 0) {
		talloc_free(op);
		return -EINVAL;
	}
	return key_command(op, "HGETALL");
}

int store_tac_fetch(struct store *st, store_data_cb cb, void *arg)
{
	struct op *op = op_new(st, OP_TAC, arg);
	const char *argv[] = { "HGETALL", "tac:{tac}" };
	size_t lens[] = { 7, 9 };

	if (op == NULL)
		return op_new_err(st);
	op->cb.data = cb;
	return op_start(op, 2, argv, lens);
}

void store_on_up(struct store *st, void (*cb)(void *arg), void *arg)
{
	st->on_up = cb;
	st->on_up_arg = arg;
}

int store_report_find(struct store *st, const char *ref, size_t len, store_data_cb cb,
		      void *arg)
{
	struct op *op;
	int rc = keyed_op(st, OP_GET, "ref:", ref, len, arg, &op);

	if (rc < 0)
		return rc;
	op->cb.data = cb;
	return key_command(op, "GET");
}

int store_ceir_enqueue(struct store *st, const char *stream, const char *request_id,
		       unsigned remember_s, const struct store_kv *fields, size_t n,
		       store_result_cb cb, void *arg)
{
	const char *argv[4 + 2 * FIELDS_MAX], *open, *close;
	size_t lens[4 + 2 * FIELDS_MAX];
	char dedup[256], ttl[16];
	struct op *op;
	int argc, dl;

	op = op_new(st, OP_RESULT, arg);
	if (op == NULL)
		return op_new_err(st);
	op->cb.result = cb;
	/* The dedup key must share the stream's slot: the stream's own hash tag when its name
	 * has one, else its whole name as the tag (a name without braces hashes whole). */
	open = strchr(stream, '{');
	close = open ? strchr(open + 1, '}') : NULL;
	if (open && close && close > open + 1)
		dl = snprintf(dedup, sizeof(dedup), "%.*s:seen:%s", (int)(close - open + 1), open,
			      request_id);
	else
		dl = snprintf(dedup, sizeof(dedup), "{%s}:seen:%s", stream, request_id);
	if (dl < 0 || (size_t)dl >= sizeof(dedup) || strlen(stream) > ID_MAX ||
	    *request_id == '\0' || remember_s == 0) {
		talloc_free(op);
		return -EINVAL;
	}
	op->keylen = (size_t)snprintf(op->key, sizeof(op->key), "%s", stream);
	argv[0] = "2";
	lens[0] = 1;
	argv[1] = stream;
	lens[1] = strlen(stream);
	argv[2] = dedup;
	lens[2] = (size_t)dl;
	argv[3] = ttl;
	lens[3] = (size_t)snprintf(ttl, sizeof(ttl), "%u", remember_s);
	argc = add_fields(argv, lens, 4, fields, n);
	if (argc < 0) {
		talloc_free(op);
		return -EINVAL;
	}
	return op_start_script(op, &enqueue_script, argc, argv, lens);
}

int store_ref_reserve(struct store *st, const char *ref, size_t len, const char *imei,
		      store_count_cb cb, void *arg)
{
	struct op *op = NULL;
	int rc = keyed_op(st, OP_SETNX, "ref:", ref, len, arg, &op);
	const char *argv[4] = { "SET", NULL, imei, "NX" };
	size_t lens[4];

	if (rc < 0)
		return rc;
	if (strlen(imei) != 15) {
		talloc_free(op);
		return -EINVAL;
	}
	op->cb.count = cb;
	argv[1] = op->key;
	lens[0] = 3;
	lens[1] = op->keylen;
	lens[2] = 15;
	lens[3] = 2;
	return op_start(op, 4, argv, lens);
}

int store_group_create(struct store *st, const char *stream, const char *group,
		       store_done_cb cb, void *arg)
{
	struct op *op = op_new(st, OP_SET, arg);
	const char *argv[6] = { "XGROUP", "CREATE", stream, group, "0", "MKSTREAM" };
	size_t lens[6] = { 6, 6, strlen(stream), strlen(group), 1, 8 };

	if (op == NULL)
		return op_new_err(st);
	op->cb.done = cb;
	op->tolerate_busygroup = true;
	return op_start(op, 6, argv, lens);
}

int store_group_read(struct store *st, const char *stream, const char *group,
		     const char *consumer, bool pending, store_entries_cb cb, void *arg)
{
	return store_group_pending(st, stream, group, consumer, pending ? "0" : ">", cb, arg);
}

int store_group_pending(struct store *st, const char *stream, const char *group,
			const char *consumer, const char *after, store_entries_cb cb, void *arg)
{
	struct op *op = op_new(st, OP_ENTRIES, arg);
	char count[8];
	const char *argv[9] = { "XREADGROUP", "GROUP", group, consumer, "COUNT", count,
				"STREAMS", stream, after };
	size_t lens[9] = { 10, 5, strlen(group), strlen(consumer), 5, 0, 7, strlen(stream),
			   strlen(after) };

	if (op == NULL)
		return op_new_err(st);
	op->cb.entries = cb;
	lens[5] = (size_t)snprintf(count, sizeof(count), "%d", STORE_ENTRIES_MAX);
	return op_start(op, 9, argv, lens);
}

/* An XAUTOCLAIM answers as a read does, to this, which adds the next cursor for the
 * caller. */
static void claim_answer(void *arg, int err, const struct store_entry *e, size_t n)
{
	struct op *op = arg;

	op->claim_cb(op->claim_arg, err, e, n, err == 0 ? op->cursor : NULL);
}

int store_group_claim_from(struct store *st, const char *stream, const char *group,
			   const char *consumer, unsigned idle_ms, const char *cursor,
			   store_claim_cb cb, void *arg)
{
	struct op *op = op_new(st, OP_ENTRIES, NULL);
	char idle[16], count[8];
	const char *argv[8] = { "XAUTOCLAIM", stream, group, consumer, idle, cursor, "COUNT",
				count };
	size_t lens[8] = { 10, strlen(stream), strlen(group), strlen(consumer), 0,
			   strlen(cursor), 5, 0 };

	if (op == NULL)
		return op_new_err(st);
	op->cb.entries = claim_answer;
	op->arg = op;
	op->claim_cb = cb;
	op->claim_arg = arg;
	op->autoclaim = true;
	lens[4] = (size_t)snprintf(idle, sizeof(idle), "%u", idle_ms);
	lens[7] = (size_t)snprintf(count, sizeof(count), "%d", STORE_ENTRIES_MAX);
	return op_start(op, 8, argv, lens);
}

#define REPORTS_OPEN "rep:open"

int store_report_open(struct store *st, const char *imei, bool open, store_done_cb cb,
		      void *arg)
{
	struct op *op = op_new(st, OP_SET, arg);
	char now[24];
	const char *zadd[4] = { "ZADD", REPORTS_OPEN, now, imei };
	const char *zrem[3] = { "ZREM", REPORTS_OPEN, imei };
	size_t la[4] = { 4, strlen(REPORTS_OPEN), 0, strlen(imei) };
	size_t lr[3] = { 4, strlen(REPORTS_OPEN), strlen(imei) };

	if (op == NULL)
		return op_new_err(st);
	op->cb.done = cb;
	if (!open)
		return op_start(op, 3, zrem, lr);
	la[2] = (size_t)snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	return op_start(op, 4, zadd, la);
}

int store_reports_due(struct store *st, unsigned idle_s, unsigned max, store_data_cb cb,
		      void *arg)
{
	struct op *op = op_new(st, OP_GET, arg);
	char a1[16], a2[16];
	const char *argv[4] = { "1", REPORTS_OPEN, a1, a2 };
	size_t lens[4] = { 1, strlen(REPORTS_OPEN), 0, 0 };

	if (op == NULL)
		return op_new_err(st);
	op->cb.data = cb;
	lens[2] = (size_t)snprintf(a1, sizeof(a1), "%u", idle_s);
	lens[3] = (size_t)snprintf(a2, sizeof(a2), "%u", max);
	return op_start_script(op, &report_due_script, 4, argv, lens);
}

int store_stream_del(struct store *st, const char *stream, const char *id, size_t idlen,
		     store_done_cb cb, void *arg)
{
	struct op *op = op_new(st, OP_SET, arg);
	const char *argv[3] = { "XDEL", stream, id };
	size_t lens[3] = { 4, strlen(stream), idlen };

	if (op == NULL)
		return op_new_err(st);
	op->cb.done = cb;
	return op_start(op, 3, argv, lens);
}

int store_group_ack(struct store *st, const char *stream, const char *group, const char *id,
		    size_t idlen, store_done_cb cb, void *arg)
{
	struct op *op = op_new(st, OP_SET, arg);
	const char *argv[4] = { "XACK", stream, group, id };
	size_t lens[4] = { 4, strlen(stream), strlen(group), idlen };

	if (op == NULL)
		return op_new_err(st);
	op->cb.done = cb;
	return op_start(op, 4, argv, lens);
}

/* ---- limits and secrets that cannot be raced (issue 15) -------------------------------- */

int store_limit_hit(struct store *st, const char *name, size_t len, unsigned window_s,
		    store_limit_cb cb, void *arg)
{
	struct op *op;
	int rc = keyed_op(st, OP_LIMIT, "rl:", name, len, arg, &op);
	char ms[24];

	if (rc < 0)
		return rc;
	if (window_s == 0) {
		talloc_free(op);
		return -EINVAL;
	}
	op->cb.limit = cb;
	{
		const char *argv[] = { "1", op->key, ms };
		size_t lens[] = { 1, op->keylen,
				  (size_t)snprintf(ms, sizeof(ms), "%llu",
						   (unsigned long long)window_s * 1000) };

		return op_start_script(op, &limit_script, 3, argv, lens);
	}
}

/* Runs verify_script over key (the hash) and counter, which share key's hash tag. */
static int verify_run(struct op *op, const char *counter, size_t clen, const void *field,
		      size_t flen, unsigned offset, const void *cand, size_t candlen,
		      unsigned tries, unsigned window_s, size_t value_len)
{
	char off[8], t[12], ms[24], vl[12];
	const char *argv[] = { "2", op->key, counter, field, off, cand, t, ms, vl };
	size_t lens[] = { 1, op->keylen, clen, flen,
			  (size_t)snprintf(off, sizeof(off), "%u", offset), candlen,
			  (size_t)snprintf(t, sizeof(t), "%u", tries),
			  (size_t)snprintf(ms, sizeof(ms), "%llu",
					   (unsigned long long)window_s * 1000),
			  (size_t)snprintf(vl, sizeof(vl), "%zu", value_len) };

	if (tries == 0 || window_s == 0) {
		talloc_free(op);
		return -EINVAL;
	}
	return op_start_script(op, &verify_script, 9, argv, lens);
}

int store_verify_kyc(struct store *st, uint64_t msisdn, const char *who, const void *cand,
		     size_t candlen, bool tail, unsigned tries, unsigned window_s,
		     store_verify_cb cb, void *arg)
{
	struct op *op = op_new(st, OP_VERIFY, arg);
	uint8_t field[PAIRS_FIELD_MAX];
	char counter[ID_MAX + 48];
	size_t fl;
	int n;

	if (op == NULL)
		return op_new_err(st);
	op->cb.verify = cb;
	pairs_kyc_key(msisdn, st->o.bucket_digits, op->key, &op->keylen, field, &fl);
	/* "kyc:{45678}:vf:254712345678:own": the record's slot, one counter per owner and
	 * kind of caller. */
	n = snprintf(counter, sizeof(counter), "%.*s:vf:%llu:%s", (int)op->keylen, op->key,
		     (unsigned long long)msisdn, who);
	if (n < 0 || (size_t)n >= sizeof(counter)) {
		talloc_free(op);
		return -EINVAL;
	}
	/* The value (pairs_kyc_encode): a format byte, 8 bytes of the whole ID's digest at
	 * offset 2, 4 of the last digits' at offset 10, the registration day. */
	return verify_run(op, counter, (size_t)n, field, fl, tail ? 10 : 2, cand, candlen, tries,
			  window_s, PAIRS_KYC_VALUE_LEN);
}

int store_verify_pin(struct store *st, const char *imei, const char *who, const char *digest,
		     size_t len, unsigned tries, unsigned window_s, store_verify_cb cb, void *arg)
{
	struct op *op = op_new(st, OP_VERIFY, arg);
	char counter[ID_MAX + 48];
	int n;

	if (op == NULL)
		return op_new_err(st);
	op->cb.verify = cb;
	if (report_keys(imei, op->key, &op->keylen, NULL, NULL) < 0) {
		talloc_free(op);
		return -EINVAL;
	}
	/* "rep:{356938035643809}:pin:own": the report's slot. */
	n = snprintf(counter, sizeof(counter), "%.*s:pin:%s", (int)op->keylen, op->key, who);
	if (n < 0 || (size_t)n >= sizeof(counter)) {
		talloc_free(op);
		return -EINVAL;
	}
	return verify_run(op, counter, (size_t)n, "pin", 3, 1, digest, len, tries, window_s, 0);
}
