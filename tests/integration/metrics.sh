# /metrics on the admin listener (issue 20, doc/metrics.md): journeys by SMS, USSD and the
# JSON API move their counters; promtool accepts the exposition; the public listener does not
# serve it; no IMEI or number reaches it; a taken admin port stops ceirgw with a clear error;
# a real Prometheus server (Debian's) scrapes ceirgw and its query API sees a journey counter
# move; with Redis frozen the scrape still answers, with ceirgw_redis_up 0.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/journey_lib.sh"

PROMETHEUS=${PROMETHEUS:-$(command -v prometheus)}
PROMTOOL=${PROMTOOL:-$(command -v promtool)}
# Not a skip: the test is what says the exposition is Prometheus's (contrib/debian-packages).
if [ -z "$PROMETHEUS" ] || [ -z "$PROMTOOL" ]; then
	ok 1 "prometheus and promtool are installed (apt-get install prometheus)"
	done_testing
	exit
fi

hport=$(free_port)
url=http://127.0.0.1:$hport
redis_start
today=$(date -u +%F)
OWNER=+254712345678
BUYER=+254733000222	# checks by SMS
BUYER2=+254733000444	# checks by USSD
RATED=+254733000555	# checks past rate-check-msisdn
A=356938035643809
cat >"$TEST_TMP/pairings.csv" <<EOF
imei,msisdn,imsi,first_seen,last_seen
$A,254712345678,639021000000001,2025-01-01,$today
EOF
cat >"$TEST_TMP/kyc.csv" <<EOF
msisdn,national_id
254712345678,31415926
EOF
echo "partner-a k3y-0f-partner-a-0123456789" >"$TEST_TMP/api.keys"
gw_conf "redis = redis://127.0.0.1:$rport" info "rate-check-msisdn = 2/3600" \
	"api-keys-file = api.keys" "redis-timeout = 500"
import_data
gw_start
ok $? "ceirgw is up"
admin=http://127.0.0.1:$aport

scrape() { curl -sf "$admin/metrics"; }
# value NAME{LABELS}: the sample's value in the last scrape ($TEST_TMP/m), "" when none
value() { awk -v k="$1" '$1 == k { print $2 }' "$TEST_TMP/m"; }

# ---- journeys, then a scrape ----
is "$(sms "$BUYER" "CHECK $A")" "$(render en check.clean maker=Nokia model=N900)" \
	"an SMS check"
is "$(walk u1 "$BUYER2" 1 "$A")" "END $(render en check.clean maker=Nokia model=N900)" \
	"a USSD check"
api=$(curl -s -H "Authorization: Bearer k3y-0f-partner-a-0123456789" "$url/v1/imei/$A")
like "$api" '"status":"clean"' "an API check"
is "$(curl -s -o /dev/null -w '%{http_code}' "$url/v1/imei/$A")" 401 "an API check without a key"
for _ in 1 2; do sms "$RATED" "CHECK $A" >/dev/null; done
like "$(sms "$RATED" "CHECK $A")" "Too many checks" "a third check of one number is refused"

# A report by USSD (the owner's one phone, the ID digits, stolen, a police number, confirmed),
# then the CEIR's result that it is blocked.
r=$(walk r1 "$OWNER" 2 1 5926 1 OB/1/2026 1)
ref=$(ref_in "$r")
[ -n "$ref" ]
ok $? "a report by USSD is accepted"
R XADD ceir:results '*' ref "$ref" imei "$A" result blocked reason ok >/dev/null
handled() {
	scrape >"$TEST_TMP/m" &&
		[ "$(value 'ceirgw_ceir_results_handled_total{result="blocked"}')" = 1 ]
}
wait_for 10 handled
ok $? "the CEIR's result is handled"

curl -sf -D "$TEST_TMP/h" -o "$TEST_TMP/m" "$admin/metrics"
ok $? "GET /metrics on the admin listener answers 200"
like "$(tr -d '\r' <"$TEST_TMP/h" | grep -i '^content-type:')" \
	"text/plain; version=0.0.4; charset=utf-8" "in the text format 0.0.4"
out=$("$PROMTOOL" check metrics <"$TEST_TMP/m" 2>&1)
ok $? "promtool check metrics accepts it"
[ -z "$out" ] || echo "$out" | head -n 10 | sed 's/^/# /'
is "$(curl -s -o /dev/null -w '%{http_code}' "$url/metrics")" 404 \
	"the public listener does not serve /metrics"
# ceirgwctl stats reads the same endpoint for a person.
out=$("$CEIRGWCTL" stats --admin "127.0.0.1:$aport")
ok $? "ceirgwctl stats reads the admin listener"
like "$out" "ceirgw_ceir_results_handled_total" "and shows the CEIR results family"
like "$out" 'result="blocked"' "with its label set"
like "$out" "ceirgw_redis_command_duration_seconds" "and the Redis latency histogram"

is "$(value "ceirgw_build_info{version=\"$("$CEIRGW" --version | cut -d' ' -f2)\"}")" 1 \
	"ceirgw_build_info names the version"
is "$(value 'ceirgw_requests_total{channel="sms_http",result="ok"}')" 4 "SMS requests: 4 ok"
is "$(value 'ceirgw_requests_total{channel="ussd_http",result="ok"}')" 10 \
	"USSD requests: the check's dial and 2 inputs, the report's dial and 6"
is "$(value 'ceirgw_requests_total{channel="api",result="ok"}')" 1 "API requests: 1 ok"
is "$(value 'ceirgw_requests_total{channel="api",result="refused"}')" 1 "... and 1 refused"
is "$(value 'ceirgw_journey_replies_total{channel="sms",result="ok"}')" 4 \
	"4 SMS answers, none 'unavailable'"
is "$(value 'ceirgw_journey_replies_total{channel="ussd",result="unavailable"}')" 0 \
	"no USSD screen 'unavailable'"
is "$(value 'ceirgw_flow_actions_started_total{action="check"}')" 6 "6 check actions started"
is "$(value 'ceirgw_flow_actions_completed_total{action="check",outcome="clean"}')" 5 \
	"5 ended clean"
is "$(value 'ceirgw_flow_actions_completed_total{action="check",outcome="limited"}')" 1 \
	"1 ended limited"
is "$(value 'ceirgw_refusals_total{limit="rate-check-msisdn"}')" 1 \
	"the refusal is counted by its setting"
for move in 'from="none",to="received"' 'from="received",to="verified"' \
	'from="verified",to="sent"' 'from="sent",to="blocked"'; do
	is "$(value "ceirgw_report_transitions_total{$move}")" 1 "report transition $move"
done
is "$(value 'ceirgw_ceir_requests_enqueued_total{kind="block"}')" 1 "one block request queued"
is "$(value 'ceirgw_flow_actions_completed_total{action="kyc",outcome="match"}')" 1 \
	"the ID digits matched once"
is "$(value 'ceirgw_redis_up')" 1 "ceirgw_redis_up 1"
is "$(value 'ceirgw_outbox_entries{path="box"}')" 0 "the box's outbox is empty"
n=$(value 'ceirgw_redis_command_duration_seconds_count{class="script"}')
[ "${n:-0}" -gt 0 ]
ok $? "Redis scripts timed ($n)"

# Labels come from fixed tables: no IMEI, number or other long digit run in any label, and
# none of the journeys' numbers anywhere.
is "$(grep -oE '\{[^}]*\}' "$TEST_TMP/m" | grep -cE '[0-9]{6,}')" 0 "no long digit run in a label"
leak=0
for s in "$A" 254712345678 254733000222 254733000444 254733000555 31415926 "$ref"; do
	grep -q "$s" "$TEST_TMP/m" && { leak=1; echo "# $s in /metrics"; }
done
is "$leak" 0 "no IMEI, number, ID digits or reference in /metrics"

# ---- the admin port taken ----
out=$("$CEIRGW" -c "$TEST_TMP/ceirgw.conf" --http "127.0.0.1:$(free_port)" 2>&1)
is $? 1 "a second ceirgw on the same admin port does not start"
like "$out" "admin-listen 127.0.0.1:$aport: cannot listen" "and names admin-listen and the address"

# ---- a real Prometheus scrapes it ----
pport=$(free_port)
cat >"$TEST_TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: ceirgw
    static_configs:
      - targets: ['127.0.0.1:$aport']
EOF
"$PROMETHEUS" --config.file="$TEST_TMP/prometheus.yml" --storage.tsdb.path="$TEST_TMP/prom" \
	--web.listen-address="127.0.0.1:$pport" >"$TEST_TMP/prometheus.log" 2>&1 &
test_pids="$test_pids $!"
promq() {	# promq QUERY: the query's first value, "" when none
	curl -s -G "http://127.0.0.1:$pport/api/v1/query" --data-urlencode "query=$1" |
		python3 -c 'import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "")' 2>/dev/null
}
prom_is() { [ "$(promq "$1")" = "$2" ]; }
checks='sum(ceirgw_flow_actions_completed_total{action="check"})'
wait_for 60 prom_is "$checks" 6
rc=$?
ok $rc "Prometheus scrapes ceirgw (its query API sees the 6 checks)"
[ $rc -eq 0 ] || tail -n 5 "$TEST_TMP/prometheus.log" | sed 's/^/# /'
is "$(promq 'up{job="ceirgw"}')" 1 "up{job=\"ceirgw\"} is 1"
sms "$BUYER" "CHECK $A" >/dev/null
wait_for 30 prom_is "$checks" 7
ok $? "one more check: Prometheus sees the counter move to 7"

# ---- a reload keeps the admin listener where it is ----
sed -i "s/^admin-listen = .*/admin-listen = 127.0.0.1:$(free_port)/" "$TEST_TMP/ceirgw.conf"
kill -HUP "$gw"
wait_for 10 grep -q "reload: admin-listen changed; it takes effect at the next restart" \
	"$TEST_TMP/ceirgw.log"
ok $? "SIGHUP with another admin-listen: the change waits for the next restart"
wait_for 10 grep -q "reload 1 done" "$TEST_TMP/ceirgw.log"
curl -sf -o /dev/null "$admin/metrics"
ok $? "... and /metrics is still served where it was"

# ---- Redis frozen: the in-process metrics are still served ----
kill -STOP "$redis_pid"
curl -s -m 10 -o "$TEST_TMP/m" "$admin/metrics"
ok $? "with Redis frozen, /metrics still answers"
is "$(value 'ceirgw_redis_up')" 0 "... with ceirgw_redis_up 0"
is "$(value 'ceirgw_flow_actions_started_total{action="check"}')" 7 "... and the counters"
kill -CONT "$redis_pid"

gw_stop
sanitizer_clean
done_testing
