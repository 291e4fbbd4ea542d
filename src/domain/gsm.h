/* What a text costs on the air: GSM 7-bit default alphabet or UCS-2, SMS parts and USSD
 * screens. The alphabets are 3GPP TS 23.038 section 6.2.1 (default alphabet and its extension
 * table); concatenated SMS parts lose 6 octets to the UDH of 3GPP TS 23.040 section 9.2.3.24.1. */
#ifndef CEIRGW_DOMAIN_GSM_H
#define CEIRGW_DOMAIN_GSM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 140 octets of user data: 160 septets or 70 UTF-16 units whole; a 6-octet concatenation
 * header leaves 134 octets, 153 septets (1072 bits / 7) or 67 units a part. */
#define SMS_GSM7_SINGLE		160
#define SMS_GSM7_PART		153
#define SMS_UCS2_SINGLE		70
#define SMS_UCS2_PART		67
/* USSD strings are 160 octets at most (3GPP TS 24.080 and TS 23.038 section 6.1.2.3):
 * 182 packed septets (1274 bits), or 80 UTF-16 units. */
#define SMS_USSD_GSM7		182
#define SMS_USSD_UCS2		80
/* sms_cut() moves a cut back to the end of a word when that leaves at most this many
 * units of the part unused. */
#define SMS_SPLIT_SLACK		15

enum sms_coding {
	SMS_GSM7 = 0,
	SMS_UCS2,
};

struct sms_measure {
	/* GSM7 when every character is in the default alphabet or its extension table, else
	 * UCS2 (in fact UTF-16, as every handset since the emoji reads it). */
	enum sms_coding coding;
	size_t chars;		/* Unicode characters (code points) */
	/* GSM7: septets, an extension-table character costs 2 (escape + character); UCS2:
	 * UTF-16 code units, a character above U+FFFF costs 2 (a surrogate pair). */
	size_t units;
	/* SMS parts: 1 if units fit SMS_GSM7_SINGLE / SMS_UCS2_SINGLE (an empty text is one
	 * empty SMS), else parts of SMS_GSM7_PART / SMS_UCS2_PART units filled in order, no
	 * part splitting an escape or surrogate pair: ceil(units / 153) or ceil(units / 67),
	 * or more when a pair would straddle a part boundary. */
	size_t segments;
};

/* Septets that one code point costs in GSM 7-bit: 1 in the default alphabet, 2 in the
 * extension table, 0 when it is in neither (the text then goes as UCS2). */
int gsm_septets(uint32_t cp);

/* The code point that default-alphabet code 0x00..0x7F stands for, or -1 for 0x1B (the escape
 * to the extension table) and codes above 0x7F. */
int32_t gsm_default_char(unsigned code);

/* The code point of extension-table code 0x00..0x7F (after an escape), or -1 where the table
 * has none (a handset shows the default-alphabet character there instead). */
int32_t gsm_extension_char(unsigned code);

/* Measures UTF-8 text s[0..len). Returns 0, or -EILSEQ when s is not valid UTF-8 (RFC 3629:
 * overlong forms and surrogates are invalid too); *m is then all zero (segments 0), so that
 * nobody sends a text that could not be measured. */
int sms_measure(const char *s, size_t len, struct sms_measure *m);

/* The longest USSD string in that coding, in units of struct sms_measure. */
size_t sms_ussd_limit(enum sms_coding c);

/* Whether a measured text fits one USSD screen (m->units against sms_ussd_limit()). */
bool sms_fits_ussd(const struct sms_measure *m);

/* Where each SMS part of s[0..len) starts, as byte offsets into s: starts[0] is 0 and the
 * offsets increase; part i is s[starts[i]..starts[i + 1]) and the last runs to len. A cut is
 * never inside a UTF-8 sequence, an escape pair or a surrogate pair. Parts are filled in order
 * as sms_measure() counts them, but a cut moves back to just after a space or newline when
 * that leaves at most SMS_SPLIT_SLACK units unused and costs no extra part, so that words stay
 * whole. Returns the number of parts, sms_measure()'s segments (1 for an empty text); -E2BIG
 * when that is more than maxparts, -EILSEQ for invalid UTF-8. */
int sms_cut(const char *s, size_t len, size_t *starts, size_t maxparts);

#endif
