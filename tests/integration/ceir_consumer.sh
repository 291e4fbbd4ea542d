#!/bin/bash
# contrib/ceir-consumer, the reference CEIR stand-in, against a real Redis (one redis-server
# and --redis, or with CEIRGW_TEST_BACKEND=cluster a cluster and --redis-cluster:
# backend_lib.sh): block, unblock, --reject and bad requests answered with the fields of
# doc/ceir-queue.md and acknowledged; its own pending entries re-handled on start; one result
# per request id even when a request is handled twice; --once, --count, --delay, SIGTERM, a
# Redis that comes up late; and no phone number in what it prints. Every check reads Redis
# with redis-cli.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/backend_lib.sh"

consumer=$top_srcdir/contrib/ceir-consumer
# The script runs on Debian's python3 (its shebang) with redis-py; CI installs it, so a
# missing module is a failure here, not a skip.
if ! /usr/bin/python3 -c 'import redis' 2>/dev/null; then
	echo "Bail out! python3-redis is not installed for /usr/bin/python3 (apt-get install python3-redis)"
	exit 1
fi

backend_start
rcli() { R "$@"; }
where=("${BACKEND_CONSUMER[@]}")	# the consumer's --redis or --redis-cluster
out_all=$TEST_TMP/all-output	# everything the consumer printed, checked for numbers at the end

# add_request REQUEST_ID TYPE REF IMEI: a request as ceirgw adds it; an empty REQUEST_ID or
# TYPE leaves that field out.
add_request() {
	local id=() ty=()
	[ -n "$1" ] && id=(request_id "$1")
	[ -n "$2" ] && ty=(type "$2")
	rcli XADD ceir:requests '*' "${id[@]}" "${ty[@]}" ref "$3" imei "$4" \
		tac "${4:0:8}" maker Nokia model N900 \
		reporter_msisdn +254712345678 owner_msisdn +254712345679 \
		rule pairing-window last_seen 2026-10-30 window_days 90 kyc_matched yes \
		reason stolen police_ref OB/123/2026 channel ussd \
		reported_at 2026-11-23T09:14:03Z requested_at 2026-11-23T09:14:05Z >/dev/null
}

# results_for REQUEST_ID: one line "result|reason|ref|imei|at" per result with that id.
results_for() {
	rcli EVAL "
		local out = {}
		for _, e in ipairs(redis.call('XRANGE', KEYS[1], '-', '+')) do
			local f = {}
			for i = 1, #e[2], 2 do f[e[2][i]] = e[2][i + 1] end
			if f.request_id == ARGV[1] then
				out[#out + 1] = table.concat({f.result or '?', f.reason or '?',
					f.ref or '?', f.imei or '?', f.at or '?'}, '|')
			end
		end
		return out" 1 ceir:results "$1"
}
# The same without the time.
result_of() { results_for "$1" | sed 's/|[^|]*$//'; }
pending() { rcli XPENDING ceir:requests ceir | head -1; }

# run_consumer ARGS...: runs it to the end (10 s at most), output in $out; sets $status.
run_consumer() {
	"$consumer" "${where[@]}" "$@" >"$TEST_TMP/out" 2>"$TEST_TMP/err" &
	local pid=$!
	test_pids="$test_pids $pid"
	wait_exit 10 "$pid"
	status=$exit_status
	out=$(cat "$TEST_TMP/out")
	cat "$TEST_TMP/out" "$TEST_TMP/err" >>"$out_all"
}

# --- options ----------------------------------------------------------------------------
help=$("$consumer" --help)
is $? 0 "--help exits 0"
like "$help" "--reject IMEI=REASON" "and lists the options"
"$consumer" --reject 356938035643809 >/dev/null 2>&1
is $? 2 "a --reject without =REASON exits 2"
like "$help" "--redis-cluster HOST:PORT" "--help names --redis-cluster"
"$consumer" --redis redis://127.0.0.1:6379 --redis-cluster 127.0.0.1:7000 >/dev/null 2>&1
is $? 2 "--redis and --redis-cluster together exit 2"
"$consumer" --redis-cluster 127.0.0.1 >"$TEST_TMP/out" 2>&1
is $? 2 "a --redis-cluster seed without a port exits 2"
like "$(cat "$TEST_TMP/out")" "HOST:PORT" "and says what it wants"

# --- block, unblock, reject, bad requests ------------------------------------------------
add_request 4821773015-block block 4821773015 356938035643809
add_request 4821773015-unblock unblock 4821773015 356938035643809
add_request 5012345674-block block 5012345674 352099011111115
add_request 6012345673-block "" 6012345673 490139201234567
add_request 6112345672-block frobnicate 6112345672 490139201234567
add_request "" block 6212345671 490139201234567
run_consumer --once --reject 352099011111115=not-the-owner
is "$status" 0 "--once answers what is there and exits 0"
is "$(result_of 4821773015-block)" "blocked||4821773015|356938035643809" \
	"a block request is answered blocked, with its ref and IMEI and an empty reason"
is "$(result_of 4821773015-unblock)" "unblocked||4821773015|356938035643809" \
	"an unblock request is answered unblocked"
is "$(result_of 5012345674-block)" "rejected|not-the-owner|5012345674|352099011111115" \
	"--reject IMEI=REASON answers rejected with that reason"
is "$(result_of 6012345673-block)" "rejected|bad-request|6012345673|490139201234567" \
	"a request without a type is rejected as bad-request"
is "$(result_of 6112345672-block)" "rejected|bad-request|6112345672|490139201234567" \
	"a request of an unknown type too"
is "$(result_of "")" "rejected|bad-request|6212345671|490139201234567" \
	"a request without a request_id too, answered with an empty one"
[[ $(results_for 4821773015-block) =~ \|20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]Z$ ]]
ok $? "at is ISO-8601 UTC"
is "$(rcli XRANGE ceir:results - + COUNT 1 | awk 'NR % 2 == 0' | paste -sd' ')" \
	"request_id ref imei result reason at" "a result carries exactly the documented fields"
is "$(rcli XLEN ceir:results)" 6 "one result per request"
is "$(pending)" 0 "every request is acknowledged"
is "$(echo "$out" | wc -l)" 6 "one output line per request"
like "$out" "4821773015-block block 356938035643809 -> blocked" "the line names request, type, IMEI, result"
like "$out" "5012345674-block block 352099011111115 -> rejected not-the-owner" "and the reason of a rejection"
like "$out" "6012345673-block - 490139201234567 -> rejected bad-request" "a missing field prints as -"
ttl=$(rcli TTL '{ceir:results}:answered:4821773015-block')
[ "$ttl" -gt 2591000 ] && [ "$ttl" -le 2592000 ]
ok $? "the answered key is in the results stream's slot and kept 30 days"

# --- nothing to do, an empty database ---------------------------------------------------
start=$(date +%s%N)
run_consumer --once
is "$status" 0 "--once with nothing to do exits 0"
[ $(( ($(date +%s%N) - start) / 1000000 )) -lt 3000 ]
ok $? "and does so at once"
is "$out" "" "and prints nothing"
if [ "$CEIRGW_TEST_BACKEND" = cluster ]; then
	skip "--once on an empty database (redis://host:port/db) exits 0" \
		"a Redis Cluster has database 0 only"
	skip "and has created the stream and its group" "a Redis Cluster has database 0 only"
else
	where=("${BACKEND_CONSUMER[@]}")
	where[1]=${where[1]}/1
	run_consumer --once
	is "$status" 0 "--once on an empty database (redis://host:port/db) exits 0"
	is "$(rcli -n 1 XINFO GROUPS ceir:requests | sed -n 2p)" ceir \
		"and has created the stream and its group"
	where=("${BACKEND_CONSUMER[@]}")
fi

# --- its own pending entries ------------------------------------------------------------
add_request 7012345672-block block 7012345672 356938035643809
rcli XREADGROUP GROUP ceir it COUNT 1 STREAMS ceir:requests '>' >/dev/null
is "$(pending)" 1 "a request delivered to consumer 'it' and not acknowledged is pending"
run_consumer --once --consumer it
is "$(result_of 7012345672-block)" "blocked||7012345672|356938035643809" \
	"the same consumer started again answers it"
is "$(pending)" 0 "and acknowledges it"

# Killed between adding the result and XACK: the result and the answered key are there, the
# request still pending. Started again, it acknowledges without a second result.
add_request 7112345671-block block 7112345671 356938035643809
rcli XREADGROUP GROUP ceir it COUNT 1 STREAMS ceir:requests '>' >/dev/null
rid=$(rcli XADD ceir:results '*' request_id 7112345671-block ref 7112345671 \
	imei 356938035643809 result blocked reason '' at 2026-11-23T09:14:05Z)
rcli SET '{ceir:results}:answered:7112345671-block' "$rid" EX 2592000 >/dev/null
run_consumer --once --consumer it
is "$(results_for 7112345671-block | wc -l)" 1 "a request answered before it was killed gets no second result"
is "$(pending)" 0 "and is acknowledged"
like "$out" "7112345671-block block 356938035643809 -> answered before" "and says so"

# The same request id added again as a new entry.
add_request 4821773015-block block 4821773015 356938035643809
len=$(rcli XLEN ceir:results)
run_consumer --once
is "$status" 0 "a request id seen before is handled"
is "$(rcli XLEN ceir:results)" "$len" "without a second result"
is "$(pending)" 0 "and acknowledged"

# --- --count, --delay, blocking reads and SIGTERM ----------------------------------------
add_request 8012345671-block block 8012345671 356938035643809
add_request 8112345670-block block 8112345670 356938035643809
add_request 8212345679-block block 8212345679 356938035643809
run_consumer --count 2 --block-ms 200
is "$status" 0 "--count 2 exits 0"
is "$(echo "$out" | wc -l)" 2 "after answering two requests"
is "$(results_for 8212345679-block)" "" "leaving the third unread"
is "$(pending)" 0 "with nothing pending"
start=$(date +%s%N)
run_consumer --once --delay 0.5
is "$(result_of 8212345679-block)" "blocked||8212345679|356938035643809" "the next run answers it"
[ $(( ($(date +%s%N) - start) / 1000000 )) -ge 500 ]
ok $? "after --delay"

"$consumer" "${where[@]}" --block-ms 200 >"$TEST_TMP/out" 2>"$TEST_TMP/err" &
pid=$!
test_pids="$test_pids $pid"
sleep 0.5
add_request 9012345670-unblock unblock 9012345670 356938035643809
answered() { rcli XRANGE ceir:results - + | grep -qx "$1"; }
wait_for 10 answered 9012345670-unblock
ok $? "a running consumer answers a request added while it waits"
kill -TERM "$pid"
wait_exit 5 "$pid"
is "$exit_status" 0 "SIGTERM stops it with status 0"
cat "$TEST_TMP/out" "$TEST_TMP/err" >>"$out_all"

# --- a Redis that comes up late ----------------------------------------------------------
# has_group REDIS-CLI-OPTION...: the group ceir is on ceir:requests (redis-cli exits 0 on an
# error reply too: the group's name must be in the answer).
has_group() { redis-cli "$@" XINFO GROUPS ceir:requests 2>/dev/null | grep -qx ceir; }
# late_consumer OPTION...: the consumer (--count 1) on a Redis that is not up yet; a TAP line:
# it says so and retries. Sets pid.
late_consumer() {
	"$consumer" "$@" --count 1 >"$TEST_TMP/out" 2>"$TEST_TMP/err" &
	pid=$!
	test_pids="$test_pids $pid"
	wait_for 10 grep -q retrying "$TEST_TMP/err"
	ok $? "without Redis it says so on stderr and retries"
}
# late_answered WHAT REDIS-CLI-OPTION...: a block request on the Redis that came up late; two
# TAP lines: the consumer answers it and ends, its result is on that Redis ("on that WHAT").
late_answered() {
	local what=$1
	shift
	redis-cli "$@" XADD ceir:requests '*' request_id 9112345679-block type block \
		ref 9112345679 imei 356938035643809 owner_msisdn +254712345678 >/dev/null
	wait_exit 10 "$pid"
	is "$exit_status" 0 "and answers the request"
	like "$(redis-cli "$@" XRANGE ceir:results - +)" 9112345679-block "on that $what"
	cat "$TEST_TMP/out" "$TEST_TMP/err" >>"$out_all"
}
if [ "$CEIRGW_TEST_BACKEND" = cluster ]; then
	# A cluster of one master that comes up late: nothing on its port first, then a node that
	# serves no slot yet (a cluster not formed), then the node given every slot.
	lport=$(free_port)
	late_consumer --redis-cluster "127.0.0.1:$lport"
	mkdir -p "$TEST_TMP/late"
	"$REDIS_SERVER" --port "$lport" --bind 127.0.0.1 --save '' --appendonly no \
		--cluster-enabled yes --cluster-port "$(free_port)" --cluster-config-file nodes.conf \
		--dir "$TEST_TMP/late" >"$TEST_TMP/late.log" 2>&1 &
	test_pids="$test_pids $!"
	wait_for 10 redis-cli -p "$lport" ping
	retries() { grep -c retrying "$TEST_TMP/err"; }
	more_retries() { [ "$(retries)" -gt "$1" ]; }
	wait_for 10 more_retries "$(retries)"
	ok $? "a cluster node that serves no slot yet: it still retries"
	is "$(redis-cli -p "$lport" DBSIZE)" 0 "and has created nothing there"
	redis-cli -p "$lport" CLUSTER ADDSLOTSRANGE 0 16383 >/dev/null
	wait_for 10 has_group -p "$lport"
	ok $? "when the cluster is up (--redis-cluster) it creates its group"
	late_answered cluster -p "$lport"
else
	# On a Unix socket.
	sock=$TEST_TMP/late.sock
	late_consumer --redis "unix://$sock"
	"$REDIS_SERVER" --port 0 --unixsocket "$sock" --save '' --appendonly no --daemonize no \
		--logfile "$TEST_TMP/late.log" &
	test_pids="$test_pids $!"
	wait_for 10 has_group -s "$sock"
	ok $? "when Redis comes up (unix://...) it creates its group"
	late_answered Redis -s "$sock"
fi

# --- never a phone number -----------------------------------------------------------------
[ -s "$out_all" ] && ! grep -q '+254' "$out_all"
ok $? "nothing it printed holds a phone number"

done_testing
