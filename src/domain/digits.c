/* Normalising what people type as digits. The scripts are those of the keyboards our users
 * have: Arabic-Indic and Extended Arabic-Indic (Arabic, Persian, Urdu), Devanagari (Hindi,
 * Marathi, Nepali) and full-width forms (East Asian input methods). UTF-8 per RFC 3629. */
#include "domain/digits.h"

#include "core/utf8.h"

#include <stdint.h>

/* First code point of each script's zero; its nine successors are 1..9. */
static const uint32_t zeros[] = {
	0x0660,	/* ARABIC-INDIC DIGIT ZERO */
	0x06F0,	/* EXTENDED ARABIC-INDIC DIGIT ZERO */
	0x0966,	/* DEVANAGARI DIGIT ZERO */
	0xFF10,	/* FULLWIDTH DIGIT ZERO */
};

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
	case '\r':
	case '\n':	/* an SMS typed on two lines, or ending in a newline */
	case '-':
	case '/':
	case '.':
	case 0x00A0:	/* NO-BREAK SPACE, which phones paste from formatted text */
	case 0x2010:	/* HYPHEN .. HORIZONTAL BAR: what autocorrect makes of '-' */
	case 0x2011:
	case 0x2012:
	case 0x2013:
	case 0x2014:
	case 0x2015:
	case 0x2212:	/* MINUS SIGN */
	case 0xFF0D:	/* FULLWIDTH HYPHEN-MINUS, from the same keyboards as the digits */
	case 0xFF0F:	/* FULLWIDTH SOLIDUS */
	case 0xFF0E:	/* FULLWIDTH FULL STOP */
	case 0x3000:	/* IDEOGRAPHIC SPACE */
	case 0x202F:	/* NARROW NO-BREAK SPACE */
	/* Invisible marks that right-to-left keyboards insert around digits, and the byte
	 * order mark some phones put in front of pasted text. */
	case 0x200B:	/* ZERO WIDTH SPACE */
	case 0x200E:	/* LEFT-TO-RIGHT MARK */
	case 0x200F:	/* RIGHT-TO-LEFT MARK */
	case 0x061C:	/* ARABIC LETTER MARK */
	case 0x2066:	/* LEFT-TO-RIGHT ISOLATE .. POP DIRECTIONAL ISOLATE */
	case 0x2067:
	case 0x2068:
	case 0x2069:
	case 0xFEFF:	/* ZERO WIDTH NO-BREAK SPACE (byte order mark) */
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

uint64_t digits_value(const char *s, size_t n)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n; i++)
		v = v * 10 + (uint64_t)(s[i] - '0');
	return v;
}
