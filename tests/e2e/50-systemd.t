#!/usr/bin/env python3
"""50-systemd.t — the daemon under systemd's eyes (issue #16), without systemd:
a fake NOTIFY_SOCKET (an AF_UNIX datagram socket, as systemd's) receives
READY=1 only once the listener answers and the store exists, WATCHDOG=1 at
half of WATCHDOG_USEC from the loop, RELOADING=1/READY=1 around SIGHUP and
STOPPING=1 on SIGTERM; and with JOURNAL_STREAM naming its standard error the
log is in the journal's form (<N>level subsystem …, no timestamp of ours)."""

import os
import re
import signal
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from tap import ok, is_, diag, done_testing  # noqa: E402
from talaash import Gateway, wait_until  # noqa: E402


class FakeNotify:
    """What systemd listens on: datagrams of KEY=VALUE lines, kept with their arrival time."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="tl-notify-")
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.setblocking(False)
        self.messages = []  # (monotonic time, {key: value})

    def drain(self):
        while True:
            try:
                data = self.sock.recv(4096)
            except BlockingIOError:
                return self.messages
            fields = dict(line.split("=", 1) for line in data.decode().split("\n") if "=" in line)
            self.messages.append((time.monotonic(), fields))

    def times(self, key, value="1"):
        return [t for t, f in self.drain() if f.get(key) == value]

    def close(self):
        self.sock.close()
        os.unlink(self.path)
        os.rmdir(self.dir)


# ---- READY=1 after the store is open and the listener bound; the watchdog ----
fake = FakeNotify()
# 1 s: systemd would kill a daemon silent that long; the pings come every 500 ms, and
# a loaded machine (the test suite runs two at a time) can be late by a few hundred ms
# without the daemon being at fault, so the test asks only what systemd asks.
gw = Gateway(env={"NOTIFY_SOCKET": fake.path, "WATCHDOG_USEC": "1000000"})
# Watch from the spawn: when READY=1 arrives, connect at once.
ready_checks = {}


def on_ready():
    if not fake.times("READY"):
        return False
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", gw.port))
        ready_checks["connect"] = True
    except OSError as e:
        ready_checks["connect"] = str(e)
    finally:
        s.close()
    ready_checks["store"] = os.path.exists(gw.db_path)
    return True


gw.start()
ok(wait_until(on_ready, 5), "READY=1 arrives on NOTIFY_SOCKET")
is_(ready_checks.get("connect"), True, "the listener accepts connections when READY=1 is sent")
is_(ready_checks.get("store"), True, "the store exists when READY=1 is sent")
first = [f for _, f in fake.drain() if "READY" in f][0]
is_(first.get("STATUS"), "serving on 127.0.0.1:%d" % gw.port, "READY=1 carries STATUS=serving on LISTEN")
is_(len(fake.times("READY")), 1, "READY=1 is sent once")

t0 = time.monotonic()
ok(wait_until(lambda: len([t for t in fake.times("WATCHDOG") if t >= t0]) >= 5, 6),
   "WATCHDOG=1 keeps coming (5 within 6 s at WATCHDOG_USEC=1 s)")
pings = [t for t in fake.times("WATCHDOG") if t >= t0]
gaps = [b - a for a, b in zip(pings, pings[1:])]
diag("watchdog gaps (s): %s" % " ".join("%.3f" % g for g in gaps))
ok(gaps and max(gaps) < 1.0, "no gap reaches WATCHDOG_USEC, 1 s (max %.3f s)"
   % (max(gaps) if gaps else -1))
ok(gaps and min(gaps) > 0.25, "and not a busy loop: every gap above 250 ms (min %.3f s)"
   % (min(gaps) if gaps else -1))
ok("event=watchdog interval_ms=500" in gw.log(), "the log says the watchdog interval (500 ms)")

# ---- SIGHUP: RELOADING=1, then READY=1 again ----
gw.proc.send_signal(signal.SIGHUP)
ok(wait_until(lambda: len(fake.times("READY")) == 2, 5), "after SIGHUP READY=1 comes again")
fields = [f for _, f in fake.drain()]
reload_at = next((i for i, f in enumerate(fields) if f.get("RELOADING") == "1"), None)
ready_at = [i for i, f in enumerate(fields) if f.get("READY") == "1"]
ok(reload_at is not None and ready_at[0] < reload_at < ready_at[1],
   "RELOADING=1 is sent between the two READY=1")
ok(reload_at is not None and re.fullmatch(r"\d+", fields[reload_at].get("MONOTONIC_USEC", "")),
   "RELOADING=1 carries MONOTONIC_USEC")

# ---- SIGTERM: STOPPING=1, then a clean exit ----
code, took = gw.stop(signal.SIGTERM)
is_(code, 0, "SIGTERM: exit 0")
is_(len(fake.times("STOPPING")), 1, "STOPPING=1 is sent once on SIGTERM")
gw.close()
fake.close()

# ---- no NOTIFY_SOCKET: nothing asked, nothing sent, no watchdog ----
gw = Gateway(env={"WATCHDOG_USEC": "200000"})
gw.env.pop("NOTIFY_SOCKET", None)
gw.start()
status, _, _ = gw.request("GET", "/healthz")
is_(status, 200, "without NOTIFY_SOCKET the daemon serves as before")
ok("event=watchdog" not in gw.log(), "and runs no watchdog timer")
gw.close()

# ---- the journal's log format when stderr is JOURNAL_STREAM ----
gw = Gateway()
# The daemon's stderr is gw.log_path (Gateway opens it in append mode): name it.
open(gw.log_path, "ab").close()
st = os.stat(gw.log_path)
gw.env["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino)
gw.conf_extra = "[log]\nfile = %s\n" % os.path.join(gw.dir, "unused.log")
gw.start()
gw.post_form("/sms/nosuchchannel", {"from": "03001234567", "text": "HELP"})
gw.stop()
lines = [l for l in gw.log().splitlines() if l]
ok(lines, "the daemon wrote its log to stderr")
bad = [l for l in lines if not re.match(r"<[3-7]>(debug|info|warn|error) [a-z]+ ", l)]
is_(bad, [], "every line starts <N>level subsystem (no timestamp)")
prio = {"debug": "7", "info": "6", "warn": "4", "error": "3"}
wrong = [l for l in lines if re.match(r"<(\d)>(\w+) ", l) and
         prio[re.match(r"<(\d)>(\w+) ", l).group(2)] != re.match(r"<(\d)>", l).group(1)]
is_(wrong, [], "the priority matches the level (error 3, warn 4, info 6, debug 7)")
ok(any(l.startswith("<6>info daemon event=started ") for l in lines), "<6>info daemon event=started")
ok(any(l.startswith("<4>warn callback event=unknown_channel ") for l in lines),
   "<4>warn callback event=unknown_channel")
ok(any("event=log_to_journal file_unused=" in l for l in lines),
   "a configured [log] file is not used under the journal, and the log says so")
ok(not os.path.exists(os.path.join(gw.dir, "unused.log")), "the [log] file was not created")
gw.close()

# A JOURNAL_STREAM that is not our stderr (inherited, then redirected): our own format.
with Gateway(env={"JOURNAL_STREAM": "1:1"}) as gw:
    first = gw.log().splitlines()[0] if gw.log() else ""
ok(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info ", first),
   "a JOURNAL_STREAM that is not stderr keeps the timestamped format (%r)" % first[:40])

sys.exit(done_testing())
