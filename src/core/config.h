/* ceirgw's configuration: a `group = ceirgw` in Kannel's configuration syntax, read with
 * libgw's cfg module (so it can sit in, or beside, kannel.conf), then the command-line
 * overrides. One table lists every variable with its type and default (config.c). Read from
 * kannel.conf itself, the box port and the USSD TLVs come from Kannel's own groups (core,
 * smsbox, smpp-tlv) unless the ceirgw group sets them, and must agree when it does. */
#ifndef CEIRGW_CORE_CONFIG_H
#define CEIRGW_CORE_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

#include "core/logging.h"

/* A rate limit: at most hits in seconds. */
struct config_rate {
	unsigned hits, seconds;
};

/* http-allow-ip: Kannel's box-allow-ip style, "127.0.0.1;::1;10.0.*.*" or "*". */
#define CONFIG_ALLOW_MAX 64
struct config_allow {
	bool all;
	unsigned n;
	struct config_allow_ip {
		int family;			/* AF_INET or AF_INET6 */
		unsigned char addr[16];
		unsigned char any;		/* AF_INET: bit i set when octet i is '*' */
	} ip[CONFIG_ALLOW_MAX];
};

/* verify-report: what proves a report's owner (issue 18, doc/trust.md). */
enum config_verify {
	CONFIG_VERIFY_ID,	/* the national ID digits */
	CONFIG_VERIFY_OTP,	/* a one-time code sent to the owner's line */
	CONFIG_VERIFY_ID_OTP,	/* both */
};

/* A neighbour's feed to follow (issue 19): a `group = feed-peer`. */
#define CONFIG_PEERS_MAX 32
struct config_peer {
	char *origin;		/* its log's name (the key's name) */
	char *url;		/* its feed's base: http://host:port/feed */
	char *key;		/* its verifier key line: origin+keyid+base64 */
	char *country;		/* ISO 3166-1 alpha-2 */
	long poll_interval;	/* seconds */
};

struct ceirgw_config {
	char *path;		/* the file read (absolute), or NULL for the built-in defaults */
	char *base_dir;		/* relative paths resolve from here: the file's folder, or cwd */

	char *http_listen;	/* "ADDR:PORT" of the HTTP server */
	char *admin_listen;	/* "ADDR:PORT" of the admin HTTP server (/metrics) */
	char *redis;		/* redis://[user:pass@]host:port[/db] or unix:///path; NULL:
				 * start a private redis-server under data_dir */
	char *bearerbox;	/* "HOST:PORT" of bearerbox's smsbox-port, or NULL */
	char *data_dir;		/* absolute */
	char *tac_file;		/* absolute */
	char *default_region;	/* ISO 3166 alpha-2, for numbers typed without '+' */
	char *log_file;		/* absolute, or NULL for stderr */
	char *log_level_name;
	char *log_format_name;	/* text or json */
	char *redis_cluster;	/* Redis Cluster seed nodes (redis_seeds_parse); exclusive with
				 * redis */
	char *redis_replicas_ack_s, *redis_replicas_timeout_s;
	char *redis_server;	/* redis-server binary for the embedded default */
	char *redis_timeout_s;
	char *kyc_key_file;	/* absolute, or NULL */
	char *pairing_bucket_digits_s;
	char *duplicate_min_ids_s;
	char *duplicate_identity;
	char *flows_dir;	/* absolute, or NULL: config_default_dir("flows") */
	char *templates_dir;	/* absolute, or NULL: config_default_dir("templates") */
	char *default_language;
	char *ussd_code;
	char *sms_code;
	char *session_ttl_s, *ownership_window_days_s, *verify_tries_s, *verify_lockout_s;
	char *report_sweep_after_s;
	char *verify_report, *otp_ttl_s, *rate_otp_line_s, *rate_otp_msisdn_s;
	char *rate_check_msisdn_s, *rate_check_imei_s, *rate_report_msisdn_s,
	     *rate_report_imei_s, *rate_verify_msisdn_s, *rate_unblock_msisdn_s,
	     *rate_resend_msisdn_s;
	char *ceir_requests, *ceir_results, *ceir_group;
	char *sendsms_url, *sendsms_username, *sendsms_password;
	char *api_keys_file;	/* absolute, or NULL */
	char *box_id, *box_heartbeat_s, *box_max_frame_s, *box_max_queue_s, *box_smsc_id;
	char *ussd_meta_group, *ussd_op_tlv, *ussd_session_tlv, *ussd_tlv_type;
	char *ussd_op_begin, *ussd_op_answer, *ussd_op_release, *ussd_op_continue,
	     *ussd_op_end;	/* lists of decimal values, checked by the box */
	/* The HTTP edge (doc/http.md). */
	char *http_max_connections_s, *http_request_timeout_s, *http_idle_timeout_s;
	char *http_max_per_address_s;
	char *http_allow_ip_s;
	char *ussd_token, *sms_token;	/* NULL: none required */
	char *api_key_quota_s;
	/* The cross-border feed (issue 19). */
	char *country;		/* ISO 3166-1 alpha-2; config_load fills it from default_region */
	char *feed_origin;	/* NULL: no feed */
	char *feed_key_file;	/* absolute, or NULL */
	char *feed_checkpoint_interval_s;
	char *ceir_foreign;	/* the stream of neighbours' verified decisions */
	char *ceir_sightings;	/* the stream of reported phones seen on new lines */
	struct config_peer *peers;	/* the feed-peer groups */
	size_t npeers;

	/* Per variable of the table (config.c), in its order: where the file set it
	 * ("FILE:LINE"), and where a value came from other than the ceirgw group (a kannel.conf
	 * group's, for --check-config); NULL when neither. */
	char **var_where, **var_note;

	/* Parsed from the strings above. */
	char http_host[256];
	int http_port;
	char admin_host[256];
	int admin_port;
	long http_max_connections, http_request_timeout, http_idle_timeout;
	long http_max_per_address;
	struct config_allow http_allow_ip;
	struct config_rate api_key_quota;
	enum log_level log_level;
	enum log_format log_format;
	long pairing_bucket_digits;	/* see doc/redis-keys.md */
	long redis_timeout;		/* ms: the store's command timeout */
	long redis_replicas_ack;	/* WAIT for this many replicas before "accepted" */
	long redis_replicas_timeout;	/* ms, WAIT's timeout */
	long duplicate_min_ids;		/* the duplicate rule (ITU-T Q.5052) */
	bool duplicate_by_imsi;
	long session_ttl, ownership_window_days, verify_tries, verify_lockout;
	long report_sweep_after;
	enum config_verify verify_mode;
	long otp_ttl;
	struct config_rate rate_otp_line, rate_otp_msisdn;
	long box_heartbeat, box_max_frame, box_max_queue;
	long feed_checkpoint_interval;
	struct config_rate rate_check_msisdn, rate_check_imei, rate_report_msisdn,
			   rate_report_imei, rate_verify_msisdn, rate_unblock_msisdn,
			   rate_resend_msisdn;
};

/* What the command line sets; NULL members leave the file's value. */
struct config_overrides {
	const char *redis;
	const char *redis_cluster;	/* either replaces both of the file's */
	const char *http_listen;
	const char *admin_listen;
	const char *bearerbox;
	const char *log_level;
};

/* Reads path (NULL: built-in defaults only), applies ov (may be NULL) and checks every value.
 * Returns the config as a talloc child of ctx, or NULL with a one-line reason in err naming
 * the file and the variable. libgw must be started (gw_start) first. */
struct ceirgw_config *config_load(void *ctx, const char *path, const struct config_overrides *ov,
				  char *err, size_t errsz);

/* Whether default-region may be region (upper case): a region libphonenumber knows. Only the
 * domain can tell (msisdn_region_known), and core includes nothing from above itself, so core
 * declares what it needs and leaves the definition to the layer that wires core and domain
 * together: src/app/config_region.c, which sits in libceirgw.la beside config.c. Whatever
 * links config_load (the programs, the tests) therefore gets the check with nothing to set
 * up, and config_load still refuses a bad default-region in its place among the variables,
 * with its usual message. A program that links core without src/app defines its own. */
bool config_region_known(const char *region);

/* Writes the effective configuration, one "name = value" line each, as --check-config shows
 * it. */
void config_dump(const struct ceirgw_config *cfg, FILE *out);

/* Parses "HOST:PORT" or "[IPv6]:PORT" with a port of 1..65535. Returns 0 or -EINVAL. */
int config_parse_hostport(const char *s, char *host, size_t hostsz, int *port);

/* Parses a list of USSD operation values ("32,33"): stores up to outsz of them in out (which
 * may be NULL) and returns how many the list has, at most CONFIG_OPS_MAX; -EINVAL when it is
 * not such a list. */
#define CONFIG_OPS_MAX 8
int config_parse_ops(const char *s, unsigned char *out, size_t outsz);

/* Parses an http-allow-ip list into out (which may be NULL). Returns 0 or -EINVAL. */
int config_parse_allow(const char *s, struct config_allow *out);

/* The TAC table used when tac-file is not set: the installed copy, else the source tree's. */
const char *config_default_tac_file(void);

/* The HMAC key file for national IDs and PINs: kyc-key-file, else with the embedded Redis
 * (no redis set) data-dir/kyc.key, which ceirgw creates on first start; NULL when neither.
 * Returns a talloc child of ctx. */
char *config_kyc_key_file(void *ctx, const struct ceirgw_config *cfg);

/* The shipped folder (name is "flows" or "templates") used when flows-dir or templates-dir is
 * not set: the installed copy, else the source tree's. */
const char *config_default_dir(const char *name);

#endif
