# ceirgwctl feed status, verify, export and resume (issue 19): a publishing ceirgw with a few
# hundred CEIR decisions is audited by `feed verify` (the same tree as
# tests/integration/feed_audit.py proves), exported by `feed export` into a folder that
# python3 -m http.server serves and that verifies alike; verify refuses a wrong key, a wrong
# origin, an unreachable URL and altered files, naming what; `feed status` shows the
# publisher's tree and a follower's accepted one; `feed resume` clears a follower's halt; SIGHUP
# adds and removes a follower's feed-peer (a bad group refusing the reload); usage errors are
# status 2, and status and export never go looking for a Redis without a configuration. The
# publisher on one redis-server, or a cluster with CEIRGW_TEST_BACKEND=cluster
# (backend_lib.sh); the follower on a redis-server of its own.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/feed_lib.sh"
. "$(dirname "$0")/backend_lib.sh"

hport=$(free_port)
fport=$(free_port)
sport=$(free_port)
ORIGIN=ceir.test.ke/feed
AUDIT="python3 $top_srcdir/tests/integration/feed_audit.py"
backend_start
# Whatever ceirgwctl writes on standard error where a test does not look (sanitizers).
ctl() { "$CEIRGWCTL" "$@" 2>>"$TEST_TMP/ctl.err"; }

# ---- the key, and a publishing ceirgw ----
vkey=$(ctl feed keygen --origin "$ORIGIN" --out "$TEST_TMP/feed.key" | head -n1)
[[ $vkey =~ ^ceir\.test\.ke/feed\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}$ ]]
ok $? "feed keygen prints the verifier key ($vkey)"
cat >"$TEST_TMP/ceirgw.conf" <<CONF
group = ceirgw
http-listen = 127.0.0.1:$hport
$(admin_line)
$BACKEND_REDIS_CONF
log-file = ceirgw.log
log-level = info
country = KE
feed-origin = $ORIGIN
feed-key-file = feed.key
feed-checkpoint-interval = 1
CONF

# 300 reports in state sent; the CEIR blocks all of them, then unblocks 60: 360 decisions.
N=300
feed_reports 35693803 0 "$N" >"$TEST_TMP/reports"
feed_seed <"$TEST_TMP/reports" | R >/dev/null
checkpoint_size() { curl -sf "http://127.0.0.1:$hport/feed/checkpoint" | sed -n 2p; }
size_is() { [ "$(checkpoint_size)" = "$1" ]; }
gw_start
feed_results blocked <"$TEST_TMP/reports" | R >/dev/null
wait_for 30 size_is 300
head -n 60 "$TEST_TMP/reports" | feed_results unblocked | R >/dev/null
wait_for 30 size_is 360
ok $? "the publisher signs a checkpoint of 360 decisions"
FEED=http://127.0.0.1:$hport/feed

# ---- feed verify against the publisher ----
out=$(ctl feed verify "$FEED" "$vkey" --entries "$TEST_TMP/entries")
ok $? "feed verify verifies the publisher's feed"
sed 's/^/#   /' <<<"$out"
audit=$($AUDIT "$FEED" "$vkey" --entries "$TEST_TMP/audit-entries")
root=${audit#* }
is "$(echo "$out" | sed -n 's/^size //p') $(echo "$out" | sed -n 's/^root //p')" "$audit" \
	"the same size and root as feed_audit.py proves ($audit)"
is "$(echo "$out" | sed -n 1p)" "origin $ORIGIN" "it names the origin"
like "$out" "signature ok ($ORIGIN+${vkey:18:8})" "the signature by the key's name and ID"
like "$out" "entries 360 (blocked 300, unblocked 60; countries KE)" \
	"the entries: 300 blocks and 60 unblocks, all of KE"
like "$out" "bundles 2 checked" "two entry bundles (256 and a partial one of 104)"
like "$out" "tiles 3 checked" "three hash tiles (0/000, 0/001.p/104, 1/000.p/1)"
is "$(echo "$out" | tail -n1)" verified "it ends with verified"
cmp -s "$TEST_TMP/entries" "$TEST_TMP/audit-entries"
ok $? "--entries writes the entries one per line, as feed_audit.py reads them"

# ---- feed status on the publisher ----
out=$(ctl feed status -c "$TEST_TMP/ceirgw.conf")
ok $? "feed status on the publisher succeeds"
sed 's/^/#   /' <<<"$out"
is "$(echo "$out" | sed -n 1p)" "feed $ORIGIN" "a block for the own feed, named by its origin"
like "$out" "  country    KE" "its country"
like "$out" "  published  360" "the published tree's size (the checkpoint's)"
like "$out" "  entries    360" "the entries in the log"
case $out in *PRIVATE* | *"${vkey##*+}"*) ok 1 "no key is printed" ;; *) ok 0 "no key is printed" ;; esac

# ---- feed export, served by python3 -m http.server ----
out=$(ctl feed export -c "$TEST_TMP/ceirgw.conf" "$TEST_TMP/export")
ok $? "feed export succeeds ($out)"
like "$out" "6 files written (checkpoint, 3 hash tiles, 2 entry bundles)" "it says how many files"
is "$(cd "$TEST_TMP/export" && find . -type f | sort | tr '\n' ' ')" \
	"./checkpoint ./tile/0/000 ./tile/0/001.p/104 ./tile/1/000.p/1 ./tile/entries/000 ./tile/entries/001.p/104 " \
	"the tlog-tiles layout, partial tiles at the checkpoint's widths, no temporary file left"
same=0
for f in checkpoint tile/0/000 tile/0/001.p/104 tile/1/000.p/1 tile/entries/000 tile/entries/001.p/104; do
	curl -sf "$FEED/$f" | cmp -s - "$TEST_TMP/export/$f" || { same=1; echo "# $f differs"; }
done
ok $same "each file is byte for byte what ceirgw serves under /feed/"
serve() {	# serve DIR: python3 -m http.server on $sport
	[ -n "${http_pid:-}" ] && { kill "$http_pid"; wait "$http_pid" 2>/dev/null; }
	python3 -m http.server --bind 127.0.0.1 --directory "$1" "$sport" \
		>>"$TEST_TMP/http.log" 2>&1 &
	http_pid=$!
	test_pids="$test_pids $http_pid"
	wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$sport/checkpoint"
}
serve "$TEST_TMP/export"
SERVED=http://127.0.0.1:$sport
out=$(ctl feed verify "$SERVED/" "$vkey")
ok $? "the exported folder, served by python3 -m http.server, verifies"
is "$(echo "$out" | sed -n 's/^root //p')" "$root" "to the same root"

mkdir -p "$TEST_TMP/trap" "$TEST_TMP/outside"
ln -s "$TEST_TMP/outside" "$TEST_TMP/trap/tile"
out=$(ctl feed export -c "$TEST_TMP/ceirgw.conf" "$TEST_TMP/trap" 2>&1)
ok $(($? != 1)) "feed export refuses a folder whose tile is a link elsewhere"
is "$(find "$TEST_TMP/outside" "$TEST_TMP/trap" -type f | wc -l)" 0 \
	"and writes nothing outside it (nor a checkpoint)"

# ---- what verify refuses ----
ctl feed keygen --origin "$ORIGIN" --out "$TEST_TMP/other.key" >"$TEST_TMP/other.pub"
out=$(ctl feed verify "$FEED" "$(head -n1 "$TEST_TMP/other.pub")")
ok $(($? != 1)) "another key of the same name: not verified, status 1"
is "$out" "not verified: checkpoint: not signed by the key" "it says so in one line"
ctl feed keygen --origin ceir.test.ug/feed --out "$TEST_TMP/ug.key" >"$TEST_TMP/ug.pub"
out=$(ctl feed verify "$FEED" "$(head -n1 "$TEST_TMP/ug.pub")")
ok $(($? != 1)) "another feed's key: not verified"

# A checkpoint signed by the right key but naming another log.
cp -r "$TEST_TMP/export" "$TEST_TMP/forged"
python3 - "$TEST_TMP/feed.key" "$TEST_TMP/forged/checkpoint" <<'PY'
import base64, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
_, _, name, keyid, blob = open(sys.argv[1]).read().strip().split("+", 4)
seed = base64.b64decode(blob)[1:]
old = open(sys.argv[2], "rb").read().split(b"\n")
text = b"ceir.test.tz/feed\n" + old[1] + b"\n" + old[2] + b"\n"
sig = bytes.fromhex(keyid) + Ed25519PrivateKey.from_private_bytes(seed).sign(text)
line = "\u2014 %s %s\n" % (name, base64.b64encode(sig).decode())
open(sys.argv[2], "wb").write(text + b"\n" + line.encode())
PY
serve "$TEST_TMP/forged"
out=$(ctl feed verify "$SERVED" "$vkey")
ok $(($? != 1)) "a checkpoint of another origin, though signed by the key: not verified"
is "$out" "not verified: checkpoint: of the log 'ceir.test.tz/feed', not of the key's '$ORIGIN'" \
	"it names both origins"

out=$(ctl feed verify "http://127.0.0.1:$(free_port)/feed" "$vkey")
ok $(($? != 1)) "an unreachable URL: not verified, status 1"
like "$out" "not verified: checkpoint: no answer" "it says the checkpoint got no answer"

flip() {	# flip FILE OFFSET: one byte changed (its lowest bit)
	python3 - "$1" "$2" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[int(sys.argv[2])] ^= 1
open(sys.argv[1], "wb").write(bytes(b))
PY
}
rm -rf "$TEST_TMP/tampered"
cp -r "$TEST_TMP/export" "$TEST_TMP/tampered"
flip "$TEST_TMP/tampered/tile/0/001.p/104" 1000
serve "$TEST_TMP/tampered"
out=$(ctl feed verify "$SERVED" "$vkey")
ok $(($? != 1)) "a byte flipped in a hash tile: not verified"
is "$out" "not verified: tile/0/001.p/104 is not what the entries of bundle 1 hash to (the tile or the bundle was altered)" \
	"it names the tile"
cp "$TEST_TMP/export/tile/0/001.p/104" "$TEST_TMP/tampered/tile/0/001.p/104"
cp "$TEST_TMP/tampered/tile/1/000.p/1" "$TEST_TMP/t1"
flip "$TEST_TMP/tampered/tile/1/000.p/1" 7
out=$(ctl feed verify "$SERVED" "$vkey")
is "$out" "not verified: tile/1/000.p/1 is not what the entries hash to (a tile was altered)" \
	"a byte flipped in a tile of level 1: named"
cp "$TEST_TMP/t1" "$TEST_TMP/tampered/tile/1/000.p/1"
# Entry 0's first IMEI digit: no longer an IMEI (its check digit).
flip "$TEST_TMP/tampered/tile/entries/000" 5
out=$(ctl feed verify "$SERVED" "$vkey")
ok $(($? != 1)) "a byte flipped in an entry bundle: not verified"
is "$out" "not verified: tile/entries/000: entry 0 is not an entry" "it names the bundle and the entry"
cp "$TEST_TMP/export/tile/entries/000" "$TEST_TMP/tampered/tile/entries/000"
# Entry 1's day, in another year: still an entry, but not the one the tree holds.
at=$(python3 - "$TEST_TMP/export/tile/entries/000" <<'PY'
import sys
b = open(sys.argv[1], "rb").read()
len0 = b[0] * 256 + b[1]
start1 = 2 + len0 + 2
len1 = b[2 + len0] * 256 + b[3 + len0]
print(start1 + len1 - 7)	# the year's last digit: YYYY-MM-DD ends the entry
PY
)
flip "$TEST_TMP/tampered/tile/entries/000" "$at"
out=$(ctl feed verify "$SERVED" "$vkey")
is "$out" "not verified: tile/0/000 is not what the entries of bundle 0 hash to (the tile or the bundle was altered)" \
	"a well-formed entry changed: the tile it no longer hashes to is named"
cp "$TEST_TMP/export/tile/entries/000" "$TEST_TMP/tampered/tile/entries/000"
rm "$TEST_TMP/tampered/tile/entries/001.p/104"
out=$(ctl feed verify "$SERVED" "$vkey")
is "$out" "not verified: tile/entries/001.p/104: HTTP 404" "a missing bundle: named, with the HTTP status"

# ---- a follower: its own ceirgw and redis-server, following the publisher ----
fol_rport=$(free_port)
FR() { "$REDIS_CLI" -p "$fol_rport" "$@"; }
"$REDIS_SERVER" --port "$fol_rport" --bind 127.0.0.1 --save '' --appendonly no \
	--dir "$TEST_TMP" --dbfilename follower.rdb >>"$TEST_TMP/redis2.log" 2>&1 &
test_pids="$test_pids $!"
wait_for 10 FR ping || { echo "Bail out! the follower's redis-server did not start"; exit 1; }
cat >"$TEST_TMP/follower.conf" <<CONF
group = ceirgw
http-listen = 127.0.0.1:$fport
$(admin_line)
redis = redis://127.0.0.1:$fol_rport
data-dir = $TEST_TMP/data2
log-file = follower.log
log-level = info
country = UG

group = feed-peer
origin = $ORIGIN
url = $FEED
key = $vkey
country = KE
poll-interval = 1
CONF
url=http://127.0.0.1:$fport gw_start "$TEST_TMP/follower.conf"
follower=$gw
accepted() { ctl feed status -c "$TEST_TMP/follower.conf" | grep -q "state      ok: tree 360 accepted"; }
wait_for 30 accepted
ok $? "the follower's state says the tree of 360 was accepted"
out=$(ctl feed status -c "$TEST_TMP/follower.conf")
sed 's/^/#   /' <<<"$out"
is "$(echo "$out" | sed -n 1p)" "peer $ORIGIN" "feed status shows a block for the peer"
like "$out" "  country    KE" "its country"
like "$out" "  url        $FEED" "its URL"
like "$out" "  accepted   360" "the accepted tree's size"
[[ $out =~ "  polled     "[0-9]{4}-[0-9]{2}-[0-9]{2}" "[0-9:]{8}" UTC" ]]
ok $? "the last poll's time"
case $out in *"halted"*) ok 1 "no halted line while it is not halted" ;; *) ok 0 "no halted line while it is not halted" ;; esac
FR HSET "peer:{$ORIGIN}" halted "two roots signed for the tree of 360 (an equivocation)" >/dev/null
out=$(ctl feed status -c "$TEST_TMP/follower.conf")
like "$out" "  halted     two roots signed for the tree of 360 (an equivocation)" \
	"a halted peer: its reason"

# ---- feed resume: the halt shown and cleared; the next poll finds nothing wrong ----
halted_state() { ctl feed status -c "$TEST_TMP/follower.conf" | grep -q "state      halted: two roots"; }
wait_for 10 halted_state
ok $? "the follower sees the halt at its next poll"
out=$(ctl feed resume -c "$TEST_TMP/follower.conf" "$ORIGIN")
ok $? "feed resume clears the halt"
sed 's/^/#   /' <<<"$out"
like "$out" "  halted     two roots signed for the tree of 360 (an equivocation)" "it says why"
like "$out" "  accepted   360" "and which tree stays accepted"
like "$out" "resumed: the next poll (within 1 s) verifies $ORIGIN again from the accepted tree of 360" \
	"and what happens next"
is "$(FR HEXISTS "peer:{$ORIGIN}" halted)" 0 "the halt is gone from Redis"
wait_for 10 accepted
ok $? "the next poll finds nothing wrong: ok: tree 360 accepted"
out=$(ctl feed status -c "$TEST_TMP/follower.conf")
case $out in *"halted"*) ok 1 "feed status shows no halt after the resume" ;; *) ok 0 "feed status shows no halt after the resume" ;; esac
err=$("$CEIRGWCTL" feed resume -c "$TEST_TMP/follower.conf" "$ORIGIN" 2>&1)
is $? 1 "feed resume of a peer that is not halted: status 1"
like "$err" "$ORIGIN is not halted: nothing to resume" "it says so"
err=$("$CEIRGWCTL" feed resume -c "$TEST_TMP/follower.conf" ceir.test.zz/feed 2>&1)
is $? 2 "feed resume of an origin that is not a feed-peer: status 2"
like "$err" "'ceir.test.zz/feed' is not the origin of a feed-peer in" "it says so"

# ---- SIGHUP: a feed-peer added, then removed, and an invalid group refused ----
health() {	# health KEY: a flat key of the follower's /healthz
	curl -sf "http://127.0.0.1:$fport/healthz" |
		python3 -c 'import json, sys; print(json.load(sys.stdin).get(sys.argv[1], ""))' "$1"
}
reloaded() { [ "$(health reloads)" = "$1" ]; }
vkey_tz=$(ctl feed keygen --origin ceir.test.tz/feed --out "$TEST_TMP/tz.key" | head -n1)
cp "$TEST_TMP/follower.conf" "$TEST_TMP/follower1.conf"
# A second peer: its URL serves Kenya's feed, which its key refuses; polled all the same.
printf '%s\n' "" "group = feed-peer" "origin = ceir.test.tz/feed" "url = $FEED" \
	"key = $vkey_tz" "country = TZ" "poll-interval = 1" >>"$TEST_TMP/follower.conf"
kill -HUP "$follower"
wait_for 10 reloaded 1
polled2() { case $(health peer_2_state) in "" | "not polled yet") return 1 ;; esac; }
wait_for 10 polled2
ok $? "SIGHUP adds a feed-peer, polled at once ($(health peer_2_state))"
is "$(health peer_2_origin)" ceir.test.tz/feed "healthz shows it as the second peer"
like "$(health peer_2_state)" "refused: checkpoint: not signed by the peer's key" \
	"verified by its own key"
is "$(health peer_1_state)" "ok: tree 360 accepted" "the first peer's state is untouched"
grep -q "reload: following the feed of ceir.test.tz/feed (TZ)" "$TEST_TMP/follower.log"
ok $? "the log says the new peer is followed"
# A group changed (its url, now where nobody answers): rebuilt, the other left alone.
cp "$TEST_TMP/follower1.conf" "$TEST_TMP/follower.conf"
printf '%s\n' "" "group = feed-peer" "origin = ceir.test.tz/feed" \
	"url = http://127.0.0.1:$(free_port)/feed" "key = $vkey_tz" "country = TZ" \
	"poll-interval = 1" >>"$TEST_TMP/follower.conf"
kill -HUP "$follower"
wait_for 10 reloaded 2
unanswered() { case $(health peer_2_state) in "refused: checkpoint: no answer"*) return 0 ;; esac; return 1; }
wait_for 10 unanswered
ok $? "SIGHUP with the peer's url changed: polled at the new one ($(health peer_2_state))"
grep -q "reload: changed: the feed of ceir.test.tz/feed (TZ)" "$TEST_TMP/follower.log"
ok $? "the log says it changed"
is "$(health peer_1_state)" "ok: tree 360 accepted" "the first peer is still untouched"
# A group that does not parse: the whole reload is refused, both peers go on.
sed 's/^key = ceir\.test\.tz.*/key = not-a-key/' "$TEST_TMP/follower.conf" >"$TEST_TMP/bad.conf"
cp "$TEST_TMP/bad.conf" "$TEST_TMP/follower.conf"
kill -HUP "$follower"
refused() { grep -qE "reload failed, the running .*stays?: .*ceir.test.tz/feed" "$TEST_TMP/follower.log"; }
wait_for 10 refused
ok $? "a reload with a bad key is refused, and says which peer"
is "$(health reloads)" 2 "no reload counted"
is "$(health peer_2_origin)" ceir.test.tz/feed "the second peer is still followed"
# Removed: no longer polled, its Redis state kept.
cp "$TEST_TMP/follower1.conf" "$TEST_TMP/follower.conf"
kill -HUP "$follower"
wait_for 10 reloaded 3
is "$(health peer_2_origin)" "" "SIGHUP without the group: the peer is gone from healthz"
is "$(health peer_1_state)" "ok: tree 360 accepted" "the first peer goes on"
polled_at=$(FR HGET 'peer:{ceir.test.tz/feed}' polled)
sleep 3
is "$(FR HGET 'peer:{ceir.test.tz/feed}' polled)" "$polled_at" "the removed peer is polled no more"
like "$(FR HGET 'peer:{ceir.test.tz/feed}' state)" "refused: checkpoint: no answer" \
	"its state stays in Redis"
grep -q "reload: no longer following the feed of ceir.test.tz/feed (TZ)" "$TEST_TMP/follower.log"
ok $? "the log says so"

# ---- Redis away: status 1 ----
cat >"$TEST_TMP/away.conf" <<CONF
group = ceirgw
redis = redis://127.0.0.1:$(free_port)
data-dir = $TEST_TMP/data3
country = KE
feed-origin = $ORIGIN
feed-key-file = feed.key
CONF
ctl feed status -c "$TEST_TMP/away.conf" >/dev/null
is $? 1 "feed status when Redis cannot be read: status 1"
ctl feed export -c "$TEST_TMP/away.conf" "$TEST_TMP/away" >/dev/null
is $? 1 "feed export when Redis cannot be read: status 1"

# ---- usage errors and help ----
usage() {	# usage DESCRIPTION ARGS...: status 2
	local what=$1
	shift
	"$CEIRGWCTL" "$@" >/dev/null 2>>"$TEST_TMP/usage.err"
	is $? 2 "usage error, status 2: $what"
}
usage "feed alone" feed
usage "an unknown subcommand" feed frobnicate
usage "verify without KEY" feed verify "$FEED"
usage "verify with a URL that is not http" feed verify "https://example.org/feed" "$vkey"
usage "verify with a malformed key" feed verify "$FEED" "not-a-key"
usage "verify with an unknown option" feed verify --bogus "$FEED" "$vkey"
usage "export without DIR" feed export -c "$TEST_TMP/ceirgw.conf"
usage "status with an operand" feed status -c "$TEST_TMP/ceirgw.conf" extra
usage "status with an unreadable configuration" feed status -c "$TEST_TMP/nonesuch.conf"
usage "resume without ORIGIN" feed resume -c "$TEST_TMP/follower.conf"
for sub in keygen status verify export resume; do
	out=$("$CEIRGWCTL" feed "$sub" --help)
	ok $? "feed $sub --help: status 0"
	like "$out" "Usage: ceirgwctl feed $sub" "feed $sub --help says how to use it"
done
out=$("$CEIRGWCTL" feed --help)
like "$out" "  status -c FILE" "feed --help lists status"
like "$out" "  verify URL KEY" "feed --help lists verify"
like "$out" "  export -c FILE DIR" "feed --help lists export"
like "$out" "  resume -c FILE ORIGIN" "feed --help lists resume"

# ---- no -c: nothing is looked for in /var/lib/ceirgw, no Redis started ----
before=$(ls -la /var/lib/ceirgw 2>&1; pgrep -fc 'redis-server.*/var/lib/ceirgw/redis.sock')
for sub in status export; do
	args=()
	[ "$sub" = export ] && args=("$TEST_TMP/nocfg")
	err=$("$CEIRGWCTL" feed "$sub" "${args[@]}" 2>&1 >/dev/null)
	is $? 2 "feed $sub without -c: status 2"
	like "$err" "needs ceirgw's configuration: -c FILE" "feed $sub without -c says what it needs"
done
is "$(ls -la /var/lib/ceirgw 2>&1; pgrep -fc 'redis-server.*/var/lib/ceirgw/redis.sock')" "$before" \
	"without -c, /var/lib/ceirgw is not made or changed and no Redis is started"
[ ! -e "$TEST_TMP/nocfg" ]
ok $? "and export makes no DIR"

kill "$follower"
wait_exit 10 "$follower"
is "$exit_status" 0 "the follower stops cleanly"
gw_stop
sanitizer_clean
sanitizer_clean "$TEST_TMP/follower.err"
grep -E "Sanitizer|runtime error" "$TEST_TMP/ctl.err" "$TEST_TMP/usage.err" 2>/dev/null | head -n 5 | sed 's/^/# /'
is "$(cat "$TEST_TMP/ctl.err" "$TEST_TMP/usage.err" 2>/dev/null | grep -cE "Sanitizer|runtime error")" 0 \
	"no sanitizer report from ceirgwctl"
done_testing
