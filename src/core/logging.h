/* Logging: one line per event, a level and a subsystem on each, to stderr or a file, as text
 * or as one JSON object per line (log-format, for log shippers).
 * Callers pass MSISDNs through msisdn_mask() first: logs never carry a full MSISDN, a
 * national ID, a PIN or an OTP. */
#ifndef CEIRGW_CORE_LOGGING_H
#define CEIRGW_CORE_LOGGING_H

#include <stdarg.h>

enum log_level { LOGL_DEBUG = 0, LOGL_INFO, LOGL_NOTICE, LOGL_WARN, LOGL_ERROR };

enum log_cat { LOGC_MAIN = 0, LOGC_CONFIG, LOGC_HTTP, LOGC_STORE, LOGC_DOMAIN, LOGC_KBOX,
	LOGC_FLOW, LOGC_CEIR, LOGC_GW, LOGC__COUNT };

/* The text line, or one JSON object per line: {"time", "level", "program", "pid",
 * "component", "message"}. */
enum log_format { LOG_FORMAT_TEXT = 0, LOG_FORMAT_JSON };

/* Sets the program name printed on each line and the lowest level printed; libevent's own
 * messages come through here from then on. */
void logging_setup(const char *ident, enum log_level level);
void logging_set_level(enum log_level level);
enum log_level logging_level(void);

void logging_set_format(enum log_format format);

/* Format by name ("text" or "json"). Returns 0 or -EINVAL. */
int logging_format_parse(const char *name, enum log_format *out);

/* Appends to path from now on (NULL: back to stderr). Returns 0 or -errno; on failure the
 * old destination stays. */
int logging_set_file(const char *path);

/* While on, errors also go to standard error when a log file is set: an operator starting
 * ceirgw by hand sees why it did not start. */
void logging_echo_errors(int on);

/* Reopens the log file (after logrotate moved it). Returns 0 or -errno. */
int logging_reopen(void);

/* Level by name ("debug", "info", "notice", "warn", "error"). Returns 0 or -EINVAL. */
int logging_level_parse(const char *name, enum log_level *out);
const char *logging_level_name(enum log_level level);

void logging_msg(enum log_cat cat, enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void logging_vmsg(enum log_cat cat, enum log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

#define LOGP(cat, level, ...) do { \
	if ((level) >= logging_level()) \
		logging_msg((cat), (level), __VA_ARGS__); \
} while (0)

#endif
