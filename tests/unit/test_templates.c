/* Templates: loading the fixture languages of tests/data/templates, every kind of broken file
 * with the file:line:col a translator would be sent to, rendering, and the cross-language and
 * USSD screen checks (3GPP TS 23.038 section 6.1.2.3 limits through domain/gsm.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <talloc.h>

#include "domain/gsm.h"
#include "flow/templates.h"

static const struct tpl_placeholder reg[] = {
	{ "ref", 10, true, NULL },
	{ "maker", 24, false, NULL },
	{ "model", 32, false, NULL },
	{ "date", 10, true, NULL },
	{ "reason", 40, false, NULL },
	{ "imei", 16, true, NULL },
};
#define NREG (sizeof(reg) / sizeof(reg[0]))

static const struct tpl_var vars[] = {
	{ "maker", "Tecno", 5 },
	{ "model", "Spark 10", 8 },
	{ "ref", "R12345", 6 },
	{ "date", "2024-05-01", 10 },
	{ "reason", "stolen", 6 },
	{ "imei", "35209900176148", 14 },
};
#define NVARS (sizeof(vars) / sizeof(vars[0]))

static const char *srcdir(void)
{
	const char *d = getenv("top_srcdir");

	return d ? d : ".";
}

static char *data_path(void *ctx, const char *rel)
{
	return talloc_asprintf(ctx, "%s/tests/data/templates%s%s", srcdir(), *rel ? "/" : "", rel);
}

static struct tpl_set *good_set(void *ctx)
{
	char err[512] = "";
	struct tpl_set *s = tpl_load_dir(ctx, data_path(ctx, ""), reg, NREG, err, sizeof(err));

	if (s == NULL)
		fail_msg("%s", err);
	assert_int_equal(tpl_set_default(s, "en"), 0);
	return s;
}

/* Screens are what the USSD journeys show; sms.* go as SMS and may be long. */
static bool is_screen(const char *key, void *arg)
{
	(void)arg;
	return strncmp(key, "sms.", 4) != 0;
}

struct problems {
	size_t n;
	char last[512];
	char all[4096];
};

static void collect(void *arg, const char *lang, const char *key, const char *msg)
{
	struct problems *p = arg;
	size_t o = strlen(p->all);

	p->n++;
	snprintf(p->last, sizeof(p->last), "%s %s: %s", lang ? lang : "-", key ? key : "-", msg);
	snprintf(p->all + o, sizeof(p->all) - o, "%s\n", p->last);
}

/* ---- the fixture set ---------------------------------------------------------------------- */

static void test_good_languages(void **state)
{
	void *ctx = talloc_new(NULL);
	struct tpl_set *s = good_set(ctx);
	const char *codes[8];

	(void)state;
	assert_int_equal(tpl_languages(s, codes, 8), 4);
	assert_string_equal(codes[0], "ar");
	assert_string_equal(codes[1], "en");
	assert_string_equal(codes[2], "fr");
	assert_string_equal(codes[3], "sw");
	/* a short array gets the first ones and the count of all */
	assert_int_equal(tpl_languages(s, codes, 1), 4);
	assert_string_equal(codes[0], "ar");
	talloc_free(ctx);
}

static void test_good_names(void **state)
{
	void *ctx = talloc_new(NULL);
	struct tpl_set *s = good_set(ctx);

	(void)state;
	assert_string_equal(tpl_language_name(s, "sw"), "Kiswahili");
	assert_string_equal(tpl_language_name(s, "fr"), "Fran\xc3\xa7" "ais");
	assert_string_equal(tpl_language_name(s, "ar"), "\xd8\xa7\xd9\x84\xd8\xb9\xd8\xb1\xd8\xa8"
			    "\xd9\x8a\xd8\xa9");
	assert_null(tpl_language_name(s, "de"));
	assert_true(tpl_rtl(s, "ar"));
	assert_false(tpl_rtl(s, "en"));
	assert_false(tpl_rtl(s, "de"));
	talloc_free(ctx);
}

static void test_good_check(void **state)
{
	void *ctx = talloc_new(NULL);
	struct tpl_set *s = good_set(ctx);
	struct problems p = { 0 };

	(void)state;
	if (tpl_check(s, "en", is_screen, NULL, collect, &p) != 0)
		fail_msg("%s", p.all);
	/* the default set by tpl_set_default() is used when none is given */
	assert_int_equal(tpl_check(s, NULL, is_screen, NULL, collect, &p), 0);
	talloc_free(ctx);
}

static void test_good_sms_not_screen(void **state)
{
	void *ctx = talloc_new(NULL);
	struct tpl_set *s = good_set(ctx);
	struct problems p = { 0 };

	(void)state;
	/* the receipt SMS is longer than a UCS-2 screen: only a screen is held to 80 units */
	assert_int_equal(tpl_check(s, "en", NULL, NULL, collect, &p), 0);
	assert_int_equal(tpl_check(s, "en", (tpl_screen_fn)NULL, NULL, NULL, NULL), 0);
	talloc_free(ctx);
}

/* ---- broken files, one directory each under tests/data/templates/bad ---------------------- */

struct bad_case {
	const char *name;
	const char *dir;
	const char *where;	/* file:line:col, relative to the bad directory */
	const char *reason;
};

static const struct bad_case bad_cases[] = {
	{ "bad file: YAML syntax", "syntax", "en.yaml:6:1", "while scanning a quoted scalar" },
	{ "bad file: unknown top-level key", "unknown_top", "en.yaml:5:1",
	  "unknown top-level key \"author\"" },
	{ "bad file: duplicate text key", "duplicate", "en.yaml:6:3",
	  "duplicate key menu.main (first at line 4)" },
	{ "bad file: sequence as a text", "not_string", "en.yaml:6:5", "menu.items is not a string" },
	{ "bad file: number as a text", "number", "en.yaml:5:14",
	  "menu.code is a number in YAML, not a string: quote it" },
	{ "bad file: upper-case key", "bad_key", "en.yaml:5:3", "bad key \"Menu.Back\"" },
	{ "bad file: unregistered placeholder", "unknown_placeholder", "en.yaml:5:17",
	  "unknown placeholder {colour}" },
	{ "bad file: unterminated brace", "unterminated", "en.yaml:5:16", "unterminated '{'" },
	{ "bad file: language not the file name", "lang_mismatch", "fr.yaml:1:11",
	  "language en does not match the file name (fr.yaml)" },
	{ "bad file: text over 2048 bytes", "too_long", "en.yaml:5:13", "text of 2049 bytes" },
	{ "bad file: missing texts", "missing_texts", "en.yaml:2:1", "missing texts" },
	{ "bad file: alias", "alias", "en.yaml:5:15", "aliases" },
	{ "bad file: lone closing brace", "lone_brace", "en.yaml:4:14", "lone '}'" },
};

static void test_bad_file(void **state)
{
	const struct bad_case *c = *state;
	void *ctx = talloc_new(NULL);
	char *dir = data_path(ctx, talloc_asprintf(ctx, "bad/%s", c->dir));
	char *where = talloc_asprintf(ctx, "%s/%s: ", dir, c->where);
	char err[512] = "";

	assert_null(tpl_load_dir(ctx, dir, reg, NREG, err, sizeof(err)));
	if (strncmp(err, where, strlen(where)) != 0 || strstr(err, c->reason) == NULL)
		fail_msg("got \"%s\", want \"%s%s\"", err, where, c->reason);
	talloc_free(ctx);
}

/* ---- loading from memory ------------------------------------------------------------------ */

#define HEAD "language: en\nname: English\ntexts:\n"

struct mem_case {
	const char *name;
	const char *yaml;
	const char *err;	/* NULL: loads; else "line:col: reason" after "en.yaml:" */
};

static const struct mem_case mem_cases[] = {
	{ "mem: plain, quoted and block texts", HEAD "  a.b: Plain text, with a comma\n"
	  "  a.c: 'single ''quoted'''\n  a.d: >-\n    folded\n    lines\n  a.e: \"\"\n", NULL },
	{ "mem: quoted number is a string", HEAD "  menu.code: \"106\"\n", NULL },
	{ "mem: str tag is a string", HEAD "  menu.code: !!str 106\n", NULL },
	{ "mem: direction optional", HEAD "  a: x\n", NULL },
	{ "mem: key of 64 bytes",
	  HEAD "  k123456789.123456789.123456789.123456789.123456789.123456789.123: x\n", NULL },
	{ "mem: empty file", "", "1:1: empty file" },
	{ "mem: comment only", "# nothing\n", "1:1: empty file" },
	{ "mem: list at the top", "- a\n- b\n", "1:1: the file must be a mapping" },
	{ "mem: texts not a mapping", "language: en\nname: English\ntexts: hello\n",
	  "3:8: texts must be a mapping" },
	{ "mem: language not ISO 639-1", "language: english\nname: English\ntexts: {}\n",
	  "1:11: language must be an ISO 639-1 code" },
	{ "mem: direction neither ltr nor rtl", "language: en\nname: English\ndirection: up\n"
	  "texts: {}\n", "3:12: direction must be ltr or rtl" },
	{ "mem: missing name", "language: en\ntexts: {}\n", "1:1: missing name" },
	{ "mem: missing language", "name: English\ntexts: {}\n", "1:1: missing language" },
	{ "mem: language twice", "language: en\nlanguage: en\nname: English\ntexts: {}\n",
	  "2:1: duplicate key language" },
	{ "mem: texts twice", HEAD "  a: x\ntexts:\n  b: y\n", "5:1: duplicate key texts" },
	{ "mem: boolean text", HEAD "  menu.ok: yes\n", "4:12: menu.ok is a boolean in YAML" },
	{ "mem: null text", HEAD "  menu.ok:\n  menu.x: y\n", "4:11: menu.ok is null in YAML" },
	{ "mem: float text", HEAD "  menu.ok: 1.5\n", "4:12: menu.ok is a number in YAML" },
	{ "mem: int tag", HEAD "  menu.ok: !!int \"5\"\n", "4:12: menu.ok: tag" },
	{ "mem: mapping as text", HEAD "  menu.ok: {a: b}\n", "4:12: menu.ok is not a string" },
	{ "mem: key with empty segment", HEAD "  menu..ok: x\n", "4:3: bad key \"menu..ok\"" },
	{ "mem: key ending in a dot", HEAD "  menu.: x\n", "4:3: bad key" },
	{ "mem: key with a dash", HEAD "  menu-ok: x\n", "4:3: bad key" },
	{ "mem: key of 65 bytes",
	  HEAD "  k123456789.123456789.123456789.123456789.123456789.123456789.1234: x\n",
	  "4:3: bad key" },
	{ "mem: placeholder starting with a digit", HEAD "  a: \"{1x}\"\n",
	  "4:6: bad placeholder name {1x}" },
	{ "mem: empty placeholder", HEAD "  a: \"x {} y\"\n", "4:6: bad placeholder name {}" },
	{ "mem: upper-case placeholder", HEAD "  a: \"{Ref}\"\n", "4:6: unterminated '{'" },
	{ "mem: brace at the end", HEAD "  a: \"x {\"\n", "4:6: unterminated '{'" },
	{ "mem: two documents", HEAD "  a: x\n---\n" HEAD "  b: y\n", "5:1: one document per file" },
	{ "mem: NUL escape", HEAD "  a: \"x\\0y\"\n", "4:6: NUL character in text" },
	{ "mem: invalid UTF-8", HEAD "  a: \"x\xff\"\n", "4:1: invalid" },
	{ "mem: flow sequence as a key", HEAD "  [a, b]: x\n", "4:3: bad key (not a scalar)" },
	{ "mem: syntax error names the spot", HEAD "  a: x\n b: y\n",
	  "5:2: did not find expected key" },
};

static void test_mem(void **state)
{
	const struct mem_case *c = *state;
	void *ctx = talloc_new(NULL);
	char err[512] = "";
	struct tpl_set *s = tpl_load_mem(ctx, "en.yaml", c->yaml, strlen(c->yaml), reg, NREG, err,
					 sizeof(err));

	if (c->err == NULL) {
		if (s == NULL)
			fail_msg("%s", err);
	} else {
		assert_null(s);
		if (strncmp(err, "en.yaml:", 8) != 0 || strncmp(err + 8, c->err, strlen(c->err)) != 0)
			fail_msg("got \"%s\", want \"en.yaml:%s\"", err, c->err);
	}
	talloc_free(ctx);
}

/* HEAD and n texts k0: x, k1: x ... */
static char *many_keys(void *ctx, size_t n)
{
	char *s = talloc_strdup(ctx, HEAD);
	size_t i;

	for (i = 0; i < n; i++)
		s = talloc_asprintf_append(s, "  k%zu: x\n", i);
	return s;
}

static void test_mem_limits(void **state)
{
	void *ctx = talloc_new(NULL);
	char err[512] = "", *y, *text;
	struct tpl_set *s;

	(void)state;
	/* 2000 keys load, the 2001st is refused where it stands */
	y = many_keys(ctx, 2000);
	assert_non_null(tpl_load_mem(ctx, "en.yaml", y, strlen(y), reg, NREG, err, sizeof(err)));
	y = many_keys(ctx, 2001);
	assert_null(tpl_load_mem(ctx, "en.yaml", y, strlen(y), reg, NREG, err, sizeof(err)));
	assert_string_equal(err, "en.yaml:2004:3: more than 2000 keys");
	/* a text of exactly 2048 bytes is fine */
	text = talloc_zero_array(ctx, char, TPL_TEXT_MAX + 1);
	memset(text, 'x', TPL_TEXT_MAX);
	y = talloc_asprintf(ctx, HEAD "  a: \"%s\"\n", text);
	s = tpl_load_mem(ctx, "en.yaml", y, strlen(y), reg, NREG, err, sizeof(err));
	assert_non_null(s);
	/* over 1 MiB is refused before parsing */
	y = talloc_zero_array(ctx, char, TPL_FILE_MAX + 2);
	memset(y, ' ', TPL_FILE_MAX + 1);
	s = tpl_set_new(ctx, reg, NREG);
	assert_int_equal(tpl_add_mem(s, "en.yaml", y, TPL_FILE_MAX + 1, err, sizeof(err)), -EFBIG);
	assert_non_null(strstr(err, "en.yaml: larger than"));
	talloc_free(ctx);
}

static void test_add_twice(void **state)
{
	static const char en[] = HEAD "  a: x\n";
	void *ctx = talloc_new(NULL);
	struct tpl_set *s = tpl_set_new(ctx, reg, NREG);
	char err[256], out[16];
	const char *codes[4];

	(void)state;
	assert_int_equal(tpl_add_mem(s, "en.yaml", en, strlen(en), err, sizeof(err)), 0);
	assert_int_equal(tpl_add_mem(s, NULL, en, strlen(en), err, sizeof(err)), -EEXIST);
	assert_string_equal(err, "<memory>: language en loaded twice");
	/* a failed add leaves the set as it was */
	assert_int_equal(tpl_add_mem(s, "fr.yaml", en, strlen(en), err, sizeof(err)), -EINVAL);
	assert_int_equal(tpl_languages(s, codes, 4), 1);
	assert_int_equal(tpl_render(s, "en", "a", NULL, 0, out, sizeof(out), NULL), 1);
	talloc_free(ctx);
}

static void test_dir_errors(void **state)
{
	void *ctx = talloc_new(NULL);
	char err[512], dir[] = "/tmp/ceirgw-tpl-XXXXXX", *p;
	FILE *f;

	(void)state;
	assert_null(tpl_load_dir(ctx, "/nonexistent/templates", reg, NREG, err, sizeof(err)));
	assert_string_equal(err, "/nonexistent/templates: No such file or directory");
	assert_non_null(mkdtemp(dir));
	/* README.md is not a language; without any *.yaml there is nothing to show */
	p = talloc_asprintf(ctx, "%s/README.md", dir);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs("# texts\n", f);
	fclose(f);
	assert_null(tpl_load_dir(ctx, dir, reg, NREG, err, sizeof(err)));
	assert_non_null(strstr(err, "no *.yaml"));
	unlink(p);
	rmdir(dir);
	talloc_free(ctx);
}

/* ---- rendering ---------------------------------------------------------------------------- */

struct render_case {
	const char *name;
	const char *lang;
	const char *key;
	size_t nvars;		/* the first nvars of vars[] */
	int rc;			/* 0: strlen(out) */
	const char *out;
	bool fallback;
};

static const struct render_case render_cases[] = {
	{ "render: no placeholders", "en", "menu.language", 0, 0, "Choose your language", false },
	{ "render: two placeholders", "en", "check.result_clean", NVARS, 0,
	  "Tecno Spark 10: not reported.", false },
	{ "render: block scalar keeps its newline", "en", "report.done", NVARS, 0,
	  "Report saved.\nReference R12345. Keep it for the police.", false },
	{ "render: escaped newlines", "sw", "menu.main", 0, 0,
	  "Karibu CEIR\n1 Angalia simu\n2 Ripoti simu iliyoibiwa\n3 Ripoti zangu\n4 Lugha", false },
	{ "render: French accents", "fr", "check.result_clean", NVARS, 0,
	  "Tecno Spark 10 : non signal\xc3\xa9.", false },
	{ "render: Arabic with a Latin value", "ar", "check.result_stolen", NVARS, 0,
	  "\xd8\xa3\xd9\x8f\xd8\xa8\xd9\x84\xd8\xba \xd8\xb9\xd9\x86 \xd8\xb3\xd8\xb1\xd9\x82\xd8"
	  "\xa9 \xd9\x87\xd8\xb0\xd8\xa7 \xd8\xa7\xd9\x84\xd9\x87\xd8\xa7\xd8\xaa\xd9\x81 \xd9\x81"
	  "\xd9\x8a 2024-05-01. \xd9\x84\xd8\xa7 \xd8\xaa\xd8\xb4\xd8\xaa\xd8\xb1\xd9\x87.", false },
	{ "render: value missing", "en", "check.result_clean", 1, -EINVAL, "", false },
	{ "render: no such key", "en", "menu.nothing", 0, -ENOENT, "", false },
	{ "render: unknown language falls back", "de", "menu.language", 0, 0,
	  "Choose your language", true },
	{ "render: NULL language falls back", NULL, "menu.language", 0, 0,
	  "Choose your language", true },
};

static void test_render(void **state)
{
	const struct render_case *c = *state;
	void *ctx = talloc_new(NULL);
	struct tpl_set *s = good_set(ctx);
	char out[512];
	bool fb = !c->fallback;
	int rc = tpl_render(s, c->lang, c->key, vars, c->nvars, out, sizeof(out), &fb);
	int want = c->rc ? c->rc : (int)strlen(c->out);

	if (rc != want)
		fail_msg("rc %d, want %d (\"%s\")", rc, want, out);
	assert_string_equal(out, c->out);
	assert_int_equal(fb, c->fallback);
	talloc_free(ctx);
}

static struct tpl_set *mem_set(void *ctx, const char *yaml)
{
	char err[512] = "";
	struct tpl_set *s = tpl_load_mem(ctx, "en.yaml", yaml, strlen(yaml), reg, NREG, err,
					 sizeof(err));

	if (s == NULL)
		fail_msg("%s", err);
	return s;
}

static void test_render_braces(void **state)
{
	void *ctx = talloc_new(NULL);
	struct tpl_set *s = mem_set(ctx, HEAD "  a: \"Dial {{*106#}} then {ref}}}\"\n"
				    "  b: \"{{{ref}\"\n  c: \"{ref}{ref}\"\n");
	const struct tpl_var v = { "ref", "R1", 2 };
	char out[64];

	(void)state;
	assert_int_equal(tpl_render(s, "en", "a", &v, 1, out, sizeof(out), NULL), 21);
	assert_string_equal(out, "Dial {*106#} then R1}");
	assert_int_equal(tpl_render(s, "en", "b", &v, 1, out, sizeof(out), NULL), 3);
	assert_string_equal(out, "{R1");
	assert_int_equal(tpl_render(s, "en", "c", &v, 1, out, sizeof(out), NULL), 4);
	assert_string_equal(out, "R1R1");
	talloc_free(ctx);
}

static void test_render_value_not_expanded(void **state)
{
	void *ctx = talloc_new(NULL);
	struct tpl_set *s = mem_set(ctx, HEAD "  a: \"{maker} {model}\"\n");
	/* a maker name from the TAC database that looks like a placeholder stays data */
	const struct tpl_var v[] = { { "maker", "{model}", 7 }, { "model", "{{x}}", 5 } };
	char out[64];

	(void)state;
	assert_int_equal(tpl_render(s, "en", "a", v, 2, out, sizeof(out), NULL), 13);
	assert_string_equal(out, "{model} {{x}}");
	talloc_free(ctx);
}

static void test_render_value_bytes(void **state)
{
	void *ctx = talloc_new(NULL);
	struct tpl_set *s = mem_set(ctx, HEAD "  a: \"<{ref}>\"\n");
	/* values are (pointer, length): only len bytes are taken, and a value may be empty */
	const struct tpl_var v = { "ref", "R123456789", 4 }, e = { "ref", "", 0 };
	char out[64];

	(void)state;
	assert_int_equal(tpl_render(s, "en", "a", &v, 1, out, sizeof(out), NULL), 6);
	assert_string_equal(out, "<R123>");
	assert_int_equal(tpl_render(s, "en", "a", &e, 1, out, sizeof(out), NULL), 2);
	assert_string_equal(out, "<>");
	talloc_free(ctx);
}

static void test_render_enospc(void **state)
{
	void *ctx = talloc_new(NULL);
	struct tpl_set *s = good_set(ctx);
	const char *want = "Tecno Spark 10: not reported.";
	size_t n = strlen(want), sz;
	char out[64];

	(void)state;
	/* n + 1 bytes is exactly enough; every smaller buffer is -ENOSPC and left empty */
	assert_int_equal(tpl_render(s, "en", "check.result_clean", vars, NVARS, out, n + 1, NULL),
			 (int)n);
	assert_string_equal(out, want);
	for (sz = n; sz > 0; sz--) {
		memset(out, 'z', sizeof(out));
		assert_int_equal(tpl_render(s, "en", "check.result_clean", vars, NVARS, out, sz,
					    NULL), -ENOSPC);
		assert_int_equal(out[0], '\0');
	}
	assert_int_equal(tpl_render(s, "en", "check.result_clean", vars, NVARS, out, 0, NULL),
			 -ENOSPC);
	talloc_free(ctx);
}

static void test_render_no_default(void **state)
{
	void *ctx = talloc_new(NULL);
	char err[512];
	struct tpl_set *s = tpl_load_dir(ctx, data_path(ctx, ""), reg, NREG, err, sizeof(err));
	char out[64];
	bool fb = true;

	(void)state;
	assert_non_null(s);
	/* without tpl_set_default() there is no fallback */
	assert_int_equal(tpl_render(s, "de", "menu.language", NULL, 0, out, sizeof(out), &fb),
			 -ENOENT);
	assert_false(fb);
	assert_int_equal(tpl_set_default(s, "de"), -ENOENT);
	assert_int_equal(tpl_set_default(s, "sw"), 0);
	assert_int_equal(tpl_render(s, "de", "menu.language", NULL, 0, out, sizeof(out), &fb), 17);
	assert_string_equal(out, "Chagua lugha yako");
	assert_true(fb);
	talloc_free(ctx);
}

static void test_render_missing_key_falls_back(void **state)
{
	void *ctx = talloc_new(NULL);
	struct tpl_set *s = tpl_set_new(ctx, reg, NREG);
	static const char en[] = HEAD "  a: English a\n  b: English b\n";
	static const char fr[] = "language: fr\nname: Fran\xc3\xa7" "ais\ntexts:\n  a: a fran\xc3\xa7"
		"ais\n";
	char err[256], out[64];
	bool fb;

	(void)state;
	assert_int_equal(tpl_add_mem(s, "en.yaml", en, strlen(en), err, sizeof(err)), 0);
	assert_int_equal(tpl_add_mem(s, "fr.yaml", fr, strlen(fr), err, sizeof(err)), 0);
	assert_int_equal(tpl_set_default(s, "en"), 0);
	assert_int_equal(tpl_render(s, "fr", "a", NULL, 0, out, sizeof(out), &fb), 11);
	assert_string_equal(out, "a fran\xc3\xa7" "ais");
	assert_false(fb);
	assert_int_equal(tpl_render(s, "fr", "b", NULL, 0, out, sizeof(out), &fb), 9);
	assert_string_equal(out, "English b");
	assert_true(fb);
	talloc_free(ctx);
}

static void test_render_arabic_measure(void **state)
{
	void *ctx = talloc_new(NULL);
	struct tpl_set *s = good_set(ctx);
	const struct tpl_var v[] = { { "maker", "\xd8\xb3\xd8\xa7\xd9\x85\xd8\xb3\xd9\x88\xd9\x86"
				       "\xd8\xba", 14 }, { "model", "A15", 3 } };
	struct sms_measure m;
	char out[256];
	int n;

	(void)state;
	/* an Arabic maker name in an Arabic text: UTF-8 in, one UCS-2 screen out */
	n = tpl_render(s, "ar", "check.result_clean", v, 2, out, sizeof(out), NULL);
	assert_true(n > 0);
	assert_memory_equal(out, v[0].val, v[0].len);
	assert_int_equal(sms_measure(out, (size_t)n, &m), 0);
	assert_int_equal(m.coding, SMS_UCS2);
	assert_int_equal(m.chars, 7 + 1 + 3 + 2 + 15);	/* the text has 3 diacritics */
	assert_true(sms_fits_ussd(&m));
	talloc_free(ctx);
}

/* ---- the checks across languages ---------------------------------------------------------- */

/* Loads the en text and a second language from memory, en being the default. */
static struct tpl_set *pair_set(void *ctx, const char *en, const char *other)
{
	struct tpl_set *s = tpl_set_new(ctx, reg, NREG);
	char err[512] = "";

	if (tpl_add_mem(s, "en.yaml", en, strlen(en), err, sizeof(err)) < 0
	    || (other && tpl_add_mem(s, NULL, other, strlen(other), err, sizeof(err)) < 0))
		fail_msg("%s", err);
	assert_int_equal(tpl_set_default(s, "en"), 0);
	return s;
}

#define SW "language: sw\nname: Kiswahili\ntexts:\n"

static void test_check_missing_key(void **state)
{
	void *ctx = talloc_new(NULL);
	struct tpl_set *s = pair_set(ctx, HEAD "  a: x\n  b: y\n  c: z\n", SW "  a: x\n  c: z\n");
	struct problems p = { 0 };

	(void)state;
	assert_int_equal(tpl_check(s, "en", NULL, NULL, collect, &p), 1);
	assert_string_equal(p.last, "sw b: missing (en has it)");
	talloc_free(ctx);
}

static void test_check_extra_key(void **state)
{
	void *ctx = talloc_new(NULL);
	struct tpl_set *s = pair_set(ctx, HEAD "  a: x\n", SW "  a: x\n  zz: extra\n");
	struct problems p = { 0 };

	(void)state;
	assert_int_equal(tpl_check(s, "en", NULL, NULL, collect, &p), 1);
	assert_string_equal(p.last, "sw zz: not in en");
	talloc_free(ctx);
}

static void test_check_missing_and_extra(void **state)
{
	void *ctx = talloc_new(NULL);
	struct tpl_set *s = pair_set(ctx, HEAD "  a: x\n  b: y\n", SW "  c: x\n");
	struct problems p = { 0 };

	(void)state;
	/* seen from sw as the default, the same files have the opposite problems */
	assert_int_equal(tpl_check(s, "en", NULL, NULL, collect, &p), 3);
	assert_string_equal(p.all, "sw a: missing (en has it)\nsw b: missing (en has it)\n"
			    "sw c: not in en\n");
	memset(&p, 0, sizeof(p));
	assert_int_equal(tpl_check(s, "sw", NULL, NULL, collect, &p), 3);
	assert_string_equal(p.all, "en a: not in sw\nen b: not in sw\nen c: missing (sw has it)\n");
	talloc_free(ctx);
}

static void test_check_placeholder_mismatch(void **state)
{
	void *ctx = talloc_new(NULL);
	struct tpl_set *s = pair_set(ctx, HEAD "  a: \"{maker} {model}\"\n  b: \"{ref}\"\n"
				     "  c: \"{ref} {ref}\"\n",
				     SW "  a: \"{maker} {date}\"\n  b: hakuna\n  c: \"{ref}\"\n");
	struct problems p = { 0 };

	(void)state;
	/* a placeholder used twice is one placeholder: c agrees */
	assert_int_equal(tpl_check(s, "en", NULL, NULL, collect, &p), 2);
	assert_string_equal(p.all, "sw a: placeholders {date} {maker}, but en has {maker} {model}\n"
			    "sw b: placeholders none, but en has {ref}\n");
	talloc_free(ctx);
}

static void test_check_no_default(void **state)
{
	void *ctx = talloc_new(NULL);
	struct tpl_set *s = tpl_set_new(ctx, reg, NREG);
	struct problems p = { 0 };

	(void)state;
	assert_int_equal(tpl_check(s, NULL, NULL, NULL, collect, &p), 1);
	assert_string_equal(p.last, "- -: default language (none) not loaded");
	assert_int_equal(tpl_check(s, "de", NULL, NULL, collect, &p), 1);
	assert_string_equal(p.last, "de -: default language de not loaded");
	talloc_free(ctx);
}

static bool all_screens(const char *key, void *arg)
{
	(void)key;
	(void)arg;
	return true;
}

/* One en text of 'x' * nx followed by tail, checked as a screen. */
static size_t screen_problems(const char *tail, size_t nx, struct problems *p)
{
	void *ctx = talloc_new(NULL);
	char *text = talloc_zero_array(ctx, char, nx + 1), *y;
	size_t n;

	memset(text, 'x', nx);
	y = talloc_asprintf(ctx, HEAD "  a: \"%s%s\"\n", text, tail);
	n = tpl_check(mem_set(ctx, y), "en", all_screens, NULL, collect, p);
	talloc_free(ctx);
	return n;
}

static void test_check_screen_gsm(void **state)
{
	struct problems p = { 0 };

	(void)state;
	/* 172 + {ref} at 10 GSM characters = 182 septets: one screen exactly */
	assert_int_equal(screen_problems("{ref}", 172, &p), 0);
	assert_int_equal(screen_problems("{ref}", 173, &p), 1);
	assert_string_equal(p.last, "en a: screen needs up to 183 GSM-7 septets, 182 fit");
	/* an extension-table character costs two septets */
	assert_int_equal(screen_problems("\xe2\x82\xac", 180, &p), 0);
	assert_int_equal(screen_problems("\xe2\x82\xac", 181, &p), 1);
}

static void test_check_screen_forced_ucs2(void **state)
{
	struct problems p = { 0 };

	(void)state;
	/* 50 + {date} is 60 GSM septets; {maker}'s 24 characters may be UCS-2 only: 84 units */
	assert_int_equal(screen_problems("{date}", 50, &p), 0);
	assert_int_equal(screen_problems("{date}{maker}", 50, &p), 1);
	assert_string_equal(p.last,
			    "en a: screen needs up to 84 UCS-2 units, 80 fit ({maker} may force UCS-2)");
	assert_int_equal(screen_problems("{date}{maker}", 46, &p), 0);
}

static void test_check_screen_arabic(void **state)
{
	void *ctx = talloc_new(NULL);
	static const char ar_head[] = "language: ar\nname: x\ndirection: rtl\ntexts:\n  a: \"";
	char *y = talloc_strdup(ctx, ar_head);
	struct tpl_set *s;
	struct problems p = { 0 };
	int i;

	(void)state;
	/* 70 Arabic letters + {ref} (10) = 80 units fits; one letter more does not */
	for (i = 0; i < 70; i++)
		y = talloc_strdup_append(y, "\xd8\xb9");
	s = tpl_load_mem(ctx, "ar.yaml", talloc_asprintf(ctx, "%s{ref}\"\n", y),
			 strlen(y) + 7, reg, NREG, NULL, 0);
	assert_non_null(s);
	assert_int_equal(tpl_check(s, "ar", all_screens, NULL, collect, &p), 0);
	y = talloc_strdup_append(y, "\xd8\xb9{ref}\"\n");
	s = tpl_load_mem(ctx, "ar.yaml", y, strlen(y), reg, NREG, NULL, 0);
	assert_non_null(s);
	assert_int_equal(tpl_check(s, "ar", all_screens, NULL, collect, &p), 1);
	assert_string_equal(p.last, "ar a: screen needs up to 81 UCS-2 units, 80 fit");
	talloc_free(ctx);
}

/* A placeholder whose values are the language's own texts (reason.*) is measured as the
 * longest of them, in each language, not as its registry length (40 UCS-2 here). */
static const struct tpl_placeholder vreg[] = {
	{ "ref", 10, true, NULL },
	{ "reason", 40, false, "reason." },
};

/* Checks a set of one language: text a is lit then {reason}; more holds further texts. */
static size_t values_problems(const char *lang, const char *lit, const char *more,
			      struct problems *p)
{
	void *ctx = talloc_new(NULL);
	char err[512] = "", *fname = talloc_asprintf(ctx, "%s.yaml", lang);
	char *y = talloc_asprintf(ctx, "language: %s\nname: x\ntexts:\n  a: \"%s{reason}\"\n%s",
				  lang, lit, more);
	struct tpl_set *s = tpl_load_mem(ctx, fname, y, strlen(y), vreg, 2, err, sizeof(err));
	size_t n;

	if (s == NULL)
		fail_msg("%s", err);
	n = tpl_check(s, lang, all_screens, NULL, collect, p);
	talloc_free(ctx);
	return n;
}

static void test_check_screen_values(void **state)
{
	static const char en[] = "  reason.stolen: stolen\n  reason.lost: lost\n";
	static const char ucs2[] = "  reason.stolen: \"\xc4\x81\"\n";
	static const char ar[] = "  reason.stolen: \"\xd8\xb9\xd8\xb9\"\n"
		"  reason.lost: \"\xd8\xb9\xd8\xb9\xd8\xb9\xd8\xb9\xd8\xb9\xd8\xb9\"\n";
	void *ctx = talloc_new(NULL);
	struct problems p = { 0 };
	char *x = talloc_zero_array(ctx, char, 181), *a = talloc_strdup(ctx, "");
	int i;

	(void)state;
	memset(x, 'x', 180);
	/* GSM: 176 + the longest reason (6) fits; {reason} at 40 UCS-2 units would not */
	assert_int_equal(values_problems("en", x + 4, en, &p), 0);
	assert_int_equal(values_problems("en", x + 3, en, &p), 1);
	assert_string_equal(p.last, "en a: screen needs up to 183 GSM-7 septets, 182 fit");
	/* a value outside the GSM alphabet makes the screen UCS-2 */
	assert_int_equal(values_problems("en", x + 101, ucs2, &p), 0);
	assert_int_equal(values_problems("en", x + 100, ucs2, &p), 1);
	assert_string_equal(p.last,
			    "en a: screen needs up to 81 UCS-2 units, 80 fit ({reason} may force UCS-2)");
	/* no reason.* text in the language: the registry's length */
	assert_int_equal(values_problems("en", x + 100, "", &p), 1);
	/* Arabic: 74 letters + the longest reason (6 letters) = 80 units */
	for (i = 0; i < 74; i++)
		a = talloc_strdup_append(a, "\xd8\xb9");
	assert_int_equal(values_problems("ar", a, ar, &p), 0);
	a = talloc_strdup_append(a, "\xd8\xb9");
	assert_int_equal(values_problems("ar", a, ar, &p), 1);
	assert_string_equal(p.last, "ar a: screen needs up to 81 UCS-2 units, 80 fit");
	talloc_free(ctx);
}

static void test_check_screen_predicate(void **state)
{
	void *ctx = talloc_new(NULL);
	struct tpl_set *s = pair_set(ctx, HEAD "  sms.long: \"{reason}{reason}{reason}\"\n"
				     "  menu.long: \"{reason}{reason}{reason}\"\n", NULL);
	struct problems p = { 0 };

	(void)state;
	/* {reason} three times is 120 UCS-2 units: a problem only where it is a screen */
	assert_int_equal(tpl_check(s, "en", is_screen, NULL, collect, &p), 1);
	assert_string_equal(p.last, "en menu.long: screen needs up to 120 UCS-2 units, 80 fit "
			    "({reason} may force UCS-2)");
	/* a NULL report still counts */
	assert_int_equal(tpl_check(s, "en", all_screens, NULL, NULL, NULL), 2);
	talloc_free(ctx);
}

#define NBAD (sizeof(bad_cases) / sizeof(bad_cases[0]))
#define NMEM (sizeof(mem_cases) / sizeof(mem_cases[0]))
#define NRENDER (sizeof(render_cases) / sizeof(render_cases[0]))

int main(void)
{
	static const struct CMUnitTest single[] = {
		cmocka_unit_test(test_good_languages),
		cmocka_unit_test(test_good_names),
		cmocka_unit_test(test_good_check),
		cmocka_unit_test(test_good_sms_not_screen),
		cmocka_unit_test(test_mem_limits),
		cmocka_unit_test(test_add_twice),
		cmocka_unit_test(test_dir_errors),
		cmocka_unit_test(test_render_braces),
		cmocka_unit_test(test_render_value_not_expanded),
		cmocka_unit_test(test_render_value_bytes),
		cmocka_unit_test(test_render_enospc),
		cmocka_unit_test(test_render_no_default),
		cmocka_unit_test(test_render_missing_key_falls_back),
		cmocka_unit_test(test_render_arabic_measure),
		cmocka_unit_test(test_check_missing_key),
		cmocka_unit_test(test_check_extra_key),
		cmocka_unit_test(test_check_missing_and_extra),
		cmocka_unit_test(test_check_placeholder_mismatch),
		cmocka_unit_test(test_check_no_default),
		cmocka_unit_test(test_check_screen_gsm),
		cmocka_unit_test(test_check_screen_forced_ucs2),
		cmocka_unit_test(test_check_screen_arabic),
		cmocka_unit_test(test_check_screen_predicate),
		cmocka_unit_test(test_check_screen_values),
	};
	struct CMUnitTest tests[NBAD + NMEM + NRENDER + sizeof(single) / sizeof(single[0])];
	size_t i, n = 0;

	for (i = 0; i < NBAD; i++)
		tests[n++] = (struct CMUnitTest){ .name = bad_cases[i].name,
						  .test_func = test_bad_file,
						  .initial_state = (void *)&bad_cases[i] };
	for (i = 0; i < NMEM; i++)
		tests[n++] = (struct CMUnitTest){ .name = mem_cases[i].name, .test_func = test_mem,
						  .initial_state = (void *)&mem_cases[i] };
	for (i = 0; i < NRENDER; i++)
		tests[n++] = (struct CMUnitTest){ .name = render_cases[i].name,
						  .test_func = test_render,
						  .initial_state = (void *)&render_cases[i] };
	for (i = 0; i < sizeof(single) / sizeof(single[0]); i++)
		tests[n++] = single[i];
	return _cmocka_run_group_tests("templates", tests, n, NULL, NULL);
}
