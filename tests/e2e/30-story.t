#!/usr/bin/env python3
"""30-story.t — the whole story of issue #6 against the mock aggregator:
volunteers subscribe by SMS, a parent reports with a field missing and
answers, police are notified, an unregistered VERIFY is refused, police
VERIFY, alerts reach exactly the right numbers once, a sighting is
forwarded, escalation widens on a test clock, FOUND sends the update to
exactly the alerted numbers; STOP during a broadcast; replies' languages."""

import os
import subprocess
import sys
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from tap import ok, is_, diag, done_testing  # noqa: E402
from talaash import Gateway, binary, story_channels, wait_until, write_clock  # noqa: E402
from mockagg import MockAggregator  # noqa: E402

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
mock = MockAggregator().start()
clock_file = os.path.join(mock_dir := os.path.dirname(os.path.abspath(__file__)), "..", "..",
                          "build", "story-clock-%d" % os.getpid())
clock_file = os.path.abspath(clock_file)
os.makedirs(os.path.dirname(clock_file), exist_ok=True)
write_clock(clock_file, 0)

channels = story_channels(mock.url, 5, batch_size=1)

gw = Gateway(channels=channels, env={"TALAASH_TEST_CLOCK_FILE": clock_file}).start()


def sms(phone, text):
    body = urllib.parse.urlencode({"from": phone, "to": "21512", "text": text, "id": str(uuid.uuid4()),
                                   "date": "2026-11-23 10:00:00"})
    status, _, _ = gw.request("POST", "/sms/at", body, FORM)
    return status


def sent_to(phone, since=0):
    """Texts the mock received for phone (AT sends; recipients comma-separated)."""
    out = []
    for r in mock.requests(since):
        if r["path"].startswith("/version1/messaging") and r["form"]:
            if phone in r["form"]["to"].split(","):
                out.append(r["form"]["message"])
    return out


def last_reply(phone):
    rows = gw.sql("SELECT text FROM outbox WHERE phone = ? AND kind = 'reply' ORDER BY id DESC LIMIT 1", (phone,))
    return rows[0][0] if rows else None


def alert_phones(case_no=None):
    rows = gw.sql("SELECT phone FROM outbox WHERE kind = 'alert' ORDER BY phone")
    return [r[0] for r in rows]


def police(*args):
    p = subprocess.run([binary(), "police"] + list(args) + ["-c", gw.conf_path],
                       capture_output=True, text=True, timeout=20)
    return p.returncode, p.stdout, p.stderr


V = {i: "+9230010000%02d" % i for i in range(1, 10)}
PARENT = "+923001234567"
PO1 = "+923009990001"   # police, Korangi
PO2 = "+923009990002"   # police, Lahore

# ---- police registration by CLI ----
code, out, err = police("add", "0300 9990001", "--area", "Korangi", "--pin", "4321")
is_(code, 0, "police add (Korangi, with PIN) exits 0")
ok("+923009990001 registered for Korangi" in out, "and says what it registered")
code, out, err = police("add", PO2, "--area", "Lahor")
is_(code, 0, "police add with a misspelt area matches it (Lahor → Lahore)")
code, out, err = police("add", "+923009990003", "--area", "Nowhereabad")
is_(code, 2, "police add with an unknown area exits 2")
code, out, _ = police("list")
is_(sorted(l.split("\t")[0] + " " + l.split("\t")[2] for l in out.strip().split("\n")),
    ["+923009990001 Korangi", "+923009990002 Lahore"], "police list shows both")

# ---- volunteers subscribe, replies in their language ----
is_(sms(V[1], "JOIN Korangi"), 200, "V1 JOIN Korangi")
ok(last_reply(V[1]).startswith("Talaash: you will get missing-child alerts for Korangi"), "English JOIN reply")
sms(V[2], "join landhi")
sms(V[3], "JOIN Karachi")
sms(V[4], "JOIN Lahore")
sms(V[5], "JOIN Korangi")
sms(V[5], "SUB Karachi")
sms(V[6], "شامل کورنگی")
ok(last_reply(V[6]).startswith("تلاش: آپ کو کورنگی"), "Urdu JOIN gets an Urdu reply")
sms(V[7], "JOIN Orangi")
sms(V[8], "JOIN Korangi")
sms(V[8], "STOP")
ok(last_reply(V[8]).startswith("Talaash: you will get no more alerts"), "STOP reply")
sms(V[9], "shamil Gulshan Iqbaal")
ok(last_reply(V[9]).startswith("Talaash: aap ko Gulshan-e-Iqbal"), "Roman Urdu JOIN (with a typo) gets a Roman Urdu reply")
is_(gw.sql("SELECT count(*) FROM subscriptions")[0][0], 9, "9 subscriptions stored (V8's removed by STOP)")

# ---- the report, with a missing field, answered ----
sms(PARENT, "MISSING Bilal, boy, Korangi, blue shirt, last seen 4pm near Korangi crossing")
ok(last_reply(PARENT).startswith("Talaash: how old is Bilal?"), "missing age is asked for")
is_(gw.sql("SELECT state, missing FROM cases"), [("draft", 2)], "a draft exists, age missing")
sms(PARENT, "8")
reply = last_reply(PARENT)
ok(reply.startswith("Talaash: case ") and "registered for Bilal" in reply, "the answer completes the report")
(case_no, state, age, area) = gw.sql("SELECT case_no, state, age, area_code FROM cases")[0]
is_((state, age, area), ("reported", 8, "PK-SD-KHI-KOR"), "case REPORTED, age 8, Korangi")
ok(case_no in reply, "the reporter got the case number %s" % case_no)
police_msgs = gw.sql("SELECT phone, text FROM outbox WHERE kind = 'police'")
is_([p for p, _ in police_msgs], [PO1], "exactly the Korangi police were notified")
ok(PARENT in police_msgs[0][1] and case_no in police_msgs[0][1], "police get the reporter's number and the case")
is_(alert_phones(), [], "no alert before VERIFY")

# ---- VERIFY: refused for strangers and without PIN; then done ----
sms(V[1], "VERIFY %s" % case_no)
ok(last_reply(V[1]).startswith("Talaash: only registered police"), "an unregistered VERIFY is refused")
sms(PO1, "VERIFY %s" % case_no)
ok("PIN" in last_reply(PO1), "VERIFY without the PIN is refused")
sms(PO2, "VERIFY %s 1111" % case_no)
ok("outside your area" in last_reply(PO2), "Lahore police cannot verify a Korangi case")
audit = gw.sql("SELECT actor, action, outcome FROM audit_log WHERE action = 'verify' ORDER BY id")
is_(audit, [(V[1], "verify", "refused: not registered"), (PO1, "verify", "refused: PIN"),
            (PO2, "verify", "refused: outside area")], "every refused attempt is in the audit log")
is_(gw.sql("SELECT state FROM cases")[0][0], "reported", "still REPORTED")

since = mock.stats()["requests"]
sms(PO1, "VERIFY %s 4321" % case_no)
ok(last_reply(PO1).startswith("Talaash: case %s verified" % case_no), "police VERIFY with PIN accepted")
is_(gw.sql("SELECT state FROM cases")[0][0], "active", "case ACTIVE")
first_wave = sorted([V[1], V[3], V[5], V[6], PO1])
is_(alert_phones(), first_wave, "alerts queued for exactly Korangi, Karachi subscribers and Korangi police, once each")
ok(wait_until(lambda: gw.sql("SELECT count(*) FROM outbox WHERE kind='alert' AND state='sent'")[0][0] == 5, 15),
   "all 5 alerts sent through the alerts channel")
# V1 and V6 also get replies, on the other channel ("at"), which may reach the
# mock before or after the alert: the alerts are picked out by their first word.
en_alert = [t for t in sent_to(V[1]) if t.startswith("ALERT") or t.startswith("الرٹ")]
is_(len(en_alert), 1, "V1 got one alert")
ok(en_alert and en_alert[-1].startswith("ALERT Korangi, Karachi: Bilal, 8, boy, last seen Korangi"), "English alert text")
ok(en_alert and ("SEEN %s" % case_no) in en_alert[-1] and "Call 15" in en_alert[-1], "alert names the case, hotline and reply keyword")
ur_alert = [t for t in sent_to(V[6]) if t.startswith("ALERT") or t.startswith("الرٹ")]
is_(len(ur_alert), 1, "V6 got one alert")
ok(ur_alert and ur_alert[-1].startswith("الرٹ کورنگی، کراچی:"), "Urdu subscriber gets the Urdu alert")
all_texts = [r["form"]["message"] for r in mock.requests() if r["form"] and "message" in r["form"]]
ok(not any(PARENT in t or "1234567" in t for t in all_texts if t.startswith("ALERT") or t.startswith("الرٹ")),
   "no alert holds the reporter's number")
ok(wait_until(lambda: any(case_no in t and "verified" in t for t in sent_to(PARENT)), 10),
   "the reporter hears of the verification")
is_(sent_to(V[4]) + sent_to(V[8]) + sent_to(V[2]) + sent_to(V[7]), [t for t in sent_to(V[4]) + sent_to(V[8]) + sent_to(V[2]) + sent_to(V[7]) if not t.startswith("ALERT")],
    "Lahore, stopped, Landhi and Orangi subscribers got no alert yet")

# ---- a sighting goes to the police at once ----
sms(V[1], "SEEN %s white car near Quaidabad bridge" % case_no)
ok(last_reply(V[1]).startswith("Talaash: thank you."), "sighting acknowledged")
pol = gw.sql("SELECT text FROM outbox WHERE kind='police' AND phone=? ORDER BY id DESC LIMIT 1", (PO1,))[0][0]
ok(pol.startswith("TALAASH SIGHTING case %s" % case_no) and "white car near Quaidabad bridge" in pol, "and forwarded to the Korangi police")
is_(gw.sql("SELECT count(*) FROM sightings")[0][0], 1, "sighting stored")
sms(V[4], "STATUS %s" % case_no)
is_(last_reply(V[4]), "Talaash: case %s is active." % case_no, "the public gets only active/closed")
sms(PARENT, "STATUS %s" % case_no)
ok("Bilal" in last_reply(PARENT) and "ACTIVE" in last_reply(PARENT), "the reporter gets the full status")
bad = case_no[:5] + str((int(case_no[5]) + 1) % 10)
sms(V[4], "STATUS %s" % bad)
ok("not a valid case number" in last_reply(V[4]), "a mistyped case number is caught by its check digit")

# ---- escalation on the test clock ----
write_clock(clock_file, 3700)
ok(wait_until(lambda: V[2] in alert_phones(), 10), "after 60 min the 15 km stage reaches Landhi")
# Landhi (6.8 km) and Gulshan-e-Iqbal (within 15 km) join; Orangi (19.5 km) does not.
is_(alert_phones(), sorted(first_wave + [V[2], V[9]]), "and Gulshan, no one else; nobody twice")
write_clock(clock_file, 6 * 3600 + 100)
ok(wait_until(lambda: V[7] in alert_phones(), 10), "after 6 h the city stage reaches Orangi")
is_(alert_phones(), sorted(first_wave + [V[2], V[7], V[9]]), "the whole city, nobody twice, not Lahore")
is_(gw.sql("SELECT stage FROM cases")[0][0], 2, "both stages recorded")
ok(wait_until(lambda: gw.sql("SELECT count(*) FROM outbox WHERE kind='alert' AND state='sent'")[0][0] == 8, 15),
   "all 8 alerts sent")

# ---- FOUND: updates to exactly those alerted ----
sms(PO1, "FOUND %s 4321" % case_no)
ok(last_reply(PO1).startswith("Talaash: case %s marked FOUND" % case_no), "FOUND accepted")
updates = sorted(r[0] for r in gw.sql("SELECT phone FROM outbox WHERE kind = 'update'"))
is_(updates, sorted(first_wave + [V[2], V[7], V[9]]), "the update goes to exactly the alerted numbers")
ok(wait_until(lambda: gw.sql("SELECT count(*) FROM outbox WHERE kind='update' AND state='sent'")[0][0] == 8, 15), "updates sent")
ok(any("has been found" in t for t in sent_to(V[1])), "English update text")
ok(wait_until(lambda: any("FOUND" in t for t in sent_to(PARENT)), 10), "the reporter is told")
write_clock(clock_file, 8 * 3600)


def daemon_time_at_least(offset):
    """True once a message from a fresh number is stamped with the test clock at offset or later."""
    sms("+9230077%05d" % len(gw.sql("SELECT id FROM inbound")), "HELP")
    at = gw.sql("SELECT max(received_at) FROM inbound")[0][0]
    return at >= int(time.time()) + offset - 1


ok(wait_until(lambda: daemon_time_at_least(8 * 3600), 10), "the daemon's clock is at +8 h")
wait_until(lambda: False, 1.5)  # then two ticks of its 1 s timer pass (nothing to wait for: none may act)
is_(gw.sql("SELECT kind FROM alerts ORDER BY id"), [("alert",), ("escalation",), ("escalation",), ("update",)],
    "escalation stopped: no wave after FOUND, only the update")

# ---- STOP during a broadcast ----
LY = ["+9230020000%02d" % i for i in range(20)]
for p in LY:
    sms(p, "JOIN Lyari")
sms("+923001234500", "MISSING name: Hina age: 6 girl area: Lyari")
case2 = gw.sql("SELECT case_no FROM cases WHERE child_name = 'Hina'")[0][0]
police("add", "+923009990009", "--area", "Karachi")
sms("+923009990009", "VERIFY %s" % case2)
sms(LY[-1], "STOP")
# STOP is applied when the sender reaches the message: it is never sent.
# Drained: nothing queued and nothing in flight (a 'sending' row is not at the mock yet).
ok(wait_until(lambda: gw.sql("SELECT count(*) FROM outbox o JOIN cases c ON c.id=o.case_id WHERE c.case_no=? AND o.kind='alert' AND o.state IN ('queued', 'sending')", (case2,))[0][0] == 0, 20),
   "the rest of the broadcast drains")
row = gw.sql("SELECT o.state FROM outbox o JOIN cases c ON c.id = o.case_id WHERE o.phone = ? AND o.kind = 'alert' AND c.case_no = ?", (LY[-1], case2))
is_(row, [("cancelled",)], "STOP wins: the alert queued to that number ends cancelled")
is_([t for t in sent_to(LY[-1]) if t.startswith("ALERT")], [], "the stopped number never got the alert")
ok(len([t for t in sent_to(LY[0]) if t.startswith("ALERT")]) == 1, "others got it once")

# ---- language of replies ----
sms("+923001111111", "madad")
ok(last_reply("+923001111111").startswith("Talaash: gumshuda"), "MADAD → Roman Urdu help")
sms("+923001111112", "مدد")
ok(last_reply("+923001111112").startswith("تلاش:"), "مدد → Urdu help")
sms("+923001111113", "what is this")
ok(last_reply("+923001111113").startswith("Talaash: report a missing child"), "unknown → English help, never silence")

code, _ = gw.stop()
is_(code, 0, "clean exit")
is_(gw.sanitizer_report(), None, "no sanitizer report")
ok(PARENT not in gw.log(), "the reporter's number never appears in the log")
gw.close()
mock.stop()
os.unlink(clock_file)
sys.exit(done_testing())
