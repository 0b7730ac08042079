"""The Redis client every repository shares: how it connects, and the index read two of them use."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, cast

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from animgraph.shared.models import WireModel

__all__ = ["connect", "read_indexed"]

M = TypeVar("M", bound=WireModel)


def connect(url: str) -> redis.Redis:
    """A client for ``url`` with string replies, long reads and retries."""
    # redis-py's default 5 s read timeout would cut PullEvents' 5 s blocking read short;
    # the retries ride out a Redis restart of some seconds.
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=30,
        socket_connect_timeout=5,
        retry=Retry(ExponentialBackoff(cap=2.0, base=0.1), retries=20),
        retry_on_error=[redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError],
    )


def read_indexed(
    client: redis.Redis, index: str, key_of: Callable[[str], str], model: type[M]
) -> list[M]:
    """The records ``key_of(member)`` of every member of the sorted set ``index``, in its
    order (members whose record is gone are skipped)."""
    members = cast(list[str], client.zrange(index, 0, -1))
    if not members:
        return []
    raws = cast(list[str | None], client.mget([key_of(m) for m in members]))
    return [model.model_validate_json(r) for r in raws if r]
