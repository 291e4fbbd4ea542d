# A master of the Redis Cluster dies while users report and check phones (issue 16): a real
# 3 masters + 3 replicas cluster (cluster_lib.sh), the real ceirgw on it with
# redis-replicas-ack = 1, operator data for 7,200 owners and 2,550 more phones imported with
# ceirgwctl, receipts queued for a sendsms endpoint of ours. tests/tools/journey_load.py
# drives USSD report journeys (7 steps) and check journeys (3 steps), 12 in flight, at most
# 250 started a second, and compares every screen with the one due.
#
# Twice: first the master that holds ceir:requests, then the one that serves the pairings of
# the most phones the next run uses, is SIGKILLed while the journeys run. Its replica takes
# over; once the cluster is whole again the dead node is started again (as a supervisor
# would) and rejoins as the new master's replica; the load goes on for 300 more journeys.
# Each time:
#   (a) every report whose user saw a reference is on ceir:requests exactly once, with its
#       report still holding that reference (a write the user was told of is not lost in the
#       failover), and its receipt SMS reached sendsms or waits on the outbox stream;
#   (b) every request answered, within 3 x redis-timeout + 1 s;
#   (c) the users in the gap got the "try later" screen, and no one anything else unexpected;
#       from 1 s after the replica took over, only the confirm step (whose writes wait for a
#       replica, and the new master has none until the dead node is back) may say so;
#   (d) ceirgw, the same process, serves every journey started after the cluster is whole
#       again, and a batch of fresh ones after the run.
# Then the users who got "try later" report again: each is answered with a reference
# (accepted, or already reported: the report a cut journey left is completed by ceirgw's
# sweep), and that reference too is on the stream exactly once.
# Last, a replica dies and stays dead: its master has no replica to acknowledge (WAIT) the
# writes of the reports it holds; those may answer "try later" at the confirm step, every
# other step and every check must answer as due.
# Figures (failover gap, try-later count, latencies) are printed as TAP comments.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster_lib.sh"
. "$(dirname "$0")/cluster_journeys_lib.sh"

RATE=250		# journeys started a second, at most

t_start=$(date +%s)
cluster_start 3 1
ok $? "a Redis Cluster of 3 masters and 3 replicas is up"
cj_data 7200 2550 run1:1-3000:1-1000 run2:3001-6000:1001-2000 after1:6001-6100:2001-2100 \
	after2:6101-6200:2101-2200 run3:6201-7200:2201-2550
cj_start

# failover NAME VICTIM WHAT: runs $TEST_TMP/NAME.jobs, SIGKILLs the master on port VICTIM once
# 400 journeys have ended, waits for the failover, restarts the dead node, lets 300 more
# journeys start, then checks (a) to (d).
failover() {
	local name=$1 victim=$2 what=$3 lpid t_kill t_ok t_back new bad s max promoted
	rm -f "$TEST_TMP/$name.whole"
	# the victim's replica, which takes over
	promoted=$(for p in $CLUSTER_PORTS; do
		case $("$REDIS_CLI" -p "$p" role 2>/dev/null | xargs) in
		"slave 127.0.0.1 $victim "*) echo "$p" ;; esac; done | xargs)
	load "$name" --rate "$RATE" --min-reports 1000 --until-file "$TEST_TMP/$name.whole" \
		--after 300 --max-seconds 90 >"$TEST_TMP/$name.out" 2>&1 &
	lpid=$!
	wait_for 30 progress_at_least "$name" 400
	ok $? "$name: 400 journeys done before the kill"
	t_kill=$(date +%s.%N)
	cluster_kill "$victim"
	cluster_wait_ok 30
	ok $? "$name: the master of $what ($victim) is killed, its replica took over"
	t_ok=$(date +%s.%N)
	new=$(for p in $(cluster_masters); do
		[ "$("$REDIS_CLI" -p "$p" role | sed -n 1p)" = master ] && echo "$p"; done | xargs)
	cluster_restart "$victim" && wait_for 30 cluster_replicas_online 1
	ok $? "$name: the dead node is back as a replica"
	t_back=$(date +%s.%N)
	echo "$t_kill $t_ok $t_back" >"$TEST_TMP/$name.times"
	touch "$TEST_TMP/$name.whole"
	wait_exit 120 "$lpid"
	is "$exit_status" 0 "$name: the load driver ended"
	sed 's/^/# /' "$TEST_TMP/$name.out"
	is "$(summary "$name" ran_out)" 0 "$name: jobs enough for 300 journeys after the failover"
	kill -0 "$gw" 2>/dev/null
	ok $? "$name: ceirgw (pid $gw) is still running, never restarted"

	# (b) and (c)
	max=$(summary "$name" max_ms)
	awk -v m="$max" -v b="$BOUND_MS" 'BEGIN { exit !(m + 0 < b) }'
	ok $? "$name: every request answered within $BOUND_MS ms (max $max ms)"
	is "$(count "$name" error)" 0 "$name: no request went unanswered (refused, reset, hung)"
	bad=$(awk -F'\t' '$7 == "unexpected" { print $1 ": step " $8 ": " $11 }' \
		"$TEST_TMP/$name.journeys" | head -n 5)
	is "$(count "$name" unexpected)" 0 "$name: no screen other than the due one or 'try later'"
	[ -n "$bad" ] && printf '%s\n' "$bad" | sed 's/^/#   /'
	is "$(count "$name" accepted)" "$(awk -F'\t' '$2 == "R" && $7 != "try_later"' \
		"$TEST_TMP/$name.journeys" | wc -l)" \
		"$name: every report journey not cut by 'try later' ended with a reference"
	[ "$(count "$name" accepted)" -ge 1000 ]
	ok $? "$name: at least 1000 reports accepted"
	# (c) the gap is the failover's: once the replica took over (and 1 s for ceirgw to read
	# the new slot map) only the confirm step, whose writes wait for a replica that is
	# not there yet (redis-replicas-ack), may answer "try later"; the other steps and the
	# checks write nothing that waits.
	bad=$(awk -F'\t' -v t="$t_ok" '$5 >= t + 1 && $7 == "try_later" && $8 != 6 {
		n++; if ($2 == "C") c++; b = sprintf("%.1f", $6 - t); w[b]++
		if (!(b in o)) o[b] = ++nb }
		END { if (!n) exit
			printf "%d journeys (%d of them checks), ended at +s(count):", n, c
			for (b in o) k[o[b]] = b
			for (i = 1; i <= nb; i++) printf " %s(%d)", k[i], w[k[i]] }' \
		"$TEST_TMP/$name.journeys")
	is "$bad" "" "$name: from 1 s after the failover, no 'try later' but at the confirm step"
	if [ -n "$bad" ]; then
		echo "#   ceirgw.log: $(grep -c 'replicas acknowledged' "$TEST_TMP/ceirgw.log") writes" \
			"answered 'try again' for want of a replica's WAIT so far; connections dropped:"
		grep -E 'no answer in' "$TEST_TMP/ceirgw.log" | cut -c1-200 | sed 's/^/#   /'
	fi
	# (d)
	from=$(summary "$name" recovered_at)
	is "$(outcomes "$name" "$from")" "$(printf 'accepted %s ok %s' \
		"$(awk -F'\t' -v f="$from" '$1 >= f && $2 == "R"' "$TEST_TMP/$name.journeys" | wc -l)" \
		"$(awk -F'\t' -v f="$from" '$1 >= f && $2 == "C"' "$TEST_TMP/$name.journeys" | wc -l)")" \
		"$name: every journey started once the cluster was whole again answered right"
	# the figures
	awk -F'\t' -v k="$t_kill" -v o="$t_ok" -v b="$t_back" -v n="$name" '
		{ j++; if (!t0 || $5 < t0) t0 = $5; if ($6 > te) te = $6 }
		$7 == "accepted" || $7 == "ok" { if ($6 < k) r1++; else if ($6 >= o && $6 < b) r2++
			else if ($6 >= b) r3++ }
		$7 == "try_later" { t++; s[$8]++; if (!f || $6 < f) f = $6
			if ($8 < 6 && $6 > l) l = $6; if ($8 == 6 && $6 > c) c = $6 }
		END {
			printf "# %s: %d journeys, %d got \"try later\"", n, j, t
			if (t) { printf " (at step:"; for (x in s) printf " %s:%d", x, s[x]; printf ")" }
			printf "\n# %s: the cluster was ok again %.2f s after the kill, the node back" \
			       " as a replica %.2f s after\n", n, o - k, b - k
			printf "# %s: journeys answered right a second: %.0f before the kill, %.0f from" \
			       " the failover to the node'"'"'s return, %.0f after\n", n,
			       r1 / (k - t0), r2 / (b - o), r3 / (te - b)
			if (t) printf "# %s: \"try later\" from %.2f s after the kill: the last before" \
			       " the confirm step %.2f s after, the last at the confirm step (WAIT for" \
			       " a replica) %.2f s after\n", n, f - k, l ? l - k : 0, c ? c - k : 0 }' \
		"$TEST_TMP/$name.journeys"
	echo "# $name: masters now: $new; outcomes: $(outcomes "$name");" \
		"latency p50 $(summary "$name" p50_ms) ms, p99 $(summary "$name" p99_ms) ms," \
		"max $max ms over $(summary "$name" requests) requests"

	# (a)
	s=$(check_stream "$TEST_TMP/$name.journeys")
	printf '%s\n' "$s" | grep '^#' | sed 's/^/#   /'
	is "$(field "$s" seen)" "$(count "$name" accepted)" "$name: the references seen, read back"
	is "$(field "$s" missing)/$(field "$s" twice)/$(field "$s" wrong)" 0/0/0 \
		"$name: every reference a user saw is on ceir:requests exactly once, for its IMEI"
	is "$(field "$s" dup_ids)/$(field "$s" dup_imeis)/$(field "$s" odd)" 0/0/0 \
		"$name: no request id or phone twice on the stream"
	is "$(field "$s" lost)" 0 "$name: every report a user was told of survived the failover"
	wait_for 45 receipts_done "$TEST_TMP/$name.journeys"
	s=$(check_receipts "$TEST_TMP/$name.journeys")
	printf '%s\n' "$s" | grep '^#' | sed 's/^/#   /'
	is "$(field "$s" missing)" 0 \
		"$name: every receipt reached sendsms or waits on $OUTBOX (within 45 s)"
	is "$(field "$s" pending)/$(field "$s" stale)" 0/0 \
		"$name: ... none left in its report's outbox rep:{imei}:out, unsent or sent already"
	printf '%s\n' "$s" | grep -o 'rep:{[0-9]*}:out' | sort -u | while read -r k; do
		p=$(cluster_port_of_key "$k")
		echo "#   $k is served by $p$(case " $promoted " in *" $p "*)
			echo ", the replica that took over from $victim" ;; esac)"
	done
	echo "# $name: receipts: $(field "$s" delivered) delivered, $(field "$s" queued) queued"

	# (d) a batch of fresh journeys, all unpaced
	load "after${name#run}" >"$TEST_TMP/after.out" 2>&1
	is "$(outcomes "after${name#run}")" "accepted 100 ok 100" \
		"$name: after the failover 100 reports and 100 checks, all answered right"
	s=$(check_stream "$TEST_TMP/after${name#run}.journeys")
	is "$(field "$s" missing)/$(field "$s" twice)/$(field "$s" lost)" 0/0/0 \
		"$name: ... each of those reports on the stream once"
}

# ---- run 1: the master of ceir:requests ----------------------------------------------------------
failover run1 "$(cluster_port_of_key ceir:requests)" ceir:requests

# ---- run 2: the master serving the pairings of the most phones run 2 reports ----------------------
awk -F'\t' '$1 == "R" { print "pi:{" substr($3, 10, 5) "}" }' "$TEST_TMP/run2.jobs" \
	>"$TEST_TMP/run2.keys"
by_master=$("$PYTHON" "$CHECK" "$CLUSTER_SEEDS" masters "$TEST_TMP/run2.keys")
echo "# run2: pairing buckets (pi:) of its phones by master (port count): $(printf '%s\n' "$by_master" | xargs)"
failover run2 "$(printf '%s\n' "$by_master" | awk 'NR == 1 { print $1 }')" "the most pairings"

# ---- the users who got "try later" report again ----------------------------------------------------
cat "$TEST_TMP/run1.journeys" "$TEST_TMP/run2.journeys" |
	awk -F'\t' '$2 == "R" && $7 == "try_later" { print $3 }' | sort -u >"$TEST_TMP/retry.imeis"
grep -hF -f "$TEST_TMP/retry.imeis" "$TEST_TMP/run1.jobs" "$TEST_TMP/run2.jobs" \
	>"$TEST_TMP/retry.jobs"
n=$(wc -l <"$TEST_TMP/retry.jobs")
# A user whose report stopped at a resumable screen when "try later" came would be offered to
# continue it on the next dial (issue 18, journeys_resume.sh); journey_load.py walks from the
# menu, so these users start afresh: their resume records are dropped first.
cut -f2 "$TEST_TMP/retry.jobs" | sort -u >"$TEST_TMP/retry.msisdns"
forgot=$("$PYTHON" - "$CLUSTER_SEEDS" "$TEST_TMP/retry.msisdns" <<'EOF'
import sys
from redis.cluster import ClusterNode, RedisCluster
nodes = [ClusterNode(h, int(p)) for h, p in (s.rsplit(":", 1) for s in sys.argv[1].split(","))]
r = RedisCluster(startup_nodes=nodes, require_full_coverage=False)
print(sum(r.delete("s:{lang:%s}:resume" % m) for m in open(sys.argv[2]).read().split()))
EOF
)
echo "# retry: ${forgot:-?} of them had a report in progress to continue"
load retry --allow-already >"$TEST_TMP/retry.out" 2>&1
is "$(( $(count retry accepted) + $(count retry already) ))" "$n" \
	"the $n users who got 'try later' try again: each is answered with a reference"
echo "# retry: $(outcomes retry)"
stream_settled() {
	s=$(check_stream "$TEST_TMP/retry.journeys")
	[ "$(field "$s" missing)/$(field "$s" twice)" = 0/0 ]
}
wait_for 40 stream_settled
stream_in_the_end " (the sweep's too)" "$TEST_TMP/run1.journeys" "$TEST_TMP/run2.journeys" \
	"$TEST_TMP/after1.journeys" "$TEST_TMP/after2.journeys" "$TEST_TMP/retry.journeys"

# ---- run 3: a replica dies, its master lives on ------------------------------------------------
# The replica of the master serving the most pairings of run 3's phones is killed and stays
# dead. Nothing fails over; only writes that wait for that master's replica cannot be told
# "accepted": the confirm step of the reports it holds may say "try later", nothing else.
awk -F'\t' '$1 == "R" { print "pi:{" substr($3, 10, 5) "}" }' "$TEST_TMP/run3.jobs" \
	>"$TEST_TMP/run3.keys"
m=$("$PYTHON" "$CHECK" "$CLUSTER_SEEDS" masters "$TEST_TMP/run3.keys" | awk 'NR == 1 { print $1 }')
rep=$(for p in $CLUSTER_PORTS; do
	r=$("$REDIS_CLI" -p "$p" role 2>/dev/null | xargs)
	case $r in "slave 127.0.0.1 $m "*) echo "$p" ;; esac
done | head -n 1)
cluster_kill "$rep"
no_replica() { "$REDIS_CLI" -p "$m" info replication | tr -d '\r' | grep -qx 'connected_slaves:0'; }
wait_for 10 no_replica
ok $? "run3: the replica ($rep) of the master on $m is killed, the master knows it"
# (at most 15 s of it: 1,350 journeys take about 6 s when all goes well)
load run3 --rate "$RATE" --max-seconds 15 >"$TEST_TMP/run3.out" 2>&1
max=$(summary run3 max_ms)
is "$(summary run3 ended)" "$(wc -l <"$TEST_TMP/run3.jobs")" \
	"run3: all its journeys ran within 15 s (250 a second: 6 s; the one master is not a bottleneck)"
awk -v m="$max" -v b="$BOUND_MS" 'BEGIN { exit !(m + 0 < b) }'
ok $? "run3: every request answered within $BOUND_MS ms (max $max ms)"
is "$(count run3 unexpected)/$(count run3 error)" 0/0 "run3: no unexpected screen, no request unanswered"
is "$(count run3 ok)" "$(awk -F'\t' '$2 == "C"' "$TEST_TMP/run3.journeys" | wc -l)" \
	"run3: every check answered right (a check waits for no replica)"
bad=$(awk -F'\t' '$7 == "try_later" && $8 != 6 { n++ } END { print n + 0 }' "$TEST_TMP/run3.journeys")
is "$bad" 0 "run3: no 'try later' but at the confirm step"
if [ "$bad" != 0 ]; then
	echo "#   ceirgw.log: connections to $m dropped during run 3:" \
		"$(grep -c "redis 127.0.0.1:$m: no answer in" "$TEST_TMP/ceirgw.log")"
	grep "redis 127.0.0.1:$m: no answer in" "$TEST_TMP/ceirgw.log" | tail -n 2 | cut -c1-200 |
		sed 's/^/#   /'
fi
echo "# run3: $(outcomes run3) in $(summary run3 seconds) s (at most $RATE started a second," \
	"none after 15 s);" \
	"latency p50 $(summary run3 p50_ms) ms, p99 $(summary run3 p99_ms) ms, max $max ms;" \
	"the checks' slowest step: $(awk -F'\t' '$2 == "C" && $10 > m { m = $10 } END { print m + 0 }' \
		"$TEST_TMP/run3.journeys") ms"
s=$(check_stream "$TEST_TMP/run3.journeys")
is "$(field "$s" missing)/$(field "$s" twice)/$(field "$s" lost)" 0/0/0 \
	"run3: every reference seen is on the stream exactly once"

cj_end
done_testing
