"""animgraph's own state in Redis (not the Celery result backend): ``State`` holds one
repository per aggregate over one client; ``keys`` names every key and maps them."""

from __future__ import annotations

from .records import MediaRecord, SubtaskPlan, TaskRecord
from .store import State

__all__ = [
    "MediaRecord",
    "State",
    "SubtaskPlan",
    "TaskRecord",
]
