/* Following the neighbours' feeds (issue 19, doc/exchange.md): each `group = feed-peer` is a
 * neighbouring country's signed log of decisions (channel/feed.c publishes ours alike). Every
 * poll-interval one ceirgw process (a lock in Redis per peer) fetches the peer's checkpoint
 * with libevent's HTTP client and, before anything is applied:
 *   1. checks its signature by the peer's key and its origin;
 *   2. refuses a smaller tree than the one accepted (a rollback), and halts on a different
 *      root for the accepted size (an equivocation: two histories signed);
 *   3. proves the accepted tree consistent with the new one (RFC 9162 2.1.4, the proof
 *      computed from the peer's hash tiles): a rewritten history halts too;
 *   4. fetches the new entries in chunks of up to 16 bundles, hashes them onto the accepted
 *      tree's right edge (feed/frontier.h) and proves each chunk's tree a prefix of the
 *      signed one (a consistency proof again; the last chunk's root is the signed root);
 *   5. only then applies the chunk (store_foreign_apply), puts each decision once on the
 *      CEIR's foreign stream, and records the tree accepted so far.
 * Any failure applies nothing more, keeps the last good state, and is logged once per change
 * of the peer's state; a halt stays until an operator clears it (ceirgwctl feed resume,
 * doc/exchange.md). Every response is bounded (FETCH_MAX), every request timed out. A reload
 * (peers_reload) adds, removes and rebuilds peers between their polls; a peer's memory and
 * connection are never freed while a request or a Redis command may still answer to them. */
#include "channel/channels.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <talloc.h>

#include "core/logging.h"
#include "feed/entry.h"
#include "feed/frontier.h"
#include "feed/merkle.h"
#include "feed/note.h"
#include "feed/tile.h"
#include "store/store.h"

#define FETCH_TIMEOUT_S 10
#define FETCH_MAX (1024 * 1024)		/* the largest response taken from a peer */
#define CHUNK_BUNDLES 16		/* bundles verified and applied together */
#define CHUNK_MAX (CHUNK_BUNDLES * TILE_WIDTH)
#define TILES_CACHED 64			/* hash tiles kept during a poll */
#define TILE_BYTES (TILE_WIDTH * MERKLE_HASH_LEN)
#define LOCK_HOLD_MS 15000		/* the poll's lock, renewed every LOCK_RENEW_MS */
#define LOCK_RENEW_MS 5000

struct cached_tile {
	int level;
	uint64_t n;
	unsigned w;
	uint8_t *data;
};

/* What a peer is built from its group: the key, the URL and its connection. A reload that
 * changes the group builds the next one first (a bad group fails the reload) and puts it in
 * place between two polls. */
struct peer_parts {
	struct config_peer conf;	/* copied: the peer outlives the configuration read */
	struct note_verifier *v;
	struct evhttp_uri *uri;
	struct evhttp_connection *conn;
	char base[1024];		/* the URL's path, without a trailing '/' */
};

struct peer {
	struct peers *ps;
	const struct config_peer *cfg;	/* &parts->conf */
	struct peer_parts *parts, *next;	/* next: a reload's, until the poll ends */
	struct note_verifier *v;
	struct evhttp_uri *uri;
	struct evhttp_connection *conn;
	const char *base;
	struct event *timer;
	bool busy;
	bool removed;			/* no longer configured: polls no more (see peers_reload) */
	/* The poll. */
	void *poll;			/* talloc parent of what one poll allocates */
	struct merkle_frontier acc;	/* the tree accepted so far */
	uint8_t acc_root[MERKLE_HASH_LEN];
	struct checkpoint cp;		/* the one being verified */
	char note[NOTE_MAX + 1];
	size_t notelen;
	struct cached_tile tiles[TILES_CACHED];
	unsigned ntiles, tile_next;
	/* A proof under way: its sizes and roots, the tiles it still needs, where to go on. */
	uint64_t pm, pn;
	uint8_t proot_m[MERKLE_HASH_LEN];
	struct cached_tile need[16];
	unsigned nneed, ineed;
	void (*proved)(struct peer *p);
	/* The chunks: fill is fetched and proven while app is applied (its chain). */
	struct merkle_frontier work;	/* the tree fetched and proven so far */
	struct chunk {
		struct feed_entry *e;
		size_t n;
		uint64_t start, end;
		struct merkle_frontier fr;	/* the tree up to its end */
	} ch[2];
	unsigned fill, app;
	uint64_t bundle;
	bool chain_busy, ready, fetch_done, finish_pending;
	unsigned chain_left;
	int chain_err;
	/* What is shown (healthz, ceirgwctl feed status) and logged once per change. */
	char state[200];
	time_t polled_at;
	unsigned long long applied, refusals;
	struct fetch *inflight;		/* the request on the wire, if any */
	struct event *renew;		/* the poll's lock, renewed while it runs */
	struct timespec poll_start;
	bool lock_lost;
	/* Comparing with what the other peers were shown (their /feed/witness). */
	size_t wq;			/* the next peer whose view is read */
	bool witnessing;
	struct checkpoint wcp;		/* the view being proven */
	char wfrom[130];
	char wnote[NOTE_MAX + 1];	/* that view, signed: a halt's evidence */
	size_t wnotelen;
};

struct peers {
	struct channels *ch;
	char holder[96];
	size_t n;
	struct peer **p;
	/* Peers a reload removed, and connections a reload replaced: kept, since a request may
	 * still be on them (a poll's, or another peer's witness fetch, whose callback and memory
	 * must not go from under it). A removed peer added again is taken back as it was. */
	size_t nremoved;
	struct peer **removed;
	size_t nold;
	struct evhttp_connection **old;
};

static void poll_end(struct peer *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void poll_halt(struct peer *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void chunk_next(struct peer *p);
static void witness_start(struct peer *p);
static void poll_apply(struct peer *p);

static void parts_use(struct peer *p, struct peer_parts *pp);
static void old_conns_free(struct peers *ps);

typedef void (*fetch_cb)(struct peer *p, const uint8_t *data, size_t len);
struct fetch;

/* How soon a peer whose poll found Redis unreachable looks again, in ms. */
#define REDIS_RETRY_MS 100

static void schedule(struct peer *p, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(p->timer, &tv);
}

static void noop_done(void *arg, int err)
{
	(void)arg;
	(void)err;
}

/* The peer's state line changes: logged (once per change), kept in Redis for the other
 * processes and ceirgwctl. */
/* Whether two state lines say the same but for their numbers ("refused: entry 95 is not an
 * entry" and "... entry 106 ...", while the peer goes on appending): logged once. */
static bool same_but_numbers(const char *a, const char *b)
{
	while (*a && *b) {
		if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
			while (isdigit((unsigned char)*a))
				a++;
			while (isdigit((unsigned char)*b))
				b++;
			continue;
		}
		if (*a++ != *b++)
			return false;
	}
	return *a == *b;
}

static void set_state(struct peer *p, enum log_level level, const char *state)
{
	/* A tree that grows is news; a refusal that repeats is not. */
	bool news = strncmp(state, "ok:", 3) == 0 ? strcmp(p->state, state) != 0 :
						     !same_but_numbers(p->state, state);

	if (news)
		LOGP(LOGC_CEIR, level, "feed-peer %s (%s): %s", p->cfg->origin, p->cfg->country,
		     state);
	snprintf(p->state, sizeof(p->state), "%s", state);
	store_peer_set(p->ps->ch->store, p->cfg->origin, "state", p->state, strlen(p->state),
		       noop_done, NULL);
}

struct fetch {
	struct peer *p;			/* NULL: the poll ended; the answer is dropped */
	fetch_cb cb;
	char what[96];
	size_t want;			/* exact length wanted, 0: any up to FETCH_MAX */
	bool soft;			/* a failure is cb(NULL, 0), not the poll's end */
};

static void poll_finish(struct peer *p)
{
	char at[24];
	int n = snprintf(at, sizeof(at), "%lld", (long long)p->polled_at);
	struct timespec now;
	long long ms;

	/* When this poll ran, for ceirgwctl feed status (each process polls in turn). */
	store_peer_set(p->ps->ch->store, p->cfg->origin, "polled", at, (size_t)n, noop_done,
		       NULL);
	if (p->inflight) {
		p->inflight->p = NULL;
		p->inflight = NULL;
	}
	if (p->chain_busy) {
		/* A chunk's chain is at work in Redis on the poll's memory: the poll ends when it
		 * answers. */
		p->finish_pending = true;
		return;
	}
	if (p->poll) {
		/* The lock now lasts what is left of the interval from the poll's start: one
		 * poll per interval among all the processes (0 left: it goes now). */
		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = p->cfg->poll_interval * 1000 - ((now.tv_sec - p->poll_start.tv_sec) * 1000 +
						    (now.tv_nsec - p->poll_start.tv_nsec) / 1000000);
		if (!p->lock_lost)
			store_peer_lock_renew(p->ps->ch->store, p->cfg->origin, p->ps->holder,
					      ms > 0 ? (unsigned)ms : 0, NULL, NULL);
		evtimer_del(p->renew);
	}
	TALLOC_FREE(p->poll);
	memset(p->ch, 0, sizeof(p->ch));
	p->fill = p->app = 0;
	p->ready = p->fetch_done = p->finish_pending = false;
	p->ntiles = 0;
	p->wnotelen = 0;
	p->busy = false;
	schedule(p, (unsigned)p->cfg->poll_interval * 1000);
}

/* Nothing more is applied this poll; what was accepted stays. err NULL: a good poll. */
static void poll_end(struct peer *p, const char *fmt, ...)
{
	char why[180], line[200];
	va_list ap;

	if (fmt == NULL) {
		snprintf(line, sizeof(line), "ok: tree %" PRIu64 " accepted", p->acc.size);
		set_state(p, LOGL_INFO, line);
	} else {
		va_start(ap, fmt);
		vsnprintf(why, sizeof(why), fmt, ap);
		va_end(ap);
		p->refusals++;
		snprintf(line, sizeof(line), "refused: %s", why);
		set_state(p, LOGL_ERROR, line);
	}
	poll_finish(p);
}

/* Two histories signed by the peer: nothing more is taken from it until an operator has
 * looked (ceirgwctl feed resume, doc/exchange.md). Kept with the halt, as its evidence: the
 * checkpoint the peer signed for us and, when another follower's view contradicts it, that
 * view (otherwise the contradiction is the accepted tree, kept beside it). */
static void poll_halt(struct peer *p, const char *fmt, ...)
{
	char why[180], line[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	p->refusals++;
	snprintf(line, sizeof(line), "halted: %s", why);
	store_peer_halt(p->ps->ch->store, p->cfg->origin, why, p->note, p->notelen, p->wnote,
			p->wnotelen, noop_done, NULL);
	set_state(p, LOGL_ERROR, line);
	poll_finish(p);
}

/* ---- fetching ------------------------------------------------------------------------- */


static void on_fetched(struct evhttp_request *req, void *arg)
{
	struct fetch *f = arg;
	struct peer *p = f->p;
	struct fetch fc = *f;
	struct evbuffer *body;
	size_t len;
	int code = req ? evhttp_request_get_response_code(req) : 0;
	uint8_t *data;

	talloc_free(f);
	if (p == NULL)			/* the poll ended meanwhile */
		return;
	p->inflight = NULL;
	if (fc.soft && (req == NULL || code != 200 ||
			evbuffer_get_length(evhttp_request_get_input_buffer(req)) > FETCH_MAX)) {
		fc.cb(p, NULL, 0);
		return;
	}
	if (req == NULL || code == 0) {
		poll_end(p, "%s: no answer (refused, timed out, cut short or over %d bytes)",
			 fc.what, FETCH_MAX);
		return;
	}
	if (code != 200) {
		poll_end(p, "%s: HTTP %d", fc.what, code);
		return;
	}
	body = evhttp_request_get_input_buffer(req);
	len = evbuffer_get_length(body);
	if (len > FETCH_MAX || (fc.want && len != fc.want)) {
		poll_end(p, "%s: %zu bytes, not %zu", fc.what, len, fc.want);
		return;
	}
	/* Not the poll's: the callback may end the poll. */
	data = talloc_size(p, len + 1);
	if (data == NULL) {
		poll_end(p, "out of memory");
		return;
	}
	evbuffer_remove(body, data, len);
	data[len] = '\0';
	fc.cb(p, data, len);
	talloc_free(data);
}

/* GETs the base of peer from's feed, then path, for p's poll; cb gets the body (want > 0:
 * exactly that many bytes). from is p itself but for the witness views of the others. */
static void fetch_from(struct peer *p, struct peer *from, const char *path, size_t want,
		       fetch_cb cb)
{
	struct fetch *f = talloc_zero(p, struct fetch);
	struct evhttp_request *req;
	char url[1200];

	if (f == NULL) {
		poll_end(p, "out of memory");
		return;
	}
	*f = (struct fetch){ p, cb, "", want, from != p };
	{
		/* Named without the width a partial one has at this size: a refusal that
		 * repeats while the peer grows reads the same (and is logged once). */
		int level;
		uint64_t n;
		unsigned w;

		if (tile_path_parse(path, strlen(path), &level, &n, &w) == 0 &&
		    level == TILE_LEVEL_ENTRIES)
			snprintf(f->what, sizeof(f->what), "bundle %" PRIu64, n);
		else if (tile_path_parse(path, strlen(path), &level, &n, &w) == 0)
			snprintf(f->what, sizeof(f->what), "tile %d/%" PRIu64, level, n);
		else
			snprintf(f->what, sizeof(f->what), "%s%s",
				 from == p ? "" : "witness view of ", path);
	}
	snprintf(url, sizeof(url), "%s/%s", from->base, path);
	req = evhttp_request_new(on_fetched, f);
	if (req == NULL) {
		talloc_free(f);
		poll_end(p, "out of memory");
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host",
			  evhttp_uri_get_host(from->uri));
	/* evhttp_make_request frees req when it fails. */
	if (evhttp_make_request(from->conn, req, EVHTTP_REQ_GET, url) < 0) {
		talloc_free(f);
		poll_end(p, "%s: the request could not be made", path);
		return;
	}
	p->inflight = f;
}

static void fetch(struct peer *p, const char *path, size_t want, fetch_cb cb)
{
	fetch_from(p, p, path, want, cb);
}

/* ---- proofs from tiles ----------------------------------------------------------------- */

static struct cached_tile *tile_find(struct peer *p, int level, uint64_t n, unsigned w)
{
	for (unsigned i = 0; i < p->ntiles; i++)
		if (p->tiles[i].level == level && p->tiles[i].n == n && p->tiles[i].w == w)
			return &p->tiles[i];
	return NULL;
}

/* tile_source's get: the cached tile, or (while finding out what a proof needs) zeros and a
 * note of the tile, which is fetched before the proof is computed for real. */
static int tile_get_recording(void *arg, int level, uint64_t n, unsigned w, const uint8_t **data)
{
	static const uint8_t zeros[TILE_BYTES];
	struct peer *p = arg;
	struct cached_tile *t = tile_find(p, level, n, w);

	if (t) {
		*data = t->data;
		return 0;
	}
	for (unsigned i = 0; i < p->nneed; i++)
		if (p->need[i].level == level && p->need[i].n == n && p->need[i].w == w)
			goto known;
	if (p->nneed == sizeof(p->need) / sizeof(p->need[0]))
		return -E2BIG;
	p->need[p->nneed++] = (struct cached_tile){ level, n, w, NULL };
known:
	*data = zeros;
	return 0;
}

static int tile_get_cached(void *arg, int level, uint64_t n, unsigned w, const uint8_t **data)
{
	struct cached_tile *t = tile_find(arg, level, n, w);

	if (t == NULL)
		return -ENOENT;
	*data = t->data;
	return 0;
}

static void prove_fetch_next(struct peer *p);

static void on_tile(struct peer *p, const uint8_t *data, size_t len)
{
	struct cached_tile *need = &p->need[p->ineed], *t;

	if (p->ntiles < TILES_CACHED) {
		t = &p->tiles[p->ntiles++];
	} else {			/* the oldest gives way */
		t = &p->tiles[p->tile_next];
		p->tile_next = (p->tile_next + 1) % TILES_CACHED;
		talloc_free(t->data);
	}
	*t = *need;
	t->data = talloc_memdup(p->poll, data, len);
	if (t->data == NULL) {
		poll_end(p, "out of memory");
		return;
	}
	p->ineed++;
	prove_fetch_next(p);
}

static void prove_now(struct peer *p)
{
	struct tile_source src = { tile_get_cached, p, p->pn };
	uint8_t proof[MERKLE_PROOF_MAX][MERKLE_HASH_LEN];
	size_t np;
	int rc;

	rc = merkle_consistency_proof(p->pm, p->pn, tile_reader, &src, proof, &np);
	if (rc == 0)
		rc = merkle_consistency_verify(p->pm, p->pn, p->proot_m, p->cp.root,
					       (const uint8_t (*)[MERKLE_HASH_LEN])proof, np);
	if (rc < 0 && p->witnessing) {
		p->proved = NULL;
		poll_halt(p, "%s was shown the tree of %" PRIu64 ", which is not part of the "
			  "tree of %" PRIu64 " signed for us (an equivocation)", p->wfrom, p->pm,
			  p->pn);
		return;
	}
	if (rc < 0) {
		p->proved = NULL;
		/* Not a halt: an altered tile fails the proof as a rewritten history does,
		 * and a proxy must not be able to stop the feed for good. Each poll refuses
		 * it again until the peer serves a tree that extends the accepted one. */
		if (p->pm == p->acc.size)
			poll_end(p, "the tree of %" PRIu64 " is not consistent with the %" PRIu64
				 " accepted (a rewritten history, or an altered tile)", p->pn, p->pm);
		else
			poll_end(p, "entries %" PRIu64 "..%" PRIu64 " do not hash into the signed "
				 "tree of %" PRIu64 " (a bundle or a tile was altered)",
				 p->ch[p->fill].start, p->pm - 1, p->pn);
		return;
	}
	p->proved(p);
}

static void prove_fetch_next(struct peer *p)
{
	struct cached_tile *t;
	char path[TILE_PATH_MAX];

	if (p->ineed == p->nneed) {
		prove_now(p);
		return;
	}
	t = &p->need[p->ineed];
	if (tile_path(path, sizeof(path), t->level, t->n, t->w) < 0) {
		poll_end(p, "a tile path could not be made");
		return;
	}
	fetch(p, path, (size_t)t->w * MERKLE_HASH_LEN, on_tile);
}

/* Proves the tree of m leaves (root_m) a prefix of the checkpoint's, then calls next. */
static void prove(struct peer *p, uint64_t m, const uint8_t root_m[MERKLE_HASH_LEN],
		  void (*next)(struct peer *p))
{
	struct tile_source src = { tile_get_recording, p, p->cp.size };
	uint8_t proof[MERKLE_PROOF_MAX][MERKLE_HASH_LEN];
	size_t np;
	int rc;

	p->pm = m;
	p->pn = p->cp.size;
	memcpy(p->proot_m, root_m, MERKLE_HASH_LEN);
	p->proved = next;
	p->nneed = p->ineed = 0;
	/* Which tiles the proof reads depends on the sizes only: find them with zeros. */
	rc = merkle_consistency_proof(m, p->cp.size, tile_reader, &src, proof, &np);
	if (rc < 0) {
		poll_end(p, "no consistency proof from %" PRIu64 " to %" PRIu64 ": %s", m,
			 p->cp.size, strerror(-rc));
		return;
	}
	prove_fetch_next(p);
}

/* ---- a chunk of entries -----------------------------------------------------------------
 * Two chunks at a time: while one, proven, is applied to Redis (the foreign state and the
 * CEIR's stream together, then the tree accepted, in that order: what is recorded accepted
 * is always applied), the next one is fetched and proven. At most one proven chunk waits. */

static void chunk_next(struct peer *p);

static void poll_done_maybe(struct peer *p)
{
	if (p->fetch_done && !p->chain_busy && !p->ready)
		poll_end(p, NULL);
}

static void chain_start(struct peer *p, unsigned i);

/* The chain of chunk app ended: well (err NULL), or with why. */
static void chain_end(struct peer *p, const char *why, int err)
{
	p->chain_busy = false;
	if (p->finish_pending) {	/* the poll ended while the chain ran */
		poll_finish(p);
		return;
	}
	if (why) {
		poll_end(p, "Redis: %s (%s)", why, strerror(-err));
		return;
	}
	if (p->ready) {			/* the next chunk was proven meanwhile */
		p->ready = false;
		chain_start(p, p->fill);
		p->fill ^= 1;
		chunk_next(p);
		return;
	}
	poll_done_maybe(p);
}

static void on_saved(void *arg, int err, long long written)
{
	struct peer *p = arg;
	struct chunk *c = &p->ch[p->app];

	if (err < 0) {
		chain_end(p, "the accepted tree could not be kept", err);
		return;
	}
	if (written == 0) {
		chain_end(p, "another process accepted a larger tree meanwhile", -EALREADY);
		return;
	}
	p->acc = c->fr;
	frontier_root(&p->acc, p->acc_root);
	p->applied += c->n;
	chain_end(p, NULL, 0);
}

static void chain_save(struct peer *p)
{
	struct chunk *c = &p->ch[p->app];
	uint8_t fb[FRONTIER_BYTES_MAX];
	size_t fl = frontier_encode(&c->fr, fb);
	bool last = c->fr.size == p->cp.size;
	int rc;

	rc = store_peer_save(p->ps->ch->store, p->cfg->origin, c->fr.size, fb, fl,
			     last ? p->note : NULL, last ? p->notelen : 0, on_saved, p);
	if (rc < 0)
		chain_end(p, "the accepted tree could not be kept", rc);
}

/* The apply and the stream: both answered, then the tree is recorded. */
static void chain_step(struct peer *p, int err)
{
	if (err < 0 && p->chain_err == 0)
		p->chain_err = err;
	if (--p->chain_left > 0)
		return;
	if (p->chain_err) {
		chain_end(p, "the entries could not be applied, or put on the CEIR's foreign stream",
			  p->chain_err);
		return;
	}
	chain_save(p);
}

static void on_queued(void *arg, int err, long long added)
{
	(void)added;
	chain_step(arg, err);
}

static void on_applied(void *arg, int err)
{
	chain_step(arg, err);
}

/* Chunk i is proven part of the signed tree: now, and only now, it is applied. */
static void chain_start(struct peer *p, unsigned i)
{
	struct chunk *c = &p->ch[i];
	int rc;

	p->app = i;
	p->chain_busy = true;
	p->chain_err = 0;
	p->chain_left = 1;	/* held until both are started */
	p->chain_left++;
	rc = store_foreign_apply(p->ps->ch->store, c->e, c->n, on_applied, p);
	if (rc < 0) {
		p->chain_left--;
		p->chain_err = rc;
	}
	p->chain_left++;
	/* Each decision once on the CEIR's stream, by the log's origin and index. */
	rc = store_foreign_queue(p->ps->ch->store, p->ps->ch->cfg->ceir_foreign, p->cfg->origin,
				 c->start, c->e, c->n, on_queued, p);
	if (rc < 0) {
		p->chain_left--;
		if (p->chain_err == 0)
			p->chain_err = rc;
	}
	chain_step(p, 0);
}

static void chunk_proven(struct peer *p)
{
	p->ch[p->fill].fr = p->work;
	if (p->chain_busy) {
		p->ready = true;	/* started when the chain ends */
		return;
	}
	chain_start(p, p->fill);
	p->fill ^= 1;
	chunk_next(p);
}

static void chunk_verify(struct peer *p)
{
	struct chunk *c = &p->ch[p->fill];
	uint8_t root[MERKLE_HASH_LEN];

	frontier_root(&p->work, root);
	if (p->work.size == p->cp.size) {
		if (memcmp(root, p->cp.root, MERKLE_HASH_LEN) != 0) {
			poll_end(p, "entries %" PRIu64 "..%" PRIu64 " do not hash to the signed root "
				 "(a bundle was altered)", c->start, c->end - 1);
			return;
		}
		chunk_proven(p);
		return;
	}
	prove(p, p->work.size, root, chunk_proven);
}

static void fetch_bundle(struct peer *p);

static void on_bundle(struct peer *p, const uint8_t *data, size_t len)
{
	struct chunk *c = &p->ch[p->fill];
	unsigned w = tile_width(TILE_LEVEL_ENTRIES, p->bundle, p->cp.size);
	uint32_t off[TILE_WIDTH];
	uint16_t elen[TILE_WIDTH];
	uint64_t first = p->bundle * TILE_WIDTH;

	if (tile_bundle_parse(data, len, w, off, elen) < 0) {
		poll_end(p, "bundle %" PRIu64 " does not hold %u entries", p->bundle, w);
		return;
	}
	for (unsigned i = 0; i < w; i++) {
		uint64_t index = first + i;
		struct feed_entry *e;
		uint8_t leaf[MERKLE_HASH_LEN];

		if (index < c->start || index >= c->end)
			continue;
		e = &c->e[c->n];
		if (feed_entry_parse((const char *)data + off[i], elen[i], e) < 0) {
			poll_end(p, "entry %" PRIu64 " is not an entry", index);
			return;
		}
		/* A peer speaks for its own country only. */
		if (strcmp(e->country, p->cfg->country) != 0) {
			poll_end(p, "entry %" PRIu64 " is a decision of %s, not of %s", index,
				 e->country, p->cfg->country);
			return;
		}
		merkle_leaf_hash(data + off[i], elen[i], leaf);
		if (frontier_append(&p->work, leaf) < 0) {
			poll_end(p, "the tree is too large");
			return;
		}
		c->n++;
	}
	p->bundle++;
	fetch_bundle(p);
}

static void fetch_bundle(struct peer *p)
{
	char path[TILE_PATH_MAX];
	unsigned w;

	if (p->bundle * TILE_WIDTH >= p->ch[p->fill].end) {
		chunk_verify(p);
		return;
	}
	w = tile_width(TILE_LEVEL_ENTRIES, p->bundle, p->cp.size);
	if (tile_path(path, sizeof(path), TILE_LEVEL_ENTRIES, p->bundle, w) < 0) {
		poll_end(p, "a bundle path could not be made");
		return;
	}
	fetch(p, path, 0, on_bundle);
}

/* The next chunk from what was fetched and proven so far: up to CHUNK_BUNDLES bundles. */
static void chunk_next(struct peer *p)
{
	uint64_t a = p->work.size, b;
	struct chunk *c = &p->ch[p->fill];

	if (a == p->cp.size) {
		p->fetch_done = true;
		poll_done_maybe(p);
		return;
	}
	b = (a / TILE_WIDTH + CHUNK_BUNDLES) * TILE_WIDTH;
	if (b > p->cp.size)
		b = p->cp.size;
	if (c->e == NULL)
		c->e = talloc_array(p->poll, struct feed_entry, CHUNK_MAX);
	if (c->e == NULL) {
		poll_end(p, "out of memory");
		return;
	}
	c->start = a;
	c->end = b;
	c->n = 0;
	p->bundle = a / TILE_WIDTH;
	fetch_bundle(p);
}

/* ---- what the other peers were shown ---------------------------------------------------- */

/* Each ceirgw serves, at /feed/witness, the checkpoint it accepted from each of its peers,
 * co-signed (channel/feed.c). Once p's new checkpoint is verified, and before anything of it
 * is applied, the views of the other peers are read: a checkpoint of p's log that carries
 * p's signature and that cannot be part of what p showed us (another root for the same size,
 * or a smaller tree the tiles cannot prove a prefix) is an equivocation: p signed two
 * histories. Only p's signature matters for that; the view's cosignature says who saw it. A
 * view that cannot be read proves nothing and is skipped. */
static void witness_next(struct peer *p);

static void witness_check(struct peer *p, const char *note, size_t len)
{
	const struct note_verifier *vs[1] = { p->v };
	struct note_open res;
	struct checkpoint *w = &p->wcp;

	if (note_open(note, len, vs, 1, &res) < 0 ||
	    checkpoint_parse(note, res.textlen, w) < 0 || strcmp(w->origin, p->cfg->origin) != 0) {
		witness_next(p);	/* not p's signature: proves nothing */
		return;
	}
	/* note_open took at most NOTE_MAX bytes */
	memcpy(p->wnote, note, len);
	p->wnote[len] = '\0';
	p->wnotelen = len;
	if (w->size > p->cp.size || w->size == 0) {
		witness_next(p);	/* newer than what we were shown: a later poll's */
		return;
	}
	if (w->size == p->cp.size) {
		if (memcmp(w->root, p->cp.root, MERKLE_HASH_LEN) != 0) {
			poll_halt(p, "%s was shown another root for the tree of %" PRIu64 " (an "
				  "equivocation)", p->wfrom, w->size);
			return;
		}
		witness_next(p);
		return;
	}
	/* A smaller tree: it must be a prefix of the one p signed for us. */
	p->witnessing = true;
	prove(p, w->size, w->root, witness_next);
}

static void on_witness(struct peer *p, const uint8_t *data, size_t len)
{
	const char *s = (const char *)data, *end = s + len;

	/* "<length>\n<note>" records; the first one of p's log is checked. */
	while (data && s < end) {
		char *nl;
		unsigned long n = strtoul(s, &nl, 10);

		if (nl == s || nl >= end || *nl != '\n' || n == 0 || n > NOTE_MAX ||
		    n > (size_t)(end - nl - 1))
			break;
		s = nl + 1;
		if (strncmp(s, p->cfg->origin, strlen(p->cfg->origin)) == 0 &&
		    s[strlen(p->cfg->origin)] == '\n') {
			witness_check(p, s, n);
			return;
		}
		s += n;
	}
	witness_next(p);
}

static void witness_next(struct peer *p)
{
	struct peers *ps = p->ps;

	p->witnessing = false;
	p->wnotelen = 0;
	while (p->wq < ps->n && ps->p[p->wq] == p)
		p->wq++;
	if (p->wq == ps->n) {
		poll_apply(p);
		return;
	}
	snprintf(p->wfrom, sizeof(p->wfrom), "%s", ps->p[p->wq]->cfg->origin);
	fetch_from(p, ps->p[p->wq++], "witness", 0, on_witness);
}

static void witness_start(struct peer *p)
{
	p->wq = 0;
	witness_next(p);
}

/* The checkpoint is p's, no older than accepted, and the other peers were shown nothing that
 * contradicts it: what it adds is fetched, proven and applied. */
static void poll_apply(struct peer *p)
{
	if (p->cp.size == p->acc.size) {
		poll_end(p, NULL);
		return;
	}
	p->work = p->acc;
	if (p->acc.size == 0)
		chunk_next(p);
	else
		prove(p, p->acc.size, p->acc_root, chunk_next);
}

/* ---- the checkpoint ---------------------------------------------------------------------- */

static void on_checkpoint(struct peer *p, const uint8_t *data, size_t len)
{
	const struct note_verifier *vs[1] = { p->v };
	struct note_open res;
	int rc;

	if (len > NOTE_MAX) {
		poll_end(p, "checkpoint: %zu bytes, over %d", len, NOTE_MAX);
		return;
	}
	rc = note_open((const char *)data, len, vs, 1, &res);
	if (rc == -EPERM) {
		poll_end(p, "checkpoint: %s", res.bad ? "its signature by the peer's key does not "
			 "verify (a forgery)" : "not signed by the peer's key");
		return;
	}
	if (rc < 0 || checkpoint_parse((const char *)data, res.textlen, &p->cp) < 0) {
		poll_end(p, "checkpoint: not a signed checkpoint");
		return;
	}
	if (strcmp(p->cp.origin, p->cfg->origin) != 0) {
		poll_end(p, "checkpoint: of the log '%.64s', not '%.64s'", p->cp.origin,
			 p->cfg->origin);
		return;
	}
	memcpy(p->note, data, len);
	p->note[len] = '\0';
	p->notelen = len;
	if (p->cp.size < p->acc.size) {
		poll_end(p, "checkpoint: a tree of %" PRIu64 ", older than the %" PRIu64
			 " accepted (a rollback)", p->cp.size, p->acc.size);
		return;
	}
	/* What we were shown, signed: served at /feed/witness for the other followers to
	 * compare with what they were shown, whatever comes of it here. */
	store_peer_set(p->ps->ch->store, p->cfg->origin, "witness", p->note, p->notelen,
		       noop_done, NULL);
	if (p->cp.size == p->acc.size && memcmp(p->cp.root, p->acc_root, MERKLE_HASH_LEN) != 0) {
		poll_halt(p, "two roots signed for the tree of %" PRIu64 " (an equivocation)",
			  p->cp.size);
		return;
	}
	/* Before anything is applied: what the other peers were shown of p's log. */
	witness_start(p);
}

static const struct store_kv *field_of(const struct store_kv *kv, size_t n, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < n; i++)
		if (kv[i].klen == len && memcmp(kv[i].key, name, len) == 0)
			return &kv[i];
	return NULL;
}

/* What Redis holds of the peer: the accepted tree (its right edge) and, halted, why. Returns
 * the halt, or NULL; -EBADMSG in *err for an accepted tree that does not read. */
static const struct store_kv *read_shared(struct peer *p, const struct store_kv *kv, size_t n,
					  int *err)
{
	const struct store_kv *f = field_of(kv, n, "frontier");

	*err = 0;
	frontier_init(&p->acc);
	if (f && frontier_decode((const uint8_t *)f->val, f->vlen, &p->acc) < 0)
		*err = -EBADMSG;
	frontier_root(&p->acc, p->acc_root);
	return field_of(kv, n, "halted");
}

static void on_state(void *arg, int err, const struct store_kv *kv, size_t n)
{
	struct peer *p = arg;
	const struct store_kv *halted;
	char line[200];

	if (err < 0) {
		poll_end(p, "Redis: %s", strerror(-err));
		return;
	}
	halted = read_shared(p, kv, n, &err);
	if (err < 0) {
		poll_end(p, "Redis: the accepted tree does not read");
		return;
	}
	if (halted) {
		snprintf(line, sizeof(line), "halted: %.*s",
			 (int)(halted->vlen > 170 ? 170 : halted->vlen), halted->val);
		set_state(p, LOGL_ERROR, line);
		poll_finish(p);
		return;
	}
	fetch(p, "checkpoint", 0, on_checkpoint);
}

/* Another process polls the peer this interval: what it found, for this one's /healthz. */
static void on_shared(void *arg, int err, const struct store_kv *kv, size_t n)
{
	struct peer *p = arg;
	const struct store_kv *state;

	if (err == 0) {
		read_shared(p, kv, n, &err);
		state = field_of(kv, n, "state");
		if (state)
			snprintf(p->state, sizeof(p->state), "%.*s",
				 (int)(state->vlen > sizeof(p->state) - 1 ? sizeof(p->state) - 1 :
				       state->vlen), state->val);
	}
	p->busy = false;
	schedule(p, (unsigned)p->cfg->poll_interval * 1000);
}

/* The poll's lock is held for as long as the poll runs (renewed), so that two processes
 * never apply the same peer's chunks at once, and then for what is left of the interval. */
static void on_renewed(void *arg, int err, long long held)
{
	struct peer *p = arg;

	if (err == 0 && held == 0 && p->poll && !p->lock_lost) {
		p->lock_lost = true;	/* stalled past the lock's life: another may poll */
		poll_end(p, "the poll's lock in Redis ran out (a stall of over %d s?)",
			 LOCK_HOLD_MS / 1000);
	}
}

static void renew_tick(evutil_socket_t fd, short what, void *arg)
{
	struct peer *p = arg;
	struct timeval tv = { LOCK_RENEW_MS / 1000, 0 };

	(void)fd;
	(void)what;
	if (p->poll == NULL)
		return;
	store_peer_lock_renew(p->ps->ch->store, p->cfg->origin, p->ps->holder, LOCK_HOLD_MS,
			      on_renewed, p);
	evtimer_add(p->renew, &tv);
}

static void on_locked(void *arg, int err, long long taken)
{
	struct peer *p = arg;
	struct timeval tv = { LOCK_RENEW_MS / 1000, 0 };
	int rc;

	if (err < 0) {			/* Redis away */
		p->busy = false;
		schedule(p, (unsigned)p->cfg->poll_interval * 1000);
		return;
	}
	if (!taken) {			/* another process's turn */
		if (store_peer_get(p->ps->ch->store, p->cfg->origin, on_shared, p) < 0) {
			p->busy = false;
			schedule(p, (unsigned)p->cfg->poll_interval * 1000);
		}
		return;
	}
	p->poll = talloc_new(p);
	p->polled_at = time(NULL);
	p->lock_lost = false;
	clock_gettime(CLOCK_MONOTONIC, &p->poll_start);
	evtimer_add(p->renew, &tv);
	rc = p->poll ? store_peer_get(p->ps->ch->store, p->cfg->origin, on_state, p) : -ENOMEM;
	if (rc < 0)
		poll_end(p, "Redis: %s", strerror(-rc));
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
	struct peer *p = arg;
	unsigned ms = (unsigned)p->cfg->poll_interval * 1000;

	(void)fd;
	(void)what;
	if (p->busy || p->removed)
		return;
	/* Redis not (yet) reachable: a poll could take no lock and would wait a whole interval;
	 * look again soon instead (a started or reloaded peer is polled as soon as it is). */
	if (!store_is_up(p->ps->ch->store)) {
		schedule(p, REDIS_RETRY_MS);
		return;
	}
	if (p->next) {
		struct peer_parts *pp = p->next;

		p->next = NULL;
		parts_use(p, pp);
		ms = (unsigned)p->cfg->poll_interval * 1000;
	}
	old_conns_free(p->ps);
	p->busy = true;
	if (store_peer_lock(p->ps->ch->store, p->cfg->origin, p->ps->holder, LOCK_HOLD_MS,
			    on_locked, p) < 0) {
		p->busy = false;
		schedule(p, ms);
	}
}

/* ---- start and reload ----------------------------------------------------------------- */

static int peer_free(struct peer *p)
{
	if (p->timer)
		event_free(p->timer);
	if (p->renew)
		event_free(p->renew);
	return 0;
}

static int parts_free(struct peer_parts *pp)
{
	if (pp->conn)
		evhttp_connection_free(pp->conn);
	if (pp->uri)
		evhttp_uri_free(pp->uri);
	return 0;
}

static bool same_group(const struct config_peer *a, const struct config_peer *b)
{
	return strcmp(a->url, b->url) == 0 && strcmp(a->key, b->key) == 0 &&
	       strcmp(a->country, b->country) == 0 && a->poll_interval == b->poll_interval;
}

/* A peer's key, URL and connection from its group, checked: NULL with err said. */
static struct peer_parts *parts_new(void *ctx, struct peers *ps, const struct config_peer *cfg,
				    char *err, size_t errsz)
{
	struct peer_parts *pp = talloc_zero(ctx, struct peer_parts);
	const char *path;
	int port;

	if (pp == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	talloc_set_destructor(pp, parts_free);
	pp->conf = (struct config_peer){ talloc_strdup(pp, cfg->origin),
					 talloc_strdup(pp, cfg->url), talloc_strdup(pp, cfg->key),
					 talloc_strdup(pp, cfg->country), cfg->poll_interval };
	if (!pp->conf.origin || !pp->conf.url || !pp->conf.key || !pp->conf.country) {
		snprintf(err, errsz, "out of memory");
		goto fail;
	}
	pp->v = note_verifier_new(pp, cfg->key, err, errsz);
	if (pp->v == NULL)
		goto fail;
	if (strcmp(note_verifier_name(pp->v), cfg->origin) != 0 ||
	    note_verifier_alg(pp->v) != NOTE_ED25519) {
		snprintf(err, errsz, "key: not the Ed25519 verifier key of %s", cfg->origin);
		goto fail;
	}
	pp->uri = evhttp_uri_parse(cfg->url);
	if (pp->uri == NULL || evhttp_uri_get_host(pp->uri) == NULL) {
		snprintf(err, errsz, "url: '%s' does not parse", cfg->url);
		goto fail;
	}
	path = evhttp_uri_get_path(pp->uri);
	snprintf(pp->base, sizeof(pp->base), "%s", path && *path ? path : "");
	while (pp->base[0] && pp->base[strlen(pp->base) - 1] == '/')
		pp->base[strlen(pp->base) - 1] = '\0';
	port = evhttp_uri_get_port(pp->uri);
	pp->conn = evhttp_connection_base_new(ps->ch->base, NULL, evhttp_uri_get_host(pp->uri),
					      port > 0 ? (unsigned short)port : 80);
	if (pp->conn == NULL) {
		snprintf(err, errsz, "out of memory");
		goto fail;
	}
	evhttp_connection_set_timeout(pp->conn, FETCH_TIMEOUT_S);
	evhttp_connection_set_max_body_size(pp->conn, FETCH_MAX);
	evhttp_connection_set_max_headers_size(pp->conn, 16384);
	return pp;
fail:
	talloc_free(pp);
	return NULL;
}

static bool any_busy(const struct peers *ps)
{
	for (size_t i = 0; i < ps->n; i++)
		if (ps->p[i]->busy)
			return true;
	for (size_t i = 0; i < ps->nremoved; i++)
		if (ps->removed[i]->busy)
			return true;
	return false;
}

/* The connections a reload replaced go once no poll runs: a request still on one is then
 * nobody's (its poll ended), and is dropped with it unanswered. */
static void old_conns_free(struct peers *ps)
{
	if (ps->nold == 0 || any_busy(ps))
		return;
	for (size_t i = 0; i < ps->nold; i++)
		evhttp_connection_free(ps->old[i]);
	ps->nold = 0;
}

/* The parts in use become pp (between two polls); the old connection waits in ps->old. */
static void parts_use(struct peer *p, struct peer_parts *pp)
{
	struct peers *ps = p->ps;
	struct peer_parts *old = p->parts;

	if (old && old->conn) {
		struct evhttp_connection **o = talloc_realloc(ps, ps->old,
							      struct evhttp_connection *,
							      ps->nold + 1);

		if (o) {
			ps->old = o;
			ps->old[ps->nold++] = old->conn;
			old->conn = NULL;
		}
		/* else: freed with the old parts; a request on it goes unanswered, and the
		 * poll that waits for it, if any, ends at its lock's renewal */
	}
	if (pp != old)
		talloc_steal(p, pp);
	p->parts = pp;
	p->cfg = &pp->conf;
	p->v = pp->v;
	p->uri = pp->uri;
	p->conn = pp->conn;
	p->base = pp->base;
	if (old && old != pp)
		talloc_free(old);
	old_conns_free(ps);
}

static int peer_start(struct peers *ps, struct peer *p, const struct config_peer *cfg,
		      char *err, size_t errsz)
{
	struct peer_parts *pp;

	p->ps = ps;
	talloc_set_destructor(p, peer_free);
	p->timer = evtimer_new(ps->ch->base, tick, p);
	p->renew = evtimer_new(ps->ch->base, renew_tick, p);
	if (p->timer == NULL || p->renew == NULL) {
		snprintf(err, errsz, "out of memory");
		return -ENOMEM;
	}
	pp = parts_new(p, ps, cfg, err, errsz);
	if (pp == NULL)
		return -EINVAL;
	parts_use(p, pp);
	snprintf(p->state, sizeof(p->state), "not polled yet");
	schedule(p, 0);
	return 0;
}

static int peers_free(struct peers *ps)
{
	for (size_t i = 0; i < ps->nold; i++)
		evhttp_connection_free(ps->old[i]);
	return 0;
}

struct peers *peers_start(void *ctx, struct channels *ch, char *err, size_t errsz)
{
	const struct ceirgw_config *cfg = ch->cfg;
	struct peers *ps = talloc_zero(ctx, struct peers);
	char host[64], why[256];

	if (ps == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	talloc_set_destructor(ps, peers_free);
	ps->ch = ch;
	if (gethostname(host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "?");
	host[sizeof(host) - 1] = '\0';
	snprintf(ps->holder, sizeof(ps->holder), "%s:%d", host, (int)getpid());
	ps->n = cfg->npeers;
	ps->p = ps->n ? talloc_zero_array(ps, struct peer *, ps->n) : NULL;
	if (ps->n && ps->p == NULL) {
		talloc_free(ps);
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < ps->n; i++) {
		ps->p[i] = talloc_zero(ps, struct peer);
		if (ps->p[i] == NULL ||
		    peer_start(ps, ps->p[i], &cfg->peers[i], why, sizeof(why)) < 0) {
			if (ps->p[i] == NULL)
				snprintf(why, sizeof(why), "out of memory");
			snprintf(err, errsz, "feed-peer %s: %s", cfg->peers[i].origin, why);
			talloc_free(ps);
			return NULL;
		}
		LOGP(LOGC_CEIR, LOGL_NOTICE, "following the feed of %s (%s) at %s every %ld s",
		     cfg->peers[i].origin, cfg->peers[i].country, cfg->peers[i].url,
		     cfg->peers[i].poll_interval);
	}
	return ps;
}

static struct peer *find_origin(struct peer **p, size_t n, const char *origin)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] && strcmp(p[i]->cfg->origin, origin) == 0)
			return p[i];
	return NULL;
}

int peers_reload(struct peers *ps, const struct ceirgw_config *next, char *err, size_t errsz)
{
	void *tmp = talloc_new(ps);
	struct peer **np = NULL, **keep;
	struct peer_parts **parts = NULL;
	size_t n = next->npeers, nremoved = 0;
	char why[256];

	if (tmp == NULL || (n && ((np = talloc_zero_array(ps, struct peer *, n)) == NULL ||
				  (parts = talloc_zero_array(tmp, struct peer_parts *, n)) == NULL)))
		goto oom;
	/* First everything that can fail: the new and the changed groups' parts, the new
	 * peers (not started), the arrays. Nothing running is touched until all are made. */
	for (size_t i = 0; i < n; i++) {
		const struct config_peer *c = &next->peers[i];
		struct peer *p = find_origin(ps->p, ps->n, c->origin);

		if (p == NULL)
			p = find_origin(ps->removed, ps->nremoved, c->origin);
		if (p && same_group(p->next ? &p->next->conf : p->cfg, c)) {
			np[i] = p;
			continue;
		}
		parts[i] = parts_new(tmp, ps, c, why, sizeof(why));
		if (parts[i] == NULL) {
			snprintf(err, errsz, "feed-peer %s: %s", c->origin, why);
			goto fail;
		}
		np[i] = p;
	}
	keep = talloc_zero_array(ps, struct peer *, ps->n + ps->nremoved + 1);
	if (keep == NULL)
		goto oom;
	for (size_t i = 0; i < n; i++) {
		if (np[i])
			continue;
		np[i] = talloc_zero(ps, struct peer);
		if (np[i] == NULL) {
			talloc_free(keep);
			goto oom;
		}
		np[i]->ps = ps;
		talloc_set_destructor(np[i], peer_free);
		np[i]->timer = evtimer_new(ps->ch->base, tick, np[i]);
		np[i]->renew = evtimer_new(ps->ch->base, renew_tick, np[i]);
		if (np[i]->timer == NULL || np[i]->renew == NULL) {
			talloc_free(keep);
			goto oom;
		}
		snprintf(np[i]->state, sizeof(np[i]->state), "not polled yet");
		np[i]->removed = true;		/* started below */
	}
	/* Then the change, which cannot fail. Removed: each peer no longer configured, its
	 * poll under way let to end; its Redis state stays. */
	for (size_t i = 0; i < ps->n; i++) {
		if (find_origin(np, n, ps->p[i]->cfg->origin) == NULL) {
			struct peer *p = ps->p[i];

			p->removed = true;
			evtimer_del(p->timer);
			TALLOC_FREE(p->next);
			LOGP(LOGC_CEIR, LOGL_NOTICE, "reload: no longer following the feed of %s "
			     "(%s); what was accepted of it stays in Redis", p->cfg->origin,
			     p->cfg->country);
			keep[nremoved++] = p;
		}
	}
	for (size_t i = 0; i < ps->nremoved; i++)
		if (find_origin(np, n, ps->removed[i]->cfg->origin) == NULL)
			keep[nremoved++] = ps->removed[i];
	for (size_t i = 0; i < n; i++) {
		struct peer *p = np[i];
		const struct config_peer *c = &next->peers[i];
		bool added = p->removed;

		p->removed = false;
		if (parts[i]) {
			TALLOC_FREE(p->next);
			if (p->parts == NULL || !p->busy) {
				parts_use(p, talloc_steal(p, parts[i]));
				evtimer_del(p->timer);
				schedule(p, 0);
			} else {
				/* A poll runs with the old parts: the new ones at its end. */
				p->next = talloc_steal(p, parts[i]);
			}
		} else if (added) {
			schedule(p, 0);
		}
		if (added || parts[i])
			LOGP(LOGC_CEIR, LOGL_NOTICE, "reload: %s the feed of %s (%s) at %s every "
			     "%ld s", added ? "following" : "changed:", c->origin, c->country,
			     c->url, c->poll_interval);
	}
	talloc_free(ps->p);
	ps->p = np;
	ps->n = n;
	talloc_free(ps->removed);
	ps->removed = keep;
	ps->nremoved = nremoved;
	talloc_free(tmp);
	return 0;
oom:
	snprintf(err, errsz, "out of memory");
fail:
	for (size_t i = 0; np && i < n; i++)
		if (np[i] && np[i]->parts == NULL)
			talloc_free(np[i]);		/* made here, never started */
	talloc_free(np);
	talloc_free(tmp);
	return -EINVAL;
}

size_t peers_count(const struct peers *ps)
{
	return ps ? ps->n : 0;
}

void peers_status(const struct peers *ps, size_t i, struct peer_status *out)
{
	const struct peer *p = ps->p[i];

	*out = (struct peer_status){ p->cfg->origin, p->cfg->country, p->state, p->acc.size,
				     p->polled_at, p->applied, p->refusals };
}
