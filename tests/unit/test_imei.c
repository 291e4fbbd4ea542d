/* imei_parse and imei_check_digit against 3GPP TS 23.003 section 6.2 and annex B, and the
 * reserved rules of imei.h. One table row is one cmocka test (one TAP line): hand-written rows
 * for every rule, rows generated from real TACs of data/tacdb.csv, and random inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testlib.h"

#include "domain/imei.h"

struct imei_row {
	const char *name;
	const char *in;		/* NULL only with len 0 */
	size_t len;
	enum imei_reason reason;
	const char *imei;	/* expected 15 digits, NULL when has_digits must be false */
	const char *svn;	/* "" unless an IMEISV */
	bool computed;
};

/* sizeof, not strlen: rows may hold NUL bytes. */
#define OK(name, in, imei) { name, in, sizeof(in) - 1, IMEI_OK, imei, "", false }
#define OK14(name, in, imei) { name, in, sizeof(in) - 1, IMEI_OK, imei, "", true }
#define OKSV(name, in, imei, svn) { name, in, sizeof(in) - 1, IMEI_OK, imei, svn, true }
#define BAD(name, in, imei) { name, in, sizeof(in) - 1, IMEI_BAD_CHECK_DIGIT, imei, "", false }
#define RES(name, in, imei) { name, in, sizeof(in) - 1, IMEI_RESERVED, imei, "", false }
#define RES14(name, in, imei) { name, in, sizeof(in) - 1, IMEI_RESERVED, imei, "", true }
#define RESSV(name, in, imei, svn) { name, in, sizeof(in) - 1, IMEI_RESERVED, imei, svn, true }
#define NO(name, in, reason) { name, in, sizeof(in) - 1, reason, NULL, "", false }

/* 356938035643809 is the project's demo IMEI: valid and, on purpose, not reserved. */
#define DEMO "356938035643809"
#define DEMO_ARABIC "٣٥٦٩٣٨٠٣٥٦٤٣٨٠٩"

static const struct imei_row hand_rows[] = {
	OK("imei: 15 plain digits (demo IMEI is not reserved)", DEMO, DEMO),
	OK("imei: spaces in 2-6-6-1 groups", "35 693803 564380 9", DEMO),
	OK("imei: dashes in 2-6-6-1 groups", "35-693803-564380-9", DEMO),
	OK("imei: slashes in 2-6-6-1 groups", "35/693803/564380/9", DEMO),
	OK("imei: dots in 2-6-6-1 groups", "35.693803.564380.9", DEMO),
	OK("imei: tabs in 2-6-6-1 groups", "35\t693803\t564380\t9", DEMO),
	OK("imei: no-break spaces in 2-6-6-1 groups",
	   "35\xc2\xa0" "693803\xc2\xa0" "564380\xc2\xa0" "9", DEMO),
	OK("imei: TAC and serial split 8-6-1", "35693803 564380 9", DEMO),
	OK("imei: leading spaces", "   " DEMO, DEMO),
	OK("imei: trailing spaces", DEMO "   ", DEMO),
	OK("imei: leading and trailing tabs and spaces", " \t " DEMO "\t \t", DEMO),
	OK("imei: leading and trailing no-break spaces", "\xc2\xa0" DEMO "\xc2\xa0", DEMO),
	OK("imei: runs of mixed separators", "35 - 693803 / 564380 . 9", DEMO),
	OK("imei: separators at both ends", "-/." DEMO ".-/", DEMO),
	OK("imei: Arabic-Indic digits", DEMO_ARABIC, DEMO),
	OK("imei: Extended Arabic-Indic (Persian) digits", "۳۵۶۹۳۸۰۳۵۶۴۳۸۰۹", DEMO),
	OK("imei: Devanagari digits", "३५६९३८०३५६४३८०९", DEMO),
	OK("imei: full-width digits", "３５６９３８０３５６４３８０９", DEMO),
	OK("imei: five scripts mixed digit by digit", "3٥۶९３8٠۳५６4٣۸०９", DEMO),
	OK("imei: Arabic-Indic TAC then ASCII serial", "٣٥٦٩٣٨٠٣5643809", DEMO),
	OK("imei: Persian digits in groups with spaces", "۳۵ ۶۹۳۸۰۳ ۵۶۴۳۸۰ ۹", DEMO),
	OK("imei: full-width digits in groups with dashes", "３５-６９３８０３-５６４３８０-９",
	   DEMO),
	OK("imei: Devanagari digits with no-break spaces",
	   "३५\xc2\xa0" "६९३८०३\xc2\xa0" "५६४३८०\xc2\xa0" "९", DEMO),
	OK("imei: reporting body 01 is not the test range", "012345678901237",
	   "012345678901237"),
	OK("imei: near-repeated body is not reserved", "111111111111127", "111111111111127"),
	OK("imei: Luhn example with one serial digit changed is not reserved",
	   "490154203237526", "490154203237526"),
	OK14("imei: 14 digits computes check digit", "35693803564380", DEMO),
	OK14("imei: 14 digits with separators computes check digit", "35-693803-564380", DEMO),
	OK14("imei: 14 Arabic-Indic digits computes check digit", "٣٥٦٩٣٨٠٣٥٦٤٣٨٠", DEMO),
	/* len shorter than the literal: nothing after it may be read. */
	{ "imei: len stops before the last digit", DEMO, 14, IMEI_OK, DEMO, "", true },
	{ "imei: len stops inside the last Arabic-Indic digit", DEMO_ARABIC,
	  sizeof(DEMO_ARABIC) - 2, IMEI_NOT_DIGITS, NULL, "", false },
	{ "imei: NULL input with len 0", NULL, 0, IMEI_TOO_SHORT, NULL, "", false },
	OKSV("imei: IMEISV 16 digits reduced to the IMEI", "3569380356438023", DEMO, "23"),
	OKSV("imei: IMEISV with separators 2-6-6-2", "35-693803-564380-23", DEMO, "23"),
	OKSV("imei: IMEISV with spaces 8-6-2", "35693803 564380 23", DEMO, "23"),
	OKSV("imei: IMEISV with SVN 00", "3569380356438000", DEMO, "00"),
	OKSV("imei: IMEISV with SVN 99", "3569380356438099", DEMO, "99"),
	OKSV("imei: IMEISV whose SVN starts with the check digit", "3569380356438091", DEMO,
	     "91"),
	OKSV("imei: IMEISV in full-width digits", "３５６９３８０３５６４３８０２３", DEMO, "23"),
	OKSV("imei: IMEISV in Persian digits with dashes", "۳۵-۶۹۳۸۰۳-۵۶۴۳۸۰-۲۳", DEMO, "23"),

	NO("imei: empty input", "", IMEI_TOO_SHORT),
	NO("imei: only separators", " -/.\t ", IMEI_TOO_SHORT),
	NO("imei: only no-break spaces", "\xc2\xa0\xc2\xa0", IMEI_TOO_SHORT),
	NO("imei: 1 digit", "3", IMEI_TOO_SHORT),
	NO("imei: 8 digits, a TAC alone", "35693803", IMEI_TOO_SHORT),
	NO("imei: 13 digits", "3569380356438", IMEI_TOO_SHORT),
	NO("imei: 13 digits with separators", "35-693803-56438", IMEI_TOO_SHORT),
	NO("imei: 13 Arabic-Indic digits", "٣٥٦٩٣٨٠٣٥٦٤٣٨", IMEI_TOO_SHORT),
	NO("imei: 13 repeated digits is too short, not reserved", "1111111111111",
	   IMEI_TOO_SHORT),
	NO("imei: 17 digits", "35693803564380912", IMEI_TOO_LONG),
	NO("imei: 17 digits with separators", "35-693803-564380-912", IMEI_TOO_LONG),
	NO("imei: 17 full-width digits", "３５６９３８０３５６４３８０９１２", IMEI_TOO_LONG),
	NO("imei: 20 digits", "35693803564380912345", IMEI_TOO_LONG),
	NO("imei: two IMEIs typed together", DEMO " " DEMO, IMEI_TOO_LONG),
	NO("imei: 17 repeated digits is too long, not reserved", "11111111111111111",
	   IMEI_TOO_LONG),

	NO("imei: letter at the end", "35693803564380A", IMEI_NOT_DIGITS),
	NO("imei: letter at the start", "A56938035643809", IMEI_NOT_DIGITS),
	NO("imei: lower-case letter in the middle", "3569380x5643809", IMEI_NOT_DIGITS),
	NO("imei: letter O typed for zero", "356938O35643809", IMEI_NOT_DIGITS),
	NO("imei: letter l typed for one", "l56938035643809", IMEI_NOT_DIGITS),
	NO("imei: word IMEI before the digits", "IMEI " DEMO, IMEI_NOT_DIGITS),
	NO("imei: IMEI colon prefix", "IMEI:" DEMO, IMEI_NOT_DIGITS),
	NO("imei: only a letter", "x", IMEI_NOT_DIGITS),
	NO("imei: plus sign", "+" DEMO, IMEI_NOT_DIGITS),
	NO("imei: star hash 06 hash code", "*#06#", IMEI_NOT_DIGITS),
	NO("imei: commas between groups", "35,693803,564380,9", IMEI_NOT_DIGITS),
	NO("imei: underscores between groups", "35_693803_564380_9", IMEI_NOT_DIGITS),
	NO("imei: parentheses", "(35)693803564380 9", IMEI_NOT_DIGITS),
	NO("imei: colon between groups", "35:693803:564380:9", IMEI_NOT_DIGITS),
	OK("imei: newline at the end", DEMO "\n", DEMO),
	OK("imei: CRLF at the end", DEMO "\r\n", DEMO),
	NO("imei: NUL byte inside", "3569380\0" "35643809", IMEI_NOT_DIGITS),
	NO("imei: NUL byte at the end", DEMO "\0", IMEI_NOT_DIGITS),
	NO("imei: letters and 5 digits is not_digits, not too_short", "abc12345",
	   IMEI_NOT_DIGITS),
	NO("imei: letters and 17 digits is not_digits, not too_long", "x35693803564380912",
	   IMEI_NOT_DIGITS),
	NO("imei: invalid UTF-8 byte 0xFF", DEMO "\xff", IMEI_NOT_DIGITS),
	NO("imei: invalid UTF-8 byte 0xFE at the start", "\xfe" DEMO, IMEI_NOT_DIGITS),
	NO("imei: lone continuation byte 0x80", "3569380\x80" "35643809", IMEI_NOT_DIGITS),
	NO("imei: continuation byte of an Arabic-Indic digit without its lead",
	   "35693803564380\xa9", IMEI_NOT_DIGITS),
	NO("imei: Latin-1 superscript one byte", "35693803564380\xb9", IMEI_NOT_DIGITS),
	NO("imei: overlong two-byte NUL", DEMO "\xc0\x80", IMEI_NOT_DIGITS),
	NO("imei: overlong two-byte encoding of 9 is not a digit", "35693803564380\xc0\xb9",
	   IMEI_NOT_DIGITS),
	NO("imei: overlong three-byte encoding of 9 is not a digit",
	   "35693803564380\xe0\x80\xb9", IMEI_NOT_DIGITS),
	NO("imei: overlong four-byte encoding of 9 is not a digit",
	   "35693803564380\xf0\x80\x80\xb9", IMEI_NOT_DIGITS),
	NO("imei: UTF-16 surrogate encoded in UTF-8", DEMO "\xed\xa0\x80", IMEI_NOT_DIGITS),
	NO("imei: code point above U+10FFFF", DEMO "\xf4\x90\x80\x80", IMEI_NOT_DIGITS),
	NO("imei: five-byte sequence", DEMO "\xf8\x88\x80\x80\x80", IMEI_NOT_DIGITS),
	NO("imei: truncated Arabic-Indic digit at the end", "35693803564380\xd9",
	   IMEI_NOT_DIGITS),
	NO("imei: truncated full-width digit at the end", "35693803564380\xef\xbc",
	   IMEI_NOT_DIGITS),
	NO("imei: truncated Devanagari digit at the end", "35693803564380\xe0\xa5",
	   IMEI_NOT_DIGITS),
	NO("imei: truncated four-byte sequence at the end", DEMO "\xf0\x9f\x98",
	   IMEI_NOT_DIGITS),
	NO("imei: truncated sequence in the middle", "3569380\xe0\xa5" "35643809",
	   IMEI_NOT_DIGITS),
	NO("imei: Thai digits", "๓๕๖๙๓๘๐๓๕๖๔๓๘๐๙", IMEI_NOT_DIGITS),
	NO("imei: one Thai digit among ASCII digits", "35693803564380๙", IMEI_NOT_DIGITS),
	NO("imei: Bengali digits", "৩৫৬৯৩৮০৩৫৬৪৩৮০৯", IMEI_NOT_DIGITS),
	NO("imei: superscript digit", "35693803564380\xc2\xb9", IMEI_NOT_DIGITS),
	NO("imei: circled digit", "35693803564380\xe2\x91\xa8", IMEI_NOT_DIGITS),
	NO("imei: mathematical bold digit", "35693803564380\xf0\x9d\x9f\x97", IMEI_NOT_DIGITS),
	NO("imei: Arabic comma between groups", "35\xd8\x8c" "693803564380 9", IMEI_NOT_DIGITS),
	OK("imei: full-width hyphen", "35\xef\xbc\x8d" "6938035643809", DEMO),
	OK("imei: en dash", "35\xe2\x80\x93" "6938035643809", DEMO),
	OK("imei: em dash", "35\xe2\x80\x94" "6938035643809", DEMO),
	OK("imei: narrow no-break space", "35\xe2\x80\xaf" "6938035643809", DEMO),
	OK("imei: ideographic space", "35\xe3\x80\x80" "6938035643809", DEMO),
	OK("imei: zero-width space", "35\xe2\x80\x8b" "6938035643809", DEMO),
	OK("imei: byte order mark at the start", "\xef\xbb\xbf" DEMO, DEMO),
	OK("imei: right-to-left mark at the start", "\xe2\x80\x8f" DEMO, DEMO),
	OK("imei: Arabic-Indic digits wrapped in right-to-left marks",
	   "\xe2\x80\x8f" DEMO_ARABIC "\xe2\x80\x8f", DEMO),
	OK("imei: Arabic letter mark between groups", "35\xd8\x9c" "6938035643809", DEMO),

	RES14("imei: 14 ones is reserved, check digit computed", "11111111111111",
	      "111111111111119"),
	RESSV("imei: 16 ones (IMEISV) is reserved", "1111111111111111", "111111111111119",
	      "11"),
	RES("imei: 14 ones and their own Luhn digit is still reserved", "111111111111119",
	    "111111111111119"),
	RES("imei: 15 sevens with separators is reserved", "77-777777-777777-7",
	    "777777777777777"),
	RES("imei: 15 Arabic-Indic ones is reserved", "١١١١١١١١١١١١١١١", "111111111111111"),
	RES("imei: repeated body with another check digit is reserved", "222222222222225",
	    "222222222222225"),
	RES("imei: TAC 00000000 is reserved", "000000001234566", "000000001234566"),
	RES("imei: TAC 00000000 with a wrong check digit is reserved", "000000001234567",
	    "000000001234567"),
	RES("imei: reporting body 00 (test IMEI) is reserved", "001010123456780",
	    "001010123456780"),
	RES("imei: reporting body 00 with a wrong check digit is reserved", "001010123456781",
	    "001010123456781"),
	RES14("imei: reporting body 00 as 14 digits is reserved", "00101012345678",
	      "001010123456780"),
	RESSV("imei: reporting body 00 IMEISV is reserved", "0010101234567801",
	      "001010123456780", "01"),
	RES("imei: TAC 00499901 listed in tacdb is still in the test range",
	    "004999011234563", "004999011234563"),
	RES("imei: Luhn example 490154203237518 is reserved", "490154203237518",
	    "490154203237518"),
	RES("imei: Luhn example with a wrong check digit is reserved", "490154203237519",
	    "490154203237519"),
	RES14("imei: Luhn example as 14 digits is reserved", "49015420323751",
	      "490154203237518"),
	RES("imei: Luhn example with separators is reserved", "49-015420-323751-8",
	    "490154203237518"),
	RES("imei: Wikipedia example 352099001761481 is reserved", "352099001761481",
	    "352099001761481"),
	RESSV("imei: Wikipedia IMEISV 3520990017614823 reduces to the reserved IMEI",
	      "3520990017614823", "352099001761481", "23"),
	RESSV("imei: Wikipedia IMEISV with separators is reserved", "35-209900-176148-23",
	      "352099001761481", "23"),
	RES("imei: Wikipedia example in Persian digits is reserved", "۳۵۲۰۹۹۰۰۱۷۶۱۴۸۱",
	    "352099001761481"),

	BAD("imei: wrong check digit", "356938035643808", "356938035643808"),
	BAD("imei: wrong check digit with separators", "35-693803-564380-8", "356938035643808"),
	BAD("imei: wrong check digit in Arabic-Indic digits", "٣٥٦٩٣٨٠٣٥٦٤٣٨٠٨",
	    "356938035643808"),
	BAD("imei: two adjacent digits swapped", "359638035643809", "359638035643809"),
	BAD("imei: one serial digit mistyped", "356938035643819", "356938035643819"),
};

/* Real TACs from data/tacdb.csv, each with a serial number and its Luhn digit worked out by
 * hand (and checked below against luhn_valid). */
static const struct {
	const char *imei;
	const char *device;
} real_imeis[] = {
	{ "353584006051367", "LG L1100" },
	{ "351049006139846", "Sagem MYX-3" },
	{ "355108004159499", "Sony Ericsson J200" },
	{ "457002670519986", "Siemens S75" },
	{ "333003002318212", "Sagem T412S-B" },
	{ "350326000488457", "Ericsson T68" },
	{ "358976015837056", "Nokia 5310 XpressMusic" },
	{ "350643699001692", "Motorola V70" },
	{ "354374051396431", "Samsung GT-P5100" },
	{ "447263073036779", "Motorola D 160" },
	{ "350127914394991", "Samsung SGH-A200" },
	{ "358247031512622", "Nokia 5800 XpressMusic" },
	{ "351871005669501", "D-NET Feton J8" },
	{ "332214351235144", "Sagem M412-S-P" },
	{ "350604005986463", "Nokia 8310" },
	{ "356225003234666", "Nokia 3220" },
	{ "355782005874726", "Philips 768" },
	{ "350302018557708", "Samsung SGH-A400" },
	{ "352172007151310", "IPWireless Broadband Modem" },
	{ "350621231895052", "Maxon MX6860" },
	{ "359334041080615", "Nokia 1616" },
	{ "355949006098510", "Siemens A52" },
	{ "350138925989513", "Nokia 6210" },
	{ "359750006699497", "Nokia 6021" },
	{ "350838101969979", "Nokia 8310 (second TAC)" },
	{ "351973013904878", "Motorola MQ3-4411C21" },
	{ "449277671021635", "Motorola V60" },
	{ "449274535743512", "Motorola MI2-4A21" },
	{ "447264697467028", "Motorola StarTAC 70" },
	{ "350145930658397", "Nokia 3310" },
};

/* Scripts for the generated rows: the code point of each one's zero (0 for ASCII). */
static const struct {
	uint32_t zero;
	const char *name;
} scripts[] = {
	{ 0x0660, "Arabic-Indic" },
	{ 0x06F0, "Persian" },
	{ 0x0966, "Devanagari" },
	{ 0xFF10, "full-width" },
};

/* The separators of digits.h, each put between every two digits of the demo IMEI. */
static const struct {
	const char *sep;
	const char *name;
} separators[] = {
	{ " ", "space" },
	{ "\t", "tab" },
	{ "-", "dash" },
	{ "/", "slash" },
	{ ".", "dot" },
	{ "\xc2\xa0", "no-break space" },
};

/* ---- an independent Luhn, written the way the check is usually explained ---------------- */

/* Validation form: over all 15 digits, double every second digit from the right (the check
 * digit itself is not doubled); valid when the total is a multiple of 10. */
static bool luhn_valid(const char *d15)
{
	int sum = 0, i, v;

	for (i = 0; i < 15; i++) {
		v = d15[14 - i] - '0';
		if (i % 2 == 1) {
			v *= 2;
			if (v >= 10)
				v = v / 10 + v % 10;
		}
		sum += v;
	}
	return sum % 10 == 0;
}

/* The check digit by trying all ten, so as not to share a formula with imei.c. */
static char luhn_digit(const char *body14)
{
	char d15[15];
	char c;

	memcpy(d15, body14, 14);
	for (c = '0'; c <= '9'; c++) {
		d15[14] = c;
		if (luhn_valid(d15))
			return c;
	}
	return '?';
}

/* The rule of imei.h, written again from the header rather than from imei.c. */
static bool oracle_reserved(const char *body14)
{
	static const char *const examples[] = { "49015420323751", "35209900176148" };
	size_t i;
	bool same = true;

	for (i = 1; i < 14; i++)
		same = same && body14[i] == body14[0];
	if (same || strncmp(body14, "00", 2) == 0)
		return true;
	for (i = 0; i < 2; i++) {
		if (strncmp(body14, examples[i], 14) == 0)
			return true;
	}
	return false;
}

/* ---- row storage: generated rows and their names live until the end of main ------------- */

struct arena {
	void **ptrs;
	size_t n, cap;
};

static struct arena arena;

static void *arena_keep(void *p)
{
	if (p == NULL) {
		fprintf(stderr, "out of memory\n");
		exit(99);
	}
	if (arena.n == arena.cap) {
		arena.cap = arena.cap ? arena.cap * 2 : 256;
		arena.ptrs = realloc(arena.ptrs, arena.cap * sizeof(arena.ptrs[0]));
		if (arena.ptrs == NULL) {
			fprintf(stderr, "out of memory\n");
			exit(99);
		}
	}
	arena.ptrs[arena.n++] = p;
	return p;
}

static void arena_free(void)
{
	size_t i;

	for (i = 0; i < arena.n; i++)
		free(arena.ptrs[i]);
	free(arena.ptrs);
}

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static char *fmt(const char *f, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, f);
	n = vsnprintf(NULL, 0, f, ap);
	va_end(ap);
	s = arena_keep(malloc((size_t)n + 1));
	va_start(ap, f);
	vsnprintf(s, (size_t)n + 1, f, ap);
	va_end(ap);
	return s;
}

/* ASCII digits written in a script (UTF-8), e.g. "35" -> U+0663 U+0665. */
static char *in_script(const char *ascii, uint32_t zero)
{
	size_t n = strlen(ascii), i, o = 0;
	char *s = arena_keep(malloc(n * 3 + 1));
	uint32_t cp;

	for (i = 0; i < n; i++) {
		cp = zero + (uint32_t)(ascii[i] - '0');
		if (cp < 0x800) {
			s[o++] = (char)(0xC0 | (cp >> 6));
		} else {
			s[o++] = (char)(0xE0 | (cp >> 12));
			s[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
		}
		s[o++] = (char)(0x80 | (cp & 0x3F));
	}
	s[o] = '\0';
	return s;
}

static char *interleave(const char *digits, const char *sep)
{
	size_t n = strlen(digits), sl = strlen(sep), i, o = 0;
	char *s = arena_keep(malloc(n * (sl + 1) + 1));

	for (i = 0; i < n; i++) {
		if (i > 0) {
			memcpy(s + o, sep, sl);
			o += sl;
		}
		s[o++] = digits[i];
	}
	s[o] = '\0';
	return s;
}

static char *repeat(char c, size_t n)
{
	char *s = arena_keep(malloc(n + 1));

	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static struct imei_row *rows;
static size_t nrows, caprows;

static struct imei_row *add_slot(void)
{
	if (nrows == caprows) {
		caprows = caprows ? caprows * 2 : 1024;
		rows = realloc(rows, caprows * sizeof(rows[0]));
		if (rows == NULL) {
			fprintf(stderr, "out of memory\n");
			exit(99);
		}
	}
	return &rows[nrows++];
}

static void add_str(const char *name, const char *in, enum imei_reason reason,
		    const char *imei, const char *svn, bool computed)
{
	struct imei_row *r = add_slot();

	r->name = name;
	r->in = in;
	r->len = strlen(in);
	r->reason = reason;
	r->imei = imei;
	r->svn = svn;
	r->computed = computed;
}

/* ---- the tests ------------------------------------------------------------------------ */

static void check_invariants(const struct imei *out, enum imei_reason rc)
{
	size_t i;

	assert_int_equal(rc, out->reason);
	assert_in_range(out->reason, IMEI_OK, IMEI_RESERVED);
	assert_int_equal(out->valid, out->reason == IMEI_OK);
	assert_int_equal(out->has_digits, out->reason == IMEI_OK ||
			 out->reason == IMEI_BAD_CHECK_DIGIT || out->reason == IMEI_RESERVED);
	assert_string_not_equal(imei_reason_name(out->reason), "unknown");
	if (!out->has_digits) {
		assert_string_equal(out->imei, "");
		assert_string_equal(out->tac, "");
		assert_string_equal(out->svn, "");
		assert_false(out->computed_check_digit);
		return;
	}
	assert_int_equal(strlen(out->imei), 15);
	for (i = 0; i < 15; i++)
		assert_in_range(out->imei[i], '0', '9');
	assert_int_equal(strlen(out->tac), 8);
	assert_memory_equal(out->tac, out->imei, 8);
	assert_true(strlen(out->svn) == 0 || strlen(out->svn) == 2);
	if (out->svn[0] != '\0')
		assert_true(out->computed_check_digit);
	if (out->computed_check_digit || out->reason == IMEI_OK)
		assert_true(luhn_valid(out->imei));
}

static void test_row(void **state)
{
	const struct imei_row *r = *state;
	struct imei out;
	enum imei_reason rc;
	char *buf = NULL;

	/* An exact-size heap copy: reading past len is caught by ASan and valgrind. */
	if (r->in != NULL) {
		buf = malloc(r->len ? r->len : 1);
		assert_non_null(buf);
		memcpy(buf, r->in, r->len);
	}
	memset(&out, 0xA5, sizeof(out));
	rc = imei_parse(buf, r->len, &out);
	free(buf);

	assert_string_equal(imei_reason_name(rc), imei_reason_name(r->reason));
	check_invariants(&out, rc);
	if (r->imei == NULL) {
		assert_false(out.has_digits);
		return;
	}
	assert_true(out.has_digits);
	assert_string_equal(out.imei, r->imei);
	assert_memory_equal(out.tac, r->imei, 8);
	assert_string_equal(out.svn, r->svn);
	assert_int_equal(out.computed_check_digit, r->computed);
}

/* Each real IMEI: the hand-computed digit is what the independent Luhn and imei.c say. */
static void test_check_digit(void **state)
{
	const char *imei = *state;

	assert_true(luhn_valid(imei));
	assert_int_equal(luhn_digit(imei), imei[14]);
	assert_int_equal(imei_check_digit(imei), imei[14]);
}

static uint64_t rng_state;

static uint32_t rng(void)
{
	return test_rng(&rng_state);
}

/* Any bytes at all: only the invariants can be checked. */
static void test_random_bytes(void **state)
{
	unsigned char buf[IMEI_INPUT_MAX + 8];
	struct imei out;
	size_t len, i;
	int iter;

	rng_state = (uintptr_t)*state;
	for (iter = 0; iter < 20000; iter++) {
		/* Mostly short and mostly digits and separators, so that all reasons come up. */
		len = rng() % 2 ? rng() % 40 : rng() % sizeof(buf);
		for (i = 0; i < len; i++) {
			switch (rng() % 8) {
			case 0:
				buf[i] = (unsigned char)rng();
				break;
			case 1:
			case 2:
				buf[i] = " -./"[rng() % 4];
				break;
			default:
				buf[i] = (unsigned char)('0' + rng() % 10);
			}
		}
		check_invariants(&out, imei_parse((const char *)buf, len, &out));
	}
}

/* Inputs put together from pieces whose meaning is known, so the expected answer can be
 * worked out independently and compared. */
enum piece_kind { PIECE_DIGIT, PIECE_SEP, PIECE_OTHER };

static const struct {
	const char *bytes;
	enum piece_kind kind;
	int digit;
} pieces[] = {
	{ "0", PIECE_DIGIT, 0 }, { "1", PIECE_DIGIT, 1 }, { "2", PIECE_DIGIT, 2 },
	{ "3", PIECE_DIGIT, 3 }, { "4", PIECE_DIGIT, 4 }, { "5", PIECE_DIGIT, 5 },
	{ "6", PIECE_DIGIT, 6 }, { "7", PIECE_DIGIT, 7 }, { "8", PIECE_DIGIT, 8 },
	{ "9", PIECE_DIGIT, 9 },
	{ "٠", PIECE_DIGIT, 0 }, { "٧", PIECE_DIGIT, 7 }, { "٩", PIECE_DIGIT, 9 },
	{ "۱", PIECE_DIGIT, 1 }, { "۴", PIECE_DIGIT, 4 }, { "۸", PIECE_DIGIT, 8 },
	{ "२", PIECE_DIGIT, 2 }, { "५", PIECE_DIGIT, 5 }, { "९", PIECE_DIGIT, 9 },
	{ "０", PIECE_DIGIT, 0 }, { "３", PIECE_DIGIT, 3 }, { "６", PIECE_DIGIT, 6 },
	{ " ", PIECE_SEP, 0 }, { "-", PIECE_SEP, 0 }, { "/", PIECE_SEP, 0 },
	{ ".", PIECE_SEP, 0 }, { "\t", PIECE_SEP, 0 }, { "\xc2\xa0", PIECE_SEP, 0 },
	{ "a", PIECE_OTHER, 0 }, { "+", PIECE_OTHER, 0 }, { "\n", PIECE_SEP, 0 },
	{ "๓", PIECE_OTHER, 0 }, { "\xff", PIECE_OTHER, 0 }, { "\x80", PIECE_OTHER, 0 },
	{ "\xc0\xb3", PIECE_OTHER, 0 }, { "\xed\xa0\x80", PIECE_OTHER, 0 },
	{ "\xe2\x80\x93", PIECE_SEP, 0 }, { "\xe2\x80\x8f", PIECE_SEP, 0 },
	{ "\xe2\x80\xa2", PIECE_OTHER, 0 },
};

/* A truncated lead byte could join a following continuation byte into a digit, so the
 * truncated sequences only ever come last. */
static const char *const tails[] = { "\xd9", "\xef\xbc", "\xe0\xa5", "\xf0\x9f\x98" };

static void test_random_pieces(void **state)
{
	char buf[IMEI_INPUT_MAX + 64], digits[32], body[15], want[16];
	size_t len, nd, np, i, k, tl;
	enum imei_reason expect;
	bool other;
	struct imei out;
	int iter;

	rng_state = (uintptr_t)*state;
	for (iter = 0; iter < 20000; iter++) {
		len = 0;
		nd = 0;
		other = false;
		/* Mostly around 14-16 digits; sometimes long enough to pass IMEI_INPUT_MAX. */
		np = rng() % 8 == 0 ? rng() % 140 : 10 + rng() % 12;
		for (i = 0; i < np; i++) {
			/* Other pieces are rare, or nearly every input would be not_digits. */
			do
				k = rng() % (sizeof(pieces) / sizeof(pieces[0]));
			while (pieces[k].kind == PIECE_OTHER && rng() % 8 != 0);
			tl = strlen(pieces[k].bytes);
			if (len + tl > IMEI_INPUT_MAX + 8)
				break;
			memcpy(buf + len, pieces[k].bytes, tl);
			len += tl;
			if (pieces[k].kind == PIECE_OTHER)
				other = true;
			if (pieces[k].kind == PIECE_DIGIT && nd < sizeof(digits))
				digits[nd] = (char)('0' + pieces[k].digit);
			if (pieces[k].kind == PIECE_DIGIT)
				nd++;
		}
		if (rng() % 16 == 0) {
			k = rng() % (sizeof(tails) / sizeof(tails[0]));
			memcpy(buf + len, tails[k], strlen(tails[k]));
			len += strlen(tails[k]);
			other = true;
		}

		if (len > IMEI_INPUT_MAX)
			expect = IMEI_TOO_LONG;
		else if (other)
			expect = IMEI_NOT_DIGITS;
		else if (nd < 14)
			expect = IMEI_TOO_SHORT;
		else if (nd > 16)
			expect = IMEI_TOO_LONG;
		else if (oracle_reserved(digits))
			expect = IMEI_RESERVED;
		else if (nd == 15 && !luhn_valid(digits))
			expect = IMEI_BAD_CHECK_DIGIT;
		else
			expect = IMEI_OK;

		check_invariants(&out, imei_parse(buf, len, &out));
		assert_string_equal(imei_reason_name(out.reason), imei_reason_name(expect));
		if (!out.has_digits)
			continue;
		memcpy(body, digits, 14);
		body[14] = '\0';
		memcpy(want, digits, 14);
		want[14] = nd == 15 ? digits[14] : luhn_digit(body);
		want[15] = '\0';
		assert_string_equal(out.imei, want);
		assert_int_equal(out.computed_check_digit, nd != 15);
		if (nd == 16) {
			assert_int_equal(strlen(out.svn), 2);
			assert_memory_equal(out.svn, digits + 14, 2);
		} else
			assert_string_equal(out.svn, "");
	}
}

/* Random bodies: imei.c's formula against trying all ten digits. */
static void test_check_digit_random(void **state)
{
	char body[15];
	int iter, i;

	rng_state = (uintptr_t)*state;
	body[14] = '\0';
	for (iter = 0; iter < 100000; iter++) {
		for (i = 0; i < 14; i++)
			body[i] = (char)('0' + rng() % 10);
		assert_int_equal(imei_check_digit(body), luhn_digit(body));
	}
}

struct name_row {
	enum imei_reason reason;
	const char *name;
};

static const struct name_row name_rows[] = {
	{ IMEI_OK, "ok" },
	{ IMEI_TOO_SHORT, "too_short" },
	{ IMEI_TOO_LONG, "too_long" },
	{ IMEI_NOT_DIGITS, "not_digits" },
	{ IMEI_BAD_CHECK_DIGIT, "bad_check_digit" },
	{ IMEI_RESERVED, "reserved" },
	{ (enum imei_reason)99, "unknown" },
	{ (enum imei_reason)-1, "unknown" },
};

static void test_reason_name(void **state)
{
	const struct name_row *r = *state;

	assert_string_equal(imei_reason_name(r->reason), r->name);
}

/* ---- building the list ---------------------------------------------------------------- */

static void add_hand_rows(void)
{
	size_t i;

	for (i = 0; i < sizeof(hand_rows) / sizeof(hand_rows[0]); i++)
		*add_slot() = hand_rows[i];
}

static void add_generated_rows(void)
{
	char *typed, *body;
	const char *imei, *dev, *tac;
	size_t i, s;
	char wrong;

	for (i = 0; i < 10; i++) {
		typed = repeat((char)('0' + i), 15);
		add_str(fmt("imei: digit %zu repeated 15 times is reserved", i), typed,
			IMEI_RESERVED, typed, "", false);
	}
	for (s = 0; s < sizeof(separators) / sizeof(separators[0]); s++) {
		add_str(fmt("imei: %s between every digit", separators[s].name),
			interleave(DEMO, separators[s].sep), IMEI_OK, DEMO, "", false);
		add_str(fmt("imei: IMEISV with a %s between every digit", separators[s].name),
			interleave("3569380356438023", separators[s].sep), IMEI_OK, DEMO, "23",
			true);
	}

	/* Length limits around IMEI_INPUT_MAX: the bytes are counted, not the digits. */
	add_str("imei: 256 digits is too long by digit count", repeat('1', IMEI_INPUT_MAX),
		IMEI_TOO_LONG, NULL, "", false);
	add_str("imei: 257 digits is too long by input length", repeat('1', IMEI_INPUT_MAX + 1),
		IMEI_TOO_LONG, NULL, "", false);
	add_str("imei: 256 letters is not_digits", repeat('x', IMEI_INPUT_MAX), IMEI_NOT_DIGITS,
		NULL, "", false);
	add_str("imei: 257 letters is too_long before not_digits",
		repeat('x', IMEI_INPUT_MAX + 1), IMEI_TOO_LONG, NULL, "", false);
	typed = repeat(' ', IMEI_INPUT_MAX);
	memcpy(typed + 100, DEMO, 15);
	add_str("imei: 15 digits padded with spaces to 256 bytes is ok", typed, IMEI_OK, DEMO, "",
		false);
	typed = repeat(' ', IMEI_INPUT_MAX + 1);
	memcpy(typed + 100, DEMO, 15);
	add_str("imei: 15 digits padded with spaces to 257 bytes is too long", typed,
		IMEI_TOO_LONG, NULL, "", false);

	for (i = 0; i < sizeof(real_imeis) / sizeof(real_imeis[0]); i++) {
		imei = real_imeis[i].imei;
		dev = real_imeis[i].device;
		tac = fmt("%.8s", imei);
		body = fmt("%.14s", imei);
		add_str(fmt("imei: TAC %s (%s) valid", tac, dev), imei, IMEI_OK, imei, "", false);
		for (wrong = '0'; wrong <= '9'; wrong++) {
			if (wrong == imei[14])
				continue;
			typed = fmt("%s%c", body, wrong);
			add_str(fmt("imei: TAC %s (%s) with wrong check digit %c", tac, dev, wrong),
				typed, IMEI_BAD_CHECK_DIGIT, typed, "", false);
		}
		add_str(fmt("imei: TAC %s (%s) as 14 digits", tac, dev), body, IMEI_OK, imei, "",
			true);
		add_str(fmt("imei: TAC %s (%s) as IMEISV", tac, dev), fmt("%s%02zu", body, i),
			IMEI_OK, imei, fmt("%02zu", i), true);
		add_str(fmt("imei: TAC %s (%s) presented 2-6-6-1", tac, dev),
			fmt("%.2s %.6s %.6s %c", imei, imei + 2, imei + 8, imei[14]), IMEI_OK, imei,
			"", false);
		for (s = 0; s < sizeof(scripts) / sizeof(scripts[0]); s++)
			add_str(fmt("imei: TAC %s (%s) in %s digits", tac, dev, scripts[s].name),
				in_script(imei, scripts[s].zero), IMEI_OK, imei, "", false);
	}
}

int main(void)
{
	static const uintptr_t seeds[] = { 0x9E3779B9u, 20240101u, 4242u, 1u };
	struct CMUnitTest *tests;
	size_t n = 0, cap, i;
	int rc;

	add_hand_rows();
	add_generated_rows();

	cap = nrows + sizeof(real_imeis) / sizeof(real_imeis[0]) +
	      2 * sizeof(seeds) / sizeof(seeds[0]) + 1 + sizeof(name_rows) / sizeof(name_rows[0]);
	tests = calloc(cap, sizeof(tests[0]));
	if (tests == NULL)
		return 99;
	for (i = 0; i < nrows; i++)
		tests[n++] = (struct CMUnitTest){ rows[i].name, test_row, NULL, NULL, &rows[i] };
	for (i = 0; i < sizeof(real_imeis) / sizeof(real_imeis[0]); i++)
		tests[n++] = (struct CMUnitTest){
			fmt("luhn: check digit of %s (%s) agrees with an independent Luhn",
			    real_imeis[i].imei, real_imeis[i].device),
			test_check_digit, NULL, NULL, (void *)real_imeis[i].imei };
	for (i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		tests[n++] = (struct CMUnitTest){
			fmt("random: 20000 byte strings never break the invariants (seed %zu)", i),
			test_random_bytes, NULL, NULL, (void *)seeds[i] };
		tests[n++] = (struct CMUnitTest){
			fmt("random: 20000 inputs from known pieces, answer checked (seed %zu)", i),
			test_random_pieces, NULL, NULL, (void *)seeds[i] };
	}
	tests[n++] = (struct CMUnitTest){
		"luhn: 100000 random bodies agree with an independent Luhn",
		test_check_digit_random, NULL, NULL, (void *)seeds[0] };
	for (i = 0; i < sizeof(name_rows) / sizeof(name_rows[0]); i++)
		tests[n++] = (struct CMUnitTest){
			fmt("reason name: %d is %s", (int)name_rows[i].reason, name_rows[i].name),
			test_reason_name, NULL, NULL, (void *)&name_rows[i] };

	rc = _cmocka_run_group_tests("imei", tests, n, NULL, NULL);
	free(tests);
	free(rows);
	arena_free();
	return rc;
}
