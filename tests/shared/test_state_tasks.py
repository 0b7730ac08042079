"""The task repository against a real Redis: the record and its hash fields, the indexes, the
subtask results, and the markers steps leave for redeliveries."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import redis

from animgraph.shared.models import (
    AnimatedGraphicTaskInput,
    EventContent,
    ProcessMediaRequest,
)
from animgraph.shared.state import MediaRecord, State, SubtaskPlan, TaskRecord


def _record(task_id: str, file_id: str = "f1", subtasks: int = 2) -> TaskRecord:
    request = ProcessMediaRequest.model_validate(
        {
            "FileId": file_id,
            "MediaProcessTask": {
                "AnimatedGraphicTaskSet": [{"Definition": 20000}] * subtasks,
            },
            "SessionContext": "ctx",
        }
    )
    return TaskRecord(task_id=task_id, create_time="2026-01-02T03:04:05Z", request=request)


def test_create_writes_the_hash_and_the_three_indexes(state: State, raw: redis.Redis) -> None:
    record = _record("T1")
    state.tasks.create(record)
    fields = raw.hgetall("animgraph:task:T1")
    assert set(fields) == {"record", "status", "touched", "sub:0", "sub:1"}
    assert fields["record"] == record.model_dump_json() and fields["status"] == "WAITING"
    assert json.loads(fields["sub:0"])["status"] == "PROCESSING"
    assert 0 < raw.ttl("animgraph:task:T1") <= 3600
    assert 0 < raw.ttl("animgraph:tasks:file:f1") <= 3600
    for index in ("animgraph:tasks", "animgraph:tasks:open", "animgraph:tasks:file:f1"):
        assert raw.zrange(index, 0, -1) == ["T1"]
    assert state.tasks.record("T1") == record
    assert state.tasks.record("nope") is None
    assert state.tasks.activity("T1") == ("WAITING", pytest.approx(float(fields["touched"])))
    assert state.tasks.activity("nope") is None


def test_ids_by_index_and_age(state: State, raw: redis.Redis) -> None:
    for task_id, file_id in (("T1", "f1"), ("T2", "f2"), ("T3", "f1")):
        state.tasks.create(_record(task_id, file_id))
    state.tasks.finish("T2")
    assert state.tasks.ids() == ["T3", "T2", "T1"]
    assert state.tasks.ids(newest_first=False) == ["T1", "T2", "T3"]
    assert state.tasks.ids(open_only=True) == ["T3", "T1"]
    assert state.tasks.ids(file_id="f1") == ["T3", "T1"]
    raw.zadd("animgraph:tasks", {"T0": 1.0})  # older than the TTL: pruned on read
    assert state.tasks.ids() == ["T3", "T2", "T1"]
    assert raw.zscore("animgraph:tasks", "T0") is None


def test_plans_are_saved_once(state: State, raw: redis.Redis) -> None:
    state.tasks.create(_record("T1", subtasks=1))
    plan = SubtaskPlan(index=0, input=AnimatedGraphicTaskInput(definition=20000), end_s=2.0)
    saved = state.tasks.save_plans("T1", (plan,))
    assert saved.plans == (plan,)
    begin = raw.hget("animgraph:task:T1", "begin")
    assert begin and raw.hget("animgraph:task:T1", "begin_ts")
    assert raw.hget("animgraph:task:T1", "status") == "PROCESSING"
    again = state.tasks.save_plans("T1", (plan.model_copy(update={"end_s": 9.0}),))
    assert again.plans == (plan,)  # a redelivery keeps the first plans
    with pytest.raises(KeyError):
        state.tasks.save_plans("nope", ())


def test_a_finished_subtask_is_final(state: State) -> None:
    state.tasks.create(_record("T1"))
    updated = state.tasks.update_subtask("T1", 0, progress=40)
    assert updated.progress == 40 == state.tasks.subtask("T1", 0).progress
    state.tasks.update_subtask("T1", 0, status="FAIL")
    assert state.tasks.update_subtask("T1", 0, progress=90).progress == 40
    assert state.tasks.subtask("T1", 1).progress == 0
    with pytest.raises(KeyError):
        state.tasks.subtask("T1", 7)


def test_step_markers(state: State, raw: redis.Redis) -> None:
    assert [state.tasks.count_attempt("T1", 0, None, "decode") for _ in range(2)] == [1, 2]
    assert raw.get("animgraph:attempts:T1:0:None:decode") == "2"
    assert state.tasks.count_attempt("T1", 0, 1, "decode") == 1
    assert 0 < raw.ttl("animgraph:attempts:T1:0:1:decode") <= 3600

    assert state.tasks.is_dispatched("T1") is False
    state.tasks.mark_dispatched("T1")
    assert state.tasks.is_dispatched("T1") is True
    assert raw.get("animgraph:task:T1:dispatched") == "1"
    assert 0 < raw.ttl("animgraph:task:T1:dispatched") <= 3600

    assert [state.tasks.count_part("T1", 2) for _ in range(3)] == [1, 2, 3]
    assert raw.get("animgraph:task:T1:parts:2") == "3"
    assert 0 < raw.ttl("animgraph:task:T1:parts:2") <= 3600

    assert state.tasks.mark_finished("T1", 0) == 1
    assert state.tasks.mark_finished("T1", 0) is None  # a redelivered step
    assert state.tasks.mark_finished("T1", 1) == 2
    assert raw.smembers("animgraph:task:T1:finished") == {"0", "1"}

    assert state.tasks.claim_notify("T1") is True
    assert state.tasks.claim_notify("T1") is False
    assert 0 < raw.ttl("animgraph:task:T1:notified") <= 3600


def test_views_and_the_kept_event(
    state: State, raw: redis.Redis, make_media: Callable[..., MediaRecord]
) -> None:
    assert state.tasks.procedure_task("T1") is None and state.tasks.detail("T1") is None
    state.tasks.create(_record("T1"))
    task = state.tasks.procedure_task("T1")
    assert task is not None and task.file_name == "" and task.status == "PROCESSING"
    state.media.put(make_media("f1"))
    state.tasks.finish("T1")
    state.tasks.finish("T1")  # a second finish keeps the first time
    detail = state.tasks.detail("T1")
    assert detail is not None and detail.status == "FINISH"
    assert detail.finish_time == raw.hget("animgraph:task:T1", "finish")
    assert detail.procedure_task.file_name == "clip-f1"
    assert detail.procedure_task.session_context == "ctx"
    assert len(detail.procedure_task.media_process_result_set) == 2
    assert raw.zrange("animgraph:tasks:open", 0, -1) == []

    assert state.tasks.event("T1") is None
    event = EventContent(event_type="ProcedureStateChanged", procedure_state_change_event=task)
    raw.hset("animgraph:task:T1", "event", json.dumps(event.wire(), ensure_ascii=False))  # as kept
    assert state.tasks.event("T1") == event
