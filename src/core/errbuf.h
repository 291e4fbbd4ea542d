/* The one-line error messages that constructors and loaders hand back in a caller's buffer
 * ("path: reason"). Header-only so that the pure domain library can use it too. */
#ifndef CEIRGW_CORE_ERRBUF_H
#define CEIRGW_CORE_ERRBUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* Formats into err (errsz bytes); err may be NULL or errsz 0, then nothing is written. */
static inline void errbuf_set(char *err, size_t errsz, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static inline void errbuf_set(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errsz == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

#endif
