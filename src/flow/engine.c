/* The journey engine (engine.h): one `struct run` per request walks the flow from the
 * session's screen, consuming inputs, running actions (actions.c) and rendering the screen
 * it stops at. Sessions are a few "key=value" lines in Redis (s:{...}), never holding a
 * national ID or a PIN. */
#include "flow/engine_int.h"

#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <talloc.h>

#include "core/errbuf.h"
#include "core/logging.h"
#include "domain/gsm.h"
#include "domain/imei.h"
#include "domain/msisdn.h"
#include "store/store.h"

/* A flow that loops through actions without waiting for input is a bug: stop it. */
#define RUN_STEPS_MAX 64
#define LANG_TTL_S (400u * 86400u)
#define SESSION_END_TTL_S 60u

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

static void sweep_done(struct run *r, const char *outcome)
{
	LOGP(LOGC_FLOW, LOGL_DEBUG, "%s: %s", r->tag, outcome);
	talloc_free(r);
}

static struct run *run_new(struct engine *e, enum engine_channel ch, const char *msisdn,
			   engine_reply_cb cb, void *arg);

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

		if (n == 15 && (r = run_new(e, EC_SMS, "", NULL, NULL)) != NULL) {
			memcpy(imei, p, 15);
			imei[15] = '\0';
			snprintf(r->tag, sizeof(r->tag), "sweep #%llu", (unsigned long long)e->seq);
			snprintf(r->rtag, sizeof(r->rtag), "sweep #%llu", (unsigned long long)e->seq);
			r->done = sweep_done;
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

/* ---- sessions ------------------------------------------------------------------------- */

/* The session lines: one "k=v" per variable that is set. Values never hold '\n' (inputs are
 * validated before they are kept). */
static void put(char **p, char *end, const char *k, const char *v)
{
	int n;

	if (v == NULL || *v == '\0' || *p >= end)
		return;
	n = snprintf(*p, (size_t)(end - *p), "%s=%s\n", k, v);
	*p += n > 0 ? n : 0;
	if (*p > end)
		*p = end;
}

static bool copy_val(char *dst, size_t dstsz, const char *v, size_t len)
{
	if (len >= dstsz)
		return false;
	memcpy(dst, v, len);
	dst[len] = '\0';
	return true;
}

/* SESS_FIELDS as data: each field's key, kind and place. */
enum sess_kind { SK_VAR, SK_STR, SK_UINT, SK_CHAR, SK_LIST, SK_TEXT };
struct sess_field {
	const char *key;	/* NULL: the flow variable's name */
	enum flow_var var;
	enum sess_kind kind;
	size_t off, size;	/* LIST: size is the count */
	size_t count_off;	/* LIST: where its count is */
};
#define SESS_SIZE_(field) sizeof(((struct sess *)0)->field)
#define SESS_DESC_VAR(field, key) { NULL, FV_##key, SK_VAR, offsetof(struct sess, field), \
				    SESS_SIZE_(field), 0 },
#define SESS_DESC_STR(field, key) { key, FV_NONE, SK_STR, offsetof(struct sess, field), \
				    SESS_SIZE_(field), 0 },
#define SESS_DESC_UINT(field, key) { key, FV_NONE, SK_UINT, offsetof(struct sess, field), 0, 0 },
#define SESS_DESC_CHAR(field, key) { key, FV_NONE, SK_CHAR, offsetof(struct sess, field), 1, 0 },
#define SESS_DESC_LIST(field, key) { key, FV_NONE, SK_LIST, offsetof(struct sess, field), \
				     SESS_SIZE_(field) / sizeof(uint64_t), \
				     offsetof(struct sess, n##field) },
#define SESS_DESC_TEXT(field, key) { key, FV_NONE, SK_TEXT, offsetof(struct sess, field), \
				     SESS_SIZE_(field), 0 },
#define SESS_DESC_(kind, field, key, size) SESS_DESC_##kind(field, key)
static const struct sess_field sess_fields[] = { SESS_FIELDS(SESS_DESC_) };

/* Every SAVED flow variable has its row in SESS_FIELDS. */
#define SAVED_ONE_SAVED + 1
#define SAVED_ONE_RUN
#define SAVED_ONE_(v, name, keep) SAVED_ONE_##keep
#define VAR_ROW_VAR + 1
#define VAR_ROW_STR
#define VAR_ROW_UINT
#define VAR_ROW_CHAR
#define VAR_ROW_LIST
#define VAR_ROW_TEXT
#define VAR_ROW_(kind, field, key, size) VAR_ROW_##kind
_Static_assert(0 FLOW_VARS(SAVED_ONE_) == 0 SESS_FIELDS(VAR_ROW_),
	       "every SAVED variable of FLOW_VARS is a VAR row of SESS_FIELDS");

/* The letters a CHAR field may hold. */
static const char sess_link_states[] = "ynro";

static const char *sess_key(const struct sess_field *f)
{
	return f->key ? f->key : flow_var_name(f->var);
}

size_t sess_encode(const struct sess *s, char *out, size_t outsz)
{
	const char *base = (const char *)s;
	char *p = out, *end = out + outsz, num[24], list[8 * 16];
	size_t i, k, l;

	put(&p, end, "v", "1");
	for (i = 0; i < sizeof(sess_fields) / sizeof(sess_fields[0]); i++) {
		const struct sess_field *f = &sess_fields[i];
		const char *key = sess_key(f), *field = base + f->off;

		switch (f->kind) {
		case SK_VAR:
		case SK_STR:
			put(&p, end, key, field);
			break;
		case SK_UINT: {
			unsigned u;

			memcpy(&u, field, sizeof(u));
			if (u) {
				snprintf(num, sizeof(num), "%u", u);
				put(&p, end, key, num);
			}
			break;
		}
		case SK_CHAR:
			num[0] = *field;
			num[1] = '\0';
			put(&p, end, key, num);
			break;
		case SK_LIST: {
			unsigned count;

			memcpy(&count, base + f->count_off, sizeof(count));
			for (k = l = 0; k < count && k < f->size; k++) {
				uint64_t v;

				memcpy(&v, field + k * sizeof(v), sizeof(v));
				l += (size_t)snprintf(list + l, sizeof(list) - l, "%s%llu", k ? "," : "",
						      (unsigned long long)v);
			}
			put(&p, end, key, l ? list : NULL);
			break;
		}
		case SK_TEXT:
			if (*field && end - p > 4) {
				/* "t=" and the text with '\\' and newlines escaped, on one line. */
				char *q = p;
				size_t kl = strlen(key);

				if ((size_t)(end - q) <= kl + 3)
					break;
				memcpy(q, key, kl);
				q += kl;
				*q++ = '=';
				for (const char *c = field; *c && end - q > 3; c++) {
					if (*c == '\n' || *c == '\\') {
						*q++ = '\\';
						*q++ = *c == '\n' ? 'n' : '\\';
					} else {
						*q++ = *c;
					}
				}
				*q++ = '\n';
				p = q;
			}
			break;
		}
	}
	return (size_t)(p - out);
}

/* One "key=value" of the record into its field; false when the value does not fit. */
static bool sess_decode_field(const struct sess_field *f, struct sess *s, const char *v,
			      size_t vl)
{
	char *base = (char *)s, *field = base + f->off;

	switch (f->kind) {
	case SK_VAR:
	case SK_STR:
		return copy_val(field, f->size, v, vl);
	case SK_UINT: {
		char num[8];
		unsigned u;

		if (!copy_val(num, sizeof(num), v, vl))
			return false;
		u = (unsigned)strtoul(num, NULL, 10);
		memcpy(field, &u, sizeof(u));
		return true;
	}
	case SK_CHAR:
		if (vl != 1 || v[0] == '\0' || strchr(sess_link_states, v[0]) == NULL) {
			*field = '\0';
			return false;
		}
		*field = v[0];
		return true;
	case SK_LIST: {
		char list[8 * 16], *q, *save = NULL;
		unsigned count = 0;

		if (!copy_val(list, sizeof(list), v, vl))
			return false;
		for (q = strtok_r(list, ",", &save); q && count < f->size;
		     q = strtok_r(NULL, ",", &save)) {
			uint64_t x = strtoull(q, NULL, 10);

			memcpy(field + count * sizeof(x), &x, sizeof(x));
			count++;
		}
		memcpy(base + f->count_off, &count, sizeof(count));
		return true;
	}
	case SK_TEXT: {
		size_t k = 0;
		bool ok = true;

		for (size_t i = 0; i < vl && ok; i++) {
			char c = v[i];

			if (c == '\\' && i + 1 < vl) {
				c = v[i + 1] == 'n' ? '\n' : v[i + 1];
				i++;
			}
			ok = k + 1 < f->size;
			if (ok)
				field[k++] = c;
		}
		field[k] = '\0';
		return ok;
	}
	}
	return false;
}

int sess_decode(const char *in, size_t len, struct sess *s)
{
	const char *p = in, *end = in + len;

	memset(s, 0, sizeof(*s));
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *eq;
		size_t kl, vl, i;
		bool ok = true;

		if (nl == NULL)
			return -EINVAL;
		eq = memchr(p, '=', (size_t)(nl - p));
		if (eq == NULL)
			return -EINVAL;
		kl = (size_t)(eq - p);
		vl = (size_t)(nl - eq - 1);
		if (kl == 1 && p[0] == 'v') {
			ok = vl == 1 && eq[1] == '1';
		} else {
			/* Unknown keys are skipped: a newer ceirgw's record still reads. */
			for (i = 0; i < sizeof(sess_fields) / sizeof(sess_fields[0]); i++) {
				const char *key = sess_key(&sess_fields[i]);

				if (strlen(key) == kl && memcmp(p, key, kl) == 0) {
					ok = sess_decode_field(&sess_fields[i], s, eq + 1, vl);
					break;
				}
			}
		}
		if (!ok)
			return -EINVAL;
		p = nl + 1;
	}
	return s->screen[0] ? 0 : -EINVAL;
}

/* ---- inputs --------------------------------------------------------------------------- */

static bool printable(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

/* Reference: 10 digits, the last the Luhn digit of the first 9 (catches one wrong digit and
 * most swaps of two). */
static int luhn_digit(const char *d, size_t n)
{
	int sum = 0;

	for (size_t i = 0; i < n; i++) {
		int v = d[n - 1 - i] - '0';

		if (i % 2 == 0) {
			v *= 2;
			if (v > 9)
				v -= 9;
		}
		sum += v;
	}
	return (10 - sum % 10) % 10;
}

bool ref_valid(const char *s, size_t len)
{
	if (len != REF_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return luhn_digit(s, REF_LEN - 1) == s[REF_LEN - 1] - '0';
}

void ref_finish(char ref[REF_LEN + 1])
{
	ref[REF_LEN - 1] = (char)('0' + luhn_digit(ref, REF_LEN - 1));
	ref[REF_LEN] = '\0';
}

/* Copies digits-and-separators input as digits only (for refs and PINs typed with spaces). */
static size_t digits_only(const char *in, size_t len, char *out, size_t outsz)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		if (in[i] >= '0' && in[i] <= '9') {
			if (n + 1 >= outsz)
				return outsz;	/* too long */
			out[n++] = in[i];
		} else if (in[i] != ' ' && in[i] != '-') {
			return outsz;
		}
	}
	out[n] = '\0';
	return n;
}

/* Validates one input into its variable. Returns true when valid. An IMEI is kept even when
 * invalid (as digits and separators, bounded), so that the check can say why. */
bool run_take_input(struct run *r, enum flow_var v, const char *in, size_t len)
{
	struct sess *s = &r->s;

	switch (v) {
	case FV_IMEI: {
		struct imei im;

		imei_parse(in, len, &im);
		if (im.has_digits)
			snprintf(s->imei, sizeof(s->imei), "%s", im.imei);
		else if (printable(in, len))
			copy_val(s->imei, sizeof(s->imei), in, len < sizeof(s->imei) ? len :
				 sizeof(s->imei) - 1);
		else
			s->imei[0] = '\0';
		r->imei_raw_len = len;
		return im.valid;
	}
	case FV_OWNER: {
		struct msisdn m;

		if (len > MSISDN_INPUT_MAX)
			return false;
		msisdn_parse(in, len, r->e->cfg->default_region, &m);
		if (!m.valid)
			return false;
		snprintf(s->owner, sizeof(s->owner), "%s", m.e164);
		return true;
	}
	case FV_ID:
		if (len == 0 || len >= sizeof(r->id) || !printable(in, len))
			return false;
		memcpy(r->id, in, len);
		r->id[len] = '\0';
		return true;
	case FV_POLICE: {
		size_t i;

		if (len == 0 || len >= sizeof(s->police))
			return false;
		if (len == 1 && in[0] == '0') {
			s->police[0] = '\0';
			r->police_set = true;
			return true;
		}
		for (i = 0; i < len; i++)
			if (!((in[i] >= '0' && in[i] <= '9') || (in[i] >= 'A' && in[i] <= 'Z') ||
			      (in[i] >= 'a' && in[i] <= 'z') || strchr("/-. #", in[i])))
				return false;
		memcpy(s->police, in, len);
		s->police[len] = '\0';
		r->police_set = true;
		return true;
	}
	case FV_REF: {
		char d[REF_LEN + 2];

		if (digits_only(in, len, d, sizeof(d)) != REF_LEN || !ref_valid(d, REF_LEN))
			return false;
		memcpy(s->ref, d, REF_LEN + 1);
		return true;
	}
	case FV_PIN: {
		char d[PIN_LEN + 2];

		if (digits_only(in, len, d, sizeof(d)) != PIN_LEN)
			return false;
		memcpy(r->pin, d, PIN_LEN + 1);
		return true;
	}
	case FV_PICK: {
		if (len == 0 || len > 2 || in[0] < '1' || in[0] > '9' ||
		    (len == 2 && (in[1] < '0' || in[1] > '9')))
			return false;
		r->pick = (unsigned)strtoul(in, NULL, 10);
		return true;
	}
	case FV_REASON:
		if (len == 6 && memcmp(in, "stolen", 6) == 0)
			snprintf(s->reason, sizeof(s->reason), "stolen");
		else if (len == 4 && memcmp(in, "lost", 4) == 0)
			snprintf(s->reason, sizeof(s->reason), "lost");
		else
			return false;
		return true;
	case FV_NONE:
	case FV_COUNT:
		break;
	}
	return false;
}

static void apply_sets(struct run *r, const struct flow_set *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		run_take_input(r, set[i].var, set[i].value, strlen(set[i].value));
}

/* ---- rendering ------------------------------------------------------------------------ */

/* Copies at most max code points of s (UTF-8) into out. */
static void utf8_trim(char *out, size_t outsz, const char *s, size_t max)
{
	size_t i = 0, cps = 0;

	while (s[i] && cps < max && i + 4 < outsz) {
		size_t k = 1;

		while ((s[i + k] & 0xc0) == 0x80 && k < 4)
			k++;
		memcpy(out + i, s + i, k);
		i += k;
		cps++;
	}
	out[i] = '\0';
}

const char *run_ref_log(struct run *r)
{
	size_t n = strlen(r->s.ref);

	memset(r->ref_log, '*', REF_LEN);
	r->ref_log[REF_LEN] = '\0';
	if (n >= 4)
		memcpy(r->ref_log + REF_LEN - 4, r->s.ref + n - 4, 4);
	return r->ref_log;
}

/* The value of placeholder p for the run; tail and reason are run_render_key's. */
static const char *placeholder_value(struct run *r, enum flow_placeholder p, const char *tail,
				     const char *reason)
{
	switch (p) {
	case FP_MAKER:
		return r->maker;
	case FP_MODEL:
		return r->model;
	case FP_IMEI:
		return r->s.imei;
	case FP_IMEI_TAIL:
		return tail;
	case FP_DATE:
		return r->date;
	case FP_REF:
		return r->s.ref;
	case FP_PIN:
		return r->pin_out;
	case FP_TRIES:
		return r->tries;
	case FP_MINUTES:
		return r->minutes;
	case FP_HANDSETS:
		return r->list;
	case FP_LANGUAGES:
		return r->j->langs;
	case FP_REASON:
		return reason;
	case FP_POLICE:
		return r->s.police;
	case FP_WHY:
		return r->why;
	case FP_WHAT:
		return r->what;
	case FP_CODE:
		return r->e->cfg->sms_code;
	case FP_COUNT:
		break;
	}
	return "";
}

/* Renders a text of the run's language; "" when it has none (logged). */
int run_render_key(struct run *r, const char *key, char *out, size_t outsz)
{
	const struct tpl_placeholder *reg;
	struct tpl_var v[FP_COUNT];
	size_t n, i;
	char tail[5] = "", reason[48] = "";
	int rc;

	if (strlen(r->s.imei) >= 4)
		memcpy(tail, r->s.imei + strlen(r->s.imei) - 4, 5);
	if (r->s.reason[0]) {
		char k[32];

		snprintf(k, sizeof(k), "reason.%s", r->s.reason);
		if (tpl_render(r->j->tpl, r->s.lang, k, NULL, 0, reason, sizeof(reason), NULL) < 0)
			reason[0] = '\0';
	}
	reg = flow_placeholders(&n);
	for (i = 0; i < n; i++) {
		v[i].name = reg[i].name;
		v[i].val = placeholder_value(r, (enum flow_placeholder)i, tail, reason);
		v[i].len = strlen(v[i].val);
	}
	rc = tpl_render(r->j->tpl, r->s.lang, key, v, n, out, outsz, NULL);
	if (rc < 0) {
		LOGP(LOGC_FLOW, LOGL_ERROR, "%s: text %s (%s) does not render: %s", r->tag, key,
		     r->s.lang, strerror(-rc));
		out[0] = '\0';
		return 0;
	}
	return rc;
}

/* Sets the maker and model from the TAC of the session's IMEI (trimmed as flow.c's
 * placeholder registry promises). */
void run_set_model(struct run *r)
{
	struct tac_entry te;
	char tac[9];

	r->maker[0] = r->model[0] = '\0';
	if (strlen(r->s.imei) != 15 || r->e->tac == NULL)
		return;
	memcpy(tac, r->s.imei, 8);
	tac[8] = '\0';
	if (tac_lookup(r->e->tac, tac, &te) == 0) {
		utf8_trim(r->maker, sizeof(r->maker), te.maker, 20);
		utf8_trim(r->model, sizeof(r->model), te.model ? te.model : "", 30);
	}
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

/* ---- running ---------------------------------------------------------------------------- */

static void step(struct run *r);

static void run_free(struct run *r)
{
	talloc_free(r);
}

static void reply(struct run *r, const char *text, size_t len, bool end)
{
	struct engine_reply rep = { text, len, end, r->temporary, r->s.lang };

	if (r->temporary)
		r->e->stats.outcomes_unavailable++;
	r->cb(r->arg, &rep);
	run_free(r);
}

static void noop_done(void *arg, int err)
{
	(void)arg;
	(void)err;
}

static void on_saved(void *arg, int err)
{
	struct run *r = arg;

	if (err < 0) {
		/* The screen was rendered but the next step could not find its session: end it
		 * now rather than show a menu that will not work. */
		LOGP(LOGC_FLOW, LOGL_NOTICE, "%s: session not saved (%s)", r->tag, strerror(-err));
		r->temporary = true;
		r->len = (size_t)run_render_key(r, "common.unavailable", r->out, sizeof(r->out));
		reply(r, r->out, r->len, true);
		return;
	}
	reply(r, r->out, r->len, false);
}

/* Shows the current screen: a waiting one is saved with the session first. */
static void show(struct run *r, const struct flow_screen *sc, bool end)
{
	struct store_rec_id ussd_rec;
	char enc[2048];
	size_t elen;
	int rc;

	r->len = (size_t)run_render_key(r, sc->text, r->out, sizeof(r->out));
	if (r->ch == EC_USSD) {
		/* A list (the owner's phones) shows as many lines as the screen holds. */
		struct sms_measure m;
		char *nl;

		while (r->list[0] && sms_measure(r->out, r->len, &m) == 0 && !sms_fits_ussd(&m)) {
			nl = strrchr(r->list, '\n');
			if (nl == NULL)
				break;
			*nl = '\0';
			r->len = (size_t)run_render_key(r, sc->text, r->out, sizeof(r->out));
		}
		r->len = fit_ussd(r->out, r->len);
	}
	if (r->ch != EC_USSD) {
		reply(r, r->out, r->len, true);
		return;
	}
	snprintf(r->s.screen, sizeof(r->s.screen), "%s", sc->name);
	/* Transient values are not in the session: a repeat of this step gets the text itself,
	 * for an end screen always (its text is the journey's result). */
	r->s.shown[0] = '\0';
	if ((end || r->tries[0] || r->minutes[0] || r->what[0] || r->why[0] || r->date[0] ||
	     r->pin_out[0]) && r->len < sizeof(r->s.shown))
		memcpy(r->s.shown, r->out, r->len + 1);
	elen = sess_encode(&r->s, enc, sizeof(enc));
	ussd_rec = (struct store_rec_id){ STORE_REC_USSD, r->sid, r->sidlen, r->msisdn };
	if (end) {
		/* Kept a minute at its last screen: an aggregator that retries the last step
		 * (no answer reached it) gets the same answer, not a new journey. */
		store_session_set(r->e->st, &ussd_rec, enc, elen, SESSION_END_TTL_S,
				  noop_done, NULL);
		reply(r, r->out, r->len, true);
		return;
	}
	rc = store_session_set(r->e->st, &ussd_rec, enc, elen,
			       (unsigned)r->e->cfg->session_ttl, on_saved, r);
	if (rc < 0)
		on_saved(r, rc);
}

/* Called by the actions with the index of their outcome. */
void run_outcome(struct run *r, int outcome)
{
	const struct flow_screen *sc = &r->j->flow->screens[r->screen];
	const char *name = flow_action_info(sc->action)->outcomes[outcome];

	if (strcmp(name, "unavailable") == 0)
		r->temporary = true;
	LOGP(LOGC_FLOW, LOGL_DEBUG, "%s: %s -> %s", r->tag, sc->name, name);
	r->screen = sc->on[outcome];
	step(r);
}

/* The outcome index by name (a report's state as a status outcome; "unavailable"). */
int run_outcome_index(enum flow_action a, const char *name)
{
	const char *const *o = flow_action_info(a)->outcomes;

	for (int i = 0; o[i]; i++)
		if (strcmp(o[i], name) == 0)
			return i;
	return -1;
}

/* Goes on with the outcome named outcome of action a, which must be the running action's
 * (any action for FA_COUNT): an API run or the sweep takes its name, a flow its screen. */
static void finish(struct run *r, enum flow_action a, const char *outcome)
{
	const struct flow_screen *sc;
	int i = -1;

	if (r->api_cb) {
		api_finish(r, outcome);
		return;
	}
	if (r->done) {
		r->done(r, outcome);
		return;
	}
	sc = &r->j->flow->screens[r->screen];
	if (a == sc->action || a == FA_COUNT)
		i = run_outcome_index(sc->action, outcome);

	if (i < 0) {
		LOGP(LOGC_FLOW, LOGL_ERROR, "%s: action %s has no outcome %s", r->tag,
		     flow_action_info(sc->action)->name, outcome);
		i = run_outcome_index(sc->action, "unavailable");
		if (i < 0)
			i = 0;
	}
	run_outcome(r, i);
}

void run_finish(struct run *r, enum flow_outcome o)
{
	enum flow_action a = flow_outcome_action(o);

	finish(r, a, flow_action_info(a)->outcomes[flow_outcome_index(o)]);
}

void run_finish_unavailable(struct run *r)
{
	finish(r, FA_COUNT, "unavailable");
}

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

			if (r->next_input >= r->ninputs) {
				show(r, sc, false);
				return;
			}
			in = r->inputs[r->next_input];
			len = strlen(in);
			r->next_input++;
			r->s.consumed++;
			for (i = 0; i < sc->nchoices; i++)
				if (len == 1 && in[0] == sc->choices[i].key)
					break;
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
	reply(r, r->out, r->len, true);
}

/* ---- entry points ---------------------------------------------------------------------- */

static struct run *run_new(struct engine *e, enum engine_channel ch, const char *msisdn,
			   engine_reply_cb cb, void *arg)
{
	struct run *r;
	char masked[32];

	if (e->j == NULL)
		return NULL;
	r = talloc_zero(e, struct run);
	if (r == NULL)
		return NULL;
	r->e = e;
	r->j = e->j;
	/* The flow and texts the run started with stay until it ends, whatever a reload does. */
	if (talloc_reference(r, r->j) == NULL) {
		talloc_free(r);
		return NULL;
	}
	r->ch = ch;
	r->cb = cb;
	r->arg = arg;
	r->screen = -1;
	snprintf(r->msisdn, sizeof(r->msisdn), "%s", msisdn);
	msisdn_mask(msisdn, strlen(msisdn), masked, sizeof(masked));
	snprintf(r->tag, sizeof(r->tag), "%s %s #%llu",
		 ch == EC_USSD ? "ussd" : ch == EC_SMS ? "sms" : "api", masked,
		 (unsigned long long)++e->seq);
	snprintf(r->rtag, sizeof(r->rtag), "%s #%llu",
		 ch == EC_USSD ? "ussd" : ch == EC_SMS ? "sms" : "api", (unsigned long long)e->seq);
	snprintf(r->s.lang, sizeof(r->s.lang), "%s", e->cfg->default_language);
	e->stats.requests[ch]++;
	return r;
}

/* Splits text into inputs at sep (a copy, owned by r). At most ENGINE_USSD_INPUTS_MAX inputs:
 * -E2BIG beyond. */
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
			if (r->ninputs == ENGINE_USSD_INPUTS_MAX)
				return -E2BIG;
			copy[i] = '\0';
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
	reply(r, r->out, r->len, true);
}

/* Enters the flow: a dial with arguments or an SMS matched against the rules. */
static void enter(struct run *r)
{
	const struct flow *f = r->j->flow;

	if (r->ch == EC_USSD) {
		for (size_t i = 0; i < f->ndial && r->ninputs; i++) {
			const struct flow_rule *rule = &f->dial[i];
			size_t k;

			if (rule->nargs != r->ninputs)
				continue;
			for (k = 0; k < rule->nargs; k++) {
				const char *in = r->inputs[k];
				struct imei im;

				/* *384*5# is the menu's 5: a shortcut's IMEI must have an IMEI's
				 * digits (the check then says whether they are valid). */
				if (rule->args[k] == FV_IMEI) {
					imei_parse(in, strlen(in), &im);
					if (!im.has_digits)
						break;
				}
				if (!run_take_input(r, rule->args[k], in, strlen(in)) &&
				    rule->args[k] != FV_IMEI)
					break;
			}
			if (k < rule->nargs)
				continue;
			apply_sets(r, rule->set, rule->nset);
			r->next_input = r->ninputs;
			r->s.consumed = (unsigned)r->ninputs;
			r->screen = rule->next;
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

static void on_lang(void *arg, int err, const void *data, size_t len, bool found)
{
	struct run *r = arg;

	if (err == 0 && found && len > 0 && len < sizeof(r->s.lang) &&
	    tpl_language_name(r->j->tpl, talloc_strndup(r, data, len)) != NULL) {
		memcpy(r->s.lang, data, len);
		r->s.lang[len] = '\0';
	}
	/* Without Redis the default language does; the journey then says it is unavailable. */
	enter(r);
}


static void enter_deferred(struct run *r, int err)
{
	(void)err;
	enter(r);
}

static void fetch_lang(struct run *r)
{
	struct store_rec_id rid = { STORE_REC_LANG, r->msisdn, strlen(r->msisdn), NULL };
	int rc = store_session_get(r->e->st, &rid, on_lang, r);

	if (rc < 0) {
		/* Without Redis the journey's first action will say "unavailable". */
		r->deferred_err = rc;
		actions_defer(r, enter_deferred);
	}
}

void run_goto(struct run *r, int screen)
{
	r->screen = screen;
	step(r);
}

void run_remember_lang(struct run *r)
{
	struct store_rec_id rid = { STORE_REC_LANG, r->msisdn, strlen(r->msisdn), NULL };

	store_session_set(r->e->st, &rid, r->s.lang, strlen(r->s.lang), LANG_TTL_S, noop_done,
			  NULL);
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
	run_set_model(r);
	if (r->s.nhandsets)
		run_build_handsets(r);
	if (r->cumulative)	/* the aggregator repeats every input so far */
		r->next_input = r->ninputs > r->s.consumed ? r->s.consumed : r->ninputs;
	if ((r->next_input >= r->ninputs || r->j->flow->screens[r->screen].kind == FS_END) &&
	    r->s.shown[0]) {
		/* The screen again, as it was: its values (minutes, tries, ...) are not in the
		 * session. */
		size_t n = strlen(r->s.shown);

		memcpy(r->out, r->s.shown, n + 1);
		reply(r, r->out, n, r->j->flow->screens[r->screen].kind == FS_END);
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

int engine_ussd(struct engine *e, const char *msisdn, const char *sid, size_t sidlen,
		const char *text, size_t len, enum engine_ussd_mode mode, engine_reply_cb cb,
		void *arg)
{
	bool cumulative = mode == ENGINE_USSD_CUMULATIVE;
	struct run *r;
	int rc;

	if (sidlen == 0 || sidlen > 64 || !printable(sid, sidlen) || len > ENGINE_USSD_TEXT_MAX)
		return -EINVAL;
	r = run_new(e, EC_USSD, msisdn, cb, arg);
	if (r == NULL)
		return -ENOMEM;
	r->cumulative = cumulative;
	r->fresh_if_new = mode == ENGINE_USSD_ANSWER;
	r->cumulative_len = len;
	r->fresh_session = mode == ENGINE_USSD_DIAL;
	/* A dial's arguments are separated by '*' too (*384*1*ARG#). */
	if (mode != ENGINE_USSD_ANSWER)
		rc = split_inputs(r, text, len, '*');
	else
		rc = split_inputs(r, text, len, '\0');
	if (rc < 0) {
		talloc_free(r);
		return rc;
	}
	memcpy(r->sid, sid, sidlen);
	r->sidlen = sidlen;
	if (cumulative && len == 0) {
		/* The aggregator's first step: a new session. Were it a retry of that step, the
		 * answer would be the same menu, so no session is looked up. */
		fetch_lang(r);
		return 0;
	}
	rc = store_session_get(e->st, &(struct store_rec_id){ STORE_REC_USSD, r->sid, r->sidlen,
							      r->msisdn }, on_session, r);
	if (rc < 0) {
		/* Answered later, as promised: from the loop, not from inside this call. */
		r->deferred_err = rc;
		actions_defer(r, start_fail);
	}
	return 0;
}

void engine_ussd_abort(struct engine *e, const char *msisdn, const char *sid, size_t sidlen)
{
	if (sidlen == 0 || sidlen > 64)
		return;
	store_session_del(e->st, &(struct store_rec_id){ STORE_REC_USSD, sid, sidlen, msisdn },
			  noop_done, NULL);
}

int engine_sms(struct engine *e, const char *msisdn, const char *text, size_t len,
	       engine_reply_cb cb, void *arg)
{
	struct run *r;

	if (len > 1600)
		len = 1600;	/* ten concatenated parts: more is not a command */
	r = run_new(e, EC_SMS, msisdn, cb, arg);
	if (r == NULL)
		return -ENOMEM;
	r->sms_text = talloc_strndup(r, text, len);
	if (r->sms_text == NULL) {
		talloc_free(r);
		return -ENOMEM;
	}
	r->sms_len = len;
	fetch_lang(r);
	return 0;
}
