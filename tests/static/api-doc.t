#!/usr/bin/env python3
"""api-doc.t — docs/api.yaml describes exactly the operator API the daemon serves:
every (method, path, role) of `talaash api-routes` is in the document and the
document names no route the daemon lacks."""

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from tap import ok, is_, done_testing  # noqa: E402
from talaash import binary, ROOT  # noqa: E402

out = subprocess.run([binary(), "api-routes"], capture_output=True, text=True, check=True).stdout
served = sorted(tuple(line.split()) for line in out.splitlines() if line.strip())
ok(len(served) >= 10, "the daemon lists its API routes (%d)" % len(served))

documented, path, method = [], None, None
with open(os.path.join(ROOT, "docs", "api.yaml")) as f:
    text = f.read()
ok(text.startswith("#") and "openapi: 3." in text, "docs/api.yaml is an OpenAPI 3 document")
in_paths = False
for line in text.splitlines():
    if line.startswith("paths:"):
        in_paths = True
        continue
    if not in_paths:
        continue
    m = re.match(r"^  (/\S+):\s*$", line)
    if m:
        path = m.group(1)
        continue
    m = re.match(r"^    (get|post|delete|put|patch):\s*$", line)
    if m:
        method = m.group(1).upper()
        continue
    m = re.match(r"^      x-role:\s*(\w+)\s*$", line)
    if m and path and method:
        documented.append((method, path, m.group(1)))
        method = None
documented.sort()
is_(documented, served, "docs/api.yaml and the daemon have the same routes with the same roles")
sys.exit(done_testing())
