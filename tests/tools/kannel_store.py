#!/usr/bin/env python3
"""What a killed bearerbox will replay from its store file, against its access log.

Usage: kannel_store.py STORE ACCESS_LOG

bearerbox (store-type = file) appends every message it takes (an MO from the SMSC, an MT
from a box) and every ack of one to its store file, and replays on restart each message
without an ack. Two kinds of replay are Kannel's own and not a box's doing:

- an MT that went out to the SMSC (the access log says "Sent SMS" with its id) whose ack
  bearerbox had not written before it died goes out a second time after the restart;
- an MO bearerbox had stored but not yet written to the access log is offered to the box
  after the restart, and answered, although the access log never said "Receive SMS".

The access log must carry the message id (access-log-format with [id:%I]). Prints three
numbers: MTs sent before the kill that will go out again, those of them addressed to "+"
numbers (notifications rather than replies), MOs the access log never showed, and the
messages the store holds without an ack.

The store is read as bearerbox reads it (gw/bb_store_file.c): STORE, else STORE.new, else
STORE.bak; each record a 4-byte length and a packed Msg (gw/msg.c: a type, then the fields
of gw/msg-decl.h: INTEGER as 4 bytes, OCTSTR as a 4-byte length, -1 for none, and the
bytes; UUID as the 36-character text).
"""
import re
import struct
import sys

SMS, ACK = 2, 3
MO = 0

# gw/msg-decl.h, the sms message: O octet string, I integer, U uuid, V nothing.
SMS_FIELDS = ("O sender", "O receiver", "O udhdata", "O msgdata", "I time", "O smsc_id",
              "O smsc_number", "O foreign_id", "O service", "O account", "U id",
              "I sms_type", "I mclass", "I mwi", "I coding", "I compress", "I validity",
              "I deferred", "I dlr_mask", "O dlr_url", "I pid", "I alt_dcs", "I rpi",
              "O charset", "O boxc_id", "O binfo", "I msg_left", "V split_parts",
              "I priority", "I resend_try", "I resend_time", "O meta_data")
ACK_FIELDS = ("I nack", "I time", "U id")


def unpack(rec):
    off = 0

    def integer():
        nonlocal off
        (v,) = struct.unpack_from(">i", rec, off)
        off += 4
        return v

    def octstr():
        nonlocal off
        n = integer()
        if n < 0:
            return None
        v = rec[off:off + n]
        if len(v) != n:
            raise ValueError("short octet string")
        off += n
        return v

    kind = integer()
    fields = {"type": kind}
    spec = SMS_FIELDS if kind == SMS else ACK_FIELDS if kind == ACK else ()
    for f in spec:
        t, name = f.split()
        if t == "I":
            fields[name] = integer()
        elif t in "OU":
            v = octstr()
            fields[name] = v.decode("latin-1") if (t == "U" and v is not None) else v
    return fields


def load(path):
    for name in (path, path + ".new", path + ".bak"):
        try:
            with open(name, "rb") as f:
                return f.read()
        except FileNotFoundError:
            continue
    return b""


def main():
    data = load(sys.argv[1])
    pending = {}
    off = 0
    while off + 4 <= len(data):
        (n,) = struct.unpack_from(">I", data, off)
        rec = data[off + 4:off + 4 + n]
        off += 4 + n
        if len(rec) != n:
            break  # the kill cut the last record: bearerbox skips it too
        try:
            m = unpack(rec)
        except (ValueError, struct.error):
            continue
        if m["type"] == SMS:
            pending[m["id"]] = m
        elif m["type"] == ACK:
            pending.pop(m["id"], None)

    sent, received = set(), set()
    with open(sys.argv[2], encoding="latin-1") as f:
        for line in f:
            mid = re.search(r"\[id:([0-9a-f-]{36})\]", line)
            if not mid:
                continue
            if "Sent SMS" in line:
                sent.add(mid.group(1))
            elif "Receive SMS" in line:
                received.add(mid.group(1))

    again = again_plus = unlogged = 0
    for mid, m in pending.items():
        if m["sms_type"] == MO:
            unlogged += mid not in received
        elif mid in sent:
            again += 1
            again_plus += (m["receiver"] or b"").startswith(b"+")
    print(again, again_plus, unlogged, len(pending))


if __name__ == "__main__":
    main()
