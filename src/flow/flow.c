/* The flow loader and checker (format in flow.h and doc/flows.md). YAML through libyaml's
 * document API: a flow file is small and written by an operator, but still read as hostile
 * (size caps, names checked, every fault with its line and column). */
#include "flow/flow.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <talloc.h>
#include <yaml.h>

#include "core/errbuf.h"

static const char *const vars[FV_COUNT] = {
	[FV_NONE] = "", [FV_IMEI] = "imei", [FV_OWNER] = "owner", [FV_ID] = "id",
	[FV_REASON] = "reason", [FV_POLICE] = "police", [FV_REF] = "ref", [FV_PIN] = "pin",
	[FV_PICK] = "pick",
};

static const char *const out_check[] = { "clean", "stolen", "lost", "blocked", "duplicated",
	"unknown", "invalid_length", "invalid_digits", "invalid_check", "invalid_reserved",
	"limited", "unavailable", NULL };
static const char *const out_handsets[] = { "some", "none", "unavailable", NULL };
static const char *const out_pick[] = { "done", "invalid", NULL };
static const char *const out_done[] = { "done", NULL };
static const char *const out_link[] = { "linked", "not_linked", "reported", "invalid",
	"limited", "unavailable", NULL };
static const char *const out_kyc[] = { "match", "mismatch", "locked", "no_record",
	"unavailable", NULL };
static const char *const out_report[] = { "accepted", "reported", "not_verified", "limited",
	"unavailable", NULL };
static const char *const out_status[] = { "received", "verified", "sent", "blocked",
	"unblock_sent", "unblocked", "rejected", "unknown", "limited", "unavailable", NULL };
static const char *const out_unblock[] = { "accepted", "already", "wrong_pin", "locked",
	"unknown", "not_blocked", "unavailable", NULL };

static const struct flow_action_info actions[FA_COUNT] = {
	[FA_CHECK] = { "check", out_check },
	[FA_HANDSETS] = { "handsets", out_handsets },
	[FA_PICK_HANDSET] = { "pick_handset", out_pick },
	[FA_OWNER_CALLER] = { "owner_is_caller", out_done },
	[FA_LINK] = { "link", out_link },
	[FA_KYC] = { "kyc", out_kyc },
	[FA_REPORT] = { "report", out_report },
	[FA_STATUS] = { "status", out_status },
	[FA_UNBLOCK] = { "unblock", out_unblock },
	[FA_LANGUAGES] = { "languages", out_done },
	[FA_LANGUAGE] = { "language", out_pick },
};

/* Worst cases for tpl_check: values the engine trims to these lengths (engine.c). */
static const struct tpl_placeholder placeholders[] = {
	{ "maker", 20, true },
	{ "model", 30, true },
	{ "imei", 15, true },
	{ "imei_tail", 4, true },
	{ "date", 10, true },
	{ "ref", 10, true },
	{ "pin", 6, true },
	{ "tries", 1, true },
	{ "minutes", 4, true },
	/* A list the engine cuts, line by line, to what the screen holds; the checker asks
	 * that a screen leave room for at least one line. */
	{ "handsets", 36, true },
	{ "languages", 50, false },
	{ "reason", 12, true },	/* texts of the same language */
	{ "police", 24, true },
	{ "why", 30, true },
	{ "code", 12, true },
};

const struct flow_action_info *flow_action_info(enum flow_action a)
{
	return (unsigned)a < FA_COUNT ? &actions[a] : NULL;
}

const char *flow_var_name(enum flow_var v)
{
	return (unsigned)v < FV_COUNT ? vars[v] : "";
}

const struct tpl_placeholder *flow_placeholders(size_t *n)
{
	*n = sizeof(placeholders) / sizeof(placeholders[0]);
	return placeholders;
}

/* ---- loading ---------------------------------------------------------------------------- */

struct loader {
	struct flow *f;
	const char *fname;
	yaml_document_t doc;
	char *err;
	size_t errsz;
	/* Names of screens referred to before their definition is known: resolved at the end. */
	struct ref {
		int *slot;
		const char *name;
		yaml_mark_t mark;
	} *refs;
	size_t nrefs, refcap;
};

static int fail(struct loader *ld, const yaml_node_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct loader *ld, const yaml_node_t *n, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	errbuf_set(ld->err, ld->errsz, "%s:%zu:%zu: %s", ld->fname,
		   n ? n->start_mark.line + 1 : 0, n ? n->start_mark.column + 1 : 0, msg);
	return -EINVAL;
}

static yaml_node_t *node(struct loader *ld, int id)
{
	return yaml_document_get_node(&ld->doc, id);
}

/* A scalar's text, or NULL when the node is not a scalar. Scalars with NUL are refused. */
static const char *scalar(const yaml_node_t *n)
{
	if (n == NULL || n->type != YAML_SCALAR_NODE)
		return NULL;
	if (strlen((const char *)n->data.scalar.value) != n->data.scalar.length)
		return NULL;
	return (const char *)n->data.scalar.value;
}

static bool name_ok(const char *s, size_t max)
{
	size_t i, len = strlen(s);

	if (len == 0 || len > max)
		return false;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
		      s[i] == '.' || s[i] == '-'))
			return false;
	return true;
}

static int want_name(struct loader *ld, const yaml_node_t *n, const char *what, const char **out)
{
	const char *s = scalar(n);

	if (s == NULL || !name_ok(s, 64))
		return fail(ld, n, "%s: expected a name of a-z, 0-9, '_', '.' or '-'", what);
	*out = talloc_strdup(ld->f, s);
	return *out ? 0 : -ENOMEM;
}

/* Remembers that *slot must become the index of screen n's name. */
static int screen_ref(struct loader *ld, const yaml_node_t *n, int *slot)
{
	const char *s = scalar(n);

	if (s == NULL || !name_ok(s, FLOW_NAME_MAX))
		return fail(ld, n, "expected a screen name");
	if (ld->nrefs == ld->refcap) {
		size_t cap = ld->refcap ? ld->refcap * 2 : 64;
		struct ref *r = talloc_realloc(ld->f, ld->refs, struct ref, cap);

		if (r == NULL)
			return -ENOMEM;
		ld->refs = r;
		ld->refcap = cap;
	}
	ld->refs[ld->nrefs].slot = slot;
	ld->refs[ld->nrefs].name = talloc_strdup(ld->f, s);
	ld->refs[ld->nrefs].mark = n->start_mark;
	if (ld->refs[ld->nrefs].name == NULL)
		return -ENOMEM;
	ld->nrefs++;
	*slot = -1;
	return 0;
}

static int want_var(struct loader *ld, const yaml_node_t *n, enum flow_var *out)
{
	const char *s = scalar(n);
	int v;

	for (v = 1; s && v < FV_COUNT; v++)
		if (strcmp(s, vars[v]) == 0) {
			*out = (enum flow_var)v;
			return 0;
		}
	return fail(ld, n, "unknown variable '%s' (imei, owner, id, reason, police, ref, pin, "
		    "pick)", s ? s : "(not a name)");
}

/* set: {var: value}: only reason takes a value from a flow (stolen or lost). */
static int load_set(struct loader *ld, const yaml_node_t *n, struct flow_set *set, size_t *nset)
{
	yaml_node_pair_t *p;

	if (n->type != YAML_MAPPING_NODE)
		return fail(ld, n, "set: expected a mapping of variable: value");
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		const yaml_node_t *k = node(ld, p->key), *v = node(ld, p->value);
		const char *val = scalar(v);
		int rc;

		if (*nset == FLOW_SETS_MAX)
			return fail(ld, k, "set: too many variables");
		if ((rc = want_var(ld, k, &set[*nset].var)) < 0)
			return rc;
		if (set[*nset].var != FV_REASON)
			return fail(ld, k, "set: only reason can be set by a flow");
		if (val == NULL || (strcmp(val, "stolen") != 0 && strcmp(val, "lost") != 0))
			return fail(ld, v, "set: reason is stolen or lost");
		set[*nset].value = talloc_strdup(ld->f, val);
		if (set[*nset].value == NULL)
			return -ENOMEM;
		(*nset)++;
	}
	return 0;
}

static int load_args(struct loader *ld, const yaml_node_t *n, struct flow_rule *r)
{
	yaml_node_item_t *it;
	int rc;

	if (n->type != YAML_SEQUENCE_NODE)
		return fail(ld, n, "args: expected a list of variables");
	for (it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
		if (r->nargs == FLOW_ARGS_MAX)
			return fail(ld, node(ld, *it), "args: at most 3");
		if ((rc = want_var(ld, node(ld, *it), &r->args[r->nargs])) < 0)
			return rc;
		if (r->args[r->nargs] == FV_PICK)
			return fail(ld, node(ld, *it), "args: pick is a menu input only");
		r->nargs++;
	}
	return 0;
}

static int load_rules(struct loader *ld, const yaml_node_t *n, struct flow_rule *rules,
		      size_t *nrules, bool commands)
{
	yaml_node_item_t *it;

	if (n->type != YAML_SEQUENCE_NODE)
		return fail(ld, n, "expected a list of rules");
	for (it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
		const yaml_node_t *rn = node(ld, *it);
		struct flow_rule *r;
		yaml_node_pair_t *p;
		bool have_next = false;
		int rc;

		if (*nrules == FLOW_RULES_MAX)
			return fail(ld, rn, "too many rules (at most 32)");
		if (rn->type != YAML_MAPPING_NODE)
			return fail(ld, rn, "expected a rule: a mapping of keywords, args, set, next");
		r = &rules[*nrules];
		memset(r, 0, sizeof(*r));
		r->line = rn->start_mark.line + 1;
		for (p = rn->data.mapping.pairs.start; p < rn->data.mapping.pairs.top; p++) {
			const yaml_node_t *k = node(ld, p->key), *v = node(ld, p->value);
			const char *ks = scalar(k);

			if (ks == NULL)
				return fail(ld, k, "expected a key");
			if (strcmp(ks, "keywords") == 0 && commands)
				rc = want_name(ld, v, "keywords (a template key)", &r->keywords);
			else if (strcmp(ks, "args") == 0)
				rc = load_args(ld, v, r);
			else if (strcmp(ks, "set") == 0)
				rc = load_set(ld, v, r->set, &r->nset);
			else if (strcmp(ks, "next") == 0) {
				rc = screen_ref(ld, v, &r->next);
				have_next = true;
			} else
				rc = fail(ld, k, "unknown key '%s' in a rule", ks);
			if (rc < 0)
				return rc;
		}
		if (!have_next)
			return fail(ld, rn, "a rule needs next");
		if (!commands && r->nargs == 0)
			return fail(ld, rn, "a dial shortcut needs args");
		if (commands && r->keywords == NULL && r->nargs == 0)
			return fail(ld, rn, "a command needs keywords or args");
		(*nrules)++;
	}
	return 0;
}

static int load_choices(struct loader *ld, const yaml_node_t *n, struct flow_screen *s)
{
	yaml_node_pair_t *p;
	size_t i;
	int rc;

	if (n->type != YAML_MAPPING_NODE)
		return fail(ld, n, "choices: expected a mapping of key: screen");
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		const yaml_node_t *k = node(ld, p->key), *v = node(ld, p->value);
		const char *ks = scalar(k);
		struct flow_choice *c;

		if (ks == NULL || strlen(ks) != 1 || ks[0] < '0' || ks[0] > '9')
			return fail(ld, k, "choices: a key is one digit, 0 to 9");
		for (i = 0; i < s->nchoices; i++)
			if (s->choices[i].key == ks[0])
				return fail(ld, k, "choices: key %s twice", ks);
		c = &s->choices[s->nchoices++];
		c->key = ks[0];
		if (v->type == YAML_SCALAR_NODE) {
			if ((rc = screen_ref(ld, v, &c->next)) < 0)
				return rc;
			continue;
		}
		if (v->type != YAML_MAPPING_NODE)
			return fail(ld, v, "choices: expected a screen or {next, set}");
		c->next = -2;
		for (yaml_node_pair_t *q = v->data.mapping.pairs.start;
		     q < v->data.mapping.pairs.top; q++) {
			const yaml_node_t *qk = node(ld, q->key), *qv = node(ld, q->value);
			const char *qs = scalar(qk);

			if (qs && strcmp(qs, "next") == 0)
				rc = screen_ref(ld, qv, &c->next);
			else if (qs && strcmp(qs, "set") == 0)
				rc = load_set(ld, qv, c->set, &c->nset);
			else
				rc = fail(ld, qk, "choices: unknown key '%s' (next, set)",
					  qs ? qs : "(not a name)");
			if (rc < 0)
				return rc;
		}
		if (c->next == -2)
			return fail(ld, v, "choices: next is missing");
	}
	return 0;
}

static int load_on(struct loader *ld, const yaml_node_t *n, struct flow_screen *s)
{
	const struct flow_action_info *ai = &actions[s->action];
	yaml_node_pair_t *p;
	size_t nout = 0, i;

	while (ai->outcomes[nout])
		nout++;
	s->on = talloc_array(ld->f, int, nout);
	if (s->on == NULL)
		return -ENOMEM;
	for (i = 0; i < nout; i++)
		s->on[i] = -2;
	if (n->type != YAML_MAPPING_NODE)
		return fail(ld, n, "on: expected a mapping of outcome: screen");
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		const yaml_node_t *k = node(ld, p->key), *v = node(ld, p->value);
		const char *ks = scalar(k);
		int rc;

		for (i = 0; i < nout; i++)
			if (ks && strcmp(ks, ai->outcomes[i]) == 0)
				break;
		if (i == nout) {
			char what[96];

			snprintf(what, sizeof(what), "%s: no outcome '%s'", ai->name, ks ? ks : "");
			return fail(ld, k, "action %s", what);
		}
		if (s->on[i] != -2)
			return fail(ld, k, "outcome '%s' twice", ks);
		if ((rc = screen_ref(ld, v, &s->on[i])) < 0)
			return rc;
	}
	return 0;
}

static int load_screen(struct loader *ld, const yaml_node_t *kn, const yaml_node_t *n,
		       struct flow_screen *s)
{
	yaml_node_pair_t *p;
	const yaml_node_t *on = NULL, *end = NULL;
	bool have_next = false, have_invalid = false;
	int rc;

	memset(s, 0, sizeof(*s));
	s->next = s->invalid = -1;
	s->line = n->start_mark.line + 1;
	if (scalar(kn) == NULL || !name_ok(scalar(kn), FLOW_NAME_MAX))
		return fail(ld, kn, "a screen name is 1 to 32 of a-z, 0-9, '_', '.', '-'");
	if ((s->name = talloc_strdup(ld->f, scalar(kn))) == NULL)
		return -ENOMEM;
	if (n->type != YAML_MAPPING_NODE)
		return fail(ld, n, "screen %s: expected a mapping", s->name);
	s->action = FA_COUNT;
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		const yaml_node_t *k = node(ld, p->key), *v = node(ld, p->value);
		const char *ks = scalar(k);

		if (ks == NULL)
			return fail(ld, k, "expected a key");
		if (strcmp(ks, "text") == 0)
			rc = want_name(ld, v, "text (a template key)", &s->text);
		else if (strcmp(ks, "choices") == 0)
			rc = load_choices(ld, v, s);
		else if (strcmp(ks, "input") == 0)
			rc = want_var(ld, v, &s->input);
		else if (strcmp(ks, "next") == 0) {
			rc = screen_ref(ld, v, &s->next);
			have_next = true;
		} else if (strcmp(ks, "invalid") == 0) {
			rc = screen_ref(ld, v, &s->invalid);
			have_invalid = true;
		} else if (strcmp(ks, "action") == 0) {
			const char *as = scalar(v);
			int a;

			for (a = 0; as && a < FA_COUNT; a++)
				if (strcmp(as, actions[a].name) == 0)
					break;
			if (as == NULL || a == FA_COUNT)
				return fail(ld, v, "unknown action '%s'",
					    as ? as : "(not a name)");
			s->action = (enum flow_action)a;
			rc = 0;
		} else if (strcmp(ks, "on") == 0) {
			on = v;
			rc = 0;
		} else if (strcmp(ks, "end") == 0) {
			const char *es = scalar(v);

			if (es == NULL || (strcmp(es, "true") != 0 && strcmp(es, "yes") != 0))
				return fail(ld, v, "end: expected true");
			end = v;
			rc = 0;
		} else
			rc = fail(ld, k, "unknown key '%s' (text, choices, input, next, invalid, "
				  "action, on, end)", ks);
		if (rc < 0)
			return rc;
	}
	if (s->action != FA_COUNT) {
		if (s->text || s->nchoices || s->input || have_next || have_invalid || end)
			return fail(ld, n, "screen %s: an action screen has only action and on",
				    s->name);
		if (on == NULL)
			return fail(ld, n, "screen %s: action without on", s->name);
		s->kind = FS_ACTION;
		return load_on(ld, on, s);
	}
	if (on)
		return fail(ld, on, "on without action");
	if (s->text == NULL)
		return fail(ld, n, "screen %s: text is missing", s->name);
	if (end) {
		if (s->nchoices || s->input || have_next || have_invalid)
			return fail(ld, end, "screen %s: an end screen waits for nothing", s->name);
		s->kind = FS_END;
		return 0;
	}
	if (s->input && !have_next)
		return fail(ld, n, "screen %s: input without next", s->name);
	if (have_next && !s->input)
		return fail(ld, n, "screen %s: next without input", s->name);
	if (s->input && !s->nchoices && !have_invalid)
		return fail(ld, n, "screen %s: an input needs invalid (where a bad one goes)",
			    s->name);
	if (!s->input && !s->nchoices)
		return fail(ld, n, "screen %s: neither choices, input, action nor end", s->name);
	s->kind = s->nchoices ? FS_MENU : FS_INPUT;
	return 0;
}

static int load_top(struct loader *ld)
{
	yaml_node_t *root = yaml_document_get_root_node(&ld->doc);
	const yaml_node_t *screens = NULL;
	yaml_node_pair_t *p;
	int rc;

	if (root == NULL)
		return fail(ld, NULL, "empty file");
	if (root->type != YAML_MAPPING_NODE)
		return fail(ld, root, "expected a mapping (flow, start, screens, ...)");
	ld->f->start = ld->f->sms_help = -3;
	for (p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
		const yaml_node_t *k = node(ld, p->key), *v = node(ld, p->value);
		const char *ks = scalar(k);

		if (ks == NULL)
			return fail(ld, k, "expected a key");
		if (strcmp(ks, "flow") == 0) {
			if (scalar(v) == NULL || !name_ok(scalar(v), FLOW_NAME_MAX))
				return fail(ld, v, "flow: expected a name");
			rc = (ld->f->name = talloc_strdup(ld->f, scalar(v))) ? 0 : -ENOMEM;
		} else if (strcmp(ks, "start") == 0)
			rc = screen_ref(ld, v, &ld->f->start);
		else if (strcmp(ks, "sms-help") == 0)
			rc = screen_ref(ld, v, &ld->f->sms_help);
		else if (strcmp(ks, "dial") == 0)
			rc = load_rules(ld, v, ld->f->dial, &ld->f->ndial, false);
		else if (strcmp(ks, "commands") == 0)
			rc = load_rules(ld, v, ld->f->commands, &ld->f->ncommands, true);
		else if (strcmp(ks, "screens") == 0) {
			screens = v;
			rc = 0;
		} else
			rc = fail(ld, k, "unknown key '%s' (flow, start, sms-help, dial, commands, "
				  "screens)", ks);
		if (rc < 0)
			return rc;
	}
	if (ld->f->name == NULL)
		return fail(ld, root, "flow: the flow's name is missing");
	if (ld->f->start == -3)
		return fail(ld, root, "start: the first screen is missing");
	if (ld->f->sms_help == -3)
		return fail(ld, root, "sms-help: the reply to unknown SMS is missing");
	if (screens == NULL || screens->type != YAML_MAPPING_NODE)
		return fail(ld, screens ? screens : root, "screens: expected a mapping");
	size_t n = (size_t)(screens->data.mapping.pairs.top - screens->data.mapping.pairs.start);
	if (n == 0 || n > FLOW_SCREENS_MAX)
		return fail(ld, screens, "screens: 1 to 256 screens");
	ld->f->screens = talloc_zero_array(ld->f, struct flow_screen, n);
	if (ld->f->screens == NULL)
		return -ENOMEM;
	for (p = screens->data.mapping.pairs.start; p < screens->data.mapping.pairs.top; p++) {
		struct flow_screen *s = &ld->f->screens[ld->f->nscreens];

		if ((rc = load_screen(ld, node(ld, p->key), node(ld, p->value), s)) < 0)
			return rc;
		if (flow_screen_index(ld->f, s->name) >= 0)
			return fail(ld, node(ld, p->key), "screen %s defined twice", s->name);
		ld->f->nscreens++;
	}
	for (size_t i = 0; i < ld->nrefs; i++) {
		int idx = flow_screen_index(ld->f, ld->refs[i].name);

		if (idx < 0) {
			errbuf_set(ld->err, ld->errsz, "%s:%zu:%zu: no screen named %s", ld->fname,
				   ld->refs[i].mark.line + 1, ld->refs[i].mark.column + 1,
				   ld->refs[i].name);
			return -EINVAL;
		}
		*ld->refs[i].slot = idx;
	}
	return 0;
}

struct flow *flow_load_mem(void *ctx, const char *fname, const char *yaml, size_t len, char *err,
			   size_t errsz)
{
	struct loader ld = { .fname = fname, .err = err, .errsz = errsz };
	yaml_parser_t parser;
	int rc;

	if (len > FLOW_FILE_MAX) {
		errbuf_set(err, errsz, "%s: over %d bytes", fname, FLOW_FILE_MAX);
		return NULL;
	}
	ld.f = talloc_zero(ctx, struct flow);
	if (ld.f == NULL || !yaml_parser_initialize(&parser)) {
		talloc_free(ld.f);
		errbuf_set(err, errsz, "%s: out of memory", fname);
		return NULL;
	}
	ld.f->file = talloc_strdup(ld.f, fname);
	yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
	yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
	if (!yaml_parser_load(&parser, &ld.doc)) {
		errbuf_set(err, errsz, "%s:%zu:%zu: %s", fname, parser.problem_mark.line + 1,
			   parser.problem_mark.column + 1,
			   parser.problem ? parser.problem : "not YAML");
		yaml_parser_delete(&parser);
		talloc_free(ld.f);
		return NULL;
	}
	rc = load_top(&ld);
	yaml_document_delete(&ld.doc);
	yaml_parser_delete(&parser);
	talloc_free(ld.refs);
	ld.refs = NULL;
	if (rc < 0) {
		if (rc == -ENOMEM)
			errbuf_set(err, errsz, "%s: out of memory", fname);
		talloc_free(ld.f);
		return NULL;
	}
	return ld.f;
}

struct flow *flow_load_file(void *ctx, const char *path, char *err, size_t errsz)
{
	struct flow *f = NULL;
	struct stat sb;
	char *buf;
	ssize_t got;
	size_t off = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		errbuf_set(err, errsz, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size > FLOW_FILE_MAX) {
		errbuf_set(err, errsz, "%s: not a regular file of at most %d bytes", path,
			   FLOW_FILE_MAX);
		close(fd);
		return NULL;
	}
	buf = talloc_size(ctx, (size_t)sb.st_size + 1);
	while (buf && off < (size_t)sb.st_size &&
	       (got = read(fd, buf + off, (size_t)sb.st_size - off)) > 0)
		off += (size_t)got;
	close(fd);
	if (buf == NULL || off != (size_t)sb.st_size)
		errbuf_set(err, errsz, "%s: could not read it", path);
	else
		f = flow_load_mem(ctx, path, buf, off, err, errsz);
	talloc_free(buf);
	return f;
}

int flow_screen_index(const struct flow *f, const char *name)
{
	for (size_t i = 0; i < f->nscreens; i++)
		if (f->screens[i].name && strcmp(f->screens[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* ---- checking --------------------------------------------------------------------------- */

struct checker {
	const struct flow *f;
	const struct tpl_set *t;
	flow_problem_fn report;
	void *arg;
	size_t problems;
	bool *ussd_screen;	/* per screen: shown over USSD */
};

static void problem(struct checker *c, const char *screen, const char *lang, const char *msg)
{
	c->problems++;
	if (c->report)
		c->report(c->arg, c->f->name, screen, lang, msg);
}

/* The screens one step from s. */
static size_t successors(const struct flow_screen *s, int *out, size_t max)
{
	size_t n = 0, i, nout = 0;

	switch (s->kind) {
	case FS_MENU:
		for (i = 0; i < s->nchoices && n < max; i++)
			out[n++] = s->choices[i].next;
		/* a menu may take an input besides its choices */
		/* fall through */
	case FS_INPUT:
		if (s->input && n < max)
			out[n++] = s->next;
		if (s->invalid >= 0 && n < max)
			out[n++] = s->invalid;
		break;
	case FS_ACTION:
		while (actions[s->action].outcomes[nout])
			nout++;
		for (i = 0; i < nout && n < max; i++)
			out[n++] = s->on[i];
		break;
	case FS_END:
		break;
	}
	return n;
}

static void mark(const struct flow *f, int from, bool *seen, bool only_actions)
{
	int stack[FLOW_SCREENS_MAX * 2], next[FLOW_CHOICES_MAX + 32];
	size_t sp = 0, n, i;

	if (from < 0 || seen[from])
		return;
	seen[from] = true;
	stack[sp++] = from;
	while (sp) {
		const struct flow_screen *s = &f->screens[stack[--sp]];

		if (only_actions && s->kind != FS_ACTION)
			continue;
		n = successors(s, next, sizeof(next) / sizeof(next[0]));
		for (i = 0; i < n; i++)
			if (next[i] >= 0 && !seen[next[i]]) {
				seen[next[i]] = true;
				stack[sp++] = next[i];
			}
	}
}

static bool is_ussd_screen(const char *key, void *arg)
{
	struct checker *c = arg;

	for (size_t i = 0; i < c->f->nscreens; i++)
		if (c->ussd_screen[i] && c->f->screens[i].text &&
		    strcmp(c->f->screens[i].text, key) == 0)
			return true;
	return false;
}

static void tpl_problem(void *arg, const char *lang, const char *key, const char *msg)
{
	struct checker *c = arg;
	const char *screen = NULL;
	char buf[300];

	/* The screen to name: one shown over USSD first (sizes are about those). */
	for (int pass = 0; pass < 2 && screen == NULL; pass++)
		for (size_t i = 0; key && i < c->f->nscreens; i++)
			if (c->f->screens[i].text && strcmp(c->f->screens[i].text, key) == 0 &&
			    (pass == 1 || c->ussd_screen[i])) {
				screen = c->f->screens[i].name;
				break;
			}
	if (key)
		snprintf(buf, sizeof(buf), "text %s: %s", key, msg);
	else
		snprintf(buf, sizeof(buf), "%s", msg);
	problem(c, screen, lang, buf);
}

static void need_key(struct checker *c, const char *screen, const char *key)
{
	const char *langs[16];
	size_t n = tpl_languages(c->t, langs, 16), i;
	char out[8], msg[200];

	for (i = 0; i < n && i < 16; i++) {
		bool fallback = false;
		int rc = tpl_render(c->t, langs[i], key, NULL, 0, out, sizeof(out), &fallback);

		/* -EINVAL (placeholders) and -ENOSPC mean the text exists. */
		if (rc == -ENOENT || fallback) {
			snprintf(msg, sizeof(msg), "text %s is missing", key);
			problem(c, screen, langs[i], msg);
		}
	}
}

size_t flow_check(const struct flow *f, const struct tpl_set *t, flow_problem_fn report,
		  void *arg)
{
	struct checker c = { .f = f, .t = t, .report = report, .arg = arg };
	bool *reach = talloc_zero_array(NULL, bool, f->nscreens);
	bool *ends = talloc_zero_array(NULL, bool, f->nscreens);
	bool *sms = talloc_zero_array(NULL, bool, f->nscreens);
	char msg[200];
	size_t i, j;

	c.ussd_screen = talloc_zero_array(NULL, bool, f->nscreens);
	if (!reach || !ends || !sms || !c.ussd_screen) {
		problem(&c, NULL, NULL, "out of memory");
		goto out;
	}
	/* Reachable over USSD: from the start and the dial shortcuts. */
	mark(f, f->start, c.ussd_screen, false);
	for (i = 0; i < f->ndial; i++)
		mark(f, f->dial[i].next, c.ussd_screen, false);
	memcpy(reach, c.ussd_screen, f->nscreens);
	/* Over SMS: the commands run actions until an end; a waiting screen is a fault. */
	for (i = 0; i < f->ncommands; i++)
		mark(f, f->commands[i].next, sms, true);
	mark(f, f->sms_help, sms, true);
	for (i = 0; i < f->nscreens; i++) {
		if (sms[i])
			reach[i] = true;
		if (sms[i] && (f->screens[i].kind == FS_MENU || f->screens[i].kind == FS_INPUT))
			problem(&c, f->screens[i].name, NULL, "an SMS command reaches this screen, "
				"which waits for input: SMS cannot answer it");
	}
	for (i = 0; i < f->nscreens; i++)
		if (!reach[i])
			problem(&c, f->screens[i].name, NULL,
				"unreachable: no dial, command or screen leads here");
	/* Dead ends: screens from which no end screen can be reached (a fixed point: a screen
	 * ends when one of its successors does). A loop whose screens all lead only into it is
	 * caught on each of them. */
	for (bool changed = true; changed;) {
		changed = false;
		for (i = 0; i < f->nscreens; i++) {
			const struct flow_screen *s = &f->screens[i];
			int next[FLOW_CHOICES_MAX + 32];
			size_t n;
			bool e;

			if (ends[i])
				continue;
			n = successors(s, next, sizeof(next) / sizeof(next[0]));
			e = s->kind == FS_END;
			for (j = 0; j < n; j++)
				if (next[j] >= 0 && ends[next[j]])
					e = true;
			if (e)
				ends[i] = changed = true;
		}
	}
	for (i = 0; i < f->nscreens; i++)
		if (reach[i] && !ends[i])
			problem(&c, f->screens[i].name, NULL,
				"dead end: no way from here to an end screen");
	/* Actions: every outcome must lead somewhere. */
	for (i = 0; i < f->nscreens; i++) {
		const struct flow_screen *s = &f->screens[i];

		if (s->kind != FS_ACTION)
			continue;
		for (j = 0; actions[s->action].outcomes[j]; j++)
			if (s->on[j] < 0) {
				snprintf(msg, sizeof(msg), "dead end: outcome %s of action %s "
					 "leads nowhere", actions[s->action].outcomes[j],
					 actions[s->action].name);
				problem(&c, s->name, NULL, msg);
			}
	}
	/* Texts: present in every language; screens within one USSD screen. */
	for (i = 0; i < f->nscreens; i++)
		if (f->screens[i].text)
			need_key(&c, f->screens[i].name, f->screens[i].text);
	for (i = 0; i < f->ncommands; i++)
		if (f->commands[i].keywords)
			need_key(&c, NULL, f->commands[i].keywords);
	tpl_check(t, NULL, is_ussd_screen, &c, tpl_problem, &c);	/* counted in tpl_problem */
out:
	talloc_free(reach);
	talloc_free(ends);
	talloc_free(sms);
	talloc_free(c.ussd_screen);
	return c.problems;
}
