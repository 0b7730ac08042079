"""Console sign-in: the sessions behind the console's cookie and the failed sign-ins counted."""

from __future__ import annotations

from typing import cast

import redis

from . import keys

__all__ = ["ConsoleRepo"]


class ConsoleRepo:
    """``console:session:<sha256(token)>`` (holds who signed in) and ``console:fail:<address>``."""

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def open_session(self, token: str, who: str, ttl_s: int) -> None:
        self._redis.set(keys.console_session(token), who, ex=ttl_s)

    def session_user(self, token: str) -> str | None:
        user = self._redis.get(keys.console_session(token))
        return str(user) if user is not None else None

    def close_session(self, token: str) -> None:
        self._redis.delete(keys.console_session(token))

    def failures(self, address: str) -> int:
        """Failed sign-ins from ``address`` in the current window."""
        return int(cast(str, self._redis.get(keys.console_failures(address)) or 0))

    def record_failure(self, address: str, window_s: int) -> None:
        """Count a failed sign-in; the window starts at the first failure and lasts ``window_s``."""
        key = keys.console_failures(address)
        if int(cast(str, self._redis.incr(key))) == 1:
            self._redis.expire(key, window_s)
