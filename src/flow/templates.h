/* The texts users see in the USSD/SMS journeys: one templates/<lang>.yaml per language, read
 * with libyaml (YAML 1.1), rendered with named placeholders, and checked against the USSD
 * screen limits of 3GPP TS 23.038 section 6.1.2.3 (domain/gsm.h). Format: doc/templates.md.
 *
 *   language: sw            # ISO 639-1, must match the file name (sw.yaml)
 *   name: Kiswahili         # shown in the language menu
 *   direction: ltr          # or rtl; optional, ltr when absent
 *   texts:
 *     menu.main: "Karibu CEIR\n1 Angalia simu"
 *     check.result_clean: "{maker} {model}: haijaripotiwa."
 *
 * Keys are dotted lowercase names ([a-z0-9_] segments joined by '.'), at most 64 bytes, 2000
 * a file. Values are YAML strings of at most 2048 bytes: quoted, block (|, >) or plain scalars
 * that YAML would not read as a number, boolean or null. {name} is a placeholder that must be
 * in the caller's registry; {{ and }} are literal braces, a lone brace is an error. Unknown or
 * repeated keys, aliases and tags other than !!str are errors. A file is at most 1 MiB. */
#ifndef CEIRGW_FLOW_TEMPLATES_H
#define CEIRGW_FLOW_TEMPLATES_H

#include <stdbool.h>
#include <stddef.h>

#define TPL_FILE_MAX		(1024 * 1024)
#define TPL_KEY_MAX		64
#define TPL_TEXT_MAX		2048
#define TPL_KEYS_MAX		2000

/* What the journeys may put into a text. max_chars and gsm_safe describe the worst value
 * tpl_check() assumes: max_chars characters, all in the GSM 7-bit default alphabet when
 * gsm_safe (one septet each), else all forcing UCS-2 (one UTF-16 unit each). A placeholder
 * whose value is always one of the same language's texts under a key prefix (values:
 * "reason." for {reason}) is measured as the longest of those instead, in each language;
 * NULL for any other. */
struct tpl_placeholder {
	const char *name;
	unsigned max_chars;
	bool gsm_safe;
	const char *values;
};

/* All languages, one talloc tree; a copy of the registry hangs under it. */
struct tpl_set;

/* A value for a placeholder: bytes, not a C string, inserted as they are. */
struct tpl_var {
	const char *name;
	const char *val;
	size_t len;
};

/* An empty set that knows the registry (copied, so reg may go away). NULL on no memory. */
struct tpl_set *tpl_set_new(void *ctx, const struct tpl_placeholder *reg, size_t nreg);

/* Adds one file's content; fname names it in messages and gives the language it must declare
 * (its base name without ".yaml"; NULL accepts any language). Returns 0; -EINVAL with
 * "fname:line:col: reason" in err for any fault of the content, -EEXIST when the language is
 * already in the set, -EFBIG over TPL_FILE_MAX, -ENOMEM. On error the set is unchanged. */
int tpl_add_mem(struct tpl_set *s, const char *fname, const char *yaml, size_t len,
		char *err, size_t errsz);

/* tpl_add_mem() on a file read from path; also -errno of open/read. */
int tpl_add_file(struct tpl_set *s, const char *path, char *err, size_t errsz);

/* Loads every *.yaml in dir (other files, such as README.md, are ignored), in name order.
 * Returns NULL with "file:line:col: reason" (or "dir: reason") in err; no *.yaml at all is an
 * error too, as a gateway without texts could only show blank screens. */
struct tpl_set *tpl_load_dir(void *ctx, const char *dir, const struct tpl_placeholder *reg,
			     size_t nreg, char *err, size_t errsz);

/* One file's content as a set of its own (tests, fuzzing); fname as for tpl_add_mem(). */
struct tpl_set *tpl_load_mem(void *ctx, const char *fname, const char *yaml, size_t len,
			     const struct tpl_placeholder *reg, size_t nreg, char *err, size_t errsz);

/* The language tpl_render() falls back to. Returns 0, or -ENOENT when lang is not loaded.
 * Until it is called there is no fallback. */
int tpl_set_default(struct tpl_set *s, const char *lang);

/* Fills codes with up to max language codes, sorted ("ar", "en", "fr", "sw"); returns how
 * many languages there are (which may be more than max). The strings belong to s. */
size_t tpl_languages(const struct tpl_set *s, const char **codes, size_t max);

/* The language's own name for the menu, or NULL when lang is not loaded. */
const char *tpl_language_name(const struct tpl_set *s, const char *lang);

/* Whether lang is written right to left (false when it is not loaded). */
bool tpl_rtl(const struct tpl_set *s, const char *lang);

/* Renders key in lang into out (outsz bytes, NUL-terminated): placeholders take the value of
 * the var with that name, {{ and }} become single braces. Values are data: a value "{ref}"
 * stays "{ref}". When lang lacks the key (or is not loaded) the default language's text is
 * used and *fallback (may be NULL) says so. Returns the length without the NUL; -ENOENT when
 * no text exists, -EINVAL when a placeholder has no var, -ENOSPC when out is too small. On
 * error out holds "" (if outsz > 0). */
int tpl_render(const struct tpl_set *s, const char *lang, const char *key,
	       const struct tpl_var *vars, size_t nvars, char *out, size_t outsz, bool *fallback);

/* One problem found by tpl_check(): the language, the key (NULL for the whole language) and
 * a message that reads on its own. */
typedef void (*tpl_problem_fn)(void *arg, const char *lang, const char *key, const char *msg);

/* Which keys are USSD screens; arg is tpl_check()'s screen_arg. */
typedef bool (*tpl_screen_fn)(const char *key, void *arg);

/* Checks the set as a whole: default_lang loaded (NULL: the one set by tpl_set_default());
 * every key of it in every other language and no others; the same placeholders per key in
 * every language; and for keys that is_screen (may be NULL) accepts, the worst rendering
 * (every placeholder at its max_chars, see struct tpl_placeholder) fits one USSD screen
 * (sms_fits_ussd()). Placeholders are registered by construction (the loader refuses the
 * others). Calls report (may be NULL) once per problem; returns the number of problems. */
size_t tpl_check(const struct tpl_set *s, const char *default_lang, tpl_screen_fn is_screen,
		 void *screen_arg, tpl_problem_fn report, void *report_arg);

/* Checks that the worst rendering of key, as tpl_check() measures it, fits one SMS part in
 * every language that has it: 160 GSM-7 septets, or 70 UCS-2 units. Returns the number of
 * problems, each reported once. */
size_t tpl_check_sms_part(const struct tpl_set *s, const char *key, tpl_problem_fn report,
			  void *report_arg);

/* Whether the text above, a newline and the text key, shown as one screen in lang, fit one
 * USSD screen in their worst case (as tpl_check() measures one key). Reported once, under
 * key, "with <above> above it, ...". A text lang lacks is tpl_check()'s to report: 0 here.
 * Returns the number of problems. */
size_t tpl_check_joined(const struct tpl_set *s, const char *lang, const char *above,
			const char *key, tpl_problem_fn report, void *report_arg);

/* Whether the texts keys[0..n), joined by newlines into one screen in lang, fit one USSD
 * screen in their worst case (as tpl_check() measures one key): a screen with a note above
 * it and the lines a journey adds below it. Reported once, under keys[main], "with <keys
 * before> above it and <keys after> below it, ...". At most TPL_LINES_MAX keys; a text lang
 * lacks is tpl_check()'s to report: 0 here. Returns the number of problems. */
#define TPL_LINES_MAX 4
size_t tpl_check_lines(const struct tpl_set *s, const char *lang, const char *const *keys,
		       size_t n, size_t main, tpl_problem_fn report, void *report_arg);

#endif
