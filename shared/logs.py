"""Log lines for people or for machines (``ANIMGRAPH_LOG_FORMAT``), and what a step's lines say
about the work they belong to.

``json`` gives one JSON object a line: ``time`` (UTC, ms), ``level``, ``logger``, ``message``,
``process``, ``exception`` when there is one, the record's ``extra`` fields, and, on a line a
media step writes, ``TaskId``, ``index`` (the subtask), ``part`` (a time slice, when split),
``step``, ``attempt`` and ``duration_s`` (seconds since the step began). The step is bound once,
by the guard every step runs under (``bind_step``), in a context variable: nothing is passed
down to the media cores, and a line they write is tagged all the same.

The standard library's ``logging`` is enough here: Celery, kombu, boto3 and uvicorn all write
through it, so one ``Formatter`` on the handlers Celery sets up turns every line into JSON.
"""

from __future__ import annotations

import json
import logging
import logging.config
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "JsonFormatter",
    "StepContext",
    "bind_step",
    "current_step",
    "json_logging",
    "use_json",
]


@dataclass(frozen=True)
class StepContext:
    """The work a step's lines belong to."""

    task_id: str
    index: int
    part: int | None
    step: str
    attempt: int
    started: float  # time.monotonic() when the step began

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    def fields(self) -> dict[str, Any]:
        found: dict[str, Any] = {"TaskId": self.task_id, "index": self.index}
        if self.part is not None:
            found["part"] = self.part
        found.update(step=self.step, attempt=self.attempt, duration_s=round(self.elapsed_s, 3))
        return found


_step: ContextVar[StepContext | None] = ContextVar("animgraph_step", default=None)


@contextmanager
def bind_step(
    task_id: str, index: int, part: int | None, step: str, attempt: int
) -> Iterator[StepContext]:
    """Tag every line written inside with this step (and how long it has run)."""
    context = StepContext(task_id, index, part, step, attempt, time.monotonic())
    token = _step.set(context)
    try:
        yield context
    finally:
        _step.reset(token)


def current_step() -> StepContext | None:
    return _step.get()


# What every LogRecord has: anything else on a record came in through ``extra=``.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object a line. ``context`` adds fields of the moment (the Celery task being
    run, say) to every line; a key it or ``extra`` gives never replaces a standard one."""

    def __init__(self, context: Callable[[], dict[str, Any]] | None = None) -> None:
        super().__init__()
        self._context = context

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        extra = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        step = _step.get()
        context = self._context() if self._context else {}
        for more in (extra, context, step.fields() if step else {}):
            for key, value in more.items():
                line.setdefault(key, value)
        return json.dumps(line, default=str, ensure_ascii=False)


def use_json(
    loggers: list[logging.Logger], context: Callable[[], dict[str, Any]] | None = None
) -> None:
    """Give every handler of ``loggers`` the JSON formatter."""
    formatter = JsonFormatter(context)
    for logger in loggers:
        for handler in logger.handlers:
            handler.setFormatter(formatter)


def json_logging(level: str = "INFO") -> None:
    """This process writes JSON lines on stderr from now on (the API's: uvicorn, FastAPI and
    animgraph's own loggers all reach the root logger)."""
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"json": {"()": JsonFormatter}},
            "handlers": {
                "stderr": {
                    "class": "logging.StreamHandler",
                    "formatter": "json",
                    "stream": "ext://sys.stderr",
                }
            },
            "root": {"handlers": ["stderr"], "level": level},
        }
    )
    logging.captureWarnings(True)
