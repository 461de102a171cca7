#!/usr/bin/env python3
"""40-crash.t — crash safety of broadcasts (issue: "after kill -9 at any
moment of a broadcast and a restart, every targeted person still gets the
alert; only messages in flight at the kill may go twice").

Set-up: the mock aggregator (Africa's Talking API) answers every send after
DELAY_MS; the alerts channel sends BATCH recipients per request, at most
CONCURRENCY requests at once, RATE messages per second, so a broadcast to
the ~420 targeted numbers is spread over several seconds. Subscribers join
by SMS (JOIN callbacks to /sms/at on the running daemon, not by writing the
store), a Korangi officer is registered with `talaash police add`, a parent
reports and the officer VERIFYs by SMS.

The first kill -9 lands a few milliseconds after the VERIFY request was
written to the daemon's socket (inside its processing, or just before or
after); then the daemon is killed again at random moments (seeded PRNG; set
TALAASH_CRASH_SEED to replay) and restarted on the same store until every
alert row is sent.

Duplicates are bounded by the outbox itself: extra copies at the mock <=
the 'sending' alert rows summed over the kills, and every phone received
twice was 'sending' at some kill (tests/lib/crash.py, shared with `make
soak-crash`, says why that bound is tight).
"""

import os
import socket
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

N_KORANGI, N_KARACHI, N_LAHORE = 400, 20, 40
DELAY_MS, BATCH, CONCURRENCY, RATE = 200, 10, 2, 50
MIN_KILLS, MAX_KILLS = 6, 12
FORM = {"Content-Type": "application/x-www-form-urlencoded"}

mock = MockAggregator().start()
channels = crash_channels(mock.url, RATE, BATCH, CONCURRENCY)

gw = Gateway(channels=channels).start()


def sms_body(phone, text, msg_id=None):
    return urllib.parse.urlencode({"from": phone, "to": "21512", "text": text,
                                   "id": msg_id or str(uuid.uuid4()),
                                   "date": "2026-11-23 10:00:00"})


def sms(phone, text, msg_id=None):
    status, _, _ = gw.request("POST", "/sms/at", sms_body(phone, text, msg_id), FORM)
    return status


def last_reply(phone):
    rows = gw.sql("SELECT text FROM outbox WHERE phone = ? AND kind = 'reply' ORDER BY id DESC LIMIT 1",
                  (phone,))
    return rows[0][0] if rows else None


def police(*args):
    p = subprocess.run([binary(), "police"] + list(args) + ["-c", gw.conf_path],
                       capture_output=True, text=True, timeout=20)
    return p.returncode, p.stdout, p.stderr


def integrity():
    return gw.integrity()


KORANGI = ["+9230011%05d" % i for i in range(N_KORANGI)]
KARACHI = ["+9230012%05d" % i for i in range(N_KARACHI)]
LAHORE = ["+9230013%05d" % i for i in range(N_LAHORE)]
PARENT = "+923001234567"
PO1 = "+923009990001"

# ---- set-up: police, subscribers (by SMS), report ----
code, out, err = police("add", PO1, "--area", "Korangi", "--pin", "4321")
is_(code, 0, "police add (Korangi) exits 0")
statuses = [sms(p, "JOIN Korangi") for p in KORANGI] + [sms(p, "JOIN Karachi") for p in KARACHI] + \
           [sms(p, "JOIN Lahore") for p in LAHORE]
is_(sorted(set(statuses)), [200], "%d JOIN callbacks answered 200" % len(statuses))
is_(gw.sql("SELECT count(*) FROM subscriptions")[0][0], N_KORANGI + N_KARACHI + N_LAHORE,
    "every subscription stored")
sms(PARENT, "MISSING name: Bilal age: 8 boy area: Korangi")
rows = gw.sql("SELECT case_no, state FROM cases")
is_([r[1] for r in rows], ["reported"], "the report makes a REPORTED case")
case_no = rows[0][0] if rows else "000000"
diag("case number %s" % case_no)
ok(wait_until(lambda: gw.sql("SELECT count(*) FROM outbox WHERE state NOT IN ('sent','delivered')")[0][0] == 0,
              30), "set-up traffic (JOIN replies, police notification) all sent")
diag("set-up done in %.1fs" % (time.monotonic() - T0))

TARGET = set(KORANGI) | set(KARACHI) | {PO1}
mock.behaviour([{"path_prefix": "/version1/messaging", "delay_ms": DELAY_MS}])
since = mock.stats()["last_seq"]

# ---- kill 1: during the VERIFY request ----
verify_id = str(uuid.uuid4())
body = sms_body(PO1, "VERIFY %s 4321" % case_no, verify_id).encode()
request = (b"POST /sms/at HTTP/1.1\r\nHost: 127.0.0.1\r\n"
           b"Content-Type: application/x-www-form-urlencoded\r\n"
           b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)) + body
kill_delay = rng.uniform(0.0, 0.008)
s = socket.create_connection(("127.0.0.1", gw.port), timeout=5)
s.sendall(request)
time.sleep(kill_delay)
gw.kill9()
s.close()
run = CrashRun(gw, mock, rng, TARGET)
run.after_kill("VERIFY, %.1f ms after the request was written" % (kill_delay * 1000))
row = gw.sql("SELECT state FROM inbound WHERE provider_id = ?", (verify_id,))
diag("the VERIFY inbound row at the kill: %s" % (row[0][0] if row else "not stored"))
n_alert_rows = gw.sql("SELECT count(*) FROM outbox WHERE kind = 'alert'")[0][0]
n_recipients = gw.sql("SELECT count(DISTINCT phone) FROM outbox WHERE kind = 'alert'")[0][0]
n_waves = gw.sql("SELECT count(*) FROM alerts")[0][0]
state = gw.sql("SELECT state FROM cases")[0][0]
whole = (n_alert_rows, n_recipients, n_waves, state) in [(0, 0, 0, "reported"),
                                                          (len(TARGET), len(TARGET), 1, "active")]
ok(whole, "the VERIFY killed mid-request left no wave or a whole one (never partial): "
          "%d alert rows, %d recipients, %d waves, case %s" % (n_alert_rows, n_recipients, n_waves, state))
gw.restart()
if n_alert_rows == 0:
    diag("the kill came before VERIFY committed: the aggregator's retry (same id) is sent")
    is_(sms(PO1, "VERIFY %s 4321" % case_no, verify_id), 200, "VERIFY retried after the restart")
    ok((last_reply(PO1) or "").startswith("Talaash: case %s verified" % case_no), "and accepted")
else:
    diag("the kill came after VERIFY committed: the whole wave was there at restart")
    is_(sms(PO1, "VERIFY %s 4321" % case_no, verify_id), 200, "the aggregator's retry of VERIFY is acknowledged")
is_(gw.sql("SELECT count(*) FROM alerts")[0][0], 1, "exactly one wave")
is_(gw.sql("SELECT count(*) FROM audit_log WHERE action = 'verify' AND outcome = 'ok'")[0][0], 1,
    "VERIFY took effect once")
is_(sorted(r[0] for r in gw.sql("SELECT phone FROM outbox WHERE kind = 'alert'")), sorted(TARGET),
    "alert rows for exactly the %d targeted numbers, once each" % len(TARGET))

# ---- kills at random moments of the broadcast ----
run.kill_at_random(MIN_KILLS, MAX_KILLS)
ok(run.kills >= MIN_KILLS, "%d kills (>= %d), the first inside VERIFY" % (run.kills, MIN_KILLS))
ok(run.kills_mid_broadcast >= MIN_KILLS - 1, "%d kills landed while the broadcast was under way"
   % run.kills_mid_broadcast)
run.check_all_sent(30)

# ---- what the aggregator received ----
alert_text = run.check_received(since)
ok(not any(PARENT in t or "1234567" in t for t in [alert_text or ""]), "the alert does not hold the reporter's number")

code, _ = gw.stop()
is_(code, 0, "clean exit after the last restart")
is_(integrity(), [("ok",)], "integrity_check ok at the end")
is_(gw.sanitizer_report(), None, "no sanitizer report")
gw.close()
mock.stop()
elapsed = time.monotonic() - T0
ok(elapsed < 60, "the whole test took %.1fs (< 60 s)" % elapsed)
sys.exit(done_testing())
