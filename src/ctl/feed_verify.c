/* `ceirgwctl feed verify URL KEY`: an audit of any feed from scratch (issue 19), trusting
 * nothing but KEY: the checkpoint's signature (C2SP signed-note, Ed25519) and origin
 * (tlog-checkpoint), every entry bundle read strictly (tlog-tiles, feed/entry.h), every hash
 * tile of the tree compared byte for byte with what the entries hash to (RFC 9162's tree,
 * built with tile_extend), and the root over those tiles compared with the signed one.
 *
 * Up to WINDOW requests at once, one per connection (libevent's HTTP client, in ceirgwctl's
 * own event loop; a new connection when an HTTP/1.0 server closed the last), each bounded
 * (FETCH_MAX, FETCH_TIMEOUT_S); their answers are taken in the order they were asked for.
 * Memory is bounded too: bundles are taken one by one, in order, and only the last bundle's
 * leaf hashes, the answers in the window and the hashes of the tile levels above (one per 256
 * leaves) are kept. */
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
		"REASON'. No configuration is read. Up to 4 requests at once; each response\n"
		"is taken up to 1 MiB, each request given 10 s.\n"
		"\n"
		"  --entries FILE  write the entries, one per line, in log order, to FILE\n"
		"  -h, --help      show this help\n"
		"\n"
		"Exit status: 0 when verified, 1 when not (or URL could not be read), 2 on a\n"
		"usage error (a URL or KEY that does not parse).\n");
}

/* Requests in flight at once, each on its own connection: a wide link is kept busy, and a
 * small server is not flooded (python3 -m http.server listens with a backlog of 5: 8 new
 * connections at once lose SYNs and wait out their retransmission, 30 times slower). */
#define WINDOW 4
#define JOB_CHECKPOINT (-2)		/* a job's level: the checkpoint */

struct verifier;

/* A connection: one request at a time (an HTTP/1.0 server closes after each). */
struct conn {
	struct evhttp_connection *c;
	bool busy;
	bool stale;			/* the server closes after each answer (HTTP/1.0) */
};

/* A file asked for: its answer is kept until every earlier file was taken in order. */
struct job {
	struct verifier *v;
	int level;			/* JOB_CHECKPOINT, TILE_LEVEL_ENTRIES or a tile level */
	uint64_t n;
	unsigned w;
	char what[TILE_PATH_MAX];
	bool arrived;
	int code;			/* the HTTP status; 0: no answer */
	uint8_t *data;			/* the body, when 200 */
	size_t len;
	struct conn *conn;
};

struct verifier {
	struct event_base *base;
	struct event *pump;		/* requests go out and answers are taken from here, not
					 * from the callbacks of the requests */
	struct conn conns[WINDOW];
	struct job jobs[WINDOW];	/* a ring: head, the oldest asked for */
	unsigned head, njobs;
	char addr[64];
	int port;
	char *host_header;
	char path[1024];		/* URL's path, without a trailing '/' */
	struct note_verifier *key;
	FILE *entries;
	/* The checkpoint. */
	struct checkpoint cp;
	bool have_cp;
	/* What to ask for next: the checkpoint; then bundle n and level-0 tile n in turn; then
	 * the tiles of levels 1.. */
	int gen_level;
	uint64_t gen_n;
	bool gen_started;
	/* The bundle last taken: its index, width and leaf hashes (the level-0 tile). */
	uint64_t bundle, nbundles;
	unsigned width;
	uint8_t leaves[TILE_WIDTH][MERKLE_HASH_LEN];
	/* The hashes of tile levels 1.. (one per 256^L leaves), as the entries make them. */
	uint8_t *lv[LEVELS_MAX];
	uint64_t lvn[LEVELS_MAX], lvcap[LEVELS_MAX];
	/* What was proved. */
	uint64_t blocked, unblocked;
	bool country[26 * 26];
	unsigned long tiles;
	bool failed;
	bool verified;			/* set only at the end of the last step */
	char why[400];
};

static void fail(struct verifier *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The audit ends: why, and the loop stops. */
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

/* ---- fetching ------------------------------------------------------------------------- */

/* Whether a Connection header says token. */
static bool connection_says(struct evkeyvalq *headers, const char *token)
{
	const char *c = evhttp_find_header(headers, "Connection");

	return c != NULL && strcasecmp(c, token) == 0;
}

/* An answer: kept in its job, taken in order by the pump. */
static void on_fetched(struct evhttp_request *req, void *arg)
{
	struct job *j = arg;
	struct verifier *v = j->v;
	struct evbuffer *body;

	j->conn->busy = false;
	j->arrived = true;
	j->code = req ? evhttp_request_get_response_code(req) : 0;
	if (j->code == 0)
		goto out;
	/* An HTTP/1.0 server (python3 -m http.server) closes after each answer without saying
	 * "Connection: close", which libevent 2.1 needs to know to connect again: the next
	 * request on this connection goes on a new one. */
	j->conn->stale = req->major == 1 && req->minor == 0 &&
			 !connection_says(evhttp_request_get_input_headers(req), "keep-alive");
	if (j->code != 200)
		goto out;
	body = evhttp_request_get_input_buffer(req);
	j->len = evbuffer_get_length(body);
	if (j->len > FETCH_MAX) {
		j->code = 0;
		goto out;
	}
	j->data = talloc_size(v, j->len ? j->len : 1);
	if (j->data == NULL || evbuffer_remove(body, j->data, j->len) != (int)j->len) {
		fail(v, "out of memory");
		return;
	}
out:
	event_active(v->pump, 0, 0);
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

/* Asks for job j on connection c (idle: here, outside its callbacks, a connection the server
 * closed is replaced). */
static void job_send(struct verifier *v, struct job *j, struct conn *c)
{
	struct evhttp_request *req;
	char url[1200];

	if (c->c == NULL || c->stale) {
		if (c->c)
			evhttp_connection_free(c->c);
		c->c = connection_new(v);
		c->stale = false;
		if (c->c == NULL) {
			fail(v, "out of memory");
			return;
		}
	}
	snprintf(url, sizeof(url), "%s/%s", v->path, j->what);
	req = evhttp_request_new(on_fetched, j);
	if (req == NULL) {
		fail(v, "out of memory");
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host", v->host_header);
	/* Before the request: a connection that fails at once may answer it from inside. */
	c->busy = true;
	j->conn = c;
	/* evhttp_make_request frees req when it fails. */
	if (evhttp_make_request(c->c, req, EVHTTP_REQ_GET, url) < 0)
		fail(v, "%s: the request could not be made", j->what);
}

/* The next file to ask for, in the order they are taken: false when there is none now (the
 * checkpoint is awaited) or none left. */
static bool job_next(struct verifier *v, struct job *j)
{
	unsigned w;

	if (!v->gen_started) {
		v->gen_started = true;
		*j = (struct job){ .v = v, .level = JOB_CHECKPOINT };
		snprintf(j->what, sizeof(j->what), "checkpoint");
		return true;
	}
	if (!v->have_cp)
		return false;
	for (;;) {
		if (v->gen_level <= 0 && v->gen_n >= v->nbundles) {
			v->gen_level = 1;
			v->gen_n = 0;
		}
		if (v->gen_level > 0 && (v->gen_level >= LEVELS_MAX || v->lvcap[v->gen_level] == 0))
			return false;
		w = tile_width(v->gen_level, v->gen_n, v->cp.size);
		if (w > 0)
			break;
		v->gen_level++;
		v->gen_n = 0;
	}
	*j = (struct job){ .v = v, .level = v->gen_level, .n = v->gen_n, .w = w };
	if (tile_path(j->what, sizeof(j->what), j->level, j->n, w) < 0) {
		fail(v, "tile %d/%" PRIu64 ": no path", j->level, j->n);
		return false;
	}
	/* Bundle n, then its level-0 tile, then bundle n + 1; above level 0, one by one. */
	if (v->gen_level == TILE_LEVEL_ENTRIES) {
		v->gen_level = 0;
	} else {
		if (v->gen_level == 0)
			v->gen_level = TILE_LEVEL_ENTRIES;
		v->gen_n++;
	}
	return true;
}

/* ---- the tree as the entries make it ------------------------------------------------------ */

/* tile_source's get over what the entries made: the last bundle's leaves (level 0) and the
 * levels above. */
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

/* ---- taking each file ------------------------------------------------------------------------ */

static void on_upper_tile(struct verifier *v, const struct job *j)
{
	if (memcmp(j->data, v->lv[j->level] + j->n * TILE_BYTES, j->len) != 0) {
		fail(v, "%s is not what the entries hash to (a tile was altered)", j->what);
		return;
	}
	v->tiles++;
}

static void on_leaf_tile(struct verifier *v, const struct job *j)
{
	if (j->n != v->bundle || memcmp(j->data, v->leaves, j->len) != 0) {
		fail(v, "%s is not what the entries of bundle %" PRIu64 " hash to (the tile or "
		     "the bundle was altered)", j->what, j->n);
		return;
	}
	v->tiles++;
}

static void on_bundle(struct verifier *v, const struct job *j)
{
	struct tile_source old = { made_get, v, j->n * TILE_WIDTH };
	uint32_t off[TILE_WIDTH];
	uint16_t elen[TILE_WIDTH];
	int rc;

	v->bundle = j->n;
	v->width = j->w;
	if (tile_bundle_parse(j->data, j->len, v->width, off, elen) < 0) {
		fail(v, "%s does not hold exactly %u entries", j->what, v->width);
		return;
	}
	for (unsigned i = 0; i < v->width; i++) {
		const char *e = (const char *)j->data + off[i];
		struct feed_entry fe;

		if (feed_entry_parse(e, elen[i], &fe) < 0) {
			fail(v, "%s: entry %" PRIu64 " is not an entry", j->what,
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
	if (rc < 0)
		fail(v, "hashing bundle %" PRIu64 " failed (%s)", v->bundle, strerror(-rc));
}

static void on_checkpoint(struct verifier *v, const struct job *j)
{
	const struct note_verifier *vs[1] = { v->key };
	struct note_open res;
	int rc;

	if (j->len > NOTE_MAX) {
		fail(v, "checkpoint: %zu bytes, over %d", j->len, NOTE_MAX);
		return;
	}
	rc = note_open((const char *)j->data, j->len, vs, 1, &res);
	if (rc == -EPERM) {
		fail(v, "checkpoint: %s", res.bad ? "its signature by the key does not verify (a "
		     "forgery, or an altered checkpoint)" : "not signed by the key");
		return;
	}
	if (rc < 0 || checkpoint_parse((const char *)j->data, res.textlen, &v->cp) < 0) {
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
	v->gen_level = TILE_LEVEL_ENTRIES;
	v->gen_n = 0;
	v->have_cp = true;
}

/* Every file was what the entries make: the root over the tiles must be the signed one. */
static void finish(struct verifier *v)
{
	struct tile_source src = { made_get, v, v->cp.size };
	uint8_t root[MERKLE_HASH_LEN];
	int rc;

	rc = merkle_root(v->cp.size, tile_reader, &src, root);
	if (rc < 0) {
		fail(v, "the root could not be computed (%s)", strerror(-rc));
		return;
	}
	if (memcmp(root, v->cp.root, MERKLE_HASH_LEN) != 0) {
		fail(v, "the entries and tiles do not hash to the checkpoint's root");
		return;
	}
	v->verified = true;
	event_base_loopbreak(v->base);
}

static void job_take(struct verifier *v, struct job *j)
{
	if (j->code == 0) {
		fail(v, "%s: no answer (refused, timed out, cut short or over %d bytes)", j->what,
		     FETCH_MAX);
		return;
	}
	if (j->code != 200) {
		fail(v, "%s: HTTP %d", j->what, j->code);
		return;
	}
	if (j->level >= 0 && j->len != (size_t)j->w * MERKLE_HASH_LEN) {
		fail(v, "%s: %zu bytes, not %zu", j->what, j->len, (size_t)j->w * MERKLE_HASH_LEN);
		return;
	}
	if (j->level == JOB_CHECKPOINT)
		on_checkpoint(v, j);
	else if (j->level == TILE_LEVEL_ENTRIES)
		on_bundle(v, j);
	else if (j->level == 0)
		on_leaf_tile(v, j);
	else
		on_upper_tile(v, j);
}

/* Takes the answers that arrived, in the order they were asked for, then asks for more, up to
 * WINDOW at once. */
static void on_pump(evutil_socket_t fd, short what, void *arg)
{
	struct verifier *v = arg;
	struct job next;

	(void)fd;
	(void)what;
	while (!v->failed && v->njobs > 0 && v->jobs[v->head].arrived) {
		struct job *j = &v->jobs[v->head];

		job_take(v, j);
		TALLOC_FREE(j->data);
		v->head = (v->head + 1) % WINDOW;
		v->njobs--;
	}
	while (!v->failed && v->njobs < WINDOW && job_next(v, &next)) {
		struct job *j = &v->jobs[(v->head + v->njobs) % WINDOW];
		struct conn *c = NULL;

		for (unsigned i = 0; i < WINDOW && c == NULL; i++)
			if (!v->conns[i].busy)
				c = &v->conns[i];
		/* A job in the window that has not arrived holds a connection: never short. */
		if (c == NULL) {
			fail(v, "no connection free");
			break;
		}
		*j = next;
		v->njobs++;
		job_send(v, j, c);
	}
	if (!v->failed && v->njobs == 0 && v->have_cp)
		finish(v);
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
	v->pump = event_new(v->base, -1, 0, on_pump, v);
	if (v->pump == NULL)
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
	if (v->pump)
		event_free(v->pump);
	for (unsigned i = 0; i < WINDOW; i++)
		if (v->conns[i].c)
			evhttp_connection_free(v->conns[i].c);
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
	event_active(v->pump, 0, 0);
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
