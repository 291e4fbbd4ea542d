/* ceirgwctl's way to the store, shared by its commands: --redis or --redis-cluster, else the
 * configuration's redis or redis-cluster, else the embedded Redis under data-dir. */
#ifndef CEIRGW_CTL_STORE_H
#define CEIRGW_CTL_STORE_H

#include <stdbool.h>
#include <stddef.h>

struct bulk;
struct bulk_options;
struct ceirgw_config;
struct redis_embed;

struct ctl_store {
	const char *redis;		/* --redis, or NULL */
	const char *redis_cluster;	/* --redis-cluster, or NULL; exclusive with redis */
	const struct ceirgw_config *cfg;	/* -c, or NULL */
	/* Without any Redis named: a running ceirgw's embedded Redis (data-dir/redis.sock), and
	 * when none answers, one started for the command (true: data-dir made if need be), or
	 * (false: the commands that only read) one started only on the data of a stopped ceirgw,
	 * in the existing data-dir of the configuration given, else a refusal: without a
	 * configuration nothing is ever started or created. */
	bool start_embedded;
	struct redis_embed *embed;	/* set when one was started; freed with ctx */
	struct bulk *bulk;		/* set on success */
};

/* Connects (o: the bulk options; the configuration's pairing settings replace its first
 * three). Says what went wrong on standard error, prefixed "ceirgwctl: ". Returns 0, -EINVAL
 * for a Redis URL or seed list that does not parse, -ENOENT when no embedded Redis answers
 * and none may be started, or -EIO when Redis could not be reached. */
int ctl_store_connect(void *ctx, struct ctl_store *s, const struct bulk_options *o);

#endif
