"""``animgraph api`` and ``animgraph up``: the HTTP API alone, or with Redis, a worker and
Flower as one local stack."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import subprocess
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from animgraph.shared.logs import json_logging
from animgraph.shared.settings import Settings

from .common import err

if TYPE_CHECKING:  # imported where used: the other commands do not load Celery
    from animgraph.workers.local import WorkerProcess

__all__ = ["api", "up"]


def _tls(settings: Settings) -> tuple[str | None, str | None]:
    """uvicorn's TLS options from the settings: both files, or neither (plain HTTP, as behind a
    TLS proxy); one alone is a mistake worth stopping for."""
    cert, key = settings.api.tls_cert_file, settings.api.tls_key_file
    if bool(cert) != bool(key):
        err.print(
            "[red]Set both ANIMGRAPH_API_TLS_CERT_FILE and ANIMGRAPH_API_TLS_KEY_FILE[/] "
            "(HTTPS served by animgraph), or neither (plain HTTP, e.g. behind a TLS proxy)."
        )
        raise typer.Exit(2)
    return (cert, key) if cert and key else (None, None)


def _base_url(settings: Settings, host: str, port: int) -> str:
    scheme = "https" if _tls(settings)[0] else "http"
    return settings.api.public_url or f"{scheme}://{host}:{port}"


def _serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from ..api import create_app

    try:
        app = create_app(settings)
    except ValueError as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    cert, key = _tls(settings)
    logs: dict[str, Any] = {}
    if settings.log_format == "json":  # ours, and uvicorn must not install its own handlers
        json_logging()
        logs["log_config"] = None
    uvicorn.run(
        app, host=host, port=port, log_level="warning", ssl_certfile=cert, ssl_keyfile=key, **logs
    )


def api(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
) -> None:
    """Serve the HTTP API (Tencent Cloud API 3.0 style) on ANIMGRAPH_REDIS_URL; HTTPS when
    ANIMGRAPH_API_TLS_CERT_FILE and ANIMGRAPH_API_TLS_KEY_FILE are set."""
    settings = Settings()
    if not settings.redis_url:
        err.print(
            "[red]Set ANIMGRAPH_REDIS_URL[/] (the Redis your workers use), or run "
            "`animgraph up` for a whole local stack."
        )
        raise typer.Exit(2)
    public = _base_url(settings, host, port)
    if settings.log_format == "json":
        json_logging()
        logging.getLogger("animgraph.api").info("API %s", public)
    else:
        err.print(f"API     {public}")
    _serve(settings.updated(api={"public_url": public}), host, port)


def _raise_exit(signum: int, frame: object) -> None:
    raise SystemExit(0)


def up(
    host: Annotated[str, typer.Option(help="Address of the API")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the API")] = 8000,
    flower_port: Annotated[int, typer.Option(help="Port of Flower")] = 5555,
    concurrency: Annotated[int, typer.Option("-c", help="Worker processes")] = 1,
) -> None:
    """Start a whole local stack: Redis (embedded unless ANIMGRAPH_REDIS_URL is set), a worker,
    the API and Flower. Ctrl-C or SIGTERM stops them all."""
    settings = Settings()
    public = _base_url(settings, host, port)
    api_keys = settings.api.keys or f"animgraph-local:{secrets.token_urlsafe(24)}"
    flower_auth = settings.flower.basic_auth.get_secret_value() or (
        f"admin:{secrets.token_urlsafe(12)}"
    )
    from animgraph.shared.redis_server import RedisServer
    from animgraph.workers.local import WorkerProcess, wait_for_workers

    data_dir = settings.data_dir.resolve()
    redis_server = None
    processes: list[WorkerProcess | subprocess.Popen[bytes]] = []
    try:
        redis_url = settings.redis_url
        if not redis_url:
            redis_server = RedisServer(data_dir / "redis", appendonly=True).start()
            redis_url = redis_server.url
        stack = settings.updated(redis_url=redis_url, api={"public_url": public, "keys": api_keys})
        worker = WorkerProcess(
            redis_url,
            data_dir,
            name="up",
            concurrency=concurrency,
            env={"ANIMGRAPH_PUBLIC_URL": public},
            supervise=True,
        ).start()
        processes.append(worker)
        env = {**os.environ, "ANIMGRAPH_REDIS_URL": redis_url}
        flower_args = ["flower", "--port", str(flower_port), "--basic-auth", flower_auth]
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "animgraph.producer", *flower_args],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        with err.status("Waiting for the worker..."):
            wait_for_workers(redis_url, stack)
        secret_id, _, secret_key = api_keys.split(",")[0].partition(":")
        err.print(f"Redis   {redis_url}")
        err.print(f"API     {public}  (SecretId {secret_id}, SecretKey {secret_key})")
        signin = "the key pair" + (" or the console password" if settings.console.password else "")
        err.print(f"Console {public}/console/  (sign in with {signin})")
        err.print(f"Flower  http://{host}:{flower_port}  (basic auth {flower_auth})")
        err.print(f"Worker  log in {worker.log_path}")
        err.print("[dim]Ctrl-C stops everything.[/]")
        # uvicorn stops on SIGINT/SIGTERM, then raises the signal again with the handler it
        # found: make that an exception, so the processes below are stopped too.
        signal.signal(signal.SIGTERM, _raise_exit)
        with contextlib.suppress(KeyboardInterrupt, SystemExit):
            _serve(stack, host, port)
    finally:
        for proc in reversed(processes):
            if isinstance(proc, WorkerProcess):
                proc.stop()
            elif proc.poll() is None:
                proc.terminate()
                proc.wait(10)
        if redis_server:
            redis_server.stop()
