#!/bin/bash
# A phone blocked abroad, end to end (issue 19): a real Redis (one redis-server, or a cluster
# with CEIRGW_TEST_BACKEND=cluster: backend_lib.sh) holding what the neighbours' feeds say of
# some IMEIs, written with Python as store_foreign_apply leaves it (fx:{bucket}, a field per
# IMEI and country, 3 bytes a value: store/pairs.h), and the real ceirgw, which reads the
# countries of its feed-peer groups (the peers themselves are not reachable here: their
# polls fail, which changes nothing of what was accepted). A buyer's check by USSD, by SMS
# and by the JSON API, in English and in French and Arabic: stolen in one country, lost in
# another, blocked in two (the newest told), a country the texts do not name, a national
# report told first, an unblock abroad clearing it. Expected texts come from
# `ceirgwctl flows render`, country names included.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/backend_lib.sh"
. "$(dirname "$0")/journey_lib.sh"

journey_start
wait_for 10 R ping
ok $? "redis is up"

OWNER=+254712345678
BUYER=+254733000222	# English
ACHETEUR=+254733000333	# French, chosen in the menu
MUSHTARI=+254733000444	# Arabic, chosen in the menu
A=356938035643809	# Nokia N900: stolen in Kenya
B=353320000000013	# Samsung SGH-W110: lost in Tanzania
C=353322001234567	# Siemens A52: lost in Uganda, then stolen in Kenya (newer)
D=353321005555555	# Samsung SGH-W110: blocked here (a national report) and in Tanzania
E=353320000000021	# Samsung SGH-W110: stolen in a country the texts do not name (QA)
pairings_csv "$(phone_row A)" "$(phone_row B)"
kyc_csv "$KYC_OWNER"
peers=()
for cc in KE TZ UG QA; do
	lc=$(echo "$cc" | tr A-Z a-z)
	vk=$("$CEIRGWCTL" feed keygen --origin "ceir.$lc/feed" --out "$TEST_TMP/$lc.key" | head -n1)
	peers+=("" "group = feed-peer" "origin = ceir.$lc/feed" "url = http://127.0.0.1:9/feed"
		"key = $vk" "country = $cc" "poll-interval = 3600")
done
# This country is Rwanda: Kenya is a neighbour here (numbers still default to +254).
gw_conf "$BACKEND_REDIS_CONF" debug "rate-check-msisdn = 100/3600" "api-keys-file = api.keys" \
	"country = RW" "${peers[@]}"
echo "partner-a k3y-0f-partner-a-0123456789" >"$TEST_TMP/api.keys"
import_data

# abroad IMEI COUNTRY REASON DAY...: the neighbours' decisions, each as the follower applies
# it: S (stolen) or L (lost) sets the IMEI's field of the country; - (an unblock) deletes it.
abroad() {
	backend_python - "$@" <<'EOF'
import datetime
import sys

import ceirgw_test_backend as backend

r = backend.connect()
args = sys.argv[1:]
for i in range(0, len(args), 4):
    imei, country, reason, day = args[i:i + 4]
    body = int(imei[:14])
    key = "fx:{%04d}" % (body % 10000)
    v = body // 10000
    field = v.to_bytes(max(1, (v.bit_length() + 7) // 8), "big") + country.encode()
    days = (datetime.date.fromisoformat(day) - datetime.date(2000, 1, 1)).days
    if reason == "-":
        r.hdel(key, field)
    else:
        r.hset(key, field, reason.encode() + days.to_bytes(2, "big"))
EOF
}

api() { curl -s -H "Authorization: Bearer k3y-0f-partner-a-0123456789" "$url/v1/imei/$1"; }

abroad "$A" KE S 2026-12-02 "$B" TZ L 2026-11-20 "$C" UG L 2026-10-01 "$C" KE S 2026-11-15 \
	"$D" TZ S 2026-11-30 "$E" QA S 2026-12-01
ok $? "the neighbours' decisions written"
R HSET "rep:{$D}" ref 1000000017 state blocked owner "$OWNER" reason stolen \
	created "$(date -u -d 2026-11-03T10:00:00Z +%s)" >/dev/null

gw_start
ok $? "ceirgw is up"

# ---- English ------------------------------------------------------------------------------
ke=$(render en country.ke)
is "$ke" Kenya "country.ke in English"
want=$(render en check.foreign_stolen phone="Nokia N900" country="$ke" date=2026-12-02)
like "$want" "Nokia N900: REPORTED STOLEN in Kenya on 2026-12-02. Do not buy it." \
	"the text as the issue reads it"
is "$(walk f1 "$BUYER" 1 "$A")" "END $want" "USSD: stolen in Kenya"
is "$(sms "$BUYER" "$A")" "$want" "SMS: stolen in Kenya"
is "$(sms "$BUYER" "CHECK $B")" \
	"$(render en check.foreign_lost phone="Samsung SGH-W110" country="$(render en country.tz)" \
		date=2026-11-20)" "SMS: lost in Tanzania"
is "$(ussd f2 "$BUYER" "$C")" \
	"END $(render en check.foreign_stolen phone="Siemens A52" country="$ke" date=2026-11-15)" \
	"USSD shortcut: blocked in two countries, the newest told"
is "$(sms "$BUYER" "$E")" \
	"$(render en check.foreign_stolen phone="Samsung SGH-W110" country=QA date=2026-12-01)" \
	"a country the texts do not name: its code"
is "$(sms "$BUYER" "$D")" \
	"$(render en check.blocked maker=Samsung model=SGH-W110 reason="$(render en reason.stolen)" \
		date=2026-11-03)" "a national report is told first"

# ---- the JSON API ---------------------------------------------------------------------------
r=$(api "$A")
like "$r" '"status":"foreign_stolen"' "API: status foreign_stolen"
like "$r" '"foreign":[{"country":"KE","status":"blocked","reason":"stolen","day":"2026-12-02"}]' \
	"API: the neighbour's record"
case $r in *reported_on*) ok 1 "API: no reported_on for a block abroad" ;;
*) ok 0 "API: no reported_on for a block abroad" ;; esac
r=$(api "$C")
like "$r" '"status":"foreign_stolen"' "API: two countries: status of the newest"
like "$r" '"foreign":[{"country":"KE","status":"blocked","reason":"stolen","day":"2026-11-15"},{"country":"UG","status":"blocked","reason":"lost","day":"2026-10-01"}]' \
	"API: both records, newest first"
like "$(api "$B")" '"status":"foreign_lost"' "API: status foreign_lost"
r=$(api "$D")
like "$r" '"status":"blocked"' "API: a national block first"
like "$r" '"reported_on":"2026-11-03"' "API: ... with its day"
like "$r" '"foreign":[{"country":"TZ","status":"blocked","reason":"stolen","day":"2026-11-30"}]' \
	"API: ... and the neighbour's record still listed"
like "$(api 353320000000039)" '"foreign":[]' "API: none abroad: an empty list"
# Each answer as doc/openapi.yaml declares it: ImeiCheck, its foreign blocks item by item.
for imei in "$A" "$C" "$D"; do
	api "$imei" >"$TEST_TMP/api-$imei.json"
	is "$(/usr/bin/python3 "$top_srcdir/tests/tools/openapi_check.py" "$top_srcdir/doc/openapi.yaml" \
		"/v1/imei/{imei}" get 200 "$TEST_TMP/api-$imei.json" 2>&1)" ok \
		"API: the answer for $imei has exactly the properties of doc/openapi.yaml"
done

# ---- French and Arabic, chosen in the menu -------------------------------------------------
walk l1 "$ACHETEUR" 5 3 >/dev/null
walk l2 "$MUSHTARI" 5 1 >/dev/null
want=$(render fr check.foreign_stolen phone="Nokia N900" country="$(render fr country.ke)" \
	date=2026-12-02)
is "$(walk f3 "$ACHETEUR" 1 "$A")" "END $want" "fr: USSD: stolen in Kenya"
like "$want" "(Kenya)" "fr: the country named"
is "$(sms "$ACHETEUR" "$B")" \
	"$(render fr check.foreign_lost phone="Samsung SGH-W110" country="$(render fr country.tz)" \
		date=2026-11-20)" "fr: SMS: lost in Tanzania"
like "$(sms "$ACHETEUR" "$B")" "Tanzanie" "fr: ... Tanzanie"
want=$(render ar check.foreign_stolen phone="Nokia N900" country="$(render ar country.ke)" \
	date=2026-12-02)
is "$(ussd f4 "$MUSHTARI" "$A")" "END $want" "ar: USSD: stolen in Kenya"
like "$want" "كينيا" "ar: the country named"
is "$(sms "$MUSHTARI" "$C")" \
	"$(render ar check.foreign_stolen phone="Siemens A52" country="$(render ar country.ke)" \
		date=2026-11-15)" "ar: SMS: two countries, the newest"

# ---- an unblock abroad clears it --------------------------------------------------------------
abroad "$C" KE - 2026-12-03
is "$(sms "$BUYER" "$C")" \
	"$(render en check.foreign_lost phone="Siemens A52" country="$(render en country.ug)" \
		date=2026-10-01)" "Kenya unblocks: Uganda's block is told"
abroad "$C" UG - 2026-12-04 "$A" KE - 2026-12-04
is "$(sms "$BUYER" "$C")" "$(render en check.clean maker=Siemens model=A52)" \
	"Uganda unblocks too: clean"
is "$(walk f5 "$BUYER" 1 "$A")" "END $(render en check.clean maker=Nokia model=N900)" \
	"the only country unblocks: clean"
r=$(api "$A")
like "$r" '"status":"clean"' "API: clean again"
like "$r" '"foreign":[]' "API: ... no record abroad"
is "$(R EXISTS "fx:{4380}")" 0 "the last record out takes the field (and the key) with it"

gw_stop
done_testing
