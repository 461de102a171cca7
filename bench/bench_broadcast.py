#!/usr/bin/env python3
"""bench_broadcast.py — the driver of `make bench-broadcast` (mk/bench-broadcast.mk).

Owns only the broadcast benchmark: a work directory under BUILD/bench/broadcast
(config, store, log; removed at the end unless --keep), two mock aggregators
(one for the `at` channel that carries the SMS callbacks' replies, one for the
`alerts` channel alone, so every request it sees is an alert) and the daemon.

The story, all on 127.0.0.1:
  1. start/stop the daemon once (schema + areas), then create N subscribers
     and their subscriptions straight in the store with set-based SQL (towns
     of PK-SD-KHI from `talaash areas`, a 45/35/20 ur/roman-ur/en mix, every
     fifth one also subscribed to Karachi itself); copy the store for the
     baselines; `talaash police add +923009990001 --area Karachi`;
  2. restart; a parent reports by AT SMS "MISSING name: Ali age: 7 boy area:
     Korangi" (REPORTED); the officer sends VERIFY by AT SMS;
  3. measures (1) VERIFY callback sent -> its HTTP answer (the wave is
     committed inside the callback's transaction), (2) answer -> first alert
     request at the alerts mock, (3) alert recipients/s until every alert row
     is 'sent', (4) the daemon's VmHWM;
  4. runs build/bench/bench_broadcast_sql on the copy: store_alert_wave alone
     (no daemon, no HTTP) and SQLite's raw insert rates for the same N rows.

Targeting: radius_km = 40 (Korangi's centre to the farthest Karachi area,
Kemari, is 30.7 km; the nearest other city, Thatta, 80 km) and no
escalation, so the first wave is all of Karachi and nothing else.

Clocks: the mock stamps t_ms = CLOCK_MONOTONIC - its start. Python's
time.clock_gettime(CLOCK_MONOTONIC) reads the same clock, so the mock's start
is located by a probe request (sent/answered times bracket its t_ms) and the
bracket [spawn, port printed]; the residual uncertainty is printed.
"""

import argparse
import http.client
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
from mockagg import MockAggregator  # noqa: E402
from talaash import at_channel  # noqa: E402

POLICE = "+923009990001"
PARENT = "+923001234567"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
RADIUS_KM = 40


def mono():
    return time.clock_gettime(time.CLOCK_MONOTONIC)


def wait_until(fn, timeout, pause=0.005, max_pause=0.1):
    """Polls fn() until truthy or the deadline; returns the last value."""
    deadline = mono() + timeout
    while True:
        v = fn()
        if v or mono() >= deadline:
            return v
        time.sleep(pause)
        pause = min(pause * 2, max_pause)


def say(msg):
    print(msg, flush=True)


class Daemon:
    def __init__(self, binary, work, mock_at, alert_channels, alerts_extra=""):
        self.binary = binary
        self.work = work
        self.db = os.path.join(work, "talaash.db")
        self.conf = os.path.join(work, "gateway.conf")
        self.log = os.path.join(work, "daemon.log")
        self.proc = None
        self.port = None
        self.mock_at = mock_at
        self.alert_channels = alert_channels  # [(name, mock, rate)]
        self.alerts_extra = alerts_extra  # more [alerts] lines (--wave-chunk, --wave-first-ms)

    def write_config(self):

        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        with open(self.conf, "w") as f:
            f.write("""[server]
listen = 127.0.0.1:%(port)d
# the default 10s would close the VERIFY connection unanswered if the wave took longer
request_timeout = 300s

[store]
path = %(db)s

[log]
level = warn

[alerts]
channels = %(alert_channels)s
verification = police
radius_km = %(radius)d
escalation =
%(extra)s
""" % {"port": self.port, "db": self.db, "radius": RADIUS_KM, "extra": self.alerts_extra,
                "alert_channels": ", ".join(c for c, _, _ in self.alert_channels)})
            f.write(at_channel("at", self.mock_at.url, "21512", 1000))
            for name, mock, rate in self.alert_channels:
                f.write(at_channel(name, mock.url, "TALAASH", "%g" % rate, batch_size=500,
                                   concurrency=8))

    def start(self, timeout=60):
        log = open(self.log, "ab")
        self.proc = subprocess.Popen([self.binary, "serve", "-c", self.conf], stdout=log,
                                     stderr=log, cwd=self.work)
        log.close()

        def healthy():
            if self.proc.poll() is not None:
                return "dead"
            try:
                return self.request("GET", "/healthz", timeout=1)[0] == 200
            except OSError:
                return False
        if wait_until(healthy, timeout) is not True:
            raise RuntimeError("daemon did not start; log tail:\n" + self.tail())

    def stop(self, timeout=30):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def tail(self, n=3000):
        try:
            with open(self.log, "rb") as f:
                return f.read()[-n:].decode("utf-8", "replace")
        except OSError:
            return ""

    def request(self, method, path, body=None, headers=None, timeout=10):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def sms(self, phone, text, seq, timeout=10):
        body = urllib.parse.urlencode({"from": phone, "to": "21512", "text": text,
                                       "id": "bench-%d" % seq, "date": "2026-11-23 10:00:00"})
        return self.request("POST", "/sms/at", body, FORM, timeout)[0]

    def sql(self, query, args=()):
        db = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True, timeout=30)
        try:
            return db.execute(query, args).fetchall()
        finally:
            db.close()

    def vm(self, key):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])  # kB
        return -1


def karachi_towns(binary, conf):
    """Codes of the towns under PK-SD-KHI (`talaash areas` lists code, names, kind)."""
    out = subprocess.run([binary, "areas", "-c", conf], capture_output=True,
                         text=True, timeout=30, check=True).stdout
    return [f[0] for f in (l.split("\t") for l in out.splitlines())
            if f[0].startswith("PK-SD-KHI-") and f[-1] == "town"]


def mix(i):
    """A 32-bit hash of i (Knuth's multiplier, then the 0x45d9f3b xorshift-multiply finaliser)."""
    x = (i * 2654435761) & 0xFFFFFFFF
    x = ((x >> 16) ^ x) * 0x45d9f3b & 0xFFFFFFFF
    x = ((x >> 16) ^ x) * 0x45d9f3b & 0xFFFFFFFF
    return (x >> 16) ^ x


def populate(db_path, n, towns):
    """N subscribers + subscriptions in one transaction, set-based (no Python loop per row).
    A hash h of the subscriber's number decides: h %% 100 the language (45 ur, 35 roman-ur,
    20 en), (h / 100) %% towns the town, (h / 10000) %% 5 = 0 a second subscription to
    Karachi itself (one in five)."""
    db = sqlite3.connect(db_path, isolation_level=None)
    db.execute("PRAGMA synchronous = OFF")
    now = int(time.time())
    db.execute("BEGIN")
    db.execute("CREATE TEMP TABLE bench_towns (idx INTEGER PRIMARY KEY, code TEXT NOT NULL)")
    db.executemany("INSERT INTO bench_towns VALUES (?, ?)", list(enumerate(towns)))
    db.create_function("bench_mix", 1, mix, deterministic=True)
    db.execute("CREATE TEMP TABLE bench_mix (id INTEGER PRIMARY KEY, h INTEGER NOT NULL)")
    first = db.execute("SELECT coalesce(max(id), 0) + 1 FROM subscribers").fetchone()[0]
    db.execute("""
        WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?1 - 1)
        INSERT INTO bench_mix (id, h) SELECT ?2 + i, bench_mix(i + 1) FROM n""", (n, first))
    db.execute("""
        INSERT INTO subscribers (id, phone, lang, created_at, updated_at)
        SELECT id, printf('+9231%%08d', id - ?1),
               CASE WHEN h %% 100 < 45 THEN 'ur' WHEN h %% 100 < 80 THEN 'roman-ur'
                    ELSE 'en' END,
               ?2 - (h %% 2592000), ?2 - (h %% 2592000)
          FROM bench_mix""".replace("%%", "%"), (first, now))
    db.execute("""
        INSERT INTO subscriptions (subscriber_id, area_code, phone, created_at)
        SELECT m.id, t.code, s.phone, ?1 FROM bench_mix m JOIN subscribers s ON s.id = m.id
          JOIN bench_towns t ON t.idx = (m.h / 100) % ?2""", (now, len(towns)))
    db.execute("""
        INSERT INTO subscriptions (subscriber_id, area_code, phone, created_at)
        SELECT m.id, 'PK-SD-KHI', s.phone, ?1 FROM bench_mix m JOIN subscribers s ON s.id = m.id
         WHERE (m.h / 10000) % 5 = 0""", (now,))
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    counts = db.execute("""SELECT (SELECT count(*) FROM subscribers),
                                  (SELECT count(*) FROM subscriptions),
                                  (SELECT group_concat(lang || '=' || c, ' ') FROM
                                     (SELECT lang, count(*) c FROM subscribers GROUP BY lang))""").fetchone()
    db.close()
    return counts


class MockClock:
    """Locates the alerts mock's CLOCK_MONOTONIC start (t_ms = now - start, in whole ms)."""

    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi  # start lies in [lo, hi]

    def probe(self, mock):
        t0 = mono()
        conn = http.client.HTTPConnection("127.0.0.1", mock.port, timeout=5)
        conn.request("POST", "/version1/messaging", body="probe=1", headers=FORM)
        conn.getresponse().read()
        t1 = mono()
        conn.close()
        t_ms = mock.requests()[-1]["t_ms"]
        # t0 <= start + t_ms/1000 + [0, 1ms) <= t1
        self.lo = max(self.lo, t0 - (t_ms + 1) / 1000.0)
        self.hi = min(self.hi, t1 - t_ms / 1000.0)
        mock.reset()

    @property
    def start(self):
        return (self.lo + self.hi) / 2

    @property
    def error_ms(self):
        return (self.hi - self.lo) / 2 * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--subscribers", type=int, default=1000000)
    ap.add_argument("--wave-chunk", type=int, default=None,
                    help="[alerts] wave_chunk (default: the daemon's); 0 = the whole wave in the VERIFY")
    ap.add_argument("--wave-first-ms", type=int, default=None,
                    help="[alerts] wave_first_ms (default: the daemon's)")
    ap.add_argument("--send-deadline", type=float, default=120.0,
                    help="seconds allowed for sending the whole wave")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--channels", type=int, default=1,
                    help="alert channels ([alerts] channels), each at a mock of its own")
    ap.add_argument("--rates", default="5000,10000,15000",
                    help="with --channels > 1: their rates (messages/s), comma-separated")
    args = ap.parse_args()

    build = args.build if os.path.isabs(args.build) else os.path.join(ROOT, args.build)
    binary = os.path.join(build, "talaash")
    sqltool = os.path.join(build, "bench", "bench_broadcast_sql")
    work = os.path.join(build, "bench", "broadcast")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    t_begin = mono()
    n = args.subscribers
    fails = []
    # issue #6: a city's million within 2 s; issue #12: Pakistan's 10 million within 10 s
    wave_target = 2.0 if n <= 1000000 else 10.0

    mock_at = MockAggregator(build_dir=build, args=["--no-record-bodies", "--max-records", "1000"])
    mock_at.start()
    # One channel: "alerts" at rate 100000 (no limit: the daemon's own speed is measured);
    # several: alerts1..K at the given rates, the time to send all ~ recipients / their sum.
    if args.channels > 1:
        rates = [float(r) for r in args.rates.split(",")][:args.channels]
        if len(rates) != args.channels:
            raise SystemExit("--rates needs %d rates" % args.channels)
        names = ["alerts%d" % (i + 1) for i in range(args.channels)]
    else:
        rates, names = [100000.0], ["alerts"]
    alert_mocks, clocks = [], []
    for _ in names:
        spawn = mono()
        m = MockAggregator(build_dir=build, args=["--no-record-bodies", "--max-records", "20000"])
        m.start()
        alert_mocks.append(m)
        clocks.append(MockClock(spawn, mono()))
    extra = "".join("%s = %d\n" % (k, v) for k, v in (("wave_chunk", args.wave_chunk),
                                                       ("wave_first_ms", args.wave_first_ms))
                    if v is not None)
    d = Daemon(binary, work, mock_at, list(zip(names, alert_mocks, rates)), extra)
    try:
        d.write_config()
        d.start()
        d.stop()
        towns = karachi_towns(binary, d.conf)
        t0 = mono()
        subs, subscriptions, langs = populate(d.db, n, towns)
        say("bench-broadcast: %d subscribers (%s), %d subscriptions over %d Karachi towns + "
            "Karachi, created in %.1f s" % (subs, langs, subscriptions, len(towns), mono() - t0))
        copy = os.path.join(work, "baseline.db")
        shutil.copyfile(d.db, copy)
        # The set-up just wrote the store twice (GBs at 10M): flush it, so the wave is not
        # throttled by the kernel writing the set-up's dirty pages back (a real store's
        # subscribers were not all written seconds before the alert).
        t0 = mono()
        os.sync()
        say("  set-up written back to the disk (sync) in %.1f s" % (mono() - t0))
        p = subprocess.run([binary, "police", "add", POLICE, "--area", "Karachi", "-c", d.conf],
                           capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            raise RuntimeError("police add failed: " + p.stderr)
        d.start()
        seq = 0

        def sms(phone, text, timeout=10):
            nonlocal seq
            seq += 1
            return d.sms(phone, text, seq, timeout)
        if sms(PARENT, "MISSING name: Ali age: 7 boy area: Korangi") != 200:
            raise RuntimeError("report refused; log:\n" + d.tail())
        rows = d.sql("SELECT id, case_no, state, area_code FROM cases")
        if len(rows) != 1 or rows[0][2] != "reported":
            raise RuntimeError("expected one REPORTED case, got %r" % rows)
        case_id, case_no, _, area = rows[0]
        say("  case %s REPORTED in %s; radius_km = %d, escalation off: the first wave is all "
            "of Karachi;\n  [server] request_timeout = 300s (at the default 10s a wave longer than"
            " that loses its answer)" % (case_no, area, RADIUS_KM))
        # let the report's police notice and reply go out, so the alerts channel starts idle
        wait_until(lambda: d.sql("SELECT count(*) FROM outbox WHERE state = 'queued'")[0][0] == 0, 10)
        for m, c in zip(alert_mocks, clocks):
            c.probe(m)

        # ---- (1) VERIFY callback -> answer ----
        t_send = mono()
        status = sms(POLICE, "VERIFY %s" % case_no, timeout=120)
        t_answer = mono()
        verify_s = t_answer - t_send
        if status != 200:
            raise RuntimeError("VERIFY answered %d; log:\n%s" % (status, d.tail()))

        # ---- (2) answer -> first alert request at the mock ----
        if not wait_until(lambda: any(m.stats()["requests"] for m in alert_mocks), 60, 0.002,
                          0.02):
            raise RuntimeError("no alert request within 60 s; log:\n" + d.tail())
        first_at = min(c.start + m.requests()[0]["t_ms"] / 1000.0
                       for m, c in zip(alert_mocks, clocks) if m.stats()["requests"])
        first_ms = (first_at - t_answer) * 1000
        error_ms = max(c.error_ms for c in clocks)

        # The VERIFY's transaction queues the wave's first chunks; a bigger wave leaves the
        # rest to its fan-out (gateway/fanout.c), queued ahead of the sender. Every subscriber
        # here is in Karachi: the wave is everyone subscribed plus the officer.
        in_tx = d.sql("SELECT count(*) FROM outbox WHERE case_id = ? AND kind = 'alert'",
                      (case_id,))[0][0]
        fanout_left = d.sql("SELECT count(*) FROM wave_fanout")[0][0]
        expected = d.sql("SELECT count(*) FROM (SELECT phone FROM subscriptions"
                         " UNION SELECT phone FROM police)")[0][0]
        fanout_done = [None if fanout_left else t_answer]

        # ---- (3) sending: mock recipients, then the store's 'sent' rows ----
        samples = []
        deadline = t_answer + args.send_deadline

        def mock_done():
            got = sum(m.stats()["recipients"] for m in alert_mocks)
            samples.append((mono(), got))
            if fanout_done[0] is None and (len(samples) % 4 == 0 or got >= expected) and \
                    d.sql("SELECT count(*) FROM wave_fanout")[0][0] == 0:
                fanout_done[0] = mono()
            return got >= expected
        wait_until(lambda: mock_done() or mono() >= deadline, args.send_deadline + 5, 0.05, 0.25)
        t_mock_all = samples[-1][0]
        got_mock = samples[-1][1]

        def store_sent():
            return d.sql("SELECT count(*) FROM outbox WHERE case_id = ? AND kind = 'alert'"
                         " AND state = 'sent'", (case_id,))[0][0]
        sent = store_sent()
        while sent < expected and mono() < deadline:
            time.sleep(0.2)
            sent = store_sent()
        t_store_all = mono()
        hwm_kb, rss_kb = d.vm("VmHWM"), d.vm("VmRSS")
        store_bytes = sum(os.path.getsize(d.db + x) for x in ("", "-wal", "-shm")
                          if os.path.exists(d.db + x))
        wal_bytes = os.path.getsize(d.db + "-wal") if os.path.exists(d.db + "-wal") else 0
        reqs = sum(m.stats()["requests"] for m in alert_mocks)
        per_channel = [m.stats()["recipients"] for m in alert_mocks]
        by_channel = dict(d.sql("SELECT channel, count(*) FROM outbox WHERE case_id = ? AND"
                                " kind = 'alert' AND state = 'sent' GROUP BY channel", (case_id,)))
        # A wave's texts are stored once, in its alerts row (outbox rows carry alert_id + lang).
        row = d.sql("SELECT text_en, text_ur, text_roman_ur FROM alerts WHERE case_id = ?"
                    " AND kind = 'alert' ORDER BY id LIMIT 1", (case_id,))[0]
        texts = {"en": row[0], "ur": row[1], "roman-ur": row[2]}
        scope = d.sql("SELECT json_group_array(code) FROM areas WHERE code = 'PK-SD-KHI'"
                      " OR code LIKE 'PK-SD-KHI-%' OR code IN ('PK', 'PK-SD')")[0][0]
        states = d.sql("SELECT state, count(*) FROM outbox WHERE case_id = ? AND kind = 'alert'"
                       " GROUP BY state", (case_id,))
        rc = d.stop()
    finally:
        d.stop()
        for m in alert_mocks:
            m.stop()
        mock_at.stop()

    # Sustained rate: between the samples where 10% and 90% of the wave had reached the mock.
    def at_fraction(f):
        for t, got in samples:
            if got >= f * expected:
                return t, got
        return None
    a, b = at_fraction(0.1), at_fraction(0.9)
    steady = (b[1] - a[1]) / (b[0] - a[0]) if a and b and b[0] > a[0] else float("nan")
    overall = sent / (t_store_all - t_answer)

    say("  (1) VERIFY callback -> answer, wave of %d recipients committed: %8.3f s   target <= %g s"
        % (expected, verify_s, wave_target))
    say("      the VERIFY's transaction queued %d rows (%.0f rows/s)%s" % (
        in_tx, in_tx / verify_s,
        "; the fan-out queued the other %d ahead of the sender, done %.1f s after the answer"
        % (expected - in_tx, fanout_done[0] - t_answer) if fanout_left and fanout_done[0] else
        "; the fan-out did not finish" if fanout_left else ", the whole wave"))
    say("  (2) answer -> first alert request at the mock: %.1f ms (clock offset +-%.1f ms)"
        "   target <= 100 ms%s" % (first_ms, error_ms,
                                   "\n      (negative: the request reached the mock before the"
                                   " answer reached us)" if first_ms < 0 else ""))
    steady_txt = "%.0f/s" % steady if steady == steady else "n/a"
    # The send rate's target is the first release's, at 1M (README); at 10M the issue's
    # targets are (1), (2) and (4).
    judge_rate = len(names) == 1 and n <= 1000000
    say("  (3) alerts 'sent': %d of %d in %.1f s after the answer = %.0f recipients/s"
        "   %s" % (sent, expected, t_store_all - t_answer, overall,
                   "target >= 50000/s" if judge_rate else
                   "(not judged: the channels' rates bound it; see 3b)" if len(names) > 1 else
                   "(not judged above 1M subscribers: the target is the 1M wave's)"))
    say("      the mock got %d recipients in %d requests (%.1f per request); 10%%->90%% of the"
        " wave at the mock: %s; alert rows: %s" % (got_mock, reqs, got_mock / reqs if reqs else 0,
                                                 steady_txt, " ".join("%s=%d" % s for s in states)))
    multi = len(names) > 1
    if multi:
        # The time until the last recipient reached a mock, against recipients / summed rates
        # (each bucket starts full, one second's worth: (N - sum) / sum would be exact).
        total_rate = sum(rates)
        last_s = t_mock_all - t_answer
        ideal_s = expected / total_rate
        say("  (3b) %d alert channels at %s msg/s: the last recipient sent %.2f s after the answer;"
            " recipients / summed rates = %d / %.0f = %.2f s (%+.1f %%)   target within 10 %%"
            % (len(names), "+".join("%.0f" % r for r in rates), last_s, expected, total_rate,
               ideal_s, (last_s / ideal_s - 1) * 100))
        for name, rate, got in zip(names, rates, per_channel):
            say("       %s (rate %.0f): %d recipients at its mock = %.1f %% (its rate's share %.1f %%),"
                " %d rows sent by it in the store" % (name, rate, got, 100.0 * got / max(got_mock, 1),
                                                       100.0 * rate / total_rate,
                                                       by_channel.get(name, 0)))
    say("  (4) daemon peak RSS (VmHWM): %.1f MB (VmRSS at the end %.1f MB)   target <= 100 MB"
        % (hwm_kb / 1024, rss_kb / 1024))
    say("  the store after the wave was sent: %.2f GB (of which the WAL %.2f GB)"
        % (store_bytes / 1e9, wal_bytes / 1e9))
    say("  daemon exit status on SIGTERM: %s" % rc)

    # ---- baselines on the copy made before the daemon's second start ----
    os.sync()  # the daemon's writes, flushed as before the wave
    p = subprocess.run([sqltool, copy, str(expected), scope, texts["en"], texts["ur"],
                        texts["roman-ur"]], capture_output=True, text=True,
                       timeout=240 + n / 20000)  # four times N rows: minutes at 10M
    sys.stdout.write(p.stdout)
    if p.returncode != 0:
        sys.stdout.write(p.stderr)
        fails.append("baseline tool failed")

    if verify_s > wave_target:
        fails.append("(1) %.2f s > %g s" % (verify_s, wave_target))
    if first_ms > 100:
        fails.append("(2) %.0f ms > 100 ms" % first_ms)
    if sent < expected or (overall < 50000 and judge_rate):
        fails.append("(3) %.0f recipients/s < 50000 (%d of %d sent)" % (overall, sent, expected))
    if multi and abs(last_s / ideal_s - 1) > 0.10:
        fails.append("(3b) %.2f s is not within 10 %% of %.2f s" % (last_s, ideal_s))
    if hwm_kb > 100 * 1024:
        fails.append("(4) %.0f MB > 100 MB" % (hwm_kb / 1024))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    say("bench-broadcast: %.0f s in all; %s" % (mono() - t_begin,
                                                 "all targets met" if not fails else
                                                 "MISSED: " + "; ".join(fails)))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
