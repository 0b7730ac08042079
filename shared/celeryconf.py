"""The Celery configuration every animgraph process uses, built from ``Settings``.

Producer and workers must agree on these (visibility timeout, priority steps), so both build
their app here. See docs/design.md, "The canvas", for why each line is set.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from animgraph.shared.settings import Settings
from animgraph.shared.tasknames import CONTROL_QUEUE, ROUTES

__all__ = ["celery_config", "create_celery"]


def celery_config(settings: Settings, redis_url: str) -> dict[str, Any]:
    """Celery settings for a broker and result backend on ``redis_url``."""
    transport = {
        "visibility_timeout": settings.worker.visibility_timeout_s,
        "unacked_restore_interval": settings.worker.unacked_restore_interval_s,
        "unacked_restore_throttle": 1,
        "queue_order_strategy": "priority",
        "priority_steps": list(range(10)),
        "sep": ":",
    }
    return {
        "broker_url": redis_url,
        "result_backend": redis_url,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "broker_transport_options": transport,
        "result_backend_transport_options": {
            "visibility_timeout": settings.worker.visibility_timeout_s
        },
        "visibility_timeout": settings.worker.visibility_timeout_s,
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
        "task_default_priority": 4,
        "worker_hijack_root_logger": False,
        "broker_channel_error_retry": True,
    }


def create_celery(settings: Settings, redis_url: str, *, name: str = "animgraph") -> Celery:
    """A Celery app for ``redis_url`` (no connection is opened until it is used)."""
    app = Celery(name)
    app.conf.update(celery_config(settings, redis_url))
    return app
