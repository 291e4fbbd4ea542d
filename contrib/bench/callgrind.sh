#!/bin/bash
# Instructions per journey under callgrind (issue 8: "instructions per journey under valgrind
# --tool=callgrind for a fixed count of journeys"), a figure that does not move with whatever
# else the machine is doing. Two servers, one after the other in one run, and one table:
#   null    the libevent evhttp server answering "END ok" (null-server.c): the baseline
#   ceirgw  the daemon of BUILD, with its own redis-server (not under valgrind)
# Each server runs under valgrind --tool=callgrind. A driver sends W checked warm-up journeys,
# the counters are zeroed (callgrind_control -z), the driver sends N journeys, and the counters
# are dumped (callgrind_control -d): the dump's total Ir divided by N. A journey is the check
# journey of run.sh, three POST /ussd in the aggregator form (dial, "1", "1*<IMEI>"), with a
# fresh sessionId and caller each and IMEIs from real TACs with valid check digits, sent one
# request at a time on one kept-alive connection: the count matters here, not the speed. Every
# reply is checked. Instructions are user space only (the kernel's socket work is not counted),
# and include the timers that fire while the N journeys run (see the idle line).
#   contrib/bench/callgrind.sh
# Environment: BUILD (./build), N (2000 journeys), W (200 warm-up journeys), IMEIS (100),
# IDLE (5: seconds of ceirgw idle measured the same way), OUT (BUILD/bench-callgrind: the
# dumps and the annotated profile are kept there), SERVER_CPU (0), LOAD_CPU (1), KEEP.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bench=$top/contrib/bench
build=$(cd "${BUILD:-$top/build}" 2>/dev/null && pwd) ||
	{ echo "callgrind.sh: no build directory ${BUILD:-$top/build} (contrib/setup.sh build, or BUILD=DIR)" >&2; exit 1; }
n=${N:-2000}
w=${W:-200}
imeis=${IMEIS:-100}
idle=${IDLE:-5}
out=${OUT:-$build/bench-callgrind}
server_cpu=${SERVER_CPU:-0}
load_cpu=${LOAD_CPU:-1}
tacdb=$top/data/tacdb.csv

# shellcheck source=contrib/bench/lib.sh
. "$bench/lib.sh"
bench_init callgrind
need valgrind callgrind_control callgrind_annotate python3 redis-server redis-cli taskset curl \
	pkg-config cc
mkdir -p "$out"

# The driver: python's http.client, one request at a time (speed does not matter under
# valgrind, and wrk's 2 s timeouts would fire there).
cat >"$work/journeys.py" <<'EOF'
"""journeys.py PORT FIRST COUNT TACDB IMEIS null|ceirgw: sends journeys FIRST+1 .. FIRST+COUNT on one
kept-alive connection, checks every reply and prints "JOURNEYS <count> <seconds>"; exit status 1
and the first wrong reply when one is wrong."""
import http.client, re, sys, time, urllib.parse

port, first, count, tacdb, want, system = sys.argv[1:7]
first, count, want = int(first), int(count), int(want)

def luhn(body):  # the 15th digit of a 14-digit body, as ussd-journey.lua computes it
    s = 0
    for i, c in enumerate(body):
        d = int(c)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        s += d
    return body + str((10 - s % 10) % 10)

imeis, seen, serial = [], set(), 123457
for line in open(tacdb, encoding="utf-8", errors="replace"):
    m = re.match(r"(\d{8}),", line)
    if m and m.group(1) not in seen:
        seen.add(m.group(1))
        serial = serial * 48271 % 1000000
        imeis.append(luhn("%s%06d" % (m.group(1), serial)))
        if len(imeis) >= want:
            break

expect = [("CON ", "1 Check a phone"), ("CON ", "IMEI"), ("END ", "")]
if system == "null":
    expect = [("END ok", "")] * 3
conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=600)
head = {"Content-Type": "application/x-www-form-urlencoded"}
t0 = time.monotonic()
for k in range(first + 1, first + count + 1):
    sid, caller = "cg-%d" % k, "+2547%08d" % k
    imei = imeis[k % len(imeis)]
    for text, (start, has) in zip(["", "1", "1*" + imei], expect):
        body = urllib.parse.urlencode({"sessionId": sid, "serviceCode": "*384#",
                                       "phoneNumber": caller, "text": text,
                                       "networkCode": "63902"})
        conn.request("POST", "/ussd", body, head)
        r = conn.getresponse()
        reply = r.read().decode("utf-8", "replace")
        if r.status != 200 or not reply.startswith(start) or has not in reply:
            print("journey %d, text %r: %d %r" % (k, text, r.status, reply), file=sys.stderr)
            sys.exit(1)
print("JOURNEYS %d %.3f" % (count, time.monotonic() - t0))
EOF

# Ir of a callgrind dump: its summary line (the totals line when it has none).
ir_of() {
	awk '/^summary:/ {s = $2} /^totals:/ {t = $2} END {print s != "" ? s : t}' "$1"
}

# drive PORT FIRST COUNT SYSTEM: journeys FIRST+1 .. FIRST+COUNT; prints the seconds they took.
drive() {
	local line
	line=$(taskset -c "$load_cpu" python3 "$work/journeys.py" "$1" "$2" "$3" "$tacdb" \
		"$imeis" "$4") || { echo "callgrind.sh: $4: a wrong reply (above)" >&2; exit 1; }
	echo "${line##* }"
}

# control NAME PID -z|-d: zeroes or dumps the counters of the server NAME runs as PID; a dump
# goes to $work/NAME.out.<its number>, and dumps=<that number>.
control() {
	callgrind_control "$3" "$2" >"$work/control.out" 2>&1 ||
		{ echo "callgrind.sh: $1: callgrind_control $3 failed:" >&2; cat "$work/control.out" >&2; exit 1; }
	[ "$3" != -d ] || dumps=$(( dumps + 1 ))
}

# measure NAME PORT PID: W warm-up journeys, zero, N journeys, dump; appends
# "NAME journeys Ir seconds" to $work/results and keeps the dump as $out/NAME.callgrind.
measure() {
	local name=$1 port=$2 spid=$3 secs
	drive "$port" 0 "$w" "$name" >/dev/null
	control "$name" "$spid" -z
	[ "$name" = null ] || c0=$(commands)
	secs=$(drive "$port" "$w" "$n" "$name")
	control "$name" "$spid" -d
	[ "$name" = null ] || c1=$(commands)
	cp "$work/$name.out.$dumps" "$out/$name.callgrind"
	echo "$name $n $(ir_of "$out/$name.callgrind") $secs" >>"$work/results"
}

# Commands redis-server has processed so far (those of ceirgw, and redis-cli's own INFO).
commands() {
	redis-cli -p "$redis_port" info stats | tr -d '\r' | sed -n 's/^total_commands_processed://p'
}

# grind NAME CMD...: CMD under callgrind, pinned to SERVER_CPU; sets spid.
grind() {
	local name=$1
	shift
	dumps=0
	taskset -c "$server_cpu" valgrind --tool=callgrind --callgrind-out-file="$work/$name.out" \
		"$@" 2>"$work/$name.err" &
	spid=$!
	pids+=("$spid")
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$work/results"

# --- build what is measured -------------------------------------------------------------------
make -C "$build" -s src/ceirgw >/dev/null
# shellcheck disable=SC2046	# pkg-config's flags are words
cc -O2 -Wall -o "$work/null-server" "$bench/null-server.c" $(pkg-config --cflags --libs libevent)

# --- null -------------------------------------------------------------------------------------
# free_port's port may be taken before the server binds it (by another's outgoing connection:
# it lies in the kernel's ephemeral range), so a server that exits at once is tried on another
for try in 1 2 3; do
	port=$(free_port)
	grind null "$work/null-server" "$port"
	up "$spid" 60 curl -sf -d x "http://127.0.0.1:$port/ussd" && break
	stop "$spid"
	[ "$try" -lt 3 ] || { echo "null-server did not start:" >&2; cat "$work/null.err" >&2; exit 1; }
done
measure null "$port" "$spid"
stop "$spid"

# --- ceirgw -----------------------------------------------------------------------------------
start_redis "$load_cpu"
for try in 1 2 3; do
	port=$(free_port)
	cat >"$work/ceirgw.conf" <<-EOF
	group = ceirgw
	http-listen = 127.0.0.1:$port
	admin-listen = 127.0.0.1:$(free_port)
	redis = redis://127.0.0.1:$redis_port
	log-level = warn
	rate-check-msisdn = 1000000/3600
	rate-check-imei = 1000000/3600
	EOF
	grind ceirgw "$build/src/ceirgw" -c "$work/ceirgw.conf"
	up "$spid" 120 curl -sf "http://127.0.0.1:$port/healthz" && break
	stop "$spid"
	[ "$try" -lt 3 ] || { echo "ceirgw did not start:" >&2; cat "$work/ceirgw.err" >&2; exit 1; }
done
measure ceirgw "$port" "$spid"
# the same for IDLE seconds without a request: the timers' share of the figure
control ceirgw "$spid" -z
sleep "$idle"
control ceirgw "$spid" -d
idle_ir=$(ir_of "$work/ceirgw.out.$dumps")
stop "$spid"
stop "$redis_pid"

# The functions ceirgw spends its instructions in. The calls under way when the counters were
# zeroed (main down to the event loop) are written "calls=0" with their cost since, and
# callgrind_annotate 3.19 takes a call of count 0 for the caller's own cost (main, daemon_run
# and event_base_dispatch would each show 100 % self): the copy it reads says 1.
sed 's/^calls=0 /calls=1 /' "$out/ceirgw.callgrind" >"$work/annotate.in"
# top_functions no|yes: the first 10 functions of callgrind_annotate's list by self or inclusive
# Ir, but for those at 100 % (main down to the event loop, which every journey runs in). By
# inclusive Ir, the lines without an object are left out too: they repeat a function's line for
# its code inlined from a file named another way (/work/... beside src/...).
top_functions() {
	callgrind_annotate --auto=no --inclusive="$1" "$work/annotate.in" |
		awk -v incl="$1" '/^ *[0-9,]+ \( *[0-9.]+%\)  / && !/PROGRAM TOTALS/ &&
		     !/\(100.0%\)/ && (incl == "no" || /\]$/) && c < 10 { print; c++ }'
}
report=$out/ceirgw-top.txt
{
	echo "ceirgw, $n check journeys after $w warm-up ones: callgrind_annotate $out/ceirgw.callgrind"
	echo "(Ir over the $n journeys; /$n for a journey)"
	echo
	echo "--- top 10 by self Ir (the function's own instructions) ---"
	top_functions no
	echo
	echo "--- top 10 by inclusive Ir (with the functions it calls; main down to the event loop left out) ---"
	top_functions yes
} >"$report"

# --- the table --------------------------------------------------------------------------------
bench_machine "$load_before"
echo "valgrind --tool=callgrind ($(valgrind --version)), each server on core $server_cpu;" \
     "driver (python http.client, one request at a time, one connection) and redis-server on" \
     "core $load_cpu; a journey = 3 POST /ussd (dial, 1, 1*IMEI), fresh session and caller," \
     "$imeis IMEIs; $w warm-up journeys, then $n counted"
echo
awk -v cmds=$(( c1 - c0 - 1 )) '
{ name[NR] = $1; j[NR] = $2; ir[NR] = $3 / $2; secs[NR] = $4; row[$1] = NR; rows = NR }
END {
	printf "%-8s %9s %21s %8s %10s\n", "system", "journeys", "instructions/journey", "x null",
	       "seconds"
	nu = ir[row["null"]]
	for (i = 1; i <= rows; i++)
		printf "%-8s %9d %21.0f %8.2f %10.1f\n", name[i], j[i], ir[i], ir[i] / nu, secs[i]
	printf "\nredis-server commands per ceirgw journey (those inside scripts too): %.2f\n", cmds / j[row["ceirgw"]]
}' "$work/results"
awk -v ir="$idle_ir" -v s="$idle" -v n="$n" -v secs="$(awk '$1 == "ceirgw" {print $4}' "$work/results")" \
    'BEGIN { printf "ceirgw idle: %.0f Ir/s (its timers): about %.0f of the figure above\n",
	     ir / s, ir / s * secs / n }'
echo
echo "ceirgw's top 5 functions by self Ir (all 10, and by inclusive Ir, in $report):"
awk '/^--- top 10 by self/ {f = 1; next} f && c < 5 {print; c++}' "$report"
echo "(dumps: $out/null.callgrind, $out/ceirgw.callgrind)"
read -r ir_ce ir_x <<<"$(awk '{ ir[$1] = $3 / $2 } END { printf "%.0f %.2f\n", ir["ceirgw"], ir["ceirgw"] / ir["null"] }' "$work/results")"
bench_target "callgrind: ceirgw instructions per check journey" "$ir_ce" figure -
bench_target "callgrind: ceirgw / null instructions per journey" "$ir_x" figure -
