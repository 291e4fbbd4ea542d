/* USSD over HTTP: what every aggregator's callback shares (ussd_format.c), each aggregator's
 * format being one record of this kind in a file of its own (ussd_http.c: Africa's Talking).
 * doc/development.md, "Adding a USSD aggregator format", has the recipe. */
#ifndef CEIRGW_CHANNEL_USSD_FORMAT_H
#define CEIRGW_CHANNEL_USSD_FORMAT_H

#include <stdbool.h>
#include <stddef.h>

#include "flow/engine.h"	/* enum engine_ussd_mode */

struct channels;
struct http_req;
struct http_server;

/* An aggregator's callback: its path, its form's fields, what its text holds, its replies.
 * The callers are checked as for every USSD callback (http-allow-ip, then ussd-token), the
 * method is POST, the fields come as a form (http_form_parse). */
struct ussd_format {
	const char *path;	/* routed exactly (the query aside): "/ussd" */
	/* The fields' names: the session id (1 to 64 printable characters), the caller's
	 * number (required), the user's text (missing: empty) and the dialled code (NULL when
	 * the aggregator sends none: "*384*ARG#" stands for the text ARG when the text is
	 * empty, the way some aggregators send a dial with arguments). */
	const char *sid, *phone, *text, *code;
	/* What the text holds: every input so far joined by '*', the latest answer alone, ... */
	enum engine_ussd_mode mode;
	/* The reply is text/plain, the screen's text after a prefix: more while the session
	 * waits for an input, end when it closes. Errors close it: end, then a sentence and
	 * "\n". */
	const char *more, *end;
	/* Or, when not NULL, writes every reply itself (with http_reply_* of channel/http.h):
	 * the screens (status 200) and the errors (a 4xx or 500, end true). text[0..len) is
	 * lent for the call. */
	void (*reply)(struct http_req *req, int status, const char *reason, bool end,
		      const char *text, size_t len);
};

/* Serves f at f->path for the channels. f must outlive the server (a static const record).
 * Returns 0, or -ENOMEM/-ENOSPC (http_server_route's). */
int ussd_format_route(struct channels *ch, struct http_server *hs, const struct ussd_format *f);

#endif
