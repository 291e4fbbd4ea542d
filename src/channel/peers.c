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
 * of the peer's state; a halt stays until an operator clears it (doc/exchange.md). Every
 * response is bounded (FETCH_MAX), every request timed out. */
#include "channel/channels.h"

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
#define FOREIGN_REMEMBER_S (30 * 86400)	/* a decision is put on the stream once in this */
#define TILE_BYTES (TILE_WIDTH * MERKLE_HASH_LEN)

struct cached_tile {
	int level;
	uint64_t n;
	unsigned w;
	uint8_t *data;
};

struct peer {
	struct peers *ps;
	const struct config_peer *cfg;
	struct note_verifier *v;
	struct evhttp_uri *uri;
	struct evhttp_connection *conn;
	char base[1024];		/* the URL's path, without a trailing '/' */
	struct event *timer;
	bool busy;
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
	/* The chunk under way. */
	struct merkle_frontier work;
	struct feed_entry *chunk;
	uint64_t chunk_start, chunk_end, bundle;
	size_t nchunk;
	unsigned queued;		/* stream entries in flight */
	int qerr;
	/* What is shown (healthz, ceirgwctl feed status) and logged once per change. */
	char state[200];
	time_t polled_at;
	unsigned long long applied, refusals;
	struct fetch *inflight;		/* the request on the wire, if any */
};

struct peers {
	struct channels *ch;
	char holder[96];
	size_t n;
	struct peer **p;
};

static void poll_end(struct peer *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void poll_halt(struct peer *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void chunk_next(struct peer *p);

typedef void (*fetch_cb)(struct peer *p, const uint8_t *data, size_t len);
struct fetch;

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
static void set_state(struct peer *p, enum log_level level, const char *state)
{
	if (strcmp(p->state, state) != 0) {
		LOGP(LOGC_CEIR, level, "feed-peer %s (%s): %s", p->cfg->origin, p->cfg->country,
		     state);
		snprintf(p->state, sizeof(p->state), "%s", state);
	}
	store_peer_set(p->ps->ch->store, p->cfg->origin, "state", p->state, strlen(p->state),
		       noop_done, NULL);
}

struct fetch {
	struct peer *p;			/* NULL: the poll ended; the answer is dropped */
	fetch_cb cb;
	char what[96];
	size_t want;			/* exact length wanted, 0: any up to FETCH_MAX */
};

static void poll_finish(struct peer *p)
{
	if (p->inflight) {
		p->inflight->p = NULL;
		p->inflight = NULL;
	}
	TALLOC_FREE(p->poll);
	p->chunk = NULL;
	p->ntiles = 0;
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
 * looked (doc/exchange.md says how to resume). */
static void poll_halt(struct peer *p, const char *fmt, ...)
{
	char why[180], line[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	p->refusals++;
	snprintf(line, sizeof(line), "halted: %s", why);
	store_peer_set(p->ps->ch->store, p->cfg->origin, "halted", why, strlen(why), noop_done,
		       NULL);
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

/* GETs base/path; cb gets the body (want > 0: exactly that many bytes). */
static void fetch(struct peer *p, const char *path, size_t want, fetch_cb cb)
{
	struct fetch *f = talloc_zero(p, struct fetch);
	struct evhttp_request *req;
	char url[1200];

	if (f == NULL) {
		poll_end(p, "out of memory");
		return;
	}
	*f = (struct fetch){ p, cb, "", want };
	snprintf(f->what, sizeof(f->what), "%s", path);
	snprintf(url, sizeof(url), "%s/%s", p->base, path);
	req = evhttp_request_new(on_fetched, f);
	if (req == NULL) {
		talloc_free(f);
		poll_end(p, "out of memory");
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host",
			  evhttp_uri_get_host(p->uri));
	/* evhttp_make_request frees req when it fails. */
	if (evhttp_make_request(p->conn, req, EVHTTP_REQ_GET, url) < 0) {
		talloc_free(f);
		poll_end(p, "%s: the request could not be made", path);
		return;
	}
	p->inflight = f;
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
				 p->chunk_start, p->pm - 1, p->pn);
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

/* ---- a chunk of entries ----------------------------------------------------------------- */

static void on_saved(void *arg, int err, long long written)
{
	struct peer *p = arg;

	if (p->poll == NULL)
		return;
	if (err < 0) {
		poll_end(p, "Redis: the accepted tree could not be kept (%s)", strerror(-err));
		return;
	}
	if (written == 0) {
		poll_end(p, "another process accepted a larger tree meanwhile");
		return;
	}
	p->acc = p->work;
	frontier_root(&p->acc, p->acc_root);
	chunk_next(p);
}

static void chunk_save(struct peer *p)
{
	uint8_t fb[FRONTIER_BYTES_MAX];
	size_t fl = frontier_encode(&p->work, fb);
	bool last = p->work.size == p->cp.size;
	int rc;

	rc = store_peer_save(p->ps->ch->store, p->cfg->origin, p->work.size, fb, fl,
			     last ? p->note : NULL, last ? p->notelen : 0, on_saved, p);
	if (rc < 0)
		poll_end(p, "Redis: the accepted tree could not be kept (%s)", strerror(-rc));
}

static void on_queued(void *arg, int err, const char *id, size_t len, bool changed)
{
	struct peer *p = arg;

	(void)id;
	(void)len;
	(void)changed;
	if (err < 0 && p->qerr == 0)
		p->qerr = err;
	if (--p->queued > 0)
		return;
	if (p->poll == NULL)
		return;
	if (p->qerr) {
		poll_end(p, "Redis: the CEIR's foreign stream (%s)", strerror(-p->qerr));
		return;
	}
	chunk_save(p);
}

/* Each decision once on the CEIR's stream (by the log's origin and index), then the tree. */
static void chunk_queue(struct peer *p)
{
	const char *stream = p->ps->ch->cfg->ceir_foreign;

	p->queued = 1;
	p->qerr = 0;
	for (size_t i = 0; i < p->nchunk; i++) {
		const struct feed_entry *e = &p->chunk[i];
		char rid[160], idx[24], day[16];
		struct store_kv kv[7];
		int rc;

		snprintf(rid, sizeof(rid), "%s:%" PRIu64, p->cfg->origin, p->chunk_start + i);
		snprintf(idx, sizeof(idx), "%" PRIu64, p->chunk_start + i);
		snprintf(day, sizeof(day), "%04d-%02d-%02d", e->year, e->month, e->day);
		kv[0] = (struct store_kv){ "imei", 4, e->imei, 15 };
		kv[1] = (struct store_kv){ "country", 7, e->country, 2 };
		kv[2] = (struct store_kv){ "status", 6, feed_status_name(e->status),
					   strlen(feed_status_name(e->status)) };
		kv[3] = (struct store_kv){ "reason", 6, feed_reason_name(e->reason),
					   strlen(feed_reason_name(e->reason)) };
		kv[4] = (struct store_kv){ "day", 3, day, strlen(day) };
		kv[5] = (struct store_kv){ "origin", 6, p->cfg->origin, strlen(p->cfg->origin) };
		kv[6] = (struct store_kv){ "index", 5, idx, strlen(idx) };
		p->queued++;
		rc = store_ceir_enqueue(p->ps->ch->store, stream, rid, FOREIGN_REMEMBER_S, kv, 7,
					on_queued, p);
		if (rc < 0) {
			p->queued--;
			if (p->qerr == 0)
				p->qerr = rc;
			break;
		}
	}
	on_queued(p, 0, NULL, 0, false);
}

static void on_applied(void *arg, int err)
{
	struct peer *p = arg;

	if (p->poll == NULL)
		return;
	if (err < 0) {
		poll_end(p, "Redis: the entries could not be applied (%s)", strerror(-err));
		return;
	}
	p->applied += p->nchunk;
	chunk_queue(p);
}

/* The chunk is proven part of the signed tree: now, and only now, it is applied. */
static void chunk_apply(struct peer *p)
{
	int rc = store_foreign_apply(p->ps->ch->store, p->chunk, p->nchunk, on_applied, p);

	if (rc < 0)
		poll_end(p, "Redis: the entries could not be applied (%s)", strerror(-rc));
}

static void chunk_verify(struct peer *p)
{
	uint8_t root[MERKLE_HASH_LEN];

	frontier_root(&p->work, root);
	if (p->work.size == p->cp.size) {
		if (memcmp(root, p->cp.root, MERKLE_HASH_LEN) != 0) {
			poll_end(p, "entries %" PRIu64 "..%" PRIu64 " do not hash to the signed root "
				 "(a bundle was altered)", p->chunk_start, p->chunk_end - 1);
			return;
		}
		chunk_apply(p);
		return;
	}
	prove(p, p->work.size, root, chunk_apply);
}

static void fetch_bundle(struct peer *p);

static void on_bundle(struct peer *p, const uint8_t *data, size_t len)
{
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

		if (index < p->chunk_start || index >= p->chunk_end)
			continue;
		e = &p->chunk[p->nchunk];
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
		p->nchunk++;
	}
	p->bundle++;
	fetch_bundle(p);
}

static void fetch_bundle(struct peer *p)
{
	char path[TILE_PATH_MAX];
	unsigned w;

	if (p->bundle * TILE_WIDTH >= p->chunk_end) {
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

/* The next chunk from the accepted tree on: up to CHUNK_BUNDLES bundles. */
static void chunk_next(struct peer *p)
{
	uint64_t a = p->acc.size, b;

	if (a == p->cp.size) {
		poll_end(p, NULL);
		return;
	}
	b = (a / TILE_WIDTH + CHUNK_BUNDLES) * TILE_WIDTH;
	if (b > p->cp.size)
		b = p->cp.size;
	if (p->chunk == NULL)
		p->chunk = talloc_array(p->poll, struct feed_entry, CHUNK_MAX);
	if (p->chunk == NULL) {
		poll_end(p, "out of memory");
		return;
	}
	p->chunk_start = a;
	p->chunk_end = b;
	p->nchunk = 0;
	p->work = p->acc;
	p->bundle = a / TILE_WIDTH;
	fetch_bundle(p);
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
	if (p->cp.size == p->acc.size) {
		if (memcmp(p->cp.root, p->acc_root, MERKLE_HASH_LEN) != 0) {
			poll_halt(p, "two roots signed for the tree of %" PRIu64 " (an equivocation)",
				  p->cp.size);
			return;
		}
		poll_end(p, NULL);
		return;
	}
	if (p->acc.size == 0)
		chunk_next(p);
	else
		prove(p, p->acc.size, p->acc_root, chunk_next);
}

static void on_state(void *arg, int err, const struct store_kv *kv, size_t n)
{
	struct peer *p = arg;
	const struct store_kv *halted = NULL;

	if (err < 0) {
		poll_end(p, "Redis: %s", strerror(-err));
		return;
	}
	/* The accepted tree first, whatever the order of the fields (HGETALL's is the hash's):
	 * a halted peer still shows the tree it had accepted. */
	frontier_init(&p->acc);
	for (size_t i = 0; i < n; i++) {
		if (kv[i].klen == 6 && memcmp(kv[i].key, "halted", 6) == 0)
			halted = &kv[i];
		if (kv[i].klen == 8 && memcmp(kv[i].key, "frontier", 8) == 0 &&
		    frontier_decode((const uint8_t *)kv[i].val, kv[i].vlen, &p->acc) < 0) {
			poll_end(p, "Redis: the accepted tree does not read");
			return;
		}
	}
	frontier_root(&p->acc, p->acc_root);
	if (halted) {
		char line[200];

		snprintf(line, sizeof(line), "halted: %.*s",
			 (int)(halted->vlen > 170 ? 170 : halted->vlen), halted->val);
		set_state(p, LOGL_ERROR, line);
		poll_finish(p);
		return;
	}
	fetch(p, "checkpoint", 0, on_checkpoint);
}

static void on_locked(void *arg, int err, long long taken)
{
	struct peer *p = arg;
	int rc;

	if (err < 0 || !taken) {	/* Redis away, or another process's turn */
		p->busy = false;
		schedule(p, (unsigned)p->cfg->poll_interval * 1000);
		return;
	}
	p->poll = talloc_new(p);
	p->polled_at = time(NULL);
	rc = p->poll ? store_peer_get(p->ps->ch->store, p->cfg->origin, on_state, p) : -ENOMEM;
	if (rc < 0)
		poll_end(p, "Redis: %s", strerror(-rc));
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
	struct peer *p = arg;
	/* The lock lasts a little less than the interval: one poll per interval among all
	 * processes, the next one free to go on time. */
	unsigned ms = (unsigned)p->cfg->poll_interval * 1000;

	(void)fd;
	(void)what;
	if (p->busy)
		return;
	p->busy = true;
	if (store_peer_lock(p->ps->ch->store, p->cfg->origin, p->ps->holder,
			    ms > 200 ? ms - 100 : ms, on_locked, p) < 0) {
		p->busy = false;
		schedule(p, ms);
	}
}

/* ---- start ------------------------------------------------------------------------------ */

static int peer_free(struct peer *p)
{
	if (p->timer)
		event_free(p->timer);
	if (p->conn)
		evhttp_connection_free(p->conn);
	if (p->uri)
		evhttp_uri_free(p->uri);
	return 0;
}

static int peer_start(struct peers *ps, struct peer *p, const struct config_peer *cfg,
		      char *err, size_t errsz)
{
	struct event_base *base = ps->ch->base;
	const char *path;
	int port;

	p->ps = ps;
	p->cfg = cfg;
	talloc_set_destructor(p, peer_free);
	p->v = note_verifier_new(p, cfg->key, err, errsz);
	if (p->v == NULL)
		return -EINVAL;
	if (strcmp(note_verifier_name(p->v), cfg->origin) != 0 ||
	    note_verifier_alg(p->v) != NOTE_ED25519) {
		snprintf(err, errsz, "key: not the Ed25519 verifier key of %s", cfg->origin);
		return -EINVAL;
	}
	p->uri = evhttp_uri_parse(cfg->url);
	if (p->uri == NULL || evhttp_uri_get_host(p->uri) == NULL) {
		snprintf(err, errsz, "url: '%s' does not parse", cfg->url);
		return -EINVAL;
	}
	path = evhttp_uri_get_path(p->uri);
	snprintf(p->base, sizeof(p->base), "%s", path && *path ? path : "");
	while (p->base[0] && p->base[strlen(p->base) - 1] == '/')
		p->base[strlen(p->base) - 1] = '\0';
	port = evhttp_uri_get_port(p->uri);
	p->conn = evhttp_connection_base_new(base, NULL, evhttp_uri_get_host(p->uri),
					     port > 0 ? (unsigned short)port : 80);
	p->timer = evtimer_new(base, tick, p);
	if (p->conn == NULL || p->timer == NULL) {
		snprintf(err, errsz, "out of memory");
		return -ENOMEM;
	}
	evhttp_connection_set_timeout(p->conn, FETCH_TIMEOUT_S);
	evhttp_connection_set_max_body_size(p->conn, FETCH_MAX);
	evhttp_connection_set_max_headers_size(p->conn, 16384);
	snprintf(p->state, sizeof(p->state), "not polled yet");
	schedule(p, 500);
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
