/* Redis Cluster's pieces (src/store/cluster.c): hash slots against what a cluster-enabled
 * redis-server 7.0 answered to CLUSTER KEYSLOT, MOVED and ASK read (and hostile ones
 * refused), the slot map built from CLUSTER SLOTS replies made by hand and moved by MOVED. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/cluster.h"

static void test_keyslot(void **state)
{
	/* CLUSTER KEYSLOT of a redis-server 7.0 with cluster-enabled yes. */
	static const struct { const char *key; unsigned slot; } v[] = {
		{ "foo", 12182 }, { "bar", 5061 }, { "123456789", 12739 }, { "somekey", 11058 },
		{ "foo{hash_tag}", 2515 }, { "{user1000}.following", 3443 }, { "{}", 15257 },
		{ "{}foo", 9500 }, { "foo{}{bar}", 8363 }, { "foo{{bar}}zap", 4015 },
		{ "foo{bar}{zap}", 5061 }, { "rep:{356938035643809}", 15466 },
		{ "kyc:{45678}:vf:254712345678:own", 2328 }, { "", 0 }, { "a{b", 13340 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		unsigned got = cluster_keyslot(v[i].key, strlen(v[i].key));

		if (got != v[i].slot)
			fail_msg("keyslot(\"%s\") = %u, want %u", v[i].key, got, v[i].slot);
	}
	/* The hash tag alone decides: a report and its counters share a slot. */
	assert_int_equal(cluster_keyslot("rep:{356938035643809}:pin:oth", 29),
			 cluster_keyslot("rep:{356938035643809}", 21));
}

static int redirect(const char *s, struct cluster_redirect *r)
{
	return cluster_redirect_parse(s, strlen(s), r);
}

static void test_redirect(void **state)
{
	struct cluster_redirect r;

	(void)state;
	assert_int_equal(redirect("MOVED 3999 127.0.0.1:6381", &r), 0);
	assert_int_equal(r.kind, CLUSTER_MOVED);
	assert_int_equal(r.slot, 3999);
	assert_string_equal(r.host, "127.0.0.1");
	assert_int_equal(r.port, 6381);
	assert_int_equal(redirect("ASK 16383 redis-2.example:7000", &r), 0);
	assert_int_equal(r.kind, CLUSTER_ASK);
	assert_int_equal(r.slot, 16383);
	assert_string_equal(r.host, "redis-2.example");
	assert_int_equal(redirect("MOVED 0 ::1:7001", &r), 0);
	assert_string_equal(r.host, "::1");
	assert_int_equal(r.port, 7001);
	assert_int_equal(redirect("MOVED 12 [2001:db8::2]:7002", &r), 0);
	assert_string_equal(r.host, "2001:db8::2");
	assert_int_equal(r.port, 7002);
	assert_int_equal(redirect("MOVED 12 :7003", &r), 0);	/* the answering node's host */
	assert_string_equal(r.host, "");
	assert_int_equal(r.port, 7003);

	assert_int_equal(redirect("ERR unknown command", &r), -ENOENT);
	assert_int_equal(redirect("NOSCRIPT No matching script", &r), -ENOENT);
	assert_int_equal(redirect("MOVED", &r), -ENOENT);
	assert_int_equal(redirect("MOVEDX 1 h:1", &r), -ENOENT);
	static const char *const bad[] = {
		"MOVED 16384 127.0.0.1:6381", "MOVED -1 127.0.0.1:6381", "MOVED +1 h:6381",
		"MOVED 1 127.0.0.1:0", "MOVED 1 127.0.0.1:65536", "MOVED 1 127.0.0.1",
		"MOVED 1 127.0.0.1:", "MOVED 1 127.0.0.1:6381 ", "MOVED 1 127.0.0.1:6381x",
		"MOVED 1", "MOVED 1 ", "MOVED  1 h:1", "ASK 99999999999999999999 h:1",
		"MOVED 1 h h:1", "MOVED 1 [::1:1", "MOVED 1 h\t:1",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (redirect(bad[i], &r) != -EINVAL)
			fail_msg("\"%s\" read as a redirection", bad[i]);
	{
		char longhost[400];

		memset(longhost, 'a', sizeof(longhost));
		memcpy(longhost, "MOVED 1 ", 8);
		memcpy(longhost + sizeof(longhost) - 6, ":6379", 6);
		assert_int_equal(redirect(longhost, &r), -EINVAL);
	}
	/* Binary: a NUL inside is a malformed host, not the end of the text. */
	assert_int_equal(cluster_redirect_parse("MOVED 1 a\0b:1", 13, &r), -EINVAL);
}

/* ---- CLUSTER SLOTS replies, made by hand ---- */

static redisReply *r_int(long long v)
{
	redisReply *r = calloc(1, sizeof(*r));

	r->type = REDIS_REPLY_INTEGER;
	r->integer = v;
	return r;
}

static redisReply *r_str(const char *s)
{
	redisReply *r = calloc(1, sizeof(*r));

	r->type = REDIS_REPLY_STRING;
	r->len = strlen(s);
	r->str = strdup(s);
	return r;
}

static redisReply *r_arr(size_t n, ...)
{
	redisReply *r = calloc(1, sizeof(*r));
	va_list ap;

	r->type = REDIS_REPLY_ARRAY;
	r->elements = n;
	r->element = calloc(n ? n : 1, sizeof(*r->element));
	va_start(ap, n);
	for (size_t i = 0; i < n; i++)
		r->element[i] = va_arg(ap, redisReply *);
	va_end(ap);
	return r;
}

/* A range with its master and one replica, as Redis 7.0 answers. */
static redisReply *range(long long first, long long last, const char *host, long long port)
{
	return r_arr(4, r_int(first), r_int(last),
		     r_arr(3, r_str(host), r_int(port), r_str("9c9a6763a5db6692bbbab41c69b9d4")),
		     r_arr(3, r_str(host), r_int(port + 3), r_str("0d1ce0a1b2c3d4e5f60718293a4b5c")));
}

static void test_map(void **state)
{
	struct cluster_map *m = malloc(sizeof(*m));
	redisReply *r;

	(void)state;
	cluster_map_init(m);
	assert_null(cluster_map_node(m, 0));
	r = r_arr(3, range(0, 5460, "127.0.0.1", 30001), range(5461, 10922, "", 30002),
		  range(10923, 16383, "127.0.0.1", 30003));
	assert_int_equal(cluster_map_from_slots(m, r, "10.9.8.7"), 0);
	freeReplyObject(r);
	assert_int_equal(m->nnodes, 3);
	assert_int_equal(cluster_map_node(m, 0)->port, 30001);
	assert_int_equal(cluster_map_node(m, 5460)->port, 30001);
	assert_int_equal(cluster_map_node(m, 5461)->port, 30002);
	assert_string_equal(cluster_map_node(m, 5461)->host, "10.9.8.7");	/* "" endpoint */
	assert_int_equal(cluster_map_node(m, 16383)->port, 30003);
	assert_null(cluster_map_node(m, 16384));
	/* A key's master: cluster_keyslot then the map. */
	assert_int_equal(cluster_map_node(m, cluster_keyslot("foo", 3))->port, 30003);

	/* MOVED: one slot to a known node, then to a new one. */
	assert_int_equal(cluster_map_set(m, 12182, "127.0.0.1", 30001), 0);
	assert_int_equal(cluster_map_node(m, 12182)->port, 30001);
	assert_int_equal(m->nnodes, 3);
	assert_int_equal(cluster_map_set(m, 12182, "127.0.0.1", 30007), 0);
	assert_int_equal(m->nnodes, 4);
	assert_int_equal(cluster_map_set(m, 16384, "h", 1), -EINVAL);
	assert_int_equal(cluster_map_set(m, 1, "", 1), -EINVAL);
	assert_int_equal(cluster_map_set(m, 1, "h", 0), -EINVAL);
	free(m);
}

static void test_map_refused(void **state)
{
	struct cluster_map *m = malloc(sizeof(*m));
	redisReply *bad[8];
	size_t n = 0;

	(void)state;
	cluster_map_init(m);
	assert_int_equal(cluster_map_set(m, 7, "127.0.0.1", 30001), 0);
	bad[n++] = r_arr(1, range(0, 16384, "h", 1));			/* out of bounds */
	bad[n++] = r_arr(1, range(10, 9, "h", 1));			/* reversed */
	bad[n++] = r_arr(2, range(0, 100, "h", 1), range(100, 200, "h", 2));	/* overlap */
	bad[n++] = r_arr(1, range(0, 1, "h", 0));			/* port 0 */
	bad[n++] = r_arr(1, r_arr(2, r_int(0), r_int(1)));		/* no master */
	bad[n++] = r_arr(1, r_arr(3, r_int(0), r_int(1), r_arr(1, r_str("h"))));
	bad[n++] = r_str("ERR This instance has cluster support disabled");
	bad[n++] = r_arr(1, r_arr(3, r_str("0"), r_int(1), r_arr(2, r_str("h"), r_int(1))));
	for (size_t i = 0; i < n; i++) {
		if (cluster_map_from_slots(m, bad[i], "d") != -EPROTO)
			fail_msg("malformed CLUSTER SLOTS reply %zu taken", i);
		freeReplyObject(bad[i]);
		/* The map as it was. */
		assert_int_equal(m->nnodes, 1);
		assert_int_equal(cluster_map_node(m, 7)->port, 30001);
		assert_null(cluster_map_node(m, 0));
	}
	{
		/* More masters than the map holds. */
		redisReply *r = r_arr(0);

		free(r->element);
		r->element = calloc(CLUSTER_NODES_MAX + 1, sizeof(*r->element));
		for (unsigned i = 0; i <= CLUSTER_NODES_MAX; i++)
			r->element[r->elements++] = range(i, i, "127.0.0.1", 20000 + i);
		assert_int_equal(cluster_map_from_slots(m, r, "d"), -ENOSPC);
		freeReplyObject(r);
		assert_int_equal(m->nnodes, 1);
	}
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keyslot),
		cmocka_unit_test(test_redirect),
		cmocka_unit_test(test_map),
		cmocka_unit_test(test_map_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
