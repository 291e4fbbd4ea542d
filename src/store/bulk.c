/* Bulk loading of pairings (hiredis, blocking, pipelined). A batch is sorted by bucket, then
 * written bucket by bucket: HMGET of the fields the batch touches, a merge in the client, an
 * HSET of the fields that changed. Windows of buckets keep the pipeline and its replies
 * bounded. Commands are argv, never formatted strings. */
#define _GNU_SOURCE
#include "store/bulk.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <talloc.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "domain/tac.h"

#define WINDOW_BUCKETS 512	/* buckets whose commands are in flight together */
#define LOCK_KEY "import:{lock}"
#define LOCK_TTL_MS "600000"	/* renewed by every batch: a crashed import frees it */

/* Rows of a batch. sk, the sort key, comes first: the bucket, then the number, as one
 * integer that a radix sort orders (see sort_key). */
struct imei_ent {
	uint64_t sk;
	uint64_t body;
	struct pair_rec rec;
};

struct msisdn_ent {
	uint64_t sk;
	uint64_t msisdn;
	uint64_t body;
};

struct kyc_ent {
	uint64_t sk;
	uint64_t msisdn;
	uint8_t value[PAIRS_KYC_VALUE_LEN];
};

/* A set of IMEI bodies, to count each duplicated IMEI once over the whole import. */
struct u64set {
	uint64_t *slots;	/* 0 is empty: no body is 0 once the reserved check ran */
	size_t cap, used;
};

struct bulk {
	redisContext *c;
	struct bulk_options o;
	struct bulk_stats st;
	char err[256];
	struct imei_ent *ie;
	struct msisdn_ent *me;
	void *sort_tmp;		/* the radix sort's second buffer */
	size_t n, cap;
	struct kyc_ent *ke;
	void *kyc_tmp;
	size_t kn, kcap;
	uint64_t bucket_mod;
	uint64_t imei_rest, msisdn_rest;	/* 10^(digits left after the bucket) */
	char token[40];
	bool locked;
	struct u64set dups;
	char *resp;		/* one command in the Redis protocol, see append_argv */
	size_t resp_cap;
};

static int bulk_destructor(struct bulk *b)
{
	if (b->locked)
		bulk_unlock(b);
	if (b->c)
		redisFree(b->c);
	free(b->dups.slots);
	free(b->ie);
	free(b->me);
	free(b->sort_tmp);
	free(b->ke);
	free(b->kyc_tmp);
	return 0;
}

static int set_err(struct bulk *b, const char *what, const redisReply *r)
{
	if (b->c->err)
		snprintf(b->err, sizeof(b->err), "%s: %s", what, b->c->errstr);
	else if (r && r->type == REDIS_REPLY_ERROR)
		snprintf(b->err, sizeof(b->err), "%s: %.200s", what, r->str);
	else
		snprintf(b->err, sizeof(b->err), "%s: unexpected reply", what);
	return -EIO;
}

/* Runs one command and checks its reply type. Returns 0 or -EIO. */
static int command(struct bulk *b, const char *what, int want, int argc, const char **argv,
		   const size_t *lens, redisReply **out)
{
	redisReply *r = redisCommandArgv(b->c, argc, argv, lens);

	if (r == NULL || (want >= 0 && (int)r->type != want)) {
		set_err(b, what, r);
		freeReplyObject(r);
		return -EIO;
	}
	if (out)
		*out = r;
	else
		freeReplyObject(r);
	return 0;
}

struct bulk *bulk_connect(void *ctx, const struct redis_url *url, const struct bulk_options *o,
			  int timeout_ms, char *err, size_t errsz)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	struct bulk *b = talloc_zero(ctx, struct bulk);
	const char *argv[3];
	size_t lens[3];
	char db[16];
	int i;

	if (b == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	talloc_set_destructor(b, bulk_destructor);
	b->o = *o;
	b->bucket_mod = 1;
	for (i = 0; i < o->bucket_digits; i++)
		b->bucket_mod *= 10;
	b->imei_rest = b->msisdn_rest = 1;
	for (i = o->bucket_digits; i < 14; i++)
		b->imei_rest *= 10;
	b->msisdn_rest = b->imei_rest * 10;	/* E.164 numbers have up to 15 digits */
	b->c = url->kind == REDIS_URL_UNIX ? redisConnectUnixWithTimeout(url->path, tv)
					   : redisConnectWithTimeout(url->host, url->port, tv);
	if (b->c == NULL || b->c->err) {
		snprintf(err, errsz, "cannot connect to Redis: %s",
			 b->c ? b->c->errstr : "out of memory");
		goto fail;
	}
	/* Replies to a million-field pipeline arrive in large pieces; no command may hang. */
	tv.tv_sec = 60;
	tv.tv_usec = 0;
	redisSetTimeout(b->c, tv);
	if (url->password[0]) {
		argv[0] = "AUTH";
		lens[0] = 4;
		i = 1;
		if (url->user[0]) {
			argv[i] = url->user;
			lens[i++] = strlen(url->user);
		}
		argv[i] = url->password;
		lens[i++] = strlen(url->password);
		if (command(b, "AUTH", REDIS_REPLY_STATUS, i, argv, lens, NULL) < 0)
			goto fail_cmd;
	}
	if (url->db) {
		argv[0] = "SELECT";
		lens[0] = 6;
		lens[1] = (size_t)snprintf(db, sizeof(db), "%d", url->db);
		argv[1] = db;
		if (command(b, "SELECT", REDIS_REPLY_STATUS, 2, argv, lens, NULL) < 0)
			goto fail_cmd;
	}
	return b;
fail_cmd:
	snprintf(err, errsz, "%s", b->err);
fail:
	talloc_free(b);
	return NULL;
}

int bulk_lock(struct bulk *b, char *err, size_t errsz)
{
	const char *argv[] = { "SET", LOCK_KEY, b->token, "NX", "PX", LOCK_TTL_MS };
	size_t lens[6];
	redisReply *r;
	size_t i;

	snprintf(b->token, sizeof(b->token), "%ld-%lx", (long)getpid(), (unsigned long)random());
	for (i = 0; i < 6; i++)
		lens[i] = strlen(argv[i]);
	r = redisCommandArgv(b->c, 6, argv, lens);
	if (r == NULL || r->type == REDIS_REPLY_ERROR) {
		set_err(b, "SET " LOCK_KEY, r);
		snprintf(err, errsz, "%s", b->err);
		freeReplyObject(r);
		return -EIO;
	}
	if (r->type == REDIS_REPLY_NIL) {
		snprintf(err, errsz, "another import is running (Redis key %s); it expires "
			 "10 minutes after that import's last batch", LOCK_KEY);
		freeReplyObject(r);
		return -EBUSY;
	}
	freeReplyObject(r);
	b->locked = true;
	return 0;
}

void bulk_unlock(struct bulk *b)
{
	/* Delete the lock only if it is still ours. */
	static const char script[] =
		"if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end";
	const char *argv[] = { "EVAL", script, "1", LOCK_KEY, b->token };
	size_t lens[5];
	size_t i;

	for (i = 0; i < 5; i++)
		lens[i] = strlen(argv[i]);
	freeReplyObject(redisCommandArgv(b->c, 5, argv, lens));
	b->locked = false;
}

static int renew_lock(struct bulk *b)
{
	const char *argv[] = { "PEXPIRE", LOCK_KEY, LOCK_TTL_MS };
	size_t lens[] = { 7, strlen(LOCK_KEY), strlen(LOCK_TTL_MS) };

	if (!b->locked)
		return 0;
	return command(b, "PEXPIRE", -1, 3, argv, lens, NULL);
}

static bool u64set_add(struct u64set *s, uint64_t v)
{
	size_t j, i;

	if (2 * (s->used + 1) > s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 1024;
		uint64_t *slots = calloc(cap, sizeof(*slots));

		if (slots == NULL)
			return false;
		for (i = 0; i < s->cap; i++) {
			if (s->slots[i] == 0)
				continue;
			for (j = (s->slots[i] * 0x9E3779B97F4A7C15ULL) >> 40 & (cap - 1);
			     slots[j]; j = (j + 1) & (cap - 1))
				;
			slots[j] = s->slots[i];
		}
		free(s->slots);
		s->slots = slots;
		s->cap = cap;
	}
	for (j = (v * 0x9E3779B97F4A7C15ULL) >> 40 & (s->cap - 1); s->slots[j];
	     j = (j + 1) & (s->cap - 1)) {
		if (s->slots[j] == v)
			return false;
	}
	s->slots[j] = v;
	s->used++;
	return true;
}

/* The bucket (v's last digits) before the rest of v: rows sort by bucket, then number. */
static uint64_t sort_key(uint64_t v, uint64_t bucket_mod, uint64_t rest)
{
	return (v % bucket_mod) * rest + v / bucket_mod;
}

/* Grows a batch array to cap entries. The batch arrays are plain malloc: a batch of several
 * million rows passes talloc's 256 MiB limit on one block. */
static int grow(struct bulk *b, void **p, size_t cap, size_t size)
{
	void *q = cap <= SIZE_MAX / size ? realloc(*p, cap * size) : NULL;

	if (q == NULL) {
		snprintf(b->err, sizeof(b->err), "out of memory for a batch of %zu rows (--batch)",
			 cap);
		return -ENOMEM;
	}
	*p = q;
	return 0;
}

int bulk_add_pairing(struct bulk *b, uint64_t imei_body, const struct pair_rec *rec)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 4096;

		if (cap > b->o.batch_rows && b->o.batch_rows > b->cap)
			cap = b->o.batch_rows;
		free(b->sort_tmp);
		b->sort_tmp = NULL;
		if (grow(b, (void **)&b->ie, cap, sizeof(*b->ie)) < 0 ||
		    grow(b, (void **)&b->me, cap, sizeof(*b->me)) < 0 ||
		    grow(b, &b->sort_tmp, cap, sizeof(*b->ie)) < 0)
			return -ENOMEM;
		b->cap = cap;
	}
	b->ie[b->n] = (struct imei_ent){ sort_key(imei_body, b->bucket_mod, b->imei_rest),
					 imei_body, *rec };
	b->me[b->n] = (struct msisdn_ent){ sort_key(rec->msisdn, b->bucket_mod, b->msisdn_rest),
					   rec->msisdn, imei_body };
	b->n++;
	b->st.rows++;
	if (b->n >= b->o.batch_rows)
		return bulk_flush(b);
	return 0;
}

/* Sorting by (bucket, number) groups a bucket's rows, and a number's rows within it. */
static void radix_sort(void *base, void *tmp, size_t n, size_t size)
{
	enum { BITS = 13, PASSES = 4 };	/* sort keys are below 10^15 < 2^52 */
	static size_t count[1 << BITS];
	unsigned char *src = base, *dst = tmp, *t;
	size_t i, pass, sum, c;
	uint64_t sk;

	for (pass = 0; pass < PASSES; pass++) {
		memset(count, 0, sizeof(count));
		for (i = 0; i < n; i++) {
			memcpy(&sk, src + i * size, sizeof(sk));
			count[(sk >> (pass * BITS)) & ((1 << BITS) - 1)]++;
		}
		for (sum = 0, i = 0; i < (1 << BITS); i++) {
			c = count[i];
			count[i] = sum;
			sum += c;
		}
		for (i = 0; i < n; i++) {
			memcpy(&sk, src + i * size, sizeof(sk));
			memcpy(dst + size * count[(sk >> (pass * BITS)) & ((1 << BITS) - 1)]++,
			       src + i * size, size);
		}
		t = src;
		src = dst;
		dst = t;
	}
	/* An even number of passes: the sorted rows are back in base. */
}

/* One direction of a flush, described by these so the window loop is written once. */
struct direction {
	const char *name;
	size_t n;
	uint64_t (*key_of)(const struct bulk *b, size_t i);	/* the number bucketed */
	void (*make_key)(uint64_t v, int digits, char *key, size_t *keylen, uint8_t *field,
			 size_t *fieldlen);
	/* Merges rows [i, j) (one number) into the stored value old[0..oldlen) and encodes the
	 * result into out. Returns its length, or 0 when nothing changed. */
	size_t (*merge)(struct bulk *b, size_t i, size_t j, const uint8_t *old, size_t oldlen,
			uint8_t *out);
};

static uint64_t imei_key_of(const struct bulk *b, size_t i)
{
	return b->ie[i].body;
}

static uint64_t msisdn_key_of(const struct bulk *b, size_t i)
{
	return b->me[i].msisdn;
}

static uint64_t kyc_key_of(const struct bulk *b, size_t i)
{
	return b->ke[i].msisdn;
}

/* A subscriber's KYC record is replaced by the latest row (the last one of a batch). */
static size_t kyc_merge_rows(struct bulk *b, size_t i, size_t j, const uint8_t *old,
			     size_t oldlen, uint8_t *out)
{
	const uint8_t *v = b->ke[j - 1].value;

	b->st.unchanged += j - i - 1;
	if (old && oldlen == PAIRS_KYC_VALUE_LEN && memcmp(old, v, oldlen) == 0) {
		b->st.unchanged++;
		return 0;
	}
	b->st.kyc_written++;
	memcpy(out, v, PAIRS_KYC_VALUE_LEN);
	return PAIRS_KYC_VALUE_LEN;
}

static size_t imei_merge_rows(struct bulk *b, size_t i, size_t j, const uint8_t *old,
			      size_t oldlen, uint8_t *out)
{
	struct pair_rec recs[PAIRS_MAX_RECORDS];
	size_t n = 0, k, changed = 0;
	int got;

	if (old) {
		got = pairs_imei_decode(old, oldlen, recs, PAIRS_MAX_RECORDS);
		if (got < 0) {
			b->st.corrupt++;
			changed = 1;
		} else {
			n = (size_t)got;
		}
	}
	for (k = i; k < j; k++) {
		if (pairs_imei_merge(recs, &n, &b->ie[k].rec))
			changed++;
		else
			b->st.unchanged++;
	}
	if (pairs_duplicated(recs, n, b->o.dup_min_ids, b->o.dup_by_imsi) &&
	    u64set_add(&b->dups, b->ie[i].body))
		b->st.duplicated++;
	if (!changed)
		return 0;
	b->st.imei_written++;
	return pairs_imei_encode(recs, n, out);
}

static size_t msisdn_merge_rows(struct bulk *b, size_t i, size_t j, const uint8_t *old,
				size_t oldlen, uint8_t *out)
{
	uint64_t bodies[PAIRS_MAX_RECORDS];
	size_t n = 0, k;
	bool changed = false;
	int got;

	if (old) {
		got = pairs_msisdn_decode(old, oldlen, bodies, PAIRS_MAX_RECORDS);
		if (got < 0) {
			b->st.corrupt++;
			changed = true;
		} else {
			n = (size_t)got;
		}
	}
	for (k = i; k < j; k++)
		changed |= pairs_msisdn_merge(bodies, &n, b->me[k].body);
	if (!changed)
		return 0;
	b->st.msisdn_written++;
	return pairs_msisdn_encode(bodies, n, out);
}

/* Command buffers for one bucket: HMGET key f... and HSET key f v ... */
struct cmdbuf {
	const char **argv;
	size_t *lens;
	uint8_t *bytes;		/* fields and values live here while the command is formatted */
	size_t cap_args, cap_bytes;
};

static int cmdbuf_reserve(void *ctx, struct cmdbuf *cb, size_t args, size_t bytes)
{
	if (args > cb->cap_args) {
		cb->argv = talloc_realloc(ctx, cb->argv, const char *, args);
		cb->lens = talloc_realloc(ctx, cb->lens, size_t, args);
		if (cb->argv == NULL || cb->lens == NULL)
			return -ENOMEM;
		cb->cap_args = args;
	}
	if (bytes > cb->cap_bytes) {
		cb->bytes = talloc_realloc(ctx, cb->bytes, uint8_t, bytes);
		if (cb->bytes == NULL)
			return -ENOMEM;
		cb->cap_bytes = bytes;
	}
	return 0;
}

/* The end of the bucket that starts at row i. */
static size_t bucket_end(const struct bulk *b, const struct direction *d, size_t i)
{
	uint64_t bucket = d->key_of(b, i) % b->bucket_mod;
	size_t j = i + 1;

	while (j < d->n && d->key_of(b, j) % b->bucket_mod == bucket)
		j++;
	return j;
}

/* Writes n in decimal at p; returns the digits written. */
static size_t put_dec(char *p, size_t n)
{
	char tmp[24];
	size_t len = 0, i;

	do {
		tmp[len++] = (char)('0' + n % 10);
		n /= 10;
	} while (n);
	for (i = 0; i < len; i++)
		p[i] = tmp[len - 1 - i];
	return len;
}

/* Queues a command given as argv, formatted here in RESP (the Redis protocol): hiredis's own
 * formatting grows an sds string argument by argument, which showed at the top of the
 * import's profile. The same bytes on the wire. */
static int append_argv(struct bulk *b, size_t argc, const char **argv, const size_t *lens)
{
	size_t need = 16, i, pos = 0;

	for (i = 0; i < argc; i++)
		need += lens[i] + 24;
	if (need > b->resp_cap) {
		char *p = talloc_realloc(b, b->resp, char, need);

		if (p == NULL)
			return -ENOMEM;
		b->resp = p;
		b->resp_cap = need;
	}
	b->resp[pos++] = '*';
	pos += put_dec(b->resp + pos, argc);
	b->resp[pos++] = '\r';
	b->resp[pos++] = '\n';
	for (i = 0; i < argc; i++) {
		b->resp[pos++] = '$';
		pos += put_dec(b->resp + pos, lens[i]);
		b->resp[pos++] = '\r';
		b->resp[pos++] = '\n';
		memcpy(b->resp + pos, argv[i], lens[i]);
		pos += lens[i];
		b->resp[pos++] = '\r';
		b->resp[pos++] = '\n';
	}
	return redisAppendFormattedCommand(b->c, b->resp, pos) == REDIS_OK ? 0 : -EIO;
}

/* Appends HMGET for the bucket of rows [i, j). */
static int append_hmget(struct bulk *b, const struct direction *d, void *tmp,
			struct cmdbuf *cb, size_t i, size_t j)
{
	char key[PAIRS_KEY_MAX];
	size_t keylen, fl, nargs = 2, used = 0, k;
	uint8_t *field;

	if (cmdbuf_reserve(tmp, cb, 2 + (j - i), (j - i) * PAIRS_FIELD_MAX + PAIRS_KEY_MAX) < 0)
		return -ENOMEM;
	for (k = i; k < j; k++) {
		if (k > i && d->key_of(b, k) == d->key_of(b, k - 1))
			continue;	/* one field per number */
		field = cb->bytes + PAIRS_KEY_MAX + used;
		d->make_key(d->key_of(b, k), b->o.bucket_digits, key, &keylen, field, &fl);
		cb->argv[nargs] = (const char *)field;
		cb->lens[nargs++] = fl;
		used += fl;
	}
	memcpy(cb->bytes, key, keylen);
	cb->argv[0] = "HMGET";
	cb->lens[0] = 5;
	cb->argv[1] = (const char *)cb->bytes;
	cb->lens[1] = keylen;
	return append_argv(b, nargs, cb->argv, cb->lens);
}

/* Reads the bucket's HMGET reply, merges, and appends an HSET of what changed. Returns 1
 * when an HSET was appended, 0 when nothing changed, -EIO. */
static int merge_bucket(struct bulk *b, const struct direction *d, void *tmp,
			struct cmdbuf *cb, size_t i, size_t j)
{
	char key[PAIRS_KEY_MAX];
	size_t keylen, fl, nargs = 2, used = PAIRS_KEY_MAX, k, end, vlen, f = 0;
	redisReply *r = NULL;
	uint8_t *field;
	const redisReply *old;
	int rc = 0;

	if (redisGetReply(b->c, (void **)&r) != REDIS_OK || r == NULL ||
	    r->type != REDIS_REPLY_ARRAY) {
		rc = set_err(b, "HMGET", r);
		goto out;
	}
	if (cmdbuf_reserve(tmp, cb, 2 + 2 * (j - i), PAIRS_KEY_MAX +
			   (j - i) * (PAIRS_FIELD_MAX + PAIRS_IMEI_VALUE_MAX)) < 0) {
		rc = -ENOMEM;
		goto out;
	}
	for (k = i; k < j; k = end, f++) {
		for (end = k + 1; end < j && d->key_of(b, end) == d->key_of(b, k); end++)
			;
		if (f >= r->elements) {
			rc = set_err(b, "HMGET (short reply)", NULL);
			goto out;
		}
		old = r->element[f];
		field = cb->bytes + used;
		d->make_key(d->key_of(b, k), b->o.bucket_digits, key, &keylen, field, &fl);
		vlen = d->merge(b, k, end, old->type == REDIS_REPLY_STRING ? (uint8_t *)old->str
					   : NULL, old->type == REDIS_REPLY_STRING ? old->len : 0,
				field + fl);
		if (vlen == 0)
			continue;
		cb->argv[nargs] = (const char *)field;
		cb->lens[nargs++] = fl;
		cb->argv[nargs] = (const char *)field + fl;
		cb->lens[nargs++] = vlen;
		used += fl + vlen;
	}
	if (nargs == 2)
		goto out;
	memcpy(cb->bytes, key, keylen);
	cb->argv[0] = "HSET";
	cb->lens[0] = 4;
	cb->argv[1] = (const char *)cb->bytes;
	cb->lens[1] = keylen;
	rc = append_argv(b, nargs, cb->argv, cb->lens);
	rc = rc < 0 ? rc : 1;
out:
	freeReplyObject(r);
	return rc;
}

/* A window of buckets: the HMGETs of its buckets go out together, then the HSETs of the
 * ones that changed. */
struct window {
	size_t starts[WINDOW_BUCKETS + 1];
	size_t nb;		/* buckets; 0: none were left */
	size_t hsets;		/* HSETs its merge appended, whose replies are unread */
};

/* Appends the HMGETs of the next window's buckets, from row *i on. */
static int window_fill(struct bulk *b, const struct direction *d, void *tmp, struct cmdbuf *cb,
		       struct window *w, size_t *i)
{
	int rc = 0;

	w->hsets = 0;
	for (w->nb = 0; w->nb < WINDOW_BUCKETS && *i < d->n && rc == 0; w->nb++) {
		w->starts[w->nb] = *i;
		*i = bucket_end(b, d, *i);
		rc = append_hmget(b, d, tmp, cb, w->starts[w->nb], *i);
	}
	w->starts[w->nb] = *i;
	return rc;
}

static int read_hsets(struct bulk *b, struct window *w)
{
	redisReply *r;
	int rc = 0;

	for (; w->hsets > 0 && rc == 0; w->hsets--) {
		r = NULL;
		if (redisGetReply(b->c, (void **)&r) != REDIS_OK || r == NULL ||
		    r->type != REDIS_REPLY_INTEGER)
			rc = set_err(b, "HSET", r);
		freeReplyObject(r);
	}
	return rc;
}

/* Writes one direction of the batch. Two windows of HMGETs are in flight ahead of the merge,
 * so that Redis works while the client merges: the commands go out as H0 H1 S0 H2 S1 H3 ...
 * (H: a window's HMGETs, S: its HSETs), and their replies come back in that order. The
 * windows hold distinct buckets, so an HMGET sent before an earlier window's HSET reads
 * nothing that HSET changes. */
static int flush_direction(struct bulk *b, const struct direction *d)
{
	void *tmp = talloc_new(b);
	struct cmdbuf cb = { 0 };
	struct window *win = talloc_array(tmp, struct window, 4), *cur;
	size_t i = 0, w, k;
	int rc = 0;

	if (tmp == NULL || win == NULL) {
		talloc_free(tmp);
		snprintf(b->err, sizeof(b->err), "%s: out of memory", d->name);
		return -ENOMEM;
	}
	rc = window_fill(b, d, tmp, &cb, &win[0], &i);
	if (rc == 0)
		rc = window_fill(b, d, tmp, &cb, &win[1], &i);
	for (w = 0; rc == 0 && win[w % 4].nb > 0; w++) {
		cur = &win[w % 4];
		if (w >= 2)
			rc = read_hsets(b, &win[(w - 2) % 4]);
		for (k = 0; k < cur->nb && rc >= 0; k++) {
			rc = merge_bucket(b, d, tmp, &cb, cur->starts[k], cur->starts[k + 1]);
			cur->hsets += rc > 0;
		}
		if (rc >= 0)
			rc = window_fill(b, d, tmp, &cb, &win[(w + 2) % 4], &i);
	}
	/* The HSET replies of the last two windows (an empty window has none). */
	if (rc == 0 && w >= 2)
		rc = read_hsets(b, &win[(w - 2) % 4]);
	if (rc == 0 && w >= 1)
		rc = read_hsets(b, &win[(w - 1) % 4]);
	talloc_free(tmp);
	if (rc == -ENOMEM)
		snprintf(b->err, sizeof(b->err), "%s: out of memory", d->name);
	return rc;
}

int bulk_add_kyc(struct bulk *b, uint64_t msisdn, const struct kyc_rec *rec)
{
	if (b->kn == b->kcap) {
		size_t cap = b->kcap ? 2 * b->kcap : 4096;

		free(b->kyc_tmp);
		b->kyc_tmp = NULL;
		if (grow(b, (void **)&b->ke, cap, sizeof(*b->ke)) < 0 ||
		    grow(b, &b->kyc_tmp, cap, sizeof(*b->ke)) < 0)
			return -ENOMEM;
		b->kcap = cap;
	}
	b->ke[b->kn].sk = sort_key(msisdn, b->bucket_mod, b->msisdn_rest);
	b->ke[b->kn].msisdn = msisdn;
	pairs_kyc_encode(rec, b->ke[b->kn].value);
	b->kn++;
	b->st.rows++;
	if (b->kn >= b->o.batch_rows)
		return bulk_flush(b);
	return 0;
}

/* Radix sort is stable: rows of one subscriber keep their file order, the last one wins. */
static int flush_kyc(struct bulk *b)
{
	struct direction kyc = { "KYC", b->kn, kyc_key_of, pairs_kyc_key, kyc_merge_rows };
	int rc;

	if (b->kn == 0)
		return 0;
	radix_sort(b->ke, b->kyc_tmp, b->kn, sizeof(*b->ke));
	rc = flush_direction(b, &kyc);
	b->kn = 0;
	return rc;
}

int bulk_flush(struct bulk *b)
{
	struct direction imei = { "IMEI pairings", b->n, imei_key_of, pairs_imei_key,
				  imei_merge_rows };
	struct direction msisdn = { "MSISDN handsets", b->n, msisdn_key_of, pairs_msisdn_key,
				    msisdn_merge_rows };
	int rc;

	if (b->n == 0)
		return flush_kyc(b) < 0 ? -EIO : renew_lock(b);
	radix_sort(b->ie, b->sort_tmp, b->n, sizeof(*b->ie));
	radix_sort(b->me, b->sort_tmp, b->n, sizeof(*b->me));
	rc = flush_direction(b, &imei);
	if (rc == 0)
		rc = flush_direction(b, &msisdn);
	b->n = 0;
	if (rc == 0)
		rc = flush_kyc(b);
	if (rc == 0)
		rc = renew_lock(b);
	return rc;
}

const struct bulk_stats *bulk_stats(const struct bulk *b)
{
	return &b->st;
}

const char *bulk_error(const struct bulk *b)
{
	return b->err;
}

/* HGET of one field; *out is the reply (NIL or STRING). Returns 0 or -EIO. */
static int hget(struct bulk *b, const char *key, size_t keylen, const uint8_t *field,
		size_t fl, redisReply **out)
{
	const char *argv[] = { "HGET", key, (const char *)field };
	size_t lens[] = { 4, keylen, fl };

	if (command(b, "HGET", -1, 3, argv, lens, out) < 0)
		return -EIO;
	if ((*out)->type != REDIS_REPLY_NIL && (*out)->type != REDIS_REPLY_STRING) {
		set_err(b, "HGET", *out);
		freeReplyObject(*out);
		return -EIO;
	}
	return 0;
}

int bulk_imei_pairings(struct bulk *b, uint64_t imei_body, struct pair_rec *recs)
{
	char key[PAIRS_KEY_MAX];
	uint8_t field[PAIRS_FIELD_MAX];
	size_t keylen, fl;
	redisReply *r;
	int n = 0;

	pairs_imei_key(imei_body, b->o.bucket_digits, key, &keylen, field, &fl);
	if (hget(b, key, keylen, field, fl, &r) < 0)
		return -EIO;
	if (r->type == REDIS_REPLY_STRING)
		n = pairs_imei_decode((uint8_t *)r->str, r->len, recs, PAIRS_MAX_RECORDS);
	freeReplyObject(r);
	if (n < 0)
		snprintf(b->err, sizeof(b->err), "%s: stored value does not decode", key);
	return n < 0 ? -EIO : n;
}

int bulk_msisdn_handsets(struct bulk *b, uint64_t msisdn, uint64_t *bodies)
{
	char key[PAIRS_KEY_MAX];
	uint8_t field[PAIRS_FIELD_MAX];
	size_t keylen, fl;
	redisReply *r;
	int n = 0;

	pairs_msisdn_key(msisdn, b->o.bucket_digits, key, &keylen, field, &fl);
	if (hget(b, key, keylen, field, fl, &r) < 0)
		return -EIO;
	if (r->type == REDIS_REPLY_STRING)
		n = pairs_msisdn_decode((uint8_t *)r->str, r->len, bodies, PAIRS_MAX_RECORDS);
	freeReplyObject(r);
	if (n < 0)
		snprintf(b->err, sizeof(b->err), "%s: stored value does not decode", key);
	return n < 0 ? -EIO : n;
}

int bulk_kyc_get(struct bulk *b, uint64_t msisdn, struct kyc_rec *rec)
{
	char key[PAIRS_KEY_MAX];
	uint8_t field[PAIRS_FIELD_MAX];
	size_t keylen, fl;
	redisReply *r;
	int rc = 0;

	pairs_kyc_key(msisdn, b->o.bucket_digits, key, &keylen, field, &fl);
	if (hget(b, key, keylen, field, fl, &r) < 0)
		return -EIO;
	if (r->type == REDIS_REPLY_NIL)
		rc = -ENOENT;
	else if (pairs_kyc_decode((uint8_t *)r->str, r->len, rec) < 0)
		rc = -EIO;
	freeReplyObject(r);
	if (rc == -EIO)
		snprintf(b->err, sizeof(b->err), "%s: stored value does not decode", key);
	return rc;
}

/* Reads the replies of n pipelined commands. Returns 0 or -EIO. */
static int drain(struct bulk *b, size_t n, const char *what)
{
	redisReply *r;
	int rc = 0;

	while (n-- > 0) {
		r = NULL;
		if (redisGetReply(b->c, (void **)&r) != REDIS_OK || r == NULL ||
		    r->type == REDIS_REPLY_ERROR)
			rc = set_err(b, what, r);
		freeReplyObject(r);
		if (b->c->err)
			return -EIO;
	}
	return rc;
}

int bulk_tac_replace(struct bulk *b, const struct tac_table *t, const char *source)
{
	enum { CHUNK = 1000 };
	static const char tmp_key[] = "tac:{tac}:new";
	const char *argv[2 + 2 * CHUNK];
	size_t lens[2 + 2 * CHUNK], i, n = tac_table_size(t), k = 0, sent = 0, vl;
	char *tacs = talloc_size(b, CHUNK * 9), *vals = talloc_size(b, CHUNK * 512);
	struct tac_entry e;
	int rc = 0;

	if (tacs == NULL || vals == NULL) {
		talloc_free(tacs);
		talloc_free(vals);
		snprintf(b->err, sizeof(b->err), "out of memory");
		return -ENOMEM;
	}
	argv[0] = "DEL";
	lens[0] = 3;
	argv[1] = tmp_key;
	lens[1] = sizeof(tmp_key) - 1;
	rc = append_argv(b, 2, argv, lens);
	sent++;
	for (i = 0; i < n && rc == 0; i++) {
		tac_table_at(t, i, tacs + 9 * k, &e);
		/* maker, unit separator, model: neither holds a control character */
		vl = (size_t)snprintf(vals + 512 * k, 512, "%.250s\x1f%.250s", e.maker, e.model);
		argv[2 + 2 * k] = tacs + 9 * k;
		lens[2 + 2 * k] = 8;
		argv[3 + 2 * k] = vals + 512 * k;
		lens[3 + 2 * k] = vl;
		if (++k == CHUNK || i + 1 == n) {
			argv[0] = "HSET";
			lens[0] = 4;
			rc = append_argv(b, 2 + 2 * k, argv, lens);
			sent++;
			k = 0;
			/* The values live in tacs/vals: send before they are reused. */
			if (rc == 0)
				rc = drain(b, sent, "HSET tac:{tac}:new");
			sent = 0;
		}
	}
	if (rc == 0) {
		const char *ren[] = { "RENAME", tmp_key, "tac:{tac}" };
		size_t renl[] = { 6, sizeof(tmp_key) - 1, 9 };
		const char *meta[] = { "SET", "tac:{tac}:source", source };
		size_t metal[] = { 3, 16, strlen(source) };

		rc = append_argv(b, 3, ren, renl);
		if (rc == 0)
			rc = append_argv(b, 3, meta, metal);
		if (rc == 0)
			rc = drain(b, 2, "RENAME tac:{tac}");
	}
	talloc_free(tacs);
	talloc_free(vals);
	return rc < 0 ? -EIO : 0;
}

size_t bulk_used_memory(struct bulk *b)
{
	const char *argv[] = { "INFO", "memory" };
	size_t lens[] = { 4, 6 };
	unsigned long long used = 0, startup = 0;
	redisReply *r;
	const char *p;

	if (command(b, "INFO", REDIS_REPLY_STRING, 2, argv, lens, &r) < 0)
		return 0;
	if ((p = strstr(r->str, "\r\nused_memory:")) != NULL)
		used = strtoull(p + 14, NULL, 10);
	if ((p = strstr(r->str, "\r\nused_memory_startup:")) != NULL)
		startup = strtoull(p + 22, NULL, 10);
	freeReplyObject(r);
	return used > startup ? (size_t)(used - startup) : 0;
}
