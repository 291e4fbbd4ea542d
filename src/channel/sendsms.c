/* Notifications through Kannel smsbox's sendsms HTTP interface (Kannel user guide, "SMS Push"):
 * GET sendsms-url?username=&password=&from=&to=&text=&charset=UTF-8&coding=0|2, one kept-alive
 * connection. Kannel answers 202 "0: Accepted for delivery" (or "3: Queued for later
 * delivery"); anything else is retried at 1 s, 5 s, 30 s and 2 min. Each SMS waits in the
 * Redis outbox (outbox.c) until smsbox has accepted it: one still refused after the retries
 * stays there and is tried again once it has been pending for the outbox's claim time (5
 * minutes, outbox.c), and one a stopped ceirgw had not handed over is sent when it starts
 * again. Only an SMS that could not be put in the
 * outbox (Redis down) is lost after the retries. */
#include "channel/channels.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <talloc.h>

#include "core/errbuf.h"
#include "core/logging.h"
#include "domain/gsm.h"
#include "domain/msisdn.h"

#define SENDSMS_QUEUE_MAX 10000
#define SENDSMS_TIMEOUT_S 10

static const int retry_s[] = { 1, 5, 30, 120 };


struct sendsms {
	struct event_base *base;
	struct outbox *outbox;
	struct channels *ch;	/* ch->cfg is the configuration now (reloads replace it) */
	struct evhttp_uri *uri;
	struct evhttp_connection *conn;
	struct sendsms_stats stats;
	size_t queued;
};

struct sms_msg {
	struct sendsms *s;
	char *outbox_id;	/* its outbox entry, or NULL */
	char *to, *text;
	size_t len;
	int tries;
	struct event *timer;
};

static void msg_send(struct sms_msg *m);

static int sendsms_destructor(struct sendsms *s)
{
	if (s->conn)
		evhttp_connection_free(s->conn);
	if (s->uri)
		evhttp_uri_free(s->uri);
	return 0;
}

static int msg_destructor(struct sms_msg *m)
{
	if (m->timer)
		event_free(m->timer);
	m->s->queued--;
	return 0;
}

static int deliver(void *arg, const char *id, const char *to, const char *text, size_t len);
static bool ready(void *arg);

struct sendsms *sendsms_create(void *ctx, struct channels *ch, char *err, size_t errsz)
{
	static const struct outbox_ops ops = { deliver, ready };
	struct event_base *base = ch->base;
	const struct ceirgw_config *cfg = ch->cfg;
	struct sendsms *s = talloc_zero(ctx, struct sendsms);
	int port;

	if (s == NULL) {
		errbuf_set(err, errsz, "out of memory");
		return NULL;
	}
	talloc_set_destructor(s, sendsms_destructor);
	s->base = base;
	s->ch = ch;
	s->uri = evhttp_uri_parse(cfg->sendsms_url);
	if (s->uri == NULL || evhttp_uri_get_host(s->uri) == NULL) {
		errbuf_set(err, errsz, "sendsms-url = '%s': not an http://HOST[:PORT]/PATH URL",
			   cfg->sendsms_url);
		talloc_free(s);
		return NULL;
	}
	port = evhttp_uri_get_port(s->uri);
	s->conn = evhttp_connection_base_new(base, NULL, evhttp_uri_get_host(s->uri),
					     (unsigned short)(port > 0 ? port : 80));
	if (s->conn == NULL) {
		errbuf_set(err, errsz, "sendsms-url: cannot create a connection");
		talloc_free(s);
		return NULL;
	}
	evhttp_connection_set_timeout(s->conn, SENDSMS_TIMEOUT_S);
	s->outbox = outbox_start(s, ch, OUTBOX_HTTP, &ops, s);
	if (s->outbox == NULL) {
		errbuf_set(err, errsz, "out of memory");
		talloc_free(s);
		return NULL;
	}
	return s;
}

const struct sendsms_stats *sendsms_stats(const struct sendsms *s)
{
	return &s->stats;
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	msg_send(arg);
}

static void msg_failed(struct sms_msg *m, const char *why)
{
	struct timeval tv = { 0, 0 };
	char masked[32];

	msisdn_mask(m->to, strlen(m->to), masked, sizeof(masked));
	if (m->tries > (int)(sizeof(retry_s) / sizeof(retry_s[0])) && m->outbox_id) {
		LOGP(LOGC_HTTP, LOGL_ERROR, "sendsms: SMS to %s not accepted after %d tries (%s); "
		     "it stays in the outbox for later", masked, m->tries, why);
		m->s->stats.retried++;
		outbox_drop(m->s->outbox, m->outbox_id);
		talloc_free(m);
		return;
	}
	if (m->tries > (int)(sizeof(retry_s) / sizeof(retry_s[0]))) {
		LOGP(LOGC_HTTP, LOGL_ERROR, "sendsms: SMS to %s lost after %d tries: %s", masked,
		     m->tries, why);
		m->s->stats.lost++;
		talloc_free(m);
		return;
	}
	tv.tv_sec = retry_s[m->tries - 1];
	LOGP(LOGC_HTTP, LOGL_WARN, "sendsms: SMS to %s not accepted (%s); again in %ld s",
	     masked, why, (long)tv.tv_sec);
	m->s->stats.retried++;
	if (m->timer == NULL)
		m->timer = evtimer_new(m->s->base, retry_cb, m);
	if (m->timer == NULL || evtimer_add(m->timer, &tv) < 0) {
		m->s->stats.lost++;
		talloc_free(m);
	}
}

static void on_done(struct evhttp_request *req, void *arg)
{
	struct sms_msg *m = arg;
	char why[64];
	int code = req ? evhttp_request_get_response_code(req) : 0;

	if (code >= 200 && code < 300) {
		m->s->stats.accepted++;
		if (m->outbox_id)
			outbox_done(m->s->outbox, m->outbox_id);
		talloc_free(m);
		return;
	}
	if (code == 0)
		snprintf(why, sizeof(why), "no answer from %s", evhttp_uri_get_host(m->s->uri));
	else
		snprintf(why, sizeof(why), "HTTP %d", code);
	msg_failed(m, why);
}

static char *add_param(struct sms_msg *m, char *q, const char *name, const char *val,
		       size_t len)
{
	char *enc = evhttp_uriencode(val, (ev_ssize_t)len, 1);
	char *out;

	if (q == NULL || enc == NULL) {
		free(enc);
		return NULL;
	}
	out = talloc_asprintf_append(q, "%s%s=%s", *q ? "&" : "", name, enc);
	free(enc);
	(void)m;
	return out;
}

static void msg_send(struct sms_msg *m)
{
	const struct ceirgw_config *cfg = m->s->ch->cfg;
	const char *path = evhttp_uri_get_path(m->s->uri);
	struct evhttp_request *req;
	struct sms_measure sm;
	char *q = talloc_strdup(m, "");

	m->tries++;
	if (sms_measure(m->text, m->len, &sm) < 0)
		sm.coding = SMS_UCS2;
	if (cfg->sendsms_username)
		q = add_param(m, q, "username", cfg->sendsms_username,
			      strlen(cfg->sendsms_username));
	if (cfg->sendsms_password)
		q = add_param(m, q, "password", cfg->sendsms_password,
			      strlen(cfg->sendsms_password));
	q = add_param(m, q, "from", cfg->sms_code, strlen(cfg->sms_code));
	q = add_param(m, q, "to", m->to, strlen(m->to));
	q = add_param(m, q, "text", m->text, m->len);
	q = add_param(m, q, "charset", "UTF-8", 5);
	q = add_param(m, q, "coding", sm.coding == SMS_UCS2 ? "2" : "0", 1);
	if (q == NULL) {
		msg_failed(m, "out of memory");
		return;
	}
	q = talloc_asprintf(m, "%s?%s", path && *path ? path : "/", q);
	req = q ? evhttp_request_new(on_done, m) : NULL;
	if (req == NULL) {
		msg_failed(m, "out of memory");
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host",
			  evhttp_uri_get_host(m->s->uri));
	if (evhttp_make_request(m->s->conn, req, EVHTTP_REQ_GET, q) < 0)
		msg_failed(m, "cannot send the request");	/* libevent freed req */
}

static int deliver(void *arg, const char *id, const char *to, const char *text, size_t len)
{
	struct sendsms *s = arg;
	struct sms_msg *m;

	if (s->queued >= SENDSMS_QUEUE_MAX) {
		if (id)
			return -ENOBUFS;	/* in the outbox still: later */
		LOGP(LOGC_HTTP, LOGL_ERROR, "sendsms: %d SMS waiting: this one is lost",
		     SENDSMS_QUEUE_MAX);
		s->stats.lost++;
		return 0;
	}
	m = talloc_zero(s, struct sms_msg);
	if (m == NULL)
		return -ENOBUFS;
	m->s = s;
	m->to = talloc_strdup(m, to);
	m->text = talloc_strndup(m, text, len);
	m->outbox_id = id ? talloc_strdup(m, id) : NULL;
	m->len = len;
	if (m->to == NULL || m->text == NULL || (id && m->outbox_id == NULL)) {
		talloc_free(m);
		return -ENOBUFS;
	}
	s->queued++;
	s->stats.queued++;
	talloc_set_destructor(m, msg_destructor);
	msg_send(m);
	return 0;
}

static bool ready(void *arg)
{
	(void)arg;
	return true;
}

void sendsms_send(void *arg, const char *to, const char *text, size_t len)
{
	struct sendsms *s = arg;

	outbox_add(s->outbox, to, text, len);
}
