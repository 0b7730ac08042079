"""Locks across every worker: one holder at a time, released by expiry."""

from __future__ import annotations

import redis

from . import keys

__all__ = ["LockRepo"]


class LockRepo:
    """``reconciler``: the lock of the reconciler pass."""

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def reconciler(self, holder: str | int, ttl_ms: int) -> bool:
        """True if ``holder`` now holds the reconciler lock for ``ttl_ms`` (it is not renewed:
        a pass shorter than the period leaves it to expire before the next one)."""
        return bool(self._redis.set(keys.RECONCILER, holder, nx=True, px=ttl_ms))
