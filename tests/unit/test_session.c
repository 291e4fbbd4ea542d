/* The USSD session record (engine_int.h's SESS_FIELDS): every field survives a round trip,
 * a record of an older ceirgw (every key, "c=0", another order) still reads, a value too long
 * for its field or a link state not in the table is refused, an unknown key is skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "flow/engine_int.h"

static void fill(struct sess *s)
{
	memset(s, 0, sizeof(*s));
	strcpy(s->screen, "report_confirm");
	s->consumed = 7;
	strcpy(s->lang, "fr");
	strcpy(s->imei, "356938035643809");
	strcpy(s->owner, "+254712345678");
	strcpy(s->reason, "stolen");
	strcpy(s->police, "OB/123/2026");
	strcpy(s->ref, "1212850448");
	s->handsets[0] = UINT64_C(35693803564380);
	s->handsets[1] = UINT64_C(1332700123456);
	s->nhandsets = 2;
	strcpy(s->link_owner, "+254712345678");
	strcpy(s->link_imei, "356938035643809");
	s->last_seen = 9465;
	strcpy(s->kyc_owner, "+254712345678");
	s->link_state = 'r';
	strcpy(s->shown, "Locked for 60 min.\nback\\slash");
}

static void test_round_trip(void **state)
{
	struct sess a, b;
	char rec[2048];
	size_t n;

	(void)state;
	fill(&a);
	n = sess_encode(&a, rec, sizeof(rec));
	assert_true(n > 0 && n < sizeof(rec));
	assert_int_equal(sess_decode(rec, n, &b), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	/* One line a key: the shown text's newline and backslash are escaped. */
	assert_non_null(strstr(rec, "t=Locked for 60 min.\\nback\\\\slash\n"));
}

static void test_empty_fields_absent(void **state)
{
	struct sess a, b;
	char rec[2048];
	size_t n;

	(void)state;
	memset(&a, 0, sizeof(a));
	strcpy(a.screen, "main");
	n = sess_encode(&a, rec, sizeof(rec));
	rec[n] = '\0';
	assert_string_equal(rec, "v=1\ns=main\n");
	assert_int_equal(sess_decode(rec, n, &b), 0);
	assert_memory_equal(&a, &b, sizeof(a));
}

static void test_older_record(void **state)
{
	static const char rec[] =
		"v=1\ns=ask_id\nc=0\nl=sw\nimei=356938035643809\nowner=+254712345678\n"
		"h=35693803564380,1332700123456\nlo=+254712345678\nli=356938035643809\n"
		"ls=9465\nko=\nlk=y\nunknown=skipped\n";
	struct sess s;

	(void)state;
	assert_int_equal(sess_decode(rec, sizeof(rec) - 1, &s), 0);
	assert_string_equal(s.screen, "ask_id");
	assert_int_equal(s.consumed, 0);
	assert_string_equal(s.lang, "sw");
	assert_string_equal(s.imei, "356938035643809");
	assert_int_equal(s.nhandsets, 2);
	assert_true(s.handsets[1] == UINT64_C(1332700123456));
	assert_int_equal(s.last_seen, 9465);
	assert_int_equal(s.link_state, 'y');
	assert_string_equal(s.kyc_owner, "");
}

static void test_refused(void **state)
{
	static const char *const bad[] = {
		"v=2\ns=main\n",				/* another version */
		"v=1\nl=main\n",				/* no screen */
		"v=1\ns=main\nl=123456789\n",			/* over its field */
		"v=1\ns=main\nref=12345678901\n",		/* over its field */
		"v=1\ns=main\nlk=x\n",				/* not a link state */
		"v=1\ns=main\nlk=yy\n",
		"v=1\ns=main",					/* no newline */
		"v=1\ns\n",					/* no '=' */
		"v=1\ns=main\nc=123456789\n",			/* a number too long */
		"v=1\ns=main\nls=-465\n",			/* a number with a sign */
		"v=1\ns=main\nc=\n",				/* no number */
	};
	struct sess s;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_true(sess_decode(bad[i], strlen(bad[i]), &s) < 0);
}

static void test_handsets_bounded(void **state)
{
	static const char rec[] = "v=1\ns=pick\nh=1,2,3,4,5,6,7\n";
	struct sess s;

	(void)state;
	assert_int_equal(sess_decode(rec, sizeof(rec) - 1, &s), 0);
	assert_int_equal(s.nhandsets, SESS_HANDSETS_MAX);
	assert_true(s.handsets[SESS_HANDSETS_MAX - 1] == SESS_HANDSETS_MAX);
}

static void test_small_buffer(void **state)
{
	struct sess a;
	char rec[64];
	size_t n;

	(void)state;
	fill(&a);
	n = sess_encode(&a, rec, sizeof(rec));
	assert_true(n <= sizeof(rec));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_empty_fields_absent),
		cmocka_unit_test(test_older_record),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_handsets_bounded),
		cmocka_unit_test(test_small_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
