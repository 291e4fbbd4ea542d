# Witnessing (issue 19, doc/exchange.md): an equivocating Kenya, two ceirgw that share KE's
# signing key and origin but keep two histories, shows one to Tanzania and the other to
# Uganda. TZ and UG follow each other too and read each other's /feed/witness after each good
# poll: both halt KE (another root for the tree they accepted), apply nothing more from it,
# show it in /healthz, the log and ceirgwctl feed status, and halt again when an operator
# resumes Kenya (ceirgwctl feed resume, which shows the two checkpoints) while the conflict
# stands. A witness's cosignature of a checkpoint is made once, and a new checkpoint's anew. Their views of each other stay good. Each with its own redis-server.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/feed_lib.sh"

for c in ka kb tz ug; do
	rport=$(free_port)
	redis_start || { echo "Bail out! redis-server did not start"; exit 1; }
	eval "r_$c=$rport"
	unset rport
	eval "h_$c=$(free_port)"
done
Rp() { "$REDIS_CLI" -p "$@"; }

key() { "$CEIRGWCTL" feed keygen --origin "$1" --out "$TEST_TMP/$2.key" | head -n1; }
vk_ke=$(key ceir.ke/feed ke)
vk_tz=$(key ceir.tz/feed tz)
vk_ug=$(key ceir.ug/feed ug)

# conf NAME HTTP REDIS COUNTRY ORIGIN KEY [ORIGIN URL VKEY COUNTRY]...
conf() {
	local name=$1 http=$2 redis=$3 country=$4 origin=$5 k=$6
	shift 6
	{
		printf '%s\n' "group = ceirgw" "http-listen = 127.0.0.1:$http" "$(admin_line)" \
			"redis = redis://127.0.0.1:$redis" "log-file = $name.log" "country = $country" \
			"default-region = $country" "feed-origin = $origin" "feed-key-file = $k.key" \
			"feed-checkpoint-interval = 1"
		while [ $# -gt 0 ]; do
			printf '%s\n' "" "group = feed-peer" "origin = $1" "url = $2" "key = $3" \
				"country = $4" "poll-interval = 1"
			shift 4
		done
	} >"$TEST_TMP/$name.conf"
}
conf ka "$h_ka" "$r_ka" KE ceir.ke/feed ke
conf kb "$h_kb" "$r_kb" KE ceir.ke/feed ke
conf tz "$h_tz" "$r_tz" TZ ceir.tz/feed tz \
	ceir.ke/feed "http://127.0.0.1:$h_ka/feed" "$vk_ke" KE \
	ceir.ug/feed "http://127.0.0.1:$h_ug/feed" "$vk_ug" UG
conf ug "$h_ug" "$r_ug" UG ceir.ug/feed ug \
	ceir.ke/feed "http://127.0.0.1:$h_kb/feed" "$vk_ke" KE \
	ceir.tz/feed "http://127.0.0.1:$h_tz/feed" "$vk_tz" TZ

# decide REDIS FIRST COUNT: COUNT reports opened and blocked in that Kenya, IMEIs from FIRST.
decide() {
	feed_reports 35693803 "$2" "$3" >"$TEST_TMP/decide"
	{ feed_seed; feed_results blocked <"$TEST_TMP/decide"; } <"$TEST_TMP/decide" |
		Rp "$1" >/dev/null
}

start() {	# start NAME: its ceirgw, up
	"$CEIRGW" -c "$TEST_TMP/$1.conf" 2>>"$TEST_TMP/$1.err" &
	eval "pid_$1=$!"
	test_pids="$test_pids $!"
	wait_for 10 curl -sf "http://127.0.0.1:$(eval echo "\$h_$1")/healthz" ||
		{ echo "Bail out! ceirgw $1 did not start"; exit 1; }
}
health() {	# health NAME KEY: a flat key of its /healthz
	curl -sf "http://127.0.0.1:$(eval echo "\$h_$1")/healthz" |
		python3 -c 'import json, sys; print(json.load(sys.stdin).get(sys.argv[1], ""))' "$2"
}
state_is() { case $(health "$1" "$2") in "$3"*) return 0 ;; *) return 1 ;; esac; }

# Two histories of 300 decisions each, under one key and one origin.
decide "$r_ka" 0 300
decide "$r_kb" 1000 300
for c in ka kb tz ug; do start "$c"; done
ke_size() { curl -sf "http://127.0.0.1:$1/feed/checkpoint" | sed -n 2p; }
ke_size_is() { [ "$(ke_size "$1")" = "$2" ]; }
wait_for 30 ke_size_is "$h_ka" 300 && wait_for 30 ke_size_is "$h_kb" 300
ok $? "both Kenyas signed a tree of 300 entries under the same key"
isnt_same=$([ "$(curl -s "http://127.0.0.1:$h_ka/feed/checkpoint" | sed -n 3p)" != \
	"$(curl -s "http://127.0.0.1:$h_kb/feed/checkpoint" | sed -n 3p)" ] && echo 0 || echo 1)
ok "$isnt_same" "with different roots: an equivocation"

wait_for 60 state_is tz peer_1_state halted
ok $? "Tanzania halts Kenya once it reads Uganda's witness view"
wait_for 60 state_is ug peer_1_state halted
ok $? "Uganda halts Kenya once it reads Tanzania's"
like "$(health tz peer_1_state)" "ceir.ug/feed was shown another root for the tree of 300" \
	"Tanzania says who was shown what ($(health tz peer_1_state))"
like "$(health ug peer_1_state)" "ceir.tz/feed was shown another root for the tree of 300" \
	"and so does Uganda"
is "$(grep -c 'feed-peer ceir.ke/feed (KE): halted' "$TEST_TMP/tz.log")" 1 \
	"the halt is logged once"
like "$(Rp "$r_tz" HGET 'peer:{ceir.ke/feed}' halted)" "equivocation" \
	"the halt is kept in Redis, for every process and the operator"
is "$(health tz peer_2_state)" "ok: tree 0 accepted" "Tanzania's view of Uganda stays good"
is "$(health ug peer_2_state)" "ok: tree 0 accepted" "and Uganda's of Tanzania"
tz_fx=$(Rp "$r_tz" --scan --pattern 'fx:*' | wc -l)
tz_stream=$(Rp "$r_tz" XLEN ceir:foreign)
tz_acc=$(health tz peer_1_accepted)
# Whether Tanzania accepted Kenya-a's 300 before Uganda had seen Kenya-b's depends on which
# polled first (under the sanitizers, both often at once: then it halts before applying).
case $tz_acc in 0 | 300) ok 0 "Tanzania accepted $tz_acc before it knew" ;;
*) ok 1 "Tanzania accepted 0 or 300 before it knew, not $tz_acc" ;; esac
is "$tz_stream" "$tz_acc" "and applied exactly that (ceir:foreign)"

# Nothing more is taken from Kenya while halted.
decide "$r_ka" 300 20
wait_for 30 ke_size_is "$h_ka" 320
ok $? "Kenya-a goes on: a tree of 320"
sleep 3
is "$(health tz peer_1_accepted)" "$tz_acc" "halted, Tanzania takes nothing more from Kenya"
is "$(Rp "$r_tz" XLEN ceir:foreign)" "$tz_stream" "nothing more on its CEIR's foreign stream"
is "$(Rp "$r_tz" --scan --pattern 'fx:*' | wc -l)" "$tz_fx" "nor in its foreign state"

# The operator looks (ceirgwctl feed status), then resumes Kenya while the conflict stands:
# the halt and its evidence are shown and cleared, Kenya is polled again, and halted again
# before anything of it is applied.
ctl() { "$CEIRGWCTL" feed "$1" -c "$TEST_TMP/tz.conf" "${@:2}"; }
like "$(ctl status)" "halted     ceir.ug/feed was shown another root" \
	"feed status shows the halt and its reason"
out=$(ctl resume ceir.ke/feed 2>&1)
ok $? "feed resume clears Tanzania's halt of Kenya"
like "$out" "halted     ceir.ug/feed was shown another root for the tree of 300" \
	"and says why it was halted"
shown=$(printf '%s\n' "$out" | sed -n '/^  shown$/{n;p;n;p;}' | tr -s '\n ' '  ')
other=$(printf '%s\n' "$out" | sed -n '/^  other$/{n;p;n;p;}' | tr -s '\n ' '  ')
is "$shown" " ceir.ke/feed 300 " "with the checkpoint Kenya signed for Tanzania"
is "$other" " ceir.ke/feed 300 " "and the one it signed for Uganda"
ok "$([ "$(printf '%s\n' "$out" | sed -n '/^  shown$/{n;n;n;p;}')" != \
	"$(printf '%s\n' "$out" | sed -n '/^  other$/{n;n;n;p;}')" ] && echo 0 || echo 1)" \
	"two roots for one tree, the equivocation's evidence"
like "$out" "resumed: the next poll (within 1 s) verifies ceir.ke/feed again" \
	"and what happens next"
like "$(grep 'audit: feed resume ceir.ke/feed by user' "$TEST_TMP/tz.log")" \
	"cleared the halt (ceir.ug/feed was shown" "with an audit line in Tanzania's log"
halted_again() { [ -n "$(Rp "$r_tz" HGET 'peer:{ceir.ke/feed}' halted)" ]; }
wait_for 30 halted_again
ok $? "resumed, Tanzania polls Kenya again and halts it again: Uganda's view still conflicts"
like "$(ctl status)" "halted     ceir.ug/feed was shown " "feed status shows it halted again"
is "$(health tz peer_1_accepted)" "$tz_acc" "still nothing of Kenya's 20 new decisions applied"
err=$(ctl resume ceir.ug/feed 2>&1)
is "$?" 1 "feed resume of a peer that is not halted fails"
like "$err" "ceir.ug/feed is not halted: nothing to resume" "and says so"
err=$(ctl resume ceir.xx/feed 2>&1)
is "$?" 2 "feed resume of an origin that is not a feed-peer fails"
like "$err" "'ceir.xx/feed' is not the origin of a feed-peer" "and says so"

# The witness's cosignature is made once per checkpoint: its timestamp is when the checkpoint
# was first served, and a later request gets the same line; a new checkpoint, a new one.
cosig() {	# cosig NAME ORIGIN: the cosignature line NAME's /feed/witness gives ORIGIN's record
	curl -sf "http://127.0.0.1:$(eval echo "\$h_$1")/feed/witness" | python3 -c '
import sys
data, origin, i = sys.stdin.buffer.read(), sys.argv[1].encode(), 0
while i < len(data):
    nl = data.index(b"\n", i)
    n = int(data[i:nl])
    note = data[nl + 1:nl + 1 + n]
    i = nl + 1 + n
    if note.split(b"\n", 1)[0] == origin:
        print(note.rstrip(b"\n").rsplit(b"\n", 1)[1].decode())
' "$2"
}
c1=$(cosig tz ceir.ug/feed)
like "$c1" "— ceir.tz/feed " "Tanzania cosigns Uganda's checkpoint ($c1)"
sleep 1.2
is "$(cosig tz ceir.ug/feed)" "$c1" "a second request, a second later: the same cosignature"
decide "$r_ug" 2000 5
wait_for 30 state_is tz peer_2_state "ok: tree 5 accepted"
ok $? "Uganda signs a new checkpoint, of 5 entries, and Tanzania accepts it"
c2=$(cosig tz ceir.ug/feed)
ok "$([ -n "$c2" ] && [ "$c2" != "$c1" ] && echo 0 || echo 1)" \
	"a new checkpoint, a new cosignature ($c2)"
is "$(cosig tz ceir.ug/feed)" "$c2" "which stays"

for c in ka kb tz ug; do
	kill "$(eval echo "\$pid_$c")"
	wait_exit 10 "$(eval echo "\$pid_$c")"
	is "$exit_status" 0 "ceirgw $c stops cleanly"
	sanitizer_clean "$TEST_TMP/$c.err"
done
done_testing
