#!/usr/bin/env bash
# What installing animgraph needs beyond Python: a C compiler and Python's headers, to build the
# GIF encoder's C module (workers/media/_gifcore.c). Quick when they are already there; on
# Debian, installs gcc and the interpreter's -dev package. Usage: ensure-build-tools.sh [python]
set -euo pipefail

PYTHON="${1:-python3}"
include="$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
version="$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
need=()
command -v cc >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1 || need+=(gcc libc6-dev)
[ -f "$include/Python.h" ] || need+=("python${version}-dev")
if [ "${#need[@]}" -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    echo "ERROR: building animgraph needs ${need[*]} (a C compiler and Python.h in $include);" \
        "run 'apt-get install -y ${need[*]}' as root" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "ERROR: building animgraph needs a C compiler and Python.h in $include" >&2
    exit 1
fi
echo "Installing ${need[*]} to build animgraph's C module..." >&2
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq "${need[@]}" >/dev/null
