# ceirgw in Kannel's HTTP set-up (doc/kannel.md, "smsbox over HTTP"), with the real smsbox
# (package kannel): bearerbox with a fake SMSC, smsbox's sms-service fetching ceirgw's /sms
# (get-url) for the replies, ceirgw sending its notifications through smsbox's sendsms
# (sendsms-url, no bearerbox). The journeys: check, report with its receipt, the CEIR's
# result, an Arabic reply (UCS-2) and a long French one (two concatenated parts).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kannel_lib.sh"
. "$(dirname "$0")/journey_lib.sh"

SMSBOX=${SMSBOX:-/usr/sbin/smsbox}
if [ ! -x "$SMSBOX" ]; then
	ok 1 "$SMSBOX is installed (package kannel)"
	done_testing
	exit 1
fi

CONSUMER=$top_srcdir/contrib/ceir-consumer
hport=$(free_port)
fport=$(free_port)
pport=$(free_port)
url=http://127.0.0.1:$hport

redis_start
ok $? "Redis is up"

today=$(date -u +%F)
OWNER=+254712345678	# phone B (Samsung SGH-W110)
BUYER=+254733000222
A=356938035643809
B=353320000000013
pairings_csv "$A,254722000111,639021000000002,2025-01-01,$today" "$(phone_row B)"
kyc_csv "$KYC_OWNER"
gw_conf "redis = redis://127.0.0.1:$rport" debug	# sendsms-url: smsbox's, on pport
{ import_pairings && import_kyc; } >/dev/null
ok $? "operator data imported"

# kannel.conf for bearerbox and smsbox 1.4.5: smsbox needs its sendsms-port in its group and
# reads its services here.
BB_SMSBOX="sendsms-port = $pport
log-file = $TEST_TMP/smsbox.log
log-level = 0" bb_conf fake:"$fport"
# The sms-service and sendsms-user of contrib/kannel/smsbox-http.conf, on this ceirgw.
{
	echo
	sed -e "s|http://127.0.0.1:8080/sms?|http://127.0.0.1:$hport/sms?|" \
		-e 's/^password = .*/password = secret/' -e 's/^max-messages = .*/max-messages = 4/' \
		"$top_srcdir/contrib/kannel/smsbox-http.conf"
} >>"$TEST_TMP/kannel.conf"
bb_start
ok $? "bearerbox is up"

"$SMSBOX" "$TEST_TMP/kannel.conf" >>"$TEST_TMP/smsbox.out" 2>&1 &
smsbox_pid=$!
test_pids="$test_pids $smsbox_pid"
# sendsms answers (403 without a user) once smsbox is up and connected.
wait_for 15 sh -c "curl -s -m 1 -o /dev/null -w '%{http_code}' \
	'http://127.0.0.1:$pport/cgi-bin/sendsms' | grep -q '^[1-5]' && [ \$(curl -s -m 2 \
	'http://127.0.0.1:$bb_admin/status.txt?password=secret' | grep -c 'on-line') -ge 1 ]"
rc=$?
ok $rc "smsbox is up, its sendsms port open, connected to bearerbox"
[ $rc -eq 0 ] || grep -v DEBUG "$TEST_TMP/smsbox.out" | tail -n 5 | sed 's/^/# /'

gw_start
ok $? "ceirgw is up (no bearerbox, sendsms-url set)"

fake_start fake "$fport"
ok $? "fakesmsc connected to the fake SMSC"

# ---- 1. check: get-url, the body back as the reply ------------------------------------------
fake_check "$BUYER" "$A" Nokia N900 \
	"CHECK: the reply goes back to the sender, GSM 7-bit, one part" \
	"... maker, model, not reported (through smsbox's get-url)"

# ---- 2. report: the reply through get-url, the receipt through sendsms ----------------------
fake_report "$OWNER" "$B" 5926 Samsung SGH-W110 "STOLEN: the reply with the reference" \
	"the receipt goes to the owner (sendsms's to=, E.164)" \
	"... with the PIN, through smsbox's sendsms" "one block request queued" \
	"... request id <ref>-block"

# ---- 3. the CEIR's result, through sendsms --------------------------------------------------
n1=$(fake_count fake)
/usr/bin/python3 "$CONSUMER" --redis "redis://127.0.0.1:$rport" --once >"$TEST_TMP/consumer.out" 2>&1
ok $? "the reference CEIR consumer answered"
wait_for 10 sh -c "'$REPLIES' '$TEST_TMP/fake.log' | tail -n +$((n1 + 1)) |
	grep -q 'report $ref) is now blocked'"
ok $? "the owner's 'blocked' SMS went out through sendsms"
like "$(fake_replies fake | tail -n +$((n1 + 1)) | grep 'is now blocked' | cut -f1)" \
	"${OWNER#+}" "... to the owner"

# ---- 4. Arabic: a reply GSM 7-bit does not have -----------------------------------------------
# smsbox 1.4.5 sends a get-url reply 7-bit whatever its charset (bearerbox then turns every
# Arabic character into '?'), unless the reply carries X-Kannel-Coding, which ceirgw's /sms
# sends for such a text and smsbox reads with accept-x-kannel-headers = true.
kw=$(render ar kw.check | cut -d, -f1)
want=$(render ar check.clean maker=Nokia model=N900)
ar=$(fake_mo fake "${BUYER#+}" "$kw $A")
is "$(printf '%s\n' "$ar" | head -n1 | cut -f2,3)" "$(printf 'ucs2\t1')" \
	"an Arabic keyword: the answer in UCS-2, one part"
is "$(printf '%s\n' "$ar" | head -n1 | reply_text)" "$want" "... in Arabic, whole"

# ---- 5. French, long: smsbox splits the body into two concatenated parts ----------------------
fake_french_help "$BUYER" "the buyer chose French (USSD over HTTP)"
fake_french_long "$OWNER" "$A" 5926

grep -q "254712345678\|${pin:-no PIN}" "$TEST_TMP/ceirgw.log"
ok $((!$?)) "no full MSISDN and no PIN in ceirgw's log"

# smsbox first, then bearerbox (which waits for its boxes to go), rather than a KILL at exit.
kill -TERM "$smsbox_pid" 2>/dev/null
wait_exit 10 "$smsbox_pid"
kill -TERM "$bb_pid" 2>/dev/null
wait_exit 10 "$bb_pid"

done_testing
