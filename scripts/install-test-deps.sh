#!/usr/bin/env bash
# What the tests need beyond the Python packages of `.[dev]`: Debian's chromium, which the
# console's browser tests (tests/test_console.py) drive through Playwright. Quick when it is
# already there. Without it those tests fail (they never skip), so a failed install stops here.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    echo "ERROR: /usr/bin/chromium is missing and this user cannot apt-get install it;" \
        "run 'apt-get install -y chromium' as root (the console tests need it)" >&2
    exit 1
fi
echo "Installing Debian's chromium for the console tests..." >&2
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq chromium >/dev/null
if [ ! -x /usr/bin/chromium ]; then
    echo "ERROR: chromium did not install; the console tests cannot run" >&2
    exit 1
fi
