/* The Kannel box channel: ceirgw connects to bearerbox's smsbox-port as smsbox does, and
 * answers the MOs bearerbox routes to it (SMS, and USSD over SMPP) through the same engine as
 * the HTTP channels (doc/kannel.md).
 *
 * What bearerbox expects of a box (gw/bb_boxc.c): an admin Msg with cmd_identify first (until
 * then it routes nothing to the box); an ack Msg for every sms Msg it sent, with the sms's id:
 * ack_failed_tmp puts the MO back in its queue for another try, anything else removes it from
 * its store; sms Msgs from the box (MTs) are answered with an ack of their id. A box that goes
 * away gets its unacknowledged MOs sent again, to it or to another box.
 *
 * So an MO is acknowledged only once its reply is in bearerbox's store (bearerbox acked every
 * part of the reply MT) and the Redis record of the MO says so. The record, keyed by the MO's
 * id, holds the reply until then: an MO bearerbox sends again (after a reconnect, or to a
 * restarted ceirgw) gets its stored reply again and never runs the journey twice. It is kept
 * in the slot of what the engine reads first for the MO, so that one command reads both
 * (issue 21, doc/kannel.md "Redis per MO").
 *
 * Nothing here blocks: one bufferevent, frames parsed as they arrive, timers for heartbeats,
 * reconnects and retries. */
#include "channel/channels.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <talloc.h>

#include "channel/boxproto.h"
#include "core/logging.h"
#include "core/metrics.h"
#include "domain/gsm.h"
#include "domain/msisdn.h"
#include "domain/msisdn_memo.h"
#include "flow/engine.h"
#include "store/store.h"

/* gw/sms.h's data codings (not included: its sms_split() is not ours). */
#define BOX_DC_7BIT 0
#define BOX_DC_UCS2 2

#define BOX_MO_TTL_S (2 * 86400)	/* how long an MO's record is kept */
#define BOX_TMP_DELAY_S 1		/* before an ack_failed_tmp: bearerbox retries at once */
#define BOX_MT_RETRY_S 5		/* before sending again an MT bearerbox could not take */
#define BOX_BACKOFF_MAX_S 30
#define BOX_MAX_PARTS 10
#define BOX_SID_MAX 64

struct box;

enum mo_state { MO_LOOKUP, MO_ENGINE, MO_SAVING, MO_SENDING, MO_DONE };

/* An MO being answered, from its arrival until its ack is written. */
struct box_mo {
	TAILQ_ENTRY(box_mo) link;
	struct box *b;
	enum mo_state state;
	unsigned long long gen;	/* the connection whose bearerbox waits for the ack */
	uuid_t id;
	char key[40];		/* its Msg id: 32 hex digits */
	struct store_rec_id rec;	/* its record in the store, by key, in slot's slot */
	struct store_rec_id slot;	/* the engine's first read: the number's language or
					 * the USSD session's record */
	char e164[24];
	char masked[24];
	Msg *msg;		/* as received */
	int ussd_op;		/* -1: an SMS */
	char *sid;		/* USSD: the session id (printable) */
	const char *session_val;	/* as it came in the meta data, for the reply */
	size_t session_len;
	long long session_num;	/* its number, for integer TLVs */
	char *reply;		/* the record: "r<op> <text>" */
	unsigned parts_left;	/* MTs of the reply not yet acknowledged by bearerbox */
	struct event *timer;
};

/* The MO's record in the store (its reply, or that bearerbox has it). */
static const struct store_rec_id *mo_rec(struct box_mo *req)
{
	return &req->rec;
}

/* An MT bearerbox has not acknowledged yet. */
struct box_mt {
	TAILQ_ENTRY(box_mt) link;
	struct box *b;
	uuid_t id;
	Octstr *frame;
	struct box_mo *req;	/* the MO this answers, or NULL (a notification) */
	struct box_push *push;	/* the outbox entry this delivers, or NULL */
	bool written;		/* on the current connection */
};

/* A notification taken from the outbox, until bearerbox has acked every part of it. */
struct box_push {
	TAILQ_ENTRY(box_push) link;
	struct box *b;
	char id[48];		/* its stream entry */
	unsigned parts_left;
};

TAILQ_HEAD(mo_list, box_mo);
TAILQ_HEAD(mt_list, box_mt);
TAILQ_HEAD(push_list, box_push);

struct box {
	struct channels *ch;
	char host[256];
	int port;
	struct bufferevent *bev;
	bool connected;
	time_t connected_at;
	unsigned long long gen;
	int backoff_s;
	struct event *reconnect, *heartbeat, *mt_retry;
	struct mo_list mos;
	struct mt_list mts;
	struct push_list pushes;
	struct outbox *outbox;	/* notifications wait there until bearerbox has them */
	size_t nmts;
	unsigned char concat_ref;
	unsigned char op_begin[CONFIG_OPS_MAX], op_answer[CONFIG_OPS_MAX],
		      op_release[CONFIG_OPS_MAX];
	int nop_begin, nop_answer, nop_release;
	int op_continue, op_end;
	bool tlv_octets;	/* ussd-tlv-type octetstring, else integer */
	struct box_stats stats;
};

static void connect_now(struct box *b);

/* ---- writing -------------------------------------------------------------------------- */

static int write_frame(struct box *b, Octstr *frame)
{
	if (!b->connected)
		return -ENOTCONN;
	return bufferevent_write(b->bev, octstr_get_cstr(frame), (size_t)octstr_len(frame));
}

static int write_msg(struct box *b, Msg *m)
{
	Octstr *frame = box_msg_frame(m);
	int rc;

	if (frame == NULL)
		return -ENOMEM;
	rc = write_frame(b, frame);
	octstr_destroy(frame);
	return rc;
}

static void write_ack(struct box *b, const uuid_t id, long t, int nack)
{
	Msg *m = msg_create(ack);

	uuid_copy(m->ack.id, id);
	m->ack.time = t;
	m->ack.nack = nack;
	write_msg(b, m);
	msg_destroy(m);
}

/* ---- MTs ------------------------------------------------------------------------------ */

static int mt_destructor(struct box_mt *t)
{
	TAILQ_REMOVE(&t->b->mts, t, link);
	t->b->nmts--;
	octstr_destroy(t->frame);
	return 0;
}

static void mt_write(struct box *b, struct box_mt *t)
{
	if (b->connected && !t->written && write_frame(b, t->frame) == 0) {
		t->written = true;
		b->stats.mt_written++;
	}
}

/* Queues one MT Msg (taking it) for bearerbox. */
static int mt_queue(struct box *b, Msg *m, struct box_mo *req, struct box_push *push)
{
	struct box_mt *t;

	if (b->nmts >= (size_t)b->ch->cfg->box_max_queue) {
		msg_destroy(m);
		return -ENOBUFS;
	}
	t = talloc_zero(b, struct box_mt);
	if (t == NULL) {
		msg_destroy(m);
		return -ENOMEM;
	}
	t->b = b;
	t->req = req;
	t->push = push;
	uuid_copy(t->id, m->sms.id);
	t->frame = box_msg_frame(m);
	msg_destroy(m);
	if (t->frame == NULL) {
		talloc_free(t);
		return -ENOMEM;
	}
	TAILQ_INSERT_TAIL(&b->mts, t, link);
	b->nmts++;
	talloc_set_destructor(t, mt_destructor);
	mt_write(b, t);
	return 0;
}

/* UTF-8 to the msgdata of a Msg: Kannel keeps 7-bit text as UTF-8 (the SMSC module converts
 * it to GSM 03.38) and UCS-2 as UTF-16BE. */
static Octstr *msgdata(const char *s, size_t len, bool ucs2)
{
	Octstr *os = octstr_create_from_data(s, (long)len);

	if (ucs2 && charset_convert(os, "UTF-8", "UTF-16BE") != 0) {
		octstr_destroy(os);
		return NULL;
	}
	return os;
}

struct mt_spec {
	const char *sender, *receiver;	/* the short code, the subscriber */
	const char *text;
	size_t len;
	Octstr *smsc_id;		/* borrowed, may be NULL */
	int sms_type;
	char *meta;			/* USSD: the reply's meta data, else NULL */
};

/* The reply or notification as MT Msgs, split into concatenated parts (a UDH with an 8-bit
 * reference) when it is longer than one SMS, and queued. A USSD reply is never split: its
 * screens fit by design (flows check). Returns the number of parts queued, or -errno. */
static int mt_send(struct box *b, const struct mt_spec *sp, struct box_mo *req,
		   struct box_push *push)
{
	size_t starts[BOX_MAX_PARTS];
	struct sms_measure meas;
	int nparts, i, rc, queued = 0;
	bool ucs2;

	if (sms_measure(sp->text, sp->len, &meas) < 0)
		return -EILSEQ;
	ucs2 = meas.coding == SMS_UCS2;
	if (sp->meta) {
		nparts = 1;
		starts[0] = 0;
	} else {
		nparts = sms_cut(sp->text, sp->len, starts, BOX_MAX_PARTS);
		if (nparts < 0)
			return nparts;
	}
	if (nparts > 1)
		b->concat_ref++;
	for (i = 0; i < nparts; i++) {
		size_t from = starts[i], to = i + 1 < nparts ? starts[i + 1] : sp->len;
		Msg *m = msg_create(sms);

		m->sms.sms_type = sp->sms_type;
		m->sms.sender = octstr_create(sp->sender);
		m->sms.receiver = octstr_create(sp->receiver);
		m->sms.msgdata = msgdata(sp->text + from, to - from, ucs2);
		m->sms.coding = ucs2 ? BOX_DC_UCS2 : BOX_DC_7BIT;
		m->sms.time = time(NULL);
		if (sp->smsc_id)
			m->sms.smsc_id = octstr_duplicate(sp->smsc_id);
		if (b->ch->cfg->box_id)
			m->sms.boxc_id = octstr_create(b->ch->cfg->box_id);
		if (sp->meta)
			m->sms.meta_data = octstr_create(sp->meta);
		if (nparts > 1) {
			unsigned char udh[6] = { 5, 0, 3, b->concat_ref, (unsigned char)nparts,
						 (unsigned char)(i + 1) };

			m->sms.udhdata = octstr_create_from_data((char *)udh, sizeof(udh));
		}
		if (m->sms.msgdata == NULL) {
			msg_destroy(m);
			return queued ? queued : -EILSEQ;
		}
		rc = mt_queue(b, m, req, push);
		if (rc < 0)
			return queued ? queued : rc;
		queued++;
	}
	b->stats.mt_queued += (unsigned long long)queued;
	return queued;
}

/* ---- MOs ------------------------------------------------------------------------------ */

static int mo_destructor(struct box_mo *req)
{
	struct box_mt *t;

	TAILQ_REMOVE(&req->b->mos, req, link);
	TAILQ_FOREACH(t, &req->b->mts, link)
		if (t->req == req)
			t->req = NULL;
	if (req->timer)
		event_free(req->timer);
	msg_destroy(req->msg);
	return 0;
}

static struct box_mo *mo_find(struct box *b, const uuid_t id)
{
	struct box_mo *req;

	TAILQ_FOREACH(req, &b->mos, link)
		if (uuid_compare(req->id, id) == 0)
			return req;
	return NULL;
}

/* The MO is finished: acknowledged on the connection that is waiting for it, if it still is. */
static void mo_finish(struct box_mo *req, int nack)
{
	struct box *b = req->b;

	METRIC_INC2(requests, req->ussd_op < 0 ? MC_BOX_SMS : MC_BOX_USSD,
		    nack == ack_success ? MR_OK : nack == ack_failed_tmp ? MR_ERROR : MR_REFUSED);
	if (b->connected && req->gen == b->gen) {
		write_ack(b, req->id, req->msg->sms.time, nack);
		if (nack == ack_failed_tmp)
			b->stats.mo_retry++;
		else
			b->stats.mo_acked++;
	}
	talloc_free(req);
}

static void tmp_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	mo_finish(arg, ack_failed_tmp);
}

/* Not now (Redis down): bearerbox keeps the MO and offers it again. It would at once, so the
 * nack waits a second. */
static void mo_later(struct box_mo *req, const char *why)
{
	struct timeval tv = { BOX_TMP_DELAY_S, 0 };

	LOGP(LOGC_KBOX, LOGL_NOTICE, "box: MO from %s not handled now (%s); bearerbox keeps it",
	     req->masked, why);
	req->timer = evtimer_new(req->b->ch->base, tmp_cb, req);
	if (req->timer == NULL || evtimer_add(req->timer, &tv) < 0)
		mo_finish(req, ack_failed_tmp);
}

/* The record of an MO in Redis: "r<op> <text>" once its reply exists (op 's' for an SMS,
 * 'c' or 'e' for a USSD screen that continues or ends the session), then "s" once the reply
 * is in bearerbox's hands. */
static void on_marked(void *arg, int err)
{
	(void)arg;
	if (err < 0 && err != -ECANCELED) {
		/* The reply went out and the MO is acked; only an MO offered again (the ack lost
		 * too) would have its reply sent twice, which is better than losing it. */
		LOGP(LOGC_KBOX, LOGL_WARN, "box: an answered MO not marked (%s)", strerror(-err));
	}
}

/* Every part of the reply is in bearerbox's hands: the record is marked and the MO acked at
 * once, in the same pass of the loop. Waiting for Redis's answer first would only matter to
 * an MO offered again, which needs the ack lost as well, and costs a round trip an MO. */
static void mo_part_done(struct box_mo *req)
{
	if (req->parts_left > 0 && --req->parts_left > 0)
		return;
	if (store_session_set(req->b->ch->store, mo_rec(req), "s", 1, BOX_MO_TTL_S,
			      on_marked, NULL) < 0)
		on_marked(NULL, -EAGAIN);
	req->state = MO_DONE;
	mo_finish(req, ack_success);
}

/* The meta data of a USSD reply: the operation, and the session as it came (integer TLVs:
 * its number again). */
static char *reply_meta(struct box_mo *req, bool end)
{
	const struct ceirgw_config *cfg = req->b->ch->cfg;
	int op = end ? req->b->op_end : req->b->op_continue;
	char opv[16], sv[16];

	if (box_tlv_format((unsigned long)op, 1, req->b->tlv_octets, opv, sizeof(opv)) < 0)
		return NULL;
	if (req->session_val == NULL)
		return talloc_asprintf(req, "?%s?%s=%s", cfg->ussd_meta_group, cfg->ussd_op_tlv,
				       opv);
	if (req->b->tlv_octets)
		return talloc_asprintf(req, "?%s?%s=%s&%s=%.*s", cfg->ussd_meta_group,
				       cfg->ussd_op_tlv, opv, cfg->ussd_session_tlv,
				       (int)req->session_len, req->session_val);
	snprintf(sv, sizeof(sv), "%lld", req->session_num);
	return talloc_asprintf(req, "?%s?%s=%s&%s=%s", cfg->ussd_meta_group, cfg->ussd_op_tlv,
			       opv, cfg->ussd_session_tlv, sv);
}

/* Sends the reply (op: the USSD operation's kind, 'c'ontinue or 'e'nd; 's' for an SMS). */
static void mo_send_reply(struct box_mo *req, char op, const char *text, size_t len)
{
	struct mt_spec sp = {
		.sender = octstr_get_cstr(req->msg->sms.receiver),
		.receiver = octstr_get_cstr(req->msg->sms.sender),
		.text = text, .len = len, .smsc_id = req->msg->sms.smsc_id,
		.sms_type = mt_reply,
	};
	int n;

	if (op != 's' && (sp.meta = reply_meta(req, op == 'e')) == NULL) {
		LOGP(LOGC_KBOX, LOGL_ERROR, "box: the USSD reply to %s cannot be sent",
		     req->masked);
		req->parts_left = 0;
		mo_part_done(req);
		return;
	}
	req->state = MO_SENDING;
	n = mt_send(req->b, &sp, req, NULL);
	if (n <= 0) {
		LOGP(LOGC_KBOX, LOGL_ERROR, "box: the reply to %s cannot be sent (%s)",
		     req->masked, strerror(-n));
		req->parts_left = 0;
		mo_part_done(req);
		return;
	}
	req->parts_left = (unsigned)n;
}

struct saved_reply {
	char op;
	const char *text;
	size_t len;
};

static int parse_record(const char *data, size_t len, struct saved_reply *sr)
{
	if (len < 3 || data[0] != 'r' || (data[1] != 'c' && data[1] != 'e' && data[1] != 's') ||
	    data[2] != ' ')
		return -EINVAL;
	sr->op = data[1];
	sr->text = data + 3;
	sr->len = len - 3;
	return 0;
}

static void on_saved(void *arg, int err)
{
	struct box_mo *req = arg;

	if (err == -ECANCELED)
		return;
	if (err < 0) {
		mo_later(req, "the reply cannot be recorded");
		return;
	}
	mo_send_reply(req, req->reply[1], req->reply + 3, strlen(req->reply + 3));
}

static void on_reply(void *arg, const struct engine_reply *r)
{
	struct box_mo *req = arg;
	char op = req->ussd_op < 0 ? 's' : r->end ? 'e' : 'c';

	if (r->temporary) {
		mo_later(req, "Redis unavailable");
		return;
	}
	/* Recorded before it goes out: offered again, the MO gets this same reply. */
	req->reply = talloc_asprintf(req, "r%c %.*s", op, (int)r->len, r->text);
	if (req->reply == NULL) {
		mo_later(req, "out of memory");
		return;
	}
	req->state = MO_SAVING;
	if (store_session_set(req->b->ch->store, mo_rec(req), req->reply,
			      strlen(req->reply), BOX_MO_TTL_S, on_saved, req) < 0)
		mo_later(req, "Redis unavailable");
}

static bool op_in(const unsigned char *ops, int n, int op)
{
	for (int i = 0; i < n; i++)
		if (ops[i] == op)
			return true;
	return false;
}

/* Text of the MO as UTF-8: 7-bit text already is (Kannel converts GSM 03.38 on the way in),
 * UCS-2 is UTF-16BE. 8-bit data is not text: it gets the help reply. */
static char *mo_text(struct box_mo *req, size_t *len)
{
	Octstr *os = octstr_duplicate(req->msg->sms.msgdata);
	char *s;

	if (os == NULL)
		os = octstr_create("");
	if (req->msg->sms.coding == BOX_DC_UCS2 &&
	    charset_convert(os, "UTF-16BE", "UTF-8") != 0)
		octstr_truncate(os, 0);
	else if (req->msg->sms.coding == 1)
		octstr_truncate(os, 0);
	*len = (size_t)octstr_len(os);
	s = talloc_memdup(req, octstr_get_cstr(os), *len + 1);
	octstr_destroy(os);
	return s;
}

/* first: what the engine reads first, read with the MO's record (on_record). */
static void run_engine(struct box_mo *req, const struct engine_first *first)
{
	struct box *b = req->b;
	size_t len;
	char *text = mo_text(req, &len);
	int rc;

	if (text == NULL) {
		mo_later(req, "out of memory");
		return;
	}
	req->state = MO_ENGINE;
	if (req->ussd_op < 0) {
		rc = engine_sms_first(b->ch->engine, req->e164, text, len, first, on_reply, req);
	} else if (op_in(b->op_begin, b->nop_begin, req->ussd_op)) {
		const char *args;
		size_t alen;

		/* A dial: a session this MO's id begins; its arguments are the first inputs. */
		box_ussd_args(text, len, &args, &alen);
		rc = engine_ussd_first(b->ch->engine, req->e164, req->sid, strlen(req->sid), args,
				       alen, ENGINE_USSD_DIAL, first, on_reply, req);
	} else {
		/* An answer; a late one, whose session is gone, starts afresh. */
		rc = engine_ussd_first(b->ch->engine, req->e164, req->sid, strlen(req->sid), text,
				       len, ENGINE_USSD_ANSWER, first, on_reply, req);
	}
	if (rc == -EINVAL || rc == -E2BIG) {
		/* It will never be taken (a text over 1024 bytes or 32 inputs, a bad session id):
		 * offered again, it would come back for ever. */
		LOGP(LOGC_KBOX, LOGL_NOTICE, "box: MO from %s that the engine refuses (%s); dropped",
		     req->masked, strerror(-rc));
		mo_finish(req, ack_failed);
	} else if (rc < 0) {
		mo_later(req, strerror(-rc));
	}
}

/* The MO's record (v[0]) and the engine's first read (v[1], and v[2] for a dial: the
 * resume record), read in one command: an MO seen before is answered from its record, a new
 * one goes to the engine with what it would read first. */
static void on_record(void *arg, int err, const struct store_val *v, size_t n)
{
	struct box_mo *req = arg;
	struct engine_first first = { 0 };
	struct saved_reply sr;

	if (err == -ECANCELED)
		return;
	if (err < 0 || n < 2) {
		mo_later(req, "Redis unavailable");
		return;
	}
	first.data = v[1].data;
	first.len = v[1].len;
	first.found = v[1].found;
	first.resume = n > 2 && v[2].found;
	if (!v[0].found) {
		run_engine(req, &first);
		return;
	}
	req->b->stats.mo_repeated++;
	if (v[0].len == 1 && ((const char *)v[0].data)[0] == 's') {
		/* Answered and in bearerbox's hands before: only the ack was missing. */
		req->state = MO_DONE;
		mo_finish(req, ack_success);
		return;
	}
	if (parse_record(v[0].data, v[0].len, &sr) < 0) {
		LOGP(LOGC_KBOX, LOGL_WARN, "box: MO record mo:%s unreadable; answering again",
		     req->key);
		run_engine(req, &first);
		return;
	}
	LOGP(LOGC_KBOX, LOGL_INFO, "box: MO from %s offered again: its recorded reply goes out",
	     req->masked);
	mo_send_reply(req, sr.op, sr.text, sr.len);
}

/* Reads the MO's record with the engine's first read, which it shares a slot with: the
 * number's language (and for a dial its resume record), or an answer's session record. */
static void mo_lookup(struct box_mo *req)
{
	struct box *b = req->b;
	struct store_rec_id reads[3];
	size_t n = 2;
	bool answer = req->ussd_op >= 0 && !op_in(b->op_begin, b->nop_begin, req->ussd_op);

	if (answer)
		req->slot = (struct store_rec_id){ STORE_REC_USSD, req->sid, strlen(req->sid),
						   req->e164, NULL };
	else
		req->slot = (struct store_rec_id){ STORE_REC_LANG, req->e164, strlen(req->e164),
						   NULL, NULL };
	req->rec = (struct store_rec_id){ STORE_REC_MO, req->key, strlen(req->key), NULL,
					  &req->slot };
	reads[0] = req->rec;
	reads[1] = req->slot;
	if (req->ussd_op >= 0 && !answer)
		reads[n++] = (struct store_rec_id){ STORE_REC_RESUME, req->e164, strlen(req->e164),
						    NULL, NULL };
	req->state = MO_LOOKUP;
	if (store_records_get(b->ch->store, reads, n, on_record, req) < 0)
		mo_later(req, "Redis unavailable");
}

/* The session id of a USSD MO: the session TLV's value when it is short and printable, else
 * its hex; without it, one session per number. */
static int mo_session(struct box_mo *req, const char *val, size_t vlen)
{
	char raw[BOX_SID_MAX];
	int n = val ? box_url_decode(val, vlen, raw, sizeof(raw)) : 0;
	bool printable = n > 0;

	if (n < 0)
		return n;
	for (int i = 0; i < n && printable; i++)
		if ((unsigned char)raw[i] <= ' ' || (unsigned char)raw[i] >= 0x7f)
			printable = false;
	if (n == 0)
		req->sid = talloc_strdup(req, "-");
	else if (printable)
		req->sid = talloc_strndup(req, raw, (size_t)n);
	else if (n * 2 <= BOX_SID_MAX) {
		req->sid = talloc_zero_size(req, (size_t)n * 2 + 1);
		for (int i = 0; req->sid && i < n; i++)
			snprintf(req->sid + 2 * i, 3, "%02x", (unsigned char)raw[i]);
	} else
		return -E2BIG;
	return req->sid ? 0 : -ENOMEM;
}

static void handle_mo(struct box *b, Msg *m)
{
	const struct ceirgw_config *cfg = b->ch->cfg;
	struct box_mo *req;
	struct msisdn num;
	char idhex[UUID_STR_LEN + 1];
	const char *opv = NULL, *sv = NULL;
	size_t oplen = 0, svlen = 0;
	int rc;

	b->stats.mo_received++;
	req = mo_find(b, m->sms.id);
	if (req) {
		/* Offered again (after a reconnect) while still being answered: it is
		 * acknowledged on this connection when done. */
		req->gen = b->gen;
		msg_destroy(m);
		return;
	}
	req = talloc_zero(b, struct box_mo);
	if (req == NULL) {
		write_ack(b, m->sms.id, m->sms.time, ack_failed_tmp);
		msg_destroy(m);
		return;
	}
	req->b = b;
	req->gen = b->gen;
	req->msg = m;
	req->ussd_op = -1;
	uuid_copy(req->id, m->sms.id);
	TAILQ_INSERT_TAIL(&b->mos, req, link);
	talloc_set_destructor(req, mo_destructor);
	uuid_unparse(m->sms.id, idhex);
	{
		size_t k = 0;

		for (const char *c = idhex; *c && k < sizeof(req->key) - 1; c++)
			if (*c != '-')
				req->key[k++] = *c;
		req->key[k] = '\0';
	}

	msisdn_mask(octstr_get_cstr(m->sms.sender), (size_t)octstr_len(m->sms.sender),
		    req->masked, sizeof(req->masked));
	msisdn_memo_parse(b->ch->msisdn, octstr_get_cstr(m->sms.sender),
			  (size_t)octstr_len(m->sms.sender), &num);
	if (!num.valid || octstr_len(m->sms.receiver) == 0) {
		/* Nobody to answer: bearerbox must not offer it again. */
		LOGP(LOGC_KBOX, LOGL_NOTICE, "box: MO from %s: not a valid number; dropped",
		     req->masked);
		mo_finish(req, ack_failed);
		return;
	}
	snprintf(req->e164, sizeof(req->e164), "%s", num.e164);

	if (octstr_len(m->sms.meta_data) > 0 &&
	    box_meta_find(octstr_get_cstr(m->sms.meta_data), (size_t)octstr_len(m->sms.meta_data),
			  cfg->ussd_meta_group, cfg->ussd_op_tlv, &opv, &oplen) == 0) {
		long long op = box_tlv_int(opv, oplen, !b->tlv_octets);

		if (op < 0 || op > 255) {
			LOGP(LOGC_KBOX, LOGL_NOTICE, "box: USSD MO from %s with a bad %s; dropped",
			     req->masked, cfg->ussd_op_tlv);
			mo_finish(req, ack_failed);
			return;
		}
		req->ussd_op = (int)op;
		box_meta_find(octstr_get_cstr(m->sms.meta_data), (size_t)octstr_len(m->sms.meta_data),
			      cfg->ussd_meta_group, cfg->ussd_session_tlv, &sv, &svlen);
		if (sv) {
			req->session_val = talloc_strndup(req, sv, svlen);
			req->session_len = svlen;
			req->session_num = box_tlv_int(sv, svlen, !b->tlv_octets);
		}
		rc = mo_session(req, sv, svlen);
		if (rc < 0 || (sv && (req->session_val == NULL ||
				      (!b->tlv_octets && req->session_num < 0)))) {
			LOGP(LOGC_KBOX, LOGL_NOTICE, "box: USSD MO from %s with a bad %s; dropped",
			     req->masked, cfg->ussd_session_tlv);
			mo_finish(req, ack_failed);
			return;
		}
		if (op_in(b->op_release, b->nop_release, req->ussd_op)) {
			/* The user or the network ended the session: nothing to answer. */
			engine_ussd_abort(b->ch->engine, req->e164, req->sid, strlen(req->sid));
			LOGP(LOGC_KBOX, LOGL_INFO, "box: USSD session of %s released (op %d)",
			     req->masked, req->ussd_op);
			mo_finish(req, ack_success);
			return;
		}
		if (!op_in(b->op_begin, b->nop_begin, req->ussd_op) &&
		    !op_in(b->op_answer, b->nop_answer, req->ussd_op)) {
			LOGP(LOGC_KBOX, LOGL_NOTICE, "box: USSD MO from %s with operation %d, which "
			     "is neither a dial, an answer nor a release; dropped", req->masked,
			     req->ussd_op);
			mo_finish(req, ack_failed);
			return;
		}
	}
	mo_lookup(req);
}

static void push_part_done(struct box_push *p);
static void pushes_drop(struct box *b);

/* ---- from bearerbox ------------------------------------------------------------------- */

/* bearerbox's answer to one of our MTs. */
static void handle_ack(struct box *b, Msg *m)
{
	struct box_mt *t;
	struct box_mo *req;
	struct box_push *push;
	struct timeval tv = { BOX_MT_RETRY_S, 0 };

	TAILQ_FOREACH(t, &b->mts, link)
		if (uuid_compare(t->id, m->ack.id) == 0)
			break;
	if (t == NULL) {
		/* An ack of an MT sent again after a reconnect, already acknowledged. */
		LOGP(LOGC_KBOX, LOGL_DEBUG, "box: ack for no waiting MT");
		return;
	}
	switch (m->ack.nack) {
	case ack_failed_tmp:
		/* Its queue is full: the MT waits and goes again. */
		t->written = false;
		b->stats.mt_retried++;
		if (!evtimer_pending(b->mt_retry, NULL))
			evtimer_add(b->mt_retry, &tv);
		return;
	case ack_failed:
		b->stats.mt_refused++;
		LOGP(LOGC_KBOX, LOGL_ERROR, "box: bearerbox refused an MT (no route to its SMSC?)");
		break;
	default:	/* ack_success, ack_buffered: in its store */
		b->stats.mt_acked++;
		break;
	}
	req = t->req;
	push = t->push;
	talloc_free(t);
	if (req)
		mo_part_done(req);
	if (push)
		push_part_done(push);
}

static void disconnect(struct box *b, const char *why);

static void handle_msg(struct box *b, Msg *m)
{
	switch (msg_type(m)) {
	case sms:
		if (m->sms.sms_type == mo) {
			handle_mo(b, m);	/* takes m */
			return;
		}
		/* A delivery report or anything else routed to a box: nothing to do. */
		write_ack(b, m->sms.id, m->sms.time, ack_success);
		break;
	case ack:
		handle_ack(b, m);
		break;
	case admin:
		if (m->admin.command == cmd_shutdown || m->admin.command == cmd_restart) {
			/* bearerbox waits for its boxes to close before it exits, as smsbox
			 * does: close, and connect again later. What it has not acked stays in
			 * its store, and ours in memory. */
			disconnect(b, m->admin.command == cmd_shutdown ? "bearerbox shuts down" :
				   "bearerbox restarts");
			msg_destroy(m);
			return;
		}
		break;
	default:
		break;
	}
	msg_destroy(m);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct box *b = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	while (b->connected) {
		size_t have = evbuffer_get_length(in);
		size_t want = have < BOX_FRAME_HDR ? have : BOX_FRAME_HDR;
		unsigned char *p = evbuffer_pullup(in, (ev_ssize_t)want);
		long n = box_frame_peek(p, have, (size_t)b->ch->cfg->box_max_frame);
		Msg *m;

		if (n == -EAGAIN)
			return;
		if (n < 0) {
			LOGP(LOGC_KBOX, LOGL_ERROR, "box: bearerbox sent a frame over %ld bytes "
			     "(box-max-frame) or of a negative length", b->ch->cfg->box_max_frame);
			disconnect(b, "frame too big");
			return;
		}
		p = evbuffer_pullup(in, BOX_FRAME_HDR + n);
		m = box_msg_unpack(p + BOX_FRAME_HDR, (size_t)n);
		evbuffer_drain(in, (size_t)(BOX_FRAME_HDR + n));
		if (m == NULL) {
			LOGP(LOGC_KBOX, LOGL_ERROR, "box: bearerbox sent a frame that is not a Msg");
			disconnect(b, "garbage");
			return;
		}
		handle_msg(b, m);
	}
}

/* ---- the connection ------------------------------------------------------------------- */

static void reconnect_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	connect_now(arg);
}

static void disconnect(struct box *b, const char *why)
{
	struct timeval tv = { b->backoff_s, 0 };
	struct box_mt *t;

	if (b->bev) {
		bufferevent_free(b->bev);
		b->bev = NULL;
	}
	if (b->connected) {
		LOGP(LOGC_KBOX, LOGL_WARN, "box: connection to bearerbox %s:%d lost (%s); "
		     "%zu MT waiting", b->host, b->port, why, b->nmts);
		b->stats.disconnects++;
	}
	/* A connection bearerbox closes at once (a denied IP, the wrong port) must not make a
	 * loop of one attempt a second: the backoff starts over only after one that lasted. */
	if (b->connected && time(NULL) - b->connected_at >= BOX_BACKOFF_MAX_S)
		b->backoff_s = 1;
	tv.tv_sec = b->backoff_s;
	b->connected = false;
	evtimer_del(b->heartbeat);
	/* Notifications go back to the outbox (pending there, read again on the next
	 * connection); what else bearerbox did not acknowledge goes again from memory. */
	pushes_drop(b);
	TAILQ_FOREACH(t, &b->mts, link)
		t->written = false;
	evtimer_add(b->reconnect, &tv);
	b->backoff_s = b->backoff_s * 2 > BOX_BACKOFF_MAX_S ? BOX_BACKOFF_MAX_S : b->backoff_s * 2;
}

static void send_heartbeat(struct box *b)
{
	Msg *m = msg_create(heartbeat);
	size_t load = 0;
	struct box_mo *req;

	TAILQ_FOREACH(req, &b->mos, link)
		load++;
	m->heartbeat.load = (long)load;
	write_msg(b, m);
	msg_destroy(m);
}

static void heartbeat_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	send_heartbeat(arg);
}

static void flush_mts(struct box *b)
{
	struct box_mt *t;

	TAILQ_FOREACH(t, &b->mts, link)
		mt_write(b, t);
}

static void mt_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	flush_mts(arg);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct box *b = arg;
	struct timeval hb = { b->ch->cfg->box_heartbeat, 0 };
	int one = 1;
	Msg *m;

	if (what & BEV_EVENT_CONNECTED) {
		setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		b->connected = true;
		b->connected_at = time(NULL);
		b->gen++;
		b->stats.connects++;
		/* Until it has this, bearerbox routes nothing to us. */
		m = msg_create(admin);
		m->admin.command = cmd_identify;
		if (b->ch->cfg->box_id)
			m->admin.boxc_id = octstr_create(b->ch->cfg->box_id);
		write_msg(b, m);
		msg_destroy(m);
		send_heartbeat(b);
		evtimer_add(b->heartbeat, &hb);
		LOGP(LOGC_KBOX, LOGL_NOTICE, "box: connected to bearerbox %s:%d as %s; %zu MT to "
		     "send", b->host, b->port, b->ch->cfg->box_id ? b->ch->cfg->box_id :
		     "an unnamed box", b->nmts);
		flush_mts(b);
		outbox_again(b->outbox);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		disconnect(b, "closed by bearerbox");
		return;
	}
	if (what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
		char why[128];

		snprintf(why, sizeof(why), "%s", what & BEV_EVENT_TIMEOUT ? "timeout" :
			 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		if (!b->connected)
			LOGP(LOGC_KBOX, LOGL_WARN, "box: cannot connect to bearerbox %s:%d (%s); "
			     "again in %d s", b->host, b->port, why, b->backoff_s);
		disconnect(b, why);
	}
}

static void connect_now(struct box *b)
{
	struct timeval tmo = { 10, 0 }, soon = { 0, 250000 };

	/* Not before Redis is there: every MO would only get ack_failed_tmp. */
	if (!store_is_up(b->ch->store)) {
		evtimer_add(b->reconnect, &soon);
		return;
	}

	b->bev = bufferevent_socket_new(b->ch->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (b->bev == NULL) {
		disconnect(b, "out of memory");
		return;
	}
	bufferevent_setcb(b->bev, read_cb, NULL, event_cb, b);
	bufferevent_set_timeouts(b->bev, NULL, &tmo);
	bufferevent_enable(b->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect_hostname(b->bev, NULL, AF_UNSPEC, b->host, b->port) < 0)
		disconnect(b, "cannot resolve or connect");
}

/* ---- notifications: through the outbox (outbox.c) -------------------------------------- */


static int push_destructor(struct box_push *p)
{
	struct box_mt *t, *next;

	TAILQ_REMOVE(&p->b->pushes, p, link);
	for (t = TAILQ_FIRST(&p->b->mts); t; t = next) {
		next = TAILQ_NEXT(t, link);
		if (t->push == p)
			talloc_free(t);
	}
	return 0;
}

static void push_part_done(struct box_push *p)
{
	if (p->parts_left > 0 && --p->parts_left > 0)
		return;
	p->b->stats.pushes_sent++;
	outbox_done(p->b->outbox, p->id);
	talloc_free(p);
}

/* Drops what is waiting for bearerbox of the outbox's SMS: their entries stay pending and
 * go again on the next connection. */
static void pushes_drop(struct box *b)
{
	struct box_push *p;

	while ((p = TAILQ_FIRST(&b->pushes)) != NULL) {
		outbox_drop(b->outbox, p->id);
		talloc_free(p);
	}
}

static bool box_ready(void *arg)
{
	return ((struct box *)arg)->connected;
}

static int box_deliver(void *arg, const char *id, const char *to, const char *text, size_t len)
{
	struct box *b = arg;
	const struct ceirgw_config *cfg = b->ch->cfg;
	Octstr *smsc = cfg->box_smsc_id ? octstr_create(cfg->box_smsc_id) : NULL;
	struct mt_spec sp = {
		.sender = cfg->sms_code, .receiver = to, .text = text, .len = len,
		.smsc_id = smsc, .sms_type = mt_push,
	};
	struct box_push *p = NULL;
	int n;

	if (id) {
		p = talloc_zero(b, struct box_push);
		if (p == NULL) {
			octstr_destroy(smsc);
			return -ENOBUFS;
		}
		p->b = b;
		snprintf(p->id, sizeof(p->id), "%s", id);
		TAILQ_INSERT_TAIL(&b->pushes, p, link);
		talloc_set_destructor(p, push_destructor);
	}
	n = mt_send(b, &sp, NULL, p);
	octstr_destroy(smsc);
	if (n <= 0) {
		talloc_free(p);
		if (id == NULL)
			b->stats.mt_lost++;	/* no outbox entry behind it: gone */
		return n < 0 ? n : -EIO;
	}
	if (p)
		p->parts_left = (unsigned)n;
	return 0;
}

void box_send(void *arg, const char *to, const char *text, size_t len)
{
	struct box *b = arg;

	b->stats.pushes_queued++;
	outbox_add(b->outbox, to, text, len);
}

/* ---- start and stop ------------------------------------------------------------------- */

static int box_destructor(struct box *b)
{
	struct box_mo *req;
	struct box_mt *t;

	if (b->nmts)
		LOGP(LOGC_KBOX, LOGL_WARN, "box: stopping with %zu MT bearerbox has not "
		     "acknowledged", b->nmts);
	while ((req = TAILQ_FIRST(&b->mos)) != NULL)
		talloc_free(req);
	while (!TAILQ_EMPTY(&b->pushes))
		talloc_free(TAILQ_FIRST(&b->pushes));
	while ((t = TAILQ_FIRST(&b->mts)) != NULL)
		talloc_free(t);
	TALLOC_FREE(b->outbox);
	if (b->bev)
		bufferevent_free(b->bev);
	if (b->reconnect)
		event_free(b->reconnect);
	if (b->heartbeat)
		event_free(b->heartbeat);
	if (b->mt_retry)
		event_free(b->mt_retry);
	return 0;
}

static int one_op(const char *s, const char *name, char *err, size_t errsz)
{
	unsigned char v[CONFIG_OPS_MAX];

	if (config_parse_ops(s, v, CONFIG_OPS_MAX) != 1) {
		snprintf(err, errsz, "%s = '%s': expected one value from 0 to 255", name, s);
		return -1;
	}
	return v[0];
}

struct box *box_start(void *ctx, struct channels *ch, char *err, size_t errsz)
{
	const struct ceirgw_config *cfg = ch->cfg;
	struct box *b = talloc_zero(ctx, struct box);

	if (b == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	b->ch = ch;
	TAILQ_INIT(&b->mos);
	TAILQ_INIT(&b->mts);
	TAILQ_INIT(&b->pushes);
	talloc_set_destructor(b, box_destructor);
	if (config_parse_hostport(cfg->bearerbox, b->host, sizeof(b->host), &b->port) < 0) {
		snprintf(err, errsz, "bearerbox = '%s': expected HOST:PORT", cfg->bearerbox);
		goto fail;
	}
	b->nop_begin = config_parse_ops(cfg->ussd_op_begin, b->op_begin, CONFIG_OPS_MAX);
	b->nop_answer = config_parse_ops(cfg->ussd_op_answer, b->op_answer, CONFIG_OPS_MAX);
	b->nop_release = config_parse_ops(cfg->ussd_op_release, b->op_release, CONFIG_OPS_MAX);
	b->op_continue = one_op(cfg->ussd_op_continue, "ussd-op-continue", err, errsz);
	b->op_end = one_op(cfg->ussd_op_end, "ussd-op-end", err, errsz);
	if (b->nop_begin < 0 || b->nop_answer < 0 || b->nop_release < 0 || b->op_continue < 0 ||
	    b->op_end < 0) {
		if (b->op_continue >= 0 && b->op_end >= 0)
			snprintf(err, errsz, "ussd-op-begin, -answer, -release: expected values "
				 "from 0 to 255 separated by commas");
		goto fail;
	}
	if (strcmp(cfg->ussd_tlv_type, "octetstring") == 0) {
		b->tlv_octets = true;
	} else if (strcmp(cfg->ussd_tlv_type, "integer") != 0) {
		snprintf(err, errsz, "ussd-tlv-type = '%s': expected octetstring or integer",
			 cfg->ussd_tlv_type);
		goto fail;
	}
	b->backoff_s = 1;
	b->reconnect = evtimer_new(ch->base, reconnect_cb, b);
	b->heartbeat = event_new(ch->base, -1, EV_PERSIST, heartbeat_cb, b);
	b->mt_retry = evtimer_new(ch->base, mt_retry_cb, b);
	{
		static const struct outbox_ops ops = { box_deliver, box_ready };

		b->outbox = outbox_start(b, ch, OUTBOX_BOX, &ops, b);
	}
	if (b->reconnect == NULL || b->heartbeat == NULL || b->mt_retry == NULL ||
	    b->outbox == NULL) {
		snprintf(err, errsz, "out of memory");
		goto fail;
	}
	LOGP(LOGC_KBOX, LOGL_INFO, "box: connecting to bearerbox %s:%d", b->host, b->port);
	connect_now(b);
	return b;
fail:
	talloc_free(b);
	return NULL;
}

const struct box_stats *box_stats(const struct box *b)
{
	return &b->stats;
}

bool box_connected(const struct box *b)
{
	return b->connected;
}
