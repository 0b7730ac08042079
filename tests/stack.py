"""The one way tests start an animgraph stack: a private Redis, real worker processes,
optionally ``animgraph api``, on file:// or s3:// storage, and the faults tests inflict on it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

import httpx

from animgraph.producer import Client, Sender
from animgraph.shared.celeryconf import create_celery
from animgraph.shared.models import EventContent
from animgraph.shared.redis_server import RedisServer, free_port
from animgraph.shared.settings import Settings
from animgraph.shared.tasknames import QUEUES
from animgraph.workers.local import WorkerProcess  # the one import of the worker process

if TYPE_CHECKING:  # the type only: at run time another conftest.py may own the name
    from conftest import S3Server

__all__ = [
    "Stack",
    "StackFactory",
    "WorkerProcess",
    "drain_events",
    "final_count",
    "read_settings",
    "stack_factory_for",
    "until",
    "wait_http",
]

Storage = Literal["file", "s3"]


class RedisLike(Protocol):
    """What a stack needs of its Redis: one ``RedisServer``, or a ``SentinelCluster``."""

    @property
    def url(self) -> str: ...

    def stop(self) -> None: ...


_WORKER_SETS = ("ANIMGRAPH_REDIS_URL", "ANIMGRAPH_DATA_DIR")


def until(condition: Callable[[], bool], timeout_s: float, what: str, poll_s: float = 0.1) -> None:
    """Poll ``condition`` until it holds; fail after ``timeout_s`` (keep it generous)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout_s:.0f} s waiting for {what}"
        time.sleep(poll_s)


def drain_events(client: Client) -> list[EventContent]:
    """Every event the pull queue holds now, each confirmed (so none comes again)."""
    found: list[EventContent] = []
    while pulled := client.pull_events(wait_s=0).event_set:
        client.confirm_events({"EventHandles": [e.event_handle for e in pulled]})
        found += pulled
    return found


def final_count(events: list[EventContent], task_id: str) -> int:
    """How many of ``events`` are ``task_id``'s final ProcedureStateChanged (FINISH)."""
    return sum(
        1
        for e in events
        if e.procedure_state_change_event
        and e.procedure_state_change_event.task_id == task_id
        and e.procedure_state_change_event.status == "FINISH"
    )


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


def stop_process(proc: subprocess.Popen[bytes], grace_s: float = 10) -> None:
    """SIGTERM ``proc``, and SIGKILL it if it has not exited after ``grace_s``."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def read_settings(env: Mapping[str, str]) -> Settings:
    """The settings a process started with ``env`` reads: the same ``ANIMGRAPH_*`` parsing as
    the workers and the API, so the producer in the test sees what they see."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        return Settings()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


@dataclass
class Stack:
    """One running stack. ``env`` holds the ``ANIMGRAPH_*`` settings of every process in it;
    ``worker_env`` what only the workers and the API get (boto3's ``AWS_*`` on s3://)."""

    name: str
    root: Path
    redis: RedisLike
    env: dict[str, str]
    settings: Settings
    worker_env: dict[str, str] = field(default_factory=dict)
    storage: Storage = "file"
    s3_prefix: str = ""
    api_port: int | None = None
    kill_at_exit: bool = False
    workers: list[WorkerProcess] = field(default_factory=list)
    api: subprocess.Popen[bytes] | None = None
    stopped: bool = False

    @property
    def host(self) -> str:
        assert self.api_port is not None, "this stack has no API"
        return f"127.0.0.1:{self.api_port}"

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}"

    @property
    def api_log(self) -> Path:
        return self.root / "api-server.log"

    @property
    def logs(self) -> tuple[Path, ...]:
        """The API's log (if any) and every worker's (and stderr, when kept apart)."""
        api = (self.api_log,) if self.api_port is not None else ()
        errs = (w.stderr_path for w in self.workers if w.stderr_path)
        return (*api, *(w.log_path for w in self.workers), *errs)

    def client(self, sender: Sender | None = None) -> Client:
        """A producer on this stack's settings (a context manager)."""
        return Client(self.settings, sender=sender)

    def gif_job(self, clip: Path) -> str:
        """The first second of ``clip`` through the preset GIF template (20000), waited for
        and checked SUCCESS; its TaskId."""
        with self.client() as client:
            file_id = client.register_media(clip).file_id
            task_id = client.process_media(
                {
                    "FileId": file_id,
                    "MediaProcessTask": {
                        "AnimatedGraphicTaskSet": [{"Definition": 20000, "EndTimeOffset": 1}]
                    },
                }
            )
            task = client.wait(task_id, timeout_s=120)
        assert task.media_process_result_set[0].animated_graphic_task.status == "SUCCESS"
        return task_id

    def start_worker(
        self,
        name: str | None = None,
        *,
        concurrency: int = 2,
        queues: tuple[str, ...] = QUEUES,
        supervise: bool = False,
        wait: bool = True,
        stderr_path: Path | None = None,
        **env: str,
    ) -> WorkerProcess:
        """A real worker process; on s3:// each has its own data folder (they share no disk).
        ``env`` adds settings for this worker only (fault injection...); ``stderr_path`` keeps
        its stderr apart from its log (stdout)."""
        name = name or f"{self.name}-{len(self.workers)}"
        data_dir = self.root / name if self.storage == "s3" else self.root
        worker = WorkerProcess(
            self.redis.url,
            data_dir,
            name=name,
            concurrency=concurrency,
            queues=queues,
            env={**self._own(self.env), **self.worker_env, **env},
            stderr_path=stderr_path,
            supervise=supervise,
        ).start()
        self.workers.append(worker)
        if wait:
            self.wait_for_workers()
        return worker

    @staticmethod
    def _own(env: Mapping[str, str]) -> dict[str, str]:
        """``env`` without the Redis URL and data folder, which WorkerProcess sets itself."""
        return {k: v for k, v in env.items() if k not in _WORKER_SETS}

    def wait_for_workers(self, timeout_s: float = 60) -> None:
        """Until every live worker of the stack answers a ping."""
        expected = sum(w.alive() for w in self.workers)
        app = create_celery(self.settings, self.redis.url, name="animgraph-ping")
        try:
            until(lambda: len(app.control.ping(timeout=0.5)) >= expected, timeout_s, "workers", 0)
        finally:
            app.close()

    def start_api(self) -> None:
        """``animgraph api`` on the stack's port (outputs are served at its ``/files/``)."""
        assert self.api_port is not None and self.api is None
        env = {**os.environ, **self.env, **self.worker_env, "PYTHONUNBUFFERED": "1"}
        with open(self.api_log, "ab") as log:
            self.api = subprocess.Popen(
                [sys.executable, "-m", "animgraph.producer", "api", "--port", str(self.api_port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_http(f"{self.endpoint}/openapi.json", self.api)

    def kill_pool(self, worker: WorkerProcess) -> list[int]:
        """SIGKILL the pool children of ``worker`` (the processes running tasks)."""
        pids = worker.pool_pids()
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        return pids

    def celery_mains(self, worker: WorkerProcess) -> list[int]:
        """The Celery main process(es) of a supervised worker."""
        return _children(worker.pid)

    def kill_celery_main(self, worker: WorkerProcess) -> int:
        """SIGKILL the Celery worker below a supervised ``animgraph worker`` (it restarts it)."""
        [main] = self.celery_mains(worker)
        os.kill(main, signal.SIGKILL)
        return main

    def kill_worker(self, worker: WorkerProcess) -> None:
        """SIGKILL a whole worker: its supervisor, Celery main process and pool (a lost node)."""
        worker.kill()

    def restart_redis(self) -> None:
        """Stop Redis and start it again on the same port (the AOF keeps the queues)."""
        assert isinstance(self.redis, RedisServer), "restart a SentinelCluster's servers one by one"
        self.redis.restart()

    def stop(self, *, show_logs: bool = False) -> None:
        """Stop the API and the workers (warm, or SIGKILL if ``kill_at_exit``), then Redis; print the logs' tails when asked
        (a failed test) or when a worker log holds a traceback."""
        if self.stopped:
            return
        self.stopped = True
        if self.api is not None:
            stop_process(self.api)
        for worker in self.workers:
            worker.kill() if self.kill_at_exit else worker.stop()
        self.redis.stop()
        for path in self.logs:
            text = path.read_text(errors="replace") if path.exists() else ""
            if text and (show_logs or "Traceback" in text):
                print(f"--- {self.name}: {path.name} (tail) ---\n{text[-4000:]}")


class StackFactory:
    """Starts stacks below ``root`` and stops them all at ``close``: what the ``stack_factory``
    fixtures of conftest.py hand to tests."""

    def __init__(self, root: Path, s3: Callable[[], S3Server]) -> None:
        self.root = root
        self._s3 = s3
        self.stacks: list[Stack] = []

    def start(
        self,
        name: str = "stack",
        *,
        workers: int = 1,
        concurrency: int = 2,
        supervise: bool = False,
        api: bool = False,
        storage: Storage = "file",
        appendonly: bool = False,
        kill_at_exit: bool = False,
        env: Mapping[str, str] | None = None,
        redis: RedisLike | None = None,
    ) -> Stack:
        """A Redis of its own (AOF with ``appendonly``, for Redis restarts; or ``redis``, started
        by the caller and stopped with the stack), ``workers`` worker processes,
        ``animgraph api`` if ``api``; ``env`` adds settings for every process.
        ``kill_at_exit`` skips the warm shutdown at the end (fault tests, where it is moot)."""
        root = self.root / name
        if root.exists():  # a second stack of that name in one test
            root = self.root / f"{name}-{len(self.stacks)}"
        if redis is None:
            redis = RedisServer(root / "redis", appendonly=appendonly).start()
        all_env = {"ANIMGRAPH_REDIS_URL": redis.url, "ANIMGRAPH_DATA_DIR": str(root)}
        worker_env: dict[str, str] = {}
        producer_env: dict[str, str] = {}
        prefix = ""
        if storage == "s3":
            s3 = self._s3()
            prefix = f"e2e-{uuid.uuid4().hex[:8]}"
            all_env["ANIMGRAPH_STORAGE_URL"] = f"s3://{s3.bucket}/{prefix}"
            all_env["ANIMGRAPH_DATA_DIR"] = str(root / "producer")
            # The workers find the object store through boto3's standard variables, the
            # producer through its settings: both ways are exercised.
            worker_env = s3.env()
            producer_env = {
                "ANIMGRAPH_S3_ENDPOINT_URL": s3.endpoint_url,
                "ANIMGRAPH_S3_REGION": s3.region,
                "ANIMGRAPH_S3_ACCESS_KEY_ID": s3.access_key_id,
                "ANIMGRAPH_S3_SECRET_ACCESS_KEY": s3.secret_access_key,
            }
        api_port = free_port() if api else None
        if api_port is not None:
            all_env["ANIMGRAPH_PUBLIC_URL"] = f"http://127.0.0.1:{api_port}"
        all_env.update(env or {})
        # The producer's settings as before: without the API's public URL, so the test's own
        # Client sees file:// (or presigned) URLs.
        producer = {k: v for k, v in all_env.items() if k != "ANIMGRAPH_PUBLIC_URL"}
        stack = Stack(
            name=name,
            root=root,
            redis=redis,
            env=all_env,
            settings=read_settings({**producer, **producer_env}),
            worker_env=worker_env,
            storage=storage,
            s3_prefix=prefix,
            api_port=api_port,
            kill_at_exit=kill_at_exit,
        )
        self.stacks.append(stack)
        for _ in range(workers):
            stack.start_worker(concurrency=concurrency, supervise=supervise, wait=False)
        if workers:
            stack.wait_for_workers()
        if api:
            stack.start_api()
        return stack

    def close(self, *, show_logs: bool = False) -> None:
        for stack in reversed(self.stacks):
            stack.stop(show_logs=show_logs)
        self.stacks.clear()


@contextmanager
def stack_factory_for(
    root: Path, s3: Callable[[], S3Server], failures: Callable[[], int]
) -> Iterator[StackFactory]:
    """A factory whose stacks stop on exit, with their logs shown if ``failures()`` grew."""
    before = failures()
    factory = StackFactory(root, s3)
    try:
        yield factory
    finally:
        factory.close(show_logs=failures() > before)
