/* Sightings (issue 22): a reported phone that the operators' data shows again on another line.
 * During `ceirgwctl import pairings`, each row's IMEI is looked up in memory in the index of
 * reported IMEIs (read once at the start); only the rows that hit it go to Redis, where one
 * script in the report's slot decides, records the sighting once and queues the owner's SMS
 * in the report's outbox; the sighting then goes once onto the authorities' stream. The keys
 * and the stream: doc/redis-keys.md, doc/ceir-queue.md. */
#ifndef CEIRGW_STORE_SIGHT_H
#define CEIRGW_STORE_SIGHT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/pairs.h"

struct bulk;
struct sight;

/* The owner's SMS in one language; {ref} is rendered as SIGHT_REF_MARK, which the script
 * replaces with the report's reference (the import learns it in the same step). */
#define SIGHT_REF_MARK "\001"
#define SIGHT_LANGS_MAX 8
#define SIGHT_TEXT_MAX 640
struct sight_text {
	char lang[8];
	char text[SIGHT_TEXT_MAX];
};

/* Fills out[0..max) with the owner's SMS for the 15-digit imei seen on day (YYYY-MM-DD), one
 * per language, the default language first. Returns how many (0: no SMS). */
typedef size_t (*sight_text_fn)(void *arg, const char *imei, const char *day,
				struct sight_text *out, size_t max);

struct sight_opts {
	const char *stream;	/* ceir-sightings-stream */
	const char *outbox;	/* the SMS path's outbox stream; NULL: no SMS */
	sight_text_fn text;
	void *text_arg;
};

struct sight_stats {
	size_t watched;		/* IMEIs in the index */
	size_t candidates;	/* distinct (IMEI, line) pairs of rows whose IMEI is watched */
	size_t fresh;		/* new sightings: recorded, on the stream */
	size_t known;		/* sightings recorded before (their days widened) */
	size_t own;		/* the owner's or the reporter's line: no sighting */
	size_t closed;		/* no open report (unblocked, rejected, none) */
	size_t before;		/* last seen before the report's day */
	size_t sms;		/* owner's SMS queued */
	size_t full;		/* new lines of a report that holds 1000 sightings: not kept */
};

/* At most this many IMEIs in memory (16 bytes a slot, half full: 128 MiB): past it the
 * import says so and looks for no sighting. */
#define SIGHT_WATCH_MAX (4u * 1024 * 1024)

/* A talloc child of ctx, reading and writing through b. NULL on no memory. */
struct sight *sight_new(void *ctx, struct bulk *b, const struct sight_opts *o);

/* Reads the index of reported IMEIs into memory. Returns 0, -E2BIG past SIGHT_WATCH_MAX
 * (then nothing is watched), or -EIO (err in bulk_error()). */
int sight_load(struct sight *s);

/* Whether a 14-digit IMEI body is watched: a memory lookup, O(1). */
bool sight_watched(const struct sight *s, uint64_t body);

/* Queues one row of a watched IMEI: its line (rec, the IMSI in full, 0 for none) and the
 * operator's name (may be empty). When SIGHT_BATCH rows are queued, the bulk import's batch
 * they came from is written first (bulk_flush, through its gate), then the queue: a sighting
 * is never recorded from rows that --max-reject-ratio then drops. 65,536 rows (4 MiB) keep
 * that early batch rare: a dump would need more than 1.6% of a 4-million-row batch on
 * reported IMEIs' new lines. Returns 0, -ECANCELED (the gate refused the batch), -ENOMEM or
 * -EIO. */
#define SIGHT_BATCH 65536
#define SIGHT_OPERATOR_MAX 32
int sight_add(struct sight *s, uint64_t body, const struct pair_rec *rec, uint64_t imsi,
	      const char *op, size_t oplen);

/* Writes what is queued. Returns 0 or -EIO (err in bulk_error()). */
int sight_flush(struct sight *s);

const struct sight_stats *sight_stats(const struct sight *s);

/* Adds every IMEI with a report hash (rep:{imei}, found by SCAN on each master) to the index:
 * the migration for reports made before the index existed, and the mend for a SADD that
 * Redis refused. Returns how many were not there, or -EIO, -E2BIG, -ENOMEM (err in
 * bulk_error()). */
long sight_reindex(struct bulk *b);

#endif
