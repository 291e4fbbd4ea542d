/* The scripted store of tests/unit/test_engine.c: a link-time substitute for src/store/store.c
 * (the engine's only way to Redis is store/store.h, so the test links this file instead of
 * the store sources). It keeps a small in-memory model of what the Lua scripts keep (pairings,
 * KYC digests, reports, references, sessions, counters, the CEIR queue, the outbox, the
 * neighbours' decisions), prints
 * every operation and its reply as one line, and answers from the event loop, never from
 * inside the call, as the real store does. It can be told to fail operations. */
#ifndef CEIRGW_TESTS_ENGINE_STORE_H
#define CEIRGW_TESTS_ENGINE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "store/store.h"

struct event_base;

/* The test's clock: what time() answers in the test binary (test_engine.c) and what the
 * model's "Redis TIME" is. */
extern long long test_now;

/* Creates the store on base, printing to out (a scenario's transcript). kyc_key digests the
 * national IDs estore_kyc records. A talloc child of ctx. */
struct store *estore_create(void *ctx, struct event_base *base, FILE *out,
			    const uint8_t *kyc_key, size_t kyc_keylen);
void estore_set_out(struct store *st, FILE *out);

/* Replies not yet delivered: the test runs the loop until there are none. */
size_t estore_queued(const struct store *st);

/* ---- the model ---- */
/* An IMEI (15 digits) seen with an MSISDN (E.164 with '+') from first to last (days since
 * 2000-01-01), by a SIM with imsi_tag (0: unknown). */
void estore_pair(struct store *st, const char *imei, const char *msisdn, uint16_t first,
		 uint16_t last, uint32_t imsi_tag);
/* A neighbour's decision on an IMEI (15 digits), as its feed's entry applies it (issue 19):
 * country blocks it (reason 'S' stolen, 'L' lost) since day (days since 2000-01-01), or with
 * reason '\0' no longer does. */
void estore_foreign(struct store *st, const char *imei, const char *country, char reason,
		    uint16_t day);
/* The national ID the operators' dump has for an MSISDN. */
void estore_kyc(struct store *st, const char *msisdn, const char *id);
/* A report as a script would leave it: "field=value" strings, NULL-terminated ("state=sent",
 * "ref=...", ...); ref:{ref} maps to the IMEI. */
void estore_report(struct store *st, const char *imei, const char *const *fields);
/* The IMEI's report field, or NULL. */
const char *estore_report_field(struct store *st, const char *imei, const char *field);
/* A counter of store_limit_hit, as if it had been hit count times. */
void estore_limit(struct store *st, enum store_limit what, const char *who, long long count,
		  unsigned window_s);
/* A USSD session's record as the engine would have written it ("k=v\n" lines). */
void estore_session(struct store *st, const char *sid, const char *msisdn, const char *data);
/* A USSD session's record as the engine wrote it last, or NULL (gone, or never). */
const char *estore_session_data(struct store *st, const char *sid, const char *msisdn);
/* The number's resume record gone (its TTL ran out, or another process dropped it). */
void estore_resume_drop(struct store *st, const char *msisdn);
/* A reference already taken (ref_reserve answers 0 for it). */
void estore_ref_taken(struct store *st, const char *ref, const char *imei);

/* ---- failures ---- */
enum estore_fail {
	EF_NONE,
	EF_DOWN,	/* the call returns -EAGAIN at once: Redis not connected */
	EF_TIMEOUT,	/* not run; answered -EAGAIN from the loop (the command timed out) */
	EF_LOST,	/* run, but the answer is lost: -EAGAIN from the loop */
};
/* Fails the nth next operation named op ("report_get", ...; NULL: any operation), or with
 * nth 0 every one of them until estore_fail_clear. */
void estore_fail(struct store *st, const char *op, unsigned nth, enum estore_fail how);
void estore_fail_clear(struct store *st);
/* Redis down altogether: store_is_up false, every operation -EAGAIN. */
void estore_down(struct store *st, bool down);

/* The one-time code the last SMS to line (who: "own" or "oth") carried, "" for none. */
const char *estore_otp_code(struct store *st, const char *line, const char *who, char out[7]);

#endif
