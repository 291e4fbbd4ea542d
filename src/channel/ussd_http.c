/* USSD over HTTP, the aggregator callback (Africa's Talking style, used across Africa):
 * POST /ussd with form fields sessionId, serviceCode, phoneNumber, text (every input of the
 * session so far joined by '*') and networkCode; the reply is text/plain starting "CON "
 * (show and wait for input) or "END " (show and close). */
#include "channel/channels.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <talloc.h>

#include "channel/http.h"
#include "core/logging.h"
#include "domain/msisdn.h"
#include "domain/msisdn_memo.h"
#include "flow/engine.h"

/* The engine answers exactly once; the request is replied to (and freed) then, also when
 * the aggregator has gone meanwhile. */
static void on_reply(void *arg, const struct engine_reply *r)
{
	struct http_req *req = arg;
	char *body = talloc_asprintf(req, "%s%.*s", r->end ? "END " : "CON ", (int)r->len,
				     r->text);

	if (body)
		http_reply_text(req, 200, "OK", body, strlen(body));
	else
		http_reply_lit(req, 500, "Internal Server Error", "END ");
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
	struct channels *ch = arg;
	struct http_form form;
	const char *sid, *phone, *text, *code, *args, *why;
	char *inputs = NULL;
	struct msisdn m;
	size_t alen;
	int rc;

	if (http_req_authorize(req, &ch->cfg->http_allow_ip, ch->cfg->ussd_token) < 0) {
		http_reply_lit(req, 403, "Forbidden", "END this caller is not allowed\n");
		return;
	}
	if (http_req_method(req) != HTTP_REQ_POST) {
		http_reply_lit(req, 405, "Method Not Allowed", "END use POST\n");
		return;
	}
	if (http_form_parse(req, &form, &why) < 0) {
		char *msg = talloc_asprintf(req, "END bad form: %s\n", why);

		if (msg)
			http_reply_text(req, 400, "Bad Request", msg, strlen(msg));
		else
			http_reply_lit(req, 400, "Bad Request", "END bad form\n");
		return;
	}
	sid = http_form_get(&form, "sessionId");
	phone = http_form_get(&form, "phoneNumber");
	text = http_form_get(&form, "text");
	code = http_form_get(&form, "serviceCode");
	if (sid == NULL || *sid == '\0' || strlen(sid) > 64 || phone == NULL) {
		http_reply_lit(req, 400, "Bad Request",
			       "END sessionId (1 to 64 characters) and phoneNumber are required\n");
		return;
	}
	msisdn_memo_parse(ch->msisdn, phone, strlen(phone), &m);
	if (!m.valid) {
		http_reply_lit(req, 400, "Bad Request", "END phoneNumber is not a valid number\n");
		return;
	}
	if (text == NULL)
		text = "";
	/* *384*ARG# dialled: some aggregators put ARG in serviceCode, not in text. */
	split_code(code, &args, &alen);
	if (alen && strlen(text) == 0)
		inputs = talloc_strndup(req, args, alen);
	rc = engine_ussd(ch->engine, m.e164, sid, strlen(sid), inputs ? inputs : text,
			 strlen(inputs ? inputs : text), ENGINE_USSD_CUMULATIVE, on_reply, req);
	if (rc == -E2BIG)	/* the engine's ENGINE_USSD_INPUTS_MAX */
		http_reply_lit(req, 400, "Bad Request",
			       "END at most 32 inputs in one session\n");
	else if (rc < 0)
		http_reply_lit(req, 400, "Bad Request",
			       "END a sessionId of printable characters and a text of at most "
			       "1024 bytes\n");
}

int channel_ussd_http_start(struct channels *ch, struct http_server *hs)
{
	return http_server_route(hs, "/ussd", false, ussd_cb, ch);
}
