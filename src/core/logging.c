/* Logging to stderr or a file, one line per event:
 * "2026-11-23T19:12:00.123Z ceirgw[123] notice main: started", or with log-format = json
 * {"time":"2026-11-23T19:12:00.123Z","level":"notice","program":"ceirgw","pid":123,
 *  "component":"main","message":"started"} (RFC 8259; bytes that are not UTF-8 become
 * U+FFFD so that every line parses). */
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
	[LOGC_FLOW] = "flow", [LOGC_CEIR] = "ceir", [LOGC_GW] = "libgw",
};

static struct {
	char ident[32];
	enum log_level level;
	FILE *file;		/* NULL: stderr */
	char path[4096];
	int echo_errors;
	enum log_format format;
} lg = { "ceirgw", LOGL_INFO, NULL, "", 0, LOG_FORMAT_TEXT };

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

void logging_set_format(enum log_format format)
{
	lg.format = format;
}

int logging_format_parse(const char *name, enum log_format *out)
{
	if (strcmp(name, "text") == 0)
		*out = LOG_FORMAT_TEXT;
	else if (strcmp(name, "json") == 0)
		*out = LOG_FORMAT_JSON;
	else
		return -EINVAL;
	return 0;
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

/* The length of the well-formed UTF-8 sequence at s (at most n bytes), 0 when there is none
 * (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t len, i;
	unsigned lo = 0x80, hi = 0xbf;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (len > n)
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/* Appends s to buf (at *at, room for 6 bytes per byte of s) as a JSON string's contents. */
static void json_string(char *buf, size_t *at, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), len;

	while (n) {
		if (*p == '"' || *p == '\\') {
			buf[(*at)++] = '\\';
			buf[(*at)++] = (char)*p;
			len = 1;
		} else if (*p < 0x20 || *p == 0x7f) {
			*at += (size_t)sprintf(buf + *at, "\\u%04x", *p);
			len = 1;
		} else if ((len = utf8_seq(p, n)) > 0) {
			memcpy(buf + *at, p, len);
			*at += len;
		} else {
			memcpy(buf + *at, "\\ufffd", 6);
			*at += 6;
			len = 1;
		}
		p += len;
		n -= len;
	}
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
	if (lg.format == LOG_FORMAT_JSON) {
		/* Built whole and written at once: one write per line on an unbuffered stderr. */
		char line[sizeof(msg) * 6 + sizeof(lg.ident) * 6 + 256];
		size_t at;

		at = (size_t)snprintf(line, sizeof(line), "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\","
				      "\"program\":\"", stamp, (long)(tv.tv_usec / 1000),
				      logging_level_name(level));
		json_string(line, &at, lg.ident);
		at += (size_t)snprintf(line + at, sizeof(line) - at, "\",\"pid\":%ld,\"component\":"
				       "\"%s\",\"message\":\"", (long)getpid(),
				       (unsigned)cat < LOGC__COUNT ? cat_names[cat] : "?");
		json_string(line, &at, msg);
		memcpy(line + at, "\"}\n", 3);
		fwrite(line, 1, at + 3, out);
	} else {
		fprintf(out, "%s.%03ldZ %s[%ld] %s %s: %s\n", stamp, (long)(tv.tv_usec / 1000),
			lg.ident, (long)getpid(), logging_level_name(level),
			(unsigned)cat < LOGC__COUNT ? cat_names[cat] : "?", msg);
	}
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
