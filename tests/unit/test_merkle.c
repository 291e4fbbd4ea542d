/* RFC 9162 Merkle trees (src/feed/merkle.c): hashes, roots against the RFC's recursive MTH,
 * every inclusion and consistency proof of the small trees made, verified and refused when
 * tampered with, and known answers from merkle_kat.py (an independent Python rendering of the
 * RFC's definitions). */
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
#include <openssl/sha.h>
#include <talloc.h>

#include "feed/merkle.h"
#include "merkle_testlib.h"

#define SMALL 70		/* every proof of every tree up to this size */

static void *ctx;
static struct memtree *tree;	/* 65537 leaves: the small trees are its prefixes */

static int setup(void **state)
{
	ctx = talloc_new(NULL);
	tree = memtree_new(ctx, 65537);
	return tree == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	talloc_free(ctx);
	return 0;
}

static void root_of(uint64_t size, hash_t out)
{
	struct memread m = { tree, size, 0 };

	assert_int_equal(merkle_root(size, mem_reader, &m, out), 0);
}

static void test_hashes(void **state)
{
	static const uint8_t zero = 0x00;
	uint8_t buf[1 + 2 * MERKLE_HASH_LEN], big[1 + 4096];
	hash_t a, b, want, got;

	/* SHA-256 of the single byte 0x00: the hash of an empty entry */
	merkle_leaf_hash("", 0, got);
	SHA256(&zero, 1, want);
	assert_memory_equal(got, want, MERKLE_HASH_LEN);
	assert_int_equal(got[0], 0x6e);
	assert_int_equal(got[31], 0x1d);

	merkle_leaf_hash("leaf 0", 6, a);
	buf[0] = 0x00;
	memcpy(buf + 1, "leaf 0", 6);
	SHA256(buf, 7, want);
	assert_memory_equal(a, want, MERKLE_HASH_LEN);

	/* past the stack copy: the EVP path gives the same as one SHA256() */
	memset(big, 'x', sizeof(big));
	big[0] = 0x00;
	merkle_leaf_hash(big + 1, 4096, got);
	SHA256(big, sizeof(big), want);
	assert_memory_equal(got, want, MERKLE_HASH_LEN);
	merkle_leaf_hash(big + 1, 513, got);
	SHA256(big, 514, want);
	assert_memory_equal(got, want, MERKLE_HASH_LEN);

	merkle_leaf_hash("leaf 1", 6, b);
	merkle_node_hash(a, b, got);
	buf[0] = 0x01;
	memcpy(buf + 1, a, MERKLE_HASH_LEN);
	memcpy(buf + 1 + MERKLE_HASH_LEN, b, MERKLE_HASH_LEN);
	SHA256(buf, sizeof(buf), want);
	assert_memory_equal(got, want, MERKLE_HASH_LEN);
	/* the output may be one of the inputs */
	merkle_node_hash(a, b, a);
	assert_memory_equal(a, want, MERKLE_HASH_LEN);
}

static void test_root_empty(void **state)
{
	hash_t got, want;

	root_of(0, got);
	SHA256((const unsigned char *)"", 0, want);
	assert_memory_equal(got, want, MERKLE_HASH_LEN);
	assert_int_equal(got[0], 0xe3);
}

static void check_root(uint64_t size)
{
	struct memread m = { tree, size, 0 };
	hash_t got, want;

	assert_int_equal(merkle_root(size, mem_reader, &m, got), 0);
	ref_mth(tree->lv[0], 0, size, want);
	assert_memory_equal(got, want, MERKLE_HASH_LEN);
	/* one read per maximal complete subtree: one per bit of size */
	assert_int_equal(m.reads, __builtin_popcountll(size));
}

static void test_roots_small(void **state)
{
	uint64_t size;

	for (size = 1; size <= 300; size++)
		check_root(size);
}

static void test_roots_large(void **state)
{
	static const uint64_t sizes[] = { 1000, 1023, 1024, 1025, 4097, 65535, 65536, 65537 };
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		check_root(sizes[i]);
}

static void flip(uint8_t *h, size_t byte)
{
	h[byte % MERKLE_HASH_LEN] ^= 0x01;
}

static void test_inclusion_all(void **state)
{
	uint8_t proof[MERKLE_PROOF_MAX + 1][MERKLE_HASH_LEN];
	hash_t root, other;
	uint64_t size, i, j;
	size_t n, k;
	unsigned checked = 0;

	for (size = 1; size <= SMALL; size++) {
		root_of(size, root);
		for (i = 0; i < size; i++) {
			struct memread m = { tree, size, 0 };
			const uint8_t *leaf = tree->lv[0][i];

			assert_int_equal(merkle_inclusion_proof(i, size, mem_reader, &m, proof, &n),
					 0);
			assert_int_equal(merkle_inclusion_verify(i, size, leaf, proof, n, root), 0);
			checked++;
			/* any hash with one bit flipped */
			for (k = 0; k < n; k++) {
				flip(proof[k], k + i);
				assert_int_equal(merkle_inclusion_verify(i, size, leaf, proof, n, root),
						 -EBADMSG);
				flip(proof[k], k + i);
			}
			/* another leaf, another root */
			memcpy(other, leaf, MERKLE_HASH_LEN);
			flip(other, i);
			assert_int_equal(merkle_inclusion_verify(i, size, other, proof, n, root),
					 -EBADMSG);
			memcpy(other, root, MERKLE_HASH_LEN);
			flip(other, 31);
			assert_int_equal(merkle_inclusion_verify(i, size, leaf, proof, n, other),
					 -EBADMSG);
			/* at any other index */
			for (j = 0; j < size; j++) {
				if (j != i)
					assert_int_equal(merkle_inclusion_verify(j, size, leaf, proof, n,
										 root), -EBADMSG);
			}
			/* in a tree of another size, with that tree's root */
			for (j = size > 8 ? size - 8 : i + 1; j <= size + 8; j++) {
				if (j == size || j <= i)
					continue;
				root_of(j, other);
				assert_int_equal(merkle_inclusion_verify(i, j, leaf, proof, n, other),
						 -EBADMSG);
			}
			/* a size claimed twice as large: the path would need another hash (for the
			 * leftmost leaves only the final check of sn sees that) */
			assert_int_equal(merkle_inclusion_verify(i, 2 * size, leaf, proof, n, root),
					 -EBADMSG);
			/* cut short, or one hash too many */
			if (n > 0)
				assert_int_equal(merkle_inclusion_verify(i, size, leaf, proof, n - 1,
									 root), -EBADMSG);
			memcpy(proof[n], root, MERKLE_HASH_LEN);
			assert_int_equal(merkle_inclusion_verify(i, size, leaf, proof, n + 1, root),
					 -EBADMSG);
			/* an index past the tree is a caller's mistake, not a bad proof */
			assert_int_equal(merkle_inclusion_verify(size, size, leaf, proof, n, root),
					 -EINVAL);
		}
	}
	assert_int_equal(checked, SMALL * (SMALL + 1) / 2);
}

static void test_inclusion_large(void **state)
{
	static const uint64_t cases[][2] = {
		{ 0, 65537 }, { 65536, 65537 }, { 65535, 65537 }, { 32768, 65537 },
		{ 12345, 54321 }, { 4096, 4097 }, { 999, 1000 },
	};
	uint8_t proof[MERKLE_PROOF_MAX][MERKLE_HASH_LEN];
	hash_t root;
	size_t i, n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct memread m = { tree, cases[i][1], 0 };

		root_of(cases[i][1], root);
		assert_int_equal(merkle_inclusion_proof(cases[i][0], cases[i][1], mem_reader, &m,
							proof, &n), 0);
		assert_int_equal(merkle_inclusion_verify(cases[i][0], cases[i][1],
							 tree->lv[0][cases[i][0]], proof, n, root), 0);
	}
}

static void test_consistency_all(void **state)
{
	uint8_t proof[MERKLE_PROOF_MAX + 1][MERKLE_HASH_LEN];
	hash_t roots[SMALL + 2], bad;
	uint64_t size, old, j;
	size_t n, k;
	unsigned checked = 0;

	for (size = 1; size <= SMALL + 1; size++)
		root_of(size, roots[size]);
	for (size = 1; size <= SMALL; size++) {
		for (old = 1; old <= size; old++) {
			struct memread m = { tree, size, 0 };

			assert_int_equal(merkle_consistency_proof(old, size, mem_reader, &m, proof,
								  &n), 0);
			assert_true(n <= MERKLE_PROOF_MAX);
			assert_true((n == 0) == (old == size));
			assert_int_equal(merkle_consistency_verify(old, size, roots[old], roots[size],
								   proof, n), 0);
			checked++;
			for (k = 0; k < n; k++) {
				flip(proof[k], k + old);
				assert_int_equal(merkle_consistency_verify(old, size, roots[old],
									   roots[size], proof, n),
						 -EBADMSG);
				flip(proof[k], k + old);
			}
			memcpy(bad, roots[old], MERKLE_HASH_LEN);
			flip(bad, old);
			assert_int_equal(merkle_consistency_verify(old, size, bad, roots[size], proof,
								   n), -EBADMSG);
			memcpy(bad, roots[size], MERKLE_HASH_LEN);
			flip(bad, size);
			assert_int_equal(merkle_consistency_verify(old, size, roots[old], bad, proof,
								   n), -EBADMSG);
			/* the same proof between other sizes, with their true roots */
			for (j = 1; j <= size + 1; j++) {
				if (j != old && j <= size)
					assert_int_equal(merkle_consistency_verify(j, size, roots[j],
										   roots[size], proof, n),
							 -EBADMSG);
				if (j != size && j >= old)
					assert_int_equal(merkle_consistency_verify(old, j, roots[old],
										   roots[j], proof, n),
							 -EBADMSG);
			}
			/* the new tree claimed twice as large as the root it comes with */
			if (n > 0)
				assert_int_equal(merkle_consistency_verify(old, 2 * size, roots[old],
									   roots[size], proof, n),
						 -EBADMSG);
			if (n > 0)
				assert_int_equal(merkle_consistency_verify(old, size, roots[old],
									   roots[size], proof, n - 1),
						 -EBADMSG);
			memcpy(proof[n], roots[size], MERKLE_HASH_LEN);
			assert_int_equal(merkle_consistency_verify(old, size, roots[old], roots[size],
								   proof, n + 1), -EBADMSG);
		}
		assert_int_equal(merkle_consistency_verify(0, size, roots[1], roots[size], proof, 0),
				 -EINVAL);
		assert_int_equal(merkle_consistency_verify(size + 1, size, roots[size + 1],
							   roots[size], proof, 1), -EINVAL);
	}
	assert_int_equal(checked, SMALL * (SMALL + 1) / 2);
}

static void test_consistency_large(void **state)
{
	static const uint64_t cases[][2] = {
		{ 1, 65537 }, { 65536, 65537 }, { 256, 65536 }, { 1000, 65537 }, { 12345, 54321 },
		{ 32769, 65535 },
	};
	uint8_t proof[MERKLE_PROOF_MAX][MERKLE_HASH_LEN];
	hash_t a, b;
	size_t i, n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct memread m = { tree, cases[i][1], 0 };

		root_of(cases[i][0], a);
		root_of(cases[i][1], b);
		assert_int_equal(merkle_consistency_proof(cases[i][0], cases[i][1], mem_reader, &m,
							  proof, &n), 0);
		assert_int_equal(merkle_consistency_verify(cases[i][0], cases[i][1], a, b, proof, n),
				 0);
	}
}

static int enoent_reader(void *arg, unsigned level, uint64_t index, uint8_t out[32])
{
	return -ENOENT;
}

/* Any hash: for trees too large to hold, where only the proofs' shape is tested. */
static int fake_reader(void *arg, unsigned level, uint64_t index, uint8_t out[32])
{
	unsigned *reads = arg;

	(*reads)++;
	memset(out, (int)level, MERKLE_HASH_LEN);
	memcpy(out, &index, sizeof(index));
	return 0;
}

static void test_errors(void **state)
{
	uint8_t proof[MERKLE_PROOF_MAX][MERKLE_HASH_LEN];
	hash_t h;
	size_t n = 99;
	unsigned reads = 0;

	/* the reader's errors come back unchanged */
	assert_int_equal(merkle_root(5, enoent_reader, NULL, h), -ENOENT);
	assert_int_equal(merkle_inclusion_proof(1, 5, enoent_reader, NULL, proof, &n), -ENOENT);
	assert_int_equal(merkle_consistency_proof(3, 5, enoent_reader, NULL, proof, &n), -ENOENT);
	/* what no tree has */
	assert_int_equal(merkle_inclusion_proof(5, 5, fake_reader, &reads, proof, &n), -EINVAL);
	assert_int_equal(n, 0);
	assert_int_equal(merkle_inclusion_proof(0, 0, fake_reader, &reads, proof, &n), -EINVAL);
	assert_int_equal(merkle_consistency_proof(0, 5, fake_reader, &reads, proof, &n), -EINVAL);
	assert_int_equal(merkle_consistency_proof(6, 5, fake_reader, &reads, proof, &n), -EINVAL);
	assert_int_equal(merkle_inclusion_verify(0, 0, h, proof, 0, h), -EINVAL);
	/* a tree of one leaf: the leaf is the root and the proof is empty */
	assert_int_equal(merkle_inclusion_verify(0, 1, h, proof, 0, h), 0);
	assert_int_equal(merkle_inclusion_verify(0, 1, h, proof, 1, h), -EBADMSG);
	/* the same tree twice: an empty proof and equal roots, nothing else */
	assert_int_equal(merkle_consistency_verify(7, 7, h, h, proof, 0), 0);
	assert_int_equal(merkle_consistency_verify(7, 7, h, h, proof, 1), -EBADMSG);
	memset(proof[0], 0, MERKLE_HASH_LEN);
	assert_int_equal(merkle_consistency_verify(7, 7, h, proof[0], proof, 0), -EBADMSG);
	/* and a growth needs a proof */
	assert_int_equal(merkle_consistency_verify(7, 8, h, h, proof, 0), -EBADMSG);
}

static void test_huge(void **state)
{
	uint8_t proof[MERKLE_PROOF_MAX][MERKLE_HASH_LEN];
	unsigned reads = 0;
	hash_t h;
	size_t n;

	/* the deepest trees 64 bits can count: 64 hashes at most on any path */
	assert_int_equal(merkle_root(UINT64_MAX, fake_reader, &reads, h), 0);
	assert_int_equal(reads, 64);
	assert_int_equal(merkle_inclusion_proof(0, UINT64_MAX, fake_reader, &reads, proof, &n), 0);
	assert_int_equal(n, 64);
	assert_int_equal(merkle_inclusion_proof(UINT64_MAX - 1, UINT64_MAX, fake_reader, &reads,
						proof, &n), 0);
	assert_int_equal(n, 63);
	assert_int_equal(merkle_inclusion_proof(UINT64_C(1) << 63, (UINT64_C(1) << 63) + 1,
						fake_reader, &reads, proof, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(merkle_consistency_proof(1, UINT64_MAX, fake_reader, &reads, proof, &n),
			 0);
	assert_int_equal(n, 64);
	assert_int_equal(merkle_consistency_proof(UINT64_C(1) << 63, UINT64_MAX, fake_reader, &reads,
						  proof, &n), 0);
	assert_int_equal(n, 1);
	/* past 2^63 leaves a consistency proof can need 65 hashes: refused, not overrun */
	assert_int_equal(merkle_consistency_proof((UINT64_C(1) << 63) + 1, UINT64_MAX, fake_reader,
						  &reads, proof, &n), -E2BIG);
	assert_int_equal(n, 0);
}

/* ---- known answers from merkle_kat.py ---------------------------------------------------- */

static int unhex(const char *s, size_t len, uint8_t *out, size_t max)
{
	size_t i;
	unsigned v;

	if (len % 2 != 0 || len / 2 > max)
		return -1;
	for (i = 0; i < len / 2; i++) {
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return (int)(len / 2);
}

/* "h1,h2,..." or "-" into want; returns the count */
static size_t unhex_list(const char *s, uint8_t want[MERKLE_PROOF_MAX][MERKLE_HASH_LEN])
{
	size_t n = 0, l;

	if (strcmp(s, "-") == 0)
		return 0;
	for (;;) {
		l = strcspn(s, ",");
		assert_true(n < MERKLE_PROOF_MAX);
		assert_int_equal(unhex(s, l, want[n], MERKLE_HASH_LEN), MERKLE_HASH_LEN);
		n++;
		if (s[l] == '\0')
			return n;
		s += l + 1;
	}
}

static void test_kat(void **state)
{
	static char line[8192], hex[8000];
	uint8_t proof[MERKLE_PROOF_MAX][MERKLE_HASH_LEN], want[MERKLE_PROOF_MAX][MERKLE_HASH_LEN];
	unsigned long long a, b;
	unsigned leaves = 0, roots = 0, incl = 0, cons = 0;
	char cmd[4096], *x;
	hash_t h, ra, rb;
	size_t n, wn;
	FILE *f;
	int status;

	snprintf(cmd, sizeof(cmd), "python3 '%s/tests/unit/merkle_kat.py'", CEIRGW_SRCDIR);
	f = popen(cmd, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "leaf %llu %7999s", &a, hex) == 2) {
			x = malloc(a + 1);
			assert_non_null(x);
			memset(x, 'x', a + 1);
			merkle_leaf_hash(x, a, h);
			free(x);
			assert_int_equal(unhex(hex, strlen(hex), want[0], MERKLE_HASH_LEN), 32);
			assert_memory_equal(h, want[0], MERKLE_HASH_LEN);
			leaves++;
		} else if (sscanf(line, "root %llu %7999s", &a, hex) == 2) {
			root_of(a, h);
			assert_int_equal(unhex(hex, strlen(hex), want[0], MERKLE_HASH_LEN), 32);
			assert_memory_equal(h, want[0], MERKLE_HASH_LEN);
			roots++;
		} else if (sscanf(line, "incl %llu %llu %7999s", &a, &b, hex) == 3) {
			struct memread m = { tree, b, 0 };

			wn = unhex_list(hex, want);
			assert_int_equal(merkle_inclusion_proof(a, b, mem_reader, &m, proof, &n), 0);
			assert_int_equal(n, wn);
			if (n > 0)
				assert_memory_equal(proof, want, n * MERKLE_HASH_LEN);
			root_of(b, ra);
			assert_int_equal(merkle_inclusion_verify(a, b, tree->lv[0][a], want, wn, ra),
					 0);
			incl++;
		} else if (sscanf(line, "cons %llu %llu %7999s", &a, &b, hex) == 3) {
			struct memread m = { tree, b, 0 };

			wn = unhex_list(hex, want);
			assert_int_equal(merkle_consistency_proof(a, b, mem_reader, &m, proof, &n), 0);
			assert_int_equal(n, wn);
			if (n > 0)
				assert_memory_equal(proof, want, n * MERKLE_HASH_LEN);
			root_of(a, ra);
			root_of(b, rb);
			assert_int_equal(merkle_consistency_verify(a, b, ra, rb, want, wn), 0);
			cons++;
		} else {
			fail_msg("merkle_kat.py: unexpected line: %s", line);
		}
	}
	status = pclose(f);
	assert_int_equal(status, 0);
	print_message("# known answers: %u leaf hashes, %u roots, %u inclusion proofs, "
		      "%u consistency proofs\n", leaves, roots, incl, cons);
	assert_true(leaves >= 5 && roots >= 64 && incl >= 50 && cons >= 50);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hashes),
		cmocka_unit_test(test_root_empty),
		cmocka_unit_test(test_roots_small),
		cmocka_unit_test(test_roots_large),
		cmocka_unit_test(test_inclusion_all),
		cmocka_unit_test(test_inclusion_large),
		cmocka_unit_test(test_consistency_all),
		cmocka_unit_test(test_consistency_large),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_huge),
		cmocka_unit_test(test_kat),
	};

	return cmocka_run_group_tests_name("merkle", tests, setup, teardown);
}
