/* USSD over HTTP, what every aggregator's callback format shares (ussd_format.h): the
 * callers' checks, the form, the session id and the caller's number, the dialled code's
 * arguments, the engine's step and its errors. The formats themselves say only where their
 * fields are and how a reply reads (ussd_http.c). */
#include "channel/ussd_format.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <talloc.h>

#include "channel/channels.h"
#include "channel/http.h"
#include "core/metrics.h"
#include "domain/msisdn.h"
#include "domain/msisdn_memo.h"
#include "flow/engine.h"

/* What a route's handler needs: http_server_route passes one pointer. */
struct ussd_route {
	struct channels *ch;
	const struct ussd_format *f;
};

/* A request waiting for the engine's screen. */
struct ussd_call {
	struct http_req *req;
	const struct ussd_format *f;
};

/* Writes the reply: the format's own way, or its prefix, the text and, after an error, a
 * newline (a terminal shows the text alone; curl's user sees where it ends). */
static void say(struct http_req *req, const struct ussd_format *f, int status,
		const char *reason, bool end, const char *text, size_t len)
{
	const char *pre = end ? f->end : f->more;
	char *body;

	if (f->reply) {
		f->reply(req, status, reason, end, text, len);
		return;
	}
	body = talloc_asprintf(req, "%s%.*s%s", pre, (int)len, text, status == 200 ? "" : "\n");
	if (body)
		http_reply_text(req, status, reason, body, strlen(body));
	else
		http_reply_text(req, 500, "Internal Server Error", f->end, strlen(f->end));
}

/* An error: the session ends with the sentence fmt makes. */
static void refuse(struct http_req *req, const struct ussd_format *f, int status,
		   const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void refuse(struct http_req *req, const struct ussd_format *f, int status,
		   const char *reason, const char *fmt, ...)
{
	va_list ap;
	char *text;

	va_start(ap, fmt);
	text = talloc_vasprintf(req, fmt, ap);
	va_end(ap);
	say(req, f, status, reason, true, text ? text : "", text ? strlen(text) : 0);
}

/* The engine answers exactly once; the request is replied to (and freed) then, also when
 * the aggregator has gone meanwhile. */
static void on_reply(void *arg, const struct engine_reply *r)
{
	struct ussd_call *c = arg;

	say(c->req, c->f, 200, "OK", r->end, r->text, r->len);
}

/* "*384*1*356...#": the base code and the arguments after it ("1*356..."). */
static void split_code(const char *code, const char **args, size_t *alen)
{
	const char *star, *hash;

	*args = "";
	*alen = 0;
	if (code == NULL || code[0] != '*')
		return;
	star = strchr(code + 1, '*');
	hash = strrchr(code, '#');
	if (star == NULL || hash == NULL || hash < star)
		return;
	*args = star + 1;
	*alen = (size_t)(hash - star - 1);
}

static void ussd_cb(struct http_req *req, void *arg)
{
	struct ussd_route *route = arg;
	struct channels *ch = route->ch;
	const struct ussd_format *f = route->f;
	struct http_form form;
	const char *sid, *phone, *text, *code, *args, *why;
	struct ussd_call *call;
	struct msisdn m;
	size_t alen;
	int rc;

	if (http_req_authorize(req, &ch->cfg->http_allow_ip, ch->cfg->ussd_token) < 0) {
		refuse(req, f, 403, "Forbidden", "this caller is not allowed");
		return;
	}
	if (http_req_method(req) != HTTP_REQ_POST) {
		refuse(req, f, 405, "Method Not Allowed", "use POST");
		return;
	}
	if (http_form_parse(req, &form, &why) < 0) {
		refuse(req, f, 400, "Bad Request", "bad form: %s", why);
		return;
	}
	sid = http_form_get(&form, f->sid);
	phone = http_form_get(&form, f->phone);
	text = http_form_get(&form, f->text);
	code = f->code ? http_form_get(&form, f->code) : NULL;
	if (sid == NULL || *sid == '\0' || strlen(sid) > 64 || phone == NULL) {
		refuse(req, f, 400, "Bad Request", "%s (1 to 64 characters) and %s are required",
		       f->sid, f->phone);
		return;
	}
	msisdn_memo_parse(ch->msisdn, phone, strlen(phone), &m);
	if (!m.valid) {
		refuse(req, f, 400, "Bad Request", "%s is not a valid number", f->phone);
		return;
	}
	if (text == NULL)
		text = "";
	/* *384*ARG# dialled: some aggregators put ARG in the code, not in the text. */
	split_code(code, &args, &alen);
	if (alen && strlen(text) == 0) {
		text = talloc_strndup(req, args, alen);
		if (text == NULL)
			text = "";
	}
	call = talloc(req, struct ussd_call);
	if (call == NULL) {
		say(req, f, 500, "Internal Server Error", true, "", 0);
		return;
	}
	call->req = req;
	call->f = f;
	rc = engine_ussd(ch->engine, m.e164, sid, strlen(sid), text, strlen(text), f->mode,
			 on_reply, call);
	if (rc == -E2BIG)
		refuse(req, f, 400, "Bad Request", "at most %d inputs in one session",
		       ENGINE_USSD_INPUTS_MAX);
	else if (rc < 0)
		refuse(req, f, 400, "Bad Request",
		       "a %s of printable characters and a %s of at most %d bytes", f->sid,
		       f->text, ENGINE_USSD_TEXT_MAX);
}

int ussd_format_route(struct channels *ch, struct http_server *hs, const struct ussd_format *f)
{
	struct ussd_route *route = talloc(ch->ctx, struct ussd_route);

	if (route == NULL)
		return -ENOMEM;
	route->ch = ch;
	route->f = f;
	return http_server_route_counted(hs, f->path, false, ussd_cb, route, MC_USSD_HTTP);
}
