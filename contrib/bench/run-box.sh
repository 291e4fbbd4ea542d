#!/bin/bash
# Box-path benchmark (issue 8): SMS checks through Kannel's bearerbox and its fake SMSC, against
# two boxes, one after the other in one run, and one table:
#   null-box  a blocking Kannel box on libgw that answers every MO "ok" (null-box.c): the ceiling
#   ceirgw    the daemon of BUILD as the box, with its own redis-server
# Each box gets a fresh bearerbox (same kannel.conf) and one fakesmsc that sends N MOs
# "CHECK <IMEI>" as fast as it can (-i 0 -m N, non-interactive) and logs every reply. bearerbox,
# fakesmsc and redis-server run on core LOAD_CPU, the box under test on core BOX_CPU.
# Figures and ratios, never assertions (the target of issue 8 is printed next to the ratio).
#   contrib/bench/run-box.sh
# Environment: BUILD (./build), N (20000 MOs), WARMUP (200 MOs, a checked run before the
# measured one), TIMEOUT (120 s for the N replies), STORE (none, or file: bearerbox's store
# file), BOX_CPU (0), LOAD_CPU (1), REDIS_CPU (LOAD_CPU: ceirgw's redis-server), KEEP (set: keep the temporary directory and its logs).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bench=$top/contrib/bench
build=$(cd "${BUILD:-$top/build}" 2>/dev/null && pwd) ||
	{ echo "run-box.sh: no build directory ${BUILD:-$top/build} (contrib/setup.sh build, or BUILD=DIR)" >&2; exit 1; }
n=${N:-20000}
warmup=${WARMUP:-200}
timeout=${TIMEOUT:-120}
store=${STORE:-none}
box_cpu=${BOX_CPU:-0}
load_cpu=${LOAD_CPU:-1}
redis_cpu=${REDIS_CPU:-$load_cpu}
bearerbox=${BEARERBOX:-/usr/sbin/bearerbox}
fakesmsc=${FAKESMSC:-/usr/lib/kannel/test/fakesmsc}
imei=356938035643809	# Nokia N900, a TAC of the embedded TAC list

# shellcheck source=contrib/bench/lib.sh
. "$bench/lib.sh"
bench_init box
need "$bearerbox" "$fakesmsc" redis-server redis-cli gw-config taskset curl cc

now() { date +%s.%N; }

# --- build what is measured -------------------------------------------------------------------
make -C "$build" -s src/ceirgw >/dev/null
# shellcheck disable=SC2046	# gw-config's flags are words
cc $(gw-config --cflags) -w -o "$work/null-box" "$bench/null-box.c" $(gw-config --libs)

# --- bearerbox --------------------------------------------------------------------------------
bb_admin=$(free_port)
bb_box=$(free_port)
fake_port=$(free_port)
store_lines=""
if [ "$store" = file ]; then
	store_lines="store-type = file
store-location = $work/bearerbox.store
store-dump-freq = 5"
fi
cat >"$work/kannel.conf" <<CONF
group = core
admin-port = $bb_admin
admin-password = secret
smsbox-port = $bb_box
box-allow-ip = 127.0.0.1
log-file = $work/bearerbox.log
log-level = 2
$store_lines

# bearerbox wants an smsbox group once smsbox-port is set; the box under test takes its place.
group = smsbox
bearerbox-host = 127.0.0.1

group = smsc
smsc = fake
smsc-id = fake
port = $fake_port
connect-allow-ip = 127.0.0.1
CONF

bb_status() {
	curl -s -m 2 "http://127.0.0.1:$bb_admin/status.txt?password=secret"
}
bb_boxes() {
	[ "$(bb_status | sed -n '/^Box connections:/,/^SMSC connections:/p' | grep -c 'on-line')" -ge 1 ]
}

# bb_start: a fresh bearerbox on LOAD_CPU (and a fresh store); sets bb_pid.
bb_start() {
	rm -f "$work"/bearerbox.store*
	taskset -c "$load_cpu" "$bearerbox" -v 2 "$work/kannel.conf" >>"$work/bearerbox.out" 2>&1 &
	bb_pid=$!
	pids+=("$bb_pid")
	wait_for 15 curl -sf -m 1 "http://127.0.0.1:$bb_admin/status.txt?password=secret" ||
		{ echo "bearerbox did not start:" >&2; tail -n 5 "$work/bearerbox.out" >&2; exit 1; }
}

# replies LOG: the count of SMS fakesmsc got so far.
replies() { grep -c '^.*Got message' "$1" || true; }

# load COUNT LOG: a fakesmsc on LOAD_CPU sending COUNT MOs at once; waits for COUNT replies
# (or TIMEOUT), stops it; sets got and secs (from fakesmsc's start to the COUNT-th reply seen
# in its log, polled every 20 ms).
load() {
	local count=$1 log=$2 t0 t1 fpid deadline
	: >"$log"
	t0=$(now)
	taskset -c "$load_cpu" "$fakesmsc" -H 127.0.0.1 -r "$fake_port" -i 0 -m "$count" \
		"254733000001 384 text CHECK $imei" "254733000002 384 text CHECK $imei" \
		"254733000003 384 text CHECK $imei" "254733000004 384 text CHECK $imei" \
		>"$log" 2>&1 &
	fpid=$!
	pids+=("$fpid")
	deadline=$(( $(date +%s) + timeout ))
	while :; do
		got=$(replies "$log")
		[ "$got" -lt "$count" ] || break
		if [ "$(date +%s)" -ge "$deadline" ] || ! kill -0 "$fpid" 2>/dev/null; then
			break
		fi
		sleep 0.02
	done
	t1=$(now)
	stop "$fpid"
	got=$(replies "$log")
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
}

# measure NAME BOX_PID [REDIS_PID]: a checked warm-up, then the measured run; appends
# "NAME sent answered seconds box_us bb_us redis_us" to $work/results.
measure() {
	local name=$1 bpid=$2 rpid=${3:-} b0 b1 s0 s1 r0=0 r1=0
	load "$warmup" "$work/$name-warmup.log"
	if [ "$got" -lt "$warmup" ]; then
		echo "$name: $got replies of $warmup in the warm-up" >&2
		tail -n 5 "$work/$name-warmup.log" >&2
		exit 1
	fi
	if [ "$name" = ceirgw ] && ! grep -q 'Got message.*N900' "$work/$name-warmup.log"; then
		echo "$name: no N900 in the replies:" >&2
		grep 'Got message' "$work/$name-warmup.log" | head -n 3 >&2
		exit 1
	fi
	b0=$(ticks "$bpid")
	s0=$(ticks "$bb_pid")
	[ -z "$rpid" ] || r0=$(ticks "$rpid")
	load "$n" "$work/$name.log"
	b1=$(ticks "$bpid")
	s1=$(ticks "$bb_pid")
	[ -z "$rpid" ] || r1=$(ticks "$rpid")
	[ "$got" -ge "$n" ] || echo "$name: only $got replies of $n in ${timeout}s" >&2
	awk -v nm="$name" -v sent="$n" -v got="$got" -v t="$secs" -v b=$(( b1 - b0 )) \
	    -v s=$(( s1 - s0 )) -v r=$(( r1 - r0 )) -v hz="$hz" -v rp="$rpid" \
	    'BEGIN { d = got > 0 ? got : 1
	             printf "%s %d %d %.3f %.1f %.1f %s\n", nm, sent, got, t, b * 1e6 / hz / d,
	                    s * 1e6 / hz / d, rp == "" ? "-" : sprintf("%.1f", r * 1e6 / hz / d) }' \
	    >>"$work/results"
}

: >"$work/results"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# null-box
bb_start
taskset -c "$box_cpu" "$work/null-box" 127.0.0.1 "$bb_box" 2>"$work/null-box.err" &
bpid=$!
pids+=("$bpid")
wait_for 10 bb_boxes || { echo "null-box did not connect:" >&2; cat "$work/null-box.err" >&2; exit 1; }
measure null-box "$bpid"
stop "$bpid"
stop "$bb_pid"

# ceirgw
start_redis "$redis_cpu"
bb_start
http_port=$(free_port)
cat >"$work/ceirgw.conf" <<EOF
group = ceirgw
http-listen = 127.0.0.1:$http_port
admin-listen = 127.0.0.1:$(free_port)
redis = redis://127.0.0.1:$redis_port
bearerbox = 127.0.0.1:$bb_box
log-level = warn
rate-check-msisdn = 1000000/3600
rate-check-imei = 1000000/3600
EOF
taskset -c "$box_cpu" "$build/src/ceirgw" -c "$work/ceirgw.conf" 2>"$work/ceirgw.err" &
bpid=$!
pids+=("$bpid")
wait_for 20 sh -c "curl -s http://127.0.0.1:$http_port/healthz | grep -q '\"bearerbox\":\"connected\"'" ||
	{ echo "ceirgw did not connect:" >&2; cat "$work/ceirgw.err" >&2; exit 1; }
wait_for 10 bb_boxes || { echo "bearerbox does not list ceirgw" >&2; exit 1; }
measure ceirgw "$bpid" "$redis_pid"
stop "$bpid"
stop "$bb_pid"
stop "$redis_pid"

# --- the table --------------------------------------------------------------------------------
bench_machine "$load_before"
echo "load: fakesmsc -i 0 -m $n (after $warmup checked), MO \"CHECK $imei\" from 4 senders;" \
     "bearerbox $("$bearerbox" -v 2 --version 2>&1 | grep -o 'version .[0-9.]*' | head -1 | tr -d "\`'")" \
     "store ${store}; box on core $box_cpu, bearerbox + fakesmsc on core $load_cpu, redis-server on core $redis_cpu"
echo "time: from fakesmsc's start to the N-th reply in its log (polled every 20 ms)"
echo
awk '
{ nm[NR] = $1; sent[NR] = $2; got[NR] = $3; t[NR] = $4; rate[NR] = $3 / $4
  box[NR] = $5; bb[NR] = $6; red[NR] = $7; row[$1] = NR; rows = NR }
function ratio(a, b) { return (b > 0 && a != "-") ? sprintf("%.2f", a / b) : "-" }
END {
	nu = row["null-box"]; ce = row["ceirgw"]
	printf "%-9s %7s %9s %8s %8s %7s %8s %7s %8s %9s\n", "box", "MOs", "answered", "seconds",
	       "MO/s", "x null", "box us", "x null", "bb us", "redis us"
	for (i = 1; i <= rows; i++)
		printf "%-9s %7d %9d %8.3f %8.0f %7s %8.1f %7s %8.1f %9s\n", nm[i], sent[i], got[i],
		       t[i], rate[i], ratio(rate[i], rate[nu]), box[i], ratio(box[i], box[nu]), bb[i],
		       red[i]
	print ""
	print "(box us, bb us, redis us: CPU microseconds per MO answered, utime + stime from /proc/PID/stat)"
	printf "target (issue 8)                          ratio   target\n"
	printf "ceirgw / null-box MOs answered/s          %5s   >= 0.9\n", ratio(rate[ce], rate[nu])
	printf "T\tbox path: ceirgw / null-box MOs answered/s\t%s\t>=\t0.9\n", ratio(rate[ce], rate[nu]) >targets
}' targets="$work/targets" "$work/results"
while IFS=$'\t' read -r _ what m op goal; do bench_target "$what" "$m" "$op" "$goal"; done <"$work/targets"
