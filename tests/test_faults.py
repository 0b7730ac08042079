"""Fault injection (docs/design.md, "Reliability targets"): pool children and whole workers killed by
PID, a step that kills its worker every time, Redis restarted with AOF, stalled and lost
procedures, time limits. Real Redis processes, real worker processes, real clips."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from stack import Stack, StackFactory, WorkerProcess, until

from animgraph.producer import Client, RecordingSender
from animgraph.producer.http_client import ApiClient
from animgraph.shared.models import EventContent, ProcedureTask

pytestmark = pytest.mark.e2e

# Short timings so recovery is seen in seconds: redelivery of a lost worker's task after 10 s
# (swept every second), the reconciler every second.
FAST = {
    "ANIMGRAPH_VISIBILITY_TIMEOUT_S": "10",
    "ANIMGRAPH_UNACKED_RESTORE_INTERVAL_S": "1",
    "ANIMGRAPH_RECONCILE_INTERVAL_S": "1",
    "ANIMGRAPH_EVENT_REDELIVERY_S": "600",
}
# Recovery takes about the visibility timeout (10 s) plus a step's run; the bound is several
# times that, so a busy machine does not fail it, and still far below what a task that is
# never redelivered would take (the reconciler's default stall time, over 10 minutes).
RECOVERY_S = 90


def _stack(stacks: StackFactory, *, api: bool = False, **env: str) -> Stack:
    """Redis with an AOF (so it can restart), no worker yet: each test starts its own,
    supervised as `animgraph worker` runs by default."""
    return stacks.start(
        "faults", workers=0, api=api, appendonly=True, kill_at_exit=True, env={**FAST, **env}
    )


def _worker(s: Stack, name: str, **kwargs: Any) -> WorkerProcess:
    return s.start_worker(name, supervise=True, **kwargs)


def _submit(client: Client, file_id: str, items: list[dict[str, Any]], **extra: Any) -> str:
    return client.process_media(
        {"FileId": file_id, "MediaProcessTask": {"AnimatedGraphicTaskSet": items}, **extra}
    )


def _all_events(client: Client) -> list[EventContent]:
    """Every event on the pull queue, confirmed."""
    found: list[EventContent] = []
    while pulled := client.pull_events(wait_s=0).event_set:
        client.confirm_events({"EventHandles": [e.event_handle for e in pulled]})
        found += pulled
    return found


def _for(events: list[EventContent], task_id: str) -> list[EventContent]:
    return [
        e
        for e in events
        if e.procedure_state_change_event and e.procedure_state_change_event.task_id == task_id
    ]


def _final_events(client: Client, task_id: str) -> list[EventContent]:
    """The ProcedureStateChanged events of ``task_id`` (draining the pull queue)."""
    return _for(_all_events(client), task_id)


def _encoding(client: Client, task_id: str) -> bool:
    detail = client.describe_task_detail(task_id)
    return any(
        r.animated_graphic_task.progress >= 63
        for r in detail.procedure_task.media_process_result_set
    )


def _outputs_ok(task: ProcedureTask) -> None:
    for result in task.media_process_result_set:
        sub = result.animated_graphic_task
        assert sub.status == "SUCCESS", sub.message
        assert sub.output is not None and sub.output.size > 0


HEAVY = [
    {"Definition": 20000, "StartTimeOffset": 1, "EndTimeOffset": 4},
    {"Definition": 20001, "StartTimeOffset": 1, "EndTimeOffset": 4},
]


def _heavy_template(client: Client) -> list[dict[str, Any]]:
    gif = client.create_template(Format="gif", Fps=10, Width=1280)
    webp = client.create_template(Format="webp", Fps=10, Width=1280)
    return [
        {"Definition": t.definition, "StartTimeOffset": 1, "EndTimeOffset": 4} for t in (gif, webp)
    ]


def test_pool_children_killed_mid_encode(stack_factory: StackFactory, corpus_dir: Path) -> None:
    s = _stack(stack_factory)
    with s.client() as client:
        worker = _worker(s, "pool")
        file_id = client.register_media(corpus_dir / "cockatoo.mp4").file_id
        task_id = _submit(client, file_id, _heavy_template(client))
        until(lambda: _encoding(client, task_id), 60, "encoding")
        s.kill_pool(worker)
        killed = time.monotonic()
        task = client.wait(task_id, timeout_s=RECOVERY_S + 30)
        assert time.monotonic() - killed < RECOVERY_S
        _outputs_ok(task)
        assert [e.procedure_state_change_event.status for e in _final_events(client, task_id)] == [
            "FINISH"
        ]  # type: ignore[union-attr]
        assert worker.alive()


def test_whole_worker_killed_and_replaced(stack_factory: StackFactory, corpus_dir: Path) -> None:
    s = _stack(stack_factory)
    with s.client() as client:
        first = _worker(s, "first")
        file_id = client.register_media(corpus_dir / "cockatoo.mp4").file_id
        task_id = _submit(client, file_id, _heavy_template(client))
        until(lambda: _encoding(client, task_id), 60, "encoding")
        s.kill_worker(first)
        killed = time.monotonic()
        _worker(s, "second")
        task = client.wait(task_id, timeout_s=RECOVERY_S + 30)
        assert time.monotonic() - killed < RECOVERY_S
        _outputs_ok(task)
        assert len(_final_events(client, task_id)) == 1


def test_a_step_that_kills_its_worker_every_time_is_stopped(
    stack_factory: StackFactory, corpus_dir: Path
) -> None:
    s = _stack(stack_factory)
    with s.client() as client:
        worker = _worker(s, "poison", ANIMGRAPH_FAULT_INJECTION="encode:kill")
        file_id = client.register_media(corpus_dir / "vtest.avi").file_id
        task_id = _submit(
            client, file_id, [{"Definition": 20000, "StartTimeOffset": 1, "EndTimeOffset": 2}]
        )
        [result] = client.wait(task_id, timeout_s=90).media_process_result_set
        sub = result.animated_graphic_task
        assert (sub.status, sub.err_code_ext, sub.err_code) == ("FAIL", "InternalError", 70000)
        assert "encode" in sub.message and "3 times" in sub.message
        assert len(_final_events(client, task_id)) == 1
        assert worker.alive()


def test_redis_restarted_mid_flight(stack_factory: StackFactory, corpus_dir: Path) -> None:
    """Tasks in flight finish. The Celery worker itself may die on the broken connection (a
    kombu race); ``animgraph worker`` then starts it again and the task comes back."""
    s = _stack(stack_factory, api=True, ANIMGRAPH_API_KEYS="AKIDfault:fault-secret")
    with s.client() as client:
        _worker(s, "restart")
        file_id = client.register_media(corpus_dir / "vtest.avi").file_id
        items = [
            {"Definition": 20000, "StartTimeOffset": 1, "EndTimeOffset": 3},
            {"Definition": 20001, "StartTimeOffset": 2, "EndTimeOffset": 4},
        ]
        task_ids = [_submit(client, file_id, items) for _ in range(6)]
        until(
            lambda: client.describe_task_detail(task_ids[0]).status != "WAITING",
            30,
            "work to start",
        )
        s.restart_redis()
        tasks = [client.wait(task_id, timeout_s=180) for task_id in task_ids]
        for task in tasks:
            _outputs_ok(task)
        events = _all_events(client)
        for task_id in task_ids:
            assert len(_for(events, task_id)) == 1
        # The producer and the API reconnected by themselves too.
        assert client.wait(_submit(client, file_id, items[:1]), timeout_s=60).status == "FINISH"
        with ApiClient(s.endpoint, "AKIDfault", "fault-secret") as http:
            listed = http.call("DescribeTasks", {"Limit": 100})["TaskSet"]
            assert {t["TaskId"] for t in listed} >= set(task_ids)


def test_stalled_procedures_are_finished_by_the_reconciler(
    stack_factory: StackFactory, corpus_dir: Path
) -> None:
    s = _stack(stack_factory, ANIMGRAPH_STUCK_AFTER_S="4", ANIMGRAPH_STUCK_WAITING_S="4")
    with s.client() as client:
        media_worker = _worker(s, "media")
        file_id = client.register_media(corpus_dir / "cockatoo.mp4").file_id
        task_id = _submit(client, file_id, _heavy_template(client))
        until(lambda: _encoding(client, task_id), 60, "encoding")
        s.kill_worker(media_worker)
        # Only a control worker is left: the lost media tasks are never redelivered to anyone.
        _worker(s, "control-only", queues=("control", "io"))
        with s.client(sender=RecordingSender()) as lost:  # its message never reaches Redis
            waiting_id = _submit(lost, file_id, [{"Definition": 20000}])
        for stalled in (task_id, waiting_id):
            client.wait(stalled, timeout_s=60)
        events = _all_events(client)
        for stalled in (task_id, waiting_id):
            task = client.wait(stalled, timeout_s=1)
            for result in task.media_process_result_set:
                sub = result.animated_graphic_task
                assert sub.status in ("SUCCESS", "FAIL")
                if sub.status == "FAIL":
                    assert sub.err_code_ext == "InternalError" and "stalled" in sub.message
            assert any(
                r.animated_graphic_task.status == "FAIL" for r in task.media_process_result_set
            )
            assert len(_for(events, stalled)) == 1
        assert not (s.root / "storage" / "work" / task_id).exists()


def test_time_limits_stop_a_step_and_the_worker_lives_on(
    stack_factory: StackFactory, corpus_dir: Path
) -> None:
    s = _stack(stack_factory, ANIMGRAPH_SOFT_TIME_LIMIT_S="3", ANIMGRAPH_TIME_LIMIT_S="6")
    with s.client() as client:
        worker = _worker(s, "limits")
        file_id = client.register_media(corpus_dir / "cockatoo.mp4").file_id
        slow = client.create_template(Format="gif", Fps=20, Width=1280)
        [result] = client.wait(
            _submit(client, file_id, [{"Definition": slow.definition}]), timeout_s=120
        ).media_process_result_set
        sub = result.animated_graphic_task
        assert (sub.status, sub.err_code_ext) == ("FAIL", "InternalError")
        assert "time limit" in sub.message or "failed repeatedly" in sub.message
        quick = _submit(
            client,
            client.register_media(corpus_dir / "vtest.avi").file_id,
            [{"Definition": 20000, "EndTimeOffset": 0.5}],
        )
        assert (
            client.wait(quick, timeout_s=60)
            .media_process_result_set[0]
            .animated_graphic_task.status
            == "SUCCESS"
        )
        assert worker.alive()


def test_a_dead_celery_worker_is_started_again(
    stack_factory: StackFactory, corpus_dir: Path
) -> None:
    """`animgraph worker` supervises the Celery worker: if it dies unasked, it comes back."""
    s = _stack(stack_factory)
    with s.client() as client:
        worker = _worker(s, "supervised")
        celery_main = s.kill_celery_main(worker)
        until(lambda: s.celery_mains(worker) not in ([], [celery_main]), 60, "a new Celery worker")
        s.wait_for_workers(timeout_s=60)
        file_id = client.register_media(corpus_dir / "vtest.avi").file_id
        task = client.wait(
            _submit(client, file_id, [{"Definition": 20000, "EndTimeOffset": 0.5}]), timeout_s=60
        )
        _outputs_ok(task)
        assert worker.alive()
