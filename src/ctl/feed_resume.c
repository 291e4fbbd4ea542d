/* `ceirgwctl feed resume -c FILE ORIGIN`: an operator's answer to a feed-peer halted for an
 * equivocation (issue 19, doc/exchange.md): shows the halt and its evidence (the two signed
 * checkpoints that contradict each other, as the follower kept them in peer:{<origin>}) and
 * clears it in the same Redis script, so the next poll verifies the peer again from the
 * accepted tree. Never a key printed; the notes' control bytes shown as '?'. An audit line goes
 * to ceirgw's log, as for ceirgwctl unlock. */
#include "ctl/feed_int.h"

#include <errno.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <talloc.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "core/logging.h"
#include "feed/note.h"
#include "store/bulk.h"

static void resume_usage(FILE *out)
{
	fprintf(out,
		"Usage: ceirgwctl feed resume -c FILE [--redis URL | --redis-cluster SEEDS] ORIGIN\n"
		"\n"
		"Clears the halt of the feed-peer ORIGIN, which its followers set when the peer\n"
		"signed two histories (an equivocation), and prints what it was:\n"
		"  halted      the reason\n"
		"  since       when it was halted (UTC)\n"
		"  accepted    the tree verified and applied, which stays\n"
		"  shown       the checkpoint the peer signed for this ceirgw\n"
		"  other       the one it signed for another follower, when that is what\n"
		"              contradicts it (otherwise the accepted tree does)\n"
		"  checkpoint  the accepted tree's signed checkpoint\n"
		"The next poll, within the peer's poll-interval, verifies the peer again from\n"
		"the accepted tree: while the equivocation is still visible (in the peer's\n"
		"checkpoint or another follower's /feed/witness) it halts again, with nothing\n"
		"applied. The accepted history is always the one kept: there is no way to trust\n"
		"the other instead.\n"
		"\n"
		FEED_STORE_OPTIONS_HELP
		"\n"
		"An audit line (who resumed which peer, and why it was halted) goes to\n"
		"ceirgw's log (log-file of FILE).\n"
		"\n"
		"Exit status: 0 when a halt was cleared, 1 when ORIGIN is not halted, nothing is\n"
		"kept of it yet or Redis cannot be read, 2 on a usage or configuration error\n"
		"(ORIGIN not a feed-peer of FILE).\n");
}

/* What the halt was (bulk_peer_resume's fields), copied. */
struct halt {
	char why[200], at[24], size[24];
	char shown[NOTE_MAX + 1], other[NOTE_MAX + 1], checkpoint[NOTE_MAX + 1];
};

static void halt_field(void *arg, const char *f, size_t fl, const char *v, size_t vl)
{
	struct halt *h = arg;
	static const struct { const char *name; size_t off, cap; } want[] = {
#define F(name, member) { name, offsetof(struct halt, member), \
			  sizeof(((struct halt *)0)->member) }
		F("halted", why), F("halted-at", at), F("size", size), F("shown", shown),
		F("other", other), F("checkpoint", checkpoint),
#undef F
	};

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (fl == strlen(want[i].name) && memcmp(f, want[i].name, fl) == 0)
			snprintf((char *)h + want[i].off, want[i].cap, "%.*s",
				 (int)(vl < want[i].cap ? vl : want[i].cap - 1), v);
}

/* A signed note under its name, one indented line per line of it. */
static void note_block(const char *name, const char *note)
{
	if (*note == '\0')
		return;
	printf("  %s\n    ", name);
	for (const char *s = note; *s; s++) {
		if (*s == '\n')
			fputs(s[1] ? "\n    " : "", stdout);
		else
			putchar((unsigned char)*s < 0x20 || *s == 0x7F ? '?' : *s);
	}
	putchar('\n');
}

static void one_line(const char *name, const char *s)
{
	printf("  %-10s ", name);
	for (; *s; s++)
		putchar((unsigned char)*s < 0x20 || *s == 0x7F ? '?' : *s);
	putchar('\n');
}

/* Who resumed what, in ceirgw's own log (log-file), where the halt was logged. */
static void audit(const struct feed_store *fs, const char *origin, const char *why)
{
	struct passwd *pw = getpwuid(getuid());
	enum log_level level;
	int rc;

	if (fs->cfg->log_file && (rc = logging_set_file(fs->cfg->log_file)) < 0)
		fprintf(stderr, "ceirgwctl feed resume: log-file %s: %s: the audit line goes to "
			"standard error\n", fs->cfg->log_file, strerror(-rc));
	level = logging_level();
	logging_set_level(LOGL_NOTICE);	/* ceirgwctl logs only warnings otherwise */
	logging_msg(LOGC_MAIN, LOGL_NOTICE, "audit: feed resume %s by user %s (uid %u): cleared "
		    "the halt (%.170s)", origin, pw ? pw->pw_name : "?", (unsigned)getuid(), why);
	logging_set_level(level);
	logging_set_file(NULL);
}

int feed_resume_main(void *ctx, int argc, char **argv)
{
	struct feed_store fs = { 0 };
	const struct config_peer *peer = NULL;
	struct halt *h;
	const char *origin;
	char when[64];
	int rc;

	rc = feed_store_options(ctx, "resume", argc, argv, resume_usage, &fs);
	if (rc != FEED_EXIT_OK)
		return rc == FEED_HELP_SHOWN ? FEED_EXIT_OK : rc;
	if (fs.first == argc) {
		fprintf(stderr, "ceirgwctl feed resume: which feed-peer? (its origin)\n");
		return FEED_EXIT_USAGE;
	}
	if (fs.first + 1 != argc) {
		fprintf(stderr, "ceirgwctl feed resume: unexpected argument '%s'\n",
			argv[fs.first + 1]);
		return FEED_EXIT_USAGE;
	}
	origin = argv[fs.first];
	for (size_t i = 0; i < fs.cfg->npeers; i++)
		if (strcmp(fs.cfg->peers[i].origin, origin) == 0)
			peer = &fs.cfg->peers[i];
	if (peer == NULL) {
		fprintf(stderr, "ceirgwctl feed resume: '%.128s' is not the origin of a feed-peer "
			"in %s (ceirgwctl feed status lists them)\n", origin, fs.config_path);
		return FEED_EXIT_USAGE;
	}
	if ((rc = feed_store_connect(ctx, "resume", &fs)) != FEED_EXIT_OK)
		return rc;
	h = talloc_zero(ctx, struct halt);
	if (h == NULL) {
		fprintf(stderr, "ceirgwctl feed resume: out of memory\n");
		return FEED_EXIT_ERROR;
	}
	rc = bulk_peer_resume(fs.bulk, origin, "resumed by an operator: verified again at the "
			      "next poll", halt_field, h);
	if (rc == -ENOENT) {
		fprintf(stderr, "ceirgwctl feed resume: %s is not halted: it was never polled "
			"(nothing is kept of it in Redis)\n", origin);
		return FEED_EXIT_ERROR;
	}
	if (rc == -EALREADY) {
		fprintf(stderr, "ceirgwctl feed resume: %s is not halted: nothing to resume "
			"(ceirgwctl feed status shows its state)\n", origin);
		return FEED_EXIT_ERROR;
	}
	if (rc < 0) {
		fprintf(stderr, "ceirgwctl feed resume: Redis: %s\n", bulk_error(fs.bulk));
		return FEED_EXIT_ERROR;
	}
	audit(&fs, origin, h->why);
	printf("peer %s\n", origin);
	one_line("halted", h->why);
	{
		time_t t = (time_t)strtoll(h->at, NULL, 10);
		struct tm tm;

		if (t > 0 && gmtime_r(&t, &tm)) {
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
			one_line("since", when);
		}
	}
	one_line("accepted", h->size[0] ? h->size : "0");
	note_block("shown", h->shown);
	note_block("other", h->other);
	note_block("checkpoint", h->checkpoint);
	printf("resumed: the next poll (within %ld s) verifies %s again from the accepted tree "
	       "of %s; it halts again if the equivocation is still visible\n",
	       peer->poll_interval, origin, h->size[0] ? h->size : "0");
	return fflush(stdout) == 0 ? FEED_EXIT_OK : FEED_EXIT_ERROR;
}
