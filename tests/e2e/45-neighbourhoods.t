#!/usr/bin/env python3
"""45-neighbourhoods.t — issue #13 end to end: a parent who names the
neighbourhood ("Bahadurabad") and writes no keyword; the alert reaches the
subscribers of the neighbourhood, its town, its district and its city, and
those whose neighbourhood centre lies within the radius, nobody else;
WIDEN to another neighbourhood and the escalation stages; an ambiguous name
("Gulberg", "Saddar", "Model Town") over SMS — asked when the sender has no
city, taken from the sender's own city otherwise, never across cities — and
over USSD (a numbered list, or the sender's city); AREAS paging."""

import os
import sys
import urllib.parse
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from tap import ok, is_, diag, done_testing  # noqa: E402
from talaash import Gateway, binary, story_channels, wait_until, write_clock  # noqa: E402
from mockagg import MockAggregator  # noqa: E402
import subprocess  # noqa: E402

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
mock = MockAggregator().start()
clock_file = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                          "build", "nbh-clock-%d" % os.getpid()))
os.makedirs(os.path.dirname(clock_file), exist_ok=True)
write_clock(clock_file, 0)

channels = story_channels(mock.url, 50)

gw = Gateway(channels=channels, env={"TALAASH_TEST_CLOCK_FILE": clock_file}).start()


def sms(phone, text):
    body = urllib.parse.urlencode({"from": phone, "to": "21512", "text": text, "id": str(uuid.uuid4()),
                                   "date": "2026-11-23 10:00:00"})
    status, _, _ = gw.request("POST", "/sms/at", body, FORM)
    return status


def last_reply(phone):
    rows = gw.sql("SELECT text FROM outbox WHERE phone = ? AND kind = 'reply' ORDER BY id DESC LIMIT 1", (phone,))
    return rows[0][0] if rows else None


def subs(phone):
    return sorted(r[0] for r in gw.sql("SELECT area_code FROM subscriptions WHERE phone = ?", (phone,)))


def alert_phones(case_no):
    rows = gw.sql("SELECT o.phone FROM outbox o JOIN cases c ON c.id = o.case_id"
                  " WHERE c.case_no = ? AND o.kind = 'alert' ORDER BY o.phone", (case_no,))
    return [r[0] for r in rows]


def police(*args):
    p = subprocess.run([binary(), "police"] + list(args) + ["-c", gw.conf_path],
                       capture_output=True, text=True, timeout=20)
    return p.returncode, p.stdout, p.stderr


def ussd(session, phone, text):
    body = urllib.parse.urlencode({"sessionId": session, "serviceCode": "*384*1234#",
                                   "phoneNumber": phone, "networkCode": "41001", "text": text})
    _, _, b = gw.request("POST", "/ussd/at", body, FORM)
    return b.decode("utf-8")


# ---- talaash areas: the deeper tree ----
p = subprocess.run([binary(), "areas"], capture_output=True, text=True, timeout=20)
rows = [l.split("\t") for l in p.stdout.strip().split("\n")]
ok(len(rows) >= 600, "talaash areas lists %d areas (>= 600)" % len(rows))
ok(sum(1 for r in rows if r[0].startswith("PK-SD-KHI-")) >= 400, "of them >= 400 in Karachi")

# ---- subscribers at every level of the tree ----
# Bahadurabad's centre is its Wikipedia point (24.883, 67.067); the others'
# are the sourced point of the place or of its town (data/areas/README.md).
S = {
    "nbh": "+923002000001",     # Bahadurabad (neighbourhood, Gulshan-e-Iqbal town)
    "town": "+923002000002",    # Gulshan-e-Iqbal (town)
    "dist": "+923002000003",    # Karachi East (district)
    "city": "+923002000004",    # Karachi
    "near": "+923002000005",    # Teen Hatti (Liaquatabad): 3 km
    "sib": "+923002000006",     # Soldier Bazaar (Jamshed), its own point: 3.7 km
    "saddar": "+923002000011",  # Khadda Market (Saddar): 7 km
    "landhi": "+923002000007",  # Dawood Chowrangi (Landhi): 14 km
    "kemari": "+923002000008",  # Shershah (Kemari): 23 km
    "lahore": "+923002000009",  # Gulberg Lahore
    "orangi": "+923002000010",  # Mominabad (Orangi): 12.5 km
}
for key, text in [("nbh", "JOIN Bahadurabad"), ("town", "JOIN Gulshan"), ("dist", "JOIN Karachi East"),
                  ("city", "JOIN Karachi"), ("near", "JOIN Teen Hatti"), ("sib", "JOIN soldier bazar"),
                  ("saddar", "JOIN Khadda Market"), ("landhi", "JOIN Dawood Chowrangi"),
                  ("kemari", "JOIN Sher Shah Karachi"), ("lahore", "JOIN Gulberg Lahore"),
                  ("orangi", "JOIN Mominabad")]:
    is_(sms(S[key], text), 200, "%s: %s" % (key, text))
is_(subs(S["nbh"]), ["PK-SD-KHI-GUL-BAHADURABAD"], "JOIN Bahadurabad subscribes the neighbourhood")
ok(last_reply(S["nbh"]).startswith("Talaash: you will get missing-child alerts for Bahadurabad"), "and says so")
is_(subs(S["sib"]), ["PK-SD-KHI-JAM-SOLDIERBAZAAR"], "'soldier bazar' is Soldier Bazaar")
is_(subs(S["kemari"]), ["PK-SD-KHI-KEM-SHERSHAH"], "'Sher Shah Karachi' is Karachi's Shershah, not Multan's")
is_(subs(S["lahore"]), ["PK-PB-LHE-GBG"], "'Gulberg Lahore' is Lahore's Gulberg")

# ---- a report with no keyword, naming the neighbourhood ----
PARENT = "+923001234567"
sms(PARENT, "assalam o alaikum meri behen Zara 6 saal ki hai Bahadurabad se nahi mil rahi")
reply = last_reply(PARENT)
ok(reply and reply.startswith("Talaash: Zara, Bahadurabad ke liye case ") and "darj ho gaya" in reply,
   "a report without a keyword is taken (a Roman Urdu reply): %r" % reply)
case_no, area, age, gender = gw.sql("SELECT case_no, area_code, age, gender FROM cases")[0]
is_((area, age, gender), ("PK-SD-KHI-GUL-BAHADURABAD", 6, "female"), "case in Bahadurabad, 6, female")

sms("+923002000099", "hello is this the police")
ok(last_reply("+923002000099").startswith("Talaash: report a missing child"), "plain chatter gets the help reply")
is_(gw.sql("SELECT count(*) FROM cases")[0][0], 1, "and makes no case")

# ---- police of the town verify; the first wave ----
PO = "+923009990001"
code, out, _ = police("add", PO, "--area", "Gulshan-e-Iqbal")
is_(code, 0, "police registered for Gulshan-e-Iqbal town")
sms(PO, "VERIFY %s" % case_no)
ok(last_reply(PO).startswith("Talaash: case %s verified" % case_no), "a town's police verify a neighbourhood's case")
first = sorted([S["nbh"], S["town"], S["dist"], S["city"], S["near"], S["sib"], PO])
is_(alert_phones(case_no), first,
    "first wave: the neighbourhood, its town, district and city, the neighbourhoods within 5 km "
    "(Teen Hatti, Soldier Bazaar) and the police; not Saddar, Landhi, Orangi, Kemari or Lahore")

# ---- WIDEN to a named neighbourhood (the officer's own city) ----
sms(PO, "WIDEN %s Dawood Chowrangi" % case_no)
ok(last_reply(PO).startswith("Talaash: case %s widened to Dawood Chowrangi; 1 more" % case_no),
   "WIDEN names the neighbourhood and the one more recipient: %r" % last_reply(PO))
ok(wait_until(lambda: S["landhi"] in alert_phones(case_no), 10), "WIDEN Dawood Chowrangi reaches its subscriber")
is_(alert_phones(case_no), sorted(first + [S["landhi"]]), "and nobody else, nobody twice")

# ---- escalation: 15 km from the neighbourhood's centre, then the city, never Lahore ----
write_clock(clock_file, 3700)
ok(wait_until(lambda: S["orangi"] in alert_phones(case_no), 10), "after 60 min the 15 km stage reaches Mominabad")
is_(alert_phones(case_no), sorted(first + [S["landhi"], S["orangi"], S["saddar"]]),
    "and Khadda Market (7 km), not Shershah (23 km), nobody twice")
write_clock(clock_file, 6 * 3600 + 100)
ok(wait_until(lambda: S["kemari"] in alert_phones(case_no), 10), "the city stage reaches Shershah")
is_(alert_phones(case_no), sorted(first + [S["landhi"], S["orangi"], S["saddar"], S["kemari"]]),
    "the whole city, nobody twice, not Lahore")

# ---- ambiguous names over SMS ----
A = "+923003000001"   # no history
sms(A, "JOIN Gulberg")
r = last_reply(A)
ok(r and r.startswith("Talaash: which area?") and "Gulberg (Karachi)" in r and "Gulberg (Lahore)" in r
   and "Gulberg (Faisalabad)" in r, "JOIN Gulberg from a new number asks, naming each city: %r" % r)
is_(subs(A), [], "and subscribes nothing")
sms(A, "JOIN Gulberg Lahore")
is_(subs(A), ["PK-PB-LHE-GBG"], "the answer with the city subscribes Lahore's Gulberg")
sms(A, "JOIN Model Town")
is_(subs(A), ["PK-PB-LHE-GBG", "PK-PB-LHE-NIS-MODELTOWN"],
    "a Lahore subscriber's 'Model Town' is Lahore's, without asking")

sms(A, "JOIN Gulberg Karachi")
sms(A, "UNSUB Gulberg")
ok(last_reply(A).startswith("Talaash: no more alerts for Gulberg"), "UNSUB Gulberg (two cities) is answered")
is_(subs(A), ["PK-PB-LHE-NIS-MODELTOWN"], "and ends the alerts of every Gulberg the number had, nothing else")

B = "+923003000002"
sms(B, "JOIN Rawalpindi")
sms(B, "MISSING Sara 5 girl Saddar")
is_(gw.sql("SELECT area_code FROM cases WHERE reporter_phone = ?", (B,)), [("PK-PB-RWP-CNT-SADDAR",)],
    "a Rawalpindi subscriber's 'Saddar' is Rawalpindi's")

C = "+923003000003"   # no history
sms(C, "MISSING Ali 7 boy Saddar")
r = last_reply(C)
ok(r and r.startswith("Talaash: which area is 'Saddar'?") and "Saddar (Karachi)" in r, "a report with 'Saddar' asks: %r" % r)
is_(gw.sql("SELECT state, area_code FROM cases WHERE reporter_phone = ?", (C,)), [("draft", None)],
    "the case waits as a draft, with no area guessed")
sms(C, "Saddar Karachi")
is_(gw.sql("SELECT state, area_code FROM cases WHERE reporter_phone = ?", (C,)), [("reported", "PK-SD-KHI-SAD")],
    "the answer names the city: Karachi's Saddar")
sms(C, "JOIN Gulberg")
is_(subs(C), ["PK-SD-KHI-GBG"], "having reported in Karachi, C's 'Gulberg' is Karachi's")

# ---- ambiguous names over USSD ----
U = "+923003000004"   # no history
t = ussd("u1", U, "")
t = ussd("u1", U, "2")
ok(t.startswith("CON Alerts for which area?"), "USSD: join asks for the area")
t = ussd("u1", U, "2*Gulberg")
ok(t.startswith("CON Which area?\n1 Gulberg (") and "(Karachi)" in t and "(Lahore)" in t,
   "USSD: 'Gulberg' gives a numbered list naming the cities: %r" % t)
lines = t.split("\n")
pick = [l.split(" ", 1)[0] for l in lines if "(Lahore)" in l][0]
t = ussd("u1", U, "2*Gulberg*%s" % pick)
ok(t.startswith("END Talaash: you will get missing-child alerts for Gulberg"), "USSD: the pick subscribes")
is_(subs(U), ["PK-PB-LHE-GBG"], "USSD: to Lahore's Gulberg, as picked")
t = ussd("u2", U, "2*Model Town")
ok(t.startswith("END Talaash: you will get missing-child alerts for Model Town"),
   "USSD: a Lahore subscriber's 'Model Town' is taken without a list")
is_(subs(U), ["PK-PB-LHE-GBG", "PK-PB-LHE-NIS-MODELTOWN"], "USSD: Lahore's Model Town")

# ---- AREAS pages ----
P = "+923003000005"
sms(P, "AREAS gul")
r1 = last_reply(P)
ok(r1.startswith("Talaash areas 1-12 of ") and "More: AREAS gul 2" in r1, "AREAS gul: the first page and how to get the next: %r" % r1)
sms(P, "AREAS gul 2")
r2 = last_reply(P)
ok(r2.startswith("Talaash areas 13-24 of ") and r2 != r1, "AREAS gul 2: the second page: %r" % r2)
t = ussd("u3", P, "2*gul")
ok("98 More" in t, "USSD: 'gul' offers a list with 98 More")
t2 = ussd("u3", P, "2*gul*98")
ok(t2.startswith("CON Which area?") and t2 != t, "USSD: 98 turns the page")

code, _ = gw.stop()
is_(code, 0, "clean exit")
is_(gw.sanitizer_report(), None, "no sanitizer report")
ok(PARENT not in gw.log(), "the reporter's number never appears in the log")
gw.close()
mock.stop()
os.unlink(clock_file)
sys.exit(done_testing())
