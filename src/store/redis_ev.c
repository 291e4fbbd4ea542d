/* hiredis's asynchronous context on a libevent loop. It reads as hiredis's own adapter
 * (hiredis/adapters/libevent.h) does, and writes differently: that adapter arms the write
 * event for each command and writes once epoll has said the socket is writable, which it
 * nearly always is. That costs two epoll_ctl and a pass of the loop per round trip to Redis;
 * a USSD journey makes about ten.
 *
 * Here a command queued while connected activates a flush event instead: it runs at the end
 * of the same pass of the loop, after the callbacks already due in it, and writes at once
 * every command those callbacks queued. Only when the socket takes less than all of it (its
 * buffer is full), and while connecting (hiredis learns that the connection is up from the
 * first writable event), is the write event armed, as the stock adapter does. The read
 * event persists: hiredis asks for reading again after every read, a no-op here rather
 * than an epoll_ctl. */
#include "store/redis_ev.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include <hiredis/hiredis.h>

struct redis_ev {
	redisAsyncContext *ac;
	struct event *rev, *wev, *flush;
	bool flushing;		/* inside on_flush: a write left unfinished arms wev */
	bool *gone;		/* set by cleanup while on_flush runs: ev is freed */
};

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct redis_ev *ev = arg;

	(void)fd;
	(void)what;
	redisAsyncHandleRead(ev->ac);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
	struct redis_ev *ev = arg;

	(void)fd;
	(void)what;
	redisAsyncHandleWrite(ev->ac);
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
	struct redis_ev *ev = arg;
	bool gone = false;

	(void)fd;
	(void)what;
	ev->flushing = true;
	ev->gone = &gone;
	/* A write error disconnects, and frees ev through cleanup, before this returns. */
	redisAsyncHandleWrite(ev->ac);
	if (!gone) {
		ev->flushing = false;
		ev->gone = NULL;
	}
}

static void add_read(void *data)
{
	struct redis_ev *ev = data;

	event_add(ev->rev, NULL);
}

static void del_read(void *data)
{
	struct redis_ev *ev = data;

	event_del(ev->rev);
}

static void add_write(void *data)
{
	struct redis_ev *ev = data;

	if (ev->flushing || !(ev->ac->c.flags & REDIS_CONNECTED))
		event_add(ev->wev, NULL);
	else
		event_active(ev->flush, EV_WRITE, 0);	/* once per pass, however often */
}

static void del_write(void *data)
{
	struct redis_ev *ev = data;

	event_del(ev->wev);
}

static void cleanup(void *data)
{
	struct redis_ev *ev = data;

	if (ev->gone != NULL)
		*ev->gone = true;
	event_free(ev->rev);
	event_free(ev->wev);
	event_free(ev->flush);
	free(ev);
}

int redis_ev_attach(redisAsyncContext *ac, struct event_base *base)
{
	struct redis_ev *ev;

	if (ac->ev.data != NULL)
		return -EBUSY;
	ev = calloc(1, sizeof(*ev));
	if (ev == NULL)
		return -ENOMEM;
	ev->ac = ac;
	ev->rev = event_new(base, ac->c.fd, EV_READ | EV_PERSIST, on_read, ev);
	ev->wev = event_new(base, ac->c.fd, EV_WRITE, on_write, ev);
	ev->flush = event_new(base, -1, 0, on_flush, ev);
	if (ev->rev == NULL || ev->wev == NULL || ev->flush == NULL) {
		if (ev->rev)
			event_free(ev->rev);
		if (ev->wev)
			event_free(ev->wev);
		if (ev->flush)
			event_free(ev->flush);
		free(ev);
		return -ENOMEM;
	}
	ac->ev.addRead = add_read;
	ac->ev.delRead = del_read;
	ac->ev.addWrite = add_write;
	ac->ev.delWrite = del_write;
	ac->ev.cleanup = cleanup;
	ac->ev.data = ev;
	/* Connecting: readable or writable, whichever tells first that the connection is up
	 * (or failed). */
	event_add(ev->rev, NULL);
	event_add(ev->wev, NULL);
	return 0;
}
