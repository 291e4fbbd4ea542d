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

#endif
