# ceirgwctl's admin commands (issue 20, doc/admin.md) against the real ceirgw and a real Redis
# (one redis-server, or a cluster with CEIRGW_TEST_BACKEND=cluster: backend_lib.sh): a report
# made by the SMS journey and blocked by the CEIR's result, then queue, report and outbox as
# text and --json, unlock of a report's PIN lock-out (a burst of wrong PINs; the right PIN
# works after it) and of a number's ID lock-out, audited in the log with the masked number;
# stats against a stand-in /metrics (tests/tools/metrics_fake.py: the real endpoint is
# another branch's); every command's own --help; and the read-only commands that find no
# Redis: they refuse, start none and create no directory.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/backend_lib.sh"
. "$(dirname "$0")/journey_lib.sh"

journey_start

OWNER=+254712345678	# phone A, ID 31415926
OWNER2=+254722000111	# phone C, ID A9876543
STRANGER=+254733000222
A=356938035643809
C=353322001234567
pairings_csv "$(phone_row A)" "$(phone_row C)"
kyc_csv "$KYC_OWNER" "$KYC_OWNER2" 254733000222,11223344
journey_gw info "verify-tries = 3" "verify-lockout = 3600" "rate-unblock-msisdn = 50/3600"
ctl() {	# ceirgwctl, its standard error in ctl.err (and all of them in ctl.all)
	local rc
	"$CEIRGWCTL" "$@" 2>"$TEST_TMP/ctl.err"
	rc=$?
	cat "$TEST_TMP/ctl.err" >>"$TEST_TMP/ctl.all"
	return $rc
}
json_ok() {	# json_ok FILE PYTHON-EXPRESSION: every line is JSON, and the expression holds
	python3 -c 'import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(0 if eval("(" + sys.argv[2] + ")") else 1)' "$1" "$2"
}

# ---- a report, through the SMS journey, then the CEIR's result ----------------------------
r=$(sms "$OWNER" "STOLEN $A 5926")
ref=$(ref_in "$r")
is "$r" "$(render en sms.report_done ref="$ref")" "the owner reports phone A by SMS"
wait_for 10 grep -q "report $ref for" "$TEST_TMP/sms.log"
ok $? "the receipt went out"
pin=$(grep "report $ref for" "$TEST_TMP/sms.log" | grep -o "PIN: [0-9]\{6\}" | head -n1 | cut -c6-)
is "${#pin}" 6 "... with the PIN"
# The CEIR side: a consumer group that has read the request and not acknowledged it yet.
R XGROUP CREATE ceir:requests ceir 0 >/dev/null
R XREADGROUP GROUP ceir ceir-1 COUNT 10 STREAMS ceir:requests '>' >/dev/null
R XADD ceir:results '*' ref "$ref" imei "$A" result blocked reason ok >/dev/null
wait_for 10 r_is blocked HGET "rep:{$A}" state
ok $? "the CEIR's result blocked the report"
digest=$(R HGET "rep:{$A}" pin)
is "${#digest}" 16 "the report keeps the PIN's digest"

# ---- queue ----------------------------------------------------------------------------------
ctl queue -c "$CONF" >"$TEST_TMP/queue.out"
is "$?" 0 "queue: exit 0"
q=$(cat "$TEST_TMP/queue.out")
like "$q" "ceir:requests (requests): 1 entries, oldest " "queue: the requests stream, its length"
like "$q" "group ceir: 1 consumers, 1 pending" "queue: the CEIR's group with its pending entry"
like "$q" "oldest pending " "queue: ... the oldest pending and its age"
like "$q" "ceir:results (results): 1 entries" "queue: the results stream"
like "$q" "group ceirgw: " "queue: ceirgw's own group on the results"
like "$q" "type=block ref=$ref imei=$A" "queue: the last entries"
like "$q" "owner_msisdn=+2547****5678" "queue: numbers masked"
is "$(grep -c 254712345678 "$TEST_TMP/queue.out")" 0 "queue: no full number"
ctl queue -c "$CONF" --json --last 1 >"$TEST_TMP/queue.json"
is "$?" 0 "queue --json: exit 0"
json_ok "$TEST_TMP/queue.json" "len(lines) == 2 and lines[0]['stream'] == 'ceir:requests' and
lines[0]['length'] == 1 and lines[0]['groups'][0]['name'] == 'ceir' and
lines[0]['groups'][0]['pending'] == 1 and lines[0]['oldest_age_s'] >= 0 and
lines[0]['last'][0]['fields']['ref'] == '$ref' and
lines[0]['last'][0]['fields']['owner_msisdn'] == '+2547****5678' and
lines[1]['stream'] == 'ceir:results' and lines[1]['length'] == 1"
ok $? "queue --json: one object per stream, groups, pending and the last entry"
# The neighbours' decisions, once a follower wrote one (feed_follow.sh writes them for real).
R XADD ceir:foreign '*' imei "$C" country TZ status stolen reason stolen day 2026-12-01 \
	origin tz.example/feed index 0 >/dev/null
ctl queue -c "$CONF" --json --last 1 >"$TEST_TMP/queue.json"
json_ok "$TEST_TMP/queue.json" "len(lines) == 3 and lines[2]['stream'] == 'ceir:foreign' and
lines[2]['length'] == 1 and lines[2]['groups'] == [] and lines[2]['last'][0]['fields']['country'] == 'TZ'"
ok $? "queue: ceir:foreign too, once it exists"
ctl queue -c "$CONF" --last 0 >"$TEST_TMP/queue0.out"
is "$?:$(grep -c 'last ' "$TEST_TMP/queue0.out")" "0:0" "queue --last 0: no entries listed"
ctl queue -c "$CONF" --last 1001 >/dev/null
is "$?" 2 "queue --last 1001: a usage error (at most 1000)"
like "$(cat "$TEST_TMP/ctl.err")" "--last 1001: expected 0 to 1000" "... saying the bound"

# ---- report -----------------------------------------------------------------------------------
ctl report -c "$CONF" "$ref" >"$TEST_TMP/report.out"
is "$?" 0 "report REF: exit 0"
rep=$(cat "$TEST_TMP/report.out")
like "$rep" "report     $ref" "report: its reference"
like "$rep" "imei       $A" "report: the IMEI"
like "$rep" "state      blocked (open)" "report: the state, decoded by the report module"
like "$rep" "block request queued (entry " "report: the history: the block request"
like "$rep" "opened" "report: the history: opened"
like "$rep" "reason     stolen" "report: the evidence: reason"
like "$rep" "owner      +2547****5678" "report: the owner, masked"
like "$rep" "PIN        on record (not shown)" "report: the PIN on record, not shown"
like "$rep" "PIN tries  no wrong PIN counted" "report: no wrong PIN yet"
case $rep in *"$digest"* | *254712345678* | *"$pin"*) ok 1 "report: no PIN, digest or full number" ;;
*) ok 0 "report: no PIN, digest or full number" ;; esac
ctl report -c "$CONF" "$A" >"$TEST_TMP/report2.out"
is "$?:$(head -n1 "$TEST_TMP/report2.out")" "0:report     $ref" "report IMEI: the same report"
ctl report -c "$CONF" --json "$ref" >"$TEST_TMP/report.json"
is "$?" 0 "report --json: exit 0"
json_ok "$TEST_TMP/report.json" "len(lines) == 1 and lines[0]['state'] == 'blocked' and
lines[0]['ref'] == '$ref' and lines[0]['owner'] == '+2547****5678' and
lines[0]['pin_set'] is True and 'pin' not in lines[0] and lines[0]['reason'] == 'stolen'"
ok $? "report --json: state, masked owner, no PIN field"
grep -q "$digest" "$TEST_TMP/report.json"
ok $((!$?)) "report --json: not the PIN's digest"
ctl report -c "$CONF" 1234567897 >/dev/null
is "$?" 1 "report of an unknown reference: exit 1"
ctl report -c "$CONF" not-a-ref >/dev/null
is "$?" 2 "report of neither a reference nor an IMEI: exit 2"

# ---- unlock a report: a burst of wrong PINs locks it, unlock clears it ------------------------
# unlocks NAME WHAT WANT DESCRIPTION: ceirgwctl unlock WHAT; two TAP lines: it exits 0
# ("unlock NAME: exit 0"), and what it prints holds WANT (DESCRIPTION).
unlocks() {
	ctl unlock -c "$CONF" "$2" >"$TEST_TMP/unlock.out"
	is "$?" 0 "unlock $1: exit 0"
	like "$(cat "$TEST_TMP/unlock.out")" "$3" "$4"
}
for p in 000000 111111 222222; do sms "$OWNER" "RECOVERED $ref $p" >/dev/null; done
is "$(sms "$OWNER" "RECOVERED $ref $pin")" "$(render en unblock.locked minutes=60)" \
	"three wrong PINs: the right one is refused, locked"
ctl report -c "$CONF" "$ref" >"$TEST_TMP/report3.out"
like "$(cat "$TEST_TMP/report3.out")" "wrong PINs from the owner's or reporter's line: 3, LOCKED" \
	"report: the PIN lock-out shows"
unlocks REF "$ref" \
	"report $ref: cleared wrong PINs from the owner's or reporter's line: 3 (locked" \
	"unlock REF: says what it cleared"
is "$(sms "$OWNER" "RECOVERED $ref $pin")" "$(render en unblock.done ref="$ref")" \
	"then the right PIN works"
user=$(id -un)
wait_for 5 grep -q "audit: unlock report $ref by user $user" "$TEST_TMP/ceirgw.log"
ok $? "the audit line is in ceirgw's log, with the reference and the user"
ctl unlock -c "$CONF" "$ref" >"$TEST_TMP/unlock2.out"
is "$?:$(cat "$TEST_TMP/unlock2.out")" "1:report $ref: nothing to clear" \
	"unlock again: nothing to clear, exit 1"

# ---- unlock a number: its owner's wrong ID digits ----------------------------------------------
# STOLEN by SMS compares the sender's own ID digits: three wrong lock the number out.
for d in 0000 1111 2222; do sms "$STRANGER" "STOLEN $C $d" >/dev/null; done
is "$(sms "$STRANGER" "STOLEN $C 3344")" "$(render en report.locked minutes=60)" \
	"three wrong ID digits from a number: locked, even with the right ones"
unlocks MSISDN "$STRANGER" \
	"number +2547****0222: cleared ID-digit tries from the owner's own line: 3 (locked" \
	"unlock MSISDN: the ID lock-out, the number masked"
is "$(sms "$STRANGER" "STOLEN $C 0000")" "$(render en sms.id_wrong tries=2)" \
	"after it the number's counter starts again"
wait_for 5 grep -q "audit: unlock number +2547\*\*\*\*0222 by user $user (uid $(id -u)): cleared ID-digit" \
	"$TEST_TMP/ceirgw.log"
ok $? "the audit line names the masked number, the user and what was cleared"
is "$(grep -c -e 254733000222 -e 254712345678 "$TEST_TMP/ceirgw.log")" 0 "no full number in the log"
# A one-time code to the owner's line (issue 18), written as the issue script keeps it: a code
# still in use is no lock-out and stays; one whose tries are used up is.
otp="otp:{$OWNER2}:own"
R HSET "$otp" d 0011223344556677 by "$OWNER2" n 1 >/dev/null
R PEXPIRE "$otp" 300000 >/dev/null
ctl unlock -c "$CONF" "$OWNER2" >"$TEST_TMP/unlock5.out"
is "$?:$(cat "$TEST_TMP/unlock5.out")" "1:number +2547****0111: nothing to clear" \
	"unlock of a number with nothing held: exit 1"
is "$(R EXISTS "$otp")" 1 "... a code still in use is left alone"
R HSET "$otp" n 3 >/dev/null
ctl unlock -c "$CONF" "$OWNER2" >"$TEST_TMP/unlock6.out"
like "$?:$(cat "$TEST_TMP/unlock6.out")" \
	"0:number +2547****0111: cleared one-time code asked from the line itself, tries used up: 3 (locked" \
	"unlock: a code whose tries are used up is cleared"
is "$(R EXISTS "$otp")" 0 "... deleted, so that a new one can be asked"
ctl unlock -c "$CONF" --limits "$STRANGER" >"$TEST_TMP/unlock4.out"
is "$?" 0 "unlock --limits: the stranger's per-caller limits"
like "$(cat "$TEST_TMP/unlock4.out")" "limit: ID-digit tries from this number" "... named"
ctl unlock -c "$CONF" 12ab >/dev/null
is "$?" 2 "unlock of neither a number nor a reference: exit 2"

# ---- outbox -------------------------------------------------------------------------------------
# No Kannel box here: an SMS on its path waits.
R XADD ceirgw:outbox '*' to "$OWNER" text "secret 246813" >/dev/null
ctl outbox -c "$CONF" >"$TEST_TMP/outbox.out"
is "$?" 0 "outbox: exit 0"
o=$(cat "$TEST_TMP/outbox.out")
like "$o" "ceirgw:outbox (kannel box): 1 entries, oldest " "outbox: the box path's depth and oldest"
like "$o" "ceirgw:outbox-http (sendsms): " "outbox: the sendsms path"
case $o in *246813* | *254712345678*) ok 1 "outbox: no text, no number" ;;
*) ok 0 "outbox: no text, no number" ;; esac
ctl outbox -c "$CONF" --json >"$TEST_TMP/outbox.json"
json_ok "$TEST_TMP/outbox.json" "len(lines) == 2 and lines[0]['stream'] == 'ceirgw:outbox' and
lines[0]['length'] == 1 and lines[0]['oldest_age_s'] >= 0 and 'last' not in lines[0] and
lines[1]['stream'] == 'ceirgw:outbox-http' and lines[1]['groups'][0]['name'] == 'ceirgw'"
ok $? "outbox --json: per path, depth and oldest"

# ---- stats: a stand-in for the admin listener's /metrics --------------------------------------
mport=$(free_port)
cat >"$TEST_TMP/metrics.txt" <<'EOF'
# HELP ceirgw_build_info Build information.
# TYPE ceirgw_build_info gauge
ceirgw_build_info{version="0.1"} 1
# HELP ceirgw_requests_total Requests by channel and result.
# TYPE ceirgw_requests_total counter
ceirgw_requests_total{channel="sms",result="ok"} 12
ceirgw_requests_total{channel="ussd",result="refused"} 3
# HELP ceirgw_redis_op_seconds Redis operation latency.
# TYPE ceirgw_redis_op_seconds histogram
ceirgw_redis_op_seconds_bucket{op="get",le="0.001"} 8
ceirgw_redis_op_seconds_bucket{op="get",le="+Inf"} 10
ceirgw_redis_op_seconds_sum{op="get"} 0.02
ceirgw_redis_op_seconds_count{op="get"} 10
EOF
/usr/bin/python3 "$top_srcdir/tests/tools/metrics_fake.py" "$mport" "$TEST_TMP/metrics.txt" &
test_pids="$test_pids $!"
wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$mport/metrics"
ctl stats --admin "127.0.0.1:$mport" >"$TEST_TMP/stats.out"
is "$?" 0 "stats: exit 0"
cat >"$TEST_TMP/stats.want" <<'EOF'
ceirgw_build_info (gauge): Build information.
  {version="0.1"}                          1
ceirgw_requests_total (counter): Requests by channel and result.
  {channel="sms",result="ok"}              12
  {channel="ussd",result="refused"}        3
ceirgw_redis_op_seconds (histogram): Redis operation latency.
  {op="get"}                               count 10  sum 0.02  avg 0.002
EOF
compare_transcript "$TEST_TMP/stats.want" "$TEST_TMP/stats.out" "stats"
# The same page in chunks, as a proxy may send it.
cport=$(free_port)
/usr/bin/python3 "$top_srcdir/tests/tools/metrics_fake.py" "$cport" "$TEST_TMP/metrics.txt" \
	--chunked &
test_pids="$test_pids $!"
wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$cport/metrics"
ctl stats --admin "127.0.0.1:$cport" >"$TEST_TMP/stats-chunked.out"
is "$?" 0 "stats of a chunked answer: exit 0"
compare_transcript "$TEST_TMP/stats.want" "$TEST_TMP/stats-chunked.out" "stats, chunked"
# What a page may hold besides: escaped quotes and braces in a label value, timestamps, an
# untyped sample, a summary (its quantiles left out), an empty histogram, and lines that are
# no sample at all (left out, nothing else lost).
cat >"$TEST_TMP/metrics.txt" <<'EOF'
# HELP ceirgw_odd_total A label with "quotes}" inside.
# TYPE ceirgw_odd_total counter
ceirgw_odd_total{path="a\"b}c",x="1"} 2
garbage line without value
ceirgw_untyped 7 1700000000000
# TYPE ceirgw_lat summary
ceirgw_lat{quantile="0.5"} 0.1
ceirgw_lat_sum 3
ceirgw_lat_count 30
# HELP ceirgw_h Hist.
# TYPE ceirgw_h histogram
ceirgw_h_bucket{a="1",le="+Inf"} 0
ceirgw_h_sum{a="1"} 0
ceirgw_h_count{a="1"} 0
{bad} 1
ceirgw_x{unterminated="1 2
EOF
ctl stats --admin "127.0.0.1:$mport" >"$TEST_TMP/stats2.out"
is "$?" 0 "stats of an odd page: exit 0"
cat >"$TEST_TMP/stats2.want" <<'EOF'
ceirgw_odd_total (counter): A label with "quotes}" inside.
  {path="a\"b}c",x="1"}                    2
ceirgw_untyped (untyped)
  {}                                       7
ceirgw_lat (summary)
  {}                                       count 30  sum 3  avg 0.1
ceirgw_h (histogram): Hist.
  {a="1"}                                  count 0  sum 0
EOF
compare_transcript "$TEST_TMP/stats2.want" "$TEST_TMP/stats2.out" "stats, odd page"
# admin-listen from the configuration.
printf 'group = ceirgw\nhttp-listen = 127.0.0.1:%s\nadmin-listen = 127.0.0.1:%s\n' "$(free_port)" \
	"$mport" >"$TEST_TMP/stats.conf"
ctl stats -c "$TEST_TMP/stats.conf" >/dev/null
is "$?" 0 "stats -c: admin-listen from the configuration"
head -c 1100000 /dev/zero | tr '\0' 'x' >"$TEST_TMP/metrics.txt"
ctl stats --admin "127.0.0.1:$mport" >/dev/null
is "$?" 1 "stats: a /metrics over 1 MiB is refused"
like "$(cat "$TEST_TMP/ctl.err")" "larger than 1 MiB" "... saying so"
ctl stats --admin "127.0.0.1:$(free_port)" >/dev/null
is "$?" 1 "stats: nothing listening: exit 1"
# A listener that accepts and never answers: given up after the fetch's timeout.
sport=$(free_port)
/usr/bin/python3 -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8)
held = []
while True:
    held.append(s.accept()[0])' "$sport" &
test_pids="$test_pids $!"
wait_for 10 python3 -c 'import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])))' "$sport" 2>/dev/null
ctl stats --admin "127.0.0.1:$sport" >/dev/null
is "$?" 1 "stats: a listener that never answers: exit 1"
like "$(cat "$TEST_TMP/ctl.err")" "no answer within the timeout" "... saying so"
ctl stats --admin nonsense >/dev/null
is "$?" 2 "stats --admin without a port: a usage error"

# ---- every command's own --help ---------------------------------------------------------------
for c in imei msisdn import verify flows phone lookup feed queue report outbox unlock stats; do
	h=$("$CEIRGWCTL" "$c" --help 2>&1)
	st=$?
	like "$st:$(printf '%s' "$h" | head -n1)" "0:Usage: ceirgwctl $c" "$c --help: its own usage, exit 0"
	h2=$("$CEIRGWCTL" help "$c" 2>&1)
	is "$?:$h2" "0:$h" "help $c: the same"
done
"$CEIRGWCTL" help nothing >/dev/null 2>&1
is "$?" 2 "help of an unknown command: exit 2"

# ---- no Redis named, none running: refused, nothing started, nothing created ------------------
printf 'group = ceirgw\nhttp-listen = 127.0.0.1:%s\ndata-dir = %s\nkyc-key-file = kyc.key\n' \
	"$(free_port)" "$TEST_TMP/absent/data" >"$TEST_TMP/noredis.conf"
nr() {	# nr DESCRIPTION COMMAND...: refused with exit 2, saying where it looked
	"$CEIRGWCTL" "${@:2}" >/dev/null 2>"$TEST_TMP/nr.err"
	is "$?" 2 "$1 with a data-dir where no ceirgw runs: exit 2"
	like "$(cat "$TEST_TMP/nr.err")" "no Redis answers on $TEST_TMP/absent/data/redis.sock" \
		"... saying where it looked"
}
NC=(-c "$TEST_TMP/noredis.conf")
nr "lookup imei" lookup imei "${NC[@]}" "$A"
nr "lookup msisdn" lookup msisdn "${NC[@]}" "$OWNER"
nr verify verify "${NC[@]}" "$OWNER" 5926
nr queue queue "${NC[@]}"
nr report report "${NC[@]}" "$ref"
nr outbox outbox "${NC[@]}"
nr unlock unlock "${NC[@]}" "$OWNER"
[ ! -e "$TEST_TMP/absent" ]
ok $? "no directory created, no Redis started"
# Without -c: the default data-dir. The test never touches it: it checks the refusal, and
# that a data-dir that was not there still is not.
if [ -S /var/lib/ceirgw/redis.sock ]; then
	echo "ok $((tap_n += 1)) # skip a ceirgw runs with the default data-dir on this machine"
else
	before=$([ -e /var/lib/ceirgw ] && echo there || echo absent)
	"$CEIRGWCTL" lookup imei "$A" >/dev/null 2>"$TEST_TMP/nr.err"
	is "$?" 2 "lookup without -c, no ceirgw running: exit 2"
	like "$(cat "$TEST_TMP/nr.err")" \
		"give -c FILE (ceirgw's configuration), --redis URL or --redis-cluster SEEDS" \
		"... saying what it needs"
	is "$([ -e /var/lib/ceirgw ] && echo there || echo absent)" "$before" \
		"... and the default data-dir was not created"
	"$CEIRGWCTL" queue >/dev/null 2>&1
	is "$?" 2 "queue without -c: exit 2"
fi

gw_stop
sanitizer_clean
grep -E "Sanitizer|runtime error" "$TEST_TMP/ctl.all" | head -n 5 | sed 's/^/# /'
is "$(grep -cE "Sanitizer|runtime error" "$TEST_TMP/ctl.all")" 0 "no sanitizer report from ceirgwctl"
done_testing
