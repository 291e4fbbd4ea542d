# ceirgw as a box of a real bearerbox, with fakesmsc as the SMSC: the SMS journeys through
# Kannel (check, report with its receipt, the CEIR's result, in GSM 7-bit and in UCS-2, split
# when long), smsc-id kept for the reply, two ceirgw processes at once (one unnamed, one named
# and fed by an smsbox-route), Redis going away (ack_failed_tmp, then exactly one reply), and
# a bearerbox that sends a frame over the limit.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kannel_lib.sh"
. "$(dirname "$0")/journey_lib.sh"

CONSUMER=$top_srcdir/contrib/ceir-consumer
h1=$(free_port)
h2=$(free_port)
f1=$(free_port)
f2=$(free_port)
url=http://127.0.0.1:$h1	# the USSD callback (journey_lib.sh's ussd)
health() { curl -s "http://127.0.0.1:$1/healthz"; }
# hfield PORT NAME: a number of /healthz
hfield() { health "$1" | grep -o "\"$2\":[0-9]*" | cut -d: -f2; }

redis_start

OWNER=+254712345678	# phones A (Nokia N900) and B (Samsung SGH-W110)
OWNER2=+254722000111	# phone C (Siemens A52)
BUYER=+254733000222
A=356938035643809
B=353320000000013
C=353322001234567
pairings_csv "$(phone_row A)" "$(phone_row B)" "$(phone_row C)"
kyc_csv "$KYC_OWNER" "$KYC_OWNER2"
kyc_key
# gwconf FILE HTTP_PORT [more lines]
gwconf() {
	local f=$1 port=$2
	shift 2
	{
		echo "group = ceirgw"
		echo "http-listen = 127.0.0.1:$port"
		admin_line
		echo "redis = redis://127.0.0.1:$rport"
		echo "bearerbox = 127.0.0.1:$bb_box"
		echo "kyc-key-file = kyc.key"
		echo "log-level = debug"
		echo "box-smsc-id = fake"
		for l in "$@"; do echo "$l"; done
	} >"$f"
}
gwconf "$TEST_TMP/gw1.conf" "$h1" "log-file = gw1.log"
gwconf "$TEST_TMP/gw2.conf" "$h2" "log-file = gw2.log" "box-id = ceir-b"
{ import_pairings "$TEST_TMP/gw1.conf" && import_kyc "$TEST_TMP/gw1.conf"; } >/dev/null
ok $? "operator data imported"

# Two fake SMSCs; what comes in on fake2 goes to the box named ceir-b.
bb_conf fake:"$f1" fake2:"$f2"
cat >>"$TEST_TMP/kannel.conf" <<EOF

group = smsbox-route
smsbox-id = ceir-b
smsc-id = fake2
EOF
bb_start
ok $? "bearerbox is up"

gw_spawn "$TEST_TMP/gw1.conf"
gw_spawn "$TEST_TMP/gw2.conf"
both_connected() { box_connected "$h1" && box_connected "$h2"; }
wait_for 10 both_connected
ok $? "both ceirgw processes are connected to bearerbox"
wait_for 5 sh -c "[ \$(curl -s -m 2 'http://127.0.0.1:$bb_admin/status.txt?password=secret' |
	grep -c 'on-line') -ge 2 ]"
ok $? "bearerbox lists two boxes"
bb_status | grep -q "smsbox:ceir-b"
ok $? "... one of them identified as ceir-b"
fake_start fake "$f1"
ok $? "fakesmsc connected to the fake SMSC"
fake_start fake2 "$f2"
ok $? "a second fakesmsc connected to fake2"

# ---- check ---------------------------------------------------------------------------------
fake_check "$BUYER" "$A" Nokia N900 "the reply goes back to the sender, GSM 7-bit, one part" \
	"CHECK through Kannel: maker, model, not reported"
r=$(fake_mo fake "${BUYER#+}" "$C")
is "$(printf '%s' "$r" | reply_text)" "$(render en check.clean maker=Siemens model=A52)" \
	"a bare IMEI through Kannel"

# ---- smsc-id kept; smsbox-route to the named box ----------------------------------------------
before1=$(hfield "$h1" box_mo_received)
before2=$(hfield "$h2" box_mo_received)
n1=$(fake_count fake)
r=$(fake_mo fake2 "${BUYER#+}" "CHECK $B")
is "$(printf '%s' "$r" | reply_text)" "$(render en check.clean maker=Samsung model=SGH-W110)" \
	"an MO from the second SMSC is answered"
is "$(fake_count fake)" "$n1" "... through that SMSC (smsc-id kept), not the other"
is "$(hfield "$h2" box_mo_received)" "$((before2 + 1))" "... by the box named in smsbox-route"
is "$(hfield "$h1" box_mo_received)" "$before1" "... and not by the unnamed one"

# The unnamed box gets its share of the MOs no route claims.
for i in 1 2 3 4 5 6; do
	fake_mo fake "25473300$((1000 + i))" "CHECK $A" >/dev/null
done
g1=$(($(hfield "$h1" box_mo_received) - before1))
is "$g1" 6 "the unnamed box answered the 6 MOs no smsbox-route claims"
is "$(fake_count fake)" "$((n1 + 6))" "every one of them got one reply"

# ---- report, receipt, French and Arabic, the CEIR's result ------------------------------------
n0=$(R XLEN ceir:requests)
fake_report "$OWNER" "$B" 5926 Samsung SGH-W110 "STOLEN through Kannel: the reference" \
	"the receipt goes to the owner (a push, E.164)" "the receipt with the PIN" \
	"one block request queued" "request id <ref>-block"
is "$(fake_mo fake "${OWNER#+}" "STOLEN $B 5926" | reply_text)" \
	"$(render en report.already ref="$ref")" "again: already reported"
is "$(R XLEN ceir:requests)" "$((n0 + 1))" "... nothing queued twice"

r=$(fake_mo fake "${BUYER#+}" "VERIFIER $A")
is "$(printf '%s' "$r" | reply_text)" "$(render fr check.clean maker=Nokia model=N900)" \
	"a French keyword: the answer in French"
# The buyer chooses French in the USSD menu (over HTTP): the language is the number's.
fake_french_help "$BUYER" "the buyer chose French"
fake_french_long "$OWNER" "$C" 5926

kw=$(render ar kw.check | cut -d, -f1)
r=$(fake_mo fake "${BUYER#+}" "$kw $A")
is "$(printf '%s' "$r" | cut -f2)" "ucs2" "an Arabic keyword: the answer in UCS-2"
is "$(printf '%s' "$r" | reply_text)" "$(render ar check.clean maker=Nokia model=N900)" \
	"... in Arabic"
kw=$(render ar kw.stolen | cut -d, -f1)
r=$(fake_mo fake "${OWNER2#+}" "$kw $C 6543" 2)
ref2=$(printf '%s\n' "$r" | grep "^${OWNER2#+}	" | reply_text | grep -o '[0-9]\{10\}' | head -n1)
receipt=$(printf '%s\n' "$r" | grep "^+" | head -n1)
pin2=$(printf '%s' "$receipt" | reply_text | tr -c '0-9' '\n' | grep -x '[0-9]\{6\}' | head -n1)
want=$(render ar notify.receipt ref="$ref2" maker=Siemens model=A52 pin="$pin2")
is "$(printf '%s' "$receipt" | reply_text)" "$want" "an Arabic receipt, reassembled"
is "$(printf '%s' "$receipt" | cut -f2)" "ucs2" "... in UCS-2"
ok $(($(printf '%s' "$receipt" | cut -f3) < 2)) \
	"... in $(printf '%s' "$receipt" | cut -f3) concatenated parts"

/usr/bin/python3 "$CONSUMER" --redis "redis://127.0.0.1:$rport" --once >"$TEST_TMP/consumer.out" 2>&1
ok $? "the reference CEIR consumer answered"
wait_for 10 sh -c "'$REPLIES' '$TEST_TMP/fake.log' | grep -q 'report $ref) is now blocked'"
ok $? "the owner's 'blocked' SMS went out through the box"
wait_for 5 sh -c "[ \"\$($REDIS_CLI -p $rport XLEN ceirgw:outbox)\" = 0 ]"
ok $? "every notification went through the Redis outbox and left it once bearerbox had it"

# ---- Redis away: bearerbox keeps the MO and offers it again ---------------------------------
R SAVE >/dev/null
R SHUTDOWN NOSAVE >/dev/null 2>&1
wait "$redis_pid" 2>/dev/null
n1=$(fake_count fake)
eval "fd=\$fake_fd_fake"
printf '%s 384 text CHECK %s\n' "${BUYER#+}" "$A" >&"$fd"
wait_for 5 sh -c "[ \$(curl -s http://127.0.0.1:$h1/healthz | grep -o '\"box_mo_retry\":[0-9]*' |
	cut -d: -f2) -ge 1 ]"
ok $? "Redis down: the MO goes back to bearerbox (ack_failed_tmp)"
is "$(fake_count fake)" "$n1" "... and nobody got an answer yet"
redis_start
wait_for 15 sh -c "[ \$('$REPLIES' '$TEST_TMP/fake.log' | wc -l) -gt $n1 ]"
ok $? "Redis back: the MO is answered"
sleep 1
is "$(fake_count fake)" "$((n1 + 1))" "... exactly once"
is "$(fake_replies fake | tail -n1 | reply_text)" \
	"$(render fr check.clean maker=Nokia model=N900)" \
	"... with the right answer"

# ---- a bearerbox that sends garbage ----------------------------------------------------------
# A fake bearerbox: reads ceirgw's identify Msg, then announces a frame of 2 GB. ceirgw drops
# the connection, says why, and connects again.
fport=$(free_port)
/usr/bin/python3 - "$fport" >"$TEST_TMP/fakebb.out" 2>&1 <<'EOF' &
import socket, struct, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(1)
s.settimeout(20)
for attempt in (1, 2):
    c, _ = s.accept()
    c.settimeout(5)
    hdr = c.recv(4, socket.MSG_WAITALL)
    n = struct.unpack(">i", hdr)[0]
    body = c.recv(n, socket.MSG_WAITALL)
    mtype, cmd = struct.unpack(">ii", body[:8])
    print("connection %d: msg type %d command %d" % (attempt, mtype, cmd), flush=True)
    if attempt == 1:
        c.sendall(struct.pack(">I", 0x7FFFFFF0))
        c.settimeout(5)
        closed = False
        try:
            while c.recv(4096):     # its heartbeat, then nothing
                pass
            closed = True
        except ConnectionResetError:
            closed = True
        except OSError:
            pass
        print("dropped by ceirgw: %s" % closed, flush=True)
    c.close()
EOF
fakebb=$!
test_pids="$test_pids $fakebb"
gwconf "$TEST_TMP/gw3.conf" "$(free_port)" "log-file = gw3.log"
sed -i "s/^bearerbox = .*/bearerbox = 127.0.0.1:$fport/" "$TEST_TMP/gw3.conf"
gw_spawn "$TEST_TMP/gw3.conf"
gw3=$gw
wait_exit 20 "$fakebb"
is "$exit_status" 0 "the fake bearerbox saw what it expected"
is "$(sed -n 1p "$TEST_TMP/fakebb.out")" "connection 1: msg type 1 command 3" \
	"ceirgw's first Msg is an admin cmd_identify"
is "$(sed -n 2p "$TEST_TMP/fakebb.out")" "dropped by ceirgw: True" \
	"a frame over box-max-frame drops the connection"
is "$(sed -n 3p "$TEST_TMP/fakebb.out")" "connection 2: msg type 1 command 3" \
	"... and ceirgw connects again"
grep -q "frame over 65536 bytes" "$TEST_TMP/gw3.log"
ok $? "... saying why in its log"
kill "$gw3" 2>/dev/null

# ---- bearerbox stops: its boxes must let it ----------------------------------------------------
# bearerbox tells its boxes it shuts down and waits for them to close their connections.
bbp=$bb_pid
kill -TERM "$bbp"
wait_exit 15 "$bbp"
is "$exit_status" 0 "bearerbox stops (SIGTERM) while two ceirgw are connected"
grep -q "lost (bearerbox shuts down)" "$TEST_TMP/gw1.log"
ok $? "ceirgw closed its side when told bearerbox shuts down"

# ---- logs -----------------------------------------------------------------------------------
grep -q "254712345678\|$pin" "$TEST_TMP/gw1.log" "$TEST_TMP/gw2.log"
ok $((!$?)) "no full MSISDN and no PIN in the logs"

done_testing
