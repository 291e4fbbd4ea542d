#!/bin/bash
# Box-path benchmark (issues 8 and 21): SMS checks through Kannel's bearerbox and its fake SMSC,
# against four systems, one after the other in one run, and one table:
#   null-box       a blocking Kannel box on libgw that answers every MO "ok" (null-box.c): the ceiling
#   ceirgw         the daemon of BUILD as the box, with its own redis-server
#   smsbox+null    Kannel's smsbox, its sms-service's get-url calling the null HTTP server
#                  (null-server.c answering "ok"), whose body smsbox sends back as the reply: what
#                  an operator runs today with an HTTP application, at its cheapest (issue 21)
#   smsbox+ceirgw  the same smsbox, get-url to ceirgw's own /sms (ceirgw not a box: the HTTP way of
#                  doc/kannel.md, as tests/integration/kannel_smsbox.sh runs it; /sms answers the
#                  get-url with the reply as its body, synchronously), with its own redis-server
# Each system gets a fresh bearerbox (same kannel.conf) and one fakesmsc that sends N MOs
# "CHECK <IMEI>" as fast as it can (-i 0 -m N, non-interactive) and logs every reply. bearerbox,
# fakesmsc and redis-server run on core LOAD_CPU; the box, or smsbox in its place, on core
# BOX_CPU, and the HTTP application of the smsbox rows there too (APP_CPU): each system gets
# one core for all of its own work.
# Every MO answered once: fakesmsc's MOs carry nothing the reply echoes, so it is counted, as
# replies in fakesmsc's log, after a settling second past the N-th reply: exactly N (a late
# duplicate would make more).
# Figures and ratios, never assertions (the targets of issues 8 and 21 are printed next to them).
#   contrib/bench/run-box.sh
# Environment: BUILD (./build), N (20000 MOs), WARMUP (200 MOs, a checked run before the
# measured one), TIMEOUT (120 s for the N replies), STORE (none, or file: bearerbox's store
# file), BOX_CPU (0), APP_CPU (BOX_CPU: the HTTP application behind smsbox), LOAD_CPU (1),
# REDIS_CPU (LOAD_CPU: ceirgw's redis-server), KEEP (set: keep the temporary directory and its
# logs).
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
app_cpu=${APP_CPU:-$box_cpu}
load_cpu=${LOAD_CPU:-1}
redis_cpu=${REDIS_CPU:-$load_cpu}
bearerbox=${BEARERBOX:-/usr/sbin/bearerbox}
fakesmsc=${FAKESMSC:-/usr/lib/kannel/test/fakesmsc}
smsbox=${SMSBOX:-/usr/sbin/smsbox}
imei=356938035643809	# Nokia N900, a TAC of the embedded TAC list

# shellcheck source=contrib/bench/lib.sh
. "$bench/lib.sh"
bench_init box
need "$bearerbox" "$fakesmsc" "$smsbox" redis-server redis-cli gw-config pkg-config taskset curl cc

# --- build what is measured -------------------------------------------------------------------
make -C "$build" -s src/ceirgw >/dev/null
# shellcheck disable=SC2046	# gw-config's flags are words
cc $(gw-config --cflags) -w -o "$work/null-box" "$bench/null-box.c" $(gw-config --libs)
# shellcheck disable=SC2046
cc -O2 -Wall -o "$work/null-server" "$bench/null-server.c" $(pkg-config --cflags --libs libevent)

# --- bearerbox --------------------------------------------------------------------------------
bb_admin=$(free_port)
bb_box=$(free_port)
fake_port=$(free_port)
sendsms_port=$(free_port)
{
	kannel_core_conf
	cat <<CONF
group = smsc
smsc = fake
smsc-id = fake
port = $fake_port
connect-allow-ip = 127.0.0.1
CONF
} >"$work/kannel.conf"

# replies LOG: the count of SMS fakesmsc got so far.
replies() { grep -c '^.*Got message' "$1" || true; }

# load COUNT LOG: a fakesmsc on LOAD_CPU sending COUNT MOs at once; waits for COUNT replies
# (or TIMEOUT) and leaves it running (settle stops it); sets fake_pid, got and secs (from
# fakesmsc's start to the COUNT-th reply seen in its log, polled every 20 ms).
load() {
	local count=$1 log=$2 t0 t1 deadline
	: >"$log"
	t0=$(now)
	taskset -c "$load_cpu" "$fakesmsc" -H 127.0.0.1 -r "$fake_port" -i 0 -m "$count" \
		"254733000001 384 text CHECK $imei" "254733000002 384 text CHECK $imei" \
		"254733000003 384 text CHECK $imei" "254733000004 384 text CHECK $imei" \
		>"$log" 2>&1 &
	fake_pid=$!
	pids+=("$fake_pid")
	deadline=$(( $(date +%s) + timeout ))
	while :; do
		got=$(replies "$log")
		[ "$got" -lt "$count" ] || break
		if [ "$(date +%s)" -ge "$deadline" ] || ! kill -0 "$fake_pid" 2>/dev/null; then
			break
		fi
		sleep 0.02
	done
	t1=$(now)
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
}

# settle LOG: a second more for late replies (a duplicate would come then), stops fakesmsc;
# sets got to the replies in LOG.
settle() {
	sleep 1
	stop "$fake_pid"
	got=$(replies "$1")
}

# measure NAME REPLY BOX_PID [APP_PID [REDIS_PID]]: a warm-up whose replies must match the
# extended regular expression REPLY, then the measured run; appends "NAME sent answered
# once seconds box_us app_us bb_us redis_us redis_cmds" to $work/results ("-" for a process
# the system has not; redis_cmds: Redis commands per MO).
measure() {
	local name=$1 want=$2 bpid=$3 apid=${4:-} rpid=${5:-} b0 b1 a0=0 a1=0 s0 s1 r0=0 r1=0
	local c0=0 c1=0
	local answered once
	load "$warmup" "$work/$name-warmup.log"
	settle "$work/$name-warmup.log"
	if [ "$got" -ne "$warmup" ]; then
		echo "$name: $got replies of $warmup in the warm-up" >&2
		tail -n 5 "$work/$name-warmup.log" >&2
		exit 1
	fi
	if [ "$(grep -c 'Got message' "$work/$name-warmup.log")" -ne \
	     "$(grep -Ec "Got message [0-9]+: <384 254733000[0-9]{3} text $want>\$" \
		"$work/$name-warmup.log")" ]; then
		echo "$name: a reply in the warm-up is not \"$want\":" >&2
		grep -Ev "Got message [0-9]+: <384 254733000[0-9]{3} text $want>\$" \
			"$work/$name-warmup.log" | grep 'Got message' | head -n 3 >&2
		exit 1
	fi
	b0=$(ticks "$bpid")
	[ -z "$apid" ] || a0=$(ticks "$apid")
	s0=$(ticks "$bb_pid")
	[ -z "$rpid" ] || { c0=$(redis_cmds); r0=$(ticks "$rpid"); }
	load "$n" "$work/$name.log"
	b1=$(ticks "$bpid")
	[ -z "$apid" ] || a1=$(ticks "$apid")
	s1=$(ticks "$bb_pid")
	[ -z "$rpid" ] || { r1=$(ticks "$rpid"); c1=$(redis_cmds); }
	answered=$got
	settle "$work/$name.log"
	# Which commands, for the warm-up and the measured run together (KEEP keeps it).
	[ -z "$rpid" ] || redis-cli -p "$redis_port" info commandstats | tr -d '\r' \
		>"$work/$name-commandstats.txt"
	[ "$answered" -ge "$n" ] || echo "$name: only $answered replies of $n in ${timeout}s" >&2
	once=yes
	if [ "$got" -ne "$n" ]; then
		once=no
		echo "$name: $got replies to $n MOs after a settling second" >&2
	fi
	awk -v nm="$name" -v sent="$n" -v got="$answered" -v once="$once" -v t="$secs" \
	    -v b=$(( b1 - b0 )) -v a=$(( a1 - a0 )) -v s=$(( s1 - s0 )) -v r=$(( r1 - r0 )) \
	    -v c=$(( c1 - c0 )) -v hz="$hz" -v ap="$apid" -v rp="$rpid" \
	    'function us(x) { return x * 1e6 / hz / d }
	     BEGIN { d = got > 0 ? got : 1
	             printf "%s %d %d %s %.3f %.1f %s %.1f %s %s\n", nm, sent, got, once, t, us(b),
	                    ap == "" ? "-" : sprintf("%.1f", us(a)), us(s),
	                    rp == "" ? "-" : sprintf("%.1f", us(r)),
	                    rp == "" ? "-" : sprintf("%.1f", c / d) }' >>"$work/results"
}

: >"$work/results"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
n900='Nokia N900: .*'

# null-box
bb_start
taskset -c "$box_cpu" "$work/null-box" 127.0.0.1 "$bb_box" 2>"$work/null-box.err" &
bpid=$!
pids+=("$bpid")
wait_for 10 bb_boxes || { echo "null-box did not connect:" >&2; cat "$work/null-box.err" >&2; exit 1; }
measure null-box ok "$bpid"
stop "$bpid"
stop "$bb_pid"

# ceirgw
start_redis "$redis_cpu"
bb_start
ceirgw_conf "$work/ceirgw.conf" "bearerbox = 127.0.0.1:$bb_box"
taskset -c "$box_cpu" "$build/src/ceirgw" -c "$work/ceirgw.conf" 2>"$work/ceirgw.err" &
bpid=$!
pids+=("$bpid")
wait_for 20 sh -c "curl -s http://127.0.0.1:$http_port/healthz | grep -q '\"bearerbox\":\"connected\"'" ||
	{ echo "ceirgw did not connect:" >&2; cat "$work/ceirgw.err" >&2; exit 1; }
wait_for 10 bb_boxes || { echo "bearerbox does not list ceirgw" >&2; exit 1; }
measure ceirgw "$n900" "$bpid" "" "$redis_pid"
stop "$bpid"
stop "$bb_pid"
stop "$redis_pid"

# smsbox+null: smsbox on BOX_CPU, the null HTTP server on APP_CPU
null_port=$(free_port)
taskset -c "$app_cpu" "$work/null-server" "$null_port" ok 2>"$work/null-server.err" &
apid=$!
pids+=("$apid")
wait_for 10 curl -sf -m 1 "http://127.0.0.1:$null_port/sms" ||
	{ echo "null-server did not start:" >&2; cat "$work/null-server.err" >&2; exit 1; }
smsbox_conf "$work/smsbox-null.conf" "http://127.0.0.1:$null_port/sms"
bb_start
smsbox_start "$work/smsbox-null.conf"
measure smsbox+null ok "$smsbox_pid" "$apid"
stop "$smsbox_pid"
stop "$bb_pid"
stop "$apid"

# smsbox+ceirgw: smsbox on BOX_CPU, ceirgw's /sms on APP_CPU (no bearerbox: sendsms-url to
# smsbox for its notifications, none of which a check sends)
start_redis "$redis_cpu"
ceirgw_conf "$work/ceirgw-http.conf" \
	"sendsms-url = http://127.0.0.1:$sendsms_port/cgi-bin/sendsms" \
	"sendsms-username = ceirgw" "sendsms-password = secret"
taskset -c "$app_cpu" "$build/src/ceirgw" -c "$work/ceirgw-http.conf" 2>"$work/ceirgw-http.err" &
apid=$!
pids+=("$apid")
wait_for 20 curl -sf -m 1 "http://127.0.0.1:$http_port/healthz" ||
	{ echo "ceirgw (HTTP) did not start:" >&2; cat "$work/ceirgw-http.err" >&2; exit 1; }
smsbox_conf "$work/smsbox-ceirgw.conf" "http://127.0.0.1:$http_port/sms"
bb_start
smsbox_start "$work/smsbox-ceirgw.conf"
measure smsbox+ceirgw "$n900" "$smsbox_pid" "$apid" "$redis_pid"
stop "$smsbox_pid"
stop "$bb_pid"
stop "$apid"
stop "$redis_pid"

# --- the table --------------------------------------------------------------------------------
bench_machine "$load_before"
echo "load: fakesmsc -i 0 -m $n (after $warmup checked), MO \"CHECK $imei\" from 4 senders;" \
     "bearerbox $("$bearerbox" -v 2 --version 2>&1 | grep -o 'version .[0-9.]*' | head -1 | tr -d "\`'")" \
     "store ${store}; box or smsbox on core $box_cpu, its HTTP application on core $app_cpu," \
     "bearerbox + fakesmsc on core $load_cpu, redis-server on core $redis_cpu"
echo "time: from fakesmsc's start to the N-th reply in its log (polled every 20 ms);" \
     "once: exactly N replies in fakesmsc's log a second after the N-th"
echo
awk '
{ nm[NR] = $1; sent[NR] = $2; got[NR] = $3; once[NR] = $4; t[NR] = $5; rate[NR] = $3 / $5
  box[NR] = $6; app[NR] = $7; bb[NR] = $8; red[NR] = $9; cmds[NR] = $10
  own[NR] = $6 + ($7 == "-" ? 0 : $7)
  row[$1] = NR; rows = NR
  if ($4 != "yes") all_once = "no" }
function ratio(a, b) { return (b > 0 && a != "-") ? sprintf("%.2f", a / b) : "-" }
function line(what, m, op, goal) {
	printf "%-45s %6s   %s\n", what, m, op == "figure" ? "(figure)" : op " " goal
	printf "T\tbox path: %s\t%s\t%s\t%s\n", what, m, op, goal >targets
}
END {
	nu = row["null-box"]; ce = row["ceirgw"]; sn = row["smsbox+null"]; sc = row["smsbox+ceirgw"]
	printf "%-13s %6s %8s %4s %7s %6s %6s %7s %7s %7s %6s %6s %8s %5s\n", "system", "MOs",
	       "answered", "once", "seconds", "MO/s", "x null", "box us", "app us", "own us",
	       "x null", "bb us", "redis us", "cmds"
	for (i = 1; i <= rows; i++)
		printf "%-13s %6d %8d %4s %7.3f %6.0f %6s %7.1f %7s %7.1f %6s %6.1f %8s %5s\n",
		       nm[i], sent[i], got[i], once[i], t[i], rate[i], ratio(rate[i], rate[nu]),
		       box[i], app[i], own[i], ratio(own[i], own[nu]), bb[i], red[i], cmds[i]
	print ""
	print "(box us: the box, or smsbox; app us: the HTTP application smsbox calls; own us: both;"
	print " bb us: bearerbox; redis us: ceirgw'"'"'s redis-server. CPU microseconds per MO answered,"
	print " utime + stime of every thread from /proc/PID/stat; cmds: Redis commands per MO,"
	print " total_commands_processed of INFO)"
	printf "%-45s %6s   %s\n", "targets (issues 8 and 21)", "ratio", "target"
	line("ceirgw / null-box MOs answered/s", ratio(rate[ce], rate[nu]), ">=", "0.9")
	line("ceirgw / smsbox+null MOs answered/s", ratio(rate[ce], rate[sn]), ">=", "1.5")
	line("ceirgw / null-box box CPU per MO", ratio(box[ce], box[nu]), "<=", "1.5")
	line("ceirgw'"'"'s Redis CPU per MO, us", red[ce], "<=", "10")
	line("every MO answered once, all 4 systems", all_once == "" ? "yes" : "no", "=", "yes")
	line("ceirgw / smsbox+ceirgw MOs answered/s", ratio(rate[ce], rate[sc]), "figure", "")
	line("smsbox+null / null-box MOs answered/s", ratio(rate[sn], rate[nu]), "figure", "")
}' targets="$work/targets" "$work/results"
while IFS=$'\t' read -r _ what m op goal; do bench_target "$what" "$m" "$op" "$goal"; done <"$work/targets"
