#!/usr/bin/env python3
"""bench_api.py — the driver of `make bench-api` (mk/bench-api.mk).

Owns only the question "what does the operator surface cost the inbound
path": it reuses bench_inbound.py's daemon, mock aggregator, bare responder
and wrk script (the same load as `make bench-inbound`), and adds a scraper.

  1. one mock aggregator, one daemon (bench_inbound.Daemon, plus an [api]
     section with a viewer token unless --metrics-only), the bare responder;
  2. warm-up against both; then --rounds rounds, each of four wrk runs of
     --duration/(2*rounds) seconds: the gateway alone, the bare responder,
     the gateway while the scraper runs, the bare responder (the order of
     the two gateway runs alternates per round, as the store grows);
  3. the scraper, a thread of this process, every --interval-ms: GET
     /metrics, then one page of GET /api/v1/cases?limit=50[&cursor=C] with
     Authorization: Bearer <token>, following next_cursor and starting over
     at null. Any answer that is not 200 (or a body that is not what it
     should be) is a failure of the bench;
  4. prints both ratios (each mode's requests over those of the bare
     responder runs right after its own, summed over the rounds), the drop
     in points, the daemon's CPU per request in each mode, and the scrapes' and pages' count, p50 and max latency;
     exits 1 when the drop is over --max-drop or a check failed.
"""

import argparse
import http.client
import json
import os
import shutil
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import bench_inbound as bi  # noqa: E402
from mockagg import MockAggregator  # noqa: E402

TOKEN = "bench-secret-0123456789abcdef"


class ApiDaemon(bi.Daemon):
    """bench-inbound's daemon with a viewer token for the case list."""

    def __init__(self, *args, api=True, **kw):
        super().__init__(*args, **kw)
        self.api = api

    def write_config(self):
        super().write_config()
        if self.api:
            with open(self.conf, "a") as f:
                f.write("\n[api]\ntokens = bench:viewer:%s\n" % TOKEN)


class Scraper(threading.Thread):
    """Every interval: /metrics, then one page of the case list; records latencies."""

    def __init__(self, port, interval, cases):
        super().__init__(daemon=True)
        self.port, self.interval, self.cases = port, interval, cases
        self.running = threading.Event()
        self.quit = threading.Event()
        self.lat = {"metrics": [], "cases": []}
        self.failures = []
        self.cursor = None

    def get(self, conn, path, headers=None):
        t0 = time.monotonic()
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        body = r.read()
        return r.status, body, time.monotonic() - t0

    def step(self, conn):
        st, body, dt = self.get(conn, "/metrics")
        if st != 200 or b"talaash_inbound_messages_total" not in body:
            self.failures.append("GET /metrics answered %s" % st)
        self.lat["metrics"].append(dt)
        if not self.cases:
            return
        path = "/api/v1/cases?limit=50" + ("&cursor=" + self.cursor if self.cursor else "")
        st, body, dt = self.get(conn, path, {"Authorization": "Bearer " + TOKEN})
        self.lat["cases"].append(dt)
        if st != 200:
            self.failures.append("GET %s answered %s" % (path, st))
            return
        try:
            doc = json.loads(body)
            if not isinstance(doc.get("cases"), list) or "next_cursor" not in doc:
                raise ValueError("no cases/next_cursor")
            self.cursor = doc["next_cursor"]
        except ValueError as e:
            self.failures.append("GET %s: bad body (%s)" % (path, e))

    def run(self):
        conn = None
        while not self.quit.is_set():
            if not self.running.wait(0.05):
                if conn is not None:  # paused: the server would time the idle connection out
                    conn.close()
                    conn = None
                continue
            t0 = time.monotonic()
            try:
                conn = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                self.step(conn)
            except (OSError, http.client.HTTPException) as e:
                self.failures.append("scrape failed: %s" % e)
                conn.close()
                conn = None
            time.sleep(max(0.0, self.interval - (time.monotonic() - t0)))


def summary(name, v):
    if not v:
        return "  %-16s: none" % name
    v = sorted(v)
    return "  %-16s: %d requests, p50 %.1f ms, max %.1f ms" % (
        name, len(v), 1000 * v[len(v) // 2], 1000 * v[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--duration", type=int, default=60,
                    help="seconds of measured load per server and mode, over all rounds")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--interval-ms", type=int, default=100)
    ap.add_argument("--max-drop", type=float, default=2.0, help="points")
    ap.add_argument("--metrics-only", action="store_true",
                    help="scrape /metrics only (no [api] section, no case list)")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    if not (1 <= args.rounds <= 9 and args.duration >= 2 * args.rounds):
        ap.error("need 1 <= rounds <= 9 and duration >= 2 * rounds")

    build = os.path.join(ROOT, args.build) if not os.path.isabs(args.build) else args.build
    work = os.path.join(build, "bench", "api")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    seconds = max(1, args.duration // (2 * args.rounds))
    print("bench-api: wrk -t%d -c%d POST /sms/at (bench-inbound's load), %d rounds of %ds per "
          "server and mode; scraper every %d ms: GET /metrics%s"
          % (args.threads, args.connections, args.rounds, seconds, args.interval_ms,
             "" if args.metrics_only else " + GET /api/v1/cases?limit=50&cursor=C"), flush=True)
    mock = MockAggregator(build_dir=build, args=["--no-record-bodies", "--max-records", "0"])
    mock.start()
    gw = ApiDaemon(os.path.join(build, "talaash"), work, mock.url, "100000", 100,
                   dict(os.environ), api=not args.metrics_only)
    bare = None
    scraper = None
    quiet, scraped, bares = [], [], []
    paired = {"quiet": [], "scraped": []}  # the bare responder run right after each gateway run
    cpu = {"quiet": [0.0, 0], "scraped": [0.0, 0]}  # daemon CPU seconds, requests
    own = {"quiet": [0.0, 0.0], "scraped": [0.0, 0.0]}  # this process's CPU seconds, wall seconds
    failures = []
    try:
        gw.start()
        bare = bi.Bare(os.path.join(build, "bench", "bare_responder"))
        bi.wrk(args, gw.port, args.warmup, 0)
        bi.wrk(args, bare.port, args.warmup, 0)
        scraper = Scraper(gw.port, args.interval_ms / 1000.0, not args.metrics_only)
        scraper.start()
        phase = 1
        for i in range(args.rounds):
            for mode in (("quiet", "scraped") if i % 2 == 0 else ("scraped", "quiet")):
                if mode == "scraped":
                    scraper.running.set()
                c0, o0, t0 = bi.cpu_seconds(gw.proc.pid), os.times(), time.monotonic()
                r = bi.wrk(args, gw.port, seconds, phase)
                c1, o1, t1 = bi.cpu_seconds(gw.proc.pid), os.times(), time.monotonic()
                own[mode][0] += (o1.user + o1.system) - (o0.user + o0.system)
                own[mode][1] += t1 - t0
                scraper.running.clear()
                if c0 is not None and c1 is not None:
                    cpu[mode][0] += c1 - c0
                    cpu[mode][1] += r["requests"]
                (scraped if mode == "scraped" else quiet).append(r)
                br = bi.wrk(args, bare.port, seconds, phase)
                bares.append(br)
                paired[mode].append(br)
                phase += 1
        scraper.quit.set()
        scraper.join(5)
        rc = gw.stop()
        if rc != 0:
            failures.append("daemon exited %s; log:\n%s" % (rc, gw.tail()))
    finally:
        if scraper is not None:
            scraper.quit.set()
        gw.stop()
        mock.stop()
        if bare is not None:
            bare.stop()

    q, s, b = bi.combined(quiet), bi.combined(scraped), bi.combined(bares)
    # Each mode against the bare runs right after its own runs: a slow spell
    # of the shared machine then weighs on both sides of its ratio.
    rq = q["rps"] / bi.combined(paired["quiet"])["rps"]
    rs = s["rps"] / bi.combined(paired["scraped"])["rps"]
    drop = 100 * (rq - rs)
    print(bi.line("gateway alone", q))
    print(bi.line("gateway scraped", s))
    print(bi.line("bare_responder", b))
    print("  %-16s: alone %.1f %%, scraped %.1f %% of the bare responder: drop %.1f points "
          "(target <= %.1f)" % ("ratio", 100 * rq, 100 * rs, drop, args.max_drop))
    print("  %-16s: %s" % ("rounds", ", ".join(
        "alone %.1f %% / scraped %.1f %%" % (100 * a["rps"] / pa["rps"], 100 * c["rps"] / pc["rps"])
        for a, pa, c, pc in zip(quiet, paired["quiet"], scraped, paired["scraped"]))))
    print("  %-16s: alone %.1f us, scraped %.1f us per request (all its threads, with the "
          "scrapes' own work)" % ("daemon CPU", *(1e6 * cpu[k][0] / max(1, cpu[k][1])
                                                  for k in ("quiet", "scraped"))))
    print("  %-16s: alone %.1f %%, scraped %.1f %% of a core (the scraper's own cost, not the "
          "gateway's)" % ("bench process CPU", *(100 * own[k][0] / max(1e-9, own[k][1])
                                                 for k in ("quiet", "scraped"))))
    print(summary("GET /metrics", scraper.lat["metrics"]))
    if not args.metrics_only:
        print(summary("GET cases page", scraper.lat["cases"]))
    for r, name in ((q, "alone"), (s, "scraped")):
        if r["other"] or r["socket_errors"]:
            failures.append("gateway %s: %d non-2xx, %d socket errors"
                            % (name, r["other"], r["socket_errors"]))
    expected = (len(scraped) * seconds * 1000) // args.interval_ms // 2
    if len(scraper.lat["metrics"]) < expected:
        failures.append("only %d scrapes (expected at least %d)"
                        % (len(scraper.lat["metrics"]), expected))
    seen = set()
    for f in scraper.failures:
        if f not in seen:
            failures.append(f)
            seen.add(f)
    if drop > args.max_drop:
        failures.append("scraping cost %.1f points (more than %.1f)" % (drop, args.max_drop))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    for f in failures[:10]:
        print("bench-api: FAIL: " + f)
    if not failures:
        print("bench-api: ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
