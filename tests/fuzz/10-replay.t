#!/usr/bin/env python3
"""10-replay.t — every fuzz harness's entry point over its committed corpus
(tests/fuzz/corpus/NAME) and its kept crashes (tests/fuzz/regressions/NAME),
without libFuzzer: $TALAASH_BUILD/fuzz-replay/NAME (tests/fuzz/replay.c
linked with the normal build, so ASan+UBSan under `make check`). A broken
invariant aborts the replay; the input that did it is named below."""

import glob
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from tap import ok, is_, diag, done_testing  # noqa: E402

BUILD = os.environ.get("TALAASH_BUILD", "build")
names = sorted(os.path.basename(p)[:-2] for p in glob.glob(os.path.join(HERE, "fuzz_*.c")))
ok(len(names) >= 9, "the harnesses are found (%d)" % len(names))


def files(d):
    return sorted(f for f in glob.glob(os.path.join(d, "*")) if os.path.isfile(f)) if os.path.isdir(d) else []


for name in names:
    corpus = os.path.join(HERE, "corpus", name)
    regressions = os.path.join(HERE, "regressions", name)
    inputs = files(corpus) + files(regressions)
    ok(len(files(corpus)) > 0, "%s: the corpus is not empty (%d files)" % (name, len(files(corpus))))
    exe = os.path.join(BUILD, "fuzz-replay", name)
    if not ok(os.access(exe, os.X_OK), "%s: %s is built" % (name, exe)):
        continue
    start = time.monotonic()
    p = subprocess.run([exe] + [d for d in (corpus, regressions) if os.path.isdir(d)],
                       capture_output=True, text=True, timeout=300)
    took = time.monotonic() - start
    if not is_(p.returncode, 0, "%s: %d inputs replay without a crash or a broken invariant (%.1fs)"
               % (name, len(inputs), took)):
        last = [l for l in p.stderr.splitlines() if l.startswith("replay: ")]
        diag("the input that failed: %s" % (last[-1][8:] if last else "(none ran)"))
        diag("\n".join(p.stderr.splitlines()[-25:]))
        continue
    is_(p.stdout.strip(), str(len(inputs)), "%s: every input was replayed" % name)

sys.exit(done_testing())
