#!/bin/bash
# make bench: every benchmark of issue 8, one after the other in one run, each printing its
# own table, then one closing table of every target with its measured ratio or figure.
#   contrib/bench/all.sh            (or: make bench)
# Environment: BUILD (./build); IMPORT_ROWS (10000000); IMPORT_REPORTED (10000: open reports
# among the rows of the reported imports, issue 22), IMPORT_ROUNDS (3: rounds of a plain and a
# reported import); and each script's own (see its head),
# passed through: BASE_REV=REV (and REPEATS) has run.sh measure REV's ceirgw next to this build.
# Takes about 3 minutes on the 2-core machine; nothing else should run meanwhile. run-ussd.sh needs
# tests/smpp-sim's npm packages (cd tests/smpp-sim && npm ci).
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bench=$top/contrib/bench
BUILD=$(cd "${BUILD:-$top/build}" 2>/dev/null && pwd) ||
	{ echo "all.sh: no build directory ${BUILD:-$top/build} (contrib/setup.sh build, or BUILD=DIR)" >&2; exit 1; }
export BUILD
BENCH_SUMMARY=$(mktemp /tmp/ceirgw-bench-summary-XXXXXX)
export BENCH_SUMMARY
trap 'rm -f "$BENCH_SUMMARY"' EXIT
failed=()

# part TITLE SCRIPT ARGS...: one benchmark; a failure is reported and the others still run.
part() {
	local title=$1 script=$2
	shift 2
	printf '\n== %s (contrib/bench/%s)\n\n' "$title" "$script"
	if ! bash "$bench/$script" "$@"; then
		failed+=("$script")
		echo "** $script failed"
	fi
}

echo "ceirgw benchmarks, $(date -u +%FT%TZ)"
part "HTTP check journey: ceirgw, the null server, the Node peer${BASE_REV:+, ceirgw of $BASE_REV}" run.sh
part "Redis: the commands of one check journey, by redis-benchmark" redis-mix.sh
part "Instructions per check journey under callgrind" callgrind.sh
part "Box path: SMS checks through bearerbox and fakesmsc, boxes and smsbox with get-url" run-box.sh
part "USSD over SMPP: sessions through bearerbox from the simulator, ceirgw and smsbox with get-url" \
	run-ussd.sh
part "Report journey over HTTP against 1e6 imported pairings" report.sh
part "USSD sessions left open" sessions.sh
part "Import of pairings, again with ${IMPORT_REPORTED:-10000} reported IMEIs among them (issue 22)" \
	import.sh --reported "${IMPORT_REPORTED:-10000}" "$BUILD" "${IMPORT_ROWS:-10000000}"
part "Cross-border feed: 1e6 decisions published, followed and checked" feed.sh

printf '\n== Targets (issue 8), from the runs above\n\n'
awk -F'\t' '{ printf "%-62s %12s %10s   %s\n", $1, $2, $3, $4 }' "$BENCH_SUMMARY"
if [ ${#failed[@]} -gt 0 ]; then
	echo
	echo "failed: ${failed[*]}"
	exit 1
fi
