/* A feed log's entry (feed/entry.h): the one spelling a decision has, read back strictly, so
 * that every country hashes the same bytes for it. One TAP line per row. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "feed/entry.h"

struct parse_case {
	const char *name;
	const char *s;
	bool ok;
};

static const struct parse_case parse_cases[] = {
	{ "feed entry: a block for theft", "KE 356938035643809 blocked stolen 2026-12-02", true },
	{ "feed entry: a block for a loss", "TZ 356938035643809 blocked lost 2026-01-31", true },
	{ "feed entry: an unblock", "UG 356938035643809 unblocked recovered 2024-02-29", true },
	{ "feed entry: lower-case country", "ke 356938035643809 blocked stolen 2026-12-02", false },
	{ "feed entry: three-letter country", "KEN 356938035643809 blocked stolen 2026-12-02",
	  false },
	{ "feed entry: wrong check digit", "KE 356938035643808 blocked stolen 2026-12-02", false },
	{ "feed entry: 14 digits", "KE 35693803564380 blocked stolen 2026-12-02", false },
	{ "feed entry: unblocked for theft", "KE 356938035643809 unblocked stolen 2026-12-02",
	  false },
	{ "feed entry: blocked as recovered", "KE 356938035643809 blocked recovered 2026-12-02",
	  false },
	{ "feed entry: unknown status", "KE 356938035643809 listed stolen 2026-12-02", false },
	{ "feed entry: no such day", "KE 356938035643809 blocked stolen 2026-02-30", false },
	{ "feed entry: not a leap year", "KE 356938035643809 blocked stolen 2025-02-29", false },
	{ "feed entry: month 13", "KE 356938035643809 blocked stolen 2026-13-01", false },
	{ "feed entry: a day without zero padding", "KE 356938035643809 blocked stolen 2026-12-2",
	  false },
	{ "feed entry: a sign in the day", "KE 356938035643809 blocked stolen 2026-+2-02", false },
	{ "feed entry: two spaces", "KE  356938035643809 blocked stolen 2026-12-02", false },
	{ "feed entry: a trailing space", "KE 356938035643809 blocked stolen 2026-12-02 ", false },
	{ "feed entry: a trailing newline", "KE 356938035643809 blocked stolen 2026-12-02\n",
	  false },
	{ "feed entry: a sixth word", "KE 356938035643809 blocked stolen 2026-12-02 x", false },
	{ "feed entry: four words", "KE 356938035643809 blocked stolen", false },
	{ "feed entry: empty", "", false },
	{ "feed entry: a NUL inside", "KE 356938035643809 blocked\0stolen 2026-12-02", false },
};

static void test_parse(void **state)
{
	const struct parse_case *c = *state;
	size_t len = strlen(c->s);
	struct feed_entry e;
	char out[FEED_ENTRY_MAX];

	if (strcmp(c->name, "feed entry: a NUL inside") == 0)
		len = 44;
	assert_int_equal(feed_entry_parse(c->s, len, &e), c->ok ? 0 : -EBADMSG);
	if (c->ok) {
		/* What reads formats to the same bytes. */
		assert_int_equal(feed_entry_format(&e, out, sizeof(out)), (int)len);
		assert_memory_equal(out, c->s, len);
	}
}

static void test_format_refusals(void **state)
{
	struct feed_entry e = { "KE", "356938035643809", FEED_BLOCKED, FEED_STOLEN, 2026, 12, 2 };
	char out[FEED_ENTRY_MAX];

	(void)state;
	assert_int_equal(feed_entry_format(&e, out, sizeof(out)), 44);
	assert_string_equal(out, "KE 356938035643809 blocked stolen 2026-12-02");
	assert_int_equal(feed_entry_format(&e, out, 10), -ENOSPC);
	e.reason = FEED_RECOVERED;
	assert_int_equal(feed_entry_format(&e, out, sizeof(out)), -EINVAL);
	e.reason = FEED_STOLEN;
	memcpy(e.country, "K1", 3);
	assert_int_equal(feed_entry_format(&e, out, sizeof(out)), -EINVAL);
	memcpy(e.country, "KE", 3);
	e.month = 0;
	assert_int_equal(feed_entry_format(&e, out, sizeof(out)), -EINVAL);
	e.month = 12;
	memcpy(e.imei, "35693803564380x", 16);
	assert_int_equal(feed_entry_format(&e, out, sizeof(out)), -EINVAL);
	assert_int_equal(feed_reason_parse("lost", 4), FEED_LOST);
	assert_int_equal(feed_reason_parse("lost ", 5), -1);
	assert_true(feed_country_valid("TZ"));
	assert_false(feed_country_valid("T"));
}

int main(void)
{
	struct CMUnitTest t[sizeof(parse_cases) / sizeof(parse_cases[0]) + 1];
	size_t n = 0;

	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++)
		t[n++] = (struct CMUnitTest){ parse_cases[i].name, test_parse, NULL, NULL,
					      (void *)&parse_cases[i] };
	t[n++] = (struct CMUnitTest){ "feed entry: formatting refuses what could not be read",
				      test_format_refusals, NULL, NULL, NULL };
	return _cmocka_run_group_tests("feed entry", t, n, NULL, NULL);
}
