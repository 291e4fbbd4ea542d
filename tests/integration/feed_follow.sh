# Three countries on one machine (issue 19): KE, TZ and UG each publish their decisions as a
# signed feed and follow the other two (src/channel/peers.c). A burst of blocks in KE reaches
# TZ and UG, each decision once on their CEIR's foreign stream (also across a restart and with
# two ceirgw processes on TZ's Redis), with the foreign state per IMEI in Redis; unblocks and
# TZ's own blocks travel alike; a misconfigured, forged or silent peer is refused and said
# why, and recovers when it is right again. TZ's Redis is the back-end of backend_lib.sh (one
# redis-server, or a cluster with CEIRGW_TEST_BACKEND=cluster); KE and UG have one each.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/backend_lib.sh"
. "$(dirname "$0")/journey_lib.sh"
. "$(dirname "$0")/feed_lib.sh"

PY=/usr/bin/python3
ke_h=$(free_port)
tz_h=$(free_port)
tz2_h=$(free_port)
ug_h=$(free_port)
KE_O=ceir.test.ke/feed
TZ_O=ceir.test.tz/feed
UG_O=ceir.test.ug/feed

backend_start		# TZ's
redis_own ke
redis_own ug
RK() { "$REDIS_CLI" -p "$ke_rport" "$@"; }
RT() { R "$@"; }
RU() { "$REDIS_CLI" -p "$ug_rport" "$@"; }

# ---- the keys: each country's signing key, and the verifier key lines its neighbours use ----
ke_v=$("$CEIRGWCTL" feed keygen --origin "$KE_O" --out "$TEST_TMP/ke.key" | head -n1)
tz_v=$("$CEIRGWCTL" feed keygen --origin "$TZ_O" --out "$TEST_TMP/tz.key" | head -n1)
ug_v=$("$CEIRGWCTL" feed keygen --origin "$UG_O" --out "$TEST_TMP/ug.key" | head -n1)
# A key of the same name that is not TZ's: what a forger would sign with.
tz_forged=$("$CEIRGWCTL" feed keygen --origin "$TZ_O" --out "$TEST_TMP/forged.key" | head -n1)

# peer ORIGIN HTTP-PORT KEY COUNTRY: a feed-peer group
peer() {
	printf '%s\n' "" "group = feed-peer" "origin = $1" "url = http://127.0.0.1:$2/feed" \
		"key = $3" "country = $4" "poll-interval = 1"
}
# conf NAME HTTP-PORT REDIS-LINE COUNTRY ORIGIN [PEER-LINES]: $TEST_TMP/NAME.conf
conf() {
	{
		printf '%s\n' "group = ceirgw" "http-listen = 127.0.0.1:$2" "$(admin_line)" "$3" \
			"log-file = $1.log" "log-level = info" "country = $4" \
			"feed-origin = $5" "feed-key-file = ${1:0:2}.key" \
			"feed-checkpoint-interval = 1"
		[ -z "${6:-}" ] || printf '%s\n' "$6"
	} >"$TEST_TMP/$1.conf"
}
ke_peers="$(peer "$TZ_O" "$tz_h" "$tz_v" TZ)
$(peer "$UG_O" "$ug_h" "$ug_v" UG)"
tz_peers="$(peer "$KE_O" "$ke_h" "$ke_v" KE)
$(peer "$UG_O" "$ug_h" "$ug_v" UG)"
ug_peers="$(peer "$KE_O" "$ke_h" "$ke_v" KE)
$(peer "$TZ_O" "$tz_h" "$tz_v" TZ)"
conf ke "$ke_h" "redis = redis://127.0.0.1:$ke_rport" KE "$KE_O" "$ke_peers"
conf tz "$tz_h" "$BACKEND_REDIS_CONF" TZ "$TZ_O" "$tz_peers"
conf tz2 "$tz2_h" "$BACKEND_REDIS_CONF" TZ "$TZ_O" "$tz_peers"
conf ug "$ug_h" "redis = redis://127.0.0.1:$ug_rport" UG "$UG_O" "$ug_peers"

start() {	# start NAME PORT: ceirgw of NAME.conf; sets NAME_gw
	url=http://127.0.0.1:$2 gw_start "$TEST_TMP/$1.conf"
	printf -v "${1}_gw" %s "$gw"
}
stop() {	# stop NAME: SIGTERM, and a TAP line
	local pid_var=${1}_gw
	kill "${!pid_var}"
	wait_exit 10 "${!pid_var}"
	is "$exit_status" 0 "ceirgw of $1 stops cleanly"
}
# hz PORT KEY: a key of ceirgw's /healthz
hz() {
	curl -s "http://127.0.0.1:$1/healthz" |
		$PY -c 'import json, sys; print(json.load(sys.stdin).get(sys.argv[1], ""))' "$2"
}
hz_is() { [ "$(hz "$1" "$2")" = "$3" ]; }
hz_like() { case $(hz "$1" "$2") in *"$3"*) return 0 ;; esac; return 1; }
fsize() { curl -sf "http://127.0.0.1:$1/feed/checkpoint" | sed -n 2p; }
fsize_is() { [ "$(fsize "$1")" = "$2" ]; }
now_ms() { date +%s%3N; }

# ---- reports a CEIR will decide on: "IMEI REF REASON" lines (feed_lib.sh) ----
reports() { feed_reports "$@"; }
seed() { feed_seed; }
results() { feed_results "$1"; }

# fx_check COUNTRY STATUS DAYS-AGO < REPORTS, on the Redis backend_python connects to: each
# IMEI's foreign record for COUNTRY read from fx:{bucket} (src/store/pairs.h): "blocked"
# wants COUNTRY with the report's reason ('S' stolen, 'L' lost) and today's day, "gone" wants
# no record of COUNTRY. Prints the IMEIs that differ, one a line, with what was found.
fx_check() {
	backend_python - "$@" <<'EOF'
import datetime, sys
import ceirgw_test_backend as backend
country, want = sys.argv[1].encode(), sys.argv[2]
today = (datetime.datetime.now(datetime.timezone.utc).date() - datetime.date(2000, 1, 1)).days
r = backend.connect()
for line in sys.stdin:
    imei, _, reason = line.split()
    body = int(imei[:14])
    q = body // 10000
    key = "fx:{%04d}" % (body % 10000)
    # A field per IMEI and country: the IMEI's field, then the two letters; 3 bytes.
    field = q.to_bytes(max(1, (q.bit_length() + 7) // 8), "big") + country
    v = r.hget(key, field)
    if v is not None and len(v) != 3:
        print(imei, "a value of", len(v), "bytes")
    elif want == "gone":
        if v is not None:
            print(imei, "still", v)
    elif v is None or (v[:1], int.from_bytes(v[1:3], "big")) != \
            (b"S" if reason == "stolen" else b"L", today):
        print(imei, "has", v)
EOF
}
fx_check_at() {	# fx_check_at REDIS-PORT ARGS...: fx_check on another country's Redis
	local port=$1
	shift
	CEIRGW_TEST_REDIS=redis://127.0.0.1:$port fx_check "$@"
}

# foreign_stream: the foreign stream as "origin index imei country status reason day" lines
foreign_stream() {
	backend_python - "$@" <<'EOF'
import sys
import ceirgw_test_backend as backend
r = backend.connect(decode_responses=True)
for _, f in r.xrange("ceir:foreign"):
    print(f["origin"], f["index"], f["imei"], f["country"], f["status"], f["reason"], f["day"])
EOF
}
foreign_stream_at() {
	local port=$1
	shift
	CEIRGW_TEST_REDIS=redis://127.0.0.1:$port foreign_stream "$@"
}

today=$(date -u +%F)
reports 35693803 0 300 >"$TEST_TMP/ke1"
reports 35693803 300 100 >"$TEST_TMP/ke2"
reports 35209900 0 20 >"$TEST_TMP/tz1"
seed <"$TEST_TMP/ke1" | RK >/dev/null
seed <"$TEST_TMP/ke2" | RK >/dev/null
seed <"$TEST_TMP/tz1" | RT >/dev/null

# ---- three countries up, their feeds empty ----
start ke "$ke_h"
start tz "$tz_h"
start ug "$ug_h"
wait_for 15 hz_is "$tz_h" peer_1_state "ok: tree 0 accepted"
ok $? "TZ follows KE's empty feed ($(hz "$tz_h" peer_1_state))"
wait_for 15 hz_is "$ug_h" peer_2_state "ok: tree 0 accepted"
ok $? "UG follows TZ's empty feed ($(hz "$ug_h" peer_2_state))"
is "$(hz "$ke_h" peer_1_origin) $(hz "$ke_h" peer_2_origin)" "$TZ_O $UG_O" \
	"KE's /healthz names the two feeds it follows"

# ---- a burst of blocks in KE reaches TZ and UG ----
t0=$(now_ms)
results blocked <"$TEST_TMP/ke1" | RK >/dev/null
wait_for 60 hz_is "$tz_h" peer_1_accepted 300
ok $? "300 blocks in KE: TZ accepts KE's tree of 300"
t_tz=$(($(now_ms) - t0))
wait_for 60 hz_is "$ug_h" peer_1_accepted 300
ok $? "and UG does"
t_ug=$(($(now_ms) - t0))
echo "# 300 blocks from KE's results to the neighbours' accepted tree: TZ ${t_tz} ms," \
	"UG ${t_ug} ms (poll 1 s, checkpoint 1 s)"
is "$(hz "$tz_h" peer_1_state)" "ok: tree 300 accepted" "TZ's /healthz says so"
is "$(RT HGET "peer:{$KE_O}" state)" "ok: tree 300 accepted" \
	"and so does peer:{$KE_O} in TZ's Redis"
is "$(hz "$tz_h" peer_1_applied)" 300 "TZ applied 300 decisions"
is "$(fx_check KE blocked <"$TEST_TMP/ke1" | head -n 5)" "" \
	"TZ's fx state holds each IMEI as blocked by KE, its reason and today's day"
is "$(fx_check_at "$ug_rport" KE blocked <"$TEST_TMP/ke1" | head -n 5)" "" "so does UG's"
foreign_stream >"$TEST_TMP/tz.fs"
is "$(wc -l <"$TEST_TMP/tz.fs")" 300 "TZ's ceir:foreign holds 300 entries"
is "$(cut -d' ' -f1,2 "$TEST_TMP/tz.fs" | sort -u | wc -l)" 300 "each of KE's log indexes once"
is "$(cut -d' ' -f3- "$TEST_TMP/tz.fs" | sort)" \
	"$(awk -v d="$today" '{print $1, "KE blocked", $3, d}' "$TEST_TMP/ke1" | sort)" \
	"each block once: IMEI, KE, blocked, the reason, the day"
is "$(head -n1 "$TEST_TMP/tz.fs" | cut -d' ' -f1,2)" "$KE_O 0" \
	"an entry names KE's log and the decision's index in it"
is "$(grep -c "feed-peer $KE_O (KE): ok: tree 300 accepted" "$TEST_TMP/tz.log")" 1 \
	"TZ logs the tree accepted once"
# What TZ keeps of KE's log at 300, for later: a ceirgw killed after applying a chunk and
# before keeping the tree it accepted (peers.c's order) leaves this behind.
peer_dump() {
	backend_python - "$1" "peer:{$KE_O}" "$TEST_TMP/peer300" <<'EOF2'
import sys
import ceirgw_test_backend as backend
op, key, path = sys.argv[1:]
r = backend.connect()
if op == "dump":
    open(path, "wb").write(r.dump(key))
else:
    r.restore(key, 0, open(path, "rb").read(), replace=True)
EOF2
}
peer_dump dump

# ---- TZ killed while catching up, restarted, then two ceirgw on TZ's Redis ----
kill -9 "$tz_gw"
wait "$tz_gw" 2>/dev/null
results blocked <"$TEST_TMP/ke2" | RK >/dev/null
wait_for 30 fsize_is "$ke_h" 400
ok $? "100 blocks more in KE while TZ is down: KE's tree of 400"
start tz "$tz_h"
start tz2 "$tz2_h"
wait_for 60 hz_is "$tz_h" peer_1_state "ok: tree 400 accepted"
ok $? "TZ, restarted, accepts the tree of 400 ($(hz "$tz_h" peer_1_state))"
is "$(RT HGET "peer:{$KE_O}" state)" "ok: tree 400 accepted" "TZ's Redis says so for both ceirgw"
# The second process, when the other holds the poll's lock, shows what the other found.
wait_for 10 hz_is "$tz2_h" peer_1_state "ok: tree 400 accepted"
ok $? "the second ceirgw's /healthz shows the shared state ($(hz "$tz2_h" peer_1_state))"
foreign_stream >"$TEST_TMP/tz.fs"
is "$(wc -l <"$TEST_TMP/tz.fs")" 400 "TZ's ceir:foreign holds 400 entries"
is "$(cut -d' ' -f1,2 "$TEST_TMP/tz.fs" | sort -u | wc -l)" 400 "each of KE's decisions once"
is "$(cat "$TEST_TMP/ke1" "$TEST_TMP/ke2" | fx_check KE blocked | head -n 5)" "" \
	"TZ's fx state holds the 400 blocks"
# One poll per peer per interval between the two: each poll that ran records when it ran
# (HSET peer:{...} polled) as it ends, so a MONITOR of TZ's Redis counts them.
mon_port=$(backend_port_of_key "peer:{$KE_O}")
timeout 6 "$REDIS_CLI" -p "$mon_port" MONITOR >"$TEST_TMP/monitor" 2>/dev/null
polls=$(grep -c "\"HSET\" \"peer:{$KE_O}\" \"polled\"" "$TEST_TMP/monitor")
tries=$(grep -c "\"SET\" \"peer:{$KE_O}:poll\"" "$TEST_TMP/monitor")
echo "# in 6 s, two ceirgw on TZ's Redis tried to poll KE $tries times and polled $polls times"
# Two processes polling each on their own would poll about 12 times; the lock (held while a
# poll runs, then for the rest of the interval) lets one in a second.
ok $((polls < 1 || polls > 8)) \
	"the two ceirgw poll KE's feed at most once an interval between them ($polls)"
ok $((tries < polls * 3 / 2)) "and both try ($tries tries)"

# Both killed as if between applying 300..399 and keeping the tree of 400: TZ's Redis says
# 300 again; the next ceirgw applies the 100 again, and puts none of them twice.
kill -9 "$tz_gw" "$tz2_gw"
wait "$tz_gw" "$tz2_gw" 2>/dev/null
peer_dump restore
is "$(RT HGET "peer:{$KE_O}" size)" 300 "TZ killed with KE's tree of 300 kept, 400 applied"
start tz "$tz_h"
wait_for 30 hz_is "$tz_h" peer_1_state "ok: tree 400 accepted"
ok $? "TZ restarted accepts the tree of 400 again ($(hz "$tz_h" peer_1_state))"
is "$(hz "$tz_h" peer_1_applied)" 100 "it applied the 100 decisions again"
foreign_stream >"$TEST_TMP/tz.fs"
is "$(wc -l <"$TEST_TMP/tz.fs")" 400 "TZ's ceir:foreign still holds 400 entries: none twice"
is "$(cat "$TEST_TMP/ke1" "$TEST_TMP/ke2" | fx_check KE blocked | head -n 5)" "" \
	"TZ's fx state holds the 400 blocks, as before"

# ---- an unblock in KE clears it in TZ and UG ----
head -n 10 "$TEST_TMP/ke1" >"$TEST_TMP/ke_un"
results unblocked <"$TEST_TMP/ke_un" | RK >/dev/null
wait_for 30 hz_is "$tz_h" peer_1_accepted 410
ok $? "10 unblocks in KE: TZ accepts the tree of 410"
wait_for 30 hz_is "$ug_h" peer_1_accepted 410
ok $? "and UG does"
is "$(fx_check KE gone <"$TEST_TMP/ke_un")" "" "the unblocked IMEIs have no KE record in TZ"
is "$(fx_check_at "$ug_rport" KE gone <"$TEST_TMP/ke_un")" "" "nor in UG"
is "$(sed 1,10d "$TEST_TMP/ke1" | cat - "$TEST_TMP/ke2" | fx_check KE blocked | head -n 5)" "" \
	"the other 390 stay blocked in TZ"
foreign_stream >"$TEST_TMP/tz.fs"
is "$(grep -c " KE unblocked recovered $today\$" "$TEST_TMP/tz.fs")" 10 \
	"TZ's ceir:foreign has each unblock once"
is "$(wc -l <"$TEST_TMP/tz.fs")" 410 "and nothing else new"
foreign_stream_at "$ug_rport" >"$TEST_TMP/ug.fs"
is "$(grep -c " KE unblocked recovered $today\$" "$TEST_TMP/ug.fs")" 10 \
	"UG's ceir:foreign has each unblock once"

# ---- TZ's decisions reach KE and UG ----
results blocked <"$TEST_TMP/tz1" | RT >/dev/null
wait_for 30 hz_is "$ke_h" peer_1_accepted 20
ok $? "20 blocks in TZ: KE accepts TZ's tree of 20"
wait_for 30 hz_is "$ug_h" peer_2_accepted 20
ok $? "and UG does"
is "$(fx_check_at "$ke_rport" TZ blocked <"$TEST_TMP/tz1" | head -n 5)" "" \
	"KE's fx state holds TZ's blocks"
is "$(fx_check_at "$ug_rport" TZ blocked <"$TEST_TMP/tz1" | head -n 5)" "" "so does UG's"
foreign_stream_at "$ke_rport" >"$TEST_TMP/ke.fs"
is "$(cut -d' ' -f1,3- "$TEST_TMP/ke.fs" | sort)" \
	"$(awk -v o="$TZ_O" -v d="$today" '{print o, $1, "TZ blocked", $3, d}' "$TEST_TMP/tz1" | sort)" \
	"KE's ceir:foreign has each of TZ's blocks once"

# A buyer in TZ checking a KE-blocked IMEI by USSD (the check's shortcut: the IMEI dialled
# with the code) hears where and when, with the phone's name (TAC 35693803: data/tacdb.csv).
read -r b_imei _ b_reason < <(sed -n 11p "$TEST_TMP/ke1")
want="END $(render en "check.foreign_$b_reason" phone="Nokia N900" \
	country="$(render en country.ke)" date="$today")"
is "$(url=http://127.0.0.1:$tz_h ussd fb1 +255712345678 "$b_imei")" "$want" \
	"a buyer in TZ hears that KE blocked the IMEI"

# ---- what UG refuses: a peer of another country, a forged key, silence ----
tz_more() {	# tz_more FIRST COUNT: that many more blocks in TZ, its tree waited for
	reports 35209900 "$1" "$2" >"$TEST_TMP/tzm"
	seed <"$TEST_TMP/tzm" | RT >/dev/null
	results blocked <"$TEST_TMP/tzm" | RT >/dev/null
	cat "$TEST_TMP/tzm" >>"$TEST_TMP/tz_all"
	wait_for 30 fsize_is "$tz_h" $(($(wc -l <"$TEST_TMP/tz_all")))
}
cp "$TEST_TMP/tz1" "$TEST_TMP/tz_all"
stop ug
ug_fs=$(RU XLEN ceir:foreign)
conf ug "$ug_h" "redis = redis://127.0.0.1:$ug_rport" UG "$UG_O" \
	"$(peer "$KE_O" "$ke_h" "$ke_v" KE)
$(peer "$TZ_O" "$tz_h" "$tz_v" KE)"
start ug "$ug_h"
tz_more 20 5
ok $? "5 blocks more in TZ: its tree of 25"
want="refused: entry 20 is a decision of TZ, not of KE"
wait_for 15 hz_is "$ug_h" peer_2_state "$want"
ok $? "UG, told TZ's feed is KE's, refuses it: $(hz "$ug_h" peer_2_state)"
is "$(RU HGET "peer:{$TZ_O}" state)" "$want" "peer:{$TZ_O} in UG's Redis says so"
sleep 2
is "$(grep -c "feed-peer $TZ_O (KE): $want" "$TEST_TMP/ug.log")" 1 "UG logs it once"
is "$(hz "$ug_h" peer_2_accepted)" 20 "UG keeps TZ's tree of 20"
is "$(RU XLEN ceir:foreign)" "$ug_fs" "nothing more on UG's ceir:foreign"

stop ug
conf ug "$ug_h" "redis = redis://127.0.0.1:$ug_rport" UG "$UG_O" \
	"$(peer "$KE_O" "$ke_h" "$ke_v" KE)
$(peer "$TZ_O" "$tz_h" "$tz_forged" TZ)"
start ug "$ug_h"
want="refused: checkpoint: not signed by the peer's key"
wait_for 15 hz_is "$ug_h" peer_2_state "$want"
ok $? "UG, given another key of TZ's name, refuses TZ's checkpoint: $(hz "$ug_h" peer_2_state)"
sleep 2
is "$(grep -c "feed-peer $TZ_O (TZ): $want" "$TEST_TMP/ug.log")" 1 "UG logs it once"
is "$(hz "$ug_h" peer_2_accepted)" 20 "UG keeps TZ's tree of 20"

stop ug
conf ug "$ug_h" "redis = redis://127.0.0.1:$ug_rport" UG "$UG_O" "$ug_peers"
stop tz
ug_mark=$(wc -l <"$TEST_TMP/ug.log")
start ug "$ug_h"
wait_for 15 hz_like "$ug_h" peer_2_state "no answer"
ok $? "TZ stopped: UG refuses, no answer ($(hz "$ug_h" peer_2_state))"
like "$(RU HGET "peer:{$TZ_O}" state)" "refused: checkpoint: no answer" "its Redis says so"
sleep 2
is "$(sed "1,${ug_mark}d" "$TEST_TMP/ug.log" |
	grep -c "feed-peer $TZ_O (TZ): refused: checkpoint: no answer")" 1 \
	"UG logs it once"
is "$(hz "$ug_h" peer_1_state)" "ok: tree 410 accepted" "UG still follows KE meanwhile"
start tz "$tz_h"
wait_for 30 hz_is "$ug_h" peer_2_state "ok: tree 25 accepted"
ok $? "TZ back: UG catches up to its tree of 25 ($(hz "$ug_h" peer_2_state))"
is "$(fx_check_at "$ug_rport" TZ blocked <"$TEST_TMP/tz_all" | head -n 5)" "" \
	"UG's fx state holds TZ's 25 blocks"
foreign_stream_at "$ug_rport" >"$TEST_TMP/ug.fs"
is "$(grep -c " TZ blocked " "$TEST_TMP/ug.fs")" 25 "UG's ceir:foreign has each of them once"
is "$(wc -l <"$TEST_TMP/ug.fs")" 435 "and KE's 410 once"

stop ug
stop tz
stop ke
sanitizer_clean "$TEST_TMP/ke.err"
sanitizer_clean "$TEST_TMP/tz.err"
sanitizer_clean "$TEST_TMP/tz2.err"
sanitizer_clean "$TEST_TMP/ug.err"
done_testing
