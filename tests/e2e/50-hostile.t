#!/usr/bin/env python3
"""50-hostile.t — hostile clients against the real daemon (issue #14): a body
over max_body answered 413 while the client is still writing (lingering
close), libevent's own error pages as JSON, request_timeout bounding a whole
request that trickles in, the per-address connection cap, and running out of
file descriptors (accepting backs off, the log says so once a second with a
count, /healthz still answers)."""

import json
import os
import resource
import socket
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from tap import ok, is_, diag, done_testing  # noqa: E402
from talaash import Gateway, stop_and_check, wait_until  # noqa: E402


def connect(gw, source="127.0.0.1", timeout=5.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect(("127.0.0.1", gw.port))
    return s


def read_all(s, deadline_s=10.0):
    """Everything the server sends until it closes; (bytes, seconds until close or None)."""
    t0 = time.monotonic()
    chunks = []
    s.settimeout(0.2)
    while time.monotonic() - t0 < deadline_s:
        try:
            b = s.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return b"".join(chunks), time.monotonic() - t0
        if not b:
            return b"".join(chunks), time.monotonic() - t0
        chunks.append(b)
    return b"".join(chunks), None


def healthz_ok(gw, source="127.0.0.1"):
    """One GET /healthz on a new connection from source: answered 200?"""
    try:
        s = connect(gw, source=source, timeout=2.0)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        raw, _ = read_all(s, 2.0)
        s.close()
        return raw.startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def json_error(raw):
    """(status, content type, parsed JSON body or None) of a raw HTTP answer."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else None
    ctype = ""
    for line in lines[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == "content-type":
            ctype = v.strip()
    try:
        parsed = json.loads(body.decode())
    except ValueError:
        parsed = None
    return status, ctype, parsed


# ---- 413 while the client still writes; every error is JSON ----
with Gateway(conf_extra="[server]\nmax_body = 64k\n") as gw:
    url = "http://127.0.0.1:%d/sms/console" % gw.port
    for size in (100 * 1024, 1024 * 1024):
        req = urllib.request.Request(url, data=b"x" * size,
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        got, ctype, body = None, "", None
        try:
            urllib.request.urlopen(req, timeout=10).read()
        except urllib.error.HTTPError as e:
            got, ctype, body = e.code, e.headers.get("Content-Type", ""), e.read()
        except OSError as e:
            diag("urllib: %r" % e)
        is_(got, 413, "urllib posting %d KiB gets its 413, not a broken pipe" % (size // 1024))
        is_(ctype, "application/json", "the 413 is JSON")
        try:
            is_(json.loads(body.decode()), {"error": "request body larger than max_body (65536 bytes)"},
                "the 413 says what the limit is")
        except (ValueError, AttributeError):
            ok(False, "the 413 body is JSON: %r" % (body,))
    # chunked, so evhttp only finds out while reading
    s = connect(gw)
    s.sendall(b"POST /sms/console HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    try:
        for _ in range(20):
            s.sendall(b"1000\r\n" + b"y" * 4096 + b"\r\n")
    except OSError as e:
        diag("chunked: %r" % e)
    raw, closed = read_all(s)
    s.close()
    status, ctype, body = json_error(raw)
    is_(status, 413, "a chunked body over max_body is 413")
    is_(ctype, "application/json", "the chunked 413 is JSON")
    for what, data, want in (
            ("a request line that is no HTTP", b"GARBAGE\r\n\r\n", 400),
            ("a header line without a colon", b"GET /healthz HTTP/1.1\r\nHost x\r\n\r\n", 400),
            ("an Expect it cannot meet", b"POST /sms/console HTTP/1.1\r\nHost: x\r\n"
             b"Expect: teapot\r\nContent-Length: 3\r\n\r\nabc", 417)):
        status, ctype, body = json_error(gw.raw(data))
        is_(status, want, "%s: %d" % (what, want))
        is_(ctype, "application/json", "%s: JSON, not libevent's HTML" % what)
        ok(isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"],
           "%s: {\"error\": ...} (%r)" % (what, body))
    log = gw.log()
    ok("status=413" in log, "the 413 has a log line")
    ok("status=417" in log and "status=400" in log, "libevent's errors have log lines too")
    stop_and_check(gw)


# ---- request_timeout bounds the whole request; connections per address ----
with Gateway(conf_extra="[server]\nrequest_timeout = 2s\nmax_connections_per_ip = 4\n") as gw:
    for what, first, drip in (
            ("one header byte every 0.4 s", b"POST /sms/console HTTP/1.1\r\nHost: x\r\n", b"X"),
            ("one body byte every 0.4 s", b"POST /sms/console HTTP/1.1\r\nHost: x\r\n"
             b"Content-Length: 1000\r\n\r\n", b"a")):
        s = connect(gw, timeout=1.0)
        s.sendall(first)
        t0 = time.monotonic()
        closed_after = None
        s.settimeout(0.4)
        while time.monotonic() - t0 < 8.0:
            try:
                s.sendall(drip)
                b = s.recv(4096)
                if b == b"" or b:
                    closed_after = time.monotonic() - t0
                    break
            except socket.timeout:
                continue
            except OSError:
                closed_after = time.monotonic() - t0
                break
        s.close()
        ok(closed_after is not None and 1.5 <= closed_after <= 3.5,
           "%s: dropped at request_timeout (2 s), after %s s" % (what, closed_after and round(closed_after, 2)))
    ok("event=request_timeout" in gw.log(), "the drop has a log line")

    held = [connect(gw) for _ in range(4)]
    time.sleep(0.2)  # nothing to poll: the four only have to be accepted first
    extra = connect(gw)
    raw, closed = read_all(extra, 5.0)
    extra.close()
    status, ctype, body = json_error(raw)
    is_(status, 503, "a fifth connection from 127.0.0.1 gets 503")
    ok(isinstance(body, dict) and "connections" in body.get("error", ""),
       "the 503 is JSON and says why (%r)" % (body,))
    ok(closed is not None, "and is closed")
    ok(healthz_ok(gw, "127.0.0.2"), "another address is served meanwhile")
    for h in held:
        h.close()
    ok(wait_until(lambda: healthz_ok(gw), 5.0), "once they close, 127.0.0.1 is served again")
    ok("event=too_many_connections" in gw.log(), "the refusal has a log line")
    stop_and_check(gw)


# ---- out of file descriptors ----
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft < 600:
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    except (ValueError, OSError):
        pass
with Gateway(conf_extra="[server]\nrequest_timeout = 60s\nmax_connections_per_ip = 0\n") as gw:
    resource.prlimit(gw.proc.pid, resource.RLIMIT_NOFILE, (64, 64))
    held = []
    for i in range(300):
        try:
            held.append(connect(gw, source="127.0.0.%d" % (2 + i % 50), timeout=2.0))
        except OSError:
            break
    diag("%d idle connections opened against a limit of 64 descriptors" % len(held))
    t0 = time.monotonic()
    ok(wait_until(lambda: healthz_ok(gw), 10.0), "/healthz answers while idle connections exceed the fd limit")
    elapsed = time.monotonic() - t0
    ok(elapsed < 10.0, "within %.1f s (request_timeout is 60 s)" % elapsed)
    time.sleep(2.5)  # the log's rate is what is measured: let it run
    log = gw.log()
    flood = log.count("Error from accept() call")
    is_(flood, 0, "libevent's own accept error is never logged")
    lines = [l for l in log.splitlines() if "event=accept_failed" in l]
    ok(1 <= len(lines) <= 2 + int(time.monotonic() - t0) + 1,
       "accept failures logged at most once a second (%d lines)" % len(lines))
    ok(any("count=" in l for l in lines), "with a count (%s)" % (lines[:1],))
    for h in held[:20]:  # room for a scrape
        h.close()
    del held[:20]
    scraped = {}

    def accept_errors():
        try:
            st, _, body = gw.request("GET", "/metrics", timeout=2.0)
        except OSError:
            return None
        for line in body.decode().splitlines():
            if line.startswith("talaash_http_accept_errors_total "):
                scraped["n"] = float(line.split()[1])
                return True
        return None
    ok(wait_until(accept_errors, 10.0) and scraped["n"] >= 1,
       "/metrics counts the failed accepts (%r)" % scraped.get("n"))
    ok(gw.proc.poll() is None, "the daemon is still running")
    stop_and_check(gw)
    for h in held:
        h.close()

done_testing()
