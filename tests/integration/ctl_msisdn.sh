#!/bin/bash
# ceirgwctl msisdn: the JSON transcript of tests/data/msisdn.in (default region KE) compared
# line by line with tests/data/msisdn.ok, regions, exit statuses and hostile input.
# UPDATE_EXP=1 rewrites msisdn.ok from the current output (review the diff before committing).
. "$(dirname "$0")/lib.sh"

in=$top_srcdir/tests/data/msisdn.in
exp=$top_srcdir/tests/data/msisdn.ok
out=$TEST_TMP/msisdn.out

"$CEIRGWCTL" msisdn --json --region KE - <"$in" >"$out"
status=$?
is "$status" 1 "exit 1 when some inputs are invalid"
is "$(wc -l <"$out")" "$(wc -l <"$in")" "one JSON line per input line"
compare_transcript "$exp" "$out" msisdn.in

for c in "NG 08031234567 +2348031234567" "PK 03001234567 +923001234567" \
	 "IN 09876543210 +919876543210" "TR 05321234567 +905321234567" \
	 "FR 0612345678 +33612345678" "BR 011961234567 +5511961234567" \
	 "KE 0712345678 +254712345678"; do
	set -- $c
	got=$("$CEIRGWCTL" msisdn --json --region "$1" "$2" |
	      python3 -c 'import json,sys; print(json.load(sys.stdin)["msisdn"])')
	is "$got" "$3" "region $1 reads $2 as $3"
done

"$CEIRGWCTL" msisdn --region KE 0712345678 +33612345678 >/dev/null
is $? 0 "exit 0 when all are valid"
"$CEIRGWCTL" msisdn --region KE 0712345678 12 >/dev/null
is $? 1 "exit 1 when one is invalid"
err=$("$CEIRGWCTL" msisdn --region XX 0712345678 2>&1)
is $? 2 "exit 2 on an unknown region"
like "$err" "XX" "the error names the region"
"$CEIRGWCTL" msisdn --tac x.csv 0712345678 >/dev/null 2>&1
is $? 2 "exit 2 on an imei option"
"$CEIRGWCTL" msisdn >/dev/null 2>&1
is $? 2 "exit 2 without inputs"
printf 'group = ceirgw\ndefault-region = FR\n' >"$TEST_TMP/ceirgw.conf"
got=$("$CEIRGWCTL" msisdn --json -c "$TEST_TMP/ceirgw.conf" 0612345678)
like "$got" '"msisdn":"+33612345678"' "-c takes default-region from the configuration"
human=$("$CEIRGWCTL" msisdn --region KE 0712345678)
like "$human" "masked     +2547****5678" "human form shows the masked number"

{ head -c 100000 /dev/urandom | tr "\n" x | fold -b -w 23; echo; } >"$TEST_TMP/noise"
"$CEIRGWCTL" msisdn --json --region KE - <"$TEST_TMP/noise" >"$TEST_TMP/noise.out"
is $? 1 "random bytes: exit 1, no crash"
is "$(wc -l <"$TEST_TMP/noise.out")" "$(wc -l <"$TEST_TMP/noise")" "random bytes: one line each"
python3 -c '
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    o = json.loads(line)
    assert list(o) == ["input", "msisdn", "valid", "reason", "region", "type", "masked"]
    assert (o["msisdn"] is not None) == o["valid"]
' "$TEST_TMP/noise.out"
ok $? "random bytes: every line is JSON with the documented keys"

done_testing
