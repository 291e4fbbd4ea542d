/* `ceirgwctl feed`: the subcommands' dispatch, what status and export share, and `feed
 * keygen`: a new Ed25519 key for a feed's log (and its cosignatures), in the key lines of
 * C2SP signed-note / Go's sumdb/note. The private key goes to a file only we may read, written
 * once (never over an older key: a log that loses its key loses its history); the verifier
 * keys, which neighbours configure, go to standard output. status, export, verify and resume
 * are in feed_status.c, feed_export.c, feed_verify.c and feed_resume.c. */
#include "ctl/feed.h"
#include "ctl/feed_int.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "core/config.h"
#include "core/gw.h"
#include "ctl/store.h"
#include "feed/note.h"
#include "store/bulk.h"

static void feed_usage(FILE *out)
{
	fprintf(out,
		"Usage: ceirgwctl feed COMMAND [OPTION]... (ceirgwctl feed COMMAND --help)\n"
		"\n"
		"The cross-border feed of CEIR decisions (issue 19): a signed Merkle-tree log\n"
		"served as C2SP tlog-tiles under /feed/.\n"
		"\n"
		"  keygen --origin ORIGIN --out FILE\n"
		"      make the Ed25519 key that signs the feed's checkpoints\n"
		"  status -c FILE\n"
		"      the own feed's published tree, and each feed-peer's accepted tree, last\n"
		"      poll and state, from the configuration's Redis\n"
		"  verify URL KEY [--entries FILE]\n"
		"      audit any feed from scratch: its signed checkpoint, every entry and every\n"
		"      hash tile, and the root\n"
		"  export -c FILE DIR\n"
		"      write the own feed's checkpoint, tiles and entry bundles into DIR in the\n"
		"      tlog-tiles layout, for any web server or CDN to publish\n"
		"  resume -c FILE ORIGIN\n"
		"      show why the feed-peer ORIGIN was halted (an equivocation, with the two\n"
		"      checkpoints) and clear the halt: the next poll verifies it again\n"
		"\n"
		"Exit status: 0 on success, 1 when the command failed (a feed not verified,\n"
		"Redis unreadable), 2 on a usage error.\n");
}

static void keygen_usage(FILE *out)
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
		case 'h': keygen_usage(stdout); return FEED_EXIT_OK;
		default: keygen_usage(stderr); return FEED_EXIT_USAGE;
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

/* ---- what status and export share ---------------------------------------------------- */

int feed_store_options(void *ctx, const char *cmd, int argc, char **argv,
		       void (*usage)(FILE *out), struct feed_store *fs)
{
	enum { OPT_REDIS = 256, OPT_CLUSTER };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "redis", required_argument, NULL, OPT_REDIS },
		{ "redis-cluster", required_argument, NULL, OPT_CLUSTER },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char err[1024];
	int o;

	optind = 1;
	while ((o = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c': fs->config_path = optarg; break;
		case OPT_REDIS: fs->redis = optarg; break;
		case OPT_CLUSTER: fs->redis_cluster = optarg; break;
		case 'h': usage(stdout); return FEED_HELP_SHOWN;
		default: usage(stderr); return FEED_EXIT_USAGE;
		}
	}
	fs->first = optind;
	if (fs->redis && fs->redis_cluster) {
		fprintf(stderr, "ceirgwctl feed %s: --redis and --redis-cluster exclude each "
			"other\n", cmd);
		return FEED_EXIT_USAGE;
	}
	/* Without a configuration there is no feed-origin, no feed-peer and no data-dir: the
	 * command says so rather than look for (or start) a Redis in /var/lib/ceirgw. */
	if (fs->config_path == NULL) {
		fprintf(stderr, "ceirgwctl feed %s: needs ceirgw's configuration: -c FILE (its "
			"feed-origin, feed-peer groups and Redis)\n", cmd);
		return FEED_EXIT_USAGE;
	}
	gw_start();
	fs->cfg = config_load(ctx, fs->config_path, NULL, err, sizeof(err));
	if (fs->cfg == NULL) {
		fprintf(stderr, "ceirgwctl: %s\n", err);
		return FEED_EXIT_USAGE;
	}
	return FEED_EXIT_OK;
}

int feed_store_connect(void *ctx, const char *cmd, struct feed_store *fs)
{
	struct bulk_options o = { 5, 2, true, 1000, 0 };
	struct ctl_store s = { fs->redis, fs->redis_cluster, fs->cfg, false, NULL, NULL };
	int rc = ctl_store_connect(ctx, &s, &o);

	if (rc == -EINVAL)
		return FEED_EXIT_USAGE;
	if (rc < 0) {
		fprintf(stderr, "ceirgwctl feed %s: Redis cannot be read\n", cmd);
		return FEED_EXIT_ERROR;
	}
	fs->bulk = s.bulk;
	return FEED_EXIT_OK;
}

size_t feed_note_textlen(const char *note, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++)
		if (note[i] == '\n' && note[i + 1] == '\n')
			return i + 1;
	return 0;
}

/* ---- dispatch ---------------------------------------------------------------------------- */

int feed_main(void *ctx, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(void *ctx, int argc, char **argv);
	} cmds[] = {
		{ "status", feed_status_main },
		{ "verify", feed_verify_main },
		{ "export", feed_export_main },
		{ "resume", feed_resume_main },
	};

	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		feed_usage(stdout);
		return FEED_EXIT_OK;
	}
	if (argc >= 2 && strcmp(argv[1], "keygen") == 0)
		return feed_keygen(argc - 1, argv + 1);
	for (size_t i = 0; argc >= 2 && i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].run(ctx, argc - 1, argv + 1);
	if (argc >= 2)
		fprintf(stderr, "ceirgwctl feed: unknown command '%s'\n", argv[1]);
	else
		fprintf(stderr, "ceirgwctl feed: expected keygen, status, verify, export or "
			"resume\n");
	feed_usage(stderr);
	return FEED_EXIT_USAGE;
}
