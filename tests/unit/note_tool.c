/* The C side of tests/unit/note_kat.sh, which puts src/feed/note next to Python's independent
 * Ed25519 (tests/unit/note_kat.py):
 *   note_tool sign KEYFILE ed25519|cosignature TIME <text >note
 *   note_tool open VKEY... <note   prints "verified M bad M unknown N textlen N" and a
 *                                  "time I T" line per verified cosignature
 * Exit status: 0 done (open: verified), 1 refused (open: -EPERM), 2 malformed or misused. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <talloc.h>

#include "feed/note.h"

static size_t read_all(char *buf, size_t size)
{
	size_t n = fread(buf, 1, size, stdin);

	return n;
}

static int do_sign(void *ctx, int argc, char **argv)
{
	static char text[NOTE_MAX + 1], out[NOTE_MAX + 1];
	struct note_signer *s;
	enum note_alg alg;
	char err[512];
	size_t len;
	int n;

	if (argc != 5)
		return 2;
	alg = strcmp(argv[3], "cosignature") == 0 ? NOTE_COSIGNATURE_V1 : NOTE_ED25519;
	if (note_signer_load(ctx, argv[2], alg, &s, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	len = read_all(text, sizeof(text));
	n = note_sign(s, text, len, strtoull(argv[4], NULL, 10), out, sizeof(out));
	if (n < 0) {
		fprintf(stderr, "sign: %s\n", strerror(-n));
		return 2;
	}
	fwrite(out, 1, (size_t)n, stdout);
	return 0;
}

static int do_open(void *ctx, int argc, char **argv)
{
	static char note[NOTE_MAX + 2];
	const struct note_verifier *vs[NOTE_VERIFIERS_MAX];
	struct note_open res;
	char err[512];
	size_t len, nv = 0;
	int i, rc;

	for (i = 2; i < argc && nv < NOTE_VERIFIERS_MAX; i++) {
		vs[nv] = note_verifier_new(ctx, argv[i], err, sizeof(err));
		if (vs[nv] == NULL) {
			fprintf(stderr, "%s\n", err);
			return 2;
		}
		nv++;
	}
	len = read_all(note, sizeof(note));
	rc = note_open(note, len, vs, nv, &res);
	printf("verified %" PRIu32 " bad %" PRIu32 " unknown %u textlen %zu\n", res.verified,
	       res.bad, res.unknown, res.textlen);
	for (i = 0; i < (int)nv; i++) {
		if ((res.verified >> i & 1) && note_verifier_alg(vs[i]) == NOTE_COSIGNATURE_V1)
			printf("time %d %" PRIu64 "\n", i, res.cosign_time[i]);
	}
	return rc == 0 ? 0 : rc == -EPERM ? 1 : 2;
}

int main(int argc, char **argv)
{
	void *ctx = talloc_new(NULL);
	int rc = 2;

	if (argc >= 2 && strcmp(argv[1], "sign") == 0)
		rc = do_sign(ctx, argc, argv);
	else if (argc >= 2 && strcmp(argv[1], "open") == 0)
		rc = do_open(ctx, argc, argv);
	else
		fprintf(stderr, "usage: note_tool sign KEYFILE ed25519|cosignature TIME | open VKEY...\n");
	talloc_free(ctx);
	return rc;
}
