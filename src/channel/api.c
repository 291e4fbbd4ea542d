/* The JSON API: GET /v1/imei/{imei} answers the buyer's check for web sites, apps and
 * partners: {"imei", "status", "tac", "maker", "model", "reported_on", "foreign"}; errors in
 * CAMARA's shape {"status", "code", "message"} (CAMARA API Design Guide, "Error responses");
 * GET /v1/openapi.yaml serves doc/openapi.yaml, built in, which describes it all. Keys come
 * from api-keys-file ("NAME KEY" per line), sent as "Authorization: Bearer KEY" or
 * "X-API-Key: KEY" and compared in constant time. Each key may make api-key-quota requests
 * (counted in Redis by the key's NAME, so every ceirgw process shares the count; the key
 * itself is never a Redis key nor logged); beyond, 429 with Retry-After (RFC 6585 4). */
#include "channel/channels.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <talloc.h>

#include "channel/http.h"
#include "channel/openapi.h"
#include "core/errbuf.h"
#include "core/json.h"
#include "core/logging.h"
#include "core/metrics.h"
#include "flow/engine.h"
#include "store/store.h"

#define API_KEY_MIN 16
#define API_KEY_MAX 128
#define API_KEYS_MAX 256

struct api_key {
	char name[64];
	char key[API_KEY_MAX + 1];
	size_t len;
};

struct api_keys {
	struct api_key k[API_KEYS_MAX];
	size_t n;
};

struct api_keys *api_keys_load(void *ctx, const char *path, char *err, size_t errsz)
{
	struct api_keys *k = talloc_zero(ctx, struct api_keys);
	char line[512];
	FILE *f;
	int lineno = 0;

	if (k == NULL) {
		errbuf_set(err, errsz, "out of memory");
		return NULL;
	}
	if (path == NULL)
		return k;
	f = fopen(path, "re");
	if (f == NULL) {
		errbuf_set(err, errsz, "%s: %s", path, strerror(errno));
		talloc_free(k);
		return NULL;
	}
	while (fgets(line, sizeof(line), f)) {
		char name[64], key[API_KEY_MAX + 2];
		size_t len;

		lineno++;
		if (line[0] == '#' || line[strspn(line, " \t\r\n")] == '\0')
			continue;
		if (sscanf(line, "%63s %129s", name, key) != 2 ||
		    (len = strlen(key)) < API_KEY_MIN || len > API_KEY_MAX || k->n == API_KEYS_MAX) {
			errbuf_set(err, errsz, "%s:%d: expected NAME KEY, a key of %d to %d "
				   "characters (at most %d keys)", path, lineno, API_KEY_MIN,
				   API_KEY_MAX, API_KEYS_MAX);
			fclose(f);
			talloc_free(k);
			return NULL;
		}
		snprintf(k->k[k->n].name, sizeof(k->k[k->n].name), "%s", name);
		memcpy(k->k[k->n].key, key, len + 1);
		k->k[k->n].len = len;
		k->n++;
	}
	fclose(f);
	return k;
}

size_t api_keys_count(const struct api_keys *k)
{
	return k ? k->n : 0;
}

/* The key's name, or NULL. Every key is compared, so the time says nothing. */
static const char *api_client(const struct api_keys *k, const char *given)
{
	const char *who = NULL;
	size_t len = given ? strlen(given) : 0;

	for (size_t i = 0; k && given && i < k->n; i++)
		if (k->k[i].len == len && CRYPTO_memcmp(k->k[i].key, given, len) == 0)
			who = k->k[i].name;
	return who;
}

/* The {imei} of the path, percent-decoded into out (NUL-terminated). Returns its length, or
 * -EINVAL when it is empty, longer than outsz - 1 or holds a NUL. */
static ssize_t api_path_imei(const char *s, char *out, size_t outsz)
{
	char buf[3 * 64 + 1];	/* 64 decoded bytes at most, each "%XX" at most */
	size_t len = strlen(s);
	ssize_t n;

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	n = http_uri_decode(s, len, false, buf);
	if (n <= 0 || (size_t)n >= outsz)
		return -EINVAL;
	memcpy(out, buf, (size_t)n + 1);
	return n;
}

/* An error in CAMARA's shape: status (the HTTP code again), code (CAMARA's name for it) and
 * message; reason, when not NULL, says more for a code that can have several causes. */
static void api_error(struct http_req *req, int status, const char *phrase, const char *code,
		      const char *message, const char *reason)
{
	struct json_buf jb;

	json_init(&jb);
	json_object_begin(&jb);
	json_key_int(&jb, "status", status);
	json_key_cstr(&jb, "code", code);
	json_key_cstr(&jb, "message", message);
	if (reason)
		json_key_cstr(&jb, "reason", reason);
	json_object_end(&jb);
	http_reply_json(req, status, phrase, &jb);
	json_free(&jb);
}

#define api_unavailable(req, message) \
	api_error(req, 503, "Service Unavailable", "UNAVAILABLE", message, NULL)

struct api_req {
	struct http_req *req;
	struct channels *ch;
	const char *who;	/* the key's name, in the api_req */
	char imei[65];
	size_t len;
	unsigned window;
};

static void on_check(void *arg, const struct engine_check *c)
{
	struct api_req *a = arg;
	struct http_req *req = a->req;
	struct json_buf jb;

	if (c->err == -EAGAIN) {
		api_unavailable(req, "the store is unavailable; retry");
		goto out;
	}
	if (strcmp(c->status, "limited") == 0) {
		api_error(req, 429, "Too Many Requests", "TOO_MANY_REQUESTS",
			  "too many checks of this IMEI", NULL);
		goto out;
	}
	if (strcmp(c->status, "invalid") == 0) {
		api_error(req, 400, "Bad Request", "INVALID_ARGUMENT", "not a valid IMEI: see reason",
			  c->reason);
		goto out;
	}
	json_init(&jb);
	json_object_begin(&jb);
	json_key_cstr(&jb, "imei", c->imei);
	json_key_cstr(&jb, "status", c->status);
	json_key_cstr(&jb, "tac", c->tac);
	json_key_cstr(&jb, "maker", c->maker);
	json_key_cstr(&jb, "model", c->model);
	if (c->date && c->date[0])
		json_key_cstr(&jb, "reported_on", c->date);
	/* The neighbours that block it (issue 19), always there: [] for none. An unblock
	 * abroad takes the country's record out, so each is a block. */
	json_key_array_begin(&jb, "foreign");
	for (size_t i = 0; i < c->nforeign; i++) {
		json_object_begin(&jb);
		json_key_cstr(&jb, "country", c->foreign[i].country);
		json_key_cstr(&jb, "status", "blocked");
		json_key_cstr(&jb, "reason", c->foreign[i].reason);
		json_key_cstr(&jb, "day", c->foreign[i].day);
		json_object_end(&jb);
	}
	json_array_end(&jb);
	json_object_end(&jb);
	http_reply_json(req, 200, "OK", &jb);
	json_free(&jb);
out:
	talloc_free(a);
}

static void on_quota(void *arg, int err, long long count, long long ms_left)
{
	struct api_req *a = arg;
	const struct config_rate *q = &a->ch->cfg->api_key_quota;
	char secs[24];

	if (err < 0) {
		api_unavailable(a->req, "the store is unavailable; retry");
		talloc_free(a);
		return;
	}
	if (count > (long long)q->hits) {
		METRIC_INC1(refusals, ML_API);
		/* What is left of the window that started at its first request. */
		snprintf(secs, sizeof(secs), "%lld",
			 ms_left > 0 ? (ms_left + 999) / 1000 : (long long)a->window);
		http_reply_header(a->req, "Retry-After", secs);
		api_error(a->req, 429, "Too Many Requests", "QUOTA_EXCEEDED",
			  "this API key's quota (api-key-quota) is used up; see Retry-After", NULL);
		if (count == (long long)q->hits + 1)	/* once per window, not per request */
			LOGP(LOGC_HTTP, LOGL_NOTICE, "API key %s over its quota of %u in %u s",
			     a->who, q->hits, q->seconds);
		talloc_free(a);
		return;
	}
	if (engine_check(a->ch->engine, a->imei, a->len, a->who, on_check, a) < 0) {
		api_unavailable(a->req, "try again");
		talloc_free(a);
	}
}

static void imei_cb(struct http_req *req, struct channels *ch)
{
	const char *auth = http_req_header(req, "Authorization"), *key = NULL, *who;
	const char *path = http_req_path(req, NULL);
	struct api_req *a;
	ssize_t len;

	if (http_req_method(req) != HTTP_REQ_GET) {
		http_reply_header(req, "Allow", "GET");
		api_error(req, 405, "Method Not Allowed", "METHOD_NOT_ALLOWED", "use GET", NULL);
		return;
	}
	if (auth && strncmp(auth, "Bearer ", 7) == 0)
		key = auth + 7;
	else
		key = http_req_header(req, "X-API-Key");
	who = api_client(ch->keys, key);
	if (who == NULL) {
		http_reply_header(req, "WWW-Authenticate", "Bearer");
		api_error(req, 401, "Unauthorized", "UNAUTHENTICATED",
			  "an API key is required (Authorization: Bearer KEY)", NULL);
		return;
	}
	a = talloc_zero(ch->ctx, struct api_req);
	if (a == NULL) {
		api_unavailable(req, "try again");
		return;
	}
	a->req = req;
	a->ch = ch;
	a->window = ch->cfg->api_key_quota.seconds;
	len = api_path_imei(path + strlen("/v1/imei/"), a->imei, sizeof(a->imei));
	if (len <= 0) {
		talloc_free(a);
		api_error(req, 400, "Bad Request", "INVALID_ARGUMENT",
			  "expected /v1/imei/{imei}, 15 digits", NULL);
		return;
	}
	a->len = (size_t)len;
	a->who = talloc_strdup(a, who);	/* the keys may be reloaded meanwhile */
	if (a->who == NULL ||
	    store_limit_hit(ch->store, STORE_LIMIT_API, a->who, strlen(a->who), a->window,
			    on_quota, a) < 0) {
		talloc_free(a);
		api_unavailable(req, "try again");
	}
}

/* The API's own description: no key needed, so that a partner's tools can read it first. */
static void openapi_cb(struct http_req *req)
{
	if (http_req_method(req) != HTTP_REQ_GET && http_req_method(req) != HTTP_REQ_HEAD) {
		http_reply_header(req, "Allow", "GET, HEAD");
		api_error(req, 405, "Method Not Allowed", "METHOD_NOT_ALLOWED", "use GET", NULL);
		return;
	}
	/* application/yaml: RFC 9512. It changes only with the binary, but a cache of it
	 * would outlive an upgrade: no-store, as every reply. */
	http_reply(req, 200, "OK", "application/yaml", ceirgw_openapi_yaml,
		   ceirgw_openapi_yaml_len);
}

/* Everything under /v1/: the API's paths, and CAMARA's NOT_FOUND for any other. */
static void v1_cb(struct http_req *req, void *arg)
{
	size_t len;
	const char *path = http_req_path(req, &len);

	if (len == strlen("/v1/openapi.yaml") && strcmp(path, "/v1/openapi.yaml") == 0)
		openapi_cb(req);
	else if (strncmp(path, "/v1/imei/", strlen("/v1/imei/")) == 0)
		imei_cb(req, arg);
	else
		api_error(req, 404, "Not Found", "NOT_FOUND", "no such resource (see /v1/openapi.yaml)",
			  NULL);
}

int channel_api_start(struct channels *ch, struct http_server *hs)
{
	return http_server_route_counted(hs, "/v1/", true, v1_cb, ch, MC_API);
}
