"""``RedisSender`` writes the message Celery's ``send_task`` writes on a Redis broker: the same
list, envelope, headers and body (compared here with Celery's own, so that an upgrade of Celery
or kombu that changes them fails this test rather than the workers)."""

from __future__ import annotations

import base64
import json
from typing import Any

import redis

from animgraph.producer.sender import CelerySender, RedisSender
from animgraph.shared.celeryconf import create_celery
from animgraph.shared.redis_server import RedisServer
from animgraph.shared.settings import Settings
from animgraph.shared.state import keys
from animgraph.shared.state.monitor import SENT_AT_HEADER

QUEUE = "sender-test"


def _sent(raw: redis.Redis) -> tuple[str, dict[str, Any]]:
    """The one message in the test queue's lists: (its list, the message), removed."""
    found = [(k, raw.lrange(k, 0, -1)) for k in raw.keys(f"{QUEUE}*")]
    [(key, [message])] = [(k, v) for k, v in found if v]
    raw.delete(key)
    return key, json.loads(message)


def test_the_direct_message_is_celerys(redis_server: RedisServer) -> None:
    settings = Settings(redis_url=redis_server.url)
    raw = redis.Redis.from_url(redis_server.url, decode_responses=True)
    app = create_celery(settings, redis_server.url, name="sender-test")
    direct = RedisSender(redis.Redis.from_url(redis_server.url, decode_responses=True))
    try:
        for priority in (0, 3, 9):
            args = ["animgraph-Procedure-0123", 2]
            CelerySender(app).send("animgraph.procedure", args, queue=QUEUE, priority=priority)
            celery_key, celery = _sent(raw)
            direct.send("animgraph.procedure", args, queue=QUEUE, priority=priority)
            direct_key, ours = _sent(raw)
            assert direct_key == celery_key == keys.kombu_queue(QUEUE, priority)
            assert ours.keys() == celery.keys()
            assert ours["headers"].keys() == celery["headers"].keys()
            assert ours["properties"].keys() == celery["properties"].keys()
            varying = {"id", "root_id", "origin", SENT_AT_HEADER}
            for name, value in celery["headers"].items():
                if name not in varying:
                    assert ours["headers"][name] == value, name
            assert ours["headers"]["id"] == ours["headers"]["root_id"]
            for name in ("delivery_mode", "delivery_info", "priority", "body_encoding"):
                assert ours["properties"][name] == celery["properties"][name], name
            for name in ("content-encoding", "content-type"):
                assert ours[name] == celery[name]
            assert json.loads(base64.b64decode(ours["body"])) == json.loads(
                base64.b64decode(celery["body"])
            )
    finally:
        direct.close()
        app.close()
        raw.close()
