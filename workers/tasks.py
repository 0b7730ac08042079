"""The Celery task registrations and worker signals, each a one-line call into its stage:

``procedure`` -> ``canvas``; ``decode``, ``select``, ``encode`` -> ``steps``; ``notify``,
``notify_failed`` -> ``notifier``; ``deliver`` -> ``delivery``; the reconciler thread ->
``reconciler``; the heartbeat and message leases -> ``leases``, the lease sweep -> ``restore``;
memory tuning -> ``tuning``; the log format -> ``logs``; the grace at SIGTERM -> ``shutdown``.
Names, signatures and retry settings are the wire contract: messages already queued must still
run.
"""

from __future__ import annotations

from typing import Any

from celery import Task
from celery.signals import (
    after_setup_logger,
    after_setup_task_logger,
    task_postrun,
    task_received,
    worker_init,
    worker_ready,
    worker_shutdown,
    worker_shutting_down,
)

from animgraph.shared.errors import TransientError
from animgraph.shared.tasknames import (
    DECODE,
    DELIVER,
    ENCODE,
    NOTIFY,
    NOTIFY_FAILED,
    PROCEDURE,
    SELECT,
)
from animgraph.workers import (
    canvas,
    delivery,
    leases,
    logs,
    notifier,
    reconciler,
    restore,
    shutdown,
    steps,
    tuning,
)
from animgraph.workers.app import app
from animgraph.workers.outcome import Step

__all__ = ["decode", "deliver", "encode", "notify", "notify_failed", "procedure", "select"]

RETRY = {
    "autoretry_for": (TransientError, *steps.REDIS_DOWN),
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "max_retries": 5,
}


@app.task(name=PROCEDURE, bind=True, **RETRY)  # type: ignore[untyped-decorator]
def procedure(self: Task, task_id: str) -> None:
    """Resolve templates and offsets once, then dispatch the chord of subtask chains."""
    canvas.dispatch(task_id)


@app.task(name=DECODE, bind=True, **RETRY)  # type: ignore[untyped-decorator]
def decode(
    self: Task, prev: Step | None, task_id: str, index: int, part: int | None = None
) -> Step:
    """Decode the subtask's segment (or slice), rotated and scaled to its output size."""
    return steps.decode(self, prev, task_id, index, part)


@app.task(name=SELECT, bind=True, **RETRY)  # type: ignore[untyped-decorator]
def select(self: Task, prev: Step, task_id: str, index: int, part: int | None = None) -> Step:
    """Choose the frames shown and their display times on the source clock."""
    return steps.select(self, prev, task_id, index, part)


@app.task(name=ENCODE, bind=True, **RETRY, ignore_result=False)  # type: ignore[untyped-decorator]
def encode(self: Task, prev: Step, task_id: str, index: int, part: int | None = None) -> Step:
    """Encode the selected frames in the template's format (or one slice of it)."""
    return steps.encode(self, prev, task_id, index, part)


@app.task(name=NOTIFY, **RETRY)  # type: ignore[untyped-decorator]
def notify(task_id: str) -> None:
    """Join split subtasks, finish the task and emit ProcedureStateChanged."""
    notifier.notify(task_id)


@app.task(name=NOTIFY_FAILED, **RETRY)  # type: ignore[untyped-decorator]
def notify_failed(task_id: str) -> None:
    """The chord's errback: a step failed for good; finish what is left with InternalError."""
    notifier.notify_failed(task_id)


@app.task(name=DELIVER, bind=True, max_retries=None)  # type: ignore[untyped-decorator]
def deliver(self: Task, key: str, seq: int) -> str:
    """POST push ``seq`` of ``key`` to its NotificationUrl, after ``seq - 1``, with retries."""
    return delivery.deliver(self, key, seq)


@worker_ready.connect  # type: ignore[untyped-decorator]
def _start_reconciler(**_: Any) -> None:
    """Every worker runs the periodic reconciler in a thread of its main process."""
    reconciler.start()


@worker_ready.connect  # type: ignore[untyped-decorator]
def _start_leases(sender: Any, **_: Any) -> None:
    """Every worker keeps a heartbeat (what ``animgraph status`` and ``/metrics`` count as
    online) and sweeps lost workers' messages (main process threads); no sweep on a RabbitMQ
    broker, which gives a lost consumer's messages back by itself."""
    holder = leases.start(sender.hostname, leases.describe(sender))
    if leases.needed():
        restore.start(holder.name)


@worker_shutdown.connect  # type: ignore[untyped-decorator]
def _end_heartbeat(**_: Any) -> None:
    """Once the worker has stopped (its messages acknowledged or given back)."""
    leases.stop()


@worker_shutting_down.connect  # type: ignore[untyped-decorator]
def _grace_period(sender: Any, how: str, **_: Any) -> None:
    """SIGTERM: the running steps finish within the grace, or are handed back to their queues."""
    shutdown.begin(str(sender), how)


@task_received.connect  # type: ignore[untyped-decorator]
def _lease_message(request: Any, **_: Any) -> None:
    """In the main process, as it takes each message (before a pool process runs it)."""
    if leases.needed():
        leases.hold(request.hostname, request.message.delivery_tag)


@after_setup_logger.connect  # type: ignore[untyped-decorator]
@after_setup_task_logger.connect  # type: ignore[untyped-decorator]
def _log_format(logger: Any, **_: Any) -> None:
    """Celery has set up its loggers' handlers: JSON lines if ``ANIMGRAPH_LOG_FORMAT=json``."""
    logs.after_setup(logger)


@worker_init.connect  # type: ignore[untyped-decorator]
def _limit_malloc_arenas(**_: Any) -> None:
    """In the worker's main process, before the pool forks (its processes inherit the limit)."""
    tuning.limit_malloc_arenas()


@task_postrun.connect  # type: ignore[untyped-decorator]
def _return_freed_memory(**_: Any) -> None:
    """After every task, in the pool process that ran it."""
    tuning.return_freed_memory()
