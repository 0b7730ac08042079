"""Request sessions: a ``SessionId`` given to ProcessMedia, and the ``Nonce`` of an API call
with the older signature, are each accepted once in their window."""

from __future__ import annotations

import redis

from . import keys

__all__ = ["SESSION_TTL_S", "SessionRepo"]

SESSION_TTL_S = 7 * 24 * 3600  # the API's dedup window for a SessionId


class SessionRepo:
    """``session:<SessionId>`` markers, each expiring ``ttl_s`` after its claim, and
    ``nonce:<SecretId>:<Nonce>`` markers, each expiring with its signature's window."""

    def __init__(self, client: redis.Redis, *, ttl_s: int = SESSION_TTL_S) -> None:
        self._redis = client
        self.ttl_s = ttl_s

    def claim(self, session_id: str) -> bool:
        """True if ``session_id`` was not used in the window (and is now taken)."""
        return bool(self._redis.set(keys.session(session_id), "1", nx=True, ex=self.ttl_s))

    def release(self, session_id: str) -> None:
        """Free a claimed id again (the request it came with was not accepted after all)."""
        self._redis.delete(keys.session(session_id))

    def claim_nonce(self, secret_id: str, nonce: str, ttl_s: int) -> bool:
        """True if ``secret_id`` did not send ``nonce`` in the last ``ttl_s`` seconds (it is now
        taken for as long): the replay check of the older API signature."""
        return bool(self._redis.set(keys.nonce(secret_id, nonce), "1", nx=True, ex=max(ttl_s, 1)))
