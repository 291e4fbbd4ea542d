/* Merkle trees of an append-only log as RFC 9162 section 2.1 defines them (the Certificate
 * Transparency v2 tree: SHA-256, leaf and node prefixes 0x00 and 0x01): roots, inclusion and
 * consistency proofs and their verification. Pure functions: the tree's stored hashes are read
 * through a merkle_reader, so a proof can be made from tiles, Redis or an array alike. */
#ifndef CEIRGW_FEED_MERKLE_H
#define CEIRGW_FEED_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#define MERKLE_HASH_LEN 32
/* The longest proof made or taken. A tree of up to 2^63 leaves needs at most 64 hashes; only a
 * consistency proof in a larger tree can need 65, and is refused (-E2BIG). */
#define MERKLE_PROOF_MAX 64

/* SHA-256(0x00 || entry) */
void merkle_leaf_hash(const void *entry, size_t len, uint8_t out[MERKLE_HASH_LEN]);

/* SHA-256(0x01 || left || right) */
void merkle_node_hash(const uint8_t left[MERKLE_HASH_LEN], const uint8_t right[MERKLE_HASH_LEN],
		      uint8_t out[MERKLE_HASH_LEN]);

/* Reads the hash of the complete subtree at tree level `level` (2^level leaves) and index
 * `index` (leaves [index << level, (index + 1) << level)). Returns 0 or a negative errno, which
 * the callers below pass through unchanged (e.g. -ENOENT: a tile not fetched yet). */
typedef int (*merkle_reader)(void *arg, unsigned level, uint64_t index,
			     uint8_t out[MERKLE_HASH_LEN]);

/* RFC 9162 MTH of the first `size` leaves, reading only complete-subtree hashes: the maximal
 * complete subtrees (one per bit set in size, at most 64 reads), combined right to left.
 * size 0: SHA-256 of "". Returns 0 or what rd returned. */
int merkle_root(uint64_t size, merkle_reader rd, void *arg, uint8_t out[MERKLE_HASH_LEN]);

/* RFC 9162 2.1.3.1 inclusion proof of leaf `index` in the tree of `size`: *n hashes into
 * proof, the leaf's sibling first. Returns 0, -EINVAL for index >= size, or what rd returned. */
int merkle_inclusion_proof(uint64_t index, uint64_t size, merkle_reader rd, void *arg,
			   uint8_t proof[MERKLE_PROOF_MAX][MERKLE_HASH_LEN], size_t *n);

/* 0 when the proof shows leaf hash `leaf` at `index` in the tree of `size` with root `root`
 * (RFC 9162 2.1.3.2); -EBADMSG when it does not (wrong length, wrong hashes); -EINVAL for
 * index >= size. */
int merkle_inclusion_verify(uint64_t index, uint64_t size, const uint8_t leaf[MERKLE_HASH_LEN],
			    const uint8_t (*proof)[MERKLE_HASH_LEN], size_t n,
			    const uint8_t root[MERKLE_HASH_LEN]);

/* RFC 9162 2.1.4.1 consistency proof between tree sizes old (0 < old <= size) and size: *n
 * hashes (none when old == size). Returns 0, -EINVAL for old == 0 or old > size, -E2BIG for a
 * proof longer than MERKLE_PROOF_MAX (trees past 2^63 leaves), or what rd returned. */
int merkle_consistency_proof(uint64_t old, uint64_t size, merkle_reader rd, void *arg,
			     uint8_t proof[MERKLE_PROOF_MAX][MERKLE_HASH_LEN], size_t *n);

/* 0 when the proof shows the tree of `size` with root new_root extends the one of `old` with
 * old_root (old == size: proof empty and roots equal); -EBADMSG otherwise; -EINVAL for
 * old > size or old == 0. RFC 9162 2.1.4.2's verification algorithm. */
int merkle_consistency_verify(uint64_t old, uint64_t size, const uint8_t old_root[MERKLE_HASH_LEN],
			      const uint8_t new_root[MERKLE_HASH_LEN],
			      const uint8_t (*proof)[MERKLE_HASH_LEN], size_t n);

#endif
