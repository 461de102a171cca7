#!/usr/bin/env python3
"""01-daemon.t — the daemon as a whole (issue #2): start, health, limits,
routing errors, config errors, signals, and a store that survives kill -9."""

import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from tap import ok, is_, diag, done_testing  # noqa: E402
from talaash import Gateway, binary, wait_until  # noqa: E402
import json  # noqa: E402


def run(args, **kw):
    p = subprocess.run([binary()] + args, capture_output=True, text=True, timeout=30, **kw)
    return p.returncode, p.stdout, p.stderr


# ---- health, routing, limits ----
with Gateway(conf_extra="[server]\n") as gw:
    pass  # (a [server] section twice is fine for libinih; only checks it starts)

with Gateway() as gw:
    status, headers, body = gw.request("GET", "/healthz")
    is_(status, 200, "GET /healthz answers 200")
    is_(json.loads(body), {"status": "ok", "db": "ok"}, "/healthz body says status ok, db ok")
    is_(headers.get("content-type"), "application/json", "/healthz is JSON")

    status, _, body = gw.request("GET", "/no/such/route")
    is_(status, 404, "unknown route is 404")
    is_(json.loads(body), {"error": "not found"}, "404 body names the error")

    status, headers, _ = gw.request("POST", "/healthz", body="x")
    is_(status, 405, "POST /healthz is 405")
    is_(headers.get("allow"), "GET, HEAD", "405 carries Allow: GET, HEAD")

    status, headers, _ = gw.request("GET", "/ussd/console")
    is_(status, 405, "GET on a POST-only callback route is 405")
    is_(headers.get("allow"), "POST", "405 carries Allow: POST")

    status, _, body = gw.request("POST", "/sms/nosuchchannel", body="from=1&text=x",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    is_(status, 404, "callback for an unknown channel is 404")
    is_(json.loads(body), {"error": "unknown channel"}, "404 says unknown channel")
    ok("event=unknown_channel" in gw.log(), "unknown channel is logged")

    big = "text=" + "a" * (70 * 1024)
    status, _, _ = gw.request("POST", "/sms/console", body=big,
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
    is_(status, 413, "a body over max_body (64k) is 413")

    status, _, _ = gw.request("GET", "/healthz?" + "q" * 5000)
    is_(status, 414, "a URI over max_uri (4k) is 414")

    resp = gw.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"h" * 20000 + b"\r\n\r\n")
    ok(resp == b"" or resp.startswith(b"HTTP/1.1 4"), "a header block over max_headers is refused (4xx or closed)")
    diag("oversized headers answer: %r" % resp[:40])

    resp = gw.raw(b"BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    ok(resp == b"" or resp.startswith(b"HTTP/1.1 4") or resp.startswith(b"HTTP/1.1 5"),
       "a garbage method is refused without a crash")
    status, _, _ = gw.request("GET", "/healthz")
    is_(status, 200, "still healthy after bad requests")

    code, took = gw.stop(signal.SIGTERM)
    is_(code, 0, "SIGTERM: exit status 0")
    ok(took < 5.0, "SIGTERM: exited within 5 s (%.2f s)" % took)
    ok("event=stopped" in gw.log(), "the log says stopped")
    is_(gw.sanitizer_report(), None, "no sanitizer report in the daemon's log")
    db = sqlite3.connect(gw.db_path)
    is_(db.execute("PRAGMA integrity_check").fetchone()[0], "ok", "store intact after SIGTERM")
    latest = int(run(["version"])[1].split("store schema ")[1].split(";")[0])
    ok(latest >= 3, "talaash version names the store schema it writes (%d)" % latest)
    is_(db.execute("PRAGMA user_version").fetchone()[0], latest, "store schema version is the latest")
    is_(db.execute("PRAGMA journal_mode").fetchone()[0], "wal", "store is in WAL mode")
    db.close()

# ---- SIGINT too, and SIGHUP reopens the log file ----
with Gateway() as gw:
    logfile = os.path.join(gw.dir, "file.log")
    gw.stop()
    with open(gw.conf_path, "a") as f:
        pass
    text = open(gw.conf_path).read().replace("[log]\nlevel = debug\n",
                                             "[log]\nlevel = info\nfile = %s\n" % logfile)
    open(gw.conf_path, "w").write(text)
    gw.restart()
    ok(wait_until(lambda: os.path.exists(logfile) and "event=started" in open(logfile).read(), 5),
       "[log] file receives the log")
    os.rename(logfile, logfile + ".1")
    gw.proc.send_signal(signal.SIGHUP)
    ok(wait_until(lambda: os.path.exists(logfile) and "event=log_reopened" in open(logfile).read(), 5),
       "SIGHUP reopens the log file after rotation")
    code, took = gw.stop(signal.SIGINT)
    is_(code, 0, "SIGINT: exit status 0")

# ---- configuration errors: file:line: reason, exit 2 ----
tmp = Gateway()
def bad_config(text, expect, name):
    path = os.path.join(tmp.dir, "bad.conf")
    with open(path, "w") as f:
        f.write(text)
    code, out, err = run(["check-config", path])
    is_(code, 2, "check-config exits 2: " + name)
    is_(err.strip(), expect.replace("FILE", path), "message: " + name)
    code, out, err2 = run(["serve", "-c", path])
    is_(code, 2, "serve exits 2: " + name)

bad_config("[server]\nlisten = 127.0.0.1:8080\nnosuch = 1\n",
           "FILE:3: unknown key 'nosuch' in [server]", "unknown key")
bad_config("[server]\n[nosuch]\nx = 1\n", "FILE:2: unknown section [nosuch]", "unknown section")
bad_config("[server]\nmax_body = lots\n", "FILE:2: max_body: 'lots' is not a size (like 64k)",
           "bad size")
bad_config("[server]\nmax_body = 100m\n",
           "FILE:2: max_body: 100m is out of range [1024, 1.67772e+07]", "size out of range")
bad_config("[log]\nlevel = loud\n", "FILE:2: level: 'loud' is not one of debug|info|warn|error",
           "bad enum")
bad_config("\n[channel at]\nusername = x\n", "FILE:2: channel 'at': provider is required",
           "channel without provider")
bad_config("[channel At!]\nprovider = console\n",
           "FILE:1: channel name 'At!' must be 1-32 of a-z 0-9 _ -", "bad channel name")
bad_config("[channel a]\nprovider = console\n[channel a]\nprovider = console\n",
           "FILE:3: channel 'a' is defined twice", "duplicate channel")
bad_config("[channel a]\nprovider = console\napi_key = ${TALAASH_TEST_UNSET_VAR}\n",
           "FILE:3: api_key: environment variable TALAASH_TEST_UNSET_VAR is not set",
           "unset ${ENV}")
bad_config("[alerts]\nchannel = nosuch\n",
           "FILE: [alerts] channel 'nosuch' is not a configured channel", "alerts channel unknown")
bad_config("[channel a]\nprovider = console\nallow_ips = 10.0.0.0/8, nonsense\n",
           "FILE:1: channel 'a': allow_ips: 'nonsense' is not an IP address or CIDR",
           "bad allow_ips")
bad_config("[server]\nthis is not ini\n",
           "FILE:2: syntax error (expected 'key = value' or '[section]')", "syntax error")

code, out, err = run(["check-config", os.path.join(tmp.dir, "missing.conf")])
is_(code, 2, "check-config of a missing file exits 2")
ok("No such file or directory" in err, "and says why")

path = os.path.join(tmp.dir, "env.conf")
with open(path, "w") as f:
    f.write("[channel a]\nprovider = console\napi_key = ${TALAASH_TEST_SECRET}\n")
code, out, err = run(["check-config", path], env=dict(os.environ, TALAASH_TEST_SECRET="s3cr3t"))
is_(code, 0, "a set ${ENV} value is accepted")
ok("s3cr3t" not in out + err, "check-config never prints the secret")

code, out, err = run(["check-config", os.path.join(os.path.dirname(__file__), "..", "..",
                                                   "gateway.conf.example")])
is_(code, 0, "gateway.conf.example is valid")

# ---- a store newer than the binary is refused ----
with Gateway() as gw:
    gw.stop()
    db = sqlite3.connect(gw.db_path)
    db.execute("PRAGMA user_version = 99")
    db.commit()
    db.close()
    p = subprocess.run([binary(), "serve", "-c", gw.conf_path], capture_output=True, text=True,
                       timeout=10)
    is_(p.returncode, 1, "a store of schema 99 is refused (exit 1)")
    ok("newer than this binary" in p.stderr, "with a clear message")

# ---- kill -9 during writes leaves a store that opens and passes integrity_check ----
with Gateway() as gw:
    acked = []
    stop = threading.Event()

    def writer(k):
        i = 0
        while not stop.is_set():
            i += 1
            try:
                status, _, _ = gw.post_form("/sms/console", {
                    "from": "+9230012%05d" % (k * 1000 + i % 1000), "text": "HELP %d-%d" % (k, i),
                    "id": "w%d-%d" % (k, i)})
                if status == 200:
                    acked.append("w%d-%d" % (k, i))
            except OSError:
                return

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    wait_until(lambda: len(acked) >= 200, 20)
    gw.kill9()
    stop.set()
    for t in threads:
        t.join()
    ok(len(acked) >= 200, "writes were acknowledged before the kill (%d)" % len(acked))
    db = sqlite3.connect(gw.db_path)
    is_(db.execute("PRAGMA integrity_check").fetchone()[0], "ok", "store passes integrity_check after kill -9")
    stored = {r[0] for r in db.execute("SELECT provider_id FROM inbound")}
    db.close()
    missing = [a for a in acked if a not in stored]
    is_(missing, [], "every acknowledged message is in the store")
    gw.restart()
    status, _, _ = gw.request("GET", "/healthz")
    is_(status, 200, "the gateway restarts on that store")
    code, _ = gw.stop()
    is_(code, 0, "and stops cleanly")
    is_(gw.sanitizer_report(), None, "no sanitizer report")

tmp.close()
sys.exit(done_testing())
