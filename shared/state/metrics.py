"""The counters behind the API's ``/metrics``, kept in Redis hashes that every worker and API
process adds to (``metrics:*``); names, labels and buckets are ``animgraph.shared.metrics``'.

A writer adds to them in a call it makes anyway where it can (``count_task`` into the task
record's own pipeline, a subtask's end in ``TaskRepo.mark_finished``'s script, a push's outcome
in ``EventBus.mark_delivered``'s pipeline), else in one pipelined call of its own
(``observe_step``: two commands per step). ``read`` gets them all back in one pipelined call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import redis

from animgraph.shared.metrics import TASK_STATUSES, bucket_of, labels_of
from animgraph.shared.metrics import field as label_field

from . import keys

__all__ = ["Counts", "MetricsRepo", "StepHistogram"]


@dataclass
class StepHistogram:
    """One (step, format)'s durations: the count of each bucket on its own (``bucket_of``'s
    names, ``+Inf`` last) and the sum of the seconds."""

    buckets: dict[str, int] = field(default_factory=dict)
    sum_s: float = 0.0

    @property
    def count(self) -> int:
        return sum(self.buckets.values())


@dataclass
class Counts:
    """Every counter as ``read`` found it, by label values."""

    tasks: dict[str, int] = field(default_factory=dict)
    subtasks: dict[tuple[str, str, str], int] = field(default_factory=dict)
    output_bytes: dict[str, int] = field(default_factory=dict)
    steps: dict[tuple[str, str], StepHistogram] = field(default_factory=dict)
    events: dict[tuple[str, str], int] = field(default_factory=dict)


class MetricsRepo:
    """``metrics:tasks``, ``metrics:subtasks``, ``metrics:output_bytes``, ``metrics:steps``
    and ``metrics:events`` (no TTL: counters only grow, Prometheus takes their rates)."""

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    # --- writes ------------------------------------------------------------------------------

    @staticmethod
    def count_task(pipe: Any, status: str) -> None:
        """One more task reached ``status``, counted in the caller's pipeline."""
        pipe.hincrby(keys.METRICS_TASKS, status, 1)

    @staticmethod
    def count_event(pipe: Any, mode: str, outcome: str, n: int = 1) -> None:
        """``n`` more events of ``mode`` (push, pull) had ``outcome``, in the caller's
        pipeline."""
        pipe.hincrby(keys.METRICS_EVENTS, label_field(mode, outcome), n)

    def event(self, mode: str, outcome: str, n: int = 1) -> None:
        """``count_event`` in a call of its own."""
        self.count_event(self._redis, mode, outcome, n)

    def observe_step(self, step: str, fmt: str, seconds: float) -> None:
        """A media step of a subtask in ``fmt`` took ``seconds``: its bucket counted and its
        seconds added, in one pipelined call."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.hincrby(keys.METRICS_STEPS, label_field(step, fmt, bucket_of(seconds)), 1)
        pipe.hincrbyfloat(keys.METRICS_STEPS, label_field(step, fmt, "sum"), seconds)
        pipe.execute()

    # --- reads -------------------------------------------------------------------------------

    def read(self) -> Counts:
        """Every counter, in one pipelined call."""
        pipe = self._redis.pipeline(transaction=False)
        for key in (
            keys.METRICS_TASKS,
            keys.METRICS_SUBTASKS,
            keys.METRICS_OUTPUT_BYTES,
            keys.METRICS_STEPS,
            keys.METRICS_EVENTS,
        ):
            pipe.hgetall(key)
        tasks, subtasks, output, steps, events = cast(list[dict[str, str]], pipe.execute())
        counts = Counts(
            tasks={status: int(tasks.get(status, 0)) for status in TASK_STATUSES},
            output_bytes={k: int(v) for k, v in output.items()},
        )
        for name, value in subtasks.items():
            labels = labels_of(name, 3)
            if labels:
                counts.subtasks[(labels[0], labels[1], labels[2])] = int(value)
        for name, value in events.items():
            labels = labels_of(name, 2)
            if labels:
                counts.events[(labels[0], labels[1])] = int(value)
        for name, value in steps.items():
            labels = labels_of(name, 3)
            if not labels:
                continue
            histogram = counts.steps.setdefault((labels[0], labels[1]), StepHistogram())
            if labels[2] == "sum":
                histogram.sum_s = float(value)
            else:
                histogram.buckets[labels[2]] = int(value)
        return counts
