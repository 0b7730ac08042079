"""The reconciler: a thread in every worker's main process that, one worker at a time, finishes
the tasks that stalled (their workers gone and nothing redelivered, or their message lost)."""

from __future__ import annotations

import logging
import os
import threading
import time

from animgraph.workers.notifier import finish
from animgraph.workers.runtime import Runtime, runtime

__all__ = ["reconcile_once", "start"]

log = logging.getLogger(__name__)


def start() -> None:
    """Run the periodic reconciler in a daemon thread of this process."""
    threading.Thread(target=_reconcile_forever, name="animgraph-reconciler", daemon=True).start()


def reconcile_once(rt: Runtime) -> list[str]:
    """Finish, with InternalError on what is left, every task that has stalled: PROCESSING with
    no activity for ``stuck_processing_s`` (its workers are gone and nothing was redelivered),
    or WAITING for ``stuck_waiting_s`` (its message was lost). Returns their TaskIds."""
    now = time.time()
    stalled = []
    for task_id in rt.state.tasks.ids(open_only=True):
        activity = rt.state.tasks.activity(task_id)
        if activity is None or activity[0] == "FINISH":
            continue
        status, touched = activity
        limit = (
            rt.settings.reconciler.stuck_waiting_s
            if status == "WAITING"
            else rt.settings.stuck_processing_s
        )
        if now - touched > limit:
            log.warning(
                "task %s stalled %s for %.0f s: finishing it", task_id, status, now - touched
            )
            finish(
                rt, task_id, f"the task stalled: nothing happened to it for {now - touched:.0f} s"
            )
            stalled.append(task_id)
    return stalled


def _reconcile_forever() -> None:
    rt = runtime()
    interval = rt.settings.reconciler.interval_s
    while True:
        time.sleep(interval)
        try:
            # One reconciler at a time across all workers: the lock lapses before the next pass.
            if rt.state.locks.reconciler(os.getpid(), int(interval * 900)):
                reconcile_once(rt)
        except Exception:
            log.exception("reconciler pass failed; trying again in %.0f s", interval)
