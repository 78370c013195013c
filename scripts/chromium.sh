#!/usr/bin/env bash
# Makes Debian's Chromium ready for the console's browser tests and prints its path: installs the package
# if it is missing (as root; the package index is refreshed first, since a fresh machine has none).
# Prints nothing and exits 0 when it cannot: the browser tests then skip, unless DAIFA_CI is set, as CI
# sets it.
set -uo pipefail

if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "chromium.sh: Chromium is not installed and cannot be installed here" >&2
        exit 0
    fi
    echo "chromium.sh: installing Chromium from Debian" >&2
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; } >/dev/null 2>&1 \
        || { echo "chromium.sh: apt-get install chromium failed" >&2; exit 0; }
fi
command -v chromium
