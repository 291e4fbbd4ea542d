#!/bin/bash
# Open-sessions benchmark (issue 8: "1e5 USSD sessions left open: ceirgw RSS flat (no
# per-session memory in the process), Redis bytes per session measured"). SESSIONS USSD
# sessions are opened over POST /ussd in the aggregator form and left at the IMEI prompt: two
# requests pipelined on one connection, the dial (text "") and "1" (Check a phone), never the
# third. Every session has its own sessionId (ATUid_ and 32 hex digits, an aggregator-like
# length) and its own caller. The first WARM sessions are the warm-up (evhttp's connection
# buffers, the allocator's arenas); ceirgw's RSS after them is the base, and it is read again at
# 25, 50, 75 and 100 % of SESSIONS, with Redis's used memory and DBSIZE. One table: RSS and its
# growth, Redis bytes and keys per open session. Then the first two sessions are taken up to show
# that they are still where they were left. Figures, never assertions (only wrong replies fail).
#   contrib/bench/sessions.sh
# Environment: BUILD (./build), SESSIONS (100000), WARM (1000), CONNECTIONS (64),
# SERVER_CPU (0), LOAD_CPU (1), KEEP (set: keep the temporary directory and its logs).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bench=$top/contrib/bench
build=$(cd "${BUILD:-$top/build}" 2>/dev/null && pwd) ||
	{ echo "sessions.sh: no build directory ${BUILD:-$top/build} (contrib/setup.sh build, or BUILD=DIR)" >&2; exit 1; }
sessions=${SESSIONS:-100000}
warm=${WARM:-1000}
conns=${CONNECTIONS:-64}
server_cpu=${SERVER_CPU:-0}
load_cpu=${LOAD_CPU:-1}
ttl=3600	# session-ttl's largest value: no session expires during the run
imei=356938035643809	# Nokia N900, a TAC of the embedded TAC list

# shellcheck source=contrib/bench/lib.sh
. "$bench/lib.sh"
bench_init sessions
need wrk redis-server redis-cli taskset curl

if [ "$sessions" -lt $(( 4 * warm )) ] || [ "$sessions" -gt 99999999 ]; then
	echo "sessions.sh: SESSIONS must be between 4 x WARM ($(( 4 * warm ))) and 99999999" >&2
	exit 1
fi

# Session K's sessionId and caller, the same in the wrk script below.
sid() { printf 'ATUid_%032x' "$1"; }
caller() { printf '+2547%08d' "$1"; }

# ussd PORT K TEXT: one aggregator callback of session K; prints the reply.
ussd() {
	curl -sf -X POST "http://127.0.0.1:$1/ussd" --data-urlencode "sessionId=$(sid "$2")" \
		--data-urlencode "phoneNumber=$(caller "$2")" --data-urlencode "serviceCode=*384#" \
		--data-urlencode "text=$3" --data-urlencode "networkCode=63902"
}

# The driver. wrk has no request count: request() hands out COUNT sessions, then empty requests
# (the connection sends nothing and waits), so exactly COUNT sessions are opened (-t1: the count
# is the one thread's). At the last reply response() stops the thread, and wrk itself with a
# SIGINT: its main thread sleeps for all of -d otherwise, whatever its threads do.
cat >"$work/sessions.lua" <<'EOF'
-- wrk -t1 -cC -dCAP -s sessions.lua URL -- FIRST COUNT: opens sessions FIRST+1 .. FIRST+COUNT,
-- each left at the IMEI prompt; done() prints
--   SESSIONS <replies> <menus> <IMEI prompts> <other> <seconds> <first other reply>
local first, count
local handed, primed = 0, false
local head = { ["Content-Type"] = "application/x-www-form-urlencoded" }
local threads = {}
local ffi = require("ffi")
ffi.cdef[[ int kill(int pid, int sig); int getpid(void); ]]
replies, menu, ask, other, sample = 0, 0, 0, 0, ""	-- globals: done() reads them (thread:get)

function setup(thread)
	table.insert(threads, thread)
end

function init(args)
	first, count = tonumber(args[1]), tonumber(args[2])
end

local function post(k, text)
	return wrk.format("POST", "/ussd", head, string.format("sessionId=ATUid_%032x" ..
		"&serviceCode=%%2A384%%23&phoneNumber=%%2B2547%08d&text=%s&networkCode=63902",
		k, k, text))
end

function request()
	if not primed then	-- wrk calls it once before the run to count the pipelined requests
		primed = true
		return post(0, "") .. post(0, "1")
	end
	if handed >= count then
		return ""
	end
	handed = handed + 1
	return post(first + handed, "") .. post(first + handed, "1")
end

function response(status, headers, body)
	replies = replies + 1
	if status == 200 and body:find("^CON .*\n1 Check a phone") then
		menu = menu + 1
	elseif status == 200 and body:find("^CON .*IMEI") then
		ask = ask + 1
	else
		other = other + 1
		if sample == "" then sample = status .. " " .. body:gsub("\n", "\\n") end
	end
	if replies == 2 * count then
		wrk.thread:stop()
		ffi.C.kill(ffi.C.getpid(), 2)	-- SIGINT: wrk's main thread wakes up and ends the run
	end
end

function done(summary)
	local t = threads[1]
	io.write(string.format("SESSIONS %d %d %d %d %.3f %s\n", t:get("replies"), t:get("menu"),
		t:get("ask"), t:get("other"), summary.duration / 1e6, t:get("sample")))
end
EOF

# open FIRST COUNT: opens sessions FIRST+1 .. FIRST+COUNT and checks every reply; appends the
# seconds it took to $work/opened.
open_sessions() {
	local first=$1 count=$2 out line cap=$(( $2 / 1000 + 60 ))
	out=$(taskset -c "$load_cpu" wrk -t1 -c"$conns" -d"${cap}s" --timeout 10s \
		-s "$work/sessions.lua" "http://127.0.0.1:$port" -- "$first" "$count")
	line=$(echo "$out" | sed -n 's/^SESSIONS //p')
	read -r replies menus asks others secs sample <<<"${line:-0 0 0 0 0 none}"
	if [ "$replies" -ne $(( 2 * count )) ] || [ "$menus" -ne "$count" ] ||
	   [ "$asks" -ne "$count" ] || [ "$others" -ne 0 ]; then
		echo "sessions.sh: sessions $(( first + 1 ))..$(( first + count )): $replies replies" \
		     "for $(( 2 * count )), $menus menus, $asks IMEI prompts, $others other ($sample)" >&2
		echo "$out" >&2
		exit 1
	fi
	echo "$secs" >>"$work/opened"
}

# checkpoint SESSIONS_OPEN: appends "sessions rss redis_bytes keys seconds" to $work/results.
checkpoint() {
	local keys
	keys=$(redis-cli -p "$redis_port" dbsize)
	echo "$1 $(rss_kb "$spid") $(( $(redis_used "$redis_port") - used0 )) $(( keys - keys0 ))" \
	     "$(tail -1 "$work/opened")" >>"$work/results"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# --- build, start ------------------------------------------------------------------------------
make -C "$build" -s src/ceirgw >/dev/null
start_redis "$load_cpu"
# free_port's port may be taken before ceirgw binds it (by another's outgoing connection: it
# lies in the kernel's ephemeral range), so a ceirgw that exits at once is tried on another
for try in 1 2 3; do
	port=$(free_port)
	cat >"$work/ceirgw.conf" <<-EOF
	group = ceirgw
	http-listen = 127.0.0.1:$port
	admin-listen = 127.0.0.1:$(free_port)
	redis = redis://127.0.0.1:$redis_port
	log-level = warn
	session-ttl = $ttl
	rate-check-msisdn = 1000000/3600
	rate-check-imei = 1000000/3600
	EOF
	taskset -c "$server_cpu" "$build/src/ceirgw" -c "$work/ceirgw.conf" 2>"$work/ceirgw.err" &
	spid=$!
	pids+=("$spid")
	up "$spid" 20 curl -sf "http://127.0.0.1:$port/healthz" && break
	stop "$spid"
	[ "$try" -lt 3 ] || { echo "ceirgw did not start:" >&2; cat "$work/ceirgw.err" >&2; exit 1; }
done
# ceirgw's results reader makes its stream (ceir:results) a moment after the start: the base
# figures are taken once it is there
results_stream() { [ "$(redis-cli -p "$redis_port" exists ceir:results)" = 1 ]; }
wait_for 5 results_stream || true
used0=$(redis_used "$redis_port")
keys0=$(redis-cli -p "$redis_port" dbsize)
rss0=$(rss_kb "$spid")

# --- open the sessions -------------------------------------------------------------------------
: >"$work/results"
open_sessions 0 "$warm"
checkpoint "$warm"
opened=$warm
for q in 1 2 3 4; do
	target=$(( sessions * q / 4 ))
	open_sessions "$opened" $(( target - opened ))
	opened=$target
	checkpoint "$opened"
done

# --- the first sessions are still there, at the IMEI prompt ----------------------------------
key=$(redis-cli -p "$redis_port" --scan --pattern "s:{u:$(sid 1):*")
state=$(redis-cli -p "$redis_port" get "$key" | tr '\n' ' ')
key_ttl=$(redis-cli -p "$redis_port" ttl "$key")
key_bytes=$(redis-cli -p "$redis_port" memory usage "$key")
case $state in
*s=check_ask*) ;;
*) echo "sessions.sh: session 1 ($key) holds '$state', not the IMEI prompt" >&2; exit 1 ;;
esac
next=$(ussd "$port" 1 "1*$imei")
case $next in
"END Nokia N900: not reported"*) ;;
*) echo "sessions.sh: session 1's next step: '$next', not the check's result" >&2; exit 1 ;;
esac
# The aggregator repeats every input, so a journey replayed from its text alone gives the same
# screens as one taken up from its session. To show that the stored screen is what answers,
# session 2 is sent a text whose first input is not the one it was given: "2" (report) then
# the IMEI. Taken up at its IMEI prompt, it gives the check's result; a new session given the
# same text goes to the report menu.
stored=$(ussd "$port" 2 "2*$imei")
fresh=$(ussd "$port" $(( sessions + 1 )) "2*$imei")
case $stored in
"END Nokia N900: not reported"*) ;;
*) echo "sessions.sh: session 2 was not taken up at its IMEI prompt: '$stored'" >&2; exit 1 ;;
esac
case $fresh in
"END "*) echo "sessions.sh: a new session answers like session 2, so the probe proves nothing:" \
	      "'$fresh'" >&2; exit 1 ;;
esac
rss_end=$(rss_kb "$spid")
# the keys that are not USSD sessions (the checks' rate-limit counters, ceirgw's own)
others=$(redis-cli -p "$redis_port" --scan | grep -v '^s:{u:' | sort | paste -sd ' ' || true)

# --- the table ---------------------------------------------------------------------------------
bench_machine "$load_before"
echo "ceirgw on core $server_cpu (session-ttl $ttl s), wrk -t1 -c$conns and redis-server on core" \
     "$load_cpu; a session = dial + \"1\" pipelined, left at the IMEI prompt, own sessionId" \
     "(${#key} byte key) and caller"
echo "ceirgw RSS at start $rss0 KiB; growth and RSS B/session from the row after the warm-up" \
     "($warm sessions); Redis bytes and keys from before the first session"
echo
awk -v warm="$warm" '
BEGIN {
	printf "%9s %14s %14s %16s %12s %19s %8s %10s\n", "sessions", "ceirgw RSS KiB",
	       "RSS growth KiB", "RSS B/session", "redis bytes", "redis bytes/session", "keys",
	       "opened/s"
}
NR == 1 { base = $2; prev = 0 }
{
	grow = $2 - base
	printf("%9d %14d %14d %16s %12d %19.1f %8d %10.0f\n", $1, $2, grow,
	       NR == 1 ? "-" : sprintf("%.2f", grow * 1024 / ($1 - warm)), $3, $3 / $1, $4,
	       $5 > 0 ? ($1 - prev) / $5 : 0)
	prev = $1
}' "$work/results"
echo
echo "session 1 (opened first), after the last row: key $key, TTL ${key_ttl} s," \
     "MEMORY USAGE $key_bytes bytes, state '${state% }'"
echo "  its next step, 1*$imei: $next"
echo "session 2 sent 2*$imei: $stored"
echo "  a new session sent 2*$imei: ${fresh%%$'\n'*}"
echo "ceirgw RSS after the probe: $rss_end KiB; keys other than USSD sessions: ${others:-none}"
# RSS growth from the row after the warm-up to the last, and Redis bytes per open session.
read -r grow per <<<"$(awk 'NR == 1 { base = $2 } END { printf "%d %.0f\n", $2 - base, $3 / $1 }' "$work/results")"
bench_target "$sessions open sessions: ceirgw RSS growth, KiB" "$grow" "<=" 1024
bench_target "$sessions open sessions: Redis bytes per session" "$per" figure -
