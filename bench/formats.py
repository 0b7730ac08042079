"""Formats and budgets benchmark (issue 20): the new output formats against the old ones and
against ffmpeg, and what a byte budget costs. ``make bench`` runs it after ``bench/run.py``;
``.venv/bin/python bench/formats.py [--quick] [--clips C] [--report-only]``.

On each corpus clip, from the start ``bench/run.py`` uses (``START_S``), side by side in one run:

1. AVIF against our WebP (15 fps, 480 px, 3 s): our WebP at the default Quality 75 gives bytes
   and FLIP; the AVIF bytes at that FLIP come from a search over the AVIF Quality
   (``next_quality``: from 75 down or up in steps of 25, then halving the bracket) and
   ``match``: the smallest measured output at or under the FLIP, or the log-bytes interpolated
   between the two measured outputs that bracket it. Target: at most 0.5x WebP's bytes.
2. MP4 (H.264) and WebM (VP9) against our GIF (10 fps, 480 px, 3 s), the same way. Target for
   MP4: at most 0.25x GIF's bytes (WebM is reported, without a target).
3. APNG against ffmpeg's ``apng`` encoder (``-plays 0``) on the GIF job: bytes, FLIP, time.
4. Budgets: ``encode_within`` (``workers/media/budget.py``) at 500 KB, 2 MB and 10 MB on a GIF
   job (15 fps, 640 px, 6 s; a plain encode makes 4-9 MB) and at 500 KB on the same job as
   WebP and MP4: bytes over the budget, full encodes and probes, the settings chosen, and its time
   over one plain encode at the template's settings. One GIF budget also goes through the queue,
   to check that the output item reports what the bare call chose.
5. Time of each new format against ffmpeg's command line on the same segment (``-ss``/``-t``
   input seek, ``fps``, Lanczos ``scale`` to our output size, the encoder with our settings:
   ``ffmpeg_codecs``), against animgraph through the queue (``run.Animgraph``: a warm worker,
   ProcessMedia to FINISH, the output copied) and against the bare encoder on frames decoded
   beforehand (the decode's own time is given too). AVIF on the WebP job, the others on the GIF
   job.

Quality is measured as ``bench/run.py`` measures it (``bench/metrics.py``: FLIP at 24 times over
the segment, SSIM, flicker, against the exactly converted source frames at the output size);
the bare encoders get the frames the worker would (``decode_segment`` thinned to the output rate,
``select_frames``), so their outputs are the queue's. Writes ``bench/formats.json`` and the
"Formats and budgets" section of ``bench/README.md`` (``report.formats_section``; ``run.py``'s
report keeps it).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import metrics, report
from bench.corpus import BY_NAME, FIRST, clip_path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "formats.json"

QUALITY = 75  # the default template Quality (shared.models)
CLIPS = FIRST
QUICK_CLIP = "cockatoo.mp4"
START_S = {name: clip.start_s for name, clip in BY_NAME.items()}  # as bench/run.py
# The search over a Quality: from QUALITY in steps of STEP until the reference FLIP is
# bracketed, then the bracket halved while wider than TOLERANCE, at most MAX_POINTS outputs.
STEP = 25
TOLERANCE = 13
MAX_POINTS = 5
QUICK_MAX_POINTS = 3
TARGETS = {"avif": 0.5, "mp4": 0.25}  # bytes at equal or lower FLIP, over the reference's
BUDGETS = (500_000, 2_000_000, 10_000_000)
OTHER_BUDGET = 500_000  # WebP and MP4 on the budget job
QUICK_BUDGETS = (2_000_000,)

NOTES = """### Reading the numbers (by hand)

From the run above and, where said, from encodes of the same frames by hand (2026-12-06):

- Every format of a job shares a FLIP floor: the frames it is given, shown at the output rate
  (*frames' FLIP*; city.mpg is 25 fps and cockatoo.mp4 20 fps, shown at 10 or 15; vtest.avi is
  10 fps). 4:2:0 costs AVIF, MP4, WebM (and lossy WebP) more before any coding: the GIF job's
  frames through yuv420p and back (our BT.709 conversion) measure FLIP 0.0903 against 0.0844
  on cockatoo.mp4, 0.0855 against 0.0748 on city.mpg, 0.0165 against 0 on vtest.avi: about
  30 % of the way from the frames to our GIF at Quality 75, whose palette keeps full colour
  resolution. So a video format matches the GIF's FLIP only near the top of its Quality range.
- AVIF against WebP (both 4:2:0): met on every clip, by most on city.mpg, where our WebP at
  Quality 75 is large (1.26 MB: texture and a pan).
- MP4 against GIF: met on city.mpg (0.205x) and cockatoo.mp4 (0.132x), missed on vtest.avi
  (0.271x); 0.194x geometric mean. The first encoder settings (libx264 `faster`, no B-frames,
  chosen on cockatoo.mp4, where B-frames saved 1.3 %) gave 0.291x on city.mpg and 0.332x on
  vtest.avi: B-frames save 30 % on city.mpg's smooth pan, so `video.py` now uses `medium` with
  x264's B-frames. What is left on vtest.avi: it is a fixed camera, where our GIF is at its
  best (the temporal hold and transparent unchanged pixels: 233 KB for 3 s at 480x360, against
  1.5-1.9 MB on the other two), and 4:2:0 alone costs FLIP 0.0165 of the GIF's 0.0562 there.
- WebM on cockatoo.mp4: no Quality reaches the GIF's FLIP: Quality 100 is crf 24, the top of
  `quality.vp9_crf`'s range, at 1.047x the GIF's FLIP in 0.085x its bytes.
- APNG: ffmpeg's `apng` encoder writes rgb24, lossless: ours (255 colours without dithering,
  Quality 75) is 0.09-0.31x its bytes, at its FLIP on cockatoo.mp4 and 10-12 % above it on
  city.mpg and vtest.avi (banding on gradients). Our Quality 100 is lossless truecolour too.
- Budgets: 500 KB binds for GIF on every clip (Quality 10, 32 colours, 8 fps and 428-459 px wide
  on city.mpg and cockatoo.mp4; Quality 62 alone on vtest.avi), 2 MB on city.mpg and
  cockatoo.mp4 (Quality alone), 10 MB on none; at 500 KB WebP binds on every clip and MP4 on
  city.mpg only. A budget that does not bind costs a probe over the plain encode (0.9-1.4x its
  time, the same bytes); a binding one 1.9 full encodes on average (1.8-6.3x the time; 6.3x on
  vtest.avi, whose plain GIF encode is the fastest). The outputs land at 0.925-0.992 of the
  budget (an MP4 landed at 0.864 before `quality.x264_crf` went to tenths of a crf: a whole
  crf step moved it 12-18 %).
- libx264 is not reproducible to the byte here: two encodes of the same frames at Quality 75
  differed by a few hundred bytes under load (cockatoo.mp4: 118,948 and 118,697 B; city.mpg's
  queue output against the bare encode), while six in a row on an idle machine were identical.
  The budget's "the plain encode, byte for byte" holds for GIF (the queue row above) but not
  always for MP4.
- Times (geometric means): our AVIF in about 0.55x ffmpeg's time (decode plus encode): PyAV
  bundles its own FFmpeg 8 and SVT-AV1, newer than Debian's ffmpeg 5.1 with SVT-AV1 1.4.1
  (libx264 and libvpx differ by version too). Decode plus the bare encode is 0.92x ffmpeg for
  MP4 (the same preset, B-frames, crf) and 1.15x for WebM; through the queue MP4 is 1.15x and
  WebM 1.19x: the queue's fixed cost (register, three steps, polling; about 0.2 s) on a
  0.3-0.9 s job. APNG is about 0.65x. Load average 0.6 to 3.1 over the last run (no other
  jobs); earlier runs under load 5-19 gave the same ratios within about 0.2 but budget-time
  outliers."""


@dataclass(frozen=True)
class Spec:
    """One job: a format at a frame rate, a width and a length."""

    fmt: str
    fps: int
    width: int
    duration_s: float

    @property
    def label(self) -> str:
        return f"{self.fmt} {self.fps} fps {self.width} px {self.duration_s:g} s"

    def as_(self, fmt: str) -> Spec:
        return replace(self, fmt=fmt)


WEBP_JOB = Spec("webp", 15, 480, 3.0)
GIF_JOB = Spec("gif", 10, 480, 3.0)
BUDGET_JOB = Spec("gif", 15, 640, 6.0)
# Which job each new format is timed on (part 5), with its reference in parts 1-3.
TIMED = {"avif": WEBP_JOB.as_("avif"), "apng": GIF_JOB.as_("apng"), "mp4": GIF_JOB.as_("mp4"),
         "webm": GIF_JOB.as_("webm")}  # fmt: skip


def ffmpeg_codecs(quality: float = QUALITY) -> dict[str, list[str]]:
    """ffmpeg's encoder and options for each new format, the settings our encoders use at
    ``quality`` (read from them: ``workers/media/video.py``, ``avif.py``, ``quality.py``)."""
    from animgraph.workers.media import quality as q
    from animgraph.workers.media.avif import AVIF_PRESET
    from animgraph.workers.media.video import VP9_CPU_USED, X264_PRESET

    return {
        "avif": ["-c:v", "libsvtav1", "-crf", str(q.avif_crf(quality)),
                 "-preset", str(AVIF_PRESET), "-pix_fmt", "yuv420p", "-loop", "0"],
        "apng": ["-c:v", "apng", "-plays", "0"],
        "mp4": ["-c:v", "libx264", "-crf", str(q.x264_crf(quality)), "-preset", X264_PRESET,
                "-pix_fmt", "yuv420p", "-movflags", "+faststart"],
        "webm": ["-c:v", "libvpx-vp9", "-crf", str(q.vp9_crf(quality)), "-b:v", "0",
                 "-deadline", "good", "-cpu-used", str(VP9_CPU_USED), "-row-mt", "1",
                 "-pix_fmt", "yuv420p"],
    }  # fmt: skip


# --- the search (pure) -------------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    """One measured output."""

    quality: float
    bytes: int
    flip: float
    ssim: float = 0.0
    flicker: float = 0.0
    encode_s: float = 0.0


@dataclass(frozen=True)
class Match:
    """The bytes a format needs for a FLIP, from its measured points.

    ``method``: ``measured`` (``bytes`` is the smallest measured output at or under the FLIP and
    no measured output between it and the FLIP is smaller: the search reached its floor or hit
    the FLIP exactly), ``interpolated`` (log-bytes interpolated linearly in FLIP between
    ``between``, the largest output over the FLIP that is smaller than ``measured``, and
    ``measured``) or ``unreached`` (no output at or under the FLIP; ``bytes`` is NaN)."""

    bytes: float
    method: str
    measured: Point | None = None
    between: Point | None = None

    def describe(self) -> str:
        if self.measured is None:
            return "no Quality reaches the FLIP"
        if self.between is None:
            return f"measured at q{self.measured.quality:g}"
        return (
            f"interpolated between q{self.between.quality:g} and q{self.measured.quality:g}"
            f" (measured q{self.measured.quality:g}: {self.measured.bytes} B)"
        )


def match(points: Sequence[Point], target_flip: float) -> Match:
    """The bytes at ``target_flip`` on the size/FLIP curve of ``points`` (see ``Match``)."""
    good = [p for p in points if p.flip <= target_flip]
    if not good:
        return Match(math.nan, "unreached")
    best = min(good, key=lambda p: p.bytes)
    smaller = [p for p in points if p.flip > target_flip and p.bytes < best.bytes]
    if not smaller or best.flip == target_flip:
        return Match(float(best.bytes), "measured", best)
    low = max(smaller, key=lambda p: p.bytes)
    share = (low.flip - target_flip) / (low.flip - best.flip)
    log_bytes = math.log(low.bytes) + share * (math.log(best.bytes) - math.log(low.bytes))
    return Match(math.exp(log_bytes), "interpolated", best, low)


def next_quality(
    points: Mapping[float, Point],
    target_flip: float,
    *,
    start: float = QUALITY,
    step: float = STEP,
    tolerance: float = TOLERANCE,
    lowest: float = 1,
    highest: float = 100,
) -> float | None:
    """The next Quality to measure to bracket ``target_flip``, or None when done.

    Nothing measured: ``start``. Every output over the FLIP: ``step`` above the highest Quality
    measured (None at ``highest``: unreached). Every output at or under it: ``step`` below the
    lowest (None at ``lowest``: even the floor is sharp enough). Otherwise the bracket (the
    lowest Quality at or under the FLIP, the highest below it that is over) is halved while wider
    than ``tolerance``. FLIP falls as Quality grows, but not strictly: the bracket is taken from
    the measured points as they are.
    """
    if not points:
        return start
    good = sorted(q for q, p in points.items() if p.flip <= target_flip)
    if not good:
        top = max(points)
        return None if top >= highest else min(highest, top + step)
    lowest_good = good[0]
    over = [q for q, p in points.items() if p.flip > target_flip and q < lowest_good]
    if not over:
        return None if lowest_good <= lowest else max(lowest, lowest_good - step)
    bracket = lowest_good - max(over)
    if bracket <= tolerance:
        return None
    return float(round(max(over) + bracket / 2))


def ratio(a: float, b: float) -> float:
    return a / b if b else math.nan


# --- frames, encodes, measures -----------------------------------------------------------------


@dataclass
class Frames:
    frames: Any  # FrameSet
    selection: Any  # Selection
    width: int
    height: int
    decode_s: float


class Bench:
    """Decoded frames and reference frames, each made once per clip and job."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self._frames: dict[tuple[str, int, int, int, float], Frames] = {}
        self._refs: dict[tuple[str, int, int, int, float], metrics.Reference] = {}
        self._floors: dict[tuple[str, int, int, int, float], float] = {}

    def size(self, clip: str, spec: Spec) -> tuple[int, int]:
        """The output size the planner gives the job (even for video)."""
        from animgraph.shared.formats import format_of
        from animgraph.workers.media.geometry import even_size, output_size
        from animgraph.workers.media.probe import probe

        meta = probe(clip_path(clip))
        w, h = output_size(
            meta.display_width, meta.display_height, width=spec.width, height=0, adaptive=True
        )
        return even_size(w, h) if format_of(spec.fmt).even_size else (w, h)

    def frames(self, clip: str, spec: Spec) -> Frames:
        from animgraph.workers.media.decode import decode_segment
        from animgraph.workers.media.select import select_frames

        w, h = self.size(clip, spec)
        key = (clip, spec.fps, w, h, spec.duration_s)
        if key not in self._frames:
            start = START_S[clip]
            end = start + spec.duration_s
            dest = (
                self.work / "frames" / f"{Path(clip).stem}-{spec.fps}-{w}x{h}-{spec.duration_s:g}"
            )
            shutil.rmtree(dest, ignore_errors=True)
            t0 = time.perf_counter()
            frames = decode_segment(
                clip_path(clip), dest, start_s=start, end_s=end, width=w, height=h, fps=spec.fps
            )
            selection = select_frames(frames.pts_s, start_s=start, end_s=end, fps=spec.fps)
            self._frames[key] = Frames(frames, selection, w, h, time.perf_counter() - t0)
        return self._frames[key]

    def floor(self, clip: str, spec: Spec) -> float:
        """FLIP of the frames the encoders are given, shown as selected (no encoding): what
        the frame rate and the timing cost, which every format of the job shares."""
        f = self.frames(clip, spec)
        key = (clip, spec.fps, f.width, f.height, spec.duration_s)
        if key not in self._floors:
            with f.frames.reader() as reader:
                shown = [reader.frame(s.index) for s in f.selection]
            ms = [round(s.start_s * 1000) for s in f.selection]
            ms.append(round(f.selection[-1].end_s * 1000))
            durations = [b - a for a, b in itertools.pairwise(ms)]
            anim = metrics.Animation(f.width, f.height, durations, 0, shown)
            ref = self.reference(clip, spec, f.width, f.height)
            self._floors[key] = metrics.quality(anim, ref).flip
        return self._floors[key]

    def reference(self, clip: str, spec: Spec, w: int, h: int) -> metrics.Reference:
        key = (clip, spec.fps, w, h, spec.duration_s)
        if key not in self._refs:
            self._refs[key] = metrics.reference(
                clip_path(clip), START_S[clip], spec.duration_s, spec.fps, w, h
            )
        return self._refs[key]

    def measure(self, clip: str, spec: Spec, out: Path) -> tuple[metrics.Quality, list[str]]:
        """FLIP, SSIM, flicker of ``out`` and the failures of its checks."""
        anim = metrics.read_animation(out)
        q = metrics.quality(anim, self.reference(clip, spec, anim.width, anim.height))
        src = clip_path(clip)
        ch = metrics.checks(anim, spec.duration_s, spec.fps, spec.width, metrics.source_fps(src))
        return q, ch.failures()

    def out(self, clip: str, spec: Spec, name: str) -> Path:
        folder = self.work / "out" / Path(clip).stem
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{spec.fmt}-{spec.fps}-{spec.width}-{name}.{spec.fmt}"

    def encode(self, clip: str, spec: Spec, quality: float, dest: Path | None = None) -> Point:
        """The bare encoder at ``quality`` on the decoded frames, timed and measured."""
        from animgraph.workers.media.encode import ENCODERS

        f = self.frames(clip, spec)
        dest = dest or self.out(clip, spec, f"q{quality:g}")
        t0 = time.perf_counter()
        ENCODERS[spec.fmt](f.frames, f.selection, dest, quality=quality)
        seconds = time.perf_counter() - t0
        q, failures = self.measure(clip, spec, dest)
        if failures:
            print(f"    CHECKS {dest.name}: {'; '.join(failures)}", flush=True)
        return Point(quality, dest.stat().st_size, q.flip, q.ssim, q.flicker, seconds)


def _show(name: str, p: Point) -> None:
    print(
        f"    {name:14s} q{p.quality:<5g} {p.bytes:9d} B  FLIP {p.flip:.4f}  SSIM {p.ssim:.4f}"
        f"  flicker {p.flicker:.3f}  encode {p.encode_s:.2f} s",
        flush=True,
    )


def search(bench: Bench, clip: str, spec: Spec, target_flip: float, max_points: int) -> list[Point]:
    points: dict[float, Point] = {}
    while len(points) < max_points:
        q = next_quality(points, target_flip)
        if q is None or q in points:
            break
        points[q] = bench.encode(clip, spec, q)
        _show(spec.fmt, points[q])
    return sorted(points.values(), key=lambda p: p.quality)


def compare(
    bench: Bench, clip: str, spec: Spec, ref: Point, ref_fmt: str, max_points: int
) -> dict[str, Any]:
    points = search(bench, clip, spec, ref.flip, max_points)
    m = match(points, ref.flip)
    r = ratio(m.bytes, ref.bytes)
    print(f"    {spec.fmt} at FLIP {ref.flip:.4f}: {m.bytes:.0f} B, {r:.3f}x {ref_fmt} "
          f"({m.describe()})", flush=True)  # fmt: skip
    return {
        "clip": clip,
        "fmt": spec.fmt,
        "ref_fmt": ref_fmt,
        "job": asdict(spec),
        "ref": asdict(ref),
        "points": [asdict(p) for p in points],
        "match": {
            "bytes": m.bytes,
            "method": m.method,
            "describe": m.describe(),
            "measured": asdict(m.measured) if m.measured else None,
            "between": asdict(m.between) if m.between else None,
        },
        "ratio": r,
        "target": TARGETS.get(spec.fmt),
        "closest": asdict(min(points, key=lambda p: p.flip)),
        "floor": bench.floor(clip, spec),
    }


# --- ffmpeg and the queue ----------------------------------------------------------------------


def ffmpeg(clip: str, spec: Spec, w: int, h: int, dest: Path) -> float:
    """ffmpeg's command line on the job's segment to ``dest``; returns the wall time."""
    from bench.run import ffmpeg_in, run_cmd

    cmd = ffmpeg_in(clip_path(clip), START_S[clip], spec.duration_s)
    cmd += ["-vf", f"fps={spec.fps},scale={w}:{h}:flags=lanczos", *ffmpeg_codecs()[spec.fmt]]
    t0 = time.perf_counter()
    run_cmd([*cmd, str(dest)])
    return time.perf_counter() - t0


def queue_job(ag: Any, clip: str, spec: Spec, dest: Path, start: float | None = None) -> float:
    """One job through the queue at Quality 75 (``run.Animgraph.run``); returns its wall time."""
    from bench.run import Ctx, Job

    job = Job(f"formats-{spec.fmt}", spec.fmt, spec.fps, spec.width, spec.duration_s, (clip,))
    c = Ctx(job, clip_path(clip), START_S[clip] if start is None else start, dest, dest.parent)
    t0 = time.perf_counter()
    ag.run(c, QUALITY)
    return time.perf_counter() - t0


def queue_budget(ag: Any, clip: str, spec: Spec, max_size: int, dest: Path) -> dict[str, Any]:
    """A budgeted job through the queue: the output item's fields and the job's wall time."""
    from urllib.parse import unquote, urlparse

    template = ag.client.create_template(
        Format=spec.fmt, Fps=spec.fps, Width=spec.width, Quality=QUALITY, MaxSize=max_size,
        Name="bench-formats",
    )  # fmt: skip
    t0 = time.perf_counter()
    media = ag.client.register_media(clip_path(clip))
    start = START_S[clip]
    task_id = ag.client.process_media(
        {
            "FileId": media.file_id,
            "MediaProcessTask": {
                "AnimatedGraphicTaskSet": [
                    {
                        "Definition": template.definition,
                        "StartTimeOffset": start,
                        "EndTimeOffset": start + spec.duration_s,
                    }
                ]
            },
        }
    )
    task = ag.client.wait(task_id, timeout_s=600, poll_s=0.05)
    seconds = time.perf_counter() - t0
    sub = task.media_process_result_set[0].animated_graphic_task
    if sub.output is None:
        return {"error": f"{sub.err_code_ext}: {sub.message}", "time_s": seconds}
    shutil.copyfile(unquote(urlparse(sub.output.url).path), dest)
    o = sub.output
    return {
        "time_s": seconds,
        "Size": o.size,
        "Encodes": o.encodes,
        "Fps": o.fps,
        "Quality": o.quality,
        "Colors": getattr(o, "colors", None),
        "Width": o.width,
        "Height": o.height,
        "md5": _md5(dest),
    }


def _md5(path: Path) -> str:
    import hashlib

    return hashlib.md5(path.read_bytes()).hexdigest()


# --- the parts ---------------------------------------------------------------------------------


def part_compare(bench: Bench, clip: str, max_points: int) -> list[dict[str, Any]]:
    """Parts 1 and 2: AVIF against WebP, MP4 and WebM against GIF."""
    out = []
    print(f"  AVIF vs WebP ({WEBP_JOB.label})", flush=True)
    webp = bench.encode(clip, WEBP_JOB, QUALITY)
    _show("webp", webp)
    out.append(compare(bench, clip, WEBP_JOB.as_("avif"), webp, "webp", max_points))
    print(f"  MP4 and WebM vs GIF ({GIF_JOB.label})", flush=True)
    gif = bench.encode(clip, GIF_JOB, QUALITY)
    _show("gif", gif)
    for fmt in ("mp4", "webm"):
        out.append(compare(bench, clip, GIF_JOB.as_(fmt), gif, "gif", max_points))
    return out


def part_apng(bench: Bench, clip: str) -> dict[str, Any]:
    """Part 3: our APNG (bare encoder, Quality 75) against ffmpeg's apng encoder."""
    spec = GIF_JOB.as_("apng")
    print(f"  APNG vs ffmpeg apng ({spec.label})", flush=True)
    ours = bench.encode(clip, spec, QUALITY)
    _show("apng", ours)
    f = bench.frames(clip, spec)
    dest = bench.out(clip, spec, "ffmpeg")
    seconds = ffmpeg(clip, spec, f.width, f.height, dest)
    q, failures = bench.measure(clip, spec, dest)
    theirs = Point(0, dest.stat().st_size, q.flip, q.ssim, q.flicker, seconds)
    _show("ffmpeg apng", theirs)
    return {
        "clip": clip,
        "job": asdict(spec),
        "ours": asdict(ours),
        "ffmpeg": asdict(theirs),
        "ffmpeg_failures": failures,
        "decode_s": f.decode_s,
    }


def part_budgets(
    bench: Bench, clip: str, budgets: Sequence[int], others: bool
) -> list[dict[str, Any]]:
    """Part 4: ``encode_within`` against one plain encode at the template's settings."""
    from animgraph.shared.formats import format_of
    from animgraph.workers.media.budget import BudgetUnreachable, encode_within
    from animgraph.workers.media.encode import ENCODERS

    runs = [(BUDGET_JOB, b) for b in budgets]
    if others:
        runs += [(BUDGET_JOB.as_(fmt), OTHER_BUDGET) for fmt in ("webp", "mp4")]
    print(f"  budgets ({BUDGET_JOB.label}; webp, mp4)", flush=True)
    out: list[dict[str, Any]] = []
    plain: dict[str, tuple[int, float]] = {}
    for spec, budget in runs:
        f = bench.frames(clip, spec)
        if spec.fmt not in plain:
            dest = bench.out(clip, spec, "plain")
            t0 = time.perf_counter()
            ENCODERS[spec.fmt](f.frames, f.selection, dest, quality=QUALITY)
            plain[spec.fmt] = (dest.stat().st_size, time.perf_counter() - t0)
        plain_bytes, plain_s = plain[spec.fmt]
        dest = bench.out(clip, spec, f"budget-{budget}")
        scratch = bench.work / "budget-scratch"
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(parents=True)
        row: dict[str, Any] = {
            "clip": clip,
            "fmt": spec.fmt,
            "job": asdict(spec),
            "budget": budget,
            "plain_bytes": plain_bytes,
            "plain_s": plain_s,
            "binds": plain_bytes > budget,
            "size_px": [f.width, f.height],
        }
        t0 = time.perf_counter()
        try:
            fitted = encode_within(
                spec.fmt,
                f.frames,
                f.selection,
                dest,
                max_size=budget,
                quality=QUALITY,
                fps=spec.fps,
                loop_count=0,
                scratch=scratch,
                even=format_of(spec.fmt).even_size,
            )
        except BudgetUnreachable as exc:
            row.update(within_s=time.perf_counter() - t0, unreachable=str(exc))
            row["smallest"] = _plain(getattr(exc, "smallest", None))
            row["choice"] = _plain(getattr(exc, "choice", None))
            print(f"    {spec.fmt} {budget:>9d} B: unreachable ({exc})", flush=True)
        else:
            row["within_s"] = time.perf_counter() - t0
            row.update(
                size=fitted.size,
                file_bytes=dest.stat().st_size,
                encodes=fitted.encodes,
                probes=fitted.probes,
                probe_share=getattr(fitted, "probe_share", None),
                choice=_plain(fitted.choice),
            )
            print(
                f"    {spec.fmt} {budget:>9d} B: {fitted.size} B ({fitted.size / budget:.3f}), "
                f"{fitted.encodes} encodes, {fitted.probes} probes, {row['choice']}, "
                f"{row['within_s']:.2f} s vs plain {plain_s:.2f} s "
                f"({'binds' if row['binds'] else 'fits'}: plain {plain_bytes} B)",
                flush=True,
            )
        out.append(row)
    return out


def _plain(value: Any) -> Any:
    """A dataclass (or anything with attributes) as JSON-able data."""
    if value is None or isinstance(value, int | float | str | bool):
        return value
    try:
        return asdict(value)
    except TypeError:
        pass
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    names = getattr(value, "__slots__", None) or vars(value)
    return {n: _plain(getattr(value, n)) for n in names if not n.startswith("_")}


def part_times(bench: Bench, ag: Any, clip: str) -> list[dict[str, Any]]:
    """Part 5: ffmpeg's command line, the queue, and the decode and the bare encoder (each run
    again here, warm: the searches' first decode and encode of a format run cold) on each new
    format, back to back."""
    from animgraph.workers.media.decode import decode_segment
    from animgraph.workers.media.encode import ENCODERS

    print("  times: ffmpeg, queue, decode + bare encoder", flush=True)
    out = []
    for fmt, spec in TIMED.items():
        f = bench.frames(clip, spec)
        theirs = bench.out(clip, spec, "ffmpeg-timed")
        ff_s = ffmpeg(clip, spec, f.width, f.height, theirs)
        ours = bench.out(clip, spec, "queue")
        q_s = queue_job(ag, clip, spec, ours)
        scratch = bench.work / "decode-timed"
        shutil.rmtree(scratch, ignore_errors=True)
        start = START_S[clip]
        t0 = time.perf_counter()
        decode_segment(
            clip_path(clip), scratch, start_s=start, end_s=start + spec.duration_s,
            width=f.width, height=f.height, fps=spec.fps,
        )  # fmt: skip
        decode_s = time.perf_counter() - t0
        shutil.rmtree(scratch, ignore_errors=True)
        bare = bench.out(clip, spec, "bare-timed")
        t0 = time.perf_counter()
        ENCODERS[fmt](f.frames, f.selection, bare, quality=QUALITY)
        bare_s = time.perf_counter() - t0
        same = same_output(ours, bare)
        row = {
            "clip": clip,
            "fmt": fmt,
            "job": asdict(spec),
            "ffmpeg_s": ff_s,
            "ffmpeg_bytes": theirs.stat().st_size,
            "queue_s": q_s,
            "queue_bytes": ours.stat().st_size,
            "bare_s": bare_s,
            "bare_bytes": bare.stat().st_size,
            "decode_s": decode_s,
            "queue_same_as_bare": same,
        }
        print(
            f"    {fmt:5s} ffmpeg {ff_s:6.2f} s {row['ffmpeg_bytes']:8d} B | queue {q_s:6.2f} s "
            f"{row['queue_bytes']:8d} B | bare {bare_s:6.2f} s + decode {decode_s:.2f} s"
            f"{'' if same else ' | queue output differs from bare'}",
            flush=True,
        )
        out.append(row)
    return out


def same_output(a: Path, b: Path) -> bool:
    """The same file, or for a video container the same packets (the WebM muxer writes random
    segment and track UIDs, so two encodes of the same frames differ in those bytes)."""
    if _md5(a) == _md5(b):
        return True
    if a.suffix.lower() not in metrics.VIDEO_SUFFIXES:
        return False
    import av

    def packets(path: Path) -> list[tuple[int | None, bytes]]:
        with av.open(str(path)) as container:
            return [(p.pts, bytes(p)) for p in container.demux(video=0) if p.size]

    return packets(a) == packets(b)


def warm(ag: Any, bench: Bench, clip: str) -> None:
    """A short job of each new format through the queue, untimed: the worker's first job of a
    format imports and initialises its encoder."""
    for spec in TIMED.values():
        short = replace(spec, duration_s=0.5)
        queue_job(ag, clip, short, bench.out(clip, short, "warm"))


def colour_checks(ag: Any, work: Path) -> list[tuple[str, bool, str]]:
    """The synthetic BT.709 and full-range clips of ``bench/colours.py`` through the queue to
    each new format, read back with ``metrics.read_animation``: patch colours as they went in."""
    from bench import colours
    from bench.run import Ctx, Job

    out = []
    tmp = work / "colours"
    tmp.mkdir(parents=True, exist_ok=True)
    for kind, suffix in (("bt709", "mp4"), ("jpeg", "mkv")):
        video = colours.write_clip(tmp / f"{kind}-src.{suffix}", kind)
        for fmt in TIMED:
            job = Job(f"colours-{fmt}", fmt, colours.FPS, colours.SIZE[0], 1.0, ())
            c = Ctx(job, video, 0.0, tmp / f"{kind}.{fmt}", tmp)
            ag.run(c, QUALITY)
            errors = colours.patch_errors(metrics.read_animation(c.out))
            ok = max(errors) <= colours.TOLERANCE
            out.append((f"{kind} source to {fmt}", ok, f"patch errors {errors} (<= 8 levels)"))
    return out


@dataclass
class Run:
    clips: list[str]
    quick: bool
    results: Path
    data: dict[str, Any] = field(default_factory=dict)


def run(args: Run) -> dict[str, Any]:
    from bench.run import WORK, Animgraph, environment

    work = WORK / "formats"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    bench = Bench(work)
    t0 = time.perf_counter()
    load_before = os.getloadavg()
    max_points = QUICK_MAX_POINTS if args.quick else MAX_POINTS
    data: dict[str, Any] = {
        "quick": args.quick,
        "clips": args.clips,
        "start_s": START_S,
        "quality": QUALITY,
        "budget_job": asdict(BUDGET_JOB),
        "ffmpeg_codecs": ffmpeg_codecs(),
        "matches": [],
        "apng": [],
        "budgets": [],
        "times": [],
    }
    ag = Animgraph(work / "animgraph")
    try:
        warm(ag, bench, args.clips[0])
        for k, clip in enumerate(args.clips):
            print(f"{clip} (from {START_S[clip]:g} s)", flush=True)
            matches = part_compare(bench, clip, max_points)
            data["matches"] += matches
            apng = part_apng(bench, clip)
            data["apng"].append(apng)
            data["times"] += part_times(bench, ag, clip)
            budgets = QUICK_BUDGETS if args.quick else BUDGETS
            data["budgets"] += part_budgets(bench, clip, budgets, others=not args.quick)
            if k == 0:
                middle = sorted(budgets)[len(budgets) // 2]
                dest = bench.out(clip, BUDGET_JOB, f"queue-budget-{middle}")
                item = queue_budget(ag, clip, BUDGET_JOB, middle, dest)
                bare_row = next(
                    b for b in data["budgets"]
                    if b["clip"] == clip and b["fmt"] == "gif" and b["budget"] == middle
                )  # fmt: skip
                bare_dest = bench.out(clip, BUDGET_JOB, f"budget-{middle}")
                item["same_as_bare"] = (
                    bare_dest.exists() and dest.exists() and same_output(dest, bare_dest)
                )
                data["queue_budget"] = {"clip": clip, "budget": middle, "item": item,
                                        "bare": bare_row}  # fmt: skip
                print(f"  through the queue at {middle} B: {item}", flush=True)
        if not args.quick:
            data["colour_checks"] = colour_checks(ag, work)
    finally:
        ag.close()
    data["wall_s"] = time.perf_counter() - t0
    data["load"] = {"before": load_before, "after": os.getloadavg()}
    data["environment"] = environment()
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"one clip ({QUICK_CLIP}), {QUICK_MAX_POINTS} points a search, one budget; "
        "results in bench/.work unless --results",
    )
    parser.add_argument("--clips", default="", help="comma-separated clip names (default: all)")
    parser.add_argument("--results", type=Path, default=None, help=f"default {RESULTS.name}")
    parser.add_argument("--report-only", action="store_true", help="re-render from the results")
    args = parser.parse_args()
    from bench.run import WORK

    results = args.results or (WORK / "formats-quick.json" if args.quick else RESULTS)
    if args.report_only:
        data = json.loads(results.read_text())
        report.write_formats_section(data)
        return
    clips = args.clips.split(",") if args.clips else [QUICK_CLIP] if args.quick else list(CLIPS)
    data = run(Run(clips, args.quick, results))
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {results} ({data['wall_s']:.0f} s)")
    print("\n".join(report.formats_lines(data)))
    if results == RESULTS:
        report.write_formats_section(data)


if __name__ == "__main__":
    main()
