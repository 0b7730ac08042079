"""Celery tasks: thin adapters that load inputs by key, call a pure core and store the output.

A procedure expands into one chord per task::

    chord([chain(decode, select, encode) per requested image], notify).on_error(notify_failed)

Expected media failures are values, not exceptions: a step that meets a bad source or bad
offsets marks its subtask FAIL and returns an error ``Step``; the following steps pass it on,
so the chord always fires and ``notify`` finishes the task in one place. Exceptions are kept
for faults worth retrying (``TransientError``); when retries run out, the chord's errback
``notify_failed`` finishes the task with ``InternalError`` on what was left unfinished.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import logging
import os
import random
import shutil
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypedDict

import redis
from celery import Task, chain, chord
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import task_postrun, worker_init, worker_ready

from animgraph.shared.clock import now_iso
from animgraph.shared.errors import (
    InternalSubtaskError,
    SubtaskError,
    TransientError,
    subtask_error,
)
from animgraph.shared.models import EventContent, MediaAnimatedGraphicsItem
from animgraph.shared.state import SubtaskPlan, TaskRecord
from animgraph.shared.tasknames import (
    DECODE,
    DELIVER,
    ENCODE,
    NOTIFY,
    NOTIFY_FAILED,
    PROCEDURE,
    SELECT,
    redis_priority,
)
from animgraph.workers.app import app
from animgraph.workers.media.decode import decode_segment
from animgraph.workers.media.encode import encode_gif, encode_webp
from animgraph.workers.media.framestore import FrameSet
from animgraph.workers.media.join import join_gifs, join_webps
from animgraph.workers.media.select import Shown, select_frames
from animgraph.workers.plan import plan_subtasks
from animgraph.workers.push import post_event
from animgraph.workers.runtime import Runtime, runtime

__all__ = ["decode", "deliver", "encode", "notify", "notify_failed", "procedure", "select"]

log = logging.getLogger(__name__)

FRAME_FILES = ("frames.json", "frames.rgb")
# Redis unreachable (restarting, failing over) is a fault worth retrying, like storage.
REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError)
RETRY = {
    "autoretry_for": (TransientError, *REDIS_DOWN),
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "max_retries": 5,
}
# Progress bands of the three steps of a subtask, in percent.
DECODE_BAND, ENCODE_BAND = (1, 60), (61, 99)


class Step(TypedDict):
    """What one step returns to the next: small and deterministic (no paths, no times)."""

    ok: bool
    code: str
    message: str


OK: Step = {"ok": True, "code": "", "message": ""}


def _work_key(task_id: str, index: int, name: str, part: int | None = None) -> str:
    """Intermediate files of a subtask, or of one time slice (``part``) of a split subtask."""
    if part is None:
        return f"work/{task_id}/{index}/{name}"
    return f"work/{task_id}/{index}/p{part}/{name}"


def _window(plan: SubtaskPlan, part: int | None) -> tuple[float, float]:
    """The seconds of the source a step works on: the whole segment, or one slice of it."""
    if part is None or plan.slices <= 1:
        return plan.start_s, plan.end_s
    start = plan.start_s + part * plan.slice_s
    return round(start, 6), round(min(start + plan.slice_s, plan.end_s), 6)


def _plan(rt: Runtime, task_id: str, index: int, record: TaskRecord | None = None) -> SubtaskPlan:
    record = record or rt.state.get_record(task_id)
    if record is None or index >= len(record.plans):
        raise InternalSubtaskError(f"task {task_id} has no plan for subtask {index}")
    return record.plans[index]


def _fail(rt: Runtime, task_id: str, index: int, code: str, message: str) -> Step:
    """Mark a subtask FAIL and return the error value the next steps pass on."""
    rt.state.update_subtask(
        task_id,
        index,
        status="FAIL",
        err_code_ext=code,
        err_code=subtask_error(code, message).err_code,
        message=message,
        finish_time=now_iso(),
    )
    _subtask_changed(rt, task_id, index)
    return {"ok": False, "code": code, "message": message}


def _publish(rt: Runtime, key: str, event: EventContent) -> None:
    """Record an event for pulling and, in PUSH mode, schedule its delivery."""
    seq = rt.events.publish(key, event)
    if seq is not None:
        deliver.apply_async((key, seq))


def _subtask_changed(rt: Runtime, task_id: str, index: int) -> None:
    """In ``TasksNotifyMode`` Change, an event for each subtask that finishes, but the last:
    the FINISH event of the task reports that one."""
    finished = rt.state.mark_finished(task_id, index)
    record = rt.state.get_record(task_id)
    if finished is None or record is None or record.request.tasks_notify_mode != "Change":
        return
    if finished >= len(record.request.media_process_task.animated_graphic_task_set):
        return
    procedure_task = rt.state.procedure_task(task_id)
    if procedure_task is not None:
        _publish(
            rt,
            task_id,
            EventContent(
                event_type="ProcedureStateChanged", procedure_state_change_event=procedure_task
            ),
        )


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
            rt.state.update_subtask(task_id, index, progress=percent)

    return report


StepBody = Callable[[Runtime, str, int, int | None], Step]


def _guarded(step: str, body: StepBody) -> Callable[..., Step]:
    """Wrap a step: attempt counting, errors as values, transient errors raised for retry."""

    def run(
        self: Task, prev: Step | None, task_id: str, index: int, part: int | None = None
    ) -> Step:
        rt = runtime()
        if prev is not None and not prev["ok"]:
            return prev
        attempts_key = f"animgraph:attempts:{task_id}:{index}:{part}:{step}"
        pipe = rt.state.redis.pipeline()
        pipe.incr(attempts_key)
        pipe.expire(attempts_key, rt.settings.task_ttl_s)
        attempts = int(pipe.execute()[0])
        retries = int(self.request.retries or 0)
        if attempts - retries > rt.settings.max_attempts:
            return _fail(
                rt,
                task_id,
                index,
                "InternalError",
                f"the {step} step was interrupted {attempts - 1} times (worker lost); giving up",
            )
        try:
            _inject_fault(rt.settings.fault_injection, step)
            return body(rt, task_id, index, part)
        except SubtaskError as exc:
            return _fail(rt, task_id, index, exc.code, exc.message)
        except (TransientError, *REDIS_DOWN):
            raise
        except SoftTimeLimitExceeded:
            return _fail(
                rt, task_id, index, "InternalError", f"the {step} step exceeded its time limit"
            )
        except Exception as exc:
            log.exception("%s of %s[%d] failed", step, task_id, index)
            return _fail(
                rt, task_id, index, "InternalError", f"{step} failed: {type(exc).__name__}"
            )

    return run


def _inject_fault(spec: str, step: str) -> None:
    """Fault-injection hook for the fault tests (``ANIMGRAPH_FAULT_INJECTION=<step>:kill``):
    the step kills its own worker process, as a decoder crash or the OOM killer would."""
    if spec and spec.split(":")[0] == step and spec.endswith(":kill"):
        log.warning("fault injection: killing the %s step's process", step)
        os.kill(os.getpid(), signal.SIGKILL)


# --- the procedure -------------------------------------------------------------------------


@app.task(name=PROCEDURE, bind=True, **RETRY)  # type: ignore[untyped-decorator]
def procedure(self: Task, task_id: str) -> None:
    """Resolve templates and offsets once, then dispatch the chord of subtask chains."""
    rt = runtime()
    record = rt.state.get_record(task_id)
    if record is None:
        log.error("procedure %s: no task record, nothing to do", task_id)
        return
    dispatched_key = f"animgraph:task:{task_id}:dispatched"
    if rt.state.redis.exists(dispatched_key):
        return  # a redelivered message: the canvas is already out
    media = rt.state.get_media(record.request.file_id)
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
            rt.state.get_template,
            split_min_s=rt.settings.split_min_s,
            split_slice_s=rt.settings.split_slice_s,
        )
    record = rt.state.save_plans(task_id, plans)
    now = now_iso()
    for plan in record.plans:
        if plan.error_code:
            rt.state.update_subtask(task_id, plan.index, begin_process_time=now)
            _fail(rt, task_id, plan.index, plan.error_code, plan.error_message)
    priority = redis_priority(record.request.tasks_priority)
    # One chain per subtask, or per time slice of a subtask split across workers.
    header = [
        chain(
            decode.si(None, task_id, plan.index, part).set(priority=priority),
            select.s(task_id, plan.index, part).set(priority=priority),
            encode.s(task_id, plan.index, part).set(priority=priority),
        )
        for plan in record.plans
        if not plan.error_code
        for part in (range(plan.slices) if plan.slices > 1 else [None])
    ]
    body = notify.si(task_id).set(priority=priority)
    if header:
        chord(header, body).on_error(notify_failed.si(task_id)).apply_async(priority=priority)
    else:
        body.apply_async()
    rt.state.redis.set(dispatched_key, "1", ex=rt.settings.task_ttl_s)


# --- the three media steps -----------------------------------------------------------------


def _decode(rt: Runtime, task_id: str, index: int, part: int | None) -> Step:
    record = rt.state.get_record(task_id)
    plan = _plan(rt, task_id, index, record)
    if all(rt.storage.exists(_work_key(task_id, index, n, part)) for n in FRAME_FILES):
        return OK  # redelivered after the frames were stored
    start_s, end_s = _window(plan, part)
    started: dict[str, Any] = {"progress": DECODE_BAND[0]} if part is None else {}
    if not rt.state.get_subtask(task_id, index).begin_process_time:
        started["begin_process_time"] = now_iso()
    if started:
        rt.state.update_subtask(task_id, index, **started)
    media = rt.state.get_media(record.request.file_id) if record else None
    if media is None:
        raise SubtaskError(
            "the source file no longer exists", "SourceFileError.DownloadNotAccessible"
        )
    scratch = rt.scratch(task_id, str(index), str(part), "decode")
    try:
        source = rt.storage.local_path(media.source_key, scratch)
        frames = decode_segment(
            source,
            scratch / "frames",
            start_s=start_s,
            end_s=end_s,
            width=plan.width_px,
            height=plan.height_px,
            progress=_progress_reporter(rt, task_id, index, DECODE_BAND) if part is None else None,
            max_pixels=rt.settings.max_frame_pixels,
            fps=plan.template.fps if plan.template else None,
        )
        # The manifest goes last: its presence means the frames are complete.
        for name in reversed(FRAME_FILES):
            key = _work_key(task_id, index, name, part)
            rt.storage.put_file(key, frames.directory / name, move=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return OK


def _load_frames(rt: Runtime, task_id: str, index: int, part: int | None, scratch: Any) -> FrameSet:
    paths = [
        rt.storage.local_path(_work_key(task_id, index, n, part), scratch) for n in FRAME_FILES
    ]
    return FrameSet.load(paths[0].parent)


def _select(rt: Runtime, task_id: str, index: int, part: int | None) -> Step:
    plan = _plan(rt, task_id, index)
    assert plan.template is not None
    start_s, end_s = _window(plan, part)
    scratch = rt.scratch(task_id, str(index), str(part), "select")
    try:
        frames = _load_frames(rt, task_id, index, part, scratch)
        selection = select_frames(
            frames.pts_s,
            start_s=start_s,
            end_s=end_s,
            fps=plan.template.fps,
            max_frames=rt.settings.max_output_frames,
        )
        if not selection:
            raise SubtaskError(
                "no frame of the segment could be shown", "SourceFileError.ContentMalformed"
            )
        path = scratch / "selection.json"
        path.write_text(json.dumps([[s.index, s.start_s, s.duration_s] for s in selection]))
        rt.storage.put_file(_work_key(task_id, index, "selection.json", part), path, move=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return OK


def _md5(path: Any) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _encode(rt: Runtime, task_id: str, index: int, part: int | None) -> Step:
    plan = _plan(rt, task_id, index)
    template = plan.template
    assert template is not None
    scratch = rt.scratch(task_id, str(index), str(part), "encode")
    try:
        frames = _load_frames(rt, task_id, index, part, scratch)
        sel_key = _work_key(task_id, index, "selection.json", part)
        selection = tuple(
            Shown(index=i, start_s=s, duration_s=d)
            for i, s, d in json.loads(rt.storage.local_path(sel_key, scratch).read_text())
        )
        out = scratch / f"out.{template.format}"
        encoder = encode_gif if template.format == "gif" else encode_webp
        encoder(
            frames,
            selection,
            out,
            quality=template.quality,
            progress=_progress_reporter(rt, task_id, index, ENCODE_BAND) if part is None else None,
        )
        if part is None:
            _store_output(rt, task_id, plan, out)
        else:
            rt.storage.put_file(_work_key(task_id, index, f"part.{template.format}", part), out)
            done = int(rt.state.redis.incr(f"animgraph:task:{task_id}:parts:{index}"))
            rt.state.update_subtask(task_id, index, progress=min(95, 5 + 90 * done // plan.slices))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return OK


def _store_output(rt: Runtime, task_id: str, plan: SubtaskPlan, out: Path) -> None:
    """Store a finished animated image and mark its subtask SUCCESS with its ``Output``."""
    template = plan.template
    record = rt.state.get_record(task_id)
    assert template is not None and record is not None
    key = f"outputs/{task_id}/{plan.index}/v.f{template.definition}.{template.format}"
    size = out.stat().st_size
    md5 = _md5(out)
    rt.storage.put_file(key, out, move=True)
    duration_s = plan.end_s - plan.start_s
    item = MediaAnimatedGraphicsItem(
        url=rt.storage.url(key),
        definition=template.definition,
        container=template.format,
        width=plan.width_px,
        height=plan.height_px,
        bitrate=round(size * 8 / duration_s) if duration_s > 0 else 0,
        size=size,
        md5=md5,
        start_time_offset=plan.start_s,
        end_time_offset=plan.end_s,
    )
    rt.state.update_subtask(
        task_id,
        plan.index,
        status="SUCCESS",
        message="SUCCESS",
        output=item.model_dump(),
        progress=100,
        finish_time=now_iso(),
    )
    _subtask_changed(rt, task_id, plan.index)
    rt.state.add_media_output(record.request.file_id, item, f"outputs/{task_id}/{plan.index}")


def _join_parts(rt: Runtime, task_id: str, plan: SubtaskPlan) -> None:
    """Join the slices of a split subtask into its output (when every slice succeeded)."""
    template = plan.template
    assert template is not None
    name = f"part.{template.format}"
    keys = [_work_key(task_id, plan.index, name, k) for k in range(plan.slices)]
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
        if template.format == "gif":
            join_gifs(parts, out)
        else:
            windows = [_window(plan, k) for k in range(plan.slices)]
            join_webps(parts, out, still_ms=[round((e - s) * 1000) for s, e in windows])
        _store_output(rt, task_id, plan, out)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


_run_decode = _guarded("decode", _decode)
_run_select = _guarded("select", _select)
_run_encode = _guarded("encode", _encode)


@app.task(name=DECODE, bind=True, **RETRY)  # type: ignore[untyped-decorator]
def decode(
    self: Task, prev: Step | None, task_id: str, index: int, part: int | None = None
) -> Step:
    """Decode the subtask's segment (or slice), rotated and scaled to its output size."""
    return _run_decode(self, prev, task_id, index, part)


@app.task(name=SELECT, bind=True, **RETRY)  # type: ignore[untyped-decorator]
def select(self: Task, prev: Step, task_id: str, index: int, part: int | None = None) -> Step:
    """Choose the frames shown and their display times on the source clock."""
    return _run_select(self, prev, task_id, index, part)


@app.task(name=ENCODE, bind=True, **RETRY, ignore_result=False)  # type: ignore[untyped-decorator]
def encode(self: Task, prev: Step, task_id: str, index: int, part: int | None = None) -> Step:
    """Encode the selected frames as the template's GIF or WebP (or one slice of it)."""
    return _run_encode(self, prev, task_id, index, part)


# --- the notifier --------------------------------------------------------------------------


def _finish(rt: Runtime, task_id: str, reason: str) -> None:
    """Finish a task: close open subtasks, drop its frames, mark FINISH, emit the event once.

    Every step but the event is idempotent, so a notifier that died half-way and is redelivered
    (or the reconciler, for one never redelivered) completes the task; only the event is
    guarded, by a once-only claim taken just before it is published.
    """
    record = rt.state.get_record(task_id)
    if record is None:
        return
    for index in range(len(record.request.media_process_task.animated_graphic_task_set)):
        if rt.state.get_subtask(task_id, index).status == "PROCESSING":
            _fail(rt, task_id, index, "InternalError", reason)
    # Intermediates go before FINISH is visible, best effort: a storage fault here must not keep
    # the task from finishing.
    try:
        rt.storage.delete_prefix(f"work/{task_id}")
    except Exception:
        log.warning("could not delete the intermediates of %s", task_id, exc_info=True)
    rt.state.finish_task(task_id)
    if not rt.state.claim_notify(task_id):
        return  # finished before: its event is out
    procedure_task = rt.state.procedure_task(task_id)
    if procedure_task is not None and record.request.tasks_notify_mode != "None":
        event = EventContent(
            event_type="ProcedureStateChanged", procedure_state_change_event=procedure_task
        )
        rt.state.keep_event(task_id, event)
        _publish(rt, task_id, event)


@app.task(name=NOTIFY, **RETRY)  # type: ignore[untyped-decorator]
def notify(task_id: str) -> None:
    """Join split subtasks, assemble the MediaProcessResultSet, finish the task and emit
    ProcedureStateChanged."""
    rt = runtime()
    record = rt.state.get_record(task_id)
    for plan in record.plans if record else ():
        if plan.slices > 1 and rt.state.get_subtask(task_id, plan.index).status == "PROCESSING":
            _join_parts(rt, task_id, plan)
    _finish(rt, task_id, "the subtask did not finish")


@app.task(name=NOTIFY_FAILED, **RETRY)  # type: ignore[untyped-decorator]
def notify_failed(task_id: str) -> None:
    """The chord's errback: a step failed for good; finish what is left with InternalError."""
    _finish(runtime(), task_id, "a processing step failed repeatedly; retry the task")


# --- push delivery -------------------------------------------------------------------------


@app.task(name=DELIVER, bind=True, max_retries=None)  # type: ignore[untyped-decorator]
def deliver(self: Task, key: str, seq: int) -> str:
    """POST push ``seq`` of ``key`` to its NotificationUrl, after ``seq - 1``; retry with
    exponential back-off and jitter until ``ANIMGRAPH_PUSH_RETRY_WINDOW_S`` has passed."""
    rt = runtime()
    bus = rt.events
    record = bus.push_record(key, seq)
    done = bus.delivered_seq(key)
    if record is None or done >= seq:
        return "done"
    if done < seq - 1 and not bus.park_or_run(key, seq):
        return "parked"  # the deliverer of seq - 1 schedules this one
    settings = rt.settings
    problem = post_event(record, settings)
    if problem is None:
        outcome = "delivered"
    elif time.time() - record.created > settings.push_retry_window_s:
        log.error("push %s/%s to %s given up: %s", key, seq, record.url, problem)
        outcome = "given up"
    else:
        delay = min(
            settings.push_backoff_max_s, settings.push_backoff_base_s * 2**self.request.retries
        )
        log.warning(
            "push %s/%s to %s failed (%s); again in %.0f s", key, seq, record.url, problem, delay
        )
        raise self.retry(countdown=delay * random.uniform(0.5, 1.0))
    if bus.mark_delivered(key, seq):
        deliver.apply_async((key, seq + 1))
    return outcome


# --- the reconciler ------------------------------------------------------------------------


def reconcile_once(rt: Runtime) -> list[str]:
    """Finish, with InternalError on what is left, every task that has stalled: PROCESSING with
    no activity for ``stuck_processing_s`` (its workers are gone and nothing was redelivered),
    or WAITING for ``stuck_waiting_s`` (its message was lost). Returns their TaskIds."""
    now = time.time()
    stalled = []
    for task_id in rt.state.task_ids(open_only=True):
        activity = rt.state.activity(task_id)
        if activity is None or activity[0] == "FINISH":
            continue
        status, touched = activity
        limit = (
            rt.settings.stuck_waiting_s if status == "WAITING" else rt.settings.stuck_processing_s
        )
        if now - touched > limit:
            log.warning(
                "task %s stalled %s for %.0f s: finishing it", task_id, status, now - touched
            )
            _finish(
                rt, task_id, f"the task stalled: nothing happened to it for {now - touched:.0f} s"
            )
            stalled.append(task_id)
    return stalled


def _reconcile_forever() -> None:
    rt = runtime()
    interval = rt.settings.reconcile_interval_s
    while True:
        time.sleep(interval)
        try:
            # One reconciler at a time across all workers.
            if rt.state.redis.set(
                "animgraph:reconciler", os.getpid(), nx=True, px=int(interval * 900)
            ):
                reconcile_once(rt)
        except Exception:
            log.exception("reconciler pass failed; trying again in %.0f s", interval)


@worker_ready.connect  # type: ignore[untyped-decorator]
def _start_reconciler(**_: Any) -> None:
    """Every worker runs the periodic reconciler in a thread of its main process."""
    threading.Thread(target=_reconcile_forever, name="animgraph-reconciler", daemon=True).start()


def _glibc(name: str) -> Callable[..., int] | None:
    """A glibc function, or None where the C library has none (musl, macOS)."""
    try:
        function: Callable[..., int] = getattr(ctypes.CDLL("libc.so.6"), name)
    except (OSError, AttributeError):
        return None
    return function


_MALLOC_TRIM = _glibc("malloc_trim")
_MALLOPT = _glibc("mallopt")
_M_ARENA_MAX = -8  # mallopt's parameter number (malloc.h)
# glibc gives each thread that allocates at once an arena of its own, up to 8 a core, and never
# gives an arena's free pages back while it lives: after one 1280x720 decode (FFmpeg's frame
# threads) a pool process kept 16 MB more for good, and every later job's peak started from
# there (bench: a 320 px GIF job 124 MB after a cockatoo.mp4 job, 109 MB with two arenas).
# Two arenas, unless MALLOC_ARENA_MAX says otherwise.
MALLOC_ARENAS = 2


@worker_init.connect  # type: ignore[untyped-decorator]
def _limit_malloc_arenas(**_: Any) -> None:
    """In the worker's main process, before the pool forks (its processes inherit the limit);
    producers that import this module keep glibc's default."""
    if _MALLOPT is not None and "MALLOC_ARENA_MAX" not in os.environ:
        _MALLOPT(_M_ARENA_MAX, MALLOC_ARENAS)


@task_postrun.connect  # type: ignore[untyped-decorator]
def _return_freed_memory(**_: Any) -> None:
    """Give the heap a finished task freed back to the system: glibc keeps it, so without this
    a pool process stays at the footprint of its largest past step (frame buffers of a 1280x720
    decode, an encoder's tables) and every later step's peak starts from there."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
