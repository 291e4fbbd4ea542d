/* C2SP tlog-tiles (https://c2sp.org/tlog-tiles): a hash tile at level L, index N holds the tree
 * level 8L hashes N*256 .. N*256+W-1, so a tile level is TILE_HEIGHT tree levels above the one
 * below it; an entry bundle N holds the entries of level-0 tile N. */
#include "feed/tile.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

/* ---- paths ---------------------------------------------------------------------------- */

static size_t put_str(char *b, size_t p, const char *s)
{
	size_t n = strlen(s);

	memcpy(b + p, s, n);
	return p + n;
}

/* v as exactly `digits` decimal digits, zero-padded */
static size_t put_digits(char *b, size_t p, uint64_t v, unsigned digits)
{
	unsigned i;

	for (i = digits; i-- > 0;) {
		b[p + i] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + digits;
}

static unsigned count_digits(uint64_t v)
{
	unsigned d = 1;

	while (v >= 10) {
		v /= 10;
		d++;
	}
	return d;
}

int tile_path(char *out, size_t outsz, int level, uint64_t n, unsigned w)
{
	/* the longest path is 52 bytes: room for it, whatever outsz is */
	char b[TILE_PATH_MAX];
	uint64_t div = 1;
	unsigned groups, g;
	size_t p = 0;

	if (level < TILE_LEVEL_ENTRIES || level > TILE_LEVEL_MAX || w < 1 || w > TILE_WIDTH)
		return -EINVAL;
	p = put_str(b, p, "tile/");
	if (level == TILE_LEVEL_ENTRIES)
		p = put_str(b, p, "entries/");
	else
		p = put_digits(b, p, (uint64_t)level, count_digits((uint64_t)level));
	if (level != TILE_LEVEL_ENTRIES)
		b[p++] = '/';
	groups = (count_digits(n) + 2) / 3;
	for (g = 1; g < groups; g++)
		div *= 1000;
	for (g = 0; g < groups; g++, div /= 1000) {
		if (g + 1 < groups)
			b[p++] = 'x';
		p = put_digits(b, p, n / div % 1000, 3);
		if (g + 1 < groups)
			b[p++] = '/';
	}
	if (w < TILE_WIDTH) {
		p = put_str(b, p, ".p/");
		p = put_digits(b, p, w, count_digits(w));
	}
	if (p + 1 > outsz)
		return -ENOSPC;
	memcpy(out, b, p);
	out[p] = '\0';
	return (int)p;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* A decimal number of 1..maxdigits digits at s[*p..len), without leading zeros, at most max. */
static int take_number(const char *s, size_t len, size_t *p, unsigned maxdigits, unsigned max,
		       unsigned *v)
{
	size_t start = *p;
	unsigned val = 0;

	while (*p < len && is_digit(s[*p]) && *p - start < maxdigits)
		val = val * 10 + (unsigned)(s[(*p)++] - '0');
	if (*p == start || (*p < len && is_digit(s[*p])))
		return -EINVAL;
	if (s[start] == '0' && *p - start > 1)
		return -EINVAL;
	if (val > max)
		return -EINVAL;
	*v = val;
	return 0;
}

static bool take_literal(const char *s, size_t len, size_t *p, const char *lit)
{
	size_t n = strlen(lit);

	if (len - *p < n || memcmp(s + *p, lit, n) != 0)
		return false;
	*p += n;
	return true;
}

int tile_path_parse(const char *s, size_t len, int *level, uint64_t *n, unsigned *w)
{
	uint64_t v = 0, g;
	size_t p = 0;
	unsigned u, groups = 0;
	bool last = false;

	if (len > TILE_PATH_MAX || !take_literal(s, len, &p, "tile/"))
		return -EINVAL;
	if (take_literal(s, len, &p, "entries/")) {
		*level = TILE_LEVEL_ENTRIES;
	} else {
		if (take_number(s, len, &p, 2, TILE_LEVEL_MAX, &u) < 0 ||
		    !take_literal(s, len, &p, "/"))
			return -EINVAL;
		*level = (int)u;
	}
	while (!last) {
		last = !(p < len && s[p] == 'x');
		p += !last;
		if (len - p < 3 || !is_digit(s[p]) || !is_digit(s[p + 1]) || !is_digit(s[p + 2]))
			return -EINVAL;
		g = (uint64_t)(s[p] - '0') * 100 + (uint64_t)(s[p + 1] - '0') * 10 +
		    (uint64_t)(s[p + 2] - '0');
		p += 3;
		/* "x000/..." would be the same N with a zero group in front */
		if (!last && groups == 0 && g == 0)
			return -EINVAL;
		if (v > (UINT64_MAX - g) / 1000)
			return -EINVAL;
		v = v * 1000 + g;
		groups++;
		if (!last && !take_literal(s, len, &p, "/"))
			return -EINVAL;
	}
	*w = TILE_WIDTH;
	if (p < len) {
		if (!take_literal(s, len, &p, ".p/") ||
		    take_number(s, len, &p, 3, TILE_WIDTH - 1, &u) < 0 || u == 0 || p != len)
			return -EINVAL;
		*w = u;
	}
	*n = v;
	return 0;
}

unsigned tile_width(int level, uint64_t n, uint64_t size)
{
	uint64_t count;

	if (level < TILE_LEVEL_ENTRIES || level > TILE_LEVEL_MAX)
		return 0;
	if (level == TILE_LEVEL_ENTRIES)
		level = 0;
	/* tree-level 8L hashes that are complete in a tree of size leaves */
	count = (unsigned)level * TILE_HEIGHT >= 64 ? 0 : size >> ((unsigned)level * TILE_HEIGHT);
	if (n < count / TILE_WIDTH)
		return TILE_WIDTH;
	if (n == count / TILE_WIDTH)
		return (unsigned)(count % TILE_WIDTH);
	return 0;
}

/* ---- entry bundles -------------------------------------------------------------------- */

int tile_bundle_append(uint8_t *buf, size_t cap, size_t *len, const void *entry, size_t elen)
{
	if (elen > TILE_ENTRY_MAX)
		return -EINVAL;
	if (*len > cap || cap - *len < 2 + elen)
		return -ENOSPC;
	buf[*len] = (uint8_t)(elen >> 8);
	buf[*len + 1] = (uint8_t)elen;
	if (elen > 0)
		memcpy(buf + *len + 2, entry, elen);
	*len += 2 + elen;
	return 0;
}

int tile_bundle_parse(const uint8_t *buf, size_t len, unsigned want, uint32_t *off,
		      uint16_t *elen)
{
	size_t p = 0, e;
	unsigned i;

	if (want > TILE_WIDTH)
		return -EINVAL;
	for (i = 0; i < want; i++) {
		if (len - p < 2)
			return -EBADMSG;	/* fewer entries than the tile's width */
		e = (size_t)buf[p] << 8 | buf[p + 1];
		p += 2;
		if (len - p < e)
			return -EBADMSG;	/* the last entry cut short */
		/* 256 entries of 2 + 65535 bytes end well below 2^32 */
		off[i] = (uint32_t)p;
		elen[i] = (uint16_t)e;
		p += e;
	}
	if (p != len)
		return -EBADMSG;		/* bytes after the last entry */
	return 0;
}

/* ---- reading hashes from tiles --------------------------------------------------------- */

int tile_reader(void *src, unsigned level, uint64_t index, uint8_t out[MERKLE_HASH_LEN])
{
	const struct tile_source *ts = src;
	/* a tile's top row but one: at most 128 hashes are combined, 64 kept after the first */
	uint8_t buf[TILE_WIDTH / 4][MERKLE_HASH_LEN];
	unsigned tl = level / TILE_HEIGHT, r = level % TILE_HEIGHT, w, first, count, i;
	const uint8_t *data = NULL;
	uint64_t tn;
	int rc;

	if (level >= 64)
		return -EINVAL;
	/* the 2^r tree-level-8*tl hashes under (level, index) lie in one tile: index << r does
	 * not overflow for a subtree that fits in 64 bits of leaves */
	if (index > (UINT64_MAX >> level))
		return -EINVAL;
	tn = index >> (TILE_HEIGHT - r);
	first = (unsigned)((index << r) % TILE_WIDTH);
	count = 1u << r;
	w = tile_width((int)tl, tn, ts->size);
	if (w < first + count)
		return -EINVAL;		/* not complete in a tree of this size */
	rc = ts->get(ts->arg, (int)tl, tn, w, &data);
	if (rc < 0)
		return rc;
	if (data == NULL)
		return -EINVAL;
	data += (size_t)first * MERKLE_HASH_LEN;
	if (count == 1) {
		memcpy(out, data, MERKLE_HASH_LEN);
		return 0;
	}
	/* one row up straight from the tile, then up in place to the single hash */
	for (i = 0; i < count / 2; i++)
		merkle_node_hash(data + 2 * i * MERKLE_HASH_LEN,
				 data + (2 * i + 1) * MERKLE_HASH_LEN, buf[i]);
	for (count /= 2; count > 1; count /= 2) {
		for (i = 0; i < count / 2; i++)
			merkle_node_hash(buf[2 * i], buf[2 * i + 1], buf[i]);
	}
	memcpy(out, buf[0], MERKLE_HASH_LEN);
	return 0;
}

/* ---- publishing ---------------------------------------------------------------------- */

/* The hashes at tree level t = 8*tl completed by leaves old..size-1, in index order: an
 * incremental tree (one pending hash per level below t) started from the old tree's
 * maximal complete subtrees below t, fed the new leaves. */
static int extend_level(uint64_t old, uint64_t size, const uint8_t (*leaves)[MERKLE_HASH_LEN],
			unsigned tl, merkle_reader rd, void *rdarg,
			int (*emit)(void *arg, unsigned tile_level, uint64_t index,
				    const uint8_t hash[MERKLE_HASH_LEN]),
			void *emitarg)
{
	uint8_t pending[64][MERKLE_HASH_LEN], h[MERKLE_HASH_LEN];
	unsigned t = tl * TILE_HEIGHT, l;
	uint64_t c;
	int rc;

	for (l = 0; l < t; l++) {
		if (old & (UINT64_C(1) << l)) {
			rc = rd(rdarg, l, (old >> l) - 1, pending[l]);
			if (rc < 0)
				return rc;
		}
	}
	for (c = old; c < size; c++) {
		memcpy(h, leaves[c - old], MERKLE_HASH_LEN);
		for (l = 0; l < t && (c & (UINT64_C(1) << l)); l++)
			merkle_node_hash(pending[l], h, h);
		if (l < t) {
			memcpy(pending[l], h, MERKLE_HASH_LEN);
			continue;
		}
		rc = emit(emitarg, tl, ((c + 1) >> t) - 1, h);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int tile_extend(uint64_t old, uint64_t size, const uint8_t (*leaves)[MERKLE_HASH_LEN],
		merkle_reader rd, void *rdarg,
		int (*emit)(void *arg, unsigned tile_level, uint64_t index,
			    const uint8_t hash[MERKLE_HASH_LEN]),
		void *emitarg)
{
	unsigned tl;
	uint64_t i;
	int rc;

	if (size < old || (size > old && leaves == NULL))
		return -EINVAL;
	for (i = old; i < size; i++) {
		rc = emit(emitarg, 0, i, leaves[i - old]);
		if (rc < 0)
			return rc;
	}
	/* a tile level gains hashes only when the growth crosses a multiple of 2^(8*tl) */
	for (tl = 1; tl * TILE_HEIGHT < 64 && (size >> (tl * TILE_HEIGHT)) >
	     (old >> (tl * TILE_HEIGHT)); tl++) {
		rc = extend_level(old, size, leaves, tl, rd, rdarg, emit, emitarg);
		if (rc < 0)
			return rc;
	}
	return 0;
}
