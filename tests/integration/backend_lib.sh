# The Redis back-end of a journey test, in one place: one redis-server, or a Redis Cluster of
# 3 masters and 3 replicas on loopback (cluster_lib.sh). Sourced after lib.sh, not run.
#
# CEIRGW_TEST_BACKEND chooses: "single" (the default) or "cluster". The test entries under
# tests/integration/cluster/ set it to cluster and run the shared scripts, so that make check
# walks each journey test on both.
#
#   backend_start [REDIS-SERVER OPTION...]   starts the back-end and waits until it serves
#                 every key; the options go to the single redis-server only (a cluster's
#                 nodes are started by cluster_start, the DEBUG command enabled). Sets:
#     BACKEND_REDIS_CONF   the lines of ceirgw.conf's group ceirgw that name it:
#                          "redis = redis://127.0.0.1:P" or "redis-cluster = H:P,H:P,..."
#                          (and a data-dir in the test's folder)
#     BACKEND_CONSUMER     the options that point contrib/ceir-consumer at it (an array):
#                          (--redis redis://127.0.0.1:P) or (--redis-cluster H:P,...)
#   R ARGS...             redis-cli on the back-end (lib.sh's on one redis-server). On a
#                         cluster it follows redirections (-c), and the commands that speak of
#                         the whole data set are run on every master and merged: KEYS,
#                         --scan, DBSIZE, FLUSHALL, FLUSHDB, DEBUG (every master at once),
#                         CONFIG SET (every node). With no arguments it reads commands from
#                         standard input, as redis-cli does.
#   r_is WANT ARGS...     succeeds when R ARGS... prints exactly WANT (for wait_for).
#   backend_python ARGS...   /usr/bin/python3 with the module ceirgw_test_backend importable:
#                         backend.connect(**redis_kwargs) gives a redis.Redis or a
#                         redis.cluster.RedisCluster; backend.keys(r, PATTERN) the keys of the
#                         whole data set.
#   backend_masters       the ports of the masters, one a line (single: the one port)
#   backend_port_of_key KEY   the port of the master that serves KEY
#   backend_awake         succeeds when every master answers PING
#   skip DESCRIPTION REASON   a TAP test skipped, with the reason
#
# A test that needs something only one back-end has checks $CEIRGW_TEST_BACKEND itself and
# says why in a skip.
# shellcheck disable=SC2034,SC2154 # (BACKEND_*: the test's to use; rport: lib.sh's)

: "${CEIRGW_TEST_BACKEND:=single}"
case $CEIRGW_TEST_BACKEND in
single | cluster) ;;
*)
	echo "Bail out! CEIRGW_TEST_BACKEND is '$CEIRGW_TEST_BACKEND': single or cluster"
	exit 1
	;;
esac
. "$(dirname "${BASH_SOURCE[0]}")/cluster_lib.sh"

BACKEND_REDIS_CONF=""
BACKEND_CONSUMER=()
backend_port=""	# single: the redis-server; cluster: the node redis-cli -c starts from

# shellcheck disable=SC2120 # (its arguments are optional)
backend_start() {
	echo "# back-end: $CEIRGW_TEST_BACKEND"
	if [ "$CEIRGW_TEST_BACKEND" = cluster ]; then
		cluster_start 3 1 || { echo "Bail out! the Redis Cluster did not start"; exit 1; }
		backend_port=${CLUSTER_PORTS%% *}
		# data-dir: a ceirgw or ceirgwctl that took the file for one without a Redis would
		# start its embedded Redis there, in the test's folder, not in /var/lib/ceirgw.
		BACKEND_REDIS_CONF="redis-cluster = $CLUSTER_SEEDS
data-dir = $TEST_TMP/no-embedded-redis"
		BACKEND_CONSUMER=(--redis-cluster "$CLUSTER_SEEDS")
		export CEIRGW_TEST_REDIS="cluster:$CLUSTER_SEEDS"
		echo "# cluster seeds: $CLUSTER_SEEDS"
	else
		redis_start "$@" || { echo "Bail out! redis-server did not start"; exit 1; }
		backend_port=$rport
		BACKEND_REDIS_CONF="redis = redis://127.0.0.1:$backend_port"
		BACKEND_CONSUMER=(--redis "redis://127.0.0.1:$backend_port")
		export CEIRGW_TEST_REDIS="redis://127.0.0.1:$backend_port"
	fi
}

backend_masters() {
	if [ "$CEIRGW_TEST_BACKEND" = cluster ]; then cluster_masters; else echo "$backend_port"; fi
}

backend_port_of_key() {
	if [ "$CEIRGW_TEST_BACKEND" = cluster ]; then
		cluster_port_of_key "$1"
	else
		echo "$backend_port"
	fi
}

backend_awake() {
	local p
	for p in $(backend_masters); do
		"$REDIS_CLI" -p "$p" ping >/dev/null 2>&1 || return 1
	done
}

# R on a cluster (one redis-server: lib.sh's R): what names keys goes where the key is (-c);
# what speaks of the data set, to every master.
R_cluster() {
	local p pids="" rc=0 n
	case ${1:-} in
	"")	# commands on standard input: redis-cli says where it was redirected; not a reply
		"$REDIS_CLI" -c -p "$backend_port" | grep -v '^-> Redirected to slot'
		return "${PIPESTATUS[0]}"
		;;
	[Kk][Ee][Yy][Ss] | --scan)
		for p in $(cluster_masters); do "$REDIS_CLI" -p "$p" "$@" || rc=1; done
		return $rc
		;;
	[Dd][Bb][Ss][Ii][Zz][Ee])
		local c
		n=0
		for p in $(cluster_masters); do
			c=$("$REDIS_CLI" -p "$p" DBSIZE) || rc=1
			n=$((n + ${c:-0}))
		done
		echo "$n"
		return $rc
		;;
	[Ff][Ll][Uu][Ss][Hh][Aa][Ll][Ll] | [Ff][Ll][Uu][Ss][Hh][Dd][Bb])
		for p in $(cluster_masters); do
			[ "$("$REDIS_CLI" -p "$p" "$@")" = OK ] || rc=1
		done
		[ $rc -eq 0 ] && echo OK
		return $rc
		;;
	[Dd][Ee][Bb][Uu][Gg])	# DEBUG SLEEP: every master at once
		for p in $(cluster_masters); do
			"$REDIS_CLI" -p "$p" "$@" >"$TEST_TMP/.debug.$p" 2>&1 &
			pids="$pids $!"
		done
		for p in $pids; do wait "$p" || rc=1; done
		for p in $(cluster_masters); do cat "$TEST_TMP/.debug.$p"; done | sort -u
		return $rc
		;;
	[Cc][Oo][Nn][Ff][Ii][Gg])
		case ${2:-} in
		[Ss][Ee][Tt])
			for p in $CLUSTER_PORTS; do
				[ "$("$REDIS_CLI" -p "$p" "$@")" = OK ] || rc=1
			done
			[ $rc -eq 0 ] && echo OK
			return $rc
			;;
		esac
		;;
	esac
	"$REDIS_CLI" -c -p "$backend_port" "$@"
}

if [ "$CEIRGW_TEST_BACKEND" = cluster ]; then
	R() { R_cluster "$@"; }
fi

r_is() {
	local want=$1
	shift
	[ "$(R "$@")" = "$want" ]
}

# The tests' Python side of the back-end: a module in the test's folder.
mkdir -p "$TEST_TMP/py"
cat >"$TEST_TMP/py/ceirgw_test_backend.py" <<'EOF'
"""The tests' Redis connection (tests/integration/backend_lib.sh): CEIRGW_TEST_REDIS is
redis://host:port or cluster:host:port,host:port,..."""
import os

import redis


def connect(**kwargs):
    spec = os.environ["CEIRGW_TEST_REDIS"]
    if spec.startswith("cluster:"):
        from redis.cluster import ClusterNode, RedisCluster
        nodes = []
        for seed in spec[len("cluster:"):].split(","):
            host, _, port = seed.rpartition(":")
            nodes.append(ClusterNode(host, int(port)))
        return RedisCluster(startup_nodes=nodes, **kwargs)
    return redis.Redis.from_url(spec, **kwargs)


def keys(r, pattern):
    """Every key matching pattern: on a cluster, from every master."""
    if hasattr(r, "get_primaries"):
        return r.keys(pattern, target_nodes=r.get_primaries())
    return r.keys(pattern)
EOF
backend_python() { PYTHONPATH=$TEST_TMP/py${PYTHONPATH:+:$PYTHONPATH} /usr/bin/python3 "$@"; }

skip() {
	tap_n=$((tap_n + 1))
	echo "ok $tap_n - $1 # SKIP $2"
}
