/* What test_merkle and test_tile share: a tree held whole in memory (every complete subtree's
 * hash, level by level, built here pairwise rather than by merkle.c's range walk), a reader
 * over it that refuses what is not complete in the tree size it stands for, and RFC 9162's
 * MTH written recursively as the reference root. Leaves are the bytes "leaf %d", as in
 * merkle_kat.py. */
#ifndef CEIRGW_TESTS_MERKLE_TESTLIB_H
#define CEIRGW_TESTS_MERKLE_TESTLIB_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <talloc.h>

#include "feed/merkle.h"

typedef uint8_t hash_t[MERKLE_HASH_LEN];

struct memtree {
	uint64_t n;			/* leaves */
	hash_t *lv[64];			/* lv[l][i]: complete subtree (l, i); n >> l of them */
};

static inline void test_leaf(uint64_t i, hash_t out)
{
	char b[32];
	int len = snprintf(b, sizeof(b), "leaf %llu", (unsigned long long)i);

	merkle_leaf_hash(b, (size_t)len, out);
}

static inline struct memtree *memtree_new(void *ctx, uint64_t n)
{
	struct memtree *t = talloc_zero(ctx, struct memtree);
	uint64_t i;
	unsigned l;

	if (t == NULL)
		return NULL;
	t->n = n;
	for (l = 0; l < 64 && (n >> l) > 0; l++) {
		t->lv[l] = talloc_size(t, (size_t)(n >> l) * sizeof(hash_t));
		if (t->lv[l] == NULL)
			return NULL;
		for (i = 0; i < (n >> l); i++) {
			if (l == 0)
				test_leaf(i, t->lv[0][i]);
			else
				merkle_node_hash(t->lv[l - 1][2 * i], t->lv[l - 1][2 * i + 1],
						 t->lv[l][i]);
		}
	}
	return t;
}

/* The tree of the first `size` leaves of t; counts the reads. */
struct memread {
	const struct memtree *t;
	uint64_t size;
	unsigned reads;
};

static inline int mem_reader(void *arg, unsigned level, uint64_t index, uint8_t out[32])
{
	struct memread *m = arg;

	m->reads++;
	if (level >= 64 || index >= (m->size >> level) || m->size > m->t->n)
		return -ERANGE;		/* not a complete subtree of this tree: a bug */
	memcpy(out, m->t->lv[level][index], MERKLE_HASH_LEN);
	return 0;
}

/* MTH(D[lo:hi]) as RFC 9162 2.1.1 defines it, over the leaf hashes. */
static inline void ref_mth(const hash_t *leaves, uint64_t lo, uint64_t hi, hash_t out)
{
	hash_t l, r;
	uint64_t k = 1;

	if (hi - lo == 1) {
		memcpy(out, leaves[lo], MERKLE_HASH_LEN);
		return;
	}
	while (k * 2 < hi - lo)
		k *= 2;
	ref_mth(leaves, lo, lo + k, l);
	ref_mth(leaves, lo + k, hi, r);
	merkle_node_hash(l, r, out);
}

#endif
