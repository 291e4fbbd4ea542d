/* The Redis keys of sightings (issue 22), for the store's two sides alike: the daemon's
 * asynchronous store (store.c) indexes a report's IMEI when it opens one, ceirgwctl's blocking
 * store (bulk.c) reads the index at an import's start and records sightings. Internal to
 * src/store; the schema is doc/redis-keys.md. */
#ifndef CEIRGW_STORE_SIGHT_KEYS_H
#define CEIRGW_STORE_SIGHT_KEYS_H

/* The IMEIs that have (or had) a report, 1000 sets by the last 3 digits of the IMEI's body
 * (digits 12 to 14 of the 15): one slot per shard on a Redis Cluster, like fx:{...}. A set
 * and not one key per report: the import reads the whole index in 1000 commands. */
#define SIGHT_INDEX_SHARDS 1000
#define SIGHT_INDEX_FMT "rix:{%03u}"
#define SIGHT_INDEX_MAX 16	/* "rix:{999}" and a NUL, rounded */

/* A report's sightings and those not yet on the stream: in the report's slot. */
#define SIGHT_SEEN_FMT "rep:{%s}:seen"
#define SIGHT_PENDING_FMT "rep:{%s}:seenq"

/* The shard of a 15-digit IMEI (digits 12 to 14: the body's last three). */
static inline unsigned sight_shard(const char *imei)
{
	return (unsigned)((imei[11] - '0') * 100 + (imei[12] - '0') * 10 + (imei[13] - '0'));
}

#endif
