#!/usr/bin/env python3
"""35-limits.t — abuse limits and data lifetime on the real daemon (console
channel, test clock): per-number messages per minute, reports per day, the
block list, the 30-minute window for answering a report's question, and the
redaction of a closed case's personal data after [alerts] retention_days.

Every SMS carries its own id, so its inbound row, its state and the reply
queued for it (outbox.inbound_id) are found exactly. The test clock
(TALAASH_TEST_CLOCK_FILE, an offset in seconds) only moves forward; after
each move the test polls until the daemon stamps a probe message with the
new time, so no step relies on the clock file's 100 ms re-read interval.
"""

import os
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from tap import ok, is_, diag, done_testing  # noqa: E402
from talaash import Gateway, binary, wait_until, write_clock  # noqa: E402

conf = """
[limits]
messages_per_minute = 3
reports_per_day = 2

[alerts]
retention_days = 1
verification = police
"""

gw = Gateway(conf_extra=conf)
clock_file = os.path.join(gw.dir, "clock")
write_clock(clock_file, 0)
gw.env["TALAASH_TEST_CLOCK_FILE"] = clock_file
gw.start()

RATE_TEXT = "Talaash: too many messages from this number."
HELP_TEXT = "Talaash: report a missing child"
offset = 0
probes = 0


def sms(phone, text):
    """Sends one SMS on the console channel; returns (HTTP status, inbound id)."""
    pid = "t-" + uuid.uuid4().hex
    status, _, _ = gw.post_form("/sms/console", {"id": pid, "from": phone, "text": text})
    rows = gw.sql("SELECT id FROM inbound WHERE provider_id = ?", (pid,))
    return status, (rows[0][0] if rows else None)


def inbound_state(iid):
    rows = gw.sql("SELECT state FROM inbound WHERE id = ?", (iid,))
    return rows[0][0] if rows else None


def replies_to(iid):
    return [r[0] for r in gw.sql("SELECT text FROM outbox WHERE inbound_id = ? ORDER BY id", (iid,))]


def set_clock(seconds):
    """Moves the test clock to `seconds` ahead of real time; returns once the daemon uses it."""
    global offset, probes
    offset = seconds
    write_clock(clock_file, seconds)

    def daemon_sees_it():
        global probes
        probes += 1  # a fresh number each time: probes never meet a rate limit
        _, iid = sms("+9230077%05d" % probes, "HELP")
        at = gw.sql("SELECT received_at FROM inbound WHERE id = ?", (iid,))[0][0]
        return at >= int(time.time()) + seconds - 1
    return wait_until(daemon_sees_it, 5)


def police(*args):
    p = subprocess.run([binary(), "police"] + list(args) + ["-c", gw.conf_path],
                       capture_output=True, text=True, timeout=20)
    return p.returncode, p.stdout, p.stderr


def subscriptions_of(phone):
    return gw.sql("SELECT sb.area_code FROM subscriptions sb JOIN subscribers s ON s.id = sb.subscriber_id"
                  " WHERE s.phone = ?", (phone,))


# ---- messages per minute ----
R = "+923005550001"
ids = []
for text in ["HELP", "AREAS", "HELP", "JOIN Korangi", "JOIN Korangi", "JOIN Korangi"]:
    status, iid = sms(R, text)
    ids.append(iid)
    is_(status, 200, "message %d of the minute is acknowledged 200" % len(ids))
ok(all(ids), "all six are stored")
is_([inbound_state(i) for i in ids], ["processed"] * 3 + ["limited"] * 3,
    "the first 3 are processed, the 4th to 6th are stored as 'limited'")
ok(all(len(replies_to(i)) == 1 for i in ids[:3]), "each of the first 3 is answered")
fourth = replies_to(ids[3])
is_(len(fourth), 1, "the 4th gets one reply")
ok(fourth and fourth[0].startswith(RATE_TEXT), "and it is the rate-limit text")
is_(replies_to(ids[4]) + replies_to(ids[5]), [], "the 5th and 6th get no reply")
is_(subscriptions_of(R), [], "the JOINs over the limit made no subscription")
is_(gw.sql("SELECT count(*) FROM outbox WHERE phone = ? AND text LIKE 'Talaash: too many%'", (R,))[0][0], 1,
    "the rate-limit text was queued exactly once")
ok(set_clock(61), "test clock +61 s")
status, iid = sms(R, "JOIN Korangi")
is_(inbound_state(iid), "processed", "a minute later the number works again")
ok((replies_to(iid) or [""])[0].startswith("Talaash: you will get missing-child alerts for Korangi"),
   "with the JOIN reply")
is_(subscriptions_of(R), [("PK-SD-KHI-KOR",)], "and the subscription is made")

# ---- reports per day ----
P2 = "+923005550002"
_, r1 = sms(P2, "MISSING name: Ali age: 7 boy area: Korangi")
_, r2 = sms(P2, "MISSING name: Sara age: 5 girl area: Malir")
_, r3 = sms(P2, "MISSING name: Zain age: 9 boy area: Lyari")
ok((replies_to(r1) or [""])[0].startswith("Talaash: case ") and "Ali" in replies_to(r1)[0], "1st report registered")
ok((replies_to(r2) or [""])[0].startswith("Talaash: case ") and "Sara" in replies_to(r2)[0], "2nd report registered")
is_(len(replies_to(r3)), 1, "the 3rd report of the day gets one reply")
ok((replies_to(r3) or [""])[0].startswith(RATE_TEXT), "the rate-limit text")
is_(sorted(r[0] for r in gw.sql("SELECT child_name FROM cases WHERE reporter_phone = ?", (P2,))), ["Ali", "Sara"],
    "and makes no case (2 cases, no draft)")
is_(inbound_state(r3), "processed", "the 3rd report itself is handled (answered), not lost")

# ---- block list ----
B = "+923005550003"
_, b0 = sms(B, "HELP")
is_(inbound_state(b0), "processed", "before blocking, the number is served")
gw.write("INSERT INTO blocklist (phone, reason, created_at) VALUES (?, ?, ?)",
         (B, "abuse (test)", int(time.time()) + offset))
blocked = []
for text in ["JOIN Korangi", "MISSING name: Omar age: 6 boy area: Korangi", "HELP"]:
    status, iid = sms(B, text)
    is_(status, 200, "a blocked number's message is still acknowledged 200 (%s)" % text.split()[0])
    blocked.append(iid)
is_([inbound_state(i) for i in blocked], ["blocked"] * 3, "each is stored with state 'blocked'")
is_(sum((replies_to(i) for i in blocked), []), [], "none gets a reply")
is_(gw.sql("SELECT count(*) FROM outbox WHERE phone = ?", (B,))[0][0], 1,
    "the only message ever queued to it is the answer from before the block")
is_(subscriptions_of(B), [], "the JOIN made no subscription")
is_(gw.sql("SELECT count(*) FROM cases WHERE reporter_phone = ?", (B,))[0][0], 0, "the report made no case")

# ---- the 30-minute window for answering a report's question ----
D1, D2 = "+923005550004", "+923005550005"
_, d1 = sms(D1, "MISSING Ahmed, boy, Korangi, green shirt")
_, d2 = sms(D2, "MISSING Hamza, boy, Korangi, red shirt, last seen near Korangi crossing")
ok((replies_to(d1) or [""])[0].startswith("Talaash: how old is Ahmed?"), "D1's report lacks the age: asked")
ok((replies_to(d2) or [""])[0].startswith("Talaash: how old is Hamza?"), "D2's report lacks the age: asked")
drafted = offset
ok(set_clock(drafted + 29 * 60), "test clock +29 min")
_, a2 = sms(D2, "8")
ok((replies_to(a2) or [""])[0].startswith("Talaash: case ") and "registered for Hamza" in replies_to(a2)[0],
   "'8' within 30 minutes answers the question: the case is registered")
case = gw.sql("SELECT id, case_no, state, age, description FROM cases WHERE reporter_phone = ?", (D2,))
is_([(c[2], c[3]) for c in case], [("reported", 8)], "D2's case is REPORTED with age 8")
ok(set_clock(drafted + 31 * 60), "test clock +31 min after the question")
_, a1 = sms(D1, "8")
is_(inbound_state(a1), "processed", "D1's late '8' is handled")
ok((replies_to(a1) or [""])[0].startswith(HELP_TEXT), "but it is not taken as an answer: the help text")
is_(gw.sql("SELECT state, age FROM cases WHERE reporter_phone = ?", (D1,)), [("draft", None)],
    "D1's draft stays a draft without an age")

# ---- retention: a closed case's personal data is redacted after retention_days ----
PO = "+923009990011"
code, _, _ = police("add", PO, "--area", "Korangi", "--pin", "4321")
is_(code, 0, "police add (Korangi)")
case_id, case_no = case[0][0], case[0][1]
diag("case number %s" % case_no)
ok(case[0][4], "the case has a description before redaction")
_, v = sms(PO, "VERIFY %s 4321" % case_no)
ok((replies_to(v) or [""])[0].startswith("Talaash: case %s verified" % case_no), "VERIFY")
# Updates go to those whose alert was sent; queued alerts are cancelled instead.
ok(wait_until(lambda: gw.sql("SELECT count(*) FROM outbox WHERE case_id = ? AND kind = 'alert'"
                             " AND state = 'queued'", (case_id,))[0][0] == 0, 10),
   "the alerts are sent before the FOUND")
_, fnd = sms(PO, "FOUND %s 4321" % case_no)
ok((replies_to(fnd) or [""])[0].startswith("Talaash: case %s marked FOUND" % case_no), "FOUND")
ok(gw.sql("SELECT count(*) FROM outbox WHERE case_id = ? AND kind = 'alert'", (case_id,))[0][0] >= 2,
   "alerts went out (to R, who joined Korangi, and the officer)")
ok(gw.sql("SELECT count(*) FROM outbox WHERE case_id = ? AND kind = 'update'", (case_id,))[0][0] >= 2,
   "and the FOUND updates")
ok(wait_until(lambda: gw.sql("SELECT count(*) FROM outbox WHERE state = 'queued'")[0][0] == 0, 10),
   "everything queued is sent")


def counts():
    """Row counts, leaving out the clock probes' own messages (set_clock adds some)."""
    not_probe = {"outbox": " WHERE phone NOT LIKE '+9230077%'", "inbound": " WHERE phone NOT LIKE '+9230077%'"}
    return {t: gw.sql("SELECT count(*) FROM %s%s" % (t, not_probe.get(t, "")))[0][0]
            for t in ("cases", "outbox", "inbound", "alerts", "audit_log")}


before = counts()
case_outbox = gw.sql("SELECT count(*) FROM outbox WHERE case_id = ?", (case_id,))[0][0]
is_(gw.sql("SELECT redacted_at FROM cases WHERE id = ?", (case_id,)), [(None,)], "not redacted at first")
# A second case (Ali, P2's) closed 2 h later: when the first is due, this one is not.
found_at = offset
ok(set_clock(found_at + 7200), "test clock +2 h after FOUND")
ali = gw.sql("SELECT id, case_no FROM cases WHERE child_name = 'Ali'")[0]
diag("case number %s (Ali)" % ali[1])
_, fa = sms(PO, "FOUND %s 4321" % ali[1])
ok((replies_to(fa) or [""])[0].startswith("Talaash: case %s marked FOUND" % ali[1]), "a second case, FOUND 2 h later")
ok(wait_until(lambda: gw.sql("SELECT count(*) FROM outbox WHERE state = 'queued'")[0][0] == 0, 10),
   "everything queued is sent")
before = counts()
ok(set_clock(found_at + 86400 + 3600 + 60), "test clock +1 day 1 h after the first FOUND")
ok(wait_until(lambda: gw.sql("SELECT redacted_at FROM cases WHERE id = ?", (case_id,))[0][0], 5),
   "within a few seconds the case is redacted (redacted_at set)")
is_(gw.sql("SELECT child_name, reporter_phone, description, last_seen, contact FROM cases WHERE id = ?",
           (case_id,)), [(None, None, None, None, None)],
    "child_name, reporter_phone, description, last_seen, contact are NULL")
is_(gw.sql("SELECT state, case_no, age FROM cases WHERE id = ?", (case_id,)), [("found", case_no, 8)],
    "the case row stays (state, number, age)")
is_(gw.sql("SELECT DISTINCT text FROM outbox WHERE case_id = ?", (case_id,)), [("[redacted]",)],
    "every outbox text of the case (alerts, updates, reporter notices) is '[redacted]'")
is_(gw.sql("SELECT count(*) FROM outbox WHERE case_id = ?", (case_id,))[0][0], case_outbox,
    "the case's outbox rows stay (%d)" % case_outbox)
is_(gw.sql("SELECT DISTINCT text FROM inbound WHERE case_id = ?", (case_id,)), [("[redacted]",)],
    "the report and the answer (inbound) are '[redacted]'")
waves = gw.sql("SELECT text_en, text_ur, text_roman_ur FROM alerts WHERE case_id = ?", (case_id,))
ok(len(waves) >= 2, "the case had waves (alert and update): %d" % len(waves))
is_(sorted({t for w in waves for t in w}), ["[redacted]"],
    "every wave's text in every language (the alert's and the update's) is '[redacted]'")
quoted = gw.sql("SELECT o.text FROM outbox o JOIN inbound i ON i.id = o.inbound_id"
                " WHERE i.case_id = ? AND o.text <> '[redacted]'", (case_id,))
is_(quoted, [], "the replies to the report and to the answer (outbox.inbound_id; they quote the child's name)"
                " are '[redacted]' too")
is_(counts(), before, "counts stay: cases, outbox, inbound, alerts, audit log")
is_(gw.sql("SELECT child_name, redacted_at FROM cases WHERE id = ?", (ali[0],)), [("Ali", None)],
    "the case closed 23 h ago is not redacted in the same run")
is_(sorted(r[0] for r in gw.sql("SELECT child_name FROM cases WHERE redacted_at IS NULL")),
    ["Ali", "Sara"], "nor the open case")
# A draft abandoned for longer than the retention period holds a child's name
# and the reporter's number for no purpose: it is redacted like a closed case.
is_(gw.sql("SELECT state, child_name, reporter_phone, redacted_at IS NOT NULL FROM cases"
           " WHERE id = (SELECT case_id FROM inbound WHERE text = '[redacted]' AND phone = ? LIMIT 1)", (D1,)),
    [("draft", None, None, 1)], "the draft abandoned for more than retention_days is redacted too")

code, _ = gw.stop()
is_(code, 0, "clean exit")
is_(gw.sanitizer_report(), None, "no sanitizer report")
gw.close()
sys.exit(done_testing())
