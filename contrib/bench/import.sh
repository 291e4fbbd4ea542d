#!/bin/bash
# Import benchmark: generates pairings dumps with tests/tools/gendump, loads each into a fresh
# private redis-server with ceirgwctl import pairings, and prints rows/s and Redis bytes per
# pairing, with the pipelined HSET rate of the same redis-server (redis-benchmark) as the
# baseline measured in the same run. Figures, never assertions.
#   contrib/bench/import.sh [--reported N] [BUILD_DIR] [ROWS...]
#                                                      (default: build 1000000 10000000)
# --reported N (issue 22): each dump is then imported in ROUNDS rounds (env IMPORT_ROUNDS,
# default 3) of two imports, one after the other: into a fresh redis-server, and into a fresh
# redis-server that holds N open reports (state blocked, an owner not in the dump, made in
# 1970: every row of their IMEIs is a sighting) of N IMEIs of the dump, indexed in rix:{NNN}
# as ceirgw indexes them. Printed: each round's rows/s and CPU (ceirgwctl's user + system
# time, and redis-server's used_cpu from INFO) per 10^6 rows; the target (within 5%) is
# judged on the best rows/s of each kind (load only ever slows an import down), and the CPU
# ratio, which load moves far less than wall time, is printed beside it.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
reported=0
if [ "${1:-}" = --reported ]; then
	reported=$2
	shift 2
	case $reported in '' | *[!0-9]*) echo "--reported N: a number" >&2; exit 2 ;; esac
fi
build=${1:-$top/build}
shift || true
sizes=${*:-1000000 10000000}
rounds=${IMPORT_ROUNDS:-3}
case $rounds in '' | *[!0-9]* | 0) echo "IMPORT_ROUNDS: a number >= 1" >&2; exit 2 ;; esac
ctl=$build/src/ceirgwctl
gen=$build/tests/tools/gendump
# shellcheck source=contrib/bench/lib.sh
. "$top/contrib/bench/lib.sh"
bench_init import
need redis-server redis-cli redis-benchmark python3
make -C "$build" -s src/ceirgwctl tests/tools/gendump >/dev/null
trap 'redis-cli -s "$work/r.sock" shutdown nosave >/dev/null 2>&1 || true; bench_cleanup' EXIT
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# A fresh redis-server on a Unix socket, as the import talks to it in production.
start_socket_redis() {
	redis-cli -s "$work/r.sock" shutdown nosave >/dev/null 2>&1 || true
	redis-server --port 0 --unixsocket "$work/r.sock" --save '' --appendonly no \
		--hash-max-listpack-entries 512 --hash-max-listpack-value 128 \
		--daemonize yes --logfile "$work/redis.log" --dir "$work"
	for _ in $(seq 100); do redis-cli -s "$work/r.sock" ping >/dev/null 2>&1 && return; sleep 0.05; done
	echo "redis-server did not start" >&2
	exit 1
}

mem() {
	redis-cli -s "$work/r.sock" info memory | tr -d '\r' |
		awk -F: '/^used_memory:/ {u=$2} /^used_memory_startup:/ {s=$2} END {print u - s}'
}

# seed_reports N: N open reports of N distinct valid IMEIs of the dump, as ceirgw leaves them
# (rep:{imei} blocked, its IMEI in rix:{NNN}), written with redis-cli --pipe.
seed_reports() {
	python3 - "$1" "$work/p.csv" <<'PY' | redis-cli -s "$work/r.sock" --pipe >/dev/null
import csv, sys
want, path = int(sys.argv[1]), sys.argv[2]
def luhn_ok(s):
    t = 0
    for i, c in enumerate(s[:14]):
        d = int(c) * (2 if i % 2 else 1)
        t += d // 10 + d % 10
    return (10 - t % 10) % 10 == int(s[14])
def cmd(*a):
    out = "*%d\r\n" % len(a)
    for x in a:
        out += "$%d\r\n%s\r\n" % (len(x.encode()), x)
    sys.stdout.write(out)
seen = set()
with open(path, newline="") as f:
    r = csv.reader(f)
    col = next(r).index("imei")
    for row in r:
        if len(seen) >= want:
            break
        imei = row[col] if col < len(row) else ""
        if len(imei) != 15 or not imei.isdigit() or imei in seen or not luhn_ok(imei):
            continue
        seen.add(imei)
        ref = "%010d" % (len(seen))
        cmd("HSET", "rep:{%s}" % imei, "ref", ref, "state", "blocked", "created", "0",
            "updated", "0", "owner", "+254700000000", "reporter", "+254700000000",
            "lang", "en")
        cmd("SADD", "rix:{%s}" % imei[11:14], imei)
PY
}

# import_measured ROUND KIND ROWS: one import with --rejects /dev/null into the running
# redis-server; appends "ROUND KIND rows/s ctl-cpu-s redis-cpu-s watched sightings" to
# $work/reported. ceirgwctl's CPU comes from GNU time, redis-server's from INFO cpu around it.
import_measured() {
	local out rate r0 r1 ctlcpu sights watched
	r0=$(redis_cpu)
	out=$(/usr/bin/time -f 'cpu %U %S' "$ctl" import pairings -c "$work/c.conf" \
		--redis "unix://$work/r.sock" --rejects /dev/null "$work/p.csv" 2>&1) ||
		[ $? -eq 3 ]
	r1=$(redis_cpu)
	rate=$(echo "$out" | sed -n 's/.*(\([0-9]*\) rows\/s).*/\1/p')
	ctlcpu=$(echo "$out" | awk '/^cpu / { printf "%.2f", $2 + $3 }')
	sights=$(echo "$out" | sed -n 's/^sightings: \([0-9]*\) new.*/\1/p')
	watched=$(echo "$out" | sed -n 's/.*; \([0-9]*\) reported IMEIs watched$/\1/p')
	echo "$1 $2 $3 $rate $ctlcpu $(awk -v a="$r0" -v b="$r1" 'BEGIN { printf "%.2f", b - a }') ${watched:-0} ${sights:-0}" >>"$work/reported"
}

# redis_cpu: redis-server's user + system CPU seconds so far.
redis_cpu() {
	redis-cli -s "$work/r.sock" info cpu | tr -d '\r' |
		awk -F: '/^used_cpu_(sys|user):/ { s += $2 } END { printf "%.3f", s }'
}

: >"$work/results"
: >"$work/reported"
for n in $sizes; do
	digits=$(( ${#n} - 3 ))	# about 100 entries a bucket: 4 for 1e6, 5 for 1e7
	[ "$digits" -lt 3 ] && digits=3
	[ "$digits" -gt 8 ] && digits=8
	"$gen" pairings --rows "$n" --region KE --seed 1 --clones 1 --garbage 1 \
		--out "$work/p.csv" --stats "$work/p.json" 2>/dev/null
	pairings=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pairings"])' "$work/p.json")
	printf 'group = ceirgw\npairing-bucket-digits = %s\n' "$digits" >"$work/c.conf"
	start_socket_redis
	# Exit 3: stored, the garbage rows rejected (to p.csv.rejects.csv).
	out=$("$ctl" import pairings -c "$work/c.conf" --redis "unix://$work/r.sock" "$work/p.csv") ||
		[ $? -eq 3 ]
	rate=$(echo "$out" | sed -n 's/.*(\([0-9]*\) rows\/s).*/\1/p')
	bytes=$(mem)
	hset=$(redis-benchmark -s "$work/r.sock" -q -t hset -n 1000000 -P 64 -r 100000000 |
	       tr '\r' '\n' | sed -n 's/^HSET: \([0-9.]*\) requests.*/\1/p' | tail -1)
	echo "$n $digits $pairings $rate $bytes $hset" >>"$work/results"
	if [ "$reported" -gt 0 ]; then
		for round in $(seq "$rounds"); do
			for kind in plain reported; do
				start_socket_redis
				[ "$kind" = plain ] || seed_reports "$reported"
				import_measured "$round" "$kind" "$n"
			done
		done
	fi

	rm -f "$work/p.csv"
done

bench_machine "$load_before"
echo "gendump pairings --seed 1 --clones 1 --garbage 1; ceirgwctl import pairings over a Unix" \
     "socket; hset/s: redis-benchmark -t hset -P 64 on the same server, the baseline"
echo
printf '%-10s %6s %12s %10s %14s %10s %8s\n' rows digits pairings rows/s bytes/pairing hset/s ratio
while read -r n digits pairings rate bytes hset; do
	awk -v n="$n" -v d="$digits" -v p="$pairings" -v r="$rate" -v b="$bytes" -v h="$hset" \
		'BEGIN { printf "%-10s %6s %12s %10s %14.1f %10.0f %8.2f\n", n, d, p, r, b / p, h, r / h }'
	last="$n $pairings $rate $bytes"
done <"$work/results"
read -r n pairings rate bytes <<<"$last"
bench_target "import of $n rows: rows/s" "$rate" ">=" 500000
bench_target "import of $n rows: Redis bytes per pairing" \
	"$(awk -v b="$bytes" -v p="$pairings" 'BEGIN { printf "%.1f", b / p }')" "<=" 40
if [ "$reported" -gt 0 ]; then
	echo
	echo "--reported $reported: the same dump into a fresh Redis, plain and holding $reported open reports" \
	     "of its IMEIs, $rounds rounds one after the other (rejects to /dev/null);" \
	     "CPU in seconds per 10^6 rows: ceirgwctl + redis-server"
	printf '%-10s %5s %-9s %10s %10s %8s %8s %8s %10s\n' rows round import rows/s cpu/1e6 ctl redis \
		watched sightings
	awk '{ printf "%-10s %5s %-9s %10s %10.3f %8s %8s %8s %10s\n", $3, $1, $2, $4,
	       ($5 + $6) * 1e6 / $3, $5, $6, $7, $8 }' "$work/reported"
	last=$(tail -1 "$work/reported" | cut -d' ' -f3)
	read -r best_plain best_rep cpu_plain cpu_rep <<<"$(awk -v n="$last" '$3 == n {
		c = ($5 + $6); if ($2 == "plain") { if ($4 > bp) bp = $4; if (cp == "" || c < cp) cp = c }
		else { if ($4 > br) br = $4; if (cr == "" || c < cr) cr = c } }
		END { print bp, br, cp, cr }' "$work/reported")"
	echo
	echo "best of $rounds: rows/s $best_plain plain, $best_rep with reports;" \
	     "least CPU: $cpu_plain s plain, $cpu_rep s with reports"
	bench_target "import with $reported reported IMEIs: rows/s against without (best of $rounds)" \
		"$(awk -v a="$best_plain" -v b="$best_rep" 'BEGIN { printf "%.3f", b / a }')" ">=" 0.95
	bench_target "import with $reported reported IMEIs: CPU against without (least of $rounds)" \
		"$(awk -v a="$cpu_plain" -v b="$cpu_rep" 'BEGIN { printf "%.3f", b / a }')" figure -
fi
