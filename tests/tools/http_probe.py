#!/usr/bin/python3
"""Raw-socket HTTP probes for tests/integration/http_edge.sh: what curl cannot send or measure
(malformed requests, pipelined input never read, a request sent a byte at a time, many
connections held open). Each subcommand prints one line of key=value pairs.

  raw PORT PYTHON_BYTES_LITERAL     send the bytes, read until EOF or 3 s of silence:
                                    responses=N status=S closed=0|1 body=<first body line>
  slow PORT SECONDS                 a request line, then a header byte every second:
                                    closed_after=SECONDS status=S
  pipeline PORT PID MB SECONDS      pipelined GET /healthz, never reading replies, until MB
                                    are written or SECONDS pass: sent_mb=X rss_growth_kb=K
  hold PORT N PID CPU_SECONDS       N connections held open; after CPU_SECONDS, how many the
                                    server closed and the CPU it used meanwhile:
                                    open=A closed=B cpu_ms=C
"""
import os
import select
import socket
import sys
import time


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])     # utime, stime


def raw(port, data):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(data)
    s.settimeout(3)
    out, closed = b"", 0
    try:
        while True:
            d = s.recv(65536)
            if not d:
                closed = 1
                break
            out += d
    except socket.timeout:
        pass
    except ConnectionResetError:
        closed = 1
    s.close()
    n = out.count(b"HTTP/1.")
    status = out.split(b" ", 2)[1].decode() if n else "none"
    body = out.split(b"\r\n\r\n", 1)[1].split(b"\n", 1)[0].decode("latin1") if n else ""
    print(f"responses={n} status={status} closed={closed} body={body}")


def slow(port, seconds):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    t0 = time.monotonic()
    out = b""
    while time.monotonic() - t0 < seconds:
        try:
            s.send(b"a")
        except OSError:
            break
        r, _, _ = select.select([s], [], [], 1.0)
        if r:
            try:
                d = s.recv(65536)
            except ConnectionResetError:
                break
            if not d:
                break
            out += d
    took = time.monotonic() - t0
    status = out.split(b" ", 2)[1].decode() if out.startswith(b"HTTP/1.") else "none"
    print(f"closed_after={took:.1f} status={status}")


def pipeline(port, pid, mb, seconds):
    req = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" * 1000
    before = rss_kb(pid)
    peak = before
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(4)]
    for s in socks:
        s.setblocking(False)
    sent, t0, want = 0, time.monotonic(), mb * 1024 * 1024
    live = list(socks)
    while live and sent < want and time.monotonic() - t0 < seconds:
        _, w, _ = select.select([], live, [], 0.2)
        for s in w:
            try:
                sent += s.send(req)
            except OSError:
                live.remove(s)
        peak = max(peak, rss_kb(pid))
    peak = max(peak, rss_kb(pid))
    for s in socks:
        s.close()
    print(f"sent_mb={sent / 1048576:.1f} rss_growth_kb={peak - before}")


def hold(port, n, pid, secs):
    socks = []
    for _ in range(n):
        try:
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=2))
        except OSError:
            pass
    t0 = cpu_ticks(pid)
    time.sleep(secs)
    used = cpu_ticks(pid) - t0
    closed = 0
    for s in socks:
        s.setblocking(False)
        try:
            d = s.recv(4096)
            if not d or d.startswith(b"HTTP/1.1 503"):
                closed += 1
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
    for s in socks:
        s.close()
    hz = os.sysconf("SC_CLK_TCK")
    print(f"open={len(socks) - closed} closed={closed} cpu_ms={used * 1000 // hz}")


def main():
    cmd, port = sys.argv[1], int(sys.argv[2])
    if cmd == "raw":
        raw(port, eval(sys.argv[3]))     # a bytes literal from the test itself
    elif cmd == "slow":
        slow(port, float(sys.argv[3]))
    elif cmd == "pipeline":
        pipeline(port, int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
    elif cmd == "hold":
        hold(port, int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
