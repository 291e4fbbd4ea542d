/* Redis URL parsing: every form an operator may write, and the mistakes they make. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/redis_url.h"

struct url_case {
	const char *name;
	const char *in;
	int ok;
	int kind;
	const char *host;
	int port;
	const char *path;
	const char *user;
	const char *password;
	int db;
};

static const struct url_case cases[] = {
	{ "tcp host and port", "redis://127.0.0.1:6380", 1, REDIS_URL_TCP, "127.0.0.1", 6380, "", "", "", 0 },
	{ "tcp default port", "redis://redis.example", 1, REDIS_URL_TCP, "redis.example", 6379, "", "", "", 0 },
	{ "tcp with db", "redis://localhost:6379/3", 1, REDIS_URL_TCP, "localhost", 6379, "", "", "", 3 },
	{ "tcp trailing slash", "redis://localhost:6379/", 1, REDIS_URL_TCP, "localhost", 6379, "", "", "", 0 },
	{ "tcp password only", "redis://:s3cret@10.0.0.5:6379", 1, REDIS_URL_TCP, "10.0.0.5", 6379, "", "", "s3cret", 0 },
	{ "tcp bare password", "redis://s3cret@10.0.0.5", 1, REDIS_URL_TCP, "10.0.0.5", 6379, "", "", "s3cret", 0 },
	{ "tcp acl user", "redis://ceirgw:pa%40ss@db:7000/1", 1, REDIS_URL_TCP, "db", 7000, "", "ceirgw", "pa@ss", 1 },
	{ "tcp ipv6", "redis://[::1]:6390", 1, REDIS_URL_TCP, "::1", 6390, "", "", "", 0 },
	{ "tcp ipv6 default port", "redis://[fe80::1]", 1, REDIS_URL_TCP, "fe80::1", 6379, "", "", "", 0 },
	{ "unix socket", "unix:///run/redis/redis.sock", 1, REDIS_URL_UNIX, "", 6379, "/run/redis/redis.sock", "", "", 0 },
	{ "unix socket db", "unix:///tmp/r.sock?db=2", 1, REDIS_URL_UNIX, "", 6379, "/tmp/r.sock", "", "", 2 },
	{ "unix socket auth", "unix://u:p@/tmp/r.sock", 1, REDIS_URL_UNIX, "", 6379, "/tmp/r.sock", "u", "p", 0 },
	{ "reject empty", "", 0, 0, NULL, 0, NULL, NULL, NULL, 0 },
	{ "reject scheme", "http://localhost", 0, 0, NULL, 0, NULL, NULL, NULL, 0 },
	{ "reject tls", "rediss://localhost", 0, 0, NULL, 0, NULL, NULL, NULL, 0 },
	{ "reject bare host", "localhost:6379", 0, 0, NULL, 0, NULL, NULL, NULL, 0 },
	{ "reject no host", "redis://:6379", 0, 0, NULL, 0, NULL, NULL, NULL, 0 },
	{ "reject port 0", "redis://h:0", 0, 0, NULL, 0, NULL, NULL, NULL, 0 },
	{ "reject port 65536", "redis://h:65536", 0, 0, NULL, 0, NULL, NULL, NULL, 0 },
	{ "reject port letters", "redis://h:63a9", 0, 0, NULL, 0, NULL, NULL, NULL, 0 },
	{ "reject empty port", "redis://h:", 0, 0, NULL, 0, NULL, NULL, NULL, 0 },
	{ "reject db letters", "redis://h:1/x", 0, 0, NULL, 0, NULL, NULL, NULL, 0 },
	{ "reject ipv6 unterminated", "redis://[::1:6379", 0, 0, NULL, 0, NULL, NULL, NULL, 0 },
	{ "reject ipv6 junk after bracket", "redis://[::1]x", 0, 0, NULL, 0, NULL, NULL, NULL, 0 },
	{ "reject relative socket", "unix://tmp/r.sock", 0, 0, NULL, 0, NULL, NULL, NULL, 0 },
	{ "reject unix query", "unix:///tmp/r.sock?x=1", 0, 0, NULL, 0, NULL, NULL, NULL, 0 },
	{ "reject bad escape", "redis://:%zz@h", 0, 0, NULL, 0, NULL, NULL, NULL, 0 },
	{ "reject truncated escape", "redis://:ab%4@h", 0, 0, NULL, 0, NULL, NULL, NULL, 0 },
	{ "reject NUL escape", "redis://:a%00b@h", 0, 0, NULL, 0, NULL, NULL, NULL, 0 },
	{ "reject long socket path", "unix:///tmp/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock", 0, 0, NULL, 0, NULL, NULL, NULL, 0 },
};

static void test_case(void **state)
{
	const struct url_case *c = *state;
	struct redis_url u;
	const char *why = NULL;
	int rc = redis_url_parse(c->in, &u, &why);

	if (!c->ok) {
		assert_int_equal(rc, -EINVAL);
		assert_non_null(why);
		return;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(u.kind, c->kind);
	assert_string_equal(u.host, c->host);
	assert_int_equal(u.port, c->port);
	assert_string_equal(u.path, c->path);
	assert_string_equal(u.user, c->user);
	assert_string_equal(u.password, c->password);
	assert_int_equal(u.db, c->db);
}

int main(void)
{
	struct CMUnitTest tests[sizeof(cases) / sizeof(cases[0])];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&tests[i], 0, sizeof(tests[i]));
		tests[i].name = cases[i].name;
		tests[i].test_func = test_case;
		tests[i].initial_state = (void *)&cases[i];
	}
	return _cmocka_run_group_tests("redis_url", tests, i, NULL, NULL);
}
