# Resuming an interrupted report (issue 18), end to end in every shipped language: a real
# Redis (or a cluster with CEIRGW_TEST_BACKEND=cluster: backend_lib.sh), the real ceirgw with
# session-ttl = 10 s, operator data imported with ceirgwctl, USSD by the aggregator's callback
# (a new session id per dial, the inputs joined by '*'). Per language an owner, who chose it
# in the menu, stops at the police number prompt; the network's session ends (its key is
# dropped); then: another number dials and sees the menu; a dial with an IMEI checks it; a
# plain dial from the owner's number offers to continue, continue shows the police prompt
# again and completes the report (one block request, the receipt); the next dial shows the
# menu. Then an interruption declined (the menu; no offer after it), and interruptions left
# past session-ttl (no offer). Expected texts come from `ceirgwctl flows render`: the screens
# past the start with their back and home lines (`waiting`), the resume screen and the menu
# without (they stand for the start).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/backend_lib.sh"
. "$(dirname "$0")/journey_lib.sh"

journey_start
wait_for 10 R ping
ok $? "redis is up"

lang_phones
BUYER=+254733000909	# a number with no report of its own
declare -a OWNER P
pairings_csv
kyc_csv
for i in "${!LANGS[@]}"; do
	OWNER[i]=+25471200000$((i + 1))
	P[i]=$(imei_of "${P_TAC[i]}72$((i + 1))001")
	echo "${P[i]},${OWNER[i]#+},63902100000020$((i + 1)),2025-06-01,$today" \
		>>"$TEST_TMP/pairings.csv"
	echo "${OWNER[i]#+},${NATID[i]}" >>"$TEST_TMP/kyc.csv"
done
journey_gw debug "session-ttl = 10"

# entries IMEI: the CEIR requests for IMEI, one line each: type and channel.
entries() {
	backend_python - "$1" <<'EOF'
import sys, ceirgw_test_backend as backend
for _, f in backend.connect(decode_responses=True).xrange("ceir:requests"):
    if f.get("imei") == sys.argv[1]:
        print(f.get("type"), f.get("channel"), f.get("police_ref", ""))
EOF
}
# session_gone SESSION WHO: the network's session ends (its record dropped, as a timeout would).
session_gone() { R DEL "s:{u:$1:${2#+}}" >/dev/null; }

# The language menu's line of each language.
menu=$(language_menu)

for i in "${!LANGS[@]}"; do
	l=${LANGS[i]} who=${OWNER[i]} p=${P[i]} id4=${NATID[i]: -4}
	pmk=${P_MAKER[i]} pmd=${P_MODEL[i]}
	name=$(sed -n 's/^name: *//p' "$top_srcdir/templates/$l.yaml")
	n=$(printf '%s\n' "$menu" | sed -n "s/^\([1-9]\) $name\$/\1/p")
	is "$(walk "l$l" "$who" 5 "$n")" "END $(render "$l" lang.done)" "$l: $name chosen"

	# -- stopped at the police number: the network's session ends
	dial "a$l" "$who" >/dev/null
	press 2 >/dev/null
	press 1 >/dev/null
	is "$(press "$id4")" "CON $(waiting "$l" report.reason)" "$l: the ID digits match"
	is "$(press 1)" "CON $(waiting "$l" report.ask_police)" "$l: stopped at the police number"
	session_gone "a$l" "$who"

	# -- nothing for anyone else, nor for a dial with arguments
	is "$(ussd "x$l" "$BUYER" "")" "CON $(render en menu.main)" \
		"$l: another number's dial: the plain menu"
	is "$(ussd "y$l" "$who" "$p")" "END $(render "$l" check.clean maker="$pmk" model="$pmd")" \
		"$l: the owner's *384*IMEI#: the check, no offer"

	# -- continued: the police prompt again, then the report completes
	is "$(dial "b$l" "$who")" "CON $(render "$l" common.resume)" \
		"$l: the owner's next dial offers to continue"
	is "$(press 1)" "CON $(waiting "$l" report.ask_police)" \
		"$l: continue: the police number prompt, as it was"
	is "$(press "OB/7/$i")" "CON $(waiting "$l" report.confirm_police imei_tail="${p:11}" \
		reason="$(render "$l" reason.stolen)" police="OB/7/$i")" \
		"$l: the confirmation, with what was chosen before the interruption"
	r=$(press 1)
	ref=$(ref_in "$r")
	is "$r" "END $(render "$l" report.done ref="$ref")" "$l: the report is accepted"
	is "$(entries "$p")" "block ussd OB/7/$i" "$l: exactly one block request, the police number in it"
	sms_ref=$(wait_for 10 grep -qF "$ref" "$TEST_TMP/sms.log" && echo yes)
	is "$sms_ref" yes "$l: the receipt SMS went"
	is "$(ussd "c$l" "$who" "")" "CON $(render "$l" menu.main)" \
		"$l: a finished report leaves no offer"

	# -- stopped at the ID digits, then declined: the menu, and the offer is gone
	dial "d$l" "$who" >/dev/null
	press 2 >/dev/null
	is "$(press 1)" "CON $(waiting "$l" report.ask_id)" "$l: stopped at the ID digits"
	session_gone "d$l" "$who"
	is "$(dial "e$l" "$who")" "CON $(render "$l" common.resume)" "$l: offered again"
	is "$(press 2)" "CON $(render "$l" menu.main)" "$l: 2: the main menu"
	is "$(ussd "f$l" "$who" "")" "CON $(render "$l" menu.main)" "$l: declined: no offer after it"

	# -- stopped again, to be left past session-ttl (below)
	dial "g$l" "$who" >/dev/null
	press 2 >/dev/null
	is "$(press 1)" "CON $(waiting "$l" report.ask_id)" "$l: stopped again"
done

sleep 11	# session-ttl is 10 s
for i in "${!LANGS[@]}"; do
	l=${LANGS[i]}
	is "$(ussd "h$l" "${OWNER[i]}" "")" "CON $(render "$l" menu.main)" \
		"$l: after session-ttl: no offer, the menu"
done

# Nothing of the journeys in the log: no full number, no ID.
for i in "${!LANGS[@]}"; do
	is "$(grep -cF -e "${OWNER[i]}" -e "${NATID[i]}" "$TEST_TMP/ceirgw.log")" 0 \
		"${LANGS[i]}: neither the owner's number nor the ID in the log"
done

gw_stop
done_testing
