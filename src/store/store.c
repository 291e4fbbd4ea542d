/* Redis connection management with hiredis's async API and libevent adapter
 * (hiredis/adapters/libevent.h). Commands are always sent as argv, never formatted. A lost
 * connection is retried with exponential backoff from 100 ms up to 5 s. */
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <talloc.h>

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/adapters/libevent.h>

#include "core/logging.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

enum store_state { ST_DOWN, ST_CONNECTING, ST_UP };

static const char *const state_names[] = {
	[ST_DOWN] = "down", [ST_CONNECTING] = "connecting", [ST_UP] = "up",
};

struct store {
	struct event_base *base;
	struct redis_url url;
	char address[300];	/* host (255) and port, or "unix:" and a path */
	redisAsyncContext *ac;
	enum store_state state;
	struct event *retry;
	int backoff_ms;
	bool closing;
};

struct ping_req {
	void (*cb)(void *arg, bool ok);
	void *arg;
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

	if (st == NULL || st->closing)
		return;
	if (reply == NULL)
		return;		/* the disconnect callback handles it */
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
	redisAsyncContext *ac;

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
		/* AUTH user password (Redis 6 ACL) or AUTH password. */
		const char *argv[3] = { "AUTH", st->url.user, st->url.password };
		size_t argvlen[3] = { 4, strlen(st->url.user), strlen(st->url.password) };

		if (st->url.user[0]) {
			redisAsyncCommandArgv(ac, handshake_cb, (void *)0L, 3, argv, argvlen);
		} else {
			argv[1] = argv[2];
			argvlen[1] = argvlen[2];
			redisAsyncCommandArgv(ac, handshake_cb, (void *)0L, 2, argv, argvlen);
		}
	}
	if (st->url.db) {
		char db[16];
		int n = snprintf(db, sizeof(db), "%d", st->url.db);

		redisAsyncCommandArgv(ac, handshake_cb, (void *)1L, 2,
				      (const char *[]){ "SELECT", db }, (size_t[]){ 6, (size_t)n });
	}
	redisAsyncCommandArgv(ac, handshake_cb, (void *)2L, 1, (const char *[]){ "PING" },
			      (size_t[]){ 4 });
}

static int store_destructor(struct store *st)
{
	st->closing = true;
	if (st->retry)
		event_free(st->retry);
	if (st->ac) {
		st->ac->data = NULL;
		redisAsyncFree(st->ac);
		st->ac = NULL;
	}
	return 0;
}

struct store *store_create(void *ctx, struct event_base *base, const struct redis_url *url)
{
	struct store *st = talloc_zero(ctx, struct store);

	if (st == NULL)
		return NULL;
	st->base = base;
	st->url = *url;
	st->backoff_ms = BACKOFF_MIN_MS;
	if (url->kind == REDIS_URL_UNIX)
		snprintf(st->address, sizeof(st->address), "unix:%s", url->path);
	else if (strchr(url->host, ':'))
		snprintf(st->address, sizeof(st->address), "[%s]:%d", url->host, url->port);
	else
		snprintf(st->address, sizeof(st->address), "%s:%d", url->host, url->port);
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

static void ping_cb(redisAsyncContext *ac, void *r, void *privdata)
{
	struct ping_req *req = privdata;
	redisReply *reply = r;

	req->cb(req->arg, reply && reply->type == REDIS_REPLY_STATUS &&
		strcmp(reply->str, "PONG") == 0);
	talloc_free(req);
}

int store_ping(struct store *st, void (*cb)(void *arg, bool ok), void *arg)
{
	struct ping_req *req;

	if (st->state != ST_UP || st->ac == NULL) {
		cb(arg, false);
		return 0;
	}
	req = talloc(st, struct ping_req);
	if (req == NULL)
		return -ENOMEM;
	req->cb = cb;
	req->arg = arg;
	if (redisAsyncCommandArgv(st->ac, ping_cb, req, 1, (const char *[]){ "PING" },
				  (size_t[]){ 4 }) != REDIS_OK) {
		talloc_free(req);
		cb(arg, false);
	}
	return 0;
}
