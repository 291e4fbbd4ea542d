/* Subscriber identity (KYC) without the identity: national IDs are never stored in clear,
 * only keyed digests (HMAC-SHA-256, RFC 2104, with a key of the operator's) of what the flows
 * verify: the whole ID and its last digits. Normalisation makes "12 345-678" and "12345678"
 * the same ID. Pure functions over OpenSSL's HMAC. */
#ifndef CEIRGW_DOMAIN_KYC_H
#define CEIRGW_DOMAIN_KYC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KYC_ID_MIN 4
#define KYC_ID_MAX 32
#define KYC_KEY_MIN 16		/* bytes of HMAC key at least */
#define KYC_FULL_LEN 8		/* digest bytes kept for the whole ID */
#define KYC_TAIL_LEN 4		/* and for its last digits */
#define KYC_TAIL_DIGITS 4	/* how many last characters the flows ask for */

struct kyc_digest {
	uint8_t full[KYC_FULL_LEN];
	uint8_t tail[KYC_TAIL_LEN];
};

/* Normalises an ID as typed or as in a dump: separators dropped (digits.h), digits of other
 * scripts read as ASCII, letters upper-cased (passport numbers). Writes at most KYC_ID_MAX
 * characters and a NUL into out. Returns the length, or -EINVAL for an ID that is not 4 to
 * 32 letters and digits. */
int kyc_normalise(const char *in, size_t len, char out[KYC_ID_MAX + 1]);

/* Digests of a normalised ID with the key. */
void kyc_digest(const uint8_t *key, size_t keylen, const char *id, size_t idlen,
		struct kyc_digest *out);

/* Whether what a user typed (normalised here) matches the stored digest: its last
 * KYC_TAIL_DIGITS characters against the tail digest when it is that short, else the whole
 * ID against the full digest. Compared in constant time. */
bool kyc_matches(const uint8_t *key, size_t keylen, const char *typed, size_t len,
		 const struct kyc_digest *stored);

/* The digest that kyc_matches would compare what a user typed with, for a comparison made
 * elsewhere (the store's, which counts the try in the same step): of the last digits (*tail
 * true, KYC_TAIL_LEN bytes) or of the whole ID (KYC_FULL_LEN bytes). Returns the digest's
 * length, or -EINVAL for input that is not an ID (no try is spent on it). */
int kyc_candidate(const uint8_t *key, size_t keylen, const char *typed, size_t len,
		  uint8_t out[KYC_FULL_LEN], bool *tail);

/* Reads the HMAC key file: at least KYC_KEY_MIN bytes, trailing newline dropped; at most
 * 1024. Returns the length or -errno with err filled. */
int kyc_read_key(const char *path, uint8_t *key, size_t keysz, char *err, size_t errsz);

#endif
