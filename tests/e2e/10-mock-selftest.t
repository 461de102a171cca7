#!/usr/bin/env python3
# 10-mock-selftest.t — proves the mock aggregator (tests/mock/mock_aggregator.c)
# and its client (tests/lib/mockagg.py) before any other e2e test relies on
# them: the four send APIs' exact answers, the behaviour rules, the recorded
# requests, stats, the --record file, robustness against garbage, clean stop.

import json
import os
import re
import socket
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from mockagg import MockAggregator, find_binary, wait_until  # noqa: E402
from tap import ok, is_, diag, done_testing, skip_all  # noqa: E402

try:
    find_binary("mock_aggregator")
except FileNotFoundError as e:
    skip_all(str(e))

ATXID = re.compile(r"^ATXid_[0-9a-f]{32}$")
SMSID = re.compile(r"^SM[0-9a-f]{32}$")
GID = re.compile(r"^G[0-9a-f]{16}$")
FORM = "application/x-www-form-urlencoded"


def http(method, url, body=None, headers=None, timeout=5.0):
    """One request on a fresh connection: (status, content-type, body bytes)."""
    if isinstance(body, str):
        body = body.encode()
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.headers.get("Content-Type"), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read()


def at_send(mock, to, message="Missing child: Ali, 7, Saddar", **kw):
    form = "username=talaash&to=%s&message=%s&from=TALAASH" % (
        urllib.request.quote(to, safe=","), urllib.request.quote(message))
    return http("POST", mock.url + "/version1/messaging", form,
                {"apiKey": "at-key", "Accept": "application/json", "Content-Type": FORM}, **kw)


def twilio_send(mock, to="+923001234567", body="Talaash: case K-1 alert", **kw):
    form = "To=%s&From=%%2B15005550006&Body=%s" % (
        urllib.request.quote(to), urllib.request.quote(body))
    return http("POST", mock.url + "/2010-04-01/Accounts/AC0123/Messages.json", form,
                {"Content-Type": FORM, "Authorization": "Basic QUMwMTIzOnRvaw=="}, **kw)


def kannel_get(mock, to="+923001234567", **kw):
    return http("GET", mock.url + "/cgi-bin/sendsms?username=u&password=p&to=%s&text=hi"
                % urllib.request.quote(to), **kw)


def generic_send(mock, messages, **kw):
    return http("POST", mock.url + "/generic/send", json.dumps({"messages": messages}),
                {"Content-Type": "application/json"}, **kw)


mock = MockAggregator().start()
ok(mock.port > 0, "mock started, port=%d" % mock.port)
is_(mock.url, "http://127.0.0.1:%d" % mock.port, "url property")

# ---- Africa's Talking ------------------------------------------------------
st, ct, body = at_send(mock, "+923001234567,+923001110000")
is_(st, 201, "AT: 201 Created")
is_(ct, "application/json", "AT: JSON answer")
doc = json.loads(body)
recips = doc["SMSMessageData"]["Recipients"]
is_(doc["SMSMessageData"]["Message"], "Sent to 2/2 Total Cost: KES 1.6000", "AT: summary message")
is_([(r["statusCode"], r["number"], r["cost"], r["status"]) for r in recips],
    [(101, "+923001234567", "KES 0.8000", "Success"), (101, "+923001110000", "KES 0.8000", "Success")],
    "AT: one Recipients entry per number, in order")
ok(all(ATXID.match(r["messageId"]) for r in recips), "AT: messageId ATXid_<32 hex>")
ok(recips[0]["messageId"] != recips[1]["messageId"], "AT: messageIds unique")
st, _, body = at_send(mock, "+923001234567,12345")
is_([(r["statusCode"], r["status"], r["messageId"]) for r in json.loads(body)["SMSMessageData"]["Recipients"]][1],
    (403, "InvalidPhoneNumber", "None"), "AT: implausible number gets 403 InvalidPhoneNumber")
st, _, body = http("POST", mock.url + "/version1/messaging", "to=%2B923001234567&message=x",
                   {"Content-Type": FORM})
is_((st, body), (400, b"Request is missing required form field 'username'"), "AT: missing username is 400")

# ---- Twilio -----------------------------------------------------------------
urdu = "لاپتہ بچہ: علی، عمر 7"
st, ct, body = twilio_send(mock, body=urdu)
is_(st, 201, "Twilio: 201 Created")
is_(ct, "application/json; charset=utf-8", "Twilio: JSON answer")
doc = json.loads(body)
ok(SMSID.match(doc["sid"]), "Twilio: sid SM<32 hex>")
is_((doc["status"], doc["to"], doc["from"], doc["body"], doc["account_sid"], doc["direction"]),
    ("queued", "+923001234567", "+15005550006", urdu, "AC0123", "outbound-api"),
    "Twilio: status, to, from, body (UTF-8), account_sid, direction")
is_(doc["uri"], "/2010-04-01/Accounts/AC0123/Messages/%s.json" % doc["sid"], "Twilio: uri")
st, _, body = http("POST", mock.url + "/2010-04-01/Accounts/AC0123/Messages.json",
                   "From=%2B15005550006&Body=x", {"Content-Type": FORM})
is_((st, json.loads(body)["code"]), (400, 21604), "Twilio: missing To is 400 code 21604")
st, _, body = twilio_send(mock, to="0300123")
is_((st, json.loads(body)["code"]), (400, 21211), "Twilio: invalid To is 400 code 21211")

# ---- Kannel -----------------------------------------------------------------
is_(kannel_get(mock), (202, "text/html", b"0: Accepted for delivery"), "Kannel GET: 202 0: Accepted")
is_(http("POST", mock.url + "/cgi-bin/sendsms", "username=u&password=p&to=%2B923001234567&text=hi",
         {"Content-Type": FORM}),
    (202, "text/html", b"0: Accepted for delivery"), "Kannel POST: 202 0: Accepted")
is_(http("GET", mock.url + "/cgi-bin/sendsms?text=hi")[0:3:2], (400, b"Missing receiver number, rejected"),
    "Kannel: no receiver is 400")

# ---- generic ----------------------------------------------------------------
st, ct, body = generic_send(mock, [{"id": 7, "to": "+923001234567", "text": "a"},
                                   {"id": 8, "to": "+923001110000", "text": "b"}])
is_((st, ct), (200, "application/json"), "generic: 200 JSON")
res = json.loads(body)["results"]
is_([(r["id"], r["status"]) for r in res], [(7, "sent"), (8, "sent")], "generic: one result per message")
ok(all(GID.match(r["message_id"]) for r in res) and res[0]["message_id"] != res[1]["message_id"],
   "generic: unique message_id G<hex>")
is_(http("POST", mock.url + "/generic/send", "{not json", {"Content-Type": "application/json"})[0], 400,
    "generic: bad JSON is 400")
is_(http("GET", mock.url + "/nowhere")[0], 404, "unknown path is 404")
is_(http("GET", mock.url + "/version1/messaging")[0], 405, "GET on AT send is 405")

# ---- recorded requests ------------------------------------------------------
mock.reset()
is_(mock.requests(), [], "reset clears records")
is_(mock.stats()["requests"], 0, "reset clears stats")
at_send(mock, "+923001234567,+923001110000", message="a&b c")
kannel_get(mock)
raw = b"to=%2B923001234567&to=%2B923002220000&message=\xff\xfe"
http("POST", mock.url + "/version1/messaging?x=1", raw, {"Content-Type": FORM})
reqs = mock.requests()
is_([(r["seq"], r["method"], r["path"], r["query"]) for r in reqs],
    [(1, "POST", "/version1/messaging", ""),
     (2, "GET", "/cgi-bin/sendsms", "username=u&password=p&to=%2B923001234567&text=hi"),
     (3, "POST", "/version1/messaging", "x=1")], "records: seq, method, path, query")
is_(reqs[0]["body"], "username=talaash&to=%2B923001234567,%2B923001110000&message=a%26b%20c&from=TALAASH",
    "records: exact body")
is_((reqs[0]["headers"]["apikey"], reqs[0]["headers"]["content-type"], reqs[0]["body_len"]),
    ("at-key", FORM, len(reqs[0]["body"])), "records: headers (lower-cased names), body_len")
is_(dict(reqs[0]["form"]), {"username": "talaash", "to": "+923001234567,+923001110000",
                            "message": "a&b c", "from": "TALAASH"}, "records: form parsed")
is_(reqs[1]["args"]["to"], "+923001234567", "records: query parsed into args")
is_(reqs[2]["form"].getlist("to"), ["+923001234567", "+923002220000"], "records: repeated form keys kept")
is_(reqs[2]["body_bytes"], raw, "records: non-UTF-8 body exact via body_b64")
ok("\\u00ff" in json.dumps(reqs[2]["body"]) or "\u00ff" in reqs[2]["body"], "records: invalid bytes escaped as \\u00XX")
ok(reqs[0]["t_ms"] <= reqs[1]["t_ms"] <= reqs[2]["t_ms"], "records: t_ms monotonic")
is_([r["seq"] for r in mock.requests(since=2)], [3], "requests(since=2)")
st = mock.stats()
is_((st["requests"], st["recipients"], st["paths"]["/version1/messaging"]),
    (3, 4, {"requests": 2, "recipients": 3}), "stats: requests, recipients (first 'to' only), per path")

# ---- rules ------------------------------------------------------------------
mock.reset()
mock.behaviour([{"path_prefix": "/version1/messaging", "times": 2, "status": 500,
                 "body": {"error": "boom"}}])
got = [at_send(mock, "+923001234567") for _ in range(3)]
is_([g[0] for g in got], [500, 500, 201], "rule: 500 twice, then 201")
is_(got[0][1:], ("application/json", b'{"error":"boom"}'), "rule: canned body and content type")
is_([(r["times"], r["hits"]) for r in mock.rules()], [(0, 2)], "rule: times consumed, hits counted")
is_([r["rule"] for r in mock.requests()], [0, 0, -1], "records: which rule applied")

mock.behaviour([{"path_prefix": "/2010", "times": 1, "delay_ms": 400}])
box = {}


def slow():
    t0 = time.monotonic()
    box["ans"] = twilio_send(mock)
    box["dt"] = time.monotonic() - t0


th = threading.Thread(target=slow)
th.start()
mock.wait_for(lambda reqs: any(r["path"].startswith("/2010") for r in reqs), 5, "delayed request seen")
t0 = time.monotonic()
fast = kannel_get(mock)
fast_dt = time.monotonic() - t0
th.join(10)
is_(box.get("ans", (0,))[0], 201, "delay: still answers 201")
ok(box.get("dt", 0) >= 0.4, "delay: took >= delay_ms (%.3fs)" % box.get("dt", 0))
ok(fast[0] == 202 and fast_dt < 0.3, "delay: other requests not blocked meanwhile (%.3fs)" % fast_dt)
t0 = time.monotonic()
twilio_send(mock)
ok(time.monotonic() - t0 < 0.3, "delay: times=1 applies once")

mock.behaviour([{"times": 1, "drop": True}])
try:
    kannel_get(mock)
    ok(False, "drop: connection error")
except (urllib.error.URLError, ConnectionError, OSError) as e:
    ok(True, "drop: connection error (%s)" % type(e).__name__)
is_(kannel_get(mock)[0], 202, "drop: next request answered")

mock.behaviour([{"times": 1, "hang": True}])
try:
    kannel_get(mock, timeout=0.3)
    ok(False, "hang: client times out")
except (urllib.error.URLError, socket.timeout, OSError) as e:
    ok(True, "hang: client times out (%s)" % type(e).__name__)
is_(mock.stats()["hung"], 1, "hang: counted")
ok(wait_until(lambda: mock.stats()["pending"] == 0, 5, "hung request released"),
   "hang: released once the client goes away")

mock.behaviour([{"recipient": "+923001110000", "at_status": 403},
                {"recipient": "+923002220000", "at_status": 405, "times": 1}])
st, _, body = at_send(mock, "+923001234567,+923001110000,+923002220000")
sm = json.loads(body)["SMSMessageData"]
is_([(r["number"], r["statusCode"], r["status"]) for r in sm["Recipients"]],
    [("+923001234567", 101, "Success"), ("+923001110000", 403, "InvalidPhoneNumber"),
     ("+923002220000", 405, "InsufficientBalance")], "AT per-recipient override: mixed batch")
is_(sm["Message"], "Sent to 1/3 Total Cost: KES 0.8000", "AT per-recipient override: summary")
st, _, body = at_send(mock, "+923002220000")
is_(json.loads(body)["SMSMessageData"]["Recipients"][0]["statusCode"], 101, "per-recipient times=1 used up")

mock.behaviour([{"recipient": "+923001110000", "result_status": "failed"}])
res = json.loads(generic_send(mock, [{"id": 1, "to": "+923001234567", "text": "a"},
                                      {"id": 2, "to": "+923001110000", "text": "b"}])[2])["results"]
is_([(r["id"], r["status"], "message_id" in r) for r in res], [(1, "sent", True), (2, "failed", False)],
    "generic per-recipient result_status")

mock.behaviour([{"recipient": "+923001110000", "at_status": 406, "times": 1},
                {"recipient": "+923001110000", "result_status": "retry", "times": 1}])
res = json.loads(generic_send(mock, [{"id": 1, "to": "+923001110000", "text": "a"}])[2])["results"]
rc = json.loads(at_send(mock, "+923001110000")[2])["SMSMessageData"]["Recipients"]
is_((res[0]["status"], rc[0]["statusCode"]), ("retry", 406), "per-recipient rules apply to their own API only")

mock.behaviour([{"recipient": "+923009990000", "status": 400, "body": '{"code":21610}'}])
is_((twilio_send(mock, to="+923009990000")[0], twilio_send(mock)[0]), (400, 201),
    "request rule matched by recipient")

for bad, why in [({"times": 1, "drop": True, "colour": 1}, "unknown key"),
                 ({"path_prefix": "/x"}, "no action"),
                 ({"status": 99}, "status out of range"),
                 ({"at_status": 403, "status": 500}, "mixed levels")]:
    try:
        mock.behaviour([bad])
        ok(False, "bad rule refused: " + why)
    except RuntimeError as e:
        ok(" 400 " in str(e), "bad rule refused: %s" % why)

# ---- robustness -------------------------------------------------------------
for junk in [b"\x00\xff garbage\r\n\r\n", b"POST /version1/messaging HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n",
             b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", b"POST /generic/send HTTP/1.1\r\nContent-Length: 5\r\n\r\n[1,{"]:
    with socket.create_connection(("127.0.0.1", mock.port), timeout=2) as s:
        try:
            s.sendall(junk)
            s.shutdown(socket.SHUT_WR)
            s.recv(4096)
        except OSError:
            pass
is_(kannel_get(mock)[0], 202, "alive after garbage input")

# ---- --record FILE and stop -------------------------------------------------
# leave a hung and a delayed request in flight: stopping must still be clean
mock.behaviour([{"path_prefix": "/cgi-bin", "times": 1, "hang": True},
                {"path_prefix": "/cgi-bin", "times": 1, "delay_ms": 60000}])
held = []
for _ in range(2):
    s = socket.create_connection(("127.0.0.1", mock.port), timeout=2)
    s.sendall(b"GET /cgi-bin/sendsms?to=%2B923001234567&text=x HTTP/1.1\r\nHost: x\r\n\r\n")
    held.append(s)
wait_until(lambda: mock.stats()["pending"] == 2, 5, "two requests in flight")
is_(mock.stop(), 0, "SIGTERM with requests in flight: exit 0")
for s in held:
    s.close()

with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "rec.jsonl")
    with MockAggregator(args=["--record", path]) as m2:
        at_send(m2, "+923001234567")
        kannel_get(m2)
        recs = m2.requests()
        with open(path) as f:
            lines = [json.loads(line) for line in f]
        is_([(l["seq"], l["path"], l["body"]) for l in lines], [(r["seq"], r["path"], r["body"]) for r in recs],
            "--record FILE: one JSON line per request")
    is_(m2.returncode, 0, "context manager stops cleanly")

with MockAggregator(args=["--no-record-bodies", "--max-records", "2"]) as m3:
    for _ in range(3):
        kannel_get(m3)
    recs = m3.requests()
    is_([(r["seq"], r["body"]) for r in recs], [(2, None), (3, None)], "--max-records keeps the newest; --no-record-bodies")
    is_(m3.stats()["records_evicted"], 1, "evictions counted")

# ---- the benchmark baseline ---------------------------------------------------
try:
    bare = find_binary("bench/bare_responder")
except FileNotFoundError:
    bare = None
if bare:
    import subprocess
    from mockagg import read_port
    p = subprocess.Popen([bare, "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE)
    port = read_port(p, 10, "bare_responder")
    is_(http("POST", "http://127.0.0.1:%d/anything" % port, "x"), (200, "text/plain", b"OK\n"),
        "bare_responder: 200 OK")
    p.terminate()
    is_(p.wait(10), 0, "bare_responder: SIGTERM exit 0")
    p.stdout.close()
else:
    diag("bench/bare_responder not built; not checked")

sys.exit(done_testing())
