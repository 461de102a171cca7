#!/usr/bin/env python3
"""57-pin-lockout.t — PINs cannot be brute-forced (issue #14): after
[limits] pin_attempts wrong PINs a number is locked out of police commands
(a right PIN then fails too), the registered number is told through the
outbox and the audit log has it; `talaash police unlock PHONE` ends the lock,
and so does time (pin_lockout, on the test clock); a right PIN forgets the
wrong ones before it. A stored case number and a console channel; every SMS
carries its own id."""

import os
import re
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from tap import ok, is_, diag, done_testing  # noqa: E402
from talaash import Gateway, binary, stop_and_check, wait_until, write_clock  # noqa: E402

gw = Gateway(conf_extra="[limits]\npin_attempts = 3\npin_lockout = 10m\nmessages_per_minute = 1000\n")
clock_file = os.path.join(gw.dir, "clock")
write_clock(clock_file, 0)
gw.env["TALAASH_TEST_CLOCK_FILE"] = clock_file
gw.start()

PO = "+923009990001"
PARENT = "+923001234567"
probes = 0


def sms(phone, text):
    pid = "t-" + uuid.uuid4().hex
    status, _, _ = gw.post_form("/sms/console", {"id": pid, "from": phone, "text": text})
    rows = gw.sql("SELECT o.text FROM outbox o JOIN inbound i ON i.id = o.inbound_id"
                  " WHERE i.provider_id = ? ORDER BY o.id", (pid,))
    return status, [r[0] for r in rows]


def police(*args):
    p = subprocess.run([binary(), "police"] + list(args) + ["-c", gw.conf_path],
                       capture_output=True, text=True, timeout=20)
    return p.returncode, p.stdout, p.stderr


def case_state(case_no):
    rows = gw.sql("SELECT state FROM cases WHERE case_no = ?", (case_no,))
    return rows[0][0] if rows else None


def set_clock(seconds):
    global probes
    write_clock(clock_file, seconds)

    def daemon_sees_it():
        global probes
        probes += 1
        pid = "probe-%d" % probes
        gw.post_form("/sms/console", {"id": pid, "from": "+9230077%05d" % probes, "text": "HELP"})
        at = gw.sql("SELECT received_at FROM inbound WHERE provider_id = ?", (pid,))
        return bool(at) and at[0][0] >= int(time.time()) + seconds - 1
    return wait_until(daemon_sees_it, 5)


code, _, err = police("add", PO, "--area", "Korangi", "--pin", "4321")
is_(code, 0, "police add with a PIN")
_, replies = sms(PARENT, "MISSING Bilal, boy, 8, Korangi, blue shirt")
m = re.search(r"\b(\d{6})\b", " ".join(replies))
case_no = m.group(1) if m else "000000"
ok(m is not None, "a case is registered (%s)" % case_no)

# ---- wrong PINs lock the number ----
for i in (1, 2):
    _, r = sms(PO, "VERIFY %s 1111" % case_no)
    ok(r and r[0].startswith("Talaash: PIN missing or wrong"), "wrong PIN %d is refused as a wrong PIN" % i)
_, r = sms(PO, "VERIFY %s 1112" % case_no)
ok(r and r[0].startswith("Talaash: too many wrong PINs"), "the third wrong PIN locks: %r" % (r,))
ok(r and "UTC" in r[0], "the lock says until when")
outbox = gw.sql("SELECT phone, kind FROM outbox WHERE text LIKE 'Talaash: too many wrong PINs%'")
is_(outbox, [(PO, "reply")], "the registered number is told, through the outbox")
audit = gw.sql("SELECT actor, action, outcome FROM audit_log WHERE action = 'pin lockout'")
is_(audit, [(PO, "pin lockout", "locked")], "the audit log has the lockout")
_, r = sms(PO, "VERIFY %s 4321" % case_no)
ok(r and r[0].startswith("Talaash: police commands from this number are locked"),
   "while locked, the right PIN is refused too: %r" % (r,))
is_(case_state(case_no), "reported", "and the case is not verified")
refused = gw.sql("SELECT count(*) FROM audit_log WHERE actor = ? AND outcome = 'refused: locked'", (PO,))[0][0]
is_(refused, 2, "both locked refusals are audited (the locking one and the next)")
ok("event=pin_locked" in gw.log() and PO not in gw.log(), "the log says so, the number masked")

# ---- the operator unlocks ----
code, out, _ = police("unlock", "0300 9990001")
is_(code, 0, "talaash police unlock exits 0")
is_(out.strip(), "%s: unlocked" % PO, "and says so")
code, out, _ = police("unlock", PO)
is_(out.strip(), "%s: was not locked" % PO, "a second unlock finds nothing")
is_(gw.sql("SELECT count(*) FROM audit_log WHERE action = 'police unlock'")[0][0], 2, "unlocks are audited")
_, r = sms(PO, "VERIFY %s 4321" % case_no)
is_(case_state(case_no), "active", "after the unlock the right PIN verifies")

# ---- a right PIN forgets the wrong ones; time unlocks ----
# (the VERIFY above was right: the count is zero again)
for i in (1, 2):
    _, r = sms(PO, "FOUND %s 9999" % case_no)
    ok(r and r[0].startswith("Talaash: PIN missing or wrong"), "after a right PIN, wrong PIN %d is only refused" % i)
_, r = sms(PO, "FOUND %s 9998" % case_no)
ok(r and r[0].startswith("Talaash: too many wrong PINs"), "the third locks again")
ok(set_clock(9 * 60), "clock +9 min")
_, r = sms(PO, "FOUND %s 4321" % case_no)
ok(r and r[0].startswith("Talaash: police commands from this number are locked"), "still locked at 9 minutes")
ok(set_clock(10 * 60 + 5), "clock +10 min")
_, r = sms(PO, "FOUND %s 4321" % case_no)
is_(case_state(case_no), "found", "after pin_lockout (10 min) the right PIN works again")

stop_and_check(gw)
gw.close()
done_testing()
