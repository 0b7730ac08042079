"""Capacity of one Redis (issue 18, part 5): Redis commands per procedure, by command and by
step, and Redis CPU per procedure, from which the procedure rate one Redis sustains follows.

    .venv/bin/python bench/capacity.py [--procedures 200] [--workers 2] [--concurrency 2]
                                       [--subtasks 1] [--json out.json]

A private redis-server (AOF on, as in production) and ``--workers`` worker processes run
``--procedures`` trivial procedures (one GIF per subtask of a 1 s segment of vtest.avi, Width
128, Fps 1), submitted at once by this process. The method, per measurement:

- commands, server side: ``CONFIG RESETSTAT`` before the load and ``INFO commandstats`` after,
  minus the commands the idle workers send in as long (measured in a window before the load),
  minus this script's own waiting, divided by the procedures; calls made inside our Lua script
  count there too.
- commands, by step: ``bench/probe/sitecustomize.py`` is on every worker's PYTHONPATH; it
  counts, in each pool process, the commands redis-py sends while each Celery task runs
  (our state and the chain's own publishing and results), and this script counts its own
  (the producer's submit). The rest of the server total is the worker main processes'
  (kombu's fetch and ack, task events, heartbeats) and the calls inside Lua scripts.
- Redis CPU: ``used_cpu_user_main_thread + used_cpu_sys_main_thread`` from ``INFO cpu`` over
  the load, minus the idle rate; the ceiling is one core divided by that, since Redis executes
  commands on one thread. 2 cores cannot saturate Redis with workers doing real work, so the
  ceiling is extrapolated from the CPU per procedure, not reached.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis

from animgraph.producer import Client
from animgraph.shared.models import EventContent
from animgraph.shared.redis_server import RedisServer
from animgraph.shared.settings import Settings
from animgraph.shared.state import keys
from animgraph.workers.local import WorkerProcess, wait_for_workers
from bench.scale import cpu_seconds, wait_quiet

ROOT = Path(__file__).resolve().parent.parent
PROBE = ROOT / "bench" / "probe"
CLIP = ROOT / "tests" / "data" / "vtest.avi"
STEPS = ("submit", "procedure", "decode", "select", "encode", "notify", "deliver")

sys.path.insert(0, str(PROBE))
import sitecustomize as probe  # noqa: E402 - the probe module, from bench/probe


def redis_cpu(raw: redis.Redis) -> float:
    """CPU seconds of Redis's main thread (the one that executes commands)."""
    info = raw.info("cpu")
    if "used_cpu_user_main_thread" in info:
        return float(info["used_cpu_user_main_thread"]) + float(info["used_cpu_sys_main_thread"])
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def commandstats(raw: redis.Redis) -> tuple[Counter[str], Counter[str]]:
    """Calls and microseconds per command since the last ``CONFIG RESETSTAT``."""
    calls: Counter[str] = Counter()
    usec: Counter[str] = Counter()
    for name, stats in raw.info("commandstats").items():
        command = name.removeprefix("cmdstat_").upper()
        calls[command] = int(stats["calls"])
        usec[command] = int(stats["usec"])
    return calls, usec


def probe_counts(directory: Path) -> Counter[str]:
    """The cumulative counts every probed process has written (``bucket|COMMAND|family``)."""
    total: Counter[str] = Counter()
    for path in directory.glob("*.json"):
        try:
            total.update(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue  # being replaced this instant: the next snapshot has it
    return total


def wait_final_events(raw: redis.Redis, task_ids: set[str], since: str, timeout_s: float) -> None:
    """Block on the event stream until every task's FINISH event is in (few commands, unlike
    polling each task)."""
    pending = set(task_ids)
    deadline = time.monotonic() + timeout_s
    while pending:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(pending)} procedures not finished in {timeout_s:.0f} s")
        for _, entries in raw.xread({keys.EVENTS: since}, count=500, block=1000) or []:
            for entry_id, fields in entries:
                since = entry_id
                event = EventContent.model_validate_json(fields["event"])
                change = event.procedure_state_change_event
                if change is not None and change.status == "FINISH":
                    pending.discard(change.task_id)


def run(args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="animgraph-capacity-"))
    probe_dir = tmp / "probe"
    probe_dir.mkdir()
    server = RedisServer(tmp / "redis", appendonly=True).start()
    settings = Settings(redis_url=server.url, data_dir=tmp)
    raw = redis.Redis.from_url(server.url, decode_responses=True)
    probe.install(
        str(probe_dir), background=False
    )  # this process: the producer's commands, bucket "submit"
    env = {"PYTHONPATH": str(PROBE), "ANIMGRAPH_BENCH_PROBE": str(probe_dir)}
    workers = [
        WorkerProcess(
            server.url, tmp, name=f"cap{n}", concurrency=args.concurrency, env=env
        ).start()
        for n in range(args.workers)
    ]
    client = Client(settings)
    try:
        wait_for_workers(server.url, settings)
        time.sleep(3)  # every worker up, not only the first to answer
        file_id = client.register_media(args.clip).file_id
        definition = client.create_template(Format="gif", Fps=args.fps, Width=args.width).definition
        request = {
            "FileId": file_id,
            "MediaProcessTask": {
                "AnimatedGraphicTaskSet": [
                    {
                        "Definition": definition,
                        "StartTimeOffset": i,
                        "EndTimeOffset": i + args.seconds,
                    }
                    for i in range(args.subtasks)
                ]
            },
        }
        since = (
            raw.xinfo_stream(keys.EVENTS)["last-generated-id"] if raw.exists(keys.EVENTS) else "0"
        )
        warm_n = args.warm if args.warm is not None else 2 * args.workers * args.concurrency
        warm = {client.process_media(request) for _ in range(warm_n)}
        wait_final_events(raw, warm, since, 120)
        time.sleep(2)
        load_before = wait_quiet()

        # Idle: what the workers send with nothing to do (heartbeats, empty fetches, sweeps).
        raw.config_resetstat()
        cpu0, t0 = redis_cpu(raw), time.monotonic()
        time.sleep(args.idle_s)
        idle_calls, _ = commandstats(raw)
        idle_window = time.monotonic() - t0
        idle_cpu_rate = (redis_cpu(raw) - cpu0) / idle_window

        # The load.
        before = probe_counts(probe_dir) + Counter(probe.COUNTS)
        since = raw.xinfo_stream(keys.EVENTS)["last-generated-id"]
        worker_cpu0 = sum(cpu_seconds(w.pid) for w in workers)
        raw.config_resetstat()
        cpu0, t0 = redis_cpu(raw), time.monotonic()
        probe.STATE["bucket"] = "submit"
        ids = {client.process_media(request) for _ in range(args.procedures)}
        probe.STATE["bucket"] = "bench waiting"
        wait_final_events(raw, ids, since, 900)
        elapsed = time.monotonic() - t0
        time.sleep(1.5)  # the last notifier's ack, and every process's next probe dump
        calls, usec = commandstats(raw)
        window = time.monotonic() - t0
        load_cpu = redis_cpu(raw) - cpu0
        worker_cpu = sum(cpu_seconds(w.pid) for w in workers) - worker_cpu0
        probe.STATE["bucket"] = "outside a task"
        after = probe_counts(probe_dir) + Counter(probe.COUNTS)
    finally:
        client.close()
        for w in workers:
            w.stop()
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    n = args.procedures
    by_step = after - before
    bench_wait = Counter(
        {k.split("|")[1]: v for k, v in by_step.items() if k.startswith("bench waiting|")}
    )
    idle_scale = window / idle_window
    server_per_proc = {
        c: (calls[c] - idle_calls[c] * idle_scale - bench_wait[c]) / n for c in calls
    }
    redis_cpu_per_proc = (load_cpu - idle_cpu_rate * window) / n
    return {
        "procedures": n,
        "subtasks": args.subtasks,
        "job": f"{args.clip.name} {args.seconds:g} s, GIF {args.width} px {args.fps:g} fps",
        "workers": args.workers,
        "concurrency": args.concurrency,
        "load_before_cores": load_before,
        "seconds": elapsed,
        "rate_per_s": n / elapsed,
        "server_commands_per_proc": dict(sorted(server_per_proc.items())),
        "server_total_per_proc": sum(server_per_proc.values()),
        "server_usec_per_proc": sum(usec.values()) / n,
        "server_usec_by_command": {c: u / n for c, u in usec.items()},
        "idle_commands_per_s": sum(idle_calls.values()) / idle_window,
        "idle_redis_cores": idle_cpu_rate,
        "redis_cpu_ms_per_proc": redis_cpu_per_proc * 1000,
        "redis_cores_busy": load_cpu / window,
        "ceiling_per_s": 1 / redis_cpu_per_proc if redis_cpu_per_proc > 0 else None,
        "worker_cpu_ms_per_proc": worker_cpu / n * 1000,
        "by_step": {k: v / n for k, v in sorted(by_step.items()) if not k.startswith("bench")},
    }


def report(result: dict[str, Any]) -> str:
    """The result as Markdown tables (for bench/SCALE.md)."""
    n_steps: dict[str, Counter[str]] = {}
    for key, per_proc in result["by_step"].items():
        bucket, command, family = key.split("|")
        n_steps.setdefault(bucket, Counter())[f"{command} ({family})"] += per_proc
    lines = [
        f"{result['procedures']} procedures of {result['subtasks']} subtask(s) "
        f"({result['job']}), "
        f"{result['workers']} workers x {result['concurrency']} processes: "
        f"{result['seconds']:.1f} s, **{result['rate_per_s']:.1f} procedures/s**; "
        f"Redis main thread {result['redis_cores_busy']:.2f} cores busy "
        f"(idle workers: {result['idle_redis_cores']:.3f} cores, "
        f"{result['idle_commands_per_s']:.0f} commands/s); "
        f"**{result['redis_cpu_ms_per_proc']:.3f} ms Redis CPU per procedure** -> ceiling "
        f"**{result['ceiling_per_s']:.0f} procedures/s** per Redis core; worker CPU "
        f"{result['worker_cpu_ms_per_proc']:.0f} ms per procedure.",
        "",
        f"Server side (`INFO commandstats`): **{result['server_total_per_proc']:.1f} commands "
        "per procedure**",
        "",
        "| command | per procedure | Redis usec per procedure |",
        "|---|---|---|",
    ]
    usec = result["server_usec_by_command"]
    for command, per_proc in sorted(
        result["server_commands_per_proc"].items(), key=lambda kv: -kv[1]
    ):
        if per_proc >= 0.05:
            lines.append(f"| {command} | {per_proc:.1f} | {usec.get(command, 0):.0f} |")
    lines += ["", "By step (client side, redis-py in each task's process):", ""]
    lines += [
        "| step | commands | of which state | round trips | top commands |",
        "|---|---|---|---|---|",
    ]
    total = trips = 0.0
    for step in [*STEPS, *sorted(set(n_steps) - set(STEPS))]:
        counts = n_steps.get(step)
        if not counts:
            continue
        rt = counts.pop(f"{probe.ROUND_TRIP} (-)", 0.0)
        step_total = sum(counts.values())
        total, trips = total + step_total, trips + rt
        state = sum(v for k, v in counts.items() if k.endswith("(state)"))
        top = ", ".join(f"{k} {v:.1f}" for k, v in counts.most_common(6))
        name = "outside a task (worker main)" if step == "outside a task" else step
        lines.append(f"| {name} | {step_total:.1f} | {state:.1f} | {rt:.1f} | {top} |")
    lines.append(f"| all | {total:.1f} | | {trips:.1f} | |")
    rest = result["server_total_per_proc"] - total
    lines += [
        "",
        "`outside a task` is the worker main processes' (kombu's fetch and ack, task events, "
        f"heartbeats). The rest of the server total, {rest:.1f} per procedure, is the calls "
        "inside Lua scripts and kombu's blocking fetches (BRPOP, sent past redis-py's "
        "command method), less the idle rate subtracted.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--procedures", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--subtasks", type=int, default=1)
    parser.add_argument("--idle-s", type=float, default=5.0)
    parser.add_argument("--clip", type=Path, default=CLIP)
    parser.add_argument("--width", type=int, default=128, help="the template's Width")
    parser.add_argument("--fps", type=int, default=1, help="the template's Fps")
    parser.add_argument("--seconds", type=float, default=1, help="segment length")
    parser.add_argument("--warm", type=int, help="warm-up procedures (2 per process)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    os.environ.setdefault("ANIMGRAPH_LOG_LEVEL", "WARNING")
    result = run(args)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    print(report(result))


if __name__ == "__main__":
    main()
