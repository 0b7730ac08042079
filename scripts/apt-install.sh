#!/usr/bin/env bash
# apt_install WHY PACKAGE...: install Debian packages as root or through sudo, or stop with the
# command to run by hand. Sourced by the other scripts here.

apt_install() {
    local why="$1"
    shift
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo=(sudo)
        else
            echo "ERROR: $why needs $*, and this user cannot apt-get install it;" \
                "run 'apt-get install -y $*' as root" >&2
            exit 1
        fi
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "ERROR: $why needs $* (no apt-get here: install them by hand)" >&2
        exit 1
    fi
    echo "Installing $* for $why..." >&2
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq "$@" >/dev/null
}
