"""Threads per job in a real worker (``workers/media/threads.py``, README "Threads per job"): a
worker of concurrency 2 decides them once as its pool starts, says so at start, in its
heartbeat (``animgraph status``) and in every step's last line, which its pool processes write:
they run with the count their parent decided."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from stack import Stack, StackFactory, until

from animgraph.workers.local import WorkerProcess
from animgraph.workers.media.threads import available_cores, threads_per_job

pytestmark = pytest.mark.e2e


def _status(stack: Stack) -> dict[str, dict[str, object]]:
    out = subprocess.run(
        [sys.executable, "-m", "animgraph.producer", "status", "--json"],
        env={**os.environ, **stack.env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return {w["worker"].split("@")[0]: w for w in json.loads(out.stdout)["workers"]}


def _steps_done(worker: WorkerProcess, task_id: str) -> list[str]:
    pattern = rf"(decode|select|encode) of {task_id}\[0\] done in [\d.]+ s \((\d+) threads?\)"
    return re.findall(pattern, worker.log_path.read_text())


def test_a_worker_gives_each_job_its_share_of_the_cores(
    stack_factory: StackFactory, corpus_dir: Path
) -> None:
    cores = available_cores()
    expected = threads_per_job(cores, 2)
    s = stack_factory.start("threads", workers=0)
    worker = s.start_worker("share", concurrency=2)
    line = f"threads per job: {expected} ({cores:g} cores / 2 processes)"
    until(lambda: line in worker.log_path.read_text(), 30, "the startup line")
    task_id = s.gif_job(corpus_dir / "vtest.avi")
    # Written by the pool processes (forked from the worker): the count the worker decided.
    until(lambda: len(_steps_done(worker, task_id)) == 3, 30, "the steps' last lines")
    assert {int(n) for _, n in _steps_done(worker, task_id)} == {expected}
    row = _status(s)["share"]
    assert (row["processes"], row["threads_per_job"]) == (2, expected)

    # ANIMGRAPH_WORKER_THREADS overrides the rule: several workers on one host.
    other = s.start_worker("override", concurrency=1, ANIMGRAPH_WORKER_THREADS="3")
    line = f"threads per job: 3 (ANIMGRAPH_WORKER_THREADS; {cores:g} cores, 1 process)"
    until(lambda: line in other.log_path.read_text(), 30, "the override's startup line")
    until(lambda: "override" in _status(s), 30, "the second worker's heartbeat")
    assert _status(s)["override"]["threads_per_job"] == 3
