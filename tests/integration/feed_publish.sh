# The country's feed (issue 19): each CEIR decision (a block, an unblock) is appended to the
# log once, also when results repeat, when ceirgw is killed while handling them and when two
# ceirgw processes share the work; the checkpoint is signed, and what /feed/ serves is
# audited by tests/integration/feed_audit.py, an independent reading of the specifications
# (Python's hashlib and cryptography, not ceirgw's C). On one redis-server, or a cluster with
# CEIRGW_TEST_BACKEND=cluster (backend_lib.sh).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/backend_lib.sh"
. "$(dirname "$0")/feed_lib.sh"

hport=$(free_port)
hport2=$(free_port)
backend_start
ORIGIN=ceir.test.ke/feed
AUDIT="python3 $top_srcdir/tests/integration/feed_audit.py"

# ---- the key ----
vkey=$("$CEIRGWCTL" feed keygen --origin "$ORIGIN" --out "$TEST_TMP/feed.key" | head -n1)
[[ $vkey =~ ^ceir\.test\.ke/feed\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}$ ]]
ok $? "feed keygen prints the verifier key line ($vkey)"
is "$(stat -c %a "$TEST_TMP/feed.key")" 600 "the signing key is written with mode 0600"
"$CEIRGWCTL" feed keygen --origin "$ORIGIN" --out "$TEST_TMP/feed.key" >/dev/null 2>&1
isnt_zero=$?
ok $((isnt_zero == 0)) "feed keygen does not overwrite a key"

conf() {	# conf FILE PORT [LINE...]: a ceirgw publishing the feed, a checkpoint a second
	local file=$1 port=$2
	shift 2
	{
		printf '%s\n' "group = ceirgw" "http-listen = 127.0.0.1:$port" "$(admin_line)" "$BACKEND_REDIS_CONF" \
			"log-file = ${file%.conf}.log" "log-level = info" "country = KE" \
			"feed-origin = $ORIGIN" "feed-key-file = feed.key" \
			"feed-checkpoint-interval = 1"
		[ $# -eq 0 ] || printf '%s\n' "$@"
	} >"$file"
}
conf "$TEST_TMP/ceirgw.conf" "$hport"
conf "$TEST_TMP/two.conf" "$hport2"

# ---- a key anyone may read is refused ----
cp "$TEST_TMP/feed.key" "$TEST_TMP/open.key"
chmod 644 "$TEST_TMP/open.key"
conf "$TEST_TMP/open.conf" "$hport" "feed-key-file = open.key"
sed -i '/^feed-key-file = feed.key$/d' "$TEST_TMP/open.conf"
timeout 10 "$CEIRGW" -c "$TEST_TMP/open.conf" >"$TEST_TMP/open.out" 2>&1
ok $(($? == 0)) "ceirgw refuses to start with a signing key others may read"
like "$(cat "$TEST_TMP/open.out")" "open.key: mode 0644" "and says which file and its mode"

# ---- reports the CEIR will decide on: N in state sent, each with its reference ----
N=600
feed_reports 35693803 0 "$N" >"$TEST_TMP/reports"
feed_seed <"$TEST_TMP/reports" | R >/dev/null
is "$(R EXISTS "rep:{$(head -n1 "$TEST_TMP/reports" | cut -d' ' -f1)}")" 1 "$N reports seeded"

checkpoint_size() { curl -sf "http://127.0.0.1:$hport/feed/checkpoint" | sed -n 2p; }
size_is() { [ "$(checkpoint_size)" = "$1" ]; }

# ---- an empty log is published too ----
gw_start
wait_for 10 size_is 0
ok $? "an empty log gets a signed checkpoint of size 0"
out=$($AUDIT "http://127.0.0.1:$hport/feed" "$vkey")
is "$out" "0 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" \
	"the audit verifies it: the root of no entries is SHA-256 of nothing"
is "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$hport/feed/tile/0/000")" 404 \
	"a tile of an empty log is a 404"

# ---- the first half: blocks, each posted twice ----
head -n 300 "$TEST_TMP/reports" | sed 'p' | feed_results blocked | R >/dev/null
wait_for 30 size_is 300
ok $? "300 blocks, each result posted twice: a checkpoint of 300 entries"
out=$($AUDIT "http://127.0.0.1:$hport/feed" "$vkey" --entries "$TEST_TMP/e1")
ok $? "the audit verifies the signature, every tile and bundle and the root ($out)"
old=$(echo "$out" | tr ' ' ':')
is "$(sort -u "$TEST_TMP/e1" | wc -l)" 300 "each decision is in the log once"
expect=$(head -n 300 "$TEST_TMP/reports" | awk -v d="$(date -u +%F)" \
	'{print "KE", $1, "blocked", $3, d}' | sort)
is "$(sort "$TEST_TMP/e1")" "$expect" \
	"the entries are country, IMEI, blocked, the report's reason and the day, nothing else"

# ---- the rest while ceirgw is killed half-way, then a second ceirgw shares the work ----
tail -n 300 "$TEST_TMP/reports" | feed_results blocked | R >/dev/null
sleep 0.05
kill -9 "$gw"
wait "$gw" 2>/dev/null
# What the killed ceirgw was given and did not acknowledge, as if it had waited a minute: the
# next one takes it over at once (results.c).
R XPENDING ceir:results ceirgw - + 1000 | awk 'NR % 4 == 1' >"$TEST_TMP/ids"
echo "# $(wc -l <"$TEST_TMP/ids") results left pending by the killed ceirgw"
# shellcheck disable=SC2086 # $ids: entry ids
xargs -r -n 200 <"$TEST_TMP/ids" | while read -r ids; do
	R XCLAIM ceir:results ceirgw gone-host-1 0 $ids IDLE 120000 JUSTID >/dev/null
done
gw_start
gw1=$gw
gw_start "$TEST_TMP/two.conf"
gw2=$gw
head -n 100 "$TEST_TMP/reports" | feed_results unblocked | R >/dev/null
wait_for 60 size_is 700
ok $? "600 blocks and 100 unblocks: 700 entries, though ceirgw was killed handling them"
out=$($AUDIT "http://127.0.0.1:$hport2/feed" "$vkey" --entries "$TEST_TMP/e2" --old "$old")
ok $? "the second ceirgw serves the same log; it extends the 300 audited before ($out)"
is "$(sort -u "$TEST_TMP/e2" | wc -l)" 700 "no decision twice"
is "$(grep -c ' unblocked recovered ' "$TEST_TMP/e2")" 100 "an unblock is 'unblocked recovered'"
is "$(head -n 300 "$TEST_TMP/e2")" "$(cat "$TEST_TMP/e1")" "the first 300 entries never changed"
is "$(R LLEN feed:{feed}:entries)" 700 "Redis holds 700 entries"

# ---- what the reader refuses ----
code() { curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$hport$1"; }
is "$(code /feed/tile/0/003)" 404 "a tile past the tree is a 404"
is "$(code /feed/tile/0/002.p/189)" 404 "a partial tile wider than the log has is a 404"
is "$(code /feed/tile/0/002.p/188)" 200 "the right edge's partial tile is served"
is "$(code /feed/tile/0/2)" 404 "a tile index not written as the spec says is a 404"
is "$(code /feed/tile/entries/x000/002)" 404 "a non-canonical index is a 404"
is "$(code /feed/tile/entries/002.p/0)" 404 "a partial bundle of width 0 is a 404"
is "$(curl -s --path-as-is -o /dev/null -w "%{http_code}" "http://127.0.0.1:$hport/feed/../healthz")" 404 "no path escapes /feed/"
is "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$hport/feed/checkpoint")" \
	405 "only GET"
like "$(curl -sI "http://127.0.0.1:$hport/feed/tile/0/000")" "immutable" \
	"a full tile may be cached for good"
kill "$gw1" "$gw2"
wait_exit 10 "$gw1"
is "$exit_status" 0 "the first ceirgw stops cleanly"
wait_exit 10 "$gw2"
is "$exit_status" 0 "the second ceirgw stops cleanly"
sanitizer_clean
sanitizer_clean "$TEST_TMP/two.err"
done_testing
