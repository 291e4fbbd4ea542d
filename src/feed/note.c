/* Signed notes (C2SP signed-note v1.0.0), their Ed25519 signatures (type 0x01) and timestamped
 * Ed25519 cosignatures (C2SP tlog-cosignature, type 0x04), the key lines of Go's
 * golang.org/x/mod/sumdb/note, and checkpoint note texts (C2SP tlog-checkpoint v1.0.0).
 * Ed25519 and SHA-256 come from OpenSSL's libcrypto. Everything read is bounded and strict:
 * what we refuse here never reaches the feed's state. */
#include "feed/note.h"

#include "core/errbuf.h"
#include "core/hex.h"
#include "core/utf8.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <talloc.h>

#define ED25519_KEY 32
#define ED25519_SIG 64
#define KEY_ID 4
#define COSIG_TIME 8
/* The longest signature blob we make or check: key ID, timestamp, Ed25519 signature. */
#define BLOB_MAX (KEY_ID + COSIG_TIME + ED25519_SIG)
/* "cosignature/v1\ntime " + up to 19 digits (2^63 - 1) + "\n" */
#define COSIG_HEADER_MAX 48
/* "— " is U+2014 EM DASH (E2 80 94 in UTF-8) and a space */
static const char sig_prefix[] = "\xE2\x80\x94 ";
#define SIG_PREFIX_LEN 4
static const char private_prefix[] = "PRIVATE+KEY+";

struct note_key {
	char name[NOTE_NAME_MAX + 1];
	size_t namelen;
	uint32_t id;
	enum note_alg alg;
	uint8_t pub[ED25519_KEY];
	EVP_PKEY *pkey;		/* private for a signer, public for a verifier */
};

struct note_signer {
	struct note_key k;
};

struct note_verifier {
	struct note_key k;
};

/* ---- bytes ------------------------------------------------------------------------------ */

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

static uint64_t get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

/* ---- base64 (RFC 4648 section 4) ------------------------------------------------------- */

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int note_b64_encode(const uint8_t *in, size_t len, char *out, size_t outsz)
{
	size_t need = (len + 2) / 3 * 4, i, o = 0;

	if (outsz <= need)
		return -ENOSPC;
	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = b64_alphabet[(v >> 6) & 63];
		out[o++] = b64_alphabet[v & 63];
	}
	if (len - i == 1) {
		out[o++] = b64_alphabet[in[i] >> 2];
		out[o++] = b64_alphabet[(in[i] & 3) << 4];
		out[o++] = '=';
		out[o++] = '=';
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 8 | in[i + 1];

		out[o++] = b64_alphabet[v >> 10];
		out[o++] = b64_alphabet[(v >> 4) & 63];
		out[o++] = b64_alphabet[(v & 15) << 2];
		out[o++] = '=';
	}
	out[o] = '\0';
	return (int)o;
}

/* Strict because two spellings of one signature would let a note change without its
 * signatures changing: padding is required, nothing else is skipped, and the bits the last
 * character carries beyond the data must be zero (RFC 4648 section 3.5). */
int note_b64_decode(const char *in, size_t len, uint8_t *out, size_t outsz)
{
	size_t pad = 0, n, i, o = 0;

	if (len % 4 != 0)
		return -EBADMSG;
	if (len == 0)
		return 0;
	if (in[len - 1] == '=')
		pad = in[len - 2] == '=' ? 2 : 1;
	n = len / 4 * 3 - pad;
	if (n > outsz)
		return -ENOSPC;
	for (i = 0; i < len; i += 4) {
		int v[4], j;
		bool last = i + 4 == len;

		for (j = 0; j < 4; j++) {
			if (last && j >= 4 - (int)pad)
				v[j] = 0;	/* a padding '=' */
			else if ((v[j] = b64_value(in[i + j])) < 0)
				return -EBADMSG;
		}
		if (last && pad == 2 && (v[1] & 15) != 0)
			return -EBADMSG;
		if (last && pad == 1 && (v[2] & 3) != 0)
			return -EBADMSG;
		out[o++] = (uint8_t)(v[0] << 2 | v[1] >> 4);
		if (!last || pad < 2)
			out[o++] = (uint8_t)((v[1] & 15) << 4 | v[2] >> 2);
		if (!last || pad < 1)
			out[o++] = (uint8_t)((v[2] & 3) << 6 | v[3]);
	}
	return (int)o;
}

/* ---- text and names -------------------------------------------------------------------- */

/* What the spec allows in a note: valid UTF-8 and no ASCII control character but newline.
 * (A CR is a control character: a note that went through a CRLF conversion is refused.) */
static bool text_ok(const char *s, size_t len)
{
	size_t i = 0, used;

	while (i < len) {
		int32_t c = utf8_decode((const unsigned char *)s + i, len - i, &used);

		if (c < 0 || (c < 0x20 && c != '\n'))
			return false;
		i += used;
	}
	return true;
}

/* Unicode White_Space, which is what Go's unicode.IsSpace (and so Go's note package, the
 * reference) tests for "Unicode spaces". */
static bool is_space(int32_t c)
{
	return c == ' ' || (c >= 0x09 && c <= 0x0D) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
	       (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
	       c == 0x205F || c == 0x3000;
}

/* The spec's key name: non-empty UTF-8 without Unicode spaces or '+'. A name we hold a key
 * for (ours) must also be at most NOTE_NAME_MAX bytes without any control character (C0,
 * DEL, C1), so that it prints safely in logs and key files. */
static bool name_ok(const char *s, size_t len, bool ours)
{
	size_t i = 0, used;

	if (len == 0 || (ours && len > NOTE_NAME_MAX))
		return false;
	while (i < len) {
		int32_t c = utf8_decode((const unsigned char *)s + i, len - i, &used);

		if (c < 0 || c == '+' || is_space(c))
			return false;
		if (ours && (c < 0x20 || (c >= 0x7F && c <= 0x9F)))
			return false;
		i += used;
	}
	return true;
}

/* 8 hex digits, either case as Go's strconv.ParseUint takes them */
static bool parse_hex32(const char *s, size_t len, uint32_t *out)
{
	uint32_t v = 0;
	size_t i;

	if (len != 8)
		return false;
	for (i = 0; i < 8; i++) {
		int d = hex_value(s[i]);

		if (d < 0)
			return false;
		v = v << 4 | (uint32_t)d;
	}
	*out = v;
	return true;
}

/* ---- keys ------------------------------------------------------------------------------ */

/* The spec's recommended key ID: SHA-256(name || 0x0A || type || public key)[:4], big-endian. */
static int key_id(const char *name, size_t namelen, uint8_t type, const uint8_t *pub,
		  uint32_t *id)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t sum[EVP_MAX_MD_SIZE];
	unsigned sumlen = 0;
	int ok;

	ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(md, name, namelen) == 1 && EVP_DigestUpdate(md, "\n", 1) == 1 &&
	     EVP_DigestUpdate(md, &type, 1) == 1 &&
	     EVP_DigestUpdate(md, pub, ED25519_KEY) == 1 &&
	     EVP_DigestFinal_ex(md, sum, &sumlen) == 1 && sumlen >= KEY_ID;
	EVP_MD_CTX_free(md);
	if (!ok)
		return -EIO;
	*id = get_be32(sum);
	return 0;
}

static int key_destructor(struct note_key *k)
{
	EVP_PKEY_free(k->pkey);
	k->pkey = NULL;
	return 0;
}

static int signer_destructor(struct note_signer *s)
{
	return key_destructor(&s->k);
}

static int verifier_destructor(struct note_verifier *v)
{
	return key_destructor(&v->k);
}

/* "name+hhhhhhhh+base64(type || key)" into its parts; the base64 may hold '+' itself, which
 * a name may not: the first two '+' are the separators. */
static bool split_key_line(const char *line, size_t len, const char **name, size_t *namelen,
			   uint32_t *id, const char **b64, size_t *b64len)
{
	const char *p1 = memchr(line, '+', len), *p2;

	if (p1 == NULL)
		return false;
	p2 = memchr(p1 + 1, '+', len - (size_t)(p1 + 1 - line));
	if (p2 == NULL || !parse_hex32(p1 + 1, (size_t)(p2 - p1 - 1), id))
		return false;
	*name = line;
	*namelen = (size_t)(p1 - line);
	*b64 = p2 + 1;
	*b64len = len - (size_t)(p2 + 1 - line);
	return true;
}

/* A key line's length, or 0 when it is longer than any key line or not one line. */
static size_t key_line_len(const char *line)
{
	size_t n = strnlen(line, NOTE_KEY_LINE_MAX);

	return n == NOTE_KEY_LINE_MAX || memchr(line, '\n', n) != NULL ? 0 : n;
}

static int write_vkey(const struct note_key *k, uint8_t type, uint32_t id, char *out,
		      size_t outsz)
{
	uint8_t raw[1 + ED25519_KEY];
	char b64[64];
	int n;

	raw[0] = type;
	memcpy(raw + 1, k->pub, ED25519_KEY);
	if (note_b64_encode(raw, sizeof(raw), b64, sizeof(b64)) < 0)
		return -ENOSPC;
	n = snprintf(out, outsz, "%s+%08" PRIx32 "+%s", k->name, id, b64);
	return n < 0 || (size_t)n >= outsz ? -ENOSPC : n;
}

int note_keygen(const char *name, char *skey, char *vkey, char *cosign_vkey, size_t outsz,
		char *err, size_t errsz)
{
	uint8_t seed[ED25519_KEY], raw[1 + ED25519_KEY];
	char b64[64];
	struct note_key k;
	size_t publen = ED25519_KEY;
	uint32_t cosign_id;
	int rc = -EIO, n;

	memset(&k, 0, sizeof(k));
	if (!name_ok(name, strnlen(name, NOTE_NAME_MAX + 1), true)) {
		errbuf_set(err, errsz, "key name must be 1 to %d bytes of printable UTF-8 "
			   "without spaces or '+'", NOTE_NAME_MAX);
		return -EINVAL;
	}
	if (outsz < NOTE_KEY_LINE_MAX) {
		errbuf_set(err, errsz, "key line buffer too small");
		return -ENOSPC;
	}
	k.namelen = strlen(name);
	memcpy(k.name, name, k.namelen + 1);
	if (RAND_bytes(seed, sizeof(seed)) != 1) {
		errbuf_set(err, errsz, "no random bytes for a key");
		goto out;
	}
	k.pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, sizeof(seed));
	if (k.pkey == NULL || EVP_PKEY_get_raw_public_key(k.pkey, k.pub, &publen) != 1 ||
	    publen != ED25519_KEY || key_id(k.name, k.namelen, NOTE_ED25519, k.pub, &k.id) < 0 ||
	    key_id(k.name, k.namelen, NOTE_COSIGNATURE_V1, k.pub, &cosign_id) < 0) {
		errbuf_set(err, errsz, "cannot make an Ed25519 key");
		goto out;
	}
	raw[0] = NOTE_ED25519;
	memcpy(raw + 1, seed, sizeof(seed));
	n = note_b64_encode(raw, sizeof(raw), b64, sizeof(b64));
	if (n < 0 || (size_t)snprintf(skey, outsz, "%s%s+%08" PRIx32 "+%s", private_prefix,
				      k.name, k.id, b64) >= outsz ||
	    write_vkey(&k, NOTE_ED25519, k.id, vkey, outsz) < 0 ||
	    write_vkey(&k, NOTE_COSIGNATURE_V1, cosign_id, cosign_vkey, outsz) < 0) {
		errbuf_set(err, errsz, "key line buffer too small");
		OPENSSL_cleanse(skey, outsz);
		rc = -ENOSPC;
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(seed, sizeof(seed));
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(b64, sizeof(b64));
	EVP_PKEY_free(k.pkey);
	return rc;
}

struct note_signer *note_signer_new(void *ctx, const char *skey_line, enum note_alg alg,
				    char *err, size_t errsz)
{
	const size_t plen = sizeof(private_prefix) - 1;
	size_t len = key_line_len(skey_line), namelen = 0, b64len = 0, publen = ED25519_KEY;
	const char *name = NULL, *b64 = NULL;
	uint8_t raw[1 + ED25519_KEY + 3];	/* room to see that a longer key is too long */
	struct note_signer *s = NULL;
	uint32_t id = 0, want;
	int n;

	if (alg != NOTE_ED25519 && alg != NOTE_COSIGNATURE_V1) {
		errbuf_set(err, errsz, "signer: unknown signature type 0x%02x", (unsigned)alg);
		return NULL;
	}
	if (len <= plen || memcmp(skey_line, private_prefix, plen) != 0 ||
	    !split_key_line(skey_line + plen, len - plen, &name, &namelen, &id, &b64, &b64len)) {
		errbuf_set(err, errsz, "signer key: malformed (want PRIVATE+KEY+NAME+KEYID+BASE64)");
		return NULL;
	}
	if (!name_ok(name, namelen, true)) {
		errbuf_set(err, errsz, "signer key: the name is not a valid key name");
		return NULL;
	}
	n = note_b64_decode(b64, b64len, raw, sizeof(raw));
	if (n != 1 + ED25519_KEY) {
		errbuf_set(err, errsz, "signer key: the key is not base64 of 33 bytes");
		goto fail;
	}
	if (raw[0] != NOTE_ED25519 && raw[0] != NOTE_COSIGNATURE_V1) {
		errbuf_set(err, errsz, "signer key: unknown signature type 0x%02x", raw[0]);
		goto fail;
	}
	s = talloc_zero(ctx, struct note_signer);
	if (s == NULL) {
		errbuf_set(err, errsz, "out of memory");
		goto fail;
	}
	talloc_set_destructor(s, signer_destructor);
	memcpy(s->k.name, name, namelen);
	s->k.namelen = namelen;
	s->k.alg = alg;
	s->k.pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, raw + 1, ED25519_KEY);
	if (s->k.pkey == NULL ||
	    EVP_PKEY_get_raw_public_key(s->k.pkey, s->k.pub, &publen) != 1 ||
	    publen != ED25519_KEY || key_id(name, namelen, raw[0], s->k.pub, &want) < 0 ||
	    key_id(name, namelen, (uint8_t)alg, s->k.pub, &s->k.id) < 0) {
		errbuf_set(err, errsz, "signer key: not an Ed25519 key");
		goto fail;
	}
	/* Go checks it too: the ID in the line is that of the public key the seed gives. */
	if (id != want) {
		errbuf_set(err, errsz, "signer key: key ID %08" PRIx32 " is not the key's", id);
		goto fail;
	}
	OPENSSL_cleanse(raw, sizeof(raw));
	return s;
fail:
	OPENSSL_cleanse(raw, sizeof(raw));
	talloc_free(s);
	return NULL;
}

int note_signer_load(void *ctx, const char *path, enum note_alg alg, struct note_signer **out,
		     char *err, size_t errsz)
{
	char buf[NOTE_KEY_LINE_MAX + 2], why[160];
	struct stat st;
	ssize_t n;
	size_t len = 0;
	int fd, rc = 0;

	*out = NULL;
	/* O_NONBLOCK: a FIFO in place of the key must not hang the daemon; the check below
	 * refuses it. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		rc = -errno;
		errbuf_set(err, errsz, "%s: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		errbuf_set(err, errsz, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		errbuf_set(err, errsz, "%s: not a regular file", path);
		rc = -EINVAL;
		goto out;
	}
	/* A signing key others can read is no longer ours alone; one others can write is not
	 * ours at all. */
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		errbuf_set(err, errsz, "%s: mode %04o, must be 0600 or stricter", path,
			   (unsigned)(st.st_mode & 07777));
		rc = -EPERM;
		goto out;
	}
	while (len < sizeof(buf)) {
		n = read(fd, buf + len, sizeof(buf) - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			errbuf_set(err, errsz, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len == 0 || len >= NOTE_KEY_LINE_MAX || memchr(buf, '\0', len) != NULL) {
		errbuf_set(err, errsz, "%s: not one signer key line", path);
		rc = -EINVAL;
		goto out;
	}
	buf[len] = '\0';
	*out = note_signer_new(ctx, buf, alg, why, sizeof(why));
	if (*out == NULL) {
		errbuf_set(err, errsz, "%s: %s", path, why);
		rc = -EINVAL;
	}
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	close(fd);
	return rc;
}

struct note_verifier *note_verifier_new(void *ctx, const char *vkey_line, char *err,
					size_t errsz)
{
	size_t len = key_line_len(vkey_line), namelen = 0, b64len = 0;
	const char *name = NULL, *b64 = NULL;
	uint8_t raw[1 + ED25519_KEY + 3];
	struct note_verifier *v;
	uint32_t id = 0, want;
	int n;

	if (len == 0 || !split_key_line(vkey_line, len, &name, &namelen, &id, &b64, &b64len)) {
		errbuf_set(err, errsz, "verifier key: malformed (want NAME+KEYID+BASE64)");
		return NULL;
	}
	if (!name_ok(name, namelen, true)) {
		errbuf_set(err, errsz, "verifier key: the name is not a valid key name");
		return NULL;
	}
	n = note_b64_decode(b64, b64len, raw, sizeof(raw));
	if (n != 1 + ED25519_KEY) {
		errbuf_set(err, errsz, "verifier key: the key is not base64 of 33 bytes");
		return NULL;
	}
	if (raw[0] != NOTE_ED25519 && raw[0] != NOTE_COSIGNATURE_V1) {
		errbuf_set(err, errsz, "verifier key: unknown signature type 0x%02x", raw[0]);
		return NULL;
	}
	if (key_id(name, namelen, raw[0], raw + 1, &want) < 0) {
		errbuf_set(err, errsz, "verifier key: cannot hash the key");
		return NULL;
	}
	if (id != want) {
		errbuf_set(err, errsz, "verifier key: key ID %08" PRIx32 " is not the key's", id);
		return NULL;
	}
	v = talloc_zero(ctx, struct note_verifier);
	if (v == NULL) {
		errbuf_set(err, errsz, "out of memory");
		return NULL;
	}
	talloc_set_destructor(v, verifier_destructor);
	memcpy(v->k.name, name, namelen);
	v->k.namelen = namelen;
	v->k.id = id;
	v->k.alg = (enum note_alg)raw[0];
	memcpy(v->k.pub, raw + 1, ED25519_KEY);
	v->k.pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, v->k.pub, ED25519_KEY);
	if (v->k.pkey == NULL) {
		errbuf_set(err, errsz, "verifier key: not an Ed25519 key");
		talloc_free(v);
		return NULL;
	}
	return v;
}

const char *note_signer_name(const struct note_signer *s) { return s->k.name; }
uint32_t note_signer_id(const struct note_signer *s) { return s->k.id; }
enum note_alg note_signer_alg(const struct note_signer *s) { return s->k.alg; }
const char *note_verifier_name(const struct note_verifier *v) { return v->k.name; }
uint32_t note_verifier_id(const struct note_verifier *v) { return v->k.id; }
enum note_alg note_verifier_alg(const struct note_verifier *v) { return v->k.alg; }

int note_signer_vkey(const struct note_signer *s, char *out, size_t outsz)
{
	return write_vkey(&s->k, (uint8_t)s->k.alg, s->k.id, out, outsz);
}

/* ---- signing and verifying ------------------------------------------------------------- */

/* What a cosignature signs: its header, then the note text (tlog-cosignature, "Ed25519
 * signed message"). Returns the message length; msg holds COSIG_HEADER_MAX + len bytes. */
static size_t cosig_message(uint64_t t, const char *text, size_t len, uint8_t *msg)
{
	int n = snprintf((char *)msg, COSIG_HEADER_MAX, "cosignature/v1\ntime %" PRIu64 "\n", t);

	memcpy(msg + n, text, len);
	return (size_t)n + len;
}

static int sign_blob(const struct note_signer *s, const char *text, size_t len, uint64_t now,
		     uint8_t blob[BLOB_MAX], size_t *bloblen)
{
	uint8_t msg[COSIG_HEADER_MAX + NOTE_MAX];
	const uint8_t *m = (const uint8_t *)text;
	size_t mlen = len, siglen = ED25519_SIG, off = KEY_ID;
	EVP_MD_CTX *md;
	int ok;

	put_be32(blob, s->k.id);
	if (s->k.alg == NOTE_COSIGNATURE_V1) {
		put_be64(blob + KEY_ID, now);
		off += COSIG_TIME;
		mlen = cosig_message(now, text, len, msg);
		m = msg;
	}
	/* Ed25519 is deterministic (RFC 8032): the same key and text give the same bytes. */
	md = EVP_MD_CTX_new();
	ok = md != NULL && EVP_DigestSignInit(md, NULL, NULL, NULL, s->k.pkey) == 1 &&
	     EVP_DigestSign(md, blob + off, &siglen, m, mlen) == 1 && siglen == ED25519_SIG;
	EVP_MD_CTX_free(md);
	*bloblen = off + ED25519_SIG;
	return ok ? 0 : -EIO;
}

/* Checks what note_sign promises of a text; the note must also fit NOTE_MAX with the line. */
static int sign_check(const struct note_signer *s, const char *text, size_t len, uint64_t now)
{
	if (len == 0 || text[len - 1] != '\n' || !text_ok(text, len))
		return -EINVAL;
	if (s->k.alg == NOTE_COSIGNATURE_V1 && now > (uint64_t)INT64_MAX)
		return -EINVAL;
	if (len > NOTE_MAX)
		return -EMSGSIZE;
	return 0;
}

/* "— name base64\n" into out (NUL-terminated); its length or a negative errno. */
static int sig_line(const struct note_signer *s, const char *text, size_t len, uint64_t now,
		    char *out, size_t outsz)
{
	uint8_t blob[BLOB_MAX];
	char b64[(BLOB_MAX + 2) / 3 * 4 + 1];
	size_t bloblen, need;
	int rc = sign_blob(s, text, len, now, blob, &bloblen), n;

	if (rc < 0)
		return rc;
	n = note_b64_encode(blob, bloblen, b64, sizeof(b64));
	if (n < 0)
		return n;
	need = SIG_PREFIX_LEN + s->k.namelen + 1 + (size_t)n + 1;
	if (len + 1 + need > NOTE_MAX)
		return -EMSGSIZE;
	if (outsz <= need)
		return -ENOSPC;
	memcpy(out, sig_prefix, SIG_PREFIX_LEN);
	memcpy(out + SIG_PREFIX_LEN, s->k.name, s->k.namelen);
	out[SIG_PREFIX_LEN + s->k.namelen] = ' ';
	memcpy(out + SIG_PREFIX_LEN + s->k.namelen + 1, b64, (size_t)n);
	out[need - 1] = '\n';
	out[need] = '\0';
	return (int)need;
}

int note_sign_line(const struct note_signer *s, const char *text, size_t len, uint64_t now,
		   char *out, size_t outsz)
{
	int rc = sign_check(s, text, len, now);

	return rc < 0 ? rc : sig_line(s, text, len, now, out, outsz);
}

int note_sign(const struct note_signer *s, const char *text, size_t len, uint64_t now,
	      char *out, size_t outsz)
{
	int rc = sign_check(s, text, len, now);

	if (rc < 0)
		return rc;
	if (outsz < len + 2)
		return -ENOSPC;
	rc = sig_line(s, text, len, now, out + len + 1, outsz - len - 1);
	if (rc < 0)
		return rc;
	memcpy(out, text, len);
	out[len] = '\n';
	return (int)len + 1 + rc;
}

/* Whether sig[0..siglen) (after the key ID) is v's signature of text. */
static bool verify_blob(const struct note_verifier *v, const char *text, size_t len,
			const uint8_t *sig, size_t siglen, uint64_t *t)
{
	uint8_t msg[COSIG_HEADER_MAX + NOTE_MAX];
	const uint8_t *m = (const uint8_t *)text;
	size_t mlen = len;
	EVP_MD_CTX *md;
	bool ok;

	if (v->k.alg == NOTE_COSIGNATURE_V1) {
		if (siglen != COSIG_TIME + ED25519_SIG || len > NOTE_MAX)
			return false;
		*t = get_be64(sig);
		if (*t > (uint64_t)INT64_MAX)	/* tlog-cosignature: MUST NOT exceed 2^63 - 1 */
			return false;
		mlen = cosig_message(*t, text, len, msg);
		m = msg;
		sig += COSIG_TIME;
		siglen -= COSIG_TIME;
	}
	if (siglen != ED25519_SIG)
		return false;
	md = EVP_MD_CTX_new();
	ok = md != NULL && EVP_DigestVerifyInit(md, NULL, NULL, NULL, v->k.pkey) == 1 &&
	     EVP_DigestVerify(md, sig, siglen, m, mlen) == 1;
	EVP_MD_CTX_free(md);
	return ok;
}

struct sig {
	const char *name;
	size_t namelen;
	uint32_t id;
	uint8_t blob[BLOB_MAX];	/* after the key ID; only a blob this short can be anyone's */
	size_t bloblen;		/* its whole length, which may exceed the bytes kept */
};

/* One signature line (without its '\n'): em dash, space, key name, space, base64 of the key
 * ID and at least one byte (Go's note.Open asks as much). */
static bool parse_sig_line(const char *line, size_t len, struct sig *sg)
{
	uint8_t raw[NOTE_MAX / 4 * 3];
	const char *sp;
	int n;

	if (len < SIG_PREFIX_LEN || memcmp(line, sig_prefix, SIG_PREFIX_LEN) != 0)
		return false;
	line += SIG_PREFIX_LEN;
	len -= SIG_PREFIX_LEN;
	sp = memchr(line, ' ', len);
	if (sp == NULL || !name_ok(line, (size_t)(sp - line), false))
		return false;
	sg->name = line;
	sg->namelen = (size_t)(sp - line);
	n = note_b64_decode(sp + 1, len - sg->namelen - 1, raw, sizeof(raw));
	if (n < KEY_ID + 1)
		return false;
	sg->id = get_be32(raw);
	sg->bloblen = (size_t)n - KEY_ID;
	memcpy(sg->blob, raw + KEY_ID, sg->bloblen < BLOB_MAX ? sg->bloblen : BLOB_MAX);
	return true;
}

int note_open(const char *note, size_t len, const struct note_verifier *const *vs, size_t nv,
	      struct note_open *res)
{
	struct sig sigs[NOTE_SIG_MAX];
	size_t split, pos, nsig = 0, i, j;

	memset(res, 0, sizeof(*res));
	if (nv > NOTE_VERIFIERS_MAX)
		return -EINVAL;
	if (len < 2 || len > NOTE_MAX || note[len - 1] != '\n' || !text_ok(note, len))
		return -EBADMSG;
	/* The text ends at the last blank line (the text may have blank lines of its own). */
	for (split = len - 1; split > 0; split--) {
		if (note[split - 1] == '\n' && note[split] == '\n')
			break;
	}
	if (split == 0)
		return -EBADMSG;
	res->textlen = split;
	pos = split + 1;
	if (pos == len)
		return -EBADMSG;	/* a blank line and then nothing: no signature */
	/* Every line is read before any is checked, so that a malformed note is refused as
	 * such whatever the order of its lines, and before any signature costs anything. */
	while (pos < len) {
		const char *nl = memchr(note + pos, '\n', len - pos);
		size_t ll = (size_t)(nl - (note + pos));

		if (nsig == NOTE_SIG_MAX || !parse_sig_line(note + pos, ll, &sigs[nsig]))
			return -EBADMSG;
		nsig++;
		pos += ll + 1;
	}
	res->nsig = (unsigned)nsig;
	/* The spec: signatures of unknown keys are ignored, even sharing a name or an ID (but
	 * not both) with a known key; a known key's signature is checked, every time it
	 * appears; one that fails rejects the note. */
	for (i = 0; i < nsig; i++) {
		const struct sig *sg = &sigs[i];
		bool known = false;

		for (j = 0; j < nv; j++) {
			const struct note_verifier *v = vs[j];
			uint64_t t = 0;

			if (v == NULL || v->k.id != sg->id || v->k.namelen != sg->namelen ||
			    memcmp(v->k.name, sg->name, sg->namelen) != 0)
				continue;
			known = true;
			if (sg->bloblen <= BLOB_MAX &&
			    verify_blob(v, note, res->textlen, sg->blob, sg->bloblen, &t)) {
				if (!(res->verified & (UINT32_C(1) << j)) &&
				    v->k.alg == NOTE_COSIGNATURE_V1)
					res->cosign_time[j] = t;
				res->verified |= UINT32_C(1) << j;
			} else {
				res->bad |= UINT32_C(1) << j;
			}
		}
		if (!known)
			res->unknown++;
	}
	return res->verified != 0 && res->bad == 0 ? 0 : -EPERM;
}

/* ---- checkpoints ----------------------------------------------------------------------- */

int checkpoint_format(const struct checkpoint *c, char *out, size_t outsz)
{
	size_t olen = strnlen(c->origin, sizeof(c->origin));
	char root[48];
	int n;

	if (olen == 0 || olen == sizeof(c->origin) || memchr(c->origin, '\n', olen) != NULL ||
	    !text_ok(c->origin, olen))
		return -EINVAL;
	if (note_b64_encode(c->root, sizeof(c->root), root, sizeof(root)) < 0)
		return -ENOSPC;
	n = snprintf(out, outsz, "%s\n%" PRIu64 "\n%s\n", c->origin, c->size, root);
	return n < 0 || (size_t)n >= outsz ? -ENOSPC : n;
}

int checkpoint_parse(const char *text, size_t len, struct checkpoint *c)
{
	const char *line[3];
	size_t ll[3], pos = 0, nline = 0, i;
	uint64_t size = 0;

	memset(c, 0, sizeof(*c));
	if (len == 0 || len > NOTE_MAX || text[len - 1] != '\n' || !text_ok(text, len))
		return -EBADMSG;
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = (size_t)(nl - (text + pos));

		/* no empty line: not the origin, nor an extension line */
		if (n == 0 || nline == 3 + CHECKPOINT_EXT_MAX)
			return -EBADMSG;
		if (nline < 3) {
			line[nline] = text + pos;
			ll[nline] = n;
		}
		nline++;
		pos += n + 1;
	}
	if (nline < 3 || ll[0] > NOTE_NAME_MAX)
		return -EBADMSG;
	/* the size: decimal, no sign, no leading zero but in "0", no overflow */
	if (ll[1] > 20 || (ll[1] > 1 && line[1][0] == '0'))
		return -EBADMSG;
	for (i = 0; i < ll[1]; i++) {
		unsigned d = (unsigned)(line[1][i] - '0');

		if (d > 9 || size > (UINT64_MAX - d) / 10)
			return -EBADMSG;
		size = size * 10 + d;
	}
	if (ll[2] != 44 || note_b64_decode(line[2], ll[2], c->root, sizeof(c->root)) != 32) {
		memset(c, 0, sizeof(*c));
		return -EBADMSG;
	}
	memcpy(c->origin, line[0], ll[0]);
	c->origin[ll[0]] = '\0';
	c->size = size;
	return 0;
}
