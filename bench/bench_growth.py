#!/usr/bin/env python3
"""bench_growth.py — the driver of `make bench-growth` (mk/bench-growth.mk).

Owns only the growth benchmark: a work directory under BUILD/bench/growth
(config, store, log, test clock; removed at the end unless --keep), two mock
aggregators (`at` for replies, `alerts` for alerts and updates) and the
daemon, all on 127.0.0.1. The store and daemon setup are bench_broadcast.py's
(its Daemon, populate and police registration); the inbound load is
bench-inbound's wrk script.

  1. --subscribers Karachi subscribers straight in the store, a police
     officer for Karachi, the daemon with the test clock (TALAASH_TEST_CLOCK_FILE)
     and the default [store] keep_sent = 30d, keep_inbound = 30d (default
     90d: inbound rows of no case would stay three cycles, so the size would
     settle only from the third cycle on);
  2. --cycles times: a new parent reports, the officer VERIFYs (a wave to
     every subscriber), every alert is sent; FOUND (an update to each), every
     update is sent; wrk (bench_inbound.lua) sends --wrk-requests inbound
     SMS (each queues a reply, sent at once) to the daemon, its store
     holding the cycle's two million messages, and as many to bench-inbound's
     bare responder, in --wrk-rounds alternations (so a slow spell of the
     shared machine shows in both, and the share is what is compared). A
     fixed number, not a fixed time: a timed run stores more messages the
     faster it goes, and the file grew to the fastest cycle's (the step at
     cycle 4 of the 20 x 250,000 run came with its inbound 11,927/s against
     9,454/s before; 8 x 50,000 timed: 46 -> 52 -> 56 -> 61 MB at each new
     fastest cycle, 47 -> 48 MB with 40,000 requests). --wrk-requests 0 runs
     --wrk-seconds instead, else those are the cap. Then the test clock
     moves on keep_sent + 1 day, and the pruner's pass goes through the case
     (cases.outbox_pruned_at is set at a pass's end) and the rest;
  3. prints per cycle: the database file's size and used pages (page_count
     - freelist_count), the WAL's size, outbox / inbound / tally rows, the
     pass's wall time, inbound requests/s with p50/p99, the cycle's wall
     time; and a line with the pages used just before the pass (the cycle's
     peak, which the file must hold) and the largest tables then (dbstat);
  4. fails when a cycle's database file is more than --max-growth above
     the first cycle's, when the last third of the cycles' median inbound
     share of the bare responder's requests/s falls below 85 % of the first
     third's, or when a wave or
     a pass does not complete.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench_broadcast as bb  # noqa: E402
from bench_inbound import Bare, wrk as wrk_run  # noqa: E402
from mockagg import MockAggregator  # noqa: E402
from talaash import write_clock  # noqa: E402

DAY = 86400
KEEP_SENT = 30 * DAY


class GrowthDaemon(bb.Daemon):
    """bench_broadcast's daemon, with replies sent as fast as the mock takes them and
    [store] keep_inbound = 30d."""

    def write_config(self):
        super().write_config()
        with open(self.conf) as f:
            text = f.read()
        text = text.replace("sender = 21512\nrate = 1000\n",
                            "sender = 21512\nrate = 100000\nbatch_size = 100\n")
        # inbound messages kept as long as sent ones, so one cycle ages out all of them
        text = text.replace("[store]\n", "[store]\nkeep_inbound = 30d\n")
        with open(self.conf, "w") as f:
            f.write(text)


class WrkArgs:
    def __init__(self, connections):
        self.threads, self.connections = 1, connections


def pending(d):
    """Messages queued or in flight (both read through their partial indexes)."""
    return d.sql("SELECT (SELECT count(*) FROM outbox WHERE state = 'queued')"
                 " + (SELECT count(*) FROM outbox INDEXED BY outbox_sending"
                 " WHERE state = 'sending')")[0][0]


def idle(d):
    """No message queued or in flight; cheaper than pending() (no count of a
    million index entries twice a second while the daemon sends)."""
    return d.sql("SELECT NOT EXISTS (SELECT 1 FROM outbox WHERE state = 'queued')"
                 " AND NOT EXISTS (SELECT 1 FROM outbox INDEXED BY outbox_sending"
                 " WHERE state = 'sending')")[0][0] == 1


def drained(d, timeout, what):
    if bb.wait_until(lambda: idle(d), timeout, 0.05, 0.5) is not True:
        raise RuntimeError("%s: %d messages still pending after %d s; log:\n%s"
                           % (what, pending(d), timeout, d.tail()))


def sizes(d):
    db = os.path.getsize(d.db)
    wal = os.path.getsize(d.db + "-wal") if os.path.exists(d.db + "-wal") else 0
    pages, free, page = d.sql("SELECT (SELECT page_count FROM pragma_page_count),"
                              " (SELECT freelist_count FROM pragma_freelist_count),"
                              " (SELECT page_size FROM pragma_page_size)")[0]
    return db, wal, (pages - free) * page


def inbound_load(args, port, bare_port, cycle):
    """--wrk-rounds alternations of wrk at the daemon and at the bare responder,
    each with its share of --wrk-requests (or --wrk-seconds); the two servers'
    combined runs: requests/s over the rounds, median p50, worst p99."""
    runs = ([], [])
    n = args.wrk_requests // args.wrk_rounds if args.wrk_requests > 0 else 0
    for i in range(args.wrk_rounds):
        phase = 100 + 10 * cycle + i  # ids unique per round; the senders' numbers per round
        for k, p in enumerate((port, bare_port)):
            runs[k].append(wrk_run(WrkArgs(args.connections), p, args.wrk_seconds, phase, n))
    out = []
    for rs in runs:
        requests = sum(x["requests"] for x in rs)
        out.append({"rps": requests / sum(x["requests"] / x["rps"] for x in rs),
                    "p50_us": statistics.median(x["p50_us"] for x in rs),
                    "p99_us": max(x["p99_us"] for x in rs)})
    return out


def tables(d, top=8):
    """The largest tables and indexes (dbstat: pages in use), MB, largest first."""
    return d.sql("SELECT name, pgsize FROM dbstat WHERE aggregate = 1"
                 " ORDER BY pgsize DESC LIMIT ?", (top,))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--cycles", type=int, default=20)
    ap.add_argument("--subscribers", type=int, default=1000000)
    ap.add_argument("--wrk-requests", type=int, default=40000)
    ap.add_argument("--wrk-seconds", type=int, default=30)
    ap.add_argument("--wrk-rounds", type=int, default=2)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--max-growth", type=float, default=0.05)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    build = args.build if os.path.isabs(args.build) else os.path.join(os.path.dirname(HERE),
                                                                       args.build)
    binary = os.path.join(build, "talaash")
    work = os.path.join(build, "bench", "growth")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    clock_file = os.path.join(work, "clock")
    offset = 0
    write_clock(clock_file, offset)
    os.environ["TALAASH_TEST_CLOCK_FILE"] = clock_file
    t_begin = bb.mono()
    fails, rows = [], []

    mock_at = MockAggregator(build_dir=build, args=["--no-record-bodies", "--max-records", "0"])
    mock_at.start()
    mock_alerts = MockAggregator(build_dir=build, args=["--no-record-bodies", "--max-records", "0"])
    mock_alerts.start()
    d = GrowthDaemon(binary, work, mock_at, mock_alerts)
    bare = Bare(os.path.join(build, "bench", "bare_responder"))
    try:
        d.write_config()
        d.start()
        d.stop()
        towns = bb.karachi_towns(binary, d.conf)
        subs, subscriptions, _ = bb.populate(d.db, args.subscribers, towns)
        p = subprocess.run([binary, "police", "add", bb.POLICE, "--area", "Karachi", "-c", d.conf],
                           capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            raise RuntimeError("police add failed: " + p.stderr)
        d.start()
        bb.say("bench-growth: %d subscribers (%d subscriptions), %d cycles of alert + update to"
               " each, keep_sent = 30d (the test clock moves 31 days a cycle), then %s of"
               " inbound SMS (wrk -c%d)"
               % (subs, subscriptions, args.cycles,
                  "%d requests" % args.wrk_requests if args.wrk_requests > 0
                  else "%d s" % args.wrk_seconds, args.connections))
        bb.say("  cycle  db file   used      WAL   outbox  inbound tallies  wave s  send s  prune s"
               "  inbound/s gw/bare  ratio  p50 ms  p99 ms")
        seq = 0
        for cycle in range(1, args.cycles + 1):
            def sms(phone, text, timeout=30):
                nonlocal seq
                seq += 1
                return d.sms(phone, text, seq, timeout)
            t_cycle = bb.mono()
            parent = "+92300%07d" % cycle
            if sms(parent, "MISSING name: Ali age: 7 boy area: Korangi") != 200:
                raise RuntimeError("report refused; log:\n" + d.tail())
            case_id, case_no = d.sql("SELECT id, case_no FROM cases WHERE reporter_phone = ?"
                                     " ORDER BY id DESC LIMIT 1", (parent,))[0]
            t0 = bb.mono()
            if sms(bb.POLICE, "VERIFY %s" % case_no, timeout=120) != 200:
                raise RuntimeError("VERIFY refused; log:\n" + d.tail())
            wave_s = bb.mono() - t0
            drained(d, 300, "cycle %d alerts" % cycle)
            if sms(bb.POLICE, "FOUND %s" % case_no, timeout=120) != 200:
                raise RuntimeError("FOUND refused; log:\n" + d.tail())
            drained(d, 300, "cycle %d updates" % cycle)
            send_s = bb.mono() - t0
            sent = d.sql("SELECT count(*) FROM outbox WHERE case_id = ? AND state = 'sent'",
                         (case_id,))[0][0]
            r, rb = inbound_load(args, d.port, bare.port, cycle)
            drained(d, 300, "cycle %d replies" % cycle)
            peak = sizes(d)[2], tables(d)
            offset += KEEP_SENT + DAY
            write_clock(clock_file, offset)
            t1 = bb.mono()
            done = bb.wait_until(lambda: d.sql("SELECT outbox_pruned_at IS NOT NULL FROM cases"
                                               " WHERE id = ?", (case_id,))[0][0] == 1,
                                 300, 0.05, 0.25)
            prune_s = bb.mono() - t1
            if done is not True:
                raise RuntimeError("cycle %d: no pruning pass within 300 s; log:\n%s"
                                   % (cycle, d.tail()))
            left = d.sql("SELECT count(*) FROM outbox WHERE case_id = ?", (case_id,))[0][0]
            if left:
                fails.append("cycle %d: %d rows of the case left after its pass" % (cycle, left))
            db, wal, used = sizes(d)
            outbox, inbound, tallies = d.sql("SELECT (SELECT count(*) FROM outbox),"
                                             " (SELECT count(*) FROM inbound),"
                                             " (SELECT sum(n) FROM outbox_tallies)")[0]
            rows.append({"db": db, "rps": r["rps"] / rb["rps"]})
            bb.say("  %5d %6.0f MB %6.0f MB %5.0f MB %8d %8d %7.1fM %7.2f %7.1f %8.1f %9.0f/%-6.0f"
                   " %5.1f %% %7.2f %7.2f   (%d sent, cycle %.0f s)"
                   % (cycle, db / 1e6, used / 1e6, wal / 1e6, outbox, inbound, tallies / 1e6,
                      wave_s, send_s, prune_s, r["rps"], rb["rps"], 100 * r["rps"] / rb["rps"],
                      r["p50_us"] / 1e3, r["p99_us"] / 1e3, sent, bb.mono() - t_cycle))
            bb.say("        before its pass: %.0f MB used; %s"
                   % (peak[0] / 1e6, ", ".join("%s %.1f" % (n, b / 1e6) for n, b in peak[1])))
        rc = d.stop()
        if rc != 0:
            fails.append("daemon exit status %s" % rc)
    finally:
        d.stop()
        bare.stop()
        mock_alerts.stop()
        mock_at.stop()

    if rows:
        first = rows[0]["db"]
        worst = max(r["db"] for r in rows)
        third = max(1, len(rows) // 3)
        early = statistics.median(r["rps"] for r in rows[:third])
        late = statistics.median(r["rps"] for r in rows[-third:])
        bb.say("  database file: first cycle %.0f MB, largest %.0f MB (+%.1f %%, target <= +%.0f %%);"
               " inbound as a share of the bare responder's: first %d cycles' median %.1f %%,"
               " last %d cycles' %.1f %% (%.0f %% of it, target >= 85 %%)"
               % (first / 1e6, worst / 1e6, (worst / first - 1) * 100, args.max_growth * 100,
                  third, early * 100, third, late * 100, late / early * 100))
        if worst > first * (1 + args.max_growth):
            fails.append("database grew %.1f %%" % ((worst / first - 1) * 100))
        if late < 0.85 * early:
            fails.append("inbound fell to %.0f %%" % (late / early * 100))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    bb.say("bench-growth: %.0f s in all; %s" % (bb.mono() - t_begin, "all targets met" if not fails
                                                 else "MISSED: " + "; ".join(fails)))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
