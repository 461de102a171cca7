#!/usr/bin/env python3
"""65-api.t — the operator API (issue #11) over real HTTP: tokens and roles (401/403,
logged and audited), every route, what each role may see, the same case action by SMS
and by API behaving identically, Idempotency-Key, cursor paging, bad inputs with a JSON
error naming the field, token config errors, and the loop staying free while a read
scans a large outbox."""

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from tap import ok, is_, diag, done_testing  # noqa: E402
from talaash import Gateway, binary, wait_until, ROOT  # noqa: E402

VIEW = "viewer-secret-0123456789"
OPER = "operator-secret-0123456789"
ADMIN = "admin-secret-0123456789"
API_CONF = """
[api]
tokens = view:viewer:%s, op:operator:%s, boss:admin:%s
console_dir = %s
""" % (VIEW, OPER, ADMIN, os.path.join(ROOT, "console"))


def call(gw, method, path, token=None, body=None, headers=None):
    h = dict(headers or {})
    if token:
        h["Authorization"] = "Bearer " + token
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    status, hdrs, data = gw.request(method, "/api/v1/" + path, body=body, headers=h)
    try:
        doc = json.loads(data) if data else None
    except ValueError:
        doc = None
    return status, hdrs, doc


def sms(gw, phone, text):
    status, _, body = gw.post_form("/sms/console", {"from": phone, "text": text})
    return status, body.decode()


def alerts_sent_to(gw, phone):
    return gw.sql("SELECT count(*) FROM outbox WHERE phone = ? AND kind = 'alert'"
                  " AND state = 'sent'", (phone,))[0][0]


def report(gw, reporter, name):
    sms(gw, reporter, "MISSING %s, 8, boy, Korangi, blue shirt, last seen 4pm near the bridge" % name)
    row = gw.sql("SELECT case_no FROM cases WHERE reporter_phone = ? ORDER BY id DESC LIMIT 1",
                 ("+92" + reporter[1:],))
    return row[0][0]


with Gateway(conf_extra=API_CONF) as gw:
    subprocess.run([binary(), "police", "add", "03009990001", "--area", "Korangi", "-c",
                    gw.conf_path], check=True, capture_output=True, cwd=gw.dir)
    sms(gw, "03001110001", "JOIN Korangi")
    sms(gw, "03001110002", "JOIN Karachi")
    case_sms = report(gw, "03001234567", "Bilal")
    case_api = report(gw, "03001234568", "Hina")
    ok(len(case_sms) == 6 and len(case_api) == 6, "two cases reported over SMS")

    # ---- authentication and roles ----
    status, hdrs, doc = call(gw, "GET", "cases")
    is_(status, 401, "no token: 401")
    ok(hdrs.get("www-authenticate", "").startswith("Bearer"), "401 says WWW-Authenticate: Bearer")
    is_(doc, {"error": "unauthorized: a valid bearer token is required"}, "401 body is JSON")
    status, _, _ = call(gw, "GET", "cases", token="not-a-token-at-all-xx")
    is_(status, 401, "wrong token: 401")
    status, _, _ = call(gw, "GET", "cases", headers={"Authorization": "Basic " + VIEW})
    is_(status, 401, "a token not sent as Bearer: 401")
    status, _, doc = call(gw, "POST", "cases/%s/verify" % case_api, token=VIEW, body={})
    is_(status, 403, "viewer may not verify: 403")
    is_(gw.sql("SELECT state FROM cases WHERE case_no = ?", (case_api,))[0][0], "reported",
        "the refused verify changed nothing")
    audit = gw.sql("SELECT actor, outcome FROM audit_log WHERE action = 'api auth' ORDER BY id")
    is_(audit, [("api:?", "no token"), ("api:?", "bad token"), ("api:?", "no token"),
                ("api:view", "role")], "refusals are audited with the token's name")
    log = gw.log()
    ok("event=refused status=401" in log and "event=refused status=403 token=api:view" in log,
       "refusals are logged")
    ok(VIEW not in log and OPER not in log, "no secret appears in the log")
    status, _, doc = call(gw, "GET", "me", token=OPER)
    is_((status, doc), (200, {"name": "op", "role": "operator"}), "GET me names the token and role")

    # ---- what each role sees ----
    status, _, doc = call(gw, "GET", "cases", token=VIEW)
    is_(status, 200, "viewer lists cases")
    is_([c["case"] for c in doc["cases"]], [case_api, case_sms], "newest first")
    ok(all(c["reporter"] is None and c["contact"] is None for c in doc["cases"]),
       "viewer sees no reporter number")
    ok(b"+92300123456" not in json.dumps(doc).encode(), "no reporter digits in the viewer's page")
    status, _, doc = call(gw, "GET", "cases", token=OPER)
    is_(doc["cases"][1]["reporter"], "+923001234567", "operator sees the reporter's number")
    is_(doc["cases"][0]["area"]["name_ur"], "کورنگی", "areas carry their Urdu name")

    # ---- the same action by SMS and by API ----
    _, reply = sms(gw, "03009990001", "VERIFY %s" % case_sms)
    ok("verified" in reply, "police VERIFY by SMS")
    status, _, doc = call(gw, "POST", "cases/%s/verify" % case_api, token=OPER, body={})
    is_(status, 200, "operator VERIFY by API: 200")
    is_((doc["state"], doc["previous_state"], doc["outcome"]), ("active", "reported", "done"),
        "the API answer says what happened")
    is_(doc["recipients"], 3, "the API verify queued the alert for 2 subscribers and the officer")

    def wave(case_no):
        return gw.sql("SELECT o.kind, o.priority, count(*) FROM outbox o JOIN cases c"
                      " ON c.id = o.case_id WHERE c.case_no = ? GROUP BY o.kind, o.priority"
                      " ORDER BY 1, 2", (case_no,))
    ok(wait_until(lambda: gw.sql("SELECT count(*) FROM outbox WHERE state <> 'sent'")[0][0] == 0),
       "every message is sent")
    is_(wave(case_api), wave(case_sms), "SMS and API verify queue the same messages")
    is_(gw.sql("SELECT state, verified_at IS NOT NULL FROM cases WHERE case_no = ?", (case_api,)),
        gw.sql("SELECT state, verified_at IS NOT NULL FROM cases WHERE case_no = ?", (case_sms,)),
        "and leave the case in the same state")
    is_(gw.sql("SELECT actor, outcome FROM audit_log WHERE action = 'verify' ORDER BY id"),
        [("+923009990001", "ok"), ("api:op", "ok")], "each verify is audited with its actor")
    is_(alerts_sent_to(gw, "+923001110001"), 2, "the Korangi subscriber got both alerts once each")

    status, _, doc = call(gw, "POST", "cases/%s/verify" % case_api, token=OPER)
    is_((status, doc["outcome"], doc["recipients"]), (409, "bad_state", 0),
        "a second verify (no body) is 409 and sends nothing")

    # ---- one case: counts, timeline, sightings ----
    sms(gw, "03001110001", "SEEN %s white car near the bridge" % case_api)
    status, _, doc = call(gw, "GET", "cases/" + case_api, token=VIEW)
    is_(status, 200, "viewer reads one case")
    is_(doc["alerts"]["sent"], 3, "alert counts by state: 3 sent")
    is_(doc["alerts"]["total"], 3, "alert total 3")
    is_(doc["police_notices"]["total"], 2, "police notices: the report and the sighting")
    is_([s["text"] for s in doc["sightings"]], ["white car near the bridge"], "the sighting")
    is_(doc["sightings"][0]["from"], "+92300****001", "the sighter's number masked for a viewer")
    events = [e["event"] for e in doc["timeline"]]
    is_(events[:2], ["reported", "police_notified"], "timeline starts with report and police")
    ok("verify" in events and "wave" in events and "sighting" in events,
       "timeline has the verify, the wave and the sighting")
    is_([(e.get("actor"), e.get("outcome")) for e in doc["timeline"] if e["event"] == "verify"],
        [("api:op", "ok"), ("api:op", "refused: state")],
        "timeline names who verified, and the refused second verify")
    status, _, doc = call(gw, "GET", "cases/" + case_api, token=OPER)
    is_(doc["sightings"][0]["from"], "+923001110001", "operator sees the sighter's number")

    # ---- Idempotency-Key ----
    key = {"Idempotency-Key": "close-1"}
    s1, _, d1 = call(gw, "POST", "cases/%s/close" % case_sms, token=OPER,
                     body={"reason": "duplicate report"}, headers=key)
    s2, h2, d2 = call(gw, "POST", "cases/%s/close" % case_sms, token=OPER,
                      body={"reason": "duplicate report"}, headers=key)
    is_((s1, d1["outcome"], d1["state"]), (200, "done", "closed"), "close with a key: done")
    is_((s2, d2), (s1, d1), "the retry with the same key gets the same answer")
    is_(h2.get("idempotent-replayed"), "true", "and says it is a replay")
    is_(gw.sql("SELECT count(*) FROM audit_log WHERE action = 'close'")[0][0], 1,
        "the retry did nothing (one audit line)")
    s3, _, d3 = call(gw, "POST", "cases/%s/found" % case_sms, token=OPER, body={}, headers=key)
    is_(s3, 422, "the same key on another request: 422")
    is_(gw.sql("SELECT close_reason FROM cases WHERE case_no = ?", (case_sms,))[0][0],
        "duplicate report", "CLOSE's reason is stored")

    # ---- bad input ----
    bad = [
        ("POST", "cases/%s/close" % case_api, b"{not json", 400, None, "invalid JSON"),
        ("POST", "cases/%s/close" % case_api, b"[1,2]", 400, None, "a JSON array"),
        ("POST", "cases/%s/close" % case_api, b'{"reason":"\xff\xfe"}', 400, None, "invalid UTF-8"),
        ("POST", "cases/%s/close" % case_api, {"reason": 5}, 400, "reason", "a wrong type"),
        ("POST", "cases/%s/close" % case_api, {"why": "x"}, 400, "why", "an unknown field"),
        ("POST", "cases/%s/close" % case_api, {"reason": "x" * 161}, 400, "reason", "a too long field"),
        ("POST", "cases/%s/verify" % case_api, {"reason": "x"}, 400, "reason", "a field of another action"),
        ("POST", "cases/%s/widen" % case_api, {}, 400, "area", "widen without an area"),
        ("POST", "cases/%s/widen" % case_api, {"area": "Atlantis"}, 400, "area", "an unknown area"),
        ("POST", "cases/123456/verify", {}, 400, "case", "a case number with a wrong check digit"),
        ("POST", "cases/%s/explode" % case_api, {}, 404, "action", "an unknown action"),
        ("GET", "cases?colour=red", None, 400, "colour", "an unknown query parameter"),
        ("GET", "cases?limit=0", None, 400, "limit", "limit 0"),
        ("GET", "cases?limit=abc", None, 400, "limit", "limit not a number"),
        ("GET", "cases?state=lost", None, 400, "state", "an unknown state"),
        ("GET", "cases?area=Atlantis", None, 400, "area", "an unknown area filter"),
        ("POST", "police", {"phone": "12", "area": "Korangi"}, 400, "phone", "a bad phone"),
        ("POST", "police", {"phone": "03009990002", "area": "Korangi", "pin": "12"}, 400, "pin", "a bad PIN"),
        ("POST", "police", {"area": "Korangi"}, 400, "phone", "a missing required field"),
        ("POST", "police", None, 400, None, "no body where one is required"),
    ]
    for method, path, body, want, field, name in bad:
        status, _, doc = call(gw, method, path, token=OPER, body=body)
        is_(status, want, "%s: %d" % (name, want))
        ok(isinstance(doc, dict) and "error" in doc and doc.get("field") == field,
           "%s: JSON error naming field %r (%r)" % (name, field, doc))
    is_(gw.sql("SELECT state FROM cases WHERE case_no = ?", (case_api,))[0][0], "active",
        "no bad request changed the case")
    status, hdrs, doc = call(gw, "DELETE", "cases", token=OPER)
    is_((status, hdrs.get("allow")), (405, "GET"), "a wrong method: 405 with Allow")
    status, _, doc = call(gw, "GET", "nothing/here", token=OPER)
    is_((status, doc), (404, {"error": "not found"}), "an unknown route: 404 JSON")
    status, _, _ = call(gw, "GET", "a/b/c/d/e", token=OPER)
    is_(status, 404, "too many segments: 404")
    status, _, _ = call(gw, "POST", "cases/%s/close" % case_api, token=OPER, body=b"{}" + b" " * 70000)
    is_(status, 413, "a body over max_body: 413")

    # ---- police registrations ----
    status, _, doc = call(gw, "POST", "police", token=OPER,
                          body={"phone": "0300 9990002", "area": "Malir", "pin": "4321"})
    is_((status, doc), (201, {"phone": "+923009990002", "area": {"code": doc and doc["area"]["code"],
                                                                  "name": "Malir"}, "has_pin": True}),
        "operator registers police: 201")
    status, _, doc = call(gw, "GET", "police", token=VIEW)
    is_(sorted((p["phone"], p["area"]["name"], p["has_pin"]) for p in doc["police"]),
        [("+92300****001", "Korangi", False), ("+92300****002", "Malir", True)],
        "viewer lists police, numbers masked, no PIN")
    ok("pin_hash" not in json.dumps(doc), "no PIN hash is ever returned")
    _, reply = sms(gw, "03009990002", "STATUS %s" % case_api)
    ok(case_api in reply and "Hina" in reply, "the new officer is police to the SMS side at once")
    status, _, doc = call(gw, "DELETE", "police/03009990002", token=OPER)
    is_((status, doc), (200, {"phone": "+923009990002", "removed": 1}), "DELETE police: 200")
    status, _, _ = call(gw, "DELETE", "police/03009990002", token=OPER)
    is_(status, 404, "DELETE of an unregistered number: 404")

    # ---- PIN lockout ended by an operator ----
    call(gw, "POST", "police", token=OPER, body={"phone": "03009990003", "area": "Korangi", "pin": "5555"})
    for _ in range(5):
        _, reply = sms(gw, "03009990003", "FOUND %s 1111" % case_api)
    ok("too many wrong PINs" in reply or "locked" in reply, "five wrong PINs lock the officer (%r)" % reply)
    _, reply = sms(gw, "03009990003", "FOUND %s 5555" % case_api)
    ok("locked" in reply, "the right PIN is refused while locked (%r)" % reply)
    status, _, doc = call(gw, "POST", "police/03009990003/unlock", token=VIEW)
    is_(status, 403, "viewer may not unlock")
    status, _, doc = call(gw, "POST", "police/03009990003/unlock", token=OPER)
    ok(status == 200 and doc["phone"] == "+923009990003" and doc["cleared"] >= 1,
       "operator unlocks by API (%r)" % (doc,))
    is_(gw.sql("SELECT actor, outcome FROM audit_log WHERE action = 'police unlock'"),
        [("api:op", "ok")], "the unlock is audited")
    call(gw, "DELETE", "police/03009990003", token=OPER)
    is_(gw.sql("SELECT state FROM cases WHERE case_no = ?", (case_api,))[0][0], "active",
        "no wrong PIN changed the case")

    # ---- subscribers ----
    status, _, doc = call(gw, "GET", "subscribers", token=VIEW)
    is_(status, 200, "subscriber counts")
    is_({a["name"]: a["subscribers"] for a in doc["areas"]}, {"Korangi": 1, "Karachi": 1},
        "counts per area")
    is_((doc["subscribers"], doc["opted_out"]), (2, 0), "distinct subscribers, opted out")
    status, _, doc = call(gw, "GET", "subscribers/03001110001", token=VIEW)
    is_((doc["phone"], doc["opted_out"], [a["name"] for a in doc["areas"]]),
        ("+92300****001", False, ["Korangi"]), "one number, masked for a viewer")
    status, _, doc = call(gw, "GET", "subscribers/03001110001", token=OPER)
    is_(doc["phone"], "+923001110001", "in full for an operator")
    status, _, _ = call(gw, "GET", "subscribers/03005550000", token=OPER)
    is_(status, 404, "an unknown number: 404")

    # ---- blocks ----
    status, _, doc = call(gw, "POST", "blocks", token=OPER, body={"phone": "03007770000", "reason": "abuse"})
    is_((status, doc), (201, {"phone": "+923007770000", "blocked": True}), "block a number: 201")
    sms(gw, "03007770000", "HELP")
    is_(gw.sql("SELECT state FROM inbound WHERE phone = '+923007770000'"), [("blocked",)],
        "the blocked number's SMS is stored, not processed")
    status, _, doc = call(gw, "GET", "blocks", token=OPER)
    is_([(b["phone"], b["reason"]) for b in doc["blocks"]], [("+923007770000", "abuse")], "list blocks")
    status, _, _ = call(gw, "GET", "blocks", token=VIEW)
    is_(status, 403, "viewer may not list blocks")
    status, _, _ = call(gw, "DELETE", "blocks/03007770000", token=OPER)
    is_(status, 200, "unblock: 200")
    status, _, _ = call(gw, "DELETE", "blocks/03007770000", token=OPER)
    is_(status, 404, "unblock a number not blocked: 404")

    # ---- resend ----
    oid = gw.sql("SELECT id FROM outbox WHERE phone = '+923001110002' ORDER BY id LIMIT 1")[0][0]
    with sqlite3.connect(gw.db_path) as db:
        db.execute("UPDATE outbox SET state = 'failed', error = 'test' WHERE id = ?", (oid,))
    status, _, doc = call(gw, "POST", "outbox/%d/resend" % oid, token=OPER)
    is_((status, doc), (200, {"id": oid, "previous_state": "failed", "state": "queued"}),
        "resend a failed message: 200")
    ok(wait_until(lambda: gw.sql("SELECT state, attempts FROM outbox WHERE id = ?", (oid,))
                  == [("sent", 1)]), "it is sent again")
    status, _, doc = call(gw, "POST", "outbox/%d/resend" % oid, token=OPER)
    is_(status, 409, "resend a sent message: 409")
    status, _, _ = call(gw, "POST", "outbox/999999/resend", token=OPER)
    is_(status, 404, "resend an unknown message: 404")

    # ---- audit ----
    status, _, doc = call(gw, "GET", "audit?limit=100", token=OPER)
    actions = [e["action"] for e in doc["entries"]]
    ok("verify" in actions and "police add" in actions, "operator reads the audit")
    ok(all(not e["actor"].startswith("api:") for e in doc["entries"]),
       "but not the API's own entries")
    status, _, doc = call(gw, "GET", "audit?limit=100", token=ADMIN)
    admin_actors = {e["actor"] for e in doc["entries"]}
    ok({"api:op", "api:view", "api:?"} <= admin_actors, "admin sees the API's entries and refusals")
    status, _, _ = call(gw, "GET", "audit", token=VIEW)
    is_(status, 403, "viewer may not read the audit")

    # ---- channels and stats (the stats snapshot) ----
    status, _, doc = call(gw, "GET", "channels", token=VIEW)
    is_(status, 200, "viewer reads the channels")
    ch = doc["channels"][0]
    is_((len(doc["channels"]), ch["name"], ch["provider"], ch["rate"]), (1, "console", "console", 1000),
        "the console channel with its rate")
    ok(ch["last_success_at"] is not None and "in_flight" in ch and "queue_depth" in ch,
       "with in-flight, queue depth and last success")
    ok(wait_until(lambda: call(gw, "GET", "stats", token=VIEW)[2]["cases"].get("active") == 1, 10),
       "stats count the active case")
    status, _, doc = call(gw, "GET", "stats", token=VIEW)
    is_((doc["cases"].get("closed"), doc["police"]), (1, 1), "and the closed case and the officer")
    ok(doc["as_of"] is not None, "stats say when they were taken")

    # ---- paging ----
    for i, name in enumerate(["Ali", "Sara", "Zain", "Ayesha", "Omar"]):
        report(gw, "0300300000%d" % i, name)
    seen, cursor, pages = [], None, 0
    while True:
        status, _, doc = call(gw, "GET", "cases?limit=2" + ("&cursor=" + cursor if cursor else ""),
                              token=VIEW)
        if status != 200:
            break
        pages += 1
        seen += [c["case"] for c in doc["cases"]]
        cursor = doc["next_cursor"]
        if cursor is None:
            break
    all_cases = [r[0] for r in gw.sql("SELECT case_no FROM cases WHERE state <> 'draft' ORDER BY id DESC")]
    is_((seen, pages), (all_cases, 4), "7 cases in pages of 2: all of them once, newest first")
    status, _, doc = call(gw, "GET", "cases?state=active", token=VIEW)
    is_([c["case"] for c in doc["cases"]], [case_api], "filter by state")
    status, _, doc = call(gw, "GET", "cases?area=Karachi&state=closed", token=VIEW)
    is_([c["case"] for c in doc["cases"]], [case_sms], "filter by an enclosing area and state")
    status, _, doc = call(gw, "GET", "cases?since=%d" % (int(time.time()) + 3600), token=VIEW)
    is_(doc["cases"], [], "filter by date")

    # ---- the loop stays free while a read scans a large outbox ----
    cid = gw.sql("SELECT id FROM cases WHERE case_no = ?", (case_api,))[0][0]
    with sqlite3.connect(gw.db_path) as db:
        db.execute("INSERT INTO outbox (channel, phone, kind, priority, state, next_attempt_ms,"
                   " case_id, alert_id, text, created_at, updated_at)"
                   " WITH RECURSIVE n(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM n WHERE v < 400000)"
                   " SELECT 'console', '+92301' || printf('%07d', v), 'alert', 2, 'sent', 0, ?,"
                   " 1, NULL, 0, 0 FROM n", (cid,))
    results = {}

    def slow_read():
        t = time.monotonic()
        results["detail"] = call(gw, "GET", "cases/" + case_api, token=VIEW)[2]
        results["detail_s"] = time.monotonic() - t
    th = threading.Thread(target=slow_read)
    th.start()
    time.sleep(0.005)
    worst, answered = 0.0, 0
    while th.is_alive():
        t = time.monotonic()
        gw.request("GET", "/healthz")
        worst = max(worst, time.monotonic() - t)
        answered += th.is_alive()
    th.join()
    is_(results["detail"]["alerts"]["sent"], 400003, "the case's 400,003 alert rows are counted")
    diag("case read took %.1f ms; %d /healthz answered meanwhile, the slowest in %.1f ms"
         % (results["detail_s"] * 1000, answered, worst * 1000))
    ok(answered >= 3 and worst < results["detail_s"] / 2,
       "/healthz is answered while the read runs (the read is off the loop)")

    with sqlite3.connect(gw.db_path) as db:
        db.execute("UPDATE outbox SET state = 'delivered' WHERE case_id = ? AND kind = 'alert'"
                   " AND phone LIKE '+92301000%'", (cid,))
    status, _, doc = call(gw, "GET", "cases/" + case_api, token=VIEW)
    is_(doc["alerts"]["delivered"], 0, "a slow count is reused for a few seconds")
    ok(wait_until(lambda: call(gw, "GET", "cases/" + case_api, token=VIEW)[2]["alerts"]["delivered"]
                  == 9999, timeout=15, interval=0.5), "and counted again after them")

    code, _ = gw.stop()
    is_(code, 0, "the daemon stops cleanly")

# ---- token configuration ----
def check(extra, files=None):
    with Gateway(conf_extra=extra) as gw0:
        pass
    return gw0


def check_config(text, mode=None, token_file=None):
    import tempfile
    d = tempfile.mkdtemp(prefix="talaash-cfg-")
    if token_file is not None:
        p = os.path.join(d, "tokens")
        with open(p, "w") as f:
            f.write(token_file)
        os.chmod(p, mode or 0o600)
        text = text.replace("@TOKENFILE@", p)
    conf = os.path.join(d, "gw.conf")
    with open(conf, "w") as f:
        f.write(text)
    r = subprocess.run([binary(), "check-config", conf], capture_output=True, text=True)
    return r.returncode, r.stderr + r.stdout


cases = [
    ("[api]\ntokens = a:boss:0123456789abcdef\n", "role must be viewer, operator or admin"),
    ("[api]\ntokens = a:viewer:short\n", "the secret must be 16-256 characters"),
    ("[api]\ntokens = a:viewer:0123456789abcdef, a:admin:0123456789abcdeg\n", "defined twice"),
    ("[api]\ntokens = a:viewer:0123456789abcdef, b:admin:0123456789abcdef\n", "the same secret"),
    ("[api]\ntokens = justasecret0123456789\n", "NAME:ROLE:SECRET"),
]
for text, want in cases:
    code, out = check_config(text + "[channel console]\nprovider = console\n")
    ok(code == 2 and want in out, "check-config refuses: %s (%r)" % (want, out.strip()))
code, out = check_config("[api]\ntoken_file = @TOKENFILE@\n[channel console]\nprovider = console\n",
                         mode=0o644, token_file="a:viewer:0123456789abcdef\n")
ok(code == 2 and "readable by others" in out, "a world-readable token file is refused")
code, out = check_config("[api]\ntoken_file = @TOKENFILE@\n[channel console]\nprovider = console\n",
                         token_file="# ops\nops:operator:0123456789abcdef\n\nbad line\n")
ok(code == 2 and ":4:" in out, "a token file error names its line (%r)" % out.strip())
code, out = check_config("[api]\ntoken_file = @TOKENFILE@\n[channel console]\nprovider = console\n",
                         token_file="# ops\nops:operator:0123456789abcdef\n")
is_(code, 0, "a good token file passes")

sys.exit(done_testing())
