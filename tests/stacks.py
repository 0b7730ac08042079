"""A whole local stack for end-to-end tests: Redis, a real worker and ``animgraph api``."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from animgraph.shared.redis_server import RedisServer, free_port
from animgraph.shared.settings import Settings
from animgraph.workers.local import WorkerProcess, wait_for_workers


@dataclass(frozen=True)
class ApiStack:
    endpoint: str
    host: str
    settings: Settings
    logs: tuple[Path, ...] = ()


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    """Wait until ``url`` answers, failing early if the server process exited."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            assert proc.poll() is None, "the server exited"
            assert time.monotonic() < deadline, f"{url} did not answer"
            time.sleep(0.2)


@contextmanager
def api_stack(tmp: Path, *, name: str, env: dict[str, str]) -> Iterator[ApiStack]:
    """Redis, a worker (2 processes) and ``animgraph api`` sharing ``tmp``, outputs served over
    HTTP; ``env`` adds settings (API keys, limits...) for the worker and the API."""
    port = free_port()
    host = f"127.0.0.1:{port}"
    with RedisServer(tmp / "redis") as redis_server:
        full = {
            "ANIMGRAPH_REDIS_URL": redis_server.url,
            "ANIMGRAPH_DATA_DIR": str(tmp),
            "ANIMGRAPH_PUBLIC_URL": f"http://{host}",
            **env,
        }
        settings = Settings(redis_url=redis_server.url, data_dir=tmp)
        worker = WorkerProcess(redis_server.url, tmp, name=name, concurrency=2, env=full).start()
        log_path = tmp / "api-server.log"
        with open(log_path, "wb") as api_log:
            api = subprocess.Popen(
                [sys.executable, "-m", "animgraph.producer", "api", "--port", str(port)],
                env={**os.environ, **full, "PYTHONUNBUFFERED": "1"},
                stdout=api_log,
                stderr=subprocess.STDOUT,
            )
            try:
                wait_for_workers(redis_server.url, settings)
                wait_http(f"http://{host}/openapi.json", api)
                yield ApiStack(f"http://{host}", host, settings, (log_path, worker.log_path))
            finally:
                api.terminate()
                api.wait(10)
                worker.stop()
