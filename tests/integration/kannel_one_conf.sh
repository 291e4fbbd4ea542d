# Kannel's settings written once (issue 20): bearerbox reads kannel.conf, and ceirgw reads a
# file that includes that same kannel.conf, with its own group = ceirgw setting neither
# bearerbox nor the USSD TLVs: the box port comes from group = core's smsbox-port, and the
# TLVs' type from the smpp-tlv groups, declared here `type = integer` as most Kannel
# examples do. With the octetstring default, ceirgw would send ussd_service_op 0 on every
# screen; here a USSD session continues (ussd_service_op 2) and ends (17) at the USSD centre
# simulator (tests/smpp-sim). A ussd-tlv-type that disagrees is refused, naming both lines;
# and bearerbox itself refuses a `group = ceirgw` in its kannel.conf, which is why ceirgw's
# group lives in its own file. libgw's run-time warnings reach ceirgw's log in its format.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kannel_lib.sh"

sim_require
hport=$(free_port)

redis_start
ok $? "redis-server is up" || cat "$TEST_TMP/redis.log"
BUYER=254733000222
A=356938035643809
gw_conf "redis = redis://127.0.0.1:$rport" debug "session-ttl = 30" "box-smsc-id = ussd"

sim_start

bb_conf
sim_smsc_conf integer

# ceirgw's file: Kannel's, included (an absolute path: libgw takes a relative one from the
# current folder), then ceirgw's group.
{ printf 'include = "%s"\n\n' "$TEST_TMP/kannel.conf"; cat "$TEST_TMP/ceirgw.conf"; } \
	>"$TEST_TMP/one.conf"
out=$("$CEIRGW" --check-config -c "$TEST_TMP/one.conf" 2>&1)
is $? 0 "ceirgw --check-config takes the file that includes kannel.conf"
like "$out" "bearerbox = 127.0.0.1:$bb_box (from group = core's smsbox-port, $TEST_TMP/kannel.conf:" \
	"... the box port from group = core's smsbox-port"
like "$out" "ussd-tlv-type = integer (from group = smpp-tlv's type, $TEST_TMP/kannel.conf:" \
	"... the TLVs' type from the smpp-tlv groups"

{ cat "$TEST_TMP/one.conf"; printf 'ussd-tlv-type = octetstring\n'; } >"$TEST_TMP/clash.conf"
n=$(grep -c '' "$TEST_TMP/clash.conf")
out=$("$CEIRGW" --check-config -c "$TEST_TMP/clash.conf" 2>&1)
is $? 1 "a ussd-tlv-type that disagrees with the smpp-tlv groups is refused"
like "$out" "clash.conf:$n: ussd-tlv-type = octetstring, but the smpp-tlv groups say type = integer at $TEST_TMP/kannel.conf:" \
	"... naming both lines"

# The shipped pair: contrib/kannel/ceirgw-kannel.conf including contrib/kannel/kannel.conf.
sed -e "s|^include = .*|include = \"$top_srcdir/contrib/kannel/kannel.conf\"|" \
	-e "s|^data-dir = .*|data-dir = $TEST_TMP/contrib-data|" \
	"$top_srcdir/contrib/kannel/ceirgw-kannel.conf" >"$TEST_TMP/contrib.conf"
out=$("$CEIRGW" --check-config -c "$TEST_TMP/contrib.conf" 2>&1)
is $? 0 "contrib/kannel/ceirgw-kannel.conf with contrib/kannel/kannel.conf passes --check-config"
like "$out" "bearerbox = 127.0.0.1:13001 (from group = core's smsbox-port" "... the box port from it"
like "$out" "ussd-tlv-type = integer (from group = smpp-tlv's type" "... the TLVs' type from it"

{ cat "$TEST_TMP/kannel.conf"; printf '\ngroup = ceirgw\nhttp-listen = 127.0.0.1:%s\n' "$hport"; } \
	>"$TEST_TMP/kannel-with-ceirgw.conf"
timeout 20 "$BEARERBOX" "$TEST_TMP/kannel-with-ceirgw.conf" >"$TEST_TMP/bb-refused.out" 2>&1
ok $((!$?)) "bearerbox refuses a kannel.conf with a group = ceirgw in it"
grep -q "Group 'ceirgw' is no valid group identifier" "$TEST_TMP/bb-refused.out"
ok $? "... 'no valid group identifier': ceirgw's group lives in its own file"

bb_start
ok $? "bearerbox is up on kannel.conf"
wait_for 15 sim_bound
ok $? "bearerbox bound to the USSD centre"
gw_spawn "$TEST_TMP/one.conf"
wait_for 10 box_connected "$hport"
ok $? "ceirgw is connected to bearerbox at the port kannel.conf gives"

r=$(sim_dial 2001 "$BUYER")
is "$(sim_screen "$r")" "2|$(render en menu.main)" "dial *384#: the menu, ussd_service_op 2 (not 0)"
is "$(field "$r" session)" 2001 "... in the session's its_session_info"
is "$(sim_screen "$(sim_answer 2001 "$BUYER" 1)")" "2|$(waiting en check.ask)" \
	"the answer continues the session: the next screen, ussd_service_op 2"
is "$(sim_screen "$(sim_answer 2001 "$BUYER" "$A")")" "17|$(render en check.clean maker=Nokia model=N900)" \
	"the last screen ends it: ussd_service_op 17"

# A UCS-2 SMS with a lone surrogate: libgw's charset conversion warns, at run time, and the
# warning comes out of the event loop into ceirgw's log in ceirgw's format.
sim sms "{\"msisdn\":\"$BUYER\",\"text\":\"\\ud800\"}" >/dev/null
wait_for 10 grep -q "^[0-9T:.-]*Z ceirgw\[$gw\] warn libgw: Invalid/Incomplete multibyte sequence" \
	"$TEST_TMP/ceirgw.log"
ok $? "libgw's warning on a broken UCS-2 MO is in ceirgw's log, in ceirgw's format"
grep -q '\] \[[0-9]*\] [A-Z]*: ' "$TEST_TMP/ceirgw.log" "$TEST_TMP/one.err"
ok $((!$?)) "... and nothing in libgw's own format, in the log or on standard error"
gw_stop
sanitizer_clean "$TEST_TMP/one.err"

done_testing
