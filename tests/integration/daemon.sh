#!/bin/bash
# ceirgw as an operator runs it: --version, --help, --check-config; started on the embedded
# default (its own redis-server) it serves /healthz, reloads on SIGHUP (keeping the running
# configuration when the new one is bad), stops cleanly on SIGTERM and takes its Redis with
# it; with an external Redis it reports the outage and reconnects.
. "$(dirname "$0")/lib.sh"

command -v curl >/dev/null || { echo "1..0 # SKIP curl not installed"; exit 0; }

"$CEIRGW" --version | grep -q '^ceirgw [0-9]'
ok $? "--version prints the version"
"$CEIRGW" --help | grep -q -- '--check-config'
ok $? "--help lists the options"
"$CEIRGW" --bogus >/dev/null 2>&1
is $? 2 "an unknown option exits 2"

out=$("$CEIRGW" --check-config -c "$top_srcdir/contrib/ceirgw.conf" 2>&1)
is $? 0 "contrib/ceirgw.conf passes --check-config from the source tree"
like "$out" "tac-file = $top_srcdir/contrib/../data/tacdb.csv" "relative paths resolve from the file's folder"
like "$out" "warning: no SMS path" "--check-config warns that no SMS can leave (no bearerbox, no sendsms-url)"
printf 'group = ceirgw\nsendsms-url = http://127.0.0.1:13013/cgi-bin/sendsms\n' >"$TEST_TMP/sms.conf"
out=$("$CEIRGW" --check-config -c "$TEST_TMP/sms.conf" 2>&1)
is "$(echo "$out" | grep -c 'no SMS path')" 0 "... and does not with a sendsms-url"
printf 'group = ceirgw\nverify-report = id+otp\n' >"$TEST_TMP/otp.conf"
out=$("$CEIRGW" --check-config -c "$TEST_TMP/otp.conf" 2>&1)
like "$out" "warning: verify-report = id+otp needs an SMS path" \
	"--check-config warns that one-time codes cannot leave (issue 18)"
printf 'group = ceirgw\nverify-report = sms\n' >"$TEST_TMP/otp.conf"
out=$("$CEIRGW" --check-config -c "$TEST_TMP/otp.conf" 2>&1)
is $? 1 "--check-config refuses a verify-report other than id, otp or id+otp"
like "$out" "expected id, otp or id+otp" "... and says what it expects"

printf 'group = ceirgw\nhttp-listen = nowhere\n' >"$TEST_TMP/bad.conf"
out=$("$CEIRGW" --check-config -c "$TEST_TMP/bad.conf" 2>&1)
is $? 1 "--check-config fails on a bad value"
like "$out" "http-listen = 'nowhere'" "and names the variable and value"
out=$("$CEIRGW" --check-config -c "$TEST_TMP/bad.conf" --http 127.0.0.1:1 2>&1)
is $? 0 "a command-line option overrides the file"

# --- the embedded default ---------------------------------------------------------------
port=$(free_port)
conf=$TEST_TMP/ceirgw.conf
cat >"$conf" <<CONF
group = ceirgw
http-listen = 127.0.0.1:$port
$(admin_line)
data-dir = state/data
log-file = ceirgw.log
log-level = info
CONF
"$CEIRGW" -c "$conf" &
pid=$!
test_pids="$test_pids $pid"
url=http://127.0.0.1:$port
wait_for 15 curl -fsS "$url/healthz"
ok $? "ceirgw answers /healthz after starting its own Redis"
body=$(curl -sS "$url/healthz")
like "$body" '"status":"ok"' "healthz says ok"
like "$body" '"redis_mode":"embedded"' "healthz says the Redis is embedded"
echo "$body" | grep -qE '"tac_entries":2[0-9]{4},'
ok $? "healthz counts the shipped TAC table"
[ -S "$TEST_TMP/state/data/redis.sock" ]
ok $? "the embedded Redis socket is under data-dir, created with its parents, relative to the config"
rpid=$(pgrep -P "$pid" redis-server)
[ -n "$rpid" ]
ok $? "redis-server runs as ceirgw's child"
is "$(curl -s -o /dev/null -w '%{http_code}' "$url/nope")" 404 "an unknown path is 404"
is "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/healthz")" 405 "POST /healthz is 405"
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$url/healthz")
[ "$code" = 405 ] || [ "$code" = 501 ]
ok $? "DELETE is refused (got $code)"
big=$(head -c 20000 /dev/zero | tr '\0' a)
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $big" "$url/healthz")
[ "$code" = 400 ] || [ "$code" = 431 ] || [ "$code" = 413 ] || [ "$code" = 000 ]
ok $? "oversized headers are refused (got $code)"

# SIGHUP with a broken file: still serving, the old configuration kept.
cp "$conf" "$conf.good"
printf 'group = ceirgw\nhttp-listen = 127.0.0.1:%s\ndata-dir = state/data\nlog-file = ceirgw.log\nlog-level = shout\n' "$port" >"$conf"
kill -HUP "$pid"
wait_for 5 grep -q "reload failed" "$TEST_TMP/ceirgw.log"
ok $? "a bad reload is logged"
like "$(grep 'reload failed' "$TEST_TMP/ceirgw.log")" "log-level = 'shout'" "and says why"
like "$(curl -sS "$url/healthz")" '"reloads":0' "and the running configuration stays"
# SIGHUP with a good file.
sed 's/log-level = info/log-level = notice/' "$conf.good" >"$conf"
kill -HUP "$pid"
wait_for 5 grep -q "reload 1 done" "$TEST_TMP/ceirgw.log"
ok $? "a good reload is applied"
like "$(curl -sS "$url/healthz")" '"reloads":1' "healthz counts the reload"

kill -TERM "$pid"
wait_exit 15 "$pid"
is "$exit_status" 0 "SIGTERM stops ceirgw with status 0"
kill -0 "$rpid" 2>/dev/null
is $? 1 "and its redis-server is gone"
[ -d "$TEST_TMP/state/data/appendonlydir" ]
ok $? "the embedded Redis kept its append-only file"
grep -qE '\+?[0-9]{10,}' "$TEST_TMP/ceirgw.log"
is $? 1 "no full phone number in the log"

# A second ceirgw on the same data-dir must not start a second Redis there.
"$CEIRGW" -c "$conf.good" &
pid=$!
test_pids="$test_pids $pid"
wait_for 15 curl -fsS "$url/healthz"
out=$("$CEIRGW" -c "$conf.good" --http 127.0.0.1:$(free_port) 2>&1)
is $? 1 "a second ceirgw on the same data-dir refuses to start"
like "$out" "another Redis already answers" "and says why"
# The embedded Redis dying stops ceirgw: nothing is lost, the supervisor restarts both.
kill -KILL "$(pgrep -P "$pid" redis-server)"
wait_exit 15 "$pid"
is "$exit_status" 1 "ceirgw exits 1 when its embedded Redis dies"

# --- an external Redis ------------------------------------------------------------------
mkdir -p "$TEST_TMP/ext"
sock=$TEST_TMP/ext/redis.sock
start_redis() {
	"$REDIS_SERVER" --port 0 --unixsocket "$sock" --dir "$TEST_TMP/ext" --save '' \
		--appendonly no --daemonize no --logfile "$TEST_TMP/ext/redis.log" &
	redis_pid=$!
	test_pids="$test_pids $redis_pid"
}
start_redis
wait_for 10 test -S "$sock"
port=$(free_port)
url=http://127.0.0.1:$port
"$CEIRGW" --redis "unix://$sock" --http "127.0.0.1:$port" -c "$conf.good" 2>"$TEST_TMP/ext.log" &
pid=$!
test_pids="$test_pids $pid"
wait_for 15 curl -fsS "$url/healthz"
ok $? "ceirgw --redis unix://... serves /healthz"
like "$(curl -sS "$url/healthz")" '"redis_mode":"external"' "with the external Redis"
[ -z "$(pgrep -P "$pid" redis-server)" ]
ok $? "and starts no Redis of its own"
kill -TERM "$redis_pid"; wait "$redis_pid" 2>/dev/null
wait_for 10 sh -c "curl -s -o /dev/null -w '%{http_code}' '$url/healthz' | grep -q 503"
ok $? "healthz answers 503 while Redis is down"
like "$(curl -sS "$url/healthz")" '"redis":"down"' "and says Redis is down"
start_redis
wait_for 15 curl -fsS "$url/healthz"
ok $? "ceirgw reconnects when Redis is back"
kill -TERM "$pid"
wait_exit 15 "$pid"
is "$exit_status" 0 "SIGTERM stops it with status 0"

# --- the port is taken ------------------------------------------------------------------
"$REDIS_SERVER" --port "$port" --save '' --daemonize no --logfile /dev/null &
test_pids="$test_pids $!"
wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port"
out=$("$CEIRGW" --redis "unix://$sock" --http "127.0.0.1:$port" -c "$conf.good" 2>&1)
is $? 1 "a port in use stops ceirgw with status 1"
like "$out" "cannot listen on 127.0.0.1:$port" "and says which"

# --- Redis over TCP (that same redis-server) ---------------------------------------------
hport=$(free_port)
"$CEIRGW" --redis "redis://127.0.0.1:$port/0" --http "127.0.0.1:$hport" -c "$conf.good" \
	2>"$TEST_TMP/tcp.log" &
pid=$!
test_pids="$test_pids $pid"
wait_for 15 curl -fsS "http://127.0.0.1:$hport/healthz"
ok $? "ceirgw --redis redis://127.0.0.1:PORT serves /healthz over TCP"
kill -TERM "$pid"
wait_exit 15 "$pid"
is "$exit_status" 0 "and stops with status 0"

done_testing
