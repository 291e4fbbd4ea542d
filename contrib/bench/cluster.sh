#!/bin/bash
# Benchmarks of issue 16, ceirgw on a Redis Cluster: each part prints its own table.
#   contrib/bench/cluster.sh
# Environment: BUILD (./build), and each script's own (see its head).
set -uo pipefail
bench=$(cd "$(dirname "$0")" && pwd)
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

part "Check and report journeys: a 3-master cluster against one redis-server" cluster-journeys.sh
if [ ${#failed[@]} -gt 0 ]; then
	echo
	echo "failed: ${failed[*]}"
	exit 1
fi
