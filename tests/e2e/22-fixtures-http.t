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
keeps its list (so 127.0.0.1 is outside too). Outbound sends go to a closed
port on 127.0.0.1 (send fixtures are the aggregator's answers, proven by
test_providers.c and 20-channels.t). Fixtures sharing a channel share a daemon.
"""

import ipaddress
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from tap import ok, is_, diag, done_testing  # noqa: E402
from talaash import Gateway, free_port  # noqa: E402

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
        elif line and not line.startswith(b"#") and b":" in line and section != "msg":
            k, v = line.decode("utf-8").split(":", 1)
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
    extra = "[limits]\nmessages_per_minute = 10000\nreports_per_day = 1000\n"
    gw = Gateway(conf_extra=extra, channels=section)
    if public_url:  # [server] public_url must be the fixture's: Twilio signs it
        plain = gw.write_config

        def write_config(plain=plain, gw=gw, public_url=public_url):
            plain()
            with open(gw.conf_path) as f:
                text = f.read()
            with open(gw.conf_path, "w") as f:
                f.write(text.replace("[server]\n", "[server]\npublic_url = %s\n" % public_url, 1))
        gw.write_config = write_config
    gw.start()
    for provider, fname, fx in fixtures:
        label = "%s/%s" % (provider, fname)
        try:
            got = send(gw, fx["raw"]["request"])
        except OSError as e:
            got = (0, "", repr(e).encode())
        if not check(label, got, expected(provider, fx)):
            diag("answer: %r" % (got,))
            diag(gw.log()[-1500:])
    code, _ = gw.stop()
    is_(code, 0, "[channel %s] (%d fixtures): the daemon exits 0" % (name, len(fixtures)))
    report = gw.sanitizer_report()
    ok(report is None, "[channel %s]: no sanitizer report" % name)
    if report:
        diag(report)
    gw.close()

sys.exit(done_testing())
