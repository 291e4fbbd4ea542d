#!/bin/bash
# contrib/demo/run.sh (issue 20): --help works and exits 0, a bad port is refused, and the
# whole demo started on free ports (--port, --phone-port; its files under $TEST_TMP through
# CEIRGW_DEMO_VAR) answers on the port it was given, the phone's input a FIFO the test holds
# open until it has looked, then "quit", which stops everything the demo started.
. "$(dirname "$0")/lib.sh"

RUN=$top_srcdir/contrib/demo/run.sh

out=$(bash "$RUN" --help)
is $? 0 "run.sh --help exits 0"
like "$out" "--port N" "and names --port"
like "$out" "CEIRGW_DEMO_PORT" "and the variable behind it"
for bad in 0 65536 80x ""; do
	bash "$RUN" --port "$bad" >/dev/null 2>"$TEST_TMP/bad.err"
	is $? 2 "run.sh --port '$bad': exit 2"
done
like "$(cat "$TEST_TMP/bad.err")" "expected a port number, 1 to 65535" "saying what it wants"
bash "$RUN" --bogus >/dev/null 2>&1
is $? 2 "an unknown option: exit 2"

port=$(free_port)
pport=$(free_port)
mkfifo "$TEST_TMP/phone.in"
CEIRGW_DEMO_VAR=$TEST_TMP/demo bash "$RUN" --port "$port" --phone-port "$pport" --admin-port "$(free_port)" \
	"$top_builddir" <"$TEST_TMP/phone.in" >"$TEST_TMP/demo.out" 2>&1 &
demo=$!
test_pids="$test_pids $demo"
exec 7>"$TEST_TMP/phone.in"
wait_for 30 grep -q "^ceirgw demo: http://127.0.0.1:$port " "$TEST_TMP/demo.out"
ok $? "the demo starts and says its URL with the port given"
is "$(curl -s "http://127.0.0.1:$port/healthz" | grep -c '"status":"ok"')" 1 \
	"ceirgw answers /healthz on that port"
grep -qx "http-listen = 127.0.0.1:$port" "$TEST_TMP/demo/ceirgw.conf"
ok $? "its configuration, written from the template, holds the port"
grep -qx "sendsms-url = http://127.0.0.1:$pport/cgi-bin/sendsms" "$TEST_TMP/demo/ceirgw.conf"
ok $? "and the phone's port in sendsms-url"
like "$("$CEIRGWCTL" lookup imei -c "$TEST_TMP/demo/ceirgw.conf" 356938035643809)" \
	"+254712345678" "the demo data is imported into its Redis"
echo quit >&7
exec 7>&-
wait_exit 30 "$demo"
is "$exit_status" 0 "quit stops the demo, exit 0"
! curl -s -o /dev/null "http://127.0.0.1:$port/healthz"
ok $? "and ceirgw with it"

done_testing
