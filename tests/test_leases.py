"""Worker leases (issue 18, item 1): a dead worker's steps run again within a minute with the
default settings, a live worker's long step runs once, and a frozen worker's late results are
dropped. Real Redis, real worker processes killed or frozen by PID, real clips."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from stack import Stack, StackFactory, WorkerProcess, drain_events, final_count, until

from animgraph.producer import Client
from animgraph.shared.state import keys
from animgraph.shared.state.leases import LeaseRepo

pytestmark = pytest.mark.e2e

# The bound is 60 s with the default 30 s lease; the assertion leaves room for a busy
# two-core machine.
RECOVERY_S = 90


def _submit(client: Client, file_id: str, items: list[dict[str, Any]]) -> str:
    return client.process_media(
        {"FileId": file_id, "MediaProcessTask": {"AnimatedGraphicTaskSet": items}}
    )


def _held_by(leases: LeaseRepo, worker: WorkerProcess) -> set[str]:
    """Delivery tags of unacknowledged messages leased to ``worker``."""
    return {t for t, h in leases.holders().items() if h.startswith(f"{worker.name}@")}


def _all_leases(s: Stack) -> dict[str, str]:
    """Every lease, acknowledged or not (a holder prunes its own at its next heartbeat)."""
    raw = redis.Redis.from_url(s.redis.url, decode_responses=True)
    try:
        return dict(raw.hgetall(keys.LEASES))
    finally:
        raw.close()


def _running_media(worker: WorkerProcess) -> bool:
    """The worker has taken a decode or encode (a step of seconds) and not finished it."""
    log = worker.log_path.read_text(errors="replace")
    taken = set(re.findall(r"Task animgraph\.(?:decode|encode)\[([^]]+)\] received", log))
    done = set(re.findall(r"Task animgraph\.(?:decode|encode)\[([^]]+)\] succeeded", log))
    return bool(taken - done)


def _attempts(s: Stack, task_id: str, step: str, index: int = 0) -> int:
    raw = redis.Redis.from_url(s.redis.url, decode_responses=True)
    try:
        return int(raw.get(keys.attempts(task_id, index, None, step)) or 0)
    finally:
        raw.close()


def test_a_killed_workers_steps_run_again_within_a_minute_by_default(
    stack_factory: StackFactory, corpus_dir: Path
) -> None:
    """Default settings (3600 s visibility timeout): two workers, one SIGKILLed with its pool
    while it runs steps of four 1280 px GIF procedures; the other takes them over."""
    s = stack_factory.start("leases-kill", workers=2, kill_at_exit=True)
    victim, survivor = s.workers
    leases = LeaseRepo.from_url(s.redis.url, timeout_s=5)
    with s.client() as client:
        file_id = client.register_media(corpus_dir / "cockatoo.mp4").file_id
        gif = client.create_template(Format="gif", Fps=10, Width=1280)
        item = {"Definition": gif.definition, "StartTimeOffset": 1, "EndTimeOffset": 4}
        task_ids = [_submit(client, file_id, [item]) for _ in range(4)]
        until(lambda: _running_media(victim), 120, "the victim to run a media step")
        s.kill_worker(victim)
        killed = time.monotonic()
        taken = _held_by(leases, victim)  # what it held when it died (it acknowledges nothing)
        assert taken
        moved: set[str] = set()

        def taken_over() -> bool:
            now = _all_leases(s)
            moved.update(t for t in taken if now.get(t, "").startswith(f"{survivor.name}@"))
            return moved == taken

        until(taken_over, RECOVERY_S + 30, "the survivor to take the victim's steps", 0.05)
        recovery_s = time.monotonic() - killed
        print(f"\nrecovery: the killed worker's {len(taken)} steps restarted in {recovery_s:.1f} s")
        assert recovery_s < RECOVERY_S
        for task_id in task_ids:
            task = client.wait(task_id, timeout_s=240)
            for result in task.media_process_result_set:
                sub = result.animated_graphic_task
                assert sub.status == "SUCCESS", sub.message
                assert sub.output is not None and sub.output.size > 0
        events = drain_events(client)
        assert [final_count(events, t) for t in task_ids] == [1, 1, 1, 1]
    leases.close()


def test_a_long_step_runs_once_while_its_worker_lives(
    stack_factory: StackFactory, corpus_dir: Path
) -> None:
    """A 3 s lease and a 10 s visibility timeout, swept every second (to make it quick): an
    encode made 20 s longer is never taken from its live worker, by either mechanism."""
    s = stack_factory.start(
        "leases-long",
        workers=1,
        kill_at_exit=True,
        env={
            "ANIMGRAPH_WORKER_LEASE_S": "3",
            "ANIMGRAPH_VISIBILITY_TIMEOUT_S": "10",
            "ANIMGRAPH_UNACKED_RESTORE_INTERVAL_S": "1",
            "ANIMGRAPH_FAULT_INJECTION": "encode:sleep:20",
        },
    )
    with s.client() as client:
        file_id = client.register_media(corpus_dir / "vtest.avi").file_id
        task_id = _submit(client, file_id, [{"Definition": 20000, "EndTimeOffset": 1}])
        task = client.wait(task_id, timeout_s=120)
        [result] = task.media_process_result_set
        assert result.animated_graphic_task.status == "SUCCESS"
        assert _attempts(s, task_id, "encode") == 1
        assert final_count(drain_events(client), task_id) == 1


def test_a_frozen_workers_late_results_are_dropped(
    stack_factory: StackFactory, corpus_dir: Path
) -> None:
    """A worker frozen (SIGSTOP of its process group, as a partition looks) longer than a 3 s
    lease: its encode runs elsewhere; woken, its step's late result is fenced out and the
    worker gives its work up (exits; its supervisor starts it again)."""
    s = stack_factory.start(
        "leases-frozen", workers=0, kill_at_exit=True, env={"ANIMGRAPH_WORKER_LEASE_S": "3"}
    )
    frozen = s.start_worker("frozen", supervise=True, ANIMGRAPH_FAULT_INJECTION="encode:sleep:15")
    with s.client() as client:
        file_id = client.register_media(corpus_dir / "vtest.avi").file_id
        task_id = _submit(client, file_id, [{"Definition": 20000, "EndTimeOffset": 1}])
        until(lambda: _attempts(s, task_id, "encode") == 1, 60, "the encode to start")
        pool = frozen.pool_pids()
        os.killpg(frozen.pid, signal.SIGSTOP)
        try:
            s.start_worker("rescuer", wait=False)  # the frozen one answers no ping
            task = client.wait(task_id, timeout_s=120)
            before = task.media_process_result_set[0].animated_graphic_task
            assert before.status == "SUCCESS" and _attempts(s, task_id, "encode") == 2
            # Only the pool first: the late encode finishes while its main process still sleeps.
            for pid in pool:
                os.kill(pid, signal.SIGCONT)
            until(
                lambda: "was superseded" in frozen.log_path.read_text(errors="replace"),
                60,
                "the late encode to be dropped",
            )
        finally:
            os.killpg(frozen.pid, signal.SIGCONT)
        until(
            lambda: "lost its lease" in frozen.log_path.read_text(errors="replace"),
            30,
            "the frozen worker to give up",
        )
        after = client.wait(task_id, timeout_s=10).media_process_result_set[0]
        assert after.animated_graphic_task == before
        assert final_count(drain_events(client), task_id) == 1
