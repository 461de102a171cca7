#!/bin/sh
# update-readme.sh [BUILD] — puts `talaash options` between the README's
# <!-- options:begin --> and <!-- options:end --> markers.
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
tmp=$(mktemp)
"$build/talaash" options > "$tmp"
awk -v f="$tmp" '
    /<!-- options:begin -->/ { print; while ((getline l < f) > 0) print l; skip = 1; next }
    /<!-- options:end -->/ { skip = 0 }
    !skip { print }
' README.md > README.md.new
mv README.md.new README.md
rm -f "$tmp"
