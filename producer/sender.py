"""How the producer hands a procedure to the workers: one named message.

``Client(sender=RecordingSender())`` lets a caller's own tests check what would be sent
without a broker.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import redis
    from celery import Celery

    from animgraph.shared.settings import Settings

__all__ = [
    "CelerySender",
    "LazyCelerySender",
    "RecordingSender",
    "RedisSender",
    "Sender",
    "SentMessage",
]


class Sender(Protocol):
    """Send one task message by name."""

    def send(self, name: str, args: list[Any], *, queue: str, priority: int) -> None: ...


class CelerySender:
    """Send through a Celery app's broker connection (``send_task``: no worker code imported)."""

    def __init__(self, app: Celery) -> None:
        self.app = app

    def send(self, name: str, args: list[Any], *, queue: str, priority: int) -> None:
        self.app.send_task(name, args=args, queue=queue, priority=priority, ignore_result=True)


class LazyCelerySender:
    """A ``CelerySender`` whose Celery app is built on the first send: a client that only reads
    or manages saved things never imports Celery."""

    def __init__(self, settings: Settings, redis_url: str, *, name: str) -> None:
        self.settings, self.redis_url, self.name = settings, redis_url, name
        self._sender: CelerySender | None = None

    def send(self, name: str, args: list[Any], *, queue: str, priority: int) -> None:
        if self._sender is None:
            from animgraph.shared.celeryconf import create_celery

            self._sender = CelerySender(
                create_celery(self.settings, self.redis_url, name=self.name)
            )
        self._sender.send(name, args, queue=queue, priority=priority)

    def close(self) -> None:
        if self._sender is not None:
            self._sender.app.close()


class RedisSender:
    """Send by writing the message to kombu's Redis list directly: what Celery's ``send_task``
    writes on a Redis broker (task protocol 2, JSON, the default exchange, kombu's list per
    priority step), without importing Celery. For ``animgraph run``, a fresh process, where
    Celery's import, its app and its connection take a tenth of a short job; a process that
    sends many keeps ``LazyCelerySender``.

    tests/producer/test_sender.py checks that the message is the one Celery writes. Two things
    Celery also does are left out: declaring the queue (every worker declares its queues when it
    starts; a message sent before any worker waits in the list) and the ``task-sent`` event for
    Flower (Flower shows the task from its ``task-received`` on). Only for a Redis broker: the
    message is written with ``client``, on the Redis that is the broker.
    """

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.origin = f"gen{os.getpid()}@{socket.gethostname()}"

    @classmethod
    def from_url(cls, url: str, *, sentinel_master: str) -> RedisSender:
        """A sender on its own client for the broker ``url`` (a Sentinel URL: its master)."""
        from animgraph.shared.state.connection import connect

        return cls(connect(url, sentinel_master=sentinel_master))

    def send(self, name: str, args: list[Any], *, queue: str, priority: int) -> None:
        from animgraph.shared.state.keys import kombu_queue

        self.client.lpush(
            kombu_queue(queue, max(0, min(9, priority))),
            json.dumps(self.message(name, args, queue=queue, priority=priority)),
        )

    def message(self, name: str, args: list[Any], *, queue: str, priority: int) -> dict[str, Any]:
        """The kombu envelope of Celery's message for ``name(*args)``."""
        from animgraph.shared.state.monitor import SENT_AT_HEADER

        task_id = str(uuid.uuid4())
        embed = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
        body = json.dumps([list(args), {}, embed]).encode()
        headers: dict[str, Any] = {
            "lang": "py",
            "task": name,
            "id": task_id,
            "shadow": None,
            "eta": None,
            "expires": None,
            "group": None,
            "group_index": None,
            "retries": 0,
            "timelimit": [None, None],
            "root_id": task_id,
            "parent_id": None,
            "argsrepr": repr(list(args)),
            "kwargsrepr": "{}",
            "origin": self.origin,
            "ignore_result": True,
            "replaced_task_nesting": 0,
            "stamped_headers": None,
            "stamps": {},
            SENT_AT_HEADER: round(time.time(), 3),
        }
        return {
            "body": base64.b64encode(body).decode(),
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": headers,
            "properties": {
                "correlation_id": task_id,
                "reply_to": str(uuid.uuid4()),
                "delivery_mode": 2,
                "delivery_info": {"exchange": "", "routing_key": queue},
                "priority": priority,
                "body_encoding": "base64",
                "delivery_tag": str(uuid.uuid4()),
            },
        }

    def close(self) -> None:
        self.client.close()


@dataclass(frozen=True)
class SentMessage:
    name: str
    args: list[Any]
    queue: str
    priority: int


@dataclass
class RecordingSender:
    """Keeps the messages instead of sending them (for tests of code that uses the client)."""

    sent: list[SentMessage] = field(default_factory=list)

    def send(self, name: str, args: list[Any], *, queue: str, priority: int) -> None:
        self.sent.append(SentMessage(name, list(args), queue, priority))
