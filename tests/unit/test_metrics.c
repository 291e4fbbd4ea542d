/* The metrics registry's exposition (core/metrics.h, Prometheus text format 0.0.4): counters
 * with their labels, a histogram's cumulative buckets, sum and count in seconds, every
 * outcome of the flow's table a series, only the report moves the event table allows, and a
 * HELP and a TYPE line for each family. promtool checks the whole text in metrics.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "core/metrics.h"
#include "flow/flow.h"

/* The exposition as one NUL-terminated string (freed by the caller). */
static char *expose(void)
{
	struct evbuffer *b = evbuffer_new();
	size_t len;
	char *s;

	assert_non_null(b);
	assert_int_equal(metrics_write(b), 0);
	len = evbuffer_get_length(b);
	s = malloc(len + 1);
	assert_non_null(s);
	evbuffer_remove(b, s, len);
	s[len] = '\0';
	evbuffer_free(b);
	return s;
}

/* Whether text holds line as a whole line. */
static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

static void test_counters(void **state)
{
	char *t;

	(void)state;
	metrics_reset();
	METRIC_INC2(requests, MC_API, MR_OK);
	METRIC_INC2(requests, MC_API, MR_OK);
	METRIC_INC1(refusals, ML_LOCKOUT);
	METRIC_INC(redis_timeouts);
	t = expose();
	assert_true(has_line(t, "ceirgw_requests_total{channel=\"api\",result=\"ok\"} 2"));
	assert_true(has_line(t, "ceirgw_requests_total{channel=\"box_ussd\",result=\"error\"} 0"));
	assert_true(has_line(t, "ceirgw_refusals_total{limit=\"verify-lockout\"} 1"));
	assert_true(has_line(t, "ceirgw_redis_timeouts_total 1"));
	assert_true(has_line(t, "# TYPE ceirgw_requests_total counter"));
	assert_true(has_line(t, "# TYPE ceirgw_redis_up gauge"));
	free(t);
}

static void test_histogram(void **state)
{
	struct metric_hist *h = &metrics.redis_latency[MRO_SCRIPT][0];
	char *t;

	(void)state;
	metrics_reset();
	metric_observe(h, 100);		/* on a bound: in its bucket (le) */
	metric_observe(h, 150);
	metric_observe(h, 2000000);	/* over the last bound: +Inf only */
	t = expose();
#define B(le, n) "ceirgw_redis_command_duration_seconds_bucket{class=\"script\",le=\"" le "\"} " n
	assert_true(has_line(t, B("0.0001", "1")));
	assert_true(has_line(t, B("0.00025", "2")));
	assert_true(has_line(t, B("1", "2")));
	assert_true(has_line(t, B("+Inf", "3")));
#undef B
	assert_true(has_line(t, "ceirgw_redis_command_duration_seconds_sum{class=\"script\"} "
				"2.000250"));
	assert_true(has_line(t, "ceirgw_redis_command_duration_seconds_count{class=\"script\"} 3"));
	assert_true(has_line(t, "ceirgw_redis_command_duration_seconds_count{class=\"wait\"} 0"));
	assert_true(has_line(t, "# TYPE ceirgw_redis_command_duration_seconds histogram"));
	free(t);
}

/* Every outcome of every action (flow/outcomes.h) is a series, and nothing else is. */
static void test_outcomes(void **state)
{
	char line[160], *t;
	size_t series = 0;

	(void)state;
	metrics_reset();
	t = expose();
	for (int a = 0; a < FA_COUNT; a++) {
		const struct flow_action_info *ai = flow_action_info((enum flow_action)a);

		snprintf(line, sizeof(line), "ceirgw_flow_actions_started_total{action=\"%s\"} 0",
			 ai->name);
		assert_true(has_line(t, line));
		for (int o = 0; ai->outcomes[o]; o++) {
			snprintf(line, sizeof(line), "ceirgw_flow_actions_completed_total"
				 "{action=\"%s\",outcome=\"%s\"} 0", ai->name, ai->outcomes[o]);
			assert_true(has_line(t, line));
			series++;
		}
	}
	for (const char *p = t; (p = strstr(p, "\nceirgw_flow_actions_completed_total{")); p++)
		series--;
	assert_int_equal(series, 0);
	free(t);
}

static void test_transitions(void **state)
{
	char *t;

	(void)state;
	metrics_reset();
	METRIC_INC2(report_transitions, REPORT_SENT, REPORT_BLOCKED);
	t = expose();
	assert_true(has_line(t, "ceirgw_report_transitions_total{from=\"sent\",to=\"blocked\"} 1"));
	assert_true(has_line(t, "ceirgw_report_transitions_total{from=\"none\",to=\"received\"} 0"));
	assert_true(has_line(t, "ceirgw_report_transitions_total{from=\"unblocked\",to=\"received\"} "
				"0"));
	/* No table event moves a report back, or to "none". */
	assert_null(strstr(t, "{from=\"sent\",to=\"received\"}"));
	assert_null(strstr(t, "to=\"none\""));
	free(t);
}

/* One HELP and one TYPE per family, each before its series. */
static void test_headers(void **state)
{
	char *t;
	size_t help = 0, type = 0;

	(void)state;
	metrics_reset();
	t = expose();
	for (const char *p = t; (p = strstr(p, "# HELP ceirgw_")); p++)
		help++;
	for (const char *p = t; (p = strstr(p, "# TYPE ceirgw_")); p++)
		type++;
#define ONE_(field, type, name, d0, d1, h) +1
	assert_int_equal(help, 0 METRIC_FAMILIES(ONE_));
	assert_int_equal(type, 0 METRIC_FAMILIES(ONE_));
#undef ONE_
	assert_true(strncmp(t, "# HELP ceirgw_build_info ", 25) == 0);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counters),
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_outcomes),
		cmocka_unit_test(test_transitions),
		cmocka_unit_test(test_headers),
	};

	return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
