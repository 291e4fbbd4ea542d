# The journeys end to end: a real Redis (one redis-server, or a cluster with
# CEIRGW_TEST_BACKEND=cluster: backend_lib.sh), the real ceirgw, operator data imported with
# ceirgwctl, the reference CEIR consumer (contrib/ceir-consumer), and `ceirgwctl phone` as the
# sendsms endpoint that receives the owner's SMS. Walks check, report, status, unblock and
# language by USSD (the aggregator callback) and by SMS, with the failures the issue names,
# and checks the CEIR stream and the notifications.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/backend_lib.sh"
. "$(dirname "$0")/journey_lib.sh"

CONSUMER=$top_srcdir/contrib/ceir-consumer
pport=$(free_port)
journey_start
old=$(date -u -d '-400 days' +%F)
OWNER=+254712345678	# two phones: A (Nokia N900) and B (Samsung SGH-W110)
OWNER2=+254722000111	# phone C (Siemens A52)
OTHER=+254733000222	# a buyer; used with phone H, with no ID on record
FRIEND=+254733000333	# a friend's phone: no phones, no ID
A=356938035643809
B=353320000000013
C=353322001234567
D=353321005555555	# used by two SIMs at once: a clone
G=353320000000021	# OWNER's, but seen 400 days ago: outside the window
U=123456780000010	# a valid IMEI of no known model
H=353320000000039	# used with OTHER, which has no ID on record
pairings_csv "$(phone_row A)" "$(phone_row B)" "$(phone_row C)" \
	"$D,254700000001,639021000000011,2025-01-01,$today" \
	"$D,254700000002,639021000000012,2025-02-01,$today" \
	"$G,254712345678,639021000000001,2023-01-01,$old" \
	"$H,254733000222,639021000000003,2025-01-01,$today"
kyc_csv "$KYC_OWNER" "$KYC_OWNER2"
gw_conf "$BACKEND_REDIS_CONF" debug "rate-check-msisdn = 40/3600" \
	"rate-report-msisdn = 40/86400" "rate-verify-msisdn = 40/3600" \
	"rate-unblock-msisdn = 40/3600" "api-keys-file = api.keys"
echo "partner-a k3y-0f-partner-a-0123456789" >"$TEST_TMP/api.keys"
import_data

# The owner's phone: it receives the SMS ceirgw sends through "sendsms". Its standard input
# stays open (a FIFO) so that it keeps listening.
mkfifo "$TEST_TMP/phone.in"
"$CEIRGWCTL" phone --msisdn "$OWNER" --url "$url" --listen "127.0.0.1:$pport" --width 200 \
	<"$TEST_TMP/phone.in" >"$TEST_TMP/phone.out" 2>"$TEST_TMP/phone.err" &
test_pids="$test_pids $!"
exec 7>"$TEST_TMP/phone.in"

gw_start
ok $? "ceirgw is up"


# ---- check ---------------------------------------------------------------------------------
r=$(ussd c1 "$OTHER" "")
is "$r" "CON $(render en menu.main)" "dial *384#: the main menu"
r=$(walk c2 "$OTHER" 1 "$A")
is "$r" "END $(render en check.clean maker=Nokia model=N900)" "check by menu: clean, maker and model"
r=$(curl -s -X POST "$url/ussd" -d sessionId=c3 --data-urlencode "phoneNumber=$OTHER" \
	--data-urlencode "serviceCode=*384*$A#" --data-urlencode "text=")
is "$r" "END $(render en check.clean maker=Nokia model=N900)" "*384*IMEI# checks at once"
r=$(ussd c4 "$OTHER" "3569 3803-5643 809")
is "$r" "END $(render en check.clean maker=Nokia model=N900)" "one-shot with separators"
is "$(sms "$OTHER" "$A")" "$(render en check.clean maker=Nokia model=N900)" "SMS: a bare IMEI"
is "$(sms "$OTHER" "  check  3569 3803 5643 809 ")" \
	"$(render en check.clean maker=Nokia model=N900)" "SMS: check <IMEI>, any case, spaces"
is "$(sms "$OTHER" "356938035643808")" "$(render en check.invalid_check imei=356938035643808)" \
	"invalid: bad check digit"
is "$(sms "$OTHER" "CHECK 12345")" "$(render en check.invalid_length)" "invalid: too short"
is "$(sms "$OTHER" "CHECK 35693803564380912")" "$(render en check.invalid_length)" \
	"invalid: too long"
is "$(sms "$OTHER" "CHECK 35693803O564380")" "$(render en check.invalid_digits)" \
	"invalid: not digits"
is "$(sms "$OTHER" "CHECK 490154203237518")" \
	"$(render en check.invalid_reserved imei=490154203237518)" "invalid: a known example IMEI"
is "$(sms "$OTHER" "$D")" "$(render en check.duplicated maker=Samsung model=SGH-W110)" \
	"duplicated: two SIMs at once"
is "$(sms "$OTHER" "$U")" "$(render en check.unknown imei=$U)" "unknown model"
like "$(render en check.unknown imei=$U)" "not in our list" \
	"... told as a model not in the list, not as a fake"
is "$(sms "$OTHER" "013327001234568")" "$(render en check.clean maker=Apple model="iPhone 5 (A1428)")" \
	"an Apple TAC whose leading zero the table lost (1332700): known"
grep -q "TACs of fewer than 8 digits padded with leading zeros" "$TEST_TMP/ceirgw.log"
ok $? "the load log counts the padded TACs"
r=$(sms "$OTHER" "hello there")
is "$r" "$(render en sms.help code=384)" "SMS: no command: the help"

# A bad IMEI at the check's prompt (issue 18): asked again, saying why; the session goes on.
# None of them is a check (the rate limit counts checks of IMEIs).
dial c5 "$OTHER" >/dev/null
is "$(press 1 356938035643808)" "CON $(waiting en imei.bad_check imei=356938035643808)" \
	"check by menu: a wrong check digit: why, and asked again"
is "$(press 12345)" "CON $(waiting en imei.bad_length)" "... too short: why, asked again"
is "$(press 35693803564380912)" "CON $(waiting en imei.bad_length)" "... too long: asked again"
is "$(press 0)" "CON $(render en menu.main)" "... 0: back to the menu, the question left"
is "$(press 1)" "CON $(waiting en check.ask)" "... 1: the IMEI prompt again, the session kept"
is "$(press 35693803O564380)" "CON $(waiting en imei.bad_digits)" "... a letter: why, asked again"
is "$(press 490154203237518)" "CON $(waiting en imei.bad_reserved imei=490154203237518)" \
	"... a known example IMEI: why, asked again"
is "$(press "$A")" "END $(render en check.clean maker=Nokia model=N900)" \
	"... then the right IMEI: checked, in the same session"
# *384*<bad IMEI>#: the dial opened a session; the reason and the prompt keep it.
is "$(ussd c6 "$OTHER" "12345")" "CON $(waiting en imei.bad_length)" \
	"*384*<short IMEI>#: why, asked again"
is "$(ussd c6 "$OTHER" "12345*$A")" "END $(render en check.clean maker=Nokia model=N900)" \
	"... the right IMEI then: checked"
is "$(ussd c7 "$OTHER" "356938035643808")" \
	"CON $(waiting en imei.bad_check imei=356938035643808)" "*384*<bad check digit>#: asked again"

# A menu input that is none of its choices says so, and shows the menu again (issue 18).
# (the start has no back and home lines; every other menu has them below.)
notopt() {
	if [ "$1" = menu.main ]; then
		printf '%s\n%s' "$(render en common.invalid_choice)" "$(render en "$@")"
	else
		printf '%s\n%s' "$(render en common.invalid_choice)" "$(waiting en "$@")"
	fi
}
dial m1 "$FRIEND" >/dev/null
is "$(press 9)" "CON $(notopt menu.main)" "main menu: 9 is no choice: not an option, the menu"
is "$(press x)" "CON $(notopt menu.main)" "... x: the same"
is "$(press 2)" "CON $(waiting en report.which)" "... then 2: the report"
is "$(press 7)" "CON $(notopt report.which)" "report: whose phone? 7 is no choice"
is "$(press 1)" "CON $(waiting en report.ask_imei)" "... then 1: the IMEI"

# ---- report by USSD, from the owner's own number, picking the phone from the list -----------
dial r1 "$OWNER" >/dev/null
r=$(press 2)
like "$r" "1 Samsung SGH-W110 ...0013" "report: the owner's phones listed, newest first"
like "$r" "2 Nokia N900 ...3809" "report: ... both phones within the window"
case $r in *"...0021"*) ok 1 "a phone last seen outside the window is not listed" ;;
*) ok 0 "a phone last seen outside the window is not listed" ;; esac
is "$(press 2)" "CON $(waiting en report.ask_id)" "report: picked the Nokia, asked for the ID digits"
is "$(press 9999)" "CON $(waiting en report.id_wrong tries=2)" "report: wrong ID digits, 2 tries left"
is "$(press 5926)" "CON $(waiting en report.reason)" "report: right ID digits: stolen or lost?"
is "$(press 1)" "CON $(waiting en report.ask_police)" "report: police report number?"
is "$(press "OB/123/2026")" \
	"CON $(waiting en report.confirm_police imei_tail=3809 reason=stolen police=OB/123/2026)" \
	"report: confirm with the IMEI tail, the reason and the police number"
n0=$(queued)
r=$(press 1)
ref=$(ref_in "$r")
is "$r" "END $(render en report.done ref="$ref")" "report accepted with a reference"
is "$(queued)" "$((n0 + 1))" "one block request on ceir:requests"
last=$(R XREVRANGE ceir:requests + - COUNT 1)
for want in "block" "$ref-block" "$A" "Nokia" "N900" "$OWNER" "pairing-window" "stolen" \
	"OB/123/2026" "ussd" "yes"; do
	like "$last" "$want" "the request carries $want"
done
like "$(R HGET "rep:{$A}" state)" "sent" "the report is sent to the CEIR"
case $(R HGETALL "rep:{$A}") in *31415926*|*5926*) ok 1 "no ID digits stored" ;;
*) ok 0 "no ID digits stored" ;; esac
r=$(ussd r1 "$OWNER" "$(cat "$TEST_TMP/session.text")")
is "$r" "END $(render en report.done ref="$ref")" "the aggregator retries the last step: same answer"
is "$(queued)" "$((n0 + 1))" "... and nothing queued twice"
wait_for 5 grep -q "report $ref for" "$TEST_TMP/phone.out"
ok $? "the receipt SMS reached the owner's phone"
pin=$(grep -o "PIN: [0-9]\{6\}" "$TEST_TMP/phone.out" | head -n1 | cut -c6-)
is "${#pin}" 6 "the receipt carries a 6-digit PIN"
grep -q "$pin" "$TEST_TMP/ceirgw.log"
ok $((!$?)) "the PIN is not in the log"
grep -q "254712345678" "$TEST_TMP/ceirgw.log"
ok $((!$?)) "no full MSISDN in the log"

# Already reported: the same reference once the ID digits match, nothing queued.
r=$(walk r2 "$OWNER" 2 2)
is "$r" "CON $(waiting en report.ask_id)" "report again: the ID digits first, nothing told before"
# r2 stopped at the ID digits: the next dial offers to continue there (issue 18).
r=$(walk r2b "$OWNER" 1 5926)
is "$r" "END $(render en report.already ref="$ref")" "report again: already reported, the reference"
is "$(queued)" "$((n0 + 1))" "... nothing queued"
is "$(sms "$OTHER" "$A")" "$(render en check.stolen maker=Nokia model=N900 date="$(date -u +%F)")" \
	"check now says: reported stolen, with the date"

# ---- report for another number, from a friend's phone -------------------------------------
fresh "$FRIEND"	# m1 stopped at the IMEI prompt
dial r3 "$FRIEND" >/dev/null
r=$(press 2)
is "$r" "CON $(waiting en report.which)" "report from a number with no phones: whose?"
r=$(press 2 "0722000111" "$C" "A9876543" 2 1)
is "$r" "CON $(waiting en report.confirm phone="Siemens A52" imei_tail=4567 reason=lost)" \
	"another number: owner, IMEI, whole ID, lost, no police report"
r=$(press 1)
ref2=$(ref_in "$r")
is "$r" "END $(render en report.done ref="$ref2")" "another number: accepted"
last=$(R XREVRANGE ceir:requests + - COUNT 1)
like "$last" "$FRIEND" "the reporter is the friend's number"
like "$last" "$OWNER2" "the owner is the owner's number"
like "$last" "lost" "reason lost"

# Failures: not linked (told only once the ID digits match); wrong ID until locked out; no
# KYC.
r=$(walk r4 "$FRIEND" 2 2 "0722000111" "$B")
is "$r" "CON $(waiting en report.ask_id)" "IMEI not used with that number: not told before the ID"
fresh "$FRIEND"
r=$(walk r4b "$FRIEND" 2 2 "0722000111" "$B" 6543)
is "$r" "END $(render en report.not_linked)" "IMEI not used with that number: what to do next"
r=$(walk r5 "$OWNER" 2 8 "$G" 5926)
is "$r" "END $(render en report.not_linked)" "a number seen with the IMEI only long ago: not linked"
dial r6 "$OWNER" >/dev/null
r=$(press 2 8 "$B" 1111)
is "$r" "CON $(waiting en report.id_wrong tries=1)" "wrong ID again: 1 try left"
is "$(press 3333)" "END $(render en report.locked minutes=60)" "third wrong: locked out for the period"
r=$(ussd r6 "$OWNER" "$(cat "$TEST_TMP/session.text")")
is "$r" "END $(render en report.locked minutes=60)" \
	"the aggregator repeats the step after the end: the same text, its minutes too"
r=$(walk r7 "$OWNER" 2 8 "$B" 5926)
is "$r" "END $(render en report.locked minutes=60)" "locked out even with the right digits"
R --scan --pattern "kyc:*:vf:${OWNER#+}:own" | while read -r k; do R DEL "$k"; done >/dev/null
dial r8 "$OWNER" >/dev/null
is "$(press 2 8 12345)" "CON $(waiting en imei.bad_length)" "report: a short IMEI: why, asked again"
is "$(press 35693803564380912)" "CON $(waiting en imei.bad_length)" \
	"report: 17 digits: asked again"
is "$(press 3532O000000013)" "CON $(waiting en imei.bad_digits)" "report: a letter: asked again"
is "$(press 353320000000014)" "CON $(waiting en imei.bad_check imei=353320000000014)" \
	"report: a wrong check digit: asked again"
is "$(press 000000000000000)" "CON $(waiting en imei.bad_reserved imei=000000000000000)" \
	"report: a placeholder IMEI: asked again"
is "$(press "$B")" "CON $(waiting en report.ask_id)" "report: the right IMEI: the ID digits next"

# A malformed ID is no try (issue 18): 10 in a row re-ask, saying why, and use none; a
# wrong one then has 2 tries left, and the right digits still work.
bad_ids=(abcd 12 123 59 % 59#6 "5 9" "?" 1.2.3 ABCD)
for bid in "${bad_ids[@]}"; do
	r=$(press "$bid")
	[ "$r" = "CON $(waiting en report.bad_id)" ] || break
done
is "$r" "CON $(waiting en report.bad_id)" "10 malformed IDs in a row: each asked again, saying why"
is "$(R --scan --pattern "kyc:*:vf:${OWNER#+}:own" | wc -l)" 0 "... none was counted"
is "$(press 1111)" "CON $(waiting en report.id_wrong tries=2)" "... a wrong one then: 2 tries left"
is "$(press abc)" "CON $(waiting en report.bad_id)" "... malformed after a wrong one: no try"
is "$(press 5926)" "CON $(waiting en report.reason)" "... and the right digits work"
is "$(press 3)" "CON $(notopt report.reason)" "stolen or lost? 3 is no choice"
is "$(press 1)" "CON $(waiting en report.ask_police)" "... then 1: stolen"
is "$(press "OB_12")" "CON $(waiting en report.bad_police)" \
	"a police number with '_': why, asked again"
is "$(press 1)" "CON $(waiting en report.confirm phone="Samsung SGH-W110" imei_tail=0013 \
	reason=stolen)" "... then 1 (none): the confirmation"
again=$(waiting en report.confirm_again phone="Samsung SGH-W110" imei_tail=0013)
is "$(press 7)" "CON $again" "confirm: 7 is no choice: not an option, the question again"
r=$(ussd r8 "$OWNER" "$(cat "$TEST_TMP/session.text")")
is "$r" "CON $again" "the aggregator repeats that step: the same screen, the note too"
is "$(press 2)" "END $(render en report.cancelled)" "... then 2: nothing reported"
R --scan --pattern "kyc:*:vf:${OWNER#+}:own" | while read -r k; do R DEL "$k"; done >/dev/null
# The phone list: a line that is not there and letters say so; 00 is the menu.
dial r9 "$OWNER" >/dev/null
r=$(press 2)
for in in 7 x; do
	r2=$(press "$in")
	is "$r2" "CON $(render en common.invalid_choice)"$'\n'"${r#CON }" \
		"the phone list: $in is no choice: not an option, the list again"
done
is "$(press 00)" "CON $(render en menu.main)" "the phone list: 00 is the menu"
is "$(press 2)" "$r" "... 2: the list again, in the same session"
is "$(press 1)" "CON $(waiting en report.ask_id)" "... then 1: the ID digits"

# ---- report by SMS ------------------------------------------------------------------------
r=$(sms "$OWNER" "stolen $B 5926")
ref3=$(ref_in "$r")
is "$r" "$(render en sms.report_done ref="$ref3")" "SMS: STOLEN <IMEI> <ID digits>"
is "$(sms "$OWNER" "STOLEN $B 5926")" "$(render en report.already ref="$ref3")" \
	"SMS: again: already reported"
r=$(sms "$OWNER2" "STOLEN $A 9876")
is "$r" "$(render en sms.id_wrong tries=2)" \
	"SMS: someone else's report of a reported phone, wrong ID: no reference, no report told"
r=$(sms "$OWNER2" "STOLEN $A 6543")
is "$r" "$(render en report.not_linked)" \
	"SMS: ... with the right ID, not paired: not linked, still no reference nor report told"
r=$(sms "$OTHER" "STOLEN $H 9999")
is "$r" "$(render en report.no_kyc)" "SMS: a number without an ID on record"
is "$(sms "$OWNER" "STOLEN 12345 5926")" "$(render en sms.bad_imei)" "SMS: a bad IMEI"
# Issue 18: an ID that is not one uses no try and says so; an ID left out is asked for.
for bid in abcd 12 123456789012345678901234567890123 59#6; do
	is "$(sms "$OWNER2" "STOLEN $A $bid")" "$(render en sms.bad_id)" \
		"SMS: STOLEN <IMEI> $bid: the ID digits are malformed, no try used"
done
is "$(sms "$OWNER2" "STOLEN $A")" "$(render en sms.no_id)" "SMS: STOLEN <IMEI>: add the ID digits"
is "$(sms "$OWNER2" "lost 3569 3803 5643 809")" "$(render en sms.no_id)" \
	"SMS: LOST <IMEI in groups>: add the ID digits"
is "$(sms "$OWNER2" "STOLEN")" "$(render en sms.no_id)" "SMS: STOLEN alone: the IMEI and ID"
is "$(sms "$OWNER2" "STOLEN $A 9876")" "$(render en sms.id_wrong tries=1)" \
	"SMS: a wrong ID after them: the malformed ones used no try (1 left after 2 wrong)"

# ---- status, the CEIR's results, notifications --------------------------------------------
is "$(sms "$OTHER" "STATUS $ref")" "$(render en status.sent ref="$ref" maker=Nokia model=N900)" \
	"STATUS: sent to the CEIR"
is "$(sms "$OTHER" "STATUS 1234567890")" "$(render en status.unknown)" "STATUS: not a reference"
/usr/bin/python3 "$CONSUMER" "${BACKEND_CONSUMER[@]}" --once --reject "$C=not-the-owner" \
	>"$TEST_TMP/consumer.out" 2>&1
ok $? "the reference CEIR consumer answered every request"
wait_for 10 r_is blocked HGET "rep:{$A}" state
ok $? "ceirgw read the result: the report is blocked"
wait_for 10 grep -q "(report $ref) is now blocked" "$TEST_TMP/phone.out"
ok $? "the owner got the 'blocked' SMS"
r=$(walk s1 "$OTHER" 4 "$ref")
is "$r" "END $(render en status.blocked ref="$ref" maker=Nokia model=N900)" "status by menu: blocked"
r=$(sms "$OTHER" "$A")
is "$r" "$(render en check.blocked maker=Nokia model=N900 reason=stolen date="$today")" \
	"check: blocked, with why and since when"
like "$r" "reported stolen on $today and BLOCKED" "... reported stolen on the report's date"
like "$r" "Do not buy it" "... and do not buy"
wait_for 10 r_is rejected HGET "rep:{$C}" state
ok $? "a rejected request: the report is rejected"
is "$(sms "$OWNER2" "STATUS $ref2")" \
	"$(render en status.rejected ref="$ref2" \
		why="$(render en status.why.not_the_owner)")" "STATUS: rejected, with why"
is "$(R XPENDING ceir:results ceirgw | head -n1)" 0 "every result acknowledged"

# ---- my reports: a lost reference or PIN recovered (issue 18) -----------------------------
# The caller's line is the owner: the ID digits first (a malformed one no try, a wrong one
# counted), nothing of the owner's told before; then the reports of its phones; a pick sends
# the receipt again with a new PIN to the line, and the old PIN stops working.
nrc=$(grep -c "report $ref for" "$TEST_TMP/phone.out")
fresh "$OWNER"	# r9 stopped at the ID digits
dial y1 "$OWNER" >/dev/null
is "$(press 6)" "CON $(waiting en mine.ask_id)" "my reports: the ID digits of the caller's line first"
is "$(press abc)" "CON $(waiting en report.bad_id)" "... not an ID: why, asked again, no try"
r=$(press 1111)
is "$r" "CON $(waiting en report.id_wrong tries=2)" "... a wrong one: 2 tries left"
case $r in *"$ref"*|*"$ref3"*|*3809*|*0013*) ok 1 "no reference nor phone before the ID matched" ;;
*) ok 0 "no reference nor phone before the ID matched" ;; esac
r=$(press 5926)
like "$r" "CON $(render en mine.list reports=)" "... the right ones: the owner's reports"
like "$r" "Nokia N900 ...3809 $(render en rstate.blocked) $today" \
	"... the blocked Nokia: model, IMEI tail, state, date"
like "$r" "Samsung SGH-W110 ...0013 $(render en rstate.blocked) $today" "... and the Samsung"
line=$(printf '%s\n' "$r" | sed -n 's/^\([0-9]\) Nokia N900 \.\.\.3809.*/\1/p')
is "$(press "$line")" "END $(render en mine.pin_sent ref="$ref")" \
	"... picked: a new PIN is sent to the line, the old one no longer works"
receipts_more() { [ "$(grep -c "report $ref for" "$TEST_TMP/phone.out")" -gt "$nrc" ]; }
wait_for 5 receipts_more
ok $? "the receipt again, with a new PIN, reached the owner's line"
newpin=$(grep -o "report $ref for.*PIN: [0-9]\{6\}" "$TEST_TMP/phone.out" | tail -n1 | grep -o '[0-9]\{6\}$')
is "${#newpin}" 6 "... a 6-digit PIN"
[ "$newpin" != "$pin" ]
ok $? "... a new one"
is "$(sms "$OWNER" "RECOVERED $ref $pin")" "$(render en unblock.wrong_pin ref="$ref" tries=2)" \
	"the old PIN fails: wrong PIN"
is "$(R HGET "rep:{$A}" state)" blocked "... nothing queued, still blocked"
grep -q "$newpin" "$TEST_TMP/ceirgw.log"
ok $((!$?)) "the new PIN is not in the log"
grep -q "$ref" "$TEST_TMP/ceirgw.log"
ok $((!$?)) "no whole reference in the log"
R DEL "rep:{$A}:pin:own" >/dev/null	# the unblock below counts its tries from 3
pin=$newpin	# ... and unblocks with the new PIN
# By SMS: REPORTS <ID digits> lists them with their references; PIN <ref> <ID digits>.
r=$(sms "$OWNER" "REPORTS 5926")
like "$r" "$(render en sms.mine_list reports= | head -n1)" "SMS: REPORTS <ID digits>: the list"
like "$r" "$ref ...3809 $(render en rstate.blocked)" "... the reference, IMEI tail and state"
like "$r" "$ref3 ...0013 $(render en rstate.blocked)" "... of each report of the owner's"
is "$(sms "$OWNER" "REPORTS")" "$(render en sms.mine_no_id)" "SMS: REPORTS alone: add the ID digits"
is "$(sms "$OWNER" "reports ab")" "$(render en sms.mine_bad_id)" "SMS: a malformed ID: no try"
is "$(sms "$OWNER" "PIN 12345 5926")" "$(render en sms.pin_bad_ref)" "SMS: PIN with no reference"
is "$(sms "$OWNER" "PIN $ref3 5926")" "$(render en sms.pin_sent ref="$ref3")" \
	"SMS: PIN <ref> <ID digits>: a new PIN"
wait_for 5 grep -q "report $ref3 for" "$TEST_TMP/phone.out"
ok $? "... its receipt reached the owner's line"
R --scan --pattern "kyc:*:vf:${OWNER2#+}:own" | while read -r k; do R DEL "$k"; done >/dev/null
r=$(sms "$OWNER2" "PIN $ref 6543")
is "$r" "$(render en sms.pin_unknown)" "SMS: another owner's reference, own ID right: unknown"
r=$(sms "$OWNER2" "PIN $ref 0000")
is "$r" "$(render en sms.mine_id_wrong tries=2)" "SMS: ... with a wrong ID: the ID, nothing else"
is "$(sms "$FRIEND" "REPORTS 1234")" "$(render en mine.no_kyc)" "SMS: a line with no ID on record"
is "$(walk y2 "$OTHER" 6 1234)" "END $(render en mine.no_kyc)" "USSD: the same"

# ---- unblock ------------------------------------------------------------------------------
r=$(sms "$OWNER" "RECOVERED $ref 000000")
is "$r" "$(render en unblock.wrong_pin ref="$ref" tries=2)" "RECOVERED with a wrong PIN: 2 tries left"
r=$(walk u0 "$OWNER" 3 "$ref" 000001)
is "$r" "END $(render en unblock.wrong_pin ref="$ref" tries=1)" "... by menu again: 1 try left"
n1=$(queued)
is "$(sms "$OWNER" "RECOVERED $ref $pin")" "$(render en unblock.done ref="$ref")" \
	"RECOVERED <ref> <PIN>: unblock requested"
is "$(queued)" "$((n1 + 1))" "one unblock request queued"
like "$(R XREVRANGE ceir:requests + - COUNT 1)" "$ref-unblock" "request id <ref>-unblock"
r=$(walk u1 "$OWNER" 3 "$ref" "$pin")
is "$r" "END $(render en unblock.already ref="$ref")" "unblock by menu again: already requested"
is "$(queued)" "$((n1 + 1))" "... nothing queued twice"
/usr/bin/python3 "$CONSUMER" "${BACKEND_CONSUMER[@]}" --once >>"$TEST_TMP/consumer.out" 2>&1
wait_for 10 r_is unblocked HGET "rep:{$A}" state
ok $? "the CEIR unblocked it"
wait_for 10 grep -q "(report $ref) is unblocked" "$TEST_TMP/phone.out"
ok $? "the owner got the 'unblocked' SMS"
is "$(sms "$OTHER" "$A")" "$(render en check.clean maker=Nokia model=N900)" "check: clean again"

# ---- a journey stopped half-way is completed, once ----------------------------------------
# As if ceirgw stopped after opening the report and before queueing: the report is
# "received" and nothing is on the stream. The owner tries again: same reference, one entry.
R DEL "rep:{$B}" >/dev/null
R HSET "rep:{$B}" ref 1000000009 state received owner "$OWNER" reason stolen \
	reported_at 2026-11-01T10:00:00Z >/dev/null
R SET "ref:{1000000009}" "$B" >/dev/null
n2=$(queued)
r=$(sms "$OWNER" "STOLEN $B 5926")
is "$r" "$(render en sms.report_done ref=1000000009)" "a half-done report completes with its reference"
is "$(queued)" "$((n2 + 1))" "... queued once"
is "$(sms "$OWNER" "STOLEN $B 5926")" "$(render en report.already ref=1000000009)" \
	"... and is then already reported"

# ---- rate limits ----------------------------------------------------------------------------
lim=""
for i in $(seq 1 45); do lim=$(sms "+254733000999" "$A"); done
is "$lim" "$(render en common.limited what="$(render en limit.checks)" minutes=60)" \
	"41 checks an hour from one number: refused, saying what and for how long"

# ---- the JSON API -----------------------------------------------------------------------------
code=$(curl -s -o /dev/null -w '%{http_code}' "$url/v1/imei/$A")
is "$code" 401 "API: no key: 401"
r=$(curl -s -H "Authorization: Bearer k3y-0f-partner-a-0123456789" "$url/v1/imei/$A")
like "$r" '"status":"clean"' "API: status"
like "$r" '"maker":"Nokia"' "API: maker"
r=$(curl -s -w ' %{http_code}' -H "X-API-Key: k3y-0f-partner-a-0123456789" \
	"$url/v1/imei/356938035643808")
like "$r" '"reason":"bad_check_digit"' "API: invalid IMEI: the reason"
like "$r" " 400" "API: invalid IMEI: 400"

# ---- languages: every shipped one, chosen in the menu and remembered ----------------------
langs=$(cd "$top_srcdir/templates" && printf '%s\n' *.yaml | sed -n 's/\.yaml$//p' | LC_ALL=C sort)
i=0
for l in $langs; do
	i=$((i + 1))
	who=+2547100000$(printf '%02d' "$i")
	r=$(walk "l$l" "$who" 5 "$i")
	is "$r" "END $(render "$l" lang.done)" "language $l: chosen in the menu"
	r=$(ussd "m$l" "$who" "")
	is "$r" "CON $(render "$l" menu.main)" "language $l: remembered for the number"
	r=$(walk "k$l" "$who" 1 "$A")
	is "$r" "END $(render "$l" check.clean maker=Nokia model=N900)" "language $l: check"
	kw=$(render "$l" kw.status | cut -d, -f1)
	is "$(sms "+2547200000$(printf '%02d' "$i")" "$kw $ref2")" \
		"$(render "$l" status.rejected ref="$ref2" \
			why="$(render "$l" status.why.not_the_owner)")" \
		"language $l: SMS keyword $kw answers in $l"
	r=$(walk "x$l" "$who" 2 2 "0722000111" "$U" 6543)
	is "$r" "END $(render "$l" report.not_linked)" "language $l: report failure text"
	# My reports in $l: the owner's line chooses $l, lists by USSD, and by SMS with the
	# keyword of $l (the reply in its language).
	walk "o$l" "$OWNER" 5 "$i" >/dev/null
	r=$(walk "y$l" "$OWNER" 6)
	is "$r" "CON $(waiting "$l" mine.ask_id)" "language $l: my reports asks the ID digits"
	r=$(walk "z$l" "$OWNER" 6 5926)
	like "$r" "CON $(render "$l" mine.list reports= | head -n1)" "language $l: my reports: the list"
	like "$r" "...0013 $(render "$l" rstate.sent)" "language $l: ... the state in $l"
	kw=$(render "$l" kw.reports | cut -d, -f1)
	r=$(sms "$OWNER" "$kw 5926")
	like "$r" "1000000009 ...0013 $(render "$l" rstate.sent)" \
		"language $l: SMS $kw: the list in $l, with the reference"
	is "$(sms "$OWNER" "$kw")" "$(render "$l" sms.mine_no_id)" "language $l: SMS $kw alone"
done
walk oen "$OWNER" 5 2 >/dev/null

gw_stop
exec 7>&-
done_testing
