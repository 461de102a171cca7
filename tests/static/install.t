#!/usr/bin/env python3
"""install.t — `make install` and what it installs (issue #16): the files
where the FHS puts them (DESTDIR and PREFIX honoured), the config from
gateway.conf.example with the server's paths, kept when it exists; the unit
checked by `systemd-analyze verify` (and its exposure by `systemd-analyze
security --offline`); man pages rendered by `man --warnings` with no
warning, gateway.conf(5) listing every option of the table; the logrotate
snippet accepted by logrotate and rotating a running gateway's log with
SIGHUP. The Debian package itself is `make test-deb` (tests/deb/deb.t)."""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from tap import ok, is_, diag, done_testing  # noqa: E402
from talaash import Gateway, ROOT, BUILD, binary, wait_until  # noqa: E402


def run(argv, **kw):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=300, **kw)
    return p.returncode, p.stdout, p.stderr


tmp = tempfile.mkdtemp(prefix="talaash-install-")
dest = os.path.join(tmp, "root")
# A make of its own: not the jobserver of a make that may be running this test.
env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
make = ["make", "--no-print-directory", "-C", ROOT, "BUILD=" + BUILD, "PREFIX=/usr",
        "UNITDIR=/lib/systemd/system", "DESTDIR=" + dest]
code, out, err = run(make + ["install"], env=env)
if not is_(code, 0, "make install DESTDIR=… PREFIX=/usr"):
    diag((out + err)[-2000:])
files = sorted(os.path.relpath(os.path.join(d, f), dest)
               for d, _, fs in os.walk(dest) for f in fs)
want = ["etc/logrotate.d/talaash", "etc/talaash/gateway.conf", "lib/systemd/system/talaash.service",
        "usr/sbin/talaash", "usr/share/man/man5/gateway.conf.5", "usr/share/man/man8/talaash.8",
        "usr/share/talaash/areas/pakistan.csv", "usr/share/talaash/gateway.conf.example"]
console = sorted("usr/share/talaash/" + os.path.relpath(os.path.join(d, f), ROOT)
                 for d, _, fs in os.walk(os.path.join(ROOT, "console")) for f in fs)
is_(files, sorted(want + console),
    "the files where the FHS puts them%s" % (" (and console/)" if console else
                                             " (no console/ folder yet: none installed)"))
for d in ("var/lib/talaash", "var/log/talaash"):
    ok(os.path.isdir(os.path.join(dest, d)), "/%s/ made" % d)
is_(os.stat(os.path.join(dest, "usr/sbin/talaash")).st_mode & 0o777, 0o755, "the binary is 0755")
is_(os.stat(os.path.join(dest, "etc/talaash/gateway.conf")).st_mode & 0o777, 0o640,
    "the config is 0640 (it may hold secrets)")

conf = os.path.join(dest, "etc/talaash/gateway.conf")
text = open(conf).read()
code, out, err = run([binary(), "check-config", conf])
is_((code, err), (0, ""), "the installed config passes check-config")
example = open(os.path.join(ROOT, "gateway.conf.example")).read().splitlines()
changed = [(a, b) for a, b in zip(example, text.splitlines()) if a != b]
is_([b for _, b in changed[1:]],
    ["path = /var/lib/talaash/talaash.db", "file = /var/log/talaash/talaash.log",
     "areas_file = /usr/share/talaash/areas/pakistan.csv",
     "console_dir = /usr/share/talaash/console"],
    "it is gateway.conf.example with the store, log, gazetteer and console paths of a server")
is_(len(text.splitlines()), len(example), "and nothing else added or lost")

# The operator's config is never overwritten.
with open(conf, "a") as f:
    f.write("; changed by the operator\n")
code, out, err = run(make + ["install"], env=env)
is_(code, 0, "make install again")
ok(open(conf).read().endswith("; changed by the operator\n"), "keeps the existing config")
ok(os.path.exists(conf + ".dist") and "kept" in out, "and puts the new one beside it (.dist)")

code, out, err = run(["make", "--no-print-directory", "-C", ROOT, "BUILD=" + BUILD,
                      "DESTDIR=" + os.path.join(tmp, "local"), "install"], env=env)
ok(code == 0 and os.path.exists(os.path.join(tmp, "local/usr/local/sbin/talaash")) and
   "ExecStart=/usr/local/sbin/talaash serve" in
   open(os.path.join(tmp, "local/usr/local/lib/systemd/system/talaash.service")).read(),
   "the default PREFIX is /usr/local, and the unit names the binary there")

# ---- the unit ----
unit_text = open(os.path.join(dest, "lib/systemd/system/talaash.service")).read()
settings = {}
for line in unit_text.splitlines():
    m = re.match(r"([A-Za-z]+)=(.*)$", line)
    if m:
        settings.setdefault(m.group(1), m.group(2))
for key, value in [("Type", "notify"), ("NotifyAccess", "main"), ("User", "talaash"),
                   ("ExecStart", "/usr/sbin/talaash serve -c /etc/talaash/gateway.conf"),
                   ("ExecReload", "/bin/kill -HUP $MAINPID"), ("Restart", "on-failure"),
                   ("WatchdogSec", "30s"), ("ProtectSystem", "strict"),
                   ("ReadWritePaths", "/var/lib/talaash"), ("NoNewPrivileges", "yes"),
                   ("PrivateTmp", "yes"), ("CapabilityBoundingSet", ""),
                   ("WantedBy", "multi-user.target")]:
    is_(settings.get(key), value, "talaash.service: %s=%s" % (key, value))
if shutil.which("systemd-analyze") is None:
    ok(True, "# SKIP systemd-analyze is not installed")
else:
    unit_dir = os.path.join(tmp, "unit")
    os.makedirs(unit_dir)
    unit = os.path.join(unit_dir, "talaash.service")
    with open(unit, "w") as f:  # the binary where it is installed in DESTDIR
        f.write(unit_text.replace("/usr/sbin/talaash", os.path.join(dest, "usr/sbin/talaash")))
    man_env = dict(os.environ, MANPATH=os.path.join(dest, "usr/share/man"))
    code, out, err = run(["systemd-analyze", "verify", unit], env=man_env)
    is_((code, out + err), (0, ""), "systemd-analyze verify: no complaint (binary, man pages found)")
    code, out, err = run(["systemd-analyze", "security", "--offline=yes", unit])
    m = re.search(r"Overall exposure level for talaash.service: ([0-9.]+)", out + err)
    ok(m and float(m.group(1)) <= 2.0,
       "systemd-analyze security: exposure %s (at most 2.0)" % (m.group(1) if m else "?"))
    broken = os.path.join(unit_dir, "broken.service")
    with open(broken, "w") as f:
        f.write(unit_text.replace("Type=notify", "Type=notifyy"))
    code, out, err = run(["systemd-analyze", "verify", broken], env=man_env)
    ok(code != 0 or "notifyy" in out + err, "(and verify does complain about a broken unit)")

# ---- man pages ----
pages = {}
for page in ("man8/talaash.8", "man5/gateway.conf.5"):
    path = os.path.join(dest, "usr/share/man", page)
    code, out, err = run(["man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", path],
                         env=dict(os.environ, MANWIDTH="80"))
    is_((code, err), (0, ""), "man --warnings -l %s: no warning" % page)
    code, out, err = run(["man", "-l", path], env=dict(os.environ, MANWIDTH="80", MAN_KEEP_FORMATTING=""))
    pages[page] = re.sub(r".\x08", "", out)
code, md, _ = run([binary(), "options"])
options = []
section = None
for line in md.splitlines():
    m = re.match(r"#### `\[(\w+)", line)
    if m:
        section = m.group(1)
    m = re.match(r"\| `(\w+)` \| ([^|]+) \|", line)
    if m:
        options.append((section, m.group(1), m.group(2).strip()))
ok(len(options) >= 40, "the option table has %d options" % len(options))
options_part = pages["man5/gateway.conf.5"].split("\nOPTIONS\n", 1)[-1].split("\nEXAMPLE\n")[0]
missing = [o for o in options if not re.search(r"^\s+%s = %s$" % (re.escape(o[1]), re.escape(o[2])),
                                               options_part, re.M)]
is_(missing, [], "gateway.conf(5) describes every option of the table (name = type)")
sections = re.findall(r"^   \[(\w+)", options_part, re.M)
is_(sections, list(dict.fromkeys(s for s, _, _ in options)), "in the table's sections, in order")
for cmd in ("serve", "check-config", "backup", "police add", "areas", "parse", "options"):
    ok(re.search(r"^\s+talaash %s" % cmd, pages["man8/talaash.8"], re.M),
       "talaash(8) shows talaash %s" % cmd)

# ---- logrotate ----
if shutil.which("logrotate") is None:
    ok(True, "# SKIP logrotate is not installed")
else:
    snippet = open(os.path.join(dest, "etc/logrotate.d/talaash")).read()
    ok("/var/log/talaash/*.log {" in snippet and "pkill -HUP -x talaash" in snippet,
       "the snippet rotates /var/log/talaash/*.log and sends SIGHUP")
    gw = Gateway()
    logdir = os.path.join(gw.dir, "log")
    os.makedirs(logdir)
    logfile = os.path.join(logdir, "talaash.log")
    gw.conf_extra = "[log]\nlevel = info\nfile = %s\n" % logfile
    with gw:
        ok(wait_until(lambda: os.path.exists(logfile) and "event=started" in open(logfile).read(), 5),
           "a gateway logs to a file")
        # This test's copy: its folder, its user (no talaash user here), its daemon
        # only (pkill -x talaash would signal every gateway on the machine).
        me = subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
        mine = (snippet.replace("/var/log/talaash", logdir)
                .replace("create 0640 talaash adm", "create 0640 %s" % me)
                .replace("pkill -HUP -x talaash", "kill -HUP %d" % gw.proc.pid))
        lconf = os.path.join(gw.dir, "logrotate.conf")
        open(lconf, "w").write(mine)
        state = os.path.join(gw.dir, "logrotate.state")
        code, out, err = run(["logrotate", "-d", "-s", state, lconf])
        is_([l for l in (out + err).splitlines() if l.startswith("error")], [],
            "logrotate -d: no error")
        code, out, err = run(["logrotate", "-f", "-s", state, lconf])
        is_((code, err), (0, ""), "logrotate -f rotates")
        ok(os.path.exists(logfile + ".1") and "event=started" in open(logfile + ".1").read(),
           "the old log is talaash.log.1")
        ok(wait_until(lambda: os.path.exists(logfile) and
                      "event=log_reopened" in open(logfile).read(), 5),
           "and the gateway writes a new talaash.log after its SIGHUP")
        code, _ = gw.stop(signal.SIGTERM)
        is_(code, 0, "the gateway stops cleanly")

shutil.rmtree(tmp, ignore_errors=True)
sys.exit(done_testing())
