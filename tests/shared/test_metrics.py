"""Monitoring's parts without a worker: kombu's list names, the buckets and the cost model, the
counters and the monitor's reads against a real Redis (messages sent by a real Celery app),
the work estimate of waiting and planned tasks, and the liveness file."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
import redis
from kombu.transport.redis import Channel

from animgraph.producer.metrics import _cumulative
from animgraph.producer.workload import WorkEstimator
from animgraph.shared.celeryconf import celery_config, create_celery
from animgraph.shared.metrics import (
    STEP_BUCKETS_S,
    SubtaskOutcome,
    bucket_of,
    output_frames,
    subtask_work_s,
)
from animgraph.shared.models import EventContent, ProcessMediaRequest
from animgraph.shared.settings import Settings
from animgraph.shared.state import MediaRecord, State, SubtaskPlan, TaskRecord, keys
from animgraph.shared.state.leases import LeaseRepo
from animgraph.shared.state.metrics import StepHistogram
from animgraph.shared.state.monitor import Monitor
from animgraph.shared.tasknames import CONTROL_QUEUE, PROCEDURE
from animgraph.shared.templates import PRESETS
from animgraph.workers import alive


def test_queue_list_names_are_kombus() -> None:
    """``keys.kombu_queue`` names the list kombu's own ``_q_for_pri`` does with our transport
    options (the separator and steps celeryconf gives kombu)."""
    options = celery_config(Settings(), "redis://localhost/0")["broker_transport_options"]
    assert options["sep"] == keys.KOMBU_SEP
    assert tuple(options["priority_steps"]) == keys.KOMBU_PRIORITY_STEPS
    channel = SimpleNamespace(sep=options["sep"], priority_steps=options["priority_steps"])
    channel.priority = lambda n: Channel.priority(channel, n)  # type: ignore[attr-defined]
    for priority in range(10):
        assert keys.kombu_queue("media", priority) == Channel._q_for_pri(channel, "media", priority)
    assert keys.kombu_queue("media", 0) == "media"
    assert keys.kombu_queue("media", 3) == "media:3"


def test_buckets_are_counted_alone_and_exposed_cumulatively() -> None:
    assert bucket_of(0.0) == "0.05" and bucket_of(0.05) == "0.05" and bucket_of(0.06) == "0.1"
    assert bucket_of(599.0) == "600.0" and bucket_of(601.0) == "+Inf"
    histogram = StepHistogram(buckets={"0.1": 2, "5.0": 1, "+Inf": 1}, sum_s=800.0)
    cumulative = dict(_cumulative(histogram))
    assert list(cumulative) == [*(repr(b) for b in STEP_BUCKETS_S), "+Inf"]
    assert cumulative["0.05"] == 0 and cumulative["0.1"] == 2 and cumulative["2.5"] == 2
    assert cumulative["5.0"] == 3 and cumulative["600.0"] == 3 and cumulative["+Inf"] == 4


def test_output_frames_and_the_cost_model() -> None:
    assert output_frames(1, 3, 2) == 4
    assert output_frames(0, 2.5, 10) == 25
    assert output_frames(0, 1, 10, loop_mode="PingPong") == 18  # no turnaround frame twice
    assert output_frames(0, 600, 60) == 3000  # ANIMGRAPH_MAX_OUTPUT_FRAMES
    small = subtask_work_s("gif", 480, 270, output_frames(0, 2, 10))
    big = subtask_work_s("gif", 3840, 2160, output_frames(0, 60, 30))
    assert big > 100 * small  # a 4K 60 s job is not a 480 px 2 s one
    plain = subtask_work_s("webp", 640, 360, 30)
    budgeted = subtask_work_s("webp", 640, 360, 30, budgeted=True)
    assert plain < budgeted < 1.5 * plain
    assert subtask_work_s("nope", 640, 360, 30) == subtask_work_s("gif", 640, 360, 30)


def _request(file_id: str, *items: dict[str, object]) -> ProcessMediaRequest:
    return ProcessMediaRequest.model_validate(
        {"FileId": file_id, "MediaProcessTask": {"AnimatedGraphicTaskSet": list(items)}}
    )


def test_counters_count_once_what_the_repositories_record(state: State, raw: redis.Redis) -> None:
    record = TaskRecord(
        task_id="T1",
        create_time="2026-01-02T03:04:05Z",
        request=_request("f1", {"Definition": 20000}, {"Definition": 20001}),
    )
    state.tasks.create(record)
    state.tasks.save_plans(
        "T1",
        (
            SubtaskPlan(
                index=0, input=record.request.media_process_task.animated_graphic_task_set[0]
            ),
        ),
    )
    success = SubtaskOutcome("gif", "SUCCESS", output_bytes=1234)
    assert state.tasks.mark_finished("T1", 0, success) == 1
    assert state.tasks.mark_finished("T1", 0, success) is None  # a redelivered step
    failed = SubtaskOutcome("unknown", "FAIL", "InvalidInput.DefinitionNotExist")
    assert state.tasks.mark_finished("T1", 1, failed) == 2
    assert state.tasks.finish("T1") is True
    assert state.tasks.finish("T1") is False  # the redelivered notifier
    for seconds in (0.2, 0.3, 700.0):
        state.metrics.observe_step("encode", "gif", seconds)
    counts = state.metrics.read()
    assert counts.tasks == {"WAITING": 1, "PROCESSING": 1, "FINISH": 1}
    assert counts.subtasks == {
        ("gif", "SUCCESS", ""): 1,
        ("unknown", "FAIL", "InvalidInput.DefinitionNotExist"): 1,
    }
    assert counts.output_bytes == {"gif": 1234}
    histogram = counts.steps[("encode", "gif")]
    assert histogram.buckets == {"0.25": 1, "0.5": 1, "+Inf": 1} and histogram.count == 3
    assert histogram.sum_s == pytest.approx(700.5)
    assert raw.hget("animgraph:task:T1", "status") == "FINISH"


def test_pulled_and_confirmed_events_are_counted(state: State) -> None:
    event = EventContent(event_type="ProcedureStateChanged")
    state.events.publish("T1", event)
    state.events.publish("T2", event)
    pulled = state.events.pull(wait_s=0)
    time.sleep(0.3)  # past the test's 0.2 s redelivery window: handed out again
    again = state.events.pull(wait_s=0)
    assert len(pulled) == len(again) == 2
    assert state.events.confirm([e.event_handle or "" for e in again]) == []
    state.events.mark_delivered("T1", 1, "given_up")
    events = state.metrics.read().events
    assert events == {
        ("pull", "handed_out"): 2,
        ("pull", "retried"): 2,
        ("pull", "delivered"): 2,
        ("push", "given_up"): 1,
    }


def test_the_monitor_reads_queues_by_priority_and_the_messages_taken(
    raw: redis.Redis,
) -> None:
    """Messages sent by a real Celery app land in kombu's list of their priority with the
    time they were sent; one taken (as kombu's ``QoS.append`` records it) counts as unacked,
    with the worker that leased it."""
    url = raw.connection_pool.connection_kwargs
    redis_url = f"redis://{url['host']}:{url['port']}/{url['db']}"
    app = create_celery(Settings(redis_url=redis_url), redis_url, name="monitor-test")
    before = time.time()
    try:
        for priority in (0, 7, 7):
            app.send_task(PROCEDURE, args=["T1"], queue=CONTROL_QUEUE, priority=priority)
    finally:
        app.close()
    assert raw.llen("control") == 1 and raw.llen("control:7") == 2
    taken = raw.rpop("control:7")
    assert taken is not None
    payload = json.loads(taken)
    raw.hset(keys.KOMBU_UNACKED, "tag-1", json.dumps([payload, "control", "control"]))
    raw.hset(keys.LEASES, "tag-1", "w1@host/abcd")
    monitor = Monitor(raw, raw)
    views, held = monitor.queues()
    control = next(v for v in views if v.name == "control")
    assert control.waiting == {0: 1, 7: 1} and control.unacked == {7: 1}
    assert control.oldest_sent_at is not None
    assert before - 0.01 <= control.oldest_sent_at <= time.time()
    assert [v.total_waiting for v in views if v.name != "control"] == [0, 0]
    [message] = held
    assert message.holder == "w1@host/abcd" and message.message.task == PROCEDURE
    assert message.message.args == ("T1",) and message.message.priority == 7
    assert Monitor(raw, None).queues() == ([], [])  # a RabbitMQ broker: not read here


def test_heartbeats_say_what_each_worker_is_until_it_ends(raw: redis.Redis) -> None:
    leases = LeaseRepo(raw)
    info = json.dumps({"host": "h1", "pid": 7, "processes": 3, "queues": ["media"]})
    assert leases.beat("w1@h1/aaaa", [], lease_s=30, first=True, info=info) == []
    assert leases.beat("w2@h2/bbbb", [], lease_s=30, first=True) == []
    monitor = Monitor(raw, raw)
    first, second = monitor.workers()
    assert (first.nodename, first.processes, first.queues, first.host) == (
        "w1@h1",
        3,
        ("media",),
        "h1",
    )
    assert second.processes == 0  # a heartbeat that says nothing still counts
    leases.end("w1@h1/aaaa")
    assert [w.holder for w in monitor.workers()] == ["w2@h2/bbbb"]
    raw.delete(keys.worker("w2@h2/bbbb"))  # lapsed: gone from the view before the index
    assert monitor.workers() == []


def test_work_is_estimated_from_the_request_then_from_the_plans(
    state: State, raw: redis.Redis, make_media: Callable[..., MediaRecord]
) -> None:
    state.media.put(make_media("f1"))  # 640x360, 3 s
    record = TaskRecord(
        task_id="T1",
        create_time="2026-01-02T03:04:05Z",
        request=_request(
            "f1",
            {"Definition": 20000, "StartTimeOffset": 1},  # GIF, source size, 2 fps: 4 frames
            {"Definition": 20001, "EndTimeOffset": -1},  # WebP: 0..2 s, 4 frames
            {"Definition": 99999},  # no such template: fails at once, no work
        ),
    )
    state.tasks.create(record)
    monitor = Monitor(raw, raw)
    estimator = WorkEstimator(monitor)
    gif_s = subtask_work_s("gif", 640, 360, 4)
    webp_s = subtask_work_s("webp", 640, 360, 4)
    work = estimator.estimate(monitor.open_tasks())
    assert work[("WAITING", "gif")] == pytest.approx(gif_s, abs=1e-3)
    assert work[("WAITING", "webp")] == pytest.approx(webp_s, abs=1e-3)
    assert sum(work.values()) == pytest.approx(gif_s + webp_s, abs=2e-3)
    items = record.request.media_process_task.animated_graphic_task_set
    plans = (
        SubtaskPlan(index=0, input=items[0], template=PRESETS[20000], start_s=1, end_s=3,
                    width_px=320, height_px=180),
        SubtaskPlan(index=1, input=items[1], template=PRESETS[20001], start_s=0, end_s=2,
                    width_px=640, height_px=360, slices=2, slice_s=1.0),
        SubtaskPlan(index=2, input=items[2], error_code="InvalidInput.DefinitionNotExist"),
    )  # fmt: skip
    state.tasks.save_plans("T1", plans)
    raw.set(keys.task_parts("T1", 1), 1)  # one of the WebP's two slices is encoded
    work = estimator.estimate(monitor.open_tasks())
    assert work[("WAITING", "gif")] == 0
    assert work[("PROCESSING", "gif")] == pytest.approx(
        subtask_work_s("gif", 320, 180, 4), abs=1e-3
    )
    assert work[("PROCESSING", "webp")] == pytest.approx(webp_s / 2, abs=1e-3)
    state.tasks.mark_finished("T1", 0)
    assert estimator.estimate(monitor.open_tasks())[("PROCESSING", "gif")] == 0
    state.tasks.finish("T1")
    assert monitor.open_tasks() == [] and sum(estimator.estimate([]).values()) == 0


def test_the_liveness_file(tmp_path: Path) -> None:
    path = tmp_path / "w" / "worker.alive"
    assert alive.check(path, 30) == (
        False,
        f"{path}: no such file (the worker is not running, or has stopped)",
    )
    alive.touch(path)
    assert alive.check(path, 30)[0]
    old = time.time() - 60
    os.utime(path, (old, old))
    ok, why = alive.check(path, 30)
    assert not ok and "last touched 60" in why
    assert alive.main(["--file", str(path), "--max-age", "90"]) == 0
    assert alive.main(["--file", str(path), "--max-age", "30"]) == 1


@pytest.mark.parametrize(
    "environ",
    [{}, {"ANIMGRAPH_DATA_DIR": "/srv/ag"}, {"ANIMGRAPH_WORKER_ALIVE_FILE": "/run/ag.alive"}],
)
def test_the_probe_finds_the_file_the_worker_writes(environ: dict[str, str]) -> None:
    """The probe reads the environment without the settings package: the same path."""
    settings = Settings.from_environ(environ)
    expected = settings.worker.alive_file or settings.data_dir / alive.DEFAULT_NAME
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ANIMGRAPH_")}
    assert alive.default_path({**clean, **environ}) == Path(expected)
