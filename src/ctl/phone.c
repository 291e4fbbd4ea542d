/* The phone simulator behind `ceirgwctl phone`. USSD and SMS go to the gateway the way an
 * aggregator forwards them (form posts; USSD answers "CON "/"END ", Africa's Talking style);
 * notifications arrive on Kannel's sendsms HTTP interface (Kannel user guide, "Sending SMS"). */
#include "ctl/phone.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <talloc.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "channel/http.h"
#include "core/utf8.h"
#include "domain/msisdn.h"

/* An input line longer than this (newline excluded) is refused. */
#define PHONE_LINE_MAX 1024
#define PHONE_INBUF (4 * PHONE_LINE_MAX)
/* Aggregators give a USSD callback about 10 s before they drop the session; a little more
 * here so that a slow gateway shows up as slow, not as unreachable. */
#define PHONE_HTTP_TIMEOUT_S 15
#define PHONE_MAX_BODY 65536

#define PHONE_DEFAULT_URL "http://127.0.0.1:8080"
#define PHONE_DEFAULT_CODE "*384#"
/* Kannel's sendsms-port default. */
#define PHONE_DEFAULT_LISTEN "127.0.0.1:13013"
/* MCC 639 (Kenya), MNC 02 (Safaricom). */
#define PHONE_DEFAULT_NETWORK "63902"
#define PHONE_DEFAULT_WIDTH 24
#define PHONE_WIDTH_MIN 10
#define PHONE_WIDTH_MAX 200
#define PHONE_LINGER_MAX 86400.0

/* What handsets show for any USSD failure, whatever its cause. */
#define PHONE_ERROR_SCREEN "Connection problem or invalid MMI code"

enum { PHONE_EXIT_OK = 0, PHONE_EXIT_ERROR = 1, PHONE_EXIT_USAGE = 2 };

enum phone_state {
	PHONE_IDLE,		/* no session: a line is a command */
	PHONE_USSD_BUSY,	/* a dial or an answer waits for the gateway's screen */
	PHONE_USSD_WAIT,	/* a CON screen is up: the next line answers it */
	PHONE_SMS_BUSY,		/* an SMS waits for the gateway's reply */
	PHONE_LINGER,		/* input ended: only notifications from now on */
	PHONE_DONE,
	PHONE__STATES
};

static const char *const phone_state_names[PHONE__STATES] = {
	[PHONE_IDLE] = "IDLE",
	[PHONE_USSD_BUSY] = "USSD_BUSY",
	[PHONE_USSD_WAIT] = "USSD_WAIT",
	[PHONE_SMS_BUSY] = "SMS_BUSY",
	[PHONE_LINGER] = "LINGER",
	[PHONE_DONE] = "DONE",
};

#define S(x) (1u << (x))
static const unsigned phone_transitions[PHONE__STATES] = {
	[PHONE_IDLE] = S(PHONE_USSD_BUSY) | S(PHONE_SMS_BUSY) | S(PHONE_LINGER) | S(PHONE_DONE),
	[PHONE_USSD_BUSY] = S(PHONE_USSD_WAIT) | S(PHONE_IDLE),
	[PHONE_USSD_WAIT] = S(PHONE_USSD_BUSY) | S(PHONE_IDLE),
	[PHONE_SMS_BUSY] = S(PHONE_IDLE),
	[PHONE_LINGER] = S(PHONE_DONE),
	[PHONE_DONE] = 0,
};
#undef S

/* One dial: freed when the session ends, locally or by the gateway. */
struct phone_session {
	char *id;		/* sessionId, "sim-<pid>-<n>" */
	char *service;		/* serviceCode, "*384#" */
	char *text;		/* every input so far joined by '*' */
};

struct phone {
	/* options */
	const char *msisdn;
	const char *url;
	const char *code;
	const char *listen;	/* NULL: no notifications */
	const char *network;
	double linger;
	int width;
	/* the gateway */
	char *sms_to;		/* digits of the service code */
	char *host_header;
	char *origin;		/* "http://host:port", for messages */
	char *ussd_path, *sms_path;
	/* the loop */
	struct event_base *base;
	struct evhttp_connection *evcon;
	struct http_server *server;
	struct event *stdin_ev;	/* one-shot: armed only while a line is wanted */
	struct event *pump_ev;	/* processes input outside of the HTTP callbacks */
	struct event *linger_ev;
	enum phone_state state;
	struct phone_session *session;
	unsigned dials;
	/* the request in flight */
	int req_error;		/* an enum evhttp_request_error, or -1 */
	struct timespec req_start;
	/* standard input */
	bool tty;
	bool in_direct;		/* fd 0 cannot be polled (a file): read it without waiting */
	bool in_eof;
	bool in_discard;	/* dropping the rest of an overlong line */
	bool prompt_shown;
	size_t in_len;
	char in[PHONE_INBUF];
	/* the outcome */
	bool unreachable;
};

static void phone_pump(struct phone *p);

static void phone_set_state(struct phone *p, enum phone_state to)
{
	if (!(phone_transitions[p->state] & (1u << to))) {
		fprintf(stderr, "phone: bug: no transition %s -> %s\n",
			phone_state_names[p->state], phone_state_names[to]);
		abort();
	}
	p->state = to;
}

/* Standard error after whatever standard output holds, so that a transcript taken with 2>&1
 * keeps its order. */
__attribute__((format(printf, 1, 2)))
static void phone_err(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("phone: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void phone_note(const char *note)
{
	printf("(%s)\n", note);
	fflush(stdout);
}

/* ---- screens -------------------------------------------------------------------------- */

/* Returns a copy of text that draws one column per code point: invalid UTF-8 and control
 * characters become '?', a tab a space, CR goes; trailing blank lines and spaces go too. */
static char *screen_clean(void *ctx, const char *text, size_t len)
{
	char *out = talloc_size(ctx, len + 1);
	size_t i = 0, o = 0, used;
	int32_t cp;

	if (out == NULL)
		return NULL;
	while (i < len) {
		cp = utf8_decode((const unsigned char *)text + i, len - i, &used);
		if (cp == '\r') {
			/* dropped */
		} else if (cp == '\t') {
			out[o++] = ' ';
		} else if (cp == '\n') {
			out[o++] = '\n';
		} else if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) {
			out[o++] = '?';	/* also cp == -1: one invalid byte */
		} else {
			memcpy(out + o, text + i, used);
			o += used;
		}
		i += used;
	}
	while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == '\n'))
		o--;
	out[o] = '\0';
	return out;
}

/* Bytes of the code point at s (valid UTF-8 after screen_clean). */
static size_t cp_len(const char *s)
{
	unsigned char c = (unsigned char)*s;

	return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

static int cp_count(const char *s, const char *end)
{
	int n = 0;

	for (; s < end; s += cp_len(s))
		n++;
	return n;
}

static void frame_rule(int width)
{
	int i;

	putchar('+');
	for (i = 0; i < width; i++)
		putchar('-');
	puts("+");
}

/* One line inside the frame, trailing spaces dropped. */
static void frame_line(int width, const char *s, const char *end)
{
	int cols;

	while (end > s && end[-1] == ' ')
		end--;
	cols = cp_count(s, end);
	fputs("| ", stdout);
	fwrite(s, 1, (size_t)(end - s), stdout);
	for (; cols < width - 2; cols++)
		putchar(' ');
	puts(" |");
}

/* Wraps one paragraph (no newline in [s, end)) at spaces into width - 2 columns; a word
 * longer than a line is cut. Spaces at the start of a wrapped line are dropped, the
 * paragraph's own indentation is kept. */
static void frame_paragraph(int width, const char *s, const char *end)
{
	const int tw = width - 2;
	const char *start = s, *stop = s, *i = s, *j;
	int cols = 0, n;
	bool wrapped = false;

	while (i < end) {
		j = i;
		if (*i == ' ') {
			while (j < end && *j == ' ')
				j++;
			n = (int)(j - i);
			if (cols == 0 && wrapped) {
				start = stop = j;
			} else if (cols + n <= tw) {
				stop = j;
				cols += n;
			} else {
				frame_line(width, start, stop);
				wrapped = true;
				start = stop = j;
				cols = 0;
			}
			i = j;
			continue;
		}
		for (n = 0; j < end && *j != ' '; j += cp_len(j))
			n++;
		if (cols + n <= tw) {
			stop = j;
			cols += n;
		} else if (n <= tw) {
			frame_line(width, start, stop);
			wrapped = true;
			start = i;
			stop = j;
			cols = n;
		} else {
			if (cols > 0)
				frame_line(width, start, stop);
			for (; n > tw; n -= tw) {
				const char *cut = i;
				int k;

				for (k = 0; k < tw; k++)
					cut += cp_len(cut);
				frame_line(width, i, cut);
				i = cut;
			}
			wrapped = true;
			start = i;
			stop = j;
			cols = n;
		}
		i = j;
	}
	frame_line(width, start, stop);
}

/* Draws text as a handset screen of --width columns inside a frame. */
static void phone_screen(struct phone *p, const char *text, size_t len)
{
	char *clean = screen_clean(p, text, len);
	const char *s, *nl;

	if (clean == NULL) {
		phone_err("out of memory");
		return;
	}
	frame_rule(p->width);
	for (s = clean;; s = nl + 1) {
		nl = strchr(s, '\n');
		frame_paragraph(p->width, s, nl ? nl : s + strlen(s));
		if (nl == NULL)
			break;
	}
	frame_rule(p->width);
	fflush(stdout);
	talloc_free(clean);
}

static void phone_sms(struct phone *p, const char *from, const char *text, size_t len)
{
	char *clean = screen_clean(p, from, strlen(from));

	printf("[SMS from %s]\n", clean ? clean : "?");
	talloc_free(clean);
	phone_screen(p, text, len);
}

/* ---- standard input ------------------------------------------------------------------- */

static const char *phone_prompt(const struct phone *p)
{
	return p->state == PHONE_USSD_WAIT ? "reply> " : "phone> ";
}

static void prompt_show(struct phone *p)
{
	if (!p->tty || p->prompt_shown)
		return;
	fputs(phone_prompt(p), stdout);
	fflush(stdout);
	p->prompt_shown = true;
}

/* Output that arrives while the prompt waits for the user goes on a line of its own, and the
 * prompt comes back under it. */
static void async_begin(struct phone *p)
{
	if (p->prompt_shown)
		putchar('\n');
}

static void async_end(struct phone *p)
{
	if (p->prompt_shown) {
		p->prompt_shown = false;
		prompt_show(p);
	}
}

/* Reads what standard input has (once: never blocks where fd 0 was polled). */
static void input_fill(struct phone *p)
{
	ssize_t n = read(0, p->in + p->in_len, sizeof(p->in) - p->in_len);

	if (n > 0) {
		p->in_len += (size_t)n;
	} else if (n == 0) {
		p->in_eof = true;
	} else if (errno != EINTR && errno != EAGAIN) {
		phone_err("cannot read standard input: %s", strerror(errno));
		p->in_eof = true;
	}
}

static void input_drop(struct phone *p, size_t n)
{
	memmove(p->in, p->in + n, p->in_len - n);
	p->in_len -= n;
}

static void input_refuse(void)
{
	printf("(line too long: at most %d bytes)\n", PHONE_LINE_MAX);
	fflush(stdout);
}

/* Takes the next line (without its newline or CR) into line. Returns 1 with a line, 0 when
 * more input is needed, -1 at the end of input. */
static int input_take(struct phone *p, char *line, size_t *len)
{
	char *nl;
	size_t n;

	for (;;) {
		nl = memchr(p->in, '\n', p->in_len);
		if (nl == NULL) {
			if (p->in_len > PHONE_LINE_MAX) {
				if (!p->in_discard)
					input_refuse();
				p->in_discard = true;
				p->in_len = 0;
			}
			if (!p->in_eof)
				return 0;
			if (p->in_len == 0 || p->in_discard)
				return -1;
			n = p->in_len;	/* a last line without its newline */
		} else {
			n = (size_t)(nl - p->in);
		}
		if (p->in_discard) {
			p->in_discard = false;
			input_drop(p, n + 1);
			continue;
		}
		if (n > PHONE_LINE_MAX) {
			input_refuse();
			input_drop(p, n + 1);
			continue;
		}
		memcpy(line, p->in, n);
		input_drop(p, nl ? n + 1 : n);
		if (n > 0 && line[n - 1] == '\r')
			n--;
		line[n] = '\0';
		*len = n;
		return 1;
	}
}

static void on_stdin(evutil_socket_t fd, short what, void *arg)
{
	struct phone *p = arg;

	(void)fd;
	(void)what;
	p->prompt_shown = false;
	input_fill(p);
	phone_pump(p);
}

/* ---- requests to the gateway ---------------------------------------------------------- */

/* Appends key=value, value percent-encoded (space as %20: no reader takes it wrongly).
 * Returns 0 or -ENOMEM. */
static int form_add(struct evbuffer *form, const char *key, const char *val)
{
	char *enc = evhttp_uriencode(val, (ev_ssize_t)strlen(val), 0);
	int rc;

	if (enc == NULL)
		return -ENOMEM;
	rc = evbuffer_add_printf(form, "%s%s=%s", evbuffer_get_length(form) ? "&" : "", key,
				 enc);
	free(enc);
	return rc < 0 ? -ENOMEM : 0;
}

static void on_reply(struct evhttp_request *req, void *arg);

static void on_reply_error(enum evhttp_request_error error, void *arg)
{
	struct phone *p = arg;

	p->req_error = (int)error;
}

/* Why a request got no HTTP answer. libevent reports a refused connection and a connect
 * timeout alike (the callback with status 0 and no error), so the clock tells them apart. */
static const char *transport_reason(const struct phone *p)
{
	struct timespec now;

	switch (p->req_error) {
	case EVREQ_HTTP_TIMEOUT: return "timed out";
	case EVREQ_HTTP_EOF: return "connection closed without an answer";
	case EVREQ_HTTP_INVALID_HEADER: return "not an HTTP answer";
	case EVREQ_HTTP_BUFFER_ERROR: return "read error";
	case EVREQ_HTTP_DATA_TOO_LONG: return "answer too long";
	case EVREQ_HTTP_REQUEST_CANCEL: return "request cancelled";
	default: break;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec - p->req_start.tv_sec >= PHONE_HTTP_TIMEOUT_S)
		return "timed out";
	return "connection refused";
}

/* POSTs form to path. The answer comes to on_reply, maybe before this returns (libevent
 * reports a connection refused at once). Returns 0 or -errno. */
static int phone_post(struct phone *p, const char *path, struct evbuffer *form)
{
	struct evhttp_request *req = evhttp_request_new(on_reply, p);
	struct evkeyvalq *h;

	if (req == NULL)
		return -ENOMEM;
	evhttp_request_set_error_cb(req, on_reply_error);
	h = evhttp_request_get_output_headers(req);
	if (evhttp_add_header(h, "Host", p->host_header) < 0 ||
	    evhttp_add_header(h, "Content-Type", "application/x-www-form-urlencoded") < 0 ||
	    evbuffer_add_buffer(evhttp_request_get_output_buffer(req), form) < 0) {
		evhttp_request_free(req);
		return -ENOMEM;
	}
	p->req_error = -1;
	clock_gettime(CLOCK_MONOTONIC, &p->req_start);
	/* libevent fails here only when it cannot copy the URI, and has freed req then */
	if (evhttp_make_request(p->evcon, req, EVHTTP_REQ_POST, path) < 0)
		return -EIO;
	return 0;
}

/* POSTs the form of the n pairs kv (key, value) to path, in state busy (set first: the
 * answer may come before phone_post returns). Says why it could not (what: "USSD", "SMS"),
 * the gateway unreachable then. Returns 0 or -errno. */
static int send_form(struct phone *p, enum phone_state busy, const char *path,
		     const char *const (*kv)[2], size_t n, const char *what)
{
	struct evbuffer *form = evbuffer_new();
	int rc = form ? 0 : -ENOMEM;

	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = form_add(form, kv[i][0], kv[i][1]);
	phone_set_state(p, busy);
	if (rc == 0)
		rc = phone_post(p, path, form);
	if (form)
		evbuffer_free(form);
	if (rc < 0) {
		phone_err("%s: cannot send the request: %s", what, strerror(-rc));
		p->unreachable = true;
	}
	return rc;
}

static void session_end(struct phone *p)
{
	TALLOC_FREE(p->session);
	phone_set_state(p, PHONE_IDLE);
}

/* Splits an aggregator answer: "CON text" or "END text" (the word alone: an empty screen).
 * Returns 1 for CON, 0 for END, -EINVAL for anything else. */
static int ussd_parse_answer(const char *body, size_t len, const char **text, size_t *tlen)
{
	int con;

	if (len < 3)
		return -EINVAL;
	if (memcmp(body, "CON", 3) == 0)
		con = 1;
	else if (memcmp(body, "END", 3) == 0)
		con = 0;
	else
		return -EINVAL;
	if (len > 3 && body[3] != ' ')
		return -EINVAL;
	*text = len > 3 ? body + 4 : body + 3;
	*tlen = len > 3 ? len - 4 : 0;
	return con;
}

static void ussd_failed(struct phone *p)
{
	phone_screen(p, PHONE_ERROR_SCREEN, strlen(PHONE_ERROR_SCREEN));
	session_end(p);
}

static void ussd_reply(struct phone *p, int code, const char *body, size_t len)
{
	const char *text;
	size_t tlen;
	int con;

	if (code == 0) {
		ussd_failed(p);
		return;
	}
	con = ussd_parse_answer(body, len, &text, &tlen);
	if (code != 200 || con < 0) {
		if (code != 200)
			phone_err("USSD: %s%s answered HTTP %d", p->origin, p->ussd_path, code);
		else
			phone_err("USSD: %s%s answered without CON or END", p->origin, p->ussd_path);
		ussd_failed(p);
		return;
	}
	phone_screen(p, text, tlen);
	if (con) {
		phone_set_state(p, PHONE_USSD_WAIT);
	} else {
		phone_note("session ended");
		session_end(p);
	}
}

static void sms_reply(struct phone *p, int code, const char *body, size_t len)
{
	size_t i;

	if (code == 200) {
		for (i = 0; i < len && strchr(" \t\r\n", body[i]); i++)
			;
		if (i == len)
			phone_note("no reply");
		else
			phone_sms(p, p->sms_to, body, len);
	} else {
		if (code != 0)
			phone_err("SMS: %s%s answered HTTP %d", p->origin, p->sms_path, code);
		phone_note("message not sent");
	}
	phone_set_state(p, PHONE_IDLE);
}

/* The gateway's answer, or NULL / status 0 when there was none. Only shows it and moves the
 * state on; the next input line is taken in pump_ev's pass, not inside libevent's callback. */
static void on_reply(struct evhttp_request *req, void *arg)
{
	struct phone *p = arg;
	int code = req ? evhttp_request_get_response_code(req) : 0;
	struct evbuffer *in = NULL;
	const char *body = NULL;
	size_t len = 0;

	if (code == 0) {
		/* an answer that is not HTTP or too big came from the gateway all the same */
		phone_err("%s %s: %s", p->req_error == EVREQ_HTTP_INVALID_HEADER ||
			  p->req_error == EVREQ_HTTP_DATA_TOO_LONG ? "bad answer from" :
			  "cannot reach", p->url, transport_reason(p));
		p->unreachable = true;
	} else {
		in = evhttp_request_get_input_buffer(req);
		len = evbuffer_get_length(in);
		body = len ? (const char *)evbuffer_pullup(in, -1) : "";
		if (body == NULL) {
			body = "";
			len = 0;
		}
	}
	if (p->state == PHONE_USSD_BUSY)
		ussd_reply(p, code, body, len);
	else if (p->state == PHONE_SMS_BUSY)
		sms_reply(p, code, body, len);
	event_active(p->pump_ev, 0, 0);
}

/* Sends the session's text so far. */
static void ussd_send(struct phone *p)
{
	const char *const kv[][2] = {
		{ "sessionId", p->session->id }, { "serviceCode", p->session->service },
		{ "phoneNumber", p->msisdn }, { "text", p->session->text },
		{ "networkCode", p->network },
	};

	if (send_form(p, PHONE_USSD_BUSY, p->ussd_path, kv, sizeof(kv) / sizeof(kv[0]),
		      "USSD") < 0)
		ussd_failed(p);
}

/* Reads "*384*1*2#" as service code "*384#" and text "1*2". Returns 0 or -EINVAL. */
static int ussd_split(const char *code, size_t len, size_t *svc_digits, size_t *text_at)
{
	size_t i, n;

	if (len < 3 || code[0] != '*' || code[len - 1] != '#')
		return -EINVAL;
	for (n = 1; n < len - 1 && code[n] >= '0' && code[n] <= '9'; n++)
		;
	if (n == 1 || (code[n] != '*' && code[n] != '#'))
		return -EINVAL;
	for (i = n; i < len - 1; i++)
		if (code[i] != '*' && (code[i] < '0' || code[i] > '9'))
			return -EINVAL;
	*svc_digits = n - 1;
	*text_at = n < len - 1 ? n + 1 : len - 1;
	return 0;
}

static void ussd_dial(struct phone *p, const char *code, size_t len)
{
	size_t digits, text_at;

	if (ussd_split(code, len, &digits, &text_at) < 0) {
		printf("(not a USSD code: %s)\n", code);
		fflush(stdout);
		return;
	}
	p->session = talloc_zero(p, struct phone_session);
	if (p->session) {
		p->session->id = talloc_asprintf(p->session, "sim-%ld-%u", (long)getpid(),
						 ++p->dials);
		p->session->service = talloc_asprintf(p->session, "*%.*s#", (int)digits,
						      code + 1);
		p->session->text = talloc_strndup(p->session, code + text_at,
						  len - 1 - text_at);
	}
	if (p->session == NULL || p->session->id == NULL || p->session->service == NULL ||
	    p->session->text == NULL) {
		phone_err("out of memory");
		TALLOC_FREE(p->session);
		return;
	}
	ussd_send(p);
}

static void ussd_answer(struct phone *p, const char *answer)
{
	char *text = p->session->text[0] ?
		talloc_asprintf(p->session, "%s*%s", p->session->text, answer) :
		talloc_strdup(p->session, answer);

	if (text == NULL) {
		phone_err("out of memory");
		return;
	}
	talloc_free(p->session->text);
	p->session->text = text;
	ussd_send(p);
}

static void sms_send(struct phone *p, const char *text)
{
	const char *const kv[][2] = { { "from", p->msisdn }, { "to", p->sms_to }, { "text", text } };

	if (send_form(p, PHONE_SMS_BUSY, p->sms_path, kv, sizeof(kv) / sizeof(kv[0]), "SMS") < 0) {
		phone_note("message not sent");
		phone_set_state(p, PHONE_IDLE);
	}
}

/* ---- notifications (Kannel sendsms) --------------------------------------------------- */

/* Whether any number in to (Kannel takes several, space-separated) is ours, digits only. */
static bool sms_for_us(const struct phone *p, const char *to)
{
	const char *m, *t = to;

	while (*t) {
		while (*t == ' ' || *t == '+')
			t++;
		if (*t == '\0')
			break;
		for (m = p->msisdn; *m == '+'; m++)
			;
		while (*t && *t != ' ' && *m && *t == *m) {
			t++;
			m++;
		}
		if ((*t == '\0' || *t == ' ') && *m == '\0')
			return true;
		while (*t && *t != ' ')
			t++;
	}
	return false;
}

static void on_sendsms(struct http_req *req, void *arg)
{
	static const char accepted[] = "0: Accepted for delivery";
	struct phone *p = arg;
	struct http_form query, body;
	const char *to, *from, *text, *charset, *why;
	char masked[32];

	/* Fields of the POST form first, then of the query, as smsbox reads them. */
	if (http_form_parse_str(req, http_req_query(req, NULL), strlen(http_req_query(req, NULL)),
				&query, &why) < 0)
		query.n = 0;
	body.n = 0;
	if (http_req_method(req) == HTTP_REQ_POST) {
		size_t len;
		const char *b = http_req_body(req, &len);

		if (http_form_parse_str(req, b, len, &body, &why) < 0)
			body.n = 0;
	}
#define FIELD(k) (http_form_get(&body, k) ? http_form_get(&body, k) : http_form_get(&query, k))
	to = FIELD("to");
	from = FIELD("from");
	text = FIELD("text");
	charset = FIELD("charset");
#undef FIELD
	async_begin(p);
	if (to && sms_for_us(p, to)) {
		if (charset && strcasecmp(charset, "UTF-8") != 0 && strcasecmp(charset, "UTF8") != 0)
			phone_err("SMS in charset %s shown as UTF-8", charset);
		phone_sms(p, from ? from : "unknown", text ? text : "", text ? strlen(text) : 0);
	} else {
		msisdn_mask(to ? to : "", to ? strlen(to) : 0, masked, sizeof(masked));
		phone_err("ignored an SMS for %s", to ? masked : "nobody (no 'to')");
	}
	async_end(p);
	/* Kannel's answer whatever it does with the message (the fields above live in req). */
	http_reply(req, 202, "Accepted", "text/plain", accepted, sizeof(accepted) - 1);
}

/* ---- the session ---------------------------------------------------------------------- */

static void phone_help(const struct phone *p)
{
	printf("  *CODE#      dial a USSD code (*384*1# dials *384# and sends 1)\n"
	       "  dial        dial %s\n"
	       "  sms TEXT    text TEXT to %s\n"
	       "  help        this list\n"
	       "  quit        leave (so does the end of input)\n"
	       "While a USSD screen waits, a line answers it; an empty line or \"cancel\" ends the\n"
	       "session.\n", p->code, p->sms_to);
	fflush(stdout);
}

static void on_linger(evutil_socket_t fd, short what, void *arg)
{
	struct phone *p = arg;

	(void)fd;
	(void)what;
	phone_set_state(p, PHONE_DONE);
	event_base_loopexit(p->base, NULL);
}

/* End of input or "quit": a session still waiting is dropped, then notifications get
 * --linger seconds. */
static void phone_input_end(struct phone *p)
{
	struct timeval tv;

	if (p->state == PHONE_USSD_WAIT) {
		phone_note("session cancelled");
		session_end(p);
	}
	if (p->server && p->linger > 0) {
		phone_set_state(p, PHONE_LINGER);
		tv.tv_sec = (time_t)p->linger;
		tv.tv_usec = (suseconds_t)((p->linger - (double)tv.tv_sec) * 1e6);
		evtimer_add(p->linger_ev, &tv);
	} else {
		phone_set_state(p, PHONE_DONE);
		event_base_loopexit(p->base, NULL);
	}
}

static bool word_is(const char *s, size_t len, const char *word)
{
	return len == strlen(word) && strncasecmp(s, word, len) == 0;
}

static void phone_line(struct phone *p, char *line, size_t len)
{
	size_t n;

	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		line[--len] = '\0';
	while (len > 0 && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	if (!p->tty) {
		printf("%s%s\n", phone_prompt(p), line);
		fflush(stdout);
	}
	if (p->state == PHONE_USSD_WAIT) {
		if (len == 0 || word_is(line, len, "cancel")) {
			phone_note("session cancelled");
			session_end(p);
		} else {
			ussd_answer(p, line);
		}
		return;
	}
	for (n = 0; n < len && line[n] != ' '; n++)
		;
	if (len == 0)
		return;
	if (line[0] == '*' || line[0] == '#') {
		ussd_dial(p, line, len);
	} else if (word_is(line, n, "dial")) {
		while (n < len && line[n] == ' ')
			n++;
		if (n == len)
			ussd_dial(p, p->code, strlen(p->code));
		else
			ussd_dial(p, line + n, len - n);
	} else if (word_is(line, n, "sms")) {
		if (n == len) {
			phone_note("usage: sms TEXT");
		} else {
			while (line[n] == ' ')
				n++;
			sms_send(p, line + n);
		}
	} else if (word_is(line, len, "help")) {
		phone_help(p);
	} else if (word_is(line, len, "quit") || word_is(line, len, "exit")) {
		p->in_eof = true;
		p->in_len = 0;
		phone_input_end(p);
	} else {
		printf("(unknown command: %.*s; type help)\n", (int)n, line);
		fflush(stdout);
	}
}

/* Takes lines one at a time while nothing waits for the gateway: the next line is read only
 * once the answer to the previous one is on the screen. */
static void phone_pump(struct phone *p)
{
	char line[PHONE_LINE_MAX + 1];
	size_t len;
	int rc;

	while (p->state == PHONE_IDLE || p->state == PHONE_USSD_WAIT) {
		rc = input_take(p, line, &len);
		if (rc > 0) {
			phone_line(p, line, len);
			continue;
		}
		if (rc < 0) {
			if (p->tty)
				putchar('\n');
			phone_input_end(p);
			return;
		}
		if (p->in_direct) {
			input_fill(p);
			continue;
		}
		if (event_add(p->stdin_ev, NULL) < 0) {	/* unpollable after all: read it */
			p->in_direct = true;
			continue;
		}
		prompt_show(p);
		return;
	}
}

static void on_pump(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	phone_pump(arg);
}

/* ---- setup ---------------------------------------------------------------------------- */

static int phone_destructor(struct phone *p)
{
	if (p->stdin_ev)
		event_free(p->stdin_ev);
	if (p->pump_ev)
		event_free(p->pump_ev);
	if (p->linger_ev)
		event_free(p->linger_ev);
	if (p->evcon)
		evhttp_connection_free(p->evcon);
	TALLOC_FREE(p->server);
	if (p->base)
		event_base_free(p->base);
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: ceirgwctl phone --msisdn NUMBER [OPTION]...\n"
		"A feature phone on the terminal: dials USSD codes and texts the short code through\n"
		"the gateway, and shows the SMS the gateway sends (it answers as Kannel's sendsms).\n"
		"\n"
		"  --msisdn NUMBER      the phone's own number, sent as given (required)\n"
		"  --url URL            the gateway (default " PHONE_DEFAULT_URL ")\n"
		"  --code CODE          the service code: \"dial\" dials it, \"sms\" texts its digits\n"
		"                       (default " PHONE_DEFAULT_CODE ")\n"
		"  --listen HOST:PORT   where notifications arrive, or none\n"
		"                       (default " PHONE_DEFAULT_LISTEN ")\n"
		"  --linger SECONDS     after the end of input, wait this long for notifications\n"
		"                       (default 0)\n"
		"  --network-code CODE  MCC and MNC sent with USSD (default " PHONE_DEFAULT_NETWORK
		")\n"
		"  --width COLUMNS      screen width inside the frame (default %d)\n"
		"  -h, --help           this help\n"
		"\n"
		"Commands: *CODE# (dial), dial, sms TEXT, help, quit. While a USSD screen waits, a\n"
		"line answers it; an empty line or \"cancel\" ends the session.\n",
		PHONE_DEFAULT_WIDTH);
}

/* Splits HOST:PORT ("[::1]:13013" too) into host (a talloc string) and port. Returns 0 or
 * -EINVAL. */
static int parse_hostport(void *ctx, const char *s, char **host, int *port)
{
	const char *colon = strrchr(s, ':');
	const char *h = s, *hend = colon;
	char *end;
	long v;

	if (colon == NULL || colon == s)
		return -EINVAL;
	if (*h == '[' && hend[-1] == ']') {
		h++;
		hend--;
	}
	errno = 0;
	v = strtol(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end || v < 1 || v > 65535 || hend <= h)
		return -EINVAL;
	*host = talloc_strndup(ctx, h, (size_t)(hend - h));
	*port = (int)v;
	return *host ? 0 : -ENOMEM;
}

/* Resolves host once, before the loop runs: evhttp would do it blocking at each connect. */
static char *resolve(void *ctx, const char *host)
{
	struct addrinfo hints, *res = NULL;
	char num[NI_MAXHOST];
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc != 0) {
		fprintf(stderr, "phone: cannot resolve %s: %s\n", host, gai_strerror(rc));
		return NULL;
	}
	rc = getnameinfo(res->ai_addr, res->ai_addrlen, num, sizeof(num), NULL, 0,
			 NI_NUMERICHOST);
	freeaddrinfo(res);
	if (rc != 0) {
		fprintf(stderr, "phone: cannot resolve %s: %s\n", host, gai_strerror(rc));
		return NULL;
	}
	return talloc_strdup(ctx, num);
}

/* Reads --url into the connection, the Host header and the two paths. Returns 0, -EINVAL
 * (a URL we cannot use: usage) or -EHOSTUNREACH (a host that does not resolve). */
static int gateway_setup(struct phone *p)
{
	struct evhttp_uri *uri = evhttp_uri_parse(p->url);
	const char *scheme, *host, *path;
	char *name, *addr;
	size_t plen;
	int port, rc = -EINVAL;

	if (uri == NULL)
		goto out;
	scheme = evhttp_uri_get_scheme(uri);
	host = evhttp_uri_get_host(uri);
	path = evhttp_uri_get_path(uri);
	port = evhttp_uri_get_port(uri);
	if (scheme == NULL || strcasecmp(scheme, "http") != 0 || host == NULL || !*host ||
	    evhttp_uri_get_query(uri) || evhttp_uri_get_fragment(uri))
		goto out;
	if (port < 0)
		port = 80;
	p->host_header = port == 80 ? talloc_strdup(p, host) :
		talloc_asprintf(p, "%s:%d", host, port);
	p->origin = talloc_asprintf(p, "http://%s", p->host_header);
	/* libevent keeps the brackets of an IPv6 literal */
	if (host[0] == '[')
		name = talloc_strndup(p, host + 1, strcspn(host + 1, "]"));
	else
		name = talloc_strdup(p, host);
	plen = path ? strlen(path) : 0;
	while (plen > 0 && path[plen - 1] == '/')
		plen--;
	p->ussd_path = talloc_asprintf(p, "%.*s/ussd", (int)plen, path ? path : "");
	p->sms_path = talloc_asprintf(p, "%.*s/sms", (int)plen, path ? path : "");
	rc = -ENOMEM;
	if (p->host_header == NULL || p->origin == NULL || name == NULL || p->ussd_path == NULL ||
	    p->sms_path == NULL)
		goto out;
	addr = resolve(p, name);
	talloc_free(name);
	rc = -EHOSTUNREACH;
	if (addr == NULL)
		goto out;
	rc = -ENOMEM;
	p->evcon = evhttp_connection_base_new(p->base, NULL, addr, (unsigned short)port);
	talloc_free(addr);
	if (p->evcon == NULL)
		goto out;
	evhttp_connection_set_timeout(p->evcon, PHONE_HTTP_TIMEOUT_S);
	evhttp_connection_set_max_body_size(p->evcon, PHONE_MAX_BODY);
	evhttp_connection_set_retries(p->evcon, 0);
	rc = 0;
out:
	if (uri)
		evhttp_uri_free(uri);
	return rc;
}

/* Opens --listen and serves /cgi-bin/sendsms. Returns 0 or -errno (said on stderr). */
static int listen_setup(struct phone *p)
{
	char err[256], *host;
	int port;

	if (parse_hostport(p, p->listen, &host, &port) < 0)
		return -EINVAL;
	p->server = http_server_create(p, p->base, host, port,
				       &(struct http_limits){ 64, 10, 30, { .all = true }, 64 },
				       err, sizeof(err));
	talloc_free(host);
	if (p->server == NULL) {
		fprintf(stderr, "phone: %s\n", err);
		return -EADDRINUSE;
	}
	if (http_server_route(p->server, "/cgi-bin/sendsms", false, on_sendsms, p) < 0)
		return -ENOMEM;
	return 0;
}

/* Reads the options into p. Returns 0, or PHONE_EXIT_USAGE after saying why. */
static int parse_options(struct phone *p, int argc, char **argv)
{
	enum { OPT_MSISDN = 256, OPT_URL, OPT_CODE, OPT_LISTEN, OPT_LINGER, OPT_NETWORK,
		OPT_WIDTH };
	static const struct option opts[] = {
		{ "msisdn", required_argument, NULL, OPT_MSISDN },
		{ "url", required_argument, NULL, OPT_URL },
		{ "code", required_argument, NULL, OPT_CODE },
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ "linger", required_argument, NULL, OPT_LINGER },
		{ "network-code", required_argument, NULL, OPT_NETWORK },
		{ "width", required_argument, NULL, OPT_WIDTH },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	size_t digits, text_at, i;
	char *end, *host;
	long width;
	int opt, port;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_MSISDN: p->msisdn = optarg; break;
		case OPT_URL: p->url = optarg; break;
		case OPT_CODE: p->code = optarg; break;
		case OPT_LISTEN: p->listen = optarg; break;
		case OPT_NETWORK: p->network = optarg; break;
		case OPT_LINGER:
			errno = 0;
			p->linger = strtod(optarg, &end);
			if (errno || end == optarg || *end || !isfinite(p->linger) ||
			    p->linger < 0 || p->linger > PHONE_LINGER_MAX) {
				fprintf(stderr, "phone: --linger wants seconds from 0 to %.0f\n",
					PHONE_LINGER_MAX);
				return PHONE_EXIT_USAGE;
			}
			break;
		case OPT_WIDTH:
			errno = 0;
			width = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || width < PHONE_WIDTH_MIN ||
			    width > PHONE_WIDTH_MAX) {
				fprintf(stderr, "phone: --width wants %d to %d columns\n",
					PHONE_WIDTH_MIN, PHONE_WIDTH_MAX);
				return PHONE_EXIT_USAGE;
			}
			p->width = (int)width;
			break;
		case 'h':
			usage(stdout);
			return -1;
		default:
			usage(stderr);
			return PHONE_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "phone: unexpected argument '%s'\n", argv[optind]);
		return PHONE_EXIT_USAGE;
	}
	if (p->msisdn == NULL) {
		fprintf(stderr, "phone: --msisdn is required\n");
		return PHONE_EXIT_USAGE;
	}
	for (i = p->msisdn[0] == '+'; p->msisdn[i] >= '0' && p->msisdn[i] <= '9'; i++)
		;
	if (p->msisdn[i] != '\0' || i < 3) {
		fprintf(stderr, "phone: --msisdn wants digits, with a leading + or not\n");
		return PHONE_EXIT_USAGE;
	}
	if (ussd_split(p->code, strlen(p->code), &digits, &text_at) < 0) {
		fprintf(stderr, "phone: --code wants a USSD code such as *384#\n");
		return PHONE_EXIT_USAGE;
	}
	p->sms_to = talloc_strndup(p, p->code + 1, digits);
	if (p->sms_to == NULL)
		return PHONE_EXIT_ERROR;
	if (strcmp(p->listen, "none") == 0) {
		p->listen = NULL;
	} else if (parse_hostport(p, p->listen, &host, &port) < 0) {
		fprintf(stderr, "phone: --listen wants HOST:PORT or none\n");
		return PHONE_EXIT_USAGE;
	} else {
		talloc_free(host);
	}
	return 0;
}

/* Whether standard input is a file or a device such as /dev/null: reading those never
 * blocks, and epoll refuses them (libevent would warn on stderr). */
static bool stdin_never_blocks(bool tty)
{
	struct stat st;

	if (fstat(0, &st) < 0)
		return true;	/* closed: read() says so at once */
	return S_ISREG(st.st_mode) || S_ISBLK(st.st_mode) || (S_ISCHR(st.st_mode) && !tty);
}

static int phone_run(struct phone *p, int argc, char **argv)
{
	int rc;

	p->url = PHONE_DEFAULT_URL;
	p->code = PHONE_DEFAULT_CODE;
	p->listen = PHONE_DEFAULT_LISTEN;
	p->network = PHONE_DEFAULT_NETWORK;
	p->width = PHONE_DEFAULT_WIDTH;
	p->req_error = -1;
	rc = parse_options(p, argc, argv);
	if (rc != 0)
		return rc < 0 ? PHONE_EXIT_OK : rc;

	p->base = event_base_new();
	if (p->base == NULL) {
		fprintf(stderr, "phone: cannot create the event loop\n");
		return PHONE_EXIT_ERROR;
	}
	rc = gateway_setup(p);
	if (rc == -EINVAL) {
		fprintf(stderr, "phone: --url wants http://HOST[:PORT][/PATH], not %s\n", p->url);
		return PHONE_EXIT_USAGE;
	}
	if (rc < 0)
		return PHONE_EXIT_ERROR;
	if (p->listen && listen_setup(p) < 0)
		return PHONE_EXIT_ERROR;
	p->stdin_ev = event_new(p->base, 0, EV_READ, on_stdin, p);
	p->pump_ev = event_new(p->base, -1, 0, on_pump, p);
	p->linger_ev = evtimer_new(p->base, on_linger, p);
	if (p->stdin_ev == NULL || p->pump_ev == NULL || p->linger_ev == NULL) {
		fprintf(stderr, "phone: out of memory\n");
		return PHONE_EXIT_ERROR;
	}
	p->tty = isatty(0);
	p->in_direct = stdin_never_blocks(p->tty);

	/* The one place the full number is shown: the phone's own screen. */
	printf("Phone %s, gateway %s, notifications %s%s\n", p->msisdn, p->url,
	       p->listen ? "on " : "off", p->listen ? p->listen : "");
	if (p->tty)
		printf("Type help for the commands.\n");
	fflush(stdout);

	event_active(p->pump_ev, 0, 0);
	if (event_base_dispatch(p->base) < 0) {
		fprintf(stderr, "phone: the event loop failed\n");
		return PHONE_EXIT_ERROR;
	}
	fflush(stdout);
	return !p->tty && p->unreachable ? PHONE_EXIT_ERROR : PHONE_EXIT_OK;
}

int phone_main(void *ctx, int argc, char **argv)
{
	struct phone *p = talloc_zero(ctx, struct phone);
	struct sigaction ign, old;
	int rc;

	if (p == NULL) {
		fprintf(stderr, "phone: out of memory\n");
		return PHONE_EXIT_ERROR;
	}
	talloc_set_destructor(p, phone_destructor);
	/* A gateway that closes while we write must not kill the phone. */
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigemptyset(&ign.sa_mask);
	sigaction(SIGPIPE, &ign, &old);
	rc = phone_run(p, argc, argv);
	talloc_free(p);
	sigaction(SIGPIPE, &old, NULL);
	return rc;
}
