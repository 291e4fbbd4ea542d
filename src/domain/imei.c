/* IMEI and IMEISV parsing, 3GPP TS 23.003 section 6.2 and annex B (the Luhn check digit);
 * the test range of GSMA TS.06. What counts as a digit or a separator is digits.c's job: this
 * file only counts the digits, fills struct imei and decides the reason. */
#include "domain/imei.h"

#include <assert.h>
#include <string.h>

#include "domain/digits.h"

#define IMEI_BODY_LEN	14	/* TAC + serial number: what the check digit is computed over */
#define IMEI_LEN	15
#define IMEISV_LEN	16
#define IMEI_TAC_LEN	8

/* Example IMEIs that people copy from the web instead of their phone's *#06#, by their body
 * (the check digit is not compared, see imei.h). 356938035643809, another well-travelled
 * example, is deliberately absent: it is a demo number elsewhere in this project. */
static const char *const known_examples[] = {
	"49015420323751",	/* 490154203237518, the Luhn example found in every tutorial */
	"35209900176148",	/* 352099001761481, Wikipedia's IMEI (IMEISV 3520990017614823) */
};

static const char *const reason_names[] = {
	[IMEI_OK] = "ok",
	[IMEI_TOO_SHORT] = "too_short",
	[IMEI_TOO_LONG] = "too_long",
	[IMEI_NOT_DIGITS] = "not_digits",
	[IMEI_BAD_CHECK_DIGIT] = "bad_check_digit",
	[IMEI_RESERVED] = "reserved",
};

char imei_check_digit(const char digits14[14])
{
	unsigned sum = 0, d;
	int i;

	/* Annex B: from the right of the body, every other digit starting with the rightmost is
	 * doubled (it sits next to the check digit) and the digits of the products are added. */
	for (i = 0; i < IMEI_BODY_LEN; i++) {
		assert(digits14[i] >= '0' && digits14[i] <= '9');
		d = (unsigned)(unsigned char)digits14[IMEI_BODY_LEN - 1 - i] - '0';
		d %= 10;	/* keeps a caller's bug from producing a non-digit when NDEBUG */
		if (i % 2 == 0) {
			d *= 2;
			if (d > 9)
				d -= 9;
		}
		sum += d;
	}
	return (char)('0' + (10 - sum % 10) % 10);
}

/* See imei.h for why only the body is looked at. */
static int body_is_reserved(const char body[IMEI_BODY_LEN])
{
	size_t i;

	for (i = 1; i < IMEI_BODY_LEN && body[i] == body[0]; i++)
		;
	if (i == IMEI_BODY_LEN)
		return 1;
	/* TS.06 gives reporting body identifier 00 to test IMEIs; TAC 00000000, which no body
	 * ever allocates, falls within it. */
	if (body[0] == '0' && body[1] == '0')
		return 1;
	for (i = 0; i < sizeof(known_examples) / sizeof(known_examples[0]); i++) {
		if (memcmp(body, known_examples[i], IMEI_BODY_LEN) == 0)
			return 1;
	}
	return 0;
}

static enum imei_reason finish(struct imei *out, enum imei_reason reason)
{
	out->reason = reason;
	out->valid = reason == IMEI_OK;
	return reason;
}

enum imei_reason imei_parse(const char *in, size_t len, struct imei *out)
{
	/* One more than an IMEISV so that 17 digits are told from 16. */
	char digits[IMEISV_LEN + 2];
	size_t n;

	memset(out, 0, sizeof(*out));
	if (len > IMEI_INPUT_MAX)
		return finish(out, IMEI_TOO_LONG);
	if (digits_normalise(in, len, digits, sizeof(digits), &n) != DIGITS_OK)
		return finish(out, IMEI_NOT_DIGITS);
	if (n < IMEI_BODY_LEN)
		return finish(out, IMEI_TOO_SHORT);
	if (n > IMEISV_LEN)
		return finish(out, IMEI_TOO_LONG);

	memcpy(out->imei, digits, IMEI_BODY_LEN);
	if (n == IMEI_LEN) {
		out->imei[IMEI_BODY_LEN] = digits[IMEI_BODY_LEN];
	} else {
		/* 14 digits: the check digit was left out. 16: an IMEISV, whose last two digits
		 * are the software version and which carries no check digit at all. */
		out->imei[IMEI_BODY_LEN] = imei_check_digit(digits);
		out->computed_check_digit = true;
		if (n == IMEISV_LEN)
			memcpy(out->svn, digits + IMEI_BODY_LEN, 2);
	}
	out->imei[IMEI_LEN] = '\0';
	memcpy(out->tac, digits, IMEI_TAC_LEN);
	out->tac[IMEI_TAC_LEN] = '\0';
	out->has_digits = true;

	if (body_is_reserved(out->imei))
		return finish(out, IMEI_RESERVED);
	if (n == IMEI_LEN && imei_check_digit(digits) != digits[IMEI_BODY_LEN])
		return finish(out, IMEI_BAD_CHECK_DIGIT);
	return finish(out, IMEI_OK);
}

const char *imei_reason_name(enum imei_reason reason)
{
	if ((unsigned)reason >= sizeof(reason_names) / sizeof(reason_names[0]))
		return "unknown";
	return reason_names[reason];
}
