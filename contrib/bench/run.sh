#!/bin/bash
# HTTP benchmark: the USSD check journey (three POST /ussd pipelined on one connection, in the
# aggregator form) against three servers, one after the other in one run, and one table:
#   null       a libevent evhttp server answering "END ok" (null-server.c): the ceiling
#   node-peer  the same journey with ussd-menu-builder + redis on node's http (node-peer/)
#   ceirgw     the daemon of BUILD, with its own redis-server
# The server under test runs on core SERVER_CPU, wrk and redis-server on core LOAD_CPU. Figures
# and ratios, never assertions (the targets of issue 8 are printed next to the ratios).
#   contrib/bench/run.sh          (or: make bench-http)
# Environment: BUILD (./build), DURATION (10 s), CONNECTIONS (64), WARMUP (2 s, a checked run
# whose replies are all sorted by screen), SERVER_CPU (0), LOAD_CPU (1), IMEIS (1000).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bench=$top/contrib/bench
build=$(cd "${BUILD:-$top/build}" 2>/dev/null && pwd) ||
	{ echo "run.sh: no build directory ${BUILD:-$top/build} (contrib/setup.sh build, or BUILD=DIR)" >&2; exit 1; }
duration=${DURATION:-10}
conns=${CONNECTIONS:-64}
warmup=${WARMUP:-2}
server_cpu=${SERVER_CPU:-0}
load_cpu=${LOAD_CPU:-1}
imeis=${IMEIS:-1000}
tacdb=$top/data/tacdb.csv

# shellcheck source=contrib/bench/lib.sh
. "$bench/lib.sh"
bench_init http
need wrk redis-server redis-cli node npm taskset pkg-config curl cc

# ussd PORT SESSION TEXT: one aggregator callback; prints the reply.
ussd() {
	curl -sf -X POST "http://127.0.0.1:$1/ussd" --data-urlencode "sessionId=$2" \
		--data-urlencode "phoneNumber=+254700000001" --data-urlencode "serviceCode=*384#" \
		--data-urlencode "text=$3" --data-urlencode "networkCode=63902"
}

# --- build what is measured -------------------------------------------------------------------
make -C "$build" -s src/ceirgw >/dev/null
# shellcheck disable=SC2046	# pkg-config's flags are words
cc -O2 -Wall -o "$work/null-server" "$bench/null-server.c" $(pkg-config --cflags --libs libevent)
if [ ! -f "$bench/node-peer/node_modules/.package-lock.json" ] ||
   [ "$bench/node-peer/package-lock.json" -nt "$bench/node-peer/node_modules/.package-lock.json" ]; then
	(cd "$bench/node-peer" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

# --- one system -------------------------------------------------------------------------------
# measure NAME PORT SERVER_PID REDIS_PID: a checked warm-up, then the measured run; appends
# "NAME journeys seconds p50 p99 errors non2xx server_us redis_us" to $work/results.
measure() {
	local name=$1 port=$2 spid=$3 rpid=$4 out check s0 s1 r0=0 r1=0 line
	local url=http://127.0.0.1:$port
	local wrk=(taskset -c "$load_cpu" wrk -t1 -c"$conns" -s "$bench/ussd-journey.lua")
	out=$(BENCH_CHECK=1 BENCH_CONNECTIONS=$conns "${wrk[@]}" -d"${warmup}s" "$url" -- "$tacdb" "$imeis")
	check=$(echo "$out" | sed -n 's/^CHECK //p')
	read -r c_menu c_ask c_end c_other _ <<<"${check:-0 0 0 1}"
	if [ "$name" != null ] && { [ "$c_other" -ne 0 ] || [ "$c_end" -eq 0 ] ||
	   [ $(( c_menu - c_end )) -gt "$conns" ] || [ $(( c_ask - c_end )) -gt "$conns" ]; }; then
		echo "$name: wrong replies in the warm-up (menu ask end other sample): $check" >&2
		exit 1
	fi
	s0=$(ticks "$spid")
	[ "$rpid" = - ] || r0=$(ticks "$rpid")
	out=$(BENCH_CONNECTIONS=$conns "${wrk[@]}" -d"${duration}s" "$url" -- "$tacdb" "$imeis")
	s1=$(ticks "$spid")
	[ "$rpid" = - ] || r1=$(ticks "$rpid")
	line=$(echo "$out" | sed -n 's/^JOURNEYS //p')
	[ -n "$line" ] || { echo "$name: no figures from wrk:" >&2; echo "$out" >&2; exit 1; }
	read -r j secs p50 p99 errs non2xx <<<"$line"
	awk -v n="$name" -v j="$j" -v t="$secs" -v p50="$p50" -v p99="$p99" -v e="$errs" \
	    -v x="$non2xx" -v s=$(( s1 - s0 )) -v r=$(( r1 - r0 )) -v hz="$hz" -v rp="$rpid" \
	    'BEGIN { printf "%s %d %.3f %d %d %d %d %.1f %s\n", n, j, t, p50, p99, e, x,
	             s * 1e6 / hz / j, rp == "-" ? "-" : sprintf("%.1f", r * 1e6 / hz / j) }' \
	    >>"$work/results"
}

# expect NAME PORT: one journey by curl must end with a result screen.
expect() {
	local r
	ussd "$2" probe "" | grep -q '^CON .*' || { echo "$1: no menu" >&2; exit 1; }
	ussd "$2" probe 1 | grep -q '^CON ' || { echo "$1: no IMEI prompt" >&2; exit 1; }
	r=$(ussd "$2" probe '1*356938035643809')
	case $r in
	"END Nokia N900: not reported"*) ;;
	*) echo "$1: unexpected result screen: $r" >&2; exit 1 ;;
	esac
}

: >"$work/results"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)	# others' work on the machine shows in the figures

# null
port=$(free_port)
taskset -c "$server_cpu" "$work/null-server" "$port" 2>"$work/null.err" &
spid=$!
pids+=("$spid")
wait_for 10 ussd "$port" probe "" || { echo "null-server did not start" >&2; exit 1; }
measure null "$port" "$spid" -
stop "$spid"

# node-peer
start_redis "$load_cpu"
port=$(free_port)
taskset -c "$server_cpu" node "$bench/node-peer/server.js" "$port" \
	"redis://127.0.0.1:$redis_port" "$tacdb" 2>"$work/node.err" &
spid=$!
pids+=("$spid")
wait_for 20 ussd "$port" probe "" || { echo "node-peer did not start:" >&2; cat "$work/node.err" >&2; exit 1; }
expect node-peer "$port"
measure node-peer "$port" "$spid" "$redis_pid"
stop "$spid"
stop "$redis_pid"

# ceirgw
start_redis "$load_cpu"
port=$(free_port)
cat >"$work/ceirgw.conf" <<EOF
group = ceirgw
http-listen = 127.0.0.1:$port
redis = redis://127.0.0.1:$redis_port
log-level = warn
rate-check-msisdn = 1000000/3600
rate-check-imei = 1000000/3600
EOF
taskset -c "$server_cpu" "$build/src/ceirgw" -c "$work/ceirgw.conf" 2>"$work/ceirgw.err" &
spid=$!
pids+=("$spid")
wait_for 20 curl -sf "http://127.0.0.1:$port/healthz" ||
	{ echo "ceirgw did not start:" >&2; cat "$work/ceirgw.err" >&2; exit 1; }
expect ceirgw "$port"
measure ceirgw "$port" "$spid" "$redis_pid"
stop "$spid"
stop "$redis_pid"

# --- the table --------------------------------------------------------------------------------
bench_machine "$load_before"
echo "load: wrk -t1 -c$conns -d${duration}s, a journey = 3 POST /ussd pipelined (dial, 1, 1*IMEI)," \
     "fresh session and caller each; server on core $server_cpu, wrk + redis-server on core $load_cpu"
echo "latency: whole journey, first request written to third response (wrk's CO correction undone)"
echo
awk '
{ n[NR] = $1; j[NR] = $2 / $3; p50[NR] = $4 / 1000; p99[NR] = $5 / 1000; err[NR] = $6 + $7
  cpu[NR] = $8; red[NR] = $9; row[$1] = NR; rows = NR }
function ratio(a, b) { return (b > 0 && a != "-") ? sprintf("%.2f", a / b) : "-" }
END {
	nu = row["null"]; no = row["node-peer"]; ce = row["ceirgw"]
	printf "%-10s %10s %7s %7s %8s %8s %8s %10s %7s %10s %10s %8s %6s\n", "system",
	       "journeys/s", "x null", "x node", "p50 ms", "p99 ms", "p99/null", "server us",
	       "x null", "redis us", "srv+redis", "x node", "errors"
	for (i = 1; i <= rows; i++) {
		tot = cpu[i] + (red[i] == "-" ? 0 : red[i])
		t[i] = tot
		printf "%-10s %10.0f %7s %7s %8.2f %8.2f %8s %10.1f %7s %10s %10.1f %8s %6d\n", n[i], j[i],
		       ratio(j[i], j[nu]), ratio(j[i], j[no]), p50[i], p99[i], ratio(p99[i], p99[nu]),
		       cpu[i], ratio(cpu[i], cpu[nu]), red[i], tot,
		       ratio(tot, cpu[no] + red[no]), err[i]
	}
	print ""
	print "(server us, redis us: CPU microseconds per journey, utime + stime from /proc/PID/stat)"
	printf "targets (issue 8)                         ratio   target\n"
	printf "ceirgw / node-peer journeys/s             %5s   >= 3\n", ratio(j[ce], j[no])
	printf "ceirgw / null server CPU per journey      %5s   <= 2\n", ratio(cpu[ce], cpu[nu])
	printf "ceirgw+redis / node-peer+redis CPU        %5s   <= 0.33\n", ratio(t[ce], t[no])
	printf "ceirgw / null p99                         %5s   <= 2\n", ratio(p99[ce], p99[nu])
	printf "T\tHTTP check: ceirgw / node-peer journeys/s\t%s\t>=\t3\n", ratio(j[ce], j[no]) >targets
	printf "T\tHTTP check: ceirgw / null CPU per journey\t%s\t<=\t2\n", ratio(cpu[ce], cpu[nu]) >targets
	printf "T\tHTTP check: ceirgw+Redis / node-peer+Redis CPU\t%s\t<=\t0.33\n", ratio(t[ce], t[no]) >targets
	printf "T\tHTTP check: ceirgw / null p99\t%s\t<=\t2\n", ratio(p99[ce], p99[nu]) >targets
}' targets="$work/targets" "$work/results"
while IFS=$'\t' read -r _ what m op goal; do bench_target "$what" "$m" "$op" "$goal"; done <"$work/targets"
