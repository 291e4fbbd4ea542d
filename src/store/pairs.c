/* Packing of operator pairings for Redis (see pairs.h and doc/redis-keys.md). Big-endian
 * fixed-width integers; dates as days since 2000-01-01 (proleptic Gregorian calendar). */
#include "store/pairs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* An IMEI value's first byte: 0x10, the format, | 0x80 when the records carry IMSI tags |
 * the bytes of an MSISDN in the value less 5 (0..2): as many as its largest number needs. */
#define IMEI_VALUE_V2 0x10
#define IMEI_VALUE_HAS_IMSI 0x80
#define IMEI_VALUE_WIDTH 0x03

static const uint64_t pow10s[] = {
	1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL,
	100000000ULL, 1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL,
	10000000000000ULL, 100000000000000ULL, 1000000000000000ULL,
};

static void put_be(uint8_t *p, uint64_t v, size_t n)
{
	while (n-- > 0) {
		p[n] = (uint8_t)v;
		v >>= 8;
	}
}

static uint64_t get_be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/* Bytes v takes written without leading zero bytes (at least 1). Distinct numbers give
 * distinct byte strings, so fields need no fixed width: a Kenyan number's field takes 4
 * bytes where a 15-digit one would need 5. */
static size_t width_of(uint64_t v)
{
	size_t n = 1;

	while (n < 8 && (v >> (8 * n)) != 0)
		n++;
	return n;
}

/* "pi:{01234}": written by hand, it is on the import's hot path. */
static void bucket_key(const char *prefix, uint64_t v, int bucket_digits, int total_digits,
		       char key[PAIRS_KEY_MAX], size_t *keylen, uint8_t field[PAIRS_FIELD_MAX],
		       size_t *fieldlen)
{
	uint64_t bucket = v % pow10s[bucket_digits];
	size_t pl = strlen(prefix);	/* 2 or 3: "pi", "pm", "kyc" */
	int i;

	memcpy(key, prefix, pl);
	key[pl] = ':';
	key[pl + 1] = '{';
	for (i = bucket_digits - 1; i >= 0; i--) {
		key[pl + 2 + (size_t)i] = (char)('0' + bucket % 10);
		bucket /= 10;
	}
	key[pl + 2 + (size_t)bucket_digits] = '}';
	key[pl + 3 + (size_t)bucket_digits] = '\0';
	*keylen = pl + 3 + (size_t)bucket_digits;
	(void)total_digits;
	*fieldlen = width_of(v / pow10s[bucket_digits]);
	put_be(field, v / pow10s[bucket_digits], *fieldlen);
}

void pairs_imei_key(uint64_t body, int bucket_digits, char key[PAIRS_KEY_MAX], size_t *keylen,
		    uint8_t field[PAIRS_FIELD_MAX], size_t *fieldlen)
{
	bucket_key("pi", body, bucket_digits, 14, key, keylen, field, fieldlen);
}

void pairs_msisdn_key(uint64_t msisdn, int bucket_digits, char key[PAIRS_KEY_MAX],
		      size_t *keylen, uint8_t field[PAIRS_FIELD_MAX], size_t *fieldlen)
{
	bucket_key("pm", msisdn, bucket_digits, 15, key, keylen, field, fieldlen);
}

uint32_t pairs_imsi_tag(uint64_t imsi)
{
	/* splitmix64's finaliser: every input bit moves every output bit. */
	uint64_t z = imsi + 0x9E3779B97F4A7C15ULL;
	uint32_t tag;

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	z ^= z >> 31;
	tag = (uint32_t)(z & 0xFFFFFF);
	return tag ? tag : 1;
}

void pairs_kyc_key(uint64_t msisdn, int bucket_digits, char key[PAIRS_KEY_MAX], size_t *keylen,
		   uint8_t field[PAIRS_FIELD_MAX], size_t *fieldlen)
{
	bucket_key("kyc", msisdn, bucket_digits, 15, key, keylen, field, fieldlen);
}

void pairs_kyc_encode(const struct kyc_rec *r, uint8_t out[PAIRS_KYC_VALUE_LEN])
{
	out[0] = 0x01;
	memcpy(out + 1, r->full, 8);
	memcpy(out + 9, r->tail, 4);
	put_be(out + 13, r->registered, 2);
}

int pairs_kyc_decode(const uint8_t *v, size_t len, struct kyc_rec *r)
{
	if (len != PAIRS_KYC_VALUE_LEN || v[0] != 0x01)
		return -EINVAL;
	memcpy(r->full, v + 1, 8);
	memcpy(r->tail, v + 9, 4);
	r->registered = (uint16_t)get_be(v + 13, 2);
	return 0;
}

size_t pairs_imei_encode(const struct pair_rec *recs, size_t n, uint8_t *out)
{
	bool imsi = false;
	size_t i, len = 1, mw = 5;

	for (i = 0; i < n; i++) {
		imsi |= recs[i].imsi_tag != 0;
		if (width_of(recs[i].msisdn) > mw)
			mw = width_of(recs[i].msisdn);
	}
	out[0] = (uint8_t)(IMEI_VALUE_V2 | (imsi ? IMEI_VALUE_HAS_IMSI : 0) | (mw - 5));
	for (i = 0; i < n; i++) {
		put_be(out + len, recs[i].msisdn, mw);
		put_be(out + len + mw, recs[i].first_seen, 2);
		put_be(out + len + mw + 2, recs[i].last_seen, 2);
		len += mw + 4;
		if (imsi) {
			put_be(out + len, recs[i].imsi_tag, 3);
			len += 3;
		}
	}
	return len;
}

int pairs_imei_decode(const uint8_t *v, size_t len, struct pair_rec *recs, size_t max)
{
	size_t rec, mw, n, i;

	if (len < 1 || (v[0] & ~(IMEI_VALUE_HAS_IMSI | IMEI_VALUE_WIDTH)) != IMEI_VALUE_V2 ||
	    (v[0] & IMEI_VALUE_WIDTH) == 3)
		return -EINVAL;
	mw = 5 + (v[0] & IMEI_VALUE_WIDTH);
	rec = mw + 4 + ((v[0] & IMEI_VALUE_HAS_IMSI) ? 3 : 0);
	if ((len - 1) % rec != 0)
		return -EINVAL;
	n = (len - 1) / rec;
	if (n > max)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		const uint8_t *p = v + 1 + i * rec;

		recs[i].msisdn = get_be(p, mw);
		recs[i].first_seen = (uint16_t)get_be(p + mw, 2);
		recs[i].last_seen = (uint16_t)get_be(p + mw + 2, 2);
		recs[i].imsi_tag = rec > mw + 4 ? (uint32_t)get_be(p + mw + 4, 3) : 0;
	}
	return (int)n;
}

size_t pairs_msisdn_encode(const uint64_t *bodies, size_t n, uint8_t *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		put_be(out + 6 * i, bodies[i], 6);
	return 6 * n;
}

int pairs_msisdn_decode(const uint8_t *v, size_t len, uint64_t *bodies, size_t max)
{
	size_t i, n = len / 6;

	if (len % 6 != 0 || n > max)
		return -EINVAL;
	for (i = 0; i < n; i++)
		bodies[i] = get_be(v + 6 * i, 6);
	return (int)n;
}

bool pairs_imei_merge(struct pair_rec *recs, size_t *n, const struct pair_rec *add)
{
	struct pair_rec *r;
	bool changed = false;
	size_t i, oldest;

	for (i = 0; i < *n; i++) {
		r = &recs[i];
		if (r->msisdn != add->msisdn)
			continue;
		if (add->first_seen < r->first_seen) {
			r->first_seen = add->first_seen;
			changed = true;
		}
		if (add->last_seen > r->last_seen) {
			r->last_seen = add->last_seen;
			changed = true;
		}
		if (add->imsi_tag && add->imsi_tag != r->imsi_tag) {
			r->imsi_tag = add->imsi_tag;
			changed = true;
		}
		return changed;
	}
	if (*n < PAIRS_MAX_RECORDS) {
		recs[(*n)++] = *add;
		return true;
	}
	for (oldest = 0, i = 1; i < *n; i++) {
		if (recs[i].last_seen < recs[oldest].last_seen)
			oldest = i;
	}
	if (recs[oldest].last_seen >= add->last_seen)
		return false;	/* older than all 32 we keep: nothing to learn from it */
	recs[oldest] = *add;
	return true;
}

bool pairs_msisdn_merge(uint64_t *bodies, size_t *n, uint64_t body)
{
	size_t i;

	for (i = 0; i < *n; i++) {
		if (bodies[i] == body)
			return false;
	}
	if (*n == PAIRS_MAX_RECORDS) {
		memmove(bodies, bodies + 1, (PAIRS_MAX_RECORDS - 1) * sizeof(*bodies));
		(*n)--;
	}
	bodies[(*n)++] = body;
	return true;
}

bool pairs_duplicated(const struct pair_rec *recs, size_t n, unsigned min_ids, bool by_imsi)
{
	uint64_t ids[PAIRS_MAX_RECORDS];
	size_t i, j, k, nids;

	if (min_ids < 2 || n < min_ids)
		return false;
	/* The most windows open at once is reached at some window's first day: count the
	 * distinct identities whose windows hold each first day. */
	for (i = 0; i < n; i++) {
		nids = 0;
		for (j = 0; j < n; j++) {
			/* A tag is below 2^24, an E.164 number above 10^6: they never meet. */
			uint64_t id = by_imsi && recs[j].imsi_tag ? recs[j].imsi_tag : recs[j].msisdn;

			if (recs[j].first_seen > recs[i].first_seen ||
			    recs[j].last_seen < recs[i].first_seen)
				continue;
			for (k = 0; k < nids && ids[k] != id; k++)
				;
			if (k == nids)
				ids[nids++] = id;
		}
		if (nids >= min_ids)
			return true;
	}
	return false;
}

static bool leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
	static const int d[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && leap(y) ? 29 : d[m - 1];
}

static int num(const char *s, size_t n)
{
	int v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int pairs_parse_date(const char *s, size_t len, uint16_t *days)
{
	int y, m, d, i;
	long total = 0;

	if (len < 10 || s[4] != '-' || s[7] != '-' || (len > 10 && s[10] != 'T' && s[10] != ' '))
		return -EINVAL;
	y = num(s, 4);
	m = num(s + 5, 2);
	d = num(s + 8, 2);
	if (y < 2000 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
		return -EINVAL;
	/* Whole years since 2000, with their leap days (2000 itself is one). */
	total = 365L * (y - 2000) + (y - 1997) / 4 - (y - 1901) / 100 + (y - 1601) / 400;
	for (i = 1; i < m; i++)
		total += days_in_month(y, i);
	total += d - 1;
	if (total > UINT16_MAX)
		return -EINVAL;
	*days = (uint16_t)total;
	return 0;
}

void pairs_format_date(uint16_t days, char out[11])
{
	int y = 2000, m = 1, left = days, n;

	while (left >= (n = leap(y) ? 366 : 365)) {
		left -= n;
		y++;
	}
	while (left >= (n = days_in_month(y, m))) {
		left -= n;
		m++;
	}
	/* By hand: the ranges are known (2000..2179, 1..12, 1..31), snprintf's are not. */
	out[0] = (char)('0' + y / 1000);
	out[1] = (char)('0' + y / 100 % 10);
	out[2] = (char)('0' + y / 10 % 10);
	out[3] = (char)('0' + y % 10);
	out[4] = '-';
	out[5] = (char)('0' + m / 10);
	out[6] = (char)('0' + m % 10);
	out[7] = '-';
	out[8] = (char)('0' + (left + 1) / 10);
	out[9] = (char)('0' + (left + 1) % 10);
	out[10] = '\0';
}

/* ---- foreign decisions ---------------------------------------------------------------- */

void pairs_foreign_key(uint64_t body, char key[PAIRS_KEY_MAX], size_t *keylen,
		       uint8_t field[PAIRS_FOREIGN_FIELD_MAX], size_t *fieldlen)
{
	bucket_key("fx", body, PAIRS_FOREIGN_BUCKET_DIGITS, 14, key, keylen, field, fieldlen);
}

size_t pairs_foreign_field(const uint8_t *field, size_t fieldlen, const char country[2],
			   uint8_t out[PAIRS_FOREIGN_FIELD_MAX])
{
	memmove(out, field, fieldlen);
	out[fieldlen] = (uint8_t)country[0];
	out[fieldlen + 1] = (uint8_t)country[1];
	return fieldlen + 2;
}

void pairs_foreign_encode(char reason, uint16_t day, uint8_t out[PAIRS_FOREIGN_VALUE_LEN])
{
	out[0] = (uint8_t)reason;
	put_be(out + 1, day, 2);
}

int pairs_foreign_decode(const uint8_t *v, size_t len, char *reason, uint16_t *day)
{
	if (len != PAIRS_FOREIGN_VALUE_LEN || (v[0] != 'S' && v[0] != 'L'))
		return -EINVAL;
	*reason = (char)v[0];
	*day = (uint16_t)get_be(v + 1, 2);
	return 0;
}
