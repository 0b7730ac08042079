"""Phase marks of one ``animgraph run``, for ``bench/latency.py``.

With ``ANIMGRAPH_CLI_TIMINGS=<file>`` in the environment, ``mark`` notes the wall-clock time
(``time.time()``, comparable with other processes') at which each phase ended, and the marks
are written to that file as JSON (``[[name, seconds], ...]``) when the process exits; without
it nothing is noted.
"""

from __future__ import annotations

import atexit
import json
import os
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

__all__ = ["ENV", "mark", "timed_probe"]

ENV = "ANIMGRAPH_CLI_TIMINGS"
_marks: list[tuple[str, float]] = []
P = ParamSpec("P")
R = TypeVar("R")


def mark(name: str) -> None:
    """Note that phase ``name`` ended now."""
    path = os.environ.get(ENV)
    if not path:
        return
    if not _marks:
        atexit.register(_dump, path)
    _marks.append((name, time.time()))


def timed_probe(probe: Callable[P, R]) -> Callable[P, R]:
    """``probe``, noting when it started and ended (``probe-start``, ``probed``)."""
    if not os.environ.get(ENV):
        return probe

    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        mark("probe-start")
        try:
            return probe(*args, **kwargs)
        finally:
            mark("probed")

    return run


def _dump(path: str) -> None:
    with open(path, "w") as out:
        json.dump(_marks, out)
