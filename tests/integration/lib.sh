# Shared helpers for the shell integration tests: TAP output, temporary folders that are
# removed on exit, free ports, waiting for a condition. Sourced, not run.
# Environment (set by make check): top_srcdir, top_builddir, REDIS_SERVER.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${REDIS_SERVER:=redis-server}"
# A VPATH build passes ".../build/.."; the programs print resolved paths.
top_srcdir=$(cd "$top_srcdir" && pwd -P)
CEIRGW=$top_builddir/src/ceirgw
CEIRGWCTL=$top_builddir/src/ceirgwctl

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
	if [ -n "${KEEP_TMP:-}" ]; then echo "# kept $TEST_TMP"; else rm -rf "$TEST_TMP"; fi
}
trap cleanup EXIT

# A TCP port on 127.0.0.1 that nothing listens on now and that this test has not been given
# before (a port picked early, for a server started later, must not come out twice; $(...)
# runs in a subshell, so the ports given are kept in a file).
# Below the kernel's ephemeral range: no client socket, of this test or another, can be
# holding it when its server binds it.
eph_low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
[ "$eph_low" -gt 21000 ] 2>/dev/null || eph_low=32768
free_port() {
	local p
	while :; do
		p=$(( (RANDOM * 32768 + RANDOM) % (eph_low - 20000) + 20000 ))
		grep -qx "$p" "$TEST_TMP/.ports" 2>/dev/null && continue
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p" >>"$TEST_TMP/.ports"
			echo "$p"
			return
		fi
	done
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
