"""Shared fixtures: the repo's real clips, the stack factory (private Redis, real workers, the
API; see stack.py), the session's shared stack, an S3-compatible server (moto) and a RabbitMQ
(rabbitmq.py)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from rabbitmq import RabbitMQ, rabbitmq_for
from stack import Stack, StackFactory, stack_factory_for, stop_process

from animgraph.producer import Client
from animgraph.shared.redis_server import RedisServer, free_port
from animgraph.shared.settings import Settings
from animgraph.shared.storage import S3Options
from animgraph.workers.local import WorkerProcess

DATA = Path(__file__).parent / "data"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--reverse-order",
        action="store_true",
        help="run the collected tests in reverse order, to check none needs an earlier one",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--reverse-order"):
        items.reverse()


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """Real camera clips shipped in the repo (tests/data)."""
    return DATA


def _factory(request: pytest.FixtureRequest, root: Path) -> AbstractContextManager[StackFactory]:
    return stack_factory_for(
        root,
        s3=lambda: request.getfixturevalue("s3_server"),
        failures=lambda: request.session.testsfailed,
    )


@pytest.fixture()
def stack_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StackFactory]:
    """Stacks for one test, stopped after it (with their logs printed if it failed)."""
    with _factory(request, tmp_path) as factory:
        yield factory


@pytest.fixture(scope="module")
def module_stack_factory(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StackFactory]:
    """Stacks shared by the tests of one module, stopped after its last test."""
    with _factory(request, tmp_path_factory.mktemp("stacks")) as factory:
        yield factory


@pytest.fixture(scope="session")
def shared_stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """The session's stack: its Redis serves the unit tests too; its worker starts only when
    a test asks for ``worker`` (or ``client``)."""
    with _factory(request, tmp_path_factory.mktemp("shared")) as factory:
        yield factory.start("animgraph", workers=0)


@pytest.fixture(scope="session")
def redis_server(shared_stack: Stack) -> RedisServer:
    """A redis-server of our own on a free loopback port (never the machine's 6379)."""
    return shared_stack.redis


@pytest.fixture(scope="session")
def data_dir(shared_stack: Stack) -> Path:
    return shared_stack.root


@pytest.fixture(scope="session")
def settings(shared_stack: Stack) -> Settings:
    return shared_stack.settings


@pytest.fixture(scope="session")
def worker(shared_stack: Stack) -> WorkerProcess:
    """One real worker process (prefork, 2 processes) on every queue, for the whole session."""
    return shared_stack.start_worker("test", concurrency=2)


@pytest.fixture()
def client(shared_stack: Stack, worker: WorkerProcess) -> Iterator[Client]:
    with shared_stack.client() as c:
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
        stop_process(proc)


@pytest.fixture(scope="session")
def rabbitmq(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RabbitMQ]:
    """A real RabbitMQ with a vhost of this session (see rabbitmq.py): the one on
    127.0.0.1:5672, ``ANIMGRAPH_TEST_AMQP_URL``'s, or a ``rabbitmq-server`` node started here
    (stopped at the end). Only the tests that ask for it pay for it."""
    with rabbitmq_for(tmp_path_factory.mktemp("rabbitmq")) as broker:
        if broker.started_in_s is not None:
            print(f"\nrabbitmq: started a node of our own in {broker.started_in_s:.1f} s")
        yield broker
