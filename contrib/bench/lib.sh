# Helpers shared by the benchmark scripts of contrib/bench (sourced, not run). The script that
# sources it sets `work` (its temporary directory) first and appends every process it starts to
# `pids`; bench_cleanup stops them all and removes `work` (kept with KEEP=1).
# shellcheck shell=bash

pids=()

bench_cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	if [ -n "${KEEP:-}" ]; then
		echo "$(basename "$0"): files kept in $work" >&2
	else
		rm -rf "$work"
	fi
}

# bench_init NAME: makes the temporary directory, sets the traps.
bench_init() {
	work=$(mktemp -d "/tmp/ceirgw-bench-$1-XXXXXX")
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}

# need TOOL...: every TOOL must be on PATH (or an executable path).
need() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null || { echo "$(basename "$0"): $t is missing" >&2; exit 1; }
	done
}

# Stops PID (one this script started) and waits for it.
stop() {
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# A TCP port nobody listens on, below the kernel's ephemeral range (whose ports outgoing
# connections take at any time) and never the same twice in one run.
eph_low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
[ "$eph_low" -gt 21000 ] || eph_low=32768
free_port() {
	local p
	while :; do
		p=$(( (RANDOM * 32768 + RANDOM) % (eph_low - 20000) + 20000 ))
		grep -qx "$p" "$work/.ports" 2>/dev/null && continue
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p" >>"$work/.ports"
			echo "$p"
			return
		fi
	done
}

# wait_for SECONDS CMD...: runs CMD until it succeeds.
wait_for() {
	local n=$(( $1 * 20 ))
	shift
	while ! "$@" >/dev/null 2>&1; do
		n=$(( n - 1 ))
		[ "$n" -gt 0 ] || return 1
		sleep 0.05
	done
}

# shellcheck disable=SC2034	# used by the scripts that source this file
hz=$(getconf CLK_TCK)

# up PID SECONDS CMD...: runs CMD until it succeeds; gives up at once when PID is gone.
up() {
	local pid=$1 n=$(( $2 * 20 ))
	shift 2
	while ! "$@" >/dev/null 2>&1; do
		kill -0 "$pid" 2>/dev/null && [ "$n" -gt 0 ] || return 1
		n=$(( n - 1 ))
		sleep 0.05
	done
}

# CPU ticks (utime + stime) of PID so far. The command name is skipped: it may hold spaces.
ticks() {
	sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}

# Resident set size of PID in KiB.
rss_kb() {
	awk '/^VmRSS:/ {print $2}' "/proc/$1/status"
}

# start_redis CPU [ARGS...]: a private redis-server pinned to CPU, no persistence; sets
# redis_port and redis_pid.
start_redis() {
	local cpu=$1
	shift
	redis_port=$(free_port)
	taskset -c "$cpu" redis-server --port "$redis_port" --bind 127.0.0.1 --save '' \
		--appendonly no --dir "$work" "$@" >"$work/redis-$redis_port.log" 2>&1 &
	redis_pid=$!
	pids+=("$redis_pid")
	wait_for 10 redis-cli -p "$redis_port" ping || { echo "redis-server did not start" >&2; exit 1; }
}

# Redis memory in use beyond its start-up, in bytes.
redis_used() {
	redis-cli -p "$1" info memory | tr -d '\r' |
		awk -F: '/^used_memory:/ {u = $2} /^used_memory_startup:/ {s = $2} END {print u - s}'
}

# bench_machine LOAD_BEFORE: one line naming the machine, the commit (of $top) and the load.
# shellcheck disable=SC2154	# top: set by the script that sources this file
bench_machine() {
	local model commit dirty=""
	model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
	commit=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)
	if git -C "$top" status --porcelain --untracked-files=no 2>/dev/null | grep -q .; then
		dirty="+changes"	# the working tree differs from the commit
	fi
	echo "machine: $(nproc) x $model, kernel $(uname -r), commit $commit$dirty," \
	     "$(date -u +%FT%TZ), load average $1 before, $(cut -d' ' -f1-3 /proc/loadavg) after"
}

# bench_target WHAT MEASURED OP GOAL: one line of make bench's closing table of targets
# (appended to the file BENCH_SUMMARY names, when set). OP is >= or <=, "=" for a figure
# that must equal GOAL exactly, or "figure" for one measured with no target; MEASURED "-"
# when it could not be measured.
bench_target() {
	[ -n "${BENCH_SUMMARY:-}" ] || return 0
	awk -v w="$1" -v m="$2" -v op="$3" -v g="$4" 'BEGIN {
		if (m == "-") v = "not measured"
		else if (op == "figure") { v = "(figure)"; op = ""; g = "" }
		else if (op == ">=") v = (m + 0 >= g + 0) ? "holds" : "missed"
		else if (op == "<=") v = (m + 0 <= g + 0) ? "holds" : "missed"
		else v = (m == g) ? "holds" : "missed"
		printf "%s\t%s\t%s %s\t%s\n", w, m, op, g, v
	}' >>"$BENCH_SUMMARY"
}
