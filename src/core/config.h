/* ceirgw's configuration: a `group = ceirgw` in Kannel's configuration syntax, read with
 * libgw's cfg module (so it can sit in, or beside, kannel.conf), then the command-line
 * overrides. One table lists every variable with its type and default (config.c). */
#ifndef CEIRGW_CORE_CONFIG_H
#define CEIRGW_CORE_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

#include "core/logging.h"

struct ceirgw_config {
	char *path;		/* the file read (absolute), or NULL for the built-in defaults */
	char *base_dir;		/* relative paths resolve from here: the file's folder, or cwd */

	char *http_listen;	/* "ADDR:PORT" of the HTTP server */
	char *redis;		/* redis://[user:pass@]host:port[/db] or unix:///path; NULL:
				 * start a private redis-server under data_dir */
	char *bearerbox;	/* "HOST:PORT" of bearerbox's smsbox-port, or NULL */
	char *data_dir;		/* absolute */
	char *tac_file;		/* absolute */
	char *default_region;	/* ISO 3166 alpha-2, for numbers typed without '+' */
	char *log_file;		/* absolute, or NULL for stderr */
	char *log_level_name;
	char *redis_server;	/* redis-server binary for the embedded default */
	char *kyc_key_file;	/* absolute, or NULL */
	char *pairing_bucket_digits_s;
	char *duplicate_min_ids_s;
	char *duplicate_identity;

	/* Parsed from the strings above. */
	char http_host[256];
	int http_port;
	enum log_level log_level;
	int pairing_bucket_digits;	/* see doc/redis-keys.md */
	unsigned duplicate_min_ids;	/* the duplicate rule (ITU-T Q.5052) */
	bool duplicate_by_imsi;
};

/* What the command line sets; NULL members leave the file's value. */
struct config_overrides {
	const char *redis;
	const char *http_listen;
	const char *bearerbox;
	const char *log_level;
};

/* Reads path (NULL: built-in defaults only), applies ov (may be NULL) and checks every value.
 * Returns the config as a talloc child of ctx, or NULL with a one-line reason in err naming
 * the file and the variable. libgw must be started (gw_start) first. */
struct ceirgw_config *config_load(void *ctx, const char *path, const struct config_overrides *ov,
				  char *err, size_t errsz);

/* Writes the effective configuration, one "name = value" line each, as --check-config shows
 * it. */
void config_dump(const struct ceirgw_config *cfg, FILE *out);

/* Parses "HOST:PORT" or "[IPv6]:PORT" with a port of 1..65535. Returns 0 or -EINVAL. */
int config_parse_hostport(const char *s, char *host, size_t hostsz, int *port);

/* The TAC table used when tac-file is not set: the installed copy, else the source tree's. */
const char *config_default_tac_file(void);

#endif
