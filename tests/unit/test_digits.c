/* digits_value: a run of ASCII digits as the number the store keeps for an IMEI's body, an
 * E.164 number without its '+' and an IMSI. One TAP line per row. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "domain/digits.h"

struct value_case {
	const char *name;
	const char *s;
	size_t n;		/* digits read from s; s may go on */
	uint64_t want;
};

static const struct value_case value_cases[] = {
	{ "digits value: none is 0", "", 0, 0 },
	{ "digits value: one digit", "7", 1, 7 },
	{ "digits value: zero", "0", 1, 0 },
	{ "digits value: leading zeros count for nothing", "000123", 6, 123 },
	{ "digits value: an IMEI's 14-digit body", "35693803564380", 14, UINT64_C(35693803564380) },
	{ "digits value: an E.164 number without its '+'", "254712345678", 12,
	  UINT64_C(254712345678) },
	{ "digits value: a 15-digit IMSI", "639021234567890", 15, UINT64_C(639021234567890) },
	{ "digits value: only the first n are read (the check digit left out)",
	  "356938035643809", 14, UINT64_C(35693803564380) },
	{ "digits value: 19 nines, the most that fits", "9999999999999999999", 19,
	  UINT64_C(9999999999999999999) },
};

static void test_value(void **state)
{
	const struct value_case *c = *state;

	assert_true(c->n <= strlen(c->s));
	assert_true(digits_value(c->s, c->n) == c->want);
}

#define NVALUE (sizeof(value_cases) / sizeof(value_cases[0]))

int main(void)
{
	struct CMUnitTest tests[NVALUE];
	size_t i;

	for (i = 0; i < NVALUE; i++)
		tests[i] = (struct CMUnitTest){ .name = value_cases[i].name, .test_func = test_value,
						.initial_state = (void *)&value_cases[i] };
	return _cmocka_run_group_tests("digits", tests, NVALUE, NULL, NULL);
}
