"""mockagg.py — drives build/mock_aggregator from Python tests (stdlib only).

    from mockagg import MockAggregator
    with MockAggregator() as mock:                 # starts it, stops it (SIGTERM)
        conf = "base_url = %s" % mock.url          # http://127.0.0.1:PORT
        mock.behaviour([{"path_prefix": "/version1/messaging", "times": 2, "status": 500}])
        ...
        reqs = mock.wait_for(lambda reqs: len(reqs) >= 3, timeout=10)
        reqs[0]["form"]["to"], reqs[0]["form"].getlist("to"), mock.stats()["recipients"]

The binary is found in $TALAASH_BUILD (default "build"), relative to the
current directory or else to the repository root. Every request the mock
recorded comes back as a dict: seq, t_ms, method, path, query, headers (names
lower-cased), body (str, or None with --no-record-bodies), body_len, rule
(index of the request-level rule applied, -1 none), and added here:
body_bytes (exact bytes), form (FormDict of a form-urlencoded body, else None),
args (FormDict of the query string), json (parsed JSON body, else None),
form_bytes / args_bytes (the same with bytes values, e.g. Kannel UTF-16BE).

Rules (behaviour([...]); tried in order; see tests/mock/mock_aggregator.c):
  matchers   path_prefix, method, recipient, body_contains   (all optional)
  times      how many requests (or recipients) it applies to; -1 = forever (default)
  request    status (200-599) + body (str or JSON) [+ content_type, retry_after
             (the Retry-After header, a string)], delay_ms,
             drop (close without answering), hang (never answer)
  recipient  at_status (AT statusCode), result_status (generic "status")
e.g. [{"path_prefix": "/version1/messaging", "times": 2, "status": 500, "body": "x"},
      {"path_prefix": "/2010", "times": 1, "delay_ms": 3000},
      {"recipient": "+923001110000", "at_status": 403}]
"""

import base64
import json
import os
import select
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

from children import spawn

_REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


class FormDict(dict):
    """name -> first value; getlist(name) -> every value; pairs -> [(name, value)] in order."""

    def __init__(self, pairs):
        super().__init__()
        self.pairs = list(pairs)
        for k, v in self.pairs:
            self.setdefault(k, v)

    def getlist(self, name):
        return [v for k, v in self.pairs if k == name]


def parse_form(text):
    """Parses urlencoded text into a FormDict (blank values and repeats kept)."""
    return FormDict(urllib.parse.parse_qsl(text or "", keep_blank_values=True,
                                           encoding="utf-8", errors="replace"))


def parse_form_bytes(text):
    """Like parse_form but values are the exact decoded bytes (e.g. Kannel's UTF-16BE text)."""
    pairs = urllib.parse.parse_qsl(text or "", keep_blank_values=True, encoding="latin-1")
    return FormDict((k, v.encode("latin-1")) for k, v in pairs)


def find_binary(name, build_dir=None):
    """Path of build/<name> (build dir from the argument, $TALAASH_BUILD or 'build')."""
    build_dir = build_dir or os.environ.get("TALAASH_BUILD") or "build"
    candidates = [os.path.join(build_dir, name)]
    if not os.path.isabs(build_dir):
        candidates.append(os.path.join(_REPO, build_dir, name))
    for path in candidates:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return os.path.abspath(path)
    raise FileNotFoundError("%s not found (tried %s); build it first" % (name, ", ".join(candidates)))


def read_port(proc, timeout, what):
    """Reads the 'port=NNNN' line a server prints once listening."""
    deadline = time.monotonic() + timeout
    line = b""
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("%s printed no port= line within %.1fs" % (what, timeout))
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if ready:
            ch = os.read(proc.stdout.fileno(), 1)
            if not ch:
                raise RuntimeError("%s exited (status %s) before listening"
                                   % (what, proc.wait(timeout=5)))
            line += ch
    text = line.decode().strip()
    if not text.startswith("port="):
        raise RuntimeError("%s printed %r, expected port=NNNN" % (what, text))
    return int(text[5:])


def wait_until(fn, timeout=10.0, what="condition"):
    """Calls fn() until it returns something truthy, which it returns; polls with a
    growing pause (5 ms to 100 ms) and raises TimeoutError once `timeout` s have passed."""
    deadline = time.monotonic() + timeout
    pause = 0.005
    while True:
        value = fn()
        if value:
            return value
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("%s not met within %.1fs" % (what, timeout))
        time.sleep(min(pause, left))
        pause = min(pause * 2, 0.1)


class MockAggregator:
    """The mock aggregator as a child process; see the module docstring."""

    def __init__(self, build_dir=None, args=(), host="127.0.0.1", port=0):
        self.build_dir = build_dir
        self.args = list(args)  # e.g. ["--record", path, "--max-records", "1000"]
        self.host = host
        self.listen_port = port  # 0: ephemeral; a port of an earlier mock: the same URL again
        self.proc = None
        self.port = None
        self.returncode = None

    # -- life cycle --------------------------------------------------------

    def start(self, build_dir=None, timeout=10.0):
        """Spawns the mock (on an ephemeral port unless one was given); returns self."""
        binary = find_binary("mock_aggregator", build_dir or self.build_dir)
        self.proc = spawn([binary, "--listen", "%s:%d" % (self.host, self.listen_port)] + self.args,
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
        try:
            self.port = read_port(self.proc, timeout, "mock_aggregator")
        except Exception:
            self.proc.kill()
            self.proc.wait()
            raise
        self.returncode = None
        return self

    @property
    def url(self):
        """Base URL to configure as a channel's base_url (no trailing slash)."""
        return "http://%s:%d" % (self.host, self.port)

    def stop(self, timeout=10.0):
        """SIGTERM, wait; returns the exit status (0 when clean). Kills after timeout."""
        if self.proc is None:
            return self.returncode
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise
        self.returncode = self.proc.returncode
        self.proc.stdout.close()
        self.proc = None
        return self.returncode

    def __enter__(self):
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- control API -------------------------------------------------------

    def _call(self, method, path, doc=None, timeout=10.0):
        data = None if doc is None else json.dumps(doc).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return json.loads(resp.read().decode())
        except urllib.error.HTTPError as e:
            raise RuntimeError("mock %s %s: %d %s" % (method, path, e.code, e.read().decode()))

    def reset(self):
        """Clears rules, records and stats (sequence numbers start again at 1)."""
        return self._call("POST", "/_mock/reset", {})

    def behaviour(self, rules):
        """Replaces the rule list (see the module doc); RuntimeError on a rule the mock refuses."""
        return self._call("POST", "/_mock/behaviour", {"rules": list(rules)})

    def rules(self):
        """The current rules as given, with 'times' remaining and 'hits' so far."""
        return self._call("GET", "/_mock/behaviour")["rules"]

    def stats(self):
        """Counters: requests, recipients, paths{path:{requests,recipients}}, status{code:n},
        canned, delayed, dropped, hung, pending, records, records_evicted, last_seq."""
        return self._call("GET", "/_mock/stats")

    def requests(self, since=0):
        """Recorded requests (seq > since), oldest first, each decorated (see module doc)."""
        path = "/_mock/requests" + ("?since=%d" % since if since else "")
        return [self._decorate(r) for r in self._call("GET", path)]

    @staticmethod
    def _decorate(r):
        if r.get("body_b64") is not None:
            raw = base64.b64decode(r["body_b64"])
        elif r.get("body") is not None:
            raw = r["body"].encode("utf-8")
        else:
            raw = None
        r["body_bytes"] = raw
        ctype = r.get("headers", {}).get("content-type", "").lower()
        r["args"] = parse_form(r.get("query", ""))
        r["args_bytes"] = parse_form_bytes(r.get("query", ""))
        r["form"] = r["form_bytes"] = None
        r["json"] = None
        if raw is not None and ctype.startswith("application/x-www-form-urlencoded"):
            r["form"] = parse_form(raw.decode("utf-8", "replace"))
            r["form_bytes"] = parse_form_bytes(raw.decode("latin-1"))
        elif raw is not None and "json" in ctype:
            try:
                r["json"] = json.loads(raw.decode("utf-8"))
            except ValueError:
                pass
        return r

    def wait_for(self, predicate, timeout=10.0, what="condition"):
        """Polls requests() until predicate(requests) is truthy; returns that value.
        Raises TimeoutError (naming `what` and the request count) at the deadline."""
        seen = []

        def check():
            seen[:] = self.requests()
            return predicate(seen)
        try:
            return wait_until(check, timeout, what)
        except TimeoutError as e:
            raise TimeoutError("%s (%d requests recorded)" % (e, len(seen))) from None

    def wait_for_requests(self, n, timeout=10.0, path_prefix=""):
        """Waits until at least n requests under path_prefix are recorded; returns them."""
        def enough(reqs):
            mine = [r for r in reqs if r["path"].startswith(path_prefix)]
            return mine if len(mine) >= n else None
        return self.wait_for(enough, timeout, "%d requests to %r" % (n, path_prefix or "/"))
