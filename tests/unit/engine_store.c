/* The scripted store (engine_store.h): every function of store/store.h that the engine calls,
 * over an in-memory model that follows the Lua scripts and commands of src/store/store.c
 * (a report opens only when none is open, a transition only from the states given, a limit
 * counts and answers in one step, a secret's try is counted with its comparison and given
 * back on a match). Each operation prints one line, "store <op> <args> => <reply>", at the
 * moment Redis would run it; the reply reaches the caller from the event loop, in order. */
#include "engine_store.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <talloc.h>

#include "domain/kyc.h"
#include "store/pairs.h"

#define MODEL_MAX 64
#define FIELDS_MAX 64

enum reply_kind { RK_DONE, RK_COUNT, RK_DATA, RK_PAIRS, RK_HANDSETS, RK_RESULT, RK_FIELDS,
	RK_LIMIT, RK_VERIFY, RK_OTP, RK_NUMBER, RK_FOREIGN };

/* One answer waiting for the loop: what the callback gets, copied. */
struct pend {
	struct pend *next;
	enum reply_kind kind;
	union {
		store_done_cb done;
		store_count_cb count;
		store_data_cb data;
		store_pairings_cb pairs;
		store_handsets_cb handsets;
		store_result_cb result;
		store_fields_cb fields;
		store_limit_cb limit;
		store_verify_cb verify;
		store_otp_cb otp;
		store_number_cb number;
		store_foreign_cb foreign;
	} cb;
	void *arg;
	int err;
	long long a, b;
	enum store_verify_result res;
	bool flag;
	char *s;
	size_t len;
	struct pair_rec recs[PAIRS_MAX_RECORDS];
	uint64_t bodies[PAIRS_MAX_RECORDS];
	struct store_kv kv[FIELDS_MAX];
	struct foreign_rec foreign[PAIRS_FOREIGN_MAX];
	size_t n;
};

struct erep {
	char imei[16];
	char *k[FIELDS_MAX], *v[FIELDS_MAX];
	size_t n;
	char *past[8];
	size_t npast;
};

struct counter {
	char key[128];
	long long count, expires_ms;
};

struct session {
	char *key, *data;
	size_t len;
	long long expires;
};

struct fail_rule {
	char op[32];		/* "" any */
	unsigned nth;		/* 0: every one */
	enum estore_fail how;
};

struct store {
	struct event_base *base;
	struct event *ev;
	FILE *out;
	struct pend *head, *tail;
	size_t queued;
	uint8_t key[64];
	size_t keylen;
	bool down;
	struct fail_rule rules[8];
	size_t nrules;
	unsigned long long seq;

	struct { uint64_t body; struct pair_rec rec; } pairs[MODEL_MAX];
	size_t npairs;
	struct { uint64_t msisdn; struct kyc_digest d; } kyc[16];
	size_t nkyc;
	/* The neighbours' decisions (fx:{bucket}): per IMEI body, its countries' records. */
	struct { uint64_t body; struct foreign_rec recs[PAIRS_FOREIGN_MAX]; size_t n; }
		foreign[16];
	size_t nforeign;
	struct erep reports[MODEL_MAX];
	size_t nreports;
	struct { char ref[16]; char imei[16]; } refs[MODEL_MAX];
	size_t nrefs;
	struct session sessions[MODEL_MAX];
	size_t nsessions;
	struct counter counters[MODEL_MAX];
	size_t ncounters;
	struct { char rid[48]; char id[32]; } seen[MODEL_MAX];
	size_t nseen;
	struct { char imei[16]; long long score; } open[MODEL_MAX];
	size_t nopen;
	/* One-time codes (otp_issue_script): per line and who, the digest, who asked, the
	 * wrong tries, when it expires, and the SMS that carried it (for the test to read). */
	struct { char key[64]; char d[17]; char by[20]; long long n, expires_ms;
		 char text[512]; } otps[8];
	size_t notps;
};

/* ---- the line ---------------------------------------------------------------------------- */

struct line {
	char buf[8192];
	size_t len;
};

static void add(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct line *l, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (l->len >= sizeof(l->buf) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(l->buf + l->len, sizeof(l->buf) - l->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		l->len += (size_t)n < sizeof(l->buf) - l->len ? (size_t)n : sizeof(l->buf) - l->len - 1;
}

/* Bytes as one line: newlines and backslashes escaped, other controls as \xNN. */
static void add_bytes(struct line *l, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\n')
			add(l, "\\n");
		else if (c == '\\')
			add(l, "\\\\");
		else if (c < 0x20)
			add(l, "\\x%02x", c);
		else
			add(l, "%c", c);
	}
}

static void add_fields(struct line *l, const struct store_kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		add(l, " %.*s=", (int)kv[i].klen, kv[i].key);
		add_bytes(l, kv[i].val, kv[i].vlen);
	}
}

static void emit(struct store *st, struct line *l)
{
	fprintf(st->out, "%.*s\n", (int)l->len, l->buf);
}

static long long now_ms(void)
{
	return test_now * 1000;
}

/* ---- answering from the loop ---------------------------------------------------------- */

static void fire(struct pend *p)
{
	switch (p->kind) {
	case RK_DONE: p->cb.done(p->arg, p->err); break;
	case RK_COUNT: p->cb.count(p->arg, p->err, p->a); break;
	case RK_DATA: p->cb.data(p->arg, p->err, p->s, p->len, p->flag); break;
	case RK_PAIRS: p->cb.pairs(p->arg, p->err, p->recs, p->n); break;
	case RK_HANDSETS: p->cb.handsets(p->arg, p->err, p->bodies, p->n); break;
	case RK_RESULT: p->cb.result(p->arg, p->err, p->s ? p->s : "", p->len, p->flag); break;
	case RK_FIELDS: p->cb.fields(p->arg, p->err, p->kv, p->n); break;
	case RK_LIMIT: p->cb.limit(p->arg, p->err, p->a, p->b); break;
	case RK_VERIFY: p->cb.verify(p->arg, p->err, p->res, p->a, p->b); break;
	case RK_OTP: p->cb.otp(p->arg, p->err, (enum store_otp_result)p->res, p->a); break;
	case RK_NUMBER: p->cb.number(p->arg, p->err, p->s, p->len, p->flag); break;
	case RK_FOREIGN: p->cb.foreign(p->arg, p->err, p->foreign, p->n); break;
	}
}

static void arm(struct store *st)
{
	static const struct timeval zero = { 0, 0 };

	if (st->head && !event_pending(st->ev, EV_TIMEOUT, NULL))
		event_add(st->ev, &zero);
}

/* One answer per pass, in the order the operations ran. */
static void drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct store *st = arg;
	struct pend *p = st->head;

	(void)fd;
	(void)what;
	if (p == NULL)
		return;
	st->head = p->next;
	if (st->head == NULL)
		st->tail = NULL;
	st->queued--;
	arm(st);
	fire(p);
	talloc_free(p);
}

static struct pend *pend_new(struct store *st, enum reply_kind kind, void *arg)
{
	struct pend *p = talloc_zero(st, struct pend);

	if (p == NULL)
		abort();
	p->kind = kind;
	p->arg = arg;
	return p;
}

/* Which failure, if any, the operation named op meets now. */
static enum estore_fail decide(struct store *st, const char *op)
{
	if (st->down)
		return EF_DOWN;
	for (size_t i = 0; i < st->nrules; i++) {
		struct fail_rule *fr = &st->rules[i];

		if (fr->how == EF_NONE || (fr->op[0] && strcmp(fr->op, op) != 0))
			continue;
		if (fr->nth == 0)
			return fr->how;
		if (--fr->nth == 0) {
			enum estore_fail how = fr->how;

			fr->how = EF_NONE;
			return how;
		}
	}
	return EF_NONE;
}

static int refuse(struct store *st, struct line *l)
{
	add(l, " => -EAGAIN (not connected)");
	emit(st, l);
	return -EAGAIN;
}

/* Queues p, printing the line with how the answer goes. */
static int queue(struct store *st, struct pend *p, struct line *l, enum estore_fail how)
{
	if (how == EF_TIMEOUT || how == EF_LOST) {
		add(l, how == EF_TIMEOUT ? " => timeout (-EAGAIN)" : " [answer lost: -EAGAIN]");
		talloc_free(p->s);
		p->s = NULL;
		p->len = 0;
		p->n = 0;
		p->a = p->b = 0;
		p->flag = false;
		p->err = -EAGAIN;
	}
	emit(st, l);
	if (st->tail)
		st->tail->next = p;
	else
		st->head = p;
	st->tail = p;
	st->queued++;
	arm(st);
	return 0;
}

#define OPEN(name, ...) \
	struct line l_ = { .len = 0 }, *l = &l_; \
	enum estore_fail how = decide(st, name); \
	add(l, "store " name __VA_ARGS__); \
	if (how == EF_DOWN) \
		return refuse(st, l)

/* ---- the model -------------------------------------------------------------------------- */

static struct erep *report_of(struct store *st, const char *imei)
{
	for (size_t i = 0; i < st->nreports; i++)
		if (strcmp(st->reports[i].imei, imei) == 0)
			return &st->reports[i];
	return NULL;
}

static const char *rep_get(const struct erep *rp, const char *k)
{
	for (size_t i = 0; rp && i < rp->n; i++)
		if (strcmp(rp->k[i], k) == 0)
			return rp->v[i];
	return NULL;
}

static void rep_set(struct store *st, struct erep *rp, const char *k, size_t kl,
		    const char *v, size_t vl)
{
	size_t i;

	for (i = 0; i < rp->n; i++)
		if (strlen(rp->k[i]) == kl && memcmp(rp->k[i], k, kl) == 0)
			break;
	if (i == rp->n) {
		if (rp->n == FIELDS_MAX)
			abort();
		rp->k[rp->n++] = talloc_strndup(st, k, kl);
	}
	talloc_free(rp->v[i]);
	rp->v[i] = talloc_strndup(st, v, vl);
}

static void rep_setn(struct store *st, struct erep *rp, const char *k, long long n)
{
	char num[24];

	snprintf(num, sizeof(num), "%lld", n);
	rep_set(st, rp, k, strlen(k), num, strlen(num));
}

static struct erep *report_new(struct store *st, const char *imei)
{
	struct erep *rp;

	if (st->nreports == MODEL_MAX)
		abort();
	rp = &st->reports[st->nreports++];
	memset(rp, 0, sizeof(*rp));
	snprintf(rp->imei, sizeof(rp->imei), "%s", imei);
	return rp;
}

static void ref_map(struct store *st, const char *ref, const char *imei)
{
	for (size_t i = 0; i < st->nrefs; i++)
		if (strcmp(st->refs[i].ref, ref) == 0) {
			snprintf(st->refs[i].imei, sizeof(st->refs[i].imei), "%s", imei);
			return;
		}
	if (st->nrefs == MODEL_MAX)
		abort();
	snprintf(st->refs[st->nrefs].ref, sizeof(st->refs[0].ref), "%s", ref);
	snprintf(st->refs[st->nrefs].imei, sizeof(st->refs[0].imei), "%s", imei);
	st->nrefs++;
}

static const char *ref_imei(struct store *st, const char *ref, size_t len)
{
	for (size_t i = 0; i < st->nrefs; i++)
		if (strlen(st->refs[i].ref) == len && memcmp(st->refs[i].ref, ref, len) == 0)
			return st->refs[i].imei;
	return NULL;
}

/* A counter that has not expired, or NULL; create makes one (count 0, no expiry). */
static struct counter *counter_of(struct store *st, const char *key, bool create)
{
	struct counter *c = NULL;

	for (size_t i = 0; i < st->ncounters; i++)
		if (strcmp(st->counters[i].key, key) == 0)
			c = &st->counters[i];
	if (c && c->expires_ms && c->expires_ms <= now_ms()) {
		c->count = 0;
		c->expires_ms = 0;
	}
	if (c && (c->count || create))
		return c;
	if (!create)
		return NULL;
	if (st->ncounters == MODEL_MAX)
		abort();
	c = &st->counters[st->ncounters++];
	snprintf(c->key, sizeof(c->key), "%s", key);
	c->count = 0;
	c->expires_ms = 0;
	return c;
}

static const char *limit_name(enum store_limit what)
{
	switch (what) {
	case STORE_LIMIT_CHECK: return "check";
	case STORE_LIMIT_REPORT: return "report";
	case STORE_LIMIT_VERIFY: return "verify";
	case STORE_LIMIT_UNBLOCK: return "unblock";
	case STORE_LIMIT_RESEND: return "resend";
	case STORE_LIMIT_API: return "api";
	case STORE_LIMIT_OTP: return "otp";
	}
	return "?";
}

static const char *rec_name(const struct store_rec_id *rid, char *out, size_t outsz)
{
	switch (rid->kind) {
	case STORE_REC_USSD:
		snprintf(out, outsz, "ussd:%s:%.*s", rid->msisdn, (int)rid->idlen, rid->id);
		break;
	case STORE_REC_LANG:
		snprintf(out, outsz, "lang:%.*s", (int)rid->idlen, rid->id);
		break;
	case STORE_REC_MO:
		snprintf(out, outsz, "mo:%.*s", (int)rid->idlen, rid->id);
		break;
	case STORE_REC_RESUME:
		snprintf(out, outsz, "resume:%.*s", (int)rid->idlen, rid->id);
		break;
	}
	return out;
}

static struct session *session_of(struct store *st, const char *key)
{
	for (size_t i = 0; i < st->nsessions; i++)
		if (strcmp(st->sessions[i].key, key) == 0)
			return st->sessions[i].expires > test_now ? &st->sessions[i] : NULL;
	return NULL;
}

static void session_put(struct store *st, const char *key, const char *data, size_t len,
			unsigned ttl_s)
{
	struct session *s = NULL;

	for (size_t i = 0; i < st->nsessions; i++)
		if (strcmp(st->sessions[i].key, key) == 0)
			s = &st->sessions[i];
	if (s == NULL) {
		if (st->nsessions == MODEL_MAX)
			abort();
		s = &st->sessions[st->nsessions++];
		s->key = talloc_strdup(st, key);
		s->data = NULL;
	}
	talloc_free(s->data);
	s->data = talloc_memdup(st, data, len + 1);
	s->data[len] = '\0';
	s->len = len;
	s->expires = test_now + ttl_s;
}

/* ---- the test's side ------------------------------------------------------------------- */

static int store_destructor(struct store *st)
{
	event_free(st->ev);
	return 0;
}

struct store *estore_create(void *ctx, struct event_base *base, FILE *out,
			    const uint8_t *kyc_key, size_t kyc_keylen)
{
	struct store *st = talloc_zero(ctx, struct store);

	if (st == NULL || kyc_keylen > sizeof(st->key))
		return NULL;
	st->base = base;
	st->out = out;
	memcpy(st->key, kyc_key, kyc_keylen);
	st->keylen = kyc_keylen;
	st->ev = event_new(base, -1, 0, drain_cb, st);
	if (st->ev == NULL) {
		talloc_free(st);
		return NULL;
	}
	talloc_set_destructor(st, store_destructor);
	return st;
}

void estore_set_out(struct store *st, FILE *out)
{
	st->out = out;
}

size_t estore_queued(const struct store *st)
{
	return st->queued;
}

static uint64_t e164(const char *msisdn)
{
	return strtoull(msisdn + (msisdn[0] == '+'), NULL, 10);
}

static uint64_t body_of(const char *imei)
{
	char b[15];

	memcpy(b, imei, 14);
	b[14] = '\0';
	return strtoull(b, NULL, 10);
}

void estore_pair(struct store *st, const char *imei, const char *msisdn, uint16_t first,
		 uint16_t last, uint32_t imsi_tag)
{
	if (st->npairs == MODEL_MAX)
		abort();
	st->pairs[st->npairs].body = body_of(imei);
	st->pairs[st->npairs].rec = (struct pair_rec){ e164(msisdn), imsi_tag, first, last };
	st->npairs++;
}

void estore_foreign(struct store *st, const char *imei, const char *country, char reason,
		    uint16_t day)
{
	uint64_t body = body_of(imei);
	size_t i;

	for (i = 0; i < st->nforeign; i++)
		if (st->foreign[i].body == body)
			break;
	if (i == st->nforeign) {
		if (st->nforeign == sizeof(st->foreign) / sizeof(st->foreign[0]))
			abort();
		st->foreign[st->nforeign].body = body;
		st->foreign[st->nforeign].n = 0;
		st->nforeign++;
	}
	/* As store_foreign_apply does: the country's field set, or deleted by an unblock
	 * (reason '\0'). */
	{
		struct foreign_rec *r = st->foreign[i].recs;
		size_t *n = &st->foreign[i].n, j, k = 0;

		for (j = 0; j < *n; j++)
			if (memcmp(r[j].country, country, 2) != 0)
				r[k++] = r[j];
		*n = k;
		if (reason != '\0' && *n < PAIRS_FOREIGN_MAX) {
			memcpy(r[*n].country, country, 2);
			r[*n].country[2] = '\0';
			r[*n].reason = reason;
			r[*n].day = day;
			(*n)++;
		}
	}
}

void estore_kyc(struct store *st, const char *msisdn, const char *id)
{
	char norm[KYC_ID_MAX + 1];
	int n = kyc_normalise(id, strlen(id), norm);

	if (n < 0 || st->nkyc == 16)
		abort();
	st->kyc[st->nkyc].msisdn = e164(msisdn);
	kyc_digest(st->key, st->keylen, norm, (size_t)n, &st->kyc[st->nkyc].d);
	st->nkyc++;
}

void estore_report(struct store *st, const char *imei, const char *const *fields)
{
	struct erep *rp = report_of(st, imei);

	if (rp == NULL)
		rp = report_new(st, imei);
	for (size_t i = 0; fields[i]; i++) {
		const char *eq = strchr(fields[i], '=');

		rep_set(st, rp, fields[i], (size_t)(eq - fields[i]), eq + 1, strlen(eq + 1));
	}
	if (rep_get(rp, "ref"))
		ref_map(st, rep_get(rp, "ref"), imei);
}

const char *estore_report_field(struct store *st, const char *imei, const char *field)
{
	return rep_get(report_of(st, imei), field);
}

void estore_limit(struct store *st, enum store_limit what, const char *who, long long count,
		  unsigned window_s)
{
	char key[128];
	struct counter *c;

	snprintf(key, sizeof(key), "limit:%s:%s", limit_name(what), who);
	c = counter_of(st, key, true);
	c->count = count;
	c->expires_ms = now_ms() + (long long)window_s * 1000;
}

void estore_session(struct store *st, const char *sid, const char *msisdn, const char *data)
{
	char key[160];

	snprintf(key, sizeof(key), "ussd:%s:%s", msisdn, sid);
	session_put(st, key, data, strlen(data), 180);
}

const char *estore_session_data(struct store *st, const char *sid, const char *msisdn)
{
	char key[160];
	struct session *s;

	snprintf(key, sizeof(key), "ussd:%s:%s", msisdn, sid);
	s = session_of(st, key);
	return s ? s->data : NULL;
}

void estore_resume_drop(struct store *st, const char *msisdn)
{
	char key[160];
	struct session *s;

	snprintf(key, sizeof(key), "resume:%s", msisdn);
	if ((s = session_of(st, key)) != NULL)
		s->expires = 0;
}

void estore_ref_taken(struct store *st, const char *ref, const char *imei)
{
	ref_map(st, ref, imei);
}

void estore_fail(struct store *st, const char *op, unsigned nth, enum estore_fail how)
{
	if (st->nrules == sizeof(st->rules) / sizeof(st->rules[0]))
		abort();
	snprintf(st->rules[st->nrules].op, sizeof(st->rules[0].op), "%s", op ? op : "");
	st->rules[st->nrules].nth = nth;
	st->rules[st->nrules].how = how;
	st->nrules++;
}

void estore_fail_clear(struct store *st)
{
	st->nrules = 0;
}

void estore_down(struct store *st, bool down)
{
	st->down = down;
}

/* ---- store.h ---------------------------------------------------------------------------- */

bool store_is_up(const struct store *st)
{
	return !st->down;
}

int store_imei_pairings(struct store *st, uint64_t imei_body, store_pairings_cb cb, void *arg)
{
	OPEN("imei_pairings", " %014llu", (unsigned long long)imei_body);
	struct pend *p = pend_new(st, RK_PAIRS, arg);

	p->cb.pairs = cb;
	if (how != EF_TIMEOUT) {
		add(l, " =>");
		for (size_t i = 0; i < st->npairs && p->n < PAIRS_MAX_RECORDS; i++) {
			if (st->pairs[i].body != imei_body)
				continue;
			p->recs[p->n++] = st->pairs[i].rec;
			add(l, " +%llu(%u..%u,imsi %u)",
			    (unsigned long long)st->pairs[i].rec.msisdn, st->pairs[i].rec.first_seen,
			    st->pairs[i].rec.last_seen, st->pairs[i].rec.imsi_tag);
		}
		if (p->n == 0)
			add(l, " none");
	}
	return queue(st, p, l, how);
}

/* HGET of the IMEI's field in fx:{bucket}: its records in the order the script keeps them. */
int store_foreign_get(struct store *st, uint64_t imei_body, store_foreign_cb cb, void *arg)
{
	OPEN("foreign_get", " %014llu", (unsigned long long)imei_body);
	struct pend *p = pend_new(st, RK_FOREIGN, arg);

	p->cb.foreign = cb;
	if (how != EF_TIMEOUT) {
		add(l, " =>");
		for (size_t i = 0; i < st->nforeign; i++) {
			if (st->foreign[i].body != imei_body)
				continue;
			for (size_t k = 0; k < st->foreign[i].n; k++) {
				const struct foreign_rec *f = &st->foreign[i].recs[k];
				char day[11];

				pairs_format_date(f->day, day);
				p->foreign[p->n++] = *f;
				add(l, " %.2s %c %s", f->country, f->reason, day);
			}
		}
		if (p->n == 0)
			add(l, " none");
	}
	return queue(st, p, l, how);
}

int store_msisdn_handsets(struct store *st, uint64_t msisdn, store_handsets_cb cb, void *arg)
{
	OPEN("msisdn_handsets", " +%llu", (unsigned long long)msisdn);
	struct pend *p = pend_new(st, RK_HANDSETS, arg);

	p->cb.handsets = cb;
	if (how != EF_TIMEOUT) {
		add(l, " =>");
		for (size_t i = 0; i < st->npairs && p->n < PAIRS_MAX_RECORDS; i++) {
			size_t k;

			if (st->pairs[i].rec.msisdn != msisdn)
				continue;
			for (k = 0; k < p->n; k++)
				if (p->bodies[k] == st->pairs[i].body)
					break;
			if (k < p->n)
				continue;
			p->bodies[p->n++] = st->pairs[i].body;
			add(l, " %014llu", (unsigned long long)st->pairs[i].body);
		}
		if (p->n == 0)
			add(l, " none");
	}
	return queue(st, p, l, how);
}

/* A session's bytes into the answer and the transcript. */
static void pend_data(struct pend *p, struct line *l, const struct session *s)
{
	p->s = talloc_memdup(p, s->data, s->len + 1);
	p->len = s->len;
	add_bytes(l, s->data, s->len);
}

int store_session_set(struct store *st, const struct store_rec_id *rid, const void *data,
		      size_t len, unsigned ttl_s, store_done_cb cb, void *arg)
{
	char key[160];

	rec_name(rid, key, sizeof(key));
	OPEN("session_set", " %s ttl=%u ", key, ttl_s);
	struct pend *p = pend_new(st, RK_DONE, arg);

	add_bytes(l, data, len);
	p->cb.done = cb;
	if (how != EF_TIMEOUT) {
		session_put(st, key, data, len, ttl_s);
		add(l, " => ok");
	}
	return queue(st, p, l, how);
}

int store_session_get(struct store *st, const struct store_rec_id *rid, store_data_cb cb,
		      void *arg)
{
	char key[160];

	rec_name(rid, key, sizeof(key));
	OPEN("session_get", " %s", key);
	struct pend *p = pend_new(st, RK_DATA, arg);

	p->cb.data = cb;
	if (how != EF_TIMEOUT) {
		struct session *s = session_of(st, key);

		if (s) {
			p->flag = true;
			add(l, " => ");
			pend_data(p, l, s);
		} else {
			add(l, " => none");
		}
	}
	return queue(st, p, l, how);
}

int store_session_del(struct store *st, const struct store_rec_id *rid, store_done_cb cb,
		      void *arg)
{
	char key[160];

	rec_name(rid, key, sizeof(key));
	OPEN("session_del", " %s", key);
	struct pend *p = pend_new(st, RK_DONE, arg);

	p->cb.done = cb;
	if (how != EF_TIMEOUT) {
		struct session *s = session_of(st, key);

		if (s)
			s->expires = 0;
		add(l, " => ok");
	}
	return queue(st, p, l, how);
}

/* MGET of the number's language and resume record (one slot). */
int store_number_get(struct store *st, const char *number, size_t len, store_number_cb cb,
		     void *arg)
{
	char key[160];

	OPEN("number_get", " %.*s", (int)len, number);
	struct pend *p = pend_new(st, RK_NUMBER, arg);

	p->cb.number = cb;
	if (how != EF_TIMEOUT) {
		struct session *s;

		snprintf(key, sizeof(key), "lang:%.*s", (int)len, number);
		s = session_of(st, key);
		add(l, " => lang ");
		if (s) {
			pend_data(p, l, s);
		} else {
			add(l, "none");
		}
		snprintf(key, sizeof(key), "resume:%.*s", (int)len, number);
		p->flag = session_of(st, key) != NULL;
		add(l, ", resume %s", p->flag ? "yes" : "none");
	}
	return queue(st, p, l, how);
}

static void answer_result(struct pend *p, struct line *l, const char *s, bool changed)
{
	p->s = talloc_strdup(p, s);
	p->len = strlen(s);
	p->flag = changed;
	add(l, " => %s %s", *s ? s : "\"\"", changed ? "changed" : "unchanged");
}

int store_report_create(struct store *st, const char *imei, const char *ref,
			const struct store_kv *fields, size_t n, store_result_cb cb, void *arg)
{
	OPEN("report_create", " %s %s", imei, ref);
	struct pend *p = pend_new(st, RK_RESULT, arg);

	add_fields(l, fields, n);
	p->cb.result = cb;
	if (how != EF_TIMEOUT) {
		struct erep *rp = report_of(st, imei);
		const char *state = rep_get(rp, "state");

		if (state && strcmp(state, "unblocked") != 0 && strcmp(state, "rejected") != 0) {
			answer_result(p, l, rep_get(rp, "ref") ? rep_get(rp, "ref") : "", false);
			return queue(st, p, l, how);
		}
		if (rp && state) {
			/* A closed report: its reference goes to rep:{imei}:past. */
			char *past[8];
			size_t npast = rp->npast;

			memcpy(past, rp->past, sizeof(past));
			if (npast < 8 && rep_get(rp, "ref"))
				past[npast++] = talloc_strdup(st, rep_get(rp, "ref"));
			for (size_t i = 0; i < rp->n; i++) {
				talloc_free(rp->k[i]);
				talloc_free(rp->v[i]);
			}
			memset(rp, 0, sizeof(*rp));
			snprintf(rp->imei, sizeof(rp->imei), "%s", imei);
			memcpy(rp->past, past, sizeof(past));
			rp->npast = npast;
		}
		if (rp == NULL)
			rp = report_new(st, imei);
		rep_set(st, rp, "ref", 3, ref, strlen(ref));
		rep_set(st, rp, "state", 5, "received", 8);
		rep_setn(st, rp, "created", test_now);
		rep_setn(st, rp, "updated", test_now);
		for (size_t i = 0; i < n; i++)
			rep_set(st, rp, fields[i].key, fields[i].klen, fields[i].val, fields[i].vlen);
		ref_map(st, ref, imei);
		answer_result(p, l, ref, true);
	}
	return queue(st, p, l, how);
}

int store_report_find(struct store *st, const char *ref, size_t len, store_data_cb cb,
		      void *arg)
{
	OPEN("report_find", " %.*s", (int)len, ref);
	struct pend *p = pend_new(st, RK_DATA, arg);

	p->cb.data = cb;
	if (how != EF_TIMEOUT) {
		const char *imei = ref_imei(st, ref, len);

		if (imei) {
			p->s = talloc_strdup(p, imei);
			p->len = strlen(imei);
			p->flag = true;
			add(l, " => %s", imei);
		} else {
			add(l, " => none");
		}
	}
	return queue(st, p, l, how);
}

/* The transition script: from one of the states in from, idle seconds after the last change,
 * with the SMS kept and relayed to the outbox stream. */
static void transition(struct store *st, struct pend *p, struct line *l, const char *imei,
		       const char *from, const char *to, unsigned idle_s,
		       const struct store_kv *fields, size_t n, const char *stream,
		       const struct store_sms *sms, size_t nsms, const char *feed,
		       size_t feedlen)
{
	struct erep *rp = report_of(st, imei);
	const char *state = rep_get(rp, "state"), *updated;
	char bars[128], want[32];

	if (state == NULL) {
		answer_result(p, l, "", false);
		return;
	}
	snprintf(bars, sizeof(bars), "|%s|", from);
	snprintf(want, sizeof(want), "|%s|", state);
	if (strstr(bars, want) == NULL) {
		answer_result(p, l, state, false);
		return;
	}
	updated = rep_get(rp, "updated");
	if (idle_s > 0 && test_now - (updated ? atoll(updated) : 0) < (long long)idle_s) {
		answer_result(p, l, "busy", false);
		return;
	}
	rep_set(st, rp, "state", 5, to, strlen(to));
	rep_setn(st, rp, "updated", test_now);
	for (size_t i = 0; i < n; i++)
		rep_set(st, rp, fields[i].key, fields[i].klen, fields[i].val, fields[i].vlen);
	answer_result(p, l, to, true);
	for (size_t i = 0; i < nsms; i++) {
		const char *seq = rep_get(rp, "outseq");

		rep_setn(st, rp, "outseq", (seq ? atoll(seq) : 0) + 1);
		/* Relayed by the store right after (relay_start): one entry of the stream each. */
		add(l, "\n  outbox %s %s ", stream, sms[i].to);
		add_bytes(l, sms[i].text, sms[i].len);
	}
	if (feed) {
		const char *seq = rep_get(rp, "outseq");

		rep_setn(st, rp, "outseq", (seq ? atoll(seq) : 0) + 1);
		/* Appended to the country's feed log by the relay, once (issue 19). */
		add(l, "\n  feed ");
		add_bytes(l, feed, feedlen);
	}
}

/* The event's allowed states and target, as the real store gives them to its script. */
#define EVENT_FROM_TO(ev) \
	char from[REPORT_SET_MAX]; \
	const char *to = report_state_name(report_event_to(ev)); \
	if (report_event_to(ev) == REPORT_NONE || ev == REPORT_EV_OPEN || \
	    report_states_format(report_event_from(ev), from, sizeof(from)) < 0) \
		return -EINVAL

int store_report_transition(struct store *st, const char *imei, enum report_event ev,
			    const struct store_kv *fields, size_t n, store_result_cb cb, void *arg)
{
	EVENT_FROM_TO(ev);
	OPEN("report_transition", " %s %s: %s -> %s", imei, report_event_name(ev), from, to);
	struct pend *p = pend_new(st, RK_RESULT, arg);

	add_fields(l, fields, n);
	p->cb.result = cb;
	if (how != EF_TIMEOUT)
		transition(st, p, l, imei, from, to, 0, fields, n, NULL, NULL, 0, NULL, 0);
	return queue(st, p, l, how);
}

int store_report_transition_sms(struct store *st, const char *imei, enum report_event ev,
				const struct store_kv *fields, size_t n,
				const char *stream, const struct store_sms *sms, size_t nsms,
				store_result_cb cb, void *arg)
{
	EVENT_FROM_TO(ev);
	if (stream == NULL || *stream == '\0')
		return -EINVAL;
	OPEN("report_transition_sms", " %s %s: %s -> %s sms=%zu", imei, report_event_name(ev),
	     from, to, nsms);
	struct pend *p = pend_new(st, RK_RESULT, arg);

	add_fields(l, fields, n);
	p->cb.result = cb;
	if (how != EF_TIMEOUT)
		transition(st, p, l, imei, from, to, 0, fields, n, stream, sms, nsms, NULL, 0);
	return queue(st, p, l, how);
}

int store_report_transition_out(struct store *st, const char *imei, enum report_event ev,
				const struct store_kv *fields, size_t n,
				const struct store_out *out, store_result_cb cb, void *arg)
{
	EVENT_FROM_TO(ev);
	if (out->nsms && (out->stream == NULL || *out->stream == '\0'))
		return -EINVAL;
	OPEN("report_transition_out", " %s %s: %s -> %s sms=%zu feed=%d", imei,
	     report_event_name(ev), from, to, out->nsms, out->feed != NULL);
	struct pend *p = pend_new(st, RK_RESULT, arg);

	add_fields(l, fields, n);
	p->cb.result = cb;
	if (how != EF_TIMEOUT)
		transition(st, p, l, imei, from, to, 0, fields, n, out->stream, out->sms,
			   out->nsms, out->feed, out->feedlen);
	return queue(st, p, l, how);
}

/* report_new_pin_script: the report of that reference and owner, in a state the PIN
 * unblocks from, gets the new digest, the owner's PIN counter starts again, the receipt goes
 * into its outbox. */
int store_report_new_pin(struct store *st, const char *imei, const char *ref,
			 const char *owner, const char *digest, size_t dlen, unsigned idle_s,
			 const char *stream, const struct store_sms *sms, store_result_cb cb,
			 void *arg)
{
	char from[REPORT_SET_MAX];

	if (report_states_format(report_event_from(REPORT_EV_UNBLOCK_REQUEST), from,
				 sizeof(from)) < 0 || dlen == 0)
		return -EINVAL;
	OPEN("report_new_pin", " %s %s %s %.*s in %s idle=%u%s", imei, ref, owner, (int)dlen,
	     digest, from, idle_s, stream && *stream ? " sms=1" : "");
	struct pend *p = pend_new(st, RK_RESULT, arg);

	p->cb.result = cb;
	if (how != EF_TIMEOUT) {
		struct erep *rp = report_of(st, imei);
		const char *state = rep_get(rp, "state"), *r = rep_get(rp, "ref"),
			   *o = rep_get(rp, "owner");
		char bars[128], want[32], ckey[128];

		if (state == NULL || r == NULL || o == NULL || strcmp(r, ref) != 0 ||
		    strcmp(o, owner) != 0) {
			answer_result(p, l, "", false);
			return queue(st, p, l, how);
		}
		snprintf(bars, sizeof(bars), "|%s|", from);
		snprintf(want, sizeof(want), "|%s|", state);
		if (strstr(bars, want) == NULL) {
			answer_result(p, l, state, false);
			return queue(st, p, l, how);
		}
		{
			const char *at = rep_get(rp, "pin_at");

			if (at && test_now - atoll(at) < (long long)idle_s) {
				answer_result(p, l, "recent", false);
				return queue(st, p, l, how);
			}
		}
		rep_set(st, rp, "pin", 3, digest, dlen);
		rep_setn(st, rp, "pin_at", test_now);
		snprintf(ckey, sizeof(ckey), "vf:pin:%s:own", imei);
		{
			struct counter *c = counter_of(st, ckey, false);

			if (c) {
				c->count = 0;
				c->expires_ms = 0;
			}
		}
		answer_result(p, l, state, true);
		if (stream && *stream) {
			const char *seq = rep_get(rp, "outseq");

			rep_setn(st, rp, "outseq", (seq ? atoll(seq) : 0) + 1);
			add(l, "\n  outbox %s %s ", stream, sms->to);
			add_bytes(l, sms->text, sms->len);
		}
	}
	return queue(st, p, l, how);
}

int store_report_resume(struct store *st, const char *imei, enum report_event ev,
			unsigned idle_s, const struct store_kv *fields, size_t n,
			store_result_cb cb, void *arg)
{
	EVENT_FROM_TO(ev);
	OPEN("report_resume", " %s %s: %s -> %s idle=%u", imei, report_event_name(ev), from, to,
	     idle_s);
	struct pend *p = pend_new(st, RK_RESULT, arg);

	add_fields(l, fields, n);
	p->cb.result = cb;
	if (how != EF_TIMEOUT)
		transition(st, p, l, imei, from, to, idle_s, fields, n, NULL, NULL, 0, NULL, 0);
	return queue(st, p, l, how);
}

int store_report_open(struct store *st, const char *imei, bool open, store_done_cb cb,
		      void *arg)
{
	OPEN("report_open", " %s %s", imei, open ? "add" : "remove");
	struct pend *p = pend_new(st, RK_DONE, arg);

	p->cb.done = cb;
	if (how != EF_TIMEOUT) {
		size_t i;

		for (i = 0; i < st->nopen; i++)
			if (strcmp(st->open[i].imei, imei) == 0)
				break;
		if (open) {
			if (i == st->nopen) {
				if (st->nopen == MODEL_MAX)
					abort();
				snprintf(st->open[st->nopen++].imei, 16, "%s", imei);
			}
			st->open[i].score = test_now;	/* ZADD: the score is now */
		} else if (i < st->nopen) {
			st->open[i] = st->open[--st->nopen];
		}
		add(l, " => ok");
	}
	return queue(st, p, l, how);
}

static int open_cmp(const void *a, const void *b)
{
	const struct { char imei[16]; long long score; } *x = a, *y = b;

	if (x->score != y->score)
		return x->score < y->score ? -1 : 1;
	return strcmp(x->imei, y->imei);
}

int store_reports_due(struct store *st, unsigned idle_s, unsigned max, store_data_cb cb,
		      void *arg)
{
	OPEN("reports_due", " idle=%u max=%u", idle_s, max);
	struct pend *p = pend_new(st, RK_DATA, arg);

	p->cb.data = cb;
	if (how != EF_TIMEOUT) {
		char list[MODEL_MAX * 17] = "";
		size_t len = 0;
		unsigned k = 0;

		qsort(st->open, st->nopen, sizeof(st->open[0]), open_cmp);
		for (size_t i = 0; i < st->nopen && k < max; i++)
			if (st->open[i].score <= test_now - (long long)idle_s) {
				len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
							k++ ? "," : "", st->open[i].imei);
			}
		p->s = talloc_strdup(p, list);
		p->len = len;
		p->flag = true;	/* a script's answer: always there, "" for none */
		add(l, " => \"%s\"", list);
	}
	return queue(st, p, l, how);
}

int store_report_get(struct store *st, const char *imei, store_fields_cb cb, void *arg)
{
	OPEN("report_get", " %s", imei);
	struct pend *p = pend_new(st, RK_FIELDS, arg);

	p->cb.fields = cb;
	if (how != EF_TIMEOUT) {
		struct erep *rp = report_of(st, imei);

		add(l, " =>");
		for (size_t i = 0; rp && i < rp->n; i++) {
			char *k = talloc_strdup(p, rp->k[i]), *v = talloc_strdup(p, rp->v[i]);

			p->kv[p->n++] = (struct store_kv){ k, strlen(k), v, strlen(v) };
		}
		if (p->n == 0)
			add(l, " none");
		else
			add_fields(l, p->kv, p->n);
	}
	return queue(st, p, l, how);
}

int store_ceir_enqueue(struct store *st, const char *stream, const char *request_id,
		       unsigned remember_s, const struct store_kv *fields, size_t n,
		       store_result_cb cb, void *arg)
{
	OPEN("ceir_enqueue", " %s %s", stream, request_id);
	struct pend *p = pend_new(st, RK_RESULT, arg);

	(void)remember_s;
	add_fields(l, fields, n);
	p->cb.result = cb;
	if (how != EF_TIMEOUT) {
		size_t i;

		for (i = 0; i < st->nseen; i++)
			if (strcmp(st->seen[i].rid, request_id) == 0)
				break;
		if (i < st->nseen) {
			answer_result(p, l, st->seen[i].id, false);
		} else {
			if (st->nseen == MODEL_MAX)
				abort();
			snprintf(st->seen[i].rid, sizeof(st->seen[i].rid), "%s", request_id);
			snprintf(st->seen[i].id, sizeof(st->seen[i].id), "%lld-%llu", now_ms(),
				 ++st->seq);
			st->nseen++;
			answer_result(p, l, st->seen[i].id, true);
		}
	}
	return queue(st, p, l, how);
}

int store_relay_sweep(struct store *st, unsigned idle_s, unsigned max, store_count_cb cb,
		      void *arg)
{
	OPEN("relay_sweep", " idle=%u max=%u", idle_s, max);
	struct pend *p = pend_new(st, RK_COUNT, arg);

	p->cb.count = cb;
	if (how != EF_TIMEOUT)
		add(l, " => 0");	/* the model relays each SMS as it is kept */
	return queue(st, p, l, how);
}

int store_ref_reserve(struct store *st, const char *ref, size_t len, const char *imei,
		      store_count_cb cb, void *arg)
{
	OPEN("ref_reserve", " %.*s %s", (int)len, ref, imei);
	struct pend *p = pend_new(st, RK_COUNT, arg);

	p->cb.count = cb;
	if (strlen(imei) != 15) {
		talloc_free(p);
		return -EINVAL;
	}
	if (how != EF_TIMEOUT) {
		char r[16];

		snprintf(r, sizeof(r), "%.*s", (int)len, ref);
		if (ref_imei(st, ref, len)) {
			add(l, " => 0 (taken)");
		} else {
			ref_map(st, r, imei);
			p->a = 1;
			add(l, " => 1");
		}
	}
	return queue(st, p, l, how);
}

int store_limit_hit(struct store *st, enum store_limit what, const char *who, size_t len,
		    unsigned window_s, store_limit_cb cb, void *arg)
{
	OPEN("limit_hit", " %s %.*s window=%u", limit_name(what), (int)len, who, window_s);
	struct pend *p = pend_new(st, RK_LIMIT, arg);

	p->cb.limit = cb;
	if (how != EF_TIMEOUT) {
		char key[128];
		struct counter *c;

		snprintf(key, sizeof(key), "limit:%s:%.*s", limit_name(what), (int)len, who);
		c = counter_of(st, key, true);
		if (++c->count == 1 || c->expires_ms == 0)
			c->expires_ms = now_ms() + (long long)window_s * 1000;
		p->a = c->count;
		p->b = c->expires_ms - now_ms();
		add(l, " => %lld, %lld ms left", p->a, p->b);
	}
	return queue(st, p, l, how);
}

static const char *const verify_names[] = {
	[STORE_VERIFY_NONE] = "none", [STORE_VERIFY_MATCH] = "match",
	[STORE_VERIFY_MISMATCH] = "mismatch", [STORE_VERIFY_LOCKED] = "locked",
	[STORE_VERIFY_PEEKED] = "peeked",
};

/* verify_script: the try counted, the candidate compared with what the record holds
 * (stored NULL: no record), a match or no record giving the try back. */
static void verify(struct store *st, struct pend *p, struct line *l, const char *ckey,
		   const void *stored, size_t storedlen, const void *cand, size_t candlen,
		   unsigned tries, unsigned window_s)
{
	struct counter *c;
	long long n;

	if (candlen == 0) {
		c = counter_of(st, ckey, false);
		n = c ? c->count : 0;
		if (n >= (long long)tries) {
			p->res = STORE_VERIFY_LOCKED;
			p->b = c->expires_ms - now_ms();
		} else {
			p->res = STORE_VERIFY_PEEKED;
			p->a = (long long)tries - n;
		}
		goto out;
	}
	c = counter_of(st, ckey, true);
	n = ++c->count;
	if (n == 1)
		c->expires_ms = now_ms() + (long long)window_s * 1000;
	if (n > (long long)tries) {
		c->count--;
		p->res = STORE_VERIFY_LOCKED;
		p->b = c->expires_ms - now_ms();
		goto out;
	}
	if (stored == NULL || storedlen < candlen) {
		c->count--;
		p->res = STORE_VERIFY_NONE;
		p->a = (long long)tries - n + 1;
		goto out;
	}
	if (memcmp(stored, cand, candlen) == 0) {
		c->count--;
		p->res = STORE_VERIFY_MATCH;
		p->a = (long long)tries - n + 1;
		goto out;
	}
	p->res = STORE_VERIFY_MISMATCH;
	p->a = (long long)tries - n;
	p->b = c->expires_ms - now_ms();
out:
	add(l, " => %s, %lld left, %lld ms", verify_names[p->res], p->a, p->b);
}

int store_verify_kyc(struct store *st, uint64_t msisdn, const char *who, const void *cand,
		     size_t candlen, bool tail, unsigned tries, unsigned window_s,
		     store_verify_cb cb, void *arg)
{
	OPEN("verify_kyc", " +%llu %s %s%s tries=%u window=%u", (unsigned long long)msisdn, who,
	     candlen ? (tail ? "tail" : "full") : "empty", candlen ? " digest" : "", tries,
	     window_s);
	struct pend *p = pend_new(st, RK_VERIFY, arg);

	p->cb.verify = cb;
	if (how != EF_TIMEOUT) {
		const struct kyc_digest *d = NULL;
		char ckey[128];

		for (size_t i = 0; i < st->nkyc; i++)
			if (st->kyc[i].msisdn == msisdn)
				d = &st->kyc[i].d;
		snprintf(ckey, sizeof(ckey), "vf:kyc:%llu:%s", (unsigned long long)msisdn, who);
		verify(st, p, l, ckey, d ? (tail ? d->tail : d->full) : NULL,
		       d ? (tail ? KYC_TAIL_LEN : KYC_FULL_LEN) : 0, cand, candlen, tries,
		       window_s);
	}
	return queue(st, p, l, how);
}

int store_verify_pin(struct store *st, const char *imei, const char *who, const char *digest,
		     size_t len, unsigned tries, unsigned window_s, store_verify_cb cb, void *arg)
{
	OPEN("verify_pin", " %s %s %.*s tries=%u window=%u", imei, who, (int)len, digest, tries,
	     window_s);
	struct pend *p = pend_new(st, RK_VERIFY, arg);

	p->cb.verify = cb;
	if (how != EF_TIMEOUT) {
		const char *pin = rep_get(report_of(st, imei), "pin");
		char ckey[128];

		snprintf(ckey, sizeof(ckey), "vf:pin:%s:%s", imei, who);
		verify(st, p, l, ckey, pin, pin ? strlen(pin) : 0, digest, len, tries, window_s);
	}
	return queue(st, p, l, how);
}

/* ---- one-time codes (issue 18) ------------------------------------------------------------ */

static size_t otp_slot(struct store *st, const char *line, const char *who, bool create)
{
	char key[64];

	snprintf(key, sizeof(key), "otp:%s:%s", line, who);
	for (size_t i = 0; i < st->notps; i++)
		if (strcmp(st->otps[i].key, key) == 0)
			return i;
	if (!create || st->notps == sizeof(st->otps) / sizeof(st->otps[0]))
		return (size_t)-1;
	memset(&st->otps[st->notps], 0, sizeof(st->otps[0]));
	snprintf(st->otps[st->notps].key, sizeof(st->otps[0].key), "%s", key);
	return st->notps++;
}

/* The code's SMS as the transcript shows it: its 6-digit code hidden (it is random). */
static void add_masked(struct line *l, const char *s, size_t len)
{
	char buf[512];
	size_t n = len < sizeof(buf) - 1 ? len : sizeof(buf) - 1;

	memcpy(buf, s, n);
	buf[n] = '\0';
	for (size_t i = 0; i + 6 <= n; i++)
		if (strspn(buf + i, "0123456789") == 6 && (i == 0 || buf[i - 1] < '0' ||
							     buf[i - 1] > '9')) {
			memset(buf + i, '#', 6);
			i += 5;
		}
	add_bytes(l, buf, n);
}

int store_otp_issue(struct store *st, const struct store_otp *o, store_otp_cb cb, void *arg)
{
	OPEN("otp_issue", " %s %s by %s ttl=%u max=%u/%u tries=%u %s to %s: ", o->line, o->who,
	     o->requester, o->ttl_s, o->max_codes, o->window_s, o->tries, o->stream, o->sms.to);
	struct pend *p = pend_new(st, RK_OTP, arg);

	add_masked(l, o->sms.text, o->sms.len);
	p->cb.otp = cb;
	if (how != EF_TIMEOUT) {
		size_t i = otp_slot(st, o->line, o->who, true);
		char ckey[128];
		struct counter *c;
		long long now = now_ms();

		snprintf(ckey, sizeof(ckey), "otp:%s:%s:sent", o->line, o->who);
		c = counter_of(st, ckey, true);
		if (c->expires_ms && c->expires_ms <= now)
			c->count = 0, c->expires_ms = 0;
		if (st->otps[i].d[0] && st->otps[i].expires_ms > now &&
		    st->otps[i].n >= (long long)o->tries) {
			p->res = (enum store_verify_result)STORE_OTP_LOCKED;
			p->a = st->otps[i].expires_ms - now;
			add(l, " => locked, %lld ms", p->a);
		} else if (c->count >= (long long)o->max_codes) {
			p->res = (enum store_verify_result)STORE_OTP_LIMITED;
			p->a = c->expires_ms - now;
			add(l, " => limited, %lld ms", p->a);
		} else {
			if (++c->count == 1)
				c->expires_ms = now + (long long)o->window_s * 1000;
			snprintf(st->otps[i].d, sizeof(st->otps[i].d), "%.*s", (int)o->digestlen,
				 o->digest);
			snprintf(st->otps[i].by, sizeof(st->otps[i].by), "%s", o->requester);
			st->otps[i].n = 0;
			st->otps[i].expires_ms = now + (long long)o->ttl_s * 1000;
			snprintf(st->otps[i].text, sizeof(st->otps[i].text), "%.*s",
				 (int)o->sms.len, o->sms.text);
			p->res = (enum store_verify_result)STORE_OTP_SENT;
			p->a = (long long)o->ttl_s * 1000;
			add(l, " => sent, code %lld ms", p->a);
		}
	}
	return queue(st, p, l, how);
}

int store_verify_otp(struct store *st, const char *line, const char *who, const char *requester,
		     const char *digest, size_t len, unsigned tries, store_verify_cb cb, void *arg)
{
	OPEN("verify_otp", " %s %s by %s digest tries=%u", line, who, requester, tries);
	struct pend *p = pend_new(st, RK_VERIFY, arg);

	p->cb.verify = cb;
	if (how != EF_TIMEOUT) {
		size_t i = otp_slot(st, line, who, false);
		long long now = now_ms();

		if (i == (size_t)-1 || st->otps[i].d[0] == '\0' || st->otps[i].expires_ms <= now ||
		    strcmp(st->otps[i].by, requester) != 0) {
			p->res = STORE_VERIFY_NONE;
		} else if (st->otps[i].n >= (long long)tries) {
			p->res = STORE_VERIFY_LOCKED;
			p->b = st->otps[i].expires_ms - now;
		} else if (strlen(st->otps[i].d) == len && memcmp(st->otps[i].d, digest, len) == 0) {
			p->res = STORE_VERIFY_MATCH;
			p->a = (long long)tries - st->otps[i].n;
			st->otps[i].d[0] = '\0';
		} else {
			p->res = STORE_VERIFY_MISMATCH;
			p->a = (long long)tries - ++st->otps[i].n;
			p->b = st->otps[i].expires_ms - now;
		}
		add(l, " => %s, %lld left, %lld ms", verify_names[p->res], p->a, p->b);
	}
	return queue(st, p, l, how);
}

const char *estore_otp_code(struct store *st, const char *line, const char *who, char out[7])
{
	size_t i = otp_slot(st, line, who, false);
	const char *t = i == (size_t)-1 ? "" : st->otps[i].text;

	out[0] = '\0';
	for (size_t k = 0; t[k]; k++)
		if (strspn(t + k, "0123456789") == 6 && (k == 0 || t[k - 1] < '0' || t[k - 1] > '9')) {
			memcpy(out, t + k, 6);
			out[6] = '\0';
			break;
		}
	return out;
}
