/* KYC digests: HMAC-SHA-256 (RFC 2104, FIPS 180-4) through OpenSSL, truncated (RFC 2104
 * section 5 allows it): 8 bytes for the whole ID, 4 for its last digits. With the key kept
 * off the Redis host, a copy of the database does not give the IDs back. */
#include "domain/kyc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "domain/digits.h"

int kyc_normalise(const char *in, size_t len, char out[KYC_ID_MAX + 1])
{
	size_t pos = 0, used, n = 0;
	int d;

	while (pos < len) {
		char c = in[pos];

		d = digits_decode(in + pos, len - pos, &used);
		if (d >= 0) {
			c = (char)('0' + d);
		} else if (digits_is_separator(in + pos, len - pos, &used)) {
			pos += used;
			continue;
		} else if (c >= 'a' && c <= 'z') {
			c = (char)(c - 'a' + 'A');
		} else if (!(c >= 'A' && c <= 'Z')) {
			return -EINVAL;
		}
		if (n == KYC_ID_MAX)
			return -EINVAL;
		out[n++] = c;
		pos += used;
	}
	out[n] = '\0';
	return n < KYC_ID_MIN ? -EINVAL : (int)n;
}

/* The domain separation strings keep the two digests of one ID unrelated. */
static void hmac(const uint8_t *key, size_t keylen, const char *what, const char *s,
		 size_t n, uint8_t *out, size_t outlen)
{
	uint8_t buf[KYC_ID_MAX + 16], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t wl = strlen(what);

	memcpy(buf, what, wl);
	memcpy(buf + wl, s, n);
	HMAC(EVP_sha256(), key, (int)keylen, buf, wl + n, md, &mdlen);
	memcpy(out, md, outlen);
	OPENSSL_cleanse(buf, sizeof(buf));
}

void kyc_digest(const uint8_t *key, size_t keylen, const char *id, size_t idlen,
		struct kyc_digest *out)
{
	size_t tail = idlen < KYC_TAIL_DIGITS ? idlen : KYC_TAIL_DIGITS;

	hmac(key, keylen, "id:", id, idlen, out->full, sizeof(out->full));
	hmac(key, keylen, "tail:", id + idlen - tail, tail, out->tail, sizeof(out->tail));
}

int kyc_candidate(const uint8_t *key, size_t keylen, const char *typed, size_t len,
		  uint8_t out[KYC_FULL_LEN], bool *tail)
{
	char id[KYC_ID_MAX + 1];
	/* The last digits alone are shorter than a whole ID may be: read them leniently. */
	int n = kyc_normalise(typed, len, id);

	if (n < 0)
		return -EINVAL;
	*tail = n == KYC_TAIL_DIGITS;
	hmac(key, keylen, *tail ? "tail:" : "id:", id, (size_t)n, out,
	     *tail ? KYC_TAIL_LEN : KYC_FULL_LEN);
	OPENSSL_cleanse(id, sizeof(id));
	return *tail ? KYC_TAIL_LEN : KYC_FULL_LEN;
}

bool kyc_matches(const uint8_t *key, size_t keylen, const char *typed, size_t len,
		 const struct kyc_digest *stored)
{
	uint8_t d[KYC_FULL_LEN];
	bool tail;
	int n = kyc_candidate(key, keylen, typed, len, d, &tail);
	bool ok = n > 0 && CRYPTO_memcmp(d, tail ? stored->tail : stored->full, (size_t)n) == 0;

	OPENSSL_cleanse(d, sizeof(d));
	return ok;
}

int kyc_read_key(const char *path, uint8_t *key, size_t keysz, char *err, size_t errsz)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -errno;
	}
	n = read(fd, key, keysz);
	close(fd);
	if (n < 0) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -EIO;
	}
	while (n > 0 && (key[n - 1] == '\n' || key[n - 1] == '\r'))
		n--;
	if ((size_t)n < KYC_KEY_MIN || (size_t)n >= keysz) {
		snprintf(err, errsz, "%s: an HMAC key must be %d to %zu bytes (e.g. "
			 "head -c 32 /dev/urandom | base64 > %s)", path, KYC_KEY_MIN, keysz - 1,
			 path);
		return -EINVAL;
	}
	return (int)n;
}
