/* libFuzzer harness for the flow loader and checker (flow/flow.h). The input is one flow file,
 * fuzz.yaml; when it loads, flow_check() runs against a small set of texts (English and
 * Arabic, so both USSD codings are measured) loaded once. Besides crashes it checks what the
 * header promises: an error names the file, a loaded flow only refers to screens it has, and
 * flow_check() returns as many problems as it reported, naming only the flow's screens and
 * the set's languages. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <talloc.h>

#include "fuzzlib.h"

#include "flow/flow.h"
#include "flow/templates.h"

/* The keys of the seed corpus' flows (tests/fuzz/corpus-flows), a few of them too long for
 * one screen, and one left out of Arabic: the checker's every kind of text problem. */
static const char en_yaml[] =
	"language: en\n"
	"name: English\n"
	"texts:\n"
	"  menu.main: \"Phone check\\n1 Check a phone\\n2 I lost my phone\"\n"
	"  check.ask: \"Enter the IMEI (dial *#06#):\"\n"
	"  check.clean: \"{maker} {model}: not reported.\"\n"
	"  check.reported: \"{maker} {model}: reported. Do not buy it.\"\n"
	"  check.unknown: \"IMEI {imei}: no known model.\"\n"
	"  check.invalid: \"That is not an IMEI.\"\n"
	"  lost.advice: \"Report a lost phone at an operator shop.\"\n"
	"  common.limited: \"Too many requests. Try again later.\"\n"
	"  common.unavailable: \"The service is busy. Try again later.\"\n"
	"  sms.help: \"Send CHECK <IMEI> to check a phone.\"\n"
	"  kw.check: \"CHECK,IMEI\"\n"
	"  lang.menu: \"Language\\n{languages}\"\n"
	"  report.pick: \"Which phone?\\n{handsets}\\n8 Another phone\\n9 For another number\"\n"
	"  status.rejected: \"Report {ref} ({maker} {model}): rejected by the CEIR: {why}. "
	"Visit an operator shop with your ID and the phone's box or receipt to know more.\"\n";

static const char ar_yaml[] =
	"language: ar\n"
	"name: \"\xd8\xa7\xd9\x84\xd8\xb9\xd8\xb1\xd8\xa8\xd9\x8a\xd8\xa9\"\n"
	"direction: rtl\n"
	"texts:\n"
	"  menu.main: \"\xd9\x81\xd8\xad\xd8\xb5\\n1 \xd9\x81\xd8\xad\xd8\xb5\\n2 \xd9\x81\xd9\x82\xd8\xaf\"\n"
	"  check.ask: \"IMEI?\"\n"
	"  check.clean: \"{maker} {model}: \xd9\x84\xd8\xa7\"\n"
	"  check.reported: \"{maker} {model}: \xd9\x86\xd8\xb9\xd9\x85. \xd9\x84\xd8\xa7 \xd8\xaa\xd8\xb4\xd8\xaa\xd8\xb1\xd9\x87 \xd8\xa3\xd8\xa8\xd8\xaf\xd8\xa7 \xd8\xa3\xd8\xa8\xd8\xaf\xd8\xa7 \xd8\xa3\xd8\xa8\xd8\xaf\xd8\xa7 \xd8\xa3\xd8\xa8\xd8\xaf\xd8\xa7\"\n"
	"  check.unknown: \"IMEI {imei}: \xd8\x9f\"\n"
	"  check.invalid: \"\xd9\x84\xd8\xa7 IMEI\"\n"
	"  lost.advice: \"\xd9\x85\xd8\xaa\xd8\xac\xd8\xb1\"\n"
	"  common.limited: \"\xd9\x84\xd8\xa7\xd8\xad\xd9\x82\xd8\xa7\"\n"
	"  common.unavailable: \"\xd9\x84\xd8\xa7\xd8\xad\xd9\x82\xd8\xa7\"\n"
	"  sms.help: \"\xd9\x81\xd8\xad\xd8\xb5 <IMEI>\"\n"
	"  lang.menu: \"{languages}\"\n"
	"  report.pick: \"{handsets}\\n8 \xd8\xa2\xd8\xae\xd8\xb1\\n9 \xd8\xb1\xd9\x82\xd9\x85\"\n"
	"  status.rejected: \"{ref} ({maker} {model}): {why}\"\n";

static struct tpl_set *texts;
static const char *langs[4];
static size_t nlangs;

/* Loaded on the first call and kept: the same set for every input. */
static void load_texts(void)
{
	const struct tpl_placeholder *reg;
	size_t nreg;
	char err[256];

	reg = flow_placeholders(&nreg);
	texts = tpl_load_mem(NULL, "en.yaml", en_yaml, sizeof(en_yaml) - 1, reg, nreg, err,
			     sizeof(err));
	if (texts == NULL) {
		fprintf(stderr, "fuzz_flows: %s\n", err);
		abort();
	}
	if (tpl_add_mem(texts, "ar.yaml", ar_yaml, sizeof(ar_yaml) - 1, err, sizeof(err)) < 0) {
		fprintf(stderr, "fuzz_flows: %s\n", err);
		abort();
	}
	CHECK(tpl_set_default(texts, "en") == 0);
	nlangs = tpl_languages(texts, langs, 4);
	CHECK(nlangs == 2);
}

struct seen {
	const struct flow *f;
	size_t n;
};

static void count(void *arg, const char *flow, const char *screen, const char *lang,
		  const char *msg)
{
	struct seen *s = arg;
	size_t i;

	CHECK(flow != NULL && strcmp(flow, s->f->name) == 0);
	CHECK(msg != NULL && msg[0] != '\0');
	CHECK(screen == NULL || flow_screen_index(s->f, screen) >= 0);
	if (lang != NULL) {
		for (i = 0; i < nlangs; i++)
			if (strcmp(lang, langs[i]) == 0)
				break;
		CHECK(i < nlangs);
	}
	s->n++;
}

/* A screen index as the loader leaves it: a screen, or one of the "none" values allowed. */
static bool in_range(const struct flow *f, int idx, int lowest)
{
	return idx >= lowest && idx < (int)f->nscreens;
}

static void check_set(const struct flow_set *set, size_t nset)
{
	CHECK(nset <= FLOW_SETS_MAX);
	for (size_t i = 0; i < nset; i++) {
		CHECK(set[i].var == FV_REASON);
		CHECK(strcmp(set[i].value, "stolen") == 0 || strcmp(set[i].value, "lost") == 0);
	}
}

static void check_rules(const struct flow *f, const struct flow_rule *r, size_t n, bool cmd)
{
	CHECK(n <= FLOW_RULES_MAX);
	for (size_t i = 0; i < n; i++) {
		CHECK(in_range(f, r[i].next, 0));
		CHECK(r[i].nargs <= FLOW_ARGS_MAX);
		CHECK(cmd ? (r[i].keywords != NULL || r[i].nargs > 0) : r[i].nargs > 0);
		CHECK(cmd || r[i].keywords == NULL);
		for (size_t a = 0; a < r[i].nargs; a++)
			CHECK(r[i].args[a] > FV_NONE && r[i].args[a] < FV_COUNT &&
			      r[i].args[a] != FV_PICK);
		check_set(r[i].set, r[i].nset);
		CHECK(in_range(f, r[i].missing, -1) && (cmd || r[i].missing == -1));
		for (size_t a = 0; a < FLOW_ARGS_MAX; a++)
			CHECK(in_range(f, r[i].invalid[a], -1) &&
			      (a < r[i].nargs || r[i].invalid[a] == -1));
	}
}

/* What a loaded flow promises: names, kinds and every reference within the flow. */
static void check_flow(const struct flow *f)
{
	CHECK(f->name != NULL && strlen(f->name) <= FLOW_NAME_MAX);
	CHECK(f->nscreens >= 1 && f->nscreens <= FLOW_SCREENS_MAX);
	CHECK(in_range(f, f->start, 0) && in_range(f, f->sms_help, 0));
	CHECK(in_range(f, f->resume, -1));
	check_rules(f, f->dial, f->ndial, false);
	check_rules(f, f->commands, f->ncommands, true);
	for (size_t i = 0; i < f->nscreens; i++) {
		const struct flow_screen *s = &f->screens[i];

		CHECK(s->name != NULL && strlen(s->name) <= FLOW_NAME_MAX);
		CHECK(flow_screen_index(f, s->name) == (int)i);
		CHECK(s->nchoices <= FLOW_CHOICES_MAX);
		CHECK(!s->resumable || s->kind == FS_MENU || s->kind == FS_INPUT);
		CHECK(in_range(f, s->invalid, -1));
		for (size_t c = 0; c < s->nchoices; c++) {
			CHECK(s->choices[c].key >= '0' && s->choices[c].key <= '9');
			for (size_t d = 0; d < c; d++)
				CHECK(s->choices[d].key != s->choices[c].key);
			CHECK(in_range(f, s->choices[c].next, 0) ||
			      s->choices[c].next == FLOW_CONTINUE);
			check_set(s->choices[c].set, s->choices[c].nset);
		}
		switch (s->kind) {
		case FS_MENU:
			CHECK(s->text != NULL && s->nchoices > 0);
			CHECK(s->input == FV_NONE || in_range(f, s->next, 0));
			break;
		case FS_INPUT:
			CHECK(s->text != NULL && s->nchoices == 0 && s->input != FV_NONE);
			CHECK(in_range(f, s->next, 0) && in_range(f, s->invalid, 0));
			break;
		case FS_ACTION: {
			const struct flow_action_info *ai = flow_action_info(s->action);

			CHECK(ai != NULL && s->on != NULL && s->text == NULL);
			CHECK(s->nchoices == 0 && s->input == FV_NONE);
			/* -2: an outcome the flow leaves unmapped (flow_check reports it) */
			for (size_t o = 0; ai->outcomes[o]; o++)
				CHECK(in_range(f, s->on[o], -2) && s->on[o] != -1);
			break;
		}
		case FS_END:
			CHECK(s->text != NULL && s->nchoices == 0 && s->input == FV_NONE);
			break;
		default:
			CHECK(!"a screen of no kind");
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	void *ctx = talloc_new(NULL);
	struct flow *f;
	struct seen seen = { 0 };
	char err[256];
	size_t n;

	if (texts == NULL)
		load_texts();
	CHECK(ctx != NULL);
	err[0] = '\0';
	f = flow_load_mem(ctx, "fuzz.yaml", (const char *)data, size, err, sizeof(err));
	if (f == NULL) {
		CHECK(strncmp(err, "fuzz.yaml:", 10) == 0);
		CHECK(talloc_total_blocks(ctx) == 1);	/* nothing left behind */
		goto out;
	}
	CHECK(talloc_parent(f) == ctx);
	check_flow(f);
	seen.f = f;
	n = flow_check(f, texts, count, &seen);
	CHECK(n == seen.n);
	/* without a callback: the same verdict */
	CHECK(flow_check(f, texts, NULL, NULL) == n);
out:
	talloc_free(ctx);
	return 0;
}
