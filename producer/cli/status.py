"""``animgraph status`` (queues, workers, their steps, the oldest wait; exit 1 when no worker
is online) and ``animgraph worker-alive`` (the worker liveness probe)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from animgraph.shared.settings import Settings
from animgraph.shared.tasknames import DECODE, ENCODE, SELECT

from .common import err

if TYPE_CHECKING:  # imported where used: the other commands do not load them
    from animgraph.shared.state.monitor import Held, QueueView, WorkerView

    from ..metrics import Snapshot

__all__ = ["status", "worker_alive"]

STEPS = (DECODE, SELECT, ENCODE)
EXIT_NO_WORKER = 1
EXIT_NO_REDIS = 2


def _ago(at: float | None, now: float) -> str:
    return "-" if at is None else f"{max(0.0, now - at):.1f} s"


def _step_of(held: Held) -> tuple[str, int, int | None] | None:
    """(TaskId, subtask, slice) of a media step's message; None for other tasks."""
    args = held.message.args
    if held.message.task not in STEPS or len(args) < 3:
        return None
    task_id, index, part = args[-3], args[-2], args[-1]
    if not isinstance(task_id, str) or not isinstance(index, int):
        return None
    return task_id, index, part if isinstance(part, int) else None


def _describe(held: Held, progress: dict[tuple[str, int], int], now: float) -> dict[str, Any]:
    """One message a worker holds, as ``status`` shows it."""
    message = held.message
    row: dict[str, Any] = {
        "task": message.task,
        "queue": message.queue,
        "priority": message.priority,
        "args": list(message.args[-3:] if message.task in STEPS else message.args),
        "sent_s_ago": None if message.sent_at is None else round(now - message.sent_at, 1),
    }
    step = _step_of(held)
    if step is not None:
        row["task_id"], row["subtask"], row["slice"] = step
        row["progress"] = progress.get((step[0], step[1]))
    if message.eta:
        row["eta"] = message.eta  # a retry held for its countdown, not running
    return row


def _report(snapshot: Snapshot, progress: dict[tuple[str, int], int]) -> dict[str, Any]:
    now = snapshot.taken_at
    live = {w.holder for w in snapshot.workers}

    def queue_row(view: QueueView) -> dict[str, Any]:
        oldest = None
        if view.total_waiting and view.oldest_sent_at is not None:
            oldest = round(now - view.oldest_sent_at, 1)
        return {
            "queue": view.name,
            "waiting": view.total_waiting,
            "waiting_by_priority": {str(p): n for p, n in sorted(view.waiting.items())},
            "unacked": view.total_unacked,
            "unacked_by_priority": {str(p): n for p, n in sorted(view.unacked.items())},
            "oldest_wait_s": oldest,
        }

    def worker_row(worker: WorkerView) -> dict[str, Any]:
        mine = [h for h in snapshot.held if h.holder == worker.holder]
        return {
            "worker": worker.holder,
            "host": worker.host,
            "pid": worker.pid,
            "processes": worker.processes,
            "threads_per_job": worker.threads_per_job or None,
            "queues": list(worker.queues),
            "beat_s_ago": round(now - worker.beat_at, 1),
            "steps": [_describe(h, progress, now) for h in mine],
        }

    work = {k: v for k, v in snapshot.work.items() if v}
    return {
        "queues": [queue_row(v) for v in snapshot.queues] if snapshot.has_queues else None,
        "workers": [worker_row(w) for w in snapshot.workers],
        "orphaned": [
            {**_describe(h, progress, now), "holder": h.holder}
            for h in snapshot.held
            if h.holder not in live
        ],
        "tasks_open": {
            status: sum(1 for t in snapshot.open_tasks if t.status == status)
            for status in ("WAITING", "PROCESSING")
        },
        "work_waiting_s": {f"{status}/{fmt}": round(s, 1) for (status, fmt), s in work.items()},
    }


def _print(report: dict[str, Any], redis_url: str) -> None:
    lines = [f"Redis    {redis_url}"]
    if report["queues"] is None:
        lines.append("Queues   on RabbitMQ (see its management UI or exporter)")
    else:
        lines.append(
            "Queues   queue      waiting  unacked  oldest wait  waiting by priority (0 first)"
        )
        for q in report["queues"]:
            by = " ".join(f"{p}:{n}" for p, n in q["waiting_by_priority"].items()) or "-"
            oldest = "-" if q["oldest_wait_s"] is None else f"{q['oldest_wait_s']:.1f} s"
            lines.append(
                f"         {q['queue']:<9} {q['waiting']:>8} {q['unacked']:>8}  {oldest:>11}  {by}"
            )
    workers = report["workers"]
    processes = sum(w["processes"] for w in workers)
    lines.append(f"Workers  {len(workers)} online, {_processes(processes)}")
    for w in workers:
        lines.append(
            f"         {w['worker']}  host {w['host']}  pid {w['pid']}  "
            f"{_processes(w['processes'])}{_threads(w['threads_per_job'])}  "
            f"queues {','.join(w['queues'])}  "
            f"beat {w['beat_s_ago']:.1f} s ago"
        )
        lines += [f"           {_step_line(s)}" for s in w["steps"]]
    if report["orphaned"]:
        lines.append(
            f"Orphaned {len(report['orphaned'])} message(s) taken by no live worker (the lease "
            "sweep gives them back)"
        )
        lines += [f"           {_step_line(s)}" for s in report["orphaned"]]
    tasks = report["tasks_open"]
    work = report["work_waiting_s"]
    total = sum(work.values())
    parts = ", ".join(f"{k} {v:.1f} s" for k, v in sorted(work.items())) or "none"
    lines.append(f"Tasks    {tasks['WAITING']} waiting, {tasks['PROCESSING']} processing")
    lines.append(f"Work     about {total:.1f} worker seconds left ({parts})")
    typer.echo("\n".join(lines))


def _processes(n: int) -> str:
    return f"{n} process" if n == 1 else f"{n} processes"


def _threads(n: int | None) -> str:
    """`` x 1 thread`` (per job), empty when the heartbeat does not say."""
    return "" if not n else f" x {n} thread{'s' if n > 1 else ''}"


def _step_line(step: dict[str, Any]) -> str:
    name = step["task"].removeprefix("animgraph.")
    if "task_id" in step:
        where = f"{step['task_id']}[{step['subtask']}]"
        if step.get("slice") is not None:
            where += f" slice {step['slice']}"
        if step.get("progress") is not None:
            where += f" {step['progress']} %"
    else:
        where = " ".join(str(a) for a in step["args"])
    sent = "" if step["sent_s_ago"] is None else f"  sent {step['sent_s_ago']:.1f} s ago"
    eta = f"  retry at {step['eta']}" if step.get("eta") else ""
    return f"{name:<13} {where}{sent}{eta}"


def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
) -> None:
    """Show the queues (waiting by priority, taken and unacknowledged, the oldest wait), the
    workers online with the steps they hold, and the open tasks' work; exit 1 when no worker
    is online, 2 when Redis does not answer."""
    settings = Settings()
    if not settings.redis_url:
        err.print("[red]Set ANIMGRAPH_REDIS_URL[/] to the Redis the workers use.")
        raise typer.Exit(EXIT_NO_REDIS)
    import redis

    from animgraph.shared.models import MediaProcessTaskAnimatedGraphicResult

    from ..metrics import Snapshot, open_monitor
    from ..workload import WorkEstimator

    monitor = open_monitor(settings, timeout_s=5.0)
    try:
        snapshot = Snapshot(
            monitor, WorkEstimator(monitor, max_frames=settings.limits.max_output_frames)
        )
        steps = sorted({s[:2] for h in snapshot.held if (s := _step_of(h))})
        progress = {}
        for key, raw in monitor.subtasks(steps).items():
            if raw:
                progress[key] = MediaProcessTaskAnimatedGraphicResult.model_validate_json(
                    raw
                ).progress
    except redis.RedisError as exc:
        err.print(f"[red]Redis did not answer[/] ({settings.redis_url}): {exc}")
        raise typer.Exit(EXIT_NO_REDIS) from None
    finally:
        monitor.close()
    report = _report(snapshot, progress)
    if as_json:
        typer.echo(json.dumps({**report, "taken_at": round(time.time(), 3)}, indent=2))
    else:
        _print(report, settings.redis_url)
    if not snapshot.workers:
        err.print("[red]No worker online[/] (no live heartbeat): start one with animgraph worker")
        raise typer.Exit(EXIT_NO_WORKER)


def worker_alive(
    max_age: Annotated[float, typer.Option("--max-age", help="Seconds the file may be old")] = 30.0,
    file: Annotated[
        Path | None,
        typer.Option(help="Default: ANIMGRAPH_WORKER_ALIVE_FILE, else <data dir>/worker.alive"),
    ] = None,
) -> None:
    """Exit 0 if this host's worker touched its liveness file within --max-age seconds (a
    probe; `python -m animgraph.workers.alive` does the same without the CLI's imports)."""
    settings = Settings()
    from animgraph.workers import alive

    path = file or Path(settings.worker.alive_file or settings.data_dir / alive.DEFAULT_NAME)
    ok, why = alive.check(path, max_age)
    (typer.echo if ok else err.print)(why)
    raise typer.Exit(0 if ok else 1)
