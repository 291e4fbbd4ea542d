/* The admin commands' reads and clears (bulk_admin.h): one command at a time on the bulk
 * connections, each routed by its key's slot. Key names as doc/redis-keys.md lists them and
 * store.c writes them. Every reply is checked for its type and bounded before it is lent. */
#include "config.h"

#include "store/bulk_admin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/bulk.h"
#include "store/bulk_int.h"
#include "store/pairs.h"

#define STREAM_NAME_MAX 200	/* a configured stream name, as a key */

static bool is_str(const redisReply *r)
{
	return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

/* Copies a string reply into out (outsz with the NUL), cut when longer. */
static void copy_str(char *out, size_t outsz, const redisReply *r)
{
	size_t n = is_str(r) ? r->len : 0;

	if (n >= outsz)
		n = outsz - 1;
	memcpy(out, is_str(r) ? r->str : "", n);
	out[n] = '\0';
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
			out[i] = '?';	/* a name is shown on a terminal */
	}
}

static long long reply_int(const redisReply *r)
{
	if (r == NULL)
		return -1;
	if (r->type == REDIS_REPLY_INTEGER)
		return r->integer;
	if (r->type == REDIS_REPLY_STRING)
		return strtoll(r->str, NULL, 10);
	return -1;
}

long long bulk_id_ms(const char *id)
{
	char *end;
	unsigned long long v;

	if (id == NULL || *id < '0' || *id > '9')
		return -1;
	errno = 0;
	v = strtoull(id, &end, 10);
	if (errno || *end != '-' || v > (unsigned long long)INT64_MAX)
		return -1;
	return (long long)v;
}

static int stream_ok(const char *stream)
{
	return stream && *stream && strlen(stream) <= STREAM_NAME_MAX ? 0 : -EINVAL;
}

/* XRANGE or XREVRANGE COUNT 1: the id of the first or last entry into id ("" when none). */
static int end_id(struct bulk *b, const char *stream, bool last, char id[BULK_ID_MAX + 1])
{
	const char *argv[] = { last ? "XREVRANGE" : "XRANGE", stream, last ? "+" : "-",
			       last ? "-" : "+", "COUNT", "1" };
	size_t lens[] = { strlen(argv[0]), strlen(stream), 1, 1, 5, 1 };
	redisReply *r;

	id[0] = '\0';
	if (bulk_command(b, argv[0], REDIS_REPLY_ARRAY, 6, argv, lens, &r) < 0)
		return -EIO;
	if (r->elements > 0 && r->element[0]->type == REDIS_REPLY_ARRAY &&
	    r->element[0]->elements > 0)
		copy_str(id, BULK_ID_MAX + 1, r->element[0]->element[0]);
	freeReplyObject(r);
	return 0;
}

/* XPENDING summary and the oldest pending entry's idle time. */
static int group_pending(struct bulk *b, const char *stream, struct bulk_group *g)
{
	const char *argv[] = { "XPENDING", stream, g->name, "-", "+", "1" };
	size_t lens[] = { 8, strlen(stream), strlen(g->name), 1, 1, 1 };
	redisReply *r;

	g->oldest_id[0] = '\0';
	g->oldest_idle_ms = -1;
	if (bulk_command(b, "XPENDING", REDIS_REPLY_ARRAY, 6, argv, lens, &r) < 0)
		return -EIO;
	if (r->elements > 0 && r->element[0]->type == REDIS_REPLY_ARRAY &&
	    r->element[0]->elements >= 3) {
		copy_str(g->oldest_id, sizeof(g->oldest_id), r->element[0]->element[0]);
		g->oldest_idle_ms = reply_int(r->element[0]->element[2]);
	}
	freeReplyObject(r);
	return 0;
}

/* One group of XINFO GROUPS (RESP2: a flat list of names and values). */
static void group_read(const redisReply *e, struct bulk_group *g)
{
	memset(g, 0, sizeof(*g));
	g->lag = -1;
	for (size_t k = 0; e->type == REDIS_REPLY_ARRAY && k + 1 < e->elements; k += 2) {
		const redisReply *n = e->element[k], *v = e->element[k + 1];

		if (!is_str(n))
			continue;
		if (strcmp(n->str, "name") == 0 && is_str(v)) {
			/* Kept as Redis has it (the XPENDING below names it), unless cut. */
			g->name_cut = v->len > BULK_NAME_MAX || memchr(v->str, '\0', v->len);
			memcpy(g->name, v->str, v->len < BULK_NAME_MAX ? v->len : BULK_NAME_MAX);
		}
		else if (strcmp(n->str, "consumers") == 0)
			g->consumers = reply_int(v);
		else if (strcmp(n->str, "pending") == 0)
			g->pending = reply_int(v);
		else if (strcmp(n->str, "last-delivered-id") == 0)
			copy_str(g->last_id, sizeof(g->last_id), v);
		else if (strcmp(n->str, "lag") == 0)
			g->lag = v->type == REDIS_REPLY_INTEGER ? v->integer : -1;
	}
}

int bulk_stream_info(struct bulk *b, const char *stream, struct bulk_stream *out)
{
	const char *argv[3] = { "TYPE", stream, NULL };
	size_t lens[3] = { 4, 0, 0 };
	redisReply *r;
	size_t i;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (stream_ok(stream) < 0)
		return -EINVAL;
	lens[1] = strlen(stream);
	if (bulk_command(b, "TYPE", REDIS_REPLY_STATUS, 2, argv, lens, &r) < 0)
		return -EIO;
	if (strcmp(r->str, "none") == 0) {
		freeReplyObject(r);
		return 0;
	}
	if (strcmp(r->str, "stream") != 0) {
		bulk_set_error(b, "%s holds a %.20s, not a stream", stream, r->str);
		freeReplyObject(r);
		return -EMEDIUMTYPE;
	}
	freeReplyObject(r);
	out->exists = true;
	argv[0] = "XLEN";
	lens[0] = 4;
	if (bulk_command(b, "XLEN", REDIS_REPLY_INTEGER, 2, argv, lens, &r) < 0)
		return -EIO;
	out->length = r->integer;
	freeReplyObject(r);
	if (end_id(b, stream, false, out->first_id) < 0 || end_id(b, stream, true, out->last_id) < 0)
		return -EIO;
	argv[0] = "XINFO";
	argv[1] = "GROUPS";
	argv[2] = stream;
	lens[0] = 5;
	lens[1] = 6;
	lens[2] = strlen(stream);
	/* XINFO's key is its third word: routed by it, not by "GROUPS". */
	if (bulk_command_key(b, "XINFO GROUPS", REDIS_REPLY_ARRAY, 3, argv, lens, 2, &r) < 0)
		return -EIO;
	out->groups_total = r->elements;
	for (i = 0; i < r->elements && out->ngroups < BULK_GROUPS_MAX; i++)
		group_read(r->element[i], &out->groups[out->ngroups++]);
	freeReplyObject(r);
	for (i = 0; i < out->ngroups && rc == 0; i++) {
		if (out->groups[i].name_cut) {
			out->groups[i].oldest_idle_ms = -1;
			continue;	/* a name too long to show: no oldest pending told */
		}
		rc = group_pending(b, stream, &out->groups[i]);
	}
	return rc;
}

int bulk_stream_last(struct bulk *b, const char *stream, unsigned n,
		     void (*cb)(void *arg, const char *id, const struct store_kv *kv, size_t n),
		     void *arg)
{
	struct store_kv kv[BULK_ENTRY_FIELDS_MAX];
	char count[16], id[BULK_ID_MAX + 1];
	const char *argv[] = { "XREVRANGE", stream, "+", "-", "COUNT", count };
	size_t lens[] = { 9, 0, 1, 1, 5, 0 };
	redisReply *r;
	size_t i, k, nkv;

	if (stream_ok(stream) < 0 || n == 0 || n > BULK_LAST_MAX)
		return -EINVAL;
	lens[1] = strlen(stream);
	lens[5] = (size_t)snprintf(count, sizeof(count), "%u", n);
	if (bulk_command(b, "XREVRANGE", REDIS_REPLY_ARRAY, 6, argv, lens, &r) < 0)
		return -EIO;
	/* Newest first from XREVRANGE: lent oldest first, as the stream reads. */
	for (i = r->elements; i-- > 0;) {
		const redisReply *e = r->element[i], *f;

		if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 || !is_str(e->element[0]) ||
		    e->element[1]->type != REDIS_REPLY_ARRAY)
			continue;
		copy_str(id, sizeof(id), e->element[0]);
		f = e->element[1];
		for (k = 0, nkv = 0; k + 1 < f->elements && nkv < BULK_ENTRY_FIELDS_MAX; k += 2) {
			if (!is_str(f->element[k]) || !is_str(f->element[k + 1]))
				continue;
			kv[nkv++] = (struct store_kv){ f->element[k]->str, f->element[k]->len,
						       f->element[k + 1]->str,
						       f->element[k + 1]->len };
		}
		cb(arg, id, kv, nkv);
	}
	k = r->elements;
	freeReplyObject(r);
	return (int)k;
}

/* ---- reports ---- */

/* "rep:{<imei>}" followed by suffix. Returns the length, or -EINVAL. */
static int report_key(const char *imei, const char *suffix, char *out, size_t outsz)
{
	int n;

	if (imei == NULL || strlen(imei) != 15 || strspn(imei, "0123456789") != 15)
		return -EINVAL;
	n = snprintf(out, outsz, "rep:{%s}%s", imei, suffix);
	return n < 0 || (size_t)n >= outsz ? -EINVAL : n;
}

int bulk_report_imei(struct bulk *b, const char *ref, size_t len, char imei[16])
{
	char key[64];
	const char *argv[] = { "GET", key };
	size_t lens[] = { 3, 0 };
	redisReply *r;
	int n, rc = 0;

	/* A reference is digits (REPORT_REF_LEN); anything else names no report. */
	if (len == 0 || len > 32)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (ref[i] < '0' || ref[i] > '9')
			return -EINVAL;
	}
	n = snprintf(key, sizeof(key), "ref:{%.*s}", (int)len, ref);
	lens[1] = (size_t)n;
	if (bulk_command(b, "GET", -1, 2, argv, lens, &r) < 0)
		return -EIO;
	if (r->type == REDIS_REPLY_NIL)
		rc = -ENOENT;
	else if (r->type != REDIS_REPLY_STRING || r->len != 15 ||
		 strspn(r->str, "0123456789") != 15)
		rc = -EBADMSG;
	else
		memcpy(imei, r->str, 16);
	if (rc == -EBADMSG)
		bulk_set_error(b, "ref:{%.*s} does not hold an IMEI", (int)len, ref);
	freeReplyObject(r);
	return rc;
}

int bulk_report_fields(struct bulk *b, const char *imei,
		       void (*cb)(void *arg, const struct store_kv *kv, size_t n), void *arg)
{
	struct store_kv kv[BULK_REPORT_FIELDS_MAX];
	char key[64];
	const char *argv[] = { "HGETALL", key };
	size_t lens[] = { 7, 0 };
	redisReply *r;
	size_t i, n = 0;
	int kl = report_key(imei, "", key, sizeof(key));

	if (kl < 0)
		return -EINVAL;
	lens[1] = (size_t)kl;
	if (bulk_command(b, "HGETALL", REDIS_REPLY_ARRAY, 2, argv, lens, &r) < 0)
		return -EIO;
	for (i = 0; i + 1 < r->elements && n < BULK_REPORT_FIELDS_MAX; i += 2) {
		if (!is_str(r->element[i]) || !is_str(r->element[i + 1]))
			continue;
		kv[n++] = (struct store_kv){ r->element[i]->str, r->element[i]->len,
					     r->element[i + 1]->str, r->element[i + 1]->len };
	}
	if (n > 0)
		cb(arg, kv, n);
	freeReplyObject(r);
	return (int)n;
}

int bulk_report_past(struct bulk *b, const char *imei, unsigned max,
		     void (*cb)(void *arg, const char *ref, size_t len), void *arg)
{
	char key[64], from[16];
	const char *argv[] = { "LRANGE", key, from, "-1" };
	size_t lens[] = { 6, 0, 0, 2 };
	redisReply *r;
	int kl = report_key(imei, ":past", key, sizeof(key));
	long long total;

	if (kl < 0 || max == 0 || max > 1000)
		return -EINVAL;
	lens[1] = (size_t)kl;
	{
		const char *largv[] = { "LLEN", key };
		size_t llens[] = { 4, (size_t)kl };

		if (bulk_command(b, "LLEN", REDIS_REPLY_INTEGER, 2, largv, llens, &r) < 0)
			return -EIO;
		total = r->integer;
		freeReplyObject(r);
	}
	lens[2] = (size_t)snprintf(from, sizeof(from), "-%u", max);
	if (bulk_command(b, "LRANGE", REDIS_REPLY_ARRAY, 4, argv, lens, &r) < 0)
		return -EIO;
	for (size_t i = 0; i < r->elements; i++) {
		if (is_str(r->element[i]))
			cb(arg, r->element[i]->str, r->element[i]->len);
	}
	freeReplyObject(r);
	return total > INT32_MAX ? INT32_MAX : (int)total;
}

static int report_hash(struct bulk *b, const char *imei, const char *suffix,
		       void (*cb)(void *arg, const char *f, size_t flen, const char *v,
				  size_t vlen),
		       void *arg);

int bulk_report_outbox(struct bulk *b, const char *imei,
		       void (*cb)(void *arg, const char *f, size_t flen, const char *v,
				  size_t vlen),
		       void *arg)
{
	return report_hash(b, imei, ":out", cb, arg);
}

int bulk_report_sightings(struct bulk *b, const char *imei,
			  void (*cb)(void *arg, const char *f, size_t flen, const char *v,
				     size_t vlen),
			  void *arg)
{
	return report_hash(b, imei, ":seen", cb, arg);
}

/* Every field of one of the report's hashes (rep:{<imei>}<suffix>), lent to cb. */
static int report_hash(struct bulk *b, const char *imei, const char *suffix,
		       void (*cb)(void *arg, const char *f, size_t flen, const char *v,
				  size_t vlen),
		       void *arg)
{
	char key[64];
	const char *argv[] = { "HGETALL", key };
	size_t lens[] = { 7, 0 };
	redisReply *r;
	size_t i, n = 0;
	int kl = report_key(imei, suffix, key, sizeof(key));

	if (kl < 0)
		return -EINVAL;
	lens[1] = (size_t)kl;
	if (bulk_command(b, "HGETALL", REDIS_REPLY_ARRAY, 2, argv, lens, &r) < 0)
		return -EIO;
	for (i = 0; i + 1 < r->elements; i += 2) {
		if (!is_str(r->element[i]) || !is_str(r->element[i + 1]))
			continue;
		cb(arg, r->element[i]->str, r->element[i]->len, r->element[i + 1]->str,
		   r->element[i + 1]->len);
		n++;
	}
	freeReplyObject(r);
	return (int)n;
}

int bulk_report_relay_mark(struct bulk *b, const char *imei, long long *ms)
{
	const char *argv[] = { "ZSCORE", "rep:relay", imei };
	size_t lens[] = { 6, 9, 0 };
	redisReply *r;
	int rc = 0;
	char key[64];

	if (report_key(imei, "", key, sizeof(key)) < 0)
		return -EINVAL;
	lens[2] = 15;
	if (bulk_command(b, "ZSCORE", -1, 3, argv, lens, &r) < 0)
		return -EIO;
	if (r->type == REDIS_REPLY_STRING)
		*ms = strtoll(r->str, NULL, 10);
	else
		rc = -ENOENT;
	freeReplyObject(r);
	return rc;
}

/* ---- lock-outs ---- */

/* Reads one counter (a string) or one code's record (a hash: its tries in n) into l when it
 * is there. Returns 1 when found, 0 when not, -EIO. */
static int lock_read(struct bulk *b, struct bulk_lock *l, bool hash, unsigned tries)
{
	const char *argv[] = { hash ? "HGET" : "GET", l->key, "n" };
	size_t lens[] = { strlen(argv[0]), strlen(l->key), 1 };
	redisReply *r;

	if (bulk_command(b, argv[0], -1, hash ? 3 : 2, argv, lens, &r) < 0)
		return -EIO;
	if (r->type != REDIS_REPLY_STRING) {
		freeReplyObject(r);
		return 0;
	}
	l->count = strtoll(r->str, NULL, 10);
	freeReplyObject(r);
	l->locked = tries > 0 && l->count >= (long long)tries;
	argv[0] = "PTTL";
	lens[0] = 4;
	if (bulk_command(b, "PTTL", REDIS_REPLY_INTEGER, 2, argv, lens, &r) < 0)
		return -EIO;
	l->ms_left = r->integer >= 0 ? r->integer : -1;
	freeReplyObject(r);
	return 1;
}

/* Adds the lock at key to out when it is there (a code's record only when locked). */
static int lock_add(struct bulk *b, const char *what, const char *key, bool hash,
		    unsigned tries, struct bulk_lock *out, size_t max, size_t *n)
{
	struct bulk_lock l = { .what = what, .ms_left = -1 };
	int rc;

	if (*n == max || strlen(key) >= sizeof(l.key))
		return -EINVAL;
	snprintf(l.key, sizeof(l.key), "%s", key);
	rc = lock_read(b, &l, hash, tries);
	if (rc <= 0)
		return rc;
	if (hash && !l.locked)
		return 0;	/* a code still in use: not a lock-out */
	out[(*n)++] = l;
	return 0;
}

int bulk_number_locks(struct bulk *b, uint64_t msisdn, const char *e164, unsigned tries,
		      bool limits, struct bulk_lock *out, size_t max)
{
	static const struct { const char *prefix, *what; } rl[] = {
		{ "vf:m:", "limit: ID-digit tries from this number (rate-verify-msisdn)" },
		{ "ub:m:", "limit: unblock attempts from this number (rate-unblock-msisdn)" },
		{ "rs:m:", "limit: new PINs asked from this number (rate-resend-msisdn)" },
		{ "rep:m:", "limit: reports from this number (rate-report-msisdn)" },
		{ "chk:m:", "limit: checks from this number (rate-check-msisdn)" },
		{ "otp:m:", "limit: codes asked from this number" },
	};
	char kyc[PAIRS_KEY_MAX], key[BULK_LOCK_KEY_MAX];
	uint8_t field[PAIRS_FIELD_MAX];
	size_t kl, fl, n = 0, i;
	int rc = 0;

	if (e164 == NULL || e164[0] != '+' || strlen(e164) > 16 ||
	    strspn(e164 + 1, "0123456789") != strlen(e164) - 1)
		return -EINVAL;
	/* "kyc:{45678}:vf:254712345678:own" (store_verify_kyc): the record's slot. */
	pairs_kyc_key(msisdn, bulk_bucket_digits(b), kyc, &kl, field, &fl);
	snprintf(key, sizeof(key), "%.*s:vf:%llu:own", (int)kl, kyc, (unsigned long long)msisdn);
	rc = lock_add(b, "ID-digit tries from the owner's own line", key, false, tries, out, max,
		      &n);
	snprintf(key, sizeof(key), "%.*s:vf:%llu:oth", (int)kl, kyc, (unsigned long long)msisdn);
	if (rc == 0)
		rc = lock_add(b, "ID-digit tries from other lines", key, false, tries, out, max,
			      &n);
	/* "otp:{+254712345678}:own" (store_otp_issue): a code whose tries are used up. */
	snprintf(key, sizeof(key), "otp:{%s}:own", e164);
	if (rc == 0)
		rc = lock_add(b, "one-time code asked from the line itself, tries used up", key,
			      true, tries, out, max, &n);
	snprintf(key, sizeof(key), "otp:{%s}:oth", e164);
	if (rc == 0)
		rc = lock_add(b, "one-time code asked from another line, tries used up", key, true,
			      tries, out, max, &n);
	for (i = 0; limits && rc == 0 && i < sizeof(rl) / sizeof(rl[0]); i++) {
		/* "rl:{vf:m:+254712345678}" (store_limit_hit). */
		snprintf(key, sizeof(key), "rl:{%s%s}", rl[i].prefix, e164);
		rc = lock_add(b, rl[i].what, key, false, 0, out, max, &n);
	}
	return rc < 0 ? rc : (int)n;
}

int bulk_report_locks(struct bulk *b, const char *imei, unsigned tries, struct bulk_lock *out,
		      size_t max)
{
	char key[BULK_LOCK_KEY_MAX];
	size_t n = 0;
	int rc;

	/* "rep:{356938035643809}:pin:own" (store_verify_pin): the report's slot. */
	if (report_key(imei, ":pin:own", key, sizeof(key)) < 0)
		return -EINVAL;
	rc = lock_add(b, "wrong PINs from the owner's or reporter's line", key, false, tries, out,
		      max, &n);
	report_key(imei, ":pin:oth", key, sizeof(key));
	if (rc == 0)
		rc = lock_add(b, "wrong PINs from other lines", key, false, tries, out, max, &n);
	return rc < 0 ? rc : (int)n;
}

int bulk_locks_clear(struct bulk *b, const struct bulk_lock *l, size_t n)
{
	long long deleted = 0;
	redisReply *r;

	for (size_t i = 0; i < n; i++) {
		const char *argv[] = { "DEL", l[i].key };
		size_t lens[] = { 3, strlen(l[i].key) };

		if (bulk_command(b, "DEL", REDIS_REPLY_INTEGER, 2, argv, lens, &r) < 0)
			return -EIO;
		deleted += r->integer;
		freeReplyObject(r);
	}
	return (int)deleted;
}
