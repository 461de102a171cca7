#!/usr/bin/env python3
"""41-fanout.t — a wave left to its fan-out (issue #12: a national wave is
committed as its first chunks and the durable rest, then queued chunk by
chunk ahead of the sender): everyone in scope gets the alert once, across
kill -9 at random moments of the fan-out; the queue stays within two
chunks of the sender; FOUND ends a fan-out under way.

Set-up as 40-crash.t (the mock answers after DELAY_MS; the alerts channel
sends BATCH recipients per request, CONCURRENCY at once, RATE per second;
subscribers JOIN by SMS), with [alerts] wave_chunk = CHUNK and
wave_first_ms = 0: the VERIFY's own transaction queues the officer and one
chunk, and the fan-out the rest.
"""

import os
import re
import subprocess
import sys
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from tap import ok, is_, diag, done_testing  # noqa: E402
from talaash import Gateway, binary, wait_until, PG  # noqa: E402
from mockagg import MockAggregator  # noqa: E402
from crash import CrashRun, channels as crash_channels, seeded_rng  # noqa: E402

T0 = time.monotonic()
rng = seeded_rng()

N_KORANGI, N_KARACHI, N_LAHORE = 300, 20, 30
CHUNK = 25
DELAY_MS, BATCH, CONCURRENCY, RATE = 100, 10, 2, 50
MIN_KILLS, MAX_KILLS = 4, 8
FORM = {"Content-Type": "application/x-www-form-urlencoded"}

mock = MockAggregator().start()
gw = Gateway(channels=crash_channels(mock.url, RATE, BATCH, CONCURRENCY),
             conf_extra="[alerts]\nwave_chunk = %d\nwave_first_ms = 0\n" % CHUNK).start()


def sms(phone, text):
    body = urllib.parse.urlencode({"from": phone, "to": "21512", "text": text,
                                   "id": str(uuid.uuid4()), "date": "2026-11-23 10:00:00"})
    status, _, _ = gw.request("POST", "/sms/at", body, FORM)
    return status


def last_reply(phone):
    rows = gw.sql("SELECT text FROM outbox WHERE phone = ? AND kind = 'reply' ORDER BY id DESC LIMIT 1",
                  (phone,))
    return rows[0][0] if rows else ""


def one(query, args=()):
    return gw.sql(query, args)[0][0]


KORANGI = ["+9230011%05d" % i for i in range(N_KORANGI)]
KARACHI = ["+9230012%05d" % i for i in range(N_KARACHI)]
LAHORE = ["+9230013%05d" % i for i in range(N_LAHORE)]
PO1 = "+923009990001"
TARGET = set(KORANGI) | set(KARACHI) | {PO1}

p = subprocess.run([binary(), "police", "add", PO1, "--area", "Korangi", "--pin", "4321",
                    "-c", gw.conf_path], capture_output=True, text=True, timeout=20)
is_(p.returncode, 0, "police add (Korangi) exits 0")
statuses = [sms(x, "JOIN Korangi") for x in KORANGI] + [sms(x, "JOIN Karachi") for x in KARACHI] + \
           [sms(x, "JOIN Lahore") for x in LAHORE]
is_(sorted(set(statuses)), [200], "%d JOIN callbacks answered 200" % len(statuses))
sms("+923001234567", "MISSING name: Bilal age: 8 boy area: Korangi")
sms("+923001234568", "MISSING name: Sana age: 6 girl area: Korangi")
cases = [r[0] for r in gw.sql("SELECT case_no FROM cases ORDER BY id")]
is_(len(cases), 2, "two reports, two cases")
ok(wait_until(lambda: one("SELECT count(*) FROM outbox WHERE state NOT IN ('sent','delivered')") == 0,
              30), "set-up traffic all sent")
mock.behaviour([{"path_prefix": "/version1/messaging", "delay_ms": DELAY_MS}])
since = mock.stats()["last_seq"]

# ---- the first case: VERIFY leaves a fan-out ----
is_(sms(PO1, "VERIFY %s 4321" % cases[0]), 200, "VERIFY answered 200")
reply = last_reply(PO1)
m = re.search(r"going to (\d+)\+ people", reply)
ok(m is not None, "the reply counts what is queued so far and says more follow: %r" % reply)
first = int(m.group(1)) if m else -1
if PG:  # a chunk is each area's phones up to a bound: at most about CHUNK (pg_wave.c)
    ok(1 < first <= 1 + CHUNK, "the VERIFY's transaction queued the officer and one chunk (%d)"
       % first)
else:
    is_(first, 1 + CHUNK, "the VERIFY's transaction queued the officer and one chunk of %d" % CHUNK)
is_(one("SELECT count(*) FROM wave_fanout"), 1, "the rest is the wave's fan-out, committed with it")

# While it runs: the queue never holds more than three chunks (a chunk is due when two wait).
most = 0
deadline = time.monotonic() + 1
while time.monotonic() < deadline and one("SELECT count(*) FROM wave_fanout") > 0:
    most = max(most, one("SELECT count(*) FROM outbox WHERE kind = 'alert' AND state = 'queued'"))
    time.sleep(0.01)
ok(0 < most <= 3 * CHUNK, "queued alert rows stayed within three chunks of the sender (at most %d)"
   % most)

run = CrashRun(gw, mock, rng, TARGET)
run.kill_at_random(MIN_KILLS, MAX_KILLS, pause=(0.05, 0.6))
ok(run.kills >= MIN_KILLS, "%d kills" % run.kills)
ok(run.kills_mid_broadcast >= 1, "%d kills landed while the broadcast was under way"
   % run.kills_mid_broadcast)
run.check_all_sent(30)
run.check_received(since)
is_(one("SELECT count(*) FROM wave_fanout"), 0, "the fan-out is over")
is_(sorted(r[0] for r in gw.sql("SELECT phone FROM outbox WHERE kind = 'alert'")), sorted(TARGET),
    "alert rows for exactly the %d targeted numbers, once each" % len(TARGET))
ok("event=fanout_done" in gw.log(), "the log says the fan-out is done")

# ---- the second case: FOUND while its fan-out is under way ----
case2 = one("SELECT id FROM cases WHERE case_no = ?", (cases[1],))


def sent2():
    return one("SELECT count(*) FROM outbox WHERE case_id = ? AND kind = 'alert'"
               " AND state IN ('sent','delivered')", (case2,))


is_(sms(PO1, "VERIFY %s 4321" % cases[1]), 200, "the second case's VERIFY")
ok(wait_until(lambda: sent2() > 0, 30), "some of its alerts are sent")
is_(one("SELECT count(*) FROM wave_fanout"), 1, "while its fan-out is under way")
is_(sms(PO1, "FOUND %s 4321" % cases[1]), 200, "FOUND")
is_(one("SELECT count(*) FROM wave_fanout"), 0, "FOUND ended the fan-out")
ok(wait_until(lambda: one("SELECT count(*) FROM outbox WHERE state IN ('queued','sending')") == 0, 30),
   "the outbox settles")
alerted = sent2()
told = one("SELECT count(*) FROM outbox WHERE case_id = ? AND kind = 'update'", (case2,))
ok(0 < alerted < len(TARGET), "the second alert reached only part of the scope (%d of %d)"
   % (alerted, len(TARGET)))
is_(told, alerted, "everyone it reached is told FOUND, no one else")
if told != alerted:
    diag("alert rows without an update and updates without a sent alert: %s" % gw.sql(
        "SELECT a.phone, a.state, u.state FROM outbox a LEFT JOIN outbox u ON u.case_id = a.case_id"
        " AND u.kind = 'update' AND u.phone = a.phone WHERE a.case_id = ? AND a.kind = 'alert'"
        " AND (a.state IN ('sent','delivered')) <> (u.id IS NOT NULL) LIMIT 10", (case2,)))
states = gw.sql("SELECT kind, state, count(*) FROM outbox WHERE case_id = ? GROUP BY kind, state",
                (case2,))
is_(one("SELECT count(*) FROM outbox WHERE case_id = ? AND kind = 'alert' AND state NOT IN"
        " ('sent','delivered','cancelled')", (case2,)), 0,
    "no alert row of it failed or stuck (%s)" % states)

code, _ = gw.stop()
is_(code, 0, "clean exit")
is_(gw.integrity(), [("ok",)], "integrity_check ok at the end")
is_(gw.sanitizer_report(), None, "no sanitizer report")
gw.close()
mock.stop()
elapsed = time.monotonic() - T0
ok(elapsed < 60, "the whole test took %.1fs (< 60 s)" % elapsed)
sys.exit(done_testing())
