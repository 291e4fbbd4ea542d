# A follower against a tampering man in the middle (issue 19): TZ follows KE's feed through
# tests/tools/feed_proxy.py, which alters what KE serves, one way at a time, while KE keeps
# appending decisions: altered bundles and tiles, rewritten histories and a second root for
# the accepted size (both signed with KE's real key), another key, an older checkpoint,
# answers cut short and answers of a gigabyte. For each, TZ refuses (or halts, for two roots)
# and says why once, applies nothing, and catches up once the proxy passes KE's feed again;
# in the end TZ's foreign state is exactly what KE's log says (tests/integration/feed_audit.py
# reads the log apart from ceirgw's C).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/feed_lib.sh"

PY=/usr/bin/python3
KE_O=ceir.test.ke/feed
ke_h=$(free_port)
tz_h=$(free_port)
px=$(free_port)
redis_own ke
redis_own tz
RK() { "$REDIS_CLI" -p "$ke_rport" "$@"; }
RT() { "$REDIS_CLI" -p "$tz_rport" "$@"; }

ke_v=$("$CEIRGWCTL" feed keygen --origin "$KE_O" --out "$TEST_TMP/ke.key" | head -n1)
"$CEIRGWCTL" feed keygen --origin ceir.test.tz/feed --out "$TEST_TMP/tz.key" >/dev/null
printf '%s\n' "group = ceirgw" "http-listen = 127.0.0.1:$ke_h" "$(admin_line)" \
	"redis = redis://127.0.0.1:$ke_rport" "log-file = ke.log" "log-level = info" \
	"country = KE" "feed-origin = $KE_O" "feed-key-file = ke.key" \
	"feed-checkpoint-interval = 1" >"$TEST_TMP/ke.conf"
printf '%s\n' "group = ceirgw" "http-listen = 127.0.0.1:$tz_h" "$(admin_line)" \
	"redis = redis://127.0.0.1:$tz_rport" "log-file = tz.log" "log-level = info" \
	"country = TZ" "feed-origin = ceir.test.tz/feed" "feed-key-file = tz.key" \
	"feed-checkpoint-interval = 1" "" \
	"group = feed-peer" "origin = $KE_O" "url = http://127.0.0.1:$px/feed" "key = $ke_v" \
	"country = KE" "poll-interval = 1" >"$TEST_TMP/tz.conf"

hz() {
	curl -s "http://127.0.0.1:$tz_h/healthz" |
		$PY -c 'import json, sys; print(json.load(sys.stdin).get(sys.argv[1], ""))' "$1"
}
state() { hz peer_1_state; }
accepted() { hz peer_1_accepted; }
ke_size() { curl -sf "http://127.0.0.1:$ke_h/feed/checkpoint" | sed -n 2p; }
state_like() { case $(state) in *"$1"*) return 0 ;; esac; return 1; }
# caught_up N: TZ says ok, with a tree of at least N
caught_up() {
	local s
	s=$(state)
	[ "${s#ok: tree }" != "$s" ] && [ "$(accepted)" -ge "$1" ]
}
mode() { curl -sf "http://127.0.0.1:$px/__mode?m=$1" >/dev/null; }
# TZ's foreign state and stream, as one digest: what "nothing applied" compares
tz_digest() {
	$PY - "$tz_rport" <<'EOF'
import hashlib, sys
import redis
r = redis.Redis(port=int(sys.argv[1]))
h = hashlib.sha256()
for k in sorted(r.keys("fx:*")):
    for f, v in sorted(r.hgetall(k).items()):
        h.update(k + b"\0" + f + b"\0" + v + b"\n")
h.update(b"%d" % r.xlen("ceir:foreign"))
print(h.hexdigest()[:16])
EOF
}
tz_rss_kb() { ps -o rss= -p "$tz_gw" | tr -d ' '; }

# ---- reports in KE, and a CEIR deciding on them all along the test ----
feed_reports 35693803 0 2000 >"$TEST_TMP/reports"
feed_seed <"$TEST_TMP/reports" | RK >/dev/null
# The CEIR: a block every 0.1 s, and every tenth an unblock of an earlier one, until the file
# "stop" appears; paused while "pause" is there.
$PY - "$ke_rport" "$TEST_TMP" <<'EOF' &
import os, sys, time
import redis
r = redis.Redis(port=int(sys.argv[1]))
tmp = sys.argv[2]
reports = [l.split() for l in open(os.path.join(tmp, "reports"))]
for i, (imei, ref, _) in enumerate(reports):
    while os.path.exists(os.path.join(tmp, "pause")):
        time.sleep(0.05)
    if os.path.exists(os.path.join(tmp, "stop")):
        break
    r.xadd("ceir:results", {"ref": ref, "imei": imei, "result": "blocked", "reason": "ok"})
    if i % 10 == 9:
        imei, ref, _ = reports[i - 5]
        r.xadd("ceir:results", {"ref": ref, "imei": imei, "result": "unblocked", "reason": "ok"})
    time.sleep(0.1)
EOF
ceir_pid=$!
test_pids="$test_pids $ceir_pid"

url=http://127.0.0.1:$ke_h gw_start "$TEST_TMP/ke.conf"
ke_gw=$gw
/usr/bin/python3 "$top_srcdir/tests/tools/feed_proxy.py" "$px" "http://127.0.0.1:$ke_h/feed" \
	"$TEST_TMP/ke.key" 2>"$TEST_TMP/proxy.log" &
proxy_pid=$!
test_pids="$test_pids $proxy_pid"
if ! wait_for 10 curl -sf "http://127.0.0.1:$px/__stats"; then
	sed 's/^/# /' "$TEST_TMP/proxy.log"
	echo "Bail out! the proxy did not start"
	exit 1
fi
url=http://127.0.0.1:$tz_h gw_start "$TEST_TMP/tz.conf"
tz_gw=$gw
wait_for 20 caught_up 20
ok $? "TZ follows KE through the proxy ($(state))"

rss_max=0
rss_sample() {
	local r
	r=$(tz_rss_kb)
	[ "${r:-0}" -gt "$rss_max" ] && rss_max=$r
	return 1	# (for wait_for: sampled until its time is up)
}

# tamper MODE WANT [halted]: TZ through the proxy in MODE refuses (or halts) with a state
# containing WANT, applies nothing, logs it once; back in pass mode it catches up.
tamper() {
	local m=$1 want=$2 kind=${3:-refused} t0 n0 d0 a0 mark s lines
	t0=$(date +%s%3N)
	mark=$(wc -l <"$TEST_TMP/tz.log")
	mode "$m"
	wait_for 15 state_like "$kind: "
	s=$(state)
	like "$s" "$kind: " "$m: TZ's state says $kind ($s)"
	like "$s" "$want" "$m: and why"
	is "$(RT HGET "peer:{$KE_O}" state)" "$s" "$m: TZ's Redis says the same"
	a0=$(accepted)
	d0=$(tz_digest)
	n0=$(ke_size)
	# Two polls more while KE appends: still refused, nothing taken.
	if [ "$m" = huge ] || [ "$m" = huge-bundle ] || [ "$m" = huge-stream ]; then
		wait_for 3 rss_sample
	else
		sleep 2.5
	fi
	like "$(state)" "$kind: " "$m: still $kind two polls on"
	ok $(($(ke_size) > n0 || n0 > a0 ? 0 : 1)) \
		"$m: KE's log grew past TZ's tree meanwhile ($a0 accepted, KE at $(ke_size))"
	is "$(accepted)" "$a0" "$m: TZ's accepted tree stays"
	is "$(tz_digest)" "$d0" "$m: TZ's fx state and ceir:foreign are unchanged"
	lines=$(sed "1,${mark}d" "$TEST_TMP/tz.log" | grep -c "feed-peer $KE_O (KE): $kind: ")
	# A refusal whose reason names the peer's growing tree ("entries 30..51", "the tree of
	# 151") reads the same but for its numbers at each poll: logged once.
	is "$lines" 1 "$m: TZ logs the $kind once"
	[ "$lines" = 1 ] || sed "1,${mark}d" "$TEST_TMP/tz.log" | grep "feed-peer $KE_O (KE): $kind: " |
		head -n 4 | sed 's/^/#   /'
	if [ "$kind" = halted ]; then
		# A halt waits for an operator: the honest feed back and a restart do not end it.
		mode pass
		kill "$tz_gw"
		wait_exit 10 "$tz_gw"
		url=http://127.0.0.1:$tz_h gw_start "$TEST_TMP/tz.conf"
		tz_gw=$gw
		wait_for 10 state_like "halted: "
		sleep 2
		like "$(state)" "halted: " \
			"$m: TZ restarted, KE's feed passed as is: still halted ($(state))"
		is "$(accepted)" "$a0" "$m: and nothing taken"
		RT HDEL "peer:{$KE_O}" halted >/dev/null
	fi
	mode pass
	n0=$(ke_size)
	wait_for 20 caught_up "$n0"
	ok $? "$m: back in pass mode, TZ catches up to KE's tree of $n0 or more ($(state))"
	echo "# $m: $(( $(date +%s%3N) - t0 )) ms from the switch to caught up"
}

tamper flip-bundle "(a bundle"
tamper flip-bundle-format "is not an entry"
tamper flip-tile "is not consistent with the"
tamper fork "is not consistent with the"
tamper fork-tail "is not consistent with the"
tamper other-key "checkpoint: not signed by the peer's key"
tamper other-key-id "checkpoint: its signature by the peer's key does not verify (a forgery)"
tamper rollback "accepted (a rollback)"
tamper truncate "checkpoint: no answer"
tamper truncate-bundle "bundle "
tamper huge "checkpoint: no answer"
tamper huge-bundle "bundle "
tamper huge-stream "checkpoint: no answer"
echo "# TZ's ceirgw at most $((rss_max / 1024)) MB resident while answered a gigabyte"
ok $((rss_max > 0 && rss_max < 200 * 1024 ? 0 : 1)) \
	"TZ's memory stays under 200 MB with the huge answers"
ok $(($(grep -c "bytes of zeros sent before the client left" "$TEST_TMP/proxy.log") >= 3 ? 0 : 1)) \
	"TZ hung up on the gigabytes"

# Two roots for one size: the proxy forges a second root for the newest tree it passed on, so
# TZ must have accepted that one (the CEIR paused, TZ caught up).
touch "$TEST_TMP/pause"
sleep 1.5
n=$(ke_size)
wait_for 15 caught_up "$n"
sleep 1.5
is "$(accepted)" "$n" "the CEIR paused: TZ has KE's tree of $n"
rm -f "$TEST_TMP/pause"
tamper equivocate-size "two roots signed for the tree of $n (an equivocation)" halted
like "$(grep "feed-peer $KE_O (KE): halted" "$TEST_TMP/tz.log" | tail -n1)" "tree of $n" \
	"the halt names the size"

# ---- in the end: what KE published, and nothing else ----
touch "$TEST_TMP/stop"
wait_exit 10 "$ceir_pid"
sleep 1.5
n=$(ke_size)
wait_for 20 caught_up "$n"
ok $? "the CEIR stopped: TZ accepts KE's final tree of $n ($(state))"
out=$(/usr/bin/python3 "$top_srcdir/tests/integration/feed_audit.py" "http://127.0.0.1:$ke_h/feed" \
	"$ke_v" --entries "$TEST_TMP/entries")
ok $? "the audit verifies KE's log ($out)"
is "$(RT XLEN ceir:foreign)" "$n" "TZ's ceir:foreign holds each of KE's $n decisions"
$PY - "$tz_rport" "$TEST_TMP/entries" >"$TEST_TMP/fx.diff" <<'EOF'
import datetime, sys
import redis
r = redis.Redis(port=int(sys.argv[1]))
want = {}
for line in open(sys.argv[2]):
    country, imei, status, reason, day = line.split()
    d = (datetime.date.fromisoformat(day) - datetime.date(2000, 1, 1)).days
    want[imei] = ((b"S" if reason == "stolen" else b"L") + d.to_bytes(2, "big")
                  if status == "blocked" else b"")
got = {}
for k in r.keys("fx:*"):
    for f, v in r.hgetall(k).items():
        # A field per IMEI and country: the IMEI's field, then the two letters.
        if f[-2:] != b"KE":
            print(f, "of another country than KE")
            continue
        body = int.from_bytes(f[:-2], "big") * 10000 + int(k[4:8])
        got[body] = v
for imei, v in sorted(want.items()):
    if got.get(int(imei[:14]), b"") != v:
        print(imei, "want", v, "got", got.get(int(imei[:14])))
for body in set(got) - {int(i[:14]) for i in want}:
    print(body, "in TZ's fx, not in KE's log")
print(len([v for v in want.values() if v]), "blocked", len(want), "IMEIs")
EOF
like "$(tail -n1 "$TEST_TMP/fx.diff")" " blocked " \
	"TZ's fx state read ($(tail -n1 "$TEST_TMP/fx.diff"))"
is "$(sed '$d' "$TEST_TMP/fx.diff" | head -n 5)" "" \
	"TZ's fx state is exactly the last decision of KE's log for each IMEI"
is "$(RT XRANGE ceir:foreign - + | awk 'p {print; p = 0} /^index$/ {p = 1}' | sort -u | wc -l)" \
	"$n" "ceir:foreign: each of KE's log indexes once"

kill "$proxy_pid"
kill "$tz_gw"
wait_exit 10 "$tz_gw"
is "$exit_status" 0 "TZ's ceirgw stops cleanly"
kill "$ke_gw"
wait_exit 10 "$ke_gw"
is "$exit_status" 0 "KE's ceirgw stops cleanly"
sanitizer_clean "$TEST_TMP/tz.err"
sanitizer_clean "$TEST_TMP/ke.err"
done_testing
