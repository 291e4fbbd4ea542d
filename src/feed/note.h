/* Signed notes (C2SP signed-note v1.0.0, https://c2sp.org/signed-note) with Ed25519 keys, and
 * their timestamped Ed25519 cosignatures (https://c2sp.org/tlog-cosignature, type 0x04): the
 * envelope of the checkpoints a cross-border feed publishes and its neighbours co-sign.
 * Keys travel in Go's golang.org/x/mod/sumdb/note text forms, so that the Go, Rust and
 * Python tools of the transparency-log world read ours and we read theirs:
 *   verifier key  <name>+<8 hex key ID>+<base64(type || 32-byte public key)>
 *   signer key    PRIVATE+KEY+<name>+<8 hex key ID>+<base64(0x01 || 32-byte seed)>
 * key ID = the first 4 bytes, big-endian, of SHA-256(name || 0x0A || type || public key). */
#ifndef CEIRGW_FEED_NOTE_H
#define CEIRGW_FEED_NOTE_H

#include <stddef.h>
#include <stdint.h>

#define NOTE_MAX 8192		/* a note we read or write, whole */
#define NOTE_NAME_MAX 128	/* a key name (origin): printable, no '+' or space */
#define NOTE_SIG_MAX 16		/* signature lines read per note; more -> refused. The spec
				 * asks verifiers to take at least 16. */
#define NOTE_VERIFIERS_MAX 32	/* verifiers given to note_open: the bits of its masks */
/* "PRIVATE+KEY+" + name + "+" + 8 hex + "+" + 44 base64 characters of 33 bytes, and a NUL */
#define NOTE_KEY_LINE_MAX 256

enum note_alg { NOTE_ED25519 = 0x01, NOTE_COSIGNATURE_V1 = 0x04 };

struct note_signer;	/* talloc: private key, name, key id, alg */
struct note_verifier;	/* talloc: public key, name, key id, alg */

/* A new Ed25519 key named name: the signer key line (PRIVATE+KEY+..., type 0x01) in skey and
 * the verifier key line in vkey; also the cosignature (0x04) verifier line of the same public
 * key in cosign_vkey. Each buffer holds outsz >= NOTE_KEY_LINE_MAX bytes and gets a
 * NUL-terminated line without a newline. Returns 0, or a negative errno with err filled:
 * -EINVAL for a name that is not a valid key name, -ENOSPC for a small buffer, -EIO when the
 * random source or the library failed. */
int note_keygen(const char *name, char *skey, char *vkey, char *cosign_vkey, size_t outsz,
		char *err, size_t errsz);

/* A signer from a signer key line (as note_keygen writes it; a key line of type 0x04 is read
 * too). alg says which kind of signature it makes with that key: the same key file serves a
 * log (NOTE_ED25519) and a witness (NOTE_COSIGNATURE_V1), each with its own key ID. Allocated
 * under ctx; NULL with err filled when the line is malformed or its key ID is not the key's.
 * err never shows the key. */
struct note_signer *note_signer_new(void *ctx, const char *skey_line, enum note_alg alg,
				    char *err, size_t errsz);

/* A signer from a key file: one signer key line, an optional final newline. Refuses a file
 * that group or others may read or write ("FILE: mode 0644, must be 0600 or stricter"), that
 * is not a regular file, or whose key is malformed; err never shows the key. Returns 0 with
 * *out allocated under ctx, or a negative errno with err filled. */
int note_signer_load(void *ctx, const char *path, enum note_alg alg, struct note_signer **out,
		     char *err, size_t errsz);

/* A verifier from a verifier key line of type 0x01 (verifies Ed25519 note signatures) or
 * 0x04 (verifies cosignatures). NULL with err filled when the line is malformed, the type
 * unknown or the key ID is not the key's. */
struct note_verifier *note_verifier_new(void *ctx, const char *vkey_line, char *err,
					size_t errsz);

const char *note_signer_name(const struct note_signer *s);
uint32_t note_signer_id(const struct note_signer *s);
enum note_alg note_signer_alg(const struct note_signer *s);
const char *note_verifier_name(const struct note_verifier *v);
uint32_t note_verifier_id(const struct note_verifier *v);
enum note_alg note_verifier_alg(const struct note_verifier *v);

/* The verifier key line of a signer (for the cosignature alg: the 0x04 line), NUL-terminated.
 * Returns its length, or -ENOSPC when outsz is too small. */
int note_signer_vkey(const struct note_signer *s, char *out, size_t outsz);

/* Signs the note text text[0..len): non-empty, valid UTF-8, no control character but '\n',
 * ending with '\n' (it may hold blank lines: the spec splits at the last one). Writes the
 * text, a blank line and the signature line to out, NUL-terminated. A cosignature signer
 * signs "cosignature/v1\ntime <now>\n" followed by the text, as tlog-cosignature says, and
 * puts now (POSIX seconds, at most 2^63 - 1) in the signature. Returns the length written,
 * or -EINVAL for a text that is not a note text (or a now out of range), -EMSGSIZE when the
 * note would exceed NOTE_MAX, -ENOSPC when out is too small, -EIO when the library failed. */
int note_sign(const struct note_signer *s, const char *text, size_t len, uint64_t now,
	      char *out, size_t outsz);

/* Just the signature line ("— name base64\n", NUL-terminated) of text, so that a witness can
 * append its cosignature to a note it serves. Returns and fails as note_sign. */
int note_sign_line(const struct note_signer *s, const char *text, size_t len, uint64_t now,
		   char *out, size_t outsz);

/* What note_open found. Bit i of a mask is vs[i]. */
struct note_open {
	size_t textlen;			/* the text is note[0..textlen), its final '\n' included */
	uint32_t verified;		/* verifiers whose signature verified */
	uint32_t bad;			/* verifiers with a signature line (name and key ID theirs)
					 * that did not verify: a forgery or a corrupted note */
	uint64_t cosign_time[NOTE_VERIFIERS_MAX]; /* for a verified 0x04 verifier: its timestamp
					 * (of its first verified line) */
	unsigned nsig;			/* signature lines */
	unsigned unknown;		/* of those, lines of no verifier in vs (ignored) */
};

/* Opens the signed note note[0..len): splits it into text and signature lines at the last
 * blank line, strictly: refuses more than NOTE_MAX bytes, invalid UTF-8, a control character
 * but '\n' (a CR too), no blank line, no signature line, a line after the blank line that is
 * not a signature line (em dash, space, valid key name, space, canonical base64 of at least
 * 5 bytes), more than NOTE_SIG_MAX signature lines. Then checks every signature line whose
 * name and key ID are those of a verifier in vs[0..nv) (nv <= NOTE_VERIFIERS_MAX) and ignores
 * the others, as the spec says. Fills res as far as it got.
 * Returns 0 when at least one verifier of vs verified and no signature of one failed;
 * -EBADMSG when the note is malformed; -EPERM when none verified or one failed (res->bad
 * says which: the spec asks to reject the whole note then); -EINVAL for nv too large. */
int note_open(const char *note, size_t len, const struct note_verifier *const *vs, size_t nv,
	      struct note_open *res);

/* A transparency log's tree head as a checkpoint's note text (C2SP tlog-checkpoint v1.0.0,
 * https://c2sp.org/tlog-checkpoint): origin, tree size and RFC 6962 root hash. */
struct checkpoint {
	char origin[NOTE_NAME_MAX + 1];
	uint64_t size;
	uint8_t root[32];
};

#define CHECKPOINT_EXT_MAX 16	/* extension lines read; more -> refused */

/* Writes "origin\nsize\nbase64(root)\n" (no extension lines), NUL-terminated. Returns its
 * length, -EINVAL for an origin that is empty or not printable UTF-8 on one line, -ENOSPC when
 * out is too small. */
int checkpoint_format(const struct checkpoint *c, char *out, size_t outsz);

/* Parses a checkpoint's note text text[0..len) (as note_open gives it, final '\n' included)
 * strictly: a note text (as note_sign wants it) of at most NOTE_MAX bytes; a non-empty origin
 * of at most NOTE_NAME_MAX bytes; the size in decimal without leading zeros (but "0") and
 * without overflow; the root in canonical standard base64 of exactly 32 bytes; then at most
 * CHECKPOINT_EXT_MAX extension lines, each non-empty, which are ignored. Returns 0 with c
 * filled, or -EBADMSG. */
int checkpoint_parse(const char *text, size_t len, struct checkpoint *c);

/* Standard base64 (RFC 4648 section 4), strict: padding required, no whitespace, no
 * non-canonical trailing bits. Encode returns the length written (NUL-terminated) or
 * -ENOSPC; decode returns the bytes written or -EBADMSG (-ENOSPC when out is too small). */
int note_b64_encode(const uint8_t *in, size_t len, char *out, size_t outsz);
int note_b64_decode(const char *in, size_t len, uint8_t *out, size_t outsz);

#endif
