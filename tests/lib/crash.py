"""crash.py — kill -9 during a broadcast, shared by tests/e2e/40-crash.t (a few
hundred recipients, in `make test`) and tests/soak/crash.py (`make
soak-crash`: 100,000 recipients, 20 kills).

The bound on duplicates is the outbox itself: after each kill (the process
is dead, the store is still) the alert rows in state 'sending' are exactly
the messages that may have reached the aggregator without their result
being stored; the restart requeues them and they go again. Every other
alert row is either 'queued' (no request was ever made for it) or has its
result stored (it is never claimed again). So the bound checked is: extra
copies at the mock <= the sum over kills of the 'sending' alert rows, and
every phone received twice was 'sending' at some kill.

    gw = Gateway(channels=channels(mock.url, rate, batch, concurrency))
    rng = seeded_rng()                       # TALAASH_CRASH_SEED replays a run's kill moments
    run = CrashRun(gw, mock, rng, target)   # target: the set of phones the wave must reach
    run.after_kill("label")                 # after each gw.kill9(): checks, records in-flight rows
    run.kill_at_random(min_kills, max_kills, pause=(0.02, 0.8))
    run.check_all_sent(timeout)             # every alert row sent, none stuck
    run.check_received(since)               # what the mock got: everyone, no one else, bounded twice
"""

import os
import random
import time

from tap import ok, is_, diag
from talaash import story_channels, wait_until


def seeded_rng():
    """The kill moments' PRNG, seeded from TALAASH_CRASH_SEED or the clock (and said)."""
    seed = int(os.environ.get("TALAASH_CRASH_SEED") or int(time.time() * 1000) % 1000000007)
    diag("seed %d (TALAASH_CRASH_SEED=%d replays the kill moments)" % (seed, seed))
    return random.Random(seed)


def channels(mock_url, rate, batch, concurrency):
    """The config of both: replies on `at`, alerts (from TALAASH) on `alerts`, both at the mock."""
    return story_channels(mock_url, rate, batch, concurrency)


class CrashRun:
    def __init__(self, gw, mock, rng, target, sender="TALAASH"):
        self.gw, self.mock, self.rng = gw, mock, rng
        self.target = set(target)
        self.sender = sender
        self.inflight = []  # per kill: phones of alert rows in state 'sending'
        self.kills = 0
        self.kills_mid_broadcast = 0

    def alert_counts(self):
        return dict(self.gw.sql("SELECT state, count(*) FROM outbox WHERE kind = 'alert'"
                                " GROUP BY state"))

    def all_sent(self):
        c = self.alert_counts()
        return c.get("sent", 0) + c.get("delivered", 0) == len(self.target)

    def after_kill(self, label):
        """Checks the store of the dead daemon; records what was in flight."""
        self.kills += 1
        is_(self.gw.integrity(), [("ok",)],
            "integrity_check ok after kill %d (%s)" % (self.kills, label))
        sending = [r[0] for r in self.gw.sql(
            "SELECT phone FROM outbox WHERE kind = 'alert' AND state = 'sending'")]
        counts = self.alert_counts()
        if counts.get("queued", 0) + len(sending) > 0 and counts.get("sent", 0) + len(sending) > 0:
            self.kills_mid_broadcast += 1
        self.inflight.append(sending)
        diag("kill %d (%s): alert rows %s" % (self.kills, label, sorted(counts.items())))

    def kill_at_random(self, min_kills, max_kills, pause=(0.02, 0.8)):
        """kill -9 at random moments (a random pause, not a synchronisation), restarting each
        time, until max_kills or (min_kills and every alert row sent)."""
        while self.kills < max_kills and not (self.kills >= min_kills and self.all_sent()):
            if self.all_sent():
                break
            time.sleep(self.rng.uniform(*pause))
            self.gw.kill9()
            self.after_kill("random")
            self.gw.restart()

    def check_all_sent(self, timeout):
        ok(wait_until(self.all_sent, timeout), "after the last restart every alert row is sent")
        is_(self.alert_counts(), {"sent": len(self.target)},
            "no alert row failed, expired or stuck")

    def check_received(self, since):
        """What the aggregator received since mock seq `since`; returns the alert text."""
        gw = self.gw
        # No wave at all (the VERIFY failed) fails the checks below instead of ending the script.
        alert_text = (gw.sql("SELECT text_en FROM alerts WHERE kind = 'alert' LIMIT 1")
                      or [(None,)])[0][0]
        received = {}
        for r in self.mock.requests(since):
            f = r["form"]
            if r["path"].startswith("/version1/messaging") and f and \
                    f.get("from") == self.sender and f.get("message") == alert_text:
                for p in f["to"].split(","):
                    received[p] = received.get(p, 0) + 1
        missing = self.target - set(received)
        is_(len(missing), 0, "every targeted phone received the alert at least once"
            " (%d missing, e.g. %s)" % (len(missing), sorted(missing)[:5]))
        outside = set(received) - self.target
        is_(len(outside), 0, "no phone outside the target set received it (%d, e.g. %s)"
            % (len(outside), sorted(outside)[:5]))
        twice = {p: n for p, n in received.items() if n > 1}
        extra = sum(n - 1 for n in twice.values())
        in_flight_total = sum(len(x) for x in self.inflight)
        in_flight_phones = set(p for x in self.inflight for p in x)
        diag("kills %d, alert rows in flight at the kills %d, phones received more than once %d"
             " (extra copies %d)" % (self.kills, in_flight_total, len(twice), extra))
        ok(len(twice) <= in_flight_total and extra <= in_flight_total,
           "duplicates (%d phones, %d extra copies) <= messages in flight at the kills (%d)"
           % (len(twice), extra, in_flight_total))
        stray = sorted(set(twice) - in_flight_phones)
        is_(len(stray), 0, "every phone that got it twice was in flight at a kill (e.g. %s)"
            % stray[:5])
        return alert_text
