"""How the producer hands a procedure to the workers: one named message.

``Client(sender=RecordingSender())`` lets a caller's own tests check what would be sent
without a broker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from celery import Celery

__all__ = ["CelerySender", "RecordingSender", "Sender", "SentMessage"]


class Sender(Protocol):
    """Send one task message by name."""

    def send(self, name: str, args: list[Any], *, queue: str, priority: int) -> None: ...


class CelerySender:
    """Send through a Celery app's broker connection (``send_task``: no worker code imported)."""

    def __init__(self, app: Celery) -> None:
        self.app = app

    def send(self, name: str, args: list[Any], *, queue: str, priority: int) -> None:
        self.app.send_task(name, args=args, queue=queue, priority=priority, ignore_result=True)


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
