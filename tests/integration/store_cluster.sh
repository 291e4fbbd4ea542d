# The asynchronous store on a real Redis Cluster: starts 3 masters and 3 replicas on
# loopback and runs test_store_cluster (cmocka, TAP) against them.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster_lib.sh"

if ! cluster_start 3 1 >"$TEST_TMP/cluster-start.log" 2>&1; then
	cat "$TEST_TMP/cluster-start.log"
	echo "1..1"
	echo "not ok 1 - a 3+3 cluster starts"
	exit 1
fi
CLUSTER_SEEDS=$CLUSTER_SEEDS CMOCKA_MESSAGE_OUTPUT=TAP \
	"$top_builddir/tests/integration/test_store_cluster"
