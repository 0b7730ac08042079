"""Redis command probe for bench/capacity.py: loaded by every Python process started with this
folder on PYTHONPATH and ``ANIMGRAPH_BENCH_PROBE=<dir>``; counts the Redis commands each
Celery task sends (by task, command and key family) and writes them to ``<dir>/<pid>.json``."""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

COUNTS: Counter[str] = Counter()
ROUND_TRIP = "(round trip)"
STATE = {"bucket": "outside a task"}


def _family(args: tuple[Any, ...]) -> str:
    """``state`` for animgraph's own keys, ``celery`` for the broker's and result backend's."""
    name = str(args[0]).upper() if args else ""
    key = args[3] if name in ("EVALSHA", "EVAL") and len(args) > 3 else args[1:2]
    first = key[0] if isinstance(key, tuple) and key else key
    text = first.decode() if isinstance(first, bytes) else str(first)
    return "state" if text.startswith("animgraph:") else "celery"


def count(args: tuple[Any, ...]) -> None:
    if args:
        COUNTS[f"{STATE['bucket']}|{str(args[0]).upper()}|{_family(args)}"] += 1


def round_trip() -> None:
    """One request/answer exchange with Redis: a command, or a whole pipeline."""
    COUNTS[f"{STATE['bucket']}|{ROUND_TRIP}|-"] += 1


def dump(directory: str) -> None:
    path = Path(directory) / f"{os.getpid()}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(COUNTS))
    tmp.replace(path)


def _dump_every(directory: str, period_s: float) -> None:
    """Dump from a thread too: a worker's main process runs no task (its fetches, acks and
    task events would go unseen), and a forked child starts counting afresh."""

    def loop() -> None:
        while True:
            time.sleep(period_s)
            dump(directory)

    threading.Thread(target=loop, name="bench-probe", daemon=True).start()


def _forked(directory: str) -> None:
    COUNTS.clear()  # the parent's counts are the parent's: not counted twice
    STATE["bucket"] = "outside a task"
    _dump_every(directory, 0.5)


def install(directory: str, *, background: bool = True) -> None:
    """Count from now on; ``background``: also dump every half second (the bench's own process
    reads ``COUNTS`` directly instead)."""
    import redis.client

    plain = redis.client.Redis.execute_command
    piped = redis.client.Pipeline.execute

    def execute_command(self: Any, *args: Any, **options: Any) -> Any:
        count(args)
        round_trip()
        return plain(self, *args, **options)

    def execute(self: Any, raise_on_error: bool = True) -> Any:
        stack = [c[0] if isinstance(c, tuple) else c.args for c in self.command_stack]
        if stack and self.transaction:  # redis-py wraps a transaction in MULTI ... EXEC
            stack = [("MULTI", *stack[0][1:2]), *stack, ("EXEC", *stack[0][1:2])]
        for args in stack:
            count(args)
        if stack:
            round_trip()
        return piped(self, raise_on_error)

    redis.client.Redis.execute_command = execute_command  # type: ignore[method-assign]
    redis.client.Pipeline.execute = execute  # type: ignore[method-assign]
    if background:
        _dump_every(directory, 0.5)
        os.register_at_fork(after_in_child=lambda: _forked(directory))
    try:
        from celery.signals import task_postrun, task_prerun
    except ImportError:
        return

    def prerun(task: Any = None, **_: Any) -> None:
        STATE["bucket"] = str(getattr(task, "name", "task")).rsplit(".", 1)[-1]

    def postrun(**_: Any) -> None:
        STATE["bucket"] = "outside a task"
        dump(directory)

    task_prerun.connect(prerun, weak=False)
    task_postrun.connect(postrun, weak=False)


if os.environ.get("ANIMGRAPH_BENCH_PROBE"):
    install(os.environ["ANIMGRAPH_BENCH_PROBE"])
