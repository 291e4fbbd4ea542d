#!/usr/bin/python3
"""A tampering proxy in front of a ceirgw feed (issue 19), for tests/integration/feed_tamper.sh:
a follower reads the feed through it, and the test switches what it does to the answers. The
feed is C2SP tlog-tiles (checkpoint, hash tiles, entry bundles) with a C2SP signed-note
checkpoint (Ed25519); the trees it makes up are RFC 9162's, computed here in Python (the way
tests/integration/feed_audit.py reads them), apart from ceirgw's C.

  feed_proxy.py PORT UPSTREAM_BASE KEY_FILE

PORT: where it listens (127.0.0.1); UPSTREAM_BASE: the feed it fronts (http://H:P/feed);
KEY_FILE: the feed's signing key (ceirgwctl feed keygen's file, "PRIVATE+KEY+<name>+<id>+
<base64(0x01 || seed)>"), for the histories it forges. It serves /feed/... and:

  GET /__mode?m=NAME   switches to mode NAME (answers 200 "NAME", 400 for an unknown one)
  GET /__stats         requests served per kind since the last switch, as JSON

Modes (each applies from the next request on):
  pass               forwards as is; every checkpoint seen is kept (for rollback and
                     equivocate-size)
  flip-bundle        the last entry of each entry bundle names another IMEI (a digit changed,
                     its check digit made valid again): still an entry, not the one signed
  flip-bundle-format the last entry of each bundle no longer parses (a digit made a letter)
  flip-tile          the last byte of each hash tile changed
  fork               another history signed with the feed's key: the upstream's entries with
                     the first one replaced, its tiles and bundles served consistently
  fork-tail          the same with the second half of the history replaced: other IMEIs
  other-key          the upstream's checkpoint signed by another key of the same name
  other-key-id       the same, its signature line claiming the feed's key id
  rollback           the oldest checkpoint kept that is smaller than the newest kept
  equivocate-size    for the size of the newest checkpoint kept, another root, signed with the
                     feed's key (another last entry)
  truncate           every answer announces more bytes than it sends, then the connection closes
  truncate-bundle    the same for entry bundles only
  huge               the checkpoint: Content-Length 1 GiB, zeros streamed until the client
                     hangs up (never buffered)
  huge-bundle        the same for entry bundles
  huge-stream        the checkpoint: zeros with no Content-Length, until the client hangs up
"""
import base64
import hashlib
import json
import os
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

TILE = 256
HUGE = 1 << 30
MODES = ("pass", "flip-bundle", "flip-bundle-format", "flip-tile", "fork", "fork-tail",
         "other-key", "other-key-id", "rollback", "equivocate-size", "truncate",
         "truncate-bundle", "huge", "huge-bundle", "huge-stream")


# ---- RFC 9162 and tlog-tiles: the auditor's reading (tests/integration/feed_audit.py) ----

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                "integration"))
from feed_audit import leaf_hash, mth, tile_index  # noqa: E402 (found once the path is set)


def luhn(digits):
    s = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if i % 2 == 0:
            d *= 2
            d -= 9 if d > 9 else 0
        s += d
    return str((10 - s % 10) % 10)


def other_imei(entry):
    """The entry with its IMEI's last serial digit changed and the check digit valid again."""
    f = entry.split(b" ")
    body = f[1][:14].decode()
    body = body[:13] + str((int(body[13]) + 1) % 10)
    f[1] = (body + luhn(body)).encode()
    return b" ".join(f)


def parse_tile_path(rest):
    """'tile/<L>/<N>[.p/<W>]' -> (level or -1 for entries, n, w)."""
    parts = rest.split("/")
    if len(parts) < 3 or parts[0] != "tile":
        return None
    level = -1 if parts[1] == "entries" else int(parts[1])
    idx = parts[2:]
    w = TILE
    if len(idx) >= 2 and idx[-2].endswith(".p"):
        w = int(idx[-1])
        idx = idx[:-2] + [idx[-2][:-2]]
    return level, int("".join(g.lstrip("x") for g in idx)), w


class Tree:
    """A log of entries: its levels of tile hashes (tree level 8t at tile level t)."""

    def __init__(self, entries):
        self.entries = entries
        self.levels = [[leaf_hash(e) for e in entries]]
        while len(self.levels[-1]) >= TILE:
            h = self.levels[-1]
            self.levels.append([mth(h[j * TILE:(j + 1) * TILE]) for j in range(len(h) // TILE)])
        self.root = mth(self.levels[0])

    def tile(self, level, n, w):
        if level == -1:
            es = self.entries[n * TILE:n * TILE + w]
            if len(es) != w:
                return None
            return b"".join(len(e).to_bytes(2, "big") + e for e in es)
        if level >= len(self.levels):
            return None
        hs = self.levels[level][n * TILE:n * TILE + w]
        return b"".join(hs) if len(hs) == w else None


# ---- signed notes -----------------------------------------------------------------------

class Signer:
    def __init__(self, name, seed, keyid=None):
        self.name = name
        self.key = Ed25519PrivateKey.from_private_bytes(seed)
        pub = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.keyid = keyid or hashlib.sha256(name.encode() + b"\n\x01" + pub).digest()[:4]

    def sign(self, text):
        sig = self.key.sign(text)
        return (text + b"\n" + "\u2014 ".encode() + self.name.encode() + b" " +
                base64.b64encode(self.keyid + sig) + b"\n")


def read_key(path):
    with open(path) as f:
        _, _, name, keyid, b64 = f.read().strip().split("+", 4)	# base64 has '+' too
    raw = base64.b64decode(b64)
    return Signer(name, raw[1:], bytes.fromhex(keyid))


def checkpoint_text(origin, size, root):
    return ("%s\n%d\n%s\n" % (origin, size, base64.b64encode(root).decode())).encode()


def note_fields(note):
    text = note[:note.index(b"\n\n") + 1]
    lines = text.decode().split("\n")
    return text, lines[0], int(lines[1])


# ---- the proxy ----------------------------------------------------------------------------

class State:
    def __init__(self, upstream, signer):
        self.lock = threading.Lock()
        self.upstream = upstream
        self.signer = signer
        self.mode = "pass"
        self.seen = []		# checkpoints passed on: (size, note)
        self.forged = None	# (Tree, note) of fork and equivocate-size, made once per switch
        self.stats = {}

    def count(self, what):
        with self.lock:
            self.stats[what] = self.stats.get(what, 0) + 1


def fetch(url):
    """(status, body) of a GET upstream; 502 when it does not answer."""
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except Exception:  # noqa: BLE001 (an upstream that does not answer: a 502)
        return 502, b"upstream does not answer\n"


def upstream_entries(st, size):
    """The upstream log's first size entries."""
    out = []
    for n in range((size + TILE - 1) // TILE):
        w = min(TILE, size - n * TILE)
        path = "tile/entries/%s%s" % (tile_index(n), "" if w == TILE else ".p/%d" % w)
        code, b = fetch("%s/%s" % (st.upstream, path))
        if code != 200:
            raise RuntimeError("upstream %s: HTTP %d" % (path, code))
        at = 0
        for _ in range(w):
            ln = int.from_bytes(b[at:at + 2], "big")
            out.append(b[at + 2:at + 2 + ln])
            at += 2 + ln
    return out


def forge(st, mode):
    """The forged history of mode fork or equivocate-size, made on first use after a switch."""
    with st.lock:
        if st.forged is not None:
            return st.forged
        if mode in ("fork", "fork-tail"):
            code, note = fetch(st.upstream + "/checkpoint")
            if code != 200:
                raise RuntimeError("upstream checkpoint: HTTP %d" % code)
            _, origin, size = note_fields(note)
            entries = upstream_entries(st, size)
            for i in range(0, 1) if mode == "fork" else range(size // 2, size):
                entries[i] = other_imei(entries[i])
        else:
            if not st.seen:
                raise RuntimeError("no checkpoint kept yet")
            size, note = st.seen[-1]
            _, origin, _ = note_fields(note)
            entries = upstream_entries(st, size)
            entries[-1] = other_imei(entries[-1])
        tree = Tree(entries)
        st.forged = (tree, st.signer.sign(checkpoint_text(origin, size, tree.root)))
        return st.forged


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    st = None

    def log_message(self, fmt, *args):
        sys.stderr.write("feed_proxy [%s] %s\n" % (self.st.mode, fmt % args))

    def answer(self, code, body, ctype="application/octet-stream"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def zeros(self, with_length):
        """A 1 GiB answer of zeros, streamed until the client hangs up."""
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if with_length:
            self.send_header("Content-Length", str(HUGE))
        else:
            self.send_header("Connection", "close")
        self.end_headers()
        chunk = bytes(65536)
        sent = 0
        try:
            while sent < HUGE:
                self.wfile.write(chunk)
                sent += len(chunk)
        except OSError:
            pass
        sys.stderr.write("feed_proxy: %d bytes of zeros sent before the client left\n" % sent)

    def cut(self, body):
        """Announces more than it sends, then closes."""
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body) + 100))
        self.end_headers()
        self.wfile.write(body[:max(0, len(body) - 1)])
        self.wfile.flush()

    def do_GET(self):
        st = self.st
        u = urllib.parse.urlsplit(self.path)
        if u.path == "/__mode":
            m = urllib.parse.parse_qs(u.query).get("m", [""])[0]
            if m not in MODES:
                self.answer(400, ("unknown mode %r\n" % m).encode(), "text/plain")
                return
            with st.lock:
                st.mode, st.forged, st.stats = m, None, {}
            self.answer(200, (m + "\n").encode(), "text/plain")
            return
        if u.path == "/__stats":
            with st.lock:
                body = json.dumps(dict(st.stats, mode=st.mode, kept=[s for s, _ in st.seen]))
            self.answer(200, body.encode() + b"\n", "application/json")
            return
        if not u.path.startswith("/feed/"):
            self.answer(404, b"not a feed path\n", "text/plain")
            return
        rest = u.path[len("/feed/"):]
        mode = st.mode
        kind = "checkpoint" if rest == "checkpoint" else \
            "bundle" if rest.startswith("tile/entries/") else "tile"
        st.count(kind)
        try:
            self.serve(st, mode, kind, rest)
        except (RuntimeError, ValueError) as e:
            self.answer(503, ("feed_proxy: %s\n" % e).encode(), "text/plain")

    def serve(self, st, mode, kind, rest):
        if mode == "huge" and kind == "checkpoint" or mode == "huge-bundle" and kind == "bundle":
            self.zeros(True)
            return
        if mode == "huge-stream" and kind == "checkpoint":
            self.zeros(False)
            return
        if mode in ("fork", "fork-tail", "equivocate-size"):
            tree, note = forge(st, mode)
            if kind == "checkpoint":
                self.answer(200, note, "text/plain; charset=utf-8")
                return
            body = tree.tile(*parse_tile_path(rest))
            if body is None:
                self.answer(404, b"no such tile\n", "text/plain")
            else:
                self.answer(200, body)
            return
        if mode == "rollback" and kind == "checkpoint":
            with st.lock:
                newest = st.seen[-1][0] if st.seen else 0
                older = [n for s, n in st.seen if s < newest]
            if older:
                self.answer(200, older[0], "text/plain; charset=utf-8")
                return
        code, body = fetch("%s/%s" % (st.upstream, rest))
        if code != 200:
            self.answer(code, body, "text/plain")
            return
        if kind == "checkpoint":
            if mode == "pass":
                with st.lock:
                    size = note_fields(body)[2]
                    if not st.seen or st.seen[-1][1] != body:
                        st.seen.append((size, body))
            elif mode in ("other-key", "other-key-id"):
                text = note_fields(body)[0]
                other = Signer(st.signer.name, bytes(range(32)),
                               st.signer.keyid if mode == "other-key-id" else None)
                body = other.sign(text)
        elif kind == "bundle" and mode in ("flip-bundle", "flip-bundle-format"):
            at, last = 0, 0
            while at < len(body):
                last = at
                at += 2 + int.from_bytes(body[at:at + 2], "big")
            e = body[last + 2:]
            if mode == "flip-bundle":
                e = other_imei(e)
            else:
                e = e[:5] + b"x" + e[6:]	# a digit of the IMEI
            body = body[:last + 2] + e
        elif kind == "tile" and mode == "flip-tile":
            body = body[:-1] + bytes([body[-1] ^ 0x01])
        if mode == "truncate" or mode == "truncate-bundle" and kind == "bundle":
            self.cut(body)
            return
        self.answer(200, body, "text/plain; charset=utf-8" if kind == "checkpoint" else
                    "application/octet-stream")


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    port, upstream, keyfile = int(sys.argv[1]), sys.argv[2].rstrip("/"), sys.argv[3]
    Handler.st = State(upstream, read_key(keyfile))
    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.daemon_threads = True
    srv.serve_forever()


if __name__ == "__main__":
    main()
