/* Ways into the engine besides the USSD menu: SMS commands (keywords of every language, then
 * arguments), the JSON API's check, and the CEIR's results on the results stream. */
#include "flow/engine_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <talloc.h>

#include "core/logging.h"
#include "domain/imei.h"
#include "domain/report.h"
#include "store/store.h"

#define SMS_TOKENS_MAX 16

static bool space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',' || c == ';';
}

/* Whether word (len bytes) is one of the comma-separated keywords, ASCII case folded. */
static bool keyword_in(const char *list, const char *word, size_t len)
{
	const char *p = list;

	while (*p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		while (n && *p == ' ') {
			p++;
			n--;
		}
		while (n && p[n - 1] == ' ')
			n--;
		if (n == len && n > 0) {
			size_t i;

			for (i = 0; i < n; i++)
				if (tolower((unsigned char)p[i]) != tolower((unsigned char)word[i]))
					break;
			if (i == n)
				return true;
		}
		if (end == NULL)
			break;
		p = end + 1;
	}
	return false;
}

/* Matches the first word against a rule's keywords in every language. Returns true when one
 * matches; *lang is then the language it matched in, preferring the caller's own. */
static bool keyword_match(struct run *r, const char *key, const char *word, size_t len,
			  const char **lang)
{
	const char *codes[16];
	size_t n = tpl_languages(r->j->tpl, codes, 16);
	char list[512];
	bool any = false;

	*lang = NULL;
	for (size_t i = 0; i < n && i < 16; i++) {
		bool fallback = false;

		if (tpl_render(r->j->tpl, codes[i], key, NULL, 0, list, sizeof(list),
			       &fallback) < 0 || fallback)
			continue;
		if (!keyword_in(list, word, len))
			continue;
		if (!any || strcmp(codes[i], r->s.lang) == 0)
			*lang = codes[i];
		any = true;
	}
	return any;
}

/* Fills the rule's arguments from tokens: the IMEI (else the last) argument takes the extra
 * words, as people type an IMEI in groups ("3569 3803 5643 809"). */
static bool fill_args(struct run *r, const struct flow_rule *rule, char **tok, size_t ntok)
{
	size_t extra, wide = rule->nargs - 1, t = 0;

	if (ntok < rule->nargs)
		return false;
	extra = ntok - rule->nargs;
	for (size_t a = 0; a < rule->nargs; a++)
		if (rule->args[a] == FV_IMEI) {
			wide = a;
			break;
		}
	for (size_t a = 0; a < rule->nargs; a++) {
		char joined[256];
		size_t len = 0, take = a == wide ? extra + 1 : 1;

		for (size_t k = 0; k < take; k++, t++) {
			int n = snprintf(joined + len, sizeof(joined) - len, "%s%s", k ? " " : "",
					 tok[t]);

			if (n < 0 || len + (size_t)n >= sizeof(joined))
				return false;
			len += (size_t)n;
		}
		/* An invalid IMEI goes on: the action says why. Others must be valid. */
		if (!run_take_input(r, rule->args[a], joined, len) && rule->args[a] != FV_IMEI)
			return rule->args[a] == FV_REF || rule->args[a] == FV_PIN ||
			       rule->args[a] == FV_ID;
	}
	return true;
}

void sms_enter(struct run *r)
{
	const struct flow *f = r->j->flow;
	char *text = r->sms_text, *tok[SMS_TOKENS_MAX];
	size_t ntok = 0, len = r->sms_len, i;
	struct imei im;

	/* Words, split at spaces; control characters count as spaces. */
	for (i = 0; i < len; i++)
		if ((unsigned char)text[i] < 0x20)
			text[i] = ' ';
	for (i = 0; i < len && ntok < SMS_TOKENS_MAX;) {
		while (i < len && space(text[i]))
			text[i++] = '\0';
		if (i < len)
			tok[ntok++] = text + i;
		while (i < len && !space(text[i]))
			i++;
	}
	while (i < len && space(text[i]))
		text[i++] = '\0';
	if (i < len)
		ntok = 0;	/* too many words: no command */
	for (i = 0; ntok && i < f->ncommands; i++) {
		const struct flow_rule *rule = &f->commands[i];
		const char *lang;

		if (rule->keywords == NULL) {
			/* A bare IMEI: the whole text, if it is digits and separators. */
			if (rule->nargs != 1 || rule->args[0] != FV_IMEI)
				continue;
			char joined[256];
			size_t jl = 0;

			for (size_t k = 0; k < ntok && jl < sizeof(joined); k++)
				jl += (size_t)snprintf(joined + jl, sizeof(joined) - jl, "%s%s",
						       k ? " " : "", tok[k]);
			if (ntok > 6 || jl >= sizeof(joined))
				continue;
			imei_parse(joined, jl, &im);
			if (im.reason == IMEI_NOT_DIGITS)
				continue;
			if (!fill_args(r, rule, tok, ntok))
				continue;
		} else {
			if (!keyword_match(r, rule->keywords, tok[0], strlen(tok[0]), &lang))
				continue;
			if (!fill_args(r, rule, tok + 1, ntok - 1))
				break;	/* the right command, used wrong: the help says how */
			snprintf(r->s.lang, sizeof(r->s.lang), "%s", lang);
		}
		for (size_t k = 0; k < rule->nset; k++)
			run_take_input(r, rule->set[k].var, rule->set[k].value,
				       strlen(rule->set[k].value));
		run_goto(r, rule->next);
		return;
	}
	run_goto(r, f->sms_help);
}

/* ---- the JSON API's check -------------------------------------------------------------- */

struct api_ctx {
	engine_check_cb cb;
	void *arg;
	struct run *r;
};

/* Runs that answer otherwise (the API's callback, a CEIR result) show no screen. */
static void no_reply(void *arg, const struct engine_reply *rep)
{
	(void)arg;
	(void)rep;
}

int engine_check(struct engine *e, const char *imei, size_t len, const char *client,
		 engine_check_cb cb, void *arg)
{
	struct run *r;

	if (e->j == NULL)
		return -EAGAIN;
	r = talloc_zero(e, struct run);
	if (r == NULL)
		return -ENOMEM;
	r->e = e;
	r->j = e->j;
	if (talloc_reference(r, r->j) == NULL) {
		talloc_free(r);
		return -ENOMEM;
	}
	r->ch = EC_API;
	r->cb = no_reply;
	r->api_cb = cb;
	r->api_arg = arg;
	snprintf(r->tag, sizeof(r->tag), "api %.32s #%llu", client ? client : "?", ++e->seq);
	snprintf(r->s.lang, sizeof(r->s.lang), "%s", e->cfg->default_language);
	e->stats.requests[EC_API]++;
	run_take_input(r, FV_IMEI, imei, len);
	r->screen = -1;
	actions_defer(r, api_start);
	return 0;
}

void api_start(struct run *r, int err)
{
	(void)err;
	actions_run(r, FA_CHECK);
}

/* Called by run_finish for an API run instead of going on in the flow. */
void api_finish(struct run *r, const char *outcome)
{
	struct engine_check c = { 0 };
	struct imei im;

	imei_parse(r->s.imei, strlen(r->s.imei), &im);
	c.status = outcome;
	c.reason = "";
	if (strncmp(outcome, "invalid", 7) == 0) {
		c.status = "invalid";
		c.reason = imei_reason_name(r->imei_raw_len > sizeof(r->s.imei) - 1 &&
					    im.reason != IMEI_NOT_DIGITS ? IMEI_TOO_LONG :
					    im.reason);
	} else if (strcmp(outcome, "unavailable") == 0) {
		c.err = -EAGAIN;
	}
	c.imei = im.has_digits ? im.imei : "";
	c.tac = im.has_digits ? im.tac : "";
	run_set_model(r);
	c.maker = r->maker;
	c.model = r->model;
	c.date = r->date;
	r->api_cb(r->api_arg, &c);
	talloc_free(r);
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
};

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
	if (r->reporter[0])
		run_send_sms(r, r->reporter, key);
	if (r->owner_f[0] && strcmp(r->owner_f, r->reporter) != 0)
		run_send_sms(r, r->owner_f, key);
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
		LOGP(LOGC_CEIR, LOGL_NOTICE, "report %s: %s%s%s", run_ref_log(rc->r), rc->result,
		     rc->reason[0] ? ": " : "", rc->reason);
		if (!rc->queued)
			result_notify(rc);
	} else {
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
		LOGP(LOGC_CEIR, LOGL_WARN, "result for report %s: no such open report; dropped",
		     r->s.ref);
		result_end(rc, 0);
		return;
	}
	/* The CEIR's result (its own names, doc/ceir-queue.md, which also name the SMS it
	 * sends: notify.<result>) is an event of the report's table. */
	if (strcmp(rc->result, "blocked") == 0) {
		ev = REPORT_EV_CEIR_BLOCKED;
	} else if (strcmp(rc->result, "unblocked") == 0) {
		ev = REPORT_EV_CEIR_UNBLOCKED;
	} else if (r->state == REPORT_UNBLOCK_SENT) {
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
	if (r->e->sms.outbox && r->e->sms.send) {
		/* The SMS go into the outbox in the same step as the move: a ceirgw that stops
		 * in between would otherwise see the result again, find it changes nothing, and
		 * never tell the owner. */
		struct store_sms sms[STORE_SMS_MAX];
		size_t nsms = 0;
		char key[32];
		int len;

		snprintf(key, sizeof(key), "notify.%s",
			 rc->unblock_rejected ? "rejected" : rc->result);
		len = run_render_key(r, key, rc->text, sizeof(rc->text));
		if (len > 0 && r->reporter[0])
			sms[nsms++] = (struct store_sms){ r->reporter, rc->text, (size_t)len };
		if (len > 0 && r->owner_f[0] && strcmp(r->owner_f, r->reporter) != 0)
			sms[nsms++] = (struct store_sms){ r->owner_f, rc->text, (size_t)len };
		rc->queued = true;
		r->e->stats.sms_sent += nsms;
		e = store_report_transition_sms(r->e->st, r->s.imei, ev, f, nf,
						r->e->sms.outbox, sms, nsms, result_on_transition,
						rc);
	} else {
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
	      (rlen == 8 && memcmp(result, "rejected", 8) == 0)))
		return -EINVAL;
	r = talloc_zero(e, struct run);
	if (r == NULL || talloc_reference(r, e->j) == NULL) {
		talloc_free(r);
		return -ENOMEM;
	}
	r->e = e;
	r->j = e->j;
	r->ch = EC_API;
	r->cb = no_reply;
	snprintf(r->tag, sizeof(r->tag), "ceir #%llu", ++e->seq);
	snprintf(r->s.lang, sizeof(r->s.lang), "%s", e->cfg->default_language);
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
