/* GSM 7-bit or UCS-2, SMS parts and USSD screens: every character of 3GPP TS 23.038's default
 * alphabet and extension table against a list typed here from the spec, the characters next to
 * them, sentences in the languages of our users, and the part and screen boundaries. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/utf8.h"
#include "domain/gsm.h"
#include "testlib.h"

/* The default alphabet in code order as the spec's table draws it, 0x1B (escape) as itself;
 * written as glyphs, unlike gsm.c's table of code points. */
static const char spec_default[] =
	"@£$¥èéùìòÇ\nØø\rÅå"
	"Δ_ΦΓΛΩΠΨΣΘΞ" "\x1b" "ÆæßÉ"
	" !\"#¤%&'()*+,-./"
	"0123456789:;<=>?"
	"¡ABCDEFGHIJKLMNO"
	"PQRSTUVWXYZÄÖÑÜ§"
	"¿abcdefghijklmno"
	"pqrstuvwxyzäöñüà";

static const struct {
	unsigned code;
	const char *glyph;
} spec_extension[] = {
	{ 0x0A, "\f" }, { 0x14, "^" }, { 0x28, "{" }, { 0x29, "}" }, { 0x2F, "\\" },
	{ 0x3C, "[" }, { 0x3D, "~" }, { 0x3E, "]" }, { 0x40, "|" }, { 0x65, "€" },
};

#define NEXT (sizeof(spec_extension) / sizeof(spec_extension[0]))

static int32_t spec_cp[128];	/* spec_default decoded, by code */
static int32_t spec_ext_cp[NEXT];	/* spec_extension's glyphs decoded */

static int32_t glyph_cp(const char *g)
{
	size_t used;
	int32_t cp = utf8_decode((const unsigned char *)g, strlen(g), &used);

	return used == strlen(g) ? cp : -1;
}

/* Runs before the tests, outside cmocka's asserts. Returns 0, or -1 for a typo in the lists. */
static int decode_spec(void)
{
	const unsigned char *p = (const unsigned char *)spec_default;
	size_t len = sizeof(spec_default) - 1, pos = 0, used, code = 0, i;

	while (pos < len && code < 128) {
		spec_cp[code++] = utf8_decode(p + pos, len - pos, &used);
		if (spec_cp[code - 1] < 0)
			return -1;
		pos += used;
	}
	for (i = 0; i < NEXT; i++) {
		spec_ext_cp[i] = glyph_cp(spec_extension[i].glyph);
		if (spec_ext_cp[i] < 0)
			return -1;
	}
	return code == 128 && pos == len ? 0 : -1;
}

/* What the spec list says one code point costs: 1, 2 or 0 septets. */
static int spec_septets(int32_t cp)
{
	size_t i;

	for (i = 0; i < 128; i++) {
		if (i != 0x1B && spec_cp[i] == cp)
			return 1;
	}
	for (i = 0; i < NEXT; i++) {
		if (spec_ext_cp[i] == cp)
			return 2;
	}
	return 0;
}

static size_t put_utf8(uint32_t cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | cp >> 12);
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | cp >> 18);
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* head + rep * nrep + tail, the way the boundary rows are written. */
static char text[16384];

static size_t build(const char *head, const char *rep, size_t nrep, const char *tail)
{
	size_t n = 0, i, l;

	l = strlen(head);
	memcpy(text + n, head, l);
	n += l;
	l = rep ? strlen(rep) : 0;
	for (i = 0; i < nrep; i++) {
		assert_true(n + l < sizeof(text));
		memcpy(text + n, rep, l);
		n += l;
	}
	l = strlen(tail);
	assert_true(n + l < sizeof(text));
	memcpy(text + n, tail, l);
	n += l;
	text[n] = '\0';
	return n;
}

/* ---- the alphabets, one row per character ------------------------------------------- */

struct alpha_case {
	char name[48];
	unsigned code;
	int32_t cp;
	int septets;	/* 1: default alphabet, 2: extension table */
};

static struct alpha_case alpha_cases[128 + NEXT];
static size_t nalpha;

static void test_alpha(void **state)
{
	const struct alpha_case *c = *state;
	struct sms_measure m;
	char one[4];
	size_t n = put_utf8((uint32_t)c->cp, one), i;

	if (c->septets == 1)
		assert_int_equal(gsm_default_char(c->code), c->cp);
	else
		assert_int_equal(gsm_extension_char(c->code), c->cp);
	assert_int_equal(gsm_septets((uint32_t)c->cp), c->septets);

	assert_int_equal(sms_measure(one, n, &m), 0);
	assert_int_equal(m.coding, SMS_GSM7);
	assert_int_equal(m.chars, 1);
	assert_int_equal(m.units, c->septets);
	assert_int_equal(m.segments, 1);

	/* A whole SMS of it: 160 septets are one part, one character more is two. */
	for (i = 0; i < SMS_GSM7_SINGLE / (size_t)c->septets; i++)
		memcpy(text + i * n, one, n);
	assert_int_equal(sms_measure(text, i * n, &m), 0);
	assert_int_equal(m.units, SMS_GSM7_SINGLE);
	assert_int_equal(m.segments, 1);
	memcpy(text + i * n, one, n);
	assert_int_equal(sms_measure(text, (i + 1) * n, &m), 0);
	assert_int_equal(m.segments, 2);
}

/* Every code point that is not in the spec's lists costs 0: nothing is GSM 7-bit by
 * accident (a look-alike, a lowercase twin, the other Greek letters). */
static void test_no_other(void **state)
{
	uint32_t cp;
	size_t ones = 0, twos = 0;
	int n;
	unsigned code;

	(void)state;
	for (cp = 0; cp <= 0x10FFFF; cp++) {
		if (cp >= 0xD800 && cp <= 0xDFFF)
			continue;
		n = gsm_septets(cp);
		if (n != spec_septets((int32_t)cp))
			fail_msg("U+%04X: %d septets, the spec says %d", cp, n,
				 spec_septets((int32_t)cp));
		ones += n == 1;
		twos += n == 2;
	}
	assert_int_equal(ones, 127);
	assert_int_equal(twos, NEXT);
	assert_int_equal(gsm_septets(0x110000), 0);
	assert_int_equal(gsm_septets(0xFFFF), 0);
	assert_int_equal(gsm_default_char(0x1B), -1);
	assert_int_equal(gsm_default_char(0x80), -1);
	for (code = 0; code < 256; code++) {
		size_t i;
		bool listed = false;

		for (i = 0; i < NEXT; i++)
			listed |= spec_extension[i].code == code;
		if (!listed)
			assert_int_equal(gsm_extension_char(code), -1);
	}
}

/* ---- characters just outside --------------------------------------------------------- */

struct outside_case {
	const char *name;
	uint32_t cp;
};

static const struct outside_case outside_cases[] = {
	{ "not gsm: backtick U+0060", 0x0060 },
	{ "not gsm: c cedilla U+00E7 (0x09 is the capital)", 0x00E7 },
	{ "not gsm: e circumflex U+00EA", 0x00EA },
	{ "not gsm: a circumflex U+00E2", 0x00E2 },
	{ "not gsm: i circumflex U+00EE", 0x00EE },
	{ "not gsm: o circumflex U+00F4", 0x00F4 },
	{ "not gsm: u circumflex U+00FB", 0x00FB },
	{ "not gsm: oe ligature U+0153", 0x0153 },
	{ "not gsm: left guillemet U+00AB", 0x00AB },
	{ "not gsm: right guillemet U+00BB", 0x00BB },
	{ "not gsm: E grave capital U+00C8", 0x00C8 },
	{ "not gsm: A grave capital U+00C0", 0x00C0 },
	{ "not gsm: a acute U+00E1", 0x00E1 },
	{ "not gsm: U+20AB next below the euro", 0x20AB },
	{ "not gsm: U+20AD next above the euro", 0x20AD },
	{ "not gsm: tab", 0x0009 },
	{ "not gsm: DEL", 0x007F },
	{ "not gsm: ESC as a character", 0x001B },
	{ "not gsm: no-break space", 0x00A0 },
	{ "not gsm: cent sign", 0x00A2 },
	{ "not gsm: Greek capital alpha (looks like A)", 0x0391 },
	{ "not gsm: Greek small delta", 0x03B4 },
	{ "not gsm: increment sign (looks like Delta)", 0x2206 },
	{ "not gsm: ohm sign (looks like Omega)", 0x2126 },
	{ "not gsm: right single quote (autocorrect apostrophe)", 0x2019 },
	{ "not gsm: em dash", 0x2014 },
	{ "not gsm: U+FFFF", 0xFFFF },
};

static void test_outside(void **state)
{
	const struct outside_case *c = *state;
	struct sms_measure m;
	char buf[8];
	size_t n;

	assert_int_equal(gsm_septets(c->cp), 0);
	/* One such character makes a GSM text UCS2. */
	buf[0] = 'a';
	n = 1 + put_utf8(c->cp, buf + 1);
	assert_int_equal(sms_measure(buf, n, &m), 0);
	assert_int_equal(m.coding, SMS_UCS2);
	assert_int_equal(m.chars, 2);
	assert_int_equal(m.units, 2);
	assert_int_equal(m.segments, 1);
}

/* ---- measuring ---------------------------------------------------------------------- */

struct measure_case {
	const char *name;
	const char *head;
	const char *rep;
	size_t nrep;
	const char *tail;
	enum sms_coding coding;
	size_t chars, units, segments;
};

#define AR_B "\xd8\xa8"			/* ARABIC LETTER BEH, 2 bytes, 1 unit */
#define AR_B8 AR_B AR_B AR_B AR_B AR_B AR_B AR_B AR_B
#define AR_B66 AR_B8 AR_B8 AR_B8 AR_B8 AR_B8 AR_B8 AR_B8 AR_B8 AR_B AR_B
#define A8 "aaaaaaaa"
#define A16 A8 A8
#define A152 A16 A16 A16 A16 A16 A16 A16 A16 A16 A8
#define A153 A152 "a"
#define EMOJI "\xf0\x9f\x98\x80"	/* GRINNING FACE, 4 bytes, 2 units */
#define EURO "\xe2\x82\xac"		/* 3 bytes, 2 septets */

static const struct measure_case measure_cases[] = {
	{ "measure: empty text is one empty SMS", "", NULL, 0, "", SMS_GSM7, 0, 0, 1 },
	{ "measure: English", "Your phone is registered. Dial *123# to check another IMEI.",
	  NULL, 0, "", SMS_GSM7, 59, 59, 1 },
	{ "measure: English with extension characters",
	  "Send {IMEI} [15 digits] to 1234 ~ fee 0.50€ | help: ^H \\ end", NULL, 0, "",
	  SMS_GSM7, 60, 69, 1 },
	{ "measure: French in GSM-7 (C cedilla, e acute, a grave)",
	  "Ça marche : votre téléphone est enregistré à votre nom, merci !", NULL, 0, "",
	  SMS_GSM7, 63, 63, 1 },
	{ "measure: French with e circumflex is UCS2",
	  "Ça marche : votre téléphone est enregistré à votre nom. Où êtes-vous", NULL, 0, "",
	  SMS_UCS2, 68, 68, 1 },
	{ "measure: French with c cedilla is UCS2", "Reçu : votre téléphone est bloqué.", NULL, 0,
	  "", SMS_UCS2, 34, 34, 1 },
	{ "measure: French with e circumflex alone", "Vous êtes le propriétaire.", NULL, 0, "",
	  SMS_UCS2, 26, 26, 1 },
	{ "measure: French guillemets are UCS2", "Répondez « OUI » pour confirmer.", NULL, 0, "",
	  SMS_UCS2, 32, 32, 1 },
	{ "measure: French oe ligature is UCS2", "Votre sœur a signalé le vol.", NULL, 0, "",
	  SMS_UCS2, 28, 28, 1 },
	{ "measure: French a circumflex", "âge", NULL, 0, "", SMS_UCS2, 3, 3, 1 },
	{ "measure: French i circumflex", "dîner", NULL, 0, "", SMS_UCS2, 5, 5, 1 },
	{ "measure: French o circumflex", "côté", NULL, 0, "", SMS_UCS2, 4, 4, 1 },
	{ "measure: French u circumflex", "sûr", NULL, 0, "", SMS_UCS2, 3, 3, 1 },
	{ "measure: French in two GSM-7 parts", "",
	  "Ça marche : votre téléphone est enregistré à votre nom, merci ! ", 3, "", SMS_GSM7,
	  192, 192, 2 },
	{ "measure: Swahili",
	  "Simu yako imesajiliwa kikamilifu. Tuma IMEI kwa 1234 ili kuthibitisha.", NULL, 0, "",
	  SMS_GSM7, 70, 70, 1 },
	{ "measure: Swahili with a number", "Habari! Namba yako ya simu: +255 712 345 678. Asante sana.",
	  NULL, 0, "", SMS_GSM7, 58, 58, 1 },
	{ "measure: Arabic", "هاتفك مسجل بنجاح", NULL, 0, "", SMS_UCS2, 16, 16, 1 },
	{ "measure: Arabic with RLM and Arabic-Indic digits",
	  "\xe2\x80\x8fرقم IMEI: ٣٥٦٩٣٨٠٣٥٦٤٣٨٠٩", NULL, 0, "", SMS_UCS2, 26, 26, 1 },
	{ "measure: Arabic with LRM around a code",
	  "أرسل \xe2\x80\x8e*123#\xe2\x80\x8e للتحقق", NULL, 0, "", SMS_UCS2, 19, 19, 1 },
	{ "measure: Arabic in two parts", "", "هاتفك مسجل بنجاح ", 5, "", SMS_UCS2, 85, 85, 2 },
	{ "measure: emoji costs two units", "OK \xf0\x9f\x91\x8d", NULL, 0, "", SMS_UCS2, 4, 5, 1 },
	{ "measure: emoji alone", EMOJI, NULL, 0, "", SMS_UCS2, 1, 2, 1 },
	{ "measure: BMP symbol check mark", "Registered \xe2\x9c\x85", NULL, 0, "", SMS_UCS2, 12, 12,
	  1 },
	{ "measure: ZWJ family emoji is five characters",
	  "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7", NULL, 0, "",
	  SMS_UCS2, 5, 8, 1 },
	{ "measure: tab makes UCS2", "a\tb", NULL, 0, "", SMS_UCS2, 3, 3, 1 },
	/* GSM 7-bit boundaries */
	{ "measure: 160 septets one part", "", "a", 160, "", SMS_GSM7, 160, 160, 1 },
	{ "measure: 161 septets two parts", "", "a", 161, "", SMS_GSM7, 161, 161, 2 },
	{ "measure: 306 septets two parts", "", "a", 306, "", SMS_GSM7, 306, 306, 2 },
	{ "measure: 307 septets three parts", "", "a", 307, "", SMS_GSM7, 307, 307, 3 },
	{ "measure: 459 septets three parts", "", "a", 459, "", SMS_GSM7, 459, 459, 3 },
	{ "measure: 460 septets four parts", "", "a", 460, "", SMS_GSM7, 460, 460, 4 },
	{ "measure: 158 and euro is 160 septets", "", "a", 158, EURO, SMS_GSM7, 159, 160, 1 },
	{ "measure: 159 and euro is 161 septets", "", "a", 159, EURO, SMS_GSM7, 160, 161, 2 },
	{ "measure: euro at 153 takes a third part", "", "a", 152, EURO A152,
	  SMS_GSM7, 305, 306, 3 },
	{ "measure: euro ending part one at 153", "", "a", 151, EURO A153,
	  SMS_GSM7, 305, 306, 2 },
	{ "measure: 80 euros are 160 septets", "", EURO, 80, "", SMS_GSM7, 80, 160, 1 },
	{ "measure: 81 euros are 162 septets", "", EURO, 81, "", SMS_GSM7, 81, 162, 2 },
	{ "measure: 160 euros three parts of 76", "", EURO, 160, "", SMS_GSM7, 160, 320, 3 },
	/* UCS-2 boundaries */
	{ "measure: 70 units one part", "", AR_B, 70, "", SMS_UCS2, 70, 70, 1 },
	{ "measure: 71 units two parts", "", AR_B, 71, "", SMS_UCS2, 71, 71, 2 },
	{ "measure: 134 units two parts", "", AR_B, 134, "", SMS_UCS2, 134, 134, 2 },
	{ "measure: 135 units three parts", "", AR_B, 135, "", SMS_UCS2, 135, 135, 3 },
	{ "measure: emoji at unit 67 takes a third part", "", AR_B, 66, EMOJI AR_B66,
	  SMS_UCS2, 133, 134, 3 },
	{ "measure: 35 emoji are 70 units", "", EMOJI, 35, "", SMS_UCS2, 35, 70, 1 },
	{ "measure: 36 emoji are 72 units", "", EMOJI, 36, "", SMS_UCS2, 36, 72, 2 },
	{ "measure: one c cedilla makes 161 septets UCS2", "", "a", 160, "ç", SMS_UCS2, 161, 161,
	  3 },
	{ "measure: c cedilla and 69 letters", "ç", "a", 69, "", SMS_UCS2, 70, 70, 1 },
};

static void test_measure(void **state)
{
	const struct measure_case *c = *state;
	struct sms_measure m;
	size_t n = build(c->head, c->rep, c->nrep, c->tail);

	assert_int_equal(sms_measure(text, n, &m), 0);
	assert_int_equal(m.coding, c->coding);
	assert_int_equal(m.chars, c->chars);
	assert_int_equal(m.units, c->units);
	assert_int_equal(m.segments, c->segments);
}

/* Wire data is (pointer, length): a NUL is a character, and not a GSM one (0x00 is '@'). */
static void test_nul(void **state)
{
	struct sms_measure m;

	(void)state;
	assert_int_equal(sms_measure("a\0b", 3, &m), 0);
	assert_int_equal(m.coding, SMS_UCS2);
	assert_int_equal(m.chars, 3);
	assert_int_equal(sms_measure("a\0b", 1, &m), 0);
	assert_int_equal(m.coding, SMS_GSM7);
	assert_int_equal(m.chars, 1);
}

/* ---- USSD screens ------------------------------------------------------------------- */

struct ussd_case {
	const char *name;
	const char *head;
	const char *rep;
	size_t nrep;
	const char *tail;
	bool fits;
};

static const struct ussd_case ussd_cases[] = {
	{ "ussd: empty fits", "", NULL, 0, "", true },
	{ "ussd: menu fits", "1. Check IMEI\n2. Register phone\n3. Report stolen\n0. Exit", NULL, 0,
	  "", true },
	{ "ussd: 182 septets fit", "", "a", 182, "", true },
	{ "ussd: 183 septets do not", "", "a", 183, "", false },
	{ "ussd: 180 and euro fit", "", "a", 180, EURO, true },
	{ "ussd: 181 and euro do not", "", "a", 181, EURO, false },
	{ "ussd: 91 euros fit", "", EURO, 91, "", true },
	{ "ussd: 92 euros do not", "", EURO, 92, "", false },
	{ "ussd: 80 UCS2 units fit", "", AR_B, 80, "", true },
	{ "ussd: 81 UCS2 units do not", "", AR_B, 81, "", false },
	{ "ussd: 78 and emoji fit", "", AR_B, 78, EMOJI, true },
	{ "ussd: 79 and emoji do not", "", AR_B, 79, EMOJI, false },
	{ "ussd: 40 emoji fit", "", EMOJI, 40, "", true },
	{ "ussd: 41 emoji do not", "", EMOJI, 41, "", false },
	{ "ussd: 81 letters and a c cedilla do not", "ç", "a", 80, "", false },
	{ "ussd: Arabic menu fits", "١. التحقق من IMEI\n٢. تسجيل الهاتف\n٣. الإبلاغ عن سرقة", NULL,
	  0, "", true },
};

static void test_ussd(void **state)
{
	const struct ussd_case *c = *state;
	struct sms_measure m;
	size_t n = build(c->head, c->rep, c->nrep, c->tail);

	assert_int_equal(sms_measure(text, n, &m), 0);
	assert_int_equal(sms_fits_ussd(&m), c->fits);
	assert_int_equal(m.units <= sms_ussd_limit(m.coding), c->fits);
}

static void test_ussd_limit(void **state)
{
	(void)state;
	assert_int_equal(sms_ussd_limit(SMS_GSM7), 182);
	assert_int_equal(sms_ussd_limit(SMS_UCS2), 80);
}

/* ---- invalid UTF-8 ------------------------------------------------------------------ */

struct bad_case {
	const char *name;
	const char *in;
};

static const struct bad_case bad_cases[] = {
	{ "invalid: 0xFF", "\xff" },
	{ "invalid: lone continuation byte", "abc\x80" },
	{ "invalid: truncated sequence at the end", "abc\xc3" },
	{ "invalid: overlong slash", "\xc0\xaf" },
	{ "invalid: overlong three bytes", "\xe0\x80\xaf" },
	{ "invalid: UTF-16 surrogate", "a\xed\xa0\x80" },
	{ "invalid: above U+10FFFF", "\xf4\x90\x80\x80" },
	{ "invalid: five-byte form", "\xf8\x88\x80\x80\x80" },
	{ "invalid: Latin-1 e acute after valid text", "Caf\xc3\xa9 caf\xe9" },
	{ "invalid: truncated emoji", "OK \xf0\x9f\x98" },
};

static void test_bad(void **state)
{
	const struct bad_case *c = *state;
	static const struct sms_measure zero;
	struct sms_measure m;
	size_t starts[8];

	memset(&m, 0xAA, sizeof(m));
	assert_int_equal(sms_measure(c->in, strlen(c->in), &m), -EILSEQ);
	assert_memory_equal(&m, &zero, sizeof(m));
	assert_int_equal(sms_cut(c->in, strlen(c->in), starts, 8), -EILSEQ);
}

/* ---- splitting ---------------------------------------------------------------------- */

/* What every split must be: cuts increasing, on character boundaries, each part within its
 * units, the parts together the text. */
static void check_split(const char *s, size_t len, const size_t *starts, int nparts)
{
	struct sms_measure whole, part;
	size_t i, from, to, sum = 0, units, cap;

	assert_int_equal(sms_measure(s, len, &whole), 0);
	assert_int_equal(nparts, whole.segments);
	assert_int_equal(starts[0], 0);
	if (nparts == 1)
		cap = whole.coding == SMS_GSM7 ? SMS_GSM7_SINGLE : SMS_UCS2_SINGLE;
	else
		cap = whole.coding == SMS_GSM7 ? SMS_GSM7_PART : SMS_UCS2_PART;
	for (i = 0; i < (size_t)nparts; i++) {
		from = starts[i];
		to = i + 1 < (size_t)nparts ? starts[i + 1] : len;
		assert_true(from < to || (len == 0 && nparts == 1));
		if (from < len)
			assert_true(((unsigned char)s[from] & 0xC0) != 0x80);
		assert_int_equal(sms_measure(s + from, to - from, &part), 0);
		/* A part alone may be GSM-7 in a UCS2 text; it goes in the text's coding, where
		 * its characters (all in the BMP) are one unit each. */
		units = whole.coding == part.coding ? part.units : part.chars;
		assert_true(units <= cap);
		sum += units;
	}
	assert_int_equal(sum, whole.units);
}

struct split_case {
	const char *name;
	const char *head;
	const char *rep;
	size_t nrep;
	const char *tail;
	size_t maxparts;
	int rc;
	size_t starts[8];	/* all zero: not checked beyond check_split, but words whole */
};

#define W15 "abcdefghijklmn "	/* a 14-letter word and a space */

static const struct split_case split_cases[] = {
	{ "split: empty text is one part", "", NULL, 0, "", 1, 1, { 0 } },
	{ "split: empty text with no room", "", NULL, 0, "", 0, -E2BIG, { 0 } },
	{ "split: short text", "Hello", NULL, 0, "", 4, 1, { 0 } },
	{ "split: 160 septets whole", "", "a", 160, "", 1, 1, { 0 } },
	{ "split: 161 septets", "", "a", 161, "", 4, 2, { 0, 153 } },
	{ "split: 306 septets", "", "a", 306, "", 4, 2, { 0, 153 } },
	{ "split: 307 septets", "", "a", 307, "", 4, 3, { 0, 153, 306 } },
	{ "split: 765 septets", "", "a", 765, "", 8, 5, { 0, 153, 306, 459, 612 } },
	{ "split: euro at 153 goes whole to part two", "", "a", 152, EURO "aaaaaaaaaa", 4, 2,
	  { 0, 152 } },
	{ "split: euro at 153 and a third part", "", "a", 152, EURO A152,
	  4, 3, { 0, 152, 306 } },
	{ "split: 81 euros", "", EURO, 81, "", 4, 2, { 0, 76 * 3 } },
	{ "split: 71 UCS2 units", "", AR_B, 71, "", 4, 2, { 0, 67 * 2 } },
	{ "split: 134 UCS2 units", "", AR_B, 134, "", 4, 2, { 0, 67 * 2 } },
	{ "split: emoji at unit 67 goes whole to part two", "", AR_B, 66,
	  EMOJI AR_B AR_B AR_B AR_B AR_B AR_B AR_B AR_B AR_B AR_B, 4, 2, { 0, 66 * 2 } },
	{ "split: 36 emoji", "", EMOJI, 36, "", 4, 2, { 0, 33 * 4 } },
	{ "split: words stay whole", "", "abcd ", 40, "", 4, 2, { 0, 150 } },
	{ "split: no space is a hard cut", "", "a", 200, "", 4, 2, { 0, 153 } },
	{ "split: space too far back is a hard cut", "", "a", 100, " " A16 A16 A16 A8 "aaaa", 4, 2,
	  { 0, 153 } },
	{ "split: space 15 units back", "", "a", 137, " bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 4,
	  2, { 0, 138 } },
	{ "split: space 16 units back", "", "a", 136, " bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 4,
	  2, { 0, 153 } },
	{ "split: newline ends a word", "", "a", 145, "\nbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 4, 2,
	  { 0, 146 } },
	{ "split: cut just before a space keeps words whole", "", "a", 145,
	  " aaaaaaa bbbbbbbbbbbbbbbbbbbb", 4, 2, { 0, 153 } },
	{ "split: a word cut that would cost a part is not made", "", "a", 140,
	  " " W15 W15 W15 W15 W15 W15 W15 W15 W15 W15 W15, 4, 2,
	  { 0, 153 } },
	{ "split: the same text a part shorter cuts at the word", "", "a", 140,
	  " " W15 W15 W15 W15 W15 W15 W15 W15 W15 W15, 4, 2, { 0, 141 } },
	{ "split: Arabic words stay whole", "", "سلام ", 20, "", 4, 2, { 0, 13 * 9 } },
	{ "split: French sentences at spaces", "",
	  "Ça marche : votre téléphone est enregistré à votre nom, merci ! ", 6, "", 8, 3,
	  { 0 } },
	{ "split: Arabic sentences at spaces", "", "هاتفك مسجل بنجاح ", 12, "", 8, 4, { 0 } },
	{ "split: Swahili sentences at spaces", "",
	  "Simu yako imesajiliwa kikamilifu. Tuma IMEI kwa 1234 ili kuthibitisha. ", 9, "", 8, 5,
	  { 0 } },
	{ "split: two parts with room for one", "", "a", 161, "", 1, -E2BIG, { 0 } },
	{ "split: three parts with room for two", "", "a", 307, "", 2, -E2BIG, { 0 } },
	{ "split: three parts with room for three", "", "a", 307, "", 3, 3, { 0, 153, 306 } },
	{ "split: UCS2 three parts with room for two", "", AR_B, 135, "", 2, -E2BIG, { 0 } },
};

static void test_split(void **state)
{
	const struct split_case *c = *state;
	size_t n = build(c->head, c->rep, c->nrep, c->tail), starts[8], i;
	int rc = sms_cut(text, n, starts, c->maxparts);

	assert_int_equal(rc, c->rc);
	if (rc < 0)
		return;
	check_split(text, n, starts, rc);
	if (rc > 1 && c->starts[1] == 0) {
		/* Sentence rows: every cut is at a space. */
		for (i = 1; i < (size_t)rc; i++)
			assert_true(text[starts[i] - 1] == ' ' || text[starts[i]] == ' ');
		return;
	}
	for (i = 0; i < (size_t)rc; i++)
		assert_int_equal(starts[i], c->starts[i]);
}

/* Random texts of words, spaces and characters of every cost, against a packing computed
 * here: the same result on every run (testlib.h). */
static void test_random(void **state)
{
	static const char *const pieces[] = {
		"a", "word", "IMEI", " ", " ", "\n", EURO, "{", "é", "Ç", "ç", AR_B, "سلام",
		EMOJI, "\xe2\x80\x8f",
	};
	uint64_t rng = 0x9E3779B97F4A7C15ull;
	struct sms_measure m;
	size_t starts[64], n, k, pieces_n, pos, used, cost, fill, parts, cap, single;
	int round, rc;
	int32_t cp;
	bool gsm;

	(void)state;
	for (round = 0; round < 400; round++) {
		pieces_n = test_rng(&rng) % 300;
		gsm = test_rng(&rng) % 2;
		for (n = 0, k = 0; k < pieces_n; k++) {
			const char *p = pieces[test_rng(&rng) % (gsm ? 8 : 15)];

			memcpy(text + n, p, strlen(p));
			n += strlen(p);
		}
		assert_int_equal(sms_measure(text, n, &m), 0);
		/* The coding and packing, from the spec list. */
		gsm = true;
		for (pos = 0; pos < n; pos += used) {
			cp = utf8_decode((const unsigned char *)text + pos, n - pos, &used);
			gsm &= spec_septets(cp) > 0;
		}
		assert_int_equal(m.coding, gsm ? SMS_GSM7 : SMS_UCS2);
		cap = gsm ? SMS_GSM7_PART : SMS_UCS2_PART;
		single = gsm ? SMS_GSM7_SINGLE : SMS_UCS2_SINGLE;
		for (pos = 0, fill = 0, parts = 1, k = 0; pos < n; pos += used) {
			cp = utf8_decode((const unsigned char *)text + pos, n - pos, &used);
			cost = gsm ? (size_t)spec_septets(cp) : cp > 0xFFFF ? 2 : 1;
			if (fill + cost > cap) {
				parts++;
				fill = 0;
			}
			fill += cost;
			k += cost;
		}
		assert_int_equal(m.units, k);
		assert_int_equal(m.segments, k <= single ? 1 : parts);
		rc = sms_cut(text, n, starts, 64);
		assert_int_equal(rc, m.segments);
		check_split(text, n, starts, rc);
		if (rc > 1)
			assert_int_equal(sms_cut(text, n, starts, (size_t)rc - 1), -E2BIG);
	}
}

#define NOUT (sizeof(outside_cases) / sizeof(outside_cases[0]))
#define NMEASURE (sizeof(measure_cases) / sizeof(measure_cases[0]))
#define NUSSD (sizeof(ussd_cases) / sizeof(ussd_cases[0]))
#define NBAD (sizeof(bad_cases) / sizeof(bad_cases[0]))
#define NSPLIT (sizeof(split_cases) / sizeof(split_cases[0]))
#define NTESTS (128 + NEXT + NOUT + NMEASURE + NUSSD + NBAD + NSPLIT + 5)

#define ROW(cases, i, fn) \
	((struct CMUnitTest){ .name = (cases)[i].name, .test_func = (fn), \
			      .initial_state = (void *)&(cases)[i] })

int main(void)
{
	struct CMUnitTest tests[NTESTS];
	size_t i, n = 0;
	unsigned code;

	if (decode_spec() < 0) {
		fprintf(stderr, "the spec lists in test_gsm.c do not decode\n");
		return 1;
	}
	for (code = 0; code < 128; code++) {
		if (code == 0x1B)
			continue;
		snprintf(alpha_cases[nalpha].name, sizeof(alpha_cases[nalpha].name),
			 "default alphabet 0x%02X is U+%04X", code, (unsigned)spec_cp[code]);
		alpha_cases[nalpha].code = code;
		alpha_cases[nalpha].cp = spec_cp[code];
		alpha_cases[nalpha++].septets = 1;
	}
	for (i = 0; i < NEXT; i++) {
		snprintf(alpha_cases[nalpha].name, sizeof(alpha_cases[nalpha].name),
			 "extension table 0x%02X is U+%04X", spec_extension[i].code,
			 (unsigned)spec_ext_cp[i]);
		alpha_cases[nalpha].code = spec_extension[i].code;
		alpha_cases[nalpha].cp = spec_ext_cp[i];
		alpha_cases[nalpha++].septets = 2;
	}
	for (i = 0; i < nalpha; i++)
		tests[n++] = ROW(alpha_cases, i, test_alpha);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_no_other);
	for (i = 0; i < NOUT; i++)
		tests[n++] = ROW(outside_cases, i, test_outside);
	for (i = 0; i < NMEASURE; i++)
		tests[n++] = ROW(measure_cases, i, test_measure);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_nul);
	for (i = 0; i < NUSSD; i++)
		tests[n++] = ROW(ussd_cases, i, test_ussd);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_ussd_limit);
	for (i = 0; i < NBAD; i++)
		tests[n++] = ROW(bad_cases, i, test_bad);
	for (i = 0; i < NSPLIT; i++)
		tests[n++] = ROW(split_cases, i, test_split);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_random);
	return _cmocka_run_group_tests("gsm", tests, n, NULL, NULL);
}
