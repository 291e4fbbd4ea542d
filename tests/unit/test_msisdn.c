/* Unit tests of msisdn.h: what users of seven countries type for their number, read from
 * their region's numbering plan as libphonenumber 8.12 knows it (ITU-T E.164), and the
 * masked form of logs. One table row is one cmocka test, so one TAP line. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/msisdn.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* sizeof, not strlen: some inputs hold a NUL byte */
#define OK(rg, what, in, e164, where, type) \
	{ what, rg, in, sizeof(in) - 1, MSISDN_OK, e164, where, MSISDN_TYPE_##type }
#define BAD(rg, what, in, reason) \
	{ what, rg, in, sizeof(in) - 1, MSISDN_##reason, "", "", MSISDN_TYPE_UNKNOWN }

struct parse_case {
	const char *what;
	const char *region;		/* default region given to msisdn_parse */
	const char *in;
	size_t len;
	enum msisdn_reason reason;
	const char *e164;		/* expected when reason is MSISDN_OK */
	const char *where;		/* expected region of the number */
	enum msisdn_type type;
};

/* Example numbers are in ranges libphonenumber's metadata lists for each region (several
 * are its own GetExampleNumberForType examples); "invalid" ones are in unassigned ranges. */
static const struct parse_case parse_cases[] = {
	/* Kenya: trunk prefix 0, international prefix 000 (not 00) */
	OK("KE", "trunk prefix 0712345678", "0712345678", "+254712345678", "KE", MOBILE),
	OK("KE", "international +254712345678", "+254712345678", "+254712345678", "KE", MOBILE),
	OK("KE", "the 00 rule reads 00254712345678 as +254", "00254712345678", "+254712345678",
	   "KE", MOBILE),
	OK("KE", "Kenyan international prefix 000254712345678", "000254712345678",
	   "+254712345678", "KE", MOBILE),
	OK("KE", "bare country code 254712345678 as SMPP senders send it", "254712345678",
	   "+254712345678", "KE", MOBILE),
	OK("KE", "spaces +254 712 345 678", "+254 712 345 678", "+254712345678", "KE", MOBILE),
	OK("KE", "dashes 0712-345-678", "0712-345-678", "+254712345678", "KE", MOBILE),
	OK("KE", "dot and slash 0712.345/678", "0712.345/678", "+254712345678", "KE", MOBILE),
	OK("KE", "tab and no-break space", "0712\t345\xc2\xa0" "678", "+254712345678", "KE",
	   MOBILE),
	OK("KE", "leading and trailing spaces", "  +254712345678  ", "+254712345678", "KE", MOBILE),
	OK("KE", "brackets (0712) 345678", "(0712) 345678", "+254712345678", "KE", MOBILE),
	OK("KE", "bracketed trunk prefix +254 (0)712 345 678", "+254 (0)712 345 678",
	   "+254712345678", "KE", MOBILE),
	OK("KE", "bracketed plus (+254) 712345678", "(+254) 712345678", "+254712345678", "KE",
	   MOBILE),
	OK("KE", "full-width digits", "０７１２３４５６７８", "+254712345678", "KE", MOBILE),
	OK("KE", "full-width plus and digits", "＋２５４７１２３４５６７８", "+254712345678",
	   "KE", MOBILE),
	OK("KE", "Arabic-Indic digits", "٠٧١٢٣٤٥٦٧٨", "+254712345678", "KE", MOBILE),
	OK("KE", "Safaricom 011 range 0110123456", "0110123456", "+254110123456", "KE", MOBILE),
	OK("KE", "Airtel 0733123456", "0733123456", "+254733123456", "KE", MOBILE),
	OK("KE", "fixed line Nairobi 0202012345", "0202012345", "+254202012345", "KE",
	   FIXED_LINE),
	OK("KE", "toll free 0800723253 is accepted as other", "0800723253", "+254800723253", "KE",
	   OTHER),
	BAD("KE", "too short 0712", "0712", TOO_SHORT),
	BAD("KE", "too short +2547", "+2547", TOO_SHORT),
	BAD("KE", "country code alone +254", "+254", TOO_SHORT),
	BAD("KE", "too long 071234567890123", "071234567890123", TOO_LONG),
	BAD("KE", "16 digits +2547123456789012 is beyond E.164", "+2547123456789012", TOO_LONG),
	BAD("KE", "unassigned range 0912345678", "0912345678", INVALID_NUMBER),
	BAD("KE", "one digit missing 071234567 is not a number in use", "071234567",
	    INVALID_NUMBER),
	BAD("KE", "00 rule not taken when +254712 is no number either", "00254712",
	    INVALID_NUMBER),
	OK("KE", "Nigerian +2348031234567", "+2348031234567", "+2348031234567", "NG", MOBILE),
	OK("KE", "Nigerian by the 00 rule 002348031234567", "002348031234567", "+2348031234567",
	   "NG", MOBILE),
	BAD("KE", "bare Nigerian 2348031234567 reads as a Kenyan number, too long",
	    "2348031234567", TOO_LONG),
	OK("KE", "Tanzanian +255712345678", "+255712345678", "+255712345678", "TZ", MOBILE),
	OK("KE", "US +1 202 555 0123", "+1 202 555 0123", "+12025550123", "US",
	   FIXED_LINE_OR_MOBILE),
	OK("KE", "international freephone +80012345678 has no region", "+80012345678",
	   "+80012345678", "", OTHER),
	OK("KE", "Inmarsat +870773111632 has no region", "+870773111632", "+870773111632", "",
	   MOBILE),

	/* Nigeria: trunk prefix 0, international prefix 009 */
	OK("NG", "trunk prefix 08031234567", "08031234567", "+2348031234567", "NG", MOBILE),
	OK("NG", "international +2348031234567", "+2348031234567", "+2348031234567", "NG",
	   MOBILE),
	OK("NG", "the 00 rule reads 002348031234567 as +234", "002348031234567",
	   "+2348031234567", "NG", MOBILE),
	OK("NG", "Nigerian international prefix 0092348031234567", "0092348031234567",
	   "+2348031234567", "NG", MOBILE),
	OK("NG", "bare country code 2348031234567", "2348031234567", "+2348031234567", "NG",
	   MOBILE),
	OK("NG", "spaces 0803 123 4567", "0803 123 4567", "+2348031234567", "NG", MOBILE),
	OK("NG", "bracketed trunk prefix +234 (0)803 123 4567", "+234 (0)803 123 4567",
	   "+2348031234567", "NG", MOBILE),
	OK("NG", "full-width digits", "０８０３１２３４５６７", "+2348031234567", "NG", MOBILE),
	OK("NG", "Airtel 07012345678", "07012345678", "+2347012345678", "NG", MOBILE),
	OK("NG", "9mobile 09031234567", "09031234567", "+2349031234567", "NG", MOBILE),
	OK("NG", "fixed line Lagos 018040123", "018040123", "+23418040123", "NG", FIXED_LINE),
	OK("NG", "toll free 08001234567", "08001234567", "+2348001234567", "NG", OTHER),
	BAD("NG", "too short 0803", "0803", TOO_SHORT),
	BAD("NG", "too long 080312345678901", "080312345678901", TOO_LONG),
	BAD("NG", "unassigned range 03912345678", "03912345678", INVALID_NUMBER),
	OK("NG", "Kenyan +254712345678", "+254712345678", "+254712345678", "KE", MOBILE),
	OK("NG", "British by the 00 rule 00447912345678", "00447912345678", "+447912345678",
	   "GB", MOBILE),

	/* Pakistan: trunk prefix 0, international prefix 00 */
	OK("PK", "trunk prefix 03012345678", "03012345678", "+923012345678", "PK", MOBILE),
	OK("PK", "international +923012345678", "+923012345678", "+923012345678", "PK", MOBILE),
	OK("PK", "international prefix 00923012345678", "00923012345678", "+923012345678", "PK",
	   MOBILE),
	OK("PK", "bare country code 923012345678", "923012345678", "+923012345678", "PK",
	   MOBILE),
	OK("PK", "dash 0301-2345678", "0301-2345678", "+923012345678", "PK", MOBILE),
	OK("PK", "Arabic-Indic digits", "٠٣٠١٢٣٤٥٦٧٨", "+923012345678", "PK", MOBILE),
	OK("PK", "Extended Arabic-Indic digits as Urdu keyboards type them", "۰۳۰۱۲۳۴۵۶۷۸",
	   "+923012345678", "PK", MOBILE),
	OK("PK", "Extended Arabic-Indic digits with a space", "۰۳۰۱ ۲۳۴۵۶۷۸", "+923012345678",
	   "PK", MOBILE),
	OK("PK", "plus and Arabic-Indic digits", "+٩٢٣٠١٢٣٤٥٦٧٨", "+923012345678", "PK",
	   MOBILE),
	OK("PK", "ASCII and Arabic-Indic digits mixed", "0301٢٣٤٥٦٧٨", "+923012345678", "PK",
	   MOBILE),
	OK("PK", "Jazz 03001234567", "03001234567", "+923001234567", "PK", MOBILE),
	OK("PK", "fixed line Karachi 02123456789", "02123456789", "+922123456789", "PK",
	   FIXED_LINE),
	OK("PK", "bracketed area code (021) 23456789", "(021) 23456789", "+922123456789", "PK",
	   FIXED_LINE),
	BAD("PK", "too short 0301", "0301", TOO_SHORT),
	BAD("PK", "too long 030123456789012", "030123456789012", TOO_LONG),
	BAD("PK", "unassigned range 05912345678", "05912345678", INVALID_NUMBER),
	OK("PK", "Indian +919876543210", "+919876543210", "+919876543210", "IN", MOBILE),
	BAD("PK", "bare Indian 919876543210 reads as Pakistani", "919876543210", INVALID_NUMBER),

	/* India: ten digits; a trunk prefix 0 is accepted too; international prefix 00 */
	OK("IN", "ten digits 9876543210", "9876543210", "+919876543210", "IN", MOBILE),
	OK("IN", "trunk prefix 09876543210", "09876543210", "+919876543210", "IN", MOBILE),
	OK("IN", "international +919876543210", "+919876543210", "+919876543210", "IN", MOBILE),
	OK("IN", "international prefix 00919876543210", "00919876543210", "+919876543210", "IN",
	   MOBILE),
	OK("IN", "bare country code 919876543210", "919876543210", "+919876543210", "IN",
	   MOBILE),
	OK("IN", "spaces +91 98765 43210", "+91 98765 43210", "+919876543210", "IN", MOBILE),
	OK("IN", "Devanagari digits", "९८७६५४३२१०", "+919876543210", "IN", MOBILE),
	OK("IN", "Devanagari digits with trunk prefix", "०९८७६५४३२१०", "+919876543210", "IN",
	   MOBILE),
	OK("IN", "full-width plus and digits", "＋９１９８７６５４３２１０", "+919876543210", "IN",
	   MOBILE),
	OK("IN", "fixed line Delhi 01123456789", "01123456789", "+911123456789", "IN",
	   FIXED_LINE),
	OK("IN", "fixed line or mobile 07410410123", "07410410123", "+917410410123", "IN",
	   FIXED_LINE_OR_MOBILE),
	OK("IN", "toll free 18001234567", "18001234567", "+9118001234567", "IN", OTHER),
	BAD("IN", "too short 98765", "98765", TOO_SHORT),
	BAD("IN", "too long 98765432101234", "98765432101234", TOO_LONG),
	BAD("IN", "unassigned range 3123456789", "3123456789", INVALID_NUMBER),
	OK("IN", "Pakistani +923012345678", "+923012345678", "+923012345678", "PK", MOBILE),
	OK("IN", "Pakistani with international prefix 00923012345678", "00923012345678",
	   "+923012345678", "PK", MOBILE),

	/* Turkey: trunk prefix 0, international prefix 00 */
	OK("TR", "trunk prefix 05321234567", "05321234567", "+905321234567", "TR", MOBILE),
	OK("TR", "international +905321234567", "+905321234567", "+905321234567", "TR", MOBILE),
	OK("TR", "international prefix 00905321234567", "00905321234567", "+905321234567", "TR",
	   MOBILE),
	OK("TR", "bare country code 905321234567", "905321234567", "+905321234567", "TR",
	   MOBILE),
	OK("TR", "spaces 0532 123 45 67", "0532 123 45 67", "+905321234567", "TR", MOBILE),
	OK("TR", "brackets +90 (532) 123 45 67", "+90 (532) 123 45 67", "+905321234567", "TR",
	   MOBILE),
	OK("TR", "full-width digits", "０５３２１２３４５６７", "+905321234567", "TR", MOBILE),
	OK("TR", "fixed line Istanbul 02123456789", "02123456789", "+902123456789", "TR",
	   FIXED_LINE),
	OK("TR", "toll free 08001234567", "08001234567", "+908001234567", "TR", OTHER),
	BAD("TR", "too short 0532", "0532", TOO_SHORT),
	BAD("TR", "too long 053212345678901", "053212345678901", TOO_LONG),
	BAD("TR", "unassigned range 08801234567", "08801234567", INVALID_NUMBER),
	BAD("TR", "international prefix alone 0090", "0090", TOO_SHORT),
	OK("TR", "French +33612345678", "+33612345678", "+33612345678", "FR", MOBILE),
	OK("TR", "French with international prefix 0033612345678", "0033612345678",
	   "+33612345678", "FR", MOBILE),

	/* France: trunk prefix 0, international prefix 00; "(0)" after the country code */
	OK("FR", "trunk prefix 0612345678", "0612345678", "+33612345678", "FR", MOBILE),
	OK("FR", "international +33612345678", "+33612345678", "+33612345678", "FR", MOBILE),
	OK("FR", "international prefix 0033612345678", "0033612345678", "+33612345678", "FR",
	   MOBILE),
	OK("FR", "bare country code 33612345678", "33612345678", "+33612345678", "FR", MOBILE),
	OK("FR", "bare country code and trunk prefix 330612345678", "330612345678",
	   "+33612345678", "FR", MOBILE),
	OK("FR", "spaces 06 12 34 56 78", "06 12 34 56 78", "+33612345678", "FR", MOBILE),
	OK("FR", "dots 06.12.34.56.78", "06.12.34.56.78", "+33612345678", "FR", MOBILE),
	OK("FR", "bracketed trunk prefix +33 (0)6 12 34 56 78", "+33 (0)6 12 34 56 78",
	   "+33612345678", "FR", MOBILE),
	OK("FR", "bracketed trunk prefix after 0033", "0033 (0)6 12 34 56 78", "+33612345678",
	   "FR", MOBILE),
	OK("FR", "trunk prefix kept after the country code +330612345678", "+330612345678",
	   "+33612345678", "FR", MOBILE),
	OK("FR", "full-width digits", "０６１２３４５６７８", "+33612345678", "FR", MOBILE),
	OK("FR", "fixed line Paris 0123456789", "0123456789", "+33123456789", "FR", FIXED_LINE),
	OK("FR", "VoIP 0912345678", "0912345678", "+33912345678", "FR", OTHER),
	OK("FR", "premium rate 0899123456", "0899123456", "+33899123456", "FR", OTHER),
	BAD("FR", "too short 0612", "0612", TOO_SHORT),
	BAD("FR", "one digit too many 06123456789", "06123456789", TOO_LONG),
	BAD("FR", "unassigned range 0712345678", "0712345678", INVALID_NUMBER),
	BAD("FR", "00 then too few digits 0012345678", "0012345678", INVALID_NUMBER),
	OK("FR", "Turkish +905321234567", "+905321234567", "+905321234567", "TR", MOBILE),
	OK("FR", "Kenyan with international prefix 00254712345678", "00254712345678",
	   "+254712345678", "KE", MOBILE),
	OK("FR", "Italian (0) is part of the number +39 (0)6 1234 5678", "+39 (0)6 1234 5678",
	   "+390612345678", "IT", FIXED_LINE),
	OK("FR", "British (0) is dropped +44 (0)20 7946 0958", "+44 (0)20 7946 0958",
	   "+442079460958", "GB", FIXED_LINE),

	/* Brazil: trunk prefix 0 with an optional carrier code, 00 plus a carrier to go abroad */
	OK("BR", "trunk prefix and area code 011961234567", "011961234567", "+5511961234567",
	   "BR", MOBILE),
	OK("BR", "area code 11961234567", "11961234567", "+5511961234567", "BR", MOBILE),
	OK("BR", "carrier code 21 02111961234567", "02111961234567", "+5511961234567", "BR",
	   MOBILE),
	OK("BR", "international +5511961234567", "+5511961234567", "+5511961234567", "BR",
	   MOBILE),
	OK("BR", "the 00 rule reads 005511961234567 as +55", "005511961234567",
	   "+5511961234567", "BR", MOBILE),
	OK("BR", "Brazilian international prefix with carrier 0014", "00145511961234567",
	   "+5511961234567", "BR", MOBILE),
	OK("BR", "bare country code 5511961234567", "5511961234567", "+5511961234567", "BR",
	   MOBILE),
	OK("BR", "brackets and dash (11) 96123-4567", "(11) 96123-4567", "+5511961234567", "BR",
	   MOBILE),
	OK("BR", "plus and brackets +55 (11) 96123-4567", "+55 (11) 96123-4567",
	   "+5511961234567", "BR", MOBILE),
	OK("BR", "Rio de Janeiro +5521987654321", "+5521987654321", "+5521987654321", "BR",
	   MOBILE),
	OK("BR", "full-width digits", "１１９６１２３４５６７", "+5511961234567", "BR", MOBILE),
	OK("BR", "fixed line Sao Paulo 1123456789", "1123456789", "+551123456789", "BR",
	   FIXED_LINE),
	OK("BR", "toll free 08001234567", "08001234567", "+558001234567", "BR", OTHER),
	BAD("BR", "too short 11961", "11961", TOO_SHORT),
	BAD("BR", "too long 119612345678901", "119612345678901", TOO_LONG),
	BAD("BR", "no such area code 10961234567", "10961234567", INVALID_NUMBER),
	OK("BR", "US +12025550123", "+12025550123", "+12025550123", "US", FIXED_LINE_OR_MOBILE),
	OK("BR", "British +447912345678", "+447912345678", "+447912345678", "GB", MOBILE),

	/* What is not a number at all, whatever the region */
	BAD("KE", "empty input", "", EMPTY),
	BAD("KE", "only separators", " -./\t ", EMPTY),
	BAD("KE", "only a plus", "+", EMPTY),
	BAD("KE", "plus and brackets", " + ( ) ", EMPTY),
	BAD("KE", "only no-break spaces", "\xc2\xa0\xc2\xa0", EMPTY),
	BAD("KE", "letters", "abc", NOT_A_NUMBER),
	BAD("KE", "capital I for 1 in 07I2345678", "07I2345678", NOT_A_NUMBER),
	BAD("KE", "tel URI", "tel:+254712345678", NOT_A_NUMBER),
	BAD("KE", "USSD code star 123 hash", "*123#", NOT_A_NUMBER),
	BAD("KE", "extension", "0712345678 ext 1", NOT_A_NUMBER),
	BAD("KE", "two plus signs", "++254712345678", NOT_A_NUMBER),
	BAD("KE", "plus after digits", "254+712345678", NOT_A_NUMBER),
	BAD("KE", "plus at the end", "0712345678+", NOT_A_NUMBER),
	BAD("KE", "full-width brackets are not separators", "（0712）345678", NOT_A_NUMBER),
	BAD("KE", "superscript two", "07\xc2\xb2" "2345678", NOT_A_NUMBER),
	BAD("KE", "Arabic letter among Arabic-Indic digits", "٠٧١٢٣ا٤٥٦٧٨", NOT_A_NUMBER),
	BAD("KE", "invalid UTF-8 byte 0xff", "\xff" "0712345678", NOT_A_NUMBER),
	BAD("KE", "truncated UTF-8 at the end", "0712345678\xd9", NOT_A_NUMBER),
	BAD("KE", "overlong UTF-8 zero", "\xc0\xb0" "712345678", NOT_A_NUMBER),
	BAD("KE", "UTF-8 encoded surrogate", "0712\xed\xa0\x80" "345678", NOT_A_NUMBER),
	BAD("KE", "bracket inside a broken UTF-8 sequence is no no-break space",
	    "0712\xc2(\xa0" "345678", NOT_A_NUMBER),
	BAD("KE", "NUL byte inside", "0712\0" "345678", NOT_A_NUMBER),
	BAD("KE", "one digit", "7", TOO_SHORT),
	BAD("KE", "plus and one digit", "+1", TOO_SHORT),
	BAD("KE", "plus and two digits", "+12", TOO_SHORT),
	BAD("KE", "Kenyan international prefix alone 000", "000", TOO_SHORT),
	BAD("KE", "no such country code +999123456", "+999123456", INVALID_COUNTRY_CODE),
	BAD("KE", "plus and trunk prefix +0712345678", "+0712345678", INVALID_COUNTRY_CODE),
	OK("KE", "64 bytes padded with spaces",
	   "+254 712 345 678                                                ", "+254712345678",
	   "KE", MOBILE),
	BAD("KE", "65 bytes padded with spaces",
	    "+254 712 345 678                                                 ", TOO_LONG),
	BAD("KE", "64 digits", "+254712345678901234567890123456789012345678901234567890123456789",
	    TOO_LONG),
	BAD("KE", "65 digits", "25471234567890123456789012345678901234567890123456789012345678901",
	    TOO_LONG),

	/* The default region */
	OK(NULL, "international +254712345678", "+254712345678", "+254712345678", "KE", MOBILE),
	BAD(NULL, "national 0712345678 needs a region", "0712345678", INVALID_COUNTRY_CODE),
	BAD(NULL, "bare country code 254712345678 needs a region", "254712345678",
	    INVALID_COUNTRY_CODE),
	OK(NULL, "00 rule 00254712345678", "00254712345678", "+254712345678", "KE", MOBILE),
	BAD(NULL, "00 then too few digits 002547", "002547", TOO_SHORT),
	BAD(NULL, "00 then no such country code 00999123456", "00999123456",
	    INVALID_COUNTRY_CODE),
	BAD(NULL, "empty input", "", EMPTY),
	OK("", "international +33612345678", "+33612345678", "+33612345678", "FR", MOBILE),
	BAD("", "national 0612345678 needs a region", "0612345678", INVALID_COUNTRY_CODE),
	OK("ke", "lower-case region, 0712345678", "0712345678", "+254712345678", "KE", MOBILE),
	OK("Ke", "mixed-case region, 0712345678", "0712345678", "+254712345678", "KE", MOBILE),
	BAD("XX", "no such region", "+254712345678", UNKNOWN_REGION),
	BAD("XX", "no such region, empty input", "", UNKNOWN_REGION),
	BAD("ZZ", "unknown region code given explicitly", "+254712345678", UNKNOWN_REGION),
	BAD("zz", "unknown region code in lower case", "+254712345678", UNKNOWN_REGION),
	BAD("KEN", "three letters", "0712345678", UNKNOWN_REGION),
	BAD("K", "one letter", "0712345678", UNKNOWN_REGION),
	BAD("001", "non-geographic entity", "+80012345678", UNKNOWN_REGION),
	BAD("K\xc3\xa9", "non-ASCII letter", "0712345678", UNKNOWN_REGION),
};

static void test_parse_row(void **state)
{
	const struct parse_case *c = *state;
	struct msisdn m, again;
	enum msisdn_reason r;

	memset(&m, 0x5A, sizeof(m));	/* parse must overwrite every field */
	r = msisdn_parse(c->in, c->len, c->region, &m);
	/* names rather than numbers, so that a failure reads "too_short" != "ok" */
	assert_string_equal(msisdn_reason_name(r), msisdn_reason_name(c->reason));
	assert_int_equal(m.reason, r);
	if (c->reason != MSISDN_OK) {
		assert_false(m.valid);
		assert_string_equal(m.e164, "");
		assert_string_equal(m.region, "");
		assert_int_equal(m.type, MSISDN_TYPE_UNKNOWN);
		return;
	}
	assert_true(m.valid);
	assert_string_equal(m.e164, c->e164);
	assert_string_equal(m.region, c->where);
	assert_string_equal(msisdn_type_name(m.type), msisdn_type_name(c->type));

	/* What we store reads back as itself, from no region at all */
	r = msisdn_parse(m.e164, strlen(m.e164), NULL, &again);
	assert_int_equal(r, MSISDN_OK);
	assert_string_equal(again.e164, m.e164);
	assert_string_equal(again.region, m.region);
	assert_int_equal(again.type, m.type);
}

struct region_case {
	const char *what;
	const char *region;
	bool known;
};

static const struct region_case region_cases[] = {
	{ "KE is known", "KE", true },
	{ "lower-case ke is known", "ke", true },
	{ "BR is known", "BR", true },
	{ "XX is not", "XX", false },
	{ "ZZ, the unknown region, is not", "ZZ", false },
	{ "001, the non-geographic entity, is not", "001", false },
	{ "KEN is not", "KEN", false },
	{ "K is not", "K", false },
	{ "empty string is not", "", false },
	{ "NULL is not", NULL, false },
};

static void test_region_row(void **state)
{
	const struct region_case *c = *state;

	assert_int_equal(msisdn_region_known(c->region), c->known);
}

#define MASK(what, in, outsz, out) { what, in, sizeof(in) - 1, outsz, out, 0 }
#define MASKN(what, in, outsz, out, need) { what, in, sizeof(in) - 1, outsz, out, need }

struct mask_case {
	const char *what;
	const char *in;
	size_t len;
	size_t outsz;
	const char *out;
	size_t need;		/* what msisdn_mask returns; 0: strlen(out) */
};

static const struct mask_case mask_cases[] = {
	MASK("Kenyan E.164 number", "+254712345678", 64, "+2547****5678"),
	MASK("Nigerian E.164 number", "+2348031234567", 64, "+2348*****4567"),
	MASK("15 digits", "+123456789012345", 64, "+1234*******2345"),
	MASK("20 digits", "+25471234567890123456", 64, "+2547************3456"),
	MASK("no plus", "254712345678", 64, "2547****5678"),
	MASK("11 digits", "08031234567", 64, "080****4567"),
	MASK("10 digits", "0712345678", 64, "07****5678"),
	MASK("9 digits", "712345678", 64, "7****5678"),
	MASK("8 digits", "12345678", 64, "****5678"),
	MASK("6 digits", "123456", 64, "****56"),
	MASK("5 digits", "12345", 64, "****5"),
	MASK("4 digits", "1234", 64, "****"),
	MASK("plus and 4 digits", "+1234", 64, "+****"),
	MASK("1 digit", "7", 64, "*"),
	MASK("empty", "", 64, ""),
	MASK("only a plus", "+", 64, "+"),
	MASK("separators dropped", "+254 712-345.678", 64, "+2547****5678"),
	MASK("plus after the first digit dropped", "254+712345678", 64, "2547****5678"),
	MASK("letters dropped", "tel:+254712345678", 64, "+2547****5678"),
	MASK("garbage bytes and a NUL dropped", "\xff\xfe+25\0" "47\xd9\xa0" "12abc345678", 64,
	     "+2547****5678"),
	MASK("non-ASCII digits dropped", "٠٧١٢٣٤٥٦٧٨", 64, ""),
	MASKN("exact buffer", "+254712345678", 14, "+2547****5678", 13),
	MASKN("one byte short", "+254712345678", 13, "+2547****567", 13),
	MASKN("truncated in the masked part", "+254712345678", 8, "+2547**", 13),
	MASKN("truncated after the plus", "+254712345678", 2, "+", 13),
	MASKN("room for the NUL only", "+254712345678", 1, "", 13),
	MASKN("exact buffer for 4 digits", "1234", 5, "****", 4),
};

static void test_mask_row(void **state)
{
	const struct mask_case *c = *state;
	char buf[64];
	size_t need = c->need ? c->need : strlen(c->out), n, i;

	memset(buf, 'Z', sizeof(buf));
	n = msisdn_mask(c->in, c->len, buf, c->outsz);
	assert_int_equal(n, need);
	assert_string_equal(buf, c->out);
	/* nothing written past the buffer it was given */
	for (i = c->outsz; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 'Z');
}

struct name_case {
	const char *what;
	const char *(*fn)(int);
	int value;
	const char *name;
};

/* The functions take enums; these wrappers let one table hold both kinds. */
static const char *reason_name(int v)
{
	return msisdn_reason_name((enum msisdn_reason)v);
}

static const char *type_name(int v)
{
	return msisdn_type_name((enum msisdn_type)v);
}

static const struct name_case name_cases[] = {
	{ "reason ok", reason_name, MSISDN_OK, "ok" },
	{ "reason empty", reason_name, MSISDN_EMPTY, "empty" },
	{ "reason not_a_number", reason_name, MSISDN_NOT_A_NUMBER, "not_a_number" },
	{ "reason invalid_country_code", reason_name, MSISDN_INVALID_COUNTRY_CODE,
	  "invalid_country_code" },
	{ "reason too_short", reason_name, MSISDN_TOO_SHORT, "too_short" },
	{ "reason too_long", reason_name, MSISDN_TOO_LONG, "too_long" },
	{ "reason invalid_number", reason_name, MSISDN_INVALID_NUMBER, "invalid_number" },
	{ "reason unknown_region", reason_name, MSISDN_UNKNOWN_REGION, "unknown_region" },
	{ "reason out of range", reason_name, 99, "?" },
	{ "reason negative", reason_name, -1, "?" },
	{ "type unknown", type_name, MSISDN_TYPE_UNKNOWN, "unknown" },
	{ "type mobile", type_name, MSISDN_TYPE_MOBILE, "mobile" },
	{ "type fixed_line", type_name, MSISDN_TYPE_FIXED_LINE, "fixed_line" },
	{ "type fixed_line_or_mobile", type_name, MSISDN_TYPE_FIXED_LINE_OR_MOBILE,
	  "fixed_line_or_mobile" },
	{ "type other", type_name, MSISDN_TYPE_OTHER, "other" },
	{ "type out of range", type_name, 99, "?" },
};

static void test_name_row(void **state)
{
	const struct name_case *c = *state;

	assert_string_equal(c->fn(c->value), c->name);
}

static void test_mask_outsz_zero(void **state)
{
	char buf[4] = "ZZZ";

	(void)state;
	assert_int_equal(msisdn_mask("+254712345678", 13, NULL, 0), 13);
	assert_int_equal(msisdn_mask("+254712345678", 13, buf, 0), 13);
	assert_string_equal(buf, "ZZZ");
	assert_int_equal(msisdn_mask(NULL, 0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
}

static void test_parse_null_input(void **state)
{
	struct msisdn m;

	(void)state;
	assert_int_equal(msisdn_parse(NULL, 0, "KE", &m), MSISDN_EMPTY);
	assert_false(m.valid);
}

/* A failed parse after a good one leaves nothing of the good one behind. */
static void test_parse_reuse(void **state)
{
	struct msisdn m;

	(void)state;
	assert_int_equal(msisdn_parse("0712345678", 10, "KE", &m), MSISDN_OK);
	assert_int_equal(msisdn_parse("0712", 4, "KE", &m), MSISDN_TOO_SHORT);
	assert_false(m.valid);
	assert_string_equal(m.e164, "");
	assert_string_equal(m.region, "");
	assert_int_equal(m.type, MSISDN_TYPE_UNKNOWN);
}

/* xorshift32: the same sequence on every libc, so a failure can be replayed */
static uint32_t rnd_next(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static bool all_digits(const char *s)
{
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
	}
	return true;
}

/* Random edits of numbers that parse (a digit of another script, a separator, a byte
 * inserted or dropped), so that the draw reaches valid numbers and near misses alike. */
static void test_random_never_crashes(void **state)
{
	static const char *const bases[] = {
		"0712345678", "+254712345678", "00254712345678", "254712345678", "08031234567",
		"03012345678", "9876543210", "05321234567", "+33 (0)6 12 34 56 78",
		"011961234567", "+80012345678", "",
	};
	static const char *const pieces[] = {
		"0", "1", "5", "7", "9", "00", "+", " ", "-", "(", ")", "\xc2\xa0", "٣", "۷", "५",
		"４", "＋", "x", "#", "\xff", "\xc2", "\0",
	};
	static const char *const regions[] = { NULL, "", "KE", "NG", "PK", "IN", "TR", "FR",
		"BR", "US", "xx" };
	uint32_t seed = 0x2545F491u;
	char in[96], masked[24];
	struct msisdn m;
	size_t len, n, need, i, k, at, outsz;
	int iter, valid = 0, invalid = 0;

	(void)state;
	for (iter = 0; iter < 10000; iter++) {
		const char *base = bases[rnd_next(&seed) % COUNT(bases)];

		len = strlen(base);
		memcpy(in, base, len);
		n = rnd_next(&seed) % 4;
		for (k = 0; k < n; k++) {
			const char *p = pieces[rnd_next(&seed) % COUNT(pieces)];
			size_t plen = p[0] ? strlen(p) : 1;

			at = len ? rnd_next(&seed) % len : 0;
			switch (rnd_next(&seed) % 4) {
			case 0:		/* drop a byte */
				if (len > 0) {
					memmove(in + at, in + at + 1, len - at - 1);
					len--;
				}
				break;
			case 1:		/* a random byte over one */
				if (len > 0)
					in[at] = (char)(rnd_next(&seed) & 0xFF);
				break;
			default:	/* insert a piece */
				if (len + plen <= sizeof(in)) {
					memmove(in + at + plen, in + at, len - at);
					memcpy(in + at, p, plen);
					len += plen;
				}
				break;
			}
		}
		msisdn_parse(in, len, regions[rnd_next(&seed) % COUNT(regions)], &m);
		assert_true((unsigned)m.reason <= MSISDN_UNKNOWN_REGION);
		assert_int_equal(m.valid, m.reason == MSISDN_OK);
		invalid += m.reason == MSISDN_INVALID_NUMBER;
		if (m.valid) {
			valid++;
			assert_true(m.e164[0] == '+');
			assert_true(all_digits(m.e164 + 1));
			assert_true(strlen(m.e164) >= 3 && strlen(m.e164) <= MSISDN_E164_MAX);
			assert_true(m.type != MSISDN_TYPE_UNKNOWN);
			assert_true(strlen(m.region) == 0 || strlen(m.region) == 2);
		} else {
			assert_string_equal(m.e164, "");
		}

		need = 0;
		for (i = 0; i < len; i++)
			need += in[i] >= '0' && in[i] <= '9';
		for (i = 0; i < len && !(in[i] >= '0' && in[i] <= '9'); i++) {
			if (in[i] == '+') {
				need++;
				break;
			}
		}
		outsz = rnd_next(&seed) % sizeof(masked);
		memset(masked, 'Z', sizeof(masked));
		assert_int_equal(msisdn_mask(in, len, masked, outsz), need);
		if (outsz > 0)
			assert_true(strlen(masked) == (need < outsz ? need : outsz - 1));
		for (i = outsz; i < sizeof(masked); i++)
			assert_int_equal(masked[i], 'Z');
	}
	/* the draw is meant to reach both sides of libphonenumber's judgement */
	assert_true(valid > 500);
	assert_true(invalid > 100);
}

/* Appends one test named "<prefix>: <what>"; the name is allocated, freed by main. */
static void add_test(struct CMUnitTest *tests, size_t *n, const char *prefix, const char *what,
		     CMUnitTestFunction fn, const void *row)
{
	size_t size = strlen(prefix) + strlen(what) + 3;
	char *name = malloc(size);

	if (name == NULL)
		abort();
	snprintf(name, size, "%s: %s", prefix, what);
	tests[*n] = (struct CMUnitTest){ .name = name, .test_func = fn,
					 .initial_state = (void *)row };
	(*n)++;
}

int main(void)
{
	size_t total = COUNT(parse_cases) + COUNT(region_cases) + COUNT(mask_cases) +
		       COUNT(name_cases) + 4;
	struct CMUnitTest *tests = calloc(total, sizeof(*tests));
	char prefix[32];
	size_t n = 0, i;
	int failed;

	if (tests == NULL)
		return 1;
	for (i = 0; i < COUNT(parse_cases); i++) {
		const char *rg = parse_cases[i].region;

		snprintf(prefix, sizeof(prefix), "msisdn %s",
			 rg == NULL ? "no region" : rg[0] ? rg : "empty region");
		add_test(tests, &n, prefix, parse_cases[i].what, test_parse_row, &parse_cases[i]);
	}
	for (i = 0; i < COUNT(region_cases); i++)
		add_test(tests, &n, "msisdn region known", region_cases[i].what, test_region_row,
			 &region_cases[i]);
	for (i = 0; i < COUNT(mask_cases); i++)
		add_test(tests, &n, "msisdn mask", mask_cases[i].what, test_mask_row,
			 &mask_cases[i]);
	for (i = 0; i < COUNT(name_cases); i++)
		add_test(tests, &n, "msisdn names", name_cases[i].what, test_name_row,
			 &name_cases[i]);
	add_test(tests, &n, "msisdn mask", "outsz 0 writes nothing", test_mask_outsz_zero, NULL);
	add_test(tests, &n, "msisdn", "NULL input of length 0 is empty", test_parse_null_input,
		 NULL);
	add_test(tests, &n, "msisdn", "a failure after a success clears the result",
		 test_parse_reuse, NULL);
	add_test(tests, &n, "msisdn", "random input never breaks the invariants",
		 test_random_never_crashes, NULL);

	failed = _cmocka_run_group_tests("msisdn", tests, n, NULL, NULL);
	for (i = 0; i < n; i++)
		free((char *)tests[i].name);
	free(tests);
	return failed;
}
