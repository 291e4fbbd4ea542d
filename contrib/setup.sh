#!/bin/bash
# Sets ceirgw up on Debian 12 from this source tree, then runs it or its tests.
#   contrib/setup.sh run [--port N]
#                           install packages, build, start the demo: ceirgw on its embedded
#                           default with demo data, and a terminal phone to dial *384# from
#                           (--port: its HTTP port, default 8080; contrib/demo/run.sh --help)
#   contrib/setup.sh test   install packages, build (warnings are errors), run every test
#   contrib/setup.sh build  build only (packages already there)
# Builds out of tree in ./build. Installing packages needs root (or sudo).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

install_packages() {
	local sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	# shellcheck disable=SC2046
	$sudo apt-get update
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y \
		$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' contrib/debian-packages)
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y nodejs npm
	fi
}

build() {
	autoreconf -fi
	mkdir -p build
	(cd build && ../configure --enable-werror && make -j"$(nproc)")
}

# Prints "N passed, N failed" from automake's summary of the last make check.
summary() {
	local log=$1 pass fail
	pass=$(sed -n 's/^# PASS: *\([0-9]*\).*/\1/p' "$log" | tail -1)
	fail=$(sed -n 's/^# \(FAIL\|ERROR\|XPASS\): *\([0-9]*\).*/\2/p' "$log" |
	       awk '{s += $1} END {print s + 0}')
	echo "${pass:-0} passed, ${fail:-0} failed"
}

case ${1:-} in
run)
	install_packages
	build
	exec contrib/demo/run.sh "${@:2}" "$top/build"
	;;
test)
	install_packages
	build
	# The USSD centre simulator of the SMPP tests (npm package smpp, pinned in its lock).
	(cd tests/smpp-sim && npm ci --no-audit --no-fund)
	status=0
	make -C build -j"$(nproc)" check 2>&1 | tee build/check.log || status=$?
	summary build/check.log
	exit "$status"
	;;
build)
	build
	;;
*)
	echo "usage: $0 run|test|build" >&2
	exit 2
	;;
esac
