"""The canvas: a procedure resolves its subtasks once, then dispatches one chord per task::

    chord([chain(decode, select, encode) per subtask or slice], notify).on_error(notify_failed)

Expected media failures are values, not exceptions (see ``outcome.Step``), so the chord always
fires and ``notify`` finishes the task in one place; when a step's retries run out, the errback
``notify_failed`` finishes it with ``InternalError`` on what was left unfinished.
"""

from __future__ import annotations

import logging

from celery import Signature, chain, chord

from animgraph.shared.clock import now_iso
from animgraph.shared.state import SubtaskPlan
from animgraph.shared.tasknames import (
    DECODE,
    ENCODE,
    NOTIFY,
    NOTIFY_FAILED,
    SELECT,
    message_priority,
)
from animgraph.workers.app import app
from animgraph.workers.outcome import fail
from animgraph.workers.plan import plan_subtasks
from animgraph.workers.runtime import runtime

__all__ = ["dispatch"]

log = logging.getLogger(__name__)


def dispatch(task_id: str) -> None:
    """Resolve templates and offsets once, then dispatch the chord of subtask chains."""
    rt = runtime()
    record = rt.state.tasks.record(task_id)
    if record is None:
        log.error("procedure %s: no task record, nothing to do", task_id)
        return
    if rt.state.tasks.is_dispatched(task_id):
        return  # a redelivered message: the canvas is already out
    media = rt.state.media.get(record.request.file_id)
    items = record.request.media_process_task.animated_graphic_task_set
    if media is None or media.probe_error_code:
        code, message = (
            (media.probe_error_code, media.probe_error_message)
            if media
            else ("SourceFileError.DownloadNotAccessible", "the media file no longer exists")
        )
        plans = tuple(
            SubtaskPlan(index=i, input=item, error_code=code, error_message=message)
            for i, item in enumerate(items)
        )
    else:
        plans = plan_subtasks(
            items,
            media.info.meta_data,
            rt.state.templates.get,
            split_min_s=rt.settings.split.min_s,
            split_slice_s=rt.settings.split.slice_s,
        )
    record = rt.state.tasks.save_plans(task_id, plans)
    now = now_iso()
    for plan in record.plans:
        if plan.error_code:
            rt.state.tasks.update_subtask(task_id, plan.index, begin_process_time=now)
            fail(rt, task_id, plan.index, plan.error_code, plan.error_message, record=record)
    priority = message_priority(record.request.tasks_priority, amqp=rt.settings.broker_is_amqp)
    # One chain per subtask, or per time slice of a subtask split across workers.
    header = [
        chain(
            _task(DECODE, None, task_id, plan.index, part, immutable=True).set(priority=priority),
            _task(SELECT, task_id, plan.index, part).set(priority=priority),
            _task(ENCODE, task_id, plan.index, part).set(priority=priority),
        )
        for plan in record.plans
        if not plan.error_code
        for part in (range(plan.slices) if plan.slices > 1 else [None])
    ]
    body = _task(NOTIFY, task_id, immutable=True).set(priority=priority)
    if header:
        errback = _task(NOTIFY_FAILED, task_id, immutable=True)
        chord(header, body).on_error(errback).apply_async(priority=priority)
    else:
        body.apply_async()
    # Once the chord is out, so that a redelivered procedure message sends nothing twice.
    rt.state.tasks.mark_dispatched(task_id)


def _task(name: str, *args: object, immutable: bool = False) -> Signature:
    """A task signature by its registered name (``immutable``: it ignores the previous step's
    value); the registrations in ``tasks`` import this module, so it cannot import them."""
    return app.signature(name, args=args, immutable=immutable)
