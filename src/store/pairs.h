/* How operator pairings (an IMEI seen in the network with an MSISDN) are laid out in Redis,
 * compactly: a national load is about a billion pairings. Keys are buckets of a Redis hash
 * each, chosen by the last digits of the IMEI (or MSISDN), which are close to uniform;
 * fields and values are packed binary. Both directions are kept: IMEI -> MSISDNs with their
 * seen windows, MSISDN -> IMEIs. The key schema is in doc/redis-keys.md. Pure functions. */
#ifndef CEIRGW_STORE_PAIRS_H
#define CEIRGW_STORE_PAIRS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PAIRS_MAX_RECORDS 32	/* per IMEI, and IMEIs per MSISDN: the most recent kept */
#define PAIRS_BUCKET_DIGITS_MIN 3
#define PAIRS_BUCKET_DIGITS_MAX 8
#define PAIRS_KEY_MAX 24
#define PAIRS_FIELD_MAX 8
#define PAIRS_IMEI_VALUE_MAX (1 + PAIRS_MAX_RECORDS * 14)
#define PAIRS_MSISDN_VALUE_MAX (PAIRS_MAX_RECORDS * 6)

/* One IMEI-MSISDN pairing. Days count from 2000-01-01 (day 0). */
struct pair_rec {
	uint64_t msisdn;	/* E.164 digits as a number (no '+'); never 0 */
	uint32_t imsi_tag;	/* pairs_imsi_tag() of the IMSI, 0 when unknown */
	uint16_t first_seen, last_seen;
};

/* The IMSI is not stored, only a 24-bit tag of it (1..2^24-1): enough to tell SIMs apart for
 * the duplicate rule (two share a tag with odds of 1 in 16.7 million) and nothing to leak. */
uint32_t pairs_imsi_tag(uint64_t imsi);

/* The IMEI's key ("pi:{12345}") and field (its other digits as a big-endian number without
 * leading zero bytes) for a 14-digit body (TAC + serial; the check digit follows from it).
 * Returns the key's and field's lengths. */
void pairs_imei_key(uint64_t body, int bucket_digits, char key[PAIRS_KEY_MAX], size_t *keylen,
		    uint8_t field[PAIRS_FIELD_MAX], size_t *fieldlen);

/* Same for an MSISDN ("pm:{45678}"). */
void pairs_msisdn_key(uint64_t msisdn, int bucket_digits, char key[PAIRS_KEY_MAX],
		      size_t *keylen, uint8_t field[PAIRS_FIELD_MAX], size_t *fieldlen);

/* An IMEI's value: a format byte, then per record the MSISDN (5 to 7 bytes: as many as the
 * value's largest number needs), first and last seen (2 each) and, when the format byte says
 * so, the IMSI tag (3). Returns its length. */
size_t pairs_imei_encode(const struct pair_rec *recs, size_t n, uint8_t *out);
/* Returns the number of records (<= max) or -EINVAL for a value that is not one. */
int pairs_imei_decode(const uint8_t *v, size_t len, struct pair_rec *recs, size_t max);

/* An MSISDN's value: the 14-digit bodies of its IMEIs, 6 bytes each. */
size_t pairs_msisdn_encode(const uint64_t *bodies, size_t n, uint8_t *out);
int pairs_msisdn_decode(const uint8_t *v, size_t len, uint64_t *bodies, size_t max);

/* Merges add into recs[0..*n): a known MSISDN widens its window (and takes a new IMSI), a new
 * one is added; past PAIRS_MAX_RECORDS the record seen longest ago gives way. Returns true
 * when recs changed. */
bool pairs_imei_merge(struct pair_rec *recs, size_t *n, const struct pair_rec *add);

/* Adds body to bodies[0..*n) unless there; past PAIRS_MAX_RECORDS the first (oldest) goes.
 * Returns true when bodies changed. */
bool pairs_msisdn_merge(uint64_t *bodies, size_t *n, uint64_t body);

/* The duplicate rule (ITU-T Q.5052, cloned IMEIs): true when at least min_ids distinct
 * identities used the IMEI at one time, i.e. that many seen windows overlap. Identities are
 * IMSIs (their tags) when by_imsi and the records carry them, MSISDNs otherwise. */
bool pairs_duplicated(const struct pair_rec *recs, size_t n, unsigned min_ids, bool by_imsi);

/* Subscriber KYC: "kyc:{45678}" and the MSISDN's field, like pairs_msisdn_key. The value:
 * a format byte, the digests of the national ID (domain/kyc.h) and the registration day. */
#define PAIRS_KYC_VALUE_LEN 15
struct kyc_rec {
	uint8_t full[8];	/* = struct kyc_digest */
	uint8_t tail[4];
	uint16_t registered;	/* days since 2000-01-01, 0 when the dump had none */
};
void pairs_kyc_key(uint64_t msisdn, int bucket_digits, char key[PAIRS_KEY_MAX], size_t *keylen,
		   uint8_t field[PAIRS_FIELD_MAX], size_t *fieldlen);
void pairs_kyc_encode(const struct kyc_rec *r, uint8_t out[PAIRS_KYC_VALUE_LEN]);
int pairs_kyc_decode(const uint8_t *v, size_t len, struct kyc_rec *r);

/* ---- foreign decisions (issue 19): what neighbours' feeds say of an IMEI ----
 * "fx:{1234}" (the IMEI's last PAIRS_FOREIGN_BUCKET_DIGITS digits); one field per IMEI and
 * country that blocks it: the IMEI's field as pairs_imei_key's, then the country's two
 * letters. The value: 3 bytes, the reason ('S' stolen, 'L' lost) and the day (days since
 * 2000-01-01, big-endian). An unblock deletes the field. A field per country, not a value
 * holding every country, so that a decision is one HSET or HDEL, never a read-modify-write
 * that two peers' followers could race; a check reads the countries of its feed-peers with
 * one HMGET. 10^4 buckets keep a million foreign IMEIs at about 100 fields a bucket, within
 * hash-max-listpack-entries. */
#define PAIRS_FOREIGN_BUCKET_DIGITS 4
#define PAIRS_FOREIGN_MAX 32		/* countries read per IMEI: the feed-peers at most */
#define PAIRS_FOREIGN_VALUE_LEN 3
#define PAIRS_FOREIGN_FIELD_MAX (PAIRS_FIELD_MAX + 2)
struct foreign_rec {
	char country[3];
	char reason;		/* 'S' stolen, 'L' lost */
	uint16_t day;
};
/* The IMEI's key and field, and the field of country for it (field[0..*fieldlen) then the
 * two letters). */
void pairs_foreign_key(uint64_t body, char key[PAIRS_KEY_MAX], size_t *keylen,
		       uint8_t field[PAIRS_FOREIGN_FIELD_MAX], size_t *fieldlen);
size_t pairs_foreign_field(const uint8_t *field, size_t fieldlen, const char country[2],
			   uint8_t out[PAIRS_FOREIGN_FIELD_MAX]);
void pairs_foreign_encode(char reason, uint16_t day, uint8_t out[PAIRS_FOREIGN_VALUE_LEN]);
/* Returns 0 or -EINVAL for a value that is not one. */
int pairs_foreign_decode(const uint8_t *v, size_t len, char *reason, uint16_t *day);

/* "YYYY-MM-DD" (or an ISO 8601 date-time starting so) to days since 2000-01-01, for dates
 * from 2000-01-01 to 2179-06-06. Returns 0 or -EINVAL. */
int pairs_parse_date(const char *s, size_t len, uint16_t *days);
/* Days back to "YYYY-MM-DD" (11 bytes with the NUL). */
void pairs_format_date(uint16_t days, char out[11]);

#endif
