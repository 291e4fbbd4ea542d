/* Logging to stderr or a file, one line per event:
 * "2026-11-23T19:12:00.123Z ceirgw[123] NOTICE main: started". */
#include "core/logging.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

static const char *const level_names[] = {
	[LOGL_DEBUG] = "debug", [LOGL_INFO] = "info", [LOGL_NOTICE] = "notice",
	[LOGL_WARN] = "warn", [LOGL_ERROR] = "error",
};

static const char *const cat_names[LOGC__COUNT] = {
	[LOGC_MAIN] = "main", [LOGC_CONFIG] = "config", [LOGC_HTTP] = "http",
	[LOGC_STORE] = "store", [LOGC_DOMAIN] = "domain", [LOGC_KBOX] = "kbox",
	[LOGC_FLOW] = "flow", [LOGC_CEIR] = "ceir",
};

static struct {
	char ident[32];
	enum log_level level;
	FILE *file;		/* NULL: stderr */
	char path[4096];
	int echo_errors;
} lg = { "ceirgw", LOGL_INFO, NULL, "", 0 };

static void libevent_log(int severity, const char *msg);

void logging_setup(const char *ident, enum log_level level)
{
	snprintf(lg.ident, sizeof(lg.ident), "%s", ident);
	lg.level = level;
	event_set_log_callback(libevent_log);
}

void logging_set_level(enum log_level level)
{
	lg.level = level;
}

enum log_level logging_level(void)
{
	return lg.level;
}

int logging_set_file(const char *path)
{
	FILE *f;

	if (path == NULL) {
		if (lg.file)
			fclose(lg.file);
		lg.file = NULL;
		lg.path[0] = '\0';
		return 0;
	}
	if (strlen(path) >= sizeof(lg.path))
		return -ENAMETOOLONG;
	f = fopen(path, "ae");
	if (f == NULL)
		return -errno;
	setvbuf(f, NULL, _IOLBF, 0);
	if (lg.file)
		fclose(lg.file);
	lg.file = f;
	snprintf(lg.path, sizeof(lg.path), "%s", path);
	return 0;
}

void logging_echo_errors(int on)
{
	lg.echo_errors = on;
}

int logging_reopen(void)
{
	char path[sizeof(lg.path)];

	if (lg.file == NULL)
		return 0;
	memcpy(path, lg.path, sizeof(path));
	return logging_set_file(path);
}

int logging_level_parse(const char *name, enum log_level *out)
{
	size_t i;

	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(name, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (strcasecmp(name, "warning") == 0) {
		*out = LOGL_WARN;
		return 0;
	}
	return -EINVAL;
}

const char *logging_level_name(enum log_level level)
{
	if ((unsigned)level > LOGL_ERROR)
		return "?";
	return level_names[level];
}

void logging_vmsg(enum log_cat cat, enum log_level level, const char *fmt, va_list ap)
{
	FILE *out = lg.file ? lg.file : stderr;
	char msg[2048], stamp[32];
	struct timeval tv;
	struct tm tm;
	size_t i, n;

	if (level < lg.level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* One event, one line: a newline or control character that came from the network
	 * must not forge a second log line. */
	n = strlen(msg);
	for (i = 0; i < n; i++) {
		if ((unsigned char)msg[i] < 0x20)
			msg[i] = ' ';
	}
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(out, "%s.%03ldZ %s[%ld] %s %s: %s\n", stamp, (long)(tv.tv_usec / 1000), lg.ident,
		(long)getpid(), logging_level_name(level),
		(unsigned)cat < LOGC__COUNT ? cat_names[cat] : "?", msg);
	if (lg.echo_errors && lg.file && level >= LOGL_ERROR)
		fprintf(stderr, "%s: %s\n", lg.ident, msg);
}

void logging_msg(enum log_cat cat, enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	logging_vmsg(cat, level, fmt, ap);
	va_end(ap);
}

/* libevent's own messages (a failed epoll_ctl, a bad event) would go to stderr, unformatted
 * and unrated; they come here instead, as one line each under "main". */
static void libevent_log(int severity, const char *msg)
{
	enum log_level level = severity == EVENT_LOG_DEBUG ? LOGL_DEBUG :
			       severity == EVENT_LOG_MSG ? LOGL_INFO :
			       severity == EVENT_LOG_WARN ? LOGL_WARN : LOGL_ERROR;

	LOGP(LOGC_MAIN, level, "libevent: %s", msg);
}
