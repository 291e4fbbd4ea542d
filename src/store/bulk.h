/* The bulk side of the store, for ceirgwctl: blocking hiredis connections that load
 * operator pairings in pipelined batches, merging with what Redis already holds (so a
 * re-import changes nothing and a later dump widens the seen windows), and read them back.
 * One Redis, or a Redis Cluster: one connection per master, commands routed by hash slot,
 * MOVED, ASK and TRYAGAIN followed (issue 16). Only the store includes hiredis. */
#ifndef CEIRGW_STORE_BULK_H
#define CEIRGW_STORE_BULK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/redis_url.h"
#include "store/pairs.h"

struct bulk;

struct bulk_stats {
	size_t rows;			/* pairings given */
	size_t imei_written;		/* IMEI fields created or changed */
	size_t msisdn_written;		/* MSISDN fields created or changed */
	size_t unchanged;		/* pairings Redis already knew as given */
	size_t duplicated;		/* IMEIs that met the duplicate rule when written */
	size_t corrupt;			/* stored values that did not decode: replaced */
	size_t kyc_written;		/* KYC records created or changed */
	size_t redirects;		/* MOVED, ASK and TRYAGAIN answers followed (a cluster
					 * whose slots moved); 0 on a single Redis */
	size_t rows_written;		/* rows of the batches written (rows less those queued
					 * or dropped) */
	size_t batches;			/* batches written */
	size_t dropped;			/* rows of a batch the gate refused: never written */
};

struct bulk_options {
	int bucket_digits;		/* PAIRS_BUCKET_DIGITS_MIN..MAX */
	unsigned dup_min_ids;		/* the duplicate rule: distinct identities at once */
	bool dup_by_imsi;
	size_t batch_rows;		/* pairings per pipelined batch */
	/* A command unanswered this long fails (the connection is dropped); 0: 60 s, what a
	 * million-field pipeline's replies may take. The admin commands wait less. */
	int command_timeout_ms;
};

/* Connects (AUTH, SELECT) within timeout_ms. Returns a talloc child of ctx, or NULL with
 * the reason in err. */
struct bulk *bulk_connect(void *ctx, const struct redis_url *url, const struct bulk_options *o,
			  int timeout_ms, char *err, size_t errsz);

/* Connects to a Redis Cluster through the first of its seed nodes that answers (AUTH, then
 * CLUSTER SLOTS for the map of slots to masters), within timeout_ms a node. Each master
 * gets one connection when a command first needs it, to the address the cluster announces,
 * with the seeds' credentials. Every operation below works the same on it. Returns a talloc
 * child of ctx, or NULL with the reason in err (a seed that is no cluster node says so). */
struct bulk *bulk_connect_cluster(void *ctx, const struct redis_seeds *seeds,
				  const struct bulk_options *o, int timeout_ms, char *err,
				  size_t errsz);

/* Takes the import lock (one import at a time: the merge reads then writes). Returns 0,
 * -EBUSY when another import holds it, -EIO on a Redis error (err says which). */
int bulk_lock(struct bulk *b, char *err, size_t errsz);
void bulk_unlock(struct bulk *b);

/* Queues one pairing; every batch_rows pairings the batch is written. Returns 0 or -EIO. */
int bulk_add_pairing(struct bulk *b, uint64_t imei_body, const struct pair_rec *rec);

/* Queues one subscriber's KYC record (the latest row of a subscriber wins). */
int bulk_add_kyc(struct bulk *b, uint64_t msisdn, const struct kyc_rec *rec);

/* Writes what is queued. Returns 0 or -EIO (err in bulk_error()), or the gate's refusal. */
int bulk_flush(struct bulk *b);

/* A check made before each batch is written, however the write comes (a full batch in
 * bulk_add_*, or bulk_flush): gate(arg, rows) returns 0 to write the batch's rows, or a
 * negative errno to drop them unwritten (counted in dropped), which bulk_add_* and
 * bulk_flush then return, with the gate's err copied into bulk_error(). NULL: no gate. */
typedef int (*bulk_gate_fn)(void *arg, size_t rows, char *err, size_t errsz);
void bulk_set_gate(struct bulk *b, bulk_gate_fn gate, void *arg);

const struct bulk_stats *bulk_stats(const struct bulk *b);
const char *bulk_error(const struct bulk *b);

/* Reads an IMEI's pairings into recs (PAIRS_MAX_RECORDS). Returns how many, or -EIO. */
int bulk_imei_pairings(struct bulk *b, uint64_t imei_body, struct pair_rec *recs);

/* Reads an MSISDN's IMEI bodies (PAIRS_MAX_RECORDS). Returns how many, or -EIO. */
int bulk_msisdn_handsets(struct bulk *b, uint64_t msisdn, uint64_t *bodies);

/* Reads a subscriber's KYC record. Returns 0, -ENOENT when there is none, or -EIO. */
int bulk_kyc_get(struct bulk *b, uint64_t msisdn, struct kyc_rec *rec);

/* Replaces the TAC table in Redis (tac:{tac}) with t, whole: written to a new key, then
 * renamed over the old one, so readers see the old table or the new one, never a mix.
 * source (e.g. the file's licence line) is kept beside it. Returns 0 or -EIO. */
struct tac_table;
int bulk_tac_replace(struct bulk *b, const struct tac_table *t, const char *source);

/* Bytes Redis uses for data (INFO memory used_memory minus used_memory_startup), summed
 * over the masters of a cluster, or 0. */
size_t bulk_used_memory(struct bulk *b);

/* ---- the feeds (issue 19), read for ceirgwctl feed status and export ---- */

/* The country's signed checkpoint, copied into *note (a talloc child of ctx, NUL-terminated)
 * with its length in *len. Returns 0, -ENOENT before the first checkpoint, or -EIO. */
int bulk_feed_checkpoint(struct bulk *b, void *ctx, char **note, size_t *len);

/* The entries in the log (published or not yet). Returns 0 or -EIO. */
int bulk_feed_size(struct bulk *b, uint64_t *n);

/* Entries start .. start + count - 1 (count at most BULK_FEED_ENTRIES_MAX), each lent to
 * cb(arg, index, entry, len) in order; a negative from cb stops and is returned. Returns 0,
 * -ERANGE when the log holds fewer, or -EIO. */
#define BULK_FEED_ENTRIES_MAX 4096
int bulk_feed_entries(struct bulk *b, uint64_t start, unsigned count,
		      int (*cb)(void *arg, uint64_t index, const char *entry, size_t len),
		      void *arg);

/* A hash tile (tile level, index): up to cap of its bytes into out, *len the bytes stored (the
 * hashes known so far, 32 each). Returns 0, -ENOENT for none, or -EIO. */
int bulk_feed_tile(struct bulk *b, unsigned level, uint64_t n, uint8_t *out, size_t cap,
		   size_t *len);

/* What the followers keep of a neighbour's feed (peer:{<origin>}): each field lent to cb.
 * Returns the number of fields (0: nothing kept yet), -EINVAL for an origin that cannot name
 * a key, or -EIO. */
int bulk_peer_fields(struct bulk *b, const char *origin,
		     void (*cb)(void *arg, const char *field, size_t flen, const char *val,
				size_t vlen),
		     void *arg);

/* Clears a neighbour's halt (ceirgwctl feed resume), in one script: the halt and its evidence
 * go, the state line becomes state, and what the halt was is lent to cb, field by field:
 * "halted" (why), "halted-at" (Unix seconds), "shown" and "other" (the conflicting signed
 * checkpoints, "" when not kept), "checkpoint" and "size" (the accepted tree, which stays).
 * Returns 0, -ENOENT when nothing is kept of the origin, -EALREADY when it is not halted
 * (nothing changed either way), -EINVAL for an origin that cannot name a key, or -EIO. */
int bulk_peer_resume(struct bulk *b, const char *origin, const char *state,
		     void (*cb)(void *arg, const char *field, size_t flen, const char *val,
				size_t vlen),
		     void *arg);

#endif
