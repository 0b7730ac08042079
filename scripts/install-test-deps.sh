#!/usr/bin/env bash
# What the tests need beyond the Python packages of `.[dev]`: Debian's chromium, which the
# console's browser tests (tests/test_console.py) drive through Playwright, and Debian's
# rabbitmq-server, from which tests/rabbitmq.py starts a node of its own for
# tests/test_rabbitmq.py when no RabbitMQ answers on 127.0.0.1:5672 (nothing is started here).
# Quick when they are already there. Without them those tests fail (they never skip), so a
# failed install stops here.
set -euo pipefail
source "$(dirname "$0")/apt-install.sh"

CHROMIUM=/usr/bin/chromium
RABBITMQ_SERVER=/usr/lib/rabbitmq/bin/rabbitmq-server

missing=()
[ -x "$CHROMIUM" ] || missing+=(chromium)
[ -x "$RABBITMQ_SERVER" ] || missing+=(rabbitmq-server)
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
apt_install "the console and RabbitMQ tests" "${missing[@]}"
for pkg in "${missing[@]}"; do
    case "$pkg" in
        chromium) path="$CHROMIUM" why="the console tests" ;;
        rabbitmq-server) path="$RABBITMQ_SERVER" why="the RabbitMQ tests" ;;
    esac
    if [ ! -x "$path" ]; then
        echo "ERROR: $pkg did not install; $why cannot run" >&2
        exit 1
    fi
done
