#!/bin/bash
# ceirgwctl imei: the JSON transcript of tests/data/imei.in compared line by line with
# tests/data/imei.ok, exit statuses, the human form, and hostile input that must not crash.
# UPDATE_EXP=1 rewrites imei.ok from the current output (review the diff before committing).
. "$(dirname "$0")/lib.sh"

in=$top_srcdir/tests/data/imei.in
exp=$top_srcdir/tests/data/imei.ok
out=$TEST_TMP/imei.out

"$CEIRGWCTL" imei --json - <"$in" >"$out"
status=$?
is "$status" 1 "exit 1 when some inputs are invalid"
is "$(wc -l <"$out")" "$(wc -l <"$in")" "one JSON line per input line"
compare_transcript "$exp" "$out" imei.in

"$CEIRGWCTL" imei 356938035643809 490154203237518 >/dev/null
is $? 1 "exit 1 when one of several is invalid"
"$CEIRGWCTL" imei 35693803564380 >/dev/null
is $? 0 "exit 0 when all are valid"
"$CEIRGWCTL" imei >/dev/null 2>&1
is $? 2 "exit 2 without inputs"
"$CEIRGWCTL" imei --frobnicate 1 >/dev/null 2>&1
is $? 2 "exit 2 on an unknown option"
"$CEIRGWCTL" imei --region KE 1 >/dev/null 2>&1
is $? 2 "exit 2 on an msisdn option"
err=$("$CEIRGWCTL" imei --tac /nonexistent.csv 356938035643809 2>&1)
is $? 2 "exit 2 when the TAC table cannot be read"
like "$err" "/nonexistent.csv" "the error names the TAC file"
"$CEIRGWCTL" frob >/dev/null 2>&1
is $? 2 "exit 2 on an unknown command"

human=$("$CEIRGWCTL" imei '35-209900-176148-23')
like "$human" "imei       352099001761481" "human form shows the reduced IMEI"
like "$human" "svn        23" "human form shows the SVN"
like "$human" "valid      no (reserved)" "human form shows validity and reason"

# An operator's own table in the same format replaces the shipped one.
printf 'My operator table\ntac,name,name\n35693803,Acme,Phone One\n' >"$TEST_TMP/tac.csv"
got=$("$CEIRGWCTL" imei --json --tac "$TEST_TMP/tac.csv" 356938035643809)
like "$got" '"maker":"Acme","model":"Phone One"' "--tac uses the operator's table"
printf 'group = ceirgw\ntac-file = tac.csv\n' >"$TEST_TMP/ceirgw.conf"
got=$("$CEIRGWCTL" imei --json -c "$TEST_TMP/ceirgw.conf" 356938035643809)
like "$got" '"maker":"Acme"' "-c takes tac-file from the configuration, relative to it"

# Hostile input: random bytes, one input per line, never crash, always valid JSON lines.
{ head -c 200000 /dev/urandom | tr "\n" x | fold -b -w 97; echo; } >"$TEST_TMP/noise"
"$CEIRGWCTL" imei --json - <"$TEST_TMP/noise" >"$TEST_TMP/noise.out"
status=$?
is "$status" 1 "random bytes: exit 1, no crash"
is "$(wc -l <"$TEST_TMP/noise.out")" "$(wc -l <"$TEST_TMP/noise")" "random bytes: one line each"
python3 -c '
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    o = json.loads(line)
    assert list(o) == ["input", "imei", "valid", "reason", "computed_check_digit", "svn", "tac", "maker", "model"]
' "$TEST_TMP/noise.out"
ok $? "random bytes: every line is JSON with the documented keys"
long=$(head -c 100000 /dev/zero | tr '\0' '7')
got=$("$CEIRGWCTL" imei --json "$long" | python3 -c 'import json,sys; print(json.load(sys.stdin)["reason"])')
is "$got" too_long "a 100,000-digit input is too_long"

done_testing
