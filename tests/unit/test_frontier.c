/* A tree's right edge (feed/frontier.h): hashing leaves onto it gives RFC 9162's root at
 * every size, as merkle_root over a whole tree does; kept as bytes and read back; built from
 * a log's complete subtrees. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "feed/frontier.h"

#include "merkle_testlib.h"

#define N 1100

static void test_roots(void **state)
{
	void *ctx = talloc_new(NULL);
	struct memtree *t = memtree_new(ctx, N);
	struct merkle_frontier f, g;
	uint8_t root[32], want[32], bytes[FRONTIER_BYTES_MAX];

	(void)state;
	assert_non_null(t);
	frontier_init(&f);
	for (uint64_t n = 0; n <= N; n++) {
		struct memread m = { t, n, 0 };

		assert_int_equal(merkle_root(n, mem_reader, &m, want), 0);
		frontier_root(&f, root);
		assert_memory_equal(root, want, 32);
		/* Kept and read back; built from the tree's own subtrees: the same edge. */
		assert_int_equal(frontier_decode(bytes, frontier_encode(&f, bytes), &g), 0);
		assert_int_equal(g.size, n);
		frontier_root(&g, root);
		assert_memory_equal(root, want, 32);
		assert_int_equal(frontier_from_reader(n, mem_reader, &m, &g), 0);
		frontier_root(&g, root);
		assert_memory_equal(root, want, 32);
		if (n < N)
			assert_int_equal(frontier_append(&f, t->lv[0][n]), 0);
	}
	talloc_free(ctx);
}

static void test_decode_refuses(void **state)
{
	struct merkle_frontier f;
	uint8_t b[8 + 3 * 32] = { 0, 0, 0, 0, 0, 0, 0, 7 };	/* size 7: three hashes */

	(void)state;
	assert_int_equal(frontier_decode(b, sizeof(b), &f), 0);
	assert_int_equal(frontier_decode(b, sizeof(b) - 1, &f), -EBADMSG);
	assert_int_equal(frontier_decode(b, 7, &f), -EBADMSG);
	b[7] = 8;	/* size 8: one hash, not three */
	assert_int_equal(frontier_decode(b, sizeof(b), &f), -EBADMSG);
	assert_int_equal(f.size, 0);
	f.size = UINT64_MAX;
	assert_int_equal(frontier_append(&f, b), -EOVERFLOW);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roots),
		cmocka_unit_test(test_decode_refuses),
	};

	return cmocka_run_group_tests_name("frontier", tests, NULL, NULL);
}
