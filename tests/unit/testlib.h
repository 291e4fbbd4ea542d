/* What the unit tests share: a deterministic random source, so that generated inputs are
 * the same on every machine and every run. */
#ifndef CEIRGW_TESTS_TESTLIB_H
#define CEIRGW_TESTS_TESTLIB_H

#include <stdint.h>

/* xorshift64 (Marsaglia 2003); the state must not be 0. */
static inline uint32_t test_rng(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return (uint32_t)(*state >> 32);
}

#endif
