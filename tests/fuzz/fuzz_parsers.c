/* libFuzzer harness over every parser that reads what strangers send: IMEI (3GPP TS 23.003),
 * MSISDN (ITU-T E.164 through libphonenumber), digit normalisation, the TAC table CSV, what
 * a Redis Cluster node answers (hash slots, MOVED and ASK), and what Redis gives back of
 * ours: a USSD session record and a report hash.
 * Besides crashes it checks what each header promises, and aborts on a broken promise. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <talloc.h>

#include "fuzzlib.h"

#include "domain/digits.h"
#include "domain/imei.h"
#include "domain/msisdn.h"
#include "domain/report.h"
#include "domain/tac.h"
#include "flow/engine_int.h"
#include "store/cluster.h"

static bool all_digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
	}
	return true;
}

static size_t count_digits(const char *s, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		n += s[i] >= '0' && s[i] <= '9';
	return n;
}

static void fuzz_imei(const char *in, size_t len)
{
	struct imei v, again;
	enum imei_reason r = imei_parse(in, len, &v);

	CHECK(r == v.reason);
	CHECK((unsigned)r <= IMEI_RESERVED);
	CHECK(v.valid == (r == IMEI_OK));
	CHECK(imei_reason_name(r) != NULL);
	if (len > IMEI_INPUT_MAX)
		CHECK(r == IMEI_TOO_LONG);
	if (v.valid)
		CHECK(v.has_digits);
	if (!v.has_digits)
		return;
	CHECK(strlen(v.imei) == 15 && all_digits(v.imei, 15));
	CHECK(strlen(v.tac) == 8 && memcmp(v.tac, v.imei, 8) == 0);
	CHECK(v.svn[0] == '\0' || (strlen(v.svn) == 2 && all_digits(v.svn, 2)));
	if (r == IMEI_OK || v.computed_check_digit)
		CHECK(imei_check_digit(v.imei) == v.imei[14]);
	if (r == IMEI_BAD_CHECK_DIGIT)
		CHECK(imei_check_digit(v.imei) != v.imei[14]);
	if (r == IMEI_OK) {
		/* the 15 digits it reports read back as the same valid IMEI */
		CHECK(imei_parse(v.imei, 15, &again) == IMEI_OK);
		CHECK(strcmp(again.imei, v.imei) == 0 && !again.computed_check_digit);
	}
}

static const char *const regions[] = {
	NULL, "", "KE", "NG", "PK", "IN", "TR", "FR", "BR", "US", "ke", "XX",
};
#define REGIONS (sizeof(regions) / sizeof(regions[0]))

static void fuzz_msisdn(const char *in, size_t len, const char *region)
{
	struct msisdn m, again;
	enum msisdn_reason r = msisdn_parse(in, len, region, &m);
	char masked[MSISDN_E164_MAX + 1];
	size_t n;

	CHECK(r == m.reason);
	CHECK((unsigned)r <= MSISDN_UNKNOWN_REGION);
	CHECK(strcmp(msisdn_reason_name(r), "?") != 0);
	CHECK(m.valid == (r == MSISDN_OK));
	if (region != NULL && strcmp(region, "XX") == 0)
		CHECK(r == MSISDN_UNKNOWN_REGION);
	else if (len > MSISDN_INPUT_MAX)
		CHECK(r == MSISDN_TOO_LONG);
	if (!m.valid) {
		CHECK(m.e164[0] == '\0' && m.region[0] == '\0' && m.type == MSISDN_TYPE_UNKNOWN);
		return;
	}
	n = strlen(m.e164);
	CHECK(m.e164[0] == '+' && n >= 3 && n <= MSISDN_E164_MAX && all_digits(m.e164 + 1, n - 1));
	CHECK(m.region[0] == '\0' || (strlen(m.region) == 2 &&
				      m.region[0] >= 'A' && m.region[0] <= 'Z' &&
				      m.region[1] >= 'A' && m.region[1] <= 'Z'));
	CHECK(m.type != MSISDN_TYPE_UNKNOWN && strcmp(msisdn_type_name(m.type), "?") != 0);
	/* what would be stored reads back as itself, from no region */
	CHECK(msisdn_parse(m.e164, n, NULL, &again) == MSISDN_OK);
	CHECK(strcmp(again.e164, m.e164) == 0 && strcmp(again.region, m.region) == 0);
	CHECK(again.type == m.type);
	/* its log form fits the same room and hides at least four digits */
	CHECK(msisdn_mask(m.e164, n, masked, sizeof(masked)) == n);
	CHECK(strlen(masked) == n && masked[0] == '+');
	CHECK(n - 1 - count_digits(masked, n) >= (n - 1 < 4 ? n - 1 : 4));
}

static void fuzz_mask(const char *in, size_t len)
{
	static const size_t sizes[] = { 0, 1, 2, 5, 13, 14, 17, 64, 300 };
	char out[320];
	size_t need = count_digits(in, len), i, k, got;

	for (i = 0; i < len && !(in[i] >= '0' && in[i] <= '9'); i++) {
		if (in[i] == '+') {
			need++;
			break;
		}
	}
	for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		memset(out, 'Z', sizeof(out));
		CHECK(msisdn_mask(in, len, k == 0 ? NULL : out, sizes[k]) == need);
		if (sizes[k] == 0)
			continue;
		got = strlen(out);
		CHECK(got == (need < sizes[k] ? need : sizes[k] - 1));
		CHECK(strspn(out, "+0123456789*") == got);
		for (i = sizes[k]; i < sizeof(out); i++)
			CHECK(out[i] == 'Z');
		if (got == need) {
			size_t digits = count_digits(out, got);
			size_t hidden = got - strspn(out, "+") - digits;

			/* at least four hidden, or all of them when there are fewer */
			CHECK(hidden >= 4 || digits == 0);
		}
	}
}

static void fuzz_digits(const char *in, size_t len)
{
	static const size_t sizes[] = { 1, 2, 5, 16 };
	char *big = malloc(len + 1), small[16];
	size_t seen, seen2, k, n;
	enum digits_status st, st2;

	if (big == NULL)
		return;
	st = digits_normalise(in, len, big, len + 1, &seen);
	CHECK(st == DIGITS_OK || st == DIGITS_OTHER);
	n = strlen(big);
	CHECK(n == seen && n <= len && all_digits(big, n));
	for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		st2 = digits_normalise(in, len, small, sizes[k], &seen2);
		CHECK(st2 == st && seen2 == seen);
		n = strlen(small);
		CHECK(n == (seen < sizes[k] ? seen : sizes[k] - 1));
		CHECK(memcmp(small, big, n) == 0);
	}
	free(big);
}

static void fuzz_tac(const char *in, size_t len)
{
	void *ctx = talloc_new(NULL);
	struct tac_load_stats st;
	struct tac_entry e;
	struct tac_table *t;
	char err[160];
	size_t i;
	int rc;

	if (ctx == NULL)
		return;
	memset(&st, 0, sizeof(st));
	memset(err, 'Z', sizeof(err));
	t = tac_table_parse(ctx, in, len, &st, err, sizeof(err));
	if (t == NULL) {
		CHECK(memchr(err, '\0', sizeof(err)) != NULL && err[0] != '\0');
		CHECK(strchr(err, '\n') == NULL);
		talloc_free(ctx);
		return;
	}
	CHECK(tac_table_size(t) == st.loaded);
	CHECK(st.loaded <= st.rows && st.rejected <= st.rows && st.duplicates <= st.rows);
	CHECK((st.rejected == 0) == (st.first_bad_line == 0));
	CHECK(tac_table_preamble(t) != NULL);
	/* look up every 8-digit run that starts a line; what is found has a maker */
	for (i = 0; i + 8 <= len; i++) {
		if ((i == 0 || in[i - 1] == '\n') && all_digits(in + i, 8)) {
			rc = tac_lookup(t, in + i, &e);
			CHECK(rc == 0 || rc == -ENOENT);
			if (rc == 0)
				CHECK(e.maker != NULL);
		}
	}
	rc = tac_lookup(t, "00000000", &e);
	CHECK(rc == 0 || rc == -ENOENT);
	tac_table_free(t);
	talloc_free(ctx);
}

/* A redirection: read as a MOVED or ASK, or refused; what is read keeps the header's word,
 * and a key's slot is always a slot. */
static void fuzz_cluster(const char *in, size_t len)
{
	struct cluster_redirect r;
	int rc = cluster_redirect_parse(in, len, &r);

	CHECK(rc == 0 || rc == -ENOENT || rc == -EINVAL);
	if (rc == 0) {
		CHECK(r.slot < CLUSTER_SLOTS && r.port >= 1 && r.port <= 65535);
		CHECK(strlen(r.host) <= CLUSTER_HOST_MAX && strchr(r.host, ' ') == NULL);
	}
	CHECK(cluster_keyslot(in, len) < CLUSTER_SLOTS);
}

/* A session record: what decodes encodes to a record that decodes to the same encoding. */
static void fuzz_session(const char *in, size_t len)
{
	static char rec[4096], again[4096];
	struct sess a, b;
	size_t n, m;

	if (sess_decode(in, len, &a) < 0)
		return;
	CHECK(a.screen[0] != '\0' && a.nhandsets <= SESS_HANDSETS_MAX);
	CHECK(memchr(a.shown, '\0', sizeof(a.shown)) != NULL);
	n = sess_encode(&a, rec, sizeof(rec));
	CHECK(n > 0 && n < sizeof(rec));
	CHECK(sess_decode(rec, n, &b) == 0);
	m = sess_encode(&b, again, sizeof(again));
	CHECK(m == n && memcmp(rec, again, n) == 0);
}

/* A report hash: "field=value" lines. Every text field ends within its bound. */
static void fuzz_report(const char *in, size_t len)
{
	struct store_kv kv[32];
	struct report rep;
	size_t n = 0;
	const char *p = in, *end = in + len;

	while (p < end && n < 32) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *eq;

		if (nl == NULL)
			nl = end;
		eq = memchr(p, '=', (size_t)(nl - p));
		if (eq) {
			kv[n++] = (struct store_kv){ p, (size_t)(eq - p), eq + 1,
						     (size_t)(nl - eq - 1) };
		}
		p = nl + 1;
	}
	(void)report_decode(&rep, kv, n);
	CHECK((unsigned)rep.state < REPORT_STATE_COUNT);
	CHECK(!(rep.state_unknown && rep.state != REPORT_NONE));
#define FIELD_ENDS(f, size) CHECK(memchr(rep.f, '\0', sizeof(rep.f)) != NULL);
	REPORT_TEXT_FIELDS(FIELD_ENDS)
#undef FIELD_ENDS
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;

	fuzz_imei(in, size);
	fuzz_digits(in, size);
	fuzz_mask(in, size);
	fuzz_tac(in, size);
	fuzz_cluster(in, size);
	fuzz_session(in, size);
	fuzz_report(in, size);
	/* the first byte picks the default region and the rest is the number; the whole input
	 * is also read from Kenya, whose 000 prefix makes the 00 rule matter */
	if (size > 0)
		fuzz_msisdn(in + 1, size - 1, regions[data[0] % REGIONS]);
	fuzz_msisdn(in, size, "KE");
	return 0;
}
