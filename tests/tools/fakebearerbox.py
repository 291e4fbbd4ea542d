#!/usr/bin/env python3
"""fakebearerbox: a scriptable fake Kannel bearerbox, for the box protocol tests where the
real bearerbox cannot be made to misbehave on cue (tests/integration/box_protocol.sh).

Python 3 standard library only. As a module:

    import fakebearerbox as fbb
    box = fbb.Box(port)                   # listens on 127.0.0.1:port at once
    box.accept(timeout=10)                # ceirgw connects (as smsbox does)
    m = box.read(timeout=5)               # the next Msg, heartbeats skipped and counted
    box.send(fbb.Msg(fbb.SMS, sms_type=fbb.MO, sender="254712345678", msgdata="CHECK ..."))
    box.send(fbb.ack_of(m))               # ack_success of an MT
    box.send_raw(b"\\xff\\xff\\xff\\xff")     # anything at all
    box.wait_closed(timeout=5)            # True once ceirgw dropped the connection
    box.close()                           # this connection; box.shutdown(): the listener too

The wire format is libgw's (gw/msg.c, gw/msg-decl.h): a frame is the 4-byte big-endian length
of a packed Msg, then the packed Msg: its 4-byte big-endian type, then each field of that type
in msg-decl.h's order. INTEGER: 4 bytes, big-endian, signed. OCTSTR: a 4-byte length (-1 for
none) and its bytes. UUID: an OCTSTR of the 36-character text form. VOID: nothing.

A Msg is a dict of those fields with a .type; fields not given take msg_create's defaults
(INTEGER -1, OCTSTR None, a fresh UUID). OCTSTR values may be given as str (UTF-8) or bytes;
unpacked, they are bytes (m.text("msgdata") decodes one).

Run directly (python3 fakebearerbox.py PORT), it accepts one box, acks every sms it sends and
prints each Msg it receives: a quick look at what a box says.
"""
import socket
import struct
import sys
import time
import uuid

# enum msg_type, and the values of gw/msg.h that the tests use
HEARTBEAT, ADMIN, SMS, ACK, WDP_DATAGRAM = 0, 1, 2, 3, 4
MO, MT_REPLY, MT_PUSH, REPORT_MO, REPORT_MT = 0, 1, 2, 3, 4
ACK_SUCCESS, ACK_FAILED, ACK_FAILED_TMP, ACK_BUFFERED = 0, 1, 2, 3
CMD_SHUTDOWN, CMD_SUSPEND, CMD_RESUME, CMD_IDENTIFY, CMD_RESTART = 0, 1, 2, 3, 4
TYPE_NAMES = {HEARTBEAT: "heartbeat", ADMIN: "admin", SMS: "sms", ACK: "ack"}

_I, _O, _U = "INTEGER", "OCTSTR", "UUID"
FIELDS = {	# msg-decl.h, VOID fields left out (they are not packed)
    HEARTBEAT: [("load", _I)],
    ADMIN: [("command", _I), ("boxc_id", _O)],
    SMS: [("sender", _O), ("receiver", _O), ("udhdata", _O), ("msgdata", _O), ("time", _I),
          ("smsc_id", _O), ("smsc_number", _O), ("foreign_id", _O), ("service", _O),
          ("account", _O), ("id", _U), ("sms_type", _I), ("mclass", _I), ("mwi", _I),
          ("coding", _I), ("compress", _I), ("validity", _I), ("deferred", _I),
          ("dlr_mask", _I), ("dlr_url", _O), ("pid", _I), ("alt_dcs", _I), ("rpi", _I),
          ("charset", _O), ("boxc_id", _O), ("binfo", _O), ("msg_left", _I),
          ("priority", _I), ("resend_try", _I), ("resend_time", _I), ("meta_data", _O)],
    ACK: [("nack", _I), ("time", _I), ("id", _U)],
}


class Msg(dict):
    """One Msg: a dict of its fields (names of msg-decl.h) with a type."""

    def __init__(self, type, **fields):
        super().__init__()
        self.type = type
        for name, kind in FIELDS[type]:
            self[name] = -1 if kind == _I else str(uuid.uuid4()) if kind == _U else None
        for name, value in fields.items():
            if name not in self:
                raise KeyError("%s has no field %s" % (TYPE_NAMES[type], name))
            self[name] = value

    def text(self, name):
        """An OCTSTR field as str (UTF-8; UTF-16BE when the sms's coding is UCS-2), or None."""
        v = self[name]
        if isinstance(v, bytes):
            return v.decode("utf-16-be" if self.get("coding") == 2 else "utf-8", "replace")
        return v

    def pack(self):
        out = [struct.pack(">i", self.type)]
        for name, kind in FIELDS[self.type]:
            v = self[name]
            if kind == _I:
                out.append(struct.pack(">i", v))
            elif v is None:
                out.append(struct.pack(">i", -1))
            else:
                b = v.encode() if isinstance(v, str) else bytes(v)
                out.append(struct.pack(">i", len(b)) + b)
        return b"".join(out)

    def frame(self):
        body = self.pack()
        return struct.pack(">I", len(body)) + body

    @classmethod
    def unpack(cls, body):
        """The Msg of a packed body; ValueError when it is not exactly one well-formed Msg."""
        if len(body) < 4:
            raise ValueError("short Msg")
        t = struct.unpack_from(">i", body)[0]
        if t not in FIELDS:
            raise ValueError("Msg type %d" % t)
        m, off = cls(t), 4
        for name, kind in FIELDS[t]:
            if len(body) - off < 4:
                raise ValueError("Msg cut short at %s" % name)
            n = struct.unpack_from(">i", body, off)[0]
            off += 4
            if kind == _I:
                m[name] = n
                continue
            if n == -1 and kind == _O:
                m[name] = None
                continue
            if n < 0 or n > len(body) - off:
                raise ValueError("bad length %d of %s" % (n, name))
            v = body[off:off + n]
            off += n
            m[name] = v.decode("ascii") if kind == _U else v
        if off != len(body):
            raise ValueError("%d bytes after the Msg" % (len(body) - off))
        return m

    def __repr__(self):
        shown = {k: v for k, v in self.items() if v is not None and v != -1}
        return "%s%r" % (TYPE_NAMES.get(self.type, self.type), shown)


def ack_of(m, nack=ACK_SUCCESS):
    """The ack of an sms Msg, as bearerbox (or a box) writes it."""
    return Msg(ACK, nack=nack, time=int(time.time()), id=m["id"])


class Closed(Exception):
    """The box closed the connection."""


class Box:
    """A listening bearerbox smsbox-port and the one box connected to it."""

    def __init__(self, port, host="127.0.0.1"):
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((host, port))
        self.listener.listen(4)
        self.conn = None
        self.buf = b""
        self.heartbeats = 0	# heartbeats read (and skipped) on this connection

    def accept(self, timeout=10):
        """Waits for the box to connect; True when it did. Drops the previous connection."""
        self.close()
        self.listener.settimeout(timeout)
        try:
            self.conn, _ = self.listener.accept()
        except socket.timeout:
            return False
        self.buf, self.heartbeats = b"", 0
        return True

    def send(self, msg):
        self.send_raw(msg.frame())

    def send_raw(self, data):
        self.conn.sendall(data)

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        self.conn.settimeout(left)
        try:
            data = self.conn.recv(65536)
        except socket.timeout:
            return False
        except ConnectionResetError:
            data = b""
        if not data:
            raise Closed()
        self.buf += data
        return True

    def read(self, timeout=5, heartbeats=False):
        """The next Msg within timeout seconds, or None. Heartbeats are counted and skipped
        unless heartbeats is true. Raises Closed when the box went away, ValueError when it
        sent a frame that is not a Msg."""
        deadline = time.monotonic() + timeout
        while True:
            while len(self.buf) < 4 or len(self.buf) < 4 + struct.unpack(">I", self.buf[:4])[0]:
                if not self._fill(deadline):
                    return None
            n = struct.unpack(">I", self.buf[:4])[0]
            m = Msg.unpack(self.buf[4:4 + n])
            self.buf = self.buf[4 + n:]
            if m.type != HEARTBEAT or heartbeats:
                return m
            self.heartbeats += 1

    def collect(self, seconds, until=None):
        """Every Msg but heartbeats read for seconds, or until until(msgs) is true."""
        deadline, msgs = time.monotonic() + seconds, []
        while not (until and until(msgs)):
            m = self.read(deadline - time.monotonic())
            if m is None:
                break
            msgs.append(m)
        return msgs

    def wait_closed(self, timeout=5):
        """True once the box closed the connection (what it sends meanwhile is dropped)."""
        deadline = time.monotonic() + timeout
        try:
            while self._fill(deadline):
                self.buf = b""
        except Closed:
            return True
        return False

    def close(self):
        if self.conn:
            self.conn.close()
            self.conn = None

    def shutdown(self):
        self.close()
        self.listener.close()


if __name__ == "__main__":
    box = Box(int(sys.argv[1]))
    while box.accept(timeout=3600):
        print("connected", flush=True)
        try:
            while True:
                m = box.read(timeout=3600, heartbeats=True)
                print(m, flush=True)
                if m is not None and m.type == SMS:
                    box.send(ack_of(m))
        except (Closed, ValueError) as e:
            print("closed", e, flush=True)
