/* Integration: a private redis-server on a temporary Unix socket (the embedded default's
 * mechanism), reached through the store's hiredis connection on a libevent loop. The
 * harness that the store and journey tests extend. */
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
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "store_testlib.h"

#include "core/logging.h"
#include "core/redis_url.h"
#include "store/redis_embed.h"
#include "store/store.h"

struct fixture {
	char dir[PATH_MAX];
	const char *server;
	void *ctx;
	struct event_base *base;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL || testlib_tmpdir(f->dir, sizeof(f->dir), "ceirgw-smoke") < 0)
		return -1;
	f->server = testlib_redis_server();
	f->ctx = talloc_new(NULL);
	f->base = event_base_new();
	*state = f;
	return f->base ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	return testlib_free_fixture(f, f->ctx, f->base, f->dir);
}

struct ping_result { bool done, ok; };

static void on_ping(void *arg, int err)
{
	struct ping_result *r = arg;

	r->done = true;
	r->ok = err == 0;
}

static bool ping_done(void *arg) { return ((struct ping_result *)arg)->done; }

static struct store *connect_store(struct fixture *f, struct redis_embed *re)
{
	struct redis_url url;

	memset(&url, 0, sizeof(url));
	url.kind = REDIS_URL_UNIX;
	snprintf(url.path, sizeof(url.path), "%s", redis_embed_socket(re));
	return store_create(f->ctx, f->base, &url, &(struct store_options){ .bucket_digits = 5 });
}

static void test_ping(void **state)
{
	struct fixture *f = *state;
	char err[512];
	struct redis_embed *re = redis_embed_start(f->ctx, f->server, f->dir, 10000, err,
						   sizeof(err));
	struct ping_result r = { false, false };
	struct store *st;
	struct stat sb;

	if (re == NULL)
		fail_msg("redis: %s", err);
	assert_int_equal(stat(redis_embed_socket(re), &sb), 0);
	assert_true(S_ISSOCK(sb.st_mode));
	st = connect_store(f, re);
	assert_non_null(st);
	assert_true(run_until(f->base, is_up, st, 5000));
	assert_int_equal(store_ping(st, on_ping, &r), 0);
	assert_true(run_until(f->base, ping_done, &r, 5000));
	assert_true(r.ok);
	talloc_free(st);
	talloc_free(re);
}

static void test_second_server_refused(void **state)
{
	struct fixture *f = *state;
	char err[512];
	struct redis_embed *a = redis_embed_start(f->ctx, f->server, f->dir, 10000, err,
						  sizeof(err));
	struct redis_embed *b;

	if (a == NULL)
		fail_msg("redis: %s", err);
	b = redis_embed_start(f->ctx, f->server, f->dir, 10000, err, sizeof(err));
	assert_null(b);
	assert_non_null(strstr(err, "another Redis already answers"));
	talloc_free(a);
}

static void test_stop_and_reconnect(void **state)
{
	struct fixture *f = *state;
	char err[512];
	struct redis_embed *re = redis_embed_start(f->ctx, f->server, f->dir, 10000, err,
						   sizeof(err));
	struct ping_result r = { false, true };
	struct store *st;
	pid_t pid;

	if (re == NULL)
		fail_msg("redis: %s", err);
	st = connect_store(f, re);
	assert_true(run_until(f->base, is_up, st, 5000));
	pid = redis_embed_pid(re);
	assert_true(pid > 0);
	redis_embed_stop(re);
	assert_int_equal(kill(pid, 0), -1);	/* the server is gone */
	assert_true(run_until(f->base, is_down, st, 5000));
	/* A command while down fails at once, as temporary, instead of waiting. */
	assert_int_equal(store_ping(st, on_ping, &r), -EAGAIN);
	assert_false(r.done);
	talloc_free(re);
	/* Same folder, same socket: the store finds the new server by itself. */
	re = redis_embed_start(f->ctx, f->server, f->dir, 10000, err, sizeof(err));
	if (re == NULL)
		fail_msg("redis restart: %s", err);
	assert_true(run_until(f->base, is_up, st, 10000));
	talloc_free(st);
	talloc_free(re);
}

static void test_bad_server_binary(void **state)
{
	struct fixture *f = *state;
	char err[512];

	assert_null(redis_embed_start(f->ctx, "/nonexistent/redis-server", f->dir, 2000, err,
				      sizeof(err)));
	assert_non_null(strstr(err, "exited with status 127"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_second_server_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_and_reconnect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_server_binary, setup, teardown),
	};

	logging_setup("test_redis_smoke", LOGL_WARN);
	return cmocka_run_group_tests_name("redis_smoke", tests, NULL, NULL);
}
