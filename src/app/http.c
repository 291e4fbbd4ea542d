/* HTTP/1.1 server on libevent's evhttp (RFC 9112). We create the listening socket ourselves
 * to set TCP_NODELAY on it: Linux copies it to every accepted socket, so each connection has
 * it without a system call per request. */
#include "app/http.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <talloc.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>

#include "core/json.h"
#include "core/logging.h"

/* Hostile clients: bounded headers and bodies, and an idle connection is closed. */
#define HTTP_MAX_HEADERS 8192
#define HTTP_MAX_BODY 65536
#define HTTP_TIMEOUT_S 30

struct http_server {
	struct evhttp *http;
	evutil_socket_t fd;
	struct prefix_cb {
		const char *prefix;
		void (*cb)(struct evhttp_request *req, void *arg);
		void *arg;
	} prefixes[4];
	size_t nprefixes;
};

static int http_destructor(struct http_server *hs)
{
	if (hs->http)
		evhttp_free(hs->http);	/* closes the bound socket too */
	else if (hs->fd >= 0)
		evutil_closesocket(hs->fd);
	return 0;
}

static evutil_socket_t listen_on(const char *host, int port, char *err, size_t errsz)
{
	struct addrinfo hints, *res = NULL, *ai;
	char portstr[8];
	evutil_socket_t fd = -1;
	int one = 1, rc, saved = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(portstr, sizeof(portstr), "%d", port);
	rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc != 0) {
		snprintf(err, errsz, "%s: %s", host, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1024) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		snprintf(err, errsz, "cannot listen on %s:%d: %s", host, port, strerror(saved));
	return fd;
}

static void not_found(struct evhttp_request *req, void *arg)
{
	struct http_server *hs = arg;
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));

	for (size_t i = 0; path && i < hs->nprefixes; i++)
		if (strncmp(path, hs->prefixes[i].prefix, strlen(hs->prefixes[i].prefix)) == 0) {
			hs->prefixes[i].cb(req, hs->prefixes[i].arg);
			return;
		}
	http_reply_error(req, HTTP_NOTFOUND, "Not Found", "no such resource");
}

int http_server_set_prefix_cb(struct http_server *hs, const char *prefix,
			      void (*cb)(struct evhttp_request *req, void *arg), void *arg)
{
	if (hs->nprefixes == sizeof(hs->prefixes) / sizeof(hs->prefixes[0]))
		return -ENOSPC;
	hs->prefixes[hs->nprefixes++] = (struct prefix_cb){ prefix, cb, arg };
	return 0;
}

/* ---- requests answered later ---------------------------------------------------------- */

struct http_pending {
	struct evhttp_request *req;	/* NULL once the client is gone */
	struct evhttp_connection *conn;
};

static void pending_closed(struct evhttp_connection *conn, void *arg)
{
	struct http_pending *p = arg;

	(void)conn;
	p->req = NULL;
	p->conn = NULL;
}

static int pending_destructor(struct http_pending *p)
{
	if (p->conn)
		evhttp_connection_set_closecb(p->conn, NULL, NULL);
	return 0;
}

struct http_pending *http_pending_new(void *ctx, struct evhttp_request *req)
{
	struct http_pending *p = talloc_zero(ctx, struct http_pending);

	if (p == NULL)
		return NULL;
	p->req = req;
	p->conn = evhttp_request_get_connection(req);
	if (p->conn)
		evhttp_connection_set_closecb(p->conn, pending_closed, p);
	talloc_set_destructor(p, pending_destructor);
	return p;
}

struct evhttp_request *http_pending_req(const struct http_pending *p)
{
	return p->req;
}

void http_reply_text(struct evhttp_request *req, int code, const char *reason,
		     const char *text, size_t len)
{
	struct evbuffer *body = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/plain; charset=utf-8");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
	if (body)
		evbuffer_add(body, text, len);
	evhttp_send_reply(req, code, reason, body);
	if (body)
		evbuffer_free(body);
}

int http_form(struct evhttp_request *req, struct evkeyvalq *out)
{
	const char *q = NULL;
	char *body = NULL;
	int rc;

	TAILQ_INIT(out);
	if (evhttp_request_get_command(req) == EVHTTP_REQ_POST) {
		struct evbuffer *in = evhttp_request_get_input_buffer(req);
		size_t len = evbuffer_get_length(in);

		body = talloc_size(NULL, len + 1);
		if (body == NULL)
			return -ENOMEM;
		evbuffer_copyout(in, body, len);
		body[len] = '\0';
		if (strlen(body) != len) {
			talloc_free(body);
			return -EINVAL;
		}
		q = body;
	} else {
		q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	}
	rc = evhttp_parse_query_str(q ? q : "", out) < 0 ? -EINVAL : 0;
	talloc_free(body);
	return rc;
}

struct http_server *http_server_create(void *ctx, struct event_base *base, const char *host,
				       int port, char *err, size_t errsz)
{
	struct http_server *hs = talloc_zero(ctx, struct http_server);

	if (hs == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	hs->fd = -1;
	talloc_set_destructor(hs, http_destructor);
	hs->fd = listen_on(host, port, err, errsz);
	if (hs->fd < 0)
		goto fail;
	hs->http = evhttp_new(base);
	if (hs->http == NULL || evhttp_accept_socket(hs->http, hs->fd) < 0) {
		snprintf(err, errsz, "cannot start the HTTP server on %s:%d", host, port);
		goto fail;
	}
	evhttp_set_max_headers_size(hs->http, HTTP_MAX_HEADERS);
	evhttp_set_max_body_size(hs->http, HTTP_MAX_BODY);
	evhttp_set_timeout(hs->http, HTTP_TIMEOUT_S);
	evhttp_set_allowed_methods(hs->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD);
	evhttp_set_gencb(hs->http, not_found, hs);
	return hs;
fail:
	talloc_free(hs);
	return NULL;
}

struct evhttp *http_server_evhttp(struct http_server *hs)
{
	return hs->http;
}

void http_reply_json(struct evhttp_request *req, int code, const char *reason,
		     const struct json_buf *jb)
{
	struct evbuffer *body = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/json");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
	if (body) {
		if (jb->failed || jb->len == 0)
			evbuffer_add_printf(body, "{\"error\":\"internal\"}\n");
		else {
			evbuffer_add(body, jb->data, jb->len);
			evbuffer_add(body, "\n", 1);
		}
	}
	evhttp_send_reply(req, code, reason, body);
	if (body)
		evbuffer_free(body);
}

void http_reply_error(struct evhttp_request *req, int code, const char *reason,
		      const char *message)
{
	struct json_buf jb;

	json_init(&jb);
	json_object_begin(&jb);
	json_key_int(&jb, "status", code);
	json_key_cstr(&jb, "error", reason);
	json_key_cstr(&jb, "message", message);
	json_object_end(&jb);
	http_reply_json(req, code, reason, &jb);
	json_free(&jb);
}
