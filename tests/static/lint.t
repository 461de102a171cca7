#!/bin/sh
# lint.t — the source rules of STYLE.md that a machine can check, as TAP:
# banned functions, include boundaries (only store*.c speaks SQLite, only
# sender.c speaks curl, parsers/ and providers/ do no I/O), and a comment
# opening every source file.
cd "$(dirname "$0")/../.." || exit 1
n=0
fail=0
check() { # check NAME OUTPUT: ok when OUTPUT is empty
    n=$((n + 1))
    if [ -z "$2" ]; then
        echo "ok $n - $1"
    else
        echo "not ok $n - $1"
        echo "$2" | sed 's/^/#   /'
        fail=1
    fi
}
src=$(git ls-files -co --exclude-standard -- '*.c' '*.h' 2>/dev/null)
[ -n "$src" ] || src=$(find common gateway parsers providers tests bench -name '*.[ch]')

check "no sprintf, strcpy, strcat, atoi, gets" \
    "$(grep -nE '\b(sprintf|strcpy|strcat|atoi|gets)[[:space:]]*\(' $src)"
check "sqlite3.h only in gateway/store*.c (and store tests)" \
    "$(grep -ln '#include <sqlite3.h>' $src | grep -vE '^gateway/store[a-z_]*\.[ch]$|^tests/unit/test_(store|outbox)[a-z_]*\.c$|^bench/')"
check "curl/curl.h only in gateway/sender.c" \
    "$(grep -ln '#include <curl/curl.h>' $src | grep -vE '^gateway/sender\.c$|^bench/')"
check "parsers/ and providers/ include no event loop, store, curl or gateway header" \
    "$(grep -nE '#include (<event2/|<sqlite3\.h>|<curl/|"gateway/)' $(echo "$src" | grep -E '^(parsers|providers|common)/'))"
check "every source file opens with a comment" \
    "$(for f in $src; do case "$f" in */gen/*) continue;; esac; head -c 2 "$f" | grep -q '^/\*' || echo "$f"; done)"
check "no tabs in C sources (the style uses spaces)" \
    "$(grep -lP '\t' $(echo "$src" | grep -vE '^tests/fixtures/') 2>/dev/null)"
echo "1..$n"
exit $fail
