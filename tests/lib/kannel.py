"""kannel.py — a real Kannel (Debian's bearerbox + smsbox) with Kannel's fake
SMSC (kannel-extras' fakesmsc) on 127.0.0.1, for end-to-end tests.

    from kannel import Kannel, installed
    k = Kannel(workdir, style="get-url")       # picks free ports
    gw = Gateway(channels=... k.sendsms_url ...).start()
    k.start(gw.port)                             # config written into workdir
    k.mo("+923001110001", "JOIN Korangi")        # a handset sends an SMS
    k.mts()                                      # what the handsets received
    k.stop()

Kannel's fake SMSC takes one client at a time: each MO is sent by a new
fakesmsc process (-m 1), which then stays connected and receives the MTs
(logging "Got message N: <line>"), until the next MO replaces it. Every
fakesmsc log is kept, so mts() sees everything any of them received. The
processes are started with children.spawn, so none outlives the test.

The config is what docs/kannel.md tells a user to write (the test is the
source of that page): sms-service catch-all with max-messages = 0 and the
%I %p %P %c %b escapes (get-url) or send-sender (post-url), a sendsms-user
with max-messages and concatenation, and smsbox's http-request-retry and
http-queue-delay.
"""

import os
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request

from children import spawn
from talaash import free_port, wait_until

BEARERBOX = "/usr/sbin/bearerbox"
SMSBOX = "/usr/sbin/smsbox"
FAKESMSC = "/usr/lib/kannel/test/fakesmsc"

TOKEN = "kan-token"
USER, PASSWORD = "talaash", "kan-pw"
SHORT_USER = "oneparter"  # a sendsms-user as Kannel ships it: max-messages 1, no concatenation
SHORTCODE = "8558"


def installed():
    """The missing parts of Kannel, as a list of paths (empty when all are there)."""
    return [p for p in (BEARERBOX, SMSBOX, FAKESMSC) if not os.access(p, os.X_OK)]


def config_text(ports, gw_port, style, logdir):
    """The Kannel configuration (kannel.conf) of the test: docs/kannel.md shows it."""
    base = "http://127.0.0.1:%d/sms/kan?token=%s" % (gw_port, TOKEN)
    if style == "get-url":
        service = 'get-url = "%s&id=%%I&sender=%%p&receiver=%%P&coding=%%c&text=%%b"' % base
    else:
        service = 'post-url = "%s&id=%%I"\nsend-sender = true' % base
    return """\
group = core
admin-port = %(admin)d
admin-interface = 127.0.0.1
admin-password = adm-pw
admin-allow-ip = 127.0.0.1
smsbox-port = %(box)d
box-allow-ip = 127.0.0.1
box-deny-ip = "*.*.*.*"
dlr-storage = internal
log-file = "%(dir)s/bearerbox.log"
log-level = 0
access-log = "%(dir)s/access.log"

group = smsc
smsc = fake
smsc-id = fake
port = %(smsc)d
our-host = 127.0.0.1
connect-allow-ip = 127.0.0.1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = %(box)d
sendsms-port = %(sendsms)d
sendsms-interface = 127.0.0.1
log-file = "%(dir)s/smsbox.log"
log-level = 0
http-request-retry = 10
http-queue-delay = 2

group = sendsms-user
username = %(user)s
password = %(password)s
max-messages = 3
concatenation = true
user-allow-ip = 127.0.0.1
user-deny-ip = "*.*.*.*"

group = sendsms-user
username = %(short)s
password = %(password)s
user-allow-ip = 127.0.0.1
user-deny-ip = "*.*.*.*"

group = sms-service
keyword = default
catch-all = true
max-messages = 0
%(service)s
""" % {"admin": ports["admin"], "box": ports["box"], "smsc": ports["smsc"],
       "sendsms": ports["sendsms"], "dir": logdir, "user": USER, "password": PASSWORD,
       "short": SHORT_USER, "service": service}


class Kannel:
    def __init__(self, workdir, style="get-url"):
        self.dir = workdir
        self.style = style
        self.ports = {}
        used = set()
        for name in ("admin", "box", "smsc", "sendsms"):
            port = free_port()
            while port in used:
                port = free_port()
            used.add(port)
            self.ports[name] = port
        self.sendsms_url = "http://127.0.0.1:%d" % self.ports["sendsms"]
        self.conf = os.path.join(workdir, "kannel-%s.conf" % style)
        self.bearerbox = self.smsbox = self.fake = None
        self.fake_logs = []

    def start(self, gw_port, timeout=15.0):
        with open(self.conf, "w") as f:
            f.write(config_text(self.ports, gw_port, self.style, self.dir))
        out = open(os.path.join(self.dir, "bearerbox.out"), "ab")
        self.bearerbox = spawn([BEARERBOX, self.conf], stdout=out, stderr=out)
        out.close()
        if not wait_until(lambda: "SMSC connections" in self.status(), timeout):
            raise RuntimeError("bearerbox did not start:\n" + self.logs())
        out = open(os.path.join(self.dir, "smsbox.out"), "ab")
        self.smsbox = spawn([SMSBOX, self.conf], stdout=out, stderr=out)
        out.close()
        if not wait_until(lambda: "smsbox:" in self.status() and self._port_open("sendsms"),
                          timeout):
            raise RuntimeError("smsbox did not connect:\n" + self.logs())
        return self

    def _port_open(self, name):
        try:
            socket.create_connection(("127.0.0.1", self.ports[name]), timeout=0.5).close()
            return True
        except OSError:
            return False

    def status(self):
        url = "http://127.0.0.1:%d/status.txt?password=adm-pw" % self.ports["admin"]
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                return r.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def smsbox_log(self):
        return self._read(os.path.join(self.dir, "smsbox.log"))

    def logs(self):
        text = ""
        for name in ("bearerbox.out", "smsbox.out", "bearerbox.log", "smsbox.log"):
            try:
                with open(os.path.join(self.dir, name), "rb") as f:
                    text += "== %s\n%s\n" % (name, f.read().decode("utf-8", "replace")[-3000:])
            except FileNotFoundError:
                pass
        return text

    # ---- the handsets: Kannel's fake SMSC ----

    def _stop_fake(self):
        if self.fake is not None and self.fake.poll() is None:
            self.fake.send_signal(signal.SIGINT)
            try:
                self.fake.wait(5)
            except subprocess.TimeoutExpired:
                self.fake.kill()
                self.fake.wait()
        self.fake = None

    def mo(self, sender, text, timeout=10.0):
        """A handset sends text to our short code: GSM text as 'text', anything else as 'ucs2'."""
        if all(32 <= ord(c) < 127 for c in text):
            line = "%s %s text %s" % (sender, SHORTCODE, text)
        else:
            line = "%s %s ucs2 %s" % (sender, SHORTCODE,
                                      urllib.parse.quote(text.encode("utf-16-be"), safe=""))
        self._stop_fake()
        deadline = time.monotonic() + timeout
        while True:
            log = os.path.join(self.dir, "fakesmsc-%d.log" % (len(self.fake_logs) + 1))
            out = open(log, "ab")
            self.fake = spawn([FAKESMSC, "-H", "127.0.0.1", "-r", str(self.ports["smsc"]),
                               "-i", "0", "-m", "1", line], stdout=out, stderr=out)
            out.close()
            self.fake_logs.append(log)
            sent = wait_until(lambda: self.fake.poll() is not None or
                              "sent message 1" in self._read(log), 5)
            if sent and self.fake.poll() is None:
                return
            self.fake.wait()
            if time.monotonic() > deadline:
                raise RuntimeError("fakesmsc could not send:\n" + self._read(log))
            time.sleep(0.2)  # the fake SMSC is between two clients; poll again

    @staticmethod
    def _read(path):
        try:
            with open(path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def raw_mts(self):
        """Every line the handsets received, in order: (sender, receiver, type, rest)."""
        out = []
        for log in self.fake_logs:
            for line in self._read(log).splitlines():
                at = line.find("Got message ")
                if at < 0:
                    continue
                body = line[line.index("<", at) + 1:line.rindex(">")]
                sender, receiver, kind, rest = body.split(" ", 3)
                out.append((sender, receiver, kind, rest))
        return out

    def mts(self):
        """The messages the handsets received, concatenated parts joined:
        a list of (receiver, payload bytes, coding guess, parts) in arrival order.
        coding is 'ucs2' for 'ucs-2' lines, 'text'/'data' as the fake SMSC
        wrote them, 'udh' for joined parts (their bytes are raw)."""
        done, partial = [], {}
        for sender, receiver, kind, rest in self.raw_mts():
            if kind == "udh":
                udh_enc, kind2, data = rest.split(" ", 2)
                udh = urllib.parse.unquote_to_bytes(udh_enc)
                payload = _decode(kind2, data)
                # 05 00 03 ref total seq
                ref, total, seq = udh[3], udh[4], udh[5]
                key = (receiver, ref)
                partial.setdefault(key, {})[seq] = payload
                if len(partial[key]) == total:
                    parts = partial.pop(key)
                    done.append((receiver, b"".join(parts[i] for i in sorted(parts)), "udh",
                                 total))
            else:
                done.append((receiver, _decode(kind, rest), "ucs2" if kind == "ucs-2" else kind, 1))
        return done

    def stop(self):
        self._stop_fake()
        for proc in (self.smsbox, self.bearerbox):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def _decode(kind, data):
    if kind == "text":
        return data.encode("utf-8")
    return urllib.parse.unquote_to_bytes(data.replace("+", " "))


def matches(payload, text):
    """True when the bytes a handset got are text, in UCS-2 or as GSM text."""
    return payload == text.encode("utf-16-be") or payload == text.encode("utf-8")


def decode(payload, coding):
    """The received bytes as text, for diagnostics."""
    if coding == "ucs2" or (coding == "udh" and len(payload) % 2 == 0 and payload[:1] in
                            (b"\x00", b"\x06")):
        try:
            return payload.decode("utf-16-be")
        except UnicodeDecodeError:
            pass
    return payload.decode("utf-8", "replace")

