#!/usr/bin/env python3
"""56-aggregator-down.t — the aggregator is away for an hour of simulated time
(the test clock, TALAASH_TEST_CLOCK_FILE) while alerts are due (issue #15):

  T    0 – 1200 s  connection refused (the mock is not running)
  T 1200 – 2400 s  it accepts and never answers (timeouts)
  T 2400 – 3600 s  429 with Retry-After: 300, then with an HTTP date 200 s ahead
  T 3600 –         back to normal

Two alert waves to the same 8 volunteers: wave 1 at T=0 expires at
T=2700 ([alerts] expiry = 45m) before the aggregator returns, wave 2 at
T=1300 (expiring at T=4000) does not. Checked: every failed attempt leaves its row queued with
the backoff of [outbox] retry_base/retry_max; a Retry-After pauses the whole
channel for its time (no request in it) and the request's rows are due no
sooner; wave 1 ends exactly 8 expired and never reached the aggregator,
wave 2 exactly 8 sent, each volunteer answered once; the backlog drains at
the channel's rate; an aggregator's opt-out (generic "opted_out") is a STOP."""

import email.utils
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from tap import ok, is_, diag, done_testing  # noqa: E402
from talaash import Gateway, stop_and_check, wait_until, write_clock  # noqa: E402
from mockagg import MockAggregator  # noqa: E402

N = 8           # volunteers
RATE = 4        # [channel alerts] rate, messages/s
RETRY_BASE = 10
RETRY_MAX = 600
RETRY_AFTER = 300

mock = MockAggregator().start()
PORT = mock.port
mock.stop()  # phase 1: nothing listens there

clock_dir = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "build"))
os.makedirs(clock_dir, exist_ok=True)
clock_file = os.path.join(clock_dir, "aggdown-clock-%d" % os.getpid())
offset = 0
write_clock(clock_file, offset)

channels = """
[alerts]
channel = alerts
verification = auto
escalation =
expiry = 45m

[outbox]
max_attempts = 100
retry_base = %(B)d
retry_max = %(X)d
connect_timeout = 0.3
send_timeout = 0.3

[channel console]
provider = console
rate = 1000

[channel alerts]
provider = generic
base_url = http://127.0.0.1:%(P)d/generic/send
token = gen-token
rate = %(R)d
batch_size = 1
concurrency = 4
""" % {"P": PORT, "R": RATE, "B": RETRY_BASE, "X": RETRY_MAX}

gw = Gateway(channels=channels, env={"TALAASH_TEST_CLOCK_FILE": clock_file}).start()
volunteers = ["+92300111%04d" % i for i in range(N)]


def sms(phone, text):
    status, _, body = gw.post_form("/sms/console", {"from": phone, "text": text})
    return status


def set_clock(seconds):
    global offset
    offset = seconds
    write_clock(clock_file, seconds)
    time.sleep(0.25)  # the daemon re-reads the clock file every 100 ms


def now_ms():
    return int(time.time() * 1000) + offset * 1000


def alert_rows(where="1"):
    return gw.sql("SELECT id, case_id, phone, state, attempts, next_attempt_ms, updated_at, error"
                  " FROM outbox WHERE channel = 'alerts' AND " + where)


def settled():
    """Nothing of the channel in flight and nothing due: the sender has done what it can now."""
    n = gw.sql("SELECT count(*) FROM outbox WHERE channel = 'alerts' AND (state = 'sending'"
               " OR (state = 'queued' AND next_attempt_ms <= ?))", (now_ms() - 300,))[0][0]
    return n == 0


def step(seconds, what):
    set_clock(seconds)
    ok(wait_until(settled, 20), "T=%d: %s: every due message tried, none left in flight"
       % (seconds, what))


def backoff_ok(rows):
    """Each queued row waits base·2^(attempts-1) (capped) × 50–100 %, from its last attempt."""
    bad = []
    for r in rows:
        attempts, next_ms, updated = r[4], r[5], r[6]
        full = min(RETRY_BASE * 2 ** (attempts - 1), RETRY_MAX) * 1000
        wait = next_ms - updated * 1000
        if not (0.5 * full - 1500 <= wait <= full + 1500):
            bad.append((r[0], attempts, wait, full))
    if bad:
        diag("rows off the backoff: %r" % bad[:5])
    return not bad


def report(phone, name):
    return sms(phone, "MISSING %s, boy, age 8, Korangi, blue shirt, last seen 4pm near the bridge"
               % name)


try:
    # ---- volunteers, then wave 1, with nothing listening ----
    is_([sms(p, "JOIN Korangi") for p in volunteers], [200] * N, "%d volunteers join Korangi" % N)
    is_(report("+923001230001", "Bilal"), 200, "report 1 (verification = auto: broadcast at once)")
    case1 = gw.sql("SELECT id FROM cases ORDER BY id")[0][0]
    ok(wait_until(lambda: len(alert_rows("case_id = %d" % case1)) == N, 10),
       "wave 1: %d alert rows queued" % N)
    ok(wait_until(lambda: len(alert_rows("attempts >= 1 AND state = 'queued'")) == N, 10),
       "connection refused: every alert tried once and queued again")
    rows = alert_rows()
    ok(all("connect" in (r[7] or "").lower() for r in rows),
       "their error says the connection failed (%r)" % (rows[0][7],))
    ok(backoff_ok(rows), "each waits its backoff (retry_base, doubled, jitter)")
    for t in (300, 1100):
        step(t, "refused")
    rows = alert_rows()
    ok(all(r[3] == "queued" and r[4] == 3 for r in rows),
       "after 1100 s refused: all queued, each tried 3 times (min %d, max %d)"
       % (min(r[4] for r in rows), max(r[4] for r in rows)))
    ok(backoff_ok(rows), "and each waits its (longer) backoff")
    ok("event=paused" not in gw.log(), "no Retry-After, no channel pause")

    # ---- the aggregator accepts and never answers ----
    mock = MockAggregator(port=PORT).start()
    mock.behaviour([{"path_prefix": "/generic/send", "hang": True}])
    step(1300, "timeouts")
    hung = mock.stats()["hung"]
    ok(hung >= 1, "the mock got requests and answered none (%d hung)" % hung)
    ok(any("timeout" in (r[7] or "").lower() or "timed out" in (r[7] or "").lower()
           for r in alert_rows()), "a row's error says the request timed out")
    is_(report("+923001230002", "Hamza"), 200, "T=1300: report 2 while the aggregator hangs")
    case2 = gw.sql("SELECT max(id) FROM cases")[0][0]
    ok(wait_until(lambda: len(alert_rows("case_id = %d" % case2)) == N, 10),
       "wave 2: %d more alert rows" % N)
    for t in (1800, 2300):
        step(t, "timeouts")
    ok(backoff_ok(alert_rows("state = 'queued'")), "after the timeouts each waits its backoff")

    # ---- 429 with Retry-After ----
    mock.reset()
    mock.behaviour([{"path_prefix": "/generic/send", "status": 429, "retry_after": str(RETRY_AFTER),
                     "body": {"error": "slow down"}}])
    set_clock(2400 + RETRY_MAX)  # every row is due
    ok(wait_until(lambda: mock.stats()["requests"] >= 1, 10), "T=3000: a request, answered 429")
    ok(wait_until(lambda: "event=paused channel=alerts http=429 seconds=%d" % RETRY_AFTER
                  in gw.log(), 5), "the daemon logs the channel's pause of %d s" % RETRY_AFTER)
    time.sleep(1.2)  # the sender's wall-clock re-check is 1 s: it has had its chance
    first = mock.stats()["requests"]
    ok(first <= 4, "only the requests already in flight (concurrency 4) went: %d" % first)
    paused_rows = alert_rows("error LIKE '%429%'")
    ok(len(paused_rows) == first and
       all(r[5] - r[6] * 1000 >= RETRY_AFTER * 1000 - 1500 for r in paused_rows),
       "the %d rows answered 429 are due again no sooner than Retry-After (%d rows)"
       % (first, len(paused_rows)))
    set_clock(3000 + RETRY_AFTER - 60)
    time.sleep(1.2)
    is_(mock.stats()["requests"], first, "T=3240: channel still paused, no request (other rows are due)")
    # Now Retry-After as an HTTP date, 200 s ahead on the daemon's (test) clock.
    resume_at = 3000 + RETRY_AFTER + 5
    date = email.utils.formatdate(time.time() + resume_at + 200, usegmt=True)
    mock.behaviour([{"path_prefix": "/generic/send", "status": 429, "retry_after": date,
                     "body": {"error": "slow down"}}])
    set_clock(resume_at)
    ok(wait_until(lambda: mock.stats()["requests"] > first, 5),
       "T=3305: the pause is over, the channel sends again (429 again, Retry-After: %s)" % date)
    ok(wait_until(lambda: "event=resumed channel=alerts" in gw.log(), 5), "and logs that it resumed")
    ok(wait_until(lambda: re.search(r"event=paused channel=alerts http=429 seconds=(19[5-9]|200) ",
                                    gw.log()), 5), "a Retry-After date pauses it until then (200 s)")
    time.sleep(1.2)
    second = mock.stats()["requests"]
    set_clock(resume_at + 150)
    time.sleep(1.2)
    is_(mock.stats()["requests"], second, "T=3455: still paused by the date")
    log = gw.log()
    is_(log.count("event=paused channel=alerts"), 2,
        "one pause line per pause, not per 429 (two pauses so far)")

    # ---- back: the backlog drains at the rate ----
    mock.reset()
    # T=3950: every row is due (the last tries were at T=3305, due within retry_max), wave 1
    # expired at T=2700, wave 2 (reported at T=1300) expires at T=4000.
    set_clock(3950)
    ok(wait_until(lambda: len(alert_rows("state IN ('queued', 'sending')")) == 0, 30),
       "the backlog is done")
    rows = alert_rows()
    states = {}
    for r in rows:
        states[(r[1], r[3])] = states.get((r[1], r[3]), 0) + 1
    is_(states, {(case1, "expired"): N, (case2, "sent"): N},
        "wave 1: %d expired (its 45 min passed while away), wave 2: %d sent" % (N, N))
    reqs = [r for r in mock.requests() if r["path"] == "/generic/send" and r["rule"] == -1]
    got = sorted(m["to"] for r in reqs for m in r["json"]["messages"])
    is_(got, sorted(volunteers), "the aggregator got wave 2 once for each volunteer, nothing else")
    texts = set(m["text"] for r in reqs for m in r["json"]["messages"])
    ok(len(texts) == 1 and "Hamza" in list(texts)[0], "every one of them is wave 2's alert")
    times = sorted(r["t_ms"] for r in reqs) or [0]
    burst = RATE  # the bucket holds a second's worth after a long idle
    span = (times[-1] - times[0]) / 1000.0
    least = (N - burst) / RATE
    ok(least * 0.85 <= span <= least + 3.0,
       "drained at the rate limit: %d messages over %.2f s (at %d/s after a burst of %d: %.2f s)"
       % (N, span, RATE, burst, least))
    window = max(sum(1 for t in times if a <= t < a + 1000) for a in times[burst:]) if len(times) > burst else 0
    ok(window <= RATE + 1, "after the burst no second has more than rate+1 requests (%d)" % window)

    # ---- an aggregator's opt-out is a STOP (the sender's hook) ----
    mock.behaviour([{"recipient": volunteers[0], "result_status": "opted_out"}])
    is_(report("+923001230003", "Ali"), 200, "report 3")
    case3 = gw.sql("SELECT max(id) FROM cases")[0][0]
    ok(wait_until(lambda: len(alert_rows("case_id = %d AND state IN ('queued','sending')" % case3)) == 0
                  and len(alert_rows("case_id = %d" % case3)) == N, 20), "wave 3 sent")
    is_(gw.sql("SELECT opted_out FROM subscribers WHERE phone = ?", (volunteers[0],)), [(1,)],
        "the number the aggregator says opted out is opted out")
    is_(gw.sql("SELECT state FROM outbox WHERE case_id = ? AND phone = ?", (case3, volunteers[0])),
        [("failed",)], "its alert is failed")
finally:
    stop_and_check(gw)
    gw.close()
    mock.stop()
    os.unlink(clock_file)

sys.exit(done_testing())
