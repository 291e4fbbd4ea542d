/* RFC 9162 section 2.1 Merkle trees over hashes read through a merkle_reader. The RFC defines
 * MTH, PATH and SUBPROOF recursively over ranges D[a:b]; here they walk the same splits from the
 * root down without recursion, and a range on the right edge of the tree, whose subtree is not
 * complete, is hashed from the complete subtrees it is made of (range_hash). */
#include "feed/merkle.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

/* SHA-256 through one EVP context kept per thread, the algorithm fetched once: OpenSSL 3's
 * one-shot SHA256() fetches the algorithm from the provider store at every call, under a
 * read lock, which cost 3 to 4 times the hashing of a leaf or a node (367 against 106 ns a
 * node on the machine of doc/BENCHMARKS.md), and a follower hashes two of them an entry.
 * Only allocation can fail here, and these functions have no way to say so: a tree hashed
 * wrongly would be worse than stopping. */
static void sha256_2(const void *a, size_t alen, const void *b, size_t blen,
		     uint8_t out[MERKLE_HASH_LEN])
{
	static _Thread_local EVP_MD *md;
	static _Thread_local EVP_MD_CTX *ctx;

	if (md == NULL && (md = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL)
		abort();
	if (ctx == NULL && (ctx = EVP_MD_CTX_new()) == NULL)
		abort();
	if (EVP_DigestInit_ex2(ctx, md, NULL) != 1 || EVP_DigestUpdate(ctx, a, alen) != 1 ||
	    (blen > 0 && EVP_DigestUpdate(ctx, b, blen) != 1) ||
	    EVP_DigestFinal_ex(ctx, out, NULL) != 1)
		abort();
}

void merkle_leaf_hash(const void *entry, size_t len, uint8_t out[MERKLE_HASH_LEN])
{
	static const uint8_t prefix = 0x00;

	sha256_2(&prefix, 1, entry, len, out);
}

void merkle_node_hash(const uint8_t left[MERKLE_HASH_LEN], const uint8_t right[MERKLE_HASH_LEN],
		      uint8_t out[MERKLE_HASH_LEN])
{
	uint8_t buf[1 + 2 * MERKLE_HASH_LEN];

	buf[0] = 0x01;
	memcpy(buf + 1, left, MERKLE_HASH_LEN);
	memcpy(buf + 1 + MERKLE_HASH_LEN, right, MERKLE_HASH_LEN);
	sha256_2(buf, sizeof(buf), NULL, 0, out);
}

/* The largest power of two strictly below n (n >= 2): RFC 9162's split point k. */
static uint64_t split_point(uint64_t n)
{
	uint64_t k = 1;

	while (k < n - k)
		k <<= 1;
	return k;
}

static unsigned log2_exact(uint64_t k)
{
	unsigned l = 0;

	while (k > 1) {
		k >>= 1;
		l++;
	}
	return l;
}

/* MTH(D[start:start + count]) for count >= 1, where start is a multiple of the power of two
 * the RFC's split put above this range (so every piece below is aligned): the complete subtrees
 * of count's bits from the highest, combined right to left. At most 64 reads. */
static int range_hash(uint64_t start, uint64_t count, merkle_reader rd, void *arg,
		      uint8_t out[MERKLE_HASH_LEN])
{
	uint64_t pos[64];
	unsigned lvl[64], n = 0, b;
	uint8_t h[MERKLE_HASH_LEN];
	int rc;

	for (b = 64; b-- > 0;) {
		if (count & (UINT64_C(1) << b)) {
			pos[n] = start;
			lvl[n++] = b;
			start += UINT64_C(1) << b;
		}
	}
	rc = rd(arg, lvl[n - 1], pos[n - 1] >> lvl[n - 1], out);
	while (rc == 0 && --n > 0) {
		rc = rd(arg, lvl[n - 1], pos[n - 1] >> lvl[n - 1], h);
		if (rc == 0)
			merkle_node_hash(h, out, out);
	}
	return rc;
}

int merkle_root(uint64_t size, merkle_reader rd, void *arg, uint8_t out[MERKLE_HASH_LEN])
{
	if (size == 0) {
		SHA256((const unsigned char *)"", 0, out);
		return 0;
	}
	return range_hash(0, size, rd, arg, out);
}

/* Turns the hashes gathered from the root down into the RFC's order, from the bottom up. */
static void reverse(uint8_t (*p)[MERKLE_HASH_LEN], size_t n)
{
	uint8_t t[MERKLE_HASH_LEN];
	size_t i;

	for (i = 0; i < n / 2; i++) {
		memcpy(t, p[i], MERKLE_HASH_LEN);
		memcpy(p[i], p[n - 1 - i], MERKLE_HASH_LEN);
		memcpy(p[n - 1 - i], t, MERKLE_HASH_LEN);
	}
}

/* PATH(m, D[n]): at each split of [lo, hi) at k, the side without the leaf is a proof hash.
 * The left side [lo, lo + k) is always complete; the right one may be the ragged edge. */
int merkle_inclusion_proof(uint64_t index, uint64_t size, merkle_reader rd, void *arg,
			   uint8_t proof[MERKLE_PROOF_MAX][MERKLE_HASH_LEN], size_t *n)
{
	uint64_t lo = 0, hi = size, k;
	size_t cnt = 0;
	int rc;

	*n = 0;
	if (index >= size)
		return -EINVAL;
	while (hi - lo > 1) {
		/* a tree of fewer than 2^64 leaves is at most 64 deep */
		k = split_point(hi - lo);
		if (index < lo + k) {
			rc = range_hash(lo + k, hi - lo - k, rd, arg, proof[cnt]);
			hi = lo + k;
		} else {
			rc = rd(arg, log2_exact(k), lo >> log2_exact(k), proof[cnt]);
			lo += k;
		}
		if (rc < 0)
			return rc;
		cnt++;
	}
	reverse(proof, cnt);
	*n = cnt;
	return 0;
}

int merkle_inclusion_verify(uint64_t index, uint64_t size, const uint8_t leaf[MERKLE_HASH_LEN],
			    const uint8_t (*proof)[MERKLE_HASH_LEN], size_t n,
			    const uint8_t root[MERKLE_HASH_LEN])
{
	uint64_t fn = index, sn;
	uint8_t r[MERKLE_HASH_LEN];
	size_t i;

	if (index >= size)
		return -EINVAL;
	sn = size - 1;
	memcpy(r, leaf, MERKLE_HASH_LEN);
	for (i = 0; i < n; i++) {
		if (sn == 0)
			return -EBADMSG;	/* more hashes than the path is long */
		if ((fn & 1) || fn == sn) {
			merkle_node_hash(proof[i], r, r);
			/* a right-edge node with no sibling at these levels moves up unchanged */
			while (!(fn & 1) && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else {
			merkle_node_hash(r, proof[i], r);
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0 || memcmp(r, root, MERKLE_HASH_LEN) != 0)
		return -EBADMSG;
	return 0;
}

/* SUBPROOF(m, D[n], true): each split of [lo, hi) at k gives the side the old tree's edge does
 * not run through; the node the walk ends on (its range ends at old) is given too, unless it is
 * the old tree's whole root (the walk only went left), which the verifier already holds. */
int merkle_consistency_proof(uint64_t old, uint64_t size, merkle_reader rd, void *arg,
			     uint8_t proof[MERKLE_PROOF_MAX][MERKLE_HASH_LEN], size_t *n)
{
	uint64_t lo = 0, hi = size, k;
	bool whole = true;
	size_t cnt = 0;
	int rc;

	*n = 0;
	if (old == 0 || old > size)
		return -EINVAL;
	while (old != hi) {
		if (cnt == MERKLE_PROOF_MAX)
			return -E2BIG;
		k = split_point(hi - lo);
		if (old - lo <= k) {
			rc = range_hash(lo + k, hi - lo - k, rd, arg, proof[cnt]);
			hi = lo + k;
		} else {
			rc = rd(arg, log2_exact(k), lo >> log2_exact(k), proof[cnt]);
			lo += k;
			whole = false;
		}
		if (rc < 0)
			return rc;
		cnt++;
	}
	if (!whole) {
		if (cnt == MERKLE_PROOF_MAX)
			return -E2BIG;
		rc = range_hash(lo, hi - lo, rd, arg, proof[cnt]);
		if (rc < 0)
			return rc;
		cnt++;
	}
	reverse(proof, cnt);
	*n = cnt;
	return 0;
}

static bool is_pow2(uint64_t v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

/* RFC 9162 2.1.4.2, step by step. When old is a power of two the proof leaves out the old
 * root (the verifier has it), and the algorithm puts it back in front (step 2). */
int merkle_consistency_verify(uint64_t old, uint64_t size, const uint8_t old_root[MERKLE_HASH_LEN],
			      const uint8_t new_root[MERKLE_HASH_LEN],
			      const uint8_t (*proof)[MERKLE_HASH_LEN], size_t n)
{
	uint8_t fr[MERKLE_HASH_LEN], sr[MERKLE_HASH_LEN];
	const uint8_t *c;
	uint64_t fn, sn;
	size_t i, total;
	bool prepend;

	if (old == 0 || old > size)
		return -EINVAL;
	if (old == size) {
		if (n != 0 || memcmp(old_root, new_root, MERKLE_HASH_LEN) != 0)
			return -EBADMSG;
		return 0;
	}
	if (n == 0)					/* step 1 */
		return -EBADMSG;
	prepend = is_pow2(old);				/* step 2 */
	total = n + prepend;
	fn = old - 1;					/* step 3 */
	sn = size - 1;
	while (fn & 1) {				/* step 4 */
		fn >>= 1;
		sn >>= 1;
	}
	c = prepend ? old_root : proof[0];		/* step 5 */
	memcpy(fr, c, MERKLE_HASH_LEN);
	memcpy(sr, c, MERKLE_HASH_LEN);
	for (i = 1; i < total; i++) {			/* step 6 */
		c = proof[i - prepend];
		if (sn == 0)
			return -EBADMSG;
		if ((fn & 1) || fn == sn) {
			merkle_node_hash(c, fr, fr);
			merkle_node_hash(c, sr, sr);
			while (!(fn & 1) && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else {
			merkle_node_hash(sr, c, sr);
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0 || memcmp(fr, old_root, MERKLE_HASH_LEN) != 0 ||	/* step 7 */
	    memcmp(sr, new_root, MERKLE_HASH_LEN) != 0)
		return -EBADMSG;
	return 0;
}
