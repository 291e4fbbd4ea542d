/* The journey engine (engine.h): loading the flow and its texts, the engine itself, and its
 * sweep of what journeys left half-way. One `struct run` per request does the work
 * (engine_int.h: run.c, actions.c, journey.c, entry.c). */
#include "flow/engine_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <talloc.h>

#include "core/errbuf.h"
#include "core/logging.h"
#include "store/store.h"

/* ---- loading -------------------------------------------------------------------------- */

static int yaml_name(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 5 && d->d_name[0] != '.' && strcmp(d->d_name + n - 5, ".yaml") == 0;
}

/* The language menu's lines, "1 English" to at most "9 ...": every screen may show them, so
 * they are built with the journeys rather than for every screen. */
static void build_languages(struct journeys *j)
{
	const char *codes[9];
	size_t n = tpl_languages(j->tpl, codes, 9), len = 0;

	j->langs[0] = '\0';
	for (size_t i = 0; i < n && i < 9; i++) {
		int k = snprintf(j->langs + len, sizeof(j->langs) - len, "%s%zu %s", i ? "\n" : "",
				 i + 1, tpl_language_name(j->tpl, codes[i]));

		if (k < 0 || len + (size_t)k >= sizeof(j->langs))
			break;
		len += (size_t)k;
	}
}

struct journeys *journeys_load(void *ctx, const char *flows_dir, const char *templates_dir,
			       const char *default_lang, flow_problem_fn report, void *arg,
			       char *err, size_t errsz)
{
	struct journeys *j = talloc_zero(ctx, struct journeys);
	const struct tpl_placeholder *reg;
	struct dirent **names = NULL;
	size_t nreg, problems;
	char *path;
	int n, i;

	if (j == NULL) {
		errbuf_set(err, errsz, "out of memory");
		return NULL;
	}
	reg = flow_placeholders(&nreg);
	j->tpl = tpl_load_dir(j, templates_dir, reg, nreg, err, errsz);
	if (j->tpl == NULL)
		goto fail;
	if (tpl_set_default(j->tpl, default_lang) < 0) {
		errbuf_set(err, errsz, "%s: no %s.yaml for default-language %s", templates_dir,
			   default_lang, default_lang);
		goto fail;
	}
	n = scandir(flows_dir, &names, yaml_name, alphasort);
	if (n < 0) {
		errbuf_set(err, errsz, "%s: %s", flows_dir, strerror(errno));
		goto fail;
	}
	if (n != 1) {
		errbuf_set(err, errsz, "%s: %s", flows_dir, n == 0 ? "no flow (*.yaml) in it" :
			   "more than one flow (*.yaml): a gateway runs one");
		for (i = 0; i < n; i++)
			free(names[i]);
		free(names);
		goto fail;
	}
	path = talloc_asprintf(j, "%s/%s", flows_dir, names[0]->d_name);
	free(names[0]);
	free(names);
	if (path == NULL) {
		errbuf_set(err, errsz, "out of memory");
		goto fail;
	}
	j->flow = flow_load_file(j, path, err, errsz);
	if (j->flow == NULL)
		goto fail;
	problems = flow_check(j->flow, j->tpl, report, arg);
	if (problems) {
		errbuf_set(err, errsz, "%s: %zu problem%s with the flow and its texts", path,
			   problems, problems == 1 ? "" : "s");
		goto fail;
	}
	build_languages(j);
	return j;
fail:
	talloc_free(j);
	return NULL;
}

/* ---- the engine ----------------------------------------------------------------------- */

/* ---- the sweep: reports journeys left half-way ------------------------------------------ */

#define SWEEP_EVERY_S 10
/* Half-done reports one sweep resumes, at most: each a new PIN, the CEIR request and an SMS;
 * after an outage that refused many confirms, 20 a second. */
#define SWEEP_BATCH 200

/* A resumed report's run ends with the report action's outcome: logged, as no one waits. */
static void sweep_done(struct run *r, enum flow_outcome o)
{
	LOGP(LOGC_FLOW, LOGL_DEBUG, "%s: %s", r->tag, run_outcome_name(o));
	talloc_free(r);
}

static const struct run_ops sweep_ops = { "sweep", sweep_done };

static void on_due(void *arg, int err, const void *data, size_t len, bool found)
{
	struct engine *e = arg;
	const char *p = data, *end = p + len;

	if (err == -ECANCELED)
		return;
	e->sweeping = false;
	if (err < 0 || !found)
		return;
	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		size_t n = (size_t)((comma ? comma : end) - p);
		char imei[16];
		struct run *r;

		if (n == 15 && (r = run_new(e, &sweep_ops, EC_SMS, "")) != NULL) {
			memcpy(imei, p, 15);
			imei[15] = '\0';
			if (actions_sweep_report(r, imei) < 0)
				talloc_free(r);
		}
		p += n + 1;
	}
}

static void on_relayed(void *arg, int err, long long n)
{
	(void)arg;
	if (err == 0 && n > 0)
		LOGP(LOGC_FLOW, LOGL_NOTICE, "sweep: relaying the SMS of %lld reports left in their "
		     "outbox", n);
}

/* SMS a transition kept in a report's outbox are relayed to the outbox stream within
 * milliseconds; those still there after this long were left by a stop or a failure. */
#define RELAY_SWEEP_IDLE_S 10
/* Reports whose SMS one sweep relays, at most: a relay costs Redis a few commands, and a
 * backlog (a master that refused writes for a while, a slot that moved) clears at 100 a
 * second rather than 2. */
#define RELAY_SWEEP_BATCH 1000

static void sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct engine *e = arg;

	(void)fd;
	(void)what;
	if (!store_is_up(e->st))
		return;
	store_relay_sweep(e->st, RELAY_SWEEP_IDLE_S, RELAY_SWEEP_BATCH, on_relayed, e);
	if (e->sweeping || e->j == NULL)
		return;
	e->sweeping = true;
	if (store_reports_due(e->st, (unsigned)e->cfg->report_sweep_after, SWEEP_BATCH, on_due,
			      e) < 0)
		e->sweeping = false;
}

static int engine_destructor(struct engine *e)
{
	if (e->sweep)
		event_free(e->sweep);
	return 0;
}

struct engine *engine_create(void *ctx, struct event_base *base, struct store *st,
			     const struct ceirgw_config *cfg, const uint8_t *kyc_key,
			     size_t kyc_keylen)
{
	struct engine *e = talloc_zero(ctx, struct engine);
	struct timeval every = { SWEEP_EVERY_S, 0 };

	if (e == NULL)
		return NULL;
	e->base = base;
	e->st = st;
	e->cfg = cfg;
	if (kyc_key && kyc_keylen <= sizeof(e->kyc_key)) {
		memcpy(e->kyc_key, kyc_key, kyc_keylen);
		e->kyc_keylen = kyc_keylen;
	}
	talloc_set_destructor(e, engine_destructor);
	e->sweep = event_new(base, -1, EV_PERSIST, sweep_cb, e);
	if (e->sweep == NULL || event_add(e->sweep, &every) < 0) {
		talloc_free(e);
		return NULL;
	}
	return e;
}

void engine_set_journeys(struct engine *e, struct journeys *j)
{
	e->j = j;
}

void engine_set_config(struct engine *e, const struct ceirgw_config *cfg)
{
	e->cfg = cfg;
}

void engine_set_tac(struct engine *e, const struct tac_table *tac)
{
	e->tac = tac;
}

void engine_set_sms_hook(struct engine *e, const struct engine_sms_hook *hook)
{
	e->sms = *hook;
}

const struct engine_stats *engine_stats(const struct engine *e)
{
	return &e->stats;
}

