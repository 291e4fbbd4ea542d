/* ceirgwctl: the operator's command-line tool. Checks IMEIs and MSISDNs the way the gateway
 * reads them, for people and for scripts (--json, one object per line). */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <talloc.h>

#include "core/config.h"
#include "core/gw.h"
#include "core/json.h"
#include "core/logging.h"
#include "domain/imei.h"
#include "domain/msisdn.h"
#include "domain/tac.h"

/* A line read from standard input longer than this is answered as too long, not stored. */
#define LINE_MAX_BYTES 4096

enum { EXIT_VALID = 0, EXIT_INVALID = 1, EXIT_USAGE = 2 };

struct ctl {
	void *ctx;
	const char *config_path;
	struct ceirgw_config *cfg;
	bool json;
	struct json_buf jb;
	/* imei */
	const char *tac_path;
	struct tac_table *tac;
	/* msisdn */
	const char *region;
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
		"\n"
		"An INPUT of '-' reads one input per line from standard input.\n"
		"  --json          one JSON object per input and line\n"
		"  -c, --config F  take tac-file and default-region from ceirgw's configuration\n"
		"  --tac FILE      TAC table to use (default: the configuration's, else the one\n"
		"                  shipped with ceirgw)\n"
		"  --region CC     region of numbers written without a country code (default:\n"
		"                  the configuration's default-region, else KE)\n"
		"  -h, --help      show this help;  -V, --version  show the version\n"
		"\n"
		"Exit status: 0 when every input is valid, 1 when one is not, 2 on a usage or\n"
		"configuration error.\n");
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

static int check_imei(struct ctl *c, const char *in, size_t len)
{
	struct tac_entry te = { 0 };
	struct imei im;
	bool known = false;

	imei_parse(in, len, &im);
	if (im.has_digits)
		known = tac_lookup(c->tac, im.tac, &te) == 0;
	if (c->json) {
		json_object_begin(&c->jb);
		json_key_str(&c->jb, "input", in, len);
		json_key_cstr(&c->jb, "imei", im.has_digits ? im.imei : NULL);
		json_key_bool(&c->jb, "valid", im.valid);
		json_key_cstr(&c->jb, "reason", imei_reason_name(im.reason));
		json_key_bool(&c->jb, "computed_check_digit", im.computed_check_digit);
		json_key_cstr(&c->jb, "svn", im.svn[0] ? im.svn : NULL);
		json_key_cstr(&c->jb, "tac", im.has_digits ? im.tac : NULL);
		json_key_cstr(&c->jb, "maker", known ? te.maker : NULL);
		json_key_cstr(&c->jb, "model", known ? te.model : NULL);
		json_object_end(&c->jb);
		json_line(c);
	} else {
		print_input(in, len);
		field("imei", im.has_digits ? im.imei : NULL);
		printf("  %-10s %s (%s)\n", "valid", im.valid ? "yes" : "no",
		       imei_reason_name(im.reason));
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
	if (c->json) {
		json_object_begin(&c->jb);
		json_key_str(&c->jb, "input", in, len);
		json_key_cstr(&c->jb, "msisdn", m.valid ? m.e164 : NULL);
		json_key_bool(&c->jb, "valid", m.valid);
		json_key_cstr(&c->jb, "reason", msisdn_reason_name(m.reason));
		json_key_cstr(&c->jb, "region", m.valid ? m.region : NULL);
		json_key_cstr(&c->jb, "type", m.valid ? msisdn_type_name(m.type) : NULL);
		json_key_cstr(&c->jb, "masked", m.valid ? masked : NULL);
		json_object_end(&c->jb);
		json_line(c);
	} else {
		print_input(in, len);
		field("msisdn", m.valid ? m.e164 : NULL);
		printf("  %-10s %s (%s)\n", "valid", m.valid ? "yes" : "no",
		       msisdn_reason_name(m.reason));
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

	if (c->config_path) {
		gw_start();
		c->cfg = config_load(c->ctx, c->config_path, NULL, err, sizeof(err));
		if (c->cfg == NULL) {
			fprintf(stderr, "ceirgwctl: %s\n", err);
			return EXIT_USAGE;
		}
	}
	if (c->region == NULL)
		c->region = c->cfg ? c->cfg->default_region : "KE";
	if (!need_tac && !msisdn_region_known(c->region)) {
		fprintf(stderr, "ceirgwctl: --region %s: not a region code (two letters, e.g. KE)\n",
			c->region);
		return EXIT_USAGE;
	}
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
		case 'h': usage(stdout); exit(0);
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
	usage(stderr);
	return EXIT_USAGE;
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
	c.ctx = talloc_new(NULL);
	json_init(&c.jb);
	logging_setup("ceirgwctl", LOGL_WARN);
	if (strcmp(argv[1], "imei") == 0) {
		rc = run_check(&c, argc - 1, argv + 1, true);
	} else if (strcmp(argv[1], "msisdn") == 0) {
		rc = run_check(&c, argc - 1, argv + 1, false);
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
