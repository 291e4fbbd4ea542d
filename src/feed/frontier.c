/* The right edge of a Merkle tree: see frontier.h. */
#include "feed/frontier.h"

#include <errno.h>
#include <string.h>

#include <openssl/sha.h>

void frontier_init(struct merkle_frontier *f)
{
	memset(f, 0, sizeof(*f));
}

int frontier_append(struct merkle_frontier *f, const uint8_t leaf[MERKLE_HASH_LEN])
{
	uint8_t h[MERKLE_HASH_LEN];
	unsigned k = 0;

	if (f->size == UINT64_MAX)
		return -EOVERFLOW;
	memcpy(h, leaf, sizeof(h));
	/* As a binary counter: each set bit the new leaf carries through merges its subtree
	 * with the one of the same height on its left. */
	while (f->size >> k & 1) {
		merkle_node_hash(f->h[k], h, h);
		k++;
	}
	memcpy(f->h[k], h, sizeof(h));
	f->size++;
	return 0;
}

void frontier_root(const struct merkle_frontier *f, uint8_t out[MERKLE_HASH_LEN])
{
	uint8_t r[MERKLE_HASH_LEN];
	unsigned k = 0;

	if (f->size == 0) {
		SHA256((const unsigned char *)"", 0, out);
		return;
	}
	/* The smallest subtree is the rightmost; each larger one is a left sibling of what
	 * was folded so far (RFC 9162: the split at the largest power of two below n). */
	while (!(f->size >> k & 1))
		k++;
	memcpy(r, f->h[k], sizeof(r));
	for (k++; k < 64; k++)
		if (f->size >> k & 1)
			merkle_node_hash(f->h[k], r, r);
	memcpy(out, r, sizeof(r));
}

size_t frontier_encode(const struct merkle_frontier *f, uint8_t *out)
{
	size_t n = 8;

	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(f->size >> (56 - 8 * i));
	for (unsigned k = 0; k < 64; k++) {
		if (f->size >> k & 1) {
			memcpy(out + n, f->h[k], MERKLE_HASH_LEN);
			n += MERKLE_HASH_LEN;
		}
	}
	return n;
}

int frontier_decode(const uint8_t *in, size_t len, struct merkle_frontier *f)
{
	size_t n = 8;

	frontier_init(f);
	if (len < 8)
		return -EBADMSG;
	for (int i = 0; i < 8; i++)
		f->size = f->size << 8 | in[i];
	if (len != 8 + (size_t)__builtin_popcountll(f->size) * MERKLE_HASH_LEN) {
		frontier_init(f);
		return -EBADMSG;
	}
	for (unsigned k = 0; k < 64; k++) {
		if (f->size >> k & 1) {
			memcpy(f->h[k], in + n, MERKLE_HASH_LEN);
			n += MERKLE_HASH_LEN;
		}
	}
	return 0;
}

int frontier_from_reader(uint64_t size, merkle_reader rd, void *arg, struct merkle_frontier *f)
{
	uint64_t start = 0;

	frontier_init(f);
	/* Left to right, the largest first: the subtree of bit k starts where the larger
	 * ones end. */
	for (int k = 63; k >= 0; k--) {
		if (!(size >> k & 1))
			continue;
		int rc = rd(arg, (unsigned)k, start >> k, f->h[k]);

		if (rc < 0) {
			frontier_init(f);
			return rc;
		}
		start += (uint64_t)1 << k;
	}
	f->size = size;
	return 0;
}
