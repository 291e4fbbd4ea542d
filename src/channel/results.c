/* The CEIR's results (doc/ceir-queue.md): the results stream read through the consumer group
 * (ceir-group), one consumer per ceirgw process. Each entry goes to the engine, which moves
 * the report and sends the SMS, and is acknowledged only then. On start the process first
 * handles what it was given but did not acknowledge; every 30 s it takes over what another
 * consumer (a ceirgw that stopped: the consumer is named by host and pid) left pending for
 * over a minute, batch after batch with XAUTOCLAIM's cursor until the pending list's end, so
 * a backlog left by a crash drains at full speed. Reads never block the shared connection: a
 * read that finds nothing waits 250 ms. */
#include "channel/channels.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <talloc.h>

#include "core/logging.h"
#include "flow/engine.h"
#include "store/store.h"

#define POLL_IDLE_MS 250
#define CLAIM_EVERY_S 30
#define CLAIM_IDLE_MS 60000

struct results {
	struct event_base *base;
	struct store *st;
	struct engine *e;
	struct channels *ch;	/* ch->cfg: the stream and group names (restart-only) */
	char consumer[96];
	struct event *timer;
	bool group_ok, pending_done, busy;
	time_t last_claim;
	bool claiming;		/* a claim scan is under way: go on from cursor */
	char cursor[48];
	/* The batch being handled, copied out of the reply. */
	struct entry {
		char id[48];
		char ref[16], imei[20], result[16], reason[48];
	} batch[STORE_ENTRIES_MAX];
	size_t n, next;
	unsigned long long handled;
};

static void poll_later(struct results *r, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	r->busy = false;
	evtimer_add(r->timer, &tv);
}

static void handle_next(struct results *r);

static void on_acked(void *arg, int err)
{
	struct results *r = arg;

	if (err < 0) {
		poll_later(r, 1000);
		return;
	}
	r->next++;
	r->handled++;
	handle_next(r);
}

static void ack(struct results *r)
{
	struct entry *e = &r->batch[r->next];

	if (store_group_ack(r->st, r->ch->cfg->ceir_results, r->ch->cfg->ceir_group, e->id,
			    strlen(e->id), on_acked, r) < 0)
		poll_later(r, 1000);
}

static void on_applied(void *arg, int err)
{
	struct results *r = arg;

	if (err < 0) {
		/* Redis went away: the entry stays pending and comes back. */
		poll_later(r, 1000);
		return;
	}
	ack(r);
}

static void handle_next(struct results *r)
{
	struct entry *e;
	int rc;

	if (r->next >= r->n) {
		/* A full batch means more may be waiting: read again at once. */
		poll_later(r, r->n == STORE_ENTRIES_MAX ? 0 : POLL_IDLE_MS);
		return;
	}
	e = &r->batch[r->next];
	rc = engine_ceir_result(r->e, e->ref, strlen(e->ref), e->imei, strlen(e->imei), e->result,
				strlen(e->result), e->reason, strlen(e->reason), on_applied, r);
	if (rc == -EINVAL) {
		LOGP(LOGC_CEIR, LOGL_ERROR, "results entry %s: not a result (ref '%s', result "
		     "'%s'); acknowledged and dropped", e->id, e->ref, e->result);
		ack(r);
	} else if (rc < 0) {
		poll_later(r, 1000);
	}
}

static void copy_field(const struct store_entry *se, const char *name, char *out, size_t outsz)
{
	out[0] = '\0';
	for (size_t i = 0; i < se->n; i++)
		if (se->kv[i].klen == strlen(name) && memcmp(se->kv[i].key, name, se->kv[i].klen) == 0) {
			size_t n = se->kv[i].vlen < outsz - 1 ? se->kv[i].vlen : outsz - 1;

			memcpy(out, se->kv[i].val, n);
			out[n] = '\0';
			for (size_t k = 0; k < n; k++)
				if ((unsigned char)out[k] < 0x20)
					out[k] = '?';
		}
}

static void on_entries(void *arg, int err, const struct store_entry *se, size_t n)
{
	struct results *r = arg;

	if (err < 0) {
		poll_later(r, 1000);
		return;
	}
	r->n = 0;
	r->next = 0;
	for (size_t i = 0; i < n && i < STORE_ENTRIES_MAX; i++) {
		struct entry *e = &r->batch[r->n];

		if (se[i].idlen >= sizeof(e->id))
			continue;
		memcpy(e->id, se[i].id, se[i].idlen);
		e->id[se[i].idlen] = '\0';
		copy_field(&se[i], "ref", e->ref, sizeof(e->ref));
		copy_field(&se[i], "imei", e->imei, sizeof(e->imei));
		copy_field(&se[i], "result", e->result, sizeof(e->result));
		copy_field(&se[i], "reason", e->reason, sizeof(e->reason));
		r->n++;
	}
	if (!r->pending_done && n == 0)
		r->pending_done = true;	/* own backlog handled: new entries from now on */
	handle_next(r);
}

static void on_claimed(void *arg, int err, const struct store_entry *se, size_t n,
		       const char *next)
{
	struct results *r = arg;

	if (err == 0 && next && strlen(next) < sizeof(r->cursor)) {
		snprintf(r->cursor, sizeof(r->cursor), "%s", next);
		r->claiming = strcmp(next, "0-0") != 0;
	} else {
		r->claiming = false;	/* the next round starts the scan afresh */
	}
	on_entries(r, err, se, n);
}

static void on_group(void *arg, int err)
{
	struct results *r = arg;

	if (err < 0) {
		poll_later(r, 1000);
		return;
	}
	r->group_ok = true;
	poll_later(r, 0);
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
	struct results *r = arg;
	time_t now = time(NULL);
	int rc;

	(void)fd;
	(void)what;
	if (r->busy)
		return;
	if (!store_is_up(r->st)) {
		r->group_ok = false;
		poll_later(r, 500);
		return;
	}
	r->busy = true;
	if (!r->group_ok) {
		rc = store_group_create(r->st, r->ch->cfg->ceir_results, r->ch->cfg->ceir_group, on_group,
					r);
	} else if (r->pending_done && (r->claiming || now - r->last_claim >= CLAIM_EVERY_S)) {
		if (!r->claiming)
			snprintf(r->cursor, sizeof(r->cursor), "0-0");
		r->last_claim = now;
		rc = store_group_claim_from(r->st, r->ch->cfg->ceir_results, r->ch->cfg->ceir_group,
					    r->consumer, CLAIM_IDLE_MS, r->cursor, on_claimed, r);
	} else {
		rc = store_group_read(r->st, r->ch->cfg->ceir_results, r->ch->cfg->ceir_group, r->consumer,
				      !r->pending_done, on_entries, r);
	}
	if (rc < 0)
		poll_later(r, 500);
}

static int results_destructor(struct results *r)
{
	if (r->timer)
		event_free(r->timer);
	return 0;
}

struct results *results_start(void *ctx, struct channels *ch)
{
	struct results *r = talloc_zero(ctx, struct results);
	char host[64] = "ceirgw";

	if (r == NULL)
		return NULL;
	r->base = ch->base;
	r->st = ch->store;
	r->e = ch->engine;
	r->ch = ch;
	r->last_claim = 0;	/* a backlog of a stopped ceirgw is taken over at once */
	gethostname(host, sizeof(host) - 1);
	snprintf(r->consumer, sizeof(r->consumer), "%s-%d", host, (int)getpid());
	r->timer = evtimer_new(r->base, tick, r);
	if (r->timer == NULL) {
		talloc_free(r);
		return NULL;
	}
	talloc_set_destructor(r, results_destructor);
	poll_later(r, 0);
	return r;
}

unsigned long long results_handled(const struct results *r)
{
	return r->handled;
}
