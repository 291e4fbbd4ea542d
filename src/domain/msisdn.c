/* MSISDN normalisation to ITU-T E.164: what users type is reduced to digits here (digits.h),
 * read by libphonenumber (phonenumber_shim.h) from the default region, and checked against
 * E.164's 15 digits. And the masked form logs carry instead of a full MSISDN (STYLE.md). */
#include "domain/msisdn.h"

#include <string.h>

#include "domain/digits.h"
#include "domain/phonenumber_shim.h"

/* Room for whatever libphonenumber formats: '+', a country code of up to 3 digits and a
 * national number of up to 17 (its MAX_LENGTH_FOR_NSN), more than E.164's 15 in all. */
#define PN_E164_ROOM 24

/* U+FF0B FULLWIDTH PLUS SIGN: East Asian input methods type it with full-width digits. */
static const char fullwidth_plus[] = "\xEF\xBC\x8B";

static const char *const reason_names[] = {
	[MSISDN_OK] = "ok",
	[MSISDN_EMPTY] = "empty",
	[MSISDN_NOT_A_NUMBER] = "not_a_number",
	[MSISDN_INVALID_COUNTRY_CODE] = "invalid_country_code",
	[MSISDN_TOO_SHORT] = "too_short",
	[MSISDN_TOO_LONG] = "too_long",
	[MSISDN_INVALID_NUMBER] = "invalid_number",
	[MSISDN_UNKNOWN_REGION] = "unknown_region",
};

static const char *const type_names[] = {
	[MSISDN_TYPE_UNKNOWN] = "unknown",
	[MSISDN_TYPE_MOBILE] = "mobile",
	[MSISDN_TYPE_FIXED_LINE] = "fixed_line",
	[MSISDN_TYPE_FIXED_LINE_OR_MOBILE] = "fixed_line_or_mobile",
	[MSISDN_TYPE_OTHER] = "other",
};

/* One reading of the digits by libphonenumber. */
struct reading {
	enum msisdn_reason reason;
	enum msisdn_type type;
	char e164[PN_E164_ROOM];
	char region[3];
};

/* ASCII only: a region code is never localised, and the C locale's toupper is not ours to
 * rely on. Returns 0 for anything but a letter. */
static char ascii_upper(char c)
{
	if (c >= 'a' && c <= 'z')
		return (char)(c - 'a' + 'A');
	if (c >= 'A' && c <= 'Z')
		return c;
	return 0;
}

/* Writes the region libphonenumber is to read from into out: NULL and "" become "ZZ", its
 * "no region", with which only international forms parse. Any other value must be two
 * letters (either case, as configuration files spell them) of a region it knows. */
static enum msisdn_reason region_canonical(const char *region, char out[3])
{
	if (region == NULL || region[0] == '\0') {
		memcpy(out, "ZZ", 3);
		return MSISDN_OK;
	}
	out[0] = ascii_upper(region[0]);
	out[1] = out[0] ? ascii_upper(region[1]) : 0;
	out[2] = '\0';
	if (out[0] == 0 || out[1] == 0 || region[2] != '\0' || !pn_region_known(out))
		return MSISDN_UNKNOWN_REGION;
	return MSISDN_OK;
}

/* '(' and ')' count as separators here, though not for IMEIs: people write a national
 * prefix in brackets after the country code ("+33 (0)6 12 34 56 78") or an area code in
 * brackets ("(020) 2012345"). The digits inside are kept: after a country code,
 * libphonenumber drops a national prefix of that country itself, where the rest is still a
 * possible number (+33 0612345678 reads as +33612345678), and keeps the 0 where it belongs
 * to the number (+39 06 ..., Rome). */
static int is_separator(const char *s, size_t len, size_t *used)
{
	if (s[0] == '(' || s[0] == ')') {
		*used = 1;
		return 1;
	}
	return digits_is_separator(s, len, used);
}

static enum msisdn_type type_of(enum pn_type type)
{
	switch (type) {
	case PN_TYPE_MOBILE:
		return MSISDN_TYPE_MOBILE;
	case PN_TYPE_FIXED_LINE:
		return MSISDN_TYPE_FIXED_LINE;
	case PN_TYPE_FIXED_LINE_OR_MOBILE:
		return MSISDN_TYPE_FIXED_LINE_OR_MOBILE;
	case PN_TYPE_OTHER:
		return MSISDN_TYPE_OTHER;
	case PN_TYPE_UNKNOWN:
	default:
		return MSISDN_TYPE_UNKNOWN;
	}
}

static enum msisdn_reason reason_of(enum pn_result result, const char *e164)
{
	switch (result) {
	case PN_VALID:
	case PN_INVALID:
		/* libphonenumber accepts national numbers up to 17 digits; E.164 stops at 15 */
		if (strlen(e164) > MSISDN_E164_MAX)
			return MSISDN_TOO_LONG;
		return result == PN_VALID ? MSISDN_OK : MSISDN_INVALID_NUMBER;
	case PN_ERR_COUNTRY_CODE:
		return MSISDN_INVALID_COUNTRY_CODE;
	case PN_ERR_NOT_A_NUMBER:
		/* Only digits reach libphonenumber (letters were turned away before), so this is
		 * what it says of one digit, or of '+' and two: too few to be a number. */
	case PN_ERR_TOO_SHORT_AFTER_IDD:
	case PN_ERR_TOO_SHORT_NSN:
		return MSISDN_TOO_SHORT;
	case PN_ERR_TOO_LONG:
		return MSISDN_TOO_LONG;
	}
	return MSISDN_INVALID_NUMBER;
}

static void read_number(const char *number, const char *region, struct reading *rd)
{
	enum pn_type type;
	enum pn_result result;

	result = pn_parse(number, region, rd->e164, sizeof(rd->e164), rd->region, &type);
	rd->reason = reason_of(result, rd->e164);
	rd->type = type_of(type);
}

enum msisdn_reason msisdn_parse(const char *in, size_t len, const char *default_region,
				struct msisdn *out)
{
	/* The input without its '+' and with brackets made spaces, then '+' and its digits */
	char region[3], text[MSISDN_INPUT_MAX], digits[MSISDN_INPUT_MAX + 2];
	struct reading rd, intl;
	size_t pos = 0, used, ndigits, i;
	int plus = 0;

	memset(out, 0, sizeof(*out));
	/* A bad region is the configuration's fault, whatever the user typed: say so first */
	out->reason = region_canonical(default_region, region);
	if (out->reason != MSISDN_OK)
		return out->reason;
	if (in == NULL)
		len = 0;
	if (len > MSISDN_INPUT_MAX) {
		out->reason = MSISDN_TOO_LONG;
		return out->reason;
	}

	while (pos < len && is_separator(in + pos, len - pos, &used))
		pos += used;
	if (pos < len && in[pos] == '+') {
		plus = 1;
		pos += 1;
	} else if (len - pos >= 3 && memcmp(in + pos, fullwidth_plus, 3) == 0) {
		plus = 1;
		pos += 3;
	}
	/* A bracket is one byte that never occurs inside a UTF-8 sequence, and a space is too:
	 * swapping one for the other leaves every other character as it was, valid or not. */
	for (i = pos; i < len; i++)
		text[i - pos] = (in[i] == '(' || in[i] == ')') ? ' ' : in[i];
	if (digits_normalise(text, len - pos, digits + 1, sizeof(digits) - 1, &ndigits)
	    != DIGITS_OK) {
		out->reason = MSISDN_NOT_A_NUMBER;
		return out->reason;
	}
	if (ndigits == 0) {
		out->reason = MSISDN_EMPTY;
		return out->reason;
	}

	digits[0] = '+';
	read_number(plus ? digits : digits + 1, region, &rd);
	/* 00 is the international prefix of most countries, and people and SMSCs write it for
	 * '+' even where it is not: Kenya dials 000, Nigeria 009, and Brazil reads 00 and two
	 * more digits as a carrier selection. libphonenumber follows the region's own prefix,
	 * so there "00254712345678" comes out invalid. Read it as '+' only when the region's
	 * reading failed: a number valid as typed in the region keeps that meaning. With no
	 * region the first reading can only say "no country code", so the second one's reason
	 * tells the user more. */
	if (!plus && rd.reason != MSISDN_OK && digits[1] == '0' && digits[2] == '0') {
		digits[2] = '+';
		read_number(digits + 2, region, &intl);
		if (intl.reason == MSISDN_OK || strcmp(region, "ZZ") == 0)
			rd = intl;
	}

	out->reason = rd.reason;
	if (rd.reason != MSISDN_OK)
		return out->reason;
	/* Every valid type is accepted: whether a fixed line or a toll-free number may report
	 * a phone is the flows' decision, made with the type at hand. */
	out->valid = true;
	out->type = rd.type;
	memcpy(out->e164, rd.e164, strlen(rd.e164) + 1);
	memcpy(out->region, rd.region, sizeof(out->region));
	return out->reason;
}

bool msisdn_region_known(const char *region)
{
	char canonical[3];

	if (region == NULL || region[0] == '\0')
		return false;
	return region_canonical(region, canonical) == MSISDN_OK;
}

/* Stores c if there is room for it and the NUL; counts it either way, as snprintf does. */
static void put(char *out, size_t outsz, size_t *pos, char c)
{
	if (*pos + 1 < outsz)
		out[*pos] = c;
	(*pos)++;
}

size_t msisdn_mask(const char *in, size_t len, char *out, size_t outsz)
{
	size_t ndigits = 0, hidden, visible, head, tail, pos = 0, k = 0, i;
	int plus = 0;

	if (in == NULL)
		len = 0;
	for (i = 0; i < len; i++) {
		if (in[i] >= '0' && in[i] <= '9')
			ndigits++;
		else if (in[i] == '+' && ndigits == 0)
			plus = 1;
	}
	/* Four digits at each end identify a number to whoever knows it (country and operator
	 * at the head, the last four at the tail) and to nobody else, as long as at least four
	 * between them are hidden. Short input loses its head first, then its tail: eight
	 * digits or fewer are never less than half hidden. */
	hidden = ndigits > 12 ? ndigits - 8 : 4;
	if (hidden > ndigits)
		hidden = ndigits;
	visible = ndigits - hidden;
	tail = visible < 4 ? visible : 4;
	head = visible - tail;

	if (plus)
		put(out, outsz, &pos, '+');
	for (i = 0; i < len; i++) {
		if (in[i] < '0' || in[i] > '9')
			continue;
		put(out, outsz, &pos, (k < head || k >= ndigits - tail) ? in[i] : '*');
		k++;
	}
	if (outsz > 0)
		out[pos < outsz ? pos : outsz - 1] = '\0';
	return pos;
}

const char *msisdn_reason_name(enum msisdn_reason reason)
{
	if ((unsigned)reason >= sizeof(reason_names) / sizeof(reason_names[0]))
		return "?";
	return reason_names[reason];
}

const char *msisdn_type_name(enum msisdn_type type)
{
	if ((unsigned)type >= sizeof(type_names) / sizeof(type_names[0]))
		return "?";
	return type_names[type];
}
