# Slots move between the masters of a Redis Cluster while users report and check phones
# (issue 16): a real 3 masters + 3 replicas cluster (cluster_lib.sh), the real ceirgw on it
# (redis-replicas-ack = 1), operator data for 6,200 owners and 2,100 more phones imported
# with ceirgwctl (cluster_journeys_lib.sh). tests/tools/journey_load.py drives USSD report
# journeys (7 steps) and check journeys (3 steps), 12 in flight, and compares every screen
# with the text due.
#
# First 100 journeys on the cluster as created: every one answers as the flow says. Then,
# while journeys run, `redis-cli --cluster reshard` moves 1,500 slots three times, one key a
# MIGRATE: the master of ceir:requests gives the lowest slots it serves (ceir:requests's
# among them) to the next master, that one its lowest to the third, the third its lowest to
# the first; last, the slot of rep:open is moved by hand and held half-way (its key on the
# new master, the slot still migrating) until ceirgw follows an ASK there. Keys of those slots
# are half here, half there while their slot migrates (ASK), then served elsewhere (MOVED):
# pairing buckets, KYC, sessions in the middle of a journey, reports, the CEIR stream. Once
# the last move is done the load goes on for 200 more journeys. The moved slots must have
# held pairing buckets and sessions of the run. Then:
#   - every journey answered exactly as the first 100 did: the due screens, no "try later",
#     no other text, every request within 3 x redis-timeout + 1 s;
#   - every report is on ceir:requests exactly once, its receipt reached sendsms or waits on
#     the outbox;
#   - ceirgw is the process it was.
# Figures (moves' seconds, keys moved, latencies) are printed as TAP comments.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster_lib.sh"
. "$(dirname "$0")/cluster_journeys_lib.sh"

RATE=100		# journeys started a second, at most: 6,100 of them last a minute, for moves
		# that take 40 s on a loaded machine (10 s each and the held one)
SLOTS=1500		# slots a move
# The replicas' acknowledgement may take all but the redis-timeout: this test is about slots
# moving, not replicas lagging (cluster_failover.sh and replicas_single.sh are). With the
# default 200 ms, a replica of a master that is busy migrating, on a loaded machine (the
# sanitizer build on two cores), now and then acknowledged a report too late: "try later"
# for a report that was in fact taken (the user's retry gets its reference).
CJ_CONF_EXTRA="redis-replicas-timeout = 900"

t_start=$(date +%s)
cluster_start 3 1
ok $? "a Redis Cluster of 3 masters and 3 replicas is up"
cj_data 6200 2100 base:1-75:1-25 run:76-6200:26-2100
cj_start

# ---- the journeys as the flow says, nothing moving --------------------------------------------
load base >"$TEST_TMP/base.out" 2>&1
is "$(outcomes base)" "accepted 75 ok 25" "100 journeys before any move: every screen as due"
awk -F'\t' '$7 != "accepted" && $7 != "ok" { print "# " $1 ": " $7 " at step " $8 ": " $11 }' \
	"$TEST_TMP/base.journeys" | head -n 5

# ---- journeys while slots move ----------------------------------------------------------------
slotmap() { "$PYTHON" "$CHECK" "$CLUSTER_SEEDS" slotmap; }
slotmap >"$TEST_TMP/slots.0"
redirects0=$(cluster_redirects)
load run --rate "$RATE" --until-file "$TEST_TMP/run.moved" --after 200 --max-seconds 100 \
	>"$TEST_TMP/run.out" 2>&1 &
lpid=$!
wait_for 30 progress_at_least run 200
ok $? "200 journeys done before the first move"
# The masters in turn from that of ceir:requests: each gives its lowest slots to the next.
read -r -a ring <<<"$(cluster_masters | xargs)"
c=0
while [ "${ring[c]}" != "$(cluster_port_of_key ceir:requests)" ]; do c=$((c + 1)); done
moves=""
for i in 1 2 3; do
	from=${ring[(c + i - 1) % 3]}
	to=${ring[(c + i) % 3]}
	t0=$(date +%s.%N)
	cluster_reshard "$from" "$to" "$SLOTS" 1
	ok $? "move $i: $SLOTS slots from the master on $from to the one on $to, journeys running"
	moves="$moves $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
	slotmap >"$TEST_TMP/slots.$i"
	[ "$i" = 1 ] && is "$(cluster_port_of_key ceir:requests)" "$to" \
		"move 1 took ceir:requests's slot to $to"
done
# Move 4: the slot of rep:open (every report adds its IMEI when opened, takes it out when
# sent) by hand, held half-way, its key moved and the slot still migrating, until ceirgw
# followed an ASK to the new master.
to=$(cluster_masters | grep -vx "$(cluster_port_of_key rep:open)" | head -n 1)
cluster_migrate_held rep:open "$to" 10
ok $? "move 4: the slot of rep:open held half-way to $to until ceirgw followed an ASK there"
is "$(cluster_port_of_key rep:open)" "$to" "move 4: rep:open is served by $to"
touch "$TEST_TMP/run.moved"
wait_exit 120 "$lpid"
is "$exit_status" 0 "the load driver ended"
redirects=$(printf '%s\n%s\n' "$redirects0" "$(cluster_redirects)" | awk '
	NR == 1 { for (i = 2; i <= NF; i += 2) a[i] = $i; next }
	{ for (i = 1; i <= NF; i += 2) printf "%s%s %d", (i > 1 ? " " : ""), $i, $(i + 1) - a[i + 1] }')
echo "# redirections the nodes answered during the run: $redirects"
[ "$(echo "$redirects" | awk '{ print $2 + $4 }')" -gt 0 ]
ok $? "ceirgw was redirected (ASK or MOVED) while slots moved"
sed 's/^/# /' "$TEST_TMP/run.out"
is "$(summary run ran_out)" 0 "jobs enough for 200 journeys after the last move"
cluster_wait_ok 10
ok $? "the cluster is ok, every slot served"

# The moved slots held pairing buckets, KYC records and sessions of the run's journeys.
for i in 1 2 3; do
	paste -d' ' "$TEST_TMP/slots.$((i - 1))" "$TEST_TMP/slots.$i" |
		awk '$2 != $4 { print $1 }'
done | sort -u >"$TEST_TMP/moved.slots"
awk -F'\t' '{ print "pi:{" substr($3, 10, 5) "}" }
	$2 == "R" { print "pm:{" substr($4, 9) "}"; print "kyc:{" substr($4, 9) "}" }
	{ print "s:{u:" $12 ":" substr($4, 2) "}" }' "$TEST_TMP/run.journeys" >"$TEST_TMP/run.keys"
"$PYTHON" "$CHECK" - keyslots "$TEST_TMP/run.keys" >"$TEST_TMP/run.keyslots"
moved_keys() {
	awk 'NR == FNR { m[$1] = 1; next } ($1 in m) && index($2, p) == 1' p="$1" \
		"$TEST_TMP/moved.slots" "$TEST_TMP/run.keyslots" | sort -u | wc -l
}
n_pi=$(moved_keys "pi:{")
n_s=$(moved_keys "s:{u:")
echo "# moves took$moves; $(wc -l <"$TEST_TMP/moved.slots") slots moved, holding $n_pi pairing" \
	"buckets, $(moved_keys "kyc:{") KYC buckets and $n_s sessions of the run"
[ "$n_pi" -gt 0 ] && [ "$n_s" -gt 0 ]
ok $? "the moved slots held pairing buckets and sessions of the journeys"

# ---- every journey as without the moves ---------------------------------------------------------
max=$(summary run max_ms)
reports=$(awk -F'\t' '$2 == "R"' "$TEST_TMP/run.journeys" | wc -l)
checks=$(awk -F'\t' '$2 == "C"' "$TEST_TMP/run.journeys" | wc -l)
is "$(outcomes run)" "accepted $reports ok $checks" \
	"$reports reports and $checks checks while slots moved: every screen as due"
awk -F'\t' '$7 != "accepted" && $7 != "ok" { print "# " $1 ": " $7 " at step " $8 ": " $11 }' \
	"$TEST_TMP/run.journeys" | head -n 5
echo "# outcomes: $(outcomes run); latency p50 $(summary run p50_ms) ms, p99" \
	"$(summary run p99_ms) ms, max $max ms over $(summary run requests) requests"
awk -v m="$max" -v b="$BOUND_MS" 'BEGIN { exit !(m + 0 < b) }'
ok $? "every request answered within $BOUND_MS ms (max $max ms)"

s=$(check_stream "$TEST_TMP/base.journeys" "$TEST_TMP/run.journeys")
printf '%s\n' "$s" | grep '^#' | sed 's/^/#   /'
is "$(field "$s" seen)" "$(( $(count base accepted) + $(count run accepted) ))" \
	"the references seen, read back"
is "$(field "$s" missing)/$(field "$s" twice)/$(field "$s" wrong)" 0/0/0 \
	"every report is on ceir:requests exactly once, for its IMEI"
is "$(field "$s" blocks)" "$(field "$s" seen)" "... and nothing else is"
is "$(field "$s" dup_ids)/$(field "$s" dup_imeis)/$(field "$s" odd)/$(field "$s" lost)" 0/0/0/0 \
	"no request id or phone twice on the stream; every report holds its reference"
wait_for 45 receipts_done "$TEST_TMP/base.journeys" "$TEST_TMP/run.journeys"
s=$(check_receipts "$TEST_TMP/base.journeys" "$TEST_TMP/run.journeys")
printf '%s\n' "$s" | grep '^#' | sed 's/^/#   /'
is "$(field "$s" missing)" 0 "every receipt reached sendsms or waits on $OUTBOX (within 45 s)"
is "$(field "$s" pending)" 0 "... none left behind in a report's rep:{imei}:out"

cj_end
done_testing
