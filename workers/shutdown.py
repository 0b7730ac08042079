"""A worker told to stop (SIGTERM: Kubernetes, systemd, ``docker stop``, a scale-in): its
running steps get ``ANIMGRAPH_WORKER_SHUTDOWN_GRACE_S`` to finish, then are handed back.

Celery's warm shutdown takes no new message and waits for the running tasks, however long they
take. A grace clock starts beside it: if the worker has not exited when the grace is over, its
pool processes are stopped (SIGKILL: a step acknowledges nothing) and every message it holds is
given back to its queue at once, at the head, with its priority (kombu's ``restore_by_tag``, as
the lease sweep does), so another worker starts it within moments, not once this worker's
lease has lapsed (``ANIMGRAPH_WORKER_LEASE_S``) and a sweep has run. Then it exits, 0. A message
acknowledged meanwhile is left alone (the restore is one transaction on kombu's ``unacked``).
On RabbitMQ the exit itself gives the messages back: the broker requeues a closed connection's.
A step given back is recorded as such (``TaskRepo.count_handback``): its next delivery does not
count against ``ANIMGRAPH_MAX_ATTEMPTS``, which is there for steps that kill their worker.

The default grace is the hard time limit (``ANIMGRAPH_TIME_LIMIT_S``): no step outlives it, so
by default a stopping worker always finishes what it started. An orchestrator must wait longer
than the grace before it kills (Kubernetes' ``terminationGracePeriodSeconds``: deploy/).
"""

from __future__ import annotations

import logging
import os
import threading
import time

from animgraph.shared.tasknames import DECODE, ENCODE, SELECT
from animgraph.workers import leases
from animgraph.workers.app import app, settings
from animgraph.workers.runtime import runtime

__all__ = ["EXIT_HANDED_BACK", "begin", "hand_back"]

log = logging.getLogger(__name__)

# A worker that gave its steps back when told to stop did what it was told: its supervisor (or
# Kubernetes) must not take the exit for a crash.
EXIT_HANDED_BACK = 0

_started = threading.Event()


def begin(nodename: str, how: str) -> None:
    """Celery's shutdown has begun (``worker_shutting_down``, in the main process's signal
    handler: nothing here blocks or logs). A warm one (SIGTERM, SIGINT) starts the grace
    clock, once; a cold one (SIGQUIT) is Celery's own (its soft shutdown, then cancel)."""
    if how != "Warm" or _started.is_set():
        return
    _started.set()
    threading.Thread(
        target=_grace, args=(nodename, settings.worker.grace_s), name="animgraph-grace", daemon=True
    ).start()


def _grace(nodename: str, grace_s: float) -> None:
    log.warning(
        "stopping: no new step is taken; the running ones have %.0f s to finish, then are "
        "handed back to their queues",
        grace_s,
    )
    time.sleep(grace_s)  # the process is gone before this if its steps finish in time
    hand_back(nodename)


def hand_back(nodename: str) -> None:
    """Stop the steps still running, give every message this worker holds back to its queue,
    exit."""
    try:
        running = _running_steps()  # before their processes are stopped
        _count_handbacks(list(running.values()))
    except Exception:  # bookkeeping only: never in the way of the hand-back
        log.exception("the running steps could not be counted; their next runs count as attempts")
        running = {}
    leases.kill_pool()
    try:
        restored = _give_back(nodename)
        log.warning(
            "grace over: stopped %d running steps (%s) and gave the messages this worker held "
            "back to their queues for other workers (%d restored here); exiting",
            len(running),
            ", ".join(f"{s} of {t}[{i}]" for t, i, _, s in running.values()) or "none",
            restored,
        )
    except Exception:
        # Redis unreachable, say: the lease sweep of another worker gives them back later.
        log.exception("grace over: the held messages could not be given back; exiting")
    finally:
        logging.shutdown()
        os._exit(EXIT_HANDED_BACK)


def _give_back(nodename: str) -> int:
    """Restore every message this worker holds and has not acknowledged; how many were still
    to restore (Celery itself requeues the message of a pool process it sees die, first or
    second: each restore is one transaction, so a message goes back once)."""
    if not leases.needed():
        return 0  # RabbitMQ requeues them when this process's connection closes
    tags = leases.holder(nodename).let_go()
    restored = 0
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        for tag in tags:
            with channel.conn_or_acquire() as client:
                # Held but acknowledged since (the leases are pruned at each heartbeat).
                if not client.hexists(channel.unacked_key, tag):
                    continue
            channel.qos.restore_by_tag(tag)  # a no-op if it went back just now
            restored += 1
    return restored


_MEDIA_STEPS = {DECODE: "decode", SELECT: "select", ENCODE: "encode"}


def _running_steps() -> dict[str, tuple[str, int, int | None, str]]:
    """Delivery tag -> (TaskId, index, part, step) of the media steps this worker runs now."""
    from celery.worker.state import active_requests

    found: dict[str, tuple[str, int, int | None, str]] = {}
    for request in list(active_requests):
        step = _MEDIA_STEPS.get(request.name)
        if step is None:
            continue
        _, task_id, index, *rest = request.args  # (prev, task_id, index[, part])
        found[str(request.message.delivery_tag)] = (task_id, index, rest[0] if rest else None, step)
    return found


def _count_handbacks(steps: list[tuple[str, int, int | None, str]]) -> None:
    """Before they are stopped: their next deliveries are not failures."""
    tasks = runtime().state.tasks
    for task_id, index, part, step in steps:
        tasks.count_handback(task_id, index, part, step)
