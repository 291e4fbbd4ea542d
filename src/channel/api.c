/* The JSON API: GET /v1/imei/{imei} answers the buyer's check for web sites, apps and
 * partners: {"imei", "status", "reason", "tac", "maker", "model", "reported_on"}. Keys come
 * from api-keys-file ("NAME KEY" per line), sent as "Authorization: Bearer KEY" or
 * "X-API-Key: KEY" and compared in constant time. */
#include "channel/channels.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <talloc.h>

#include "app/http.h"
#include "core/errbuf.h"
#include "core/json.h"
#include "core/logging.h"
#include "flow/engine.h"

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

struct api_req {
	struct http_pending *p;
};

static void on_check(void *arg, const struct engine_check *c)
{
	struct api_req *a = arg;
	struct evhttp_request *req = http_pending_req(a->p);
	struct json_buf jb;

	if (req == NULL)
		goto out;
	if (c->err == -EAGAIN) {
		http_reply_error(req, 503, "Service Unavailable", "the store is unavailable; retry");
		goto out;
	}
	if (strcmp(c->status, "limited") == 0) {
		http_reply_error(req, 429, "Too Many Requests", "too many checks of this IMEI");
		goto out;
	}
	json_init(&jb);
	json_object_begin(&jb);
	if (strcmp(c->status, "invalid") == 0) {
		json_key_int(&jb, "status", 400);
		json_key_cstr(&jb, "error", "invalid_imei");
		json_key_cstr(&jb, "reason", c->reason);
		json_key_cstr(&jb, "message", "not a valid IMEI: see reason");
		json_object_end(&jb);
		http_reply_json(req, HTTP_BADREQUEST, "Bad Request", &jb);
	} else {
		json_key_cstr(&jb, "imei", c->imei);
		json_key_cstr(&jb, "status", c->status);
		json_key_cstr(&jb, "tac", c->tac);
		json_key_cstr(&jb, "maker", c->maker);
		json_key_cstr(&jb, "model", c->model);
		if (c->date && c->date[0])
			json_key_cstr(&jb, "reported_on", c->date);
		json_object_end(&jb);
		http_reply_json(req, HTTP_OK, "OK", &jb);
	}
	json_free(&jb);
out:
	talloc_free(a);
}

static void imei_cb(struct evhttp_request *req, void *arg)
{
	struct channels *ch = arg;
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	const char *auth = evhttp_find_header(h, "Authorization"), *key = NULL, *who;
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	struct api_req *a;
	char *imei;
	size_t len;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		http_reply_error(req, 405, "Method Not Allowed", "use GET");
		return;
	}
	if (auth && strncmp(auth, "Bearer ", 7) == 0)
		key = auth + 7;
	else
		key = evhttp_find_header(h, "X-API-Key");
	who = api_client(ch->keys, key);
	if (who == NULL) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
				  "Bearer");
		http_reply_error(req, 401, "Unauthorized",
				 "an API key is required (Authorization: Bearer KEY)");
		return;
	}
	imei = evhttp_uridecode(path + strlen("/v1/imei/"), 0, &len);
	if (imei == NULL || len == 0 || len > 64 || strlen(imei) != len) {
		free(imei);
		http_reply_error(req, HTTP_BADREQUEST, "Bad Request",
				 "expected /v1/imei/{imei}, 15 digits");
		return;
	}
	a = talloc_zero(ch->ctx, struct api_req);
	if (a == NULL || (a->p = http_pending_new(a, req)) == NULL ||
	    engine_check(ch->engine, imei, len, who, on_check, a) < 0) {
		talloc_free(a);
		http_reply_error(req, 503, "Service Unavailable", "try again");
	}
	free(imei);
}

int channel_api_start(struct channels *ch, struct http_server *hs)
{
	return http_server_set_prefix_cb(hs, "/v1/imei/", imei_cb, ch);
}
