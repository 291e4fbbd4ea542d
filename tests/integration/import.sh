#!/bin/bash
# ceirgwctl import pairings and lookup against a real redis-server: the embedded default
# started and stopped by the command, rejects with line numbers and reasons, both lookups,
# duplicate flagging, idempotent re-import, a later dump widening the seen windows, gzip,
# the import lock, and a generated dump whose garbage and clones are known exactly.
. "$(dirname "$0")/lib.sh"

data=$top_srcdir/tests/data
conf=$TEST_TMP/ceirgw.conf
printf 'group = ceirgw\ndata-dir = data\ndefault-region = KE\n' >"$conf"
ctl() { "$CEIRGWCTL" "$@"; }
sock=$TEST_TMP/data/redis.sock

# Everything stored, in a form that compares: keys sorted, hashes field by field.
dump_store() {
	"$REDIS_CLI" -s "$1" --scan | LC_ALL=C sort | while IFS= read -r k; do
		echo "== $k"
		"$REDIS_CLI" -s "$1" --no-raw HGETALL "$k"
	done
}
REDIS_CLI=$(command -v redis-cli)

cd "$data" || exit 1
out=$(ctl import pairings -c "$conf" --rejects "$TEST_TMP/rejects.csv" pairings-small.csv)
is $? 3 "import exits 3: imported, but rows were rejected"
like "$out" "15 rows" "the summary counts the rows"
like "$out" "6 imported, 9 rejected" "and what was imported and rejected"
like "$out" "1 IMEIs duplicated" "and the duplicated IMEIs"
[ ! -S "$sock" ] && ! pgrep -f "redis-server.*$TEST_TMP" >/dev/null
ok $? "the embedded Redis started for the import is stopped again"
[ -d "$TEST_TMP/data/appendonlydir" ]
ok $? "and its data stays in data-dir's append-only file"

compare_transcript "$data/pairings-small.rejects.ok" "$TEST_TMP/rejects.csv" "rejects file"

# Lookups start the embedded Redis again from its append-only file.
out=$(ctl lookup imei -c "$conf" 356938035643809)
is $? 0 "lookup imei finds the IMEI"
like "$out" "+254712345678     2024-01-05 .. 2024-06-30  sim " "with the first owner's window and SIM tag"
like "$out" "+254712345679     2024-07-01 .. 2024-09-30" "and the second owner's"
case $out in *DUPLICATED*) ok 1 "a resale is not a duplicate";; *) ok 0 "a resale is not a duplicate";; esac
out=$(ctl lookup imei -c "$conf" 352099022222224)
like "$out" "DUPLICATED" "two subscribers at once flag a duplicate"
out=$(ctl lookup imei -c "$conf" 3520990111111)
is $? 1 "lookup of a malformed IMEI exits 1"
out=$(ctl lookup msisdn -c "$conf" 0712345678)
is "$out" "+254712345678  356938035643809" "lookup msisdn lists the number's IMEI"
out=$(ctl lookup msisdn -c "$conf" --json +254711000001)
is "$out" '{"msisdn":"+254711000001","imei":"352099011111115"}' "lookup msisdn --json"
ctl lookup msisdn -c "$conf" 0799999999 >/dev/null
is $? 1 "an unknown number exits 1"
today=$(date -u +%Y-%m-%d)
like "$(ctl lookup imei -c "$conf" 490139201234567)" "$today .. $today" "a row without dates is seen on the import day"

# Re-importing the same file changes nothing.
"$REDIS_SERVER" --port 0 --unixsocket "$sock" --dir "$TEST_TMP/data" --appendonly yes \
	--save '' --daemonize no --logfile /dev/null &
rpid=$!
test_pids="$test_pids $rpid"
wait_for 10 "$REDIS_CLI" -s "$sock" ping
before=$(dump_store "$sock")
[ -n "$before" ]
ok $? "the store holds the pairings"
out=$(ctl import pairings -c "$conf" --rejects /dev/null pairings-small.csv)
like "$out" "0 IMEI and 0 MSISDN entries written, 6 already known" "a re-import writes nothing"
is "$(dump_store "$sock")" "$before" "and the store is byte for byte the same"
is "$(pgrep -c -f "redis-server.*$TEST_TMP")" 1 "ceirgwctl used the Redis already answering in data-dir"

# A later dump widens the windows; gzip is read as such.
printf 'imei,msisdn,last_seen\n356938035643809,254712345678,2025-02-01\n' | gzip >"$TEST_TMP/later.csv.gz"
out=$(ctl import pairings -c "$conf" "$TEST_TMP/later.csv.gz")
like "$out" "1 IMEI and 0 MSISDN entries written" "a later gzip dump updates the IMEI entry"
like "$(ctl lookup imei -c "$conf" 356938035643809)" "2024-01-05 .. 2025-02-01" "and last_seen moves on"

# Files the import cannot use.
printf 'imei,number\n1,2\n' >"$TEST_TMP/nohdr.csv"
err=$(ctl import pairings -c "$conf" "$TEST_TMP/nohdr.csv" 2>&1)
is $? 1 "a file without an msisdn column fails"
like "$err" "must name the columns imei and msisdn" "and says what the header needs"
err=$(ctl import pairings -c "$conf" "$TEST_TMP/missing.csv" 2>&1)
is $? 1 "a missing file fails"
like "$err" "missing.csv" "and names it"
printf 'not gzip at all' | gzip | head -c 20 >"$TEST_TMP/broken.csv.gz"
err=$(ctl import pairings -c "$conf" "$TEST_TMP/broken.csv.gz" 2>&1)
is $? 1 "a truncated gzip file fails cleanly"

# One import at a time.
"$REDIS_CLI" -s "$sock" set 'import:{lock}' other >/dev/null
err=$(ctl import pairings -c "$conf" pairings-small.csv 2>&1)
is $? 2 "a second import is refused while one holds the lock"
like "$err" "another import is running" "and says why"
"$REDIS_CLI" -s "$sock" del 'import:{lock}' >/dev/null

# KYC: national IDs kept as keyed digests, verified whole or by their last four.
head -c 32 /dev/urandom | base64 >"$TEST_TMP/kyc.key"
printf 'kyc-key-file = kyc.key\n' >>"$conf"
out=$(ctl import kyc -c "$conf" --rejects "$TEST_TMP/kyc-rejects.csv" kyc-small.csv)
is $? 3 "import kyc exits 3 (rows rejected)"
like "$out" "6 rows" "the KYC summary counts the rows"
like "$out" "2 imported, 4 rejected" "and what was imported and rejected"
is "$(cut -d, -f2,3 "$TEST_TMP/kyc-rejects.csv" | tail -n +2 | tr '\n' ' ')" \
	"4,msisdn_too_short 5,missing_national_id 6,bad_registered_at 7,bad_national_id " \
	"each KYC reject with its line and reason"
! "$REDIS_CLI" -s "$sock" --scan --pattern 'kyc:*' | xargs -r -n1 "$REDIS_CLI" -s "$sock" \
	--no-raw hgetall | grep -q '12345678\|A1234567'
ok $? "no national ID is stored in clear"
is "$(ctl verify -c "$conf" 0712345678 5678)" "+254712345678: matches (registered 2019-05-02)" "verify: the last four digits match"
ctl verify -c "$conf" 0712345678 12-345-678 >/dev/null
is $? 0 "verify: the whole ID matches, however written"
out=$(ctl verify -c "$conf" 0712345678 5679)
is $? 1 "verify: wrong digits exit 1"
like "$out" "does not match" "and say so"
ctl verify -c "$conf" 0711000001 a1234567 >/dev/null
is $? 0 "verify: a passport number matches whatever its case"
is "$(ctl verify -c "$conf" 0799999999 1234)" "+254799999999: no KYC record" "verify: no record"
printf 'group = ceirgw\ndata-dir = data\n' >"$TEST_TMP/nokey.conf"
err=$(ctl verify -c "$TEST_TMP/nokey.conf" 0712345678 5678 2>&1)
is $? 2 "verify without a key is a usage error"
like "$err" "HMAC key" "and says what is missing"
out=$(ctl import kyc -c "$conf" --rejects /dev/null kyc-small.csv)
like "$out" "0 subscribers written, 2 already known" "a KYC re-import writes nothing"

# TAC: the shipped table checked and put in Redis, then an operator's own replaces it, and
# a running ceirgw serves the imported one instead of tac-file.
out=$(ctl import tac -c "$conf" --rejects "$TEST_TMP/tac-rejects.csv" "$top_srcdir/data/tacdb.csv")
is $? 0 "import tac of the shipped table"
like "$out" "25175 rows: 25122 TACs loaded, 0 rejected, 53 duplicates" "with its counts"
like "$out" "780 TACs of fewer than 8 digits padded with leading zeros (50 left out" \
	"... the TACs that lost their leading zeros read padded, and counted"
is "$("$REDIS_CLI" -s "$sock" hlen 'tac:{tac}')" 25122 "Redis holds the table"
like "$("$REDIS_CLI" -s "$sock" hget 'tac:{tac}' 01332700)" "iPhone 5" \
	"... with a padded TAC under its 8 digits"
like "$("$REDIS_CLI" -s "$sock" get 'tac:{tac}:source')" "CC-BY-SA" "with its licence line"
printf 'Operator TAC list 2026-11\ntac,maker,model\n35693803,Acme,"Phone, One"\n3569380X,Bad,Row\n' >"$TEST_TMP/optac.csv"
out=$(ctl import tac -c "$conf" --rejects "$TEST_TMP/tac-rejects.csv" "$TEST_TMP/optac.csv")
like "$out" "2 rows: 1 TACs loaded, 1 rejected" "an operator's table replaces it whole"
is "$(($(wc -l <"$TEST_TMP/tac-rejects.csv") - 1))" 1 "the rejected TAC row in the rejects file"
like "$(sed -n 2p "$TEST_TMP/tac-rejects.csv")" ",bad_tac," "with its reason"
is "$("$REDIS_CLI" -s "$sock" hlen 'tac:{tac}')" 1 "and nothing of the old one stays"
port=$(free_port)
"$CEIRGW" -c "$conf" --http "127.0.0.1:$port" --admin "127.0.0.1:$(free_port)" \
	--redis "unix://$sock" 2>"$TEST_TMP/gw.log" &
gw=$!
test_pids="$test_pids $gw"
wait_for 10 sh -c "curl -s http://127.0.0.1:$port/healthz | grep -q '\"tac_source\":\"redis\"'"
ok $? "a running ceirgw serves the TAC table from Redis"
like "$(curl -s "http://127.0.0.1:$port/healthz")" '"tac_entries":1,' "the imported one"
kill -TERM "$gw"
wait_exit 10 "$gw"

# A generated dump: the generator knows exactly how many rows are garbage and which IMEIs
# are cloned.
if [ -x "$top_builddir/tests/tools/gendump" ]; then
	"$top_builddir/tests/tools/gendump" pairings --rows 20000 --region KE --seed 7 \
		--clones 2 --garbage 3 --stats "$TEST_TMP/gen.json" --out "$TEST_TMP/gen.csv" 2>/dev/null
	out=$(ctl import pairings -c "$conf" --rejects "$TEST_TMP/gen-rejects.csv" "$TEST_TMP/gen.csv")
	is $? 3 "a generated dump imports (exit 3: its garbage rejected)"
	garbage=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["garbage"])' "$TEST_TMP/gen.json")
	like "$out" ", $garbage rejected" "every garbage row is rejected, no more"
	rows=$(python3 -c 'import csv,sys; print(sum(1 for _ in csv.reader(open(sys.argv[1], newline=""))) - 1)' "$TEST_TMP/gen-rejects.csv")
	is "$rows" "$garbage" "each with a row in the rejects file"
	clones=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["cloned_imeis"])' "$TEST_TMP/gen.json")
	like "$out" "$clones IMEIs duplicated" "every cloned IMEI is flagged duplicated"
	"$top_builddir/tests/tools/gendump" kyc --rows 20000 --region KE --seed 7 --clones 2 \
		--garbage 3 --stats "$TEST_TMP/genk.json" --out "$TEST_TMP/genk.csv" 2>/dev/null
	out=$(ctl import kyc -c "$conf" "$TEST_TMP/genk.csv")
	garbage=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["garbage"])' "$TEST_TMP/genk.json")
	like "$out" ", $garbage rejected" "every garbage KYC row is rejected, no more"

	# Batches and the windows of buckets pipelined within one change nothing stored: the
	# dump in one batch (17 windows a direction) and in batches of 2,000 rows (4 windows
	# each) leave the same data set, compared by Redis's own digest of it.
	printf 'group = ceirgw\npairing-bucket-digits = 4\n' >"$TEST_TMP/b.conf"
	for n in 1 2; do
		"$REDIS_SERVER" --port 0 --unixsocket "$TEST_TMP/b$n.sock" --dir "$TEST_TMP" \
			--enable-debug-command yes --save '' --appendonly no --daemonize no \
			--logfile /dev/null &
		test_pids="$test_pids $!"
		wait_for 10 "$REDIS_CLI" -s "$TEST_TMP/b$n.sock" ping
	done
	ctl import pairings -c "$TEST_TMP/b.conf" --redis "unix://$TEST_TMP/b1.sock" \
		--rejects /dev/null "$TEST_TMP/gen.csv" >/dev/null
	is $? 3 "the generated dump imports in one batch"
	out=$(ctl import pairings -c "$TEST_TMP/b.conf" --redis "unix://$TEST_TMP/b2.sock" \
		--rejects /dev/null --batch 2000 "$TEST_TMP/gen.csv")
	is $? 3 "and in batches of 2,000 rows"
	like "$out" "$clones IMEIs duplicated" "which flag the same cloned IMEIs"
	d1=$("$REDIS_CLI" -s "$TEST_TMP/b1.sock" debug digest)
	d2=$("$REDIS_CLI" -s "$TEST_TMP/b2.sock" debug digest)
	keys=$("$REDIS_CLI" -s "$TEST_TMP/b1.sock" dbsize)
	[ "$keys" -gt 15000 ]
	ok $? "the one batch wrote over 15,000 buckets ($keys)"
	is "$d2" "$d1" "the batches leave the same data set as the one batch"
fi

# ---- rejects kept, the reject ratio, progress for Prometheus --------------------------------
# A fresh Redis per case that must show what was written: dbsize tells.
fresh_redis() {	# fresh_redis NAME: a new redis-server on $TEST_TMP/NAME.sock
	"$REDIS_SERVER" --port 0 --unixsocket "$TEST_TMP/$1.sock" --dir "$TEST_TMP" --save '' \
		--appendonly no --daemonize no --logfile /dev/null &
	test_pids="$test_pids $!"
	wait_for 10 "$REDIS_CLI" -s "$TEST_TMP/$1.sock" ping
}
# valid_imeis N START: N valid IMEIs (Luhn check digit) from the 14-digit START on.
valid_imeis() {
	python3 -c '
import sys
n, start = int(sys.argv[1]), int(sys.argv[2])
for b in range(start, start + n):
    d = [int(c) for c in "%014d" % b]
    s = sum(x if i % 2 == 0 else (2 * x if x < 5 else 2 * x - 9) for i, x in enumerate(d))
    print("%014d%d" % (b, (10 - s % 10) % 10))' "$1" "$2"
}
prom=$TEST_TMP/prom/ceirgw-import-pairings.prom
mkdir -p "$TEST_TMP/prom"
metric() { sed -n "s/^$1 //p" "$2"; }	# metric 'NAME{LABELS}' FILE: its value

# 11 rows, 8 of them garbage: before, exit 0 and the rejected rows kept nowhere.
{
	echo imei,msisdn
	valid_imeis 3 35693803564370 | sed 's/$/,254712345678/'
	printf '%s\n' x,1 12,254712345678 356938035643801,254712345678 abc,def , \
		356938035643809, 1,2 3,4
} >"$TEST_TMP/bad11.csv"
fresh_redis r11
out=$(ctl import pairings --redis "unix://$TEST_TMP/r11.sock" --metrics-file "$prom" \
	"$TEST_TMP/bad11.csv" 2>&1)
is $? 3 "8 of 11 rows rejected: exit 3, not 0"
like "$(ctl --help)" "3 when the files were imported but rows were rejected" "ceirgwctl --help documents exit 3"
like "$(ctl --help)" "4 when --max-reject-ratio stopped it" "... and 4"
like "$out" "3 imported, 8 rejected" "the summary counts them"
like "$out" "rejects: 8 rows in $TEST_TMP/bad11.csv.rejects.csv" "and says where the rejects went"
is "$(stat -c %a "$TEST_TMP/bad11.csv.rejects.csv")" 600 "without --rejects: INPUT.rejects.csv, mode 0600"
is "$(tail -n +2 "$TEST_TMP/bad11.csv.rejects.csv" | cut -d, -f2 | tr '\n' ' ')" \
	"5 6 7 8 9 10 11 12 " "holding every rejected row by its line"
promtool check metrics <"$prom"
ok $? "the metrics file passes promtool check metrics"
is "$(metric 'ceirgw_import_rows_total{kind="pairings",result="stored"}' "$prom"):$(metric \
	'ceirgw_import_rows_total{kind="pairings",result="rejected"}' "$prom"):$(metric \
	'ceirgw_import_running{kind="pairings"}' "$prom")" "3:8:0" \
	"it counts 3 rows stored, 8 rejected, and the import ended"
last=$(metric 'ceirgw_import_last_success_timestamp_seconds{kind="pairings"}' "$prom")
[ "${last:-0}" -ge "$(($(date +%s) - 600))" ]
ok $? "with the time of the last success ($last)"
[ "$(metric 'ceirgw_import_bytes_read_total{kind="pairings"}' "$prom")" -gt 100 ]
ok $? "and the bytes read"
[ ! -e "$prom.tmp" ]
ok $? "no FILE.tmp left behind"

# --max-reject-ratio: the same dump, nothing of it written.
fresh_redis r11b
out=$(ctl import pairings --redis "unix://$TEST_TMP/r11b.sock" --metrics-file "$prom" \
	--max-reject-ratio 0.5 "$TEST_TMP/bad11.csv" 2>&1)
is $? 4 "--max-reject-ratio 0.5 with 8 of 11 rejected: exit 4"
like "$out" "8 of 11 rows read so far rejected (72.7%), more than --max-reject-ratio 0.5" "saying why"
is "$("$REDIS_CLI" -s "$TEST_TMP/r11b.sock" dbsize)" 0 "and its one batch was not written"
like "$out" "3 rows of the refused batch not written; 0 rows of earlier batches stay stored" \
	"which the summary says"
is "$(metric 'ceirgw_import_last_success_timestamp_seconds{kind="pairings"}' "$prom")" "$last" \
	"the failed import keeps the last success time of the one before"
promtool check metrics <"$prom"
ok $? "the metrics file of a stopped import passes promtool too"
ctl import pairings --redis "unix://$TEST_TMP/r11b.sock" --max-reject-ratio 0.8 \
	"$TEST_TMP/bad11.csv" >/dev/null 2>&1
is $? 3 "--max-reject-ratio 0.8 lets 72.7% through (exit 3)"
for bad in 1.5 -0.1 abc ""; do
	err=$(ctl import pairings --redis "unix://$TEST_TMP/r11b.sock" --max-reject-ratio "$bad" \
		"$TEST_TMP/bad11.csv" 2>&1)
	is $? 2 "--max-reject-ratio '$bad' is a usage error"
done
like "$err" "expected a share of the rows from 0 to 1" "naming the range"

# Batches: each is checked before it is written; what earlier batches wrote stays.
{ echo imei,msisdn; valid_imeis 2000 35000000000000 | sed 's/$/,254712345678/'
  yes 'x,1' | head -n 3000; } >"$TEST_TMP/good-then-bad.csv"
fresh_redis rb1
out=$(ctl import pairings --redis "unix://$TEST_TMP/rb1.sock" --rejects /dev/null --batch 1000 \
	--max-reject-ratio 0.5 "$TEST_TMP/good-then-bad.csv" 2>&1)
is $? 4 "2000 good rows then 3000 bad ones, batches of 1000: stopped (exit 4)"
like "$out" "at the end of a file: 2000 rows of earlier batches stay stored" \
	"the two good batches stay"
like "$out" "2000 imported, 3000 rejected; 2000 IMEI and" "their 2000 IMEIs written"
{ echo imei,msisdn; yes 'x,1' | head -n 1500
  valid_imeis 2000 35000000000000 | sed 's/$/,254712345678/'; } >"$TEST_TMP/bad-then-good.csv"
fresh_redis rb2
out=$(ctl import pairings --redis "unix://$TEST_TMP/rb2.sock" --rejects /dev/null --batch 1000 \
	--max-reject-ratio 0.5 "$TEST_TMP/bad-then-good.csv" 2>&1)
is $? 4 "1500 bad rows then good ones: the first batch comes at 60% rejected (exit 4)"
like "$out" "line 2501: 1500 of 2500 rows read so far rejected" "at the row that filled it"
is "$("$REDIS_CLI" -s "$TEST_TMP/rb2.sock" dbsize)" 0 "and nothing was written"

# The default rejects file: not through a link, replaced, removed when nothing was rejected,
# and standard input needs --rejects.
cp "$TEST_TMP/bad11.csv" "$TEST_TMP/linked.csv"
ln -s "$TEST_TMP/victim" "$TEST_TMP/linked.csv.rejects.csv"
err=$(ctl import pairings --redis "unix://$TEST_TMP/r11b.sock" "$TEST_TMP/linked.csv" 2>&1)
is $? 2 "a symbolic link at INPUT.rejects.csv: exit 2"
like "$err" "linked.csv.rejects.csv: a symbolic link, not followed" "naming it"
[ ! -e "$TEST_TMP/victim" ]
ok $? "and the link's target is not created"
valid_imeis 2 35693803564380 | sed '1i imei,msisdn' | sed '2,$s/$/,254712345670/' >"$TEST_TMP/good.csv"
echo stale >"$TEST_TMP/good.csv.rejects.csv"
out=$(ctl import pairings --redis "unix://$TEST_TMP/r11b.sock" "$TEST_TMP/good.csv" 2>&1)
is $? 0 "a dump without rejects: exit 0"
[ ! -e "$TEST_TMP/good.csv.rejects.csv" ]
ok $? "and no INPUT.rejects.csv after it, not even an older one"
err=$(ctl import pairings --redis "unix://$TEST_TMP/r11b.sock" - <"$TEST_TMP/bad11.csv" 2>&1)
is $? 2 "standard input without --rejects: exit 2"
like "$err" "give --rejects FILE" "saying what to give"
ctl import pairings --redis "unix://$TEST_TMP/r11b.sock" --rejects "$TEST_TMP/stdin-rj.csv" - \
	<"$TEST_TMP/bad11.csv" >/dev/null
is "$?:$(($(wc -l <"$TEST_TMP/stdin-rj.csv") - 1))" "3:8" "with --rejects it imports (exit 3, 8 rejects)"
err=$(ctl import pairings --redis "unix://$TEST_TMP/r11b.sock" --metrics-file \
	"$TEST_TMP/nodir/x.prom" "$TEST_TMP/good.csv" 2>&1)
is $? 2 "a --metrics-file that cannot be written: exit 2"
like "$err" "nodir/x.prom.tmp" "naming it"

# KYC and TAC: the same rules.
cp "$data/kyc-small.csv" "$TEST_TMP/kyc-small.csv"
fresh_redis rk
out=$(ctl import kyc --kyc-key "$TEST_TMP/kyc.key" --redis "unix://$TEST_TMP/rk.sock" \
	--max-reject-ratio 0.5 "$TEST_TMP/kyc-small.csv" 2>&1)
is $? 4 "import kyc: 4 of 6 rejected over --max-reject-ratio 0.5: exit 4"
is "$("$REDIS_CLI" -s "$TEST_TMP/rk.sock" dbsize)" 0 "no KYC record written"
is "$(($(wc -l <"$TEST_TMP/kyc-small.csv.rejects.csv") - 1))" 4 "the rejects in INPUT.rejects.csv"
ctl import kyc --kyc-key "$TEST_TMP/kyc.key" --redis "unix://$TEST_TMP/rk.sock" \
	"$TEST_TMP/kyc-small.csv" >/dev/null
is $? 3 "without it: exit 3"
printf 'tac,maker,model\n35693803,Acme,One\n3569380X,Bad,Row\n' >"$TEST_TMP/tac2.csv"
fresh_redis rt
out=$(ctl import tac --redis "unix://$TEST_TMP/rt.sock" --max-reject-ratio 0.4 \
	--metrics-file "$TEST_TMP/prom/tac.prom" "$TEST_TMP/tac2.csv" 2>&1)
is $? 4 "import tac: 1 of 2 rejected over --max-reject-ratio 0.4: exit 4"
is "$(grep -c '^rejects: 1 rows in ' <<<"$out")" 1 "saying once where the rejected row went"
is "$("$REDIS_CLI" -s "$TEST_TMP/rt.sock" exists 'tac:{tac}')" 0 "Redis's TAC table left as it was"
is "$(metric 'ceirgw_import_last_success_timestamp_seconds{kind="tac"}' "$TEST_TMP/prom/tac.prom")" 0 \
	"the tac metrics say: never a success"
out=$(ctl import tac --redis "unix://$TEST_TMP/rt.sock" --metrics-file "$TEST_TMP/prom/tac.prom" \
	"$TEST_TMP/tac2.csv" 2>&1)
is $? 3 "without the ratio: stored, exit 3"
like "$out" "rejects: 1 rows in $TEST_TMP/tac2.csv.rejects.csv" "the rejected TAC row beside the input"
is "$(grep -c '^rejects: ' <<<"$out")" 1 "(said once)"
promtool check metrics <"$TEST_TMP/prom/tac.prom"
ok $? "the tac metrics pass promtool"
is "$(metric 'ceirgw_import_rows_total{kind="tac",result="stored"}' "$TEST_TMP/prom/tac.prom")" 1 \
	"counting the TAC stored"

# While it runs: the file says so (an input that waits on a FIFO until the test closes it).
mkfifo "$TEST_TMP/in.fifo"
ctl import pairings --redis "unix://$TEST_TMP/r11b.sock" --rejects /dev/null \
	--metrics-file "$prom" - <"$TEST_TMP/in.fifo" >/dev/null 2>&1 &
imp=$!
exec 7>"$TEST_TMP/in.fifo"
echo imei,msisdn >&7
wait_for 10 grep -q '^ceirgw_import_running{kind="pairings"} 1$' "$prom"
ok $? "at its start the metrics file says running 1"
promtool check metrics <"$prom"
ok $? "and passes promtool then too"
exec 7>&-
wait "$imp"
is "$?:$(metric 'ceirgw_import_running{kind="pairings"}' "$prom")" "0:0" "at its end, running 0"

done_testing
