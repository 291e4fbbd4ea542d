/* What ceirgwctl's commands share in reading their options: the configuration -c names, one
 * Redis (--redis) or a Redis Cluster's seeds (--redis-cluster), and the region (--region)
 * numbers are read in. Each says what is wrong on standard error, prefixed "ceirgwctl: ". */
#ifndef CEIRGW_CTL_OPTIONS_H
#define CEIRGW_CTL_OPTIONS_H

struct ceirgw_config;

/* Loads the configuration at path, libgw started first (its cfg reader). Returns it, a talloc
 * child of ctx, or NULL after saying why. */
struct ceirgw_config *ctl_config_load(void *ctx, const char *path);

/* --redis and --redis-cluster (either may be NULL) exclude each other. Returns 0, or -EINVAL
 * after saying so. */
int ctl_redis_one(const char *redis, const char *redis_cluster);

/* The region numbers are read in: region (--region) when given, else the configuration's
 * default-region (cfg may be NULL), else KE. */
const char *ctl_region(const char *region, const struct ceirgw_config *cfg);

/* Returns 0 when libphonenumber knows region, or -EINVAL after saying it is not a region. */
int ctl_region_check(const char *region);

#endif
