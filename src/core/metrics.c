/* The metrics registry and its exposition in Prometheus's text format 0.0.4
 * (prometheus.io/docs/instrumenting/exposition_formats): every family of the table in
 * metrics.h, with its HELP and TYPE lines, each series in the order of its label tables. */
#include <config.h>	/* <>: the build's (PACKAGE_VERSION), not core/config.h beside this file */
#include "core/metrics.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "flow/outcomes.h"	/* the actions' and outcomes' names: header only */

struct metrics metrics;

/* ---- label values ---- */

#define NAME_(id, name) name,
static const char *const channel_names[] = { METRIC_CHANNELS(NAME_) };
static const char *const result_names[] = { METRIC_RESULTS(NAME_) };
static const char *const journey_channel_names[] = { METRIC_JOURNEY_CHANNELS(NAME_) };
static const char *const reply_names[] = { METRIC_REPLIES(NAME_) };
static const char *const limit_names[] = { METRIC_LIMITS(NAME_) };
static const char *const kind_names[] = { METRIC_CEIR_KINDS(NAME_) };
static const char *const ceir_result_names[] = { METRIC_CEIR_RESULTS(NAME_) };
static const char *const path_names[] = { METRIC_PATHS(NAME_) };
static const char *const box_mo_names[] = { METRIC_BOX_MO(NAME_) };
static const char *const box_mt_names[] = { METRIC_BOX_MT(NAME_) };
static const char *const redis_op_names[] = { METRIC_REDIS_OPS(NAME_) };
#undef NAME_

/* The flow's actions and each one's outcomes, straight from flow/outcomes.h: an outcome
 * added there is a series here. */
#define ACTION_NAME_(a, name) [FA_##a] = name,
static const char *const action_names[METRIC_ACTIONS_MAX] = { FLOW_ACTIONS(ACTION_NAME_) };
#undef ACTION_NAME_
#define OUTCOME_NAME_(a, o, name) name,
#define ACTION_OUTCOMES_(a, name) [FA_##a] = { a##_OUTCOMES(OUTCOME_NAME_) },
static const char *const outcome_names[METRIC_ACTIONS_MAX][METRIC_OUTCOMES_MAX] = {
	FLOW_ACTIONS(ACTION_OUTCOMES_)
};
#undef ACTION_OUTCOMES_
#undef OUTCOME_NAME_
_Static_assert(FA_COUNT <= METRIC_ACTIONS_MAX, "raise METRIC_ACTIONS_MAX");
#define OUTCOME_COUNT_(a, o, name) +1
#define ACTION_FITS_(a, name) \
	_Static_assert((0 a##_OUTCOMES(OUTCOME_COUNT_)) <= METRIC_OUTCOMES_MAX, \
		       "raise METRIC_OUTCOMES_MAX");
FLOW_ACTIONS(ACTION_FITS_)
#undef ACTION_FITS_
#undef OUTCOME_COUNT_

#define STATE_NAME_(s, name, open) [REPORT_##s] = name,
static const char *const state_names[REPORT_STATE_COUNT] = {
	[REPORT_NONE] = "none",
	REPORT_STATES(STATE_NAME_)
};
#undef STATE_NAME_

enum metric_dim {
#define DIM_ENUM_(id, label, n) MD_##id,
	METRIC_DIMS(DIM_ENUM_)
#undef DIM_ENUM_
};

static const char *const dim_labels[] = {
#define DIM_LABEL_(id, label, n) label,
	METRIC_DIMS(DIM_LABEL_)
#undef DIM_LABEL_
};

/* The value of label dim for index i (first: the family's first index, for an outcome),
 * or NULL when there is no such series. */
static const char *dim_value(enum metric_dim dim, size_t i, size_t first)
{
	switch (dim) {
	case MD_NONE: return "";
	case MD_VERSION: return PACKAGE_VERSION;
	case MD_CHANNEL: return channel_names[i];
	case MD_RESULT: return result_names[i];
	case MD_JOURNEY_CHANNEL: return journey_channel_names[i];
	case MD_REPLY: return reply_names[i];
	case MD_ACTION: return action_names[i];
	case MD_OUTCOME: return outcome_names[first][i];
	case MD_LIMIT: return limit_names[i];
	case MD_FROM:
	case MD_TO: return state_names[i];
	case MD_KIND: return kind_names[i];
	case MD_CEIR_RESULT: return ceir_result_names[i];
	case MD_PATH: return path_names[i];
	case MD_BOX_MO: return box_mo_names[i];
	case MD_BOX_MT: return box_mt_names[i];
	case MD_REDIS_OP: return redis_op_names[i];
	}
	return NULL;
}

/* Only the moves the event table allows are series (a report never goes back to "none"):
 * read from the table itself, REPORT_EVENTS, as the names are. */
static bool transition_allowed(size_t from, size_t to)
{
#define MOVE_(ev, name, set, dest) \
	if (((set) & (1u << from)) != 0 && (size_t)REPORT_##dest == to) \
		return true;
	REPORT_EVENTS(MOVE_)
#undef MOVE_
	return false;
}

/* ---- the families ---- */

enum metric_type { MT_COUNTER, MT_GAUGE, MT_HISTOGRAM };
static const char *const type_names[] = { "counter", "gauge", "histogram" };

struct family {
	const char *name, *help;
	enum metric_type type;
	enum metric_dim d0, d1;
	size_t n0, n1;
	const void *values;	/* uint64_t or struct metric_hist [n0][n1] */
};

static const struct family families[] = {
#define FAMILY_(field, type, name, d0, d1, help) \
	{ name, help, MT_##type, MD_##d0, MD_##d1, METRIC_N_##d0, METRIC_N_##d1, \
	  &metrics.field[0][0] },
	METRIC_FAMILIES(FAMILY_)
#undef FAMILY_
};

void metrics_reset(void)
{
	memset(&metrics, 0, sizeof(metrics));
}

/* The label set {a="x",b="y"} (with extra, a histogram's le, last); "" when none. */
static int write_labels(struct evbuffer *out, const struct family *f, const char *v0,
			const char *v1, const char *le)
{
	const char *sep = "{";
	int rc = 0;

	if (f->d0 != MD_NONE) {
		rc |= evbuffer_add_printf(out, "%s%s=\"%s\"", sep, dim_labels[f->d0], v0) < 0;
		sep = ",";
	}
	if (f->d1 != MD_NONE) {
		rc |= evbuffer_add_printf(out, "%s%s=\"%s\"", sep, dim_labels[f->d1], v1) < 0;
		sep = ",";
	}
	if (le) {
		rc |= evbuffer_add_printf(out, "%sle=\"%s\"", sep, le) < 0;
		sep = ",";
	}
	if (sep[0] == ',')
		rc |= evbuffer_add(out, "}", 1) < 0;
	return rc ? -ENOMEM : 0;
}

static int write_hist(struct evbuffer *out, const struct family *f, const char *v0,
		      const char *v1, const struct metric_hist *h)
{
	static const uint64_t bounds[] = {
#define BOUND_(us) us,
		METRIC_BUCKETS_US(BOUND_)
#undef BOUND_
	};
	uint64_t cum = 0;
	char le[24];
	int rc = 0;

	for (size_t b = 0; b <= METRIC_BUCKETS; b++) {
		cum += h->bucket[b];
		if (b < METRIC_BUCKETS)
			snprintf(le, sizeof(le), "%g", (double)bounds[b] / 1e6);
		else
			snprintf(le, sizeof(le), "+Inf");
		rc |= evbuffer_add_printf(out, "%s_bucket", f->name) < 0;
		rc |= write_labels(out, f, v0, v1, le);
		rc |= evbuffer_add_printf(out, " %llu\n", (unsigned long long)cum) < 0;
	}
	rc |= evbuffer_add_printf(out, "%s_sum", f->name) < 0;
	rc |= write_labels(out, f, v0, v1, NULL);
	rc |= evbuffer_add_printf(out, " %.6f\n", (double)h->sum_us / 1e6) < 0;
	rc |= evbuffer_add_printf(out, "%s_count", f->name) < 0;
	rc |= write_labels(out, f, v0, v1, NULL);
	rc |= evbuffer_add_printf(out, " %llu\n", (unsigned long long)cum) < 0;
	return rc ? -ENOMEM : 0;
}

int metrics_write(struct evbuffer *out)
{
	int rc = 0;

	for (size_t k = 0; k < sizeof(families) / sizeof(families[0]); k++) {
		const struct family *f = &families[k];

		rc |= evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help,
					  f->name, type_names[f->type]) < 0;
		for (size_t i = 0; i < f->n0; i++) {
			const char *v0 = dim_value(f->d0, i, 0);

			if (v0 == NULL)
				continue;
			for (size_t j = 0; j < f->n1; j++) {
				const char *v1 = dim_value(f->d1, j, i);

				if (v1 == NULL || (f->d0 == MD_FROM && !transition_allowed(i, j)))
					continue;
				if (f->type == MT_HISTOGRAM) {
					rc |= write_hist(out, f, v0, v1,
							 (const struct metric_hist *)f->values +
							 i * f->n1 + j);
					continue;
				}
				rc |= evbuffer_add_printf(out, "%s", f->name) < 0;
				rc |= write_labels(out, f, v0, v1, NULL);
				rc |= evbuffer_add_printf(out, " %llu\n", (unsigned long long)
							  ((const uint64_t *)f->values)
							  [i * f->n1 + j]) < 0;
			}
		}
	}
	return rc ? -ENOMEM : 0;
}
