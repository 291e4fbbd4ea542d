/* The Kannel box protocol's wire format (channel/boxproto.h): cutting frames out of the
 * stream, Msg round trips through libgw's packing, the packed Msgs that must be refused before
 * libgw's msg_unpack sees them (it would exit the process on some), the meta data lookup, URL
 * decoding and the USSD dial string. Every table row is one cmocka test (one TAP line). */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "channel/boxproto.h"
#include "core/gw.h"
#include "testlib.h"

/* gwlib/gwmem.h poisons malloc and free; the test's own buffers, sized to the byte so that
 * ASan sees any read past them, come from the C library. */
#undef malloc
#undef free

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Literal bytes: B("\0\0\0\1") is the 4 bytes, not a C string. */
#define B(lit) (const unsigned char *)(lit), sizeof(lit) - 1

static const char uuid_text[] = "6ba7b810-9dad-11d1-80b4-00c04fd430c8";

static long get_be32(const unsigned char *p)
{
	return (long)(int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
			       p[3]);
}

static void put32(unsigned char *p, int32_t v)
{
	uint32_t u = (uint32_t)v;

	p[0] = (unsigned char)(u >> 24);
	p[1] = (unsigned char)(u >> 16);
	p[2] = (unsigned char)(u >> 8);
	p[3] = (unsigned char)u;
}

/* A copy of src's n bytes in a buffer of exactly n bytes, for ASan to see any read past the
 * end; free() it. */
static void *copy_of(const void *src, size_t n)
{
	void *p = malloc(n);

	if (n > 0) {
		assert_non_null(p);
		memcpy(p, src, n);
	}
	return p;
}

/* The rows that cut a literal with a shorter length keep the rest of the literal in memory
 * after the cut, as a caller's buffer would: the function must not use it. */
static size_t avail(const char *s, size_t len)
{
	return strlen(s) > len ? strlen(s) : len;
}

/* ---- box_frame_peek -------------------------------------------------------------------- */

struct peek_case {
	const char *name;
	const unsigned char *buf;
	size_t len;
	size_t max;
	long want;
};

static const struct peek_case peek_cases[] = {
	{ "peek: nothing yet needs more", B(""), 4096, -EAGAIN },
	{ "peek: 1 byte of the header needs more", B("\0"), 4096, -EAGAIN },
	{ "peek: 3 bytes of the header need more", B("\0\0\0"), 4096, -EAGAIN },
	{ "peek: header alone, body of 3 missing, needs more", B("\0\0\0\3"), 4096, -EAGAIN },
	{ "peek: body incomplete (2 of 3 bytes) needs more", B("\0\0\0\3" "ab"), 4096, -EAGAIN },
	{ "peek: a whole frame gives its body length", B("\0\0\0\3" "abc"), 4096, 3 },
	{ "peek: a whole frame and the next one's first byte", B("\0\0\0\3" "abc" "\0"), 4096, 3 },
	{ "peek: the length is big-endian (256, body missing)", B("\0\0\1\0" "abc"), 4096,
	  -EAGAIN },
	{ "peek: the length is big-endian (256 > max 255)", B("\0\0\1\0"), 255, -EMSGSIZE },
	{ "peek: length exactly max, whole", B("\0\0\0\3" "abc"), 3, 3 },
	{ "peek: length exactly max, body incomplete", B("\0\0\0\3" "ab"), 3, -EAGAIN },
	{ "peek: length max+1 refused though the body is there", B("\0\0\0\3" "abc"), 2,
	  -EMSGSIZE },
	{ "peek: length max+1 refused from the header alone", B("\0\0\0\3"), 2, -EMSGSIZE },
	{ "peek: top bit set (0x80000000) refused, no max", B("\x80\0\0\0"), SIZE_MAX,
	  -EMSGSIZE },
	{ "peek: top bit set (0xffffffff, -1) refused, no max", B("\xff\xff\xff\xff"), SIZE_MAX,
	  -EMSGSIZE },
	{ "peek: top bit set (0x80000003) refused though 3 bytes follow", B("\x80\0\0\3" "abc"),
	  SIZE_MAX, -EMSGSIZE },
	{ "peek: 0x7fffffff with no max is only incomplete", B("\x7f\xff\xff\xff"), SIZE_MAX,
	  -EAGAIN },
	{ "peek: zero length is a whole (empty) frame", B("\0\0\0\0"), 4096, 0 },
	{ "peek: zero length with max 0", B("\0\0\0\0" "x"), 0, 0 },
};

static void test_peek(void **state)
{
	const struct peek_case *c = *state;
	unsigned char *copy = copy_of(c->buf, c->len);
	long got;

	got = box_frame_peek(copy, c->len, c->max);
	free(copy);
	assert_int_equal(got, c->want);
	if (got >= 0)
		assert_true((size_t)got + BOX_FRAME_HDR <= c->len);
}

/* ---- Msg round trips ------------------------------------------------------------------ */

static Octstr *os(const char *s)
{
	return octstr_create(s);
}

static void set_uuid(uuid_t id, const char *text)
{
	assert_int_equal(uuid_parse(text, id), 0);
}

/* An sms with every string field set (binary, empty, NUL inside) and every integer set to a
 * value of its own. */
static Msg *sms_full(void)
{
	Msg *m = msg_create(sms);

	m->sms.sender = os("+2348031234567");
	m->sms.receiver = os("384");
	m->sms.udhdata = octstr_create_from_data("\x05\x00\x03\x01\x02\x01", 6);
	m->sms.msgdata = os("*384*356938035643809#");
	m->sms.time = 1700000000;
	m->sms.smsc_id = os("smpp-mtn");
	m->sms.smsc_number = os("");
	m->sms.foreign_id = os("3f2a9c");
	m->sms.service = os("ceir");
	m->sms.account = os("acct");
	set_uuid(m->sms.id, uuid_text);
	m->sms.sms_type = mo;
	m->sms.mclass = 1;
	m->sms.mwi = 2;
	m->sms.coding = 3;
	m->sms.compress = 0;
	m->sms.validity = 1440;
	m->sms.deferred = -5;
	m->sms.dlr_mask = 31;
	m->sms.dlr_url = os("http://127.0.0.1/dlr?id=%i&st=%d");
	m->sms.pid = 0x41;
	m->sms.alt_dcs = 1;
	m->sms.rpi = 2;
	m->sms.charset = os("UTF-8");
	m->sms.boxc_id = os("ceirgw");
	m->sms.binfo = octstr_create_from_data("bill\0ing", 8);
	m->sms.msg_left = 7;
	m->sms.priority = 3;
	m->sms.resend_try = 4;
	m->sms.resend_time = 1700000001;
	m->sms.meta_data = os("?smpp?ussd_service_op=01&its_session_info=%00%01&");
	return m;
}

static Msg *mk_heartbeat_0(void)
{
	Msg *m = msg_create(heartbeat);

	m->heartbeat.load = 0;
	return m;
}

static Msg *mk_heartbeat_42(void)
{
	Msg *m = msg_create(heartbeat);

	m->heartbeat.load = 42;
	return m;
}

static Msg *mk_heartbeat_unset(void)
{
	return msg_create(heartbeat);	/* load MSG_PARAM_UNDEFINED, -1 */
}

static Msg *mk_admin_id(void)
{
	Msg *m = msg_create(admin);

	m->admin.command = cmd_identify;
	m->admin.boxc_id = os("ceirgw");
	return m;
}

static Msg *mk_admin_no_id(void)
{
	Msg *m = msg_create(admin);

	m->admin.command = cmd_shutdown;
	return m;
}

static Msg *mk_admin_empty_id(void)
{
	Msg *m = msg_create(admin);

	m->admin.command = cmd_restart;
	m->admin.boxc_id = os("");
	return m;
}

static Msg *mk_sms_full(void)
{
	return sms_full();
}

static Msg *mk_sms_uuid_bait(void)
{
	Msg *m = sms_full();

	m->sms.sms_type = 0x38000000;	/* '8' '\0' '\0' '\0' */
	return m;
}

static Msg *mk_sms_unset(void)
{
	return msg_create(sms);	/* every string NULL, every integer -1, a fresh id */
}

static Msg *mk_sms_no_meta(void)
{
	Msg *m = sms_full();

	octstr_destroy(m->sms.meta_data);
	m->sms.meta_data = NULL;
	return m;
}

static Msg *mk_sms_only_meta(void)
{
	Msg *m = msg_create(sms);

	m->sms.meta_data = os("?smpp?ussd_service_op=01&?http?x=%2B&");
	return m;
}

static Msg *mk_sms_empty_strings(void)
{
	Msg *m = msg_create(sms);

	m->sms.sender = os("");
	m->sms.receiver = os("");
	m->sms.msgdata = os("");
	m->sms.meta_data = os("");
	return m;
}

static Msg *mk_ack(void)
{
	Msg *m = msg_create(ack);

	m->ack.nack = ack_failed_tmp;
	m->ack.time = 1700000002;
	set_uuid(m->ack.id, uuid_text);
	return m;
}

static Msg *mk_ack_unset(void)
{
	return msg_create(ack);
}

static Msg *mk_wdp(void)
{
	Msg *m = msg_create(wdp_datagram);

	m->wdp_datagram.source_address = os("10.0.0.1");
	m->wdp_datagram.source_port = 9200;
	m->wdp_datagram.destination_port = 9201;
	m->wdp_datagram.user_data = octstr_create_from_data("\0\1\2", 3);
	return m;
}

struct trip_case {
	const char *name;
	Msg *(*make)(void);
	const unsigned char *frame;	/* the exact bytes expected, or NULL */
	size_t framelen;
};

static const struct trip_case trip_cases[] = {
	{ "msg: heartbeat load 0 round trip, exact bytes", mk_heartbeat_0,
	  B("\0\0\0\x08" "\0\0\0\0" "\0\0\0\0") },
	{ "msg: heartbeat load 42 round trip, exact bytes", mk_heartbeat_42,
	  B("\0\0\0\x08" "\0\0\0\0" "\0\0\0\x2a") },
	{ "msg: heartbeat load unset (-1) round trip, exact bytes", mk_heartbeat_unset,
	  B("\0\0\0\x08" "\0\0\0\0" "\xff\xff\xff\xff") },
	{ "msg: admin identify with boxc_id round trip, exact bytes", mk_admin_id,
	  B("\0\0\0\x12" "\0\0\0\1" "\0\0\0\3" "\0\0\0\6" "ceirgw") },
	{ "msg: admin without boxc_id round trip, exact bytes", mk_admin_no_id,
	  B("\0\0\0\x0c" "\0\0\0\1" "\0\0\0\0" "\xff\xff\xff\xff") },
	{ "msg: admin with empty boxc_id round trip, exact bytes", mk_admin_empty_id,
	  B("\0\0\0\x0c" "\0\0\0\1" "\0\0\0\4" "\0\0\0\0") },
	{ "msg: sms with every field set round trip", mk_sms_full, NULL, 0 },
	{ "msg: sms with every field unset round trip", mk_sms_unset, NULL, 0 },
	{ "msg: sms with all set but meta_data round trip", mk_sms_no_meta, NULL, 0 },
	{ "msg: sms with only meta_data set round trip", mk_sms_only_meta, NULL, 0 },
	{ "msg: sms with empty (not unset) strings round trip", mk_sms_empty_strings, NULL, 0 },
	{ "msg: ack round trip", mk_ack, NULL, 0 },
	{ "msg: ack with integers unset round trip", mk_ack_unset, NULL, 0 },
	{ "msg: wdp_datagram round trip", mk_wdp, NULL, 0 },
};

static void assert_octstr_same(const Octstr *a, const Octstr *b)
{
	if (a == NULL || b == NULL) {
		assert_ptr_equal(a, b);
		return;
	}
	assert_int_equal(octstr_len(a), octstr_len(b));
	assert_memory_equal(octstr_get_cstr(a), octstr_get_cstr(b), (size_t)octstr_len(a));
}

/* Every field the wire carries, from libgw's own list of them. */
static void assert_msg_same(Msg *a, Msg *b)
{
	assert_int_equal(msg_type(a), msg_type(b));
#define INTEGER(name) assert_int_equal(p->name, q->name);
#define OCTSTR(name) assert_octstr_same(p->name, q->name);
#define UUID(name) assert_memory_equal(p->name, q->name, sizeof(uuid_t));
#define VOID(name)
#define MSG(tp, stmt)								\
	case tp: {								\
		struct tp *p = &a->tp, *q = &b->tp;				\
		stmt								\
	} break;
	switch (msg_type(a)) {
#include "gw/msg-decl.h"
	default:
		fail();
	}
}

static void test_trip(void **state)
{
	const struct trip_case *c = *state;
	Msg *m = c->make(), *back;
	Octstr *frame = box_msg_frame(m), *again;
	const unsigned char *f;
	size_t flen;

	assert_non_null(frame);
	f = (const unsigned char *)octstr_get_cstr(frame);
	flen = (size_t)octstr_len(frame);
	if (c->frame != NULL) {
		assert_int_equal(flen, c->framelen);
		assert_memory_equal(f, c->frame, flen);
	}
	assert_int_equal(box_frame_peek(f, flen, 1 << 20), (long)(flen - BOX_FRAME_HDR));
	assert_int_equal(box_frame_peek(f, flen - 1, 1 << 20), -EAGAIN);
	back = box_msg_unpack(f + BOX_FRAME_HDR, flen - BOX_FRAME_HDR);
	assert_non_null(back);
	assert_msg_same(m, back);
	/* and the same bytes again */
	again = box_msg_frame(back);
	assert_non_null(again);
	assert_int_equal(octstr_compare(frame, again), 0);
	octstr_destroy(again);
	octstr_destroy(frame);
	msg_destroy(back);
	msg_destroy(m);
}

/* ---- packed Msgs that must be refused ---------------------------------------------------- */

struct bad_case {
	const char *name;
	const unsigned char *body;
	size_t len;
};

static const struct bad_case bad_cases[] = {
	{ "refuse: empty body", B("") },
	{ "refuse: 3 bytes, no whole type", B("\0\0\0") },
	{ "refuse: heartbeat type without its load", B("\0\0\0\0") },
	{ "refuse: heartbeat with half its load", B("\0\0\0\0" "\0\0") },
	{ "refuse: unknown type 5 (msg_type_count)", B("\0\0\0\5" "\0\0\0\0") },
	{ "refuse: unknown type 0x7fffffff", B("\x7f\xff\xff\xff" "\0\0\0\0") },
	{ "refuse: negative type -1", B("\xff\xff\xff\xff" "\0\0\0\0") },
	{ "refuse: negative type INT32_MIN", B("\x80\0\0\0" "\0\0\0\0") },
	{ "refuse: heartbeat with one trailing byte", B("\0\0\0\0" "\0\0\0\0" "\0") },
	{ "refuse: heartbeat with a trailing integer", B("\0\0\0\0" "\0\0\0\0" "\0\0\0\0") },
	{ "refuse: admin boxc_id length -2", B("\0\0\0\1" "\0\0\0\3" "\xff\xff\xff\xfe" "abc") },
	{ "refuse: admin boxc_id length INT32_MIN",
	  B("\0\0\0\1" "\0\0\0\3" "\x80\0\0\0" "abc") },
	{ "refuse: admin boxc_id length 0x7fffffff",
	  B("\0\0\0\1" "\0\0\0\3" "\x7f\xff\xff\xff" "abc") },
	{ "refuse: admin boxc_id length one past the end",
	  B("\0\0\0\1" "\0\0\0\3" "\0\0\0\4" "abc") },
	{ "refuse: admin boxc_id length one short (a trailing byte)",
	  B("\0\0\0\1" "\0\0\0\3" "\0\0\0\2" "abc") },
	{ "refuse: admin boxc_id unset but its bytes follow",
	  B("\0\0\0\1" "\0\0\0\3" "\xff\xff\xff\xff" "abc") },
	{ "refuse: admin without its boxc_id length", B("\0\0\0\1" "\0\0\0\3") },
	{ "refuse: ack UUID length 35",
	  B("\0\0\0\3" "\0\0\0\0" "\0\0\0\0" "\0\0\0\x23" "6ba7b810-9dad-11d1-80b4-00c04fd430c") },
	{ "refuse: ack UUID length 37",
	  B("\0\0\0\3" "\0\0\0\0" "\0\0\0\0" "\0\0\0\x25" "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
	    "0") },
	{ "refuse: ack UUID length 0", B("\0\0\0\3" "\0\0\0\0" "\0\0\0\0" "\0\0\0\0") },
	{ "refuse: ack UUID unset (-1), which libgw would read as a NULL string",
	  B("\0\0\0\3" "\0\0\0\0" "\0\0\0\0" "\xff\xff\xff\xff") },
	{ "refuse: ack UUID length -2",
	  B("\0\0\0\3" "\0\0\0\0" "\0\0\0\0" "\xff\xff\xff\xfe"
	    "6ba7b810-9dad-11d1-80b4-00c04fd430c8") },
	{ "refuse: ack UUID of 36 characters that is not a UUID",
	  B("\0\0\0\3" "\0\0\0\0" "\0\0\0\0" "\0\0\0\x24" "not-a-uuid-but-exactly-36-characters") },
	{ "refuse: ack UUID with a 'g' for a hex digit",
	  B("\0\0\0\3" "\0\0\0\0" "\0\0\0\0" "\0\0\0\x24" "gba7b810-9dad-11d1-80b4-00c04fd430c8") },
	{ "refuse: ack UUID with its dashes moved",
	  B("\0\0\0\3" "\0\0\0\0" "\0\0\0\0" "\0\0\0\x24" "6ba7b8109-dad-11d1-80b4-00c04fd430c8") },
	{ "refuse: ack UUID with a NUL for its last character",
	  B("\0\0\0\3" "\0\0\0\0" "\0\0\0\0" "\0\0\0\x24" "6ba7b810-9dad-11d1-80b4-00c04fd430c"
	    "\0") },
	{ "refuse: ack UUID with a byte above 0x7f for its last character",
	  B("\0\0\0\3" "\0\0\0\0" "\0\0\0\0" "\0\0\0\x24" "6ba7b810-9dad-11d1-80b4-00c04fd430c"
	    "\xe9") },
	{ "refuse: ack UUID 32 hex digits without dashes, padded with 4 more",
	  B("\0\0\0\3" "\0\0\0\0" "\0\0\0\0" "\0\0\0\x24" "6ba7b8109dad11d180b400c04fd430c80000") },
	{ "refuse: ack UUID with a trailing byte",
	  B("\0\0\0\3" "\0\0\0\0" "\0\0\0\0" "\0\0\0\x24" "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
	    "x") },
	{ "refuse: wdp_datagram cut in its user_data", B("\0\0\0\4" "\xff\xff\xff\xff"
	  "\0\0\0\0" "\xff\xff\xff\xff" "\0\0\0\0" "\0\0\0\5" "abc") },
};

/* libgw's log, in a file: msg_unpack logs an error for each packet it refuses, and the
 * refusals here must happen before it sees the bytes at all. */
static char gwlog[] = "/tmp/test_boxproto.XXXXXX";

static long gwlog_size(void)
{
	struct stat st;

	assert_int_equal(stat(gwlog, &st), 0);
	return (long)st.st_size;
}

/* The watch above works: libgw's own msg_unpack, handed a short heartbeat (one it refuses
 * without harm), does log. */
static void test_log_watch(void **state)
{
	Octstr *short_hb = octstr_create_from_data("\0\0\0\0\0\0", 6);
	long before = gwlog_size();
	Msg *m;

	(void)state;
	m = msg_unpack(short_hb);
	octstr_destroy(short_hb);
	assert_null(m);
	assert_true(gwlog_size() > before);
}

static void test_bad(void **state)
{
	const struct bad_case *c = *state;
	unsigned char *copy = copy_of(c->body, c->len);
	long before = gwlog_size();
	Msg *m;

	m = box_msg_unpack(copy, c->len);
	free(copy);
	assert_null(m);
	assert_int_equal(gwlog_size(), before);	/* refused before libgw's msg_unpack */
}

/* Accepted ack bodies, so that the refusals above are not refusals of everything. */
struct good_case {
	const char *name;
	const unsigned char *body;
	size_t len;
};

static const struct good_case good_cases[] = {
	{ "accept: ack with a lower-case UUID",
	  B("\0\0\0\3" "\0\0\0\1" "\0\0\0\2" "\0\0\0\x24" "6ba7b810-9dad-11d1-80b4-00c04fd430c8") },
	{ "accept: ack with an upper-case UUID",
	  B("\0\0\0\3" "\0\0\0\1" "\0\0\0\2" "\0\0\0\x24" "6BA7B810-9DAD-11D1-80B4-00C04FD430C8") },
	{ "accept: admin with boxc_id of 3 bytes", B("\0\0\0\1" "\0\0\0\3" "\0\0\0\3" "abc") },
	{ "accept: heartbeat with a negative load", B("\0\0\0\0" "\x80\0\0\0") },
};

static void test_good(void **state)
{
	const struct good_case *c = *state;
	Msg *m = box_msg_unpack(c->body, c->len);
	uuid_t id;

	assert_non_null(m);
	assert_int_equal(msg_type(m), get_be32(c->body));
	if (msg_type(m) == ack) {
		assert_int_equal(m->ack.nack, 1);
		assert_int_equal(m->ack.time, 2);
		set_uuid(id, uuid_text);
		assert_memory_equal(m->ack.id, id, sizeof(uuid_t));
	} else if (msg_type(m) == admin) {
		assert_int_equal(m->admin.command, 3);
		assert_octstr_same(m->admin.boxc_id, octstr_imm("abc"));
	} else if (msg_type(m) == heartbeat) {
		assert_int_equal(m->heartbeat.load, (long)INT32_MIN);
	}
	msg_destroy(m);
}

/* A valid body, packed by libgw (no frame header), to cut and patch. */
static Octstr *packed_body(Msg *(*make)(void))
{
	Msg *m = make();
	Octstr *frame = box_msg_frame(m);

	msg_destroy(m);
	assert_non_null(frame);
	octstr_delete(frame, 0, BOX_FRAME_HDR);
	return frame;
}

struct cut_case {
	const char *name;
	Msg *(*make)(void);
};

static const struct cut_case cut_cases[] = {
	{ "refuse: every prefix of an sms with every field set", mk_sms_full },
	{ "refuse: every prefix of an sms with every field unset", mk_sms_unset },
	{ "refuse: every prefix of an admin with boxc_id", mk_admin_id },
	{ "refuse: every prefix of an ack", mk_ack },
};

/* Each prefix of a valid body is refused, read from a buffer of exactly that size. */
static void test_truncated(void **state)
{
	const struct cut_case *c = *state;
	Octstr *body = packed_body(c->make);
	long before = gwlog_size();
	size_t len = (size_t)octstr_len(body), k;
	Msg *m;

	m = box_msg_unpack(octstr_get_cstr(body), len);
	assert_non_null(m);
	msg_destroy(m);
	for (k = 0; k < len; k++) {
		unsigned char *copy = copy_of(octstr_get_cstr(body), k);

		m = box_msg_unpack(copy, k);
		free(copy);
		if (m != NULL)
			fail_msg("a prefix of %zu of the %zu bytes was accepted", k, len);
	}
	assert_int_equal(gwlog_size(), before);	/* all refused before libgw's msg_unpack */
	octstr_destroy(body);
}

/* The full sms body with one field patched: where (sender's length, meta_data's length, the
 * id's text) and what goes there. */
enum where { AT_SENDER_LEN, AT_META_LEN, AT_UUID_TEXT, AT_UUID_LEN, AT_END };

struct patch_case {
	const char *name;
	enum where where;
	int32_t value;		/* a length; or the byte put in the UUID text */
	bool relative;		/* value is added to the field's true length */
	bool accept;
};

static const struct patch_case patch_cases[] = {
	{ "sms: unpatched body accepted", AT_SENDER_LEN, 0, true, true },
	{ "sms: sender length -2 refused", AT_SENDER_LEN, -2, false, false },
	{ "sms: sender length INT32_MIN refused", AT_SENDER_LEN, INT32_MIN, false, false },
	{ "sms: sender length 0x7fffffff refused", AT_SENDER_LEN, INT32_MAX, false, false },
	{ "sms: sender length -1 (unset) with its bytes left refused", AT_SENDER_LEN, -1, false,
	  false },
	{ "sms: meta_data length -2 refused", AT_META_LEN, -2, false, false },
	{ "sms: meta_data length INT32_MIN refused", AT_META_LEN, INT32_MIN, false, false },
	{ "sms: meta_data length one past the end refused", AT_META_LEN, 1, true, false },
	{ "sms: meta_data length one short (a trailing byte) refused", AT_META_LEN, -1, true,
	  false },
	{ "sms: meta_data length -1 (unset) with its bytes left refused", AT_META_LEN, -1, false,
	  false },
	{ "sms: id with a 'g' for a hex digit refused", AT_UUID_TEXT, 'g', false, false },
	{ "sms: id with a NUL for a hex digit refused", AT_UUID_TEXT, 0, false, false },
	{ "sms: id with an upper-case hex digit accepted", AT_UUID_TEXT, 'B', false, true },
	/* The bytes after the id are sms_type's, set to 0x38000000: its first byte is '8', the
	 * id's last character, so that 36 bytes read from a 35-byte id are a valid UUID text. */
	{ "sms: id length 35 (the next byte would complete it) refused", AT_UUID_LEN, 35, false,
	  false },
	{ "sms: id length 37 (a valid UUID and one more byte) refused", AT_UUID_LEN, 37, false,
	  false },
	{ "sms: one trailing byte refused", AT_END, 1, false, false },
	{ "sms: a trailing integer refused", AT_END, 4, false, false },
	{ "sms: a trailing empty string refused", AT_END, 8, false, false },
};

static void test_patch(void **state)
{
	const struct patch_case *c = *state;
	Octstr *body = packed_body(c->where == AT_UUID_LEN ? mk_sms_uuid_bait : mk_sms_full);
	size_t len, off;
	long before = gwlog_size();
	unsigned char *p;
	Msg *m;

	if (c->where == AT_END)
		octstr_append_data(body, "\0\0\0\0\0\0\0\0", c->value);
	if (c->where == AT_UUID_LEN) {
		Octstr *text = octstr_imm(uuid_text);
		long u = octstr_search(body, text, 0);
		unsigned char hdr[4];

		assert_true(u >= 4);
		assert_int_equal(get_be32((const unsigned char *)octstr_get_cstr(body) + u - 4), 36);
		assert_int_equal(octstr_get_char(body, u + 36), '8');
		put32(hdr, c->value);
		octstr_delete(body, u - 4, 4);
		octstr_insert_data(body, u - 4, (char *)hdr, 4);
		if (c->value < 36)
			octstr_delete(body, u + c->value, 36 - c->value);
		else
			octstr_insert_data(body, u + 36, "00000000", c->value - 36);
	}
	len = (size_t)octstr_len(body);
	p = malloc(len);
	assert_non_null(p);
	memcpy(p, octstr_get_cstr(body), len);
	switch (c->where) {
	case AT_SENDER_LEN:	/* the first field, after the type */
		off = 4;
		put32(p + off, c->relative ? (int32_t)strlen("+2348031234567") + c->value
					   : c->value);
		break;
	case AT_META_LEN: {	/* the last field */
		size_t mdlen = strlen("?smpp?ussd_service_op=01&its_session_info=%00%01&");

		off = len - mdlen - 4;
		assert_int_equal(get_be32(p + off), (long)mdlen);
		put32(p + off, c->relative ? (int32_t)mdlen + c->value : c->value);
		break;
	}
	case AT_UUID_TEXT: {
		unsigned char *u = NULL;

		for (off = 0; off + 36 <= len && u == NULL; off++) {
			if (memcmp(p + off, uuid_text, 36) == 0)
				u = p + off;
		}
		assert_non_null(u);
		assert_int_equal(u[1], 'b');
		u[1] = (unsigned char)c->value;
		break;
	}
	case AT_UUID_LEN:
	case AT_END:
		break;
	}
	m = box_msg_unpack(p, len);
	free(p);
	if (c->accept) {
		assert_non_null(m);
	} else {
		assert_null(m);
		assert_int_equal(gwlog_size(), before);	/* refused before libgw's msg_unpack */
	}
	msg_destroy(m);
	octstr_destroy(body);
}

/* Whatever the bytes, box_msg_unpack either refuses them or returns a Msg that packs back to
 * the very same bytes (every field's encoding is canonical but the UUID's letter case); what
 * it refuses, libgw's msg_unpack never saw. */
static void refused_or_same(const unsigned char *body, size_t len)
{
	long before = gwlog_size();
	Msg *m = box_msg_unpack(body, len);
	Octstr *frame;

	if (m == NULL) {
		assert_int_equal(gwlog_size(), before);	/* refused before libgw's msg_unpack */
		return;
	}
	frame = box_msg_frame(m);
	assert_non_null(frame);
	assert_int_equal((size_t)octstr_len(frame), len + BOX_FRAME_HDR);
	assert_memory_equal(octstr_get_cstr(frame) + BOX_FRAME_HDR, body, len);
	octstr_destroy(frame);
	msg_destroy(m);
}

/* Each byte of a valid sms body in turn set to one value. */
static void test_each_byte(void **state)
{
	unsigned char v = (unsigned char)(uintptr_t)*state;
	Octstr *body = packed_body(mk_sms_full);
	size_t len = (size_t)octstr_len(body), i;
	unsigned char *p = malloc(len);

	assert_non_null(p);
	for (i = 0; i < len; i++) {
		memcpy(p, octstr_get_cstr(body), len);
		p[i] = v;
		refused_or_same(p, len);
	}
	free(p);
	octstr_destroy(body);
}

/* Random bodies: a known type, then runs of integers and strings of random lengths, some of
 * them wrong. */
static void test_random(void **state)
{
	uint64_t rng = (uint64_t)(uintptr_t)*state;
	unsigned char buf[512];
	int round;

	for (round = 0; round < 20000; round++) {
		size_t len = 0, want = test_rng(&rng) % 64;

		put32(buf, (int32_t)(test_rng(&rng) % 6));
		len = 4;
		while (len + 4 <= sizeof(buf) && want-- > 0) {
			uint32_t r = test_rng(&rng);

			switch (r % 5) {
			case 0:	/* an integer */
				put32(buf + len, (int32_t)test_rng(&rng));
				len += 4;
				break;
			case 1:	/* unset string */
				put32(buf + len, -1);
				len += 4;
				break;
			case 2: {	/* a string that fits, or nearly */
				size_t n = test_rng(&rng) % 40;

				if (len + 4 + n > sizeof(buf))
					n = sizeof(buf) - len - 4;
				put32(buf + len, (int32_t)n + (int32_t)(test_rng(&rng) % 3) - 1);
				len += 4;
				memset(buf + len, 'a' + (int)(r % 26), n);
				len += n;
				break;
			}
			case 3:	/* a UUID */
				if (len + 4 + 36 <= sizeof(buf)) {
					put32(buf + len, 36);
					memcpy(buf + len + 4, uuid_text, 36);
					len += 40;
				}
				break;
			default:	/* a hostile length */
				put32(buf + len, (int32_t)test_rng(&rng) | INT32_MIN);
				len += 4;
				break;
			}
		}
		if (len > 4 && test_rng(&rng) % 4 == 0)
			len -= test_rng(&rng) % 4;	/* cut */
		{
			unsigned char *copy = copy_of(buf, len);

			refused_or_same(copy, len);
			free(copy);
		}
	}
}

/* ---- box_meta_find --------------------------------------------------------------------- */

struct meta_case {
	const char *name;
	const char *md;
	size_t mdlen;
	const char *group, *key;
	const char *want;	/* NULL: -ENOENT */
};

#define MD(s) s, sizeof(s) - 1

/* What Kannel writes: every pair followed by '&'. */
#define KANNEL_MD								\
	"?smpp?ussd_service_op=01&its_session_info=0A1B&dest_subaddr=%7E&"	\
	"?http?ussd_service_op=77&x=%2B1&"

static const struct meta_case meta_cases[] = {
	{ "meta: group first, key first", MD(KANNEL_MD), "smpp", "ussd_service_op", "01" },
	{ "meta: group first, key in the middle", MD(KANNEL_MD), "smpp", "its_session_info",
	  "0A1B" },
	{ "meta: group first, key last", MD(KANNEL_MD), "smpp", "dest_subaddr", "%7E" },
	{ "meta: group second, key first", MD(KANNEL_MD), "http", "ussd_service_op", "77" },
	{ "meta: group second, key last", MD(KANNEL_MD), "http", "x", "%2B1" },
	{ "meta: group absent", MD(KANNEL_MD), "sms", "ussd_service_op", NULL },
	{ "meta: group that is a prefix of one", MD(KANNEL_MD), "smp", "ussd_service_op", NULL },
	{ "meta: group that one is a prefix of", MD(KANNEL_MD), "smppx", "ussd_service_op",
	  NULL },
	{ "meta: key absent from its group, present in the other", MD(KANNEL_MD), "smpp", "x",
	  NULL },
	{ "meta: same key in an earlier group is skipped",
	  MD("?http?ussd_service_op=77&?smpp?ussd_service_op=01&"), "smpp", "ussd_service_op",
	  "01" },
	{ "meta: key without '&' or '?' after it, at the end",
	  MD("?smpp?a=1&b=2&c=3"), "smpp", "c", "3" },
	{ "meta: key last in its group before the next group without '&'",
	  MD("?smpp?a=1&c=3?http?c=4&"), "smpp", "c", "3" },
	{ "meta: key first, no trailing '&'", MD("?smpp?a=1&b=2&c=3?"), "smpp", "a", "1" },
	{ "meta: ussd_service_op after ussd_service_op_x",
	  MD("?smpp?ussd_service_op_x=9&ussd_service_op=01&"), "smpp", "ussd_service_op", "01" },
	{ "meta: ussd_service_op before ussd_service_op_x",
	  MD("?smpp?ussd_service_op=01&ussd_service_op_x=9&"), "smpp", "ussd_service_op", "01" },
	{ "meta: ussd_service_op_x found, not ussd_service_op",
	  MD("?smpp?ussd_service_op=01&ussd_service_op_x=9&"), "smpp", "ussd_service_op_x", "9" },
	{ "meta: only ussd_service_op_x there, ussd_service_op absent",
	  MD("?smpp?ussd_service_op_x=9&"), "smpp", "ussd_service_op", NULL },
	{ "meta: prefix of the key is not the key", MD("?smpp?ussd_service_op=01&"), "smpp",
	  "ussd_service", NULL },
	{ "meta: empty value", MD("?smpp?a=1&ussd_service_op=&b=2&"), "smpp", "ussd_service_op",
	  "" },
	{ "meta: empty value at the very end", MD("?smpp?ussd_service_op="), "smpp",
	  "ussd_service_op", "" },
	{ "meta: key without '=' is not found", MD("?smpp?ussd_service_op&b=2&"), "smpp",
	  "ussd_service_op", NULL },
	{ "meta: key found as a value is not the key", MD("?smpp?a=ussd_service_op&"), "smpp",
	  "ussd_service_op", NULL },
	{ "meta: value containing '='", MD("?smpp?k=a=b&"), "smpp", "k", "a=b" },
	{ "meta: value stays URL-encoded", MD("?smpp?its_session_info=%00%01+x&"), "smpp",
	  "its_session_info", "%00%01+x" },
	{ "meta: group with no pairs, then the group", MD("?smpp??http?k=v&"), "http", "k", "v" },
	{ "meta: empty meta data", MD(""), "smpp", "k", NULL },
	{ "meta: malformed, no leading '?'", MD("smpp?k=v&"), "smpp", "k", NULL },
	{ "meta: malformed, leading space", MD(" ?smpp?k=v&"), "smpp", "k", NULL },
	{ "meta: malformed, only '?'", MD("?"), "smpp", "k", NULL },
	{ "meta: malformed, unterminated group name", MD("?smpp"), "smpp", "k", NULL },
	{ "meta: malformed, unterminated group name after a group", MD("?a?x=1&?smpp"), "smpp",
	  "x", NULL },
	{ "meta: malformed, unterminated group name 'smpp?k=v' cut", MD("?smpp?k=v&?smp"),
	  "smp", "k", NULL },
	{ "meta: the length is honoured (value cut by mdlen)", "?smpp?k=12345&", 10, "smpp", "k",
	  "12" },
	{ "meta: the length is honoured (group cut by mdlen)", "?smpp?k=v&", 4, "smpp", "k",
	  NULL },
};

static void test_meta(void **state)
{
	const struct meta_case *c = *state;
	char *md = copy_of(c->md, avail(c->md, c->mdlen));	/* no NUL after it */
	const char *val = NULL;
	size_t vlen = 12345;
	int rc;

	rc = box_meta_find(md, c->mdlen, c->group, c->key, &val, &vlen);
	if (c->want == NULL) {
		assert_int_equal(rc, -ENOENT);
	} else {
		assert_int_equal(rc, 0);
		assert_true(val >= md && val + vlen <= md + c->mdlen);
		assert_int_equal(vlen, strlen(c->want));
		assert_memory_equal(val, c->want, vlen);
	}
	free(md);
}

/* ---- box_url_decode -------------------------------------------------------------------- */

struct url_case {
	const char *name;
	const char *in;
	size_t len;
	size_t outsz;
	int want;		/* length, or -errno */
	const char *out;	/* want bytes */
};

#define U(n, s, outsz, want, out) { n, s, sizeof(s) - 1, outsz, want, out }

static const struct url_case url_cases[] = {
	U("url: plain", "abc", 16, 3, "abc"),
	U("url: empty", "", 16, 0, ""),
	U("url: empty into no room", "", 0, 0, ""),
	U("url: '+' is a space", "a+b+", 16, 4, "a b "),
	U("url: %2B upper case", "%2B", 16, 1, "+"),
	U("url: %2b lower case", "%2b", 16, 1, "+"),
	U("url: %aF mixed case", "%aF", 16, 1, "\xaf"),
	U("url: %FF", "%FF", 16, 1, "\xff"),
	U("url: %20 and text", "a%20b", 16, 3, "a b"),
	U("url: escapes back to back", "%41%42%43", 16, 3, "ABC"),
	U("url: %25 is a literal %", "%2541", 16, 3, "%41"),
	U("url: %00 embedded", "a%00b", 16, 3, "a\0b"),
	U("url: % at the end", "ab%", 16, -EINVAL, NULL),
	U("url: % alone", "%", 16, -EINVAL, NULL),
	U("url: %x at the end", "ab%4", 16, -EINVAL, NULL),
	U("url: %zz", "%zz", 16, -EINVAL, NULL),
	U("url: %4z", "a%4z", 16, -EINVAL, NULL),
	U("url: %z4", "a%z4", 16, -EINVAL, NULL),
	U("url: %% then hex", "%%41", 16, -EINVAL, NULL),
	U("url: % then space", "% 1", 16, -EINVAL, NULL),
	U("url: exact fit", "abc", 3, 3, "abc"),
	U("url: exact fit with escapes", "%41+%42", 3, 3, "A B"),
	U("url: one byte too small", "abc", 2, -E2BIG, NULL),
	U("url: one byte too small with escapes", "%41%42", 1, -E2BIG, NULL),
	U("url: no room at all", "a", 0, -E2BIG, NULL),
	{ "url: escape cut by the length", "a%41", 3, 16, -EINVAL, NULL },
	{ "url: the length is honoured", "abcdef", 3, 16, 3, "abc" },
};

static void test_url(void **state)
{
	const struct url_case *c = *state;
	char *in = copy_of(c->in, avail(c->in, c->len));
	char out[32];
	size_t i;
	int rc;

	memset(out, 0xA5, sizeof(out));
	rc = box_url_decode(in, c->len, out, c->outsz);
	free(in);
	assert_int_equal(rc, c->want);
	if (rc >= 0)
		assert_memory_equal(out, c->out, (size_t)rc);
	for (i = c->outsz; i < sizeof(out); i++)
		assert_int_equal((unsigned char)out[i], 0xA5);	/* nothing past outsz */
}

/* ---- box_ussd_args --------------------------------------------------------------------- */

struct ussd_case {
	const char *name;
	const char *in;
	size_t len;
	const char *want;	/* "" for none */
};

#define D(n, s, want) { n, s, sizeof(s) - 1, want }

static const struct ussd_case ussd_cases[] = {
	D("ussd: *384# has none", "*384#", ""),
	D("ussd: *384*IMEI# gives the IMEI", "*384*356938035643809#", "356938035643809"),
	D("ussd: *384*1*2# gives 1*2", "*384*1*2#", "1*2"),
	D("ussd: 384 has none", "384", ""),
	D("ussd: empty has none", "", ""),
	D("ussd: * alone has none", "*", ""),
	D("ussd: # alone has none", "#", ""),
	D("ussd: *# has none", "*#", ""),
	D("ussd: *384* (no #) has none", "*384*", ""),
	D("ussd: **# has none", "**#", ""),
	D("ussd: text after # is not an argument", "*384*123#abc", "123"),
	D("ussd: a second dial after # is not an argument", "*384*123#*9#", "123"),
	D("ussd: * after # only has none", "*384#*5#", ""),
	D("ussd: no leading * has none", "384*5#", ""),
	{ "ussd: # beyond the length is not seen", "*384*12#", 7, "" },
};

static void test_ussd(void **state)
{
	const struct ussd_case *c = *state;
	char *in = copy_of(c->in, avail(c->in, c->len));
	const char *args = NULL;
	size_t alen = 12345;

	box_ussd_args(in, c->len, &args, &alen);
	assert_non_null(args);
	assert_int_equal(alen, strlen(c->want));
	if (alen > 0) {
		assert_true(args >= in && args + alen <= in + c->len);
		assert_memory_equal(args, c->want, alen);
	}
	free(in);
}

/* ---- main ------------------------------------------------------------------------------ */

static int setup_gw(void **state)
{
	int fd = mkstemp(gwlog);

	(void)state;
	if (fd < 0)
		return -1;
	close(fd);
	gw_start();
	log_set_output_level(GW_PANIC);	/* nothing on stderr; the file gets warnings up */
	return gw_log_to(gwlog) == 0 ? 0 : -1;
}

static int teardown_gw(void **state)
{
	(void)state;
	gw_stop();
	unlink(gwlog);
	return 0;
}

#define ROW(cases, i, fn) \
	((struct CMUnitTest){ .name = (cases)[i].name, .test_func = (fn), \
			      .initial_state = (void *)&(cases)[i] })

#define NTESTS (N(peek_cases) + N(trip_cases) + N(bad_cases) + N(good_cases) + N(patch_cases) + \
		N(cut_cases) + N(meta_cases) + N(url_cases) + N(ussd_cases) + 16)

int main(void)
{
	static const uintptr_t seeds[] = { 0x9E3779B9u, 20240101u, 4242u };
	struct CMUnitTest tests[NTESTS];
	size_t i, n = 0;

	for (i = 0; i < N(peek_cases); i++)
		tests[n++] = ROW(peek_cases, i, test_peek);
	for (i = 0; i < N(trip_cases); i++)
		tests[n++] = ROW(trip_cases, i, test_trip);
	tests[n++] = (struct CMUnitTest){ "refuse: libgw's msg_unpack logs what it refuses",
					  test_log_watch, NULL, NULL, NULL };
	for (i = 0; i < N(bad_cases); i++)
		tests[n++] = ROW(bad_cases, i, test_bad);
	for (i = 0; i < N(good_cases); i++)
		tests[n++] = ROW(good_cases, i, test_good);
	for (i = 0; i < N(cut_cases); i++)
		tests[n++] = ROW(cut_cases, i, test_truncated);
	for (i = 0; i < N(patch_cases); i++)
		tests[n++] = ROW(patch_cases, i, test_patch);
	tests[n++] = (struct CMUnitTest){ "mutate: each sms byte set to 0x00: refused or the same",
					  test_each_byte, NULL, NULL, (void *)(uintptr_t)0x00 };
	tests[n++] = (struct CMUnitTest){ "mutate: each sms byte set to 0x7f: refused or the same",
					  test_each_byte, NULL, NULL, (void *)(uintptr_t)0x7f };
	tests[n++] = (struct CMUnitTest){ "mutate: each sms byte set to 0xff: refused or the same",
					  test_each_byte, NULL, NULL, (void *)(uintptr_t)0xff };
	for (i = 0; i < N(seeds); i++)
		tests[n++] = (struct CMUnitTest){
			i == 0 ? "random: 20000 bodies refused or the same (seed 0)"
			: i == 1 ? "random: 20000 bodies refused or the same (seed 1)"
				 : "random: 20000 bodies refused or the same (seed 2)",
			test_random, NULL, NULL, (void *)seeds[i] };
	for (i = 0; i < N(meta_cases); i++)
		tests[n++] = ROW(meta_cases, i, test_meta);
	for (i = 0; i < N(url_cases); i++)
		tests[n++] = ROW(url_cases, i, test_url);
	for (i = 0; i < N(ussd_cases); i++)
		tests[n++] = ROW(ussd_cases, i, test_ussd);
	return _cmocka_run_group_tests("boxproto", tests, n, setup_gw, teardown_gw);
}
