#!/usr/bin/env python3
"""32-alert-channels.t — one alert over several aggregator accounts (issue #12):
`[alerts] channels = a1, a2, a3`, each an Africa's Talking account at a mock
of its own with a different rate (300, 600, 900 messages/s).

  1. an alert to 6,000 subscribers (and the officer): each recipient exactly
     once over the three mocks, the total exact, each channel's share within
     TOLERANCE of its rate's share; the store's rows carry the channel that
     sent them, and /metrics counts them so;
  2. a2 answers 500 to everything for a second case's whole alert: a2 sheds
     its share, a1 and a3 send it, every recipient still exactly once;
  3. a3 answers 429 (no Retry-After) for a third case's alert: the same;
  4. FOUND on the first case: the update goes to each recipient of the alert
     once, on any of the three;
  5. a number writing on a2 gets its reply on a2, one writing on a3 on a3;
  6. a crash (kill -9) in the middle of an alert: the rows left 'sending' go
     back to the pool at the restart, and every recipient still gets it.
"""

import json
import os
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from tap import ok, is_, diag, done_testing  # noqa: E402
from talaash import Gateway, at_channel, binary, wait_until  # noqa: E402
from mockagg import MockAggregator  # noqa: E402

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
N = 6000
RATES = {"a1": 300, "a2": 600, "a3": 900}
BATCH = 50
# A channel's share may differ from its rate's share by this much (relative): the
# buckets start full (one second's worth each, in proportion too) and the last
# claims of a wave are cut into batches of BATCH.
TOLERANCE = 0.10
PARENT = "+923001234567"
PO1 = "+923009990001"
VIEW = "view-token-0123456789abcdef"

mock_at = MockAggregator().start()
mocks = {name: MockAggregator().start() for name in RATES}
channels = """
[outbox]
retry_base = 0.2
retry_max = 1
max_attempts = 10

[api]
tokens = view:viewer:%(VIEW)s

[alerts]
channels = a1, a2, a3
verification = police
radius_km = 5
escalation =

""" % {"VIEW": VIEW} + at_channel("at", mock_at.url, "21512", 1000)
for name, rate in RATES.items():
    # concurrency well above rate x round trip / BATCH, so the rate is what binds a channel
    # (with the default 8, a slow daemon, e.g. under ASan, capped a3 below its rate)
    channels += at_channel(name, mocks[name].url, "TALAASH", rate, batch_size=BATCH,
                           concurrency=32)

gw = Gateway(channels=channels).start()
seq = [0]


def sms(channel, phone, text):
    seq[0] += 1
    body = urllib.parse.urlencode({"from": phone, "to": "21512", "text": text,
                                   "id": "t32-%d" % seq[0], "date": "2026-11-23 10:00:00"})
    return gw.request("POST", "/sms/" + channel, body, FORM)[0]


def received(mock, since=0, sent_rules=(-1,)):
    """Recipients of the mock's requests after seq `since` that were answered as sent: those
    no rule applied to, or one of sent_rules (a delay); a 500/429 rule's are not sent."""
    got = []
    for r in mock.requests(since):
        if r["path"].startswith("/version1/messaging") and r["rule"] in sent_rules and r["form"]:
            got += r["form"]["to"].split(",")
    return got


def idle():
    return gw.sql("SELECT count(*) FROM outbox WHERE state IN ('queued', 'sending')")[0][0] == 0


def report_and_verify(name):
    """A report in Korangi and its VERIFY: (case id, case number, when VERIFY was sent, the
    mocks' last request numbers before it)."""
    is_(sms("at", PARENT, "MISSING name: %s age: 7 boy area: Korangi" % name), 200,
        "report of %s answered" % name)
    case_id, case_no = gw.sql("SELECT id, case_no FROM cases ORDER BY id DESC LIMIT 1")[0]
    ok(wait_until(idle, 20), "the report's reply and police notice sent")
    before = marks()
    t0 = time.monotonic()
    is_(sms("at", PO1, "VERIFY %s" % case_no), 200, "VERIFY %s answered" % case_no)
    return case_id, case_no, t0, before


def alert_rows(case_id):
    return gw.sql("SELECT channel, state, count(*) FROM outbox WHERE case_id = ? AND kind = 'alert'"
                  " GROUP BY channel, state ORDER BY channel, state", (case_id,))


def wait_sent(case_id, kind, total, timeout):
    def done():
        return gw.sql("SELECT count(*) FROM outbox WHERE case_id = ? AND kind = ? AND state = 'sent'",
                      (case_id, kind))[0][0] == total
    return wait_until(done, timeout)


def marks():
    return {name: m.stats()["last_seq"] for name, m in mocks.items()}


korangi = gw.sql("SELECT code FROM areas WHERE name_en = 'Korangi' ORDER BY length(code) DESC"
                 " LIMIT 1")[0][0]
SUBS = ["+923011%06d" % i for i in range(N)]
gw.populate(korangi, SUBS)
p = subprocess.run([binary(), "police", "add", PO1, "--area", "Korangi", "-c", gw.conf_path],
                   capture_output=True, text=True, timeout=20)
is_(p.returncode, 0, "police add (Korangi) exits 0")
TARGET = set(SUBS) | {PO1}

# ---- 1. shares by rate ----
case1, case_no1, t0, before = report_and_verify("Ali")
ok(wait_sent(case1, "alert", len(TARGET), 60), "case 1: all %d alert rows sent" % len(TARGET))
took = time.monotonic() - t0
got = {name: received(m, before[name]) for name, m in mocks.items()}
every = [p for g in got.values() for p in g]
is_(len(every), len(TARGET), "case 1: the mocks got exactly %d recipients in all" % len(TARGET))
is_(set(every), TARGET, "case 1: every subscriber and the officer, each exactly once")
ok(set(received(mock_at)) <= {PARENT, PO1}, "case 1: only the replies to the parent and the"
   " officer on the reply channel `at`")
is_(gw.sql("SELECT count(*) FROM outbox WHERE kind = 'alert' AND channel NOT IN ('a1', 'a2', 'a3')")
    [0][0], 0, "case 1: no alert row on another channel")
total_rate = sum(RATES.values())
for name, rate in RATES.items():
    want = len(TARGET) * rate / total_rate
    ok(abs(len(got[name]) - want) <= TOLERANCE * want,
       "case 1: %s sent %d, its rate's share is %.0f (within %d %%)"
       % (name, len(got[name]), want, TOLERANCE * 100))
rows = alert_rows(case1)
is_(rows, [(name, "sent", len(got[name])) for name in sorted(RATES)],
    "case 1: each alert row carries the channel that sent it, counts as at the mocks")
diag("case 1: %d recipients in %.2f s after VERIFY; %d / %d msg/s = %.2f s"
     % (len(TARGET), took, len(TARGET), total_rate, len(TARGET) / total_rate))
ok(took < 3 * len(TARGET) / total_rate + 2, "case 1: sent in %.1f s (the summed rate's %.1f s)"
   % (took, len(TARGET) / total_rate))


def metric(name, labels):
    status, _, body = gw.request("GET", "/metrics")
    want = "%s{%s} " % (name, labels)
    for line in body.decode().splitlines():
        if line.startswith(want):
            return float(line.split()[-1])
    return None


ok(wait_until(lambda: metric("talaash_outbox_messages", 'channel="a3",kind="alert",state="sent"')
              == len(got["a3"]), 10),
   "/metrics: talaash_outbox_messages{channel=\"a3\",kind=\"alert\",state=\"sent\"} = %d"
   % len(got["a3"]))
is_(metric("talaash_outbox_messages", 'channel="*alerts",kind="alert",state="queued"'), 0.0,
    "/metrics: the alert pool (channel=\"*alerts\") has nothing queued")




def api_channels():
    status, _, body = gw.request("GET", "/api/v1/channels",
                                 headers={"Authorization": "Bearer " + VIEW})
    return {c["name"]: c for c in json.loads(body)["channels"]} if status == 200 else {}


want_sent = {n: gw.sql("SELECT count(*) FROM outbox WHERE channel = ? AND state IN ('sent',"
                       " 'delivered')", (n,))[0][0] for n in RATES}
ok(wait_until(lambda: {n: api_channels().get(n, {}).get("sent") for n in RATES} == want_sent, 10),
   "/api/v1/channels: each alert channel's sent count as in the store (%s)" % want_sent)
chans = api_channels()
is_([(n, c["alerts"], c.get("pool_queue_depth")) for n, c in sorted(chans.items())],
    [("a1", True, 0), ("a2", True, 0), ("a3", True, 0), ("at", False, None)],
    "/api/v1/channels: a1-a3 are alert channels with an empty pool, at is not")

# ---- 2. and 3. one channel failing for the whole alert ----
def failing_alert(bad, rule, name):
    mocks[bad].behaviour([dict({"path_prefix": "/version1/messaging", "times": -1}, **rule)])
    case_id, case_no, t0, before = report_and_verify(name)
    what = "%s answering %d" % (bad, rule["status"])
    ok(wait_sent(case_id, "alert", len(TARGET), 90), "%s: all %d alert rows sent" % (what, len(TARGET)))
    took = time.monotonic() - t0
    got = {n: received(m, before[n]) for n, m in mocks.items()}
    every = [p for g in got.values() for p in g]
    is_(len(every), len(TARGET), "%s: exactly %d recipients sent in all" % (what, len(TARGET)))
    is_(set(every), TARGET, "%s: every recipient exactly once" % what)
    is_(got[bad], [], "%s: nothing sent through %s" % (what, bad))
    tried = [r for r in mocks[bad].requests(before[bad]) if r["rule"] == 0]
    # At most its first bucket (a second's worth: rate / BATCH requests) before it stops
    # taking from the pool, then one probe per backoff: retry_base 0.2 s doubled up to
    # retry_max 1 s, each at least half of that (jitter).
    probes, t = 0, 0.0
    while t <= took:
        probes += 1
        t += 0.5 * min(0.2 * 2 ** (probes - 1), 1.0)
    most = RATES[bad] // BATCH + probes
    ok(0 < len(tried) <= most, "%s: %s was tried (%d requests, at most %d), then shed its share"
       % (what, bad, len(tried), most))
    others = [n for n in RATES if n != bad]
    is_(sorted(c for c, s, _ in alert_rows(case_id)), others,
        "%s: the rows were sent by %s" % (what, " and ".join(others)))
    rate = sum(RATES[n] for n in others)
    diag("%s: %d recipients in %.2f s; %d / %d msg/s = %.2f s"
         % (what, len(TARGET), took, len(TARGET), rate, len(TARGET) / rate))
    ok("event=pool_shed channel=%s" % bad in gw.log(), "%s: logged event=pool_shed" % what)
    mocks[bad].reset()
    return case_id


failing_alert("a2", {"status": 500, "body": "down"}, "Bilal")
failing_alert("a3", {"status": 429, "body": "slow down"}, "Hamza")
ok(wait_until(idle, 20), "nothing left queued")

# ---- 4. the update of case 1 goes to each recipient once, on any alert channel ----
before = marks()
is_(sms("at", PO1, "FOUND %s" % case_no1), 200, "FOUND %s answered" % case_no1)
ok(wait_sent(case1, "update", len(TARGET), 60), "the update: %d rows sent" % len(TARGET))
got = {n: received(m, before[n]) for n, m in mocks.items()}
every = [p for g in got.values() for p in g]
is_(len(every), len(TARGET), "the update: %d recipients in all" % len(TARGET))
is_(set(every), TARGET, "the update: each recipient of the alert exactly once")
ok(all(len(g) > 0 for g in got.values()), "the update went out on all three (%s)"
   % ", ".join("%s %d" % (n, len(g)) for n, g in sorted(got.items())))

# ---- 5. replies stay on the channel written in ----
ok(wait_until(idle, 20), "idle before the replies")
before = marks()
is_(sms("a2", "+923011000007", "STATUS %s" % case_no1), 200, "STATUS on a2 answered")
is_(sms("a3", "+923015550001", "JOIN Korangi"), 200, "JOIN on a3 answered")
ok(wait_until(idle, 20), "the replies sent")
is_(gw.sql("SELECT channel, phone FROM outbox WHERE kind = 'reply' AND phone IN"
           " ('+923011000007', '+923015550001') ORDER BY phone"),
    [("a2", "+923011000007"), ("a3", "+923015550001")], "each reply row is on the channel written in")
is_((received(mocks["a1"], before["a1"]), received(mocks["a2"], before["a2"]),
     received(mocks["a3"], before["a3"])), ([], ["+923011000007"], ["+923015550001"]),
    "and went out there: a2's to a2, a3's to a3, nothing on a1")

# ---- 6. kill -9 in the middle of an alert: 'sending' rows go back to the pool ----
for m in mocks.values():
    m.behaviour([{"path_prefix": "/version1/messaging", "times": -1, "delay_ms": 300}])
case4, _, _, before = report_and_verify("Zain")
target4 = TARGET | {"+923015550001"}
ok(wait_until(lambda: gw.sql("SELECT count(*) FROM outbox WHERE case_id = ? AND state = 'sending'",
                             (case4,))[0][0] > 0, 20), "case 4: rows in flight")
gw.kill9()
left = gw.sql("SELECT count(*) FROM outbox WHERE case_id = ? AND state = 'sending'", (case4,))[0][0]
ok(left > 0, "case 4: %d rows left 'sending' by the kill" % left)
for m in mocks.values():
    m.behaviour([])  # records stay
gw.restart()
ok("event=recovered" in gw.log(), "the restart requeued them (event=recovered)")
ok(wait_sent(case4, "alert", len(target4), 60), "case 4: all %d alert rows sent after the restart"
   % len(target4))
every = [p for n, m in mocks.items() for p in received(m, before[n], (-1, 0))]
is_(set(every), target4, "case 4: every recipient got the alert")
ok(len(every) - len(target4) <= left, "case 4: %d sent twice, at most the %d in flight at the kill"
   % (len(every) - len(target4), left))
is_(gw.sql("SELECT count(*) FROM outbox WHERE case_id = ? AND kind = 'alert' AND state = 'sent'"
           " AND channel IN ('a1', 'a2', 'a3')", (case4,))[0][0], len(target4),
    "case 4: every row sent by one of the three, none left in the pool")
is_(gw.sql("SELECT count(*) FROM outbox WHERE pool IS NOT NULL AND pool <> '*alerts'")[0][0], 0,
    "a row's pool is only ever the alert pool")

code = gw.stop()[0]
is_(code, 0, "clean exit")
is_(gw.sanitizer_report(), None, "no sanitizer report")
gw.close()
mock_at.stop()
for m in mocks.values():
    m.stop()
sys.exit(done_testing())
