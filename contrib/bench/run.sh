#!/bin/bash
# HTTP benchmark: the USSD check journey (three POST /ussd pipelined on one connection, in the
# aggregator form) against three servers, one after the other in one run, and one table:
#   null       a libevent evhttp server answering "END ok" (null-server.c): the ceiling
#   node-peer  the same journey with ussd-menu-builder + redis on node's http (node-peer/)
#   ceirgw     the daemon of BUILD, with its own redis-server
#   ceirgw@REV with BASE_REV: the daemon of that git revision, built once, measured the same way
# The server under test runs on core SERVER_CPU, wrk and redis-server on core LOAD_CPU. Figures
# and ratios, never assertions (the targets of issue 8 are printed next to the ratios).
#   contrib/bench/run.sh          (or: make bench-http)
# Environment: BUILD (./build), DURATION (10 s), CONNECTIONS (64), WARMUP (2 s, a checked run
# whose replies are all sorted by screen), SERVER_CPU (0), LOAD_CPU (1), IMEIS (1000),
# BASE_REV (unset: no baseline; a revision of this repository, e.g. HEAD~3 or main, whose
# ceirgw is measured next to this build's, with the ratios of the two), REPEATS (1: every
# system that many times, in rounds, the two ceirgw in turns first; each run and the means).
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
repeats=${REPEATS:-1}
base_rev=${BASE_REV:-}
tacdb=$top/data/tacdb.csv
case $repeats in
''|*[!0-9]*|0) echo "run.sh: REPEATS=$repeats is not a count" >&2; exit 1 ;;
esac

# shellcheck source=contrib/bench/lib.sh
. "$bench/lib.sh"
bench_init http
need wrk redis-server redis-cli node npm taskset pkg-config curl cc
[ -z "$base_rev" ] || need git autoreconf make

# ussd PORT SESSION TEXT: one aggregator callback; prints the reply.
ussd() {
	curl -sf -X POST "http://127.0.0.1:$1/ussd" --data-urlencode "sessionId=$2" \
		--data-urlencode "phoneNumber=+254700000001" --data-urlencode "serviceCode=*384#" \
		--data-urlencode "text=$3" --data-urlencode "networkCode=63902"
}

# --- build what is measured -------------------------------------------------------------------
# base_build REV: the ceirgw of REV, configured as contrib/setup.sh does and built in a
# temporary git worktree; only src/ceirgw, only once: the binary stays in
# BUILD/bench-base/<the commit's hash>/ for the next run. Sets base_name and base_bin.
# ceirgw finds its flows, templates and TAC table in its pkgdatadir, else in the source tree
# it was built from; the worktree goes, so REV's own are copied to the pkgdatadir of the
# prefix it is configured with: the one config serves both builds, each with its own data.
base_tree=
base_build() {
	local hash short dir
	hash=$(git -C "$top" rev-parse --verify --quiet "$1^{commit}") ||
		{ echo "run.sh: BASE_REV=$1 is not a revision of $top" >&2; exit 1; }
	short=$(git -C "$top" rev-parse --short "$hash")
	base_name=ceirgw@$short
	dir=$build/bench-base/$hash
	base_bin=$dir/ceirgw
	[ -x "$base_bin" ] && return
	echo "run.sh: building the ceirgw of $short (BASE_REV=$1) once, into $dir" >&2
	base_tree=$work/base-src
	git -C "$top" worktree add --detach --quiet "$base_tree" "$hash"
	if ! (cd "$base_tree" && autoreconf -fi && mkdir build && cd build &&
	      ../configure --enable-werror --prefix="$dir" && make src/ceirgw) \
	     >"$work/base-build.log" 2>&1; then
		echo "run.sh: the build of $short failed; the end of its log:" >&2
		tail -20 "$work/base-build.log" >&2
		exit 1
	fi
	mkdir -p "$dir/share/ceirgw"
	cp -R "$base_tree/flows" "$base_tree/templates" "$base_tree/data/tacdb.csv" "$dir/share/ceirgw/"
	cp "$base_tree/build/src/ceirgw" "$base_bin.tmp"
	mv "$base_bin.tmp" "$base_bin"	# last, whole: a run cut short leaves no binary
	git -C "$top" worktree remove --force "$base_tree"
	base_tree=
}
# The temporary worktree goes even when the build fails or is interrupted.
trap '[ -z "$base_tree" ] || git -C "$top" worktree remove --force "$base_tree" 2>/dev/null
      bench_cleanup' EXIT

make -C "$build" -s src/ceirgw >/dev/null
[ -z "$base_rev" ] || base_build "$base_rev"
# shellcheck disable=SC2046	# pkg-config's flags are words
cc -O2 -Wall -o "$work/null-server" "$bench/null-server.c" $(pkg-config --cflags --libs libevent)
if [ ! -f "$bench/node-peer/node_modules/.package-lock.json" ] ||
   [ "$bench/node-peer/package-lock.json" -nt "$bench/node-peer/node_modules/.package-lock.json" ]; then
	(cd "$bench/node-peer" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

# --- one system -------------------------------------------------------------------------------
# measure NAME PORT SERVER_PID REDIS_PID: a checked warm-up, then the measured run; appends
# "NAME journeys seconds p50 p99 errors non2xx server_us redis_us round" to $work/results.
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
	    -v rd="$round" \
	    'BEGIN { printf "%s %d %.3f %d %d %d %d %.1f %s %d\n", n, j, t, p50, p99, e, x,
	             s * 1e6 / hz / j, rp == "-" ? "-" : sprintf("%.1f", r * 1e6 / hz / j), rd }' \
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

# run_null, run_node_peer, run_ceirgw NAME BINARY: starts one system (and its redis-server),
# checks it, measures it, stops it.
run_null() {
	local port spid
	port=$(free_port)
	taskset -c "$server_cpu" "$work/null-server" "$port" 2>"$work/null.err" &
	spid=$!
	pids+=("$spid")
	wait_for 10 ussd "$port" probe "" || { echo "null-server did not start" >&2; exit 1; }
	measure null "$port" "$spid" -
	stop "$spid"
}

run_node_peer() {
	local port spid
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
}

run_ceirgw() {
	local name=$1 bin=$2 port spid
	start_redis "$load_cpu"
	port=$(free_port)
	cat >"$work/$name.conf" <<EOF
group = ceirgw
http-listen = 127.0.0.1:$port
admin-listen = 127.0.0.1:$(free_port)
redis = redis://127.0.0.1:$redis_port
log-level = warn
rate-check-msisdn = 1000000/3600
rate-check-imei = 1000000/3600
EOF
	taskset -c "$server_cpu" "$bin" -c "$work/$name.conf" 2>"$work/$name.err" &
	spid=$!
	pids+=("$spid")
	wait_for 20 curl -sf "http://127.0.0.1:$port/healthz" ||
		{ echo "$name did not start:" >&2; cat "$work/$name.err" >&2; exit 1; }
	expect "$name" "$port"
	measure "$name" "$port" "$spid" "$redis_pid"
	stop "$spid"
	stop "$redis_pid"
}

# Rounds: every system once a round; the baseline and this build take turns going first, so
# that neither always meets the machine in the same state.
for (( round = 1; round <= repeats; round++ )); do
	run_null
	run_node_peer
	if [ -z "$base_rev" ]; then
		run_ceirgw ceirgw "$build/src/ceirgw"
	elif (( round % 2 )); then
		run_ceirgw ceirgw "$build/src/ceirgw"
		run_ceirgw "$base_name" "$base_bin"
	else
		run_ceirgw "$base_name" "$base_bin"
		run_ceirgw ceirgw "$build/src/ceirgw"
	fi
done

# --- the table --------------------------------------------------------------------------------
bench_machine "$load_before"
echo "load: wrk -t1 -c$conns -d${duration}s, a journey = 3 POST /ussd pipelined (dial, 1, 1*IMEI)," \
     "fresh session and caller each; server on core $server_cpu, wrk + redis-server on core $load_cpu"
echo "latency: whole journey, first request written to third response (wrk's CO correction undone)"
if [ -n "$base_rev" ]; then
	echo "baseline: $base_name, BASE_REV=$base_rev: $(git -C "$top" log -1 --format='%cs %s' "$base_rev")"
fi
[ "$repeats" -eq 1 ] || echo "rounds: $repeats, a row per system and round (x null, x node: of the same round), then the means"
echo
# Rows: name j/s p50 p99 errors server_us redis_us, as given to row(). With REPEATS > 1 each
# run's row is "NAME #ROUND", then a "NAME mean" row per system, and the ratios below are of
# the means (of the rounds' figures).
awk '
function ratio(a, b) { return (b > 0 && a != "-") ? sprintf("%.2f", a / b) : "-" }
function row(label, j, p50, p99, cpu, red, err, nu, no,    tot) {
	tot = cpu + (red == "-" ? 0 : red)
	printf "%-*s %10.0f %7s %7s %8.2f %8.2f %8s %10.1f %7s %10s %10.1f %8s %6d\n", width,
	       label, j, ratio(j, J[nu]), ratio(j, J[no]), p50, p99, ratio(p99, P99[nu]), cpu,
	       ratio(cpu, CPU[nu]), red, tot, ratio(tot, T[no]), err
}
{ i = NR; n[i] = $1; rd[i] = $10; j[i] = $2 / $3; p50[i] = $4 / 1000; p99[i] = $5 / 1000
  err[i] = $6 + $7; cpu[i] = $8; red[i] = $9; rows = NR
  if (!($1 in cnt)) names[++nn] = $1
  cnt[$1]++; sj[$1] += j[i]; sp50[$1] += p50[i]; sp99[$1] += p99[i]; scpu[$1] += cpu[i]
  sred[$1] += red[i]; serr[$1] += err[i]
  # the figures of the same round, for the x null and x node columns of each run
  J[$1, rd[i]] = j[i]; P99[$1, rd[i]] = p99[i]; CPU[$1, rd[i]] = cpu[i]
  T[$1, rd[i]] = cpu[i] + (red[i] == "-" ? 0 : red[i])
  w = length($1) + (reps > 1 ? 5 : 0)
  if (w > width) width = w }
END {
	if (width < 10) width = 10
	for (k = 1; k <= nn; k++) {
		m = names[k]; c = cnt[m]
		J[m] = sj[m] / c; P50[m] = sp50[m] / c; P99[m] = sp99[m] / c; CPU[m] = scpu[m] / c
		RED[m] = red_of(m) == "-" ? "-" : sprintf("%.1f", sred[m] / c)
		T[m] = CPU[m] + (RED[m] == "-" ? 0 : RED[m]); ERR[m] = serr[m]
	}
	printf "%-*s %10s %7s %7s %8s %8s %8s %10s %7s %10s %10s %8s %6s\n", width, "system",
	       "journeys/s", "x null", "x node", "p50 ms", "p99 ms", "p99/null", "server us",
	       "x null", "redis us", "srv+redis", "x node", "errors"
	if (reps == 1) {
		for (k = 1; k <= nn; k++) {
			m = names[k]
			row(m, J[m], P50[m], P99[m], CPU[m], RED[m], ERR[m], "null", "node-peer")
		}
	} else {
		for (i = 1; i <= rows; i++)
			row(n[i] " #" rd[i], j[i], p50[i], p99[i], cpu[i], red[i], err[i],
			    "null" SUBSEP rd[i], "node-peer" SUBSEP rd[i])
		for (k = 1; k <= nn; k++) {
			m = names[k]
			row(m " mean", J[m], P50[m], P99[m], CPU[m], RED[m], ERR[m], "null", "node-peer")
		}
	}
	nu = "null"; no = "node-peer"; ce = "ceirgw"
	print ""
	print "(server us, redis us: CPU microseconds per journey, utime + stime from /proc/PID/stat)"
	printf "targets (issue 8)                         ratio   target\n"
	printf "ceirgw / node-peer journeys/s             %5s   >= 3\n", ratio(J[ce], J[no])
	printf "ceirgw / null server CPU per journey      %5s   <= 2\n", ratio(CPU[ce], CPU[nu])
	printf "ceirgw+redis / node-peer+redis CPU        %5s   <= 0.33\n", ratio(T[ce], T[no])
	printf "ceirgw / null p99                         %5s   <= 2\n", ratio(P99[ce], P99[nu])
	printf "T\tHTTP check: ceirgw / node-peer journeys/s\t%s\t>=\t3\n", ratio(J[ce], J[no]) >targets
	printf "T\tHTTP check: ceirgw / null CPU per journey\t%s\t<=\t2\n", ratio(CPU[ce], CPU[nu]) >targets
	printf "T\tHTTP check: ceirgw+Redis / node-peer+Redis CPU\t%s\t<=\t0.33\n", ratio(T[ce], T[no]) >targets
	printf "T\tHTTP check: ceirgw / null p99\t%s\t<=\t2\n", ratio(P99[ce], P99[nu]) >targets
	if (base != "") {
		# Figures, no target: below 1 this build costs less than the baseline.
		printf "\nthis build against the baseline           ratio   (figures, no target)\n"
		printf "%-41s %5s   %.1f / %.1f us\n", "ceirgw / " base " CPU per journey",
		       ratio(CPU[ce], CPU[base]), CPU[ce], CPU[base]
		printf "%-41s %5s   %.0f / %.0f\n", "ceirgw / " base " journeys/s",
		       ratio(J[ce], J[base]), J[ce], J[base]
		printf "%-41s %5s   %.1f / %.1f us\n", "ceirgw+redis / " base "+redis CPU",
		       ratio(T[ce], T[base]), T[ce], T[base]
		printf "T\tHTTP check: ceirgw / %s CPU per journey\t%s\tfigure\t\n", base,
		       ratio(CPU[ce], CPU[base]) >targets
		printf "T\tHTTP check: ceirgw / %s journeys/s\t%s\tfigure\t\n", base,
		       ratio(J[ce], J[base]) >targets
	}
}
function red_of(m,    i) { for (i = 1; i <= rows; i++) if (n[i] == m) return red[i]; return "-" }
' targets="$work/targets" reps="$repeats" base="${base_name:-}" "$work/results"
while IFS=$'\t' read -r _ what m op goal; do bench_target "$what" "$m" "$op" "$goal"; done <"$work/targets"
