/* A report's life cycle: the state and event tables of report.h, and the decoder of the
 * report hash (doc/redis-keys.md). Pure: no I/O. */
#include "domain/report.h"

#include <errno.h>
#include <string.h>

struct state_row {
	const char *name;
	bool open;
};

#define STATE_ROW_(s, name, open) [REPORT_##s] = { name, open },
static const struct state_row states[REPORT_STATE_COUNT] = {
	[REPORT_NONE] = { "none", false },
	REPORT_STATES(STATE_ROW_)
};
#undef STATE_ROW_

struct event_row {
	const char *name;
	unsigned from;
	enum report_state to;
};

#define EVENT_ROW_(ev, name, from, to) [REPORT_EV_##ev] = { name, from, REPORT_##to },
static const struct event_row events[REPORT_EVENT_COUNT] = {
	REPORT_EVENTS(EVENT_ROW_)
};
#undef EVENT_ROW_

/* A set is an unsigned: every state has its bit. */
_Static_assert(REPORT_STATE_COUNT <= 32, "a set of states is 32 bits");

const char *report_state_name(enum report_state s)
{
	return (unsigned)s < REPORT_STATE_COUNT ? states[s].name : NULL;
}

enum report_state report_state_parse(const char *s, size_t len)
{
	for (int i = REPORT_NONE + 1; i < REPORT_STATE_COUNT; i++) {
		if (strlen(states[i].name) == len && memcmp(states[i].name, s, len) == 0)
			return (enum report_state)i;
	}
	return REPORT_NONE;
}

bool report_state_open(enum report_state s)
{
	return (unsigned)s < REPORT_STATE_COUNT && states[s].open;
}

const char *report_event_name(enum report_event ev)
{
	return (unsigned)ev < REPORT_EVENT_COUNT ? events[ev].name : NULL;
}

unsigned report_event_from(enum report_event ev)
{
	return (unsigned)ev < REPORT_EVENT_COUNT ? events[ev].from : 0;
}

bool report_event_allows(enum report_event ev, enum report_state from)
{
	return (unsigned)from < REPORT_STATE_COUNT && (report_event_from(ev) & (1u << from));
}

enum report_state report_event_to(enum report_event ev)
{
	return (unsigned)ev < REPORT_EVENT_COUNT ? events[ev].to : REPORT_NONE;
}

int report_states_format(unsigned set, char *out, size_t outsz)
{
	size_t len = 0;

	if (outsz == 0)
		return -ENOSPC;
	out[0] = '\0';
	for (int i = REPORT_NONE + 1; i < REPORT_STATE_COUNT; i++) {
		size_t nl;

		if (!(set & (1u << i)))
			continue;
		nl = strlen(states[i].name);
		if (len + (len > 0) + nl + 1 > outsz)
			return -ENOSPC;
		if (len > 0)
			out[len++] = '|';
		memcpy(out + len, states[i].name, nl + 1);
		len += nl;
	}
	return (int)len;
}

/* ---- the report hash ---- */

struct text_field {
	const char *name;
	size_t off, size;	/* the member, and its size with the NUL */
};

#define TEXT_FIELD_(f, size) { #f, offsetof(struct report, f), sizeof(((struct report *)0)->f) },
static const struct text_field text_fields[] = {
	REPORT_TEXT_FIELDS(TEXT_FIELD_)
};
#undef TEXT_FIELD_

struct number_field {
	const char *name;
	size_t off;
};

#define NUMBER_FIELD_(f) { #f, offsetof(struct report, f) },
static const struct number_field number_fields[] = {
	REPORT_NUMBER_FIELDS(NUMBER_FIELD_)
};
#undef NUMBER_FIELD_

static bool key_is(const struct store_kv *kv, const char *name)
{
	return kv->klen == strlen(name) && memcmp(kv->key, name, kv->klen) == 0;
}

/* A decimal number of at most 18 digits (no sign: times and counters), into *out. */
static bool parse_number(const char *s, size_t len, long long *out)
{
	long long v = 0;

	if (len == 0 || len > 18)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

int report_decode(struct report *out, const struct store_kv *kv, size_t n)
{
	int rc = 0;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		const struct store_kv *f = &kv[i];
		size_t k;

		if (key_is(f, "state")) {
			out->state = report_state_parse(f->val, f->vlen);
			/* An empty state was always read as none. */
			out->state_unknown = out->state == REPORT_NONE && f->vlen > 0;
			if (out->state_unknown)
				rc = -EBADMSG;
			continue;
		}
		for (k = 0; k < sizeof(text_fields) / sizeof(text_fields[0]); k++) {
			if (key_is(f, text_fields[k].name))
				break;
		}
		if (k < sizeof(text_fields) / sizeof(text_fields[0])) {
			char *dst = (char *)out + text_fields[k].off;

			if (f->vlen >= text_fields[k].size) {
				dst[0] = '\0';
				rc = -EBADMSG;
			} else {
				memcpy(dst, f->val, f->vlen);
				dst[f->vlen] = '\0';
			}
			continue;
		}
		for (k = 0; k < sizeof(number_fields) / sizeof(number_fields[0]); k++) {
			if (key_is(f, number_fields[k].name)) {
				long long *dst = (long long *)((char *)out + number_fields[k].off);

				if (!parse_number(f->val, f->vlen, dst)) {
					*dst = 0;
					rc = -EBADMSG;
				}
				break;
			}
		}
	}
	return rc;
}
