/* Integration: the asynchronous store on a real Redis Cluster (issue 16), started by
 * store_cluster.sh (3 masters, 3 replicas, cluster-node-timeout 1 s), whose seed nodes come
 * in CLUSTER_SEEDS. Operations spread over the masters; a slot moved under the store (MOVED)
 * and a slot being migrated (ASK) are followed; scripts flushed from every node are sent
 * again by EVAL; a report's SMS reach the outbox stream once through the report's own
 * outbox; a master killed mid-run fails its operations within the timeout, each answered
 * once, and the store carries on on the promoted replica without being made again; WAIT
 * answers "try again" when fewer replicas than asked acknowledge, and a frozen replica holds
 * up only the writes that wait for it, not the reads of its master. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <talloc.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "core/logging.h"
#include "core/redis_url.h"
#include "store/cluster.h"
#include "store/store.h"

#include "store_testlib.h"

struct fixture {
	void *ctx;
	struct event_base *base;
	struct redis_seeds seeds;
	struct store *st;
};

static struct store *make_store(struct fixture *f, int replicas_ack)
{
	struct store_options o = { .bucket_digits = 5, .timeout_ms = 1000,
				   .replicas_ack = replicas_ack, .replicas_timeout_ms = 300 };
	struct store *st = store_create_cluster(f->ctx, f->base, &f->seeds, &o);

	return st && run_until(f->base, is_up, st, 10000) ? st : NULL;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *seeds = getenv("CLUSTER_SEEDS"), *why = NULL;

	if (f == NULL || seeds == NULL || redis_seeds_parse(seeds, &f->seeds, &why) < 0) {
		fprintf(stderr, "CLUSTER_SEEDS: %s\n", why ? why : "not set");
		return -1;
	}
	f->ctx = talloc_new(NULL);
	f->base = event_base_new();
	f->st = make_store(f, 0);
	*state = f;
	return f->st ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	talloc_free(f->ctx);
	event_base_free(f->base);
	free(f);
	return 0;
}

/* ---- talking to the cluster directly ---- */

/* A synchronous connection to the master that serves key now (asked of a seed that
 * answers). */
static redisContext *master_of(struct fixture *f, const char *key, int *port)
{
	for (unsigned i = 0; i < f->seeds.n; i++) {
		redisContext *c = redisConnect(f->seeds.seed[i].host, f->seeds.seed[i].port);
		redisReply *r;
		long long slot;

		if (c == NULL || c->err) {
			if (c)
				redisFree(c);
			continue;
		}
		r = redisCommand(c, "CLUSTER KEYSLOT %s", key);
		if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
			freeReplyObject(r);
			redisFree(c);
			continue;
		}
		slot = r->integer;
		freeReplyObject(r);
		r = redisCommand(c, "CLUSTER SLOTS");
		redisFree(c);
		for (size_t k = 0; r && k < r->elements; k++) {
			const redisReply *e = r->element[k];

			if (e->element[0]->integer <= slot && slot <= e->element[1]->integer) {
				char host[64];

				snprintf(host, sizeof(host), "%s", e->element[2]->element[0]->str);
				*port = (int)e->element[2]->element[1]->integer;
				freeReplyObject(r);
				return redisConnect(host, *port);
			}
		}
		freeReplyObject(r);
	}
	return NULL;
}

static long long int_command(redisContext *c, const char *fmt, ...)
{
	va_list ap;
	redisReply *r;
	long long v;

	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	v = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
	freeReplyObject(r);
	return v;
}

/* The integer answer of CMD KEY on the master that serves KEY now (-1 when none answers). */
static long long key_int(struct fixture *f, const char *cmd, const char *key)
{
	int port;
	redisContext *c = master_of(f, key, &port);
	long long n;

	if (c == NULL)
		return -1;
	n = int_command(c, "%s %s", cmd, key);
	redisFree(c);
	return n;
}

/* run_until's test: the stream holds at least n entries. */
struct stream_wait {
	struct fixture *f;
	const char *stream;
	long long n;
};

static bool stream_has(void *arg)
{
	const struct stream_wait *w = arg;

	return key_int(w->f, "XLEN", w->stream) >= w->n;
}

/* The node id of the node c talks to. */
static void node_id(redisContext *c, char *id)
{
	redisReply *r = redisCommand(c, "CLUSTER MYID");

	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_STRING);
	snprintf(id, 41, "%s", r->str);
	freeReplyObject(r);
}

/* Another master than the one on port, and its port. */
static redisContext *other_master(struct fixture *f, int port, int *other)
{
	redisContext *c = redisConnect(f->seeds.seed[0].host, f->seeds.seed[0].port);
	redisReply *r = redisCommand(c, "CLUSTER SLOTS");

	redisFree(c);
	for (size_t k = 0; r && k < r->elements; k++) {
		int p = (int)r->element[k]->element[2]->element[1]->integer;

		if (p != port) {
			*other = p;
			freeReplyObject(r);
			return redisConnect(f->seeds.seed[0].host, p);
		}
	}
	freeReplyObject(r);
	return NULL;
}

/* ---- answers (the common ones are in store_testlib.h) ---- */

static void on_result(void *arg, int err, const char *s, size_t len, bool changed)
{
	struct answer *a = arg;

	a->calls++;
	a->err = err;
	a->changed = changed;
	a->len = len;
	snprintf(a->data, sizeof(a->data), "%.*s", (int)len, s ? s : "");
}

#define RUN(f, a, call) do { \
	memset(&(a), 0, sizeof(a)); \
	assert_int_equal((call), 0); \
	assert_true(run_until((f)->base, answered, &(a), 5000)); \
	assert_int_equal((a).calls, 1); \
} while (0)

/* ---- tests ---- */

/* Sessions spread over every master, each read back as written. */
static void test_spread(void **state)
{
	enum { N = 300 };
	struct fixture *f = *state;
	static struct answer set[N], get[N];
	char id[32], val[32];
	int masters_used = 0;

	for (int i = 0; i < N; i++) {
		int n = snprintf(id, sizeof(id), "spread-%d", i);

		snprintf(val, sizeof(val), "value-%d", i);
		memset(&set[i], 0, sizeof(set[i]));
		assert_int_equal(store_session_set(f->st, &(struct store_rec_id){ STORE_REC_MO,
						   id, (size_t)n, NULL, NULL }, val, strlen(val),
						   60, on_done, &set[i]), 0);
	}
	assert_true(run_until(f->base, all_answered, &(struct answers){ set, N }, 5000));
	for (int i = 0; i < N; i++) {
		int n = snprintf(id, sizeof(id), "spread-%d", i);

		assert_int_equal(set[i].calls, 1);
		assert_int_equal(set[i].err, 0);
		memset(&get[i], 0, sizeof(get[i]));
		assert_int_equal(store_session_get(f->st, &(struct store_rec_id){ STORE_REC_MO,
						   id, (size_t)n, NULL, NULL }, on_data, &get[i]),
				 0);
	}
	for (int i = 0; i < N; i++) {
		assert_true(run_until(f->base, answered, &get[i], 5000));
		snprintf(val, sizeof(val), "value-%d", i);
		assert_true(get[i].found);
		assert_int_equal(get[i].len, strlen(val));
		assert_memory_equal(get[i].data, val, get[i].len);
	}
	/* Every master holds some of them. */
	{
		redisContext *c = redisConnect(f->seeds.seed[0].host, f->seeds.seed[0].port);
		redisReply *r = redisCommand(c, "CLUSTER SLOTS");

		for (size_t k = 0; r && k < r->elements; k++) {
			const redisReply *m = r->element[k]->element[2];
			redisContext *mc = redisConnect(m->element[0]->str, (int)m->element[1]->integer);

			if (int_command(mc, "DBSIZE") > 0)
				masters_used++;
			redisFree(mc);
		}
		freeReplyObject(r);
		redisFree(c);
	}
	assert_true(masters_used >= 3);
}

/* Moves key's slot from its master to another, as redis-cli --cluster reshard does, with
 * the key in it. With finish false, the slot is left half-way: MIGRATING on the source,
 * IMPORTING on the target, the key already on the target (ASK). */
static void move_slot(struct fixture *f, const char *key, bool finish)
{
	int src_port = 0, dst_port = 0;
	redisContext *src = master_of(f, key, &src_port), *dst;
	char src_id[41], dst_id[41];
	long long slot;
	redisReply *r;

	assert_non_null(src);
	dst = other_master(f, src_port, &dst_port);
	assert_non_null(dst);
	node_id(src, src_id);
	node_id(dst, dst_id);
	slot = int_command(src, "CLUSTER KEYSLOT %s", key);
	freeReplyObject(redisCommand(dst, "CLUSTER SETSLOT %lld IMPORTING %s", slot, src_id));
	freeReplyObject(redisCommand(src, "CLUSTER SETSLOT %lld MIGRATING %s", slot, dst_id));
	r = redisCommand(src, "MIGRATE %s %d %s 0 5000", f->seeds.seed[0].host, dst_port, key);
	assert_non_null(r);
	assert_int_not_equal(r->type, REDIS_REPLY_ERROR);
	freeReplyObject(r);
	if (finish) {
		freeReplyObject(redisCommand(dst, "CLUSTER SETSLOT %lld NODE %s", slot, dst_id));
		freeReplyObject(redisCommand(src, "CLUSTER SETSLOT %lld NODE %s", slot, dst_id));
	}
	redisFree(src);
	redisFree(dst);
}

static void test_moved_and_ask(void **state)
{
	struct fixture *f = *state;
	const struct store_rec_id mover = { STORE_REC_MO, "mover", 5, NULL, NULL };
	const struct store_rec_id asker = { STORE_REC_MO, "asker", 5, NULL, NULL };
	struct answer a;

	RUN(f, a, store_session_set(f->st, &mover, "one", 3, 600, on_done, &a));
	assert_int_equal(a.err, 0);
	/* The slot moves: the store's map says the old master, which answers MOVED. */
	move_slot(f, "s:{mo:mover}", true);
	RUN(f, a, store_session_get(f->st, &mover, on_data, &a));
	assert_int_equal(a.err, 0);
	assert_true(a.found);
	assert_memory_equal(a.data, "one", 3);
	/* And again, from the fixed map. */
	RUN(f, a, store_session_get(f->st, &mover, on_data, &a));
	assert_true(a.found);
	/* Half-way: the source says ASK for a key it no longer has. */
	RUN(f, a, store_session_set(f->st, &asker, "two", 3, 600, on_done, &a));
	move_slot(f, "s:{mo:asker}", false);
	RUN(f, a, store_session_get(f->st, &asker, on_data, &a));
	assert_int_equal(a.err, 0);
	assert_true(a.found);
	assert_memory_equal(a.data, "two", 3);
}

/* Issue 18: a dial reads a number's language and resume record with one MGET, which a
 * cluster takes only for keys of one slot (else CROSSSLOT); and again once the slot moved. */
static void test_number_one_slot(void **state)
{
	struct fixture *f = *state;
	static const char num[] = "+254712345678";
	const struct store_rec_id lang = { STORE_REC_LANG, num, sizeof(num) - 1, NULL, NULL };
	const struct store_rec_id resume = { STORE_REC_RESUME, num, sizeof(num) - 1, NULL, NULL };
	struct answer a;

	RUN(f, a, store_session_set(f->st, &lang, "sw", 2, 600, on_done, &a));
	assert_int_equal(a.err, 0);
	RUN(f, a, store_session_set(f->st, &resume, "v=1\n", 4, 600, on_done, &a));
	assert_int_equal(a.err, 0);
	RUN(f, a, store_number_get(f->st, num, sizeof(num) - 1, on_number, &a));
	assert_int_equal(a.err, 0);
	assert_true(a.changed && a.found);
	assert_memory_equal(a.data, "sw", 2);
	/* The slot moves (with the language key only: move_slot migrates one): MOVED is
	 * followed for the two-key command too. */
	move_slot(f, "s:{lang:+254712345678}", true);
	RUN(f, a, store_number_get(f->st, num, sizeof(num) - 1, on_number, &a));
	assert_int_equal(a.err, 0);
	assert_true(a.changed);
	assert_memory_equal(a.data, "sw", 2);
}

/* Issue 21: an MO's record and the engine's first read, in one slot, read with one MGET;
 * records of two slots are refused before a cluster would (CROSSSLOT); and again once the
 * slot moved. */
static void test_records_one_slot(void **state)
{
	struct fixture *f = *state;
	static const char num[] = "+254733000021";
	static const char id[] = "fedcba9876543210fedcba9876543210";
	const struct store_rec_id lang = { STORE_REC_LANG, num, sizeof(num) - 1, NULL, NULL };
	const struct store_rec_id resume = { STORE_REC_RESUME, num, sizeof(num) - 1, NULL, NULL };
	const struct store_rec_id other = { STORE_REC_LANG, "+254733000022", 13, NULL, NULL };
	const struct store_rec_id reads[3] = {
		{ STORE_REC_MO, id, sizeof(id) - 1, NULL, &lang }, lang, resume,
	};
	const struct store_rec_id cross[2] = { reads[0], other };
	struct answer a;

	RUN(f, a, store_session_set(f->st, &lang, "sw", 2, 600, on_done, &a));
	assert_int_equal(a.err, 0);
	RUN(f, a, store_session_set(f->st, &reads[0], "rs jambo", 8, 600, on_done, &a));
	assert_int_equal(a.err, 0);
	RUN(f, a, store_records_get(f->st, reads, 3, on_records, &a));
	assert_int_equal(a.err, 0);
	assert_int_equal(a.count, 3);
	assert_int_equal(a.len, 13);
	assert_memory_equal(a.data, "rs jambo|sw|-", 13);
	assert_int_equal(store_records_get(f->st, cross, 2, on_records, &a), -EINVAL);
	/* The slot moves: MOVED is followed for the three-key command too (move_slot migrates
	 * the language's key alone; the MO's stays behind on the old master). */
	move_slot(f, "s:{lang:+254733000021}", true);
	RUN(f, a, store_records_get(f->st, reads, 3, on_records, &a));
	assert_int_equal(a.err, 0);
	assert_int_equal(a.n, 3);
	assert_true(a.count & 2);
	assert_memory_equal(a.data + a.len - 4, "sw|-", 4);
}

static void test_noscript_everywhere(void **state)
{
	struct fixture *f = *state;
	struct answer a;

	RUN(f, a, store_limit_hit(f->st, STORE_LIMIT_CHECK, "flushed", 7, 60, on_limit, &a));
	assert_int_equal(a.count, 1);
	for (unsigned i = 0; i < f->seeds.n; i++) {
		redisContext *c = redisConnect(f->seeds.seed[i].host, f->seeds.seed[i].port);

		freeReplyObject(redisCommand(c, "SCRIPT FLUSH"));
		redisFree(c);
	}
	RUN(f, a, store_limit_hit(f->st, STORE_LIMIT_CHECK, "flushed", 7, 60, on_limit, &a));
	assert_int_equal(a.err, 0);
	assert_int_equal(a.count, 2);
}

/* A report's receipt: kept in its own slot with the move, relayed to the outbox stream
 * once, the report's outbox and the index then empty. */
static void test_relay(void **state)
{
	struct fixture *f = *state;
	static const char imei[] = "353320000000013";
	const struct store_kv fields[] = { { "reason", 6, "stolen", 6 } };
	const struct store_sms sms[2] = { { "+254712345678", "Report 1234 taken", 17 },
					  { "+254733000333", "Report 1234 taken", 17 } };
	struct answer a;

	RUN(f, a, store_report_create(f->st, imei, "1234567890", fields, 1, on_result, &a));
	assert_int_equal(a.err, 0);
	/* A move with its SMS from received: the CEIR's block (received|verified|sent). */
	RUN(f, a, store_report_transition_sms(f->st, imei, REPORT_EV_CEIR_BLOCKED, NULL, 0,
					      "ceirgw:outbox", sms, 2, on_result, &a));
	assert_int_equal(a.err, 0);
	assert_true(a.changed);
	assert_true(run_until(f->base, stream_has, &(struct stream_wait){ f, "ceirgw:outbox", 2 },
			      5000));
	run_until(f->base, answered, &(struct answer){ 0 }, 300);	/* the relay's end */
	/* A sweep later finds nothing left to relay: no second copy. */
	{
		struct answer sw = { 0 };

		assert_int_equal(store_relay_sweep(f->st, 0, 20, on_count, &sw), 0);
		assert_true(run_until(f->base, answered, &sw, 5000));
		assert_int_equal(sw.err, 0);
		assert_int_equal(sw.count, 0);
		run_until(f->base, answered, &(struct answer){ 0 }, 300);
	}
	assert_int_equal(key_int(f, "XLEN", "ceirgw:outbox"), 2);
	assert_int_equal(key_int(f, "EXISTS", "rep:{353320000000013}:out"), 0);
	assert_int_equal(key_int(f, "ZCARD", "rep:relay"), 0);
}

/* A new PIN on a cluster (issue 18): the script's keys (the report, its outbox, its owner's
 * PIN counter) share the report's slot; the receipt is relayed to the outbox stream, in
 * another slot, once. */
static void test_new_pin(void **state)
{
	struct fixture *f = *state;
	static const char imei[] = "353320000000021";
	const struct store_kv fields[] = { { "owner", 5, "+254712345678", 13 } };
	const struct store_sms sms = { "+254712345678", "New PIN 123456", 14 };
	struct answer a;
	redisContext *c;
	int port;

	RUN(f, a, store_report_create(f->st, imei, "2234567890", fields, 1, on_result, &a));
	assert_int_equal(a.err, 0);
	RUN(f, a, store_report_transition(f->st, imei, REPORT_EV_CEIR_BLOCKED, NULL, 0, on_result,
					  &a));
	assert_true(a.changed);
	c = master_of(f, "rep:{353320000000021}:pin:own", &port);
	freeReplyObject(redisCommand(c, "SET rep:{353320000000021}:pin:own 3"));
	redisFree(c);
	RUN(f, a, store_report_new_pin(f->st, imei, "2234567890", "+254712345678",
				       "0123456789abcdef", 16, 60, "ceirgw:outbox3", &sms, on_result,
				       &a));
	assert_int_equal(a.err, 0);
	assert_true(a.changed);
	assert_true(run_until(f->base, stream_has, &(struct stream_wait){ f, "ceirgw:outbox3", 1 },
			      5000));
	run_until(f->base, answered, &(struct answer){ 0 }, 300);	/* the relay's end */
	assert_int_equal(key_int(f, "XLEN", "ceirgw:outbox3"), 1);
	assert_int_equal(key_int(f, "EXISTS", "rep:{353320000000021}:out"), 0);
	assert_int_equal(key_int(f, "EXISTS", "rep:{353320000000021}:pin:own"), 0);
}

/* A relay cut short (the SMS left in the report's outbox, the report indexed): the sweep
 * sends it on. sweep_left_behind F MEMBER OUT FIELD ENTRY STREAM: ENTRY (stream, number and
 * text, as the scripts keep them) left in OUT's field FIELD, MEMBER indexed in rep:relay; one
 * sweep sends it to STREAM, once, and empties the index. Also for a line's outbox (test_otp). */
static void sweep_left_behind(struct fixture *f, const char *member, const char *out,
			      const char *field, const char *entry, const char *stream)
{
	struct answer sw;
	int port;
	redisContext *c = master_of(f, out, &port);

	assert_non_null(c);
	freeReplyObject(redisCommand(c, "HSET %s %s %s", out, field, entry));
	redisFree(c);
	c = master_of(f, "rep:relay", &port);
	assert_non_null(c);
	freeReplyObject(redisCommand(c, "ZADD rep:relay 1000 %s", member));
	redisFree(c);
	RUN(f, sw, store_relay_sweep(f->st, 10, 20, on_count, &sw));
	assert_int_equal(sw.count, 1);
	run_until(f->base, never, NULL, 1000);
	assert_int_equal(key_int(f, "XLEN", stream), 1);
	assert_int_equal(key_int(f, "ZCARD", "rep:relay"), 0);
}

static void test_relay_sweep(void **state)
{
	sweep_left_behind(*state, "490139201234567", "rep:{490139201234567}:out", "99:1",
			  "ceirgw:outbox2\n+254700000001\nLeft behind", "ceirgw:outbox2");
}

/* A one-time code (issue 18): its record, its counter and its line's outbox share one slot
 * (the script runs: a cluster refuses one whose keys lie in two); its SMS reaches the outbox
 * stream once; a code checked on the cluster; an outbox of a line left behind is swept. */
static void test_otp(void **state)
{
	struct fixture *f = *state;
	struct store_otp o = {
		.line = "+254712345678", .who = "oth", .requester = "+254733000003",
		.digest = "0123456789abcdef", .digestlen = 16, .ttl_s = 60, .max_codes = 3,
		.window_s = 3600, .tries = 3, .stream = "ceirgw:otpbox",
		.sms = { "+254712345678", "CEIR: your code is 123456.", 26 },
	};
	struct answer a = { 0 }, v = { 0 };
	redisContext *c;
	int port;
	long long s1, s2, s3;

	c = master_of(f, "otp:{+254712345678}:oth", &port);
	s1 = int_command(c, "CLUSTER KEYSLOT otp:{+254712345678}:oth");
	s2 = int_command(c, "CLUSTER KEYSLOT otp:{+254712345678}:oth:sent");
	s3 = int_command(c, "CLUSTER KEYSLOT otp:{+254712345678}:out");
	redisFree(c);
	assert_int_equal(s1, s2);
	assert_int_equal(s1, s3);
	assert_int_equal(store_otp_issue(f->st, &o, on_otp, &a), 0);
	assert_true(run_until(f->base, answered, &a, 5000));
	assert_int_equal(a.err, 0);
	assert_int_equal(a.count, STORE_OTP_SENT);
	assert_true(run_until(f->base, stream_has, &(struct stream_wait){ f, "ceirgw:otpbox", 1 },
			      5000));
	run_until(f->base, never, NULL, 300);	/* the relay's end */
	assert_int_equal(key_int(f, "XLEN", "ceirgw:otpbox"), 1);
	assert_int_equal(key_int(f, "EXISTS", "otp:{+254712345678}:out"), 0);
	assert_int_equal(key_int(f, "ZCARD", "rep:relay"), 0);
	assert_int_equal(store_verify_otp(f->st, o.line, "oth", o.requester, o.digest, 16, 3,
					  on_verify, &v), 0);
	assert_true(run_until(f->base, answered, &v, 5000));
	assert_int_equal(v.err, 0);
	assert_int_equal(v.count, STORE_VERIFY_MATCH);
	/* A relay cut short: the line's outbox swept on, once. */
	sweep_left_behind(f, "+254700000009", "otp:{+254700000009}:out", "1.2:1",
			  "ceirgw:otpbox2\n+254700000009\nLeft behind", "ceirgw:otpbox2");
}

/* WAIT: one replica per master acknowledges; asking for two answers "try again". */
static void test_replicas_ack(void **state)
{
	struct fixture *f = *state;
	struct store *one = make_store(f, 1), *two = make_store(f, 2), *keep = f->st;
	const struct store_kv fields[] = { { "reason", 6, "stolen", 6 } };
	struct answer a;

	assert_non_null(one);
	assert_non_null(two);
	f->st = one;
	RUN(f, a, store_report_create(one, "353322001234567", "2234567890", fields, 1,
				      on_result, &a));
	assert_int_equal(a.err, 0);
	assert_string_equal(a.data, "2234567890");
	RUN(f, a, store_ceir_enqueue(one, "ceir:requests", "2234567890-block", 600, fields, 1,
				     on_result, &a));
	assert_int_equal(a.err, 0);
	RUN(f, a, store_report_create(two, "353321005555555", "3234567890", fields, 1,
				      on_result, &a));
	assert_int_equal(a.err, -EAGAIN);
	f->st = keep;
	talloc_free(one);
	talloc_free(two);
}

/* A replica frozen (SIGSTOP): the writes that wait for it (redis-replicas-ack 1) on its
 * master are answered "try again", once each; the reads of that master's keys, sent with
 * them and again while their WAIT blocks on the master, are all answered before the first
 * "try again", none queued behind the WAIT (they go over the master's own connection, the
 * writes over its twin); a write on another master is not held up; once the replica is
 * thawed, a write to its master is accepted again within a few seconds. */
static pid_t frozen_pid;	/* SIGCONT by the teardown, whatever the test's outcome */

static int teardown_thaw(void **state)
{
	if (frozen_pid > 0)
		kill(frozen_pid, SIGCONT);
	frozen_pid = 0;
	return teardown(state);
}

/* The slot ranges of the master on port, from CLUSTER SLOTS. */
struct slot_ranges {
	long long lo[64], hi[64];
	int n;
};

static void master_slots(struct fixture *f, int port, struct slot_ranges *sr)
{
	redisContext *c = redisConnect(f->seeds.seed[0].host, f->seeds.seed[0].port);
	redisReply *r = redisCommand(c, "CLUSTER SLOTS");

	sr->n = 0;
	for (size_t k = 0; r && k < r->elements && sr->n < 64; k++) {
		const redisReply *e = r->element[k];

		if (e->element[2]->element[1]->integer == port) {
			sr->lo[sr->n] = e->element[0]->integer;
			sr->hi[sr->n++] = e->element[1]->integer;
		}
	}
	freeReplyObject(r);
	redisFree(c);
}

static bool on_slots(const struct slot_ranges *sr, const char *key)
{
	long long slot = cluster_keyslot(key, strlen(key));

	for (int i = 0; i < sr->n; i++)
		if (sr->lo[i] <= slot && slot <= sr->hi[i])
			return true;
	return false;
}

/* The pid of the (first) replica of the master c talks to, and its port: ROLE on the
 * master, INFO server on the replica (the same machine). 0 when it has none. */
static pid_t replica_of(redisContext *c, int *rport)
{
	redisReply *r = redisCommand(c, "ROLE");
	redisContext *rc;
	const char *p;
	pid_t pid = 0;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
	    r->element[2]->type != REDIS_REPLY_ARRAY || r->element[2]->elements == 0) {
		freeReplyObject(r);
		return 0;
	}
	*rport = atoi(r->element[2]->element[0]->element[1]->str);
	rc = redisConnect(r->element[2]->element[0]->element[0]->str, *rport);
	freeReplyObject(r);
	if (rc == NULL || rc->err) {
		if (rc)
			redisFree(rc);
		return 0;
	}
	r = redisCommand(rc, "INFO server");
	if (r && r->type == REDIS_REPLY_STRING && (p = strstr(r->str, "process_id:")) != NULL)
		pid = (pid_t)atol(p + strlen("process_id:"));
	freeReplyObject(r);
	redisFree(rc);
	return pid;
}

/* Whether a client (the store's WAIT) is blocked on the server c talks to. */
static bool master_blocked(redisContext *c)
{
	redisReply *r = redisCommand(c, "INFO clients");
	const char *p;
	bool blocked = false;

	if (r && r->type == REDIS_REPLY_STRING &&
	    (p = strstr(r->str, "blocked_clients:")) != NULL)
		blocked = atol(p + strlen("blocked_clients:")) > 0;
	freeReplyObject(r);
	return blocked;
}

/* Answers in the order they came. */
static unsigned answer_seq;

struct ordered {
	int calls, err;
	unsigned seq;
	bool found;
	char data[32];
	size_t len;
};

static void on_ordered_result(void *arg, int err, const char *s, size_t len, bool changed)
{
	struct ordered *o = arg;

	(void)s;
	(void)len;
	(void)changed;
	o->calls++;
	o->err = err;
	o->seq = ++answer_seq;
}

static void on_ordered_fields(void *arg, int err, const struct store_kv *kv, size_t n)
{
	struct ordered *o = arg;

	(void)kv;
	o->calls++;
	o->err = err;
	o->found = n > 0;
	o->seq = ++answer_seq;
}

static void on_ordered_data(void *arg, int err, const void *data, size_t len, bool found)
{
	struct ordered *o = arg;

	o->calls++;
	o->err = err;
	o->found = found;
	o->len = len;
	if (found && len <= sizeof(o->data))
		memcpy(o->data, data, len);
	o->seq = ++answer_seq;
}

struct ordered_set {
	struct ordered *o;
	int n;
};

static bool ordered_all(void *arg)
{
	const struct ordered_set *os = arg;

	for (int i = 0; i < os->n; i++)
		if (os->o[i].calls == 0)
			return false;
	return true;
}

/* The next IMEI (from *next on) whose report key the master with ranges sr serves (or, with
 * other, does not serve); ref: a reference whose ref:{ref} key is as well. */
static void pick_imei(const struct slot_ranges *sr, bool other, long long *next, char *imei,
		      char *ref)
{
	char key[48];

	for (;;) {
		snprintf(imei, 16, "%015lld", (*next)++);
		snprintf(key, sizeof(key), "rep:{%s}", imei);
		if (on_slots(sr, key) == other)
			continue;
		snprintf(ref, 11, "7%09u", (unsigned)(*next % 1000000000LL));
		snprintf(key, sizeof(key), "ref:{%s}", ref);
		if (!other || !on_slots(sr, key))
			return;
	}
}

static void test_frozen_replica_reads(void **state)
{
	enum { W = 50, RD = 50 };
	struct fixture *f = *state;
	struct store *st = make_store(f, 1);
	const struct store_kv fields[] = { { "reason", 6, "stolen", 6 } };
	static struct ordered w[W], rg[RD], sg[RD];
	static char imeis[W][16], refs[W][11];
	char imei[16], ref[11], sid[RD][16], val[16];
	struct slot_ranges sr;
	struct answer a;
	redisContext *c;
	int port = 0, rport = 0, again = 0, tries = 0;
	unsigned first_again = 0, last_read = 0;
	long long next = 490154203237518LL;
	pid_t pid;

	assert_non_null(st);
	/* The master of a report key and its replica. */
	c = master_of(f, "rep:{490154203237518}", &port);
	assert_non_null(c);
	pid = replica_of(c, &rport);
	redisFree(c);
	assert_true(pid > 0);
	master_slots(f, port, &sr);
	assert_true(sr.n > 0);

	/* Before: a write there is acknowledged by the replica (the twin connection made);
	 * sessions on that master to read back. */
	pick_imei(&sr, false, &next, imei, ref);
	RUN(f, a, store_report_create(st, imei, ref, fields, 1, on_result, &a));
	assert_int_equal(a.err, 0);
	for (int i = 0, k = 0; i < RD; k++) {
		char key[40];
		int n = snprintf(sid[i], sizeof(sid[i]), "frz-%d", k);

		snprintf(key, sizeof(key), "s:{mo:%s}", sid[i]);
		if (!on_slots(&sr, key))
			continue;
		snprintf(val, sizeof(val), "v%d", i);
		RUN(f, a, store_session_set(st, &(struct store_rec_id){ STORE_REC_MO, sid[i],
					    (size_t)n, NULL, NULL }, val, strlen(val), 60, on_done,
					    &a));
		assert_int_equal(a.err, 0);
		i++;
	}
	for (int i = 0; i < W; i++)
		pick_imei(&sr, false, &next, imeis[i], refs[i]);

	/* Frozen; then, in one pass of the loop, the writes and a wave of reads; once the
	 * writes' WAIT blocks on the master, a second wave. */
	c = redisConnect(f->seeds.seed[0].host, port);
	assert_non_null(c);
	assert_int_equal(c->err, 0);
	assert_int_equal(kill(pid, SIGSTOP), 0);
	frozen_pid = pid;
	memset(w, 0, sizeof(w));
	memset(rg, 0, sizeof(rg));
	memset(sg, 0, sizeof(sg));
	answer_seq = 0;
	for (int i = 0; i < W; i++)
		assert_int_equal(store_report_create(st, imeis[i], refs[i], fields, 1,
						     on_ordered_result, &w[i]), 0);
	for (int wave = 0; wave < 2; wave++) {
		if (wave == 1) {
			/* The writes answered by the master, their WAIT sent and blocked there
			 * (the replica cannot acknowledge), none of them answered yet. */
			for (int k = 0; k < 40 && !master_blocked(c); k++)
				run_until(f->base, never, NULL, 5);
			assert_true(master_blocked(c));
			assert_true(run_until(f->base, ordered_all,
					      &(struct ordered_set){ rg, RD / 2 }, 200));
			for (int i = 0; i < W; i++)
				assert_int_equal(w[i].calls, 0);
		}
		for (int i = wave * RD / 2; i < (wave + 1) * RD / 2; i++) {
			assert_int_equal(store_report_get(st, imeis[i % W], on_ordered_fields,
							  &rg[i]), 0);
			assert_int_equal(store_session_get(st, &(struct store_rec_id){
							   STORE_REC_MO, sid[i], strlen(sid[i]),
							   NULL, NULL }, on_ordered_data, &sg[i]), 0);
		}
	}
	redisFree(c);
	assert_true(run_until(f->base, ordered_all, &(struct ordered_set){ w, W }, 5000));
	assert_true(run_until(f->base, ordered_all, &(struct ordered_set){ rg, RD }, 5000));
	assert_true(run_until(f->base, ordered_all, &(struct ordered_set){ sg, RD }, 5000));
	run_until(f->base, never, NULL, 200);	/* a second answer would come now */
	for (int i = 0; i < RD; i++) {
		char want[16];

		assert_int_equal(rg[i].calls, 1);
		assert_int_equal(rg[i].err, 0);
		assert_int_equal(sg[i].calls, 1);
		assert_int_equal(sg[i].err, 0);
		snprintf(want, sizeof(want), "v%d", i);
		assert_true(sg[i].found);
		assert_int_equal(sg[i].len, strlen(want));
		assert_memory_equal(sg[i].data, want, sg[i].len);
		if (rg[i].seq > last_read)
			last_read = rg[i].seq;
		if (sg[i].seq > last_read)
			last_read = sg[i].seq;
	}
	for (int i = 0; i < W; i++) {
		assert_int_equal(w[i].calls, 1);
		/* No replica can have acknowledged: none "accepted", none anything but "try
		 * again". */
		assert_int_equal(w[i].err, -EAGAIN);
		again++;
		if (first_again == 0 || w[i].seq < first_again)
			first_again = w[i].seq;
	}
	assert_int_equal(again, W);
	/* Every read answered before the first write's "try again", the second wave's too,
	 * sent while the WAIT blocked: none waited behind it. */
	assert_true(last_read < first_again);
	assert_int_equal(answer_seq, W + 2 * RD);

	/* Still frozen: a write on another master (report and reference) is acknowledged. */
	pick_imei(&sr, true, &next, imei, ref);
	RUN(f, a, store_report_create(st, imei, ref, fields, 1, on_result, &a));
	assert_int_equal(a.err, 0);

	/* Thawed: within a few seconds, a write to its master is acknowledged again. */
	assert_int_equal(kill(pid, SIGCONT), 0);
	frozen_pid = 0;
	for (tries = 1; tries <= 50; tries++) {
		int rc;

		pick_imei(&sr, false, &next, imei, ref);
		memset(&a, 0, sizeof(a));
		rc = store_report_create(st, imei, ref, fields, 1, on_result, &a);
		if (rc == 0) {
			assert_true(run_until(f->base, answered, &a, 5000));
			assert_true(a.err == 0 || a.err == -EAGAIN);
			if (a.err == 0)
				break;
		} else {
			assert_int_equal(rc, -EAGAIN);	/* refused at once, before it wrote */
		}
		run_until(f->base, never, NULL, 100);
	}
	assert_true(tries <= 50);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.err, 0);
	printf("# frozen replica (port %d, master %d): %d reads, half of them sent while the WAIT "
	       "blocked, answered before the first of %d writes' \"try again\"; a write accepted "
	       "again at try %d after SIGCONT\n", rport, port, 2 * RD, W, tries);
	talloc_free(st);
}

/* The master of a key dies with operations on the wire: each is answered once, -EAGAIN,
 * within the timeout; its replica takes over and the same store goes on, the data written
 * with a replica's acknowledgement still there. */
struct burst {
	int calls, ok, again, other;
};

static void on_burst(void *arg, int err, const void *data, size_t len, bool found)
{
	struct burst *b = arg;

	(void)data;
	(void)len;
	(void)found;
	b->calls++;
	if (err == 0)
		b->ok++;
	else if (err == -EAGAIN)
		b->again++;
	else
		b->other++;
}

static bool burst_done(void *arg) { return ((struct burst *)arg)->calls == 200; }

static void test_failover(void **state)
{
	struct fixture *f = *state;
	struct store *st = make_store(f, 1);
	const struct store_kv fields[] = { { "reason", 6, "stolen", 6 } };
	struct burst b = { 0 };
	struct answer a;
	redisContext *c;
	int port = 0, n = 0;
	struct timespec t0, t1;
	double secs;

	assert_non_null(st);
	RUN(f, a, store_report_create(st, "356938035643809", "4234567890", fields, 1, on_result,
				      &a));
	assert_int_equal(a.err, 0);
	c = master_of(f, "rep:{356938035643809}", &port);
	assert_non_null(c);
	/* Frozen, then killed: what is on the wire meets the timeout or the dropped
	 * connection. */
	freeReplyObject(redisCommand(c, "CLIENT PAUSE 400 ALL"));
	for (int i = 0; i < 200; i++)
		if (store_report_find(st, "4234567890", 10, on_burst, &b) == 0)
			n++;
		else
			b.calls++, b.again++;	/* refused at once: answered, in a way */
	redisAppendCommand(c, "SHUTDOWN NOSAVE");
	redisFree(c);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_true(run_until(f->base, burst_done, &b, 5000));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_int_equal(b.calls, 200);
	assert_int_equal(b.other, 0);
	assert_true(secs < 2.5);	/* the timeout (1 s) and the pause, not a hang */
	(void)n;
	/* The replica takes over (cluster-node-timeout 1 s); the same store finds it. */
	for (int tries = 0; tries < 100; tries++) {
		memset(&a, 0, sizeof(a));
		if (store_report_find(st, "4234567890", 10, on_data, &a) == 0 &&
		    run_until(f->base, answered, &a, 2000) && a.err == 0)
			break;
		run_until(f->base, answered, &(struct answer){ 0 }, 200);
	}
	assert_int_equal(a.err, 0);
	assert_true(a.found);
	assert_memory_equal(a.data, "356938035643809", 15);
	talloc_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_spread, setup, teardown),
		cmocka_unit_test_setup_teardown(test_moved_and_ask, setup, teardown),
		cmocka_unit_test_setup_teardown(test_number_one_slot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_records_one_slot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_noscript_everywhere, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_sweep, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_pin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_otp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replicas_ack, setup, teardown),
		cmocka_unit_test_setup_teardown(test_frozen_replica_reads, setup, teardown_thaw),
		/* Last: it kills a master. */
		cmocka_unit_test_setup_teardown(test_failover, setup, teardown),
	};

	logging_setup("test_store_cluster", LOGL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
