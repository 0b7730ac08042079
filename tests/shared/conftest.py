"""Fixtures of the state repository tests: a Redis database of their own, emptied per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import redis

from animgraph.shared.models import MediaInfo, MediaMetaData
from animgraph.shared.redis_server import RedisServer
from animgraph.shared.state import MediaRecord, State

STATE_DB = 6  # apart from the e2e tests' 0 and the catalogue tests' 3


@pytest.fixture()
def raw(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A plain client on the test database (emptied first), to read the keys as they are."""
    client = redis.Redis.from_url(
        redis_server.url.rsplit("/", 1)[0] + f"/{STATE_DB}", decode_responses=True
    )
    client.flushdb()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture()
def state(raw: redis.Redis) -> State:
    """Short TTLs and redelivery window, so the tests can see them."""
    return State(raw, task_ttl_s=3600, event_retention_s=600, event_redelivery_s=0.2)


def media_record(file_id: str, create_time: str = "2026-01-02T03:04:05Z") -> MediaRecord:
    info = MediaInfo(
        file_id=file_id,
        file_name=f"clip-{file_id}",
        file_url=f"file:///sources/{file_id}/clip.mp4",
        create_time=create_time,
        meta_data=MediaMetaData(size=1234, width=640, height=360, duration=3.0),
    )
    return MediaRecord(info=info, source_key=f"sources/{file_id}/clip.mp4", start_time_s=0.5)


@pytest.fixture()
def make_media() -> Callable[..., MediaRecord]:
    """Build a ``MediaRecord`` (``make_media(file_id, create_time=...)``)."""
    return media_record
