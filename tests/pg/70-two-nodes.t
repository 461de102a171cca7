#!/usr/bin/env python3
"""70-two-nodes.t — two `talaash serve` nodes on one PostgreSQL database (issue #12),
`make test-pg` only (the throw-away cluster of pg_virtualenv).

  1. Both nodes start together on a new database: it is migrated once.
  2. One leads the cluster's timers, the other follows.
  3. A retried callback that reaches both nodes is acted on once (inbound dedupe
     across nodes); a STOP sent to one node wins over a JOIN on the other.
  4. TWO_NODES_SUBSCRIBERS (100,000) subscribers; a parent reports on node A, the
     officer VERIFYs on node B: both nodes send the wave, sharing the channel's
     rate, and the chunks of its fan-out ([alerts] wave_chunk = 5000, wave_first_ms
     = 0). Node A is killed (-9) mid-broadcast. The rows it had in flight are
     those still 'sending' a few seconds later (B's own finish in ~100 ms);
     B reclaims them after the lease. Then: every recipient got the alert, no
     row is stuck, duplicates <= A's in-flight rows and every duplicate was one
     of them.
"""

import os
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from tap import ok, is_, diag, done_testing, skip_all  # noqa: E402
from talaash import Gateway, binary, wait_until, story_channels, PG, pg_new_database  # noqa: E402
from mockagg import MockAggregator  # noqa: E402
from crash import CrashRun  # noqa: E402

if not PG:
    skip_all("PostgreSQL only: make test-pg")

T0 = time.monotonic()
N = int(os.environ.get("TWO_NODES_SUBSCRIBERS") or 100000)
RATE, BATCH, CONCURRENCY, DELAY_MS = 4000, 200, 4, 100
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
# A short request timeout, so the lease (2 x (connect + send) + 5 s) is 11 s.
# The wave leaves a fan-out (its VERIFY queues one chunk), so the nodes share its chunks too.
TIMEOUTS = ("[outbox]\nconnect_timeout = 1\nsend_timeout = 2\n"
            "[alerts]\nwave_chunk = 5000\nwave_first_ms = 0\n")

mock = MockAggregator().start()
url = pg_new_database()
channels = story_channels(mock.url, RATE, BATCH, CONCURRENCY)
a = Gateway(channels=channels, store_url=url, conf_extra=TIMEOUTS)
b = Gateway(channels=channels, store_url=url, conf_extra=TIMEOUTS)

# ---- 1. two nodes start together on a new database ----
started = []
threads = [threading.Thread(target=lambda g=g: started.append(g.start())) for g in (a, b)]
for t in threads:
    t.start()
for t in threads:
    t.join()
is_(len(started), 2, "both nodes started on the same new database")
latest = int(subprocess.run([binary(), "version"], capture_output=True, text=True)
             .stdout.split("postgresql ")[1].rstrip(")\n"))
is_(a.sql("SELECT count(*), count(DISTINCT version), max(version) FROM talaash_schema"),
    [(latest, latest, latest)], "the database was migrated once (one row per version, %d)"
    % latest)


def sms(gw, phone, text, msg_id=None):
    body = urllib.parse.urlencode({"from": phone, "to": "21512", "text": text,
                                   "id": msg_id or str(uuid.uuid4()),
                                   "date": "2026-11-23 10:00:00"})
    return gw.request("POST", "/sms/at", body, FORM)[0]


# ---- 2. one leader ----
ok(wait_until(lambda: "event=leader" in a.log() + b.log(), 5), "a node leads the timers")
leaders = [g for g in (a, b) if "event=leader" in g.log()]
is_(len(leaders), 1, "exactly one node leads")

# ---- 3. dedupe and STOP-wins across nodes ----
JOINER = "+923001110001"
msg_id = str(uuid.uuid4())
is_(sms(a, JOINER, "JOIN Korangi", msg_id), 200, "JOIN answered by node A")
is_(sms(b, JOINER, "JOIN Korangi", msg_id), 200, "the same callback retried at node B: 200")
is_(a.sql("SELECT count(*) FROM inbound WHERE provider_id = ?", (msg_id,))[0][0], 1,
    "one inbound row for the callback both nodes received")
is_(a.sql("SELECT count(*) FROM outbox WHERE phone = ? AND kind = 'reply'", (JOINER,))[0][0], 1,
    "one reply for it, not two")
is_(sms(b, JOINER, "STOP"), 200, "STOP answered by node B")
is_(a.sql("SELECT opted_out FROM subscribers WHERE phone = ?", (JOINER,)), [(1,)],
    "node A's store sees the opt-out")
is_(a.sql("SELECT count(*) FROM subscriptions WHERE phone = ?", (JOINER,))[0][0], 0,
    "and no subscription of the number")

# ---- 4. a 100k wave, node A killed mid-broadcast ----
korangi = a.sql("SELECT code FROM areas WHERE name_en = 'Korangi' ORDER BY length(code) DESC"
                " LIMIT 1")[0][0]
now = int(time.time())
a.sql("WITH s AS (INSERT INTO subscribers (phone, created_at, updated_at) SELECT '+923011' ||"
      " lpad(i::text, 6, '0'), ?, ? FROM generate_series(0, ? - 1) AS i RETURNING id, phone)"
      " INSERT INTO subscriptions (subscriber_id, area_code, phone, created_at)"
      " SELECT id, ?, phone, ? FROM s", (now, now, N, korangi, now))
is_(a.sql("SELECT count(*) FROM subscriptions WHERE area_code = ?", (korangi,))[0][0], N,
    "%d Korangi subscriptions stored" % N)
PARENT, PO1 = "+923001234567", "+923009990001"
p = subprocess.run([binary(), "police", "add", PO1, "--area", "Korangi", "-c", a.conf_path],
                   capture_output=True, text=True, timeout=20)
is_(p.returncode, 0, "police add (Korangi) on the shared store exits 0")
is_(sms(a, PARENT, "MISSING name: Bilal age: 8 boy area: Korangi"), 200, "report on node A")
rows = a.sql("SELECT case_no, state FROM cases WHERE state <> 'draft'")
is_([r[1] for r in rows], ["reported"], "a REPORTED case")
case_no = rows[0][0] if rows else "000000"
ok(wait_until(lambda: a.sql("SELECT count(*) FROM outbox WHERE state NOT IN ('sent', 'delivered',"
                            " 'cancelled')")[0][0] == 0, 30), "set-up traffic all sent")

TARGET = set("+923011%06d" % i for i in range(N)) | {PO1}
mock.behaviour([{"path_prefix": "/version1/messaging", "delay_ms": DELAY_MS}])
since = mock.stats()["last_seq"]
t_verify = time.monotonic()
is_(sms(b, PO1, "VERIFY %s" % case_no), 200, "VERIFY on node B answered 200")
in_tx = a.sql("SELECT count(*) FROM outbox WHERE kind = 'alert'")[0][0]
ok(0 < in_tx < len(TARGET), "the VERIFY queued the wave's first chunk (%d rows)" % in_tx)
is_(a.sql("SELECT count(*) FROM wave_fanout")[0][0], 1, "and committed the rest as its fan-out")
diag("the wave was committed in %.1f s" % (time.monotonic() - t_verify))
is_(a.sql("SELECT count(*) FROM outbox WHERE kind = 'alert' AND phone = ?", (JOINER,))[0][0], 0,
    "STOP wins: the number that sent STOP to node B gets no alert from the wave")


def sent():
    return a.sql("SELECT count(*) FROM outbox WHERE kind = 'alert' AND state IN ('sent',"
                 " 'delivered')")[0][0]


ok(wait_until(lambda: sent() >= len(TARGET) // 4, 120), "a quarter of the wave sent")
# Both nodes send the channel's rate between them (its shared bucket), not each the whole:
# a quarter past the first burst takes at least that long at RATE (each node at RATE: half).
quarter_s = time.monotonic() - t_verify
floor_s = 0.9 * (len(TARGET) // 4 - RATE) / RATE
ok(quarter_s >= floor_s, "the rate holds across the two nodes: a quarter took %.1f s (>= %.1f s"
   " at %d/s shared; two nodes at the full rate each would take about half)"
   % (quarter_s, floor_s, RATE))
a.kill9()
at_kill = set(r[0] for r in b.sql("SELECT phone FROM outbox WHERE kind = 'alert' AND"
                                  " state = 'sending'"))
sent_at_kill = sent()
diag("node A killed at %d sent, %d rows 'sending'" % (sent_at_kill, len(at_kill)))
# B's requests end within DELAY_MS: once B has sent several rounds more, what is still
# 'sending' of the kill's set is A's (its lease has not passed yet).
ok(wait_until(lambda: sent() >= sent_at_kill + 4 * BATCH * CONCURRENCY, 60),
   "node B goes on sending after the kill")
still = set(r[0] for r in b.sql("SELECT phone FROM outbox WHERE kind = 'alert' AND"
                                " state = 'sending'"))
dead_inflight = at_kill & still
diag("node A's in-flight rows: %d" % len(dead_inflight))
ok(len(dead_inflight) > 0, "node A died with rows in flight (the kill was mid-broadcast)")

run = CrashRun(b, mock, None, TARGET)
run.inflight = [sorted(dead_inflight)]
run.kills = 1
ok(wait_until(run.all_sent, 300), "node B sent every alert row, A's reclaimed after the lease")
is_(run.alert_counts(), {"sent": len(TARGET)}, "no alert row failed, expired or stuck")
run.check_received(since)
ok("event=leader" in b.log(), "node B leads once A is gone")

code, _ = b.stop()
is_(code, 0, "node B exits 0")
is_(b.sanitizer_report(), None, "no sanitizer report")
a.close()
b.close()
mock.stop()
diag("the test took %.1f s" % (time.monotonic() - T0))
sys.exit(done_testing())
