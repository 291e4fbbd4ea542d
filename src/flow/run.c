/* A run: one request's walk through the engine, from its arrival to its answer (engine_int.h).
 * Here is what every kind of run shares and what the actions build on: the one constructor
 * (run_new, with the kind's ops record), the end of an action (run_finish, which hands the
 * outcome to the kind's ops), deferral to the event loop, the session record, the inputs'
 * validation and the rendering of texts. It calls no action, no journey step and no entry
 * point: those are above it (actions.c, journey.c, engine.c, entry.c). */
#include "flow/engine_int.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/crypto.h>
#include <talloc.h>

#include "core/logging.h"
#include "core/metrics.h"
#include "domain/imei.h"
#include "domain/kyc.h"
#include "domain/msisdn.h"
#include "store/store.h"

#define LANG_TTL_S (400u * 86400u)

/* ---- a run: made, finished, answered ---------------------------------------------------- */

struct run *run_new(struct engine *e, const struct run_ops *ops, enum engine_channel ch,
		    const char *msisdn)
{
	struct run *r;
	char masked[32];

	if (e->j == NULL)
		return NULL;
	r = talloc_zero(e, struct run);
	if (r == NULL)
		return NULL;
	r->e = e;
	r->ops = ops;
	r->j = e->j;
	/* The flow and texts the run started with stay until it ends, whatever a reload does. */
	if (talloc_reference(r, r->j) == NULL) {
		talloc_free(r);
		return NULL;
	}
	r->ch = ch;
	r->screen = -1;
	r->answered = -1;
	r->back_from = -1;
	r->action = FA_COUNT;
	snprintf(r->msisdn, sizeof(r->msisdn), "%s", msisdn);
	e->seq++;
	if (msisdn[0]) {
		msisdn_mask(msisdn, strlen(msisdn), masked, sizeof(masked));
		snprintf(r->tag, sizeof(r->tag), "%s %s #%llu", ops->name, masked,
			 (unsigned long long)e->seq);
	} else {
		snprintf(r->tag, sizeof(r->tag), "%s #%llu", ops->name, (unsigned long long)e->seq);
	}
	snprintf(r->rtag, sizeof(r->rtag), "%s #%llu", ops->name, (unsigned long long)e->seq);
	snprintf(r->s.lang, sizeof(r->s.lang), "%s", e->cfg->default_language);
	return r;
}

void run_reply(struct run *r, const char *text, size_t len, bool end)
{
	struct engine_reply rep = { text, len, end, r->temporary, r->s.lang };

	if (r->temporary)
		r->e->stats.outcomes_unavailable++;
	if (r->cb && (r->ch == EC_USSD || r->ch == EC_SMS))
		METRIC_INC2(journey_replies, r->ch == EC_USSD ? MJ_USSD : MJ_SMS,
			    r->temporary ? MA_UNAVAILABLE : MA_OK);
	if (r->cb)
		r->cb(r->arg, &rep);
	talloc_free(r);
}

void run_noop_done(void *arg, int err)
{
	(void)arg;
	(void)err;
}

/* Counts an action's end, and the lock-outs and the line's limit among its refusals (the
 * rate limits are counted where they are checked: actions.c's on_rate). */
static void count_outcome(enum flow_outcome o)
{
	METRIC_INC2(actions_completed, flow_outcome_action(o), flow_outcome_index(o));
	switch (o) {
	case KYC_LOCKED:
	case OTP_CHECK_LOCKED:
	case OTP_SEND_LOCKED:
	case UNBLOCK_LOCKED:
		METRIC_INC1(refusals, ML_LOCKOUT);
		break;
	case OTP_SEND_LINE_LIMITED:
		METRIC_INC1(refusals, ML_OTP_LINE);
		break;
	default:
		break;
	}
}

void run_finish(struct run *r, enum flow_outcome o)
{
	if (flow_outcome_action(o) != r->action) {
		LOGP(LOGC_FLOW, LOGL_ERROR, "%s: action %s ended with an outcome of %s", r->tag,
		     r->action < FA_COUNT ? flow_action_info(r->action)->name : "(none)",
		     flow_action_info(flow_outcome_action(o))->name);
		run_finish_unavailable(r);
		return;
	}
	count_outcome(o);
	r->ops->outcome(r, o);
}

void run_finish_unavailable(struct run *r)
{
	int i = r->action < FA_COUNT ? run_outcome_index(r->action, "unavailable") : -1;
	enum flow_outcome o;

	r->temporary = true;
	/* An action with no "unavailable" (none that uses the store) takes its first outcome. */
	o = (enum flow_outcome)FLOW_OUTCOME(r->action < FA_COUNT ? r->action : 0, i < 0 ? 0 : i);
	count_outcome(o);
	r->ops->outcome(r, o);
}

const char *run_outcome_name(enum flow_outcome o)
{
	return flow_action_info(flow_outcome_action(o))->outcomes[flow_outcome_index(o)];
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

/* ---- deferral --------------------------------------------------------------------------- */

static void deferred_cb(evutil_socket_t fd, short what, void *arg)
{
	struct run *r = arg;

	(void)fd;
	(void)what;
	r->deferred(r, r->deferred_err);
}

void run_defer(struct run *r, void (*fn)(struct run *r, int err))
{
	static const struct timeval now = { 0, 0 };

	r->deferred = fn;
	if (event_base_once(r->e->base, -1, EV_TIMEOUT, deferred_cb, r, &now) < 0)
		fn(r, r->deferred_err);	/* cannot happen short of memory */
}

/* ---- sessions ------------------------------------------------------------------------- */

/* The session lines: one "k=v" per variable that is set. Values never hold '\n' (inputs are
 * validated before they are kept). A line that does not fit is left out, with every one
 * after it (the record then lacks them rather than ending in half a line). Copied, not
 * formatted: a journey encodes its session at every step. */
static void put(char **p, char *end, const char *k, const char *v)
{
	size_t kl, vl;

	if (v == NULL || *v == '\0' || *p >= end)
		return;
	kl = strlen(k);
	vl = strlen(v);
	if ((size_t)(end - *p) < kl + vl + 2) {
		*p = end;
		return;
	}
	memcpy(*p, k, kl);
	(*p)[kl] = '=';
	memcpy(*p + kl + 1, v, vl);
	(*p)[kl + 1 + vl] = '\n';
	*p += kl + vl + 2;
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

				int w;

				memcpy(&v, field + k * sizeof(v), sizeof(v));
				w = snprintf(list + l, sizeof(list) - l, "%s%llu", k ? "," : "",
					     (unsigned long long)v);
				if (w < 0 || l + (size_t)w >= sizeof(list))
					break;
				l += (size_t)w;
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

		/* Digits only: what sess_encode writes ("-465" would read as a number too big for
		 * the record to take back). */
		if (vl == 0 || !copy_val(num, sizeof(num), v, vl) || strspn(num, "0123456789") != vl)
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

bool run_printable(const char *s, size_t len)
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

/* The ID digits as the store can ever match them (kyc_candidate): the last KYC_TAIL_DIGITS
 * characters of the ID, which the flows ask for as digits, or the whole ID (KYC_ID_MIN to
 * KYC_ID_MAX letters and digits, holding a digit, as every national ID and passport number
 * does), separators dropped and digits of any script read. Anything else ("abcd", "12",
 * "56*8") is refused here, before the kyc action: a malformed ID compares nothing, so it is
 * asked again without using a try (issue 18). r->id keeps the normalised form. */
static bool id_take(struct run *r, const char *in, size_t len)
{
	char id[KYC_ID_MAX + 1];
	int n;
	bool digit = false, all_digits = true;

	_Static_assert(sizeof(r->id) > KYC_ID_MAX, "an ID fits the run's");
	r->id[0] = '\0';
	if (len == 0 || !run_printable(in, len))
		return false;
	n = kyc_normalise(in, len, id);
	for (int i = 0; i < n; i++) {
		if (id[i] >= '0' && id[i] <= '9')
			digit = true;
		else
			all_digits = false;
	}
	if (n < 0 || !digit || (n == KYC_TAIL_DIGITS && !all_digits)) {
		OPENSSL_cleanse(id, sizeof(id));
		return false;
	}
	memcpy(r->id, id, (size_t)n + 1);
	OPENSSL_cleanse(id, sizeof(id));
	return true;
}

/* What was verified for the session's owner and IMEI: a new owner or IMEI (typed, or typed
 * again after a back) must pass the link and the ID digits again before the report action
 * takes it (act_report compares both with what was verified; this makes sure a value typed
 * after the proof never finds the old proof still there). */
static void unverify(struct sess *s)
{
	s->link_owner[0] = s->link_imei[0] = s->kyc_owner[0] = s->otp_owner[0] = '\0';
	s->link_state = '\0';
	s->last_seen = 0;
}

void run_forget(struct run *r, enum flow_var v)
{
	struct sess *s = &r->s;

	switch (v) {
	case FV_IMEI:
		s->imei[0] = '\0';
		unverify(s);
		break;
	case FV_OWNER:
		s->owner[0] = '\0';
		unverify(s);
		break;
	case FV_ID:
		OPENSSL_cleanse(r->id, sizeof(r->id));
		s->kyc_owner[0] = '\0';
		break;
	case FV_OTP:
		OPENSSL_cleanse(r->otp, sizeof(r->otp));
		s->otp_owner[0] = '\0';
		break;
	case FV_REASON:
		s->reason[0] = '\0';
		break;
	case FV_POLICE:
		s->police[0] = '\0';
		r->police_set = false;
		break;
	case FV_REF:
		s->ref[0] = '\0';
		break;
	case FV_PIN:
		OPENSSL_cleanse(r->pin, sizeof(r->pin));
		break;
	case FV_PICK:
		r->pick = 0;
		break;
	case FV_NONE:
	case FV_COUNT:
		break;
	}
}

/* Validates one input into its variable. Returns true when valid. An IMEI is kept even when
 * invalid (as digits and separators, bounded), so that the check can say why. */
bool run_take_input(struct run *r, enum flow_var v, const char *in, size_t len)
{
	struct sess *s = &r->s;

	if (v == FV_IMEI || v == FV_OWNER)
		unverify(s);
	else if (v == FV_ID)
		s->kyc_owner[0] = '\0';
	else if (v == FV_OTP)
		s->otp_owner[0] = '\0';
	switch (v) {
	case FV_IMEI: {
		struct imei im;

		imei_parse(in, len, &im);
		if (im.has_digits)
			snprintf(s->imei, sizeof(s->imei), "%s", im.imei);
		else if (run_printable(in, len))
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
		return id_take(r, in, len);
	case FV_POLICE: {
		size_t i;

		if (len == 0 || len >= sizeof(s->police))
			return false;
		/* 1 for none: 0 is back (the flow's back, taken before any input), and no
		 * police number is the one digit 1. */
		if (len == 1 && in[0] == '1') {
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
	case FV_OTP: {
		char d[OTP_LEN + 2];

		if (digits_only(in, len, d, sizeof(d)) != OTP_LEN)
			return false;
		memcpy(r->otp, d, OTP_LEN + 1);
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

/* The value of placeholder p for the run; tail, reason, phone and country are
 * run_render_key's. */
static const char *placeholder_value(struct run *r, enum flow_placeholder p, const char *tail,
				     const char *reason, const char *phone, const char *country)
{
	switch (p) {
	case FP_MAKER:
		return r->maker;
	case FP_MODEL:
		return r->model;
	case FP_PHONE:
		return phone;
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
	case FP_REPORTS:
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
	case FP_LINE:
		return r->line;
	case FP_OTP:
		return r->otp_out;
	case FP_COUNTRY:
		return country;
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
	char tail[5] = "", reason[48] = "", both[sizeof(r->maker) + sizeof(r->model)], phone[128];
	char country[96] = "";
	int rc;

	if (strlen(r->s.imei) >= 4)
		memcpy(tail, r->s.imei + strlen(r->s.imei) - 4, 5);
	if (r->s.reason[0]) {
		char k[32];

		snprintf(k, sizeof(k), "reason.%s", r->s.reason);
		if (tpl_render(r->j->tpl, r->s.lang, k, NULL, 0, reason, sizeof(reason), NULL) < 0)
			reason[0] = '\0';
	}
	/* A neighbour's name as the language writes it (country.ke: "Kenya"; template keys are
	 * lower case), or the code itself for a country the texts do not name (a feed may bring
	 * one before the translators do). */
	if (r->country[0]) {
		char k[32];

		snprintf(k, sizeof(k), "country.%c%c", tolower((unsigned char)r->country[0]),
			 tolower((unsigned char)r->country[1]));
		if (tpl_render(r->j->tpl, r->s.lang, k, NULL, 0, country, sizeof(country),
			       NULL) <= 0)
			snprintf(country, sizeof(country), "%s", r->country);
	}
	/* The maker and the model in one, as a narrow screen (UCS-2) can afford. */
	phone[0] = '\0';
	if (r->maker[0] || r->model[0]) {
		size_t ml = strlen(r->maker), dl = strlen(r->model), o = ml;

		memcpy(both, r->maker, ml);
		if (ml && dl)
			both[o++] = ' ';
		memcpy(both + o, r->model, dl + 1);
		utf8_trim(phone, sizeof(phone), both, 30);
	}
	/* Only what the owner recognises of their line: the screen is the reporter's. */
	r->line[0] = '\0';
	if (r->s.owner[0])
		msisdn_mask(r->s.owner, strlen(r->s.owner), r->line, sizeof(r->line));
	reg = flow_placeholders(&n);
	for (i = 0; i < n; i++) {
		v[i].name = reg[i].name;
		v[i].val = placeholder_value(r, (enum flow_placeholder)i, tail, reason, phone,
					     country);
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

void run_remember_lang(struct run *r)
{
	struct store_rec_id rid = { STORE_REC_LANG, r->msisdn, strlen(r->msisdn), NULL, NULL };

	store_session_set(r->e->st, &rid, r->s.lang, strlen(r->s.lang), LANG_TTL_S, run_noop_done,
			  NULL);
}

/* ---- the handsets list ---------------------------------------------------------------- */

void run_imei_of_body(uint64_t body, char out[16])
{
	char d[16];
	struct imei im;

	snprintf(d, sizeof(d), "%014llu", (unsigned long long)body);
	imei_parse(d, 14, &im);
	snprintf(out, 16, "%s", im.imei);
}

/* Cuts s to at most max code points. */
static void utf8_cut(char *s, size_t max)
{
	size_t i = 0, cps = 0;

	while (s[i] && cps < max) {
		i++;
		while (((unsigned char)s[i] & 0xc0) == 0x80)
			i++;
		cps++;
	}
	s[i] = '\0';
}

void run_build_handsets(struct run *r)
{
	char imei_save[sizeof(r->s.imei)], maker[sizeof(r->maker)], model[sizeof(r->model)];
	size_t len = 0;

	memcpy(imei_save, r->s.imei, sizeof(imei_save));
	memcpy(maker, r->maker, sizeof(maker));
	memcpy(model, r->model, sizeof(model));
	r->list[0] = '\0';
	for (unsigned i = 0; i < r->s.nhandsets; i++) {
		char imei[16], line[96];
		int n;

		run_imei_of_body(r->s.handsets[i], imei);
		snprintf(r->s.imei, sizeof(r->s.imei), "%s", imei);
		run_set_model(r);
		utf8_cut(r->maker, 12);
		utf8_cut(r->model, 14);
		n = snprintf(line, sizeof(line), "%s%u %s %s ...%s", len ? "\n" : "", i + 1,
			     r->maker[0] ? r->maker : "?", r->model, imei + 11);
		if (n < 0 || len + (size_t)n >= sizeof(r->list))
			break;
		memcpy(r->list + len, line, (size_t)n + 1);
		len += (size_t)n;
	}
	memcpy(r->s.imei, imei_save, sizeof(imei_save));
	memcpy(r->maker, maker, sizeof(maker));
	memcpy(r->model, model, sizeof(model));
}
