/* The null server of the HTTP benchmark: a libevent evhttp server that answers "END ok" to every
 * request, the ceiling any USSD gateway on evhttp can reach on this machine.
 *   null-server [--ussd LAST] PORT [BODY]
 * BODY (default "END ok") is the text of every answer: the box-path benchmark (run-box.sh) has
 * smsbox's get-url call it with "ok", the null box's reply, which smsbox sends back as the MT.
 *
 * --ussd: the USSD benchmark over SMPP (run-ussd.sh) has smsbox's get-url pass the MO's
 * meta-data (meta=%D) and its text (text=%a). The answer then carries the header
 * X-Kannel-Meta-Data, which smsbox (accept-x-kannel-headers = true) puts on the reply, and
 * bearerbox turns into the TLVs of its submit_sm: its_session_info copied as it came (the
 * octetstring smpp-tlv of contrib/kannel/kannel-smpp-ussd.conf, URL-encoded octets), and
 * ussd_service_op 2 (USSR request: the session goes on), or 17 (PSSR response: it ends) when
 * the text is LAST. A request without a usable session gets no header.
 *
 * TCP_NODELAY: evhttp does not set it, and replies to pipelined requests then wait out the
 * client's delayed ACK (about 40 ms each). libevent 2.1.12 has no hook on accepted connections
 * (evhttp_set_newreqcb is 2.2), so the option is set on the listening socket, which Linux copies
 * to every accepted socket (as ceirgw does); the first request of every connection checks it with
 * getsockopt and sets it where it is missing, so that the ceiling holds on any kernel. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

static struct evbuffer *reply;
static const char *ussd_last;	/* --ussd: the text that ends a session; NULL: no --ussd */

/* The connection each socket was checked for: evhttp keeps one evhttp_connection per socket,
 * and its close callback forgets it, so a socket number reused by a later connection is checked
 * again. */
#define MAX_FD 65536
static struct evhttp_connection *checked[MAX_FD];

static void forget(struct evhttp_connection *evcon, void *arg)
{
	intptr_t fd = (intptr_t)arg;

	if (checked[fd] == evcon)
		checked[fd] = NULL;
}

/* Makes sure TCP_NODELAY is set on the connection of REQ, once a connection. */
static void nodelay(struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev;
	int one = 1, on = 0;
	socklen_t len = sizeof(on);
	evutil_socket_t fd;

	if (!evcon)
		return;
	bev = evhttp_connection_get_bufferevent(evcon);
	fd = bev ? bufferevent_getfd(bev) : -1;
	if (fd < 0 || fd >= MAX_FD || checked[fd] == evcon)
		return;
	checked[fd] = evcon;
	evhttp_connection_set_closecb(evcon, forget, (void *)(intptr_t)fd);
	if (getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len) == 0 && on)
		return;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* The value of its_session_info in META, Kannel's meta-data ("?smpp?ussd_service_op=%01&
 * its_session_info=%04%D2&"), still URL-encoded, into OUT (OUTLEN bytes with its NUL); 0 when
 * it is missing, too long or holds anything but printable ASCII (it goes into a header; Kannel
 * leaves some octets as they are, such as 0x21 "!"). */
static int session_of(const char *meta, char *out, size_t outlen)
{
	static const char key[] = "its_session_info=";
	const char *p = meta, *v;
	size_t n;

	while ((p = strstr(p, key)) != NULL) {
		if (p == meta || p[-1] == '?' || p[-1] == '&')
			break;
		p += sizeof(key) - 1;
	}
	if (!p)
		return 0;
	v = p + sizeof(key) - 1;
	n = strcspn(v, "&");
	if (n == 0 || n >= outlen)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (v[i] <= ' ' || v[i] > '~')
			return 0;
	memcpy(out, v, n);
	out[n] = '\0';
	return 1;
}

/* --ussd: the X-Kannel-Meta-Data header of the answer to REQ, when it has a session. */
static void ussd_meta(struct evhttp_request *req)
{
	struct evkeyvalq query;
	const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	const char *meta, *text;
	char session[64], header[128];

	if (!q || evhttp_parse_query_str(q, &query) != 0)
		return;
	meta = evhttp_find_header(&query, "meta");
	text = evhttp_find_header(&query, "text");
	if (meta && session_of(meta, session, sizeof(session))) {
		snprintf(header, sizeof(header), "?smpp?ussd_service_op=%s&its_session_info=%s",
			 text && strcmp(text, ussd_last) == 0 ? "%11" : "%02", session);
		evhttp_add_header(evhttp_request_get_output_headers(req), "X-Kannel-Meta-Data",
				  header);
	}
	evhttp_clear_headers(&query);
}

static void answer(struct evhttp_request *req, void *arg)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(req);

	(void)arg;
	nodelay(req);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/plain; charset=utf-8");
	if (ussd_last)
		ussd_meta(req);
	evbuffer_add(out, evbuffer_pullup(reply, -1), evbuffer_get_length(reply));
	evhttp_send_reply(req, HTTP_OK, "OK", NULL);
}

static int listen_on(int port)
{
	struct sockaddr_in sin;
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((unsigned short)port);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 || listen(fd, 1024) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void stop(evutil_socket_t sig, short what, void *base)
{
	(void)sig;
	(void)what;
	event_base_loopbreak(base);
}

int main(int argc, char **argv)
{
	struct event_base *base;
	struct evhttp *http;
	struct event *term;
	int fd, port;

	if (argc > 2 && strcmp(argv[1], "--ussd") == 0) {
		ussd_last = argv[2];
		argc -= 2;
		argv += 2;
	}
	if (argc < 2 || argc > 3 || (port = atoi(argv[1])) <= 0) {
		fprintf(stderr, "usage: %s [--ussd LAST] PORT [BODY]\n", argv[0]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	http = evhttp_new(base);
	reply = evbuffer_new();
	evbuffer_add_printf(reply, "%s", argc == 3 ? argv[2] : "END ok");
	fd = listen_on(port);
	if (fd < 0 || !evhttp_accept_socket_with_handle(http, fd)) {
		fprintf(stderr, "null-server: cannot listen on 127.0.0.1:%d: %s\n", port,
			strerror(errno));
		return 1;
	}
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	evhttp_set_gencb(http, answer, NULL);
	term = evsignal_new(base, SIGTERM, stop, base);
	event_add(term, NULL);
	event_base_dispatch(base);
	event_free(term);
	evhttp_free(http);
	evbuffer_free(reply);
	event_base_free(base);
	return 0;
}
