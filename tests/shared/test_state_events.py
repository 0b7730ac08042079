"""The event bus against a real Redis: the pull stream and its handles, the push records."""

from __future__ import annotations

import json
import time

import redis

from animgraph.shared.events import PushRecord
from animgraph.shared.models import EventConfig, EventContent, FileUploadEvent
from animgraph.shared.state import State


def _event(file_id: str) -> EventContent:
    return EventContent(
        event_type="NewFileUpload",
        file_upload_event=FileUploadEvent.model_validate(
            {
                "FileId": file_id,
                "MediaBasicInfo": {
                    "Name": "clip",
                    "CreateTime": "2026-01-02T03:04:05Z",
                    "UpdateTime": "2026-01-02T03:04:05Z",
                    "MediaUrl": "file:///clip.mp4",
                },
            }
        ),
    )


def test_the_config_defaults_to_pull(state: State, raw: redis.Redis) -> None:
    assert state.events.config() == EventConfig()
    push = EventConfig(mode="PUSH", notification_url="http://example.com/hook")
    state.events.set_config(push)
    assert raw.get("animgraph:eventconfig") == push.model_dump_json()
    assert state.events.config() == push


def test_pulled_events_are_handed_out_again_until_confirmed(state: State, raw: redis.Redis) -> None:
    assert state.events.publish("f1", _event("f1")) is None  # PULL: nothing to push
    assert raw.type("animgraph:events") == "stream"
    [first] = state.events.pull(wait_s=0)
    assert first.event_handle and first.event_handle.endswith(".1")
    assert state.events.pull(wait_s=0) == []
    time.sleep(0.3)  # past the redelivery window
    [again] = state.events.pull(wait_s=0)
    assert again.event_handle and again.event_handle.endswith(".2")
    assert state.events.confirm([first.event_handle]) == [first.event_handle]  # late
    assert state.events.confirm([again.event_handle, "junk"]) == ["junk"]
    assert state.events.confirm([again.event_handle]) == []  # confirmed already: accepted
    time.sleep(0.3)
    assert state.events.pull(wait_s=0) == []


def test_push_records_go_out_in_order(state: State, raw: redis.Redis) -> None:
    state.events.set_config(EventConfig(mode="PUSH", notification_url="http://example.com/h"))
    assert state.events.publish("T1", _event("f1")) == 1
    assert state.events.publish("T1", _event("f1")) == 2
    record = state.events.push_record("T1", 1)
    assert isinstance(record, PushRecord) and record.url == "http://example.com/h"
    assert json.loads(record.body)["EventType"] == "NewFileUpload"
    assert raw.get("animgraph:push:T1:seq") == "2"
    assert 0 < raw.ttl("animgraph:push:T1:1") <= 600

    assert state.events.delivered_seq("T1") == 0
    assert state.events.park_or_run("T1", 2) is False  # 1 is not done: 2 waits
    assert raw.exists("animgraph:push:T1:2:parked")
    assert state.events.mark_delivered("T1", 1) is True  # 2 was parked: schedule it
    assert state.events.delivered_seq("T1") == 1 and not raw.exists("animgraph:push:T1:1")
    assert state.events.park_or_run("T1", 3) is False
    assert state.events.mark_delivered("T1", 2) is True
    assert state.events.push_record("T1", 2) is None


def test_upload_events_are_not_pushed_when_switched_off(state: State, raw: redis.Redis) -> None:
    state.events.set_config(
        EventConfig(
            mode="PUSH",
            notification_url="http://example.com/h",
            upload_media_complete_event_switch="OFF",
        )
    )
    assert state.events.publish("f1", _event("f1")) is None
    assert raw.keys("animgraph:push:*") == []
