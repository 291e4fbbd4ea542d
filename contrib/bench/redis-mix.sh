#!/bin/bash
# Redis baseline of the HTTP benchmark: redis-benchmark sends the commands one USSD check
# journey costs ceirgw (counted with INFO commandstats: 3 GET, 3 SET, 2 EVALSHA of the rate
# limit script, HGETALL, HGET), each on random keys of the same shape, from 64 clients,
# one command at a time (-P 1) and 16 at a time (-P 16), to a private redis-server on
# LOAD_CPU. The Redis CPU of a journey's mix, read from /proc as for the servers, is what a
# gateway doing that work pays Redis without and with batching its commands; run.sh's
# "redis us" for ceirgw compares with it. Figures, never assertions.
#   contrib/bench/redis-mix.sh       Environment: REQUESTS (200000 per command), LOAD_CPU (1)
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bench=$top/contrib/bench
requests=${REQUESTS:-200000}
load_cpu=${LOAD_CPU:-1}
# shellcheck source=contrib/bench/lib.sh
. "$bench/lib.sh"
bench_init redis-mix
need redis-server redis-cli redis-benchmark taskset

start_redis "$load_cpu"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
rate=$(redis-cli -p "$redis_port" script load \
	"local n = redis.call('INCR', KEYS[1]) if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end return n")
sess=$'v=1\ns=check_ask\nc=1\nl=en\n'
# Some keys must exist for GET, HGET and HGETALL to cost what they cost ceirgw.
redis-benchmark -p "$redis_port" -q -c 64 -n 100000 -r 100000 \
	SET 's:{u:__rand_int__}' "$sess" >/dev/null
redis-benchmark -p "$redis_port" -q -c 64 -n 100000 -r 100000 \
	HSET 'p:{35__rand_int__}' __rand_int__ 'aaaaaaaabbbbbbbbccccccccdddddddd' >/dev/null

# mix COUNT NAME COMMAND...: one command of the mix, unpipelined then pipelined; appends
# "NAME COUNT us_per_call_P1 us_per_call_P16" to results.
: >"$work/results"
mix() {
	local count=$1 name=$2 p r0 r1 us=()
	shift 2
	for p in 1 16; do
		r0=$(ticks "$redis_pid")
		taskset -c "$load_cpu" redis-benchmark -p "$redis_port" -q -c 64 -P "$p" \
			-n "$requests" -r 100000 "$@" >/dev/null
		r1=$(ticks "$redis_pid")
		us+=("$(awk -v t=$(( r1 - r0 )) -v hz="$hz" -v req="$requests" \
			'BEGIN { printf "%.2f", t * 1e6 / hz / req }')")
	done
	echo "$name $count ${us[*]}" >>"$work/results"
}
mix 3 GET GET 's:{u:__rand_int__}'
mix 3 SET_EX SET 's:{u:__rand_int__}' "$sess" EX 300
mix 2 EVALSHA EVALSHA "$rate" 1 'rl:{chk:m:__rand_int__}' 3600000
mix 1 HGETALL HGETALL 'rep:{35__rand_int__}'
mix 1 HGET HGET 'p:{35__rand_int__}' __rand_int__

bench_machine "$load_before"
echo "redis-benchmark -c 64 -r 100000 -n $requests per command and pipeline depth," \
     "redis-server on core $load_cpu"
echo
awk '{ c[NR] = $1; n[NR] = $2; a[NR] = $3; b[NR] = $4; ta += $2 * $3; tb += $2 * $4; k += $2 }
END {
	printf "%-10s %8s %12s %12s %14s %14s\n", "command", "a check", "us -P 1", "us -P 16",
	       "journey -P 1", "journey -P 16"
	for (i = 1; i <= NR; i++)
		printf "%-10s %8d %12.2f %12.2f %14.2f %14.2f\n", c[i], n[i], a[i], b[i],
		       n[i] * a[i], n[i] * b[i]
	printf "%-10s %8d %12s %12s %14.2f %14.2f\n", "mix", k, "", "", ta, tb
	print ""
	print "(us: redis-server CPU microseconds per command, utime + stime from /proc/PID/stat)"
}' "$work/results"
