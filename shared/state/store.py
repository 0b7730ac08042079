"""``State``: the one Redis client of a process and the repositories that share it."""

from __future__ import annotations

from typing import Any

import redis

from .connection import connect
from .console import ConsoleRepo
from .events import EventBus
from .flows import FlowRepo
from .locks import LockRepo
from .media import MediaRepo
from .sessions import SessionRepo
from .tasks import DEFAULT_TTL_S, TaskRepo
from .templates import TemplateRepo
from .uploads import UploadRepo

__all__ = ["State"]


class State:
    """Every aggregate's repository over one Redis client; nothing else holds the client."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        task_ttl_s: int = DEFAULT_TTL_S,
        event_redelivery_s: float = 30.0,
        event_retention_s: int = 4 * 24 * 3600,
    ) -> None:
        self._redis = client
        self.media = MediaRepo(client)
        self.templates = TemplateRepo(client)
        self.flows = FlowRepo(client)
        self.tasks = TaskRepo(client, self.media, ttl_s=task_ttl_s)
        self.uploads = UploadRepo(client)
        self.sessions = SessionRepo(client)
        self.console = ConsoleRepo(client)
        self.locks = LockRepo(client)
        self.events = EventBus(
            client, redelivery_s=event_redelivery_s, retention_s=event_retention_s
        )

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> State:
        """A ``State`` on its own client for ``url`` (options as ``__init__``'s)."""
        return cls(connect(url), **kwargs)

    def ping(self) -> bool:
        """True if Redis answers (after the client's retries, some seconds when it is down)."""
        try:
            return bool(self._redis.ping())
        except redis.RedisError:
            return False

    def close(self) -> None:
        self._redis.close()
