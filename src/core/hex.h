/* The value of a hexadecimal digit, for the percent-decoders of URLs and forms (RFC 3986
 * section 2.1) and the hex fields of signed notes. Header-only so that the pure domain
 * library needs nothing else. */
#ifndef CEIRGW_CORE_HEX_H
#define CEIRGW_CORE_HEX_H

/* Returns 0 to 15 for 0-9, a-f and A-F, else -1. */
static inline int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
