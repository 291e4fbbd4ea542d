/* Ways into the engine besides the USSD menu: SMS commands (keywords of every language, then
 * arguments), the JSON API's check, and the CEIR's results on the results stream. */
#include "flow/engine_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <talloc.h>

#include "core/logging.h"
#include "core/metrics.h"
#include "domain/imei.h"
#include "domain/report.h"
#include "feed/entry.h"
#include "store/pairs.h"
#include "store/store.h"

/* ---- the JSON API's check -------------------------------------------------------------- */

/* An API check: the check action alone, its outcome given to the caller's callback. */
struct api_ctx {
	engine_check_cb cb;
	void *arg;
};

static void api_start(struct run *r, int err)
{
	(void)err;
	actions_run(r, FA_CHECK);
}

/* The check's outcome as the API's answer, instead of a screen. */
static void api_finish(struct run *r, enum flow_outcome o)
{
	const struct api_ctx *ac = r->owner;
	const char *outcome = run_outcome_name(o);
	struct engine_check c = { 0 };
	struct engine_foreign fo[PAIRS_FOREIGN_MAX];
	struct imei im;
	bool abroad = o == CHECK_FOREIGN_STOLEN || o == CHECK_FOREIGN_LOST;

	imei_parse(r->s.imei, strlen(r->s.imei), &im);
	c.status = outcome;
	c.reason = "";
	if (strncmp(outcome, "invalid", 7) == 0) {
		c.status = "invalid";
		c.reason = imei_reason_name(r->imei_raw_len > sizeof(r->s.imei) - 1 &&
					    im.reason != IMEI_NOT_DIGITS ? IMEI_TOO_LONG :
					    im.reason);
	} else if (o == CHECK_UNAVAILABLE) {
		c.err = -EAGAIN;
	}
	c.imei = im.has_digits ? im.imei : "";
	c.tac = im.has_digits ? im.tac : "";
	run_set_model(r);
	c.maker = r->maker;
	c.model = r->model;
	/* reported_on is a national report's day; a neighbour's is in its record. */
	c.date = abroad ? "" : r->date;
	for (size_t i = 0; i < r->nforeign; i++) {
		memcpy(fo[i].country, r->foreign[i].country, 2);
		fo[i].country[2] = '\0';
		fo[i].reason = r->foreign[i].reason == 'L' ? "lost" : "stolen";
		pairs_format_date(r->foreign[i].day, fo[i].day);
	}
	c.foreign = fo;
	c.nforeign = r->nforeign;
	ac->cb(ac->arg, &c);
	talloc_free(r);
}

static const struct run_ops api_ops = { "api", api_finish };

int engine_check(struct engine *e, const char *imei, size_t len, const char *client,
		 engine_check_cb cb, void *arg)
{
	struct api_ctx *ac;
	struct run *r;

	if (e->j == NULL)
		return -EAGAIN;
	r = run_new(e, &api_ops, EC_API, "");
	if (r == NULL || (ac = talloc(r, struct api_ctx)) == NULL) {
		talloc_free(r);
		return -ENOMEM;
	}
	ac->cb = cb;
	ac->arg = arg;
	r->owner = ac;
	/* The client's name (the API key's) instead of a number. */
	snprintf(r->tag, sizeof(r->tag), "api %.32s #%llu", client ? client : "?", e->seq);
	e->stats.requests[EC_API]++;
	run_take_input(r, FV_IMEI, imei, len);
	run_defer(r, api_start);
	return 0;
}

/* ---- CEIR results ------------------------------------------------------------------------- */

struct result_ctx {
	struct run *r;
	char result[16];
	char reason[48];
	void (*done)(void *arg, int err);
	void *arg;
	bool unblock_rejected;
	bool queued;		/* the SMS went into the outbox with the move */
	char text[1024];
	char feed[FEED_ENTRY_MAX];
};

/* The feed log's entry of a CEIR decision (feed/entry.h), when this ceirgw publishes a feed:
 * a block (for the report's reason) or an unblock (recovered), dated today (UTC). Returns its
 * length, 0 for none. */
static int result_feed_entry(struct result_ctx *rc, enum report_event ev, char *out,
			     size_t outsz)
{
	const struct ceirgw_config *cfg = rc->r->e->cfg;
	struct feed_entry fe = { 0 };
	struct tm tm;
	time_t now = time(NULL);
	int rv, reason;

	if (cfg == NULL || cfg->feed_origin == NULL ||
	    (ev != REPORT_EV_CEIR_BLOCKED && ev != REPORT_EV_CEIR_UNBLOCKED))
		return 0;
	snprintf(fe.country, sizeof(fe.country), "%s", cfg->country);
	snprintf(fe.imei, sizeof(fe.imei), "%.15s", rc->r->s.imei);
	if (ev == REPORT_EV_CEIR_BLOCKED) {
		fe.status = FEED_BLOCKED;
		reason = feed_reason_parse(rc->r->rep.reason, strlen(rc->r->rep.reason));
		fe.reason = reason == FEED_LOST ? FEED_LOST : FEED_STOLEN;
	} else {
		fe.status = FEED_UNBLOCKED;
		fe.reason = FEED_RECOVERED;
	}
	gmtime_r(&now, &tm);
	fe.year = tm.tm_year + 1900;
	fe.month = tm.tm_mon + 1;
	fe.day = tm.tm_mday;
	rv = feed_entry_format(&fe, out, outsz);
	if (rv < 0) {
		LOGP(LOGC_CEIR, LOGL_ERROR, "report %s: no feed entry (%s): the IMEI or the "
		     "country does not make one", run_ref_log(rc->r), strerror(-rv));
		return 0;
	}
	return rv;
}

static void result_end(struct result_ctx *rc, int err)
{
	void (*done)(void *, int) = rc->done;
	void *arg = rc->arg;

	talloc_free(rc->r);	/* rc is its child */
	done(arg, err);
}

static void result_notify(struct result_ctx *rc)
{
	struct run *r = rc->r;
	char key[32];

	snprintf(key, sizeof(key), "notify.%s", rc->unblock_rejected ? "rejected" : rc->result);
	if (r->rep.reporter[0])
		run_send_sms(r, r->rep.reporter, key);
	if (r->rep.owner[0] && strcmp(r->rep.owner, r->rep.reporter) != 0)
		run_send_sms(r, r->rep.owner, key);
}

static void result_on_transition(void *arg, int err, const char *state, size_t len,
				 bool changed)
{
	struct result_ctx *rc = arg;

	(void)state;
	(void)len;
	if (err < 0) {
		result_end(rc, err);
		return;
	}
	if (changed) {
		METRIC_INC1(ceir_results, rc->unblock_rejected ? MCR_UNBLOCK_REJECTED :
			    strcmp(rc->result, "blocked") == 0 ? MCR_BLOCKED :
			    strcmp(rc->result, "unblocked") == 0 ? MCR_UNBLOCKED : MCR_REJECTED);
		LOGP(LOGC_CEIR, LOGL_NOTICE, "report %s: %s%s%s", run_ref_log(rc->r), rc->result,
		     rc->reason[0] ? ": " : "", rc->reason);
		if (!rc->queued)
			result_notify(rc);
	} else {
		METRIC_INC1(ceir_results, MCR_UNCHANGED);
		LOGP(LOGC_CEIR, LOGL_INFO, "report %s: result %s changes nothing (a repeat)",
		     run_ref_log(rc->r), rc->result);
	}
	result_end(rc, 0);
}

static void result_on_report(void *arg, int err, const struct store_kv *kv, size_t n)
{
	struct result_ctx *rc = arg;
	struct run *r = rc->r;
	enum report_event ev;
	struct store_kv f[1];
	size_t nf = 0;
	int e;

	if (err < 0) {
		result_end(rc, err);
		return;
	}
	if (!run_report_fields(r, kv, n)) {
		METRIC_INC1(ceir_results, MCR_INVALID);
		LOGP(LOGC_CEIR, LOGL_WARN, "result for report %s: no such open report; dropped",
		     run_ref_log(r));
		result_end(rc, 0);
		return;
	}
	/* The CEIR's result (its own names, doc/ceir-queue.md, which also name the SMS it
	 * sends: notify.<result>) is an event of the report's table. */
	if (strcmp(rc->result, "blocked") == 0) {
		ev = REPORT_EV_CEIR_BLOCKED;
	} else if (strcmp(rc->result, "unblocked") == 0) {
		ev = REPORT_EV_CEIR_UNBLOCKED;
	} else if (r->rep.state == REPORT_UNBLOCK_SENT) {
		/* An unblock the CEIR refused: the phone stays blocked. */
		ev = REPORT_EV_UNBLOCK_REJECTED;
		rc->unblock_rejected = true;
		f[nf++] = (struct store_kv){ "unblock_rejected", 16, rc->reason,
					     strlen(rc->reason) };
	} else {
		ev = REPORT_EV_CEIR_REJECTED;
		f[nf++] = (struct store_kv){ "reject_reason", 13, rc->reason, strlen(rc->reason) };
	}
	run_render_why(r, rc->reason);	/* in the report's language */
	{
		struct store_sms sms[STORE_SMS_MAX];
		struct store_out out = { NULL, sms, 0, NULL, 0 };
		char key[32];
		int len;

		if (r->e->sms.outbox && r->e->sms.send) {
			/* The SMS go into the outbox in the same step as the move: a ceirgw that
			 * stops in between would otherwise see the result again, find it changes
			 * nothing, and never tell the owner. */
			snprintf(key, sizeof(key), "notify.%s",
				 rc->unblock_rejected ? "rejected" : rc->result);
			len = run_render_key(r, key, rc->text, sizeof(rc->text));
			out.stream = r->e->sms.outbox;
			if (len > 0 && r->rep.reporter[0])
				sms[out.nsms++] = (struct store_sms){ r->rep.reporter, rc->text,
								      (size_t)len };
			if (len > 0 && r->rep.owner[0] && strcmp(r->rep.owner, r->rep.reporter) != 0)
				sms[out.nsms++] = (struct store_sms){ r->rep.owner, rc->text,
								      (size_t)len };
			rc->queued = true;
			r->e->stats.sms_sent += out.nsms;
		}
		/* The country's feed (issue 19): the decision goes into the log in the same
		 * step as the move, once. */
		len = result_feed_entry(rc, ev, rc->feed, sizeof(rc->feed));
		if (len > 0) {
			out.feed = rc->feed;
			out.feedlen = (size_t)len;
		}
		if (out.stream || out.feed)
			e = store_report_transition_out(r->e->st, r->s.imei, ev, f, nf, &out,
							result_on_transition, rc);
		else
			e = store_report_transition(r->e->st, r->s.imei, ev, f, nf,
						    result_on_transition, rc);
	}
	if (e < 0)
		result_end(rc, e);
}

static void result_on_ref(void *arg, int err, const void *imei, size_t len, bool found)
{
	struct result_ctx *rc = arg;
	int e;

	if (err < 0) {
		result_end(rc, err);
		return;
	}
	if (!found || len != 15) {
		METRIC_INC1(ceir_results, MCR_INVALID);
		LOGP(LOGC_CEIR, LOGL_WARN, "result for unknown report %s; dropped",
		     run_ref_log(rc->r));
		result_end(rc, 0);
		return;
	}
	memcpy(rc->r->s.imei, imei, 15);
	rc->r->s.imei[15] = '\0';
	e = store_report_get(rc->r->e->st, rc->r->s.imei, result_on_report, rc);
	if (e < 0)
		result_end(rc, e);
}

/* A result's run renders and sends the SMS and runs no action. */
static void result_no_action(struct run *r, enum flow_outcome o)
{
	LOGP(LOGC_CEIR, LOGL_ERROR, "%s: an action ended (%s) in a CEIR result's run", r->tag,
	     run_outcome_name(o));
}

static const struct run_ops ceir_ops = { "ceir", result_no_action };

int engine_ceir_result(struct engine *e, const char *ref, size_t reflen, const char *imei,
		       size_t imeilen, const char *result, size_t rlen, const char *reason,
		       size_t reasonlen, void (*done)(void *arg, int err), void *arg)
{
	struct result_ctx *rc;
	struct run *r;
	int rv;

	(void)imei;
	(void)imeilen;
	if (e->j == NULL)
		return -EAGAIN;
	if (!ref_valid(ref, reflen) ||
	    !((rlen == 7 && memcmp(result, "blocked", 7) == 0) ||
	      (rlen == 9 && memcmp(result, "unblocked", 9) == 0) ||
	      (rlen == 8 && memcmp(result, "rejected", 8) == 0))) {
		METRIC_INC1(ceir_results, MCR_INVALID);
		return -EINVAL;
	}
	r = run_new(e, &ceir_ops, EC_NONE, "");
	if (r == NULL)
		return -ENOMEM;
	memcpy(r->s.ref, ref, REF_LEN);
	r->s.ref[REF_LEN] = '\0';
	rc = talloc_zero(r, struct result_ctx);
	if (rc == NULL) {
		talloc_free(r);
		return -ENOMEM;
	}
	rc->r = r;
	snprintf(rc->result, sizeof(rc->result), "%.*s", (int)rlen, result);
	for (size_t i = 0; i < reasonlen && i + 1 < sizeof(rc->reason); i++)
		rc->reason[i] = isalnum((unsigned char)reason[i]) || reason[i] == '-' ||
				reason[i] == '_' ? reason[i] : '_';
	rc->done = done;
	rc->arg = arg;
	rv = store_report_find(e->st, r->s.ref, REF_LEN, result_on_ref, rc);
	if (rv < 0)
		talloc_free(r);
	return rv;
}
