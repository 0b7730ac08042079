"""The work the open tasks still hold, in estimated worker seconds by format: what
``animgraph_work_waiting_seconds`` exposes for a scaler (a 4K 60 s job is not a 480 px 2 s
one, and a queue length cannot tell them apart).

A task that has started (PROCESSING) has plans (``SubtaskPlan``: size, segment, format); its
unfinished subtasks count, a split one by the share of its slices not encoded yet. A task still
WAITING has none: its subtasks are sized here as the procedure would size them, from the
request, the media's metadata and the templates. Each subtask's seconds are
``shared.metrics.subtask_work_s`` of its frames and pixels. Records are read once per task and
status, then kept: a scrape reads only the open tasks' status and finished subtasks.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from animgraph.shared.formats import FORMATS
from animgraph.shared.metrics import output_frames, subtask_work_s
from animgraph.shared.models import (
    AnimatedGraphicsTemplate,
    AnimatedGraphicTaskInput,
    MediaMetaData,
)
from animgraph.shared.state import MediaRecord, TaskRecord
from animgraph.shared.state.monitor import Monitor, OpenTask
from animgraph.shared.templates import PRESETS
from animgraph.workers.media.geometry import template_size

__all__ = ["SubtaskWork", "WorkEstimator", "estimate_item", "estimate_plans"]


@dataclass(frozen=True)
class SubtaskWork:
    """One subtask's estimated worker seconds, its format and its time slices."""

    index: int
    format: str
    seconds: float
    slices: int = 1


def _offsets(item: AnimatedGraphicTaskInput, duration_s: float) -> tuple[float, float]:
    """The segment the offsets give (as ``workers.plan.resolve_offsets``, without refusing)."""
    start, end = item.start_time_offset, item.end_time_offset
    start_s = 0.0 if not start else (duration_s + start if start < 0 else start)
    end_s = duration_s if not end else (duration_s + end if end < 0 else end)
    return max(0.0, start_s), min(end_s, duration_s)


def estimate_item(
    index: int,
    item: AnimatedGraphicTaskInput,
    meta: MediaMetaData,
    template: AnimatedGraphicsTemplate | None,
    *,
    max_frames: int = 3000,
) -> SubtaskWork | None:
    """A requested subtask sized as the procedure will size it; None when it will fail at
    once (no such template, offsets outside the video)."""
    duration_s = meta.video_duration or meta.duration
    if template is None or meta.width < 1 or meta.height < 1:
        return None
    start_s, end_s = _offsets(item, duration_s)
    if not start_s < end_s:
        return None
    if template.highlight_duration and end_s - start_s > template.highlight_duration:
        end_s = start_s + template.highlight_duration
    src_w, src_h = (
        (meta.height, meta.width) if meta.rotate % 180 == 90 else (meta.width, meta.height)
    )
    width, height = template_size(src_w, src_h, template)
    frames = output_frames(
        start_s, end_s, template.fps, loop_mode=template.loop_mode, cap=max_frames
    )
    seconds = subtask_work_s(template.format, width, height, frames, budgeted=template.max_size > 0)
    return SubtaskWork(index, template.format, seconds)


def estimate_plans(record: TaskRecord, *, max_frames: int = 3000) -> tuple[SubtaskWork, ...]:
    """The subtasks of a started task, from its plans (those that failed at planning hold no
    work)."""
    found = []
    for plan in record.plans:
        template = plan.template
        if template is None or plan.error_code:
            continue
        frames = output_frames(
            plan.start_s, plan.end_s, template.fps, loop_mode=plan.loop_mode, cap=max_frames
        )
        seconds = subtask_work_s(
            template.format,
            plan.width_px,
            plan.height_px,
            frames,
            budgeted=template.max_size > 0,
        )
        found.append(SubtaskWork(plan.index, template.format, seconds, plan.slices))
    return tuple(found)


class WorkEstimator:
    """Estimates the open tasks' remaining work; one per process, its records kept between
    calls (only the tasks still open are kept)."""

    def __init__(self, monitor: Monitor, *, max_frames: int = 3000) -> None:
        self._monitor = monitor
        self.max_frames = max_frames
        self._known: dict[tuple[str, str], tuple[SubtaskWork, ...]] = {}

    def estimate(self, tasks: list[OpenTask]) -> dict[tuple[str, str], float]:
        """Remaining seconds by (task status, format): every format appears, 0 when none."""
        self._read_missing(tasks)
        wanted = [(t.task_id, w.index) for t in tasks for w in self._subtasks(t) if w.slices > 1]
        slices = self._monitor.slices_done(wanted)
        totals: dict[tuple[str, str], float] = {
            (status, fmt): 0.0 for status in ("WAITING", "PROCESSING") for fmt in FORMATS
        }
        for task in tasks:
            for work in self._subtasks(task):
                if work.index in task.finished:
                    continue
                share = 1.0
                if work.slices > 1:
                    done = slices.get((task.task_id, work.index), 0)
                    share = max(0.0, 1.0 - done / work.slices)
                key = (task.status, work.format)
                totals[key] = totals.get(key, 0.0) + work.seconds * share
        return {k: round(v, 3) for k, v in totals.items()}

    def _subtasks(self, task: OpenTask) -> tuple[SubtaskWork, ...]:
        return self._known.get((task.task_id, task.status), ())

    def _read_missing(self, tasks: list[OpenTask]) -> None:
        """Read the records of the tasks not seen in their status yet; forget closed ones."""
        current = {(t.task_id, t.status) for t in tasks}
        self._known = {k: v for k, v in self._known.items() if k in current}
        missing = [t for t in tasks if (t.task_id, t.status) not in self._known]
        if not missing:
            return
        raws = self._monitor.task_fields([t.task_id for t in missing], "record")
        records: dict[str, TaskRecord] = {}
        for task_id, (raw,) in raws.items():
            with contextlib.suppress(ValueError):  # a record this version cannot read: no work
                records[task_id] = TaskRecord.model_validate_json(raw or "")
        waiting = [t for t in missing if t.task_id in records and not records[t.task_id].plans]
        metas = self._metas({records[t.task_id].request.file_id for t in waiting})
        templates = self._templates(
            {
                item.definition
                for t in waiting
                for item in records[t.task_id].request.media_process_task.animated_graphic_task_set
            }
        )
        for task in missing:
            record = records.get(task.task_id)
            if record is None:
                continue
            if record.plans:
                self._known[(task.task_id, task.status)] = estimate_plans(
                    record, max_frames=self.max_frames
                )
                continue
            meta = metas.get(record.request.file_id)
            items = record.request.media_process_task.animated_graphic_task_set
            found = []
            for index, item in enumerate(items):
                work = (
                    estimate_item(
                        index,
                        item,
                        meta,
                        templates.get(item.definition),
                        max_frames=self.max_frames,
                    )
                    if meta
                    else None
                )
                if work is not None:
                    found.append(work)
            self._known[(task.task_id, task.status)] = tuple(found)

    def _metas(self, file_ids: set[str]) -> dict[str, MediaMetaData]:
        found = {}
        for file_id, raw in self._monitor.media(sorted(file_ids)).items():
            with contextlib.suppress(ValueError):
                record = MediaRecord.model_validate_json(raw or "")
                if not record.probe_error_code:
                    found[file_id] = record.info.meta_data
        return found

    def _templates(self, definitions: set[int]) -> dict[int, AnimatedGraphicsTemplate]:
        found = {d: PRESETS[d] for d in definitions if d in PRESETS}
        custom = sorted(d for d in definitions if d not in PRESETS)
        for definition, raw in self._monitor.templates(custom).items():
            with contextlib.suppress(ValueError):
                found[definition] = AnimatedGraphicsTemplate.model_validate_json(raw or "")
        return found
