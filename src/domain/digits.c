/* Normalising what people type as digits. The scripts are those of the keyboards our users
 * have: Arabic-Indic and Extended Arabic-Indic (Arabic, Persian, Urdu), Devanagari (Hindi,
 * Marathi, Nepali) and full-width forms (East Asian input methods). UTF-8 per RFC 3629. */
#include "domain/digits.h"

#include <stdint.h>

/* First code point of each script's zero; its nine successors are 1..9. */
static const uint32_t zeros[] = {
	0x0660,	/* ARABIC-INDIC DIGIT ZERO */
	0x06F0,	/* EXTENDED ARABIC-INDIC DIGIT ZERO */
	0x0966,	/* DEVANAGARI DIGIT ZERO */
	0xFF10,	/* FULLWIDTH DIGIT ZERO */
};

/* Decodes one UTF-8 sequence. Returns the code point, or -1 for an invalid, overlong or
 * truncated sequence or a surrogate; *used is the bytes consumed (1 on error). */
static int32_t utf8_decode(const unsigned char *s, size_t len, size_t *used)
{
	uint32_t cp, min;
	size_t n, i;

	*used = 1;
	if (len == 0)
		return -1;
	if (s[0] < 0x80) {
		return s[0];
	} else if ((s[0] & 0xE0) == 0xC0) {
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

int digits_decode(const char *s, size_t len, size_t *used)
{
	int32_t cp = utf8_decode((const unsigned char *)s, len, used);
	size_t i;

	if (cp >= '0' && cp <= '9')
		return cp - '0';
	if (cp < 0x80)
		return -1;
	for (i = 0; i < sizeof(zeros) / sizeof(zeros[0]); i++) {
		if ((uint32_t)cp >= zeros[i] && (uint32_t)cp <= zeros[i] + 9)
			return (int)((uint32_t)cp - zeros[i]);
	}
	return -1;
}

int digits_is_separator(const char *s, size_t len, size_t *used)
{
	int32_t cp = utf8_decode((const unsigned char *)s, len, used);

	switch (cp) {
	case ' ':
	case '\t':
	case '-':
	case '/':
	case '.':
	case 0x00A0:	/* NO-BREAK SPACE, which phones paste from formatted text */
		return 1;
	default:
		return 0;
	}
}

enum digits_status digits_normalise(const char *in, size_t len, char *out, size_t outsz,
				    size_t *ndigits)
{
	enum digits_status st = DIGITS_OK;
	size_t pos = 0, stored = 0, seen = 0, used;
	int d;

	while (pos < len) {
		d = digits_decode(in + pos, len - pos, &used);
		if (d >= 0) {
			if (stored + 1 < outsz)
				out[stored++] = (char)('0' + d);
			seen++;
		} else if (!digits_is_separator(in + pos, len - pos, &used)) {
			st = DIGITS_OTHER;
		}
		pos += used;
	}
	if (outsz > 0)
		out[stored] = '\0';
	*ndigits = seen;
	return st;
}
