/* Integration: the asynchronous store on a real Redis Cluster (issue 16), started by
 * store_cluster.sh (3 masters, 3 replicas, cluster-node-timeout 1 s), whose seed nodes come
 * in CLUSTER_SEEDS. Operations spread over the masters; a slot moved under the store (MOVED)
 * and a slot being migrated (ASK) are followed; scripts flushed from every node are sent
 * again by EVAL; a report's SMS reach the outbox stream once through the report's own
 * outbox; a master killed mid-run fails its operations within the timeout, each answered
 * once, and the store carries on on the promoted replica without being made again; WAIT
 * answers "try again" when fewer replicas than asked acknowledge. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <talloc.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "looplib.h"

#include "core/logging.h"
#include "core/redis_url.h"
#include "store/store.h"

struct fixture {
	void *ctx;
	struct event_base *base;
	struct redis_seeds seeds;
	struct store *st;
};

static bool is_up(void *st) { return store_is_up(st); }

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

/* ---- answers ---- */

struct answer {
	int calls, err;
	char data[256];
	size_t len;
	bool found, changed;
	long long count;
};

static bool answered(void *arg) { return ((struct answer *)arg)->calls > 0; }

static void on_done(void *arg, int err)
{
	struct answer *a = arg;

	a->calls++;
	a->err = err;
}

static void on_data(void *arg, int err, const void *data, size_t len, bool found)
{
	struct answer *a = arg;

	a->calls++;
	a->err = err;
	a->found = found;
	a->len = len;
	if (found && len <= sizeof(a->data))
		memcpy(a->data, data, len);
}

static void on_count(void *arg, int err, long long count)
{
	struct answer *a = arg;

	a->calls++;
	a->err = err;
	a->count = count;
}

static void on_limit(void *arg, int err, long long count, long long ms_left)
{
	(void)ms_left;
	on_count(arg, err, count);
}

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

struct answers {
	struct answer *a;
	int n;
};

/* Every answer in: operations on different masters answer in any order. */
static bool all_answered(void *arg)
{
	struct answers *as = arg;

	for (int i = 0; i < as->n; i++)
		if (as->a[i].calls == 0)
			return false;
	return true;
}

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
						   id, (size_t)n, NULL }, val, strlen(val), 60,
						   on_done, &set[i]), 0);
	}
	assert_true(run_until(f->base, all_answered, &(struct answers){ set, N }, 5000));
	for (int i = 0; i < N; i++) {
		int n = snprintf(id, sizeof(id), "spread-%d", i);

		assert_int_equal(set[i].calls, 1);
		assert_int_equal(set[i].err, 0);
		memset(&get[i], 0, sizeof(get[i]));
		assert_int_equal(store_session_get(f->st, &(struct store_rec_id){ STORE_REC_MO,
						   id, (size_t)n, NULL }, on_data, &get[i]), 0);
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
	const struct store_rec_id mover = { STORE_REC_MO, "mover", 5, NULL };
	const struct store_rec_id asker = { STORE_REC_MO, "asker", 5, NULL };
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
static bool outbox_has(void *arg)
{
	struct fixture *f = arg;
	int port;
	redisContext *c = master_of(f, "ceirgw:outbox", &port);
	long long n = int_command(c, "XLEN ceirgw:outbox");

	redisFree(c);
	return n >= 2;
}

static void test_relay(void **state)
{
	struct fixture *f = *state;
	static const char imei[] = "353320000000013";
	const struct store_kv fields[] = { { "reason", 6, "stolen", 6 } };
	const struct store_sms sms[2] = { { "+254712345678", "Report 1234 taken", 17 },
					  { "+254733000333", "Report 1234 taken", 17 } };
	struct answer a;
	redisContext *c;
	int port;

	RUN(f, a, store_report_create(f->st, imei, "1234567890", fields, 1, on_result, &a));
	assert_int_equal(a.err, 0);
	RUN(f, a, store_report_transition_sms(f->st, imei, "received", "sent", NULL, 0,
					      "ceirgw:outbox", sms, 2, on_result, &a));
	assert_int_equal(a.err, 0);
	assert_true(a.changed);
	assert_true(run_until(f->base, outbox_has, f, 5000));
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
	c = master_of(f, "ceirgw:outbox", &port);
	assert_int_equal(int_command(c, "XLEN ceirgw:outbox"), 2);
	redisFree(c);
	c = master_of(f, "rep:{353320000000013}:out", &port);
	assert_int_equal(int_command(c, "EXISTS rep:{353320000000013}:out"), 0);
	redisFree(c);
	c = master_of(f, "rep:relay", &port);
	assert_int_equal(int_command(c, "ZCARD rep:relay"), 0);
	redisFree(c);
}

/* A relay cut short (the SMS left in the report's outbox, the report indexed): the sweep
 * sends it on. */
static void test_relay_sweep(void **state)
{
	struct fixture *f = *state;
	struct answer sw;
	redisContext *c;
	int port;

	c = master_of(f, "rep:{490139201234567}:out", &port);
	freeReplyObject(redisCommand(c, "HSET rep:{490139201234567}:out 99:1 %s",
				     "ceirgw:outbox2\n+254700000001\nLeft behind"));
	redisFree(c);
	c = master_of(f, "rep:relay", &port);
	freeReplyObject(redisCommand(c, "ZADD rep:relay 1000 490139201234567"));
	redisFree(c);
	RUN(f, sw, store_relay_sweep(f->st, 10, 20, on_count, &sw));
	assert_int_equal(sw.count, 1);
	run_until(f->base, answered, &(struct answer){ 0 }, 1000);
	c = master_of(f, "ceirgw:outbox2", &port);
	assert_int_equal(int_command(c, "XLEN ceirgw:outbox2"), 1);
	redisFree(c);
	c = master_of(f, "rep:relay", &port);
	assert_int_equal(int_command(c, "ZCARD rep:relay"), 0);
	redisFree(c);
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
		cmocka_unit_test_setup_teardown(test_noscript_everywhere, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_sweep, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replicas_ack, setup, teardown),
		/* Last: it kills a master. */
		cmocka_unit_test_setup_teardown(test_failover, setup, teardown),
	};

	logging_setup("test_store_cluster", LOGL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
