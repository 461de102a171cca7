#!/bin/sh
# install-deps.sh — installs the Debian packages Talaash needs to build, test,
# fuzz, benchmark and package, and nothing else; it starts no service.
# Idempotent and quick: when every package is already installed it only runs
# dpkg-query and exits.
set -eu

PACKAGES="build-essential pkg-config clang libclang-rt-14-dev
libevent-dev libcurl4-openssl-dev libsqlite3-dev libpcre2-dev libcjson-dev
libinih-dev libssl-dev libutf8proc-dev
sqlite3 curl perl python3 wrk libxml2-utils procps
libxml2-dev libsystemd-dev
kannel kannel-extras
chromium chromium-driver python3-selenium
prometheus
debhelper lintian scdoc logrotate fakeroot
libpq-dev postgresql python3-psycopg2"

missing=""
for p in $PACKAGES; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$status" in
    *"install ok installed"*) ;;
    *) missing="$missing $p" ;;
    esac
done

[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install-deps: not root and no sudo; install by hand:$missing" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
# Some of these packages ship a system service (kannel, prometheus): the
# tests start their own copies on free ports, so none is started here.
policy=/usr/sbin/policy-rc.d
own_policy=""
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 0755 "$policy"
    own_policy=1
fi
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $missing
[ -n "$own_policy" ] && $SUDO rm -f "$policy"
exit 0
