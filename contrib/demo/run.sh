#!/bin/bash
# The demo: ceirgw on its embedded default, demo operator data, the reference CEIR consumer,
# and a terminal phone (+254712345678) to dial *384# from. Run from a built tree:
#   contrib/demo/run.sh [BUILD_DIR]        (contrib/setup.sh run does the build first)
# Stops everything it started when the phone quits.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
conf=$top/contrib/demo/ceirgw.conf
var=$top/var/demo
mkdir -p "$var"

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT

"$build/src/ceirgw" -c "$conf" &
pids+=($!)
for _ in $(seq 100); do
	curl -sf http://127.0.0.1:8080/healthz >/dev/null && break
	sleep 0.1
done
curl -sf http://127.0.0.1:8080/healthz >/dev/null || {
	echo "ceirgw did not start: see $var/ceirgw.log" >&2
	exit 1
}

# Demo operator data, seen today: the owner's two phones, another subscriber's, a clone.
today=$(date -u +%F)
cat >"$var/pairings.csv" <<CSV
imei,msisdn,imsi,first_seen,last_seen
356938035643809,254712345678,639021000000001,2025-01-01,$today
353320000000013,254712345678,639021000000001,2025-06-01,$today
353322001234567,254722000111,639021000000002,2025-01-01,$today
353321005555555,254700000001,639021000000011,2025-01-01,$today
353321005555555,254700000002,639021000000012,2025-02-01,$today
CSV
cat >"$var/kyc.csv" <<CSV
msisdn,national_id
254712345678,31415926
254722000111,A9876543
CSV
"$build/src/ceirgwctl" import pairings -c "$conf" --rejects "$var/rejects.csv" \
	"$var/pairings.csv" >/dev/null
"$build/src/ceirgwctl" import kyc -c "$conf" --rejects "$var/rejects.csv" "$var/kyc.csv" \
	>/dev/null

# The CEIR stand-in: blocks what is reported after 5 s, so the SMS arrives while you watch.
if /usr/bin/python3 -c 'import redis' 2>/dev/null; then
	/usr/bin/python3 "$top/contrib/ceir-consumer" --redis "unix://$var/redis.sock" \
		--delay 5 >"$var/ceir-consumer.log" 2>&1 &
	pids+=($!)
fi

cat <<TXT

ceirgw demo: http://127.0.0.1:8080 (log: var/demo/ceirgw.log)
You are +254712345678. Your national ID ends in 5926. Your phones: Nokia N900
(356938035643809) and Samsung SGH-W110 (353320000000013).
Try: *384#   *384*356938035643809#   sms 353321005555555   sms STOLEN 353320000000013 5926
     sms STATUS <ref>   sms RECOVERED <ref> <PIN>   help   quit

TXT
"$build/src/ceirgwctl" phone --msisdn +254712345678 --url http://127.0.0.1:8080
