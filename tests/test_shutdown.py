"""Graceful shutdown (issue 21, item 4): SIGTERM to a worker mid-step. Within the grace
(``ANIMGRAPH_WORKER_SHUTDOWN_GRACE_S``) the step finishes and the worker exits; past it the
worker exits at once and its step is back on its queue for another worker, without waiting for
its lease to lapse. Nothing is lost either way. Real Redis, real workers, default leases."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
import redis
from stack import Stack, StackFactory, WorkerProcess, drain_events, final_count, until

from animgraph.producer import Client
from animgraph.shared.state import keys

pytestmark = pytest.mark.e2e

ONE_GIF = [{"Definition": 20000, "EndTimeOffset": 1}]


def _submit(client: Client, file_id: str) -> str:
    return client.process_media(
        {"FileId": file_id, "MediaProcessTask": {"AnimatedGraphicTaskSet": ONE_GIF}}
    )


def _attempts(s: Stack, task_id: str, step: str) -> int:
    with redis.Redis.from_url(s.redis.url, decode_responses=True) as raw:
        return int(raw.get(keys.attempts(task_id, 0, None, step)) or 0)


def _waiting_media(s: Stack) -> int:
    """Messages waiting in the media queue (every priority list), and none unacknowledged."""
    with redis.Redis.from_url(s.redis.url, decode_responses=True) as raw:
        lists = ["media", *(f"media:{p}" for p in range(1, 10))]
        assert raw.hlen(keys.KOMBU_UNACKED) == 0, "a message is still held"
        return sum(int(raw.llen(name)) for name in lists)


def _sigterm(worker: WorkerProcess) -> float:
    assert worker.proc is not None
    worker.proc.send_signal(signal.SIGTERM)
    return time.monotonic()


def _exit_code(worker: WorkerProcess, timeout_s: float) -> int:
    assert worker.proc is not None
    try:
        return worker.proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the worker did not exit within {timeout_s:.0f} s of SIGTERM")


def _finished_once(client: Client, task_id: str) -> None:
    task = client.wait(task_id, timeout_s=90)
    [result] = task.media_process_result_set
    sub = result.animated_graphic_task
    assert sub.status == "SUCCESS", sub.message
    assert sub.output is not None and sub.output.size > 0
    assert final_count(drain_events(client), task_id) == 1


def test_within_the_grace_the_running_step_finishes(
    stack_factory: StackFactory, corpus_dir: Path
) -> None:
    """A 60 s grace: the encode (made 6 s long) finishes after SIGTERM, once; the worker exits
    when it has; the task FINISHes with its output (its notifier runs on a control worker).
    The worker runs as ``animgraph worker`` does by default, under its supervisor, which
    passes SIGTERM on and does not restart it."""
    s = stack_factory.start("grace-long", workers=0, kill_at_exit=True)
    stopping = s.start_worker(
        "stopping",
        supervise=True,
        ANIMGRAPH_FAULT_INJECTION="encode:sleep:6",
        ANIMGRAPH_WORKER_SHUTDOWN_GRACE_S="60",
    )
    s.start_worker("control", queues=("control", "io"))
    with s.client() as client:
        task_id = _submit(client, client.register_media(corpus_dir / "vtest.avi").file_id)
        until(lambda: _attempts(s, task_id, "encode") == 1, 60, "the encode to start")
        sent = _sigterm(stopping)
        assert _exit_code(stopping, 45) == 0
        waited = time.monotonic() - sent
        print(f"\nthe worker exited {waited:.1f} s after SIGTERM, its encode done")
        assert waited > 3, "it did not wait for its step"
        _finished_once(client, task_id)
        assert _attempts(s, task_id, "encode") == 1
    log = stopping.log_path.read_text(errors="replace")
    assert "the running ones have 60 s to finish" in log and "grace over" not in log


def test_past_the_grace_the_step_is_handed_back_at_once(
    stack_factory: StackFactory, corpus_dir: Path
) -> None:
    """A 2 s grace against an encode made 60 s long: the worker exits within seconds, its
    message is back on the media queue as it exits (the default 30 s lease has not lapsed),
    and a second worker runs the step and finishes the task, with one event. With one attempt
    allowed (``ANIMGRAPH_MAX_ATTEMPTS=1``), the delivery after a hand-back is still not taken
    for a poison message's."""
    s = stack_factory.start(
        "grace-short", workers=0, kill_at_exit=True, env={"ANIMGRAPH_MAX_ATTEMPTS": "1"}
    )
    stopping = s.start_worker(
        "stopping",
        ANIMGRAPH_FAULT_INJECTION="encode:sleep:60",
        ANIMGRAPH_WORKER_SHUTDOWN_GRACE_S="2",
    )
    with s.client() as client:
        task_id = _submit(client, client.register_media(corpus_dir / "vtest.avi").file_id)
        until(lambda: _attempts(s, task_id, "encode") == 1, 60, "the encode to start")
        sent = _sigterm(stopping)
        assert _exit_code(stopping, 20) == 0
        exited = time.monotonic() - sent
        assert _waiting_media(s) == 1, "the encode is not back on its queue"
        print(f"\nthe worker exited {exited:.1f} s after SIGTERM, its encode requeued")
        assert stopping.pool_pids() == []
        s.start_worker("second")
        _finished_once(client, task_id)
        assert _attempts(s, task_id, "encode") == 2
        print(f"task finished {time.monotonic() - sent:.1f} s after SIGTERM")
    assert f"stopped 1 running steps (encode of {task_id}[0])" in stopping.log_path.read_text(
        errors="replace"
    )
