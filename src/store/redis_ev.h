/* hiredis's asynchronous context on a libevent loop: hiredis's own libevent adapter, except
 * for writing. See redis_ev.c. */
#ifndef CEIRGW_STORE_REDIS_EV_H
#define CEIRGW_STORE_REDIS_EV_H

#include <event2/event.h>
#include <hiredis/async.h>

/* Attaches ac to base, as redisLibeventAttach does. Returns 0, or -ENOMEM (ac is then not
 * attached) or -EBUSY (something already is). The events go with ac (redisAsyncFree). */
int redis_ev_attach(redisAsyncContext *ac, struct event_base *base);

#endif
