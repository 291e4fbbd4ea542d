/* The HTTP server (libevent evhttp) that serves health now and the USSD and SMS callbacks
 * later. Sets TCP_NODELAY on every connection: evhttp does not, and replies to pipelined
 * requests then wait out the client's delayed ACK (about 4,000 instead of 60,000 requests/s
 * measured on a null server). */
#ifndef CEIRGW_APP_HTTP_H
#define CEIRGW_APP_HTTP_H

#include <stddef.h>

struct event_base;
struct evhttp;
struct evhttp_request;
struct json_buf;

struct http_server;

/* Listens on host:port. Returns a talloc child of ctx (freeing it closes the server) or NULL
 * with a reason in err. */
struct http_server *http_server_create(void *ctx, struct event_base *base, const char *host,
				       int port, char *err, size_t errsz);

struct evhttp *http_server_evhttp(struct http_server *hs);

/* Sends code with the buffer's JSON (and a newline) as application/json. */
void http_reply_json(struct evhttp_request *req, int code, const char *reason,
		     const struct json_buf *jb);

/* Sends a JSON error object {"error": code_name, "message": message}. */
void http_reply_error(struct evhttp_request *req, int code, const char *reason,
		      const char *message);

/* Requests whose path starts with prefix go to cb (four prefixes at most). */
int http_server_set_prefix_cb(struct http_server *hs, const char *prefix,
			      void (*cb)(struct evhttp_request *req, void *arg), void *arg);

/* A request answered later, from another callback: the client may be gone by then (evhttp
 * then frees the request). http_pending_req() is NULL once it is; free the pending (a talloc
 * child of ctx) after replying. */
struct http_pending;
struct http_pending *http_pending_new(void *ctx, struct evhttp_request *req);
struct evhttp_request *http_pending_req(const struct http_pending *p);

/* Sends code with a text/plain UTF-8 body. */
void http_reply_text(struct evhttp_request *req, int code, const char *reason,
		     const char *text, size_t len);

/* The form fields of a POST (application/x-www-form-urlencoded body) or of a GET's query.
 * Returns 0 or -EINVAL (a body with NUL, a bad query); free with evhttp_clear_headers(). */
struct evkeyvalq;
int http_form(struct evhttp_request *req, struct evkeyvalq *out);

#endif
