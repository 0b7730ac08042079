#!/usr/bin/env bash
# What the tests need beyond the Python packages of `.[dev]`: Debian's chromium, which the
# console's browser tests (tests/test_console.py) drive through Playwright. Quick when it is
# already there. Without it those tests fail (they never skip), so a failed install stops here.
set -euo pipefail
source "$(dirname "$0")/apt-install.sh"

if [ -x /usr/bin/chromium ]; then
    exit 0
fi
apt_install "the console tests" chromium
if [ ! -x /usr/bin/chromium ]; then
    echo "ERROR: chromium did not install; the console tests cannot run" >&2
    exit 1
fi
