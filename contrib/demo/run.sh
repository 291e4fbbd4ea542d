#!/bin/bash
# The demo: ceirgw on its embedded default, demo operator data, the reference CEIR consumer,
# and a terminal phone (+254712345678) to dial *384# from. Run from a built tree:
#   contrib/demo/run.sh [--port N] [--phone-port N] [BUILD_DIR]
# (contrib/setup.sh run does the build first; run.sh --help says more)
# Stops everything it started when the phone quits.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)

usage() {
	cat <<TXT
Usage: contrib/demo/run.sh [--port N] [--phone-port N] [BUILD_DIR]

Starts the demo from a built tree (BUILD_DIR, default $top/build): ceirgw on
its embedded Redis, demo operator data, the reference CEIR consumer, and a terminal
phone (+254712345678) to dial *384# from. Quitting the phone stops it all.

Its configuration is var/demo/ceirgw.conf, written at each start from
contrib/demo/ceirgw.conf (edit that one) with the ports below and the paths of var/demo
(\$CEIRGW_DEMO_VAR to put it elsewhere).

  --port N        ceirgw's HTTP port on 127.0.0.1 (default 8080, or \$CEIRGW_DEMO_PORT):
                  the one place the demo's port is set
  --phone-port N  where the phone takes ceirgw's SMS (sendsms-url; default 13013)
  --admin-port N  ceirgw's admin port on 127.0.0.1, /metrics (default 9384)
  -h, --help      this help
TXT
}

port=${CEIRGW_DEMO_PORT:-8080}
phone_port=13013
admin_port=9384
build=$top/build
while [ $# -gt 0 ]; do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--port) [ $# -ge 2 ] || { echo "run.sh: --port needs a port number" >&2; exit 2; }
		port=$2; shift 2 ;;
	--port=*) port=${1#--port=}; shift ;;
	--phone-port) [ $# -ge 2 ] || { echo "run.sh: --phone-port needs a port number" >&2; exit 2; }
		phone_port=$2; shift 2 ;;
	--phone-port=*) phone_port=${1#--phone-port=}; shift ;;
	--admin-port) [ $# -ge 2 ] || { echo "run.sh: --admin-port needs a port number" >&2; exit 2; }
		admin_port=$2; shift 2 ;;
	--admin-port=*) admin_port=${1#--admin-port=}; shift ;;
	-*) echo "run.sh: unknown option $1 (run.sh --help)" >&2; exit 2 ;;
	*) build=$1; shift ;;
	esac
done
check_port() {	# check_port OPTION VALUE
	case $2 in
	'' | *[!0-9]*) ;;
	*) [ "${#2}" -le 5 ] && [ "$2" -ge 1 ] && [ "$2" -le 65535 ] && return 0 ;;
	esac
	echo "run.sh: $1 $2: expected a port number, 1 to 65535" >&2
	exit 2
}
check_port --port "$port"
check_port --phone-port "$phone_port"
check_port --admin-port "$admin_port"
demo_url=http://127.0.0.1:$port
var=${CEIRGW_DEMO_VAR:-$top/var/demo}
mkdir -p "$var"
var=$(cd "$var" && pwd)
conf=$var/ceirgw.conf
# The demo's configuration from the template: its paths made absolute (var/demo), the two
# ports from the variables above, so that nothing else in the tree names them.
{
	echo "# Written by contrib/demo/run.sh from contrib/demo/ceirgw.conf at each start: edit that."
	sed -e "s|^data-dir = .*|data-dir = $var|" -e "s|^log-file = .*|log-file = $var/ceirgw.log|" \
		-e "s|^api-keys-file = \(.*\)|api-keys-file = $top/contrib/demo/\1|" \
		-e "s|^sendsms-url = http://127.0.0.1:[0-9]*/|sendsms-url = http://127.0.0.1:$phone_port/|" \
		"$top/contrib/demo/ceirgw.conf"
	echo "http-listen = 127.0.0.1:$port"
	echo "admin-listen = 127.0.0.1:$admin_port"
} >"$conf"

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT

"$build/src/ceirgw" -c "$conf" &
pids+=($!)
for _ in $(seq 100); do
	curl -sf "$demo_url/healthz" >/dev/null && break
	sleep 0.1
done
curl -sf "$demo_url/healthz" >/dev/null || {
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

ceirgw demo: $demo_url (log: $var/ceirgw.log)
You are +254712345678. Your national ID ends in 5926. Your phones: Nokia N900
(356938035643809) and Samsung SGH-W110 (353320000000013).
Try: *384#   *384*356938035643809#   sms 353321005555555   sms STOLEN 353320000000013 5926
     sms STATUS <ref>   sms RECOVERED <ref> <PIN>   help   quit

TXT
"$build/src/ceirgwctl" phone --msisdn +254712345678 --url "$demo_url" \
	--listen "127.0.0.1:$phone_port"
