"""The worker's log lines: with ``ANIMGRAPH_LOG_FORMAT=json``, the handlers Celery sets up (the
root logger's, the task logger's, billiard's) write JSON lines (``shared/logs.py``), each naming
the Celery task it was written under; with ``text`` (the default) Celery's own format stays."""

from __future__ import annotations

import logging
import sys
from typing import Any

from animgraph.shared.logs import JsonFormatter, use_json
from animgraph.workers.app import settings

__all__ = ["after_setup", "json_wanted", "start"]


def json_wanted() -> bool:
    return settings.log_format == "json"


def _celery_task() -> dict[str, Any]:
    """The Celery task this process runs now, if any (as Celery's own task formatter adds)."""
    from celery._state import get_current_task

    task = get_current_task()
    if task is None or task.request.id is None:
        return {}
    return {"celery_task_id": task.request.id, "celery_task": task.name}


def start() -> None:
    """Before Celery's worker is made (``python -m animgraph.workers``): with JSON wanted, the
    root logger's handler is ours from the first line (Celery checks its privileges and warns
    before it sets its logging up, and keeps a handler it finds), Python's warnings included."""
    if not json_wanted():
        return
    handler = logging.StreamHandler(sys.__stderr__)
    handler.setFormatter(JsonFormatter(_celery_task))
    logging.getLogger().addHandler(handler)
    logging.captureWarnings(True)


def after_setup(logger: logging.Logger) -> None:
    """Celery has set ``logger`` up (``after_setup_logger``, ``after_setup_task_logger``)."""
    if not json_wanted():
        return
    from celery.utils.log import get_multiprocessing_logger

    logging.captureWarnings(True)
    use_json([logger, get_multiprocessing_logger()], _celery_task)
