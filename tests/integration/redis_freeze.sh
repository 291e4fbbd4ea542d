# A frozen Redis (redis-server stopped with SIGSTOP for 6 s) under USSD traffic: every
# request answers the "unavailable" screen within 2.5 s (redis-timeout, 1 s), /healthz
# answers 503 for as long as the freeze, and after SIGCONT ceirgw is up again by itself and
# a check works; ceirgw did not crash and logged the timeout.
. "$(dirname "$0")/lib.sh"

REDIS_CLI=$(command -v redis-cli)
rport=$(free_port)
hport=$(free_port)
url=http://127.0.0.1:$hport
R() { "$REDIS_CLI" -p "$rport" "$@"; }

"$REDIS_SERVER" --port "$rport" --bind 127.0.0.1 --save '' --appendonly no \
	--dir "$TEST_TMP" >"$TEST_TMP/redis.log" 2>&1 &
rpid=$!
test_pids="$test_pids $rpid"
wait_for 10 R ping

A=356938035643809
cat >"$TEST_TMP/pairings.csv" <<EOF
imei,msisdn,imsi,first_seen,last_seen
$A,254712345678,639021000000001,2025-01-01,$(date -u +%F)
EOF
cat >"$TEST_TMP/ceirgw.conf" <<EOF
group = ceirgw
http-listen = 127.0.0.1:$hport
redis = redis://127.0.0.1:$rport
redis-timeout = 1000
log-file = ceirgw.log
log-level = info
EOF
"$CEIRGWCTL" import pairings -c "$TEST_TMP/ceirgw.conf" --rejects "$TEST_TMP/rej.csv" \
	"$TEST_TMP/pairings.csv" >/dev/null
ok $? "pairings imported"

"$CEIRGW" -c "$TEST_TMP/ceirgw.conf" 2>"$TEST_TMP/ceirgw.err" &
gw=$!
test_pids="$test_pids $gw"
wait_for 10 curl -sf "$url/healthz"
ok $? "ceirgw is up"

render() { "$CEIRGWCTL" flows render "$@"; }
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

kill -STOP "$rpid"
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
kill -CONT "$rpid"
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
kill "$gw"
wait_exit 10 "$gw"
is "$exit_status" 0 "ceirgw stops cleanly"
grep -E "Sanitizer|runtime error" "$TEST_TMP/ceirgw.err" | sed 's/^/# /'
is "$(grep -cE "Sanitizer|runtime error" "$TEST_TMP/ceirgw.err")" 0 \
	"no sanitizer report from ceirgw"
done_testing
