# Journeys on a Redis Cluster for the cluster tests (cluster_failover.sh, cluster_reshard.sh):
# operator data, ceirgw on the cluster with a sendsms endpoint of ours, the load driver
# (tests/tools/journey_load.py) and what is read back (tests/tools/cluster_check.py).
# Sourced after lib.sh and cluster_lib.sh, once cluster_start has set CLUSTER_SEEDS; not run.
# (replicas_single.sh uses all but cj_start on one Redis: CLUSTER_SEEDS=redis://host:port.)
# It sources journey_lib.sh.
#
#   cj_data OWNERS CHECKS NAME:O1-O2:C1-C2...
#                          owner k (+25471 and k on 7 digits) has one phone (a TAC of three
#                          by turns and k on 6 digits) and an ID on record; check phone j
#                          (TAC, 500000 + j) is used by +25472 and j and checked by +25473 and
#                          j. NAME.jobs: owners O1..O2 report, phones C1..C2 are checked, a
#                          check after every three reports. Two TAP lines.
#   cj_conf REDIS          ceirgw.conf (journey_lib.sh's gw_conf) on the Redis REDIS names,
#                          with redis-replicas-ack 1, redis-timeout REDIS_TIMEOUT, the sweep
#                          at 11 s and rate limits out of the way
#   cj_start               cj_conf on the cluster, the import (ceirgwctl, that
#                          configuration), the sendsms endpoint, ceirgw; sets gw. TAP lines;
#                          bails out when ceirgw does not come up.
#   load NAME [OPTION...]  journey_load.py over NAME.jobs: NAME.journeys, NAME.summary
#   summary NAME KEY       a value of NAME.summary
#   outcomes NAME [FROM]   "outcome count ..." of the journeys (of index FROM and later)
#   count NAME OUTCOME [FROM]
#   check_stream JOURNEYS...      cluster_check.py stream: "key value" lines
#   check_receipts JOURNEYS...    cluster_check.py receipts
#   field TEXT KEY         the value of "KEY value" in TEXT
#   receipts_done JOURNEYS...     no receipt missing, none left in a report's outbox
#   stream_in_the_end WHAT JOURNEYS...
#                          check_stream over JOURNEYS: two TAP lines, every reference a user
#                          saw on the stream exactly once (WHAT after that) and no request id
#                          or phone twice, with what it found as comments
#   progress_at_least NAME N      the driver has ended N journeys
#   cj_end                 TAP lines: ceirgw is the process it was at the start, has no
#                          sanitizer report, stops cleanly; the test's time as a comment
# shellcheck disable=SC2034,SC2154 # (BOUND_MS: the test's to use; top_srcdir...: lib.sh's)

# The tests that source this file load the whole machine (a 3+3 cluster, ceirgw, 12 journeys
# in flight) and judge every answer against a failover's or a migration's course: under
# make -j they take turns, not share two cores. (Its processes inherit the lock and die with
# the test; the wait is bounded all the same.)
. "$(dirname "${BASH_SOURCE[0]}")/journey_lib.sh"

exec 8>"${TMPDIR:-/tmp}/ceirgw-cluster-journeys.lock"
flock -w 900 8 || echo "# cluster_journeys_lib: another cluster journey test held the lock for 15 min"

PYTHON=/usr/bin/python3
LOAD=$top_srcdir/tests/tools/journey_load.py
CHECK=$top_srcdir/tests/tools/cluster_check.py
: "${REDIS_TIMEOUT:=1000}"	# ms, ceirgw's redis-timeout
BOUND_MS=$((3 * REDIS_TIMEOUT + 1000))	# every request answered within this
OUTBOX=ceirgw:outbox-http	# the receipts on their way to sendsms
hport=$(free_port)
pport=$(free_port)
url=http://127.0.0.1:$hport

cj_data() {
	local owners=$1 checks=$2
	shift 2
	"$PYTHON" - "$TEST_TMP" "$(date -u +%F)" "$owners" "$checks" "$@" <<'EOF'
import sys
d, today, n_own, n_chk, specs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5:]
def luhn(body):
    s = 0
    for i, ch in enumerate(body):
        x = (ord(ch) - 48) * (2 if i % 2 else 1)
        s += x - 9 if x > 9 else x
    return body + str((10 - s % 10) % 10)
TACS = [("35693803", "Nokia", "N900"), ("35332000", "Samsung", "SGH-W110"),
        ("35332200", "Siemens", "A52")]
pairings = open(d + "/pairings.csv", "w")
kyc = open(d + "/kyc.csv", "w")
pairings.write("imei,msisdn,imsi,first_seen,last_seen\n")
kyc.write("msisdn,national_id\n")
owners, checks = {}, {}
for k in range(1, n_own + 1):
    tac, maker, model = TACS[k % 3]
    imei, msisdn, nid = luhn(tac + "%06d" % k), "+25471%07d" % k, "3%07d" % (k * 7919 % 10**7)
    pairings.write("%s,%s,6390200%08d,2025-01-01,%s\n" % (imei, msisdn[1:], k, today))
    kyc.write("%s,%s\n" % (msisdn[1:], nid))
    owners[k] = "R\t%s\t%s\t%s\t%s\t%s\n" % (msisdn, imei, nid[-4:], maker, model)
for j in range(1, n_chk + 1):
    tac, maker, model = TACS[j % 3]
    imei = luhn(tac + "%06d" % (500000 + j))
    pairings.write("%s,25472%07d,6390300%08d,2025-01-01,%s\n" % (imei, j, j, today))
    checks[j] = "C\t+25473%07d\t%s\t%s\t%s\n" % (j, imei, maker, model)
for spec in specs:
    name, o, c = spec.split(":")
    o1, o2 = map(int, o.split("-"))
    c1, c2 = map(int, c.split("-"))
    cs = [checks[j] for j in range(c1, c2 + 1)]
    with open("%s/%s.jobs" % (d, name), "w") as f:
        for i, k in enumerate(range(o1, o2 + 1)):
            f.write(owners[k])
            if i % 3 == 2 and cs:
                f.write(cs.pop(0))
        f.writelines(cs)
EOF
	ok $? "data for $owners owners and $checks more phones generated"
	is "$(cat "$TEST_TMP"/*.jobs | cut -f3 | sort | uniq -d | wc -l)" 0 \
		"... no phone in two journeys"
}

cj_conf() {
	gw_conf "$1" info "redis-replicas-ack = 1" "redis-timeout = $REDIS_TIMEOUT" \
		"report-sweep-after = 11" "rate-check-msisdn = 1000000/3600" \
		"rate-report-msisdn = 1000000/86400" "rate-verify-msisdn = 1000000/3600" \
		${CJ_CONF_EXTRA:+"$CJ_CONF_EXTRA"}
}

cj_start() {
	local out rows kycrows imei msisdn
	cj_conf "redis-cluster = $CLUSTER_SEEDS"
	rows=$(($(wc -l <"$TEST_TMP/pairings.csv") - 1))
	kycrows=$(($(wc -l <"$TEST_TMP/kyc.csv") - 1))
	out=$(import_pairings 2>&1)
	ok $? "pairings imported into the cluster (ceirgwctl, redis-cluster in its configuration)"
	like "$out" "$rows imported, 0 rejected" "... all $rows of them"
	out=$(import_kyc 2>&1)
	ok $? "KYC imported into the cluster"
	like "$out" "$kycrows imported, 0 rejected" "... all $kycrows owners"
	# (in the cluster, not some other Redis: the first owner's pairing and ID buckets)
	imei=$(awk -F, 'NR == 2 { print $1 }' "$TEST_TMP/pairings.csv")
	msisdn=$(awk -F, 'NR == 2 { print $1 }' "$TEST_TMP/kyc.csv")
	is "$(RC exists "pi:{${imei:9:5}}")/$(RC exists "kyc:{${msisdn: -5}}")" 1/1 \
		"... into the cluster's nodes"

	# The sendsms endpoint (Kannel's interface): records each SMS as "to TAB text".
	sendsms_start "$pport" "$TEST_TMP/sms.log"
	ok $? "the sendsms endpoint is up"
	gw_start
	ok $? "ceirgw is up on the cluster"
}

load() {
	local name=$1
	shift
	"$PYTHON" "$LOAD" --url "$url" --ctl "$CEIRGWCTL" --jobs "$TEST_TMP/$name.jobs" \
		--out "$TEST_TMP/$name" --tag "$name" --workers 12 --timeout 10 "$@"
}
summary() { sed -n "s/^$2=//p" "$TEST_TMP/$1.summary"; }
outcomes() {
	awk -F'\t' -v from="${2:-0}" '$1 >= from { n[$7]++ }
		END { for (o in n) printf "%s %d\n", o, n[o] }' "$TEST_TMP/$1.journeys" | sort | xargs
}
count() {
	awk -F'\t' -v o="$2" -v from="${3:-0}" '$1 >= from && $7 == o { n++ } END { print n + 0 }' \
		"$TEST_TMP/$1.journeys"
}
check_stream() { "$PYTHON" "$CHECK" "$CLUSTER_SEEDS" stream ceir:requests "$@"; }
check_receipts() {
	"$PYTHON" "$CHECK" "$CLUSTER_SEEDS" receipts "$OUTBOX" "$TEST_TMP/sms.log" "$@"
}
field() { printf '%s\n' "$1" | sed -n "s/^$2 //p"; }
# Every receipt delivered, or queued on the outbox stream, and none left in a report's
# outbox (a relay cut short is finished by ceirgw's sweep, every 10 s, 10 s after the mark).
receipts_done() {
	local s
	s=$(check_receipts "$@")
	[ "$(field "$s" missing)/$(field "$s" pending)/$(field "$s" stale)" = 0/0/0 ]
}
stream_in_the_end() {
	local s what=$1
	shift
	s=$(check_stream "$@")
	printf '%s\n' "$s" | grep '^#' | sed 's/^/#   /'
	is "$(field "$s" missing)/$(field "$s" twice)/$(field "$s" wrong)/$(field "$s" lost)" 0/0/0/0 \
		"in the end: every reference any user saw on the stream exactly once$what"
	is "$(field "$s" dup_ids)/$(field "$s" dup_imeis)/$(field "$s" odd)" 0/0/0 \
		"in the end: no request id or phone twice on the stream"
	echo "# in the end: $(field "$s" blocks) block requests for $(field "$s" seen) references seen"
}
progress_at_least() {
	[ "$(cut -d' ' -f2 "$TEST_TMP/$1.progress" 2>/dev/null || echo 0)" -ge "$2" ]
}
cj_end() {
	kill -0 "$gw" 2>/dev/null
	ok $? "ceirgw is the process it was at the start"
	sanitizer_clean
	gw_stop
	echo "# $(( $(date +%s) - t_start )) s"
}
