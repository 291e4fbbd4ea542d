#!/bin/bash
# The cross-border feed (issue 19, doc/exchange.md): a country's log of N decisions (default
# 1e6) published by one ceirgw (KE, its own redis-server), then followed from scratch by
# another (TZ, its own redis-server): the checkpointer's rounds, then the follower's
# verification (signature, consistency proofs from tiles, every entry hashed) and its apply
# (the foreign state and the CEIR's foreign stream). Then a buyer's check through the JSON
# API on TZ, one client, one check at a time, against the same ceirgw with and without its
# feed-peer: Redis commands per check and the mean time per check (the foreign lookup goes
# out with the check's other two: one more command, no more round trips). While TZ follows,
# the CPU of each process (KE's too: it serves the bundles) and TZ Redis's time by command.
# Figures, never assertions; both countries share this machine's cores.
#   contrib/bench/feed.sh          Environment: BUILD (./build), ENTRIES (1000000), CHECKS (3000)
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bench=$top/contrib/bench
BUILD=$(cd "${BUILD:-$top/build}" && pwd)
entries=${ENTRIES:-1000000}
checks=${CHECKS:-3000}
# shellcheck source=contrib/bench/lib.sh
. "$bench/lib.sh"
bench_init feed
need redis-server redis-cli curl python3
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

redis_on() {	# redis_on VAR: a private redis-server, its port in VAR
	local port
	port=$(free_port)
	redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
		>"$work/redis-$port.log" 2>&1 &
	pids+=("$!")
	wait_for 10 redis-cli -p "$port" ping || { echo "redis-server did not start" >&2; exit 1; }
	printf -v "$1" '%s' "$port"
}
redis_on ke_redis
redis_on tz_redis
ke_http=$(free_port)
tz_http=$(free_port)

# ---- KE's log: N entries, as the relay appends them, written straight into Redis ----
python3 - "$entries" <<'EOF' | redis-cli -p "$ke_redis" --pipe >/dev/null
import random
import sys

def luhn(d):
    s = 0
    for i, c in enumerate(reversed(d)):
        x = int(c)
        if i % 2 == 0:
            x *= 2
            x -= 9 if x > 9 else 0
        s += x
    return str((10 - s % 10) % 10)

random.seed(19)
out = sys.stdout.buffer
key = b"feed:{feed}:entries"
for i in range(int(sys.argv[1])):
    body = "35%012d" % random.randrange(10 ** 12)
    e = ("KE %s%s %s 2026-12-%02d" % (body, luhn(body), "blocked stolen" if i % 10 else
                                        "blocked lost", 1 + i % 28)).encode()
    out.write(b"*3\r\n$5\r\nRPUSH\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(e), e))
EOF
[ "$(redis-cli -p "$ke_redis" LLEN 'feed:{feed}:entries')" = "$entries" ] ||
	{ echo "feed.sh: the log was not written" >&2; exit 1; }

vkey=$("$BUILD/src/ceirgwctl" feed keygen --origin ke.bench/feed --out "$work/ke.key" | head -n1)
cat >"$work/ke.conf" <<EOF
group = ceirgw
http-listen = 127.0.0.1:$ke_http
admin-listen = 127.0.0.1:$(free_port)
redis = redis://127.0.0.1:$ke_redis
log-file = ke.log
country = KE
feed-origin = ke.bench/feed
feed-key-file = ke.key
feed-checkpoint-interval = 1
EOF
echo "bench 0123456789abcdef0123" >"$work/api.keys"
tz_conf() {	# tz_conf FILE [peer]: TZ's ceirgw, following KE with "peer"
	{
		printf '%s\n' "group = ceirgw" "http-listen = 127.0.0.1:$tz_http" \
			"admin-listen = 127.0.0.1:$(free_port)" \
			"redis = redis://127.0.0.1:$tz_redis" "log-file = tz.log" "default-region = TZ" \
			"api-keys-file = api.keys" "api-key-quota = 1000000/60"
		[ "${2:-}" != peer ] || printf '%s\n' "" "group = feed-peer" "origin = ke.bench/feed" \
			"url = http://127.0.0.1:$ke_http/feed" "key = $vkey" "country = KE" \
			"poll-interval = 1"
	} >"$1"
}
tz_conf "$work/tz.conf" peer
tz_conf "$work/tz-alone.conf"

checkpoint_size() { curl -sf "http://127.0.0.1:$ke_http/feed/checkpoint" | sed -n 2p; }
accepted() { curl -sf "http://127.0.0.1:$tz_http/healthz" | tr ',' '\n' |
	sed -n 's/^"peer_1_accepted"://p'; }

# ---- publishing ----
t0=$(now)
(cd "$work" && exec "$BUILD/src/ceirgw" -c ke.conf 2>ke.err) &
ke_pid=$!
pids+=("$ke_pid")
until [ "$(checkpoint_size)" = "$entries" ]; do
	kill -0 "$ke_pid" || { echo "feed.sh: KE's ceirgw stopped" >&2; exit 1; }
	sleep 0.05
done
t1=$(now)
publish=$(secs "$t0" "$t1")
rounds=$(grep -c 'checkpoint .* signed' "$work/ke.log" || true)
ke_tiles=$(redis-cli -p "$ke_redis" --scan --pattern 'feed:{feed}:t:*' | wc -l)

# ---- following: from TZ's start to the whole tree accepted ----
redis-cli -p "$tz_redis" config resetstat >/dev/null
redis_pid() { redis-cli -p "$1" info server | tr -d '\r' | sed -n 's/^process_id://p'; }
ke_redis_pid=$(redis_pid "$ke_redis")
r0=$(ticks "$(redis_pid "$tz_redis")")
k0=$(ticks "$ke_pid")
kr0=$(ticks "$ke_redis_pid")
t0=$(now)
(cd "$work" && exec "$BUILD/src/ceirgw" -c tz.conf 2>tz.err) &
tz_pid=$!
pids+=("$tz_pid")
until [ "$(accepted)" = "$entries" ]; do
	kill -0 "$tz_pid" || { echo "feed.sh: TZ's ceirgw stopped" >&2; exit 1; }
	sleep 0.05
done
t1=$(now)
follow=$(secs "$t0" "$t1")
tz_redis_pid=$(redis-cli -p "$tz_redis" info server | tr -d '\r' | sed -n 's/^process_id://p')
tz_cpu=$(awk -v t="$(ticks "$tz_pid")" -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }')
cpu_since() { awk -v a="$1" -v b="$(ticks "$2")" -v hz="$hz" 'BEGIN { printf "%.2f", (b - a) / hz }'; }
tz_redis_cpu=$(cpu_since "$r0" "$tz_redis_pid")
ke_cpu=$(cpu_since "$k0" "$ke_pid")
ke_redis_cpu=$(cpu_since "$kr0" "$ke_redis_pid")
# What TZ's Redis spent its time on while following: microseconds per call and in all, by
# command (a script's total includes the commands it ran).
tz_cmds=$(redis-cli -p "$tz_redis" info commandstats | tr -d '\r' |
	awk -F'[:=,]' '/^cmdstat_/ && !/config|info/ && $3 >= 10 {
		sub("cmdstat_", "", $1); printf "%s%s %d calls %.2f us (%.2f s)", sep, $1, $3, $7, $5 / 1e6
		sep = "; " }')
rate=$(awk -v n="$entries" -v s="$follow" 'BEGIN { printf "%d", n / s }')
[ "$(redis-cli -p "$tz_redis" XLEN ceir:foreign)" = "$entries" ] ||
	echo "feed.sh: ceir:foreign does not hold one entry per decision" >&2

# ---- bytes per foreign IMEI: the fx:{...} buckets only (MEMORY USAGE of each) ----
fx_bytes=$(redis-cli -p "$tz_redis" --scan --pattern 'fx:*' |
	sed 's/^/MEMORY USAGE /' | redis-cli -p "$tz_redis" | awk '{s += $1} END {print s}')
fx_imeis=$(redis-cli -p "$tz_redis" --scan --pattern 'fx:*' | sed 's/^/HLEN /' |
	redis-cli -p "$tz_redis" | awk '{s += $1} END {print s}')
per_imei=$(awk -v b="$fx_bytes" -v n="$fx_imeis" 'BEGIN { printf "%.1f", b / n }')
stream_bytes=$(redis-cli -p "$tz_redis" MEMORY USAGE ceir:foreign)

# ---- a buyer's check with and without the feed-peer (the same Redis, the same data) ----
some_imei=$(redis-cli -p "$ke_redis" LINDEX 'feed:{feed}:entries' 7 | cut -d' ' -f2)
check_run() {	# CHECKS API checks, one at a time: the mean microseconds a check
	redis-cli -p "$tz_redis" config resetstat >/dev/null
	python3 - "$tz_http" "$checks" "$some_imei" <<'EOF'
import http.client
import sys
import time

port, n, imei = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
c = http.client.HTTPConnection("127.0.0.1", port)
h = {"Authorization": "Bearer 0123456789abcdef0123"}
for _ in range(50):
    c.request("GET", "/v1/imei/" + imei, headers=h)
    c.getresponse().read()
t = time.perf_counter()
for _ in range(n):
    c.request("GET", "/v1/imei/" + imei, headers=h)
    r = c.getresponse()
    body = r.read()
    assert r.status == 200, (r.status, body)
print("%.1f" % ((time.perf_counter() - t) / n * 1e6))
EOF
}
commands() {
	redis-cli -p "$tz_redis" info commandstats | tr -d '\r' |
		awk -F'[=,]' -v n="$1" '/^cmdstat_/ && !/config/ && !/info/ {s += $2} END {printf "%.2f", s / n}'
}
us_with=$(check_run)
cmd_with=$(commands $((checks + 50)))
status_with=$(curl -s -H 'Authorization: Bearer 0123456789abcdef0123' \
	"http://127.0.0.1:$tz_http/v1/imei/$some_imei" |
	python3 -c 'import json, sys; print(json.load(sys.stdin)["status"])')
stop "$tz_pid"
(cd "$work" && exec "$BUILD/src/ceirgw" -c tz-alone.conf 2>tz-alone.err) &
tz_pid=$!
pids+=("$tz_pid")
wait_for 10 curl -sf "http://127.0.0.1:$tz_http/healthz"
us_without=$(check_run)
cmd_without=$(commands $((checks + 50)))

echo "$(bench_machine "$load_before")"
echo
printf '%-58s %s\n' "entries in KE's log" "$entries" \
	"publish: checkpoint rounds, seconds" "$rounds rounds, $publish s ($ke_tiles hash tiles)" \
	"follow from scratch: seconds (TZ start to all accepted)" "$follow s" \
	"  entries per second" "$rate" \
	"  TZ ceirgw CPU, TZ Redis CPU" "$tz_cpu s, $tz_redis_cpu s" \
	"  KE ceirgw CPU, KE Redis CPU (serving the bundles)" "$ke_cpu s, $ke_redis_cpu s" \
	"  TZ Redis by command" "$tz_cmds" \
	"Redis bytes per foreign IMEI (fx buckets)" "$per_imei ($fx_bytes B for $fx_imeis)" \
	"  ceir:foreign stream, bytes per decision" "$(awk -v b="$stream_bytes" -v n="$entries" 'BEGIN { printf "%.1f", b / n }')" \
	"check with the feed-peer: status, us per check, commands" "$status_with, $us_with us, $cmd_with" \
	"check without it: us per check, commands" "$us_without us, $cmd_without"
bench_target "feed: verify and apply 1e6 foreign entries, seconds" "$follow" "<=" 5
bench_target "feed: Redis bytes per foreign IMEI" "$per_imei" "<=" 24
bench_target "feed: check with/without foreign data, time ratio" \
	"$(awk -v a="$us_with" -v b="$us_without" 'BEGIN { printf "%.2f", a / b }')" figure ""
