/* `ceirgwctl feed keygen`: a new Ed25519 key for a feed's log (and its cosignatures), in the
 * key lines of C2SP signed-note / Go's sumdb/note. The private key goes to a file only we may
 * read, written once (never over an older key: a log that loses its key loses its history);
 * the verifier keys, which neighbours configure, go to standard output. */
#include "ctl/feed.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "feed/note.h"

enum { FEED_EXIT_OK = 0, FEED_EXIT_ERROR = 1, FEED_EXIT_USAGE = 2 };

static void feed_usage(FILE *out)
{
	fprintf(out,
		"Usage: ceirgwctl feed keygen --origin ORIGIN --out FILE\n"
		"\n"
		"Makes a new Ed25519 signing key for the feed whose checkpoints are signed\n"
		"as ORIGIN (a key name: printable, no spaces or '+', e.g. ceir.example.ke/feed).\n"
		"The signer key (PRIVATE+KEY+ORIGIN+KEYID+...) is written to FILE, created with\n"
		"mode 0600; an existing FILE is never overwritten. Standard output gets the\n"
		"verifier key (ORIGIN+KEYID+...) that neighbours use to verify the feed's\n"
		"checkpoints, and, labelled \"cosignature/v1:\", the verifier key of the same key\n"
		"as a witness that co-signs the neighbours' checkpoints (signature type 0x04).\n"
		"\n"
		"  --origin ORIGIN  the key name\n"
		"  --out FILE       where the signer key goes\n"
		"  -h, --help       show this help\n"
		"\n"
		"Exit status: 0 when the key was written, 1 when it could not be, 2 on a usage\n"
		"error.\n");
}

/* Writes line and a newline to a new file of mode 0600; on any failure the file is gone. */
static int write_key_file(const char *path, const char *line)
{
	size_t len = strlen(line), off = 0;
	int fd, saved;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	while (off <= len) {
		/* the line, then its newline */
		const char *p = off < len ? line + off : "\n";
		size_t n = off < len ? len - off : 1;
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		off += (size_t)w;
	}
	if (fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		saved = -errno;
		unlink(path);
		return saved;
	}
	return 0;
fail:
	saved = errno ? -errno : -EIO;
	close(fd);
	unlink(path);
	return saved;
}

static int feed_keygen(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "origin", required_argument, NULL, 'o' },
		{ "out", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char skey[NOTE_KEY_LINE_MAX], vkey[NOTE_KEY_LINE_MAX], cvkey[NOTE_KEY_LINE_MAX];
	char err[256];
	const char *origin = NULL, *out = NULL;
	int o, rc;

	optind = 1;
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'o': origin = optarg; break;
		case 'w': out = optarg; break;
		case 'h': feed_usage(stdout); return FEED_EXIT_OK;
		default: feed_usage(stderr); return FEED_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "ceirgwctl feed keygen: unexpected argument '%s'\n", argv[optind]);
		return FEED_EXIT_USAGE;
	}
	if (origin == NULL || out == NULL) {
		fprintf(stderr, "ceirgwctl feed keygen: --origin and --out are required\n");
		return FEED_EXIT_USAGE;
	}
	rc = note_keygen(origin, skey, vkey, cvkey, sizeof(skey), err, sizeof(err));
	if (rc == -EINVAL) {
		fprintf(stderr, "ceirgwctl feed keygen: --origin: %s\n", err);
		return FEED_EXIT_USAGE;
	}
	if (rc < 0) {
		fprintf(stderr, "ceirgwctl feed keygen: %s\n", err);
		return FEED_EXIT_ERROR;
	}
	rc = write_key_file(out, skey);
	OPENSSL_cleanse(skey, sizeof(skey));
	if (rc < 0) {
		fprintf(stderr, "ceirgwctl feed keygen: %s: %s%s\n", out, strerror(-rc),
			rc == -EEXIST ? " (an existing key is never overwritten)" : "");
		return FEED_EXIT_ERROR;
	}
	printf("%s\ncosignature/v1: %s\n", vkey, cvkey);
	return fflush(stdout) == 0 ? FEED_EXIT_OK : FEED_EXIT_ERROR;
}

int feed_main(void *ctx, int argc, char **argv)
{
	(void)ctx;
	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		feed_usage(stdout);
		return FEED_EXIT_OK;
	}
	if (argc < 2 || strcmp(argv[1], "keygen") != 0) {
		fprintf(stderr, "ceirgwctl feed: expected keygen\n");
		feed_usage(stderr);
		return FEED_EXIT_USAGE;
	}
	return feed_keygen(argc - 1, argv + 1);
}
