#!/bin/sh
# readme.t — the README opens with the two set-up commands, and its config
# reference is exactly what `talaash options` prints (the one option table).
cd "$(dirname "$0")/../.." || exit 1
build=${TALAASH_BUILD:-build}
n=0
fail=0
result() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fail=1; fi; }

head -5 README.md | grep -q '^make run ' && head -5 README.md | grep -q '^make test '
result $? "README opens with make run and make test"

expected=$("$build/talaash" options)
actual=$(awk '/<!-- options:begin -->/{on=1; next} /<!-- options:end -->/{on=0} on' README.md)
[ "$expected" = "$actual" ]
result $? "README config reference equals talaash options (run scripts/update-readme.sh)"
echo "1..$n"
exit $fail
