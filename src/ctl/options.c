/* What ceirgwctl's commands share in reading their options (options.h). */
#include "config.h"

#include "ctl/options.h"

#include <errno.h>
#include <stdio.h>

#include "core/config.h"
#include "core/gw.h"
#include "domain/msisdn.h"

struct ceirgw_config *ctl_config_load(void *ctx, const char *path)
{
	struct ceirgw_config *cfg;
	char err[1024];

	gw_start();
	cfg = config_load(ctx, path, NULL, err, sizeof(err));
	if (cfg == NULL)
		fprintf(stderr, "ceirgwctl: %s\n", err);
	return cfg;
}

int ctl_redis_one(const char *redis, const char *redis_cluster)
{
	if (redis == NULL || redis_cluster == NULL)
		return 0;
	fprintf(stderr, "ceirgwctl: --redis and --redis-cluster exclude each other: give one "
		"Redis, or a Redis Cluster's seed nodes\n");
	return -EINVAL;
}

const char *ctl_region(const char *region, const struct ceirgw_config *cfg)
{
	if (region != NULL)
		return region;
	return cfg ? cfg->default_region : "KE";
}

int ctl_region_check(const char *region)
{
	if (msisdn_region_known(region))
		return 0;
	fprintf(stderr, "ceirgwctl: --region %s: not a region code (two letters, e.g. KE)\n",
		region);
	return -EINVAL;
}
