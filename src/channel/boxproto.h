/* The Kannel box protocol's wire format, apart from any connection: what bearerbox and its
 * boxes (smsbox, wapbox, ceirgw) send each other over the smsbox-port. Each frame is a 4-byte
 * length in network order, then a Msg packed with libgw's msg_pack() (gw/msg-decl.h lists
 * the fields). Everything here takes bytes from the network and trusts none of them. */
#ifndef CEIRGW_CHANNEL_BOXPROTO_H
#define CEIRGW_CHANNEL_BOXPROTO_H

#include <stdbool.h>
#include <stddef.h>

#include "gwlib/gwlib.h"
#include "gw/msg.h"

#define BOX_FRAME_HDR 4

/* Looks at the first len bytes of the stream: the body length of the frame that starts at
 * buf when all of it (header and body) is there; -EAGAIN when more bytes are needed;
 * -EMSGSIZE when the header announces more than max bytes, or a negative length. */
long box_frame_peek(const unsigned char *buf, size_t len, size_t max);

/* The Msg of one frame's body, or NULL when the bytes are not a well-formed packed Msg:
 * checked field by field before libgw's msg_unpack sees them, which would panic on some. */
Msg *box_msg_unpack(const void *body, size_t len);

/* msg packed and framed, ready to write; NULL when msg_pack() fails. */
Octstr *box_msg_frame(Msg *msg);

/* Kannel's meta data (gw/meta_data.h): "?group?key=value&key=value?group2?...", keys and
 * values URL-encoded. Finds key in group and sets *val and *vlen to its value as it is written
 * (still URL-encoded: what goes back unchanged in an MT). Returns 0, or -ENOENT. */
int box_meta_find(const char *md, size_t mdlen, const char *group, const char *key,
		  const char **val, size_t *vlen);

/* URL-decodes s[0..len) ('+' is a space, %XX a byte) into out. Returns the decoded length,
 * -EINVAL for a bad escape, -E2BIG when out is too small. */
int box_url_decode(const char *s, size_t len, char *out, size_t outsz);

/* The number an integer TLV carries in meta data (val[0..vlen), still URL-encoded). Kannel
 * 1.4.5 passes TLVs it knows as deliver_sm fields (ussd_service_op, its_session_info) as
 * their raw octets, whatever type the smpp-tlv group declares: read big-endian, 1 to 4 of
 * them. With decimal, a value of ASCII digits only is read as a decimal number instead (an
 * smpp-tlv of type integer, as other versions give it). Returns the value, or -EINVAL. */
long long box_tlv_int(const char *val, size_t vlen, bool decimal);

/* The meta data value of an integer TLV for an MT: width octets, big-endian and URL-encoded
 * (%02%01) for an smpp-tlv of type octetstring, or decimal for type integer. Returns the
 * length written (NUL-terminated) or -E2BIG. */
int box_tlv_format(unsigned long v, size_t width, bool octets, char *out, size_t outsz);

/* The USSD string a dial carries (star 384 star ARG hash) to the arguments after the service
 * code ("35693803564380"); none for "*384#" or anything that is not a dial string. */
void box_ussd_args(const char *s, size_t len, const char **args, size_t *alen);

#endif
