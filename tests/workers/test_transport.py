"""The worker's Redis transport (``workers/transport.py``): a message taken off its queue is
recorded as unacknowledged even when Redis goes away between the two calls, where kombu's own
transport loses it. Real redis-server, real kombu channels; the "take" is the ``RPOP`` kombu
does, made by hand so that Redis can be stopped right after it."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
import redis
from kombu import Connection

from animgraph.shared.redis_server import RedisServer
from animgraph.workers import transport


def _take_one(server: RedisServer, transport_name: str) -> tuple[Connection, object, str]:
    """Publish one message to queue ``q`` and take it off the list as kombu's BRPOP would:
    the message then exists only in this process."""
    conn = Connection(server.url, transport=transport_name)
    channel = conn.default_channel
    conn.SimpleQueue("q").put({"n": 1})
    raw = redis.Redis.from_url(server.url).rpop("q")
    assert raw is not None
    payload = json.loads(raw)
    return conn, channel.Message(payload, channel=channel), payload["properties"]["delivery_tag"]


def _unacked(server: RedisServer) -> dict[bytes, bytes]:
    return redis.Redis.from_url(server.url).hgetall("unacked")


def test_a_taken_message_is_recorded_once_redis_is_back(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis", appendonly=True).start()
    conn, message, tag = _take_one(server, "animgraph.workers.transport:Transport")
    try:
        server.stop()  # Redis goes away between the take and the record
        threading.Timer(1.5, server.start).start()
        started = time.monotonic()
        conn.default_channel.qos.append(message, tag)
        assert time.monotonic() - started >= 1.0  # it waited for Redis
        assert tag.encode() in _unacked(server)  # restorable: nothing is lost
    finally:
        conn.release()
        server.stop()


def test_kombus_own_transport_drops_it(tmp_path: Path) -> None:
    """Why the worker's transport exists: kombu's raises, and the message is in no list."""
    server = RedisServer(tmp_path / "redis", appendonly=True).start()
    conn, message, tag = _take_one(server, "redis")
    try:
        server.stop()
        with pytest.raises(redis.ConnectionError):
            conn.default_channel.qos.append(message, tag)
        server.start()
        assert tag.encode() not in _unacked(server)
        assert redis.Redis.from_url(server.url).llen("q") == 0
    finally:
        conn.release()
        server.stop()


def test_the_worker_uses_it_for_redis_and_sentinel_urls() -> None:
    assert transport.transport_for("redis://h:6379/0") == "animgraph.workers.transport:Transport"
    assert transport.transport_for("sentinel://h:26379/0").endswith(":SentinelTransport")
    assert transport.transport_for("amqp://g:g@h:5672//") is None
