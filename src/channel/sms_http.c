/* SMS over HTTP, for Kannel's smsbox: a `group = sms-service` with
 * get-url = "http://HOST:PORT/sms?from=%p&to=%P&text=%a&smsc=%i" (or post-url with the same
 * fields as a form), and accept-x-kannel-headers = true so that a UCS-2 reply keeps its
 * coding. The response body is the reply SMS, which smsbox sends back and splits into
 * concatenated parts when it is longer than one (doc/kannel.md). */
#include "channel/channels.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <talloc.h>

#include "app/http.h"
#include "core/logging.h"
#include "domain/gsm.h"
#include "domain/msisdn.h"
#include "domain/msisdn_memo.h"
#include "flow/engine.h"

struct sms_req {
	struct http_pending *p;
};

static void on_reply(void *arg, const struct engine_reply *r)
{
	struct sms_req *s = arg;
	struct evhttp_request *req = http_pending_req(s->p);

	struct sms_measure m;

	/* smsbox sends a get-url reply as GSM 7-bit unless the reply says otherwise, whatever
	 * its charset: a text outside the GSM alphabet (Arabic) would reach the phone as
	 * question marks. X-Kannel-Coding: 2 makes it UCS-2; smsbox reads the header only with
	 * accept-x-kannel-headers = true on the sms-service (doc/kannel.md). */
	if (req && sms_measure(r->text, r->len, &m) == 0 && m.coding == SMS_UCS2)
		evhttp_add_header(evhttp_request_get_output_headers(req), "X-Kannel-Coding", "2");
	/* Also when Redis is down: the user gets "busy, try later" rather than smsbox's
	 * generic could-not-fetch text. */
	if (req)
		http_reply_text(req, HTTP_OK, "OK", r->text, r->len);
	talloc_free(s);
}

static void sms_cb(struct evhttp_request *req, void *arg)
{
	struct channels *ch = arg;
	struct evkeyvalq form;
	const char *from, *text;
	struct msisdn m;
	struct sms_req *s;
	int rc;

	if (http_form(req, &form) < 0) {
		http_reply_lit(req, HTTP_BADREQUEST, "Bad Request",
			       "bad form or query\n");
		return;
	}
	from = evhttp_find_header(&form, "from");
	text = evhttp_find_header(&form, "text");
	if (from == NULL || text == NULL) {
		http_reply_lit(req, HTTP_BADREQUEST, "Bad Request",
			       "from and text are required\n");
		goto out;
	}
	msisdn_memo_parse(ch->msisdn, from, strlen(from), &m);
	if (!m.valid) {
		http_reply_lit(req, HTTP_BADREQUEST, "Bad Request",
			       "from is not a valid number\n");
		goto out;
	}
	s = talloc_zero(ch->ctx, struct sms_req);
	if (s == NULL || (s->p = http_pending_new(s, req)) == NULL) {
		talloc_free(s);
		http_reply_lit(req, 500, "Internal Server Error",
			       "");
		goto out;
	}
	rc = engine_sms(ch->engine, m.e164, text, strlen(text), on_reply, s);
	if (rc < 0) {
		talloc_free(s);
		http_reply_lit(req, 503, "Service Unavailable",
			       "");
	}
out:
	evhttp_clear_headers(&form);
}

int channel_sms_http_start(struct channels *ch, struct evhttp *http)
{
	return evhttp_set_cb(http, "/sms", sms_cb, ch) == 0 ? 0 : -EEXIST;
}
