#!/bin/bash
# ceirgwctl on a real Redis Cluster (issue 16): a 3-master, 3-replica cluster from
# cluster_lib.sh next to a single redis-server, the same imports into both. Lookups and
# verify answer alike, the keys spread over every master, a re-import changes nothing, the
# TAC table goes in, an import while redis-cli --cluster reshard moves 2000 slots leaves the
# same data set as the single Redis, and the options and seeds that cannot work are refused.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster_lib.sh"

data=$top_srcdir/tests/data
gendump=$top_builddir/tests/tools/gendump
ctl() { "$CEIRGWCTL" "$@"; }

if ! cluster_start 3 1; then
	ok 1 "a cluster of 3 masters and 3 replicas starts"
	for f in "$TEST_TMP"/cluster/*/redis.log "$TEST_TMP"/cluster/create.log; do
		tail -n 5 "$f" | sed "s|^|# ${f#"$TEST_TMP"/cluster/}: |"
	done
	done_testing
	exit 1
fi
ok 0 "a cluster of 3 masters and 3 replicas starts"
sport=$(free_port)
"$REDIS_SERVER" --port "$sport" --bind 127.0.0.1 --save '' --appendonly no \
	--enable-debug-command local --dir "$TEST_TMP" >"$TEST_TMP/single.log" 2>&1 &
test_pids="$test_pids $!"
wait_for 10 "$REDIS_CLI" -p "$sport" ping
ok $? "a single redis-server starts"
single=redis://127.0.0.1:$sport
seeds=$CLUSTER_SEEDS

# "key digest" of every key of the Redis servers on the ports given, sorted: a data set in a
# form that compares, whichever node holds a key (DEBUG DIGEST-VALUE names no key to a
# cluster: each node answers for its own).
key_digests() {
	local p
	for p in "$@"; do
		"$REDIS_CLI" -p "$p" --scan >"$TEST_TMP/keys.$p"
		xargs -a "$TEST_TMP/keys.$p" -d '\n' -r -n 500 "$REDIS_CLI" -p "$p" \
			debug digest-value >"$TEST_TMP/digests.$p"
		paste -d ' ' "$TEST_TMP/keys.$p" "$TEST_TMP/digests.$p"
	done | LC_ALL=C sort
}

# The summary line of an import without its timing.
summary() { head -1 | sed 's/ in [0-9.]* s ([0-9]* rows\/s)//'; }

# ---- the small files, into both ------------------------------------------------------------
cd "$data" || exit 1
out_s=$(ctl import pairings --redis "$single" --rejects "$TEST_TMP/rj-single.csv" pairings-small.csv)
out_c=$(ctl import pairings --redis-cluster "$seeds" --rejects "$TEST_TMP/rj-cluster.csv" pairings-small.csv)
is $? 3 "import pairings into the cluster exits 3 (rows rejected)"
like "$out_c" "6 imported, 9 rejected; 4 IMEI and 6 MSISDN entries written" "and writes what the file holds"
is "$(echo "$out_c" | summary)" "$(echo "$out_s" | summary)" "the same counts as into the single Redis"
cmp -s "$TEST_TMP/rj-single.csv" "$TEST_TMP/rj-cluster.csv"
ok $? "the same rejects file"

imeis="356938035643809 352099011111115 352099022222224 490139201234567 356938035643801 35693803564380 359999999999999"
msisdns="0712345678 0712345679 +254711000001 254722000001 0722000002 0733000001 0799999999"
for kind in imei msisdn; do
	list=$imeis
	[ $kind = msisdn ] && list=$msisdns
	for json in "" --json; do
		# shellcheck disable=SC2086
		want=$(ctl lookup $kind $json --redis "$single" $list 2>&1; echo "exit $?")
		# shellcheck disable=SC2086
		got=$(ctl lookup $kind $json --redis-cluster "$seeds" $list 2>&1; echo "exit $?")
		is "$got" "$want" "lookup $kind ${json:-(human)}: the cluster answers as the single Redis"
	done
done
like "$(ctl lookup imei --redis-cluster "$seeds" 352099022222224)" "DUPLICATED" \
	"the cluster's answer is the real one (a duplicated IMEI)"

out=$(ctl import pairings --redis-cluster "$seeds" --rejects /dev/null pairings-small.csv)
like "$out" "0 IMEI and 0 MSISDN entries written, 6 already known" "a re-import into the cluster writes nothing"

head -c 32 /dev/urandom | base64 >"$TEST_TMP/kyc.key"
out_s=$(ctl import kyc --kyc-key "$TEST_TMP/kyc.key" --redis "$single" \
	--rejects "$TEST_TMP/kyc-rj-single.csv" kyc-small.csv)
out_c=$(ctl import kyc --kyc-key "$TEST_TMP/kyc.key" --redis-cluster "$seeds" \
	--rejects "$TEST_TMP/kyc-rj-cluster.csv" kyc-small.csv)
is $? 3 "import kyc into the cluster exits 3 (rows rejected)"
like "$out_c" "2 imported, 4 rejected; 2 subscribers written" "and writes the 2 good rows"
is "$(echo "$out_c" | summary)" "$(echo "$out_s" | summary)" "the same KYC counts as the single Redis"
cmp -s "$TEST_TMP/kyc-rj-single.csv" "$TEST_TMP/kyc-rj-cluster.csv"
ok $? "the same KYC rejects file"
for args in "0712345678 5678" "0712345678 12-345-678" "0712345678 5679" "0711000001 a1234567" \
	"0799999999 1234"; do
	# shellcheck disable=SC2086
	want=$(ctl verify --kyc-key "$TEST_TMP/kyc.key" --redis "$single" $args 2>&1; echo "exit $?")
	# shellcheck disable=SC2086
	got=$(ctl verify --kyc-key "$TEST_TMP/kyc.key" --redis-cluster "$seeds" $args 2>&1; echo "exit $?")
	is "$got" "$want" "verify $args: the cluster answers as the single Redis"
done
like "$(ctl verify --kyc-key "$TEST_TMP/kyc.key" --redis-cluster "$seeds" 0712345678 5678)" \
	": matches (registered 2019-05-02)" "which is a match for the right digits"
out=$(ctl import kyc --kyc-key "$TEST_TMP/kyc.key" --redis-cluster "$seeds" --rejects /dev/null \
	kyc-small.csv)
like "$out" "0 subscribers written, 2 already known" "a KYC re-import into the cluster writes nothing"

# ---- where the store is: options, the configuration, the seeds -------------------------------
printf 'group = ceirgw\ndefault-region = KE\nredis-cluster = %s\n' "$seeds" >"$TEST_TMP/cluster.conf"
printf 'group = ceirgw\ndefault-region = KE\nredis = %s\n' "$single" >"$TEST_TMP/single.conf"
# One pairing in the single Redis only tells which store answered.
printf 'imei,msisdn\n356938035643809,254700000009\n' >"$TEST_TMP/only-single.csv"
ctl import pairings --redis "$single" "$TEST_TMP/only-single.csv" >/dev/null
out=$(ctl lookup msisdn -c "$TEST_TMP/cluster.conf" 0700000009)
is "$?:$out" "1:+254700000009  no handsets" "-c takes redis-cluster from the configuration"
out=$(ctl lookup msisdn -c "$TEST_TMP/cluster.conf" --redis "$single" 0700000009)
is "$?:$out" "0:+254700000009  356938035643809" "--redis replaces the configuration's redis-cluster"
out=$(ctl lookup msisdn -c "$TEST_TMP/single.conf" --redis-cluster "$seeds" 0700000009)
is "$?:$out" "1:+254700000009  no handsets" "--redis-cluster replaces the configuration's redis"
err=$(ctl lookup imei --redis "$single" --redis-cluster "$seeds" 356938035643809 2>&1)
is $? 2 "--redis with --redis-cluster is a usage error"
like "$err" "--redis and --redis-cluster exclude each other" "and says so"
for cmd in "import pairings" "import kyc" "import tac" "verify"; do
	# shellcheck disable=SC2086
	ctl $cmd --redis "$single" --redis-cluster "$seeds" x y >/dev/null 2>&1
	is $? 2 "$cmd: --redis with --redis-cluster exits 2"
done
err=$(ctl lookup imei --redis-cluster "127.0.0.1:$sport" 356938035643809 2>&1)
is $? 2 "--redis-cluster on a Redis that is no cluster node exits 2"
like "$err" "is not a cluster node" "and says why"
err=$(ctl lookup imei --redis-cluster "127.0.0.1:0" 356938035643809 2>&1)
is $? 2 "a seed list that does not parse exits 2"
like "$err" "port must be 1..65535" "and says why"
dead=$(free_port)
out=$(ctl lookup imei --redis-cluster "127.0.0.1:$dead,$seeds" 352099022222224)
like "$out" "DUPLICATED" "a seed that does not answer is skipped for the next one"
err=$(ctl lookup imei --redis-cluster "127.0.0.1:$dead" 356938035643809 2>&1)
is $? 2 "no seed answering exits 2"
like "$err" "cannot connect to cluster node 127.0.0.1:$dead" "and names the node"

# ---- the TAC table ----------------------------------------------------------------------------
out=$(ctl import tac --redis-cluster "$seeds" --rejects /dev/null "$top_srcdir/data/tacdb.csv")
is $? 0 "import tac into the cluster"
like "$out" "25175 rows: 25122 TACs loaded, 0 rejected, 53 duplicates" "with its counts"
is "$(RC hlen 'tac:{tac}')" 25122 "the cluster holds the table"
like "$(RC get 'tac:{tac}:source')" "CC-BY-SA" "with its licence line"
printf 'Operator TAC list 2026-11\ntac,maker,model\n35693803,Acme,"Phone, One"\n' >"$TEST_TMP/optac.csv"
out=$(ctl import tac --redis-cluster "$seeds" "$TEST_TMP/optac.csv")
like "$out" "1 rows: 1 TACs loaded" "an operator's table is renamed over it"
is "$(RC hlen 'tac:{tac}'):$(RC exists 'tac:{tac}:new')" "1:0" "whole, with nothing of the old one left"

# ---- a bigger dump, imported while 2000 slots move ------------------------------------------
# 10^6 rows in batches of 10^5: about 4 s into the cluster on 2 cores, ten flushes that
# the slots move under.
"$gendump" pairings --rows 1000000 --region KE --seed 5 --clones 1 --garbage 1 \
	--out "$TEST_TMP/gen.csv" 2>/dev/null
ok $? "gendump writes a dump of 10^6 rows"
# Both stores empty: the data sets are compared whole below.
for p in $sport $(cluster_masters); do "$REDIS_CLI" -p "$p" flushall >/dev/null; done
out_s=$(ctl import pairings --redis "$single" --rejects /dev/null --batch 100000 "$TEST_TMP/gen.csv")
is $? 3 "the dump imports into the single Redis (exit 3: its garbage rejected)"

read -r from to _ <<<"$(cluster_masters | tr '\n' ' ')"
from_id=$("$REDIS_CLI" -p "$from" cluster myid)
to_id=$("$REDIS_CLI" -p "$to" cluster myid)
slots_of() {
	cluster_master_slots | awk -v p="$1" '$1 == p { for (i = 2; i <= NF; i++) {
		n = split($i, r, "-"); t += (n == 2 ? r[2] - r[1] + 1 : 1) } } END { print t + 0 }'
}
to_before=$(slots_of "$to")
ctl import pairings --redis-cluster "$seeds" --rejects /dev/null --batch 100000 \
	"$TEST_TMP/gen.csv" >"$TEST_TMP/import.out" 2>&1 &
imp=$!
locked() { [ "$(RC exists 'import:{lock}')" = 1 ]; }
wait_for 20 locked
"$REDIS_CLI" --cluster reshard "127.0.0.1:$from" --cluster-from "$from_id" \
	--cluster-to "$to_id" --cluster-slots 2000 --cluster-yes >"$TEST_TMP/reshard.log" 2>&1 &
rs=$!
wait_exit 300 "$imp"
is "$exit_status" 3 "the import into the cluster exits 3 (its garbage rejected) while slots move"
wait_exit 300 "$rs"
is "$exit_status" 0 "redis-cli --cluster reshard succeeds"
cluster_wait_ok 30
ok $? "the cluster is whole again"
is "$(slots_of "$to")" "$((to_before + 2000))" "2000 slots moved to another master"
out_c=$(cat "$TEST_TMP/import.out")
is "$(echo "$out_c" | summary)" "$(echo "$out_s" | summary)" "the import counts what the single Redis counted"
redirects=$(echo "$out_c" | sed -n 's/^cluster: \([0-9]*\) redirections followed.*/\1/p')
[ "${redirects:-0}" -gt 0 ]
ok $? "it met the moving slots: ${redirects:-0} redirections followed"

masters=$(cluster_masters | tr '\n' ' ')
spread=0
for p in $masters; do
	n=$("$REDIS_CLI" -p "$p" dbsize)
	echo "# master $p: $n keys"
	[ "$n" -gt 0 ] || spread=1
done
ok $spread "every master holds keys"
want=$(key_digests "$sport")
# shellcheck disable=SC2086
got=$(key_digests $masters)
keys=$("$REDIS_CLI" -p "$sport" dbsize)
[ "$keys" -gt 100000 ] && [ "$(echo "$want" | grep -c '^[^ ]* [0-9a-f]\{40\}$')" = "$keys" ]
ok $? "the single Redis's $keys keys, each with its digest"
is "$(echo "$got" | wc -l)" "$keys" "the cluster holds as many keys"
[ "$got" = "$want" ]
ok $? "and the same data set, key by key"

# Lookups of the dump's first 100 rows, garbage included.
python3 -c '
import csv, sys
r = csv.DictReader(open(sys.argv[1], newline=""))
rows = [next(r) for _ in range(100)]
for col, out in (("imei", sys.argv[2]), ("msisdn", sys.argv[3])):
    open(out, "w").write(" ".join((x.get(col) or "0").replace(" ", "") or "0" for x in rows))
' "$TEST_TMP/gen.csv" "$TEST_TMP/imeis" "$TEST_TMP/msisdns"
for kind in imei msisdn; do
	# shellcheck disable=SC2046
	want=$(ctl lookup $kind --json --redis "$single" $(cat "$TEST_TMP/${kind}s") 2>&1; echo "exit $?")
	# shellcheck disable=SC2046
	got=$(ctl lookup $kind --json --redis-cluster "$seeds" $(cat "$TEST_TMP/${kind}s") 2>&1; echo "exit $?")
	is "$got" "$want" "lookup of 100 ${kind}s of the dump: the cluster answers as the single Redis"
done
[ "$(echo "$got" | grep -c '"imei"')" -gt 50 ]
ok $? "and those answers are pairings found"

out=$(ctl import pairings --redis-cluster "$seeds" --rejects /dev/null "$TEST_TMP/gen.csv")
like "$out" " 0 IMEI and 0 MSISDN entries written" "a re-import of the dump into the cluster writes nothing"
case $out in *redirections*) ok 1 "and, the slots settled, meets no redirection";;
	*) ok 0 "and, the slots settled, meets no redirection";; esac

done_testing
