"""Celery task names and queues, shared by the producer (which sends by name) and the workers."""

from __future__ import annotations

__all__ = [
    "AMQP_MAX_PRIORITY",
    "CONTROL_QUEUE",
    "DECODE",
    "DEFAULT_TASKS_PRIORITY",
    "DELIVER",
    "ENCODE",
    "IO_QUEUE",
    "MEDIA_QUEUE",
    "NOTIFY",
    "NOTIFY_FAILED",
    "PROCEDURE",
    "QUEUES",
    "ROUTES",
    "SELECT",
    "message_priority",
    "redis_priority",
]

PROCEDURE = "animgraph.procedure"
DECODE = "animgraph.decode"
SELECT = "animgraph.select"
ENCODE = "animgraph.encode"
NOTIFY = "animgraph.notify"
NOTIFY_FAILED = "animgraph.notify_failed"
DELIVER = "animgraph.deliver"

CONTROL_QUEUE = "control"
MEDIA_QUEUE = "media"
IO_QUEUE = "io"
QUEUES = (CONTROL_QUEUE, MEDIA_QUEUE, IO_QUEUE)

ROUTES = {
    PROCEDURE: {"queue": CONTROL_QUEUE},
    DECODE: {"queue": MEDIA_QUEUE},
    SELECT: {"queue": MEDIA_QUEUE},
    ENCODE: {"queue": MEDIA_QUEUE},
    NOTIFY: {"queue": CONTROL_QUEUE},
    NOTIFY_FAILED: {"queue": CONTROL_QUEUE},
    DELIVER: {"queue": IO_QUEUE},
}


def redis_priority(tasks_priority: int) -> int:
    """Map ``TasksPriority`` (-10..10, higher first) to a Redis priority (0..9, 0 first)."""
    clamped = max(-10, min(10, tasks_priority))
    return round((10 - clamped) * 9 / 20)


# The ``TasksPriority`` of messages sent with none (event deliveries): the template default.
DEFAULT_TASKS_PRIORITY = 0
# RabbitMQ queues are declared with ``x-max-priority`` 9: the same ten levels as on Redis.
AMQP_MAX_PRIORITY = 9


def message_priority(tasks_priority: int, *, amqp: bool) -> int:
    """The message priority of ``TasksPriority`` on the broker: Redis's 0..9 (0 first) or
    RabbitMQ's 0..9 (9 first), the same ten levels in the same order."""
    level = redis_priority(tasks_priority)
    return AMQP_MAX_PRIORITY - level if amqp else level
