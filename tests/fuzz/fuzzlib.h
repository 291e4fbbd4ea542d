/* What every libFuzzer harness in tests/fuzz opens with: libFuzzer's entry points (a harness
 * defines LLVMFuzzerTestOneInput, and LLVMFuzzerInitialize when it sets something up once)
 * and CHECK, for the promises a harness checks besides crashes. */
#ifndef CEIRGW_TESTS_FUZZLIB_H
#define CEIRGW_TESTS_FUZZLIB_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* abort() is what libFuzzer reports as a crash; the line says which promise broke */
#define CHECK(cond)								\
	do {									\
		if (!(cond)) {							\
			fprintf(stderr, "%s:%d: broken: %s\n", __FILE__, __LINE__, #cond); \
			abort();						\
		}								\
	} while (0)

#endif
