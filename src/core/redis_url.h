/* Redis addresses as operators write them: redis://[[user]:password@]host[:port][/db] and
 * unix://[[user]:password@]/path/to/socket[?db=N]. Userinfo is percent-decoded (RFC 3986). */
#ifndef CEIRGW_CORE_REDIS_URL_H
#define CEIRGW_CORE_REDIS_URL_H

enum redis_url_kind { REDIS_URL_TCP, REDIS_URL_UNIX };

struct redis_url {
	enum redis_url_kind kind;
	char host[256];		/* TCP: name or address, without IPv6 brackets */
	int port;		/* TCP: default 6379 */
	char path[108];		/* unix: socket path (sun_path's size) */
	char user[128];		/* "" for none (AUTH with the password only) */
	char password[256];	/* "" for none */
	int db;			/* SELECT, default 0 */
};

/* Parses s. Returns 0, or -EINVAL with a short reason in *why (a static string). */
int redis_url_parse(const char *s, struct redis_url *out, const char **why);

/* A Redis Cluster's seed nodes as operators write them (redis-cluster = ..., issue 16): a
 * comma-separated list of HOST:PORT ([IPv6]:PORT) or redis://[[user]:password@]host:port
 * items. The credentials, given on one item or on several alike, are used for every node
 * (a cluster's nodes share their ACL); a database other than 0 is refused (a cluster has
 * only database 0), as is a unix socket. */
#define REDIS_SEEDS_MAX 16
struct redis_seeds {
	unsigned n;
	struct redis_url seed[REDIS_SEEDS_MAX];	/* TCP, each with the shared credentials */
};

/* Parses s. Returns 0, or -EINVAL with a short reason in *why (a static string). */
int redis_seeds_parse(const char *s, struct redis_seeds *out, const char **why);

#endif
