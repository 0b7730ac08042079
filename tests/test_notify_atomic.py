"""The final event is written in one atomic step with the notifier's once-only claim: a notifier
process SIGKILLed just before or just after that step is redelivered (acks_late, reject on
worker lost) and the task ends with exactly one final event, pulled and pushed. Real Redis, real
worker processes, a real local webhook receiver."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from stack import Stack, StackFactory, until
from test_events import FAST, Received, Receiver

from animgraph.producer import Client
from animgraph.shared.models import EventConfig, EventContent
from animgraph.shared.state import keys

pytestmark = pytest.mark.e2e

POINTS = ("kill-before-claim", "kill-after-claim")


@pytest.fixture(scope="module", params=POINTS)
def point_stack(request: pytest.FixtureRequest, module_stack_factory: StackFactory) -> Stack:
    """A stack whose notifier kills its own pool process at ``point``, once per task."""
    point = str(request.param)
    return module_stack_factory.start(
        f"notify-{point}",
        kill_at_exit=True,
        env={**FAST, "ANIMGRAPH_FAULT_INJECTION": f"notify:{point}"},
    )


@pytest.fixture()
def client(point_stack: Stack) -> Iterator[Client]:
    with point_stack.client() as c:
        yield c


@pytest.fixture()
def raw(point_stack: Stack) -> Iterator[redis.Redis]:
    """A plain client on the stack's Redis, to read the stream and the markers as they are."""
    client = redis.Redis.from_url(point_stack.redis.url, decode_responses=True)
    try:
        yield client
    finally:
        client.close()


def _point(stack: Stack) -> str:
    return stack.env["ANIMGRAPH_FAULT_INJECTION"].split(":", 1)[1]


def _finals(raw: redis.Redis, task_id: str) -> list[str]:
    """The ids of the stream entries of ``task_id`` whose event reports the task FINISH."""
    found = []
    for entry_id, fields in raw.xrange(keys.EVENTS):
        event = EventContent.model_validate_json(fields["event"]).procedure_state_change_event
        if fields["key"] == task_id and event and event.status == "FINISH":
            found.append(entry_id)
    return found


def _run(client: Client, corpus_dir: Path) -> str:
    media = client.register_media(corpus_dir / "vtest.avi")
    task_id = client.process_media(
        {
            "FileId": media.file_id,
            "MediaProcessTask": {
                "AnimatedGraphicTaskSet": [
                    {"Definition": 20000, "StartTimeOffset": 1, "EndTimeOffset": 1.5}
                ]
            },
        }
    )
    client.wait(task_id, timeout_s=120)
    return task_id


def _settled(raw: redis.Redis, stack: Stack, task_id: str) -> None:
    """Wait until the injected kill happened and the redelivered notifier was acknowledged (no
    message of the task left in kombu's unacked hash), then a moment for anything late."""
    marker = keys.task_fault(task_id, _point(stack))
    until(lambda: bool(raw.exists(marker)), 60, "the injected kill")
    # A message's headers carry its arguments' repr (``argsrepr``), the TaskId among them.
    until(lambda: not any(task_id in v for v in raw.hvals("unacked")), 60, "the notifier's ack")
    time.sleep(2)


def test_pull_mode_one_final_event(
    point_stack: Stack, client: Client, raw: redis.Redis, corpus_dir: Path
) -> None:
    client.modify_event_config({"Mode": "PULL"})
    task_id = _run(client, corpus_dir)
    until(lambda: bool(_finals(raw, task_id)), 60, "the final event")
    _settled(raw, point_stack, task_id)
    assert len(_finals(raw, task_id)) == 1
    assert client.state.tasks.event(task_id) is not None  # kept with the task
    assert raw.get(keys.task_notified(task_id)) == "0"  # the claim: nothing pushed


def test_push_mode_one_delivery_id(
    point_stack: Stack, client: Client, raw: redis.Redis, corpus_dir: Path
) -> None:
    receiver = Receiver().start()
    try:
        client.modify_event_config({"Mode": "PUSH", "NotificationUrl": receiver.url})
        task_id = _run(client, corpus_dir)
        until(lambda: bool(_pushed(receiver, task_id)), 60, "the push")
        _settled(raw, point_stack, task_id)
        until(lambda: client.state.events.delivered_seq(task_id) == 1, 30, "delivery recorded")
        assert len(_finals(raw, task_id)) == 1
        assert raw.get(keys.task_notified(task_id)) == "1"  # the claim holds the push seq
        # At least once: a push may repeat, always with the one event id.
        ids = {r.headers["X-Animgraph-Event-Id"] for r in _pushed(receiver, task_id)}
        assert ids == set(_finals(raw, task_id))
    finally:
        receiver.stop()
        client.modify_event_config({"Mode": "PULL"})


def test_a_claim_held_writes_nothing(client: Client, raw: redis.Redis) -> None:
    """The atomic step itself: a held claim answers with its seq and writes nothing."""
    bus, tasks = client.state.events, client.state.tasks
    bus.set_config(EventConfig(mode="PUSH", notification_url="http://127.0.0.1:9/hook"))
    try:
        event = EventContent.model_validate(
            {"EventType": "ProcedureStateChanged", "ProcedureStateChangeEvent": None}
        )
        before = raw.xlen(keys.EVENTS)
        first = bus.publish_once("Tatomic", event, tasks.final_event_claim("Tatomic"))
        again = bus.publish_once("Tatomic", event, tasks.final_event_claim("Tatomic"))
        assert (first.first, first.seq) == (True, 1)
        assert (again.first, again.seq) == (False, 1)
        assert raw.xlen(keys.EVENTS) == before + 1
        assert bus.push_pending("Tatomic", 1)
        assert bus.push_record("Tatomic", 1) is not None
        assert raw.hget(keys.task("Tatomic"), "event")
        # A publish for the same key between the guess and the script: the guess is refused
        # and tried again, so the seqs stay dense.
        raw.set(keys.push_seq("Tatomic"), 5)
        assert bus.publish("Tatomic", event) == 6
    finally:
        bus.set_config(EventConfig())


def _pushed(receiver: Receiver, task_id: str) -> list[Received]:
    return [
        r
        for r in receiver.received
        if r.event.get("ProcedureStateChangeEvent", {}).get("TaskId") == task_id
    ]
