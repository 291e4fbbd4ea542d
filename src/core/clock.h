/* Clock reads in whole milliseconds or microseconds (POSIX clock_gettime): the monotonic
 * clock for timeouts and latencies, the wall clock for what is stored or shown as a time.
 * Header-only: a vDSO call each, inlined where it is timed. */
#ifndef CEIRGW_CORE_CLOCK_H
#define CEIRGW_CORE_CLOCK_H

#include <time.h>

static inline long long clock_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline long long clock_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Milliseconds since the Unix epoch. */
static inline long long clock_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
