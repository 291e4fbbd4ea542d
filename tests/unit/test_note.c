/* src/feed/note: C2SP signed notes, tlog-cosignatures and checkpoints. Known answers from
 * Go's reference implementation, round trips, and every malformation note_open must refuse.
 * (Python's independent Ed25519 checks the other way round: tests/unit/note_kat.sh.) */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <talloc.h>

#include "feed/note.h"

/* The known-answer vectors of golang.org/x/mod/sumdb/note (note.go's package documentation
 * and note_test.go: TestNewVerifier, TestNewSigner, TestSign, TestOpen), which the other
 * ports (Cloudflare's Rust signed_note crate among them) test against too. */
#define GO_VKEY "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
#define GO_SKEY "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
#define GO_TEXT "If you think cryptography is the answer to your problem,\n" \
		"then you don't know what your problem is.\n"
#define GO_SIG "\xE2\x80\x94 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIu" \
	       "GUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
#define GO_NOTE GO_TEXT "\n" GO_SIG
#define ENOCH_VKEY "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
#define ENOCH_SIG "\xE2\x80\x94 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp" \
		  "+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"

/* The example of c2sp.org/tlog-cosignature: a checkpoint with a log signature and a
 * cosignature, whose keys the spec does not publish: it tests the reading, not the keys. */
#define SPEC_CHECKPOINT "example.com/behind-the-sofa\n20852163\n" \
			"CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
#define SPEC_COSIGNED SPEC_CHECKPOINT "\n" \
	"\xE2\x80\x94 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOo" \
	"RDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n" \
	"\xE2\x80\x94 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWX" \
	"EhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"

#define EM "\xE2\x80\x94"

static void *ctx;

static int setup(void **state)
{
	(void)state;
	ctx = talloc_new(NULL);
	return ctx == NULL;
}

static int teardown(void **state)
{
	(void)state;
	talloc_free(ctx);
	return 0;
}

static struct note_verifier *verifier(const char *line)
{
	char err[256] = "";
	struct note_verifier *v = note_verifier_new(ctx, line, err, sizeof(err));

	if (v == NULL)
		fail_msg("%s: %s", line, err);
	return v;
}

static struct note_signer *signer(const char *line, enum note_alg alg)
{
	char err[256] = "";
	struct note_signer *s = note_signer_new(ctx, line, alg, err, sizeof(err));

	if (s == NULL)
		fail_msg("signer: %s", err);
	return s;
}

static int open1(const char *note, size_t len, const struct note_verifier *v,
		 struct note_open *res)
{
	const struct note_verifier *vs[1] = { v };

	return note_open(note, len, vs, 1, res);
}

/* ---- Go's known answers ---------------------------------------------------------------- */

static void test_go_verifier_key(void **state)
{
	struct note_verifier *v = verifier(GO_VKEY);

	(void)state;
	assert_string_equal(note_verifier_name(v), "PeterNeumann");
	assert_int_equal(note_verifier_id(v), 0xc74f20a3);
	assert_int_equal(note_verifier_alg(v), NOTE_ED25519);
}

static void test_go_signer_key(void **state)
{
	struct note_signer *s = signer(GO_SKEY, NOTE_ED25519);
	char vkey[NOTE_KEY_LINE_MAX];

	(void)state;
	assert_string_equal(note_signer_name(s), "PeterNeumann");
	assert_int_equal(note_signer_id(s), 0xc74f20a3);
	assert_int_equal(note_signer_vkey(s, vkey, sizeof(vkey)), (int)strlen(GO_VKEY));
	assert_string_equal(vkey, GO_VKEY);
}

static void test_go_open(void **state)
{
	struct note_verifier *v = verifier(GO_VKEY);
	struct note_open res;

	(void)state;
	assert_int_equal(open1(GO_NOTE, strlen(GO_NOTE), v, &res), 0);
	assert_int_equal(res.verified, 1);
	assert_int_equal(res.bad, 0);
	assert_int_equal(res.textlen, strlen(GO_TEXT));
	assert_int_equal(res.nsig, 1);
	assert_int_equal(res.unknown, 0);
}

/* Ed25519 is deterministic: our signature of Go's text is Go's, byte for byte. */
static void test_go_sign(void **state)
{
	struct note_signer *s = signer(GO_SKEY, NOTE_ED25519);
	char out[NOTE_MAX], line[512];

	(void)state;
	assert_int_equal(note_sign(s, GO_TEXT, strlen(GO_TEXT), 0, out, sizeof(out)),
			 (int)strlen(GO_NOTE));
	assert_string_equal(out, GO_NOTE);
	assert_int_equal(note_sign_line(s, GO_TEXT, strlen(GO_TEXT), 0, line, sizeof(line)),
			 (int)strlen(GO_SIG));
	assert_string_equal(line, GO_SIG);
}

/* Go's doubly signed note verifies with either key alone; the other signature is unknown. */
static void test_go_two_signers(void **state)
{
	static const char note[] = GO_TEXT "\n" GO_SIG ENOCH_SIG;
	const struct note_verifier *both[2] = { verifier(GO_VKEY), verifier(ENOCH_VKEY) };
	struct note_open res;

	(void)state;
	assert_int_equal(open1(note, strlen(note), both[0], &res), 0);
	assert_int_equal(res.verified, 1);
	assert_int_equal(res.unknown, 1);
	assert_int_equal(open1(note, strlen(note), both[1], &res), 0);
	assert_int_equal(res.verified, 1);
	assert_int_equal(res.unknown, 1);
	assert_int_equal(note_open(note, strlen(note), both, 2, &res), 0);
	assert_int_equal(res.verified, 3);
	assert_int_equal(res.unknown, 0);
	assert_int_equal(res.nsig, 2);
}

/* Go's TestNewVerifier and TestNewSigner: every part of a key line and every byte changed
 * is refused, and the two keys Go adjusted so that only their length or type is wrong. */
static void test_go_key_manglings(void **state)
{
	static const char *const lines[2] = { GO_VKEY, GO_SKEY };
	char err[256], buf[NOTE_KEY_LINE_MAX];
	size_t k, i, j, len;

	(void)state;
	for (k = 0; k < 2; k++) {
		len = strlen(lines[k]);
		for (i = 0; i < len; i++) {
			for (j = i + 1; j <= len; j++) {
				if (i == 0 && j == len)
					continue;
				memcpy(buf, lines[k] + i, j - i);
				buf[j - i] = '\0';
				if (k == 0)
					assert_null(note_verifier_new(ctx, buf, err, sizeof(err)));
				else
					assert_null(note_signer_new(ctx, buf, NOTE_ED25519, err,
								    sizeof(err)));
			}
		}
		for (i = 0; i < len; i++) {
			memcpy(buf, lines[k], len + 1);
			buf[i]++;
			if (k == 0)
				assert_null(note_verifier_new(ctx, buf, err, sizeof(err)));
			else
				assert_null(note_signer_new(ctx, buf, NOTE_ED25519, err,
							    sizeof(err)));
		}
	}
	assert_null(note_verifier_new(ctx, "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/"
				      "LDE4izWy10TWBADKEY==", err, sizeof(err)));
	assert_null(note_verifier_new(ctx, "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/"
				      "LDE4izWy10TW", err, sizeof(err)));
	assert_non_null(strstr(err, "unknown signature type 0x65"));
}

/* The tlog-cosignature example reads as a well-formed checkpoint with two signatures, both
 * unknown here; its cosignature carries the time its signed-message example shows. */
static void test_spec_example(void **state)
{
	struct note_verifier *v = verifier(GO_VKEY);
	struct note_open res;
	struct checkpoint c;

	(void)state;
	assert_int_equal(open1(SPEC_COSIGNED, strlen(SPEC_COSIGNED), v, &res), -EPERM);
	assert_int_equal(res.nsig, 2);
	assert_int_equal(res.unknown, 2);
	assert_int_equal(res.verified, 0);
	assert_int_equal(res.bad, 0);
	assert_int_equal(res.textlen, strlen(SPEC_CHECKPOINT));
	assert_int_equal(checkpoint_parse(SPEC_COSIGNED, res.textlen, &c), 0);
	assert_string_equal(c.origin, "example.com/behind-the-sofa");
	assert_int_equal(c.size, 20852163);
	{
		uint8_t blob[80];

		assert_int_equal(note_b64_decode("jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI"
						 "5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBI"
						 "fZ+qnA==", 104, blob, sizeof(blob)), 76);
		assert_int_equal(((uint64_t)blob[4] << 56 | (uint64_t)blob[5] << 48 |
				  (uint64_t)blob[6] << 40 | (uint64_t)blob[7] << 32 |
				  (uint64_t)blob[8] << 24 | (uint64_t)blob[9] << 16 |
				  (uint64_t)blob[10] << 8 | blob[11]), 1679315147);
	}
}

/* ---- our own keys ---------------------------------------------------------------------- */

struct keys {
	char skey[NOTE_KEY_LINE_MAX], vkey[NOTE_KEY_LINE_MAX], cvkey[NOTE_KEY_LINE_MAX];
};

static void keygen(const char *name, struct keys *k)
{
	char err[256] = "";

	if (note_keygen(name, k->skey, k->vkey, k->cvkey, NOTE_KEY_LINE_MAX, err,
			sizeof(err)) != 0)
		fail_msg("keygen %s: %s", name, err);
}

static void test_keygen_round_trip(void **state)
{
	struct keys k;
	struct note_signer *s, *cs;
	struct note_verifier *v, *cv;
	char out[NOTE_MAX], line[NOTE_KEY_LINE_MAX];
	struct note_open res;
	static const char text[] = "ceir.example.ke/feed\n0\n"
				   "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n";
	int n;

	(void)state;
	keygen("ceir.example.ke/feed", &k);
	assert_memory_equal(k.skey, "PRIVATE+KEY+ceir.example.ke/feed+", 33);
	s = signer(k.skey, NOTE_ED25519);
	cs = signer(k.skey, NOTE_COSIGNATURE_V1);
	v = verifier(k.vkey);
	cv = verifier(k.cvkey);
	assert_int_equal(note_verifier_alg(cv), NOTE_COSIGNATURE_V1);
	assert_int_equal(note_signer_id(s), note_verifier_id(v));
	assert_int_equal(note_signer_id(cs), note_verifier_id(cv));
	assert_int_not_equal(note_signer_id(s), note_signer_id(cs));
	assert_int_equal(note_signer_vkey(s, line, sizeof(line)), (int)strlen(k.vkey));
	assert_string_equal(line, k.vkey);
	assert_int_equal(note_signer_vkey(cs, line, sizeof(line)), (int)strlen(k.cvkey));
	assert_string_equal(line, k.cvkey);
	n = note_sign(s, text, strlen(text), 0, out, sizeof(out));
	assert_true(n > 0 && (size_t)n == strlen(out));
	assert_int_equal(open1(out, (size_t)n, v, &res), 0);
	assert_int_equal(res.textlen, strlen(text));
	/* the 0x04 verifier of the same key does not take a 0x01 signature: other key ID */
	assert_int_equal(open1(out, (size_t)n, cv, &res), -EPERM);
	assert_int_equal(res.unknown, 1);
	assert_int_equal(res.bad, 0);
	/* a second key is another key */
	{
		struct keys k2;

		keygen("ceir.example.ke/feed", &k2);
		assert_string_not_equal(k.vkey, k2.vkey);
		assert_int_equal(open1(out, (size_t)n, verifier(k2.vkey), &res), -EPERM);
	}
}

static void test_keygen_refusals(void **state)
{
	struct keys k;
	char err[256], longname[NOTE_NAME_MAX + 2];
	static const char *const bad[] = { "", "a b", "a+b", "a\tb", "tab\x01", "nbsp\xC2\xA0",
					   "ideo\xE3\x80\x80space", "bad\xFFutf8", "del\x7F" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(note_keygen(bad[i], k.skey, k.vkey, k.cvkey, sizeof(k.skey),
					     err, sizeof(err)), -EINVAL);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(note_keygen(longname, k.skey, k.vkey, k.cvkey, sizeof(k.skey), err,
				     sizeof(err)), -EINVAL);
	longname[NOTE_NAME_MAX] = '\0';
	keygen(longname, &k);
	keygen("caf\xC3\xA9.example/log", &k);	/* a UTF-8 name is a name */
	assert_int_equal(note_keygen("x", k.skey, k.vkey, k.cvkey, 64, err, sizeof(err)),
			 -ENOSPC);
}

/* ---- cosignatures ---------------------------------------------------------------------- */

static void test_cosignature(void **state)
{
	struct keys log, wit;
	struct note_signer *ls, *ws;
	const struct note_verifier *vs[2];
	char out[NOTE_MAX], line[512];
	struct note_open res;
	static const char text[] = SPEC_CHECKPOINT;
	int n, m;

	(void)state;
	keygen("example.com/behind-the-sofa", &log);
	keygen("witness.example.com/w1", &wit);
	ls = signer(log.skey, NOTE_ED25519);
	ws = signer(wit.skey, NOTE_COSIGNATURE_V1);
	vs[0] = verifier(log.vkey);
	vs[1] = verifier(wit.cvkey);

	/* a cosignature alone */
	n = note_sign(ws, text, strlen(text), 1679315147, out, sizeof(out));
	assert_true(n > 0);
	assert_int_equal(note_open(out, (size_t)n, vs + 1, 1, &res), 0);
	assert_int_equal(res.cosign_time[0], 1679315147);
	/* the timestamp is signed: another one in the blob does not verify */
	{
		char *b64 = strrchr(out, ' ') + 1;
		uint8_t blob[80];
		int bl = note_b64_decode(b64, strlen(b64) - 1, blob, sizeof(blob));

		assert_int_equal(bl, 76);
		blob[11] ^= 1;
		assert_true(note_b64_encode(blob, 76, b64, 106) > 0);
		strcat(out, "\n");
		assert_int_equal(note_open(out, strlen(out), vs + 1, 1, &res), -EPERM);
		assert_int_equal(res.bad, 1);
	}

	/* the log signs, the witness appends its line to the note it serves */
	n = note_sign(ls, text, strlen(text), 0, out, sizeof(out));
	assert_true(n > 0);
	m = note_sign_line(ws, text, strlen(text), 1700000000, line, sizeof(line));
	assert_true(m > 0);
	memcpy(out + n, line, (size_t)m + 1);
	assert_int_equal(note_open(out, (size_t)(n + m), vs, 2, &res), 0);
	assert_int_equal(res.verified, 3);
	assert_int_equal(res.cosign_time[0], 0);
	assert_int_equal(res.cosign_time[1], 1700000000);
	/* either alone verifies the note */
	assert_int_equal(note_open(out, (size_t)(n + m), vs, 1, &res), 0);
	assert_int_equal(note_open(out, (size_t)(n + m), vs + 1, 1, &res), 0);

	/* the spec's bound on the time; 2^63 - 1 itself is fine */
	assert_int_equal(note_sign(ws, text, strlen(text), UINT64_C(1) << 63, out, sizeof(out)),
			 -EINVAL);
	n = note_sign(ws, text, strlen(text), INT64_MAX, out, sizeof(out));
	assert_true(n > 0);
	assert_int_equal(note_open(out, (size_t)n, vs + 1, 1, &res), 0);
	assert_true(res.cosign_time[0] == INT64_MAX);
}

/* ---- what note_open refuses ------------------------------------------------------------ */

struct bad_note {
	const char *name;
	const char *note;
	size_t len;		/* 0: strlen */
	int want;
};

#define GO_B64 "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="

static const struct bad_note bad_notes[] = {
	{ "no blank line", GO_TEXT GO_SIG, 0, -EBADMSG },
	{ "no signature", GO_TEXT "\n", 0, -EBADMSG },
	{ "no text", "\n" GO_SIG, 0, -EBADMSG },
	{ "empty", "", 0, -EBADMSG },
	{ "no final newline", GO_TEXT "\n" EM " PeterNeumann " GO_B64, 0, -EBADMSG },
	/* the text ends at the last blank line: here it takes in the first signature line,
	 * so that the signature no longer verifies */
	{ "a blank line among the signatures", GO_TEXT "\n" GO_SIG "\n" GO_SIG, 0, -EPERM },
	{ "a text line after the blank line", GO_TEXT "\n" GO_SIG "then more\n", 0, -EBADMSG },
	{ "bad base64", GO_TEXT "\n" EM " PeterNeumann x08go!ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcE"
	  "lZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n", 0, -EBADMSG },
	{ "base64 without its padding", GO_TEXT "\n" EM " PeterNeumann x08go/ZJkuBS9UG/Sffcv"
	  "IAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM\n", 0, -EBADMSG },
	{ "base64 with non-canonical trailing bits", GO_TEXT "\n" EM " PeterNeumann x08go/ZJk"
	  "uBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAN=\n",
	  0, -EBADMSG },
	{ "a space inside the base64", GO_TEXT "\n" EM " PeterNeumann x08go/ZJkuBS9UG/SffcvIAQx"
	  "VBtiFupLLr8pAcElZInNIuGUgYN1FFYC2 pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n", 0, -EBADMSG },
	{ "two spaces after the name", GO_TEXT "\n" EM " PeterNeumann  " GO_B64 "\n", 0, -EBADMSG },
	{ "a trailing space", GO_TEXT "\n" EM " PeterNeumann " GO_B64 " \n", 0, -EBADMSG },
	{ "two hyphens for the em dash", GO_TEXT "\n-- PeterNeumann " GO_B64 "\n", 0, -EBADMSG },
	{ "an en dash for the em dash", GO_TEXT "\n\xE2\x80\x93 PeterNeumann " GO_B64 "\n", 0,
	  -EBADMSG },
	{ "no space after the em dash", GO_TEXT "\n" EM "PeterNeumann " GO_B64 "\n", 0, -EBADMSG },
	{ "an empty name", GO_TEXT "\n" EM "  " GO_B64 "\n", 0, -EBADMSG },
	{ "a '+' in the name", GO_TEXT "\n" EM " Peter+Neumann " GO_B64 "\n", 0, -EBADMSG },
	{ "a no-break space in the name", GO_TEXT "\n" EM " Peter\xC2\xA0Neumann " GO_B64 "\n", 0,
	  -EBADMSG },
	{ "no signature after the name", GO_TEXT "\n" EM " PeterNeumann \n", 0, -EBADMSG },
	{ "a signature of only a key ID", GO_TEXT "\n" EM " PeterNeumann x08gow==\n", 0,
	  -EBADMSG },
	{ "a CR in the text", "If you think cryptography is the answer to your problem,\r\n"
	  "then you don't know what your problem is.\n\n" GO_SIG, 0, -EBADMSG },
	{ "CRLF line ends", GO_TEXT "\n" EM " PeterNeumann " GO_B64 "\r\n", 0, -EBADMSG },
	{ "a tab in the text", "If\tyou think\n\n" GO_SIG, 0, -EBADMSG },
	{ "a NUL in the text", "If you\0 think\n\n" GO_SIG, 15 + 1 + sizeof(GO_SIG) - 1, -EBADMSG },
	{ "not UTF-8", "caf\xE9\n\n" GO_SIG, 0, -EBADMSG },
	{ "an overlong UTF-8 '/'", "a\xC0\xAF\n\n" GO_SIG, 0, -EBADMSG },
	{ "a UTF-16 surrogate in UTF-8", "a\xED\xA0\x80\n\n" GO_SIG, 0, -EBADMSG },
	{ "a truncated UTF-8 sequence", "a\xE2\x80\n\n" GO_SIG, 0, -EBADMSG },
	{ "not UTF-8 in the name", GO_TEXT "\n" EM " Peter\xFFNeumann " GO_B64 "\n", 0, -EBADMSG },
};

static void test_bad_note(void **state)
{
	const struct bad_note *b = *state;
	struct note_verifier *v = verifier(GO_VKEY);
	struct note_open res;
	size_t len = b->len ? b->len : strlen(b->note);

	assert_int_equal(open1(b->note, len, v, &res), b->want);
	assert_int_equal(res.verified, 0);
}

/* 16 signature lines are read, as the spec asks at least; a 17th is refused. */
static void test_too_many_signatures(void **state)
{
	struct note_verifier *v = verifier(GO_VKEY);
	struct note_open res;
	char note[NOTE_MAX];
	size_t len, i;

	(void)state;
	len = (size_t)snprintf(note, sizeof(note), "%s", GO_NOTE);
	for (i = 1; i < NOTE_SIG_MAX; i++)
		len += (size_t)snprintf(note + len, sizeof(note) - len, "%s", ENOCH_SIG);
	assert_int_equal(open1(note, len, v, &res), 0);
	assert_int_equal(res.nsig, NOTE_SIG_MAX);
	assert_int_equal(res.unknown, NOTE_SIG_MAX - 1);
	len += (size_t)snprintf(note + len, sizeof(note) - len, "%s", ENOCH_SIG);
	assert_int_equal(open1(note, len, v, &res), -EBADMSG);
}

/* NOTE_MAX bytes are read; one more is refused, before any signature is looked at. */
static void test_note_size(void **state)
{
	struct keys k;
	struct note_signer *s;
	struct note_verifier *v;
	struct note_open res;
	static char text[NOTE_MAX + 2], out[NOTE_MAX + 64];
	char line[256];
	int linelen, n;
	size_t tlen;

	(void)state;
	keygen("size.example", &k);
	s = signer(k.skey, NOTE_ED25519);
	v = verifier(k.vkey);
	linelen = note_sign_line(s, "x\n", 2, 0, line, sizeof(line));
	assert_true(linelen > 0);
	/* the longest text whose note fits */
	tlen = NOTE_MAX - 1 - (size_t)linelen;
	memset(text, 'a', tlen - 1);
	text[tlen - 1] = '\n';
	n = note_sign(s, text, tlen, 0, out, sizeof(out));
	assert_int_equal(n, NOTE_MAX);
	assert_int_equal(open1(out, (size_t)n, v, &res), 0);
	/* one byte more: refused to sign, refused to open */
	text[tlen - 1] = 'a';
	text[tlen] = '\n';
	assert_int_equal(note_sign(s, text, tlen + 1, 0, out, sizeof(out)), -EMSGSIZE);
	assert_int_equal(note_sign_line(s, text, tlen + 1, 0, line, sizeof(line)), -EMSGSIZE);
	memmove(out + tlen + 1, out + tlen, (size_t)n - tlen);
	out[tlen - 1] = 'a';
	out[tlen] = '\n';
	assert_int_equal(open1(out, (size_t)n + 1, v, &res), -EBADMSG);
	/* a text too large for the out buffer */
	assert_int_equal(note_sign(s, "x\n", 2, 0, out, 10), -ENOSPC);
}

/* A name or a key ID that is not the verifier's: someone else's signature, ignored. */
static void test_unknown_signatures(void **state)
{
	struct note_verifier *v = verifier(GO_VKEY);
	struct note_open res;
	static const char other_name[] = GO_TEXT "\n" EM " PeterNeuman " GO_B64 "\n";
	/* "x08go" -> "x08gp": the first bytes are the key ID */
	static const char other_id[] = GO_TEXT "\n" EM " PeterNeumann x08gp/ZJkuBS9UG/SffcvIAQxVB"
		"tiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
	static const char long_name[] = GO_TEXT "\n" EM " "
		"nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"
		"nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn "
		GO_B64 "\n" GO_SIG;

	(void)state;
	assert_int_equal(open1(other_name, strlen(other_name), v, &res), -EPERM);
	assert_int_equal(res.unknown, 1);
	assert_int_equal(res.bad, 0);
	assert_int_equal(open1(other_id, strlen(other_id), v, &res), -EPERM);
	assert_int_equal(res.unknown, 1);
	assert_int_equal(res.bad, 0);
	/* a name longer than ours can be is still a name: somebody's, ignored */
	assert_int_equal(open1(long_name, strlen(long_name), v, &res), 0);
	assert_int_equal(res.unknown, 1);
	/* no verifiers at all: nothing verifies */
	assert_int_equal(note_open(GO_NOTE, strlen(GO_NOTE), NULL, 0, &res), -EPERM);
	assert_int_equal(note_open(GO_NOTE, strlen(GO_NOTE), NULL, NOTE_VERIFIERS_MAX + 1, &res),
			 -EINVAL);
}

/* Every byte of the text or of the signature changed: never verified. A change that keeps
 * the line well-formed is a forgery of a known key (bad), unless it changed the name or
 * the key ID (then the line is someone else's). */
static void test_flipped_bytes(void **state)
{
	struct note_verifier *v = verifier(GO_VKEY);
	struct note_open res;
	char note[sizeof(GO_NOTE)];
	size_t i, len = strlen(GO_NOTE), forged = 0;

	(void)state;
	for (i = 0; i < len; i++) {
		int rc;

		memcpy(note, GO_NOTE, sizeof(GO_NOTE));
		note[i] ^= 0x01;
		rc = open1(note, len, v, &res);
		assert_true(rc == -EBADMSG || rc == -EPERM);
		assert_int_equal(res.verified, 0);
		forged += res.bad != 0;
	}
	/* every byte of the text but its two newlines, and many of the signature's base64
	 * characters, give a forgery */
	assert_true(forged >= strlen(GO_TEXT) - 2 + 40);
	/* a good signature next to a forged one of the same key: the note is refused */
	{
		static const char twice[] = GO_TEXT "\n" GO_SIG EM " PeterNeumann x08go/ZJkuBS9UG/Sf"
			"fcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAA=\n";

		assert_int_equal(open1(twice, strlen(twice), v, &res), -EPERM);
		assert_int_equal(res.verified, 1);
		assert_int_equal(res.bad, 1);
	}
}

/* Texts note_sign refuses, and texts with blank lines that it signs (the split is at the
 * last blank line). */
static void test_sign_texts(void **state)
{
	struct note_signer *s = signer(GO_SKEY, NOTE_ED25519);
	struct note_verifier *v = verifier(GO_VKEY);
	static const char *const bad[] = { "", "no newline", "cr\r\n", "tab\t\n", "caf\xE9\n",
					   "nul\0\n" };
	static const size_t badlen[] = { 0, 10, 4, 5, 5, 5 };
	static const char *const good[] = { "\n", "a\n\nb\n", "a\n\n", "a\n\n\n", "\n\n",
					    "caf\xC3\xA9 \xE2\x80\x94 ok\n" };
	struct note_open res;
	char out[NOTE_MAX];
	size_t i;
	int n;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(note_sign(s, bad[i], badlen[i], 0, out, sizeof(out)), -EINVAL);
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		n = note_sign(s, good[i], strlen(good[i]), 0, out, sizeof(out));
		assert_true(n > 0);
		assert_int_equal(open1(out, (size_t)n, v, &res), 0);
		assert_int_equal(res.textlen, strlen(good[i]));
	}
}

/* ---- checkpoints ----------------------------------------------------------------------- */

static void test_checkpoint_round_trip(void **state)
{
	struct checkpoint c, d;
	char text[512];
	size_t i;
	int n;

	(void)state;
	memset(&c, 0, sizeof(c));
	strcpy(c.origin, "ceir.example.ke/feed");
	for (i = 0; i < 32; i++)
		c.root[i] = (uint8_t)(i * 37 + 1);
	for (i = 0; i < 3; i++) {
		static const uint64_t sizes[3] = { 0, 20852163, UINT64_MAX };

		c.size = sizes[i];
		n = checkpoint_format(&c, text, sizeof(text));
		assert_true(n > 0);
		assert_int_equal(checkpoint_parse(text, (size_t)n, &d), 0);
		assert_memory_equal(&c, &d, sizeof(c));
	}
	n = checkpoint_format(&c, text, sizeof(text));
	assert_string_equal(text + strlen(c.origin) + 1, "18446744073709551615\n"
			    "ASZLcJW63wQpTnOYveIHLFF2m8DlCi9UeZ7D6A0yV3w=\n");
	/* extension lines are read past */
	strcat(text, "ext one\nanother \xE2\x80\x94 one\n");
	assert_int_equal(checkpoint_parse(text, strlen(text), &d), 0);
	assert_memory_equal(&c, &d, sizeof(c));
	/* too small a buffer, an empty origin, one on two lines */
	assert_int_equal(checkpoint_format(&c, text, 20), -ENOSPC);
	c.origin[0] = '\0';
	assert_int_equal(checkpoint_format(&c, text, sizeof(text)), -EINVAL);
	strcpy(c.origin, "a\nb");
	assert_int_equal(checkpoint_format(&c, text, sizeof(text)), -EINVAL);
}

struct bad_checkpoint {
	const char *name;
	const char *text;
	int want;
};

#define ROOT "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
static const struct bad_checkpoint checkpoints[] = {
	{ "checkpoint: the spec's", "example.com/behind-the-sofa\n20852163\n" ROOT, 0 },
	{ "checkpoint: size 0", "o\n0\n" ROOT, 0 },
	{ "checkpoint: the largest size", "o\n18446744073709551615\n" ROOT, 0 },
	{ "checkpoint: 16 extension lines", "o\n1\n" ROOT "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n"
	  "13\n14\n15\n16\n", 0 },
	{ "checkpoint: 17 extension lines", "o\n1\n" ROOT "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n"
	  "13\n14\n15\n16\n17\n", -EBADMSG },
	{ "checkpoint: size overflows", "o\n18446744073709551616\n" ROOT, -EBADMSG },
	{ "checkpoint: size with a leading zero", "o\n01\n" ROOT, -EBADMSG },
	{ "checkpoint: size 00", "o\n00\n" ROOT, -EBADMSG },
	{ "checkpoint: size with a sign", "o\n+1\n" ROOT, -EBADMSG },
	{ "checkpoint: negative size", "o\n-1\n" ROOT, -EBADMSG },
	{ "checkpoint: size with a space", "o\n1 \n" ROOT, -EBADMSG },
	{ "checkpoint: size in hex", "o\n0x10\n" ROOT, -EBADMSG },
	{ "checkpoint: empty size", "o\n\n" ROOT, -EBADMSG },
	{ "checkpoint: empty origin", "\n1\n" ROOT, -EBADMSG },
	{ "checkpoint: no root", "o\n1\n", -EBADMSG },
	{ "checkpoint: root of 31 bytes", "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxqw==\n",
	  -EBADMSG },
	{ "checkpoint: root of 33 bytes", "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2IA\n",
	  -EBADMSG },
	{ "checkpoint: root with non-canonical bits", "o\n1\n"
	  "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n", -EBADMSG },
	{ "checkpoint: root without padding", "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n",
	  -EBADMSG },
	{ "checkpoint: root in URL-safe base64", "o\n1\nCsUYapGGPo4dkMgIAUqom_Xajj7h2fB2MPA3j2jxq2I=\n",
	  -EBADMSG },
	{ "checkpoint: empty extension line", "o\n1\n" ROOT "\n", -EBADMSG },
	{ "checkpoint: no final newline", "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=",
	  -EBADMSG },
	{ "checkpoint: a CR", "o\r\n1\n" ROOT, -EBADMSG },
	{ "checkpoint: not UTF-8", "o\xFF\n1\n" ROOT, -EBADMSG },
	{ "checkpoint: origin of 129 bytes",
	  "oooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooo"
	  "ooooooooooooooooooooooooooooooooooooooooo\n1\n" ROOT, -EBADMSG },
	{ "checkpoint: origin of 128 bytes",
	  "oooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooo"
	  "oooooooooooooooooooooooooooooooooooooooo\n1\n" ROOT, 0 },
};

static void test_checkpoint_case(void **state)
{
	const struct bad_checkpoint *b = *state;
	struct checkpoint c;

	assert_int_equal(checkpoint_parse(b->text, strlen(b->text), &c), b->want);
	if (b->want == 0) {
		assert_true(strlen(c.origin) > 0);
		assert_int_equal(c.root[0], 0x0A);
	}
}

/* ---- base64 ---------------------------------------------------------------------------- */

static void test_base64(void **state)
{
	static const char *const vec[][2] = {	/* RFC 4648 section 10 */
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	static const char *const bad[] = { "Zg=", "Zg", "Zh==", "Zm9=", "Z===", "====", "Zg==Zg==",
					   "Zm 9", "Zm9v\n", "Zm-v", "Zm_v" };
	uint8_t out[16];
	char enc[16];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		assert_int_equal(note_b64_encode((const uint8_t *)vec[i][0], strlen(vec[i][0]), enc,
						 sizeof(enc)), (int)strlen(vec[i][1]));
		assert_string_equal(enc, vec[i][1]);
		assert_int_equal(note_b64_decode(vec[i][1], strlen(vec[i][1]), out, sizeof(out)),
				 (int)strlen(vec[i][0]));
		assert_memory_equal(out, vec[i][0], strlen(vec[i][0]));
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(note_b64_decode(bad[i], strlen(bad[i]), out, sizeof(out)), -EBADMSG);
	assert_int_equal(note_b64_decode("Zm9vYmFy", 8, out, 5), -ENOSPC);
	assert_int_equal(note_b64_encode((const uint8_t *)"foo", 3, enc, 4), -ENOSPC);
}

/* ---- key files ------------------------------------------------------------------------- */

static char dir[64];

static const char *key_file(const char *name, const char *content, mode_t mode)
{
	static char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

static void test_key_files(void **state)
{
	struct note_signer *s = NULL;
	char err[512];
	const char *p;
	static const char *const malformed[] = {
		"", "\n", GO_VKEY "\n", GO_SKEY "\n\n", GO_SKEY " \n", " " GO_SKEY "\n",
		"PRIVATE+KEY+PeterNeumann+c74f20a4+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz\n",
		GO_SKEY "\r\n",
	};
	size_t i;

	(void)state;
	strcpy(dir, "/tmp/test_note.XXXXXX");
	assert_non_null(mkdtemp(dir));
	p = key_file("ok", GO_SKEY "\n", 0600);
	assert_int_equal(note_signer_load(ctx, p, NOTE_ED25519, &s, err, sizeof(err)), 0);
	assert_int_equal(note_signer_id(s), 0xc74f20a3);
	p = key_file("ok-no-newline", GO_SKEY, 0400);
	assert_int_equal(note_signer_load(ctx, p, NOTE_COSIGNATURE_V1, &s, err, sizeof(err)), 0);
	assert_int_equal(note_signer_alg(s), NOTE_COSIGNATURE_V1);

	p = key_file("open", GO_SKEY "\n", 0644);
	assert_int_equal(note_signer_load(ctx, p, NOTE_ED25519, &s, err, sizeof(err)), -EPERM);
	assert_null(s);
	assert_non_null(strstr(err, "/open: mode 0644, must be 0600 or stricter"));
	p = key_file("group", GO_SKEY "\n", 0620);
	assert_int_equal(note_signer_load(ctx, p, NOTE_ED25519, &s, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "mode 0620"));
	for (i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		p = key_file("malformed", malformed[i], 0600);
		assert_int_equal(note_signer_load(ctx, p, NOTE_ED25519, &s, err, sizeof(err)),
				 -EINVAL);
		assert_null(s);
		/* the key never shows in the message */
		assert_null(strstr(err, "AYEKFALVF"));
		unlink(p);
	}
	assert_int_equal(note_signer_load(ctx, dir, NOTE_ED25519, &s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
	/* a FIFO is refused at once, not waited on */
	snprintf(err, sizeof(err), "%s/fifo", dir);
	p = talloc_strdup(ctx, err);
	assert_int_equal(mkfifo(p, 0600), 0);
	assert_int_equal(note_signer_load(ctx, p, NOTE_ED25519, &s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
	assert_int_equal(unlink(p), 0);
	snprintf(err, sizeof(err), "%s/missing", dir);
	p = talloc_strdup(ctx, err);
	assert_int_equal(note_signer_load(ctx, p, NOTE_ED25519, &s, err, sizeof(err)), -ENOENT);

	for (i = 0; i < 4; i++) {
		static const char *const made[4] = { "ok", "ok-no-newline", "open", "group" };

		snprintf(err, sizeof(err), "%s/%s", dir, made[i]);
		assert_int_equal(unlink(err), 0);
	}
	assert_int_equal(rmdir(dir), 0);
}

#define NBAD (sizeof(bad_notes) / sizeof(bad_notes[0]))
#define NCHECKPOINTS (sizeof(checkpoints) / sizeof(checkpoints[0]))

int main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_go_verifier_key),
		cmocka_unit_test(test_go_signer_key),
		cmocka_unit_test(test_go_open),
		cmocka_unit_test(test_go_sign),
		cmocka_unit_test(test_go_two_signers),
		cmocka_unit_test(test_go_key_manglings),
		cmocka_unit_test(test_spec_example),
		cmocka_unit_test(test_keygen_round_trip),
		cmocka_unit_test(test_keygen_refusals),
		cmocka_unit_test(test_cosignature),
		cmocka_unit_test(test_too_many_signatures),
		cmocka_unit_test(test_note_size),
		cmocka_unit_test(test_unknown_signatures),
		cmocka_unit_test(test_flipped_bytes),
		cmocka_unit_test(test_sign_texts),
		cmocka_unit_test(test_checkpoint_round_trip),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_key_files),
	};
	enum { NFIXED = sizeof(fixed) / sizeof(fixed[0]) };
	struct CMUnitTest tests[NFIXED + NBAD + NCHECKPOINTS];
	size_t i, n = 0;

	for (i = 0; i < NFIXED; i++)
		tests[n++] = fixed[i];
	for (i = 0; i < NBAD; i++)
		tests[n++] = (struct CMUnitTest){ .name = bad_notes[i].name,
						  .test_func = test_bad_note,
						  .initial_state = (void *)&bad_notes[i] };
	for (i = 0; i < NCHECKPOINTS; i++)
		tests[n++] = (struct CMUnitTest){ .name = checkpoints[i].name,
						  .test_func = test_checkpoint_case,
						  .initial_state = (void *)&checkpoints[i] };
	return _cmocka_run_group_tests("note", tests, n, setup, teardown);
}
