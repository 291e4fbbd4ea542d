/* The daemon's life: start in order (Redis, store, HTTP, signals), serve, stop in reverse
 * order. Signals arrive through libevent (evsignal), so handlers run in the loop and may log
 * and allocate. */
#include "config.h"
#include "app/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <talloc.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "channel/channels.h"
#include "channel/http.h"
#include "core/gw.h"
#include "core/json.h"
#include "core/logging.h"
#include "core/metrics.h"
#include "core/redis_url.h"
#include "domain/kyc.h"
#include "domain/msisdn_memo.h"
#include "domain/tac.h"
#include "flow/engine.h"
#include "store/redis_embed.h"
#include "store/store.h"

struct daemon {
	struct ceirgw_config *cfg;
	struct config_overrides ov;	/* kept for reloads: the command line still wins */
	struct tac_table *tac;
	struct event_base *base;
	struct redis_embed *embed;
	struct store *store;
	struct http_server *http;
	struct http_server *admin;	/* admin-listen: /metrics, /healthz */
	struct journeys *journeys;
	struct engine *engine;
	struct channels ch;
	uint8_t kyc_key[1024];
	int kyc_keylen;
	struct event *sig[4];
	struct event *gwlog;		/* libgw's log pipe (core/gw.h) */
	const char *tac_source;		/* "file", or "redis" once an imported table is read */
	time_t started;
	unsigned reloads;
	int exit_code;
};

static int apply_logging(const struct ceirgw_config *cfg, char *err, size_t errsz)
{
	int rc;

	logging_set_level(cfg->log_level);
	rc = logging_set_file(cfg->log_file);
	if (rc < 0) {
		snprintf(err, errsz, "%s: %s", cfg->log_file, strerror(-rc));
		return rc;
	}
	logging_set_format(cfg->log_format);
	return 0;
}

static struct tac_table *load_tac(void *ctx, const char *path, char *err, size_t errsz)
{
	struct tac_load_stats st;
	struct timespec t0, t1;
	struct tac_table *t;
	char why[256];

	clock_gettime(CLOCK_MONOTONIC, &t0);
	t = tac_table_load(ctx, path, &st, why, sizeof(why));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (t == NULL) {
		snprintf(err, errsz, "TAC table: %s", why);
		return NULL;
	}
	LOGP(LOGC_MAIN, LOGL_INFO, "TAC table %s: %zu entries in %.1f ms (%zu rows, %zu rejected "
	     "from line %zu, %zu duplicates)", path, st.loaded,
	     (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6,
	     st.rows, st.rejected, st.first_bad_line, st.duplicates);
	if (st.padded)
		LOGP(LOGC_MAIN, LOGL_NOTICE, "TAC table %s: %zu TACs of fewer than 8 digits padded "
		     "with leading zeros (%zu left out: the same TAC written with 8 digits wins)",
		     path, st.padded, st.padded_dropped);
	return t;
}

static void log_problem(void *arg, const char *flow, const char *screen, const char *lang,
			const char *msg)
{
	(void)arg;
	LOGP(LOGC_FLOW, LOGL_ERROR, "flow %s%s%s%s%s: %s", flow, screen ? ", screen " : "",
	     screen ? screen : "", lang ? ", language " : "", lang ? lang : "", msg);
}

/* The flow and the texts, checked together; the log names every problem. */
static struct journeys *load_journeys(void *ctx, const struct ceirgw_config *cfg, char *err,
				      size_t errsz)
{
	const char *fd = cfg->flows_dir ? cfg->flows_dir : config_default_dir("flows");
	const char *td = cfg->templates_dir ? cfg->templates_dir :
			 config_default_dir("templates");
	struct journeys *j = journeys_load(ctx, fd, td, cfg->default_language, log_problem, NULL,
					   err, errsz);

	if (j)
		LOGP(LOGC_FLOW, LOGL_INFO, "flow %s (%zu screens) from %s, texts from %s",
		     j->flow->name, j->flow->nscreens, fd, td);
	return j;
}

/* The HMAC key for national IDs and PINs. With the embedded Redis, data-dir/kyc.key is
 * made on first start (32 random bytes, hex, mode 0600), and ceirgwctl import kyc uses the
 * same file. Returns the key's length, 0 when there is none (logged), -errno on error. */
static int load_kyc_key(struct daemon *d, char *err, size_t errsz)
{
	char *path = config_kyc_key_file(d, d->cfg);
	int n;

	if (path == NULL) {
		LOGP(LOGC_CONFIG, LOGL_WARN, "no kyc-key-file: reports and unblocks answer "
		     "\"unavailable\" until one is set");
		return 0;
	}
	if (d->cfg->kyc_key_file == NULL && access(path, F_OK) < 0) {
		uint8_t raw[32];
		char hex[66];
		int fd;

		if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
			snprintf(err, errsz, "%s: no random bytes", path);
			return -EIO;
		}
		for (size_t i = 0; i < sizeof(raw); i++)
			snprintf(hex + 2 * i, 3, "%02x", raw[i]);
		hex[64] = '\n';
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 || write(fd, hex, 65) != 65 || close(fd) < 0) {
			snprintf(err, errsz, "%s: %s", path, strerror(errno));
			return -errno;
		}
		LOGP(LOGC_CONFIG, LOGL_NOTICE, "made a new KYC key in %s: keep it with the data",
		     path);
	}
	n = kyc_read_key(path, d->kyc_key, sizeof(d->kyc_key), err, errsz);
	return n;
}

struct daemon *daemon_create(void *ctx, const char *path, const struct config_overrides *ov,
			     char *err, size_t errsz)
{
	struct daemon *d = talloc_zero(ctx, struct daemon);

	if (d == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	if (ov)
		d->ov = *ov;
	d->cfg = config_load(d, path, ov, err, errsz);
	if (d->cfg == NULL || apply_logging(d->cfg, err, errsz) < 0)
		goto fail;
	d->tac = load_tac(d, d->cfg->tac_file, err, errsz);
	if (d->tac == NULL)
		goto fail;
	d->tac_source = "file";
	d->journeys = load_journeys(d, d->cfg, err, errsz);
	if (d->journeys == NULL)
		goto fail;
	d->ch.keys = api_keys_load(d, d->cfg->api_keys_file, err, errsz);
	if (d->ch.keys == NULL)
		goto fail;
	return d;
fail:
	talloc_free(d);
	return NULL;
}

const struct ceirgw_config *daemon_config(const struct daemon *d)
{
	return d->cfg;
}

/* Values that live objects were built from: a reload reports a change and keeps them. */
static void keep_restart_only(struct daemon *d, struct ceirgw_config *next)
{
	struct {
		const char *name;
		char **cur, **nxt;
	} f[] = {
		{ "http-listen", &d->cfg->http_listen, &next->http_listen },
		{ "admin-listen", &d->cfg->admin_listen, &next->admin_listen },
		{ "redis", &d->cfg->redis, &next->redis },
		{ "redis-cluster", &d->cfg->redis_cluster, &next->redis_cluster },
		{ "redis-replicas-ack", &d->cfg->redis_replicas_ack_s, &next->redis_replicas_ack_s },
		{ "redis-replicas-timeout", &d->cfg->redis_replicas_timeout_s,
		  &next->redis_replicas_timeout_s },
		{ "bearerbox", &d->cfg->bearerbox, &next->bearerbox },
		{ "data-dir", &d->cfg->data_dir, &next->data_dir },
		{ "redis-server", &d->cfg->redis_server, &next->redis_server },
		{ "redis-timeout", &d->cfg->redis_timeout_s, &next->redis_timeout_s },
		/* The store addresses buckets with it; the data was imported with it. */
		{ "pairing-bucket-digits", &d->cfg->pairing_bucket_digits_s,
		  &next->pairing_bucket_digits_s },
		{ "kyc-key-file", &d->cfg->kyc_key_file, &next->kyc_key_file },
		{ "sendsms-url", &d->cfg->sendsms_url, &next->sendsms_url },
		{ "ceir-results-stream", &d->cfg->ceir_results, &next->ceir_results },
		{ "ceir-group", &d->cfg->ceir_group, &next->ceir_group },
		/* The box parses these when it starts. */
		{ "ussd-tlv-type", &d->cfg->ussd_tlv_type, &next->ussd_tlv_type },
		{ "ussd-op-begin", &d->cfg->ussd_op_begin, &next->ussd_op_begin },
		{ "ussd-op-answer", &d->cfg->ussd_op_answer, &next->ussd_op_answer },
		{ "ussd-op-release", &d->cfg->ussd_op_release, &next->ussd_op_release },
		{ "ussd-op-continue", &d->cfg->ussd_op_continue, &next->ussd_op_continue },
		{ "ussd-op-end", &d->cfg->ussd_op_end, &next->ussd_op_end },
	};
	size_t i;

	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		const char *a = *f[i].cur ? *f[i].cur : "", *b = *f[i].nxt ? *f[i].nxt : "";

		if (strcmp(a, b) == 0)
			continue;
		LOGP(LOGC_CONFIG, LOGL_WARN, "reload: %s changed; it takes effect at the next "
		     "restart", f[i].name);
		*f[i].nxt = *f[i].cur ? talloc_strdup(next, *f[i].cur) : NULL;
	}
	memcpy(next->http_host, d->cfg->http_host, sizeof(next->http_host));
	next->http_port = d->cfg->http_port;
	memcpy(next->admin_host, d->cfg->admin_host, sizeof(next->admin_host));
	next->admin_port = d->cfg->admin_port;
	next->pairing_bucket_digits = d->cfg->pairing_bucket_digits;
	next->redis_timeout = d->cfg->redis_timeout;
	next->redis_replicas_ack = d->cfg->redis_replicas_ack;
	next->redis_replicas_timeout = d->cfg->redis_replicas_timeout;
}

static void on_tac_fetched(void *arg, int err, const void *text, size_t len, bool found)
{
	struct daemon *d = arg;
	struct tac_load_stats st;
	struct tac_table *t;
	char why[256];

	if (err < 0) {
		LOGP(LOGC_MAIN, LOGL_WARN, "TAC table in Redis not read (%s); keeping the %s one",
		     strerror(-err), d->tac_source);
		return;
	}
	if (!found)
		return;		/* none imported: tac-file it is */
	t = tac_table_parse(d, text, len, &st, why, sizeof(why));
	if (t == NULL) {
		LOGP(LOGC_MAIN, LOGL_ERROR, "TAC table in Redis: %s; keeping the %s one", why,
		     d->tac_source);
		return;
	}
	if (st.padded)
		LOGP(LOGC_MAIN, LOGL_NOTICE, "TAC table in Redis: %zu TACs of fewer than 8 digits "
		     "padded with leading zeros (%zu left out: the same TAC written with 8 digits "
		     "wins)", st.padded, st.padded_dropped);
	talloc_free(d->tac);
	d->tac = t;
	d->tac_source = "redis";
	if (d->engine)
		engine_set_tac(d->engine, t);
	LOGP(LOGC_MAIN, LOGL_NOTICE, "TAC table from Redis (ceirgwctl import tac): %zu entries",
	     st.loaded);
}

/* An imported TAC table in Redis wins over tac-file: every process then serves the same. */
static void fetch_tac(void *arg)
{
	struct daemon *d = arg;
	int rc = store_tac_fetch(d->store, on_tac_fetched, d);

	if (rc < 0)
		LOGP(LOGC_MAIN, LOGL_WARN, "TAC table in Redis not read now: %s", strerror(-rc));
}

/* Room for every connection http-max-connections allows, Redis's, the box's and the files:
 * the soft descriptor limit is raised towards the hard one when it is lower (a shell's 1024
 * is the common case), so that the cap, not EMFILE, is what refuses a flood. */
static void raise_fd_limit(const struct ceirgw_config *cfg)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)cfg->http_max_connections + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
		want = rl.rlim_max;
	if (want > rl.rlim_cur) {
		rl.rlim_cur = want;
		if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
			LOGP(LOGC_MAIN, LOGL_INFO, "descriptor limit raised to %llu",
			     (unsigned long long)want);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur < (rlim_t)cfg->http_max_connections + 256)
		LOGP(LOGC_MAIN, LOGL_WARN, "descriptor limit %llu is below http-max-connections "
		     "+ 256: a flood may meet EMFILE before the cap (raise LimitNOFILE)",
		     (unsigned long long)rl.rlim_cur);
}

static void http_limits_of(const struct ceirgw_config *cfg, struct http_limits *lim)
{
	lim->max_connections = (unsigned)cfg->http_max_connections;
	lim->request_timeout = (unsigned)cfg->http_request_timeout;
	lim->idle_timeout = (unsigned)cfg->http_idle_timeout;
	lim->trusted = cfg->http_allow_ip;
	lim->max_per_address = (unsigned)cfg->http_max_per_address;
}

/* The admin listener serves Prometheus and the operator's own probes: a few connections,
 * nobody trusted above the others. */
#define ADMIN_MAX_CONNECTIONS 16

static void admin_limits_of(const struct ceirgw_config *cfg, struct http_limits *lim)
{
	memset(lim, 0, sizeof(*lim));
	lim->max_connections = ADMIN_MAX_CONNECTIONS;
	lim->request_timeout = (unsigned)cfg->http_request_timeout;
	lim->idle_timeout = (unsigned)cfg->http_idle_timeout;
	lim->max_per_address = ADMIN_MAX_CONNECTIONS;
}

static void foreign_countries(struct daemon *d);

static void reload(struct daemon *d)
{
	struct ceirgw_config *next;
	struct tac_table *tac;
	struct journeys *j;
	struct api_keys *keys;
	char err[512];

	LOGP(LOGC_CONFIG, LOGL_NOTICE, "SIGHUP: reloading %s",
	     d->cfg->path ? d->cfg->path : "built-in defaults");
	next = config_load(d, d->cfg->path, &d->ov, err, sizeof(err));
	if (next == NULL) {
		LOGP(LOGC_CONFIG, LOGL_ERROR, "reload failed, the running configuration stays: %s",
		     err);
		return;
	}
	tac = load_tac(d, next->tac_file, err, sizeof(err));
	if (tac == NULL) {
		LOGP(LOGC_CONFIG, LOGL_ERROR, "reload failed, the running configuration stays: %s",
		     err);
		talloc_free(next);
		return;
	}
	keep_restart_only(d, next);
	j = load_journeys(d, next, err, sizeof(err));
	keys = j ? api_keys_load(d, next->api_keys_file, err, sizeof(err)) : NULL;
	if (j == NULL || keys == NULL) {
		LOGP(LOGC_CONFIG, LOGL_ERROR, "reload failed, the running flows, texts and "
		     "configuration stay: %s", err);
		talloc_free(j);
		talloc_free(tac);
		talloc_free(next);
		return;
	}
	/* The last step that can fail: the feed-peers' groups, checked before any is changed. */
	if (d->ch.peers && peers_reload(d->ch.peers, next, err, sizeof(err)) < 0) {
		LOGP(LOGC_CONFIG, LOGL_ERROR, "reload failed, the running feed-peers and "
		     "configuration stay: %s", err);
		talloc_free(keys);
		talloc_free(j);
		talloc_free(tac);
		talloc_free(next);
		return;
	}
	if (apply_logging(next, err, sizeof(err)) < 0) {
		LOGP(LOGC_CONFIG, LOGL_ERROR, "reload: %s; logging stays as it was", err);
		apply_logging(d->cfg, err, sizeof(err));
	}
	talloc_free(d->tac);
	d->tac = tac;
	d->tac_source = "file";
	/* Requests in flight hold a reference to the old flows: they go when the last ends. */
	talloc_unlink(d, d->journeys);
	d->journeys = j;
	talloc_free(d->ch.keys);
	d->ch.keys = keys;
	if (d->ch.msisdn && strcmp(d->cfg->default_region, next->default_region) != 0) {
		struct msisdn_memo *memo = msisdn_memo_new(d, next->default_region,
							   MSISDN_MEMO_BLOCKS);

		if (memo) {
			talloc_free(d->ch.msisdn);
			d->ch.msisdn = memo;
		}
	}
	talloc_free(d->cfg);
	d->cfg = next;
	d->ch.cfg = next;
	if (d->http) {
		struct http_limits lim;

		http_limits_of(next, &lim);
		http_server_set_limits(d->http, &lim);
	}
	if (d->admin) {
		struct http_limits lim;

		admin_limits_of(next, &lim);
		http_server_set_limits(d->admin, &lim);
	}
	if (d->engine) {
		engine_set_config(d->engine, next);
		engine_set_journeys(d->engine, j);
		engine_set_tac(d->engine, d->tac);
	}
	if (d->store)
		foreign_countries(d);	/* the feed-peers' countries a check reads */
	d->reloads++;
	if (store_is_up(d->store))
		fetch_tac(d);
	LOGP(LOGC_CONFIG, LOGL_NOTICE, "reload %u done", d->reloads);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	int status;
	pid_t pid;

	switch (sig) {
	case SIGTERM:
	case SIGINT:
		LOGP(LOGC_MAIN, LOGL_NOTICE, "%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
		event_base_loopexit(d->base, NULL);
		break;
	case SIGHUP:
		reload(d);
		break;
	case SIGCHLD:
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			if (d->embed && pid == redis_embed_pid(d->embed)) {
				redis_embed_reaped(d->embed);
				LOGP(LOGC_STORE, LOGL_ERROR, "the embedded redis-server exited "
				     "(status %d); stopping: nothing is lost, its append-only file "
				     "stays in %s", status, d->cfg->data_dir);
				d->exit_code = -ECHILD;
				event_base_loopexit(d->base, NULL);
			}
		}
		break;
	}
}

static void healthz(struct http_req *req, void *arg)
{
	struct daemon *d = arg;
	bool up = store_is_up(d->store);
	struct json_buf jb;

	if (http_req_method(req) != HTTP_REQ_GET && http_req_method(req) != HTTP_REQ_HEAD) {
		http_reply_error(req, 405, "Method Not Allowed", "use GET");
		return;
	}
	json_init(&jb);
	json_object_begin(&jb);
	json_key_cstr(&jb, "status", up ? "ok" : "unavailable");
	json_key_cstr(&jb, "version", PACKAGE_VERSION);
	json_key_cstr(&jb, "redis", up ? "up" : "down");
	json_key_cstr(&jb, "redis_mode", d->embed ? "embedded" :
		      d->cfg->redis_cluster ? "cluster" : "external");
	json_key_int(&jb, "tac_entries", (long long)tac_table_size(d->tac));
	json_key_cstr(&jb, "tac_source", d->tac_source);
	json_key_int(&jb, "reloads", d->reloads);
	json_key_int(&jb, "uptime_s", (long long)(time(NULL) - d->started));
	if (d->ch.box) {
		const struct box_stats *bs = box_stats(d->ch.box);

		json_key_cstr(&jb, "bearerbox", box_connected(d->ch.box) ? "connected" :
			      "disconnected");
		json_key_int(&jb, "box_connects", (long long)bs->connects);
		json_key_int(&jb, "box_mo_received", (long long)bs->mo_received);
		json_key_int(&jb, "box_mo_acked", (long long)bs->mo_acked);
		json_key_int(&jb, "box_mo_retry", (long long)bs->mo_retry);
		json_key_int(&jb, "box_mo_repeated", (long long)bs->mo_repeated);
		json_key_int(&jb, "box_mt_queued", (long long)bs->mt_queued);
		json_key_int(&jb, "box_mt_acked", (long long)bs->mt_acked);
		json_key_int(&jb, "box_mt_refused", (long long)bs->mt_refused);
		json_key_int(&jb, "box_outbox_queued", (long long)bs->pushes_queued);
		json_key_int(&jb, "box_outbox_sent", (long long)bs->pushes_sent);
		json_key_int(&jb, "box_mt_lost", (long long)bs->mt_lost);
	}
	if (d->ch.feed) {
		struct feed_stats fs;

		feed_status(d->ch.feed, &fs);
		json_key_int(&jb, "feed_size", (long long)fs.published);
		json_key_int(&jb, "feed_checkpoints", (long long)fs.rounds);
		json_key_int(&jb, "feed_errors", (long long)fs.errors);
	}
	for (size_t i = 0; i < peers_count(d->ch.peers); i++) {
		struct peer_status ps;
		char key[48];

		/* Flat keys, as the rest: peer_1_origin, peer_1_state, ... */
		peers_status(d->ch.peers, i, &ps);
		snprintf(key, sizeof(key), "peer_%zu_origin", i + 1);
		json_key_cstr(&jb, key, ps.origin);
		snprintf(key, sizeof(key), "peer_%zu_country", i + 1);
		json_key_cstr(&jb, key, ps.country);
		snprintf(key, sizeof(key), "peer_%zu_state", i + 1);
		json_key_cstr(&jb, key, ps.state);
		snprintf(key, sizeof(key), "peer_%zu_accepted", i + 1);
		json_key_int(&jb, key, (long long)ps.accepted);
		snprintf(key, sizeof(key), "peer_%zu_applied", i + 1);
		json_key_int(&jb, key, (long long)ps.applied);
	}
	json_object_end(&jb);
	http_reply_json(req, up ? 200 : 503, up ? "OK" : "Service Unavailable", &jb);
	json_free(&jb);
}

/* ---- /metrics (doc/metrics.md) ----------------------------------------------------------- */

/* The outbox streams whose depth and oldest entry the scrape reads, by path. */
static const char *const outbox_streams[MP_COUNT] = {
	[MP_BOX] = OUTBOX_BOX,
	[MP_HTTP] = OUTBOX_HTTP,
};

/* One scrape: the in-process values are set at once, the outboxes' read from Redis (each
 * read within redis-timeout); the reply goes once the last read answered. A talloc child of
 * the request, which the reply frees. */
struct scrape {
	struct http_req *req;
	int outstanding;
	bool redis_failed;
};

static void scrape_reply(struct scrape *sc)
{
	struct evbuffer *buf = evbuffer_new();
	struct http_req *req = sc->req;

	METRIC_SET(redis_up, !sc->redis_failed);
	if (buf == NULL || metrics_write(buf) < 0) {
		if (buf)
			evbuffer_free(buf);
		http_reply_lit(req, 500, "Internal Server Error", "out of memory\n");
		return;
	}
	http_reply(req, 200, "OK", METRICS_CONTENT_TYPE, evbuffer_pullup(buf, -1),
		   evbuffer_get_length(buf));
	evbuffer_free(buf);
}

struct scrape_read {
	struct scrape *sc;
	int path;
};

static void on_outbox_stat(void *arg, int err, long long len, long long age_ms)
{
	struct scrape_read *rd = arg;
	struct scrape *sc = rd->sc;

	if (err < 0) {
		sc->redis_failed = true;
	} else {
		METRIC_SET1(outbox_depth, rd->path, len);
		METRIC_SET1(outbox_age, rd->path, age_ms / 1000);
	}
	if (--sc->outstanding == 0)
		scrape_reply(sc);
}

/* What the modules count themselves, copied into the registry. */
static void scrape_modules(struct daemon *d)
{
	if (d->ch.box) {
		const struct box_stats *bs = box_stats(d->ch.box);

		METRIC_SET(box_up, box_connected(d->ch.box));
		METRIC_SET1(box_mo, MBO_RECEIVED, bs->mo_received);
		METRIC_SET1(box_mo, MBO_ACKED, bs->mo_acked);
		METRIC_SET1(box_mo, MBO_FAILED_TMP, bs->mo_retry);
		METRIC_SET1(box_mo, MBO_REPEATED, bs->mo_repeated);
		METRIC_SET1(box_mt, MBT_QUEUED, bs->mt_queued);
		METRIC_SET1(box_mt, MBT_SENT, bs->mt_written);
		METRIC_SET1(box_mt, MBT_ACKED, bs->mt_acked);
		METRIC_SET1(box_mt, MBT_REFUSED, bs->mt_refused);
		METRIC_SET1(box_mt, MBT_RETRIED, bs->mt_retried);
		METRIC_SET1(box_mt, MBT_LOST, bs->mt_lost);
	}
	METRIC_SET(build_info, 1);
	METRIC_SET(start_time, d->started);
}

static void metrics_cb(struct http_req *req, void *arg)
{
	struct daemon *d = arg;
	struct scrape *sc;

	if (http_req_method(req) != HTTP_REQ_GET && http_req_method(req) != HTTP_REQ_HEAD) {
		http_reply_error(req, 405, "Method Not Allowed", "use GET");
		return;
	}
	sc = talloc_zero(req, struct scrape);
	if (sc == NULL) {
		http_reply_lit(req, 500, "Internal Server Error", "out of memory\n");
		return;
	}
	sc->req = req;
	scrape_modules(d);
	/* Held until every read is started, so that one answered at once cannot reply. */
	sc->outstanding = 1;
	if (!store_is_up(d->store))
		sc->redis_failed = true;
	for (int p = 0; p < MP_COUNT && !sc->redis_failed; p++) {
		struct scrape_read *rd = talloc_zero(sc, struct scrape_read);

		if (rd == NULL) {
			sc->redis_failed = true;
			break;
		}
		rd->sc = sc;
		rd->path = p;
		sc->outstanding++;
		if (store_stream_stat(d->store, outbox_streams[p], on_outbox_stat, rd) < 0) {
			sc->outstanding--;
			sc->redis_failed = true;
		}
	}
	if (--sc->outstanding == 0)
		scrape_reply(sc);
}

/* The countries a check reads neighbours' decisions of: the feed-peers'. */
static void foreign_countries(struct daemon *d)
{
	const char *cc[CONFIG_PEERS_MAX];

	for (size_t i = 0; i < d->cfg->npeers && i < CONFIG_PEERS_MAX; i++)
		cc[i] = d->cfg->peers[i].country;
	store_foreign_countries(d->store, cc, d->cfg->npeers);
}

static int start_store(struct daemon *d)
{
	struct store_options o = {
		.bucket_digits = d->cfg->pairing_bucket_digits,
		.timeout_ms = (int)d->cfg->redis_timeout,
		.replicas_ack = (int)d->cfg->redis_replicas_ack,
		.replicas_timeout_ms = (int)d->cfg->redis_replicas_timeout,
	};
	struct redis_seeds seeds;
	struct redis_url url;
	const char *why;
	char err[512];

	if (d->cfg->redis_cluster) {
		redis_seeds_parse(d->cfg->redis_cluster, &seeds, &why);	/* checked */
		d->store = store_create_cluster(d, d->base, &seeds, &o);
		if (d->store == NULL)
			return -ENOMEM;
		store_on_up(d->store, fetch_tac, d);
		foreign_countries(d);
		return 0;
	}
	if (d->cfg->redis) {
		redis_url_parse(d->cfg->redis, &url, &why);	/* checked by config_load */
	} else {
		d->embed = redis_embed_start(d, d->cfg->redis_server, d->cfg->data_dir, 10000,
					     err, sizeof(err));
		if (d->embed == NULL) {
			LOGP(LOGC_STORE, LOGL_ERROR, "embedded Redis: %s", err);
			return -EIO;
		}
		memset(&url, 0, sizeof(url));
		url.kind = REDIS_URL_UNIX;
		snprintf(url.path, sizeof(url.path), "%s", redis_embed_socket(d->embed));
		LOGP(LOGC_STORE, LOGL_NOTICE, "embedded redis-server pid %ld on %s",
		     (long)redis_embed_pid(d->embed), url.path);
	}
	d->store = store_create(d, d->base, &url, &o);
	if (d->store == NULL)
		return -ENOMEM;
	store_on_up(d->store, fetch_tac, d);
	foreign_countries(d);
	return 0;
}

static void on_gw_log(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	gw_log_drain();
}

static int start_signals(struct daemon *d)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD };
	size_t i;

	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < 4; i++) {
		d->sig[i] = evsignal_new(d->base, sigs[i], on_signal, d);
		if (d->sig[i] == NULL || evsignal_add(d->sig[i], NULL) < 0)
			return -ENOMEM;
	}
	/* libgw's log lines (a box frame it could not unpack, a charset it could not convert)
	 * come through its pipe and out through ours, as they arrive. */
	if (gw_log_fd() >= 0) {
		d->gwlog = event_new(d->base, gw_log_fd(), EV_READ | EV_PERSIST, on_gw_log, d);
		if (d->gwlog == NULL || event_add(d->gwlog, NULL) < 0)
			return -ENOMEM;
	}
	return 0;
}

static void stop(struct daemon *d)
{
	size_t i;

	for (i = 0; i < 4; i++) {
		if (d->sig[i])
			event_free(d->sig[i]);
		d->sig[i] = NULL;
	}
	if (d->gwlog)
		event_free(d->gwlog);
	d->gwlog = NULL;
	gw_log_drain();
	/* The store first: what is pending is answered (-ECANCELED) while the journeys and
	 * channels that wait for it still exist. */
	TALLOC_FREE(d->store);
	TALLOC_FREE(d->ch.results);
	TALLOC_FREE(d->ch.peers);	/* their HTTP connections and timers: before the loop */
	TALLOC_FREE(d->ch.feed);
	TALLOC_FREE(d->ch.box);
	TALLOC_FREE(d->ch.sendsms);
	TALLOC_FREE(d->engine);
	TALLOC_FREE(d->http);
	TALLOC_FREE(d->admin);
	if (d->embed) {
		redis_embed_stop(d->embed);
		TALLOC_FREE(d->embed);
	}
	if (d->base)
		event_base_free(d->base);
	d->base = NULL;
}

/* The channels served over HTTP, in the table's order (channel/channels.h). */
static int (*const http_channels[])(struct channels *, struct http_server *) = {
#define X(name, what) channel_##name##_start,
	CHANNELS_HTTP(X)
#undef X
};

static int start_journeys(struct daemon *d, char *err, size_t errsz)
{
	struct engine_sms_hook hook = { sendsms_send, NULL, NULL };

	d->kyc_keylen = load_kyc_key(d, err, errsz);
	if (d->kyc_keylen < 0) {
		LOGP(LOGC_CONFIG, LOGL_ERROR, "%s", err);
		return d->kyc_keylen;
	}
	d->engine = engine_create(d, d->base, d->store, d->cfg, d->kyc_key,
				  (size_t)d->kyc_keylen);
	if (d->engine == NULL)
		return -ENOMEM;
	engine_set_journeys(d->engine, d->journeys);
	engine_set_tac(d->engine, d->tac);
	d->ch.ctx = d;
	d->ch.msisdn = msisdn_memo_new(d, d->cfg->default_region, MSISDN_MEMO_BLOCKS);
	if (d->ch.msisdn == NULL)
		return -ENOMEM;
	d->ch.base = d->base;
	d->ch.cfg = d->cfg;
	d->ch.engine = d->engine;
	d->ch.store = d->store;
	if (d->cfg->sendsms_url) {
		d->ch.sendsms = sendsms_create(d, &d->ch, err, errsz);
		if (d->ch.sendsms == NULL) {
			LOGP(LOGC_CONFIG, LOGL_ERROR, "%s", err);
			return -EINVAL;
		}
		hook.arg = d->ch.sendsms;
		hook.outbox = OUTBOX_HTTP;
		engine_set_sms_hook(d->engine, &hook);
	}
	if (d->cfg->bearerbox) {
		d->ch.box = box_start(d, &d->ch, err, errsz);
		if (d->ch.box == NULL) {
			LOGP(LOGC_CONFIG, LOGL_ERROR, "%s", err);
			return -EINVAL;
		}
		/* The box is the operator's own path to the SMSC: notifications take it. */
		hook.send = box_send;
		hook.arg = d->ch.box;
		hook.outbox = OUTBOX_BOX;
		engine_set_sms_hook(d->engine, &hook);
	}
	if (hook.arg == NULL)
		LOGP(LOGC_CONFIG, LOGL_WARN, "neither bearerbox nor sendsms-url: receipts and CEIR "
		     "results are not sent by SMS");
	d->ch.results = results_start(d, &d->ch);
	if (d->ch.results == NULL)
		return -ENOMEM;
	d->ch.peers = peers_start(d, &d->ch, err, errsz);
	if (d->ch.peers == NULL) {
		LOGP(LOGC_CONFIG, LOGL_ERROR, "%s", err);
		return -EINVAL;
	}
	for (size_t i = 0; i < sizeof(http_channels) / sizeof(http_channels[0]); i++) {
		int rc = http_channels[i](&d->ch, d->http);

		if (rc < 0)
			return rc;	/* the channel said why */
	}
	return 0;
}

/* The event loop. With epoll, the changes to a descriptor's events within one pass are
 * folded into one epoll_ctl: the evhttp client (sendsms) and bufferevents turn reading and
 * writing off and on around every request (no descriptor is ever dup()ed here, which the
 * changelist would not survive). */
static struct event_base *new_base(void)
{
	struct event_config *cfg = event_config_new();
	struct event_base *base;

	if (cfg == NULL)
		return NULL;
	event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return base;
}

int daemon_run(struct daemon *d)
{
	char err[512];
	int rc;

	d->started = time(NULL);
	logging_echo_errors(1);
	d->base = new_base();
	if (d->base == NULL) {
		LOGP(LOGC_MAIN, LOGL_ERROR, "cannot create the event loop");
		return -ENOMEM;
	}
	/* Signals first, so that a SIGCHLD from the embedded Redis is never missed. */
	rc = start_signals(d);
	if (rc == 0)
		rc = start_store(d);
	if (rc == 0) {
		struct http_limits lim;

		raise_fd_limit(d->cfg);
		http_limits_of(d->cfg, &lim);
		d->http = http_server_create(d, d->base, d->cfg->http_host, d->cfg->http_port,
					     &lim, err, sizeof(err));
		if (d->http == NULL) {
			LOGP(LOGC_HTTP, LOGL_ERROR, "%s", err);
			rc = -EADDRNOTAVAIL;
		}
	}
	if (rc == 0) {
		struct http_limits lim;

		admin_limits_of(d->cfg, &lim);
		d->admin = http_server_create(d, d->base, d->cfg->admin_host, d->cfg->admin_port,
					      &lim, err, sizeof(err));
		if (d->admin == NULL) {
			LOGP(LOGC_HTTP, LOGL_ERROR, "admin-listen %s: %s", d->cfg->admin_listen, err);
			rc = -EADDRNOTAVAIL;
		}
	}
	if (rc == 0)
		rc = start_journeys(d, err, sizeof(err));
	if (rc == 0) {
		http_server_route(d->http, "/healthz", false, healthz, d);
		http_server_route(d->admin, "/metrics", false, metrics_cb, d);
		http_server_route(d->admin, "/healthz", false, healthz, d);
		LOGP(LOGC_MAIN, LOGL_NOTICE, "ceirgw %s ready: http %s, admin %s, redis %s",
		     PACKAGE_VERSION, d->cfg->http_listen, d->cfg->admin_listen,
		     store_address(d->store));
		logging_echo_errors(0);
		event_base_dispatch(d->base);
		rc = d->exit_code;
	}
	stop(d);
	LOGP(LOGC_MAIN, LOGL_NOTICE, "stopped");
	return rc;
}
