/* libFuzzer harness for what a feed client reads from another country's log: its entries,
 * the right edge a follower keeps of it (feed/frontier.h), tile paths
 * (C2SP tlog-tiles), entry bundles, and RFC 9162 proofs with sizes, indices and hashes of the
 * fuzzer's choosing. Besides crashes it checks what the headers promise: an accepted path is
 * the one tile_path writes, a bundle splits as an independent reading of it does, proofs made
 * verify and altered ones do not. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzlib.h"

#include "feed/entry.h"
#include "feed/frontier.h"
#include "feed/merkle.h"
#include "feed/tile.h"

typedef uint8_t hash_t[MERKLE_HASH_LEN];

/* The input read front to back; zeros once it runs out. */
struct in {
	const uint8_t *p;
	size_t left;
};

static uint64_t take(struct in *in, unsigned bytes)
{
	uint64_t v = 0;

	while (bytes-- > 0) {
		v = v << 8 | (in->left > 0 ? *in->p : 0);
		if (in->left > 0) {
			in->p++;
			in->left--;
		}
	}
	return v;
}

static void take_hash(struct in *in, hash_t h)
{
	unsigned i;

	for (i = 0; i < MERKLE_HASH_LEN; i++)
		h[i] = (uint8_t)take(in, 1);
}

/* ---- paths ----------------------------------------------------------------------------- */

static void fuzz_path(const uint8_t *data, size_t size)
{
	char out[TILE_PATH_MAX];
	uint64_t n;
	unsigned w;
	int level, len;

	if (tile_path_parse((const char *)data, size, &level, &n, &w) < 0)
		return;
	CHECK(level >= TILE_LEVEL_ENTRIES && level <= TILE_LEVEL_MAX);
	CHECK(w >= 1 && w <= TILE_WIDTH);
	/* only the canonical spelling is accepted: it is what tile_path writes */
	len = tile_path(out, sizeof(out), level, n, w);
	CHECK(len > 0 && (size_t)len == size && memcmp(out, data, size) == 0);
}

/* ---- bundles --------------------------------------------------------------------------- */

/* Entries counted independently: *exact when the last one ends at the end. */
static unsigned count_entries(const uint8_t *b, size_t len, bool *exact)
{
	size_t p = 0;
	unsigned k = 0;

	while (len - p >= 2 && (size_t)(b[p] << 8 | b[p + 1]) <= len - p - 2) {
		p += 2 + (size_t)(b[p] << 8 | b[p + 1]);
		k++;
	}
	*exact = p == len;
	return k;
}

static void check_bundle(const uint8_t *b, size_t len, unsigned want, unsigned k, bool exact)
{
	static uint8_t again[TILE_WIDTH * (2 + TILE_ENTRY_MAX)];
	uint32_t off[TILE_WIDTH + 1];
	uint16_t elen[TILE_WIDTH + 1];
	size_t alen = 0;
	unsigned i;
	int rc = tile_bundle_parse(b, len, want, off, elen);

	if (want > TILE_WIDTH) {
		CHECK(rc == -EINVAL);
		return;
	}
	CHECK(rc == ((exact && k == want) ? 0 : -EBADMSG));
	if (rc < 0)
		return;
	/* the entries appended anew are the bundle */
	for (i = 0; i < want; i++) {
		CHECK(off[i] >= 2 && (size_t)off[i] + elen[i] <= len);
		CHECK(tile_bundle_append(again, sizeof(again), &alen, b + off[i], elen[i]) == 0);
	}
	CHECK(alen == len && memcmp(again, b, len) == 0);
}

static void fuzz_bundle(const uint8_t *data, size_t size)
{
	bool exact;
	unsigned k;

	if (size == 0)
		return;
	k = count_entries(data + 1, size - 1, &exact);
	check_bundle(data + 1, size - 1, data[0], k, exact);
	check_bundle(data + 1, size - 1, k, k, exact);
	check_bundle(data + 1, size - 1, k + 1, k, exact);
}

/* ---- proofs in a small real tree ------------------------------------------------------- */

#define SMALL_MAX 300
static hash_t lv[9][SMALL_MAX];		/* lv[l][i]: complete subtree (l, i) of "leaf %d" */

struct small {
	uint64_t size;
};

static int small_reader(void *arg, unsigned level, uint64_t index, uint8_t out[32])
{
	const struct small *s = arg;

	/* a complete subtree of this tree, or the proof code asked for what it must not */
	CHECK(level < 9 && index < (s->size >> level));
	memcpy(out, lv[level][index], MERKLE_HASH_LEN);
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char b[32];
	unsigned l, i;
	int len;

	for (i = 0; i < SMALL_MAX; i++) {
		len = snprintf(b, sizeof(b), "leaf %u", i);
		merkle_leaf_hash(b, (size_t)len, lv[0][i]);
	}
	for (l = 1; l < 9; l++) {
		for (i = 0; i < (SMALL_MAX >> l); i++)
			merkle_node_hash(lv[l - 1][2 * i], lv[l - 1][2 * i + 1], lv[l][i]);
	}
	return 0;
}

/* A proof made for the tree verifies; with a bit flipped, another length or another index
 * or size it does not. */
static void fuzz_small(struct in *in)
{
	uint8_t proof[MERKLE_PROOF_MAX + 2][MERKLE_HASH_LEN];
	hash_t root, oldroot;
	struct small s = { 1 + take(in, 2) % SMALL_MAX };
	struct small o;
	uint64_t index = take(in, 2) % s.size, other, old;
	size_t n, n2, bit;

	CHECK(merkle_root(s.size, small_reader, &s, root) == 0);
	CHECK(merkle_inclusion_proof(index, s.size, small_reader, &s, proof, &n) == 0);
	CHECK(merkle_inclusion_verify(index, s.size, lv[0][index], proof, n, root) == 0);
	other = take(in, 2) % s.size;
	if (other != index)
		CHECK(merkle_inclusion_verify(other, s.size, lv[0][index], proof, n, root) == -EBADMSG);
	n2 = take(in, 1) % (n + 3);
	take_hash(in, proof[n]);
	take_hash(in, proof[n + 1]);
	if (n2 != n)
		CHECK(merkle_inclusion_verify(index, s.size, lv[0][index], proof, n2, root) ==
		      -EBADMSG);
	if (n > 0) {
		bit = take(in, 2) % (n * MERKLE_HASH_LEN * 8);
		proof[bit / 256][bit / 8 % 32] ^= (uint8_t)(1u << (bit % 8));
		CHECK(merkle_inclusion_verify(index, s.size, lv[0][index], proof, n, root) ==
		      -EBADMSG);
	}

	old = 1 + take(in, 2) % s.size;
	o.size = old;
	CHECK(merkle_root(old, small_reader, &o, oldroot) == 0);
	CHECK(merkle_consistency_proof(old, s.size, small_reader, &s, proof, &n) == 0);
	CHECK(merkle_consistency_verify(old, s.size, oldroot, root, proof, n) == 0);
	n2 = take(in, 1) % (n + 3);
	take_hash(in, proof[n]);
	take_hash(in, proof[n + 1]);
	if (n2 != n)
		CHECK(merkle_consistency_verify(old, s.size, oldroot, root, proof, n2) == -EBADMSG);
	if (n > 0) {
		bit = take(in, 2) % (n * MERKLE_HASH_LEN * 8);
		proof[bit / 256][bit / 8 % 32] ^= (uint8_t)(1u << (bit % 8));
		CHECK(merkle_consistency_verify(old, s.size, oldroot, root, proof, n) == -EBADMSG);
	}
}

/* ---- proofs in trees up to 2^64 - 1 leaves --------------------------------------------- */

/* A tree whose leaves are all one hash has the same hash for every complete subtree of a
 * level: a consistent tree of any size with 64 hashes, so proofs of the largest shapes can be
 * made and must verify. */
static hash_t uniform[64];

static int uniform_reader(void *arg, unsigned level, uint64_t index, uint8_t out[32])
{
	const uint64_t *size = arg;

	CHECK(level < 64 && index < (*size >> level));
	memcpy(out, uniform[level], MERKLE_HASH_LEN);
	return 0;
}

static void fuzz_huge(struct in *in)
{
	uint8_t proof[MERKLE_PROOF_MAX][MERKLE_HASH_LEN];
	uint64_t size, index, old;
	hash_t root, oldroot;
	uint8_t seed[8];
	unsigned l;
	size_t n;
	int rc;

	for (l = 0; l < sizeof(seed); l++)
		seed[l] = (uint8_t)take(in, 1);
	merkle_leaf_hash(seed, sizeof(seed), uniform[0]);
	for (l = 1; l < 64; l++)
		merkle_node_hash(uniform[l - 1], uniform[l - 1], uniform[l]);
	size = take(in, 8);
	if (size == 0)
		size = 1;
	index = take(in, 8) % size;
	old = 1 + take(in, 8) % size;

	CHECK(merkle_root(size, uniform_reader, &size, root) == 0);
	CHECK(merkle_inclusion_proof(index, size, uniform_reader, &size, proof, &n) == 0);
	CHECK(n <= MERKLE_PROOF_MAX);
	CHECK(merkle_inclusion_verify(index, size, uniform[0], proof, n, root) == 0);
	if (n > 0)
		CHECK(merkle_inclusion_verify(index, size, uniform[0], proof, n - 1, root) == -EBADMSG);

	CHECK(merkle_root(old, uniform_reader, &old, oldroot) == 0);
	rc = merkle_consistency_proof(old, size, uniform_reader, &size, proof, &n);
	/* only a tree past 2^63 leaves can need more than MERKLE_PROOF_MAX hashes */
	CHECK(rc == 0 || (rc == -E2BIG && size > (UINT64_C(1) << 63)));
	if (rc == 0) {
		CHECK(n <= MERKLE_PROOF_MAX);
		CHECK(merkle_consistency_verify(old, size, oldroot, root, proof, n) == 0);
	}
}

/* ---- proofs of the fuzzer's making ----------------------------------------------------- */

static void fuzz_raw(struct in *in)
{
	uint8_t proof[80][MERKLE_HASH_LEN];
	uint64_t index = take(in, 8), size = take(in, 8), old = take(in, 8);
	hash_t leaf, a, b;
	size_t n = take(in, 1) % 81, i;
	int rc;

	take_hash(in, leaf);
	take_hash(in, a);
	take_hash(in, b);
	for (i = 0; i < n; i++)
		take_hash(in, proof[i]);
	rc = merkle_inclusion_verify(index, size, leaf, proof, n, a);
	CHECK(rc == 0 || rc == -EBADMSG || rc == -EINVAL);
	CHECK((rc == -EINVAL) == (index >= size));
	rc = merkle_consistency_verify(old, size, a, b, proof, n);
	CHECK(rc == 0 || rc == -EBADMSG || rc == -EINVAL);
	CHECK((rc == -EINVAL) == (old == 0 || old > size));
	/* the same tree twice: an empty proof and the same root */
	if (rc == 0 && old == size)
		CHECK(n == 0 && memcmp(a, b, MERKLE_HASH_LEN) == 0);
}

/* ---- entries and a right edge -------------------------------------------------------- */

/* An entry that reads formats to the very bytes read; a right edge kept as bytes reads back
 * only when its length matches its size. */
static void fuzz_entry(const uint8_t *data, size_t size)
{
	struct feed_entry e;
	struct merkle_frontier f;
	uint8_t back[FRONTIER_BYTES_MAX];
	char out[FEED_ENTRY_MAX];
	int len;

	if (feed_entry_parse((const char *)data, size, &e) == 0) {
		len = feed_entry_format(&e, out, sizeof(out));
		CHECK(len >= 0 && (size_t)len == size && memcmp(out, data, size) == 0);
	}
	if (frontier_decode(data, size, &f) == 0) {
		CHECK(frontier_encode(&f, back) == size);
		CHECK(memcmp(back, data, size) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };

	fuzz_entry(data, size);
	fuzz_path(data, size);
	fuzz_bundle(data, size);
	fuzz_small(&in);
	in = (struct in){ data, size };
	fuzz_huge(&in);
	in = (struct in){ data, size };
	fuzz_raw(&in);
	return 0;
}
