"""What the commands share: the consoles, a client on the configured (or embedded) Redis, and
printing a response as JSON."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from animgraph.shared.errors import ApiError
from animgraph.shared.settings import Settings

if TYPE_CHECKING:  # imported where used, so that a command loads only what it needs
    from animgraph.shared.models import WireModel

    from ..client import Client

__all__ = ["connected", "err", "given", "out", "print_json", "print_model", "state_only"]

err = Console(stderr=True)
out = Console()


@contextlib.contextmanager
def connected(settings: Settings) -> Iterator[Client]:
    """A client on the configured Redis, or on an embedded Redis plus worker for this run."""
    from ..client import Client

    if settings.redis_url:
        with Client(settings, direct_send=True) as client:
            count = _workers_online(client, timeout_s=5.0)
            if count:
                err.print(f"[dim]{count} worker(s) on {settings.redis_url}[/]")
            else:
                err.print(
                    "[yellow]No worker online yet: the task waits in the queue until one "
                    "starts (animgraph worker).[/]"
                )
            yield client
        return
    from animgraph.workers.local import LocalCluster

    with err.status("Starting an embedded Redis and a worker..."):
        cluster = LocalCluster(settings.data_dir).start(settings)
    try:
        err.print(
            f"[dim]Embedded Redis on {cluster.redis_url}, worker log in "
            f"{cluster.data_dir / 'local.log'}[/]"
        )
        with Client(settings, redis_url=cluster.redis_url, direct_send=True) as client:
            yield client
    finally:
        cluster.stop()


def _workers_online(client: Client, *, timeout_s: float) -> int:
    """How many workers have a live heartbeat (read from Redis: no Celery broadcast, which
    waits out its whole reply window), waiting up to ``timeout_s`` for a first one."""
    deadline = time.monotonic() + timeout_s
    while True:
        count = client.state.workers_online()
        if count or time.monotonic() > deadline:
            return count
        time.sleep(0.1)


@contextlib.contextmanager
def state_only(settings: Settings) -> Iterator[Client]:
    """A client for managing saved things: the configured Redis, or the embedded one's files."""
    from animgraph.shared.redis_server import RedisServer

    from ..client import Client

    try:
        if settings.redis_url:
            with Client(settings) as client:
                yield client
            return
        with (
            RedisServer(settings.data_dir.resolve() / "redis", appendonly=True) as server,
            Client(settings, redis_url=server.url) as client,
        ):
            yield client
    except ApiError as exc:
        err.print(f"[red]{exc.code}[/]: {exc.message}")
        raise typer.Exit(2) from None


def print_json(body: str) -> None:
    """JSON on stdout: coloured on a terminal, the bytes as given otherwise."""
    out.print_json(body) if sys.stdout.isatty() else print(body)


def print_model(model: WireModel) -> None:
    print_json(json.dumps(model.wire(), indent=2, ensure_ascii=False))


def given(**options: object) -> dict[str, object]:
    """The options the user gave, by wire name."""
    names = {
        "fmt": "Format",
        "resolution_adaptive": "ResolutionAdaptive",
        "notification_url": "NotificationUrl",
    }
    return {
        names.get(key, key.title()): value for key, value in options.items() if value is not None
    }
