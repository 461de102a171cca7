"""children.py — starts the processes of a test (daemon, mock aggregator) so
that none outlives it: at the test's exit, also by an uncaught exception,
every child still running is killed. An orphaned daemon or mock would keep
its port and store, and could keep prove waiting on the test's pipes.
"""

import atexit
import subprocess

_children = []


def spawn(argv, **popen_args):
    """subprocess.Popen(argv, **popen_args), killed at exit if still running."""
    proc = subprocess.Popen(argv, **popen_args)
    _children[:] = [p for p in _children if p.poll() is None]
    _children.append(proc)
    return proc


@atexit.register
def _kill_children():
    for proc in _children:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
