/* A feed log's entry: see entry.h. */
#include "feed/entry.h"

#include <errno.h>
#include <string.h>

#include "domain/imei.h"

static const char *const status_names[] = { "blocked", "unblocked" };
static const char *const reason_names[] = { "stolen", "lost", "recovered" };

const char *feed_status_name(enum feed_status s)
{
	return (unsigned)s < 2 ? status_names[s] : NULL;
}

const char *feed_reason_name(enum feed_reason r)
{
	return (unsigned)r < 3 ? reason_names[r] : NULL;
}

int feed_reason_parse(const char *s, size_t len)
{
	for (int i = 0; i < 3; i++)
		if (strlen(reason_names[i]) == len && memcmp(s, reason_names[i], len) == 0)
			return i;
	return -1;
}

bool feed_country_valid(const char *s)
{
	return s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z' && s[2] == '\0';
}

static bool imei_ok(const char *s)
{
	for (int i = 0; i < 15; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return s[15] == '\0' && imei_check_digit(s) == s[14];
}

static bool leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static bool day_ok(int y, int m, int d)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (y < 2000 || y > 9999 || m < 1 || m > 12 || d < 1)
		return false;
	return d <= mdays[m - 1] + (m == 2 && leap(y));
}

/* Blocked for stolen or lost, unblocked for recovered: nothing else is a decision. */
static bool pair_ok(enum feed_status s, enum feed_reason r)
{
	return s == FEED_BLOCKED ? (r == FEED_STOLEN || r == FEED_LOST) :
	       s == FEED_UNBLOCKED && r == FEED_RECOVERED;
}

static char *put(char *p, const char *s, size_t len)
{
	memcpy(p, s, len);
	return p + len;
}

/* v (0 to 9999) in digits decimal digits. */
static char *put_num(char *p, int v, int digits)
{
	for (int i = digits - 1; i >= 0; i--, v /= 10)
		p[i] = (char)('0' + v % 10);
	return p + digits;
}

/* "CC IMEI status reason YYYY-MM-DD", without printf: a follower reads (and so writes back)
 * every entry of its neighbours' logs. */
int feed_entry_format(const struct feed_entry *e, char *out, size_t outsz)
{
	const char *st, *re;
	size_t stl, rel, n;
	char *p = out;

	if (!feed_country_valid(e->country) || !imei_ok(e->imei) || !pair_ok(e->status, e->reason) ||
	    !day_ok(e->year, e->month, e->day))
		return -EINVAL;
	st = status_names[e->status];
	re = reason_names[e->reason];
	stl = strlen(st);
	rel = strlen(re);
	n = 2 + 1 + 15 + 1 + stl + 1 + rel + 1 + 10;
	if (n >= outsz)
		return -ENOSPC;
	p = put(p, e->country, 2);
	*p++ = ' ';
	p = put(p, e->imei, 15);
	*p++ = ' ';
	p = put(p, st, stl);
	*p++ = ' ';
	p = put(p, re, rel);
	*p++ = ' ';
	p = put_num(p, e->year, 4);
	*p++ = '-';
	p = put_num(p, e->month, 2);
	*p++ = '-';
	p = put_num(p, e->day, 2);
	*p = '\0';
	return (int)n;
}

/* The next word of s[*pos..len): up to a space or the end; false when empty. */
static bool word(const char *s, size_t len, size_t *pos, const char **w, size_t *wl)
{
	size_t i = *pos;

	while (i < len && s[i] != ' ')
		i++;
	*w = s + *pos;
	*wl = i - *pos;
	*pos = i < len ? i + 1 : i;
	return *wl > 0;
}

static int number(const char *s, size_t len)
{
	int v = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int feed_entry_parse(const char *s, size_t len, struct feed_entry *e)
{
	const char *w[5];
	size_t wl[5], pos = 0;
	int r;
	char again[FEED_ENTRY_MAX];

	memset(e, 0, sizeof(*e));
	if (len == 0 || len >= FEED_ENTRY_MAX || s[len - 1] == ' ')
		return -EBADMSG;
	for (int i = 0; i < 5; i++)
		if (!word(s, len, &pos, &w[i], &wl[i]))
			return -EBADMSG;
	if (pos != len || wl[0] != 2 || wl[1] != 15 || wl[4] != 10 || w[4][4] != '-' ||
	    w[4][7] != '-')
		return -EBADMSG;
	memcpy(e->country, w[0], 2);
	memcpy(e->imei, w[1], 15);
	if (wl[2] == 7 && memcmp(w[2], "blocked", 7) == 0)
		e->status = FEED_BLOCKED;
	else if (wl[2] == 9 && memcmp(w[2], "unblocked", 9) == 0)
		e->status = FEED_UNBLOCKED;
	else
		return -EBADMSG;
	r = feed_reason_parse(w[3], wl[3]);
	if (r < 0)
		return -EBADMSG;
	e->reason = (enum feed_reason)r;
	e->year = number(w[4], 4);
	e->month = number(w[4] + 5, 2);
	e->day = number(w[4] + 8, 2);
	/* One spelling: what reads must format to the same bytes. */
	r = feed_entry_format(e, again, sizeof(again));
	if (r < 0 || (size_t)r != len || memcmp(again, s, len) != 0) {
		memset(e, 0, sizeof(*e));
		return -EBADMSG;
	}
	return 0;
}
