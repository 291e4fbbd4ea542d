/* One entry of a country's feed log (issue 19, doc/exchange.md): a national decision on an
 * IMEI, and nothing else (no number, reference, PIN, name or police number: ITU-T Q.5051's
 * privacy rule). Its bytes are one line of printable ASCII, the leaf the Merkle tree hashes:
 *
 *	<country> <imei> <status> <reason> <day>
 *	KE 356938035643809 blocked stolen 2026-12-02
 *
 * country: ISO 3166-1 alpha-2, upper case; imei: 15 digits with a valid check digit; status:
 * blocked or unblocked; reason: stolen, lost (blocked) or recovered (unblocked); day: the
 * decision's day, UTC. The parser takes exactly what the formatter writes, so that an entry
 * has one spelling and one hash. */
#ifndef CEIRGW_FEED_ENTRY_H
#define CEIRGW_FEED_ENTRY_H

#include <stdbool.h>
#include <stddef.h>

#define FEED_ENTRY_MAX 64	/* the longest entry, with room to spare */

enum feed_status { FEED_BLOCKED, FEED_UNBLOCKED };
enum feed_reason { FEED_STOLEN, FEED_LOST, FEED_RECOVERED };

struct feed_entry {
	char country[3];
	char imei[16];
	enum feed_status status;
	enum feed_reason reason;
	int year, month, day;
};

/* The entry's bytes into out (NUL-terminated). Returns the length, or -EINVAL for an entry
 * that could not be read back (a bad country, IMEI, day, or a reason its status cannot
 * have), -ENOSPC. */
int feed_entry_format(const struct feed_entry *e, char *out, size_t outsz);
/* s[0..len) as an entry, strictly. Returns 0 or -EBADMSG. */
int feed_entry_parse(const char *s, size_t len, struct feed_entry *e);

const char *feed_status_name(enum feed_status s);
const char *feed_reason_name(enum feed_reason r);
/* "stolen" -> FEED_STOLEN, ...; -1 for anything else. */
int feed_reason_parse(const char *s, size_t len);
/* Whether s is an upper-case ISO 3166-1 alpha-2 shape (two letters A-Z). */
bool feed_country_valid(const char *s);

#endif
