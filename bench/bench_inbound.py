#!/usr/bin/env python3
"""bench_inbound.py — the driver of `make bench-inbound` (mk/bench-inbound.mk).

Owns only the inbound-SMS benchmark: a work directory under
BUILD/bench/inbound (config, store, log; removed at the end unless --keep),
one mock aggregator, the daemon and the bare responder, all on 127.0.0.1.

  1. start BUILD/mock_aggregator --no-record-bodies --max-records 0 and the
     daemon (log level warn) with one Africa's Talking channel `at` whose
     base_url is the mock, rate 100000/s, batch_size 100: every inbound SMS
     ("HELP") queues a reply and the replies really are sent while the load
     runs — the gateway does its whole job, which makes the comparison
     stricter, not easier (see --reply-rate to starve the sender instead);
  2. BUILD/bench/bare_responder (the barest libevent server: no parsing, no
     storage) — the baseline — running beside it;
  3. wrk (bench/bench_inbound.lua: unique id and sender per request, same
     -t/-c) for --warmup seconds against each, then --rounds rounds, each
     --duration/--rounds seconds against the gateway and then as long
     against the bare responder: interleaved, so a slow spell of this
     shared machine hits both and not one (the ratio is of the summed
     requests and seconds; each round's ratio is printed too);
  4. stop the daemon (SIGTERM) and check the store: every 2xx is a committed
     inbound row. The rows must number the 2xx of all wrk runs plus at most
     the requests wrk had sent but not seen answered when it stopped (it
     closes its sockets at the deadline; the daemon still commits those);
  5. print both requests/s, the ratio, p50 (median of the rounds) and p99
     (worst round) latency, each round's p50/p99 for both, rows committed;
     exit 1 when the ratio is below --min-ratio, the gateway's p99 is above
     --max-p99-ratio times the bare responder's, or a check fails.
--perf samples the daemon with `perf record` during the measured run and
prints the gateway functions' inclusive shares of its CPU; --what-if no-trim
runs the daemon with glibc's heap trimming off (GLIBC_TUNABLES), the fix
this benchmark suggests for the brk() after every SQLite ephemeral table.
"""

import argparse
import http.client
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
from mockagg import MockAggregator, read_port  # noqa: E402

LUA = os.path.join(ROOT, "bench", "bench_inbound.lua")
CHANNEL = "at"
NO_TRIM = "glibc.malloc.trim_threshold=268435456"
GATEWAY_FN = re.compile(r"\b(callbacks_sms_cb|commands_handle|store_\w+|cases_\w+|"
                        r"subscribers_\w+|pump|transfer_record|check_multi_info|"
                        r"curl_multi_socket_action|at_\w+|http_reply|evhttp_\w+|"
                        r"sqlite3_step|sqlite3_exec|fdatasync|__brk|_int_free|log_\w+)\b")


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


def http_status(port, path, timeout=1.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    except OSError:
        return None
    finally:
        conn.close()


class Daemon:
    """The gateway as a child process, on a free port, with its own config and store."""

    def __init__(self, binary, work, mock_url, rate, batch, env=None, store_url=None):
        self.binary = binary
        self.store_url = store_url  # PostgreSQL (bench-pg) instead of the SQLite file
        self.env = env
        self.work = work
        self.db = os.path.join(work, "talaash.db")
        self.conf = os.path.join(work, "gateway.conf")
        self.log = os.path.join(work, "daemon.log")
        self.mock_url = mock_url
        self.rate = rate
        self.batch = batch
        self.proc = None
        self.port = None

    def write_config(self):
        store = ("backend = postgresql\nurl = %s" % self.store_url if self.store_url
                 else "path = %s" % self.db)
        with open(self.conf, "w") as f:
            f.write("[server]\nlisten = 127.0.0.1:%d\n\n"
                    "[store]\n%s\n\n"
                    "[log]\nlevel = warn\n\n"
                    "[channel %s]\nprovider = africastalking\nbase_url = %s\n"
                    "username = bench\napi_key = bench-key\nsender = 21512\n"
                    "rate = %s\nbatch_size = %d\nconcurrency = 8\n"
                    % (self.port, store, CHANNEL, self.mock_url, self.rate, self.batch))

    def start(self, timeout=15.0):
        for _ in range(5):
            self.port = free_port()
            self.write_config()
            with open(self.log, "ab") as log:
                self.proc = subprocess.Popen([self.binary, "serve", "-c", self.conf],
                                             stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                             cwd=self.work, env=self.env)
            up = wait_until(lambda: self.proc.poll() is not None
                            or http_status(self.port, "/healthz") == 200, timeout)
            if up and self.proc.poll() is None:
                with open(os.path.join(self.work, "daemon.pid"), "w") as f:
                    f.write("%d\n" % self.proc.pid)
                return
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            if "cannot listen" not in self.tail():
                break
        raise RuntimeError("daemon did not start; log:\n" + self.tail())

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

    def sql(self, query):
        if self.store_url:
            from talaash import pg_sql
            return pg_sql(self.store_url, query)
        db = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True, timeout=10)
        try:
            return db.execute(query).fetchall()
        finally:
            db.close()


class Bare:
    """BUILD/bench/bare_responder on an ephemeral port."""

    def __init__(self, binary):
        self.proc = subprocess.Popen([binary, "--listen", "127.0.0.1:0"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
        try:
            self.port = read_port(self.proc, 10, "bare_responder")
        except Exception:
            self.proc.kill()
            self.proc.wait()
            raise

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        return self.proc.returncode


def perf_start(pid, seconds, out):
    return subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-F", "499",
                             "--call-graph", "dwarf,32768", "-p", str(pid), "-o", out,
                             "--", "sleep", str(seconds)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def perf_summary(data):
    out = subprocess.run(["perf", "report", "-i", data, "--stdio", "--children",
                          "--sort", "symbol", "-g", "none"],
                         capture_output=True, text=True, timeout=300)
    rows = []
    for ln in out.stdout.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+([\d.]+)%\s+\[\.\]\s+(\S+)", ln)
        if m and GATEWAY_FN.search(m.group(3)) and m.group(3) not in [r[1] for r in rows]:
            rows.append((float(m.group(1)), m.group(3)))
    return rows[:18]


def cpu_seconds(pid):
    """User + system CPU seconds a live process has used (from /proc), or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def wrk_limited(cmd, threads, seconds):
    """wrk ended by SIGINT (it prints its summary) once each of its threads has
    printed bench_inbound_limit:, or by its -d; a CompletedProcess."""
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    timer = threading.Timer(seconds + 60, p.kill)
    timer.start()
    lines, reached = [], 0
    try:
        for ln in p.stdout:
            lines.append(ln)
            if ln.startswith("bench_inbound_limit:"):
                reached += 1
                if reached == threads:
                    p.send_signal(signal.SIGINT)
        err = p.stderr.read()
        p.wait()
    finally:
        timer.cancel()
    return subprocess.CompletedProcess(cmd, p.returncode, "".join(lines), err)


def wrk(args, port, seconds, phase, limit=0):
    """One wrk run (each thread stopping after `limit` answers when > 0, after
    `seconds` at the latest); returns the dict of bench_inbound.lua's done() line."""
    cmd = ["wrk", "-t", str(args.threads), "-c", str(args.connections), "-d", "%ds" % seconds,
           "--timeout", "10s", "-s", LUA, "http://127.0.0.1:%d" % port,
           "--", "/sms/%s" % CHANNEL, str(phase), str(limit)]
    if limit > 0:
        out = wrk_limited(cmd, args.threads, seconds)
    else:
        out = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                             timeout=seconds + 60)
    m = re.search(r"^bench_inbound: (.*)$", out.stdout, re.M)
    if out.returncode != 0 or not m:
        raise RuntimeError("wrk failed (%d):\n%s\n%s" % (out.returncode, out.stdout, out.stderr))
    r = {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
    if limit > 0 and r["span_us"] == 0:
        raise RuntimeError("wrk: %d of %d requests answered in %d s"
                           % (r["requests"], limit, seconds))
    r["rps"] = r["requests"] / ((r["span_us"] if limit > 0 else r["duration_us"]) / 1e6)
    r["unanswered"] = r["sent"] - r["ok2xx"] - r["other"]
    r["socket_errors"] = r["err_connect"] + r["err_read"] + r["err_write"] + r["err_timeout"]
    return r


def combined(runs):
    """The rounds of one server as one run: sums, the median p50 and the worst p99."""
    r = {k: sum(x[k] for x in runs) for k in ("requests", "duration_us", "ok2xx", "other",
                                              "socket_errors", "unanswered")}
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    r["p50_us"] = sorted(x["p50_us"] for x in runs)[len(runs) // 2]
    r["p99_us"] = max(x["p99_us"] for x in runs)
    return r


def line(name, r):
    return ("  %-16s: %8.0f req/s   p50 %6.2f ms   p99 %6.2f ms   (%d 2xx, %d other, "
            "%d socket errors)" % (name, r["rps"], r["p50_us"] / 1e3, r["p99_us"] / 1e3,
                                   r["ok2xx"], r["other"], r["socket_errors"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--duration", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=4,
                    help="gateway and bare responder runs alternate this many times")
    ap.add_argument("--min-ratio", type=float, default=0.45)
    ap.add_argument("--max-p99-ratio", type=float, default=3.0,
                    help="the gateway's p99 at most this many times the bare responder's")
    ap.add_argument("--reply-rate", default="100000",
                    help="the channel's rate (messages/s); 0.1 starves the sender")
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--perf", action="store_true", help="profile the daemon during the run")
    ap.add_argument("--what-if", default="", choices=["", "no-trim"])
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--store-url", default=None,
                    help="a postgresql:// database instead of SQLite (make bench-pg)")
    args = ap.parse_args()
    if not (1 <= args.threads <= 9 and args.connections >= args.threads
            and 1 <= args.duration <= 300 and 1 <= args.warmup <= 60
            and 1 <= args.rounds <= 9):
        ap.error("need 1 <= threads <= 9 <= connections, duration 1..300, warm-up 1..60, "
                 "rounds 1..9")

    build = os.path.join(ROOT, args.build) if not os.path.isabs(args.build) else args.build
    daemon_bin = os.path.join(build, "talaash")
    bare_bin = os.path.join(build, "bench", "bare_responder")
    work = os.path.join(build, "bench", "inbound")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    failures = []
    if args.store_url:
        print("bench-inbound: on PostgreSQL (%s)" % args.store_url)
    print("bench-inbound: wrk -t%d -c%d, %ds warm-up + %ds measured per server; "
          "POST /sms/%s (Africa's Talking form, text=HELP, unique id and sender each)"
          % (args.threads, args.connections, args.warmup, args.duration, CHANNEL), flush=True)

    mock = MockAggregator(build_dir=build, args=["--no-record-bodies", "--max-records", "0"])
    mock.start()
    env = dict(os.environ)
    if args.what_if == "no-trim":
        env["GLIBC_TUNABLES"] = NO_TRIM
        print("  WHAT-IF run, not the gateway as shipped: daemon with GLIBC_TUNABLES=" + NO_TRIM)
    gw = Daemon(daemon_bin, work, mock.url, args.reply_rate, args.batch, env, args.store_url)
    bare = None
    perf = None
    rounds = []
    try:
        gw.start()
        bare = Bare(bare_bin)
        warm = wrk(args, gw.port, args.warmup, 0)
        wrk(args, bare.port, args.warmup, 0)
        if args.perf:
            perf = perf_start(gw.proc.pid, max(1, args.duration - 2),
                              os.path.join(work, "perf.data"))
        cpu_used = cpu_time = 0.0
        round_seconds = max(1, args.duration // args.rounds)
        for i in range(args.rounds):
            cpu0, t0 = cpu_seconds(gw.proc.pid), mono()
            gr = wrk(args, gw.port, round_seconds, 1 + i)
            cpu1, t1 = cpu_seconds(gw.proc.pid), mono()
            if cpu0 is not None and cpu1 is not None:
                cpu_used, cpu_time = cpu_used + cpu1 - cpu0, cpu_time + t1 - t0
            rounds.append((gr, wrk(args, bare.port, round_seconds, 1 + i)))
        g = combined([gr for gr, _ in rounds])
        b = combined([br for _, br in rounds])
        g["cpu_share"] = cpu_used / cpu_time if cpu_time else None
        if perf is not None:
            perf.wait(args.duration + 60)
        # replies still queued are sent within a few seconds at this rate
        if float(args.reply_rate) >= 1000:
            wait_until(lambda: gw.sql("SELECT count(*) FROM outbox WHERE state IN "
                                      "('queued','sending')")[0][0] == 0, 20, 0.05, 0.2)
        rc = gw.stop()
        if rc != 0:
            failures.append("daemon exited %s; log:\n%s" % (rc, gw.tail()))
        rows, processed = gw.sql("SELECT count(*), count(*) FILTER (WHERE state = 'processed') "
                                 "FROM inbound")[0]
        out_rows, out_sent = gw.sql("SELECT count(*), count(*) FILTER (WHERE state = 'sent') "
                                    "FROM outbox")[0]
        stats = mock.stats()
    finally:
        gw.stop()
        mock.stop()
        if bare is not None:
            bare.stop()

    acked = g["ok2xx"] + warm["ok2xx"]
    inflight = max(0, g["unanswered"]) + max(0, warm["unanswered"])
    ratio = g["rps"] / b["rps"] if b["rps"] else 0.0
    print(line("gateway", g) + (" daemon CPU %.0f %%" % (100 * g["cpu_share"])
                                 if g["cpu_share"] is not None else ""))
    print(line("bare_responder", b))
    print("  %-16s: %.1f %% of the bare responder's requests/s (target >= %.0f %%); "
          "rounds: %s" % ("ratio", ratio * 100, args.min_ratio * 100,
                          ", ".join("%.0f/%.0f = %.1f %%" % (gr["rps"], br["rps"],
                                                              100 * gr["rps"] / br["rps"])
                                    for gr, br in rounds)))
    p99_ratio = g["p99_us"] / b["p99_us"] if b["p99_us"] else float("inf")
    print("  %-16s: gateway p99 %.2f ms = %.1f x the bare responder's %.2f ms (target <= %.1f x;"
          " each the worst of its rounds)" % ("tail", g["p99_us"] / 1e3, p99_ratio,
                                               b["p99_us"] / 1e3, args.max_p99_ratio))
    for i, (gr, br) in enumerate(rounds):
        print("  %-16s  gateway p50 %6.2f ms p99 %7.2f ms | bare p50 %6.2f ms p99 %7.2f ms"
              % ("round %d" % (i + 1), gr["p50_us"] / 1e3, gr["p99_us"] / 1e3,
                 br["p50_us"] / 1e3, br["p99_us"] / 1e3))
    print("  %-16s: %d inbound rows (%d processed) = %d 2xx (%d measured + %d warm-up) + %d "
          "sent but unanswered when wrk stopped (at most %d)"
          % ("store", rows, processed, acked, g["ok2xx"], warm["ok2xx"], rows - acked, inflight))
    print("  %-16s: %d replies queued, %d sent to the mock in %d requests (rate %s/s, "
          "batch_size %d)" % ("replies", out_rows, out_sent, stats["requests"], args.reply_rate,
                              args.batch))
    if perf is not None:
        print("  perf (daemon during the measured run; inclusive share of its CPU samples):")
        for pct, fn in perf_summary(os.path.join(work, "perf.data")):
            print("      %6.2f%%  %s" % (pct, fn))
    if g["other"] or g["socket_errors"]:
        failures.append("the gateway answered %d non-2xx and had %d socket errors"
                        % (g["other"], g["socket_errors"]))
    if rows < acked:
        failures.append("%d requests were answered 2xx but are not in the store" % (acked - rows))
    if rows > acked + inflight:
        failures.append("%d more rows than requests sent" % (rows - acked - inflight))
    if processed != rows:
        failures.append("%d inbound rows not processed" % (rows - processed))
    if p99_ratio > args.max_p99_ratio:
        failures.append("p99 %.1f x the bare responder's, above %.1f x"
                        % (p99_ratio, args.max_p99_ratio))
    if ratio < args.min_ratio:
        failures.append("ratio %.1f %% is below %.0f %%" % (ratio * 100, args.min_ratio * 100))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    for f in failures:
        print("bench-inbound: FAIL: " + f)
    if not failures:
        print("bench-inbound: ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
