"""tap.py — a tiny Test Anything Protocol producer for the Python test scripts.

    from tap import ok, is_, diag, done_testing
    ok(x > 0, "x is positive")
    is_(got, want, "answer")          # prints got/expected on failure
    sys.exit(done_testing())          # prints the plan, returns the exit status

Output goes to stdout for prove; diagnostics start with '#'.
"""

import sys

_count = 0
_failed = 0


def _emit(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def diag(*msg):
    """Prints a '#' comment (each line of the message prefixed)."""
    for line in " ".join(str(m) for m in msg).splitlines() or [""]:
        _emit("# " + line)


def ok(cond, name=""):
    """Records one test; returns cond as a bool so callers can branch on it."""
    global _count, _failed
    _count += 1
    passed = bool(cond)
    if not passed:
        _failed += 1
    _emit("%sok %d - %s" % ("" if passed else "not ", _count, name.replace("\n", " ")))
    return passed


def is_(got, want, name=""):
    """ok(got == want) with both values shown when they differ."""
    passed = ok(got == want, name)
    if not passed:
        diag("  got:      %r" % (got,))
        diag("  expected: %r" % (want,))
    return passed


def skip_all(reason):
    """Skips the whole script (prints '1..0 # SKIP reason') and exits 0."""
    _emit("1..0 # SKIP " + reason)
    sys.exit(0)


def bail_out(reason):
    """Stops the whole test run (prove aborts) and exits 255."""
    _emit("Bail out! " + reason)
    sys.exit(255)


def done_testing():
    """Prints the plan; returns 0 when every test passed, else the failures (max 254)."""
    _emit("1..%d" % _count)
    if _count == 0:
        diag("no tests run")
        return 255
    if _failed:
        diag("failed %d of %d tests" % (_failed, _count))
    return min(_failed, 254)
