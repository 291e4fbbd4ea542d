/* A log's Merkle tree (merkle.h) cut into tiles as C2SP tlog-tiles serves it
 * (https://c2sp.org/tlog-tiles): tile paths, tile widths, entry bundles, a merkle_reader over
 * hash tiles, and the hashes new leaves add to the tiles. Pure functions, no I/O. */
#ifndef CEIRGW_FEED_TILE_H
#define CEIRGW_FEED_TILE_H

#include <stddef.h>
#include <stdint.h>

#include "feed/merkle.h"

#define TILE_HEIGHT 8			/* tree levels one tile spans (fixed by the spec) */
#define TILE_WIDTH 256			/* hashes in a full tile, entries in a full bundle */
#define TILE_PATH_MAX 64		/* "tile/entries/x018/x446/x744/x073/x709/x551/615.p/255" */
#define TILE_LEVEL_ENTRIES (-1)		/* the level of entry bundles in paths and widths */
#define TILE_LEVEL_MAX 63		/* the highest level a path may name */
#define TILE_ENTRY_MAX 65535		/* an entry's length is a big-endian uint16 in a bundle */

/* "tile/<L>/<N>[.p/<W>]" or, for level TILE_LEVEL_ENTRIES, "tile/entries/<N>[.p/<W>]"; N in
 * 3-digit groups, all but the last prefixed x ("x001/x234/067"); w 1..255 partial, 256 full.
 * Writes it NUL-terminated into out. Returns the length, -EINVAL for a level outside
 * TILE_LEVEL_ENTRIES..63 or a w outside 1..256, -ENOSPC when out is too small. */
int tile_path(char *out, size_t outsz, int level, uint64_t n, unsigned w);

/* The inverse of tile_path over s[0..len) (no NUL needed), strict: only what tile_path writes
 * (groups of exactly three digits, no x000 group in front, L 0..63 and W 1..255 with no leading
 * zeros, N within 64 bits); *w gets 256 for a full tile. Returns 0 or -EINVAL. */
int tile_path_parse(const char *s, size_t len, int *level, uint64_t *n, unsigned *w);

/* How many hashes tile (level, n) holds in a tree of `size` leaves: 0 none, 1..255 partial,
 * 256 full. For level TILE_LEVEL_ENTRIES, the entries of bundle n. 0 for other levels. */
unsigned tile_width(int level, uint64_t n, uint64_t size);

/* Entry bundles: each entry as a big-endian uint16 length and its bytes. Appends one entry
 * to buf[*len..cap) and advances *len. Returns 0, -EINVAL for an entry over TILE_ENTRY_MAX
 * bytes, -ENOSPC when it does not fit (buf is then unchanged). */
int tile_bundle_append(uint8_t *buf, size_t cap, size_t *len, const void *entry, size_t elen);

/* Splits a bundle that must hold exactly `want` entries (0..TILE_WIDTH): off[i], elen[i] of
 * each (arrays of want). Returns 0, -EBADMSG for a truncated, over-long or short bundle,
 * -EINVAL for want > TILE_WIDTH. */
int tile_bundle_parse(const uint8_t *buf, size_t len, unsigned want, uint32_t *off,
		      uint16_t *elen);

/* A merkle_reader over hash tiles: get() lends the bytes of tile (level, n) with width w
 * (exactly w*32 bytes, valid until it is called again) or returns -ENOENT when not at hand
 * (the caller then fetches it and tries again: run a proof once with a recording get() to learn
 * which tiles are needed). tile_reader computes a tree-level-l hash from tile level l/8
 * (2^(l%8) hashes of one tile). size is the tree size, so partial tiles are asked for at the
 * width that tree has. */
struct tile_source {
	int (*get)(void *arg, int level, uint64_t n, unsigned w, const uint8_t **data);
	void *arg;
	uint64_t size;
};

/* Returns 0, what get() returned, or -EINVAL for a subtree that is not complete in a tree of
 * src->size leaves. */
int tile_reader(void *src /* struct tile_source * */, unsigned level, uint64_t index,
		uint8_t out[MERKLE_HASH_LEN]);

/* Publishing: the tree grows from old to size leaves; leaves[] are the new leaf hashes
 * (size - old of them), rd reads hashes of the old tree (complete subtrees of it: at most 64
 * per tile level that gains hashes). Calls emit(arg, tile_level, index, hash) for every
 * tile-stored hash (tree level 8*tile_level, index) that is complete in the new tree but was
 * not in the old: level-0 hashes are the leaves; a level-L+1 hash is the root of the full
 * level-L tile below it. In index order per level, lower levels first. No allocation: one pass
 * over the new leaves per tile level that gains hashes, with a stack of 64 hashes.
 * Returns 0, -EINVAL for size < old, or the first negative from rd/emit. */
int tile_extend(uint64_t old, uint64_t size, const uint8_t (*leaves)[MERKLE_HASH_LEN],
		merkle_reader rd, void *rdarg,
		int (*emit)(void *arg, unsigned tile_level, uint64_t index,
			    const uint8_t hash[MERKLE_HASH_LEN]),
		void *emitarg);

#endif
