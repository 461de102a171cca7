#!/usr/bin/env python3
"""45-prune.t — bounded growth through the running daemon (prune.c), with the
test clock: a volunteer JOINs, a parent reports, the officer VERIFYs (an
alert to the volunteer and the officer) and says FOUND (an update to both), a
stranger asks for HELP and one number runs into the per-minute limit. Then:

  - at +31 days (past [store] keep_sent = 30d, the default) every one of
    those outbox rows is gone, folded into outbox_tallies with the same
    counts per alert, kind and state; the idle rate windows are gone; the
    inbound messages and the audit log stay;
  - at +91 days (past [store] keep_inbound = 90d, the default, and
    [alerts] retention_days = 90) the inbound messages of no case and the
    rate-limited ones are gone; those of the case go once the case is
    redacted (a pass an hour later); the audit log stays.

The store's SQL is tested row by row in tests/unit/test_store_prune.c; this
checks the daemon runs it by itself, off the requests, on the real data.
"""

import os
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from tap import ok, is_, diag, done_testing  # noqa: E402
from talaash import Gateway, binary, wait_until, write_clock  # noqa: E402

DAY = 86400
gw = Gateway(conf_extra="[alerts]\nverification = police\n")
clock_file = os.path.join(gw.dir, "clock")
write_clock(clock_file, 0)
gw.env["TALAASH_TEST_CLOCK_FILE"] = clock_file
gw.start()
probes = 0


def sms(phone, text):
    pid = "t-" + uuid.uuid4().hex
    status, _, _ = gw.post_form("/sms/console", {"id": pid, "from": phone, "text": text})
    return status


def set_clock(seconds):
    """Moves the test clock; returns once the daemon stamps a new message with it."""
    global probes
    write_clock(clock_file, seconds)

    def daemon_sees_it():
        global probes
        probes += 1
        pid = "probe-%d" % probes
        gw.post_form("/sms/console", {"id": pid, "from": "+9230077%05d" % probes, "text": "HELP"})
        at = gw.sql("SELECT received_at FROM inbound WHERE provider_id = ?", (pid,))
        return at and at[0][0] >= int(time.time()) + seconds - 1
    return wait_until(daemon_sees_it, 5)


def one(sql, args=()):
    return gw.sql(sql, args)[0][0]


def by_alert():
    """Messages of each alert wave per (alert, kind, state): live rows and tallies together
    (replies, of no alert, are left out: the clock probes add some)."""
    rows = gw.sql("SELECT alert_id, kind, state, sum(n) FROM ("
                  " SELECT alert_id, kind, state, count(*) AS n FROM outbox"
                  "  WHERE alert_id IS NOT NULL GROUP BY 1, 2, 3"
                  " UNION ALL SELECT alert_id, kind, state, n FROM outbox_tallies WHERE alert_id <> 0)"
                  " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3")
    return [tuple(r) for r in rows]


VOL, PARENT, PO, STRANGER, NOISY = ("+923001110001", "+923001234567", "+923009990001",
                                    "+923001110002", "+923001110003")
p = subprocess.run([binary(), "police", "add", PO, "--area", "Korangi", "-c", gw.conf_path],
                   capture_output=True, text=True, timeout=20)
is_(p.returncode, 0, "police add exits 0")
is_(sms(VOL, "JOIN Korangi"), 200, "a volunteer joins")
is_(sms(PARENT, "MISSING name: Bilal age: 8 boy area: Korangi"), 200, "a parent reports")
case_no = (gw.sql("SELECT case_no FROM cases") or [("000000",)])[0][0]
is_(sms(PO, "VERIFY %s" % case_no), 200, "the officer verifies")
is_(sms(STRANGER, "HELP"), 200, "a stranger asks for help")
for i in range(12):
    sms(NOISY, "HELP")
ok(one("SELECT count(*) FROM inbound WHERE state = 'limited'") >= 1, "some messages were rate-limited")
ok(wait_until(lambda: one("SELECT count(*) FROM outbox WHERE state IN ('queued', 'sending')") == 0, 10),
   "the alerts are sent")
is_(sms(PO, "FOUND %s" % case_no), 200, "the officer says FOUND")
ok(wait_until(lambda: one("SELECT count(*) FROM outbox WHERE state IN ('queued', 'sending')") == 0, 10),
   "the updates are sent")
case_id = one("SELECT id FROM cases WHERE case_no = ?", (case_no,))
is_(one("SELECT count(*) FROM outbox WHERE kind = 'alert'"), 2, "two alerts (volunteer, officer)")
is_(one("SELECT count(*) FROM outbox WHERE kind = 'update'"), 2, "two updates")
before = by_alert()
rows_before = one("SELECT count(*) FROM outbox")
last_id = one("SELECT max(id) FROM outbox")
inbound_before = one("SELECT count(*) FROM inbound")
audit_before = one("SELECT count(*) FROM audit_log")
windows = one("SELECT count(*) FROM rate_windows")
diag("before: %d outbox rows, %d inbound, %d audit, %d rate windows" % (rows_before, inbound_before,
                                                                        audit_before, windows))

# ---- +31 days: the messages go, their counts stay ----
ok(set_clock(31 * DAY), "test clock +31 days")
ok(wait_until(lambda: one("SELECT count(*) FROM outbox WHERE id <= ?", (last_id,)) == 0, 10),
   "every message sent before is deleted (%d rows)" % rows_before)
ok(wait_until(lambda: one("SELECT outbox_pruned_at IS NOT NULL FROM cases WHERE id = ?", (case_id,)) == 1,
              10), "the pass went through the case")
is_(by_alert(), before, "the counts per alert, kind and state are the same, now in outbox_tallies")
tallied = one("SELECT sum(n) FROM outbox_tallies")
ok(rows_before <= tallied <= rows_before + probes,
   "the tallies count every deleted message (%d, of %d rows and up to %d probe replies)"
   % (tallied, rows_before, probes))
is_(one("SELECT count(*) FROM outbox_tallies WHERE case_id = ? AND kind = 'alert'", (case_id,)), 1,
    "the case's alerts are one tally row")
is_(one("SELECT count(*) FROM rate_windows WHERE phone IN (?, ?, ?)", (NOISY, STRANGER, VOL)), 0,
    "the idle rate windows are gone")
is_(one("SELECT count(*) FROM inbound WHERE provider_id NOT LIKE 'probe-%'"), inbound_before,
    "the inbound messages stay until keep_inbound")
is_(one("SELECT count(*) FROM audit_log"), audit_before, "the audit log stays")
is_(one("SELECT state FROM cases WHERE id = ?", (case_id,)), "found", "the case stays")

# ---- +91 days: inbound messages of no case and rate-limited ones go ----
ok(set_clock(91 * DAY), "test clock +91 days")
ok(wait_until(lambda: one("SELECT count(*) FROM inbound WHERE phone IN (?, ?, ?)",
                          (STRANGER, NOISY, VOL)) == 0, 10),
   "inbound of no case (HELP, JOIN) and the rate-limited ones are deleted")
ok(wait_until(lambda: one("SELECT redacted_at IS NOT NULL FROM cases WHERE id = ?", (case_id,)) == 1, 10),
   "the case is redacted (retention_days after FOUND)")
ok(set_clock(91 * DAY + 2 * 3600), "test clock +91 days 2 hours (the next hourly pass)")
ok(wait_until(lambda: one("SELECT count(*) FROM inbound WHERE case_id = ?", (case_id,)) == 0, 10),
   "the redacted case's inbound messages are deleted")
is_(one("SELECT count(*) FROM audit_log"), audit_before, "the audit log still stays")
is_(by_alert(), before, "the counts per alert still stay")

code, _ = gw.stop()
is_(code, 0, "clean exit")
is_(gw.sql("PRAGMA integrity_check"), [("ok",)], "integrity_check ok")
is_(gw.sanitizer_report(), None, "no sanitizer report")
gw.close()
sys.exit(done_testing())
