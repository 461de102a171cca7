#!/usr/bin/env python3
"""61-feed.t — the public feed (issue #11): GET /alerts.atom and
GET /alerts/{case}.xml through a case's life (reported: not public; VERIFY:
CAP Alert; escalation: Update referencing it; FOUND: Cancel referencing
both; 24 h later: gone). Every CAP document validates against
../shared/schemas/CAP-v1.2.xsd with xmllint --schema; the Atom has RFC
4287's required elements; ETag / If-None-Match and Last-Modified /
If-Modified-Since give 304; unknown ids are 404 JSON; the reporter's
number and the sighting's text never appear in any byte served; a drill
(verification = auto) is status Exercise, certainty Likely."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from tap import ok, is_, diag, done_testing  # noqa: E402
from talaash import Gateway, binary, stop_and_check, wait_until, write_clock  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
XSD = os.path.join(ROOT, "..", "shared", "schemas", "CAP-v1.2.xsd")
CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"
ATOM = "{http://www.w3.org/2005/Atom}"
REPORTER = "03001234567"
REPORTER_DIGITS = [b"3001234567", b"923001234567"]
SIGHTING = "white car near the old bridge"
XMLLINT = shutil.which("xmllint")
served = []  # every document body, for the privacy checks at the end

clock_file = os.path.join(ROOT, "build", "feed-clock-%d" % os.getpid())
os.makedirs(os.path.dirname(clock_file), exist_ok=True)
write_clock(clock_file, 0)
gw = Gateway(conf_extra="[alerts]\nradius_km = 5\nescalation = 60m:15km\n",
             env={"TALAASH_TEST_CLOCK_FILE": clock_file}).start()


def sms(g, phone, text):
    st, _, body = g.post_form("/sms/console", {"from": phone, "text": text})
    return st, body.decode()


def get(path, headers=None, g=None):
    st, h, body = (g or gw).request("GET", path, headers=headers)
    served.append(body)
    return st, h, body


def validate_cap(body, name):
    if XMLLINT is None or not os.path.exists(XSD):
        ok(True, "# SKIP xmllint or %s missing: %s" % (XSD, name))
        return
    with tempfile.NamedTemporaryFile(suffix=".xml", delete=False) as f:
        f.write(body)
    try:
        r = subprocess.run([XMLLINT, "--noout", "--schema", XSD, f.name], capture_output=True,
                           text=True, timeout=30)
    finally:
        os.unlink(f.name)
    ok(r.returncode == 0, "%s validates against CAP-v1.2.xsd" % name)
    if r.returncode != 0:
        diag(r.stderr)


def cap(path, name, g=None):
    st, h, body = get(path, g=g)
    is_((st, h.get("content-type")), (200, "application/cap+xml; charset=utf-8"),
        "%s: 200 application/cap+xml" % name)
    validate_cap(body, name)
    return ET.fromstring(body), h, body


def text(el, tag):
    e = el.find(CAP + tag)
    return e.text if e is not None else None


def check_atom(body, name):
    root = ET.fromstring(body)
    ok(root.tag == ATOM + "feed", "%s: an Atom feed element" % name)
    for tag in ("id", "title", "updated"):
        ok(root.find(ATOM + tag) is not None and (root.find(ATOM + tag).text or "").strip(),
           "%s: feed has %s" % (name, tag))
    entries = root.findall(ATOM + "entry")
    ok(root.find(ATOM + "author/" + ATOM + "name") is not None
       or all(e.find(ATOM + "author") is not None for e in entries),
       "%s: feed author (or an author per entry)" % name)
    selfs = [l for l in root.findall(ATOM + "link") if l.get("rel") == "self"]
    ok(len(selfs) == 1 and selfs[0].get("href", "").endswith("/alerts.atom"),
       "%s: one link rel=self to /alerts.atom" % name)
    for e in entries:
        for tag in ("id", "title", "updated"):
            ok(e.find(ATOM + tag) is not None, "%s: entry has %s" % (name, tag))
        alts = [l for l in e.findall(ATOM + "link") if l.get("rel") == "alternate"]
        ok(len(alts) == 1 and re.search(r"/alerts/\d{6}\.xml$", alts[0].get("href", "")),
           "%s: entry links rel=alternate to its CAP message" % name)
    stamps = [root.find(ATOM + "updated").text] + [e.find(ATOM + "updated").text for e in entries]
    ok(all(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", s) for s in stamps),
       "%s: updated stamps are RFC 3339" % name)
    return root, entries


def atom(name):
    st, h, body = get("/alerts.atom")
    is_((st, h.get("content-type")), (200, "application/atom+xml; charset=utf-8"),
        "%s: 200 application/atom+xml" % name)
    root, entries = check_atom(body, name)
    return root, entries, h


# ---- nothing public yet ----
root, entries, h = atom("empty feed")
is_(len(entries), 0, "no entries before any alert")
ok(h.get("etag") and h.get("last-modified"), "ETag and Last-Modified are sent")
is_(h.get("cache-control"), "public, max-age=60", "the feed may be cached for a minute")

police = subprocess.run([binary(), "police", "add", "03009990001", "--area", "Korangi", "-c",
                         gw.conf_path], capture_output=True, text=True)
is_(police.returncode, 0, "police registered for Korangi")
is_(sms(gw, "03001110001", "JOIN Korangi")[0], 200, "a volunteer joins Korangi")
st, reply = sms(gw, REPORTER, "MISSING Bilal, boy, 8, Korangi, blue shirt, last seen near the market")
m = re.search(r"\b(\d{6})\b", reply)
ok(st == 200 and m, "a report registers a case (%s)" % (m and m.group(1)))
case_no = m.group(1) if m else "000000"

st, h, body = get("/alerts/%s.xml" % case_no)
is_((st, json.loads(body or b"{}").get("error")), (404, "no such alert"),
    "a REPORTED case is not public: 404 JSON")
is_(len(atom("feed with a reported case")[1]), 0, "and not in the feed")

# ---- VERIFY: an Alert ----
sms(gw, "03009990001", "VERIFY %s" % case_no)
ok(wait_until(lambda: gw.sql("SELECT state FROM cases WHERE case_no = ?", (case_no,))[0][0] == "active", 5),
   "police VERIFY makes the case active")
sms(gw, "03001110001", "SEEN %s %s" % (case_no, SIGHTING))
alert, h1, body1 = cap("/alerts/%s.xml" % case_no, "the first alert")
is_(text(alert, "msgType"), "Alert", "msgType Alert")
is_(text(alert, "status"), "Actual", "status Actual (verification = police)")
is_(text(alert, "scope"), "Public", "scope Public")
ok(re.match(r"^talaash@127\.0\.0\.1$", text(alert, "sender") or ""), "sender talaash@HOST")
ok(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d\d:\d\d$", text(alert, "sent") or ""),
   "sent carries a timezone offset (%s)" % text(alert, "sent"))
is_(alert.find(CAP + "references"), None, "a first Alert references nothing")
infos = alert.findall(CAP + "info")
is_([text(i, "language") for i in infos], ["en-US", "ur-PK"], "info blocks in English and Urdu")
i_en, i_ur = infos[0], infos[1]
is_([text(i_en, t) for t in ("category", "event", "urgency", "severity", "certainty")],
    ["Rescue", "Child Abduction Emergency", "Immediate", "Severe", "Observed"],
    "category, event, urgency, severity; certainty Observed (police verified)")
ok(re.search(r"[\u0600-\u06ff]", text(i_ur, "event") or "") and
   re.search(r"[\u0600-\u06ff]", text(i_ur, "description") or ""),
   "the Urdu block has Urdu event and description")
ok("Bilal" in (text(i_en, "description") or "") and case_no in text(i_en, "description"),
   "the English description is the alert text (name and case number)")
area = i_en.find(CAP + "area")
is_(area.find(CAP + "areaDesc").text, "Korangi", "areaDesc Korangi")
circle = area.find(CAP + "circle").text
cm = re.match(r"^(-?\d+\.\d+),(-?\d+\.\d+) (\d+\.\d+)$", circle)
ok(cm and 24.5 < float(cm.group(1)) < 25.2 and 66.8 < float(cm.group(2)) < 67.5,
   "circle centre is Korangi's (%s)" % circle)
is_(cm and float(cm.group(3)), 5.0, "circle radius is the first alert's 5 km")
first_id, first_sent = text(alert, "identifier"), text(alert, "sent")

root, entries, h = atom("feed with an active alert")
is_(len(entries), 1, "one entry")
etag, lm = h.get("etag"), h.get("last-modified")
st, h2, body = get("/alerts.atom", {"If-None-Match": etag})
is_((st, body), (304, b""), "If-None-Match with the ETag: 304, no body")
st, _, _ = get("/alerts.atom", {"If-None-Match": '"0000000000000000", ' + etag})
is_(st, 304, "an ETag among several: 304")
st, _, _ = get("/alerts.atom", {"If-Modified-Since": lm})
is_(st, 304, "If-Modified-Since = Last-Modified: 304")
st, _, _ = get("/alerts.atom", {"If-Modified-Since": "Mon, 01 Jan 1990 00:00:00 GMT"})
is_(st, 200, "If-Modified-Since long ago: 200")
st, _, _ = get("/alerts.atom", {"If-None-Match": '"0000000000000000"', "If-Modified-Since": lm})
is_(st, 200, "If-None-Match decides over If-Modified-Since")
st, _, _ = get("/alerts/%s.xml" % case_no, {"If-None-Match": h1.get("etag")})
is_(st, 304, "a CAP message answers 304 to its ETag too")

# ---- escalation: an Update ----
write_clock(clock_file, 3700)
ok(wait_until(lambda: gw.sql("SELECT count(*) FROM alerts WHERE kind = 'escalation'")[0][0] == 1, 5),
   "60 minutes later the alert widens")
upd, _, _ = cap("/alerts/%s.xml" % case_no, "the escalation")
is_(text(upd, "msgType"), "Update", "msgType Update")
is_(text(upd, "references"), "%s,%s,%s" % (text(upd, "sender"), first_id, first_sent),
    "references the first Alert as sender,identifier,sent")
ok(text(upd, "identifier") != first_id, "a new identifier")
is_(float(upd.find(CAP + "info/" + CAP + "area/" + CAP + "circle").text.split()[1]), 15.0,
    "circle radius is the current 15 km")
st, h3, _ = get("/alerts.atom", {"If-None-Match": etag})
ok(st == 200 and h3.get("etag") != etag, "the old ETag no longer matches the feed (200)")

# ---- FOUND: a Cancel ----
sms(gw, "03009990001", "FOUND %s" % case_no)
ok(wait_until(lambda: gw.sql("SELECT state FROM cases WHERE case_no = ?", (case_no,))[0][0] == "found", 5),
   "police FOUND ends the case")
sms(gw, "03001110001", "SEEN %s %s again" % (case_no, SIGHTING))
cancel, _, _ = cap("/alerts/%s.xml" % case_no, "the cancel")
is_(text(cancel, "msgType"), "Cancel", "msgType Cancel")
refs = (text(cancel, "references") or "").split(" ")
is_([r.split(",")[1] for r in refs], [first_id, text(upd, "identifier")],
    "references the Alert and the Update")
ic = cancel.find(CAP + "info")
is_([text(ic, t) for t in ("responseType", "urgency", "severity", "certainty")],
    ["AllClear", "Past", "Minor", "Observed"], "a Cancel is AllClear, Past, Minor, Observed")
root, entries, _ = atom("feed with the ended case")
is_(len(entries), 1, "the ended case stays in the feed as its Cancel")
is_([c.get("term") for c in entries[0].findall(ATOM + "category")], ["Cancel"],
    "entry category Cancel")
closed_at = gw.sql("SELECT closed_at FROM cases WHERE case_no = ?", (case_no,))[0][0]

# ---- 24 hours later: gone ----
write_clock(clock_file, 3700 + 86400 + 60)
# The daemon reads the test clock at most once a second: poll.
ok(wait_until(lambda: get("/alerts/%s.xml" % case_no)[0] == 404, 5),
   "a day after FOUND the message is gone (404)")
root, entries, h = atom("feed a day later")
is_(len(entries), 0, "and the feed is empty")
import email.utils  # noqa: E402
is_(email.utils.parsedate_to_datetime(h.get("last-modified")).timestamp(), float(closed_at + 86400),
    "Last-Modified is when the case left the feed (closed_at + 24 h)")

# ---- bad ids ----
for bad in ("/alerts/999999.xml", "/alerts/abc.xml", "/alerts/12345.xml", "/alerts/1234567.xml",
            "/alerts/%s.json" % case_no, "/alerts/%s" % case_no):
    st, h, body = get(bad)
    is_((st, h.get("content-type"), json.loads(body or b"{}").get("error")),
        (404, "application/json", "no such alert"), "GET %s: 404 JSON" % bad)

# ---- a drill: verification = auto ----
write_clock(clock_file, 0)
drill = Gateway(conf_extra="[alerts]\nverification = auto\n",
                env={"TALAASH_TEST_CLOCK_FILE": clock_file}).start()
st, reply = sms(drill, "03007654321", "MISSING Hina, girl, 6, Malir, red dress")
m = re.search(r"\b(\d{6})\b", reply)
ok(m, "the drill's report is registered and broadcast at once")
if m:
    ex, _, _ = cap("/alerts/%s.xml" % m.group(1), "the drill alert", g=drill)
    is_(text(ex, "status"), "Exercise", "verification = auto: status Exercise")
    is_(text(ex.find(CAP + "info"), "certainty"), "Likely", "unverified: certainty Likely")
    served.append(drill.request("GET", "/alerts.atom")[2])
drill.stop()
drill.close()

# ---- privacy, on every byte served ----
allbytes = b"\n".join(served)
for digits in REPORTER_DIGITS + [b"3007654321"]:
    ok(digits not in allbytes, "the reporter's number (%s) never appears" % digits.decode())
ok(SIGHTING.encode() not in allbytes, "the sighting's text never appears")
ok(b"3009990001" not in allbytes, "the officer's number never appears")

stop_and_check(gw)
gw.close()
os.unlink(clock_file)
sys.exit(done_testing())
