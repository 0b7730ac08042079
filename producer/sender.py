"""How the producer hands a procedure to the workers: one named message.

``Client(sender=RecordingSender())`` lets a caller's own tests check what would be sent
without a broker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from celery import Celery

    from animgraph.shared.settings import Settings

__all__ = ["CelerySender", "LazyCelerySender", "RecordingSender", "Sender", "SentMessage"]


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
