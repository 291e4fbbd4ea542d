# The CEIR's results left pending by a ceirgw that stopped (its consumer is named by host and
# pid, so a restarted ceirgw is another consumer): the next ceirgw takes the whole backlog
# over at once, batch after batch with XAUTOCLAIM's cursor, not 32 every 30 s. On one
# redis-server, or a cluster with CEIRGW_TEST_BACKEND=cluster (backend_lib.sh).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/backend_lib.sh"

hport=$(free_port)
backend_start

N=3000
pending_is() { [ "$(R XPENDING ceir:results ceirgw | head -n1)" = "$1" ]; }
# Results for references no report has (ceirgw logs and acknowledges each), read by a
# consumer of a ceirgw that is gone, and idle for 2 minutes already.
R XGROUP CREATE ceir:results ceirgw 0 MKSTREAM >/dev/null
for i in $(seq 1 $N); do
	printf 'XADD ceir:results * ref %010d imei 356938035643809 result blocked reason ok\n' \
		$((1000000000 + i))
done | R >/dev/null
R XREADGROUP GROUP ceirgw gone-host-1 COUNT $N STREAMS ceir:results '>' >/dev/null
R XPENDING ceir:results ceirgw - + $N gone-host-1 | awk 'NR % 4 == 1' >"$TEST_TMP/ids"
# shellcheck disable=SC2086 # $ids: 500 entry ids
xargs -n 500 <"$TEST_TMP/ids" | while read -r ids; do
	R XCLAIM ceir:results ceirgw gone-host-1 0 $ids IDLE 120000 JUSTID >/dev/null
done
is "$(R XPENDING ceir:results ceirgw | head -n1)" "$N" "$N results pending for a stopped consumer"

gw_conf "$BACKEND_REDIS_CONF" info
gw_start
ok $? "ceirgw is up"
t0=$(date +%s%N)
wait_for 30 pending_is 0
ok $? "the whole backlog taken over and acknowledged"
echo "# drained $N results in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
is "$(grep -cE 'unknown report|not a result' "$TEST_TMP/ceirgw.log")" "$N" \
	"each result handled once (none of them has a report: each logged and dropped)"

gw_stop
done_testing
