/* A journey: a USSD session or an SMS walking the flow (flow.h). The steps consume inputs,
 * run the actions the screens name (actions.c) and show the screen they stop at; a waiting
 * screen is saved with the session (a few "key=value" lines in Redis, never holding a
 * national ID or a PIN), so that any ceirgw process can serve the next step. An SMS enters
 * the flow by its commands (keywords of every language, then arguments), a dial by its
 * shortcuts. */
#include "flow/engine_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <talloc.h>

#include "core/logging.h"
#include "domain/gsm.h"
#include "domain/imei.h"
#include "store/store.h"

/* A flow that loops through actions without waiting for input is a bug: stop it. */
#define RUN_STEPS_MAX 64
#define SESSION_END_TTL_S 60u

static void apply_sets(struct run *r, const struct flow_set *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		run_take_input(r, set[i].var, set[i].value, strlen(set[i].value));
}

/* Cuts a USSD screen to what one screen holds (the checker proves the shipped texts fit;
 * this guards against values wider than the registry promises, e.g. a TAC table's maker
 * with characters outside GSM 7-bit). */
static size_t fit_ussd(char *s, size_t len)
{
	struct sms_measure m;

	while (len > 0 && sms_measure(s, len, &m) == 0 && !sms_fits_ussd(&m)) {
		len--;
		while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
			len--;
	}
	s[len] = '\0';
	return len;
}

/* fit_ussd for a screen whose last tail bytes (the back and home lines) must stay whole: the
 * text above them is cut instead. */
static size_t fit_ussd_tail(char *s, size_t len, size_t tail)
{
	struct sms_measure m;
	size_t body = len - tail, cut;

	while (body > 0 && sms_measure(s, body + tail, &m) == 0 && !sms_fits_ussd(&m)) {
		cut = body - 1;
		while (cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80)
			cut--;
		memmove(s + cut, s + body, tail);
		body = cut;
	}
	s[body + tail] = '\0';
	return body + tail;
}

/* ---- the way back ------------------------------------------------------------------------
 * A session keeps the questions it asked (struct sess's back: screen names, the one on the
 * screen last). The flow's back input (0) withdraws the answer of the question on the screen
 * and goes to the one before it; home (00) forgets the journey and goes to the start. A screen
 * that asks the same again (the same screen, or one that takes the same input: the re-ask
 * screens, a menu redrawn after no choice) is not a new question, so one back leaves the
 * question rather than going to the previous wrong try. doc/flows.md, "Back and home". */

static size_t back_count(const struct sess *s)
{
	size_t n = 0;

	for (const char *p = s->back; *p; p++)
		n += *p == ',';
	return s->back[0] ? n + 1 : 0;
}

/* Adds a question; the oldest is forgotten when SESS_BACK_MAX are kept. */
static void back_push(struct sess *s, const char *name)
{
	size_t len = strlen(s->back), nl = strlen(name);
	char *comma;

	if (back_count(s) >= SESS_BACK_MAX && (comma = strchr(s->back, ',')) != NULL) {
		len -= (size_t)(comma + 1 - s->back);
		memmove(s->back, comma + 1, len + 1);
	}
	if (len + 1 + nl + 1 > sizeof(s->back))
		len = 0;	/* cannot happen with names of FLOW_NAME_MAX: start afresh */
	if (len)
		s->back[len++] = ',';
	memcpy(s->back + len, name, nl + 1);
}

/* Drops the last question; returns the screen of the one before it, or -1 when there is
 * none (or the flow no longer has it). */
static int back_pop(const struct flow *f, struct sess *s)
{
	char *comma = strrchr(s->back, ',');

	if (comma == NULL) {
		s->back[0] = '\0';
		return -1;
	}
	*comma = '\0';
	comma = strrchr(s->back, ',');
	return flow_screen_index(f, comma ? comma + 1 : s->back);
}

static bool same_question(const struct flow *f, int from, int to)
{
	return from == to || (f->screens[from].input != FV_NONE &&
			      f->screens[from].input == f->screens[to].input);
}

/* The journey stops at the waiting screen to: a new question joins the way back. */
static void back_arrive(struct run *r, int to)
{
	const struct flow *f = r->j->flow;
	int from = r->back_from;

	r->back_from = -1;
	/* Shown again (a session's next step, a back to it): it is the last question already. */
	if (r->s.back[0] && (from < 0 || same_question(f, from, to)))
		return;
	back_push(&r->s, f->screens[to].name);
}

/* Home: the journey forgotten (what was typed and verified, the way back), the language and
 * the inputs counted kept; the home screen next. */
static void go_home(struct run *r)
{
	const struct flow *f = r->j->flow;
	struct sess keep = r->s;

	memset(&r->s, 0, sizeof(r->s));
	memcpy(r->s.lang, keep.lang, sizeof(r->s.lang));
	r->s.consumed = keep.consumed;
	OPENSSL_cleanse(&keep, sizeof(keep));
	r->list[0] = r->maker[0] = r->model[0] = '\0';
	r->screen = f->home.input && f->home.to >= 0 ? f->home.to : f->start;
	r->answered = r->back_from = -1;
}

/* Back: the answer to the question on the screen withdrawn (a value typed after it is new, to
 * be proven again), and the question before it; the start when there is none. */
static void go_back(struct run *r)
{
	const struct flow *f = r->j->flow;
	const struct flow_screen *sc = &f->screens[r->screen];
	int to;

	if (sc->input != FV_NONE)
		run_forget(r, sc->input);
	to = back_pop(f, &r->s);
	if (to < 0 || (f->screens[to].kind != FS_MENU && f->screens[to].kind != FS_INPUT)) {
		go_home(r);
		return;
	}
	r->screen = to;
	r->answered = r->back_from = -1;
	if (r->s.nhandsets)
		run_build_handsets(r);	/* a back to the phones shows their list */
	run_set_model(r);
}

enum nav { NAV_NONE, NAV_BACK, NAV_HOME };

/* Whether an input is the flow's back or home at screen sc: taken before its choices and its
 * input (flow_check refuses a choice typed alike; no input takes 0 or 00: doc/flows.md). */
static enum nav nav_typed(const struct flow *f, const struct flow_screen *sc, const char *in,
			  size_t len)
{
	if (!flow_screen_has_back(f, sc))
		return NAV_NONE;
	if (f->back.input && len == strlen(f->back.input) && memcmp(in, f->back.input, len) == 0)
		return NAV_BACK;
	if (f->home.input && len == strlen(f->home.input) && memcmp(in, f->home.input, len) == 0)
		return NAV_HOME;
	return NAV_NONE;
}

/* ---- running ---------------------------------------------------------------------------- */

static void step(struct run *r);
static void sms_enter(struct run *r);
static void journey_goto(struct run *r, int screen);
static void on_saved(void *arg, int err)
{
	struct run *r = arg;

	if (err < 0) {
		/* The screen was rendered but the next step could not find its session: end it
		 * now rather than show a menu that will not work. */
		LOGP(LOGC_FLOW, LOGL_NOTICE, "%s: session not saved (%s)", r->tag, strerror(-err));
		r->temporary = true;
		r->len = (size_t)run_render_key(r, "common.unavailable", r->out, sizeof(r->out));
		run_reply(r, r->out, r->len, true);
		return;
	}
	run_reply(r, r->out, r->len, false);
}

/* The screen's text into r->out, below the flow's invalid-choice text when r->note (the
 * flow checker proves the two fit one screen together), or the screen's own invalid-text;
 * then, for a waiting screen past the start, the back line and (home) the home line. *tail
 * is the length of those lines, which fitting the screen keeps whole. */
static size_t render_screen(struct run *r, const struct flow_screen *sc, bool nav, bool home,
			    size_t *tail)
{
	const struct flow *f = r->j->flow;
	size_t n = 0, start;

	*tail = 0;
	if (r->note && sc->invalid_text) {
		n = (size_t)run_render_key(r, sc->invalid_text, r->out, sizeof(r->out));
	} else {
		if (r->note) {
			n = (size_t)run_render_key(r, f->invalid_choice, r->out, sizeof(r->out) - 1);
			if (n)
				r->out[n++] = '\n';
		}
		n += (size_t)run_render_key(r, sc->text, r->out + n, sizeof(r->out) - n);
	}
	if (!nav)
		return n;
	start = n;
	for (int k = 0; k < 2; k++) {
		const struct flow_nav *nv = k ? &f->home : &f->back;

		if (nv->input == NULL || (k && !home) || n + 2 >= sizeof(r->out))
			continue;
		r->out[n++] = '\n';
		n += (size_t)run_render_key(r, nv->text, r->out + n, sizeof(r->out) - n);
	}
	*tail = n - start;
	return n;
}

static bool fits_ussd(const char *s, size_t len)
{
	struct sms_measure m;

	return sms_measure(s, len, &m) == 0 && sms_fits_ussd(&m);
}

static void save(struct run *r, const struct flow_screen *sc, bool end);

/* Shows the current screen: a waiting one is saved with the session first. */
static void show(struct run *r, const struct flow_screen *sc, bool end)
{
	bool nav = !end && r->ch == EC_USSD && flow_screen_has_back(r->j->flow, sc);
	size_t tail;

	r->len = render_screen(r, sc, nav, false, &tail);
	if (r->ch == EC_USSD) {
		/* A list (the owner's phones) shows as many lines as the screen holds with the
		 * back line; the home line comes below where there is room left for it (00 goes
		 * home all the same: flow_check proves the back line only). */
		char *nl;

		while (r->list[0] && !fits_ussd(r->out, r->len)) {
			nl = strrchr(r->list, '\n');
			if (nl == NULL)
				break;
			*nl = '\0';
			r->len = render_screen(r, sc, nav, false, &tail);
		}
		if (nav && r->j->flow->home.input) {
			r->len = render_screen(r, sc, nav, true, &tail);
			if (!fits_ussd(r->out, r->len))
				r->len = render_screen(r, sc, nav, false, &tail);
		}
		r->len = tail ? fit_ussd_tail(r->out, r->len, tail) : fit_ussd(r->out, r->len);
	}
	if (r->ch != EC_USSD) {
		run_reply(r, r->out, r->len, true);
		return;
	}
	snprintf(r->s.screen, sizeof(r->s.screen), "%s", sc->name);
	/* Transient values are not in the session: a repeat of this step gets the text itself,
	 * for an end screen always (its text is the journey's result). */
	r->s.shown[0] = '\0';
	if ((end || r->note || r->tries[0] || r->minutes[0] || r->what[0] || r->why[0] ||
	     r->date[0] || r->pin_out[0]) && r->len < sizeof(r->s.shown))
		memcpy(r->s.shown, r->out, r->len + 1);
	save(r, sc, end);
}

/* Saves the session at sc, whose text is r->out, then answers. At a resumable screen the
 * number's resume record is the same bytes (a later plain dial may continue there); at any
 * other, a record the journey left is dropped, but for "try later" (Redis failed the step:
 * the user's next dial may continue where it stopped). Both writes go at once with the session's
 * (the record's success is not waited for: without it a dial shows the menu), so a step
 * costs no round trip more; the record shares the number's language slot
 * (doc/redis-keys.md). */
static void save(struct run *r, const struct flow_screen *sc, bool end)
{
	struct store_rec_id ussd_rec, resume_rec;
	char enc[2048];
	size_t elen;
	int rc;

	elen = sess_encode(&r->s, enc, sizeof(enc));
	ussd_rec = (struct store_rec_id){ STORE_REC_USSD, r->sid, r->sidlen, r->msisdn, NULL };
	resume_rec = (struct store_rec_id){ STORE_REC_RESUME, r->msisdn, strlen(r->msisdn),
					    NULL, NULL };
	if (!end && sc->resumable) {
		store_session_set(r->e->st, &resume_rec, enc, elen,
				  (unsigned)r->e->cfg->session_ttl, run_noop_done, NULL);
		r->resume_dirty = true;
	} else if (r->resume_dirty && !(end && r->temporary)) {
		store_session_del(r->e->st, &resume_rec, run_noop_done, NULL);
		r->resume_dirty = false;
	}
	if (end) {
		/* Kept a minute at its last screen: an aggregator that retries the last step
		 * (no answer reached it) gets the same answer, not a new journey. */
		store_session_set(r->e->st, &ussd_rec, enc, elen, SESSION_END_TTL_S,
				  run_noop_done, NULL);
		run_reply(r, r->out, r->len, true);
		return;
	}
	rc = store_session_set(r->e->st, &ussd_rec, enc, elen,
			       (unsigned)r->e->cfg->session_ttl, on_saved, r);
	if (rc < 0)
		on_saved(r, rc);
}

/* The running action ended: the flow goes on at the screen its outcome leads to. */
static void journey_outcome(struct run *r, enum flow_outcome o)
{
	const struct flow_screen *sc = &r->j->flow->screens[r->screen];
	const char *name = run_outcome_name(o);

	if (strcmp(name, "unavailable") == 0)
		r->temporary = true;
	LOGP(LOGC_FLOW, LOGL_DEBUG, "%s: %s -> %s", r->tag, sc->name, name);
	r->screen = sc->on[flow_outcome_index(o)];
	step(r);
}

static void resume_continue(struct run *r);
static const struct run_ops ussd_ops = { "ussd", journey_outcome };
static const struct run_ops sms_ops = { "sms", journey_outcome };

static void step(struct run *r)
{
	const struct flow *f = r->j->flow;

	while (r->screen >= 0 && (size_t)r->screen < f->nscreens) {
		const struct flow_screen *sc = &f->screens[r->screen];

		if (++r->steps > RUN_STEPS_MAX) {
			LOGP(LOGC_FLOW, LOGL_ERROR, "%s: the flow loops at %s without input", r->tag,
			     sc->name);
			break;
		}
		switch (sc->kind) {
		case FS_ACTION:
			actions_run(r, sc->action);
			return;
		case FS_END:
			show(r, sc, true);
			return;
		case FS_MENU:
		case FS_INPUT: {
			const char *in;
			size_t len, i;
			enum nav nav;

			back_arrive(r, r->screen);
			if (r->next_input >= r->ninputs) {
				/* A menu shown again for its own input: that was no choice. */
				r->note = (f->invalid_choice || sc->invalid_text) &&
					  flow_screen_is_menu(sc) && r->answered == r->screen;
				show(r, sc, false);
				return;
			}
			in = r->inputs[r->next_input];
			len = strlen(in);
			r->next_input++;
			r->s.consumed++;
			nav = nav_typed(f, sc, in, len);
			if (nav != NAV_NONE) {
				LOGP(LOGC_FLOW, LOGL_DEBUG, "%s: %s %s", r->tag, sc->name,
				     nav == NAV_BACK ? "back" : "home");
				if (nav == NAV_BACK)
					go_back(r);
				else
					go_home(r);
				break;
			}
			r->answered = r->screen;
			r->back_from = r->screen;
			for (i = 0; i < sc->nchoices; i++)
				if (len == 1 && in[0] == sc->choices[i].key)
					break;
			if (r->screen == f->resume && i < sc->nchoices &&
			    sc->choices[i].next != FLOW_CONTINUE)
				r->resume_dirty = true;	/* turned down: the record goes */
			if (i < sc->nchoices && sc->choices[i].next == FLOW_CONTINUE) {
				resume_continue(r);
				return;
			}
			if (i < sc->nchoices) {
				apply_sets(r, sc->choices[i].set, sc->choices[i].nset);
				r->screen = sc->choices[i].next;
			} else if (sc->input && run_take_input(r, sc->input, in, len)) {
				r->screen = sc->next;
			} else if (sc->invalid >= 0) {
				r->screen = sc->invalid;
			}	/* else: the same screen again */
			break;
		}
		}
	}
	r->len = (size_t)run_render_key(r, "common.unavailable", r->out, sizeof(r->out));
	run_reply(r, r->out, r->len, true);
}

/* ---- entry points ---------------------------------------------------------------------- */

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Splits text into inputs at sep (a copy, owned by r), each without the blanks around it (a
 * phone's keypad or an aggregator may add one: "1 " is the choice 1). At most
 * ENGINE_USSD_INPUTS_MAX inputs: -E2BIG beyond. */
static int split_inputs(struct run *r, const char *text, size_t len, char sep)
{
	char *copy = talloc_strndup(r, text, len);
	size_t i, start = 0;

	if (copy == NULL)
		return -ENOMEM;
	r->inputs = talloc_array(r, char *, ENGINE_USSD_INPUTS_MAX);
	if (r->inputs == NULL)
		return -ENOMEM;
	r->ninputs = 0;
	if (len == 0)
		return 0;
	for (i = 0; i <= len; i++) {
		if (i == len || copy[i] == sep) {
			size_t end = i;

			if (r->ninputs == ENGINE_USSD_INPUTS_MAX)
				return -E2BIG;
			while (start < end && blank(copy[start]))
				start++;
			while (end > start && blank(copy[end - 1]))
				end--;
			copy[end] = '\0';
			r->inputs[r->ninputs++] = copy + start;
			start = i + 1;
		}
	}
	return 0;
}

static void start_fail(struct run *r, int err)
{
	(void)err;
	r->temporary = true;
	r->len = (size_t)run_render_key(r, "common.unavailable", r->out, sizeof(r->out));
	run_reply(r, r->out, r->len, true);
}

/* Enters the flow: a dial with arguments or an SMS matched against the rules. */
static void enter(struct run *r)
{
	const struct flow *f = r->j->flow;

	if (r->ch == EC_USSD) {
		for (size_t i = 0; i < f->ndial && r->ninputs; i++) {
			const struct flow_rule *rule = &f->dial[i];
			int go = rule->next;
			size_t k;

			if (rule->nargs != r->ninputs)
				continue;
			for (k = 0; k < rule->nargs; k++) {
				const char *in = r->inputs[k];
				struct imei im;

				/* *384*5# is the menu's 5 (a choice is one digit, a list's line
				 * two): a shortcut's IMEI is longer, digits and separators (the
				 * check, or the rule's invalid screen, then says whether it is
				 * valid: *384*12345# is an IMEI too short, not a menu choice). */
				if (rule->args[k] == FV_IMEI) {
					imei_parse(in, strlen(in), &im);
					if (!im.has_digits &&
					    (strlen(in) <= 2 || im.reason == IMEI_NOT_DIGITS))
						break;
				}
				if (run_take_input(r, rule->args[k], in, strlen(in)))
					continue;
				if (rule->invalid[k] >= 0) {
					if (go == rule->next)
						go = rule->invalid[k];	/* the first invalid one */
				} else if (rule->args[k] != FV_IMEI) {
					break;
				}
			}
			if (k < rule->nargs)
				continue;
			apply_sets(r, rule->set, rule->nset);
			r->next_input = r->ninputs;
			r->s.consumed = (unsigned)r->ninputs;
			r->screen = go;
			step(r);
			return;
		}
		/* No shortcut: the menu, with the dial's arguments as its first inputs (*384*1#
		 * is "check"). */
		r->screen = f->start;
		step(r);
		return;
	}
	sms_enter(r);
}

/* The number's language as the store keeps it (len bytes), taken when the texts have it. */
static void take_lang(struct run *r, const char *lang, size_t len)
{
	if (len > 0 && len < sizeof(r->s.lang) &&
	    tpl_language_name(r->j->tpl, talloc_strndup(r, lang, len)) != NULL) {
		memcpy(r->s.lang, lang, len);
		r->s.lang[len] = '\0';
	}
}

static void on_lang(void *arg, int err, const void *data, size_t len, bool found)
{
	struct run *r = arg;

	if (err == 0 && found)
		take_lang(r, data, len);
	/* Without Redis the default language does; the journey then says it is unavailable. */
	enter(r);
}

static void enter_deferred(struct run *r, int err)
{
	(void)err;
	enter(r);
}

/* The language and, for a plain dial, whether a journey waits to be continued: its resume
 * screen then, instead of the start. */
static void on_number(void *arg, int err, const char *lang, size_t len, bool resume)
{
	struct run *r = arg;

	if (err == 0 && lang)
		take_lang(r, lang, len);
	if (err == 0 && resume && r->j->flow->resume >= 0) {
		LOGP(LOGC_FLOW, LOGL_INFO, "%s: a journey in progress: offered to continue",
		     r->tag);
		journey_goto(r, r->j->flow->resume);
		return;
	}
	enter(r);
}

static void fetch_lang(struct run *r)
{
	struct store_rec_id rid = { STORE_REC_LANG, r->msisdn, strlen(r->msisdn), NULL, NULL };
	int rc;

	/* A dial without arguments (or an answer to a session that is gone) may continue a
	 * journey left at a resumable screen: one command reads both. A dial with arguments
	 * (*384*IMEI#) goes where they say. */
	if (r->ch == EC_USSD && r->ninputs == 0 && r->j->flow->resume >= 0)
		rc = store_number_get(r->e->st, r->msisdn, strlen(r->msisdn), on_number, r);
	else
		rc = store_session_get(r->e->st, &rid, on_lang, r);

	if (rc < 0) {
		/* Without Redis the journey's first action will say "unavailable". */
		r->deferred_err = rc;
		run_defer(r, enter_deferred);
	}
}

static void journey_goto(struct run *r, int screen)
{
	r->screen = screen;
	step(r);
}

static void on_session(void *arg, int err, const void *data, size_t len, bool found)
{
	struct run *r = arg;
	struct sess s;
	int idx;

	if (err < 0) {
		start_fail(r, err);
		return;
	}
	if (found && r->fresh_session) {
		/* A dial under the id of an old session (the network reuses ids): a new one. */
		found = false;
	}
	if (!found && r->fresh_if_new) {
		/* An answer to a session that is gone (timed out): the menu, from the start. */
		r->ninputs = 0;
		r->next_input = 0;
		fetch_lang(r);
		return;
	}
	if (!found) {
		/* A new session: the inputs are the dial's arguments. */
		fetch_lang(r);
		return;
	}
	r->has_session = true;
	if (sess_decode(data, len, &s) < 0 || (idx = flow_screen_index(r->j->flow, s.screen)) < 0) {
		/* A session of another version, or a screen a reload removed: start over. */
		LOGP(LOGC_FLOW, LOGL_NOTICE, "%s: session state not usable, starting over", r->tag);
		r->next_input = r->ninputs;
		r->screen = r->j->flow->start;
		step(r);
		return;
	}
	r->s = s;
	if (tpl_language_name(r->j->tpl, r->s.lang) == NULL)
		snprintf(r->s.lang, sizeof(r->s.lang), "%s", r->e->cfg->default_language);
	r->screen = idx;
	r->resume_dirty = r->j->flow->screens[idx].resumable;
	run_set_model(r);
	if (r->s.nhandsets)
		run_build_handsets(r);
	if (r->s.nmine)		/* my reports: the list as it was built (states, dates) */
		snprintf(r->list, sizeof(r->list), "%s", r->s.mine_list);
	if (r->cumulative)	/* the aggregator repeats every input so far */
		r->next_input = r->ninputs > r->s.consumed ? r->s.consumed : r->ninputs;
	if ((r->next_input >= r->ninputs || r->j->flow->screens[r->screen].kind == FS_END) &&
	    r->s.shown[0]) {
		/* The screen again, as it was: its values (minutes, tries, ...) are not in the
		 * session. */
		size_t n = strlen(r->s.shown);

		memcpy(r->out, r->s.shown, n + 1);
		run_reply(r, r->out, n, r->j->flow->screens[r->screen].kind == FS_END);
		return;
	}
	if (r->next_input >= r->ninputs || r->j->flow->screens[r->screen].kind == FS_END) {
		/* A repeat of a step the aggregator got no answer to: the same screen again,
		 * also for the last one (the session outlives its end by a minute for this). */
		show(r, &r->j->flow->screens[r->screen],
		     r->j->flow->screens[r->screen].kind == FS_END);
		return;
	}
	step(r);
}

/* The number's journey in progress, read back to continue: its screen again exactly as it
 * was shown (or the next inputs taken there), its variables kept, in this session. Gone
 * (its TTL ran out since the offer) or unusable: the start. */
static void on_resume_record(void *arg, int err, const void *data, size_t len, bool found)
{
	struct run *r = arg;
	const struct flow *f = r->j->flow;
	unsigned consumed = r->s.consumed;
	struct sess s;
	int idx = -1;

	if (err < 0) {
		start_fail(r, err);
		return;
	}
	if (!found || sess_decode(data, len, &s) < 0 ||
	    (idx = flow_screen_index(f, s.screen)) < 0 || !f->screens[idx].resumable) {
		LOGP(LOGC_FLOW, LOGL_INFO, "%s: the journey to continue is gone, the start",
		     r->tag);
		r->resume_dirty = found;
		journey_goto(r, f->start);
		return;
	}
	LOGP(LOGC_FLOW, LOGL_INFO, "%s: continued at %s", r->tag, s.screen);
	r->s = s;
	r->s.consumed = consumed;	/* this session's inputs, as the aggregator counts them */
	if (tpl_language_name(r->j->tpl, r->s.lang) == NULL)
		snprintf(r->s.lang, sizeof(r->s.lang), "%s", r->e->cfg->default_language);
	r->screen = idx;
	r->resume_dirty = true;
	r->answered = -1;
	run_set_model(r);
	if (r->s.nhandsets)
		run_build_handsets(r);
	if (r->next_input < r->ninputs) {
		step(r);
		return;
	}
	if (r->s.shown[0]) {
		/* as it was shown: its values (tries left, the note) are not in the session */
		r->len = strlen(r->s.shown);
		memcpy(r->out, r->s.shown, r->len + 1);
		save(r, &f->screens[idx], false);
		return;
	}
	show(r, &f->screens[idx], false);
}

static void resume_continue(struct run *r)
{
	struct store_rec_id rid = { STORE_REC_RESUME, r->msisdn, strlen(r->msisdn), NULL, NULL };
	int rc = store_session_get(r->e->st, &rid, on_resume_record, r);

	if (rc < 0) {
		r->deferred_err = rc;
		run_defer(r, start_fail);
	}
}

/* A USSD run for a step, its inputs split; NULL with *rc set on refusal. */
static struct run *ussd_run(struct engine *e, const char *msisdn, const char *sid, size_t sidlen,
			    const char *text, size_t len, enum engine_ussd_mode mode,
			    engine_reply_cb cb, void *arg, int *rc)
{
	bool cumulative = mode == ENGINE_USSD_CUMULATIVE;
	struct run *r;

	*rc = -EINVAL;
	if (sidlen == 0 || sidlen > 64 || !run_printable(sid, sidlen) || len > ENGINE_USSD_TEXT_MAX)
		return NULL;
	*rc = -ENOMEM;
	r = run_new(e, &ussd_ops, EC_USSD, msisdn);
	if (r == NULL)
		return NULL;
	r->cb = cb;
	r->arg = arg;
	e->stats.requests[EC_USSD]++;
	r->cumulative = cumulative;
	r->fresh_if_new = mode == ENGINE_USSD_ANSWER;
	r->cumulative_len = len;
	r->fresh_session = mode == ENGINE_USSD_DIAL;
	/* A dial's arguments are separated by '*' too (*384*1*ARG#). */
	if (mode != ENGINE_USSD_ANSWER)
		*rc = split_inputs(r, text, len, '*');
	else
		*rc = split_inputs(r, text, len, '\0');
	if (*rc < 0) {
		talloc_free(r);
		return NULL;
	}
	memcpy(r->sid, sid, sidlen);
	r->sidlen = sidlen;
	return r;
}

int engine_ussd(struct engine *e, const char *msisdn, const char *sid, size_t sidlen,
		const char *text, size_t len, enum engine_ussd_mode mode, engine_reply_cb cb,
		void *arg)
{
	struct run *r;
	int rc;

	r = ussd_run(e, msisdn, sid, sidlen, text, len, mode, cb, arg, &rc);
	if (r == NULL)
		return rc;
	if (r->cumulative && len == 0) {
		/* The aggregator's first step: a new session. Were it a retry of that step, the
		 * answer would be the same menu, so no session is looked up. */
		fetch_lang(r);
		return 0;
	}
	rc = store_session_get(e->st, &(struct store_rec_id){ STORE_REC_USSD, r->sid, r->sidlen,
							      r->msisdn, NULL }, on_session, r);
	if (rc < 0) {
		/* Answered later, as promised: from the loop, not from inside this call. */
		r->deferred_err = rc;
		run_defer(r, start_fail);
	}
	return 0;
}

/* The number's language read by the channel, as on_number would have it from
 * store_number_get (a plain dial) or on_lang from the language alone. */
static void first_lang(struct run *r, int err)
{
	bool resume = r->first_resume && r->ch == EC_USSD && r->ninputs == 0 &&
		      r->j->flow->resume >= 0;

	(void)err;
	on_number(r, 0, r->first_found ? r->first : NULL, r->first_found ? r->first_len : 0,
		  resume);
}

/* The session's record read by the channel, as store_session_get would have answered. */
static void first_session(struct run *r, int err)
{
	(void)err;
	on_session(r, 0, r->first, r->first_len, r->first_found);
}

/* Keeps what the channel read for r; false when out of memory. */
static bool take_first(struct run *r, const struct engine_first *first)
{
	r->first_found = first->found && first->data != NULL;
	r->first_resume = first->resume;
	r->first_len = r->first_found ? first->len : 0;
	r->first = talloc_memdup(r, r->first_found ? first->data : "", r->first_len + 1);
	if (r->first == NULL)
		return false;
	r->first[r->first_len] = '\0';
	return true;
}

int engine_ussd_first(struct engine *e, const char *msisdn, const char *sid, size_t sidlen,
		      const char *text, size_t len, enum engine_ussd_mode mode,
		      const struct engine_first *first, engine_reply_cb cb, void *arg)
{
	struct run *r;
	int rc;

	if (mode == ENGINE_USSD_CUMULATIVE || first == NULL)
		return -EINVAL;
	r = ussd_run(e, msisdn, sid, sidlen, text, len, mode, cb, arg, &rc);
	if (r == NULL)
		return rc;
	if (!take_first(r, first)) {
		talloc_free(r);
		return -ENOMEM;
	}
	/* A dial drops a session left under its id (on_session): it need not be read, and
	 * what is read first is the number's. */
	run_defer(r, mode == ENGINE_USSD_DIAL ? first_lang : first_session);
	return 0;
}

void engine_ussd_abort(struct engine *e, const char *msisdn, const char *sid, size_t sidlen)
{
	if (sidlen == 0 || sidlen > 64)
		return;
	store_session_del(e->st, &(struct store_rec_id){ STORE_REC_USSD, sid, sidlen, msisdn,
							 NULL }, run_noop_done, NULL);
}

static struct run *sms_run(struct engine *e, const char *msisdn, const char *text, size_t len,
			   engine_reply_cb cb, void *arg)
{
	struct run *r;

	if (len > 1600)
		len = 1600;	/* ten concatenated parts: more is not a command */
	r = run_new(e, &sms_ops, EC_SMS, msisdn);
	if (r == NULL)
		return NULL;
	r->cb = cb;
	r->arg = arg;
	e->stats.requests[EC_SMS]++;
	r->sms_text = talloc_strndup(r, text, len);
	if (r->sms_text == NULL) {
		talloc_free(r);
		return NULL;
	}
	r->sms_len = len;
	return r;
}

int engine_sms(struct engine *e, const char *msisdn, const char *text, size_t len,
	       engine_reply_cb cb, void *arg)
{
	struct run *r = sms_run(e, msisdn, text, len, cb, arg);

	if (r == NULL)
		return -ENOMEM;
	fetch_lang(r);
	return 0;
}

int engine_sms_first(struct engine *e, const char *msisdn, const char *text, size_t len,
		     const struct engine_first *first, engine_reply_cb cb, void *arg)
{
	struct run *r;

	if (first == NULL)
		return -EINVAL;
	r = sms_run(e, msisdn, text, len, cb, arg);
	if (r == NULL)
		return -ENOMEM;
	if (!take_first(r, first)) {
		talloc_free(r);
		return -ENOMEM;
	}
	run_defer(r, first_lang);
	return 0;
}

/* ---- SMS commands ------------------------------------------------------------------------ */

#define SMS_TOKENS_MAX 16

/* What separates the words of an SMS: blanks, and the punctuation people put after a keyword
 * or between arguments ("STOLEN: 3569...", "STATUS, 1234..."); none of them is part of an
 * IMEI, an ID, a reference, a PIN or a police number. */
static bool space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',' || c == ';' ||
	       c == ':';
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

/* Joins n words with spaces into out (256 bytes); false when they do not fit. */
static bool join_words(char **tok, size_t n, char out[256], size_t *len)
{
	*len = 0;
	for (size_t k = 0; k < n; k++) {
		int w = snprintf(out + *len, 256 - *len, "%s%s", k ? " " : "", tok[k]);

		if (w < 0 || *len + (size_t)w >= 256)
			return false;
		*len += (size_t)w;
	}
	return true;
}

/* Whether the words are the rule's arguments but the last, the IMEI typed in groups: with
 * one word more the IMEI is valid ("STOLEN 3569 3803 5643 809" lacks the ID; read as the
 * IMEI "3569 3803 5643" and the ID "809" it would be two faults that are not). wide is
 * the IMEI's argument, extra the words it takes beyond one. */
static bool lacks_last(const struct flow_rule *rule, char **tok, size_t wide, size_t extra)
{
	char joined[256];
	size_t len;
	struct imei im;

	if (rule->args[wide] != FV_IMEI || wide + 1 >= rule->nargs ||
	    !join_words(tok + wide, extra + 2, joined, &len))
		return false;
	imei_parse(joined, len, &im);
	if (!im.valid)
		return false;
	if (!join_words(tok + wide, extra + 1, joined, &len))
		return true;
	imei_parse(joined, len, &im);
	return !im.valid;
}

/* Fills the rule's arguments from tokens: the IMEI (else the last) argument takes the extra
 * words, as people type an IMEI in groups ("3569 3803 5643 809"). Returns the screen the
 * SMS goes to: the rule's next; the rule's invalid screen of the first invalid argument
 * that has one; its missing screen when words are missing; or -1 when the words are not
 * the rule's (a keyword's command then gets the help). */
static int fill_args(struct run *r, const struct flow_rule *rule, char **tok, size_t ntok)
{
	size_t extra, wide = rule->nargs - 1, t = 0, rest = 0;

	if (ntok < rule->nargs)
		return rule->missing;
	extra = ntok - rule->nargs;
	for (size_t a = 0; a < rule->nargs; a++)
		if (rule->args[a] == FV_IMEI) {
			wide = a;
			break;
		}
	/* A rest (STOLEN <IMEI> <ID> <police number>): the IMEI takes the fewest words that
	 * make a valid one, the arguments after it a word each, and the words left are the
	 * rest. No such split: read as without a rest (the IMEI takes every extra word), so
	 * that the action says why the IMEI is not one. */
	if (rule->rest >= 0 && extra && rule->args[wide] == FV_IMEI) {
		for (size_t k = 1; k <= extra; k++) {
			char joined[256];
			size_t len;
			struct imei im;

			if (!join_words(tok + wide, k, joined, &len))
				break;
			imei_parse(joined, len, &im);
			if (im.valid) {
				rest = extra + 1 - k;
				extra = k - 1;
				break;
			}
		}
	}
	if (rest == 0 && rule->missing >= 0 && lacks_last(rule, tok, wide, extra))
		return rule->missing;
	for (size_t a = 0; a < rule->nargs; a++) {
		char joined[256];
		size_t len, take = a == wide ? extra + 1 : 1;

		if (!join_words(tok + t, take, joined, &len))
			return -1;
		t += take;
		if (run_take_input(r, rule->args[a], joined, len))
			continue;
		if (rule->invalid[a] >= 0)
			return rule->invalid[a];
		/* An invalid IMEI goes on: the action says why. A reference, a PIN or an ID goes
		 * on without it (the action says it does not match); others must be valid. */
		if (rule->args[a] != FV_IMEI)
			return rule->args[a] == FV_REF || rule->args[a] == FV_PIN ||
			       rule->args[a] == FV_ID ? rule->next : -1;
	}
	if (rest) {
		char joined[256];
		size_t len;

		if (!join_words(tok + t, rest, joined, &len) ||
		    !run_take_input(r, (enum flow_var)rule->rest, joined, len))
			return rule->rest_invalid;
	}
	return rule->next;
}

static void sms_enter(struct run *r)
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
		int go;

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
			if ((go = fill_args(r, rule, tok, ntok)) < 0)
				continue;
		} else {
			if (!keyword_match(r, rule->keywords, tok[0], strlen(tok[0]), &lang))
				continue;
			/* The right command, used wrong: its missing or invalid screen says how,
			 * else the help. */
			if ((go = fill_args(r, rule, tok + 1, ntok - 1)) < 0)
				break;
			snprintf(r->s.lang, sizeof(r->s.lang), "%s", lang);
		}
		for (size_t k = 0; k < rule->nset; k++)
			run_take_input(r, rule->set[k].var, rule->set[k].value,
				       strlen(rule->set[k].value));
		journey_goto(r, go);
		return;
	}
	journey_goto(r, f->sms_help);
}
