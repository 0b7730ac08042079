"""``animgraph worker`` and ``animgraph flower``: the processes that serve and watch the queue."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from animgraph.shared.settings import Settings
from animgraph.shared.tasknames import QUEUES

from .common import err

__all__ = ["flower", "worker"]


def worker(
    concurrency: Annotated[
        int | None, typer.Option("-c", "--concurrency", help="Processes (default: cores)")
    ] = None,
    queues: Annotated[str, typer.Option("-Q", "--queues")] = ",".join(QUEUES),
    name: Annotated[str, typer.Option("-n", "--name")] = "animgraph@%h",
    loglevel: Annotated[str, typer.Option("-l", "--loglevel")] = "INFO",
    supervise: Annotated[
        bool, typer.Option(help="Restart the Celery worker if it dies (e.g. on a broker bug)")
    ] = True,
) -> None:
    """Start a worker on ANIMGRAPH_REDIS_URL (add more, on any host, to go faster)."""
    settings = Settings()
    if not settings.redis_url:
        err.print("[red]Set ANIMGRAPH_REDIS_URL[/]: a worker serves a Redis shared with producers.")
        raise typer.Exit(2)
    command = [sys.executable, "-m", "animgraph.workers", "-Q", queues, "-n", name]
    command += ["-l", loglevel, "-P", "prefork", "-E"]
    if concurrency or settings.worker.concurrency:
        command += ["-c", str(concurrency or settings.worker.concurrency)]
    if supervise:
        from animgraph.workers import supervisor

        raise typer.Exit(supervisor.supervise(command, json_logs=settings.log_format == "json"))
    # In this process's place (same PID), without the CLI's imports: pool processes fork from it.
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, command)


def flower(
    port: Annotated[int, typer.Option(help="HTTP port")] = 5555,
    basic_auth: Annotated[
        str | None, typer.Option(help="user:password (default: $ANIMGRAPH_FLOWER_BASIC_AUTH)")
    ] = None,
) -> None:
    """Start Flower against ANIMGRAPH_REDIS_URL to watch the workers."""
    settings = Settings()
    if not settings.redis_url:
        err.print("[red]Set ANIMGRAPH_REDIS_URL[/] to the Redis the workers use.")
        raise typer.Exit(2)
    from animgraph.shared.celeryconf import create_celery

    # Flower reads task events and asks the workers over the broker: the shared configuration
    # is all it needs, not the worker's app and its task modules.
    celery_app = create_celery(settings, settings.redis_url)
    argv = ["flower", f"--port={port}", "--max_tasks=10000"]
    auth = basic_auth or settings.flower.basic_auth.get_secret_value()
    if auth:
        argv.append(f"--basic-auth={auth}")
    celery_app.start(argv)
