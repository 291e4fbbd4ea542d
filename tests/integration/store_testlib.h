/* What the store's integration tests (test_store, test_store_cluster, test_redis_smoke) share:
 * a private folder and the redis-server to start in it, the loop conditions they wait on, and
 * the callbacks that record what a store operation answered. Include after looplib.h's
 * includes: these are static inline, so a test pays only for what it uses. */
#ifndef CEIRGW_TESTS_STORE_TESTLIB_H
#define CEIRGW_TESTS_STORE_TESTLIB_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <talloc.h>

#include <event2/event.h>

#include "looplib.h"

#include "store/store.h"

/* ---- a private folder ---- */

/* The redis-server to start: $REDIS_SERVER, else the one on PATH. */
static inline const char *testlib_redis_server(void)
{
	const char *s = getenv("REDIS_SERVER");

	return s ? s : "redis-server";
}

/* Makes a fresh folder /tmp/<prefix>-XXXXXX into dir. Returns 0 or -1. */
static inline int testlib_tmpdir(char *dir, size_t size, const char *prefix)
{
	if ((size_t)snprintf(dir, size, "/tmp/%s-XXXXXX", prefix) >= size)
		return -1;
	return mkdtemp(dir) ? 0 : -1;
}

/* Removes the folder and what a redis-server left in it. Returns 0 or -1. */
static inline int testlib_rmdir(const char *dir)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A fixture's teardown: frees what hangs under ctx (servers, stores) before the loop they
 * use, then the folder, then the fixture f itself. Returns 0, or -1 if the folder stayed. */
static inline int testlib_free_fixture(void *f, void *ctx, struct event_base *base,
				       const char *dir)
{
	int rc;

	talloc_free(ctx);
	event_base_free(base);
	rc = testlib_rmdir(dir);
	free(f);
	return rc;
}

/* ---- what run_until waits on ---- */

static inline bool is_up(void *st) { return store_is_up(st); }
static inline bool is_down(void *st) { return !store_is_up(st); }
/* For letting the loop run a given time. */
static inline bool never(void *arg) { (void)arg; return false; }

/* ---- answers ---- */

/* What a callback received; each callback fills the fields its operation answers. */
struct answer {
	int calls, err;
	size_t n;
	struct pair_rec recs[PAIRS_MAX_RECORDS];
	uint64_t bodies[PAIRS_MAX_RECORDS];
	char data[256];
	size_t len;
	bool found, changed;
	long long count;
};

static inline bool answered(void *arg) { return ((struct answer *)arg)->calls > 0; }

/* Operations that may answer in any order (on different masters, or failed together). */
struct answers {
	struct answer *a;
	size_t n;
};

/* Every answer in. */
static inline bool all_answered(void *arg)
{
	struct answers *as = arg;

	for (size_t i = 0; i < as->n; i++)
		if (as->a[i].calls == 0)
			return false;
	return true;
}

static inline void on_done(void *arg, int err)
{
	struct answer *a = arg;

	a->calls++;
	a->err = err;
}

static inline void on_data(void *arg, int err, const void *data, size_t len, bool found)
{
	struct answer *a = arg;

	a->calls++;
	a->err = err;
	a->found = found;
	a->len = len;
	if (found && len <= sizeof(a->data))
		memcpy(a->data, data, len);
}

/* store_number_get: the language in data (found: the resume record exists). */
static inline void on_number(void *arg, int err, const char *lang, size_t len, bool resume)
{
	struct answer *a = arg;

	a->calls++;
	a->err = err;
	a->found = resume;
	a->len = lang ? len : 0;
	a->changed = lang != NULL;	/* a language is there */
	if (lang && len <= sizeof(a->data))
		memcpy(a->data, lang, len);
}

/* store_records_get: n the records, count a bit for each one found (1 << i), data their
 * values joined by '|' ("-" for one not found). */
static inline void on_records(void *arg, int err, const struct store_val *v, size_t n)
{
	struct answer *a = arg;

	a->calls++;
	a->err = err;
	a->n = n;
	a->count = 0;
	a->len = 0;
	for (size_t i = 0; i < n; i++) {
		const char *d = v[i].found ? v[i].data : "-";
		size_t l = v[i].found ? v[i].len : 1;

		if (v[i].found)
			a->count |= 1LL << i;
		if (a->len + l + 1 > sizeof(a->data))
			break;
		if (i > 0)
			a->data[a->len++] = '|';
		memcpy(a->data + a->len, d, l);
		a->len += l;
	}
}

static inline void on_count(void *arg, int err, long long count)
{
	struct answer *a = arg;

	a->calls++;
	a->err = err;
	a->count = count;
}

static inline void on_limit(void *arg, int err, long long count, long long ms_left)
{
	(void)ms_left;
	on_count(arg, err, count);
}

static inline void on_pairings(void *arg, int err, const struct pair_rec *recs, size_t n)
{
	struct answer *a = arg;

	a->calls++;
	a->err = err;
	a->n = n;
	if (n)
		memcpy(a->recs, recs, n * sizeof(*recs));
}

static inline void on_handsets(void *arg, int err, const uint64_t *bodies, size_t n)
{
	struct answer *a = arg;

	a->calls++;
	a->err = err;
	a->n = n;
	if (n)
		memcpy(a->bodies, bodies, n * sizeof(*bodies));
}

/* A one-time code's issue (count: its result, store_otp_result; n: ms) and a check (count:
 * store_verify_result; n: tries left). */
static inline void on_otp(void *arg, int err, enum store_otp_result res, long long ms)
{
	struct answer *a = arg;

	a->calls++;
	a->err = err;
	a->count = (long long)res;
	a->n = (size_t)(ms > 0 ? ms : 0);
}

static inline void on_verify(void *arg, int err, enum store_verify_result res, long long left,
			     long long ms_left)
{
	struct answer *a = arg;

	(void)ms_left;
	a->calls++;
	a->err = err;
	a->count = (long long)res;
	a->n = (size_t)(left > 0 ? left : 0);
}

/* Records whether a KYC record came, and registered + 1000 * tail[3] as a fingerprint. */
static inline void on_kyc(void *arg, int err, const struct kyc_rec *rec)
{
	struct answer *a = arg;

	a->calls++;
	a->err = err;
	a->found = rec != NULL;
	if (rec)
		a->count = rec->registered + 1000 * rec->tail[3];
}

#endif
