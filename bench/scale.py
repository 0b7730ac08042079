"""Scale benchmark (issue 8, part 3): throughput with 1 and 2 worker processes, and the
orchestration overhead of one procedure against a bare Celery chord of the same shape.

    .venv/bin/python bench/scale.py [--procedures 40] [--samples 20] [--json out.json]

(a) Throughput: the same batch of procedures (each one GIF of a 2 s segment of city.mpg at
    10 fps, 320 px) through a warm worker of concurrency 1, then of concurrency 2, each on a
    fresh Redis; procedures per minute and their ratio (target >= 1.8x).
(b) Overhead: one procedure whose media work is trivial (0.1 s of vtest.avi at 1 fps, 128 px),
    end to end from ``process_media`` to FINISH, median of ``--samples`` on a warm worker of
    concurrency 1; against a bare chord of the same shape (``bench/bare_tasks.py``: chord of one
    chain of three no-op tasks plus a body, the project's Celery settings) on the same Redis,
    with its own worker (concurrency 1). The media work of the procedure (the decode, select and
    encode cores run in this process, warm) is measured too, so the table separates
    orchestration from media (target <= 1.5x).
(c) Scaling efficiency (issue 22, item 5): ``--efficiency-procedures`` (12) GIF procedures (3 s
    segments, 10 fps, 480 px) of a 640x480 clip (vtest.avi scaled to 640x480, H.264, made once
    with ffmpeg and cached in bench/.cache/), file storage, through one worker process, then
    N = 2 as one worker of ``--concurrency 2`` and as 2 workers of concurrency 1
    (``--efficiency-runs``); with the threads per job of the rule (``workers/media/threads.py``)
    and, as before it, fixed at 2 (``ANIMGRAPH_WORKER_THREADS=2``). From the workers' CPU time:
    the cores one process keeps busy on average (u1 = CPU / wall), the ideal speed-up
    min(cores, N * u1) / u1, the efficiency (T1 / TN) / ideal (target >= 0.95) and
    CPU-seconds per procedure.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis

from animgraph.producer import Client
from animgraph.shared.redis_server import RedisServer
from animgraph.shared.settings import Settings
from animgraph.workers.local import WorkerProcess, wait_for_workers

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
CLK_TCK = os.sysconf("SC_CLK_TCK")
POLL_S = 0.002  # completion polling, the same for animgraph and the bare chord


# --- processes ---------------------------------------------------------------------------------


@dataclass
class Cluster:
    tmp: Path
    redis: RedisServer
    settings: Settings
    worker: WorkerProcess | None = None
    client: Client | None = None

    def start_worker(self, concurrency: int) -> WorkerProcess:
        worker = WorkerProcess(
            self.redis.url, self.tmp, name=f"scale-c{concurrency}", concurrency=concurrency
        ).start()
        wait_for_workers(self.redis.url, self.settings)
        self.worker = worker
        return worker

    def stop_worker(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker = None


@contextmanager
def cluster() -> Iterator[Cluster]:
    """A fresh Redis (and data folder) with a client; workers are started by the caller."""
    tmp = Path(tempfile.mkdtemp(prefix="animgraph-scale-"))
    redis_server = RedisServer(tmp / "redis", appendonly=True).start()
    settings = Settings(redis_url=redis_server.url, data_dir=tmp)
    c = Cluster(tmp, redis_server, settings)
    try:
        c.client = Client(settings)
        yield c
    finally:
        c.stop_worker()
        if c.client is not None:
            c.client.close()
        redis_server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def cpu_seconds(pid: int) -> float:
    """CPU time of a process, its live children and its reaped children, in seconds."""
    total = 0.0
    pids = [pid, *_children(pid)]
    for k, proc in enumerate(pids):
        try:
            fields = Path(f"/proc/{proc}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks = int(fields[11]) + int(fields[12])  # utime, stime
        if k == 0:
            ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
        total += ticks / CLK_TCK
    return total


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def machine_busy() -> tuple[float, float]:
    """Busy and total CPU seconds of the whole machine so far, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    total = sum(fields) / CLK_TCK
    idle = (fields[3] + fields[4]) / CLK_TCK  # idle, iowait
    return total - idle, total


def busy_cores(since: tuple[float, float]) -> float:
    busy, total = machine_busy()
    return (busy - since[0]) / max(1e-9, total - since[1]) * (os.cpu_count() or 1)


def wait_quiet(limit_cores: float = 0.3, max_wait_s: float = 120.0) -> float:
    """Wait (up to ``max_wait_s``) until the machine is nearly idle: this machine is shared, and
    another process's load would be measured as ours. Returns the last load seen, in cores."""
    deadline = time.monotonic() + max_wait_s
    while True:
        since = machine_busy()
        time.sleep(1.0)
        load = busy_cores(since)
        if load <= limit_cores or time.monotonic() > deadline:
            return load


def own_cpu(*pids: int) -> float:
    """CPU seconds of this process and the given ones (the benchmark's own Redis)."""
    times = os.times()
    total = times.user + times.system
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLK_TCK
        except OSError:
            pass
    return total


def wait_finished(client: Client, task_ids: list[str], poll_s: float, timeout_s: float) -> None:
    pending = list(task_ids)
    deadline = time.monotonic() + timeout_s
    while pending:
        pending = [t for t in pending if (client.state.tasks.activity(t) or ("",))[0] != "FINISH"]
        if not pending:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(pending)} procedures not finished in {timeout_s:.0f} s")
        time.sleep(poll_s)


def check_success(client: Client, task_ids: list[str]) -> None:
    for task_id in task_ids:
        task = client.describe_task_detail(task_id).procedure_task
        for result in task.media_process_result_set:
            sub = result.animated_graphic_task
            if sub.status != "SUCCESS":
                raise RuntimeError(f"{task_id}: subtask {sub.status} {sub.err_code_ext}")


# --- (a) throughput ----------------------------------------------------------------------------


def throughput(concurrency: int, procedures: int, clip: Path) -> dict[str, float]:
    with cluster() as c:
        client = c.client
        assert client is not None
        worker = c.start_worker(concurrency)
        file_id = client.register_media(clip).file_id
        definition = client.create_animated_graphics_template(
            {"Format": "gif", "Fps": 10, "Width": 320}
        ).definition

        def request(n: int) -> dict[str, Any]:
            start = float(n % 5)
            return {
                "FileId": file_id,
                "MediaProcessTask": {
                    "AnimatedGraphicTaskSet": [
                        {
                            "Definition": definition,
                            "StartTimeOffset": start,
                            "EndTimeOffset": start + 2,
                        }
                    ]
                },
            }

        warm = [client.process_media(request(n)) for n in range(2 * concurrency)]
        wait_finished(client, warm, 0.05, 300)
        idle_load = wait_quiet()
        redis_pid = c.redis._proc.pid if c.redis._proc else 0  # no public pid
        cpu0, own0, machine0 = cpu_seconds(worker.pid), own_cpu(redis_pid), machine_busy()
        started = time.monotonic()
        ids = [client.process_media(request(n)) for n in range(procedures)]
        wait_finished(client, ids, 0.05, 600)
        elapsed = time.monotonic() - started
        cpu = cpu_seconds(worker.pid) - cpu0
        machine = busy_cores(machine0)
        own = (own_cpu(redis_pid) - own0) / elapsed
        check_success(client, ids)
    return {
        "concurrency": concurrency,
        "procedures": procedures,
        "seconds": elapsed,
        "per_min": procedures / elapsed * 60,
        "worker_cores": cpu / elapsed,
        "bench_redis_cores": own,
        "other_cores": max(0.0, machine - cpu / elapsed - own),
        "load_before": idle_load,
    }


# --- (b) orchestration overhead ----------------------------------------------------------------


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def _interleaved(
    runs: dict[str, Callable[[], None]], samples: int, warmup: int = 3
) -> dict[str, list[float]]:
    """Time each of ``runs`` once per round, ``samples`` rounds after ``warmup`` untimed ones;
    a pause after each run lets the workers go idle, as between independent requests."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for round_ in range(warmup + samples):
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            if round_ >= warmup:
                times[name].append(time.perf_counter() - started)
            time.sleep(0.05)
    return times


def media_runner(bare: Any, job: dict[str, Any]) -> Callable[[], None]:
    """The procedure's media work alone, in this process: the bare media pipeline's three steps
    (decode, select and encode cores) called directly, without Celery."""

    def run() -> None:
        step = bare.media_decode.run(None, "in-process", job)
        step = bare.media_select.run(step, "in-process", job)
        bare.media_encode.run(step, "in-process", job)
        shutil.rmtree(bare.work_dir("in-process"), ignore_errors=True)

    return run


def overhead(samples: int, clip: Path) -> dict[str, Any]:
    """Interleaved samples, so that drift in the machine's load hits every figure alike: per
    round one animgraph procedure, one bare chord, one bare dispatch + chord and one run of the
    media cores, with both workers (animgraph's and the bare one) up and idle in between."""
    wait_quiet()
    with cluster() as c:
        client = c.client
        assert client is not None
        c.start_worker(1)
        file_id = client.register_media(clip).file_id
        definition = client.create_animated_graphics_template(
            {"Format": "gif", "Fps": 1, "Width": 128}
        ).definition
        request = {
            "FileId": file_id,
            "MediaProcessTask": {
                "AnimatedGraphicTaskSet": [
                    {"Definition": definition, "StartTimeOffset": 1.0, "EndTimeOffset": 1.1}
                ]
            },
        }
        ids: list[str] = []

        def one_procedure() -> None:
            task_id = client.process_media(request)
            ids.append(task_id)
            wait_finished(client, [task_id], POLL_S, 60)

        one_procedure()  # the plan, for the media run below
        record = client.state.tasks.record(ids[-1])
        assert record is not None
        plan = record.plans[0]

        # The bare chord, same Redis, its own worker with the same settings, up beside ours.
        os.environ["ANIMGRAPH_REDIS_URL"] = c.redis.url
        bare = importlib.import_module("bench.bare_tasks")
        env = {**os.environ, "PYTHONPATH": str(ROOT), "ANIMGRAPH_REDIS_URL": c.redis.url}
        log = open(c.tmp / "bare.log", "ab")  # noqa: SIM115 - handed to the child process
        args = [sys.executable, "-m", "celery", "-A", "bench.bare_tasks", "worker",
                "-Q", bare.BARE_QUEUE, "-c", "1", "-P", "prefork", "-E", "-n", "bare@%h",
                "-l", "warning"]  # fmt: skip
        proc = subprocess.Popen(args, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        try:
            wait_for_workers(c.redis.url, c.settings)
            runs = [0]
            raw = redis.Redis.from_url(c.redis.url)  # the bare chord's own keys

            def run_bare(send: Callable[[str], None]) -> Callable[[], None]:
                def run() -> None:
                    runs[0] += 1
                    run_id = f"r{runs[0]}"
                    send(run_id)
                    key = bare.done_key(run_id)
                    deadline = time.monotonic() + 60
                    while not raw.exists(key):
                        if time.monotonic() > deadline:
                            raise TimeoutError("bare chord did not finish; see bare.log")
                        time.sleep(POLL_S)

                return run

            job = {
                "clip": str(clip),
                "start_s": plan.start_s,
                "end_s": plan.end_s,
                "width": plan.width_px,
                "height": plan.height_px,
                "fps": plan.template.fps,
                "quality": plan.template.quality,
            }
            contestants = {
                "animgraph": one_procedure,
                "bare_chord": run_bare(lambda r: bare.bare_chord(r).apply_async().forget()),
                "bare_dispatch": run_bare(
                    lambda r: bare.dispatch.apply_async((r,), ignore_result=True)
                ),
                "media": media_runner(bare, job),
                "bare_media_dispatch": run_bare(
                    lambda r: bare.media_dispatch.apply_async((r, job), ignore_result=True)
                ),
            }
            times = _interleaved(contestants, samples)
        finally:
            proc.terminate()
            proc.wait(30)
            bare.app.close()
        check_success(client, ids)
    return {
        "samples": samples,
        "animgraph_ms": _median_ms(times["animgraph"]),
        "animgraph_p90_ms": statistics.quantiles(times["animgraph"], n=10)[-1] * 1000,
        "media_ms": _median_ms(times["media"]),
        "bare_chord_ms": _median_ms(times["bare_chord"]),
        "bare_dispatch_ms": _median_ms(times["bare_dispatch"]),
        "bare_media_dispatch_ms": _median_ms(times["bare_media_dispatch"]),
        "plan": {"width": plan.width_px, "height": plan.height_px, "fps": plan.template.fps},
    }


# --- (c) scaling efficiency --------------------------------------------------------------------

CACHE = ROOT / "bench" / ".cache"
EFFICIENCY_CLIP = CACHE / "vtest-640x480.mp4"
EFFICIENCY_TARGET = 0.95
# The worker setting the "before" rows use: the thread counts the tree had before the rule (two
# GIF coder threads, two WebP runs, FFmpeg's own decode thread count) on every pool process.
BEFORE_THREADS = "2"
# Rounds in which other processes used at most this many cores count as quiet (summarised apart:
# on a shared machine another's load is taken from the workers' wall time).
QUIET_CORES = 0.25
# Each round: one process and one worker of -c 2 by the rule and as before (threads fixed at
# 2), two workers of -c 1 on one host (each takes every core by the rule: they do not know of
# each other) and the same with ANIMGRAPH_WORKER_THREADS=1, as the README advises.
EFFICIENCY_RUNS = "rule:1x1,rule:1x2,2:1x1,2:1x2,rule:2x1,1:2x1"


def clip_640x480() -> Path:
    """vtest.avi (768x576, 10 fps, 6 s) scaled to 640x480, H.264 (made once, cached)."""
    if EFFICIENCY_CLIP.is_file():
        return EFFICIENCY_CLIP
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = EFFICIENCY_CLIP.with_suffix(".tmp.mp4")
    subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-y", "-i", str(DATA / "vtest.avi"),
         "-vf", "scale=640:480:flags=lanczos", "-c:v", "libx264", "-preset", "fast", "-crf", "18",
         "-pix_fmt", "yuv420p", "-an", str(tmp)],
        check=True,
    )  # fmt: skip
    tmp.replace(EFFICIENCY_CLIP)
    return EFFICIENCY_CLIP


@dataclass(frozen=True)
class Layout:
    """``workers`` ``animgraph worker`` processes of ``concurrency`` pool processes each."""

    workers: int
    concurrency: int

    @property
    def processes(self) -> int:
        return self.workers * self.concurrency

    @property
    def label(self) -> str:
        return f"{self.workers} worker{'s' if self.workers > 1 else ''} x -c {self.concurrency}"


def wait_for_n_workers(redis_url: str, settings: Settings, n: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while wait_for_workers(redis_url, settings, timeout_s=timeout_s) < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"fewer than {n} workers answered in {timeout_s:.0f} s")
        time.sleep(0.2)


def reported_threads(log: Path) -> int | None:
    """The threads per job a worker's startup line reports (``threads per job: N (...)``)."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return None
    found = re.findall(r"threads per job: (\d+)", text)
    return int(found[-1]) if found else None


def efficiency_round(
    layout: Layout, threads: str | None, procedures: int, clip: Path, quiet_s: float
) -> dict[str, Any]:
    """One timed batch of ``procedures`` GIF procedures through ``layout``, warm workers, a
    fresh Redis; ``threads``: ANIMGRAPH_WORKER_THREADS for the workers (None: the rule)."""
    env = {} if threads is None else {"ANIMGRAPH_WORKER_THREADS": threads}
    with cluster() as c:
        client = c.client
        assert client is not None
        workers = [
            WorkerProcess(
                c.redis.url, c.tmp, name=f"eff{k}-c{layout.concurrency}",
                concurrency=layout.concurrency, env=env,
            ).start()
            for k in range(layout.workers)
        ]  # fmt: skip
        try:
            wait_for_n_workers(c.redis.url, c.settings, layout.workers)
            file_id = client.register_media(clip).file_id
            definition = client.create_animated_graphics_template(
                {"Format": "gif", "Fps": 10, "Width": 480}
            ).definition

            def request(n: int) -> dict[str, Any]:
                start = float(n % 4)  # 0..3 s of the 6 s clip
                task = {"Definition": definition, "StartTimeOffset": start,
                        "EndTimeOffset": start + 3}  # fmt: skip
                return {"FileId": file_id, "MediaProcessTask": {"AnimatedGraphicTaskSet": [task]}}

            warm = [client.process_media(request(n)) for n in range(2 * layout.processes)]
            wait_finished(client, warm, 0.05, 300)
            idle_load = wait_quiet(max_wait_s=quiet_s)
            redis_pid = c.redis._proc.pid if c.redis._proc else 0  # no public pid
            cpu0 = sum(cpu_seconds(w.pid) for w in workers)
            own0, machine0 = own_cpu(redis_pid), machine_busy()
            load0 = os.getloadavg()[0]
            started = time.monotonic()
            ids = [client.process_media(request(n)) for n in range(procedures)]
            wait_finished(client, ids, 0.01, 600)
            elapsed = time.monotonic() - started
            cpu = sum(cpu_seconds(w.pid) for w in workers) - cpu0
            machine = busy_cores(machine0)
            own = (own_cpu(redis_pid) - own0) / elapsed
            check_success(client, ids)
            reported = {reported_threads(w.log_path) for w in workers}
        finally:
            for w in workers:
                w.stop()
    return {
        "threads_setting": threads,
        "threads_per_job": reported.pop() if len(reported) == 1 else None,
        "workers": layout.workers,
        "concurrency": layout.concurrency,
        "processes": layout.processes,
        "procedures": procedures,
        "seconds": elapsed,
        "worker_cpu_s": cpu,
        "worker_cores": cpu / elapsed,
        "cpu_s_per_procedure": cpu / procedures,
        "bench_redis_cores": own,
        "other_cores": max(0.0, machine - cpu / elapsed - own),
        "load_before": idle_load,
        "loadavg_1m": [load0, os.getloadavg()[0]],
    }


def efficiency_summary(
    rows: list[dict[str, Any]], cores: int, quiet: float | None = None
) -> list[dict[str, Any]]:
    """Per threads setting and layout, the median round, against one process of the rule (a
    job with every core; the 1-process rows of any setting that gave the same threads per job
    count too): u1 = CPU / wall of one process, ideal = min(cores, N u1) / u1, efficiency =
    (T1 / TN) / ideal; CPU per procedure against one process's (oversubscription costs CPU).
    ``quiet``: only the rounds in which other processes used at most that many cores."""
    if quiet is not None:
        rows = [r for r in rows if r["other_cores"] <= quiet]
    single = [r for r in rows if r["processes"] == 1]
    rule = [r for r in single if r["threads_setting"] is None] or single
    if not rule:
        return []
    base = [r for r in single if r["threads_per_job"] == rule[0]["threads_per_job"]]
    t1 = statistics.median(r["seconds"] for r in base)
    cpu1 = statistics.median(r["worker_cpu_s"] for r in base)
    u1 = cpu1 / t1
    out: list[dict[str, Any]] = []
    keys = sorted({(r["threads_setting"] or "", r["workers"], r["concurrency"]) for r in rows})
    for setting, workers, conc in keys:
        same = [r for r in rows if ((r["threads_setting"] or ""), r["workers"], r["concurrency"])
                == (setting, workers, conc)]  # fmt: skip
        n = workers * conc
        tn = statistics.median(r["seconds"] for r in same)
        cpun = statistics.median(r["worker_cpu_s"] for r in same)
        ideal = min(cores, n * u1) / u1
        out.append({
            "threads_setting": setting or "rule",
            "threads_per_job": same[0]["threads_per_job"],
            "layout": Layout(workers, conc).label,
            "processes": n,
            "rounds": len(same),
            "seconds": tn,
            "seconds_all": [round(r["seconds"], 2) for r in same],
            "cores_used": cpun / tn,
            "cpu_s_per_procedure": cpun / same[0]["procedures"],
            "cpu_vs_one_process": cpun / cpu1,
            "speedup": t1 / tn,
            "ideal": ideal,
            "efficiency": (t1 / tn) / ideal,
            "other_cores": statistics.median(r["other_cores"] for r in same),
            "loadavg_1m": [r["loadavg_1m"][0] for r in same],
        })  # fmt: skip
    return out


def parse_runs(text: str) -> list[tuple[str | None, Layout]]:
    """``rule:1x1,2:1x2,1:2x1``: ANIMGRAPH_WORKER_THREADS (``rule``: unset), workers x
    concurrency."""
    runs: list[tuple[str | None, Layout]] = []
    for item in text.split(","):
        setting, _, layout = item.strip().partition(":")
        workers, _, conc = layout.partition("x")
        runs.append((None if setting == "rule" else setting, Layout(int(workers), int(conc))))
    return runs


def efficiency(
    procedures: int, rounds: int, runs: list[tuple[str | None, Layout]], quiet_s: float
) -> dict[str, Any]:
    clip = clip_640x480()
    rows = []
    for round_ in range(rounds):
        for threads, layout in runs:
            row = efficiency_round(layout, threads, procedures, clip, quiet_s)
            row["round"] = round_
            rows.append(row)
            print(
                f"  round {round_}, threads {threads or 'rule'}, {layout.label}: "
                f"{row['seconds']:.2f} s, {row['worker_cores']:.2f} cores, "
                f"{row['cpu_s_per_procedure']:.3f} CPU s/procedure, threads per job "
                f"{row['threads_per_job']}, other {row['other_cores']:.2f} cores, load "
                f"{row['loadavg_1m'][0]:.2f}",
                flush=True,
            )
    cores = len(os.sched_getaffinity(0))
    return {"cores": cores, "clip": EFFICIENCY_CLIP.name, "rows": rows,
            "summary": efficiency_summary(rows, cores),
            "quiet_cores": QUIET_CORES,
            "summary_quiet": efficiency_summary(rows, cores, QUIET_CORES)}  # fmt: skip


def _media_jobs(clip: Path, threads: int, jobs: int) -> None:
    """In a forked child: ``jobs`` GIF jobs' media work (decode, select, encode) at ``threads``
    threads per job, as a pool process runs them."""
    from animgraph.workers.media import threads as job_threads
    from animgraph.workers.media.decode import decode_segment
    from animgraph.workers.media.gif import encode_gif
    from animgraph.workers.media.select import select_frames

    job_threads.configure(1, threads)
    for k in range(jobs):
        folder = Path(tempfile.mkdtemp(prefix="animgraph-media-cpu-"))
        start = float(k % 4)
        frames = decode_segment(
            clip, folder / "f", start_s=start, end_s=start + 3, width=480, height=360, fps=10
        )
        selection = select_frames(frames.pts_s, start_s=start, end_s=start + 3, fps=10)
        encode_gif(frames, selection, folder / "o.gif", quality=75)
        shutil.rmtree(folder, ignore_errors=True)


def media_cpu(rounds: int, jobs: int = 3) -> dict[str, Any]:
    """CPU-seconds per job of the media work alone, with P processes at once of T threads per
    job ((1, 2): one process, as the rule; (2, 1): -c 2 by the rule; (2, 2): -c 2 before it),
    the modes interleaved round by round so that another's load hits each alike."""
    clip = clip_640x480()
    _media_jobs(clip, 2, 1)  # imports and warms up here: the children inherit it
    modes = [(1, 2), (2, 1), (2, 2)]
    cpu: dict[tuple[int, int], list[float]] = {m: [] for m in modes}
    for _ in range(rounds):
        for processes, threads in modes:
            before = os.times()
            children = []
            for _ in range(processes):
                pid = os.fork()
                if pid == 0:  # pragma: no cover - the child
                    try:
                        _media_jobs(clip, threads, jobs)
                    finally:
                        os._exit(0)
                children.append(pid)
            for pid in children:
                os.waitpid(pid, 0)
            after = os.times()
            used = (after.children_user - before.children_user) + (
                after.children_system - before.children_system
            )
            cpu[(processes, threads)].append(used / (processes * jobs))
    rows = [
        {"processes": p, "threads": t, "cpu_s_per_job": statistics.median(cpu[(p, t)]),
         "all": [round(x, 3) for x in cpu[(p, t)]]}
        for p, t in modes
    ]  # fmt: skip
    return {
        "jobs_per_process": jobs,
        "rounds": rounds,
        "modes": rows,
        "loadavg_1m": os.getloadavg()[0],
    }


def print_efficiency(e: dict[str, Any], procedures: int) -> None:
    print(
        f"\n(c) scaling efficiency: {procedures} GIF procedures of 3 s of {e['clip']} (640x480), "
        f"10 fps, 480 px, file storage, {e['cores']} cores; median of rounds"
    )
    _efficiency_table(e["summary"])
    print(f"\nthe same, rounds with other load <= {e['quiet_cores']} cores only:")
    _efficiency_table(e["summary_quiet"])


def _efficiency_table(summary: list[dict[str, Any]]) -> None:
    print(
        "| threads setting | threads per job | layout | T s | cores used | CPU s/procedure "
        "| CPU vs 1 process | speed-up | ideal | efficiency | other load (cores) | load avg 1 min |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for s in summary:
        ok = "" if s["processes"] == 1 else f" ({verdict(s['efficiency'] >= EFFICIENCY_TARGET)})"
        loads = "/".join(f"{x:.1f}" for x in s["loadavg_1m"])
        print(
            f"| {s['threads_setting']} | {s['threads_per_job']} | {s['layout']} "
            f"| {s['seconds']:.2f} | {s['cores_used']:.2f} | {s['cpu_s_per_procedure']:.3f} "
            f"| {s['cpu_vs_one_process']:.2f} | {s['speedup']:.2f} | {s['ideal']:.2f} "
            f"| {s['efficiency']:.3f}{ok} | {s['other_cores']:.2f} | {loads} |"
        )


# --- report ------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "meets" if ok else "MISSES"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--procedures", type=int, default=40)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2, help="throughput rounds (1, 2, 1, 2)")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-overhead", action="store_true")
    parser.add_argument("--skip-efficiency", action="store_true")
    parser.add_argument("--only-efficiency", action="store_true", help="(c) alone")
    parser.add_argument(
        "--media-cpu-rounds", type=int, default=5, help="(c) media work CPU per job; 0: skip"
    )
    parser.add_argument("--efficiency-procedures", type=int, default=12)
    parser.add_argument("--efficiency-rounds", type=int, default=3)
    parser.add_argument(
        "--efficiency-runs",
        default=EFFICIENCY_RUNS,
        help="per round, setting:WORKERSxCONCURRENCY (setting: ANIMGRAPH_WORKER_THREADS, "
        "'rule' for unset; 2 is the count before the rule)",
    )
    parser.add_argument(
        "--efficiency-quiet-s", type=float, default=20.0, help="longest wait for an idle machine"
    )
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    parser.add_argument(
        "--markdown", type=Path, help="(c): write its tables here (bench/EFFICIENCY.md)"
    )
    args = parser.parse_args()
    results: dict[str, Any] = {"cores": os.cpu_count()}
    if args.only_efficiency:
        args.skip_throughput = args.skip_overhead = True
        args.skip_efficiency = False

    if not args.skip_throughput:
        clip = DATA / "city.mpg"
        rows = [throughput(n, args.procedures, clip) for _ in range(args.rounds) for n in (1, 2)]
        best = {n: max(r["per_min"] for r in rows if r["concurrency"] == n) for n in (1, 2)}
        ratio = best[2] / best[1]
        results["throughput"] = {"rows": rows, "best_per_min": best, "ratio": ratio}
        print(
            f"\n(a) throughput: {args.procedures} procedures, GIF 2 s of city.mpg, 10 fps, 320 px"
        )
        print(
            "| worker processes | seconds | procedures/min | worker cores busy "
            "| bench+Redis cores | other load (cores) |"
        )
        print("|---|---|---|---|---|---|")
        for row in rows:
            print(
                f"| {row['concurrency']} | {row['seconds']:.1f} | {row['per_min']:.1f} "
                f"| {row['worker_cores']:.2f} | {row['bench_redis_cores']:.2f} "
                f"| {row['other_cores']:.2f} |"
            )
        print(
            f"ratio 2 vs 1 (best round each): {best[2]:.1f} / {best[1]:.1f} = {ratio:.2f}x "
            f"(target >= 1.8x: {verdict(ratio >= 1.8)})",
            flush=True,
        )

    if not args.skip_overhead:
        o = overhead(args.samples, DATA / "vtest.avi")
        results["overhead"] = o
        a, m, b, d = o["animgraph_ms"], o["media_ms"], o["bare_chord_ms"], o["bare_dispatch_ms"]
        bm = o["bare_media_dispatch_ms"]
        p = o["plan"]
        print(
            f"\n(b) orchestration overhead: 0.1 s of vtest.avi, GIF {p['fps']} fps "
            f"{p['width']}x{p['height']}, median of {o['samples']} interleaved rounds, "
            "warm workers (concurrency 1)"
        )
        p90 = o["animgraph_p90_ms"]
        print("| measured | median ms |")
        print("|---|---|")
        print(f"| animgraph procedure, process_media to FINISH | {a:.1f} (p90 {p90:.1f}) |")
        print(f"| bare dispatch + chord doing the same media work in its steps | {bm:.1f} |")
        print(f"| its media work alone (decode+select+encode cores, bench process) | {m:.1f} |")
        print(f"| bare chord, chord([chain(3 no-ops)], body) | {b:.1f} |")
        print(f"| bare dispatch task + that chord (the procedure's shape) | {d:.1f} |")
        ratios = {
            # animgraph's orchestration = the bare shape's own + what animgraph adds over a
            # hand-written pipeline doing the same media work (the media cancels exactly).
            "orchestration: (bare dispatch+chord + animgraph - bare media) / bare dispatch+chord": (
                d + a - bm
            )
            / d,
            "orchestration: (animgraph - media) / bare dispatch+chord": (a - m) / d,
            "orchestration: (animgraph - media) / bare chord": (a - m) / b,
            "end to end: animgraph / bare media dispatch+chord": a / bm,
            "end to end: animgraph / (bare chord + media)": a / (b + m),
        }
        print("| ratio | value | target <= 1.5x |")
        print("|---|---|---|")
        for label, value in ratios.items():
            print(f"| {label} | {value:.2f}x | {verdict(value <= 1.5)} |")
        results["overhead"]["ratios"] = ratios

    if not args.skip_efficiency:
        e = efficiency(
            args.efficiency_procedures, args.efficiency_rounds,
            parse_runs(args.efficiency_runs), args.efficiency_quiet_s,
        )  # fmt: skip
        results["efficiency"] = e
        print_efficiency(e, args.efficiency_procedures)
        if args.markdown:
            text = io.StringIO()
            with contextlib.redirect_stdout(text):
                print("## Scaling efficiency (`bench/scale.py --only-efficiency`)")
                print_efficiency(e, args.efficiency_procedures)
            args.markdown.write_text(text.getvalue())
        if args.media_cpu_rounds:
            m = media_cpu(args.media_cpu_rounds)
            results["efficiency"]["media_cpu"] = m
            print(
                f"\nmedia work alone (decode, select, GIF encode in forked processes, "
                f"{m['jobs_per_process']} jobs each, median of {m['rounds']} interleaved rounds, "
                f"load average {m['loadavg_1m']:.1f}):"
            )
            print("| processes at once | threads per job | CPU s/job |")
            print("|---|---|---|")
            for row in m["modes"]:
                print(f"| {row['processes']} | {row['threads']} | {row['cpu_s_per_job']:.3f} |")

    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
