/* `ceirgwctl feed export -c FILE DIR`: the country's feed as files (issue 19), as ceirgw
 * serves it under /feed/ and C2SP tlog-tiles lays it out: DIR/checkpoint, DIR/tile/<L>/<N>
 * [.p/<W>] for every hash tile of the published tree and DIR/tile/entries/<N>[.p/<W>] for
 * every entry bundle, so that any web server or CDN can publish them. From Redis, the tree of
 * the checkpoint read first: its partial tiles at its widths, whatever the log has grown to
 * meanwhile. Each file is written under a temporary name and renamed (a server never serves
 * half a file), the checkpoint last (never a checkpoint whose tiles are not there); folders
 * are opened one by one without following a link, so nothing is written outside DIR. */
#include "ctl/feed_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <talloc.h>
#include <unistd.h>

#include "core/config.h"
#include "feed/entry.h"
#include "feed/merkle.h"
#include "feed/note.h"
#include "feed/tile.h"
#include "store/bulk.h"

#define TILE_BYTES (TILE_WIDTH * MERKLE_HASH_LEN)
#define BUNDLE_MAX (TILE_WIDTH * (2 + FEED_ENTRY_MAX))

static void export_usage(FILE *out)
{
	fprintf(out,
		"Usage: ceirgwctl feed export -c FILE [--redis URL | --redis-cluster SEEDS] DIR\n"
		"\n"
		"Writes the feed this ceirgw publishes (feed-origin), as its Redis holds it,\n"
		"into DIR in the C2SP tlog-tiles layout, the files ceirgw serves under /feed/:\n"
		"  DIR/checkpoint                   the signed checkpoint\n"
		"  DIR/tile/<L>/<N>[.p/<W>]          every hash tile of its tree\n"
		"  DIR/tile/entries/<N>[.p/<W>]      every entry bundle\n"
		"so that any web server or CDN can publish them (a feed-peer's url, or\n"
		"ceirgwctl feed verify, then names where DIR is served). Partial tiles are\n"
		"written at the widths of the exported checkpoint. Each file is written under a\n"
		"temporary name and renamed into place, the checkpoint last: a server never\n"
		"serves half a file, nor a checkpoint whose tiles are not there yet. DIR is made\n"
		"when missing (its parent must exist); nothing is written outside it. Older\n"
		"files stay (full tiles never change; a partial one of an older tree is simply\n"
		"no longer asked for). No Redis is started.\n"
		"\n"
		FEED_STORE_OPTIONS_HELP
		"\n"
		"Exit status: 0 when every file was written, 1 when one could not be (or Redis\n"
		"cannot be read, or holds no checkpoint), 2 on a usage or configuration error.\n");
}

struct exporter {
	struct bulk *b;
	const char *dir;
	int root;			/* DIR */
	char cached[TILE_PATH_MAX];	/* the folder last opened, relative to DIR */
	int cached_fd;
	uint64_t size;
	unsigned long tiles, bundles;
	/* The bundle being filled, and the level-0 tile its leaves must hash to. */
	uint8_t bundle[BUNDLE_MAX];
	size_t blen;
	uint8_t tile0[TILE_BYTES];
	char why[300];
};

/* The folder of rel (relative to DIR, made as needed), opened one component at a time with
 * O_NOFOLLOW: a link planted inside DIR cannot lead outside it. Returns its fd (the
 * exporter's to close) with *leaf the file's name in it, or -errno. */
static int open_parent(struct exporter *x, const char *rel, const char **leaf)
{
	const char *slash = strrchr(rel, '/'), *p = rel;
	size_t dlen = slash ? (size_t)(slash - rel) : 0;
	char part[TILE_PATH_MAX];
	int fd, nfd;

	*leaf = slash ? slash + 1 : rel;
	if (x->cached_fd >= 0 && strlen(x->cached) == dlen && memcmp(x->cached, rel, dlen) == 0)
		return x->cached_fd;
	if (x->cached_fd >= 0 && x->cached_fd != x->root)
		close(x->cached_fd);
	x->cached_fd = -1;
	fd = x->root;
	while (p < rel + dlen) {
		size_t n = strcspn(p, "/");

		if (n == 0 || n >= sizeof(part)) {
			errno = EINVAL;
			goto fail;
		}
		memcpy(part, p, n);
		part[n] = '\0';
		if (strcmp(part, ".") == 0 || strcmp(part, "..") == 0) {
			errno = EINVAL;
			goto fail;
		}
		if (mkdirat(fd, part, 0755) < 0 && errno != EEXIST)
			goto fail;
		nfd = openat(fd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0)
			goto fail;
		if (fd != x->root)
			close(fd);
		fd = nfd;
		p += n + 1;
	}
	snprintf(x->cached, sizeof(x->cached), "%.*s", (int)dlen, rel);
	x->cached_fd = fd;
	return fd;
fail:
	nfd = -errno;
	if (fd != x->root)
		close(fd);
	return nfd;
}

/* Writes rel (under DIR) whole: a temporary name, then a rename over the old file. */
static int write_file(struct exporter *x, const char *rel, const void *data, size_t len)
{
	const char *leaf;
	char tmp[TILE_PATH_MAX + 32];
	size_t off = 0;
	int dfd = open_parent(x, rel, &leaf), fd, rc = 0;

	if (dfd < 0) {
		snprintf(x->why, sizeof(x->why), "%s/%s: %s", x->dir, rel, strerror(-dfd));
		return dfd;
	}
	snprintf(tmp, sizeof(tmp), ".%s.tmp%d", leaf, (int)getpid());
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	while (off < len) {
		ssize_t w = write(fd, (const char *)data + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = w < 0 ? -errno : -EIO;
			break;
		}
		off += (size_t)w;
	}
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && renameat(dfd, tmp, dfd, leaf) < 0)
		rc = -errno;
	if (rc < 0)
		unlinkat(dfd, tmp, 0);
out:
	if (rc < 0)
		snprintf(x->why, sizeof(x->why), "%s/%s: %s", x->dir, rel, strerror(-rc));
	return rc;
}

/* Tile (level, n) of width w as Redis holds it: its first w hashes (a round under way may
 * have written more past the checkpoint). */
static int read_tile(struct exporter *x, unsigned level, uint64_t n, unsigned w, uint8_t *out)
{
	size_t len = 0;
	int rc = bulk_feed_tile(x->b, level, n, out, TILE_BYTES, &len);

	if (rc == -EIO) {
		snprintf(x->why, sizeof(x->why), "Redis: %s", bulk_error(x->b));
		return rc;
	}
	if (rc == -ENOENT || len < (size_t)w * MERKLE_HASH_LEN) {
		snprintf(x->why, sizeof(x->why), "hash tile %u/%" PRIu64 " has %zu of the %u "
			 "hashes the checkpoint's tree needs in Redis", level, n,
			 rc == -ENOENT ? 0 : len / MERKLE_HASH_LEN, w);
		return -EBADMSG;
	}
	return 0;
}

static int write_tile(struct exporter *x, int level, uint64_t n, unsigned w, const void *data,
		      size_t len)
{
	char path[TILE_PATH_MAX];

	if (tile_path(path, sizeof(path), level, n, w) < 0) {
		snprintf(x->why, sizeof(x->why), "tile %d/%" PRIu64 ": no path", level, n);
		return -EINVAL;
	}
	return write_file(x, path, data, len);
}

/* Each entry from Redis: strictly an entry, its leaf hash the level-0 tile's, into the bundle;
 * a bundle full (or the tree's last) is written. */
static int on_entry(void *arg, uint64_t index, const char *e, size_t len)
{
	struct exporter *x = arg;
	uint64_t n = index / TILE_WIDTH;
	unsigned i = (unsigned)(index % TILE_WIDTH);
	unsigned w = tile_width(TILE_LEVEL_ENTRIES, n, x->size);
	struct feed_entry fe;
	uint8_t leaf[MERKLE_HASH_LEN];
	int rc;

	if (feed_entry_parse(e, len, &fe) < 0) {
		snprintf(x->why, sizeof(x->why), "entry %" PRIu64 " in Redis is not an entry",
			 index);
		return -EBADMSG;
	}
	if (i == 0) {
		x->blen = 0;
		if ((rc = read_tile(x, 0, n, w, x->tile0)) < 0)
			return rc;
	}
	merkle_leaf_hash(e, len, leaf);
	if (memcmp(leaf, x->tile0 + (size_t)i * MERKLE_HASH_LEN, MERKLE_HASH_LEN) != 0) {
		snprintf(x->why, sizeof(x->why), "entry %" PRIu64 " in Redis does not hash to its "
			 "leaf in hash tile 0/%" PRIu64 " (the log was changed after it was "
			 "published)", index, n);
		return -EBADMSG;
	}
	if (tile_bundle_append(x->bundle, sizeof(x->bundle), &x->blen, e, len) < 0) {
		snprintf(x->why, sizeof(x->why), "entry %" PRIu64 ": too long", index);
		return -EBADMSG;
	}
	if (i + 1 < w)
		return 0;
	/* The bundle, and the level-0 tile beside it. */
	if ((rc = write_tile(x, TILE_LEVEL_ENTRIES, n, w, x->bundle, x->blen)) < 0 ||
	    (rc = write_tile(x, 0, n, w, x->tile0, (size_t)w * MERKLE_HASH_LEN)) < 0)
		return rc;
	x->bundles++;
	x->tiles++;
	return 0;
}

static int export_tree(struct exporter *x)
{
	uint8_t tile[TILE_BYTES];
	uint64_t at, n, count;
	unsigned level, w;
	int rc;

	for (at = 0; at < x->size; at += count) {
		count = x->size - at > BULK_FEED_ENTRIES_MAX ? BULK_FEED_ENTRIES_MAX : x->size - at;
		rc = bulk_feed_entries(x->b, at, (unsigned)count, on_entry, x);
		if (rc == -EIO)
			snprintf(x->why, sizeof(x->why), "Redis: %s", bulk_error(x->b));
		else if (rc == -ERANGE)
			snprintf(x->why, sizeof(x->why), "Redis holds fewer entries than the "
				 "checkpoint's %" PRIu64 " (the log lost entries)", x->size);
		if (rc < 0)
			return rc;
	}
	/* Level 0 went with the bundles; each level above holds a hash per full tile below. */
	for (level = 1; level <= TILE_LEVEL_MAX / TILE_HEIGHT &&
	     (x->size >> (TILE_HEIGHT * level)) > 0; level++) {
		for (n = 0; (w = tile_width((int)level, n, x->size)) > 0; n++) {
			if ((rc = read_tile(x, level, n, w, tile)) < 0 ||
			    (rc = write_tile(x, (int)level, n, w, tile,
					     (size_t)w * MERKLE_HASH_LEN)) < 0)
				return rc;
			x->tiles++;
		}
	}
	return 0;
}

int feed_export_main(void *ctx, int argc, char **argv)
{
	struct feed_store fs = { 0 };
	struct exporter *x;
	struct checkpoint c;
	char *note = NULL;
	size_t len = 0, tl;
	int rc;

	rc = feed_store_options(ctx, "export", argc, argv, export_usage, &fs);
	if (rc != FEED_EXIT_OK)
		return rc == FEED_HELP_SHOWN ? FEED_EXIT_OK : rc;
	if (argc - fs.first != 1) {
		fprintf(stderr, "ceirgwctl feed export: expected one DIR\n");
		return FEED_EXIT_USAGE;
	}
	x = talloc_zero(ctx, struct exporter);
	if (x == NULL) {
		fprintf(stderr, "ceirgwctl feed export: out of memory\n");
		return FEED_EXIT_ERROR;
	}
	x->dir = argv[fs.first];
	x->root = x->cached_fd = -1;
	if ((rc = feed_store_connect(ctx, "export", &fs)) != FEED_EXIT_OK)
		return rc;
	x->b = fs.bulk;
	/* The tree to export is the checkpoint's, read first: what it needs is in Redis. */
	rc = bulk_feed_checkpoint(fs.bulk, x, &note, &len);
	if (rc == -ENOENT) {
		fprintf(stderr, "ceirgwctl feed export: no checkpoint in Redis: the feed is not "
			"published yet (feed-origin, and a running ceirgw)\n");
		return FEED_EXIT_ERROR;
	}
	if (rc < 0) {
		fprintf(stderr, "ceirgwctl feed export: Redis: %s\n", bulk_error(fs.bulk));
		return FEED_EXIT_ERROR;
	}
	tl = feed_note_textlen(note, len);
	if (tl == 0 || checkpoint_parse(note, tl, &c) < 0) {
		fprintf(stderr, "ceirgwctl feed export: the checkpoint in Redis does not read as "
			"a signed checkpoint\n");
		return FEED_EXIT_ERROR;
	}
	if (fs.cfg->feed_origin && strcmp(c.origin, fs.cfg->feed_origin) != 0) {
		fprintf(stderr, "ceirgwctl feed export: the checkpoint in Redis is of '%.128s', "
			"not of feed-origin '%s'\n", c.origin, fs.cfg->feed_origin);
		return FEED_EXIT_ERROR;
	}
	x->size = c.size;
	if (mkdir(x->dir, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "ceirgwctl feed export: %s: %s\n", x->dir, strerror(errno));
		return FEED_EXIT_ERROR;
	}
	x->root = open(x->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (x->root < 0) {
		fprintf(stderr, "ceirgwctl feed export: %s: %s\n", x->dir, strerror(errno));
		return FEED_EXIT_ERROR;
	}
	rc = export_tree(x);
	/* Last: a checkpoint only once every file of its tree is in place. */
	if (rc == 0)
		rc = write_file(x, "checkpoint", note, len);
	if (x->cached_fd >= 0 && x->cached_fd != x->root)
		close(x->cached_fd);
	close(x->root);
	if (rc < 0) {
		fprintf(stderr, "ceirgwctl feed export: %s; the checkpoint in %s was not replaced\n",
			x->why, x->dir);
		return FEED_EXIT_ERROR;
	}
	printf("exported the tree of %" PRIu64 " entries of %s to %s: %lu files written "
	       "(checkpoint, %lu hash tiles, %lu entry bundles)\n", c.size, c.origin, x->dir,
	       1 + x->tiles + x->bundles, x->tiles, x->bundles);
	return fflush(stdout) == 0 ? FEED_EXIT_OK : FEED_EXIT_ERROR;
}
