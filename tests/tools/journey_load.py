#!/usr/bin/python3
"""A load driver for the cluster tests (tests/integration/cluster_failover.sh,
cluster_reshard.sh): USSD journeys over ceirgw's HTTP callback (the aggregator form, as
journeys.sh sends them), WORKERS of them in flight, each on its own kept-alive connection,
every screen compared with the text ceirgw must show and every request timed.

  journey_load.py --url URL --ctl CEIRGWCTL --jobs FILE --out PREFIX [options]

JOBS, one journey a line (fields separated by tabs), taken in order:
  R <owner +E.164> <IMEI> <ID last 4> <maker> <model>   the owner reports their one phone:
      dial, 2 (their phones: this one, first), 2*1, 2*1*DDDD (ID digits), *1 (stolen),
      *1*1 (no police report), *1*1*1 (confirm): "Report received. Reference <ref> ..."
  C <caller +E.164> <IMEI> <maker> <model>              a buyer checks a phone nobody
      reported: dial, 1, 1*<IMEI>: "<maker> <model>: not reported stolen or lost ..."
The expected screens are rendered by `ceirgwctl flows render` (the shipped flow and texts).

Every screen is sorted: the one the step must show, the "try later" screen
(common.unavailable, which ends the journey: the user hangs up), or unexpected (any other
text, a status other than 200, an empty body); a request that gets no answer (refused,
reset, or nothing within --timeout seconds) is an error and also ends the journey.

Options:
  --workers N         journeys in flight (12)
  --timeout S         seconds a request may take before it counts as hung (10)
  --rate R            journeys started per second at most, all workers together (0: no cap)
  --min-reports N     go on until N report journeys have ended with a reference (0)
  --until-file F      ... and, once F exists, until --after more journeys have started
  --after N           (200)
  --max-seconds S     start no journey after S seconds whatever else (120)
  --allow-already     a report may end with "already reported, Reference <ref>" (a retry:
                      at any step, in fact after the ID digits)
With neither --min-reports nor --until-file, every job is run.

Writes PREFIX.journeys, one journey a line, tab-separated:
  index kind imei msisdn t_start t_end outcome step ref max_latency_ms detail sessionId
  (t_*: Unix seconds; outcome: accepted, already, ok (a check), try_later, unexpected,
  error; step: the step that ended it, 0-based; ref: the reference shown, or -)
PREFIX.summary (key=value lines) and PREFIX.progress ("started ended" while it runs).
Exit status 0 whatever the journeys answered; 2 on a usage error.
"""
import argparse
import http.client
import os
import re
import subprocess
import sys
import threading
import time
import urllib.parse


def render(ctl, key, **kw):
    args = [ctl, "flows", "render", "en", key] + ["%s=%s" % kv for kv in kw.items()]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return out[:-1] if out.endswith("\n") else out


class Screens:
    """The texts of the journeys, with @NAME@ where a journey's value goes. Every screen past
    the menu ends with the back and home lines (flows/ceir.yaml, issue 18)."""

    def __init__(self, ctl):
        nav = "\n" + render(ctl, "common.back") + "\n" + render(ctl, "common.home")
        self.menu = "CON " + render(ctl, "menu.main")
        self.pick = "CON " + render(ctl, "report.pick",
                                    handsets="1 @MAKER@ @MODEL@ ...@TAIL@") + nav
        self.ask_id = "CON " + render(ctl, "report.ask_id") + nav
        self.reason = "CON " + render(ctl, "report.reason") + nav
        self.police = "CON " + render(ctl, "report.ask_police") + nav
        self.confirm = "CON " + render(ctl, "report.confirm", phone="@PHONE@",
                                       imei_tail="@TAIL@", reason="stolen") + nav
        done = "END " + render(ctl, "report.done", ref="@REF@")
        already = "END " + render(ctl, "report.already", ref="@REF@")
        self.done = re.compile(re.escape(done).replace("@REF@", r"([0-9]{10})") + r"\Z")
        self.already = re.compile(re.escape(already).replace("@REF@", r"([0-9]{10})") + r"\Z")
        self.check_ask = "CON " + render(ctl, "check.ask") + nav
        self.clean = "END " + render(ctl, "check.clean", maker="@MAKER@", model="@MODEL@")
        self.later = "END " + render(ctl, "common.unavailable")


def fill(text, maker, model, imei):
    # {phone}: the maker and the model in one, cut to 30 characters, as the engine does
    phone = " ".join(p for p in (maker, model) if p)[:30]
    return (text.replace("@MAKER@", maker).replace("@MODEL@", model)
            .replace("@PHONE@", phone).replace("@TAIL@", imei[-4:]))


class Run:
    def __init__(self, a, jobs, screens):
        self.a = a
        self.jobs = jobs
        self.s = screens
        self.lock = threading.Lock()
        self.next = 0
        self.started = 0
        self.ended = 0
        self.accepted = 0		# report journeys that ended with a reference
        self.recovered_at = None	# self.started when --until-file was first seen
        self.stop = False
        self.ran_out = False
        self.t0 = time.time()
        self.out = open(a.out + ".journeys", "w", buffering=1)
        self.lat = []			# every request's latency, seconds
        self.prefix = "ld%d%s" % (os.getpid(), a.tag)

    def want_more(self):
        """Called under the lock before a journey starts."""
        a = self.a
        if self.stop:
            return False
        if self.next >= len(self.jobs):
            self.ran_out = True
            self.stop = True
            return False
        if time.time() - self.t0 >= a.max_seconds:
            self.stop = True
            return False
        if a.until_file:
            if self.recovered_at is None and os.path.exists(a.until_file):
                self.recovered_at = self.started
            if (self.recovered_at is not None and
                    self.started - self.recovered_at >= a.after and
                    self.accepted >= a.min_reports):
                self.stop = True
                return False
        elif a.min_reports and self.accepted >= a.min_reports:
            self.stop = True
            return False
        if a.rate > 0:
            due = self.t0 + self.started / a.rate
            d = due - time.time()
            if d > 0:
                time.sleep(d)	# under the lock: the workers start one after the other
        return True

    def worker(self):
        conn = None
        while True:
            with self.lock:
                if not self.want_more():
                    break
                i = self.next
                self.next += 1
                self.started += 1
            job = self.jobs[i]
            res, conn = self.journey(i, job, conn)
            with self.lock:
                self.ended += 1
                if res[6] in ("accepted", "already"):
                    self.accepted += 1
                self.out.write("\t".join(str(x) for x in res) + "\n")
        if conn is not None:
            conn.close()

    def request(self, conn, sid, msisdn, text):
        """One callback; returns (status, body, latency, conn); status None: no answer."""
        body = urllib.parse.urlencode({"sessionId": sid, "phoneNumber": msisdn,
                                       "serviceCode": "*384#", "text": text,
                                       "networkCode": "63902"})
        t = time.monotonic()
        try:
            if conn is None:
                conn = http.client.HTTPConnection(self.a.host, self.a.port,
                                                  timeout=self.a.timeout)
            conn.request("POST", "/ussd", body,
                         {"Content-Type": "application/x-www-form-urlencoded"})
            r = conn.getresponse()
            data = r.read().decode("utf-8", "replace")
            status = r.status
            if r.will_close:
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException) as e:
            if conn is not None:
                conn.close()
            lat = time.monotonic() - t
            with self.lock:
                self.lat.append(lat)
            return None, "%s: %s" % (type(e).__name__, e), lat, None
        lat = time.monotonic() - t
        with self.lock:
            self.lat.append(lat)
        return status, data, lat, conn

    def journey(self, i, job, conn):
        s = self.s
        sid = "%s-%d" % (self.prefix, i)
        t_start = time.time()
        maxlat = 0.0
        if job[0] == "R":
            _, msisdn, imei, digits, maker, model = job
            t = "2*1*" + digits
            steps = [("", s.menu), ("2", fill(s.pick, maker, model, imei)),
                     ("2*1", s.ask_id), (t, s.reason), (t + "*1", s.police),
                     (t + "*1*1", fill(s.confirm, maker, model, imei)), (t + "*1*1*1", None)]
        else:
            _, msisdn, imei, maker, model = job
            steps = [("", s.menu), ("1", s.check_ask),
                     ("1*" + imei, fill(s.clean, maker, model, imei))]
        outcome, step, ref, detail = None, 0, "-", "-"
        for step, (text, want) in enumerate(steps):
            status, body, lat, conn = self.request(conn, sid, msisdn, text)
            maxlat = max(maxlat, lat)
            if status is None:
                outcome, detail = "error", body
                break
            if status == 200 and body == s.later:
                outcome = "try_later"
                break
            m = s.already.match(body) if self.a.allow_already and status == 200 else None
            if m:
                outcome, ref = "already", m.group(1)	# once the ID digits matched
                break
            if status != 200:
                outcome, detail = "unexpected", "%d %s" % (status, body)
                break
            if want is not None:
                if body != want:
                    outcome, detail = "unexpected", body
                    break
                continue
            m = s.done.match(body)
            if m:
                outcome, ref = "accepted", m.group(1)
                break
            outcome, detail = "unexpected", body
            break
        else:
            outcome = "ok"
        detail = detail.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")
        return ((i, job[0], imei, msisdn, "%.3f" % t_start, "%.3f" % time.time(), outcome,
                 step, ref, "%.1f" % (maxlat * 1000), detail or "(empty)", sid), conn)

    def progress(self):
        while not self.done_evt.wait(0.1):
            with self.lock:
                line = "%d %d\n" % (self.started, self.ended)
            with open(self.a.out + ".progress.tmp", "w") as f:
                f.write(line)
            os.replace(self.a.out + ".progress.tmp", self.a.out + ".progress")

    def run(self):
        self.done_evt = threading.Event()
        p = threading.Thread(target=self.progress, daemon=True)
        p.start()
        ws = [threading.Thread(target=self.worker) for _ in range(self.a.workers)]
        for w in ws:
            w.start()
        for w in ws:
            w.join()
        self.done_evt.set()
        p.join()
        self.out.close()
        lat = sorted(self.lat)
        pct = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else 0
        with open(self.a.out + ".progress", "w") as f:
            f.write("%d %d\n" % (self.started, self.ended))
        with open(self.a.out + ".summary", "w") as f:
            f.write("started=%d\nended=%d\nrequests=%d\nseconds=%.3f\n" %
                    (self.started, self.ended, len(lat), time.time() - self.t0))
            f.write("p50_ms=%.1f\np99_ms=%.1f\nmax_ms=%.1f\n" % (pct(0.5), pct(0.99), pct(1.0)))
            f.write("ran_out=%d\nrecovered_at=%s\n" % (
                self.ran_out, "-" if self.recovered_at is None else self.recovered_at))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--ctl", required=True)
    ap.add_argument("--jobs", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--tag", default="")
    ap.add_argument("--workers", type=int, default=12)
    ap.add_argument("--timeout", type=float, default=10)
    ap.add_argument("--rate", type=float, default=0)
    ap.add_argument("--min-reports", type=int, default=0)
    ap.add_argument("--until-file")
    ap.add_argument("--after", type=int, default=200)
    ap.add_argument("--max-seconds", type=float, default=120)
    ap.add_argument("--allow-already", action="store_true")
    a = ap.parse_args()
    u = urllib.parse.urlsplit(a.url)
    a.host, a.port = u.hostname, u.port or 80
    jobs = []
    with open(a.jobs) as f:
        for line in f:
            w = line.rstrip("\n").split("\t")
            if w == [""]:
                continue
            if ((w[0] == "R" and len(w) == 6) or (w[0] == "C" and len(w) == 5)):
                jobs.append(w)
            else:
                sys.exit("journey_load.py: bad job line: " + line.rstrip())
    Run(a, jobs, Screens(a.ctl)).run()


if __name__ == "__main__":
    main()
