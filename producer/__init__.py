"""The producer side of animgraph: the typed client, the senders and the CLI.

The names below are imported on first use (PEP 562), so that ``animgraph.producer.cli`` and
other submodules load only what they need.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from animgraph.shared.errors import ApiError
    from animgraph.shared.models import (
        AnimatedGraphicTaskInput,
        EventContent,
        MediaInfo,
        ProcedureTask,
        ProcessMediaRequest,
        TaskDetail,
    )

    from .client import Client
    from .sender import CelerySender, RecordingSender, Sender

_WHERE = {
    "ApiError": "animgraph.shared.errors",
    "AnimatedGraphicTaskInput": "animgraph.shared.models",
    "EventContent": "animgraph.shared.models",
    "MediaInfo": "animgraph.shared.models",
    "ProcedureTask": "animgraph.shared.models",
    "ProcessMediaRequest": "animgraph.shared.models",
    "TaskDetail": "animgraph.shared.models",
    "Client": "animgraph.producer.client",
    "CelerySender": "animgraph.producer.sender",
    "RecordingSender": "animgraph.producer.sender",
    "Sender": "animgraph.producer.sender",
}

__all__ = [
    "AnimatedGraphicTaskInput",
    "ApiError",
    "CelerySender",
    "Client",
    "EventContent",
    "MediaInfo",
    "ProcedureTask",
    "ProcessMediaRequest",
    "RecordingSender",
    "Sender",
    "TaskDetail",
]


def __getattr__(name: str) -> Any:
    try:
        module = _WHERE[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
