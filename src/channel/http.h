/* The HTTP/1.1 server (RFC 9112) the USSD and SMS callbacks, the JSON API and /healthz are
 * served by: our own connection handling on raw libevent events, with Debian's http_parser
 * for the grammar and our own checks on top of it against request smuggling (doc/http.md).
 * One request at a time per connection, every resource a client can make us hold bounded. */
#ifndef CEIRGW_CHANNEL_HTTP_H
#define CEIRGW_CHANNEL_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/config.h"	/* struct config_allow */

struct event_base;
struct json_buf;
struct sockaddr;

struct http_server;
struct http_req;

/* What a client may hold. Timeouts in seconds. */
struct http_limits {
	unsigned max_connections;	/* beyond it a new connection is answered 503, closed */
	unsigned request_timeout;	/* from a request's first byte to its last, in total */
	unsigned idle_timeout;		/* a kept-alive connection waiting for its next request */
	/* The callers the USSD and SMS callbacks serve (http-allow-ip): a quarter of
	 * max_connections is kept for them, so that nobody else (the API's and /healthz's
	 * public) can fill every slot, and each other address may hold at most
	 * max_per_address connections (an IPv6 address counts by its /64). */
	struct config_allow trusted;
	unsigned max_per_address;
};

/* Listens on host:port. Returns a talloc child of ctx (freeing it closes the server and every
 * connection) or NULL with a reason in err. */
struct http_server *http_server_create(void *ctx, struct event_base *base, const char *host,
				       int port, const struct http_limits *lim, char *err,
				       size_t errsz);

/* New limits (a reload): they apply to connections from their next state on. */
void http_server_set_limits(struct http_server *hs, const struct http_limits *lim);

/* A handler owns req until it replies: exactly once, now or later (an http_reply_* call). */
typedef void (*http_handler)(struct http_req *req, void *arg);

/* Requests for path (exactly, the query aside), or for every path that starts with it when
 * prefix is true, go to cb. Returns 0 or -ENOSPC (eight routes at most). Others get 404. */
int http_server_route(struct http_server *hs, const char *path, bool prefix, http_handler cb,
		      void *arg);

/* The same, and each reply is counted in ceirgw_requests_total with channel (core/metrics.h:
 * MC_*) and the result its status says (metric_result_of_status). */
int http_server_route_counted(struct http_server *hs, const char *path, bool prefix,
			      http_handler cb, void *arg, int channel);

/* Serves an already connected socket as if accepted (tests and the fuzzer: a socketpair),
 * peer naming the client. Returns 0 or -errno; the server closes fd in every case. */
int http_server_adopt(struct http_server *hs, int fd, const struct sockaddr *peer,
		      size_t peerlen);

struct http_server_stats {
	unsigned long long accepted, requests, refused_cap, bad_requests, timeouts;
	unsigned long long refused_address;	/* of refused_cap: over max_per_address */
	unsigned connections;
};
const struct http_server_stats *http_server_stats(const struct http_server *hs);

/* ---- a request ------------------------------------------------------------------------- */

enum http_req_method { HTTP_REQ_GET = 1, HTTP_REQ_HEAD = 2, HTTP_REQ_POST = 4 };

enum http_req_method http_req_method(const struct http_req *req);
/* The path as sent (still percent-encoded), NUL-terminated; len may be NULL. */
const char *http_req_path(const struct http_req *req, size_t *len);
/* The query without its '?', "" when none; NUL-terminated. */
const char *http_req_query(const struct http_req *req, size_t *len);
/* The first header of that name (any case), NUL-terminated, or NULL. */
const char *http_req_header(const struct http_req *req, const char *name);
/* The body (Content-Length bytes; may hold NULs), len 0 when none. */
const char *http_req_body(const struct http_req *req, size_t *len);
/* The client's address for logs and the allow-list: "192.0.2.1", "2001:db8::1". */
const char *http_req_peer(const struct http_req *req);

/* Whether the client's address is on the list (config.h's http-allow-ip). */
bool http_req_allowed(const struct http_req *req, const struct config_allow *allow);

/* Whether the request carries token, as X-Ceirgw-Token or as the query's token= (the form
 * Kannel's get-url and aggregators' callback URLs can send); compared in constant time. A
 * NULL or empty token requires nothing. */
bool http_req_token_ok(const struct http_req *req, const char *token);

/* The caller checks of /ussd and /sms: allowed address, then token. Returns 0 or -EACCES,
 * having logged one line naming the peer and what failed (never the token). */
int http_req_authorize(const struct http_req *req, const struct config_allow *allow,
		       const char *token);

/* ---- forms ----------------------------------------------------------------------------- */

#define HTTP_FORM_FIELDS 32
#define HTTP_FORM_NAME_MAX 64
#define HTTP_FORM_VALUE_MAX 8192

struct http_field {
	const char *name, *value;	/* decoded, NUL-terminated */
	size_t nlen, vlen;
};
struct http_form {
	size_t n;
	struct http_field f[HTTP_FORM_FIELDS];
};

/* The fields of a POST (application/x-www-form-urlencoded body) or of a GET's query,
 * percent- and '+'-decoded into memory of req. Returns 0, or -EINVAL with why set to a short
 * text for the client: a pair without '=', an empty name, a decoded NUL (%00) (refused rather
 * than cut), more fields or longer names or values than the limits above. */
int http_form_parse(struct http_req *req, struct http_form *out, const char **why);
/* Parses s[0..len) (a query or body) the same way; the decoded text is a talloc child of ctx. */
int http_form_parse_str(void *ctx, const char *s, size_t len, struct http_form *out,
			const char **why);
/* Percent-decodes s[0..len) into out (room for len + 1 bytes; NUL-terminated), '+' as a
 * space when plus (forms) and as itself otherwise (paths). Returns the decoded length, or
 * -EINVAL for a decoded NUL (%00). */
ssize_t http_uri_decode(const char *s, size_t len, bool plus, char *out);

/* The first field of that name, or NULL. */
const char *http_form_get(const struct http_form *f, const char *name);

/* ---- replies: each ends the request (req is freed; a no-op when the client is gone) ---- */

/* Adds a header to the reply to come. name and value must hold no CR or LF. Returns 0 or
 * -EINVAL/-ENOMEM. */
int http_reply_header(struct http_req *req, const char *name, const char *value);

/* Sends code with body as ctype; Cache-Control: no-store unless the handler added its own
 * (http_reply_header). HEAD gets the headers only. */
void http_reply(struct http_req *req, int code, const char *reason, const char *ctype,
		const void *body, size_t len);
/* text/plain; charset=utf-8 */
void http_reply_text(struct http_req *req, int code, const char *reason, const char *text,
		     size_t len);
#define http_reply_lit(req, code, reason, lit) \
	http_reply_text(req, code, reason, lit, sizeof(lit) - 1)
/* application/json: the buffer's JSON and a newline. */
void http_reply_json(struct http_req *req, int code, const char *reason,
		     const struct json_buf *jb);
/* A JSON error object {"status", "error": reason, "message"}. */
void http_reply_error(struct http_req *req, int code, const char *reason, const char *message);

#endif
