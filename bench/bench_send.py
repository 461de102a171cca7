#!/usr/bin/env python3
"""bench_send.py — the driver of `make bench-send` (mk/bench-send.mk).

Owns only the outbound benchmark: a work directory under BUILD/bench/send
(configs, stores, logs; removed at the end unless --keep), one mock
aggregator per scenario (--no-record-bodies --max-records 0: it answers at
once and keeps nothing) and the daemon, all on 127.0.0.1.

Two scenarios, each on its own fresh store:
  twilio  N (default 50,000) single-recipient messages on a twilio channel
          (one recipient per request), target >= 5,000 requests/s;
  at500   N (default 500,000) recipients on an Africa's Talking channel with
          batch_size = 500 and one text for all, target >= 50,000
          recipients/s.
For each:
  1. start and stop the daemon once (creates the schema), then insert the N
     outbox rows straight into the store (channel, phone, text,
     kind='alert', priority=2, state='queued', next_attempt_ms=0,
     created_at, updated_at) and copy the store three times;
  2. baselines, no gateway involved:
     - mock: wrk (bench/bench_send.lua) replaying the very request the
       gateway makes (same path, headers and body shape; for at500 the 500
       recipients) with as many connections as the channel's concurrency;
     - SQLite raw: BUILD/bench/bench_send_store --mode raw on a copy: one
       UPDATE ... state='sent', provider_id=? per row, batch rows per
       transaction, provider ids random in order like the mock's; and the
       same with ascending ids (what the provider-id index's random inserts
       cost);
     - gateway store calls: bench_send_store --mode gateway on a copy: the
       sender's own store_outbox_claim + store_outbox_results per request;
  3. the gateway: start the daemon on the seeded store and time from its
     start until every row is 'sent' (the mock's recipient counter is polled,
     then the store, each with a deadline); requests/s and recipients/s.
     With --perf, `perf record` samples the daemon for a few seconds of the
     run and the gateway functions' inclusive shares are printed; the
     daemon's CPU share of the run's wall time is always printed.
Prints requests/s and recipients/s of all; exit 1 when a target is missed
or a check fails (rows not all sent, a recipient sent twice).
--what-if expiry-index,no-trim measures fixes this benchmark suggests,
applied from outside the gateway (see WHAT_IF below); never a plain run.
"""

import argparse
import base64
import http.client
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
from mockagg import MockAggregator  # noqa: E402

LUA = os.path.join(ROOT, "bench", "bench_send.lua")
TEXT = ("ALERT: missing child Ali, 7, boy, last seen Korangi, Karachi, red shirt. "
        "Seen him? Call 15 or reply SEEN KHI-0001")
SID = "AC0123456789abcdef0123456789abcdef"
TOKEN = "bench-token"
TW_FROM = "+15005550006"
AT_USER = "bench"
AT_KEY = "bench-key"


# --what-if: the fixes this benchmark suggests, applied from outside the
# gateway to measure their effect (never part of a plain run):
#   expiry-index  the claim's expiry UPDATE gets an index instead of reading
#                 every queued row of the channel on each claim;
#   no-trim       glibc keeps freed heap instead of returning it with brk()
#                 after every SQLite ephemeral table (RETURNING, IN lists).
EXPIRY_INDEX = ("CREATE INDEX IF NOT EXISTS outbox_expiring ON outbox(channel, expires_at)"
                " WHERE state = 'queued' AND expires_at IS NOT NULL")
NO_TRIM = "glibc.malloc.trim_threshold=268435456"
WHAT_IF = ("expiry-index", "no-trim")


def what_if_env(what_if):
    env = dict(os.environ)
    if "no-trim" in what_if:
        env["GLIBC_TUNABLES"] = NO_TRIM
    return env


def mono():
    return time.monotonic()


def wait_until(fn, timeout, pause=0.005, max_pause=0.1):
    """Polls fn() until truthy or the deadline; returns the last value."""
    deadline = mono() + timeout
    while True:
        v = fn()
        if v or mono() >= deadline:
            return v
        time.sleep(pause)
        pause = min(pause * 2, max_pause)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def phone(i):
    return "+92300%07d" % (1000000 + i)


def formenc(s):
    return urllib.parse.quote_plus(s, safe="")


class Daemon:
    """The gateway as a child process on one store, with one channel."""

    def __init__(self, binary, work, db, channel_conf, env=None):
        self.binary = binary
        self.env = env
        self.work = work
        self.db = db
        self.conf = os.path.join(work, "gateway.conf")
        self.log = os.path.join(work, "daemon.log")
        self.channel_conf = channel_conf
        self.proc = None

    def start(self):
        """Starts without waiting (the caller times from here); returns the start time."""
        self.port = free_port()
        with open(self.conf, "w") as f:
            f.write("[server]\nlisten = 127.0.0.1:%d\n\n[store]\npath = %s\n\n"
                    "[log]\nlevel = warn\n\n%s" % (self.port, self.db, self.channel_conf))
        with open(self.log, "ab") as log:
            t0 = mono()
            self.proc = subprocess.Popen([self.binary, "serve", "-c", self.conf],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         cwd=self.work, env=self.env)
        return t0

    def healthy(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1.0)
        try:
            conn.request("GET", "/healthz")
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()

    def stop(self, timeout=10.0):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc, self.proc = self.proc.returncode, None
        return rc

    def tail(self, n=3000):
        try:
            with open(self.log, "rb") as f:
                return f.read().decode("utf-8", "replace")[-n:]
        except OSError:
            return ""


def cpu_seconds(pid):
    """User + system CPU seconds a live process has used (from /proc), or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def count_sent(db_path):
    db = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True, timeout=10)
    try:
        return db.execute("SELECT count(*) FROM outbox WHERE state = 'sent'").fetchone()[0]
    finally:
        db.close()


def states(db_path):
    db = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True, timeout=10)
    try:
        return dict(db.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())
    finally:
        db.close()


def seed(db_path, channel, n, what_if):
    """Inserts n queued alert rows with one text, set-based; leaves no WAL behind."""
    now = int(time.time())
    db = sqlite3.connect(db_path, isolation_level=None)
    try:
        if "expiry-index" in what_if:
            db.execute(EXPIRY_INDEX)
        db.execute("BEGIN")
        db.execute("WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < ?)"
                   " INSERT INTO outbox (channel, phone, text, kind, priority, state,"
                   " next_attempt_ms, created_at, updated_at)"
                   " SELECT ?, '+92300' || (1000000 + i), ?, 'alert', 2, 'queued', 0, ?, ?"
                   " FROM c", (n - 1, channel, TEXT, now, now))
        db.execute("COMMIT")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()


def request_file(path, sc):
    """Writes the request the gateway makes for one batch of this scenario (for wrk)."""
    if sc["provider"] == "twilio":
        auth = base64.b64encode(("%s:%s" % (SID, TOKEN)).encode()).decode()
        head = ["POST /2010-04-01/Accounts/%s/Messages.json" % SID,
                "Authorization: Basic %s" % auth, "Accept: application/json",
                "Content-Type: application/x-www-form-urlencoded", "User-Agent: talaash/0.1"]
        body = "To=%s&From=%s&Body=%s" % (formenc(phone(0)), formenc(TW_FROM), formenc(TEXT))
    else:
        head = ["POST /version1/messaging", "apiKey: %s" % AT_KEY, "Accept: application/json",
                "Content-Type: application/x-www-form-urlencoded", "User-Agent: talaash/0.1"]
        to = ",".join(phone(i) for i in range(sc["batch"]))
        body = "username=%s&to=%s&message=%s" % (AT_USER, formenc(to), formenc(TEXT))
    with open(path, "w") as f:
        f.write("\n".join(head) + "\n\n" + body)


def mock_baseline(args, sc, url, req_path):
    cmd = ["wrk", "-t", "1", "-c", str(sc["concurrency"]), "-d", "%ds" % args.mock_seconds,
           "--timeout", "10s", "-s", LUA, url, "--", req_path]
    out = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                         timeout=args.mock_seconds + 60)
    m = re.search(r"^bench_send: (.*)$", out.stdout, re.M)
    if out.returncode != 0 or not m:
        raise RuntimeError("wrk failed (%d):\n%s\n%s" % (out.returncode, out.stdout, out.stderr))
    r = {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    return r


def store_baseline(args, sc, db, mode, ids="random"):
    binary = os.path.join(args.build_dir, "bench", "bench_send_store")
    cmd = [binary, "--db", db, "--channel", sc["channel"], "--batch", str(sc["batch"]),
           "--mode", mode, "--seconds", str(args.store_seconds), "--ids", ids]
    out = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                         timeout=args.store_seconds + 120, env=what_if_env(args.what_if))
    m = re.search(r"^bench_send_store: (.*)$", out.stdout, re.M)
    if out.returncode != 0 or not m:
        raise RuntimeError("bench_send_store failed (%d):\n%s\n%s"
                           % (out.returncode, out.stdout, out.stderr))
    return dict(kv.split("=") for kv in m.group(1).split())


def perf_start(pid, seconds, out):
    return subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-F", "499",
                             "--call-graph", "dwarf,32768", "-p", str(pid), "-o", out,
                             "--", "sleep", str(seconds)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


GATEWAY_FN = re.compile(r"\b(store_\w+|pump|transfer_\w+|check_multi_info|curl_multi_\w+|"
                        r"(tw|at)_(build|classify)_send|sqlite3_step|sqlite3_exec|"
                        r"sms_count|event_base_loop|__brk|_int_free)\b")


def perf_summary(data):
    out = subprocess.run(["perf", "report", "-i", data, "--stdio", "--children",
                          "--sort", "symbol", "-g", "none"],
                         capture_output=True, text=True, timeout=300)
    rows = []
    for ln in out.stdout.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+([\d.]+)%\s+\[\.\]\s+(\S+)", ln)
        if m and GATEWAY_FN.search(m.group(3)) and m.group(3) not in [r[1] for r in rows]:
            rows.append((float(m.group(1)), m.group(3)))
    return rows[:16]


def run_scenario(args, sc):
    work = os.path.join(args.work, sc["name"])
    os.makedirs(work)
    n = sc["rows"]
    seed_db = os.path.join(work, "seed.db")
    res = {"sc": sc}
    mock = MockAggregator(build_dir=args.build_dir,
                          args=["--no-record-bodies", "--max-records", "0"])
    mock.start()
    try:
        conf = sc["conf"] % {"url": mock.url}
        d = Daemon(args.daemon, work, seed_db, conf)
        d.start()
        ok = wait_until(lambda: d.proc.poll() is not None or d.healthy(), 15)
        ok = ok and d.proc.poll() is None
        d.stop()
        if not ok:
            raise RuntimeError("daemon did not create the store; log:\n" + d.tail())
        t = mono()
        seed(seed_db, sc["channel"], n, args.what_if)
        res["seed_s"] = mono() - t
        copies = {}
        for name in ("raw", "rawseq", "store", "gateway"):
            copies[name] = os.path.join(work, name + ".db")
            shutil.copyfile(seed_db, copies[name])
        os.unlink(seed_db)

        req_path = os.path.join(work, "request.txt")
        request_file(req_path, sc)
        res["mock"] = mock_baseline(args, sc, mock.url, req_path)
        res["raw"] = store_baseline(args, sc, copies["raw"], "raw")
        os.unlink(copies["raw"])
        res["rawseq"] = store_baseline(args, sc, copies["rawseq"], "raw", "sequential")
        os.unlink(copies["rawseq"])
        res["store"] = store_baseline(args, sc, copies["store"], "gateway")
        os.unlink(copies["store"])

        mock.reset()
        d = Daemon(args.daemon, work, copies["gateway"], conf, what_if_env(args.what_if))
        t0 = d.start()
        perf = None
        if args.perf:
            perf = perf_start(d.proc.pid, args.perf_seconds, os.path.join(work, "perf.data"))
        deadline = t0 + args.deadline
        wait_until(lambda: d.proc.poll() is not None
                   or mock.stats()["recipients"] >= n, args.deadline, 0.01, 0.05)
        done = wait_until(lambda: d.proc.poll() is not None or count_sent(copies["gateway"]) >= n,
                          max(0.0, deadline - mono()), 0.005, 0.05)
        t1 = mono()
        cpu = cpu_seconds(d.proc.pid)
        sent = count_sent(copies["gateway"])
        stats = mock.stats()
        if perf is not None:
            perf.wait(args.perf_seconds + 60)
        rc = d.stop()
        res["gw"] = {"seconds": t1 - t0, "sent": sent, "done": bool(done) and sent >= n,
                     "requests": stats["requests"], "recipients": stats["recipients"],
                     "status": stats["status"], "states": states(copies["gateway"]),
                     "exit": rc, "log": d.tail(1500), "cpu": cpu}
        if perf is not None:
            res["perf"] = perf_summary(os.path.join(work, "perf.data"))
    finally:
        mock.stop()
    return res


def report(args, res):
    sc, n, b = res["sc"], res["sc"]["rows"], res["sc"]["batch"]
    g, mk, raw, st = res["gw"], res["mock"], res["raw"], res["store"]
    failures = []
    rps, rcps = g["requests"] / g["seconds"], g["sent"] / g["seconds"]
    print("bench-send %s: %d rows, %s, batch %d, rate %s/s, concurrency %d (seeded in %.1f s)%s"
          % (sc["name"], n, sc["provider"], b, sc["rate"], sc["concurrency"], res["seed_s"],
             "\n  WHAT-IF run, not the gateway as shipped: " + ", ".join(args.what_if)
             if args.what_if else ""))
    print("  %-34s: %9.0f requests/s %10.0f recipients/s   (%d of %d sent in %.2f s%s; "
          "daemon CPU %s)"
          % ("gateway, from daemon start", rps, rcps, g["sent"], n, g["seconds"],
             "" if g["done"] else ", deadline reached",
             "%.0f %% of the time" % (100 * g["cpu"] / g["seconds"]) if g["cpu"] is not None
             else "?"))
    print("  %-34s: %9.0f requests/s %10.0f recipients/s   (wrk -t1 -c%d, %d s, p50 %.2f ms, "
          "p99 %.2f ms)" % ("baseline: mock alone (wrk)", mk["rps"], mk["rps"] * b,
                            sc["concurrency"], args.mock_seconds, mk["p50_us"] / 1e3,
                            mk["p99_us"] / 1e3))
    for label, r in (("baseline: SQLite raw UPDATE by id", raw),
                     ("  same, ascending provider ids", res["rawseq"]),
                     ("baseline: sender's store calls", st)):
        rows_s, batches_s = float(r["rows_per_s"]), float(r["batches_per_s"])
        print("  %-34s: %9.0f requests/s %10.0f recipients/s   (%s rows in %s s%s)"
              % (label, batches_s, rows_s, r["rows"], r["seconds"],
                 "" if r["done"] == "1" else ", time limit reached"))
    target = sc["target"]
    got = rps if sc["metric"] == "requests" else rcps
    print("  %-34s: %s >= %d %s/s: %s" % ("target", sc["metric"], target, sc["metric"],
                                          "met" if got >= target else "MISSED"))
    if res.get("perf"):
        print("  perf (daemon, %d s of the run; inclusive share of its CPU samples):"
              % args.perf_seconds)
        for pct, fn in res["perf"]:
            print("      %6.2f%%  %s" % (pct, fn))
    if got < target:
        failures.append("%s: %.0f %s/s is below %d" % (sc["name"], got, sc["metric"], target))
    if not g["done"]:
        failures.append("%s: %d of %d rows sent before the %d s deadline; states %s"
                        % (sc["name"], g["sent"], n, args.deadline, g["states"]))
    elif g["recipients"] != n:
        failures.append("%s: the mock saw %d recipients for %d rows" % (sc["name"],
                                                                       g["recipients"], n))
    if g["exit"] not in (0, None):
        failures.append("%s: daemon exited %s; log:\n%s" % (sc["name"], g["exit"], g["log"]))
    return failures


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--only", choices=["twilio", "at500"])
    ap.add_argument("--twilio-rows", type=int, default=50000)
    ap.add_argument("--twilio-concurrency", type=int, default=64)
    ap.add_argument("--at-rows", type=int, default=500000)
    ap.add_argument("--at-concurrency", type=int, default=8)
    ap.add_argument("--deadline", type=int, default=60, help="seconds per gateway run")
    ap.add_argument("--mock-seconds", type=int, default=5)
    ap.add_argument("--store-seconds", type=int, default=15)
    ap.add_argument("--perf", action="store_true", help="profile the daemon during its run")
    ap.add_argument("--perf-seconds", type=int, default=5)
    ap.add_argument("--what-if", default="",
                    help="comma-separated fixes to try from outside: " + ", ".join(WHAT_IF))
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    args.what_if = [w for w in args.what_if.split(",") if w]
    if any(w not in WHAT_IF for w in args.what_if):
        ap.error("--what-if takes " + ", ".join(WHAT_IF))
    if not (1 <= args.twilio_rows <= 10**7 and 1 <= args.at_rows <= 10**7
            and 1 <= args.twilio_concurrency <= 256 and 1 <= args.at_concurrency <= 256
            and 1 <= args.deadline <= 3600 and 1 <= args.mock_seconds <= 300
            and 1 <= args.store_seconds <= 3600 and 1 <= args.perf_seconds <= 60):
        ap.error("a count or time is out of range")
    build = args.build if os.path.isabs(args.build) else os.path.join(ROOT, args.build)
    args.build_dir = build
    args.daemon = os.path.join(build, "talaash")
    args.work = os.path.join(build, "bench", "send")
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)

    rate = 100000
    scenarios = [
        {"name": "twilio", "provider": "twilio", "channel": "tw", "rows": args.twilio_rows,
         "batch": 1, "rate": rate, "concurrency": args.twilio_concurrency,
         "metric": "requests", "target": 5000,
         "conf": "[channel tw]\nprovider = twilio\nbase_url = %%(url)s\naccount_sid = %s\n"
                 "auth_token = %s\nsender = %s\nrate = %d\nconcurrency = %d\n"
                 % (SID, TOKEN, TW_FROM, rate, args.twilio_concurrency)},
        {"name": "at500", "provider": "africastalking", "channel": "at", "rows": args.at_rows,
         "batch": 500, "rate": rate, "concurrency": args.at_concurrency,
         "metric": "recipients", "target": 50000,
         "conf": "[channel at]\nprovider = africastalking\nbase_url = %%(url)s\n"
                 "username = %s\napi_key = %s\nrate = %d\nbatch_size = 500\n"
                 "concurrency = %d\n" % (AT_USER, AT_KEY, rate, args.at_concurrency)},
    ]
    failures = []
    try:
        for sc in scenarios:
            if args.only and sc["name"] != args.only:
                continue
            failures += report(args, run_scenario(args, sc))
    finally:
        if not args.keep:
            shutil.rmtree(args.work, ignore_errors=True)
    for f in failures:
        print("bench-send: FAIL: " + f)
    if not failures:
        print("bench-send: ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
