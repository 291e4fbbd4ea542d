/* The log (core/logging.c, core/gw.c): libgw's own warnings and errors come out through
 * ceirgw's logger, in ceirgw's line format (text or JSON), and a JSON line stays valid JSON
 * whatever bytes the message holds. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "gwlib/gwlib.h"

#include "core/gw.h"
#include "core/logging.h"

static char path[PATH_MAX];

/* The log file's whole text (static buffer), emptied for the next test. */
static const char *take_log(void)
{
	static char buf[65536];
	size_t n;
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	assert_int_equal(truncate(path, 0), 0);
	return buf;
}

static void test_libgw_warning_text(void **state)
{
	const char *log;
	Octstr *os;

	(void)state;
	logging_set_format(LOG_FORMAT_TEXT);
	warning(0, "a warning from libgw, %d", 42);
	/* A conversion libgw cannot do: its error(), as box.c's charset_convert would log it. */
	os = octstr_create("abc");
	assert_int_not_equal(charset_convert(os, "NO-SUCH-CHARSET", "UTF-8"), 0);
	octstr_destroy(os);
	info(0, "below the level: not shown");
	gw_log_drain();
	log = take_log();
	if (strstr(log, "Z test[") == NULL ||
	    strstr(log, "] warn libgw: a warning from libgw, 42\n") == NULL ||
	    strstr(log, "] error libgw: Failed to convert string from <NO-SUCH-CHARSET> to "
		   "<UTF-8>") == NULL ||
	    strstr(log, "not shown") || strstr(log, "WARNING:"))
		fail_msg("log:\n%s", log);
}

static void test_libgw_warning_json(void **state)
{
	const char *log;

	(void)state;
	logging_set_format(LOG_FORMAT_JSON);
	warning(0, "quote \" backslash \\ tab\there");
	gw_log_drain();
	log = take_log();
	if (strstr(log, "\"level\":\"warn\",\"program\":\"test\",\"pid\":") == NULL ||
	    strstr(log, "\"component\":\"libgw\",\"message\":\"quote \\\" backslash \\\\ tab "
		   "here\"}\n") == NULL)
		fail_msg("log:\n%s", log);
	logging_set_format(LOG_FORMAT_TEXT);
}

/* Bytes that are not UTF-8 become U+FFFD; UTF-8 passes as it is. */
static void test_json_escaping(void **state)
{
	const char *log;

	(void)state;
	logging_set_format(LOG_FORMAT_JSON);
	logging_msg(LOGC_MAIN, LOGL_NOTICE, "bad \xff\xc0\x80 good \xd8\xa7 del \x7f end");
	log = take_log();
	if (strstr(log, "\"message\":\"bad \\ufffd\\ufffd\\ufffd good \xd8\xa7 del \\u007f "
		   "end\"}\n") == NULL)
		fail_msg("log:\n%s", log);
	logging_set_format(LOG_FORMAT_TEXT);
}

/* A line longer than the reader's buffer is cut, not split into forged lines. */
static void test_libgw_long_line(void **state)
{
	char big[5000];
	const char *log;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	warning(0, "%s", big);
	warning(0, "after");
	gw_log_drain();
	log = take_log();
	if (strstr(log, "warn libgw: xxxx") == NULL || strstr(log, "warn libgw: after\n") == NULL)
		fail_msg("log:\n%s", log);
	/* Two lines: the cut one, and the next; nothing from the long one's tail. */
	{
		int lines = 0;

		for (const char *p = log; *p; p++)
			lines += *p == '\n';
		assert_int_equal(lines, 2);
	}
}

static int setup(void **state)
{
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/ceirgw-test-logging-XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	close(fd);
	logging_setup("test", LOGL_INFO);
	gw_start();
	return logging_set_file(path) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	gw_stop();
	logging_set_file(NULL);
	return unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_libgw_warning_text),
		cmocka_unit_test(test_libgw_warning_json),
		cmocka_unit_test(test_json_escaping),
		cmocka_unit_test(test_libgw_long_line),
	};

	return cmocka_run_group_tests_name("logging", tests, setup, teardown);
}
