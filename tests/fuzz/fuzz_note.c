/* libFuzzer harness over what a neighbour's feed sends us: C2SP signed notes (note_open with a
 * fixed set of verifiers: Go's two known Ed25519 keys and a cosignature key), checkpoint note
 * texts, verifier and signer key lines, and the strict base64 beneath them.
 * Besides crashes it checks what src/feed/note.h promises, and aborts on a broken promise:
 * an opened note's text ends at its last blank line, a parsed checkpoint formats back to the
 * lines it came from, canonical base64 encodes back to itself, and whatever note_sign signs
 * note_open opens. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <talloc.h>

#include "fuzzlib.h"

#include "feed/note.h"

/* golang.org/x/mod/sumdb/note's documentation keys (tests/unit/test_note.c) */
#define GO_VKEY "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
#define GO_SKEY "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
#define ENOCH_VKEY "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"

/* Signing is the slow part: round trips only for texts up to this long. */
#define SIGN_MAX 2048

static void *root;
static const struct note_verifier *vs[3];
static struct note_signer *log_signer, *cosigner;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char line[NOTE_KEY_LINE_MAX], err[256];
	struct note_verifier *v;

	(void)argc;
	(void)argv;
	root = talloc_new(NULL);
	log_signer = note_signer_new(root, GO_SKEY, NOTE_ED25519, err, sizeof(err));
	cosigner = note_signer_new(root, GO_SKEY, NOTE_COSIGNATURE_V1, err, sizeof(err));
	CHECK(log_signer != NULL && cosigner != NULL);
	CHECK(note_signer_vkey(cosigner, line, sizeof(line)) > 0);
	vs[0] = note_verifier_new(root, GO_VKEY, err, sizeof(err));
	vs[1] = note_verifier_new(root, ENOCH_VKEY, err, sizeof(err));
	vs[2] = v = note_verifier_new(root, line, err, sizeof(err));
	CHECK(vs[0] != NULL && vs[1] != NULL && v != NULL);
	return 0;
}

static void fuzz_open(const char *in, size_t len)
{
	struct note_open res;
	struct checkpoint c;
	int rc = note_open(in, len, vs, 3, &res);

	CHECK(rc == 0 || rc == -EBADMSG || rc == -EPERM);
	CHECK((res.verified & ~UINT32_C(7)) == 0 && (res.bad & ~UINT32_C(7)) == 0);
	if (len > NOTE_MAX)
		CHECK(rc == -EBADMSG);
	if (rc == -EBADMSG)
		return;
	/* the text ends with a newline, then the last blank line, then signature lines */
	CHECK(res.textlen > 0 && res.textlen + 1 < len);
	CHECK(in[res.textlen - 1] == '\n' && in[res.textlen] == '\n');
	for (size_t i = res.textlen + 1; i < len; i++)
		CHECK(in[i - 1] != '\n' || in[i] != '\n');
	CHECK(res.nsig >= 1 && res.nsig <= NOTE_SIG_MAX && res.unknown <= res.nsig);
	if (rc == 0) {
		CHECK(res.verified != 0 && res.bad == 0);
		/* only a verified cosigner has a time */
		if (!(res.verified & 4))
			CHECK(res.cosign_time[2] == 0);
		CHECK(res.cosign_time[2] <= (uint64_t)INT64_MAX);
		(void)checkpoint_parse(in, res.textlen, &c);
	}
}

static void fuzz_checkpoint(const char *in, size_t len)
{
	struct checkpoint c;
	char out[NOTE_NAME_MAX + 80];
	int n;

	if (checkpoint_parse(in, len, &c) != 0)
		return;
	/* strict parsing: formatting gives back the first three lines byte for byte */
	n = checkpoint_format(&c, out, sizeof(out));
	CHECK(n > 0 && (size_t)n <= len && memcmp(out, in, (size_t)n) == 0);
}

static void fuzz_keys(const char *in, size_t len)
{
	char line[NOTE_KEY_LINE_MAX + 8], err[256];
	void *ctx = talloc_new(root);
	struct note_verifier *v;
	struct note_signer *s;

	if (len >= sizeof(line))
		len = sizeof(line) - 1;
	memcpy(line, in, len);
	line[len] = '\0';
	v = note_verifier_new(ctx, line, err, sizeof(err));
	if (v != NULL) {
		CHECK(note_verifier_alg(v) == NOTE_ED25519 ||
		      note_verifier_alg(v) == NOTE_COSIGNATURE_V1);
		CHECK(strlen(note_verifier_name(v)) <= NOTE_NAME_MAX);
	}
	s = note_signer_new(ctx, line, NOTE_ED25519, err, sizeof(err));
	if (s != NULL) {
		char vkey[NOTE_KEY_LINE_MAX];

		/* a signer's own verifier key is a verifier key */
		CHECK(note_signer_vkey(s, vkey, sizeof(vkey)) > 0);
		CHECK(note_verifier_new(ctx, vkey, err, sizeof(err)) != NULL);
	}
	talloc_free(ctx);
}

static void fuzz_base64(const char *in, size_t len)
{
	uint8_t raw[NOTE_MAX];
	char again[NOTE_MAX * 2];
	int n;

	if (len > NOTE_MAX)
		return;
	n = note_b64_decode(in, len, raw, sizeof(raw));
	if (n < 0)
		return;
	/* only the canonical spelling decodes: it encodes back to itself */
	CHECK(note_b64_encode(raw, (size_t)n, again, sizeof(again)) == (int)len);
	CHECK(memcmp(again, in, len) == 0);
}

static void fuzz_sign(const char *in, size_t len)
{
	static char out[NOTE_MAX + 1];
	struct note_open res;
	struct note_signer *s = len > 0 && (in[0] & 1) ? cosigner : log_signer;
	uint64_t now = len > 1 ? (uint64_t)(unsigned char)in[1] << 24 : 0;
	int n;

	if (len > SIGN_MAX)
		return;
	n = note_sign(s, in, len, now, out, sizeof(out));
	CHECK(n > 0 || n == -EINVAL);
	if (n < 0)
		return;
	CHECK(note_open(out, (size_t)n, vs, 3, &res) == 0);
	CHECK(res.textlen == len && memcmp(out, in, len) == 0);
	CHECK(res.verified == (s == cosigner ? 4u : 1u));
	if (s == cosigner)
		CHECK(res.cosign_time[2] == now);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;

	fuzz_open(in, size);
	fuzz_checkpoint(in, size);
	fuzz_keys(in, size);
	fuzz_base64(in, size);
	fuzz_sign(in, size);
	return 0;
}
