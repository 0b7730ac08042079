#!/usr/bin/env bash
# compose.yaml, run for real (`make compose-test`): a Docker engine (Debian's docker.io, started
# here when none answers), the base images (stand-ins from Debian packages when they cannot be
# pulled: scripts/compose-standins.sh), the Dockerfile's image, the stack up with two workers,
# one GIF made through the official Python SDK (scripts/compose_sdk.py), the workers scaled to
# three and checked online, the S3 override checked with `docker-compose config`, and the stack
# taken down with its volumes. Idempotent: run it again and it reuses what is there.
# Environment: ANIMGRAPH_API_PORT (18000) and FLOWER_PORT (15555), the host ports it publishes.
set -euo pipefail
cd "$(dirname "$0")/.."

PROJECT=animgraph-compose-test
export ANIMGRAPH_API_PORT=${ANIMGRAPH_API_PORT:-18000}
export FLOWER_PORT=${FLOWER_PORT:-15555}
export ANIMGRAPH_PUBLIC_URL=http://127.0.0.1:$ANIMGRAPH_API_PORT
export ANIMGRAPH_API_KEYS="AKIDcomposetest:$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export FLOWER_BASIC_AUTH="flower:$(head -c 9 /dev/urandom | od -An -tx1 | tr -d ' \n')"
COMPOSE=(docker-compose -p "$PROJECT" -f compose.yaml)
LOG_DIR=${TMPDIR:-/tmp}/animgraph-compose-test
mkdir -p "$LOG_DIR"

T0=$SECONDS
PHASE_START=$SECONDS
SUMMARY=()
phase() {  # phase NAME: closes the running phase (timed) and names the next one
    if [ -n "${PHASE:-}" ]; then
        SUMMARY+=("$(printf '%-34s %4d s' "$PHASE" $((SECONDS - PHASE_START)))")
    fi
    PHASE=$1
    PHASE_START=$SECONDS
    [ -z "$PHASE" ] || printf '\n== %s\n' "$PHASE"
}
STARTED_DOCKERD=
UP=
cleanup() {
    local rc=$?
    if [ -n "$UP" ] && [ $rc -ne 0 ]; then
        echo "-- failed: the stack's last logs"
        "${COMPOSE[@]}" logs --tail 30 2>&1 | tail -120 || true
        "${COMPOSE[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
    fi
    if [ -n "$STARTED_DOCKERD" ] && [ -z "${KEEP_DOCKERD:-}" ]; then
        kill "$STARTED_DOCKERD" 2>/dev/null && wait "$STARTED_DOCKERD" 2>/dev/null || true
    fi
    exit $rc
}
trap cleanup EXIT

phase "tools (docker.io, docker-compose, debootstrap, .venv)"
need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v docker-compose >/dev/null || need+=(docker-compose)
command -v debootstrap >/dev/null || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
    source scripts/apt-install.sh
    apt_install "make compose-test (a Docker engine, compose v1, stand-in base images)" "${need[@]}"
fi
make --no-print-directory install >/dev/null

phase "Docker engine"
engine_up() {
    for _ in $(seq 60); do docker info >/dev/null 2>&1 && return 0; sleep 0.5; done
    return 1
}
if docker info >/dev/null 2>&1; then
    echo "using the running engine ($(docker info --format '{{.ServerVersion}}'))"
else
    # The default bridge and iptables first; without them (a sandbox that forbids iptables) the
    # engine still runs, and compose's own network still connects the containers.
    for flags in "" "--iptables=false" "--iptables=false --bridge=none"; do
        # shellcheck disable=SC2086
        dockerd $flags >"$LOG_DIR/dockerd.log" 2>&1 &
        STARTED_DOCKERD=$!
        if engine_up; then
            echo "started dockerd ${flags:-(default bridge, iptables)} (pid $STARTED_DOCKERD, log $LOG_DIR/dockerd.log); stopped at the end unless KEEP_DOCKERD=1"
            break
        fi
        kill "$STARTED_DOCKERD" 2>/dev/null || true
        wait "$STARTED_DOCKERD" 2>/dev/null || true
        STARTED_DOCKERD=
        echo "dockerd $flags did not come up:"; tail -5 "$LOG_DIR/dockerd.log"
    done
    [ -n "$STARTED_DOCKERD" ] || { echo "no Docker engine" >&2; exit 1; }
fi

phase "base images (pull, else stand-ins)"
bash scripts/compose-standins.sh python:3.11-slim-bookworm redis:7
docker image ls --format '  {{.Repository}}:{{.Tag}} {{.Size}}' python:3.11-slim-bookworm
docker image ls --format '  {{.Repository}}:{{.Tag}} {{.Size}}' redis:7

phase "image build (Dockerfile)"
docker build -q -t animgraph:latest . >/dev/null
docker image ls --format '  {{.Repository}}:{{.Tag}} {{.Size}}' animgraph:latest

phase "S3 override (docker-compose config)"
MINIO_ROOT_PASSWORD=compose-config-check docker-compose -f compose.yaml -f compose.s3.yaml config \
    >"$LOG_DIR/compose.s3.merged.yaml"
grep -q 's3://animgraph/data' "$LOG_DIR/compose.s3.merged.yaml"
"${COMPOSE[@]}" config -q
echo "compose.yaml + compose.s3.yaml merge (storage s3://animgraph/data, MinIO); not started: minio/minio and minio/mc cannot be pulled without a registry"

phase "up (redis, 2 workers, api, flower)"
"${COMPOSE[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
UP=1
"${COMPOSE[@]}" up -d --no-build --scale worker=2
for i in $(seq 120); do
    if curl -fsS "http://127.0.0.1:$ANIMGRAPH_API_PORT/readyz" >/dev/null 2>&1; then
        echo "API ready on :$ANIMGRAPH_API_PORT after ${i}s of polling"
        break
    fi
    [ "$i" -lt 120 ] || { echo "the API never got ready" >&2; exit 1; }
    sleep 1
done
curl -fsS -o /dev/null -u "$FLOWER_BASIC_AUTH" "http://127.0.0.1:$FLOWER_PORT/" && echo "Flower answers on :$FLOWER_PORT"

phase "GIF through the official SDK"
.venv/bin/python scripts/compose_sdk.py tests/data/cockatoo.mp4 \
    --endpoint "http://127.0.0.1:$ANIMGRAPH_API_PORT" --keys "$ANIMGRAPH_API_KEYS"

phase "scale workers to 3"
"${COMPOSE[@]}" up -d --no-build --no-recreate --scale worker=3
online=0
for _ in $(seq 90); do
    online=$("${COMPOSE[@]}" exec -T api animgraph status --json 2>/dev/null \
        | .venv/bin/python -c 'import json,sys; print(len(json.load(sys.stdin)["workers"]))' || echo 0)
    [ "$online" -ge 3 ] && break
    sleep 1
done
"${COMPOSE[@]}" exec -T api animgraph status | sed -n '/^Workers/,$p' | head -8
[ "$online" -ge 3 ] || { echo "only $online workers online" >&2; exit 1; }
grep -q appendonly <("${COMPOSE[@]}" exec -T redis redis-cli config get appendonly | tr '\n' ' ' | grep yes) \
    && echo "Redis: appendonly yes"

phase "down -v"
"${COMPOSE[@]}" down -v --remove-orphans
UP=

phase ""
printf '\ncompose-test passed; phases:\n'
printf '  %s\n' "${SUMMARY[@]}"
printf '  %-34s %4d s\n' total $((SECONDS - T0))
