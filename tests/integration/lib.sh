# Shared helpers for the shell integration tests: TAP output, temporary folders that are
# removed on exit, free ports, waiting for a condition, and the processes a test starts (its
# redis-server, ceirgw and its configuration, a sendsms endpoint). Sourced, not run.
# journey_lib.sh has the callers of ceirgw's USSD and SMS callbacks.
# Environment (set by make check): top_srcdir, top_builddir, REDIS_SERVER.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${REDIS_SERVER:=redis-server}"
# A VPATH build passes ".../build/.."; the programs print resolved paths.
top_srcdir=$(cd "$top_srcdir" && pwd -P)
CEIRGW=$top_builddir/src/ceirgw
CEIRGWCTL=$top_builddir/src/ceirgwctl
REDIS_CLI=${REDIS_CLI:-$(command -v redis-cli)}

tap_n=0
tap_failed=0

# ok COND_EXIT_STATUS DESCRIPTION
ok() {
	tap_n=$((tap_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $tap_n - $2"
	else
		echo "not ok $tap_n - $2"
		tap_failed=$((tap_failed + 1))
	fi
}

# is GOT WANT DESCRIPTION
is() {
	if [ "$1" = "$2" ]; then
		ok 0 "$3"
	else
		ok 1 "$3"
		echo "#   got:  '$1'"
		echo "#   want: '$2'"
	fi
}

# like GOT SUBSTRING DESCRIPTION
like() {
	case $1 in
	*"$2"*) ok 0 "$3" ;;
	*) ok 1 "$3"; echo "#   '$1'"; echo "#   does not contain '$2'" ;;
	esac
}

# compare_transcript EXPECTED GOT NAME: one TAP line per line, so that a failure names the
# input; with UPDATE_EXP set, EXPECTED is rewritten from GOT first (review the diff).
compare_transcript() {
	local lineno=0 want got
	[ -n "${UPDATE_EXP:-}" ] && cp "$2" "$1"
	is "$(wc -l <"$2")" "$(wc -l <"$1")" "$3: as many lines as expected"
	while IFS= read -r want <&3 && IFS= read -r got <&4; do
		lineno=$((lineno + 1))
		if [ "$got" = "$want" ]; then
			ok 0 "$3 line $lineno"
		else
			ok 1 "$3 line $lineno"
			echo "#   got:  $got"
			echo "#   want: $want"
		fi
	done 3<"$1" 4<"$2"
}

done_testing() {
	echo "1..$tap_n"
	[ "$tap_failed" -eq 0 ]
}

# A temporary folder removed when the test exits, with whatever it started killed.
TEST_TMP=$(mktemp -d /tmp/ceirgw-it-XXXXXX)
test_pids=""
cleanup() {
	for p in $test_pids; do kill "$p" 2>/dev/null; done
	sleep 0.2
	for p in $test_pids; do kill -9 "$p" 2>/dev/null; done
	ports_release
	if [ -n "${KEEP_TMP:-}" ]; then echo "# kept $TEST_TMP"; else rm -rf "$TEST_TMP"; fi
}
trap cleanup EXIT

# A TCP port on 127.0.0.1 that nothing listens on now and that no test running on this
# machine has been given: make check runs tests side by side, and a port picked early, for a
# server started later, must not come out twice, in this test or another. Each port given is
# reserved by creating a folder named after it (mkdir is atomic) holding the test's PID; the
# folders go when the test exits, and one whose test is gone is taken back.
# Below the kernel's ephemeral range: no client socket, of this test or another, can be
# holding it when its server binds it.
eph_low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
[ "$eph_low" -gt 21000 ] 2>/dev/null || eph_low=32768
PORTS_DIR=${TMPDIR:-/tmp}/ceirgw-test-ports
mkdir -p "$PORTS_DIR" 2>/dev/null
chmod 1777 "$PORTS_DIR" 2>/dev/null
port_reserve() {	# port_reserve PORT: 0 when it is now this test's
	local owner
	if mkdir "$PORTS_DIR/$1" 2>/dev/null; then
		echo "$$" >"$PORTS_DIR/$1/pid"
		echo "$1" >>"$TEST_TMP/.ports"
		return 0
	fi
	owner=$(cat "$PORTS_DIR/$1/pid" 2>/dev/null)
	# A folder without a PID may be one being made this moment: left alone.
	if [ -n "$owner" ] && [ "$owner" != "$$" ] && ! kill -0 "$owner" 2>/dev/null; then
		rm -rf "$PORTS_DIR/$1"
	fi
	return 1
}
free_port() {
	local p
	while :; do
		p=$(( (RANDOM * 32768 + RANDOM) % (eph_low - 20000) + 20000 ))
		port_reserve "$p" || continue
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
}
ports_release() {
	local p
	[ -f "$TEST_TMP/.ports" ] || return 0
	while read -r p; do
		[ "$(cat "$PORTS_DIR/$p/pid" 2>/dev/null)" = "$$" ] && rm -rf "$PORTS_DIR/$p"
	done <"$TEST_TMP/.ports"
}

# wait_for SECONDS COMMAND...: runs COMMAND every 50 ms until it succeeds.
wait_for() {
	local deadline=$(( $(date +%s) + $1 ))
	shift
	while ! "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -ge "$deadline" ] && return 1
		sleep 0.05
	done
}

# wait_exit SECONDS PID: waits for a child of this shell to exit and sets exit_status to
# its status, or to "timeout".
wait_exit() {
	local deadline=$(( $(date +%s) + $1 ))
	while kill -0 "$2" 2>/dev/null; do
		if [ "$(date +%s)" -ge "$deadline" ]; then
			exit_status=timeout
			return 1
		fi
		sleep 0.05
	done
	wait "$2"
	exit_status=$?
}

# ---- the processes of a test --------------------------------------------------------------
#   redis_start [OPTION...]  a redis-server of the test's own on 127.0.0.1:$rport (a free port
#                        when rport is unset), no persistence but what OPTION... asks for, its
#                        files in $TEST_TMP; sets rport and redis_pid and waits until it
#                        answers (the status). Again after a stop: the same port and folder.
#   R ARGS...            redis-cli on it (backend_lib.sh: on the test's back-end)
#   redis_own NAME       another redis-server of the test's, its port in NAME_rport
#   kyc_key              a new KYC key in $TEST_TMP/kyc.key (kyc-key-file = kyc.key)
#   gw_conf REDIS LOG-LEVEL [LINE...]
#                        $TEST_TMP/ceirgw.conf: ceirgw on 127.0.0.1:$hport, its admin server
#                        (/metrics) on a free port each time, in aport, on the Redis that
#                        REDIS names (its lines: "redis = ...", $BACKEND_REDIS_CONF), a new
#                        KYC key (kyc_key), its log in ceirgw.log at LOG-LEVEL, its SMS to a
#                        sendsms endpoint on $pport (user ceirgw, password secret) when pport
#                        is set; then LINE..., a setting each
#   pairings_csv ROW...  $TEST_TMP/pairings.csv: its header, then a row an argument
#                        (imei,msisdn,imsi,first_seen,last_seen)
#   kyc_csv ROW...       $TEST_TMP/kyc.csv: its header, then a row an argument
#                        (msisdn,national_id)
#   phone_row A|B|C      the pairings row of a phone many tests share, last seen today: A
#                        (356938035643809, Nokia N900) from 2025-01-01 and B (353320000000013,
#                        Samsung SGH-W110) from 2025-06-01 on 254712345678, IMSI
#                        639021000000001; C (353322001234567, Siemens A52) from 2025-01-01 on
#                        254722000111, IMSI 639021000000002. KYC_OWNER and KYC_OWNER2: the KYC
#                        rows of those two numbers (IDs 31415926 and A9876543)
#   import_pairings [CONF] / import_kyc [CONF]
#                        ceirgwctl imports $TEST_TMP/pairings.csv / kyc.csv with CONF (default
#                        $TEST_TMP/ceirgw.conf), rejects to rej.csv / rej2.csv; what it says
#                        and its status
#   gw_spawn [CONF]      ceirgw -c CONF (default $TEST_TMP/ceirgw.conf) in the background, its
#                        standard error added to CONF's name with .err for .conf; sets gw
#   gw_start [CONF]      gw_spawn, then waits (10 s) until $url/healthz (default
#                        http://127.0.0.1:$hport) answers; bails out, with the end of
#                        ceirgw's standard error and log, when it does not
#   gw_stop              SIGTERM to $gw; a TAP line: "ceirgw stops cleanly" (status 0, 10 s)
#   sanitizer_clean [ERR]    a TAP line: no sanitizer report in ERR (default ceirgw.err)
#   sendsms_start PORT LOG [--auth USER:PASSWORD] [FIELD...]
#                        a sendsms endpoint (tests/tools/sendsms_recorder.py) on PORT that
#                        adds each SMS to LOG, one line of the fields FIELD... (default: to
#                        text); sets sendsms_pid and waits until it listens
#   render LANG KEY [NAME=VALUE...]   a text of the flows as ceirgw renders it

# shellcheck disable=SC2120 # (its arguments are optional)
redis_start() {
	: "${rport:=$(free_port)}"
	"$REDIS_SERVER" --port "$rport" --bind 127.0.0.1 --save '' --appendonly no \
		--dir "$TEST_TMP" "$@" >>"$TEST_TMP/redis.log" 2>&1 &
	redis_pid=$!
	test_pids="$test_pids $redis_pid"
	# The server that answers must be this one: a PING alone is answered by any Redis on
	# the port, another test's too if this one could not bind it.
	wait_for 10 redis_is_ours && return
	echo "# redis-server did not come up on port $rport; the end of its log:"
	tail -5 "$TEST_TMP/redis.log" | sed 's/^/#   /'
	return 1
}

redis_is_ours() {
	[ "$(R info server 2>/dev/null | tr -d '\r' | sed -n 's/^process_id://p')" = "$redis_pid" ]
}

R() { "$REDIS_CLI" -p "$rport" "$@"; }

# redis_own NAME: another redis-server, for a test that needs more than one (a country each,
# say): on a free port, its files in $TEST_TMP/NAME; sets NAME_rport, waits until it answers.
redis_own() {
	local port pid
	port=$(free_port)
	mkdir -p "$TEST_TMP/$1"
	"$REDIS_SERVER" --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
		--dir "$TEST_TMP/$1" >>"$TEST_TMP/$1/redis.log" 2>&1 &
	pid=$!
	test_pids="$test_pids $pid"
	printf -v "${1}_rport" %s "$port"
	wait_for 10 redis_pid_is "$port" "$pid" && return
	echo "Bail out! the redis-server of $1 did not start"
	exit 1
}
redis_pid_is() {	# redis_pid_is PORT PID: the Redis on PORT is the process PID
	[ "$("$REDIS_CLI" -p "$1" info server 2>/dev/null | tr -d '\r' |
		sed -n 's/^process_id://p')" = "$2" ]
}

kyc_key() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TEST_TMP/kyc.key"; }

# shellcheck disable=SC2154 # (hport, pport: the test's)
gw_conf() {
	local redis=$1 level=$2
	shift 2
	kyc_key
	# Never the default 9384: tests run side by side, each ceirgw with its own.
	aport=$(free_port)
	{
		printf '%s\n' "group = ceirgw" "http-listen = 127.0.0.1:$hport" \
			"admin-listen = 127.0.0.1:$aport" "$redis" \
			"kyc-key-file = kyc.key" "log-file = ceirgw.log" "log-level = $level"
		[ -z "${pport:-}" ] || printf '%s\n' \
			"sendsms-url = http://127.0.0.1:$pport/cgi-bin/sendsms" \
			"sendsms-username = ceirgw" "sendsms-password = secret"
		[ $# -eq 0 ] || printf '%s\n' "$@"
	} >"$TEST_TMP/ceirgw.conf"
}

pairings_csv() {
	printf '%s\n' "imei,msisdn,imsi,first_seen,last_seen" "$@" >"$TEST_TMP/pairings.csv"
}
kyc_csv() { printf '%s\n' "msisdn,national_id" "$@" >"$TEST_TMP/kyc.csv"; }

phone_row() {
	local today
	today=$(date -u +%F)
	case $1 in
	A) echo "356938035643809,254712345678,639021000000001,2025-01-01,$today" ;;
	B) echo "353320000000013,254712345678,639021000000001,2025-06-01,$today" ;;
	C) echo "353322001234567,254722000111,639021000000002,2025-01-01,$today" ;;
	*) echo "phone_row: no phone $1" >&2; return 1 ;;
	esac
}
# shellcheck disable=SC2034 # (the tests')
KYC_OWNER=254712345678,31415926
# shellcheck disable=SC2034
KYC_OWNER2=254722000111,A9876543

# shellcheck disable=SC2120 # (its arguments are optional)
import_pairings() {
	"$CEIRGWCTL" import pairings -c "${1:-$TEST_TMP/ceirgw.conf}" --rejects "$TEST_TMP/rej.csv" \
		"$TEST_TMP/pairings.csv" || [ $? -eq 3 ]	# 3: stored, some rows rejected
}

# shellcheck disable=SC2120 # (its arguments are optional)
import_kyc() {
	"$CEIRGWCTL" import kyc -c "${1:-$TEST_TMP/ceirgw.conf}" --rejects "$TEST_TMP/rej2.csv" \
		"$TEST_TMP/kyc.csv" || [ $? -eq 3 ]
}

# shellcheck disable=SC2120 # (its arguments are optional)
# admin_line: an admin-listen line on a free port, for the tests that write their own
# configuration (every ceirgw started needs its own admin port when tests run side by side).
admin_line() { echo "admin-listen = 127.0.0.1:$(free_port)"; }

gw_spawn() {
	local conf=${1:-$TEST_TMP/ceirgw.conf}
	"$CEIRGW" -c "$conf" 2>>"${conf%.conf}.err" &
	gw=$!
	test_pids="$test_pids $gw"
}

# shellcheck disable=SC2120 # (its arguments are optional)
gw_start() {
	local conf=${1:-$TEST_TMP/ceirgw.conf}
	gw_spawn "$conf"
	wait_for 10 curl -sf "${url:-http://127.0.0.1:$hport}/healthz" && return
	tail -n 5 "${conf%.conf}.err" "${conf%.conf}.log" 2>&1 | sed 's/^/# /'
	echo "Bail out! ceirgw did not start"
	exit 1
}

gw_stop() {
	kill "$gw"
	wait_exit 10 "$gw"
	is "$exit_status" 0 "ceirgw stops cleanly"
}

# shellcheck disable=SC2120 # (its arguments are optional)
sanitizer_clean() {
	local err=${1:-$TEST_TMP/ceirgw.err}
	grep -E "Sanitizer|runtime error" "$err" | head -n 5 | sed 's/^/# /'
	is "$(grep -cE "Sanitizer|runtime error" "$err")" 0 "no sanitizer report from ceirgw"
}

sendsms_start() {
	local port=$1
	shift
	/usr/bin/python3 "$top_srcdir/tests/tools/sendsms_recorder.py" "$port" "$@" \
		2>>"$TEST_TMP/sendsms.err" &
	sendsms_pid=$!
	test_pids="$test_pids $sendsms_pid"
	wait_for 10 curl -s -o /dev/null "http://127.0.0.1:$port/"
}

render() { "$CEIRGWCTL" flows render "$@"; }

# waiting LANG KEY [NAME=VALUE]...: a screen past the start that waits for input as ceirgw
# shows it: the text KEY, then the back and home lines (flows/ceir.yaml's back and home,
# issue 18). waiting_back: the back line only, where the screen leaves no room for the home
# line (00 goes home all the same).
waiting() {
	printf '%s\n%s\n%s' "$(render "$@")" "$(render "$1" common.back)" "$(render "$1" common.home)"
}
waiting_back() { printf '%s\n%s' "$(render "$@")" "$(render "$1" common.back)"; }
