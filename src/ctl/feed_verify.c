/* `ceirgwctl feed verify URL KEY`: an audit of any feed from scratch (issue 19), trusting
 * nothing but KEY: the checkpoint's signature (C2SP signed-note, Ed25519) and origin
 * (tlog-checkpoint), every entry bundle read strictly (tlog-tiles, feed/entry.h), every hash
 * tile of the tree compared byte for byte with what the entries hash to (RFC 9162's tree,
 * built with tile_extend), and the root over those tiles compared with the signed one.
 *
 * One request at a time on one connection (libevent's HTTP client, in ceirgwctl's own event
 * loop; a new connection when an HTTP/1.0 server closed the last), each bounded (FETCH_MAX,
 * FETCH_TIMEOUT_S). Memory is bounded too: bundles are taken
 * one by one, in order, and only the current bundle's leaf hashes and the hashes of the tile
 * levels above (one per 256 leaves) are kept. */
#include "ctl/feed_int.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <talloc.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/http_struct.h>

#include "feed/entry.h"
#include "feed/merkle.h"
#include "feed/note.h"
#include "feed/tile.h"

#define FETCH_TIMEOUT_S 10
#define FETCH_MAX (1024 * 1024)		/* the largest response taken */
#define LEVELS_MAX 8			/* tile levels: 256^8 leaves is 2^64 */
#define TILE_BYTES (TILE_WIDTH * MERKLE_HASH_LEN)

static void verify_usage(FILE *out)
{
	fprintf(out,
		"Usage: ceirgwctl feed verify URL KEY [--entries FILE]\n"
		"\n"
		"Audits the feed served at URL (http://HOST[:PORT]/PATH, where PATH/checkpoint\n"
		"and PATH/tile/... are: a ceirgw's /feed, or a folder ceirgwctl feed export\n"
		"wrote, served by any web server) from scratch, trusting only KEY, the feed's\n"
		"verifier key line (ORIGIN+KEYID+BASE64, as ceirgwctl feed keygen prints it):\n"
		"  - the checkpoint is signed by KEY, and its origin is KEY's name;\n"
		"  - every entry bundle of its tree holds the entries its width says, each a\n"
		"    well-formed decision (country, IMEI with a valid check digit, status,\n"
		"    reason, day);\n"
		"  - every hash tile of the tree (at the widths the tree gives) is, byte for\n"
		"    byte, what the entries hash to (RFC 9162 Merkle tree);\n"
		"  - the root over the tiles is the checkpoint's.\n"
		"Prints what it proved, ending with 'verified'; or one line 'not verified:\n"
		"REASON'. No configuration is read. Each response is taken up to 1 MiB, each\n"
		"request given 10 s.\n"
		"\n"
		"  --entries FILE  write the entries, one per line, in log order, to FILE\n"
		"  -h, --help      show this help\n"
		"\n"
		"Exit status: 0 when verified, 1 when not (or URL could not be read), 2 on a\n"
		"usage error (a URL or KEY that does not parse).\n");
}

struct verifier {
	struct event_base *base;
	struct evhttp_connection *conn;
	struct event *send;		/* the next request goes out from here, not from the
					 * callback of the last */
	bool stale;			/* the server closes after each answer (HTTP/1.0) */
	char addr[64];
	int port;
	char *host_header;
	char path[1024];		/* URL's path, without a trailing '/' */
	struct note_verifier *key;
	FILE *entries;
	/* The checkpoint. */
	struct checkpoint cp;
	/* The bundle under way: its index, width and leaf hashes (the level-0 tile). */
	uint64_t bundle, nbundles;
	unsigned width;
	uint8_t leaves[TILE_WIDTH][MERKLE_HASH_LEN];
	/* The hashes of tile levels 1.. (one per 256^L leaves), as the entries make them. */
	uint8_t *lv[LEVELS_MAX];
	uint64_t lvn[LEVELS_MAX], lvcap[LEVELS_MAX];
	/* The hash tiles of levels 1.. being compared. */
	unsigned level;
	uint64_t tile;
	/* What was proved. */
	uint64_t blocked, unblocked;
	bool country[26 * 26];
	unsigned long tiles;
	/* The request on the wire. */
	char what[TILE_PATH_MAX + 16];
	size_t want;
	void (*next)(struct verifier *v, const uint8_t *data, size_t len);
	bool failed;
	bool verified;			/* set only at the end of the last step */
	char why[400];
};

static void fail(struct verifier *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The audit ends: why, and the loop stops once this callback returns. */
static void fail(struct verifier *v, const char *fmt, ...)
{
	va_list ap;

	if (!v->failed) {
		va_start(ap, fmt);
		vsnprintf(v->why, sizeof(v->why), fmt, ap);
		va_end(ap);
		v->failed = true;
	}
	event_base_loopbreak(v->base);
}

static void done(struct verifier *v)
{
	v->verified = !v->failed;
	event_base_loopbreak(v->base);
}

/* ---- fetching ------------------------------------------------------------------------- */

/* Whether a Connection header says token. */
static bool connection_says(struct evkeyvalq *headers, const char *token)
{
	const char *c = evhttp_find_header(headers, "Connection");

	return c != NULL && strcasecmp(c, token) == 0;
}

static void on_fetched(struct evhttp_request *req, void *arg)
{
	struct verifier *v = arg;
	int code = req ? evhttp_request_get_response_code(req) : 0;
	struct evbuffer *body;
	const uint8_t *data;
	size_t len;

	if (req == NULL || code == 0) {
		fail(v, "%s: no answer (refused, timed out, cut short or over %d bytes)", v->what,
		     FETCH_MAX);
		return;
	}
	if (code != 200) {
		fail(v, "%s: HTTP %d", v->what, code);
		return;
	}
	/* An HTTP/1.0 server (python3 -m http.server) closes after each answer without saying
	 * "Connection: close", which libevent 2.1 needs to know to connect again: the next
	 * request then goes on a new connection. */
	v->stale = req->major == 1 && req->minor == 0 &&
		   !connection_says(evhttp_request_get_input_headers(req), "keep-alive");
	body = evhttp_request_get_input_buffer(req);
	len = evbuffer_get_length(body);
	if (len > FETCH_MAX || (v->want && len != v->want)) {
		fail(v, "%s: %zu bytes, not %zu", v->what, len, v->want ? v->want : FETCH_MAX);
		return;
	}
	/* Lent until this callback returns; next() reads it before asking for more. */
	data = len ? evbuffer_pullup(body, -1) : (const uint8_t *)"";
	if (data == NULL) {
		fail(v, "out of memory");
		return;
	}
	v->next(v, data, len);
}

static struct evhttp_connection *connection_new(struct verifier *v)
{
	struct evhttp_connection *c;

	c = evhttp_connection_base_new(v->base, NULL, v->addr, (unsigned short)v->port);
	if (c == NULL)
		return NULL;
	evhttp_connection_set_timeout(c, FETCH_TIMEOUT_S);
	evhttp_connection_set_max_body_size(c, FETCH_MAX);
	evhttp_connection_set_max_headers_size(c, 16384);
	evhttp_connection_set_retries(c, 0);
	return c;
}

/* The request fetch() prepared, from the loop: a connection the server closed is replaced
 * here, outside its own callback. */
static void on_send(evutil_socket_t fd, short what, void *arg)
{
	struct verifier *v = arg;
	struct evhttp_request *req;
	char url[1200];

	(void)fd;
	(void)what;
	if (v->stale) {
		evhttp_connection_free(v->conn);
		v->conn = connection_new(v);
		v->stale = false;
		if (v->conn == NULL) {
			fail(v, "out of memory");
			return;
		}
	}
	snprintf(url, sizeof(url), "%s/%s", v->path, v->what);
	req = evhttp_request_new(on_fetched, v);
	if (req == NULL) {
		fail(v, "out of memory");
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host", v->host_header);
	/* evhttp_make_request frees req when it fails. */
	if (evhttp_make_request(v->conn, req, EVHTTP_REQ_GET, url) < 0)
		fail(v, "%s: the request could not be made", v->what);
}

/* GETs URL/rel; next gets the body (want > 0: exactly that many bytes, else at most
 * FETCH_MAX). */
static void fetch(struct verifier *v, const char *rel, size_t want,
		  void (*next)(struct verifier *v, const uint8_t *data, size_t len))
{
	snprintf(v->what, sizeof(v->what), "%s", rel);
	v->want = want;
	v->next = next;
	event_active(v->send, 0, 0);
}

static void fetch_tile(struct verifier *v, int level, uint64_t n, unsigned w,
		       void (*next)(struct verifier *v, const uint8_t *data, size_t len))
{
	char path[TILE_PATH_MAX];

	if (tile_path(path, sizeof(path), level, n, w) < 0) {
		fail(v, "tile %d/%" PRIu64 ": no path", level, n);
		return;
	}
	fetch(v, path, level == TILE_LEVEL_ENTRIES ? 0 : (size_t)w * MERKLE_HASH_LEN, next);
}

/* ---- the tree as the entries make it ------------------------------------------------------ */

/* tile_source's get over what the entries made: the current bundle's leaves (level 0) and
 * the levels above. */
static int made_get(void *arg, int level, uint64_t n, unsigned w, const uint8_t **data)
{
	struct verifier *v = arg;

	if (level == 0) {
		if (n != v->bundle || w > v->width)
			return -ENOENT;
		*data = v->leaves[0];
		return 0;
	}
	if (level < 0 || level >= LEVELS_MAX || n > v->lvn[level] / TILE_WIDTH ||
	    n * TILE_WIDTH + w > v->lvn[level])
		return -ENOENT;
	*data = v->lv[level] + n * TILE_BYTES;
	return 0;
}

static int made_emit(void *arg, unsigned level, uint64_t index,
		     const uint8_t hash[MERKLE_HASH_LEN])
{
	struct verifier *v = arg;

	if (level == 0)
		return 0;		/* the leaves, in v->leaves already */
	if (level >= LEVELS_MAX || index != v->lvn[level] || index >= v->lvcap[level])
		return -ERANGE;
	memcpy(v->lv[level] + index * MERKLE_HASH_LEN, hash, MERKLE_HASH_LEN);
	v->lvn[level]++;
	return 0;
}

/* ---- the steps ----------------------------------------------------------------------------- */

static void fetch_bundle(struct verifier *v);
static void fetch_upper(struct verifier *v);

static void on_upper_tile(struct verifier *v, const uint8_t *data, size_t len)
{
	if (memcmp(data, v->lv[v->level] + v->tile * TILE_BYTES, len) != 0) {
		fail(v, "%s is not what the entries hash to (a tile was altered)", v->what);
		return;
	}
	v->tiles++;
	v->tile++;
	fetch_upper(v);
}

/* The hash tiles of levels 1.., each compared with what the entries made. */
static void fetch_upper(struct verifier *v)
{
	struct tile_source src = { made_get, v, v->cp.size };
	uint8_t root[MERKLE_HASH_LEN];
	unsigned w;
	int rc;

	while (v->level < LEVELS_MAX && v->lvcap[v->level] > 0) {
		w = tile_width((int)v->level, v->tile, v->cp.size);
		if (w > 0) {
			fetch_tile(v, (int)v->level, v->tile, w, on_upper_tile);
			return;
		}
		v->level++;
		v->tile = 0;
	}
	/* Every tile is what the entries make: the root over them must be the signed one. */
	rc = merkle_root(v->cp.size, tile_reader, &src, root);
	if (rc < 0) {
		fail(v, "the root could not be computed (%s)", strerror(-rc));
		return;
	}
	if (memcmp(root, v->cp.root, MERKLE_HASH_LEN) != 0) {
		fail(v, "the entries and tiles do not hash to the checkpoint's root");
		return;
	}
	done(v);
}

static void on_leaf_tile(struct verifier *v, const uint8_t *data, size_t len)
{
	if (memcmp(data, v->leaves, len) != 0) {
		fail(v, "%s is not what the entries of bundle %" PRIu64 " hash to (the tile or "
		     "the bundle was altered)", v->what, v->bundle);
		return;
	}
	v->tiles++;
	if (v->bundle + 1 == v->nbundles) {
		v->level = 1;
		v->tile = 0;
		fetch_upper(v);
		return;
	}
	v->bundle++;
	fetch_bundle(v);
}

static void on_bundle(struct verifier *v, const uint8_t *data, size_t len)
{
	struct tile_source old = { made_get, v, v->bundle * TILE_WIDTH };
	uint32_t off[TILE_WIDTH];
	uint16_t elen[TILE_WIDTH];
	int rc;

	if (tile_bundle_parse(data, len, v->width, off, elen) < 0) {
		fail(v, "%s does not hold exactly %u entries", v->what, v->width);
		return;
	}
	for (unsigned i = 0; i < v->width; i++) {
		const char *e = (const char *)data + off[i];
		struct feed_entry fe;

		if (feed_entry_parse(e, elen[i], &fe) < 0) {
			fail(v, "%s: entry %" PRIu64 " is not an entry", v->what,
			     v->bundle * TILE_WIDTH + i);
			return;
		}
		if (fe.status == FEED_BLOCKED)
			v->blocked++;
		else
			v->unblocked++;
		v->country[(fe.country[0] - 'A') * 26 + (fe.country[1] - 'A')] = true;
		merkle_leaf_hash(e, elen[i], v->leaves[i]);
		if (v->entries && (fwrite(e, 1, elen[i], v->entries) != elen[i] ||
				   putc('\n', v->entries) == EOF)) {
			fail(v, "--entries: %s", strerror(errno));
			return;
		}
	}
	/* The tiles above gain the hashes this bundle completes. */
	rc = tile_extend(old.size, old.size + v->width, (const uint8_t (*)[MERKLE_HASH_LEN])
			 v->leaves, tile_reader, &old, made_emit, v);
	if (rc < 0) {
		fail(v, "hashing bundle %" PRIu64 " failed (%s)", v->bundle, strerror(-rc));
		return;
	}
	fetch_tile(v, 0, v->bundle, v->width, on_leaf_tile);
}

static void fetch_bundle(struct verifier *v)
{
	v->width = tile_width(TILE_LEVEL_ENTRIES, v->bundle, v->cp.size);
	fetch_tile(v, TILE_LEVEL_ENTRIES, v->bundle, v->width, on_bundle);
}

static void on_checkpoint(struct verifier *v, const uint8_t *data, size_t len)
{
	const struct note_verifier *vs[1] = { v->key };
	struct note_open res;
	int rc;

	if (len > NOTE_MAX) {
		fail(v, "checkpoint: %zu bytes, over %d", len, NOTE_MAX);
		return;
	}
	rc = note_open((const char *)data, len, vs, 1, &res);
	if (rc == -EPERM) {
		fail(v, "checkpoint: %s", res.bad ? "its signature by the key does not verify (a "
		     "forgery, or an altered checkpoint)" : "not signed by the key");
		return;
	}
	if (rc < 0 || checkpoint_parse((const char *)data, res.textlen, &v->cp) < 0) {
		fail(v, "checkpoint: not a signed checkpoint");
		return;
	}
	if (strcmp(v->cp.origin, note_verifier_name(v->key)) != 0) {
		fail(v, "checkpoint: of the log '%.128s', not of the key's '%s'", v->cp.origin,
		     note_verifier_name(v->key));
		return;
	}
	/* One hash per 256^L leaves at each level above the leaves. */
	for (unsigned l = 1; l < LEVELS_MAX; l++) {
		v->lvcap[l] = v->cp.size >> (TILE_HEIGHT * l);
		if (v->lvcap[l] == 0)
			break;
		if (v->lvcap[l] > SIZE_MAX / MERKLE_HASH_LEN ||
		    (v->lv[l] = talloc_size(v, (size_t)v->lvcap[l] * MERKLE_HASH_LEN)) == NULL) {
			fail(v, "out of memory for a tree of %" PRIu64 " entries", v->cp.size);
			return;
		}
	}
	v->nbundles = v->cp.size / TILE_WIDTH + (v->cp.size % TILE_WIDTH != 0);
	if (v->nbundles == 0) {		/* the empty tree: no tile, the root of nothing */
		v->level = 1;
		fetch_upper(v);
		return;
	}
	v->bundle = 0;
	fetch_bundle(v);
}

/* ---- set-up -------------------------------------------------------------------------------- */

/* URL into the connection, the Host header and the path. Returns 0, -EINVAL (a URL we cannot
 * use: usage), -EHOSTUNREACH (a host that does not resolve) or -ENOMEM. */
static int connect_url(struct verifier *v, const char *url_s)
{
	struct evhttp_uri *uri = evhttp_uri_parse(url_s);
	const char *scheme, *host, *path;
	struct addrinfo hints, *res = NULL;
	char name[256], addr[64];
	int port, rc = -EINVAL;
	size_t plen;

	if (uri == NULL)
		goto out;
	scheme = evhttp_uri_get_scheme(uri);
	host = evhttp_uri_get_host(uri);
	path = evhttp_uri_get_path(uri);
	port = evhttp_uri_get_port(uri);
	if (scheme == NULL || strcasecmp(scheme, "http") != 0 || host == NULL || !*host ||
	    evhttp_uri_get_query(uri) || evhttp_uri_get_fragment(uri) ||
	    evhttp_uri_get_userinfo(uri) || strlen(host) >= sizeof(name))
		goto out;
	if (port < 0)
		port = 80;
	plen = path ? strlen(path) : 0;
	while (plen > 0 && path[plen - 1] == '/')
		plen--;
	if (plen >= sizeof(v->path))
		goto out;
	snprintf(v->path, sizeof(v->path), "%.*s", (int)plen, path ? path : "");
	rc = -ENOMEM;
	v->host_header = port == 80 ? talloc_strdup(v, host) :
			 talloc_asprintf(v, "%s:%d", host, port);
	if (v->host_header == NULL)
		goto out;
	/* libevent keeps the brackets of an IPv6 literal; resolved here, blocking, once. */
	if (host[0] == '[')
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(host + 1, "]"), host + 1);
	else
		snprintf(name, sizeof(name), "%s", host);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	rc = -EHOSTUNREACH;
	if (getaddrinfo(name, NULL, &hints, &res) != 0 ||
	    getnameinfo(res->ai_addr, res->ai_addrlen, addr, sizeof(addr), NULL, 0,
			NI_NUMERICHOST) != 0)
		goto out;
	rc = -ENOMEM;
	snprintf(v->addr, sizeof(v->addr), "%s", addr);
	v->port = port;
	v->conn = connection_new(v);
	v->send = event_new(v->base, -1, 0, on_send, v);
	if (v->conn == NULL || v->send == NULL)
		goto out;
	rc = 0;
out:
	if (res)
		freeaddrinfo(res);
	if (uri)
		evhttp_uri_free(uri);
	return rc;
}

static int verifier_free(struct verifier *v)
{
	if (v->send)
		event_free(v->send);
	if (v->conn)
		evhttp_connection_free(v->conn);
	if (v->base)
		event_base_free(v->base);
	if (v->entries && v->entries != stdout)
		fclose(v->entries);
	return 0;
}

static void print_proof(const struct verifier *v)
{
	char root[64];
	unsigned n = 0;

	note_b64_encode(v->cp.root, MERKLE_HASH_LEN, root, sizeof(root));
	printf("origin %s\nsize %" PRIu64 "\nroot %s\n", v->cp.origin, v->cp.size, root);
	printf("signature ok (%s+%08x)\n", note_verifier_name(v->key),
	       (unsigned)note_verifier_id(v->key));
	printf("entries %" PRIu64 " (blocked %" PRIu64 ", unblocked %" PRIu64 "; countries ",
	       v->cp.size, v->blocked, v->unblocked);
	for (unsigned i = 0; i < 26 * 26; i++)
		if (v->country[i])
			printf("%s%c%c", n++ ? "," : "", 'A' + i / 26, 'A' + i % 26);
	printf("%s)\n", n ? "" : "none");
	printf("bundles %" PRIu64 " checked\ntiles %lu checked\nverified\n", v->nbundles,
	       v->tiles);
}

int feed_verify_main(void *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "entries", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *entries_path = NULL;
	struct verifier *v;
	char err[256];
	int o, rc;

	optind = 1;
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'e': entries_path = optarg; break;
		case 'h': verify_usage(stdout); return FEED_EXIT_OK;
		default: verify_usage(stderr); return FEED_EXIT_USAGE;
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr, "ceirgwctl feed verify: expected URL and KEY\n");
		return FEED_EXIT_USAGE;
	}
	v = talloc_zero(ctx, struct verifier);
	if (v == NULL) {
		fprintf(stderr, "ceirgwctl feed verify: out of memory\n");
		return FEED_EXIT_ERROR;
	}
	talloc_set_destructor(v, verifier_free);
	v->key = note_verifier_new(v, argv[optind + 1], err, sizeof(err));
	if (v->key == NULL || note_verifier_alg(v->key) != NOTE_ED25519) {
		fprintf(stderr, "ceirgwctl feed verify: KEY: %s\n", v->key ? "not an Ed25519 "
			"verifier key (type 0x01), but a cosignature key" : err);
		talloc_free(v);
		return FEED_EXIT_USAGE;
	}
	v->base = event_base_new();
	if (v->base == NULL) {
		fprintf(stderr, "ceirgwctl feed verify: cannot create the event loop\n");
		talloc_free(v);
		return FEED_EXIT_ERROR;
	}
	rc = connect_url(v, argv[optind]);
	if (rc == -EINVAL) {
		fprintf(stderr, "ceirgwctl feed verify: URL: expected http://HOST[:PORT][/PATH], "
			"not %s\n", argv[optind]);
		talloc_free(v);
		return FEED_EXIT_USAGE;
	}
	if (rc < 0) {
		printf("not verified: %s\n", rc == -EHOSTUNREACH ? "the URL's host does not "
		       "resolve" : "out of memory");
		talloc_free(v);
		return FEED_EXIT_ERROR;
	}
	if (entries_path) {
		v->entries = strcmp(entries_path, "-") == 0 ? stdout : fopen(entries_path, "w");
		if (v->entries == NULL) {
			fprintf(stderr, "ceirgwctl feed verify: --entries %s: %s\n", entries_path,
				strerror(errno));
			talloc_free(v);
			return FEED_EXIT_USAGE;
		}
	}
	fetch(v, "checkpoint", 0, on_checkpoint);
	if (event_base_dispatch(v->base) < 0)
		fail(v, "the event loop failed");
	if (!v->failed && v->entries && v->entries != stdout) {
		FILE *f = v->entries;

		v->entries = NULL;
		if (fclose(f) != 0)
			fail(v, "--entries: %s", strerror(errno));
	}
	if (!v->failed && !v->verified)
		fail(v, "the audit stopped before its end");
	if (v->failed)
		printf("not verified: %s\n", v->why);
	else
		print_proof(v);
	rc = v->failed ? FEED_EXIT_ERROR : FEED_EXIT_OK;
	talloc_free(v);
	if (fflush(stdout) != 0)
		return FEED_EXIT_ERROR;
	return rc;
}
