/* MSISDN (ITU-T E.164) normalisation through libphonenumber, from a default region (ISO 3166
 * alpha-2). '+', '00' and the national trunk prefix are accepted, digits of other scripts
 * normalised (digits.h), separators ignored. And the mask that logs carry instead. */
#ifndef CEIRGW_DOMAIN_MSISDN_H
#define CEIRGW_DOMAIN_MSISDN_H

#include <stdbool.h>
#include <stddef.h>

#define MSISDN_INPUT_MAX 64	/* longer input: too_long, not parsed */
#define MSISDN_E164_MAX 16	/* '+' and at most 15 digits */

enum msisdn_reason {
	MSISDN_OK = 0,
	MSISDN_EMPTY,			/* nothing but separators */
	MSISDN_NOT_A_NUMBER,		/* letters or symbols */
	MSISDN_INVALID_COUNTRY_CODE,	/* no such country code, or none and no usable region */
	MSISDN_TOO_SHORT,
	MSISDN_TOO_LONG,
	MSISDN_INVALID_NUMBER,		/* well formed but not a number in use in that country */
	MSISDN_UNKNOWN_REGION,		/* the default region given is not a region */
};

enum msisdn_type {
	MSISDN_TYPE_UNKNOWN = 0,
	MSISDN_TYPE_MOBILE,
	MSISDN_TYPE_FIXED_LINE,
	MSISDN_TYPE_FIXED_LINE_OR_MOBILE,
	MSISDN_TYPE_OTHER,		/* toll free, premium, VoIP, pager, ... */
};

struct msisdn {
	enum msisdn_reason reason;
	bool valid;
	enum msisdn_type type;
	char e164[MSISDN_E164_MAX + 1];	/* "+254712345678" when valid, else "" */
	char region[3];			/* the number's region ("KE") when valid, else "";
					 * also "" for non-geographic numbers (+800, +870) */
};

/* Parses in[0..len) (UTF-8, not NUL-terminated) from default_region ("KE", either case; NULL
 * or "" means none: only international forms, '+' or 00, then parse). Always fills *out;
 * returns out->reason. Separators of digits.h and '(' ')' are ignored; a '+' (or U+FF0B)
 * may only come before the digits. A leading "00" is read as '+' only when the region's own
 * reading is invalid and the international one is valid (Kenya's international prefix is
 * 000, not 00). Bare international digits of another country ("2348031234567" from KE) are
 * read as national: a transport that knows the number is international (SMPP TON 1) adds
 * the '+'. Every valid type is accepted (out->type says which); an unknown default_region
 * gives MSISDN_UNKNOWN_REGION whatever the input. */
enum msisdn_reason msisdn_parse(const char *in, size_t len, const char *default_region,
				struct msisdn *out);

/* True when region is a two-letter region libphonenumber knows (either case). */
bool msisdn_region_known(const char *region);

/* Writes the log form of an E.164 number or of any digit string: a '+' met before the first
 * digit and the first four digits and the last four kept, every digit between them replaced
 * by '*', and never fewer than four digits hidden, the head giving way first, then the tail:
 * "+254712345678" -> "+2547****5678", "0712345678" -> "07****5678", "12345678" -> "****5678",
 * "123456" -> "****56" (eight digits or fewer are at least half hidden). Only ASCII digits
 * count; every other byte is dropped. NUL-terminates when outsz >= 1 (with outsz 0, out may
 * be NULL); returns the length it needed, as snprintf does. */
size_t msisdn_mask(const char *in, size_t len, char *out, size_t outsz);

const char *msisdn_reason_name(enum msisdn_reason reason);
const char *msisdn_type_name(enum msisdn_type type);

#endif
