#!/usr/bin/env bash
# Install the benchmark's reference tools and metric packages, and fetch the corpus clips.
# Debian 12 (root or sudo). Idempotent: re-running skips what is already there.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
py="${PYTHON:-$root/.venv/bin/python}"
tools="$here/.tools"
mkdir -p "$tools"

sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Reference tools from Debian: ffmpeg (two-pass, one-pass, libwebp_anim), gifsicle, img2webp.
need=()
command -v ffmpeg >/dev/null || need+=(ffmpeg)
command -v gifsicle >/dev/null || need+=(gifsicle)
command -v img2webp >/dev/null || need+=(webp)
command -v npm >/dev/null || need+=(npm)
[ -x /usr/bin/time ] || need+=(time)   # GNU time: peak RSS of each tool
if [ ${#need[@]} -gt 0 ]; then
    sudo_ apt-get update -qq
    sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi

# gifski (AGPL, a reference only): the npm package ships a prebuilt Linux binary.
if [ ! -x "$tools/gifski" ]; then
    mkdir -p "$tools/npm"
    (cd "$tools/npm" && npm install --silent --no-audit --no-fund gifski >/dev/null)
    bin="$(find "$tools/npm/node_modules/gifski" -type f -name gifski ! -path "*macos*" | head -1)"
    ln -sf "$bin" "$tools/gifski"
    chmod +x "$bin"
fi

# Metrics and plots (benchmark only, not runtime dependencies of animgraph).
"$py" -m pip install -q -r "$here/requirements.txt"

# Corpus: ../shared/corpus if present, else the clips from their Debian packages.
"$py" "$here/corpus.py" --fetch
echo "bench setup: ok"
