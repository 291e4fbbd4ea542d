# Issue 18, a one-time code to the owner's line (verify-report = id+otp, then otp): the code
# read from the SMS the owner's line gets, a wrong one with the tries left, an expired one and
# a new one, "another number" whose receipt reaches the owner's line (the reporter told
# where), bursts (40 strangers asking codes for one line: at most rate-otp-line SMS reach it;
# 300 wrong codes at once: at most verify-tries compared), no code in the log; then with
# verify-report = id, "another number" unchanged (the receipt to the reporter). In fr, sw and
# ar too: a reporter who chose its language, the code screens, the code SMS and the receipt to
# the owner's line in that language. A real Redis (one redis-server, or a cluster with
# CEIRGW_TEST_BACKEND=cluster: backend_lib.sh), the real ceirgw, a sendsms endpoint that
# records every SMS.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/backend_lib.sh"
. "$(dirname "$0")/journey_lib.sh"

pport=$(free_port)
journey_start

OWNER=+254712345678	# phone A, ID 31415926
OWNER2=+254722000111	# phone C, ID A9876543
OWNER4=+254722000555	# phone F, ID 16180339
OWNER5=+254722000666	# phone G, ID 14142135
OWNER6=+254722000777	# phone H, ID 17320508
BUYER=+254733000222	# no phone of its own
A=356938035643809
C=353322001234567
F=353320000000054
G=353320000000062
H=353320000000039
pairings_csv "$(phone_row A)" "$(phone_row C)" \
	"$F,254722000555,639021000000005,2025-01-01,$today" \
	"$G,254722000666,639021000000006,2025-01-01,$today" \
	"$H,254722000777,639021000000007,2025-01-01,$today"
kyc_csv "$KYC_OWNER" "$KYC_OWNER2" 254722000555,16180339 254722000666,14142135 \
	254722000777,17320508
# Per language (fr, sw, ar; en is above), a reporter with no phone of its own that speaks it,
# and an owner's line with a phone and an ID on record: the code to that line in the
# reporter's language. Lines of their own, so that rate-otp-line's budget is theirs alone.
LLANGS=(fr sw ar)
L_TAC=(35675904 35250500 01194800)	# data/tacdb.csv: their maker and model below
L_MAKER=(Oppo Nokia Apple)
L_MODEL=(N1 6820 "iPhone 3GS")
L_NATID=(27182818 B1618033 57721566)
declare -a L_OWNER L_REPORTER L_IMEI
for i in "${!LLANGS[@]}"; do
	L_OWNER[i]=+25472200088$((i + 1))
	L_REPORTER[i]=+25473300030$((i + 1))
	L_IMEI[i]=$(imei_of "${L_TAC[i]}88$((i + 1))001")
	echo "${L_IMEI[i]},${L_OWNER[i]#+},63902100000008$((i + 1)),2025-01-01,$today" \
		>>"$TEST_TMP/pairings.csv"
	echo "${L_OWNER[i]#+},${L_NATID[i]}" >>"$TEST_TMP/kyc.csv"
done
TTL=10
gw_conf "$BACKEND_REDIS_CONF" info "verify-report = id+otp" "otp-ttl = $TTL" \
	"rate-otp-line = 3/3600" "rate-otp-msisdn = 10/3600" "verify-tries = 3"
import_data
sendsms_start "$pport" "$TEST_TMP/sms.log"
gw_start
ok $? "ceirgw is up (verify-report = id+otp)"

# code_for LINE: the code of the last SMS to LINE (waits until one came after the N-th line
# of sms.log, N in $TEST_TMP/seen).
mark() { wc -l <"$TEST_TMP/sms.log" >"$TEST_TMP/seen"; }
sms_since() { tail -n +$(($(cat "$TEST_TMP/seen") + 1)) "$TEST_TMP/sms.log"; }
code_to() { sms_since | awk -F'\t' -v to="$1" '$1 == to' | grep -o '[0-9]\{6\}' | tail -n1; }
has_code() { [ -n "$(code_to "$1")" ]; }
masked() { printf '%s****%s' "${1:0:5}" "${1: -4}"; }
: >"$TEST_TMP/sms.log"

# ---- 1. id+otp, for another number: the code reaches the owner's line ---------------------------
mark
dial h1 "$BUYER" >/dev/null
press 2 2 0712345678 "$A" >/dev/null
r=$(press 5926)
is "$r" "CON $(waiting en report.otp_ask line="$(masked "$OWNER")")" \
	"the ID digits match: the code is asked for, the owner's line masked"
wait_for 10 has_code "$OWNER"
ok $? "the code reached the owner's line by SMS"
code=$(code_to "$OWNER")
is "$(sms_since | awk -F'\t' -v to="$BUYER" '$1 == to' | wc -l)" 0 "nothing to the reporter"
r=$(press 12)
is "$r" "CON $(waiting en report.otp_bad line="$(masked "$OWNER")")" \
	"a malformed code is asked again, no try used"
wrong=$(printf '%06d' $(((10#$code + 1) % 1000000)))
r=$(press "$wrong")
is "$r" "CON $(waiting en report.otp_wrong tries=2 line="$(masked "$OWNER")")" \
	"a wrong code: the tries left"
r=$(press "$code")
is "$r" "CON $(waiting en report.reason)" "the right code: the report goes on"
mark
r=$(press 1 1 1)	# stolen, no police number, yes
ref=$(ref_in "$r")
is "$r" "END $(render en report.done_owner ref="$ref" line="$(masked "$OWNER")")" \
	"accepted: the reporter is told where the reference and the PIN went"
wait_for 10 sh -c "grep -q 'PIN' '$TEST_TMP/sms.log' && tail -n +$(($(cat "$TEST_TMP/seen") + 1)) '$TEST_TMP/sms.log' | grep -q PIN"
receipt_to=$(sms_since | grep "$ref" | cut -f1 | sort -u)
is "$receipt_to" "$OWNER" "the receipt with the PIN reached the owner's line, not the reporter"
is "$(R HGET "rep:{$A}" receipt_to)" "$OWNER" "the report keeps where its receipt goes"

# ---- 2. expired, then a new code --------------------------------------------------------------
mark
dial h2 "$BUYER" >/dev/null
press 2 2 0722000111 "$C" >/dev/null
press A9876543 >/dev/null
wait_for 10 has_code "$OWNER2"
code=$(code_to "$OWNER2")
sleep $((TTL + 1))
r=$(press "$code")
is "$r" "CON $(waiting en report.otp_expired)" "an expired code says so and offers a new one"
mark
press 1 >/dev/null
wait_for 10 has_code "$OWNER2"
code2=$(code_to "$OWNER2")
r=$(press "$code2")
is "$r" "CON $(waiting en report.reason)" "the new code is taken"
r=$(press 2 1 2)	# lost, no police number, no
is "$r" "END $(render en report.cancelled)" "nothing reported when the reporter says no"

# ---- 3. 300 wrong codes of one session at once: at most verify-tries compared, and the
# repeats get the screen as it was; three wrong codes lock the code ---------------------------
mark
r=$(walk one "$BUYER" 2 2 0722000666 "$G" 14142135)
is "$r" "CON $(waiting en report.otp_ask line="$(masked "$OWNER5")")" "a code sent to a fifth line"
wait_for 10 has_code "$OWNER5"
code=$(code_to "$OWNER5")
for i in $(seq 1 300); do
	printf '%s\t2*2*0722000666*%s*14142135*%06d\n' "$BUYER" "$G" $(( (10#$code + i) % 1000000 ))
done >"$TEST_TMP/code.burst"
# one_line CMD ARG...: what CMD prints, its lines joined by | as burst prints a reply (so that
# grep -x compares the whole screen, not each of its lines)
one_line() { local t; t=$("$@"); printf '%s' "${t//$'\n'/|}"; }
burst ussd1 "$TEST_TMP/code.burst" >"$TEST_TMP/code.out"
n=$(R HGET "otp:{$OWNER5}:oth" n)
ok "$([ "$n" -ge 1 ] && [ "$n" -le 3 ] && echo 0 || echo 1)" \
	"300 wrong codes at once: at most 3 compared ($n)"
wrong=$(($(grep -cxF "CON $(one_line waiting en report.otp_wrong tries=2 line="$(masked "$OWNER5")")" \
	"$TEST_TMP/code.out") + $(grep -cxF "CON $(one_line waiting en report.otp_wrong tries=1 \
	line="$(masked "$OWNER5")")" "$TEST_TMP/code.out")))
locked=$(grep -cxF "END $(render en report.otp_locked minutes=1)" "$TEST_TMP/code.out")
is "$((wrong + locked))" 300 "each told 'wrong' with the tries left, or locked"
is "$(grep -c ERROR "$TEST_TMP/code.out")" 0 "every one answered"
mark
dial lk "$BUYER" >/dev/null
press 2 2 0722000777 "$H" 17320508 >/dev/null
wait_for 10 has_code "$OWNER6"
code=$(code_to "$OWNER6")
wrong=$(printf '%06d' $(((10#$code + 1) % 1000000)))
press "$wrong" >/dev/null
press "$wrong" >/dev/null
r=$(press "$wrong")
is "$r" "END $(render en report.otp_locked minutes=1)" "three wrong codes: locked, for how long"
r=$(walk one2 "$BUYER" 2 2 0722000777 "$H" 17320508)
is "$r" "END $(render en report.otp_locked minutes=1)" \
	"no new code for the line while its code is locked: says for how long"

# ---- 4. every language (fr, sw, ar; en above): a reporter who chose its language in the menu
# reports a phone for another number; the code screens, the code SMS to the owner's line and
# the receipt there, all in the reporter's language -------------------------------------------
esc() { local s=${1//\\/\\\\}; s=${s//$'\n'/\\n}; printf '%s' "${s//$'\t'/\\t}"; }
# texts_to WHO: the texts of the SMS to WHO since the mark, one line each (as esc writes them).
texts_to() { sms_since | awk -F'\t' -v to="$1" '$1 == to { print $2 }'; }
# The language menu lists every shipped language by its name, in the order of their codes.
menu=$(language_menu)
for i in "${!LLANGS[@]}"; do
	l=${LLANGS[i]} who=${L_REPORTER[i]} own=${L_OWNER[i]} imei=${L_IMEI[i]}
	mk=${L_MAKER[i]} md=${L_MODEL[i]} line=$(masked "${L_OWNER[i]}")
	name=$(sed -n 's/^name: *//p' "$top_srcdir/templates/$l.yaml")
	n=$(printf '%s\n' "$menu" | sed -n "s/^\([1-9]\) $name\$/\1/p")
	dial "g$l" "$who" >/dev/null
	is "$(press 5)" "CON $(waiting en lang.menu languages="$menu")" "$l: the language menu"
	is "$(press "$n")" "END $(render "$l" lang.done)" "$l: $name chosen for the reporter's number"
	mark
	is "$(dial "o$l" "$who")" "CON $(render "$l" menu.main)" "$l: the menu in $l"
	is "$(press 2)" "CON $(waiting "$l" report.which)" "$l: report: no phone of its own: which"
	is "$(press 2)" "CON $(waiting "$l" report.ask_owner)" "$l: another number: which one"
	is "$(press "0${own:4}")" "CON $(waiting "$l" report.ask_imei)" "$l: ... the IMEI"
	is "$(press "$imei")" "CON $(waiting "$l" report.ask_id)" "$l: ... the ID digits first (id+otp)"
	is "$(press "${L_NATID[i]: -4}")" "CON $(waiting "$l" report.otp_ask line="$line")" \
		"$l: the ID digits match: the code asked for in $l, the owner's line masked"
	wait_for 10 has_code "$own"
	ok $? "$l: the code reached the owner's line by SMS"
	code=$(code_to "$own")
	is "$(texts_to "$own")" "$(esc "$(render "$l" notify.otp otp="$code" minutes=1)")" \
		"$l: one code SMS to the owner's line, in $l (the reporter's language)"
	is "$(press 12)" "CON $(waiting "$l" report.otp_bad line="$line")" \
		"$l: a malformed code: asked again in $l, no try used"
	wrong=$(printf '%06d' $(((10#$code + 1) % 1000000)))
	r=$(press "$wrong")
	want="CON $(waiting "$l" report.otp_wrong tries=2 line="$line")"
	is "$r" "$want" "$l: a wrong code: the tries left, in $l"
	is "$(press "$code")" "CON $(waiting "$l" report.reason)" \
		"$l: the right code: what happened? in $l"
	is "$(press 1)" "CON $(waiting "$l" report.ask_police)" "$l: stolen: the police number"
	is "$(press 1)" "CON $(waiting "$l" report.confirm phone="$mk $md" imei_tail="${imei:11}" \
		reason="$(render "$l" reason.stolen)")" "$l: no police number: the confirmation"
	r=$(press 1)
	ref=$(ref_in "$r")
	is "$r" "END $(render "$l" report.done_owner ref="$ref" line="$line")" \
		"$l: accepted: where the reference and the PIN went, in $l"
	wait_for 10 sh -c "tail -n +$(($(cat "$TEST_TMP/seen") + 1)) '$TEST_TMP/sms.log' |
		awk -F'\t' -v to='$own' '\$1 == to' | grep -qF '$ref'"
	rec=$(texts_to "$own" | grep -F "$ref")
	pin=$(printf '%s' "$rec" | grep -ow '[0-9]\{6\}' | head -n1)
	is "$rec" "$(esc "$(render "$l" notify.receipt ref="$ref" maker="$mk" model="$md" \
		pin="$pin")")" "$l: the receipt with the PIN to the owner's line, in $l"
	is "$(texts_to "$who" | wc -l)" 0 "$l: no SMS to the reporter"
	is "$(R HGET "rep:{$imei}" receipt_to)" "$own" "$l: the report keeps where its receipt went"
done

gw_stop
cp "$TEST_TMP/kyc.key" "$TEST_TMP/kyc.key.keep"	# gw_conf draws a new one: the imported
						# digests need this one
# ---- 5. verify-report = otp: 40 strangers ask codes for one line at once -----------------------
gw_conf "$BACKEND_REDIS_CONF" info "verify-report = otp" "otp-ttl = $TTL" \
	"rate-otp-line = 3/3600" "verify-tries = 3"
cp "$TEST_TMP/kyc.key.keep" "$TEST_TMP/kyc.key"
gw_start
ok $? "ceirgw is up again (verify-report = otp)"
mark
for i in $(seq 1 40); do
	printf '+2547350%05d\t2*2*0722000555*%s\n' "$i" "$F"
done >"$TEST_TMP/ask.burst"
burst ussd "$TEST_TMP/ask.burst" >"$TEST_TMP/ask.out"
asked=$(grep -cxF "CON $(one_line waiting en report.otp_ask line="$(masked "$OWNER4")")" "$TEST_TMP/ask.out")
refused=$(grep -cxF "END $(render en report.otp_line_limited line="$(masked "$OWNER4")" minutes=60)" "$TEST_TMP/ask.out")
is "$asked $refused" "3 37" "40 code requests at once: 3 sent, 37 refused saying what and how long"
sleep 2
is "$(sms_since | awk -F'\t' -v to="$OWNER4" '$1 == to' | wc -l)" 3 \
	"at most rate-otp-line SMS reached the owner's line"
r=$(walk own "$OWNER4" 2 1)
is "$r" "CON $(waiting en report.otp_ask line="$(masked "$OWNER4")")" \
	"the owner's own line keeps its own budget"

# ---- 6. no code, ID or full number in the log ------------------------------------------------
codes=$(grep -o '[0-9]\{6\}' "$TEST_TMP/sms.log" | sort -u)
leaks=0
for c in $codes; do grep -q "$c" "$TEST_TMP/ceirgw.log" && leaks=$((leaks + 1)); done
is "$leaks" 0 "no code of the SMS in the log"
is "$(grep -cE "31415926|A9876543|14142135|17320508|254712345678|254722000111$(printf '|%s' \
	"${L_NATID[@]}" "${L_OWNER[@]#+}")" "$TEST_TMP/ceirgw.log")" 0 \
	"no ID or full number in the log"

gw_stop
# ---- 7. verify-report = id: "another number" as before, the receipt to the reporter ---------------
gw_conf "$BACKEND_REDIS_CONF" info "verify-report = id"
cp "$TEST_TMP/kyc.key.keep" "$TEST_TMP/kyc.key"
gw_start
ok $? "ceirgw is up again (verify-report = id)"
mark
r=$(walk h6 "$BUYER" 2 2 0722000111 "$C" A9876543 1 1 1)
ref=$(ref_in "$r")
is "$r" "END $(render en report.done ref="$ref")" "accepted, as before"
wait_for 10 sh -c "tail -n +$(($(cat "$TEST_TMP/seen") + 1)) '$TEST_TMP/sms.log' | grep -q '$ref'"
is "$(sms_since | grep "$ref" | cut -f1 | sort -u)" "$BUYER" "the receipt went to the reporter"
is "$(sms_since | awk -F'\t' -v to="$OWNER2" '$1 == to' | wc -l)" 0 "nothing to the owner's line"

gw_stop
done_testing
