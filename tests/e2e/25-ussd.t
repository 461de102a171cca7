#!/usr/bin/env python3
"""25-ussd.t — the USSD menu (issue #4) over HTTP: every path in both
languages, the area list with More/Back, age re-ask, confirm, repeats of a
step, session timeout, bad input; Africa's Talking and generic JSON."""

import hashlib
import hmac
import json
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from tap import ok, is_, diag, done_testing  # noqa: E402
from talaash import Gateway, wait_until, write_clock  # noqa: E402

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
clock_file = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "build",
                                          "ussd-clock-%d" % os.getpid()))
os.makedirs(os.path.dirname(clock_file), exist_ok=True)
write_clock(clock_file, 0)

channels = """
[ussd]
session_timeout = 180s

[channel at]
provider = africastalking
base_url = http://127.0.0.1:9
username = u
api_key = k

[channel gen]
provider = generic
base_url = http://127.0.0.1:9/send
secret = s3
"""
gw = Gateway(channels=channels, env={"TALAASH_TEST_CLOCK_FILE": clock_file}).start()
screens_seen = []


def at(session, phone, text):
    body = urllib.parse.urlencode({"sessionId": session, "serviceCode": "*384*1234#",
                                   "phoneNumber": phone, "networkCode": "41001", "text": text})
    status, _, b = gw.request("POST", "/ussd/at", body, FORM)
    t = b.decode("utf-8")
    screens_seen.append(t[4:])
    return status, t


def walk(session, phone, inputs):
    """Sends each prefix of the path as AT does; returns the last answer."""
    path, last = [], None
    last = at(session, phone, "")
    for i in inputs:
        path.append(i)
        last = at(session, phone, "*".join(path))
    return last


P = "+923001230001"
status, t = at("s1", P, "")
is_(status, 200, "first step answered 200")
ok(t.startswith("CON Talaash\n1 Report missing child"), "main menu, CON")
ok(t.endswith("6 Urdu"), "option 6 switches to Urdu")

# ---- the report path, English, with the area list (More and Back) ----
_, t = walk("s2", P, ["1", "Bilal", "8", "1", "Gul"])
ok(t.startswith("CON Which area?\n1 "), "typed 'Gul' gives a numbered list")
ok("0 Back" in t, "with 0 Back")
_, t = at("s2", P, "1*Bilal*8*1*Gul*0")
is_(t, "CON Area where last seen? Type the name, e.g. Korangi", "0 Back asks for the area again")
_, t = at("s2", P, "1*Bilal*8*1*Gul*0*Korngi")
ok(t.startswith("CON Last seen when and where"), "a misspelt area (Korngi) is matched")
_, t = at("s2", P, "1*Bilal*8*1*Gul*0*Korngi*blue shirt near the market")
is_(t, "CON Confirm report:\nBilal, 8, boy, Korangi\n1 Yes, send\n2 No, cancel", "confirm screen")
_, t = at("s2", P, "1*Bilal*8*1*Gul*0*Korngi*blue shirt near the market*1")
ok(t.startswith("END Talaash: case ") and "registered for Bilal, Korangi" in t, "END with the case number")
case_no = gw.sql("SELECT case_no FROM cases")[0][0]
ok(case_no in t, "the screen shows case %s" % case_no)
is_(gw.sql("SELECT state, child_name, age, gender, area_code, description FROM cases"),
    [("reported", "Bilal", 8, "male", "PK-SD-KHI-KOR", "blue shirt near the market")],
    "the same case a SMS report makes")
_, t2 = at("s2", P, "1*Bilal*8*1*Gul*0*Korngi*blue shirt near the market*1")
is_(t2, t, "a repeated request gets the same answer")
is_(gw.sql("SELECT count(*) FROM cases")[0][0], 1, "and does not act twice")
is_(gw.sql("SELECT count(*) FROM outbox WHERE kind='reply' AND phone=?", (P,))[0][0], 1,
    "the case number also goes by SMS, once")

# More: a long candidate list pages with 98.
_, t = walk("s3", P, ["1", "Sara", "6", "2", "K"])
if "98 More" in t:
    _, t2 = at("s3", P, "1*Sara*6*2*K*98")
    ok(t2.startswith("CON Which area?") and t2 != t, "98 shows the next page of areas")
else:
    ok(False, "a one-letter area gives more than one page (got %r)" % t)

# ---- age must be a number: asked once more, then END ----
_, t = walk("s4", P, ["1", "Ali", "abc"])
is_(t, "CON Please enter the age as a number of years, e.g. 8", "a non-number age is asked again")
_, t = at("s4", P, "1*Ali*abc*xyz")
ok(t.startswith("END Talaash: the age must be a number"), "the second time the session ends with help")
_, t = walk("s5", P, ["1", "Ali", "۸", "2"])
ok(t.startswith("CON Area where"), "an age in Urdu digits (۸) is accepted")

# ---- cancel at confirm ----
_, t = walk("s6", P, ["1", "Zain", "5", "1", "Lyari", "0", "2"])
is_(t, "END Talaash: nothing was sent. Dial again any time.", "2 at confirm cancels")
is_(gw.sql("SELECT count(*) FROM cases")[0][0], 1, "no case made")

# ---- 2 alerts, 3 status, 4 sighting, 5 stop ----
V = "+923001230002"
_, t = walk("s7", V, ["2", "Orangi Town"])
is_(t, "END Talaash: you will get missing-child alerts for Orangi. Reply STOP to end.", "2: JOIN by menu")
is_(gw.sql("SELECT area_code FROM subscriptions JOIN subscribers s ON s.id = subscriber_id WHERE s.phone = ?", (V,)),
    [("PK-SD-KHI-ORA",)], "subscription stored")
_, t = walk("s8", V, ["3", case_no])
is_(t, "END Talaash: case %s is active." % case_no, "3: status for the public")
_, t = walk("s9", V, ["3", "123456"])
ok(t.startswith("END Talaash: 123456 is not a valid case number"), "3: a wrong check digit is caught")
_, t = walk("s10", V, ["4", case_no, "near the bus stop at 6pm"])
ok(t.startswith("END Talaash: thank you."), "4: sighting")
is_(gw.sql("SELECT text FROM sightings"), [("near the bus stop at 6pm",)], "sighting stored")
_, t = walk("s11", V, ["5"])
ok(t.startswith("END Talaash: you will get no more alerts"), "5: stop")
is_(gw.sql("SELECT count(*) FROM subscriptions JOIN subscribers s ON s.id = subscriber_id WHERE s.phone = ?", (V,))[0][0],
    0, "subscriptions removed")

# ---- Urdu: option 6, remembered for the phone ----
U = "+923001230003"
_, t = walk("s12", U, ["6"])
ok(t.startswith("CON تلاش\n1 گمشدہ بچے کی اطلاع") and t.endswith("6 English"), "6 switches the menu to Urdu")
_, t = at("s13", U, "")
ok(t.startswith("CON تلاش"), "a new session of that phone starts in Urdu")
_, t = walk("s14", U, ["1", "عمران", "۸", "1", "ملیر", "0", "1"])
ok(t.startswith("END تلاش:"), "an Urdu report ends with an Urdu screen")
is_(gw.sql("SELECT child_name, age, area_code FROM cases WHERE reporter_phone = ?", (U,)),
    [("عمران", 8, "PK-SD-KHI-MAL")], "Urdu name kept in Urdu script, Urdu digits, Urdu area")
_, t = walk("s15", U, ["6"])
ok(t.endswith("6 Urdu"), "6 again switches back to English")

# ---- timeout, bad input ----
_, t = at("s16", P, "")
write_clock(clock_file, 200)
wait_until(lambda: False, 0.25)  # the daemon re-reads the clock file at most every 100 ms
_, t = at("s16", P, "1")
is_(t, "END Talaash: the session timed out. Please dial again.", "a step after session_timeout ends clearly")
write_clock(clock_file, 0)
wait_until(lambda: False, 0.25)
status, t = at("s17", P, "1*" + "x" * 400)
is_((status, t[:4]), (200, "END "), "an overlong input gets an END screen, not a 5xx")
status, _, b = gw.request("POST", "/ussd/at", b"sessionId=s18&phoneNumber=%2B923001230004&text=1*%FF%FE", FORM)
is_((status, b.decode()[:4]), (200, "END "), "invalid UTF-8 gets an END screen")
status, _, b = gw.request("POST", "/ussd/at", "phoneNumber=%2B923001230004&text=1", FORM)
is_((status, b.decode()[:4]), (200, "END "), "a request without sessionId gets an END screen")
status, _, b = gw.request("POST", "/ussd/at", "sessionId=x&phoneNumber=hello&text=", FORM)
is_((status, b.decode()[:4]), (200, "END "), "a phone that is no number gets an END screen")
_, t = walk("s19", P, ["9"])
ok(t.startswith("CON Invalid choice.\nTalaash"), "an unknown menu choice shows the menu again")

# ---- generic JSON USSD ----
def gen(session, phone, inp):
    body = json.dumps({"session_id": session, "phone": phone, "input": inp}).encode()
    sig = "sha256=" + hmac.new(b"s3", body, hashlib.sha256).hexdigest()
    status, _, b = gw.request("POST", "/ussd/gen", body, {"Content-Type": "application/json",
                                                           "X-Talaash-Signature": sig})
    return status, json.loads(b)

status, j = gen("g1", "+923001230005", "")
ok(status == 200 and j["reply"].startswith("Talaash\n1 Report") and j["end"] is False, "generic: main menu")
_, j = gen("g1", "+923001230005", "2")
_, j = gen("g1", "+923001230005", "Lyari")
ok(j["end"] is True and "alerts for Lyari" in j["reply"], "generic: JOIN by menu ends the session")

# ---- every screen seen fits 182 characters; English ones are GSM-7 ----
GSM7 = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€")
is_([s for s in screens_seen if len(s) > 182], [], "every screen seen is at most 182 characters (%d screens)" % len(screens_seen))
english = [s for s in screens_seen if not any("\u0600" <= ch <= "\u06ff" for ch in s)]
is_([s for s in english if not set(s) <= GSM7], [], "English screens use GSM-7 characters only")

code, _ = gw.stop()
is_(code, 0, "clean exit")
is_(gw.sanitizer_report(), None, "no sanitizer report")
gw.close()
os.unlink(clock_file)
sys.exit(done_testing())
