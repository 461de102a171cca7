#!/usr/bin/env python3
"""22-fixtures-http.t — every provider fixture over HTTP against the daemon
(issue #14): test_providers.c proves each provider from the captured bytes
of tests/fixtures/providers/<provider>/*.txt, but never the daemon's routes
(Kannel's get-url got 405 while its fixture passed). Here every captured
callback is sent byte for byte to the running daemon, with the fixture's
channel configured, and the daemon's status, content type and answer body
must be what the fixture's expectations imply:

  authentication refused (expect auth: AUTH)  403 {"error":"forbidden"}
  SMS or DLR the provider cannot read        400 (413 when too large), {"error": "<why>"}
  USSD the provider cannot read               200, the provider's last screen saying so
  accepted SMS / DLR / USSD                   200, the provider's answer: the fixture's
                                              reply-body when it renders no reply text,
                                              else the answer without text (replies go
                                              through the outbox), a menu for USSD
  a capture of no daemon route (kind auth)    404

The daemon sees every request from 127.0.0.1: a channel whose fixture peer
is inside allow_ips gets allow_ips = 127.0.0.1, one whose peer is outside
keeps its list (so 127.0.0.1 is outside too). Outbound sends of this part
go to a closed port on 127.0.0.1. Fixtures sharing a channel share a daemon.

Send fixtures of one message (an aggregator's answer, or a request the
provider must refuse to build) are replayed too: the fixture's channel
points at our mock aggregator, which answers the send with the fixture's
status and body; a signed callback from the fixture's recipient, with the
fixture's text, makes the daemon send it a reply, and the outbox row must end as the fixture's
outcome says (SENT -> sent with the provider id, TEMPFAIL -> queued for a
retry, PERMFAIL -> failed, OPTED_OUT -> failed and the number opted out;
the row's error when the fixture gives it), with exactly one request at the
mock (none when build_send refuses). Batch fixtures (several messages in
one request) stay with test_providers.c: one callback makes one reply.
"""

import base64
import hashlib
import hmac
import ipaddress
import json
import os
import sys
import urllib.parse
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from tap import ok, is_, diag, done_testing  # noqa: E402
from talaash import Gateway, free_port, wait_until  # noqa: E402
from mockagg import MockAggregator  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
FIXTURES = os.environ.get("TALAASH_FIXTURES", os.path.join(ROOT, "tests", "fixtures", "providers"))
RAW = ("request", "http-out", "answer-body", "reply-body")
CHANNEL_KEYS = ("base_url", "username", "api_key", "account_sid", "auth_token", "password",
                "secret", "token", "sender", "allow_ips", "batch_size", "max_parts")

# What each provider answers when it has no reply text to carry (replies go
# through the outbox; only the console shows its reply).
SMS_ANSWER = {
    "africastalking": ("text/plain", b""),
    "kannel": ("text/plain", b""),
    "twilio": ("text/xml", b'<?xml version="1.0" encoding="UTF-8"?><Response/>'),
    "generic": ("application/json", b'{"reply":null}'),
}
DLR_ANSWER = {
    "africastalking": ("text/plain", b""),
    "kannel": ("text/plain", b""),
    "twilio": ("text/plain", b""),
    "generic": ("application/json", b"{}"),
    "console": ("text/plain; charset=utf-8", b""),
}
USSD_BAD = "Talaash: sorry, that request could not be read. Please dial again."


def unescape(v):
    out, i = bytearray(), 0
    b = v.encode("utf-8")
    while i < len(b):
        c = b[i:i + 1]
        if c == b"\\" and i + 1 < len(b):
            n = b[i + 1:i + 2]
            if n == b"x":
                out.append(int(b[i + 2:i + 4], 16))
                i += 4
                continue
            out += {b"n": b"\n", b"r": b"\r", b"t": b"\t"}.get(n, n)
            i += 2
            continue
        out += c
        i += 1
    return out.decode("utf-8", "surrogateescape")


def load(path):
    """The fixture as {section: {key: value}} plus raw sections as bytes."""
    fx = {"kv": {}, "raw": {}}
    section = ""
    raw = None
    with open(path, "rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    if data.endswith(b"\n"):
        lines.pop()  # the file's last line break ends its last line
    for line in lines:
        if line.startswith(b"== "):
            if raw is not None:
                fx["raw"][section] = raw
            section = line[3:].decode().strip()
            raw = bytearray() if section in RAW else None
            continue
        if raw is not None:
            raw += line + b"\n"
        elif line and not line.startswith(b"#") and b":" in line:
            k, v = line.decode("utf-8").split(":", 1)
            if section == "msg":
                if k.strip() == "id":
                    fx.setdefault("msgs", []).append({})
                fx["msgs"][-1][k.strip()] = v.strip()
                continue
            fx["kv"].setdefault(section, {}).setdefault(k.strip(), v.strip().rstrip("\r"))
    if raw is not None:
        fx["raw"][section] = raw
    for name, value in fx["raw"].items():  # the line break before "== " is the file's
        fx["raw"][name] = bytes(value[:-1] if value.endswith(b"\n") else value)
    return fx


def ip_in(ip, allow):
    addr = ipaddress.ip_address(ip)
    if getattr(addr, "ipv4_mapped", None):
        addr = addr.ipv4_mapped
    for item in (a.strip() for a in allow.split(",")):
        if item and addr in ipaddress.ip_network(item, strict=False):
            return True
    return False


def channel_of(provider, fx, dead):
    ch = {k: unescape(v) for k, v in fx["kv"].get("channel", {}).items()}
    peer = fx["kv"].get("fixture", {}).get("peer", "127.0.0.1")
    conf = {"provider": provider, "base_url": dead, "rate": "1000"}
    for k in CHANNEL_KEYS:
        if k in ch and k != "base_url":
            conf[k] = ch[k]
    if ch.get("allow_ips"):
        conf["allow_ips"] = "127.0.0.1" if ip_in(peer, ch["allow_ips"]) else ch["allow_ips"]
    name = ch.get("name", provider)
    return name, ch.get("public_url", ""), tuple(sorted(conf.items()))


def split_request(raw):
    head, _, body = raw.partition(b"\n\n")
    lines = head.split(b"\n")
    headers = [tuple(x.strip() for x in l.rstrip(b"\r").split(b":", 1)) for l in lines[1:] if b":" in l]
    return lines[0].rstrip(b"\r"), headers, body


def send(gw, raw):
    """The capture byte for byte (our own Content-Length, Connection: close); (status, type, body)."""
    reqline, headers, body = split_request(raw)
    out = [reqline]
    for k, v in headers:
        if k.lower() in (b"content-length", b"connection", b"transfer-encoding"):
            continue
        out.append(k + b": " + v)
    out.append(b"Content-Length: %d" % len(body))
    out.append(b"Connection: close")
    data = gw.raw(b"\r\n".join(out) + b"\r\n\r\n" + body, timeout=10)
    head, _, rbody = data.partition(b"\r\n\r\n")
    hlines = head.split(b"\r\n")
    status = int(hlines[0].split()[1]) if hlines and len(hlines[0].split()) > 1 else 0
    ctype = ""
    for l in hlines[1:]:
        k, _, v = l.partition(b":")
        if k.strip().lower() == b"content-type":
            ctype = v.strip().decode()
    return status, ctype, rbody


def expected(provider, fx):
    """(status, content type or None, body check) the daemon must answer."""
    kind = fx["kv"].get("fixture", {}).get("kind")
    exp = fx["kv"].get("expect", {})
    result = exp.get("result", "OK")
    if kind == "auth":
        return 404, "application/json", ("error", "not found")
    if exp.get("auth", "OK") != "OK":
        return 403, "application/json", ("error", "forbidden")
    reply_body = fx["raw"].get("reply-body")
    ctype = exp.get("reply.content-type")
    if kind == "ussd":
        if result != "OK":
            if provider == "generic":
                return 200, "application/json", ("json", {"reply": USSD_BAD, "end": True})
            return 200, "text/plain" if provider != "console" else "text/plain; charset=utf-8", \
                ("exact", ("END " + USSD_BAD).encode())
        if provider == "generic":
            return 200, "application/json", ("json-screen", None)
        return 200, ctype, ("prefix", (b"CON ", b"END "))
    if result != "OK":
        return (413 if result == "TOO_LARGE" else 400), "application/json", ("error", None)
    if kind == "dlr":
        ct, body = DLR_ANSWER[provider]
        if reply_body is not None and body != reply_body:
            return 200, ct, ("exact", reply_body)
        return 200, ct, ("exact", body)
    if provider == "console":
        return 200, "text/plain; charset=utf-8", ("prefix", ("Talaash".encode(), "تلاش".encode()))
    ct, body = SMS_ANSWER[provider]
    has_text = "reply-text" in fx["kv"].get("fixture", {})
    if reply_body is not None and not has_text:
        return 200, ctype or ct, ("exact", reply_body)
    return 200, ct, ("exact", body)


def check(name, got, want):
    status, ctype, body = got
    wstatus, wctype, (how, what) = want
    good = is_(status, wstatus, "%s: status %d" % (name, wstatus))
    if wctype is not None:
        good &= is_(ctype, wctype, "%s: content type" % name)
    if how == "exact":
        good &= is_(body, what, "%s: answer body" % name)
    elif how == "prefix":
        good &= ok(body.startswith(what), "%s: answer starts with %r (%r)" % (name, what, body[:40]))
    elif how in ("error", "json", "json-screen"):
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        if how == "error":
            good &= ok(isinstance(doc, dict) and list(doc) == ["error"] and isinstance(doc["error"], str)
                       and doc["error"] and (what is None or doc["error"] == what),
                       "%s: answer is {\"error\": ...} (%r)" % (name, body[:80]))
        elif how == "json":
            good &= is_(doc, what, "%s: answer body" % name)
        else:
            good &= ok(isinstance(doc, dict) and isinstance(doc.get("reply"), str) and doc["reply"]
                       and isinstance(doc.get("end"), bool), "%s: a USSD screen (%r)" % (name, body[:60]))
    return good


def gateway(section, public_url, extra="[limits]\nmessages_per_minute = 10000\nreports_per_day = 1000\n"):
    """A started daemon with one channel; [server] public_url = the fixture's (Twilio signs it)."""
    gw = Gateway(conf_extra=extra, channels=section)
    if public_url:
        plain = gw.write_config

        def write_config():
            plain()
            with open(gw.conf_path) as f:
                text = f.read()
            with open(gw.conf_path, "w") as f:
                f.write(text.replace("[server]\n", "[server]\npublic_url = %s\n" % public_url, 1))
        gw.write_config = write_config
    return gw.start()


def finish(gw, what):
    """Stops the daemon: exit 0 and no sanitizer report."""
    code, _ = gw.stop()
    is_(code, 0, "%s: the daemon exits 0" % what)
    report = gw.sanitizer_report()
    ok(report is None, "%s: no sanitizer report" % what)
    if report:
        diag(report)
    gw.close()


# ---- collect every callback fixture, grouped by the channel it needs ----
dead = "http://127.0.0.1:%d" % free_port()  # nothing listens: sends fail and are retried later
groups = {}
count = 0
for provider in sorted(os.listdir(FIXTURES)):
    pdir = os.path.join(FIXTURES, provider)
    if not os.path.isdir(pdir):
        continue
    for fname in sorted(os.listdir(pdir)):
        if not fname.endswith(".txt"):
            continue
        fx = load(os.path.join(pdir, fname))
        if "request" not in fx["raw"]:
            continue  # send fixtures: no callback to replay
        count += 1
        key = channel_of(provider, fx, dead)
        groups.setdefault(key, []).append((provider, fname, fx))
ok(count >= 100, "%d captured callbacks in %d channel setups" % (count, len(groups)))

for (name, public_url, conf), fixtures in sorted(groups.items()):
    section = "[channel %s]\n" % name + "".join("%s = %s\n" % kv for kv in conf)
    gw = gateway(section, public_url)
    for provider, fname, fx in fixtures:
        label = "%s/%s" % (provider, fname)
        try:
            got = send(gw, fx["raw"]["request"])
        except OSError as e:
            got = (0, "", repr(e).encode())
        if not check(label, got, expected(provider, fx)):
            diag("answer: %r" % (got,))
            diag(gw.log()[-1500:])
    finish(gw, "[channel %s] (%d fixtures)" % (name, len(fixtures)))

# ---- send fixtures: the daemon sends, the mock answers as the fixture says ----

def inbound(gw, provider, name, ch, phone, text):
    """A callback from phone, with text, that the channel authenticates: the daemon replies to phone."""
    to = ch.get("sender") or "8558"
    token = "?token=" + urllib.parse.quote(ch["secret"]) if ch.get("secret") else ""
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    if provider == "africastalking":
        body = urllib.parse.urlencode({"id": str(uuid.uuid4()), "from": phone, "to": to,
                                       "text": text, "date": "2026-11-23 10:00:00"})
        return gw.request("POST", "/sms/%s%s" % (name, token), body, form)[0]
    if provider == "kannel":
        q = urllib.parse.urlencode({"id": str(uuid.uuid4()), "sender": phone, "receiver": to,
                                    "text": text})
        return gw.request("GET", "/sms/%s%s%s" % (name, token or "?", ("&" if token else "") + q))[0]
    if provider == "twilio":
        params = [("MessageSid", "SM" + uuid.uuid4().hex), ("AccountSid", ch.get("account_sid", "")),
                  ("From", phone), ("To", to), ("Body", text), ("NumMedia", "0")]
        url = ch.get("public_url", "http://127.0.0.1:%d" % gw.port) + "/sms/" + name
        sig = base64.b64encode(hmac.new(ch.get("auth_token", "").encode(),
                                        (url + "".join(k + v for k, v in sorted(params))).encode(),
                                        hashlib.sha1).digest()).decode()
        return gw.request("POST", "/sms/" + name, urllib.parse.urlencode(params),
                          dict(form, **{"X-Twilio-Signature": sig}))[0]
    if provider == "generic":
        body = json.dumps({"id": str(uuid.uuid4()), "from": phone, "to": to, "text": text})
        sig = hmac.new(ch.get("secret", "").encode(), body.encode(), hashlib.sha256).hexdigest()
        return gw.request("POST", "/sms/" + name, body, {"Content-Type": "application/json",
                                                          "X-Talaash-Signature": "sha256=" + sig})[0]
    return gw.post_form("/sms/" + name, {"from": phone, "text": text})[0]


STATE = {"SENT": "sent", "TEMPFAIL": "queued", "PERMFAIL": "failed", "OPTED_OUT": "failed"}
mock = MockAggregator().start()
sends = {}
for provider in sorted(os.listdir(FIXTURES)):
    pdir = os.path.join(FIXTURES, provider)
    if not os.path.isdir(pdir):
        continue
    for fname in sorted(os.listdir(pdir)):
        fx = load(os.path.join(pdir, fname)) if fname.endswith(".txt") else None
        if fx is None or fx["kv"].get("fixture", {}).get("kind") != "send" or len(fx.get("msgs", [])) != 1:
            continue
        exp = fx["kv"].get("expect", {})
        if "outcome" not in exp and exp.get("build", "OK") == "OK":
            continue  # a request description only (http-out), proven byte for byte by test_providers.c
        ch = {k: unescape(v) for k, v in fx["kv"].get("channel", {}).items()}
        conf = {"provider": provider, "rate": "1000"}
        for k in CHANNEL_KEYS:
            if k in ch:
                conf[k] = ch[k]
        base = ch.get("base_url", "")
        if base or provider != "generic":  # generic has no production URL: none stays none
            conf["base_url"] = mock.url + (urllib.parse.urlsplit(base).path if base else "")
        if conf.get("allow_ips"):
            conf["allow_ips"] = "127.0.0.1"
        key = (ch.get("name", provider), ch.get("public_url", ""), tuple(sorted(conf.items())))
        sends.setdefault(key, []).append((provider, fname, fx, ch))
ok(sum(len(v) for v in sends.values()) >= 30,
   "%d single-message send fixtures in %d channel setups" % (sum(len(v) for v in sends.values()), len(sends)))

extra = ("[limits]\nmessages_per_minute = 10000\nreports_per_day = 1000\n"
         "[outbox]\nretry_base = 3600\nmax_attempts = 5\nconnect_timeout = 1\nsend_timeout = 2\n")
for (name, public_url, conf), fixtures in sorted(sends.items()):
    section = "[channel %s]\n" % name + "".join("%s = %s\n" % kv for kv in conf)
    gw = gateway(section, public_url, extra)
    for provider, fname, fx, ch in fixtures:
        label = "%s/%s (send)" % (provider, fname)
        exp = fx["kv"]["expect"]
        msg = fx["msgs"][0]
        phone = msg["to"]
        status = int(fx["kv"].get("answer", {}).get("status", "200"))
        mock.reset()
        if status == 0:  # twice: curl reconnects once itself when a kept-alive connection drops
            rule = {"times": 2, "drop": True}
        else:
            rule = {"times": 1, "status": status, "body": fx["raw"].get("answer-body", b"").decode("utf-8", "replace")}
        mock.behaviour([rule])
        last = gw.sql("SELECT coalesce(max(id), 0) FROM outbox")[0][0]
        text = unescape(msg.get("text", "HELP"))
        is_(inbound(gw, provider, name, ch, phone, text), 200, "%s: the callback from %s is 200" % (label, phone))

        def row():
            r = gw.sql("SELECT state, attempts, provider_id, error FROM outbox WHERE id > ? AND phone = ?"
                       " ORDER BY id LIMIT 1", (last, phone))
            return r[0] if r and r[0][1] >= 1 and r[0][0] != "sending" else None
        r = wait_until(row, 10)
        if exp.get("build", "OK") != "OK":
            ok(r and r[0] == "queued" and r[1] == 1, "%s: build_send refuses: the row waits for a retry (%r)" % (label, r))
            is_(len(mock.requests()), 0, "%s: and no request is made" % label)
            continue
        outcome = exp["outcome"].split()
        want_state = STATE[outcome[1]]
        is_(r and r[0], want_state, "%s: %s -> the row is %s" % (label, outcome[1], want_state))
        is_(r and r[1], 1, "%s: after one attempt" % label)
        want_pid = outcome[2] if len(outcome) > 2 and outcome[2] != "-" else None
        if outcome[1] == "SENT":
            is_(r and r[2], want_pid, "%s: provider id" % label)
        if "error." + msg["id"] in exp:
            is_(r and r[3], exp["error." + msg["id"]], "%s: the row's error" % label)
        if outcome[1] == "OPTED_OUT":
            is_(gw.sql("SELECT opted_out FROM subscribers WHERE phone = ?", (phone,)), [(1,)],
                "%s: the number is opted out" % label)
        if status == 0:
            ok(len(mock.requests()) in (1, 2), "%s: one attempt (%d requests: curl's own reconnect)"
               % (label, len(mock.requests())))
        else:
            is_(len(mock.requests()), 1, "%s: exactly one request at the mock" % label)
    finish(gw, "[channel %s] send fixtures (%d)" % (name, len(fixtures)))
mock.stop()

sys.exit(done_testing())
