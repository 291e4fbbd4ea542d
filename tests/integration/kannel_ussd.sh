# USSD over SMPP: the operator's USSD centre (tests/smpp-sim, on the npm package smpp) speaks
# SMPP to a real bearerbox, which passes ussd_service_op and its_session_info to ceirgw in
# the meta data (smpp-tlv groups). A full report session (dial, six answers, end), a one-shot
# check dialled with its IMEI, a session that times out and is answered late, a user abort,
# a report the network cut short continued on the next dial, Arabic in UCS-2, and a plain
# SMS on the same SMPP link.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kannel_lib.sh"

sim_require
hport=$(free_port)

redis_start
ok $? "redis-server is up" || cat "$TEST_TMP/redis.log"

OWNER=254712345678	# phones A (Nokia N900) and B (Samsung SGH-W110)
BUYER=254733000222
OWNER2=254722000111	# phone C (Siemens A52)
A=356938035643809
pairings_csv "$(phone_row A)" "$(phone_row B)" "$(phone_row C)"
kyc_csv "$KYC_OWNER" "$KYC_OWNER2"
gw_conf "redis = redis://127.0.0.1:$rport" debug "bearerbox = 127.0.0.1:$bb_box" \
	"session-ttl = 10" "box-smsc-id = ussd"
{ import_pairings && import_kyc; } >/dev/null
ok $? "operator data imported"

# The USSD centre first: bearerbox binds to it.
sim_start

bb_conf
sim_smsc_conf octetstring
bb_start
ok $? "bearerbox is up"
wait_for 15 sim_bound
ok $? "bearerbox bound to the USSD centre (transceiver)"
gw_spawn
wait_for 10 box_connected "$hport"
ok $? "ceirgw is connected to bearerbox"

# ---- a full report session ---------------------------------------------------------------
r=$(sim_dial 1001 "$OWNER")
is "$(sim_screen "$r")" "2|$(render en menu.main)" "dial *384#: the menu, ussd_service_op 2 (USSR request)"
is "$(field "$r" session)" 1001 "... with the session's its_session_info"
is "$(field "$r" data_coding)" 0 "... in GSM 7-bit"
r=$(sim_answer 1001 "$OWNER" 2)
like "$(sim_screen "$r")" "2|" "answer 2 (USSR confirm): the owner's phones"
like "$(field "$r" text)" "1 Samsung SGH-W110 ...0013" "... newest first"
is "$(sim_screen "$(sim_answer 1001 "$OWNER" 1)")" "2|$(waiting en report.ask_id)" "picked the Samsung"
is "$(sim_screen "$(sim_answer 1001 "$OWNER" 5926)")" "2|$(waiting en report.reason)" "right ID digits"
is "$(sim_screen "$(sim_answer 1001 "$OWNER" 1)")" "2|$(waiting en report.ask_police)" "stolen"
# 0 and 00 over SMPP as over HTTP (issue 18): back a question, on again, the session kept.
is "$(sim_screen "$(sim_answer 1001 "$OWNER" 0)")" "2|$(waiting en report.reason)" \
	"0 at the police number: back to stolen or lost, the USSD session kept"
is "$(sim_screen "$(sim_answer 1001 "$OWNER" 1)")" "2|$(waiting en report.ask_police)" "... stolen again"
is "$(sim_screen "$(sim_answer 1001 "$OWNER" 1)")" \
	"2|$(waiting en report.confirm phone="Samsung SGH-W110" imei_tail=0013 reason=stolen)" \
	"no police report (1): confirm"
r=$(sim_answer 1001 "$OWNER" 1)
ref=$(field "$r" text | grep -o '[0-9]\{10\}' | head -n1)
is "$(sim_screen "$r")" "17|$(render en report.done ref="$ref")" \
	"confirmed: the reference, ussd_service_op 17 (PSSR response) ends the session"
is "$(R XLEN ceir:requests)" 1 "one block request queued"
like "$(R XREVRANGE ceir:requests + - COUNT 1)" "ussd" "... from the ussd channel"
wait_for 10 sh -c "curl -s http://127.0.0.1:$cport/submits | grep -q 'Unblock PIN'"
ok $? "the receipt went out as an SMS on the same SMPP link"
is "$(sim submits '' GET | /usr/bin/python3 -c '
import json, sys
s = [x for x in json.load(sys.stdin) if "Unblock PIN" in x["text"]]
print(len(s), s[0]["op"] if s else "-")')" "1 None" "... once, without USSD operation"

# ---- a one-shot dial with the IMEI ---------------------------------------------------------
r=$(sim_dial 1002 "$BUYER" "*384*$A#")
is "$(sim_screen "$r")" "17|$(render en check.clean maker=Nokia model=N900)" \
	"dial *384*<IMEI>#: the check result at once, session ended"

# ---- a session that times out ----------------------------------------------------------------
is "$(sim_screen "$(sim_dial 1003 "$BUYER")")" "2|$(render en menu.main)" "another dial"
is "$(sim_screen "$(sim_answer 1003 "$BUYER" 1)")" "2|$(waiting en check.ask)" "chose check"
sleep 11	# session-ttl is 10 s
r=$(sim_answer 1003 "$BUYER" "$A")
is "$(sim_screen "$r")" "2|$(render en menu.main)" \
	"an answer after the session timed out: a fresh start at the menu"

# ---- the user aborts -----------------------------------------------------------------------
sim_dial 1004 "$BUYER" >/dev/null
sim_answer 1004 "$BUYER" 1 >/dev/null
is "$(field "$(sim release "{\"msisdn\":\"$BUYER\",\"session\":1004,\"op\":32}")" sent)" True \
	"the user aborts: release (32)"
wait_for 5 grep -q "USSD session of .* released (op 32)" "$TEST_TMP/ceirgw.log"
ok $? "ceirgw ended the session"
n=$(sim submits '' GET | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
sleep 1
is "$(sim submits '' GET | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" \
	"$n" "... and sent nothing for the release"
r=$(sim_answer 1004 "$BUYER" "$A")
is "$(sim_screen "$r")" "2|$(render en menu.main)" "a late answer to the aborted session: a fresh start"

# ---- a report interrupted, continued on the next dial (issue 18) ---------------------------
sim_dial 1010 "$OWNER2" >/dev/null
sim_answer 1010 "$OWNER2" 2 >/dev/null
is "$(sim_screen "$(sim_answer 1010 "$OWNER2" 1)")" "2|$(waiting en report.ask_id)" "a report of the Siemens"
sim_answer 1010 "$OWNER2" 6543 >/dev/null
is "$(sim_screen "$(sim_answer 1010 "$OWNER2" 1)")" "2|$(waiting en report.ask_police)" \
	"stopped at the police number prompt"
sim release "{\"msisdn\":\"$OWNER2\",\"session\":1010,\"op\":32}" >/dev/null
wait_for 5 sh -c "[ \$(grep -c 'released (op 32)' '$TEST_TMP/ceirgw.log') -ge 2 ]"
is "$(sim_screen "$(sim_dial 1011 "$BUYER")")" "2|$(render en menu.main)" \
	"the network ended it; another number's dial: the menu"
is "$(sim_screen "$(sim_dial 1012 "$OWNER2")")" "2|$(render en common.resume)" \
	"the owner's next dial offers to continue"
is "$(sim_screen "$(sim_answer 1012 "$OWNER2" 1)")" "2|$(waiting en report.ask_police)" \
	"continue: the police number prompt again"
is "$(sim_screen "$(sim_answer 1012 "$OWNER2" "OB/5/2026")")" \
	"2|$(waiting en report.confirm_police imei_tail=4567 reason=stolen police=OB/5/2026)" \
	"the confirmation, with the phone and reason chosen before, and the police number"
r=$(sim_answer 1012 "$OWNER2" 1)
ref2=$(field "$r" text | grep -o '[0-9]\{10\}' | head -n1)
is "$(sim_screen "$r")" "17|$(render en report.done ref="$ref2")" "continued: the report accepted"
is "$(R XLEN ceir:requests)" 2 "... its block request queued"
is "$(sim_screen "$(sim_dial 1013 "$OWNER2")")" "2|$(render en menu.main)" \
	"a finished report leaves no offer"

# ---- Arabic, UCS-2 -------------------------------------------------------------------------
sim_dial 1005 "$BUYER" >/dev/null
r=$(sim_answer 1005 "$BUYER" 5)
ar=$(field "$r" text | grep -o '[0-9] العربية' | cut -c1)
r=$(sim_answer 1005 "$BUYER" "$ar")
is "$(sim_screen "$r")" "17|$(render ar lang.done)" "Arabic chosen"
r=$(sim_dial 1006 "$BUYER")
is "$(sim_screen "$r")" "2|$(render ar menu.main)" "the menu in Arabic"
is "$(field "$r" data_coding)" 8 "... in UCS-2 (data_coding 8)"
is "$(sim_screen "$(sim_answer 1006 "$BUYER" 4)")" "2|$(waiting ar status.ask)" \
	"the status prompt in Arabic, with its back and home lines"
is "$(sim_screen "$(sim_answer 1006 "$BUYER" 00)")" "2|$(render ar menu.main)" "... 00: the menu"

# ---- a plain SMS on the same link ----------------------------------------------------------
r=$(sim sms "{\"msisdn\":\"$BUYER\",\"text\":\"CHECK $A\"}")
is "$(field "$r" text)" "$(render ar check.clean maker=Nokia model=N900)" \
	"an SMS on the SMPP link: answered as an SMS, in the number's language"
is "$(field "$r" op)" "" "... with no USSD operation"

grep -q "$OWNER\|$OWNER2\|$BUYER" "$TEST_TMP/ceirgw.log"
ok $((!$?)) "no full MSISDN in ceirgw's log"

done_testing
