/* The Redis keys of the feeds (issue 19), for the store's two sides alike: the daemon's
 * asynchronous store (store.c) and ceirgwctl's blocking one (bulk.c). Internal to src/store;
 * the schema is doc/redis-keys.md. */
#ifndef CEIRGW_STORE_FEED_KEYS_H
#define CEIRGW_STORE_FEED_KEYS_H

/* The country's feed log: one slot, {feed}. */
#define FEED_ENTRIES "feed:{feed}:entries"	/* list: the entries, in log order */
#define FEED_SEEN "feed:{feed}:seen:"		/* + an entry's id: appended once */
#define FEED_CHECKPOINT "feed:{feed}:checkpoint"	/* the signed note */
#define FEED_SIZE "feed:{feed}:size"		/* the checkpoint's tree size */
#define FEED_LOCK "feed:{feed}:lock"		/* the checkpointer's */
/* A hash tile (tile level, index): its hashes so far, 32 bytes each. */
#define FEED_TILE_FMT "feed:{feed}:t:%u:%llu"
/* A neighbour's feed as a follower keeps it: one slot per neighbour, named by its origin
 * (which holds no '{' or '}'). */
#define PEER_KEY_FMT "peer:{%s}%s"

#endif
