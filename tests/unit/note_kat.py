#!/usr/bin/env python3
"""The other side of tests/unit/note_kat.sh: C2SP signed notes, Ed25519 (type 0x01) and
cosignature/v1 (type 0x04), written again from the specs with python3-cryptography, so that
src/feed/note is checked against an implementation that shares no code with it.
  note_kat.py keys SKEYFILE           the verifier key and the cosignature verifier key of a
                                      signer key file, one per line
  note_kat.py keygen NAME SKEYFILE    a new key: the signer key to SKEYFILE, vkeys printed
  note_kat.py sign SKEYFILE ALG TIME  signs the text on stdin (ALG ed25519 or cosignature)
  note_kat.py verify VKEY             verifies the note on stdin with VKEY; prints the
                                      cosignature's time; exit 0 verified, 1 not
"""
import base64
import hashlib
import os
import struct
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (Ed25519PrivateKey,
                                                               Ed25519PublicKey)

EM_DASH = "\u2014"


def key_id(name, typ, pub):
    return struct.unpack(">I", hashlib.sha256(name.encode() + b"\n" + bytes([typ]) + pub)
                         .digest()[:4])[0]


def vkey(name, typ, pub):
    return "%s+%08x+%s" % (name, key_id(name, typ, pub),
                           base64.b64encode(bytes([typ]) + pub).decode())


def load_signer(path):
    parts = open(path).read().rstrip("\n").split("+", 4)
    assert parts[:2] == ["PRIVATE", "KEY"], "not a signer key"
    raw = base64.b64decode(parts[4], validate=True)
    assert raw[0] == 1 and len(raw) == 33, "not an Ed25519 seed"
    key = Ed25519PrivateKey.from_private_bytes(raw[1:])
    pub = key.public_key().public_bytes(serialization.Encoding.Raw,
                                        serialization.PublicFormat.Raw)
    assert int(parts[3], 16) == key_id(parts[2], 1, pub), "key ID is not the key's"
    return parts[2], key, pub


def message(alg, t, text):
    if alg == "cosignature":
        return b"cosignature/v1\ntime %d\n" % t + text
    return text


def main():
    cmd = sys.argv[1]
    if cmd == "keys":
        name, _, pub = load_signer(sys.argv[2])
        print(vkey(name, 1, pub))
        print(vkey(name, 4, pub))
    elif cmd == "keygen":
        name, path = sys.argv[2], sys.argv[3]
        key = Ed25519PrivateKey.generate()
        seed = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                 serialization.NoEncryption())
        pub = key.public_key().public_bytes(serialization.Encoding.Raw,
                                            serialization.PublicFormat.Raw)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, ("PRIVATE+KEY+%s+%08x+%s\n" % (name, key_id(name, 1, pub),
                      base64.b64encode(b"\x01" + seed).decode())).encode())
        os.close(fd)
        print(vkey(name, 1, pub))
        print(vkey(name, 4, pub))
    elif cmd == "sign":
        name, key, pub = load_signer(sys.argv[2])
        alg, t = sys.argv[3], int(sys.argv[4])
        text = sys.stdin.buffer.read()
        typ = 4 if alg == "cosignature" else 1
        blob = struct.pack(">I", key_id(name, typ, pub))
        if alg == "cosignature":
            blob += struct.pack(">Q", t)
        blob += key.sign(message(alg, t, text))
        line = "%s %s %s\n" % (EM_DASH, name, base64.b64encode(blob).decode())
        sys.stdout.buffer.write(text + b"\n" + line.encode())
    elif cmd == "verify":
        name, hexid, b64 = sys.argv[2].split("+", 2)
        raw = base64.b64decode(b64, validate=True)
        typ, pub = raw[0], Ed25519PublicKey.from_public_bytes(raw[1:])
        assert int(hexid, 16) == key_id(name, typ, raw[1:])
        note = sys.stdin.buffer.read()
        split = note.rindex(b"\n\n")
        text, sigs = note[:split + 1], note[split + 2:].decode()
        for line in sigs.splitlines():
            assert line.startswith(EM_DASH + " "), "not a signature line"
            n, s = line[2:].split(" ", 1)
            blob = base64.b64decode(s, validate=True)
            if n != name or struct.unpack(">I", blob[:4])[0] != int(hexid, 16):
                continue
            if typ == 4:
                t = struct.unpack(">Q", blob[4:12])[0]
                msg, sig = message("cosignature", t, text), blob[12:]
            else:
                t, msg, sig = None, text, blob[4:]
            try:
                pub.verify(sig, msg)
            except InvalidSignature:
                print("bad signature")
                return 1
            print("verified" + ("" if t is None else " time %d" % t))
            return 0
        print("no signature of that key")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
