"""JSON logs (issue 21, item 3): a real worker with ``ANIMGRAPH_LOG_FORMAT=json`` writes nothing
but JSON lines on stderr, Celery's own lines included, and every line a step writes names its
TaskId, subtask index, step and duration."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from stack import StackFactory, until

pytestmark = pytest.mark.e2e


def test_a_json_worker_writes_one_json_object_a_line(
    stack_factory: StackFactory, corpus_dir: Path
) -> None:
    s = stack_factory.start("logs", workers=0, env={"ANIMGRAPH_LOG_FORMAT": "json"})
    stderr = s.root / "worker.stderr"
    worker = s.start_worker("json", concurrency=1, stderr_path=stderr, supervise=True)
    task_id = s.gif_job(corpus_dir / "vtest.avi")
    # The supervisor (``animgraph worker``) writes JSON too: it restarts a killed worker.
    s.kill_celery_main(worker)
    until(lambda: "starting it again" in stderr.read_text(), 30, "the supervisor's line")
    s.wait_for_workers()
    worker.stop()  # a warm shutdown: its last lines are written
    lines = stderr.read_text().splitlines()
    records: list[dict[str, Any]] = []
    for number, line in enumerate(lines, 1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"stderr line {number} is not JSON: {line!r}")
    assert all({"time", "level", "logger", "message"} <= r.keys() for r in records)
    for step in ("decode", "select", "encode"):
        mine = [r for r in records if r.get("step") == step]
        assert mine, f"no line of the {step} step"
        for r in mine:
            assert (r["TaskId"], r["index"], r["attempt"]) == (task_id, 0, 1), r
            assert isinstance(r["duration_s"], float) and r["duration_s"] >= 0
            assert r["celery_task"] == f"animgraph.{step}"
        [done] = [r for r in mine if " done in " in r["message"]]
        assert done["message"].startswith(f"{step} of {task_id}[0] done in")
    # Celery's own lines (main process and pool) are JSON lines too.
    messages = [r["message"] for r in records]
    assert sum(m.endswith(" ready.") for m in messages) == 2, "started, and restarted"
    assert "The worker exited with -9; starting it again." in messages
    assert any("animgraph.encode" in m and "succeeded in" in m for m in messages)


def test_the_api_logs_json_lines_too(stack_factory: StackFactory) -> None:
    env = {"ANIMGRAPH_LOG_FORMAT": "json", "ANIMGRAPH_API_KEYS": "AKIDlogs:secret"}
    s = stack_factory.start("logs-api", workers=0, api=True, env=env)
    assert s.api is not None
    s.api.terminate()
    s.api.wait(10)
    lines = s.api_log.read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert any(r["message"] == f"API {s.endpoint}" for r in records), lines
