/* The owner's SMS of a sighting, rendered in every language the templates hold (the report's
 * language is known only in Redis, where the import's script picks the text): templates
 * notify.sighting ({maker} {model}, {ref}, {date}) or notify.sighting_phone when the TAC
 * table does not know the phone. doc/redis-keys.md, "Sightings". */
#include "ctl/sighting.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <talloc.h>

#include "channel/channels.h"
#include "core/config.h"
#include "domain/tac.h"
#include "flow/flow.h"
#include "flow/templates.h"
#include "store/bulk.h"
#include "store/sight.h"

struct sight_texts {
	struct tpl_set *tpl;
	struct tac_table *tac;
	const char *codes[SIGHT_LANGS_MAX];
	size_t ncodes;
};

static size_t render(void *arg, const char *imei, const char *day, struct sight_text *out,
		     size_t max)
{
	struct sight_texts *t = arg;
	struct tac_entry te = { NULL, NULL };
	char tac[9];
	bool known;
	size_t i, n = 0;

	memcpy(tac, imei, 8);
	tac[8] = '\0';
	known = t->tac && tac_lookup(t->tac, tac, &te) == 0 && te.maker && te.maker[0];
	for (i = 0; i < t->ncodes && n < max; i++) {
		struct tpl_var v[] = {
			{ "maker", known ? te.maker : "", known ? strlen(te.maker) : 0 },
			{ "model", known && te.model ? te.model : "",
			  known && te.model ? strlen(te.model) : 0 },
			{ "ref", SIGHT_REF_MARK, strlen(SIGHT_REF_MARK) },
			{ "date", day, strlen(day) },
		};

		if (tpl_render(t->tpl, t->codes[i], known ? "notify.sighting" :
			       "notify.sighting_phone", v, 4, out[n].text, sizeof(out[n].text),
			       NULL) <= 0)
			continue;
		snprintf(out[n].lang, sizeof(out[n].lang), "%s", t->codes[i]);
		n++;
	}
	return n;
}

struct sight *ctl_sight_open(void *ctx, struct bulk *b, const struct ceirgw_config *cfg,
			     const char *tac_path, char *err, size_t errsz)
{
	struct sight_texts *t = talloc_zero(ctx, struct sight_texts);
	struct sight_opts o = { "ceir:sightings", NULL, render, t };
	const struct tpl_placeholder *reg;
	const char *dir, *lang, *codes[SIGHT_LANGS_MAX];
	struct tac_load_stats ts;
	struct sight *s;
	size_t nreg, n, i;
	char terr[512];
	int rc;

	if (t == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	if (cfg && cfg->ceir_sightings)
		o.stream = cfg->ceir_sightings;
	/* The SMS path the daemon's notifications take (app/daemon.c): the box's, or sendsms's. */
	if (cfg && cfg->bearerbox)
		o.outbox = OUTBOX_BOX;
	else if (cfg && cfg->sendsms_url)
		o.outbox = OUTBOX_HTTP;
	reg = flow_placeholders(&nreg);
	dir = cfg && cfg->templates_dir ? cfg->templates_dir : config_default_dir("templates");
	t->tpl = tpl_load_dir(t, dir, reg, nreg, err, errsz);
	if (t->tpl == NULL)
		return NULL;
	lang = cfg && cfg->default_language ? cfg->default_language : "en";
	tpl_set_default(t->tpl, lang);
	/* The default language first: the script's text when the report's is not loaded. */
	n = tpl_languages(t->tpl, codes, SIGHT_LANGS_MAX);
	t->codes[t->ncodes++] = lang;
	for (i = 0; i < n && i < SIGHT_LANGS_MAX && t->ncodes < SIGHT_LANGS_MAX; i++)
		if (strcmp(codes[i], lang) != 0)
			t->codes[t->ncodes++] = codes[i];
	if (tac_path == NULL)
		tac_path = cfg && cfg->tac_file ? cfg->tac_file : config_default_tac_file();
	t->tac = tac_table_load(t, tac_path, &ts, terr, sizeof(terr));
	/* Without a TAC table the SMS says "your phone" (notify.sighting_phone). */
	s = sight_new(ctx, b, &o);
	if (s == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	talloc_steal(s, t);
	rc = sight_load(s);
	if (rc == -E2BIG) {
		snprintf(err, errsz, "more than %u reported IMEIs: too many to hold", SIGHT_WATCH_MAX);
		talloc_free(s);
		return NULL;
	}
	if (rc < 0) {
		snprintf(err, errsz, "reading the index of reported IMEIs: %s", bulk_error(b));
		talloc_free(s);
		return NULL;
	}
	return s;
}
