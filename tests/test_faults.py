"""Fault injection (docs/design.md, "Reliability targets"): pool children and whole workers killed by
PID, a step that kills its worker every time, Redis restarted with AOF, stalled and lost
procedures, time limits. Real Redis processes, real worker processes, real clips."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from animgraph.producer import Client, RecordingSender
from animgraph.producer.http_client import ApiClient
from animgraph.shared.models import EventContent, ProcedureTask
from animgraph.shared.redis_server import RedisServer, free_port
from animgraph.shared.settings import Settings
from animgraph.workers.local import WorkerProcess, wait_for_workers

pytestmark = pytest.mark.e2e

# Short timings so recovery is seen in seconds: redelivery of a lost worker's task after 10 s
# (swept every second), the reconciler every second.
FAST = {
    "ANIMGRAPH_VISIBILITY_TIMEOUT_S": "10",
    "ANIMGRAPH_UNACKED_RESTORE_INTERVAL_S": "1",
    "ANIMGRAPH_RECONCILE_INTERVAL_S": "1",
    "ANIMGRAPH_EVENT_REDELIVERY_S": "600",
}


@dataclass
class Stack:
    redis: RedisServer
    data_dir: Path
    env: dict[str, str]
    workers: list[WorkerProcess] = field(default_factory=list)

    @property
    def settings(self) -> Settings:
        values = {k.removeprefix("ANIMGRAPH_").lower(): v for k, v in self.env.items()}
        return Settings.model_validate(
            {**values, "redis_url": self.redis.url, "data_dir": self.data_dir}
        )

    def worker(
        self, name: str, *, queues: tuple[str, ...] = ("control", "media", "io"), **env: str
    ) -> WorkerProcess:
        worker = WorkerProcess(
            self.redis.url,
            self.data_dir,
            name=name,
            concurrency=2,
            queues=queues,
            env={**self.env, **env},
            supervise=True,  # as `animgraph worker` runs by default
        ).start()
        self.workers.append(worker)
        wait_for_workers(self.redis.url, self.settings)
        return worker


@contextmanager
def stack(tmp: Path, **env: str) -> Iterator[Stack]:
    with RedisServer(tmp / "redis", appendonly=True) as server:
        built = Stack(server, tmp, {**FAST, **env})
        try:
            yield built
        finally:
            for worker in built.workers:
                worker.kill() if worker.alive() else None


def _submit(client: Client, file_id: str, items: list[dict[str, Any]], **extra: Any) -> str:
    return client.process_media(
        {"FileId": file_id, "MediaProcessTask": {"AnimatedGraphicTaskSet": items}, **extra}
    )


def _until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


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


def test_pool_children_killed_mid_encode(tmp_path: Path, corpus_dir: Path) -> None:
    with stack(tmp_path) as s, Client(s.settings) as client:
        worker = s.worker("pool")
        file_id = client.register_media(corpus_dir / "cockatoo.mp4").file_id
        task_id = _submit(client, file_id, _heavy_template(client))
        _until(lambda: _encoding(client, task_id), 60, "encoding")
        for pid in worker.pool_pids():
            os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        task = client.wait(task_id, timeout_s=60)
        assert time.monotonic() - killed < 30
        _outputs_ok(task)
        assert [e.procedure_state_change_event.status for e in _final_events(client, task_id)] == [
            "FINISH"
        ]  # type: ignore[union-attr]
        assert worker.alive()


def test_whole_worker_killed_and_replaced(tmp_path: Path, corpus_dir: Path) -> None:
    with stack(tmp_path) as s, Client(s.settings) as client:
        first = s.worker("first")
        file_id = client.register_media(corpus_dir / "cockatoo.mp4").file_id
        task_id = _submit(client, file_id, _heavy_template(client))
        _until(lambda: _encoding(client, task_id), 60, "encoding")
        first.kill()
        killed = time.monotonic()
        s.worker("second")
        task = client.wait(task_id, timeout_s=90)
        assert time.monotonic() - killed < 30
        _outputs_ok(task)
        assert len(_final_events(client, task_id)) == 1


def test_a_step_that_kills_its_worker_every_time_is_stopped(
    tmp_path: Path, corpus_dir: Path
) -> None:
    with stack(tmp_path) as s, Client(s.settings) as client:
        worker = s.worker("poison", ANIMGRAPH_FAULT_INJECTION="encode:kill")
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


def _api(s: Stack, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        **s.env,
        "ANIMGRAPH_REDIS_URL": s.redis.url,
        "ANIMGRAPH_DATA_DIR": str(s.data_dir),
        "ANIMGRAPH_API_KEYS": "AKIDfault:fault-secret",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "animgraph.producer", "api", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _until(lambda: _answers(f"http://127.0.0.1:{port}/openapi.json"), 60, "the API")
    return proc


def _answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=1)
        return True
    except httpx.TransportError:
        return False


def test_redis_restarted_mid_flight(tmp_path: Path, corpus_dir: Path) -> None:
    """Tasks in flight finish. The Celery worker itself may die on the broken connection (a
    kombu race); ``animgraph worker`` then starts it again and the task comes back."""
    with stack(tmp_path) as s, Client(s.settings) as client:
        s.worker("restart")
        port = free_port()
        api = _api(s, port)
        file_id = client.register_media(corpus_dir / "vtest.avi").file_id
        items = [
            {"Definition": 20000, "StartTimeOffset": 1, "EndTimeOffset": 3},
            {"Definition": 20001, "StartTimeOffset": 2, "EndTimeOffset": 4},
        ]
        task_ids = [_submit(client, file_id, items) for _ in range(6)]
        _until(
            lambda: client.describe_task_detail(task_ids[0]).status != "WAITING",
            30,
            "work to start",
        )
        s.redis.restart()
        tasks = [client.wait(task_id, timeout_s=180) for task_id in task_ids]
        for task in tasks:
            _outputs_ok(task)
        events = _all_events(client)
        for task_id in task_ids:
            assert len(_for(events, task_id)) == 1
        # The producer and the API reconnected by themselves too.
        assert client.wait(_submit(client, file_id, items[:1]), timeout_s=60).status == "FINISH"
        with ApiClient(f"http://127.0.0.1:{port}", "AKIDfault", "fault-secret") as http:
            listed = http.call("DescribeTasks", {"Limit": 100})["TaskSet"]
            assert {t["TaskId"] for t in listed} >= set(task_ids)
        api.terminate()
        api.wait(10)


def test_stalled_procedures_are_finished_by_the_reconciler(
    tmp_path: Path, corpus_dir: Path
) -> None:
    with (
        stack(tmp_path, ANIMGRAPH_STUCK_AFTER_S="4", ANIMGRAPH_STUCK_WAITING_S="4") as s,
        Client(s.settings) as client,
    ):
        media_worker = s.worker("media")
        file_id = client.register_media(corpus_dir / "cockatoo.mp4").file_id
        task_id = _submit(client, file_id, _heavy_template(client))
        _until(lambda: _encoding(client, task_id), 60, "encoding")
        media_worker.kill()
        # Only a control worker is left: the lost media tasks are never redelivered to anyone.
        s.worker("control-only", queues=("control", "io"))
        with Client(
            s.settings, sender=RecordingSender()
        ) as lost:  # its message never reaches Redis
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
        assert not (tmp_path / "storage" / "work" / task_id).exists()


def test_time_limits_stop_a_step_and_the_worker_lives_on(tmp_path: Path, corpus_dir: Path) -> None:
    with (
        stack(tmp_path, ANIMGRAPH_SOFT_TIME_LIMIT_S="3", ANIMGRAPH_TIME_LIMIT_S="6") as s,
        Client(s.settings) as client,
    ):
        worker = s.worker("limits")
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


def test_a_dead_celery_worker_is_started_again(tmp_path: Path, corpus_dir: Path) -> None:
    """`animgraph worker` supervises the Celery worker: if it dies unasked, it comes back."""
    with stack(tmp_path) as s, Client(s.settings) as client:
        worker = s.worker("supervised")
        [celery_main] = _children(worker.pid)
        os.kill(celery_main, signal.SIGKILL)
        _until(lambda: _children(worker.pid) not in ([], [celery_main]), 30, "a new Celery worker")
        wait_for_workers(s.redis.url, s.settings, timeout_s=60)
        file_id = client.register_media(corpus_dir / "vtest.avi").file_id
        task = client.wait(
            _submit(client, file_id, [{"Definition": 20000, "EndTimeOffset": 0.5}]), timeout_s=60
        )
        _outputs_ok(task)
        assert worker.alive()


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []
