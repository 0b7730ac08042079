"""The Prometheus metrics animgraph exposes at the API's ``GET /metrics``: their names, labels
and buckets, how a label set is written as a Redis hash field, and the cost model behind
``animgraph_work_waiting_seconds``. Pure: no Redis, no Celery, no prometheus_client.

Worker figures reach the API through Redis, not through an endpoint per worker: workers and the
API add to counters kept in Redis hashes (``shared/state/metrics.py``: HINCRBY, one pipelined
call per step), and the API's collector (``producer/metrics.py``) reads them with the queue
lengths, heartbeats and task records at each scrape. One scrape target, whatever the number of
workers and hosts; counters outlive worker restarts; nothing to discover. README, "Monitoring".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "BUDGET_ENCODES",
    "FIELD_SEP",
    "STEP_BUCKETS_S",
    "TASK_STATUSES",
    "UNKNOWN_FORMAT",
    "WORK_COSTS",
    "SubtaskOutcome",
    "WorkCost",
    "bucket_of",
    "field",
    "labels_of",
    "output_frames",
    "subtask_work_s",
]

FIELD_SEP = "|"
"""Between the label values of one hash field (``gif|FAIL|InternalError``): no label value
animgraph writes (formats, statuses, error codes, step names) holds one."""

TASK_STATUSES = ("WAITING", "PROCESSING", "FINISH")
"""``animgraph_tasks_total``'s ``status``: accepted, started (plans resolved), finished."""

UNKNOWN_FORMAT = "unknown"
"""The ``format`` of a subtask that failed before a template was resolved (no such
Definition, a missing file)."""

STEP_BUCKETS_S: tuple[float, ...] = (
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
)  # fmt: skip
"""Upper bounds of ``animgraph_step_duration_seconds``'s buckets (and ``+Inf``): from a select
step of a few frames to the 600 s time limit."""


def field(*labels: str) -> str:
    """A label set as one hash field."""
    return FIELD_SEP.join(labels)


def labels_of(name: str, count: int) -> tuple[str, ...] | None:
    """The ``count`` label values of a hash field, None if it has another shape."""
    values = tuple(name.split(FIELD_SEP))
    return values if len(values) == count else None


def bucket_of(seconds: float) -> str:
    """The bucket a duration is counted in: the smallest bound at or above it, or ``+Inf``.
    Each bucket is counted on its own; the collector adds them up into Prometheus's
    cumulative ``le`` buckets."""
    for bound in STEP_BUCKETS_S:
        if seconds <= bound:
            return repr(bound)
    return "+Inf"


@dataclass(frozen=True, slots=True)
class SubtaskOutcome:
    """How a subtask ended, counted once (``animgraph_subtasks_total`` and, on SUCCESS,
    ``animgraph_output_bytes_total``)."""

    format: str
    status: str
    err_code: str = ""
    output_bytes: int = 0

    @property
    def field(self) -> str:
        return field(self.format or UNKNOWN_FORMAT, self.status, self.err_code)


# --- the cost model of work_waiting -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorkCost:
    """Worker CPU seconds of one subtask: ``base_s`` (codec set-up, the fixed part of decoding
    a few seconds of source, storage, orchestration) plus ``per_mpf_s`` for every
    megapixel-frame of output (frames x width x height / 1e6: decode, select and encode)."""

    base_s: float
    per_mpf_s: float


# Fitted by bench/work_cost.py (bench/work_cost.json): CPU seconds of decode + select + encode
# through the steps' own cores, least squares over 3 s segments of the three test clips at 10 fps
# and 320 px to source size (1.7-28 MPF), plus 0.05 s a subtask of orchestration (the trivial
# job of bench/SCALE.md). A job's measured cost was 0.4-1.7x the model's (median 0.8-1.1x by
# format): content moves it (city.mpg's busy footage costs most per MPF, vtest.avi the least).
WORK_COSTS: dict[str, WorkCost] = {
    "gif": WorkCost(0.35, 0.155),
    "webp": WorkCost(0.43, 0.064),
    "avif": WorkCost(0.56, 0.029),
    "apng": WorkCost(0.78, 0.066),
    "mp4": WorkCost(0.28, 0.039),
    "webm": WorkCost(0.73, 0.093),
}
_DEFAULT_COST = WORK_COSTS["gif"]

BUDGET_ENCODES = 1.5
"""Full encodes a ``MaxSize`` output takes on average when its budget binds (workers/media/
budget.py): the encode part of its cost is counted this many times."""


def output_frames(
    start_s: float, end_s: float, fps: float, *, loop_mode: str = "Forward", cap: int = 3000
) -> int:
    """The frames a subtask encodes: its segment at the template's rate (a ping-pong plays
    them back too), at most ``cap`` (``ANIMGRAPH_MAX_OUTPUT_FRAMES``)."""
    frames = max(1, math.ceil(max(0.0, end_s - start_s) * fps - 1e-9))
    frames = min(frames, cap)
    return max(1, 2 * frames - 2) if loop_mode == "PingPong" else frames


def subtask_work_s(
    fmt: str, width_px: int, height_px: int, frames: int, *, budgeted: bool = False
) -> float:
    """Estimated worker seconds of one subtask of ``frames`` frames at ``width_px`` x
    ``height_px`` in format ``fmt`` (``budgeted``: with a ``MaxSize``)."""
    cost = WORK_COSTS.get(fmt, _DEFAULT_COST)
    mpf = frames * width_px * height_px / 1e6
    return cost.base_s + cost.per_mpf_s * mpf * (BUDGET_ENCODES if budgeted else 1.0)
