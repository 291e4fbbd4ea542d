/* The outbox (channels.h): SMS of ceirgw's own (a receipt with its PIN, a CEIR result) must
 * survive a ceirgw that stops before the SMS path has taken them. Each goes into a Redis
 * stream first; a ceirgw reads it from there through a consumer group and hands it to its
 * channel (the Kannel box, or smsbox's sendsms), and acknowledges and deletes the entry once
 * the channel says it was delivered. The consumer is named after the host and the HTTP port,
 * so a restarted ceirgw sends its own unsent entries again at once, reading its pending list
 * with a cursor (however long the list is), before any new entry; entries of a consumer
 * that does not come back are taken over by another after CLAIM_IDLE_MS, XAUTOCLAIM going
 * on with its cursor to the end of the list. Without Redis an SMS goes straight to the
 * channel, as before. Why a stream and a group rather than a list: it is the pattern the
 * CEIR results already use (pending entries, XAUTOCLAIM).
 *
 * Sent twice: an entry is sent again when ceirgw stops after its channel has handed it
 * over and before its XACK is in Redis. A delivery whose XACK fails (Redis dropped or timed
 * out) is kept and acknowledged again once Redis is back, never read again meanwhile, so
 * only a ceirgw that stops inside that window sends twice: the channel's own round trip
 * (sendsms: the one request smsbox is answering; the box: the MTs bearerbox has not acked
 * yet) and then one Redis round trip, longer only while Redis is away (doc/redis-keys.md). */
#include "channel/channels.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <talloc.h>

#include "core/logging.h"
#include "domain/msisdn.h"
#include "store/store.h"

#include "gwlib/gwlib.h"	/* uuid_generate, uuid_unparse */

#define GROUP "ceirgw"
#define REMEMBER_S 60		/* an add repeated within this is added once */
#define POLL_MS 250
#define CLAIM_EVERY_S 30
/* Longer than an entry stays with a live ceirgw's channel: sendsms tries for 156 s (and up
 * to 10 s per try) before it gives one up, and a live owner's entry taken over by another
 * ceirgw would be sent by both. */
#define CLAIM_IDLE_MS 300000
#define ID_MAX 48

/* Entries in flight are found by id through a hash table: up to the channel's queue
 * (10,000 for sendsms) can be, and every delivery looks one up. */
#define FLIGHT_BUCKETS 1024

/* An entry handed to the channel and not yet delivered. */
struct flight {
	TAILQ_ENTRY(flight) link;
	struct outbox *o;
	size_t idlen;
	char id[ID_MAX];
	bool acking;		/* delivered: its XACK is on the way, or owed */
	TAILQ_ENTRY(flight) owe;	/* in owed while its XACK waits for Redis */
};
TAILQ_HEAD(flight_list, flight);
TAILQ_HEAD(owed_list, flight);

/* What the read in progress reads: its own pending entries, new ones, or others'. */
enum outbox_read { READ_PENDING, READ_NEW, READ_CLAIM };

struct outbox {
	struct channels *ch;
	char stream[64];
	char consumer[96];
	struct outbox_ops ops;
	void *arg;
	struct event *timer;
	bool group_ok, pending_done, busy, claiming;
	enum outbox_read reading;
	char after[ID_MAX];	/* the pending pass goes on after this id */
	char cursor[ID_MAX];	/* XAUTOCLAIM's, while claiming */
	time_t last_claim;
	struct owed_list owed;
	struct flight_list flights[FLIGHT_BUCKETS];
	struct outbox_stats stats;
};

static void later(struct outbox *o, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	o->busy = false;
	evtimer_add(o->timer, &tv);
}

/* FNV-1a of a stream entry id. */
static struct flight_list *bucket(struct outbox *o, const char *id, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)id[i]) * 16777619u;
	return &o->flights[h & (FLIGHT_BUCKETS - 1)];
}

static struct flight *flight_find(struct outbox *o, const char *id, size_t len)
{
	struct flight *f;

	TAILQ_FOREACH(f, bucket(o, id, len), link)
		if (f->idlen == len && memcmp(f->id, id, len) == 0)
			return f;
	return NULL;
}

static void flight_free(struct flight *f)
{
	TAILQ_REMOVE(bucket(f->o, f->id, f->idlen), f, link);
	talloc_free(f);
}

static void noop_done(void *arg, int err)
{
	(void)arg;
	(void)err;
}

/* A stream id "ms-seq" as two numbers; "0" and ">"-less forms as 0-0. */
static void id_parse(const char *id, unsigned long long *ms, unsigned long long *seq)
{
	char *end;

	*ms = strtoull(id, &end, 10);
	*seq = *end == '-' ? strtoull(end + 1, NULL, 10) : 0;
}

/* The pending pass goes back to just before id (XREADGROUP reads after the id it is given),
 * unless it is to read from earlier already. */
static void rewind_to(struct outbox *o, const char *id, size_t len)
{
	unsigned long long ms, seq, ams, aseq;
	char buf[ID_MAX];

	if (len >= sizeof(buf))
		return;
	memcpy(buf, id, len);
	buf[len] = '\0';
	id_parse(buf, &ms, &seq);
	if (seq > 0)
		seq--;
	else if (ms > 0)
		ms--, seq = UINT64_MAX;
	id_parse(o->after, &ams, &aseq);
	if (o->pending_done || ms < ams || (ms == ams && seq < aseq))
		snprintf(o->after, sizeof(o->after), "%llu-%llu", ms, seq);
	o->pending_done = false;
}

static void on_acked(void *arg, int err)
{
	struct flight *f = arg;
	struct outbox *o = f->o;

	if (err == -ECANCELED)
		return;
	if (err == -EAGAIN) {
		/* Redis dropped or timed out: the XACK may not have landed. The entry stays
		 * in flight, so no read hands it to the channel again, and the XACK goes again
		 * once Redis is back (tick). */
		TAILQ_INSERT_TAIL(&o->owed, f, owe);
		return;
	}
	if (err == 0)
		store_stream_del(o->ch->store, o->stream, f->id, f->idlen, noop_done, NULL);
	flight_free(f);
}

static void ack(struct flight *f)
{
	struct outbox *o = f->o;

	if (store_group_ack(o->ch->store, o->stream, GROUP, f->id, f->idlen, on_acked, f) < 0)
		TAILQ_INSERT_TAIL(&o->owed, f, owe);
}

/* The XACKs that Redis was not there for. */
static void ack_owed(struct outbox *o)
{
	struct flight *f;

	while ((f = TAILQ_FIRST(&o->owed)) != NULL) {
		if (store_group_ack(o->ch->store, o->stream, GROUP, f->id, f->idlen, on_acked,
				    f) < 0)
			return;
		TAILQ_REMOVE(&o->owed, f, owe);
	}
}

void outbox_done(struct outbox *o, const char *id)
{
	struct flight *f = flight_find(o, id, strlen(id));

	if (f == NULL || f->acking)
		return;
	o->stats.sent++;
	f->acking = true;
	ack(f);
}

void outbox_drop(struct outbox *o, const char *id)
{
	struct flight *f = flight_find(o, id, strlen(id));

	if (f && !f->acking)
		flight_free(f);
}

void outbox_again(struct outbox *o)
{
	o->pending_done = false;
	snprintf(o->after, sizeof(o->after), "0-0");
	if (!o->busy)
		later(o, 0);
}

static bool field_is(const struct store_kv *kv, const char *name)
{
	return kv->klen == strlen(name) && memcmp(kv->key, name, kv->klen) == 0;
}

/* Hands one entry to the channel. Returns false when the channel cannot take it now (the
 * entry stays pending for this consumer, and is read again). */
static bool take(struct outbox *o, const struct store_entry *se)
{
	char to[MSISDN_E164_MAX + 2] = "", masked[24];
	const char *text = NULL;
	size_t tlen = 0;
	struct flight *f;
	int rc;

	if (se->idlen >= ID_MAX || flight_find(o, se->id, se->idlen))
		return true;	/* in flight already, or its XACK is */
	for (size_t i = 0; i < se->n; i++) {
		if (field_is(&se->kv[i], "to") && se->kv[i].vlen < sizeof(to)) {
			memcpy(to, se->kv[i].val, se->kv[i].vlen);
			to[se->kv[i].vlen] = '\0';
		} else if (field_is(&se->kv[i], "text")) {
			text = se->kv[i].val;
			tlen = se->kv[i].vlen;
		}
	}
	f = talloc_zero(o, struct flight);
	if (f == NULL)
		return false;
	f->o = o;
	f->idlen = se->idlen;
	memcpy(f->id, se->id, se->idlen);
	TAILQ_INSERT_TAIL(bucket(o, f->id, f->idlen), f, link);
	if (to[0] == '\0' || text == NULL) {
		LOGP(LOGC_MAIN, LOGL_ERROR, "outbox %s: entry %s is not an SMS; dropped", o->stream,
		     f->id);
		outbox_done(o, f->id);
		return true;
	}
	rc = o->ops.deliver(o->arg, f->id, to, text, tlen);
	if (rc == -ENOBUFS) {
		flight_free(f);
		return false;
	} else if (rc < 0) {
		msisdn_mask(to, strlen(to), masked, sizeof(masked));
		LOGP(LOGC_MAIN, LOGL_ERROR, "outbox %s: SMS to %s cannot be sent (%s); dropped",
		     o->stream, masked, strerror(-rc));
		o->stats.lost++;
		outbox_done(o, f->id);
	}
	return true;
}

/* Hands what was read to the channel while it takes them. Returns how many it went through;
 * the rest are this consumer's pending entries now, read again from the first of them. */
static size_t take_all(struct outbox *o, const struct store_entry *se, size_t n)
{
	size_t i;

	for (i = 0; i < n && o->ops.ready(o->arg) && take(o, &se[i]); i++)
		;
	if (o->reading == READ_PENDING && i > 0 && se[i - 1].idlen < sizeof(o->after)) {
		memcpy(o->after, se[i - 1].id, se[i - 1].idlen);
		o->after[se[i - 1].idlen] = '\0';
	}
	if (i < n)
		rewind_to(o, se[i].id, se[i].idlen);
	return i;
}

/* A read that brought nothing: cancelled (the outbox is closing) or failed (again in a
 * second). */
static bool read_failed(struct outbox *o, int err)
{
	if (err == -ECANCELED)
		return true;
	if (err < 0) {
		later(o, 1000);
		return true;
	}
	return false;
}

static void on_entries(void *arg, int err, const struct store_entry *se, size_t n)
{
	struct outbox *o = arg;
	size_t taken;

	if (read_failed(o, err))
		return;
	taken = take_all(o, se, n);
	if (o->reading == READ_PENDING && n == 0)
		o->pending_done = true;		/* own backlog taken: new entries now */
	/* At once while there is more to read and the channel takes it. */
	later(o, taken == n && (o->reading == READ_PENDING ? n > 0 : n == STORE_ENTRIES_MAX) ?
	      0 : POLL_MS);
}

static void on_claimed(void *arg, int err, const struct store_entry *se, size_t n,
		       const char *next)
{
	struct outbox *o = arg;
	size_t taken;

	if (read_failed(o, err))
		return;
	taken = take_all(o, se, n);
	snprintf(o->cursor, sizeof(o->cursor), "%s", next);
	if (strcmp(next, "0-0") == 0)
		o->claiming = false;	/* the whole list scanned: again in CLAIM_EVERY_S */
	later(o, o->claiming && taken == n ? 0 : POLL_MS);
}

static void on_group(void *arg, int err)
{
	struct outbox *o = arg;

	if (err == -ECANCELED)
		return;
	o->group_ok = err == 0;
	later(o, err == 0 ? 0 : 1000);
}

/* Reads while the channel can take what it holds: its own pending entries first (after a
 * restart, or what the channel could not take), then a claim round when one is due, then
 * new entries. */
static void tick(evutil_socket_t fd, short what, void *arg)
{
	struct outbox *o = arg;
	struct store *st = o->ch->store;
	time_t now = time(NULL);
	int rc;

	(void)fd;
	(void)what;
	if (o->busy)
		return;
	if (store_is_up(st))
		ack_owed(o);
	if (!o->ops.ready(o->arg) || !store_is_up(st)) {
		if (!store_is_up(st))
			o->group_ok = false;
		later(o, 500);
		return;
	}
	o->busy = true;
	if (!o->group_ok) {
		rc = store_group_create(st, o->stream, GROUP, on_group, o);
	} else if (!o->pending_done) {
		o->reading = READ_PENDING;
		rc = store_group_pending(st, o->stream, GROUP, o->consumer, o->after, on_entries,
					 o);
	} else if (o->claiming || now - o->last_claim >= CLAIM_EVERY_S) {
		if (!o->claiming) {
			o->claiming = true;
			o->last_claim = now;
			snprintf(o->cursor, sizeof(o->cursor), "0-0");
		}
		o->reading = READ_CLAIM;
		rc = store_group_claim_from(st, o->stream, GROUP, o->consumer, CLAIM_IDLE_MS,
					    o->cursor, on_claimed, o);
	} else {
		o->reading = READ_NEW;
		rc = store_group_read(st, o->stream, GROUP, o->consumer, false, on_entries, o);
	}
	if (rc < 0)
		later(o, 500);
}

struct add {
	struct outbox *o;
	char *to, *text;
	size_t len;
};

static void direct(struct outbox *o, const char *to, const char *text, size_t len)
{
	char masked[24];
	int rc = o->ops.deliver(o->arg, NULL, to, text, len);

	if (rc < 0) {
		msisdn_mask(to, strlen(to), masked, sizeof(masked));
		LOGP(LOGC_MAIN, LOGL_ERROR, "outbox %s: SMS to %s lost: %s", o->stream, masked,
		     strerror(-rc));
		o->stats.lost++;
	}
}

static void on_added(void *arg, int err, const char *id, size_t len, bool changed)
{
	struct add *a = arg;

	(void)id;
	(void)len;
	(void)changed;
	if (err == -ECANCELED) {
		talloc_free(a);
		return;
	}
	if (err < 0) {
		direct(a->o, a->to, a->text, a->len);
	} else {
		a->o->stats.queued++;
		if (!a->o->busy)
			later(a->o, 0);
	}
	talloc_free(a);
}

void outbox_add(struct outbox *o, const char *to, const char *text, size_t len)
{
	struct add *a = talloc_zero(o, struct add);
	char rid[UUID_STR_LEN + 1];
	uuid_t u;

	if (a == NULL || (a->to = talloc_strdup(a, to)) == NULL ||
	    (a->text = talloc_strndup(a, text, len)) == NULL) {
		talloc_free(a);
		direct(o, to, text, len);
		return;
	}
	a->o = o;
	a->len = len;
	uuid_generate(u);
	uuid_unparse(u, rid);
	{
		struct store_kv kv[2] = {
			{ "to", 2, a->to, strlen(a->to) },
			{ "text", 4, a->text, len },
		};

		if (store_ceir_enqueue(o->ch->store, o->stream, rid, REMEMBER_S, kv, 2, on_added,
				       a) < 0) {
			direct(o, to, text, len);
			talloc_free(a);
		}
	}
}

static int outbox_destructor(struct outbox *o)
{
	if (o->timer)
		event_free(o->timer);
	return 0;
}

struct outbox *outbox_start(void *ctx, struct channels *ch, const char *stream,
			    const struct outbox_ops *ops, void *arg)
{
	struct outbox *o = talloc_zero(ctx, struct outbox);
	char host[64] = "ceirgw";

	if (o == NULL)
		return NULL;
	o->ch = ch;
	o->ops = *ops;
	o->arg = arg;
	for (size_t i = 0; i < FLIGHT_BUCKETS; i++)
		TAILQ_INIT(&o->flights[i]);
	TAILQ_INIT(&o->owed);
	snprintf(o->after, sizeof(o->after), "0-0");
	snprintf(o->stream, sizeof(o->stream), "%s", stream);
	/* The same name after a restart: its own unsent entries come back at once. */
	gethostname(host, sizeof(host) - 1);
	snprintf(o->consumer, sizeof(o->consumer), "%s-%d", host, ch->cfg->http_port);
	o->last_claim = time(NULL);
	o->timer = evtimer_new(ch->base, tick, o);
	if (o->timer == NULL) {
		talloc_free(o);
		return NULL;
	}
	talloc_set_destructor(o, outbox_destructor);
	later(o, 0);
	return o;
}

const struct outbox_stats *outbox_stats(const struct outbox *o)
{
	return &o->stats;
}
