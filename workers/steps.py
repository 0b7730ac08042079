"""The three media steps of a subtask (decode, select, encode) as the tasks run them: each loads
its inputs by work key, calls a pure media core and stores what it made, under one guard."""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import redis
from celery import Task
from celery.exceptions import Ignore, SoftTimeLimitExceeded

from animgraph.shared.clock import now_iso
from animgraph.shared.errors import (
    InternalSubtaskError,
    InvalidInputError,
    SourceFileError,
    SubtaskError,
    TransientError,
)
from animgraph.shared.formats import format_of
from animgraph.shared.logs import bind_step
from animgraph.shared.state import SubtaskPlan, TaskRecord
from animgraph.workers.media.analyse import analyse_source
from animgraph.workers.media.budget import (
    RESULT_FILE_SIZE_TOO_LARGE,
    BudgetUnreachable,
    Fitted,
    encode_within,
)
from animgraph.workers.media.decode import decode_segment
from animgraph.workers.media.encode import ENCODERS
from animgraph.workers.media.framestore import FrameSet, FrameWriter
from animgraph.workers.media.highlight import pick_highlight
from animgraph.workers.media.loop import Loop, arrange, cycle_s, forward_cap
from animgraph.workers.media.seam import CROSSFADE_S, Fade, crossfade, fade_plan, find_seam
from animgraph.workers.media.select import Selection, Shown, select_frames
from animgraph.workers.media.shots import detect_cuts
from animgraph.workers.media.threads import job_threads
from animgraph.workers.media.thumbs import thumbnail
from animgraph.workers.outcome import OK, Attempt, Step, Superseded, fail, store_output
from animgraph.workers.runtime import Runtime, runtime

__all__ = [
    "REDIS_DOWN",
    "decode",
    "decode_window",
    "encode",
    "select",
    "window",
    "work_key",
]

log = logging.getLogger(__name__)

FRAME_FILES = ("frames.json", "frames.rgb")
# Redis unreachable (restarting, failing over) is a fault worth retrying, like storage.
REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError)
# Progress bands of the three steps of a subtask, in percent.
DECODE_BAND, ENCODE_BAND = (1, 60), (61, 99)


def work_key(task_id: str, index: int, name: str, part: int | None = None) -> str:
    """Intermediate files of a subtask, or of one time slice (``part``) of a split subtask."""
    if part is None:
        return f"work/{task_id}/{index}/{name}"
    return f"work/{task_id}/{index}/p{part}/{name}"


def window(plan: SubtaskPlan, part: int | None) -> tuple[float, float]:
    """The seconds of the source a step works on: the whole segment, or one slice of it."""
    if part is None or plan.slices <= 1:
        return plan.start_s, plan.end_s
    start = plan.start_s + part * plan.slice_s
    return round(start, 6), round(min(start + plan.slice_s, plan.end_s), 6)


def decode_window(plan: SubtaskPlan, part: int | None) -> tuple[float, float]:
    """The seconds of the source the decode step reads: ``window``, or the plan's wider
    decode window (``Seamless``, a highlight: see ``SubtaskPlan``), which holds it."""
    if part is not None and plan.slices > 1:
        return window(plan, part)
    start_s, end_s = window(plan, part)
    if plan.decode_start_s is not None and plan.decode_end_s is not None:
        return min(start_s, plan.decode_start_s), max(end_s, plan.decode_end_s)
    return start_s, end_s


# --- the guard every step runs under ---------------------------------------------------------

StepBody = Callable[[Runtime, Attempt, TaskRecord | None], Step]
StepTask = Callable[[Task, Step | None, str, int, int | None], Step]


def _guarded(step: str, body: StepBody) -> StepTask:
    """Wrap a step: attempt counting, errors as values, transient errors raised for retry, a
    superseded attempt (its worker lost its lease, a later delivery runs) dropped, and the
    step's duration counted (``animgraph_step_duration_seconds``)."""

    def run(
        self: Task, prev: Step | None, task_id: str, index: int, part: int | None = None
    ) -> Step:
        rt = runtime()
        if prev is not None and not prev["ok"]:
            return prev
        started = time.monotonic()
        # The record once, for the step body and the format the duration is counted under.
        record = rt.state.tasks.record(task_id)
        # Counted by us: Celery's retry count misses the deliveries whose worker died (a poison
        # message). The number also fences this attempt's writes.
        number = rt.state.tasks.count_attempt(task_id, index, part, step)
        attempt = Attempt(task_id, index, part, step, number)
        # Every line written below (by the step, its media core, Celery) names the step.
        with bind_step(task_id, index, part, step, number) as bound:
            try:
                result = _attempt(rt, attempt, int(self.request.retries or 0), body, record)
                if result["ok"] and not rt.state.tasks.is_latest(attempt):
                    raise Superseded
            except Superseded:
                # Ignore: no result, no next step of the chain; the later delivery goes on.
                log.warning(
                    "%s of %s[%d] (part %s) attempt %d was superseded by a later delivery: "
                    "its result is dropped",
                    step,
                    task_id,
                    index,
                    part,
                    number,
                )
                raise Ignore() from None
            _observe(rt, step, record, index, time.monotonic() - started)
            level, outcome = (
                (logging.INFO, "done") if result["ok"] else (logging.WARNING, result["code"])
            )
            elapsed, threads = bound.elapsed_s, job_threads()
            log.log(
                level, "%s of %s[%d] %s in %.2f s (%d thread%s)", step, task_id, index, outcome,
                elapsed, threads, "s" if threads > 1 else "",
            )  # fmt: skip
            return result

    return run


def _observe(rt: Runtime, step: str, record: TaskRecord | None, index: int, seconds: float) -> None:
    """Count a step's duration under its subtask's format; a metric is never worth failing
    the step for."""
    plans = record.plans if record else ()
    template = plans[index].template if index < len(plans) else None
    try:
        rt.state.metrics.observe_step(step, template.format if template else "unknown", seconds)
    except redis.RedisError as exc:
        log.warning("the duration of %s was not counted: %s", step, exc)


def _attempt(
    rt: Runtime, attempt: Attempt, retries: int, body: StepBody, record: TaskRecord | None
) -> Step:
    """One attempt of a step, its expected failures as values (fenced like its success)."""
    task_id, index, step = attempt.task_id, attempt.index, attempt.step

    def failed(code: str, message: str) -> Step:
        return fail(rt, task_id, index, code, message, fence=attempt, record=record)

    limit = rt.settings.worker.max_attempts
    # Deliveries handed back by stopping workers are not failures (read only when it matters).
    if attempt.number - retries > limit and (
        attempt.number - retries - rt.state.tasks.handbacks(attempt) > limit
    ):
        return failed(
            "InternalError",
            f"the {step} step was interrupted {attempt.number - 1} times (worker lost); giving up",
        )
    try:
        _inject_fault(rt.settings.testing.fault_injection, step)
        return body(rt, attempt, record)
    except SubtaskError as exc:
        return failed(exc.code, exc.message)
    except (TransientError, Superseded, *REDIS_DOWN):
        raise
    except SoftTimeLimitExceeded:
        return failed("InternalError", f"the {step} step exceeded its time limit")
    except Exception as exc:
        log.exception("%s of %s[%d] failed", step, task_id, index)
        return failed("InternalError", f"{step} failed: {type(exc).__name__}")


def _inject_fault(spec: str, step: str) -> None:
    """Fault-injection hook for the fault tests (``ANIMGRAPH_FAULT_INJECTION``):
    ``<step>:kill`` makes the step kill its own worker process, as a decoder crash or the OOM
    killer would; ``<step>:sleep:<s>`` makes it take ``s`` seconds longer (a long step)."""
    name, _, action = spec.partition(":")
    if not spec or name != step:
        return
    if action == "kill":
        log.warning("fault injection: killing the %s step's process", step)
        os.kill(os.getpid(), signal.SIGKILL)
    elif action.startswith("sleep:"):
        log.warning("fault injection: the %s step sleeps %s s", step, action[6:])
        time.sleep(float(action[6:]))


def _progress_reporter(
    rt: Runtime, task_id: str, index: int, band: tuple[int, int]
) -> Callable[[float], None]:
    """A callback mapping a step's 0..1 fraction into its band, writing Redis every 5 % but
    at most twice a second. A step shorter than half a second writes nothing (the next step's
    or the final state follows within moments); a longer one also writes where it ended."""
    low, high = band
    last = [-1.0, time.monotonic()]  # percent, time written (the start: no write before 0.5 s)

    def report(fraction: float) -> None:
        percent = low + int((high - low) * max(0.0, min(1.0, fraction)))
        now = time.monotonic()
        due = percent - last[0] >= 5 and now - last[1] >= 0.5
        if due or (fraction >= 1.0 and last[0] >= 0 and percent != last[0]):
            last[0], last[1] = percent, now
            rt.state.tasks.update_subtask(task_id, index, progress=percent)

    return report


def _plan(rt: Runtime, task_id: str, index: int, record: TaskRecord | None = None) -> SubtaskPlan:
    record = record or rt.state.tasks.record(task_id)
    if record is None or index >= len(record.plans):
        raise InternalSubtaskError(f"task {task_id} has no plan for subtask {index}")
    return record.plans[index]


# --- the three step bodies -------------------------------------------------------------------


def _decode(rt: Runtime, at: Attempt, record: TaskRecord | None) -> Step:
    task_id, index, part = at.task_id, at.index, at.part
    plan = _plan(rt, task_id, index, record)
    if all(rt.storage.exists(work_key(task_id, index, n, part)) for n in FRAME_FILES):
        return OK  # redelivered after the frames were stored
    start_s, end_s = decode_window(plan, part)
    # Only the frames the segment shows at the output rate, unless the select step may move
    # the segment (``Seamless``: its slot grid is not known yet): then every frame of the
    # decode window. A highlight is picked before the decode, which then reads only it.
    thinned = plan.loop_mode != "Seamless"
    started: dict[str, Any] = {"progress": DECODE_BAND[0]} if part is None else {}
    # One read of the subtask: its start time is written only where none is set yet.
    rt.state.tasks.update_subtask(
        task_id, index, unless_set=("begin_process_time",), begin_process_time=now_iso(), **started
    )
    media = rt.state.media.get(record.request.file_id) if record else None
    if media is None:
        raise SubtaskError(
            "the source file no longer exists", "SourceFileError.DownloadNotAccessible"
        )
    scratch = rt.scratch(task_id, str(index), str(part), "decode")
    try:
        source = rt.storage.local_path(media.source_key, scratch)
        _check_linked(media.linked_stat, source)
        if plan.highlight_s and part is None:
            start_s, end_s = _highlight_window(rt, task_id, plan, index, source, scratch)
        frames = decode_segment(
            source,
            scratch / "frames",
            start_s=start_s,
            end_s=end_s,
            width=plan.width_px,
            height=plan.height_px,
            progress=_progress_reporter(rt, task_id, index, DECODE_BAND) if part is None else None,
            max_pixels=rt.settings.limits.max_frame_pixels,
            fps=plan.template.fps if plan.template and thinned else None,
        )
        # The manifest goes last: its presence means the frames are complete.
        for name in reversed(FRAME_FILES):
            key = work_key(task_id, index, name, part)
            rt.storage.put_file(key, frames.directory / name, move=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return OK


def _check_linked(expected: str, source: Path) -> None:
    """A source stored as a hard link to the user's file must still be the bytes registered:
    written into in place since (same inode, other size or time), it is refused."""
    if not expected:
        return
    stat = source.stat()
    if f"{stat.st_size}:{stat.st_mtime_ns}" != expected:
        raise SourceFileError(
            "the source file was changed in place after it was registered (it is stored as a "
            "hard link to the file): register it again",
            "SourceFileError.DownloadNotAccessible",
        )


def _highlight_window(
    rt: Runtime, task_id: str, plan: SubtaskPlan, index: int, source: Path, scratch: Path
) -> tuple[float, float]:
    """Pick the highlight (once: ``highlight.json``, read again by a redelivered decode) from
    a low-resolution analysis of the range searched, sampled on a long source (contract §2.5);
    returns the seconds to decode: the highlight, widened for a seam search when
    ``Seamless``, within the range searched."""
    assert plan.template is not None
    lo, hi = plan.decode_start_s or 0.0, plan.decode_end_s or plan.end_s
    seamless = plan.loop_mode == "Seamless"
    margin = plan.seam_window_s + CROSSFADE_S if seamless else 0.0
    picked = _picked_highlight(rt, task_id, index, scratch)
    if picked is None:
        thumbs, pts = analyse_source(source, run_s=max(6.0, plan.highlight_s + 2 * margin + 1))
        kept = [i for i, t in enumerate(pts) if lo - 1e-6 <= t < hi]
        thumbs, pts = [thumbs[i] for i in kept], [pts[i] for i in kept]
        if not pts:
            raise SubtaskError(
                "no frame of the range searched for a highlight could be decoded",
                "SourceFileError.ContentMalformed",
            )
        found = pick_highlight(
            thumbs,
            pts,
            duration_s=plan.highlight_s,
            cuts=detect_cuts(thumbs, pts),
            seamless=seamless,
            window_s=plan.seam_window_s,
            fps=plan.template.fps,
        )
        picked = (found.start_s, found.end_s)
        record = {"start_s": found.start_s, "end_s": found.end_s, "score": found.score}
        _put_json(rt, scratch, work_key(task_id, index, "highlight.json"), record)
    return max(lo, picked[0] - margin), min(hi, picked[1] + margin)


def _picked_highlight(
    rt: Runtime, task_id: str, index: int, scratch: Path
) -> tuple[float, float] | None:
    """The highlight the decode step picked (``highlight.json``), or None before it has."""
    key = work_key(task_id, index, "highlight.json")
    if not rt.storage.exists(key):
        return None
    picked = json.loads(rt.storage.local_path(key, scratch).read_text())
    return float(picked["start_s"]), float(picked["end_s"])


LOOP_FRAMES = ("loop/frames.json", "loop/frames.rgb")


def _load_frames(
    rt: Runtime, task_id: str, index: int, part: int | None, scratch: Path, *, looped: bool = False
) -> FrameSet:
    """The decoded frames; ``looped``: the select step's cross-faded frames if it wrote any."""
    names = FRAME_FILES
    if looped and part is None and rt.storage.exists(work_key(task_id, index, LOOP_FRAMES[0])):
        names = LOOP_FRAMES
    paths = [rt.storage.local_path(work_key(task_id, index, n, part), scratch) for n in names]
    return FrameSet.load(paths[0].parent)


def segment(
    plan: SubtaskPlan,
    part: int | None,
    frames: FrameSet,
    *,
    highlight: tuple[float, float] | None = None,
    max_frames: int = 3000,
) -> tuple[Loop, tuple[Fade, ...]]:
    """The segment a subtask's frames are selected from, its seam's score, and the frames to
    cross-fade (contract §2.5).

    The plan's offsets (or slice), or the ``highlight`` the decode step picked; ``Seamless``
    then moves the ends by up to ``plan.seam_window_s`` to the least visible jump
    (``seam.find_seam`` on thumbnails of every decoded frame, never across a shot cut), or
    keeps them and cross-fades the jump when no seam is good enough.
    """
    start_s, end_s = highlight or window(plan, part)
    if plan.loop_mode != "Seamless" or part is not None:
        return Loop(start_s, end_s, plan.loop_mode), ()
    assert plan.template is not None
    fps = plan.template.fps
    with frames.reader() as reader:
        thumbs = [thumbnail(reader.frame(i)) for i in range(len(frames))]
    pts = frames.pts_s
    cuts = detect_cuts(thumbs, pts)
    seam = find_seam(
        thumbs,
        pts,
        start_s=start_s,
        end_s=end_s,
        window_s=plan.seam_window_s if highlight is None else 0.0,
        fps=fps,
        cuts=cuts,
        max_frames=max_frames,
    )
    fades: tuple[Fade, ...] = ()
    if seam.crossfade_frames:
        fades = fade_plan(
            pts,
            start_s=seam.start_s,
            end_s=seam.end_s,
            fps=fps,
            frames=seam.crossfade_frames,
            cuts=cuts,
            max_frames=max_frames,
        )
    score = round(seam.score, 3) if math.isfinite(seam.score) else None
    return Loop(seam.start_s, seam.end_s, plan.loop_mode, seam_score=score), fades


def _write_faded(
    rt: Runtime,
    task_id: str,
    index: int,
    frames: FrameSet,
    selection: Selection,
    fades: tuple[Fade, ...],
    scratch: Path,
) -> Selection:
    """Write the shown frames, the faded ones blended, as the encoder's frames
    (``loop/frames.*``); returns the selection renumbered to them."""
    by_position = {fade.position: fade for fade in fades}
    directory = scratch / "loop"
    with frames.reader() as reader, FrameWriter(directory, frames.width, frames.height) as out:
        for position, shown in enumerate(selection):
            rgb = reader.frame(shown.index)
            fade = by_position.get(position)
            if fade is not None:
                rgb = crossfade(rgb, reader.frame(fade.source_index), fade.alpha)
            out.append(rgb, frames.pts_s[shown.index])
        written = out.commit()
    for name in reversed(LOOP_FRAMES):  # the manifest last
        path = written.directory / name.rsplit("/", 1)[-1]
        rt.storage.put_file(work_key(task_id, index, name), path, move=True)
    return tuple(replace(shown, index=k) for k, shown in enumerate(selection))


def _select(rt: Runtime, at: Attempt, record: TaskRecord | None) -> Step:
    task_id, index, part = at.task_id, at.index, at.part
    plan = _plan(rt, task_id, index, record)
    assert plan.template is not None
    scratch = rt.scratch(task_id, str(index), str(part), "select")
    try:
        frames = _load_frames(rt, task_id, index, part, scratch)
        cap = forward_cap(rt.settings.limits.max_output_frames, plan.loop_mode)
        highlight = _picked_highlight(rt, task_id, index, scratch) if plan.highlight_s else None
        loop, fades = segment(plan, part, frames, highlight=highlight, max_frames=cap)
        selection = select_frames(
            frames.pts_s,
            start_s=loop.start_s,
            end_s=loop.end_s,
            fps=plan.template.fps,
            max_frames=cap,
        )
        if not selection:
            raise SubtaskError(
                "no frame of the segment could be shown", "SourceFileError.ContentMalformed"
            )
        if fades:
            selection = _write_faded(rt, task_id, index, frames, selection, fades, scratch)
        selection = arrange(selection, plan.loop_mode)
        played = cycle_s(selection) if plan.loop_mode == "PingPong" else loop.end_s - loop.start_s
        _put_json(rt, scratch, work_key(task_id, index, "selection.json", part), _rows(selection))
        if part is None:  # the slices of a split subtask are Forward, their offsets the plan's
            loop_key = work_key(task_id, index, "loop.json", part)
            _put_text(rt, scratch, loop_key, replace(loop, cycle_s=played).dumps())
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return OK


def _rows(selection: Selection) -> list[list[float]]:
    return [[s.index, s.start_s, s.duration_s] for s in selection]


def _put_json(rt: Runtime, scratch: Path, key: str, value: object) -> None:
    _put_text(rt, scratch, key, json.dumps(value))


def _put_text(rt: Runtime, scratch: Path, key: str, text: str) -> None:
    path = scratch / key.rsplit("/", 1)[-1]
    path.write_text(text)
    rt.storage.put_file(key, path, move=True)


def _encode(rt: Runtime, at: Attempt, record: TaskRecord | None) -> Step:
    task_id, index, part = at.task_id, at.index, at.part
    plan = _plan(rt, task_id, index, record)
    template = plan.template
    assert template is not None
    scratch = rt.scratch(task_id, str(index), str(part), "encode")
    try:
        frames = _load_frames(rt, task_id, index, part, scratch, looped=True)
        sel_key = work_key(task_id, index, "selection.json", part)
        selection = tuple(
            Shown(index=i, start_s=s, duration_s=d)
            for i, s, d in json.loads(rt.storage.local_path(sel_key, scratch).read_text())
        )
        out = scratch / f"out.{template.format}"
        progress = _progress_reporter(rt, task_id, index, ENCODE_BAND) if part is None else None
        fitted = None
        if template.max_size and part is None:  # a budgeted subtask is never split (plan)
            fitted = _encode_within(plan, frames, selection, out, scratch / "budget", progress)
        else:
            ENCODERS[template.format](
                frames,
                selection,
                out,
                quality=template.quality,
                progress=progress,
                loop_count=plan.loop_count,
            )
        if part is None:
            loop = _load_loop(rt, task_id, index, scratch)
            store_output(rt, task_id, plan, out, loop=loop, fitted=fitted, fence=at)
        else:
            rt.storage.put_file(work_key(task_id, index, f"part.{template.format}", part), out)
            done = rt.state.tasks.count_part_as(at)
            if done is None:
                raise Superseded
            rt.state.tasks.update_subtask(
                task_id, index, progress=min(95, 5 + 90 * done // plan.slices)
            )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return OK


def _encode_within(
    plan: SubtaskPlan,
    frames: FrameSet,
    selection: Selection,
    out: Path,
    scratch: Path,
    progress: Callable[[float], None] | None,
) -> Fitted:
    """Encode within the template's ``MaxSize`` (``budget``: Quality, palette, frame rate and
    width given up in that order); a budget even the floors cannot meet fails the subtask with
    ``InvalidInput.ResultFileSizeTooLarge``, its message giving the smallest size reached."""
    template = plan.template
    assert template is not None
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        return encode_within(
            template.format,
            frames,
            selection,
            out,
            max_size=template.max_size,
            quality=template.quality,
            fps=template.fps,
            loop_count=plan.loop_count,
            scratch=scratch,
            progress=progress,
            even=format_of(template.format).even_size,
        )
    except BudgetUnreachable as exc:
        raise InvalidInputError(str(exc), RESULT_FILE_SIZE_TOO_LARGE) from None


def _load_loop(rt: Runtime, task_id: str, index: int, scratch: Path) -> Loop | None:
    """The select step's ``loop.json``, or None when it wrote none (a select step of an
    earlier version, still in flight across an upgrade: the plan's offsets stand)."""
    key = work_key(task_id, index, "loop.json")
    if not rt.storage.exists(key):
        return None
    return Loop.loads(rt.storage.local_path(key, scratch).read_text())


decode = _guarded("decode", _decode)
select = _guarded("select", _select)
encode = _guarded("encode", _encode)
