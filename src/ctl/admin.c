/* ceirgwctl's admin commands over the store (admin.h, doc/admin.md): queue, report, outbox and
 * unlock, read (and for unlock, cleared) through the store's admin reads (store/bulk_admin.h),
 * on one Redis or a Redis Cluster. What they show is for an operator, and still follows the
 * logs' rules: numbers masked, never a PIN, its digest, a national ID's or a code. */
#include "config.h"

#include "ctl/admin.h"

#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <talloc.h>
#include <time.h>
#include <unistd.h>

#include "channel/channels.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/json.h"
#include "core/logging.h"
#include "ctl/options.h"
#include "ctl/store.h"
#include "domain/digits.h"
#include "domain/imei.h"
#include "domain/msisdn.h"
#include "domain/report.h"
#include "store/bulk.h"
#include "store/bulk_admin.h"
#include "store/sight.h"

enum { ADMIN_OK = 0, ADMIN_NONE = 1, ADMIN_USAGE = 2 };

#define LAST_DEFAULT 5
#define PAST_SHOWN 20		/* past references listed (all are counted) */
#define VALUE_SHOWN 200		/* bytes of a stream field's value shown */
#define COMMAND_TIMEOUT_MS 5000	/* every Redis command of these commands */

struct admin {
	void *ctx;
	const char *cmd;
	const char *config_path, *redis, *redis_cluster, *region;
	struct ceirgw_config *cfg;
	bool json, limits;
	unsigned last;
	struct bulk *bulk;
	struct json_buf jb;
	long long now_ms;
};

/* ---- usage ---- */

static const char STORE_OPTS[] =
	"  -c, --config FILE    ceirgw's configuration: its Redis (redis or\n"
	"                       redis-cluster, else the embedded one under data-dir)\n"
	"  --redis URL          redis://[user:pass@]host:port[/db] or unix:///path\n"
	"  --redis-cluster SEEDS  a Redis Cluster's seed nodes, HOST:PORT[,HOST:PORT...]\n"
	"Without any of the three: the embedded Redis of a ceirgw running with the\n"
	"default data-dir (/var/lib/ceirgw/redis.sock); when none answers, the command\n"
	"says what it needs and exits 2, starting no Redis and creating no directory.\n"
	"With -c and no ceirgw running, the embedded Redis is started on the data in\n"
	"data-dir for the command, only when that directory exists.\n";

static void queue_usage(FILE *out)
{
	fprintf(out,
		"Usage: ceirgwctl queue [-c FILE] [--redis URL | --redis-cluster SEEDS]\n"
		"                       [--last N] [--json]\n"
		"\n"
		"The CEIR queue: the requests stream (ceir-requests-stream, ceir:requests), the\n"
		"results stream (ceir-results-stream, ceir:results) and, when it exists, the\n"
		"neighbours' decisions (ceir-foreign-stream, ceir:foreign). For each: its length,\n"
		"its oldest entry and that entry's age, each consumer group with its consumers,\n"
		"its pending entries and the oldest one's age and idle time, and the last N\n"
		"entries (numbers masked).\n"
		"\n"
		"  --last N             entries shown per stream (default %d, 0 to %d)\n"
		"  --json               one JSON object per stream and line\n"
		"%s"
		"\n"
		"Exit status: 0, 1 when Redis could not be read, 2 on a usage error.\n",
		LAST_DEFAULT, BULK_LAST_MAX, STORE_OPTS);
}

static void report_usage(FILE *out)
{
	fprintf(out,
		"Usage: ceirgwctl report [-c FILE] [--redis URL | --redis-cluster SEEDS]\n"
		"                        [--json] REF|IMEI|reindex\n"
		"\n"
		"One report, by its reference (10 digits) or its phone's IMEI, as ceirgw reads\n"
		"it: its state, when it was reported, opened, sent to the CEIR and last moved,\n"
		"its evidence (reason, police reference, owner and reporter, masked), the\n"
		"references of the IMEI's earlier reports, the SMS waiting in its outbox, its\n"
		"sightings (the days, the new line masked, the operator) and its wrong-PIN\n"
		"counters. Never the PIN, its digest, a national ID, a code or a full number.\n"
		"\n"
		"report reindex adds every report's IMEI to the index of reported IMEIs that\n"
		"ceirgwctl import pairings reads to find sightings (doc/redis-keys.md): once after\n"
		"an upgrade to a version with sightings; again at any time, it adds what is\n"
		"missing and prints how many.\n"
		"\n"
		"  --json               one JSON object\n"
		"%s"
		"\n"
		"Exit status: 0, 1 when there is no such report or Redis could not be read, 2 on\n"
		"a usage error.\n", STORE_OPTS);
}

static void outbox_usage(FILE *out)
{
	fprintf(out,
		"Usage: ceirgwctl outbox [-c FILE] [--redis URL | --redis-cluster SEEDS] [--json]\n"
		"\n"
		"The SMS ceirgw's own (receipts, CEIR results, codes) waiting for their channel,\n"
		"per SMS path: " OUTBOX_BOX " (the Kannel box) and " OUTBOX_HTTP "\n"
		"(smsbox's sendsms): the depth, the oldest entry and its age, and the group\n"
		"ceirgw's pending entries (handed to the channel, not yet acknowledged).\n"
		"\n"
		"  --json               one JSON object per path and line\n"
		"%s"
		"\n"
		"Exit status: 0, 1 when Redis could not be read, 2 on a usage error.\n", STORE_OPTS);
}

static void unlock_usage(FILE *out)
{
	fprintf(out,
		"Usage: ceirgwctl unlock [-c FILE] [--redis URL | --redis-cluster SEEDS]\n"
		"                        [--region CC] [--limits] MSISDN|REF\n"
		"\n"
		"Clears a lock-out (doc/trust.md). For a number: the wrong ID-digit counters of\n"
		"its owner (from the own line and from other lines) and its one-time codes whose\n"
		"tries are used up; with --limits also the per-caller limits it hit (ID tries,\n"
		"unblock attempts, new PINs, reports, checks, codes). For a report's reference:\n"
		"its wrong-PIN counters (from the owner's or reporter's line, and from others).\n"
		"A 10-digit REF that names a report is read as the reference; write a number\n"
		"with its + and country code to mean the number.\n"
		"\n"
		"Prints what was cleared, and writes an audit line to ceirgw's log (log-file of\n"
		"the configuration; standard error without one) naming the masked number or\n"
		"the reference, the Unix user and what was cleared.\n"
		"\n"
		"  --region CC          region of a number without country code (default: the\n"
		"                       configuration's default-region, else KE)\n"
		"  --limits             also clear the number's per-caller limits\n"
		"%s"
		"\n"
		"Exit status: 0 when something was cleared, 1 when there was nothing to clear\n"
		"(or Redis could not be read), 2 on a usage error.\n", STORE_OPTS);
}

static const struct {
	const char *name;
	void (*usage)(FILE *out);
} usages[] = {
	{ "queue", queue_usage },
	{ "report", report_usage },
	{ "outbox", outbox_usage },
	{ "unlock", unlock_usage },
	{ "stats", admin_stats_usage },
};

bool admin_usage(const char *name, FILE *out)
{
	for (size_t i = 0; i < sizeof(usages) / sizeof(usages[0]); i++) {
		if (strcmp(name, usages[i].name) == 0) {
			usages[i].usage(out);
			return true;
		}
	}
	return false;
}

bool admin_is_command(const char *name)
{
	for (size_t i = 0; i < sizeof(usages) / sizeof(usages[0]); i++) {
		if (strcmp(name, usages[i].name) == 0)
			return true;
	}
	return false;
}

/* ---- shared ---- */

/* "3 h 2 min", "12 s": an age for people. */
static const char *age_text(long long ms, char *buf, size_t sz)
{
	long long s = ms < 0 ? 0 : ms / 1000;

	if (s < 60)
		snprintf(buf, sz, "%lld s", s);
	else if (s < 3600)
		snprintf(buf, sz, "%lld min %lld s", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, sz, "%lld h %lld min", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, sz, "%lld d %lld h", s / 86400, s % 86400 / 3600);
	return buf;
}

/* "2026-12-03T16:29:10Z" (ISO 8601, as the journey writes reported_at) for Unix seconds. */
static const char *time_text(long long s, char *buf, size_t sz)
{
	time_t t = (time_t)s;
	struct tm tm;

	if (s <= 0 || gmtime_r(&t, &tm) == NULL || strftime(buf, sz, "%FT%TZ", &tm) == 0)
		snprintf(buf, sz, "-");
	return buf;
}

/* A value for a terminal or a JSON line: an E.164 number masked as the logs mask it, control
 * bytes as '?', cut at VALUE_SHOWN bytes. Returns out. */
static const char *shown(const char *v, size_t len, char *out, size_t outsz)
{
	size_t i, n;

	if (len >= 8 && len <= MSISDN_E164_MAX && v[0] == '+' &&
	    strspn(v + 1, "0123456789") >= len - 1) {
		msisdn_mask(v, len, out, outsz);
		return out;
	}
	n = len < VALUE_SHOWN ? len : VALUE_SHOWN;
	if (n >= outsz)
		n = outsz - 1;
	for (i = 0; i < n; i++)
		out[i] = (unsigned char)v[i] < 0x20 || v[i] == 0x7f ? '?' : v[i];
	out[n] = '\0';
	if (n < len && n >= 3)
		memcpy(out + n - 3, "...", 3);
	return out;
}

static const char *masked(const char *e164, char *out, size_t outsz)
{
	if (e164 == NULL || *e164 == '\0')
		return NULL;
	msisdn_mask(e164, strlen(e164), out, outsz);
	return out;
}

static int json_line(struct admin *a)
{
	if (a->jb.failed) {
		fprintf(stderr, "ceirgwctl: out of memory\n");
		return -ENOMEM;
	}
	fwrite(a->jb.data, 1, a->jb.len, stdout);
	putchar('\n');
	json_reset(&a->jb);
	return 0;
}

/* Reads the options every admin command shares. Returns the index of the first operand, or
 * -1 after saying why (-2 after --help). */
static int options(struct admin *a, int argc, char **argv)
{
	enum { OPT_REDIS = 256, OPT_CLUSTER, OPT_JSON, OPT_LAST, OPT_REGION, OPT_LIMITS };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "redis", required_argument, NULL, OPT_REDIS },
		{ "redis-cluster", required_argument, NULL, OPT_CLUSTER },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "last", required_argument, NULL, OPT_LAST },
		{ "region", required_argument, NULL, OPT_REGION },
		{ "limits", no_argument, NULL, OPT_LIMITS },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool queue = strcmp(a->cmd, "queue") == 0, unlock = strcmp(a->cmd, "unlock") == 0;
	char *end;
	unsigned long v;
	int opt;

	optind = 1;
	opterr = 1;
	while ((opt = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': a->config_path = optarg; break;
		case OPT_REDIS: a->redis = optarg; break;
		case OPT_CLUSTER: a->redis_cluster = optarg; break;
		case OPT_JSON:
			if (unlock)
				goto bad;
			a->json = true;
			break;
		case OPT_LAST:
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (!queue || *optarg < '0' || *optarg > '9' || *end || errno ||
			    v > BULK_LAST_MAX) {
				if (!queue)
					goto bad;
				fprintf(stderr, "ceirgwctl queue: --last %s: expected 0 to %d "
					"entries\n", optarg, BULK_LAST_MAX);
				return -1;
			}
			a->last = (unsigned)v;
			break;
		case OPT_REGION:
			if (!unlock)
				goto bad;
			a->region = optarg;
			break;
		case OPT_LIMITS:
			if (!unlock)
				goto bad;
			a->limits = true;
			break;
		case 'h':
			admin_usage(a->cmd, stdout);
			return -2;
		default:
			goto bad;
		}
	}
	if (ctl_redis_one(a->redis, a->redis_cluster) < 0)
		return -1;
	if (a->config_path && (a->cfg = ctl_config_load(a->ctx, a->config_path)) == NULL)
		return -1;
	a->region = ctl_region(a->region, a->cfg);
	if (unlock && ctl_region_check(a->region) < 0)
		return -1;
	return optind;
bad:
	fprintf(stderr, "ceirgwctl %s: unexpected option (ceirgwctl %s --help)\n", a->cmd, a->cmd);
	return -1;
}

/* Connects without ever starting a Redis: these commands read what a running ceirgw keeps.
 * Returns 0, ADMIN_USAGE or ADMIN_NONE. */
static int connect(struct admin *a)
{
	struct bulk_options o = { 5, 2, true, 1000, COMMAND_TIMEOUT_MS };
	struct ctl_store s = { a->redis, a->redis_cluster, a->cfg, false, NULL, NULL };
	int rc = ctl_store_connect(a->ctx, &s, &o);

	if (rc == -EIO)
		return ADMIN_NONE;
	if (rc < 0)
		return ADMIN_USAGE;
	a->bulk = s.bulk;
	return 0;
}

static int store_failed(struct admin *a)
{
	fprintf(stderr, "ceirgwctl %s: %s\n", a->cmd, bulk_error(a->bulk));
	return ADMIN_NONE;
}

/* ---- queue and outbox: streams ---- */

static void entry_json(void *arg, const char *id, const struct store_kv *kv, size_t n)
{
	struct admin *a = arg;
	char v[VALUE_SHOWN + 8], f[BULK_NAME_MAX + 1];
	long long ms = bulk_id_ms(id);

	json_object_begin(&a->jb);
	json_key_cstr(&a->jb, "id", id);
	json_key_int(&a->jb, "age_s", ms < 0 ? -1 : (a->now_ms - ms) / 1000);
	json_key_object_begin(&a->jb, "fields");
	for (size_t i = 0; i < n; i++) {
		shown(kv[i].key, kv[i].klen, f, sizeof(f));
		json_key_cstr(&a->jb, f, shown(kv[i].val, kv[i].vlen, v, sizeof(v)));
	}
	json_object_end(&a->jb);
	json_object_end(&a->jb);
}

static void entry_text(void *arg, const char *id, const struct store_kv *kv, size_t n)
{
	struct admin *a = arg;
	char v[VALUE_SHOWN + 8], f[BULK_NAME_MAX + 1], age[40];
	long long ms = bulk_id_ms(id);

	printf("    %s (%s ago)", id, ms < 0 ? "?" : age_text(a->now_ms - ms, age, sizeof(age)));
	for (size_t i = 0; i < n; i++)
		printf(" %s=%s", shown(kv[i].key, kv[i].klen, f, sizeof(f)),
		       shown(kv[i].val, kv[i].vlen, v, sizeof(v)));
	putchar('\n');
}

/* One stream: what bulk_stream_info says, then the last a->last entries when last. */
static int print_stream(struct admin *a, const char *role, const char *stream, bool last)
{
	struct bulk_stream st;
	char age[40], idle[40];
	long long ms;
	size_t i;
	int rc = bulk_stream_info(a->bulk, stream, &st);

	if (rc == -EIO || rc == -EMEDIUMTYPE)
		return store_failed(a);
	if (rc < 0) {
		fprintf(stderr, "ceirgwctl %s: %s: not a stream name\n", a->cmd, stream);
		return ADMIN_USAGE;
	}
	ms = bulk_id_ms(st.first_id);
	if (a->json) {
		json_object_begin(&a->jb);
		json_key_cstr(&a->jb, "stream", stream);
		json_key_cstr(&a->jb, "role", role);
		json_key_bool(&a->jb, "exists", st.exists);
		json_key_int(&a->jb, "length", st.length);
		json_key_cstr(&a->jb, "oldest_id", st.first_id[0] ? st.first_id : NULL);
		if (ms >= 0)
			json_key_int(&a->jb, "oldest_age_s", (a->now_ms - ms) / 1000);
		else
			json_key_null(&a->jb, "oldest_age_s");
		json_key_cstr(&a->jb, "newest_id", st.last_id[0] ? st.last_id : NULL);
		json_key_int(&a->jb, "groups_total", (long long)st.groups_total);
		json_key_array_begin(&a->jb, "groups");
		for (i = 0; i < st.ngroups; i++) {
			const struct bulk_group *g = &st.groups[i];
			long long gms = bulk_id_ms(g->oldest_id);

			json_object_begin(&a->jb);
			json_key_cstr(&a->jb, "name", g->name);
			json_key_int(&a->jb, "consumers", g->consumers);
			json_key_int(&a->jb, "pending", g->pending);
			if (g->lag >= 0)
				json_key_int(&a->jb, "lag", g->lag);
			else
				json_key_null(&a->jb, "lag");
			json_key_cstr(&a->jb, "last_delivered_id", g->last_id);
			json_key_cstr(&a->jb, "oldest_pending_id", g->oldest_id[0] ? g->oldest_id :
				      NULL);
			if (gms >= 0) {
				json_key_int(&a->jb, "oldest_pending_age_s", (a->now_ms - gms) / 1000);
				json_key_int(&a->jb, "oldest_pending_idle_ms", g->oldest_idle_ms);
			}
			json_object_end(&a->jb);
		}
		json_array_end(&a->jb);
		if (last) {
			json_key_array_begin(&a->jb, "last");
			if (st.exists && a->last > 0 &&
			    bulk_stream_last(a->bulk, stream, a->last, entry_json, a) < 0)
				return store_failed(a);
			json_array_end(&a->jb);
		}
		json_object_end(&a->jb);
		return json_line(a) < 0 ? ADMIN_USAGE : 0;
	}
	if (!st.exists) {
		printf("%s (%s): no such stream (nothing was ever added)\n", stream, role);
		return 0;
	}
	printf("%s (%s): %lld entries", stream, role, st.length);
	if (ms >= 0)
		printf(", oldest %s (%s old), newest %s", st.first_id,
		       age_text(a->now_ms - ms, age, sizeof(age)), st.last_id);
	putchar('\n');
	if (st.groups_total == 0)
		printf("  no consumer group\n");
	for (i = 0; i < st.ngroups; i++) {
		const struct bulk_group *g = &st.groups[i];
		long long gms = bulk_id_ms(g->oldest_id);

		char name[BULK_NAME_MAX + 8];

		printf("  group %s%s: %lld consumers, %lld pending",
		       shown(g->name, strlen(g->name), name, sizeof(name)),
		       g->name_cut ? "..." : "", g->consumers, g->pending);
		if (g->lag >= 0)
			printf(", %lld not yet read", g->lag);
		if (gms >= 0)
			printf(", oldest pending %s (%s old, idle %s)", g->oldest_id,
			       age_text(a->now_ms - gms, age, sizeof(age)),
			       age_text(g->oldest_idle_ms, idle, sizeof(idle)));
		putchar('\n');
	}
	if (st.groups_total > st.ngroups)
		printf("  (%zu more groups not shown)\n", st.groups_total - st.ngroups);
	if (last && a->last > 0 && st.length > 0) {
		printf("  last %u:\n", a->last);
		if (bulk_stream_last(a->bulk, stream, a->last, entry_text, a) < 0)
			return store_failed(a);
	}
	return 0;
}

static int run_queue(struct admin *a, int argc, char **argv, int first)
{
	const char *req = a->cfg ? a->cfg->ceir_requests : "ceir:requests";
	const char *res = a->cfg ? a->cfg->ceir_results : "ceir:results";
	const char *fx = a->cfg ? a->cfg->ceir_foreign : "ceir:foreign";
	struct bulk_stream st;
	int rc;

	if (first != argc) {
		fprintf(stderr, "ceirgwctl queue: unexpected argument '%s'\n", argv[first]);
		return ADMIN_USAGE;
	}
	if ((rc = connect(a)) != 0)
		return rc;
	if ((rc = print_stream(a, "requests", req, true)) != 0 ||
	    (rc = print_stream(a, "results", res, true)) != 0)
		return rc;
	/* The neighbours' decisions only where a follower ever wrote some. */
	rc = bulk_stream_info(a->bulk, fx, &st);
	if (rc == 0 && st.exists)
		rc = print_stream(a, "foreign", fx, true);
	else if (rc == -EIO || rc == -EMEDIUMTYPE)
		rc = store_failed(a);
	else
		rc = 0;
	return rc;
}

static int run_outbox(struct admin *a, int argc, char **argv, int first)
{
	int rc;

	if (first != argc) {
		fprintf(stderr, "ceirgwctl outbox: unexpected argument '%s'\n", argv[first]);
		return ADMIN_USAGE;
	}
	if ((rc = connect(a)) != 0)
		return rc;
	if ((rc = print_stream(a, "kannel box", OUTBOX_BOX, false)) != 0)
		return rc;
	return print_stream(a, "sendsms", OUTBOX_HTTP, false);
}

/* ---- report ---- */

struct report_read {
	struct report r;
	int decoded;		/* report_decode's answer */
	bool found;
	char past[PAST_SHOWN][REPORT_REF_LEN + 1];
	size_t npast;
	struct admin *a;
	size_t nout;
	size_t nseen;
};

static void report_fields(void *arg, const struct store_kv *kv, size_t n)
{
	struct report_read *rr = arg;

	rr->decoded = report_decode(&rr->r, kv, n);
	rr->found = true;
}

static void report_past(void *arg, const char *ref, size_t len)
{
	struct report_read *rr = arg;

	if (rr->npast < PAST_SHOWN) {
		shown(ref, len < REPORT_REF_LEN ? len : REPORT_REF_LEN, rr->past[rr->npast],
		      REPORT_REF_LEN + 1);
		rr->npast++;
	}
}

/* An outbox item's value: "<stream>\n<to>\n<text>". The text may carry a PIN or a code:
 * only its length is shown. */
/* One sighting (issue 22): the days and the operator as they are, the new line masked as
 * every number a terminal shows (the full number is the authorities', on ceir:sightings),
 * the IMSI as its country and network only (MCC and MNC, its first 5 digits). */
static void report_seen(void *arg, const char *f, size_t flen, const char *v, size_t vlen)
{
	struct report_read *rr = arg;
	const char *bar = memchr(f, '|', flen), *b1 = memchr(v, '|', vlen), *b2;
	char line[24], mask[40], first[12], last[12], op[40], imsi[8];
	size_t ll = bar ? (size_t)(bar - f) : flen, il = bar ? flen - ll - 1 : 0;

	b2 = b1 ? memchr(b1 + 1, '|', vlen - (size_t)(b1 + 1 - v)) : NULL;
	if (ll >= sizeof(line) || b1 == NULL || b2 == NULL)
		return;
	memcpy(line, f, ll);
	line[ll] = '\0';
	masked(line, mask, sizeof(mask));
	snprintf(imsi, sizeof(imsi), "%.*s", il >= 5 ? 5 : 0, bar ? bar + 1 : "");
	shown(v, (size_t)(b1 - v), first, sizeof(first));
	shown(b1 + 1, (size_t)(b2 - b1 - 1), last, sizeof(last));
	shown(b2 + 1, vlen - (size_t)(b2 + 1 - v), op, sizeof(op));
	rr->nseen++;
	if (rr->a->json) {
		json_object_begin(&rr->a->jb);
		json_key_cstr(&rr->a->jb, "first_seen", first);
		json_key_cstr(&rr->a->jb, "last_seen", last);
		json_key_cstr(&rr->a->jb, "msisdn", mask);
		json_key_cstr(&rr->a->jb, "imsi_network", imsi[0] ? imsi : NULL);
		json_key_cstr(&rr->a->jb, "operator", op[0] ? op : NULL);
		json_object_end(&rr->a->jb);
	} else {
		printf("  sighting   %s to %s on %s%s%s%s%s%s\n", first, last, mask,
		       imsi[0] ? ", IMSI " : "", imsi, imsi[0] ? "..." : "",
		       op[0] ? ", operator " : "", op);
	}
}

static void report_out(void *arg, const char *f, size_t flen, const char *v, size_t vlen)
{
	struct report_read *rr = arg;
	const char *nl1 = memchr(v, '\n', vlen), *nl2;
	char fs[64], ss[VALUE_SHOWN + 8], to[40];
	size_t slen = nl1 ? (size_t)(nl1 - v) : vlen, tlen = 0, textlen = 0;

	nl2 = nl1 ? memchr(nl1 + 1, '\n', vlen - slen - 1) : NULL;
	if (nl2) {
		tlen = (size_t)(nl2 - nl1 - 1);
		textlen = vlen - (size_t)(nl2 + 1 - v);
	}
	shown(f, flen, fs, sizeof(fs));
	shown(v, slen, ss, sizeof(ss));
	shown(nl1 ? nl1 + 1 : "", tlen, to, sizeof(to));
	if (rr->a->json) {
		json_object_begin(&rr->a->jb);
		json_key_cstr(&rr->a->jb, "item", fs);
		json_key_cstr(&rr->a->jb, "stream", ss);
		json_key_cstr(&rr->a->jb, "to", to);
		json_key_int(&rr->a->jb, "text_bytes", (long long)textlen);
		json_object_end(&rr->a->jb);
	} else {
		printf("  outbox     %s via %s to %s (%zu bytes, not shown)\n", fs, ss, to,
		       textlen);
	}
	rr->nout++;
}

/* The time of a stream entry id, as Unix seconds (0 when it is none). */
static long long entry_s(const char *id)
{
	long long ms = bulk_id_ms(id);

	return ms < 0 ? 0 : ms / 1000;
}

static void locks_json(struct admin *a, const char *key, const struct bulk_lock *l, int n)
{
	json_key_array_begin(&a->jb, key);
	for (int i = 0; i < n; i++) {
		json_object_begin(&a->jb);
		json_key_cstr(&a->jb, "what", l[i].what);
		json_key_int(&a->jb, "count", l[i].count);
		json_key_bool(&a->jb, "locked", l[i].locked);
		json_key_int(&a->jb, "ms_left", l[i].ms_left);
		json_object_end(&a->jb);
	}
	json_array_end(&a->jb);
}

static void lock_text(const char *label, const struct bulk_lock *l)
{
	char left[40];

	printf("  %-10s %s: %lld%s", label, l->what, l->count, l->locked ? ", LOCKED" : "");
	if (l->ms_left >= 0)
		printf(" (%s left)", age_text(l->ms_left, left, sizeof(left)));
	putchar('\n');
}

static unsigned verify_tries(const struct admin *a)
{
	return a->cfg && a->cfg->verify_tries > 0 ? (unsigned)a->cfg->verify_tries : 3;
}

/* Finds the IMEI of in: a reference (ref:{..}) or an IMEI. Returns 0, ADMIN_NONE (not
 * found, said), ADMIN_USAGE. */
static int report_imei(struct admin *a, const char *in, char imei[16], bool *by_ref)
{
	size_t len = strlen(in);
	struct imei im;
	int rc;

	*by_ref = len == REPORT_REF_LEN && strspn(in, "0123456789") == len;
	if (*by_ref) {
		rc = bulk_report_imei(a->bulk, in, len, imei);
		if (rc == -ENOENT) {
			fprintf(stderr, "ceirgwctl report: no report has the reference %s\n", in);
			return ADMIN_NONE;
		}
		return rc < 0 ? store_failed(a) : 0;
	}
	imei_parse(in, len, &im);
	if (!im.has_digits || im.reason == IMEI_BAD_CHECK_DIGIT) {
		fprintf(stderr, "ceirgwctl report: %s: neither a reference (%d digits) nor an "
			"IMEI (%s)\n", in, REPORT_REF_LEN, imei_reason_name(im.reason));
		return ADMIN_USAGE;
	}
	memcpy(imei, im.imei, 16);
	return 0;
}

static int run_report(struct admin *a, int argc, char **argv, int first)
{
	struct report_read *rr;
	struct bulk_lock locks[BULK_LOCKS_MAX];
	char imei[16], t[40], age[40], mo[40], mr[40], mt[40];
	long long relay_ms = -1;
	bool by_ref;
	int rc, npast, nlocks;
	const struct report *r;

	if (argc - first != 1) {
		fprintf(stderr, "ceirgwctl report: expected one REF or IMEI\n");
		return ADMIN_USAGE;
	}
	if ((rc = connect(a)) != 0)
		return rc;
	/* report reindex: the migration of the index of reported IMEIs (issue 22). */
	if (strcmp(argv[first], "reindex") == 0) {
		long added = sight_reindex(a->bulk);

		if (added < 0)
			return store_failed(a);
		if (a->json) {
			json_object_begin(&a->jb);
			json_key_int(&a->jb, "indexed", added);
			json_object_end(&a->jb);
			return json_line(a) < 0 ? ADMIN_USAGE : 0;
		}
		printf("index of reported IMEIs: %ld added (the others were there)\n", added);
		return 0;
	}
	if ((rc = report_imei(a, argv[first], imei, &by_ref)) != 0)
		return rc;
	rr = talloc_zero(a->ctx, struct report_read);
	if (rr == NULL)
		return ADMIN_USAGE;
	rr->a = a;
	r = &rr->r;
	if (bulk_report_fields(a->bulk, imei, report_fields, rr) < 0)
		return store_failed(a);
	if (!rr->found || !report_exists(r)) {
		fprintf(stderr, "ceirgwctl report: no report for the IMEI %s\n", imei);
		return ADMIN_NONE;
	}
	if (by_ref && strcmp(r->ref, argv[first]) != 0)
		fprintf(stderr, "ceirgwctl report: %s is an earlier report of the IMEI %s; its "
			"current report follows\n", argv[first], imei);
	npast = bulk_report_past(a->bulk, imei, PAST_SHOWN, report_past, rr);
	nlocks = bulk_report_locks(a->bulk, imei, verify_tries(a), locks, BULK_LOCKS_MAX);
	if (npast < 0 || nlocks < 0)
		return store_failed(a);
	rc = bulk_report_relay_mark(a->bulk, imei, &relay_ms);
	if (rc == -EIO)
		return store_failed(a);
	masked(r->owner, mo, sizeof(mo));
	masked(r->reporter, mr, sizeof(mr));
	masked(r->receipt_to, mt, sizeof(mt));
	if (a->json) {
		json_object_begin(&a->jb);
		json_key_cstr(&a->jb, "ref", r->ref);
		json_key_cstr(&a->jb, "imei", imei);
		json_key_cstr(&a->jb, "state", rr->r.state_unknown ? "unknown" :
			      report_state_name(r->state));
		json_key_bool(&a->jb, "open", report_state_open(r->state) || r->state_unknown);
		json_key_bool(&a->jb, "decoded_whole", rr->decoded == 0);
		json_key_int(&a->jb, "created", r->created);
		json_key_int(&a->jb, "updated", r->updated);
		json_key_cstr(&a->jb, "reported_at", r->reported_at[0] ? r->reported_at : NULL);
		json_key_cstr(&a->jb, "reason", r->reason[0] ? r->reason : NULL);
		json_key_cstr(&a->jb, "police_ref", r->police_ref[0] ? r->police_ref : NULL);
		json_key_cstr(&a->jb, "owner", r->owner[0] ? mo : NULL);
		json_key_cstr(&a->jb, "reporter", r->reporter[0] ? mr : NULL);
		json_key_cstr(&a->jb, "receipt_to", r->receipt_to[0] ? mt : NULL);
		json_key_cstr(&a->jb, "channel", r->channel[0] ? r->channel : NULL);
		json_key_cstr(&a->jb, "lang", r->lang[0] ? r->lang : NULL);
		json_key_cstr(&a->jb, "tac", r->tac[0] ? r->tac : NULL);
		json_key_cstr(&a->jb, "rule", r->rule[0] ? r->rule : NULL);
		json_key_cstr(&a->jb, "last_seen", r->last_seen[0] ? r->last_seen : NULL);
		json_key_cstr(&a->jb, "kyc_matched", r->kyc_matched[0] ? r->kyc_matched : NULL);
		json_key_bool(&a->jb, "pin_set", r->pin[0] != '\0');
		json_key_cstr(&a->jb, "request_entry", r->request_entry[0] ? r->request_entry :
			      NULL);
		json_key_cstr(&a->jb, "unblock_entry", r->unblock_entry[0] ? r->unblock_entry :
			      NULL);
		json_key_cstr(&a->jb, "reject_reason", r->reject_reason[0] ? r->reject_reason :
			      NULL);
		json_key_cstr(&a->jb, "unblock_rejected", r->unblock_rejected[0] ?
			      r->unblock_rejected : NULL);
		json_key_int(&a->jb, "past_count", npast);
		json_key_array_begin(&a->jb, "past");
		for (size_t i = 0; i < rr->npast; i++)
			json_array_str(&a->jb, rr->past[i], strlen(rr->past[i]));
		json_array_end(&a->jb);
		json_key_array_begin(&a->jb, "outbox");
		if (bulk_report_outbox(a->bulk, imei, report_out, rr) < 0)
			return store_failed(a);
		json_array_end(&a->jb);
		json_key_array_begin(&a->jb, "sightings");
		if (bulk_report_sightings(a->bulk, imei, report_seen, rr) < 0)
			return store_failed(a);
		json_array_end(&a->jb);
		if (relay_ms >= 0)
			json_key_int(&a->jb, "relay_marked_ms", relay_ms);
		else
			json_key_null(&a->jb, "relay_marked_ms");
		locks_json(a, "pin_tries", locks, nlocks);
		json_object_end(&a->jb);
		return json_line(a) < 0 ? ADMIN_USAGE : 0;
	}
	printf("report     %s\n", r->ref[0] ? r->ref : "(no reference)");
	printf("  %-10s %s (TAC %s)\n", "imei", imei, r->tac[0] ? r->tac : imei);
	printf("  %-10s %s (%s)%s\n", "state", r->state_unknown ? "unknown to this version" :
	       report_state_name(r->state), report_state_open(r->state) || r->state_unknown ?
	       "open" : "closed", rr->decoded == 0 ? "" : "; some fields did not decode");
	printf("  history:\n");
	if (r->reported_at[0])
		printf("    %-20s reported (the reporter's journey)\n", r->reported_at);
	printf("    %-20s opened\n", time_text(r->created, t, sizeof(t)));
	if (r->request_entry[0])
		printf("    %-20s block request queued (entry %s)\n",
		       time_text(entry_s(r->request_entry), t, sizeof(t)), r->request_entry);
	if (r->unblock_entry[0])
		printf("    %-20s unblock request queued (entry %s)\n",
		       time_text(entry_s(r->unblock_entry), t, sizeof(t)), r->unblock_entry);
	printf("    %-20s last move, to %s (%s ago)\n", time_text(r->updated, t, sizeof(t)),
	       r->state_unknown ? "?" : report_state_name(r->state),
	       age_text(a->now_ms - r->updated * 1000, age, sizeof(age)));
	printf("  %-10s %s\n", "reason", r->reason[0] ? r->reason : "-");
	printf("  %-10s %s\n", "police", r->police_ref[0] ? r->police_ref : "-");
	printf("  %-10s %s\n", "owner", r->owner[0] ? mo : "-");
	printf("  %-10s %s\n", "reporter", r->reporter[0] ? mr : "-");
	if (r->receipt_to[0])
		printf("  %-10s %s\n", "receipt to", mt);
	printf("  %-10s %s, language %s\n", "channel", r->channel[0] ? r->channel : "-",
	       r->lang[0] ? r->lang : "-");
	printf("  %-10s %s, owner last seen %s, ID digits matched: %s\n", "evidence",
	       r->rule[0] ? r->rule : "-", r->last_seen[0] ? r->last_seen : "-",
	       r->kyc_matched[0] ? r->kyc_matched : "-");
	printf("  %-10s %s\n", "PIN", r->pin[0] ? "on record (not shown)" : "none");
	if (r->reject_reason[0])
		printf("  %-10s %s\n", "rejected", r->reject_reason);
	if (r->unblock_rejected[0])
		printf("  %-10s unblock refused: %s\n", "rejected", r->unblock_rejected);
	printf("  %-10s %d", "earlier", npast);
	for (size_t i = 0; i < rr->npast; i++)
		printf("%s%s", i ? ", " : ": ", rr->past[i]);
	if ((size_t)npast > rr->npast)
		printf(" (the latest %zu shown)", rr->npast);
	putchar('\n');
	if (bulk_report_outbox(a->bulk, imei, report_out, rr) < 0)
		return store_failed(a);
	if (rr->nout == 0)
		printf("  %-10s nothing waiting\n", "outbox");
	if (bulk_report_sightings(a->bulk, imei, report_seen, rr) < 0)
		return store_failed(a);
	if (rr->nseen == 0)
		printf("  %-10s none (doc/ceir-queue.md, ceir:sightings)\n", "sightings");
	if (relay_ms >= 0)
		printf("  %-10s marked for the relay %s ago\n", "relay",
		       age_text(a->now_ms - relay_ms, age, sizeof(age)));
	for (int i = 0; i < nlocks; i++)
		lock_text("PIN tries", &locks[i]);
	if (nlocks == 0)
		printf("  %-10s no wrong PIN counted\n", "PIN tries");
	return 0;
}

/* ---- unlock ---- */

static int run_unlock(struct admin *a, int argc, char **argv, int first)
{
	struct bulk_lock locks[BULK_LOCKS_MAX];
	char imei[16], who[64], what[1024], mask[40], left[40];
	const struct passwd *pw;
	enum log_level level;
	const char *in;
	struct msisdn m;
	size_t len, off = 0;
	int n, rc, i;
	bool ref = false;

	if (argc - first != 1) {
		fprintf(stderr, "ceirgwctl unlock: expected one MSISDN or REF\n");
		return ADMIN_USAGE;
	}
	in = argv[first];
	len = strlen(in);
	if ((rc = connect(a)) != 0)
		return rc;
	if (len == REPORT_REF_LEN && strspn(in, "0123456789") == len) {
		rc = bulk_report_imei(a->bulk, in, len, imei);
		if (rc == 0)
			ref = true;
		else if (rc != -ENOENT)
			return store_failed(a);
	}
	if (ref) {
		n = bulk_report_locks(a->bulk, imei, verify_tries(a), locks, BULK_LOCKS_MAX);
		snprintf(who, sizeof(who), "report %s", in);
	} else {
		if (msisdn_parse(in, len, a->region, &m) != MSISDN_OK) {
			fprintf(stderr, "ceirgwctl unlock: %s: neither a report's reference nor a "
				"valid number (%s)\n", len == REPORT_REF_LEN ? "no report has that "
				"reference, and it is" : "it is", msisdn_reason_name(m.reason));
			return ADMIN_USAGE;
		}
		n = bulk_number_locks(a->bulk, digits_value(m.e164 + 1, strlen(m.e164) - 1),
				      m.e164, verify_tries(a), a->limits, locks, BULK_LOCKS_MAX);
		snprintf(who, sizeof(who), "number %s", masked(m.e164, mask, sizeof(mask)));
	}
	if (n < 0)
		return store_failed(a);
	if (n == 0) {
		printf("%s: nothing to clear\n", who);
		return ADMIN_NONE;
	}
	rc = bulk_locks_clear(a->bulk, locks, (size_t)n);
	if (rc < 0)
		return store_failed(a);
	for (i = 0; i < n; i++) {
		printf("%s: cleared %s: %lld%s", who, locks[i].what, locks[i].count,
		       locks[i].locked ? " (locked" : "");
		if (locks[i].locked && locks[i].ms_left >= 0)
			printf(", %s left", age_text(locks[i].ms_left, left, sizeof(left)));
		printf("%s\n", locks[i].locked ? ")" : "");
		off += (size_t)snprintf(what + off, off < sizeof(what) ? sizeof(what) - off : 0,
					"%s%s: %lld%s", i ? "; " : "", locks[i].what,
					locks[i].count, locks[i].locked ? " (locked)" : "");
		if (off >= sizeof(what))
			off = sizeof(what) - 1;
	}
	/* The audit line: in ceirgw's own log, where the lock-outs were logged. */
	pw = getpwuid(getuid());
	if (a->cfg && a->cfg->log_file && (rc = logging_set_file(a->cfg->log_file)) < 0)
		fprintf(stderr, "ceirgwctl unlock: log-file %s: %s: the audit line goes to "
			"standard error\n", a->cfg->log_file, strerror(-rc));
	level = logging_level();
	logging_set_level(LOGL_NOTICE);	/* ceirgwctl logs only warnings otherwise */
	logging_msg(LOGC_MAIN, LOGL_NOTICE, "audit: unlock %s by user %s (uid %u): cleared %s",
		    who, pw ? pw->pw_name : "?", (unsigned)getuid(), what);
	logging_set_level(level);
	logging_set_file(NULL);
	return ADMIN_OK;
}

/* ---- dispatch ---- */

int admin_main(void *ctx, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(struct admin *a, int argc, char **argv, int first);
	} cmds[] = {
		{ "queue", run_queue },
		{ "report", run_report },
		{ "outbox", run_outbox },
		{ "unlock", run_unlock },
	};
	struct admin a;
	int first, rc = ADMIN_USAGE;

	if (strcmp(argv[0], "stats") == 0)
		return admin_stats_main(ctx, argc, argv);
	memset(&a, 0, sizeof(a));
	a.ctx = ctx;
	a.cmd = argv[0];
	a.last = LAST_DEFAULT;
	a.now_ms = clock_wall_ms();
	json_init(&a.jb);
	first = options(&a, argc, argv);
	if (first == -2)
		rc = ADMIN_OK;
	for (size_t i = 0; first >= 0 && i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(a.cmd, cmds[i].name) == 0)
			rc = cmds[i].run(&a, argc, argv, first);
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "ceirgwctl: writing the output: %s\n", strerror(errno));
		rc = ADMIN_USAGE;
	}
	json_free(&a.jb);
	return rc;
}
