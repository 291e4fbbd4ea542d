#!/usr/bin/python3
"""An auditor of a ceirgw feed, written apart from ceirgw's C code (Python's hashlib and the
cryptography package) so that the tests check the C against an independent reading of the
specifications: C2SP signed-note (Ed25519), tlog-checkpoint, tlog-tiles, RFC 9162's Merkle
tree hash.

  feed_audit.py BASE_URL VERIFIER_KEY [--entries FILE] [--old SIZE:BASE64ROOT]

Fetches BASE_URL/checkpoint, checks its signature by VERIFIER_KEY, fetches every entry bundle
and every hash tile of its tree, checks that each tile hash is what the entries hash to, and
that the root is the checkpoint's. With --old, also that the tree's first SIZE leaves hash to
that root (the log only grew). Prints "size ROOT" and exits 0, or prints why and exits 1.
"""
import base64
import hashlib
import sys
import urllib.request

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

TILE = 256


def fail(why):
    print("audit failed: " + why)
    sys.exit(1)


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.read()
    except Exception as e:  # noqa: BLE001 (any failure is a failed audit)
        fail("%s: %s" % (url, e))


def tile_index(n):
    groups = []
    while True:
        groups.append("%03d" % (n % 1000))
        n //= 1000
        if n == 0:
            break
    groups.reverse()
    return "/".join(["x" + g for g in groups[:-1]] + [groups[-1]])


def tile_url(base, level, n, width):
    part = "" if width == TILE else ".p/%d" % width
    return "%s/tile/%s/%s%s" % (base, level, tile_index(n), part)


def leaf_hash(entry):
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def mth(hashes):
    """RFC 9162 2.1.1, over leaf hashes: the largest power of two below n splits."""
    n = len(hashes)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashes[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(mth(hashes[:k]), mth(hashes[k:]))


def open_note(note, vkey):
    name, keyid_hex, key_b64 = vkey.split("+", 2)
    key = base64.b64decode(key_b64, validate=True)
    if len(key) != 33 or key[0] != 1:
        fail("the verifier key is not an Ed25519 key")
    keyid = bytes.fromhex(keyid_hex)
    if hashlib.sha256(name.encode() + b"\n" + key).digest()[:4] != keyid:
        fail("the verifier key's id does not match its key")
    cut = note.find(b"\n\n")
    if cut < 0:
        fail("the checkpoint is not a signed note")
    text, sigs = note[:cut + 1], note[cut + 2:]
    verified = False
    for line in sigs.split(b"\n"):
        if line == b"":
            continue
        if not line.startswith("\u2014 ".encode()):
            fail("a signature line does not start with an em dash: %r" % line)
        who, blob = line[len("\u2014 ".encode()):].rsplit(b" ", 1)
        sig = base64.b64decode(blob, validate=True)
        if who.decode() != name or sig[:4] != keyid:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(key[1:]).verify(sig[4:], text)
        except InvalidSignature:
            fail("the checkpoint's signature by %s does not verify" % name)
        verified = True
    if not verified:
        fail("the checkpoint carries no signature by %s" % name)
    return text


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        fail(__doc__)
    base, vkey = args[0].rstrip("/"), args[1]
    entries_file = old = None
    i = 2
    while i < len(args):
        if args[i] == "--entries":
            entries_file = args[i + 1]
        elif args[i] == "--old":
            old = args[i + 1]
        else:
            fail("unknown option " + args[i])
        i += 2

    text = open_note(fetch(base + "/checkpoint"), vkey)
    lines = text.decode().split("\n")
    origin, size, root = lines[0], int(lines[1]), base64.b64decode(lines[2], validate=True)
    if origin != vkey.split("+", 2)[0]:
        fail("the checkpoint's origin %s is not the key's name" % origin)

    entries = []
    for n in range((size + TILE - 1) // TILE):
        width = min(TILE, size - n * TILE)
        b = fetch(tile_url(base, "entries", n, width))
        at = 0
        for _ in range(width):
            if at + 2 > len(b):
                fail("entry bundle %d is short" % n)
            ln = int.from_bytes(b[at:at + 2], "big")
            entries.append(b[at + 2:at + 2 + ln])
            at += 2 + ln
        if at != len(b):
            fail("entry bundle %d has bytes after its %d entries" % (n, width))
    leaves = [leaf_hash(e) for e in entries]

    # Every hash tile of the tree: level L holds the hashes of subtrees of 256^L leaves.
    level, hashes = 0, leaves
    while len(hashes) > 0:
        for n in range((len(hashes) + TILE - 1) // TILE):
            width = min(TILE, len(hashes) - n * TILE)
            got = fetch(tile_url(base, level, n, width))
            if got != b"".join(hashes[n * TILE:n * TILE + width]):
                fail("tile %d/%d (width %d) is not what the entries hash to" %
                     (level, n, width))
        hashes = [mth(hashes[j * TILE:(j + 1) * TILE]) for j in range(len(hashes) // TILE)]
        level += 1

    if mth(leaves) != root:
        fail("the entries do not hash to the checkpoint's root")
    if old:
        osize, oroot = old.split(":")
        if int(osize) > size or mth(leaves[:int(osize)]) != base64.b64decode(oroot):
            fail("the tree of %s is not an extension of the older one" % size)
    if entries_file:
        with open(entries_file, "wb") as f:
            f.write(b"".join(e + b"\n" for e in entries))
    print("%d %s" % (size, base64.b64encode(root).decode()))


if __name__ == "__main__":
    main()
