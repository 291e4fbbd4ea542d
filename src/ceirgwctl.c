/* ceirgwctl: the operator's command-line tool. Checks IMEIs and MSISDNs the way the gateway
 * reads them, for people and for scripts (--json, one object per line). */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <talloc.h>
#include <time.h>
#include <unistd.h>

#include "ctl/admin.h"
#include "ctl/feed.h"
#include "ctl/options.h"
#include "ctl/phone.h"
#include "ctl/sighting.h"
#include "ctl/store.h"
#include "core/config.h"
#include "core/redis_url.h"
#include "core/gw.h"
#include "core/json.h"
#include "core/logging.h"
#include "domain/digits.h"
#include "domain/imei.h"
#include "domain/kyc.h"
#include "domain/msisdn.h"
#include "domain/msisdn_memo.h"
#include "domain/tac.h"
#include "flow/engine.h"
#include "import/import.h"
#include "import/metrics.h"
#include "import/rejects.h"
#include "store/bulk.h"
#include "store/pairs.h"
#include "store/redis_embed.h"
#include "store/sight.h"

/* A line read from standard input longer than this is answered as too long, not stored. */
#define LINE_MAX_BYTES 4096

enum { EXIT_VALID = 0, EXIT_INVALID = 1, EXIT_USAGE = 2 };

struct ctl {
	void *ctx;
	const char *command;	/* argv[1]: whose help --help prints */
	const char *config_path;
	struct ceirgw_config *cfg;
	bool json;
	struct json_buf jb;
	/* imei */
	const char *tac_path;
	struct tac_table *tac;
	/* msisdn */
	const char *region;
	/* import, lookup */
	const char *redis;
	const char *redis_cluster;	/* seed nodes; exclusive with redis */
	const char *rejects_path;
	const char *metrics_path;	/* import --metrics-file */
	double max_reject_ratio;	/* import --max-reject-ratio; 1: no limit */
	size_t batch;		/* rows per pipelined batch */
	const char *kyc_key_path;
	struct redis_embed *embed;
	struct bulk *bulk;
	int (*check)(struct ctl *c, const char *in, size_t len);
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: ceirgwctl COMMAND [OPTION]... [INPUT]...\n"
		"\n"
		"Commands:\n"
		"  imei [--json] [--tac FILE] [-c FILE] INPUT...\n"
		"      read each INPUT as an IMEI (15 digits), IMEISV (16) or IMEI without its\n"
		"      check digit (14) and print the IMEI, whether it is valid and why, whether\n"
		"      the check digit was computed, the SVN, the TAC and its maker and model\n"
		"  msisdn [--json] [--region CC] [-c FILE] INPUT...\n"
		"      read each INPUT as a phone number and print its E.164 form, whether it is\n"
		"      valid and why, its region and type, and the masked form logs show\n"
		"  import pairings [-c FILE] [--redis URL | --redis-cluster SEEDS]\n"
		"                  [--rejects FILE] [--max-reject-ratio R] [--metrics-file F]\n"
		"                  [--region CC] [--batch ROWS] FILE...\n"
		"      load operators' IMEI-MSISDN pairings (CSV, plain or gzip, header row\n"
		"      naming imei, msisdn and optionally imsi, first_seen, last_seen); bad rows\n"
		"      go to the rejects file with their line and reason; --batch: rows merged\n"
		"      per pipelined batch (default 4000000: about 90 bytes a row, 350 MB)\n"
		"  import kyc [-c FILE] [--kyc-key FILE] [--redis URL | --redis-cluster SEEDS]\n"
		"             [--rejects FILE] [--max-reject-ratio R] [--metrics-file F] FILE...\n"
		"      load subscribers' KYC (header naming msisdn and national_id, optionally\n"
		"      registered_at): national IDs are kept only as HMAC digests\n"
		"  import tac [-c FILE] [--redis URL | --redis-cluster SEEDS] [--rejects FILE]\n"
		"             [--max-reject-ratio R] [--metrics-file F] FILE\n"
		"      put an operator's TAC table (the tacdb CSV format) in Redis, where every\n"
		"      ceirgw on that Redis takes it from instead of tac-file\n"
		"    --rejects FILE  where rejected rows go (default: INPUT.rejects.csv beside\n"
		"                    each input, mode 0600, replaced if there, removed again when\n"
		"                    nothing was rejected; input '-' needs --rejects)\n"
		"    --max-reject-ratio R  stop (exit 4) when more than R (0..1) of the rows read\n"
		"                    so far were rejected, checked before each batch is written\n"
		"    --metrics-file F  import progress for node_exporter's textfile collector,\n"
		"                    rewritten whole every 5 s (see doc/import.md)\n"
		"  verify [-c FILE] [--kyc-key FILE] [--redis URL | --redis-cluster SEEDS]\n"
		"         MSISDN ID\n"
		"      whether ID (whole, or its last 4 characters) matches the subscriber's\n"
		"  flows check|render [-c FILE] [--flows DIR] [--templates DIR] [LANG KEY\n"
		"              [NAME=VALUE]...]\n"
		"      check the flow and its texts as ceirgw does at start and on SIGHUP:\n"
		"      unreachable screens, dead ends, missing texts, screens too long for USSD\n"
		"      in any language; one line per problem, exit 1 if there is any;\n"
		"      render prints one text as a user sees it\n"
		"  phone --msisdn NUMBER [--url URL] [--code CODE] [--listen ADDR:PORT]\n"
		"      a terminal phone: dial the USSD code, answer its screens, send SMS and\n"
		"      see the replies and notifications (ceirgwctl phone --help)\n"
		"  lookup imei|msisdn [--json] [-c FILE] [--redis URL | --redis-cluster SEEDS]\n"
		"                     [--region CC] VALUE...\n"
		"      show what the store holds: an IMEI's numbers with their seen windows and\n"
		"      whether it is duplicated, or a number's IMEIs\n"
		"  feed keygen --origin ORIGIN --out FILE\n"
		"      make the Ed25519 key that signs the feed's checkpoints (C2SP signed\n"
		"      notes): the signer key to FILE (mode 0600, never overwritten), the\n"
		"      verifier keys for neighbours on standard output\n"
		"  feed status -c FILE\n"
		"      the own feed's published tree and each feed-peer's accepted tree, last\n"
		"      poll and state\n"
		"  feed verify URL KEY [--entries FILE]\n"
		"      audit any feed from scratch: signature, every entry and tile, the root\n"
		"  feed export -c FILE DIR\n"
		"      write the own feed's files (checkpoint, tiles, entry bundles) into DIR\n"
		"      for any web server to publish\n"
		"  feed resume -c FILE ORIGIN\n"
		"      show why a feed-peer was halted (an equivocation) and clear the halt\n"
		"      (ceirgwctl feed COMMAND --help)\n"
		"  queue [-c FILE] [--redis URL | --redis-cluster SEEDS] [--last N] [--json]\n"
		"      the CEIR queue: requests, results (and neighbours' decisions): length,\n"
		"      consumer groups with their pending entries, the oldest, the last N\n"
		"  report [-c FILE] [--redis URL | --redis-cluster SEEDS] [--json] REF|IMEI\n"
		"      a report: state, history, evidence, its outbox and sightings (never the\n"
		"      PIN, never a full number); report reindex: every report's IMEI into the\n"
		"      index the import's sightings read (after an upgrade)\n"
		"  outbox [-c FILE] [--redis URL | --redis-cluster SEEDS] [--json]\n"
		"      the SMS waiting per path: depth, the oldest and its age\n"
		"  unlock [-c FILE] [--redis URL | --redis-cluster SEEDS] [--limits]\n"
		"         MSISDN|REF\n"
		"      clear a number's or a report's lock-out, audited in ceirgw's log\n"
		"  stats [-c FILE] [--admin HOST:PORT]\n"
		"      what ceirgw's /metrics says, readable\n"
		"  help COMMAND\n"
		"      a command's own help (the same as ceirgwctl COMMAND --help)\n"
		"\n"
		"Where the store is: --redis URL (redis://[user:pass@]host:port[/db] or\n"
		"unix:///path), or --redis-cluster SEEDS, a Redis Cluster's seed nodes\n"
		"(HOST:PORT[,HOST:PORT...], credentials as redis://user:pass@host:port items);\n"
		"the two exclude each other. Either replaces the configuration's redis or\n"
		"redis-cluster. Without any, the embedded Redis under data-dir: a running\n"
		"ceirgw's; import starts one when none runs. The commands that only read\n"
		"(lookup, verify, queue, report, outbox) and unlock never create a directory:\n"
		"without -c and no ceirgw running they say what they need and exit 2; with -c\n"
		"they start the embedded Redis only on an existing data-dir's data.\n"
		"\n"
		"An INPUT of '-' reads one input per line from standard input.\n"
		"  --json          one JSON object per input and line\n"
		"  -c, --config F  take tac-file and default-region from ceirgw's configuration\n"
		"  --tac FILE      TAC table to use (default: the configuration's, else the one\n"
		"                  shipped with ceirgw)\n"
		"  --region CC     region of numbers written without a country code (default:\n"
		"                  the configuration's default-region, else KE)\n"
		"  -h, --help      show this help;  -V, --version  show the version;\n"
		"                  ceirgwctl COMMAND --help: the command's own\n"
		"\n"
		"Exit status: 0 when every input is valid, 1 when one is not, 2 on a usage or\n"
		"configuration error. import: 0 when every row was stored, 1 when a file or\n"
		"Redis failed part way, 3 when the files were imported but rows were rejected\n"
		"(they are in the rejects file), 4 when --max-reject-ratio stopped it.\n");
}

/* The commands' own help (ceirgwctl COMMAND --help, ceirgwctl help COMMAND). */
static const struct {
	const char *name;
	const char *text;
} helps[] = {
	{ "imei",
	  "Usage: ceirgwctl imei [--json] [--tac FILE] [-c FILE] INPUT...\n"
	  "\n"
	  "Reads each INPUT as an IMEI (15 digits), IMEISV (16) or IMEI without its check\n"
	  "digit (14), as ceirgw reads it (spaces, dashes and non-ASCII digits allowed),\n"
	  "and prints the IMEI, whether it is valid and why, whether the check digit was\n"
	  "computed, the SVN, the TAC and its maker and model. An INPUT of '-' reads one\n"
	  "per line from standard input.\n"
	  "\n"
	  "  --json          one JSON object per input and line\n"
	  "  --tac FILE      TAC table to use (default: the configuration's tac-file, else\n"
	  "                  the one shipped with ceirgw)\n"
	  "  -c, --config F  take tac-file from ceirgw's configuration\n"
	  "\n"
	  "Exit status: 0 when every input is valid, 1 when one is not, 2 on a usage error.\n" },
	{ "msisdn",
	  "Usage: ceirgwctl msisdn [--json] [--region CC] [-c FILE] INPUT...\n"
	  "\n"
	  "Reads each INPUT as a phone number, as ceirgw does, and prints its E.164 form,\n"
	  "whether it is valid and why, its region and type, and the masked form the logs\n"
	  "show. An INPUT of '-' reads one per line from standard input.\n"
	  "\n"
	  "  --json          one JSON object per input and line\n"
	  "  --region CC     region of numbers written without a country code (default:\n"
	  "                  the configuration's default-region, else KE)\n"
	  "  -c, --config F  take default-region from ceirgw's configuration\n"
	  "\n"
	  "Exit status: 0 when every input is valid, 1 when one is not, 2 on a usage error.\n" },
	{ "import",
	  "Usage: ceirgwctl import pairings|kyc|tac [-c FILE]\n"
	  "                        [--redis URL | --redis-cluster SEEDS] [--rejects FILE]\n"
	  "                        [--region CC] [--batch ROWS] [--kyc-key FILE] FILE...\n"
	  "\n"
	  "  pairings  operators' IMEI-MSISDN pairings (CSV, plain or gzip, a header row\n"
	  "            naming imei, msisdn and optionally imsi, first_seen, last_seen,\n"
	  "            operator); rows of reported phones on a new line are sightings, put\n"
	  "            once on ceir-sightings-stream, the owner told by SMS\n"
	  "  kyc       subscribers' KYC (msisdn, national_id, optionally registered_at):\n"
	  "            national IDs are kept only as HMAC digests (--kyc-key, else the\n"
	  "            configuration's kyc-key-file)\n"
	  "  tac       an operator's TAC table (the tacdb CSV format), which then replaces\n"
	  "            tac-file for every ceirgw on that Redis; one FILE\n"
	  "\n"
	  "  --rejects FILE  bad rows, with their line and reason (default: beside each\n"
	  "                  input, <input>.rejects.csv, mode 0600; needed for '-')\n"
	  "  --max-reject-ratio R  stop (exit 4) when more than R (0..1) of the rows read\n"
	  "                  are rejected: the batch at hand is not written\n"
	  "  --metrics-file F  progress for node_exporter's textfile collector\n"
	  "  --region CC     region of numbers without a country code\n"
	  "  --batch ROWS    rows merged per pipelined batch (default 4000000)\n"
	  "  -c, --config F, --redis URL, --redis-cluster SEEDS: where the store is (see\n"
	  "                  ceirgwctl --help); without any, a running ceirgw's embedded\n"
	  "                  Redis, else one started under data-dir for the import\n"
	  "\n"
	  "Exit status: 0 when every row was stored, 1 when a file or Redis failed part\n"
	  "way, 2 on a usage error, 3 when the files were imported but rows were\n"
	  "rejected, 4 when --max-reject-ratio stopped it (doc/import.md).\n" },
	{ "verify",
	  "Usage: ceirgwctl verify [-c FILE] [--kyc-key FILE]\n"
	  "                        [--redis URL | --redis-cluster SEEDS] MSISDN ID\n"
	  "\n"
	  "Whether ID (whole, or its last 4 characters) matches the national ID on record\n"
	  "for MSISDN, as the report journey compares it (without counting a try).\n"
	  "Reads only: without -c, --redis or --redis-cluster it uses a running ceirgw's\n"
	  "embedded Redis, never starts one (ceirgwctl --help: where the store is).\n"
	  "\n"
	  "  --kyc-key FILE  the HMAC key (default: the configuration's kyc-key-file)\n"
	  "\n"
	  "Exit status: 0 when it matches, 1 when not (or no record), 2 on a usage error\n"
	  "or when no store can be reached.\n" },
	{ "flows",
	  "Usage: ceirgwctl flows check [-c FILE] [--flows DIR] [--templates DIR]\n"
	  "       ceirgwctl flows render [-c FILE] [--flows DIR] [--templates DIR]\n"
	  "                              LANG KEY [NAME=VALUE]...\n"
	  "\n"
	  "check: the flow and its texts as ceirgw checks them at start and on SIGHUP:\n"
	  "unreachable screens, dead ends, missing texts, screens too long for USSD in any\n"
	  "language; one line per problem. render: one text as a user sees it.\n"
	  "\n"
	  "Exit status: 0, 1 when there is a problem, 2 on a usage error.\n" },
	{ "lookup",
	  "Usage: ceirgwctl lookup imei|msisdn [--json] [-c FILE]\n"
	  "                        [--redis URL | --redis-cluster SEEDS] [--region CC]\n"
	  "                        VALUE...\n"
	  "\n"
	  "What the store holds: an IMEI's numbers with their seen windows and whether it\n"
	  "is duplicated, or a number's IMEIs. Reads only: without -c, --redis or\n"
	  "--redis-cluster it uses a running ceirgw's embedded Redis (default data-dir),\n"
	  "never starts one nor creates a directory; with -c and no ceirgw running, the\n"
	  "embedded Redis is started on an existing data-dir's data for the lookup.\n"
	  "\n"
	  "  --json          one JSON object per line\n"
	  "  --region CC     region of numbers without a country code\n"
	  "\n"
	  "Exit status: 0, 1 when a VALUE is invalid or has nothing stored, 2 on a usage\n"
	  "error or when no store can be reached.\n" },
};

/* Prints the command's own help to out. Returns false when name is no command. */
static bool command_usage(void *ctx, const char *name, FILE *out)
{
	char *argv[] = { (char *)name, (char *)"--help", NULL };

	for (size_t i = 0; i < sizeof(helps) / sizeof(helps[0]); i++) {
		if (strcmp(name, helps[i].name) == 0) {
			fputs(helps[i].text, out);
			return true;
		}
	}
	if (admin_usage(name, out))
		return true;
	if (strcmp(name, "phone") == 0) {
		phone_main(ctx, 2, argv);
		return true;
	}
	if (strcmp(name, "feed") == 0) {
		feed_main(ctx, 2, argv);
		return true;
	}
	return false;
}

/* Prints one line of the human-readable form: "  name  value". */
static void field(const char *name, const char *value)
{
	printf("  %-10s %s\n", name, value && *value ? value : "-");
}

/* Writes s[0..len) for a terminal: control bytes shown as '?', so that an input cannot
 * drive the terminal. */
static void print_input(const char *s, size_t len)
{
	size_t i;

	fputs("input      ", stdout);
	for (i = 0; i < len; i++)
		putchar((unsigned char)s[i] < 0x20 || s[i] == 0x7F ? '?' : s[i]);
	putchar('\n');
}

static void json_line(struct ctl *c)
{
	if (c->jb.failed) {
		fprintf(stderr, "ceirgwctl: out of memory\n");
		exit(EXIT_USAGE);
	}
	fwrite(c->jb.data, 1, c->jb.len, stdout);
	putchar('\n');
	json_reset(&c->jb);
}

/* The head both checks' answers open with: the input, name and its normal form (value, NULL
 * for none), whether it is valid and why (reason). A JSON object is left open for the rest. */
static void answer_head(struct ctl *c, const char *in, size_t len, const char *name,
			const char *value, bool valid, const char *reason)
{
	if (c->json) {
		json_object_begin(&c->jb);
		json_key_str(&c->jb, "input", in, len);
		json_key_cstr(&c->jb, name, value);
		json_key_bool(&c->jb, "valid", valid);
		json_key_cstr(&c->jb, "reason", reason);
	} else {
		print_input(in, len);
		field(name, value);
		printf("  %-10s %s (%s)\n", "valid", valid ? "yes" : "no", reason);
	}
}

static int check_imei(struct ctl *c, const char *in, size_t len)
{
	struct tac_entry te = { 0 };
	struct imei im;
	bool known = false;

	imei_parse(in, len, &im);
	if (im.has_digits)
		known = tac_lookup(c->tac, im.tac, &te) == 0;
	answer_head(c, in, len, "imei", im.has_digits ? im.imei : NULL, im.valid,
		    imei_reason_name(im.reason));
	if (c->json) {
		json_key_bool(&c->jb, "computed_check_digit", im.computed_check_digit);
		json_key_cstr(&c->jb, "svn", im.svn[0] ? im.svn : NULL);
		json_key_cstr(&c->jb, "tac", im.has_digits ? im.tac : NULL);
		json_key_cstr(&c->jb, "maker", known ? te.maker : NULL);
		json_key_cstr(&c->jb, "model", known ? te.model : NULL);
		json_object_end(&c->jb);
		json_line(c);
	} else {
		field("check", !im.has_digits ? NULL :
		      im.computed_check_digit ? "computed" : "typed");
		field("svn", im.svn);
		field("tac", im.has_digits ? im.tac : NULL);
		field("maker", known ? te.maker : im.has_digits ? "(unknown TAC)" : NULL);
		field("model", known ? te.model : NULL);
	}
	return im.valid ? 0 : 1;
}

static int check_msisdn(struct ctl *c, const char *in, size_t len)
{
	struct msisdn m;
	char masked[MSISDN_E164_MAX + 8];

	msisdn_parse(in, len, c->region, &m);
	msisdn_mask(m.e164, strlen(m.e164), masked, sizeof(masked));
	answer_head(c, in, len, "msisdn", m.valid ? m.e164 : NULL, m.valid,
		    msisdn_reason_name(m.reason));
	if (c->json) {
		json_key_cstr(&c->jb, "region", m.valid ? m.region : NULL);
		json_key_cstr(&c->jb, "type", m.valid ? msisdn_type_name(m.type) : NULL);
		json_key_cstr(&c->jb, "masked", m.valid ? masked : NULL);
		json_object_end(&c->jb);
		json_line(c);
	} else {
		field("region", m.valid ? m.region : NULL);
		field("type", m.valid ? msisdn_type_name(m.type) : NULL);
		field("masked", m.valid ? masked : NULL);
	}
	return m.valid ? 0 : 1;
}

/* Answers every line of standard input. Returns 0 when all were valid, 1 otherwise. */
static int check_stdin(struct ctl *c)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;

	while ((n = getline(&line, &cap, stdin)) >= 0) {
		size_t len = (size_t)n;

		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			len--;
		if (len > LINE_MAX_BYTES)
			len = LINE_MAX_BYTES + 1;	/* still too long for every parser */
		rc |= c->check(c, line, len);
	}
	free(line);
	return rc;
}

/* Loads what the command needs from the configuration. Returns 0 or EXIT_USAGE. */
static int setup(struct ctl *c, bool need_tac)
{
	char err[1024];
	struct tac_load_stats st;
	const char *path;

	if (c->config_path && (c->cfg = ctl_config_load(c->ctx, c->config_path)) == NULL)
		return EXIT_USAGE;
	c->region = ctl_region(c->region, c->cfg);
	if (!need_tac && ctl_region_check(c->region) < 0)
		return EXIT_USAGE;
	if (need_tac) {
		path = c->tac_path ? c->tac_path :
		       c->cfg ? c->cfg->tac_file : config_default_tac_file();
		c->tac = tac_table_load(c->ctx, path, &st, err, sizeof(err));
		if (c->tac == NULL) {
			fprintf(stderr, "ceirgwctl: TAC table: %s\n", err);
			return EXIT_USAGE;
		}
	}
	return 0;
}

static int run_check(struct ctl *c, int argc, char **argv, bool is_imei)
{
	enum { OPT_JSON = 256, OPT_TAC, OPT_REGION };
	static const struct option opts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "tac", required_argument, NULL, OPT_TAC },
		{ "region", required_argument, NULL, OPT_REGION },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt, i, rc = 0;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_JSON: c->json = true; break;
		case OPT_TAC:
			if (!is_imei)
				goto bad;
			c->tac_path = optarg;
			break;
		case OPT_REGION:
			if (is_imei)
				goto bad;
			c->region = optarg;
			break;
		case 'c': c->config_path = optarg; break;
		case 'h': command_usage(c->ctx, argv[0], stdout); return EXIT_VALID;
		default: goto bad;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "ceirgwctl %s: no INPUT given ('-' reads standard input)\n",
			argv[0]);
		return EXIT_USAGE;
	}
	if ((rc = setup(c, is_imei)) != 0)
		return rc;
	c->check = is_imei ? check_imei : check_msisdn;
	for (i = optind; i < argc; i++) {
		if (!c->json && i > optind)
			putchar('\n');
		if (strcmp(argv[i], "-") == 0)
			rc |= check_stdin(c);
		else
			rc |= c->check(c, argv[i], strlen(argv[i]));
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "ceirgwctl: writing the output: %s\n", strerror(errno));
		return EXIT_USAGE;
	}
	return rc ? EXIT_INVALID : EXIT_VALID;
bad:
	fprintf(stderr, "ceirgwctl %s: unexpected option (ceirgwctl %s --help)\n", argv[0], argv[0]);
	return EXIT_USAGE;
}

/* Connects to the store: --redis or --redis-cluster, else the configuration's redis or
 * redis-cluster, else the embedded Redis under data-dir: a running ceirgw's, or, for import
 * alone (start), one started for this command. The commands that only read never start one:
 * an empty Redis would only answer "nothing stored". */
static int connect_store(struct ctl *c, bool start)
{
	struct bulk_options o = { 5, 2, true, c->batch ? c->batch : 4000000, 0 };
	struct ctl_store s = { c->redis, c->redis_cluster, c->cfg, start, NULL, NULL };

	if (ctl_store_connect(c->ctx, &s, &o) < 0)
		return EXIT_USAGE;
	c->embed = s.embed;
	c->bulk = s.bulk;
	return 0;
}

/* The options of the commands that use the store (import, lookup, verify): one set, each
 * read where it means something. Returns the index of the first operand, -1 after saying
 * what is wrong, or -2 after printing the command's --help. */
static int store_options(struct ctl *c, int argc, char **argv)
{
	enum { OPT_REDIS = 256, OPT_CLUSTER, OPT_REJECTS, OPT_REGION, OPT_JSON, OPT_BATCH,
	       OPT_KEY, OPT_RATIO, OPT_METRICS };
	const struct option opts[] = {
		{ "max-reject-ratio", required_argument, NULL, OPT_RATIO },
		{ "metrics-file", required_argument, NULL, OPT_METRICS },
		{ "kyc-key", required_argument, NULL, OPT_KEY },
		{ "batch", required_argument, NULL, OPT_BATCH },
		{ "redis", required_argument, NULL, OPT_REDIS },
		{ "redis-cluster", required_argument, NULL, OPT_CLUSTER },
		{ "rejects", required_argument, NULL, OPT_REJECTS },
		{ "region", required_argument, NULL, OPT_REGION },
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_REDIS: c->redis = optarg; break;
		case OPT_CLUSTER: c->redis_cluster = optarg; break;
		case OPT_REJECTS: c->rejects_path = optarg; break;
		case OPT_METRICS: c->metrics_path = optarg; break;
		case OPT_RATIO: {
			char *end;
			double v;

			errno = 0;
			v = strtod(optarg, &end);
			if (errno != 0 || end == optarg || *end != '\0' || !(v >= 0 && v <= 1)) {
				fprintf(stderr, "ceirgwctl: --max-reject-ratio %s: expected a share "
					"of the rows from 0 to 1 (0.1: at most 10%% rejected)\n",
					optarg);
				return -1;
			}
			c->max_reject_ratio = v;
			break;
		}
		case OPT_KEY: c->kyc_key_path = optarg; break;
		case OPT_REGION: c->region = optarg; break;
		case OPT_JSON: c->json = true; break;
		case OPT_BATCH: {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);

			if (*end != '\0' || v < 1000 || v > 100000000) {
				fprintf(stderr, "ceirgwctl: --batch %s: expected 1000 to 100000000 "
					"rows\n", optarg);
				return -1;
			}
			c->batch = v;
			break;
		}
		case 'c': c->config_path = optarg; break;
		case 'h': command_usage(c->ctx, c->command, stdout); return -2;
		default:
			fprintf(stderr, "ceirgwctl %s: unexpected option (ceirgwctl %s --help)\n",
				c->command, c->command);
			return -1;
		}
	}
	if (ctl_redis_one(c->redis, c->redis_cluster) < 0)
		return -1;
	if (c->config_path && (c->cfg = ctl_config_load(c->ctx, c->config_path)) == NULL)
		return -1;
	c->region = ctl_region(c->region, c->cfg);
	if (ctl_region_check(c->region) < 0)
		return -1;
	return optind;
}

/* The HMAC key national IDs are digested with: --kyc-key, else the configuration's. */
static int load_kyc_key(struct ctl *c, uint8_t *key, size_t keysz)
{
	const char *path = c->kyc_key_path ? c->kyc_key_path :
			   c->cfg ? config_kyc_key_file(c->ctx, c->cfg) : NULL;
	char err[1024];
	int n;

	if (path == NULL || (c->kyc_key_path == NULL && c->cfg->kyc_key_file == NULL &&
			     access(path, R_OK) < 0)) {
		fprintf(stderr, "ceirgwctl: national IDs need an HMAC key: --kyc-key FILE, "
			"kyc-key-file in the configuration, or with the embedded Redis the "
			"data-dir/kyc.key ceirgw makes on its first start\n");
		return -EINVAL;
	}
	n = kyc_read_key(path, key, keysz, err, sizeof(err));
	if (n < 0)
		fprintf(stderr, "ceirgwctl: %s\n", err);
	return n;
}

/* ceirgwctl verify MSISDN ID: what the report flow asks, from the command line. */
static int run_verify(struct ctl *c, int argc, char **argv)
{
	struct kyc_digest d;
	struct kyc_rec rec;
	struct msisdn m;
	uint8_t key[1024];
	uint64_t v = 0;
	int first, keylen, rc;
	char day[11];

	first = store_options(c, argc, argv);
	if (first < 0)
		return first == -2 ? EXIT_VALID : EXIT_USAGE;	/* -2: after --help */
	if (argc - first != 2) {
		fprintf(stderr, "ceirgwctl verify: expected MSISDN and ID (or its last %d "
			"characters)\n", KYC_TAIL_DIGITS);
		return EXIT_USAGE;
	}
	if ((keylen = load_kyc_key(c, key, sizeof(key))) < 0)
		return EXIT_USAGE;
	if (msisdn_parse(argv[first], strlen(argv[first]), c->region, &m) != MSISDN_OK) {
		fprintf(stderr, "ceirgwctl: %s: not a valid number (%s)\n", argv[first],
			msisdn_reason_name(m.reason));
		return EXIT_INVALID;
	}
	v = digits_value(m.e164 + 1, strlen(m.e164) - 1);
	if ((rc = connect_store(c, false)) != 0)
		return rc;
	rc = bulk_kyc_get(c->bulk, v, &rec);
	if (rc == -ENOENT) {
		printf("%s: no KYC record\n", m.e164);
		return EXIT_INVALID;
	}
	if (rc < 0) {
		fprintf(stderr, "ceirgwctl: %s\n", bulk_error(c->bulk));
		return EXIT_USAGE;
	}
	memcpy(d.full, rec.full, sizeof(d.full));
	memcpy(d.tail, rec.tail, sizeof(d.tail));
	rc = kyc_matches(key, (size_t)keylen, argv[first + 1], strlen(argv[first + 1]), &d);
	memset(key, 0, sizeof(key));
	if (rec.registered)
		pairs_format_date(rec.registered, day);
	printf("%s: %s (registered %s)\n", m.e164, rc ? "matches" : "does not match",
	       rec.registered ? day : "on an unknown day");
	return rc ? EXIT_VALID : EXIT_INVALID;
}

static void tac_reject(void *arg, size_t line, const char *reason, const char *row,
		       size_t len)
{
	struct { struct rejects *rj; const char *path; } *r = arg;

	rejects_add(r->rj, r->path, line, reason, row, len);
}

/* Exit statuses of import beyond the common ones: the files were read to their end and
 * their good rows stored, but rows were rejected; or --max-reject-ratio stopped it. */
enum { EXIT_IMPORT_REJECTS = 3, EXIT_IMPORT_RATIO = 4 };

/* Standard input has no name to put its rejects beside: it needs --rejects. Returns 0 or
 * EXIT_USAGE. */
static int check_rejects_target(struct ctl *c, int n, char **inputs)
{
	for (int i = 0; i < n && c->rejects_path == NULL; i++) {
		if (strcmp(inputs[i], "-") == 0) {
			fprintf(stderr, "ceirgwctl import: standard input ('-') has no name to put "
				"its rejected rows beside: give --rejects FILE (--rejects /dev/null "
				"to only count them)\n");
			return EXIT_USAGE;
		}
	}
	return 0;
}

/* The rejects of one input: --rejects's (shared, opened once by the caller), else
 * INPUT.rejects.csv. NULL after saying why. */
static struct rejects *open_rejects_beside(struct ctl *c, const char *input)
{
	char err[1200], *path = talloc_asprintf(c->ctx, "%s.rejects.csv", input);
	struct rejects *rj;

	if (c->rejects_path)
		rj = rejects_open(c->ctx, c->rejects_path, err, sizeof(err));
	else if (path == NULL)
		return NULL;
	else
		rj = rejects_open_default(c->ctx, path, err, sizeof(err));
	if (rj == NULL)
		fprintf(stderr, "ceirgwctl: rejects file %s%s\n", err,
			c->rejects_path ? "" : " (--rejects FILE puts them elsewhere)");
	return rj;
}

/* Closes a rejects file and says where its rows went. Returns 0 or -EIO. */
static int close_rejects(struct rejects *rj, bool summary)
{
	if (rejects_close(rj) < 0) {
		fprintf(stderr, "ceirgwctl: rejects file %s: cannot write it whole\n",
			rejects_path(rj));
		return -EIO;
	}
	if (summary && rejects_count(rj) > 0)
		printf("rejects: %zu rows in %s\n", rejects_count(rj), rejects_path(rj));
	return 0;
}

/* --metrics-file: NULL without it or after saying why it cannot be written (*rc then
 * EXIT_USAGE). */
static struct import_metrics *open_metrics(struct ctl *c, const char *kind, int *rc)
{
	struct import_metrics *m;
	char err[1200];

	*rc = 0;
	if (c->metrics_path == NULL)
		return NULL;
	m = import_metrics_open(c->ctx, c->metrics_path, kind, err, sizeof(err));
	if (m == NULL) {
		fprintf(stderr, "ceirgwctl: --metrics-file %s\n", err);
		*rc = EXIT_USAGE;
	}
	return m;
}

/* ceirgwctl import tac FILE: checks an operator's TAC table as ceirgw reads it and puts it
 * in Redis, where every ceirgw process takes it from instead of tac-file. The table is read
 * whole before Redis is touched, so --max-reject-ratio leaves Redis as it was. */
static int run_import_tac(struct ctl *c, int argc, char **argv)
{
	struct { struct rejects *rj; const char *path; } ra;
	struct tac_load_stats st;
	struct import_metrics *m;
	struct tac_table *t;
	char err[1024], source[300];
	const char *pre;
	struct stat sb;
	int first, rc;

	first = store_options(c, argc - 1, argv + 1);
	if (first < 0)
		return first == -2 ? EXIT_VALID : EXIT_USAGE;	/* -2: after --help */
	first += 1;
	if (argc - first != 1) {
		fprintf(stderr, "ceirgwctl import tac: expected one FILE\n");
		return EXIT_USAGE;
	}
	ra.path = argv[first];
	if (check_rejects_target(c, 1, &argv[first]) != 0 ||
	    (ra.rj = open_rejects_beside(c, ra.path)) == NULL)
		return EXIT_USAGE;
	m = open_metrics(c, "tac", &rc);
	if (rc != 0) {
		close_rejects(ra.rj, false);
		return rc;
	}
	memset(&st, 0, sizeof(st));
	t = tac_table_load_ex(c->ctx, ra.path, &st, tac_reject, &ra, err, sizeof(err));
	if (m)
		import_metrics_set(m, 0, st.rejected,
				   stat(ra.path, &sb) == 0 ? (uint64_t)sb.st_size : 0);
	rc = close_rejects(ra.rj, false) < 0 ? EXIT_INVALID : 0;
	if (t == NULL) {
		fprintf(stderr, "ceirgwctl: %s\n", err);
		rc = EXIT_INVALID;
	} else if (import_ratio_exceeded(st.rejected, st.rows, c->max_reject_ratio)) {
		fprintf(stderr, "ceirgwctl: %s: %zu of %zu rows rejected (%.1f%%), more than "
			"--max-reject-ratio %g: the TAC table in Redis is left as it was\n", ra.path,
			st.rejected, st.rows, 100.0 * (double)st.rejected / (double)st.rows,
			c->max_reject_ratio);
		rejects_summary(ra.rj, stdout);
		printf("rejects: %zu rows in %s\n", rejects_count(ra.rj), rejects_path(ra.rj));
		rc = EXIT_IMPORT_RATIO;
	}
	if (rc == 0 && (rc = connect_store(c, true)) == 0 &&
	    bulk_lock(c->bulk, err, sizeof(err)) < 0) {
		fprintf(stderr, "ceirgwctl: %s\n", err);
		rc = EXIT_USAGE;
	}
	if (rc != 0) {
		if (m)
			import_metrics_end(m, false);
		return rc;
	}
	/* The preamble's first line names the table and its licence; keep it with the data. */
	pre = tac_table_preamble(t);
	snprintf(source, sizeof(source), "%.*s", (int)strcspn(pre, "\r\n"), pre);
	if (source[0] == '\0')
		snprintf(source, sizeof(source), "%s", ra.path);
	rc = bulk_tac_replace(c->bulk, t, source);
	bulk_unlock(c->bulk);
	if (m) {
		import_metrics_set(m, rc < 0 ? 0 : st.loaded, st.rejected,
				   stat(ra.path, &sb) == 0 ? (uint64_t)sb.st_size : 0);
		import_metrics_end(m, rc == 0);
	}
	if (rc < 0) {
		fprintf(stderr, "ceirgwctl: %s\n", bulk_error(c->bulk));
		return EXIT_INVALID;
	}
	printf("tac: %zu rows: %zu TACs loaded, %zu rejected, %zu duplicates; the TAC table in "
	       "Redis now replaces tac-file for every ceirgw on this Redis\n", st.rows,
	       st.loaded, st.rejected, st.duplicates);
	if (st.padded)
		printf("tac: %zu TACs of fewer than 8 digits padded with leading zeros (%zu left "
		       "out: the same TAC written with 8 digits wins)\n", st.padded,
		       st.padded_dropped);
	if (st.rejected) {
		rejects_summary(ra.rj, stdout);
		printf("rejects: %zu rows in %s\n", rejects_count(ra.rj), rejects_path(ra.rj));
	}
	return st.rejected ? EXIT_IMPORT_REJECTS : EXIT_VALID;
}

static int run_import(struct ctl *c, int argc, char **argv)
{
	struct import_counts total = { 0 }, one;
	const struct bulk_stats *st;
	struct import_metrics *m = NULL;
	struct msisdn_memo *memo;
	struct rejects **rjs;
	char err[1024];
	int first, i, n, rc = 0;
	size_t hits, misses;
	struct timespec t0, t1;
	double dt;

	struct import_opts io;
	struct sight *sight = NULL;
	enum import_kind kind;
	uint8_t key[1024];
	int keylen = 0;

	if (argc >= 2 && strcmp(argv[1], "pairings") == 0) {
		kind = IMPORT_PAIRINGS;
	} else if (argc >= 2 && strcmp(argv[1], "kyc") == 0) {
		kind = IMPORT_KYC;
	} else if (argc >= 2 && strcmp(argv[1], "tac") == 0) {
		return run_import_tac(c, argc, argv);
	} else if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		command_usage(c->ctx, "import", stdout);
		return EXIT_VALID;
	} else {
		fprintf(stderr, "ceirgwctl import: expected pairings, kyc or tac\n");
		return EXIT_USAGE;
	}
	first = store_options(c, argc - 1, argv + 1);
	if (first < 0)
		return first == -2 ? EXIT_VALID : EXIT_USAGE;	/* -2: after --help */
	first += 1;
	if (first >= argc) {
		fprintf(stderr, "ceirgwctl import %s: no FILE given ('-' reads standard input)\n",
			argv[1]);
		return EXIT_USAGE;
	}
	n = argc - first;
	if (check_rejects_target(c, n, argv + first) != 0)
		return EXIT_USAGE;
	if (kind == IMPORT_KYC && (keylen = load_kyc_key(c, key, sizeof(key))) < 0)
		return EXIT_USAGE;
	if ((rc = connect_store(c, true)) != 0)
		return rc;
	if (bulk_lock(c->bulk, err, sizeof(err)) < 0) {
		fprintf(stderr, "ceirgwctl: %s\n", err);
		return EXIT_USAGE;
	}
	/* Sightings (issue 22): the index of reported IMEIs in memory before the first row. */
	if (kind == IMPORT_PAIRINGS) {
		sight = ctl_sight_open(c->ctx, c->bulk, c->cfg, c->tac_path, err, sizeof(err));
		if (sight == NULL)
			fprintf(stderr, "ceirgwctl: sightings are not looked for: %s\n", err);
	}
	/* Every rejects file is opened before the first row is read: one that cannot be
	 * written stops the command before anything is stored. --rejects: one for all. */
	rjs = talloc_zero_array(c->ctx, struct rejects *, (size_t)n);
	memo = msisdn_memo_new(c->ctx, c->region, 1 << 20);
	if (rjs == NULL || memo == NULL) {
		fprintf(stderr, "ceirgwctl: out of memory\n");
		bulk_unlock(c->bulk);
		return EXIT_USAGE;
	}
	for (i = 0; i < n && rc == 0; i++) {
		rjs[i] = i > 0 && c->rejects_path ? rjs[0] : open_rejects_beside(c, argv[first + i]);
		if (rjs[i] == NULL)
			rc = EXIT_USAGE;
	}
	if (rc == 0)
		m = open_metrics(c, argv[1], &rc);
	if (rc != 0) {
		for (i = 0; i < n && rjs[i]; i++)
			if (i == 0 || !c->rejects_path)
				close_rejects(rjs[i], false);
		bulk_unlock(c->bulk);
		return rc;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n && rc == 0; i++) {
		memset(&one, 0, sizeof(one));
		io = (struct import_opts){ .bulk = c->bulk, .memo = memo, .rejects = rjs[i],
					   .kyc_key = key, .kyc_keylen = (size_t)keylen,
					   .progress = isatty(2), .max_reject_ratio = c->max_reject_ratio,
					   .before = &total, .metrics = m, .sight = sight };
		rc = import_file(kind, argv[first + i], &io, &one, err, sizeof(err));
		total.rows += one.rows;
		total.imported += one.imported;
		total.rejected += one.rejected;
		total.bytes += one.bytes;
		if (rc < 0)
			fprintf(stderr, "ceirgwctl: %s\n", err);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	dt = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	bulk_unlock(c->bulk);
	st = bulk_stats(c->bulk);
	msisdn_memo_stats(memo, &hits, &misses);
	memset(key, 0, sizeof(key));
	printf("%s: %zu rows in %.2f s (%.0f rows/s): %zu imported, %zu rejected; ", argv[1],
	       total.rows, dt, dt > 0 ? (double)total.rows / dt : 0, total.imported,
	       total.rejected);
	if (kind == IMPORT_PAIRINGS)
		printf("%zu IMEI and %zu MSISDN entries written, %zu already known; "
		       "%zu IMEIs duplicated\n", st->imei_written, st->msisdn_written,
		       st->unchanged, st->duplicated);
	else
		printf("%zu subscribers written, %zu already known\n", st->kyc_written,
		       st->unchanged);
	if (sight) {
		const struct sight_stats *ss = sight_stats(sight);

		printf("sightings: %zu new (%zu SMS to owners), %zu already known; %zu rows of "
		       "reported IMEIs on the owner's or reporter's line, %zu before the report, "
		       "%zu of closed reports; %zu reported IMEIs watched\n", ss->fresh, ss->sms,
		       ss->known, ss->own, ss->before, ss->closed, ss->watched);
		if (ss->full)
			printf("warning: %zu new lines of reports that hold 1000 sightings already "
			       "were not kept\n", ss->full);
	}
	if (total.rejected && c->rejects_path)
		rejects_summary(rjs[0], stdout);
	for (i = 0; i < n && rjs[i]; i++) {
		if (c->rejects_path && i > 0)
			break;
		if (!c->rejects_path && rejects_count(rjs[i]) > 0)
			rejects_summary(rjs[i], stdout);
		if (close_rejects(rjs[i], true) < 0 && rc == 0)
			rc = -EIO;
	}
	if (rc == -ECANCELED && st->dropped)
		printf("stopped by --max-reject-ratio %g: %zu rows of the refused batch not "
		       "written; %zu rows of earlier batches stay stored\n", c->max_reject_ratio,
		       st->dropped, st->rows_written);
	else if (rc == -ECANCELED)
		printf("stopped by --max-reject-ratio %g at the end of a file: %zu rows of earlier "
		       "batches stay stored\n", c->max_reject_ratio, st->rows_written);
	if (st->corrupt)
		printf("warning: %zu stored values did not decode and were replaced\n",
		       st->corrupt);
	if (st->redirects)
		printf("cluster: %zu redirections followed (slots moved during the import)\n",
		       st->redirects);
	if (m) {
		import_metrics_set(m, st->rows_written, total.rejected, total.bytes);
		import_metrics_end(m, rc == 0);
	}
	if (rc == -ECANCELED)
		return EXIT_IMPORT_RATIO;
	if (rc < 0)
		return EXIT_INVALID;
	return total.rejected ? EXIT_IMPORT_REJECTS : EXIT_VALID;
}

static void print_pairings(struct ctl *c, const char *in, const struct imei *im,
			   const struct pair_rec *recs, int n)
{
	bool dup = n > 0 && pairs_duplicated(recs, (size_t)n, c->cfg ? c->cfg->duplicate_min_ids
					     : 2, c->cfg ? c->cfg->duplicate_by_imsi : true);
	char first[11], last[11], num[24];
	int i;

	if (c->json) {
		json_object_begin(&c->jb);
		json_key_cstr(&c->jb, "imei", im->imei);
		json_key_bool(&c->jb, "duplicated", dup);
		json_key_int(&c->jb, "pairings", n);
		json_object_end(&c->jb);
		/* The records as an array would need nesting; one line per record follows. */
		json_line(c);
		for (i = 0; i < n; i++) {
			snprintf(num, sizeof(num), "+%llu", (unsigned long long)recs[i].msisdn);
			pairs_format_date(recs[i].first_seen, first);
			pairs_format_date(recs[i].last_seen, last);
			json_object_begin(&c->jb);
			json_key_cstr(&c->jb, "imei", im->imei);
			json_key_cstr(&c->jb, "msisdn", num);
			json_key_cstr(&c->jb, "first_seen", first);
			json_key_cstr(&c->jb, "last_seen", last);
			if (recs[i].imsi_tag) {
				snprintf(num, sizeof(num), "%06x", (unsigned)recs[i].imsi_tag);
				json_key_cstr(&c->jb, "imsi_tag", num);
			} else {
				json_key_null(&c->jb, "imsi_tag");
			}
			json_object_end(&c->jb);
			json_line(c);
		}
		return;
	}
	printf("imei       %s%s (input %s)\n", im->imei, dup ? " DUPLICATED" : "", in);
	if (n == 0)
		printf("  no pairings\n");
	for (i = 0; i < n; i++) {
		pairs_format_date(recs[i].first_seen, first);
		pairs_format_date(recs[i].last_seen, last);
		printf("  +%-16llu %s .. %s", (unsigned long long)recs[i].msisdn, first, last);
		if (recs[i].imsi_tag)
			printf("  sim %06x", (unsigned)recs[i].imsi_tag);
		putchar('\n');
	}
}

static int run_lookup(struct ctl *c, int argc, char **argv)
{
	struct pair_rec recs[PAIRS_MAX_RECORDS];
	uint64_t bodies[PAIRS_MAX_RECORDS], v;
	bool is_imei, bad = false;
	int first, i, j, n, rc;
	struct msisdn m;
	struct imei im;
	char imei15[16];

	if (argc < 2 || (strcmp(argv[1], "imei") != 0 && strcmp(argv[1], "msisdn") != 0)) {
		if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
			command_usage(c->ctx, "lookup", stdout);
			return EXIT_VALID;
		}
		fprintf(stderr, "ceirgwctl lookup: expected imei or msisdn\n");
		return EXIT_USAGE;
	}
	is_imei = strcmp(argv[1], "imei") == 0;
	first = store_options(c, argc - 1, argv + 1);
	if (first < 0)
		return first == -2 ? EXIT_VALID : EXIT_USAGE;	/* -2: after --help */
	first += 1;
	if (first >= argc) {
		fprintf(stderr, "ceirgwctl lookup: no VALUE given\n");
		return EXIT_USAGE;
	}
	if ((rc = connect_store(c, false)) != 0)
		return rc;
	for (i = first; i < argc; i++) {
		if (is_imei) {
			if (imei_parse(argv[i], strlen(argv[i]), &im) != IMEI_OK) {
				fprintf(stderr, "ceirgwctl: %s: not a valid IMEI (%s)\n", argv[i],
					imei_reason_name(im.reason));
				bad = true;
				continue;
			}
			v = digits_value(im.imei, 14);
			n = bulk_imei_pairings(c->bulk, v, recs);
			if (n < 0)
				goto store_error;
			print_pairings(c, argv[i], &im, recs, n);
			bad |= n == 0;
			continue;
		}
		if (msisdn_parse(argv[i], strlen(argv[i]), c->region, &m) != MSISDN_OK) {
			fprintf(stderr, "ceirgwctl: %s: not a valid number (%s)\n", argv[i],
				msisdn_reason_name(m.reason));
			bad = true;
			continue;
		}
		v = digits_value(m.e164 + 1, strlen(m.e164) - 1);
		n = bulk_msisdn_handsets(c->bulk, v, bodies);
		if (n < 0)
			goto store_error;
		for (j = 0; j < n; j++) {
			snprintf(imei15, sizeof(imei15), "%014llu", (unsigned long long)bodies[j]);
			imei15[14] = imei_check_digit(imei15);
			imei15[15] = '\0';
			if (c->json) {
				json_object_begin(&c->jb);
				json_key_cstr(&c->jb, "msisdn", m.e164);
				json_key_cstr(&c->jb, "imei", imei15);
				json_object_end(&c->jb);
				json_line(c);
			} else {
				printf("%s  %s\n", m.e164, imei15);
			}
		}
		if (n == 0 && !c->json)
			printf("%s  no handsets\n", m.e164);
		bad |= n == 0;
	}
	return bad ? EXIT_INVALID : EXIT_VALID;
store_error:
	fprintf(stderr, "ceirgwctl: %s\n", bulk_error(c->bulk));
	return EXIT_USAGE;
}

static void print_problem(void *arg, const char *flow, const char *screen, const char *lang,
			  const char *msg)
{
	(void)arg;
	printf("flow %s%s%s%s%s: %s\n", flow ? flow : "?", screen ? ", screen " : "",
	       screen ? screen : "", lang ? ", language " : "", lang ? lang : "", msg);
}

static int run_flows(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "flows", required_argument, NULL, 'f' },
		{ "templates", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *flows = NULL, *templates = NULL, *lang = "en";
	struct journeys *j;
	char err[1024];
	int o;

	bool render = argc >= 2 && strcmp(argv[1], "render") == 0;

	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		command_usage(c->ctx, "flows", stdout);
		return EXIT_VALID;
	}
	if (argc < 2 || (strcmp(argv[1], "check") != 0 && !render)) {
		fprintf(stderr, "ceirgwctl flows: expected check or render\n");
		return EXIT_USAGE;
	}
	argc--;
	argv++;
	optind = 1;
	while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c': c->config_path = optarg; break;
		case 'f': flows = optarg; break;
		case 't': templates = optarg; break;
		case 'h': command_usage(c->ctx, "flows", stdout); return 0;
		default: return EXIT_USAGE;
		}
	}
	if (optind != argc && !render) {
		fprintf(stderr, "ceirgwctl flows check: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (render && argc - optind < 2) {
		fprintf(stderr, "ceirgwctl flows render: expected LANG KEY [NAME=VALUE]...\n");
		return EXIT_USAGE;
	}
	if (c->config_path) {
		if ((c->cfg = ctl_config_load(c->ctx, c->config_path)) == NULL)
			return EXIT_USAGE;
		if (flows == NULL)
			flows = c->cfg->flows_dir;
		if (templates == NULL)
			templates = c->cfg->templates_dir;
		lang = c->cfg->default_language;
	}
	if (flows == NULL)
		flows = config_default_dir("flows");
	if (templates == NULL)
		templates = config_default_dir("templates");
	j = journeys_load(c->ctx, flows, templates, lang, print_problem, NULL, err, sizeof(err));
	if (j == NULL) {
		printf("%s\n", err);
		return EXIT_INVALID;
	}
	if (render) {
		/* A text as users see it, for translators and the tests: placeholders from the
		 * NAME=VALUE arguments, missing ones empty. */
		struct tpl_var v[32];
		size_t nv = 0, np;
		const struct tpl_placeholder *ph = flow_placeholders(&np);
		char out[4096];
		int n;

		for (size_t i = 0; i < np && nv < 32; i++) {
			v[nv].name = ph[i].name;
			v[nv].val = "";
			for (int a = optind + 2; a < argc; a++) {
				size_t kl = strlen(ph[i].name);

				if (strncmp(argv[a], ph[i].name, kl) == 0 && argv[a][kl] == '=')
					v[nv].val = argv[a] + kl + 1;
			}
			v[nv].len = strlen(v[nv].val);
			nv++;
		}
		n = tpl_render(j->tpl, argv[optind], argv[optind + 1], v, nv, out, sizeof(out),
			       NULL);
		if (n < 0) {
			fprintf(stderr, "ceirgwctl flows render: %s %s: %s\n", argv[optind],
				argv[optind + 1], strerror(-n));
			return EXIT_INVALID;
		}
		printf("%s\n", out);
		return EXIT_VALID;
	}
	printf("flow %s: %zu screens, %zu SMS commands, %zu languages: no problems\n",
	       j->flow->name, j->flow->nscreens, j->flow->ncommands,
	       tpl_languages(j->tpl, NULL, 0));
	return EXIT_VALID;
}

int main(int argc, char **argv)
{
	struct ctl c;
	int rc;

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("ceirgwctl %s\n", PACKAGE_VERSION);
		return 0;
	}
	memset(&c, 0, sizeof(c));
	c.max_reject_ratio = 1;
	c.ctx = talloc_new(NULL);
	c.command = argv[1];
	json_init(&c.jb);
	logging_setup("ceirgwctl", LOGL_WARN);
	if (strcmp(argv[1], "help") == 0) {
		if (argc != 3) {
			usage(argc == 2 ? stdout : stderr);
			rc = argc == 2 ? 0 : EXIT_USAGE;
		} else if (command_usage(c.ctx, argv[2], stdout)) {
			rc = 0;
		} else {
			fprintf(stderr, "ceirgwctl help: unknown command '%s'\n", argv[2]);
			rc = EXIT_USAGE;
		}
	} else if (admin_is_command(argv[1])) {
		rc = admin_main(c.ctx, argc - 1, argv + 1);
	} else if (strcmp(argv[1], "imei") == 0) {
		rc = run_check(&c, argc - 1, argv + 1, true);
	} else if (strcmp(argv[1], "msisdn") == 0) {
		rc = run_check(&c, argc - 1, argv + 1, false);
	} else if (strcmp(argv[1], "import") == 0) {
		rc = run_import(&c, argc - 1, argv + 1);
	} else if (strcmp(argv[1], "lookup") == 0) {
		rc = run_lookup(&c, argc - 1, argv + 1);
	} else if (strcmp(argv[1], "verify") == 0) {
		rc = run_verify(&c, argc - 1, argv + 1);
	} else if (strcmp(argv[1], "phone") == 0) {
		rc = phone_main(c.ctx, argc - 1, argv + 1);
	} else if (strcmp(argv[1], "flows") == 0) {
		rc = run_flows(&c, argc - 1, argv + 1);
	} else if (strcmp(argv[1], "feed") == 0) {
		rc = feed_main(c.ctx, argc - 1, argv + 1);
	} else {
		fprintf(stderr, "ceirgwctl: unknown command '%s'\n", argv[1]);
		usage(stderr);
		rc = EXIT_USAGE;
	}
	json_free(&c.jb);
	talloc_free(c.ctx);
	gw_stop();
	return rc;
}
