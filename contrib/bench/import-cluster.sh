#!/bin/bash
# Import into a Redis Cluster (issue 16): one generated pairings dump loaded by ceirgwctl
# import pairings into a fresh 3-master cluster (no replicas: on a small machine a replica's
# CPU would be taken from the masters, and its replication backlog counted in their memory)
# and, in the same run, into one redis-server over TCP and over a Unix socket, the baseline.
# Prints rows/s, Redis bytes per pairing (used_memory less used_memory_startup, summed over
# the masters, over the distinct pairings stored) and the CPU seconds each side took.
# Figures, never assertions.
#   contrib/bench/import-cluster.sh [BUILD_DIR] [ROWS]      (default: build 10000000)
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
rows=${2:-10000000}
ctl=$build/src/ceirgwctl
gen=$build/tests/tools/gendump
# shellcheck source=contrib/bench/lib.sh
. "$top/contrib/bench/lib.sh"
bench_init import-cluster
need redis-server redis-cli python3
make -C "$build" -s src/ceirgwctl tests/tools/gendump >/dev/null
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
# Every server with the listpack limits the embedded Redis uses (doc/redis-keys.md).
listpack=(--hash-max-listpack-entries 512 --hash-max-listpack-value 128)

# serve NAME ARGS...: a redis-server with no persistence, logging to NAME.log; its pid is
# appended to pids.
serve() {
	local name=$1
	shift
	redis-server --save '' --appendonly no --dir "$work" "${listpack[@]}" "$@" \
		>"$work/$name.log" 2>&1 &
	pids+=("$!")
}

# used PORT|SOCKET: used_memory less used_memory_startup of one server.
used() {
	local where=(-p "$1")
	[ "${1#/}" != "$1" ] && where=(-s "$1")
	redis-cli "${where[@]}" info memory | tr -d '\r' |
		awk -F: '/^used_memory:/ {u = $2} /^used_memory_startup:/ {s = $2} END {print u - s}'
}

# cpu PID...: CPU seconds those processes took so far.
cpu() {
	local p t=0
	for p in "$@"; do t=$((t + $(ticks "$p"))); done
	awk -v t="$t" -v hz="$hz" 'BEGIN { printf "%.1f", t / hz }'
}

# The children's CPU seconds in FILE, the output of the shell's `times` (its second line,
# "XmY.YYYs XmY.YYYs"). `times` runs in this shell, written to a file: in a $(...) subshell
# it would count that subshell's children, none.
children_cpu() {
	tail -1 "$1" | awk '{ t = 0; for (i = 1; i <= 2; i++) { split($i, a, "m");
		t += a[1] * 60 + a[2] } printf "%.2f", t }'
}

# run_import NAME SERVER_PIDS STORE_OPTION...: imports the dump, with MEM_OF the ports or
# sockets whose memory counts; appends "name rows/s bytes redis-cpu ctl-cpu wall" to
# results.
run_import() {
	local name=$1 servers=$2 rate t0 t1 c0 c1 k0 k1 bytes=0 p
	shift 2
	# shellcheck disable=SC2086	# servers: pids, split into words on purpose
	c0=$(cpu $servers)
	times >"$work/times0"
	t0=$(date +%s.%N)
	"$ctl" import pairings -c "$work/c.conf" --rejects /dev/null "$@" "$work/p.csv" \
		>"$work/out" 2>&1
	t1=$(date +%s.%N)
	times >"$work/times1"
	# shellcheck disable=SC2086
	c1=$(cpu $servers)
	k0=$(children_cpu "$work/times0")
	k1=$(children_cpu "$work/times1")
	sed 's/^/  /' "$work/out" >&2
	rate=$(sed -n 's/.*(\([0-9]*\) rows\/s).*/\1/p' "$work/out")
	for p in $MEM_OF; do bytes=$((bytes + $(used "$p"))); done
	echo "$name $rate $bytes" \
	     "$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.1f", b - a }')" \
	     "$(awk -v a="$k0" -v b="$k1" 'BEGIN { printf "%.1f", b - a }')" \
	     "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')" >>"$work/results"
}

digits=$(( ${#rows} - 3 ))	# about 100 entries a bucket: 5 for 1e7
[ "$digits" -lt 3 ] && digits=3
[ "$digits" -gt 8 ] && digits=8
printf 'group = ceirgw\npairing-bucket-digits = %s\n' "$digits" >"$work/c.conf"
echo "generating $rows rows..." >&2
"$gen" pairings --rows "$rows" --region KE --seed 1 --clones 1 --garbage 1 \
	--out "$work/p.csv" --stats "$work/p.json" 2>/dev/null
pairings=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pairings"])' "$work/p.json")
: >"$work/results"

# The cluster first, while the page cache holds the dump for every run alike.
ports=()
cluster_pids=()
for _ in 1 2 3; do
	p=$(free_port)
	mkdir -p "$work/n$p"
	serve "n$p" --port "$p" --bind 127.0.0.1 --cluster-enabled yes \
		--cluster-config-file "$work/n$p/nodes.conf" --dir "$work/n$p"
	ports+=("$p")
	cluster_pids+=("${pids[-1]}")
done
for p in "${ports[@]}"; do wait_for 10 redis-cli -p "$p" ping || { echo "node $p did not start" >&2; exit 1; }; done
redis-cli --cluster create "${ports[@]/#/127.0.0.1:}" --cluster-yes >"$work/create.log" 2>&1 ||
	{ cat "$work/create.log" >&2; exit 1; }
cluster_ok() { redis-cli -p "${ports[0]}" cluster info | grep -q 'cluster_state:ok'; }
wait_for 30 cluster_ok || { echo "the cluster did not come up" >&2; exit 1; }
seeds=$(printf '127.0.0.1:%s,' "${ports[@]}")
echo "cluster, 3 masters:" >&2
MEM_OF="${ports[*]}" run_import "cluster-3-masters" "${cluster_pids[*]}" --redis-cluster "${seeds%,}"
for p in "${ports[@]}"; do redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true; done

p=$(free_port)
serve single-tcp --port "$p" --bind 127.0.0.1
wait_for 10 redis-cli -p "$p" ping
echo "one redis-server, TCP:" >&2
MEM_OF=$p run_import "single-tcp" "${pids[-1]}" --redis "redis://127.0.0.1:$p"
redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true

serve single-unix --port 0 --unixsocket "$work/r.sock"
wait_for 10 redis-cli -s "$work/r.sock" ping
echo "one redis-server, Unix socket:" >&2
MEM_OF=$work/r.sock run_import "single-unix" "${pids[-1]}" --redis "unix://$work/r.sock"
redis-cli -s "$work/r.sock" shutdown nosave >/dev/null 2>&1 || true
rm -f "$work/p.csv"

bench_machine "$load_before"
echo "gendump pairings --rows $rows --seed 1 --clones 1 --garbage 1 ($pairings pairings);" \
     "pairing-bucket-digits $digits; the default batch; listpack 512/128 on every server;" \
     "the cluster: 3 masters, no replicas, on loopback"
echo
printf '%-20s %10s %14s %12s %12s %8s\n' store rows/s bytes/pairing redis-cpu-s ctl-cpu-s wall-s
while read -r name rate bytes rcpu ccpu wall; do
	awk -v n="$name" -v r="$rate" -v b="$bytes" -v p="$pairings" -v rc="$rcpu" -v cc="$ccpu" \
		-v w="$wall" 'BEGIN { printf "%-20s %10s %14.1f %12s %12s %8s\n", n, r, b / p, rc, cc, w }'
	[ "$name" = cluster-3-masters ] && cluster_line="$rate $bytes"
done <"$work/results"
read -r rate bytes <<<"$cluster_line"
bench_target "import of $rows rows into a 3-master cluster: rows/s" "$rate" figure -
bench_target "import of $rows rows into a 3-master cluster: Redis bytes per pairing" \
	"$(awk -v b="$bytes" -v p="$pairings" 'BEGIN { printf "%.1f", b / p }')" figure -
