/* The box protocol's frames and meta data (boxproto.h). */
#include "channel/boxproto.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/hex.h"

long box_frame_peek(const unsigned char *buf, size_t len, size_t max)
{
	unsigned long n;

	if (len < BOX_FRAME_HDR)
		return -EAGAIN;
	n = (unsigned long)buf[0] << 24 | (unsigned long)buf[1] << 16 |
	    (unsigned long)buf[2] << 8 | buf[3];
	/* libgw writes a signed 32-bit length: the top bit set is garbage, not a huge frame. */
	if (n > max || n > 0x7fffffffUL)
		return -EMSGSIZE;
	if (len - BOX_FRAME_HDR < n)
		return -EAGAIN;
	return (long)n;
}

/* The fields of each Msg type, in packing order, from libgw's own declaration (the file
 * msg.h builds struct msg and the enum of types from), so that the two cannot drift apart. */
enum field_kind { FK_INT = 1, FK_OCT, FK_UUID };

#define MSG(type, fields) static const unsigned char fields_##type[] = fields;
#define INTEGER(name) FK_INT,
#define OCTSTR(name) FK_OCT,
#define UUID(name) FK_UUID,
#define VOID(name)
#include "gw/msg-decl.h"

static const struct {
	const unsigned char *kinds;
	size_t n;
} layouts[] = {
#define MSG(type, fields) { fields_##type, sizeof(fields_##type) },
#define INTEGER(name)
#define OCTSTR(name)
#define UUID(name)
#define VOID(name)
#include "gw/msg-decl.h"
};

static long get32(const unsigned char *p)
{
	uint32_t v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];

	return (long)(int32_t)v;
}

/* Whether body is a well-formed packed Msg: a known type, then each field of that type as
 * msg_pack writes it (a 4-byte integer; a string as a 4-byte length, -1 for none, and its
 * bytes; a UUID as its 36-character text), and nothing after. libgw's msg_unpack trusts the
 * lengths it reads and panics (exits) on some negative ones: hostile bytes must never reach
 * it. */
static bool well_formed(const unsigned char *p, size_t len)
{
	size_t off = 4, i;
	long type;

	if (len < 4)
		return false;
	type = get32(p);
	if (type < 0 || (size_t)type >= sizeof(layouts) / sizeof(layouts[0]))
		return false;
	for (i = 0; i < layouts[type].n; i++) {
		long n;

		if (len - off < 4)
			return false;
		if (layouts[type].kinds[i] == FK_INT) {
			off += 4;
			continue;
		}
		n = get32(p + off);
		off += 4;
		if (layouts[type].kinds[i] == FK_OCT && n == -1)
			continue;
		if (n < 0 || (size_t)n > len - off)
			return false;
		if (layouts[type].kinds[i] == FK_UUID) {
			char text[UUID_STR_LEN + 1];
			uuid_t id;

			if (n != UUID_STR_LEN)
				return false;
			memcpy(text, p + off, UUID_STR_LEN);
			text[UUID_STR_LEN] = '\0';
			if (uuid_parse(text, id) != 0)
				return false;
		}
		off += (size_t)n;
	}
	return off == len;
}

Msg *box_msg_unpack(const void *body, size_t len)
{
	Octstr *os;
	Msg *m;

	if (len > 0x7fffffff || !well_formed(body, len))
		return NULL;
	os = octstr_create_from_data(body, (long)len);
	if (os == NULL)
		return NULL;
	m = msg_unpack_wrapper(os);
	octstr_destroy(os);
	return m;
}

Octstr *box_msg_frame(Msg *msg)
{
	Octstr *body = msg_pack(msg), *frame;
	unsigned char hdr[BOX_FRAME_HDR];
	long n;

	if (body == NULL)
		return NULL;
	n = octstr_len(body);
	hdr[0] = (unsigned char)(n >> 24);
	hdr[1] = (unsigned char)(n >> 16);
	hdr[2] = (unsigned char)(n >> 8);
	hdr[3] = (unsigned char)n;
	frame = octstr_create_from_data((char *)hdr, BOX_FRAME_HDR);
	octstr_append(frame, body);
	octstr_destroy(body);
	return frame;
}

int box_meta_find(const char *md, size_t mdlen, const char *group, const char *key,
		  const char **val, size_t *vlen)
{
	size_t glen = strlen(group), klen = strlen(key), i = 0;

	while (i < mdlen) {
		size_t gstart, gend, end;

		/* "?group?" */
		if (md[i] != '?')
			return -ENOENT;
		gstart = ++i;
		while (i < mdlen && md[i] != '?')
			i++;
		if (i >= mdlen)
			return -ENOENT;
		gend = i++;
		end = i;
		while (end < mdlen && md[end] != '?')
			end++;
		if (gend - gstart == glen && memcmp(md + gstart, group, glen) == 0) {
			/* key=value pairs up to the next group */
			while (i < end) {
				size_t p = i, eq;

				while (p < end && md[p] != '&')
					p++;
				eq = i;
				while (eq < p && md[eq] != '=')
					eq++;
				if (eq < p && eq - i == klen && memcmp(md + i, key, klen) == 0) {
					*val = md + eq + 1;
					*vlen = p - eq - 1;
					return 0;
				}
				i = p + 1;
			}
		}
		i = end;
	}
	return -ENOENT;
}

int box_url_decode(const char *s, size_t len, char *out, size_t outsz)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		int c = (unsigned char)s[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= len || (hi = hex_value(s[i + 1])) < 0 ||
			    (lo = hex_value(s[i + 2])) < 0)
				return -EINVAL;
			c = hi << 4 | lo;
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		if (n >= outsz)
			return -E2BIG;
		out[n++] = (char)c;
	}
	return (int)n;
}

void box_ussd_args(const char *s, size_t len, const char **args, size_t *alen)
{
	const char *star, *hash;

	*args = "";
	*alen = 0;
	if (len < 2 || s[0] != '*')
		return;
	star = memchr(s + 1, '*', len - 1);
	hash = memchr(s + 1, '#', len - 1);
	if (star == NULL || hash == NULL || hash < star)
		return;
	*args = star + 1;
	*alen = (size_t)(hash - star - 1);
}

long long box_tlv_int(const char *val, size_t vlen, bool decimal)
{
	char raw[16];
	int n = box_url_decode(val, vlen, raw, sizeof(raw));
	long long v = 0;
	bool digits = n > 0;

	if (n <= 0)
		return -EINVAL;
	for (int i = 0; i < n && digits; i++)
		digits = raw[i] >= '0' && raw[i] <= '9';
	if (decimal && digits && n <= 10) {
		for (int i = 0; i < n; i++)
			v = v * 10 + (raw[i] - '0');
		return v <= 0xffffffffLL ? v : -EINVAL;
	}
	if (n > 4)
		return -EINVAL;
	for (int i = 0; i < n; i++)
		v = v << 8 | (unsigned char)raw[i];
	return v;
}

int box_tlv_format(unsigned long v, size_t width, bool octets, char *out, size_t outsz)
{
	int n;

	if (!octets) {
		n = snprintf(out, outsz, "%lu", v);
		return n < 0 || (size_t)n >= outsz ? -E2BIG : n;
	}
	if (width == 0 || width > 4 || outsz < 3 * width + 1)
		return -E2BIG;
	for (size_t i = 0; i < width; i++)
		snprintf(out + 3 * i, 4, "%%%02X", (unsigned)(v >> (8 * (width - 1 - i))) & 0xff);
	return (int)(3 * width);
}
