/* The store: ceirgw's one connection to Redis, asynchronous on the daemon's libevent loop
 * (hiredis with its libevent adapter). Only this layer includes hiredis. This first part
 * keeps the connection up (AUTH, SELECT, reconnect with backoff) and answers health checks;
 * the operations named for what they mean come with the store issue. */
#ifndef CEIRGW_STORE_STORE_H
#define CEIRGW_STORE_STORE_H

#include <stdbool.h>

#include "core/redis_url.h"

struct event_base;
struct store;

/* Creates the store and starts connecting to url. Returns a talloc child of ctx (freeing it
 * disconnects) or NULL. */
struct store *store_create(void *ctx, struct event_base *base, const struct redis_url *url);

/* True once connected and authenticated, until the connection drops. */
bool store_is_up(const struct store *st);

/* Human-readable address for logs and health replies ("unix:/var/lib/ceirgw/redis.sock"),
 * never with the password. */
const char *store_address(const struct store *st);

/* Calls cb(arg, ok) once with whether Redis answered PING. ok is false at once when the
 * store is not up. Returns 0 or -ENOMEM. */
int store_ping(struct store *st, void (*cb)(void *arg, bool ok), void *arg);

#endif
