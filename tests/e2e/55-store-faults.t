#!/usr/bin/env python3
"""55-store-faults.t — the store fails under the running daemon (issue #15):

  locked   another process holds the write lock (BEGIN IMMEDIATE) past
           [store] busy_timeout, while replies are in flight at the mock
  full     the filesystem of the store fills up (a 24 MB ext4 loop mount)
  readonly the database and its WAL become immutable (chattr +i; ext4 refuses
           writes through open files, which chmod does not: an open file
           stays writable for the process that holds it)

For each: callbacks get 503 (the aggregator retries), nothing is answered
2xx that is not in the store afterwards, the daemon logs exactly one line
when the store becomes unwritable and one when it is writable again,
/healthz is 503 with the reason meanwhile, and with the fault gone the
daemon recovers by itself (no restart): /healthz 200, the next callbacks
200 and stored, the replies' results kept during the fault stored, every
reply sent exactly once. Needs root (mount, losetup, chattr); else skipped."""

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from tap import ok, is_, diag, done_testing, skip_all  # noqa: E402
from talaash import Gateway, stop_and_check, wait_until  # noqa: E402
from mockagg import MockAggregator  # noqa: E402

FORM = {"Content-Type": "application/x-www-form-urlencoded"}

if os.geteuid() != 0:
    skip_all("needs root to mount a small filesystem for the store")
for tool in ("mkfs.ext4", "mount", "umount", "chattr"):
    if shutil.which(tool) is None:
        skip_all("%s is not installed" % tool)

work = tempfile.mkdtemp(prefix="talaash-faults-")
image = os.path.join(work, "fs.img")
mnt = os.path.join(work, "mnt")
os.mkdir(mnt)
with open(image, "wb") as f:
    f.truncate(24 * 1024 * 1024)
r = subprocess.run(["mkfs.ext4", "-q", "-F", "-m", "0", image], capture_output=True, text=True)
if r.returncode != 0:
    shutil.rmtree(work, ignore_errors=True)
    skip_all("mkfs.ext4 failed: %s" % r.stderr.strip())
r = subprocess.run(["mount", "-o", "loop", image, mnt], capture_output=True, text=True)
if r.returncode != 0:
    shutil.rmtree(work, ignore_errors=True)
    skip_all("cannot loop-mount a filesystem here: %s" % r.stderr.strip())

mock = MockAggregator().start()
channels = """
[channel at]
provider = africastalking
base_url = %s
username = u
api_key = k
sender = 21512
rate = 1000
""" % mock.url
# The store lives on the small filesystem; its [store] section (written by Gateway) also gets
# busy_timeout = 1000: the first write under a held lock waits that long, the next ones
# (the store known unwritable) at most 100 ms.
gw = Gateway(channels=channels)
gw.db_path = os.path.join(mnt, "talaash.db")
_write = gw.write_config


def write_config():
    _write()
    with open(gw.conf_path) as f:
        text = f.read()
    text = text.replace("[store]\n", "[store]\nbusy_timeout = 1000\n", 1)
    with open(gw.conf_path, "w") as f:
        f.write(text)


gw.write_config = write_config
accepted = []    # provider ids answered 2xx
refused = []     # provider ids answered 503, for the "aggregator" to retry
other = []


def sms(text, phone="+923001234567", pid=None):
    pid = pid or str(uuid.uuid4())
    body = urllib.parse.urlencode({"from": phone, "to": "21512", "text": text, "id": pid,
                                   "date": "2026-11-23 10:00:00"})
    status, _, _ = gw.request("POST", "/sms/at", body, FORM, timeout=15)
    (accepted if 200 <= status < 300 else refused if status == 503 else other).append(pid)
    return status


def health():
    status, _, body = gw.request("GET", "/healthz")
    return status, body.decode()


def log_count(what):
    return gw.log().count(what)


def stored_ids():
    return set(x[0] for x in gw.sql("SELECT provider_id FROM inbound WHERE channel = 'at'"))


def retry_refused():
    """The aggregator retries what got 503; every retry must now be 200."""
    again = list(refused)
    refused.clear()
    return [sms("HELP", pid=p) for p in again]


def replies_settled():
    return gw.sql("SELECT count(*) FROM outbox WHERE state IN ('queued', 'sending')")[0][0] == 0


def recovered(name, before_unwritable, before_writable):
    ok(wait_until(lambda: health()[0] == 200, 10), "%s: /healthz is 200 again by itself" % name)
    is_(log_count("event=unwritable"), before_unwritable + 1,
        "%s: one 'unwritable' line for the whole fault" % name)
    ok(wait_until(lambda: log_count("event=writable_again") == before_writable + 1, 5),
       "%s: one 'writable_again' line" % name)
    statuses = retry_refused()
    is_(statuses, [200] * len(statuses),
        "%s: the %d callbacks refused meanwhile are 200 when retried" % (name, len(statuses)))
    is_(sms("HELP"), 200, "%s: a new callback is 200" % name)
    missing = set(accepted) - stored_ids()
    is_(sorted(missing), [], "%s: every callback answered 2xx is in the store" % name)
    ok(wait_until(replies_settled, 15), "%s: every reply queued is sent" % name)


try:
    gw.start()
    for i in range(5):
        sms("HELP")
    is_(len(accepted), 5, "5 callbacks before any fault are 200")
    ok(wait_until(replies_settled, 10), "their replies are sent")

    # ---- locked: another process holds the write lock ----
    mock.behaviour([{"path_prefix": "/version1/messaging", "delay_ms": 1500}])
    before = mock.stats()["recipients"]
    for i in range(4):
        sms("HELP", phone="+92300765432%d" % i)
    ok(wait_until(lambda: mock.stats()["recipients"] >= before + 4, 5),
       "4 replies in flight at the (slow) aggregator")
    locker = sqlite3.connect(gw.db_path, timeout=5, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")
    n_unw, n_wr = log_count("event=unwritable"), log_count("event=writable_again")
    t0 = time.monotonic()
    statuses = [sms("HELP")]
    t1 = time.monotonic()
    statuses += [sms("HELP") for _ in range(3)]
    t2 = time.monotonic()
    is_(statuses, [503] * 4, "locked: callbacks are 503 (the aggregator retries)")
    ok(t1 - t0 >= 0.9, "the first waited busy_timeout for the lock (%.2f s)" % (t1 - t0))
    # Each write on the loop (these 3, the 4 replies' results arriving) now waits at most 100 ms;
    # with the whole busy_timeout it would be 7 s.
    ok(t2 - t1 < 2.5, "the next 3, the store known unwritable, waited briefly (%.2f s)" % (t2 - t1))
    status, body = health()
    is_(status, 503, "locked: /healthz is 503")
    ok("locked" in body and '"reason"' in body, "with the reason: %s" % body.strip())
    time.sleep(2.0)  # the replies' answers come back while the lock is held
    is_(gw.sql("SELECT count(*) FROM outbox WHERE state = 'sending'")[0][0], 4,
        "locked: the 4 replies answered meanwhile are still 'sending' in the store")
    locker.execute("ROLLBACK")
    locker.close()
    mock.behaviour([])
    recovered("locked", n_unw, n_wr)
    to = [n for r in mock.requests() if r["path"] == "/version1/messaging"
          for n in r["form"]["to"].split(",")]
    is_([to.count("+92300765432%d" % i) for i in range(4)], [1] * 4,
        "locked: the 4 replies in flight went once each (their results were kept, not lost)")
    ok(log_count("event=results_stored_late messages=4") == 1, "and were stored late, once")
    is_(gw.sql("SELECT count(*) FROM outbox WHERE state = 'sent'")[0][0],
        gw.sql("SELECT count(*) FROM outbox")[0][0], "every reply is 'sent'")

    # ---- full: the filesystem fills up ----
    n_unw, n_wr = log_count("event=unwritable"), log_count("event=writable_again")
    filler = os.path.join(mnt, "filler")
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * (1 << 20))
                f.flush()
                os.fsync(f.fileno())
        except OSError:
            pass
        try:
            while True:
                f.write(b"\0" * 4096)
                f.flush()
        except OSError:
            pass
    long_text = "SEEN 123456 " + "near the bridge by the market " * 30
    first_503 = None
    for i in range(3000):
        if sms(long_text[:900], phone="+9230011%05d" % (i % 90000)) == 503:
            first_503 = i
            break
    ok(first_503 is not None, "full: a callback is 503 once the disk is full (after %s)" % first_503)
    statuses = [sms("HELP") for _ in range(3)]
    is_(statuses, [503] * 3, "full: and the next ones too")
    status, body = health()
    is_(status, 503, "full: /healthz is 503")
    ok("full" in body, "with the reason: %s" % body.strip())
    unw_lines = log_count("event=unwritable")
    is_(unw_lines, n_unw + 1, "full: one line when the store became unwritable, not one per callback")
    os.unlink(filler)
    recovered("full", n_unw, n_wr)

    # ---- readonly: the database and its WAL become immutable ----
    n_unw, n_wr = log_count("event=unwritable"), log_count("event=writable_again")
    files = [gw.db_path, gw.db_path + "-wal"]
    subprocess.run(["chattr", "+i"] + files, check=True)
    try:
        statuses = [sms("HELP") for _ in range(3)]
        is_(statuses, [503] * 3, "readonly: callbacks are 503")
        status, body = health()
        is_(status, 503, "readonly: /healthz is 503")
        ok('"reason"' in body, "with the reason: %s" % body.strip())
    finally:
        subprocess.run(["chattr", "-i"] + files, check=True)
    recovered("readonly", n_unw, n_wr)

    is_(other, [], "no callback got anything but 200 or 503")
    db = sqlite3.connect("file:%s?mode=ro" % gw.db_path, uri=True)
    is_(db.execute("PRAGMA integrity_check").fetchall(), [("ok",)], "the store's integrity holds")
    db.close()
finally:
    stop_and_check(gw)
    if os.environ.get("TALAASH_TEST_KEEP"):
        diag("log: " + gw.log_path)
    gw.close()
    mock.stop()
    subprocess.run(["umount", mnt])
    shutil.rmtree(work, ignore_errors=True)

sys.exit(done_testing())
