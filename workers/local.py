"""Processes for running animgraph on one machine: a worker subprocess, and an embedded
Redis plus worker when no Redis is configured (what ``animgraph run`` and the tests use)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from animgraph.shared.celeryconf import create_celery
from animgraph.shared.redis_server import RedisServer
from animgraph.shared.settings import Settings
from animgraph.shared.tasknames import QUEUES

__all__ = ["LocalCluster", "WorkerProcess", "wait_for_workers"]


def wait_for_workers(redis_url: str, settings: Settings, *, timeout_s: float = 60.0) -> int:
    """Wait until at least one worker answers a ping; returns how many answered."""
    app = create_celery(settings, redis_url, name="animgraph-ping")
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            replies = app.control.ping(timeout=0.5)
            if replies:
                return len(replies)
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"no animgraph worker answered on {redis_url} in {timeout_s:.0f} s"
                )
    finally:
        app.close()


class WorkerProcess:
    """One ``animgraph worker`` subprocess (a prefork Celery worker) serving the given queues."""

    def __init__(
        self,
        redis_url: str,
        data_dir: Path,
        *,
        name: str = "worker",
        concurrency: int = 1,
        queues: tuple[str, ...] = QUEUES,
        env: dict[str, str] | None = None,
        log_path: Path | None = None,
        stderr_path: Path | None = None,
        supervise: bool = False,
    ) -> None:
        self.redis_url = redis_url
        self.data_dir = data_dir
        self.name = name
        self.concurrency = concurrency
        self.queues = queues
        self.extra_env = env or {}
        self.log_path = log_path or data_dir / f"{name}.log"
        self.stderr_path = stderr_path  # None: stderr goes to the log with stdout
        self.supervise = supervise
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        env = {
            **os.environ,
            "ANIMGRAPH_REDIS_URL": self.redis_url,
            "ANIMGRAPH_DATA_DIR": str(self.data_dir.resolve()),
            **self.extra_env,
        }
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            sys.executable, "-m", "animgraph.producer", "worker",
            "-Q", ",".join(self.queues), "-c", str(self.concurrency), "-n", f"{self.name}@%h",
            "--supervise" if self.supervise else "--no-supervise",
        ]  # fmt: skip
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child process
        err = open(self.stderr_path, "ab") if self.stderr_path else None  # noqa: SIM115
        self.proc = subprocess.Popen(
            args,
            env=env,
            stdout=log,
            stderr=err or subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        if err:
            err.close()
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def pool_pids(self) -> list[int]:
        """PIDs of the worker's pool processes (the ones that run tasks)."""
        if not self.supervise:
            return _children(self.pid)
        return [pool for main in _children(self.pid) for pool in _children(main)]

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout_s: float = 30.0) -> None:
        """Warm shutdown (SIGTERM), then SIGKILL if it does not exit in time."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL the worker, its Celery main process and its pool (a lost node)."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


class LocalCluster:
    """An embedded Redis and one worker, for a single run on one machine."""

    def __init__(self, data_dir: Path, *, concurrency: int | None = None) -> None:
        self.data_dir = data_dir.resolve()
        self.redis = RedisServer(self.data_dir / "redis", appendonly=True)
        self.concurrency = concurrency or max(1, min(2, os.cpu_count() or 1))
        self.worker: WorkerProcess | None = None

    @property
    def redis_url(self) -> str:
        return self.redis.url

    def start(self, settings: Settings) -> LocalCluster:
        self.redis.start()
        self.worker = WorkerProcess(
            self.redis.url,
            self.data_dir,
            name="local",
            concurrency=self.concurrency,
            supervise=True,
        ).start()
        try:
            wait_for_workers(self.redis.url, settings)
        except TimeoutError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.worker:
            self.worker.stop()
        self.redis.stop()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
