"""The Celery configuration every animgraph process uses, built from ``Settings``.

Producer and workers must agree on these (visibility timeout, priority steps), so both build
their app here. See docs/design.md, "The canvas", for why each line is set.
"""

from __future__ import annotations

import time
from typing import Any

from celery import Celery
from celery.signals import before_task_publish
from kombu.entity import Exchange, Queue

from animgraph.shared.settings import Settings
from animgraph.shared.state import keys
from animgraph.shared.state.connection import celery_url, is_sentinel_url
from animgraph.shared.state.monitor import SENT_AT_HEADER
from animgraph.shared.tasknames import (
    AMQP_MAX_PRIORITY,
    CONTROL_QUEUE,
    DEFAULT_TASKS_PRIORITY,
    QUEUES,
    ROUTES,
    message_priority,
)

__all__ = ["AMQP_HEARTBEAT_S", "celery_config", "create_celery"]

AMQP_HEARTBEAT_S = 10


def celery_config(settings: Settings, redis_url: str) -> dict[str, Any]:
    """Celery settings for task state on ``redis_url`` (one Redis, or Sentinels) and the broker
    ``settings.broker_url`` (default: the same Redis; or a RabbitMQ)."""
    redis_url = celery_url(redis_url)
    broker_url = celery_url(settings.broker_for(redis_url))
    amqp = settings.broker_is_amqp
    backend_transport: dict[str, Any] = {"visibility_timeout": settings.worker.visibility_timeout_s}
    if is_sentinel_url(redis_url):
        backend_transport["master_name"] = settings.redis_sentinel_master
    conf: dict[str, Any] = {
        "broker_url": broker_url,
        "result_backend": redis_url,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "broker_transport_options": (
            # Publisher confirms: a send returns once RabbitMQ has the message.
            {"confirm_publish": True} if amqp else _redis_transport(settings, broker_url)
        ),
        "result_backend_transport_options": backend_transport,
        "broker_connection_retry_on_startup": True,
        "result_backend_always_retry": True,
        "result_backend_max_retries": 20,
        "result_expires": 2 * 24 * 3600,
        "worker_soft_shutdown_timeout": 30,
        "worker_max_tasks_per_child": 200,
        "worker_max_memory_per_child": settings.worker.max_memory_per_child_kib,
        "task_soft_time_limit": settings.worker.soft_time_limit_s,
        "task_time_limit": settings.worker.time_limit_s,
        "worker_send_task_events": True,
        "task_send_sent_event": True,
        "task_default_queue": CONTROL_QUEUE,
        "task_routes": ROUTES,
        "task_default_priority": message_priority(DEFAULT_TASKS_PRIORITY, amqp=amqp),
        "worker_hijack_root_logger": False,
        "broker_channel_error_retry": True,
        # A send (the producer's procedure, a step's next step) rides out a Redis restart or a
        # Sentinel failover: about 60 s of retries instead of Celery's default 3 in 1 s.
        "task_publish_retry_policy": {
            "max_retries": 30,
            "interval_start": 0,
            "interval_step": 0.5,
            "interval_max": 2,
        },
    }
    if amqp:
        conf.update(_amqp_queues())
        # RabbitMQ drops a connection after about two missed heartbeats and gives its messages
        # back: 10 s (Celery asks for 120, RabbitMQ offers 60) brings a lost host's steps back
        # within the minute the leases give on Redis.
        conf["broker_heartbeat"] = AMQP_HEARTBEAT_S
    else:
        conf["visibility_timeout"] = settings.worker.visibility_timeout_s
    return conf


def _redis_transport(settings: Settings, broker_url: str) -> dict[str, Any]:
    """kombu's Redis transport: priorities 0-9 (0 first) in lists of their own, the visibility
    timeout as the last resort behind the leases, and the Sentinel master when there is one."""
    transport: dict[str, Any] = {
        "visibility_timeout": settings.worker.visibility_timeout_s,
        "unacked_restore_interval": settings.worker.unacked_restore_interval_s,
        "unacked_restore_throttle": 1,
        "queue_order_strategy": "priority",
        "priority_steps": list(keys.KOMBU_PRIORITY_STEPS),
        "sep": keys.KOMBU_SEP,
    }
    if is_sentinel_url(broker_url):
        transport["master_name"] = settings.redis_sentinel_master
    return transport


def _amqp_queues() -> dict[str, Any]:
    """RabbitMQ: durable classic queues with ``x-max-priority`` (RabbitMQ 3.x quorum queues have
    no priorities), persistent messages, one direct exchange per queue as Celery declares."""
    queues = [
        Queue(  # type: ignore[no-untyped-call]
            name,
            Exchange(name, type="direct", durable=True),  # type: ignore[no-untyped-call]
            routing_key=name,
            durable=True,
            queue_arguments={"x-max-priority": AMQP_MAX_PRIORITY},
        )
        for name in QUEUES
    ]
    return {
        "task_queues": queues,
        "task_queue_max_priority": AMQP_MAX_PRIORITY,
        "task_default_delivery_mode": "persistent",
        "task_create_missing_queues": False,
    }


def _stamp_sent_at(headers: dict[str, Any] | None = None, **_: Any) -> None:
    """Every message carries the time it was sent (kombu's Redis messages have none), for the
    oldest wait of ``/metrics`` and ``animgraph status``."""
    if headers is not None:
        headers[SENT_AT_HEADER] = round(time.time(), 3)


def create_celery(settings: Settings, redis_url: str, *, name: str = "animgraph") -> Celery:
    """A Celery app for task state on ``redis_url`` and the settings' broker (no connection is
    opened until it is used)."""
    app = Celery(name)
    app.conf.update(celery_config(settings, redis_url))
    before_task_publish.connect(_stamp_sent_at, weak=False, dispatch_uid=SENT_AT_HEADER)
    return app
