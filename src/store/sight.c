/* Sightings (issue 22): the import's side. The index of reported IMEIs is read once into an
 * open-addressing hash set; rows of a watched IMEI are queued, merged per (IMEI, line), and
 * each goes to Redis as one script in the report's slot (doc/redis-keys.md, "Sightings"). */
#define _GNU_SOURCE
#include "store/sight.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>
#include <talloc.h>

#include "domain/imei.h"
#include "domain/report.h"
#include "store/bulk.h"
#include "store/bulk_int.h"
#include "store/sight_keys.h"

#define REMEMBER_S "2592000"	/* a sighting's stream dedup key: 30 days */
#define RELAY_INDEX "rep:relay"	/* as store.c's: the daemon's sweep relays the SMS */
#define SIGHT_PER_REPORT_MAX_S "1000"

struct sight_ent {
	uint64_t body, msisdn, imsi;
	uint16_t first, last;
	char op[SIGHT_OPERATOR_MAX + 1];
};

struct sight {
	struct bulk *b;
	struct sight_opts o;
	uint64_t *slots;	/* IMEI bodies + 1 (0: empty) */
	size_t cap;
	struct sight_ent *q;
	size_t n;
	char open[REPORT_SET_MAX];
	struct sight_stats st;
};

/* One candidate, decided in the report's slot. KEYS: rep:{imei}, rep:{imei}:seen,
 * rep:{imei}:seenq, rep:{imei}:out. ARGV: the open states "a|b", the line (+E.164), the IMSI
 * ('' none), first and last day seen (YYYY-MM-DD), the last day as days since 2000-01-01,
 * the operator, the SMS outbox stream ('' none), the count of texts, then language/text
 * pairs (the first the default). A sighting is new once per (report, line, IMSI): recorded
 * with its days, put on the pending set (not yet on the stream), and the owner's SMS written
 * into the report's outbox, all in one step; a known one only widens its days. Returns {code}
 * or, for a new (4) or still pending (5) one, {code, ref, report day, first, last, operator,
 * sms queued}. Codes: 0 no open report, 1 the owner's or reporter's line, 2 last seen before
 * the report's day, 3 known, 6 the report holds SIGHT_PER_REPORT_MAX sightings already (a
 * cloned IMEI seen on a line a day: the report's hash stays bounded, the rest is counted). */
static const char sight_script[] =
	"local st = redis.call('HGET', KEYS[1], 'state')\n"
	"if not st or not string.find('|' .. ARGV[1] .. '|', '|' .. st .. '|', 1, true) then\n"
	"  return {0}\n"
	"end\n"
	"local r = redis.call('HMGET', KEYS[1], 'ref', 'owner', 'reporter', 'created', 'lang')\n"
	"local ref = r[1] or ''\n"
	"if ARGV[2] == r[2] or ARGV[2] == r[3] then return {1} end\n"
	"local day = math.floor(tonumber(r[4] or '0') / 86400) - 10957\n"
	"if tonumber(ARGV[6]) < day then return {2} end\n"
	"local f = ARGV[2] .. '|' .. ARGV[3]\n"
	"local old = redis.call('HGET', KEYS[2], f)\n"
	"if old then\n"
	"  local a, b, op = string.match(old, '^([^|]*)|([^|]*)|(.*)$')\n"
	"  a = a or ARGV[4]\n"
	"  b = b or ARGV[5]\n"
	"  op = op or ''\n"
	"  if ARGV[4] < a then a = ARGV[4] end\n"
	"  if ARGV[5] > b then b = ARGV[5] end\n"
	"  if ARGV[7] ~= '' then op = ARGV[7] end\n"
	"  local v = a .. '|' .. b .. '|' .. op\n"
	"  if v ~= old then redis.call('HSET', KEYS[2], f, v) end\n"
	"  if redis.call('SISMEMBER', KEYS[3], f) == 1 then return {5, ref, day, a, b, op, 0} end\n"
	"  return {3}\n"
	"end\n"
	"if redis.call('HLEN', KEYS[2]) >= " SIGHT_PER_REPORT_MAX_S " then return {6} end\n"
	"redis.call('HSET', KEYS[2], f, ARGV[4] .. '|' .. ARGV[5] .. '|' .. ARGV[7])\n"
	"redis.call('SADD', KEYS[3], f)\n"
	"local sms = 0\n"
	"local k = tonumber(ARGV[9])\n"
	"if ARGV[8] ~= '' and r[2] and k > 0 then\n"
	"  local text = ARGV[11]\n"
	"  for i = 0, k - 1 do\n"
	"    if ARGV[10 + 2 * i] == r[5] then text = ARGV[11 + 2 * i] end\n"
	"  end\n"
	"  text = string.gsub(text, '\\1', ref)\n"
	"  local n = redis.call('HINCRBY', KEYS[1], 'outseq', 1)\n"
	"  redis.call('HSET', KEYS[4], ref .. ':' .. n, ARGV[8] .. '\\n' .. r[2] .. '\\n' .. text)\n"
	"  sms = 1\n"
	"end\n"
	"return {4, ref, day, ARGV[4], ARGV[5], ARGV[7], sms}\n";

/* One stream entry per id, as the daemon's CEIR enqueue (store.c). KEYS: the stream, its
 * dedup key. ARGV: how long the id is remembered, then field/value pairs. */
static const char enqueue_script[] =
	"local id = redis.call('GET', KEYS[2])\n"
	"if id then return id end\n"
	"id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))\n"
	"redis.call('SET', KEYS[2], id, 'EX', ARGV[1])\n"
	"return id\n";

static uint64_t mix(uint64_t v)
{
	return v * 0x9E3779B97F4A7C15ULL;
}

static bool set_add(struct sight *s, uint64_t body)
{
	uint64_t v = body + 1;
	size_t j;

	for (j = (mix(v) >> 32) & (s->cap - 1); s->slots[j]; j = (j + 1) & (s->cap - 1)) {
		if (s->slots[j] == v)
			return false;
	}
	s->slots[j] = v;
	return true;
}

bool sight_watched(const struct sight *s, uint64_t body)
{
	uint64_t v = body + 1;
	size_t j;

	if (s == NULL || s->st.watched == 0)
		return false;
	for (j = (mix(v) >> 32) & (s->cap - 1); s->slots[j]; j = (j + 1) & (s->cap - 1)) {
		if (s->slots[j] == v)
			return true;
	}
	return false;
}

static int sight_destructor(struct sight *s)
{
	free(s->slots);
	free(s->q);
	return 0;
}

struct sight *sight_new(void *ctx, struct bulk *b, const struct sight_opts *o)
{
	struct sight *s = talloc_zero(ctx, struct sight);
	/* Received through blocked: unblock_sent means the owner has the phone back and asked
	 * for it to work again, so a new line there is no sighting. */
	unsigned set = REPORT_IN(RECEIVED) | REPORT_IN(VERIFIED) | REPORT_IN(SENT) |
		       REPORT_IN(BLOCKED);

	if (s == NULL)
		return NULL;
	talloc_set_destructor(s, sight_destructor);
	s->b = b;
	s->o = *o;
	s->q = malloc(SIGHT_BATCH * sizeof(*s->q));
	if (s->q == NULL || report_states_format(set, s->open, sizeof(s->open)) < 0) {
		talloc_free(s);
		return NULL;
	}
	return s;
}

/* A 15-digit IMEI of a set member, or -1 for anything else (left out). */
static int64_t member_body(const redisReply *e)
{
	if (e->type != REDIS_REPLY_STRING || e->len != 15)
		return -1;
	for (size_t i = 0; i < 15; i++) {
		if (e->str[i] < '0' || e->str[i] > '9')
			return -1;
	}
	if (imei_check_digit(e->str) != e->str[14])
		return -1;
	uint64_t v = 0;

	for (size_t i = 0; i < 14; i++)
		v = v * 10 + (uint64_t)(e->str[i] - '0');
	return (int64_t)v;
}

int sight_load(struct sight *s)
{
	char key[SIGHT_INDEX_MAX];
	const char *argv[2] = { "SMEMBERS", key };
	size_t lens[2] = { 8, 0 }, total = 0, cap;
	redisReply **r = calloc(SIGHT_INDEX_SHARDS, sizeof(*r));
	unsigned k;
	int rc = 0;

	if (r == NULL)
		return -ENOMEM;
	/* 1000 commands: a fraction of a second, once per import. */
	for (k = 0; k < SIGHT_INDEX_SHARDS && rc == 0; k++) {
		lens[1] = (size_t)snprintf(key, sizeof(key), SIGHT_INDEX_FMT, k);
		if (bulk_command(s->b, "SMEMBERS", REDIS_REPLY_ARRAY, 2, argv, lens, &r[k]) < 0)
			rc = -EIO;
		else
			total += r[k]->elements;
	}
	if (rc == 0 && total > SIGHT_WATCH_MAX)
		rc = -E2BIG;
	for (cap = 1024; rc == 0 && cap < 2 * total; cap *= 2)
		;
	if (rc == 0 && (s->slots = calloc(cap, sizeof(*s->slots))) == NULL)
		rc = -ENOMEM;
	if (rc == 0) {
		s->cap = cap;
		for (k = 0; k < SIGHT_INDEX_SHARDS; k++) {
			for (size_t i = 0; i < r[k]->elements; i++) {
				int64_t body = member_body(r[k]->element[i]);

				if (body >= 0 && set_add(s, (uint64_t)body))
					s->st.watched++;
			}
		}
	}
	for (k = 0; k < SIGHT_INDEX_SHARDS; k++)
		if (r[k])
			freeReplyObject(r[k]);
	free(r);
	return rc;
}

int sight_add(struct sight *s, uint64_t body, const struct pair_rec *rec, uint64_t imsi,
	      const char *op, size_t oplen)
{
	struct sight_ent *e;
	size_t i, o = 0;

	/* A burst of rows of one line (a dump lists a line once a day) merges in place. */
	if (s->n > 0) {
		e = &s->q[s->n - 1];
		if (e->body == body && e->msisdn == rec->msisdn && e->imsi == imsi) {
			if (rec->first_seen < e->first)
				e->first = rec->first_seen;
			if (rec->last_seen > e->last)
				e->last = rec->last_seen;
			return 0;
		}
	}
	if (s->n == SIGHT_BATCH) {
		int rc = sight_flush(s);

		if (rc < 0)
			return rc;
	}
	e = &s->q[s->n++];
	e->body = body;
	e->msisdn = rec->msisdn;
	e->imsi = imsi;
	e->first = rec->first_seen;
	e->last = rec->last_seen;
	/* The operator's name goes onto the authorities' stream as printable ASCII only. */
	for (i = 0; i < oplen && o < SIGHT_OPERATOR_MAX; i++) {
		if (op[i] >= 0x20 && op[i] < 0x7f && op[i] != '|')
			e->op[o++] = op[i];
	}
	e->op[o] = '\0';
	return 0;
}

static int ent_cmp(const void *a, const void *b)
{
	const struct sight_ent *x = a, *y = b;

	if (x->body != y->body)
		return x->body < y->body ? -1 : 1;
	if (x->msisdn != y->msisdn)
		return x->msisdn < y->msisdn ? -1 : 1;
	if (x->imsi != y->imsi)
		return x->imsi < y->imsi ? -1 : 1;
	return 0;
}

static long long wall_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static const char *str_of(const redisReply *r, size_t i)
{
	return i < r->elements && r->element[i]->type == REDIS_REPLY_STRING ? r->element[i]->str
	       : "";
}

/* Puts a recorded sighting onto the stream (once: the dedup key), then off the pending set.
 * r: the script's answer. */
static int sight_queue(struct sight *s, const char *imei, const char *line, const char *imsi,
		       const char *field, const redisReply *r)
{
	char dedup[160], seenq[48], day[11], rday[16];
	const char *argv[24];
	size_t lens[24];
	size_t argc = 0;
	redisReply *x;
	long long d = r->elements > 2 && r->element[2]->type == REDIS_REPLY_INTEGER ?
		      r->element[2]->integer : 0;
	const char *open = strchr(s->o.stream, '{'), *close = open ? strchr(open, '}') : NULL;
	int dl;

	if (open && close && close > open + 1)
		dl = snprintf(dedup, sizeof(dedup), "%.*s:seen:sight:%s:%s", (int)(close - open + 1),
			      open, imei, field);
	else
		dl = snprintf(dedup, sizeof(dedup), "{%s}:seen:sight:%s:%s", s->o.stream, imei,
			      field);
	if (dl < 0 || (size_t)dl >= sizeof(dedup))
		return -EINVAL;
	pairs_format_date(d < 0 ? 0 : d > 65535 ? 65535 : (uint16_t)d, day);
	snprintf(rday, sizeof(rday), "%s", day);
#define ARG(s_, l_) do { argv[argc] = (s_); lens[argc++] = (l_); } while (0)
#define ARGS(s_) ARG((s_), strlen(s_))
	ARGS("EVAL");
	ARG(enqueue_script, sizeof(enqueue_script) - 1);
	ARGS("2");
	ARGS(s->o.stream);
	ARG(dedup, (size_t)dl);
	ARGS(REMEMBER_S);
	ARGS("imei");
	ARGS(imei);
	ARGS("ref");
	ARGS(str_of(r, 1));
	ARGS("msisdn");
	ARGS(line);
	ARGS("imsi");
	ARGS(imsi);
	ARGS("first_seen");
	ARGS(str_of(r, 3));
	ARGS("last_seen");
	ARGS(str_of(r, 4));
	ARGS("operator");
	ARGS(str_of(r, 5));
	ARGS("reported_on");
	ARGS(rday);
	if (bulk_command_key(s->b, "XADD (sightings)", REDIS_REPLY_STRING, argc, argv, lens, 3,
			     &x) < 0)
		return -EIO;
	freeReplyObject(x);
	argc = 0;
	snprintf(seenq, sizeof(seenq), SIGHT_PENDING_FMT, imei);
	ARGS("SREM");
	ARGS(seenq);
	ARGS(field);
#undef ARGS
#undef ARG
	if (bulk_command(s->b, "SREM", REDIS_REPLY_INTEGER, argc, argv, lens, &x) < 0)
		return -EIO;
	freeReplyObject(x);
	return 0;
}

/* Marks the report for the daemon's relay (its sweep moves the SMS from the report's outbox
 * to the outbox stream). After the script: the SMS is written already; a mark lost with a
 * crash here is made again by the next import, which finds the sighting still pending. */
static int relay_mark(struct sight *s, const char *imei)
{
	char ms[24];
	const char *argv[4] = { "ZADD", RELAY_INDEX, ms, imei };
	size_t lens[4] = { 4, strlen(RELAY_INDEX), 0, 15 };
	redisReply *x;

	lens[2] = (size_t)snprintf(ms, sizeof(ms), "%lld", wall_ms());
	if (bulk_command(s->b, "ZADD", REDIS_REPLY_INTEGER, 4, argv, lens, &x) < 0)
		return -EIO;
	freeReplyObject(x);
	return 0;
}

static int sight_one(struct sight *s, const struct sight_ent *e)
{
	char imei[16], rep[32], seen[40], seenq[40], out[40], line[24], imsi[24], field[56];
	char first[11], last[11], lastn[8], nt[24];
	struct sight_text texts[SIGHT_LANGS_MAX];
	const char *argv[14 + 2 * SIGHT_LANGS_MAX];
	size_t lens[14 + 2 * SIGHT_LANGS_MAX], argc = 0, nt_ = 0, i;
	redisReply *r;
	int rc = 0;

	snprintf(imei, sizeof(imei), "%014llu", (unsigned long long)e->body);
	imei[14] = imei_check_digit(imei);
	imei[15] = '\0';
	snprintf(rep, sizeof(rep), "rep:{%s}", imei);
	snprintf(seen, sizeof(seen), SIGHT_SEEN_FMT, imei);
	snprintf(seenq, sizeof(seenq), SIGHT_PENDING_FMT, imei);
	snprintf(out, sizeof(out), "rep:{%s}:out", imei);
	snprintf(line, sizeof(line), "+%llu", (unsigned long long)e->msisdn);
	if (e->imsi)
		snprintf(imsi, sizeof(imsi), "%llu", (unsigned long long)e->imsi);
	else
		imsi[0] = '\0';
	snprintf(field, sizeof(field), "%s|%s", line, imsi);
	pairs_format_date(e->first, first);
	pairs_format_date(e->last, last);
	snprintf(lastn, sizeof(lastn), "%u", (unsigned)e->last);
	if (s->o.outbox && s->o.text)
		nt_ = s->o.text(s->o.text_arg, imei, last, texts, SIGHT_LANGS_MAX);
	snprintf(nt, sizeof(nt), "%zu", nt_);
#define ARG(s_, l_) do { argv[argc] = (s_); lens[argc++] = (l_); } while (0)
#define ARGS(s_) ARG((s_), strlen(s_))
	ARGS("EVAL");
	ARG(sight_script, sizeof(sight_script) - 1);
	ARGS("4");
	ARGS(rep);
	ARGS(seen);
	ARGS(seenq);
	ARGS(out);
	ARGS(s->open);
	ARGS(line);
	ARGS(imsi);
	ARGS(first);
	ARGS(last);
	ARGS(lastn);
	ARGS(e->op);
	ARGS(s->o.outbox && nt_ ? s->o.outbox : "");
	ARGS(nt);
	for (i = 0; i < nt_; i++) {
		ARGS(texts[i].lang);
		ARGS(texts[i].text);
	}
#undef ARGS
#undef ARG
	s->st.candidates++;
	if (bulk_command_key(s->b, "sighting", REDIS_REPLY_ARRAY, argc, argv, lens, 3, &r) < 0)
		return -EIO;
	switch (r->elements && r->element[0]->type == REDIS_REPLY_INTEGER ?
		r->element[0]->integer : -1) {
	case 0: s->st.closed++; break;
	case 1: s->st.own++; break;
	case 2: s->st.before++; break;
	case 3: s->st.known++; break;
	case 6: s->st.full++; break;
	case 4:
		s->st.fresh++;
		if (r->elements > 6 && r->element[6]->type == REDIS_REPLY_INTEGER &&
		    r->element[6]->integer == 1) {
			s->st.sms++;
			rc = relay_mark(s, imei);
		}
		if (rc == 0)
			rc = sight_queue(s, imei, line, imsi, field, r);
		break;
	case 5:
		/* Recorded by an import that stopped before the stream had it. */
		s->st.known++;
		rc = relay_mark(s, imei);
		if (rc == 0)
			rc = sight_queue(s, imei, line, imsi, field, r);
		break;
	default:
		bulk_set_error(s->b, "sighting: an answer that does not read");
		rc = -EIO;
	}
	freeReplyObject(r);
	if (rc == -EINVAL) {
		bulk_set_error(s->b, "sighting: the stream's name is too long");
		rc = -EIO;
	}
	return rc;
}

int sight_flush(struct sight *s)
{
	size_t i, j;
	int rc = 0;

	if (s->n == 0)
		return 0;
	qsort(s->q, s->n, sizeof(*s->q), ent_cmp);
	for (i = 0; i < s->n && rc == 0; i = j) {
		struct sight_ent m = s->q[i];

		for (j = i + 1; j < s->n && ent_cmp(&s->q[j], &m) == 0; j++) {
			if (s->q[j].first < m.first)
				m.first = s->q[j].first;
			if (s->q[j].last > m.last)
				m.last = s->q[j].last;
			if (s->q[j].op[0])
				memcpy(m.op, s->q[j].op, sizeof(m.op));
		}
		rc = sight_one(s, &m);
	}
	s->n = 0;
	return rc;
}

const struct sight_stats *sight_stats(const struct sight *s)
{
	return &s->st;
}
