#!/usr/bin/env python3
"""soak/crash.py — `make soak-crash` (mk/soak-crash.mk; not in `make test`):
kill -9 of the daemon at random moments of a broadcast to 100,000
subscribers, SOAK_KILLS (20) times in a row, restarting on the same store
each time. Every subscriber must get the alert, duplicates stay within the
rows in flight at the kills, and no alert row is left failed, expired or
stuck. The kill loop and the checks are tests/lib/crash.py's, shared with
tests/e2e/40-crash.t (its small version).

Set-up: SOAK_SUBSCRIBERS Korangi subscribers and 1,000 in Lahore (not in
scope) are written straight into the store (a hundred thousand JOINs by SMS
would take minutes and prove nothing 40-crash.t does not); a Korangi
officer is registered with `talaash police add`; a parent reports and the
officer VERIFYs by SMS. The mock answers each send after DELAY_MS, the
alerts channel sends BATCH recipients per request, CONCURRENCY at once, at
RATE per second, so the broadcast lasts longer than the kills (pauses of
0.2-1.6 s, seeded: TALAASH_CRASH_SEED replays them).
"""

import os
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from tap import ok, is_, diag, done_testing  # noqa: E402
from talaash import Gateway, binary, wait_until  # noqa: E402
from mockagg import MockAggregator  # noqa: E402
from crash import CrashRun, channels as crash_channels, seeded_rng  # noqa: E402

T0 = time.monotonic()
rng = seeded_rng()

N = int(os.environ.get("SOAK_SUBSCRIBERS") or 100000)
KILLS = int(os.environ.get("SOAK_KILLS") or 20)
N_LAHORE = 1000
DELAY_MS, BATCH, CONCURRENCY = 100, 250, 4
RATE = int(os.environ.get("SOAK_RATE") or 2000)
FORM = {"Content-Type": "application/x-www-form-urlencoded"}

mock = MockAggregator().start()
channels = crash_channels(mock.url, RATE, BATCH, CONCURRENCY)

gw = Gateway(channels=channels).start()


def sms(phone, text):
    body = urllib.parse.urlencode({"from": phone, "to": "21512", "text": text,
                                   "id": str(uuid.uuid4()), "date": "2026-11-23 10:00:00"})
    return gw.request("POST", "/sms/at", body, FORM)[0]


def area(name):
    rows = gw.sql("SELECT code FROM areas WHERE name_en = ? ORDER BY length(code) DESC LIMIT 1",
                  (name,))
    return rows[0][0] if rows else None


def populate(phones_by_area):
    """Subscribers and their subscriptions, set-based, on the running daemon's store."""
    db = sqlite3.connect(gw.db_path, isolation_level=None, timeout=30)
    now = int(time.time())
    db.execute("BEGIN IMMEDIATE")
    for code, phones in phones_by_area.items():
        db.executemany("INSERT INTO subscribers (phone, created_at, updated_at) VALUES (?, ?, ?)",
                       [(p, now, now) for p in phones])
        db.execute("INSERT INTO subscriptions (subscriber_id, area_code, phone, created_at)"
                   " SELECT id, ?, phone, ? FROM subscribers WHERE id > (SELECT coalesce(max("
                   "subscriber_id), 0) FROM subscriptions)", (code, now))
    db.execute("COMMIT")
    db.close()


KORANGI = ["+923011%06d" % i for i in range(N)]
LAHORE = ["+923012%06d" % i for i in range(N_LAHORE)]
PARENT = "+923001234567"
PO1 = "+923009990001"
korangi, lahore = area("Korangi"), area("Lahore")
ok(korangi is not None and lahore is not None, "areas Korangi (%s) and Lahore (%s)" % (korangi, lahore))
populate({korangi: KORANGI, lahore: LAHORE})
is_(gw.sql("SELECT count(*) FROM subscriptions")[0][0], N + N_LAHORE, "%d subscriptions stored"
    % (N + N_LAHORE))
p = subprocess.run([binary(), "police", "add", PO1, "--area", "Korangi", "-c", gw.conf_path],
                   capture_output=True, text=True, timeout=20)
is_(p.returncode, 0, "police add (Korangi) exits 0")
is_(sms(PARENT, "MISSING name: Bilal age: 8 boy area: Korangi"), 200, "the report is answered")
rows = gw.sql("SELECT case_no, state FROM cases")
is_([r[1] for r in rows], ["reported"], "the report makes a REPORTED case")
case_no = rows[0][0] if rows else "000000"
ok(wait_until(lambda: gw.sql("SELECT count(*) FROM outbox WHERE state NOT IN ('sent', 'delivered')")[0][0] == 0,
              30), "set-up traffic (the reply, the police notification) all sent")

TARGET = set(KORANGI) | {PO1}
mock.behaviour([{"path_prefix": "/version1/messaging", "delay_ms": DELAY_MS}])
since = mock.stats()["last_seq"]
t_verify = time.monotonic()
is_(sms(PO1, "VERIFY %s" % case_no), 200, "VERIFY answered 200")
is_(gw.sql("SELECT count(*) FROM outbox WHERE kind = 'alert'")[0][0], len(TARGET),
    "a wave of %d alert rows" % len(TARGET))
diag("set-up done in %.1f s; the wave was committed in %.1f s"
     % (time.monotonic() - T0, time.monotonic() - t_verify))

run = CrashRun(gw, mock, rng, TARGET)
run.kill_at_random(KILLS, KILLS, pause=(0.2, 1.6))
is_(run.kills, KILLS, "%d kills in a row" % KILLS)
ok(run.kills_mid_broadcast == KILLS, "every kill (%d of %d) landed while the broadcast was under way"
   % (run.kills_mid_broadcast, KILLS))
run.check_all_sent(300)
run.check_received(since)

code, _ = gw.stop()
is_(code, 0, "clean exit after the last restart")
is_(gw.sql("PRAGMA integrity_check"), [("ok",)], "integrity_check ok at the end")
is_(gw.sanitizer_report(), None, "no sanitizer report")
gw.close()
mock.stop()
diag("the whole soak took %.1f s" % (time.monotonic() - T0))
sys.exit(done_testing())
