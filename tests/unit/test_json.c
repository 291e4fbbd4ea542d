/* The JSON writer: escaping of hostile bytes and the shape of objects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/json.h"

struct str_case {
	const char *name;
	const char *in;
	size_t len;
	const char *out;
};

#define S(n, in, out) { n, in, sizeof(in) - 1, out }

static const struct str_case str_cases[] = {
	S("plain ascii", "abc 123", "\"abc 123\""),
	S("empty", "", "\"\""),
	S("quote and backslash", "a\"b\\c", "\"a\\\"b\\\\c\""),
	S("newline tab return", "a\nb\tc\rd", "\"a\\nb\\tc\\rd\""),
	S("control bytes", "\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\""),
	S("embedded NUL", "a\0b", "\"a\\u0000b\""),
	S("utf8 arabic digits kept", "\xd9\xa3\xd9\xa5", "\"\xd9\xa3\xd9\xa5\""),
	S("utf8 4-byte kept", "\xf0\x9f\x93\xb1", "\"\xf0\x9f\x93\xb1\""),
	S("lone continuation byte", "a\x80z", "\"a\\ufffdz\""),
	S("truncated sequence at end", "ab\xe2\x82", "\"ab\\ufffd\\ufffd\""),
	S("overlong slash", "\xc0\xaf", "\"\\ufffd\\ufffd\""),
	S("surrogate encoded", "\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""),
	S("above U+10FFFF", "\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""),
	S("byte 0xff", "\xff", "\"\\ufffd\""),
	S("line separator escaped", "\xe2\x80\xa8", "\"\\u2028\""),
};

static void test_string(void **state)
{
	const struct str_case *c = *state;
	struct json_buf jb;

	json_init(&jb);
	json_string(&jb, c->in, c->len);
	assert_false(jb.failed);
	assert_string_equal(jb.data, c->out);
	json_free(&jb);
}

static void test_object(void **state)
{
	struct json_buf jb;

	(void)state;
	json_init(&jb);
	json_object_begin(&jb);
	json_key_cstr(&jb, "input", "35 209900 176148 1");
	json_key_cstr(&jb, "imei", NULL);
	json_key_bool(&jb, "valid", false);
	json_key_int(&jb, "n", -42);
	json_key_null(&jb, "svn");
	json_object_end(&jb);
	assert_string_equal(jb.data, "{\"input\":\"35 209900 176148 1\",\"imei\":null,"
			    "\"valid\":false,\"n\":-42,\"svn\":null}");
	json_reset(&jb);
	json_object_begin(&jb);
	json_object_end(&jb);
	assert_string_equal(jb.data, "{}");
	json_free(&jb);
}

/* Arrays of objects: empty, one, two; the keys after them keep their commas. */
static void test_array(void **state)
{
	struct json_buf jb;

	(void)state;
	json_init(&jb);
	json_object_begin(&jb);
	json_key_cstr(&jb, "a", "x");
	json_key_array_begin(&jb, "none");
	json_array_end(&jb);
	json_key_array_begin(&jb, "one");
	json_object_begin(&jb);
	json_key_int(&jb, "n", 1);
	json_object_end(&jb);
	json_array_end(&jb);
	json_key_array_begin(&jb, "two");
	json_object_begin(&jb);
	json_key_cstr(&jb, "c", "KE");
	json_key_cstr(&jb, "d", "2026-12-02");
	json_object_end(&jb);
	json_object_begin(&jb);
	json_object_end(&jb);
	json_array_end(&jb);
	json_key_bool(&jb, "z", true);
	json_object_end(&jb);
	assert_string_equal(jb.data, "{\"a\":\"x\",\"none\":[],\"one\":[{\"n\":1}],"
			    "\"two\":[{\"c\":\"KE\",\"d\":\"2026-12-02\"},{}],\"z\":true}");
	json_free(&jb);
}

static void test_large(void **state)
{
	static char big[100000];
	struct json_buf jb;

	(void)state;
	memset(big, '"', sizeof(big));
	json_init(&jb);
	json_string(&jb, big, sizeof(big));
	assert_false(jb.failed);
	assert_int_equal(jb.len, 2 * sizeof(big) + 2);
	json_free(&jb);
}

int main(void)
{
	struct CMUnitTest tests[sizeof(str_cases) / sizeof(str_cases[0]) + 3];
	size_t i;

	for (i = 0; i < sizeof(str_cases) / sizeof(str_cases[0]); i++) {
		memset(&tests[i], 0, sizeof(tests[i]));
		tests[i].name = str_cases[i].name;
		tests[i].test_func = test_string;
		tests[i].initial_state = (void *)&str_cases[i];
	}
	tests[i++] = (struct CMUnitTest)cmocka_unit_test(test_object);
	tests[i++] = (struct CMUnitTest)cmocka_unit_test(test_array);
	tests[i++] = (struct CMUnitTest)cmocka_unit_test(test_large);
	return _cmocka_run_group_tests("json", tests, i, NULL, NULL);
}
