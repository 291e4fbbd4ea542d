#!/usr/bin/python3
"""What the cluster tests (tests/integration/cluster_failover.sh, cluster_reshard.sh) read back
from a Redis Cluster after journey_load.py drove ceirgw. Each subcommand prints "key value"
lines (and "# ..." lines naming what is wrong, at most 5 of each kind).

  cluster_check.py SEEDS stream STREAM JOURNEYS...
      every reference a user saw (outcome accepted or already in the journeys files of
      journey_load.py) against the CEIR stream: entries (all), blocks (type block),
      twice (a seen reference with more than one entry), missing (with none),
      wrong (its entry names another IMEI), dup_ids (request ids on the stream more than
      once), dup_imeis (IMEIs with more than one block request), odd (a block entry whose
      request_id is not <ref>-block), lost (the report rep:{imei} no longer holds the
      reference, or ref:{ref} does not name the IMEI: a write the user was told of is gone),
      seen (references seen)
  cluster_check.py SEEDS receipts OUTBOX SMSLOG JOURNEYS...
      the receipt SMS of every reference a user saw: delivered (in SMSLOG, "to TAB text" as
      the tests' sendsms endpoint writes it, to the owner's number, naming "report <ref>
      for"), queued (still on the OUTBOX stream), missing (neither), pending (its report's
      rep:{imei}:out still holds SMS not relayed to the outbox)
  cluster_check.py SEEDS masters KEYS_FILE
      how many of the keys (one a line) each master serves now: "port count", most first
  cluster_check.py SEEDS slotmap
      "slot port" for each of the 16384 slots: the master serving it now ("-": none)
  cluster_check.py - keyslots KEYS_FILE
      "slot key" for each key (one a line)
SEEDS: "host:port,host:port,..." as in redis-cluster (or redis://host:port: one Redis).
"""
import collections
import sys

import redis
from redis.cluster import ClusterNode, RedisCluster
from redis.crc import key_slot


def connect(seeds):
    if seeds.startswith("redis://"):	# one Redis, to debug a harness
        return redis.Redis.from_url(seeds, decode_responses=True)
    nodes = []
    for hp in seeds.split(","):
        h, p = hp.rsplit(":", 1)
        nodes.append(ClusterNode(h, int(p)))
    return RedisCluster(startup_nodes=nodes, decode_responses=True,
                        require_full_coverage=False)


def seen_refs(files):
    """ref -> (imei, msisdn) of every journey that showed a reference."""
    out = {}
    for fn in files:
        with open(fn) as f:
            for line in f:
                w = line.rstrip("\n").split("\t")
                if len(w) >= 9 and w[6] in ("accepted", "already") and w[8] != "-":
                    out[w[8]] = (w[2], w[3])
    return out


def say(key, n, bad):
    print("%s %d" % (key, n))
    for b in bad[:5]:
        print("# %s: %s" % (key, b))


def stream(rc, name, files):
    seen = seen_refs(files)
    entries = rc.xrange(name, "-", "+")
    by_ref = collections.defaultdict(list)
    ids = collections.Counter()
    imeis = collections.Counter()
    odd = []
    blocks = 0
    for eid, f in entries:
        ids[f.get("request_id")] += 1
        if f.get("type") == "block":
            blocks += 1
            imeis[f.get("imei")] += 1
            if f.get("request_id") != "%s-block" % f.get("ref"):
                odd.append("%s %s" % (eid, f))
        by_ref[f.get("ref")].append(f)
    twice, missing, wrong, lost = [], [], [], []
    for ref, (imei, msisdn) in sorted(seen.items()):
        got = [f for f in by_ref.get(ref, []) if f.get("type") == "block"]
        if not got:
            missing.append("%s (IMEI %s, %s)" % (ref, imei, msisdn))
        elif len(got) > 1:
            twice.append("%s x%d" % (ref, len(got)))
        elif got[0].get("imei") != imei:
            wrong.append("%s: entry names %s, the journey %s" % (ref, got[0].get("imei"), imei))
        rep = rc.hgetall("rep:{%s}" % imei)
        back = rc.get("ref:{%s}" % ref)
        if rep.get("ref") != ref or back != imei:
            lost.append("%s: rep:{%s} = %s, ref:{%s} = %s" % (ref, imei, rep, ref, back))
    print("entries %d" % len(entries))
    print("blocks %d" % blocks)
    print("seen %d" % len(seen))
    say("twice", len(twice), twice)
    say("missing", len(missing), missing)
    say("wrong", len(wrong), wrong)
    say("dup_ids", sum(1 for c in ids.values() if c > 1),
        ["%s x%d" % (i, c) for i, c in ids.items() if c > 1])
    say("dup_imeis", sum(1 for c in imeis.values() if c > 1),
        ["%s x%d" % (i, c) for i, c in imeis.items() if c > 1])
    say("odd", len(odd), odd)
    say("lost", len(lost), lost)


def receipts(rc, outbox, smslog, files):
    seen = seen_refs(files)
    delivered = set()
    with open(smslog, encoding="utf-8") as f:
        for line in f:
            to, _, text = line.rstrip("\n").partition("\t")
            for w in text.split():
                if len(w) == 10 and w.isdigit() and ("report %s for" % w) in text:
                    delivered.add((w, to))
    queued = set()
    for _, f in rc.xrange(outbox, "-", "+") if rc.exists(outbox) else []:
        text = f.get("text", "")
        for w in text.split():
            if len(w) == 10 and w.isdigit() and ("report %s for" % w) in text:
                queued.add((w, f.get("to")))
    n_del = n_q = 0
    missing, pending, stale = [], [], []
    for ref, (imei, msisdn) in sorted(seen.items()):
        if (ref, msisdn) in delivered:
            n_del += 1
        elif (ref, msisdn) in queued:
            n_q += 1
        else:
            missing.append("%s to %s (IMEI %s)" % (ref, msisdn, imei))
        k = "rep:{%s}:out" % imei
        for f, v in rc.hgetall(k).items():
            if not f.startswith(ref + ":"):
                continue	# another report's of the same phone
            sent = (ref, msisdn) in delivered and "report %s for" % ref in v
            (stale if sent else pending).append(
                "%s: %s %s = %r%s" % (ref, k, f, v, ", sent already" if sent else ""))
    print("seen %d" % len(seen))
    print("delivered %d" % n_del)
    print("queued %d" % n_q)
    say("missing", len(missing), missing)
    say("pending", len(pending), pending)
    say("stale", len(stale), stale)


def slot_owners(seeds):
    owner = ["-"] * 16384
    for hp in seeds.split(","):
        h, p = hp.rsplit(":", 1)
        try:
            reply = redis.Redis(host=h, port=int(p)).execute_command("CLUSTER SLOTS")
            break
        except redis.RedisError:
            continue
    else:
        sys.exit("cluster_check.py: no seed node answers")
    for lo, hi, master, *_ in reply:
        for s in range(lo, hi + 1):
            owner[s] = str(master[1])
    return owner


def read_keys(keys_file):
    with open(keys_file) as f:
        return [line.strip() for line in f if line.strip()]


def masters(seeds, keys_file):
    owner = slot_owners(seeds)
    n = collections.Counter(owner[key_slot(k.encode())] for k in read_keys(keys_file))
    for port, c in n.most_common():
        print("%s %d" % (port, c))


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    cmd, args = sys.argv[2], sys.argv[3:]
    if cmd == "masters":
        masters(sys.argv[1], args[0])
        return
    if cmd == "slotmap":
        for slot, port in enumerate(slot_owners(sys.argv[1])):
            print("%d %s" % (slot, port))
        return
    if cmd == "keyslots":
        for k in read_keys(args[0]):
            print("%d %s" % (key_slot(k.encode()), k))
        return
    rc = connect(sys.argv[1])
    if cmd == "stream":
        stream(rc, args[0], args[1:])
    elif cmd == "receipts":
        receipts(rc, args[0], args[1], args[2:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
