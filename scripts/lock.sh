#!/usr/bin/env bash
# The dependency lock. uv.lock holds every dependency resolved once for every platform and
# Python >= 3.11, with hashes; requirements/*.txt are its exports, which pip installs with
# --require-hashes (make install, so make demo, make test and CI; the Dockerfile):
#   requirements/build.txt  pip and setuptools (the [dependency-groups] build of pyproject.toml)
#   requirements/app.txt    what animgraph runs on (the Dockerfile's image)
#   requirements/dev.txt    that and the dev extra (tests, linters, uv itself)
# Usage: scripts/lock.sh lock          after editing pyproject.toml's dependencies: resolve
#                                      what changed, keep every other pin, export
#        scripts/lock.sh upgrade [PKG...]  newest versions allowed (of PKG only, if named), export
#        scripts/lock.sh export        write requirements/ from uv.lock as it is
#        scripts/lock.sh check         fail if requirements/ is not uv.lock's export
set -euo pipefail
cd "$(dirname "$0")/.."
UV="${UV:-.venv/bin/uv}"

export_to() {
    local dir="$1"
    mkdir -p "$dir"
    "$UV" export --frozen --quiet --only-group build --no-emit-project >"$dir/build.txt"
    "$UV" export --frozen --quiet --no-default-groups --no-emit-project >"$dir/app.txt"
    "$UV" export --frozen --quiet --no-default-groups --extra dev --no-emit-project >"$dir/dev.txt"
}

case "${1:-export}" in
lock)
    "$UV" lock
    export_to requirements
    ;;
upgrade)
    shift
    if [ $# -gt 0 ]; then
        args=()
        for package in "$@"; do args+=(--upgrade-package "$package"); done
        "$UV" lock "${args[@]}"
    else
        "$UV" lock --upgrade
    fi
    export_to requirements
    ;;
export)
    export_to requirements
    ;;
check)
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    export_to "$tmp"
    for name in build app dev; do
        if ! cmp -s "$tmp/$name.txt" "requirements/$name.txt"; then
            echo "requirements/$name.txt is not uv.lock's export: run scripts/lock.sh export" >&2
            exit 1
        fi
    done
    ;;
*)
    echo "usage: $0 lock | upgrade [PACKAGE...] | export | check" >&2
    exit 2
    ;;
esac
