/* What ceirgwctl's admin commands read and clear in the store (issue 20): streams (the CEIR
 * queue, the outboxes), a report with its past references, its outbox and its wrong-try
 * counters, and the lock-outs of a number or a report. Blocking, on the bulk connections
 * (bulk.h): one Redis or a Redis Cluster, every command with its timeout. The key names are
 * built here only (doc/redis-keys.md); stream names come from the configuration. */
#ifndef CEIRGW_STORE_BULK_ADMIN_H
#define CEIRGW_STORE_BULK_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/kv.h"

struct bulk;

/* ---- streams ---- */

#define BULK_ID_MAX 47		/* a stream entry id: two 20-digit numbers and a dash */
#define BULK_NAME_MAX 64	/* a consumer group's name as shown; longer ones are cut */
#define BULK_GROUPS_MAX 16	/* groups described; more are counted only */

struct bulk_group {
	char name[BULK_NAME_MAX + 1];	/* as Redis has it: show it with care */
	bool name_cut;			/* longer than BULK_NAME_MAX (or with a NUL) */
	long long consumers, pending;
	long long lag;			/* entries not yet delivered to it; -1 unknown */
	char last_id[BULK_ID_MAX + 1];	/* the last entry delivered to it */
	char oldest_id[BULK_ID_MAX + 1];	/* its oldest pending entry; "" none */
	long long oldest_idle_ms;	/* since that entry was last delivered; -1 none */
};

struct bulk_stream {
	bool exists;
	long long length;
	char first_id[BULK_ID_MAX + 1];	/* the oldest entry; "" when empty */
	char last_id[BULK_ID_MAX + 1];	/* the newest */
	struct bulk_group groups[BULK_GROUPS_MAX];
	size_t ngroups;			/* described in groups */
	size_t groups_total;		/* the stream has */
};

/* Describes the stream (TYPE, XLEN, XRANGE/XREVRANGE COUNT 1, XINFO GROUPS, XPENDING per
 * group). Returns 0 (a stream that does not exist: exists false), -EMEDIUMTYPE when the key
 * holds something else, or -EIO. */
int bulk_stream_info(struct bulk *b, const char *stream, struct bulk_stream *out);

/* The entry id's time in ms (its first part); -1 when it is no entry id. */
long long bulk_id_ms(const char *id);

#define BULK_LAST_MAX 1000		/* entries bulk_stream_last reads at most */
#define BULK_ENTRY_FIELDS_MAX 64	/* fields of an entry lent; more are left out */

/* The stream's last n entries (n at most BULK_LAST_MAX), oldest first, each lent to
 * cb(arg, id, fields, nfields). Returns how many, or -EINVAL, -EIO. */
int bulk_stream_last(struct bulk *b, const char *stream, unsigned n,
		     void (*cb)(void *arg, const char *id, const struct store_kv *kv, size_t n),
		     void *arg);

/* ---- reports ---- */

/* The IMEI (15 digits and a NUL) of the report with reference ref[0..len) (ref:{<ref>}).
 * Returns 0, -ENOENT for none, -EINVAL for a ref that cannot name a key, or -EIO. */
int bulk_report_imei(struct bulk *b, const char *ref, size_t len, char imei[16]);

/* The IMEI's report hash (rep:{<imei>}), its fields lent to cb (for report_decode). Returns
 * the number of fields (0: no report), -EINVAL for an IMEI that is not 15 digits, or -EIO. */
#define BULK_REPORT_FIELDS_MAX 64
int bulk_report_fields(struct bulk *b, const char *imei,
		       void (*cb)(void *arg, const struct store_kv *kv, size_t n), void *arg);

/* The references of the IMEI's closed reports (rep:{<imei>}:past), the latest max lent to
 * cb oldest first. Returns how many there are in all, or -EINVAL, -EIO. */
int bulk_report_past(struct bulk *b, const char *imei, unsigned max,
		     void (*cb)(void *arg, const char *ref, size_t len), void *arg);

/* The SMS waiting in the report's own outbox (rep:{<imei>}:out), field and value lent to
 * cb (the value is "<stream>\n<to>\n<text>": the text may hold a PIN; show none of it).
 * Returns how many, or -EINVAL, -EIO. */
int bulk_report_outbox(struct bulk *b, const char *imei,
		       void (*cb)(void *arg, const char *f, size_t flen, const char *v,
				  size_t vlen),
		       void *arg);

/* The report's sightings (rep:{<imei>}:seen, issue 22), field ("<+line>|<imsi>": personal
 * data, mask it) and value ("<first>|<last>|<operator>") lent to cb. Returns how many, or
 * -EINVAL, -EIO. */
int bulk_report_sightings(struct bulk *b, const char *imei,
			  void (*cb)(void *arg, const char *f, size_t flen, const char *v,
				     size_t vlen),
			  void *arg);

/* Since when (ms, Redis's clock as the engine wrote it) the report is marked for the relay
 * (rep:relay): 0 and *ms, -ENOENT when it is not, -EINVAL, -EIO. */
int bulk_report_relay_mark(struct bulk *b, const char *imei, long long *ms);

/* ---- lock-outs (doc/trust.md) ---- */

#define BULK_LOCKS_MAX 16
#define BULK_LOCK_KEY_MAX 96

/* One counter or record that holds a number or a report back. */
struct bulk_lock {
	const char *what;		/* what it counts, for people (static) */
	long long count;		/* wrong tries (a limit: hits) counted */
	long long ms_left;		/* until it expires by itself; -1 never */
	bool locked;			/* at or over tries: refused until cleared or expired */
	char key[BULK_LOCK_KEY_MAX];	/* the store's: what bulk_locks_clear deletes */
};

/* What holds the number back: its owner's ID-digit counters (kyc:{..}:vf:<n>:own, :oth), its
 * one-time codes whose tries are used up (otp:{+n}:own, :oth; a code not locked is left
 * alone), and with limits the per-caller limits it hit (rl:{..:m:+n}). msisdn is e164's
 * digits as a number. Returns how many were found (into out, max), or -EINVAL, -EIO. */
int bulk_number_locks(struct bulk *b, uint64_t msisdn, const char *e164, unsigned tries,
		      bool limits, struct bulk_lock *out, size_t max);

/* What holds the IMEI's report back: its wrong-PIN counters (rep:{<imei>}:pin:own, :oth). */
int bulk_report_locks(struct bulk *b, const char *imei, unsigned tries, struct bulk_lock *out,
		      size_t max);

/* Deletes what l[0..n) found. Returns how many keys were deleted, or -EIO. */
int bulk_locks_clear(struct bulk *b, const struct bulk_lock *l, size_t n);

#endif
