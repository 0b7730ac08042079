"""RabbitMQ as the broker (issue 18, item 4): ``ANIMGRAPH_BROKER_URL=amqp://...`` with task state
in Redis. The end-to-end job, priorities, a whole worker SIGKILLed with default settings, pool
processes killed mid-encode and a frozen worker's late result, on a real RabbitMQ (the machine's,
``ANIMGRAPH_TEST_AMQP_URL``'s or a node started for the session: see rabbitmq.py), real Redis
processes, real worker processes and real clips."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest
import redis
from PIL import Image
from rabbitmq import RabbitMQ
from stack import Stack, StackFactory, WorkerProcess, drain_events, final_count, until

from animgraph.producer import Client
from animgraph.shared.celeryconf import AMQP_HEARTBEAT_S
from animgraph.shared.models import ProcedureTask
from animgraph.shared.state import keys
from animgraph.shared.state.monitor import Monitor
from animgraph.shared.tasknames import AMQP_MAX_PRIORITY, QUEUES

pytestmark = pytest.mark.e2e

# The bound is 60 s; the assertion leaves room for a busy two-core machine (as
# test_leases.py). RabbitMQ requeues a killed consumer's messages the moment its TCP
# connection closes, so what is measured is mostly the survivor finishing its own steps.
RECOVERY_S = 90


@pytest.fixture()
def broker(rabbitmq: RabbitMQ) -> str:
    """The session's RabbitMQ URL, its animgraph queues emptied for this test."""
    rabbitmq.reset()
    return rabbitmq.url


def _stack(stacks: StackFactory, name: str, broker: str, **kwargs: Any) -> Stack:
    """A stack of its own Redis (task state only) on RabbitMQ; otherwise default settings."""
    return stacks.start(name, env={"ANIMGRAPH_BROKER_URL": broker}, **kwargs)


def _submit(client: Client, file_id: str, items: list[dict[str, Any]], **extra: Any) -> str:
    return client.process_media(
        {"FileId": file_id, "MediaProcessTask": {"AnimatedGraphicTaskSet": items}, **extra}
    )


def _outputs_ok(task: ProcedureTask) -> None:
    assert task.status == "FINISH"
    for result in task.media_process_result_set:
        sub = result.animated_graphic_task
        assert sub.status == "SUCCESS", sub.message
        assert sub.output is not None and sub.output.size > 0


def _local(url: str) -> Path:
    parsed = urlparse(url)
    assert parsed.scheme == "file", url
    return Path(unquote(parsed.path))


def _raw(s: Stack) -> redis.Redis:
    return redis.Redis.from_url(s.redis.url, decode_responses=True)


def _attempts(s: Stack, task_id: str, step: str, index: int = 0) -> int:
    with _raw(s) as raw:
        return int(raw.get(keys.attempts(task_id, index, None, step)) or 0)


_TASK_LINE = re.compile(r"Task (animgraph\.\w+)\[([^]]+)\] (\w+)")


def _deliveries(
    worker: WorkerProcess, names: tuple[str, ...] = ()
) -> tuple[Counter[str], Counter[str]]:
    """Per Celery task id (of the tasks ``names``, or all): how many times ``worker`` received
    it, and how many of those it finished (succeeded, failed, retried, ignored...), from its
    log."""
    received: Counter[str] = Counter()
    ended: Counter[str] = Counter()
    for name, task_id, what in _TASK_LINE.findall(worker.log_path.read_text(errors="replace")):
        if not names or name in names:
            (received if what == "received" else ended)[task_id] += 1
    return received, ended


def _in_flight(worker: WorkerProcess, names: tuple[str, ...] = ()) -> set[str]:
    """Task ids ``worker`` has taken and not finished (running or reserved)."""
    received, ended = _deliveries(worker, names)
    return {t for t, n in received.items() if n > ended[t]}


def _encoding(client: Client, task_id: str) -> bool:
    detail = client.describe_task_detail(task_id)
    return any(
        r.animated_graphic_task.progress >= 63
        for r in detail.procedure_task.media_process_result_set
    )


def _heavy_template(client: Client) -> list[dict[str, Any]]:
    gif = client.create_template(Format="gif", Fps=10, Width=1280)
    webp = client.create_template(Format="webp", Fps=10, Width=1280)
    return [
        {"Definition": t.definition, "StartTimeOffset": 1, "EndTimeOffset": 4} for t in (gif, webp)
    ]


def _kombu_keys_in(s: Stack) -> list[str]:
    """Keys of kombu's Redis transport in the stack's Redis (queues, priority lists, unacked
    bookkeeping, bindings): none when the broker is RabbitMQ."""
    broker_keys = {*QUEUES, *(f"{q}:{p}" for q in QUEUES for p in range(10))}
    broker_keys |= {keys.KOMBU_UNACKED, keys.KOMBU_UNACKED_INDEX, "unacked_mutex"}
    with _raw(s) as raw:
        return sorted(
            k for k in raw.scan_iter(count=1000) if k in broker_keys or k.startswith("_kombu.")
        )


def test_gif_and_webp_presets_through_rabbitmq(
    stack_factory: StackFactory, rabbitmq: RabbitMQ, broker: str, corpus_dir: Path
) -> None:
    """test_e2e's first job on RabbitMQ: right outputs, one final event, no broker data in
    Redis, and the queues on RabbitMQ durable with ``x-max-priority``."""
    s = _stack(stack_factory, "amqp-e2e", broker)
    with s.client() as client:
        media = client.register_media(corpus_dir / "cockatoo.mp4")
        task_id = _submit(
            client,
            media.file_id,
            [
                {"Definition": 20000, "StartTimeOffset": 2, "EndTimeOffset": 5},
                {"Definition": 20001, "StartTimeOffset": 2, "EndTimeOffset": 5},
            ],
            SessionContext="ctx-amqp",
        )
        task = client.wait(task_id, timeout_s=240)
        _outputs_ok(task)
        assert task.session_context == "ctx-amqp"
        for result, container in zip(task.media_process_result_set, ("gif", "webp"), strict=True):
            out = result.animated_graphic_task.output
            assert out is not None and out.container == container
            data = _local(out.url).read_bytes()
            assert out.size == len(data) and out.md5 == hashlib.md5(data).hexdigest()
            with Image.open(_local(out.url)) as im:
                assert im.size == (1280, 720) == (out.width, out.height)
                assert abs(getattr(im, "n_frames", 1) - 6) <= 1  # the preset's 2 fps over 3 s
        assert final_count(drain_events(client), task_id) == 1
    # Redis holds task state only: no Celery queue, priority list or unacked bookkeeping, and
    # no leases (RabbitMQ notices a lost consumer itself).
    assert _kombu_keys_in(s) == []
    with _raw(s) as raw:
        assert not raw.exists(keys.LEASES)
        # The heartbeat is kept all the same: what monitoring counts as online.
        assert len(Monitor(raw, None).workers()) == 1
    # The queues are RabbitMQ's: durable, with the ten priority levels.
    for name in QUEUES:
        wanted = {"x-max-priority": AMQP_MAX_PRIORITY}
        assert rabbitmq.declares_as(name, durable=True, arguments=wanted), name
        assert not rabbitmq.declares_as(name, durable=True, arguments={}), name
    listed = rabbitmq.queues()
    if listed is not None:  # rabbitmqctl could be run against this node
        for name in QUEUES:
            assert listed[name]["durable"] is True
            assert listed[name]["arguments"].get("x-max-priority") == AMQP_MAX_PRIORITY
            assert listed[name]["messages_ready"] == 0


def test_priority_orders_queued_work_on_rabbitmq(
    stack_factory: StackFactory, broker: str, corpus_dir: Path
) -> None:
    """As test_e2e_templates.py's: a priority 10 procedure queued behind priority 0 ones starts
    first, a priority -10 one last, on a one-process worker started after all were queued."""
    s = _stack(stack_factory, "amqp-priority", broker, workers=0)
    with s.client() as client:
        file_id = client.register_media(corpus_dir / "vtest.avi").file_id
        template = client.create_template(Fps=2, Width=320)
        item = {"Definition": template.definition, "StartTimeOffset": 1, "EndTimeOffset": 1.5}

        def submit(priority: int) -> str:
            return _submit(client, file_id, [item], TasksPriority=priority)

        normal = [submit(0) for _ in range(5)]
        urgent = submit(10)
        low = submit(-10)
        s.start_worker("prio", concurrency=1)
        for task_id in [*normal, urgent, low]:
            _outputs_ok(client.wait(task_id, timeout_s=120))
    with _raw(s) as raw:
        started = {
            task_id: float(raw.hget(keys.task(task_id), "begin_ts") or 0)
            for task_id in [*normal, urgent, low]
        }
    order = sorted(started, key=started.__getitem__)
    assert order[0] == urgent, order
    assert order[-1] == low, order


def test_a_killed_workers_steps_run_again_within_a_minute_by_default(
    stack_factory: StackFactory, broker: str, corpus_dir: Path
) -> None:
    """Default settings: two workers, one SIGKILLed with its pool while it runs steps of four
    1280 px GIF procedures; RabbitMQ gives its unacknowledged messages back when its connection
    drops, and the survivor takes them."""
    s = _stack(stack_factory, "amqp-kill", broker, workers=2, kill_at_exit=True)
    victim, survivor = s.workers
    with s.client() as client:
        file_id = client.register_media(corpus_dir / "cockatoo.mp4").file_id
        gif = client.create_template(Format="gif", Fps=10, Width=1280)
        item = {"Definition": gif.definition, "StartTimeOffset": 1, "EndTimeOffset": 4}
        task_ids = [_submit(client, file_id, [item]) for _ in range(4)]
        media_steps = ("animgraph.decode", "animgraph.encode")

        def victim_busy() -> bool:  # both its processes taken, one at least with a media step
            return len(_in_flight(victim)) >= 2 and bool(_in_flight(victim, media_steps))

        until(victim_busy, 120, "the victim to run media steps")
        before, _ = _deliveries(survivor)
        s.kill_worker(victim)
        killed = time.monotonic()
        taken = _in_flight(victim)  # every message it held, running or reserved
        assert taken

        def taken_over() -> bool:
            received, _ = _deliveries(survivor)
            return all(received[t] > before[t] for t in taken)

        until(taken_over, RECOVERY_S + 30, "the survivor to take the victim's steps", 0.05)
        recovery_s = time.monotonic() - killed
        print(
            f"\nrecovery on RabbitMQ: the killed worker's {len(taken)} messages "
            f"restarted on the survivor in {recovery_s:.1f} s"
        )
        assert recovery_s < RECOVERY_S
        for task_id in task_ids:
            _outputs_ok(client.wait(task_id, timeout_s=240))
        events = drain_events(client)
        assert [final_count(events, t) for t in task_ids] == [1, 1, 1, 1]


def test_pool_children_killed_mid_encode(
    stack_factory: StackFactory, broker: str, corpus_dir: Path
) -> None:
    """As test_faults.py's: the pool processes die mid-encode; the worker rejects their
    messages back to RabbitMQ (``task_reject_on_worker_lost``) and runs them again."""
    s = _stack(stack_factory, "amqp-pool", broker, workers=0, kill_at_exit=True)
    worker = s.start_worker("pool", supervise=True)
    with s.client() as client:
        file_id = client.register_media(corpus_dir / "cockatoo.mp4").file_id
        task_id = _submit(client, file_id, _heavy_template(client))
        until(lambda: _encoding(client, task_id), 60, "encoding")
        assert s.kill_pool(worker)
        killed = time.monotonic()
        task = client.wait(task_id, timeout_s=RECOVERY_S + 30)
        assert time.monotonic() - killed < RECOVERY_S
        _outputs_ok(task)
        assert final_count(drain_events(client), task_id) == 1
        assert worker.alive()


def test_a_frozen_workers_late_result_is_dropped(
    stack_factory: StackFactory, broker: str, corpus_dir: Path
) -> None:
    """A worker frozen (SIGSTOP of its process group, as a partition looks) misses its broker
    heartbeats: RabbitMQ closes its connection and gives its encode to another worker. Woken,
    the frozen step's late result is fenced out (its attempt is no longer the latest) and does
    not replace the one written; the task keeps exactly one final event, and the woken worker
    connects again by itself."""
    s = _stack(stack_factory, "amqp-frozen", broker, workers=0, kill_at_exit=True)
    frozen = s.start_worker(
        "frozen",
        supervise=True,
        ANIMGRAPH_FAULT_INJECTION="encode:sleep:60",
    )
    encode = ("animgraph.encode",)
    with s.client() as client:
        file_id = client.register_media(corpus_dir / "vtest.avi").file_id
        task_id = _submit(client, file_id, [{"Definition": 20000, "EndTimeOffset": 1}])
        until(lambda: _attempts(s, task_id, "encode") == 1, 60, "the encode to start")
        rescuer = s.start_worker("rescuer")  # up before the freeze: its start is not timed
        assert _in_flight(frozen, encode), "the encode ended before the freeze"
        pool = frozen.pool_pids()
        os.killpg(frozen.pid, signal.SIGSTOP)
        frozen_at = time.monotonic()
        try:
            until(lambda: bool(_in_flight(rescuer, encode)), 60, "the encode to move", 0.05)
            print(
                f"\nfrozen worker: RabbitMQ gave its encode to another worker "
                f"{time.monotonic() - frozen_at:.1f} s after SIGSTOP "
                f"(broker heartbeat {AMQP_HEARTBEAT_S} s, the default)"
            )
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
        after = client.wait(task_id, timeout_s=10).media_process_result_set[0]
        assert after.animated_graphic_task == before
        assert final_count(drain_events(client), task_id) == 1
        # Woken, the worker finds its connection closed and opens a new one by itself.
        s.wait_for_workers(timeout_s=60)
        assert frozen.alive()
