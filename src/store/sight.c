/* Sightings (issue 22): the import's side. The index of reported IMEIs is read once into an
 * open-addressing hash set; rows of a watched IMEI are queued, merged per (IMEI, line), and
 * each goes to Redis as one script in the report's slot (doc/redis-keys.md, "Sightings"). */
#define _GNU_SOURCE
#include "store/sight.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <openssl/sha.h>
#include <talloc.h>

#include "core/clock.h"
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
	char sha[41], enqueue_sha[41];	/* the scripts' SHA-1, for EVALSHA */
	char run[48];		/* this import: one SMS a report however many new lines */
	struct sight_stats st;
};

/* One candidate, decided in the report's slot. KEYS: rep:{imei}, rep:{imei}:seen,
 * rep:{imei}:seenq, rep:{imei}:out. ARGV: the open states "a|b", the line (+E.164), the IMSI
 * ('' none), first and last day seen (YYYY-MM-DD), the last day as days since 2000-01-01,
 * the operator, the SMS outbox stream ('' none), the import's id (the owner gets one SMS per
 * report and import, however many new lines it shows: a cloned IMEI seen on 300 lines is one
 * SMS, not 300), the count of texts, then language/text
 * pairs (the first the default). The sightings are the current report's: its reference is
 * kept under '#ref', and a hash of an earlier report of the IMEI is emptied first, so a new
 * report of a phone seen before hears of its sightings again. The report's field sighted keeps the last day any of its
 * sightings was seen (what STATUS tells the owner). A sighting is new once per (report, line,
 * IMSI): recorded
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
	"if redis.call('HGET', KEYS[2], '#ref') ~= ref then\n"
	"  redis.call('DEL', KEYS[2])\n"
	"  redis.call('HSET', KEYS[2], '#ref', ref)\n"
	"end\n"
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
	"  if b > (redis.call('HGET', KEYS[1], 'sighted') or '') then\n"
	"    redis.call('HSET', KEYS[1], 'sighted', b)\n"
	"  end\n"
	"  if redis.call('SISMEMBER', KEYS[3], f) == 1 then return {5, ref, day, a, b, op, 0} end\n"
	"  return {3}\n"
	"end\n"
	"if redis.call('HLEN', KEYS[2]) >= " SIGHT_PER_REPORT_MAX_S " then return {6} end\n"
	"redis.call('HSET', KEYS[2], f, ARGV[4] .. '|' .. ARGV[5] .. '|' .. ARGV[7])\n"
	"redis.call('SADD', KEYS[3], f)\n"
	"if ARGV[5] > (redis.call('HGET', KEYS[1], 'sighted') or '') then\n"
	"  redis.call('HSET', KEYS[1], 'sighted', ARGV[5])\n"
	"end\n"
	"local sms = 0\n"
	"local k = tonumber(ARGV[10])\n"
	"if ARGV[8] ~= '' and r[2] and k > 0 and\n"
	"   redis.call('HGET', KEYS[1], 'sighted_run') ~= ARGV[9] then\n"
	"  local text = ARGV[12]\n"
	"  for i = 0, k - 1 do\n"
	"    if ARGV[11 + 2 * i] == r[5] then text = ARGV[12 + 2 * i] end\n"
	"  end\n"
	"  text = string.gsub(text, '\\1', ref)\n"
	"  local n = redis.call('HINCRBY', KEYS[1], 'outseq', 1)\n"
	"  redis.call('HSET', KEYS[4], ref .. ':' .. n, ARGV[8] .. '\\n' .. r[2] .. '\\n' .. text)\n"
	"  redis.call('HSET', KEYS[1], 'sighted_run', ARGV[9])\n"
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

static void sha_hex(const char *body, char out[41])
{
	unsigned char md[SHA_DIGEST_LENGTH];

	SHA1((const unsigned char *)body, strlen(body), md);
	for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
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
	sha_hex(sight_script, s->sha);
	snprintf(s->run, sizeof(s->run), "%lld.%ld", clock_wall_ms(), (long)getpid());
	sha_hex(enqueue_script, s->enqueue_sha);
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
	struct {
		char key[SIGHT_INDEX_MAX];
		const char *argv[2];
		size_t lens[2];
	} *sh = calloc(SIGHT_INDEX_SHARDS, sizeof(*sh));
	struct bulk_pcmd cmds[BULK_PIPELINE_MAX];
	size_t total = 0, cap, n;
	redisReply **r = calloc(SIGHT_INDEX_SHARDS, sizeof(*r));
	unsigned k, i;
	int rc = 0;

	if (r == NULL || sh == NULL) {
		free(r);
		free(sh);
		return -ENOMEM;
	}
	/* 1000 commands in two pipelines (one per node of a cluster), once per import. */
	for (k = 0; k < SIGHT_INDEX_SHARDS && rc == 0; k += BULK_PIPELINE_MAX) {
		n = SIGHT_INDEX_SHARDS - k < BULK_PIPELINE_MAX ? SIGHT_INDEX_SHARDS - k :
		    BULK_PIPELINE_MAX;
		for (i = 0; i < n; i++) {
			sh[k + i].argv[0] = "SMEMBERS";
			sh[k + i].argv[1] = sh[k + i].key;
			sh[k + i].lens[0] = 8;
			sh[k + i].lens[1] = (size_t)snprintf(sh[k + i].key, SIGHT_INDEX_MAX,
							     SIGHT_INDEX_FMT, k + i);
			cmds[i] = (struct bulk_pcmd){ 2, sh[k + i].argv, sh[k + i].lens, 1 };
		}
		if (bulk_pipeline(s->b, "SMEMBERS", n, cmds, r + k) < 0) {
			rc = -EIO;
			break;
		}
		for (i = 0; i < n; i++) {
			if (r[k + i]->type != REDIS_REPLY_ARRAY) {
				bulk_set_error(s->b, "SMEMBERS %s: %.200s", sh[k + i].key,
					       r[k + i]->type == REDIS_REPLY_ERROR ? r[k + i]->str :
					       "not a set");
				rc = -EIO;
			} else {
				total += r[k + i]->elements;
			}
		}
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
			for (size_t j = 0; j < r[k]->elements; j++) {
				int64_t body = member_body(r[k]->element[j]);

				if (body >= 0 && set_add(s, (uint64_t)body))
					s->st.watched++;
			}
		}
	}
	for (k = 0; k < SIGHT_INDEX_SHARDS; k++)
		if (r[k])
			freeReplyObject(r[k]);
	free(r);
	free(sh);
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
		int rc = bulk_flush(s->b);

		if (rc == 0)
			rc = sight_flush(s);

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

/* One candidate of a chunk: its command's arguments and what the script answered. */
struct cand {
	char imei[16], rep[32], seen[40], seenq[40], out[40], line[24], imsi[24], field[56];
	char first[11], last[11], lastn[8], nt[24], rday[11], dedup[200], ms[24];
	struct sight_text texts[SIGHT_LANGS_MAX];
	const char *argv[24 + 2 * SIGHT_LANGS_MAX];
	size_t lens[24 + 2 * SIGHT_LANGS_MAX];
	size_t argc;
	const char *ref, *sfirst, *slast, *sop;	/* the script's answer, lent */
	int code;
	bool sms;
};

#define ARG(c_, s_, l_) do { (c_)->argv[(c_)->argc] = (s_); (c_)->lens[(c_)->argc++] = (l_); } \
	while (0)
#define ARGS(c_, s_) ARG((c_), (s_), strlen(s_))

/* The sighting script's arguments for candidate e (argv[1]: the script's SHA-1). */
static void cand_build(struct sight *s, struct cand *c, const struct sight_ent *e)
{
	size_t nt = 0, i;

	snprintf(c->imei, sizeof(c->imei), "%014llu", (unsigned long long)e->body);
	c->imei[14] = imei_check_digit(c->imei);
	c->imei[15] = '\0';
	snprintf(c->rep, sizeof(c->rep), "rep:{%s}", c->imei);
	snprintf(c->seen, sizeof(c->seen), SIGHT_SEEN_FMT, c->imei);
	snprintf(c->seenq, sizeof(c->seenq), SIGHT_PENDING_FMT, c->imei);
	snprintf(c->out, sizeof(c->out), "rep:{%s}:out", c->imei);
	snprintf(c->line, sizeof(c->line), "+%llu", (unsigned long long)e->msisdn);
	if (e->imsi)
		snprintf(c->imsi, sizeof(c->imsi), "%llu", (unsigned long long)e->imsi);
	else
		c->imsi[0] = '\0';
	snprintf(c->field, sizeof(c->field), "%s|%s", c->line, c->imsi);
	pairs_format_date(e->first, c->first);
	pairs_format_date(e->last, c->last);
	snprintf(c->lastn, sizeof(c->lastn), "%u", (unsigned)e->last);
	if (s->o.outbox && s->o.text)
		nt = s->o.text(s->o.text_arg, c->imei, c->last, c->texts, SIGHT_LANGS_MAX);
	snprintf(c->nt, sizeof(c->nt), "%zu", nt);
	c->argc = 0;
	ARGS(c, "EVALSHA");
	ARGS(c, s->sha);
	ARGS(c, "4");
	ARGS(c, c->rep);
	ARGS(c, c->seen);
	ARGS(c, c->seenq);
	ARGS(c, c->out);
	ARGS(c, s->open);
	ARGS(c, c->line);
	ARGS(c, c->imsi);
	ARGS(c, c->first);
	ARGS(c, c->last);
	ARGS(c, c->lastn);
	ARGS(c, e->op);
	ARGS(c, s->o.outbox && nt ? s->o.outbox : "");
	ARGS(c, s->run);
	ARGS(c, c->nt);
	for (i = 0; i < nt; i++) {
		ARGS(c, c->texts[i].lang);
		ARGS(c, c->texts[i].text);
	}
}

/* The stream entry's command (the enqueue script by its SHA-1) for a recorded sighting. */
static int cand_enqueue(struct sight *s, struct cand *c, long long day)
{
	const char *open = strchr(s->o.stream, '{'), *close = open ? strchr(open, '}') : NULL;
	int dl;

	if (open && close && close > open + 1)
		dl = snprintf(c->dedup, sizeof(c->dedup), "%.*s:seen:sight:%s:%s:%s",
			      (int)(close - open + 1), open, c->imei, c->ref, c->field);
	else
		dl = snprintf(c->dedup, sizeof(c->dedup), "{%s}:seen:sight:%s:%s:%s",
			      s->o.stream, c->imei, c->ref, c->field);
	if (dl < 0 || (size_t)dl >= sizeof(c->dedup))
		return -EINVAL;
	pairs_format_date(day < 0 ? 0 : day > 65535 ? 65535 : (uint16_t)day, c->rday);
	c->argc = 0;
	ARGS(c, "EVALSHA");
	ARGS(c, s->enqueue_sha);
	ARGS(c, "2");
	ARGS(c, s->o.stream);
	ARG(c, c->dedup, (size_t)dl);
	ARGS(c, REMEMBER_S);
	ARGS(c, "imei");
	ARGS(c, c->imei);
	ARGS(c, "ref");
	ARGS(c, c->ref);
	ARGS(c, "msisdn");
	ARGS(c, c->line);
	ARGS(c, "imsi");
	ARGS(c, c->imsi);
	ARGS(c, "first_seen");
	ARGS(c, c->sfirst);
	ARGS(c, "last_seen");
	ARGS(c, c->slast);
	ARGS(c, "operator");
	ARGS(c, c->sop);
	ARGS(c, "reported_on");
	ARGS(c, c->rday);
	return 0;
}

static const char *str_of(const redisReply *r, size_t i)
{
	return i < r->elements && r->element[i]->type == REDIS_REPLY_STRING ? r->element[i]->str
	       : "";
}

static bool is_noscript(const redisReply *r)
{
	return r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0;
}

/* Sends cmds together; a reply NOSCRIPT (a node that has not seen the script yet: one per
 * master, once) is sent again as EVAL with body, one by one. Replies of any other type than
 * want fail with the reply's text. */
static int run_pipeline(struct sight *s, const char *what, size_t n, struct bulk_pcmd *cmds,
			redisReply **r, const char *body, int want)
{
	size_t k;
	int rc = bulk_pipeline(s->b, what, n, cmds, r);

	for (k = 0; rc == 0 && k < n; k++) {
		if (body && is_noscript(r[k])) {
			const char **argv = cmds[k].argv;
			size_t *lens = (size_t *)cmds[k].lens;
			const char *sha = argv[1];
			size_t shalen = lens[1];

			freeReplyObject(r[k]);
			r[k] = NULL;
			argv[0] = "EVAL";
			lens[0] = 4;
			argv[1] = body;
			lens[1] = strlen(body);
			rc = bulk_command_key(s->b, what, -1, cmds[k].argc, argv, lens, 3, &r[k]);
			argv[0] = "EVALSHA";
			lens[0] = 7;
			argv[1] = sha;
			lens[1] = shalen;
			if (rc < 0)
				break;
		}
		if (want >= 0 && (int)r[k]->type != want) {
			bulk_set_error(s->b, "%s: %.200s", what, r[k]->type == REDIS_REPLY_ERROR ?
				       r[k]->str : "an answer that does not read");
			rc = -EIO;
		}
	}
	if (rc < 0) {
		for (k = 0; k < n; k++)
			if (r[k])
				freeReplyObject(r[k]);
		return -EIO;
	}
	return 0;
}


/* Candidates a chunk: each may take two commands of one pipeline (the mark, the entry). */
#define CHUNK (BULK_PIPELINE_MAX / 2)

/* One chunk of at most CHUNK distinct candidates, in three round trips: the
 * sighting scripts; for the new (and still pending) ones, the relay's mark and the stream
 * entries; then their removal from the pending sets. */
static int sight_chunk(struct sight *s, struct cand *cs, const struct sight_ent *es, size_t n)
{
	struct bulk_pcmd cmds[2 * CHUNK];
	redisReply *r[CHUNK], *r2[2 * CHUNK];
	size_t k, m = 0, q[CHUNK], nq = 0;
	int rc;

	for (k = 0; k < n; k++) {
		cand_build(s, &cs[k], &es[k]);
		cmds[k] = (struct bulk_pcmd){ cs[k].argc, cs[k].argv, cs[k].lens, 3 };
	}
	s->st.candidates += n;
	rc = run_pipeline(s, "sighting", n, cmds, r, sight_script, REDIS_REPLY_ARRAY);
	if (rc < 0)
		return rc;
	for (k = 0; k < n; k++) {
		const redisReply *x = r[k];
		long long code = x->elements && x->element[0]->type == REDIS_REPLY_INTEGER ?
				 x->element[0]->integer : -1;

		cs[k].code = (int)code;
		switch (code) {
		case 0: s->st.closed++; continue;
		case 1: s->st.own++; continue;
		case 2: s->st.before++; continue;
		case 3: s->st.known++; continue;
		case 6: s->st.full++; continue;
		case 4: s->st.fresh++; break;
		case 5: s->st.known++; break;	/* recorded by an import cut short */
		default:
			bulk_set_error(s->b, "sighting: an answer that does not read");
			rc = -EIO;
			continue;
		}
		cs[k].ref = str_of(x, 1);
		cs[k].sfirst = str_of(x, 3);
		cs[k].slast = str_of(x, 4);
		cs[k].sop = str_of(x, 5);
		cs[k].sms = x->elements > 6 && x->element[6]->type == REDIS_REPLY_INTEGER &&
			    x->element[6]->integer == 1;
		s->st.sms += cs[k].sms;
		if (rc == 0 && cand_enqueue(s, &cs[k], x->elements > 2 &&
						  x->element[2]->type == REDIS_REPLY_INTEGER ?
						  x->element[2]->integer : 0) < 0) {
			bulk_set_error(s->b, "sighting: the stream's name is too long");
			rc = -EIO;
		}
		q[nq++] = k;
	}
	/* Each entry with its report's mark for the relay, in one pipeline (on a cluster, each
	 * on its own node: the order that matters is that the SMS is in the outbox before the
	 * mark, which the scripts' answers saw). */
	for (k = 0; rc == 0 && k < nq; k++) {
		struct cand *c = &cs[q[k]];
		static const char *const zadd[] = { "ZADD", RELAY_INDEX };

		cmds[m++] = (struct bulk_pcmd){ c->argc, c->argv, c->lens, 3 };
		if (c->code == 4 && !c->sms)
			continue;
		/* The mark's arguments live after the entry's in the same arrays. */
		c->argv[c->argc] = zadd[0];
		c->lens[c->argc] = 4;
		c->argv[c->argc + 1] = zadd[1];
		c->lens[c->argc + 1] = strlen(RELAY_INDEX);
		c->lens[c->argc + 2] = (size_t)snprintf(c->ms, sizeof(c->ms), "%lld",
							clock_wall_ms());
		c->argv[c->argc + 2] = c->ms;
		c->argv[c->argc + 3] = c->imei;
		c->lens[c->argc + 3] = 15;
		cmds[m++] = (struct bulk_pcmd){ 4, c->argv + c->argc, c->lens + c->argc, 1 };
	}
	if (rc == 0 && m && (rc = run_pipeline(s, "sightings stream", m, cmds, r2,
					       enqueue_script, -1)) == 0) {
		for (k = 0; k < m; k++) {
			if (r2[k]->type == REDIS_REPLY_ERROR && rc == 0) {
				bulk_set_error(s->b, "sightings stream: %.200s", r2[k]->str);
				rc = -EIO;
			}
			freeReplyObject(r2[k]);
		}
	}
	/* Off the pending sets: on the stream now. */
	for (k = 0, m = 0; rc == 0 && k < nq; k++) {
		struct cand *c = &cs[q[k]];

		c->argc = 0;
		ARGS(c, "SREM");
		ARGS(c, c->seenq);
		ARGS(c, c->field);
		cmds[m++] = (struct bulk_pcmd){ 3, c->argv, c->lens, 1 };
	}
	if (rc == 0 && m && (rc = run_pipeline(s, "SREM", m, cmds, r2, NULL,
					       REDIS_REPLY_INTEGER)) == 0)
		for (k = 0; k < m; k++)
			freeReplyObject(r2[k]);
	for (k = 0; k < n; k++)
		freeReplyObject(r[k]);
	return rc;
}
#undef ARGS
#undef ARG

int sight_flush(struct sight *s)
{
	struct cand *cs;
	size_t i, j, n = 0;
	int rc = 0;

	if (s->n == 0)
		return 0;
	cs = malloc(CHUNK * sizeof(*cs));
	if (cs == NULL) {
		bulk_set_error(s->b, "sightings: out of memory");
		return -ENOMEM;
	}
	qsort(s->q, s->n, sizeof(*s->q), ent_cmp);
	/* Merged in place: q[0..n) the distinct candidates. */
	for (i = 0; i < s->n; i = j) {
		struct sight_ent m = s->q[i];

		for (j = i + 1; j < s->n && ent_cmp(&s->q[j], &m) == 0; j++) {
			if (s->q[j].first < m.first)
				m.first = s->q[j].first;
			if (s->q[j].last > m.last)
				m.last = s->q[j].last;
			if (s->q[j].op[0])
				memcpy(m.op, s->q[j].op, sizeof(m.op));
		}
		s->q[n++] = m;
	}
	for (i = 0; i < n && rc == 0; i += CHUNK)
		rc = sight_chunk(s, cs, s->q + i, n - i < CHUNK ? n - i : CHUNK);
	free(cs);
	s->n = 0;
	return rc;
}

const struct sight_stats *sight_stats(const struct sight *s)
{
	return &s->st;
}

/* The IMEIs of the report hashes found, for sight_reindex. */
struct reindex {
	char (*imei)[16];
	size_t n, cap;
};

static int reindex_key(void *arg, const char *key, size_t len)
{
	struct reindex *ri = arg;

	/* "rep:{<15 digits>}" only: not its :out, :past, :seen ... */
	if (len != 21 || memcmp(key, "rep:{", 5) != 0 || key[20] != '}')
		return 0;
	for (size_t i = 5; i < 20; i++)
		if (key[i] < '0' || key[i] > '9')
			return 0;
	if (ri->n == ri->cap) {
		size_t cap = ri->cap ? 2 * ri->cap : 1024;
		void *p;

		if (cap > SIGHT_WATCH_MAX)
			return -E2BIG;
		p = realloc(ri->imei, cap * sizeof(*ri->imei));
		if (p == NULL)
			return -ENOMEM;
		ri->imei = p;
		ri->cap = cap;
	}
	memcpy(ri->imei[ri->n], key + 5, 15);
	ri->imei[ri->n++][15] = '\0';
	return 0;
}

long sight_reindex(struct bulk *b)
{
	struct reindex ri = { NULL, 0, 0 };
	struct bulk_pcmd cmds[BULK_PIPELINE_MAX];
	redisReply *r[BULK_PIPELINE_MAX];
	struct {
		char key[SIGHT_INDEX_MAX];
		const char *argv[3];
		size_t lens[3];
	} *c = malloc(BULK_PIPELINE_MAX * sizeof(*c));
	long added = 0;
	size_t i, k, n;
	int rc;

	if (c == NULL)
		return -ENOMEM;
	rc = bulk_scan(b, "rep:{*}", reindex_key, &ri);
	for (i = 0; rc == 0 && i < ri.n; i += n) {
		n = ri.n - i < BULK_PIPELINE_MAX ? ri.n - i : BULK_PIPELINE_MAX;
		for (k = 0; k < n; k++) {
			c[k].argv[0] = "SADD";
			c[k].argv[1] = c[k].key;
			c[k].argv[2] = ri.imei[i + k];
			c[k].lens[0] = 4;
			c[k].lens[1] = (size_t)snprintf(c[k].key, sizeof(c[k].key), SIGHT_INDEX_FMT,
							sight_shard(ri.imei[i + k]));
			c[k].lens[2] = 15;
			cmds[k] = (struct bulk_pcmd){ 3, c[k].argv, c[k].lens, 1 };
		}
		rc = bulk_pipeline(b, "SADD", n, cmds, r);
		if (rc < 0)
			break;
		for (k = 0; k < n; k++) {
			if (r[k]->type == REDIS_REPLY_INTEGER) {
				added += r[k]->integer;
			} else {
				bulk_set_error(b, "SADD %s: %.200s", c[k].key,
					       r[k]->type == REDIS_REPLY_ERROR ? r[k]->str : "?");
				rc = -EIO;
			}
			freeReplyObject(r[k]);
		}
	}
	free(ri.imei);
	free(c);
	if (rc == -E2BIG)
		bulk_set_error(b, "more than %u reports", SIGHT_WATCH_MAX);
	return rc < 0 ? rc : added;
}

