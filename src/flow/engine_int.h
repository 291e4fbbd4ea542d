/* What the engine's files share: the engine, a request's run and the session it keeps. Not
 * for other modules (they use engine.h). The files, bottom up (each calls only those below):
 *   run.c      a run: its constructor, its end (run_finish), deferral, the session record,
 *              the inputs' validation, the rendering of texts
 *   actions.c  the actions the flows name, each a chain of store operations ending in one of
 *              its outcomes
 *   journey.c  the USSD and SMS journeys: the flow's steps, the sessions, the SMS commands
 *   entry.c    the JSON API's check and the CEIR's results
 *   engine.c   loading the journeys, the engine itself and its sweep */
#ifndef CEIRGW_FLOW_ENGINE_INT_H
#define CEIRGW_FLOW_ENGINE_INT_H

#include "flow/engine.h"

#include <stdbool.h>
#include <stdint.h>

#include "domain/msisdn.h"
#include "domain/report.h"
#include "domain/tac.h"
#include "flow/outcomes.h"
#include "store/store.h"

struct event_base;

#define REF_LEN 10
_Static_assert(REF_LEN == REPORT_REF_LEN, "a session's reference is a report's");
#define PIN_LEN 6
#define OTP_LEN 6
#define SESS_HANDSETS_MAX 5
/* The way back holds this many questions, the oldest forgotten first: the longest journey
 * (a report for another number) asks 7 before its confirmation. */
#define SESS_BACK_MAX 8

struct engine {
	struct store *st;
	struct event_base *base;
	const struct ceirgw_config *cfg;
	struct journeys *j;
	const struct tac_table *tac;
	uint8_t kyc_key[1024];
	size_t kyc_keylen;
	struct engine_sms_hook sms;
	struct engine_stats stats;
	unsigned long long seq;
	struct event *sweep;
	bool sweeping;
};

/* A session's variables: what survives from one USSD step to the next, one table (X-macros)
 * that makes struct sess and drives its encoding into the session record (sess_encode,
 * sess_decode). X(kind, field, key, size):
 *   VAR   a SAVED variable of the flow (FLOW_VARS), kept under its flow name: key is its FV_
 *         name; char field[size]
 *   STR   char field[size], under key; absent when ""
 *   UINT  unsigned field; absent when 0
 *   CHAR  char field, one of the letters key's row allows (sess_decode); absent when '\0'
 *   LIST  uint64_t field[size] and unsigned n<field>: a comma-separated list
 *   TEXT  char field[size], '\\' and newlines escaped on the record's one line
 * The record is "key=value" lines after "v=1"; a new field is one row here (and, for a flow
 * variable, its row in FLOW_VARS and its validation in run_take_input). */
#define SESS_FIELDS(X) \
	X(STR, screen, "s", FLOW_NAME_MAX + 1) \
	X(UINT, consumed, "c", 0)	/* inputs used so far (the aggregator repeats them) */ \
	X(STR, lang, "l", 8) \
	X(VAR, imei, IMEI, 41)		/* 15 digits, or what was typed when not an IMEI */ \
	X(VAR, owner, OWNER, MSISDN_E164_MAX + 1) \
	X(VAR, reason, REASON, 8) \
	X(VAR, police, POLICE, 25) \
	X(VAR, ref, REF, REF_LEN + 1) \
	X(LIST, handsets, "h", SESS_HANDSETS_MAX)	/* IMEI bodies listed to pick from */ \
	/* "My reports" (issue 18): the IMEI bodies of the caller's reports listed, and the \
	 * list as shown (states and dates are not kept otherwise), for a pick. */ \
	X(LIST, mine, "m", SESS_HANDSETS_MAX) \
	X(TEXT, mine_list, "ml", 400) \
	/* What was verified, and for whom: the report action insists on both. */ \
	X(STR, link_owner, "lo", MSISDN_E164_MAX + 1) \
	X(STR, link_imei, "li", 16) \
	X(UINT, last_seen, "ls", 0)	/* days since 2000-01-01 */ \
	X(STR, kyc_owner, "ko", MSISDN_E164_MAX + 1) \
	/* The line a one-time code proved, in this session (issue 18). */ \
	X(STR, otp_owner, "oo", MSISDN_E164_MAX + 1) \
	/* What the link found, told only once the ID digits prove the caller is the owner \
	 * (issue 15: nothing before proof): 'y' linked, 'n' not linked, 'r' reported by this \
	 * owner (s.ref is its reference), 'o' reported by someone else. */ \
	X(CHAR, link_state, "lk", 0) \
	/* The way back (issue 18): the questions asked, the one on the screen last, as screen \
	 * names joined by ',' (names, not indices: a reload may change the flow under a \
	 * session; a name it no longer has goes to the start). A question asked again (a \
	 * re-ask screen, a menu redrawn) is not added: back leaves the question. journey.c. */ \
	X(STR, back, "b", SESS_BACK_MAX * (FLOW_NAME_MAX + 1)) \
	/* The screen as it was shown, when it holds values the session does not keep (tries, \
	 * minutes, what was limited, the end's text): what a repeat of the step gets again. */ \
	X(TEXT, shown, "t", 640)

#define SESS_MEMBER_VAR(field, size) char field[size];
#define SESS_MEMBER_STR(field, size) char field[size];
#define SESS_MEMBER_UINT(field, size) unsigned field;
#define SESS_MEMBER_CHAR(field, size) char field;
#define SESS_MEMBER_LIST(field, size) uint64_t field[size]; unsigned n##field;
#define SESS_MEMBER_TEXT(field, size) char field[size];
#define SESS_MEMBER_(kind, field, key, size) SESS_MEMBER_##kind(field, size)
struct sess {
	SESS_FIELDS(SESS_MEMBER_)
};

size_t sess_encode(const struct sess *s, char *out, size_t outsz);
int sess_decode(const char *in, size_t len, struct sess *s);

struct run;

/* What a kind of run does with an action's outcome: one record per kind, given to run_new.
 * A journey (journey.c) goes to the screen the flow maps the outcome to; the API check
 * (entry.c) answers its caller; the sweep (engine.c) logs it. A journey replies to its
 * channel through the run's cb; the other kinds answer through their own context (owner). */
struct run_ops {
	const char *name;	/* "ussd", "sms", "api", "ceir", "sweep": the runs' log tags */
	void (*outcome)(struct run *r, enum flow_outcome o);
};

/* One request, from its arrival to its reply; a talloc child of the engine. */
struct run {
	struct engine *e;
	const struct run_ops *ops;
	void *owner;			/* the kind's own context (a talloc child), or NULL */
	enum flow_action action;	/* the action running, FA_COUNT between actions */
	struct journeys *j;		/* referenced: survives a reload */
	enum engine_channel ch;
	char msisdn[MSISDN_E164_MAX + 1];
	char tag[64];			/* "ussd +2547****5678 #12" for logs */
	/* "ussd #12": for the lines that name a report's reference (run_ref_log: four of its
	 * digits), which show no digit of the number; #12 ties them to the run's other lines. */
	char rtag[32];
	char ref_log[REF_LEN + 1];	/* run_ref_log()'s */
	engine_reply_cb cb;		/* a journey's reply, NULL for other kinds */
	void *arg;

	char sid[65];			/* the USSD session's id (with msisdn: its record) */
	size_t sidlen;
	bool has_session, cumulative;
	bool fresh_if_new;	/* an answer whose session is gone starts afresh */
	bool fresh_session;	/* a dial: a session left under its id is dropped */
	/* The first read, done by the channel (engine_sms_first, engine_ussd_first): the
	 * language or the session record, a talloc child of the run. */
	char *first;
	size_t first_len;
	bool first_found, first_resume;
	size_t cumulative_len;
	struct sess s;
	int screen;
	char **inputs;
	size_t ninputs, next_input;
	int steps;
	char *sms_text;
	size_t sms_len;

	/* Transient: never saved with the session. */
	char id[40];			/* national ID characters as typed */
	char pin[PIN_LEN + 1];		/* as typed */
	char pin_out[PIN_LEN + 1];	/* a new PIN, for the receipt */
	char otp[OTP_LEN + 1];		/* a one-time code as typed */
	char otp_out[OTP_LEN + 1];	/* a new one-time code, for its SMS */
	char line[24];			/* {line}: the owner's number, masked */
	unsigned pick;
	int answered;			/* the screen whose input this run took last, or -1 */
	/* The waiting screen answered last, until the journey stops at the next one (which
	 * then joins the way back unless it asks the same again); -1: none (a back, a home). */
	int back_from;
	bool note;			/* the screen shows the flow's invalid-choice text first */
	bool police_set;
	/* The number's resume record (STORE_REC_RESUME) may hold this journey: the session
	 * was at a resumable screen, or the caller turned down the offer to continue. Dropped
	 * at the next screen that is not resumable. */
	bool resume_dirty;
	size_t imei_raw_len;

	/* Placeholder values of the screen to render (list: {handsets} or {reports}). */
	char maker[96], model[128], date[11], tries[24], minutes[24], why[128], list[512];
	char what[96];			/* what a limit counted, in the run's language */
	char why_code[48];
	char reported_at[24];	/* a resumed report's, ISO 8601 */
	char country[3];	/* {country}: a neighbour's ISO 3166-1 code, "" for none */

	/* What the check found of the IMEI abroad (issue 19): the neighbours that block it,
	 * newest decision first; the API lists them all. */
	struct foreign_rec foreign[PAIRS_FOREIGN_MAX];
	size_t nforeign;

	bool temporary;			/* an action failed for want of Redis */
	int deferred_err;
	void (*deferred)(struct run *r, int err);

	/* The report the run is about (status, unblock, a CEIR result: by its reference), as
	 * run_report_fields read it. What an action keeps only while it runs is its own
	 * context, a talloc child of the run (actions.c: check_ctx, handsets_ctx, ...). */
	struct report rep;

	char out[2048];
	size_t len;
};

/* run.c */
/* A run of the kind ops for a request from msisdn ("" for none), with the default language;
 * NULL when out of memory or no journeys are loaded. The caller sets the rest (cb and arg for
 * a journey, owner for its own context). */
struct run *run_new(struct engine *e, const struct run_ops *ops, enum engine_channel ch,
		    const char *msisdn);
/* Ends the running action with its outcome o, an outcome of r->action (the compiler checks
 * the name; run_finish checks the action); its kind's ops take it from there. */
void run_finish(struct run *r, enum flow_outcome o);
/* Ends the running action with its "unavailable" (the steps every action shares). */
void run_finish_unavailable(struct run *r);
const char *run_outcome_name(enum flow_outcome o);
int run_outcome_index(enum flow_action a, const char *name);
/* A journey's answer (r->cb, when set); frees the run. */
void run_reply(struct run *r, const char *text, size_t len, bool end);
/* Calls fn(r, r->deferred_err) from the event loop (a reply never comes from inside the
 * call that asked for it). */
void run_defer(struct run *r, void (*fn)(struct run *r, int err));
void run_noop_done(void *arg, int err);

int run_render_key(struct run *r, const char *key, char *out, size_t outsz);
void run_set_model(struct run *r);
/* The numbered list of the session's handsets (r->list). */
void run_build_handsets(struct run *r);
void run_remember_lang(struct run *r);
/* Validates one input into its variable (the session, or the transient ID and PIN). A new
 * IMEI or owner forgets what was verified (the link and the ID digits must be proven again
 * for it); new ID digits forget the last match. */
bool run_take_input(struct run *r, enum flow_var v, const char *in, size_t len);
/* Forgets a variable's value, as if its question had never been answered (a back out of
 * it), with what was verified for it. */
void run_forget(struct run *r, enum flow_var v);
bool run_printable(const char *s, size_t len);
bool ref_valid(const char *s, size_t len);
/* The session's reference as logs show it: its last four digits ("******8044"). Whole, it is
 * a bearer secret (STATUS, half of an unblock) that a log reader could use, and tie to the
 * masked number of the run's other lines; four digits still find the line for support. */
const char *run_ref_log(struct run *r);
void ref_finish(char ref[REF_LEN + 1]);
/* The 15-digit IMEI (with its check digit) of a 14-digit body. */
void run_imei_of_body(uint64_t body, char out[16]);

/* actions.c */
/* Runs action a; it ends, later, in run_finish. */
void actions_run(struct run *r, enum flow_action a);
/* The sweep: completes the half-done report of imei (a run made by the engine's sweep). */
int actions_sweep_report(struct run *r, const char *imei);
/* Sends an SMS of the engine's own (text key rendered in the run's language). */
void run_send_sms(struct run *r, const char *to, const char *key);
/* Reads a report's fields into the run; true when it is the report of r->s.ref. */
bool run_report_fields(struct run *r, const struct store_kv *kv, size_t n);
void run_render_why(struct run *r, const char *code);

#endif
