"""The notifier, the last stage of a task: join the slices of split subtasks, finish the task
(close what is left open, drop its intermediates, mark FINISH) and emit its event once."""

from __future__ import annotations

import logging
import os
import shutil
import signal

from animgraph.shared.models import EventContent
from animgraph.shared.state import SubtaskPlan, TaskRecord
from animgraph.workers.delivery import schedule
from animgraph.workers.media.encode import MEDIA_FORMATS
from animgraph.workers.outcome import fail, store_output
from animgraph.workers.runtime import Runtime, runtime
from animgraph.workers.steps import window, work_key

__all__ = ["finish", "notify", "notify_failed"]

log = logging.getLogger(__name__)


def notify(task_id: str) -> None:
    """Join split subtasks, assemble the MediaProcessResultSet, finish the task and emit
    ProcedureStateChanged."""
    rt = runtime()
    record = rt.state.tasks.record(task_id)
    for plan in record.plans if record else ():
        if plan.slices > 1 and rt.state.tasks.subtask(task_id, plan.index).status == "PROCESSING":
            _join_parts(rt, task_id, plan)
    finish(rt, task_id, "the subtask did not finish", record)


def notify_failed(task_id: str) -> None:
    """The chord's errback: a step failed for good; finish what is left with InternalError."""
    finish(runtime(), task_id, "a processing step failed repeatedly; retry the task")


def finish(rt: Runtime, task_id: str, reason: str, record: TaskRecord | None = None) -> None:
    """Finish a task: close open subtasks, drop its frames, mark FINISH, emit the event once.

    Every step but the event is idempotent, so a notifier that died half-way and is redelivered
    (or the reconciler, for one never redelivered) completes the task. The event is written
    once, in one atomic step with its once-only claim; only sending its push is left after
    that step, so a notifier that finds the claim held sends the push again while it is not
    delivered (``deliver`` skips a seq already done).
    ``record``: the task's, when the caller has read it already.
    """
    record = record or rt.state.tasks.record(task_id)
    if record is None:
        return
    for index in range(len(record.request.media_process_task.animated_graphic_task_set)):
        if rt.state.tasks.subtask(task_id, index).status == "PROCESSING":
            fail(rt, task_id, index, "InternalError", reason, record=record)
    # Intermediates go before FINISH is visible, best effort: a storage fault here must not keep
    # the task from finishing.
    try:
        rt.storage.delete_prefix(f"work/{task_id}")
    except Exception:
        log.warning("could not delete the intermediates of %s", task_id, exc_info=True)
    rt.state.tasks.finish(task_id)
    _inject_fault(rt, task_id, "kill-before-claim")
    procedure_task = rt.state.tasks.procedure_task(task_id)
    if procedure_task is None or record.request.tasks_notify_mode == "None":
        rt.state.tasks.claim_notify(task_id)
        return
    event = EventContent(
        event_type="ProcedureStateChanged", procedure_state_change_event=procedure_task
    )
    events = rt.state.events
    published = events.publish_once(task_id, event, rt.state.tasks.final_event_claim(task_id))
    rt.state.tasks.announce(task_id)  # a waiting client returns now (``Client.wait``)
    _inject_fault(rt, task_id, "kill-after-claim")
    if published.seq and (published.first or events.push_pending(task_id, published.seq)):
        _replicated(rt, task_id)
        schedule(task_id, published.seq)


def _replicated(rt: Runtime, task_id: str) -> None:
    """Behind Sentinel, the event on a replica before its push goes out: a failover that lost
    it would have this notifier's message run again and push a second event."""
    wanted = rt.settings.ack_replicas
    if wanted and rt.state.replicate(wanted, rt.settings.redis_ack_timeout_ms) < wanted:
        log.warning("final event of %s pushed before %d replica(s) had it", task_id, wanted)


def _inject_fault(rt: Runtime, task_id: str, point: str) -> None:
    """Fault-injection hook (``ANIMGRAPH_FAULT_INJECTION=notify:<point>``): kill this process
    at ``point``, once per task (a marker in the state), so that the redelivered notifier runs
    through instead of dying every time."""
    if rt.settings.testing.fault_injection != f"notify:{point}":
        return
    if rt.state.tasks.first_fault(task_id, point):
        log.warning("fault injection: killing the notifier of %s at %s", task_id, point)
        os.kill(os.getpid(), signal.SIGKILL)


def _join_parts(rt: Runtime, task_id: str, plan: SubtaskPlan) -> None:
    """Join the slices of a split subtask into its output (when every slice succeeded)."""
    template = plan.template
    assert template is not None
    name = f"part.{template.format}"
    keys = [work_key(task_id, plan.index, name, k) for k in range(plan.slices)]
    if not all(rt.storage.exists(key) for key in keys):
        return  # a slice failed: the subtask is FAIL already, or is finished as such below
    scratch = rt.scratch(task_id, str(plan.index), "join")
    try:
        parts = []
        for k, key in enumerate(keys):
            local = scratch / f"{k}.{template.format}"
            shutil.copyfile(rt.storage.local_path(key, scratch / "dl"), local)
            parts.append(local)
        out = scratch / f"out.{template.format}"
        join = MEDIA_FORMATS[template.format].join
        assert join is not None  # the planner splits joinable formats only
        windows = [window(plan, k) for k in range(plan.slices)]
        part_ms = [round((e - s) * 1000) for s, e in windows]
        join(parts, out, loop_count=plan.loop_count, part_ms=part_ms)
        store_output(rt, task_id, plan, out)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
