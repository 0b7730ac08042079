"""Upload sessions (ApplyUpload -> PUT -> CommitUpload) and the claims of one-time grants."""

from __future__ import annotations

import json
from typing import Any, cast

import redis

from . import keys

__all__ = ["UploadRepo"]


class UploadRepo:
    """``upload:<VodSessionKey>`` (a JSON object) and ``once:<name>``, both with a TTL."""

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def put(self, session_key: str, data: dict[str, Any], ttl_s: int) -> None:
        self._redis.set(keys.upload(session_key), json.dumps(data), ex=ttl_s)

    def get(self, session_key: str) -> dict[str, Any] | None:
        raw = self._redis.get(keys.upload(session_key))
        return cast(dict[str, Any], json.loads(cast(str, raw))) if raw else None

    def update(self, session_key: str, **changes: Any) -> None:
        """Change fields of a live session, keeping its expiry (a gone session stays gone)."""
        key = keys.upload(session_key)
        raw = self._redis.get(key)
        if raw:
            ttl = int(cast(str, self._redis.ttl(key)))
            data = {**json.loads(cast(str, raw)), **changes}
            self._redis.set(key, json.dumps(data), ex=max(ttl, 1))

    def claim_once(self, name: str, ttl_s: int) -> bool:
        """True the first time ``name`` is claimed within ``ttl_s`` (one-time tokens)."""
        return bool(self._redis.set(keys.once(name), "1", nx=True, ex=max(ttl_s, 1)))
