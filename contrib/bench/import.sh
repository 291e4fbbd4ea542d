#!/bin/bash
# Import benchmark: generates pairings dumps with tests/tools/gendump, loads each into a fresh
# private redis-server with ceirgwctl import pairings, and prints rows/s and Redis bytes per
# pairing, with the pipelined HSET rate of the same redis-server (redis-benchmark) as the
# baseline measured in the same run. Figures, never assertions.
#   contrib/bench/import.sh [BUILD_DIR] [ROWS...]      (default: build 1000000 10000000)
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
shift || true
sizes=${*:-1000000 10000000}
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

: >"$work/results"
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
