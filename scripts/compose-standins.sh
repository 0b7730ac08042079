#!/usr/bin/env bash
# Stand-ins for the base images compose.yaml and the Dockerfile name (python:3.11-slim-bookworm,
# redis:7), built from Debian bookworm packages with debootstrap, for machines that reach the
# Debian mirror but no container registry. Only the images that are neither present nor pullable
# are built; each one built is announced. Usage: scripts/compose-standins.sh [IMAGE...]
set -euo pipefail

IMAGES=("$@")
[ ${#IMAGES[@]} -gt 0 ] || IMAGES=(python:3.11-slim-bookworm redis:7)
WORK=${ANIMGRAPH_STANDIN_DIR:-/var/tmp/animgraph-standins}

# The mirror apt uses (deb822 sources or a one-line sources.list), deb.debian.org otherwise.
mirror() {
    local m
    m=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -1 || true)
    [ -n "$m" ] || m=$(grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
        | awk '{print $2}' | grep -v security | head -1 || true)
    echo "${m:-http://deb.debian.org/debian}"
}

# debootstrap a minbase bookworm with extra packages into $1, cleaned of apt lists and caches.
rootfs() {
    local dir=$1 include=$2
    rm -rf "$dir"
    debootstrap --variant=minbase --include="$include" bookworm "$dir" "$(mirror)" >"$dir.log" 2>&1 \
        || { tail -20 "$dir.log"; return 1; }
    rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin "$dir"/var/cache/apt/archives/*.deb
    # The host's local CAs (an egress proxy that re-signs TLS, say), so that pip and apt in a
    # build trust what the host trusts.
    if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null && [ -x "$dir/usr/sbin/update-ca-certificates" ]; then
        cp /usr/local/share/ca-certificates/*.crt "$dir/usr/local/share/ca-certificates/"
        chroot "$dir" update-ca-certificates >/dev/null 2>&1
    fi
    # The images resolve names through the engine's DNS; keep the host's out.
    : >"$dir/etc/resolv.conf"
    : >"$dir/etc/hostname"
}

python_standin() {
    local name=$1 dir=$WORK/python
    # libpython3.11-dev: the official image has the headers (Python.h) that C extensions build with.
    rootfs "$dir" python3,python3-venv,python3-pip,libpython3.11-dev,ca-certificates
    # The official image has `python` and `pip` on PATH, writable by root: a venv in /usr/local
    # gives both without touching Debian's externally managed python3 (PEP 668).
    chroot "$dir" python3 -m venv --without-pip /usr/local/python
    chroot "$dir" python3 -m pip --python /usr/local/python/bin/python install --quiet \
        --no-index --find-links /usr/share/python-wheels pip setuptools 2>/dev/null \
        || chroot "$dir" /usr/local/python/bin/python -m ensurepip --default-pip
    for b in python python3 pip pip3; do ln -sf /usr/local/python/bin/$b "$dir/usr/local/bin/$b"; done
    tar -C "$dir" -c . | docker import \
        --change 'ENV PATH=/usr/local/python/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
        --change 'CMD ["python3"]' \
        --message "animgraph stand-in for $name: Debian bookworm python3 $(chroot "$dir" python3 -V | cut -d' ' -f2)" \
        - "$name" >/dev/null
    rm -rf "$dir"
}

redis_standin() {
    local name=$1 dir=$WORK/redis
    rootfs "$dir" redis-server
    # Like the official image: run from /data, and without a config file turn protected mode off
    # (Redis 7 otherwise refuses clients from other containers, having no password).
    mkdir -p "$dir/data"
    cat >"$dir/usr/local/bin/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = redis-server ] && ! echo "$*" | grep -q -- --protected-mode; then
    set -- "$@" --protected-mode no
fi
exec "$@"
EOF
    chmod 755 "$dir/usr/local/bin/docker-entrypoint.sh"
    tar -C "$dir" -c . | docker import \
        --change 'WORKDIR /data' \
        --change 'ENTRYPOINT ["docker-entrypoint.sh"]' \
        --change 'CMD ["redis-server"]' \
        --change 'EXPOSE 6379' \
        --message "animgraph stand-in for $name: Debian bookworm redis-server" \
        - "$name" >/dev/null
    rm -rf "$dir"
}

mkdir -p "$WORK"
for image in "${IMAGES[@]}"; do
    if docker image inspect "$image" >/dev/null 2>&1; then
        continue
    fi
    if timeout 120 docker pull -q "$image" >/dev/null 2>&1; then
        echo "pulled $image"
        continue
    fi
    command -v debootstrap >/dev/null || { echo "debootstrap missing (apt-get install debootstrap)" >&2; exit 1; }
    echo "STAND-IN: $image cannot be pulled; building it from Debian bookworm packages (debootstrap, $(mirror))"
    case $image in
        python:*) python_standin "$image" ;;
        redis:*) redis_standin "$image" ;;
        *) echo "no stand-in recipe for $image" >&2; exit 1 ;;
    esac
    docker image inspect --format "  built $image: {{.Comment}}" "$image"
done
