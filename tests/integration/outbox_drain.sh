# The outbox after a crash: 5,000 receipts pending for this ceirgw's own consumer (read from
# the stream and never acknowledged, as a killed ceirgw leaves them) are all sent, each
# once, within 60 s of a restart, and the pending list ends empty. Then a kill -9 in the
# middle of a second backlog: after the restart every receipt arrives, and at most the
# window the outbox states (doc/redis-keys.md) is sent twice. On one redis-server, or a
# cluster with CEIRGW_TEST_BACKEND=cluster (backend_lib.sh).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/backend_lib.sh"

hport=$(free_port)
sport=$(free_port)
OUTBOX=ceirgw:outbox-http
CONSUMER=$(hostname | cut -c1-63)-$hport	# as outbox.c names it: host and HTTP port
N=5000

backend_start

# smsbox's sendsms, faked: one line per request with the text it carried, then 202 as
# Kannel answers.
sendsms_start "$sport" "$TEST_TMP/sent" text

gw_conf "$BACKEND_REDIS_CONF" info "sendsms-url = http://127.0.0.1:$sport/cgi-bin/sendsms"

# backlog FROM TO: receipts FROM..TO added to the outbox and read by ceirgw's consumer
# without an acknowledgement: what a ceirgw killed after reading them leaves pending.
backlog() {
	seq "$1" "$2" | awk -v s="$OUTBOX" '{ print "XADD " s " * to +254712345678 text receipt-" $1 }' |
		R >/dev/null
	R XREADGROUP GROUP ceirgw "$CONSUMER" COUNT 100000 STREAMS "$OUTBOX" '>' >/dev/null
}
pending() { R XPENDING "$OUTBOX" ceirgw | head -1; }
pending_is() { [ "$(pending)" = "$1" ]; }
sent() { wc -l <"$TEST_TMP/sent"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

R XGROUP CREATE "$OUTBOX" ceirgw 0 MKSTREAM >/dev/null
backlog 1 "$N"
is "$(pending)" "$N" "$N receipts pending for ceirgw's consumer"

t0=$(now)
gw_spawn
wait_for 60 sh -c "[ \$(wc -l <'$TEST_TMP/sent') -ge $N ]"
ok $? "all $N sent within 60 s of the start"
t=$(since "$t0")
echo "# $N receipts in $t s ($(awk -v n="$N" -v t="$t" 'BEGIN { printf "%d", n / t }')/s, ceirgw's start included)"
wait_for 10 pending_is 0
ok $? "the pending list ends empty"
wait_for 10 r_is 0 XLEN "$OUTBOX"
ok $? "and the stream too (delivered entries are deleted)"
sleep 0.5
is "$(sent)" "$N" "nothing more was sent"
is "$(sort "$TEST_TMP/sent" | uniq | wc -l)" "$N" "each receipt once"

# ---- a kill -9 in the middle of a backlog -----------------------------------------------
kill -9 "$gw"
{ wait "$gw"; } 2>/dev/null
: >"$TEST_TMP/sent"
backlog 1 "$N"
gw_spawn
wait_for 60 sh -c "[ \$(wc -l <'$TEST_TMP/sent') -ge $((N / 3)) ]"
kill -9 "$gw"
{ wait "$gw"; } 2>/dev/null
echo "# killed with $(sent) sent, $(pending) pending"
gw_spawn
wait_for 60 sh -c "[ \$(sort -u '$TEST_TMP/sent' | wc -l) -ge $N ]"
ok $? "after a kill -9 and a restart, every receipt arrives"
wait_for 10 pending_is 0
ok $? "the pending list ends empty"
twice=$(sort "$TEST_TMP/sent" | uniq -d | wc -l)
echo "# sent twice: $twice"
[ "$twice" -le 2 ]
ok $? "at most the stated window is sent twice (sendsms: the request in progress, and its XACK)"
kill -0 "$gw" 2>/dev/null
ok $? "ceirgw is running"
gw_stop
sanitizer_clean
done_testing
