#!/usr/bin/env python3
"""60-metrics.t — GET /metrics (issue #11): exact counter values after a
known sequence of callbacks and sends (Africa's Talking through our mock,
one retry, one delivery report, duplicates, bad and forged callbacks), the
store snapshot's gauges, the process figures, no phone number anywhere in
the exposition, and `promtool check metrics` on the output."""

import os
import re
import shutil
import subprocess
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from tap import ok, is_, diag, done_testing  # noqa: E402
from talaash import Gateway, stop_and_check, wait_until  # noqa: E402
from mockagg import MockAggregator  # noqa: E402

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """{(name, ((label, value), ...)): float} of every sample line."""
    out = {}
    for ln in text.splitlines():
        if not ln or ln.startswith("#"):
            continue
        m = SAMPLE.match(ln)
        if not m:
            raise ValueError("not a sample line: %r" % ln)
        labels = tuple(sorted(LABEL.findall(m.group(2) or "")))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def key(name, **labels):
    return (name, tuple(sorted(labels.items())))


mock = MockAggregator().start()
channels = """
[outbox]
retry_base = 0.05
retry_max = 0.1
max_attempts = 3

[alerts]
channel = at

[channel at]
provider = africastalking
base_url = %(M)s
username = sandbox
api_key = k-at-123
sender = 21512
rate = 10000

[channel gen]
provider = generic
base_url = %(M)s/generic/send
secret = gen-secret
token = gen-token
rate = 10000
""" % {"M": mock.url}
gw = Gateway(channels=channels).start()


def scrape():
    status, headers, body = gw.request("GET", "/metrics")
    return status, headers, body


def metrics():
    return parse(scrape()[2].decode())


def at_sms(id_, frm, text="HELP"):
    return gw.post_form("/sms/at", {"linkId": "1", "text": text, "to": "21512", "id": id_,
                                    "date": "2017-05-03T06:04:45Z", "from": frm})[0]


# ---- the first scrape, before anything happened ----
status, headers, body = scrape()
is_(status, 200, "GET /metrics answers 200")
is_(headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8",
    "Content-Type of the text format 0.0.4")
m0 = parse(body.decode())
is_(m0.get(key("talaash_inbound_messages_total", channel="at", kind="sms", outcome="processed")),
    0.0, "inbound counters exist at 0 for every configured channel")
ok(m0.get(key("talaash_stats_snapshot_age_seconds"), 99) <= 1.0,
   "the first scrape waited for a snapshot at most 1 s old")
is_(m0.get(key("talaash_cases", state="active")), 0.0, "no active case yet")

# ---- a known sequence ----
mock.behaviour([{"path_prefix": "/version1/messaging", "times": 1, "status": 500, "body": "oops"}])
statuses = [at_sms("m-1", "03001110001"), at_sms("m-2", "03001110002"), at_sms("m-3", "03001110003")]
is_(statuses, [200, 200, 200], "three SMS callbacks answered 200")
is_(at_sms("m-1", "03001110001"), 200, "a retried callback (same id) answered 200")
st, _, _ = gw.post_form("/sms/at", {"linkId": "1", "to": "21512", "id": "m-bad"})
is_(st, 400, "a callback without from/text is rejected 400")
st, _, _ = gw.request("POST", "/sms/gen", '{"id":"g-1","from":"+923001110009","text":"HELP"}',
                      {"Content-Type": "application/json", "X-Signature": "forged"})
is_(st, 403, "a forged generic callback is refused 403")
st, _, _ = gw.request("GET", "/nowhere")
is_(st, 404, "an unknown path is 404")

# Three replies; the first request meets the 500 and its messages are retried.
sent = wait_until(lambda: gw.sql("SELECT count(*) FROM outbox WHERE state = 'sent'")[0][0] == 3, 15)
ok(sent, "the three replies are sent (after one 500)")
retried_rows = gw.sql("SELECT count(*) FROM outbox WHERE attempts = 2")[0][0]
pid = gw.sql("SELECT provider_id FROM outbox WHERE phone = '+923001110002'")[0][0]
st, _, _ = gw.post_form("/dlr/at", {"id": pid, "status": "Success", "phoneNumber": "+923001110002"})
is_(st, 200, "a delivery report answered 200")

m = metrics()
is_(m.get(key("talaash_inbound_messages_total", channel="at", kind="sms", outcome="processed")),
    3.0, "inbound processed: 3")
is_(m.get(key("talaash_inbound_messages_total", channel="at", kind="sms", outcome="duplicate")),
    1.0, "inbound duplicate: 1")
is_(m.get(key("talaash_inbound_messages_total", channel="at", kind="sms", outcome="rejected")),
    1.0, "inbound rejected: 1")
is_(m.get(key("talaash_inbound_messages_total", channel="gen", kind="sms", outcome="forbidden")),
    1.0, "inbound forbidden on gen: 1")
is_(m.get(key("talaash_inbound_messages_total", channel="at", kind="sms", outcome="failed")),
    0.0, "inbound failed: 0")
is_(m.get(key("talaash_http_requests_total", route="/sms/{channel}", code="200")), 4.0,
    "/sms 200: 4 (three and the retry)")
is_(m.get(key("talaash_http_requests_total", route="/sms/{channel}", code="400")), 1.0, "/sms 400: 1")
is_(m.get(key("talaash_http_requests_total", route="/sms/{channel}", code="403")), 1.0, "/sms 403: 1")
is_(m.get(key("talaash_http_requests_total", route="/dlr/{channel}", code="200")), 1.0, "/dlr 200: 1")
is_(m.get(key("talaash_http_requests_total", route="other", code="404")), 1.0, "other 404: 1")
is_(m.get(key("talaash_http_request_duration_seconds_count", route="/sms/{channel}")), 6.0,
    "callback latency histogram counted 6 /sms answers")
is_(m.get(key("talaash_http_request_duration_seconds_bucket", route="/sms/{channel}", le="+Inf")),
    6.0, "its +Inf bucket equals its count")
is_(m.get(key("talaash_delivery_reports_total", channel="at", state="delivered")), 1.0,
    "delivery reports delivered: 1")
is_(m.get(key("talaash_outbound_messages_total", channel="at", result="sent")), 3.0,
    "outbound sent: 3")
is_(m.get(key("talaash_outbound_messages_total", channel="at", result="retried")),
    float(retried_rows), "outbound retried: the messages of the request that met the 500 (%d)"
    % retried_rows)
ok(retried_rows >= 1, "at least one message was retried")
is_(m.get(key("talaash_outbound_messages_total", channel="at", result="failed")), 0.0,
    "outbound failed: 0")
is_(m.get(key("talaash_send_requests_total", channel="at", answer="5xx")), 1.0,
    "send requests answered 5xx: 1")
reqs = len([r for r in mock.requests() if r["path"].startswith("/version1/messaging")])
is_(m.get(key("talaash_send_requests_total", channel="at", answer="2xx")), float(reqs - 1),
    "send requests answered 2xx: as many as the mock saw, less the 500 (%d)" % (reqs - 1))
is_(m.get(key("talaash_send_duration_seconds_count", channel="at")), float(reqs),
    "send latency histogram counted every request (%d)" % reqs)
ok(m.get(key("talaash_channel_last_success_timestamp_seconds", channel="at"), 0) > 1e9,
   "last success time of at is set")
ok(m.get(key("talaash_channel_last_error_timestamp_seconds", channel="at"), 0) > 1e9,
   "last error time of at is set (the 500)")
is_(m.get(key("talaash_channel_last_success_timestamp_seconds", channel="gen")), 0.0,
    "gen never sent: last success 0")
commits = m.get(key("talaash_group_commits_total", result="committed"))
is_(m.get(key("talaash_group_commit_callbacks_count")), commits,
    "group-commit size histogram counts every commit (%s)" % commits)
is_(m.get(key("talaash_group_commit_callbacks_sum")), 5.0,
    "the group commits held 5 callbacks (3 SMS, the retry, the DLR)")
is_(sum(v for (n, _), v in m.items() if n == "talaash_store_errors_total"), 0.0, "no store errors")
ok(m.get(key("process_resident_memory_bytes"), 0) > 1e6, "process RSS is reported")
ok(m.get(key("process_open_fds"), 0) >= 5, "open fds are reported")

# ---- gauges from the snapshot ----
def gauges_settled():
    g = metrics()
    return (g.get(key("talaash_outbox_messages", channel="at", kind="reply", state="sent")) == 2.0
            and g.get(key("talaash_outbox_messages", channel="at", kind="reply",
                          state="delivered")) == 1.0) and g


g = wait_until(gauges_settled, 5)
ok(g, "outbox gauges: reply sent 2, delivered 1 (snapshot at most ~1 s old)")
g = g or metrics()
is_(g.get(key("talaash_outbox_messages", channel="at", kind="reply", state="queued")), 0.0,
    "outbox gauge: nothing queued")
is_(g.get(key("talaash_queue_depth", channel="at", kind="reply", priority="1")), 0.0,
    "queue depth of replies (priority 1) is 0")
is_(g.get(key("talaash_cases", state="reported")), 0.0, "no case reported")

# A report makes a case; the gauge follows within a second or so.
at_sms("m-4", "03001234567", "MISSING Bilal, boy, 8, Korangi, blue shirt")
g = wait_until(lambda: (lambda x: x.get(key("talaash_cases", state="reported")) == 1.0 and x)(metrics()), 5)
ok(g, "talaash_cases{state=reported} is 1 after a report")
is_(g and g.get(key("talaash_alerts_active")), 0.0, "no active alert (police have not verified)")
is_(g and g.get(key("talaash_subscribers")), float(gw.sql(
    "SELECT count(*) FROM subscribers WHERE opted_out = 0")[0][0]), "subscribers as in the store")

# ---- privacy and format ----
body = scrape()[2]
for phone in (b"3001234567", b"3001110001", b"3001110002", b"923001110009"):
    ok(phone not in body, "no phone number (%s) in the exposition" % phone.decode())
promtool = shutil.which("promtool")
if promtool is None:
    ok(True, "# SKIP promtool not installed (Debian package prometheus)")
else:
    r = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, timeout=30)
    is_((r.returncode, r.stdout.decode() + r.stderr.decode()), (0, ""),
        "promtool check metrics: no errors, no lint warnings")

st, headers, _ = gw.request("POST", "/metrics", "")
is_((st, headers.get("allow")), (405, "GET"), "POST /metrics is 405 with Allow: GET")

stop_and_check(gw)
mock.stop()
gw.close()
sys.exit(done_testing())
