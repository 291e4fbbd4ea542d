#!/bin/bash
# USSD over SMPP, the box path (issue 21): sessions of a dial and two answers from the USSD
# centre simulator (tests/smpp-sim/ussd-centre.js, on the npm package smpp) through Kannel's
# bearerbox, against two systems, one after the other in one run, and one table:
#   ceirgw       the daemon of BUILD as bearerbox's box (doc/kannel.md, as
#                tests/integration/kannel_ussd.sh runs it), with its own redis-server: the check
#                journey, dial *384#, answer 1 (check), answer the IMEI, which ends the session
#                with the check's result
#   smsbox+null  Kannel's smsbox, its sms-service's get-url calling the null HTTP server
#                (null-server.c --ussd): what an operator runs today with an HTTP application, at
#                its cheapest. get-url passes the MO's meta-data (meta=%D); the null server
#                answers "ok" with X-Kannel-Meta-Data, the session's its_session_info copied and
#                ussd_service_op 2 (go on), 17 (end) when the text is the IMEI: the same three
#                MOs, the same three screens' operations
# Each system gets a fresh simulator and bearerbox (the same kannel.conf: the SMPP SMSC and
# smpp-tlv groups of contrib/kannel/kannel-smpp-ussd.conf, bound to the simulator). The
# simulator's load (POST /load) keeps CONCURRENCY sessions in flight, each on a number of its
# own, until N have run, and times them from the first dial to the last screen. bearerbox,
# the simulator and redis-server run on core LOAD_CPU; the box, or smsbox in its place, on
# core BOX_CPU, and the null server there too (APP_CPU), as in run-box.sh.
# Every session answered once: completed (its two screens went on, op 2; its third ended it,
# op 17, with the expected text), and a settling second after the last one, exactly three
# submit_sm for each session to the load's numbers and none that no step waited for.
# Figures and ratios, never assertions: the issue sets no target for USSD.
#   contrib/bench/run-ussd.sh
# Environment: BUILD (./build), N (5000 sessions), CONCURRENCY (200 sessions in flight), WARMUP
# (100 sessions, a checked run before the measured one), TIMEOUT (300 s for the N sessions),
# STORE (none, or file: bearerbox's store file), BOX_CPU (0), APP_CPU (BOX_CPU: the null
# server), LOAD_CPU (1), REDIS_CPU (LOAD_CPU: ceirgw's redis-server), WINDOW (100: bearerbox's
# max-pending-submits to the simulator; kannel-smpp-ussd.conf's 10 holds both systems to about
# 200 sessions/s, doc/BENCHMARKS.md), KEEP (set: keep the temporary directory and its logs).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bench=$top/contrib/bench
build=$(cd "${BUILD:-$top/build}" 2>/dev/null && pwd) ||
	{ echo "run-ussd.sh: no build directory ${BUILD:-$top/build} (contrib/setup.sh build, or BUILD=DIR)" >&2; exit 1; }
n=${N:-5000}
concurrency=${CONCURRENCY:-200}
warmup=${WARMUP:-100}
timeout=${TIMEOUT:-300}
store=${STORE:-none}
box_cpu=${BOX_CPU:-0}
app_cpu=${APP_CPU:-$box_cpu}
load_cpu=${LOAD_CPU:-1}
redis_cpu=${REDIS_CPU:-$load_cpu}
window=${WINDOW:-100}
bearerbox=${BEARERBOX:-/usr/sbin/bearerbox}
smsbox=${SMSBOX:-/usr/sbin/smsbox}
sim_dir=$top/tests/smpp-sim
imei=356938035643809	# Nokia N900, a TAC of the embedded TAC list
msisdn=254700000000	# the load's numbers: this one and the next CONCURRENCY - 1

# shellcheck source=contrib/bench/lib.sh
. "$bench/lib.sh"
bench_init ussd
need "$bearerbox" "$smsbox" node redis-server redis-cli pkg-config taskset curl cc
[ -d "$sim_dir/node_modules/smpp" ] ||
	{ echo "run-ussd.sh: the simulator's npm packages are missing (cd tests/smpp-sim && npm ci)" >&2; exit 1; }

# --- build what is measured -------------------------------------------------------------------
make -C "$build" -s src/ceirgw >/dev/null
# shellcheck disable=SC2046	# pkg-config's flags are words
cc -O2 -Wall -o "$work/null-server" "$bench/null-server.c" $(pkg-config --cflags --libs libevent)

bb_admin=$(free_port)
bb_box=$(free_port)
sendsms_port=$(free_port)

# jfield FILE NAME: one member of the JSON object in FILE.
jfield() {
	node -e 'const o = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
		const v = o[process.argv[2]];
		process.stdout.write(v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v));' "$1" "$2"
}

# sim_start: a fresh simulator on LOAD_CPU and the kannel.conf that binds bearerbox to it;
# sets sim_pid and sim_ctl (its control port).
sim_start() {
	local sport
	: >"$work/sim.out"
	taskset -c "$load_cpu" node "$sim_dir/ussd-centre.js" --smpp-port 0 --control-port 0 \
		--system-id ceirgw --password secret --reply-timeout-ms 10000 \
		>"$work/sim.out" 2>>"$work/sim.log" &
	sim_pid=$!
	pids+=("$sim_pid")
	up "$sim_pid" 15 grep -q '^ready' "$work/sim.out" ||
		{ echo "the simulator did not start:" >&2; tail -n 5 "$work/sim.log" >&2; exit 1; }
	sport=$(sed -n 's/^ready smpp=\([0-9]*\) .*/\1/p' "$work/sim.out")
	sim_ctl=$(sed -n 's/^ready .*control=\([0-9]*\).*/\1/p' "$work/sim.out")
	{
		kannel_core_conf
		cat <<CONF
# contrib/kannel/kannel-smpp-ussd.conf's USSD centre, bound to the simulator (its
# max-pending-submits: WINDOW).
group = smsc
smsc = smpp
smsc-id = ussd
preferred-smsc-id = ussd
host = 127.0.0.1
port = $sport
transceiver-mode = true
smsc-username = ceirgw
smsc-password = secret
system-type = USSD
service-type = USSD
max-pending-submits = $window
max-sms-octets = 182

group = smpp-tlv
name = ussd_service_op
tag = 0x0501
type = octetstring
length = 1
smsc-id = ussd

group = smpp-tlv
name = its_session_info
tag = 0x1383
type = octetstring
length = 2
smsc-id = ussd
CONF
	} >"$work/kannel.conf"
}
sim_bound() { curl -s -m 2 "http://127.0.0.1:$sim_ctl/status" | grep -q '"bound":true'; }

# sim_load COUNT LAST OUT: COUNT sessions of dial *384#, answer 1, answer the IMEI, whose last
# screen must match the regular expression LAST; the simulator's figures in OUT (JSON).
sim_load() {
	curl -s -m "$timeout" -X POST "http://127.0.0.1:$sim_ctl/load" -o "$3" \
		-d "{\"sessions\":$1,\"concurrency\":$concurrency,\"msisdn\":\"$msisdn\",\"code\":\"*384#\",
		     \"answers\":[\"1\",\"$imei\"],\"last\":\"$2\"}" ||
		{ echo "the load of $1 sessions did not end in ${timeout}s" >&2; exit 1; }
}

# measure NAME LAST BOX_PID [APP_PID [REDIS_PID]]: a warm-up whose sessions must all complete,
# then the measured run; appends "NAME sessions completed once seconds box_us app_us bb_us
# sim_us redis_us redis_cmds" to $work/results ("-" for a process the system has not; CPU per
# session completed, redis_cmds: Redis commands per session).
measure() {
	local name=$1 last=$2 bpid=$3 apid=${4:-} rpid=${5:-} b0 b1 a0=0 a1=0 s0 s1 m0 m1 r0=0 r1=0
	local c0=0 c1=0 got once subs unmatched
	sim_load "$warmup" "$last" "$work/$name-warmup.json"
	if [ "$(jfield "$work/$name-warmup.json" completed)" != "$warmup" ]; then
		echo "$name: the warm-up of $warmup sessions did not all complete:" >&2
		cat "$work/$name-warmup.json" >&2
		exit 1
	fi
	b0=$(ticks "$bpid")
	[ -z "$apid" ] || a0=$(ticks "$apid")
	s0=$(ticks "$bb_pid")
	m0=$(ticks "$sim_pid")
	[ -z "$rpid" ] || { c0=$(redis_cmds); r0=$(ticks "$rpid"); }
	sim_load "$n" "$last" "$work/$name.json"
	b1=$(ticks "$bpid")
	[ -z "$apid" ] || a1=$(ticks "$apid")
	s1=$(ticks "$bb_pid")
	m1=$(ticks "$sim_pid")
	[ -z "$rpid" ] || { r1=$(ticks "$rpid"); c1=$(redis_cmds); }
	# Which commands, for the warm-up and the measured run together (KEEP keeps it).
	[ -z "$rpid" ] || redis-cli -p "$redis_port" info commandstats | tr -d '\r' \
		>"$work/$name-commandstats.txt"
	got=$(jfield "$work/$name.json" completed)
	[ "$got" -eq "$n" ] || { echo "$name: $got sessions of $n completed:" >&2; cat "$work/$name.json" >&2; }
	sleep 1	# late or repeated replies come in meanwhile
	curl -s -m 5 "http://127.0.0.1:$sim_ctl/load" -o "$work/$name-settled.json"
	subs=$(jfield "$work/$name-settled.json" submits)
	unmatched=$(jfield "$work/$name-settled.json" unmatched)
	once=yes
	if [ "$got" -ne "$n" ] || [ "$subs" -ne $(( 3 * n )) ] || [ "$unmatched" -ne 0 ]; then
		once=no
		echo "$name: $subs replies ($unmatched unmatched) to $n sessions after a settling second" >&2
	fi
	awk -v nm="$name" -v sent="$n" -v got="$got" -v once="$once" \
	    -v t="$(jfield "$work/$name.json" seconds)" \
	    -v b=$(( b1 - b0 )) -v a=$(( a1 - a0 )) -v s=$(( s1 - s0 )) -v m=$(( m1 - m0 )) \
	    -v r=$(( r1 - r0 )) -v c=$(( c1 - c0 )) -v hz="$hz" -v ap="$apid" -v rp="$rpid" \
	    'function us(x) { return x * 1e6 / hz / d }
	     BEGIN { d = got > 0 ? got : 1
	             printf "%s %d %d %s %.3f %.1f %s %.1f %.1f %s %s\n", nm, sent, got, once, t,
	                    us(b), ap == "" ? "-" : sprintf("%.1f", us(a)), us(s), us(m),
	                    rp == "" ? "-" : sprintf("%.1f", us(r)),
	                    rp == "" ? "-" : sprintf("%.1f", c / d) }' >>"$work/results"
}

: >"$work/results"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# ceirgw: the box on BOX_CPU
start_redis "$redis_cpu"
sim_start
bb_start
wait_for 15 sim_bound || { echo "bearerbox did not bind to the simulator" >&2; exit 1; }
ceirgw_conf "$work/ceirgw.conf" "bearerbox = 127.0.0.1:$bb_box"
taskset -c "$box_cpu" "$build/src/ceirgw" -c "$work/ceirgw.conf" 2>"$work/ceirgw.err" &
bpid=$!
pids+=("$bpid")
wait_for 20 sh -c "curl -s http://127.0.0.1:$http_port/healthz | grep -q '\"bearerbox\":\"connected\"'" ||
	{ echo "ceirgw did not connect:" >&2; cat "$work/ceirgw.err" >&2; exit 1; }
wait_for 10 bb_boxes || { echo "bearerbox does not list ceirgw" >&2; exit 1; }
measure ceirgw 'Nokia N900' "$bpid" "" "$redis_pid"
stop "$bpid"
stop "$bb_pid"
stop "$sim_pid"
stop "$redis_pid"

# smsbox+null: smsbox on BOX_CPU, the null HTTP server on APP_CPU
null_port=$(free_port)
taskset -c "$app_cpu" "$work/null-server" --ussd "$imei" "$null_port" ok 2>"$work/null-server.err" &
apid=$!
pids+=("$apid")
wait_for 10 curl -sf -m 1 "http://127.0.0.1:$null_port/ussd" ||
	{ echo "null-server did not start:" >&2; cat "$work/null-server.err" >&2; exit 1; }
sim_start
smsbox_conf "$work/smsbox-null.conf" "http://127.0.0.1:$null_port/ussd" "meta=%D&"
bb_start
wait_for 15 sim_bound || { echo "bearerbox did not bind to the simulator" >&2; exit 1; }
smsbox_start "$work/smsbox-null.conf"
measure smsbox+null '^ok$' "$smsbox_pid" "$apid"
stop "$smsbox_pid"
stop "$bb_pid"
stop "$sim_pid"
stop "$apid"

# --- the table --------------------------------------------------------------------------------
bench_machine "$load_before"
echo "load: the simulator's POST /load, $n sessions (after $warmup checked), $concurrency in flight," \
     "each dial *384#, answer 1, answer $imei; bearerbox" \
     "$("$bearerbox" -v 2 --version 2>&1 | grep -o 'version .[0-9.]*' | head -1 | tr -d "\`'")" \
     "store ${store}, max-pending-submits $window; box or smsbox on core $box_cpu, the null server on core $app_cpu," \
     "bearerbox + simulator on core $load_cpu, redis-server on core $redis_cpu"
echo "time: the simulator's, from the first dial to the last session's end screen;" \
     "once: every session completed, 3 replies each a second after, none unmatched"
echo
awk '
{ nm[NR] = $1; sent[NR] = $2; got[NR] = $3; once[NR] = $4; t[NR] = $5
  rate[NR] = $5 > 0 ? $3 / $5 : 0
  box[NR] = $6; app[NR] = $7; bb[NR] = $8; sim[NR] = $9; red[NR] = $10; cmds[NR] = $11
  own[NR] = $6 + ($7 == "-" ? 0 : $7)
  row[$1] = NR; rows = NR
  if ($4 != "yes") all_once = "no" }
function ratio(a, b) { return (b > 0 && a != "-") ? sprintf("%.2f", a / b) : "-" }
function line(what, m, op, goal) {
	printf "%-50s %6s   %s\n", what, m, op == "figure" ? "(figure)" : op " " goal
	printf "T\tUSSD over SMPP: %s\t%s\t%s\t%s\n", what, m, op, goal >targets
}
END {
	ce = row["ceirgw"]; sn = row["smsbox+null"]
	printf "%-12s %8s %9s %4s %7s %6s %7s %7s %7s %7s %7s %8s %5s\n", "system", "sessions",
	       "completed", "once", "seconds", "sess/s", "box us", "app us", "own us", "bb us",
	       "sim us", "redis us", "cmds"
	for (i = 1; i <= rows; i++)
		printf "%-12s %8d %9d %4s %7.3f %6.0f %7.1f %7s %7.1f %7.1f %7.1f %8s %5s\n",
		       nm[i], sent[i], got[i], once[i], t[i], rate[i], box[i], app[i], own[i], bb[i],
		       sim[i], red[i], cmds[i]
	print ""
	print "(box us: the box, or smsbox; app us: the null server smsbox calls; own us: both;"
	print " bb us: bearerbox; sim us: the simulator; redis us: ceirgw'"'"'s redis-server. CPU"
	print " microseconds per session completed (3 MOs and 3 replies), utime + stime of every"
	print " thread from /proc/PID/stat; cmds: Redis commands per session, total_commands_processed)"
	printf "%-50s %6s\n", "ratios (no target for USSD in issue 21)", "ratio"
	line("ceirgw / smsbox+null sessions/s", ratio(rate[ce], rate[sn]), "figure", "")
	line("ceirgw / smsbox+null own CPU per session", ratio(own[ce], own[sn]), "figure", "")
	line("every session answered once, both systems", all_once == "" ? "yes" : "no", "=", "yes")
}' targets="$work/targets" "$work/results"
while IFS=$'\t' read -r _ what m op goal; do bench_target "$what" "$m" "$op" "$goal"; done <"$work/targets"
