#!/usr/bin/env python3
"""Known answers for src/feed/merkle.c, written independently of it: RFC 9162 section 2.1's
MTH, PATH and PROOF/SUBPROOF as the RFC writes them (recursive, over the leaves themselves),
with hashlib only. Leaves are the bytes b"leaf %d". test_merkle reads the lines:

    leaf LEN HASH                 leaf hash of LEN bytes b"x" * LEN
    root SIZE HASH                MTH of the first SIZE leaves
    incl INDEX SIZE HASH,...      PATH(INDEX, D[SIZE]) ("-" when empty)
    cons OLD SIZE HASH,...        PROOF(OLD, D[SIZE]) ("-" when empty)
"""
import hashlib


def sha256(b):
    return hashlib.sha256(b).digest()


def leaf(i):
    return b"leaf %d" % i


def split(n):
    """The largest power of two smaller than n."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d):
    n = len(d)
    if n == 0:
        return sha256(b"")
    if n == 1:
        return sha256(b"\x00" + d[0])
    k = split(n)
    return sha256(b"\x01" + mth(d[:k]) + mth(d[k:]))


def path(m, d):
    n = len(d)
    if n == 1:
        return []
    k = split(n)
    if m < k:
        return path(m, d[:k]) + [mth(d[k:])]
    return path(m - k, d[k:]) + [mth(d[:k])]


def subproof(m, d, b):
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = split(n)
    if m <= k:
        return subproof(m, d[:k], b) + [mth(d[k:])]
    return subproof(m - k, d[k:], False) + [mth(d[:k])]


def proof(m, d):
    return subproof(m, d, True)


def hexes(hs):
    return ",".join(h.hex() for h in hs) if hs else "-"


def main():
    for n in (0, 1, 31, 32, 511, 512, 513, 1000, 4096):
        print("leaf %d %s" % (n, sha256(b"\x00" + b"x" * n).hex()))
    d = [leaf(i) for i in range(200)]
    for n in range(0, 65):
        print("root %d %s" % (n, mth(d[:n]).hex()))
    for n in (100, 127, 128, 129, 200):
        print("root %d %s" % (n, mth(d[:n]).hex()))
    for size in (1, 2, 3, 5, 7, 8, 13, 16, 31, 33, 64, 65, 100, 200):
        for m in sorted({0, 1, size // 3, size // 2, size - 2, size - 1}):
            if 0 <= m < size:
                print("incl %d %d %s" % (m, size, hexes(path(m, d[:size]))))
    for size in (1, 2, 3, 4, 7, 8, 9, 15, 16, 17, 33, 64, 100, 200):
        for old in sorted({1, 2, 3, 4, 7, 8, size // 2, size - 1, size}):
            if 1 <= old <= size:
                print("cons %d %d %s" % (old, size, hexes(proof(old, d[:size]))))


if __name__ == "__main__":
    main()
