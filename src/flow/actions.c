/* The actions the flows name (flow.h): check, handsets, link, kyc, report, status, unblock,
 * language; the SMS command parser; the JSON API's check; the CEIR results. Each action is
 * a short chain of store operations ending in one of its outcomes (outcomes.h), as in
 * run_finish(r, CHECK_CLEAN). The order of the report's steps (reserve the reference, open
 * the report, record the evidence, enqueue with the decision's request id, mark it sent)
 * makes every step safe to repeat: a retry or a restart in the middle never queues a
 * decision twice (doc/ceir-queue.md). */
#include "flow/engine_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <talloc.h>

#include "core/logging.h"
#include "core/metrics.h"
#include "domain/imei.h"
#include "domain/kyc.h"
#include "domain/report.h"
#include "store/pairs.h"
#include "store/store.h"

#define DEDUP_REMEMBER_S (30u * 86400u)
#define DAYS_1970_TO_2000 10957

static void fail_store(struct run *r, int err)
{
	if (err != -EAGAIN)
		LOGP(LOGC_FLOW, LOGL_ERROR, "%s: store: %s", r->tag, strerror(-err));
	run_finish_unavailable(r);
}

/* An action that fails before its first store operation answers later, from the loop. */
static void finish_deferred_unavailable(struct run *r, int err)
{
	fail_store(r, err);
}

static void defer_fail(struct run *r, int err)
{
	r->deferred_err = err;
	run_defer(r, finish_deferred_unavailable);
}

/* ---- helpers ------------------------------------------------------------------------------ */

static unsigned today(void)
{
	return (unsigned)(time(NULL) / 86400 - DAYS_1970_TO_2000);
}

static uint64_t e164_number(const char *e164)
{
	return strtoull(e164 + (e164[0] == '+'), NULL, 10);
}

static uint64_t imei_body(const char *imei15)
{
	char b[15];

	memcpy(b, imei15, 14);
	b[14] = '\0';
	return strtoull(b, NULL, 10);
}

static void iso_time(time_t t, char out[24])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 24, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void date_of(long long t, char out[11])
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t <= 0) {
		out[0] = '\0';
		return;
	}
	gmtime_r(&tt, &tm);
	strftime(out, 11, "%Y-%m-%d", &tm);
}

static bool random_digits(char *out, size_t n)
{
	uint8_t b[32];

	if (n > sizeof(b) || getrandom(b, n, 0) != (ssize_t)n)
		return false;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)('0' + b[i] % 10);	/* 256 % 10 = 6: a bias of 2.4 %, fine for
							 * a PIN that also locks out */
	out[n] = '\0';
	return true;
}

/* A secret is kept as a keyed digest (HMAC-SHA-256 with the KYC key, its first 8 bytes in
 * hex) of "kind:bound:secret", bound to what it is for: a PIN to its reference, a one-time
 * code to the line. */
static void keyed_digest(const struct engine *e, const char *kind, const char *bound,
			 const char *secret, char out[17])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	char msg[64];
	int n = snprintf(msg, sizeof(msg), "%s:%s:%s", kind, bound, secret);

	/* The parts are bounded before (a reference, an E.164 line, a PIN or code of digits);
	 * were one not, the digest is 16 'x', which matches no stored (hex) one. */
	if (n < 0 || (size_t)n >= sizeof(msg)) {
		OPENSSL_cleanse(msg, sizeof(msg));
		memset(out, 'x', 16);
		out[16] = '\0';
		return;
	}
	HMAC(EVP_sha256(), e->kyc_key, (int)e->kyc_keylen, (const unsigned char *)msg,
	     (size_t)n, md, &mdlen);
	OPENSSL_cleanse(msg, sizeof(msg));
	for (int i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void pin_digest(const struct engine *e, const char *ref, const char *pin, char out[17])
{
	keyed_digest(e, "pin", ref, pin, out);
}

/* Sends an SMS of the engine's own to an E.164 number, rendered in lang. */
void run_send_sms(struct run *r, const char *to, const char *key)
{
	char text[1024];
	int n = run_render_key(r, key, text, sizeof(text));
	char masked[32];

	if (n <= 0)
		return;
	msisdn_mask(to, strlen(to), masked, sizeof(masked));
	if (r->e->sms.send == NULL) {
		/* Warned once at start; a warning per report would flood the log under load. */
		LOGP(LOGC_FLOW, LOGL_INFO, "%s: no SMS path configured (sendsms-url): %s to %s "
		     "not sent", r->tag, key, masked);
		return;
	}
	r->e->stats.sms_sent++;
	LOGP(LOGC_FLOW, LOGL_INFO, "%s: SMS %s to %s", r->tag, key, masked);
	r->e->sms.send(r->e->sms.arg, to, text, (size_t)n);
}

/* ---- rate limits ---------------------------------------------------------------------- */

typedef void (*next_fn)(struct run *r);

struct rate_step {
	struct run *r;
	next_fn next;
	unsigned hits;
	int metric;		/* ML_*: the setting that counts it, for ceirgw_refusals_total */
	const char *what;	/* limit.<what>: the text that names what was counted */
	enum flow_outcome limited;	/* the action's "limited" */
};

/* {minutes} of a wait of ms milliseconds, rounded up: "1" at least. */
static void minutes_of(struct run *r, long long ms)
{
	long long m = ms > 0 ? (ms + 59999) / 60000 : 1;

	snprintf(r->minutes, sizeof(r->minutes), "%lld", m);
}

/* Whether count is over hits: the run then finishes limited (the setting metric counts it),
 * its refusal saying what was counted (the text limit.<what>) and when it ends (issue 15). */
static bool rate_over(struct run *r, long long count, long long ms_left, unsigned hits,
		      int metric, const char *what, enum flow_outcome limited)
{
	char key[40];

	if (count <= (long long)hits)
		return false;
	snprintf(key, sizeof(key), "limit.%s", what);
	LOGP(LOGC_FLOW, LOGL_NOTICE, "%s: rate limited (%s)", r->tag, what);
	METRIC_INC1(refusals, metric);
	minutes_of(r, ms_left);
	run_render_key(r, key, r->what, sizeof(r->what));
	run_finish(r, limited);
	return true;
}

static void on_rate(void *arg, int err, long long count, long long ms_left)
{
	struct rate_step rs = *(struct rate_step *)arg;

	talloc_free(arg);
	if (err < 0) {
		fail_store(rs.r, err);
		return;
	}
	if (!rate_over(rs.r, count, ms_left, rs.hits, rs.metric, rs.what, rs.limited))
		rs.next(rs.r);
}

/* The setting each kind of limit is configured by (store.h's enum store_limit). */
static const int rate_metric[] = {
	[STORE_LIMIT_CHECK] = ML_CHECK,
	[STORE_LIMIT_REPORT] = ML_REPORT,
	[STORE_LIMIT_VERIFY] = ML_VERIFY,
	[STORE_LIMIT_UNBLOCK] = ML_UNBLOCK,
	[STORE_LIMIT_RESEND] = ML_RESEND,
	[STORE_LIMIT_API] = ML_API,
	[STORE_LIMIT_OTP] = ML_OTP,
};

/* Counts a hit of the caller on the limit kind against rate; goes on with next, or
 * finishes limited with {what} (the text limit.<what>) and {minutes} set. */
static void rate(struct run *r, enum store_limit kind, const struct config_rate *rt,
		 const char *what, enum flow_outcome limited, next_fn next)
{
	struct rate_step *rs = talloc_zero(r, struct rate_step);
	int rc;

	if (rs == NULL) {
		defer_fail(r, -ENOMEM);
		return;
	}
	rs->r = r;
	rs->next = next;
	rs->hits = rt->hits;
	rs->metric = rate_metric[kind];
	rs->what = what;
	rs->limited = limited;
	rc = store_limit_hit(r->e->st, kind, r->msisdn, strlen(r->msisdn), rt->seconds, on_rate,
			     rs);
	if (rc < 0) {
		talloc_free(rs);
		defer_fail(r, rc);
	}
}

/* ---- check ---------------------------------------------------------------------------- */

/* The check's own state: its three lookups (the national report, the pairings, what the
 * neighbours' feeds say) and the count of the caller's checks, all in flight at once and
 * answered in any order. */
struct check_ctx {
	struct run *r;
	int outstanding;
	int failed;
	bool counted;		/* the count is among them (not for the API: its keys' quota) */
	int count_err;
	long long count, ms_left;
	bool duplicated;
	enum report_state state;
	bool state_unknown;
	long long created;
	char reason[sizeof(((struct sess *)0)->reason)];	/* the report's, for the session */
};

static void check_decide(struct check_ctx *cx)
{
	struct run *r = cx->r;
	struct check_ctx c = *cx;
	const struct config_rate *rt = &r->e->cfg->rate_check_msisdn;

	talloc_free(cx);
	if (c.counted) {
		/* The count decides first: a check it refuses was looked up for nothing. */
		if (c.count_err < 0) {
			fail_store(r, c.count_err);
			return;
		}
		if (rate_over(r, c.count, c.ms_left, rt->hits, ML_CHECK, "checks", CHECK_LIMITED))
			return;
		r->e->stats.checks++;
	}
	if (c.reason[0])
		snprintf(r->s.reason, sizeof(r->s.reason), "%s", c.reason);
	if (c.failed) {
		fail_store(r, c.failed);
		return;
	}
	run_set_model(r);
	if (c.state == REPORT_BLOCKED || c.state == REPORT_UNBLOCK_SENT) {
		/* Why it is blocked, and since when: a buyer is told not to buy it (issue 18). */
		date_of(c.created, r->date);
		run_finish(r, CHECK_BLOCKED);
	} else if (report_state_open(c.state) || c.state_unknown) {
		date_of(c.created, r->date);
		run_finish(r, strcmp(r->s.reason, "lost") == 0 ? CHECK_LOST : CHECK_STOLEN);
	} else if (r->nforeign > 0) {
		/* Blocked abroad, and no report here (issue 19): the newest neighbour's decision
		 * is told (check_on_foreign sorted them); the API lists them all. */
		const struct foreign_rec *f = &r->foreign[0];

		memcpy(r->country, f->country, 2);
		r->country[2] = '\0';
		pairs_format_date(f->day, r->date);
		run_finish(r, f->reason == 'L' ? CHECK_FOREIGN_LOST : CHECK_FOREIGN_STOLEN);
	} else if (c.duplicated) {
		run_finish(r, CHECK_DUPLICATED);
	} else if (r->maker[0] == '\0') {
		run_finish(r, CHECK_UNKNOWN);
	} else {
		run_finish(r, CHECK_CLEAN);
	}
}

static void check_on_report(void *arg, int err, const struct store_kv *kv, size_t n)
{
	struct check_ctx *cx = arg;
	struct report rep;

	if (err < 0)
		cx->failed = err;
	report_decode(&rep, kv, n);
	cx->state = rep.state;
	cx->state_unknown = rep.state_unknown;
	cx->created = rep.created;
	snprintf(cx->reason, sizeof(cx->reason), "%s", rep.reason);
	if (--cx->outstanding == 0)
		check_decide(cx);
}

static void check_on_pairings(void *arg, int err, const struct pair_rec *recs, size_t n)
{
	struct check_ctx *cx = arg;
	const struct ceirgw_config *cfg = cx->r->e->cfg;

	if (err < 0)
		cx->failed = err;
	else
		cx->duplicated = pairs_duplicated(recs, n, (unsigned)cfg->duplicate_min_ids,
						  cfg->duplicate_by_imsi);
	if (--cx->outstanding == 0)
		check_decide(cx);
}

/* Newest decision first; on the same day, by country code (the same order every time). */
static int foreign_newest_first(const void *a, const void *b)
{
	const struct foreign_rec *x = a, *y = b;

	if (x->day != y->day)
		return x->day > y->day ? -1 : 1;
	return memcmp(x->country, y->country, 2);
}

static void check_on_foreign(void *arg, int err, const struct foreign_rec *recs, size_t n)
{
	struct check_ctx *cx = arg;
	struct run *r = cx->r;

	if (err < 0) {
		cx->failed = err;
	} else {
		if (n > PAIRS_FOREIGN_MAX)
			n = PAIRS_FOREIGN_MAX;
		if (n)
			memcpy(r->foreign, recs, n * sizeof(*recs));
		r->nforeign = n;
		qsort(r->foreign, n, sizeof(r->foreign[0]), foreign_newest_first);
	}
	if (--cx->outstanding == 0)
		check_decide(cx);
}

static void check_on_count(void *arg, int err, long long count, long long ms_left)
{
	struct check_ctx *cx = arg;

	cx->count_err = err;
	cx->count = count;
	cx->ms_left = ms_left;
	if (--cx->outstanding == 0)
		check_decide(cx);
}

/* Sends the check's lookups, after its count of the caller's checks when counted, without
 * waiting for the count's answer: they are reads, so a check the count refuses only read them
 * for nothing, and every other saves a round trip (issue 21). */
static void check_lookup(struct run *r, bool counted)
{
	struct check_ctx *cx = talloc_zero(r, struct check_ctx);
	const struct config_rate *rt = &r->e->cfg->rate_check_msisdn;
	int rc;

	if (cx == NULL) {
		defer_fail(r, -ENOMEM);
		return;
	}
	cx->r = r;
	cx->counted = counted;
	/* The neighbours' decisions only where there are neighbours (feed-peer groups). */
	cx->outstanding = r->e->cfg->npeers ? 3 : 2;
	r->nforeign = 0;
	if (counted) {
		rc = store_limit_hit(r->e->st, STORE_LIMIT_CHECK, r->msisdn, strlen(r->msisdn),
				     rt->seconds, check_on_count, cx);
		if (rc < 0) {
			talloc_free(cx);
			defer_fail(r, rc);
			return;
		}
		cx->outstanding++;
	} else {
		r->e->stats.checks++;
	}
	rc = store_report_get(r->e->st, r->s.imei, check_on_report, cx);
	if (rc < 0 && counted) {
		/* The count's answer is on its way: it finishes the action. */
		cx->failed = rc;
		cx->outstanding -= r->e->cfg->npeers ? 3 : 2;
		return;
	}
	if (rc < 0) {
		talloc_free(cx);
		defer_fail(r, rc);
		return;
	}
	/* The report's answer is on its way: a lookup refused at once lets it (or the
	 * pairings') finish the action, unavailable. */
	rc = store_imei_pairings(r->e->st, imei_body(r->s.imei), check_on_pairings, cx);
	if (rc < 0) {
		cx->failed = rc;
		/* The neighbours' records are not asked for either. */
		cx->outstanding -= r->e->cfg->npeers ? 2 : 1;
		return;
	}
	if (r->e->cfg->npeers == 0)
		return;
	rc = store_foreign_get(r->e->st, imei_body(r->s.imei), check_on_foreign, cx);
	if (rc < 0) {
		cx->failed = rc;
		cx->outstanding--;
	}
}

/* Why the session's IMEI (as typed) is not an IMEI, as the imei_why action's outcome, or
 * IMEI_WHY_VALID with the IMEI made its 15 digits; a length or digits fault empties it (the
 * session keeps no input that is no IMEI at all). act_check and act_imei_why (a screen that
 * asks again) give the same reasons from here. */
static enum flow_outcome imei_why(struct run *r)
{
	struct imei im;

	imei_parse(r->s.imei, strlen(r->s.imei), &im);
	if (r->imei_raw_len > sizeof(r->s.imei) - 1 && im.reason != IMEI_NOT_DIGITS)
		im.reason = IMEI_TOO_LONG;
	switch (im.reason) {
	case IMEI_OK:
		snprintf(r->s.imei, sizeof(r->s.imei), "%s", im.imei);
		return IMEI_WHY_VALID;
	case IMEI_TOO_SHORT:
	case IMEI_TOO_LONG:
		r->s.imei[0] = '\0';
		return IMEI_WHY_INVALID_LENGTH;
	case IMEI_BAD_CHECK_DIGIT:
		return IMEI_WHY_INVALID_CHECK;
	case IMEI_RESERVED:
		return IMEI_WHY_INVALID_RESERVED;
	case IMEI_NOT_DIGITS:
		break;
	}
	r->s.imei[0] = '\0';
	return IMEI_WHY_INVALID_DIGITS;
}

static void act_check(struct run *r)
{
	switch (imei_why(r)) {
	case IMEI_WHY_VALID:
		break;
	case IMEI_WHY_INVALID_LENGTH:
		run_finish(r, CHECK_INVALID_LENGTH);
		return;
	case IMEI_WHY_INVALID_CHECK:
		run_finish(r, CHECK_INVALID_CHECK);
		return;
	case IMEI_WHY_INVALID_RESERVED:
		run_finish(r, CHECK_INVALID_RESERVED);
		return;
	default:
		run_finish(r, CHECK_INVALID_DIGITS);
		return;
	}
	/* Counted per caller only: a budget per IMEI would let strangers' checks refuse every
	 * buyer's check of that phone (issue 15). The API's callers are its keys, with their
	 * quota (channel/api.c). */
	check_lookup(r, r->ch != EC_API);
}

/* ---- imei_why: why an input was not an IMEI -------------------------------------------- */

/* The reasons of act_check, for a screen that asks again and says which (issue 18): an
 * invalid IMEI keeps the session. Pure: nothing is looked up or counted. */
static void act_imei_why(struct run *r)
{
	run_finish(r, imei_why(r));
}

/* ---- a number's phones, one lookup each ------------------------------------------------- */

/* The handsets and my_reports actions look at the newest phones the operators' data pairs
 * with a number (store_msisdn_handsets, newest last), one store lookup each, all at once. The
 * fan-out is the same for both: a context that begins with struct fan, a start per candidate
 * (its store operation, whose answer ends in fan_answered), and a done once every lookup
 * answered without an error (done frees the context). */
#define FAN_MAX 16
struct fan;
struct fan_cand;
typedef int (*fan_start_fn)(struct fan_cand *cc);
typedef void (*fan_done_fn)(struct fan *f);
struct fan {
	struct run *r;
	fan_start_fn start;
	fan_done_fn done;
	unsigned max;			/* the newest this many of the number's phones */
	int outstanding;
	int failed;
	unsigned ncand;
	uint64_t cand[FAN_MAX];
};

/* One candidate's lookup: its fan and which candidate it is (a talloc child of the fan). */
struct fan_cand {
	struct fan *f;
	unsigned i;
};

/* Every lookup answered: done, or the run fails with the error of one of them (f freed). */
static void fan_end(struct fan *f)
{
	struct run *r = f->r;
	int err = f->failed;

	if (err == 0) {
		f->done(f);
		return;
	}
	talloc_free(f);
	fail_store(r, err);
}

/* A lookup answered (err < 0: it failed; cc, its arg, is freed here); the last one ends the
 * fan. */
static void fan_answered(struct fan_cand *cc, int err)
{
	struct fan *f = cc->f;

	talloc_free(cc);
	if (err < 0)
		f->failed = err;
	if (--f->outstanding == 0)
		fan_end(f);
}

/* Candidate i's lookup started, its fan_cand the store operation's arg. Returns 0 or a
 * negative errno. */
static int fan_start(struct fan *f, unsigned i)
{
	struct fan_cand *cc = talloc_zero(f, struct fan_cand);
	int rc;

	if (cc == NULL)
		return -ENOMEM;
	*cc = (struct fan_cand){ .f = f, .i = i };
	rc = f->start(cc);
	if (rc < 0)
		talloc_free(cc);
	return rc;
}

/* The number's phones listed: the newest max of them looked up. f is freed here on a failed
 * list, else by done. */
static void fan_on_list(void *arg, int err, const uint64_t *bodies, size_t n)
{
	struct fan *f = arg;
	size_t first = n > f->max ? n - f->max : 0;

	if (err < 0) {
		struct run *r = f->r;

		talloc_free(f);
		fail_store(r, err);
		return;
	}
	for (size_t i = first; i < n && f->ncand < FAN_MAX; i++)
		f->cand[f->ncand++] = bodies[i];
	if (f->ncand == 0) {
		fan_end(f);
		return;
	}
	f->outstanding = (int)f->ncand;
	for (unsigned i = 0; i < f->ncand; i++) {
		int rc = fan_start(f, i);

		if (rc < 0) {
			f->failed = rc;
			if (--f->outstanding == 0) {
				fan_end(f);	/* from a store answer: not reentrant */
				return;
			}
		}
	}
}

/* Looks up the phones of number (E.164 digits), then each of the newest max of them with
 * start. size is that of the action's context, which begins with struct fan; it is a talloc
 * child of r, named name, freed by done. Returns 0 or a negative errno (nothing started). */
static int fan_list(struct run *r, const char *number, size_t size, const char *name,
		    fan_start_fn start, fan_done_fn done, unsigned max)
{
	struct fan *f = talloc_zero_size(r, size);
	int rc;

	if (f == NULL)
		return -ENOMEM;
	talloc_set_name_const(f, name);
	*f = (struct fan){ .r = r, .start = start, .done = done, .max = max };
	rc = store_msisdn_handsets(r->e->st, e164_number(number), fan_on_list, f);
	if (rc < 0)
		talloc_free(f);
	return rc;
}

/* ---- handsets ------------------------------------------------------------------------- */

/* The handsets action's own state: the phones the owner's number was seen with lately
 * (at most HANDSETS_CAND, newest last), each checked for the owner within the window. */
#define HANDSETS_CAND 8
struct handsets_ctx {
	struct fan fan;			/* first: a fan is its context */
	bool cand_ok[HANDSETS_CAND];
};

static void handsets_done(struct fan *f)
{
	struct handsets_ctx *hc = (struct handsets_ctx *)f;
	struct run *r = f->r;
	unsigned i;

	/* Newest first; the screen shows as many as fit (journey.c). */
	r->s.nhandsets = 0;
	for (i = f->ncand; i-- > 0 && r->s.nhandsets < SESS_HANDSETS_MAX;)
		if (hc->cand_ok[i])
			r->s.handsets[r->s.nhandsets++] = f->cand[i];
	talloc_free(hc);
	run_build_handsets(r);
	run_finish(r, r->s.nhandsets ? HANDSETS_SOME : HANDSETS_NONE);
}

static void handsets_on_pairings(void *arg, int err, const struct pair_rec *recs, size_t n)
{
	struct fan_cand *cc = arg;
	struct handsets_ctx *hc = (struct handsets_ctx *)cc->f;
	struct run *r = cc->f->r;
	uint64_t owner = e164_number(r->s.owner);
	unsigned from = today() - (unsigned)r->e->cfg->ownership_window_days;

	for (size_t k = 0; err >= 0 && k < n; k++)
		if (recs[k].msisdn == owner && recs[k].last_seen >= from)
			hc->cand_ok[cc->i] = true;
	fan_answered(cc, err);
}

static int handsets_start(struct fan_cand *cc)
{
	return store_imei_pairings(cc->f->r->e->st, cc->f->cand[cc->i], handsets_on_pairings, cc);
}

static void act_handsets(struct run *r)
{
	int rc;

	if (r->s.owner[0] == '\0')
		snprintf(r->s.owner, sizeof(r->s.owner), "%s", r->msisdn);
	rc = fan_list(r, r->s.owner, sizeof(struct handsets_ctx), "struct handsets_ctx",
		      handsets_start, handsets_done, HANDSETS_CAND);
	if (rc < 0)
		defer_fail(r, rc);
}

static void act_pick_handset(struct run *r)
{
	if (r->pick < 1 || r->pick > r->s.nhandsets) {
		run_finish(r, PICK_HANDSET_INVALID);
		return;
	}
	run_imei_of_body(r->s.handsets[r->pick - 1], r->s.imei);
	run_finish(r, PICK_HANDSET_DONE);
}

/* ---- link: the IMEI was used with the owner's number within the window ----------------- */

/* What the link finds is kept in the session and told only after the ID digits match
 * (kyc_decide): told at once, it would show anyone who types a number and an IMEI whether
 * the two are paired, and give a stranger the reference of a reported phone (issue 15). */
static void link_on_pairings(void *arg, int err, const struct pair_rec *recs, size_t n)
{
	struct run *r = arg;
	uint64_t owner = e164_number(r->s.owner);
	unsigned from = today() - (unsigned)r->e->cfg->ownership_window_days, best = 0;

	if (err < 0) {
		fail_store(r, err);
		return;
	}
	for (size_t k = 0; k < n; k++)
		if (recs[k].msisdn == owner && recs[k].last_seen >= from &&
		    recs[k].last_seen >= best)
			best = recs[k].last_seen ? recs[k].last_seen : 1;
	snprintf(r->s.link_owner, sizeof(r->s.link_owner), "%s", r->s.owner);
	memcpy(r->s.link_imei, r->s.imei, 15);
	r->s.link_imei[15] = '\0';
	r->s.last_seen = best;
	if (best == 0) {
		LOGP(LOGC_FLOW, LOGL_INFO, "%s: IMEI %.8s... not linked to the owner within %ld "
		     "days", r->tag, r->s.imei, r->e->cfg->ownership_window_days);
		r->s.link_state = 'n';
	} else if (r->s.link_state != 'r' && r->s.link_state != 'o') {
		r->s.link_state = 'y';
	}
	run_finish(r, LINK_LINKED);
}

static void link_on_report(void *arg, int err, const struct store_kv *kv, size_t n)
{
	struct run *r = arg;
	struct report rep;
	int rc;

	if (err < 0) {
		fail_store(r, err);
		return;
	}
	report_decode(&rep, kv, n);
	/* An open report that got as far as the CEIR (or in a state this version does not
	 * know). One still received or verified was left by a journey that stopped half-way;
	 * the report action completes it. */
	r->s.link_state = '\0';
	r->s.ref[0] = '\0';
	if (rep.state == REPORT_SENT || rep.state == REPORT_BLOCKED ||
	    rep.state == REPORT_UNBLOCK_SENT || rep.state_unknown) {
		if (strcmp(rep.owner, r->s.owner) == 0) {
			snprintf(r->s.ref, sizeof(r->s.ref), "%s", rep.ref);
			r->s.link_state = 'r';
		} else {
			r->s.link_state = 'o';
		}
	}
	rc = store_imei_pairings(r->e->st, imei_body(r->s.imei), link_on_pairings, r);
	if (rc < 0)
		fail_store(r, rc);
}

static void link_lookup(struct run *r)
{
	int rc = store_report_get(r->e->st, r->s.imei, link_on_report, r);

	if (rc < 0)
		defer_fail(r, rc);	/* the action's first store operation */
}

static void act_link(struct run *r)
{
	struct imei im;

	/* The owner is the caller unless a question named another (one a back withdrew, too). */
	if (r->s.owner[0] == '\0')
		snprintf(r->s.owner, sizeof(r->s.owner), "%s", r->msisdn);
	imei_parse(r->s.imei, strlen(r->s.imei), &im);
	if (!im.valid || r->s.owner[0] == '\0') {
		run_finish(r, LINK_INVALID);
		return;
	}
	snprintf(r->s.imei, sizeof(r->s.imei), "%s", im.imei);
	/* A new link starts a new proof: the ID digits are matched after it (kyc), whatever
	 * matched before it (a journey gone back to the IMEI or the owner). */
	r->s.link_state = '\0';
	r->s.link_owner[0] = r->s.link_imei[0] = r->s.kyc_owner[0] = r->s.otp_owner[0] = '\0';
	/* Not counted: it tells nothing before the ID digits match (which are counted), and a
	 * report is counted when it is submitted (act_report), not each time someone opens the
	 * list or goes back to it (issue 18). */
	link_lookup(r);
}

/* ---- kyc: the national ID digits on record --------------------------------------------- */

/* The caller proved to hold the owner's line or ID: what the link found for this owner and
 * IMEI is told now, when there is something to tell: not linked, the owner's own report, or
 * another owner's (the outcome's). Returns false when there is not (a flow without a link
 * step: the report re-checks), the action's outcome the caller's then. */
static bool link_tell(struct run *r, enum flow_outcome not_linked, enum flow_outcome reported,
		      enum flow_outcome reported_other)
{
	if (strcmp(r->s.link_owner, r->s.owner) != 0 || strcmp(r->s.link_imei, r->s.imei) != 0)
		return false;
	switch (r->s.link_state) {
	case 'n':
		run_finish(r, not_linked);
		return true;
	case 'r':
		run_set_model(r);
		run_finish(r, reported);
		return true;
	case 'o':
		run_finish(r, reported_other);
		return true;
	default:
		return false;
	}
}

/* The ID digits matched: now what the link found may be told. */
static void kyc_decide(struct run *r)
{
	snprintf(r->s.kyc_owner, sizeof(r->s.kyc_owner), "%s", r->s.owner);
	if (!link_tell(r, KYC_NOT_LINKED, KYC_REPORTED, KYC_REPORTED_OTHER))
		run_finish(r, KYC_MATCH);
}

/* ---- verify_mode, otp_send, otp_check: a one-time code to the owner's line (issue 18) --- */

static void act_police_given(struct run *r)
{
	run_finish(r, r->s.police[0] ? POLICE_GIVEN_GIVEN : POLICE_GIVEN_NONE);
}

static void act_verify_mode(struct run *r)
{
	switch (r->e->cfg->verify_mode) {
	case CONFIG_VERIFY_OTP:
		run_finish(r, VERIFY_MODE_OTP);
		return;
	case CONFIG_VERIFY_ID_OTP:
		run_finish(r, VERIFY_MODE_ID_OTP);
		return;
	case CONFIG_VERIFY_ID:
		break;
	}
	run_finish(r, VERIFY_MODE_ID);
}

/* Six digits, each of the 10^6 codes equally likely: a draw of 32 random bits at or above
 * the last whole multiple of 10^6 is drawn again (a bias would make some codes likelier). */
static bool otp_draw(char out[OTP_LEN + 1])
{
	const uint32_t lim = UINT32_MAX - UINT32_MAX % 1000000u;	/* (2^32-1) rounded down */
	uint32_t v;

	for (int i = 0; i < 16; i++) {
		if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1)
			return false;
		if (v < lim) {
			snprintf(out, OTP_LEN + 1, "%06u", (unsigned)(v % 1000000u));
			return true;
		}
	}
	return false;
}

static void otp_digest(const struct engine *e, const char *line, const char *code, char out[17])
{
	keyed_digest(e, "otp", line, code, out);
}

/* "own" when the caller is the owner's line: its codes have their own record and budget,
 * so that strangers can neither use it up nor replace the code it asked for. */
static const char *otp_who(const struct run *r)
{
	return strcmp(r->msisdn, r->s.owner) == 0 ? "own" : "oth";
}

static void otp_on_issue(void *arg, int err, enum store_otp_result res, long long ms)
{
	struct run *r = arg;
	char masked[32];

	if (err < 0) {
		fail_store(r, err);
		return;
	}
	switch (res) {
	case STORE_OTP_SENT:
		r->e->stats.sms_sent++;
		msisdn_mask(r->s.owner, strlen(r->s.owner), masked, sizeof(masked));
		LOGP(LOGC_FLOW, LOGL_INFO, "%s: one-time code to %s in the outbox", r->tag, masked);
		run_finish(r, OTP_SEND_SENT);
		return;
	case STORE_OTP_LIMITED:
		LOGP(LOGC_FLOW, LOGL_NOTICE, "%s: rate limited (one-time codes to the line)",
		     r->tag);
		minutes_of(r, ms);
		run_finish(r, OTP_SEND_LINE_LIMITED);
		return;
	case STORE_OTP_LOCKED:
		minutes_of(r, ms);
		run_finish(r, OTP_SEND_LOCKED);
		return;
	}
	fail_store(r, -EPROTO);
}

static void otp_issue(struct run *r)
{
	const struct ceirgw_config *cfg = r->e->cfg;
	char digest[17], text[1024];
	int n, rc;

	/* The SMS says how long the code lasts. */
	snprintf(r->minutes, sizeof(r->minutes), "%ld", (cfg->otp_ttl + 59) / 60);
	if (!otp_draw(r->otp_out)) {
		fail_store(r, -EIO);	/* from a store answer: not reentrant */
		return;
	}
	otp_digest(r->e, r->s.owner, r->otp_out, digest);
	n = run_render_key(r, "notify.otp", text, sizeof(text));
	OPENSSL_cleanse(r->otp_out, sizeof(r->otp_out));
	if (n <= 0) {
		fail_store(r, -EINVAL);
		return;
	}
	{
		struct store_otp o = {
			.line = r->s.owner, .who = otp_who(r), .requester = r->msisdn,
			.digest = digest, .digestlen = 16, .ttl_s = (unsigned)cfg->otp_ttl,
			.max_codes = cfg->rate_otp_line.hits,
			.window_s = cfg->rate_otp_line.seconds,
			.tries = (unsigned)cfg->verify_tries, .stream = r->e->sms.outbox,
			.sms = { r->s.owner, text, (size_t)n },
		};

		rc = store_otp_issue(r->e->st, &o, otp_on_issue, r);
	}
	OPENSSL_cleanse(text, sizeof(text));
	OPENSSL_cleanse(digest, sizeof(digest));
	if (rc < 0)
		fail_store(r, rc);
}

/* Sends a code to the owner's line (the number the link checked against the IMEI) through
 * the outbox: counted per caller first, then per line in the store's one step. */
static void act_otp_send(struct run *r)
{
	if (r->e->kyc_keylen == 0) {
		defer_fail(r, -ENOKEY);
		return;
	}
	if (r->s.owner[0] == '\0')
		snprintf(r->s.owner, sizeof(r->s.owner), "%s", r->msisdn);
	r->s.otp_owner[0] = '\0';
	if (r->e->sms.outbox == NULL || r->e->sms.send == NULL) {
		/* --check-config warns of it: a code that cannot leave proves nothing. */
		LOGP(LOGC_FLOW, LOGL_ERROR, "%s: verify-report needs an SMS path for its codes",
		     r->tag);
		defer_fail(r, -ENOTCONN);
		return;
	}
	rate(r, STORE_LIMIT_OTP, &r->e->cfg->rate_otp_msisdn, "otp", OTP_SEND_LIMITED,
	     otp_issue);
}

/* A secret that did not match, as store_verify_* answered (the OTP, the ID digits, a PIN):
 * not compared (PEEKED: not such a secret at all) or wrong with tries left, the outcome wrong
 * with the tries left in {tries}; wrong the last time, or LOCKED, the outcome locked with
 * {minutes} of the lock-out. what names the secret in the log, which names the run's report
 * where of_report. */
static void verify_refused(struct run *r, enum store_verify_result res, long long left,
			   long long ms_left, const char *what, bool of_report,
			   enum flow_outcome wrong, enum flow_outcome locked)
{
	if (res == STORE_VERIFY_PEEKED || (res == STORE_VERIFY_MISMATCH && left > 0)) {
		snprintf(r->tries, sizeof(r->tries), "%lld", left);
		run_finish(r, wrong);
		return;
	}
	if (res == STORE_VERIFY_MISMATCH && of_report)
		LOGP(LOGC_FLOW, LOGL_NOTICE, "%s: report %s: wrong %s %ld times: locked out",
		     r->rtag, run_ref_log(r), what, r->e->cfg->verify_tries);
	else if (res == STORE_VERIFY_MISMATCH)
		LOGP(LOGC_FLOW, LOGL_NOTICE, "%s: wrong %s %ld times: locked out", r->tag, what,
		     r->e->cfg->verify_tries);
	minutes_of(r, ms_left);
	run_finish(r, locked);
}

static void otp_on_verify(void *arg, int err, enum store_verify_result res, long long left,
			  long long ms_left)
{
	struct run *r = arg;

	if (err < 0) {
		fail_store(r, err);
		return;
	}
	switch (res) {
	case STORE_VERIFY_NONE:
	case STORE_VERIFY_PEEKED:
		run_finish(r, OTP_CHECK_EXPIRED);
		return;
	case STORE_VERIFY_MATCH:
		/* The caller holds the owner's line now: what the link found may be told. */
		snprintf(r->s.otp_owner, sizeof(r->s.otp_owner), "%s", r->s.owner);
		if (!link_tell(r, OTP_CHECK_NOT_LINKED, OTP_CHECK_REPORTED,
			       OTP_CHECK_REPORTED_OTHER))
			run_finish(r, OTP_CHECK_MATCH);
		return;
	case STORE_VERIFY_MISMATCH:
	case STORE_VERIFY_LOCKED:
		verify_refused(r, res, left, ms_left, "one-time code", false, OTP_CHECK_WRONG,
			       OTP_CHECK_LOCKED);
		return;
	}
}

static void act_otp_check(struct run *r)
{
	char digest[17];
	int rc;

	if (r->e->kyc_keylen == 0) {
		OPENSSL_cleanse(r->otp, sizeof(r->otp));
		defer_fail(r, -ENOKEY);
		return;
	}
	r->s.otp_owner[0] = '\0';
	if (r->s.owner[0] == '\0' || strlen(r->otp) != OTP_LEN) {
		OPENSSL_cleanse(r->otp, sizeof(r->otp));
		run_finish(r, OTP_CHECK_EXPIRED);
		return;
	}
	otp_digest(r->e, r->s.owner, r->otp, digest);
	OPENSSL_cleanse(r->otp, sizeof(r->otp));
	rc = store_verify_otp(r->e->st, r->s.owner, otp_who(r), r->msisdn, digest, 16,
			      (unsigned)r->e->cfg->verify_tries, otp_on_verify, r);
	OPENSSL_cleanse(digest, sizeof(digest));
	if (rc < 0)
		defer_fail(r, rc);
}

static void kyc_on_verify(void *arg, int err, enum store_verify_result res, long long left,
			  long long ms_left)
{
	struct run *r = arg;

	if (err < 0) {
		fail_store(r, err);
		return;
	}
	switch (res) {
	case STORE_VERIFY_NONE:
		run_finish(r, KYC_NO_RECORD);
		return;
	case STORE_VERIFY_MATCH:
		kyc_decide(r);
		return;
	case STORE_VERIFY_MISMATCH:
	case STORE_VERIFY_PEEKED:	/* not an ID: nothing compared or counted */
	case STORE_VERIFY_LOCKED:
		verify_refused(r, res, left, ms_left, "ID digits", false, KYC_MISMATCH, KYC_LOCKED);
		return;
	}
}

static void kyc_compare(struct run *r)
{
	uint8_t cand[KYC_FULL_LEN];
	bool tail = false;
	int len, rc;

	len = kyc_candidate(r->e->kyc_key, r->e->kyc_keylen, r->id, strlen(r->id), cand, &tail);
	OPENSSL_cleanse(r->id, sizeof(r->id));
	if (len < 0)
		len = 0;	/* not an ID at all: the store only reads the tries left */
	/* The owner's own line and every other line have separate budgets: strangers' wrong
	 * tries cannot lock the owner out of reporting from their own number, and together they
	 * never compare more than verify-tries candidates per owner and lock-out period. */
	rc = store_verify_kyc(r->e->st, e164_number(r->s.owner),
			      strcmp(r->msisdn, r->s.owner) == 0 ? "own" : "oth", cand,
			      (size_t)len, tail, (unsigned)r->e->cfg->verify_tries,
			      (unsigned)r->e->cfg->verify_lockout, kyc_on_verify, r);
	OPENSSL_cleanse(cand, sizeof(cand));
	if (rc < 0)
		fail_store(r, rc);
}

static void act_kyc(struct run *r)
{
	if (r->e->kyc_keylen == 0) {
		LOGP(LOGC_FLOW, LOGL_ERROR, "%s: no kyc-key-file: national IDs cannot be checked",
		     r->tag);
		defer_fail(r, -ENOKEY);
		return;
	}
	if (r->s.owner[0] == '\0')
		snprintf(r->s.owner, sizeof(r->s.owner), "%s", r->msisdn);
	r->s.kyc_owner[0] = '\0';
	/* Each caller's tries also count against the caller, whoever they name. */
	rate(r, STORE_LIMIT_VERIFY, &r->e->cfg->rate_verify_msisdn, "verify", KYC_LIMITED,
	     kyc_compare);
}

/* ---- report ------------------------------------------------------------------------------- */

/* Where the receipt (the reference and the unblock PIN) goes: to the owner's line when a
 * one-time code proved, in this journey, that the reporter on another line holds it now (a
 * replacement SIM: the code reached it); else to the reporter, as always. Never to an owner's
 * line only named: its SIM is often in the stolen phone, and the thief would get the PIN
 * (doc/trust.md). */
static const char *receipt_to(const struct run *r)
{
	if (r->s.owner[0] && strcmp(r->s.otp_owner, r->s.owner) == 0 &&
	    strcmp(r->msisdn, r->s.owner) != 0)
		return r->s.owner;
	return r->msisdn;
}

/* The evidence: whether the ID digits were proven ("no" only where verify-report = otp let a
 * one-time code prove the line instead). */
static const char *kyc_matched(const struct run *r)
{
	return strcmp(r->s.kyc_owner, r->s.owner) == 0 ? "yes" : "no";
}

static void report_sent(void *arg, int err, const char *s, size_t len, bool changed)
{
	struct run *r = arg;

	(void)s;
	(void)len;
	(void)changed;
	if (err < 0) {
		fail_store(r, err);
		return;
	}
	r->e->stats.reports_accepted++;
	store_report_open(r->e->st, r->s.imei, false, run_noop_done, NULL);
	LOGP(LOGC_FLOW, LOGL_NOTICE, "%s: report %s accepted, block request queued", r->rtag,
	     run_ref_log(r));
	run_set_model(r);
	/* The reference and the PIN go by SMS to the number the report came from, or to the
	 * owner's line a one-time code proved (receipt_to): already in the outbox when the
	 * channel has one (report_enqueued), else now. */
	if (r->e->sms.outbox == NULL)
		run_send_sms(r, receipt_to(r), "notify.receipt");
	else
		LOGP(LOGC_FLOW, LOGL_INFO, "%s: SMS notify.receipt in the outbox", r->tag);
	if (r->e->sms.send == NULL)
		run_finish(r, REPORT_ACCEPTED_NO_SMS);
	else
		run_finish(r, receipt_to(r) == r->msisdn ? REPORT_ACCEPTED :
			   REPORT_ACCEPTED_OWNER);
}

static void report_enqueued(void *arg, int err, const char *id, size_t len, bool changed)
{
	struct run *r = arg;
	struct store_kv kv[1] = { { "request_entry", 13, id, len } };
	int rc;

	if (err < 0) {
		fail_store(r, err);
		return;
	}
	if (changed)	/* a repeat answers the first entry: queued once, counted once */
		METRIC_INC1(ceir_enqueued, MK_BLOCK);
	if (r->e->sms.outbox && r->e->sms.send) {
		char text[1024];
		int n;

		run_set_model(r);
		n = run_render_key(r, "notify.receipt", text, sizeof(text));
		if (n > 0) {
			r->e->stats.sms_sent++;
			struct store_sms sms = { receipt_to(r), text, (size_t)n };

			rc = store_report_transition_sms(r->e->st, r->s.imei,
							 REPORT_EV_SEND_RECEIPT, kv, 1,
							 r->e->sms.outbox, &sms, 1, report_sent,
							 r);
			if (rc < 0)
				fail_store(r, rc);
			return;
		}
	}
	rc = store_report_transition(r->e->st, r->s.imei, REPORT_EV_SEND, kv, 1, report_sent,
				     r);
	if (rc < 0)
		fail_store(r, rc);
}

static void report_verified(void *arg, int err, const char *state, size_t len, bool changed)
{
	struct run *r = arg;
	char rid[32], now[24], last_seen[11], window[12], tac[9] = "";
	enum report_state st = report_state_parse(state, len);
	int rc;

	(void)changed;
	if (err < 0) {
		fail_store(r, err);
		return;
	}
	if (!changed && st != REPORT_VERIFIED && st != REPORT_SENT) {
		run_finish(r, REPORT_REPORTED);
		return;
	}
	run_set_model(r);
	memcpy(tac, r->s.imei, 8);
	iso_time(time(NULL), now);
	pairs_format_date((uint16_t)r->s.last_seen, last_seen);
	snprintf(window, sizeof(window), "%ld", r->e->cfg->ownership_window_days);
	snprintf(rid, sizeof(rid), "%s-block", r->s.ref);
	{
		const char *ch = r->ch == EC_USSD ? "ussd" : r->ch == EC_SMS ? "sms" : "api";
		struct store_kv kv[] = {
#define KV(k, v) { k, strlen(k), v, strlen(v) }
			KV("request_id", rid), KV("type", "block"), KV("ref", r->s.ref),
			KV("imei", r->s.imei), KV("tac", tac), KV("maker", r->maker),
			KV("model", r->model), KV("reporter_msisdn", r->msisdn),
			KV("owner_msisdn", r->s.owner), KV("rule", "pairing-window"),
			KV("last_seen", last_seen), KV("window_days", window),
			KV("kyc_matched", kyc_matched(r)), KV("reason", r->s.reason),
			KV("police_ref", r->s.police), KV("channel", ch),
			KV("reported_at", r->reported_at[0] ? r->reported_at : now),
			KV("requested_at", now),
			/* Last, and only when it holds: the owner's line proven by a one-time
			 * code (issue 18). */
			KV("otp_matched", "yes"),
#undef KV
		};
		size_t n = sizeof(kv) / sizeof(kv[0]) -
			   (strcmp(r->s.otp_owner, r->s.owner) != 0);

		rc = store_ceir_enqueue(r->e->st, r->e->cfg->ceir_requests, rid, DEDUP_REMEMBER_S,
					kv, n, report_enqueued, r);
	}
	if (rc < 0)
		fail_store(r, rc);
}

/* A half-done report is taken over only when it has not moved for this long: two reports
 * of the same phone by the same owner at once (the SMS sent twice) would otherwise both
 * verify it, each with its own PIN, and the owner would get two receipts of which one PIN
 * works. A journey takes milliseconds; one that stopped half-way is completed by the next
 * try after this. */
#define REPORT_RESUME_IDLE_S 10

/* The report is open (new, or one a stopped journey left "received" for this owner):
 * record the evidence and the PIN's digest. */
static void report_verify(struct run *r, bool resume)
{
	char digest[17], last_seen[11];
	int rc;

	if (!random_digits(r->pin_out, PIN_LEN)) {
		fail_store(r, -EIO);
		return;
	}
	pin_digest(r->e, r->s.ref, r->pin_out, digest);
	pairs_format_date((uint16_t)r->s.last_seen, last_seen);
	{
		struct store_kv kv[] = {
			{ "pin", 3, digest, 16 },
			{ "last_seen", 9, last_seen, strlen(last_seen) },
			{ "kyc_matched", 11, kyc_matched(r), strlen(kyc_matched(r)) },
		};

		rc = store_report_resume(r->e->st, r->s.imei, REPORT_EV_VERIFY,
					 resume ? REPORT_RESUME_IDLE_S : 0, kv, 3,
					 report_verified, r);
	}
	if (rc < 0)
		fail_store(r, rc);
}

/* The sweep (engine_sweep): a report still "received" or "verified" long after its journey
 * stopped is completed as its owner's retry would: a new PIN, the block request, the receipt
 * to the number it came from. */
static void sweep_on_report(void *arg, int err, const struct store_kv *kv, size_t n)
{
	struct run *r = arg;
	struct report rep;
	uint16_t days = 0;

	if (err < 0) {
		run_finish_unavailable(r);
		return;
	}
	report_decode(&rep, kv, n);
	/* The run is the sweep's own: what the report holds is all it knows. */
	memcpy(r->s.ref, rep.ref, sizeof(r->s.ref));
	memcpy(r->s.owner, rep.owner, sizeof(r->s.owner));
	memcpy(r->msisdn, rep.reporter, sizeof(r->msisdn));
	memcpy(r->s.reason, rep.reason, sizeof(r->s.reason));
	memcpy(r->s.police, rep.police_ref, sizeof(r->s.police));
	if (rep.lang[0])
		memcpy(r->s.lang, rep.lang, sizeof(r->s.lang));
	memcpy(r->reported_at, rep.reported_at, sizeof(r->reported_at));
	/* The receipt goes where the journey would have sent it: the owner's line, when a
	 * one-time code proved it (receipt_to). */
	if (rep.receipt_to[0] && strcmp(rep.receipt_to, rep.owner) == 0)
		memcpy(r->s.otp_owner, rep.owner, sizeof(r->s.otp_owner));
	/* And the evidence as the journey recorded it (a report opened before it was kept: the
	 * ID digits, the only proof then). */
	if (strcmp(rep.kyc_matched, "no") != 0)
		memcpy(r->s.kyc_owner, rep.owner, sizeof(r->s.kyc_owner));
	if (rep.state != REPORT_RECEIVED && rep.state != REPORT_VERIFIED) {
		/* Gone, or further along: nothing to complete. */
		store_report_open(r->e->st, r->s.imei, false, run_noop_done, NULL);
		run_finish(r, REPORT_REPORTED);
		return;
	}
	if (r->s.ref[0] == '\0' || r->msisdn[0] == '\0' || r->s.owner[0] == '\0' ||
	    pairs_parse_date(rep.last_seen, strlen(rep.last_seen), &days) < 0) {
		/* Opened by a version that did not keep last_seen with it, or damaged: its owner's
		 * next try completes it; the sweep stops looking. */
		LOGP(LOGC_FLOW, LOGL_WARN, "%s: report %s left %s cannot be completed by the sweep",
		     r->rtag, run_ref_log(r), report_state_name(rep.state));
		store_report_open(r->e->st, r->s.imei, false, run_noop_done, NULL);
		run_finish(r, REPORT_REPORTED);
		return;
	}
	r->s.last_seen = days;
	r->ch = strcmp(rep.channel, "ussd") == 0 ? EC_USSD : EC_SMS;
	LOGP(LOGC_FLOW, LOGL_NOTICE, "%s: completing report %s left %s", r->rtag, run_ref_log(r),
	     report_state_name(rep.state));
	report_verify(r, true);
}

int actions_sweep_report(struct run *r, const char *imei)
{
	r->action = FA_REPORT;
	snprintf(r->s.imei, sizeof(r->s.imei), "%s", imei);
	return store_report_get(r->e->st, r->s.imei, sweep_on_report, r);
}

static void report_on_existing(void *arg, int err, const struct store_kv *kv, size_t n)
{
	struct run *r = arg;
	struct report rep;

	if (err < 0) {
		fail_store(r, err);
		return;
	}
	report_decode(&rep, kv, n);
	if ((rep.state == REPORT_RECEIVED || rep.state == REPORT_VERIFIED) &&
	    strcmp(rep.owner, r->s.owner) == 0) {
		/* Completed now, with the same reference: its request id is the same, so the
		 * enqueue adds nothing if the stopped journey got that far. */
		LOGP(LOGC_FLOW, LOGL_NOTICE, "%s: completing report %s left %s", r->rtag, run_ref_log(r),
		     report_state_name(rep.state));
		memcpy(r->reported_at, rep.reported_at, sizeof(r->reported_at));
		report_verify(r, true);
		return;
	}
	if (strcmp(rep.owner, r->s.owner) != 0) {
		/* Another owner's report, opened since the link looked: not this owner's
		 * reference to know (issue 15). */
		r->s.ref[0] = '\0';
		run_finish(r, REPORT_REPORTED_OTHER);
		return;
	}
	run_set_model(r);
	run_finish(r, REPORT_REPORTED);
}

static void report_created(void *arg, int err, const char *ref, size_t len, bool changed)
{
	struct run *r = arg;
	int rc;

	if (err < 0) {
		fail_store(r, err);
		return;
	}
	if (len != REF_LEN) {
		fail_store(r, -EPROTO);
		return;
	}
	memcpy(r->s.ref, ref, REF_LEN);
	r->s.ref[REF_LEN] = '\0';
	if (changed) {
		report_verify(r, false);
		return;
	}
	rc = store_report_get(r->e->st, r->s.imei, report_on_existing, r);
	if (rc < 0)
		fail_store(r, rc);
}

static void report_create(struct run *r)
{
	char now[24], tac[9] = "", last_seen[11];
	const char *ch = r->ch == EC_USSD ? "ussd" : r->ch == EC_SMS ? "sms" : "api";
	int rc;

	run_set_model(r);
	memcpy(tac, r->s.imei, 8);
	iso_time(time(NULL), now);
	pairs_format_date((uint16_t)r->s.last_seen, last_seen);
	/* Indexed first: a report a journey leaves half-way is then always found again (the
	 * sweep drops an index entry with no report behind it). */
	store_report_open(r->e->st, r->s.imei, true, run_noop_done, NULL);
	{
		struct store_kv kv[] = {
#define KV(k, v) { k, strlen(k), v, strlen(v) }
			KV("reason", r->s.reason), KV("reporter", r->msisdn),
			KV("last_seen", last_seen),
			KV("owner", r->s.owner), KV("police_ref", r->s.police), KV("channel", ch),
			KV("tac", tac), KV("lang", r->s.lang), KV("rule", "pairing-window"),
			KV("reported_at", now), KV("kyc_matched", kyc_matched(r)),
			KV("receipt_to", r->s.owner),	/* last: only when it is the owner */
#undef KV
		};
		size_t n = sizeof(kv) / sizeof(kv[0]) - (receipt_to(r) == r->msisdn);

		rc = store_report_create(r->e->st, r->s.imei, r->s.ref, kv, n, report_created, r);
	}
	if (rc < 0)
		fail_store(r, rc);
}

/* Drawing a free reference: the draws so far (a taken one is drawn again, 5 times at most). */
struct draw_ctx {
	struct run *r;
	int attempts;
};

static int report_draw_ref(struct draw_ctx *dc);

static void report_on_reserve(void *arg, int err, long long reserved)
{
	struct draw_ctx *dc = arg;
	struct run *r = dc->r;
	int rc;

	if (err < 0) {
		talloc_free(dc);
		fail_store(r, err);
		return;
	}
	if (reserved) {
		talloc_free(dc);
		report_create(r);
		return;
	}
	rc = ++dc->attempts >= 5 ? -EEXIST : report_draw_ref(dc);
	if (rc < 0) {
		talloc_free(dc);
		fail_store(r, rc);
	}
}

/* Draws a reference (9 random digits, never a leading 0, and the Luhn digit) and reserves
 * it. Returns 0 or why nothing was sent. */
static int report_draw_ref(struct draw_ctx *dc)
{
	struct run *r = dc->r;

	if (!random_digits(r->s.ref, REF_LEN - 1))
		return -EIO;
	if (r->s.ref[0] == '0')
		r->s.ref[0] = '1';	/* a reference never starts with 0: no digit gets lost */
	ref_finish(r->s.ref);
	return store_ref_reserve(r->e->st, r->s.ref, REF_LEN, r->s.imei, report_on_reserve, dc);
}

/* Reserves a reference, then opens the report with it (report_create). */
static void report_reserve(struct run *r)
{
	struct draw_ctx *dc = talloc_zero(r, struct draw_ctx);
	int rc;

	if (dc == NULL) {
		fail_store(r, -ENOMEM);		/* from a store answer: not reentrant */
		return;
	}
	dc->r = r;
	rc = report_draw_ref(dc);
	if (rc < 0) {
		talloc_free(dc);
		fail_store(r, rc);
	}
}

/* What verify-report asks of a report's owner, proven in this session: the ID digits, and
 * the line, by a one-time code or by being the caller (the network vouches for the caller's
 * number as it does for where a code goes: an SMS report comes from the owner's line). */
static bool report_proven(const struct run *r)
{
	enum config_verify m = r->e->cfg->verify_mode;
	bool id = strcmp(r->s.kyc_owner, r->s.owner) == 0;
	bool line = strcmp(r->s.otp_owner, r->s.owner) == 0 ||
		    strcmp(r->msisdn, r->s.owner) == 0;

	return (m == CONFIG_VERIFY_OTP || id) && (m == CONFIG_VERIFY_ID || line);
}

static void act_report(struct run *r)
{
	if (r->s.owner[0] == '\0' || strcmp(r->s.link_owner, r->s.owner) != 0 ||
	    strcmp(r->s.link_imei, r->s.imei) != 0 || r->s.link_state == 'n' ||
	    r->s.last_seen == 0 || !report_proven(r) || r->s.reason[0] == '\0') {
		LOGP(LOGC_FLOW, LOGL_ERROR, "%s: report without verified ownership: the flow "
		     "skips a step", r->tag);
		run_finish(r, REPORT_NOT_VERIFIED);
		return;
	}
	if (r->e->kyc_keylen == 0) {
		defer_fail(r, -ENOKEY);
		return;
	}
	r->reported_at[0] = '\0';
	/* Counted when submitted, per caller only: a budget per IMEI or per owner would let
	 * strangers' reports refuse the owner's own (issue 15); each report needs the ID
	 * digits, themselves counted (kyc), and opening the phone list counts nothing
	 * (issue 18). */
	rate(r, STORE_LIMIT_REPORT, &r->e->cfg->rate_report_msisdn, "reports", REPORT_LIMITED,
	     report_reserve);
}

/* ---- status and unblock: a report by its reference ------------------------------------- */

/* {why}: the text of a CEIR reason code in the run's language (status.why.<code>, '-' read
 * as '_'), status.why.other for a code the texts do not know. */
void run_render_why(struct run *r, const char *code)
{
	char key[80];
	int n = snprintf(key, sizeof(key), "status.why.%s", code);

	for (char *c = key + 11; n > 0 && *c; c++)
		*c = *c == '-' ? '_' : (char)tolower((unsigned char)*c);
	if (code[0] == '\0' || run_render_key(r, key, r->why, sizeof(r->why)) <= 0)
		run_render_key(r, "status.why.other", r->why, sizeof(r->why));
}

/* The run's fields a report's are copied into whole (memcpy): the same bounds. */
#define SAME_SIZE_(a, b) _Static_assert(sizeof(a) == sizeof(b), #a " is " #b "'s size")
SAME_SIZE_(((struct sess *)0)->ref, ((struct report *)0)->ref);
SAME_SIZE_(((struct sess *)0)->owner, ((struct report *)0)->owner);
SAME_SIZE_(((struct sess *)0)->reason, ((struct report *)0)->reason);
SAME_SIZE_(((struct sess *)0)->police, ((struct report *)0)->police_ref);
SAME_SIZE_(((struct sess *)0)->lang, ((struct report *)0)->lang);
SAME_SIZE_(((struct run *)0)->msisdn, ((struct report *)0)->reporter);
SAME_SIZE_(((struct run *)0)->reported_at, ((struct report *)0)->reported_at);
SAME_SIZE_(((struct run *)0)->why_code, ((struct report *)0)->reject_reason);
#undef SAME_SIZE_

bool run_report_fields(struct run *r, const struct store_kv *kv, size_t n)
{
	const struct report *rep = &r->rep;

	report_decode(&r->rep, kv, n);
	if (rep->reason[0])
		memcpy(r->s.reason, rep->reason, sizeof(r->s.reason));
	if (rep->lang[0])
		memcpy(r->s.lang, rep->lang, sizeof(r->s.lang));
	memcpy(r->why_code, rep->reject_reason, sizeof(r->why_code));
	if (tpl_language_name(r->j->tpl, r->s.lang) == NULL)
		snprintf(r->s.lang, sizeof(r->s.lang), "%s", r->e->cfg->default_language);
	run_set_model(r);
	return report_exists(rep) && strcmp(rep->ref, r->s.ref) == 0;
}

/* STATUS answers with the report's state: each state is an outcome of its own (the flows
 * give each its screen). One this version does not know reads as received, as before. */
static enum flow_outcome status_outcome(enum report_state s)
{
	switch (s) {
	case REPORT_RECEIVED: return STATUS_RECEIVED;
	case REPORT_VERIFIED: return STATUS_VERIFIED;
	case REPORT_SENT: return STATUS_SENT;
	case REPORT_BLOCKED: return STATUS_BLOCKED;
	case REPORT_UNBLOCK_SENT: return STATUS_UNBLOCK_SENT;
	case REPORT_UNBLOCKED: return STATUS_UNBLOCKED;
	case REPORT_REJECTED: return STATUS_REJECTED;
	case REPORT_NONE:
	case REPORT_STATE_COUNT:
		break;
	}
	return STATUS_RECEIVED;
}

/* run_report_fields for a report found by its reference: the reply stays in the asker's
 * language, not the report's. */
static bool asked_report_fields(struct run *r, const struct store_kv *kv, size_t n)
{
	char lang[sizeof(r->s.lang)];
	bool found;

	memcpy(lang, r->s.lang, sizeof(lang));
	found = run_report_fields(r, kv, n);
	memcpy(r->s.lang, lang, sizeof(lang));
	return found;
}

static void status_on_report(void *arg, int err, const struct store_kv *kv, size_t n)
{
	struct run *r = arg;

	if (err < 0) {
		fail_store(r, err);
		return;
	}
	if (!asked_report_fields(r, kv, n)) {
		run_finish(r, STATUS_UNKNOWN);
		return;
	}
	run_render_why(r, r->why_code);
	/* A sighting (issue 22) is the owner's to know: told to the report's own lines (the
	 * owner's, the reporter's), where its SMS went; anyone else with the reference hears
	 * the state alone. */
	if (r->rep.sighted[0] && r->rep.state >= REPORT_RECEIVED &&
	    r->rep.state <= REPORT_BLOCKED &&
	    (strcmp(r->msisdn, r->rep.owner) == 0 || strcmp(r->msisdn, r->rep.reporter) == 0)) {
		memcpy(r->date, r->rep.sighted, sizeof(r->date));
		run_finish(r, STATUS_SIGHTED);
		return;
	}
	run_finish(r, status_outcome(r->rep.state));
}

typedef void (*fields_fn)(void *arg, int err, const struct store_kv *kv, size_t n);

struct find_ctx {
	struct run *r;
	enum flow_outcome unknown;	/* the action's "unknown": no such reference */
	fields_fn next;
};

static void on_found_ref(void *arg, int err, const void *imei, size_t len, bool found)
{
	struct find_ctx *fc = arg;
	struct run *r = fc->r;
	enum flow_outcome unknown = fc->unknown;
	fields_fn next = fc->next;
	int rc;

	talloc_free(fc);
	if (err < 0) {
		fail_store(r, err);
		return;
	}
	if (!found || len != 15) {
		run_finish(r, unknown);
		return;
	}
	memcpy(r->s.imei, imei, 15);
	r->s.imei[15] = '\0';
	rc = store_report_get(r->e->st, r->s.imei, next, r);
	if (rc < 0)
		fail_store(r, rc);
}

/* The report with the session's reference: next gets its fields, or the run finishes
 * unknown. */
static void find_report(struct run *r, enum flow_outcome unknown, fields_fn next)
{
	struct find_ctx *fc = talloc_zero(r, struct find_ctx);
	int rc;

	if (fc == NULL) {
		fail_store(r, -ENOMEM);
		return;
	}
	fc->r = r;
	fc->unknown = unknown;
	fc->next = next;
	rc = store_report_find(r->e->st, r->s.ref, REF_LEN, on_found_ref, fc);
	if (rc < 0) {
		talloc_free(fc);
		fail_store(r, rc);
	}
}

static void status_find(struct run *r)
{
	find_report(r, STATUS_UNKNOWN, status_on_report);
}

static void act_status(struct run *r)
{
	if (!ref_valid(r->s.ref, strlen(r->s.ref))) {
		run_finish(r, STATUS_UNKNOWN);
		return;
	}
	rate(r, STORE_LIMIT_CHECK, &r->e->cfg->rate_check_msisdn, "checks", STATUS_LIMITED,
	     status_find);
}

static void unblock_done(void *arg, int err, const char *s, size_t len, bool changed)
{
	struct run *r = arg;

	(void)s;
	(void)len;
	if (err < 0) {
		fail_store(r, err);
		return;
	}
	if (!changed) {
		run_finish(r, UNBLOCK_ALREADY);
		return;
	}
	r->e->stats.unblocks_accepted++;
	LOGP(LOGC_FLOW, LOGL_NOTICE, "%s: report %s: unblock request queued", r->rtag,
	     run_ref_log(r));
	run_finish(r, UNBLOCK_ACCEPTED);
}

static void unblock_enqueued(void *arg, int err, const char *id, size_t len, bool changed)
{
	struct run *r = arg;
	struct store_kv kv[1] = { { "unblock_entry", 13, id, len } };
	int rc;

	if (err < 0) {
		fail_store(r, err);
		return;
	}
	if (changed)
		METRIC_INC1(ceir_enqueued, MK_UNBLOCK);
	rc = store_report_transition(r->e->st, r->s.imei, REPORT_EV_UNBLOCK_REQUEST, kv, 1,
				     unblock_done, r);
	if (rc < 0)
		fail_store(r, rc);
}

/* The PIN matched, counted in the same step: queue the unblock. */
static void unblock_request(struct run *r)
{
	char rid[32], now[24], tac[9] = "";
	int rc;

	if (r->rep.state == REPORT_UNBLOCK_SENT) {
		run_finish(r, UNBLOCK_ALREADY);
		return;
	}
	if (!report_event_allows(REPORT_EV_UNBLOCK_REQUEST, r->rep.state)) {
		run_finish(r, UNBLOCK_NOT_BLOCKED);
		return;
	}
	memcpy(tac, r->s.imei, 8);
	iso_time(time(NULL), now);
	snprintf(rid, sizeof(rid), "%s-unblock", r->s.ref);
	{
		const char *ch = r->ch == EC_USSD ? "ussd" : r->ch == EC_SMS ? "sms" : "api";
		struct store_kv f[] = {
#define KV(k, v) { k, strlen(k), v, strlen(v) }
			KV("request_id", rid), KV("type", "unblock"), KV("ref", r->s.ref),
			KV("imei", r->s.imei), KV("tac", tac), KV("maker", r->maker),
			KV("model", r->model), KV("reporter_msisdn", r->msisdn),
			KV("owner_msisdn", r->rep.owner), KV("rule", "report-pin"),
			KV("kyc_matched", "pin"), KV("reason", "recovered"), KV("channel", ch),
			KV("requested_at", now),
#undef KV
		};

		rc = store_ceir_enqueue(r->e->st, r->e->cfg->ceir_requests, rid, DEDUP_REMEMBER_S,
					f, sizeof(f) / sizeof(f[0]), unblock_enqueued, r);
	}
	if (rc < 0)
		fail_store(r, rc);
}

static void unblock_on_verify(void *arg, int err, enum store_verify_result res, long long left,
			      long long ms_left)
{
	struct run *r = arg;

	if (err < 0) {
		fail_store(r, err);
		return;
	}
	switch (res) {
	case STORE_VERIFY_MATCH:
		unblock_request(r);
		return;
	case STORE_VERIFY_NONE:		/* the report changed under us: no PIN to compare */
		run_finish(r, UNBLOCK_UNKNOWN);
		return;
	case STORE_VERIFY_PEEKED:	/* not a PIN: nothing compared or counted */
	case STORE_VERIFY_MISMATCH:	/* the tries left told, as for the ID (issue 18) */
	case STORE_VERIFY_LOCKED:
		verify_refused(r, res, left, ms_left, "PIN", true, UNBLOCK_WRONG_PIN,
			       UNBLOCK_LOCKED);
		return;
	}
}

static void unblock_on_report(void *arg, int err, const struct store_kv *kv, size_t n)
{
	struct run *r = arg;
	char digest[17] = "";
	size_t len = 0;
	bool own;
	int rc;

	if (err < 0) {
		fail_store(r, err);
		return;
	}
	if (!asked_report_fields(r, kv, n)) {
		OPENSSL_cleanse(r->pin, sizeof(r->pin));
		run_finish(r, UNBLOCK_UNKNOWN);
		return;
	}
	/* A PIN that is not 6 digits (an SMS's) is no try: the store only reads the counter,
	 * so that the reply says truthfully how many tries are left. */
	if (strlen(r->pin) == PIN_LEN) {
		pin_digest(r->e, r->s.ref, r->pin, digest);
		len = 16;
	}
	OPENSSL_cleanse(r->pin, sizeof(r->pin));
	/* The report's owner and reporter have a budget of their own: strangers' wrong PINs
	 * cannot lock them out of unblocking their phone (issue 15). */
	own = strcmp(r->msisdn, r->rep.owner) == 0 || strcmp(r->msisdn, r->rep.reporter) == 0;
	rc = store_verify_pin(r->e->st, r->s.imei, own ? "own" : "oth", digest, len,
			      (unsigned)r->e->cfg->verify_tries,
			      (unsigned)r->e->cfg->verify_lockout, unblock_on_verify, r);
	OPENSSL_cleanse(digest, sizeof(digest));
	if (rc < 0)
		fail_store(r, rc);
}

static void unblock_find(struct run *r)
{
	find_report(r, UNBLOCK_UNKNOWN, unblock_on_report);
}

static void act_unblock(struct run *r)
{
	if (!ref_valid(r->s.ref, strlen(r->s.ref))) {
		run_finish(r, UNBLOCK_UNKNOWN);
		return;
	}
	if (r->e->kyc_keylen == 0) {
		defer_fail(r, -ENOKEY);
		return;
	}
	/* Every attempt counts against the caller first, known reference or not: the
	 * references are not for guessing either. */
	rate(r, STORE_LIMIT_UNBLOCK, &r->e->cfg->rate_unblock_msisdn, "unblock", UNBLOCK_LIMITED,
	     unblock_find);
}

/* ---- my reports and a new PIN (issue 18: a lost reference or PIN recovered) -------------- */

/* Both need the ID digits of the caller's own line matched in this session: the caller is the
 * owner, and only the owner's reports are listed (nothing before proof, doc/trust.md). */
static bool mine_verified(const struct run *r)
{
	return r->s.kyc_owner[0] != '\0' && strcmp(r->s.kyc_owner, r->msisdn) == 0 &&
	       strcmp(r->s.owner, r->msisdn) == 0;
}

/* The candidates: the newest IMEIs the operators' data pairs with the caller's number, each
 * with its report when it names the caller as the owner. */
#define MINE_CAND 16
_Static_assert(MINE_CAND <= FAN_MAX, "my reports' candidates fit a fan");
struct mine_ctx {
	struct fan fan;			/* first: a fan is its context */
	bool ok[MINE_CAND];		/* a report that names the caller as the owner */
	enum report_state state[MINE_CAND];
	long long created[MINE_CAND];
	char ref[MINE_CAND][REF_LEN + 1];
};

/* One line of the list: over USSD the phone, its IMEI's last 4 digits, the state and the date
 * ("1 Samsung SM-A515F ...3809 BLOCKED 2026-01-05"); by SMS the reference instead of the
 * phone, which the owner needs for PIN <ref> and STATUS ("1234567890 ...3809 BLOCKED"). */
static int mine_line(struct run *r, const struct mine_ctx *mc, unsigned i, unsigned n,
		     char *out, size_t outsz)
{
	char imei[16], key[40], state[48], date[11], maker[sizeof(r->maker) + sizeof(r->model)];

	run_imei_of_body(mc->fan.cand[i], imei);
	snprintf(key, sizeof(key), "rstate.%s", report_state_name(mc->state[i]));
	if (run_render_key(r, key, state, sizeof(state)) <= 0)
		snprintf(state, sizeof(state), "%s", report_state_name(mc->state[i]));
	if (r->ch != EC_USSD)
		return snprintf(out, outsz, "%s ...%s %s", mc->ref[i], imei + 11, state);
	snprintf(r->s.imei, sizeof(r->s.imei), "%s", imei);
	run_set_model(r);
	/* The phone cut to 16 characters: a line of the list is 48 at most (flow.h). */
	snprintf(maker, sizeof(maker), "%s%s%s", r->maker[0] ? r->maker : "?",
		 r->model[0] ? " " : "", r->model);
	{
		size_t k = 0, cps = 0;

		while (maker[k] && cps < 16) {
			k++;
			while (((unsigned char)maker[k] & 0xc0) == 0x80)
				k++;
			cps++;
		}
		maker[k] = '\0';
	}
	date_of(mc->created[i], date);
	return snprintf(out, outsz, "%u %s ...%s %s %s", n, maker, imei + 11, state, date);
}

static void mine_done(struct fan *f)
{
	struct mine_ctx *mc = (struct mine_ctx *)f;
	struct run *r = f->r;
	size_t len = 0;

	/* Newest first, as many as a pick can name. */
	r->s.nmine = 0;
	r->list[0] = '\0';
	for (unsigned i = f->ncand; i-- > 0 && r->s.nmine < SESS_HANDSETS_MAX;) {
		char line[160];
		int n;

		if (!mc->ok[i])
			continue;
		n = mine_line(r, mc, i, r->s.nmine + 1, line + (len > 0), sizeof(line) - 1);
		if (n < 0 || (size_t)n >= sizeof(line) - 1 ||
		    len + (len > 0) + (size_t)n >= sizeof(r->s.mine_list))
			break;
		if (len > 0)
			line[0] = '\n';
		memcpy(r->list + len, line, (size_t)n + (len > 0) + 1);
		len += (size_t)n + (len > 0);
		r->s.mine[r->s.nmine++] = f->cand[i];
	}
	talloc_free(mc);
	r->s.imei[0] = '\0';
	r->maker[0] = r->model[0] = '\0';
	memcpy(r->s.mine_list, r->list, len + 1);
	LOGP(LOGC_FLOW, LOGL_INFO, "%s: my reports: %u listed", r->tag, r->s.nmine);
	run_finish(r, r->s.nmine ? MY_REPORTS_SOME : MY_REPORTS_NONE);
}

static void mine_on_report(void *arg, int err, const struct store_kv *kv, size_t n)
{
	struct fan_cand *cc = arg;
	struct mine_ctx *mc = (struct mine_ctx *)cc->f;
	unsigned i = cc->i;
	struct report rep;

	if (err >= 0) {
		report_decode(&rep, kv, n);
		/* Only the reports that name the caller as the owner: a report of the same phone
		 * by someone else (a later owner, a thief's) is not the caller's to see. */
		if (report_exists(&rep) && !rep.state_unknown && rep.ref[0] &&
		    strcmp(rep.owner, cc->f->r->msisdn) == 0) {
			mc->ok[i] = true;
			mc->state[i] = rep.state;
			mc->created[i] = rep.created;
			memcpy(mc->ref[i], rep.ref, sizeof(mc->ref[i]));
		}
	}
	fan_answered(cc, err);
}

static int mine_start(struct fan_cand *cc)
{
	char imei[16];

	run_imei_of_body(cc->f->cand[cc->i], imei);
	return store_report_get(cc->f->r->e->st, imei, mine_on_report, cc);
}

static void act_my_reports(struct run *r)
{
	int rc;

	r->s.nmine = 0;
	r->s.mine_list[0] = '\0';
	if (!mine_verified(r)) {
		LOGP(LOGC_FLOW, LOGL_ERROR, "%s: my reports without the ID digits of the caller's "
		     "line: the flow skips a step", r->tag);
		run_finish(r, MY_REPORTS_NOT_VERIFIED);
		return;
	}
	rc = fan_list(r, r->msisdn, sizeof(struct mine_ctx), "struct mine_ctx", mine_start,
		      mine_done, MINE_CAND);
	if (rc < 0)
		defer_fail(r, rc);
}

/* A new PIN is not sent again within this long of the last (the store answers "recent"):
 * receipts sent at once reach the phone in any order, and only the last PIN written works.
 * A receipt is relayed within milliseconds, or by the sweep within 10 s. */
#define NEW_PIN_IDLE_S 60

static void new_pin_done(void *arg, int err, const char *s, size_t len, bool changed)
{
	struct run *r = arg;

	if (err < 0) {
		OPENSSL_cleanse(r->pin_out, sizeof(r->pin_out));
		fail_store(r, err);
		return;
	}
	if (!changed && len == 6 && memcmp(s, "recent", 6) == 0) {
		/* Asked again while the last one is on its way: that one stands, and its PIN is
		 * the one that works (one receipt, not several in any order). */
		OPENSSL_cleanse(r->pin_out, sizeof(r->pin_out));
		LOGP(LOGC_FLOW, LOGL_INFO, "%s: report %s: a new PIN was sent just now: it stands",
		     r->rtag, run_ref_log(r));
		run_finish(r, NEW_PIN_SENT);
		return;
	}
	if (!changed) {
		/* Moved or reopened since it was looked up. */
		OPENSSL_cleanse(r->pin_out, sizeof(r->pin_out));
		run_finish(r, len == 0 ? NEW_PIN_UNKNOWN : NEW_PIN_NOT_BLOCKED);
		return;
	}
	LOGP(LOGC_FLOW, LOGL_NOTICE, "%s: report %s: new PIN, receipt to the owner's line",
	     r->rtag, run_ref_log(r));
	if (r->e->sms.outbox == NULL) {
		run_send_sms(r, r->msisdn, "notify.receipt");
	} else {
		r->e->stats.sms_sent++;
		LOGP(LOGC_FLOW, LOGL_INFO, "%s: SMS notify.receipt in the outbox", r->tag);
	}
	OPENSSL_cleanse(r->pin_out, sizeof(r->pin_out));
	run_finish(r, NEW_PIN_SENT);
}

static void new_pin_on_report(void *arg, int err, const struct store_kv *kv, size_t n)
{
	struct run *r = arg;
	bool by_ref = r->pick == 0;
	char digest[17], text[1024];
	struct store_sms sms = { r->msisdn, text, 0 };
	const char *stream = NULL;
	int rc, tn;

	if (err < 0) {
		fail_store(r, err);
		return;
	}
	report_decode(&r->rep, kv, n);
	/* The caller's own report only (owner: the caller, whose ID digits matched); by SMS the
	 * one with the reference typed. Another's is unknown, as a reference that is none. */
	if (!report_exists(&r->rep) || r->rep.ref[0] == '\0' ||
	    strcmp(r->rep.owner, r->msisdn) != 0 ||
	    (by_ref && strcmp(r->rep.ref, r->s.ref) != 0)) {
		run_finish(r, NEW_PIN_UNKNOWN);
		return;
	}
	memcpy(r->s.ref, r->rep.ref, sizeof(r->s.ref));
	run_set_model(r);
	if (!report_event_allows(REPORT_EV_UNBLOCK_REQUEST, r->rep.state)) {
		run_finish(r, NEW_PIN_NOT_BLOCKED);
		return;
	}
	if (!random_digits(r->pin_out, PIN_LEN)) {
		fail_store(r, -EIO);
		return;
	}
	pin_digest(r->e, r->s.ref, r->pin_out, digest);
	/* The receipt again, with the new PIN, to the owner's line (the caller's): through the
	 * report's outbox in the same step as the new digest where the channel has one, so that
	 * the old PIN never stops working without the new one on its way. */
	if (r->e->sms.outbox) {
		tn = run_render_key(r, "notify.receipt", text, sizeof(text));
		if (tn <= 0) {
			OPENSSL_cleanse(r->pin_out, sizeof(r->pin_out));
			fail_store(r, -EINVAL);
			return;
		}
		sms.len = (size_t)tn;
		stream = r->e->sms.outbox;
	}
	rc = store_report_new_pin(r->e->st, r->s.imei, r->s.ref, r->msisdn, digest, 16,
				  NEW_PIN_IDLE_S, stream, stream ? &sms : NULL, new_pin_done, r);
	OPENSSL_cleanse(digest, sizeof(digest));
	OPENSSL_cleanse(text, sizeof(text));
	if (rc < 0) {
		OPENSSL_cleanse(r->pin_out, sizeof(r->pin_out));
		fail_store(r, rc);
	}
}

static void new_pin_lookup(struct run *r)
{
	int rc;

	if (r->pick == 0) {
		find_report(r, NEW_PIN_UNKNOWN, new_pin_on_report);
		return;
	}
	run_imei_of_body(r->s.mine[r->pick - 1], r->s.imei);
	rc = store_report_get(r->e->st, r->s.imei, new_pin_on_report, r);
	if (rc < 0)
		fail_store(r, rc);
}

static void act_new_pin(struct run *r)
{
	if (!mine_verified(r)) {
		LOGP(LOGC_FLOW, LOGL_ERROR, "%s: new PIN without the ID digits of the caller's "
		     "line: the flow skips a step", r->tag);
		run_finish(r, NEW_PIN_NOT_VERIFIED);
		return;
	}
	if (r->pick > r->s.nmine || (r->pick == 0 && !ref_valid(r->s.ref, strlen(r->s.ref)))) {
		run_finish(r, r->pick ? NEW_PIN_INVALID : NEW_PIN_UNKNOWN);
		return;
	}
	if (r->e->kyc_keylen == 0 || r->e->sms.send == NULL) {
		/* A new PIN that no SMS can bring would only take the owner's old one away. */
		LOGP(LOGC_FLOW, LOGL_ERROR, "%s: no %s: no new PIN", r->tag,
		     r->e->kyc_keylen == 0 ? "kyc-key-file" : "SMS path (sendsms-url, bearerbox)");
		defer_fail(r, -ENOKEY);
		return;
	}
	/* Counted per caller before anything is looked up: each is an SMS the gateway pays for
	 * and a PIN the owner must then use. */
	rate(r, STORE_LIMIT_RESEND, &r->e->cfg->rate_resend_msisdn, "resend", NEW_PIN_LIMITED,
	     new_pin_lookup);
}

/* ---- language --------------------------------------------------------------------------- */

static void act_languages(struct run *r)
{
	run_finish(r, LANGUAGES_DONE);
}

static void act_language(struct run *r)
{
	const char *codes[9];
	size_t n = tpl_languages(r->j->tpl, codes, 9);

	if (r->pick < 1 || r->pick > n || r->pick > 9) {
		run_finish(r, LANGUAGE_INVALID);
		return;
	}
	snprintf(r->s.lang, sizeof(r->s.lang), "%s", codes[r->pick - 1]);
	run_remember_lang(r);
	run_finish(r, LANGUAGE_DONE);
}

static void act_owner_caller(struct run *r)
{
	snprintf(r->s.owner, sizeof(r->s.owner), "%s", r->msisdn);
	run_finish(r, OWNER_CALLER_DONE);
}

void actions_run(struct run *r, enum flow_action a)
{
	r->action = a;
	if (a < FA_COUNT)
		METRIC_INC1(actions_started, a);
	switch (a) {
	case FA_CHECK: act_check(r); break;
	case FA_HANDSETS: act_handsets(r); break;
	case FA_PICK_HANDSET: act_pick_handset(r); break;
	case FA_OWNER_CALLER: act_owner_caller(r); break;
	case FA_LINK: act_link(r); break;
	case FA_KYC: act_kyc(r); break;
	case FA_REPORT: act_report(r); break;
	case FA_STATUS: act_status(r); break;
	case FA_UNBLOCK: act_unblock(r); break;
	case FA_LANGUAGES: act_languages(r); break;
	case FA_LANGUAGE: act_language(r); break;
	case FA_IMEI_WHY: act_imei_why(r); break;
	case FA_POLICE_GIVEN: act_police_given(r); break;
	case FA_MY_REPORTS: act_my_reports(r); break;
	case FA_NEW_PIN: act_new_pin(r); break;
	case FA_VERIFY_MODE: act_verify_mode(r); break;
	case FA_OTP_SEND: act_otp_send(r); break;
	case FA_OTP_CHECK: act_otp_check(r); break;
	case FA_COUNT: run_finish_unavailable(r); break;
	}
}
