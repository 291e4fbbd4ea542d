/* The asynchronous store: hiredis's async API on the daemon's libevent loop
 * (redis_ev.c: hiredis's libevent adapter, writing at the end of each pass of the loop), to
 * one Redis or to a Redis Cluster (issue 16). Commands are always argv, never format
 * strings (a transaction's are put in RESP from argv and their lengths, once: op->tx).
 *
 * Connections are nodes. A single Redis is one node, reconnected on its own with exponential
 * backoff from 100 ms up to 5 s. On a cluster there is a node per master the slot map names
 * (and per seed), connected when an operation first needs it and again after a failure, not
 * before its backoff has passed; the map comes from CLUSTER SLOTS, refreshed every
 * REFRESH_PERIOD_MS, after a MOVED and when a node fails (at most one refresh at a time, not
 * more often than REFRESH_MIN_MS). Nothing above the store knows which it talks to.
 *
 * Every operation keeps its command, so that a MOVED (the slot is elsewhere now: the map is
 * fixed and the command resent), an ASK (a slot being migrated: ASKING and the command on the
 * target, the map unchanged), a TRYAGAIN, CLUSTERDOWN or LOADING (wait a little, with jitter)
 * or a NOSCRIPT (EVAL with the body: a restarted, flushed or just promoted node) sends it
 * again, at most REDIRECTS_MAX times and within the timeout; a transaction whose command was
 * redirected is not run (EXECABORT): the map is read again and the caller told -EAGAIN.
 * hiredis answers every command
 * still pending with a NULL reply when a connection drops, which becomes -EAGAIN for the
 * operation's caller, once. hiredis 0.14 has no command timeout, so the store keeps its own
 * per connection: see watch_cb. */
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <talloc.h>

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <openssl/sha.h>
#include <sys/queue.h>

#include "core/clock.h"
#include "core/logging.h"
#include "core/metrics.h"
#include "feed/entry.h"
#include "store/cluster.h"
#include "store/feed_keys.h"
#include "store/sight_keys.h"
#include "store/redis_ev.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define TIMEOUT_DEFAULT_MS 1000
#define ID_MAX 128		/* session ids and counter names */
#define REFRESH_PERIOD_MS 5000	/* a quiet gateway's map is this old at most */
#define REFRESH_MIN_MS 100	/* between two refreshes a MOVED or a failure asks for */
#define REDIRECTS_MAX 5		/* MOVED and ASK per operation (TRYAGAIN: until its timeout) */
/* ROLE this often to a master whose replicas fell short (struct node). */
#define PROBE_EVERY_MS 100
/* The masters and their twins, and the seeds. */
#define NODES_MAX (2 * CLUSTER_NODES_MAX + REDIS_SEEDS_MAX)
#define RELAY_INDEX "rep:relay"	/* reports whose outbox has SMS the store relays */
#define RELAY_REMEMBER_S 86400	/* an SMS relayed is not relayed again for this long */
/* The country's feed log (issue 19): one slot, {feed}. An outbox item whose stream is
 * FEED_MARK (a control character no configured stream name may hold) is a log entry. */
#define FEED_MARK "\001feed"
#define FEED_REMEMBER_S (7 * 86400)	/* an entry appended is not appended again for this long */

enum store_state { ST_DOWN, ST_CONNECTING, ST_UP };

static const char *const state_names[] = {
	[ST_DOWN] = "down", [ST_CONNECTING] = "connecting", [ST_UP] = "up",
};


/* A Lua script and its SHA-1, the name EVALSHA knows it by. */
struct script {
	const char *body;
	char sha[2 * SHA_DIGEST_LENGTH + 1];
};

/* Rate-limit counter: the window starts with the first hit. Answers the hits in the window
 * and how long it has left (ms), so that a refusal can say when to try again. */
static struct script limit_script = {
	"local n = redis.call('INCR', KEYS[1])\n"
	"if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end\n"
	"local ttl = redis.call('PTTL', KEYS[1])\n"
	"if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end\n"
	"return {n, ttl}\n", ""
};

/* A secret's check that cannot be raced (issue 15): the try is counted and the secret
 * compared in one step, so that however many requests arrive at once, at most `tries`
 * candidates are ever compared within the counter's window. KEYS: the hash that holds the
 * digest, the failure counter (the same hash tag: one slot). ARGV: the hash's field, the
 * digest's 1-based offset in the value, the candidate digest, tries, window (ms), the
 * value's length (0: any). The try is counted first; a match, or a record that is not
 * there, gives it back, so that only failures use the budget. Returns {result, tries left,
 * ms until the window ends}: result 0 no record, 1 match, 2 mismatch, 3 locked (compared
 * nothing). An empty candidate (what was typed is not an ID at all) counts nothing and
 * answers 4 with the tries left, or 3 when locked out. The comparison is not constant-time,
 * but it runs inside Redis, far from any clock a caller can read, and the counter bounds the
 * tries whatever their timing. */
static struct script verify_script = {
	"if ARGV[3] == '' then\n"
	"  local n = tonumber(redis.call('GET', KEYS[2]) or '0')\n"
	"  if n >= tonumber(ARGV[4]) then return {3, 0, redis.call('PTTL', KEYS[2])} end\n"
	"  return {4, tonumber(ARGV[4]) - n, 0}\n"
	"end\n"
	"local n = redis.call('INCR', KEYS[2])\n"
	"if n == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[5]) end\n"
	"local tries = tonumber(ARGV[4])\n"
	"local function giveback()\n"
	"  if n == 1 then redis.call('DEL', KEYS[2]) else redis.call('DECR', KEYS[2]) end\n"
	"end\n"
	"if n > tries then\n"
	"  redis.call('DECR', KEYS[2])\n"
	"  local ttl = redis.call('PTTL', KEYS[2])\n"
	"  if ttl < 0 then redis.call('PEXPIRE', KEYS[2], ARGV[5]); ttl = tonumber(ARGV[5]) end\n"
	"  return {3, 0, ttl}\n"
	"end\n"
	"local v = redis.call('HGET', KEYS[1], ARGV[1])\n"
	"local off, c, want = tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[6])\n"
	"if not v or (want > 0 and #v ~= want) or #v < off + #c - 1 then\n"
	"  giveback()\n"
	"  return {0, tries - n + 1, 0}\n"
	"end\n"
	"if string.sub(v, off, off + #c - 1) == c then\n"
	"  giveback()\n"
	"  return {1, tries - n + 1, 0}\n"
	"end\n"
	"return {2, tries - n, redis.call('PTTL', KEYS[2])}\n", ""
};

/* A stream's length and the age of its first entry in ms by Redis's clock (0 when empty):
 * an outbox's depth and how long its oldest SMS has waited (store_stream_stat). KEYS: the
 * stream. */
static struct script stream_stat_script = {
	"local n = redis.call('XLEN', KEYS[1])\n"
	"if n == 0 then return {0, 0} end\n"
	"local e = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]\n"
	"local t = redis.call('TIME')\n"
	"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
	"local id = tonumber(string.match(e[1], '^(%d+)')) or now\n"
	"return {n, math.max(now - id, 0)}\n", ""
};

/* A report for an IMEI, unless one is open: then its reference (REPORT_EV_OPEN,
 * domain/report.h). KEYS: rep:{imei}, rep:{imei}:past. ARGV: the new reference, the closed
 * states "unblocked|rejected" and the state a report opens in (both from the event table),
 * then field/value pairs. A closed report moves to the list of past references. Returns the
 * reference and whether the report is new, and then the state it replaced ('' for none). */
static struct script report_create_script = {
	"local st = redis.call('HGET', KEYS[1], 'state')\n"
	"if st and not string.find('|' .. ARGV[2] .. '|', '|' .. st .. '|', 1, true) then\n"
	"  return {redis.call('HGET', KEYS[1], 'ref'), 0}\n"
	"end\n"
	"if st then\n"
	"  redis.call('RPUSH', KEYS[2], redis.call('HGET', KEYS[1], 'ref'))\n"
	"  redis.call('DEL', KEYS[1])\n"
	"end\n"
	"local t = redis.call('TIME')[1]\n"
	"redis.call('HSET', KEYS[1], 'ref', ARGV[1], 'state', ARGV[3], 'created', t,\n"
	"           'updated', t, unpack(ARGV, 4))\n"
	"return {ARGV[1], 1, st or ''}\n", ""
};

/* A report's state changes only from the states given, and with an idle time > 0 only when
 * its last change is at least that many seconds old (another journey may be at work on it).
 * What tells of the change is kept in the report's own slot in the same step (KEYS[2], the
 * report's outbox: field "<ref>:<n>", value "<stream>\n<to>\n<text>"): the SMS, and the
 * entry of the country's feed log (stream FEED_MARK, issue 19), so that a ceirgw that stops
 * in between cannot leave one without the other; the store then relays them to the outbox
 * stream or the feed log (relay_start). A Redis Cluster refuses a script whose keys lie in
 * two slots, and the outbox stream is one key for every report (issue 16). KEYS:
 * rep:{imei}, rep:{imei}:out. ARGV: allowed states "a|b" and the new state (an event's row
 * of domain/report.h: report_transition writes no other move), the idle seconds, the count
 * of items, their stream, to and text triples, then field/value pairs. Returns the state now
 * (or 'busy') and whether it changed; '' for no report; after a change, the state it left
 * (ceirgw_report_transitions_total). */
static struct script report_transition_script = {
	"local st = redis.call('HGET', KEYS[1], 'state')\n"
	"if not st then return {'', 0} end\n"
	"if not string.find('|' .. ARGV[1] .. '|', '|' .. st .. '|', 1, true) then\n"
	"  return {st, 0}\n"
	"end\n"
	"local now = tonumber(redis.call('TIME')[1])\n"
	"local idle = tonumber(ARGV[3])\n"
	"if idle > 0 and now - tonumber(redis.call('HGET', KEYS[1], 'updated') or '0') < idle then\n"
	"  return {'busy', 0}\n"
	"end\n"
	"local k = tonumber(ARGV[4])\n"
	"redis.call('HSET', KEYS[1], 'state', ARGV[2], 'updated', now, unpack(ARGV, 5 + 3 * k))\n"
	"local ref = redis.call('HGET', KEYS[1], 'ref') or ''\n"
	"for i = 0, k - 1 do\n"
	"  local n = redis.call('HINCRBY', KEYS[1], 'outseq', 1)\n"
	"  redis.call('HSET', KEYS[2], ref .. ':' .. n,\n"
	"             ARGV[5 + 3 * i] .. '\\n' .. ARGV[6 + 3 * i] .. '\\n' .. ARGV[7 + 3 * i])\n"
	"end\n"
	"return {ARGV[2], 1, st}\n", ""
};

/* A new unblock PIN for a report (issue 18: a lost PIN recovered), with its receipt SMS in the
 * report's outbox in the same step, as report_transition_script keeps a move and its SMS: the
 * old PIN's digest is replaced and the receipt with the new PIN is queued together or not at
 * all, so that no owner is left with a PIN that no longer works and no SMS bringing the new
 * one. Only for the report of the reference and the owner given (the one the proven owner
 * picked, not one opened since) and only in the states given (those in which the PIN still
 * unblocks: UNBLOCK_REQUEST's, domain/report.h). Not again within the idle seconds of the
 * last new PIN ('recent', nothing changed): receipts sent at once would be relayed and
 * delivered in any order, and the owner could not tell which one's PIN is the one that works;
 * the one just sent stands. The owner's own wrong-PIN counter starts again (the owner now
 * holds the right PIN); the other lines' counter is kept, so that strangers who locked the
 * report out stay locked out (doc/trust.md). KEYS: rep:{imei}, rep:{imei}:out,
 * rep:{imei}:pin:own. ARGV: the states "a|b", the reference, the owner, the new digest, the
 * idle seconds, the outbox stream ('' for none), then the SMS's to and text when there is a
 * stream. Returns the state (or 'recent') and whether the PIN changed; '' when there is no
 * such report (none, another reference, another owner). */
static struct script report_new_pin_script = {
	"local st = redis.call('HGET', KEYS[1], 'state')\n"
	"if not st or redis.call('HGET', KEYS[1], 'ref') ~= ARGV[2] or\n"
	"   redis.call('HGET', KEYS[1], 'owner') ~= ARGV[3] then return {'', 0} end\n"
	"if not string.find('|' .. ARGV[1] .. '|', '|' .. st .. '|', 1, true) then\n"
	"  return {st, 0}\n"
	"end\n"
	"local now = tonumber(redis.call('TIME')[1])\n"
	"if now - tonumber(redis.call('HGET', KEYS[1], 'pin_at') or '0') < tonumber(ARGV[5]) then\n"
	"  return {'recent', 0}\n"
	"end\n"
	"redis.call('HSET', KEYS[1], 'pin', ARGV[4], 'pin_at', now)\n"
	"redis.call('DEL', KEYS[3])\n"
	"if ARGV[6] ~= '' then\n"
	"  local n = redis.call('HINCRBY', KEYS[1], 'outseq', 1)\n"
	"  redis.call('HSET', KEYS[2], ARGV[2] .. ':' .. n,\n"
	"             ARGV[6] .. '\\n' .. ARGV[7] .. '\\n' .. ARGV[8])\n"
	"end\n"
	"return {st, 1}\n", ""
};

/* Takes an IMEI off the index of reports whose outbox the store relays (rep:relay), unless
 * a transition indexed it again since the relay began. KEYS: the index. ARGV: the IMEI, the
 * relay's start (ms). */
static struct script relay_done_script = {
	"local s = redis.call('ZSCORE', KEYS[1], ARGV[1])\n"
	"if s and tonumber(s) <= tonumber(ARGV[2]) then redis.call('ZREM', KEYS[1], ARGV[1]) end\n"
	"return 1\n", ""
};

/* Open reports that have not moved for ARGV[1] seconds, at most ARGV[2], as "imei,imei".
 * KEYS: the index of open reports (a sorted set: IMEI by the time it was opened). */
static struct script report_due_script = {
	"local t = tonumber(redis.call('TIME')[1]) - tonumber(ARGV[1])\n"
	"local l = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', t, 'LIMIT', 0, tonumber(ARGV[2]))\n"
	"return table.concat(l, ',')\n", ""
};

/* One stream entry per request id. KEYS: the stream, its dedup key (same slot). ARGV: how
 * long a request id is remembered (s), then field/value pairs. Returns the entry id and
 * whether it is new. */
static struct script enqueue_script = {
	"local id = redis.call('GET', KEYS[2])\n"
	"if id then return {id, 0} end\n"
	"id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))\n"
	"redis.call('SET', KEYS[2], id, 'EX', ARGV[1])\n"
	"return {id, 1}\n", ""
};

/* The country's feed log (issue 19): an entry appended once per id, its index the list's
 * order. KEYS: the log, the id's dedup key (one slot). ARGV: the entry, how long the id is
 * remembered (s). Returns the entry's index and whether it is new. */
static struct script feed_append_script = {
	"local i = redis.call('GET', KEYS[2])\n"
	"if i then return {i, 0} end\n"
	"local n = redis.call('RPUSH', KEYS[1], ARGV[1])\n"
	"redis.call('SET', KEYS[2], n - 1, 'EX', ARGV[2])\n"
	"return {tostring(n - 1), 1}\n", ""
};

/* A signed checkpoint replaces the last one only when its tree is not smaller, so that two
 * checkpointers racing (one whose lock ran out) cannot roll the log back. KEYS: the
 * checkpoint, its size. ARGV: the note, its tree size. Returns 1 written, 0 refused. */
static struct script feed_checkpoint_script = {
	"local cur = tonumber(redis.call('GET', KEYS[2]) or '-1')\n"
	"if cur > tonumber(ARGV[2]) then return 0 end\n"
	"redis.call('SET', KEYS[1], ARGV[1])\n"
	"redis.call('SET', KEYS[2], ARGV[2])\n"
	"return 1\n", ""
};

/* Lets the feed's lock go only by its holder. KEYS: the lock. ARGV: the holder. */
static struct script feed_unlock_script = {
	"if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end\n"
	"return 0\n", ""
};

/* Each decision of a neighbour's log once on the CEIR's foreign stream (issue 19), without a
 * key per decision: a chunk's entries go in one transaction, MULTI, an XADD each, then this
 * script, EXEC. Redis runs it whole or not at all, and nothing else meanwhile. The script
 * keeps the log's next index: when no entry of the chunk was added before (next <= first),
 * it moves next past the chunk and the XADDs stand; otherwise (a chunk applied again by a
 * follower that stopped before recording it, or by two processes at once) it deletes the
 * XADDs just run, the stream's newest n entries, before anyone can read them, and says
 * where the log stands, so that the store sends the entries from there. XLEN first: a key
 * that is no stream (whose XADDs failed) fails the script and moves nothing. Sent by EVAL,
 * never EVALSHA: inside MULTI, a NOSCRIPT would not stop the XADDs. KEYS: the stream, its
 * next-index key for the log (same slot). ARGV: the chunk's first index, its count. Returns
 * {1, next} kept, or {0, next} taken back. */
static struct script foreign_commit_script = {
	"redis.call('XLEN', KEYS[1])\n"
	"local first, n = tonumber(ARGV[1]), tonumber(ARGV[2])\n"
	"local next = tonumber(redis.call('GET', KEYS[2]) or '0')\n"
	"if next <= first then\n"
	"  redis.call('SET', KEYS[2], first + n)\n"
	"  return {1, next}\n"
	"end\n"
	"for _, e in ipairs(redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', n)) do\n"
	"  redis.call('XDEL', KEYS[1], e[1])\n"
	"end\n"
	"return {0, next}\n", ""
};

/* The holder's lock lives ttl ms more (0: goes now); anyone else's is left alone. KEYS: the
 * lock. ARGV: the holder, the ms. Returns 1 when it was the holder's. */
static struct script lock_renew_script = {
	"if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end\n"
	"if tonumber(ARGV[2]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
	"else redis.call('DEL', KEYS[1]) end\n"
	"return 1\n", ""
};

/* What a follower accepted of a neighbour's log (issue 19): never a smaller tree than the one
 * stored, so that two processes (one whose poll ran late) cannot take it back. KEYS: the
 * peer's hash. ARGV: the tree size, its right edge (feed/frontier.h bytes), the signed
 * checkpoint ('' to keep the stored one). Returns 1 written, 0 refused. */
static struct script peer_save_script = {
	"local cur = tonumber(redis.call('HGET', KEYS[1], 'size') or '-1')\n"
	"if cur > tonumber(ARGV[1]) then return 0 end\n"
	"redis.call('HSET', KEYS[1], 'size', ARGV[1], 'frontier', ARGV[2])\n"
	"if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'checkpoint', ARGV[3]) end\n"
	"return 1\n", ""
};

/* A one-time code to an owner's line (issue 18): issued in one step with its limit and its
 * SMS. KEYS: the code's record otp:{+line}:<who> (a hash: the code's keyed digest d, the
 * number that asked for it by, wrong tries n), the codes sent in the window
 * otp:{+line}:<who>:sent, the line's outbox otp:{+line}:out (as a report's, relayed to the
 * outbox stream): one hash tag, one slot. ARGV: the digest, the asker, the code's life (ms),
 * codes per window, the window (ms), verify-tries, the outbox stream, the SMS's to and text.
 * A code whose tries are used up stays, locked, until it expires; a new one replaces any
 * other. Refusals count nothing. Returns {"sent <ms>" | "limited <ms>" | "locked <ms>",
 * sent 1 or 0}: the code's life, or how long the refusal lasts. */
static struct script otp_issue_script = {
	"local n = redis.call('HGET', KEYS[1], 'n')\n"
	"if n and tonumber(n) >= tonumber(ARGV[6]) then\n"
	"  return {'locked ' .. redis.call('PTTL', KEYS[1]), 0}\n"
	"end\n"
	"local c = tonumber(redis.call('GET', KEYS[2]) or '0')\n"
	"if c >= tonumber(ARGV[4]) then\n"
	"  local ttl = redis.call('PTTL', KEYS[2])\n"
	"  if ttl < 0 then redis.call('PEXPIRE', KEYS[2], ARGV[5]); ttl = tonumber(ARGV[5]) end\n"
	"  return {'limited ' .. ttl, 0}\n"
	"end\n"
	"c = redis.call('INCR', KEYS[2])\n"
	"if c == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[5]) end\n"
	"redis.call('DEL', KEYS[1])\n"
	"redis.call('HSET', KEYS[1], 'd', ARGV[1], 'by', ARGV[2], 'n', 0)\n"
	"redis.call('PEXPIRE', KEYS[1], ARGV[3])\n"
	"local t = redis.call('TIME')\n"
	"redis.call('HSET', KEYS[3], t[1] .. '.' .. t[2] .. ':' .. c,\n"
	"           ARGV[7] .. '\\n' .. ARGV[8] .. '\\n' .. ARGV[9])\n"
	"return {'sent ' .. ARGV[3], 1}\n", ""
};

/* A one-time code's check that cannot be raced: the try counted and the code compared in
 * one step, at most ARGV[3] wrong ones per code. KEYS: the code's record. ARGV: the number
 * that tries it (only the one that asked for the code: anyone else compares nothing and is
 * answered "no code"), the candidate's digest, tries. A match deletes the code. Returns
 * {result, tries left, ms} as verify_script: 0 no code (expired, used, another's), 1 match,
 * 2 mismatch, 3 locked (compared nothing; ms: until the code expires). */
static struct script otp_verify_script = {
	"local v = redis.call('HMGET', KEYS[1], 'd', 'by', 'n')\n"
	"if not v[1] or v[2] ~= ARGV[1] then return {0, 0, 0} end\n"
	"local tries, n = tonumber(ARGV[3]), tonumber(v[3] or '0')\n"
	"if n >= tries then return {3, 0, redis.call('PTTL', KEYS[1])} end\n"
	"if v[1] == ARGV[2] then\n"
	"  redis.call('DEL', KEYS[1])\n"
	"  return {1, tries - n, 0}\n"
	"end\n"
	"n = redis.call('HINCRBY', KEYS[1], 'n', 1)\n"
	"return {2, tries - n, redis.call('PTTL', KEYS[1])}\n", ""
};

struct op;
struct node;
TAILQ_HEAD(op_list, op);

/* A connection: the single Redis, or one node of a cluster. A talloc child of the store. */
struct node {
	struct store *st;
	char host[CLUSTER_HOST_MAX + 1];	/* "" for the single Redis */
	int port;
	char address[300];	/* host (255) and port, or "unix:" and a path: for logs */
	redisAsyncContext *ac;
	enum store_state state;
	struct event *retry;	/* the single Redis: reconnects on its own */
	int backoff_ms;
	long long down_until;	/* a cluster node that failed is not tried again before */
	/* The timeout (watch_cb): the connection's one timer, the operations on the wire
	 * oldest first, and the times it checks them against (ms, monotonic clock). */
	struct event *watch;
	struct op_list flight;
	long long connect_deadline, last_sent;
	unsigned timeouts;	/* in this episode: since the connection was last up */
	size_t pending;
	bool dropping;		/* in drop(): hiredis's NULL replies leave the ops to it */
	/* With redis-replicas-ack: the writes that must reach replicas, each followed by its
	 * WAIT, go over a second connection to the same server (its twin), made when first
	 * needed. A WAIT blocks its connection until the replicas answer or its timeout ends;
	 * on the node's own connection it would hold up every read and limit behind it. */
	struct node *twin;
	bool is_twin;
	/* A twin's WAITs, shared (a group commit): WAIT covers every write its connection sent
	 * before it, so one WAIT answers every write answered before it was sent. wseq counts
	 * the writes sent; the WAIT on the wire (wait) covers those up to wait_covers, and
	 * answers the ops in wait_cur; the ops in wait_next wrote later and get the next WAIT,
	 * sent when this one is answered. */
	unsigned long long wseq, wait_covers;
	struct op *wait;
	struct op_list wait_cur, wait_next;
	/* A WAIT answered short (too few replicas): from then on (refusing) the writes that
	 * must reach replicas fail at once, before they write, rather than each waiting out
	 * redis-replicas-timeout for a replica that is not there, until ROLE (which does not
	 * block), asked every PROBE_EVERY_MS (probe_ev), one at a time (probe), lists enough
	 * replicas online again. */
	bool refusing;
	struct op *probe;
	long long probe_logged;
	struct event *probe_ev;
};

struct store {
	struct event_base *base;
	struct redis_url url;	/* the single Redis; on a cluster, the credentials */
	struct redis_seeds seeds;
	bool cluster;
	struct store_options o;
	char address[300];
	struct node *nodes[NODES_MAX];	/* nodes[0]: the single Redis */
	unsigned nnodes;
	struct cluster_map *map;
	bool map_ok, was_up;
	struct event *refresh;
	bool refreshing;
	unsigned refresh_next;	/* the node the refresh asks next */
	unsigned refresh_fails;	/* refreshes in a row that no node answered */
	long long refresh_last;
	struct op_list parked;	/* waiting out a TRYAGAIN */
	char foreign[PAIRS_FOREIGN_MAX][3];	/* the feed-peers' countries, for the check */
	size_t nforeign;
	bool closing;
	bool *gone;		/* set by the destructor while drop() answers */
	void (*on_up)(void *arg);
	void *on_up_arg;
};

/* What an operation does with Redis's answer: one per kind, beside its operations. */
struct op_type {
	/* Answers the op from a reply that is not an error. Returns true once the op is
	 * answered (it is then freed), false when it sent its next command and waits. */
	bool (*reply)(struct op *op, const redisReply *r);
	/* Answers an operation that failed as a whole. */
	void (*fail)(struct op *op, int err);
};

/* One operation in flight; a talloc child of the store. */
struct op {
	struct store *st;
	const struct op_type *type;
	struct node *node;	/* the node its command is on, or was last sent to */
	TAILQ_ENTRY(op) link;	/* in node->flight while on the wire, or in st->parked */
	long long deadline;	/* of that command (ms, monotonic) */
	long long sent_us;	/* when that command was sent (us, monotonic): its latency */
	long long born;		/* redirections and retries end at born + timeout */
	union {
		store_done_cb done;
		store_count_cb count;
		store_data_cb data;
		store_pairings_cb pairings;
		store_handsets_cb handsets;
		store_kyc_cb kyc;
		store_result_cb result;
		store_fields_cb fields;
		store_entries_cb entries;
		store_limit_cb limit;
		store_verify_cb verify;
		store_number_cb number;
		store_records_cb records;
		store_items_cb items;
		store_foreign_cb foreign;
	} cb;
	void *arg;
	/* The key the command is routed by (its slot), and the command itself, kept to send
	 * again after a redirection. keylen 0: no key (any node, or pinned). */
	char key[ID_MAX + 8];
	size_t keylen;
	int argc;
	const char **argv;
	size_t *lens;
	void *argbuf;		/* what argv points into when the op copied it */
	bool pinned;		/* goes to node, whatever the key (WAIT after a write) */
	bool durable;		/* a write to WAIT for: over its node's twin connection */
	bool waited;		/* its write answered, it had (or waits for) its WAIT */
	unsigned long long wseq;	/* durable: its write's number on the twin */
	struct node *ask;	/* the target of an ASK: ASKING first, once */
	unsigned redirects;	/* MOVED and ASK followed */
	unsigned parks;		/* TRYAGAIN and the like waited out */
	struct event *park;	/* TRYAGAIN: the timer that sends it again */
	/* A script: its arguments after the name (EVALSHA/EVAL and the SHA or body). */
	const struct script *script;
	int sargc;
	const char **sargv;
	size_t *slens;
	bool retried;		/* NOSCRIPT: sent again by EVAL */
	bool tolerate_busygroup;	/* XGROUP CREATE: an existing group is fine */
	/* A transaction: these commands (formatted, MULTI first) go out before the op's own
	 * command, EXEC, on the same connection in one pass of the loop, so that nothing else
	 * is queued between them. Their QUEUED replies are not the op's: a command refused
	 * there (a redirection) makes EXEC answer EXECABORT, and nothing of it is run. */
	const struct tx_piece {
		const char *p;
		size_t len;
	} *tx;
	size_t ntx;
	void *data;		/* the op's own state (struct result_op, ...) */
};

static void node_connect(struct node *n);
static int keepalive(struct node *n);
static void map_refresh_soon(struct store *st);
static void op_reply(redisAsyncContext *ac, void *r, void *privdata);
/* The WAITs' (their latency is counted apart). */
static const struct op_type wait_type;

static void set_state(struct node *n, enum store_state s)
{
	if (n->state != s)
		LOGP(LOGC_STORE, s == ST_UP ? LOGL_NOTICE : LOGL_INFO, "redis %s: %s -> %s",
		     n->address, state_names[n->state], state_names[s]);
	if (s == ST_UP && n->timeouts) {
		LOGP(LOGC_STORE, LOGL_NOTICE, "redis %s: answering again, after %u timeouts",
		     n->address, n->timeouts);
		n->timeouts = 0;
	}
	n->state = s;
}

/* The connection is gone: the single Redis is connected again after the backoff; a cluster
 * node only when an operation needs it, not before the backoff has passed, and the map is
 * read again (a master that fails is replaced by its replica). */
static void node_down(struct node *n)
{
	struct timeval tv;

	if (n->st->closing)
		return;
	set_state(n, ST_DOWN);
	if (n->st->cluster) {
		n->down_until = clock_mono_ms() + n->backoff_ms;
		map_refresh_soon(n->st);
	} else {
		tv.tv_sec = n->backoff_ms / 1000;
		tv.tv_usec = (n->backoff_ms % 1000) * 1000;
		evtimer_add(n->retry, &tv);
	}
	n->backoff_ms *= 2;
	if (n->backoff_ms > BACKOFF_MAX_MS)
		n->backoff_ms = BACKOFF_MAX_MS;
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	node_connect(arg);
}

static void watch_arm(struct node *n, long long ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };

	evtimer_add(n->watch, &tv);
}

/* Redis did not answer in time: the connection goes, and every operation on it is answered
 * -EAGAIN now, as when a connection drops. Only from the watch timer: inside a hiredis
 * callback, redisAsyncFree would only mark the context and free it later. hiredis first
 * answers its commands with NULL replies, which op_reply leaves to this function (dropping),
 * then has no pointer left to any op: each is answered here once, out of the list first. */
static void drop(struct node *n)
{
	struct store *st = n->st;
	redisAsyncContext *ac = n->ac;
	bool gone = false;
	struct op *op;

	n->ac = NULL;
	ac->data = NULL;	/* its connect and disconnect callbacks: nothing to do */
	n->dropping = true;
	redisAsyncFree(ac);
	n->dropping = false;
	n->pending = 0;
	node_down(n);		/* down first: what the callers try now fails at once */
	st->gone = &gone;
	while ((op = TAILQ_FIRST(&n->flight)) != NULL) {
		TAILQ_REMOVE(&n->flight, op, link);
		op->type->fail(op, -EAGAIN);
		if (gone)
			return;	/* a caller freed the store, and the op with it */
		talloc_free(op);
	}
	st->gone = NULL;
}

/* The connection's one timer. Redis answers a connection's commands in the order they were
 * sent, so the oldest command on the wire is the one to time: the timer is due at its
 * deadline, or at the handshake's, and moves on lazily (checked when it fires, never
 * re-armed per command). A connection with nothing on the wire gets a PING once a timeout
 * has passed since the last command, so that a frozen Redis shows (store_is_up, /healthz)
 * even when no traffic meets it. */
static void watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct node *n = arg;
	struct op *op = TAILQ_FIRST(&n->flight);
	int timeout = n->st->o.timeout_ms;
	long long now = clock_mono_ms(), due;

	(void)fd;
	(void)what;
	if (n->ac == NULL)
		return;		/* down: connecting again arms this */
	if (n->state != ST_UP)
		due = n->connect_deadline;
	else
		due = op ? op->deadline : n->last_sent + timeout;
	if (now < due) {
		watch_arm(n, due - now);
		return;
	}
	if (n->state == ST_UP && op == NULL) {
		keepalive(n);	/* out of memory: the next round tries again */
		watch_arm(n, timeout);
		return;
	}
	METRIC_INC(redis_timeouts);
	if (n->timeouts++ == 0)
		LOGP(LOGC_STORE, LOGL_WARN, "redis %s: no answer in %d ms %s; dropping the "
		     "connection, %zu operations answered \"try again\"", n->address, timeout,
		     n->state == ST_UP ? "to a command" : "while connecting", n->pending);
	else
		LOGP(LOGC_STORE, LOGL_DEBUG, "redis %s: no answer in %d ms again (%u)", n->address,
		     timeout, n->timeouts);
	drop(n);
}

static void store_became_up(struct store *st)
{
	if (!st->was_up && st->on_up) {
		st->was_up = true;
		st->on_up(st->on_up_arg);
	}
	st->was_up = true;
}

/* The last step of the handshake (AUTH, SELECT, PING: whichever are needed, pipelined) has
 * answered. */
static void handshake_cb(redisAsyncContext *ac, void *r, void *privdata)
{
	struct node *n = ac->data;
	redisReply *reply = r;
	long step = (long)privdata;

	if (n == NULL || n->st->closing || reply == NULL)
		return;		/* the disconnect callback handles a NULL reply */
	if (reply->type == REDIS_REPLY_ERROR) {
		LOGP(LOGC_STORE, LOGL_ERROR, "redis %s: %s refused: %.200s", n->address,
		     step == 0 ? "AUTH" : step == 1 ? "SELECT" : "PING", reply->str);
		redisAsyncDisconnect(ac);
		return;
	}
	if (step == 2) {
		n->backoff_ms = BACKOFF_MIN_MS;
		n->down_until = 0;
		set_state(n, ST_UP);
		if (!n->st->cluster && !n->is_twin) {
			n->st->was_up = false;	/* each time the single Redis is up again */
			store_became_up(n->st);
		}
	}
}

static void connected_cb(const redisAsyncContext *ac, int status)
{
	struct node *n = ac->data;

	if (n == NULL)
		return;
	if (status != REDIS_OK) {
		LOGP(LOGC_STORE, LOGL_WARN, "redis %s: cannot connect: %s", n->address, ac->errstr);
		n->ac = NULL;	/* hiredis frees the context after this callback */
		n->pending = 0;
		node_down(n);
	}
}

static void disconnected_cb(const redisAsyncContext *ac, int status)
{
	struct node *n = ac->data;

	if (n == NULL)
		return;
	n->ac = NULL;
	n->pending = 0;
	if (n->st->closing)
		return;
	LOGP(LOGC_STORE, LOGL_WARN, "redis %s: connection lost%s%s", n->address,
	     status == REDIS_OK ? "" : ": ", status == REDIS_OK ? "" : ac->errstr);
	node_down(n);
}

static void node_connect(struct node *n)
{
	struct store *st = n->st;
	const char *argv[3];
	size_t lens[3];
	redisAsyncContext *ac;
	char db[16];
	int k;

	set_state(n, ST_CONNECTING);
	/* The handshake times out too: a frozen server accepts connections (the kernel does)
	 * and never answers. */
	n->connect_deadline = clock_mono_ms() + st->o.timeout_ms;
	if (st->cluster)
		ac = redisAsyncConnect(n->host, n->port);
	else if (st->url.kind == REDIS_URL_UNIX)
		ac = redisAsyncConnectUnix(st->url.path);
	else
		ac = redisAsyncConnect(st->url.host, st->url.port);
	if (ac == NULL || ac->err) {
		LOGP(LOGC_STORE, LOGL_WARN, "redis %s: cannot connect: %s", n->address,
		     ac ? ac->errstr : "out of memory");
		if (ac)
			redisAsyncFree(ac);
		node_down(n);
		return;
	}
	if (redis_ev_attach(ac, st->base) < 0) {
		LOGP(LOGC_STORE, LOGL_WARN, "redis %s: cannot connect: out of memory", n->address);
		redisAsyncFree(ac);
		node_down(n);
		return;
	}
	ac->data = n;
	n->ac = ac;
	watch_arm(n, st->o.timeout_ms);
	redisAsyncSetConnectCallback(ac, connected_cb);
	redisAsyncSetDisconnectCallback(ac, disconnected_cb);
	if (st->url.password[0]) {
		/* AUTH user password (a Redis 6 ACL user) or AUTH password. */
		k = 0;
		argv[k] = "AUTH";
		lens[k++] = 4;
		if (st->url.user[0]) {
			argv[k] = st->url.user;
			lens[k++] = strlen(st->url.user);
		}
		argv[k] = st->url.password;
		lens[k++] = strlen(st->url.password);
		redisAsyncCommandArgv(ac, handshake_cb, (void *)0L, k, argv, lens);
	}
	if (st->url.db) {
		k = snprintf(db, sizeof(db), "%d", st->url.db);
		argv[0] = "SELECT";
		lens[0] = 6;
		argv[1] = db;
		lens[1] = (size_t)k;
		redisAsyncCommandArgv(ac, handshake_cb, (void *)1L, 2, argv, lens);
	}
	argv[0] = "PING";
	lens[0] = 4;
	redisAsyncCommandArgv(ac, handshake_cb, (void *)2L, 1, argv, lens);
}

static void node_close(struct node *n)
{
	if (n->probe_ev)
		event_free(n->probe_ev);
	n->probe_ev = NULL;
	if (n->retry)
		event_free(n->retry);
	n->retry = NULL;
	if (n->watch)
		event_free(n->watch);
	n->watch = NULL;
	if (n->ac) {
		/* Pending operations are answered with -ECANCELED from inside this call. */
		redisAsyncFree(n->ac);
		n->ac = NULL;
	}
}

static struct node *node_new(struct store *st, const char *host, int port)
{
	struct node *n;

	if (st->nnodes == NODES_MAX)
		return NULL;
	n = talloc_zero(st, struct node);
	if (n == NULL)
		return NULL;
	n->st = st;
	TAILQ_INIT(&n->flight);
	TAILQ_INIT(&n->wait_cur);
	TAILQ_INIT(&n->wait_next);
	n->backoff_ms = BACKOFF_MIN_MS;
	n->watch = evtimer_new(st->base, watch_cb, n);
	if (!st->cluster)
		n->retry = evtimer_new(st->base, retry_cb, n);
	if (n->watch == NULL || (!st->cluster && n->retry == NULL)) {
		node_close(n);
		talloc_free(n);
		return NULL;
	}
	if (st->cluster) {
		snprintf(n->host, sizeof(n->host), "%s", host);
		n->port = port;
		snprintf(n->address, sizeof(n->address), strchr(host, ':') ? "[%s]:%d" : "%s:%d",
			 host, port);
	} else {
		snprintf(n->address, sizeof(n->address), "%s", st->address);
	}
	st->nodes[st->nnodes++] = n;
	return n;
}

/* The cluster node at host:port, made when first needed. NULL: out of memory, or more nodes
 * than the store keeps. */
static struct node *node_get(struct store *st, const char *host, int port)
{
	for (unsigned i = 0; i < st->nnodes; i++)
		if (!st->nodes[i]->is_twin && st->nodes[i]->port == port &&
		    strcmp(st->nodes[i]->host, host) == 0)
			return st->nodes[i];
	return node_new(st, host, port);
}

/* The twin connection of node n (see struct node), made when first needed; a single
 * Redis's twin connects at once and then, like the node, on its own. NULL: out of memory,
 * or more connections than the store keeps. */
static struct node *node_twin(struct node *n)
{
	struct node *t = n->twin;

	if (t)
		return t;
	t = node_new(n->st, n->host, n->port);
	if (t == NULL)
		return NULL;
	t->is_twin = true;
	snprintf(t->address, sizeof(t->address), "%s", n->address);
	n->twin = t;
	if (!n->st->cluster)
		node_connect(t);
	return t;
}

/* Whether the node takes a command now: connected, or connecting (hiredis queues it behind
 * the handshake). A cluster node that is down is connected here, unless it failed within
 * its backoff: then the operation fails at once, rather than waiting on a dead master until
 * the map names its replica. */
static bool node_ready(struct node *n)
{
	if (n->ac && n->state != ST_DOWN)
		return n->st->cluster || n->is_twin || n->state == ST_UP;
	if (!n->st->cluster || clock_mono_ms() < n->down_until)
		return false;
	node_connect(n);
	return n->ac != NULL;
}

/* ---- the slot map ---------------------------------------------------------------------- */

static void refresh_cb(evutil_socket_t fd, short what, void *arg);
static int map_ask(struct store *st, struct node *n);

static void refresh_arm(struct store *st, long long ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };

	evtimer_add(st->refresh, &tv);
}

/* A refresh as soon as the last one is REFRESH_MIN_MS old. */
static void map_refresh_soon(struct store *st)
{
	long long wait;

	if (!st->cluster || st->refreshing || st->closing)
		return;
	wait = st->refresh_last + REFRESH_MIN_MS - clock_mono_ms();
	refresh_arm(st, wait > 0 ? wait : 0);
}

/* The next node to ask for the map: the masters the map names, then the seeds, round. */
static struct node *refresh_candidate(struct store *st, unsigned i)
{
	unsigned nmap = st->map_ok ? st->map->nnodes : 0;

	i %= nmap + st->seeds.n;
	if (i < nmap)
		return node_get(st, st->map->nodes[i].host, st->map->nodes[i].port);
	return node_get(st, st->seeds.seed[i - nmap].host, st->seeds.seed[i - nmap].port);
}

/* Asks one node after another, each once per round, until one answers. */
static void map_refresh(struct store *st)
{
	unsigned tries = (st->map_ok ? st->map->nnodes : 0) + st->seeds.n;

	st->refreshing = true;
	st->refresh_last = clock_mono_ms();
	for (unsigned i = 0; i < tries; i++) {
		struct node *n = refresh_candidate(st, st->refresh_next++);

		if (n && map_ask(st, n) == 0)
			return;	/* answered in slots_reply or slots_fail */
	}
	st->refreshing = false;
	if (st->refresh_fails++ == 0)
		LOGP(LOGC_STORE, LOGL_WARN, "redis %s: no node answers for the slot map",
		     st->address);
	refresh_arm(st, st->map_ok ? REFRESH_MIN_MS * 5 : BACKOFF_MIN_MS * 5);
}

static void refresh_cb(evutil_socket_t fd, short what, void *arg)
{
	struct store *st = arg;

	(void)fd;
	(void)what;
	if (!st->refreshing)
		map_refresh(st);
}

/* ---- operations ----------------------------------------------------------------------- */

static bool usable(const struct store *st)
{
	if (st->closing)
		return false;
	if (st->cluster)
		return st->map_ok && st->refresh_fails < 3;
	return st->nodes[0]->state == ST_UP && st->nodes[0]->ac != NULL;
}

static int op_destructor(struct op *op);

static struct op *op_alloc(struct store *st, const struct op_type *type, void *arg)
{
	struct op *op = talloc_zero(st, struct op);

	if (op) {
		op->st = st;
		op->type = type;
		op->arg = arg;
		op->born = clock_mono_ms();
		talloc_set_destructor(op, op_destructor);
	}
	return op;
}

static struct op *op_new(struct store *st, const struct op_type *type, void *arg)
{
	return usable(st) ? op_alloc(st, type, arg) : NULL;
}

/* The reason op_new returned NULL. */
static int op_new_err(const struct store *st)
{
	return usable(st) ? -ENOMEM : -EAGAIN;
}

/* The node the op's command goes to now. */
static struct node *op_route(struct op *op)
{
	struct store *st = op->st;
	const struct cluster_node *cn;
	struct node *n;

	if (op->pinned)
		return op->node;
	if (!st->cluster) {
		n = st->nodes[0];
	} else if (op->ask) {
		n = op->ask;
	} else {
		/* No key (PING): any master the map names. */
		cn = op->keylen == 0 ? (st->map->nnodes ? &st->map->nodes[0] : NULL) :
			cluster_map_node(st->map, cluster_keyslot(op->key, op->keylen));
		n = cn ? node_get(st, cn->host, cn->port) : NULL;
	}
	return n && op->durable ? node_twin(n) : n;
}

static void ignore_reply(redisAsyncContext *ac, void *r, void *privdata)
{
	(void)ac;
	(void)r;
	(void)privdata;
}

static int op_start(struct op *op, int argc, const char **argv, const size_t *lens);

/* ROLE, on a master whose replicas did not all acknowledge a WAIT: the replicas it lists
 * are online; enough of them, and the writes that wait for replicas go there again. */
static bool probe_reply(struct op *op, const redisReply *r)
{
	struct node *n = op->arg;
	const redisReply *list;

	n->probe = NULL;
	if (r->type == REDIS_REPLY_ARRAY && r->elements >= 3 &&
	    r->element[0]->type == REDIS_REPLY_STRING && strcmp(r->element[0]->str, "master") == 0 &&
	    (list = r->element[2])->type == REDIS_REPLY_ARRAY &&
	    list->elements >= (size_t)op->st->o.replicas_ack) {
		/* Once in 10 s at most: a frozen replica stays listed (until repl-timeout)
		 * while its WAITs keep answering short. */
		if (clock_mono_ms() - n->probe_logged > 10000) {
			LOGP(LOGC_STORE, LOGL_NOTICE, "redis %s: %zu replicas online again; the "
			     "writes that wait for them go on", n->address, list->elements);
			n->probe_logged = clock_mono_ms();
		}
		n->refusing = false;
	}
	return true;
}

static void probe_fail(struct op *op, int err)
{
	struct node *n = op->arg;

	(void)err;
	n->probe = NULL;
}

static const struct op_type probe_type = { probe_reply, probe_fail };

static void probe_replicas(struct node *n)
{
	const char *argv[] = { "ROLE" };
	size_t lens[] = { 4 };
	struct op *op;

	if (n->probe || (op = op_alloc(n->st, &probe_type, n)) == NULL)
		return;
	op->node = n;
	op->pinned = true;
	if (op_start(op, 1, argv, lens) == 0)
		n->probe = op;
}

static void probe_cb(evutil_socket_t fd, short what, void *arg)
{
	struct node *n = arg;
	struct timeval tv = { 0, PROBE_EVERY_MS * 1000 };

	(void)fd;
	(void)what;
	if (!n->refusing || n->st->closing)
		return;
	probe_replicas(n);
	evtimer_add(n->probe_ev, &tv);
}

/* A WAIT answered short: the node's durable writes are refused until ROLE says otherwise. */
static void replicas_short(struct node *n)
{
	struct timeval tv = { 0, PROBE_EVERY_MS * 1000 };

	n->refusing = true;
	if (n->probe_ev == NULL && (n->probe_ev = evtimer_new(n->st->base, probe_cb, n)) == NULL) {
		n->refusing = false;	/* nothing would ask again: WAIT is the probe then */
		return;
	}
	if (!evtimer_pending(n->probe_ev, NULL))
		evtimer_add(n->probe_ev, &tv);
}

/* A transaction's command answered QUEUED, or refused: a redirection means the cluster's
 * map changed (EXEC answers EXECABORT; the op fails and its caller tries again later). */
static void tx_queued(redisAsyncContext *ac, void *r, void *privdata)
{
	struct node *n = ac->data;
	const redisReply *reply = r;

	(void)privdata;
	if (n && reply && reply->type == REDIS_REPLY_ERROR && n->st->cluster &&
	    (strncmp(reply->str, "MOVED", 5) == 0 || strncmp(reply->str, "ASK", 3) == 0))
		map_refresh_soon(n->st);
}

/* Sends the op's command (op->argv) where it belongs now. */
static int op_send(struct op *op)
{
	struct node *n = op_route(op);
	static const char *asking[] = { "ASKING" };
	static const size_t asking_len[] = { 6 };

	if (n == NULL || !node_ready(n)) {
		/* A master that is down, or unknown: its replica may have its slots now. */
		map_refresh_soon(op->st);
		return -EAGAIN;
	}
	if (op->durable && !op->pinned && n->refusing)
		return -EAGAIN;
	if (op->ask && !op->pinned &&
	    redisAsyncCommandArgv(n->ac, ignore_reply, NULL, 1, asking, asking_len) != REDIS_OK)
		return -EAGAIN;
	op->ask = NULL;		/* ASKING holds for the one command after it */
	/* A transaction's commands: hiredis fails them only for a connection on its way out,
	 * whose MULTI Redis drops with it. */
	for (size_t i = 0; i < op->ntx; i++)
		if (redisAsyncFormattedCommand(n->ac, tx_queued, NULL, op->tx[i].p,
					       op->tx[i].len) != REDIS_OK)
			return -EAGAIN;
	if (redisAsyncCommandArgv(n->ac, op_reply, op, op->argc, op->argv, op->lens) != REDIS_OK)
		return -EAGAIN;
	op->node = n;
	if (op->durable && !op->pinned)
		op->wseq = ++n->wseq;
	n->pending++;
	/* Each command is timed from its own sending (a resent one as well): it is the
	 * connection that is judged, and watch_cb finds the list in deadline order. Its latency
	 * is one read of the monotonic clock here (which the timeout needed already) and one
	 * where its reply arrives, each a vDSO call of some 20 ns. libevent's cached time would
	 * cost nothing, but its monotonic clock is CLOCK_MONOTONIC_COARSE (a few ms a tick)
	 * unless the base is made precise: too coarse for commands that take 100 us. */
	op->sent_us = clock_mono_us();
	n->last_sent = op->sent_us / 1000;
	op->deadline = n->last_sent + op->st->o.timeout_ms;
	TAILQ_INSERT_TAIL(&n->flight, op, link);
	return 0;
}

/* Copies argv into one block, after skip empty slots (a script's name and SHA). */
static void *op_copy(struct op *op, int skip, int argc, const char **argv, const size_t *lens,
		     const char ***out_argv, size_t **out_lens)
{
	int total_argc = argc + skip, i;
	size_t total = 0;
	char *p, *block;

	for (i = 0; i < argc; i++)
		total += lens[i] + 1;
	block = talloc_size(op, total + (size_t)total_argc * (sizeof(char *) + sizeof(size_t)));
	if (block == NULL)
		return NULL;
	*out_argv = (const char **)(void *)block;
	*out_lens = (size_t *)(void *)(block + (size_t)total_argc * sizeof(char *));
	p = block + (size_t)total_argc * (sizeof(char *) + sizeof(size_t));
	for (i = 0; i < argc; i++) {
		/* Binary arguments (a digest, a bucketed field) have no NUL after them. */
		memcpy(p, argv[i], lens[i]);
		p[lens[i]] = '\0';
		(*out_argv)[skip + i] = p;
		(*out_lens)[skip + i] = lens[i];
		p += lens[i] + 1;
	}
	return block;
}

/* Makes argv the op's command, copied into the op, and sends it. Returns 0, or why it
 * could not be sent (the op is not answered). */
static int op_cmd(struct op *op, int argc, const char **argv, const size_t *lens)
{
	const char **av;
	size_t *al;
	void *block = op_copy(op, 0, argc, argv, lens, &av, &al);

	if (block == NULL)
		return -ENOMEM;
	talloc_free(op->argbuf);
	op->argbuf = block;
	op->argv = av;
	op->lens = al;
	op->argc = argc;
	return op_send(op);
}

/* Sends an operation's first command, or frees it and returns why it could not be sent. */
static int op_start(struct op *op, int argc, const char **argv, const size_t *lens)
{
	int rc = op_cmd(op, argc, argv, lens);

	if (rc < 0)
		talloc_free(op);
	return rc < 0 ? rc : 0;
}

/* EVALSHA, or EVAL with the body once Redis said NOSCRIPT: the script's arguments become
 * the op's command. */
static int op_script(struct op *op, bool eval)
{
	op->sargv[0] = eval ? "EVAL" : "EVALSHA";
	op->slens[0] = strlen(op->sargv[0]);
	op->sargv[1] = eval ? op->script->body : op->script->sha;
	op->slens[1] = strlen(op->sargv[1]);
	op->argc = op->sargc;
	op->argv = op->sargv;
	op->lens = op->slens;
	return op_send(op);
}

/* Keeps a copy of a script's arguments (numkeys, keys, args) in the op, for as long as the
 * op lives. Returns 0 or -ENOMEM. */
static int op_keep_script(struct op *op, const struct script *sc, int argc, const char **argv,
			  const size_t *lens)
{
	if (op_copy(op, 2, argc, argv, lens, &op->sargv, &op->slens) == NULL)
		return -ENOMEM;
	op->script = sc;
	op->sargc = argc + 2;
	return 0;
}

/* Keeps a script's arguments and sends it. Returns 0, or frees the op and returns why it
 * could not be sent. */
static int op_start_script(struct op *op, const struct script *sc, int argc,
			   const char **argv, const size_t *lens)
{
	int rc = op_keep_script(op, sc, argc, argv, lens);

	if (rc == 0)
		rc = op_script(op, false);
	if (rc < 0)
		talloc_free(op);
	return rc;
}

/* ---- answers, redirections and retries ------------------------------------------------- */

static void park_cb(evutil_socket_t fd, short what, void *arg)
{
	struct op *op = arg;

	(void)fd;
	(void)what;
	TAILQ_REMOVE(&op->st->parked, op, link);
	if (op_send(op) < 0) {
		op->type->fail(op, -EAGAIN);
		talloc_free(op);
	}
}

/* TRYAGAIN (a multi-key command during a slot's migration), CLUSTERDOWN (a failover under
 * way), LOADING (a node reading its data): sent again after a short wait (10 ms doubling to
 * 80) with jitter, so that gateways do not come back all at once, as often as the op's
 * timeout allows: a slot with many keys can take seconds to migrate. Returns false when
 * there is no time left. */
static bool op_park(struct op *op)
{
	long long wait = 10LL << (op->parks < 3 ? op->parks : 3);
	struct timeval tv;

	op->parks++;
	wait += rand() % (wait + 1);
	if (clock_mono_ms() + wait > op->born + op->st->o.timeout_ms)
		return false;
	if (op->park == NULL && (op->park = evtimer_new(op->st->base, park_cb, op)) == NULL)
		return false;
	tv.tv_sec = (time_t)(wait / 1000);
	tv.tv_usec = (suseconds_t)(wait % 1000) * 1000;
	evtimer_add(op->park, &tv);
	TAILQ_INSERT_TAIL(&op->st->parked, op, link);
	return true;
}

static int op_destructor(struct op *op)
{
	if (op->park)
		event_free(op->park);
	return 0;
}

/* A cluster's answer that is no answer yet: MOVED, ASK, TRYAGAIN and the like. Returns true
 * when the op goes on (sent again, or parked), false to answer it with the error. */
static bool op_redirect(struct op *op, const redisReply *reply)
{
	struct store *st = op->st;
	struct cluster_redirect rd;
	const char *host;

	if (!st->cluster)
		return false;
	if (clock_mono_ms() > op->born + st->o.timeout_ms)
		return false;
	if (cluster_redirect_parse(reply->str, reply->len, &rd) == 0) {
		if (++op->redirects > REDIRECTS_MAX) {
			LOGP(LOGC_STORE, LOGL_WARN, "redis %s: still redirected after %u "
			     "redirections: %.100s", st->address, op->redirects - 1, reply->str);
			return false;
		}
		host = rd.host[0] ? rd.host : op->node->host;	/* "" : the node that answered */
		if (rd.kind == CLUSTER_MOVED) {
			if (cluster_map_set(st->map, rd.slot, host, rd.port) == 0)
				map_refresh_soon(st);
		} else {
			op->ask = node_get(st, host, rd.port);
			if (op->ask == NULL)
				return false;
		}
		return op_send(op) == 0;
	}
	if (strncmp(reply->str, "TRYAGAIN", 8) == 0 || strncmp(reply->str, "CLUSTERDOWN", 11) == 0 ||
	    strncmp(reply->str, "LOADING", 7) == 0) {
		if (strncmp(reply->str, "CLUSTERDOWN", 11) == 0)
			map_refresh_soon(st);
		return op_park(op);
	}
	return false;
}

static void op_reply(redisAsyncContext *ac, void *r, void *privdata)
{
	struct op *op = privdata;
	struct node *n = op->node;
	struct store *st = op->st;
	redisReply *reply = r;
	bool later;

	(void)ac;
	n->pending--;
	if (reply == NULL && n->dropping)
		return;		/* drop() answers it, once hiredis has let go of it */
	TAILQ_REMOVE(&n->flight, op, link);
	if (reply == NULL) {
		op->type->fail(op, st->closing ? -ECANCELED : -EAGAIN);
		goto done;
	}
	{
		int cls = op->type == &wait_type ? MRO_WAIT :
			  op->script && op->argv == op->sargv ? MRO_SCRIPT : MRO_COMMAND;
		long long us = clock_mono_us() - op->sent_us;

		metric_observe(&metrics.redis_latency[cls][0], us > 0 ? (uint64_t)us : 0);
		if (reply->type == REDIS_REPLY_ERROR)
			METRIC_INC1(redis_errors, cls);
	}
	if (reply->type == REDIS_REPLY_ERROR) {
		if (op->script && !op->retried && op->argv == op->sargv &&
		    strncmp(reply->str, "NOSCRIPT", 8) == 0) {
			op->retried = true;
			if (op_script(op, true) == 0)
				return;		/* the same op, answered by EVAL */
			op->type->fail(op, -EAGAIN);
			goto done;
		}
		if (op_redirect(op, reply))
			return;
		if (op->tolerate_busygroup && strncmp(reply->str, "BUSYGROUP", 9) == 0) {
			op->cb.done(op->arg, 0);	/* XGROUP CREATE: the group is there */
			goto done;
		}
		/* Logged, and answered -EPROTO, or -EAGAIN from a cluster that cannot answer
		 * now. */
		later = strncmp(reply->str, "TRYAGAIN", 8) == 0 ||
			strncmp(reply->str, "CLUSTERDOWN", 11) == 0 ||
			strncmp(reply->str, "LOADING", 7) == 0 ||
			strncmp(reply->str, "EXECABORT", 9) == 0 ||
			strncmp(reply->str, "MOVED", 5) == 0 || strncmp(reply->str, "ASK", 3) == 0;
		LOGP(LOGC_STORE, later ? LOGL_WARN : LOGL_ERROR, "redis %s: %.200s", n->address,
		     reply->str);
		op->type->fail(op, later ? -EAGAIN : -EPROTO);
		goto done;
	}
	if (!op->type->reply(op, reply))
		return;		/* its next command is on the wire */
done:
	talloc_free(op);
}

/* ---- answers, by kind of operation ------------------------------------------------------ */

static void done_fail(struct op *op, int err)
{
	op->cb.done(op->arg, err);
}

static bool done_reply(struct op *op, const redisReply *r)
{
	(void)r;
	op->cb.done(op->arg, 0);
	return true;
}

static const struct op_type done_type = { done_reply, done_fail };

static bool ping_reply(struct op *op, const redisReply *r)
{
	op->cb.done(op->arg, r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0 ?
			     0 : -EPROTO);
	return true;
}

static const struct op_type ping_type = { ping_reply, done_fail };

/* Whether a script answered an array of n integers. */
static bool int_array(const redisReply *reply, size_t n)
{
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (reply->element[i]->type != REDIS_REPLY_INTEGER)
			return false;
	return true;
}

static void count_fail(struct op *op, int err)
{
	op->cb.count(op->arg, err, 0);
}

/* SET NX: OK when set, nil when the key was there. */
static bool setnx_reply(struct op *op, const redisReply *r)
{
	op->cb.count(op->arg, 0, r->type == REDIS_REPLY_STATUS ? 1 : 0);
	return true;
}

static const struct op_type setnx_type = { setnx_reply, count_fail };

static void limit_fail(struct op *op, int err)
{
	op->cb.limit(op->arg, err, 0, 0);
}

static bool limit_reply(struct op *op, const redisReply *r)
{
	if (int_array(r, 2))
		op->cb.limit(op->arg, 0, r->element[0]->integer, r->element[1]->integer);
	else
		limit_fail(op, -EPROTO);
	return true;
}

static const struct op_type limit_type = { limit_reply, limit_fail };

static void verify_fail(struct op *op, int err)
{
	op->cb.verify(op->arg, err, STORE_VERIFY_NONE, 0, 0);
}

static bool verify_reply(struct op *op, const redisReply *r)
{
	if (int_array(r, 3) && r->element[0]->integer >= STORE_VERIFY_NONE &&
	    r->element[0]->integer <= STORE_VERIFY_PEEKED)
		op->cb.verify(op->arg, 0, (enum store_verify_result)r->element[0]->integer,
			      r->element[1]->integer, r->element[2]->integer);
	else
		verify_fail(op, -EPROTO);
	return true;
}

static const struct op_type verify_type = { verify_reply, verify_fail };

static void data_fail(struct op *op, int err)
{
	op->cb.data(op->arg, err, NULL, 0, false);
}

/* GET: a string, or nil. */
static bool get_reply(struct op *op, const redisReply *r)
{
	if (r->type == REDIS_REPLY_STRING)
		op->cb.data(op->arg, 0, r->str, r->len, true);
	else
		op->cb.data(op->arg, 0, NULL, 0, false);
	return true;
}

static const struct op_type get_type = { get_reply, data_fail };

static void number_fail(struct op *op, int err)
{
	op->cb.number(op->arg, err, NULL, 0, false);
}

/* MGET of a number's language and resume record: two strings or nils. */
static bool number_reply(struct op *op, const redisReply *r)
{
	const redisReply *lang, *resume;

	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
		number_fail(op, -EPROTO);
		return true;
	}
	lang = r->element[0];
	resume = r->element[1];
	if (lang->type == REDIS_REPLY_STRING)
		op->cb.number(op->arg, 0, lang->str, lang->len, resume->type == REDIS_REPLY_STRING);
	else
		op->cb.number(op->arg, 0, NULL, 0, resume->type == REDIS_REPLY_STRING);
	return true;
}

static const struct op_type number_type = { number_reply, number_fail };

static void records_fail(struct op *op, int err)
{
	op->cb.records(op->arg, err, NULL, 0);
}

/* MGET of records in one slot: as many strings or nils as keys. */
static bool records_reply(struct op *op, const redisReply *r)
{
	struct store_val v[STORE_RECORDS_MAX];
	size_t n = (size_t)op->argc - 1;

	if (r->type != REDIS_REPLY_ARRAY || r->elements != n || n > STORE_RECORDS_MAX) {
		records_fail(op, -EPROTO);
		return true;
	}
	for (size_t i = 0; i < n; i++) {
		const redisReply *e = r->element[i];

		if (e->type == REDIS_REPLY_STRING)
			v[i] = (struct store_val){ e->str, e->len, true };
		else if (e->type == REDIS_REPLY_NIL)
			v[i] = (struct store_val){ NULL, 0, false };
		else {
			records_fail(op, -EPROTO);
			return true;
		}
	}
	op->cb.records(op->arg, 0, v, n);
	return true;
}

static const struct op_type records_type = { records_reply, records_fail };

static void pairings_fail(struct op *op, int err)
{
	op->cb.pairings(op->arg, err, NULL, 0);
}

static bool pairings_reply(struct op *op, const redisReply *r)
{
	struct pair_rec recs[PAIRS_MAX_RECORDS];
	int n = 0;

	if (r->type == REDIS_REPLY_STRING)
		n = pairs_imei_decode((const uint8_t *)r->str, r->len, recs, PAIRS_MAX_RECORDS);
	if (n < 0) {
		LOGP(LOGC_STORE, LOGL_ERROR, "redis %s: %s: an IMEI value that does not decode",
		     op->node->address, op->key);
		pairings_fail(op, -EPROTO);
	} else {
		op->cb.pairings(op->arg, 0, recs, (size_t)n);
	}
	return true;
}

static const struct op_type pairings_type = { pairings_reply, pairings_fail };

static void handsets_fail(struct op *op, int err)
{
	op->cb.handsets(op->arg, err, NULL, 0);
}

static bool handsets_reply(struct op *op, const redisReply *r)
{
	uint64_t bodies[PAIRS_MAX_RECORDS];
	int n = 0;

	if (r->type == REDIS_REPLY_STRING)
		n = pairs_msisdn_decode((const uint8_t *)r->str, r->len, bodies, PAIRS_MAX_RECORDS);
	if (n < 0) {
		LOGP(LOGC_STORE, LOGL_ERROR, "redis %s: %s: an MSISDN value that does not decode",
		     op->node->address, op->key);
		handsets_fail(op, -EPROTO);
	} else {
		op->cb.handsets(op->arg, 0, bodies, (size_t)n);
	}
	return true;
}

static const struct op_type handsets_type = { handsets_reply, handsets_fail };

static void kyc_fail(struct op *op, int err)
{
	op->cb.kyc(op->arg, err, NULL);
}

static bool kyc_reply(struct op *op, const redisReply *r)
{
	struct kyc_rec kyc;

	if (r->type != REDIS_REPLY_STRING) {
		op->cb.kyc(op->arg, 0, NULL);
	} else if (pairs_kyc_decode((const uint8_t *)r->str, r->len, &kyc) < 0) {
		LOGP(LOGC_STORE, LOGL_ERROR, "redis %s: %s: a KYC value that does not decode",
		     op->node->address, op->key);
		kyc_fail(op, -EPROTO);
	} else {
		op->cb.kyc(op->arg, 0, &kyc);
	}
	return true;
}

static const struct op_type kyc_type = { kyc_reply, kyc_fail };

static void fields_fail(struct op *op, int err)
{
	op->cb.fields(op->arg, err, NULL, 0);
}

/* HGETALL: field, value, ... (at most 64 pairs are lent). */
static bool fields_reply(struct op *op, const redisReply *r)
{
	struct store_kv kv[64];
	size_t i, nkv = 0;

	if (r->type != REDIS_REPLY_ARRAY) {
		fields_fail(op, -EPROTO);
		return true;
	}
	for (i = 0; i + 1 < r->elements && nkv < 64; i += 2, nkv++) {
		kv[nkv].key = r->element[i]->str;
		kv[nkv].klen = r->element[i]->len;
		kv[nkv].val = r->element[i + 1]->str;
		kv[nkv].vlen = r->element[i + 1]->len;
	}
	op->cb.fields(op->arg, 0, kv, nkv);
	return true;
}

static const struct op_type fields_type = { fields_reply, fields_fail };

/* Appends s[0..n) to the CSV text as one quoted field (RFC 4180). */
static char *csv_quoted(char *out, const char *s, size_t n)
{
	size_t i;

	*out++ = '"';
	for (i = 0; i < n; i++) {
		if (s[i] == '"')
			*out++ = '"';
		*out++ = s[i] == '\n' || s[i] == '\r' ? ' ' : s[i];
	}
	*out++ = '"';
	return out;
}

/* The HGETALL of tac:{tac} as tacdb CSV text. */
static bool tac_reply(struct op *op, const redisReply *reply)
{
	size_t i, cap = 32;
	char *text, *p;
	const char *sep;

	if (reply->type != REDIS_REPLY_ARRAY) {
		data_fail(op, -EPROTO);
		return true;
	}
	if (reply->elements == 0) {
		op->cb.data(op->arg, 0, NULL, 0, false);
		return true;
	}
	for (i = 0; i < reply->elements; i++)
		cap += 2 * reply->element[i]->len + 8;
	text = talloc_size(op, cap);
	if (text == NULL) {
		data_fail(op, -ENOMEM);
		return true;
	}
	p = text + sprintf(text, "tac,maker,model\n");
	for (i = 0; i + 1 < reply->elements; i += 2) {
		const redisReply *k = reply->element[i], *v = reply->element[i + 1];

		sep = memchr(v->str, 0x1f, v->len);
		p = csv_quoted(p, k->str, k->len);
		*p++ = ',';
		p = csv_quoted(p, v->str, sep ? (size_t)(sep - v->str) : v->len);
		*p++ = ',';
		if (sep)
			p = csv_quoted(p, sep + 1, v->len - (size_t)(sep + 1 - v->str));
		*p++ = '\n';
	}
	op->cb.data(op->arg, 0, text, (size_t)(p - text), true);
	return true;
}

static const struct op_type tac_type = { tac_reply, data_fail };

/* A list of stream entries ([[id, [f, v, ...]], ...]) into e and kv. Returns how many, or
 * -EPROTO. */
static int entries_parse(const redisReply *list, struct store_entry *e,
			 struct store_kv (*kv)[16])
{
	size_t i, j;
	int n = 0;

	if (list->type != REDIS_REPLY_ARRAY)
		return -EPROTO;
	for (i = 0; i < list->elements && n < STORE_ENTRIES_MAX; i++) {
		const redisReply *ent = list->element[i], *f;

		if (ent->type != REDIS_REPLY_ARRAY || ent->elements != 2 ||
		    ent->element[0]->type != REDIS_REPLY_STRING)
			return -EPROTO;
		e[n].id = ent->element[0]->str;
		e[n].idlen = ent->element[0]->len;
		e[n].kv = kv[n];
		e[n].n = 0;
		f = ent->element[1];
		/* An entry deleted from the stream but still pending comes with nil fields. */
		for (j = 0; f->type == REDIS_REPLY_ARRAY && j + 1 < f->elements && e[n].n < 16;
		     j += 2) {
			if (f->element[j]->type != REDIS_REPLY_STRING ||
			    f->element[j + 1]->type != REDIS_REPLY_STRING)
				continue;
			kv[n][e[n].n].key = f->element[j]->str;
			kv[n][e[n].n].klen = f->element[j]->len;
			kv[n][e[n].n].val = f->element[j + 1]->str;
			kv[n][e[n].n].vlen = f->element[j + 1]->len;
			e[n].n++;
		}
		n++;
	}
	return n;
}

static void entries_fail(struct op *op, int err)
{
	op->cb.entries(op->arg, err, NULL, 0);
}

/* XREADGROUP: [[stream, [[id, [f, v, ...]], ...]]], or nil when nothing came. */
static bool entries_reply(struct op *op, const redisReply *reply)
{
	struct store_entry e[STORE_ENTRIES_MAX];
	struct store_kv kv[STORE_ENTRIES_MAX][16];
	int n;

	if (reply->type == REDIS_REPLY_NIL) {
		op->cb.entries(op->arg, 0, NULL, 0);
		return true;
	}
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 1 ||
	    reply->element[0]->type != REDIS_REPLY_ARRAY || reply->element[0]->elements != 2) {
		entries_fail(op, -EPROTO);
		return true;
	}
	n = entries_parse(reply->element[0]->element[1], e, kv);
	if (n < 0)
		entries_fail(op, n);
	else
		op->cb.entries(op->arg, 0, e, (size_t)n);
	return true;
}

static const struct op_type entries_type = { entries_reply, entries_fail };

/* store_group_claim_from's caller. */
struct claim_op {
	store_claim_cb cb;
	void *arg;
};

static void claim_fail(struct op *op, int err)
{
	struct claim_op *c = op->data;

	c->cb(c->arg, err, NULL, 0, NULL);
}

/* XAUTOCLAIM: [next cursor, entries, deleted ids]. */
static bool claim_reply(struct op *op, const redisReply *reply)
{
	struct claim_op *c = op->data;
	struct store_entry e[STORE_ENTRIES_MAX];
	struct store_kv kv[STORE_ENTRIES_MAX][16];
	char cursor[48];
	int n;

	if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2 ||
	    reply->element[0]->type != REDIS_REPLY_STRING ||
	    reply->element[0]->len >= sizeof(cursor)) {
		claim_fail(op, -EPROTO);
		return true;
	}
	memcpy(cursor, reply->element[0]->str, reply->element[0]->len + 1);
	n = entries_parse(reply->element[1], e, kv);
	if (n < 0)
		claim_fail(op, n);
	else
		c->cb(c->arg, 0, e, (size_t)n, cursor);
	return true;
}

static const struct op_type claim_type = { claim_reply, claim_fail };

/* ---- the slot map's answer -------------------------------------------------------------- */

static void slots_fail(struct op *op, int err)
{
	struct store *st = op->st;

	(void)err;
	st->refreshing = false;
	if (st->closing)
		return;
	if (st->refresh_fails++ == 0)
		LOGP(LOGC_STORE, LOGL_WARN, "redis %s: CLUSTER SLOTS not answered by %s",
		     st->address, op->node ? op->node->address : "a node");
	/* The next node at once while there are untried ones, then after a while. */
	refresh_arm(st, st->refresh_fails < (st->map_ok ? st->map->nnodes : 0) + st->seeds.n ?
			0 : 500);
}

static bool slots_reply(struct op *op, const redisReply *r)
{
	struct store *st = op->st;
	int rc = cluster_map_from_slots(st->map, r, op->node->host);

	if (rc < 0) {
		LOGP(LOGC_STORE, LOGL_ERROR, "redis %s: %s answered CLUSTER SLOTS with no map we "
		     "can use (%s)", st->address, op->node->address, strerror(-rc));
		slots_fail(op, rc);
		return true;
	}
	if (st->refresh_fails || !st->map_ok)
		LOGP(LOGC_STORE, LOGL_NOTICE, "redis %s: slot map from %s: %u masters",
		     st->address, op->node->address, st->map->nnodes);
	st->refreshing = false;
	st->refresh_fails = 0;
	st->map_ok = true;
	refresh_arm(st, REFRESH_PERIOD_MS);
	store_became_up(st);
	return true;
}

static const struct op_type slots_type = { slots_reply, slots_fail };

static void noop_done(void *arg, int err)
{
	(void)arg;
	(void)err;
}

/* Sends CLUSTER SLOTS to n. Returns 0 (answered in slots_reply or slots_fail) or < 0. */
static int map_ask(struct store *st, struct node *n)
{
	const char *argv[] = { "CLUSTER", "SLOTS" };
	size_t lens[] = { 7, 5 };
	struct op *op = st->closing ? NULL : op_alloc(st, &slots_type, NULL);

	if (op == NULL)
		return -ENOMEM;
	op->cb.done = noop_done;
	op->node = n;
	op->pinned = true;
	return op_start(op, 2, argv, lens);
}

/* ---- writes that answer a result: reports, the CEIR queue ------------------------------ */

/* The steps of a result op. A report's SMS are indexed (MARK) before its transition writes
 * them into its outbox (SCRIPT); a new report's reference is mapped to its IMEI (MAP) before
 * the answer; with redis-replicas-ack, each write goes over its node's twin connection and
 * waits for a WAIT there (WAIT_MARK after MARK, WAIT after SCRIPT, WAIT_MAP after MAP), so
 * that what the user is told was accepted is on a replica too. */
enum result_step { R_MARK, R_WAIT_MARK, R_SCRIPT, R_WAIT, R_MAP, R_WAIT_MAP };

struct result_op {
	enum result_step step;
	char result[40];
	size_t len;
	bool changed;
	char report_key[ID_MAX + 8];	/* the script's routing key, once MARK is done */
	size_t report_keylen;
	char imei[16];		/* MAP: the value */
	char who[24];		/* relay: whose outbox (relay_outbox_key) */
	bool map, relay;
	long long mark;		/* relay: when the report was indexed (ms, wall clock) */
	bool counts_move;	/* a report script: a change is counted as a move to move_to */
	enum report_state move_to;
};

static void relay_start(struct store *st, const char *who, long long mark);

static void result_fail(struct op *op, int err)
{
	struct result_op *ro = op->data;

	op->cb.result(op->arg, err, NULL, 0, false);
	/* A transition that may have written SMS: the relay takes them, or takes the index
	 * entry off (the sweep would too, later). */
	if (ro->relay && ro->step >= R_SCRIPT && !op->st->closing)
		relay_start(op->st, ro->who, ro->mark);
}

static void result_answer(struct op *op)
{
	struct result_op *ro = op->data;

	op->cb.result(op->arg, 0, ro->result, ro->len, ro->changed);
	if (ro->relay && !op->st->closing)
		relay_start(op->st, ro->who, ro->mark);
}

/* ---- WAIT, shared by the writes of a twin connection ---------------------------------- */

/* Whether WAIT's reply counts enough replicas. */
static bool wait_enough(const struct store *st, const redisReply *r)
{
	return r->type == REDIS_REPLY_INTEGER && r->integer >= st->o.replicas_ack;
}

static bool wait_reply(struct op *w, const redisReply *r);
static void wait_fail(struct op *w, int err);
static const struct op_type wait_type = { wait_reply, wait_fail };

/* Sends the twin's next WAIT, for the ops in wait_next (and any that wrote before it). */
static int wait_send(struct node *n)
{
	struct store *st = n->st;
	char k[12], ms[24];
	const char *argv[] = { "WAIT", k, ms };
	size_t lens[] = { 4, (size_t)snprintf(k, sizeof(k), "%d", st->o.replicas_ack),
			  (size_t)snprintf(ms, sizeof(ms), "%d", st->o.replicas_timeout_ms) };
	struct op *w = op_alloc(st, &wait_type, n), *op;

	if (w == NULL)
		return -ENOMEM;
	w->node = n;
	w->pinned = true;
	if (op_start(w, 3, argv, lens) < 0)
		return -EAGAIN;
	n->wait = w;
	n->wait_covers = n->wseq;
	while ((op = TAILQ_FIRST(&n->wait_next)) != NULL) {
		TAILQ_REMOVE(&n->wait_next, op, link);
		TAILQ_INSERT_TAIL(&n->wait_cur, op, link);
	}
	return 0;
}

/* A durable op whose write Redis answered waits for a WAIT sent after that write on the
 * same connection: the one on the wire if it covers the write, else the next. Its reply
 * function then gets the WAIT's reply. Returns 0, or why it cannot wait (not answered). */
static int op_wait(struct op *op)
{
	struct node *n = op->node;

	op->waited = true;
	if (n->wait && n->wait_covers >= op->wseq) {
		TAILQ_INSERT_TAIL(&n->wait_cur, op, link);
		return 0;
	}
	TAILQ_INSERT_TAIL(&n->wait_next, op, link);
	if (n->wait == NULL && wait_send(n) < 0) {
		TAILQ_REMOVE(&n->wait_next, op, link);
		return -EAGAIN;
	}
	return 0;
}

/* Answers the ops of list l: with the WAIT's reply r, or failed with err when r is NULL.
 * Returns false when a caller freed the store meanwhile. */
static bool wait_answer(struct store *st, struct op_list *l, const redisReply *r, int err)
{
	bool gone = false, *outer = st->gone;
	struct op *op;

	st->gone = &gone;
	while ((op = TAILQ_FIRST(l)) != NULL) {
		bool done = true;

		TAILQ_REMOVE(l, op, link);
		if (r)
			done = op->type->reply(op, r);
		else
			op->type->fail(op, err);
		if (gone) {
			if (outer)
				*outer = true;
			return false;
		}
		if (done)
			talloc_free(op);
	}
	st->gone = outer;
	return true;
}

static bool wait_reply(struct op *w, const redisReply *r)
{
	struct node *n = w->arg;
	struct store *st = n->st;

	n->wait = NULL;
	if (!wait_enough(st, r)) {
		replicas_short(n);
		LOGP(LOGC_STORE, LOGL_WARN, "redis %s: %lld of %d replicas acknowledged the writes "
		     "of a WAIT within %d ms; they are answered \"try again\"", n->address,
		     r->type == REDIS_REPLY_INTEGER ? r->integer : -1LL, st->o.replicas_ack,
		     st->o.replicas_timeout_ms);
	}
	if (!wait_answer(st, &n->wait_cur, r, 0))
		return false;	/* w went with the store */
	if (!TAILQ_EMPTY(&n->wait_next) && wait_send(n) < 0 &&
	    !wait_answer(st, &n->wait_next, NULL, -EAGAIN))
		return false;
	return true;
}

/* The WAIT failed (its connection dropped or timed out): so do the writes it was for, and
 * those after them, whose connection it was. */
static void wait_fail(struct op *w, int err)
{
	struct node *n = w->arg;
	struct store *st = n->st;

	n->wait = NULL;
	if (wait_answer(st, &n->wait_cur, NULL, err))
		wait_answer(st, &n->wait_next, NULL, err);
}

static int result_wait(struct op *op, enum result_step step)
{
	((struct result_op *)op->data)->step = step;
	return op_wait(op);
}

/* After a write: WAIT for the replicas, or the next step. Returns true once answered. */
static bool result_written(struct op *op);

static bool result_next(struct op *op)
{
	struct result_op *ro = op->data;
	char key[ID_MAX + 8];
	const char *argv[3] = { "SET", key, ro->imei };
	size_t lens[3];

	if (ro->map && ro->step < R_MAP) {
		/* Every answer maps its reference, the open report's too: a retry repairs a
		 * mapping that a dropped connection left unwritten. */
		lens[0] = 3;
		lens[1] = (size_t)snprintf(key, sizeof(key), "ref:{%.*s}", (int)ro->len, ro->result);
		lens[2] = 15;
		memcpy(op->key, key, lens[1]);
		op->keylen = lens[1];
		ro->step = R_MAP;
		if (op_cmd(op, 3, argv, lens) == 0)
			return false;
		result_fail(op, -EAGAIN);
		return true;
	}
	result_answer(op);
	return true;
}

static bool result_written(struct op *op)
{
	struct result_op *ro = op->data;

	if (op->st->o.replicas_ack <= 0)
		return result_next(op);
	if (result_wait(op, ro->step == R_MAP ? R_WAIT_MAP : R_WAIT) == 0)
		return false;
	result_fail(op, -EAGAIN);
	return true;
}

static bool result_reply(struct op *op, const redisReply *r)
{
	struct result_op *ro = op->data;

	switch (ro->step) {
	case R_MARK:
		/* The index entry must outlive a failover as the SMS will: WAIT for it too. */
		if (op->st->o.replicas_ack > 0) {
			if (result_wait(op, R_WAIT_MARK) == 0)
				return false;
			result_fail(op, -EAGAIN);
			return true;
		}
		/* fall through */
	case R_WAIT_MARK:
		if (ro->step == R_WAIT_MARK && !wait_enough(op->st, r)) {
			result_fail(op, -EAGAIN);
			return true;
		}
		memcpy(op->key, ro->report_key, ro->report_keylen);
		op->keylen = ro->report_keylen;
		ro->step = R_SCRIPT;
		if (op_script(op, false) == 0)
			return false;
		result_fail(op, -EAGAIN);
		return true;
	case R_SCRIPT:
		if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 || r->elements > 3 ||
		    r->element[0]->type != REDIS_REPLY_STRING ||
		    r->element[1]->type != REDIS_REPLY_INTEGER ||
		    r->element[0]->len >= sizeof(ro->result) ||
		    (ro->map && r->element[0]->len == 0)) {
			result_fail(op, -EPROTO);
			return true;
		}
		ro->len = r->element[0]->len;
		memcpy(ro->result, r->element[0]->str, ro->len);
		ro->result[ro->len] = '\0';
		ro->changed = r->element[1]->integer != 0;
		/* A report's move, counted once Redis made it (a WAIT that falls short later
		 * does not undo it). */
		if (ro->changed && ro->counts_move && r->elements == 3 &&
		    r->element[2]->type == REDIS_REPLY_STRING)
			METRIC_INC2(report_transitions,
				    report_state_parse(r->element[2]->str, r->element[2]->len),
				    ro->move_to);
		return result_written(op);
	case R_MAP:
		return result_written(op);
	case R_WAIT:
	case R_WAIT_MAP:
		if (!wait_enough(op->st, r)) {
			result_fail(op, -EAGAIN);	/* logged by wait_reply */
			return true;
		}
		return result_next(op);
	}
	return true;
}

static const struct op_type result_type = { result_reply, result_fail };

static struct op *result_op_new(struct store *st, store_result_cb cb, void *arg)
{
	struct op *op = op_new(st, &result_type, arg);

	if (op == NULL)
		return NULL;
	op->data = talloc_zero(op, struct result_op);
	if (op->data == NULL) {
		talloc_free(op);
		return NULL;
	}
	op->cb.result = cb;
	op->durable = st->o.replicas_ack > 0;
	((struct result_op *)op->data)->step = R_SCRIPT;
	return op;
}

/* A write answered done once the replicas have it too (redis-replicas-ack): the write,
 * then WAIT on the same connection; without redis-replicas-ack, once Redis has it. */
static bool acked_reply(struct op *op, const redisReply *r)
{
	struct store *st = op->st;

	if (!op->waited && st->o.replicas_ack > 0) {
		if (op_wait(op) == 0)
			return false;
		op->cb.done(op->arg, -EAGAIN);
		return true;
	}
	if (op->waited && !wait_enough(st, r)) {
		op->cb.done(op->arg, -EAGAIN);
		return true;
	}
	op->cb.done(op->arg, 0);
	return true;
}

static const struct op_type acked_type = { acked_reply, done_fail };

/* ---- the relay: a report's outbox to the outbox stream --------------------------------- */

/* One relay of one outbox: a report's (rep:{imei}:out) or an owner's line's, for its
 * one-time codes (otp:{+line}:out, issue 18). Each SMS is added to its stream once
 * (store_ceir_enqueue, by an id made of whose outbox it is and the SMS's field), then taken
 * out of the outbox; when all went, the IMEI (or the line) leaves the index, unless a
 * transition indexed it again since mark. Anything that fails stays for the sweep
 * (store_relay_sweep). */
struct relay {
	struct store *st;
	char imei[24];		/* whose outbox: an IMEI, or a line (+E.164) */
	long long mark;
	unsigned left;
	bool failed;
};

struct relay_sms {
	struct relay *rl;
	char field[48];
	size_t flen;
};

/* Whose outbox an index entry names: 15 digits (a report's IMEI) or a '+' and 8 to 15
 * digits (an owner's line). */
static bool relay_who_valid(const char *s, size_t len)
{
	size_t i = 0;

	if (len == 15)
		;
	else if (len >= 9 && len <= 16 && s[0] == '+')
		i = 1;
	else
		return false;
	for (; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* The outbox key of who: "rep:{<imei>}:out" or "otp:{+<line>}:out". */
static size_t relay_outbox_key(const char *who, char *out, size_t outsz)
{
	int n = snprintf(out, outsz, "%s:{%s}:out", who[0] == '+' ? "otp" : "rep", who);

	return n < 0 ? 0 : (size_t)n;
}

static void relay_finish(struct relay *rl)
{
	struct store *st = rl->st;
	struct op *op;
	char mark[24];
	const char *argv[] = { "1", RELAY_INDEX, rl->imei, mark };
	size_t lens[] = { 1, strlen(RELAY_INDEX), strlen(rl->imei),
			  (size_t)snprintf(mark, sizeof(mark), "%lld", rl->mark) };

	if (!rl->failed && (op = op_new(st, &done_type, NULL)) != NULL) {
		op->cb.done = noop_done;
		memcpy(op->key, RELAY_INDEX, lens[1]);
		op->keylen = lens[1];
		op_start_script(op, &relay_done_script, 4, argv, lens);
	}
	talloc_free(rl);
}

static void relay_deleted(void *arg, int err)
{
	struct relay_sms *rs = arg;
	struct relay *rl = rs->rl;

	if (err < 0)
		rl->failed = true;
	talloc_free(rs);
	if (--rl->left == 0)
		relay_finish(rl);
}

static void relay_queued(void *arg, int err, const char *id, size_t len, bool changed)
{
	struct relay_sms *rs = arg;
	struct relay *rl = rs->rl;
	struct store *st = rl->st;
	struct op *op;
	const char *argv[3] = { "HDEL", NULL, rs->field };
	size_t lens[3] = { 4, 0, rs->flen };

	(void)id;
	(void)len;
	(void)changed;
	if (err < 0 || st->closing || (op = op_new(st, &acked_type, rs)) == NULL) {
		relay_deleted(rs, err < 0 ? err : -EAGAIN);
		return;
	}
	op->cb.done = relay_deleted;
	op->durable = st->o.replicas_ack > 0;
	op->keylen = relay_outbox_key(rl->imei, op->key, sizeof(op->key));
	argv[1] = op->key;
	lens[1] = op->keylen;
	if (op_start(op, 3, argv, lens) < 0)
		relay_deleted(rs, -EAGAIN);
}

/* One SMS of the outbox: field "<ref>:<n>", value "<stream>\n<to>\n<text>". */
static void relay_one(struct relay *rl, const redisReply *f, const redisReply *v)
{
	const char *nl1, *nl2, *end;
	struct relay_sms *rs;
	char stream[ID_MAX + 1], rid[80];
	struct store_kv kv[2];
	int rc;

	if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING || f->len == 0 ||
	    f->len >= sizeof(rs->field))
		goto bad;
	end = v->str + v->len;
	nl1 = memchr(v->str, '\n', v->len);
	nl2 = nl1 ? memchr(nl1 + 1, '\n', (size_t)(end - nl1 - 1)) : NULL;
	if (nl2 == NULL || nl1 == v->str || (size_t)(nl1 - v->str) > ID_MAX || nl2 == nl1 + 1)
		goto bad;
	rs = talloc_zero(rl, struct relay_sms);
	if (rs == NULL) {
		rl->failed = true;
		return;
	}
	rs->rl = rl;
	memcpy(rs->field, f->str, f->len);
	rs->flen = f->len;
	snprintf(stream, sizeof(stream), "%.*s", (int)(nl1 - v->str), v->str);
	rl->left++;
	if (strcmp(stream, FEED_MARK) == 0) {
		/* The country's feed log: appended once, by an id of the entry's own. */
		snprintf(rid, sizeof(rid), "%s:%.*s", rl->imei, (int)f->len, f->str);
		rc = store_feed_append(rl->st, rid, nl2 + 1, (size_t)(end - nl2 - 1),
				       relay_queued, rs);
	} else {
		snprintf(rid, sizeof(rid), "sms:%s:%.*s", rl->imei, (int)f->len, f->str);
		kv[0] = (struct store_kv){ "to", 2, nl1 + 1, (size_t)(nl2 - nl1 - 1) };
		kv[1] = (struct store_kv){ "text", 4, nl2 + 1, (size_t)(end - nl2 - 1) };
		rc = store_ceir_enqueue(rl->st, stream, rid, RELAY_REMEMBER_S, kv, 2,
					relay_queued, rs);
	}
	if (rc < 0) {
		rl->failed = true;
		rl->left--;
		talloc_free(rs);
	}
	return;
bad:
	/* Eight characters: an IMEI's TAC, a line's country and operator (never the number). */
	LOGP(LOGC_STORE, LOGL_ERROR, "redis %s: the outbox of %.8s... holds an SMS that does not "
	     "read; left there", rl->st->address, rl->imei);
	rl->failed = true;
}

static void relay_read_fail(struct op *op, int err)
{
	(void)err;
	talloc_free(op->data);	/* the relay: the sweep comes back to it */
}

static bool relay_read_reply(struct op *op, const redisReply *r)
{
	struct relay *rl = op->data;

	if (r->type != REDIS_REPLY_ARRAY) {
		relay_read_fail(op, -EPROTO);
		return true;
	}
	talloc_steal(rl->st, rl);	/* outlives this op */
	rl->left = 1;			/* held until every SMS is sent on */
	for (size_t i = 0; i + 1 < r->elements && i < 2 * 64; i += 2)
		relay_one(rl, r->element[i], r->element[i + 1]);
	if (--rl->left == 0)
		relay_finish(rl);
	return true;
}

static const struct op_type relay_read_type = { relay_read_reply, relay_read_fail };

static void relay_start(struct store *st, const char *imei, long long mark)
{
	struct op *op;
	struct relay *rl;
	const char *argv[2] = { "HGETALL", NULL };
	size_t lens[2] = { 7, 0 };

	if (!relay_who_valid(imei, strlen(imei)))
		return;
	op = op_new(st, &relay_read_type, NULL);
	if (op == NULL)
		return;		/* the sweep relays it */
	rl = talloc_zero(op, struct relay);
	if (rl == NULL) {
		talloc_free(op);
		return;
	}
	rl->st = st;
	snprintf(rl->imei, sizeof(rl->imei), "%s", imei);
	rl->mark = mark;
	op->data = rl;
	op->keylen = relay_outbox_key(imei, op->key, sizeof(op->key));
	argv[1] = op->key;
	lens[1] = op->keylen;
	op_start(op, 2, argv, lens);
}

/* The sweep's read of the index. */
struct relay_sweep {
	store_count_cb cb;
	void *arg;
	long long cutoff;
};

static void sweep_fail(struct op *op, int err)
{
	struct relay_sweep *sw = op->data;

	sw->cb(sw->arg, err, 0);
}

static bool sweep_reply(struct op *op, const redisReply *r)
{
	struct relay_sweep *sw = op->data;
	long long n = 0;

	if (r->type != REDIS_REPLY_ARRAY) {
		sweep_fail(op, -EPROTO);
		return true;
	}
	for (size_t i = 0; i < r->elements; i++) {
		const redisReply *e = r->element[i];
		char imei[24];

		if (e->type != REDIS_REPLY_STRING || !relay_who_valid(e->str, e->len))
			continue;
		memcpy(imei, e->str, e->len);
		imei[e->len] = '\0';
		relay_start(op->st, imei, sw->cutoff);
		n++;
	}
	sw->cb(sw->arg, 0, n);
	return true;
}

static const struct op_type sweep_type = { sweep_reply, sweep_fail };

int store_relay_sweep(struct store *st, unsigned idle_s, unsigned max, store_count_cb cb,
		      void *arg)
{
	struct op *op = op_new(st, &sweep_type, NULL);
	struct relay_sweep *sw;
	char cut[24], count[12];
	const char *argv[] = { "ZRANGEBYSCORE", RELAY_INDEX, "-inf", cut, "LIMIT", "0", count };
	size_t lens[7] = { 13, strlen(RELAY_INDEX), 4, 0, 5, 1, 0 };

	if (op == NULL)
		return op_new_err(st);
	sw = talloc_zero(op, struct relay_sweep);
	if (sw == NULL || max == 0) {
		talloc_free(op);
		return sw ? -EINVAL : -ENOMEM;
	}
	sw->cb = cb;
	sw->arg = arg;
	sw->cutoff = clock_wall_ms() - (long long)idle_s * 1000;
	op->data = sw;
	memcpy(op->key, RELAY_INDEX, lens[1]);
	op->keylen = lens[1];
	lens[3] = (size_t)snprintf(cut, sizeof(cut), "%lld", sw->cutoff);
	lens[6] = (size_t)snprintf(count, sizeof(count), "%u", max);
	return op_start(op, 7, argv, lens);
}

/* ---- the store ------------------------------------------------------------------------- */

static int store_destructor(struct store *st)
{
	struct op *op;

	st->closing = true;
	if (st->gone)
		*st->gone = true;
	if (st->refresh)
		event_free(st->refresh);
	st->refresh = NULL;
	for (unsigned i = 0; i < st->nnodes; i++) {
		struct node *n = st->nodes[i];

		node_close(n);
		/* And those a timeout's drop() had not answered yet when its caller freed the
		 * store. */
		while ((op = TAILQ_FIRST(&n->flight)) != NULL) {
			TAILQ_REMOVE(&n->flight, op, link);
			op->type->fail(op, -ECANCELED);
		}
	}
	while ((op = TAILQ_FIRST(&st->parked)) != NULL) {
		TAILQ_REMOVE(&st->parked, op, link);
		op->type->fail(op, -ECANCELED);
	}
	return 0;
}

static void script_sha(struct script *s)
{
	unsigned char md[SHA_DIGEST_LENGTH];
	size_t i;

	if (s->sha[0])
		return;
	SHA1((const unsigned char *)s->body, strlen(s->body), md);
	for (i = 0; i < SHA_DIGEST_LENGTH; i++)
		snprintf(s->sha + 2 * i, 3, "%02x", md[i]);
}

static struct store *store_new(void *ctx, struct event_base *base, const struct store_options *o)
{
	struct store *st = talloc_zero(ctx, struct store);

	if (st == NULL)
		return NULL;
	st->base = base;
	st->o = *o;
	if (st->o.timeout_ms <= 0)
		st->o.timeout_ms = TIMEOUT_DEFAULT_MS;
	if (st->o.replicas_ack > 0 && st->o.replicas_timeout_ms <= 0)
		st->o.replicas_timeout_ms = st->o.timeout_ms / 2;
	TAILQ_INIT(&st->parked);
	script_sha(&report_create_script);
	script_sha(&report_transition_script);
	script_sha(&report_new_pin_script);
	script_sha(&relay_done_script);
	script_sha(&enqueue_script);
	script_sha(&report_due_script);
	script_sha(&limit_script);
	script_sha(&stream_stat_script);
	script_sha(&verify_script);
	script_sha(&otp_issue_script);
	script_sha(&otp_verify_script);
	script_sha(&feed_append_script);
	script_sha(&feed_checkpoint_script);
	script_sha(&feed_unlock_script);
	script_sha(&foreign_commit_script);
	script_sha(&peer_save_script);
	script_sha(&lock_renew_script);
	talloc_set_destructor(st, store_destructor);
	return st;
}

struct store *store_create(void *ctx, struct event_base *base, const struct redis_url *url,
			   const struct store_options *o)
{
	struct store *st = store_new(ctx, base, o);
	struct node *n;

	if (st == NULL)
		return NULL;
	st->url = *url;
	if (url->kind == REDIS_URL_UNIX)
		snprintf(st->address, sizeof(st->address), "unix:%s", url->path);
	else if (strchr(url->host, ':'))
		snprintf(st->address, sizeof(st->address), "[%s]:%d", url->host, url->port);
	else
		snprintf(st->address, sizeof(st->address), "%s:%d", url->host, url->port);
	n = node_new(st, "", 0);
	if (n == NULL) {
		talloc_free(st);
		return NULL;
	}
	node_connect(n);
	return st;
}

struct store *store_create_cluster(void *ctx, struct event_base *base,
				   const struct redis_seeds *seeds, const struct store_options *o)
{
	struct store *st;

	if (seeds->n == 0)
		return NULL;
	st = store_new(ctx, base, o);
	if (st == NULL)
		return NULL;
	st->cluster = true;
	st->seeds = *seeds;
	/* The credentials every node is reached with: the seeds share them. */
	memcpy(st->url.user, seeds->seed[0].user, sizeof(st->url.user));
	memcpy(st->url.password, seeds->seed[0].password, sizeof(st->url.password));
	snprintf(st->address, sizeof(st->address),
		 strchr(seeds->seed[0].host, ':') ? "cluster [%s]:%d" : "cluster %s:%d",
		 seeds->seed[0].host, seeds->seed[0].port);
	st->map = talloc_zero(st, struct cluster_map);
	st->refresh = evtimer_new(base, refresh_cb, st);
	if (st->map == NULL || st->refresh == NULL) {
		talloc_free(st);
		return NULL;
	}
	cluster_map_init(st->map);
	map_refresh(st);
	return st;
}

bool store_is_up(const struct store *st)
{
	return usable(st);
}

const char *store_address(const struct store *st)
{
	return st->address;
}

size_t store_pending(const struct store *st)
{
	size_t n = 0;

	for (unsigned i = 0; i < st->nnodes; i++)
		n += st->nodes[i]->pending;
	return n;
}

/* HGET of a bucketed field: the operators' data. */
static int field_op(struct op *op, void (*make)(uint64_t, int, char *, size_t *, uint8_t *,
						 size_t *), uint64_t v)
{
	uint8_t field[PAIRS_FIELD_MAX];
	const char *argv[3];
	size_t lens[3], fl;

	make(v, op->st->o.bucket_digits, op->key, &op->keylen, field, &fl);
	argv[0] = "HGET";
	lens[0] = 4;
	argv[1] = op->key;
	lens[1] = op->keylen;
	argv[2] = (const char *)field;
	lens[2] = fl;
	return op_start(op, 3, argv, lens);
}

static void keepalive_done(void *arg, int err)
{
	(void)arg;
	(void)err;
}

/* The PING watch_cb sends on an idle connection: an op like any other, timed like any, on
 * that node. */
static int keepalive(struct node *n)
{
	const char *argv[] = { "PING" };
	size_t lens[] = { 4 };
	struct op *op;

	if (n->st->closing || (op = op_alloc(n->st, &ping_type, NULL)) == NULL)
		return -ENOMEM;
	op->cb.done = keepalive_done;
	op->node = n;
	op->pinned = true;
	return op_start(op, 1, argv, lens);
}

int store_ping(struct store *st, store_done_cb cb, void *arg)
{
	struct op *op = op_new(st, &ping_type, arg);
	const char *argv[] = { "PING" };
	size_t lens[] = { 4 };

	if (op == NULL)
		return op_new_err(st);
	op->cb.done = cb;
	return op_start(op, 1, argv, lens);
}

int store_imei_pairings(struct store *st, uint64_t imei_body, store_pairings_cb cb, void *arg)
{
	struct op *op = op_new(st, &pairings_type, arg);

	if (op == NULL)
		return op_new_err(st);
	op->cb.pairings = cb;
	return field_op(op, pairs_imei_key, imei_body);
}

int store_msisdn_handsets(struct store *st, uint64_t msisdn, store_handsets_cb cb, void *arg)
{
	struct op *op = op_new(st, &handsets_type, arg);

	if (op == NULL)
		return op_new_err(st);
	op->cb.handsets = cb;
	return field_op(op, pairs_msisdn_key, msisdn);
}

int store_kyc_get(struct store *st, uint64_t msisdn, store_kyc_cb cb, void *arg)
{
	struct op *op = op_new(st, &kyc_type, arg);

	if (op == NULL)
		return op_new_err(st);
	op->cb.kyc = cb;
	return field_op(op, pairs_kyc_key, msisdn);
}

/* "s:{id}": the hash tag keeps a session's keys on one slot. Returns 0 or -EINVAL. */
static int make_key(struct op *op, const char *prefix, const char *id, size_t idlen)
{
	size_t pl = strlen(prefix);

	if (idlen == 0 || idlen > ID_MAX)
		return -EINVAL;
	memcpy(op->key, prefix, pl);
	op->key[pl] = '{';
	memcpy(op->key + pl + 1, id, idlen);
	op->key[pl + 1 + idlen] = '}';
	op->keylen = pl + 2 + idlen;
	return 0;
}

/* Routes the op by a whole key (a stream, an index). Frees the op on -EINVAL. */
static int stream_key(struct op *op, const char *key)
{
	size_t len = strlen(key);

	if (len == 0 || len >= sizeof(op->key)) {
		talloc_free(op);
		return -EINVAL;
	}
	memcpy(op->key, key, len + 1);
	op->keylen = len;
	return 0;
}

static int keyed_op(struct store *st, const struct op_type *kind, const char *prefix, const char *id,
		    size_t idlen, void *arg, struct op **out)
{
	struct op *op = op_new(st, kind, arg);

	if (op == NULL)
		return op_new_err(st);
	if (make_key(op, prefix, id, idlen) < 0) {
		talloc_free(op);
		return -EINVAL;
	}
	*out = op;
	return 0;
}

/* "s:{u:<session id>:<msisdn without +>}", "s:{lang:<msisdn>}": a record and nothing else
 * under its hash tag; "s:{lang:<msisdn>}:resume" shares the language's, so that a dial reads
 * both in one command (store_number_get), and an MO's record shares its slot record's
 * ("s:{lang:<msisdn>}:mo:<id>", "s:{u:<sid>:<msisdn>}:mo:<id>", store_records_get), or
 * without one is "s:{mo:<id>}". The key goes to key[0..*keylen) (size at least ID_MAX + 8,
 * that of struct op's). Returns 0 or -EINVAL. */
static int rec_key_in(const struct store_rec_id *rid, char *key, size_t *keylen)
{
	char id[ID_MAX + 1];
	const char *suffix = NULL;
	char sfx[48];
	size_t sl;
	int n;

	if (rid == NULL || rid->id == NULL || rid->idlen == 0 || rid->idlen > ID_MAX ||
	    memchr(rid->id, '\0', rid->idlen))
		return -EINVAL;
	switch (rid->kind) {
	case STORE_REC_USSD:
		if (rid->msisdn == NULL || rid->msisdn[0] == '\0')
			return -EINVAL;
		n = snprintf(id, sizeof(id), "u:%.*s:%s", (int)rid->idlen, rid->id,
			     rid->msisdn + (rid->msisdn[0] == '+'));
		break;
	case STORE_REC_LANG:
		n = snprintf(id, sizeof(id), "lang:%.*s", (int)rid->idlen, rid->id);
		break;
	case STORE_REC_RESUME:
		n = snprintf(id, sizeof(id), "lang:%.*s", (int)rid->idlen, rid->id);
		suffix = ":resume";
		break;
	case STORE_REC_MO:
		if (rid->slot == NULL) {
			n = snprintf(id, sizeof(id), "mo:%.*s", (int)rid->idlen, rid->id);
			break;
		}
		if ((rid->slot->kind != STORE_REC_LANG && rid->slot->kind != STORE_REC_USSD) ||
		    rid->idlen > sizeof(sfx) - 5)
			return -EINVAL;
		snprintf(sfx, sizeof(sfx), ":mo:%.*s", (int)rid->idlen, rid->id);
		if (rec_key_in(rid->slot, key, keylen) < 0)
			return -EINVAL;
		suffix = sfx;
		goto add_suffix;
	default:
		return -EINVAL;
	}
	if (n < 0 || (size_t)n >= sizeof(id) || n > ID_MAX)
		return -EINVAL;
	/* make_key's "s:{<id>}" */
	memcpy(key, "s:{", 3);
	memcpy(key + 3, id, (size_t)n);
	key[3 + n] = '}';
	*keylen = (size_t)n + 4;
add_suffix:
	if (suffix) {
		sl = strlen(suffix);
		if (*keylen + sl + 1 > ID_MAX + 8)
			return -EINVAL;
		memcpy(key + *keylen, suffix, sl + 1);
		*keylen += sl;
	}
	return 0;
}

static int rec_key(struct op *op, const struct store_rec_id *rid)
{
	return rec_key_in(rid, op->key, &op->keylen);
}

static int rec_op(struct store *st, const struct op_type *type, const struct store_rec_id *rid,
		  void *arg, struct op **out)
{
	struct op *op = op_new(st, type, arg);

	if (op == NULL)
		return op_new_err(st);
	if (rec_key(op, rid) < 0) {
		talloc_free(op);
		return -EINVAL;
	}
	*out = op;
	return 0;
}

int store_session_set(struct store *st, const struct store_rec_id *rid, const void *data,
		      size_t len, unsigned ttl_s, store_done_cb cb, void *arg)
{
	struct op *op;
	int rc = rec_op(st, &done_type, rid, arg, &op);
	char ttl[16];
	const char *argv[5];
	size_t lens[5];

	if (rc < 0)
		return rc;
	if (ttl_s == 0) {
		talloc_free(op);
		return -EINVAL;
	}
	op->cb.done = cb;
	argv[0] = "SET";
	lens[0] = 3;
	argv[1] = op->key;
	lens[1] = op->keylen;
	argv[2] = data;
	lens[2] = len;
	argv[3] = "EX";
	lens[3] = 2;
	lens[4] = (size_t)snprintf(ttl, sizeof(ttl), "%u", ttl_s);
	argv[4] = ttl;
	return op_start(op, 5, argv, lens);
}

/* Sends "CMD key" for an op made by keyed_op or rec_op. */
static int key_command(struct op *op, const char *cmd)
{
	const char *argv[2] = { cmd, op->key };
	size_t lens[2] = { strlen(cmd), op->keylen };

	return op_start(op, 2, argv, lens);
}

int store_session_get(struct store *st, const struct store_rec_id *rid, store_data_cb cb,
		      void *arg)
{
	struct op *op;
	int rc = rec_op(st, &get_type, rid, arg, &op);

	if (rc < 0)
		return rc;
	op->cb.data = cb;
	return key_command(op, "GET");
}

int store_session_del(struct store *st, const struct store_rec_id *rid, store_done_cb cb,
		      void *arg)
{
	struct op *op;
	int rc = rec_op(st, &done_type, rid, arg, &op);

	if (rc < 0)
		return rc;
	op->cb.done = cb;
	return key_command(op, "DEL");
}

int store_number_get(struct store *st, const char *number, size_t len, store_number_cb cb,
		     void *arg)
{
	struct store_rec_id rid = { STORE_REC_RESUME, number, len, NULL, NULL };
	struct op *op;
	int rc = rec_op(st, &number_type, &rid, arg, &op);
	const char *argv[3];
	size_t lens[3];

	if (rc < 0)
		return rc;
	op->cb.number = cb;
	argv[0] = "MGET";
	lens[0] = 4;
	/* the language's key is the resume record's without its ":resume" */
	argv[1] = op->key;
	lens[1] = op->keylen - (sizeof(":resume") - 1);
	argv[2] = op->key;
	lens[2] = op->keylen;
	return op_start(op, 3, argv, lens);
}

int store_records_get(struct store *st, const struct store_rec_id *rids, size_t n,
		      store_records_cb cb, void *arg)
{
	char keys[STORE_RECORDS_MAX][ID_MAX + 8];
	const char *argv[STORE_RECORDS_MAX + 1];
	size_t lens[STORE_RECORDS_MAX + 1];
	unsigned slot = 0;
	struct op *op;
	int rc;

	if (rids == NULL || n == 0 || n > STORE_RECORDS_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (rec_key_in(&rids[i], keys[i], &lens[i + 1]) < 0)
			return -EINVAL;
		argv[i + 1] = keys[i];
		/* A Cluster refuses an MGET across slots (CROSSSLOT); a single Redis would take
		 * it, and the same code must run on both. */
		if (i == 0)
			slot = cluster_keyslot(keys[0], lens[1]);
		else if (cluster_keyslot(keys[i], lens[i + 1]) != slot)
			return -EINVAL;
	}
	rc = rec_op(st, &records_type, &rids[0], arg, &op);
	if (rc < 0)
		return rc;
	op->cb.records = cb;
	argv[0] = "MGET";
	lens[0] = 4;
	return op_start(op, (int)n + 1, argv, lens);
}

/* ---- reports and the CEIR queue ------------------------------------------------------ */

#define FIELDS_MAX 32

/* "rep:{356938035643809}" and its list of past references. Returns 0 or -EINVAL. */
static int report_keys(const char *imei, char *key, size_t *keylen, char *past,
		       size_t *pastlen)
{
	size_t i;

	for (i = 0; i < 15; i++) {
		if (imei[i] < '0' || imei[i] > '9')
			return -EINVAL;
	}
	if (imei[15] != '\0')
		return -EINVAL;
	*keylen = (size_t)snprintf(key, ID_MAX + 8, "rep:{%s}", imei);
	if (past)
		*pastlen = (size_t)snprintf(past, ID_MAX + 8, "rep:{%s}:past", imei);
	return 0;
}

/* Appends the field/value pairs to argv. Returns the new argc, or -EINVAL. */
static int add_fields(const char **argv, size_t *lens, int argc, const struct store_kv *kv,
		      size_t n)
{
	size_t i;

	if (n > FIELDS_MAX)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		argv[argc] = kv[i].key;
		lens[argc++] = kv[i].klen;
		argv[argc] = kv[i].val;
		lens[argc++] = kv[i].vlen;
	}
	return argc;
}

/* Adds the IMEI to the index of reported IMEIs (rix:{NNN}, sight_keys.h) that the import
 * reads to find sightings (issue 22). Its own command, sent before the report's script: the
 * index and the report lie in two slots, which no script may join on a cluster. So the index
 * is a superset, never a subset: an IMEI is in it before its report opens, and stays after
 * the report closes (the import's sighting script reads the report's state, and a closed one
 * adds nothing). One lost SADD (Redis refused it) is what `ceirgwctl report reindex` mends. */
static void sight_index_add(struct store *st, const char *imei)
{
	struct op *op = op_new(st, &done_type, NULL);
	char key[SIGHT_INDEX_MAX];
	const char *argv[3] = { "SADD", key, imei };
	size_t lens[3] = { 4, 0, 15 };

	if (op == NULL)
		return;
	op->cb.done = noop_done;
	lens[1] = (size_t)snprintf(key, sizeof(key), SIGHT_INDEX_FMT, sight_shard(imei));
	memcpy(op->key, key, lens[1]);
	op->keylen = lens[1];
	op_start(op, 3, argv, lens);
}

int store_report_create(struct store *st, const char *imei, const char *ref,
			const struct store_kv *fields, size_t n, store_result_cb cb, void *arg)
{
	const char *argv[6 + 2 * FIELDS_MAX];
	size_t lens[6 + 2 * FIELDS_MAX], pastlen;
	char past[ID_MAX + 8], closed[REPORT_SET_MAX];
	struct result_op *ro;
	struct op *op;
	int argc, nc;

	op = result_op_new(st, cb, arg);
	if (op == NULL)
		return op_new_err(st);
	ro = op->data;
	if (report_keys(imei, op->key, &op->keylen, past, &pastlen) < 0 || ref == NULL ||
	    *ref == '\0' || strlen(ref) > 32) {
		talloc_free(op);
		return -EINVAL;
	}
	memcpy(ro->imei, imei, 16);
	sight_index_add(st, imei);
	ro->map = true;
	ro->counts_move = true;
	ro->move_to = report_event_to(REPORT_EV_OPEN);
	argv[0] = "2";
	lens[0] = 1;
	argv[1] = op->key;
	lens[1] = op->keylen;
	argv[2] = past;
	lens[2] = pastlen;
	argv[3] = ref;
	lens[3] = strlen(ref);
	/* The states a report may be opened over: no report, or a closed one. */
	nc = report_states_format(report_event_from(REPORT_EV_OPEN), closed, sizeof(closed));
	if (nc < 0) {
		talloc_free(op);
		return nc;
	}
	argv[4] = closed;
	lens[4] = (size_t)nc;
	argv[5] = report_state_name(report_event_to(REPORT_EV_OPEN));
	lens[5] = strlen(argv[5]);
	argc = add_fields(argv, lens, 6, fields, n);
	if (argc < 0) {
		talloc_free(op);
		return -EINVAL;
	}
	return op_start_script(op, &report_create_script, argc, argv, lens);
}

static int start_relayed(struct op *op, const struct script *sc, const char *imei, int argc,
			 const char **argv, const size_t *lens);

/* One item of a report's outbox: an SMS to its stream, or an entry of the feed log. */
static bool out_item_ok(const char *stream, const char *to, const char *text, size_t len)
{
	return stream != NULL && *stream != '\0' && strlen(stream) <= ID_MAX &&
	       strchr(stream, '\n') == NULL && to != NULL && *to != '\0' &&
	       strchr(to, '\n') == NULL && text != NULL && len > 0;
}

static int report_transition(struct store *st, const char *imei, enum report_event ev,
			     unsigned idle_s, const struct store_kv *fields, size_t n,
			     const struct store_out *out, store_result_cb cb, void *arg)
{
	const char *argv[8 + 3 * (STORE_SMS_MAX + 1) + 2 * FIELDS_MAX];
	size_t lens[8 + 3 * (STORE_SMS_MAX + 1) + 2 * FIELDS_MAX];
	char idle[12], count[4], outkey[ID_MAX + 8], from[REPORT_SET_MAX];
	const char *to = report_state_name(report_event_to(ev));
	size_t nsms = out ? out->nsms : 0, nitems;
	struct op *op;
	int argc = 0, nfrom;

	/* Only a move of the event table is written; OPEN is store_report_create's. */
	if ((unsigned)ev >= REPORT_EVENT_COUNT || ev == REPORT_EV_OPEN)
		return -EINVAL;
	nfrom = report_states_format(report_event_from(ev), from, sizeof(from));
	if (nfrom <= 0)
		return -EINVAL;
	nitems = nsms + (out && out->feed ? 1 : 0);
	op = result_op_new(st, cb, arg);
	if (op == NULL)
		return op_new_err(st);
	((struct result_op *)op->data)->counts_move = true;
	((struct result_op *)op->data)->move_to = report_event_to(ev);
	if (report_keys(imei, op->key, &op->keylen, NULL, NULL) < 0 || nsms > STORE_SMS_MAX ||
	    (out && out->feed && (out->feedlen == 0 || out->feedlen > FEED_ENTRY_MAX ||
				  memchr(out->feed, '\n', out->feedlen)))) {
		talloc_free(op);
		return -EINVAL;
	}
	argv[argc] = "2";	/* the keys: the report, and its outbox */
	lens[argc++] = 1;
	argv[argc] = op->key;
	lens[argc++] = op->keylen;
	lens[argc] = (size_t)snprintf(outkey, sizeof(outkey), "%.*s:out", (int)op->keylen,
				      op->key);
	argv[argc++] = outkey;
	argv[argc] = from;
	lens[argc++] = (size_t)nfrom;
	argv[argc] = to;
	lens[argc++] = strlen(to);
	lens[argc] = (size_t)snprintf(idle, sizeof(idle), "%u", idle_s);
	argv[argc++] = idle;
	lens[argc] = (size_t)snprintf(count, sizeof(count), "%zu", nitems);
	argv[argc++] = count;
	for (size_t i = 0; i < nsms; i++) {
		if (!out_item_ok(out->stream, out->sms[i].to, out->sms[i].text, out->sms[i].len)) {
			talloc_free(op);
			return -EINVAL;
		}
		argv[argc] = out->stream;
		lens[argc++] = strlen(out->stream);
		argv[argc] = out->sms[i].to;
		lens[argc++] = strlen(out->sms[i].to);
		argv[argc] = out->sms[i].text;
		lens[argc++] = out->sms[i].len;
	}
	if (out && out->feed) {
		argv[argc] = FEED_MARK;
		lens[argc++] = strlen(FEED_MARK);
		argv[argc] = "-";
		lens[argc++] = 1;
		argv[argc] = out->feed;
		lens[argc++] = out->feedlen;
	}
	argc = add_fields(argv, lens, argc, fields, n);
	if (argc < 0) {
		talloc_free(op);
		return -EINVAL;
	}
	if (nitems == 0)
		return op_start_script(op, &report_transition_script, argc, argv, lens);
	return start_relayed(op, &report_transition_script, imei, argc, argv, lens);
}

/* Starts a report script (op's key is the report's) that writes SMS into the report's outbox:
 * the report is indexed for the relay first (R_MARK), then the script; the store relays the
 * SMS once the script answered (result_answer). */
static int start_relayed(struct op *op, const struct script *sc, const char *imei, int argc,
			 const char **argv, const size_t *lens)
{
	struct result_op *ro = op->data;
	char mark[24];
	int rc;

	rc = op_keep_script(op, sc, argc, argv, lens);
	if (rc < 0) {
		talloc_free(op);
		return rc;
	}
	memcpy(ro->report_key, op->key, op->keylen);
	ro->report_keylen = op->keylen;
	memcpy(ro->who, imei, 16);
	ro->relay = true;
	ro->mark = clock_wall_ms();
	ro->step = R_MARK;
	memcpy(op->key, RELAY_INDEX, strlen(RELAY_INDEX));
	op->keylen = strlen(RELAY_INDEX);
	{
		const char *zadd[] = { "ZADD", RELAY_INDEX, mark, imei };
		size_t zl[] = { 4, op->keylen, (size_t)snprintf(mark, sizeof(mark), "%lld", ro->mark),
				15 };

		return op_start(op, 4, zadd, zl);
	}
}

int store_report_transition(struct store *st, const char *imei, enum report_event ev,
			    const struct store_kv *fields, size_t n, store_result_cb cb,
			    void *arg)
{
	return report_transition(st, imei, ev, 0, fields, n, NULL, cb, arg);
}

int store_report_transition_sms(struct store *st, const char *imei, enum report_event ev,
				const struct store_kv *fields, size_t n,
				const char *stream, const struct store_sms *sms, size_t nsms,
				store_result_cb cb, void *arg)
{
	struct store_out out = { stream, sms, nsms, NULL, 0 };

	if (stream == NULL || *stream == '\0')
		return -EINVAL;
	return report_transition(st, imei, ev, 0, fields, n, &out, cb, arg);
}

int store_report_transition_out(struct store *st, const char *imei, enum report_event ev,
				const struct store_kv *fields, size_t n,
				const struct store_out *out, store_result_cb cb, void *arg)
{
	if (out->nsms && (out->stream == NULL || *out->stream == '\0'))
		return -EINVAL;
	return report_transition(st, imei, ev, 0, fields, n, out, cb, arg);
}

int store_report_resume(struct store *st, const char *imei, enum report_event ev,
			unsigned idle_s, const struct store_kv *fields, size_t n,
			store_result_cb cb, void *arg)
{
	return report_transition(st, imei, ev, idle_s, fields, n, NULL, cb, arg);
}

int store_report_new_pin(struct store *st, const char *imei, const char *ref,
			 const char *owner, const char *digest, size_t dlen, unsigned idle_s,
			 const char *stream, const struct store_sms *sms, store_result_cb cb,
			 void *arg)
{
	const char *argv[13];
	size_t lens[13];
	char out[ID_MAX + 8], own[ID_MAX + 16], from[REPORT_SET_MAX], idle[12];
	struct op *op;
	int argc = 0, nfrom;

	/* Only where the PIN still unblocks the phone: the states UNBLOCK_REQUEST moves from. */
	nfrom = report_states_format(report_event_from(REPORT_EV_UNBLOCK_REQUEST), from,
				     sizeof(from));
	if (nfrom <= 0)
		return -EINVAL;
	if (ref == NULL || owner == NULL || digest == NULL || *ref == '\0' || *owner == '\0' ||
	    dlen == 0 || strlen(ref) > 32 || strlen(owner) > 32 ||
	    (stream != NULL && *stream != '\0' &&
	     (sms == NULL || sms->to == NULL || *sms->to == '\0' || strchr(sms->to, '\n') ||
	      strlen(stream) > ID_MAX || strchr(stream, '\n'))))
		return -EINVAL;
	op = result_op_new(st, cb, arg);
	if (op == NULL)
		return op_new_err(st);
	if (report_keys(imei, op->key, &op->keylen, NULL, NULL) < 0) {
		talloc_free(op);
		return -EINVAL;
	}
	argv[argc] = "3";	/* the keys: the report, its outbox, the owner's PIN counter */
	lens[argc++] = 1;
	argv[argc] = op->key;
	lens[argc++] = op->keylen;
	lens[argc] = (size_t)snprintf(out, sizeof(out), "%.*s:out", (int)op->keylen, op->key);
	argv[argc++] = out;
	lens[argc] = (size_t)snprintf(own, sizeof(own), "%.*s:pin:own", (int)op->keylen,
				      op->key);
	argv[argc++] = own;
	argv[argc] = from;
	lens[argc++] = (size_t)nfrom;
	argv[argc] = ref;
	lens[argc++] = strlen(ref);
	argv[argc] = owner;
	lens[argc++] = strlen(owner);
	argv[argc] = digest;
	lens[argc++] = dlen;
	lens[argc] = (size_t)snprintf(idle, sizeof(idle), "%u", idle_s);
	argv[argc++] = idle;
	if (stream == NULL || *stream == '\0') {
		argv[argc] = "";
		lens[argc++] = 0;
		return op_start_script(op, &report_new_pin_script, argc, argv, lens);
	}
	argv[argc] = stream;
	lens[argc++] = strlen(stream);
	argv[argc] = sms->to;
	lens[argc++] = strlen(sms->to);
	argv[argc] = sms->text;
	lens[argc++] = sms->len;
	return start_relayed(op, &report_new_pin_script, imei, argc, argv, lens);
}

int store_report_get(struct store *st, const char *imei, store_fields_cb cb, void *arg)
{
	struct op *op = op_new(st, &fields_type, arg);

	if (op == NULL)
		return op_new_err(st);
	op->cb.fields = cb;
	if (report_keys(imei, op->key, &op->keylen, NULL, NULL) < 0) {
		talloc_free(op);
		return -EINVAL;
	}
	return key_command(op, "HGETALL");
}

int store_tac_fetch(struct store *st, store_data_cb cb, void *arg)
{
	struct op *op = op_new(st, &tac_type, arg);
	const char *argv[] = { "HGETALL", "tac:{tac}" };
	size_t lens[] = { 7, 9 };

	if (op == NULL)
		return op_new_err(st);
	op->cb.data = cb;
	stream_key(op, "tac:{tac}");
	return op_start(op, 2, argv, lens);
}

void store_on_up(struct store *st, void (*cb)(void *arg), void *arg)
{
	st->on_up = cb;
	st->on_up_arg = arg;
}

int store_report_find(struct store *st, const char *ref, size_t len, store_data_cb cb,
		      void *arg)
{
	struct op *op;
	int rc = keyed_op(st, &get_type, "ref:", ref, len, arg, &op);

	if (rc < 0)
		return rc;
	op->cb.data = cb;
	return key_command(op, "GET");
}

int store_ceir_enqueue(struct store *st, const char *stream, const char *request_id,
		       unsigned remember_s, const struct store_kv *fields, size_t n,
		       store_result_cb cb, void *arg)
{
	const char *argv[4 + 2 * FIELDS_MAX], *open, *close;
	size_t lens[4 + 2 * FIELDS_MAX];
	char dedup[256], ttl[16];
	struct op *op;
	int argc, dl;

	op = result_op_new(st, cb, arg);
	if (op == NULL)
		return op_new_err(st);
	/* The dedup key must share the stream's slot: the stream's own hash tag when its name
	 * has one, else its whole name as the tag (a name without braces hashes whole). */
	open = strchr(stream, '{');
	close = open ? strchr(open + 1, '}') : NULL;
	if (open && close && close > open + 1)
		dl = snprintf(dedup, sizeof(dedup), "%.*s:seen:%s", (int)(close - open + 1), open,
			      request_id);
	else
		dl = snprintf(dedup, sizeof(dedup), "{%s}:seen:%s", stream, request_id);
	if (dl < 0 || (size_t)dl >= sizeof(dedup) || strlen(stream) > ID_MAX ||
	    *request_id == '\0' || remember_s == 0) {
		talloc_free(op);
		return -EINVAL;
	}
	op->keylen = (size_t)snprintf(op->key, sizeof(op->key), "%s", stream);
	argv[0] = "2";
	lens[0] = 1;
	argv[1] = stream;
	lens[1] = strlen(stream);
	argv[2] = dedup;
	lens[2] = (size_t)dl;
	argv[3] = ttl;
	lens[3] = (size_t)snprintf(ttl, sizeof(ttl), "%u", remember_s);
	argc = add_fields(argv, lens, 4, fields, n);
	if (argc < 0) {
		talloc_free(op);
		return -EINVAL;
	}
	return op_start_script(op, &enqueue_script, argc, argv, lens);
}

int store_ref_reserve(struct store *st, const char *ref, size_t len, const char *imei,
		      store_count_cb cb, void *arg)
{
	struct op *op = NULL;
	int rc = keyed_op(st, &setnx_type, "ref:", ref, len, arg, &op);
	const char *argv[4] = { "SET", NULL, imei, "NX" };
	size_t lens[4];

	if (rc < 0)
		return rc;
	if (strlen(imei) != 15) {
		talloc_free(op);
		return -EINVAL;
	}
	op->cb.count = cb;
	argv[1] = op->key;
	lens[0] = 3;
	lens[1] = op->keylen;
	lens[2] = 15;
	lens[3] = 2;
	return op_start(op, 4, argv, lens);
}

int store_group_create(struct store *st, const char *stream, const char *group,
		       store_done_cb cb, void *arg)
{
	struct op *op = op_new(st, &done_type, arg);
	const char *argv[6] = { "XGROUP", "CREATE", stream, group, "0", "MKSTREAM" };
	size_t lens[6] = { 6, 6, strlen(stream), strlen(group), 1, 8 };

	if (op == NULL)
		return op_new_err(st);
	if (stream_key(op, stream) < 0)
		return -EINVAL;
	op->cb.done = cb;
	op->tolerate_busygroup = true;
	return op_start(op, 6, argv, lens);
}

int store_group_read(struct store *st, const char *stream, const char *group,
		     const char *consumer, bool pending, store_entries_cb cb, void *arg)
{
	return store_group_pending(st, stream, group, consumer, pending ? "0" : ">", cb, arg);
}

int store_group_pending(struct store *st, const char *stream, const char *group,
			const char *consumer, const char *after, store_entries_cb cb, void *arg)
{
	struct op *op = op_new(st, &entries_type, arg);
	char count[8];
	const char *argv[9] = { "XREADGROUP", "GROUP", group, consumer, "COUNT", count,
				"STREAMS", stream, after };
	size_t lens[9] = { 10, 5, strlen(group), strlen(consumer), 5, 0, 7, strlen(stream),
			   strlen(after) };

	if (op == NULL)
		return op_new_err(st);
	if (stream_key(op, stream) < 0)
		return -EINVAL;
	op->cb.entries = cb;
	lens[5] = (size_t)snprintf(count, sizeof(count), "%d", STORE_ENTRIES_MAX);
	return op_start(op, 9, argv, lens);
}

int store_group_claim_from(struct store *st, const char *stream, const char *group,
			   const char *consumer, unsigned idle_ms, const char *cursor,
			   store_claim_cb cb, void *arg)
{
	struct op *op = op_new(st, &claim_type, NULL);
	struct claim_op *c;
	char idle[16], count[8];
	const char *argv[8] = { "XAUTOCLAIM", stream, group, consumer, idle, cursor, "COUNT",
				count };
	size_t lens[8] = { 10, strlen(stream), strlen(group), strlen(consumer), 0,
			   strlen(cursor), 5, 0 };

	if (op == NULL)
		return op_new_err(st);
	if (stream_key(op, stream) < 0)
		return -EINVAL;
	c = talloc_zero(op, struct claim_op);
	if (c == NULL) {
		talloc_free(op);
		return -ENOMEM;
	}
	c->cb = cb;
	c->arg = arg;
	op->data = c;
	lens[4] = (size_t)snprintf(idle, sizeof(idle), "%u", idle_ms);
	lens[7] = (size_t)snprintf(count, sizeof(count), "%d", STORE_ENTRIES_MAX);
	return op_start(op, 8, argv, lens);
}

#define REPORTS_OPEN "rep:open"

int store_report_open(struct store *st, const char *imei, bool open, store_done_cb cb,
		      void *arg)
{
	struct op *op = op_new(st, &done_type, arg);
	char now[24];
	const char *zadd[4] = { "ZADD", REPORTS_OPEN, now, imei };
	const char *zrem[3] = { "ZREM", REPORTS_OPEN, imei };
	size_t la[4] = { 4, strlen(REPORTS_OPEN), 0, strlen(imei) };
	size_t lr[3] = { 4, strlen(REPORTS_OPEN), strlen(imei) };

	if (op == NULL)
		return op_new_err(st);
	stream_key(op, REPORTS_OPEN);
	op->cb.done = cb;
	if (!open)
		return op_start(op, 3, zrem, lr);
	la[2] = (size_t)snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	return op_start(op, 4, zadd, la);
}

int store_reports_due(struct store *st, unsigned idle_s, unsigned max, store_data_cb cb,
		      void *arg)
{
	struct op *op = op_new(st, &get_type, arg);
	char a1[16], a2[16];
	const char *argv[4] = { "1", REPORTS_OPEN, a1, a2 };
	size_t lens[4] = { 1, strlen(REPORTS_OPEN), 0, 0 };

	if (op == NULL)
		return op_new_err(st);
	stream_key(op, REPORTS_OPEN);
	op->cb.data = cb;
	lens[2] = (size_t)snprintf(a1, sizeof(a1), "%u", idle_s);
	lens[3] = (size_t)snprintf(a2, sizeof(a2), "%u", max);
	return op_start_script(op, &report_due_script, 4, argv, lens);
}

int store_stream_del(struct store *st, const char *stream, const char *id, size_t idlen,
		     store_done_cb cb, void *arg)
{
	struct op *op = op_new(st, &done_type, arg);
	const char *argv[3] = { "XDEL", stream, id };
	size_t lens[3] = { 4, strlen(stream), idlen };

	if (op == NULL)
		return op_new_err(st);
	if (stream_key(op, stream) < 0)
		return -EINVAL;
	op->cb.done = cb;
	return op_start(op, 3, argv, lens);
}

int store_stream_stat(struct store *st, const char *stream, store_stream_stat_cb cb,
		      void *arg)
{
	struct op *op = op_new(st, &limit_type, arg);
	const char *argv[2] = { "1", stream };
	size_t lens[2] = { 1, strlen(stream) };

	if (op == NULL)
		return op_new_err(st);
	if (stream_key(op, stream) < 0)
		return -EINVAL;
	op->cb.limit = cb;	/* the same shape: two numbers */
	argv[1] = op->key;
	return op_start_script(op, &stream_stat_script, 2, argv, lens);
}

int store_group_ack(struct store *st, const char *stream, const char *group, const char *id,
		    size_t idlen, store_done_cb cb, void *arg)
{
	struct op *op = op_new(st, &done_type, arg);
	const char *argv[4] = { "XACK", stream, group, id };
	size_t lens[4] = { 4, strlen(stream), strlen(group), idlen };

	if (op == NULL)
		return op_new_err(st);
	if (stream_key(op, stream) < 0)
		return -EINVAL;
	op->cb.done = cb;
	return op_start(op, 4, argv, lens);
}

/* ---- limits and secrets that cannot be raced (issue 15) -------------------------------- */

int store_limit_hit(struct store *st, enum store_limit what, const char *who, size_t len,
		    unsigned window_s, store_limit_cb cb, void *arg)
{
	/* "rl:{chk:m:+254712345678}": one counter per kind and caller. */
	static const char *const prefix[] = {
		[STORE_LIMIT_CHECK] = "chk:m:", [STORE_LIMIT_REPORT] = "rep:m:",
		[STORE_LIMIT_VERIFY] = "vf:m:", [STORE_LIMIT_UNBLOCK] = "ub:m:",
		[STORE_LIMIT_RESEND] = "rs:m:",
		[STORE_LIMIT_API] = "api:", [STORE_LIMIT_OTP] = "otp:m:",
	};
	char name[ID_MAX + 1], ms[24];
	struct op *op;
	int n, rc;

	if ((unsigned)what >= sizeof(prefix) / sizeof(prefix[0]) || who == NULL || len == 0 ||
	    window_s == 0)
		return -EINVAL;
	n = snprintf(name, sizeof(name), "%s%.*s", prefix[what], (int)len, who);
	if (n < 0 || (size_t)n >= sizeof(name) || memchr(who, '\0', len))
		return -EINVAL;
	rc = keyed_op(st, &limit_type, "rl:", name, (size_t)n, arg, &op);
	if (rc < 0)
		return rc;
	op->cb.limit = cb;
	{
		const char *argv[] = { "1", op->key, ms };
		size_t lens[] = { 1, op->keylen,
				  (size_t)snprintf(ms, sizeof(ms), "%llu",
						   (unsigned long long)window_s * 1000) };

		return op_start_script(op, &limit_script, 3, argv, lens);
	}
}

/* Runs verify_script over key (the hash) and counter, which share key's hash tag. */
static int verify_run(struct op *op, const char *counter, size_t clen, const void *field,
		      size_t flen, unsigned offset, const void *cand, size_t candlen,
		      unsigned tries, unsigned window_s, size_t value_len)
{
	char off[8], t[12], ms[24], vl[12];
	const char *argv[] = { "2", op->key, counter, field, off, cand, t, ms, vl };
	size_t lens[] = { 1, op->keylen, clen, flen,
			  (size_t)snprintf(off, sizeof(off), "%u", offset), candlen,
			  (size_t)snprintf(t, sizeof(t), "%u", tries),
			  (size_t)snprintf(ms, sizeof(ms), "%llu",
					   (unsigned long long)window_s * 1000),
			  (size_t)snprintf(vl, sizeof(vl), "%zu", value_len) };

	if (tries == 0 || window_s == 0) {
		talloc_free(op);
		return -EINVAL;
	}
	return op_start_script(op, &verify_script, 9, argv, lens);
}

int store_verify_kyc(struct store *st, uint64_t msisdn, const char *who, const void *cand,
		     size_t candlen, bool tail, unsigned tries, unsigned window_s,
		     store_verify_cb cb, void *arg)
{
	struct op *op = op_new(st, &verify_type, arg);
	uint8_t field[PAIRS_FIELD_MAX];
	char counter[ID_MAX + 48];
	size_t fl;
	int n;

	if (op == NULL)
		return op_new_err(st);
	op->cb.verify = cb;
	pairs_kyc_key(msisdn, st->o.bucket_digits, op->key, &op->keylen, field, &fl);
	/* "kyc:{45678}:vf:254712345678:own": the record's slot, one counter per owner and
	 * kind of caller. */
	n = snprintf(counter, sizeof(counter), "%.*s:vf:%llu:%s", (int)op->keylen, op->key,
		     (unsigned long long)msisdn, who);
	if (n < 0 || (size_t)n >= sizeof(counter)) {
		talloc_free(op);
		return -EINVAL;
	}
	/* The value (pairs_kyc_encode): a format byte, 8 bytes of the whole ID's digest at
	 * offset 2, 4 of the last digits' at offset 10, the registration day. */
	return verify_run(op, counter, (size_t)n, field, fl, tail ? 10 : 2, cand, candlen, tries,
			  window_s, PAIRS_KYC_VALUE_LEN);
}

int store_verify_pin(struct store *st, const char *imei, const char *who, const char *digest,
		     size_t len, unsigned tries, unsigned window_s, store_verify_cb cb, void *arg)
{
	struct op *op = op_new(st, &verify_type, arg);
	char counter[ID_MAX + 48];
	int n;

	if (op == NULL)
		return op_new_err(st);
	op->cb.verify = cb;
	if (report_keys(imei, op->key, &op->keylen, NULL, NULL) < 0) {
		talloc_free(op);
		return -EINVAL;
	}
	/* "rep:{356938035643809}:pin:own": the report's slot. */
	n = snprintf(counter, sizeof(counter), "%.*s:pin:%s", (int)op->keylen, op->key, who);
	if (n < 0 || (size_t)n >= sizeof(counter)) {
		talloc_free(op);
		return -EINVAL;
	}
	return verify_run(op, counter, (size_t)n, "pin", 3, 1, digest, len, tries, window_s, 0);
}

/* ---- a one-time code to an owner's line (issue 18) ------------------------------------ */

/* "otp:{+254712345678}:oth": the line's hash tag, so that the code, its counters and its
 * outbox share one slot. Returns the key's length, or 0 for a line that is no E.164. */
static size_t otp_key(const char *line, const char *who, const char *suffix, char *out,
		      size_t outsz)
{
	size_t len = line ? strlen(line) : 0;
	int n;

	if (!relay_who_valid(line, len) || line[0] != '+' ||
	    (strcmp(who, "own") != 0 && strcmp(who, "oth") != 0))
		return 0;
	n = snprintf(out, outsz, "otp:{%s}:%s%s", line, who, suffix);
	return n < 0 || (size_t)n >= outsz ? 0 : (size_t)n;
}

/* The issue's answer, read from the result op's "sent 300000" (or limited, locked). */
struct otp_issue_ctx {
	store_otp_cb cb;
	void *arg;
};

static void otp_issued(void *arg, int err, const char *s, size_t len, bool changed)
{
	struct otp_issue_ctx c = *(struct otp_issue_ctx *)arg;
	enum store_otp_result res = STORE_OTP_SENT;
	char buf[40];
	long long ms = 0;

	talloc_free(arg);
	if (err < 0) {
		c.cb(c.arg, err, STORE_OTP_SENT, 0);
		return;
	}
	snprintf(buf, sizeof(buf), "%.*s", (int)(len < sizeof(buf) ? len : sizeof(buf) - 1), s);
	if (strncmp(buf, "sent ", 5) == 0 && changed)
		ms = atoll(buf + 5);
	else if (strncmp(buf, "limited ", 8) == 0 && !changed)
		res = STORE_OTP_LIMITED, ms = atoll(buf + 8);
	else if (strncmp(buf, "locked ", 7) == 0 && !changed)
		res = STORE_OTP_LOCKED, ms = atoll(buf + 7);
	else {
		c.cb(c.arg, -EPROTO, STORE_OTP_SENT, 0);
		return;
	}
	c.cb(c.arg, 0, res, ms);
}

int store_otp_issue(struct store *st, const struct store_otp *o, store_otp_cb cb, void *arg)
{
	char sent[ID_MAX + 8], out[ID_MAX + 8], ttl[24], max[12], win[24], tries[12], mark[24];
	struct otp_issue_ctx *c;
	struct result_op *ro;
	struct op *op;
	size_t slen, olen;
	int rc;

	if (o->digest == NULL || o->digestlen == 0 || o->requester == NULL || o->ttl_s == 0 ||
	    o->max_codes == 0 || o->window_s == 0 || o->tries == 0 || o->stream == NULL ||
	    *o->stream == '\0' || strlen(o->stream) > ID_MAX || strchr(o->stream, '\n') ||
	    o->sms.to == NULL || strchr(o->sms.to, '\n') || o->sms.text == NULL)
		return -EINVAL;
	c = talloc_zero(st, struct otp_issue_ctx);
	if (c == NULL)
		return -ENOMEM;
	c->cb = cb;
	c->arg = arg;
	op = result_op_new(st, otp_issued, c);
	if (op == NULL) {
		talloc_free(c);
		return op_new_err(st);
	}
	ro = op->data;
	op->keylen = otp_key(o->line, o->who, "", op->key, sizeof(op->key));
	slen = otp_key(o->line, o->who, ":sent", sent, sizeof(sent));
	olen = relay_outbox_key(o->line, out, sizeof(out));
	if (op->keylen == 0 || slen == 0) {
		talloc_free(op);
		talloc_free(c);
		return -EINVAL;
	}
	{
		const char *argv[] = { "3", op->key, sent, out, o->digest, o->requester, ttl, max,
				       win, tries, o->stream, o->sms.to, o->sms.text };
		size_t lens[] = { 1, op->keylen, slen, olen, o->digestlen, strlen(o->requester),
				  (size_t)snprintf(ttl, sizeof(ttl), "%llu",
						   (unsigned long long)o->ttl_s * 1000),
				  (size_t)snprintf(max, sizeof(max), "%u", o->max_codes),
				  (size_t)snprintf(win, sizeof(win), "%llu",
						   (unsigned long long)o->window_s * 1000),
				  (size_t)snprintf(tries, sizeof(tries), "%u", o->tries),
				  strlen(o->stream), strlen(o->sms.to), o->sms.len };

		rc = op_keep_script(op, &otp_issue_script, 13, argv, lens);
	}
	if (rc < 0) {
		talloc_free(op);
		talloc_free(c);
		return rc;
	}
	/* As a report's SMS: the line is indexed for the relay first, then the script writes
	 * the SMS into the line's outbox; the store relays it to the stream once. */
	memcpy(ro->report_key, op->key, op->keylen);
	ro->report_keylen = op->keylen;
	snprintf(ro->who, sizeof(ro->who), "%s", o->line);
	ro->relay = true;
	ro->mark = clock_wall_ms();
	ro->step = R_MARK;
	memcpy(op->key, RELAY_INDEX, strlen(RELAY_INDEX));
	op->keylen = strlen(RELAY_INDEX);
	{
		const char *zadd[] = { "ZADD", RELAY_INDEX, mark, o->line };
		size_t zl[] = { 4, op->keylen, (size_t)snprintf(mark, sizeof(mark), "%lld", ro->mark),
				strlen(o->line) };

		return op_start(op, 4, zadd, zl);
	}
}

int store_verify_otp(struct store *st, const char *line, const char *who, const char *requester,
		     const char *digest, size_t len, unsigned tries, store_verify_cb cb, void *arg)
{
	struct op *op;
	char t[12];

	if (requester == NULL || digest == NULL || len == 0 || tries == 0)
		return -EINVAL;
	op = op_new(st, &verify_type, arg);
	if (op == NULL)
		return op_new_err(st);
	op->cb.verify = cb;
	op->keylen = otp_key(line, who, "", op->key, sizeof(op->key));
	if (op->keylen == 0) {
		talloc_free(op);
		return -EINVAL;
	}
	{
		const char *argv[] = { "1", op->key, requester, digest, t };
		size_t lens[] = { 1, op->keylen, strlen(requester), len,
				  (size_t)snprintf(t, sizeof(t), "%u", tries) };

		return op_start_script(op, &otp_verify_script, 5, argv, lens);
	}
}

/* ---- the country's feed log (issue 19, doc/exchange.md) -------------------------------- */

static void items_fail(struct op *op, int err)
{
	op->cb.items(op->arg, err, NULL, 0);
}

/* LRANGE: an array of strings, lent as items (their values). */
static bool items_reply(struct op *op, const redisReply *r)
{
	struct store_kv *it;

	if (r->type != REDIS_REPLY_ARRAY) {
		items_fail(op, -EPROTO);
		return true;
	}
	it = talloc_array(op, struct store_kv, r->elements ? r->elements : 1);
	if (it == NULL) {
		items_fail(op, -ENOMEM);
		return true;
	}
	for (size_t i = 0; i < r->elements; i++) {
		if (r->element[i]->type != REDIS_REPLY_STRING) {
			items_fail(op, -EPROTO);
			return true;
		}
		it[i] = (struct store_kv){ NULL, 0, r->element[i]->str, r->element[i]->len };
	}
	op->cb.items(op->arg, 0, it, r->elements);
	return true;
}

static const struct op_type items_type = { items_reply, items_fail };

/* An integer reply (LLEN, a script's 0 or 1). */
static bool int_reply(struct op *op, const redisReply *r)
{
	if (r->type != REDIS_REPLY_INTEGER) {
		count_fail(op, -EPROTO);
		return true;
	}
	op->cb.count(op->arg, 0, r->integer);
	return true;
}

static const struct op_type int_type = { int_reply, count_fail };

static struct op *feed_op(struct store *st, const struct op_type *type, const char *key,
			  void *arg)
{
	struct op *op = op_new(st, type, arg);

	if (op != NULL)
		op->keylen = (size_t)snprintf(op->key, sizeof(op->key), "%s", key);
	return op;
}

int store_feed_append(struct store *st, const char *id, const char *entry, size_t len,
		      store_result_cb cb, void *arg)
{
	struct op *op;
	char seen[ID_MAX + 32], ttl[16];

	if (id == NULL || *id == '\0' || strlen(id) > ID_MAX || len == 0 || len > FEED_ENTRY_MAX)
		return -EINVAL;
	op = result_op_new(st, cb, arg);
	if (op == NULL)
		return op_new_err(st);
	op->keylen = (size_t)snprintf(op->key, sizeof(op->key), "%s", FEED_ENTRIES);
	{
		const char *argv[] = { "2", FEED_ENTRIES, seen, entry, ttl };
		size_t lens[] = { 1, strlen(FEED_ENTRIES),
				  (size_t)snprintf(seen, sizeof(seen), "%s%s", FEED_SEEN, id), len,
				  (size_t)snprintf(ttl, sizeof(ttl), "%d", FEED_REMEMBER_S) };

		return op_start_script(op, &feed_append_script, 5, argv, lens);
	}
}

int store_feed_size(struct store *st, store_count_cb cb, void *arg)
{
	struct op *op = feed_op(st, &int_type, FEED_ENTRIES, arg);

	if (op == NULL)
		return op_new_err(st);
	op->cb.count = cb;
	return key_command(op, "LLEN");
}

int store_feed_entries(struct store *st, uint64_t start, unsigned count, store_items_cb cb,
		       void *arg)
{
	struct op *op;
	char a[24], b[24];

	if (count == 0 || count > STORE_FEED_ENTRIES_MAX || start > (uint64_t)INT64_MAX - count)
		return -EINVAL;
	op = feed_op(st, &items_type, FEED_ENTRIES, arg);
	if (op == NULL)
		return op_new_err(st);
	op->cb.items = cb;
	{
		const char *argv[] = { "LRANGE", FEED_ENTRIES, a, b };
		size_t lens[] = { 6, strlen(FEED_ENTRIES),
				  (size_t)snprintf(a, sizeof(a), "%llu", (unsigned long long)start),
				  (size_t)snprintf(b, sizeof(b), "%llu",
						   (unsigned long long)(start + count - 1)) };

		return op_start(op, 4, argv, lens);
	}
}

/* "feed:{feed}:t:<level>:<n>": a hash tile's bytes, as many hashes as are known so far. */
static int feed_tile_key(struct op *op, unsigned level, uint64_t n)
{
	int len = snprintf(op->key, sizeof(op->key), FEED_TILE_FMT, level,
			   (unsigned long long)n);

	if (len < 0 || (size_t)len >= sizeof(op->key) || level > 63)
		return -EINVAL;
	op->keylen = (size_t)len;
	return 0;
}

int store_feed_tile_get(struct store *st, unsigned level, uint64_t n, store_data_cb cb,
			void *arg)
{
	struct op *op = op_new(st, &get_type, arg);

	if (op == NULL)
		return op_new_err(st);
	if (feed_tile_key(op, level, n) < 0) {
		talloc_free(op);
		return -EINVAL;
	}
	op->cb.data = cb;
	return key_command(op, "GET");
}

int store_feed_tile_put(struct store *st, unsigned level, uint64_t n, unsigned first,
			const void *hashes, size_t len, store_done_cb cb, void *arg)
{
	struct op *op;
	char off[16];

	if (len == 0 || len % 32 != 0 || first >= 256 || first * 32 + len > 256 * 32)
		return -EINVAL;
	op = op_new(st, &done_type, arg);
	if (op == NULL)
		return op_new_err(st);
	if (feed_tile_key(op, level, n) < 0) {
		talloc_free(op);
		return -EINVAL;
	}
	op->cb.done = cb;
	{
		/* At its place: writing the same hashes again (a checkpointer that stopped
		 * half-way, then its successor) changes nothing. */
		const char *argv[] = { "SETRANGE", op->key, off, hashes };
		size_t lens[] = { 8, op->keylen,
				  (size_t)snprintf(off, sizeof(off), "%u", first * 32), len };

		return op_start(op, 4, argv, lens);
	}
}

int store_feed_checkpoint_get(struct store *st, store_data_cb cb, void *arg)
{
	struct op *op = feed_op(st, &get_type, FEED_CHECKPOINT, arg);

	if (op == NULL)
		return op_new_err(st);
	op->cb.data = cb;
	return key_command(op, "GET");
}

int store_feed_checkpoint_put(struct store *st, uint64_t size, const char *note, size_t len,
			      store_count_cb cb, void *arg)
{
	struct op *op;
	char sz[24];

	if (len == 0)
		return -EINVAL;
	op = feed_op(st, &int_type, FEED_CHECKPOINT, arg);
	if (op == NULL)
		return op_new_err(st);
	op->cb.count = cb;
	/* What followers are shown must outlive a failover: with redis-replicas-ack, answered
	 * once the replicas have it (and with it the tiles written before). */
	op->durable = st->o.replicas_ack > 0;
	{
		const char *argv[] = { "2", FEED_CHECKPOINT, FEED_SIZE, note, sz };
		size_t lens[] = { 1, strlen(FEED_CHECKPOINT), strlen(FEED_SIZE), len,
				  (size_t)snprintf(sz, sizeof(sz), "%llu",
						   (unsigned long long)size) };

		return op_start_script(op, &feed_checkpoint_script, 5, argv, lens);
	}
}

int store_feed_lock(struct store *st, const char *holder, unsigned ttl_ms, bool take,
		    store_count_cb cb, void *arg)
{
	struct op *op;
	char ttl[16];

	if (holder == NULL || *holder == '\0' || strlen(holder) > ID_MAX || (take && ttl_ms == 0))
		return -EINVAL;
	op = feed_op(st, take ? &setnx_type : &int_type, FEED_LOCK, arg);
	if (op == NULL)
		return op_new_err(st);
	op->cb.count = cb;
	if (take) {
		const char *argv[] = { "SET", FEED_LOCK, holder, "NX", "PX", ttl };
		size_t lens[] = { 3, strlen(FEED_LOCK), strlen(holder), 2, 2,
				  (size_t)snprintf(ttl, sizeof(ttl), "%u", ttl_ms) };

		return op_start(op, 6, argv, lens);
	} else {
		const char *argv[] = { "1", FEED_LOCK, holder };
		size_t lens[] = { 1, strlen(FEED_LOCK), strlen(holder) };

		return op_start_script(op, &feed_unlock_script, 3, argv, lens);
	}
}

/* ---- neighbours' decisions (issue 19) --------------------------------------------------- */

void store_foreign_countries(struct store *st, const char *const *countries, size_t n)
{
	st->nforeign = 0;
	for (size_t i = 0; i < n && st->nforeign < PAIRS_FOREIGN_MAX; i++)
		if (countries[i] && strlen(countries[i]) == 2)
			memcpy(st->foreign[st->nforeign++], countries[i], 3);
}

static void foreign_fail(struct op *op, int err)
{
	op->cb.foreign(op->arg, err, NULL, 0);
}

/* HMGET of the IMEI's field for each country, in the order of st->foreign. */
static bool foreign_reply(struct op *op, const redisReply *r)
{
	struct foreign_rec recs[PAIRS_FOREIGN_MAX];
	size_t n = 0;

	if (r->type != REDIS_REPLY_ARRAY || r->elements > PAIRS_FOREIGN_MAX) {
		foreign_fail(op, -EPROTO);
		return true;
	}
	for (size_t i = 0; i < r->elements && i < op->st->nforeign; i++) {
		const redisReply *v = r->element[i];

		if (v->type != REDIS_REPLY_STRING)
			continue;
		if (pairs_foreign_decode((const uint8_t *)v->str, v->len, &recs[n].reason,
					 &recs[n].day) < 0) {
			LOGP(LOGC_STORE, LOGL_ERROR, "redis %s: %s: a foreign value that does not "
			     "decode", op->node->address, op->key);
			foreign_fail(op, -EPROTO);
			return true;
		}
		memcpy(recs[n].country, op->st->foreign[i], 3);
		n++;
	}
	op->cb.foreign(op->arg, 0, recs, n);
	return true;
}

static const struct op_type foreign_type = { foreign_reply, foreign_fail };

int store_foreign_get(struct store *st, uint64_t imei_body, store_foreign_cb cb, void *arg)
{
	uint8_t field[PAIRS_FOREIGN_FIELD_MAX], fields[PAIRS_FOREIGN_MAX][PAIRS_FOREIGN_FIELD_MAX];
	const char *argv[2 + PAIRS_FOREIGN_MAX];
	size_t lens[2 + PAIRS_FOREIGN_MAX], fl, argc = 2;
	struct op *op = op_new(st, &foreign_type, arg);

	if (op == NULL)
		return op_new_err(st);
	op->cb.foreign = cb;
	pairs_foreign_key(imei_body, op->key, &op->keylen, field, &fl);
	argv[0] = "HMGET";
	lens[0] = 5;
	argv[1] = op->key;
	lens[1] = op->keylen;
	for (size_t i = 0; i < st->nforeign; i++) {
		lens[argc] = pairs_foreign_field(field, fl, st->foreign[i], fields[i]);
		argv[argc++] = (const char *)fields[i];
	}
	if (st->nforeign == 0) {	/* no field has no country: answers none */
		argv[argc] = (const char *)field;
		lens[argc++] = fl;
	}
	return op_start(op, (int)argc, argv, lens);
}

/* One store_foreign_apply: answered once every command answered, with the first error. */
struct foreign_batch {
	store_done_cb cb;
	void *arg;
	unsigned left;
	int err;
};

static void foreign_one_done(void *arg, int err)
{
	struct foreign_batch *b = arg;

	if (err < 0 && b->err == 0)
		b->err = err;
	if (--b->left > 0)
		return;
	b->cb(b->arg, b->err);
	talloc_free(b);
}

/* Every command of the batch is started: answered when they are. Returns 0, or the error,
 * unanswered, when none could be started. */
static int foreign_batch_started(struct foreign_batch *b)
{
	int err = b->err;

	if (b->left == 1 && err < 0) {
		talloc_free(b);
		return err;
	}
	foreign_one_done(b, 0);
	return 0;
}

/* The 14-digit body of a 15-digit IMEI. */
static uint64_t imei_body_of(const char *imei)
{
	uint64_t body = 0;

	for (int j = 0; j < 14; j++)
		body = body * 10 + (uint64_t)(imei[j] - '0');
	return body;
}

/* An entry's day as "YYYY-MM-DD" (out: 11 bytes, NUL-terminated), without printf: a follower
 * writes one per decision. Returns the length, 10. */
static size_t entry_ymd(const struct feed_entry *e, char out[11])
{
	unsigned y = (unsigned)e->year % 10000, m = (unsigned)e->month % 100,
		 d = (unsigned)e->day % 100;

	out[0] = (char)('0' + y / 1000);
	out[1] = (char)('0' + y / 100 % 10);
	out[2] = (char)('0' + y / 10 % 10);
	out[3] = (char)('0' + y % 10);
	out[4] = '-';
	out[5] = (char)('0' + m / 10);
	out[6] = (char)('0' + m % 10);
	out[7] = '-';
	out[8] = (char)('0' + d / 10);
	out[9] = (char)('0' + d % 10);
	out[10] = '\0';
	return 10;
}

/* A decision as the foreign state writes it: its bucket, field and value; next chains the
 * decisions of one bucket in the log's order. */
struct fx_item {
	char key[PAIRS_KEY_MAX];
	uint8_t field[PAIRS_FOREIGN_FIELD_MAX];
	uint8_t value[PAIRS_FOREIGN_VALUE_LEN];
	uint8_t keylen, fieldlen;
	bool block;
	uint32_t next;
};

#define FX_NONE UINT32_MAX

/* Sends one bucket's run of blocks (HSET) or unblocks (HDEL): argv[2..argc) are its fields
 * (and values). */
static void foreign_run(struct store *st, struct foreign_batch *b, const struct fx_item *it,
			bool block, int argc, const char **argv, size_t *lens)
{
	struct op *op = op_new(st, &done_type, b);

	if (op == NULL) {
		if (b->err == 0)
			b->err = op_new_err(st);
		return;
	}
	op->cb.done = foreign_one_done;
	memcpy(op->key, it->key, it->keylen);
	op->keylen = it->keylen;
	argv[0] = block ? "HSET" : "HDEL";
	lens[0] = 4;
	argv[1] = op->key;
	lens[1] = op->keylen;
	b->left++;
	if (op_start(op, argc, argv, lens) < 0) {
		b->left--;
		if (b->err == 0)
			b->err = -EAGAIN;
	}
}

int store_foreign_apply(struct store *st, const struct feed_entry *e, size_t n,
			store_done_cb cb, void *arg)
{
	struct foreign_batch *b;
	struct fx_item *it;
	uint32_t *slot, *tail, *order, norder = 0;
	size_t nslots = 1, i;
	const char **argv;
	size_t *lens;

	if (n == 0 || n > STORE_FEED_ENTRIES_MAX)
		return -EINVAL;
	b = talloc_zero(st, struct foreign_batch);
	if (b == NULL)
		return -ENOMEM;
	b->cb = cb;
	b->arg = arg;
	b->left = 1;		/* held until every command is started */
	while (nslots < 2 * n)
		nslots <<= 1;
	it = talloc_array(b, struct fx_item, n);
	slot = talloc_array(b, uint32_t, nslots);
	tail = talloc_array(b, uint32_t, n);
	order = talloc_array(b, uint32_t, n);
	argv = talloc_array(b, const char *, 2 + 2 * n);
	lens = talloc_array(b, size_t, 2 + 2 * n);
	if (it == NULL || slot == NULL || tail == NULL || order == NULL || argv == NULL ||
	    lens == NULL) {
		talloc_free(b);
		return -ENOMEM;
	}
	memset(slot, 0xff, nslots * sizeof(*slot));
	/* The decisions grouped by bucket (a hash table of the buckets, each a chain in the
	 * log's order), so that one command writes a bucket's run of blocks or unblocks: a
	 * command a bucket rather than one a decision, for Redis the most of what a decision
	 * costs. Linear in n whatever the entries, hostile ones too. */
	for (i = 0; i < n; i++) {
		struct fx_item *x = &it[i];
		size_t kl, fl;
		uint16_t days;
		char ymd[11];
		uint32_t h = 2166136261u;
		size_t s;

		if (pairs_parse_date(ymd, entry_ymd(&e[i], ymd), &days) < 0) {
			talloc_free(b);
			return -EINVAL;
		}
		pairs_foreign_key(imei_body_of(e[i].imei), x->key, &kl, x->field, &fl);
		x->keylen = (uint8_t)kl;
		x->fieldlen = (uint8_t)pairs_foreign_field(x->field, fl, e[i].country, x->field);
		pairs_foreign_encode(e[i].reason == FEED_LOST ? 'L' : 'S', days, x->value);
		x->block = e[i].status == FEED_BLOCKED;
		x->next = FX_NONE;
		for (size_t j = 0; j < kl; j++)	/* FNV-1a */
			h = (h ^ (uint8_t)x->key[j]) * 16777619u;
		for (s = h & (nslots - 1); slot[s] != FX_NONE; s = (s + 1) & (nslots - 1)) {
			const struct fx_item *y = &it[order[slot[s]]];

			if (y->keylen == kl && memcmp(y->key, x->key, kl) == 0)
				break;
		}
		if (slot[s] == FX_NONE) {
			slot[s] = norder;
			order[norder] = (uint32_t)i;
			tail[norder++] = (uint32_t)i;
		} else {
			it[tail[slot[s]]].next = (uint32_t)i;
			tail[slot[s]] = (uint32_t)i;
		}
	}
	/* Each bucket's decisions in the log's order, a command per run of blocks (one HSET:
	 * of a field given twice the later value stays) or of unblocks (one HDEL): the state
	 * is the one the decisions one by one would leave. The buckets' commands go out in
	 * any order, on one connection per node, and the next chunk's after these answered
	 * (channel/peers.c). */
	for (uint32_t k = 0; k < norder; k++) {
		const struct fx_item *first = &it[order[k]];
		int argc = 2;
		bool block = first->block;

		for (uint32_t x = order[k]; x != FX_NONE; x = it[x].next) {
			if (it[x].block != block) {
				foreign_run(st, b, first, block, argc, argv, lens);
				argc = 2;
				block = it[x].block;
			}
			argv[argc] = (const char *)it[x].field;
			lens[argc++] = it[x].fieldlen;
			if (block) {
				argv[argc] = (const char *)it[x].value;
				lens[argc++] = PAIRS_FOREIGN_VALUE_LEN;
			}
		}
		foreign_run(st, b, first, block, argc, argv, lens);
	}
	talloc_free(it);
	talloc_free(slot);
	talloc_free(tail);
	talloc_free(order);
	talloc_free(argv);
	talloc_free(lens);
	return foreign_batch_started(b);
}

/* The RESP bytes of a command. */
static size_t resp_size(int argc, const size_t *lens)
{
	size_t n = 24;

	for (int i = 0; i < argc; i++)
		n += 24 + lens[i];
	return n;
}

/* n in decimal at out (at most 20 bytes, no NUL), without printf: a follower writes 19
 * numbers an entry. Returns the length. */
static size_t dec_put(char *out, uint64_t n)
{
	char d[20];
	size_t k = 0, len;

	do
		d[k++] = (char)('0' + n % 10);
	while ((n /= 10) > 0);
	len = k;
	while (k > 0)
		*out++ = d[--k];
	return len;
}

/* "<c><n>\r\n": a RESP header. */
static char *resp_head(char *p, char c, size_t n)
{
	*p++ = c;
	p += dec_put(p, n);
	*p++ = '\r';
	*p++ = '\n';
	return p;
}

static char *resp_put(char *p, int argc, const char **argv, const size_t *lens)
{
	p = resp_head(p, '*', (size_t)argc);
	for (int i = 0; i < argc; i++) {
		p = resp_head(p, '$', lens[i]);
		memcpy(p, argv[i], lens[i]);
		p += lens[i];
		*p++ = '\r';
		*p++ = '\n';
	}
	return p;
}

/* An entry's XADD on the foreign stream, at index i of origin's log: its 17 arguments into
 * argv and lens (ymd and idx hold two of them). */
#define FOREIGN_XADD_ARGC 17
static void foreign_xadd(const struct feed_entry *e, uint64_t i, const char *stream,
			 const char *origin, const char **argv, size_t *lens, char ymd[11],
			 char idx[24])
{
	const char *st_name = feed_status_name(e->status);
	const char *re_name = feed_reason_name(e->reason);
	const char *a[FOREIGN_XADD_ARGC] = { "XADD", stream, "*", "imei", e->imei, "country",
					     e->country, "status", st_name, "reason", re_name,
					     "day", ymd, "origin", origin, "index", idx };
	size_t l[FOREIGN_XADD_ARGC] = { 4, strlen(stream), 1, 4, 15, 7, 2, 6, strlen(st_name), 6,
					strlen(re_name), 3, entry_ymd(e, ymd), 6, strlen(origin),
					5, dec_put(idx, i) };

	memcpy(argv, a, sizeof(a));
	memcpy(lens, l, sizeof(l));
}

/* store_foreign_queue's transaction: tx[k + 1 .. n] are the XADDs of entries first + k ..,
 * tx[k] MULTI and tx[n + 1] the commit, for the entries from first + k on. */
#define FOREIGN_TRIES 3
struct foreign_queue {
	struct tx_piece *tx;
	size_t n, k;
	uint64_t first;
	long long added;
	char *commit;
	const char *stream, *nextkey;
	unsigned tries;
};

/* The commit of the entries from first + k on, after their XADDs. */
static void foreign_queue_commit(struct op *op)
{
	struct foreign_queue *q = op->data;
	char sfirst[24], sn[24];
	const char *argv[] = { "EVAL", foreign_commit_script.body, "2", q->stream, q->nextkey,
			       sfirst, sn };
	size_t lens[] = { 4, strlen(foreign_commit_script.body), 1, strlen(q->stream),
			  strlen(q->nextkey),
			  (size_t)snprintf(sfirst, sizeof(sfirst), "%llu",
					   (unsigned long long)(q->first + q->k)),
			  (size_t)snprintf(sn, sizeof(sn), "%zu", q->n - q->k) };
	static const char multi[] = "*1\r\n$5\r\nMULTI\r\n";

	q->tx[q->k] = (struct tx_piece){ multi, sizeof(multi) - 1 };
	q->tx[q->n + 1].p = q->commit;
	q->tx[q->n + 1].len = (size_t)(resp_put(q->commit, 7, argv, lens) - q->commit);
	op->tx = q->tx + q->k;
	op->ntx = q->n - q->k + 2;
}

/* EXEC's answer: an XADD's answer per entry, then the commit's. */
static bool foreign_queue_reply(struct op *op, const redisReply *r)
{
	struct foreign_queue *q = op->data;
	const redisReply *c;
	uint64_t next;

	if (op->waited) {		/* the WAIT after the entries kept */
		op->cb.count(op->arg, wait_enough(op->st, r) ? 0 : -EAGAIN,
			     wait_enough(op->st, r) ? q->added : 0);
		return true;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements != q->n - q->k + 1 ||
	    !int_array(c = r->element[r->elements - 1], 2) || c->element[1]->integer < 0) {
		if (r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
		    r->element[r->elements - 1]->type == REDIS_REPLY_ERROR)
			LOGP(LOGC_STORE, LOGL_ERROR, "redis %s: the foreign stream's commit: %.200s",
			     op->node->address, r->element[r->elements - 1]->str);
		op->cb.count(op->arg, -EPROTO, 0);
		return true;
	}
	if (c->element[0]->integer == 1) {
		q->added = (long long)(q->n - q->k);
		/* What the CEIR is told must outlive a failover: on the replicas first. */
		if (op->st->o.replicas_ack > 0) {
			if (op_wait(op) == 0)
				return false;
			op->cb.count(op->arg, -EAGAIN, 0);
			return true;
		}
		op->cb.count(op->arg, 0, q->added);
		return true;
	}
	/* Taken back: entries up to next were on the stream already. */
	next = (uint64_t)c->element[1]->integer;
	if (next >= q->first + q->n) {
		op->cb.count(op->arg, 0, 0);
		return true;
	}
	if (next <= q->first + q->k || ++q->tries >= FOREIGN_TRIES) {
		op->cb.count(op->arg, -EAGAIN, 0);	/* racing another process: next poll */
		return true;
	}
	q->k = (size_t)(next - q->first);
	foreign_queue_commit(op);
	if (op_send(op) < 0) {
		op->cb.count(op->arg, -EAGAIN, 0);
		return true;
	}
	return false;
}

static const struct op_type foreign_queue_type = { foreign_queue_reply, count_fail };

int store_foreign_queue(struct store *st, const char *stream, const char *origin,
			uint64_t first, const struct feed_entry *e, size_t n, store_count_cb cb,
			void *arg)
{
	char nextkey[ID_MAX * 2 + 32];
	const char *open, *close;
	struct foreign_queue *q;
	struct op *op;
	size_t size = 0, lens[FOREIGN_XADD_ARGC];
	const char *argv[FOREIGN_XADD_ARGC];
	char *buf, ymd[11], idx[24];
	int kl;

	if (n == 0 || n > STORE_FEED_ENTRIES_MAX || stream == NULL || strlen(stream) > ID_MAX ||
	    origin == NULL || *origin == '\0' || strlen(origin) > ID_MAX ||
	    first > (uint64_t)INT64_MAX - n)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (feed_status_name(e[i].status) == NULL || feed_reason_name(e[i].reason) == NULL)
			return -EINVAL;
	/* The next-index key shares the stream's slot, as the enqueue's dedup keys do. */
	open = strchr(stream, '{');
	close = open ? strchr(open + 1, '}') : NULL;
	if (open && close && close > open + 1)
		kl = snprintf(nextkey, sizeof(nextkey), "%.*s:next:%s", (int)(close - open + 1),
			      open, origin);
	else
		kl = snprintf(nextkey, sizeof(nextkey), "{%s}:next:%s", stream, origin);
	if (kl < 0 || (size_t)kl >= sizeof(nextkey))
		return -EINVAL;
	op = op_new(st, &foreign_queue_type, arg);
	if (op == NULL)
		return op_new_err(st);
	op->cb.count = cb;
	op->keylen = (size_t)snprintf(op->key, sizeof(op->key), "%s", stream);
	q = talloc_zero(op, struct foreign_queue);
	if (q == NULL || (q->tx = talloc_array(q, struct tx_piece, n + 2)) == NULL ||
	    (q->stream = talloc_strdup(q, stream)) == NULL ||
	    (q->nextkey = talloc_strdup(q, nextkey)) == NULL) {
		talloc_free(op);
		return -ENOMEM;
	}
	op->data = q;
	q->n = n;
	q->first = first;
	/* An XADD per entry, formatted once (sent again from any entry on), and the commit. */
	for (size_t i = 0; i < n; i++) {
		foreign_xadd(&e[i], first + i, stream, origin, argv, lens, ymd, idx);
		size += resp_size(FOREIGN_XADD_ARGC, lens);
	}
	buf = talloc_size(q, size);
	q->commit = talloc_size(q, 256 + strlen(foreign_commit_script.body) + strlen(stream) +
				   strlen(nextkey));
	if (buf == NULL || q->commit == NULL) {
		talloc_free(op);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		foreign_xadd(&e[i], first + i, stream, origin, argv, lens, ymd, idx);
		q->tx[i + 1].p = buf;
		buf = resp_put(buf, FOREIGN_XADD_ARGC, argv, lens);
		q->tx[i + 1].len = (size_t)(buf - q->tx[i + 1].p);
	}
	foreign_queue_commit(op);
	/* Over the twin connection, where its WAIT goes (foreign_queue_reply). */
	op->durable = st->o.replicas_ack > 0;
	argv[0] = "EXEC";
	lens[0] = 4;
	return op_start(op, 1, argv, lens);
}

/* ---- following neighbours' feeds (issue 19) --------------------------------------------- */

/* "peer:{<origin>}" and the same with a suffix: one slot per neighbour. */
static int peer_key(struct op *op, const char *origin, const char *suffix)
{
	int n;

	if (origin == NULL || *origin == '\0' || strlen(origin) > ID_MAX ||
	    strpbrk(origin, "{}") != NULL)
		return -EINVAL;
	n = snprintf(op->key, sizeof(op->key), PEER_KEY_FMT, origin, suffix);
	if (n < 0 || (size_t)n >= sizeof(op->key))
		return -EINVAL;
	op->keylen = (size_t)n;
	return 0;
}

int store_peer_lock(struct store *st, const char *origin, const char *holder, unsigned ttl_ms,
		    store_count_cb cb, void *arg)
{
	struct op *op;
	char ttl[16];

	if (holder == NULL || *holder == '\0' || strlen(holder) > ID_MAX || ttl_ms == 0)
		return -EINVAL;
	op = op_new(st, &setnx_type, arg);
	if (op == NULL)
		return op_new_err(st);
	if (peer_key(op, origin, ":poll") < 0) {
		talloc_free(op);
		return -EINVAL;
	}
	op->cb.count = cb;
	{
		const char *argv[] = { "SET", op->key, holder, "NX", "PX", ttl };
		size_t lens[] = { 3, op->keylen, strlen(holder), 2, 2,
				  (size_t)snprintf(ttl, sizeof(ttl), "%u", ttl_ms) };

		return op_start(op, 6, argv, lens);
	}
}

static void count_noop(void *arg, int err, long long n)
{
	(void)arg;
	(void)err;
	(void)n;
}

int store_peer_lock_renew(struct store *st, const char *origin, const char *holder,
			  unsigned ttl_ms, store_count_cb cb, void *arg)
{
	struct op *op;
	char ttl[16];

	if (holder == NULL || *holder == '\0' || strlen(holder) > ID_MAX)
		return -EINVAL;
	op = op_new(st, &int_type, arg);
	if (op == NULL)
		return op_new_err(st);
	if (peer_key(op, origin, ":poll") < 0) {
		talloc_free(op);
		return -EINVAL;
	}
	op->cb.count = cb ? cb : count_noop;
	{
		const char *argv[] = { "1", op->key, holder, ttl };
		size_t lens[] = { 1, op->keylen, strlen(holder),
				  (size_t)snprintf(ttl, sizeof(ttl), "%u", ttl_ms) };

		return op_start_script(op, &lock_renew_script, 4, argv, lens);
	}
}

int store_peer_get(struct store *st, const char *origin, store_fields_cb cb, void *arg)
{
	struct op *op = op_new(st, &fields_type, arg);

	if (op == NULL)
		return op_new_err(st);
	if (peer_key(op, origin, "") < 0) {
		talloc_free(op);
		return -EINVAL;
	}
	op->cb.fields = cb;
	return key_command(op, "HGETALL");
}

int store_peer_save(struct store *st, const char *origin, uint64_t size, const void *frontier,
		    size_t flen, const char *note, size_t notelen, store_count_cb cb, void *arg)
{
	struct op *op;
	char sz[24];

	if (flen == 0)
		return -EINVAL;
	op = op_new(st, &int_type, arg);
	if (op == NULL)
		return op_new_err(st);
	if (peer_key(op, origin, "") < 0) {
		talloc_free(op);
		return -EINVAL;
	}
	op->cb.count = cb;
	op->durable = st->o.replicas_ack > 0;
	{
		const char *argv[] = { "1", op->key, sz, frontier, note ? note : "" };
		size_t lens[] = { 1, op->keylen,
				  (size_t)snprintf(sz, sizeof(sz), "%llu", (unsigned long long)size),
				  flen, note ? notelen : 0 };

		return op_start_script(op, &peer_save_script, 5, argv, lens);
	}
}

int store_peer_set(struct store *st, const char *origin, const char *field, const char *value,
		   size_t len, store_done_cb cb, void *arg)
{
	struct op *op;

	if (field == NULL || (strcmp(field, "state") != 0 && strcmp(field, "witness") != 0 &&
			      strcmp(field, "polled") != 0))
		return -EINVAL;
	op = op_new(st, &done_type, arg);
	if (op == NULL)
		return op_new_err(st);
	if (peer_key(op, origin, "") < 0) {
		talloc_free(op);
		return -EINVAL;
	}
	op->cb.done = cb;
	{
		const char *argv[] = { value ? "HSET" : "HDEL", op->key, field, value };
		size_t lens[] = { 4, op->keylen, strlen(field), value ? len : 0 };

		return op_start(op, value ? 4 : 3, argv, lens);
	}
}

int store_peer_halt(struct store *st, const char *origin, const char *why, const char *shown,
		    size_t shownlen, const char *other, size_t otherlen, store_done_cb cb,
		    void *arg)
{
	struct op *op;
	char at[24];

	if (why == NULL || *why == '\0' || shown == NULL || shownlen == 0 ||
	    (otherlen > 0 && other == NULL))
		return -EINVAL;
	op = op_new(st, &done_type, arg);
	if (op == NULL)
		return op_new_err(st);
	if (peer_key(op, origin, "") < 0) {
		talloc_free(op);
		return -EINVAL;
	}
	op->cb.done = cb;
	op->durable = st->o.replicas_ack > 0;	/* the halt outlives a failover */
	{
		const char *argv[] = { "HSET", op->key, "halted", why, "halted-at", at,
				       "shown", shown, "other", otherlen ? other : "" };
		size_t lens[] = { 4, op->keylen, 6, strlen(why), 9,
				  (size_t)snprintf(at, sizeof(at), "%lld", (long long)time(NULL)),
				  5, shownlen, 5, otherlen };

		return op_start(op, 10, argv, lens);
	}
}
