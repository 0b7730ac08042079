"""No-op Celery tasks for bench/scale.py: a bare chord of the same shape as an animgraph
procedure, on the same Redis and with the project's Celery settings (``create_celery``).

    ANIMGRAPH_REDIS_URL=redis://... PYTHONPATH=. python -m celery -A bench.bare_tasks worker \
        -Q bench-bare -c 1 -P prefork -E

The shape: ``chord([chain(decode, select, encode)], notify)``. The steps pass a small dict, as
animgraph's ``Step``; the body writes one Redis key, which the benchmark polls, as it polls the
task record's status for a procedure. ``dispatch`` adds the procedure's extra hop (a control
task that sends the chord).
"""

from __future__ import annotations

import os
from typing import Any

import redis
from celery import chain, chord

from animgraph.shared.celeryconf import create_celery
from animgraph.shared.settings import Settings

__all__ = ["BARE_QUEUE", "app", "bare_chord", "body", "dispatch", "done_key", "step"]

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
