/* libFuzzer harness for what ceirgw reads from bearerbox (channel/boxproto.h): the byte
 * stream cut into frames, each frame through libgw's msg_unpack, and an sms Msg's meta data
 * through the USSD TLV lookup. Besides crashes it checks the promises: a frame is never read
 * past its end, a Msg that unpacked packs and unpacks again to the same type, a found meta
 * value lies inside the meta data, and URL decoding never writes past its buffer. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzlib.h"

#include "channel/boxproto.h"
#include "core/gw.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	gw_start();
	log_set_output_level(GW_PANIC);	/* libgw reports every bad packet */
	return 0;
}

static void meta(const char *md, size_t len)
{
	static const char *const keys[] = { "ussd_service_op", "its_session_info", "" };
	char out[64];
	const char *v;
	size_t vlen;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (box_meta_find(md, len, "smpp", keys[i], &v, &vlen) == 0) {
			CHECK(v >= md && v + vlen <= md + len);
			int n = box_url_decode(v, vlen, out, sizeof(out));

			CHECK(n == -EINVAL || n == -E2BIG || (n >= 0 && (size_t)n <= vlen &&
							      (size_t)n <= sizeof(out)));
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;
	const char *args;
	size_t alen;

	/* The whole input as meta data and as a dial string too. */
	meta((const char *)data, size);
	box_ussd_args((const char *)data, size, &args, &alen);
	CHECK(alen == 0 || (args >= (const char *)data && args + alen <= (const char *)data + size));

	while (off < size) {
		long n = box_frame_peek(data + off, size - off, 4096);
		Msg *m, *again;
		Octstr *frame;

		if (n < 0)
			break;
		CHECK(off + BOX_FRAME_HDR + (size_t)n <= size);
		m = box_msg_unpack(data + off + BOX_FRAME_HDR, (size_t)n);
		off += BOX_FRAME_HDR + (size_t)n;
		if (m == NULL)
			continue;
		if (msg_type(m) == sms && m->sms.meta_data)
			meta(octstr_get_cstr(m->sms.meta_data), (size_t)octstr_len(m->sms.meta_data));
		frame = box_msg_frame(m);
		CHECK(frame != NULL);
		CHECK(box_frame_peek((const unsigned char *)octstr_get_cstr(frame),
				     (size_t)octstr_len(frame), 1 << 24) ==
		      octstr_len(frame) - BOX_FRAME_HDR);
		again = box_msg_unpack(octstr_get_cstr(frame) + BOX_FRAME_HDR,
				       (size_t)octstr_len(frame) - BOX_FRAME_HDR);
		CHECK(again != NULL && msg_type(again) == msg_type(m));
		msg_destroy(again);
		octstr_destroy(frame);
		msg_destroy(m);
	}
	return 0;
}
