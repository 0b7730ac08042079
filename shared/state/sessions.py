"""Request sessions: a ``SessionId`` given to ProcessMedia is accepted once in its window."""

from __future__ import annotations

import redis

from . import keys

__all__ = ["SESSION_TTL_S", "SessionRepo"]

SESSION_TTL_S = 7 * 24 * 3600  # the API's dedup window for a SessionId


class SessionRepo:
    """``session:<SessionId>`` markers, each expiring ``ttl_s`` after its claim."""

    def __init__(self, client: redis.Redis, *, ttl_s: int = SESSION_TTL_S) -> None:
        self._redis = client
        self.ttl_s = ttl_s

    def claim(self, session_id: str) -> bool:
        """True if ``session_id`` was not used in the window (and is now taken)."""
        return bool(self._redis.set(keys.session(session_id), "1", nx=True, ex=self.ttl_s))

    def release(self, session_id: str) -> None:
        """Free a claimed id again (the request it came with was not accepted after all)."""
        self._redis.delete(keys.session(session_id))
