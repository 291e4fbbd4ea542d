/* The right edge of a Merkle tree (a "compact range" from 0): the hashes of its maximal
 * complete subtrees, one per set bit of its size, which is all a follower keeps of a
 * neighbour's log to hash new entries onto it and compute the root of any later size
 * (RFC 9162's MTH, feed/merkle.h's hashing). At most 64 hashes; pure. */
#ifndef CEIRGW_FEED_FRONTIER_H
#define CEIRGW_FEED_FRONTIER_H

#include <stddef.h>
#include <stdint.h>

#include "feed/merkle.h"

struct merkle_frontier {
	uint64_t size;
	/* h[k]: the subtree of 2^k leaves that bit k of size stands for (unset bits: unused). */
	uint8_t h[64][MERKLE_HASH_LEN];
};

/* The empty tree. */
void frontier_init(struct merkle_frontier *f);
/* One more leaf (its leaf hash). Returns 0, or -EOVERFLOW at 2^64 - 1 leaves. */
int frontier_append(struct merkle_frontier *f, const uint8_t leaf[MERKLE_HASH_LEN]);
/* The root of the tree so far (SHA-256 of nothing for the empty tree). */
void frontier_root(const struct merkle_frontier *f, uint8_t out[MERKLE_HASH_LEN]);
/* Kept as bytes: the size (8, big-endian), then the hashes of its set bits from the lowest.
 * FRONTIER_BYTES_MAX holds any. Returns the length. */
#define FRONTIER_BYTES_MAX (8 + 64 * MERKLE_HASH_LEN)
size_t frontier_encode(const struct merkle_frontier *f, uint8_t *out);
/* Returns 0 or -EBADMSG for bytes that are not one (a length that does not match the size). */
int frontier_decode(const uint8_t *in, size_t len, struct merkle_frontier *f);
/* The frontier of the tree of size from complete-subtree hashes (a log's tiles). */
int frontier_from_reader(uint64_t size, merkle_reader rd, void *arg, struct merkle_frontier *f);

#endif
