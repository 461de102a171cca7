#!/usr/bin/env python3
"""20-channels.t — every provider end to end (issue #3): the real daemon,
our mock aggregator on 127.0.0.1, callbacks in, replies out through the
outbox and the sender, retries and final states, delivery reports."""

import base64
import hashlib
import hmac
import json
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from tap import ok, is_, diag, done_testing  # noqa: E402
from talaash import Gateway, wait_until  # noqa: E402
from mockagg import MockAggregator  # noqa: E402

FORM = {"Content-Type": "application/x-www-form-urlencoded"}

mock = MockAggregator().start()
M = mock.url
channels = """
[outbox]
retry_base = 0.05
retry_max = 0.2
max_attempts = 4
connect_timeout = 1
send_timeout = 1

[alerts]
channel = at

[channel at]
provider = africastalking
base_url = %(M)s
username = sandbox
api_key = k-at-123
sender = 21512
batch_size = 500
rate = 10000

[channel tw]
provider = twilio
base_url = %(M)s
account_sid = AC123
auth_token = tw-token
sender = +15005550006
rate = 10000

[channel kan]
provider = kannel
base_url = %(M)s
username = kuser
password = kpass
secret = kan-secret
sender = TALAASH
rate = 10000

[channel gen]
provider = generic
base_url = %(M)s/generic/send
secret = gen-secret
token = gen-token
rate = 10000
""" % {"M": M}

gw = Gateway(channels=channels).start()


def outbox(where="1=1", args=()):
    return gw.sql("SELECT id, channel, phone, state, attempts, provider_id, dlr_status, error "
                  "FROM outbox WHERE " + where + " ORDER BY id", args)


def wait_state(oid, states, timeout=10):
    def check():
        rows = outbox("id = ?", (oid,))
        return rows and rows[0][3] in states and rows[0]
    return wait_until(check, timeout)


def at_sms(id_, frm="+254791541111", text="HELP"):
    body = urllib.parse.urlencode({"linkId": "03090445075804249226", "text": text, "to": "21512",
                                   "id": id_, "date": "2017-05-03T06:04:45Z", "from": frm})
    return gw.request("POST", "/sms/at", body, FORM)


def twilio_sign(url, params, token="tw-token"):
    s = url + "".join(k + v for k, v in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), s.encode(), hashlib.sha1).digest()).decode()


# ---- Africa's Talking: inbound, reply out, dedupe, DLRs ----
status, headers, body = at_sms("ec9adc86-51a5-4bc8-8eb6-0123456789ab")
is_(status, 200, "AT inbound SMS (courier's sample) answered 200")
rows = gw.sql("SELECT channel, provider_id, phone, text, state FROM inbound")
is_(rows, [("at", "ec9adc86-51a5-4bc8-8eb6-0123456789ab", "+254791541111", "HELP", "processed")],
    "inbound stored once, processed, with the sender in E.164")
reqs = mock.wait_for_requests(1, path_prefix="/version1/messaging")
ok(len(reqs) == 1, "the reply reached the mock as an AT send")
r = reqs[0]
is_(r["method"], "POST", "AT send is a POST")
is_(r["headers"].get("apikey"), "k-at-123", "apiKey header carries the key")
is_(r["headers"].get("accept"), "application/json", "Accept: application/json")
is_((r["form"]["username"], r["form"]["to"], r["form"]["from"]), ("sandbox", "+254791541111", "21512"),
    "username, to and from as configured")
ok(r["form"]["message"].startswith("Talaash:"), "message is the reply text")
row = wait_state(outbox("channel='at'")[0][0], ("sent",))
ok(row and row[5].startswith("ATXid_"), "outbox row sent with the aggregator's messageId (%s)" % (row and row[5]))
at_id, at_pid = row[0], row[5]

status, _, _ = at_sms("ec9adc86-51a5-4bc8-8eb6-0123456789ab")
is_(status, 200, "a retried callback (same id) is acknowledged")
is_(gw.sql("SELECT count(*) FROM inbound")[0][0], 1, "and not stored twice")
is_(len(outbox("channel='at'")), 1, "and not processed twice (one reply)")

status, _, _ = gw.request("POST", "/dlr/at", urllib.parse.urlencode(
    {"id": at_pid, "status": "Submitted", "phoneNumber": "+254791541111", "networkCode": "63902"}), FORM)
is_(status, 200, "AT DLR Submitted answered 200")
is_(outbox("id = ?", (at_id,))[0][3:7:3], ("sent", "Submitted"), "Submitted keeps the message sent, status recorded")
status, _, _ = gw.request("POST", "/dlr/at", urllib.parse.urlencode(
    {"id": at_pid, "status": "Success", "phoneNumber": "+254791541111", "networkCode": "63902"}), FORM)
is_(outbox("id = ?", (at_id,))[0][3], "delivered", "DLR Success → delivered")
status, _, _ = gw.request("POST", "/dlr/at", urllib.parse.urlencode(
    {"id": at_pid, "status": "Sent", "phoneNumber": "+254791541111"}), FORM)
is_(outbox("id = ?", (at_id,))[0][3], "delivered", "a late Sent does not undo delivered")
status, _, _ = gw.request("POST", "/dlr/at", urllib.parse.urlencode(
    {"id": at_pid, "status": "Teleported", "phoneNumber": "+254791541111"}), FORM)
is_(status, 200, "an unknown DLR status is answered 200")
is_(outbox("id = ?", (at_id,))[0][3:7:3], ("delivered", "Success"),
    "an unknown status after a final one changes nothing (a final status is never overwritten)")
ok("event=dlr_unknown_status" in gw.log(), "and logged")

# DLR before the send result: the report waits, then applies.
canned = json.dumps({"SMSMessageData": {"Message": "Sent to 1/1", "Recipients": [
    {"statusCode": 101, "number": "+923001110001", "cost": "KES 0.8000", "status": "Success",
     "messageId": "ATXid_early"}]}})
status, _, _ = gw.request("POST", "/dlr/at", urllib.parse.urlencode(
    {"id": "ATXid_early", "status": "Success", "phoneNumber": "+923001110001"}), FORM)
is_(status, 200, "a DLR for a not-yet-known message id is answered 200")
is_(gw.sql("SELECT provider_id, state FROM dlr_pending"), [("ATXid_early", "delivered")], "and kept pending")
mock.behaviour([{"path_prefix": "/version1/messaging", "times": 1, "status": 201, "body": canned}])
at_sms("early-1", frm="03001110001")
row = wait_until(lambda: [r for r in outbox("phone = '+923001110001'") if r[3] == "delivered"], 10)
ok(row, "when the send result arrives, the waiting DLR applies: delivered")
is_(gw.sql("SELECT count(*) FROM dlr_pending")[0][0], 0, "and leaves dlr_pending")

# Temporary failures: 500, 429, a dropped connection, a slow answer — then success.
mock.reset()
mock.behaviour([{"path_prefix": "/version1/messaging", "times": 1, "status": 500, "body": "oops"},
                {"path_prefix": "/version1/messaging", "times": 1, "status": 429, "body": "slow down"},
                {"path_prefix": "/version1/messaging", "times": 1, "drop": True}])
at_sms("retry-1", frm="03001110002")
row = wait_until(lambda: [r for r in outbox("phone = '+923001110002'") if r[3] == "sent"], 15)
ok(row, "after 500, 429 and a dropped connection the message is sent")
# The drop hits a reused keep-alive connection, which curl itself retries
# once on a fresh one: three attempts of ours, four requests at the mock.
is_(row and row[0][4], 3, "on our 3rd attempt (500, 429, then drop + curl's own reconnect)")
reqs = [q for q in mock.requests() if q["path"].startswith("/version1/messaging")]
is_([q["form"]["to"] for q in reqs], ["+923001110002"] * 4, "the mock saw exactly 4 requests for it")

mock.reset()
mock.behaviour([{"path_prefix": "/version1/messaging", "times": 1, "delay_ms": 3000}])
at_sms("slow-1", frm="03001110003")
row = wait_until(lambda: [r for r in outbox("phone = '+923001110003'") if r[3] == "sent"], 15)
ok(row and row[0][4] == 2, "an answer slower than send_timeout is retried; sent on attempt 2")

mock.reset()
mock.behaviour([{"path_prefix": "/version1/messaging", "times": -1, "status": 503, "body": "down"}])
at_sms("down-1", frm="03001110004")
row = wait_until(lambda: [r for r in outbox("phone = '+923001110004'") if r[3] == "failed"], 15)
ok(row, "an aggregator that stays down: failed after max_attempts")
is_(row and row[0][4], 4, "max_attempts (4) attempts were made")
mock.reset()

mock.behaviour([{"recipient": "+923001110005", "at_status": 403}])
at_sms("perm-1", frm="03001110005")
row = wait_until(lambda: [r for r in outbox("phone = '+923001110005'") if r[3] == "failed"], 10)
ok(row and row[0][4] == 1, "per-recipient 403 InvalidPhoneNumber: failed at once, not retried")
mock.reset()

# Bad AT input
status, _, _ = gw.request("POST", "/sms/at", "from=%2B2547&text=x", FORM)
is_(status, 400, "AT callback missing id is 400")
status, _, _ = gw.request("POST", "/sms/at", b"id=1&from=%2B254791541111&to=1&date=2017-05-03T06%3A04%3A45Z&text=%FF%FE", FORM)
is_(status, 400, "AT callback with invalid UTF-8 text is 400")
status, _, _ = gw.request("POST", "/sms/at", "id=1&from=%2B25479&te", FORM)
is_(status, 400, "truncated AT callback is 400")

# ---- Twilio: signatures, TwiML, Messages API, status callbacks ----
tw_params = [("ToCountry", "US"), ("SmsMessageSid", "SM11"), ("NumMedia", "0"), ("SmsSid", "SM11"),
             ("SmsStatus", "received"), ("Body", "HELP"), ("To", "+15005550006"),
             ("NumSegments", "1"), ("MessageSid", "SM11"), ("AccountSid", "AC123"),
             ("From", "+923001110010"), ("ApiVersion", "2010-04-01")]
url = "http://127.0.0.1:%d/sms/tw" % gw.port
status, headers, body = gw.request("POST", "/sms/tw", urllib.parse.urlencode(tw_params),
                                   dict(FORM, **{"X-Twilio-Signature": twilio_sign(url, tw_params)}))
is_(status, 200, "Twilio webhook with a valid signature is 200")
ok(body.decode().endswith("<Response/>") and "xml" in headers.get("content-type", ""),
   "answered with empty TwiML (the reply goes through the outbox)")
status, _, _ = gw.request("POST", "/sms/tw", urllib.parse.urlencode(tw_params),
                          dict(FORM, **{"X-Twilio-Signature": twilio_sign(url, tw_params, "forged")}))
is_(status, 403, "a forged Twilio signature is 403")
status, _, _ = gw.request("POST", "/sms/tw", urllib.parse.urlencode(tw_params), FORM)
is_(status, 403, "a missing Twilio signature is 403")
ok("event=auth_failed kind=sms channel=tw" in gw.log(), "refusals are logged")
is_(gw.sql("SELECT count(*) FROM inbound WHERE channel = 'tw'")[0][0], 1, "only the signed one was stored")
reqs = mock.wait_for_requests(1, path_prefix="/2010-04-01/Accounts/AC123/Messages.json")
r = reqs and reqs[0]
ok(r, "the reply reached the mock as a Twilio Messages request")
if r:
    is_(r["headers"].get("authorization"), "Basic " + base64.b64encode(b"AC123:tw-token").decode(),
        "HTTP basic auth with account SID and token")
    is_((r["form"]["To"], r["form"]["From"]), ("+923001110010", "+15005550006"), "To and From")
    is_(r["form"]["StatusCallback"], "http://127.0.0.1:%d/dlr/tw" % gw.port, "StatusCallback is our /dlr/tw")
row = wait_until(lambda: [x for x in outbox("channel = 'tw'") if x[3] == "sent"], 10)
ok(row and row[0][5].startswith("SM"), "outbox row sent with the Twilio sid")
if row:
    st = [("MessageSid", row[0][5]), ("MessageStatus", "delivered"), ("To", "+923001110010"),
          ("AccountSid", "AC123"), ("ApiVersion", "2010-04-01")]
    durl = "http://127.0.0.1:%d/dlr/tw" % gw.port
    status, _, _ = gw.request("POST", "/dlr/tw", urllib.parse.urlencode(st),
                              dict(FORM, **{"X-Twilio-Signature": twilio_sign(durl, st)}))
    is_(status, 200, "signed Twilio status callback is 200")
    is_(outbox("id = ?", (row[0][0],))[0][3], "delivered", "MessageStatus delivered → delivered")

# ---- Kannel: get-url MO with a token, sendsms out, DLR with our id ----
q = urllib.parse.urlencode({"token": "kan-secret", "id": "k-1", "sender": "00923001110020",
                            "receiver": "TALAASH", "coding": "0", "text": "HELP"})
status, _, _ = gw.request("POST", "/sms/kan?" + q)
is_(status, 200, "Kannel MO with the right token is 200")
status, _, _ = gw.request("POST", "/sms/kan?" + q.replace("kan-secret", "wrong"))
is_(status, 403, "Kannel MO with a wrong token is 403")
reqs = mock.wait_for_requests(1, path_prefix="/cgi-bin/sendsms")
r = reqs and reqs[0]
ok(r, "the reply reached the mock as a Kannel sendsms")
if r:
    a = r["args"] if r["args"] else r["form"]
    is_((a["username"], a["password"], a["to"], a["coding"], a["dlr-mask"]),
        ("kuser", "kpass", "+923001110020", "0", "27"), "sendsms carries user, password, to, coding 0, dlr-mask 27")
    ok("charset" not in a, "no charset parameter")
    dlr_url = a["dlr-url"]
    ok("%d" in dlr_url and "/dlr/kan?" in dlr_url, "dlr-url points at /dlr/kan with a literal %d")
    kid = outbox("channel = 'kan'")[0][0]
    wait_state(kid, ("sent",))
    path = dlr_url.split(str(gw.port), 1)[1].replace("%d", "1")
    status, _, _ = gw.request("GET", path)
    is_(status, 200, "Kannel DLR (type 1) on the dlr-url is 200")
    is_(outbox("id = ?", (kid,))[0][3], "delivered", "and marks our message delivered")

# ---- generic JSON: HMAC in, bearer out ----
body = json.dumps({"id": "g-1", "from": "+923001110030", "to": "1234", "text": "HELP"}).encode()
sig = "sha256=" + hmac.new(b"gen-secret", body, hashlib.sha256).hexdigest()
status, _, _ = gw.request("POST", "/sms/gen", body, {"Content-Type": "application/json",
                                                      "X-Talaash-Signature": sig})
is_(status, 200, "generic JSON with a valid HMAC is 200")
status, _, _ = gw.request("POST", "/sms/gen", body.replace(b"HELP", b"HALP"),
                          {"Content-Type": "application/json", "X-Talaash-Signature": sig})
is_(status, 403, "generic JSON whose body does not match its HMAC is 403")
reqs = mock.wait_for_requests(1, path_prefix="/generic/send")
r = reqs and reqs[0]
ok(r and r["headers"].get("authorization") == "Bearer gen-token", "generic send carries the bearer token")
ok(r and r["json"]["messages"][0]["to"] == "+923001110030", "and the recipient")
ok(wait_until(lambda: [x for x in outbox("channel = 'gen'") if x[3] == "sent"], 10), "generic reply sent")

# ---- the daemon survived all of it ----
status, _, _ = gw.request("GET", "/healthz")
is_(status, 200, "still healthy")
code, took = gw.stop()
is_(code, 0, "clean exit")
is_(gw.sanitizer_report(), None, "no sanitizer report")
ok("k-at-123" not in gw.log() and "tw-token" not in gw.log() and "kan-secret" not in gw.log()
   and "gen-secret" not in gw.log() and "kpass" not in gw.log(), "no secret appears in the log")
ok("+923001110010" not in gw.log() and "+254791541111" not in gw.log(), "no full phone number appears in the log")
gw.close()
mock.stop()
sys.exit(done_testing())
