#!/usr/bin/env python3
"""45-kannel.t — a real Kannel in front of the gateway (issue #14): Debian's
bearerbox + smsbox with Kannel's fake SMSC on 127.0.0.1, configured as
docs/kannel.md says. The story — JOIN in English and in Urdu script, a
report, VERIFY by a registered police number, the alert reaching the
subscribers, FOUND and its update — runs through smsbox's get-url and again
through its post-url; every message the gateway sent must reach the fake
SMSC exactly once with exactly its text (UCS-2 both ways, no '?' and no
mojibake, a two-part Urdu alert joined from its parts), and Kannel's
dlr-url must move every outbox row to delivered. Then a sendsms-user as
Kannel ships it (one part, no concatenation): the gateway sends what it can
carry instead of letting Kannel cut a two-part text. Skipped when Kannel is
not installed."""

import atexit
import os
import shutil
import sys
import subprocess
import tempfile
import urllib.parse
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from tap import ok, is_, diag, skip_all, done_testing  # noqa: E402
from talaash import Gateway, binary, wait_until  # noqa: E402
import kannel as K  # noqa: E402

missing = K.installed()
if missing:
    skip_all("Kannel is not installed (missing %s; Debian: kannel kannel-extras)" % ", ".join(missing))

URDU_JOIN = "شامل کورنگی"
workdirs = []  # Kannel's config and logs, removed at exit unless TALAASH_TEST_KEEP


@atexit.register
def _remove_workdirs():
    if not os.environ.get("TALAASH_TEST_KEEP"):
        for work in workdirs:
            shutil.rmtree(work, ignore_errors=True)


def channel(url, name, user, password=K.PASSWORD, sender=K.SHORTCODE, max_parts=1):
    return ("[channel %s]\nprovider = kannel\nbase_url = %s\nusername = %s\npassword = %s\n"
            "secret = %s\n%sallow_ips = 127.0.0.1\nmax_parts = %d\nrate = 100\n"
            % (name, url, user, password, K.TOKEN, "sender = %s\n" % sender if sender else "",
               max_parts))


def gateway_channels(k):
    url = k.sendsms_url
    return "\n".join([
        "[outbox]\nretry_base = 0.2\nretry_max = 1\nmax_attempts = 20\n",
        "[alerts]\nchannel = kan\nverification = police\n",
        channel(url, "kan", K.USER, max_parts=3),       # the sendsms-user of docs/kannel.md
        channel(url, "kcut", K.SHORT_USER),              # Kannel's defaults: one part
        channel(url, "kbadpw", K.USER, password="wrong"),
        channel(url, "knosender", K.USER, sender=None),  # and Kannel has no global-sender
    ])


def outbox(gw, channel="kan"):
    return gw.sql("SELECT id, phone, kind, state, dlr_status, text, error FROM outbox"
                  " WHERE channel = ? ORDER BY id", (channel,))


def settled(gw, k, channel="kan"):
    """Every outbox row delivered by its DLR and every message at the fake SMSC."""
    rows = outbox(gw, channel)
    return (rows and all(r[3] == "delivered" for r in rows) and
            len(k.mts()) >= len(gw.sql("SELECT id FROM outbox WHERE state IN ('sent', 'delivered')")))


def settle(gw, k, what, timeout=20):
    if not ok(wait_until(lambda: settled(gw, k), timeout), "%s: every row delivered, every message received" % what):
        diag("outbox: %r" % (outbox(gw),))
        diag("fake SMSC: %r" % (k.raw_mts(),))
        diag(gw.log()[-3000:])
        diag(k.logs()[-3000:])


def step(gw, k, phone, text, what):
    """A handset sends text; waits until the gateway has processed it and
    everything it caused is delivered and received."""
    before = gw.sql("SELECT count(*) FROM inbound")[0][0]
    k.mo(phone, text)
    if not ok(wait_until(lambda: gw.sql("SELECT count(*) FROM inbound WHERE state = 'processed'")[0][0]
                         > before, 15), "%s: the gateway got it through Kannel" % what):
        diag(k.logs()[-3000:])
    settle(gw, k, what)


def sent_text(gw, outbox_id):
    """The text a row is sent with: its own, or (alerts, updates) its alert's in the
    recipient's language, as the sender's claim picks it."""
    return gw.sql("SELECT coalesce(o.text, CASE s.lang WHEN 'ur' THEN a.text_ur"
                  " WHEN 'roman-ur' THEN a.text_roman_ur ELSE a.text_en END)"
                  " FROM outbox o LEFT JOIN alerts a ON a.id = o.alert_id"
                  " LEFT JOIN subscribers s ON s.phone = o.phone WHERE o.id = ?", (outbox_id,))[0][0]


def received(k, phone):
    return [(K.decode(p, c), c, n) for (to, p, c, n) in k.mts() if to == phone]


def story(style, prefix):
    """The whole story through one smsbox style; numbers start with prefix."""
    work = tempfile.mkdtemp(prefix="talaash-kannel-")
    workdirs.append(work)
    k = K.Kannel(work, style)
    gw = Gateway(channels=gateway_channels(k)).start()
    k.start(gw.port)
    V1, V2 = prefix + "1110001", prefix + "1110002"
    PARENT, PO = prefix + "1234567", prefix + "9990001"
    tag = "[%s]" % style

    # ---- JOIN, in English and in Urdu script (UCS-2 in) ----
    step(gw, k, V1, "JOIN Korangi", tag + " English JOIN")
    step(gw, k, V2, URDU_JOIN, tag + " Urdu JOIN")
    inbound = gw.sql("SELECT phone, text FROM inbound ORDER BY id")
    is_(inbound, [(V1, "JOIN Korangi"), (V2, URDU_JOIN)],
        tag + " both stored with their exact text (the Urdu from UCS-2, no '?')")
    ids = [r[0] for r in gw.sql("SELECT provider_id FROM inbound ORDER BY id")]
    ok(all(len(i) == 36 and i.count("-") == 4 for i in ids),
       tag + " with Kannel's message ids (%%I) as provider ids: %r" % ids)
    is_(gw.sql("SELECT phone, lang FROM subscribers ORDER BY phone"), [(V1, "en"), (V2, "ur")],
        tag + " two subscribers, the Urdu writer in Urdu")
    ur_reply = gw.sql("SELECT text FROM outbox WHERE phone = ? AND kind = 'reply'", (V2,))[0][0]
    ok(any("\u0600" <= c <= "\u06ff" for c in ur_reply), tag + " the Urdu JOIN is answered in Urdu")
    got = received(k, V2)
    is_([g[0] for g in got], [ur_reply], tag + " the Urdu reply reached the handset exactly (UCS-2 out)")
    ok(got and got[0][1] in ("ucs2", "udh") and "?" not in got[0][0],
       tag + " as UCS-2, without '?' (%s)" % (got and got[0][1]))

    # ---- police, a report, VERIFY ----
    p = subprocess.run([binary(), "police", "add", PO, "--area", "Korangi", "-c", gw.conf_path],
                       capture_output=True, text=True)
    is_(p.returncode, 0, tag + " police add exits 0")
    step(gw, k, PARENT, "MISSING Bilal, boy, Korangi, blue shirt, last seen 4pm near Korangi crossing", tag + " report")
    step(gw, k, PARENT, "8", tag + " the report's answer")
    rows = gw.sql("SELECT case_no, state FROM cases")
    is_(len(rows), 1, tag + " one case")
    case_no = rows[0][0] if rows else "000000"
    is_(rows[0][1] if rows else None, "reported", tag + " reported")
    police_msgs = [r for r in outbox(gw) if r[2] == "police"]
    is_(len(police_msgs), 1, tag + " police notified once")
    ok(any(case_no in t for t, _, _ in received(k, PO)), tag + " the notice reached the police handset")

    step(gw, k, PO, "VERIFY %s" % case_no, tag + " VERIFY and its alerts")
    is_(gw.sql("SELECT state FROM cases")[0][0], "active", tag + " VERIFY by the registered number: active")
    alerts = {r[1]: r for r in outbox(gw) if r[2] == "alert"}
    is_(sorted(alerts), sorted([V1, V2, PO]), tag + " alerts for both subscribers and the police")
    for phone in (V1, V2):
        texts = [t for t, _, _ in received(k, phone)]
        alert_text = sent_text(gw, alerts[phone][0])
        is_(texts.count(alert_text), 1, tag + " the alert reached %s once, exactly" % phone[-4:])
    ur_alert = [x for x in received(k, V2) if x[0] not in (ur_reply,)]
    ok(ur_alert and ur_alert[0][1] == "udh" and ur_alert[0][2] >= 2,
       tag + " the Urdu alert came in %s concatenated parts, joined exactly"
       % (ur_alert and ur_alert[0][2]))
    ok(ur_alert and "?" not in ur_alert[0][0] and case_no in ur_alert[0][0],
       tag + " with its case number and no '?'")

    # ---- FOUND and its update ----
    step(gw, k, PO, "FOUND %s" % case_no, tag + " FOUND and its updates")
    is_(gw.sql("SELECT state FROM cases")[0][0], "found", tag + " FOUND: found")
    updates = sorted(r[1] for r in outbox(gw) if r[2] == "update")
    is_(updates, sorted([V1, V2, PO]), tag + " an update to everyone alerted")

    # ---- the whole traffic: each row once, exactly its text; DLRs ----
    rows = outbox(gw)
    sent = k.mts()
    unmatched = []
    pending = list(sent)
    for r in rows:
        text = sent_text(gw, r[0])
        hit = next((m for m in pending if m[0] == r[1] and K.matches(m[1], text)), None)
        if hit is None:
            unmatched.append((r[0], r[1], text))
        else:
            pending.remove(hit)
    is_(unmatched, [], tag + " every outbox row reached the fake SMSC with exactly its text")
    is_([(m[0], K.decode(m[1], m[2])) for m in pending], [],
        tag + " and nothing else: nothing sent twice (%d messages, %d rows)" % (len(sent), len(rows)))
    is_(sorted(set((r[3], r[4]) for r in rows)), [("delivered", "1")],
        tag + " every row delivered by Kannel's DLR, dlr_status 1 (not the 8 that follows)")
    dlrs = gw.log().count("event=dlr channel=kan")
    ok(dlrs >= len(rows), tag + " the dlr-url was called for each (%d reports, %d rows)" % (dlrs, len(rows)))
    requests = gw.log().count("event=request channel=kan ")
    is_(requests, len(rows), tag + " one sendsms request per row")
    is_(gw.sql("SELECT count(*) FROM inbound WHERE state <> 'processed'")[0][0], 0,
        tag + " every inbound processed")
    ok("event=config_error" not in gw.log() and "event=config_warning" not in gw.log(),
       tag + " no configuration error or warning logged")
    return gw, k


# ---- get-url ----
gw, k = story("get-url", "+92300")

# ---- a sendsms-user that carries one part: the gateway sends what fits ----
# A hand-made get-url callback on the kcut channel, whose reply goes through
# Kannel's default sendsms-user (max-messages 1, no concatenation).
CUT = "+923007770001"
q = urllib.parse.urlencode({"token": K.TOKEN, "id": str(uuid.uuid4()), "sender": CUT,
                            "receiver": K.SHORTCODE, "coding": "2",
                            "text": "گمشدہ بچہ علی کی اطلاع، عمر 8 سال، داتا دربار لاہور، نیلی قمیض".encode("utf-16-be")})
# The fake SMSC client of the last MO is still connected and receives it.
status, _, _ = gw.request("GET", "/sms/kcut?" + q)
is_(status, 200, "a get-url callback on the one-part channel is 200")
ok(wait_until(lambda: [r for r in outbox(gw, "kcut") if r[3] == "delivered"], 15),
   "its reply is delivered")
row = outbox(gw, "kcut")
row = row[0] if row else (0, CUT, "reply", "?", None, "", None)
got = received(k, CUT)
full = row[5] or ""
diag("reply (%d characters): %s" % (len(full), full))
ok(len(full) > 70, "the reply needs more than one UCS-2 part (%d characters)" % len(full))
is_(len(got), 1, "one message reached the handset")
cut_text = got[0][0] if got else ""
ok(got and got[0][2] == 1 and got[0][1] == "ucs2", "in one UCS-2 part, no UDH")
ok(cut_text and full.startswith(cut_text) and len(cut_text) <= 70,
   "a prefix of the reply that fits one part (%d characters)" % len(cut_text))
ok(cut_text and full[len(cut_text):len(cut_text) + 1] in (" ", "،", ","),
   "cut after a whole word, not inside one")
is_(row[6], "shortened to 1 SMS part (the channel's max_parts)", "the row says it was shortened")

# ---- Kannel refuses our configuration: wrong password, no sender ----
for name, phone, why in (
        ("kbadpw", "+923007770002", "Kannel configuration: HTTP 403: Authorization failed for sendsms"),
        ("knosender", "+923007770003",
         "Kannel configuration: HTTP 400: Sender missing and no global set, rejected")):
    q = urllib.parse.urlencode({"token": K.TOKEN, "id": str(uuid.uuid4()), "sender": phone,
                                "receiver": K.SHORTCODE, "coding": "0", "text": "HELP"})
    is_(gw.request("GET", "/sms/%s?%s" % (name, q))[0], 200, "[%s] callback is 200" % name)
    r = wait_until(lambda: [x for x in gw.sql("SELECT state, attempts, error FROM outbox WHERE channel = ?",
                                              (name,)) if x[1] >= 2 and x[0] != "sending"], 15)
    is_(r and (r[0][0], r[0][2]), ("queued", why),
        "[%s] real Kannel's refusal is a configuration error: retried (%s attempts), not failed"
        % (name, r and r[0][1]))
    ok(not [m for m in k.mts() if m[0] == phone], "[%s] and nothing reached the handset" % name)

k.stop()
gw.close()

# ---- post-url (Kannel's own style: X-Kannel headers, the text as the body) ----
gw, k = story("post-url", "+92301")
ok("kannel-noid" not in "".join(r[0] for r in gw.sql("SELECT provider_id FROM inbound")),
   "[post-url] id=%I in the URL: Kannel's ids, not local ones")

# Kannel's post-url without id=%I: accepted with a local id, a config error logged once.
for i in range(2):
    status, _, _ = gw.request("POST", "/sms/kan?token=" + K.TOKEN, "HELP",
                              {"Content-Type": "text/plain", "X-Kannel-From": "+923017770002",
                               "X-Kannel-To": K.SHORTCODE, "X-Kannel-Coding": "0"})
    is_(status, 200, "post-url without id=%%I is accepted (%d)" % (i + 1))
rows = gw.sql("SELECT provider_id FROM inbound WHERE phone = '+923017770002'")
ok(len(rows) == 2 and all(r[0].startswith("kannel-noid-") for r in rows) and rows[0] != rows[1],
   "each with its own local id (no dedupe is possible): %r" % rows)
is_(gw.log().count("event=config_error kind=sms channel=kan"), 1,
    "the missing id is logged as a configuration error, once")
ok("add id=%I" in gw.log(), "saying what to add")

# The gateway restarts while a message is on its way: smsbox keeps it and
# retries (http-request-retry, http-queue-delay), so it is not lost.
code, _ = gw.stop()
is_(code, 0, "the gateway stops (exit 0) while Kannel keeps running")
before = gw.sql("SELECT count(*) FROM inbound")[0][0]
k.mo("+923011110001", "STATUS")
refused = "Couldn't fetch <http://127.0.0.1:%d/sms/kan" % gw.port
ok(wait_until(lambda: refused in k.smsbox_log(), 15),
   "smsbox cannot deliver it while the gateway is down (its log says so)")
gw.restart()
ok(wait_until(lambda: gw.sql("SELECT count(*) FROM inbound")[0][0] > before, 20),
   "after the restart smsbox's retry brings it in: nothing lost")
ok(wait_until(lambda: all(r[3] == "delivered" for r in outbox(gw)), 20),
   "and everything queued is delivered after the restart")

k.stop()
code, _ = gw.stop()
is_(code, 0, "the gateway exits 0")
gw.close()
# An alerts channel that carries fewer parts than alerts use is named at start.
gw = Gateway(channels="[alerts]\nchannel = kan\nmax_segments = 2\n\n" +
             channel("http://127.0.0.1:1", "kan", K.USER)).start()
ok(wait_until(lambda: "event=config_warning channel=kan reason=\"alerts use up to 2 SMS parts" in gw.log(), 5),
   "max_parts 1 below max_segments 2 on the alerts channel: a warning at start")
gw.close()

sys.exit(done_testing())
