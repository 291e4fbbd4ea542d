/* IMEI and IMEISV parsing and validation, 3GPP TS 23.003 section 6.2: TAC (8 digits) +
 * serial number (6) + Luhn check digit (1); the IMEISV carries a 2-digit software version
 * number instead of the check digit. Pure functions: no I/O, no allocation. */
#ifndef CEIRGW_DOMAIN_IMEI_H
#define CEIRGW_DOMAIN_IMEI_H

#include <stdbool.h>
#include <stddef.h>

/* Input longer than this is rejected as too_long without being looked at further. */
#define IMEI_INPUT_MAX 256

enum imei_reason {
	IMEI_OK = 0,
	IMEI_TOO_SHORT,		/* fewer than 14 digits */
	IMEI_TOO_LONG,		/* more than 16 digits (or a longer input than IMEI_INPUT_MAX) */
	IMEI_NOT_DIGITS,	/* something other than digits and separators */
	IMEI_BAD_CHECK_DIGIT,	/* 15 digits whose last is not the Luhn digit of the first 14 */
	IMEI_RESERVED,		/* one digit repeated, TAC 00000000, test range or known example */
};

/* The order of the checks, first match wins: input longer than IMEI_INPUT_MAX bytes
 * (too_long); any character that is neither a digit nor a separator (not_digits); fewer than
 * 14 digits (too_short) or more than 16 (too_long); reserved; then the check digit of 15 typed
 * digits (bad_check_digit). Reserved comes before the check digit so that someone who types
 * 111111111111111 hears "reserved" rather than "bad check digit".
 *
 * Reserved looks at the body, the 14 digits of TAC and serial number, never at the check
 * digit (typed or computed), so a made-up number is reserved whatever its last digit:
 * - the body is one digit repeated 14 times (000...0 to 999...9);
 * - the TAC is 00000000, or the reporting body identifier (first two digits) is "00", the
 *   range GSMA TS.06 keeps for test IMEIs (this includes TAC 00000000);
 * - the body is one of the example IMEIs printed in specifications and encyclopaedias,
 *   listed in imei.c (490154203237518, 352099001761481). */

struct imei {
	enum imei_reason reason;
	bool valid;			/* reason == IMEI_OK */
	bool computed_check_digit;	/* the check digit was not typed: 14 digits or an IMEISV */
	bool has_digits;		/* imei and tac are filled: ok, bad_check_digit, reserved.
					 * Otherwise imei, tac and svn are "" */
	char imei[16];			/* the 15-digit IMEI, NUL-terminated; the check digit
					 * computed for 14 or 16 digits, as typed for 15 */
	char tac[9];			/* its first 8 digits */
	char svn[3];			/* an IMEISV's software version number, or "" */
};

/* Parses what a user typed (UTF-8, in[0..len), not NUL-terminated). Separators (spaces, '-',
 * '/', '.', see digits.h for the full list) are ignored and non-ASCII decimal digits
 * normalised. Reads nothing past in[len - 1]; in may be NULL when len is 0. 14 digits are an
 * IMEI without its check digit, 16 an IMEISV: both get the check digit computed. Always fills
 * *out; returns out->reason. */
enum imei_reason imei_parse(const char *in, size_t len, struct imei *out);

/* The Luhn check digit ('0'..'9') of 14 ASCII digits (TS 23.003 annex B). Anything but ASCII
 * digits is a caller bug. */
char imei_check_digit(const char digits14[14]);

/* The reason's name as used on the wire and in the JSON output: "ok", "too_short", "too_long",
 * "not_digits", "bad_check_digit", "reserved"; "unknown" for a value outside the enum. */
const char *imei_reason_name(enum imei_reason reason);

#endif
