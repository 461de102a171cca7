#!/usr/bin/env python3
"""bench_pg.py — the wave and send parts of `make bench-pg` (mk/bench-pg.mk), inside
the throw-away PostgreSQL cluster that pg_virtualenv starts for the run (the
inbound part is bench_inbound.py --store-url).

  1. wave: --subscribers Korangi subscribers written set-based into a new
     database; the raw baseline is one INSERT … SELECT of as many alert rows
     into the outbox (same table, same indexes), timed and rolled back; then
     the daemon: a parent reports, the officer VERIFYs, and the VERIFY's
     answer (200 after the wave committed) is timed. Target: <= --max-wave-s.
  2. sends: --messages subscribers; one node sends a wave of that many to the
     mock (answering each request after --send-delay-ms, no rate limit that
     binds), timed from the VERIFY to the last row sent; then a second node
     joins on the same database and a second case's wave to the same
     subscribers is sent by both. Target: two nodes >= --min-scale x one
     node's sends/s (bench_send says why the aggregator has a latency).
Prints the figures next to each other; exits 1 when a target is missed.
"""

import argparse
import os
import subprocess
import sys
import time
import urllib.parse
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
from talaash import Gateway, binary, wait_until, pg_new_database, pg_sql  # noqa: E402
from mockagg import MockAggregator  # noqa: E402

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
PARENT, PO1 = "+923001234567", "+923009990001"


def channels(mock_url, rate, batch, concurrency):
    return ("[alerts]\nchannel = alerts\nverification = police\nradius_km = 5\n\n"
            "[channel at]\nprovider = africastalking\nbase_url = %(M)s\nusername = bench\n"
            "api_key = k\nsender = 21512\nrate = 100000\n\n"
            "[channel alerts]\nprovider = africastalking\nbase_url = %(M)s\nusername = bench\n"
            "api_key = k\nsender = TALAASH\nrate = %(R)s\nbatch_size = %(B)d\n"
            "concurrency = %(C)d\n" % {"M": mock_url, "R": rate, "B": batch, "C": concurrency})


def sms(gw, phone, text, timeout=120.0):
    body = urllib.parse.urlencode({"from": phone, "to": "21512", "text": text,
                                   "id": str(uuid.uuid4()), "date": "2026-11-23 10:00:00"})
    return gw.request("POST", "/sms/at", body, FORM, timeout=timeout)[0]


def populate(url, n, prefix):
    """n Korangi subscribers, set-based; returns Korangi's code."""
    code = pg_sql(url, "SELECT code FROM areas WHERE name_en = 'Korangi'"
                  " ORDER BY length(code) DESC LIMIT 1")[0][0]
    now = int(time.time())
    pg_sql(url, "WITH s AS (INSERT INTO subscribers (phone, created_at, updated_at)"
           " SELECT ? || lpad(i::text, 7, '0'), ?, ? FROM generate_series(0, ? - 1) AS i"
           " RETURNING id, phone) INSERT INTO subscriptions (subscriber_id, area_code, phone,"
           " created_at) SELECT id, ?, phone, ? FROM s", (prefix, now, now, n, code, now))
    pg_sql(url, "ANALYZE")
    return code


def police(gw):
    p = subprocess.run([binary(), "police", "add", PO1, "--area", "Korangi", "-c", gw.conf_path],
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("police add: " + p.stderr)


def report(gw, name):
    """A parent's report; returns the new case's number."""
    before = set(r[0] for r in gw.sql("SELECT case_no FROM cases WHERE case_no IS NOT NULL"))
    if sms(gw, PARENT, "MISSING name: %s age: 8 boy area: Korangi" % name) != 200:
        raise RuntimeError("the report was not answered 200")
    new = [r[0] for r in gw.sql("SELECT case_no FROM cases WHERE case_no IS NOT NULL")
           if r[0] not in before]
    return new[0]


def raw_wave_s(url, code):
    """The baseline: one INSERT … SELECT of a wave's alert rows, committed, into a copy of
    the outbox with the same columns, defaults, constraints and indexes (dropped after)."""
    import psycopg2
    c = psycopg2.connect(dbname=url.rsplit("/", 1)[1])
    try:
        cur = c.cursor()
        cur.execute("CREATE TABLE outbox_raw (LIKE outbox INCLUDING ALL)")
        c.commit()
        t0 = time.monotonic()
        cur.execute("INSERT INTO outbox_raw (channel, phone, kind, priority, next_attempt_ms,"
                    " case_id, alert_id, created_at, updated_at) SELECT 'alerts', phone,"
                    " 'alert', 1, 0, 1, 1, 0, 0 FROM subscriptions WHERE area_code = %s",
                    (code,))
        n = cur.rowcount
        c.commit()
        dt = time.monotonic() - t0
        cur.execute("DROP TABLE outbox_raw")
        c.commit()
        return dt, n
    finally:
        c.close()


def bench_wave(args, mock):
    """The VERIFY's answer (the wave committed: its first chunks and the durable rest, its
    fan-out), then the fan-out queuing the rest ahead of the sender (sending at full speed
    to the mock) until every row is queued and every row is sent."""
    url = pg_new_database()
    gw = Gateway(channels=channels(mock.url, 100000, args.batch, args.concurrency),
                 store_url=url, log_level="warn").start()
    try:
        code = populate(url, args.subscribers, "+92302")
        police(gw)
        raw_s, raw_n = raw_wave_s(url, code)
        case_no = report(gw, "Bilal")
        wait_until(lambda: gw.sql("SELECT count(*) FROM outbox WHERE state = 'queued'")[0][0] == 0,
                   30)
        t0 = time.monotonic()
        status = sms(gw, PO1, "VERIFY %s" % case_no, timeout=600)
        wave_s = time.monotonic() - t0
        in_tx = gw.sql("SELECT count(*) FROM outbox WHERE kind = 'alert'")[0][0]
        fanout = gw.sql("SELECT count(*) FROM wave_fanout")[0][0]
        queued_s = sent_s = None
        if wait_until(lambda: gw.sql("SELECT count(*) FROM wave_fanout")[0][0] == 0, 900, 0.1):
            queued_s = time.monotonic() - t0
        if wait_until(lambda: sent_of(gw, case_no) >= args.subscribers + 1, 900, 0.25):
            sent_s = time.monotonic() - t0
        rows = gw.sql("SELECT count(*) FROM outbox WHERE kind = 'alert'")[0][0]
        gw.stop()
    finally:
        gw.close()
    return {"raw_s": raw_s, "raw_n": raw_n, "wave_s": wave_s, "rows": rows, "status": status,
            "in_tx": in_tx, "fanout": fanout, "queued_s": queued_s, "sent_s": sent_s}


def sent_of(gw, case_no):
    return gw.sql("SELECT count(*) FROM outbox o JOIN cases c ON c.id = o.case_id WHERE"
                  " c.case_no = ? AND o.kind = 'alert' AND o.state = 'sent'", (case_no,))[0][0]


def timed_send(nodes, case_no, n):
    t0 = time.monotonic()
    if sms(nodes[-1], PO1, "VERIFY %s" % case_no, timeout=600) != 200:
        raise RuntimeError("VERIFY not answered 200")
    if not wait_until(lambda: sent_of(nodes[0], case_no) >= n, 900, 0.25):
        raise RuntimeError("the wave was not sent within 900 s")
    return time.monotonic() - t0


def bench_send(args, mock):
    """Sends/s of one node, then of two, to an aggregator that answers each request after
    --send-delay-ms (a real one takes 100-300 ms): each node holds --send-concurrency
    requests of --send-batch recipients in flight, so what a second node adds is its own
    capacity, as it would in a deployment. With no delay the benchmark measures instead how
    two daemons, PostgreSQL and the mock share this machine's cores. Each phase starts
    after a CHECKPOINT, so neither pays for the writes of the one before."""
    url = pg_new_database()
    conf = channels(mock.url, 100000, args.send_batch, args.send_concurrency)
    a = Gateway(channels=conf, store_url=url, log_level="warn").start()
    b = None
    try:
        populate(url, args.messages, "+92303")
        police(a)
        n = args.messages + 1  # the subscribers and the officer
        case1 = report(a, "Bilal")
        wait_until(lambda: a.sql("SELECT count(*) FROM outbox WHERE state = 'queued'")[0][0] == 0,
                   30)
        mock.behaviour([{"path_prefix": "/version1/messaging", "delay_ms": args.send_delay_ms}])
        pg_sql(url, "CHECKPOINT")
        one_s = timed_send([a], case1, n)
        b = Gateway(channels=conf, store_url=url, log_level="warn").start()
        mock.behaviour([])
        case2 = report(a, "Sara")
        wait_until(lambda: a.sql("SELECT count(*) FROM outbox WHERE state = 'queued'")[0][0] == 0,
                   30)
        mock.behaviour([{"path_prefix": "/version1/messaging", "delay_ms": args.send_delay_ms}])
        pg_sql(url, "CHECKPOINT")
        two_s = timed_send([a, b], case2, n)
        mock.behaviour([])
        a.stop()
        b.stop()
    finally:
        a.close()
        if b is not None:
            b.close()
    return {"n": n, "one_s": one_s, "two_s": two_s}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--subscribers", type=int, default=1000000)
    ap.add_argument("--messages", type=int, default=200000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--send-batch", type=int, default=100)
    ap.add_argument("--send-concurrency", type=int, default=4)
    ap.add_argument("--send-delay-ms", type=int, default=100,
                    help="the mock's answer time for each send request of the sends part")
    ap.add_argument("--max-wave-s", type=float, default=3.0)
    ap.add_argument("--min-scale", type=float, default=1.7)
    args = ap.parse_args()
    failures = []
    mock = MockAggregator(args=["--no-record-bodies", "--max-records", "0"]).start()
    try:
        w = bench_wave(args, mock)
        print("bench-pg wave: a wave of %d recipients committed in %.2f s by the daemon (VERIFY"
              " answered %s: %d rows in its transaction, %s) vs %.2f s for the raw INSERT …"
              " SELECT of %d rows on the same PostgreSQL; target <= %.1f s"
              % (w["rows"], w["wave_s"], w["status"], w["in_tx"],
                 "the rest its fan-out" if w["fanout"] else "the whole wave",
                 w["raw_s"], w["raw_n"], args.max_wave_s), flush=True)
        print("bench-pg wave: every row queued %s after the VERIFY was sent (the fan-out ahead of"
              " the sender), every row sent %s (= %s recipients/s)"
              % ("%.1f s" % w["queued_s"] if w["queued_s"] else "NOT within 900 s",
                 "%.1f s" % w["sent_s"] if w["sent_s"] else "NOT within 900 s",
                 "%.0f" % (w["rows"] / w["sent_s"]) if w["sent_s"] else "-"), flush=True)
        if w["status"] != 200 or w["rows"] != args.subscribers + 1 or not w["sent_s"]:
            failures.append("the wave: status %s, %d rows" % (w["status"], w["rows"]))
        if w["wave_s"] > args.max_wave_s:
            failures.append("the wave took %.2f s" % w["wave_s"])
        s = bench_send(args, mock)
        r1, r2 = s["n"] / s["one_s"], s["n"] / s["two_s"]
        print("bench-pg sends: %d messages: 1 node %.1f s = %.0f/s; 2 nodes %.1f s = %.0f/s"
              " (%.2f x; target >= %.1f x); batch %d, concurrency %d per node, the aggregator"
              " answering each request in %d ms"
              % (s["n"], s["one_s"], r1, s["two_s"], r2, r2 / r1, args.min_scale,
                 args.send_batch, args.send_concurrency, args.send_delay_ms), flush=True)
        if r2 / r1 < args.min_scale:
            failures.append("2 nodes are %.2f x one node" % (r2 / r1))
    finally:
        mock.stop()
    for f in failures:
        print("bench-pg: FAIL: " + f)
    if not failures:
        print("bench-pg: ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
