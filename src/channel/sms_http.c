/* SMS over HTTP, for Kannel's smsbox: a `group = sms-service` with
 * get-url = "http://HOST:PORT/sms?from=%p&to=%P&text=%a&smsc=%i" (or post-url with the same
 * fields as a form), and accept-x-kannel-headers = true so that a UCS-2 reply keeps its
 * coding. The response body is the reply SMS, which smsbox sends back and splits into
 * concatenated parts when it is longer than one (doc/kannel.md). */
#include "channel/channels.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <talloc.h>

#include "channel/http.h"
#include "core/logging.h"
#include "core/metrics.h"
#include "domain/gsm.h"
#include "domain/msisdn.h"
#include "domain/msisdn_memo.h"
#include "flow/engine.h"

/* The engine answers exactly once; the request is replied to (and freed) then. */
static void on_reply(void *arg, const struct engine_reply *r)
{
	struct http_req *req = arg;
	struct sms_measure m;

	/* smsbox sends a get-url reply as GSM 7-bit unless the reply says otherwise, whatever
	 * its charset: a text outside the GSM alphabet (Arabic) would reach the phone as
	 * question marks. X-Kannel-Coding: 2 makes it UCS-2; smsbox reads the header only with
	 * accept-x-kannel-headers = true on the sms-service (doc/kannel.md). */
	if (sms_measure(r->text, r->len, &m) == 0 && m.coding == SMS_UCS2)
		http_reply_header(req, "X-Kannel-Coding", "2");
	/* Also when Redis is down: the user gets "busy, try later" rather than smsbox's
	 * generic could-not-fetch text. */
	http_reply_text(req, 200, "OK", r->text, r->len);
}

static void sms_cb(struct http_req *req, void *arg)
{
	struct channels *ch = arg;
	struct http_form form;
	const char *from, *text, *why;
	struct msisdn m;

	if (http_req_authorize(req, &ch->cfg->http_allow_ip, ch->cfg->sms_token) < 0) {
		http_reply_lit(req, 403, "Forbidden", "this caller is not allowed\n");
		return;
	}
	if (http_form_parse(req, &form, &why) < 0) {
		char *msg = talloc_asprintf(req, "bad form or query: %s\n", why);

		if (msg)
			http_reply_text(req, 400, "Bad Request", msg, strlen(msg));
		else
			http_reply_lit(req, 400, "Bad Request", "bad form or query\n");
		return;
	}
	from = http_form_get(&form, "from");
	text = http_form_get(&form, "text");
	if (from == NULL || text == NULL) {
		http_reply_lit(req, 400, "Bad Request", "from and text are required\n");
		return;
	}
	msisdn_memo_parse(ch->msisdn, from, strlen(from), &m);
	if (!m.valid) {
		http_reply_lit(req, 400, "Bad Request", "from is not a valid number\n");
		return;
	}
	if (engine_sms(ch->engine, m.e164, text, strlen(text), on_reply, req) < 0)
		http_reply_lit(req, 503, "Service Unavailable", "");
}

int channel_sms_http_start(struct channels *ch, struct http_server *hs)
{
	return http_server_route_counted(hs, "/sms", false, sms_cb, ch, MC_SMS_HTTP);
}
