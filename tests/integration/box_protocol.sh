# The box protocol's delivery rules (src/channel/box.c), deterministically: a real ceirgw and a
# real Redis, and a fake bearerbox (tests/tools/fakebearerbox.py) that misbehaves on cue. The
# fake's side is the Python script below, run as a coprocess: it prints TAP results ("ok
# DESCRIPTION", "not ok DESCRIPTION", "# diagnostics") and asks this shell for what touches
# processes ("do ACTION": start or kill ceirgw, stop or start Redis, XLEN), one answer line each.
#
# The rules checked: identify then heartbeats; an MO acknowledged only once every part of its
# reply is; an MO offered again (its ack lost, or ceirgw killed before the reply was acked)
# gets its recorded reply and never runs its journey twice; an unacked MT goes again on the
# next connection, and after an ack_failed_tmp; Redis down gives ack_failed_tmp; a delivery
# report is acked; hostile frames drop the connection without a crash.
. "$(dirname "$0")/lib.sh"

hport=$(free_port)
bport=$(free_port)
while [ "$bport" = "$hport" ]; do bport=$(free_port); done
redis_start

pairings_csv "$(phone_row B)" "$(phone_row C)"
kyc_csv "$KYC_OWNER" "$KYC_OWNER2"
gw_conf "redis = redis://127.0.0.1:$rport" debug "bearerbox = 127.0.0.1:$bport" \
	"box-id = ceir-proto" "box-heartbeat = 1"
{ import_pairings && import_kyc; } >/dev/null
ok $? "operator data imported"

gw=
# act ACTION: what the fake bearerbox asks for; prints one line, its answer.
act() {
	case $1 in
	start_gw)
		gw_spawn >>"$TEST_TMP/ceirgw.err"
		echo started ;;
	kill_gw)
		kill -9 "$gw"
		wait "$gw" 2>/dev/null
		echo killed ;;
	gw_alive)
		if kill -0 "$gw" 2>/dev/null; then echo yes; else echo no; fi ;;
	xlen)
		R XLEN ceir:requests ;;
	mo_record\ *)
		# mo_record NUMBER ID: 1 when the MO's record is in the number's language slot
		set -- "${1#mo_record }"
		R EXISTS "s:{lang:+${1% *}}:mo:${1#* }" ;;
	redis_down)
		R SAVE >/dev/null
		R SHUTDOWN NOSAVE >/dev/null 2>&1
		wait "$redis_pid" 2>/dev/null
		echo down ;;
	redis_up)
		redis_start && echo up || echo failed ;;
	*)
		echo "unknown action $1" ;;
	esac
}

cat >"$TEST_TMP/scenarios.py" <<'EOF'
import struct, sys, time, traceback, urllib.request
import fakebearerbox as fbb
from fakebearerbox import SMS, ACK, MO, MT_REPLY, MT_PUSH

port, hport, log, box_id = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
aport = int(sys.argv[5])
OWNER, OWNER2, B, C = "254712345678", "254722000111", "353320000000013", "353322001234567"


def out(line):
    print(line, flush=True)


def check(cond, desc, *diag):
    out("%s %s" % ("ok" if cond else "not ok", desc))
    for d in diag if not cond else ():
        out("#   %s" % (d,))
    return cond


def shell(action):
    out("do " + action)
    return sys.stdin.readline().strip()


def mo(sender, text, sms_type=MO):
    return fbb.Msg(SMS, sms_type=sms_type, sender=sender, receiver="384", msgdata=text,
                   coding=0, smsc_id="fake", time=int(time.time()))


def mts(msgs, sms_type, receiver):
    return [m for m in msgs if m.type == SMS and m["sms_type"] == sms_type and
            m["receiver"] == receiver.encode()]


def acks(msgs, m):
    return [a for a in msgs if a.type == ACK and a["id"] == m["id"]]


def whole(parts):
    """The parts of one text, all there (a UDH 05 00 03 ref total seq, or a single part)."""
    if len(parts) == 1 and not parts[0]["udhdata"]:
        return True
    return len(parts) > 0 and all(p["udhdata"] and len(p["udhdata"]) == 6 and
                                  p["udhdata"][4] == len(parts) for p in parts)


def text(parts):
    return "".join(p.text("msgdata") for p in
                   sorted(parts, key=lambda p: p["udhdata"][5] if p["udhdata"] else 0))


def reply_to(box, m, seconds=15, extra=None):
    """Reads until the reply to MO m is all there (and extra(msgs) holds); returns
    (reply parts, every Msg read)."""
    who = m.text("sender")
    msgs = box.collect(seconds, until=lambda ms: whole(mts(ms, MT_REPLY, who)) and
                       (extra is None or extra(ms)))
    return mts(msgs, MT_REPLY, who), msgs


def ack_all(box, parts, nack=fbb.ACK_SUCCESS):
    for p in parts:
        box.send(fbb.ack_of(p, nack))


def mo_ack(box, m, seconds=5):
    msgs = box.collect(seconds, until=lambda ms: acks(ms, m))
    a = acks(msgs, m)
    return (a[0]["nack"] if a else None), msgs


def identify(box, what):
    # Another test's ceirgw, run beside this one, may probe a port that happens to be ours
    # (its bearerbox is down on purpose) and close at once: such a connection, which is not
    # our box's (no cmd_identify with our box id), is dropped and the next one taken.
    deadline = time.monotonic() + 10
    while True:
        try:
            first = box.read(max(deadline - time.monotonic(), 0.1), heartbeats=True)
        except fbb.Closed:
            first = None
        if (first is not None and first.type == fbb.ADMIN and
                first["command"] == fbb.CMD_IDENTIFY and first["boxc_id"] == box_id.encode()):
            break
        left = deadline - time.monotonic()
        if left <= 0:
            break
        print("# a connection that is not our box's (%r): dropped, waiting for ours" % (first,))
        if not box.accept(left):
            break
    check(first is not None and first.type == fbb.ADMIN and
          first["command"] == fbb.CMD_IDENTIFY, what, "got %r" % (first,))
    return first


def scenarios():
    box = fbb.Box(port)
    shell("start_gw")

    # 1. identify, then heartbeats
    check(box.accept(15), "ceirgw connects to the fake bearerbox")
    first = identify(box, "its first Msg is an admin cmd_identify")
    check(first is not None and first["boxc_id"] == box_id.encode(),
          "... with boxc_id = box-id", "got %r" % (first,))
    second = box.read(5, heartbeats=True)
    check(second is not None and second.type == fbb.HEARTBEAT, "then a heartbeat",
          "got %r" % (second,))
    box.heartbeats = 0
    other = box.collect(3)
    check(box.heartbeats >= 2 and not other,
          "heartbeats keep coming at box-heartbeat = 1 (%d in 3 s)" % box.heartbeats,
          "other Msgs: %r" % (other,))

    # 2. an MO acked only once every part of its reply is
    m1 = mo(OWNER, "STOLEN %s 5926" % B)
    box.send(m1)
    parts, msgs = reply_to(box, m1, extra=lambda ms: whole(mts(ms, MT_PUSH, "+" + OWNER)))
    receipt = mts(msgs, MT_PUSH, "+" + OWNER)
    check(whole(parts) and text(parts).startswith("CEIR: report received. Reference"),
          "STOLEN: the reply MT (mt_reply) with the reference", "got %r" % (msgs,))
    check(all(p["sender"] == b"384" and p["smsc_id"] == b"fake" and p["coding"] == 0
              for p in parts) and parts,
          "... from 384, to the MO's sender, smsc_id of the MO, coding 0", "%r" % (parts,))
    check(whole(receipt) and "PIN" in text(receipt),
          "... and the receipt (mt_push to +%s) with the PIN" % OWNER, "%r" % (receipt,))
    check(receipt and all(r["sender"] == b"384" and r["smsc_id"] is None for r in receipt),
          "... from 384, no smsc_id (box-smsc-id unset)", "%r" % (receipt,))
    msgs += box.collect(1)
    check(not acks(msgs, m1), "no ack of the MO in 1 s while its MTs wait for our acks",
          "%r" % acks(msgs, m1))
    ack_all(box, receipt)
    later = box.collect(0.5)
    check(not acks(later, m1), "... nor once only the receipt is acked", "%r" % (later,))
    ack_all(box, parts)
    nack, later = mo_ack(box, m1)
    check(nack == 0, "the reply acked: the MO ack arrives (nack 0)", "got %r" % (later,))

    # 3. the MO ack lost: offered again on a new connection, acked, no MT
    box.close()
    t0 = time.monotonic()
    check(box.accept(10), "connection dropped after the MO ack: ceirgw connects again "
          "(%.1f s)" % (time.monotonic() - t0))
    identify(box, "... identifying itself first")
    box.send(m1)
    nack, msgs = mo_ack(box, m1)
    check(nack == 0, "the same MO (same id) again: acked (nack 0)", "got %r" % (msgs,))
    msgs += box.collect(2)
    sent = [m for m in msgs if m.type == SMS]
    check(not sent, "... and no MT at all within 2 s", "got %r" % (sent,))
    x = shell("xlen")
    check(x == "1", "... XLEN ceir:requests is still 1", "got %s" % x)

    # 9. a delivery report: ack_success, no MT
    dlr = mo(OWNER, "id:1 sub:001 dlvrd:001 stat:DELIVRD", sms_type=fbb.REPORT_MO)
    box.send(dlr)
    nack, msgs = mo_ack(box, dlr)
    msgs += box.collect(1)
    check(nack == 0, "an sms of type report_mo (a DLR): ack_success", "got %r" % (msgs,))
    check(not [m for m in msgs if m.type == SMS], "... and no MT", "got %r" % (msgs,))

    # 6. ack_failed_tmp on an MT: sent again after about 5 s
    m6 = mo("254733000306", "CHECK " + B)
    box.send(m6)
    parts, msgs = reply_to(box, m6)
    check(whole(parts), "CHECK: the reply MT", "got %r" % (msgs,))
    ack_all(box, parts, fbb.ACK_FAILED_TMP)
    t0 = time.monotonic()
    ids = set(p["id"] for p in parts)
    again = box.collect(10, until=lambda ms: ids <= set(m["id"] for m in ms if m.type == SMS))
    dt = time.monotonic() - t0
    resent = [m for m in again if m.type == SMS and m["id"] in ids]
    check(len(resent) == len(parts) and 4 <= dt <= 8,
          "ack_failed_tmp on the MT: the same MT (same id) again after %.1f s" % dt,
          "got %r" % (again,))
    check(not acks(again, m6), "... the MO not acked meanwhile", "got %r" % (again,))
    ack_all(box, resent)
    nack, later = mo_ack(box, m6)
    check(nack == 0, "... acked this time: the MO ack arrives", "got %r" % (later,))

    # 5. MT not acked, connection dropped, ceirgw not restarted: the MT goes again unasked
    m5 = mo("254733000305", "CHECK " + B)
    box.send(m5)
    parts, msgs = reply_to(box, m5)
    check(whole(parts), "CHECK: the reply MT, held unacked; the connection dropped",
          "got %r" % (msgs,))
    box.close()
    check(box.accept(10), "... ceirgw connects again")
    identify(box, "... identifying itself first")
    ids = set(p["id"] for p in parts)
    again = box.collect(5, until=lambda ms: ids <= set(m["id"] for m in ms if m.type == SMS))
    resent = [m for m in again if m.type == SMS and m["id"] in ids]
    check(len(resent) == len(parts) and text(resent) == text(parts),
          "... and sends the same MT (same id, same text) without being asked",
          "got %r" % (again,))
    box.send(m5)	# bearerbox offers its unacked MO again too
    ack_all(box, resent)
    nack, later = mo_ack(box, m5)
    later += box.collect(0.5)
    check(nack == 0 and not [m for m in later if m.type == SMS],
          "... the MO offered again, the MT acked: the MO ack, no other MT", "got %r" % (later,))

    # 4. reply recorded, not delivered, ceirgw killed and started again
    m4 = mo("254733000222", "CHECK " + B)
    m4s = mo(OWNER2, "STOLEN %s 6543" % C)
    box.send(m4)
    box.send(m4s)
    parts, msgs = reply_to(box, m4, extra=lambda ms: whole(mts(ms, MT_REPLY, OWNER2)) and
                           whole(mts(ms, MT_PUSH, "+" + OWNER2)))
    parts_s = mts(msgs, MT_REPLY, OWNER2)
    receipt4 = mts(msgs, MT_PUSH, "+" + OWNER2)
    check(whole(parts) and "SGH-W110" in text(parts), "CHECK from another number: the reply",
          "got %r" % (msgs,))
    check(whole(parts_s) and text(parts_s).startswith("CEIR: report received. Reference") and
          whole(mts(msgs, MT_PUSH, "+" + OWNER2)),
          "STOLEN from a second owner: the reply and its receipt", "got %r" % (msgs,))
    x = shell("xlen")
    check(x == "2", "... XLEN ceir:requests is 2", "got %s" % x)
    shell("kill_gw")
    check(box.wait_closed(5), "replies unacked, ceirgw killed (-9)")
    shell("start_gw")
    check(box.accept(15), "... and started again: it connects")
    identify(box, "... identifying itself first")
    box.send(m4)
    box.send(m4s)
    again, msgs = reply_to(box, m4, extra=lambda ms: whole(mts(ms, MT_REPLY, OWNER2)))
    again_s = mts(msgs, MT_REPLY, OWNER2)
    check(whole(again) and text(again) == text(parts),
          "the CHECK MO offered again: the same reply text (from the Redis record)",
          "first: %r" % text(parts), "again: %r" % (msgs,))
    check(whole(again_s) and text(again_s) == text(parts_s),
          "the STOLEN MO offered again: the same reply text",
          "first: %r" % text(parts_s), "again: %r" % (msgs,))
    ack_all(box, again + again_s)
    acked = box.collect(5, until=lambda ms: acks(ms, m4) and acks(ms, m4s))
    acked += box.collect(1)
    check([a["nack"] for a in acks(acked, m4) + acks(acked, m4s)] == [0, 0],
          "... acked: both MO acks arrive (nack 0)", "got %r" % (acked,))
    more = [m for m in msgs + acked if m.type == SMS and m["sms_type"] == MT_REPLY and
            m not in again + again_s]
    check(not more, "... and no other reply: one reply per MO id", "got %r" % (more,))
    # The receipt waits in the Redis outbox until bearerbox has it: the restarted ceirgw
    # (same host and HTTP port, the same consumer) sends it again at once.
    seen = msgs + acked
    if not whole(mts(seen, MT_PUSH, "+" + OWNER2)):
        seen += box.collect(5, until=lambda ms: whole(mts(ms, MT_PUSH, "+" + OWNER2)))
    pushes = mts(seen, MT_PUSH, "+" + OWNER2)
    check(whole(pushes) and text(pushes) == text(receipt4),
          "the receipt unacked when ceirgw was killed is sent again, the same PIN",
          "first: %r" % text(receipt4), "again: %r" % (pushes,))
    ack_all(box, pushes)
    seen = box.collect(2)
    check(not mts(seen, MT_PUSH, "+" + OWNER2), "... once acked, not again", "got %r" % (seen,))
    x = shell("xlen")
    check(x == "2", "... XLEN ceir:requests still 2: the journey did not run again",
          "got %s" % x)
    # The record the restarted ceirgw answered from: in the number's language slot, read
    # with the language in one command (issue 21).
    x = shell("mo_record %s %s" % (OWNER2, m4s["id"].replace("-", "")))
    check(x == "1", "... the STOLEN MO's record is s:{lang:<number>}:mo:<id>", "got %s" % x)

    # 7. Redis down: ack_failed_tmp after about 1 s, no MT; answered once Redis is back
    shell("redis_down")
    m7 = mo("254733000307", "CHECK " + B)
    t0 = time.monotonic()
    box.send(m7)
    nack, msgs = mo_ack(box, m7, 10)
    dt = time.monotonic() - t0
    msgs += box.collect(0.5)
    check(nack == fbb.ACK_FAILED_TMP and 0.8 <= dt <= 3,
          "Redis down: the MO gets ack_failed_tmp (nack 2) after %.1f s" % dt,
          "got %r" % (msgs,))
    check(not [m for m in msgs if m.type == SMS], "... and no MT", "got %r" % (msgs,))
    check(shell("redis_up") == "up", "Redis started again from its dump")
    deadline, replies, tries, who = time.monotonic() + 20, [], 0, m7.text("sender")
    while not replies and time.monotonic() < deadline:
        box.send(m7)	# bearerbox offers it again until it is taken
        tries += 1
        msgs = box.collect(5, until=lambda ms: acks(ms, m7) or whole(mts(ms, MT_REPLY, who)))
        if whole(mts(msgs, MT_REPLY, who)):
            replies = mts(msgs, MT_REPLY, who)
    ack_all(box, replies)
    nack, later = mo_ack(box, m7)
    check(whole(replies) and "SGH-W110" in text(replies) and nack == 0,
          "... the MO offered again is answered (try %d) and acked" % tries,
          "got %r" % (msgs + later,))

    # 8. hostile frames
    body = mo(OWNER, "CHECK " + B).pack()
    garbage = body[:4] + struct.pack(">i", -2) + body[8 + len(OWNER):]
    for what, data in (("a frame announcing -1 bytes", b"\xff\xff\xff\xff"),
                       ("a frame announcing 2 GB", struct.pack(">I", 0x80000000)),
                       ("an sms whose sender has the length -2",
                        struct.pack(">I", len(garbage)) + garbage)):
        box.send_raw(data)
        check(box.wait_closed(5), what + ": ceirgw drops the connection")
        check(box.accept(10), "... and connects again")
        identify(box, "... identifying itself first")
    with open(log, errors="replace") as f:
        logged = f.read()
    check(logged.count("sent a frame over 65536 bytes") == 2,
          "the two oversized frames are logged", "%d" % logged.count("frame over"))
    check("sent a frame that is not a Msg" in logged, "the garbage frame is logged")
    check(shell("gw_alive") == "yes", "ceirgw is still running")
    try:
        health = urllib.request.urlopen("http://127.0.0.1:%d/healthz" % hport, timeout=5)
        health = health.read().decode()
    except Exception as e:
        health = repr(e)
    check('"bearerbox":"connected"' in health, "its /healthz answers: connected", health)
    try:
        metrics = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % aport, timeout=5)
        metrics = metrics.read().decode()
    except Exception as e:
        metrics = repr(e)
    check("\nceirgw_box_connected 1\n" in metrics, "its /metrics: ceirgw_box_connected 1",
          metrics[:300])
    m8 = mo("254733000308", "CHECK " + B)
    box.send(m8)
    parts, msgs = reply_to(box, m8)
    ack_all(box, parts)
    nack, later = mo_ack(box, m8)
    check(whole(parts) and nack == 0, "an MO is still answered and acked", "%r" % (msgs + later,))

    # 9. a USSD dial the engine can never take (70 inputs, over its 64): ack_failed, so that
    # bearerbox drops it rather than offering it for ever; no MT
    m9 = mo("254733000309", "*384*" + "1*" * 70 + "1#")
    m9["meta_data"] = b"?smpp?ussd_service_op=%01&its_session_info=%00%09&"
    box.send(m9)
    nack, msgs = mo_ack(box, m9, 5)
    check(nack == fbb.ACK_FAILED, "a USSD dial of 71 inputs: ack_failed (nack 1), dropped",
          "got %r, %r" % (nack, msgs))
    check(not [m for m in msgs if m.type == SMS], "... and no MT", "got %r" % (msgs,))
    box.shutdown()


try:
    scenarios()
except Exception:
    check(False, "the fake bearerbox's scenarios ran to their end",
          *traceback.format_exc().splitlines())
EOF

coproc FBB { PYTHONPATH="$top_srcdir/tests/tools" /usr/bin/python3 -u "$TEST_TMP/scenarios.py" \
	"$bport" "$hport" "$TEST_TMP/ceirgw.log" ceir-proto "$aport" 2>"$TEST_TMP/fbb.err"; }
# shellcheck disable=SC2153 # (FBB_PID: bash sets it, coproc FBB)
fbb_pid=$FBB_PID
test_pids="$test_pids $fbb_pid"
# Copies: bash closes FBB's descriptors when the coprocess exits.
exec {fbb_out}<&"${FBB[0]}" {fbb_in}>&"${FBB[1]}"
while IFS= read -r line <&"$fbb_out"; do
	case $line in
	"do "*) act "${line#do }" >&"$fbb_in" ;;
	"ok "*) ok 0 "${line#ok }" ;;
	"not ok "*) ok 1 "${line#not ok }"; failed=1 ;;
	*) echo "$line" ;;
	esac
done
wait "$fbb_pid"
ok $? "the fake bearerbox exited cleanly"
[ -s "$TEST_TMP/fbb.err" ] && sed 's/^/# /' "$TEST_TMP/fbb.err"
# A scenario failed: what ceirgw said of its connections meanwhile, for the reader of the log.
if [ -n "${failed:-}" ]; then
	echo "# ceirgw's last lines on the box connection:"
	grep -E "box:|ERROR|FATAL" "$TEST_TMP/ceirgw.log" | tail -n 20 | sed 's/^/#   /'
	tail -n 20 "$TEST_TMP/ceirgw.err" 2>/dev/null | sed 's/^/#   err: /'
fi

# What /metrics counted of the box since ceirgw last started (scenarios 7 to 9), the fake
# bearerbox gone.
metric() { curl -s "http://127.0.0.1:$aport/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }
box_down() { [ "$(metric ceirgw_box_connected)" = 0 ]; }
wait_for 10 box_down
ok $? "/metrics: ceirgw_box_connected 0 once bearerbox is gone"
[ "$(metric 'ceirgw_requests_total{channel="box_sms",result="ok"}')" -gt 0 ] 2>/dev/null
ok $? "/metrics: SMS MOs answered (box_sms ok)"
is "$(metric 'ceirgw_requests_total{channel="box_ussd",result="refused"}')" 1 \
	"/metrics: the USSD dial no journey can take, refused (ack_failed)"
[ "$(metric 'ceirgw_box_mo_total{state="received"}')" -gt 0 ] 2>/dev/null
ok $? "/metrics: ceirgw_box_mo_total counts the MOs received"

grep -q "254712345678\|254722000111" "$TEST_TMP/ceirgw.log"
ok $((!$?)) "no full MSISDN in the log"
sanitizer_clean

done_testing
