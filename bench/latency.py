"""Latency and CPU of one short GIF job (issue 22, items 3 and 4): ``animgraph run`` and the API
against the ffmpeg two-pass command.

    .venv/bin/python bench/latency.py [--clips city.mpg,vtest.avi] [--runs 3] [--json out.json]
                                      [--markdown bench/LATENCY.md]

Per clip (``bench/corpus.py``; default city.mpg, cockatoo.mp4, vtest.avi) the job of
``bench/run.py``'s ``gif-10fps-480px-3s`` (3 s from ``START_S``, 10 fps, 480 px wide) is run
``--runs`` times each way, interleaved, against one warm worker (one process, as bench/run.py)
on a Redis of the bench's own:

- ffmpeg two-pass (``palettegen=stats_mode=diff`` + ``paletteuse=dither=sierra2_4a:
  diff_mode=rectangle``, as bench/run.py): wall time and CPU (its rusage);
- ``animgraph run`` as a fresh process (the console script, as a user types it, an ad-hoc
  template each run): wall time to exit, the CLI process's CPU (rusage) and the worker's CPU
  during the run (main and pool processes, ``/proc``: ``bench/scale.py``'s ``cpu_seconds``);
- the API: ``Client.process_media`` to the return of ``Client.wait`` (FINISH) in this process,
  the client imported and connected, the media registered before the clock starts: wall time and
  the worker's CPU.

Medians are reported with the load average beside them (the machine may be shared). The CLI's
time is broken down from its phase marks (``ANIMGRAPH_CLI_TIMINGS``: ``producer/cli/timing.py``)
and the task's announcements on its Redis channel (``keys.task_changes``), heard here with
their arrival times: import, connect, template, store (link), probe, enqueue, queue wait (to the
procedure step's plans), steps (to FINISH; the media steps' own seconds from ``metrics:steps``,
the rest is the hops between them), wait return, reading the result, copy-out and exit.

Writes ``--json`` (every sample) and ``--markdown`` (default ``bench/LATENCY.md``: the section
for ``bench/README.md``, also ``markdown(data)`` from the JSON). A run with the defaults takes
about two minutes (2 cores at load 9: 2-4 minutes).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis

from bench.corpus import clip_path
from bench.run import JOBS, START_S, ffmpeg_in, scale
from bench.scale import cpu_seconds, wait_quiet

HERE = Path(__file__).resolve().parent
JOB = next(job for job in JOBS if job.name == "gif-10fps-480px-3s")
DEFAULT_CLIPS = ("city.mpg", "cockatoo.mp4", "vtest.avi")
TIMINGS_ENV = "ANIMGRAPH_CLI_TIMINGS"  # producer/cli/timing.py
CHANNELS = "animgraph:task:*:changes"  # keys.task_changes, every task
STEPS = ("decode", "select", "encode")


@dataclass
class Sample:
    """One run of one way: wall and CPU seconds, and the CLI's phases (seconds each)."""

    wall_s: float
    cpu_s: float = 0.0  # the process's own (ffmpeg, the CLI); 0 for the API (this process)
    worker_cpu_s: float = 0.0
    load: float = 0.0  # 1-minute load average when it ended
    phases: dict[str, float] = field(default_factory=dict)


@dataclass
class ClipResult:
    clip: str
    start_s: float
    ffmpeg: list[Sample] = field(default_factory=list)
    cli: list[Sample] = field(default_factory=list)
    api: list[Sample] = field(default_factory=list)
    # The media cores alone, in this process (bench/bare_tasks.py's steps): CPU seconds by
    # step, median of the runs; what the worker spends beyond them is orchestration.
    media_cpu_s: dict[str, float] = field(default_factory=dict)


def median(samples: list[Sample], attr: str) -> float:
    return statistics.median(getattr(s, attr) for s in samples) if samples else 0.0


def median_phases(samples: list[Sample]) -> dict[str, float]:
    names = [n for n in samples[0].phases] if samples else []
    return {
        n: statistics.median(s.phases[n] for s in samples if n in s.phases)
        for n in names
        if any(n in s.phases for s in samples)
    }


# --- the ways --------------------------------------------------------------------------------


def run_child(
    args: list[str], env: dict[str, str] | None = None, log: Path | None = None
) -> tuple[float, float]:
    """Run a command to its exit: (wall seconds, its CPU seconds from its rusage)."""
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT if log else out)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if log:
        out.close()  # type: ignore[union-attr]
    if proc.returncode:
        raise RuntimeError(f"{args[0]} failed ({proc.returncode}), see {log}")
    return wall, usage.ru_utime + usage.ru_stime


def ffmpeg_two_pass(src: Path, start: float, out: Path) -> list[str]:
    """bench/run.py's ``ff_two_pass`` command for the job."""
    graph = (
        f"[0:v]{scale(JOB)},split[a][b];[a]palettegen=stats_mode=diff[p];"
        "[b][p]paletteuse=dither=sierra2_4a:diff_mode=rectangle"
    )
    return [
        *ffmpeg_in(src, start, JOB.duration_s),
        "-filter_complex",
        graph,
        "-loop",
        "0",
        str(out),
    ]


class Listener:
    """Every task announcement on the bench's Redis, with the time it arrived here."""

    def __init__(self, url: str) -> None:
        self._client = redis.Redis.from_url(url, decode_responses=True)
        self._pubsub = self._client.pubsub()
        self._pubsub.psubscribe(CHANNELS)
        self.heard: list[tuple[float, str, str]] = []  # (time, TaskId, what changed)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        while not self._stop.is_set():
            message = self._pubsub.get_message(timeout=0.2)
            if message and message["type"] == "pmessage":
                task_id = message["channel"].split(":")[2]
                self.heard.append((time.time(), task_id, message["data"]))

    def first(self, task_id: str, what: str) -> float | None:
        return next((t for t, tid, w in list(self.heard) if tid == task_id and w == what), None)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._pubsub.close()
        self._client.close()


class Bench:
    """One Redis and one warm worker (one process) for the whole run."""

    def __init__(self, tmp: Path) -> None:
        from animgraph.producer.client import Client
        from animgraph.shared.redis_server import RedisServer
        from animgraph.shared.settings import Settings
        from animgraph.workers.local import WorkerProcess, wait_for_workers

        self.tmp = tmp
        self.data_dir = tmp / "data"
        self.redis = RedisServer(tmp / "redis").start()
        self.worker = WorkerProcess(self.redis.url, self.data_dir, name="latency", concurrency=1)
        self.worker.start()
        settings = Settings(redis_url=self.redis.url, data_dir=self.data_dir)
        wait_for_workers(self.redis.url, settings, timeout_s=60)
        self.client = Client(settings)
        self.raw = redis.Redis.from_url(self.redis.url, decode_responses=True)
        self.listener = Listener(self.redis.url)
        self.definition = self.client.create_template(
            Format="gif", Fps=JOB.fps, Width=JOB.width, Name="latency"
        ).definition
        self.plans: dict[Path, dict[str, Any]] = {}  # the media job of each clip, as planned
        self.env = {
            **os.environ,
            "ANIMGRAPH_REDIS_URL": self.redis.url,
            "ANIMGRAPH_DATA_DIR": str(self.data_dir),
        }

    def close(self) -> None:
        self.listener.close()
        self.client.close()
        self.raw.close()
        self.worker.stop()
        self.redis.stop()

    def worker_cpu(self) -> float:
        return cpu_seconds(self.worker.pid)

    def step_seconds(self) -> float:
        """The media steps' seconds so far (``metrics:steps``, every format)."""
        sums = self.raw.hgetall("animgraph:metrics:steps")
        return sum(
            float(v) for k, v in sums.items() if k.endswith("|sum") and k.split("|")[0] in STEPS
        )

    def task_times(self, task_id: str) -> dict[str, float]:
        """When the procedure step began (its plans saved) and FINISH was announced."""
        found: dict[str, float] = {}
        begin = self.raw.hget(f"animgraph:task:{task_id}", "begin_ts")
        if begin:
            found["begin"] = float(begin)
        for what in ("plans", "finish", "event"):
            at = self.listener.first(task_id, what)
            if at is not None:
                found[what] = at
        return found

    def last_task(self) -> str:
        ids = self.raw.zrange("animgraph:tasks", -1, -1)
        return ids[0] if ids else ""

    def cli(self, src: Path, start: float, out: Path) -> Sample:
        """``animgraph run`` as a fresh process."""
        marks_path = self.tmp / "marks.json"
        marks_path.unlink(missing_ok=True)
        cmd = [str(Path(sys.executable).parent / "animgraph"), "run", str(src)]
        cmd += ["--format", "gif", "--fps", str(JOB.fps), "--width", str(JOB.width)]
        cmd += ["--start", f"{start:g}", "--end", f"{start + JOB.duration_s:g}"]
        cmd += ["--output", str(out)]
        env = {**self.env, TIMINGS_ENV: str(marks_path)}
        steps0, cpu0 = self.step_seconds(), self.worker_cpu()
        spawned = time.time()
        wall, cpu = run_child(cmd, env, self.tmp / "cli.log")
        exited = spawned + wall
        worker = self.worker_cpu() - cpu0
        steps = self.step_seconds() - steps0
        marks = dict(json.loads(marks_path.read_text())) if marks_path.is_file() else {}
        phases = cli_phases(spawned, exited, marks, self.task_times(self.last_task()), steps)
        return Sample(wall, cpu, worker, os.getloadavg()[0], phases)

    def api(self, src: Path, start: float) -> Sample:
        """ProcessMedia to FINISH from this process (client imported, connected, media
        registered before the clock starts)."""
        media = self.client.register_media(src)
        request = {
            "FileId": media.file_id,
            "MediaProcessTask": {
                "AnimatedGraphicTaskSet": [
                    {
                        "Definition": self.definition,
                        "StartTimeOffset": start,
                        "EndTimeOffset": start + JOB.duration_s,
                    }
                ]
            },
        }
        steps0, cpu0 = self.step_seconds(), self.worker_cpu()
        t0, wall0 = time.perf_counter(), time.time()
        task_id = self.client.process_media(request)
        enqueued = time.time()
        task = self.client.wait(task_id, timeout_s=300)
        wall = time.perf_counter() - t0
        worker = self.worker_cpu() - cpu0
        sub = task.media_process_result_set[0].animated_graphic_task
        if sub.output is None:
            raise RuntimeError(f"animgraph failed: {sub.err_code_ext} {sub.message}")
        times = self.task_times(task_id)
        phases = {"enqueue": enqueued - wall0}
        phases |= worker_phases(enqueued, wall0 + wall, times, self.step_seconds() - steps0)
        record = self.client.state.tasks.record(task_id)
        if record is not None and record.plans:
            plan = record.plans[0]
            self.plans[src] = {
                "clip": str(src),
                "start_s": plan.start_s,
                "end_s": plan.end_s,
                "width": plan.width_px,
                "height": plan.height_px,
                "fps": JOB.fps,
                "quality": plan.template.quality if plan.template else 75,
            }
        return Sample(wall, 0.0, worker, os.getloadavg()[0], phases)

    def ffmpeg(self, src: Path, start: float, out: Path) -> Sample:
        wall, cpu = run_child(ffmpeg_two_pass(src, start, out), log=self.tmp / "ffmpeg.log")
        return Sample(wall, cpu, 0.0, os.getloadavg()[0])


def media_cpu(job: dict[str, Any], runs: int) -> dict[str, float]:
    """CPU seconds of the media cores by step (decode, select, encode) run in this process on
    the job the worker planned: ``getrusage(RUSAGE_SELF)``, every thread; median of ``runs``
    after one warm run."""
    bare = importlib.import_module("bench.bare_tasks")
    steps = [("decode", bare.media_decode), ("select", bare.media_select)]
    steps.append(("encode", bare.media_encode))
    found: dict[str, list[float]] = {name: [] for name, _ in steps}
    for run in range(runs + 1):
        prev: dict[str, Any] | None = None
        for name, task in steps:
            before = resource.getrusage(resource.RUSAGE_SELF)
            prev = task.run(prev, "latency", job)
            after = resource.getrusage(resource.RUSAGE_SELF)
            if run:
                found[name].append(
                    after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
                )
        shutil.rmtree(bare.work_dir("latency"), ignore_errors=True)
    return {name: statistics.median(values) for name, values in found.items()}


def worker_phases(
    enqueued: float, returned: float, times: dict[str, float], steps_s: float
) -> dict[str, float]:
    """Queue wait, steps (media and hops) and the wait's return, from the task's times."""
    phases: dict[str, float] = {}
    begin = times.get("plans") or times.get("begin")
    done = times.get("event") or times.get("finish")
    if begin is not None:
        phases["queue wait"] = begin - enqueued
    if begin is not None and done is not None:
        phases["steps: media"] = steps_s
        phases["steps: hops"] = done - begin - steps_s
        phases["wait return"] = returned - done
    return phases


def cli_phases(
    spawned: float,
    exited: float,
    marks: dict[str, float],
    times: dict[str, float],
    steps_s: float,
) -> dict[str, float]:
    """The CLI's time by phase (seconds), from its marks and the task's times."""
    if not marks:
        return {}
    probe = marks.get("probed", 0.0) - marks.get("probe-start", 0.0)
    phases = {
        "import": marks["started"] - spawned,
        "connect": marks["connected"] - marks["started"],
        "template": marks["template"] - marks["connected"],
        "store": marks["registered"] - marks["template"] - probe,
        "probe": probe,
        "enqueue": marks["enqueued"] - marks["registered"],
    }
    phases |= worker_phases(marks["enqueued"], marks["waited"], times, steps_s)
    phases["read result"] = marks["read"] - marks["waited"]
    phases["copy-out"] = marks.get("copied", marks["read"]) - marks["read"]
    phases["exit"] = exited - marks["end"] if "end" in marks else exited - marks["read"]
    return phases


# --- the report ------------------------------------------------------------------------------


def summary(result: ClipResult) -> dict[str, float]:
    ff_wall, ff_cpu = median(result.ffmpeg, "wall_s"), median(result.ffmpeg, "cpu_s")
    cli_wall, api_wall = median(result.cli, "wall_s"), median(result.api, "wall_s")
    cli_cpu, cli_worker = median(result.cli, "cpu_s"), median(result.cli, "worker_cpu_s")
    api_worker = median(result.api, "worker_cpu_s")
    return {
        "ffmpeg_wall_s": ff_wall,
        "ffmpeg_cpu_s": ff_cpu,
        "cli_wall_s": cli_wall,
        "cli_cpu_s": cli_cpu,
        "cli_worker_cpu_s": cli_worker,
        "api_wall_s": api_wall,
        "api_worker_cpu_s": api_worker,
        "cli_wall_x": cli_wall / ff_wall if ff_wall else 0.0,
        "api_wall_x": api_wall / ff_wall if ff_wall else 0.0,
        "worker_cpu_x": api_worker / ff_cpu if ff_cpu else 0.0,
        "cli_cpu_x": cli_cpu / ff_cpu if ff_cpu else 0.0,
        "load": statistics.median(s.load for s in result.ffmpeg + result.cli + result.api),
    }


def table(results: list[ClipResult]) -> str:
    head = (
        f"{'clip':<14}{'ffmpeg s':>9}{'cpu':>6} | {'run s':>6}{'x':>6}{'cli cpu':>8}"
        f"{'wkr cpu':>8} | {'API s':>6}{'x':>6}{'wkr cpu':>8}{'x':>6} | {'load':>5}"
    )
    rows = [head, "-" * len(head)]
    for r in results:
        s = summary(r)
        rows.append(
            f"{r.clip:<14}{s['ffmpeg_wall_s']:>9.2f}{s['ffmpeg_cpu_s']:>6.2f} | "
            f"{s['cli_wall_s']:>6.2f}{s['cli_wall_x']:>6.2f}{s['cli_cpu_s']:>8.2f}"
            f"{s['cli_worker_cpu_s']:>8.2f} | {s['api_wall_s']:>6.2f}{s['api_wall_x']:>6.2f}"
            f"{s['api_worker_cpu_s']:>8.2f}{s['worker_cpu_x']:>6.2f} | {s['load']:>5.2f}"
        )
    for r in results:
        if r.media_cpu_s:
            parts = ", ".join(f"{k} {v:.2f}" for k, v in r.media_cpu_s.items())
            total = sum(r.media_cpu_s.values())
            rows.append(
                f"{r.clip} media cores' CPU in-process (s): {parts}; {total:.2f} of the "
                f"worker's {summary(r)['api_worker_cpu_s']:.2f} per API job"
            )
        phases = median_phases(r.cli)
        if phases:
            parts = ", ".join(f"{k} {v:.3f}" for k, v in phases.items())
            rows.append(f"{r.clip} CLI phases (median s): {parts}")
        phases = median_phases(r.api)
        if phases:
            parts = ", ".join(f"{k} {v:.3f}" for k, v in phases.items())
            rows.append(f"{r.clip} API phases (median s): {parts}")
    return "\n".join(rows)


def markdown(data: dict[str, Any]) -> str:
    """The section for bench/README.md, from the JSON this script writes."""
    results = [_clip_result(r) for r in data["results"]]
    runs = data["runs"]
    lines = [
        "## Command-line latency and CPU per output",
        "",
        f"`bench/latency.py` ({runs} run{'s' if runs > 1 else ''} each, median; "
        f"{data['date']}, {data['cpus']} cores, "
        f"load average {data['load_before']:.2f} before, {data['load_after']:.2f} after): "
        f"{JOB.name}, 3 s from the clip's bench start, against ffmpeg two-pass (the command of "
        "`bench/run.py`). `animgraph run` is a fresh process (the console script) with one warm "
        "worker process behind a Redis; API is `Client.process_media` to `Client.wait`'s return "
        "(FINISH) in a process with the client imported and connected. CPU: the CLI's and "
        "ffmpeg's rusage, the worker's main and pool processes from `/proc` during the job.",
        "",
        "| clip | ffmpeg s | ffmpeg CPU s | run s | run / ffmpeg | run CPU s | worker CPU s "
        "| worker / ffmpeg CPU | API s | API / ffmpeg | load |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        s = summary(r)
        lines.append(
            f"| {r.clip} | {s['ffmpeg_wall_s']:.2f} | {s['ffmpeg_cpu_s']:.2f} | "
            f"{s['cli_wall_s']:.2f} | {s['cli_wall_x']:.2f}x | {s['cli_cpu_s']:.2f} | "
            f"{s['cli_worker_cpu_s']:.2f} | {s['worker_cpu_x']:.2f}x | {s['api_wall_s']:.2f} | "
            f"{s['api_wall_x']:.2f}x | {s['load']:.2f} |"
        )
    if any(r.media_cpu_s for r in results):
        lines += [
            "",
            "Where the worker's CPU goes: the media cores alone (`bench/bare_tasks.py`'s decode, "
            "select and encode, run in the bench's process on the job the worker planned, CPU of "
            "every thread), against the worker's CPU per API job; the rest is orchestration "
            "(Celery, state, storage):",
            "",
            "| clip | decode CPU s | select CPU s | encode CPU s | media total | worker per job "
            "| ffmpeg two-pass |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for r in results:
            m, s = r.media_cpu_s, summary(r)
            lines.append(
                f"| {r.clip} | {m.get('decode', 0):.2f} | {m.get('select', 0):.2f} | "
                f"{m.get('encode', 0):.2f} | {sum(m.values()):.2f} | "
                f"{s['api_worker_cpu_s']:.2f} | {s['ffmpeg_cpu_s']:.2f} |"
            )
    names = [n for r in results for n in median_phases(r.cli)]
    names = list(dict.fromkeys(names))
    if names:
        lines += [
            "",
            "Where `animgraph run`'s time goes (median seconds; queue wait: to the procedure "
            "step's plans; steps: media is the decode, select and encode steps' own time, hops "
            "the rest to FINISH and its event; wait return: from the event to `Client.wait` "
            "returning):",
            "",
            "| clip | " + " | ".join(names) + " |",
            "|---|" + "---:|" * len(names),
        ]
        for r in results:
            phases = median_phases(r.cli)
            cells = [f"{phases[n]:.3f}" if n in phases else "" for n in names]
            lines.append(f"| {r.clip} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _clip_result(raw: dict[str, Any]) -> ClipResult:
    def samples(key: str) -> list[Sample]:
        return [Sample(**s) for s in raw[key]]

    return ClipResult(
        raw["clip"],
        raw["start_s"],
        samples("ffmpeg"),
        samples("cli"),
        samples("api"),
        raw.get("media_cpu_s", {}),
    )


# --- the run ---------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", default=",".join(DEFAULT_CLIPS), help="comma-separated")
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each way, per clip")
    parser.add_argument("--json", type=Path, help="write every sample here")
    parser.add_argument(
        "--quiet",
        type=float,
        default=0.0,
        metavar="CORES",
        help="before each run, wait (up to 30 s) until the machine's other load is below CORES",
    )
    parser.add_argument(
        "--markdown", type=Path, default=HERE / "LATENCY.md", help="the README section ('-': none)"
    )
    args = parser.parse_args()
    clips = [c.strip() for c in args.clips.split(",") if c.strip()]
    sources = {c: clip_path(c) for c in clips}
    tmp = Path(tempfile.mkdtemp(prefix="animgraph-latency-"))
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    bench = Bench(tmp)
    results = [ClipResult(c, START_S.get(c, 0.0)) for c in clips]
    try:
        for r in results:  # warm: the worker's first job, the console script's first start
            bench.api(sources[r.clip], r.start_s)
            bench.cli(sources[r.clip], r.start_s, tmp / "warm.gif")
        for run in range(args.runs):
            if args.quiet:
                wait_quiet(args.quiet, max_wait_s=30)
            for r in results:
                src = sources[r.clip]
                r.ffmpeg.append(bench.ffmpeg(src, r.start_s, tmp / "ffmpeg.gif"))
                r.cli.append(bench.cli(src, r.start_s, tmp / "cli.gif"))
                r.api.append(bench.api(src, r.start_s))
            print(f"run {run + 1}/{args.runs} done ({time.monotonic() - started:.0f} s)")
        for r in results:
            job = bench.plans.get(sources[r.clip])
            if job:
                r.media_cpu_s = media_cpu(job, args.runs)
    finally:
        bench.close()
        shutil.rmtree(tmp, ignore_errors=True)
    data = {
        "job": JOB.name,
        "runs": args.runs,
        "date": time.strftime("%Y-%m-%d"),
        "cpus": os.cpu_count(),
        "machine": platform.platform(),
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "seconds": round(time.monotonic() - started, 1),
        "results": [asdict(r) for r in results],
        "summary": {r.clip: summary(r) for r in results},
    }
    print(table(results))
    print(f"load average {load_before:.2f} before, {data['load_after']:.2f} after; "
          f"{data['seconds']:.0f} s")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(data, indent=2) + "\n")
    if str(args.markdown) != "-":
        args.markdown.write_text(markdown(data))


if __name__ == "__main__":
    main()
