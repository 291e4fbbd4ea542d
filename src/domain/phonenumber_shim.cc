// The extern "C" face of libphonenumber (Google's i18n::phonenumbers, Debian's 8.12): parse,
// validate and format as ITU-T E.164 for msisdn.c. Its metadata decides which ranges are in
// use; no C++ exception ever crosses into C.
#include "domain/phonenumber_shim.h"

#include <cstring>
#include <set>
#include <string>

#include <phonenumbers/phonenumber.pb.h>
#include <phonenumbers/phonenumberutil.h>

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

namespace {

// Copies s with its NUL when it fits; returns false (dst left "") when it does not.
bool copy_out(const std::string &s, char *dst, size_t dstsz)
{
	if (dstsz == 0)
		return false;
	dst[0] = '\0';
	if (s.size() + 1 > dstsz)
		return false;
	std::memcpy(dst, s.c_str(), s.size() + 1);
	return true;
}

enum pn_result from_error(PhoneNumberUtil::ErrorType err)
{
	switch (err) {
	case PhoneNumberUtil::INVALID_COUNTRY_CODE_ERROR:
		return PN_ERR_COUNTRY_CODE;
	case PhoneNumberUtil::TOO_SHORT_AFTER_IDD:
		return PN_ERR_TOO_SHORT_AFTER_IDD;
	case PhoneNumberUtil::TOO_SHORT_NSN:
		return PN_ERR_TOO_SHORT_NSN;
	case PhoneNumberUtil::TOO_LONG_NSN:
		return PN_ERR_TOO_LONG;
	case PhoneNumberUtil::NOT_A_NUMBER:
	default:
		return PN_ERR_NOT_A_NUMBER;
	}
}

enum pn_type from_type(PhoneNumberUtil::PhoneNumberType type)
{
	switch (type) {
	case PhoneNumberUtil::MOBILE:
		return PN_TYPE_MOBILE;
	case PhoneNumberUtil::FIXED_LINE:
		return PN_TYPE_FIXED_LINE;
	case PhoneNumberUtil::FIXED_LINE_OR_MOBILE:
		return PN_TYPE_FIXED_LINE_OR_MOBILE;
	case PhoneNumberUtil::UNKNOWN:
		return PN_TYPE_UNKNOWN;
	default:
		return PN_TYPE_OTHER;
	}
}

// Why a parsed number is not valid. IsValidNumber only says yes or no; the length check
// tells the user "too short" for a number missing digits, which a reply can say plainly.
enum pn_result why_invalid(const PhoneNumberUtil &util, const PhoneNumber &num)
{
	switch (util.IsPossibleNumberWithReason(num)) {
	case PhoneNumberUtil::TOO_SHORT:
		return PN_ERR_TOO_SHORT_NSN;
	case PhoneNumberUtil::TOO_LONG:
		return PN_ERR_TOO_LONG;
	default:
		return PN_INVALID;
	}
}

void clear_out(char *e164, size_t outsz, char region_out[3], enum pn_type *type)
{
	if (outsz > 0)
		e164[0] = '\0';
	region_out[0] = '\0';
	*type = PN_TYPE_UNKNOWN;
}

} // namespace

extern "C" enum pn_result pn_parse(const char *number, const char *region, char *e164,
				   size_t outsz, char region_out[3], enum pn_type *type)
{
	clear_out(e164, outsz, region_out, type);
	if (number == nullptr || region == nullptr)
		return PN_ERR_NOT_A_NUMBER;
	// Parse only allocates; a std::bad_alloc is the one exception to expect. It is reported
	// as "not a number" so that the caller rejects rather than accepts what it cannot check.
	try {
		const PhoneNumberUtil *util = PhoneNumberUtil::GetInstance();
		PhoneNumber num;
		std::string formatted, where;
		PhoneNumberUtil::ErrorType err = util->Parse(number, region, &num);

		if (err != PhoneNumberUtil::NO_PARSING_ERROR)
			return from_error(err);
		util->Format(num, PhoneNumberUtil::E164, &formatted);
		if (!copy_out(formatted, e164, outsz))
			return PN_ERR_TOO_LONG;
		// Non-geographic numbers (+800, +870, +881, ...) belong to the pseudo-region "001",
		// which does not fit region_out; they are left without a region.
		util->GetRegionCodeForNumber(num, &where);
		if (where.size() == 2 && where != "ZZ")
			copy_out(where, region_out, 3);
		if (!util->IsValidNumber(num))
			return why_invalid(*util, num);
		*type = from_type(util->GetNumberType(num));
		return PN_VALID;
	} catch (...) {
		clear_out(e164, outsz, region_out, type);
		return PN_ERR_NOT_A_NUMBER;
	}
}

extern "C" int pn_region_known(const char *region)
{
	if (region == nullptr)
		return 0;
	try {
		// The geographic regions only: "001" (non-geographic) and "ZZ" (unknown) are not
		// regions a number can be read from. Built once; the set never changes.
		static const std::set<std::string> regions = [] {
			std::set<std::string> s;
			PhoneNumberUtil::GetInstance()->GetSupportedRegions(&s);
			return s;
		}();

		return regions.count(region) ? 1 : 0;
	} catch (...) {
		return 0;
	}
}
