# A frozen Redis (redis-server stopped with SIGSTOP for 6 s) under USSD traffic: every
# request answers the "unavailable" screen within 2.5 s (redis-timeout, 1 s), /healthz
# answers 503 for as long as the freeze, and after SIGCONT ceirgw is up again by itself and
# a check works; ceirgw did not crash and logged the timeout.
. "$(dirname "$0")/lib.sh"

hport=$(free_port)
url=http://127.0.0.1:$hport
redis_start

A=356938035643809
cat >"$TEST_TMP/pairings.csv" <<EOF
imei,msisdn,imsi,first_seen,last_seen
$A,254712345678,639021000000001,2025-01-01,$(date -u +%F)
EOF
cat >"$TEST_TMP/ceirgw.conf" <<EOF
group = ceirgw
http-listen = 127.0.0.1:$hport
$(admin_line)
redis = redis://127.0.0.1:$rport
redis-timeout = 1000
log-file = ceirgw.log
log-level = info
EOF
import_pairings >/dev/null
ok $? "pairings imported"

gw_start
ok $? "ceirgw is up"

clean="END $(render en check.clean maker=Nokia model=N900)"
busy="END $(render en common.unavailable)"
# check SESSION CALLER: *384*IMEI#, the reply body.
check() {
	curl -s --max-time 10 -X POST "$url/ussd" -d "sessionId=$1" \
		--data-urlencode "phoneNumber=$2" --data-urlencode "serviceCode=*384*$A#" \
		--data-urlencode "text="
}
# burst NAME N: N checks at once from N numbers; NAME.i holds each reply and NAME.t.i its
# time in seconds.
burst() {
	local i pids=""
	for i in $(seq 1 "$2"); do
		curl -s --max-time 10 -o "$TEST_TMP/$1.$i" -w '%{time_total}' \
			-X POST "$url/ussd" -d "sessionId=$1-$i" \
			--data-urlencode "phoneNumber=+2547330$(printf %05d "$i")" \
			--data-urlencode "serviceCode=*384*$A#" --data-urlencode "text=" \
			>"$TEST_TMP/$1.t.$i" &
		pids="$pids $!"
	done
	# shellcheck disable=SC2086 # (the pids, a word each)
	wait $pids
}
# burst_ok NAME N: how many replies were the "unavailable" screen within 2.5 s.
burst_ok() {
	local i n=0
	for i in $(seq 1 "$2"); do
		if [ "$(cat "$TEST_TMP/$1.$i")" = "$busy" ] &&
		   awk -v t="$(cat "$TEST_TMP/$1.t.$i")" 'BEGIN { exit !(t <= 2.5) }'; then
			n=$((n + 1))
		else
			echo "# $1.$i: '$(cat "$TEST_TMP/$1.$i")' in $(cat "$TEST_TMP/$1.t.$i") s"
		fi
	done
	echo "$n"
}
healthz() { curl -s --max-time 5 -o /dev/null -w '%{http_code}' "$url/healthz"; }

is "$(check f1 +254733000001)" "$clean" "a check before the freeze"

kill -STOP "$redis_pid"
t0=$(date +%s.%N)
burst b1 20
is "$(burst_ok b1 20 | tail -1)" 20 "a frozen Redis: 20 checks at once, each 'unavailable' within 2.5 s"
echo "# slowest of them: $(awk "{ print }" "$TEST_TMP"/b1.t.* | sort -n | tail -1) s"
is "$(healthz)" 503 "/healthz answers 503 during the freeze"
sleep 1.5
burst b2 20
is "$(burst_ok b2 20 | tail -1)" 20 "still frozen: 20 more, each 'unavailable' within 2.5 s"
echo "# slowest of them: $(awk "{ print }" "$TEST_TMP"/b2.t.* | sort -n | tail -1) s"
is "$(healthz)" 503 "/healthz still answers 503"
# The rest of the 6 s.
sleep "$(awk -v t0="$t0" -v now="$(date +%s.%N)" 'BEGIN { r = 6 - (now - t0); printf "%.2f\n", (r > 0 ? r : 0) }')"
is "$(healthz)" 503 "/healthz answers 503 until the end of the freeze"
kill -CONT "$redis_pid"
t1=$(date +%s.%N)
wait_for 8 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' $url/healthz)\" = 200 ]"
ok $? "after SIGCONT, /healthz answers 200 again"
echo "# up again $(awk -v a="$t1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }') s after SIGCONT"
is "$(check f2 +254733000002)" "$clean" "a check after the freeze"
kill -0 "$gw" 2>/dev/null
ok $? "ceirgw is still running"
n=$(grep -c "no answer in 1000 ms" "$TEST_TMP/ceirgw.log")
is "$n" 1 "the timeout is logged once for the episode"
grep -q "answering again, after" "$TEST_TMP/ceirgw.log"
ok $? "and the end of the episode"
# /metrics counts the timeouts (every one, where the log says it once) and the answers "try
# later" that the users were given.
aport=$(sed -n 's/^admin-listen = 127.0.0.1://p' "$TEST_TMP/ceirgw.conf")
curl -s "http://127.0.0.1:$aport/metrics" >"$TEST_TMP/m"
metric() { awk -v k="$1" '$1 == k { print $2 }' "$TEST_TMP/m"; }
[ "$(metric ceirgw_redis_timeouts_total)" -ge 1 ] 2>/dev/null
ok $? "/metrics: ceirgw_redis_timeouts_total counts them ($(metric ceirgw_redis_timeouts_total))"
is "$(metric 'ceirgw_journey_replies_total{channel="ussd",result="unavailable"}')" 40 \
	"/metrics: the 40 checks answered 'unavailable'"
is "$(metric 'ceirgw_journey_replies_total{channel="ussd",result="ok"}')" 2 \
	"/metrics: and the 2 answered before and after"
gw_stop
sanitizer_clean
done_testing
