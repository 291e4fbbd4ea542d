/* USSD over HTTP, the aggregator callback (Africa's Talking style, used across Africa):
 * POST /ussd with form fields sessionId, serviceCode, phoneNumber, text (every input of the
 * session so far joined by '*') and networkCode; the reply is text/plain starting "CON "
 * (show and wait for input) or "END " (show and close). */
#include "channel/channels.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <talloc.h>

#include "app/http.h"
#include "core/logging.h"
#include "domain/msisdn.h"
#include "domain/msisdn_memo.h"
#include "flow/engine.h"

struct ussd_req {
	struct http_pending *p;
};

static void on_reply(void *arg, const struct engine_reply *r)
{
	struct ussd_req *u = arg;
	struct evhttp_request *req = http_pending_req(u->p);
	char *body;

	if (req) {
		body = talloc_asprintf(u, "%s%.*s", r->end ? "END " : "CON ", (int)r->len, r->text);
		if (body)
			http_reply_text(req, HTTP_OK, "OK", body, strlen(body));
		else
			http_reply_lit(req, 500, "Internal Server Error",
			       "END ");
	}
	talloc_free(u);
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

static void ussd_cb(struct evhttp_request *req, void *arg)
{
	struct channels *ch = arg;
	struct evkeyvalq form;
	const char *sid, *phone, *text, *code, *args;
	char *inputs = NULL;
	struct msisdn m;
	struct ussd_req *u;
	size_t alen;
	int rc;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		http_reply_lit(req, 405, "Method Not Allowed",
			       "END use POST\n");
		return;
	}
	if (http_form(req, &form) < 0) {
		http_reply_lit(req, HTTP_BADREQUEST, "Bad Request",
			       "END bad form\n");
		return;
	}
	sid = evhttp_find_header(&form, "sessionId");
	phone = evhttp_find_header(&form, "phoneNumber");
	text = evhttp_find_header(&form, "text");
	code = evhttp_find_header(&form, "serviceCode");
	if (sid == NULL || *sid == '\0' || strlen(sid) > 64 || phone == NULL) {
		http_reply_lit(req, HTTP_BADREQUEST, "Bad Request",
			       "END sessionId (1 to 64 characters) and phoneNumber are required\n");
		goto out;
	}
	msisdn_memo_parse(ch->msisdn, phone, strlen(phone), &m);
	if (!m.valid) {
		http_reply_lit(req, HTTP_BADREQUEST, "Bad Request",
			       "END phoneNumber is not a valid number\n");
		goto out;
	}
	if (text == NULL)
		text = "";
	/* *384*ARG# dialled: some aggregators put ARG in serviceCode, not in text. */
	split_code(code, &args, &alen);
	if (alen && strlen(text) == 0)
		inputs = talloc_strndup(ch->ctx, args, alen);
	u = talloc_zero(ch->ctx, struct ussd_req);
	if (u == NULL || (u->p = http_pending_new(u, req)) == NULL) {
		talloc_free(u);
		http_reply_lit(req, 500, "Internal Server Error",
			       "END \n");
		goto out;
	}
	rc = engine_ussd(ch->engine, m.e164, sid, strlen(sid), inputs ? inputs : text,
			 strlen(inputs ? inputs : text), ENGINE_USSD_CUMULATIVE, on_reply, u);
	if (rc < 0) {
		talloc_free(u);
		http_reply_lit(req, HTTP_BADREQUEST, "Bad Request",
			       "END a sessionId of printable characters and a text of at most "
				"1024 bytes\n");
	}
out:
	talloc_free(inputs);
	evhttp_clear_headers(&form);
}

int channel_ussd_http_start(struct channels *ch, struct evhttp *http)
{
	return evhttp_set_cb(http, "/ussd", ussd_cb, ch) == 0 ? 0 : -EEXIST;
}
