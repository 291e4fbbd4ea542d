#!/bin/bash
# HTTP benchmark: the USSD report journey against imported operator data (issue 8: "Report
# journey over HTTP against 1e6 imported pairings: journeys/s and CPU per journey, with every
# accepted report on the CEIR stream exactly once"). Figures, never assertions of timing.
#   contrib/bench/report.sh
# Environment: BUILD (./build), ROWS (1000000 pairings rows), DURATION (10 s of journeys),
# CONNECTIONS (64), SERVER_CPU (0), LOAD_CPU (1), SEED (1).
#
# tests/tools/gendump writes a KE pairings dump of ROWS rows and the KYC rows of the same
# subscribers (fixed seed, 1 % cloned IMEIs, 1 % garbage, seen dates up to today), ceirgwctl
# imports both into a private redis-server (core LOAD_CPU), and ceirgw (core SERVER_CPU, an
# external Redis, rate limits raised, log-level warn) serves the journeys wrk sends (core
# LOAD_CPU, with report-journey.lua): each an owner of the dump, once, who dials *384#, picks
# report, picks the phone from the list of their phones, gives the last four digits of their
# national ID, says stolen, no police report, and confirms. The owners are the numbers with a
# KYC row and a phone in the list that only they used (not cloned, not resold), read from the
# dump here; the phone's place in the list is worked out as ceirgw lists them. One journey is
# walked screen by screen with curl first. The receipts (reference and PIN) go through the
# outbox to sendsms as in production, here the null server of run.sh (core LOAD_CPU); those
# still waiting when wrk ends are waited for, and their CPU is printed apart.
# Takes about 40 s with ROWS=1000000 (gendump, import, reading the dump, DURATION, checks).
#
# Correctness check (not timing): every report accepted (its receipt screen read) must be on
# the CEIR stream exactly once. The script prints "accepted N, on the CEIR stream M,
# duplicates D, missing K" and exits 1 when M != N, D > 0 or K > 0, or when the stream holds a
# phone no journey reported.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bench=$top/contrib/bench
build=$(cd "${BUILD:-$top/build}" 2>/dev/null && pwd) ||
	{ echo "report.sh: no build directory ${BUILD:-$top/build} (contrib/setup.sh build, or BUILD=DIR)" >&2; exit 1; }
rows=${ROWS:-1000000}
duration=${DURATION:-10}
conns=${CONNECTIONS:-64}
server_cpu=${SERVER_CPU:-0}
load_cpu=${LOAD_CPU:-1}
seed=${SEED:-1}
window=90		# ownership-window-days: ceirgw's default
stream=ceir:requests	# ceir-requests-stream: ceirgw's default
outbox=ceirgw:outbox-http	# the receipts on their way to sendsms (doc/kannel.md)

# shellcheck source=contrib/bench/lib.sh
. "$bench/lib.sh"
bench_init report
need wrk redis-server redis-cli taskset curl python3 pkg-config cc

# --- build what is measured -------------------------------------------------------------------
make -C "$build" -s src/ceirgw src/ceirgwctl tests/tools/gendump >/dev/null
# The receipts go to Kannel's sendsms as in production (outbox, then HTTP): here to the null
# server of run.sh, which takes every one.
# shellcheck disable=SC2046	# pkg-config's flags are words
cc -O2 -Wall -o "$work/null-server" "$bench/null-server.c" $(pkg-config --cflags --libs libevent)
ctl=$build/src/ceirgwctl
load_before=$(cut -d' ' -f1-3 /proc/loadavg)	# others' work on the machine shows in the figures

# --- the data ---------------------------------------------------------------------------------
# About 100 entries a bucket, as doc/import.md says: 4 digits for 1e6, 5 for 1e7.
digits=$(( ${#rows} - 3 ))
[ "$digits" -lt 3 ] && digits=3
[ "$digits" -gt 8 ] && digits=8
last_day=$(date -u +%F)	# the dump is current: its phones are within the ownership window
for kind in pairings kyc; do
	"$build/tests/tools/gendump" "$kind" --rows "$rows" --region KE --seed "$seed" --clones 1 \
		--garbage 1 --until "$last_day" --out "$work/$kind.csv" --stats "$work/$kind.json" 2>/dev/null
done
pairings=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pairings"])' "$work/pairings.json")
head -c 32 /dev/urandom | base64 >"$work/kyc.key"
chmod 600 "$work/kyc.key"

start_redis "$load_cpu" --hash-max-listpack-entries 512 --hash-max-listpack-value 128
sms_port=$(free_port)
taskset -c "$load_cpu" "$work/null-server" "$sms_port" 2>"$work/null.err" &
pids+=("$!")
port=$(free_port)
# Rate limits raised: each owner reports once, but nothing here is to be refused for volume.
cat >"$work/ceirgw.conf" <<EOF
group = ceirgw
http-listen = 127.0.0.1:$port
admin-listen = 127.0.0.1:$(free_port)
redis = redis://127.0.0.1:$redis_port
log-level = warn
sendsms-url = http://127.0.0.1:$sms_port/cgi-bin/sendsms
sendsms-username = bench
sendsms-password = bench
tac-file = $top/data/tacdb.csv
kyc-key-file = $work/kyc.key
pairing-bucket-digits = $digits
ownership-window-days = $window
rate-check-msisdn = 1000000/3600
rate-check-imei = 1000000/3600
rate-report-msisdn = 1000000/86400
rate-report-imei = 1000000/86400
EOF
imp_p=$(taskset -c "$server_cpu" "$ctl" import pairings -c "$work/ceirgw.conf" \
	--rejects "$work/rejects-pairings.csv" "$work/pairings.csv" | sed -n 1p) ||
	[ $? -eq 3 ]	# stored, the garbage rows rejected
imp_k=$(taskset -c "$server_cpu" "$ctl" import kyc -c "$work/ceirgw.conf" \
	--rejects "$work/rejects-kyc.csv" "$work/kyc.csv" | sed -n 1p) || [ $? -eq 3 ]

# The owners, one a line: "MSISDN K DDDD IMEI": the caller (E.164 digits), the place of the
# phone in the list ceirgw shows, the last four digits of the national ID on record, the
# phone's IMEI. The rows are read as the import reads them (a row with a bad IMEI, number,
# date or column count is left out; an IMEISV or a dashed IMEI is its IMEI; numbers in any
# of the dump's forms); whatever a bad row names is never chosen. ceirgw's list of a number's
# phones: the last 8 IMEIs the number was first seen with in the dump (the import keeps that
# order), newest first, those whose pairing was last seen within the window, at most 5.
eligible=$(taskset -c "$server_cpu" python3 "$bench/owners.py" "$work/pairings.csv" "$work/kyc.csv" \
	"$work/owners.txt" "$window")
[ "$eligible" -ge 2 ] || { echo "report.sh: no owners to report with in the dump" >&2; exit 1; }
rm -f "$work/pairings.csv" "$work/kyc.csv"

# --- ceirgw -----------------------------------------------------------------------------------
taskset -c "$server_cpu" "$build/src/ceirgw" -c "$work/ceirgw.conf" 2>"$work/ceirgw.err" &
spid=$!
pids+=("$spid")
wait_for 20 curl -sf "http://127.0.0.1:$port/healthz" ||
	{ echo "ceirgw did not start:" >&2; cat "$work/ceirgw.err" >&2; exit 1; }

# ussd SESSION CALLER TEXT: one aggregator callback; prints the reply.
ussd() {
	curl -sf -X POST "http://127.0.0.1:$port/ussd" --data-urlencode "sessionId=$1" \
		--data-urlencode "phoneNumber=+$2" --data-urlencode "serviceCode=*384#" \
		--data-urlencode "text=$3" --data-urlencode "networkCode=63902"
}
# The first owner's journey by curl, screen by screen; its reference joins the accepted ones.
read -r p_msisdn p_k p_digits p_imei <"$work/owners.txt"
tail -n +2 "$work/owners.txt" >"$work/owners-wrk.txt"
probe() {
	local text=$1 want=$2 r
	r=$(ussd probe "$p_msisdn" "$text") || { echo "probe: no answer to '$text'" >&2; exit 1; }
	# shellcheck disable=SC2254	# want is a pattern
	case $r in
	$want) printf '%s' "$r" ;;
	*) echo "probe: unexpected reply to '$text' (wanted $want): $r" >&2; exit 1 ;;
	esac
}
tail4=${p_imei:11}
t="2*$p_k*$p_digits"
probe "" "CON *1 Check a phone*" >/dev/null
probe 2 "CON Which phone?*" | grep -q "^$p_k .* \\.\\.\\.$tail4\$" ||
	{ echo "probe: phone $p_k of the list is not ...$tail4" >&2; exit 1; }
probe "2*$p_k" "CON Enter the last 4 digits*" >/dev/null
probe "$t" "CON What happened?*" >/dev/null
probe "$t*1" "CON Enter the police report number*" >/dev/null
probe "$t*1*1" "CON Report * ...$tail4 as stolen?*" >/dev/null
r=$(probe "$t*1*1*1" "END Report received. Reference *")
printf '%s\n' "$r" | grep -o '[0-9]\{10\}' | head -n1 >"$work/refs-probe.txt"

# --- the run ----------------------------------------------------------------------------------
s0=$(ticks "$spid")
r0=$(ticks "$redis_pid")
out=$(BENCH_CONNECTIONS=$conns taskset -c "$load_cpu" wrk -t1 -c"$conns" -d"$(( duration + 20 ))s" \
	-s "$bench/report-journey.lua" "http://127.0.0.1:$port" -- \
	"$work/owners-wrk.txt" "$work/refs-wrk.txt" "$duration")
s1=$(ticks "$spid")
r1=$(ticks "$redis_pid")
# The receipts: each accepted report put its SMS in the outbox; ceirgw hands them to sendsms
# one at a time, and may still be at it. Waited for (up to 2 minutes), with the CPU it takes.
backlog=$(redis-cli -p "$redis_port" XLEN "$outbox")
# shellcheck disable=SC2317	# called by wait_for
outbox_empty() { [ "$(redis-cli -p "$redis_port" XLEN "$outbox")" = 0 ]; }
d0=$(date +%s.%N)
wait_for 120 outbox_empty || true
d1=$(date +%s.%N)
left=$(redis-cli -p "$redis_port" XLEN "$outbox")
s2=$(ticks "$spid")
r2=$(ticks "$redis_pid")
line=$(echo "$out" | sed -n 's/^JOURNEYS //p')
screens=$(echo "$out" | sed -n 's/^SCREENS //p')
[ -n "$line" ] || { echo "report.sh: no figures from wrk:" >&2; echo "$out" >&2; exit 1; }
read -r started completed secs p50 p99 samples errs non2xx drained ranout <<<"$line"
[ "$completed" -gt 0 ] || { echo "report.sh: no journey completed:" >&2; echo "$out" >&2; exit 1; }
read -r c_menu c_pick c_id c_reason c_police c_confirm c_done c_other sample <<<"$screens"
[ "$drained" = 1 ] ||
	echo "report.sh: wrk stopped with journeys under way (socket errors $errs): some reports may be on the stream unread" >&2
[ "$samples" = "$completed" ] ||
	echo "report.sh: $samples journey latencies for $completed journeys: the percentiles are off" >&2
[ "$ranout" = 0 ] || echo "report.sh: the owners ran out before $duration s: ROWS is too small for this rate" >&2

# --- every accepted report on the CEIR stream exactly once ------------------------------------
# One line per stream entry: type ref imei request_id.
redis-cli -p "$redis_port" --raw EVAL "
local out = {}
for _, e in ipairs(redis.call('XRANGE', KEYS[1], '-', '+')) do
	local f, v = e[2], {}
	for i = 1, #f, 2 do v[f[i]] = f[i + 1] end
	out[#out + 1] = (v.type or '-') .. ' ' .. (v.ref or '-') .. ' ' .. (v.imei or '-') .. ' ' ..
		(v.request_id or '-')
end
return out" 1 "$stream" >"$work/stream.txt"
cat "$work/refs-probe.txt" "$work/refs-wrk.txt" >"$work/refs.txt"
verdict=$(python3 - "$work/refs.txt" "$work/stream.txt" "$work/owners.txt" <<'EOF'
import sys
accepted = [l.strip() for l in open(sys.argv[1]) if l.strip()]
entries = [l.split() for l in open(sys.argv[2]) if l.strip()]
phones = {l.split()[3] for l in open(sys.argv[3])}
refs, imeis, dups, odd = set(), set(), 0, 0
for e in entries:
    if len(e) != 4 or e[0] != 'block' or e[3] != e[1] + '-block':
        odd += 1
    if e[1] in refs or e[2] in imeis:
        dups += 1
    refs.add(e[1])
    imeis.add(e[2])
missing = len(set(accepted) - refs) + len(accepted) - len(set(accepted))
stranger = len(imeis - phones)
print(len(accepted), len(entries), dups, missing, odd, stranger)
EOF
)
read -r n_acc n_stream n_dups n_missing n_odd n_stranger <<<"$verdict"

# --- what a report keeps in Redis for the years (doc/scale.md, Sizing) ------------------------
# MEMORY USAGE of the keys a report leaves once its journey and receipt are done: its hash
# rep:{imei} and its reference ref:{ref}; summed over up to 2000 of the accepted references.
# (The CEIR stream entry and its dedup key leave with the CEIR's trimming and the TTL.)
mapfile -t mem_refs < <(head -n 2000 "$work/refs.txt")
rep_mem=$(redis-cli -p "$redis_port" --raw EVAL "
local n, rep, ref = 0, 0, 0
for _, r in ipairs(ARGV) do
	local imei = redis.call('GET', 'ref:{' .. r .. '}')
	if imei then
		n = n + 1
		ref = ref + (redis.call('MEMORY', 'USAGE', 'ref:{' .. r .. '}') or 0)
		rep = rep + (redis.call('MEMORY', 'USAGE', 'rep:{' .. imei .. '}') or 0)
	end
end
return n .. ' ' .. rep .. ' ' .. ref" 0 "${mem_refs[@]}")

# --- the figures ------------------------------------------------------------------------------
bench_machine "$load_before"
echo "data: gendump KE --seed $seed --clones 1 --garbage 1 --until $last_day: $rows rows, $pairings" \
     "pairings, pairing-bucket-digits $digits; $eligible owners to report with"
echo "import: $imp_p"
echo "import: $imp_k"
echo "load: wrk -t1 -c$conns, journeys started for ${duration} s then drained; a journey = 7 POST /ussd" \
     "pipelined (dial, 2, 2*K, 2*K*DDDD, ...*1, ...*1*1, ...*1*1*1), a fresh session and owner" \
     "each; ceirgw on core $server_cpu, wrk + redis-server + the sendsms null server on core $load_cpu"
echo "latency: whole journey, first request written to seventh response (wrk's CO correction undone)"
read -r m_n m_rep m_ref <<<"$rep_mem"
[ "${m_n:-0}" -gt 0 ] &&
	echo "memory: a report keeps $(( (m_rep + m_ref) / m_n )) bytes in Redis (rep:{imei} $(( m_rep / m_n ))," \
	     "ref:{ref} $(( m_ref / m_n )); MEMORY USAGE over $m_n accepted reports)"
echo
awk -v p="$pairings" -v j="$completed" -v t="$secs" -v p50="$p50" -v p99="$p99" \
    -v s=$(( s1 - s0 )) -v r=$(( r1 - r0 )) -v hz="$hz" -v acc="$n_acc" -v ons="$n_stream" \
    -v dups="$n_dups" -v errs=$(( errs + non2xx )) 'BEGIN {
	printf "%-8s %9s %9s %8s %10s %7s %7s %10s %9s %9s %10s %5s %6s\n", "journey", "pairings",
	       "journeys", "seconds", "journeys/s", "p50 ms", "p99 ms", "ceirgw us", "redis us",
	       "accepted", "on-stream", "dups", "errors"
	printf "%-8s %9d %9d %8.3f %10.0f %7.2f %7.2f %10.1f %9.1f %9d %10d %5d %6d\n", "report", p,
	       j, t, j / t, p50 / 1000, p99 / 1000, s * 1e6 / hz / j, r * 1e6 / hz / j, acc, ons,
	       dups, errs
}'
echo
echo "(ceirgw us, redis us: CPU microseconds per journey, utime + stime from /proc/PID/stat over the run;"
echo " accepted includes the one journey walked by curl before the run)"
awk -v b="$backlog" -v l="$left" -v d0="$d0" -v d1="$d1" -v s=$(( s2 - s1 )) \
    -v r=$(( r2 - r1 )) -v hz="$hz" -v j="$completed" 'BEGIN {
	printf "receipts: %d still in the outbox when wrk ended, sent in %.1f s more, with %.1f us of" \
	       " ceirgw and %.1f us of redis-server per journey", b, d1 - d0, s * 1e6 / hz / j, r * 1e6 / hz / j
	if (l > 0) printf "; %d not sent after 2 minutes", l
	printf "\n"
}'
echo "screens: menu $c_menu, phones $c_pick, ID $c_id, reason $c_reason, police $c_police," \
     "confirm $c_confirm, accepted $c_done, other $c_other (of $started journeys)"
[ "$c_other" -eq 0 ] || echo "a reply that was no step of the journey: $sample"
echo "accepted $n_acc, on the CEIR stream $n_stream, duplicates $n_dups, missing $n_missing"
once=no
[ "$n_stream" -ne "$n_acc" ] || [ "$n_dups" -gt 0 ] || [ "$n_missing" -gt 0 ] || once=yes
bench_target "report journey: journeys/s ($pairings pairings)" \
	"$(awk -v j="$completed" -v t="$secs" 'BEGIN { printf "%.0f", j / t }')" figure -
bench_target "report journey: every accepted report on the CEIR stream once" "$once" "=" yes
fail=0
if [ "$n_stream" -ne "$n_acc" ] || [ "$n_dups" -gt 0 ] || [ "$n_missing" -gt 0 ]; then
	echo "FAIL: the CEIR stream does not hold every accepted report exactly once" >&2
	fail=1
fi
if [ "$n_odd" -gt 0 ] || [ "$n_stranger" -gt 0 ]; then
	echo "FAIL: $n_odd stream entries are not block requests of their reference," \
	     "$n_stranger name a phone no journey reported" >&2
	fail=1
fi
if [ "$n_acc" -le 1 ]; then
	echo "FAIL: no report was accepted during the run" >&2
	fail=1
fi
exit "$fail"
