"""End to end: PUSH callbacks to a real local HTTP receiver, the PULL queue, notify modes, and a
worker killed while it delivers; real Redis and real worker processes."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from stack import Stack, StackFactory, until

from animgraph.producer import ApiError, Client
from animgraph.shared.events import verify_callback
from animgraph.shared.models import EventContent
from animgraph.shared.redis_server import free_port

pytestmark = pytest.mark.e2e

SIGN_KEY = "callback-sign-key"
FAST = {
    "ANIMGRAPH_EVENT_REDELIVERY_S": "2",
    "ANIMGRAPH_PUSH_BACKOFF_BASE_S": "0.3",
    "ANIMGRAPH_PUSH_BACKOFF_MAX_S": "1.5",
    "ANIMGRAPH_PUSH_TIMEOUT_S": "20",
    "ANIMGRAPH_CALLBACK_SIGN_KEY": SIGN_KEY,
    "ANIMGRAPH_CALLBACK_ALLOW_HOSTS": "127.0.0.1",
    "ANIMGRAPH_VISIBILITY_TIMEOUT_S": "10",
    "ANIMGRAPH_UNACKED_RESTORE_INTERVAL_S": "1",
}


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


@dataclass
class Receiver:
    """A local webhook receiver: answers 500 to the first ``fail_first`` requests and holds
    the first ``hold_first`` requests for ``hold_s`` seconds."""

    port: int = field(default_factory=free_port)
    fail_first: int = 0
    hold_first: int = 0
    hold_s: float = 0.0
    received: list[Received] = field(default_factory=list)
    accepted: list[Received] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                got = Received(dict(self.headers.items()), body)
                receiver.received.append(got)
                count = len(receiver.received)
                if count <= receiver.hold_first:
                    time.sleep(receiver.hold_s)
                status = 500 if count <= receiver.fail_first else 200
                if status == 200:
                    receiver.accepted.append(got)
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()


def _stack(stacks: StackFactory, name: str) -> Stack:
    return stacks.start(name, env=FAST)


@pytest.fixture(scope="module")
def events_stack(module_stack_factory: StackFactory) -> Stack:
    return _stack(module_stack_factory, "events")


@pytest.fixture()
def client(events_stack: Stack) -> Iterator[Client]:
    with events_stack.client() as c:
        c.modify_event_config({"Mode": "PULL"})
        yield c


def _run(client: Client, corpus_dir: Path, mode: str = "Finish", tasks: int = 1) -> str:
    media = client.register_media(corpus_dir / "vtest.avi")
    items = [
        {"Definition": 20000, "StartTimeOffset": 1 + i, "EndTimeOffset": 1.5 + i}
        for i in range(tasks)
    ]
    task_id = client.process_media(
        {
            "FileId": media.file_id,
            "TasksNotifyMode": mode,
            "MediaProcessTask": {"AnimatedGraphicTaskSet": items},
        }
    )
    client.wait(task_id, timeout_s=120)
    return task_id


def _for_task(events: list[EventContent], task_id: str) -> list[EventContent]:
    return [
        e
        for e in events
        if e.procedure_state_change_event and e.procedure_state_change_event.task_id == task_id
    ]


def _drain(client: Client) -> None:
    """Confirm everything queued so far, so a test sees only its own events."""
    while pulled := client.pull_events(wait_s=0).event_set:
        client.confirm_events({"EventHandles": [e.event_handle for e in pulled]})


def _pushed_for(receiver: Receiver, task_id: str, accepted: bool = True) -> list[Received]:
    got = receiver.accepted if accepted else receiver.received
    return [r for r in got if r.event.get("ProcedureStateChangeEvent", {}).get("TaskId") == task_id]


def test_push_waits_for_a_receiver_that_is_down(client: Client, corpus_dir: Path) -> None:
    receiver = Receiver()
    client.modify_event_config({"Mode": "PUSH", "NotificationUrl": receiver.url})
    task_id = _run(client, corpus_dir)
    time.sleep(3)  # several refused connections, retried with back-off
    receiver.start()
    try:
        until(lambda: len(_pushed_for(receiver, task_id)) >= 1, 60, "the push")
        time.sleep(3)  # no duplicate comes later
        [got] = _pushed_for(receiver, task_id)
        assert got.event["EventType"] == "ProcedureStateChanged" and "EventHandle" not in got.event
        assert got.event["ProcedureStateChangeEvent"]["Status"] == "FINISH"
        assert verify_callback(SIGN_KEY, got.headers, got.body)
        assert not verify_callback(SIGN_KEY, got.headers, got.body + b" ")
        assert not verify_callback("other-key", got.headers, got.body)
    finally:
        receiver.stop()


def test_push_retries_after_server_errors(client: Client, corpus_dir: Path) -> None:
    receiver = Receiver(fail_first=2).start()
    try:
        client.modify_event_config({"Mode": "PUSH", "NotificationUrl": receiver.url})
        task_id = _run(client, corpus_dir)
        until(lambda: len(_pushed_for(receiver, task_id)) == 1, 60, "the push")
        attempts = _pushed_for(receiver, task_id, accepted=False)
        assert len(attempts) == 3
        assert len({r.headers["X-Animgraph-Event-Id"] for r in attempts}) == 1  # stable id
    finally:
        receiver.stop()


def test_change_mode_pushes_in_order(client: Client, corpus_dir: Path) -> None:
    receiver = Receiver(fail_first=1).start()
    try:
        client.modify_event_config({"Mode": "PUSH", "NotificationUrl": receiver.url})
        task_id = _run(client, corpus_dir, mode="Change", tasks=3)
        until(lambda: len(_pushed_for(receiver, task_id)) == 3, 60, "three pushes")
        time.sleep(1)
        statuses = [
            r.event["ProcedureStateChangeEvent"]["Status"] for r in _pushed_for(receiver, task_id)
        ]
        assert statuses == ["PROCESSING", "PROCESSING", "FINISH"]
        finished = [
            sum(
                s["AnimatedGraphicTask"]["Status"] != "PROCESSING"
                for s in r.event["ProcedureStateChangeEvent"]["MediaProcessResultSet"]
            )
            for r in _pushed_for(receiver, task_id)
        ]
        assert finished == [1, 2, 3]
    finally:
        receiver.stop()


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("Finish", ["FINISH"]), ("Change", ["PROCESSING", "FINISH"]), ("None", [])],
)
def test_notify_modes_on_the_pull_queue(
    client: Client, corpus_dir: Path, mode: str, expected: list[str]
) -> None:
    _drain(client)
    task_id = _run(client, corpus_dir, mode=mode, tasks=2)
    time.sleep(0.5)
    pulled = _for_task(list(client.pull_events(wait_s=1).event_set), task_id)
    assert [e.procedure_state_change_event.status for e in pulled] == expected  # type: ignore[union-attr]
    if pulled:
        client.confirm_events({"EventHandles": [e.event_handle for e in pulled]})


def test_pull_redelivers_what_is_not_confirmed(client: Client, corpus_dir: Path) -> None:
    _drain(client)
    task_id = _run(client, corpus_dir)
    [first] = _for_task(list(client.pull_events(wait_s=2).event_set), task_id)
    assert first.event_handle
    assert (
        _for_task(list(client.pull_events(wait_s=0).event_set), task_id) == []
    )  # inside the window
    time.sleep(2.5)  # the window (2 s here, 30 s by default) passes unconfirmed
    [again] = _for_task(list(client.pull_events(wait_s=0).event_set), task_id)
    assert again.event_handle != first.event_handle
    assert again.procedure_state_change_event == first.procedure_state_change_event
    with pytest.raises(ApiError) as info:  # the first handle is late now
        client.confirm_events({"EventHandles": [first.event_handle]})
    assert info.value.code == "InvalidParameterValue.EventHandles"
    client.confirm_events({"EventHandles": [again.event_handle]})
    client.confirm_events({"EventHandles": [again.event_handle]})  # confirming twice is harmless
    time.sleep(2.5)
    assert _for_task(list(client.pull_events(wait_s=0).event_set), task_id) == []


def test_pull_waits_for_an_event(client: Client, corpus_dir: Path) -> None:
    _drain(client)
    started = time.monotonic()
    assert client.pull_events(wait_s=1).event_set == ()
    assert time.monotonic() - started >= 0.9
    result: list[EventContent] = []
    media = client.register_media(corpus_dir / "vtest.avi")
    puller = threading.Thread(target=lambda: result.extend(client.pull_events(wait_s=30).event_set))
    puller.start()
    task_id = client.process_media(
        {
            "FileId": media.file_id,
            "MediaProcessTask": {
                "AnimatedGraphicTaskSet": [{"Definition": 20000, "EndTimeOffset": 0.5}]
            },
        }
    )
    puller.join(60)
    assert [e.procedure_state_change_event.task_id for e in result] == [task_id]  # type: ignore[union-attr]
    client.confirm_events({"EventHandles": [e.event_handle for e in result]})


def test_concurrent_pullers_never_share_an_event(
    events_stack: Stack, client: Client, corpus_dir: Path
) -> None:
    _drain(client)
    media = client.register_media(corpus_dir / "vtest.avi")
    task_ids = [
        client.process_media(
            {
                "FileId": media.file_id,
                "MediaProcessTask": {
                    "AnimatedGraphicTaskSet": [
                        {"Definition": 20000, "StartTimeOffset": 1, "EndTimeOffset": 1.2}
                    ]
                },
            }
        )
        for _ in range(6)
    ]
    for task_id in task_ids:
        client.wait(task_id, timeout_s=120)
    handles: list[list[str]] = [[], [], []]

    def pull(slot: int) -> None:
        with events_stack.client() as mine:
            for _ in range(4):
                handles[slot].extend(
                    str(e.event_handle) for e in mine.pull_events(wait_s=0.2).event_set
                )

    threads = [threading.Thread(target=pull, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    everything = [h for slot in handles for h in slot]
    assert len(everything) == len(set(everything)) == 6
    client.confirm_events({"EventHandles": everything})


def test_event_config_refuses_bad_urls(client: Client) -> None:
    for url, code in [
        ("ftp://127.0.0.1/hook", "InvalidParameterValue.NotificationUrl"),
        ("http://10.1.2.3/hook", "InvalidParameterValue.NotificationUrl"),
        ("http://169.254.169.254/latest", "InvalidParameterValue.NotificationUrl"),
    ]:
        with pytest.raises(ApiError) as info:
            client.modify_event_config({"Mode": "PUSH", "NotificationUrl": url})
        assert info.value.code == code
    with pytest.raises(ApiError):
        client.modify_event_config({"Mode": "PUSH", "NotificationUrl": ""})
    assert client.describe_event_config().mode == "PULL"


def test_a_worker_killed_while_delivering_loses_nothing(
    stack_factory: StackFactory, corpus_dir: Path
) -> None:
    stack = _stack(stack_factory, "delivery")
    receiver = Receiver(hold_first=1, hold_s=6).start()
    try:
        with stack.client() as client:
            client.modify_event_config({"Mode": "PUSH", "NotificationUrl": receiver.url})
            task_id = _run(client, corpus_dir)
            until(lambda: len(receiver.received) == 1, 60, "the first attempt")
            stack.kill_worker(stack.workers[0])  # mid-POST: the receiver is holding the request
            stack.start_worker("replacement")
            until(lambda: len(_pushed_for(receiver, task_id)) >= 2, 90, "redelivery")
            ids = {r.headers["X-Animgraph-Event-Id"] for r in _pushed_for(receiver, task_id)}
            assert len(ids) == 1
            until(
                lambda: client.state.events.delivered_seq(task_id) == 1, 60, "the delivery record"
            )
    finally:
        receiver.stop()
