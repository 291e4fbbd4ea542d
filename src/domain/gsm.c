/* GSM 7-bit or UCS-2, and how many SMS parts or USSD screens a text takes: the default
 * alphabet and extension table of 3GPP TS 23.038 section 6.2.1, the concatenated SMS parts of
 * 3GPP TS 23.040 section 9.2.3.24.1. Text arrives as UTF-8 (RFC 3629), decoded by core/utf8.h. */
#include "domain/gsm.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "core/utf8.h"

#define GSM_ESC		0x1B	/* escape to the extension table, no character of its own */
#define GSM_NONE	0xFFFF	/* table slot without a character (U+FFFF is a noncharacter) */

/* The default alphabet indexed by its 7-bit code, in the order of the spec's table. 0x09 is
 * the capital C cedilla the spec draws (as Android and Perl's Encode::GSM0338 read it).
 * Unicode's GSM0338.TXT maps it to the lowercase one and Kannel's latin1_to_gsm.h sends both
 * there, but a handset that follows the spec would show "garçon" as "garÇon": U+00E7 makes a
 * text UCS2. */
static const uint16_t default_alphabet[128] = {
	0x0040, 0x00A3, 0x0024, 0x00A5, 0x00E8, 0x00E9, 0x00F9, 0x00EC,	/* @ £ $ ¥ è é ù ì */
	0x00F2, 0x00C7, 0x000A, 0x00D8, 0x00F8, 0x000D, 0x00C5, 0x00E5,	/* ò Ç LF Ø ø CR Å å */
	0x0394, 0x005F, 0x03A6, 0x0393, 0x039B, 0x03A9, 0x03A0, 0x03A8,	/* Δ _ Φ Γ Λ Ω Π Ψ */
	0x03A3, 0x0398, 0x039E, GSM_NONE, 0x00C6, 0x00E6, 0x00DF, 0x00C9,	/* Σ Θ Ξ ESC Æ æ ß É */
	0x0020, 0x0021, 0x0022, 0x0023, 0x00A4, 0x0025, 0x0026, 0x0027,	/* space ! " # ¤ % & ' */
	0x0028, 0x0029, 0x002A, 0x002B, 0x002C, 0x002D, 0x002E, 0x002F,	/* ( ) * + , - . / */
	0x0030, 0x0031, 0x0032, 0x0033, 0x0034, 0x0035, 0x0036, 0x0037,	/* 0 .. 7 */
	0x0038, 0x0039, 0x003A, 0x003B, 0x003C, 0x003D, 0x003E, 0x003F,	/* 8 9 : ; < = > ? */
	0x00A1, 0x0041, 0x0042, 0x0043, 0x0044, 0x0045, 0x0046, 0x0047,	/* ¡ A .. G */
	0x0048, 0x0049, 0x004A, 0x004B, 0x004C, 0x004D, 0x004E, 0x004F,	/* H .. O */
	0x0050, 0x0051, 0x0052, 0x0053, 0x0054, 0x0055, 0x0056, 0x0057,	/* P .. W */
	0x0058, 0x0059, 0x005A, 0x00C4, 0x00D6, 0x00D1, 0x00DC, 0x00A7,	/* X Y Z Ä Ö Ñ Ü § */
	0x00BF, 0x0061, 0x0062, 0x0063, 0x0064, 0x0065, 0x0066, 0x0067,	/* ¿ a .. g */
	0x0068, 0x0069, 0x006A, 0x006B, 0x006C, 0x006D, 0x006E, 0x006F,	/* h .. o */
	0x0070, 0x0071, 0x0072, 0x0073, 0x0074, 0x0075, 0x0076, 0x0077,	/* p .. w */
	0x0078, 0x0079, 0x007A, 0x00E4, 0x00F6, 0x00F1, 0x00FC, 0x00E0,	/* x y z ä ö ñ ü à */
};

/* The extension table (section 6.2.1.1): the codes with a character. 0x0A is the page break,
 * which Unicode and every gateway read as form feed; 0x0D (CR2) and 0x1B (a further
 * extension) are controls. Backtick is in neither table. */
static const struct {
	uint8_t code;
	uint16_t cp;
} extension[] = {
	{ 0x0A, 0x000C },	/* FORM FEED (page break) */
	{ 0x14, 0x005E },	/* ^ */
	{ 0x28, 0x007B },	/* { */
	{ 0x29, 0x007D },	/* } */
	{ 0x2F, 0x005C },	/* \ */
	{ 0x3C, 0x005B },	/* [ */
	{ 0x3D, 0x007E },	/* ~ */
	{ 0x3E, 0x005D },	/* ] */
	{ 0x40, 0x007C },	/* | */
	{ 0x65, 0x20AC },	/* EURO SIGN */
};

#define NEXTENSION (sizeof(extension) / sizeof(extension[0]))

static int septets_scan(uint32_t cp)
{
	size_t i;

	if (cp >= GSM_NONE)
		return 0;
	for (i = 0; i < 128; i++) {
		if (i != GSM_ESC && default_alphabet[i] == cp)
			return 1;
	}
	for (i = 0; i < NEXTENSION; i++) {
		if (extension[i].cp == cp)
			return 2;
	}
	return 0;
}

int gsm_septets(uint32_t cp)
{
	/* ASCII, nearly every character of a screen, by a table read off the two above the
	 * first time: spaces, newlines and punctuation would each scan 128 entries. */
	static uint8_t ascii[128];
	static bool ascii_ready;

	if (cp < 128) {
		if (!ascii_ready) {
			for (uint32_t c = 0; c < 128; c++)
				ascii[c] = (uint8_t)septets_scan(c);
			ascii_ready = true;
		}
		return ascii[cp];
	}
	return septets_scan(cp);
}

int32_t gsm_default_char(unsigned code)
{
	if (code >= 128 || code == GSM_ESC)
		return -1;
	return default_alphabet[code];
}

int32_t gsm_extension_char(unsigned code)
{
	size_t i;

	for (i = 0; i < NEXTENSION; i++) {
		if (extension[i].code == code)
			return extension[i].cp;
	}
	return -1;
}

/* Units of one character in a coding; 0 for a character GSM 7-bit cannot carry. */
static size_t unit_cost(enum sms_coding c, int32_t cp)
{
	if (c == SMS_GSM7)
		return (size_t)gsm_septets((uint32_t)cp);
	return cp > 0xFFFF ? 2 : 1;
}

/* Parts of `cap` units filled in order: a pair that does not fit goes whole to the next. */
struct packing {
	size_t units;
	size_t parts;
	size_t fill;	/* units in the last part */
};

static void pack_add(struct packing *p, size_t cost, size_t cap)
{
	if (p->fill + cost > cap) {
		p->parts++;
		p->fill = cost;
	} else {
		p->fill += cost;
	}
	p->units += cost;
}

int sms_measure(const char *s, size_t len, struct sms_measure *m)
{
	const unsigned char *u = (const unsigned char *)s;
	struct packing gsm = { 0, 1, 0 }, ucs = { 0, 1, 0 };
	size_t pos = 0, chars = 0, used, sep;
	bool is_gsm = true;
	int32_t cp;

	/* Both packings in one pass: the coding is known only at the end of the text. */
	while (pos < len) {
		cp = utf8_decode(u + pos, len - pos, &used);
		if (cp < 0) {
			memset(m, 0, sizeof(*m));
			return -EILSEQ;
		}
		chars++;
		if (is_gsm) {
			sep = unit_cost(SMS_GSM7, cp);
			if (sep == 0)
				is_gsm = false;
			else
				pack_add(&gsm, sep, SMS_GSM7_PART);
		}
		pack_add(&ucs, unit_cost(SMS_UCS2, cp), SMS_UCS2_PART);
		pos += used;
	}
	m->chars = chars;
	if (is_gsm) {
		m->coding = SMS_GSM7;
		m->units = gsm.units;
		m->segments = gsm.units <= SMS_GSM7_SINGLE ? 1 : gsm.parts;
	} else {
		m->coding = SMS_UCS2;
		m->units = ucs.units;
		m->segments = ucs.units <= SMS_UCS2_SINGLE ? 1 : ucs.parts;
	}
	return 0;
}

size_t sms_ussd_limit(enum sms_coding c)
{
	return c == SMS_GSM7 ? SMS_USSD_GSM7 : SMS_USSD_UCS2;
}

bool sms_fits_ussd(const struct sms_measure *m)
{
	return m->units <= sms_ussd_limit(m->coding);
}

/* Decodes the character at s[pos], known valid: sms_cut() measured the text first. */
static int32_t char_at(const char *s, size_t len, size_t pos, size_t *used)
{
	int32_t cp = utf8_decode((const unsigned char *)s + pos, len - pos, used);

	assert(cp >= 0);
	return cp;
}

/* Parts that s[pos..len), not empty, takes when filled in order. */
static size_t parts_from(const char *s, size_t len, size_t pos, enum sms_coding c, size_t cap)
{
	struct packing p = { 0, 1, 0 };
	size_t used;

	while (pos < len) {
		pack_add(&p, unit_cost(c, char_at(s, len, pos, &used)), cap);
		pos += used;
	}
	return p.parts;
}

/* Where the part that starts at pos ends: *hard after the last whole character that fits,
 * *word after the last space or newline that leaves at most SMS_SPLIT_SLACK units unused
 * (pos when there is none). Returns whether the character at *hard ends a word already. */
static bool part_end(const char *s, size_t len, size_t pos, enum sms_coding c, size_t cap,
		     size_t *hard, size_t *word)
{
	size_t fill = 0, cost, used;
	int32_t cp;

	*word = pos;
	while (pos < len) {
		cp = char_at(s, len, pos, &used);
		cost = unit_cost(c, cp);
		if (fill + cost > cap)
			break;
		fill += cost;
		pos += used;
		if ((cp == ' ' || cp == '\n') && fill + SMS_SPLIT_SLACK >= cap)
			*word = pos;
	}
	*hard = pos;
	return pos < len && (s[pos] == ' ' || s[pos] == '\n');
}

int sms_cut(const char *s, size_t len, size_t *starts, size_t maxparts)
{
	struct sms_measure m;
	size_t cap, part, hard, word, pos = 0;
	bool at_word;
	int rc;

	rc = sms_measure(s, len, &m);
	if (rc < 0)
		return rc;
	if (m.segments > maxparts || m.segments > INT_MAX)
		return -E2BIG;
	starts[0] = 0;
	cap = m.coding == SMS_GSM7 ? SMS_GSM7_PART : SMS_UCS2_PART;
	/* Filled in order, the text takes m.segments parts and every cut leaves a rest that
	 * takes exactly the parts left; the last part is the rest. */
	for (part = 1; part < m.segments; part++) {
		at_word = part_end(s, len, pos, m.coding, cap, &hard, &word);
		/* Cutting at a word end is only worth it when the rest still takes no more parts
		 * than are left: a text of two parts must not become three. The latest word end
		 * is the only one to try, as a rest that starts earlier never takes fewer parts. */
		if (!at_word && word > pos && word < hard &&
		    parts_from(s, len, word, m.coding, cap) <= m.segments - part)
			pos = word;
		else
			pos = hard;
		starts[part] = pos;
	}
	return (int)m.segments;
}
