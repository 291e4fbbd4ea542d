/* libFuzzer harness for the HTTP server (channel/http.h): the input is what a client sends, fed
 * over a socketpair into the real connection state machine on a private event loop, cut
 * into writes of a size the first byte picks, with handlers that answer at once, answer
 * later (after the client may have gone) and read every accessor and the form parser.
 * Besides crashes it checks the promises: nothing is answered after a "Connection: close"
 * reply (no request smuggled past an error), every final response has a status line and a
 * Content-Length, and every connection ends once the client has gone. RFC 9112 is the
 * grammar. */
#define _GNU_SOURCE	/* memmem */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <talloc.h>
#include <unistd.h>

#include <event2/event.h>

#include "fuzzlib.h"

#include "channel/http.h"
#include "core/config.h"
#include "core/logging.h"

static struct event_base *base;
static struct http_server *hs;
static struct config_allow allow_local;

static void form_checks(const struct http_form *f)
{
	for (size_t i = 0; i < f->n; i++) {
		CHECK(strlen(f->f[i].name) == f->f[i].nlen && f->f[i].nlen > 0);
		CHECK(strlen(f->f[i].value) == f->f[i].vlen);
		CHECK(f->f[i].nlen <= HTTP_FORM_NAME_MAX && f->f[i].vlen <= HTTP_FORM_VALUE_MAX);
	}
}

/* Reads everything a handler may read. */
static void touch(struct http_req *req)
{
	struct http_form f;
	const char *why, *b;
	size_t len, plen, qlen;
	const char *p = http_req_path(req, &plen), *q = http_req_query(req, &qlen);

	CHECK(p && strlen(p) == plen && q && strlen(q) == qlen);
	b = http_req_body(req, &len);
	CHECK(b != NULL);
	(void)http_req_header(req, "content-type");
	(void)http_req_header(req, "X-Ceirgw-Token");
	(void)http_req_allowed(req, &allow_local);
	(void)http_req_token_ok(req, "fuzz-token");
	if (http_form_parse(req, &f, &why) == 0)
		form_checks(&f);
	else
		CHECK(why != NULL);
}

static void on_now(struct http_req *req, void *arg)
{
	touch(req);
	http_reply_header(req, "X-Kannel-Coding", "2");
	http_reply_lit(req, 200, "OK", "now\n");
}

static void reply_later(evutil_socket_t fd, short what, void *arg)
{
	http_reply_lit(arg, 200, "OK", "CON later");
}

static void on_later(struct http_req *req, void *arg)
{
	touch(req);
	event_base_once(base, -1, EV_TIMEOUT, reply_later, req, &(struct timeval){ 0, 0 });
}

static void on_error(struct http_req *req, void *arg)
{
	http_reply_error(req, 429, "Too Many Requests", "quota");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	signal(SIGPIPE, SIG_IGN);
	logging_setup("fuzz_http", LOGL_ERROR);	/* every bad request is logged at info */
	base = event_base_new();
	hs = http_server_create(NULL, base, NULL, 0, &(struct http_limits){ 16, 10, 30, { .all = true }, 16 },
				NULL, 0);
	CHECK(hs != NULL);
	CHECK(http_server_route(hs, "/ussd", false, on_later, NULL) == 0);
	CHECK(http_server_route(hs, "/sms", false, on_now, NULL) == 0);
	CHECK(http_server_route(hs, "/v1/", true, on_error, NULL) == 0);
	CHECK(config_parse_allow("127.0.0.1;::1;10.*.0.*", &allow_local) == 0);
	return 0;
}

/* Takes what the server wrote; checks each response line as it comes. */
struct seen {
	char buf[1 << 16];
	size_t len;
};

static bool drain(int fd, struct seen *s)
{
	char tmp[8192];
	ssize_t n;
	bool got = false;

	while ((n = read(fd, tmp, sizeof(tmp))) > 0) {
		size_t room = sizeof(s->buf) - s->len;

		if ((size_t)n > room)
			n = (ssize_t)room;
		memcpy(s->buf + s->len, tmp, (size_t)n);
		s->len += (size_t)n;
		got = true;
	}
	return got;
}

/* Walks the responses: each a status line, headers with a Content-Length, a body of that
 * length; none after one that said Connection: close. (With a HEAD among the requests only
 * the first is looked at: its reply has the length of a body it does not carry.) */
static void check_responses(const struct seen *s, bool head_requests)
{
	size_t off = 0;
	bool closed = false;

	while (off < s->len) {
		const char *r = s->buf + off, *end = memmem(r, s->len - off, "\r\n\r\n", 4);
		const char *cl;
		size_t hlen, blen;

		CHECK(!closed);		/* nothing after Connection: close */
		CHECK(s->len - off >= 9 && memcmp(r, "HTTP/1.", 7) == 0);
		if (end == NULL)
			return;		/* cut short by the buffer */
		hlen = (size_t)(end - r) + 4;
		if (memcmp(r + 8, " 100 ", 5) == 0) {	/* Expect: 100-continue's interim */
			off += hlen;
			continue;
		}
		closed = memmem(r, hlen, "\r\nConnection: close\r\n", 21) != NULL;
		cl = memmem(r, hlen, "\r\nContent-Length: ", 18);
		CHECK(cl != NULL);
		blen = strtoul(cl + 18, NULL, 10);
		if (head_requests)
			return;
		off += hlen + blen;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_in peer = { .sin_family = AF_INET };
	static struct seen s;
	size_t sent = 0, chunk;

	bool half_close;
	int sv[2], rounds;

	if (size < 1)
		return 0;
	chunk = 1 + (size_t)(data[0] & 0x7f) * 13;	/* 1 byte to 1.6 KiB a write */
	half_close = data[0] & 0x80;
	data++;
	size--;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
		return 0;
	peer.sin_addr.s_addr = htonl(0x7f000001);
	if (http_server_adopt(hs, sv[0], (struct sockaddr *)&peer, sizeof(peer)) < 0) {
		close(sv[1]);
		return 0;
	}
	s.len = 0;
	for (rounds = 0; rounds < 2000 && sent < size; rounds++) {
		size_t n = size - sent < chunk ? size - sent : chunk;
		ssize_t w = write(sv[1], data + sent, n);

		if (w > 0)
			sent += (size_t)w;
		else if (w < 0 && errno != EAGAIN)
			break;		/* the server closed: the rest is never read */
		event_base_loop(base, EVLOOP_NONBLOCK);
		event_base_loop(base, EVLOOP_NONBLOCK);	/* deferred replies */
		drain(sv[1], &s);
	}
	if (half_close)
		shutdown(sv[1], SHUT_WR);
	for (rounds = 0; rounds < 20; rounds++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		drain(sv[1], &s);
	}
	check_responses(&s, memmem(data, size, "HEAD", 4) != NULL);
	close(sv[1]);
	/* The client is gone: every connection must end, whatever state it was in. */
	for (rounds = 0; rounds < 100 && http_server_stats(hs)->connections > 0; rounds++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	CHECK(http_server_stats(hs)->connections == 0);
	return 0;
}
