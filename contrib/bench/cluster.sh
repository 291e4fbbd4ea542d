#!/bin/bash
# make bench-cluster: the Redis Cluster benchmarks of issue 16, one step after the other,
# each printing its own table. A step that fails is reported and the others still run.
#   contrib/bench/cluster.sh        (or: make bench-cluster)
# Environment: BUILD (./build); CLUSTER_IMPORT_ROWS (10000000); each script's own (see its head).
# Nothing else should run meanwhile.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bench=$top/contrib/bench
BUILD=$(cd "${BUILD:-$top/build}" 2>/dev/null && pwd) ||
	{ echo "cluster.sh: no build directory ${BUILD:-$top/build} (contrib/setup.sh build, or BUILD=DIR)" >&2; exit 1; }
export BUILD
failed=()

# step TITLE SCRIPT ARGS...
step() {
	local title=$1 script=$2
	shift 2
	printf '\n== %s (contrib/bench/%s)\n\n' "$title" "$script"
	if ! bash "$bench/$script" "$@"; then
		failed+=("$script")
		echo "** $script failed"
	fi
}

echo "ceirgw cluster benchmarks, $(date -u +%FT%TZ)"
step "Import of pairings: a 3-master cluster and one redis-server" \
	import-cluster.sh "$BUILD" "${CLUSTER_IMPORT_ROWS:-10000000}"
step "Check and report journeys: a 3-master cluster against one redis-server" \
	cluster-journeys.sh

if [ ${#failed[@]} -gt 0 ]; then
	echo
	echo "failed: ${failed[*]}"
	exit 1
fi
