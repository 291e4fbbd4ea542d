/* The blocking store's command path, for the store's other files that read with it
 * (bulk_admin.c): internal to src/store, which alone builds key names and includes hiredis. */
#ifndef CEIRGW_STORE_BULK_INT_H
#define CEIRGW_STORE_BULK_INT_H

#include <stddef.h>

#include <hiredis/hiredis.h>

struct bulk;

/* Runs one command on argv[1], its key: on the master of the key's slot on a cluster,
 * following redirections, within the command timeout. want: the reply type expected (< 0:
 * any but an error). Returns 0 with the reply in *out (the caller frees it; freed when out
 * is NULL), or -EIO with the reason in bulk_error(). */
int bulk_command(struct bulk *b, const char *what, int want, size_t argc, const char **argv,
		 const size_t *lens, redisReply **out);

/* The same with the key at argv[key] (XINFO GROUPS <key>). */
int bulk_command_key(struct bulk *b, const char *what, int want, size_t argc,
		     const char **argv, const size_t *lens, size_t key, redisReply **out);

/* Commands sent together (one pipeline per node), each's key at argv[key]: on a cluster,
 * each to its slot's master, redirections followed. replies[i] gets command i's reply, an
 * error reply too (the caller frees them). Returns 0, or -EIO (err in bulk_error(); then no
 * reply is kept, and the connection that failed is dropped), -EINVAL past
 * BULK_PIPELINE_MAX, -ENOMEM. */
#define BULK_PIPELINE_MAX 512
struct bulk_pcmd {
	size_t argc;
	const char **argv;
	const size_t *lens;
	size_t key;
};
int bulk_pipeline(struct bulk *b, const char *what, size_t n, const struct bulk_pcmd *cmds,
		  redisReply **replies);

/* Every key that matches pattern, on the single Redis or on each master of a cluster
 * (SCAN), lent to cb; a negative from cb stops and is returned. A key may be given twice
 * (SCAN's guarantee). Returns 0, -EIO, or cb's. */
int bulk_scan(struct bulk *b, const char *pattern,
	      int (*cb)(void *arg, const char *key, size_t len), void *arg);

/* pairing-bucket-digits, as the connection was made with (the KYC keys' buckets). */
int bulk_bucket_digits(const struct bulk *b);

/* Sets what bulk_error() says. */
void bulk_set_error(struct bulk *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
