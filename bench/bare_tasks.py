"""No-op Celery tasks for bench/scale.py: a bare chord of the same shape as an animgraph
procedure, on the same Redis and with the project's Celery settings (``create_celery``).

    ANIMGRAPH_REDIS_URL=redis://... PYTHONPATH=. python -m celery -A bench.bare_tasks worker \
        -Q bench-bare -c 1 -P prefork -E

The shape: ``chord([chain(decode, select, encode)], notify)``. The steps pass a small dict, as
animgraph's ``Step``; the body writes one Redis key, which the benchmark polls, as it polls the
task record's status for a procedure. ``dispatch`` adds the procedure's extra hop (a control
task that sends the chord).

``media_chord`` / ``media_dispatch`` are the same shapes whose steps do the procedure's media
work with the same cores (decode, select, encode), passing the frames by a local path: a
hand-written Celery pipeline with none of animgraph's state, events, storage or retries.
Comparing it with a procedure cancels the media work exactly, whatever the machine's load.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import redis
from celery import chain, chord

from animgraph.shared.celeryconf import create_celery
from animgraph.shared.settings import Settings

__all__ = [
    "BARE_QUEUE",
    "app",
    "bare_chord",
    "body",
    "dispatch",
    "done_key",
    "media_chord",
    "media_dispatch",
    "step",
    "work_dir",
]

BARE_QUEUE = "bench-bare"
_URL = os.environ.get("ANIMGRAPH_REDIS_URL", "redis://127.0.0.1:6379/0")

app = create_celery(Settings(redis_url=_URL), _URL, name="bench-bare")
app.conf.task_default_queue = BARE_QUEUE
app.conf.task_routes = {"bench.bare.*": {"queue": BARE_QUEUE}}

_redis: redis.Redis | None = None


def done_key(run_id: str) -> str:
    return f"bench:bare:done:{run_id}"


def _client() -> redis.Redis:
    global _redis
    if _redis is None:
        _redis = redis.Redis.from_url(_URL)
    return _redis


@app.task(name="bench.bare.step")  # type: ignore[untyped-decorator]
def step(prev: dict[str, Any] | None, run_id: str, index: int) -> dict[str, Any]:
    """A media step that does nothing: passes the previous step's value on."""
    return prev or {"ok": True, "code": "", "message": ""}


@app.task(name="bench.bare.body")  # type: ignore[untyped-decorator]
def body(run_id: str) -> None:
    """The chord body: mark the run finished (one SET, as the notifier's FINISH)."""
    _client().set(done_key(run_id), "1", ex=600)


def bare_chord(run_id: str) -> Any:
    """The canvas of one procedure with one image: chord([chain of 3 steps], body)."""
    header = [chain(step.si(None, run_id, 0), step.s(run_id, 0), step.s(run_id, 0))]
    return chord(header, body.si(run_id))


@app.task(name="bench.bare.dispatch")  # type: ignore[untyped-decorator]
def dispatch(run_id: str) -> None:
    """The procedure's hop: a task that sends the chord."""
    bare_chord(run_id).apply_async()


# --- the same shape doing the procedure's media work -------------------------------------------


def work_dir(run_id: str) -> Path:
    """Where one run of the media pipeline keeps its frames and output."""
    return Path(tempfile.gettempdir()) / "animgraph-bench-bare" / run_id


@app.task(name="bench.bare.media_decode")  # type: ignore[untyped-decorator]
def media_decode(prev: dict[str, Any] | None, run_id: str, job: dict[str, Any]) -> dict[str, Any]:
    """Decode the segment to RGB frames in a local folder (animgraph's decode core)."""
    from animgraph.workers.media.decode import decode_segment

    decode_segment(
        Path(job["clip"]),
        work_dir(run_id) / "frames",
        start_s=job["start_s"],
        end_s=job["end_s"],
        width=job["width"],
        height=job["height"],
        fps=job["fps"],  # as animgraph's decode step: only the frames the fps shows
    )
    return {"ok": True, "code": "", "message": ""}


@app.task(name="bench.bare.media_select")  # type: ignore[untyped-decorator]
def media_select(prev: dict[str, Any], run_id: str, job: dict[str, Any]) -> dict[str, Any]:
    """Choose the shown frames (animgraph's select core) and keep them beside the frames."""
    from animgraph.workers.media.framestore import FrameSet
    from animgraph.workers.media.select import select_frames

    frames = FrameSet.load(work_dir(run_id) / "frames")
    selection = select_frames(
        frames.pts_s, start_s=job["start_s"], end_s=job["end_s"], fps=job["fps"]
    )
    rows = [[s.index, s.start_s, s.duration_s] for s in selection]
    (work_dir(run_id) / "selection.json").write_text(json.dumps(rows))
    return prev


@app.task(name="bench.bare.media_encode")  # type: ignore[untyped-decorator]
def media_encode(prev: dict[str, Any], run_id: str, job: dict[str, Any]) -> dict[str, Any]:
    """Encode the GIF (animgraph's encode core)."""
    from animgraph.workers.media.encode import encode_gif
    from animgraph.workers.media.framestore import FrameSet
    from animgraph.workers.media.select import Shown

    work = work_dir(run_id)
    frames = FrameSet.load(work / "frames")
    rows = json.loads((work / "selection.json").read_text())
    selection = tuple(Shown(index=i, start_s=s, duration_s=d) for i, s, d in rows)
    encode_gif(frames, selection, work / "out.gif", quality=job["quality"])
    return prev


@app.task(name="bench.bare.media_body")  # type: ignore[untyped-decorator]
def media_body(run_id: str) -> None:
    """The chord body: drop the frames and mark the run finished."""
    shutil.rmtree(work_dir(run_id), ignore_errors=True)
    _client().set(done_key(run_id), "1", ex=600)


def media_chord(run_id: str, job: dict[str, Any]) -> Any:
    """chord([chain(decode, select, encode)], body) doing the procedure's media work."""
    header = [
        chain(
            media_decode.si(None, run_id, job),
            media_select.s(run_id, job),
            media_encode.s(run_id, job),
        )
    ]
    return chord(header, media_body.si(run_id))


@app.task(name="bench.bare.media_dispatch")  # type: ignore[untyped-decorator]
def media_dispatch(run_id: str, job: dict[str, Any]) -> None:
    """The procedure's hop, then the media chord."""
    media_chord(run_id, job).apply_async()
