/* HTTP/1.1 server (RFC 9112) on raw libevent events, with Debian's http_parser 2.9 for the
 * grammar. http_parser refuses two Content-Lengths, a signed one and Transfer-Encoding with
 * Content-Length, but lets through what a proxy in front may read differently: whitespace
 * before a colon ("Transfer-Encoding : chunked" is taken as chunked), spaces inside a name,
 * obs-fold and bare LF line ends. We refuse those ourselves (strict_* below), refuse every
 * Transfer-Encoding (501: Kannel and the aggregators send Content-Length) and close the
 * connection after any error, so nothing a client sends is ever read as a second request
 * that a proxy did not see. doc/http.md says what each limit is and why. */
#define _GNU_SOURCE	/* accept4 */
#include "channel/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <talloc.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/util.h>
#include <http_parser.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "core/config.h"
#include "core/hex.h"
#include "core/json.h"
#include "core/logging.h"
#include "core/metrics.h"

/* Limits a client cannot change. 8 KiB of headers is what the common servers allow; a
 * callback of Kannel or an aggregator is a few hundred bytes; the largest form (an SMS of
 * ten concatenated parts, URL-encoded three bytes a byte) stays far under 64 KiB. */
#define HTTP_MAX_HEAD 8192
#define HTTP_MAX_URL 2048
#define HTTP_MAX_BODY 65536
#define HTTP_MAX_HEADERS 64
/* One read: a pipelined client's input beyond it stays in the kernel while we are busy. */
#define HTTP_READ_CHUNK 16384
/* Reads per wake-up before other connections get their turn. */
#define HTTP_READS_PER_PASS 8
/* After an error reply: how long and how much we read and discard before closing, so the
 * client reads the reply rather than a reset (RFC 9112 9.6, "lingering close"). */
#define HTTP_LINGER_S 2
#define HTTP_LINGER_BYTES 65536
/* Accepts per wake-up of the listener, and the pause when descriptors run out. */
#define HTTP_ACCEPTS_PER_PASS 32
#define HTTP_BACKOFF_MIN_MS 100
#define HTTP_BACKOFF_MAX_MS 1000
/* Connections per address of the untrusted, counted in a hash table of this many chains. */
#define HTTP_ADDR_BUCKETS 256

#define RETRIABLE(e) ((e) == EAGAIN || (e) == EWOULDBLOCK || (e) == EINTR)

enum conn_state {
	CONN_IDLE,	/* waiting for a request's first byte (idle timeout) */
	CONN_READING,	/* a request started (its total deadline) */
	CONN_BUSY,	/* with its handler: nothing read, no timer of ours */
	CONN_WRITING,	/* a reply the client has not taken yet (write timeout) */
	CONN_LINGER,	/* reply sent, our side shut: reading and discarding until EOF */
};

/* The line discipline http_parser does not enforce, checked byte by byte over a request's
 * head before http_parser sees it: CRLF only, no obs-fold. */
enum strict_state { SS_START, SS_LINE, SS_CR, SS_LINE_START, SS_END_CR, SS_DONE };

struct http_conn;

/* The connections open from one untrusted address (IPv4, or an IPv6 /64). */
struct addr_slot {
	struct addr_slot *next;
	unsigned char key[8];
	unsigned char klen;
	unsigned count;
};

struct http_req {
	struct http_server *hs;
	struct http_conn *conn;		/* NULL once the connection is gone */
	enum http_req_method method;
	unsigned char major, minor;
	bool keepalive;
	bool head_done;
	/* url NUL, then each header's name NUL value NUL; offsets while it grows */
	char *buf;
	size_t len, cap;
	size_t url_len;
	struct { unsigned name, value; } hdr[HTTP_MAX_HEADERS];
	unsigned nhdr;
	enum { PIECE_URL, PIECE_FIELD, PIECE_VALUE } piece;
	char *path, *query;		/* NUL-terminated, in pq */
	size_t path_len, query_len;
	char *body;
	size_t body_len, body_cap;
	char *extra;			/* reply headers added by the handler */
	bool cache_set;		/* a Cache-Control of the handler's in extra */
	int status;			/* an error found while parsing, with its reason */
	const char *reason, *message;
	int counted;			/* its route's MC_* channel + 1; 0: not counted */
};

struct http_conn {
	struct http_server *hs;
	evutil_socket_t fd;
	struct event *ev_read, *ev_write, *ev_timer, *ev_resume;
	struct evbuffer *in, *out;
	http_parser parser;
	enum strict_state ss;
	size_t head_bytes;
	struct http_req *req;		/* being read or handled */
	enum conn_state state;
	bool readable;			/* edge-triggered: input may be waiting in the kernel */
	bool processing;		/* in conn_process: it goes on by itself */
	bool dead;
	int depth;			/* callbacks of ours on the stack: free only at 0 */
	size_t lingered;
	bool trusted;			/* from http-allow-ip: no reserve, no per-address cap */
	struct addr_slot *slot;		/* the untrusted address's count */
	struct sockaddr_storage peer_sa;
	char peer[INET6_ADDRSTRLEN];
};

struct route {
	const char *path;
	size_t len;
	bool prefix;
	http_handler cb;
	void *arg;
	int counted;	/* ceirgw_requests_total's channel + 1; 0: not counted */
};

struct http_server {
	struct event_base *base;
	evutil_socket_t fd;
	struct event *ev_accept, *ev_backoff;
	struct http_limits lim;
	const struct timeval *tv_idle, *tv_request, *tv_linger;
	struct timeval tv_plain[3];	/* when libevent has no common timeout left */
	unsigned log_second, log_lines, log_suppressed;
	struct route routes[8];
	size_t nroutes;
	unsigned backoff_ms;		/* 0: accepting */
	int backoff_errno;
	unsigned long long backoff_missed;
	bool at_cap;			/* logged once per episode */
	unsigned untrusted;		/* connections open from outside http-allow-ip */
	struct addr_slot *addrs[HTTP_ADDR_BUCKETS];
	struct http_server_stats st;
	time_t date_t;
	char date[40];
};

static const http_parser_settings parser_settings;

/* Lines about single clients' requests (a refusal, a bad request) are what a hostile client
 * makes as many of as it likes: at most 10 a second, then one line saying how many were
 * left out. */
#define HTTP_LOG_PER_S 10

static bool http_log_ok(struct http_server *hs)
{
	struct timeval now;

	event_base_gettimeofday_cached(hs->base, &now);
	if ((unsigned)now.tv_sec != hs->log_second) {
		if (hs->log_suppressed)
			LOGP(LOGC_HTTP, LOGL_NOTICE, "%u lines about refused or bad requests left "
			     "out of the log in the last seconds", hs->log_suppressed);
		hs->log_second = (unsigned)now.tv_sec;
		hs->log_lines = 0;
		hs->log_suppressed = 0;
	}
	if (hs->log_lines < HTTP_LOG_PER_S) {
		hs->log_lines++;
		return true;
	}
	hs->log_suppressed++;
	return false;
}

/* ---- connections ------------------------------------------------------------------------ */

static void conn_close(struct http_conn *c);
static void conn_process(struct http_conn *c);
static void slot_release(struct http_server *hs, struct addr_slot *slot);

static void conn_enter(struct http_conn *c)
{
	c->depth++;
}

/* Leaves a callback of ours: a connection marked dead inside it is freed here, once nothing
 * of ours uses it any more. Returns false when it was. */
static bool conn_leave(struct http_conn *c)
{
	if (--c->depth == 0 && c->dead) {
		talloc_free(c);
		return false;
	}
	return true;
}

static int conn_destructor(struct http_conn *c)
{
	if (c->req) {
		if (c->state == CONN_BUSY)
			c->req->conn = NULL;	/* its handler still holds it */
		else
			talloc_free(c->req);
	}
	if (c->ev_read)
		event_free(c->ev_read);
	if (c->ev_write)
		event_free(c->ev_write);
	if (c->ev_timer)
		event_free(c->ev_timer);
	if (c->ev_resume)
		event_free(c->ev_resume);
	if (c->in)
		evbuffer_free(c->in);
	if (c->out)
		evbuffer_free(c->out);
	if (c->fd >= 0)
		evutil_closesocket(c->fd);
	c->hs->st.connections--;
	if (!c->trusted)
		c->hs->untrusted--;
	if (c->slot) {
		c->slot->count--;
		slot_release(c->hs, c->slot);
	}
	return 0;
}

/* Marks c for freeing at the end of the pass (never inside its own callback). */
static void conn_close(struct http_conn *c)
{
	if (c->dead)
		return;
	c->dead = true;
	event_del(c->ev_read);
	event_del(c->ev_write);
	event_del(c->ev_timer);
	if (c->depth == 0)
		event_active(c->ev_resume, EV_TIMEOUT, 1);
}

static void conn_timer(struct http_conn *c, const struct timeval *tv)
{
	if (tv)
		event_add(c->ev_timer, tv);
	else
		event_del(c->ev_timer);
}

/* Runs conn_process from the loop, not from the caller's stack (a reply made inside another
 * subsystem's callback). */
static void conn_resume_soon(struct http_conn *c)
{
	if (!c->processing)
		event_active(c->ev_resume, EV_TIMEOUT, 1);
}

static void conn_idle(struct http_conn *c)
{
	c->state = CONN_IDLE;
	conn_timer(c, c->hs->tv_idle);
}

/* Our side is done: shut it, then discard what the client still sends for a moment. */
static void conn_linger(struct http_conn *c)
{
	c->state = CONN_LINGER;
	shutdown(c->fd, SHUT_WR);
	evbuffer_drain(c->in, evbuffer_get_length(c->in));
	c->readable = true;
	conn_timer(c, c->hs->tv_linger);
	conn_resume_soon(c);
}

/* The reply is out: next request, or the end. */
static void conn_sent(struct http_conn *c, bool keepalive)
{
	if (keepalive) {
		conn_idle(c);
		conn_resume_soon(c);
	} else {
		conn_linger(c);
	}
}

/* Writes head and body: straight to the socket when nothing waits before them (a loopback
 * or LAN client takes a reply whole), else through the output buffer. keepalive false
 * closes after. */
static void conn_write(struct http_conn *c, const char *head, size_t hlen, const void *body,
		       size_t blen, bool keepalive)
{
	struct iovec iov[2] = { { (void *)head, hlen }, { (void *)body, blen } };
	ssize_t n = 0;

	if (evbuffer_get_length(c->out) == 0) {
		n = writev(c->fd, iov, blen ? 2 : 1);
		if (n < 0) {
			if (!RETRIABLE(errno)) {
				conn_close(c);
				return;
			}
			n = 0;
		}
		if ((size_t)n == hlen + blen) {
			conn_sent(c, keepalive);
			return;
		}
	}
	if ((size_t)n < hlen)
		evbuffer_add(c->out, head + n, hlen - (size_t)n);
	n = (size_t)n > hlen ? n - (ssize_t)hlen : 0;
	if (blen > (size_t)n)
		evbuffer_add(c->out, (const char *)body + n, blen - (size_t)n);
	/* CONN_WRITING means "keep alive after"; a closing reply waits in LINGER's clothes. */
	c->state = keepalive ? CONN_WRITING : CONN_LINGER;
	event_del(c->ev_timer);
	if (!keepalive)
		c->readable = false;
	event_add(c->ev_write, c->hs->tv_request);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn *c = arg;
	bool keepalive = c->state == CONN_WRITING;

	conn_enter(c);
	if (what & EV_TIMEOUT) {
		c->hs->st.timeouts++;
		conn_close(c);	/* a reply the client does not read */
	} else if (evbuffer_write(c->out, fd) < 0 &&
		   !RETRIABLE(errno)) {
		conn_close(c);
	} else if (evbuffer_get_length(c->out) == 0) {
		event_del(c->ev_write);
		conn_sent(c, keepalive);
	} else {
		event_add(c->ev_write, c->hs->tv_request);
	}
	conn_leave(c);
}

/* ---- replies ------------------------------------------------------------------------------ */

static const char *http_date(struct http_server *hs)
{
	struct timeval now;
	struct tm tm;

	event_base_gettimeofday_cached(hs->base, &now);
	if (now.tv_sec != hs->date_t) {
		hs->date_t = now.tv_sec;
		gmtime_r(&now.tv_sec, &tm);
		strftime(hs->date, sizeof(hs->date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	}
	return hs->date;
}

static int req_destructor(struct http_req *r)
{
	if (r->conn && r->conn->req == r)
		r->conn->req = NULL;
	return 0;
}

/* Sends the reply of r and frees r. A client that asked to close, an HTTP/1.0 client that
 * did not ask to keep alive, and every parse error get Connection: close. */
static void req_send(struct http_req *r, int code, const char *reason, const char *ctype,
		     const void *body, size_t len, bool close_after)
{
	struct http_conn *c = r->conn;
	char head[1024];
	bool keepalive = r->keepalive && !close_after;
	int n;

	/* Counted as answered, whether or not the client is still there to read it. */
	if (r->counted)
		METRIC_INC2(requests, r->counted - 1, metric_result_of_status(code));
	if (c == NULL || c->dead) {
		talloc_free(r);
		return;
	}
	n = snprintf(head, sizeof(head),
		     "HTTP/1.%d %d %s\r\n%s"
		     "Content-Type: %s\r\n%sDate: %s\r\n"
		     "Content-Length: %zu\r\n%s\r\n",
		     r->minor == 0 ? 0 : 1, code, reason, r->extra ? r->extra : "", ctype,
		     r->cache_set ? "" : "Cache-Control: no-store\r\n", http_date(c->hs), len,
		     !keepalive ? "Connection: close\r\n" :
		     r->minor == 0 ? "Connection: keep-alive\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(head)) {
		n = snprintf(head, sizeof(head), "HTTP/1.1 500 Internal Server Error\r\n"
			     "Content-Length: 0\r\nConnection: close\r\n\r\n");
		len = 0;
		keepalive = false;
	}
	if (r->method == HTTP_REQ_HEAD)
		len = 0;
	c->req = NULL;
	c->state = CONN_WRITING;
	conn_enter(c);
	/* Copied to the socket or the output buffer before r (which body may be part of)
	 * goes. */
	conn_write(c, head, (size_t)n, body, len, keepalive);
	talloc_free(r);
	conn_leave(c);
}

int http_reply_header(struct http_req *req, const char *name, const char *value)
{
	char *x;

	if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
		return -EINVAL;
	x = req->extra ? talloc_asprintf_append(req->extra, "%s: %s\r\n", name, value) :
			 talloc_asprintf(req, "%s: %s\r\n", name, value);
	if (x == NULL)
		return -ENOMEM;
	req->extra = x;
	if (strcasecmp(name, "Cache-Control") == 0)
		req->cache_set = true;
	return 0;
}

void http_reply(struct http_req *req, int code, const char *reason, const char *ctype,
		const void *body, size_t len)
{
	req_send(req, code, reason, ctype, body, len, false);
}

void http_reply_text(struct http_req *req, int code, const char *reason, const char *text,
		     size_t len)
{
	req_send(req, code, reason, "text/plain; charset=utf-8", text, len, false);
}

void http_reply_json(struct http_req *req, int code, const char *reason,
		     const struct json_buf *jb)
{
	static const char internal[] = "{\"error\":\"internal\"}\n";
	char *body;

	if (jb->failed || jb->len == 0) {
		req_send(req, code, reason, "application/json", internal, sizeof(internal) - 1,
			 false);
		return;
	}
	body = talloc_size(req, jb->len + 1);
	if (body == NULL) {
		req_send(req, code, reason, "application/json", internal, sizeof(internal) - 1,
			 false);
		return;
	}
	memcpy(body, jb->data, jb->len);
	body[jb->len] = '\n';
	req_send(req, code, reason, "application/json", body, jb->len + 1, false);
}

static void reply_error(struct http_req *req, int code, const char *reason,
			const char *message, bool close_after)
{
	struct json_buf jb;

	json_init(&jb);
	json_object_begin(&jb);
	json_key_int(&jb, "status", code);
	json_key_cstr(&jb, "error", reason);
	json_key_cstr(&jb, "message", message);
	json_object_end(&jb);
	if (jb.failed) {
		req_send(req, code, reason, "application/json", "", 0, close_after);
	} else {
		char body[512];
		size_t n = jb.len < sizeof(body) - 1 ? jb.len : sizeof(body) - 1;

		memcpy(body, jb.data, n);
		body[n++] = '\n';
		req_send(req, code, reason, "application/json", body, n, close_after);
	}
	json_free(&jb);
}

void http_reply_error(struct http_req *req, int code, const char *reason, const char *message)
{
	reply_error(req, code, reason, message, false);
}

/* ---- parsing ------------------------------------------------------------------------------ */

static int buf_append(struct http_req *r, const char *p, size_t n)
{
	if (r->len + n + 1 > r->cap) {
		size_t cap = r->cap * 2;
		char *b;

		while (cap < r->len + n + 1)
			cap *= 2;
		b = talloc_realloc_size(r, r->buf, cap);
		if (b == NULL)
			return -ENOMEM;
		r->buf = b;
		r->cap = cap;
	}
	memcpy(r->buf + r->len, p, n);
	r->len += n;
	return 0;
}

static int buf_end_piece(struct http_req *r)
{
	return buf_append(r, "", 1);
}

/* Records an error to answer with; returning non-zero from a callback stops http_parser. */
static int req_fail(struct http_req *r, int status, const char *reason, const char *message)
{
	if (r->status == 0) {
		r->status = status;
		r->reason = reason;
		r->message = message;
	}
	return -1;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
	struct http_req *r = ((struct http_conn *)p->data)->req;

	if (r->url_len + n > HTTP_MAX_URL)
		return req_fail(r, 414, "URI Too Long", "the URL is longer than 2048 bytes");
	r->url_len += n;
	return buf_append(r, at, n) < 0 ? req_fail(r, 500, "Internal Server Error", "no memory") : 0;
}

/* RFC 9110 5.6.2: a field name is a token. http_parser also takes spaces in a name, and
 * before the colon; a proxy may strip them and read another header than we would. */
static bool is_tchar(unsigned char c)
{
	static const char extra[] = "!#$%&'*+-.^_`|~";

	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && memchr(extra, c, sizeof(extra) - 1));
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
	struct http_req *r = ((struct http_conn *)p->data)->req;

	for (size_t i = 0; i < n; i++)
		if (!is_tchar((unsigned char)at[i]))
			return req_fail(r, 400, "Bad Request",
					"a header name holds a space or a character not allowed "
					"in it");
	if (r->piece != PIECE_FIELD) {
		if (r->nhdr == HTTP_MAX_HEADERS)
			return req_fail(r, 431, "Request Header Fields Too Large",
					"more than 64 headers");
		if (buf_end_piece(r) < 0)	/* ends the URL or the previous value */
			return req_fail(r, 500, "Internal Server Error", "no memory");
		r->hdr[r->nhdr].name = (unsigned)r->len;
		r->hdr[r->nhdr].value = 0;
		r->nhdr++;
		r->piece = PIECE_FIELD;
	}
	return buf_append(r, at, n) < 0 ? req_fail(r, 500, "Internal Server Error", "no memory") : 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
	struct http_req *r = ((struct http_conn *)p->data)->req;

	if (r->piece != PIECE_VALUE) {
		if (buf_end_piece(r) < 0)
			return req_fail(r, 500, "Internal Server Error", "no memory");
		r->hdr[r->nhdr - 1].value = (unsigned)r->len;
		r->piece = PIECE_VALUE;
	}
	return buf_append(r, at, n) < 0 ? req_fail(r, 500, "Internal Server Error", "no memory") : 0;
}

const char *http_req_header(const struct http_req *req, const char *name)
{
	for (unsigned i = 0; i < req->nhdr; i++)
		if (strcasecmp(req->buf + req->hdr[i].name, name) == 0)
			return req->buf + req->hdr[i].value;
	return NULL;
}

/* Content-Length: digits only (OWS around them was trimmed by http_parser), and one. */
static int check_content_length(struct http_req *r)
{
	unsigned count = 0;

	for (unsigned i = 0; i < r->nhdr; i++) {
		const char *v = r->buf + r->hdr[i].value;

		if (strcasecmp(r->buf + r->hdr[i].name, "Content-Length") != 0)
			continue;
		if (++count > 1 || *v == '\0' || v[strspn(v, "0123456789")] != '\0')
			return -EINVAL;
	}
	return 0;
}

static int split_url(struct http_req *r)
{
	struct http_parser_url u;
	const char *url = r->buf;
	char *pq;

	http_parser_url_init(&u);
	if (r->url_len == 0 || http_parser_parse_url(url, r->url_len, 0, &u) != 0 ||
	    !(u.field_set & (1 << UF_PATH)))
		return -EINVAL;
	r->path_len = u.field_data[UF_PATH].len;
	r->query_len = (u.field_set & (1 << UF_QUERY)) ? u.field_data[UF_QUERY].len : 0;
	pq = talloc_size(r, r->path_len + r->query_len + 2);
	if (pq == NULL)
		return -ENOMEM;
	memcpy(pq, url + u.field_data[UF_PATH].off, r->path_len);
	pq[r->path_len] = '\0';
	r->path = pq;
	r->query = pq + r->path_len + 1;
	if (r->query_len)
		memcpy(r->query, url + u.field_data[UF_QUERY].off, r->query_len);
	r->query[r->query_len] = '\0';
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	struct http_conn *c = p->data;
	struct http_req *r = c->req;

	if (buf_end_piece(r) < 0)
		return req_fail(r, 500, "Internal Server Error", "no memory");
	r->major = (unsigned char)p->http_major;
	r->minor = (unsigned char)(p->http_minor > 1 ? 1 : p->http_minor);
	r->keepalive = http_should_keep_alive(p) != 0;
	if (p->http_major != 1)
		return req_fail(r, 505, "HTTP Version Not Supported", "HTTP/1.0 or 1.1 only");
	switch (p->method) {
	case HTTP_GET: r->method = HTTP_REQ_GET; break;
	case HTTP_HEAD: r->method = HTTP_REQ_HEAD; break;
	case HTTP_POST: r->method = HTTP_REQ_POST; break;
	default:
		return req_fail(r, 501, "Not Implemented", "GET, HEAD and POST only");
	}
	/* Chunked bodies are where request smuggling lives; none of our callers sends one. */
	if ((p->flags & F_CHUNKED) || http_req_header(r, "Transfer-Encoding"))
		return req_fail(r, 501, "Not Implemented",
				"Transfer-Encoding is not supported: send Content-Length");
	if (check_content_length(r) < 0)
		return req_fail(r, 400, "Bad Request", "one Content-Length of digits only");
	if ((p->flags & F_CONTENTLENGTH) && p->content_length > HTTP_MAX_BODY)
		return req_fail(r, 413, "Payload Too Large", "the body is larger than 64 KiB");
	/* Upgrade is ignored (RFC 9110 7.8): we answer in HTTP/1.1 and http_parser, paused at
	 * the end of the request, parses what follows as the next one. */
	if (split_url(r) < 0)
		return req_fail(r, 400, "Bad Request", "not a URL");
	if ((p->flags & F_CONTENTLENGTH) && p->content_length > 0) {
		const char *expect = http_req_header(r, "Expect");

		/* A client that waits for "go on" before its body (curl beyond 1 KiB, .NET's
		 * HttpClient) would otherwise wait out its own timer (RFC 9110 10.1.1). */
		if (expect && p->http_minor >= 1) {
			static const char go_on[] = "HTTP/1.1 100 Continue\r\n\r\n";

			if (strcasecmp(expect, "100-continue") != 0)
				return req_fail(r, 417, "Expectation Failed",
						"Expect: 100-continue only");
			(void)!send(c->fd, go_on, sizeof(go_on) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		}
		r->body_cap = (size_t)p->content_length;
		r->body = talloc_size(r, r->body_cap + 1);
		if (r->body == NULL)
			return req_fail(r, 500, "Internal Server Error", "no memory");
	}
	r->head_done = true;
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
	struct http_req *r = ((struct http_conn *)p->data)->req;

	if (r->body_len + n > r->body_cap)	/* http_parser keeps to Content-Length */
		return req_fail(r, 400, "Bad Request", "body longer than Content-Length");
	memcpy(r->body + r->body_len, at, n);
	r->body_len += n;
	return 0;
}

static int on_message_complete(http_parser *p)
{
	http_parser_pause(p, 1);	/* one request at a time: stop right after it */
	return 0;
}

static const http_parser_settings parser_settings = {
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

/* Checks the head bytes of p[0..n): CRLF line ends only, no line folded onto the one before
 * (obs-fold), no more than HTTP_MAX_HEAD bytes. Empty lines before the request line are
 * allowed (RFC 9112 2.2). Returns 0 or an HTTP status. */
static int strict_check(struct http_conn *c, const char *p, size_t n, const char **why)
{
	for (size_t i = 0; i < n && c->ss != SS_DONE; i++) {
		unsigned char b = (unsigned char)p[i];

		if (++c->head_bytes > HTTP_MAX_HEAD) {
			*why = "the request line and headers are longer than 8 KiB";
			return 431;
		}
		switch (c->ss) {
		case SS_START:
			if (b == '\r' || b == '\n')
				break;
			c->ss = SS_LINE;
			break;
		case SS_LINE:
			if (b == '\r')
				c->ss = SS_CR;
			else if (b == '\n')
				goto bare_lf;
			break;
		case SS_CR:
			if (b != '\n')
				goto bare_cr;
			c->ss = SS_LINE_START;
			break;
		case SS_LINE_START:
			if (b == '\r')
				c->ss = SS_END_CR;
			else if (b == '\n')
				goto bare_lf;
			else if (b == ' ' || b == '\t') {
				*why = "a header line folded onto the one before (obs-fold)";
				return 400;
			} else
				c->ss = SS_LINE;
			break;
		case SS_END_CR:
			if (b != '\n')
				goto bare_cr;
			c->ss = SS_DONE;
			break;
		case SS_DONE:
			break;
		}
	}
	return 0;
bare_lf:
	*why = "a line ends in LF without CR";
	return 400;
bare_cr:
	*why = "a CR not followed by LF";
	return 400;
}

static void req_start(struct http_conn *c)
{
	struct http_req *r = talloc_zero(c->hs, struct http_req);

	if (r == NULL) {
		conn_close(c);
		return;
	}
	r->piece = PIECE_URL;
	r->hs = c->hs;
	r->conn = c;
	r->cap = 1024;
	r->buf = talloc_size(r, r->cap);
	if (r->buf == NULL) {
		talloc_free(r);
		conn_close(c);
		return;
	}
	talloc_set_destructor(r, req_destructor);
	c->req = r;
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	c->ss = SS_START;
	c->head_bytes = 0;
}

/* Answers a request that cannot be served and closes the connection after the reply. */
static void conn_refuse(struct http_conn *c, int status, const char *reason, const char *why)
{
	struct http_req *r = c->req;

	c->hs->st.bad_requests++;
	if (logging_level() <= LOGL_INFO && http_log_ok(c->hs))
		LOGP(LOGC_HTTP, LOGL_INFO, "%s: %d %s (%s)", c->peer, status, reason, why);
	r->minor = c->parser.http_major == 1 && c->parser.http_minor == 0 ? 0 : 1;
	r->keepalive = false;
	r->method = HTTP_REQ_GET;	/* a HEAD's error still has its body */
	reply_error(r, status, reason, why, true);
}

static const char *status_reason(int status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 408: return "Request Timeout";
	case 413: return "Payload Too Large";
	case 414: return "URI Too Long";
	case 417: return "Expectation Failed";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	case 505: return "HTTP Version Not Supported";
	default: return "Internal Server Error";
	}
}

static void dispatch(struct http_conn *c)
{
	struct http_server *hs = c->hs;
	struct http_req *r = c->req;

	c->state = CONN_BUSY;
	event_del(c->ev_timer);
	hs->st.requests++;
	if (r->body)
		r->body[r->body_len] = '\0';
	for (size_t i = 0; i < hs->nroutes; i++) {
		const struct route *rt = &hs->routes[i];

		if (rt->prefix ? strncmp(r->path, rt->path, rt->len) == 0 :
				 (r->path_len == rt->len && memcmp(r->path, rt->path, rt->len) == 0)) {
			r->counted = rt->counted;
			rt->cb(r, rt->arg);
			return;
		}
	}
	http_reply_error(r, 404, "Not Found", "no such resource");
}

/* Parses what the input buffer holds, one request at a time: a whole request goes to its
 * handler and nothing more is parsed until it is answered. */
static void conn_process(struct http_conn *c)
{
	c->processing = true;
	while (!c->dead && (c->state == CONN_IDLE || c->state == CONN_READING) &&
	       evbuffer_get_length(c->in) > 0) {
		struct evbuffer_iovec v[4];
		size_t used = 0;
		int nv, i, status = 0;
		const char *why = NULL;
		bool complete = false;

		if (c->state == CONN_IDLE) {
			req_start(c);
			if (c->dead)
				break;
			c->state = CONN_READING;
			conn_timer(c, c->hs->tv_request);	/* a total: not moved by input */
		}
		nv = evbuffer_peek(c->in, -1, NULL, v, 4);
		if (nv > 4)
			nv = 4;
		for (i = 0; i < nv && !complete; i++) {
			size_t n;

			status = strict_check(c, v[i].iov_base, v[i].iov_len, &why);
			if (status)
				break;
			n = http_parser_execute(&c->parser, &parser_settings, v[i].iov_base,
						v[i].iov_len);
			used += n;
			if (HTTP_PARSER_ERRNO(&c->parser) == HPE_PAUSED) {
				complete = true;
			} else if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK) {
				status = c->req->status ? c->req->status : 400;
				why = c->req->message ? c->req->message :
				      http_errno_description(HTTP_PARSER_ERRNO(&c->parser));
				break;
			}
		}
		if (status) {
			conn_refuse(c, status, c->req->reason ? c->req->reason :
				    status_reason(status), why);
			break;
		}
		evbuffer_drain(c->in, used);
		if (!complete) {
			if (used > 0 && evbuffer_get_length(c->in) > 0)
				continue;	/* more than four chunks were waiting */
			break;		/* more to read */
		}
		dispatch(c);
	}
	c->processing = false;
}

/* One read() of at most HTTP_READ_CHUNK into the input buffer (evbuffer_read would ask
 * FIONREAD first and read 4 KiB at most). Returns what read() returned, errno kept. */
static ssize_t conn_recv(struct http_conn *c)
{
	struct evbuffer_iovec v;
	ssize_t n;

	if (evbuffer_reserve_space(c->in, HTTP_READ_CHUNK, &v, 1) != 1) {
		errno = ENOMEM;
		return -1;
	}
	n = read(c->fd, v.iov_base, v.iov_len < HTTP_READ_CHUNK ? v.iov_len : HTTP_READ_CHUNK);
	v.iov_len = n > 0 ? (size_t)n : 0;
	evbuffer_commit_space(c->in, &v, 1);
	return n;
}

static void conn_read(struct http_conn *c)
{
	for (int reads = 0; !c->dead && c->readable; reads++) {
		ssize_t n;

		if (c->state == CONN_LINGER) {
			n = conn_recv(c);
			if (n > 0) {
				c->lingered += (size_t)n;
				evbuffer_drain(c->in, evbuffer_get_length(c->in));
			}
			if (n == 0 || c->lingered > HTTP_LINGER_BYTES ||
			    (n < 0 && !RETRIABLE(errno)))
				conn_close(c);
			else if (n < 0)
				c->readable = false;
			continue;
		}
		if (c->state != CONN_IDLE && c->state != CONN_READING)
			return;
		if (reads == HTTP_READS_PER_PASS) {
			event_active(c->ev_resume, EV_TIMEOUT, 1);	/* others' turn */
			return;
		}
		n = conn_recv(c);
		if (n == 0 || (n < 0 && !RETRIABLE(errno))) {
			conn_close(c);	/* the client went; a partial request goes with it */
			return;
		}
		if (n < 0 || n < HTTP_READ_CHUNK)
			c->readable = false;	/* a short read drained the socket */
		conn_process(c);
	}
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn *c = arg;

	conn_enter(c);
	c->readable = true;
	conn_read(c);
	conn_leave(c);
}

/* Input already read (pipelined) first, then the socket again. */
static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn *c = arg;

	conn_enter(c);
	conn_process(c);
	conn_read(c);
	conn_leave(c);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn *c = arg;

	conn_enter(c);
	if (c->state == CONN_READING) {
		c->hs->st.timeouts++;
		conn_refuse(c, 408, "Request Timeout",
			    "the request did not arrive whole within http-request-timeout");
	} else {
		conn_close(c);	/* idle, or lingered long enough */
	}
	conn_leave(c);
}

/* ---- accepting -------------------------------------------------------------------------- */

static void peer_name(const struct sockaddr_storage *sa, char *out, size_t outsz)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

	if (sa->ss_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)outsz);
	} else if (sa->ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], out, (socklen_t)outsz);
	} else if (sa->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &s6->sin6_addr, out, (socklen_t)outsz);
	} else {
		snprintf(out, outsz, "local");
	}
}

static int conn_new(struct http_server *hs, evutil_socket_t fd, const struct sockaddr *sa,
		    size_t salen, bool trusted, struct addr_slot *slot)
{
	struct http_conn *c = talloc_zero(hs, struct http_conn);

	if (c == NULL) {
		slot_release(hs, slot);
		evutil_closesocket(fd);
		return -ENOMEM;
	}
	c->hs = hs;
	c->fd = fd;
	c->trusted = trusted;
	c->slot = slot;
	if (slot)
		slot->count++;
	hs->st.connections++;
	if (!trusted)
		hs->untrusted++;
	talloc_set_destructor(c, conn_destructor);
	if (salen > sizeof(c->peer_sa))
		salen = sizeof(c->peer_sa);
	memcpy(&c->peer_sa, sa, salen);
	peer_name(&c->peer_sa, c->peer, sizeof(c->peer));
	/* Edge-triggered: while a request is with its handler we just do not read, with no
	 * system call to turn reading off and on around every request. */
	c->ev_read = event_new(hs->base, fd, EV_READ | EV_PERSIST | EV_ET, on_read, c);
	c->ev_write = event_new(hs->base, fd, EV_WRITE | EV_PERSIST, on_write, c);
	c->ev_timer = evtimer_new(hs->base, on_timer, c);
	c->ev_resume = event_new(hs->base, -1, 0, on_resume, c);
	c->in = evbuffer_new();
	c->out = evbuffer_new();
	if (!c->ev_read || !c->ev_write || !c->ev_timer || !c->ev_resume || !c->in || !c->out ||
	    event_add(c->ev_read, NULL) < 0) {
		talloc_free(c);
		return -ENOMEM;
	}
	hs->st.accepted++;
	conn_idle(c);
	return 0;
}

/* Forgets an untrusted address once none of its connections is left. */
static void slot_release(struct http_server *hs, struct addr_slot *slot)
{
	struct addr_slot **pp;

	if (slot == NULL || slot->count > 0)
		return;
	pp = &hs->addrs[slot->key[slot->klen - 1] % HTTP_ADDR_BUCKETS];
	while (*pp != slot)
		pp = &(*pp)->next;
	*pp = slot->next;
	talloc_free(slot);
}

/* Whether an address is on an allow-list (http-allow-ip's syntax). */
static bool sa_allowed(const struct sockaddr_storage *sa, const struct config_allow *allow)
{
	const unsigned char *a4 = NULL, *a6 = NULL;

	if (allow->all)
		return true;
	if (sa->ss_family == AF_INET) {
		a4 = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
	} else if (sa->ss_family == AF_INET6) {
		const struct in6_addr *in6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		/* An IPv4 client of a [::] listener is still an IPv4 client. */
		if (IN6_IS_ADDR_V4MAPPED(in6))
			a4 = in6->s6_addr + 12;
		else
			a6 = in6->s6_addr;
	}
	for (unsigned i = 0; i < allow->n; i++) {
		const struct config_allow_ip *ip = &allow->ip[i];

		if (ip->family == AF_INET6 && a6 && memcmp(ip->addr, a6, 16) == 0)
			return true;
		if (ip->family == AF_INET && a4) {
			unsigned o;

			for (o = 0; o < 4; o++)
				if (!(ip->any & (1u << o)) && ip->addr[o] != a4[o])
					break;
			if (o == 4)
				return true;
		}
	}
	return false;
}

/* The count of connections from an untrusted address: an IPv4 address, or an IPv6 address's
 * /64 (what one subscriber or host is given). NULL: out of memory. */
static struct addr_slot *addr_slot(struct http_server *hs, const struct sockaddr_storage *sa)
{
	unsigned char key[8];
	unsigned char klen = 0;
	struct addr_slot **head, *s;

	if (sa->ss_family == AF_INET) {
		memcpy(key, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		klen = 4;
	} else if (sa->ss_family == AF_INET6) {
		const struct in6_addr *in6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(in6)) {
			memcpy(key, in6->s6_addr + 12, 4);
			klen = 4;
		} else {
			memcpy(key, in6->s6_addr, 8);
			klen = 8;
		}
	} else {
		key[0] = 0;	/* a Unix socket of the tests */
		klen = 1;
	}
	head = &hs->addrs[key[klen - 1] % HTTP_ADDR_BUCKETS];
	for (s = *head; s; s = s->next)
		if (s->klen == klen && memcmp(s->key, key, klen) == 0)
			return s;
	s = talloc_zero(hs, struct addr_slot);
	if (s == NULL)
		return NULL;
	memcpy(s->key, key, klen);
	s->klen = klen;
	s->next = *head;
	*head = s;
	return s;
}

/* Whether a new connection from sa may have a slot; *trusted and *slot say how it counts.
 * The untrusted together never take the quarter of http-max-connections kept for the
 * callers of http-allow-ip, and each of their addresses at most max_per_address. */
static bool conn_admit(struct http_server *hs, const struct sockaddr_storage *sa,
		       bool *trusted, struct addr_slot **slot)
{
	unsigned max = hs->lim.max_connections, reserve = max / 4;

	*slot = NULL;
	*trusted = sa_allowed(sa, &hs->lim.trusted);
	if (hs->st.connections >= max)
		return false;
	if (*trusted)
		return true;
	if (hs->untrusted >= max - reserve)
		return false;
	*slot = addr_slot(hs, sa);
	if (*slot == NULL)
		return false;
	if ((*slot)->count >= hs->lim.max_per_address) {
		hs->st.refused_address++;
		return false;
	}
	return true;
}

int http_server_adopt(struct http_server *hs, int fd, const struct sockaddr *peer,
		      size_t peerlen)
{
	struct sockaddr_storage sa;
	struct addr_slot *slot;
	bool trusted;

	memset(&sa, 0, sizeof(sa));
	memcpy(&sa, peer, peerlen < sizeof(sa) ? peerlen : sizeof(sa));
	evutil_make_socket_nonblocking(fd);
	if (!conn_admit(hs, &sa, &trusted, &slot)) {
		slot_release(hs, slot);
		evutil_closesocket(fd);
		return -EBUSY;
	}
	return conn_new(hs, fd, peer, peerlen, trusted, slot);
}

static void on_backoff(evutil_socket_t fd, short what, void *arg)
{
	struct http_server *hs = arg;

	event_add(hs->ev_accept, NULL);
}

/* Out of descriptors or memory: the pending connections stay in the kernel's backlog while
 * we wait, instead of a loop of failing accept() calls at full CPU; one line per episode. */
static void accept_backoff(struct http_server *hs, int err)
{
	if (hs->backoff_ms == 0) {
		hs->backoff_ms = HTTP_BACKOFF_MIN_MS;
		hs->backoff_errno = err;
		hs->backoff_missed = 0;
		LOGP(LOGC_HTTP, LOGL_WARN, "accept: %s; new connections wait (retrying every "
		     "%d ms to %d ms) until descriptors are free", strerror(err),
		     HTTP_BACKOFF_MIN_MS, HTTP_BACKOFF_MAX_MS);
	} else if (hs->backoff_ms < HTTP_BACKOFF_MAX_MS) {
		hs->backoff_ms *= 2;
		if (hs->backoff_ms > HTTP_BACKOFF_MAX_MS)
			hs->backoff_ms = HTTP_BACKOFF_MAX_MS;
	}
	hs->backoff_missed++;
	event_del(hs->ev_accept);
	event_add(hs->ev_backoff, &(struct timeval){ hs->backoff_ms / 1000,
						      (hs->backoff_ms % 1000) * 1000 });
}

/* Beyond http-max-connections a connection is accepted, told 503 and closed at once rather
 * than left in the backlog: the caller learns now that it should retry or fail over, the
 * backlog never fills with clients that have long given up, and the first free slot goes
 * to a fresh connection. */
static void refuse_at_cap(struct http_server *hs, evutil_socket_t fd,
			  const struct sockaddr_storage *sa)
{
	static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
				   "Retry-After: 1\r\nConnection: close\r\n\r\n";

	hs->st.refused_cap++;
	if (hs->st.connections >= hs->lim.max_connections) {
		if (!hs->at_cap) {
			hs->at_cap = true;
			LOGP(LOGC_HTTP, LOGL_WARN, "%u connections open (http-max-connections): "
			     "new ones are refused with 503 until some close",
			     hs->lim.max_connections);
		}
	} else if (http_log_ok(hs)) {
		char peer[INET6_ADDRSTRLEN];

		peer_name(sa, peer, sizeof(peer));
		LOGP(LOGC_HTTP, LOGL_NOTICE, "%s: refused with 503: %u connections from outside "
		     "http-allow-ip (%u kept for its callers) or %u from this address "
		     "(http-max-connections-per-address)", peer, hs->untrusted,
		     hs->lim.max_connections / 4, hs->lim.max_per_address);
	}
	(void)!send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	evutil_closesocket(fd);
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct http_server *hs = arg;

	for (int i = 0; i < HTTP_ACCEPTS_PER_PASS; i++) {
		struct sockaddr_storage sa;
		socklen_t salen = sizeof(sa);
		int fd = accept4(lfd, (struct sockaddr *)&sa, &salen, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			int err = errno;

			if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
				accept_backoff(hs, err);
				return;
			}
			if (err == EINTR || err == ECONNABORTED || err == EPROTO)
				continue;
			return;	/* EAGAIN: all taken */
		}
		if (hs->backoff_ms) {
			LOGP(LOGC_HTTP, LOGL_NOTICE, "accept: descriptors free again, accepting "
			     "(%llu waits on %s)", hs->backoff_missed,
			     strerror(hs->backoff_errno));
			hs->backoff_ms = 0;
		}
		if (salen < sizeof(sa))
			memset((char *)&sa + salen, 0, sizeof(sa) - salen);
		{
			struct addr_slot *slot;
			bool trusted;

			if (!conn_admit(hs, &sa, &trusted, &slot)) {
				slot_release(hs, slot);	/* one made for this refusal */
				refuse_at_cap(hs, fd, &sa);
				continue;
			}
			if (hs->at_cap && hs->st.connections < hs->lim.max_connections) {
				hs->at_cap = false;
				LOGP(LOGC_HTTP, LOGL_NOTICE, "below http-max-connections again "
				     "(%llu refused so far)", hs->st.refused_cap);
			}
			conn_new(hs, fd, (struct sockaddr *)&sa, salen, trusted, slot);
		}
	}
}

/* ---- the server ------------------------------------------------------------------------- */

static int server_destructor(struct http_server *hs)
{
	if (hs->ev_accept)
		event_free(hs->ev_accept);
	if (hs->ev_backoff)
		event_free(hs->ev_backoff);
	if (hs->fd >= 0)
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
		/* Linux copies TCP_NODELAY to every accepted socket: replies to back-to-back
		 * requests do not wait out the client's delayed ACK (DESIGN.md), with no
		 * system call per connection. */
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

/* Common timeouts: every connection's timer of one duration sits in one queue, O(1) to
 * arm. libevent has 256 of them per loop; reloads with ever new values could use them up,
 * and then plain timeouts do. */
static const struct timeval *timeout_of(struct http_server *hs, int i, unsigned secs)
{
	const struct timeval *tv;

	hs->tv_plain[i] = (struct timeval){ (time_t)secs, 0 };
	tv = event_base_init_common_timeout(hs->base, &hs->tv_plain[i]);
	return tv ? tv : &hs->tv_plain[i];
}

void http_server_set_limits(struct http_server *hs, const struct http_limits *lim)
{
	hs->lim = *lim;
	hs->tv_idle = timeout_of(hs, 0, lim->idle_timeout);
	hs->tv_request = timeout_of(hs, 1, lim->request_timeout);
	hs->tv_linger = timeout_of(hs, 2, HTTP_LINGER_S);
}

static struct http_server *server_new(void *ctx, struct event_base *base,
				      const struct http_limits *lim)
{
	struct http_server *hs = talloc_zero(ctx, struct http_server);

	if (hs == NULL)
		return NULL;
	hs->fd = -1;
	hs->base = base;
	talloc_set_destructor(hs, server_destructor);
	http_server_set_limits(hs, lim);
	return hs;
}

struct http_server *http_server_create(void *ctx, struct event_base *base, const char *host,
				       int port, const struct http_limits *lim, char *err,
				       size_t errsz)
{
	struct http_server *hs = server_new(ctx, base, lim);

	if (hs == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	if (host == NULL)	/* no listener: http_server_adopt only */
		return hs;
	hs->fd = listen_on(host, port, err, errsz);
	if (hs->fd < 0)
		goto fail;
	hs->ev_accept = event_new(base, hs->fd, EV_READ | EV_PERSIST, on_accept, hs);
	hs->ev_backoff = evtimer_new(base, on_backoff, hs);
	if (hs->ev_accept == NULL || hs->ev_backoff == NULL || event_add(hs->ev_accept, NULL) < 0) {
		snprintf(err, errsz, "cannot start the HTTP server on %s:%d", host, port);
		goto fail;
	}
	return hs;
fail:
	talloc_free(hs);
	return NULL;
}

int http_server_route(struct http_server *hs, const char *path, bool prefix, http_handler cb,
		      void *arg)
{
	if (hs->nroutes == sizeof(hs->routes) / sizeof(hs->routes[0]))
		return -ENOSPC;
	hs->routes[hs->nroutes++] = (struct route){ path, strlen(path), prefix, cb, arg, 0 };
	return 0;
}

int http_server_route_counted(struct http_server *hs, const char *path, bool prefix,
			      http_handler cb, void *arg, int channel)
{
	int rc = http_server_route(hs, path, prefix, cb, arg);

	if (rc == 0)
		hs->routes[hs->nroutes - 1].counted = channel + 1;
	return rc;
}

const struct http_server_stats *http_server_stats(const struct http_server *hs)
{
	return &hs->st;
}

/* ---- request accessors -------------------------------------------------------------------- */

enum http_req_method http_req_method(const struct http_req *req)
{
	return req->method;
}

const char *http_req_path(const struct http_req *req, size_t *len)
{
	if (len)
		*len = req->path_len;
	return req->path;
}

const char *http_req_query(const struct http_req *req, size_t *len)
{
	if (len)
		*len = req->query_len;
	return req->query;
}

const char *http_req_body(const struct http_req *req, size_t *len)
{
	if (len)
		*len = req->body_len;
	return req->body ? req->body : "";
}

const char *http_req_peer(const struct http_req *req)
{
	return req->conn ? req->conn->peer : "gone";
}

/* ---- callers ------------------------------------------------------------------------------ */

bool http_req_allowed(const struct http_req *req, const struct config_allow *allow)
{
	if (allow->all)
		return true;
	return req->conn != NULL && sa_allowed(&req->conn->peer_sa, allow);
}

/* The value of the first name= pair of a query, decoded into out; the other pairs are not
 * looked at (one that the form parser refuses must not hide the token). */
static bool query_param(const char *q, const char *name, char *out, size_t outsz)
{
	size_t nlen = strlen(name);

	while (*q) {
		size_t plen = strcspn(q, "&");

		if (plen > nlen && strncmp(q, name, nlen) == 0 && q[nlen] == '=') {
			size_t vlen = plen - nlen - 1;

			return vlen < outsz && http_uri_decode(q + nlen + 1, vlen, true, out) >= 0;
		}
		q += plen;
		if (*q == '&')
			q++;
	}
	return false;
}

bool http_req_token_ok(const struct http_req *req, const char *token)
{
	unsigned char want[SHA256_DIGEST_LENGTH], got[SHA256_DIGEST_LENGTH];
	const char *given = http_req_header(req, "X-Ceirgw-Token");
	char q[512];

	if (token == NULL || *token == '\0')
		return true;
	if (given == NULL && query_param(req->query ? req->query : "", "token", q, sizeof(q)))
		given = q;
	if (given == NULL)
		return false;
	/* Digests of both, compared whole: the time says nothing of the token, its length
	 * included. */
	SHA256((const unsigned char *)token, strlen(token), want);
	SHA256((const unsigned char *)given, strlen(given), got);
	OPENSSL_cleanse(q, sizeof(q));
	return CRYPTO_memcmp(want, got, sizeof(want)) == 0;
}

int http_req_authorize(const struct http_req *req, const struct config_allow *allow,
		       const char *token)
{
	const char *why = NULL;

	if (!http_req_allowed(req, allow))
		why = "address not in http-allow-ip";
	else if (!http_req_token_ok(req, token))
		why = "missing or wrong token";
	if (why == NULL)
		return 0;
	if (http_log_ok(req->hs))
		LOGP(LOGC_HTTP, LOGL_NOTICE, "%s %s from %s refused: %s",
		     req->method == HTTP_REQ_POST ? "POST" :
		     req->method == HTTP_REQ_HEAD ? "HEAD" : "GET",
		     req->path, http_req_peer(req), why);
	return -EACCES;
}

/* ---- forms -------------------------------------------------------------------------------- */

/* A '%' not followed by two hex digits stays as it is, as libevent's decoder kept it. A
 * decoded NUL is refused: C strings would cut the field there, and what follows would be
 * read by one component and not by another. */
ssize_t http_uri_decode(const char *s, size_t len, bool plus, char *out)
{
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		int hi, lo;

		if (s[i] == '+' && plus) {
			out[o++] = ' ';
		} else if (s[i] == '%' && i + 2 < len && (hi = hex_value(s[i + 1])) >= 0 &&
			   (lo = hex_value(s[i + 2])) >= 0) {
			if (hi == 0 && lo == 0)
				return -EINVAL;
			out[o++] = (char)(hi * 16 + lo);
			i += 2;
		} else if (s[i] == '\0') {
			return -EINVAL;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return (ssize_t)o;
}

int http_form_parse_str(void *ctx, const char *s, size_t len, struct http_form *out,
			const char **why)
{
	char *dec = talloc_size(ctx, len + HTTP_FORM_FIELDS * 2 + 2), *o = dec;
	const char *p = s, *end = s + len;

	out->n = 0;
	if (dec == NULL) {
		*why = "out of memory";
		return -ENOMEM;
	}
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p)), *eq;
		size_t plen = (size_t)((amp ? amp : end) - p);
		struct http_field *f;
		ssize_t n;

		if (plen == 0) {	/* "a=1&&b=2", a trailing '&' */
			p++;
			continue;
		}
		eq = memchr(p, '=', plen);
		if (eq == NULL || eq == p) {
			*why = "a form field without a name or '='";
			return -EINVAL;
		}
		if (out->n == HTTP_FORM_FIELDS) {
			*why = "more than 32 form fields";
			return -EINVAL;
		}
		if ((size_t)(eq - p) > HTTP_FORM_NAME_MAX * 3 ||
		    (size_t)(p + plen - eq - 1) > HTTP_FORM_VALUE_MAX * 3) {
			*why = "a form field name or value is too long";
			return -EINVAL;
		}
		f = &out->f[out->n];
		f->name = o;
		n = http_uri_decode(p, (size_t)(eq - p), true, o);
		if (n < 0)
			goto nul;
		f->nlen = (size_t)n;
		o += n + 1;
		f->value = o;
		n = http_uri_decode(eq + 1, (size_t)(p + plen - eq - 1), true, o);
		if (n < 0)
			goto nul;
		f->vlen = (size_t)n;
		o += n + 1;
		if (f->nlen > HTTP_FORM_NAME_MAX || f->vlen > HTTP_FORM_VALUE_MAX) {
			*why = "a form field name or value is too long";
			return -EINVAL;
		}
		out->n++;
		p += plen + (amp ? 1 : 0);
	}
	return 0;
nul:
	*why = "a form field holds a NUL character (%00)";
	return -EINVAL;
}

int http_form_parse(struct http_req *req, struct http_form *out, const char **why)
{
	if (req->method == HTTP_REQ_POST)
		return http_form_parse_str(req, http_req_body(req, NULL), req->body_len, out, why);
	return http_form_parse_str(req, req->query ? req->query : "", req->query_len, out, why);
}

const char *http_form_get(const struct http_form *f, const char *name)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->f[i].name, name) == 0)
			return f->f[i].value;
	return NULL;
}
