/* ceirgw: the daemon. Parses the command line, loads the configuration and hands over to
 * the event loop in app/daemon.c. */
#include "config.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <talloc.h>

#include "app/daemon.h"
#include "core/config.h"
#include "core/gw.h"
#include "core/logging.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: ceirgw [-c FILE] [OPTION]...\n"
		"USSD and SMS gateway for theft reports and IMEI checks in front of a CEIR.\n"
		"\n"
		"  -c, --config FILE      read `group = ceirgw` from FILE (Kannel's syntax);\n"
		"                         relative paths in it resolve from FILE's folder. FILE\n"
		"                         may include kannel.conf, as in\n"
		"                         include = \"/etc/kannel/kannel.conf\": the box port\n"
		"                         and the USSD TLVs then come from Kannel's groups\n"
		"                         (core, smsbox, smpp-tlv)\n"
		"      --redis URL        redis://[user:pass@]host:port[/db] or unix:///path;\n"
		"                         without one, ceirgw starts its own redis-server\n"
		"                         under data-dir\n"
		"      --redis-cluster HOST:PORT[,HOST:PORT...]\n"
		"                         a Redis Cluster's seed nodes instead (credentials as\n"
		"                         redis://user:pass@host:port items)\n"
		"      --http ADDR:PORT   where the HTTP server listens (default 127.0.0.1:8080)\n"
		"      --admin ADDR:PORT  where the admin HTTP server (/metrics) listens\n"
		"                         (admin-listen, default 127.0.0.1:9384)\n"
		"      --bearerbox HOST:PORT  bearerbox's smsbox-port to connect to as a box\n"
		"      --log-level LEVEL  debug, info, notice, warn or error\n"
		"      --check-config     check the configuration and the TAC table, print the\n"
		"                         effective settings (the shipped paths too, and where\n"
		"                         a value came from kannel.conf) and exit (0 when good)\n"
		"  -h, --help             show this help and exit\n"
		"  -V, --version          show the version and exit\n"
		"\n"
		"Signals: SIGTERM or SIGINT stop cleanly; SIGHUP reloads the configuration and the\n"
		"TAC table (a bad file is reported and the running one kept).\n"
		"Health: GET /healthz answers 200 when Redis is up, 503 when it is not.\n"
		"Metrics: GET /metrics on the admin server, for Prometheus (doc/metrics.md).\n"
		"Log: one line per event (log-format = text) or one JSON object per line\n"
		"(log-format = json), libgw's own lines among them.\n");
}

int main(int argc, char **argv)
{
	enum { OPT_REDIS = 256, OPT_CLUSTER, OPT_HTTP, OPT_ADMIN, OPT_BEARERBOX, OPT_LOG_LEVEL, OPT_CHECK };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "redis", required_argument, NULL, OPT_REDIS },
		{ "redis-cluster", required_argument, NULL, OPT_CLUSTER },
		{ "http", required_argument, NULL, OPT_HTTP },
		{ "admin", required_argument, NULL, OPT_ADMIN },
		{ "bearerbox", required_argument, NULL, OPT_BEARERBOX },
		{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
		{ "check-config", no_argument, NULL, OPT_CHECK },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct config_overrides ov = { 0 };
	const char *path = NULL;
	struct daemon *d;
	bool check = false;
	char err[1024];
	void *root;
	int c, rc;

	while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case OPT_REDIS: ov.redis = optarg; break;
		case OPT_CLUSTER: ov.redis_cluster = optarg; break;
		case OPT_HTTP: ov.http_listen = optarg; break;
		case OPT_ADMIN: ov.admin_listen = optarg; break;
		case OPT_BEARERBOX: ov.bearerbox = optarg; break;
		case OPT_LOG_LEVEL: ov.log_level = optarg; break;
		case OPT_CHECK: check = true; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("ceirgw %s\n", PACKAGE_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ceirgw: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	logging_setup("ceirgw", LOGL_INFO);
	gw_start();
	root = talloc_new(NULL);
	d = daemon_create(root, path, &ov, err, sizeof(err));
	if (d == NULL) {
		fprintf(stderr, "ceirgw: %s\n", err);
		rc = 1;
	} else if (check) {
		const struct ceirgw_config *cfg = daemon_config(d);

		config_dump(cfg, stdout);
		/* Reports are taken all the same: the operator must know the owners get no PIN. */
		if (cfg->bearerbox == NULL && cfg->sendsms_url == NULL)
			printf("warning: no SMS path (neither bearerbox nor sendsms-url): the receipt "
			       "with the unblock PIN and the CEIR's results are not sent to anyone\n");
		/* A one-time code that cannot leave: no owner could report by USSD. */
		if (cfg->verify_mode != CONFIG_VERIFY_ID && cfg->bearerbox == NULL &&
		    cfg->sendsms_url == NULL)
			printf("warning: verify-report = %s needs an SMS path for its one-time "
			       "codes: no report by USSD can be verified\n", cfg->verify_report);
		printf("configuration OK\n");
		rc = 0;
	} else {
		rc = daemon_run(d) < 0 ? 1 : 0;
	}
	talloc_free(root);
	gw_stop();
	return rc;
}
