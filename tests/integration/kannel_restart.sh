# bearerbox killed (SIGKILL, as a crash) and restarted in the middle of 1,000 MOs from
# fakesmsc: ceirgw reconnects by itself; every MO bearerbox took in gets exactly one reply;
# every owner's report is queued for the CEIR exactly once and its receipt sent once.
#
# fakesmsc sends 1,000 MOs picked at random from 40 reports (STOLEN <IMEI> <ID>, one per
# owner: the first is accepted, the repeats are "already reported") and 40 checks. What
# bearerbox took in is what its access log says it received (it writes its store first), so
# the count does not depend on where the kill cut the SMSC link.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kannel_lib.sh"

hport=$(free_port)
fport=$(free_port)
TOTAL=1000
OWNERS=40

redis_start
ok $? "redis-server is up" || cat "$TEST_TMP/redis.log"

today=$(date -u +%F)
echo "imei,msisdn,imsi,first_seen,last_seen" >"$TEST_TMP/pairings.csv"
echo "msisdn,national_id" >"$TEST_TMP/kyc.csv"
: >"$TEST_TMP/msgs"
for i in $(seq 1 "$OWNERS"); do
	n=$(printf '%04d' "$i")
	imei=$("$CEIRGWCTL" imei --json "3533200000$n" | sed 's/.*"imei":"\([0-9]*\)".*/\1/')
	echo "$imei,25471100$n,6390210000$n,2025-01-01,$today" >>"$TEST_TMP/pairings.csv"
	echo "25471100$n,2900$n" >>"$TEST_TMP/kyc.csv"
	echo "$imei" >>"$TEST_TMP/imeis"
	echo "25471100$n 384 text STOLEN $imei $n" >>"$TEST_TMP/msgs"
	echo "25473300$n 384 text CHECK $imei" >>"$TEST_TMP/msgs"
done
gw_conf "redis = redis://127.0.0.1:$rport" info "bearerbox = 127.0.0.1:$bb_box" \
	"box-smsc-id = fake" "rate-check-msisdn = 100000/3600" "rate-check-imei = 100000/3600" \
	"rate-report-msisdn = 100000/86400" "rate-report-imei = 100000/86400"
{ import_pairings && import_kyc; } >/dev/null
ok $? "$OWNERS owners with a phone and an ID on record"

# The access log carries each message's id: what bearerbox replays from its store after the
# kill is told apart from what ceirgw sends (tests/tools/kannel_store.py).
BB_CORE="access-log = $TEST_TMP/access.log
access-log-format = \"%l [SMSC:%i] [id:%I] [from:%p] [to:%P] [msg:%L:%b]\"" bb_conf fake:"$fport"
bb_start
ok $? "bearerbox is up"
gw_spawn
wait_for 10 box_connected "$hport"
ok $? "ceirgw is connected"

# MO replies go to the sender as it came ("2547..."), notifications to E.164 ("+2547...").
mo_replies() { cat "$TEST_TMP"/fake*.log | "$REPLIES" /dev/stdin | grep -c '^2'; }
receipts() { cat "$TEST_TMP"/fake*.log | "$REPLIES" /dev/stdin | grep -c '^+'; }
received() { grep -c 'Receive SMS' "$TEST_TMP/access.log"; }

mapfile -t msgs <"$TEST_TMP/msgs"
# send N LOG: fakesmsc sends N MOs picked from msgs, its log in LOG; sets fake.
send() {
	"$FAKESMSC" -H 127.0.0.1 -r "$fport" -i 0.004 -m "$1" "${msgs[@]}" >"$2" 2>&1 &
	fake=$!
	test_pids="$test_pids $fake"
}
send "$TOTAL" "$TEST_TMP/fake1.log"
wait_for 20 sh -c "[ \$(grep -c 'Got message' '$TEST_TMP/fake1.log') -ge 250 ]"
ok $? "250 replies in: now bearerbox is killed"
bb_kill KILL
wait "$fake" 2>/dev/null
sent1=$(grep -c 'sent message' "$TEST_TMP/fake1.log")
ok $((sent1 >= TOTAL)) "fakesmsc had sent $sent1 of $TOTAL when bearerbox died"
wait_for 5 sh -c "! curl -s http://127.0.0.1:$hport/healthz | grep -q '\"bearerbox\":\"connected\"'"
ok $? "ceirgw saw bearerbox go"

sleep 1
# Kannel's own replays (see kannel_store.py): MTs that had gone out and will go out again,
# those of them to "+" numbers, MOs stored but never in the access log.
read -r again again_plus unlogged stored < <(python3 "$top_srcdir/tests/tools/kannel_store.py" \
	"$TEST_TMP/bearerbox.store" "$TEST_TMP/access.log")
echo "# bearerbox holds $stored messages without an ack; it will replay $again MTs it had" \
	"sent ($again_plus notifications) and $unlogged MOs it stored but did not log"
bb_start
ok $? "bearerbox restarted on its store file"
wait_for 10 grep -q 'non-acknowledged messages' "$TEST_TMP/bearerbox.log"
is "$(grep -o 'non-acknowledged messages: [0-9]*' "$TEST_TMP/bearerbox.log" | tail -n1 |
	grep -o '[0-9]*$')" "$stored" "the store read as bearerbox reads it ($stored messages to replay)"
wait_for 40 box_connected "$hport"
ok $? "ceirgw reconnected by itself"
rest=$((TOTAL - sent1))
send "$rest" "$TEST_TMP/fake2.log"
wait_for 60 sh -c "[ \$(grep -c 'sent message' '$TEST_TMP/fake2.log') -ge $rest ]"
ok $? "the other $rest MOs sent"
took=$(received)
wait_for 60 sh -c "[ \$(cat '$TEST_TMP'/fake*.log | '$REPLIES' /dev/stdin | grep -c '^2') -ge $took ]"
ok $? "every MO bearerbox took in was answered"
sleep 2	# a duplicate would come now
took=$(($(received) + unlogged))
# bearerbox keeps an MT in its store before it acks it: one it stored but did not ack before
# the kill goes out twice (from its store, and from ceirgw, which sends what was not acked).
# Only those can be doubled by ceirgw; it says how many it had when the connection died.
# bearerbox itself sends again an MT it had sent whose ack it had not stored ($again).
waiting=$(grep -o 'lost ([^)]*); [0-9]* MT waiting' "$TEST_TMP/ceirgw.log" | head -n1 |
	grep -o '[0-9]* MT' | cut -d' ' -f1)
waiting=${waiting:-0}
dups=$(($(mo_replies) - took))
echo "# $took MOs taken in, $(mo_replies) replies; $waiting MTs in flight at the kill"
ok $((dups < 0 || dups > waiting + again - again_plus)) \
	"one reply for each of the $took MOs bearerbox took in ($dups more, of the $waiting in flight and $((again - again_plus)) bearerbox sent twice)"

# Per number: no MO without its reply.
grep 'Receive SMS' "$TEST_TMP/access.log" | grep -o 'from:[0-9+]*' | cut -c6- | sort |
	uniq -c | awk '{print $2, $1}' >"$TEST_TMP/in.count"
cat "$TEST_TMP"/fake*.log | "$REPLIES" /dev/stdin | grep '^2' | cut -f1 | sort | uniq -c |
	awk '{print $2, $1}' >"$TEST_TMP/out.count"
short=$(join -a1 -e0 -o 0,1.2,2.2 "$TEST_TMP/in.count" "$TEST_TMP/out.count" |
	awk '$3 < $2' | wc -l)
is "$short" 0 "per number, every MO answered ($(wc -l <"$TEST_TMP/in.count") numbers)"

reporters=$(grep 'Receive SMS' "$TEST_TMP/access.log" | grep -o 'from:[0-9+]*' | grep -c -x \
	'from:+*25471100[0-9]*' || true)
owners=$(grep 'Receive SMS' "$TEST_TMP/access.log" | grep -o 'from:[0-9+]*' |
	grep -x 'from:+*25471100[0-9]*' | sort -u | wc -l)
is "$(R XLEN ceir:requests)" "$owners" "$owners owners reported ($reporters MOs): one request each"
is "$(R XRANGE ceir:requests - + | grep -- '-block$' | sort | uniq -d | wc -l)" 0 \
	"no request id twice"
wait_for 20 sh -c "[ \$(cat '$TEST_TMP'/fake*.log | '$REPLIES' /dev/stdin | grep -c '^+') -ge $owners ]"
r=$(receipts)
ok $((r < owners || r > owners + waiting + again_plus)) "one receipt per report ($r for $owners reports)"
done_ok=$(cat "$TEST_TMP"/fake*.log | "$REPLIES" /dev/stdin | grep -c 'report received')
ok $((done_ok < owners || done_ok > owners + waiting + again - again_plus)) \
	"one 'report received' per owner, the repeats 'already reported' ($done_ok for $owners)"
is "$(R KEYS 'rep:{*}' | wc -l)" "$owners" "as many reports as owners"
for imei in $(R KEYS 'rep:{*}' | head -n 5); do
	is "$(R HGET "$imei" state)" sent "report $imei is with the CEIR"
done
grep -q "25471100\|25473300" "$TEST_TMP/ceirgw.log"
ok $((!$?)) "no full MSISDN in ceirgw's log"

done_testing
