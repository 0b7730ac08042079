"""``State``: the one Redis client of a process and the repositories that share it."""

from __future__ import annotations

import time
from typing import Any, cast

import redis

from . import keys
from .connection import DEFAULT_SENTINEL_MASTER, connect
from .console import ConsoleRepo
from .events import EventBus
from .flows import FlowRepo
from .locks import LockRepo
from .media import MediaRepo
from .metrics import MetricsRepo
from .sessions import SessionRepo
from .tasks import DEFAULT_TTL_S, TaskRepo
from .templates import TemplateRepo
from .uploads import UploadRepo

__all__ = ["REPLICA_RETRY_S", "State"]

REPLICA_RETRY_S = 10.0


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
        self._replicas_missing_until = 0.0
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
        self.metrics = MetricsRepo(client)

    @classmethod
    def from_url(
        cls, url: str, *, sentinel_master: str = DEFAULT_SENTINEL_MASTER, **kwargs: Any
    ) -> State:
        """A ``State`` on its own client for ``url`` (a Sentinel URL: of the master
        ``sentinel_master``; other options as ``__init__``'s)."""
        return cls(connect(url, sentinel_master=sentinel_master), **kwargs)

    def ping(self) -> bool:
        """True if Redis answers (after the client's retries, some seconds when it is down)."""
        try:
            return bool(self._redis.ping())
        except redis.RedisError:
            return False

    def workers_online(self) -> int:
        """How many workers have a live heartbeat (``worker:<holder>``, written by every worker
        from ``worker_ready`` on; one that stopped or lost its lease is not counted)."""
        holders = cast(list[str], self._redis.zrange(keys.WORKERS, 0, -1))
        if not holders:
            return 0
        beats = self._redis.mget([keys.worker(h) for h in holders])
        return sum(beat is not None for beat in cast(list[str | None], beats))

    def replicate(self, replicas: int, timeout_ms: int) -> int:
        """Wait (Redis ``WAIT``) until ``replicas`` replicas have every write made so far on this
        Redis, by any client: its replication stream is one ordered log, and a write of ours
        made now comes after them all. Returns how many replicas had it (fewer on time-out).

        After a time-out it does not wait again for ``REPLICA_RETRY_S`` (returning 0 at once):
        a master whose replica is gone (just after a failover) answers without a delay each."""
        if time.monotonic() < self._replicas_missing_until:
            return 0
        pipe = self._redis.pipeline(transaction=False)
        pipe.set(keys.REPLICATED, repr(time.time()), ex=60)
        pipe.execute_command("WAIT", replicas, timeout_ms)  # type: ignore[no-untyped-call]
        got = int(pipe.execute()[1])
        if got < replicas:
            self._replicas_missing_until = time.monotonic() + REPLICA_RETRY_S
        return got

    def close(self) -> None:
        self._redis.close()
