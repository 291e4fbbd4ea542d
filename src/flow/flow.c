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
#include "flow/outcomes.h"

#define VAR_NAME(v, name, keep) [FV_##v] = name,
static const char *const vars[FV_COUNT] = { [FV_NONE] = "", FLOW_VARS(VAR_NAME) };
#undef VAR_NAME

/* The actions and their outcome names, from the one table in outcomes.h. */
#define OUTCOME_NAME(a, o, name) name,
#define OUTCOME_NAMES(a, name) \
	static const char *const out_##a[] = { a##_OUTCOMES(OUTCOME_NAME) NULL };
FLOW_ACTIONS(OUTCOME_NAMES)

#define ACTION_INFO(a, name) [FA_##a] = { name, out_##a },
static const struct flow_action_info actions[FA_COUNT] = { FLOW_ACTIONS(ACTION_INFO) };

#define ACTION_ONE(a, name) + 1
_Static_assert(0 FLOW_ACTIONS(ACTION_ONE) == FA_COUNT, "FLOW_ACTIONS lists every action once");

/* Worst cases for tpl_check: values the engine trims to these lengths (run.c). */
#define PH_INFO(p, name, max, gsm, values) [FP_##p] = { name, max, gsm, values },
static const struct tpl_placeholder placeholders[FP_COUNT] = { FLOW_PLACEHOLDERS(PH_INFO) };
#undef PH_INFO

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

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* A flow or screen name: 1 to max of [a-z0-9_] (flow.h). */
static bool name_ok(const char *s, size_t max)
{
	size_t i, len = strlen(s);

	if (len == 0 || len > max)
		return false;
	for (i = 0; i < len; i++)
		if (!name_char(s[i]))
			return false;
	return true;
}

/* A template key as templates.c takes them: [a-z0-9_] segments joined by '.', at most
 * TPL_KEY_MAX bytes. Anything else could never be found in the texts. */
static bool key_ok(const char *s)
{
	size_t i, len = strlen(s);

	if (len == 0 || len > TPL_KEY_MAX || s[0] == '.' || s[len - 1] == '.')
		return false;
	for (i = 0; i < len; i++)
		if (!(name_char(s[i]) || (s[i] == '.' && s[i + 1] != '.')))
			return false;
	return true;
}

static int want_key(struct loader *ld, const yaml_node_t *n, const char *what, const char **out)
{
	const char *s = scalar(n);

	if (s == NULL || !key_ok(s))
		return fail(ld, n, "%s: expected a template key ([a-z0-9_] segments joined by '.', "
			    "at most %d bytes)", what, TPL_KEY_MAX);
	*out = talloc_strdup(ld->f, s);
	return *out ? 0 : -ENOMEM;
}

/* true or false, plain: the two words every YAML reads alike. yes, on, y are booleans to
 * YAML 1.1 and strings to YAML 1.2; a quoted "true" is a string to both; True and TRUE are
 * spellings a reader need not guess at. */
static int want_bool(struct loader *ld, const yaml_node_t *n, const char *what, bool *out)
{
	const char *s = scalar(n);

	if (s && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
		if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0) {
			*out = s[0] == 't';
			return 0;
		}
	}
	return fail(ld, n, "%s: expected true or false, lowercase and unquoted (not '%.16s')",
		    what, s ? s : "(not a scalar)");
}

/* Keys in sorted order, and within a key in the order of the file. */
static int key_cmp(const void *a, const void *b)
{
	const yaml_node_t *x = *(const yaml_node_t *const *)a;
	const yaml_node_t *y = *(const yaml_node_t *const *)b;
	size_t lx = x->data.scalar.length, ly = y->data.scalar.length;
	int c = memcmp(x->data.scalar.value, y->data.scalar.value, lx < ly ? lx : ly);

	if (c == 0 && lx != ly)
		c = lx < ly ? -1 : 1;
	if (c == 0 && x->start_mark.index != y->start_mark.index)
		c = x->start_mark.index < y->start_mark.index ? -1 : 1;
	return c;
}

static bool same_key(const yaml_node_t *x, const yaml_node_t *y)
{
	return x->data.scalar.length == y->data.scalar.length &&
	       memcmp(x->data.scalar.value, y->data.scalar.value, x->data.scalar.length) == 0;
}

/* YAML forbids a key twice in one mapping, but libyaml keeps both and every reader below
 * would let the last win without a word: a second next: in a screen, a second commands:
 * list at the end of the file. Every mapping of the document is checked before anything is
 * read (each node once, aliases included), sorting its keys rather than comparing every
 * pair: a hostile file may hold a mapping of 50,000 keys. The first repeat in the file is
 * reported, at the repeat. Keys that are no scalars are the readers' to refuse. */
static int unique_keys(struct loader *ld)
{
	const yaml_node_t **keys = NULL, *dup = NULL, *first = NULL;
	size_t cap = 0;

	for (yaml_node_t *n = ld->doc.nodes.start; n < ld->doc.nodes.top; n++) {
		size_t np = 0, i, run = 0;
		yaml_node_pair_t *p;

		if (n->type != YAML_MAPPING_NODE)
			continue;
		i = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
		if (i > cap) {
			const yaml_node_t **k = talloc_realloc(NULL, keys, const yaml_node_t *, i);

			if (k == NULL) {
				talloc_free(keys);
				return -ENOMEM;
			}
			keys = k;
			cap = i;
		}
		for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
			const yaml_node_t *k = node(ld, p->key);

			if (k && k->type == YAML_SCALAR_NODE)
				keys[np++] = k;
		}
		if (np < 2)
			continue;
		qsort(keys, np, sizeof(*keys), key_cmp);
		for (i = 1; i < np; i++) {
			if (!same_key(keys[run], keys[i])) {
				run = i;
			} else if (dup == NULL || keys[i]->start_mark.index < dup->start_mark.index) {
				dup = keys[i];
				first = keys[run];
			}
		}
	}
	talloc_free(keys);
	if (dup)
		return fail(ld, dup, "duplicate key %.64s (first at line %zu)",
			    (const char *)dup->data.scalar.value, first->start_mark.line + 1);
	return 0;
}

/* Remembers that *slot must become the index of screen n's name. */
static int screen_ref(struct loader *ld, const yaml_node_t *n, int *slot)
{
	const char *s = scalar(n);

	if (s == NULL || !name_ok(s, FLOW_NAME_MAX))
		return fail(ld, n, "expected a screen name (1 to 32 of a-z, 0-9 and '_')");
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

/* The arguments as the engine takes them (journey.c's fill_args() and enter()): each
 * into its variable, so one named twice would only keep the second; a dial carries digits,
 * so never a reason, which is the word stolen or lost. */
static int load_args(struct loader *ld, const yaml_node_t *n, struct flow_rule *r, bool commands)
{
	yaml_node_item_t *it;
	int rc;

	if (n->type != YAML_SEQUENCE_NODE)
		return fail(ld, n, "args: expected a list of variables");
	for (it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
		const yaml_node_t *in = node(ld, *it);
		enum flow_var v;

		if (r->nargs == FLOW_ARGS_MAX)
			return fail(ld, in, "args: at most 3");
		if ((rc = want_var(ld, in, &v)) < 0)
			return rc;
		if (v == FV_PICK)
			return fail(ld, in, "args: pick is a menu input only");
		if (v == FV_REASON && !commands)
			return fail(ld, in, "args: a dial carries digits, never a reason (the word "
				    "stolen or lost)");
		for (size_t a = 0; a < r->nargs; a++)
			if (r->args[a] == v)
				return fail(ld, in, "args: %s twice: the second would overwrite the "
					    "first", vars[v]);
		r->args[r->nargs++] = v;
	}
	return 0;
}

/* A rule the engine could never match, or whose arguments it would overwrite: refused here
 * rather than left to a gateway that answers such an SMS with the help, without a word in
 * the log. rules[0..i) are the rule's elders: journey.c's sms_enter() tries them in order. */
static int rule_usable(struct loader *ld, const yaml_node_t *rn, const yaml_node_t *kw,
		       const struct flow_rule *rules, size_t i, bool commands)
{
	const struct flow_rule *r = &rules[i];
	size_t a, b;

	for (a = 0; a < r->nargs; a++)
		for (b = 0; b < r->nset; b++)
			if (r->set[b].var == r->args[a])
				return fail(ld, rn, "%s is both an argument and set: the set would "
					    "overwrite what was typed", vars[r->args[a]]);
	if (!commands)
		return 0;
	if (r->keywords == NULL && (r->nargs != 1 || r->args[0] != FV_IMEI))
		return fail(ld, rn, "a command without keywords only ever matches a message that "
			    "is an IMEI alone: its args must be [imei]");
	for (b = 0; b < i; b++) {
		/* The first rule whose keyword matches takes the SMS, used right or wrong. */
		if (r->keywords && rules[b].keywords && strcmp(r->keywords, rules[b].keywords) == 0)
			return fail(ld, kw, "command %s: the command at line %zu has the same "
				    "keywords and takes every SMS that starts with them",
				    r->keywords, rules[b].line);
		if (!r->keywords && !rules[b].keywords)
			return fail(ld, rn, "a second command without keywords: the one at line %zu "
				    "takes every message that is an IMEI alone", rules[b].line);
	}
	return 0;
}

/* invalid: {var: screen}: where a rule goes when that argument is not valid; each variable
 * one of the rule's args. */
static int load_rule_invalid(struct loader *ld, const yaml_node_t *n, struct flow_rule *r)
{
	yaml_node_pair_t *p;

	if (n->type != YAML_MAPPING_NODE)
		return fail(ld, n, "invalid: expected a mapping of argument: screen");
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		const yaml_node_t *k = node(ld, p->key), *v = node(ld, p->value);
		enum flow_var var;
		size_t a;
		int rc;

		if ((rc = want_var(ld, k, &var)) < 0)
			return rc;
		for (a = 0; a < r->nargs; a++)
			if (r->args[a] == var)
				break;
		if (a == r->nargs && r->rest == (int)var) {
			if ((rc = screen_ref(ld, v, &r->rest_invalid)) < 0)
				return rc;
			continue;
		}
		if (a == r->nargs)
			return fail(ld, k, "invalid: %s is not one of the rule's args", vars[var]);
		/* unique_keys() refused a variable twice */
		if ((rc = screen_ref(ld, v, &r->invalid[a])) < 0)
			return rc;
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
		const yaml_node_t *kw = NULL, *inv = NULL, *missing = NULL, *rest = NULL;
		bool have_next = false;
		int rc;

		if (*nrules == FLOW_RULES_MAX)
			return fail(ld, rn, "too many rules (at most 32)");
		if (rn->type != YAML_MAPPING_NODE)
			return fail(ld, rn, "expected a rule: a mapping of keywords, args, set, next");
		r = &rules[*nrules];
		memset(r, 0, sizeof(*r));
		r->line = rn->start_mark.line + 1;
		r->missing = -1;
		r->rest = r->rest_invalid = -1;
		for (size_t a = 0; a < FLOW_ARGS_MAX; a++)
			r->invalid[a] = -1;
		for (p = rn->data.mapping.pairs.start; p < rn->data.mapping.pairs.top; p++) {
			const yaml_node_t *k = node(ld, p->key), *v = node(ld, p->value);
			const char *ks = scalar(k);

			if (ks == NULL)
				return fail(ld, k, "expected a key");
			if (strcmp(ks, "keywords") == 0 && commands) {
				rc = want_key(ld, v, "keywords", &r->keywords);
				kw = v;
			} else if (strcmp(ks, "args") == 0)
				rc = load_args(ld, v, r, commands);
			else if (strcmp(ks, "set") == 0)
				rc = load_set(ld, v, r->set, &r->nset);
			else if (strcmp(ks, "next") == 0) {
				rc = screen_ref(ld, v, &r->next);
				have_next = true;
			} else if (strcmp(ks, "invalid") == 0) {
				inv = v;	/* read once the args are known */
				rc = 0;
			} else if (strcmp(ks, "missing") == 0 && commands) {
				missing = v;
				rc = screen_ref(ld, v, &r->missing);
			} else if (strcmp(ks, "rest") == 0 && commands) {
				enum flow_var var;

				rest = v;
				if ((rc = want_var(ld, v, &var)) == 0)
					r->rest = (int)var;
			} else
				rc = fail(ld, k, "unknown key '%s' in a rule", ks);
			if (rc < 0)
				return rc;
		}
		if (!have_next)
			return fail(ld, rn, "a rule needs next");
		if (missing && r->nargs == 0)
			return fail(ld, missing, "missing: a command without args never lacks one");
		if (rest) {
			size_t a;

			for (a = 0; a < r->nargs && r->args[a] != FV_IMEI; a++)
				;
			/* Without an IMEI to take the fewest words, the last argument takes the
			 * extra words (typed in groups) and no rest could ever be told apart. */
			if (a == r->nargs)
				return fail(ld, rest, "rest: only after args with an imei (it takes the "
					    "fewest words that make one; the rest is what follows)");
			for (a = 0; a < r->nargs; a++)
				if ((int)r->args[a] == r->rest)
					return fail(ld, rest, "rest: %s is one of the args",
						    vars[r->rest]);
			for (a = 0; a < r->nset; a++)
				if ((int)r->set[a].var == r->rest)
					return fail(ld, rest, "rest: %s is also set: the set would "
						    "overwrite what was typed", vars[r->rest]);
		}
		if (inv && (rc = load_rule_invalid(ld, inv, r)) < 0)
			return rc;
		if (!commands && r->nargs == 0)
			return fail(ld, rn, "a dial shortcut needs args");
		if ((rc = rule_usable(ld, rn, kw, rules, *nrules, commands)) < 0)
			return rc;
		(*nrules)++;
	}
	return 0;
}

/* back: {input: "0", text: common.back} and home: {input: "00", text: common.home, to: menu}:
 * what the user types (1 to FLOW_NAV_INPUT_MAX of digits, '*' and '#', quoted or not) and the
 * line shown for it; to (home only) where it goes, the start when not given. */
static int load_nav(struct loader *ld, const yaml_node_t *n, struct flow_nav *nav, bool home)
{
	const char *what = home ? "home" : "back";
	yaml_node_pair_t *p;
	int rc;

	if (n->type != YAML_MAPPING_NODE)
		return fail(ld, n, "%s: expected a mapping of input, text%s", what,
			    home ? " and to" : "");
	nav->line = n->start_mark.line + 1;
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		const yaml_node_t *k = node(ld, p->key), *v = node(ld, p->value);
		const char *ks = scalar(k), *vs = scalar(v);

		if (ks && strcmp(ks, "input") == 0) {
			if (vs == NULL || vs[0] == '\0' || strlen(vs) > FLOW_NAV_INPUT_MAX ||
			    strspn(vs, "0123456789*#") != strlen(vs))
				return fail(ld, v, "%s: input is 1 to %d of 0-9, * and # (what a "
					    "keypad sends)", what, FLOW_NAV_INPUT_MAX);
			rc = (nav->input = talloc_strdup(ld->f, vs)) ? 0 : -ENOMEM;
		} else if (ks && strcmp(ks, "text") == 0) {
			rc = want_key(ld, v, "text", &nav->text);
		} else if (ks && strcmp(ks, "to") == 0 && home) {
			rc = screen_ref(ld, v, &nav->to);
		} else {
			rc = fail(ld, k, "%s: unknown key '%s' (input, text%s)", what,
				  ks ? ks : "(not a name)", home ? ", to" : "");
		}
		if (rc < 0)
			return rc;
	}
	if (nav->input == NULL || nav->text == NULL)
		return fail(ld, n, "%s: needs input and text", what);
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
		/* unique_keys() refused a key twice; kept as the bound of choices[] */
		for (i = 0; i < s->nchoices; i++)
			if (s->choices[i].key == ks[0])
				return fail(ld, k, "choices: key %s twice", ks);
		c = &s->choices[s->nchoices++];
		c->key = ks[0];
		if (v->type == YAML_SCALAR_NODE && strcmp(scalar(v), FLOW_CONTINUE_NAME) == 0) {
			/* where the interrupted journey stopped (the checker allows it only on
			 * the flow's resume screen) */
			c->next = FLOW_CONTINUE;
			continue;
		}
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
		if ((rc = screen_ref(ld, v, &s->on[i])) < 0)
			return rc;
	}
	return 0;
}

static int load_screen(struct loader *ld, const yaml_node_t *kn, const yaml_node_t *n,
		       struct flow_screen *s)
{
	yaml_node_pair_t *p;
	const yaml_node_t *on = NULL, *end = NULL, *resumable = NULL;
	bool have_next = false, have_invalid = false;
	int rc;

	memset(s, 0, sizeof(*s));
	s->next = s->invalid = -1;
	s->line = n->start_mark.line + 1;
	if (scalar(kn) == NULL || !name_ok(scalar(kn), FLOW_NAME_MAX))
		return fail(ld, kn, "a screen name is 1 to 32 of a-z, 0-9 and '_'");
	if (strcmp(scalar(kn), FLOW_CONTINUE_NAME) == 0)
		return fail(ld, kn, "'%s' is reserved (a choice's: where a journey stopped)",
			    FLOW_CONTINUE_NAME);
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
			rc = want_key(ld, v, "text", &s->text);
		else if (strcmp(ks, "invalid-text") == 0)
			rc = want_key(ld, v, "invalid-text", &s->invalid_text);
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
		} else if (strcmp(ks, "no-back") == 0) {
			/* the reason is for the reader; that there is one is the point */
			if (scalar(v) == NULL || scalar(v)[0] == '\0')
				return fail(ld, v, "no-back: expected the reason this screen "
					    "offers no way back");
			rc = (s->no_back = talloc_strdup(ld->f, scalar(v))) ? 0 : -ENOMEM;
		} else if (strcmp(ks, "end") == 0) {
			bool is_end = false;

			/* end: false is a screen that is not an end, as without the key */
			rc = want_bool(ld, v, "end", &is_end);
			end = is_end ? v : NULL;
		} else if (strcmp(ks, "resumable") == 0) {
			rc = want_bool(ld, v, "resumable", &s->resumable);
			resumable = s->resumable ? v : NULL;
		} else
			rc = fail(ld, k, "unknown key '%s' (text, choices, input, next, invalid, "
				  "invalid-text, no-back, resumable, action, on, end)", ks);
		if (rc < 0)
			return rc;
	}
	if (s->invalid_text && !s->nchoices && s->input != FV_PICK)
		return fail(ld, n, "screen %s: invalid-text is a menu's (choices, or input pick)",
			    s->name);
	if (s->no_back && (s->action != FA_COUNT || end))
		return fail(ld, n, "screen %s: no-back is a menu's or an input's (a screen that "
			    "waits)", s->name);
	if (resumable && (s->action != FA_COUNT || end))
		return fail(ld, resumable, "screen %s: only a screen that waits for input is "
			    "resumable", s->name);
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
	const yaml_node_t *screens = NULL, *home = NULL;
	yaml_node_pair_t *p;
	int rc;

	if (root == NULL)
		return fail(ld, NULL, "empty file");
	if (root->type != YAML_MAPPING_NODE)
		return fail(ld, root, "expected a mapping (flow, start, screens, ...)");
	ld->f->start = ld->f->sms_help = -3;
	ld->f->back.to = ld->f->home.to = -1;
	ld->f->resume = -1;
	for (p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
		const yaml_node_t *k = node(ld, p->key), *v = node(ld, p->value);
		const char *ks = scalar(k);

		if (ks == NULL)
			return fail(ld, k, "expected a key");
		if (strcmp(ks, "flow") == 0) {
			if (scalar(v) == NULL || !name_ok(scalar(v), FLOW_NAME_MAX))
				return fail(ld, v, "flow: expected a name (1 to 32 of a-z, 0-9 and '_')");
			rc = (ld->f->name = talloc_strdup(ld->f, scalar(v))) ? 0 : -ENOMEM;
		} else if (strcmp(ks, "start") == 0)
			rc = screen_ref(ld, v, &ld->f->start);
		else if (strcmp(ks, "sms-help") == 0)
			rc = screen_ref(ld, v, &ld->f->sms_help);
		else if (strcmp(ks, "invalid-choice") == 0)
			rc = want_key(ld, v, "invalid-choice", &ld->f->invalid_choice);
		else if (strcmp(ks, "back") == 0)
			rc = load_nav(ld, v, &ld->f->back, false);
		else if (strcmp(ks, "home") == 0) {
			home = v;
			rc = load_nav(ld, v, &ld->f->home, true);
		}
		else if (strcmp(ks, "resume") == 0)
			rc = screen_ref(ld, v, &ld->f->resume);
		else if (strcmp(ks, "dial") == 0)
			rc = load_rules(ld, v, ld->f->dial, &ld->f->ndial, false);
		else if (strcmp(ks, "commands") == 0)
			rc = load_rules(ld, v, ld->f->commands, &ld->f->ncommands, true);
		else if (strcmp(ks, "screens") == 0) {
			screens = v;
			rc = 0;
		} else
			rc = fail(ld, k, "unknown key '%s' (flow, start, sms-help, invalid-choice, "
				  "back, home, resume, dial, commands, screens)", ks);
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

		/* names are unique: unique_keys() saw to it */
		if ((rc = load_screen(ld, node(ld, p->key), node(ld, p->value), s)) < 0)
			return rc;
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
	if (ld->f->home.input && ld->f->home.to < 0)
		ld->f->home.to = ld->f->start;
	/* One input, one meaning: a flow whose back and home are typed alike would never go
	 * home. */
	if (ld->f->back.input && ld->f->home.input &&
	    strcmp(ld->f->back.input, ld->f->home.input) == 0)
		return fail(ld, home, "back and home: both are typed %s", ld->f->back.input);
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
	rc = unique_keys(&ld);
	if (rc == 0)
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

bool flow_screen_is_menu(const struct flow_screen *s)
{
	return s->kind == FS_MENU || (s->kind == FS_INPUT && s->input == FV_PICK);
}

bool flow_screen_has_back(const struct flow *f, const struct flow_screen *s)
{
	return (f->back.input || f->home.input) && s->no_back == NULL &&
	       (s->kind == FS_MENU || s->kind == FS_INPUT);
}

/* ---- checking --------------------------------------------------------------------------- */

struct checker {
	const struct flow *f;
	const struct tpl_set *t;
	flow_problem_fn report;
	void *arg;
	size_t problems;
	bool *ussd_screen;	/* per screen: shown over USSD */
	const char **langs;	/* every language loaded */
	size_t nlangs;
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
		if (c->ussd_screen[i] &&
		    ((c->f->screens[i].text && strcmp(c->f->screens[i].text, key) == 0) ||
		     (c->f->screens[i].invalid_text &&
		      strcmp(c->f->screens[i].invalid_text, key) == 0)))
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
			if (((c->f->screens[i].text && strcmp(c->f->screens[i].text, key) == 0) ||
			     (c->f->screens[i].invalid_text &&
			      strcmp(c->f->screens[i].invalid_text, key) == 0)) &&
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

/* A key no language has, not even the default one, in each language. One that only some
 * languages lack is tpl_check()'s to report ("missing (en has it)"): not here as well, or a
 * missing text would count twice. -EINVAL (placeholders) and -ENOSPC mean the text exists. */
static void need_key(struct checker *c, const char *screen, const char *key)
{
	char out[8], msg[200];

	for (size_t i = 0; i < c->nlangs; i++)
		if (tpl_render(c->t, c->langs[i], key, NULL, 0, out, sizeof(out), NULL) == -ENOENT) {
			snprintf(msg, sizeof(msg), "text %s is missing", key);
			problem(c, screen, c->langs[i], msg);
		}
}

static bool sms_space(char ch)
{
	return (unsigned char)ch < 0x20 || ch == ' ' || ch == ';';
}

/* One language's keyword list as journey.c's keyword_in() reads it: split at commas, each
 * keyword trimmed of spaces, compared with the first word of the SMS, which never holds a
 * space, a ';' or a control character (the SMS is cut into words there). */
static void keyword_list(struct checker *c, const struct flow_rule *r, const char *lang,
			 const char *list)
{
	const char *p = list, *end;
	size_t n, j, nkw = 0, nbad = 0;
	bool empty = false;
	char msg[300];

	for (;; p = end + 1) {
		end = strchr(p, ',');
		n = end ? (size_t)(end - p) : strlen(p);
		for (; n && *p == ' '; n--)
			p++;
		for (; n && p[n - 1] == ' '; n--)
			;
		for (j = 0; j < n && !sms_space(p[j]); j++)
			;
		if (n == 0) {
			empty = true;
		} else if (j < n) {
			snprintf(msg, sizeof(msg), "keywords %s: '%.*s' holds a space, a ';' or a "
				 "control character, where an SMS is cut into words: no word is ever "
				 "that keyword", r->keywords, n > 40 ? 40 : (int)n, p);
			problem(c, NULL, lang, msg);
			nbad++;
		} else {
			nkw++;
		}
		if (end == NULL)
			break;
	}
	if (nkw + nbad == 0)
		snprintf(msg, sizeof(msg), "keywords %s: empty: the command at line %zu never "
			 "matches in this language", r->keywords, r->line);
	else if (empty)
		snprintf(msg, sizeof(msg), "keywords %s: an empty keyword (two commas, or one "
			 "at an end)", r->keywords);
	if (nkw + nbad == 0 || empty)
		problem(c, NULL, lang, msg);
}

/* A command's keywords in every language, as the engine matches them (journey.c's
 * keyword_match()): rendered without values into FLOW_KEYWORDS_MAX + 1 bytes, a language
 * that lacks them skipped (need_key() and tpl_check() report that). */
static void check_keywords(struct checker *c, const struct flow_rule *r)
{
	char list[TPL_TEXT_MAX + 1], msg[300];

	need_key(c, NULL, r->keywords);
	for (size_t i = 0; i < c->nlangs; i++) {
		bool fallback = false;
		int len = tpl_render(c->t, c->langs[i], r->keywords, NULL, 0, list, sizeof(list),
				     &fallback);

		if (len == -EINVAL) {
			snprintf(msg, sizeof(msg), "keywords %s: a placeholder, which the SMS "
				 "matcher never fills: the command at line %zu never matches in this "
				 "language", r->keywords, r->line);
			problem(c, NULL, c->langs[i], msg);
		} else if (len > FLOW_KEYWORDS_MAX && !fallback) {
			snprintf(msg, sizeof(msg), "keywords %s: %d bytes, over the %d the SMS "
				 "matcher reads: the command at line %zu never matches in this "
				 "language", r->keywords, len, FLOW_KEYWORDS_MAX, r->line);
			problem(c, NULL, c->langs[i], msg);
		} else if (len >= 0 && !fallback) {
			keyword_list(c, r, c->langs[i], list);
		}
	}
}

/* The back or home line in every language starts with what is typed for it and a space
 * ("0 Back", "00 Menu principal"): a translation cannot promise a key the engine does not
 * take. */
static void check_nav_text(struct checker *c, const struct flow_nav *nav, const char *what)
{
	char text[TPL_TEXT_MAX + 1], msg[300];
	size_t il = strlen(nav->input);

	need_key(c, NULL, nav->text);
	for (size_t l = 0; l < c->nlangs; l++) {
		bool fallback = false;
		int len = tpl_render(c->t, c->langs[l], nav->text, NULL, 0, text, sizeof(text),
				     &fallback);

		if (len < 0 || fallback)
			continue;	/* tpl_check() and need_key() report these */
		if ((size_t)len <= il || strncmp(text, nav->input, il) != 0 || text[il] != ' ' ||
		    strchr(text, '\n')) {
			snprintf(msg, sizeof(msg), "%s: text %s is not one line that starts with "
				 "'%s ' (what the user types for it)", what, nav->text, nav->input);
			problem(c, NULL, c->langs[l], msg);
		}
	}
}

/* Back and home (flow.h): the start offers neither, and says so; a screen that offers them
 * has no choice typed like them (the engine takes 0 and 00 as back and home before choices
 * and inputs: a choice 0 would never be chosen). */
static void check_nav(struct checker *c)
{
	const struct flow *f = c->f;
	const struct flow_nav *navs[2] = { &f->back, &f->home };
	char msg[300];

	for (size_t k = 0; k < 2; k++)
		if (navs[k]->input)
			check_nav_text(c, navs[k], k ? "home" : "back");
	if (f->start >= 0 && flow_screen_has_back(f, &f->screens[f->start]))
		problem(c, f->screens[f->start].name, NULL, "the start has nothing to go back to: "
			"say so with no-back");
	for (size_t i = 0; i < f->nscreens; i++) {
		const struct flow_screen *s = &f->screens[i];

		if (!flow_screen_has_back(f, s))
			continue;
		for (size_t j = 0; j < s->nchoices; j++)
			for (size_t k = 0; k < 2; k++)
				if (navs[k]->input && strlen(navs[k]->input) == 1 &&
				    navs[k]->input[0] == s->choices[j].key) {
					snprintf(msg, sizeof(msg), "choice %c is typed like %s, "
						 "which takes it first: the choice is never "
						 "chosen", s->choices[j].key,
						 k ? "home" : "back");
					problem(c, s->name, NULL, msg);
				}
	}
}

/* Every menu and input shown over USSD fits one screen in every language as journey.c shows
 * it: the text; below it the back line where it offers one; above it the flow's
 * invalid-choice text when a menu is shown again for its own input, or in its place the
 * menu's invalid-text. The home line is not proven: journey.c shows it where the screen as
 * rendered has room for it (a list of phones or languages at its longest, or with the note
 * above, may leave none), and 00 goes home whether its line is shown or not. */
static void check_screens_with_lines(struct checker *c)
{
	const struct flow *f = c->f;

	if (f->invalid_choice)
		need_key(c, NULL, f->invalid_choice);
	for (size_t i = 0; i < f->nscreens; i++) {
		const struct flow_screen *s = &f->screens[i];
		bool nav = flow_screen_has_back(f, s);
		const char *keys[TPL_LINES_MAX];
		size_t n = 0, main;

		size_t d;

		if (!c->ussd_screen[i] || s->text == NULL ||
		    (s->kind != FS_MENU && s->kind != FS_INPUT))
			continue;
		/* screens alike (imei.bad_length asked by the check and the report): once */
		for (d = 0; d < i; d++) {
			const struct flow_screen *o = &f->screens[d];

			if (c->ussd_screen[d] && o->text && strcmp(o->text, s->text) == 0 &&
			    (o->kind == FS_MENU || o->kind == FS_INPUT) &&
			    flow_screen_has_back(f, o) == nav &&
			    flow_screen_is_menu(o) == flow_screen_is_menu(s) &&
			    !o->invalid_text == !s->invalid_text &&
			    (!s->invalid_text || strcmp(o->invalid_text, s->invalid_text) == 0))
				break;
		}
		if (d < i)
			continue;
		for (int pass = 0; pass < 3; pass++) {
			n = 0;
			if (pass == 1 && !(flow_screen_is_menu(s) && f->invalid_choice &&
					   !s->invalid_text))
				continue;
			if (pass == 2 && s->invalid_text == NULL)
				continue;
			if (pass == 1)
				keys[n++] = f->invalid_choice;
			main = n;
			keys[n++] = pass == 2 ? s->invalid_text : s->text;
			if (nav && f->back.input)
				keys[n++] = f->back.text;
			if (n == 1)
				continue;	/* the text alone: tpl_check() measures it */
			for (size_t l = 0; l < c->nlangs; l++)
				tpl_check_lines(c->t, c->langs[l], keys, n, main, tpl_problem, c);
		}
	}
}

/* The resume screen (doc/flows.md, "Resuming"): a menu whose one continue choice goes back
 * to where the journey stopped, that shows nothing of the journey (no placeholder: the
 * caller has proven nothing yet in this session); continue only there; resumable screens
 * only with it. */
static void check_resume(struct checker *c)
{
	const struct flow *f = c->f;
	char out[TPL_TEXT_MAX + 1];
	size_t i, j, ncont, nres = 0;

	for (i = 0; i < f->nscreens; i++) {
		const struct flow_screen *s = &f->screens[i];

		nres += s->resumable;
		for (j = ncont = 0; j < s->nchoices; j++)
			ncont += s->choices[j].next == FLOW_CONTINUE;
		if ((int)i == f->resume) {
			if (s->kind != FS_MENU || s->input || s->resumable || ncont != 1 ||
			    s->nchoices < 2)
				problem(c, s->name, NULL, "the resume screen is a menu (no input, not "
					"resumable itself) with one choice 'continue' and another");
			for (j = 0; s->text && j < c->nlangs; j++)
				if (tpl_render(c->t, c->langs[j], s->text, NULL, 0, out, sizeof(out),
					       NULL) == -EINVAL)
					problem(c, s->name, c->langs[j], "the resume screen shows a "
						"placeholder: it must show nothing of the journey");
		} else if (ncont) {
			problem(c, s->name, NULL, "'continue' is a choice of the flow's resume "
				"screen only");
		}
	}
	if (f->resume >= 0 && nres == 0)
		problem(c, f->screens[f->resume].name, NULL, "a resume screen, and no screen is "
			"resumable");
	if (f->resume < 0 && nres)
		problem(c, NULL, NULL, "screens are resumable, and the flow names no resume screen");
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
	c.nlangs = tpl_languages(t, NULL, 0);
	c.langs = talloc_array(NULL, const char *, c.nlangs ? c.nlangs : 1);
	if (!reach || !ends || !sms || !c.ussd_screen || !c.langs) {
		problem(&c, NULL, NULL, "out of memory");
		goto out;
	}
	tpl_languages(t, c.langs, c.nlangs);
	/* Reachable over USSD: from the start and the dial shortcuts. */
	mark(f, f->start, c.ussd_screen, false);
	for (i = 0; i < f->ndial; i++) {
		mark(f, f->dial[i].next, c.ussd_screen, false);
		for (j = 0; j < f->dial[i].nargs; j++)
			mark(f, f->dial[i].invalid[j], c.ussd_screen, false);
	}
	/* A plain dial from a number with a journey in progress. */
	mark(f, f->resume, c.ussd_screen, false);
	memcpy(reach, c.ussd_screen, f->nscreens);
	/* Over SMS: the commands run actions until an end; a waiting screen is a fault. */
	for (i = 0; i < f->ncommands; i++) {
		mark(f, f->commands[i].next, sms, true);
		mark(f, f->commands[i].missing, sms, true);
		mark(f, f->commands[i].rest_invalid, sms, true);
		for (j = 0; j < f->commands[i].nargs; j++)
			mark(f, f->commands[i].invalid[j], sms, true);
	}
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
	for (i = 0; i < f->nscreens; i++) {
		if (f->screens[i].text)
			need_key(&c, f->screens[i].name, f->screens[i].text);
		if (f->screens[i].invalid_text)
			need_key(&c, f->screens[i].name, f->screens[i].invalid_text);
	}
	for (i = 0; i < f->ncommands; i++)
		if (f->commands[i].keywords)
			check_keywords(&c, &f->commands[i]);
	tpl_check(t, NULL, is_ussd_screen, &c, tpl_problem, &c);	/* counted in tpl_problem */
	/* The SMS help is the reply to anything the short code does not understand: one part,
	 * so that it costs the operator one SMS and arrives whole on any phone. */
	if (f->sms_help >= 0 && f->screens[f->sms_help].text)
		tpl_check_sms_part(t, f->screens[f->sms_help].text, tpl_problem, &c);
	check_nav(&c);
	check_screens_with_lines(&c);
	check_resume(&c);
out:
	talloc_free(reach);
	talloc_free(ends);
	talloc_free(sms);
	talloc_free(c.ussd_screen);
	talloc_free(c.langs);
	return c.problems;
}
