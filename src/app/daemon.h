/* The ceirgw daemon: one libevent loop that owns the HTTP server, the store and (with the
 * embedded default) a private redis-server; SIGTERM/SIGINT stop it cleanly, SIGHUP reloads
 * the configuration and the TAC table, keeping the running ones when the new ones are bad. */
#ifndef CEIRGW_APP_DAEMON_H
#define CEIRGW_APP_DAEMON_H

#include "core/config.h"

struct daemon;

/* Loads the configuration (path may be NULL) and the TAC table. Returns a talloc child of ctx
 * or NULL with a reason in err. */
struct daemon *daemon_create(void *ctx, const char *path, const struct config_overrides *ov,
			     char *err, size_t errsz);

const struct ceirgw_config *daemon_config(const struct daemon *d);

/* Starts Redis (embedded or not), the HTTP server and the signal handlers, then runs the loop
 * until SIGTERM or SIGINT. Returns 0 after a clean stop, -errno when it could not start or
 * stopped on a fatal error (the reason is logged). */
int daemon_run(struct daemon *d);

#endif
