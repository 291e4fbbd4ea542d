/* The country's feed (issue 19, doc/exchange.md): the log of national decisions a CEIR's
 * results append (store_feed_append, by the relay of a report's outbox), published as an
 * RFC 9162 Merkle tree in C2SP tlog-tiles under /feed/, with a checkpoint signed as a C2SP
 * signed note (Ed25519, feed-key-file).
 *
 * The checkpointer: every feed-checkpoint-interval seconds one ceirgw process (a lock in
 * Redis) reads the entries appended since the last checkpoint, hashes them into the tiles
 * (feed/tile.h: each tile written at its place, so that a successor that finds a round cut
 * short writes the same bytes again), computes the root and signs the new checkpoint. The
 * checkpoint is written last, and never over a larger one: a follower never sees a tree
 * whose tiles are not all there. A backlog is taken FEED_BATCH entries a round, each round
 * a checkpoint, round after round.
 *
 * The reader: /feed/checkpoint, /feed/tile/<L>/<N>[.p/<W>] and /feed/tile/entries/<N>[.p/<W>]
 * come from Redis as they are; a tile or a bundle the log does not have (yet) is a 404. */
#include "channel/channels.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <talloc.h>

#include "channel/http.h"
#include "core/logging.h"
#include "core/metrics.h"
#include "feed/entry.h"
#include "feed/merkle.h"
#include "feed/note.h"
#include "feed/tile.h"
#include "store/store.h"

#define FEED_BATCH 65536	/* entries hashed per round (and per checkpoint) at most */
#define FEED_LOCK_MS 10000	/* a round that takes longer lets another process start over
				 * (harmless: it writes the same bytes); a process killed in a
				 * round holds the log up no longer */
#define TILE_BYTES (TILE_WIDTH * MERKLE_HASH_LEN)
#define LEVELS_MAX 8		/* tile levels: 256^8 entries is far past any log */

/* The tiles one round reads and writes: per tile level, a run of consecutive tiles from the
 * old tree's right edge on. */
struct tile_run {
	uint64_t first;		/* the first tile's index */
	size_t n;
	uint8_t (*data)[TILE_BYTES];
	unsigned *have;		/* hashes known in each, from the start */
	unsigned *dirty_from;	/* the first hash written this round; TILE_WIDTH: none */
};

struct feed {
	struct channels *ch;
	struct note_signer *signer;
	struct note_signer *cosigner;	/* the same key, as a witness (tlog-cosignature) */
	struct event *timer;
	char holder[96];
	bool busy;
	bool stopping;
	/* The round. */
	void *round;		/* talloc parent of what a round allocates */
	uint64_t old, size, logsize;
	bool found;		/* a checkpoint was there */
	uint8_t old_root[MERKLE_HASH_LEN];
	uint8_t (*leaves)[MERKLE_HASH_LEN];
	uint64_t fetched;	/* entries hashed so far this round */
	struct tile_run runs[LEVELS_MAX];
	unsigned waiting;	/* tile reads or writes in flight */
	int failed;
	/* What /healthz shows. */
	uint64_t published;	/* the last checkpoint's size */
	time_t published_at;
	unsigned long long rounds, errors;
	/* /feed/witness: the cosignature of each peer's checkpoint, made once (below). */
	struct cosig *cosigs;
	size_t ncosigs;
};

/* A witness's cosignature says when it first saw the checkpoint (C2SP tlog-cosignature's
 * timestamp): made at the first request that serves it, then served as it is while the peer
 * shows the same checkpoint. One per feed-peer: a new checkpoint of the peer replaces it. */
struct cosig {
	char *origin;		/* the peer's */
	char *text;		/* the checkpoint's text, signed */
	size_t textlen;
	char line[512];		/* the cosignature line, with its newline */
	size_t linelen;
};

static void round_end(struct feed *f, int err, const char *what);

static void schedule(struct feed *f, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(f->timer, &tv);
}

/* ---- the tiles of a round -------------------------------------------------------------- */

static struct tile_run *run_of(struct feed *f, int level)
{
	return level >= 0 && level < LEVELS_MAX ? &f->runs[level] : NULL;
}

/* Prepares level t's run for a tree growing from old to size: from the tile the old tree's
 * right edge is in to the one the new tree's is in. */
static int run_prepare(struct feed *f, unsigned t)
{
	struct tile_run *tr = &f->runs[t];
	uint64_t h_old = f->old >> (8 * t), h_new = f->size >> (8 * t);
	uint64_t last = h_new ? (h_new - 1) / TILE_WIDTH : 0;

	tr->first = h_old / TILE_WIDTH;
	tr->n = h_new > h_old || h_old % TILE_WIDTH ? (size_t)(last - tr->first + 1) : 0;
	if (h_new == 0)
		tr->n = 0;
	if (tr->n == 0)
		return 0;
	tr->data = talloc_zero_size(f->round, tr->n * TILE_BYTES);
	tr->have = talloc_zero_array(f->round, unsigned, tr->n);
	tr->dirty_from = talloc_array(f->round, unsigned, tr->n);
	if (tr->data == NULL || tr->have == NULL || tr->dirty_from == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < tr->n; i++)
		tr->dirty_from[i] = TILE_WIDTH;
	return 0;
}

/* tile_source's get over the round's runs. */
static int run_get(void *arg, int level, uint64_t n, unsigned w, const uint8_t **data)
{
	struct tile_run *tr = run_of(arg, level);

	if (tr == NULL || n < tr->first || n - tr->first >= tr->n ||
	    tr->have[n - tr->first] < w)
		return -ENOENT;
	*data = tr->data[n - tr->first];
	return 0;
}

static int run_emit(void *arg, unsigned level, uint64_t index, const uint8_t hash[32])
{
	struct tile_run *tr = run_of(arg, (int)level);
	uint64_t n = index / TILE_WIDTH;
	unsigned at = (unsigned)(index % TILE_WIDTH);

	if (tr == NULL || n < tr->first || n - tr->first >= tr->n)
		return -ERANGE;
	n -= tr->first;
	memcpy(tr->data[n] + at * MERKLE_HASH_LEN, hash, MERKLE_HASH_LEN);
	if (tr->have[n] < at + 1)
		tr->have[n] = at + 1;
	if (tr->dirty_from[n] > at)
		tr->dirty_from[n] = at;
	return 0;
}

/* ---- a round: lock, checkpoint, entries, tiles, checkpoint ------------------------------- */

static void on_unlocked(void *arg, int err, long long n)
{
	(void)arg;
	(void)err;
	(void)n;
}

static void round_end(struct feed *f, int err, const char *what)
{
	bool more = err == 0 && f->size < f->logsize;

	if (err < 0) {
		f->errors++;
		LOGP(LOGC_CEIR, LOGL_ERROR, "feed: the checkpoint round failed (%s: %s); tried "
		     "again in %ld s", what, strerror(-err), f->ch->cfg->feed_checkpoint_interval);
	}
	TALLOC_FREE(f->round);
	f->leaves = NULL;
	memset(f->runs, 0, sizeof(f->runs));
	f->busy = false;
	/* Unless Redis is away: then the lock runs out by itself. */
	store_feed_lock(f->ch->store, f->holder, 0, false, on_unlocked, f);
	/* A backlog: the next batch at once. */
	schedule(f, more ? 0 : (unsigned)f->ch->cfg->feed_checkpoint_interval * 1000);
}

static void on_checkpoint_put(void *arg, int err, long long written)
{
	struct feed *f = arg;

	if (err < 0) {
		round_end(f, err, "writing the checkpoint");
		return;
	}
	if (written) {
		f->published = f->size;
		f->published_at = time(NULL);
		f->rounds++;
		LOGP(LOGC_CEIR, LOGL_INFO, "feed: checkpoint %" PRIu64 " signed (%" PRIu64
		     " new entries)", f->size, f->size - f->old);
	} else {
		LOGP(LOGC_CEIR, LOGL_NOTICE, "feed: checkpoint %" PRIu64 " not written: another "
		     "process published a larger tree meanwhile", f->size);
	}
	round_end(f, 0, NULL);
}

static void round_sign(struct feed *f)
{
	struct tile_source src = { run_get, f, f->size };
	struct checkpoint c = { .size = f->size };
	char text[NOTE_MAX], note[NOTE_MAX];
	int tl, nl, rc;

	snprintf(c.origin, sizeof(c.origin), "%s", f->ch->cfg->feed_origin);
	rc = merkle_root(f->size, tile_reader, &src, c.root);
	if (rc < 0) {
		round_end(f, rc, "the root");
		return;
	}
	tl = checkpoint_format(&c, text, sizeof(text));
	nl = tl < 0 ? tl : note_sign(f->signer, text, (size_t)tl, (uint64_t)time(NULL), note,
				     sizeof(note));
	if (nl < 0) {
		round_end(f, nl, "signing the checkpoint");
		return;
	}
	rc = store_feed_checkpoint_put(f->ch->store, f->size, note, (size_t)nl,
				       on_checkpoint_put, f);
	if (rc < 0)
		round_end(f, rc, "writing the checkpoint");
}

static void on_tile_written(void *arg, int err)
{
	struct feed *f = arg;

	if (err < 0 && f->failed == 0)
		f->failed = err;
	if (--f->waiting > 0)
		return;
	if (f->failed)
		round_end(f, f->failed, "writing the tiles");
	else
		round_sign(f);	/* every tile is there: the checkpoint may say so */
}

/* The new hashes into the tiles, then each tile's new part written at its place. */
static void round_extend(struct feed *f)
{
	struct tile_source old = { run_get, f, f->old };
	int rc;

	rc = tile_extend(f->old, f->size, (const uint8_t (*)[32])f->leaves, tile_reader, &old,
			 run_emit, f);
	if (rc < 0) {
		round_end(f, rc, "hashing");
		return;
	}
	f->waiting = 1;		/* held until every write is started */
	f->failed = 0;
	for (unsigned t = 0; t < LEVELS_MAX; t++) {
		struct tile_run *tr = &f->runs[t];

		for (size_t i = 0; i < tr->n; i++) {
			unsigned from = tr->dirty_from[i];

			if (from >= tr->have[i])
				continue;
			f->waiting++;
			rc = store_feed_tile_put(f->ch->store, t, tr->first + i, from,
						 tr->data[i] + from * MERKLE_HASH_LEN,
						 (size_t)(tr->have[i] - from) * MERKLE_HASH_LEN,
						 on_tile_written, f);
			if (rc < 0) {
				f->waiting--;
				if (f->failed == 0)
					f->failed = rc;
			}
		}
	}
	on_tile_written(f, 0);
}

struct tile_read {
	struct feed *f;
	struct tile_run *tr;
	unsigned want;		/* the hashes the old tree has in the tile */
};

/* The old tree's tiles are read once the last read answers (f->waiting): the round goes on
 * with them, or ends with the first error. */
static void tiles_read_end(struct feed *f)
{
	if (--f->waiting > 0)
		return;
	if (f->failed)
		round_end(f, f->failed, "reading the tiles");
	else
		round_extend(f);
}

static void on_tile_read(void *arg, int err, const void *data, size_t len, bool found)
{
	struct tile_read *io = arg;
	struct feed *f = io->f;

	if (err == 0 && (!found || len < (size_t)io->want * MERKLE_HASH_LEN)) {
		LOGP(LOGC_CEIR, LOGL_ERROR, "feed: a tile of the published tree has %zu of its %u "
		     "hashes in Redis: the log cannot grow until it is repaired",
		     found ? len / MERKLE_HASH_LEN : 0, io->want);
		err = -EBADMSG;
	}
	if (err == 0) {
		memcpy(io->tr->data[0], data, (size_t)io->want * MERKLE_HASH_LEN);
		io->tr->have[0] = io->want;
	} else if (f->failed == 0) {
		f->failed = err;
	}
	talloc_free(io);
	tiles_read_end(f);
}

/* The old tree's right edge: at each level, the partial tile it ends in (its full tiles
 * never change and are not needed: a new hash above one is already in the tile above). */
static void round_read_tiles(struct feed *f)
{
	int rc;

	f->waiting = 1;
	f->failed = 0;
	for (unsigned t = 0; t < LEVELS_MAX; t++) {
		struct tile_run *tr = &f->runs[t];
		unsigned want = (unsigned)((f->old >> (8 * t)) % TILE_WIDTH);
		struct tile_read *io;

		if (tr->n == 0 || want == 0)
			continue;
		io = talloc(f->round, struct tile_read);
		if (io == NULL) {
			f->failed = -ENOMEM;
			break;
		}
		*io = (struct tile_read){ f, tr, want };
		f->waiting++;
		rc = store_feed_tile_get(f->ch->store, t, tr->first, on_tile_read, io);
		if (rc < 0) {
			f->waiting--;
			f->failed = rc;
			break;
		}
	}
	tiles_read_end(f);
}

static void round_fetch(struct feed *f);

static void on_entries(void *arg, int err, const struct store_kv *it, size_t n)
{
	struct feed *f = arg;
	uint64_t want = f->size - f->old - f->fetched;

	if (err < 0) {
		round_end(f, err, "reading the entries");
		return;
	}
	if (n == 0 || n > want || n > STORE_FEED_ENTRIES_MAX) {
		round_end(f, -EPROTO, "reading the entries");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct feed_entry fe;

		/* What the relay appended was formatted here: anything else is damage, and a
		 * feed must not carry it to other countries. */
		if (feed_entry_parse(it[i].val, it[i].vlen, &fe) < 0) {
			LOGP(LOGC_CEIR, LOGL_ERROR, "feed: entry %" PRIu64 " in Redis is not an "
			     "entry; the log stops there until it is repaired",
			     f->old + f->fetched + i);
			round_end(f, -EBADMSG, "reading the entries");
			return;
		}
		merkle_leaf_hash(it[i].val, it[i].vlen, f->leaves[f->fetched + i]);
	}
	f->fetched += n;
	round_fetch(f);
}

static void round_fetch(struct feed *f)
{
	uint64_t left = f->size - f->old - f->fetched;
	int rc;

	if (left == 0) {
		round_read_tiles(f);
		return;
	}
	rc = store_feed_entries(f->ch->store, f->old + f->fetched,
				left > STORE_FEED_ENTRIES_MAX ? STORE_FEED_ENTRIES_MAX :
								(unsigned)left,
				on_entries, f);
	if (rc < 0)
		round_end(f, rc, "reading the entries");
}

static void on_size(void *arg, int err, long long n)
{
	struct feed *f = arg;
	int rc = 0;

	if (err < 0 || n < 0) {
		round_end(f, err < 0 ? err : -EPROTO, "the log's size");
		return;
	}
	f->logsize = (uint64_t)n;
	if (f->logsize < f->old) {
		LOGP(LOGC_CEIR, LOGL_ERROR, "feed: Redis holds %" PRIu64 " entries but the "
		     "checkpoint says %" PRIu64 ": the log lost entries and is not published "
		     "further", f->logsize, f->old);
		round_end(f, -EBADMSG, "the log's size");
		return;
	}
	if (f->logsize == f->old && f->found) {
		f->size = f->old;
		round_end(f, 0, NULL);		/* nothing new */
		return;
	}
	f->size = f->logsize - f->old > FEED_BATCH ? f->old + FEED_BATCH : f->logsize;
	f->round = talloc_new(f);
	f->leaves = f->round ? talloc_size(f->round, (f->size > f->old ? f->size - f->old : 1) *
						     MERKLE_HASH_LEN) : NULL;
	if (f->leaves == NULL) {
		round_end(f, -ENOMEM, "memory");
		return;
	}
	for (unsigned t = 0; t < LEVELS_MAX && rc == 0; t++)
		rc = run_prepare(f, t);
	if (rc < 0) {
		round_end(f, rc, "memory");
		return;
	}
	f->fetched = 0;
	round_fetch(f);
}

static void on_checkpoint(void *arg, int err, const void *data, size_t len, bool found)
{
	struct feed *f = arg;
	struct checkpoint c;
	size_t textlen;
	int rc;

	if (err < 0) {
		round_end(f, err, "reading the checkpoint");
		return;
	}
	f->old = 0;
	if (found) {
		/* Our own note: its text ends before the blank line. */
		const char *s = data;

		textlen = 0;
		for (size_t i = 0; i + 1 < len && textlen == 0; i++)
			if (s[i] == '\n' && s[i + 1] == '\n')
				textlen = i + 1;
		if (textlen == 0 || checkpoint_parse(data, textlen, &c) < 0 ||
		    strcmp(c.origin, f->ch->cfg->feed_origin) != 0) {
			LOGP(LOGC_CEIR, LOGL_ERROR, "feed: the checkpoint in Redis does not read "
			     "as one of %s; the log is not published further",
			     f->ch->cfg->feed_origin);
			round_end(f, -EBADMSG, "reading the checkpoint");
			return;
		}
		f->old = c.size;
		memcpy(f->old_root, c.root, sizeof(f->old_root));
		if (f->published < c.size)
			f->published = c.size;	/* perhaps another process's */
	}
	f->found = found;
	rc = store_feed_size(f->ch->store, on_size, f);
	if (rc < 0)
		round_end(f, rc, "the log's size");
}

static void on_locked(void *arg, int err, long long taken)
{
	struct feed *f = arg;
	int rc;

	if (err < 0 || !taken) {
		f->busy = false;	/* Redis away, or another process's round */
		schedule(f, (unsigned)f->ch->cfg->feed_checkpoint_interval * 1000);
		return;
	}
	rc = store_feed_checkpoint_get(f->ch->store, on_checkpoint, f);
	if (rc < 0)
		round_end(f, rc, "reading the checkpoint");
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
	struct feed *f = arg;

	(void)fd;
	(void)what;
	if (f->busy)
		return;
	f->busy = true;
	if (store_feed_lock(f->ch->store, f->holder, FEED_LOCK_MS, true, on_locked, f) < 0) {
		f->busy = false;
		schedule(f, (unsigned)f->ch->cfg->feed_checkpoint_interval * 1000);
	}
}

/* ---- serving --------------------------------------------------------------------------- */

struct feed_req {
	struct http_req *req;
	unsigned w;
	bool full;
};

/* Immutable once complete: a full tile or bundle may be cached for good (tlog-tiles), a
 * partial one and the checkpoint not for long. */
static void reply_bytes(struct http_req *req, bool full, const char *ctype, const void *data,
			size_t len)
{
	http_reply_header(req, "Cache-Control", full ? "public, max-age=31536000, immutable" :
						       "public, max-age=5");
	http_reply(req, 200, "OK", ctype, data, len);
}

static void on_served_tile(void *arg, int err, const void *data, size_t len, bool found)
{
	struct feed_req *fr = arg;
	size_t want = (size_t)fr->w * MERKLE_HASH_LEN;

	if (err < 0)
		http_reply_lit(fr->req, 503, "Service Unavailable", "try later\n");
	else if (!found || len < want)
		http_reply_lit(fr->req, 404, "Not Found", "no such tile\n");
	else
		reply_bytes(fr->req, fr->full, "application/octet-stream", data, want);
	talloc_free(fr);
}

static void on_served_entries(void *arg, int err, const struct store_kv *it, size_t n)
{
	struct feed_req *fr = arg;
	uint8_t *buf;
	size_t len = 0, cap = (size_t)fr->w * (2 + FEED_ENTRY_MAX);

	if (err < 0) {
		http_reply_lit(fr->req, 503, "Service Unavailable", "try later\n");
	} else if (n != fr->w) {
		http_reply_lit(fr->req, 404, "Not Found", "no such entry bundle\n");
	} else if ((buf = talloc_size(fr, cap)) == NULL) {
		http_reply_lit(fr->req, 503, "Service Unavailable", "try later\n");
	} else {
		for (size_t i = 0; i < n && err == 0; i++)
			err = tile_bundle_append(buf, cap, &len, it[i].val, it[i].vlen);
		if (err < 0)
			http_reply_lit(fr->req, 500, "Internal Server Error", "a bad entry\n");
		else
			reply_bytes(fr->req, fr->full, "application/octet-stream", buf, len);
	}
	talloc_free(fr);
}

static void on_served_checkpoint(void *arg, int err, const void *data, size_t len, bool found)
{
	struct http_req *req = arg;

	if (err < 0)
		http_reply_lit(req, 503, "Service Unavailable", "try later\n");
	else if (!found)
		http_reply_lit(req, 404, "Not Found", "no checkpoint yet\n");
	else
		reply_bytes(req, false, "text/plain; charset=utf-8", data, len);
}

/* /feed/witness: the newest checkpoint each feed-peer showed this ceirgw with its signature
 * (channel/peers.c keeps it, whether it was then accepted or halted), with this ceirgw's
 * cosignature appended (C2SP tlog-cosignature): what it was shown, for the other followers
 * to compare with what they were shown. Records "<length>\n<note>", one per peer. The
 * cosignature is made once per checkpoint and kept (struct cosig), its timestamp the time
 * this process first served it. */
struct witness_req {
	struct feed *f;
	struct http_req *req;
	size_t left;
	char *body;
	bool failed;
};

/* One peer's read: the peer's origin, for its cosignature in f->cosigs. */
struct witness_peer {
	struct witness_req *w;
	const char *origin;	/* a talloc child */
};

/* The cosignature line of the peer's checkpoint text: the one made for the same text before,
 * else a new one, kept in place of that peer's older one. Returns its length, or -1. */
static int cosig_line(struct feed *f, const char *origin, const char *text, size_t textlen,
		      const char **line)
{
	struct cosig *c = NULL;
	char buf[sizeof(c->line)], *t;
	int ll;

	for (size_t i = 0; i < f->ncosigs; i++)
		if (strcmp(f->cosigs[i].origin, origin) == 0)
			c = &f->cosigs[i];
	if (c && c->textlen == textlen && memcmp(c->text, text, textlen) == 0) {
		*line = c->line;
		return (int)c->linelen;
	}
	ll = note_sign_line(f->cosigner, text, textlen, (uint64_t)time(NULL), buf, sizeof(buf));
	if (ll < 0)
		return -1;
	if (c == NULL) {
		/* Bounded by witness_serve: the peers no longer configured go first. */
		struct cosig *a = talloc_realloc(f, f->cosigs, struct cosig, f->ncosigs + 1);

		if (a == NULL)
			return -1;
		f->cosigs = a;
		c = &a[f->ncosigs];
		*c = (struct cosig){ talloc_strdup(f, origin), NULL, 0, "", 0 };
		if (c->origin == NULL)
			return -1;
		f->ncosigs++;
	}
	t = talloc_memdup(f, text, textlen);
	if (t == NULL)
		return -1;
	talloc_free(c->text);
	c->text = t;
	c->textlen = textlen;
	memcpy(c->line, buf, (size_t)ll);
	c->linelen = (size_t)ll;
	*line = c->line;
	return ll;
}

/* Only the configured peers' cosignatures stay (a reload may have removed some). */
static void cosigs_prune(struct feed *f, const struct ceirgw_config *cfg)
{
	size_t kept = 0;

	for (size_t i = 0; i < f->ncosigs; i++) {
		bool configured = false;

		for (size_t j = 0; j < cfg->npeers && !configured; j++)
			configured = strcmp(cfg->peers[j].origin, f->cosigs[i].origin) == 0;
		if (configured) {
			f->cosigs[kept++] = f->cosigs[i];
		} else {
			talloc_free(f->cosigs[i].origin);
			talloc_free(f->cosigs[i].text);
		}
	}
	f->ncosigs = kept;
}

static void witness_reply(struct witness_req *w)
{
	if (w->failed)
		http_reply_lit(w->req, 503, "Service Unavailable", "try later\n");
	else
		reply_bytes(w->req, false, "text/plain; charset=utf-8", w->body, talloc_get_size(w->body) - 1);
	talloc_free(w);
}

static void on_witness_peer(void *arg, int err, const struct store_kv *kv, size_t n)
{
	struct witness_peer *wp = arg;
	struct witness_req *w = wp->w;
	const struct store_kv *view = NULL;

	if (err < 0)
		w->failed = true;
	/* The newest checkpoint the peer showed us with its signature ("witness"), else the
	 * one accepted (a peer followed by an older ceirgw). */
	for (size_t i = 0; i < n; i++) {
		if (kv[i].klen == 7 && memcmp(kv[i].key, "witness", 7) == 0)
			view = &kv[i];
		else if (view == NULL && kv[i].klen == 10 && memcmp(kv[i].key, "checkpoint", 10) == 0)
			view = &kv[i];
	}
	if (view && !w->failed) {
		const char *note = view->val;
		size_t len = view->vlen, textlen = 0;
		const char *line = NULL;
		char *rec;
		int ll = -1;

		/* The text ends at the last blank line; the signature lines follow it. */
		for (size_t j = len > 1 ? len - 1 : 0; j > 0; j--)
			if (note[j] == '\n' && note[j - 1] == '\n') {
				textlen = j;
				break;
			}
		if (textlen > 0 && len <= NOTE_MAX && note[len - 1] == '\n')
			ll = cosig_line(w->f, wp->origin, note, textlen, &line);
		if (ll >= 0) {
			rec = talloc_asprintf_append_buffer(w->body, "%zu\n%.*s%.*s",
							    len + (size_t)ll, (int)len, note, ll,
							    line);
			if (rec == NULL)
				w->failed = true;
			else
				w->body = rec;
		}
	}
	talloc_free(wp);
	if (--w->left == 0)
		witness_reply(w);
}

static void witness_serve(struct feed *f, struct http_req *req)
{
	const struct ceirgw_config *cfg = f->ch->cfg;
	struct witness_req *w = talloc_zero(f, struct witness_req);

	if (w == NULL || (w->body = talloc_strdup(w, "")) == NULL) {
		talloc_free(w);
		http_reply_lit(req, 503, "Service Unavailable", "try later\n");
		return;
	}
	w->f = f;
	w->req = req;
	w->left = 1;		/* held until every peer's read is started */
	cosigs_prune(f, cfg);
	for (size_t i = 0; i < cfg->npeers; i++) {
		struct witness_peer *wp = talloc_zero(w, struct witness_peer);

		if (wp) {
			wp->w = w;
			wp->origin = talloc_strdup(wp, cfg->peers[i].origin);
		}
		w->left++;
		if (wp == NULL || wp->origin == NULL ||
		    store_peer_get(f->ch->store, cfg->peers[i].origin, on_witness_peer, wp) < 0) {
			talloc_free(wp);
			w->left--;
			w->failed = true;
		}
	}
	if (--w->left == 0)
		witness_reply(w);
}

static void feed_cb(struct http_req *req, void *arg)
{
	struct feed *f = arg;
	size_t plen;
	const char *path = http_req_path(req, &plen) + strlen("/feed/");
	struct feed_req *fr;
	int level, rc;
	uint64_t n;
	unsigned w;

	plen -= strlen("/feed/");
	if (!(http_req_method(req) & (HTTP_REQ_GET | HTTP_REQ_HEAD))) {
		http_reply_header(req, "Allow", "GET, HEAD");
		http_reply_lit(req, 405, "Method Not Allowed", "GET only\n");
		return;
	}
	if (plen == 7 && memcmp(path, "witness", 7) == 0) {
		witness_serve(f, req);
		return;
	}
	if (plen == 10 && memcmp(path, "checkpoint", 10) == 0) {
		rc = store_feed_checkpoint_get(f->ch->store, on_served_checkpoint, req);
		if (rc < 0)
			http_reply_lit(req, 503, "Service Unavailable", "try later\n");
		return;
	}
	if (tile_path_parse(path, plen, &level, &n, &w) < 0) {
		http_reply_lit(req, 404, "Not Found", "not a feed path\n");
		return;
	}
	fr = talloc_zero(f, struct feed_req);
	if (fr == NULL) {
		http_reply_lit(req, 503, "Service Unavailable", "try later\n");
		return;
	}
	*fr = (struct feed_req){ req, w, w == TILE_WIDTH };
	if (level == TILE_LEVEL_ENTRIES)
		rc = n > UINT64_MAX / TILE_WIDTH ? -EINVAL :
		     store_feed_entries(f->ch->store, n * TILE_WIDTH, w, on_served_entries, fr);
	else
		rc = level >= LEVELS_MAX ? -EINVAL :
		     store_feed_tile_get(f->ch->store, (unsigned)level, n, on_served_tile, fr);
	if (rc < 0) {
		talloc_free(fr);
		if (rc == -EINVAL)
			http_reply_lit(req, 404, "Not Found", "no such tile\n");
		else
			http_reply_lit(req, 503, "Service Unavailable", "try later\n");
	}
}

static int feed_free(struct feed *f)
{
	if (f->timer)
		event_free(f->timer);
	return 0;
}

int channel_feed_start(struct channels *ch, struct http_server *hs)
{
	const struct ceirgw_config *cfg = ch->cfg;
	struct feed *f;
	char err[256], host[64];
	int rc;

	if (cfg->feed_origin == NULL)
		return 0;	/* no feed published: /feed/ is a 404 */
	f = talloc_zero(ch->ctx, struct feed);
	if (f == NULL)
		return -ENOMEM;
	talloc_set_destructor(f, feed_free);
	f->ch = ch;
	rc = note_signer_load(f, cfg->feed_key_file, NOTE_ED25519, &f->signer, err, sizeof(err));
	if (rc < 0) {
		LOGP(LOGC_CONFIG, LOGL_ERROR, "feed-key-file: %s", err);
		talloc_free(f);
		return rc;
	}
	if (rc == 0)
		rc = note_signer_load(f, cfg->feed_key_file, NOTE_COSIGNATURE_V1, &f->cosigner,
				      err, sizeof(err));
	if (rc < 0) {
		LOGP(LOGC_CONFIG, LOGL_ERROR, "feed-key-file: %s", err);
		talloc_free(f);
		return rc;
	}
	if (strcmp(note_signer_name(f->signer), cfg->feed_origin) != 0) {
		LOGP(LOGC_CONFIG, LOGL_ERROR, "feed-key-file %s is the key of '%s', not of "
		     "feed-origin '%s'", cfg->feed_key_file, note_signer_name(f->signer),
		     cfg->feed_origin);
		talloc_free(f);
		return -EINVAL;
	}
	if (gethostname(host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "?");
	host[sizeof(host) - 1] = '\0';
	snprintf(f->holder, sizeof(f->holder), "%s:%d", host, (int)getpid());
	f->timer = evtimer_new(ch->base, tick, f);
	if (f->timer == NULL) {
		talloc_free(f);
		return -ENOMEM;
	}
	ch->feed = f;
	schedule(f, 1000);
	LOGP(LOGC_CEIR, LOGL_NOTICE, "feed %s of %s: published under /feed/, a checkpoint "
	     "every %ld s when entries were added", cfg->feed_origin, cfg->country,
	     cfg->feed_checkpoint_interval);
	return http_server_route_counted(hs, "/feed/", true, feed_cb, f, MC_FEED);
}

void feed_status(const struct feed *f, struct feed_stats *out)
{
	*out = (struct feed_stats){ f->published, f->published_at, f->rounds, f->errors };
}
