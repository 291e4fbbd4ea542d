/* What engine.c and actions.c share: the engine, a request's run and the session it keeps.
 * Not for other modules (they use engine.h). */
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
#define SESS_HANDSETS_MAX 5

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

/* A session's variables: what survives from one USSD step to the next. */
struct sess {
	char screen[FLOW_NAME_MAX + 1];
	unsigned consumed;		/* inputs used so far (the aggregator repeats them) */
	char lang[8];
	char imei[41];			/* 15 digits, or what was typed when not an IMEI */
	char owner[MSISDN_E164_MAX + 1];
	char reason[8];
	char police[25];
	char ref[REF_LEN + 1];
	uint64_t handsets[SESS_HANDSETS_MAX];	/* IMEI bodies listed to pick from */
	unsigned nhandsets;
	/* What was verified, and for whom: the report action insists on both. */
	char link_owner[MSISDN_E164_MAX + 1];
	char link_imei[16];
	unsigned last_seen;		/* days since 2000-01-01 */
	char kyc_owner[MSISDN_E164_MAX + 1];
	/* What the link found, told only once the ID digits prove the caller is the owner
	 * (issue 15: nothing before proof): 'y' linked, 'n' not linked, 'r' reported by this
	 * owner (s.ref is its reference), 'o' reported by someone else. */
	char link_state;
	/* The screen as it was shown, when it holds values the session does not keep (tries,
	 * minutes, what was limited, the end's text): what a repeat of the step gets again. */
	char shown[640];
};

size_t sess_encode(const struct sess *s, char *out, size_t outsz);
int sess_decode(const char *in, size_t len, struct sess *s);

/* One request, from its arrival to its reply; a talloc child of the engine. */
struct run {
	struct engine *e;
	struct journeys *j;		/* referenced: survives a reload */
	enum engine_channel ch;
	char msisdn[MSISDN_E164_MAX + 1];
	char tag[64];			/* "ussd +2547****5678 #12" for logs */
	/* "ussd #12": for the lines that name a report's reference (run_ref_log: four of its
	 * digits), which show no digit of the number; #12 ties them to the run's other lines. */
	char rtag[32];
	char ref_log[REF_LEN + 1];	/* run_ref_log()'s */
	engine_reply_cb cb;
	void *arg;

	char sid[65];			/* the USSD session's id (with msisdn: its record) */
	size_t sidlen;
	bool has_session, cumulative;
	bool fresh_if_new;	/* an answer whose session is gone starts afresh */
	bool fresh_session;	/* a dial: a session left under its id is dropped */
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
	unsigned pick;
	bool police_set;
	size_t imei_raw_len;

	/* Placeholder values of the screen to render. */
	char maker[96], model[128], date[11], tries[24], minutes[24], why[128], list[512];
	char what[96];			/* what a limit counted, in the run's language */
	char why_code[48];
	char reported_at[24];	/* a resumed report's, ISO 8601 */

	bool temporary;			/* an action failed for want of Redis */
	int deferred_err;
	void (*deferred)(struct run *r, int err);

	/* Action scratch. */
	int outstanding;
	int failed;
	bool flag;
	enum report_state state;	/* the report's (run_report_fields, the check) */
	bool state_unknown;		/* it has a state this version does not know */
	char reporter[MSISDN_E164_MAX + 1], owner_f[MSISDN_E164_MAX + 1];
	long long created;
	uint64_t cand[8];
	unsigned ncand;
	bool cand_ok[8];
	char pin_digest[20];
	int attempts;

	/* A run of the engine's own (the sweep): its outcome instead of a screen. */
	void (*done)(struct run *r, const char *outcome);

	/* The JSON API's check: its answer instead of a screen. */
	engine_check_cb api_cb;
	void *api_arg;

	char out[2048];
	size_t len;
};

/* engine.c */
void run_outcome(struct run *r, int outcome);
/* Ends the running action with its outcome o (or, the steps every action shares,
 * with its "unavailable"). */
void run_finish(struct run *r, enum flow_outcome o);
void run_finish_unavailable(struct run *r);
int run_outcome_index(enum flow_action a, const char *name);
int run_render_key(struct run *r, const char *key, char *out, size_t outsz);
void run_set_model(struct run *r);
void run_remember_lang(struct run *r);
/* Validates one input into its variable (the session, or the transient ID and PIN). */
bool run_take_input(struct run *r, enum flow_var v, const char *in, size_t len);
bool ref_valid(const char *s, size_t len);
/* The session's reference as logs show it: its last four digits ("******8044"). Whole, it is
 * a bearer secret (STATUS, half of an unblock) that a log reader could use, and tie to the
 * masked number of the run's other lines; four digits still find the line for support. */
const char *run_ref_log(struct run *r);
void ref_finish(char ref[REF_LEN + 1]);

/* actions.c */
void actions_run(struct run *r, enum flow_action a);
void sms_enter(struct run *r);
/* Calls fn(r, r->deferred_err) from the event loop (a reply never comes from inside the
 * call that asked for it). */
void actions_defer(struct run *r, void (*fn)(struct run *r, int err));
/* Enters the flow at a screen after the SMS matched a rule (engine.c's step). */
void run_goto(struct run *r, int screen);
/* The sweep: completes the half-done report of imei (a run made by engine_sweep). */
int actions_sweep_report(struct run *r, const char *imei);
void actions_noop_done(void *arg, int err);
/* Sends an SMS of the engine's own (text key rendered in the run's language). */
void run_send_sms(struct run *r, const char *to, const char *key);
/* Reads a report's fields into the run; true when it is the report of r->s.ref. */
bool run_report_fields(struct run *r, const struct store_kv *kv, size_t n);
void run_render_why(struct run *r, const char *code);

/* The numbered list of the session's handsets (r->list). */
void run_build_handsets(struct run *r);

/* entry.c */
void api_start(struct run *r, int err);
void api_finish(struct run *r, const char *outcome);

#endif
