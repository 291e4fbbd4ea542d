/* The Kannel box protocol's wire format, apart from any connection: what bearerbox and its
 * boxes (smsbox, wapbox, ceirgw) send each other over the smsbox-port. Each frame is a 4-byte
 * length in network order, then a Msg packed with libgw's msg_pack() (gw/msg-decl.h lists
 * the fields). Everything here takes bytes from the network and trusts none of them. */
#ifndef CEIRGW_CHANNEL_BOXPROTO_H
#define CEIRGW_CHANNEL_BOXPROTO_H

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

/* The USSD string a dial carries (star 384 star ARG hash) to the arguments after the service
 * code ("35693803564380"); none for "*384#" or anything that is not a dial string. */
void box_ussd_args(const char *s, size_t len, const char **args, size_t *alen);

#endif
