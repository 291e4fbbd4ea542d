/* ceirgwctl's way to the store (ctl/store.h): the same choice of Redis as ceirgw makes with
 * the same configuration, blocking connections (store/bulk.h). */
#include "config.h"

#include "ctl/store.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <talloc.h>

#include "core/config.h"
#include "core/redis_url.h"
#include "store/bulk.h"
#include "store/redis_embed.h"

int ctl_store_connect(void *ctx, struct ctl_store *s, const struct bulk_options *opts)
{
	struct bulk_options o = *opts;
	const char *url_s = s->redis, *seeds_s = s->redis_cluster, *why = NULL;
	struct redis_seeds *seeds;
	struct redis_url url;
	char err[1024], *sock;

	if (s->cfg) {
		o.bucket_digits = (int)s->cfg->pairing_bucket_digits;
		o.dup_min_ids = (unsigned)s->cfg->duplicate_min_ids;
		o.dup_by_imsi = s->cfg->duplicate_by_imsi;
		/* Either option on the command line replaces both of the file's settings. */
		if (url_s == NULL && seeds_s == NULL) {
			url_s = s->cfg->redis;
			seeds_s = s->cfg->redis_cluster;
		}
	}
	if (seeds_s) {
		/* 16 seeds of 500 bytes: off the stack. */
		seeds = talloc(ctx, struct redis_seeds);
		if (seeds == NULL) {
			fprintf(stderr, "ceirgwctl: out of memory\n");
			return -EIO;
		}
		/* Not echoed: the list may carry the cluster's password. */
		if (redis_seeds_parse(seeds_s, seeds, &why) < 0) {
			fprintf(stderr, "ceirgwctl: %s: %s\n",
				s->redis_cluster ? "--redis-cluster" : "redis-cluster", why);
			talloc_free(seeds);
			return -EINVAL;
		}
		s->bulk = bulk_connect_cluster(ctx, seeds, &o, 5000, err, sizeof(err));
		explicit_bzero(seeds, sizeof(*seeds));
		talloc_free(seeds);
		if (s->bulk == NULL) {
			fprintf(stderr, "ceirgwctl: Redis Cluster: %s\n", err);
			return -EIO;
		}
		return 0;
	}
	if (url_s) {
		/* Not echoed: the URL may carry the password. */
		if (redis_url_parse(url_s, &url, &why) < 0) {
			fprintf(stderr, "ceirgwctl: --redis: %s\n", why);
			return -EINVAL;
		}
	} else {
		const char *dir = s->cfg ? s->cfg->data_dir : "/var/lib/ceirgw";

		sock = talloc_asprintf(ctx, "%s/redis.sock", dir);
		if (sock == NULL || strlen(sock) >= sizeof(url.path)) {
			fprintf(stderr, "ceirgwctl: %s: path too long\n", dir);
			return -EINVAL;
		}
		if (!redis_embed_answers(sock)) {
			/* A command that writes (import) starts one, making data-dir if need be. A
			 * read starts one only on the data of a stopped ceirgw, in the data-dir of
			 * the configuration it was given: an empty Redis in a data-dir made for it
			 * would only answer "nothing". */
			struct stat sb;
			bool have_data = s->cfg && stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode);

			if (!s->start_embedded && s->cfg == NULL) {
				fprintf(stderr, "ceirgwctl: no ceirgw runs with its embedded Redis at "
					"%s: give -c FILE (ceirgw's configuration), --redis URL or "
					"--redis-cluster SEEDS\n", sock);
				return -ENOENT;
			}
			if (!s->start_embedded && !have_data) {
				fprintf(stderr, "ceirgwctl: no Redis answers on %s: the configuration "
					"names no redis or redis-cluster, ceirgw's embedded Redis is "
					"not running and data-dir %s holds no data (start ceirgw, or "
					"give --redis URL or --redis-cluster SEEDS)\n", sock, dir);
				return -ENOENT;
			}
			s->embed = redis_embed_start(ctx, s->cfg ? s->cfg->redis_server :
						     CEIRGW_REDIS_SERVER, dir, 10000, err,
						     sizeof(err));
			if (s->embed == NULL) {
				fprintf(stderr, "ceirgwctl: embedded Redis: %s\n", err);
				return -EIO;
			}
		}
		memset(&url, 0, sizeof(url));
		url.kind = REDIS_URL_UNIX;
		snprintf(url.path, sizeof(url.path), "%s", sock);
	}
	s->bulk = bulk_connect(ctx, &url, &o, 5000, err, sizeof(err));
	if (s->bulk == NULL) {
		fprintf(stderr, "ceirgwctl: %s\n", err);
		return -EIO;
	}
	return 0;
}
