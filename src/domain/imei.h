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

struct imei {
	enum imei_reason reason;
	bool valid;			/* reason == IMEI_OK */
	bool computed_check_digit;	/* the check digit was not typed: 14 digits or an IMEISV */
	bool has_digits;		/* imei/tac below are filled (ok, bad_check_digit, reserved) */
	char imei[16];			/* the 15-digit IMEI, NUL-terminated */
	char tac[9];			/* its first 8 digits */
	char svn[3];			/* the IMEISV's software version number, or "" */
};

/* Parses what a user typed (UTF-8, in[0..len), not NUL-terminated). Separators (spaces, '-',
 * '/', '.') are ignored and non-ASCII decimal digits normalised (see digits.h). Always fills
 * *out; returns out->reason. */
enum imei_reason imei_parse(const char *in, size_t len, struct imei *out);

/* The Luhn check digit ('0'..'9') of 14 ASCII digits. */
char imei_check_digit(const char digits14[14]);

/* The reason's name as used on the wire and in the JSON output: "ok", "too_short", ... */
const char *imei_reason_name(enum imei_reason reason);

#endif
