/* The journey engine: runs the flow (flow.h) for one request of any channel, with the texts
 * of the caller's language (templates.h), the actions against the store, and the session
 * kept in Redis between USSD steps, so that any ceirgw process can serve the next step.
 * Channels (USSD and SMS over HTTP, the JSON API, the Kannel box) only translate their wire
 * format into engine calls and the reply back. */
#ifndef CEIRGW_FLOW_ENGINE_H
#define CEIRGW_FLOW_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "flow/flow.h"
#include "flow/templates.h"

struct store;
struct tac_table;
struct engine;

/* A flow and its texts, checked together: what the daemon loads at start and on SIGHUP. */
struct journeys {
	struct flow *flow;
	struct tpl_set *tpl;
	char langs[512];	/* the language menu's lines ("1 English\n2 Francais"), built once */
};

/* Loads the one flow of flows_dir (*.yaml) and every language of templates_dir, sets the
 * default language and runs flow_check(), calling report for each problem. Returns a talloc
 * child of ctx, or NULL with the first fault (or "N problems") in err. */
struct journeys *journeys_load(void *ctx, const char *flows_dir, const char *templates_dir,
			       const char *default_lang, flow_problem_fn report, void *arg,
			       char *err, size_t errsz);

/* The channel a request came by; EC_NONE for the engine's own work (a CEIR result, the
 * sweep). */
enum engine_channel { EC_USSD, EC_SMS, EC_API, EC_NONE };

/* How the engine sends an SMS of its own (the receipt with the PIN, CEIR results): to is
 * E.164, text UTF-8. The channel that owns the SMS path (Kannel's sendsms, the box) does
 * the rest. */
struct engine_sms_hook {
	void (*send)(void *arg, const char *to, const char *text, size_t len);
	void *arg;
	/* The Redis outbox stream the channel reads (channels.h), or NULL: a receipt is then
	 * added there in the same step as its report's move to "sent". */
	const char *outbox;
};

/* Creates the engine. cfg and what it names must outlive it; kyc_key may be NULL (report and
 * unblock then answer "unavailable" and say why in the log). */
struct event_base;
struct engine *engine_create(void *ctx, struct event_base *base, struct store *st,
			     const struct ceirgw_config *cfg, const uint8_t *kyc_key,
			     size_t kyc_keylen);

/* What the engine uses from now on (the old ones stay with the requests that hold them). */
void engine_set_journeys(struct engine *e, struct journeys *j);
void engine_set_config(struct engine *e, const struct ceirgw_config *cfg);
void engine_set_tac(struct engine *e, const struct tac_table *tac);
void engine_set_sms_hook(struct engine *e, const struct engine_sms_hook *hook);

struct engine_reply {
	const char *text;	/* UTF-8, lent for the call */
	size_t len;
	bool end;		/* USSD: the session is over */
	/* The request could not be handled now (Redis down): text says so, and a channel that
	 * can ask its peer to retry (the Kannel box: ack_failed_tmp) should. */
	bool temporary;
	const char *lang;
};
typedef void (*engine_reply_cb)(void *arg, const struct engine_reply *r);

/* How a USSD step carries its input. */
enum engine_ussd_mode {
	/* All inputs so far joined by '*' (the aggregator form, where the session remembers
	 * how many were used); with no session, the dial's arguments (*384*ARG#). */
	ENGINE_USSD_CUMULATIVE,
	/* A dial: a new session whose first inputs are the dial's arguments; a session left
	 * under the same id is dropped. */
	ENGINE_USSD_DIAL,
	/* The answer to the last screen; with no session (it timed out) a fresh start. */
	ENGINE_USSD_ANSWER,
};

/* A USSD step. msisdn is the caller in E.164; sid[0..sidlen) the channel's session id
 * (printable, at most 64 bytes); text the input as mode says. Returns 0 and calls cb exactly
 * once later (never from inside this call), or -EINVAL for arguments no channel should
 * pass (a session id that is not 1 to 64 printable bytes, a text over ENGINE_USSD_TEXT_MAX
 * bytes), -E2BIG for a text of more than ENGINE_USSD_INPUTS_MAX inputs. */
#define ENGINE_USSD_TEXT_MAX 1024
/* The aggregator repeats every input of the session in each step: the happy path takes 8,
 * and going back and home (issue 18) adds what the user retraces. */
#define ENGINE_USSD_INPUTS_MAX 64
int engine_ussd(struct engine *e, const char *msisdn, const char *sid, size_t sidlen,
		const char *text, size_t len, enum engine_ussd_mode mode, engine_reply_cb cb,
		void *arg);

/* Ends a USSD session the network or the user aborted. */
void engine_ussd_abort(struct engine *e, const char *msisdn, const char *sid, size_t sidlen);

/* An SMS to the short code; the reply is the answer SMS (end is true). */
int engine_sms(struct engine *e, const char *msisdn, const char *text, size_t len,
	       engine_reply_cb cb, void *arg);

/* What the engine reads first for a request, read by the channel in the same command as a
 * record of its own that shares the slot (the Kannel box: its MO's record, issue 21), so that
 * the engine does not read it again. For an SMS and a USSD dial: the number's language
 * (STORE_REC_LANG; data, len, found) and, for a dial, whether its resume record exists
 * (STORE_REC_RESUME: resume); for a USSD answer: the session's record (STORE_REC_USSD of
 * sid and msisdn; data, len, found). Copied by the call. */
struct engine_first {
	const void *data;
	size_t len;
	bool found;
	bool resume;
};

/* engine_sms and engine_ussd (ENGINE_USSD_DIAL or ENGINE_USSD_ANSWER: -EINVAL for
 * ENGINE_USSD_CUMULATIVE), with their first read given; the same answers and promises. */
int engine_sms_first(struct engine *e, const char *msisdn, const char *text, size_t len,
		     const struct engine_first *first, engine_reply_cb cb, void *arg);
int engine_ussd_first(struct engine *e, const char *msisdn, const char *sid, size_t sidlen,
		      const char *text, size_t len, enum engine_ussd_mode mode,
		      const struct engine_first *first, engine_reply_cb cb, void *arg);

/* A neighbour that blocks the IMEI (issue 19), as its CEIR's feed says. */
struct engine_foreign {
	char country[3];	/* ISO 3166-1 alpha-2 */
	const char *reason;	/* "stolen" or "lost" */
	char day[11];		/* the decision's day, YYYY-MM-DD */
};

/* The check for the JSON API: status is one of the check action's outcomes; client is the
 * API key's name, for the logs. */
struct engine_check {
	int err;		/* 0, or -EAGAIN when Redis is down */
	const char *status;	/* clean, stolen, lost, blocked, foreign_stolen, foreign_lost,
				 * duplicated, unknown, invalid, limited */
	const char *reason;	/* for invalid: imei_reason_name() */
	const char *imei;	/* 15 digits when it has them, else "" */
	const char *tac, *maker, *model;	/* "" when unknown */
	const char *date;	/* reported here (a national report): YYYY-MM-DD, else "" */
	/* Every neighbour that blocks it, newest decision first, whatever the status (a
	 * national report is told first, but these are still there); none when the check did
	 * not look (invalid, limited, unavailable). */
	const struct engine_foreign *foreign;
	size_t nforeign;
};
typedef void (*engine_check_cb)(void *arg, const struct engine_check *c);
int engine_check(struct engine *e, const char *imei, size_t len, const char *client,
		 engine_check_cb cb, void *arg);

/* Applies a CEIR result to its report (blocked, unblocked, rejected) and sends the SMS.
 * done(arg, 0) once the report is updated and the SMS handed over, so that the caller may
 * acknowledge the entry; -EAGAIN to keep it for later; 0 too for a result that changes
 * nothing (a repeat) or names no report (logged). */
int engine_ceir_result(struct engine *e, const char *ref, size_t reflen, const char *imei,
		       size_t imeilen, const char *result, size_t rlen, const char *reason,
		       size_t reasonlen, void (*done)(void *arg, int err), void *arg);

/* Counters for /metrics. */
struct engine_stats {
	uint64_t requests[3];	/* by channel: USSD, SMS, API */
	uint64_t outcomes_unavailable;
	uint64_t reports_accepted, unblocks_accepted, checks;
	uint64_t sms_sent;
};
const struct engine_stats *engine_stats(const struct engine *e);

#endif
