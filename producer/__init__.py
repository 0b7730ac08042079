"""The producer side of animgraph: the typed client, the senders and the CLI."""

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
