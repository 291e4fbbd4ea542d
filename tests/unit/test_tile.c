/* C2SP tlog-tiles (src/feed/tile.c): paths as the spec writes them and the refusal of every
 * other spelling, tile widths, entry bundles, hashes read from tiles against the tree held
 * whole, and a log grown in random steps through tile_extend and read back from its tiles. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <talloc.h>

#include "feed/merkle.h"
#include "feed/tile.h"
#include "merkle_testlib.h"
#include "testlib.h"

#define LEAVES 140000		/* past 2^17: tile level 2 holds two hashes */

static void *ctx;
static struct memtree *tree;

static int setup(void **state)
{
	ctx = talloc_new(NULL);
	tree = memtree_new(ctx, LEAVES);
	return tree == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	talloc_free(ctx);
	return 0;
}

/* ---- paths ------------------------------------------------------------------------------ */

struct path_case {
	int level;
	uint64_t n;
	unsigned w;
	const char *path;
};

static const struct path_case path_cases[] = {
	/* the spec's example index */
	{ 0, 1234067, 256, "tile/0/x001/x234/067" },
	{ 0, 1234067, 8, "tile/0/x001/x234/067.p/8" },
	{ TILE_LEVEL_ENTRIES, 1234067, 256, "tile/entries/x001/x234/067" },
	{ TILE_LEVEL_ENTRIES, 1234067, 8, "tile/entries/x001/x234/067.p/8" },
	{ 0, 0, 256, "tile/0/000" },
	{ 0, 0, 1, "tile/0/000.p/1" },
	{ 1, 1, 255, "tile/1/001.p/255" },
	{ 2, 999, 256, "tile/2/999" },
	{ 3, 1000, 256, "tile/3/x001/000" },
	{ 5, 1000000, 256, "tile/5/x001/x000/000" },
	{ 5, 1000001, 10, "tile/5/x001/x000/001.p/10" },
	{ 10, 42, 100, "tile/10/042.p/100" },
	{ 63, 67, 256, "tile/63/067" },
	{ TILE_LEVEL_ENTRIES, 0, 3, "tile/entries/000.p/3" },
	{ 0, UINT64_MAX, 256, "tile/0/x018/x446/x744/x073/x709/x551/615" },
	{ TILE_LEVEL_ENTRIES, UINT64_MAX, 255,
	  "tile/entries/x018/x446/x744/x073/x709/x551/615.p/255" },
};

static void test_paths(void **state)
{
	char out[TILE_PATH_MAX];
	uint64_t n;
	unsigned w;
	size_t i;
	int level, len;

	for (i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]); i++) {
		const struct path_case *c = &path_cases[i];

		len = tile_path(out, sizeof(out), c->level, c->n, c->w);
		assert_int_equal(len, strlen(c->path));
		assert_string_equal(out, c->path);
		assert_int_equal(tile_path_parse(c->path, strlen(c->path), &level, &n, &w), 0);
		assert_int_equal(level, c->level);
		assert_true(n == c->n);
		assert_int_equal(w, c->w);
		/* exactly the room it needs, and one byte less */
		assert_int_equal(tile_path(out, (size_t)len + 1, c->level, c->n, c->w), len);
		assert_int_equal(tile_path(out, (size_t)len, c->level, c->n, c->w), -ENOSPC);
	}
	assert_int_equal(tile_path(out, sizeof(out), -2, 0, 256), -EINVAL);
	assert_int_equal(tile_path(out, sizeof(out), 64, 0, 256), -EINVAL);
	assert_int_equal(tile_path(out, sizeof(out), 0, 0, 0), -EINVAL);
	assert_int_equal(tile_path(out, sizeof(out), 0, 0, 257), -EINVAL);
	assert_int_equal(tile_path(out, 0, 0, 0, 256), -ENOSPC);
	/* a prefix of a longer string is read as itself: no NUL needed */
	assert_int_equal(tile_path_parse("tile/0/000.p/8", 10, &level, &n, &w), 0);
	assert_int_equal(w, 256);
}

static const char *const bad_paths[] = {
	"", "tile", "tile/", "tile/0", "tile/0/", "tile/0/1", "tile/0/01", "tile/0/0001",
	"tile/0/x000/001",		/* a zero group in front */
	"tile/0/x000/x001/000",
	"tile/00/000", "tile/01/000", "tile/64/000", "tile/100/000", "tile/-1/000",
	"tile/entries/", "tile/entries", "tile/entries/1", "tile/data/000", "tile/e/000",
	"tile/0/000.p/0", "tile/0/000.p/256", "tile/0/000.p/01", "tile/0/000.p/", "tile/0/000.p",
	"tile/0/000.p/1/", "tile/0/000.p/8x", "tile/0/000.P/8", "tile/0/000.p/-1", "tile/0/000p/8",
	"tile/0/000/", "tile/0/x001", "tile/0/x001/", "tile/0/001/002", "tile/0/x1/001",
	"tile/0/X001/000", "tile/0/x001/x234/067.p/1000", "tile/0/00a", "tile/0/0a0",
	"/tile/0/000", "tile/0/000 ", " tile/0/000", "Tile/0/000", "tile//000", "tile/0//000",
	"tile/0/xx001/000", "tile/0/x001//000", "tile/0/x001/x234",
	"tile/0/x018/x446/x744/x073/x709/x551/616",	/* 2^64 */
	"tile/0/x999/x999/x999/x999/x999/x999/999",
	"tile/0/x001/x018/x446/x744/x073/x709/x551/615",
	"tile/1/000.p/256", "tile/entries/000.p/256",
	"tile/0/000\n", "tiles/0/000", "tile/0/000.p/8.p/8",
};

static void test_bad_paths(void **state)
{
	static const char nul[] = "tile/0/000\0";
	unsigned w = 7;
	uint64_t n = 7;
	int level = 7;
	size_t i;

	for (i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++) {
		if (tile_path_parse(bad_paths[i], strlen(bad_paths[i]), &level, &n, &w) != -EINVAL)
			fail_msg("accepted \"%s\"", bad_paths[i]);
	}
	assert_int_equal(tile_path_parse(nul, sizeof(nul) - 1, &level, &n, &w), -EINVAL);
}

/* Every path of the levels and widths at small and edge indices reads back as itself. */
static void test_path_round_trip(void **state)
{
	static const uint64_t ns[] = { 0, 1, 9, 10, 99, 100, 999, 1000, 1001, 999999, 1000000,
				       123456789, UINT64_C(1) << 56, UINT64_MAX - 1, UINT64_MAX };
	char out[TILE_PATH_MAX];
	uint64_t n;
	unsigned w, wi;
	size_t i;
	int level, l, len;

	for (l = TILE_LEVEL_ENTRIES; l <= TILE_LEVEL_MAX; l++) {
		for (i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
			for (wi = 1; wi <= TILE_WIDTH; wi++) {
				len = tile_path(out, sizeof(out), l, ns[i], wi);
				assert_true(len > 0 && len < TILE_PATH_MAX);
				assert_int_equal(tile_path_parse(out, (size_t)len, &level, &n, &w), 0);
				assert_int_equal(level, l);
				assert_true(n == ns[i]);
				assert_int_equal(w, wi);
			}
		}
	}
}

/* ---- widths ----------------------------------------------------------------------------- */

static void test_width(void **state)
{
	static const struct {
		int level;
		uint64_t n, size;
		unsigned want;
	} cases[] = {
		{ 0, 0, 0, 0 }, { 0, 0, 1, 1 }, { 0, 0, 255, 255 }, { 0, 0, 256, 256 },
		{ 0, 1, 256, 0 }, { 0, 1, 257, 1 }, { 0, 0, 1000, 256 }, { 0, 3, 1000, 232 },
		{ 0, 4, 1000, 0 }, { TILE_LEVEL_ENTRIES, 3, 1000, 232 },
		{ TILE_LEVEL_ENTRIES, 2, 1000, 256 }, { TILE_LEVEL_ENTRIES, 0, 0, 0 },
		/* level 1 holds tree-level-8 hashes: one per 256 leaves */
		{ 1, 0, 255, 0 }, { 1, 0, 256, 1 }, { 1, 0, 511, 1 }, { 1, 0, 512, 2 },
		{ 1, 0, 65535, 255 }, { 1, 0, 65536, 256 }, { 1, 1, 65536, 0 }, { 1, 1, 65792, 1 },
		{ 2, 0, 65535, 0 }, { 2, 0, 65536, 1 }, { 2, 0, 140000, 2 },
		/* the spec's tree of 70,000: 273 full level-0 tiles and one of 112, one full
		 * level-1 tile and one of 17, and a level-2 tile of 1; and the tree of 256 */
		{ 0, 272, 70000, 256 }, { 0, 273, 70000, 112 }, { 0, 274, 70000, 0 },
		{ 1, 0, 70000, 256 }, { 1, 1, 70000, 17 }, { 1, 2, 70000, 0 }, { 2, 0, 70000, 1 },
		{ 3, 0, 70000, 0 }, { 0, 0, 256, 256 }, { 1, 0, 256, 1 },
		{ 7, 0, UINT64_MAX, 255 }, { 6, 255, UINT64_MAX, 255 }, { 6, 254, UINT64_MAX, 256 },
		{ 0, UINT64_MAX >> 8, UINT64_MAX, 255 }, { 0, UINT64_MAX, UINT64_MAX, 0 },
		{ 8, 0, UINT64_MAX, 0 }, { 63, 0, UINT64_MAX, 0 }, { 64, 0, UINT64_MAX, 0 },
		{ -2, 0, 1000, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (tile_width(cases[i].level, cases[i].n, cases[i].size) != cases[i].want)
			fail_msg("case %zu: tile_width(%d, %llu, %llu) = %u, want %u", i,
				 cases[i].level, (unsigned long long)cases[i].n,
				 (unsigned long long)cases[i].size,
				 tile_width(cases[i].level, cases[i].n, cases[i].size), cases[i].want);
	}
}

/* ---- entry bundles ---------------------------------------------------------------------- */

static void test_bundles(void **state)
{
	static uint8_t buf[4 * (2 + TILE_ENTRY_MAX)], big[TILE_ENTRY_MAX + 1];
	const size_t sizes[] = { 0, 3, 300, TILE_ENTRY_MAX };
	uint32_t off[TILE_WIDTH];
	uint16_t elen[TILE_WIDTH];
	size_t len = 0, i, cut;

	memset(big, 'e', sizeof(big));
	for (i = 0; i < 4; i++)
		assert_int_equal(tile_bundle_append(buf, sizeof(buf), &len, big, sizes[i]), 0);
	assert_int_equal(len, 4 * 2 + 3 + 300 + TILE_ENTRY_MAX);
	/* the length is big-endian */
	assert_int_equal(buf[2], 0x00);
	assert_int_equal(buf[3], 0x03);
	assert_int_equal(buf[7], 0x01);
	assert_int_equal(buf[8], 0x2c);
	assert_int_equal(tile_bundle_parse(buf, len, 4, off, elen), 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(elen[i], sizes[i]);
	assert_int_equal(off[0], 2);
	assert_int_equal(off[1], 4);
	assert_int_equal(off[2], 9);
	assert_int_equal(off[3], 311);
	assert_memory_equal(buf + off[3], big, TILE_ENTRY_MAX);

	/* an entry too long for its length field; one that does not fit leaves buf as it was */
	assert_int_equal(tile_bundle_append(buf, sizeof(buf), &len, big, TILE_ENTRY_MAX + 1),
			 -EINVAL);
	i = len;
	assert_int_equal(tile_bundle_append(buf, len + 4, &len, "abc", 3), -ENOSPC);
	assert_int_equal(len, i);
	assert_int_equal(tile_bundle_append(buf, len + 5, &len, "abc", 3), 0);
	assert_int_equal(len, i + 5);
	assert_int_equal(tile_bundle_parse(buf, len, 5, off, elen), 0);
	assert_memory_equal(buf + off[4], "abc", 3);

	/* more entries than wanted, fewer, and every cut */
	assert_int_equal(tile_bundle_parse(buf, len, 4, off, elen), -EBADMSG);
	assert_int_equal(tile_bundle_parse(buf, len, 6, off, elen), -EBADMSG);
	for (cut = 0; cut < len; cut += cut < 400 ? 1 : 997)
		assert_int_equal(tile_bundle_parse(buf, cut, 5, off, elen), -EBADMSG);
	assert_int_equal(tile_bundle_parse(buf, len - 1, 5, off, elen), -EBADMSG);
	/* a byte after the last entry */
	buf[len] = 0;
	assert_int_equal(tile_bundle_parse(buf, len + 1, 5, off, elen), -EBADMSG);
	assert_int_equal(tile_bundle_parse(buf, 0, 0, off, elen), 0);
	assert_int_equal(tile_bundle_parse(buf, 1, 0, off, elen), -EBADMSG);
	assert_int_equal(tile_bundle_parse(buf, len, TILE_WIDTH + 1, off, elen), -EINVAL);
}

/* A full bundle of the longest entries: the offsets stay within 32 bits. */
static void test_bundle_full(void **state)
{
	size_t cap = (size_t)TILE_WIDTH * (2 + TILE_ENTRY_MAX), len = 0;
	uint8_t *buf = malloc(cap), *e = malloc(TILE_ENTRY_MAX);
	uint32_t off[TILE_WIDTH];
	uint16_t elen[TILE_WIDTH];
	unsigned i;

	assert_non_null(buf);
	assert_non_null(e);
	for (i = 0; i < TILE_WIDTH; i++) {
		memset(e, (int)i, TILE_ENTRY_MAX);
		assert_int_equal(tile_bundle_append(buf, cap, &len, e, TILE_ENTRY_MAX), 0);
	}
	assert_int_equal(len, cap);
	assert_int_equal(tile_bundle_append(buf, cap, &len, e, 0), -ENOSPC);
	assert_int_equal(tile_bundle_parse(buf, len, TILE_WIDTH, off, elen), 0);
	for (i = 0; i < TILE_WIDTH; i++) {
		assert_int_equal(off[i], (size_t)i * (2 + TILE_ENTRY_MAX) + 2);
		assert_int_equal(elen[i], TILE_ENTRY_MAX);
		assert_int_equal(buf[off[i] + TILE_ENTRY_MAX - 1], (uint8_t)i);
	}
	free(buf);
	free(e);
}

/* ---- hashes from tiles ------------------------------------------------------------------ */

/* Tiles cut from the whole tree: each lent as a copy of exactly w hashes, so that reading
 * past its width is an error the sanitizers see. */
struct memtiles {
	const struct memtree *t;
	uint64_t size;		/* the tree the widths are checked against */
	uint8_t *lent;
	unsigned gets;
};

static int memtiles_get(void *arg, int level, uint64_t n, unsigned w, const uint8_t **data)
{
	struct memtiles *m = arg;

	assert_true(level >= 0 && level < 8);
	assert_true(w >= 1 && w == tile_width(level, n, m->size));
	m->gets++;
	free(m->lent);
	m->lent = malloc((size_t)w * MERKLE_HASH_LEN);
	assert_non_null(m->lent);
	memcpy(m->lent, m->t->lv[TILE_HEIGHT * level][n * TILE_WIDTH], (size_t)w * MERKLE_HASH_LEN);
	*data = m->lent;
	return 0;
}

/* Every complete subtree of the tree of size leaves read from tiles as held whole. */
static void check_all_subtrees(uint64_t size)
{
	struct memtiles m = { tree, size, NULL, 0 };
	struct tile_source src = { memtiles_get, &m, size };
	hash_t h;
	uint64_t i;
	unsigned l;

	for (l = 0; (size >> l) > 0; l++) {
		for (i = 0; i < (size >> l); i++) {
			assert_int_equal(tile_reader(&src, l, i, h), 0);
			assert_memory_equal(h, tree->lv[l][i], MERKLE_HASH_LEN);
		}
		/* the next one is not complete in this tree */
		assert_int_equal(tile_reader(&src, l, size >> l, h), -EINVAL);
	}
	free(m.lent);
}

static void test_reader_subtrees(void **state)
{
	static const uint64_t sizes[] = { 1, 2, 3, 7, 128, 255, 256, 257, 511, 512, 513, 1000,
					  4103, 65535, 65536, 65537 };
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		check_all_subtrees(sizes[i]);
}

/* Roots and proofs through tiles are those through the whole tree. */
static void check_through_tiles(uint64_t size, uint64_t *rng)
{
	uint8_t p1[MERKLE_PROOF_MAX][MERKLE_HASH_LEN], p2[MERKLE_PROOF_MAX][MERKLE_HASH_LEN];
	struct memtiles m = { tree, size, NULL, 0 };
	struct tile_source src = { memtiles_get, &m, size };
	struct memread mr = { tree, size, 0 };
	hash_t a, b;
	uint64_t idx, old;
	size_t n1, n2;

	assert_int_equal(merkle_root(size, tile_reader, &src, a), 0);
	assert_int_equal(merkle_root(size, mem_reader, &mr, b), 0);
	assert_memory_equal(a, b, MERKLE_HASH_LEN);
	idx = test_rng(rng) % size;
	assert_int_equal(merkle_inclusion_proof(idx, size, tile_reader, &src, p1, &n1), 0);
	assert_int_equal(merkle_inclusion_proof(idx, size, mem_reader, &mr, p2, &n2), 0);
	assert_int_equal(n1, n2);
	if (n1 > 0)
		assert_memory_equal(p1, p2, n1 * MERKLE_HASH_LEN);
	assert_int_equal(merkle_inclusion_verify(idx, size, tree->lv[0][idx], p1, n1, b), 0);
	old = 1 + test_rng(rng) % size;
	assert_int_equal(merkle_consistency_proof(old, size, tile_reader, &src, p1, &n1), 0);
	assert_int_equal(merkle_consistency_proof(old, size, mem_reader, &mr, p2, &n2), 0);
	assert_int_equal(n1, n2);
	if (n1 > 0)
		assert_memory_equal(p1, p2, n1 * MERKLE_HASH_LEN);
	free(m.lent);
}

static void test_reader_roots(void **state)
{
	static const uint64_t big[] = { 65535, 65536, 65537, 65792, 70000, 131071, 131072, 131073,
					LEAVES };
	uint64_t rng = 88172645463325252ULL, size;
	size_t i;

	for (size = 1; size <= 1100; size++)
		check_through_tiles(size, &rng);
	for (i = 0; i < sizeof(big) / sizeof(big[0]); i++)
		check_through_tiles(big[i], &rng);
	for (i = 0; i < 50; i++)
		check_through_tiles(1 + test_rng(&rng) % LEAVES, &rng);
}

/* What a client does: one run with a get() that only writes down the tiles asked for (their
 * bytes do not matter: which tiles a proof reads depends on the sizes alone), then the run
 * again over just those tiles. */
#define WANT_MAX 128
struct recorder {
	struct memtiles inner;
	bool record;
	unsigned n;
	struct { int level; uint64_t idx; unsigned w; } want[WANT_MAX];
	uint8_t zeros[TILE_WIDTH * MERKLE_HASH_LEN];
};

static int recorder_get(void *arg, int level, uint64_t n, unsigned w, const uint8_t **data)
{
	struct recorder *r = arg;
	unsigned i;

	for (i = 0; i < r->n; i++) {
		if (r->want[i].level == level && r->want[i].idx == n && r->want[i].w == w)
			break;
	}
	if (r->record) {
		if (i == r->n) {
			assert_true(r->n < WANT_MAX);
			r->want[r->n].level = level;
			r->want[r->n].idx = n;
			r->want[r->n++].w = w;
		}
		*data = r->zeros;
		return 0;
	}
	if (i == r->n)
		return -ENOENT;
	return memtiles_get(&r->inner, level, n, w, data);
}

static void test_reader_fetch(void **state)
{
	uint8_t proof[MERKLE_PROOF_MAX][MERKLE_HASH_LEN];
	struct recorder *r = talloc_zero(ctx, struct recorder);
	struct tile_source src = { recorder_get, r, 70000 };
	struct memread mr = { tree, 70000, 0 };
	hash_t root;
	size_t n;

	assert_non_null(r);
	r->inner = (struct memtiles){ tree, 70000, NULL, 0 };
	/* nothing at hand: the first tile asked for is missing */
	assert_int_equal(merkle_inclusion_proof(12345, 70000, tile_reader, &src, proof, &n),
			 -ENOENT);
	r->record = true;
	assert_int_equal(merkle_inclusion_proof(12345, 70000, tile_reader, &src, proof, &n), 0);
	/* a leaf's path crosses each tile level once or twice: a handful of tiles */
	print_message("# an inclusion proof in 70000 leaves reads %u tiles\n", r->n);
	assert_true(r->n >= 3 && r->n <= 8);
	r->record = false;
	assert_int_equal(merkle_inclusion_proof(12345, 70000, tile_reader, &src, proof, &n), 0);
	assert_int_equal(merkle_root(70000, mem_reader, &mr, root), 0);
	assert_int_equal(merkle_inclusion_verify(12345, 70000, tree->lv[0][12345], proof, n, root),
			 0);
	free(r->inner.lent);
}

static int null_get(void *arg, int level, uint64_t n, unsigned w, const uint8_t **data)
{
	*data = NULL;
	return 0;
}

static void test_reader_errors(void **state)
{
	struct tile_source src = { null_get, NULL, 1000 };
	hash_t h;

	assert_int_equal(tile_reader(&src, 0, 0, h), -EINVAL);	/* lent nothing */
	assert_int_equal(tile_reader(&src, 0, 1000, h), -EINVAL);
	assert_int_equal(tile_reader(&src, 10, 0, h), -EINVAL);
	assert_int_equal(tile_reader(&src, 64, 0, h), -EINVAL);
	assert_int_equal(tile_reader(&src, 3, UINT64_MAX, h), -EINVAL);
	src.size = 0;
	assert_int_equal(tile_reader(&src, 0, 0, h), -EINVAL);
}

/* ---- publishing ------------------------------------------------------------------------- */

#define GROW_MAX 71000		/* ~70,000 leaves in steps of up to 700 */
#define STORE_LEVELS 3

/* The tiles a log has published: the hashes of each tile level in index order. */
struct store {
	hash_t *lv[STORE_LEVELS];
	uint64_t count[STORE_LEVELS];
	unsigned last_level;
	uint8_t *lent;
	int fail_at;		/* emit fails with -EIO on this call (0: never) */
	int calls;
};

static int store_emit(void *arg, unsigned tile_level, uint64_t index, const uint8_t hash[32])
{
	struct store *s = arg;

	if (++s->calls == s->fail_at)
		return -EIO;
	assert_true(tile_level < STORE_LEVELS);
	assert_true(tile_level >= s->last_level);	/* lower levels first */
	assert_true(index == s->count[tile_level]);	/* each once, in index order */
	s->last_level = tile_level;
	memcpy(s->lv[tile_level][s->count[tile_level]++], hash, MERKLE_HASH_LEN);
	return 0;
}

static int store_get(void *arg, int level, uint64_t n, unsigned w, const uint8_t **data)
{
	struct store *s = arg;

	if (level < 0 || level >= STORE_LEVELS || n * TILE_WIDTH + w > s->count[level])
		return -ENOENT;
	free(s->lent);
	s->lent = malloc((size_t)w * MERKLE_HASH_LEN);
	assert_non_null(s->lent);
	memcpy(s->lent, s->lv[level][n * TILE_WIDTH], (size_t)w * MERKLE_HASH_LEN);
	*data = s->lent;
	return 0;
}

static struct store *store_new(void)
{
	struct store *s = talloc_zero(ctx, struct store);
	unsigned l;

	assert_non_null(s);
	for (l = 0; l < STORE_LEVELS; l++) {
		s->lv[l] = talloc_size(s, (GROW_MAX >> (TILE_HEIGHT * l)) * sizeof(hash_t) + 32);
		assert_non_null(s->lv[l]);
	}
	return s;
}

static int grow(struct store *s, uint64_t old, uint64_t size)
{
	struct tile_source src = { store_get, s, old };

	s->last_level = 0;
	return tile_extend(old, size, (const uint8_t (*)[32])&tree->lv[0][old], tile_reader, &src,
			   store_emit, s);
}

/* The published tiles are the tree's, and give its roots and proofs. */
static void check_store(struct store *s, uint64_t old, uint64_t size, uint64_t *rng)
{
	uint8_t proof[MERKLE_PROOF_MAX][MERKLE_HASH_LEN];
	struct tile_source src = { store_get, s, size };
	struct memread mr = { tree, size, 0 };
	hash_t got, want, oldroot;
	uint64_t idx;
	unsigned l;
	size_t n;

	for (l = 0; l < STORE_LEVELS; l++) {
		assert_true(s->count[l] == size >> (TILE_HEIGHT * l));
		if (s->count[l] > 0)
			assert_memory_equal(s->lv[l], tree->lv[TILE_HEIGHT * l],
					    s->count[l] * MERKLE_HASH_LEN);
	}
	assert_int_equal(merkle_root(size, tile_reader, &src, got), 0);
	assert_int_equal(merkle_root(size, mem_reader, &mr, want), 0);
	assert_memory_equal(got, want, MERKLE_HASH_LEN);
	idx = test_rng(rng) % size;
	assert_int_equal(merkle_inclusion_proof(idx, size, tile_reader, &src, proof, &n), 0);
	assert_int_equal(merkle_inclusion_verify(idx, size, tree->lv[0][idx], proof, n, want), 0);
	if (old > 0) {
		mr.size = old;
		assert_int_equal(merkle_root(old, mem_reader, &mr, oldroot), 0);
		assert_int_equal(merkle_consistency_proof(old, size, tile_reader, &src, proof, &n), 0);
		assert_int_equal(merkle_consistency_verify(old, size, oldroot, want, proof, n), 0);
	}
}

static void test_extend_random(void **state)
{
	struct store *s = store_new();
	uint64_t rng = 0x9E3779B97F4A7C15ULL, old = 0, size;
	unsigned steps = 0;

	while (old < 70000) {
		size = old + 1 + test_rng(&rng) % 700;
		assert_int_equal(grow(s, old, size), 0);
		check_store(s, old, size, &rng);
		old = size;
		steps++;
	}
	/* it crossed 65536: tile level 2 has its first hash */
	assert_int_equal(s->count[2], 1);
	print_message("# %u steps to %llu leaves\n", steps, (unsigned long long)old);
	free(s->lent);
	talloc_free(s);
}

/* Growth by one leaf at a time across the first level-1 and level-2 hashes, and in one go. */
static void test_extend_edges(void **state)
{
	struct store *s = store_new(), *one = store_new();
	uint64_t rng = 1, size;
	unsigned l;

	assert_int_equal(grow(s, 0, 65530), 0);
	for (size = 65530; size < 65540; size++) {
		assert_int_equal(grow(s, size, size + 1), 0);
		check_store(s, size, size + 1, &rng);
	}
	assert_int_equal(grow(s, 65540, 65540), 0);	/* nothing new: nothing emitted */
	assert_int_equal(grow(one, 0, 65540), 0);
	for (l = 0; l < STORE_LEVELS; l++) {
		assert_true(one->count[l] == s->count[l]);
		assert_memory_equal(one->lv[l], s->lv[l], s->count[l] * MERKLE_HASH_LEN);
	}
	free(s->lent);
	free(one->lent);
	talloc_free(s);
	talloc_free(one);
}

static void test_extend_errors(void **state)
{
	struct store *s = store_new(), *t = store_new(), *empty = store_new();
	struct tile_source src = { store_get, empty, 300 };

	assert_int_equal(grow(s, 0, 300), 0);
	assert_int_equal(grow(t, 0, 300), 0);
	assert_int_equal(tile_extend(300, 299, NULL, tile_reader, &src, store_emit, s), -EINVAL);
	assert_int_equal(tile_extend(300, 301, NULL, tile_reader, &src, store_emit, s), -EINVAL);
	/* emit's error stops the walk where it came: 300 leaves and a level-1 hash so far */
	assert_int_equal(s->calls, 301);
	s->fail_at = s->calls + 3;
	assert_int_equal(grow(s, 300, 400), -EIO);
	assert_int_equal(s->count[0], 302);
	/* the old tree's hashes not at hand: asked for when a level-1 hash completes */
	t->last_level = 0;
	assert_int_equal(tile_extend(300, 600, (const uint8_t (*)[32])&tree->lv[0][300],
				     tile_reader, &src, store_emit, t), -ENOENT);
	assert_int_equal(t->count[0], 600);
	assert_int_equal(t->count[1], 1);
	free(s->lent);
	free(t->lent);
	free(empty->lent);
	talloc_free(s);
	talloc_free(t);
	talloc_free(empty);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_bad_paths),
		cmocka_unit_test(test_path_round_trip),
		cmocka_unit_test(test_width),
		cmocka_unit_test(test_bundles),
		cmocka_unit_test(test_bundle_full),
		cmocka_unit_test(test_reader_subtrees),
		cmocka_unit_test(test_reader_roots),
		cmocka_unit_test(test_reader_fetch),
		cmocka_unit_test(test_reader_errors),
		cmocka_unit_test(test_extend_random),
		cmocka_unit_test(test_extend_edges),
		cmocka_unit_test(test_extend_errors),
	};

	return cmocka_run_group_tests_name("tile", tests, setup, teardown);
}
