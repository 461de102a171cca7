#!/bin/sh
# lint.t — the source rules of STYLE.md that a machine can check, as TAP:
# banned functions, include boundaries (only gateway/store/sqlite*.c speaks
# SQLite and only gateway/store/pg*.c libpq; the rest of the gateway sees
# the store's interface headers only; only
# sender.c speaks curl, parsers/ and providers/ do no I/O, the sender knows
# nothing above it, the gateway's includes form no cycle), and a comment
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
check "sqlite3.h only in gateway/store/sqlite*.c (and store tests)" \
    "$(grep -ln '#include <sqlite3.h>' $src | grep -vE '^gateway/store/sqlite[a-z_]*\.[ch]$|^tests/unit/test_(store|outbox)[a-z_]*\.c$|^bench/')"
check "libpq-fe.h only in gateway/store/pg*.c (and store tests)" \
    "$(grep -ln '#include <libpq-fe.h>' $src | grep -vE '^gateway/store/pg[a-z_]*\.[ch]$|^tests/unit/(test_)?(store|outbox|pg)[a-z_]*\.[ch]$|^bench/')"
check "outside gateway/store/ only its interface headers are included (store, store_api, store_feed, store_stats)" \
    "$(grep -nE '#include "gateway/store/' $(echo "$src" | grep -vE '^gateway/store/') | grep -vE '"gateway/store/store(_api|_feed|_stats)?\.h"')"
check "curl/curl.h only in gateway/sender.c" \
    "$(grep -ln '#include <curl/curl.h>' $src | grep -vE '^gateway/sender\.c$|^bench/')"
check "parsers/ and providers/ include no event loop, store, curl or gateway header" \
    "$(grep -nE '#include (<event2/|<sqlite3\.h>|<curl/|"gateway/)' $(echo "$src" | grep -E '^(parsers|providers|common)/'))"
check "common/ includes nothing of parsers/, providers/ or gateway/ (the bottom layer)" \
    "$(grep -nE '#include "(parsers|providers|gateway)/' $(echo "$src" | grep -E '^common/'))"
# gateway/ modules: who includes whom ("FILE MODULE" per line, FILE a path).
gw_includes() {
    for f in $(echo "$src" | grep -E '^gateway/[a-z_]+\.[ch]$'); do
        sed -n -e 's|^#include "gateway/\([a-z_]*\)\.h".*|\1|p' \
            -e 's|^#include "gateway/store/[a-z_]*\.h".*|store|p' "$f" | sed "s|^|$f |"
    done
}
# Includes of gateway/X.h by any file outside the list (ERE of paths).
included_outside() { # included_outside MODULE ALLOWED-PATHS-ERE
    gw_includes | awk -v m="$1" '$2 == m { print $1 }' | grep -vE "^($2)\$"
}
check "sender.c and sender.h include no gateway module above the store (hooks, not calls up)" \
    "$(gw_includes | grep -E '^gateway/sender\.[ch] ' |
        grep -vE ' (sender|clock|config|daemon|job|log|metrics|store)$')"
check "sender.h only in sender.c and daemon.c (the owner wires the sender)" \
    "$(included_outside sender 'gateway/sender\.c|gateway/daemon\.c')"
check "group.h only in group.c, the callers that write for a request (callbacks.c, api.c) and daemon.c" \
    "$(included_outside group 'gateway/group\.c|gateway/callbacks\.c|gateway/api\.c|gateway/daemon\.c')"
check "commands.h only in commands.c, callbacks.c and daemon.c" \
    "$(included_outside commands 'gateway/commands\.c|gateway/callbacks\.c|gateway/daemon\.c')"
check "routes.h only in routes.c and daemon.c (the server gets its table from the owner)" \
    "$(included_outside routes 'gateway/routes\.c|gateway/daemon\.c')"
# Module of a path: gateway/cases.h -> cases; X.c and X.h are one node; the
# store's folder (gateway/store/*) is one node, store.
# daemon.h is the shared context (struct tl_daemon, no module behind it) and
# is not an edge; daemon.c, the owner, may include everyone.
check "gateway/ include graph has no cycle (daemon.h aside); a cycle is printed" \
    "$(gw_includes | sed 's|^gateway/\([a-z_]*\)\.[ch] |\1 |' | awk '
        $1 != $2 && $2 != "daemon" { if (!((($1) SUBSEP ($2)) in seen)) { seen[$1, $2] = 1; out[$1] = out[$1] " " $2 } nodes[$1] = 1; nodes[$2] = 1 }
        function visit(v,   i, n, next_, k, path) {
            color[v] = 1; stack[++depth] = v
            n = split(out[v], next_, " ")
            for (i = 1; i <= n; i++) {
                if (color[next_[i]] == 1) {
                    path = next_[i]
                    for (k = depth; k >= 1 && stack[k] != next_[i]; k--) path = stack[k] " -> " path
                    print next_[i] " -> " path; found = 1
                } else if (color[next_[i]] == 0) visit(next_[i])
            }
            depth--; color[v] = 2
        }
        END { for (v in nodes) if (color[v] == 0) visit(v) }')"
check "every source file opens with a comment" \
    "$(for f in $src; do case "$f" in */gen/*) continue;; esac; head -c 2 "$f" | grep -q '^/\*' || echo "$f"; done)"
check "no tabs in C sources (the style uses spaces)" \
    "$(grep -lP '\t' $(echo "$src" | grep -vE '^tests/fixtures/') 2>/dev/null)"
echo "1..$n"
exit $fail
