# Sightings (issue 22, doc/ceir-queue.md): a reported phone that a later operator dump shows
# on a new line. Against the real ceirgw and a real Redis (one redis-server, or a cluster with
# CEIRGW_TEST_BACKEND=cluster: backend_lib.sh): a report made by the SMS journey in French and
# blocked by the CEIR's result; then dumps through ceirgwctl import pairings: the IMEI on a new
# line makes one entry on ceir:sightings with its fields and one SMS to the owner, in French,
# nothing to the new line; the same dump again, the owner's own line, a burst of the same
# pair, and an unblocked report's IMEI add nothing; a second new line is a second sighting.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/backend_lib.sh"
. "$(dirname "$0")/journey_lib.sh"

journey_start

OWNER=+254712345678	# phone A, ID 31415926
OWNER2=+254722000111	# phone C, ID A9876543
NEW=254799000001	# the line phone A shows up on
NEW2=254799000002
A=356938035643809	# Nokia N900 (data/tacdb.csv)
C=353322001234567
pairings_csv "$(phone_row A)" "$(phone_row C)"
kyc_csv "$KYC_OWNER" "$KYC_OWNER2"
journey_gw info

# ---- two reports, by SMS; the CEIR blocks A, and blocks then unblocks C -----------------------
r=$(sms "$OWNER" "VOLE $A 5926")
ref=$(ref_in "$r")
is "$r" "$(render fr sms.report_done ref="$ref")" "the owner reports phone A by SMS, in French"
wait_for 10 grep -q "$ref" "$TEST_TMP/sms.log"
ok $? "the receipt went out"
R XADD ceir:results '*' ref "$ref" imei "$A" result blocked reason ok >/dev/null
wait_for 10 r_is blocked HGET "rep:{$A}" state
ok $? "the CEIR's result blocked phone A"
r=$(sms "$OWNER2" "STOLEN $C 6543")
ref2=$(ref_in "$r")
wait_for 10 r_is sent HGET "rep:{$C}" state
ok $? "phone C reported"
R XADD ceir:results '*' ref "$ref2" imei "$C" result blocked reason ok >/dev/null
wait_for 10 r_is blocked HGET "rep:{$C}" state
R XADD ceir:results '*' ref "$ref2" imei "$C" result unblocked reason ok >/dev/null
wait_for 10 r_is unblocked HGET "rep:{$C}" state
ok $? "phone C blocked, then unblocked"
owner_sms() { grep -c "^$OWNER	" "$TEST_TMP/sms.log"; }	# to, a tab, text
owner_sms_least() { [ "$(owner_sms)" -ge "$1" ]; }
wait_for 10 owner_sms_least 2
ok $? "the owner had the receipt and the blocked SMS"
owner_before=$(owner_sms)

dump() {	# dump ROW...: a dump of these rows, imported; what it said in import.out
	printf '%s\n' "imei,msisdn,imsi,first_seen,last_seen,operator" "$@" >"$TEST_TMP/dump.csv"
	local rc
	"$CEIRGWCTL" import pairings -c "$CONF" --rejects "$TEST_TMP/rej3.csv" \
		"$TEST_TMP/dump.csv" >"$TEST_TMP/import.out" 2>"$TEST_TMP/import.err"
	rc=$?
	cat "$TEST_TMP/import.err" >>"$TEST_TMP/ctl.all"
	echo "$rc" >>"$TEST_TMP/ctl.rc"
	return $rc
}

# ---- the IMEI on a new line -------------------------------------------------------------------
dump "$A,$NEW,639029999999991,$today,$today,Safaricom" \
	"$A,254712345678,639021000000001,$today,$today,Safaricom" \
	"$C,$NEW2,639029999999992,$today,$today,Airtel"
is "$?" 0 "a dump with phone A on a new line is imported"
like "$(cat "$TEST_TMP/import.out")" "sightings: 1 new (1 SMS to owners), 0 already known" \
	"the import counts one new sighting"
is "$(R XLEN ceir:sightings)" 1 "one entry on ceir:sightings"
R XRANGE ceir:sightings - + >"$TEST_TMP/entry"
field() { awk -v f="$1" 'prev == f { print; exit } { prev = $0 }' "$TEST_TMP/entry"; }
is "$(field imei)" "$A" "... the IMEI"
is "$(field ref)" "$ref" "... the report's reference"
is "$(field msisdn)" "+$NEW" "... the new line, E.164"
is "$(field imsi)" "639029999999991" "... its IMSI"
is "$(field first_seen):$(field last_seen)" "$today:$today" "... first and last day seen"
is "$(field operator)" "Safaricom" "... the operator's name"
is "$(field reported_on)" "$today" "... the report's day"
text=$(render fr notify.sighting maker=Nokia model=N900 ref="$ref" date="$today")
wait_for 40 grep -qF "$OWNER	$text" "$TEST_TMP/sms.log"
ok $? "the owner is told by SMS, in French (relayed by ceirgw from the report's outbox)"
is "$(grep -c "$NEW" "$TEST_TMP/sms.log")" 0 "nothing to the new line"
is "$(grep -c "$NEW2" "$TEST_TMP/sms.log")" 0 "nothing for the unblocked phone's new line"
is "$(cat "$TEST_TMP/import.out" "$TEST_TMP/import.err" | grep -c "$NEW")" 0 \
	"the import prints no new line's number"
outseq=$(R HGET "rep:{$A}" outseq)
is "$(sms "$OWNER" "SUIVI $ref")" \
	"$(render fr status.sighted ref="$ref" phone="Nokia N900" date="$today")" \
	"STATUS from the owner's line: seen on the network, the day"
is "$(sms +254733000222 "STATUS $ref")" \
	"$(render en status.blocked ref="$ref" maker=Nokia model=N900)" \
	"STATUS from another line: the state alone"

# ---- nothing twice ----------------------------------------------------------------------------
dump "$A,$NEW,639029999999991,$today,$today,Safaricom"
like "$(cat "$TEST_TMP/import.out")" "sightings: 0 new (0 SMS to owners), 1 already known" \
	"the same dump again: the sighting is known"
is "$(R XLEN ceir:sightings)" 1 "... nothing more on the stream"
is "$(R HGET "rep:{$A}" outseq)" "$outseq" "... and no SMS more"
dump "$A,254712345678,639021000000001,$today,$today,Safaricom"
like "$(cat "$TEST_TMP/import.out")" \
	"sightings: 0 new (0 SMS to owners), 0 already known; 1 rows" \
	"a dump with the owner's own line: no sighting"
rows=()
for _ in $(seq 1 50); do rows+=("$A,$NEW,639029999999991,2026-01-01,$today,Safaricom"); done
dump "${rows[@]}"
dump "${rows[@]}"
is "$(R XLEN ceir:sightings):$(R HGET "rep:{$A}" outseq)" "1:$outseq" \
	"a burst of rows of the same pair, twice: still one sighting, one SMS"
is "$(R HGET "rep:{$A}:seen" "+$NEW|639029999999991")" "2026-01-01|$today|Safaricom" \
	"... its first day seen moved back"

# ---- a second new line -------------------------------------------------------------------------
dump "$A,$NEW2,,$today,$today,"
like "$(cat "$TEST_TMP/import.out")" "sightings: 1 new" "a second new line is a second sighting"
is "$(R XLEN ceir:sightings)" 2 "... a second entry"
wait_for 40 owner_sms_least $((owner_before + 2))
ok $? "... and a second SMS to the owner"
is "$(owner_sms)" $((owner_before + 2)) "two SMS to the owner in all"
is "$(grep -cE "^\+?($NEW|$NEW2)	" "$TEST_TMP/sms.log")" 0 "none to the new lines"
is "$(grep -cF "$NEW" "$TEST_TMP/ceirgw.log")" 0 "no new line's number in ceirgw's log"

# ---- reports made before the index: report reindex ---------------------------------------------
shard=rix:{${A:11:3}}
is "$(R SREM "$shard" "$A")" 1 "phone A was in the index (its shard $shard)"
dump "$A,254799000003,,$today,$today,"
like "$(cat "$TEST_TMP/import.out")" "sightings: 0 new (0 SMS to owners), 0 already known; 0 rows" \
	"out of the index (a report from before it): not looked for"
like "$(cat "$TEST_TMP/import.out")" "; 1 reported IMEIs watched" "... only phone C watched"
"$CEIRGWCTL" report -c "$CONF" reindex >"$TEST_TMP/reindex.out"
is "$?:$(cat "$TEST_TMP/reindex.out")" \
	"0:index of reported IMEIs: 1 added (the others were there)" "report reindex adds it back"
is "$(R SISMEMBER "$shard" "$A")" 1 "... into its shard"
dump "$A,254799000003,,$today,$today,"
like "$(cat "$TEST_TMP/import.out")" "sightings: 1 new" "... and the import finds the sighting"
"$CEIRGWCTL" report -c "$CONF" reindex >"$TEST_TMP/reindex.out"
like "$(cat "$TEST_TMP/reindex.out")" ": 0 added" "report reindex again: nothing to add"

# ---- ceirgwctl report lists them, masked ------------------------------------------------------
"$CEIRGWCTL" report -c "$CONF" "$ref" >"$TEST_TMP/report.out"
is "$?" 0 "report REF: exit 0"
like "$(cat "$TEST_TMP/report.out")" \
	"sighting   2026-01-01 to $today on +2547****0001, IMSI 63902..., operator Safaricom" \
	"report: the first sighting, its days, the line masked, the operator"
like "$(cat "$TEST_TMP/report.out")" "sighting   $today to $today on +2547****0002" \
	"report: the second"
is "$(grep -c "^  sighting " "$TEST_TMP/report.out")" 3 "report: three sightings"
is "$(grep -c "$NEW\|639029999999991" "$TEST_TMP/report.out")" 0 "report: no full number or IMSI"
"$CEIRGWCTL" report -c "$CONF" --json "$ref" >"$TEST_TMP/report.json"
python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
s = sorted(r["sightings"], key=lambda x: x["msisdn"])
sys.exit(0 if len(s) == 3 and s[0]["msisdn"] == "+2547****0001" and
         s[0]["operator"] == "Safaricom" and s[1]["imsi_network"] is None else 1)' \
	"$TEST_TMP/report.json"
ok $? "report --json: the sightings, masked"

# ---- the reference consumer reads and acknowledges them -----------------------------------------
/usr/bin/python3 "$top_srcdir/contrib/ceir-consumer" "${BACKEND_CONSUMER[@]}" --consumer it-sight \
	--once >"$TEST_TMP/consumer.out" 2>"$TEST_TMP/consumer.err"
is "$?" 0 "contrib/ceir-consumer --once: exit 0"
is "$(grep -c "^sighting $ref $A " "$TEST_TMP/consumer.out")" 3 "... notes the three sightings"
like "$(cat "$TEST_TMP/consumer.out")" "sighting $ref $A $today..$today Safaricom" \
	"... with the days and operator it was first seen with"
is "$(grep -c "$NEW\|6390299" "$TEST_TMP/consumer.out" "$TEST_TMP/consumer.err" |
	awk -F: '{ s += $NF } END { print s }')" 0 "... and no new line's number or IMSI"
is "$(R XPENDING ceir:sightings ceir | head -n1)" 0 "... and acknowledges them"

# ---- an unblocked report adds nothing; a new report of the phone starts again -------------------
R XADD ceir:results '*' ref "$ref" imei "$A" result unblocked reason ok >/dev/null
wait_for 10 r_is unblocked HGET "rep:{$A}" state
ok $? "the CEIR unblocked phone A"
n=$(R XLEN ceir:sightings)
dump "$A,$NEW,639029999999991,$today,$today,Safaricom" "$A,254799000004,,$today,$today,"
like "$(cat "$TEST_TMP/import.out")" "sightings: 0 new (0 SMS to owners), 0 already known; 0 rows of reported IMEIs on the owner's or reporter's line, 0 before the report, 2 of closed reports" \
	"the unblocked report's IMEI on a known and a new line: nothing"
r=$(sms "$OWNER" "STOLEN $A 5926")
ref3=$(ref_in "$r")
wait_for 10 r_is sent HGET "rep:{$A}" state
ok $? "phone A reported again ($ref3)"
dump "$A,$NEW,639029999999991,$today,$today,Safaricom"
like "$(cat "$TEST_TMP/import.out")" "sightings: 1 new (1 SMS to owners)" \
	"the line seen under the earlier report is a sighting of the new one"
is "$(R XLEN ceir:sightings):$(R HGET "rep:{$A}:seen" '#ref')" "$((n + 1)):$ref3" \
	"... on the stream, the report's sightings its own"

# ---- a cloned IMEI: many new lines in one dump ------------------------------------------------
rows=()
for i in $(seq 100 399); do rows+=("$A,254798000$i,,$today,$today,Telkom"); done
outseq=$(R HGET "rep:{$A}" outseq)
n=$(R XLEN ceir:sightings)
dump "${rows[@]}"
like "$(cat "$TEST_TMP/import.out")" "sightings: 300 new (1 SMS to owners)" \
	"300 new lines in one dump (two windows of scripts): 300 sightings, one SMS"
is "$(R XLEN ceir:sightings):$(( $(R HGET "rep:{$A}" outseq) - outseq ))" "$((n + 300)):1" \
	"... 300 entries on the stream, one SMS in the report's outbox"
dump "${rows[@]}"
like "$(cat "$TEST_TMP/import.out")" "sightings: 0 new (0 SMS to owners), 300 already known" \
	"... and the same dump again: all known"

is "$(sort -u "$TEST_TMP/ctl.rc")" 0 "every import exited 0"

# ---- a dump that --max-reject-ratio refuses records no sighting -------------------------------
# Garbage first, then 5,000 new lines of phone A: the batch is refused at the end, and so are
# its sightings (they were written every 4,096 candidates before, whatever the batch became).
awk -v d="$today" -v a="$A" 'BEGIN {
	print "imei,msisdn,imsi,first_seen,last_seen,operator"
	for (i = 0; i < 20000; i++) print "not-an-imei,x,,,,"
	for (i = 0; i < 5000; i++) printf "%s,2547961%05d,,%s,%s,Telkom\n", a, i, d, d
}' >"$TEST_TMP/refused.csv"
n=$(R XLEN ceir:sightings)
outseq=$(R HGET "rep:{$A}" outseq)
seen=$(R HLEN "rep:{$A}:seen")
"$CEIRGWCTL" import pairings -c "$CONF" --rejects /dev/null --max-reject-ratio 0.5 \
	"$TEST_TMP/refused.csv" >"$TEST_TMP/import.out" 2>"$TEST_TMP/import.err"
is $? 4 "a dump of 20,000 bad rows and 5,000 new lines of phone A, ratio 0.5: exit 4"
cat "$TEST_TMP/import.err" >>"$TEST_TMP/ctl.all"
like "$(cat "$TEST_TMP/import.err")" "its batch of 5000 rows was not written" "... its batch dropped"
is "$(R XLEN ceir:sightings):$(R HGET "rep:{$A}" outseq):$(R HLEN "rep:{$A}:seen")" \
	"$n:$outseq:$seen" "... and none of its 5,000 sightings recorded, no SMS queued"

# ---- more candidates than the queue holds: the batch they came from is written first ----------
awk -v d="$today" -v a="$A" 'BEGIN {
	print "imei,msisdn,imsi,first_seen,last_seen,operator"
	for (i = 0; i < 65600; i++) printf "%s,254795%06d,,%s,%s,Telkom\n", a, i, d, d
}' >"$TEST_TMP/many.csv"
"$CEIRGWCTL" import pairings -c "$CONF" --rejects /dev/null "$TEST_TMP/many.csv" \
	>"$TEST_TMP/import.out" 2>"$TEST_TMP/import.err"
is $? 0 "65,600 new lines of phone A in one dump (more than the 65,536 queued): imported"
cat "$TEST_TMP/import.err" >>"$TEST_TMP/ctl.all"
fresh=$((1000 - seen))
like "$(cat "$TEST_TMP/import.out")" "sightings: $fresh new (1 SMS to owners)" \
	"... the report's sightings filled up to 1,000, one SMS"
like "$(cat "$TEST_TMP/import.out")" "warning: $((65600 - fresh)) new lines of reports that hold 1000" \
	"... the rest counted as not kept"
like "$(cat "$TEST_TMP/import.out")" "65600 rows in" "... every row read"
is "$(R HLEN "rep:{$A}:seen")" 1000 "... the report holds 1,000"
sanitizer_clean "$TEST_TMP/ctl.all"
gw_stop
sanitizer_clean
done_testing
