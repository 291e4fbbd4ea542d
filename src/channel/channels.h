/* The channels: each turns one wire format into engine calls (flow/engine.h) and the reply
 * back. A new channel is one new file with its start function here (CHANNELS_HTTP for those
 * served over HTTP). */
#ifndef CEIRGW_CHANNEL_CHANNELS_H
#define CEIRGW_CHANNEL_CHANNELS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"

struct engine;
struct event_base;
struct http_server;
struct store;

/* What every channel shares; owned by the daemon. */
struct channels {
	void *ctx;		/* talloc parent of what the channels allocate */
	struct event_base *base;
	const struct ceirgw_config *cfg;
	struct engine *engine;
	struct store *store;
	struct api_keys *keys;
	struct sendsms *sendsms;
	struct results *results;
	struct box *box;
	struct feed *feed;	/* NULL: no feed published */
	struct peers *peers;	/* the neighbours' feeds followed */
	/* Callers' numbers: libphonenumber costs about 13 us a number, a third of what a
	 * USSD step costs otherwise; numbers of one block (all but the last four digits) read
	 * alike (domain/msisdn_memo.h). Follows default-region on reload. */
	struct msisdn_memo *msisdn;
};

#define MSISDN_MEMO_BLOCKS 65536

/* The channels served over HTTP, one line each (X-macros, as flow/outcomes.h): X(name, what)
 * declares int channel_<name>_start(struct channels *, struct http_server *), defined in the
 * channel's file, which routes the channel's paths and returns 0 or a negative errno; the
 * daemon starts them in this order. what says what the channel serves, to whom. A new HTTP
 * channel (a USSD aggregator's format: doc/development.md) is its file and its line here. */
#define CHANNELS_HTTP(X) \
	X(ussd_http, "POST /ussd, from http-allow-ip with ussd-token: Africa's Talking's USSD") \
	X(sms_http, "GET|POST /sms, from http-allow-ip with sms-token: Kannel smsbox's SMS") \
	X(api, "GET /v1/imei/{imei}, with the keys of api-keys-file, each within api-key-quota") \
	X(feed, "GET /feed/..., to anyone: the country's signed log of decisions (feed-origin)")

#define X(name, what) int channel_##name##_start(struct channels *ch, struct http_server *hs);
CHANNELS_HTTP(X)
#undef X

/* The API's keys (api-keys-file; NULL: every request gets 401). */
struct api_keys *api_keys_load(void *ctx, const char *path, char *err, size_t errsz);
size_t api_keys_count(const struct api_keys *k);

/* Notifications through Kannel's sendsms HTTP interface (sendsms-url). Messages that cannot
 * be handed over are retried (1 s, 5 s, 30 s, 2 min) and then logged as lost. */
struct sendsms *sendsms_create(void *ctx, struct channels *ch, char *err, size_t errsz);
void sendsms_send(void *sendsms, const char *to, const char *text, size_t len);
struct sendsms_stats {
	unsigned long long accepted, retried, lost, queued;
};
const struct sendsms_stats *sendsms_stats(const struct sendsms *s);

/* The outbox (outbox.c): SMS of ceirgw's own wait in a Redis stream until their channel has
 * delivered them. The channel delivers through ops: deliver takes one (id NULL when it
 * bypasses the outbox, Redis being down) and returns 0 when it did (outbox_done(id) follows
 * once delivered, or outbox_drop(id) when it is given up for now: the entry is read again at
 * the next claim round, or at once after outbox_again), -ENOBUFS to leave it for later, or
 * another -errno when it can never be sent. ready says whether deliveries can be made now. */
#define OUTBOX_BOX "ceirgw:outbox"		/* the Kannel box's */
#define OUTBOX_HTTP "ceirgw:outbox-http"	/* smsbox's sendsms's */

struct outbox_ops {
	int (*deliver)(void *arg, const char *id, const char *to, const char *text, size_t len);
	bool (*ready)(void *arg);
};
struct outbox;
struct outbox *outbox_start(void *ctx, struct channels *ch, const char *stream,
			    const struct outbox_ops *ops, void *arg);
void outbox_add(struct outbox *o, const char *to, const char *text, size_t len);
void outbox_done(struct outbox *o, const char *id);
void outbox_drop(struct outbox *o, const char *id);
void outbox_again(struct outbox *o);
struct outbox_stats {
	unsigned long long queued, sent, lost;
};
const struct outbox_stats *outbox_stats(const struct outbox *o);

/* The Kannel box: connects to bearerbox (cfg->bearerbox), answers the MOs it routes to ceirgw
 * (SMS, and USSD over SMPP through meta data) and sends MTs (doc/kannel.md). Reconnects by
 * itself. box_send is an engine_sms_hook's send: notifications go as mt_push. */
struct box *box_start(void *ctx, struct channels *ch, char *err, size_t errsz);
void box_send(void *box, const char *to, const char *text, size_t len);
struct box_stats {
	unsigned long long connects, disconnects;
	unsigned long long mo_received, mo_acked, mo_retry, mo_repeated;
	unsigned long long mt_queued, mt_written, mt_acked, mt_retried, mt_refused, mt_lost;
	unsigned long long pushes_queued, pushes_sent;	/* notifications through the outbox */
};
const struct box_stats *box_stats(const struct box *b);
bool box_connected(const struct box *b);

/* The country's feed (feed.c, doc/exchange.md): what /healthz shows of it. */
struct feed_stats {
	unsigned long long published;	/* the last checkpoint's tree size */
	long long published_at;		/* when this process signed one; 0: not yet */
	unsigned long long rounds, errors;
};
void feed_status(const struct feed *f, struct feed_stats *out);

/* The neighbours' feeds (peers.c, doc/exchange.md): one follower per feed-peer group. NULL
 * with err filled when a peer's key or URL does not parse. */
struct peers *peers_start(void *ctx, struct channels *ch, char *err, size_t errsz);
/* A reload's feed-peer groups (SIGHUP): new ones followed, removed ones no longer polled
 * (their Redis state stays), changed ones (url, key, country, poll-interval) rebuilt between
 * two polls, the others untouched. Returns 0, or -EINVAL with err filled and nothing changed
 * when a group's key or URL does not parse. Call before next replaces ch->cfg. */
int peers_reload(struct peers *ps, const struct ceirgw_config *next, char *err, size_t errsz);
size_t peers_count(const struct peers *ps);
struct peer_status {
	const char *origin, *country, *state;	/* lent */
	unsigned long long accepted;		/* the tree size accepted */
	long long polled_at;			/* by this process; 0: not yet */
	unsigned long long applied, refusals;
};
void peers_status(const struct peers *ps, size_t i, struct peer_status *out);

/* The CEIR results stream, read through the consumer group (doc/ceir-queue.md). */
struct results *results_start(void *ctx, struct channels *ch);
unsigned long long results_handled(const struct results *r);

#endif
