# The log as an operator's shipper reads it (issue 20): libgw's own errors come out through
# ceirgw's logger, in ceirgw's line format (no libgw-format line in the file), and with
# log-format = json (taken on a reload) every line is one JSON object that python3's json
# parses: time, level, program, pid, component, message, escaped whatever the bytes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/journey_lib.sh"

hport=$(free_port)
url=http://127.0.0.1:$hport
redis_start
ok $? "redis-server is up"
gw_conf "redis = redis://127.0.0.1:$rport" debug
cp "$TEST_TMP/ceirgw.conf" "$TEST_TMP/good.conf"
gw_start
log=$TEST_TMP/ceirgw.log

# reload_with FILE: ceirgw reads FILE on SIGHUP; waits for the Nth "SIGHUP: reloading".
n_reloads=0
reload_with() {
	cp "$1" "$TEST_TMP/ceirgw.conf"
	kill -HUP "$gw"
	n_reloads=$((n_reloads + 1))
	wait_for 10 sh -c "[ \$(grep -c 'SIGHUP: reloading' '$log') -ge $n_reloads ]"
	# The reload's lines follow its first one; the next request's line comes after them.
	curl -s "$url/healthz" >/dev/null
}

# A Kannel group whose variable libgw refuses: libgw's own error, at reload.
{ cat "$TEST_TMP/good.conf"; printf '\ngroup = smsbox\nbearerbox-host = 127.0.0.1\nno-such-field = 1\n'; } \
	>"$TEST_TMP/bad.conf"
reload_with "$TEST_TMP/bad.conf"
wait_for 5 grep -q "reload failed" "$log"
grep -q "^[0-9T:.-]*Z ceirgw\[$gw\] error libgw: Group 'smsbox' may not contain field 'no-such-field'" \
	"$log"
ok $? "libgw's error is in ceirgw's log, in ceirgw's text format"
grep -q '\] \[[0-9]*\] [A-Z]*: ' "$log"
ok $((!$?)) "... and no line in libgw's own format"

# JSON from the next reload on.
printf 'log-format = json\n' >>"$TEST_TMP/good.conf"
reload_with "$TEST_TMP/good.conf"
first=$(($(grep -c '' "$log") + 1))
ussd "s1" "+254712345678" "" >/dev/null
# A caller's bytes that are not UTF-8, quotes and backslashes reach the log (debug).
curl -s "$url/ussd?sessionId=%22q%5C%FF%C0&phoneNumber=%2B254712345678&serviceCode=*384%23&text=%FE%22" \
	>/dev/null
# libgw names the field: a quote, a backslash and a byte that is not UTF-8 in its message.
{ cat "$TEST_TMP/good.conf"; printf '\ngroup = smsbox\nbad"fi\\eld\377 = 1\n'; } >"$TEST_TMP/bad.conf"
reload_with "$TEST_TMP/bad.conf"
wait_for 5 sh -c "[ \$(grep -c 'reload failed' '$log') -ge 2 ]"
cp "$TEST_TMP/good.conf" "$TEST_TMP/ceirgw.conf"
gw_stop
tail -n +"$first" "$log" >"$TEST_TMP/json.log"
out=$(/usr/bin/python3 - "$TEST_TMP/json.log" <<'PY'
import json, sys
n, bad, gw, keys = 0, [], 0, set()
with open(sys.argv[1], "rb") as f:
    for raw in f:
        n += 1
        try:
            o = json.loads(raw.decode("utf-8"))
        except Exception as e:
            bad.append("%r: %s" % (raw[:200], e))
            continue
        keys.add(",".join(o.keys()))
        if o.get("component") == "libgw" and o.get("level") == "error" and \
           "field 'bad\"fi\\eld\ufffd'" in o.get("message", ""):
            gw += 1
print(n, len(bad), gw, "|".join(sorted(keys)))
for b in bad[:5]:
    print("# " + b)
PY
)
set -- $out
ok $(( $1 < 5 )) "the JSON part of the log has lines ($1, 5 or more)"
is "$2" 0 "every one of them parses as JSON (python3 json, UTF-8)"
ok $(( $3 < 1 )) "libgw's error is one of them (component libgw, level error), its quote, \
backslash and non-UTF-8 byte escaped"
is "$4" "time,level,program,pid,component,message" "each has time, level, program, pid, component, message"
[ "$2" = 0 ] || printf '%s\n' "$out" | grep '^#'
sanitizer_clean

done_testing
