"""The worker's liveness file, and the probe that reads it without starting anything.

The worker's consumer loop touches the file every ``TOUCH_S`` seconds (a bootstep on the
worker's own timer: ``app.py``) and removes it when the worker stops. A consumer that is stuck,
or that has been reconnecting to its broker, stops touching it. The probe only stats the file:
``python -m animgraph.workers.alive --max-age 30`` (standard library only, about 50 ms) or
``animgraph worker-alive --max-age 30``; it exits 0 when the file is younger than the max age.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path

__all__ = ["DEFAULT_NAME", "TOUCH_S", "age_s", "check", "default_path", "main", "touch"]

TOUCH_S = 2.0
DEFAULT_NAME = "worker.alive"


def default_path(environ: Mapping[str, str] | None = None) -> Path:
    """The file as the worker's settings name it (``ANIMGRAPH_WORKER_ALIVE_FILE``, else
    ``<ANIMGRAPH_DATA_DIR>/worker.alive``), read from the environment without the settings
    package (a test keeps the two in step)."""
    env = os.environ if environ is None else environ
    if env.get("ANIMGRAPH_WORKER_ALIVE_FILE"):
        return Path(env["ANIMGRAPH_WORKER_ALIVE_FILE"])
    return Path(env.get("ANIMGRAPH_DATA_DIR") or "var") / DEFAULT_NAME


def touch(path: Path) -> None:
    """Mark the worker alive now."""
    try:
        os.utime(path)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()


def age_s(path: Path, now: float | None = None) -> float | None:
    """Seconds since the file was last touched, None when there is none."""
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    return max(0.0, (time.time() if now is None else now) - mtime)


def check(path: Path, max_age_s: float) -> tuple[bool, str]:
    """Whether the worker that touches ``path`` is alive, and a line saying why."""
    age = age_s(path)
    if age is None:
        return False, f"{path}: no such file (the worker is not running, or has stopped)"
    if age > max_age_s:
        return False, f"{path}: last touched {age:.1f} s ago (max {max_age_s:g} s)"
    return True, f"{path}: touched {age:.1f} s ago"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m animgraph.workers.alive",
        description="Exit 0 if the worker's liveness file was touched within --max-age seconds.",
    )
    parser.add_argument("--max-age", type=float, default=30.0, help="seconds (default 30)")
    parser.add_argument(
        "--file",
        type=Path,
        help="default: $ANIMGRAPH_WORKER_ALIVE_FILE, else $ANIMGRAPH_DATA_DIR/worker.alive",
    )
    args = parser.parse_args(argv)
    ok, why = check(args.file or default_path(), args.max_age)
    print(why, file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
