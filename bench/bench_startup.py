#!/usr/bin/env python3
"""bench_startup.py — the driver of `make bench-startup` (mk/bench-growth.mk).

Owns only the start-up benchmark: a work directory under BUILD/bench/startup
(two stores, configs, logs; removed at the end unless --keep) and one mock
aggregator that the daemon's channels point at.

  1. start/stop the daemon once on each of two stores (schema + areas):
     `empty` (the baseline) and `big`; fill `big` with --rows outbox rows
     (default 10,000,000) straight in SQLite, set-based: waves of 1,000,000
     alert rows per ended case, all delivered but --inflight rows left
     'sending' as a kill -9 leaves them (runs of 250 consecutive rows, one
     per request in flight, spread over the whole table), plus
     a queued reply; checkpoint, so no WAL is replayed;
  2. --rounds rounds, alternating empty and big (so a slow spell of the
     shared machine hits both): spawn `talaash serve` and time until
     /healthz answers 200, then SIGTERM; the big store's restarts find the
     requeued rows sent by then and leave 'sending' rows again before the
     next round (the same SQL), so every round recovers --inflight rows;
  3. print every round, the median of each store and the difference, and
     what recovery would cost without the partial index (the same UPDATE
     NOT INDEXED, timed in a transaction rolled back);
  4. fail when the big store's median start-up exceeds --max-seconds (1 s)
     or a daemon start recovers the wrong number of rows.
"""

import argparse
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_broadcast import Daemon, mono, say  # noqa: E402
from mockagg import MockAggregator  # noqa: E402

WAVE = 1000000


def fill(db_path, rows, inflight):
    """rows outbox rows in waves of WAVE per case (ended cases with their alerts)."""
    db = sqlite3.connect(db_path, isolation_level=None)
    db.execute("PRAGMA synchronous = OFF")
    db.execute("PRAGMA cache_size = -262144")
    now = int(time.time())
    ncases = (rows + WAVE - 1) // WAVE
    db.execute("BEGIN")
    for c in range(1, ncases + 1):
        db.execute("INSERT INTO cases (id, case_no, state, created_at, updated_at, closed_at)"
                   " VALUES (?1, printf('7%05d', ?1), 'found', ?2, ?2, ?2)", (c, now))
        db.execute("INSERT INTO alerts (id, case_id, kind, text_en, text_ur, text_roman_ur,"
                   " created_at) VALUES (?1, ?1, 'alert', 'alert', 'alert', 'alert', ?2)",
                   (c, now))
    # Row i belongs to case i / WAVE + 1; phones in order within a case (outbox_alert_once
    # is appended to, as a real wave does).
    db.execute("""
        WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?1 - 1)
        INSERT INTO outbox (id, channel, phone, kind, priority, state, attempts,
                            next_attempt_ms, provider_id, case_id, alert_id, created_at,
                            updated_at)
        SELECT i + 1, 'alerts', printf('+9231%08d', i % ?2), 'alert', 2, 'delivered', 1,
               ?3 * 1000, printf('ATPid_%d', i + 1), i / ?2 + 1, i / ?2 + 1, ?3, ?3
          FROM n""", (rows, WAVE, now))
    db.execute("INSERT INTO outbox (channel, phone, text, kind, priority, state,"
               " next_attempt_ms, created_at, updated_at) VALUES"
               " ('at', '+923001234567', 'queued reply', 'reply', 1, 'queued', 0, ?1, ?1)", (now,))
    db.execute("COMMIT")
    leave_inflight(db, rows, inflight)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    n = db.execute("SELECT count(*) FROM outbox").fetchone()[0]
    db.close()
    return n


RUN = 250  # rows in flight together: a request's batch is consecutive rows in queue order


def leave_inflight(db, rows, inflight):
    """Puts `inflight` rows in 'sending' as a kill -9 leaves them: runs of RUN consecutive
    rows (a batch each) spread over the whole table, the same ids each time."""
    runs = max(1, inflight // RUN)
    db.execute("""
        WITH RECURSIVE k(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM k WHERE j < ?3 - 1)
        UPDATE outbox SET state = 'sending'
         WHERE id IN (SELECT (j / ?2) * ?1 + j % ?2 + 1 FROM k)""",
               (max(RUN, rows // runs), RUN, inflight))


def reset_inflight(path, rows, inflight):
    db = sqlite3.connect(path, isolation_level=None, timeout=30)
    db.execute("BEGIN")
    leave_inflight(db, rows, inflight)
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def recovery_without_index(path):
    """Seconds the recovery UPDATE takes when it scans the outbox (rolled back)."""
    db = sqlite3.connect(path, isolation_level=None, timeout=30)
    db.execute("BEGIN")
    t0 = mono()
    n = db.execute("UPDATE outbox NOT INDEXED SET state = 'queued' WHERE state = 'sending'").rowcount
    took = mono() - t0
    db.execute("ROLLBACK")
    db.close()
    return took, n


def timed_start(d, timeout=120):
    """Seconds from spawning `talaash serve` until /healthz answered 200 (polled every ms)."""
    log = open(d.log, "ab")
    t0 = mono()
    d.proc = subprocess.Popen([d.binary, "serve", "-c", d.conf], stdout=log, stderr=log,
                              cwd=d.work)
    log.close()
    while True:
        if d.proc.poll() is not None:
            raise RuntimeError("daemon exited; log tail:\n" + d.tail())
        try:
            if d.request("GET", "/healthz", timeout=1)[0] == 200:
                break
        except OSError:
            pass
        if mono() - t0 > timeout:
            raise RuntimeError("no /healthz within %d s; log tail:\n%s" % (timeout, d.tail()))
        time.sleep(0.001)
    took = mono() - t0
    d.stop()
    return took


def recovered(d, before):
    """The messages= of the log's recovered lines after offset `before`."""
    with open(d.log, "rb") as f:
        f.seek(before)
        text = f.read().decode("utf-8", "replace")
    return sum(int(m) for m in re.findall(r"event=recovered messages=(\d+)", text))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--rows", type=int, default=10000000)
    ap.add_argument("--inflight", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--max-seconds", type=float, default=1.0)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    build = args.build if os.path.isabs(args.build) else os.path.join(os.path.dirname(HERE),
                                                                       args.build)
    binary = os.path.join(build, "talaash")
    work = os.path.join(build, "bench", "startup")
    shutil.rmtree(work, ignore_errors=True)
    fails = []
    mock = MockAggregator(build_dir=build, args=["--no-record-bodies", "--max-records", "0"])
    mock.start()
    daemons = {}
    try:
        for name in ("empty", "big"):
            os.makedirs(os.path.join(work, name))
            d = Daemon(binary, os.path.join(work, name), mock, mock)
            d.write_config()
            d.start()
            d.stop()
            daemons[name] = d
        t0 = mono()
        n = fill(daemons["big"].db, args.rows, args.inflight)
        size = os.path.getsize(daemons["big"].db)
        say("bench-startup: big store: %d outbox rows (%d 'sending'), %.0f MB, built in %.0f s;"
            " empty store: the baseline" % (n, args.inflight, size / 1e6, mono() - t0))
        times = {"empty": [], "big": []}
        for r in range(args.rounds):
            for name in ("empty", "big"):
                d = daemons[name]
                if name == "big" and r > 0:
                    reset_inflight(d.db, args.rows, args.inflight)
                before = os.path.getsize(d.log) if os.path.exists(d.log) else 0
                took = timed_start(d)
                times[name].append(took)
                got = recovered(d, before)
                want = args.inflight if name == "big" else 0
                say("  round %d  %-5s: /healthz after %7.1f ms; recovered %d in-flight rows"
                    % (r + 1, name, took * 1000, got))
                if got != want:
                    fails.append("round %d %s recovered %d rows, not %d" % (r + 1, name, got, want))
        med = {k: statistics.median(v) for k, v in times.items()}
        say("  median: empty %.1f ms, big %.1f ms (+%.1f ms for %d rows)   target <= %.0f ms"
            % (med["empty"] * 1000, med["big"] * 1000, (med["big"] - med["empty"]) * 1000,
               n, args.max_seconds * 1000))
        reset_inflight(daemons["big"].db, args.rows, args.inflight)
        took, m = recovery_without_index(daemons["big"].db)
        say("  for comparison, recovery scanning the outbox (NOT INDEXED, rolled back):"
            " %.0f ms for %d rows" % (took * 1000, m))
        if med["big"] > args.max_seconds:
            fails.append("start-up %.2f s > %.2f s" % (med["big"], args.max_seconds))
    finally:
        for d in daemons.values():
            d.stop()
        mock.stop()
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    say("bench-startup: %s" % ("target met" if not fails else "MISSED: " + "; ".join(fails)))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
