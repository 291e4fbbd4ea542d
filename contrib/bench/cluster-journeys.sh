#!/bin/bash
# HTTP benchmark of issue 16: the USSD check journey and the report journey with ceirgw on a
# Redis Cluster of MASTERS masters, and the same on one redis-server, in one run: journeys/s,
# ceirgw's and Redis's CPU per journey (Redis: the sum over every redis-server process, from
# /proc/PID/stat before and after), and the ratios cluster / single (the target: the
# cluster's journeys/s >= 0.8 of the single Redis's). Figures, never assertions of timing.
#   contrib/bench/cluster-journeys.sh      (also run by contrib/bench/cluster.sh)
# Environment: BUILD (./build), DURATION (10 s a measured run), CONNECTIONS (64), WARMUP (2 s),
# ROWS (200000 pairings rows for the report journey), MASTERS (3), REPLICAS (0: with 1 or
# more, ceirgw also waits for that many replicas, redis-replicas-ack, and their CPU counts),
# ROUNDS (2), SERVER_CPU (0), LOAD_CPU (1), SEED (1), IMEIS (1000).
#
# Both stores are set up first, each with its own ceirgw; then the measured runs alternate
# between them, ROUNDS times (single, cluster, single, ...: a change in the machine's other
# load falls on both), each journey's ratio from the rounds' sums. For each store:
#   - the Redis: one redis-server, or MASTERS (+ replicas) made a cluster by redis-cli
#     (tests/integration/cluster_lib.sh), every redis-server on core LOAD_CPU, with the
#     listpack settings of doc/redis-keys.md;
#   - the data: a gendump KE dump of ROWS rows and its KYC, imported with ceirgwctl through
#     the same configuration file ceirgw reads (redis or redis-cluster);
#   - ceirgw on core SERVER_CPU (log-level warn, rate limits raised), receipts to the null
#     sendsms server of run.sh through the outbox as in production;
#   - the check journey as run.sh measures it (ussd-journey.lua: 3 POST /ussd pipelined, a
#     checked warm-up, then DURATION), wrk on core LOAD_CPU;
#   - the report journey as report.sh measures it (report-journey.lua: 7 POST /ussd
#     pipelined, owners of the dump chosen by owners.py, journeys started for DURATION then
#     drained, each round its own owners); the receipts left in the outbox are waited
#     for, not counted; every report accepted must be on the CEIR stream exactly once (the
#     script exits 1 when not).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bench=$top/contrib/bench
build=$(cd "${BUILD:-$top/build}" 2>/dev/null && pwd) ||
	{ echo "cluster-journeys.sh: no build directory ${BUILD:-$top/build} (contrib/setup.sh build, or BUILD=DIR)" >&2; exit 1; }
duration=${DURATION:-10}
conns=${CONNECTIONS:-64}
warmup=${WARMUP:-2}
rows=${ROWS:-200000}
masters=${MASTERS:-3}
rounds=${ROUNDS:-2}
replicas=${REPLICAS:-0}
server_cpu=${SERVER_CPU:-0}
load_cpu=${LOAD_CPU:-1}
seed=${SEED:-1}
imeis=${IMEIS:-1000}
window=90			# ownership-window-days: ceirgw's default
stream=ceir:requests		# ceir-requests-stream: ceirgw's default
outbox=ceirgw:outbox-http	# the receipts on their way to sendsms
tacdb=$top/data/tacdb.csv

# shellcheck source=contrib/bench/lib.sh
. "$bench/lib.sh"
bench_init cluster-journeys
need wrk redis-server redis-cli taskset curl python3 pkg-config cc

# The tests' cluster helpers, on this script's folder, ports and process list; every
# redis-server pinned to LOAD_CPU with the listpack settings.
TEST_TMP=$work
test_pids=""
cat >"$work/redis-server" <<EOF
#!/bin/sh
exec taskset -c $load_cpu redis-server "\$@" --hash-max-listpack-entries 512 --hash-max-listpack-value 128
EOF
chmod +x "$work/redis-server"
REDIS_SERVER=$work/redis-server
# shellcheck source=tests/integration/cluster_lib.sh
. "$top/tests/integration/cluster_lib.sh"

# --- build what is measured, the data ---------------------------------------------------------
make -C "$build" -s src/ceirgw src/ceirgwctl tests/tools/gendump >/dev/null
# shellcheck disable=SC2046	# pkg-config's flags are words
cc -O2 -Wall -o "$work/null-server" "$bench/null-server.c" $(pkg-config --cflags --libs libevent)
ctl=$build/src/ceirgwctl
load_before=$(cut -d' ' -f1-3 /proc/loadavg)	# others' work on the machine shows in the figures
digits=$(( ${#rows} - 3 ))	# about 100 pairings a bucket, as report.sh
[ "$digits" -lt 3 ] && digits=3
[ "$digits" -gt 8 ] && digits=8
last_day=$(date -u +%F)
for kind in pairings kyc; do
	"$build/tests/tools/gendump" "$kind" --rows "$rows" --region KE --seed "$seed" --clones 1 \
		--garbage 1 --until "$last_day" --out "$work/$kind.csv" --stats "$work/$kind.json" 2>/dev/null
done
pairings=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pairings"])' "$work/pairings.json")
eligible=$(taskset -c "$server_cpu" python3 "$bench/owners.py" "$work/pairings.csv" "$work/kyc.csv" \
	"$work/owners.txt" "$window")
[ "$eligible" -ge 2 ] || { echo "cluster-journeys.sh: no owners in the dump" >&2; exit 1; }
head -c 32 /dev/urandom | base64 >"$work/kyc.key"
chmod 600 "$work/kyc.key"
sms_port=$(free_port)
taskset -c "$load_cpu" "$work/null-server" "$sms_port" 2>"$work/null.err" &
pids+=("$!")

# --- one store --------------------------------------------------------------------------------
redis_pids=()
R() { redis-cli -c -p "$rport" "$@"; }
# "commands reads": what the store's redis-servers have run (INFO stats
# total_commands_processed) and the reads they made from clients (total_reads_processed: one
# a read(2) of a connection), all together.
redis_cmds() {
	local p c=0 r=0 n m
	for p in $store_ports; do
		read -r n m < <(redis-cli -p "$p" info stats | tr -d '\r' | awk -F: '
			$1 == "total_commands_processed" { c = $2 } $1 == "total_reads_processed" { r = $2 }
			END { print c + 0, r + 0 }')
		c=$(( c + n ))
		r=$(( r + m ))
	done
	echo "$c $r"
}
redis_ticks() {
	local p t=0
	for p in "${redis_pids[@]}"; do t=$(( t + $(ticks "$p") )); done
	echo "$t"
}

start_single() {
	start_redis "$load_cpu" --hash-max-listpack-entries 512 --hash-max-listpack-value 128
	redis_pids=("$redis_pid")
	rport=$redis_port
	store_ports=$redis_port
	store_conf="redis = redis://127.0.0.1:$redis_port"
	store_what="one redis-server"
}

start_cluster() {
	local p
	CLUSTER_PORTS=""
	cluster_start "$masters" "$replicas" || { echo "cluster-journeys.sh: no cluster" >&2; exit 1; }
	for p in $test_pids; do pids+=("$p"); done
	test_pids=""
	redis_pids=()
	for p in $CLUSTER_PORTS; do redis_pids+=("${cluster_pid[$p]}"); done
	rport=${CLUSTER_PORTS%% *}
	store_ports=$CLUSTER_PORTS
	store_conf="redis-cluster = $CLUSTER_SEEDS"
	[ "$replicas" -gt 0 ] && store_conf="$store_conf
redis-replicas-ack = $replicas"
	store_what="a cluster of $masters masters and $((masters * replicas)) replicas"
}

# use_store NAME: the store's ceirgw, URL, redis-server processes and ports.
declare -A S_gw S_url S_pids S_ports S_rport
use_store() {
	gw=${S_gw[$1]}
	url=${S_url[$1]}
	read -r -a redis_pids <<<"${S_pids[$1]}"
	store_ports=${S_ports[$1]}
	rport=${S_rport[$1]}
}

# measure_check NAME ROUND: run.sh's check journey: "NAME check ROUND journeys seconds p50 p99
# errors ceirgw_ticks redis_ticks redis_commands redis_reads - - -" to $work/results.
measure_check() {
	local out check line s0 s1 r0 r1 c0 c1 d0 d1
	use_store "$1"
	local wrk=(taskset -c "$load_cpu" wrk -t1 -c"$conns" -s "$bench/ussd-journey.lua")
	out=$(BENCH_CHECK=1 BENCH_CONNECTIONS=$conns "${wrk[@]}" -d"${warmup}s" "$url" -- "$tacdb" "$imeis")
	check=$(echo "$out" | sed -n 's/^CHECK //p')
	read -r c_menu c_ask c_end c_other _ <<<"${check:-0 0 0 1}"
	if [ "$c_other" -ne 0 ] || [ "$c_end" -eq 0 ]; then
		echo "$1: wrong replies in the check warm-up (menu ask end other sample): $check" >&2
		exit 1
	fi
	s0=$(ticks "$gw")
	r0=$(redis_ticks)
	read -r c0 d0 <<<"$(redis_cmds)"
	out=$(BENCH_CONNECTIONS=$conns "${wrk[@]}" -d"${duration}s" "$url" -- "$tacdb" "$imeis")
	s1=$(ticks "$gw")
	r1=$(redis_ticks)
	read -r c1 d1 <<<"$(redis_cmds)"
	line=$(echo "$out" | sed -n 's/^JOURNEYS //p')
	[ -n "$line" ] || { echo "$1: no figures from wrk:" >&2; echo "$out" >&2; exit 1; }
	read -r j secs p50 p99 errs non2xx <<<"$line"
	echo "$1 check $2 $j $secs $p50 $p99 $(( errs + non2xx )) $(( s1 - s0 )) $(( r1 - r0 ))" \
		"$(( c1 - c0 )) $(( d1 - d0 )) - - -" >>"$work/results"
}

# measure_report NAME ROUND: report.sh's report journey with the owners of the round, and
# every report the store accepted so far on its stream once: "NAME report ROUND journeys
# seconds p50 p99 errors ceirgw_ticks redis_ticks redis_commands redis_reads accepted
# on_stream bad" to $work/results.
measure_report() {
	local out line screens s0 s1 r0 r1 c0 c1 d0 d1 verdict
	use_store "$1"
	s0=$(ticks "$gw")
	r0=$(redis_ticks)
	read -r c0 d0 <<<"$(redis_cmds)"
	out=$(BENCH_CONNECTIONS=$conns taskset -c "$load_cpu" wrk -t1 -c"$conns" \
		-d"$(( duration + 20 ))s" -s "$bench/report-journey.lua" "$url" -- \
		"$work/owners-$2.txt" "$work/refs-$1-$2.txt" "$duration")
	s1=$(ticks "$gw")
	r1=$(redis_ticks)
	read -r c1 d1 <<<"$(redis_cmds)"
	line=$(echo "$out" | sed -n 's/^JOURNEYS //p')
	screens=$(echo "$out" | sed -n 's/^SCREENS //p')
	[ -n "$line" ] || { echo "$1: no figures from wrk:" >&2; echo "$out" >&2; exit 1; }
	read -r _ completed secs p50 p99 _ errs non2xx drained ranout <<<"$line"
	read -r _ _ _ _ _ _ c_done c_other sample <<<"$screens"
	[ "$drained" = 1 ] || echo "$1: wrk stopped with report journeys under way" >&2
	[ "$ranout" = 0 ] || echo "$1: the owners ran out before $duration s: raise ROWS" >&2
	[ "$c_other" -eq 0 ] || echo "$1: $c_other replies that were no step of the journey, as: $sample" >&2
	# the receipts the run queued: waited for, outside the figures
	outbox_empty() { [ "$(R XLEN "$outbox")" = 0 ]; }
	wait_for 120 outbox_empty || echo "$1: receipts still in the outbox after 2 minutes" >&2
	R --raw EVAL "
local out = {}
for _, e in ipairs(redis.call('XRANGE', KEYS[1], '-', '+')) do
	local f, v = e[2], {}
	for i = 1, #f, 2 do v[f[i]] = f[i + 1] end
	out[#out + 1] = (v.type or '-') .. ' ' .. (v.ref or '-') .. ' ' .. (v.request_id or '-')
end
return out" 1 "$stream" >"$work/stream-$1.txt"
	cat "$work/refs-$1"-*.txt >"$work/refs-$1.txt"
	verdict=$(python3 - "$work/refs-$1.txt" "$work/stream-$1.txt" <<'EOF'
import sys
acc = [l.strip() for l in open(sys.argv[1]) if l.strip()]
ent = [l.split() for l in open(sys.argv[2]) if l.strip()]
refs = [e[1] for e in ent if len(e) == 3 and e[0] == 'block' and e[2] == e[1] + '-block']
bad = len(ent) - len(refs) + (len(refs) - len(set(refs))) + len(set(acc) - set(refs)) + \
    (len(acc) - len(set(acc)))
print(len(acc), len(ent), bad)
EOF
)
	echo "$1 report $2 $completed $secs $p50 $p99 $(( errs + non2xx + c_other )) $(( s1 - s0 ))" \
		"$(( r1 - r0 )) $(( c1 - c0 )) $(( d1 - d0 )) $verdict" >>"$work/results"
}

# setup_store NAME: the store (start_NAME), the import, its ceirgw.
setup_store() {
	local name=$1 port
	"start_$name"
	port=$(free_port)
	cat >"$work/ceirgw-$name.conf" <<EOF
group = ceirgw
http-listen = 127.0.0.1:$port
admin-listen = 127.0.0.1:$(free_port)
$store_conf
log-level = warn
sendsms-url = http://127.0.0.1:$sms_port/cgi-bin/sendsms
sendsms-username = bench
sendsms-password = bench
tac-file = $tacdb
kyc-key-file = $work/kyc.key
pairing-bucket-digits = $digits
ownership-window-days = $window
rate-check-msisdn = 1000000/3600
rate-report-msisdn = 1000000/86400
rate-verify-msisdn = 1000000/3600
EOF
	imports+=("$name: $(taskset -c "$server_cpu" "$ctl" import pairings -c "$work/ceirgw-$name.conf" \
		--rejects "$work/rejects-pairings.csv" "$work/pairings.csv" | sed -n 1p)") ||
		[ $? -eq 3 ]	# stored, the garbage rows rejected
	imports+=("$name: $(taskset -c "$server_cpu" "$ctl" import kyc -c "$work/ceirgw-$name.conf" \
		--rejects "$work/rejects-kyc.csv" "$work/kyc.csv" | sed -n 1p)") || [ $? -eq 3 ]
	local keys=0 p
	for p in $store_ports; do keys=$(( keys + $(redis-cli -p "$p" dbsize) )); done
	[ "$keys" -gt 0 ] || { echo "cluster-journeys.sh: the import did not reach $store_what" \
		"(is redis-cluster known to this ceirgwctl?)" >&2; exit 1; }
	taskset -c "$server_cpu" "$build/src/ceirgw" -c "$work/ceirgw-$name.conf" 2>"$work/ceirgw-$name.err" &
	S_gw[$name]=$!
	pids+=("$!")
	S_url[$name]=http://127.0.0.1:$port
	S_pids[$name]="${redis_pids[*]}"
	S_ports[$name]=$store_ports
	S_rport[$name]=$rport
	wait_for 20 curl -sf "http://127.0.0.1:$port/healthz" ||
		{ echo "ceirgw did not start on $store_what:" >&2; cat "$work/ceirgw-$name.err" >&2; exit 1; }
	whats+=("$name: $store_what")
}

: >"$work/results"
imports=()
whats=()
setup_store single
setup_store cluster
# each round its own owners: no one reports twice on a store
split -n "l/$rounds" -d -a 3 "$work/owners.txt" "$work/owners-split-"
r=0
for f in "$work"/owners-split-*; do r=$((r + 1)); mv "$f" "$work/owners-$r.txt"; done
for ((r = 1; r <= rounds; r++)); do
	measure_check single "$r"
	measure_check cluster "$r"
done
for ((r = 1; r <= rounds; r++)); do
	measure_report single "$r"
	measure_report cluster "$r"
done
use_store cluster
redirects=$(cluster_redirects)

# --- the table --------------------------------------------------------------------------------
bench_machine "$load_before"
echo "stores: $(IFS=';'; echo "${whats[*]}" | sed 's/;/; /g'); every redis-server on core $load_cpu, ceirgw on core $server_cpu"
echo "data: gendump KE --seed $seed --clones 1 --garbage 1: $rows rows, $pairings pairings," \
     "pairing-bucket-digits $digits; $eligible owners to report with"
for i in "${imports[@]}"; do echo "import: $i"; done
echo "cluster: redirections its nodes answered over the run (INFO errorstats; ASKING: commandstats): $redirects"
echo "load: wrk -t1 -c$conns on core $load_cpu, $rounds rounds alternating the stores; check: ${warmup} s checked warm-up, then ${duration} s of" \
     "journeys of 3 POST /ussd pipelined (run.sh); report: journeys of 7 POST /ussd pipelined," \
     "started for ${duration} s then drained (report.sh)"
echo
awk -v hz="$hz" '
{ k = $1 " " $2; row[++n] = $0
  J[k] += $4; T[k] += $5; CPU[k] += $9; RED[k] += $10 }
function ratio(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "-" }
END {
	printf "%-8s %-7s %5s %9s %8s %10s %7s %7s %10s %9s %6s %6s %9s %10s %4s %6s\n",
	       "store", "journey", "round", "journeys", "seconds", "journeys/s", "p50 ms", "p99 ms",
	       "ceirgw us", "redis us", "cmds", "reads", "accepted", "on-stream", "bad", "errors"
	for (i = 1; i <= n; i++) {
		split(row[i], w, " ")
		printf "%-8s %-7s %5d %9d %8.3f %10.0f %7.2f %7.2f %10.1f %9.1f %6.1f %6.1f %9s %10s %4s %6d\n",
		       w[1], w[2], w[3], w[4], w[5], w[4] / w[5], w[6] / 1000, w[7] / 1000,
		       w[9] * 1e6 / hz / w[4], w[10] * 1e6 / hz / w[4], w[11] / w[4], w[12] / w[4],
		       w[13], w[14], w[15], w[8]
	}
	print ""
	print "(ceirgw us, redis us: CPU microseconds per journey, utime + stime from /proc/PID/stat;"
	print " redis: every redis-server of the store together; cmds: commands they ran per journey,"
	print " INFO stats total_commands_processed, those inside scripts too; reads: reads from client"
	print " connections per journey, total_reads_processed; accepted, on-stream: the"
	print " store so far; bad: stream entries that are no block request of their reference,"
	print " references twice, accepted references not on the stream)"
	print ""
	printf "%-8s %-7s %10s %10s %10s\n", "all", "journey", "journeys/s", "ceirgw us", "redis us"
	for (s = 1; s <= 2; s++) for (x = 1; x <= 2; x++) {
		k = (s == 1 ? "single" : "cluster") " " (x == 1 ? "check" : "report")
		js[k] = J[k] / T[k]; cu[k] = CPU[k] * 1e6 / hz / J[k]; ru[k] = RED[k] * 1e6 / hz / J[k]
		split(k, w, " ")
		printf "%-8s %-7s %10.0f %10.1f %10.1f\n", w[1], w[2], js[k], cu[k], ru[k]
	}
	printf "\ncluster / single (all rounds)               check   report   target\n"
	printf "%-40s %8s %8s   %s\n", "journeys/s", ratio(js["cluster check"], js["single check"]),
	       ratio(js["cluster report"], js["single report"]), ">= 0.8"
	printf "%-40s %8s %8s\n", "Redis CPU per journey", ratio(ru["cluster check"], ru["single check"]),
	       ratio(ru["cluster report"], ru["single report"])
	printf "%-40s %8s %8s\n", "ceirgw CPU per journey", ratio(cu["cluster check"], cu["single check"]),
	       ratio(cu["cluster report"], cu["single report"])
	printf "T\tcluster: check journeys/s, cluster / single\t%s\t>=\t0.8\n",
	       ratio(js["cluster check"], js["single check"]) >targets
	printf "T\tcluster: report journeys/s, cluster / single\t%s\t>=\t0.8\n",
	       ratio(js["cluster report"], js["single report"]) >targets
	printf "T\tcluster: Redis CPU per check journey, cluster / single\t%s\tfigure\t-\n",
	       ratio(ru["cluster check"], ru["single check"]) >targets
	printf "T\tcluster: Redis CPU per report journey, cluster / single\t%s\tfigure\t-\n",
	       ratio(ru["cluster report"], ru["single report"]) >targets
}' targets="$work/targets" "$work/results"
while IFS=$'\t' read -r _ what m op goal; do bench_target "$what" "$m" "$op" "$goal"; done <"$work/targets"
fail=0
while read -r name journey _ _ _ _ _ _ _ _ _ _ acc ons bad; do
	[ "$journey" = report ] || continue
	if [ "$bad" != 0 ] || [ "$acc" != "$ons" ] || [ "$acc" -le 1 ]; then
		echo "FAIL: $name: $acc reports accepted, $ons entries on the CEIR stream, $bad wrong" >&2
		fail=1
	fi
done <"$work/results"
exit "$fail"
