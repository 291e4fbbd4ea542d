/* Integration: the asynchronous store against real redis-server processes. Lookups of
 * imported pairings both ways, sessions with a TTL, the rate-limit script surviving a
 * SCRIPT FLUSH (EVALSHA falls back to EVAL), every pending operation answered exactly once
 * when the server dies or freezes (redis-timeout), and AUTH with a password and with an
 * ACL user. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <talloc.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include <hiredis/hiredis.h>

#include "core/logging.h"
#include "core/redis_url.h"
#include "domain/imei.h"
#include "feed/entry.h"
#include "store/bulk.h"
#include "store/redis_embed.h"
#include "store/store.h"

#include "store_testlib.h"

#define BODY_A 35693803564380ULL	/* 356938035643809 */
#define BODY_B 35209901111111ULL
#define MSISDN_1 254712345678ULL
#define MSISDN_2 254712345679ULL

struct fixture {
	char dir[PATH_MAX];
	const char *server;
	void *ctx;
	struct event_base *base;
	struct redis_embed *re;
	struct redis_url url;
	struct store *st;
};

static const struct store_options opts = { .bucket_digits = 5 };

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct bulk_options bo = { 5, 2, true, 1000, 0 };
	struct pair_rec a1 = { MSISDN_1, 0, 8800, 8900 }, a2 = { MSISDN_2, 0, 8850, 8860 };
	struct pair_rec b1 = { MSISDN_1, 0, 9000, 9100 };
	char err[512];
	struct kyc_rec k1 = { { 1, 2, 3, 4, 5, 6, 7, 8 }, { 9, 10, 11, 12 }, 7000 };
	struct bulk *b;

	if (f == NULL || testlib_tmpdir(f->dir, sizeof(f->dir), "ceirgw-store") < 0)
		return -1;
	f->server = testlib_redis_server();
	f->ctx = talloc_new(NULL);
	f->base = event_base_new();
	f->re = redis_embed_start(f->ctx, f->server, f->dir, 10000, err, sizeof(err));
	if (f->re == NULL) {
		fprintf(stderr, "redis: %s\n", err);
		return -1;
	}
	f->url.kind = REDIS_URL_UNIX;
	snprintf(f->url.path, sizeof(f->url.path), "%s", redis_embed_socket(f->re));
	/* Two pairings of IMEI A (overlapping: a duplicate), one of IMEI B. */
	b = bulk_connect(f->ctx, &f->url, &bo, 5000, err, sizeof(err));
	if (b == NULL || bulk_add_pairing(b, BODY_A, &a1) < 0 ||
	    bulk_add_pairing(b, BODY_A, &a2) < 0 || bulk_add_pairing(b, BODY_B, &b1) < 0 ||
	    bulk_add_kyc(b, MSISDN_1, &k1) < 0 ||
	    bulk_flush(b) < 0)
		return -1;
	talloc_free(b);
	f->st = store_create(f->ctx, f->base, &f->url, &opts);
	*state = f;
	return f->st && run_until(f->base, is_up, f->st, 5000) ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	return testlib_free_fixture(f, f->ctx, f->base, f->dir);
}

static void test_lookups(void **state)
{
	struct fixture *f = *state;
	struct answer a = { 0 }, b = { 0 }, c = { 0 }, d = { 0 }, k = { 0 }, nk = { 0 };

	assert_int_equal(store_imei_pairings(f->st, BODY_A, on_pairings, &a), 0);
	assert_int_equal(store_msisdn_handsets(f->st, MSISDN_1, on_handsets, &b), 0);
	assert_int_equal(store_imei_pairings(f->st, 35693803000000ULL, on_pairings, &c), 0);
	assert_int_equal(store_msisdn_handsets(f->st, 254799999999ULL, on_handsets, &d), 0);
	assert_int_equal(store_kyc_get(f->st, MSISDN_1, on_kyc, &k), 0);
	assert_int_equal(store_kyc_get(f->st, MSISDN_2, on_kyc, &nk), 0);
	assert_true(run_until(f->base, answered, &nk, 5000));
	assert_true(k.found);
	assert_int_equal(k.count, 7000 + 12000);
	assert_false(nk.found);
	assert_int_equal(nk.err, 0);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.err, 0);
	assert_int_equal(a.n, 2);
	assert_int_equal(a.recs[0].msisdn, MSISDN_1);
	assert_int_equal(a.recs[0].first_seen, 8800);
	assert_int_equal(a.recs[0].last_seen, 8900);
	assert_true(pairs_duplicated(a.recs, a.n, 2, true));
	assert_int_equal(b.n, 2);	/* MSISDN 1 used IMEI A, then IMEI B */
	assert_int_equal(b.bodies[0], BODY_A);
	assert_int_equal(b.bodies[1], BODY_B);
	assert_int_equal(c.err, 0);
	assert_int_equal(c.n, 0);
	assert_int_equal(d.n, 0);
	assert_int_equal(store_pending(f->st), 0);
}

static void test_session(void **state)
{
	struct fixture *f = *state;
	struct answer set = { 0 }, get = { 0 }, del = { 0 }, gone = { 0 };
	static const char id[] = "ATUid_0123456789abcdef";
	static const char blob[] = "menu=report\0step=3";	/* binary-safe */
	const struct store_rec_id rid = { STORE_REC_MO, id, sizeof(id) - 1, NULL, NULL };
	const struct store_rec_id none = { STORE_REC_MO, "", 0, NULL, NULL };
	const struct store_rec_id ussd = { STORE_REC_USSD, "ATUid_1", 7, "+254712345678", NULL };
	redisContext *c;
	redisReply *r;

	assert_int_equal(store_session_set(f->st, &rid, blob, sizeof(blob), 120,
					   on_done, &set), 0);
	assert_int_equal(store_session_get(f->st, &rid, on_data, &get), 0);
	assert_true(run_until(f->base, answered, &get, 5000));
	assert_int_equal(set.err, 0);
	assert_true(get.found);
	assert_int_equal(get.len, sizeof(blob));
	assert_memory_equal(get.data, blob, sizeof(blob));
	c = redisConnectUnix(f->url.path);
	r = redisCommand(c, "TTL s:{mo:%s}", id);
	assert_true(r->integer > 100 && r->integer <= 120);
	freeReplyObject(r);
	assert_int_equal(store_session_del(f->st, &rid, on_done, &del), 0);
	assert_int_equal(store_session_get(f->st, &rid, on_data, &gone), 0);
	assert_true(run_until(f->base, answered, &gone, 5000));
	assert_false(gone.found);
	assert_int_equal(store_session_get(f->st, &none, on_data, &gone), -EINVAL);
	assert_int_equal(store_session_set(f->st, &rid, "x", 1, 0, on_done, &set), -EINVAL);
	/* A USSD session's record is named by its id and the caller's number. */
	memset(&set, 0, sizeof(set));
	assert_int_equal(store_session_set(f->st, &ussd, "x", 1, 60, on_done, &set), 0);
	assert_true(run_until(f->base, answered, &set, 5000));
	r = redisCommand(c, "EXISTS s:{u:ATUid_1:254712345678}");
	assert_int_equal(r->integer, 1);
	freeReplyObject(r);
	redisFree(c);
}

/* Issue 18: a number's resume record shares its language's slot; a dial reads both with one
 * MGET; each is there or not on its own. */
static void test_resume_record(void **state)
{
	struct fixture *f = *state;
	static const char num[] = "+254712345678";
	const struct store_rec_id lang = { STORE_REC_LANG, num, sizeof(num) - 1, NULL, NULL };
	const struct store_rec_id resume = { STORE_REC_RESUME, num, sizeof(num) - 1, NULL, NULL };
	static const char rec[] = "v=1\ns=report_police_ask\nl=fr\n";
	struct answer a;
	redisContext *c = redisConnectUnix(f->url.path);
	redisReply *r;

	memset(&a, 0, sizeof(a));
	assert_int_equal(store_number_get(f->st, num, sizeof(num) - 1, on_number, &a), 0);
	assert_true(run_until(f->base, answered, &a, 5000));
	assert_int_equal(a.err, 0);
	assert_false(a.changed);	/* no language */
	assert_false(a.found);		/* no journey in progress */
	/* the journey alone */
	memset(&a, 0, sizeof(a));
	assert_int_equal(store_session_set(f->st, &resume, rec, sizeof(rec) - 1, 10, on_done,
					   &a), 0);
	assert_true(run_until(f->base, answered, &a, 5000));
	assert_int_equal(a.err, 0);
	r = redisCommand(c, "TTL s:{lang:%s}:resume", num);
	assert_true(r->integer > 5 && r->integer <= 10);
	freeReplyObject(r);
	memset(&a, 0, sizeof(a));
	assert_int_equal(store_number_get(f->st, num, sizeof(num) - 1, on_number, &a), 0);
	assert_true(run_until(f->base, answered, &a, 5000));
	assert_false(a.changed);
	assert_true(a.found);
	/* both */
	memset(&a, 0, sizeof(a));
	assert_int_equal(store_session_set(f->st, &lang, "fr", 2, 60, on_done, &a), 0);
	assert_true(run_until(f->base, answered, &a, 5000));
	memset(&a, 0, sizeof(a));
	assert_int_equal(store_number_get(f->st, num, sizeof(num) - 1, on_number, &a), 0);
	assert_true(run_until(f->base, answered, &a, 5000));
	assert_true(a.changed);
	assert_int_equal(a.len, 2);
	assert_memory_equal(a.data, "fr", 2);
	assert_true(a.found);
	/* read back whole, then dropped: the language stays */
	memset(&a, 0, sizeof(a));
	assert_int_equal(store_session_get(f->st, &resume, on_data, &a), 0);
	assert_true(run_until(f->base, answered, &a, 5000));
	assert_true(a.found);
	assert_int_equal(a.len, sizeof(rec) - 1);
	assert_memory_equal(a.data, rec, a.len);
	memset(&a, 0, sizeof(a));
	assert_int_equal(store_session_del(f->st, &resume, on_done, &a), 0);
	assert_true(run_until(f->base, answered, &a, 5000));
	memset(&a, 0, sizeof(a));
	assert_int_equal(store_number_get(f->st, num, sizeof(num) - 1, on_number, &a), 0);
	assert_true(run_until(f->base, answered, &a, 5000));
	assert_true(a.changed);
	assert_false(a.found);
	/* one slot: the same hash tag */
	r = redisCommand(c, "EXISTS s:{lang:%s}", num);
	assert_int_equal(r->integer, 1);
	freeReplyObject(r);
	assert_int_equal(store_number_get(f->st, "", 0, on_number, &a), -EINVAL);
	redisFree(c);
}

/* Issue 21: the box keeps an MO's record in the slot of the engine's first read (the
 * number's language, or a USSD answer's session) and reads them with one MGET. */
static void test_records(void **state)
{
	struct fixture *f = *state;
	static const char num[] = "+254712345678";
	static const char id[] = "0123456789abcdef0123456789abcdef";
	const struct store_rec_id lang = { STORE_REC_LANG, num, sizeof(num) - 1, NULL, NULL };
	const struct store_rec_id resume = { STORE_REC_RESUME, num, sizeof(num) - 1, NULL, NULL };
	const struct store_rec_id ussd = { STORE_REC_USSD, "ATUid_1", 7, num, NULL };
	const struct store_rec_id other = { STORE_REC_LANG, "+254722000111", 13, NULL, NULL };
	const struct store_rec_id sms[3] = {
		{ STORE_REC_MO, id, sizeof(id) - 1, NULL, &lang }, lang, resume,
	};
	const struct store_rec_id answer[2] = {
		{ STORE_REC_MO, id, sizeof(id) - 1, NULL, &ussd }, ussd,
	};
	const struct store_rec_id cross[2] = { sms[0], other };
	const struct store_rec_id bad = { STORE_REC_MO, id, sizeof(id) - 1, NULL, &sms[0] };
	redisContext *c = redisConnectUnix(f->url.path);
	redisReply *r;
	struct answer a;

	/* none of them yet */
	memset(&a, 0, sizeof(a));
	assert_int_equal(store_records_get(f->st, sms, 3, on_records, &a), 0);
	assert_true(run_until(f->base, answered, &a, 5000));
	assert_int_equal(a.err, 0);
	assert_int_equal(a.n, 3);
	assert_int_equal(a.count, 0);
	assert_int_equal(a.len, 5);
	assert_memory_equal(a.data, "-|-|-", 5);
	/* the language and the MO's reply: each as it is */
	memset(&a, 0, sizeof(a));
	assert_int_equal(store_session_set(f->st, &lang, "fr", 2, 60, on_done, &a), 0);
	assert_true(run_until(f->base, answered, &a, 5000));
	memset(&a, 0, sizeof(a));
	assert_int_equal(store_session_set(f->st, &sms[0], "rs hello", 8, 120, on_done, &a), 0);
	assert_true(run_until(f->base, answered, &a, 5000));
	assert_int_equal(a.err, 0);
	r = redisCommand(c, "TTL s:{lang:%s}:mo:%s", num, id);
	assert_true(r->integer > 100 && r->integer <= 120);
	freeReplyObject(r);
	memset(&a, 0, sizeof(a));
	assert_int_equal(store_records_get(f->st, sms, 3, on_records, &a), 0);
	assert_true(run_until(f->base, answered, &a, 5000));
	assert_int_equal(a.err, 0);
	assert_int_equal(a.count, 3);
	assert_int_equal(a.len, 13);
	assert_memory_equal(a.data, "rs hello|fr|-", 13);
	/* a USSD answer's: under the session's tag */
	memset(&a, 0, sizeof(a));
	assert_int_equal(store_session_set(f->st, &answer[0], "s", 1, 60, on_done, &a), 0);
	assert_true(run_until(f->base, answered, &a, 5000));
	r = redisCommand(c, "EXISTS s:{u:ATUid_1:254712345678}:mo:%s", id);
	assert_int_equal(r->integer, 1);
	freeReplyObject(r);
	memset(&a, 0, sizeof(a));
	assert_int_equal(store_records_get(f->st, answer, 2, on_records, &a), 0);
	assert_true(run_until(f->base, answered, &a, 5000));
	assert_int_equal(a.err, 0);
	assert_int_equal(a.count, 1);
	assert_memory_equal(a.data, "s|-", 3);
	/* what a Cluster would refuse, refused here too; an MO's slot is a language's or a
	 * session's */
	assert_int_equal(store_records_get(f->st, cross, 2, on_records, &a), -EINVAL);
	assert_int_equal(store_records_get(f->st, sms, 0, on_records, &a), -EINVAL);
	assert_int_equal(store_records_get(f->st, sms, STORE_RECORDS_MAX + 1, on_records, &a),
			 -EINVAL);
	assert_int_equal(store_records_get(f->st, &bad, 1, on_records, &a), -EINVAL);
	assert_int_equal(store_pending(f->st), 0);
	redisFree(c);
}

static void test_rate_script_survives_flush(void **state)
{
	struct fixture *f = *state;
	struct answer a = { 0 }, b = { 0 };
	redisContext *c = redisConnectUnix(f->url.path);
	redisReply *r;

	assert_int_equal(store_limit_hit(f->st, STORE_LIMIT_VERIFY, "+254712345678", 13, 60, on_limit, &a), 0);
	assert_true(run_until(f->base, answered, &a, 5000));
	assert_int_equal(a.err, 0);
	assert_int_equal(a.count, 1);
	/* A restarted or flushed Redis forgets scripts: EVALSHA meets NOSCRIPT, EVAL runs it. */
	freeReplyObject(redisCommand(c, "SCRIPT FLUSH"));
	assert_int_equal(store_limit_hit(f->st, STORE_LIMIT_VERIFY, "+254712345678", 13, 60, on_limit, &b), 0);
	assert_true(run_until(f->base, answered, &b, 5000));
	assert_int_equal(b.err, 0);
	assert_int_equal(b.count, 2);
	r = redisCommand(c, "PTTL rl:{vf:m:+254712345678}");
	assert_true(r->integer > 50000 && r->integer <= 60000);	/* set by the first hit */
	freeReplyObject(r);
	redisFree(c);
}

struct result {
	int calls, err;
	char s[64];
	bool changed;
	size_t nkv;
	char state[16];
};

static bool got_result(void *arg) { return ((struct result *)arg)->calls > 0; }

static void on_result(void *arg, int err, const char *s, size_t len, bool changed)
{
	struct result *r = arg;

	r->calls++;
	r->err = err;
	r->changed = changed;
	snprintf(r->s, sizeof(r->s), "%.*s", (int)len, s ? s : "");
}

static void on_fields(void *arg, int err, const struct store_kv *kv, size_t n)
{
	struct result *r = arg;
	size_t i;

	r->calls++;
	r->err = err;
	r->nkv = n;
	for (i = 0; i < n; i++) {
		if (kv[i].klen == 5 && memcmp(kv[i].key, "state", 5) == 0)
			snprintf(r->state, sizeof(r->state), "%.*s", (int)kv[i].vlen, kv[i].val);
	}
}

/* Runs one operation to its answer. */
#define RUN(f, r, call) do { \
	memset(&(r), 0, sizeof(r)); \
	assert_int_equal((call), 0); \
	assert_true(run_until((f)->base, got_result, &(r), 5000)); \
	assert_int_equal((r).calls, 1); \
} while (0)

static void test_reports(void **state)
{
	struct fixture *f = *state;
	static const char imei[] = "356938035643809";
	const struct store_kv fields[] = {
		{ "reason", 6, "stolen", 6 }, { "reporter", 8, "+254712345678", 13 },
		{ "channel", 7, "ussd", 4 },
	};
	struct result r;
	redisContext *c = redisConnectUnix(f->url.path);
	redisReply *rr;

	RUN(f, r, store_report_create(f->st, imei, "K7Q2X4", fields, 3, on_result, &r));
	assert_int_equal(r.err, 0);
	assert_string_equal(r.s, "K7Q2X4");
	assert_true(r.changed);
	/* A retry, or a second reporter: the open report's reference, nothing new. */
	RUN(f, r, store_report_create(f->st, imei, "ZZZZZZ", fields, 3, on_result, &r));
	assert_string_equal(r.s, "K7Q2X4");
	assert_false(r.changed);
	{
		struct answer g = { 0 }, u = { 0 };

		assert_int_equal(store_report_find(f->st, "K7Q2X4", 6, on_data, &g), 0);
		assert_int_equal(store_report_find(f->st, "ZZZZZZ", 6, on_data, &u), 0);
		assert_true(run_until(f->base, answered, &u, 5000));
		assert_true(g.found);
		assert_int_equal(g.len, 15);
		assert_memory_equal(g.data, imei, 15);
		assert_false(u.found);	/* the reference that was not issued maps to nothing */
	}
	RUN(f, r, store_report_transition(f->st, imei, REPORT_EV_VERIFY, NULL, 0, on_result,
					  &r));
	assert_string_equal(r.s, "verified");
	assert_true(r.changed);
	/* An event whose states leave verified out (sent|blocked). */
	RUN(f, r, store_report_transition(f->st, imei, REPORT_EV_UNBLOCK_REQUEST, NULL, 0,
					  on_result, &r));
	assert_string_equal(r.s, "verified");	/* not from verified */
	assert_false(r.changed);
	RUN(f, r, store_report_get(f->st, imei, on_fields, &r));
	assert_string_equal(r.state, "verified");
	assert_true(r.nkv >= 7);	/* ref, state, created, updated and the three given */
	RUN(f, r, store_report_transition(f->st, "490139201234567", REPORT_EV_VERIFY, NULL, 0,
					  on_result, &r));
	assert_string_equal(r.s, "");	/* no report */
	/* Closed, the IMEI can be reported again; the old reference is kept. */
	RUN(f, r, store_report_transition(f->st, imei, REPORT_EV_CEIR_REJECTED, fields, 1,
					  on_result, &r));
	RUN(f, r, store_report_create(f->st, imei, "M3N4P5", fields, 3, on_result, &r));
	assert_string_equal(r.s, "M3N4P5");
	assert_true(r.changed);
	rr = redisCommand(c, "LRANGE rep:{%s}:past 0 -1", imei);
	assert_int_equal(rr->elements, 1);
	assert_string_equal(rr->element[0]->str, "K7Q2X4");
	freeReplyObject(rr);
	assert_int_equal(store_report_create(f->st, "35693803564380", "X", fields, 1, on_result,
					     &r), -EINVAL);
	redisFree(c);
}

/* A new PIN (issue 18): the digest replaced, the owner's counter reset, the strangers' kept,
 * the receipt queued and relayed, all only for the report of that reference and owner and in
 * a state the PIN unblocks from. */
static bool stream_has_one(void *arg)
{
	redisContext *c = arg;
	redisReply *rr = redisCommand(c, "XLEN ceirgw:outbox");
	bool one = rr && rr->type == REDIS_REPLY_INTEGER && rr->integer == 1;

	freeReplyObject(rr);
	return one;
}

static long long int_reply(redisContext *c, const char *cmd)
{
	redisReply *rr = redisCommand(c, cmd);
	long long v = -1;

	if (rr && rr->type == REDIS_REPLY_INTEGER)
		v = rr->integer;
	else if (rr && rr->type == REDIS_REPLY_STRING)
		v = atoll(rr->str);
	freeReplyObject(rr);
	return v;
}

static void test_new_pin(void **state)
{
	struct fixture *f = *state;
	static const char imei[] = "490139201234567";
	const struct store_kv fields[] = { { "owner", 5, "+254712345678", 13 } };
	const struct store_sms sms = { "+254712345678", "CEIR: report 1234567890 PIN 654321", 34 };
	struct result r;
	redisContext *c = redisConnectUnix(f->url.path);
	redisReply *rr;

	RUN(f, r, store_report_create(f->st, imei, "1234567890", fields, 1, on_result, &r));
	RUN(f, r, store_report_transition(f->st, imei, REPORT_EV_VERIFY, NULL, 0, on_result, &r));
	/* Not yet with the CEIR: no PIN to replace (the states are UNBLOCK_REQUEST's). */
	RUN(f, r, store_report_new_pin(f->st, imei, "1234567890", "+254712345678",
				       "aaaaaaaaaaaaaaaa", 16, 60, NULL, NULL, on_result, &r));
	assert_int_equal(r.err, 0);
	assert_string_equal(r.s, "verified");
	assert_false(r.changed);
	RUN(f, r, store_report_transition(f->st, imei, REPORT_EV_SEND, NULL, 0, on_result, &r));
	freeReplyObject(redisCommand(c, "HSET rep:{%s} pin 0123456789abcdef", imei));
	freeReplyObject(redisCommand(c, "SET rep:{%s}:pin:own 2", imei));
	freeReplyObject(redisCommand(c, "SET rep:{%s}:pin:oth 3", imei));
	/* Another reference (the report was closed and opened again since), another owner. */
	RUN(f, r, store_report_new_pin(f->st, imei, "9999999999", "+254712345678",
				       "bbbbbbbbbbbbbbbb", 16, 60, NULL, NULL, on_result, &r));
	assert_string_equal(r.s, "");
	assert_false(r.changed);
	RUN(f, r, store_report_new_pin(f->st, imei, "1234567890", "+254799999999",
				       "bbbbbbbbbbbbbbbb", 16, 60, NULL, NULL, on_result, &r));
	assert_string_equal(r.s, "");
	assert_false(r.changed);
	RUN(f, r, store_report_new_pin(f->st, "356938035643809", "1234567890", "+254712345678",
				       "bbbbbbbbbbbbbbbb", 16, 60, NULL, NULL, on_result, &r));
	assert_string_equal(r.s, "");	/* no report */
	rr = redisCommand(c, "HGET rep:{%s} pin", imei);
	assert_string_equal(rr->str, "0123456789abcdef");
	freeReplyObject(rr);
	/* The owner's: replaced with the receipt in the same step, relayed once. */
	freeReplyObject(redisCommand(c, "SCRIPT FLUSH"));	/* NOSCRIPT: EVAL */
	RUN(f, r, store_report_new_pin(f->st, imei, "1234567890", "+254712345678",
				       "cccccccccccccccc", 16, 60, "ceirgw:outbox", &sms, on_result, &r));
	assert_int_equal(r.err, 0);
	assert_string_equal(r.s, "sent");
	assert_true(r.changed);
	rr = redisCommand(c, "HGET rep:{%s} pin", imei);
	assert_string_equal(rr->str, "cccccccccccccccc");
	freeReplyObject(rr);
	assert_int_equal(int_reply(c, "EXISTS rep:{490139201234567}:pin:own"), 0);
	assert_int_equal(int_reply(c, "GET rep:{490139201234567}:pin:oth"), 3);
	assert_true(run_until(f->base, stream_has_one, c, 5000));
	rr = redisCommand(c, "XRANGE ceirgw:outbox - +");
	assert_int_equal(rr->elements, 1);
	assert_string_equal(rr->element[0]->element[1]->element[1]->str, "+254712345678");
	assert_string_equal(rr->element[0]->element[1]->element[3]->str, sms.text);
	freeReplyObject(rr);
	/* Asked again at once: the receipt just sent stands, nothing changes, no second SMS. */
	RUN(f, r, store_report_new_pin(f->st, imei, "1234567890", "+254712345678",
				       "eeeeeeeeeeeeeeee", 16, 60, "ceirgw:outbox", &sms, on_result,
				       &r));
	assert_string_equal(r.s, "recent");
	assert_false(r.changed);
	rr = redisCommand(c, "HGET rep:{%s} pin", imei);
	assert_string_equal(rr->str, "cccccccccccccccc");
	freeReplyObject(rr);
	assert_int_equal(int_reply(c, "XLEN ceirgw:outbox"), 1);
	/* ... but once that time is over, a new one. */
	RUN(f, r, store_report_new_pin(f->st, imei, "1234567890", "+254712345678",
				       "eeeeeeeeeeeeeeee", 16, 0, NULL, NULL, on_result, &r));
	assert_true(r.changed);
	/* Unblock requested: a PIN no longer unblocks anything, nothing changes. */
	RUN(f, r, store_report_transition(f->st, imei, REPORT_EV_UNBLOCK_REQUEST, NULL, 0,
					  on_result, &r));
	RUN(f, r, store_report_new_pin(f->st, imei, "1234567890", "+254712345678",
				       "dddddddddddddddd", 16, 60, "ceirgw:outbox", &sms, on_result, &r));
	assert_string_equal(r.s, "unblock_sent");
	assert_false(r.changed);
	assert_int_equal(store_report_new_pin(f->st, imei, "1234567890", "+254712345678", "x", 0, 60,
					      NULL, NULL, on_result, &r), -EINVAL);
	redisFree(c);
}

/* A one-time code (issue 18): issued with its SMS, relayed to the outbox stream once; only a
 * digest kept; checked with the try counted in the same step, at most 3 wrong per code even
 * when 300 arrive at once; a match deletes it; only the asker compares; a locked code
 * refuses a new one until it expires; at most max codes per window, "own" apart. */
#define OTP_LINE "+254712345678"
#define OTP_ASKER "+254733000003"

static bool otp_relayed(void *arg)
{
	struct fixture *f = arg;
	redisContext *c = redisConnectUnix(f->url.path);
	redisReply *r = redisCommand(c, "XLEN otp:test:outbox");
	bool done = r && r->integer >= 1;

	freeReplyObject(r);
	redisFree(c);
	return done;
}

static int otp_issue(struct fixture *f, const char *who, const char *asker, const char *digest,
		     unsigned ttl_s, struct answer *a)
{
	struct store_otp o = {
		.line = OTP_LINE, .who = who, .requester = asker, .digest = digest,
		.digestlen = strlen(digest), .ttl_s = ttl_s, .max_codes = 3, .window_s = 3600,
		.tries = 3, .stream = "otp:test:outbox",
		.sms = { OTP_LINE, "CEIR: your code is 123456.", 26 },
	};

	memset(a, 0, sizeof(*a));
	if (store_otp_issue(f->st, &o, on_otp, a) != 0 ||
	    !run_until(f->base, answered, a, 5000))
		return -1;
	return 0;
}

static long long otp_verify(struct fixture *f, const char *who, const char *asker,
			    const char *digest, size_t *left)
{
	struct answer a = { 0 };

	assert_int_equal(store_verify_otp(f->st, OTP_LINE, who, asker, digest, strlen(digest), 3,
					  on_verify, &a), 0);
	assert_true(run_until(f->base, answered, &a, 5000));
	assert_int_equal(a.err, 0);
	if (left)
		*left = a.n;
	return a.count;
}

static void test_otp(void **state)
{
	struct fixture *f = *state;
	redisContext *c = redisConnectUnix(f->url.path);
	struct answer a;
	redisReply *r;
	size_t left;

	assert_int_equal(otp_issue(f, "oth", OTP_ASKER, "d1d1d1d1d1d1d1d1", 60, &a), 0);
	assert_int_equal(a.err, 0);
	assert_int_equal(a.count, STORE_OTP_SENT);
	assert_int_equal(a.n, 60000);
	/* The SMS reaches the stream once; the line's outbox and the index are then empty. */
	assert_true(run_until(f->base, otp_relayed, f, 5000));
	run_until(f->base, never, NULL, 200);
	r = redisCommand(c, "XRANGE otp:test:outbox - +");
	assert_int_equal(r->elements, 1);
	assert_string_equal(r->element[0]->element[1]->element[1]->str, OTP_LINE);
	freeReplyObject(r);
	r = redisCommand(c, "EXISTS otp:{" OTP_LINE "}:out");
	assert_int_equal(r->integer, 0);
	freeReplyObject(r);
	r = redisCommand(c, "ZCARD rep:relay");
	assert_int_equal(r->integer, 0);
	freeReplyObject(r);
	/* Only the digest is kept, never the code. */
	r = redisCommand(c, "HGETALL otp:{" OTP_LINE "}:oth");
	assert_int_equal(r->elements, 6);
	for (size_t i = 0; i < r->elements; i++)
		assert_null(strstr(r->element[i]->str, "123456"));
	freeReplyObject(r);

	/* Anyone but the asker compares nothing. */
	assert_int_equal(otp_verify(f, "oth", "+254755000005", "d1d1d1d1d1d1d1d1", NULL),
			 STORE_VERIFY_NONE);
	/* 300 wrong codes at once: 3 compared, the rest refused; the right one after them too. */
	{
		struct answer *as = talloc_zero_array(f->ctx, struct answer, 300);
		struct answers all = { as, 300 };
		int mismatch = 0, locked = 0;

		for (int i = 0; i < 300; i++)
			assert_int_equal(store_verify_otp(f->st, OTP_LINE, "oth", OTP_ASKER,
							  "eeeeeeeeeeeeeeee", 16, 3, on_verify,
							  &as[i]), 0);
		assert_true(run_until(f->base, all_answered, &all, 10000));
		for (int i = 0; i < 300; i++) {
			mismatch += as[i].count == STORE_VERIFY_MISMATCH;
			locked += as[i].count == STORE_VERIFY_LOCKED;
		}
		assert_int_equal(mismatch, 3);
		assert_int_equal(locked, 297);
		talloc_free(as);
	}
	assert_int_equal(otp_verify(f, "oth", OTP_ASKER, "d1d1d1d1d1d1d1d1", NULL),
			 STORE_VERIFY_LOCKED);
	/* A locked code refuses a new one until it expires. */
	assert_int_equal(otp_issue(f, "oth", OTP_ASKER, "d2d2d2d2d2d2d2d2", 1, &a), 0);
	assert_int_equal(a.count, STORE_OTP_LOCKED);
	assert_true(a.n > 50000 && a.n <= 60000);
	/* The owner's own line has its own code and budget. */
	assert_int_equal(otp_issue(f, "own", OTP_LINE, "d3d3d3d3d3d3d3d3", 1, &a), 0);
	assert_int_equal(a.count, STORE_OTP_SENT);
	assert_int_equal(otp_verify(f, "own", OTP_LINE, "xxxxxxxxxxxxxxxx", &left),
			 STORE_VERIFY_MISMATCH);
	assert_int_equal(left, 2);
	assert_int_equal(otp_verify(f, "own", OTP_LINE, "d3d3d3d3d3d3d3d3", NULL),
			 STORE_VERIFY_MATCH);
	/* A match deletes the code. */
	assert_int_equal(otp_verify(f, "own", OTP_LINE, "d3d3d3d3d3d3d3d3", NULL),
			 STORE_VERIFY_NONE);
	/* Expired: a code of one second, no longer there after it. */
	freeReplyObject(redisCommand(c, "DEL otp:{" OTP_LINE "}:oth"));
	assert_int_equal(otp_issue(f, "oth", OTP_ASKER, "d4d4d4d4d4d4d4d4", 1, &a), 0);
	assert_int_equal(a.count, STORE_OTP_SENT);
	run_until(f->base, never, NULL, 1200);
	assert_int_equal(otp_verify(f, "oth", OTP_ASKER, "d4d4d4d4d4d4d4d4", NULL),
			 STORE_VERIFY_NONE);
	/* The third code of the window is sent, the fourth refused with the window's end. */
	assert_int_equal(otp_issue(f, "oth", OTP_ASKER, "d5d5d5d5d5d5d5d5", 60, &a), 0);
	assert_int_equal(a.count, STORE_OTP_SENT);
	assert_int_equal(otp_issue(f, "oth", OTP_ASKER, "d6d6d6d6d6d6d6d6", 60, &a), 0);
	assert_int_equal(a.count, STORE_OTP_LIMITED);
	assert_true(a.n > 3590000 && a.n <= 3600000);
	/* The refused code did not replace the one sent. */
	assert_int_equal(otp_verify(f, "oth", OTP_ASKER, "d5d5d5d5d5d5d5d5", NULL),
			 STORE_VERIFY_MATCH);
	/* Bad arguments are refused before anything is sent. */
	assert_int_equal(store_verify_otp(f->st, "254712345678", "oth", OTP_ASKER, "d", 1, 3,
					  on_verify, &a), -EINVAL);
	assert_int_equal(store_verify_otp(f->st, OTP_LINE, "any", OTP_ASKER, "d", 1, 3,
					  on_verify, &a), -EINVAL);
	redisFree(c);
}

static void test_enqueue_once(void **state)
{
	struct fixture *f = *state;
	const struct store_kv fields[] = {
		{ "request_id", 10, "req-1", 5 }, { "type", 4, "block", 5 },
		{ "imei", 4, "356938035643809", 15 },
	};
	struct result a, b, d;
	redisContext *c = redisConnectUnix(f->url.path);
	redisReply *rr;

	RUN(f, a, store_ceir_enqueue(f->st, "ceir:requests", "req-1", 86400, fields, 3,
				     on_result, &a));
	assert_int_equal(a.err, 0);
	assert_true(a.changed);
	/* The user retries, or ceirgw restarts and sends it again: the same entry. */
	freeReplyObject(redisCommand(c, "SCRIPT FLUSH"));
	RUN(f, b, store_ceir_enqueue(f->st, "ceir:requests", "req-1", 86400, fields, 3,
				     on_result, &b));
	assert_false(b.changed);
	assert_string_equal(a.s, b.s);
	RUN(f, d, store_ceir_enqueue(f->st, "ceir:requests", "req-2", 86400, fields, 3,
				     on_result, &d));
	assert_true(d.changed);
	rr = redisCommand(c, "XLEN ceir:requests");
	assert_int_equal(rr->integer, 2);
	freeReplyObject(rr);
	/* The dedup key lives in the stream's slot. */
	rr = redisCommand(c, "CLUSTER KEYSLOT ceir:requests");
	if (rr->type == REDIS_REPLY_INTEGER) {
		long long slot = rr->integer;

		freeReplyObject(rr);
		rr = redisCommand(c, "CLUSTER KEYSLOT {ceir:requests}:seen:req-1");
		assert_int_equal(rr->integer, slot);
	}
	freeReplyObject(rr);
	redisFree(c);
}

/* The country's feed log (issue 19): a CEIR decision's entry goes into the report's outbox
 * with its move and is appended to the log once by the relay, whatever repeats; the
 * checkpointer's reads and writes. */
static bool log_has(void *arg)
{
	redisContext *c = arg;
	redisReply *rr = redisCommand(c, "LLEN feed:{feed}:entries");
	bool two = rr && rr->type == REDIS_REPLY_INTEGER && rr->integer == 2;

	freeReplyObject(rr);
	return two;
}

struct items {
	int calls, err;
	size_t n;
	char first[64];
};

static void on_items(void *arg, int err, const struct store_kv *it, size_t n)
{
	struct items *x = arg;

	x->calls++;
	x->err = err;
	x->n = n;
	if (n)
		snprintf(x->first, sizeof(x->first), "%.*s", (int)it[0].vlen, it[0].val);
}

static bool got_items(void *arg) { return ((struct items *)arg)->calls > 0; }

static void test_feed(void **state)
{
	struct fixture *f = *state;
	static const char imei[] = "356938035643809";
	static const char entry[] = "KE 356938035643809 blocked stolen 2026-12-02";
	const struct store_kv fields[] = { { "reason", 6, "stolen", 6 } };
	struct store_sms sms = { "+254712345678", "blocked", 7 };
	struct store_out out = { "ceirgw:outbox", &sms, 1, entry, sizeof(entry) - 1 };
	struct result r;
	struct answer a;
	struct items it;
	redisContext *c = redisConnectUnix(f->url.path);
	redisReply *rr;
	uint8_t hashes[64];

	RUN(f, r, store_report_create(f->st, imei, "8000000011", fields, 1, on_result, &r));
	RUN(f, r, store_report_transition(f->st, imei, REPORT_EV_VERIFY, NULL, 0, on_result, &r));
	RUN(f, r, store_report_transition(f->st, imei, REPORT_EV_SEND, NULL, 0, on_result, &r));
	RUN(f, r, store_report_transition_out(f->st, imei, REPORT_EV_CEIR_BLOCKED, NULL, 0, &out,
					      on_result, &r));
	assert_string_equal(r.s, "blocked");
	assert_true(r.changed);
	/* A repeat of the result moves nothing and writes nothing more. */
	RUN(f, r, store_report_transition_out(f->st, imei, REPORT_EV_CEIR_BLOCKED, NULL, 0, &out,
					      on_result, &r));
	assert_false(r.changed);
	assert_true(run_until(f->base, stream_has_one, c, 5000));
	rr = redisCommand(c, "LRANGE feed:{feed}:entries 0 -1");
	assert_int_equal(rr->elements, 1);
	assert_string_equal(rr->element[0]->str, entry);
	freeReplyObject(rr);
	/* The same id again (a relay cut short and done over by the sweep): once. */
	RUN(f, r, store_feed_append(f->st, "356938035643809:8000000011:2", entry,
				    sizeof(entry) - 1, on_result, &r));
	assert_string_equal(r.s, "0");	/* the SMS was :1, the entry :2 */
	assert_false(r.changed);
	RUN(f, r, store_feed_append(f->st, "x:1", entry, sizeof(entry) - 1, on_result, &r));
	assert_string_equal(r.s, "1");
	assert_true(r.changed);
	assert_true(run_until(f->base, log_has, c, 5000));
	assert_int_equal(int_reply(c, "HLEN rep:{356938035643809}:out"), 0);
	memset(&a, 0, sizeof(a));
	assert_int_equal(store_feed_size(f->st, on_count, &a), 0);
	assert_true(run_until(f->base, answered, &a, 5000));
	assert_int_equal(a.count, 2);
	memset(&it, 0, sizeof(it));
	assert_int_equal(store_feed_entries(f->st, 1, 10, on_items, &it), 0);
	assert_true(run_until(f->base, got_items, &it, 5000));
	assert_int_equal(it.n, 1);	/* fewer past the end */
	assert_string_equal(it.first, entry);
	assert_int_equal(store_feed_entries(f->st, 0, 0, on_items, &it), -EINVAL);
	assert_int_equal(store_feed_entries(f->st, 0, STORE_FEED_ENTRIES_MAX + 1, on_items, &it),
			 -EINVAL);
	/* Tiles: hashes at their place; the same again changes nothing. */
	for (int i = 0; i < 64; i++)
		hashes[i] = (uint8_t)i;
	memset(&a, 0, sizeof(a));
	assert_int_equal(store_feed_tile_put(f->st, 0, 3, 1, hashes, 64, on_done, &a), 0);
	assert_true(run_until(f->base, answered, &a, 5000));
	memset(&a, 0, sizeof(a));
	assert_int_equal(store_feed_tile_put(f->st, 0, 3, 2, hashes + 32, 32, on_done, &a), 0);
	assert_true(run_until(f->base, answered, &a, 5000));
	memset(&a, 0, sizeof(a));
	assert_int_equal(store_feed_tile_get(f->st, 0, 3, on_data, &a), 0);
	assert_true(run_until(f->base, answered, &a, 5000));
	assert_true(a.found);
	assert_int_equal(a.len, 96);
	assert_memory_equal(a.data + 32, hashes, 64);
	assert_int_equal(store_feed_tile_put(f->st, 0, 3, 255, hashes, 64, on_done, &a), -EINVAL);
	assert_int_equal(store_feed_tile_put(f->st, 0, 3, 0, hashes, 31, on_done, &a), -EINVAL);
	/* Checkpoints never go back to a smaller tree. */
	memset(&a, 0, sizeof(a));
	assert_int_equal(store_feed_checkpoint_put(f->st, 2, "two", 3, on_count, &a), 0);
	assert_true(run_until(f->base, answered, &a, 5000));
	assert_int_equal(a.count, 1);
	memset(&a, 0, sizeof(a));
	assert_int_equal(store_feed_checkpoint_put(f->st, 1, "one", 3, on_count, &a), 0);
	assert_true(run_until(f->base, answered, &a, 5000));
	assert_int_equal(a.count, 0);
	memset(&a, 0, sizeof(a));
	assert_int_equal(store_feed_checkpoint_get(f->st, on_data, &a), 0);
	assert_true(run_until(f->base, answered, &a, 5000));
	assert_memory_equal(a.data, "two", 3);
	/* The lock: one holder; only it lets go. */
	memset(&a, 0, sizeof(a));
	assert_int_equal(store_feed_lock(f->st, "a", 10000, true, on_count, &a), 0);
	assert_true(run_until(f->base, answered, &a, 5000));
	assert_int_equal(a.count, 1);
	memset(&a, 0, sizeof(a));
	assert_int_equal(store_feed_lock(f->st, "b", 10000, true, on_count, &a), 0);
	assert_true(run_until(f->base, answered, &a, 5000));
	assert_int_equal(a.count, 0);
	memset(&a, 0, sizeof(a));
	assert_int_equal(store_feed_lock(f->st, "b", 0, false, on_count, &a), 0);
	assert_true(run_until(f->base, answered, &a, 5000));
	assert_int_equal(a.count, 0);
	memset(&a, 0, sizeof(a));
	assert_int_equal(store_feed_lock(f->st, "a", 0, false, on_count, &a), 0);
	assert_true(run_until(f->base, answered, &a, 5000));
	assert_int_equal(a.count, 1);
	/* Every key in one slot. */
	rr = redisCommand(c, "CLUSTER KEYSLOT feed:{feed}:entries");
	if (rr->type == REDIS_REPLY_INTEGER) {
		long long slot = rr->integer;

		freeReplyObject(rr);
		rr = redisCommand(c, "CLUSTER KEYSLOT feed:{feed}:t:0:3");
		assert_int_equal(rr->integer, slot);
	}
	freeReplyObject(rr);
	redisFree(c);
}

/* ---- the neighbours' decisions (issue 19) ---- */

struct foreign_answer {
	int calls, err;
	size_t n;
	struct foreign_rec recs[PAIRS_FOREIGN_MAX];
};

static void on_foreign(void *arg, int err, const struct foreign_rec *recs, size_t n)
{
	struct foreign_answer *a = arg;

	a->calls++;
	a->err = err;
	a->n = n;
	if (n)
		memcpy(a->recs, recs, n * sizeof(*recs));
}

/* Every one of an array of answers in (arg: a struct foreign_batch_wait). */
struct foreign_wait {
	struct foreign_answer *a;
	size_t n;
};

static bool foreign_all(void *arg)
{
	struct foreign_wait *w = arg;

	for (size_t i = 0; i < w->n; i++)
		if (w->a[i].calls == 0)
			return false;
	return true;
}

/* A feed entry: country's decision on the IMEI of body (block: stolen or lost; else an
 * unblock, recovered) on the day y-m-d. */
static struct feed_entry fentry(const char *country, uint64_t body, char what, int y, int m,
				int d)
{
	struct feed_entry e = { 0 };
	char digits[15];
	struct imei im;

	snprintf(e.country, sizeof(e.country), "%s", country);
	snprintf(digits, sizeof(digits), "%014llu", (unsigned long long)body);
	imei_parse(digits, 14, &im);
	snprintf(e.imei, sizeof(e.imei), "%s", im.imei);
	e.status = what == 'U' ? FEED_UNBLOCKED : FEED_BLOCKED;
	e.reason = what == 'U' ? FEED_RECOVERED : what == 'L' ? FEED_LOST : FEED_STOLEN;
	e.year = y;
	e.month = m;
	e.day = d;
	return e;
}

static void foreign_apply(struct fixture *f, const struct feed_entry *e, size_t n)
{
	struct answer a = { 0 };

	assert_int_equal(store_foreign_apply(f->st, e, n, on_done, &a), 0);
	assert_true(run_until(f->base, answered, &a, 20000));
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.err, 0);
}

static void foreign_get(struct fixture *f, uint64_t body, struct foreign_answer *a)
{
	memset(a, 0, sizeof(*a));
	assert_int_equal(store_foreign_get(f->st, body, on_foreign, a), 0);
	assert_true(run_until(f->base, foreign_all, &(struct foreign_wait){ a, 1 }, 5000));
	assert_int_equal(a->calls, 1);
	assert_int_equal(a->err, 0);
}

static const struct foreign_rec *foreign_of(const struct foreign_answer *a, const char *cc)
{
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->recs[i].country, cc) == 0)
			return &a->recs[i];
	return NULL;
}

static uint16_t day_of(const char *ymd)
{
	uint16_t d = 0;

	assert_int_equal(pairs_parse_date(ymd, strlen(ymd), &d), 0);
	return d;
}

/* Blocks of two countries, an unblock of one, the raw value, the order of a batch. */
static void test_foreign(void **state)
{
	struct fixture *f = *state;
	const uint64_t a = BODY_A, b = BODY_B, c = 35693803000011ULL, d = 35693803000022ULL;
	struct feed_entry e[4];
	struct foreign_answer fa;
	redisContext *rc = redisConnectUnix(f->url.path);
	redisReply *rr;
	uint16_t dec2 = day_of("2026-12-02");
	static const char *const cc[] = { "KE", "TZ", "UG", "RW" };

	/* The feed-peers' countries: what a check reads. */
	store_foreign_countries(f->st, cc, 4);
	/* Nothing known: no record, no error. */
	foreign_get(f, a, &fa);
	assert_int_equal(fa.n, 0);
	assert_int_equal(store_foreign_apply(f->st, e, 0, on_done, NULL), -EINVAL);
	assert_int_equal(store_foreign_apply(f->st, e, STORE_FEED_ENTRIES_MAX + 1, on_done, NULL),
			 -EINVAL);
	/* Kenya and Tanzania block A, Kenya blocks B. */
	e[0] = fentry("KE", a, 'S', 2026, 12, 2);
	e[1] = fentry("TZ", a, 'L', 2026, 11, 20);
	e[2] = fentry("KE", b, 'S', 2026, 10, 1);
	foreign_apply(f, e, 3);
	foreign_get(f, a, &fa);
	assert_int_equal(fa.n, 2);
	assert_int_equal(foreign_of(&fa, "KE")->reason, 'S');
	assert_int_equal(foreign_of(&fa, "KE")->day, dec2);
	assert_int_equal(foreign_of(&fa, "TZ")->reason, 'L');
	assert_int_equal(foreign_of(&fa, "TZ")->day, day_of("2026-11-20"));
	foreign_get(f, b, &fa);
	assert_int_equal(fa.n, 1);
	assert_int_equal(foreign_of(&fa, "KE")->day, day_of("2026-10-01"));
	/* As pairs.h lays it out: fx:{last 4 digits}, a field per country (the IMEI's field and
	 * the two letters), 3 bytes a value. */
	rr = redisCommand(rc, "HLEN fx:{4380}");
	assert_int_equal(rr->integer, 2);
	freeReplyObject(rr);
	{
		char key[PAIRS_KEY_MAX];
		uint8_t field[PAIRS_FOREIGN_FIELD_MAX];
		size_t kl, fl;

		pairs_foreign_key(a, key, &kl, field, &fl);
		fl = pairs_foreign_field(field, fl, "KE", field);
		rr = redisCommand(rc, "HGET %s %b", key, field, fl);
		assert_int_equal(rr->type, REDIS_REPLY_STRING);
		assert_int_equal(rr->len, 3);
		assert_int_equal(rr->str[0], 'S');
		assert_int_equal((uint8_t)rr->str[1] << 8 | (uint8_t)rr->str[2], dec2);
		freeReplyObject(rr);
	}
	/* A country that is not a feed-peer's is not read. */
	store_foreign_countries(f->st, cc, 1);
	foreign_get(f, a, &fa);
	assert_int_equal(fa.n, 1);
	store_foreign_countries(f->st, cc, 4);
	/* Kenya unblocks A: Tanzania's block stays; then Tanzania's too: the field goes. */
	e[0] = fentry("KE", a, 'U', 2026, 12, 20);
	foreign_apply(f, e, 1);
	foreign_get(f, a, &fa);
	assert_int_equal(fa.n, 1);
	assert_null(foreign_of(&fa, "KE"));
	assert_non_null(foreign_of(&fa, "TZ"));
	e[0] = fentry("TZ", a, 'U', 2026, 12, 21);
	foreign_apply(f, e, 1);
	foreign_get(f, a, &fa);
	assert_int_equal(fa.n, 0);
	assert_int_equal(int_reply(rc, "EXISTS fx:{4380}"), 0);
	/* In one batch, in its order: a block then an unblock of C leaves none; an unblock then
	 * a block of D leaves the block; a block replaced by the same country's later one. */
	e[0] = fentry("UG", c, 'S', 2026, 12, 3);
	e[1] = fentry("UG", d, 'U', 2026, 12, 3);
	e[2] = fentry("UG", c, 'U', 2026, 12, 4);
	e[3] = fentry("UG", d, 'L', 2026, 12, 4);
	foreign_apply(f, e, 4);
	foreign_get(f, c, &fa);
	assert_int_equal(fa.n, 0);
	foreign_get(f, d, &fa);
	assert_int_equal(fa.n, 1);
	assert_int_equal(foreign_of(&fa, "UG")->reason, 'L');
	e[0] = fentry("UG", d, 'S', 2026, 12, 5);
	e[1] = fentry("UG", d, 'L', 2026, 12, 6);
	foreign_apply(f, e, 2);
	foreign_get(f, d, &fa);
	assert_int_equal(fa.n, 1);
	assert_int_equal(foreign_of(&fa, "UG")->day, day_of("2026-12-06"));
	redisFree(rc);
}

/* 3000 decisions over many buckets in one batch (blocks, then unblocks of some, in the
 * same batch), read back one by one; the same batch again leaves the same state. */
/* The CEIR's foreign stream (issue 19): each (origin, index) once, however the chunks
 * repeat or overlap (a follower that stopped before recording a chunk, two processes). */
static long long foreign_queue(struct fixture *f, uint64_t first, const struct feed_entry *e,
			       size_t n)
{
	struct answer a = { 0 };

	assert_int_equal(store_foreign_queue(f->st, "ceir:foreign", "ke.example/feed", first, e,
					     n, on_count, &a), 0);
	assert_true(run_until(f->base, answered, &a, 20000));
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.err, 0);
	return a.count;
}

static void test_foreign_queue(void **state)
{
	struct fixture *f = *state;
	struct feed_entry e[20];
	redisContext *c = redisConnectUnix(f->url.path);
	redisReply *rr;

	for (size_t i = 0; i < 20; i++)
		e[i] = fentry("KE", BODY_A + i, i % 5 == 4 ? 'U' : 'S', 2026, 12, 1 + (int)i);
	assert_int_equal(foreign_queue(f, 0, e, 10), 10);
	/* Applied again: nothing added. Then 5..14: only 10..14 added. */
	assert_int_equal(foreign_queue(f, 0, e, 10), 0);
	assert_int_equal(foreign_queue(f, 5, e + 5, 10), 5);
	assert_int_equal(foreign_queue(f, 15, e + 15, 5), 5);
	assert_int_equal(int_reply(c, "XLEN ceir:foreign"), 20);
	/* Each index once, in order, with the entry's fields. */
	rr = redisCommand(c, "XRANGE ceir:foreign - +");
	assert_int_equal(rr->elements, 20);
	for (size_t i = 0; i < 20; i++) {
		const redisReply *kv = rr->element[i]->element[1];
		char idx[8], day[16];

		snprintf(idx, sizeof(idx), "%zu", i);
		snprintf(day, sizeof(day), "2026-12-%02zu", i + 1);
		assert_int_equal(kv->elements, 14);
		assert_string_equal(kv->element[1]->str, e[i].imei);
		assert_string_equal(kv->element[3]->str, "KE");
		assert_string_equal(kv->element[5]->str, i % 5 == 4 ? "unblocked" : "blocked");
		assert_string_equal(kv->element[7]->str, i % 5 == 4 ? "recovered" : "stolen");
		assert_string_equal(kv->element[9]->str, day);
		assert_string_equal(kv->element[11]->str, "ke.example/feed");
		assert_string_equal(kv->element[13]->str, idx);
	}
	freeReplyObject(rr);
	assert_int_equal(store_foreign_queue(f->st, "ceir:foreign", "ke.example/feed", 0, e, 0,
					     on_count, NULL), -EINVAL);
	redisFree(c);
}

static void test_foreign_many(void **state)
{
	enum { N = 3000 };
	struct fixture *f = *state;
	struct feed_entry *e = calloc(N, sizeof(*e));
	struct foreign_answer *fa = calloc(N / 2, sizeof(*fa));
	redisContext *rc = redisConnectUnix(f->url.path);
	redisReply *rr;
	static const char *const cc[] = { "KE", "TZ", "UG" };
	long long keys, fields;
	size_t i;

	assert_non_null(e);
	assert_non_null(fa);
	store_foreign_countries(f->st, (const char *const[]){ "KE", "TZ", "UG", "RW" }, 4);
	/* N / 2 IMEIs 7 apart (their last 4 digits, the buckets, all differ): each blocked by
	 * one country; every third then unblocked by it, later in the batch. */
	for (i = 0; i < N / 2; i++)
		e[i] = fentry(cc[i % 3], 35693803100000ULL + 7 * i, i % 2 ? 'L' : 'S', 2026,
			      1 + (int)(i % 12), 1 + (int)(i % 28));
	for (; i < N; i++) {
		size_t k = i - N / 2;

		e[i] = k % 3 == 0 ? fentry(cc[k % 3], 35693803100000ULL + 7 * k, 'U', 2026, 12, 31) :
			fentry("RW", 35693803100000ULL + 7 * k, 'S', 2027, 1, 1);
	}
	for (int round = 0; round < 2; round++) {
		foreign_apply(f, e, N);
		for (i = 0; i < N / 2; i++) {
			memset(&fa[i], 0, sizeof(fa[i]));
			assert_int_equal(store_foreign_get(f->st, 35693803100000ULL + 7 * i,
							   on_foreign, &fa[i]), 0);
		}
		assert_true(run_until(f->base, foreign_all, &(struct foreign_wait){ fa, N / 2 },
				      20000));
		for (i = 0; i < N / 2; i++) {
			const struct foreign_rec *r = foreign_of(&fa[i], cc[i % 3]);

			assert_int_equal(fa[i].err, 0);
			if (i % 3 == 0) {
				/* blocked, then unblocked by the same country: nothing */
				assert_int_equal(fa[i].n, 0);
				continue;
			}
			assert_int_equal(fa[i].n, 2);
			assert_non_null(r);
			assert_int_equal(r->reason, i % 2 ? 'L' : 'S');
			assert_non_null(foreign_of(&fa[i], "RW"));
			assert_int_equal(foreign_of(&fa[i], "RW")->day, day_of("2027-01-01"));
		}
		rr = redisCommand(rc, "EVAL %s 0", "local n = 0 for _, k in ipairs(redis.call("
				  "'KEYS', 'fx:*')) do n = n + redis.call('HLEN', k) end return "
				  "{#redis.call('KEYS', 'fx:*'), n}");
		assert_int_equal(rr->type, REDIS_REPLY_ARRAY);
		keys = rr->element[0]->integer;
		fields = rr->element[1]->integer;
		freeReplyObject(rr);
		assert_int_equal(keys, N / 2 - N / 6);
		assert_int_equal(fields, 2 * (N / 2 - N / 6));	/* a country and RW each */
	}
	free(e);
	free(fa);
	redisFree(rc);
}

/* Commands stuck behind a paused server when it dies: each answered once, -EAGAIN. */
static void test_pending_answered_once(void **state)
{
	enum { N = 50 };
	struct fixture *f = *state;
	struct answer a[N];
	redisContext *c = redisConnectUnix(f->url.path);
	size_t i;

	memset(a, 0, sizeof(a));
	freeReplyObject(redisCommand(c, "CLIENT PAUSE 20000 ALL"));
	for (i = 0; i < N; i++)
		assert_int_equal(store_imei_pairings(f->st, BODY_A + i, on_pairings, &a[i]), 0);
	run_until(f->base, never, NULL, 200);	/* sent, not answered */
	assert_int_equal(store_pending(f->st), N);
	for (i = 0; i < N; i++)
		assert_int_equal(a[i].calls, 0);
	kill(redis_embed_pid(f->re), SIGKILL);
	assert_true(run_until(f->base, answered, &a[N - 1], 5000));
	run_until(f->base, never, NULL, 200);	/* nothing more may arrive */
	for (i = 0; i < N; i++) {
		assert_int_equal(a[i].calls, 1);
		assert_int_equal(a[i].err, -EAGAIN);
	}
	assert_int_equal(store_pending(f->st), 0);
	assert_false(store_is_up(f->st));
	assert_int_equal(store_imei_pairings(f->st, BODY_A, on_pairings, &a[0]), -EAGAIN);
	redisFree(c);
	redis_embed_stop(f->re);
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A frozen server (SIGSTOP): what is on the wire is answered once, -EAGAIN, within the
 * timeout; the store is down meanwhile, also with nothing on the wire (the idle PING), and
 * up again after SIGCONT, with no second answer to anything. */
static void test_timeout_answered_once(void **state)
{
	enum { N = 20 };
	struct fixture *f = *state;
	struct store_options o = { .bucket_digits = 5, .timeout_ms = 300 };
	struct store *st = store_create(f->ctx, f->base, &f->url, &o);
	pid_t pid = redis_embed_pid(f->re);
	struct answer a[N], b;
	struct answers as = { a, N };
	long long t0, t;
	size_t i;

	memset(a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	assert_non_null(st);
	assert_true(run_until(f->base, is_up, st, 5000));
	kill(pid, SIGSTOP);
	t0 = mono_ms();
	for (i = 0; i < N; i++)
		assert_int_equal(i % 2 ? store_imei_pairings(st, BODY_A, on_pairings, &a[i]) :
				 store_limit_hit(st, STORE_LIMIT_CHECK, "t", 1, 60, on_limit, &a[i]), 0);
	assert_true(run_until(f->base, all_answered, &as, 2000));
	t = mono_ms() - t0;
	assert_true(t >= 290 && t <= 300 + 250);
	for (i = 0; i < N; i++) {
		assert_int_equal(a[i].calls, 1);
		assert_int_equal(a[i].err, -EAGAIN);
	}
	assert_false(store_is_up(st));
	assert_int_equal(store_pending(st), 0);
	assert_int_equal(store_ping(st, on_done, &b), -EAGAIN);
	/* Still frozen: each new connection's handshake times out too. */
	run_until(f->base, never, NULL, 1500);
	assert_false(store_is_up(st));
	kill(pid, SIGCONT);
	assert_true(run_until(f->base, is_up, st, 5000));
	run_until(f->base, never, NULL, 300);
	for (i = 0; i < N; i++)
		assert_int_equal(a[i].calls, 1);
	assert_int_equal(store_ping(st, on_done, &b), 0);
	assert_true(run_until(f->base, answered, &b, 2000));
	assert_int_equal(b.err, 0);

	/* Idle: no command waits, yet a freeze shows within two timeouts. */
	kill(pid, SIGSTOP);
	t0 = mono_ms();
	assert_true(run_until(f->base, is_down, st, 2000));
	t = mono_ms() - t0;
	kill(pid, SIGCONT);
	assert_true(t <= 2 * 300 + 250);
	assert_true(run_until(f->base, is_up, st, 5000));
	talloc_free(st);
}

/* A redis-server that wants a password (requirepass) and knows an ACL user. */
static pid_t start_auth_server(const char *dir, char *sock, size_t socksz)
{
	char pidfile[PATH_MAX + 16], cmd[3 * PATH_MAX];
	const char *server = testlib_redis_server();
	FILE *p;
	long pid = 0;
	int i;

	if ((size_t)snprintf(sock, socksz, "%s/auth.sock", dir) >= socksz)
		return -1;
	snprintf(pidfile, sizeof(pidfile), "%s/auth.pid", dir);
	snprintf(cmd, sizeof(cmd), "'%s' --port 0 --unixsocket '%s' --save '' --appendonly no "
		 "--daemonize yes --pidfile '%s' --logfile /dev/null --requirepass s3cret "
		 "--user ceirgw on '>acl-pw' '~*' '&*' '+@all'", server, sock, pidfile);
	if (system(cmd) != 0)
		return -1;
	for (i = 0; i < 200 && pid == 0; i++) {
		usleep(20000);
		p = fopen(pidfile, "r");
		if (p) {
			if (fscanf(p, "%ld", &pid) != 1)
				pid = 0;
			fclose(p);
		}
		if (access(sock, F_OK) != 0 || (pid > 0 && kill((pid_t)pid, 0) != 0))
			pid = 0;
	}
	return (pid_t)pid;
}

/* A follower's halt (issue 19): the reason, when, and the two conflicting checkpoints, in one
 * command; the fields a caller may not set (halted) refused to store_peer_set. */
static void test_peer_halt(void **state)
{
	struct fixture *f = *state;
	struct answer a;
	redisContext *c = redisConnectUnix(f->url.path);
	redisReply *rr;

	memset(&a, 0, sizeof(a));
	assert_int_equal(store_peer_halt(f->st, "ceir.ke/feed", "two roots", "shown\n", 6,
					 "other\n", 6, on_done, &a), 0);
	assert_true(run_until(f->base, answered, &a, 5000));
	assert_int_equal(a.err, 0);
	rr = redisCommand(c, "HMGET peer:{ceir.ke/feed} halted shown other halted-at");
	assert_int_equal(rr->elements, 4);
	assert_string_equal(rr->element[0]->str, "two roots");
	assert_string_equal(rr->element[1]->str, "shown\n");
	assert_string_equal(rr->element[2]->str, "other\n");
	assert_true(atoll(rr->element[3]->str) > 1700000000);
	freeReplyObject(rr);
	/* No other view: "other" is empty, and written so (an older one does not linger). */
	memset(&a, 0, sizeof(a));
	assert_int_equal(store_peer_halt(f->st, "ceir.ke/feed", "again", "shown\n", 6, NULL, 0,
					 on_done, &a), 0);
	assert_true(run_until(f->base, answered, &a, 5000));
	rr = redisCommand(c, "HGET peer:{ceir.ke/feed} other");
	assert_int_equal(rr->len, 0);
	freeReplyObject(rr);
	assert_int_equal(store_peer_halt(f->st, "ceir.ke/feed", "", "s", 1, NULL, 0, on_done, &a),
			 -EINVAL);
	assert_int_equal(store_peer_halt(f->st, "ceir.{ke}", "x", "s", 1, NULL, 0, on_done, &a),
			 -EINVAL);
	assert_int_equal(store_peer_set(f->st, "ceir.ke/feed", "halted", "x", 1, on_done, &a),
			 -EINVAL);
	redisFree(c);
}

static void test_auth(void **state)
{
	struct fixture *f = *state;
	struct redis_url good, acl, bad;
	struct store *s1, *s2, *s3;
	char sock[sizeof(good.path)];
	pid_t pid = start_auth_server(f->dir, sock, sizeof(sock));

	assert_true(pid > 0);
	memset(&good, 0, sizeof(good));
	good.kind = REDIS_URL_UNIX;
	memcpy(good.path, sock, sizeof(good.path));
	acl = bad = good;
	snprintf(good.password, sizeof(good.password), "s3cret");
	snprintf(acl.user, sizeof(acl.user), "ceirgw");
	snprintf(acl.password, sizeof(acl.password), "acl-pw");
	snprintf(bad.password, sizeof(bad.password), "wrong");
	s1 = store_create(f->ctx, f->base, &good, &opts);
	s2 = store_create(f->ctx, f->base, &acl, &opts);
	s3 = store_create(f->ctx, f->base, &bad, &opts);
	assert_true(run_until(f->base, is_up, s1, 5000));
	assert_true(run_until(f->base, is_up, s2, 5000));
	run_until(f->base, never, NULL, 500);
	assert_false(store_is_up(s3));	/* refused, and retrying with backoff */
	talloc_free(s1);
	talloc_free(s2);
	talloc_free(s3);
	kill(pid, SIGTERM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lookups, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resume_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rate_script_survives_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_pin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enqueue_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_feed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_otp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pending_answered_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_answered_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_halt, setup, teardown),
	};

	logging_setup("test_store", LOGL_ERROR + 1);
	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
