"""kombu's Redis transports with one change on the consuming side: a message taken from its
queue is written to kombu's ``unacked`` bookkeeping with retries.

kombu takes a message with ``BRPOP`` and then, in a second call, records it as unacknowledged.
If Redis goes away between the two (a Sentinel failover, a restart from the AOF) the message is
off its queue but in no ``unacked`` entry: nobody would ever run it again. Retrying the record
until Redis (or the new master) answers closes that gap; at worst the message is then also back
on its queue (the ``BRPOP`` was not replicated) and runs twice, which every step allows (the
attempt counters fence the older run's writes).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import redis
from kombu.transport import redis as kombu_redis

__all__ = ["RETRY_S", "SentinelTransport", "Transport", "transport_for"]

log = logging.getLogger(__name__)

# How long to keep trying to record a message taken (a failover takes seconds, a Sentinel's
# down-after is usually 5-30 s).
RETRY_S = 90.0
_TRANSIENT = (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError)


class QoS(kombu_redis.QoS):
    def append(self, message: Any, delivery_tag: Any) -> None:
        deadline = time.monotonic() + RETRY_S
        delay = 0.1
        while True:
            try:
                super().append(message, delivery_tag)  # type: ignore[no-untyped-call]
                return
            except _TRANSIENT as exc:
                if time.monotonic() > deadline:
                    raise
                log.warning(
                    "message %s taken but not recorded as unacknowledged (%s); again in %.1f s",
                    delivery_tag,
                    exc,
                    delay,
                )
                time.sleep(delay)
                delay = min(delay * 2, 2.0)


class Channel(kombu_redis.Channel):
    QoS = QoS


class SentinelChannel(kombu_redis.SentinelChannel):
    QoS = QoS


class Transport(kombu_redis.Transport):
    Channel = Channel


class SentinelTransport(kombu_redis.SentinelTransport):
    Channel = SentinelChannel


def transport_for(broker_url: str) -> str | None:
    """The ``broker_transport`` a worker uses for ``broker_url`` (None: kombu's own)."""
    scheme = broker_url.split("://", 1)[0].lower()
    if scheme in ("redis", "rediss"):
        return f"{__name__}:Transport"
    if scheme == "sentinel":
        return f"{__name__}:SentinelTransport"
    return None
