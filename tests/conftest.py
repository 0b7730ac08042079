"""Shared fixtures: the repo's real clips, a private Redis server and real Celery workers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from animgraph.producer.client import Client
from animgraph.producer.local import WorkerProcess, wait_for_workers
from animgraph.shared.redis_server import RedisServer
from animgraph.shared.settings import Settings

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """Real camera clips shipped in the repo (tests/data)."""
    return DATA


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server of our own on a free loopback port (never the machine's 6379)."""
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("animgraph")


@pytest.fixture(scope="session")
def settings(redis_server: RedisServer, data_dir: Path) -> Settings:
    return Settings(redis_url=redis_server.url, data_dir=data_dir)


@pytest.fixture(scope="session")
def worker(
    settings: Settings, redis_server: RedisServer, data_dir: Path
) -> Iterator[WorkerProcess]:
    """One real ``celery worker`` subprocess (prefork, 2 processes) on every queue."""
    proc = WorkerProcess(redis_server.url, data_dir, name="test", concurrency=2).start()
    try:
        wait_for_workers(redis_server.url, settings, timeout_s=60)
        yield proc
    finally:
        proc.stop()
        log = proc.log_path.read_text(errors="replace") if proc.log_path.exists() else ""
        if "Traceback" in log:
            print("worker log tail:\n" + log[-4000:])


@pytest.fixture()
def client(settings: Settings, worker: WorkerProcess) -> Iterator[Client]:
    with Client(settings) as c:
        yield c
