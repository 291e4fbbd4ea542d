/* The extern "C" face of libphonenumber (C++): just what msisdn.c needs. Nothing else in the
 * tree includes a libphonenumber header. */
#ifndef CEIRGW_DOMAIN_PHONENUMBER_SHIM_H
#define CEIRGW_DOMAIN_PHONENUMBER_SHIM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum pn_result {
	PN_VALID = 0,		/* parsed and valid */
	PN_INVALID,		/* parsed, of a possible length, but IsValidNumber says no */
	PN_ERR_COUNTRY_CODE,
	PN_ERR_NOT_A_NUMBER,	/* also: fewer than two or three digits, or out of memory */
	PN_ERR_TOO_SHORT_AFTER_IDD,
	PN_ERR_TOO_SHORT_NSN,	/* also: parsed, invalid, and too short for any number there */
	PN_ERR_TOO_LONG,	/* also: parsed, invalid, and too long for any number there */
};

enum pn_type { PN_TYPE_UNKNOWN = 0, PN_TYPE_MOBILE, PN_TYPE_FIXED_LINE,
	PN_TYPE_FIXED_LINE_OR_MOBILE, PN_TYPE_OTHER };

/* Parses the NUL-terminated ASCII number from region (may be "ZZ" for none). Whenever
 * libphonenumber parsed it (PN_VALID, PN_INVALID, and the too short/too long of a parsed
 * number) fills e164 (outsz bytes, NUL-terminated; PN_ERR_TOO_LONG if it does not fit) and
 * region_out ("" for non-geographic numbers such as +800); *type only on PN_VALID. Otherwise
 * they are "", "" and PN_TYPE_UNKNOWN. Never throws. */
enum pn_result pn_parse(const char *number, const char *region, char *e164, size_t outsz,
			char region_out[3], enum pn_type *type);

/* 1 when libphonenumber knows the region code (two upper-case letters; not "ZZ" or the
 * non-geographic "001"), else 0. */
int pn_region_known(const char *region);

#ifdef __cplusplus
}
#endif

#endif
