"""Per-process resources of a worker, built lazily after the fork and swappable in tests."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from animgraph.shared.settings import Settings
from animgraph.shared.state import State
from animgraph.shared.storage import Storage

__all__ = ["Runtime", "runtime"]


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    state: State
    storage: Storage

    def scratch(self, *parts: str) -> Path:
        """A private local folder for one step's temporary files (unique per process)."""
        path = self.settings.data_dir.resolve().joinpath("scratch", f"{os.getpid()}", *parts)
        path.mkdir(parents=True, exist_ok=True)
        return path


@cache
def runtime() -> Runtime:
    """The worker process's runtime, from the environment's settings (built on first use)."""
    settings = Settings()
    if not settings.redis_url:
        raise RuntimeError("ANIMGRAPH_REDIS_URL is not set: a worker needs the Redis to serve")
    state = State.from_url(
        settings.redis_url,
        sentinel_master=settings.redis_sentinel_master,
        task_ttl_s=settings.task_ttl_s,
        event_redelivery_s=settings.events.redelivery_s,
        event_retention_s=settings.events.retention_s,
    )
    return Runtime(settings=settings, state=state, storage=settings.open_storage())
