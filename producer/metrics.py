"""``GET /metrics``: a prometheus_client collector that reads everything from Redis at each
scrape (README, "Monitoring").

The counters (tasks, subtasks, output bytes, step durations, events) are the ones workers and
API processes keep in Redis hashes (``shared/state/metrics.py``); the gauges are read live:
queue lengths by priority and taken-but-unacknowledged messages (``shared/state/monitor.py``),
the oldest wait, the open tasks' remaining work (``workload.py``) and the workers'
heartbeats. One scrape costs a handful of pipelined calls, whatever the number of workers. Every
API process answers with the same figures: scrape one (or keep one series per job in the
queries, ``max without (instance)``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import redis
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from animgraph.shared.formats import FORMATS
from animgraph.shared.metrics import STEP_BUCKETS_S, TASK_STATUSES
from animgraph.shared.settings import Settings
from animgraph.shared.state.keys import KOMBU_PRIORITY_STEPS
from animgraph.shared.state.metrics import Counts, MetricsRepo, StepHistogram
from animgraph.shared.state.monitor import Held, Monitor, OpenTask, QueueView, WorkerView
from animgraph.shared.tasknames import QUEUES

from .workload import WorkEstimator

__all__ = ["AnimgraphCollector", "Snapshot", "create_registry", "open_monitor"]

log = logging.getLogger(__name__)


def open_monitor(settings: Settings, *, timeout_s: float = 2.0) -> Monitor:
    """A monitor of the settings' Redis and broker, on fail-fast clients of its own."""
    if not settings.redis_url:
        raise ValueError("ANIMGRAPH_REDIS_URL is not set")
    broker = None if settings.broker_is_amqp else settings.broker_for(settings.redis_url)
    return Monitor.from_urls(
        settings.redis_url,
        broker,
        sentinel_master=settings.redis_sentinel_master,
        timeout_s=timeout_s,
    )


class Snapshot:
    """Everything one scrape (or ``animgraph status``) reads, read before anything is shown."""

    def __init__(self, monitor: Monitor, estimator: WorkEstimator) -> None:
        self.taken_at = time.time()
        self.queues: list[QueueView]
        self.held: list[Held]
        self.queues, self.held = monitor.queues()
        self.has_queues = monitor.has_queues
        self.workers: list[WorkerView] = monitor.workers()
        self.open_tasks: list[OpenTask] = monitor.open_tasks()
        self.work = estimator.estimate(self.open_tasks)


class AnimgraphCollector(Collector):
    """The ``animgraph_*`` metrics, read from Redis at each ``collect``."""

    def __init__(self, monitor: Monitor, counters: MetricsRepo, estimator: WorkEstimator) -> None:
        self._monitor = monitor
        self._counters = counters
        self._estimator = estimator
        self._lock = threading.Lock()  # one scrape at a time: the estimator keeps records

    def describe(self) -> list[Metric]:
        return []  # nothing is read when the collector is registered

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("animgraph_redis_up", "1 if this scrape could read Redis")
        try:
            with self._lock:
                counts = self._counters.read()
                snapshot = Snapshot(self._monitor, self._estimator)
        except redis.RedisError as exc:
            log.warning("metrics: Redis did not answer: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from _counters(counts)
        yield from _queues(snapshot)
        yield from _workers(snapshot.workers)
        yield from _tasks(snapshot)


def _counters(counts: Counts) -> Iterator[Metric]:
    tasks = CounterMetricFamily(
        "animgraph_tasks",
        "Tasks that reached each status: WAITING accepted, PROCESSING started, FINISH finished",
        labels=["status"],
    )
    for status in TASK_STATUSES:
        tasks.add_metric([status], counts.tasks.get(status, 0))
    yield tasks
    subtasks = CounterMetricFamily(
        "animgraph_subtasks",
        "Subtasks (animated images) finished, by format, status and ErrCodeExt",
        labels=["format", "status", "err_code"],
    )
    for sub_labels, n in sorted(counts.subtasks.items()):
        subtasks.add_metric(list(sub_labels), n)
    yield subtasks
    output = CounterMetricFamily(
        "animgraph_output_bytes", "Bytes of the outputs stored, by format", labels=["format"]
    )
    for fmt in sorted(set(FORMATS) | set(counts.output_bytes)):
        output.add_metric([fmt], counts.output_bytes.get(fmt, 0))
    yield output
    steps = HistogramMetricFamily(
        "animgraph_step_duration_seconds",
        "Duration of the media steps (decode, select, encode) of each subtask or slice",
        labels=["step", "format"],
    )
    for (step, fmt), histogram in sorted(counts.steps.items()):
        steps.add_metric([step, fmt], _cumulative(histogram), histogram.sum_s)
    yield steps
    events = CounterMetricFamily(
        "animgraph_events",
        "Events by mode and outcome: push delivered, retried, given_up; pull handed_out, "
        "retried (handed out again), delivered (confirmed)",
        labels=["mode", "outcome"],
    )
    for event_labels, n in sorted(counts.events.items()):
        events.add_metric(list(event_labels), n)
    yield events


def _cumulative(histogram: StepHistogram) -> list[tuple[str, float]]:
    """Prometheus's cumulative ``le`` buckets from the counts of each bucket on its own."""
    buckets, total = [], 0
    for bound in STEP_BUCKETS_S:
        total += histogram.buckets.get(repr(bound), 0)
        buckets.append((repr(bound), float(total)))
    buckets.append(("+Inf", float(histogram.count)))
    return buckets


def _queues(snapshot: Snapshot) -> Iterator[Metric]:
    if not snapshot.has_queues:
        return  # RabbitMQ: its own exporter has the queues
    length = GaugeMetricFamily(
        "animgraph_queue_length",
        "Messages of each queue and priority (0 first): waiting in the queue's lists, or "
        "unacked (taken by a worker: running, prefetched, or a retry held for its countdown)",
        labels=["queue", "priority", "state"],
    )
    oldest = GaugeMetricFamily(
        "animgraph_oldest_waiting_seconds",
        "Age of the oldest message waiting in each queue (0 when none waits)",
        labels=["queue"],
    )
    for view in snapshot.queues:
        for priority in KOMBU_PRIORITY_STEPS:
            length.add_metric([view.name, str(priority), "waiting"], view.waiting.get(priority, 0))
        for priority in sorted({0, *view.unacked}):
            length.add_metric([view.name, str(priority), "unacked"], view.unacked.get(priority, 0))
        waited = 0.0
        if view.total_waiting and view.oldest_sent_at is not None:
            waited = max(0.0, snapshot.taken_at - view.oldest_sent_at)
        oldest.add_metric([view.name], round(waited, 3))
    yield length
    yield oldest


def _workers(workers: list[WorkerView]) -> Iterator[Metric]:
    online = GaugeMetricFamily(
        "animgraph_workers_online", "Workers whose heartbeat is alive (one per worker node)"
    )
    online.add_metric([], len(workers))
    yield online
    processes = GaugeMetricFamily(
        "animgraph_worker_processes",
        "Pool processes of the live workers that serve each queue",
        labels=["queue"],
    )
    for queue in QUEUES:
        processes.add_metric([queue], sum(w.processes for w in workers if queue in w.queues))
    yield processes


def _tasks(snapshot: Snapshot) -> Iterator[Metric]:
    open_ = GaugeMetricFamily(
        "animgraph_tasks_open", "Tasks not finished, by status", labels=["status"]
    )
    for status in ("WAITING", "PROCESSING"):
        open_.add_metric([status], sum(1 for t in snapshot.open_tasks if t.status == status))
    yield open_
    work = GaugeMetricFamily(
        "animgraph_work_waiting_seconds",
        "Estimated worker seconds of the unfinished subtasks of open tasks, by format and task "
        "status (from their frames and pixels: README, 'Monitoring')",
        labels=["format", "task_status"],
    )
    for (status, fmt), seconds in sorted(snapshot.work.items()):
        work.add_metric([fmt, status], seconds)
    yield work


def create_registry(monitor: Monitor, *, max_frames: int = 3000) -> CollectorRegistry:
    """A registry holding the animgraph collector over ``monitor`` (``open_monitor``: its
    clients fail fast, so a scrape during a Redis outage answers ``animgraph_redis_up 0`` at
    once); ``max_frames`` is ``ANIMGRAPH_MAX_OUTPUT_FRAMES``."""
    registry = CollectorRegistry(auto_describe=False)
    collector = AnimgraphCollector(
        monitor, MetricsRepo(monitor.client), WorkEstimator(monitor, max_frames=max_frames)
    )
    registry.register(collector)
    return registry
