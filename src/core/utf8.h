/* One UTF-8 decoder (RFC 3629) for everything that reads what users type or what arrives
 * from the network. Header-only so that the pure domain library needs nothing else. */
#ifndef CEIRGW_CORE_UTF8_H
#define CEIRGW_CORE_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Decodes the sequence at s (len bytes available). Returns the code point, or -1 for an
 * invalid, overlong or truncated sequence or a surrogate; *used gets the bytes consumed,
 * 1 on error so that a caller can skip the bad byte and go on. */
static inline int32_t utf8_decode(const unsigned char *s, size_t len, size_t *used)
{
	uint32_t cp, min;
	size_t n, i;

	*used = 1;
	if (len == 0)
		return -1;
	if (s[0] < 0x80)
		return s[0];
	if ((s[0] & 0xE0) == 0xC0) {
		n = 2; cp = s[0] & 0x1F; min = 0x80;
	} else if ((s[0] & 0xF0) == 0xE0) {
		n = 3; cp = s[0] & 0x0F; min = 0x800;
	} else if ((s[0] & 0xF8) == 0xF0) {
		n = 4; cp = s[0] & 0x07; min = 0x10000;
	} else {
		return -1;
	}
	if (len < n)
		return -1;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return -1;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return -1;
	*used = n;
	return (int32_t)cp;
}

#endif
