/* What the integration tests that drive a libevent loop share: run the loop until a
 * condition holds or a time is up. */
#ifndef CEIRGW_TESTS_LOOPLIB_H
#define CEIRGW_TESTS_LOOPLIB_H

#include <stdbool.h>

#include <event2/event.h>

static void looplib_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	*(bool *)arg = true;
}

/* Runs the loop until cond(arg) or ms pass. Returns whether cond became true. */
static inline bool run_until(struct event_base *base, bool (*cond)(void *), void *arg, int ms)
{
	bool timed_out = false;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	struct event *t = evtimer_new(base, looplib_timeout, &timed_out);

	evtimer_add(t, &tv);
	while (!cond(arg) && !timed_out)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(t);
	return cond(arg);
}

#endif
