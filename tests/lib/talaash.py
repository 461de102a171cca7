"""talaash.py — starts the real daemon for end-to-end tests and talks HTTP to it.

    from talaash import Gateway
    with Gateway(conf_extra=..., channels=...) as gw:   # started, /healthz answered
        status, headers, body = gw.post_form("/sms/console", {"from": "0300…", "text": "HELP"})
        rows = gw.sql("SELECT state FROM outbox")
    # leaving the block sends SIGTERM and checks the exit

Each Gateway gets its own temporary directory (config, store, log) and a free
port on 127.0.0.1. With TALAASH_TEST_STORE=postgresql (`make test-pg`, inside
the throw-away cluster of pg_virtualenv) its store is a fresh PostgreSQL
database of its own instead (Gateway(store_url=...) shares one between two
daemons), and sql() runs the same queries there (sqlite's ? placeholders
become psycopg2's %s). Waiting is always a poll with a deadline, never a bare sleep.
The daemon's stderr (its log) is kept in the directory; after the daemon
stops, sanitizer_report() returns any ASan/UBSan report found in it.
"""

import http.client
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
import urllib.parse

from children import spawn

BUILD = os.environ.get("TALAASH_BUILD", "build")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def binary(name="talaash"):
    path = os.path.join(ROOT, BUILD, name)
    if not os.path.exists(path):
        raise RuntimeError("%s not built (make %s)" % (path, os.path.join(BUILD, name)))
    return path


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_until(predicate, timeout=10.0, interval=0.02):
    """Polls predicate until it returns a true value or the deadline passes; returns the value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def write_clock(path, seconds):
    """Sets the test clock (the TALAASH_TEST_CLOCK_FILE offset, in seconds) in one step.

    Written to a temporary file and renamed over the clock file: the daemon
    re-reads the file at any moment, and open(path, "w") truncates before it
    writes, so a read in between would see an empty file, i.e. offset 0, a
    jump back to real time for up to 100 ms."""
    tmp = "%s.tmp-%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write("%d" % seconds)
    os.replace(tmp, path)


CONSOLE_CHANNEL = """
[channel console]
provider = console
rate = 1000
"""

STORY_CHANNELS = """
[alerts]
channel = alerts
verification = police
radius_km = 5

[channel at]
provider = africastalking
base_url = %(M)s
username = u
api_key = k
sender = 21512
rate = 1000

[channel alerts]
provider = africastalking
base_url = %(M)s
username = u
api_key = k
sender = TALAASH
rate = %(R)s
"""


def story_channels(mock_url, rate, batch_size=None, concurrency=None):
    """Two Africa's Talking accounts at the mock: replies from 21512 on `at`, alerts from
    TALAASH on `alerts` at `rate` per second (police verify, 5 km first wave, the
    default escalation) — the setup of the story, crash and neighbourhood tests."""
    text = STORY_CHANNELS % {"M": mock_url, "R": rate}
    if batch_size is not None:
        text += "batch_size = %d\n" % batch_size
    if concurrency is not None:
        text += "concurrency = %d\n" % concurrency
    return text


PG = os.environ.get("TALAASH_TEST_STORE") == "postgresql"
_pg_databases = 0


def pg_new_database():
    """A fresh database in the test run's PostgreSQL cluster (PG* from pg_virtualenv); its URL."""
    global _pg_databases
    import psycopg2
    _pg_databases += 1
    name = "talaash_%d_%d" % (os.getpid(), _pg_databases)
    c = psycopg2.connect(dbname="postgres")
    c.autocommit = True
    c.cursor().execute("CREATE DATABASE " + name)
    c.close()
    return "postgresql:///" + name


def pg_sql(url, query, args=()):
    """gw.sql() on PostgreSQL: the same query, ? placeholders as %s, rows as tuples."""
    import psycopg2
    c = psycopg2.connect(dbname=url.rsplit("/", 1)[1])
    try:
        c.autocommit = True
        cur = c.cursor()
        cur.execute(query.replace("%", "%%").replace("?", "%s"), tuple(args))
        return [tuple(r) for r in cur.fetchall()] if cur.description else []
    finally:
        c.close()


def at_channel(name, url, sender, rate, batch_size=None, concurrency=None):
    """A [channel NAME] section: an Africa's Talking account (username u, key k) at the mock
    `url`, sending as `sender` at `rate` per second — the alert accounts of
    32-alert-channels and bench-broadcast."""
    text = ("\n[channel %s]\nprovider = africastalking\nbase_url = %s\nusername = u\n"
            "api_key = k\nsender = %s\nrate = %s\n" % (name, url, sender, rate))
    if batch_size is not None:
        text += "batch_size = %d\n" % batch_size
    if concurrency is not None:
        text += "concurrency = %d\n" % concurrency
    return text


class Gateway:
    def __init__(self, conf_extra="", channels=CONSOLE_CHANNEL, env=None, keep=False,
                 store_url=None, log_level="debug"):
        self.log_level = log_level
        self.dir = tempfile.mkdtemp(prefix="talaash-test-")
        self.store_url = store_url or (pg_new_database() if PG else None)
        self.port = None
        self.proc = None
        self.conf_extra = conf_extra
        self.channels = channels
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.keep = keep or bool(os.environ.get("TALAASH_TEST_KEEP"))
        self.db_path = os.path.join(self.dir, "talaash.db")
        self.log_path = os.path.join(self.dir, "daemon.log")
        self.conf_path = os.path.join(self.dir, "gateway.conf")
        self.returncode = None

    # ---- lifecycle ----

    def write_config(self):
        sections = {}
        text = "[server]\nlisten = 127.0.0.1:%d\n" % self.port
        if self.store_url:
            text += "\n[store]\nbackend = postgresql\nurl = %s\n" % self.store_url
        else:
            text += "\n[store]\npath = %s\n" % self.db_path
        text += "\n[log]\nlevel = %s\n" % self.log_level
        text += "\n" + self.conf_extra + "\n" + self.channels + "\n"
        with open(self.conf_path, "w") as f:
            f.write(text)
        return sections

    def start(self, timeout=15.0):
        for _ in range(5):
            self.port = free_port()
            self.write_config()
            log = open(self.log_path, "ab")
            self.proc = spawn(
                [binary(), "serve", "-c", self.conf_path],
                stdout=log, stderr=log, env=self.env, cwd=self.dir)
            log.close()
            if wait_until(self._healthy_or_dead, timeout) and self.proc.poll() is None:
                return self
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            if "cannot listen" not in self.log():
                break
        raise RuntimeError("gateway did not start; log:\n" + self.log()[-4000:])

    def restart(self, timeout=15.0):
        """Starts again on the same store and port (after stop() or kill9())."""
        log = open(self.log_path, "ab")
        self.proc = spawn([binary(), "serve", "-c", self.conf_path],
                          stdout=log, stderr=log, env=self.env, cwd=self.dir)
        log.close()
        if not wait_until(self._healthy_or_dead, timeout) or self.proc.poll() is not None:
            raise RuntimeError("gateway did not restart; log:\n" + self.log()[-4000:])
        return self

    def _healthy_or_dead(self):
        if self.proc.poll() is not None:
            return True
        try:
            status, _, _ = self.request("GET", "/healthz", timeout=1.0)
            return status == 200
        except OSError:
            return False

    def stop(self, sig=signal.SIGTERM, timeout=5.0):
        """Signals the daemon and waits; returns (exit code, seconds taken)."""
        if self.proc is None or self.proc.poll() is not None:
            return (self.proc.returncode if self.proc else None, 0.0)
        started = time.monotonic()
        self.proc.send_signal(sig)
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.returncode = self.proc.wait()
            return (None, time.monotonic() - started)
        return (self.returncode, time.monotonic() - started)

    def kill9(self):
        self.proc.kill()
        self.returncode = self.proc.wait()

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            self.stop()
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
        return False

    # ---- HTTP ----

    def request(self, method, path, body=None, headers=None, timeout=10.0):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            if isinstance(body, str):
                body = body.encode()
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()

    def post_form(self, path, fields, headers=None):
        body = urllib.parse.urlencode(fields)
        h = {"Content-Type": "application/x-www-form-urlencoded"}
        h.update(headers or {})
        return self.request("POST", path, body, h)

    def raw(self, data, timeout=5.0):
        """Sends raw bytes on a new connection; returns everything read until close."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        try:
            s.sendall(data)
            chunks = []
            while True:
                try:
                    b = s.recv(65536)
                except socket.timeout:
                    break
                if not b:
                    break
                chunks.append(b)
            return b"".join(chunks)
        finally:
            s.close()

    # ---- state ----

    def sql(self, query, args=()):
        """Runs a read query on the store (a separate connection; WAL lets it read)."""
        if self.store_url:
            return pg_sql(self.store_url, query, args)
        db = sqlite3.connect("file:%s?mode=ro" % self.db_path, uri=True, timeout=5)
        try:
            return db.execute(query, args).fetchall()
        finally:
            db.close()

    def write(self, query, args=()):
        """Runs a write on the store and commits it (a test's fixture beside the daemon)."""
        if self.store_url:
            pg_sql(self.store_url, query, args)
            return
        db = sqlite3.connect(self.db_path, timeout=5)
        try:
            db.execute(query, args)
            db.commit()
        finally:
            db.close()

    def populate(self, code, phones):
        """Subscribers of area `code` (new numbers), set-based, in one transaction on the running
        daemon's store (either backend): thousands of JOINs by SMS would prove nothing more."""
        now = int(time.time())
        if self.store_url:
            import psycopg2
            c = psycopg2.connect(dbname=self.store_url.rsplit("/", 1)[1])
            try:
                c.cursor().execute(
                    "WITH s AS (INSERT INTO subscribers (phone, created_at, updated_at)"
                    " SELECT p, %s, %s FROM unnest(%s::text[]) AS p RETURNING id, phone)"
                    " INSERT INTO subscriptions (subscriber_id, area_code, phone, created_at)"
                    " SELECT id, %s, phone, %s FROM s", (now, now, list(phones), code, now))
                c.commit()
            finally:
                c.close()
            return
        db = sqlite3.connect(self.db_path, isolation_level=None, timeout=30)
        try:
            db.execute("BEGIN IMMEDIATE")
            first = db.execute("SELECT coalesce(max(id), 0) FROM subscribers").fetchone()[0]
            db.executemany("INSERT INTO subscribers (phone, created_at, updated_at)"
                           " VALUES (?, ?, ?)", [(p, now, now) for p in phones])
            db.execute("INSERT INTO subscriptions (subscriber_id, area_code, phone, created_at)"
                       " SELECT id, ?, phone, ? FROM subscribers WHERE id > ?", (code, now, first))
            db.execute("COMMIT")
        finally:
            db.close()

    def integrity(self):
        """[("ok",)] when the store checks out: SQLite's integrity_check; PostgreSQL checks
        its own pages, so there: the schema is at the version the binary writes."""
        if not self.store_url:
            return self.sql("PRAGMA integrity_check")
        latest = int(subprocess.run([binary(), "version"], capture_output=True, text=True)
                     .stdout.split("postgresql ")[1].rstrip(")\n"))
        got = self.sql("SELECT max(version) FROM talaash_schema")
        return [("ok",)] if got == [(latest,)] else [("schema %r, expected %d" % (got, latest),)]

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def sanitizer_report(self):
        text = self.log()
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            at = text.find(marker)
            if at >= 0:
                return text[max(0, at - 200):at + 3000]
        return None


def stop_and_check(gw):
    """Stops gw (SIGTERM) and records as TAP that it exited 0 with no sanitizer report."""
    from tap import ok, is_, diag
    code, _ = gw.stop()
    is_(code, 0, "the gateway exits 0")
    report = gw.sanitizer_report()
    ok(report is None, "no sanitizer report")
    if report:
        diag(report)
