/* `ceirgwctl feed status -c FILE`: what the configuration's Redis says of the feeds (issue
 * 19): the country's published tree (feed:{feed}:checkpoint, its tlog-checkpoint size line)
 * and log, and for each feed-peer the tree the followers accepted, their last poll and state
 * (peer:{<origin>}, channel/peers.c). One block per feed, "  name value" lines with stable
 * names for scripts; never a key. */
#include "ctl/feed_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <talloc.h>
#include <time.h>

#include "core/config.h"
#include "feed/note.h"
#include "store/bulk.h"

static void status_usage(FILE *out)
{
	fprintf(out,
		"Usage: ceirgwctl feed status -c FILE [--redis URL | --redis-cluster SEEDS]\n"
		"\n"
		"Reads ceirgw's configuration FILE and its Redis (or the one named), and prints\n"
		"one block per feed:\n"
		"  feed ORIGIN        the feed this ceirgw publishes (feed-origin), with its\n"
		"                     country, published (the signed checkpoint's tree size,\n"
		"                     'none' before the first) and entries (in the log, some\n"
		"                     perhaps not yet in a checkpoint)\n"
		"  peer ORIGIN        each feed-peer followed, with its country, url, accepted\n"
		"                     (the tree size verified and applied), polled (the last\n"
		"                     poll, UTC), state (the follower's last word: 'ok: tree N\n"
		"                     accepted', 'refused: ...', 'halted: ...') and, while it\n"
		"                     is halted, halted (the reason; an operator must look)\n"
		"Keys are never printed. No Redis is started: without redis or redis-cluster\n"
		"in FILE, the embedded Redis of a running ceirgw is read.\n"
		"\n"
		FEED_STORE_OPTIONS_HELP
		"\n"
		"Exit status: 0, 1 when Redis cannot be read, 2 on a usage or configuration\n"
		"error.\n");
}

static void line(const char *name, const char *value)
{
	printf("  %-10s %s\n", name, value && *value ? value : "-");
}

/* s[0..len) shown on one line of a terminal: control bytes as '?'. */
static void line_bytes(const char *name, const char *s, size_t len)
{
	printf("  %-10s ", name);
	for (size_t i = 0; i < len; i++)
		putchar((unsigned char)s[i] < 0x20 || s[i] == 0x7F ? '?' : s[i]);
	putchar('\n');
}

static int own_feed(struct feed_store *fs)
{
	const struct ceirgw_config *cfg = fs->cfg;
	struct checkpoint c;
	char *note = NULL, num[32];
	size_t len = 0, tl;
	uint64_t n;
	int rc;

	printf("feed %s\n", cfg->feed_origin);
	line("country", cfg->country);
	rc = bulk_feed_checkpoint(fs->bulk, fs->cfg, &note, &len);
	if (rc == -EIO)
		return -EIO;
	if (rc == -ENOENT) {
		line("published", "none");
	} else {
		tl = feed_note_textlen(note, len);
		if (tl == 0 || checkpoint_parse(note, tl, &c) < 0) {
			line("published", "unreadable (the checkpoint in Redis is not one)");
		} else {
			snprintf(num, sizeof(num), "%" PRIu64, c.size);
			line("published", num);
			if (strcmp(c.origin, cfg->feed_origin) != 0)
				printf("  %-10s the checkpoint is of '%.128s', not feed-origin\n",
				       "warning", c.origin);
		}
		talloc_free(note);
	}
	if (bulk_feed_size(fs->bulk, &n) < 0)
		return -EIO;
	snprintf(num, sizeof(num), "%" PRIu64, n);
	line("entries", num);
	return 0;
}

struct peer_fields {
	char size[24], state[200], halted[200], polled[24];
};

static void peer_field(void *arg, const char *f, size_t fl, const char *v, size_t vl)
{
	struct peer_fields *pf = arg;
	static const struct { const char *name; size_t off, cap; } want[] = {
		{ "size", offsetof(struct peer_fields, size), sizeof(((struct peer_fields *)0)->size) },
		{ "state", offsetof(struct peer_fields, state),
		  sizeof(((struct peer_fields *)0)->state) },
		{ "halted", offsetof(struct peer_fields, halted),
		  sizeof(((struct peer_fields *)0)->halted) },
		{ "polled", offsetof(struct peer_fields, polled),
		  sizeof(((struct peer_fields *)0)->polled) },
	};

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		if (fl == strlen(want[i].name) && memcmp(f, want[i].name, fl) == 0) {
			char *out = (char *)pf + want[i].off;

			snprintf(out, want[i].cap, "%.*s", (int)(vl < want[i].cap ? vl :
								 want[i].cap - 1), v);
		}
	}
}

static int peer(struct feed_store *fs, const struct config_peer *p)
{
	struct peer_fields pf;
	char when[64];
	int n;

	memset(&pf, 0, sizeof(pf));
	printf("peer %s\n", p->origin);
	line("country", p->country);
	line("url", p->url);
	n = bulk_peer_fields(fs->bulk, p->origin, peer_field, &pf);
	if (n == -EIO)
		return -EIO;
	line("accepted", pf.size[0] ? pf.size : "0");
	if (pf.polled[0]) {
		time_t t = (time_t)strtoll(pf.polled, NULL, 10);
		struct tm tm;

		if (t > 0 && gmtime_r(&t, &tm)) {
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
			line("polled", when);
		} else {
			line("polled", "never");
		}
	} else {
		line("polled", "never");
	}
	if (pf.state[0])
		line_bytes("state", pf.state, strlen(pf.state));
	else
		line("state", "not polled yet");
	if (pf.halted[0])
		line_bytes("halted", pf.halted, strlen(pf.halted));
	return 0;
}

int feed_status_main(void *ctx, int argc, char **argv)
{
	struct feed_store fs = { 0 };
	bool blank = false;
	int rc;

	rc = feed_store_options(ctx, "status", argc, argv, status_usage, &fs);
	if (rc != FEED_EXIT_OK)
		return rc == FEED_HELP_SHOWN ? FEED_EXIT_OK : rc;
	if (fs.first != argc) {
		fprintf(stderr, "ceirgwctl feed status: unexpected argument '%s'\n", argv[fs.first]);
		return FEED_EXIT_USAGE;
	}
	if (fs.cfg->feed_origin == NULL && fs.cfg->npeers == 0) {
		printf("no feed: neither feed-origin nor a group = feed-peer in %s\n",
		       fs.config_path);
		return FEED_EXIT_OK;
	}
	if ((rc = feed_store_connect(ctx, "status", &fs)) != FEED_EXIT_OK)
		return rc;
	if (fs.cfg->feed_origin) {
		if (own_feed(&fs) < 0)
			goto store_error;
		blank = true;
	}
	for (size_t i = 0; i < fs.cfg->npeers; i++) {
		if (blank)
			putchar('\n');
		if (peer(&fs, &fs.cfg->peers[i]) < 0)
			goto store_error;
		blank = true;
	}
	if (fflush(stdout) != 0)
		return FEED_EXIT_ERROR;
	return FEED_EXIT_OK;
store_error:
	fflush(stdout);
	fprintf(stderr, "ceirgwctl feed status: Redis: %s\n", bulk_error(fs.bulk));
	return FEED_EXIT_ERROR;
}
