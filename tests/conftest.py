"""Shared fixtures: the repo's real clips, a private Redis server, real Celery workers and an
S3-compatible server (moto)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from animgraph.producer.client import Client
from animgraph.shared.redis_server import RedisServer, free_port
from animgraph.shared.settings import Settings
from animgraph.shared.storage import S3Options
from animgraph.workers.local import WorkerProcess, wait_for_workers

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


@dataclass(frozen=True)
class S3Server:
    """A moto server process speaking the S3 HTTP API, with one bucket."""

    endpoint_url: str
    bucket: str = "animgraph-test"
    region: str = "us-east-1"
    access_key_id: str = "testing"
    secret_access_key: str = "testing"

    def env(self) -> dict[str, str]:
        """boto3's standard variables pointing at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
        }

    def options(self, **overrides: Any) -> S3Options:
        values: dict[str, Any] = {
            "endpoint_url": self.endpoint_url,
            "region": self.region,
            "access_key_id": self.access_key_id,
            "secret_access_key": self.secret_access_key,
            **overrides,
        }
        return S3Options(**values)

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
        )

    def keys(self, prefix: str) -> list[str]:
        pages = (
            self.client()
            .get_paginator("list_objects_v2")
            .paginate(Bucket=self.bucket, Prefix=prefix)
        )
        return [o["Key"] for page in pages for o in page.get("Contents", ())]


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """moto's server mode on a free loopback port: a real S3 HTTP API in another process."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = S3Server(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{server.endpoint_url}/moto-api/", timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto did not start: {log_path.read_text()}") from None
                time.sleep(0.1)
        server.client().create_bucket(Bucket=server.bucket)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
