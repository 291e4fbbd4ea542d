# Exactly once when ceirgw is killed in the middle of journeys: a real Redis (one
# redis-server, or a cluster with CEIRGW_TEST_BACKEND=cluster: backend_lib.sh), the real
# ceirgw, 30 owners each with one phone and an ID on record. All 30 report by SMS at once and
# ceirgw is killed (SIGKILL) while they are in flight; it starts again on the same Redis, every
# owner tries again, then once more. Each phone must end with one report in state sent, one
# block request on ceir:requests and one reference, which every answer names. Then the same
# for a USSD journey: killed after the confirm step was sent and before its answer, once with
# nothing done yet and once with the block request already added, then the aggregator retries
# the step with the same sessionId. Last, the receipt SMS (the PIN) of a report accepted just
# before the kill.
#
# How requests are caught in flight: Redis is frozen (DEBUG SLEEP) at a chosen point, ceirgw
# is killed while it waits for Redis, then Redis goes on. The freeze is armed by commands
# pipelined on a connection of their own (freeze_after): "XREAD BLOCK 0 STREAMS ceir:requests
# $" then "DEBUG SLEEP" freezes Redis right after the command that adds the next entry,
# before its reply has left Redis (Redis runs the next command of a client that XREAD
# unblocked before it writes pending replies): ceirgw never learns the entry was added.
# "XREADGROUP ... COUNT 1 BLOCK 0 ... >" N times then "DEBUG SLEEP" freezes it once N entries
# were added, however many one batch of ceirgw's commands adds (the group "freeze" is ours),
# possibly one command later.
# On a cluster, "Redis" in the above is the master that serves ceir:requests, and "at once"
# freezes every master.
. "$(dirname "$0")/lib.sh"
# A master frozen for FREEZE_S must not be taken for dead and replaced by its replica.
: "${CLUSTER_NODE_TIMEOUT:=10000}"
. "$(dirname "$0")/backend_lib.sh"
. "$(dirname "$0")/journey_lib.sh"

N=30
# ceirgw is killed while Redis sleeps, before its redis-timeout answers "try later": on a loaded
# machine, or a cluster whose three masters are each found asleep, getting there took over the
# default 1 s; the timeout is 4 s here and the sleep 5 s.
FREEZE_S=5
hport=$(free_port)
pport=$(free_port)
url=http://127.0.0.1:$hport

backend_start --enable-debug-command local
wait_for 10 R ping
ok $? "Redis is up"

# ---- the data: owner k has phone IMEI[k] and an ID ending in ID4[k]. Owners 1..N report in
# the burst, N+1 and N+2 by USSD, N+3 while sendsms is down.
declare -a OWNER IMEI ID4
today=$(date -u +%F)
echo "imei,msisdn,imsi,first_seen,last_seen" >"$TEST_TMP/pairings.csv"
echo "msisdn,national_id" >"$TEST_TMP/kyc.csv"
tacs=(35693803 35332000 35332200)	# Nokia N900, Samsung SGH-W110, Siemens A52 by turns
for k in $(seq 1 $((N + 3))); do
	OWNER[k]=+2547130000$(printf '%02d' "$k")
	IMEI[k]=$(imei_of "${tacs[k % 3]}009$(printf '%03d' "$k")")
	ID4[k]=$(printf '%04d' $((1000 + k * 37)))
	echo "${IMEI[k]},${OWNER[k]#+},6390210000$(printf '%05d' "$k"),2025-01-01,$today" \
		>>"$TEST_TMP/pairings.csv"
	echo "${OWNER[k]#+},77${ID4[k]}" >>"$TEST_TMP/kyc.csv"
done
gw_conf "$BACKEND_REDIS_CONF" debug "report-sweep-after = 11" "redis-timeout = 4000"
import_data

# The sendsms endpoint (Kannel's interface): records each SMS as "to TAB text" (a newline in
# the text as \n).
sendsms_start "$pport" "$TEST_TMP/sms.log"

# ---- helpers ----------------------------------------------------------------------------------
# The connections that freeze Redis (freeze_after), and the ports they freeze.
freeze_fds=""
freeze_ports=""
asleep() {
	local p
	for p in $freeze_ports; do
		! timeout 0.2 "$REDIS_CLI" -p "$p" PING >/dev/null 2>&1 || return 1
	done
}
# freeze_after N: Redis sleeps FREEZE_S: at once (0: every master), right after the next
# entry added to ceir:requests (1), or once N more entries were added (1 and N: the master
# of ceir:requests).
R XGROUP CREATE ceir:requests freeze '$' MKSTREAM >/dev/null
freeze_after() {
	local i p fd
	R XGROUP SETID ceir:requests freeze '$' >/dev/null
	freeze_fds=""
	if [ "$1" = 0 ]; then
		freeze_ports=$(backend_masters)
	else
		freeze_ports=$(backend_port_of_key ceir:requests)
	fi
	for p in $freeze_ports; do
		exec {fd}<>"/dev/tcp/127.0.0.1/$p"
		freeze_fds="$freeze_fds $fd"
		{
			if [ "$1" = 1 ]; then
				printf 'XREAD BLOCK 0 STREAMS ceir:requests $\r\n'
			else
				for i in $(seq 1 "$1"); do
					printf 'XREADGROUP GROUP freeze t COUNT 1 BLOCK 0 STREAMS ceir:requests >\r\n'
				done
			fi
			printf 'DEBUG SLEEP %s\r\n' "$FREEZE_S"
		} >&"$fd"
	done
}
# kill_frozen: once Redis is frozen, SIGKILL ceirgw; then wait for Redis to wake up.
kill_frozen() {
	local fd
	wait_for 10 asleep
	ok $? "$1: Redis frozen with requests in flight"
	{ kill -9 "$gw"; wait "$gw"; } 2>/dev/null
	for fd in $freeze_fds; do exec {fd}>&-; done
	wait_for 10 backend_awake
}
# block_entries IMEI: the block requests on ceir:requests for IMEI, one request_id a line.
block_entries() {
	backend_python - "$1" <<'EOF'
import sys, ceirgw_test_backend as backend
r = backend.connect(decode_responses=True)
for _, f in r.xrange("ceir:requests"):
    if f.get("imei") == sys.argv[1] and f.get("type") == "block":
        print(f.get("request_id", "-"))
EOF
}
# burst ROUND: every owner sends STOLEN <IMEI> <ID> at once (one connection each); the
# answers go to $TEST_TMP/ROUND.k (empty or missing: none came).
burst() {
	local k cfg=$TEST_TMP/$1.curl
	: >"$cfg"
	for k in $(seq 1 $N); do
		printf 'url = "%s/sms?from=%%2B%s&to=384&text=STOLEN%%20%s%%20%s&smsc=fake"\n' \
			"$url" "${OWNER[k]#+}" "${IMEI[k]}" "${ID4[k]}" >>"$cfg"
		printf 'output = "%s/%s.%s"\n' "$TEST_TMP" "$1" "$k" >>"$cfg"
	done
	curl -s -Z --no-progress-meter --parallel-max $N --max-time 10 -K "$cfg"
}
answer() { cat "$TEST_TMP/$1.$2" 2>/dev/null; }
# first_reports: the same, one curl each started one after the other, so that the journeys
# are at different steps when Redis is frozen. Run it in the background (it waits for its
# curls).
first_reports() {
	local k
	for k in $(seq 1 $N); do
		curl -s --max-time 10 -o "$TEST_TMP/first.$k" "$url/sms" --get \
			--data-urlencode "from=${OWNER[k]}" --data-urlencode "to=384" \
			--data-urlencode "text=STOLEN ${IMEI[k]} ${ID4[k]}" --data-urlencode "smsc=fake" &
	done
	wait
}

gw_start
ok $? "ceirgw is up"

# ---- SMS: 30 reports at once, ceirgw killed in the middle --------------------------------------
freeze_after 10
first_reports &
burst_pid=$!
kill_frozen "SMS burst"
wait "$burst_pid"
cut=0
for k in $(seq 1 $N); do [ -s "$TEST_TMP/first.$k" ] || cut=$((cut + 1)); done
[ "$cut" -ge 1 ]
ok $? "the kill cut reports in flight ($cut of $N got no answer)"
declare -a KILLED_AT	# the state each report was left in
for k in $(seq 1 $N); do KILLED_AT[k]=$(R HGET "rep:{${IMEI[k]}}" state); done
echo "# after the kill: $cut of $N without an answer; reports:" \
	"$(printf '%s\n' "${KILLED_AT[@]:1}" | sed 's/^$/none/' | sort | uniq -c | xargs);" \
	"$(R XLEN ceir:requests) block requests"

gw_start
ok $? "ceirgw is up again on the same Redis"
burst retry
burst again

# check_answers ROUND...: every answer of the rounds names the report's reference: accepted
# or already reported (the first round's may be missing: cut).
check_answers() {
	local k a round ref bad=""
	for k in $(seq 1 $N); do
		ref=$(R HGET "rep:{${IMEI[k]}}" ref)
		for round in "$@"; do
			a=$(answer "$round" "$k")
			[ -z "$a" ] && [ "$round" = first ] && continue
			[ "$a" = "$(render en sms.report_done ref="$ref")" ] ||
				[ "$a" = "$(render en report.already ref="$ref")" ] ||
				bad="$bad $k:$round:'$a'"
		done
	done
	printf '%s' "$bad"
}
# states: how many reports are in each state.
states() {
	for k in $(seq 1 $N); do R HGET "rep:{${IMEI[k]}}" state; done | sed 's/^$/none/' |
		sort | uniq -c | xargs
}
# entries_per_phone: "k:[request ids]" for each phone without exactly one block request, that
# of its report.
entries_per_phone() {
	local k got bad=""
	for k in $(seq 1 $N); do
		got=$(block_entries "${IMEI[k]}")
		[ "$got" = "$(R HGET "rep:{${IMEI[k]}}" ref)-block" ] || bad="$bad $k:[${got//$'\n'/ }]"
	done
	printf '%s' "$bad"
}
is "$(check_answers first retry again)" "" \
	"every answer names the report's reference (accepted or already reported)"
refs=$(for k in $(seq 1 $N); do R HGET "rep:{${IMEI[k]}}" ref; done)
# shellcheck disable=SC2086 # $refs: the references, a word each (none for a report without)
is "$(printf '%s\n' $refs | grep -c '^[0-9]\{10\}$')" "$N" "every report has a reference"
# shellcheck disable=SC2086
is "$(printf '%s\n' $refs | sort -u | wc -l)" "$N" "... and no two the same"
is "$(backend_python - <<'EOF'
import collections, ceirgw_test_backend as backend
r = backend.connect(decode_responses=True)
n = collections.Counter(f.get("imei") for _, f in r.xrange("ceir:requests"))
print(" ".join(sorted(i for i, c in n.items() if c > 1)))
EOF
)" "" "no phone has two block requests"
echo "# after two retries: reports: $(states); $(R XLEN ceir:requests) block requests"
# A retry within REPORT_RESUME_IDLE_S (10 s) of a half-done report's last change answers
# "already reported" and leaves it to the sweep: report-sweep-after (11 s here) after it was
# opened, ceirgw completes it itself, with no second block request.
for i in $(seq 1 80); do [ "$(states)" = "$N sent" ] && break; sleep 0.5; done
is "$(states)" "$N sent" "the sweep: every report is in state sent"
is "$(entries_per_phone)" "" "the sweep: one block request per phone, for its report"
is "$(R XLEN ceir:requests)" "$N" "the sweep: $N block requests on ceir:requests in all"
is "$(R ZCARD rep:open)" 0 "the sweep: no report left open"
burst later
is "$(check_answers later)" "" "later: every answer names the report's reference"
is "$(R XLEN ceir:requests)" "$N" "later: still $N block requests"

# ---- USSD: killed after the confirm step, the aggregator retries it ------------------------------
# to_confirm SESSION K: the USSD journey of owner K up to the confirm screen; prints the
# inputs so far.
to_confirm() {
	local text="" i
	ussd "$1" "${OWNER[$2]}" "" >/dev/null
	for i in 2 1 "${ID4[$2]}" 1 1; do
		text=${text:+$text*}$i
		ussd "$1" "${OWNER[$2]}" "$text" >/dev/null
	done
	printf '%s' "$text"
}
for v in 1 2; do
	k=$((N + v)) sid=kill$v
	text=$(to_confirm "$sid" "$k")
	r=$(ussd "$sid" "${OWNER[k]}" "$text")
	tail4=${IMEI[k]:11}
	like "$r" "...$tail4" "USSD $v: at the confirm screen"
	n0=$(R XLEN ceir:requests)
	if [ "$v" = 1 ]; then
		# Redis frozen first: the step reaches ceirgw, which can do nothing with it.
		freeze_after 0
		wait_for 10 asleep
		ussd "$sid" "${OWNER[k]}" "$text*1" >"$TEST_TMP/ussd$v.first" &
		cpid=$!
		# shellcheck disable=SC2016 # (sh -c's script, its arguments after it)
		wait_for 10 sh -c '[ -n "$(ss -Htn state established "( dport = :$1 )")" ]' sh "$hport"
	else
		# Frozen once the step has added the block request, before ceirgw hears of it.
		freeze_after 1
		ussd "$sid" "${OWNER[k]}" "$text*1" >"$TEST_TMP/ussd$v.first" &
		cpid=$!
	fi
	kill_frozen "USSD $v"
	wait "$cpid"
	is "$(cat "$TEST_TMP/ussd$v.first")" "" "USSD $v: the confirm step got no answer"
	if [ "$v" = 1 ]; then
		is "$(R XLEN ceir:requests)" "$n0" "USSD 1: killed before anything was queued"
	else
		is "$(R XLEN ceir:requests)" "$((n0 + 1))" \
			"USSD 2: killed after the block request was queued"
	fi
	echo "# USSD $v after the kill: report ${IMEI[k]:11}: $(R HGET "rep:{${IMEI[k]}}" state)"
	gw_start
	ok $? "USSD $v: ceirgw is up again"
	r=$(ussd "$sid" "${OWNER[k]}" "$text*1")
	ref=$(R HGET "rep:{${IMEI[k]}}" ref)
	case $r in
	"END $(render en report.done ref="$ref")") got=accepted ;;
	"END $(render en report.already ref="$ref")") got=already ;;
	*) got="'$r'" ;;
	esac
	if [ "$v" = 1 ]; then
		is "$got" accepted "USSD 1: the retried step: accepted, with the report's reference"
		is "$(R HGET "rep:{${IMEI[k]}}" state)" sent "USSD 1: the report is sent"
	else
		[ "$got" = accepted ] || [ "$got" = already ]
		ok $? "USSD 2: the retried step: accepted or already reported, with the reference"
		# Within 10 s of its last change the report is left to the sweep, which completes it.
		wait_for 30 r_is sent HGET "rep:{${IMEI[k]}}" state
		ok $? "USSD 2: the report is sent (by the retry, or the sweep)"
	fi
	is "$(ussd "$sid" "${OWNER[k]}" "$text*1")" "$r" "USSD $v: retried again: the same answer"
	is "$(block_entries "${IMEI[k]}")" "$ref-block" "USSD $v: exactly one block request"
	is "$(R XLEN ceir:requests)" "$((n0 + 1))" "USSD $v: nothing else queued"
done

# ---- the receipt with the PIN, when ceirgw dies before it left -----------------------------------
# Every owner of the burst should have the PIN to unblock: a receipt naming the reference.
norcpt=""
for k in $(seq 1 $N); do
	grep -F "${OWNER[k]}" "$TEST_TMP/sms.log" |
		grep -qF "report $(R HGET "rep:{${IMEI[k]}}" ref) for" ||
		norcpt="$norcpt $k(${KILLED_AT[k]:-none},$([ -s "$TEST_TMP/first.$k" ] && echo answered ||
			echo cut))"
done
echo "# owners of the burst without a receipt (owner(state left, first answer)):${norcpt:- none}"
# A receipt sendsms had not accepted before the kill waits in the Redis outbox: the restarted
# ceirgw (same host and HTTP port) sends it.
is "$norcpt" "" "every owner of the burst got the receipt SMS with the PIN"

# The same, made certain: sendsms is down when the report is accepted (ceirgw retries the SMS
# in 1 s), and ceirgw is killed before the retry.
k=$((N + 3))
{ kill "$sendsms_pid"; wait "$sendsms_pid"; } 2>/dev/null
n=$(grep -c "not accepted" "$TEST_TMP/ceirgw.log")
r=$(sms "${OWNER[k]}" "STOLEN ${IMEI[k]} ${ID4[k]}")
ref=$(ref_in "$r")
is "$r" "$(render en sms.report_done ref="$ref")" "sendsms down: the report is accepted"
# shellcheck disable=SC2016 # (sh -c's script, its arguments after it)
wait_for 5 sh -c '[ "$(grep -c "not accepted" "$1")" -gt "$2" ]' sh "$TEST_TMP/ceirgw.log" "$n"
ok $? "... its receipt waits for a retry"
{ kill -9 "$gw"; wait "$gw"; } 2>/dev/null
sendsms_start "$pport" "$TEST_TMP/sms.log"
gw_start
ok $? "ceirgw is up again, and sendsms"
is "$(sms "${OWNER[k]}" "STOLEN ${IMEI[k]} ${ID4[k]}")" "$(render en report.already ref="$ref")" \
	"the owner retries: already reported, the same reference"
is "$(block_entries "${IMEI[k]}")" "$ref-block" "... one block request"
# shellcheck disable=SC2016 # (sh -c's script, its arguments after it)
wait_for 10 sh -c 'grep -F "$1" "$2" | grep -qF "report $3 for"' sh "${OWNER[k]}" \
	"$TEST_TMP/sms.log" "$ref"
ok $? "the owner gets the receipt with the PIN after all, from the outbox"

# ---- no full number, no PIN in the log --------------------------------------------------------
leaks=""
for k in $(seq 1 $((N + 3))); do
	grep -q "${OWNER[k]#+}" "$TEST_TMP/ceirgw.log" && leaks="$leaks $k"
done
# shellcheck disable=SC2013 # (a PIN is a word)
for pin in $(grep -o 'PIN: [0-9]\{6\}' "$TEST_TMP/sms.log" | cut -c6-); do
	grep -Eq "(^|[^0-9])$pin([^0-9]|$)" "$TEST_TMP/ceirgw.log" && leaks="$leaks PIN"
done
is "$leaks" "" "the ceirgw log holds no owner's full number and no PIN"

gw_stop
sanitizer_clean
done_testing
