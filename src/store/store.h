/* The store: ceirgw's one connection to Redis, asynchronous on the daemon's libevent loop
 * (hiredis with its libevent adapter). Only this layer includes hiredis. Operations are
 * named for what they mean; the key schema is doc/redis-keys.md.
 *
 * Every operation either returns 0 and later calls its callback exactly once, or returns a
 * negative errno at once without calling it: -EAGAIN when Redis is not connected now (a
 * temporary failure: the caller says "try later"), -ENOMEM. A callback's err is 0, or
 * -EAGAIN when the connection dropped before the answer or Redis did not answer within the
 * timeout (also temporary; the command may still have run, as with a dropped connection),
 * -ECANCELED when the store is being freed, -EPROTO when Redis answered something it should
 * not have. */
#ifndef CEIRGW_STORE_STORE_H
#define CEIRGW_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/redis_url.h"
#include "domain/kv.h"
#include "domain/report.h"
#include "store/pairs.h"

struct event_base;
struct store;

struct store_options {
	int bucket_digits;	/* pairing-bucket-digits, as the data was imported with */
	/* redis-timeout: a command (or the handshake) unanswered this long drops the
	 * connection and answers what was on it -EAGAIN. 0: the default, 1000. */
	int timeout_ms;
	/* redis-replicas-ack: a write the user is told was accepted (a report, its reference,
	 * a transition, a CEIR request) is answered only once this many replicas acknowledged
	 * it (WAIT on its node's connection), else -EAGAIN. 0: the master's answer. */
	int replicas_ack;
	int replicas_timeout_ms;	/* WAIT's timeout; 0: half of timeout_ms */
};

/* Creates the store and starts connecting to url. Returns a talloc child of ctx (freeing it
 * disconnects and answers what is pending with -ECANCELED) or NULL. */
struct store *store_create(void *ctx, struct event_base *base, const struct redis_url *url,
			   const struct store_options *o);

/* The same on a Redis Cluster, from its seed nodes (redis-cluster, issue 16): operations are
 * routed by their keys' slots, one connection per master; see store.c. */
struct redis_seeds;
struct store *store_create_cluster(void *ctx, struct event_base *base,
				   const struct redis_seeds *seeds, const struct store_options *o);

/* True once connected and authenticated, until the connection drops or a command times
 * out (then until a new connection is up). */
bool store_is_up(const struct store *st);

/* Human-readable address for logs and health replies ("unix:/var/lib/ceirgw/redis.sock"),
 * never with the password. */
const char *store_address(const struct store *st);

/* Calls cb(arg) each time the connection is up (again), after AUTH and SELECT. */
void store_on_up(struct store *st, void (*cb)(void *arg), void *arg);

/* Operations waiting for Redis's answer. */
size_t store_pending(const struct store *st);

typedef void (*store_done_cb)(void *arg, int err);
typedef void (*store_count_cb)(void *arg, int err, long long count);
typedef void (*store_data_cb)(void *arg, int err, const void *data, size_t len, bool found);
typedef void (*store_pairings_cb)(void *arg, int err, const struct pair_rec *recs, size_t n);
typedef void (*store_handsets_cb)(void *arg, int err, const uint64_t *bodies, size_t n);

/* Redis answered PING. */
int store_ping(struct store *st, store_done_cb cb, void *arg);

/* The pairings of an IMEI (its 14-digit body), as imported: n is 0 for an IMEI the
 * operators' data never saw. */
int store_imei_pairings(struct store *st, uint64_t imei_body, store_pairings_cb cb, void *arg);

/* The IMEI bodies an MSISDN (E.164 digits as a number) was seen with, oldest first. */
int store_msisdn_handsets(struct store *st, uint64_t msisdn, store_handsets_cb cb, void *arg);

/* A subscriber's KYC record (digests only, see domain/kyc.h), rec NULL when the operators'
 * data has none for the MSISDN. */
typedef void (*store_kyc_cb)(void *arg, int err, const struct kyc_rec *rec);
int store_kyc_get(struct store *st, uint64_t msisdn, store_kyc_cb cb, void *arg);

/* The TAC table `ceirgwctl import tac` put in Redis, as tacdb CSV text ("tac,maker,model"
 * and a row per TAC) for tac_table_parse; found false when there is none. */
int store_tac_fetch(struct store *st, store_data_cb cb, void *arg);

/* Records of a session or a number, named by what they are for (the store names their keys,
 * doc/redis-keys.md): any ceirgw process may serve the next step. */
enum store_rec {
	STORE_REC_USSD,		/* a USSD session: id is the session id, msisdn the caller's */
	STORE_REC_LANG,		/* the language a number chose: id is the number */
	/* An MO bearerbox sent: id is its Msg id (32 hex digits), slot the record whose hash
	 * slot it shares (its key is that record's and ":mo:<id>"): the one the engine reads
	 * first for the MO, so that both are read in one command (store_records_get). */
	STORE_REC_MO,
	/* A number's USSD journey stopped at a resumable screen, for a later dial to continue
	 * (its session record): id is the number. In the slot of the number's language. */
	STORE_REC_RESUME,
};
struct store_rec_id {
	enum store_rec kind;
	const char *id;		/* id[0..idlen): printable */
	size_t idlen;
	const char *msisdn;	/* STORE_REC_USSD only */
	/* STORE_REC_MO only: a STORE_REC_LANG or STORE_REC_USSD record; NULL for the key the
	 * box used before (issue 21), "s:{mo:<id>}", alone in its slot. */
	const struct store_rec_id *slot;
};

/* A record's bytes, kept ttl_s seconds from this write. */
int store_session_set(struct store *st, const struct store_rec_id *rid, const void *data,
		      size_t len, unsigned ttl_s, store_done_cb cb, void *arg);
int store_session_get(struct store *st, const struct store_rec_id *rid, store_data_cb cb,
		      void *arg);
int store_session_del(struct store *st, const struct store_rec_id *rid, store_done_cb cb,
		      void *arg);

/* What a plain dial reads of a number (E.164, number[0..len)), in one command (MGET: the two
 * records share the number's slot): its language (lang NULL when it chose none) and whether a
 * journey it left at a resumable screen waits (STORE_REC_RESUME), lent for the call. */
typedef void (*store_number_cb)(void *arg, int err, const char *lang, size_t langlen,
				bool resume);
int store_number_get(struct store *st, const char *number, size_t len, store_number_cb cb,
		     void *arg);

/* Records of one hash slot read in one command (MGET), on a single Redis and on a Cluster
 * alike: v[i] is rids[i]'s (found false when it does not exist), lent for the call. Returns
 * -EINVAL for n of 0 or over STORE_RECORDS_MAX, or records whose keys are not all in one slot
 * (a Cluster would refuse the command). */
#define STORE_RECORDS_MAX 4
struct store_val {
	const void *data;
	size_t len;
	bool found;
};
typedef void (*store_records_cb)(void *arg, int err, const struct store_val *v, size_t n);
int store_records_get(struct store *st, const struct store_rec_id *rids, size_t n,
		      store_records_cb cb, void *arg);

/* ---- reports and the CEIR queue ---- */

/* A field or value pair (pointer and length, binary-safe): struct store_kv, domain/kv.h. */

/* s[0..len) is a reference, a state or a stream entry id; changed says whether this call
 * changed anything (false: the existing answer, e.g. the open report's reference). */
typedef void (*store_result_cb)(void *arg, int err, const char *s, size_t len, bool changed);
/* A hash's fields (at most 64), lent for the call. n is 0 when there is none. */
typedef void (*store_fields_cb)(void *arg, int err, const struct store_kv *kv, size_t n);

/* Opens a report for a 15-digit IMEI with reference ref and the given fields, state
 * "received" and created/updated times from Redis's clock, atomically (Lua on rep:{imei}):
 * REPORT_EV_OPEN (domain/report.h), unless a report is open (neither unblocked nor
 * rejected), whose reference is answered with changed false. A closed report's reference moves to rep:{imei}:past. The answer
 * comes once ref:{reference} maps the reference to the IMEI. The IMEI's status is its
 * report's state (store_report_get). */
int store_report_create(struct store *st, const char *imei, const char *ref,
			const struct store_kv *fields, size_t n, store_result_cb cb, void *arg);

/* The 15-digit IMEI whose report has reference ref (ref:{ref}, written by
 * store_report_create before it answers); found false for an unknown reference. */
int store_report_find(struct store *st, const char *ref, size_t len, store_data_cb cb,
		      void *arg);

/* Moves the IMEI's report as the event ev says (domain/report.h: to report_event_to(ev),
 * only from a state report_event_allows), with the given fields; -EINVAL for an event that
 * is not in the table, or OPEN (store_report_create's). Answers the state now; changed false
 * when the report was in another state (s is that state) or there is none (s is ""). */
int store_report_transition(struct store *st, const char *imei, enum report_event ev,
			    const struct store_kv *fields, size_t n, store_result_cb cb,
			    void *arg);

/* The same, and in the same step (one Lua script) SMS kept for an outbox stream (fields to
 * and text, channels.h): the move and the SMS that tell of it happen together or not at all.
 * The SMS are written in the report's own slot (rep:{imei}:out) and the store adds them to
 * the stream right after (each once, by an id of its own), so that the script touches one
 * slot on a Redis Cluster; what a stop cuts short, store_relay_sweep finishes. */
#define STORE_SMS_MAX 2
struct store_sms {
	const char *to;
	const char *text;
	size_t len;
};
int store_report_transition_sms(struct store *st, const char *imei, enum report_event ev,
				const struct store_kv *fields, size_t n,
				const char *stream, const struct store_sms *sms, size_t nsms,
				store_result_cb cb, void *arg);

/* The same with everything that tells of the move: the SMS (stream NULL and nsms 0 for none)
 * and an entry of the country's feed log (feed/entry.h; feed NULL for none), which the store
 * appends to the log once, as it relays the SMS (store_feed_append). */
struct store_out {
	const char *stream;
	const struct store_sms *sms;
	size_t nsms;
	const char *feed;
	size_t feedlen;
};
int store_report_transition_out(struct store *st, const char *imei, enum report_event ev,
				const struct store_kv *fields, size_t n,
				const struct store_out *out, store_result_cb cb, void *arg);

/* The same, for a report a journey left half-way: only when its last change is idle_s
 * seconds old or more; else s is "busy" (another journey is at work on it) and nothing
 * changes. */
int store_report_resume(struct store *st, const char *imei, enum report_event ev,
			unsigned idle_s, const struct store_kv *fields, size_t n,
			store_result_cb cb, void *arg);

/* A new unblock PIN for the IMEI's report (issue 18), in one Lua script: the PIN's digest
 * (digest[0..dlen), hex) replaces the old one, so that the old PIN fails from then on, the
 * owner's own wrong-PIN counter ("own", store_verify_pin) starts again, and, with a stream,
 * the receipt sms is written into the report's outbox in the same step and relayed as
 * store_report_transition_sms's are. Only for the report whose reference is ref and whose
 * owner is owner (E.164), and only in a state where the PIN unblocks (the states
 * REPORT_EV_UNBLOCK_REQUEST moves from), and not within idle_s seconds of the last new PIN
 * (s "recent": the receipt just sent stands); nothing changes otherwise. Answers the
 * report's state with changed true when the PIN was replaced; s "" when there is no such
 * report. */
int store_report_new_pin(struct store *st, const char *imei, const char *ref,
			 const char *owner, const char *digest, size_t dlen, unsigned idle_s,
			 const char *stream, const struct store_sms *sms, store_result_cb cb,
			 void *arg);

/* The index of open reports (rep:open): a report goes in when it is opened and out once it
 * is with the CEIR, so that one a journey left half-way is found and completed. */
int store_report_open(struct store *st, const char *imei, bool open, store_done_cb cb,
		      void *arg);
/* IMEIs of the open reports indexed at least idle_s seconds ago, at most max of them, as
 * "imei,imei" (empty: none). */
int store_reports_due(struct store *st, unsigned idle_s, unsigned max, store_data_cb cb,
		      void *arg);

/* The IMEI's report, all fields. */
int store_report_get(struct store *st, const char *imei, store_fields_cb cb, void *arg);

/* Adds one entry to the CEIR stream per request id (the idempotency key), however often it
 * is called: the id is remembered remember_s seconds in a key of the stream's own slot, and
 * a repeat answers the first entry's id with changed false. */
int store_ceir_enqueue(struct store *st, const char *stream, const char *request_id,
		       unsigned remember_s, const struct store_kv *fields, size_t n,
		       store_result_cb cb, void *arg);

/* Finishes the relays (see store_report_transition_sms) that a stopped ceirgw, or a failure,
 * left undone for idle_s seconds or more: at most max reports' outboxes. count is how many
 * were started. */
int store_relay_sweep(struct store *st, unsigned idle_s, unsigned max, store_count_cb cb,
		      void *arg);

/* Reserves a new report reference for a 15-digit IMEI (ref:{ref}, SET NX), before
 * store_report_create: count is 1 when reserved, 0 when the reference is taken (draw
 * another). */
int store_ref_reserve(struct store *st, const char *ref, size_t len, const char *imei,
		      store_count_cb cb, void *arg);

/* ---- reading a stream through a consumer group (the CEIR results) ---- */

#define STORE_ENTRIES_MAX 32	/* entries per read */

/* A stream entry: its id and up to 16 fields, lent for the call. */
struct store_entry {
	const char *id;
	size_t idlen;
	const struct store_kv *kv;
	size_t n;
};
typedef void (*store_entries_cb)(void *arg, int err, const struct store_entry *e, size_t n);

/* Creates the group at the stream's start (and the stream), fine when it exists. */
int store_group_create(struct store *st, const char *stream, const char *group,
		       store_done_cb cb, void *arg);
/* Up to STORE_ENTRIES_MAX entries for consumer: new ones, or with pending its own that were
 * delivered but not acknowledged. Never blocks the connection. */
int store_group_read(struct store *st, const char *stream, const char *group,
		     const char *consumer, bool pending, store_entries_cb cb, void *arg);
/* Up to STORE_ENTRIES_MAX of consumer's own pending entries with ids after the id after
 * ("0": from the first), in id order; none once after is past the last. Reading them again
 * from the last id seen moves on through a long list (XREADGROUP ... STREAMS s <id>). */
int store_group_pending(struct store *st, const char *stream, const char *group,
			const char *consumer, const char *after, store_entries_cb cb, void *arg);
/* Takes over entries another consumer left pending over idle_ms (XAUTOCLAIM), from cursor
 * ("0-0": the start of the pending list); next is the cursor the following call goes on
 * from, "0-0" once the whole list was scanned. */
typedef void (*store_claim_cb)(void *arg, int err, const struct store_entry *e, size_t n,
			       const char *next);
int store_group_claim_from(struct store *st, const char *stream, const char *group,
			   const char *consumer, unsigned idle_ms, const char *cursor,
			   store_claim_cb cb, void *arg);
int store_group_ack(struct store *st, const char *stream, const char *group, const char *id,
		    size_t idlen, store_done_cb cb, void *arg);
/* How many entries a stream holds (XLEN) and how long ago, in ms by Redis's clock, its first
 * was added (0 when it is empty): an outbox's depth and its oldest SMS's wait (/metrics). */
typedef void (*store_stream_stat_cb)(void *arg, int err, long long len, long long age_ms);
int store_stream_stat(struct store *st, const char *stream, store_stream_stat_cb cb,
		      void *arg);
/* Deletes one entry of a stream (XDEL): an outbox entry once it is delivered. */
int store_stream_del(struct store *st, const char *stream, const char *id, size_t idlen,
		     store_done_cb cb, void *arg);

/* ---- limits and secrets that cannot be raced (issue 15) ---- */

/* What a rate limit counts, per caller (the store names the counter). */
enum store_limit {
	STORE_LIMIT_CHECK,	/* checks and status lookups, per number */
	STORE_LIMIT_REPORT,	/* report attempts, per number */
	STORE_LIMIT_VERIFY,	/* national ID tries, per number */
	STORE_LIMIT_UNBLOCK,	/* unblock attempts, per number */
	STORE_LIMIT_RESEND,	/* new PINs asked for (a receipt sent again), per number */
	STORE_LIMIT_API,	/* JSON API requests, per key name */
	STORE_LIMIT_OTP,	/* one-time codes asked for, per number (issue 18) */
};

/* Counts one hit of who (an E.164 number, or an API key's name) on a counter that starts
 * when first hit and lasts window_s seconds (an atomic Lua script: INCR, then PEXPIRE on the
 * first hit). count is the hits in the current window, this one included; ms_left how long
 * the window has left, so that a refusal can say when to try again. */
typedef void (*store_limit_cb)(void *arg, int err, long long count, long long ms_left);
int store_limit_hit(struct store *st, enum store_limit what, const char *who, size_t len,
		    unsigned window_s, store_limit_cb cb, void *arg);

/* A secret checked against its stored digest with the try counted in the same step (one Lua
 * script), so that however many requests arrive at once, over however many connections, at
 * most `tries` candidates are compared per counter and window_s. Only failures use the
 * budget: a match or a missing record gives the try back. left is the tries that remain
 * after this one; ms_left the time until the counter's window ends (mismatch, locked). */
enum store_verify_result {
	STORE_VERIFY_NONE,	/* no record to compare with */
	STORE_VERIFY_MATCH,
	STORE_VERIFY_MISMATCH,
	STORE_VERIFY_LOCKED,	/* the budget is used up: nothing was compared */
	STORE_VERIFY_PEEKED,	/* an empty candidate: nothing counted or compared */
};
typedef void (*store_verify_cb)(void *arg, int err, enum store_verify_result res,
				long long left, long long ms_left);

/* The national ID digits of an MSISDN: cand is the keyed digest of what was typed
 * (domain/kyc.h), of the last digits (tail) or of the whole ID; candlen 0 (what was typed is
 * no ID) only reads the counter, so that the reply can say truthfully how many tries are
 * left. who names the counter
 * ("own": the owner's own line, "oth": any other), so that strangers' failures never use up
 * the owner's own budget. The counter shares the KYC record's slot. */
int store_verify_kyc(struct store *st, uint64_t msisdn, const char *who, const void *cand,
		     size_t candlen, bool tail, unsigned tries, unsigned window_s,
		     store_verify_cb cb, void *arg);

/* The unblock PIN of the IMEI's report: digest is the hex digest the report keeps ("pin"
 * field); who as above ("own": the report's owner or reporter). */
int store_verify_pin(struct store *st, const char *imei, const char *who, const char *digest,
		     size_t len, unsigned tries, unsigned window_s, store_verify_cb cb, void *arg);

/* ---- a one-time code to an owner's line (issue 18) ---- */

/* A code for line (E.164), asked for by requester: "own" when the requester is the line,
 * "oth" for every other line together (two records and budgets, so that strangers cannot
 * use up or replace the owner's own). Only the code's keyed digest is kept. */
struct store_otp {
	const char *line, *who, *requester;
	const char *digest;
	size_t digestlen;
	unsigned ttl_s;			/* the code's life */
	unsigned max_codes, window_s;	/* codes sent to the line per window (per who) */
	unsigned tries;			/* verify-tries: a code with this many wrong is locked */
	const char *stream;		/* the outbox stream */
	struct store_sms sms;		/* the SMS that carries the code, to line */
};
enum store_otp_result {
	STORE_OTP_SENT,		/* ms: the code's life */
	STORE_OTP_LIMITED,	/* max_codes were sent in the window: ms until it ends */
	STORE_OTP_LOCKED,	/* the current code's tries are used up: ms until it expires */
};
typedef void (*store_otp_cb)(void *arg, int err, enum store_otp_result res, long long ms);

/* Issues a code in one step (one Lua script on the line's slot): counts it against the
 * line's window, replaces any previous code, and writes the SMS into the line's outbox,
 * which the store relays to the outbox stream exactly once, as a report's. */
int store_otp_issue(struct store *st, const struct store_otp *o, store_otp_cb cb, void *arg);

/* Compares the digest of a typed code with the line's current code, the try counted in the
 * same step: at most tries wrong per code; a match deletes the code. Only the requester
 * that asked for the code compares; anyone else gets STORE_VERIFY_NONE (as for an expired
 * code). */
int store_verify_otp(struct store *st, const char *line, const char *who, const char *requester,
		     const char *digest, size_t len, unsigned tries, store_verify_cb cb, void *arg);

/* ---- neighbours' decisions (issue 19, doc/exchange.md) ---- */

/* The countries whose decisions store_foreign_get reads: the feed-peers' (at most
 * PAIRS_FOREIGN_MAX, two letters each; copied). */
void store_foreign_countries(struct store *st, const char *const *countries, size_t n);
/* What the neighbours' feeds say of an IMEI (its 14-digit body): the countries that block it
 * (store/pairs.h), in one command; n 0 for none. */
typedef void (*store_foreign_cb)(void *arg, int err, const struct foreign_rec *recs, size_t n);
int store_foreign_get(struct store *st, uint64_t imei_body, store_foreign_cb cb, void *arg);
/* Applies a peer's entries (at most STORE_FEED_ENTRIES_MAX, in its log's order): a block
 * sets the IMEI's field of the country, an unblock deletes it (a command per bucket and run
 * of blocks or unblocks); answered once all are, with the first error. Applying the same
 * entries again in the same order leaves the same state. */
struct feed_entry;
int store_foreign_apply(struct store *st, const struct feed_entry *e, size_t n,
			store_done_cb cb, void *arg);
/* Puts each of a peer's entries first, first + 1, ... (its log's indexes) on the stream,
 * once per origin and index (at most STORE_FEED_ENTRIES_MAX: a transaction, MULTI, their
 * XADDs and a script that keeps a next-index key per origin in the stream's slot, EXEC):
 * count is how many were new. */
int store_foreign_queue(struct store *st, const char *stream, const char *origin,
			uint64_t first, const struct feed_entry *e, size_t n, store_count_cb cb,
			void *arg);

/* What a follower keeps of each neighbour's feed, shared by every ceirgw process: the hash
 * peer:{<origin>} (doc/redis-keys.md) with the accepted tree's size, its right edge
 * (feed/frontier.h bytes) and signed checkpoint, the follower's state line, and "halted"
 * while an equivocation waits for an operator. */
/* One poll per peer at a time and per interval among all processes: SET NX PX (count 1 when
 * this process polls), renewed while the poll runs, then left for what is left of the
 * interval (store_peer_lock_renew). */
int store_peer_lock(struct store *st, const char *origin, const char *holder, unsigned ttl_ms,
		    store_count_cb cb, void *arg);
/* The holder's poll lock lives ttl_ms more (0: let go); count 1 when it was still the
 * holder's. cb may be NULL. */
int store_peer_lock_renew(struct store *st, const char *origin, const char *holder,
			  unsigned ttl_ms, store_count_cb cb, void *arg);
int store_peer_get(struct store *st, const char *origin, store_fields_cb cb, void *arg);
/* The accepted tree: never a smaller one than stored (count 0 then); note NULL keeps the
 * stored checkpoint (a tree accepted part-way). */
int store_peer_save(struct store *st, const char *origin, uint64_t size, const void *frontier,
		    size_t flen, const char *note, size_t notelen, store_count_cb cb, void *arg);
/* "state" (the follower's state line), "polled" (when, Unix seconds) or "witness" (the
 * newest checkpoint the peer showed, signed); value NULL: deleted. */
int store_peer_set(struct store *st, const char *origin, const char *field, const char *value,
		   size_t len, store_done_cb cb, void *arg);
/* Halts the peer, in one command: "halted" (why, NUL-terminated), "halted-at" (now, Unix
 * seconds) and the evidence, kept for the operator (ceirgwctl feed resume shows it): "shown",
 * the checkpoint the peer signed for us, and "other", the one it signed for someone else
 * (len 0: none, the other root is the accepted tree's own). Only the operator clears it. */
int store_peer_halt(struct store *st, const char *origin, const char *why, const char *shown,
		    size_t shownlen, const char *other, size_t otherlen, store_done_cb cb,
		    void *arg);

/* ---- the country's feed log (issue 19, doc/exchange.md) ---- */

/* Values lent for the call (each item's value; names unset). */
typedef void (*store_items_cb)(void *arg, int err, const struct store_kv *items, size_t n);

/* Appends an entry to the log once per id, however often it is called (the id is remembered
 * for a week): s is the entry's index (decimal), changed false for a repeat. The relay calls
 * it for the entries a report's move wrote (store_report_transition_out). */
int store_feed_append(struct store *st, const char *id, const char *entry, size_t len,
		      store_result_cb cb, void *arg);
/* Entries in the log. */
int store_feed_size(struct store *st, store_count_cb cb, void *arg);
/* Entries start .. start + count - 1 (fewer past the end), in order. */
#define STORE_FEED_ENTRIES_MAX 4096
int store_feed_entries(struct store *st, uint64_t start, unsigned count, store_items_cb cb,
		       void *arg);
/* A hash tile's bytes (tile level, index): the hashes known so far, 32 bytes each, at most
 * 256; found false for none. */
int store_feed_tile_get(struct store *st, unsigned level, uint64_t n, store_data_cb cb,
			void *arg);
/* Writes hashes (len / 32 of them) into the tile from hash first on: the same bytes again
 * change nothing. */
int store_feed_tile_put(struct store *st, unsigned level, uint64_t n, unsigned first,
			const void *hashes, size_t len, store_done_cb cb, void *arg);
/* The signed checkpoint; found false before the first. */
int store_feed_checkpoint_get(struct store *st, store_data_cb cb, void *arg);
/* Replaces it with note, of tree size size, unless the stored one is of a larger tree: count
 * 1 written, 0 refused. */
int store_feed_checkpoint_put(struct store *st, uint64_t size, const char *note, size_t len,
			      store_count_cb cb, void *arg);
/* The checkpointer's lock: take (SET NX PX ttl_ms: count 1 when taken, 0 when another holds
 * it) or release (only by its holder). */
int store_feed_lock(struct store *st, const char *holder, unsigned ttl_ms, bool take,
		    store_count_cb cb, void *arg);

#endif
