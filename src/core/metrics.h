/* The process's metrics for Prometheus (issue 20): one table of metric families (X-macros,
 * as flow/outcomes.h and Kannel's msg-decl.h) from which come the counters' storage and the
 * exposition, in the text format 0.0.4 (prometheus.io/docs/instrumenting/exposition_formats).
 * Every label takes its values from a fixed name table (an enum of ceirgw's own or the flow's
 * outcome tables), never from what a request carries: no IMEI, number or reference can reach
 * a label, and a family's series are bounded by its tables. doc/metrics.md lists them. */
#ifndef CEIRGW_CORE_METRICS_H
#define CEIRGW_CORE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "domain/report.h"	/* REPORT_STATES: the report_transitions labels */

struct evbuffer;

/* ---- label value tables: X(id, "value") ---- */

/* Where a request came from: the HTTP channels (channel/channels.h) and the Kannel box's
 * MOs, by kind. */
#define METRIC_CHANNELS(X) \
	X(USSD_HTTP, "ussd_http") \
	X(SMS_HTTP, "sms_http") \
	X(API, "api") \
	X(FEED, "feed") \
	X(BOX_SMS, "box_sms") \
	X(BOX_USSD, "box_ussd")

/* What became of it, at the transport: ok (answered: 2xx, ack_success), refused (the caller
 * is not allowed or over its quota: 401, 403, 429, ack_failed for an MO that can never be
 * answered), bad_request (4xx otherwise), error (could not be served now: 5xx,
 * ack_failed_tmp). A journey's own refusals (a rate limit, "busy, try later" by SMS) are
 * answered ok here and counted by the flow_actions and refusals families. */
#define METRIC_RESULTS(X) \
	X(OK, "ok") \
	X(REFUSED, "refused") \
	X(BAD_REQUEST, "bad_request") \
	X(ERROR, "error")

/* The journeys' own channels (flow/engine.h's enum engine_channel), and whether a journey's
 * answer was its screen or "busy, try again later" for want of Redis: with the session or the
 * caller's language unread, that comes before any action runs, so it is counted here and not
 * only as an action's "unavailable". */
#define METRIC_JOURNEY_CHANNELS(X) \
	X(USSD, "ussd") \
	X(SMS, "sms")
#define METRIC_REPLIES(X) \
	X(OK, "ok") \
	X(UNAVAILABLE, "unavailable")

/* The limits that refuse a caller: the configuration's names for them. verify-lockout: the
 * national ID digits, a PIN or a one-time code tried too often (the lock-out's length is
 * that setting). */
#define METRIC_LIMITS(X) \
	X(CHECK, "rate-check-msisdn") \
	X(REPORT, "rate-report-msisdn") \
	X(VERIFY, "rate-verify-msisdn") \
	X(UNBLOCK, "rate-unblock-msisdn") \
	X(RESEND, "rate-resend-msisdn") \
	X(OTP, "rate-otp-msisdn") \
	X(OTP_LINE, "rate-otp-line") \
	X(API, "api-key-quota") \
	X(LOCKOUT, "verify-lockout")

/* The requests queued for the CEIR (doc/ceir-queue.md). */
#define METRIC_CEIR_KINDS(X) \
	X(BLOCK, "block") \
	X(UNBLOCK, "unblock")

/* The CEIR's results as ceirgw handled them: applied to their report, repeats and results
 * that change nothing, and those naming no report or not understood. */
#define METRIC_CEIR_RESULTS(X) \
	X(BLOCKED, "blocked") \
	X(UNBLOCKED, "unblocked") \
	X(REJECTED, "rejected") \
	X(UNBLOCK_REJECTED, "unblock_rejected") \
	X(UNCHANGED, "unchanged") \
	X(INVALID, "invalid")

/* The SMS paths with an outbox (channel/channels.h's OUTBOX_BOX and OUTBOX_HTTP). */
#define METRIC_PATHS(X) \
	X(BOX, "box") \
	X(HTTP, "http")

/* The box's MOs and MTs, as box_stats counts them. */
#define METRIC_BOX_MO(X) \
	X(RECEIVED, "received") \
	X(ACKED, "acked") \
	X(FAILED_TMP, "failed_tmp") \
	X(REPEATED, "repeated")
#define METRIC_BOX_MT(X) \
	X(QUEUED, "queued") \
	X(SENT, "sent") \
	X(ACKED, "acked") \
	X(REFUSED, "refused") \
	X(RETRIED, "retried") \
	X(LOST, "lost")

/* Redis commands by class: a script (EVALSHA/EVAL), a WAIT for replicas, any other. */
#define METRIC_REDIS_OPS(X) \
	X(COMMAND, "command") \
	X(SCRIPT, "script") \
	X(WAIT, "wait")

#define METRIC_ENUM_(p, id, name) p##_##id,
#define METRIC_ENUM(p, LIST) enum { LIST(METRIC_ENUM_##p) p##_COUNT }
#define METRIC_ENUM_MC(id, name) METRIC_ENUM_(MC, id, name)
#define METRIC_ENUM_MR(id, name) METRIC_ENUM_(MR, id, name)
#define METRIC_ENUM_MJ(id, name) METRIC_ENUM_(MJ, id, name)
#define METRIC_ENUM_MA(id, name) METRIC_ENUM_(MA, id, name)
#define METRIC_ENUM_ML(id, name) METRIC_ENUM_(ML, id, name)
#define METRIC_ENUM_MK(id, name) METRIC_ENUM_(MK, id, name)
#define METRIC_ENUM_MCR(id, name) METRIC_ENUM_(MCR, id, name)
#define METRIC_ENUM_MP(id, name) METRIC_ENUM_(MP, id, name)
#define METRIC_ENUM_MBO(id, name) METRIC_ENUM_(MBO, id, name)
#define METRIC_ENUM_MBT(id, name) METRIC_ENUM_(MBT, id, name)
#define METRIC_ENUM_MRO(id, name) METRIC_ENUM_(MRO, id, name)
METRIC_ENUM(MC, METRIC_CHANNELS);
METRIC_ENUM(MR, METRIC_RESULTS);
METRIC_ENUM(MJ, METRIC_JOURNEY_CHANNELS);
METRIC_ENUM(MA, METRIC_REPLIES);
METRIC_ENUM(ML, METRIC_LIMITS);
METRIC_ENUM(MK, METRIC_CEIR_KINDS);
METRIC_ENUM(MCR, METRIC_CEIR_RESULTS);
METRIC_ENUM(MP, METRIC_PATHS);
METRIC_ENUM(MBO, METRIC_BOX_MO);
METRIC_ENUM(MBT, METRIC_BOX_MT);
METRIC_ENUM(MRO, METRIC_REDIS_OPS);

/* The flow's actions and their outcomes (flow/outcomes.h, checked in metrics.c). */
#define METRIC_ACTIONS_MAX 24
#define METRIC_OUTCOMES_MAX 16

/* The label dimensions: X(id, "label", size). A family has up to two; NONE is none. */
#define METRIC_DIMS(X) \
	X(NONE, NULL, 1) \
	X(VERSION, "version", 1) \
	X(CHANNEL, "channel", MC_COUNT) \
	X(RESULT, "result", MR_COUNT) \
	X(JOURNEY_CHANNEL, "channel", MJ_COUNT) \
	X(REPLY, "result", MA_COUNT) \
	X(ACTION, "action", METRIC_ACTIONS_MAX) \
	X(OUTCOME, "outcome", METRIC_OUTCOMES_MAX)	/* of the first dimension's action */ \
	X(LIMIT, "limit", ML_COUNT) \
	X(FROM, "from", REPORT_STATE_COUNT) \
	X(TO, "to", REPORT_STATE_COUNT) \
	X(KIND, "kind", MK_COUNT) \
	X(CEIR_RESULT, "result", MCR_COUNT) \
	X(PATH, "path", MP_COUNT) \
	X(BOX_MO, "state", MBO_COUNT) \
	X(BOX_MT, "state", MBT_COUNT) \
	X(REDIS_OP, "class", MRO_COUNT)

#define METRIC_DIM_N_(id, label, n) METRIC_N_##id = (n),
enum { METRIC_DIMS(METRIC_DIM_N_) };
#undef METRIC_DIM_N_

/* A histogram of durations in microseconds, exposed in seconds: each bucket counts what fell
 * in it alone; the exposition adds them up (le is cumulative). 100 us to 1 s. */
#define METRIC_BUCKETS_US(X) \
	X(100) X(250) X(500) X(1000) X(2500) X(5000) X(10000) X(25000) X(50000) \
	X(100000) X(250000) X(500000) X(1000000)
#define METRIC_BUCKET_COUNT_(us) +1
#define METRIC_BUCKETS (0 METRIC_BUCKETS_US(METRIC_BUCKET_COUNT_))
struct metric_hist {
	uint64_t bucket[METRIC_BUCKETS + 1];	/* the last: above the last bound (+Inf) */
	uint64_t sum_us;
};

/* The families: X(field, TYPE, "name", dim0, dim1, "help"). TYPE is COUNTER (the name ends
 * in _total), GAUGE, or HISTOGRAM (of durations, struct metric_hist). Counters are counted
 * where things happen; the gauges, and the counters copied from a module's own stats (the
 * box's), are set by the scrape (app/daemon.c) before metrics_write. */
#define METRIC_FAMILIES(X) \
	X(build_info, GAUGE, "ceirgw_build_info", VERSION, NONE, \
	  "ceirgw's version; always 1") \
	X(start_time, GAUGE, "ceirgw_start_time_seconds", NONE, NONE, \
	  "when the process started, in seconds since the Unix epoch") \
	X(requests, COUNTER, "ceirgw_requests_total", CHANNEL, RESULT, \
	  "requests answered, by channel and by what the transport answered") \
	X(journey_replies, COUNTER, "ceirgw_journey_replies_total", JOURNEY_CHANNEL, REPLY, \
	  "USSD screens and SMS answers of the journeys: shown, or busy for want of Redis") \
	X(actions_started, COUNTER, "ceirgw_flow_actions_started_total", ACTION, NONE, \
	  "flow actions started (check, report, unblock, status, language, ...)") \
	X(actions_completed, COUNTER, "ceirgw_flow_actions_completed_total", ACTION, OUTCOME, \
	  "flow actions ended, by action and outcome (flow/outcomes.h)") \
	X(refusals, COUNTER, "ceirgw_refusals_total", LIMIT, NONE, \
	  "callers refused by a rate limit or a lock-out, by the setting that refused them") \
	X(report_transitions, COUNTER, "ceirgw_report_transitions_total", FROM, TO, \
	  "reports moved from one state to another (domain/report.h)") \
	X(ceir_enqueued, COUNTER, "ceirgw_ceir_requests_enqueued_total", KIND, NONE, \
	  "block and unblock requests queued for the CEIR") \
	X(ceir_results, COUNTER, "ceirgw_ceir_results_handled_total", CEIR_RESULT, NONE, \
	  "results read back from the CEIR and handled, by result") \
	X(outbox_depth, GAUGE, "ceirgw_outbox_entries", PATH, NONE, \
	  "SMS waiting in the outbox stream of an SMS path (read from Redis at the scrape)") \
	X(outbox_age, GAUGE, "ceirgw_outbox_oldest_age_seconds", PATH, NONE, \
	  "age of the oldest SMS waiting in an outbox stream; 0 when it is empty") \
	X(box_up, GAUGE, "ceirgw_box_connected", NONE, NONE, \
	  "1 while the box is connected to bearerbox and identified, else 0") \
	X(box_mo, COUNTER, "ceirgw_box_mo_total", BOX_MO, NONE, \
	  "MOs from bearerbox: received, acknowledged, answered ack_failed_tmp, repeated") \
	X(box_mt, COUNTER, "ceirgw_box_mt_total", BOX_MT, NONE, \
	  "MTs to bearerbox, by what became of them") \
	X(redis_up, GAUGE, "ceirgw_redis_up", NONE, NONE, \
	  "1 when Redis answered the scrape's reads, else 0") \
	X(redis_latency, HISTOGRAM, "ceirgw_redis_command_duration_seconds", REDIS_OP, NONE, \
	  "time from sending a Redis command to its reply") \
	X(redis_errors, COUNTER, "ceirgw_redis_errors_total", REDIS_OP, NONE, \
	  "Redis commands answered with an error") \
	X(redis_timeouts, COUNTER, "ceirgw_redis_timeouts_total", NONE, NONE, \
	  "Redis connections dropped for a reply later than redis-timeout")

#define METRIC_T_COUNTER uint64_t
#define METRIC_T_GAUGE uint64_t
#define METRIC_T_HISTOGRAM struct metric_hist
#define METRIC_MEMBER_(field, type, name, d0, d1, help) \
	METRIC_T_##type field[METRIC_N_##d0][METRIC_N_##d1];
struct metrics {
	METRIC_FAMILIES(METRIC_MEMBER_)
};
#undef METRIC_MEMBER_

/* The process's one registry. A global, as the log is: the daemon runs one event loop in
 * one thread, and the hot path counts with one add to a fixed place (no lookup, no lock,
 * no allocation): metrics.requests[MC_API][MR_OK]++. */
extern struct metrics metrics;

#define METRIC_INC(field) (metrics.field[0][0]++)
#define METRIC_INC1(field, i) (metrics.field[(i)][0]++)
#define METRIC_INC2(field, i, j) (metrics.field[(i)][(j)]++)
#define METRIC_SET(field, v) (metrics.field[0][0] = (uint64_t)(v))
#define METRIC_SET1(field, i, v) (metrics.field[(i)][0] = (uint64_t)(v))

/* Adds one duration (us) to a histogram: a walk down 13 bounds, no division. */
static inline void metric_observe(struct metric_hist *h, uint64_t us)
{
	static const uint64_t bounds[] = {
#define METRIC_BOUND_(us) us,
		METRIC_BUCKETS_US(METRIC_BOUND_)
#undef METRIC_BOUND_
	};
	size_t i = 0;

	while (i < METRIC_BUCKETS && us > bounds[i])
		i++;
	h->bucket[i]++;
	h->sum_us += us;
}

/* The request's transport result from its HTTP status. */
static inline int metric_result_of_status(int code)
{
	if (code < 400)
		return MR_OK;
	if (code == 401 || code == 403 || code == 429)
		return MR_REFUSED;
	return code < 500 ? MR_BAD_REQUEST : MR_ERROR;
}

/* Clears every value (a test's fresh start). */
void metrics_reset(void);

/* Writes every family in the text format 0.0.4: HELP and TYPE, then each series; counters
 * and histograms of a label set never seen are written as 0 (so that rate() sees them
 * start). Returns 0 or -ENOMEM. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
int metrics_write(struct evbuffer *out);

#endif
