/* The Redis layout of pairings: keys and fields, value round trips, merging (idempotent,
 * windows widen, capped), the duplicate rule and dates. And the MSISDN block memo, which
 * must answer exactly as libphonenumber does. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <talloc.h>

#include <cmocka.h>

#include "testlib.h"
#include "domain/msisdn_memo.h"
#include "store/pairs.h"

static void test_keys(void **state)
{
	char key[PAIRS_KEY_MAX];
	uint8_t field[PAIRS_FIELD_MAX];
	size_t kl, fl;

	(void)state;
	pairs_imei_key(35693803564380ULL, 5, key, &kl, field, &fl);
	assert_string_equal(key, "pi:{64380}");
	assert_int_equal(kl, 10);
	assert_int_equal(fl, 4);	/* 356938035 < 2^32 */
	assert_int_equal(((uint32_t)field[0] << 24 | field[1] << 16 | field[2] << 8 | field[3]),
			 356938035);
	pairs_imei_key(1130000000001ULL, 5, key, &kl, field, &fl);	/* TAC 01130000 */
	assert_string_equal(key, "pi:{00001}");
	pairs_msisdn_key(254712345678ULL, 5, key, &kl, field, &fl);
	assert_string_equal(key, "pm:{45678}");
	assert_int_equal(fl, 3);	/* 2547123 */
	pairs_msisdn_key(254712345678ULL, 3, key, &kl, field, &fl);
	assert_string_equal(key, "pm:{678}");
	assert_int_equal(fl, 4);	/* 254712345 */
	pairs_msisdn_key(999999999999999ULL, 3, key, &kl, field, &fl);
	assert_int_equal(fl, 5);
	pairs_imei_key(35693803564380ULL, 8, key, &kl, field, &fl);
	assert_string_equal(key, "pi:{03564380}");
	assert_int_equal(fl, 3);	/* 356938 */
}

static void assert_recs_equal(const struct pair_rec *a, const struct pair_rec *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		assert_int_equal(a[i].msisdn, b[i].msisdn);
		assert_int_equal(a[i].imsi_tag, b[i].imsi_tag);
		assert_int_equal(a[i].first_seen, b[i].first_seen);
		assert_int_equal(a[i].last_seen, b[i].last_seen);
	}
}

static void test_imei_roundtrip(void **state)
{
	struct pair_rec in[3] = {
		{ 254712345678ULL, 0, 100, 200 },
		{ 999999999999999ULL, 0, 0, 65535 },
		{ 33612345678ULL, 0, 7000, 7000 },
	}, out[PAIRS_MAX_RECORDS];
	uint8_t buf[PAIRS_IMEI_VALUE_MAX];
	size_t len;

	(void)state;
	len = pairs_imei_encode(in, 3, buf);
	assert_int_equal(len, 1 + 3 * 11);	/* 999999999999999 needs 7 bytes */
	assert_int_equal(buf[0], 0x12);
	assert_int_equal(pairs_imei_decode(buf, len, out, PAIRS_MAX_RECORDS), 3);
	assert_recs_equal(in, out, 3);
	in[1].imsi_tag = pairs_imsi_tag(639021234567890ULL);
	len = pairs_imei_encode(in, 3, buf);
	assert_int_equal(len, 1 + 3 * 14);
	assert_int_equal(pairs_imei_decode(buf, len, out, PAIRS_MAX_RECORDS), 3);
	assert_recs_equal(in, out, 3);
	assert_int_equal(pairs_imei_decode(buf, len - 1, out, PAIRS_MAX_RECORDS), -EINVAL);
	assert_int_equal(pairs_imei_decode(buf, len, out, 2), -EINVAL);
	buf[0] = 0x13;	/* 8-byte numbers: no such format */
	assert_int_equal(pairs_imei_decode(buf, len, out, PAIRS_MAX_RECORDS), -EINVAL);
	assert_int_equal(pairs_imei_decode(buf, 0, out, PAIRS_MAX_RECORDS), -EINVAL);
	/* Numbers below 2^40 take 5 bytes. */
	in[1].msisdn = 254700000000ULL;
	in[1].imsi_tag = 0;
	len = pairs_imei_encode(in, 3, buf);
	assert_int_equal(len, 1 + 3 * 9);
	assert_int_equal(pairs_imei_decode(buf, len, out, PAIRS_MAX_RECORDS), 3);
	assert_recs_equal(in, out, 3);
	assert_int_not_equal(pairs_imsi_tag(639021234567890ULL), pairs_imsi_tag(639021234567891ULL));
	assert_int_not_equal(pairs_imsi_tag(0), 0);
}

static void test_msisdn_roundtrip(void **state)
{
	uint64_t in[2] = { 35693803564380ULL, 99999999999999ULL }, out[PAIRS_MAX_RECORDS];
	uint8_t buf[PAIRS_MSISDN_VALUE_MAX];
	size_t len;

	(void)state;
	len = pairs_msisdn_encode(in, 2, buf);
	assert_int_equal(len, 12);
	assert_int_equal(pairs_msisdn_decode(buf, len, out, PAIRS_MAX_RECORDS), 2);
	assert_memory_equal(in, out, sizeof(in));
	assert_int_equal(pairs_msisdn_decode(buf, 7, out, PAIRS_MAX_RECORDS), -EINVAL);
	assert_int_equal(pairs_msisdn_decode(buf, 0, out, PAIRS_MAX_RECORDS), 0);
}

static void test_merge(void **state)
{
	struct pair_rec recs[PAIRS_MAX_RECORDS], a = { 254712345678ULL, 0, 100, 200 };
	struct pair_rec b = a, c = { 254700000001ULL, 0, 150, 160 };
	size_t n = 0, i;

	(void)state;
	assert_true(pairs_imei_merge(recs, &n, &a));
	assert_false(pairs_imei_merge(recs, &n, &a));	/* the same row again: no change */
	b.first_seen = 120;
	b.last_seen = 180;
	assert_false(pairs_imei_merge(recs, &n, &b));	/* inside the window */
	b.last_seen = 300;
	assert_true(pairs_imei_merge(recs, &n, &b));	/* a later dump widens it */
	assert_int_equal(recs[0].first_seen, 100);
	assert_int_equal(recs[0].last_seen, 300);
	b.imsi_tag = pairs_imsi_tag(639021234567890ULL);
	assert_true(pairs_imei_merge(recs, &n, &b));
	assert_int_equal(recs[0].imsi_tag, b.imsi_tag);
	assert_true(pairs_imei_merge(recs, &n, &c));
	assert_int_equal(n, 2);
	/* Past the cap the pairing seen longest ago gives way, never a newer one. */
	for (i = 2; i < PAIRS_MAX_RECORDS; i++) {
		struct pair_rec r = { 254700001000ULL + i, 0, 500, (uint16_t)(500 + i) };

		assert_true(pairs_imei_merge(recs, &n, &r));
	}
	assert_int_equal(n, PAIRS_MAX_RECORDS);
	c.msisdn = 254799999999ULL;
	c.last_seen = 10;
	assert_false(pairs_imei_merge(recs, &n, &c));
	c.last_seen = 9000;
	assert_true(pairs_imei_merge(recs, &n, &c));
	assert_int_equal(n, PAIRS_MAX_RECORDS);
	for (i = 0; i < n; i++)
		assert_true(recs[i].msisdn != 254700000001ULL);	/* last seen 160: the oldest */
}

static void test_msisdn_merge(void **state)
{
	uint64_t bodies[PAIRS_MAX_RECORDS];
	size_t n = 0, i;

	(void)state;
	assert_true(pairs_msisdn_merge(bodies, &n, 1));
	assert_false(pairs_msisdn_merge(bodies, &n, 1));
	for (i = 2; i <= PAIRS_MAX_RECORDS + 1; i++)
		assert_true(pairs_msisdn_merge(bodies, &n, i));
	assert_int_equal(n, PAIRS_MAX_RECORDS);
	assert_int_equal(bodies[0], 2);
	assert_int_equal(bodies[n - 1], PAIRS_MAX_RECORDS + 1);
}

struct dup_case {
	const char *name;
	struct pair_rec recs[4];
	size_t n;
	unsigned min_ids;
	bool by_imsi;
	bool want;
};

static const struct dup_case dup_cases[] = {
	{ "duplicate: one subscriber", { { 1, 0, 0, 100 } }, 1, 2, false, false },
	{ "duplicate: resale, windows apart", { { 1, 0, 0, 100 }, { 2, 0, 101, 200 } }, 2, 2,
	  false, false },
	{ "duplicate: windows touching on a day", { { 1, 0, 0, 100 }, { 2, 0, 100, 200 } }, 2,
	  2, false, true },
	{ "duplicate: two at once", { { 1, 0, 0, 100 }, { 2, 0, 50, 60 } }, 2, 2, false, true },
	{ "duplicate: two at once, rule wants three", { { 1, 0, 0, 100 }, { 2, 0, 50, 60 } }, 2,
	  3, false, false },
	{ "duplicate: three at once", { { 1, 0, 0, 100 }, { 2, 0, 50, 60 }, { 3, 0, 55, 70 } },
	  3, 3, false, true },
	{ "duplicate: three overlapping in pairs only",
	  { { 1, 0, 0, 10 }, { 2, 0, 5, 20 }, { 3, 0, 15, 30 } }, 3, 3, false, false },
	{ "duplicate: by IMSI, one SIM with two numbers", { { 1, 77, 0, 100 }, { 2, 77, 50, 60 } },
	  2, 2, true, false },
	{ "duplicate: by IMSI, two SIMs", { { 1, 77, 0, 100 }, { 2, 78, 50, 60 } }, 2, 2, true,
	  true },
	{ "duplicate: rule of one is off", { { 1, 0, 0, 100 }, { 2, 0, 50, 60 } }, 2, 1, false,
	  false },
};

static void test_dup(void **state)
{
	const struct dup_case *c = *state;

	assert_int_equal(pairs_duplicated(c->recs, c->n, c->min_ids, c->by_imsi), c->want);
}

struct date_case {
	const char *name;
	const char *in;
	int rc;
	unsigned days;
};

static const struct date_case date_cases[] = {
	{ "date: epoch", "2000-01-01", 0, 0 },
	{ "date: leap day 2000", "2000-02-29", 0, 59 },
	{ "date: 2024-03-01", "2024-03-01", 0, 8826 },
	{ "date: with a time", "2024-03-01T10:00:00Z", 0, 8826 },
	{ "date: with a space and time", "2024-03-01 10:00", 0, 8826 },
	{ "date: 2100 is not a leap year", "2100-02-29", -EINVAL, 0 },
	{ "date: 2023-02-29", "2023-02-29", -EINVAL, 0 },
	{ "date: 2023-02-30", "2023-02-30", -EINVAL, 0 },
	{ "date: month 13", "2023-13-01", -EINVAL, 0 },
	{ "date: day 0", "2023-01-00", -EINVAL, 0 },
	{ "date: before 2000", "1999-12-31", -EINVAL, 0 },
	{ "date: after 2179-06-06", "2179-06-07", -EINVAL, 0 },
	{ "date: last day", "2179-06-06", 0, 65535 },
	{ "date: slashes", "2023/01/01", -EINVAL, 0 },
	{ "date: short", "2023-1-1", -EINVAL, 0 },
	{ "date: text", "yesterday!", -EINVAL, 0 },
	{ "date: junk after", "2023-01-01x", -EINVAL, 0 },
	{ "date: empty", "", -EINVAL, 0 },
};

static void test_date(void **state)
{
	const struct date_case *c = *state;
	uint16_t days = 1;
	char back[11];

	assert_int_equal(pairs_parse_date(c->in, strlen(c->in), &days), c->rc);
	if (c->rc == 0) {
		assert_int_equal(days, c->days);
		pairs_format_date(days, back);
		assert_memory_equal(back, c->in, 10);
	}
}

static void test_date_all_days(void **state)
{
	uint16_t d, back;
	char s[11];

	(void)state;
	for (d = 0; d < 65535; d++) {
		pairs_format_date(d, s);
		assert_int_equal(pairs_parse_date(s, 10, &back), 0);
		assert_int_equal(back, d);
	}
}

/* The memo answers as libphonenumber does, for random numbers around real ranges. */
static void test_memo_agrees(void **state)
{
	static const struct { const char *region, *stem; } stems[] = {
		{ "KE", "2547" }, { "KE", "07" }, { "KE", "+2541" }, { "KE", "00254" },
		{ "KE", "2542" }, { "NG", "2348" }, { "NG", "080" }, { "PK", "923" },
		{ "IN", "919" }, { "FR", "336" }, { "FR", "06" }, { "BR", "55119" },
		{ "TR", "905" }, { "KE", "999" },
	};
	void *ctx = talloc_new(NULL);
	uint64_t rng = 42;
	size_t s, i, hits, misses;

	(void)state;
	for (s = 0; s < sizeof(stems) / sizeof(stems[0]); s++) {
		struct msisdn_memo *m = msisdn_memo_new(ctx, stems[s].region, 4096);

		assert_non_null(m);
		for (i = 0; i < 400; i++) {
			char num[24];
			size_t len = strlen(stems[s].stem), want = len + 6 + test_rng(&rng) % 5;
			struct msisdn a, b;

			memcpy(num, stems[s].stem, len);
			while (len < want)
				num[len++] = (char)('0' + test_rng(&rng) % 10);
			num[len] = '\0';
			msisdn_memo_parse(m, num, len, &a);
			msisdn_parse(num, len, stems[s].region, &b);
			if (memcmp(&a, &b, sizeof(a)) != 0)
				fail_msg("%s %s: memo %s %s, libphonenumber %s %s", stems[s].region,
					 num, msisdn_reason_name(a.reason), a.e164,
					 msisdn_reason_name(b.reason), b.e164);
		}
		msisdn_memo_stats(m, &hits, &misses);
		assert_true(hits > 0);
	}
	talloc_free(ctx);
}

/* ---- the neighbours' decisions (issue 19) ---- */

static void test_foreign_key(void **state)
{
	char key[PAIRS_KEY_MAX];
	uint8_t field[PAIRS_FOREIGN_FIELD_MAX];
	size_t kl, fl;

	(void)state;
	pairs_foreign_key(35693803564380ULL, key, &kl, field, &fl);
	assert_string_equal(key, "fx:{4380}");
	assert_int_equal(kl, 9);
	assert_int_equal(fl, 4);	/* 3569380356 < 2^32 */
	assert_int_equal(((uint32_t)field[0] << 24 | (uint32_t)field[1] << 16 |
			  (uint32_t)field[2] << 8 | field[3]), 3569380356U);
}

/* A field per country: the IMEI's field and the two letters; a value of 3 bytes. */
static void test_foreign_field_value(void **state)
{
	char key[PAIRS_KEY_MAX];
	uint8_t field[PAIRS_FOREIGN_FIELD_MAX], f2[PAIRS_FOREIGN_FIELD_MAX], v[3];
	size_t kl, fl, f2l;
	char reason;
	uint16_t day;

	(void)state;
	pairs_foreign_key(35693803564380ULL, key, &kl, field, &fl);
	f2l = pairs_foreign_field(field, fl, "KE", f2);
	assert_int_equal(f2l, fl + 2);
	assert_memory_equal(f2, field, fl);
	assert_memory_equal(f2 + fl, "KE", 2);
	/* In place too, as the store does. */
	assert_int_equal(pairs_foreign_field(field, fl, "TZ", field), fl + 2);
	assert_memory_equal(field + fl, "TZ", 2);
	pairs_foreign_encode('L', 9468, v);
	assert_memory_equal(v, "L\x24\xfc", 3);
	assert_int_equal(pairs_foreign_decode(v, 3, &reason, &day), 0);
	assert_int_equal(reason, 'L');
	assert_int_equal(day, 9468);
	pairs_foreign_encode('S', 0, v);
	assert_int_equal(pairs_foreign_decode(v, 3, &reason, &day), 0);
	assert_int_equal(reason, 'S');
	assert_int_equal(day, 0);
}

static void test_foreign_decode_refuses(void **state)
{
	char reason;
	uint16_t day;

	(void)state;
	assert_int_equal(pairs_foreign_decode((const uint8_t *)"S\x01", 2, &reason, &day), -EINVAL);
	assert_int_equal(pairs_foreign_decode((const uint8_t *)"S\x01\x02\x03", 4, &reason, &day),
			 -EINVAL);
	assert_int_equal(pairs_foreign_decode((const uint8_t *)"X\x01\x02", 3, &reason, &day),
			 -EINVAL);
	assert_int_equal(pairs_foreign_decode((const uint8_t *)"", 0, &reason, &day), -EINVAL);
}

#define NDUP (sizeof(dup_cases) / sizeof(dup_cases[0]))
#define NDATE (sizeof(date_cases) / sizeof(date_cases[0]))

int main(void)
{
	struct CMUnitTest tests[13 + NDUP + NDATE];
	size_t i, n = 0;

	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_keys);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_imei_roundtrip);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_msisdn_roundtrip);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_merge);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_msisdn_merge);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_date_all_days);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_memo_agrees);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_foreign_key);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_foreign_field_value);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_foreign_decode_refuses);
	for (i = 0; i < NDUP; i++)
		tests[n++] = (struct CMUnitTest){ .name = dup_cases[i].name, .test_func = test_dup,
						  .initial_state = (void *)&dup_cases[i] };
	for (i = 0; i < NDATE; i++)
		tests[n++] = (struct CMUnitTest){ .name = date_cases[i].name,
						  .test_func = test_date,
						  .initial_state = (void *)&date_cases[i] };
	return _cmocka_run_group_tests("pairs", tests, n, NULL, NULL);
}
