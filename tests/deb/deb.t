#!/usr/bin/env python3
"""deb.t — `make test-deb` (issue #16): builds the Debian package with
`dpkg-buildpackage -us -uc -b` from a clean copy of the tree, unpacks it
into a scratch root (dpkg-deb -x), and checks what a server would get: the
files where the FHS puts them, the conffiles, the maintainer scripts, the
installed binary's check-config on the installed config, a start of that
binary on it (paths moved into the scratch root), man pages that render
without warnings, a unit systemd-analyze accepts, and lintian with no error.

Not in `make test` (tests/deb/ is left out of its glob): the build takes
about a minute. The work directory is $TALAASH_BUILD/deb."""

import glob
import gzip
import os
import http.client
import re
import shutil
import signal
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from tap import ok, is_, diag, done_testing, skip_all  # noqa: E402
from talaash import ROOT, BUILD, free_port, wait_until  # noqa: E402
from children import spawn  # noqa: E402

for tool in ("dpkg-buildpackage", "dpkg-deb", "lintian", "fakeroot"):
    if shutil.which(tool) is None:
        skip_all("%s is not installed (scripts/install-deps.sh installs it)" % tool)


def run(argv, **kw):
    p = subprocess.run(argv, capture_output=True, text=True, **kw)
    return p.returncode, p.stdout, p.stderr


work = os.path.join(ROOT, BUILD, "deb")
shutil.rmtree(work, ignore_errors=True)
changelog = open(os.path.join(ROOT, "debian", "changelog")).readline()
version = re.match(r"talaash \(([^)]+)\)", changelog).group(1)
src = os.path.join(work, "talaash-" + version)
os.makedirs(src)

# ---- a clean tree: the files git knows (committed or not, never ignored) ----
code, out, _ = run(["git", "-C", ROOT, "ls-files", "-co", "--exclude-standard", "-z"])
if code == 0:
    files = [f for f in out.split("\0") if f and os.path.isfile(os.path.join(ROOT, f))]
else:  # a tarball without .git: everything but build products
    files = [os.path.relpath(os.path.join(d, f), ROOT) for d, dirs, fs in os.walk(ROOT)
             for f in fs if not os.path.relpath(d, ROOT).split(os.sep)[0] in ("build", "var", ".git")]
for f in files:
    os.makedirs(os.path.dirname(os.path.join(src, f)), exist_ok=True)
    shutil.copy2(os.path.join(ROOT, f), os.path.join(src, f))
ok(not os.path.exists(os.path.join(src, "build")), "the copy has no build/ (%d files)" % len(files))

env = dict(os.environ, DEB_BUILD_OPTIONS="nocheck parallel=2")
env.pop("CI", None)  # the package build uses Debian's flags, not ours
env.pop("MAKEFLAGS", None)
env.pop("MFLAGS", None)
code, out, err = run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src, env=env, timeout=900)
if not is_(code, 0, "dpkg-buildpackage -us -uc -b builds"):
    diag((out + err)[-3000:])
    sys.exit(done_testing())
debs = sorted(glob.glob(os.path.join(work, "talaash_%s_*.deb" % version)))
is_(len(debs), 1, "it makes talaash_%s_ARCH.deb" % version)
deb = debs[0]
warnings = [l for l in (out + err).splitlines() if "warning" in l.lower() and "dpkg" in l]
is_(warnings, [], "no dpkg warning during the build")

# ---- the package's files ----
root = os.path.join(work, "root")
code, _, err = run(["dpkg-deb", "-x", deb, root])
is_(code, 0, "dpkg-deb -x unpacks it into a scratch root")
for path in ("usr/sbin/talaash", "etc/talaash/gateway.conf", "lib/systemd/system/talaash.service",
             "etc/logrotate.d/talaash", "usr/share/man/man8/talaash.8.gz",
             "usr/share/man/man5/gateway.conf.5.gz", "usr/share/talaash/areas/pakistan.csv",
             "usr/share/talaash/gateway.conf.example", "usr/share/doc/talaash/copyright"):
    ok(os.path.isfile(os.path.join(root, path)), "/" + path)
for path in ("var/lib/talaash", "var/log/talaash"):
    ok(os.path.isdir(os.path.join(root, path)), "/%s/" % path)
if os.path.isdir(os.path.join(ROOT, "console")):
    ok(os.path.isdir(os.path.join(root, "usr/share/talaash/console")), "/usr/share/talaash/console/")
code, out, _ = run([os.path.join(root, "usr/sbin/talaash"), "version"])
ok(out.startswith("talaash %s " % version), "the binary's version is the package's (%s)" % out.strip())

control = os.path.join(work, "control")
run(["dpkg-deb", "-e", deb, control])
conffiles = open(os.path.join(control, "conffiles")).read().split()
is_(sorted(conffiles), ["/etc/logrotate.d/talaash", "/etc/talaash/gateway.conf"],
    "conffiles: the config and the logrotate snippet (dpkg keeps a changed one on upgrade)")
postinst = open(os.path.join(control, "postinst")).read()
ok("adduser --quiet --system --group --home /var/lib/talaash" in postinst,
   "postinst creates the system user talaash")
ok("install -d -o talaash -g talaash -m 0750 /var/lib/talaash" in postinst,
   "postinst gives it /var/lib/talaash")
ok("dpkg-statoverride --update --add root talaash 0640 /etc/talaash/gateway.conf" in postinst,
   "postinst makes the config root:talaash 0640")
ok("deb-systemd-helper enable 'talaash.service'" in postinst and
   "deb-systemd-invoke $_dh_action 'talaash.service'" in postinst,
   "dh_installsystemd enables and starts talaash.service")
for script in ("postinst", "postrm", "prerm"):
    code, _, err = run(["sh", "-n", os.path.join(control, script)])
    is_((code, err), (0, ""), "%s is valid sh (sh -n)" % script)
code, out, _ = run(["dpkg-deb", "-f", deb, "Depends"])
ok("libsystemd0" in out and "adduser" in out, "Depends has libsystemd0 and adduser (%s)" % out.strip())

# ---- the installed config ----
conf = os.path.join(root, "etc/talaash/gateway.conf")
text = open(conf).read()
code, out, err = run([os.path.join(root, "usr/sbin/talaash"), "check-config", conf])
is_((code, out.strip()), (0, conf + ": ok (1 channel)"), "the installed binary accepts the installed config")
for line in ("path = /var/lib/talaash/talaash.db", "areas_file = /usr/share/talaash/areas/pakistan.csv",
             "file = /var/log/talaash/talaash.log", "console_dir = /usr/share/talaash/console"):
    ok(re.search("^" + re.escape(line) + "$", text, re.M), "the installed config says " + line)

# A start of the installed binary on that config, its paths moved into the scratch root.
port = free_port()
moved = (text.replace("listen = 127.0.0.1:8080", "listen = 127.0.0.1:%d" % port)
         .replace("= /var/", "= %s/var/" % root).replace("= /usr/", "= %s/usr/" % root))
# The console as a relative folder, the service's working directory /: the
# binary finds it beside itself (PREFIX/share/talaash/console).
moved = moved.replace("console_dir = %s/usr/share/talaash/console" % root, "console_dir = console")
moved_conf = os.path.join(work, "moved.conf")
open(moved_conf, "w").write(moved)
log = open(os.path.join(work, "serve.log"), "wb")
proc = spawn([os.path.join(root, "usr/sbin/talaash"), "serve", "-c", moved_conf],
             stdout=log, stderr=log, cwd="/")
log.close()


def healthy():
    if proc.poll() is not None:
        return True
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


ok(wait_until(healthy, 10) and proc.poll() is None, "the installed binary serves /healthz on it")
if os.path.isdir(os.path.join(ROOT, "console")):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/console/")
        resp = conn.getresponse()
        page = resp.read()
        ok(resp.status == 200 and page == open(os.path.join(ROOT, "console", "index.html"), "rb").read(),
           "and its console from /usr/share/talaash/console (console_dir = console, run in /)")
    finally:
        conn.close()
proc.send_signal(signal.SIGTERM)
is_(proc.wait(10), 0, "and stops with exit 0 on SIGTERM")
served = open(os.path.join(root, "var/log/talaash/talaash.log")).read()
with open(os.path.join(ROOT, "data", "areas", "pakistan.csv"), encoding="utf-8") as f:
    areas = sum(1 for line in f if line.strip() and not line.startswith("#")) - 1  # the header
ok(re.search(r"event=started .* areas=%d\b" % areas, served),
   "it logged to the configured file, the gazetteer's %d areas loaded" % areas)
ok(os.path.exists(os.path.join(root, "var/lib/talaash/talaash.db")), "its store is in /var/lib/talaash")

# ---- man pages, unit ----
for page in ("usr/share/man/man8/talaash.8.gz", "usr/share/man/man5/gateway.conf.5.gz"):
    code, out, err = run(["man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z",
                          os.path.join(root, page)], env=dict(os.environ, MANWIDTH="80"))
    is_((code, err), (0, ""), "man --warnings renders /%s without a warning" % page)
if shutil.which("systemd-analyze"):
    unit = open(os.path.join(root, "lib/systemd/system/talaash.service")).read()
    unit = unit.replace("/usr/sbin/talaash", os.path.join(root, "usr/sbin/talaash"))
    unit_path = os.path.join(work, "unit", "talaash.service")
    os.makedirs(os.path.dirname(unit_path))
    open(unit_path, "w").write(unit)
    code, out, err = run(["systemd-analyze", "verify", unit_path],
                         env=dict(os.environ, MANPATH=os.path.join(root, "usr/share/man")))
    is_((code, out + err), (0, ""), "systemd-analyze verify accepts the packaged unit")

# ---- lintian ----
code, out, err = run(["lintian", "--display-info", deb], timeout=600)
tags = [l for l in out.splitlines() if re.match(r"[EWIPX]: ", l)]
for l in tags:
    diag("lintian: " + l)
is_([l for l in tags if l.startswith("E: ")], [], "lintian: no error")
is_([l for l in tags if l.startswith("W: ")], [], "lintian: no warning")

sys.exit(done_testing())
