/* The journeys as data: flows/<name>.yaml declares the USSD screens, the SMS commands and the
 * dial shortcuts, how each input is validated, where each choice and each outcome of an
 * action leads. The engine (engine.h) runs them; the actions are C (actions named here).
 * Read with libyaml; the format is doc/flows.md. Pure: no I/O but reading the files. */
#ifndef CEIRGW_FLOW_FLOW_H
#define CEIRGW_FLOW_FLOW_H

#include <stdbool.h>
#include <stddef.h>

#include "flow/templates.h"

#define FLOW_FILE_MAX		(256 * 1024)
#define FLOW_NAME_MAX		32	/* screen and flow names: [a-z0-9_] */
#define FLOW_SCREENS_MAX	256
#define FLOW_CHOICES_MAX	10	/* keys 0-9 */
#define FLOW_ARGS_MAX		3
#define FLOW_SETS_MAX		4
#define FLOW_RULES_MAX		32	/* commands and dial shortcuts */
#define FLOW_KEYWORDS_MAX	511	/* bytes of a keyword list the SMS matcher reads (journey.c) */

/* The variables a journey carries from screen to screen, one table (X-macros): inputs fill
 * them, actions read and write them. X(VAR, name, keep): the variable is FV_<VAR>, "name" in
 * the flows; keep is SAVED (kept with the USSD session between steps, in struct sess under
 * its name: engine_int.h) or RUN (this request only, never stored). Each has its own
 * validation (run.c's run_take_input, a switch the compiler checks for every FV_). */
#define FLOW_VARS(X) \
	X(IMEI, "imei", SAVED)		/* an IMEI as typed; validated as a valid IMEI */ \
	X(OWNER, "owner", SAVED)	/* the owner's number, E.164 */ \
	X(ID, "id", RUN)		/* national ID, its last characters as typed */ \
	X(REASON, "reason", SAVED)	/* stolen | lost */ \
	X(POLICE, "police", SAVED)	/* police report number, "" for none */ \
	X(REF, "ref", SAVED)		/* a report reference: 10 digits, Luhn */ \
	X(PIN, "pin", RUN)		/* the unblock PIN */ \
	X(PICK, "pick", RUN)		/* a line of a list the screen shows (handsets, languages) */ \
	X(OTP, "otp", RUN)		/* a one-time code sent to the owner's line: 6 digits */

#define FLOW_VAR_ENUM_(v, name, keep) FV_##v,
enum flow_var {
	FV_NONE = 0,
	FLOW_VARS(FLOW_VAR_ENUM_)
	FV_COUNT
};
#undef FLOW_VAR_ENUM_

/* The placeholders templates may use, one table: X(PH, name, max_chars, gsm_safe, values).
 * The engine fills each (run.c's run_render_key, a switch the compiler checks for every
 * FP_) and trims it to max_chars; the texts' checker (templates.h) proves the worst case
 * fits, measuring a placeholder with values as the longest of those texts. */
#define FLOW_PLACEHOLDERS(X) \
	X(MAKER, "maker", 20, true, NULL) \
	X(MODEL, "model", 30, true, NULL) \
	X(PHONE, "phone", 30, true, NULL)	/* "maker model" in one, cut to 30 */ \
	X(IMEI, "imei", 15, true, NULL) \
	X(IMEI_TAIL, "imei_tail", 4, true, NULL) \
	X(DATE, "date", 10, true, NULL) \
	X(REF, "ref", 10, true, NULL) \
	X(PIN, "pin", 6, true, NULL) \
	X(TRIES, "tries", 1, true, NULL) \
	X(MINUTES, "minutes", 4, true, NULL) \
	/* A list the engine cuts, line by line, to what the screen holds; the checker asks \
	 * that a screen leave room for at least one line. */ \
	X(HANDSETS, "handsets", 36, true, NULL) \
	X(LANGUAGES, "languages", 50, false, NULL) \
	X(REPORTS, "reports", 48, true, NULL)	/* the caller's reports, a line each */ \
	/* Texts of the same language (reason.stolen, limit.checks): measured as they are. */ \
	X(REASON, "reason", 12, true, "reason.") \
	X(POLICE, "police", 24, true, NULL) \
	X(WHY, "why", 30, true, NULL) \
	X(WHAT, "what", 24, true, "limit.") \
	X(CODE, "code", 12, true, NULL) \
	/* The owner's line as its owner recognises it ("+2547****5678", msisdn_mask), and a \
	 * one-time code (issue 18). */ \
	X(LINE, "line", 16, true, NULL) \
	X(OTP, "otp", 6, true, NULL) \
	/* A neighbour that blocks the IMEI (issue 19): its name in the language, the text \
	 * country.<CC>; its ISO 3166-1 code itself (2 letters) when the texts name it not. */ \
	X(COUNTRY, "country", 2, true, "country.")

#define FLOW_PH_ENUM_(p, name, max, gsm, values) FP_##p,
enum flow_placeholder {
	FLOW_PLACEHOLDERS(FLOW_PH_ENUM_)
	FP_COUNT
};
#undef FLOW_PH_ENUM_

/* The actions. Each ends in one of its outcomes (outcomes.h); the flow maps every outcome to
 * a screen. */
enum flow_action {
	FA_CHECK,	/* the status of FV_IMEI, for a buyer */
	FA_HANDSETS,	/* the phones the operators' data links to the owner (FV_OWNER or caller) */
	FA_PICK_HANDSET,	/* FV_PICK -> FV_IMEI from the handsets list */
	FA_OWNER_CALLER,	/* FV_OWNER = the caller */
	FA_LINK,	/* FV_IMEI used with FV_OWNER within the window? */
	FA_KYC,		/* FV_ID against the owner's KYC digest */
	FA_REPORT,	/* open the report and queue the block request */
	FA_STATUS,	/* a report's state by FV_REF */
	FA_UNBLOCK,	/* FV_REF + FV_PIN: queue the unblock request */
	FA_LANGUAGES,	/* builds the language list */
	FA_LANGUAGE,	/* FV_PICK -> the session's language, remembered for the number */
	FA_IMEI_WHY,	/* why FV_IMEI is not an IMEI (a re-ask says so); no store */
	FA_MY_REPORTS,	/* the reports of the caller's phones, once the ID digits matched */
	FA_NEW_PIN,	/* FV_PICK (a line of that list) or FV_REF: a new PIN, by SMS */
	FA_VERIFY_MODE,	/* verify-report: id, otp or id+otp; no store */
	FA_OTP_SEND,	/* a one-time code by SMS to FV_OWNER */
	FA_OTP_CHECK,	/* FV_OTP against the code sent */
	FA_POLICE_GIVEN,	/* whether FV_POLICE holds a number; no store */
	FA_COUNT
};

struct flow_action_info {
	const char *name;
	const char *const *outcomes;	/* NULL-terminated */
};

const struct flow_action_info *flow_action_info(enum flow_action a);
const char *flow_var_name(enum flow_var v);

/* The placeholders templates may use (FLOW_PLACEHOLDERS, in its order: index FP_*); see
 * templates.h. */
const struct tpl_placeholder *flow_placeholders(size_t *n);

enum flow_screen_kind {
	FS_MENU,	/* shows text, waits for a choice (and, with an input, anything else) */
	FS_INPUT,	/* shows text, waits for one input into a variable */
	FS_ACTION,	/* runs an action, goes where its outcome leads */
	FS_END		/* shows text, ends the session */
};

struct flow_set {
	enum flow_var var;
	const char *value;
};

/* A choice's target that is no screen: the screen where an interrupted journey stopped
 * (`continue` in the flows, only on the flow's resume screen; doc/flows.md). */
#define FLOW_CONTINUE		(-5)
#define FLOW_CONTINUE_NAME	"continue"

struct flow_choice {
	char key;			/* '0'..'9' */
	int next;			/* screen index, or FLOW_CONTINUE */
	struct flow_set set[FLOW_SETS_MAX];
	size_t nset;
};

struct flow_screen {
	const char *name;
	enum flow_screen_kind kind;
	const char *text;		/* template key (not FS_ACTION) */
	/* A menu's text instead of the flow's invalid-choice text above its own, when it is
	 * shown again for its own input (a menu too full for the note above it); or NULL. */
	const char *invalid_text;
	struct flow_choice choices[FLOW_CHOICES_MAX];
	size_t nchoices;
	/* A waiting screen of a journey that a later dial from the same number may continue
	 * at, when the session timed out there (the flow's resume screen offers it). */
	bool resumable;
	enum flow_var input;		/* FS_INPUT, or FS_MENU's input besides the choices */
	int next;			/* after a valid input */
	int invalid;			/* after an invalid input or choice (-1: show again) */
	enum flow_action action;	/* FS_ACTION */
	int *on;			/* FS_ACTION: screen per outcome, in the action's order */
	/* Why this waiting screen offers no way back (the flow's back and home lines are not
	 * shown, 0 and 00 are not taken as back and home): the start has nothing before it.
	 * NULL: it offers them, as every menu and input past the start does. */
	const char *no_back;
	size_t line;
};

/* An SMS command (keywords, then arguments) or a dial shortcut (*384*ARG#). The loader
 * refuses what the engine could never match or would overwrite: a command without keywords
 * other than args [imei] (a message that is an IMEI alone), a second one, two commands with
 * the same keywords, a variable twice in args or both in args and set, a reason dialled. */
struct flow_rule {
	const char *keywords;		/* template key of the keywords per language; NULL: none */
	enum flow_var args[FLOW_ARGS_MAX];
	size_t nargs;
	/* Per argument: the screen an invalid one leads to (-1: none; the journey goes on
	 * without it, an IMEI for the action to say why). */
	int invalid[FLOW_ARGS_MAX];
	int missing;			/* a command with too few words (-1: the help) */
	/* A command's words after its arguments, when there are any, as one variable (-1:
	 * none; the police number after STOLEN <IMEI> <ID>), and where an invalid one leads
	 * (-1: the help). With a rest, the IMEI argument takes the fewest words that make a
	 * valid IMEI (journey.c). */
	int rest;
	int rest_invalid;
	struct flow_set set[FLOW_SETS_MAX];
	size_t nset;
	int next;
	size_t line;
};

/* The flow's back or home: what the user types (input) and the line shown below every waiting
 * screen past the start (text, a template key that starts with the input and a space: "0
 * Back"). Back goes to the previous question the user answered, home to the screen to (the
 * start) with the way back forgotten (journey.c). input NULL: the flow has none. */
#define FLOW_NAV_INPUT_MAX 4	/* digits, '*' and '#': what a USSD keypad sends */
struct flow_nav {
	const char *input;
	const char *text;
	int to;				/* home: the screen it goes to (the start when not given) */
	size_t line;
};

struct flow {
	const char *name;
	const char *file;
	struct flow_screen *screens;
	size_t nscreens;
	int start;				/* the dial without arguments */
	int sms_help;				/* reply to an SMS no command matches */
	/* The screen a plain dial shows instead of the start when the number has a journey in
	 * progress (stopped at a resumable screen); its continue choice goes back there. -1:
	 * none. */
	int resume;
	/* The text a menu shows above itself when it is shown again for its own input, which
	 * was none of its choices (flow_screen_is_menu); NULL: none. */
	const char *invalid_choice;
	/* Offered on every waiting screen but the start's (flow_screen_has_back). */
	struct flow_nav back, home;
	struct flow_rule dial[FLOW_RULES_MAX];
	size_t ndial;
	struct flow_rule commands[FLOW_RULES_MAX];
	size_t ncommands;
};

/* Reads one flow file. Returns a talloc child of ctx, or NULL with "file:line:col: reason" in
 * err. Structure only: flow_check() judges the whole. A key given twice in any mapping is an
 * error; so is a boolean other than plain true or false (not YAML 1.1's yes, on, True ...). */
struct flow *flow_load_mem(void *ctx, const char *fname, const char *yaml, size_t len, char *err,
			   size_t errsz);
struct flow *flow_load_file(void *ctx, const char *path, char *err, size_t errsz);

/* The screen's index, or -1. */
int flow_screen_index(const struct flow *f, const char *name);

/* Whether a screen is a menu: it offers choices, or lines of a list to pick. Shown again for
 * its own input, it says first that the input was not one of them (flow.invalid_choice). */
bool flow_screen_is_menu(const struct flow_screen *s);

/* Whether a waiting screen (menu or input) offers the flow's back and home: the flow has
 * them and the screen does not say no-back. */
bool flow_screen_has_back(const struct flow *f, const struct flow_screen *s);

/* One problem flow_check() found: the flow, the screen (may be NULL), the language (may be
 * NULL) and a message that reads on its own. */
typedef void (*flow_problem_fn)(void *arg, const char *flow, const char *screen,
				const char *lang, const char *msg);

/* Checks a flow against the texts: every screen reachable (from the dial, a shortcut or a
 * command); every screen leads to an end (no dead ends, no loop without a way out); SMS
 * commands reach an end without waiting for input; every text key present in every language
 * and every screen within one USSD screen in every language (tpl_check's worst case), keyword
 * lists present and matchable in every language (not empty, within FLOW_KEYWORDS_MAX bytes,
 * no placeholder, no keyword holding a space, ';' or control character, no empty keyword).
 * Reports each problem once; returns how many there were. */
size_t flow_check(const struct flow *f, const struct tpl_set *t, flow_problem_fn report,
		  void *arg);

#endif
