#!/usr/bin/env bash
# What installing animgraph needs beyond Python: a C compiler and Python's headers, to build the
# GIF encoder's C module (workers/media/_gifcore.c). Quick when they are already there; on
# Debian, installs gcc and the interpreter's -dev package. Usage: ensure-build-tools.sh [python]
set -euo pipefail
source "$(dirname "$0")/apt-install.sh"

PYTHON="${1:-python3}"
include="$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
version="$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
need=()
command -v cc >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1 || need+=(gcc libc6-dev)
[ -f "$include/Python.h" ] || need+=("python${version}-dev")
if [ "${#need[@]}" -gt 0 ]; then
    apt_install "building animgraph's C module (Python.h in $include)" "${need[@]}"
fi
