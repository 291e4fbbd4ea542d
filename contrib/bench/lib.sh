# Helpers shared by the benchmark scripts of contrib/bench (sourced, not run). The script that
# sources it sets `work` (its temporary directory) first and appends every process it starts to
# `pids`; bench_cleanup stops them all and removes `work` (kept with KEEP=1).
# shellcheck shell=bash
# shellcheck disable=SC2154	# the settings of the sourcing script (the Kannel section's)

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

# --- Kannel (run-box.sh, run-ussd.sh) ---------------------------------------------------------
# These use the sourcing script's settings: bearerbox, smsbox (their paths), store (none or
# file), box_cpu, load_cpu, the ports bb_admin, bb_box and sendsms_port, and redis_port (its
# redis-server's, start_redis). kannel.conf is $work/kannel.conf.

now() { date +%s.%N; }

# kannel_core_conf: the core and smsbox groups of kannel.conf, on stdout, and a blank line;
# bearerbox's store with store=file.
kannel_core_conf() {
	cat <<CONF
group = core
admin-port = $bb_admin
admin-password = secret
smsbox-port = $bb_box
box-allow-ip = 127.0.0.1
log-file = $work/bearerbox.log
log-level = 2
CONF
	[ "$store" != file ] || printf '%s\n' "store-type = file" \
		"store-location = $work/bearerbox.store" "store-dump-freq = 5"
	cat <<CONF

# bearerbox wants an smsbox group once smsbox-port is set; the box under test takes its place,
# or smsbox itself (its sendsms-port and log are its own; bearerbox reads neither).
group = smsbox
bearerbox-host = 127.0.0.1
sendsms-port = $sendsms_port
log-file = $work/smsbox.log
log-level = 2

CONF
}

bb_status() {
	curl -s -m 2 "http://127.0.0.1:$bb_admin/status.txt?password=secret"
}
bb_boxes() {
	[ "$(bb_status | sed -n '/^Box connections:/,/^SMSC connections:/p' | grep -c 'on-line')" -ge 1 ]
}

# bb_start: a fresh bearerbox on LOAD_CPU (and a fresh store); sets bb_pid.
bb_start() {
	rm -f "$work"/bearerbox.store*
	taskset -c "$load_cpu" "$bearerbox" -v 2 "$work/kannel.conf" >>"$work/bearerbox.out" 2>&1 &
	bb_pid=$!
	pids+=("$bb_pid")
	wait_for 15 curl -sf -m 1 "http://127.0.0.1:$bb_admin/status.txt?password=secret" ||
		{ echo "bearerbox did not start:" >&2; tail -n 5 "$work/bearerbox.out" >&2; exit 1; }
}

# redis_cmds: the commands redis-server (on redis_port) has processed so far.
redis_cmds() {
	redis-cli -p "$redis_port" info stats | tr -d '\r' | sed -n 's/^total_commands_processed://p'
}

# ceirgw_conf FILE LINE...: ceirgw's configuration, its own ports and redis-server, with LINEs;
# sets http_port.
ceirgw_conf() {
	local f=$1
	shift
	http_port=$(free_port)
	{
		printf '%s\n' "group = ceirgw" "http-listen = 127.0.0.1:$http_port" \
			"admin-listen = 127.0.0.1:$(free_port)" "redis = redis://127.0.0.1:$redis_port" \
			"log-level = warn" "rate-check-msisdn = 1000000/3600" \
			"rate-check-imei = 1000000/3600"
		printf '%s\n' "$@"
	} >"$f"
}

# smsbox_start CONF: smsbox with CONF on BOX_CPU, connected to bearerbox; sets smsbox_pid.
smsbox_start() {
	taskset -c "$box_cpu" "$smsbox" -v 2 "$1" >>"$work/smsbox.out" 2>&1 &
	smsbox_pid=$!
	pids+=("$smsbox_pid")
	wait_for 15 bb_boxes ||
		{ echo "smsbox did not connect:" >&2; tail -n 5 "$work/smsbox.out" >&2; exit 1; }
}

# smsbox_conf FILE URL [QUERY]: kannel.conf with the sms-service of doc/kannel.md ("smsbox over
# HTTP", contrib/kannel/smsbox-http.conf) fetching URL for every MO, and the sendsms-user
# ceirgw's notifications would use. QUERY (such as "meta=%D&") goes before the query of
# smsbox-http.conf's get-url (from=%p&to=%P&text=%a&smsc=%i).
smsbox_conf() {
	local q=${3:-}
	q=${q//&/\\&}	# sed's replacement: & is the match
	{
		cat "$work/kannel.conf"
		echo
		sed -e "s|\"http://127.0.0.1:8080/sms?|\"$2?$q|" -e 's/^password = .*/password = secret/' \
			"$top/contrib/kannel/smsbox-http.conf"
	} >"$1"
}
