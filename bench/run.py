"""Benchmark: animgraph against the reference tools on the same jobs, in one run.

``make bench`` (after ``bench/setup.sh``) runs every job on every clip through

- animgraph: through the queue (``Client``: register, ProcessMedia, wait, copy the output) to a
  warm worker (one embedded Redis and one ``animgraph worker`` started once for the run), at the
  default template Quality and, untimed, at a sweep of Qualities for the size/quality curve;
- ffmpeg two-pass (palettegen stats_mode=diff + paletteuse sierra2_4a diff_mode=rectangle),
  ffmpeg one-pass, gifsicle -O3 and -O3 --lossy=80 on the two-pass output, gifski --quality 90
  and --fast on PNG frames extracted by ffmpeg (GIF jobs);
- ffmpeg libwebp_anim -q 75 and img2webp -lossy -q 75 on frames extracted by ffmpeg (WebP jobs);

then measures every output against the source (``bench/metrics.py``), writes ``results.json``,
the table in ``bench/README.md`` and one size/quality plot per job in ``bench/plots/``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from animgraph.workers.media.geometry import output_size
from animgraph.workers.media.probe import probe
from bench import metrics, report
from bench.corpus import CLIPS, FIRST, clip_path

HERE = Path(__file__).resolve().parent
TOOLS = HERE / ".tools"
WORK = HERE / ".work"
RESULTS = HERE / "results.json"

DEFAULT_QUALITY = 75  # the default template Quality (shared.models)
SWEEP = (10, 25, 40, 55, 65, 75, 85, 95, 100)  # --full
# The default run (about 17 minutes on 2 cores): one timed run, a shorter sweep, and a shorter
# one still on the 1280 px job, where each point costs an encode and FLIP on 1280x720 frames.
DEFAULT_RUNS = 1
FULL_RUNS = 3
DEFAULT_SWEEP = (10, 30, 40, 60, 85, 90, 100)


@dataclass(frozen=True)
class Job:
    name: str
    fmt: str
    fps: int
    width: int
    duration_s: float
    clips: tuple[str, ...]
    default_sweep: tuple[int, ...] = DEFAULT_SWEEP
    asked_width: int = 0  # the template Width animgraph is given (0: ``width``)

    @property
    def template_width(self) -> int:
        return self.asked_width or self.width


ALL_CLIPS = tuple(clip.name for clip in CLIPS)
START_S = {clip.name: clip.start_s for clip in CLIPS}
# The two jobs a new user tries first run on every clip; the others on the first three. The
# Quality sweep and the search for the Quality beating each tool run on the first three only
# (on the others: the default Quality against the reference tools).
JOBS = (
    Job("gif-10fps-480px-3s", "gif", 10, 480, 3.0, ALL_CLIPS),
    Job("gif-15fps-320px-5s", "gif", 15, 320, 5.0, FIRST),
    Job("webp-15fps-480px-3s", "webp", 15, 480, 3.0, ALL_CLIPS),
    Job("gif-24fps-1280px-4s", "gif", 24, 1280, 4.0, ("cockatoo.mp4",), (40, 90)),
)
BASELINE = {"gif": "ffmpeg two-pass", "webp": "ffmpeg libwebp_anim q75"}


@dataclass
class Result:
    job: str
    clip: str
    contestant: str
    quality_setting: float | None
    times_s: list[float]
    peak_rss_mb: float
    bytes: int
    flip: float = 0.0
    ssim: float = 0.0
    flicker: float = 0.0
    checks: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    timed: bool = True
    idle_rss_mb: float = 0.0  # animgraph: the pool process's RSS before the job

    @property
    def time_s(self) -> float:
        return statistics.median(self.times_s) if self.times_s else 0.0


# --- processes ---------------------------------------------------------------------------------


def run_cmd(args: list[str], cwd: Path | None = None) -> float:
    """Run a command; return its peak RSS in MB, from GNU time.

    Not from our own wait4(): a child forked from this (large) Python process inherits its
    high-water mark across exec, so every tool would report at least our RSS.
    """
    with tempfile.NamedTemporaryFile("r") as rss, tempfile.TemporaryFile() as err:
        cmd = ["/usr/bin/time", "-f", "%M", "-o", rss.name, *args]
        proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err, check=False)
        if proc.returncode:
            err.seek(0)
            raise RuntimeError(f"{args[0]} failed ({proc.returncode}): {err.read().decode()}")
        return int(rss.read().split()[-1]) / 1024


def ffmpeg_in(src: Path, start: float, duration: float) -> list[str]:
    return ["ffmpeg", "-v", "error", "-nostdin", "-y", "-ss", f"{start:g}", "-t", f"{duration:g}",
            "-i", str(src)]  # fmt: skip


def scale(job: Job) -> str:
    return f"fps={job.fps},scale={job.width}:-1:flags=lanczos"


@dataclass
class Ctx:
    job: Job
    src: Path
    start: float
    out: Path
    tmp: Path


Runner = Callable[[Ctx], float]


def ff_two_pass(c: Ctx) -> float:
    graph = (
        f"[0:v]{scale(c.job)},split[a][b];[a]palettegen=stats_mode=diff[p];"
        "[b][p]paletteuse=dither=sierra2_4a:diff_mode=rectangle"
    )
    cmd = [*ffmpeg_in(c.src, c.start, c.job.duration_s), "-filter_complex", graph, "-loop", "0"]
    return run_cmd([*cmd, str(c.out)])


def ff_one_pass(c: Ctx) -> float:
    cmd = [*ffmpeg_in(c.src, c.start, c.job.duration_s), "-vf", scale(c.job), "-loop", "0"]
    return run_cmd([*cmd, str(c.out)])


def extract(c: Ctx, ext: str) -> tuple[float, list[Path]]:
    frames = c.tmp / f"frames-{ext}"
    shutil.rmtree(frames, ignore_errors=True)
    frames.mkdir(parents=True)
    cmd = [*ffmpeg_in(c.src, c.start, c.job.duration_s), "-vf", scale(c.job)]
    rss = run_cmd([*cmd, str(frames / f"f%05d.{ext}")])
    return rss, sorted(frames.iterdir())


def gifski(*flags: str) -> Runner:
    def runner(c: Ctx) -> float:
        rss, files = extract(c, "png")
        cmd = [
            str(TOOLS / "gifski"),
            *flags,
            "--fps",
            str(c.job.fps),
            "--width",
            str(c.job.template_width),
        ]
        cmd += ["--quiet", "-o", str(c.out), *map(str, files)]
        return max(rss, run_cmd(cmd))

    return runner


def ff_webp(c: Ctx) -> float:
    cmd = [*ffmpeg_in(c.src, c.start, c.job.duration_s), "-vf", scale(c.job)]
    cmd += ["-c:v", "libwebp_anim", "-q:v", "75", "-loop", "0", str(c.out)]
    return run_cmd(cmd)


def img2webp(c: Ctx) -> float:
    # PPM, not PNG: ffmpeg's PNGs carry a gAMA chunk that libwebp applies (too bright).
    rss, files = extract(c, "ppm")
    cmd = ["img2webp", "-o", str(c.out), "-loop", "0", "-lossy", "-q", "75"]
    for k, f in enumerate(files):  # millisecond delays with the rounding carried forward
        ms = round((k + 1) * 1000 / c.job.fps) - round(k * 1000 / c.job.fps)
        cmd += ["-d", str(ms), str(f)]
    return max(rss, run_cmd(cmd))


def gifsicle(*flags: str) -> Callable[[Path, Path], float]:
    def post(src_gif: Path, out: Path) -> float:
        return run_cmd(["gifsicle", "-O3", *flags, str(src_gif), "-o", str(out)])

    return post


GIF_TOOLS: dict[str, Runner] = {
    "ffmpeg two-pass": ff_two_pass,
    "ffmpeg one-pass": ff_one_pass,
    "gifski q90": gifski("--quality", "90"),
    "gifski --fast": gifski("--fast"),
}
GIF_POST = {
    "gifsicle -O3": gifsicle(),
    "gifsicle -O3 --lossy=80": gifsicle("--lossy=80"),
}
WEBP_TOOLS: dict[str, Runner] = {
    "ffmpeg libwebp_anim q75": ff_webp,
    "img2webp -lossy q75": img2webp,
}


# --- animgraph ---------------------------------------------------------------------------------


class Animgraph:
    """One embedded Redis and one warm worker (1 process) for the whole run."""

    def __init__(self, workdir: Path) -> None:
        from animgraph.producer.client import Client
        from animgraph.shared.redis_server import RedisServer
        from animgraph.shared.settings import Settings
        from animgraph.workers.local import WorkerProcess, wait_for_workers

        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
        self.data_dir = workdir / "data"
        self.redis = RedisServer(workdir / "redis").start()
        self.worker = WorkerProcess(self.redis.url, self.data_dir, name="bench", concurrency=1)
        self.worker.start()
        self.settings = Settings(redis_url=self.redis.url, data_dir=self.data_dir)
        wait_for_workers(self.redis.url, self.settings, timeout_s=60)
        self.client = Client(self.settings)
        self.templates: dict[tuple[str, int, int, float], int] = {}
        self.idle_mb = 0.0

    def close(self) -> None:
        self.client.close()
        self.worker.stop()
        self.redis.stop()

    def _pool(self) -> list[int]:
        path = Path(f"/proc/{self.worker.pid}/task/{self.worker.pid}/children")
        try:
            return [int(p) for p in path.read_text().split()]
        except OSError:
            return []

    def _pool_mb(self, field: str) -> float:
        """The largest ``field`` (VmRSS, VmHWM) of /proc/PID/status over the pool, in MB."""
        kb = 0
        for pid in self._pool():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith(f"{field}:"):
                        kb = max(kb, int(line.split()[1]))
        return kb / 1024

    def _reset_peaks(self) -> None:
        """Reset the pool's peak RSS; keep its RSS now (idle, before the job) in ``idle_mb``."""
        for pid in self._pool():
            with contextlib.suppress(OSError):
                Path(f"/proc/{pid}/clear_refs").write_text("5")
        self.idle_mb = self._pool_mb("VmRSS")

    def _peak_mb(self) -> float:
        return self._pool_mb("VmHWM")

    def run(self, c: Ctx, quality: float) -> float:
        """One job through the queue; returns the pool's peak RSS (MB) during it."""
        key = (c.job.fmt, c.job.fps, c.job.width, quality)
        if key not in self.templates:
            template = self.client.create_template(
                Format=c.job.fmt,
                Fps=c.job.fps,
                Width=c.job.template_width,
                Quality=quality,
                Name="bench",
            )
            self.templates[key] = template.definition
        self._reset_peaks()
        media = self.client.register_media(c.src)
        task_id = self.client.process_media(
            {
                "FileId": media.file_id,
                "MediaProcessTask": {
                    "AnimatedGraphicTaskSet": [
                        {
                            "Definition": self.templates[key],
                            "StartTimeOffset": c.start,
                            "EndTimeOffset": c.start + c.job.duration_s,
                        }
                    ]
                },
            }
        )
        task = self.client.wait(task_id, timeout_s=300)
        sub = task.media_process_result_set[0].animated_graphic_task
        if sub.output is None:
            raise RuntimeError(f"animgraph failed: {sub.err_code_ext} {sub.message}")
        from urllib.parse import unquote, urlparse

        shutil.copyfile(unquote(urlparse(sub.output.url).path), c.out)
        return self._peak_mb()

    def cli(self, c: Ctx, quality: float) -> float:
        """The same job with ``animgraph run`` (a new Python process) to the warm worker."""
        env = {
            **os.environ,
            "ANIMGRAPH_REDIS_URL": self.redis.url,
            "ANIMGRAPH_DATA_DIR": str(self.data_dir),
        }
        cmd = [str(Path(sys.executable).parent / "animgraph"), "run", str(c.src)]
        cmd += [
            "--format",
            c.job.fmt,
            "--fps",
            str(c.job.fps),
            "--width",
            str(c.job.template_width),
        ]
        cmd += ["--start", f"{c.start:g}", "--end", f"{c.start + c.job.duration_s:g}"]
        cmd += ["--quality", f"{quality:g}", "--output", str(c.out)]
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, capture_output=True)
        return time.perf_counter() - t0


# --- the run -----------------------------------------------------------------------------------


def timed(fn: Callable[[], float], runs: int) -> tuple[list[float], float]:
    times, rss = [], 0.0
    for _ in range(runs):
        t0 = time.perf_counter()
        rss = max(rss, fn())
        times.append(time.perf_counter() - t0)
    return times, rss


def measure(
    res: Result, out: Path, job: Job, clip: str, refs_for: Callable[[int, int], Any]
) -> None:
    anim = metrics.read_animation(out)
    refs = refs_for(anim.width, anim.height)
    q = metrics.quality(anim, refs)
    ch = metrics.checks(
        anim, job.duration_s, job.fps, job.width, metrics.source_fps(clip_path(clip))
    )
    res.bytes = out.stat().st_size
    res.flip, res.ssim, res.flicker = q.flip, q.ssim, q.flicker
    res.checks = asdict(ch)
    res.failures = ch.failures()


def run_job(
    job: Job,
    clip: str,
    ag: Animgraph,
    runs: int,
    sweep: tuple[int, ...] | None,
    search: bool = True,
    refs_from: dict[str, Any] | None = None,
) -> list[Result]:
    """Every contestant on one clip; ``sweep`` None is the job's default sweep (on the first
    three clips; the default Quality only on the others)."""
    src = clip_path(clip)
    start = START_S[clip]
    job = segment_job(job, src, start)
    if clip not in FIRST:
        sweep = ()
    outdir = WORK / "out" / job.name / Path(clip).stem
    shutil.rmtree(outdir, ignore_errors=True)
    outdir.mkdir(parents=True)
    ext = job.fmt
    refs: dict[tuple[int, int], list[Any]] = {}

    def refs_for(w: int, h: int) -> list[Any]:
        if (w, h) not in refs:
            refs[(w, h)] = metrics.reference(src, start, job.duration_s, job.fps, w, h)
        return refs[(w, h)]

    def ctx(name: str) -> Ctx:
        return Ctx(job, src, start, outdir / f"{slug(name)}.{ext}", WORK / "tmp")

    results: list[Result] = []

    def add(name: str, c: Ctx, times: list[float], rss: float, q: float | None = None) -> Result:
        res = Result(job.name, clip, name, q, times, rss, 0, timed=bool(times))
        measure(res, c.out, job, clip, refs_for)
        results.append(res)
        flag = "" if not res.failures else "  CHECKS: " + "; ".join(res.failures)
        print(
            f"  {name:28s} {res.time_s:6.2f} s {rss:7.1f} MB {res.bytes:9d} B "
            f"FLIP {res.flip:.4f} SSIM {res.ssim:.4f} flicker {res.flicker:.3f}{flag}",
            flush=True,
        )
        return res

    print(f"{job.name} on {clip} (from {start:g} s)", flush=True)
    c = ctx("animgraph")
    ag.run(c, DEFAULT_QUALITY)  # warm the worker's code paths for this format
    times, rss = timed(lambda: ag.run(c, DEFAULT_QUALITY), runs)
    main = add(f"animgraph q{DEFAULT_QUALITY}", c, times, rss, DEFAULT_QUALITY)
    main.idle_rss_mb = ag.idle_mb
    main.checks["cli_s"] = ag.cli(ctx("animgraph cli"), DEFAULT_QUALITY)
    stored = [
        r
        for r in (refs_from or {}).get("results", [])
        if (r["job"], r["clip"]) == (job.name, clip) and not r["contestant"].startswith("animgraph")
    ]
    for r in stored:  # the reference tools' rows of an earlier run (``--refs-from``)
        row = Result(**{k: v for k, v in r.items() if k != "time_s"})
        row.checks = {**row.checks, "stored": True}  # its time is another run's
        results.append(row)
        print(f"  {r['contestant']:28s} (from --refs-from)", flush=True)
    tools = {} if stored else GIF_TOOLS if job.fmt == "gif" else WEBP_TOOLS
    for name, runner in tools.items():
        c = ctx(name)
        times, rss = timed(lambda c=c, runner=runner: runner(c), runs)  # type: ignore[misc]
        base = add(name, c, times, rss)
        if name == "ffmpeg two-pass":
            for post_name, post in GIF_POST.items():
                pc = ctx(post_name)
                ptimes, prss = timed(lambda pc=pc, post=post, c=c: post(c.out, pc.out), runs)  # type: ignore[misc]
                add(post_name, pc, [base.time_s + t for t in ptimes], max(base.peak_rss_mb, prss))
    measured = {DEFAULT_QUALITY: main}

    def point(q: int) -> Result:
        if q not in measured:
            c = ctx(f"animgraph q{q}")
            rss = ag.run(c, q)
            measured[q] = add(f"animgraph q{q}", c, [], rss, q)
        return measured[q]

    for q in job.default_sweep if sweep is None else sweep:
        point(q)
    if job.fmt == "gif" and clip in FIRST and search:
        for ref in [r for r in results if not r.contestant.startswith("animgraph")]:
            beating_quality(ref, measured, point)
    return results


def segment_job(job: Job, src: Path, start: float) -> Job:
    """``job`` fitted to the clip: its duration cut to what the clip has after ``start`` (a
    short clip), its width to the one animgraph gives this source (Width is the long side of
    a portrait source, as ResolutionAdaptive "open", the default, says; no enlargement), so
    that the reference tools make the same size."""
    meta = probe(src).meta
    shown = (meta.height, meta.width) if meta.rotate % 180 == 90 else (meta.width, meta.height)
    width, _ = output_size(*shown, width=job.width, height=0, adaptive=True)
    left = round(meta.video_duration - start, 3)
    return replace(
        job, duration_s=min(job.duration_s, left), width=width, asked_width=job.template_width
    )


def beating_quality(
    ref: Result, measured: dict[int, Result], point: Callable[[int], Result]
) -> int | None:
    """The Quality whose output is smaller than ``ref`` and sharper (lower FLIP), if any.

    Bytes grow with Quality and FLIP falls, so the best candidate is the highest Quality under
    ``ref``'s bytes: found by bisection between the measured points around it (``point``
    measures a Quality once: a job through the queue and its metrics), about five more jobs
    for a reference point the sweep did not already beat.
    """

    def beats(r: Result) -> bool:
        return r.bytes < ref.bytes and r.flip < ref.flip

    for q, r in sorted(measured.items()):
        if beats(r):
            return q
    if not any(r.bytes < ref.bytes for r in measured.values()) and point(1).bytes >= ref.bytes:
        return None  # even the smallest output is bigger
    lo = max(q for q, r in measured.items() if r.bytes < ref.bytes)
    hi = min((q for q, r in measured.items() if r.bytes >= ref.bytes), default=101)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if point(mid).bytes < ref.bytes:
            lo = mid
        else:
            hi = mid
    return lo if beats(point(lo)) else None


def slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name).strip("_")


def recheck(data: dict[str, Any]) -> None:
    """Re-run the correctness checks on the outputs of a finished run (no timing, no quality)."""
    jobs = {
        j["name"]: Job(**{**j, "clips": tuple(j["clips"]), "default_sweep": ()})
        for j in data["jobs"]
    }
    for r in data["results"]:
        job = jobs[r["job"]]
        out = WORK / "out" / job.name / Path(r["clip"]).stem / f"{slug(r['contestant'])}.{job.fmt}"
        if r["contestant"] == f"animgraph q{DEFAULT_QUALITY}":
            out = out.with_name(f"animgraph.{job.fmt}")
        anim = metrics.read_animation(out)
        src = clip_path(r["clip"])
        ch = metrics.checks(anim, job.duration_s, job.fps, job.width, metrics.source_fps(src))
        r["checks"] = {**asdict(ch), **{k: v for k, v in r["checks"].items() if k == "cli_s"}}
        r["failures"] = ch.failures()


def colour_checks(ag: Animgraph) -> list[tuple[str, bool, str]]:
    """Synthetic BT.709 and full-range clips through animgraph: patch colours as they went in."""
    from bench import colours

    out = []
    tmp = WORK / "colours"
    tmp.mkdir(parents=True, exist_ok=True)
    for kind, suffix in (("bt709", "mp4"), ("jpeg", "mkv")):
        video = colours.write_clip(tmp / f"{kind}.{suffix}", kind)
        for fmt in ("gif", "webp"):
            job = Job(f"colours-{fmt}", fmt, colours.FPS, colours.SIZE[0], 1.0, ())
            c = Ctx(job, video, 0.0, tmp / f"{kind}.{fmt}", tmp)
            ag.run(c, DEFAULT_QUALITY)
            errors = colours.patch_errors(metrics.read_animation(c.out))
            ok = max(errors) <= colours.TOLERANCE
            out.append((f"{kind} source to {fmt}", ok, f"patch errors {errors} (<= 8 levels)"))
    return out


def environment() -> dict[str, str]:
    def version(cmd: list[str]) -> str:
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, check=False)
            return (out.stdout or out.stderr).strip().splitlines()[0]
        except (OSError, IndexError):
            return "?"

    import av
    import PIL

    return {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}",
        "python": platform.python_version(),
        "ffmpeg": version(["ffmpeg", "-version"]),
        "gifsicle": version(["gifsicle", "--version"]),
        "img2webp": version(["img2webp", "-version"]),
        "gifski": version([str(TOOLS / "gifski"), "--version"]),
        "PyAV": f"{av.__version__} (FFmpeg {'.'.join(map(str, av.library_versions['libavcodec']))}"
        " libavcodec)",
        "Pillow": PIL.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--runs", type=int, default=None, help=f"timed runs per contestant (median; {DEFAULT_RUNS})"
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help=f"{FULL_RUNS} timed runs and the whole Quality sweep {SWEEP} on every job",
    )
    parser.add_argument("--jobs", default="", help="comma-separated job names (default: all)")
    parser.add_argument("--clips", default="", help="comma-separated clip names (default: all)")
    parser.add_argument("--quick", action="store_true", help="1 run, short sweep, no README")
    parser.add_argument("--report-only", action="store_true", help="re-render from results.json")
    parser.add_argument(
        "--sweep",
        default="",
        help=f"comma-separated Qualities (default: {DEFAULT_SWEEP}, the 1280 px job 40,90)",
    )
    parser.add_argument(
        "--defaults",
        action="store_true",
        help="the default Quality only: no sweep, no search for the Quality beating each tool",
    )
    parser.add_argument(
        "--refs-from",
        type=Path,
        default=None,
        help="take the reference tools' rows from this earlier results.json (same jobs and "
        "clips) instead of running them: animgraph alone is measured",
    )
    parser.add_argument("--recheck", action="store_true", help="re-check outputs and colours")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.report_only or args.recheck:
        data = json.loads(args.results.read_text())
        if args.recheck:
            recheck(data)
            ag = Animgraph(WORK / "animgraph")
            try:
                data["colour_checks"] = colour_checks(ag)
            finally:
                ag.close()
            args.results.write_text(json.dumps(data, indent=1) + "\n")
        report.render(data)
        return
    runs = 1 if args.quick else FULL_RUNS if args.full else DEFAULT_RUNS
    if args.runs is not None:
        runs = args.runs
    sweep: tuple[int, ...] | None = None  # each job's default
    if args.quick or args.full:
        sweep = (25, 50, 75, 100) if args.quick else SWEEP
    if args.sweep:
        sweep = tuple(int(q) for q in args.sweep.split(","))
    if args.defaults:
        sweep = ()
    jobs = [j for j in JOBS if not args.jobs or j.name in args.jobs.split(",")]
    refs_from = json.loads(args.refs_from.read_text()) if args.refs_from else None
    t0 = time.perf_counter()
    ag = Animgraph(WORK / "animgraph")
    results: list[Result] = []
    checked: list[Any] = []

    def save() -> dict[str, Any]:
        """results.json as it stands: written after every job and clip, so an interrupted run
        keeps what it measured."""
        data = {
            "environment": environment(),
            "runs": runs,
            "wall_s": time.perf_counter() - t0,
            "jobs": [asdict(j) for j in jobs],
            "start_s": START_S,
            "default_quality": DEFAULT_QUALITY,
            "baseline": BASELINE,
            "results": [{**asdict(r), "time_s": r.time_s} for r in results],
            "colour_checks": checked,
        }
        args.results.write_text(json.dumps(data, indent=1) + "\n")
        return data

    try:
        for job in jobs:
            for clip in job.clips:
                if args.clips and clip not in args.clips.split(","):
                    continue
                results += run_job(
                    job, clip, ag, runs, sweep, search=not args.defaults, refs_from=refs_from
                )
                save()
        checked = colour_checks(ag)
    finally:
        ag.close()
    data = save()
    print(f"wrote {args.results} ({data['wall_s']:.0f} s)")
    if not args.quick:
        report.render(data)


if __name__ == "__main__":
    main()
