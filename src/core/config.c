/* Reading `group = ceirgw` with Kannel's cfg module (gwlib/cfg.h). libgw only accepts groups
 * it knows, so ceirgw registers its group and variables with cfg_add_hooks() first, as
 * Kannel's add-on boxes do. Every variable is one row of the table below. */
#include "core/config.h"

#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <talloc.h>
#include <unistd.h>

#include "gwlib/gwlib.h"

#include "core/config_scan.h"
#include "core/gw.h"
#include "core/redis_url.h"

enum config_type {
	CT_HOSTPORT,	/* ADDR:PORT */
	CT_REDIS,	/* a Redis URL */
	CT_CLUSTER,	/* Redis Cluster seed nodes */
	CT_PATH,	/* a file or folder; relative to the config file's folder */
	CT_REGION,	/* ISO 3166 alpha-2 region: config_region_known() (config.h) */
	CT_LEVEL,	/* a log level name */
	CT_INT,		/* a decimal number within the variable's bounds */
	CT_IDENTITY,	/* imsi or msisdn */
	CT_WORD,	/* printable, no spaces, at most 64 bytes */
	CT_RATE,	/* HITS/SECONDS: a rate limit */
	CT_URL,		/* an http:// URL */
	CT_SECRET,	/* any printable text; never shown by --check-config */
	CT_OPS,		/* comma-separated values 0..255: USSD operations */
	CT_OP,		/* one value 0..255: a USSD operation */
	CT_TLVTYPE,	/* octetstring or integer: an smpp-tlv group's type */
	CT_ALLOW,	/* an address list in Kannel's box-allow-ip style */
	CT_VERIFY,	/* id, otp or id+otp: what a report's owner proves (issue 18) */
	CT_LOGFMT,	/* text or json */
};

struct config_var {
	const char *name;
	enum config_type type;
	size_t offset;		/* of the char * in struct ceirgw_config */
	const char *def;	/* NULL: unset unless the file sets it */
	const char *help;
	long min, max;		/* CT_INT */
	size_t target;		/* CT_INT: offset of the long it sets; CT_RATE: of the rate */
};

#define VAR(n, t, field, d, h) { n, t, offsetof(struct ceirgw_config, field), d, h, 0, 0, 0 }
#define INT(n, field, d, lo, hi, h) \
	{ n, CT_INT, offsetof(struct ceirgw_config, field##_s), d, h, lo, hi, \
	  offsetof(struct ceirgw_config, field) }
#define ALLOW(n, field, d, h) \
	{ n, CT_ALLOW, offsetof(struct ceirgw_config, field##_s), d, h, 0, 0, \
	  offsetof(struct ceirgw_config, field) }
#define RATE(n, field, d, h) \
	{ n, CT_RATE, offsetof(struct ceirgw_config, field##_s), d, h, 0, 0, \
	  offsetof(struct ceirgw_config, field) }

static const struct config_var vars[] = {
	VAR("http-listen", CT_HOSTPORT, http_listen, "127.0.0.1:8080",
	    "address and port of the HTTP server (health, USSD and SMS callbacks)"),
	VAR("admin-listen", CT_HOSTPORT, admin_listen, "127.0.0.1:9384",
	    "address and port of the admin HTTP server (/metrics for Prometheus); keep it on "
	    "loopback or a management network, apart from the public callbacks"),
	VAR("redis", CT_REDIS, redis, NULL,
	    "Redis to use; unset: start a private redis-server under data-dir"),
	VAR("redis-cluster", CT_CLUSTER, redis_cluster, NULL,
	    "Redis Cluster to use instead: seed nodes HOST:PORT[,HOST:PORT...] (or "
	    "redis://[user:password@]host:port items); exclusive with redis"),
	INT("redis-replicas-ack", redis_replicas_ack, "0", 0, 8,
	    "replicas that must acknowledge a report's or an unblock's writes (WAIT) before the "
	    "user hears it is accepted; 0: the master's answer is enough (1 recommended on a "
	    "cluster with replicas)"),
	INT("redis-replicas-timeout", redis_replicas_timeout, "200", 10, 30000,
	    "milliseconds the replicas have to acknowledge (redis-replicas-ack); past it the user "
	    "hears \"try later\" and the journey is completed later"),
	VAR("bearerbox", CT_HOSTPORT, bearerbox, NULL,
	    "bearerbox smsbox-port to connect to as a box; unset: no Kannel box connection"),
	VAR("data-dir", CT_PATH, data_dir, "/var/lib/ceirgw",
	    "folder for the embedded Redis (socket, append-only file, log)"),
	VAR("tac-file", CT_PATH, tac_file, NULL,
	    "TAC table (Osmocom tacdb CSV format); unset: the table shipped with ceirgw"),
	VAR("default-region", CT_REGION, default_region, "KE",
	    "country (ISO 3166 alpha-2) of numbers written without a country code"),
	VAR("log-file", CT_PATH, log_file, NULL, "log file; unset: standard error"),
	VAR("log-level", CT_LEVEL, log_level_name, "info", "debug, info, notice, warn or error"),
	VAR("log-format", CT_LOGFMT, log_format_name, "text",
	    "text (one line per event) or json (one JSON object per line: time, level, "
	    "program, pid, component, message), for log shippers"),
	VAR("redis-server", CT_PATH, redis_server, CEIRGW_REDIS_SERVER,
	    "redis-server program started for the embedded default"),
	INT("redis-timeout", redis_timeout, "1000", 100, 60000,
	    "milliseconds Redis has to answer a command (or to connect): past it the connection "
	    "is dropped and remade, and what waited on it answers \"try later\""),
	VAR("kyc-key-file", CT_PATH, kyc_key_file, NULL,
	    "file holding the HMAC key national IDs are digested with (16 bytes or more)"),
	INT("pairing-bucket-digits", pairing_bucket_digits, "5", 3, 8,
	    "pairings are bucketed by this many last digits: 10^N Redis hashes per direction"),
	INT("duplicate-min-ids", duplicate_min_ids, "2", 2, 32,
	    "an IMEI used by this many identities at once is flagged duplicated (Q.5052)"),
	VAR("duplicate-identity", CT_IDENTITY, duplicate_identity, "imsi",
	    "what counts as an identity for the duplicate rule: imsi (msisdn where a dump has "
	    "no IMSI) or msisdn"),
	VAR("flows-dir", CT_PATH, flows_dir, NULL,
	    "folder of the flows (*.yaml); unset: the flows shipped with ceirgw"),
	VAR("templates-dir", CT_PATH, templates_dir, NULL,
	    "folder of the texts, one <language>.yaml each; unset: the shipped ones"),
	VAR("default-language", CT_WORD, default_language, "en",
	    "language of a number that has not chosen one (a templates file's language)"),
	VAR("ussd-code", CT_WORD, ussd_code, "*384#", "the USSD short code users dial"),
	VAR("sms-code", CT_WORD, sms_code, "384",
	    "the SMS short code: the sender of replies and notifications"),
	INT("session-ttl", session_ttl, "180", 10, 3600,
	    "seconds a USSD session is kept after its last step"),
	INT("ownership-window-days", ownership_window_days, "90", 1, 3650,
	    "an owner's number must have been seen with the IMEI within this many days"),
	INT("report-sweep-after", report_sweep_after, "60", 11, 86400,
	    "seconds after which a report a journey left half-way (ceirgw stopped) is "
	    "completed by ceirgw itself: the block request, and the receipt with a new PIN"),
	INT("verify-tries", verify_tries, "3", 1, 20,
	    "wrong national ID digits (per number) or PINs (per report) before a lock-out"),
	INT("verify-lockout", verify_lockout, "3600", 60, 604800,
	    "seconds the lock-out lasts, counted from the first wrong try"),
	VAR("verify-report", CT_VERIFY, verify_report, "id",
	    "what proves a report's owner by USSD: id (the national ID digits), otp (a one-time "
	    "code by SMS to the owner's line) or id+otp (both); doc/trust.md"),
	INT("otp-ttl", otp_ttl, "300", 10, 3600,
	    "seconds a one-time code lasts (verify-report otp or id+otp)"),
	RATE("rate-otp-line", rate_otp_line, "3/3600",
	     "one-time codes sent to one owner's line: HITS/SECONDS, counted apart for the line "
	     "itself and for every other number (against SMS-bombing an owner)"),
	RATE("rate-otp-msisdn", rate_otp_msisdn, "5/3600",
	     "one-time codes one number may ask for, for whatever owner: HITS/SECONDS"),
	RATE("rate-check-msisdn", rate_check_msisdn, "30/3600",
	     "checks a number may make: HITS/SECONDS (against IMEI enumeration)"),
	RATE("rate-report-msisdn", rate_report_msisdn, "10/86400",
	     "report attempts from one number: HITS/SECONDS (against report flooding)"),
	RATE("rate-verify-msisdn", rate_verify_msisdn, "10/3600",
	     "national ID tries one number may make, for whatever owner: HITS/SECONDS"),
	RATE("rate-unblock-msisdn", rate_unblock_msisdn, "5/3600",
	     "unblock attempts (reference and PIN) from one number: HITS/SECONDS"),
	RATE("rate-resend-msisdn", rate_resend_msisdn, "3/86400",
	     "new PINs (a report's receipt sent again) one number may ask for: HITS/SECONDS"),
	/* Per-IMEI limits let strangers refuse an owner's report and every buyer's check of a
	 * phone (issue 15); they are read so that older files still load, and not used. */
	RATE("rate-check-imei", rate_check_imei, "120/3600",
	     "no longer used (a per-IMEI limit let strangers lock owners and buyers out); read so that older files still load"),
	RATE("rate-report-imei", rate_report_imei, "10/86400",
	     "no longer used (a per-IMEI limit let strangers lock owners and buyers out); read so that older files still load"),
	VAR("ceir-requests-stream", CT_WORD, ceir_requests, "ceir:requests",
	    "Redis stream the block and unblock requests go to (doc/ceir-queue.md)"),
	VAR("ceir-results-stream", CT_WORD, ceir_results, "ceir:results",
	    "Redis stream the CEIR posts its results on"),
	VAR("ceir-group", CT_WORD, ceir_group, "ceirgw",
	    "consumer group ceirgw reads the results stream with"),
	VAR("sendsms-url", CT_URL, sendsms_url, NULL,
	    "Kannel smsbox sendsms URL notifications go to (http://host:13013/cgi-bin/sendsms); "
	    "unset: no notifications by HTTP"),
	VAR("sendsms-username", CT_SECRET, sendsms_username, NULL, "sendsms-user's username"),
	VAR("sendsms-password", CT_SECRET, sendsms_password, NULL, "sendsms-user's password"),
	VAR("api-keys-file", CT_PATH, api_keys_file, NULL,
	    "keys of the JSON API, one 'NAME KEY' per line; unset: the API answers 401"),
	VAR("box-id", CT_WORD, box_id, NULL,
	    "name ceirgw identifies itself with to bearerbox (smsbox-route's smsbox-id); unset: "
	    "a share of every MO no smsbox-route claims"),
	INT("box-heartbeat", box_heartbeat, "30", 1, 3600,
	    "seconds between the heartbeats ceirgw sends bearerbox"),
	INT("box-max-frame", box_max_frame, "65536", 1024, 16777216,
	    "largest Msg accepted from bearerbox, in bytes; a bigger frame drops the connection"),
	INT("box-max-queue", box_max_queue, "10000", 10, 1000000,
	    "MT messages kept for bearerbox while it is away; beyond this a new one is lost"),
	VAR("box-smsc-id", CT_WORD, box_smsc_id, NULL,
	    "smsc-id notifications sent through the box are routed to; unset: bearerbox's routing"),
	VAR("ussd-meta-group", CT_WORD, ussd_meta_group, "smpp",
	    "meta-data group bearerbox puts the USSD TLVs in (the SMSC type)"),
	VAR("ussd-op-tlv", CT_WORD, ussd_op_tlv, "ussd_service_op",
	    "name of the smpp-tlv holding the USSD operation; an MO without it is an SMS"),
	VAR("ussd-session-tlv", CT_WORD, ussd_session_tlv, "its_session_info",
	    "name of the smpp-tlv that tells one USSD session of a number from another"),
	VAR("ussd-tlv-type", CT_TLVTYPE, ussd_tlv_type, "octetstring",
	    "type of the smpp-tlv groups of those two in kannel.conf: octetstring or integer "
	    "(how their values are written in an MT's meta data)"),
	VAR("ussd-op-begin", CT_OPS, ussd_op_begin, "1",
	    "operation values (comma-separated) of a dial: PSSR indication"),
	VAR("ussd-op-answer", CT_OPS, ussd_op_answer, "18",
	    "operation values of the user's answer to a screen: USSR confirm"),
	VAR("ussd-op-release", CT_OPS, ussd_op_release, "32,33",
	    "operation values of a session the user or the network ended"),
	VAR("ussd-op-continue", CT_OP, ussd_op_continue, "2",
	    "operation value ceirgw answers with to show a screen and wait: USSR request"),
	VAR("ussd-op-end", CT_OP, ussd_op_end, "17",
	    "operation value ceirgw answers with to show a screen and end: PSSR response"),
	/* The HTTP edge (doc/http.md). */
	INT("http-max-connections", http_max_connections, "1024", 1, 1000000,
	    "HTTP connections open at once; beyond, a new one is answered 503 and closed. A "
	    "quarter of them is kept for the callers of http-allow-ip"),
	INT("http-max-connections-per-address", http_max_per_address, "64", 1, 1000000,
	    "HTTP connections one address outside http-allow-ip (an IPv6 /64) may hold"),
	INT("http-request-timeout", http_request_timeout, "10", 1, 3600,
	    "seconds a client has to send one whole request (headers and body) and to read its "
	    "reply"),
	INT("http-idle-timeout", http_idle_timeout, "30", 1, 86400,
	    "seconds a kept-alive HTTP connection may wait for its next request"),
	ALLOW("http-allow-ip", http_allow_ip, "127.0.0.1;::1",
	      "addresses /ussd and /sms callers may come from, ';'-separated, '*' for any octet "
	      "(10.0.*.*) or alone for any address (Kannel's box-allow-ip style)"),
	VAR("ussd-token", CT_SECRET, ussd_token, NULL,
	    "shared secret /ussd callers must send as token= in the URL or X-Ceirgw-Token; "
	    "unset: none"),
	VAR("sms-token", CT_SECRET, sms_token, NULL,
	    "shared secret /sms callers (smsbox get-url) must send as token= or X-Ceirgw-Token; "
	    "unset: none"),
	RATE("api-key-quota", api_key_quota, "600/60",
	     "requests one JSON API key may make: HITS/SECONDS (429 beyond)"),
	/* The cross-border feed (issue 19, doc/exchange.md). */
	VAR("country", CT_REGION, country, NULL,
	    "the country whose decisions this ceirgw publishes (ISO 3166-1 alpha-2); unset: "
	    "default-region"),
	VAR("feed-origin", CT_WORD, feed_origin, NULL,
	    "name of the country's feed log (its checkpoints' origin line and key name, e.g. "
	    "ceir.example.ke/feed); unset: no feed is published"),
	VAR("feed-key-file", CT_PATH, feed_key_file, NULL,
	    "the feed's signing key (ceirgwctl feed keygen), mode 0600; needed with feed-origin"),
	INT("feed-checkpoint-interval", feed_checkpoint_interval, "60", 1, 86400,
	    "seconds between two signed checkpoints of the feed, when entries were added"),
	VAR("ceir-foreign-stream", CT_WORD, ceir_foreign, "ceir:foreign",
	    "Redis stream each decision verified in a neighbour's feed goes to, once, for the "
	    "national CEIR (doc/ceir-queue.md)"),
	VAR("ceir-sightings-stream", CT_WORD, ceir_sightings, "ceir:sightings",
	    "Redis stream each sighting of a reported phone on a new line goes to, once, for the "
	    "CEIR and the police liaison: personal data (doc/ceir-queue.md)"),
};

#define NVARS (sizeof(vars) / sizeof(vars[0]))

static char **slot(struct ceirgw_config *cfg, const struct config_var *v)
{
	return (char **)((char *)cfg + v->offset);
}

/* The variables of a `group = feed-peer` (issue 19): one group per neighbour's feed. */
static const char *const peer_vars[] = { "origin", "url", "key", "country", "poll-interval" };
#define NPEER_VARS (sizeof(peer_vars) / sizeof(peer_vars[0]))

/* libgw hook: -1 when the group is not ours, else whether the variable belongs to it. */
static int allowed_in_group(Octstr *group, Octstr *variable)
{
	size_t i;

	if (octstr_str_compare(group, "feed-peer") == 0) {
		if (octstr_str_compare(variable, "group") == 0)
			return 1;
		for (i = 0; i < NPEER_VARS; i++)
			if (octstr_str_compare(variable, peer_vars[i]) == 0)
				return 1;
		return 0;
	}
	if (octstr_str_compare(group, "ceirgw") != 0)
		return -1;
	if (octstr_str_compare(variable, "group") == 0)
		return 1;
	for (i = 0; i < NVARS; i++) {
		if (octstr_str_compare(variable, vars[i].name) == 0)
			return 1;
	}
	return 0;
}

static int single_group(Octstr *query)
{
	return octstr_str_compare(query, "ceirgw") == 0;
}

int config_parse_hostport(const char *s, char *host, size_t hostsz, int *port)
{
	const char *colon, *h = s;
	size_t hlen;
	char *end;
	long p;

	if (s == NULL || *s == '\0')
		return -EINVAL;
	if (*s == '[') {
		const char *rb = strchr(s, ']');

		if (rb == NULL || rb[1] != ':')
			return -EINVAL;
		h = s + 1;
		hlen = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || memchr(s, ':', (size_t)(colon - s)) != NULL)
			return -EINVAL;	/* an IPv6 address needs its brackets */
		hlen = (size_t)(colon - s);
	}
	if (hlen == 0 || hlen >= hostsz)
		return -EINVAL;
	if (colon[1] < '0' || colon[1] > '9')
		return -EINVAL;
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (errno || *end != '\0' || p < 1 || p > 65535)
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	*port = (int)p;
	return 0;
}

const char *config_default_tac_file(void)
{
	static const char installed[] = CEIRGW_PKGDATADIR "/tacdb.csv";
	static const char source[] = CEIRGW_SRCDIR "/data/tacdb.csv";

	if (access(installed, R_OK) == 0)
		return installed;
	return source;
}

char *config_kyc_key_file(void *ctx, const struct ceirgw_config *cfg)
{
	if (cfg->kyc_key_file)
		return talloc_strdup(ctx, cfg->kyc_key_file);
	if (cfg->redis == NULL && cfg->redis_cluster == NULL)
		return talloc_asprintf(ctx, "%s/kyc.key", cfg->data_dir);
	return NULL;
}

const char *config_default_dir(const char *name)
{
	static char buf[2][PATH_MAX];
	int i = strcmp(name, "flows") == 0 ? 0 : 1;

	snprintf(buf[i], sizeof(buf[i]), "%s/%s", CEIRGW_PKGDATADIR, name);
	if (access(buf[i], R_OK | X_OK) == 0)
		return buf[i];
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", CEIRGW_SRCDIR, name);
	return buf[i];
}

/* The folder of path, made absolute. */
static char *folder_of(void *ctx, const char *path)
{
	char real[PATH_MAX], *slash;

	if (realpath(path, real) == NULL)
		return NULL;
	slash = strrchr(real, '/');
	if (slash == real)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	return talloc_strdup(ctx, real);
}

/* One IPv4 pattern: four octets, each decimal 0..255 or '*'. */
static int parse_allow_v4(const char *s, size_t len, struct config_allow_ip *ip)
{
	unsigned octet = 0, i = 0, v = 0, digits = 0;

	memset(ip, 0, sizeof(*ip));
	ip->family = AF_INET;
	for (i = 0; i <= len; i++) {
		char c = i < len ? s[i] : '.';

		if (c == '.') {
			if (octet > 3 || digits == 0)
				return -EINVAL;
			ip->addr[octet++] = (unsigned char)v;
			v = 0;
			digits = 0;
		} else if (c == '*' && digits == 0 && (i + 1 == len || s[i + 1] == '.')) {
			ip->any |= (unsigned char)(1u << octet);
			digits = 1;
		} else if (c >= '0' && c <= '9' && !(ip->any & (1u << octet)) && digits < 3) {
			v = v * 10 + (unsigned)(c - '0');
			digits++;
			if (v > 255)
				return -EINVAL;
		} else {
			return -EINVAL;
		}
	}
	return octet == 4 ? 0 : -EINVAL;
}

int config_parse_allow(const char *s, struct config_allow *out)
{
	struct config_allow a;
	const char *p = s;

	memset(&a, 0, sizeof(a));
	while (*p) {
		size_t len = strcspn(p, ";");
		const char *item = p;
		char buf[64];

		p += len;
		if (*p == ';')
			p++;
		while (len && (*item == ' ' || *item == '\t')) {
			item++;
			len--;
		}
		while (len && (item[len - 1] == ' ' || item[len - 1] == '\t'))
			len--;
		if (len == 0)
			continue;
		if (len == 1 && *item == '*') {
			a.all = true;
			continue;
		}
		if (a.n == CONFIG_ALLOW_MAX || len >= sizeof(buf))
			return -EINVAL;
		memcpy(buf, item, len);
		buf[len] = '\0';
		if (strchr(buf, ':')) {
			a.ip[a.n].family = AF_INET6;
			if (inet_pton(AF_INET6, buf, a.ip[a.n].addr) != 1)
				return -EINVAL;
		} else if (parse_allow_v4(buf, len, &a.ip[a.n]) < 0) {
			return -EINVAL;
		}
		a.n++;
	}
	if (out)
		*out = a;
	return 0;
}

int config_parse_ops(const char *s, unsigned char *out, size_t outsz)
{
	size_t n = 0;
	char *end;
	long v;

	for (;;) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		errno = 0;
		v = strtol(s, &end, 10);
		if (errno || v > 255 || n >= CONFIG_OPS_MAX)
			return -EINVAL;
		if (out && n < outsz)
			out[n] = (unsigned char)v;
		n++;
		if (*end == '\0')
			return (int)n;
		if (*end != ',')
			return -EINVAL;
		s = end + 1;
	}
}

static int check_value(struct ceirgw_config *cfg, const struct config_var *v, char *err,
		       size_t errsz)
{
	char **val = slot(cfg, v);
	const char *where = cfg->var_where[v - vars] ? cfg->var_where[v - vars] :
			    cfg->path ? cfg->path : "built-in default";
	const char *why = NULL;
	struct redis_url url;
	char host[256];
	int port;

	if (*val == NULL)
		return 0;
	if (strlen(*val) > 4096) {
		snprintf(err, errsz, "%s: %s is longer than 4096 bytes", where, v->name);
		return -EINVAL;
	}
	switch (v->type) {
	case CT_HOSTPORT:
		if (config_parse_hostport(*val, host, sizeof(host), &port) < 0)
			why = "expected ADDR:PORT (an IPv6 address in brackets), port 1..65535";
		break;
	case CT_REDIS:
		redis_url_parse(*val, &url, &why);
		break;
	case CT_CLUSTER: {
		struct redis_seeds *seeds = talloc(cfg, struct redis_seeds);

		if (seeds == NULL)
			return -ENOMEM;
		redis_seeds_parse(*val, seeds, &why);
		talloc_free(seeds);
		break;
	}
	case CT_PATH:
		if (**val == '\0') {
			why = "empty path";
		} else if (**val != '/') {
			char *abs = talloc_asprintf(cfg, "%s/%s", cfg->base_dir, *val);

			if (abs == NULL)
				return -ENOMEM;
			talloc_free(*val);
			*val = abs;
		}
		break;
	case CT_REGION:
		for (char *c = *val; *c; c++)	/* "ke" is KE */
			*c = (char)toupper((unsigned char)*c);
		if (!config_region_known(*val))
			why = "not a region code libphonenumber knows (two letters, e.g. KE, NG, FR)";
		break;
	case CT_LEVEL:
		if (logging_level_parse(*val, &cfg->log_level) < 0)
			why = "expected debug, info, notice, warn or error";
		break;
	case CT_LOGFMT:
		if (logging_format_parse(*val, &cfg->log_format) < 0)
			why = "expected text or json";
		break;
	case CT_INT: {
		char *end;
		long n;

		errno = 0;
		n = strtol(*val, &end, 10);
		if (errno || end == *val || *end != '\0' || n < v->min || n > v->max) {
			snprintf(err, errsz, "%s: %s = '%.200s': expected a number from %ld to %ld",
				 where, v->name, *val, v->min, v->max);
			return -EINVAL;
		}
		*(long *)((char *)cfg + v->target) = n;
		break;
	}
	case CT_RATE: {
		struct config_rate *r = (struct config_rate *)((char *)cfg + v->target);
		char *end;
		unsigned long hits, secs;

		errno = 0;
		hits = strtoul(*val, &end, 10);
		if (errno || end == *val || *end != '/' || hits < 1 || hits > 1000000 ||
		    end[1] < '0' || end[1] > '9')
			why = "expected HITS/SECONDS, e.g. 30/3600";
		else {
			secs = strtoul(end + 1, &end, 10);
			if (errno || *end != '\0' || secs < 1 || secs > 31 * 86400)
				why = "expected HITS/SECONDS, SECONDS from 1 to 2678400";
			r->hits = (unsigned)hits;
			r->seconds = (unsigned)secs;
		}
		break;
	}
	case CT_OPS:
		if (config_parse_ops(*val, NULL, 0) < 0)
			why = "expected numbers from 0 to 255 separated by commas, e.g. 32,33";
		break;
	case CT_TLVTYPE:
		if (strcmp(*val, "octetstring") != 0 && strcmp(*val, "integer") != 0)
			why = "expected octetstring or integer";
		break;
	case CT_OP:
		if (config_parse_ops(*val, NULL, 0) != 1)
			why = "expected one number from 0 to 255";
		break;
	case CT_ALLOW:
		if (config_parse_allow(*val, (struct config_allow *)((char *)cfg + v->target)) < 0)
			why = "expected IPv4 or IPv6 addresses separated by ';' (at most 64), '*' "
			      "for any octet of an IPv4 address, or '*' alone for any address";
		break;
	case CT_WORD:
		if (**val == '\0' || strlen(*val) > 64)
			why = "expected 1 to 64 characters";
		for (const char *c = *val; why == NULL && *c; c++)
			if ((unsigned char)*c <= ' ' || *c == 0x7f)
				why = "no spaces or control characters";
		break;
	case CT_URL:
		if (strncmp(*val, "http://", 7) != 0 || (*val)[7] == '\0' || strlen(*val) > 1024)
			why = "expected an http:// URL";
		break;
	case CT_SECRET:
		for (const char *c = *val; why == NULL && *c; c++)
			if ((unsigned char)*c < ' ' || *c == 0x7f)
				why = "no control characters";
		break;
	case CT_VERIFY:
		if (strcmp(*val, "id") == 0)
			cfg->verify_mode = CONFIG_VERIFY_ID;
		else if (strcmp(*val, "otp") == 0)
			cfg->verify_mode = CONFIG_VERIFY_OTP;
		else if (strcmp(*val, "id+otp") == 0)
			cfg->verify_mode = CONFIG_VERIFY_ID_OTP;
		else
			why = "expected id, otp or id+otp";
		break;
	case CT_IDENTITY:
		if (strcmp(*val, "imsi") == 0)
			cfg->duplicate_by_imsi = true;
		else if (strcmp(*val, "msisdn") == 0)
			cfg->duplicate_by_imsi = false;
		else
			why = "expected imsi or msisdn";
		break;
	}
	if (why && (v->type == CT_REDIS || v->type == CT_CLUSTER)) {
		/* Not echoed: the value may carry the Redis password. */
		snprintf(err, errsz, "%s: %s: %s", where, v->name, why);
		return -EINVAL;
	}
	if (why) {
		snprintf(err, errsz, "%s: %s = '%.200s': %s", where, v->name, *val, why);
		return -EINVAL;
	}
	return 0;
}

/* A feed-peer's value: printable, no spaces, at most max bytes. */
static const char *peer_word(const char *v, size_t max)
{
	if (*v == '\0' || strlen(v) > max)
		return "too long or empty";
	for (const char *c = v; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			return "no spaces or control characters";
	return NULL;
}

/* Checks one feed-peer group (its values in p) and says what is wrong, or NULL. */
static const char *peer_check(const struct config_peer *p, const struct ceirgw_config *cfg,
			      const char **what)
{
	const char *why;

	*what = "origin";
	if (p->origin == NULL)
		return "missing";
	if ((why = peer_word(p->origin, 128)) != NULL)
		return why;
	if (strpbrk(p->origin, "+{}"))
		return "no '+', '{' or '}' (it names the peer's key and its Redis keys)";
	*what = "url";
	if (p->url == NULL)
		return "missing";
	if (strncmp(p->url, "http://", 7) != 0 || p->url[7] == '\0' || strlen(p->url) > 1024)
		return "expected the feed's base, http://host:port/feed";
	*what = "key";
	if (p->key == NULL)
		return "missing";
	if ((why = peer_word(p->key, 512)) != NULL)
		return why;
	if (strncmp(p->key, p->origin, strlen(p->origin)) != 0 ||
	    p->key[strlen(p->origin)] != '+')
		return "expected the verifier key line of the origin: origin+keyid+key";
	*what = "country";
	if (p->country == NULL)
		return "missing";
	if (!(p->country[0] >= 'A' && p->country[0] <= 'Z' && p->country[1] >= 'A' &&
	      p->country[1] <= 'Z' && p->country[2] == '\0'))
		return "expected ISO 3166-1 alpha-2, upper case (KE, TZ, UG)";
	for (size_t i = 0; i < cfg->npeers; i++) {
		if (strcmp(cfg->peers[i].origin, p->origin) == 0) {
			*what = "origin";
			return "a second feed-peer with this origin";
		}
	}
	*what = "poll-interval";
	if (p->poll_interval < 1 || p->poll_interval > 86400)
		return "expected a number from 1 to 86400";
	return NULL;
}

/* The feed-peer groups (issue 19): each a neighbour's feed to follow. */
static int read_peers(struct ceirgw_config *cfg, Cfg *gwcfg, const char *path, char *err,
		      size_t errsz)
{
	List *groups = cfg_get_multi_group(gwcfg, octstr_imm("feed-peer"));
	long n = groups ? gwlist_len(groups) : 0;
	int rc = 0;

	if (n > CONFIG_PEERS_MAX) {
		snprintf(err, errsz, "%s: %ld feed-peer groups, at most %d", path, n,
			 CONFIG_PEERS_MAX);
		gwlist_destroy(groups, NULL);
		return -EINVAL;
	}
	cfg->peers = n ? talloc_zero_array(cfg, struct config_peer, n) : NULL;
	if (n && cfg->peers == NULL) {
		gwlist_destroy(groups, NULL);
		return -ENOMEM;
	}
	for (long g = 0; g < n && rc == 0; g++) {
		CfgGroup *grp = gwlist_get(groups, g);
		struct config_peer *p = &cfg->peers[cfg->npeers];
		char **fields[] = { &p->origin, &p->url, &p->key, &p->country };
		const char *why, *what;
		char *interval = NULL;

		for (size_t i = 0; i < NPEER_VARS && rc == 0; i++) {
			Octstr *v = cfg_get(grp, octstr_imm(peer_vars[i]));
			char *s;

			if (v == NULL)
				continue;
			s = talloc_strndup(cfg, octstr_get_cstr(v), (size_t)octstr_len(v));
			octstr_destroy(v);
			if (s == NULL)
				rc = -ENOMEM;
			else if (i < 4)
				*fields[i] = s;
			else
				interval = s;
		}
		if (rc < 0)
			break;
		p->poll_interval = 60;
		if (interval) {
			char *end;

			errno = 0;
			p->poll_interval = strtol(interval, &end, 10);
			if (errno || end == interval || *end != '\0')
				p->poll_interval = -1;
		}
		if (p->country)
			for (char *c = p->country; *c; c++)
				*c = (char)toupper((unsigned char)*c);
		why = peer_check(p, cfg, &what);
		if (why) {
			snprintf(err, errsz, "%s: feed-peer %ld (%.128s): %s %s", path, g + 1,
				 p->origin ? p->origin : "no origin", what, why);
			rc = -EINVAL;
		} else {
			cfg->npeers++;
		}
	}
	gwlist_destroy(groups, NULL);
	return rc;
}

/* The edit distance of a and b (both at most 64 bytes), for "did you mean". */
static unsigned distance(const char *a, const char *b)
{
	unsigned row[65], i, j, prev, tmp;
	size_t la = strlen(a), lb = strlen(b);

	if (la > 64 || lb > 64)
		return 99;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			tmp = row[j];
			row[j] = prev + (a[i - 1] != b[j - 1]);
			if (row[j - 1] + 1 < row[j])
				row[j] = row[j - 1] + 1;
			if (tmp + 1 < row[j])
				row[j] = tmp + 1;
			prev = tmp;
		}
	}
	return row[lb];
}

/* The known variable nearest to name (at most two edits away), or NULL. */
static const char *nearest(const char *name, bool peer)
{
	const char *best = NULL;
	unsigned d, bestd = 3;
	size_t i, n = peer ? NPEER_VARS : NVARS;

	for (i = 0; i < n; i++) {
		const char *known = peer ? peer_vars[i] : vars[i].name;

		if ((d = distance(name, known)) < bestd) {
			bestd = d;
			best = known;
		}
	}
	return best;
}

static bool known_var(const char *name, bool peer)
{
	size_t i;

	if (strcmp(name, "group") == 0)
		return true;
	for (i = 0; i < (peer ? NPEER_VARS : NVARS); i++)
		if (strcmp(name, peer ? peer_vars[i] : vars[i].name) == 0)
			return true;
	return false;
}

/* "line N", or "FILE:N" when the first is in another file than the second. */
static const char *first_at(char *buf, size_t sz, const struct cfgscan_var *first,
			    const struct cfgscan_var *second)
{
	if (strcmp(first->file, second->file) == 0)
		snprintf(buf, sz, "line %u", first->line);
	else
		snprintf(buf, sz, "%s:%u", first->file, first->line);
	return buf;
}

/* ceirgw's groups in the scan: one ceirgw group, each variable known and set once (also in
 * feed-peer groups), each named at its own line; records where each variable was set. libgw
 * would take a repeated one silently (the last wins) and name an unknown one at the group's
 * end: it checks a group's variables only when the group is complete. */
static int check_groups(struct ceirgw_config *cfg, const struct cfgscan *scan,
			const struct cfgscan_group **ceirgw, char *err, size_t errsz)
{
	char at[PATH_MAX + 32];

	*ceirgw = NULL;
	for (size_t g = 0; g < scan->ngroups; g++) {
		const struct cfgscan_group *grp = &scan->groups[g];
		const struct cfgscan_var *gv = cfgscan_get(grp, "group");
		bool peer;

		if (grp->name == NULL)
			continue;	/* libgw says what is wrong */
		if (strcmp(grp->name, "ceirgw") != 0 && strcmp(grp->name, "feed-peer") != 0) {
			if (distance(grp->name, "ceirgw") <= 2 || distance(grp->name, "feed-peer") <= 2) {
				snprintf(err, errsz, "%s:%u: group = %.64s: not a group ceirgw or "
					 "Kannel knows (did you mean %s?)", gv->file, gv->line,
					 grp->name, distance(grp->name, "ceirgw") <= 2 ? "ceirgw" :
					 "feed-peer");
				return -EINVAL;
			}
			continue;
		}
		peer = strcmp(grp->name, "feed-peer") == 0;
		if (!peer && *ceirgw) {
			snprintf(err, errsz, "%s:%u: a second group = ceirgw (the first at %s)",
				 gv->file, gv->line, first_at(at, sizeof(at), cfgscan_get(*ceirgw,
				 "group"), gv));
			return -EINVAL;
		}
		if (!peer)
			*ceirgw = grp;
		for (size_t i = 0; i < grp->nvars; i++) {
			const struct cfgscan_var *v = &grp->vars[i];
			const char *near;

			if (!known_var(v->name, peer)) {
				near = nearest(v->name, peer);
				snprintf(err, errsz, "%s:%u: '%.64s' is not a variable of group = %s%s%s%s",
					 v->file, v->line, v->name, grp->name,
					 near ? " (did you mean " : "", near ? near : "",
					 near ? "?)" : "");
				return -EINVAL;
			}
			for (size_t j = 0; j < i; j++) {
				if (strcmp(grp->vars[j].name, v->name) == 0) {
					snprintf(err, errsz, "%s:%u: %s is set twice (first at %s)",
						 v->file, v->line, v->name,
						 first_at(at, sizeof(at), &grp->vars[j], v));
					return -EINVAL;
				}
			}
			for (size_t k = 0; !peer && k < NVARS; k++) {
				if (strcmp(v->name, vars[k].name) == 0 &&
				    (cfg->var_where[k] = cfgscan_where(cfg, v)) == NULL)
					return -ENOMEM;
			}
		}
	}
	return 0;
}

static size_t var_index(const char *name)
{
	size_t i;

	for (i = 0; i < NVARS && strcmp(vars[i].name, name) != 0; i++)
		;
	assert(i < NVARS);
	return i;
}

/* Sets the variable name from a Kannel group's value v (the ceirgw group did not set it). */
static int take_from(struct ceirgw_config *cfg, const char *name, const char *value,
		     const char *group, const struct cfgscan_var *v)
{
	size_t i = var_index(name);

	talloc_free(*slot(cfg, &vars[i]));
	*slot(cfg, &vars[i]) = talloc_strdup(cfg, value);
	cfg->var_where[i] = cfgscan_where(cfg, v);
	cfg->var_note[i] = talloc_asprintf(cfg, "from group = %s's %s, %s:%u", group, v->name,
					   v->file, v->line);
	return *slot(cfg, &vars[i]) && cfg->var_where[i] && cfg->var_note[i] ? 0 : -ENOMEM;
}

static const struct cfgscan_group *first_group(const struct cfgscan *scan, const char *name)
{
	for (size_t g = 0; g < scan->ngroups; g++)
		if (scan->groups[g].name && strcmp(scan->groups[g].name, name) == 0)
			return &scan->groups[g];
	return NULL;
}

/* The box port from kannel.conf's core group: bearerbox's smsbox-port, on the smsbox group's
 * bearerbox-host (127.0.0.1 without one), when the ceirgw group sets neither bearerbox nor
 * sendsms-url (the HTTP way through smsbox). */
static int kannel_box(struct ceirgw_config *cfg, const struct cfgscan *scan,
		      const struct cfgscan_group *mine, char *err, size_t errsz)
{
	const struct cfgscan_group *core = first_group(scan, "core");
	const struct cfgscan_group *smsbox = first_group(scan, "smsbox");
	const struct cfgscan_var *port, *host, *ssl;
	char value[600];

	if (core == NULL || (port = cfgscan_get(core, "smsbox-port")) == NULL)
		return 0;
	if (mine && (cfgscan_get(mine, "bearerbox") || cfgscan_get(mine, "sendsms-url")))
		return 0;
	ssl = cfgscan_get(core, "smsbox-port-ssl");
	if (ssl && (strcasecmp(ssl->value, "true") == 0 || strcasecmp(ssl->value, "yes") == 0 ||
		    strcmp(ssl->value, "1") == 0)) {
		snprintf(err, errsz, "%s:%u: smsbox-port-ssl = %.16s: ceirgw's box connection has "
			 "no TLS; set bearerbox in group = ceirgw to a plain box port", ssl->file,
			 ssl->line, ssl->value);
		return -EINVAL;
	}
	host = smsbox ? cfgscan_get(smsbox, "bearerbox-host") : NULL;
	if (strlen(port->value) > 16 || (host && strlen(host->value) > 512)) {
		snprintf(err, errsz, "%s:%u: %s is too long", port->file, port->line, port->name);
		return -EINVAL;
	}
	snprintf(value, sizeof(value), strchr(host ? host->value : "", ':') ? "[%s]:%s" : "%s:%s",
		 host ? host->value : "127.0.0.1", port->value);
	return take_from(cfg, "bearerbox", value, "core", port);
}

/* SMPP 3.4's tags of the two USSD TLVs (5.3.2.44 ussd_service_op; its_session_info 5.3.2.43). */
static const struct {
	long tag;
	const char *var;	/* ceirgw's name for it */
} ussd_tlvs[] = {
	{ 0x0501, "ussd-op-tlv" },
	{ 0x1383, "ussd-session-tlv" },
};

/* The USSD TLVs from kannel.conf's smpp-tlv groups, found by their tags: their names, and
 * their one type, which is how bearerbox turns what ceirgw writes into octets (an
 * octetstring's byte written to an integer TLV arrives as 0). A ceirgw group that sets
 * either must agree with them. */
static int kannel_tlvs(struct ceirgw_config *cfg, const struct cfgscan *scan,
		       const struct cfgscan_group *mine, char *err, size_t errsz)
{
	const struct cfgscan_var *type = NULL, *mine_type;
	char at[PATH_MAX + 32];

	for (size_t t = 0; t < sizeof(ussd_tlvs) / sizeof(ussd_tlvs[0]); t++) {
		const struct cfgscan_var *name = NULL, *set;

		for (size_t g = 0; g < scan->ngroups; g++) {
			const struct cfgscan_group *grp = &scan->groups[g];
			const struct cfgscan_var *tag, *n, *ty;
			char *end;
			long tagv;

			if (grp->name == NULL || strcmp(grp->name, "smpp-tlv") != 0 ||
			    (tag = cfgscan_get(grp, "tag")) == NULL ||
			    (n = cfgscan_get(grp, "name")) == NULL)
				continue;
			errno = 0;
			tagv = strtol(tag->value, &end, 0);
			if (errno || *end != '\0' || tagv != ussd_tlvs[t].tag)
				continue;
			if (name && strcmp(name->value, n->value) != 0) {
				snprintf(err, errsz, "%s:%u: smpp-tlv tag %s is named %.64s here and "
					 "%.64s at %s: ceirgw reads one name (%s)", n->file, n->line,
					 tag->value, n->value, name->value,
					 first_at(at, sizeof(at), name, n), ussd_tlvs[t].var);
				return -EINVAL;
			}
			name = n;
			if ((ty = cfgscan_get(grp, "type")) == NULL)
				continue;
			if (strcasecmp(ty->value, "octetstring") != 0 &&
			    strcasecmp(ty->value, "integer") != 0) {
				snprintf(err, errsz, "%s:%u: smpp-tlv %.64s: type = %.32s: ceirgw writes "
					 "the USSD TLVs as octetstring or integer", ty->file, ty->line,
					 n->value, ty->value);
				return -EINVAL;
			}
			if (type && strcasecmp(type->value, ty->value) != 0) {
				snprintf(err, errsz, "%s:%u: smpp-tlv %.64s: type = %.32s, but type = "
					 "%.32s at %s: ceirgw writes both USSD TLVs with one type "
					 "(ussd-tlv-type)", ty->file, ty->line, n->value, ty->value,
					 type->value, first_at(at, sizeof(at), type, ty));
				return -EINVAL;
			}
			type = ty;
		}
		if (name == NULL)
			continue;
		set = mine ? cfgscan_get(mine, ussd_tlvs[t].var) : NULL;
		if (set && strcmp(set->value, name->value) != 0) {
			snprintf(err, errsz, "%s:%u: %s = %.64s, but the smpp-tlv with tag 0x%04lx is "
				 "named %.64s at %s: bearerbox passes it under that name",
				 set->file, set->line, set->name, set->value, ussd_tlvs[t].tag,
				 name->value, first_at(at, sizeof(at), name, set));
			return -EINVAL;
		}
		if (set == NULL && take_from(cfg, ussd_tlvs[t].var, name->value, "smpp-tlv",
					     name) < 0)
			return -ENOMEM;
	}
	if (type == NULL)
		return 0;
	mine_type = mine ? cfgscan_get(mine, "ussd-tlv-type") : NULL;
	if (mine_type && strcasecmp(mine_type->value, type->value) != 0) {
		snprintf(err, errsz, "%s:%u: ussd-tlv-type = %.32s, but the smpp-tlv groups say "
			 "type = %.32s at %s: ceirgw would write ussd_service_op as bearerbox does "
			 "not read it (remove ussd-tlv-type: it is taken from kannel.conf)",
			 mine_type->file, mine_type->line, mine_type->value, type->value,
			 first_at(at, sizeof(at), type, mine_type));
		return -EINVAL;
	}
	if (mine_type == NULL) {
		char lower[16];
		size_t i;

		for (i = 0; i + 1 < sizeof(lower) && type->value[i]; i++)
			lower[i] = (char)tolower((unsigned char)type->value[i]);
		lower[i] = '\0';
		return take_from(cfg, "ussd-tlv-type", lower, "smpp-tlv", type);
	}
	return 0;
}

/* Reads the ceirgw group of path into cfg. Returns 0 or -EINVAL with err filled. */
static int read_file(struct ceirgw_config *cfg, const char *path, char *err, size_t errsz)
{
	static int hooks_added;
	const struct cfgscan_group *mine;
	struct cfgscan *scan;
	Octstr *name;
	CfgGroup *grp;
	Cfg *gwcfg;
	size_t i;
	int rc = 0;

	if (access(path, R_OK) < 0) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -errno;
	}
	scan = cfgscan_read(cfg, path, err, errsz);
	if (scan == NULL)
		return -EINVAL;
	rc = check_groups(cfg, scan, &mine, err, errsz);
	if (rc < 0) {
		talloc_free(scan);
		if (rc == -ENOMEM)
			snprintf(err, errsz, "%s: out of memory", path);
		return rc;
	}
	if (!hooks_added) {
		cfg_add_hooks((void *)allowed_in_group, (void *)single_group);
		hooks_added = 1;
	}
	name = octstr_create(path);
	gwcfg = cfg_create(name);
	octstr_destroy(name);
	rc = cfg_read(gwcfg);
	gw_log_drain();		/* libgw's reason, before ours */
	if (rc < 0) {
		snprintf(err, errsz, "%s: not a valid configuration (libgw's error above names the line)",
			 path);
		cfg_destroy(gwcfg);
		talloc_free(scan);
		return -EINVAL;
	}
	rc = 0;
	grp = cfg_get_single_group(gwcfg, octstr_imm("ceirgw"));
	if (grp == NULL && first_group(scan, "core")) {
		/* kannel.conf itself, most likely. */
		snprintf(err, errsz, "%s: no 'group = ceirgw' in the file; bearerbox refuses one in "
			 "its kannel.conf: write it in a file of its own that starts with include = "
			 "\"%s\" (doc/kannel.md)", path, cfg->path);
		cfg_destroy(gwcfg);
		talloc_free(scan);
		return -EINVAL;
	}
	if (grp == NULL) {
		snprintf(err, errsz, "%s: no 'group = ceirgw' in the file", path);
		cfg_destroy(gwcfg);
		talloc_free(scan);
		return -EINVAL;
	}
	for (i = 0; i < NVARS; i++) {
		Octstr *v = cfg_get(grp, octstr_imm(vars[i].name));

		if (v == NULL)
			continue;
		talloc_free(*slot(cfg, &vars[i]));
		*slot(cfg, &vars[i]) = talloc_strndup(cfg, octstr_get_cstr(v),
						      (size_t)octstr_len(v));
		octstr_destroy(v);
		if (*slot(cfg, &vars[i]) == NULL)
			rc = -ENOMEM;
	}
	if (rc == 0)
		rc = read_peers(cfg, gwcfg, path, err, errsz);
	if (rc == 0)
		rc = kannel_box(cfg, scan, mine, err, errsz);
	if (rc == 0)
		rc = kannel_tlvs(cfg, scan, mine, err, errsz);
	cfg_destroy(gwcfg);
	talloc_free(scan);
	if (rc == -ENOMEM)
		snprintf(err, errsz, "%s: out of memory", path);
	return rc;
}

static int set_override(struct ceirgw_config *cfg, char **field, const char *value)
{
	if (value == NULL)
		return 0;
	talloc_free(*field);
	*field = talloc_strdup(cfg, value);
	return *field ? 0 : -ENOMEM;
}

struct ceirgw_config *config_load(void *ctx, const char *path, const struct config_overrides *ov,
				  char *err, size_t errsz)
{
	struct ceirgw_config *cfg = talloc_zero(ctx, struct ceirgw_config);
	char cwd[PATH_MAX];
	size_t i;

	if (cfg == NULL)
		goto oom;
	cfg->var_where = talloc_zero_array(cfg, char *, NVARS);
	cfg->var_note = talloc_zero_array(cfg, char *, NVARS);
	if (cfg->var_where == NULL || cfg->var_note == NULL)
		goto oom;
	for (i = 0; i < NVARS; i++) {
		if (vars[i].def && (*slot(cfg, &vars[i]) = talloc_strdup(cfg, vars[i].def)) == NULL)
			goto oom;
	}
	if (path) {
		cfg->base_dir = folder_of(cfg, path);
		if (cfg->base_dir == NULL) {
			snprintf(err, errsz, "%s: %s", path, strerror(errno));
			goto fail;
		}
		cfg->path = talloc_asprintf(cfg, "%s/%s", cfg->base_dir,
					    strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
		if (cfg->path == NULL)
			goto oom;
		if (read_file(cfg, path, err, errsz) < 0)
			goto fail;
	} else {
		if (getcwd(cwd, sizeof(cwd)) == NULL) {
			snprintf(err, errsz, "cannot read the current folder: %s", strerror(errno));
			goto fail;
		}
		if ((cfg->base_dir = talloc_strdup(cfg, cwd)) == NULL)
			goto oom;
	}
	if (ov) {
		/* What the command line sets is no longer the file's. */
		const char *const given[][2] = {
			{ "redis", ov->redis ? ov->redis : ov->redis_cluster },
			{ "redis-cluster", ov->redis ? ov->redis : ov->redis_cluster },
			{ "http-listen", ov->http_listen }, { "bearerbox", ov->bearerbox },
			{ "log-level", ov->log_level },
		};

		for (i = 0; i < sizeof(given) / sizeof(given[0]); i++) {
			if (given[i][1]) {
				cfg->var_where[var_index(given[i][0])] = NULL;
				cfg->var_note[var_index(given[i][0])] = NULL;
			}
		}
	}
	if (ov && (ov->redis || ov->redis_cluster)) {
		/* One on the command line replaces either in the file. */
		talloc_free(cfg->redis);
		talloc_free(cfg->redis_cluster);
		cfg->redis = cfg->redis_cluster = NULL;
	}
	if (ov && (set_override(cfg, &cfg->redis, ov->redis) < 0 ||
		   set_override(cfg, &cfg->redis_cluster, ov->redis_cluster) < 0 ||
		   set_override(cfg, &cfg->http_listen, ov->http_listen) < 0 ||
		   set_override(cfg, &cfg->admin_listen, ov->admin_listen) < 0 ||
		   set_override(cfg, &cfg->bearerbox, ov->bearerbox) < 0 ||
		   set_override(cfg, &cfg->log_level_name, ov->log_level) < 0))
		goto oom;
	if (cfg->tac_file == NULL &&
	    (cfg->tac_file = talloc_strdup(cfg, config_default_tac_file())) == NULL)
		goto oom;
	for (i = 0; i < NVARS; i++) {
		if (check_value(cfg, &vars[i], err, errsz) < 0)
			goto fail;
	}
	if (cfg->redis && cfg->redis_cluster) {
		snprintf(err, errsz, "%s: redis and redis-cluster are both set: use one (a single "
			 "Redis, or a Redis Cluster's seed nodes)",
			 cfg->path ? cfg->path : "command line");
		goto fail;
	}
	if (cfg->redis_replicas_ack > 0 && cfg->redis_replicas_timeout >= cfg->redis_timeout) {
		snprintf(err, errsz, "%s: redis-replicas-timeout (%ld ms) must be below "
			 "redis-timeout (%ld ms): the wait holds the node's connection",
			 cfg->path ? cfg->path : "built-in default", cfg->redis_replicas_timeout,
			 cfg->redis_timeout);
		goto fail;
	}
	if (cfg->country == NULL && (cfg->country = talloc_strdup(cfg, cfg->default_region)) == NULL)
		goto oom;
	for (i = 0; i < cfg->npeers; i++) {
		if (strcmp(cfg->peers[i].country, cfg->country) == 0) {
			snprintf(err, errsz, "%s: feed-peer %zu (%.128s): country %s is this ceirgw's "
				 "own (country, or default-region): its decisions are national, not "
				 "foreign", cfg->path, i + 1, cfg->peers[i].origin, cfg->country);
			goto fail;
		}
	}
	if (cfg->feed_origin && strchr(cfg->feed_origin, '+')) {
		snprintf(err, errsz, "%s: feed-origin = '%.200s': no '+' (it names the signing key, "
			 "whose verifier line is name+id+key)",
			 cfg->path ? cfg->path : "command line", cfg->feed_origin);
		goto fail;
	}
	if (cfg->feed_origin && cfg->feed_key_file == NULL) {
		snprintf(err, errsz, "%s: feed-origin is set but feed-key-file is not: the feed's "
			 "checkpoints must be signed (ceirgwctl feed keygen makes the key)",
			 cfg->path ? cfg->path : "command line");
		goto fail;
	}
	config_parse_hostport(cfg->http_listen, cfg->http_host, sizeof(cfg->http_host),
			      &cfg->http_port);
	config_parse_hostport(cfg->admin_listen, cfg->admin_host, sizeof(cfg->admin_host),
			      &cfg->admin_port);
	return cfg;
oom:
	snprintf(err, errsz, "out of memory reading the configuration");
fail:
	talloc_free(cfg);
	return NULL;
}

void config_dump(const struct ceirgw_config *cfg, FILE *out)
{
	const char *const *val;
	char *kyc;
	size_t i;

	fprintf(out, "# %s\n", cfg->path ? cfg->path : "built-in defaults");
	for (i = 0; i < NVARS; i++) {
		const char *name = vars[i].name;

		val = (const char *const *)((const char *)cfg + vars[i].offset);
		if (vars[i].type == CT_SECRET && *val)
			fprintf(out, "%s = (set)\n", name);
		else if ((vars[i].type == CT_REDIS || vars[i].type == CT_CLUSTER) && *val &&
			 strchr(*val, '@'))
			fprintf(out, "%s = (set, with a password)\n", name);
		else if (cfg->var_note[i])
			fprintf(out, "%s = %s (%s)\n", name, *val ? *val : "(unset)",
				cfg->var_note[i]);
		else if (*val == NULL && (strcmp(name, "flows-dir") == 0 ||
					  strcmp(name, "templates-dir") == 0))
			fprintf(out, "%s = %s (shipped)\n", name,
				config_default_dir(name[0] == 'f' ? "flows" : "templates"));
		else if (*val && strcmp(name, "tac-file") == 0 && cfg->var_where[i] == NULL &&
			 strcmp(*val, config_default_tac_file()) == 0)
			fprintf(out, "%s = %s (shipped)\n", name, *val);
		else if (*val == NULL && strcmp(name, "kyc-key-file") == 0 &&
			 (kyc = config_kyc_key_file(NULL, cfg)) != NULL) {
			fprintf(out, "%s = %s (in data-dir, for the embedded Redis; made on first "
				"start)\n", name, kyc);
			talloc_free(kyc);
		} else if (*val == NULL && strcmp(name, "redis") == 0 && cfg->redis_cluster == NULL)
			fprintf(out, "%s = (unset: ceirgw starts its own redis-server in %s)\n", name,
				cfg->data_dir);
		else
			fprintf(out, "%s = %s\n", name, *val ? *val : "(unset)");
	}
}
