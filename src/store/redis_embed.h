/* The embedded default: a private redis-server on a Unix socket under a data folder, with
 * the append-only file on, started by ceirgw when no Redis is configured and by the tests.
 * It dies with its parent (PR_SET_PDEATHSIG), so a killed ceirgw leaves no orphan. */
#ifndef CEIRGW_STORE_REDIS_EMBED_H
#define CEIRGW_STORE_REDIS_EMBED_H

#include <stdbool.h>
#include <sys/types.h>

struct redis_embed;

/* Starts server (the redis-server program) in dir (created 0700 if missing) and waits up to
 * timeout_ms until it answers PING on dir/redis.sock. Fails when another server already
 * answers there. Returns the handle (talloc child of ctx; freeing it stops the server) or
 * NULL with a one-line reason in err. */
struct redis_embed *redis_embed_start(void *ctx, const char *server, const char *dir,
				      int timeout_ms, char *err, size_t errsz);

/* True when a Redis answers PING on the socket path: a running ceirgw's embedded one. */
bool redis_embed_answers(const char *socket_path);

const char *redis_embed_socket(const struct redis_embed *re);
pid_t redis_embed_pid(const struct redis_embed *re);

/* Stops the server: SIGTERM, then SIGKILL after 5 s. Returns its exit status as waitpid
 * gives it, or -errno. Safe to call twice. */
int redis_embed_stop(struct redis_embed *re);

/* Tells the handle its server exited (the caller reaped it, e.g. on SIGCHLD). */
void redis_embed_reaped(struct redis_embed *re);

#endif
