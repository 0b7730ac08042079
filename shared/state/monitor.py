"""What is queued, taken and running, read from Redis for ``/metrics`` and ``animgraph status``
(read-only, but for pruning nothing): kombu's queue lists and ``unacked`` hash, the workers'
heartbeats and leases, and the open tasks.

kombu's Redis transport keeps each queue in one list per priority step (``keys.kombu_queue``:
``media``, ``media:3``...) and, once a worker has taken a message, in its ``unacked`` hash until
it is acknowledged: prefetched and running steps, and retries held for their countdown. Both
are counted here, each by queue and priority (a scaler that reads only the queue's own list
misses the other priorities and everything taken).
"""

from __future__ import annotations

import base64
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, cast

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from animgraph.shared.tasknames import QUEUES

from . import keys
from .connection import DEFAULT_SENTINEL_MASTER, connect

__all__ = [
    "SENT_AT_HEADER",
    "Held",
    "Monitor",
    "OpenTask",
    "QueueView",
    "WorkerView",
    "age_s",
    "parse_message",
]

SENT_AT_HEADER = "animgraph_sent_at"
"""The message header with the time a message was sent (epoch seconds): every animgraph process
stamps it (``celeryconf``); kombu's Redis messages carry no time of their own."""


@dataclass(frozen=True)
class Message:
    """What a kombu message on Redis says about itself."""

    task: str
    queue: str
    priority: int
    sent_at: float | None
    eta: str | None
    args: tuple[Any, ...]


def parse_message(raw: str, queue: str = "") -> Message | None:
    """A message as kombu's Redis transport stores it (a queue list's JSON payload, or an
    ``unacked`` entry: ``[payload, exchange, routing_key]``); None if it is not one."""
    try:
        data = json.loads(raw)
        if isinstance(data, list):
            data, queue = data[0], str(data[2] or queue)
        headers = data.get("headers") or {}
        props = data.get("properties") or {}
        sent = headers.get(SENT_AT_HEADER)
        return Message(
            task=str(headers.get("task", "")),
            queue=queue or str((props.get("delivery_info") or {}).get("routing_key", "")),
            priority=int(props.get("priority") or 0),
            sent_at=float(sent) if sent is not None else None,
            eta=headers.get("eta"),
            args=_args(data),
        )
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return None


def _args(payload: dict[str, Any]) -> tuple[Any, ...]:
    """The task's positional arguments (Celery's protocol 2 body: ``[args, kwargs, embed]``)."""
    body = payload.get("body", "")
    if (payload.get("properties") or {}).get("body_encoding") == "base64":
        body = base64.b64decode(body).decode()
    decoded = json.loads(body) if isinstance(body, str) else body
    args = decoded[0] if isinstance(decoded, list) and decoded else ()
    return tuple(args) if isinstance(args, list) else ()


@dataclass
class QueueView:
    """One queue: messages waiting by priority, taken and not acknowledged by priority, and
    the send time of its oldest waiting message (None: none waiting, or none stamped)."""

    name: str
    waiting: dict[int, int] = field(default_factory=dict)
    unacked: dict[int, int] = field(default_factory=dict)
    oldest_sent_at: float | None = None

    @property
    def total_waiting(self) -> int:
        return sum(self.waiting.values())

    @property
    def total_unacked(self) -> int:
        return sum(self.unacked.values())


@dataclass(frozen=True)
class Held:
    """A message a worker has taken and not acknowledged, and the worker that leases it."""

    tag: str
    message: Message
    holder: str | None


@dataclass(frozen=True)
class WorkerView:
    """A worker whose heartbeat is alive: its holder name (``<nodename>/<random>``) and what
    the heartbeat says (``workers.leases.describe``)."""

    holder: str
    beat_at: float
    host: str = ""
    pid: int = 0
    processes: int = 0
    queues: tuple[str, ...] = ()
    started: float = 0.0
    threads_per_job: int = 0  # 0: not said (a heartbeat of a version before it did)

    @property
    def nodename(self) -> str:
        return self.holder.rsplit("/", 1)[0]


@dataclass(frozen=True)
class OpenTask:
    """A task not finished yet: its status and the subtasks (by index) already finished."""

    task_id: str
    status: str
    finished: frozenset[int]


class Monitor:
    """Reads for monitoring over the state client and the broker's (the same Redis unless
    ``ANIMGRAPH_BROKER_URL`` names another; None for a RabbitMQ broker, whose queues are read
    from RabbitMQ itself). Give it clients that fail fast: a scrape must not wait out a Redis
    restart."""

    def __init__(self, client: redis.Redis, broker: redis.Redis | None) -> None:
        self._redis = client
        self._broker = broker

    @classmethod
    def from_urls(
        cls,
        redis_url: str,
        broker_url: str | None,
        *,
        sentinel_master: str = DEFAULT_SENTINEL_MASTER,
        timeout_s: float = 2.0,
    ) -> Monitor:
        """A monitor on clients of its own that give up after ``timeout_s``, without retries;
        ``broker_url`` None for a RabbitMQ broker (no queues read)."""
        options: dict[str, Any] = {
            "sentinel_master": sentinel_master,
            "socket_timeout": timeout_s,
            "socket_connect_timeout": timeout_s,
            "retry": Retry(NoBackoff(), retries=0),
        }
        client = connect(redis_url, **options)
        broker = None
        if broker_url is not None:
            broker = client if broker_url == redis_url else connect(broker_url, **options)
        return cls(client, broker)

    def close(self) -> None:
        self._redis.close()
        if self._broker is not None and self._broker is not self._redis:
            self._broker.close()

    @property
    def client(self) -> redis.Redis:
        """The state Redis client (fail-fast, as given)."""
        return self._redis

    @property
    def has_queues(self) -> bool:
        return self._broker is not None

    def queues(self) -> tuple[list[QueueView], list[Held]]:
        """Every queue, and every message taken and not acknowledged (with its lease), in one
        pipelined call to the broker (and one to the state Redis for the leases)."""
        if self._broker is None:
            return [], []
        steps = keys.KOMBU_PRIORITY_STEPS
        pipe = self._broker.pipeline(transaction=False)
        for queue in QUEUES:
            for priority in steps:
                name = keys.kombu_queue(queue, priority)
                pipe.llen(name)
                pipe.lindex(name, -1)  # kombu takes from the right: the next, and oldest, one
        pipe.hgetall(keys.KOMBU_UNACKED)
        answers = pipe.execute()
        unacked = cast(dict[str, str], answers[-1])
        views = []
        for i, queue in enumerate(QUEUES):
            view = QueueView(queue)
            for j, priority in enumerate(steps):
                at = 2 * (i * len(steps) + j)
                length, tail = int(answers[at]), cast(str | None, answers[at + 1])
                if length:
                    view.waiting[priority] = length
                message = parse_message(tail, queue) if tail else None
                if message and message.sent_at is not None:
                    oldest = view.oldest_sent_at
                    view.oldest_sent_at = min(oldest or message.sent_at, message.sent_at)
            views.append(view)
        leases = cast(dict[str, str], self._redis.hgetall(keys.LEASES)) if unacked else {}
        held = []
        for tag, raw in unacked.items():
            message = parse_message(raw)
            if message is not None:
                held.append(Held(tag, message, leases.get(tag)))
        by_queue = {view.name: view for view in views}
        counted = Counter((h.message.queue, h.message.priority) for h in held)
        for (queue, priority), n in counted.items():
            view = by_queue.get(queue) or by_queue.setdefault(queue, QueueView(queue))
            if view not in views:
                views.append(view)
            view.unacked[priority] = n
        return views, held

    def workers(self) -> list[WorkerView]:
        """The workers whose heartbeat is alive, by holder name."""
        holders = cast(
            list[tuple[str, float]], self._redis.zrange(keys.WORKERS, 0, -1, withscores=True)
        )
        if not holders:
            return []
        infos = cast(list[str | None], self._redis.mget([keys.worker(h) for h, _ in holders]))
        found = []
        for (holder, beat_at), raw in zip(holders, infos, strict=True):
            if raw is None:
                continue  # its heartbeat lapsed (the index is pruned later)
            found.append(_worker_view(holder, beat_at, raw))
        return sorted(found, key=lambda w: w.holder)

    def open_tasks(self) -> list[OpenTask]:
        """Every task not finished, oldest first, with its status and finished subtasks."""
        ids = cast(list[str], self._redis.zrange(keys.OPEN_TASKS, 0, -1))
        if not ids:
            return []
        pipe = self._redis.pipeline(transaction=False)
        for task_id in ids:
            pipe.hget(keys.task(task_id), "status")
            pipe.smembers(keys.task_finished(task_id))
        answers = pipe.execute()
        found = []
        for k, task_id in enumerate(ids):
            status, finished = answers[2 * k], answers[2 * k + 1]
            if status is None or status == "FINISH":
                continue  # expired, or finishing now
            done = frozenset(int(i) for i in cast(set[str], finished) if str(i).isdigit())
            found.append(OpenTask(task_id, str(status), done))
        return found

    def task_fields(self, task_ids: list[str], *names: str) -> dict[str, list[str | None]]:
        """Some fields of several task hashes (``record``, ``sub:<i>``...), in one call."""
        pipe = self._redis.pipeline(transaction=False)
        for task_id in task_ids:
            pipe.hmget(keys.task(task_id), list(names))
        return dict(zip(task_ids, cast(list[list[str | None]], pipe.execute()), strict=True))

    def subtasks(self, wanted: list[tuple[str, int]]) -> dict[tuple[str, int], str | None]:
        """Subtask results (JSON ``sub:<i>`` fields) of several tasks, in one call."""
        if not wanted:
            return {}
        pipe = self._redis.pipeline(transaction=False)
        for task_id, index in wanted:
            pipe.hget(keys.task(task_id), f"sub:{index}")
        return dict(zip(wanted, cast(list[str | None], pipe.execute()), strict=True))

    def slices_done(self, wanted: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """How many slices of each split (task, subtask) are encoded, in one call."""
        if not wanted:
            return {}
        raws = cast(list[str | None], self._redis.mget([keys.task_parts(t, i) for t, i in wanted]))
        return {w: int(r or 0) for w, r in zip(wanted, raws, strict=True)}

    def media(self, file_ids: list[str]) -> dict[str, str | None]:
        """Media records (JSON) by FileId, in one call."""
        if not file_ids:
            return {}
        raws = cast(list[str | None], self._redis.mget([keys.media(f) for f in file_ids]))
        return dict(zip(file_ids, raws, strict=True))

    def templates(self, definitions: list[int]) -> dict[int, str | None]:
        """Custom templates (JSON) by Definition, in one call."""
        if not definitions:
            return {}
        raws = cast(list[str | None], self._redis.mget([keys.template(d) for d in definitions]))
        return dict(zip(definitions, raws, strict=True))

    def ping(self) -> None:
        """Raise ``redis.RedisError`` unless the state Redis (and a Redis broker) answers."""
        self._redis.ping()
        if self._broker is not None and self._broker is not self._redis:
            self._broker.ping()


def _worker_view(holder: str, beat_at: float, raw: str) -> WorkerView:
    try:
        info = json.loads(raw)
        if not isinstance(info, dict):
            info = {}
    except ValueError:
        info = {}  # a heartbeat of a version before it said what it is
    return WorkerView(
        holder=holder,
        beat_at=beat_at,
        host=str(info.get("host", "")),
        pid=int(info.get("pid", 0)),
        processes=int(info.get("processes", 0)),
        queues=tuple(info.get("queues", ())),
        started=float(info.get("started", 0.0)),
        threads_per_job=int(info.get("threads_per_job", 0)),
    )


def age_s(at: float | None, now: float | None = None) -> float | None:
    """Seconds since ``at`` (epoch), None for None."""
    return None if at is None else max(0.0, (now or time.time()) - at)
