# Issue 18, a one-time code to the owner's line (verify-report = id+otp, then otp): the code
# read from the SMS the owner's line gets, a wrong one with the tries left, an expired one and
# a new one, "another number" whose receipt reaches the owner's line (the reporter told
# where), bursts (40 strangers asking codes for one line: at most rate-otp-line SMS reach it;
# 300 wrong codes at once: at most verify-tries compared), no code in the log; then with
# verify-report = id, "another number" unchanged (the receipt to the reporter). A real Redis
# (one redis-server, or a cluster with CEIRGW_TEST_BACKEND=cluster: backend_lib.sh), the real
# ceirgw, a sendsms endpoint that records every SMS.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/backend_lib.sh"
. "$(dirname "$0")/journey_lib.sh"

hport=$(free_port)
pport=$(free_port)
url=http://127.0.0.1:$hport
backend_start

today=$(date -u +%F)
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
cat >"$TEST_TMP/pairings.csv" <<EOF
imei,msisdn,imsi,first_seen,last_seen
$A,254712345678,639021000000001,2025-01-01,$today
$C,254722000111,639021000000002,2025-01-01,$today
$F,254722000555,639021000000005,2025-01-01,$today
$G,254722000666,639021000000006,2025-01-01,$today
$H,254722000777,639021000000007,2025-01-01,$today
EOF
cat >"$TEST_TMP/kyc.csv" <<EOF
msisdn,national_id
254712345678,31415926
254722000111,A9876543
254722000555,16180339
254722000666,14142135
254722000777,17320508
EOF
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
burst() {
	python3 - "$url" "$1" "$2" <<'EOF'
import sys, urllib.parse, urllib.request
from concurrent.futures import ThreadPoolExecutor
url, kind, path = sys.argv[1], sys.argv[2], sys.argv[3]
lines = [l.rstrip('\n').split('\t', 1) for l in open(path) if l.strip()]
def one(i_line):
    i, (who, text) = i_line
    try:
        sid = 'one' if kind == 'ussd1' else 'burst%d' % i
        body = urllib.parse.urlencode({'sessionId': sid, 'phoneNumber': who,
                                       'serviceCode': '*384#', 'text': text}).encode()
        with urllib.request.urlopen(urllib.request.Request(url + '/ussd', data=body),
                                    timeout=30) as r:
            return r.read().decode().replace('\n', '|')
    except Exception as e:
        return 'ERROR %s' % e
with ThreadPoolExecutor(50) as ex:
    for r in ex.map(one, enumerate(lines)):
        print(r)
EOF
}
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

gw_stop
cp "$TEST_TMP/kyc.key" "$TEST_TMP/kyc.key.keep"	# gw_conf draws a new one: the imported
						# digests need this one
# ---- 4. verify-report = otp: 40 strangers ask codes for one line at once -----------------------
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

# ---- 5. no code, ID or full number in the log ------------------------------------------------
codes=$(grep -o '[0-9]\{6\}' "$TEST_TMP/sms.log" | sort -u)
leaks=0
for c in $codes; do grep -q "$c" "$TEST_TMP/ceirgw.log" && leaks=$((leaks + 1)); done
is "$leaks" 0 "no code of the SMS in the log"
is "$(grep -cE '31415926|A9876543|14142135|17320508|254712345678|254722000111' "$TEST_TMP/ceirgw.log")" 0 \
	"no ID or full number in the log"

gw_stop
# ---- 6. verify-report = id: "another number" as before, the receipt to the reporter ---------------
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
