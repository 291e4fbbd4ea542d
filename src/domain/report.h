/* A report's life cycle as a checked state machine (the way osmo-hlr's lu_fsm.c keeps its
 * states and allowed transitions in tables): the states a report goes through, the events
 * that move it, and the one decoder of the report hash (rep:{imei}, doc/redis-keys.md). The
 * tables below are the source of truth: the store writes a move only as one of these events
 * (its Lua scripts get the allowed states from here), the journeys compare enums. */
#ifndef CEIRGW_DOMAIN_REPORT_H
#define CEIRGW_DOMAIN_REPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "domain/kv.h"
#include "domain/msisdn.h"

/* X(state, name, open): REPORT_<state> is "name" in the hash; an open report is one the IMEI
 * cannot be reported again over (report_create answers its reference). */
#define REPORT_STATES(X) \
	X(RECEIVED, "received", true)		/* opened */ \
	X(VERIFIED, "verified", true)		/* evidence and PIN digest recorded */ \
	X(SENT, "sent", true)			/* block request queued for the CEIR */ \
	X(BLOCKED, "blocked", true)		/* the CEIR blocked it */ \
	X(UNBLOCK_SENT, "unblock_sent", true)	/* unblock request queued */ \
	X(UNBLOCKED, "unblocked", false)	/* the CEIR unblocked it: closed */ \
	X(REJECTED, "rejected", false)		/* the CEIR refused the report: closed */

#define REPORT_STATE_ENUM_(s, name, open) REPORT_##s,
enum report_state {
	REPORT_NONE,		/* no report (or a hash without a state) */
	REPORT_STATES(REPORT_STATE_ENUM_)
	REPORT_STATE_COUNT
};
#undef REPORT_STATE_ENUM_

/* A set of states: one bit per state (REPORT_NONE too: "no report"). */
#define REPORT_IN(s) (1u << REPORT_##s)

/* X(event, name, from, to): REPORT_EV_<event> moves a report in one of the states of the
 * set from to state to; in any other state it changes nothing. Each is what one place of the
 * journeys asks for (flow/actions.c, flow/entry.c), exactly as the literals it replaced:
 *   OPEN             store_report_create: a new report, unless one is open
 *   VERIFY           the report action (and its resume, the sweep): evidence and PIN digest
 *   SEND_RECEIPT     the block request queued, with the receipt SMS in the same step: only
 *                    from verified, so that a repeat does not queue the receipt twice
 *   SEND             the same without an outbox: a repeat records the entry id again
 *   UNBLOCK_REQUEST  the owner's PIN matched, the unblock request queued
 *   CEIR_BLOCKED, CEIR_UNBLOCKED, CEIR_REJECTED  the CEIR's results
 *   UNBLOCK_REJECTED the CEIR refused an unblock: the phone stays blocked
 * Only OPEN leaves a closed state. */
#define REPORT_EVENTS(X) \
	X(OPEN, "open", REPORT_IN(NONE) | REPORT_IN(UNBLOCKED) | REPORT_IN(REJECTED), RECEIVED) \
	X(VERIFY, "verify", REPORT_IN(RECEIVED) | REPORT_IN(VERIFIED), VERIFIED) \
	X(SEND_RECEIPT, "send_receipt", REPORT_IN(VERIFIED), SENT) \
	X(SEND, "send", REPORT_IN(VERIFIED) | REPORT_IN(SENT), SENT) \
	X(UNBLOCK_REQUEST, "unblock_request", REPORT_IN(SENT) | REPORT_IN(BLOCKED), UNBLOCK_SENT) \
	X(CEIR_BLOCKED, "ceir_blocked", \
	  REPORT_IN(RECEIVED) | REPORT_IN(VERIFIED) | REPORT_IN(SENT), BLOCKED) \
	X(CEIR_UNBLOCKED, "ceir_unblocked", \
	  REPORT_IN(SENT) | REPORT_IN(BLOCKED) | REPORT_IN(UNBLOCK_SENT), UNBLOCKED) \
	X(CEIR_REJECTED, "ceir_rejected", \
	  REPORT_IN(RECEIVED) | REPORT_IN(VERIFIED) | REPORT_IN(SENT) | REPORT_IN(BLOCKED), \
	  REJECTED) \
	X(UNBLOCK_REJECTED, "unblock_rejected", REPORT_IN(UNBLOCK_SENT), BLOCKED)

#define REPORT_EVENT_ENUM_(ev, name, from, to) REPORT_EV_##ev,
enum report_event {
	REPORT_EVENTS(REPORT_EVENT_ENUM_)
	REPORT_EVENT_COUNT
};
#undef REPORT_EVENT_ENUM_

/* "received"; "none" for REPORT_NONE; NULL out of range. */
const char *report_state_name(enum report_state s);
/* The state s[0..len) names; REPORT_NONE for anything else (unknown, empty, too long). */
enum report_state report_state_parse(const char *s, size_t len);
/* Whether a report in state s is open: neither unblocked nor rejected (and there is one). */
bool report_state_open(enum report_state s);

/* "verify"; NULL out of range. */
const char *report_event_name(enum report_event ev);
/* The set of states ev moves a report from (REPORT_IN bits); 0 out of range. */
unsigned report_event_from(enum report_event ev);
bool report_event_allows(enum report_event ev, enum report_state from);
/* The state ev moves a report to; REPORT_NONE out of range. */
enum report_state report_event_to(enum report_event ev);

/* Writes the names of the states of set, in the table's order, as "verified|sent" (what the
 * store's scripts compare with; REPORT_NONE has no name there and is left out) and a NUL.
 * Returns the length, or -ENOSPC. REPORT_SET_MAX holds every state's name. */
#define REPORT_SET_MAX 72
int report_states_format(unsigned set, char *out, size_t outsz);

/* ---- the report hash ---- */

#define REPORT_REF_LEN 10	/* a reference: 9 digits and a Luhn digit */

/* X(field, size): the hash's text fields, each as long as size bytes at most: what ceirgw
 * writes never is longer (the session's own bounds, flow/engine_int.h). */
#define REPORT_TEXT_FIELDS(X) \
	X(ref, REPORT_REF_LEN) \
	X(owner, MSISDN_E164_MAX)	/* the phone's owner, E.164 */ \
	X(reporter, MSISDN_E164_MAX)	/* the number the report came from */ \
	X(reason, 7)			/* "stolen", "lost" */ \
	X(police_ref, 24) \
	X(lang, 7)			/* the report's language */ \
	X(channel, 7)			/* "ussd", "sms", "api" */ \
	X(tac, 8) \
	X(rule, 23)			/* "pairing-window" */ \
	X(reported_at, 23)		/* ISO 8601 */ \
	X(last_seen, 10)		/* the owner's last day with the IMEI, YYYY-MM-DD */ \
	X(pin, 16)			/* the PIN's digest (hex) */ \
	X(kyc_matched, 7)		/* "yes" */ \
	/* Where the receipt goes when not to the reporter: the owner's line, proven by a \
	 * one-time code in the report's journey (issue 18). */ \
	X(receipt_to, MSISDN_E164_MAX) \
	X(request_entry, 47)		/* the block request's stream entry id */ \
	X(unblock_entry, 47)		/* the unblock request's */ \
	X(reject_reason, 47)		/* the CEIR's reason code, when it rejected the report */ \
	X(unblock_rejected, 47)		/* and when it refused an unblock */ \
	/* The last day a new line saw the phone (issue 22: ceirgwctl import's sightings), \
	 * YYYY-MM-DD: what STATUS tells the owner. */ \
	X(sighted, 10)

/* X(field): the hash's numbers (decimal). */
#define REPORT_NUMBER_FIELDS(X) \
	X(created)	/* Redis's clock, s */ \
	X(updated)	/* the last move, s */ \
	X(outseq)	/* SMS written into the report's outbox so far */

#define REPORT_TEXT_MEMBER_(f, size) char f[(size) + 1];
#define REPORT_NUMBER_MEMBER_(f) long long f;
struct report {
	enum report_state state;
	/* The hash has a state this version does not know (a newer version's, or damage):
	 * state is REPORT_NONE, and the readers count such a report as open, as one they
	 * cannot make sense of but must not take for none. */
	bool state_unknown;
	REPORT_TEXT_FIELDS(REPORT_TEXT_MEMBER_)
	REPORT_NUMBER_FIELDS(REPORT_NUMBER_MEMBER_)
};
#undef REPORT_TEXT_MEMBER_
#undef REPORT_NUMBER_MEMBER_

/* Reads a report hash's n fields (store_report_get's) into out, which it clears first.
 * Unknown fields are ignored; a value longer than its field's bound (or a number that is
 * not one) leaves that field empty (0), never truncated. Returns 0, or -EBADMSG when a
 * value was left out that way or the state is unknown: the rest is decoded all the same. */
int report_decode(struct report *out, const struct store_kv *kv, size_t n);

/* Whether the hash held a report at all (a state, known or not). */
static inline bool report_exists(const struct report *r)
{
	return r->state != REPORT_NONE || r->state_unknown;
}

#endif
