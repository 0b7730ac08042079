"""A subtask's recorded end: FAIL with the error value the next steps pass on, or SUCCESS with
its stored output and result item (MD5, bitrate); each followed by its subtask-changed event."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, TypedDict

from animgraph.shared.clock import now_iso
from animgraph.shared.errors import subtask_error
from animgraph.shared.metrics import UNKNOWN_FORMAT, SubtaskOutcome
from animgraph.shared.models import EventContent, MediaAnimatedGraphicsItem
from animgraph.shared.state import SubtaskPlan, TaskRecord
from animgraph.shared.state.tasks import Attempt
from animgraph.workers.delivery import publish
from animgraph.workers.media.budget import Fitted
from animgraph.workers.media.loop import Loop
from animgraph.workers.runtime import Runtime

__all__ = ["OK", "Attempt", "Step", "Superseded", "fail", "store_output"]


class Superseded(Exception):
    """A later delivery of this step has started (this one's worker lost its lease): what this
    one made is dropped, and nothing follows it."""


class Step(TypedDict):
    """What one step returns to the next: small and deterministic (no paths, no times)."""

    ok: bool
    code: str
    message: str


OK: Step = {"ok": True, "code": "", "message": ""}


def fail(
    rt: Runtime,
    task_id: str,
    index: int,
    code: str,
    message: str,
    *,
    fence: Attempt | None = None,
    record: TaskRecord | None = None,
) -> Step:
    """Mark a subtask FAIL and return the error value the next steps pass on; with ``fence``,
    only while that attempt is its step's latest (else ``Superseded``). ``record``: the
    task's, if read already."""
    _write_subtask(
        rt,
        task_id,
        index,
        fence,
        status="FAIL",
        err_code_ext=code,
        err_code=subtask_error(code, message).err_code,
        message=message,
        finish_time=now_iso(),
    )
    record = record or rt.state.tasks.record(task_id)
    outcome = SubtaskOutcome(_format_of(record, index), "FAIL", code)
    _subtask_changed(rt, task_id, index, outcome, record)
    return {"ok": False, "code": code, "message": message}


def store_output(
    rt: Runtime,
    task_id: str,
    plan: SubtaskPlan,
    out: Path,
    *,
    loop: Loop | None = None,
    fitted: Fitted | None = None,
    fence: Attempt | None = None,
) -> None:
    """Store a finished animated image and mark its subtask SUCCESS with its ``Output``; with
    ``fence``, only while that attempt is its step's latest (else ``Superseded``).

    ``loop`` is what the select step recorded (``loop.json``): the offsets the frames were
    selected from, the loop mode, the seam's score and the cycle's display time. Without it
    (the join of a split subtask, which is Forward) the plan's offsets stand. ``fitted`` is
    what an encode within ``MaxSize`` used (frame rate, size, Quality, palette, encodes).
    """
    template = plan.template
    record = rt.state.tasks.record(task_id)
    assert template is not None and record is not None
    if fence is not None and not rt.state.tasks.is_latest(fence):
        raise Superseded  # before the upload: the output stored is the latest attempt's
    key = f"outputs/{task_id}/{plan.index}/v.f{template.definition}.{template.format}"
    size = out.stat().st_size
    md5 = _md5(out)
    rt.storage.put_file(key, out, move=True)
    loop = loop or Loop(plan.start_s, plan.end_s, plan.loop_mode)
    # One cycle's display time: the segment's length, about twice that for PingPong.
    duration_s = loop.cycle_s or loop.end_s - loop.start_s
    used = fitted.choice if fitted else None
    item = MediaAnimatedGraphicsItem(
        url=rt.storage.url(key),
        definition=template.definition,
        container=template.format,
        width=used.width if used else plan.width_px,
        height=used.height if used else plan.height_px,
        bitrate=round(size * 8 / duration_s) if duration_s > 0 else 0,
        size=size,
        md5=md5,
        start_time_offset=loop.start_s,
        end_time_offset=loop.end_s,
        loop_mode=loop.mode,
        seam_score=loop.seam_score,
        fps=used.fps if used else None,
        quality=used.quality if used else None,
        colors=used.colors if used else None,
        encodes=fitted.encodes if fitted else None,
    )
    _write_subtask(
        rt,
        task_id,
        plan.index,
        fence,
        status="SUCCESS",
        message="SUCCESS",
        output=item.model_dump(),
        progress=100,
        finish_time=now_iso(),
    )
    outcome = SubtaskOutcome(template.format, "SUCCESS", output_bytes=size)
    _subtask_changed(rt, task_id, plan.index, outcome, record)
    rt.state.media.add_output(record.request.file_id, item, f"outputs/{task_id}/{plan.index}")


def _write_subtask(
    rt: Runtime, task_id: str, index: int, fence: Attempt | None, **changes: Any
) -> None:
    if fence is None:
        rt.state.tasks.update_subtask(task_id, index, **changes)
    elif not rt.state.tasks.update_subtask_as(fence, **changes):
        raise Superseded


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _format_of(record: TaskRecord | None, index: int) -> str:
    """The format a subtask's plan resolved (``UNKNOWN_FORMAT`` before or without one)."""
    plans = record.plans if record else ()
    template = plans[index].template if index < len(plans) else None
    return template.format if template else UNKNOWN_FORMAT


def _subtask_changed(
    rt: Runtime, task_id: str, index: int, outcome: SubtaskOutcome, record: TaskRecord | None
) -> None:
    """Count the subtask's ``outcome`` once and, in ``TasksNotifyMode`` Change, send an event
    for each subtask that finishes, but the last: the FINISH event of the task reports that
    one. ``record``: the task's."""
    finished = rt.state.tasks.mark_finished(task_id, index, outcome)
    if finished is None:
        return  # recorded before: a redelivered step
    if record is None or record.request.tasks_notify_mode != "Change":
        return
    if finished >= len(record.request.media_process_task.animated_graphic_task_set):
        return
    procedure_task = rt.state.tasks.procedure_task(task_id)
    if procedure_task is not None:
        publish(
            rt,
            task_id,
            EventContent(
                event_type="ProcedureStateChanged", procedure_state_change_event=procedure_task
            ),
        )
