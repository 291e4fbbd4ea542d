/* Configuration: the ceirgw group read with libgw's cfg, beside Kannel's own groups;
 * relative paths, overrides, and a clear message for each mistake. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <talloc.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/config.h"
#include "core/gw.h"

static char dir[PATH_MAX];

/* Writes text to dir/name and returns the path (static buffer). */
static const char *write_conf(const char *name, const char *text)
{
	static char path[PATH_MAX + 64];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static void test_full_file(void **state)
{
	char err[512], want[PATH_MAX + 64];
	struct ceirgw_config *cfg;
	const char *path = write_conf("full.conf",
		"# a comment\n"
		"group = ceirgw\n"
		"http-listen = 0.0.0.0:9090\n"
		"redis = redis://:pw@10.1.2.3:6380/2\n"
		"bearerbox = 127.0.0.1:13001\n"
		"data-dir = var/data\n"
		"tac-file = /srv/tac.csv\n"
		"default-region = ng\n"
		"log-level = debug\n");

	(void)state;
	cfg = config_load(NULL, path, NULL, err, sizeof(err));
	assert_non_null(cfg);
	assert_string_equal(cfg->http_host, "0.0.0.0");
	assert_int_equal(cfg->http_port, 9090);
	assert_string_equal(cfg->redis, "redis://:pw@10.1.2.3:6380/2");
	assert_string_equal(cfg->bearerbox, "127.0.0.1:13001");
	snprintf(want, sizeof(want), "%s/var/data", dir);
	assert_string_equal(cfg->data_dir, want);
	assert_string_equal(cfg->tac_file, "/srv/tac.csv");
	assert_string_equal(cfg->default_region, "NG");
	assert_int_equal(cfg->log_level, LOGL_DEBUG);
	assert_null(cfg->log_file);
	talloc_free(cfg);
}

static void test_defaults(void **state)
{
	char err[512];
	struct ceirgw_config *cfg = config_load(NULL, NULL, NULL, err, sizeof(err));

	(void)state;
	assert_non_null(cfg);
	assert_string_equal(cfg->http_listen, "127.0.0.1:8080");
	assert_int_equal(cfg->http_port, 8080);
	assert_null(cfg->redis);
	assert_null(cfg->bearerbox);
	assert_string_equal(cfg->default_region, "KE");
	assert_non_null(strstr(cfg->tac_file, "tacdb.csv"));
	assert_int_equal(cfg->log_level, LOGL_INFO);
	talloc_free(cfg);
}

static void test_beside_kannel(void **state)
{
	char err[512];
	struct ceirgw_config *cfg;
	const char *path = write_conf("kannel.conf",
		"group = core\n"
		"admin-port = 13000\n"
		"smsbox-port = 13001\n"
		"admin-password = secret\n"
		"\n"
		"group = smsbox\n"
		"bearerbox-host = 127.0.0.1\n"
		"\n"
		"group = ceirgw\n"
		"bearerbox = 127.0.0.1:13001\n"
		"data-dir = /tmp/ceirgw-test\n");

	(void)state;
	cfg = config_load(NULL, path, NULL, err, sizeof(err));
	assert_non_null(cfg);
	assert_string_equal(cfg->bearerbox, "127.0.0.1:13001");
	talloc_free(cfg);
}

/* kannel.conf itself (issue 20): Kannel's groups are no errors; the box port comes from
 * group = core (on smsbox's bearerbox-host) and the USSD TLVs' names and type from the
 * smpp-tlv groups, one of them in an included file. */
static void test_kannel_one_file(void **state)
{
	char err[512], inc[PATH_MAX + 64], *text, *dump;
	struct ceirgw_config *cfg;
	const char *path;
	size_t len;
	FILE *f;

	(void)state;
	snprintf(inc, sizeof(inc), "%s", write_conf("tlv.conf",
		"group = smpp-tlv\n"
		"name = its_session_info\n"
		"tag = 0x1383\n"
		"type = integer\n"
		"length = 2\n"
		"smsc-id = ussd\n"));
	text = talloc_asprintf(NULL,
		"group = core\n"
		"admin-port = 13000\n"
		"admin-password = secret\n"
		"smsbox-port = 13005\n"
		"\n"
		"group = smsbox\n"
		"bearerbox-host = 10.0.0.5\n"
		"\n"
		"group = smsc\n"
		"smsc = smpp\n"
		"smsc-id = ussd\n"
		"host = 127.0.0.1\n"
		"port = 2775\n"
		"smsc-username = u\n"
		"smsc-password = p\n"
		"\n"
		"group = sendsms-user\n"
		"username = ceirgw\n"
		"password = x\n"
		"\n"
		"group = sms-service\n"
		"keyword = default\n"
		"text = \"# not a comment\"\n"
		"\n"
		"group = smpp-tlv\n"
		"name = ussd_op\n"
		"tag = 1281\n"
		"type = INTEGER\n"
		"length = 1\n"
		"smsc-id = ussd\n"
		"\n"
		"include = \"%s\"\n"
		"\n"
		"group = ceirgw\n"
		"data-dir = /tmp/ceirgw-test\n", inc);
	path = write_conf("kannel-one.conf", text);
	talloc_free(text);
	cfg = config_load(NULL, path, NULL, err, sizeof(err));
	if (cfg == NULL)
		fail_msg("%s", err);
	assert_string_equal(cfg->bearerbox, "10.0.0.5:13005");
	assert_string_equal(cfg->ussd_op_tlv, "ussd_op");
	assert_string_equal(cfg->ussd_session_tlv, "its_session_info");
	assert_string_equal(cfg->ussd_tlv_type, "integer");
	f = open_memstream(&dump, &len);
	assert_non_null(f);
	config_dump(cfg, f);
	fclose(f);
	if (strstr(dump, "bearerbox = 10.0.0.5:13005 (from group = core's smsbox-port, ") == NULL ||
	    strstr(dump, "kannel-one.conf:4)") == NULL ||
	    strstr(dump, "ussd-tlv-type = integer (from group = smpp-tlv's type, ") == NULL ||
	    strstr(dump, "tlv.conf:4)") == NULL)
		fail_msg("dump:\n%s", dump);
	free(dump);
	talloc_free(cfg);

	/* With sendsms-url (smsbox over HTTP) or its own bearerbox, the ceirgw group wins. */
	path = write_conf("kannel-http.conf",
		"group = core\nadmin-port = 13000\nsmsbox-port = 13005\n\n"
		"group = ceirgw\nsendsms-url = http://127.0.0.1:13013/cgi-bin/sendsms\n");
	cfg = config_load(NULL, path, NULL, err, sizeof(err));
	if (cfg == NULL)
		fail_msg("%s", err);
	assert_null(cfg->bearerbox);
	talloc_free(cfg);
	path = write_conf("kannel-own.conf",
		"group = core\nadmin-port = 13000\nsmsbox-port = 13005\n\n"
		"group = ceirgw\nbearerbox = 127.0.0.1:14000\nussd-tlv-type = octetstring\n");
	cfg = config_load(NULL, path, NULL, err, sizeof(err));
	if (cfg == NULL)
		fail_msg("%s", err);
	assert_string_equal(cfg->bearerbox, "127.0.0.1:14000");
	assert_string_equal(cfg->ussd_tlv_type, "octetstring");
	talloc_free(cfg);
}

/* An include of itself, or of a file that includes it back, is refused at its line (libgw
 * would loop until it ran out of memory or descriptors). */
static void test_include_loop(void **state)
{
	char err[512], a[PATH_MAX + 64], b[PATH_MAX + 64], *text;

	(void)state;
	snprintf(a, sizeof(a), "%s/loop-a.conf", dir);
	snprintf(b, sizeof(b), "%s/loop-b.conf", dir);
	text = talloc_asprintf(NULL, "group = ceirgw\n\ninclude = \"%s\"\n", b);
	write_conf("loop-a.conf", text);
	talloc_free(text);
	text = talloc_asprintf(NULL, "# b\ninclude = %s\n", a);
	write_conf("loop-b.conf", text);
	talloc_free(text);
	assert_null(config_load(NULL, a, NULL, err, sizeof(err)));
	if (strstr(err, "loop-b.conf:2: include = '") == NULL || strstr(err, "an include loop") == NULL)
		fail_msg("%s", err);
}

/* --check-config prints the paths ceirgw really uses, not "(unset)". */
static void test_dump_paths(void **state)
{
	char err[512], *dump;
	struct ceirgw_config *cfg;
	size_t len;
	FILE *f;

	(void)state;
	cfg = config_load(NULL, write_conf("paths.conf", "group = ceirgw\ndata-dir = /srv/c\n"
					   "log-format = json\n"), NULL, err, sizeof(err));
	if (cfg == NULL)
		fail_msg("%s", err);
	assert_int_equal(cfg->log_format, LOG_FORMAT_JSON);
	f = open_memstream(&dump, &len);
	assert_non_null(f);
	config_dump(cfg, f);
	fclose(f);
	if (strstr(dump, "flows-dir = (unset)") || strstr(dump, "templates-dir = (unset)") ||
	    strstr(dump, "tac-file = (unset)") || strstr(dump, "kyc-key-file = (unset)") ||
	    !strstr(dump, "/flows (shipped)\n") || !strstr(dump, "/templates (shipped)\n") ||
	    !strstr(dump, "tacdb.csv (shipped)\n") ||
	    !strstr(dump, "kyc-key-file = /srv/c/kyc.key (") || !strstr(dump, "log-format = json\n"))
		fail_msg("dump:\n%s", dump);
	free(dump);
	talloc_free(cfg);
}

/* Neighbours' feeds (issue 19): feed-peer groups beside the ceirgw group. */
static void test_feed_peers(void **state)
{
	char err[512];
	struct ceirgw_config *cfg;
	const char *path = write_conf("peers.conf",
		"group = ceirgw\n"
		"default-region = TZ\n"
		"\n"
		"group = feed-peer\n"
		"origin = ceir.example.ke/feed\n"
		"url = http://192.0.2.1:8080/feed\n"
		"key = ceir.example.ke/feed+01234567+AQ\n"
		"country = ke\n"
		"poll-interval = 30\n"
		"\n"
		"group = feed-peer\n"
		"origin = ceir.example.ug/feed\n"
		"url = http://192.0.2.2/feed\n"
		"key = ceir.example.ug/feed+89abcdef+AQ\n"
		"country = UG\n");

	(void)state;
	cfg = config_load(NULL, path, NULL, err, sizeof(err));
	if (cfg == NULL)
		fail_msg("%s", err);
	assert_string_equal(cfg->country, "TZ");	/* default-region */
	assert_int_equal(cfg->npeers, 2);
	assert_string_equal(cfg->peers[0].origin, "ceir.example.ke/feed");
	assert_string_equal(cfg->peers[0].country, "KE");
	assert_int_equal(cfg->peers[0].poll_interval, 30);
	assert_string_equal(cfg->peers[1].url, "http://192.0.2.2/feed");
	assert_int_equal(cfg->peers[1].poll_interval, 60);
	talloc_free(cfg);
}

static void test_overrides(void **state)
{
	struct config_overrides ov = {
		.redis = "unix:///tmp/x.sock", .http_listen = "[::1]:8181",
		.bearerbox = "bb:14001", .log_level = "warn",
	};
	char err[512];
	struct ceirgw_config *cfg;
	const char *path = write_conf("ov.conf",
		"group = ceirgw\nhttp-listen = 127.0.0.1:1\nredis = redis://h:1\n");

	(void)state;
	cfg = config_load(NULL, path, &ov, err, sizeof(err));
	assert_non_null(cfg);
	assert_string_equal(cfg->redis, "unix:///tmp/x.sock");
	assert_string_equal(cfg->http_host, "::1");
	assert_int_equal(cfg->http_port, 8181);
	assert_string_equal(cfg->bearerbox, "bb:14001");
	assert_int_equal(cfg->log_level, LOGL_WARN);
	talloc_free(cfg);
}

struct bad_case {
	const char *name;
	const char *text;	/* NULL: a file that does not exist */
	const char *expect;	/* in the error message */
};

static const struct bad_case bad_cases[] = {
	{ "missing file", NULL, "No such file" },
	{ "no ceirgw group", "group = core\nadmin-port = 13000\n", "no 'group = ceirgw'" },
	/* Named at its own line, not the group's last (libgw checks a group once it ends). */
	{ "unknown variable", "group = ceirgw\nhttp-lisen = 1.2.3.4:5\ndata-dir = /tmp\n\n",
	  ".conf:2: 'http-lisen' is not a variable of group = ceirgw (did you mean http-listen?)" },
	{ "unknown variable, nothing near", "group = ceirgw\n# x\nfrobnicate = 1\nlog-level = info\n",
	  ".conf:3: 'frobnicate' is not a variable of group = ceirgw" },
	{ "repeated variable", "group = ceirgw\nhttp-listen = 127.0.0.1:1\n# c\nlog-level = info\n"
	  "http-listen = 127.0.0.1:2\n", ".conf:5: http-listen is set twice (first at line 2)" },
	{ "repeated feed-peer variable", "group = ceirgw\n\ngroup = feed-peer\norigin = a\n"
	  "url = http://h:1/feed\norigin = b\n", ".conf:6: origin is set twice (first at line 4)" },
	{ "two ceirgw groups", "group = ceirgw\nlog-level = info\n\ngroup = ceirgw\n",
	  ".conf:4: a second group = ceirgw (the first at line 1)" },
	{ "group name typo", "group = ceirgw\n\ngroup = ceirwg\nlog-level = info\n",
	  ".conf:3: group = ceirwg: not a group ceirgw or Kannel knows (did you mean ceirgw?)" },
	{ "include missing", "group = ceirgw\ninclude = \"/nonexistent/tlv.conf\"\n",
	  ".conf:2: include = '/nonexistent/tlv.conf': No such file" },
	{ "relative include missing", "group = ceirgw\n\ninclude = nonexistent-tlv.conf\n",
	  "include = 'nonexistent-tlv.conf': not found from the current folder" },
	{ "include of a folder", "group = ceirgw\n\ninclude = /tmp\n", "a folder" },
	{ "bad log-format", "group = ceirgw\nlog-format = xml\n", "log-format = 'xml': expected text" },
#define TLV(name, tag, type) "\ngroup = smpp-tlv\nname = " name "\ntag = " tag "\ntype = " \
	type "\nlength = 1\nsmsc-id = ussd\n"
	{ "tlv type disagrees with ussd-tlv-type",
	  "group = ceirgw\nussd-tlv-type = octetstring\n" TLV("ussd_service_op", "0x0501", "integer"),
	  ".conf:2: ussd-tlv-type = octetstring, but the smpp-tlv groups say type = integer at "
	  "line 7" },
	{ "tlv types disagree", "group = ceirgw\n" TLV("ussd_service_op", "0x0501", "integer")
	  TLV("its_session_info", "0x1383", "octetstring"),
	  ".conf:13: smpp-tlv its_session_info: type = octetstring, but type = integer at line 6" },
	{ "tlv nulterminated", "group = ceirgw\n" TLV("ussd_service_op", "1281", "nulterminated"),
	  ".conf:6: smpp-tlv ussd_service_op: type = nulterminated: ceirgw writes" },
	{ "tlv name disagrees", "group = ceirgw\nussd-op-tlv = ussd_op\n"
	  TLV("ussd_service_op", "0x0501", "octetstring"),
	  ".conf:2: ussd-op-tlv = ussd_op, but the smpp-tlv with tag 0x0501 is named "
	  "ussd_service_op at line 5" },
	{ "tlv named twice", "group = ceirgw\n" TLV("ussd_service_op", "0x0501", "integer")
	  TLV("ussd_op", "0x0501", "integer"),
	  ".conf:11: smpp-tlv tag 0x0501 is named ussd_op here and ussd_service_op at line 4" },
	{ "box port over TLS", "group = ceirgw\n\ngroup = core\nsmsbox-port = 13001\n"
	  "smsbox-port-ssl = true\n", ".conf:5: smsbox-port-ssl = true: ceirgw's box connection" },
	{ "unknown group", "group = nonsense\nx = 1\n", "not a valid configuration" },
	{ "bad http-listen", "group = ceirgw\nhttp-listen = 8080\n", "http-listen = '8080'" },
	{ "http port too big", "group = ceirgw\nhttp-listen = 1.2.3.4:70000\n", "http-listen" },
	{ "ipv6 without brackets", "group = ceirgw\nhttp-listen = ::1:80\n", "brackets" },
	{ "bad redis url", "group = ceirgw\nredis = localhost:6379\n", "redis: " },
	{ "tls redis url", "group = ceirgw\nredis = rediss://h\n", "TLS" },
	{ "bad bearerbox", "group = ceirgw\nbearerbox = bb\n", "bearerbox = 'bb'" },
	{ "bad region", "group = ceirgw\ndefault-region = XX\n", "default-region = 'XX'" },
#define PEER "group = ceirgw\ndefault-region = TZ\n\ngroup = feed-peer\n"
#define PEER_KEY "key = ceir.ke/feed+01234567+AQ\n"
	{ "feed-peer without origin", PEER "url = http://h:1/feed\n" PEER_KEY "country = KE\n",
	  "feed-peer 1 (no origin): origin missing" },
	{ "feed-peer without url", PEER "origin = ceir.ke/feed\n" PEER_KEY "country = KE\n",
	  "url missing" },
	{ "feed-peer https url", PEER "origin = ceir.ke/feed\nurl = https://h/feed\n" PEER_KEY
	  "country = KE\n", "url expected" },
	{ "feed-peer key of another origin", PEER "origin = ceir.ke/feed\nurl = http://h:1/feed\n"
	  "key = ceir.ug/feed+01234567+AQ\ncountry = KE\n", "key expected the verifier key line" },
	{ "feed-peer bad country", PEER "origin = ceir.ke/feed\nurl = http://h:1/feed\n" PEER_KEY
	  "country = KEN\n", "country expected ISO" },
	{ "feed-peer of our own country", PEER "origin = ceir.ke/feed\nurl = http://h:1/feed\n"
	  PEER_KEY "country = tz\n", "country TZ is this ceirgw's own" },
	{ "feed-peer bad interval", PEER "origin = ceir.ke/feed\nurl = http://h:1/feed\n" PEER_KEY
	  "country = KE\npoll-interval = 0\n", "poll-interval expected" },
	{ "feed-peer twice", PEER "origin = ceir.ke/feed\nurl = http://h:1/feed\n" PEER_KEY
	  "country = KE\n\ngroup = feed-peer\norigin = ceir.ke/feed\nurl = http://h:2/feed\n"
	  PEER_KEY "country = KE\n", "feed-peer 2 (ceir.ke/feed): origin a second feed-peer" },
	{ "feed-peer unknown variable", PEER "origin = ceir.ke/feed\nurl = http://h:1/feed\n"
	  PEER_KEY "country = KE\nredis = x\n",
	  ".conf:9: 'redis' is not a variable of group = feed-peer" },
	{ "feed-origin with a plus", "group = ceirgw\nfeed-origin = a+b\nfeed-key-file = k\n",
	  "no '+'" },
	{ "feed-origin without a key", "group = ceirgw\nfeed-origin = ceir.ke/feed\n",
	  "feed-key-file is not" },
	{ "three-letter region", "group = ceirgw\ndefault-region = KEN\n", "default-region" },
	{ "bad log level", "group = ceirgw\nlog-level = loud\n", "log-level = 'loud'" },
	{ "empty path", "group = ceirgw\ntac-file = \"\"\n", "empty path" },
};

static void test_bad(void **state)
{
	const struct bad_case *c = *state;
	char err[512] = "";
	char name[64];
	const char *path;

	if (c->text) {
		snprintf(name, sizeof(name), "bad-%p.conf", (void *)c);
		path = write_conf(name, c->text);
	} else {
		path = "/nonexistent/ceirgw.conf";
	}
	assert_null(config_load(NULL, path, NULL, err, sizeof(err)));
	if (strstr(err, c->expect) == NULL)
		fail_msg("error '%s' does not contain '%s'", err, c->expect);
}

/* A Redis URL or seed list that does not parse is refused without being echoed: it may
 * carry the password. */
static void test_redis_password_not_echoed(void **state)
{
	static const char *const texts[] = {
		"group = ceirgw\nredis = redis://ceirgw:s3cretpw@127.0.0.1:notaport\n",
		"group = ceirgw\nredis-cluster = redis://u:s3cretpw@10.0.0.1:6379,10.0.0.2:99999\n",
	};
	char err[512];

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		err[0] = '\0';
		assert_null(config_load(NULL, write_conf("pw.conf", texts[i]), NULL, err,
					sizeof(err)));
		assert_non_null(strstr(err, i == 0 ? "redis: " : "redis-cluster: "));
		if (strstr(err, "s3cretpw"))
			fail_msg("the error echoes the password: %s", err);
	}
}

struct hp_case {
	const char *name;
	const char *in;
	int rc;
	const char *host;
	int port;
};

static const struct hp_case hp_cases[] = {
	{ "hostport ipv4", "127.0.0.1:8080", 0, "127.0.0.1", 8080 },
	{ "hostport name", "bearerbox.local:13001", 0, "bearerbox.local", 13001 },
	{ "hostport ipv6", "[::]:80", 0, "::", 80 },
	{ "hostport port 65535", "h:65535", 0, "h", 65535 },
	{ "hostport no port", "h", -EINVAL, NULL, 0 },
	{ "hostport empty host", ":80", -EINVAL, NULL, 0 },
	{ "hostport port 0", "h:0", -EINVAL, NULL, 0 },
	{ "hostport negative", "h:-1", -EINVAL, NULL, 0 },
	{ "hostport trailing junk", "h:80x", -EINVAL, NULL, 0 },
	{ "hostport plus sign", "h:+80", -EINVAL, NULL, 0 },
	{ "hostport space", "h: 80", -EINVAL, NULL, 0 },
	{ "hostport empty", "", -EINVAL, NULL, 0 },
	{ "hostport bare ipv6", "::1:80", -EINVAL, NULL, 0 },
	{ "hostport ipv6 no port", "[::1]", -EINVAL, NULL, 0 },
};

static void test_hostport(void **state)
{
	const struct hp_case *c = *state;
	char host[64];
	int port = -1;

	assert_int_equal(config_parse_hostport(c->in, host, sizeof(host), &port), c->rc);
	if (c->rc == 0) {
		assert_string_equal(host, c->host);
		assert_int_equal(port, c->port);
	}
}

static int setup_dir(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/ceirgw-test-config-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	return 0;
}

static int teardown_dir(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

#define NBAD (sizeof(bad_cases) / sizeof(bad_cases[0]))
#define NHP (sizeof(hp_cases) / sizeof(hp_cases[0]))

int main(void)
{
	struct CMUnitTest tests[9 + NBAD + NHP];
	size_t i, n = 0;
	int rc;

	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_full_file);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_defaults);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_beside_kannel);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_kannel_one_file);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_dump_paths);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_include_loop);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_feed_peers);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_overrides);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_redis_password_not_echoed);
	for (i = 0; i < NBAD; i++)
		tests[n++] = (struct CMUnitTest){ .name = bad_cases[i].name, .test_func = test_bad,
						  .initial_state = (void *)&bad_cases[i] };
	for (i = 0; i < NHP; i++)
		tests[n++] = (struct CMUnitTest){ .name = hp_cases[i].name, .test_func = test_hostport,
						  .initial_state = (void *)&hp_cases[i] };
	gw_start();
	rc = _cmocka_run_group_tests("config", tests, n, setup_dir, teardown_dir);
	gw_stop();
	return rc;
}
