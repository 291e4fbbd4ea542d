/* Normalising what people type as digits: ASCII, Arabic-Indic (U+0660-0669), Extended
 * Arabic-Indic (U+06F0-06F9), Devanagari (U+0966-096F) and full-width (U+FF10-FF19) digits
 * all read as '0'..'9'; separators people put between digit groups are skipped. */
#ifndef CEIRGW_DOMAIN_DIGITS_H
#define CEIRGW_DOMAIN_DIGITS_H

#include <stddef.h>
#include <stdint.h>

/* What digits_normalise() met besides digits and separators. */
enum digits_status {
	DIGITS_OK = 0,		/* only digits and separators */
	DIGITS_OTHER,		/* some other character (letter, symbol, invalid UTF-8) */
};

/* Reads one UTF-8 character at s (at most len bytes). Returns its digit value 0..9 and stores
 * the number of bytes it takes in *used, or -1 when it is not a digit of the scripts above
 * (*used is then the length of that character, or 1 for a byte that is not valid UTF-8). */
int digits_decode(const char *s, size_t len, size_t *used);

/* True when the character at s is a separator: ASCII space, tab, CR, LF, '-', '/', '.';
 * the other spaces and dashes phones produce (no-break, narrow no-break and ideographic
 * spaces, U+2010..U+2015 dashes, minus sign, full-width '-', '/', '.'); and the invisible
 * direction marks and byte order mark that right-to-left keyboards and pasted text carry.
 * *used gets its length. */
int digits_is_separator(const char *s, size_t len, size_t *used);

/* Copies the digits of in[0..len) into out as ASCII, skipping separators. At most outsz - 1
 * digits are stored and out is always NUL-terminated (outsz >= 1); *ndigits gets the number
 * of digits seen, which may be more than were stored. A leading '+' is not a digit: callers
 * that accept one strip it first. Returns DIGITS_OK or DIGITS_OTHER. */
enum digits_status digits_normalise(const char *in, size_t len, char *out, size_t outsz,
				    size_t *ndigits);

/* The number s[0..n) writes in ASCII digits: an IMEI's body, an E.164 number without its '+'
 * or an IMSI as the store keeps them. s must hold n ASCII digits and nothing else (parse or
 * normalise first) and n be at most 19, so that the value fits; s needs no NUL. */
uint64_t digits_value(const char *s, size_t n);

#endif
