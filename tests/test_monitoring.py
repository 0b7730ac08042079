"""Monitoring end to end (README, "Monitoring"): ``/metrics`` of a real ``animgraph api``
through a real Redis and real workers, ``/healthz`` and ``/readyz`` (503 while a Redis of the
test's own is stopped), ``animgraph status`` and the worker liveness probe."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from stack import Stack, StackFactory, until

from animgraph.producer import Client
from animgraph.producer.api import create_app
from animgraph.shared.metrics import output_frames, subtask_work_s
from animgraph.shared.redis_server import RedisServer
from animgraph.shared.settings import Settings
from animgraph.shared.tasknames import redis_priority

pytestmark = pytest.mark.e2e

KEYS = "AKIDmetrics:metrics-secret"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(stack: Stack) -> Samples:
    """Every sample of the API's ``/metrics``, by name and labels."""
    answer = httpx.get(f"{stack.endpoint}/metrics", timeout=30)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(answer.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def near(seconds: float) -> object:
    """The collector gives work in seconds to the millisecond."""
    return pytest.approx(seconds, abs=1e-3)


def cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    """``animgraph <args>`` with the stack's settings."""
    return subprocess.run(
        [sys.executable, "-m", "animgraph.producer", *args],
        env={**os.environ, **stack.env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def stack(module_stack_factory: StackFactory) -> Stack:
    """``animgraph api`` on a Redis of its own, with no worker yet."""
    return module_stack_factory.start(
        "monitoring", workers=0, api=True, env={"ANIMGRAPH_API_KEYS": KEYS}
    )


@pytest.fixture(scope="module")
def client(stack: Stack) -> Iterator[Client]:
    with stack.client() as c:
        yield c


def test_queues_work_and_counters_through_a_real_job(
    stack: Stack, client: Client, corpus_dir: Path, tmp_path: Path
) -> None:
    assert httpx.get(f"{stack.endpoint}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{stack.endpoint}/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["storage"] == {"ok": True, "detail": "writable"}

    # No worker: status says so and exits non-zero.
    down = cli(stack, "status")
    assert down.returncode == 1, down.stdout + down.stderr
    assert "No worker online" in down.stderr

    # Two tasks at both ends of TasksPriority wait in the control queue's lists of their
    # priorities; their work is estimated from the request before any worker has planned it.
    media = client.register_media(corpus_dir / "cockatoo.mp4")  # 1280x720, 14 s
    webp = client.create_animated_graphics_template({"Format": "webp", "Fps": 5, "Width": 320})
    urgent = client.process_media(
        {
            "FileId": media.file_id,
            "TasksPriority": 10,
            "MediaProcessTask": {
                "AnimatedGraphicTaskSet": [
                    {"Definition": 20000, "StartTimeOffset": 1, "EndTimeOffset": 3}
                ]
            },
        }
    )
    later = client.process_media(
        {
            "FileId": media.file_id,
            "TasksPriority": -10,
            "MediaProcessTask": {
                "AnimatedGraphicTaskSet": [
                    {"Definition": webp.definition, "EndTimeOffset": 2},
                    {"Definition": 99999},
                ]
            },
        }
    )
    high, low = str(redis_priority(10)), str(redis_priority(-10))
    assert (high, low) == ("0", "9")
    gif_s = subtask_work_s("gif", 1280, 720, output_frames(1, 3, 2))
    webp_s = subtask_work_s("webp", 320, 180, output_frames(0, 2, 5))
    waiting = scrape(stack)
    assert value(waiting, "animgraph_redis_up") == 1
    assert value(waiting, "animgraph_workers_online") == 0
    q = "animgraph_queue_length"
    assert value(waiting, q, queue="control", priority=high, state="waiting") == 1
    assert value(waiting, q, queue="control", priority=low, state="waiting") == 1
    assert sum(v for (n, _), v in waiting.items() if n == q) == 2
    assert value(waiting, "animgraph_oldest_waiting_seconds", queue="control") > 0
    assert value(waiting, "animgraph_tasks_open", status="WAITING") == 2
    work = "animgraph_work_waiting_seconds"
    assert value(waiting, work, format="gif", task_status="WAITING") == near(gif_s)
    assert value(waiting, work, format="webp", task_status="WAITING") == near(webp_s)
    assert value(waiting, "animgraph_tasks_total", status="WAITING") == 2

    # A worker on the control queue only plans both tasks: their decode steps wait in the
    # media queue's lists, and the work is now the plans'.
    control_alive = tmp_path / "control.alive"
    control = stack.start_worker(
        "control", queues=("control", "io"), ANIMGRAPH_WORKER_ALIVE_FILE=str(control_alive)
    )
    until(
        lambda: value(scrape(stack), "animgraph_tasks_open", status="PROCESSING") == 2,
        60,
        "both tasks planned",
        0.3,
    )
    planned = scrape(stack)
    assert value(planned, q, queue="media", priority=high, state="waiting") == 1
    assert value(planned, q, queue="media", priority=low, state="waiting") == 1
    assert value(planned, work, format="gif", task_status="PROCESSING") == near(gif_s)
    assert value(planned, work, format="webp", task_status="PROCESSING") == near(webp_s)
    assert value(planned, "animgraph_workers_online") == 1
    assert value(planned, "animgraph_worker_processes", queue="control") == 2
    assert value(planned, "animgraph_worker_processes", queue="media") == 0
    shown = cli(stack, "status")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "1 online, 2 processes" in shown.stdout
    assert f"{high}:1 {low}:1" in shown.stdout  # the media queue's lists by priority

    # The liveness probe: the control worker's file is fresh.
    probe = [sys.executable, "-m", "animgraph.workers.alive", "--file", str(control_alive)]
    assert subprocess.run([*probe, "--max-age", "10"], capture_output=True).returncode == 0
    assert cli(stack, "worker-alive", "--file", str(control_alive)).returncode == 0

    # A media worker runs the steps; every counter moves by what the job did.
    stack.start_worker("media", queues=("media",))
    done = [client.wait(task_id, timeout_s=120) for task_id in (urgent, later)]
    results = [r.animated_graphic_task for task in done for r in task.media_process_result_set]
    assert [r.status for r in results] == ["SUCCESS", "SUCCESS", "FAIL"]
    pulled = client.pull_events(wait_s=1).event_set
    client.confirm_events({"EventHandles": [e.event_handle for e in pulled]})

    after = scrape(stack)
    assert value(after, "animgraph_tasks_total", status="FINISH") == 2
    assert value(after, "animgraph_tasks_total", status="PROCESSING") == 2
    sub = "animgraph_subtasks_total"
    assert value(after, sub, format="gif", status="SUCCESS", err_code="") == 1
    assert value(after, sub, format="webp", status="SUCCESS", err_code="") == 1
    unknown = {"format": "unknown", "status": "FAIL", "err_code": "InvalidInput.DefinitionNotExist"}
    assert value(after, sub, **unknown) == 1
    for fmt, result in (("gif", results[0]), ("webp", results[1])):
        assert result.output is not None
        assert value(after, "animgraph_output_bytes_total", format=fmt) == result.output.size
        for step in ("decode", "select", "encode"):
            hist = "animgraph_step_duration_seconds"
            assert value(after, f"{hist}_count", step=step, format=fmt) == 1
            assert value(after, f"{hist}_bucket", step=step, format=fmt, le="+Inf") == 1
            assert value(after, f"{hist}_sum", step=step, format=fmt) > 0
    assert value(after, "animgraph_events_total", mode="pull", outcome="handed_out") == 2
    assert value(after, "animgraph_events_total", mode="pull", outcome="delivered") == 2
    assert value(after, "animgraph_workers_online") == 2
    assert value(after, "animgraph_worker_processes", queue="media") == 2
    assert value(after, "animgraph_tasks_open", status="PROCESSING") == 0
    assert sum(v for (n, _), v in after.items() if n == work) == 0
    assert sum(v for (n, lab), v in after.items() if n == q and ("state", "waiting") in lab) == 0

    # A worker stopped: its heartbeat goes at once, and so does its liveness file.
    control.stop()
    assert subprocess.run([*probe, "--max-age", "10"], capture_output=True).returncode == 1
    assert value(scrape(stack), "animgraph_workers_online") == 1


def test_readyz_follows_redis_and_healthz_does_not(tmp_path: Path) -> None:
    redis = RedisServer(tmp_path / "redis").start()
    settings = Settings(redis_url=redis.url, data_dir=tmp_path, api={"keys": KEYS})
    try:
        with Client(settings) as client, TestClient(create_app(settings, client=client)) as http:
            assert http.get("/readyz").status_code == 200
            redis.stop()
            refused = http.get("/readyz")
            assert refused.status_code == 503
            checks = refused.json()["checks"]
            assert checks["redis"]["ok"] is False
            assert "Connection" in checks["redis"]["detail"], checks
            assert checks["storage"]["ok"] is True
            assert http.get("/healthz").status_code == 200
            metrics = http.get("/metrics")
            assert metrics.status_code == 200 and "animgraph_redis_up 0.0" in metrics.text
            redis.start()
            assert http.get("/readyz").status_code == 200
    finally:
        redis.stop()
