"""The worker's Celery app, started by ``python -m animgraph.workers`` (``animgraph worker``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from celery import bootsteps

from animgraph.shared.celeryconf import create_celery
from animgraph.shared.settings import Settings
from animgraph.workers import alive
from animgraph.workers.media import threads
from animgraph.workers.transport import transport_for

__all__ = ["AliveFile", "ThreadsPerJob", "app", "settings"]

# The settings this process started with (``runtime()`` reads them again, with Redis, per process).
settings = Settings()
app = create_celery(settings, settings.redis_url or "redis://127.0.0.1:6379/0")
# The consumer's side of kombu's Redis transport, with a gap closed (see ``transport``).
app.conf.broker_transport = transport_for(app.conf.broker_url)
app.conf.include = ["animgraph.workers.tasks"]
# No task stores its return value in the result backend (each would cost a SET and a PUBLISH)
# but ``encode``, the last step of each chord header chain, which sets ``ignore_result=False``:
# Celery's docs ask chord header tasks to keep results. Chains pass each step's value in the next
# message, and task state lives in animgraph's own records.
app.conf.task_ignore_result = True


class AliveFile(bootsteps.StartStopStep):  # type: ignore[misc]
    """Touch the liveness file (``workers/alive.py``) every ``alive.TOUCH_S`` from the
    worker's own timer, which the consumer's event loop fires: a stuck consumer, or one
    reconnecting to its broker, stops touching it. Removed when the worker stops."""

    requires = ("celery.worker.components:Timer",)

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self.path = Path(settings.worker.alive_file or settings.data_dir / alive.DEFAULT_NAME)
        self.entry: Any = None

    def start(self, worker: Any) -> None:
        alive.touch(self.path)
        self.entry = worker.timer.call_repeatedly(alive.TOUCH_S, alive.touch, (self.path,))

    def stop(self, worker: Any) -> None:
        if self.entry is not None:
            self.entry.cancel()
        self.path.unlink(missing_ok=True)


class ThreadsPerJob(bootsteps.Step):  # type: ignore[misc]
    """Decide the threads each job may use (``media/threads.py``): the worker's cores shared by
    the jobs its pool runs at once, or ``ANIMGRAPH_WORKER_THREADS``. In the main process once
    the pool's size is known (after ``--concurrency auto`` is resolved, after the Pool step
    reads ``--autoscale``) and before the pool forks: every pool process inherits it."""

    requires = ("celery.worker.components:Pool",)

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        threads.configure(jobs_at_once(worker), settings.worker.threads)


def jobs_at_once(worker: Any) -> int:
    """How many jobs a worker runs at once: its pool's processes (or threads), at most
    ``--autoscale``'s maximum; one for the solo pool."""
    if str(getattr(worker.pool_cls, "__module__", "")).endswith(".solo"):
        return 1
    return int(getattr(worker, "max_concurrency", None) or worker.concurrency or 1)


app.steps["worker"].add(AliveFile)
app.steps["worker"].add(ThreadsPerJob)
