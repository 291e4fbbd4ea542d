/* libFuzzer harness for the SMS/USSD text measure and split (gsm.h: 3GPP TS 23.038 alphabets,
 * TS 23.040 concatenated parts). Besides crashes it checks what the header promises: segments
 * that agree with units, parts that cover the text, no cut inside a character or a pair. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzlib.h"

#include "core/utf8.h"
#include "domain/gsm.h"

#define MAXPARTS 64

static size_t ceil_div(size_t a, size_t b)
{
	return (a + b - 1) / b;
}

/* Independent of gsm.c's packing: the coding, characters and units from gsm_septets() alone. */
static int reference(const uint8_t *s, size_t len, struct sms_measure *m)
{
	size_t pos = 0, used, septets = 0, utf16 = 0;
	int32_t cp;
	int n;
	int gsm = 1;

	memset(m, 0, sizeof(*m));
	while (pos < len) {
		cp = utf8_decode(s + pos, len - pos, &used);
		if (cp < 0)
			return -EILSEQ;
		n = gsm_septets((uint32_t)cp);
		gsm &= n > 0;
		septets += (size_t)n;
		utf16 += cp > 0xFFFF ? 2 : 1;
		m->chars++;
		pos += used;
	}
	m->coding = gsm ? SMS_GSM7 : SMS_UCS2;
	m->units = gsm ? septets : utf16;
	return 0;
}

static void check_measure(const uint8_t *s, size_t len, const struct sms_measure *m)
{
	struct sms_measure ref;
	size_t single, part;

	CHECK(reference(s, len, &ref) == 0);
	CHECK(m->coding == ref.coding);
	CHECK(m->chars == ref.chars);
	CHECK(m->units == ref.units);
	CHECK(m->chars <= len);
	CHECK(m->units >= m->chars && m->units <= 2 * m->chars);
	single = m->coding == SMS_GSM7 ? SMS_GSM7_SINGLE : SMS_UCS2_SINGLE;
	part = m->coding == SMS_GSM7 ? SMS_GSM7_PART : SMS_UCS2_PART;
	if (m->units <= single) {
		CHECK(m->segments == 1);
	} else {
		/* A pair that would straddle a cut costs its part one unit at most. */
		CHECK(m->segments >= ceil_div(m->units, part));
		CHECK(m->segments <= ceil_div(m->units, part - 1));
	}
	CHECK(sms_fits_ussd(m) == (m->units <= sms_ussd_limit(m->coding)));
}

static void check_split(const uint8_t *s, size_t len, const struct sms_measure *m,
			const size_t *starts, int nparts)
{
	struct sms_measure p;
	size_t i, from, to, sum = 0, units, cap;
	const char *c = (const char *)s;

	CHECK(nparts >= 1 && (size_t)nparts == m->segments);
	CHECK(starts[0] == 0);
	if (nparts == 1)
		cap = m->coding == SMS_GSM7 ? SMS_GSM7_SINGLE : SMS_UCS2_SINGLE;
	else
		cap = m->coding == SMS_GSM7 ? SMS_GSM7_PART : SMS_UCS2_PART;
	for (i = 0; i < (size_t)nparts; i++) {
		from = starts[i];
		to = i + 1 < (size_t)nparts ? starts[i + 1] : len;
		CHECK(from < to || (len == 0 && nparts == 1));
		CHECK(to <= len);
		/* Never inside a UTF-8 sequence: a part starts on a lead byte. */
		CHECK(from == len || (s[from] & 0xC0) != 0x80);
		/* Each part is valid UTF-8 on its own, so no surrogate or escape pair is cut. */
		CHECK(sms_measure(c + from, to - from, &p) == 0);
		units = p.coding == m->coding ? p.units : p.chars;
		CHECK(units <= cap);
		sum += units;
	}
	/* The parts together are the text: their units add up to the whole. */
	CHECK(sum == m->units);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct sms_measure m, ref;
	size_t starts[MAXPARTS];
	int rc, rs;

	rc = sms_measure(s, size, &m);
	CHECK(rc == reference(data, size, &ref));
	rs = sms_cut(s, size, starts, MAXPARTS);
	if (rc < 0) {
		CHECK(rc == -EILSEQ);
		CHECK(m.segments == 0 && m.units == 0 && m.chars == 0);
		CHECK(rs == -EILSEQ);
		return 0;
	}
	check_measure(data, size, &m);
	if (m.segments > MAXPARTS) {
		CHECK(rs == -E2BIG);
		return 0;
	}
	check_split(data, size, &m, starts, rs);
	/* One part fewer than needed is refused. */
	CHECK(sms_cut(s, size, starts, m.segments - 1) == -E2BIG);
	return 0;
}
