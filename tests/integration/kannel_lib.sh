# Helpers for the tests that run ceirgw as a box of a real Kannel bearerbox (package kannel)
# with fakesmsc (package kannel-extras) as the SMSC. Sourced after lib.sh.
#
# bb_conf writes kannel.conf: a core group with its admin and smsbox ports, a store file (so
# that a killed bearerbox keeps what it had), one fake SMSC per name given, and whatever the
# test appends. fake_start connects one fakesmsc in its interactive mode (MO lines on its
# standard input, replies in its log); fake_mo sends one MO and waits for what comes back.
# box_connected says whether a ceirgw is connected to bearerbox; fake_check, fake_report and
# fake_french_help are journeys both ways of running ceirgw with Kannel walk (kannel_sms.sh,
# kannel_smsbox.sh). The USSD centre simulator (tests/smpp-sim) over SMPP, for kannel_ussd.sh
# and kannel_one_conf.sh: sim_require, sim_start, sim_smsc_conf, sim_bound and the calls on
# its control port (sim, field, sim_dial, sim_answer, sim_screen).
# shellcheck disable=SC2154 # (top_srcdir: lib.sh's)

BEARERBOX=${BEARERBOX:-/usr/sbin/bearerbox}
FAKESMSC=${FAKESMSC:-/usr/lib/kannel/test/fakesmsc}
REPLIES=$top_srcdir/tests/tools/fakesmsc-replies

for p in "$BEARERBOX" "$FAKESMSC"; do
	if [ ! -x "$p" ]; then
		ok 1 "$p is installed (packages kannel and kannel-extras)"
		done_testing
		exit 1
	fi
done

bb_admin=$(free_port)
bb_box=$(free_port)
while [ "$bb_box" = "$bb_admin" ]; do bb_box=$(free_port); done
bb_pid=

# bb_conf NAME:PORT... : the fake SMSCs; more groups may be appended to $TEST_TMP/kannel.conf.
# BB_CORE: more lines for the core group; BB_SMSBOX: for the smsbox group (a real smsbox's).
# shellcheck disable=SC2120 # (its arguments are optional)
bb_conf() {
	cat >"$TEST_TMP/kannel.conf" <<CONF
group = core
admin-port = $bb_admin
admin-password = secret
smsbox-port = $bb_box
box-allow-ip = 127.0.0.1
log-file = $TEST_TMP/bearerbox.log
log-level = 1
store-type = file
store-location = $TEST_TMP/bearerbox.store
store-dump-freq = 1
${BB_CORE:-}

# bearerbox wants an smsbox group once smsbox-port is set; ceirgw takes smsbox's place.
group = smsbox
bearerbox-host = 127.0.0.1
${BB_SMSBOX:-}
CONF
	for s in "$@"; do
		cat >>"$TEST_TMP/kannel.conf" <<CONF

group = smsc
smsc = fake
smsc-id = ${s%%:*}
# An MT that names this SMSC (a reply keeps its MO's smsc-id) goes out through it.
preferred-smsc-id = ${s%%:*}
port = ${s##*:}
connect-allow-ip = 127.0.0.1
CONF
	done
}

bb_status() {
	curl -s -m 2 "http://127.0.0.1:$bb_admin/status.txt?password=secret"
}

bb_start() {
	"$BEARERBOX" "$TEST_TMP/kannel.conf" >>"$TEST_TMP/bearerbox.out" 2>&1 &
	bb_pid=$!
	test_pids="$test_pids $bb_pid"
	wait_for 15 sh -c "curl -sf -m 1 'http://127.0.0.1:$bb_admin/status.txt?password=secret' \
		>/dev/null" && return 0
	# Why, in the test's output: a port taken, a configuration error.
	grep -v 'PANIC: [/b]' "$TEST_TMP/bearerbox.out" | tail -n 4 | sed 's/^/# /'
	return 1
}

# bb_kill [SIGNAL]: stops bearerbox (default: KILL, as a crash would).
bb_kill() {
	kill -"${1:-KILL}" "$bb_pid" 2>/dev/null
	wait "$bb_pid" 2>/dev/null
	bb_pid=
}

# The number of boxes bearerbox lists as connected.
bb_boxes() {
	bb_status | sed -n '/^Box connections:/,/^SMSC connections:/p' | grep -c 'on-line'
}

# fake_start NAME PORT: a fakesmsc for the fake SMSC NAME, MO lines from $TEST_TMP/NAME.in.
fake_start() {
	local fd
	rm -f "$TEST_TMP/$1.in"
	mkfifo "$TEST_TMP/$1.in"
	"$FAKESMSC" -H 127.0.0.1 -r "$2" -i 0.01 <"$TEST_TMP/$1.in" >>"$TEST_TMP/$1.log" 2>&1 &
	test_pids="$test_pids $!"
	eval "fake_pid_$1=$!"
	exec {fd}>"$TEST_TMP/$1.in"
	eval "fake_fd_$1=$fd"
	wait_for 10 sh -c "grep -q 'fakesmsc starting' '$TEST_TMP/$1.log' &&
		! grep -q 'Failed to open' '$TEST_TMP/$1.log'"
}

fake_stop() {
	local fd pid
	eval "fd=\$fake_fd_$1 pid=\$fake_pid_$1"
	exec {fd}>&-
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

# fake_replies NAME: every SMS the fake SMSC NAME delivered so far (fakesmsc-replies format).
fake_replies() {
	"$REPLIES" "$TEST_TMP/$1.log"
}

fake_count() {
	fake_replies "$1" | wc -l
}

# fake_mo NAME FROM TEXT [N]: sends an MO to 384 and prints the N (default 1) messages that
# come back next, as fake_replies does; nothing after 10 s.
fake_mo() {
	local fd before
	eval "fd=\$fake_fd_$1"
	before=$(fake_count "$1")
	printf '%s 384 text %s\n' "$2" "$3" >&"$fd"
	wait_for 10 sh -c "[ \$('$REPLIES' '$TEST_TMP/$1.log' | wc -l) -ge $((before + ${4:-1})) ]"
	fake_replies "$1" | tail -n +"$((before + 1))"
}

# The text of one fake_replies line, its newlines back.
reply_text() { cut -f4- | sed 's/\\n/\n/g'; }

# box_connected PORT: the ceirgw with its HTTP on PORT says it is connected to bearerbox.
box_connected() {
	curl -s "http://127.0.0.1:$1/healthz" | grep -q '"bearerbox":"connected"'
}

# fake_check WHO IMEI MAKER MODEL DESCRIPTION DESCRIPTION: WHO (E.164) sends CHECK IMEI through
# the fake SMSC "fake"; two TAP lines: the reply goes back to WHO in one GSM 7-bit part, and it
# is check.clean with MAKER and MODEL.
fake_check() {
	local r
	r=$(fake_mo fake "${1#+}" "CHECK $2")
	is "$(printf '%s' "$r" | cut -f1-3)" "$(printf '%s\tgsm\t1' "${1#+}")" "$5"
	is "$(printf '%s' "$r" | reply_text)" "$(render en check.clean maker="$3" model="$4")" "$6"
}

# fake_report OWNER IMEI ID4 MAKER MODEL DESCRIPTION...: OWNER (E.164) sends STOLEN IMEI ID4
# through the fake SMSC "fake"; five TAP lines, with the five DESCRIPTIONs: the reply to the
# sender names a reference, the receipt goes to OWNER, the receipt has the PIN, one block
# request is queued, it is <ref>-block. Sets ref and pin.
fake_report() {
	local owner=$1 imei=$2 id4=$3 maker=$4 model=$5 n0 r reply receipt
	shift 5
	n0=$(R XLEN ceir:requests)
	r=$(fake_mo fake "${owner#+}" "STOLEN $imei $id4" 2)
	reply=$(printf '%s\n' "$r" | grep "^${owner#+}	" | head -n1)
	ref=$(printf '%s' "$reply" | reply_text | grep -o '[0-9]\{10\}' | head -n1)
	is "$(printf '%s' "$reply" | reply_text)" "$(render en sms.report_done ref="$ref")" "$1"
	receipt=$(printf '%s\n' "$r" | grep "^$owner	" | head -n1)
	pin=$(printf '%s' "$receipt" | grep -o 'PIN: [0-9]\{6\}' | cut -c6-)
	is "$(printf '%s' "$receipt" | cut -f1)" "$owner" "$2"
	is "$(printf '%s' "$receipt" | reply_text)" \
		"$(render en notify.receipt ref="$ref" maker="$maker" model="$model" pin="$pin")" "$3"
	is "$(R XLEN ceir:requests)" "$((n0 + 1))" "$4"
	like "$(R XREVRANGE ceir:requests + - COUNT 1)" "$ref-block" "$5"
}

# fake_french_help WHO DESCRIPTION: WHO chooses French in the USSD menu (over HTTP, on $url:
# journey_lib.sh's ussd; a TAP line, DESCRIPTION), then asks the fake SMSC "fake" for help:
# two TAP lines, it comes in one GSM 7-bit part (flows check proves the help fits one), the
# whole French text.
fake_french_help() {
	local fr help r
	ussd l1 "$1" "" >/dev/null
	fr=$(ussd l1 "$1" 5 | grep -o '[0-9] Fran' | cut -c1)
	like "$(ussd l1 "$1" "5*$fr")" "$(render fr lang.done)" "$2"
	help=$(render fr sms.help code=384)
	r=$(fake_mo fake "${1#+}" "?")
	is "$(printf '%s' "$r" | cut -f2,3)" "$(printf 'gsm\t1')" \
		"French help (${#help} characters): one GSM 7-bit part"
	is "$(printf '%s' "$r" | reply_text)" "$help" "... the whole text"
}

# fake_french_long WHO IMEI ID4: WHO, whose ID ends in ID4, reports in French (VOLE) a phone
# the operators' data does not link to WHO's number: the reply (report.not_linked, over one
# SMS part in French) comes in two GSM 7-bit parts that join into the whole text. Two TAP
# lines.
fake_french_long() {
	local text r
	text=$(render fr report.not_linked)
	r=$(fake_mo fake "${1#+}" "VOLE $2 $3")
	is "$(printf '%s' "$r" | cut -f2,3)" "$(printf 'gsm\t2')" \
		"a French reply of ${#text} characters: two GSM 7-bit parts"
	is "$(printf '%s' "$r" | reply_text)" "$text" "... that join into the whole text"
}

# ---- the USSD centre simulator (tests/smpp-sim) ------------------------------------------------
SIM=$top_srcdir/tests/smpp-sim

# sim_require: a TAP failure and the end of the test when its npm packages are not installed.
sim_require() {
	[ -d "$SIM/node_modules/smpp" ] && return
	ok 1 "the USSD centre simulator is installed (cd tests/smpp-sim && npm ci)"
	done_testing
	exit 1
}

# sim_start: the simulator on ports of its own choosing, its SMPP port in sport and its control
# port in cport; a TAP line.
sim_start() {
	node "$SIM/ussd-centre.js" --smpp-port 0 --control-port 0 --system-id ceirgw \
		--password secret --reply-timeout-ms 8000 >"$TEST_TMP/sim.out" 2>"$TEST_TMP/sim.log" &
	test_pids="$test_pids $!"
	wait_for 15 grep -q '^ready' "$TEST_TMP/sim.out"
	ok $? "the USSD centre simulator is up"
	sport=$(sed -n 's/^ready smpp=\([0-9]*\) .*/\1/p' "$TEST_TMP/sim.out")
	cport=$(sed -n 's/^ready .*control=\([0-9]*\).*/\1/p' "$TEST_TMP/sim.out")
}

# sim_smsc_conf TLV-TYPE: appends to kannel.conf the SMPP SMSC "ussd" that binds to the
# simulator, and the smpp-tlv groups of ussd_service_op and its_session_info declared
# type = TLV-TYPE (octetstring or integer).
sim_smsc_conf() {
	cat >>"$TEST_TMP/kannel.conf" <<EOF

group = smsc
smsc = smpp
smsc-id = ussd
preferred-smsc-id = ussd
host = 127.0.0.1
port = $sport
transceiver-mode = true
smsc-username = ceirgw
smsc-password = secret
system-type = USSD
service-type = USSD
reconnect-delay = 2
# A USSD screen is up to 182 GSM characters or 160 octets of UCS-2: bearerbox must not split
# it as it would an SMS (140 octets).
max-sms-octets = 182

group = smpp-tlv
name = ussd_service_op
tag = 0x0501
type = $1
length = 1
smsc-id = ussd

group = smpp-tlv
name = its_session_info
tag = 0x1383
type = $1
length = 2
smsc-id = ussd
EOF
}

# sim_bound: bearerbox has bound to the simulator.
sim_bound() { curl -s "http://127.0.0.1:$cport/status" | grep -q '"bound":true'; }

# sim PATH [BODY] [METHOD]: one call on the control port (default POST), its answer.
sim() { curl -s -m 10 -X "${3:-POST}" "http://127.0.0.1:$cport/$1" -d "${2:-}"; }
# field JSON NAME: one member of the simulator's answer
field() { printf '%s' "$1" | /usr/bin/python3 -c \
	'import json,sys; v=json.load(sys.stdin).get(sys.argv[1]); print("" if v is None else v, end="")' "$2"; }
# sim_dial SESSION MSISDN [CODE] / sim_answer SESSION MSISDN TEXT: the reply as JSON.
sim_dial() { sim dial "{\"msisdn\":\"$2\",\"session\":$1,\"code\":\"${3:-*384#}\"}"; }
sim_answer() { sim answer "{\"msisdn\":\"$2\",\"session\":$1,\"text\":\"$3\"}"; }
# sim_screen JSON: "OP|TEXT" (2 continues, 17 ends)
sim_screen() { printf '%s|%s' "$(field "$1" op)" "$(field "$1" text)"; }
