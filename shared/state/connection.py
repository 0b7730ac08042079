"""The Redis client every repository shares: how it connects (to one server, or to the master a
set of Sentinels names), and the index read two of them use."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast
from urllib.parse import quote, unquote, urlsplit

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel

from animgraph.shared.models import WireModel

__all__ = [
    "DEFAULT_SENTINEL_MASTER",
    "SentinelTarget",
    "celery_url",
    "connect",
    "is_sentinel_url",
    "parse_sentinel_url",
    "read_indexed",
]

M = TypeVar("M", bound=WireModel)

DEFAULT_SENTINEL_MASTER = "mymaster"
SENTINEL_PORT = 26379


def is_sentinel_url(url: str) -> bool:
    """True for kombu's Sentinel form, ``sentinel://h1:26379;sentinel://h2:26379/0``."""
    return url.strip().lower().startswith("sentinel://")


@dataclass(frozen=True)
class SentinelTarget:
    """What a Sentinel URL names: the Sentinels, the database and the master's credentials."""

    sentinels: tuple[tuple[str, int], ...]
    db: int
    username: str | None
    password: str | None


def parse_sentinel_url(url: str) -> SentinelTarget:
    """Parse kombu's form: ``;``-separated ``sentinel://[[user]:password@]host[:port][/db]``.
    The database and credentials may be given on any part (kombu and Celery read only the
    first's, so ``celery_url`` writes them on every part); two parts may not disagree."""
    sentinels: list[tuple[str, int]] = []
    dbs: set[int] = set()
    credentials: set[tuple[str | None, str]] = set()
    for part in filter(None, (p.strip() for p in url.split(";"))):
        parsed = urlsplit(part)
        if parsed.scheme.lower() != "sentinel" or not parsed.hostname:
            raise ValueError(f"not a Sentinel address: {part!r} (want sentinel://host:port)")
        sentinels.append((parsed.hostname, parsed.port or SENTINEL_PORT))
        path = parsed.path.strip("/")
        if path:
            if not path.isdigit():
                raise ValueError(f"the database in {part!r} is not a number")
            dbs.add(int(path))
        if parsed.password is not None:
            user = unquote(parsed.username) if parsed.username else None
            credentials.add((user, unquote(parsed.password)))
    if not sentinels:
        raise ValueError("a Sentinel URL names no Sentinel")
    if len(dbs) > 1 or len(credentials) > 1:
        raise ValueError("the parts of a Sentinel URL give different databases or passwords")
    username, password = next(iter(credentials), (None, None))
    return SentinelTarget(tuple(sentinels), next(iter(dbs), 0), username, password)


def celery_url(url: str) -> str:
    """``url`` as kombu and Celery should get it: a Sentinel URL with its database and
    credentials on every part (they read the first part's only); any other URL as it is."""
    if not is_sentinel_url(url):
        return url
    target = parse_sentinel_url(url)
    auth = ""
    if target.password is not None:
        auth = f"{quote(target.username or '', safe='')}:{quote(target.password, safe='')}@"
    return ";".join(
        f"sentinel://{auth}{host}:{port}/{target.db}" for host, port in target.sentinels
    )


def connect(
    url: str,
    *,
    sentinel_master: str = DEFAULT_SENTINEL_MASTER,
    socket_timeout: float = 30,
    socket_connect_timeout: float = 5,
    retry: Retry | None = None,
) -> redis.Redis:
    """A client for ``url`` with string replies, long reads and retries; for a Sentinel URL, a
    client of the master ``sentinel_master`` that follows it through a failover."""
    # redis-py's default 5 s read timeout would cut PullEvents' 5 s blocking read short; the
    # retries (about 60 s in all) ride out a Redis restart or a Sentinel failover.
    options: dict[str, Any] = {
        "decode_responses": True,
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": socket_connect_timeout,
        "retry": retry or Retry(ExponentialBackoff(cap=2.0, base=0.1), retries=32),
        "retry_on_error": [redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError],
    }
    if not is_sentinel_url(url):
        return redis.Redis.from_url(url, **options)
    target = parse_sentinel_url(url)
    sentinels = Sentinel(
        list(target.sentinels),
        socket_timeout=min(socket_timeout, 5),
        socket_connect_timeout=socket_connect_timeout,
    )
    # A connection error (the master gone) or READONLY (an old master come back as a replica)
    # makes the pool ask the Sentinels again, and the retry goes to the new master.
    client: redis.Redis = sentinels.master_for(
        sentinel_master,
        db=target.db,
        username=target.username,
        password=target.password,
        **options,
    )
    return client


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
