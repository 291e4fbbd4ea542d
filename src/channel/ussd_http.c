/* USSD over HTTP, the aggregator callback (Africa's Talking style, used across Africa):
 * POST /ussd with form fields sessionId, serviceCode, phoneNumber, text (every input of the
 * session so far joined by '*') and networkCode; the reply is text/plain starting "CON "
 * (show and wait for input) or "END " (show and close). What every format shares is in
 * ussd_format.c. */
#include "channel/channels.h"

#include "channel/ussd_format.h"
#include "flow/engine.h"

static const struct ussd_format africas_talking = {
	.path = "/ussd",
	.sid = "sessionId",
	.phone = "phoneNumber",
	.text = "text",
	.code = "serviceCode",
	.mode = ENGINE_USSD_CUMULATIVE,
	.more = "CON ",
	.end = "END ",
};

int channel_ussd_http_start(struct channels *ch, struct http_server *hs)
{
	return ussd_format_route(ch, hs, &africas_talking);
}
