# One Redis (not a cluster) with one replica, and ceirgw with redis-replicas-ack = 1 (issue
# 16): a write the user is told about waits (WAIT) for the replica, over a second connection
# to the same server; reads, sessions and rate limits do not.
#   1. a master and its replica on loopback, the replica online;
#   2. operator data (pairings, KYC) for 1,000 owners and 330 more phones imported with
#      ceirgwctl, ceirgw on the master (redis = redis://..., redis-replicas-ack 1), receipts
#      queued for a sendsms endpoint of ours (tests/tools/journey_load.py drives the USSD
#      journeys and judges every screen; cluster_journeys_lib.sh has the helpers, and
#      cluster_check.py reads one Redis as well as a cluster);
#   3. a burst of report and check journeys: every report accepted, each reference on
#      ceir:requests exactly once;
#   4. the replica frozen (SIGSTOP) while journeys run (150 started a second): every check
#      and every report step before the confirm answers as due, the confirm may answer "try
#      later", nothing else; a journey started after the freeze is never told "accepted" (its
#      report cannot be on two machines); every request answered within 3 x redis-timeout
#      + 1 s (a hang guard); /healthz says up;
#   5. the replica thawed (SIGCONT): within a few seconds reports are accepted again, then a
#      burst of them all;
#   6. the replica killed (SIGKILL) while journeys run: as 4; started again (a full resync):
#      as 5;
#   7. within 45 s: every receipt of a reference a user saw delivered to sendsms or queued on
#      the outbox stream, no report's outbox rep:{imei}:out left (a confirm whose WAIT came
#      back short may have written the receipt: the relay sweep sends it on), nothing left on
#      the relay index; every report "sent" (told "accepted" or not) has its block request
#      on ceir:requests once and its receipt out; no phone twice on the stream;
#   8. ceirgw stops cleanly, with no caller's number and no PIN in its log, and no sanitizer
#      report.
# Figures (try-later counts, how soon reports are accepted again, latencies, reports left
# half-way) are printed as TAP comments.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster_journeys_lib.sh"

rport=$(free_port)	# the master (redis_start, R)
sport=$(free_port)
# cluster_check.py (check_stream, check_receipts) on one Redis.
CLUSTER_SEEDS=redis://127.0.0.1:$rport
t_start=$(date +%s)

# ---- 1. the master and its replica ----------------------------------------------------------------
# replica_start: the replica of the master, in its own folder; sets spid.
replica_start() {
	mkdir -p "$TEST_TMP/replica"
	"$REDIS_SERVER" --port "$sport" --bind 127.0.0.1 --save '' --appendonly no \
		--replicaof 127.0.0.1 "$rport" --repl-diskless-sync-delay 0 \
		--dir "$TEST_TMP/replica" >>"$TEST_TMP/replica/redis.log" 2>&1 &
	spid=$!
	test_pids="$test_pids $spid"
}
# The master lists its replica online (its first sync done), in INFO and in ROLE.
replica_online() {
	R info replication | tr -d '\r' | grep -q "^slave0:ip=127.0.0.1,port=$sport,state=online," &&
		[ "$(R role | sed -n 3p)" = 127.0.0.1 ]
}
# The replica has every write of the master.
replica_caught_up() {
	local m s
	m=$(R info replication | tr -d '\r' | sed -n 's/^master_repl_offset://p')
	s=$("$REDIS_CLI" -p "$sport" info replication | tr -d '\r' | sed -n 's/^slave_repl_offset://p')
	[ -n "$m" ] && [ "$m" = "$s" ]
}
mkdir -p "$TEST_TMP/master"
redis_start --repl-diskless-sync-delay 0 --dir "$TEST_TMP/master"
ok $? "a redis-server master is up on port $rport"
replica_start
wait_for 20 replica_online
ok $? "its replica (port $sport) is online: the master lists it (INFO replication, ROLE)"

# ---- 2. operator data, the sendsms endpoint, ceirgw -------------------------------------------------
# Owners 1-200 report in the first burst, 201-500 while the replica freezes, 501-540 one by
# one once it thaws, 541-640 in the burst after, 641-940 while it dies, 941-980 one by one
# once it is back, 981-1000 in the burst after; a burst has a check after every three
# reports, then checks of its own.
cj_data 1000 330 run:1-200:1-60 frozen:201-500:61-160 thaw:501-540:1-0 back:541-640:161-190 \
	dead:641-940:191-290 warm:941-980:1-0 again:981-1000:291-330
cj_conf "redis = redis://127.0.0.1:$rport"
rows=$(($(wc -l <"$TEST_TMP/pairings.csv") - 1))
kycrows=$(($(wc -l <"$TEST_TMP/kyc.csv") - 1))
like "$(import_pairings 2>&1)" "$rows imported, 0 rejected" \
	"all $rows pairings imported into the master (ceirgwctl)"
like "$(import_kyc 2>&1)" "$kycrows imported, 0 rejected" "all $kycrows owners' IDs imported"
imei=$(awk -F, 'NR == 2 { print $1 }' "$TEST_TMP/pairings.csv")
wait_for 10 replica_caught_up
is "$("$REDIS_CLI" -p "$sport" exists "pi:{${imei:9:5}}")" 1 "... and replicated"

sendsms_start "$pport" "$TEST_TMP/sms.log"
ok $? "the sendsms endpoint is up"
gw_start
ok $? "ceirgw is up on the master, redis-replicas-ack 1"

# ---- helpers --------------------------------------------------------------------------------------
jobs_of() { awk -F'\t' -v k="$2" '$1 == k' "$TEST_TMP/$1.jobs" | wc -l; }
kind_of() { awk -F'\t' -v k="$2" '$2 == k' "$TEST_TMP/$1.journeys" | wc -l; }
# all_right NAME WHAT: every journey of NAME ended as due: reports accepted, checks ok, every
# request answered within the bound; and each reference seen is on ceir:requests once.
all_right() {
	local name=$1 s max
	is "$(summary "$name" ended)" "$(wc -l <"$TEST_TMP/$name.jobs")" "$2: every journey ran"
	is "$(outcomes "$name")" "accepted $(jobs_of "$name" R) ok $(jobs_of "$name" C)" \
		"$2: all $(jobs_of "$name" R) reports accepted, all $(jobs_of "$name" C) checks answered right"
	awk -F'\t' '$7 != "accepted" && $7 != "ok" { print $1 ": " $7 " at step " $8 ": " $11 }' \
		"$TEST_TMP/$name.journeys" | head -n 5 | sed 's/^/#   /'
	max=$(summary "$name" max_ms)
	awk -v m="$max" -v b="$BOUND_MS" 'BEGIN { exit !(m + 0 < b) }'
	ok $? "$2: every request answered within $BOUND_MS ms (max $max ms)"
	s=$(check_stream "$TEST_TMP/$name.journeys")
	printf '%s\n' "$s" | grep '^#' | sed 's/^/#   /'
	is "$(field "$s" seen)" "$(jobs_of "$name" R)" "$2: the references seen, read back"
	is "$(field "$s" missing)/$(field "$s" twice)/$(field "$s" wrong)/$(field "$s" lost)" 0/0/0/0 \
		"$2: each reference on ceir:requests exactly once, for its IMEI, its report holding it"
	echo "# $name: $(summary "$name" ended) journeys in $(summary "$name" seconds) s;" \
		"latency p50 $(summary "$name" p50_ms) ms, p99 $(summary "$name" p99_ms) ms, max $max ms"
}
# degraded NAME WHAT ACTION...: runs the journeys of NAME, 150 started a second; once 100
# have ended, runs ACTION (which takes the replica away), and lets 150 more journeys start.
# Then: every check ok, every report step before the confirm as due, the confirm as due or
# "try later", nothing else; no journey started after ACTION told "accepted"; every
# request answered within the bound; the references seen on ceir:requests once.
degraded() {
	local name=$1 what=$2 lpid t_event max bad s after
	shift 2
	rm -f "$TEST_TMP/$name.now"
	load "$name" --rate 150 --until-file "$TEST_TMP/$name.now" --after 150 --max-seconds 30 \
		>"$TEST_TMP/$name.out" 2>&1 &
	lpid=$!
	wait_for 20 progress_at_least "$name" 100
	ok $? "$what: 100 journeys ended first"
	"$@"
	t_event=$(date +%s.%N)
	touch "$TEST_TMP/$name.now"
	wait_exit 60 "$lpid"
	is "$exit_status" 0 "$what: the load driver ended"
	is "$(summary "$name" ran_out)" 0 "$what: jobs enough for 150 journeys after"
	is "$(count "$name" error)/$(count "$name" unexpected)" 0/0 \
		"$what: no request unanswered, no screen other than the due one or 'try later'"
	awk -F'\t' '$7 == "error" || $7 == "unexpected" { print $1 ": step " $8 ": " $11 }' \
		"$TEST_TMP/$name.journeys" | head -n 5 | sed 's/^/#   /'
	is "$(count "$name" ok)" "$(kind_of "$name" C)" \
		"$what: all $(kind_of "$name" C) checks answered right, none 'try later'"
	bad=$(awk -F'\t' '$7 == "try_later" && ($2 != "R" || $8 != 6)' "$TEST_TMP/$name.journeys" | wc -l)
	is "$bad" 0 "$what: no 'try later' but at a report's confirm step"
	after=$(awk -F'\t' -v t="$t_event" '$2 == "R" && $5 >= t' "$TEST_TMP/$name.journeys" | wc -l)
	is "$(awk -F'\t' -v t="$t_event" '$2 == "R" && $5 >= t && $7 == "try_later"' \
		"$TEST_TMP/$name.journeys" | wc -l)" "$after" \
		"$what: each of the $after reports started after it answered 'try later', none 'accepted'"
	[ "$after" -ge 50 ]
	ok $? "$what: ... that is, 50 at least ($after)"
	is "$(awk -F'\t' -v t="$t_event" '$6 < t && $7 != "accepted" && $7 != "ok"' \
		"$TEST_TMP/$name.journeys" | wc -l)" 0 "$what: every journey that ended before it answered right"
	max=$(summary "$name" max_ms)
	awk -v m="$max" -v b="$BOUND_MS" 'BEGIN { exit !(m + 0 < b) }'
	ok $? "$what: every request answered within $BOUND_MS ms (max $max ms)"
	s=$(check_stream "$TEST_TMP/$name.journeys")
	printf '%s\n' "$s" | grep '^#' | sed 's/^/#   /'
	is "$(field "$s" seen)/$(field "$s" missing)/$(field "$s" twice)/$(field "$s" wrong)/$(field "$s" lost)" \
		"$(count "$name" accepted)/0/0/0/0" \
		"$what: each reference seen on ceir:requests exactly once, its report holding it"
	echo "# $name: $(summary "$name" ended) journeys in $(summary "$name" seconds) s," \
		"$(awk -F'\t' -v t="$t_event" '$5 < t && $6 >= t' "$TEST_TMP/$name.journeys" | wc -l)" \
		"of them in flight at the event; outcomes: $(outcomes "$name");" \
		"$(count "$name" try_later) of $(kind_of "$name" R) confirms answered 'try later'"
	echo "# $name: latency p50 $(summary "$name" p50_ms) ms, p99 $(summary "$name" p99_ms) ms," \
		"max $max ms; the checks' slowest step: $(awk -F'\t' '$2 == "C" && $10 > m { m = $10 }
		END { print m + 0 }' "$TEST_TMP/$name.journeys") ms"
}
healthz() { curl -s --max-time 5 -o /dev/null -w '%{http_code}' "$url/healthz"; }
# accepted_again NAME: report journeys of NAME one at a time, each a new owner, until one is
# accepted (at most 10 s). Prints "tries seconds".
accepted_again() {
	local t0 i=0 line
	t0=$(date +%s.%N)
	while IFS= read -r line; do
		i=$((i + 1))
		printf '%s\n' "$line" >"$TEST_TMP/$1.$i.jobs"
		load "$1.$i" --workers 1 >/dev/null 2>&1
		if [ "$(count "$1.$i" accepted)" = 1 ]; then
			awk -v a="$t0" -v b="$(date +%s.%N)" -v i="$i" 'BEGIN { printf "%d %.2f\n", i, b - a }'
			return 0
		fi
		awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { exit !(b - a < 10) }' || break
		sleep 0.1
	done <"$TEST_TMP/$1.jobs"
	echo "$i -"
	return 1
}

# ---- 3. the replica online: a burst ----------------------------------------------------------------
load run >"$TEST_TMP/run.out" 2>&1
all_right run "replica online"

# ---- 4. the replica frozen -------------------------------------------------------------------------
degraded frozen "replica frozen" kill -STOP "$spid"
is "$(healthz)" 200 "replica frozen: /healthz answers 200 (the master is up)"
replica_online
ok $? "replica frozen: the master still lists it online (INFO, ROLE)"

# ---- 5. the replica thawed ---------------------------------------------------------------------------
kill -CONT "$spid"
r=$(accepted_again thaw)
ok $? "replica thawed (SIGCONT): a report is accepted again within 10 s"
echo "# thaw: the first report accepted at try ${r% *}, ${r#* } s after SIGCONT"
load back >"$TEST_TMP/back.out" 2>&1
all_right back "replica thawed"

# ---- 6. the replica killed, then started again -----------------------------------------------------
no_replica() { R info replication | tr -d '\r' | grep -qx 'connected_slaves:0'; }
kill_replica() {
	{ kill -9 "$spid"; wait "$spid"; } 2>/dev/null
	wait_for 10 no_replica
}
degraded dead "replica dead" kill_replica
no_replica
ok $? "replica dead: the master lists no replica"
replica_start
wait_for 20 replica_online
ok $? "the replica is started again and online (a full resync)"
t_back=$(date +%s.%N)
r=$(accepted_again warm)
ok $? "replica back: a report is accepted again within 10 s"
echo "# warm: the first report accepted at try ${r% *}," \
	"$(awk -v a="$t_back" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }') s after the replica was online"
load again >"$TEST_TMP/again.out" 2>&1
all_right again "replica back"

# ---- 7. receipts, outboxes, the stream in the end -------------------------------------------------
all_journeys() { ls "$TEST_TMP"/*.journeys; }
# reports_check: every report of the owners' phones as the master holds it, against the
# stream and the SMS: "key value" lines (and "# ..." naming what is wrong, 5 at most):
# sent (reports "sent"), halfway (left "received" or "verified": a confirm told "try later"),
# unblocked (block requests on the stream for them, none expected: the sweep completes them
# only after report-sweep-after, 20 a round), noblock (a sent report without its one block
# request of its reference), noreceipt (a sent report whose receipt neither reached sendsms
# nor waits on the outbox stream).
reports_check() {
	cut -f3 "$TEST_TMP"/*.jobs | sort -u >"$TEST_TMP/imeis"
	"$PYTHON" - "$rport" "$TEST_TMP/imeis" "$TEST_TMP/sms.log" "$OUTBOX" <<'PY'
import collections, sys
import redis
r = redis.Redis(port=int(sys.argv[1]), decode_responses=True)
imeis = [l.strip() for l in open(sys.argv[2]) if l.strip()]
texts = [l.rstrip("\n").partition("\t")[2] for l in open(sys.argv[3], encoding="utf-8")]
if r.exists(sys.argv[4]):
    texts += [f.get("text", "") for _, f in r.xrange(sys.argv[4], "-", "+")]
blocks = collections.defaultdict(list)
for _, f in r.xrange("ceir:requests", "-", "+"):
    if f.get("type") == "block":
        blocks[f.get("imei")].append(f.get("ref"))
n = collections.Counter()
bad = collections.defaultdict(list)
for imei in imeis:
    rep = r.hgetall("rep:{%s}" % imei)
    st, ref = rep.get("state"), rep.get("ref")
    if st == "sent":
        n["sent"] += 1
        if blocks.get(imei) != [ref]:
            bad["noblock"].append("%s %s: %s" % (imei, ref, blocks.get(imei)))
        if not any(("report %s for" % ref) in t for t in texts):
            bad["noreceipt"].append("%s %s" % (imei, ref))
    elif st in ("received", "verified"):
        n["halfway"] += 1
        if blocks.get(imei):
            n["unblocked"] += 1
for k in ("sent", "halfway", "unblocked"):
    print("%s %d" % (k, n[k]))
for k in ("noblock", "noreceipt"):
    print("%s %d" % (k, len(bad[k])))
    for b in bad[k][:5]:
        print("# %s: %s" % (k, b))
PY
}
settled() {
	local s
	# shellcheck disable=SC2046
	receipts_done $(all_journeys) || return 1
	[ -z "$(R --scan --pattern 'rep:{*}:out')" ] && [ "$(R zcard rep:relay)" = 0 ] || return 1
	s=$(reports_check)
	[ "$(field "$s" noblock)/$(field "$s" noreceipt)" = 0/0 ]
}
t0=$(date +%s)
wait_for 45 settled
echo "# settled (or gave up) after $(( $(date +%s) - t0 )) s"
# shellcheck disable=SC2046
s=$(check_receipts $(all_journeys))
printf '%s\n' "$s" | grep '^#' | sed 's/^/#   /'
is "$(field "$s" missing)" 0 "every receipt of a reference seen reached sendsms or waits on $OUTBOX"
is "$(field "$s" pending)/$(field "$s" stale)" 0/0 \
	"... none left in its report's outbox, unsent or sent already"
echo "# receipts: $(field "$s" delivered) delivered, $(field "$s" queued) queued;" \
	"$(wc -l <"$TEST_TMP/sms.log") SMS reached sendsms in all"
is "$(R --scan --pattern 'rep:{*}:out' | head -n 3 | xargs)" "" \
	"no report's outbox rep:{imei}:out left, whatever its confirm was told"
is "$(R zcard rep:relay)" 0 "nothing left on the relay index"
s=$(reports_check)
printf '%s\n' "$s" | grep '^#' | sed 's/^/#   /'
is "$(field "$s" noblock)/$(field "$s" noreceipt)" 0/0 \
	"every report sent ($(field "$s" sent)) has its one block request and its receipt out"
echo "# reports left half-way by a 'try later': $(field "$s" halfway)" \
	"($(field "$s" unblocked) of them with their block request already), $(R zcard rep:open)" \
	"IMEIs on the sweep's index"
# shellcheck disable=SC2046
stream_in_the_end "" $(all_journeys)

# ---- 8. ceirgw stops, its log ----------------------------------------------------------------------
kill -0 "$gw" 2>/dev/null
ok $? "ceirgw is the process it was at the start"
gw_stop
cut -f2 "$TEST_TMP"/*.jobs | tr -d + | sort -u >"$TEST_TMP/numbers"
grep -o 'PIN: [0-9]*' "$TEST_TMP/sms.log" | cut -c6- | sort -u >"$TEST_TMP/pins"
[ "$(wc -l <"$TEST_TMP/pins")" -gt 0 ]
ok $? "PINs received by SMS ($(wc -l <"$TEST_TMP/pins"))"
is "$(grep -c -F -f "$TEST_TMP/numbers" "$TEST_TMP/ceirgw.log")" 0 \
	"no caller's full number in ceirgw's log"
is "$(grep -c -w -F -f "$TEST_TMP/pins" "$TEST_TMP/ceirgw.log")" 0 "no PIN in ceirgw's log"
sanitizer_clean
echo "# $(( $(date +%s) - t_start )) s"
done_testing
