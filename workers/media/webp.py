"""The WebP encoder: libwebp's animation encoder through Pillow, runs of frames on threads.

libwebp's animation encoder with exact millisecond timestamps (PyAV's ``libwebp_anim`` guesses
the last frame's duration), no forced key frames and libwebp's smallest-candidate search
(``WEBP_ANIM_OPTIONS``); bench/README.md, "Where the encoder's settings come from", has the
measurements behind the settings below.
"""

from __future__ import annotations

import functools
import itertools
import tempfile
import threading
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, NamedTuple, cast

from PIL import Image

from animgraph.workers.media.atomic import atomic_path
from animgraph.workers.media.framestore import FrameReader, FrameSet
from animgraph.workers.media.join import join_webps
from animgraph.workers.media.loopcount import webp_loop_count
from animgraph.workers.media.progress import Progress, ignore_progress
from animgraph.workers.media.quality import WEBP_METHOD, webp_hold, webp_plan
from animgraph.workers.media.select import Selection
from animgraph.workers.media.stills import scene_stillness
from animgraph.workers.media.temporal import BlockHold
from animgraph.workers.media.threads import job_threads
from animgraph.workers.media.timing import WEBP_MIN_DELAY_MS, Delay, display_delays

__all__ = ["WEBP_ANIM_OPTIONS", "WEBP_METHOD", "WEBP_THREADS", "encode_webp", "webp_runs"]

# Runs encoded at once (``webp_runs``), each by its own libwebp animation encoder on its own
# thread (Pillow lets go of the GIL in WebPAnimEncoderAdd), joined chunk by chunk: at most two
# (each run starts with a key frame), as many as the job's threads (``threads``).
WEBP_THREADS = 2
# Frames a run has at least: a run starts with a key frame, which costs a few frames' bytes.
WEBP_MIN_RUN = 12
# WebPAnimEncoderOptions: no forced key frames (kmin = kmax = 0, libwebp's and ffmpeg's default,
# not Pillow's), and the smallest of a key frame and each sub-frame candidate for every frame.
WEBP_ANIM_OPTIONS: dict[str, Any] = {"kmin": 0, "kmax": 0, "minimize_size": True}


def encode_webp(
    frames: FrameSet,
    selection: Selection,
    dest: Path,
    *,
    quality: float,
    progress: Progress | None = None,
    threads: int | None = None,
    loop_count: int = 0,
    stillness: float | None = None,
) -> None:
    """Write ``selection`` of ``frames`` to ``dest`` as a lossy WebP that plays ``loop_count``
    times (0: forever; ``loopcount`` says how WebP stores it).

    ``quality`` is the template Quality; how much of the footage stays still
    (``stills.scene_stillness``, or ``stillness`` when the caller measured it) and the Quality
    give libwebp's quality and effort and whether unchanged blocks of a still scene are held
    (``quality.webp_plan``).
    With ``threads`` > 1 (None: the job's threads, at most ``WEBP_THREADS``) and frames enough
    (``webp_runs``), runs of consecutive frames are encoded at once, each by its own encoder on
    its own thread, and joined chunk by chunk.
    Frames are read lazily one at a time; libwebp itself keeps only the encoded frames and two
    canvases, so memory is flat in the frame count apart from the compressed output. A selection
    of one frame (a still segment) gives a still WebP: libwebp writes no animation for it.
    """
    delays = display_delays(selection, 1000, WEBP_MIN_DELAY_MS)
    loop = webp_loop_count(loop_count)
    report = progress or ignore_progress
    # Pass 1, when the Quality holds anything: how much of the footage is still?
    held = webp_hold(quality)[0] > 0
    if held and stillness is None:
        stillness = scene_stillness(frames, [d.index for d in delays])
    plan = webp_plan(quality, stillness if held else None)
    report(0.1)
    runs = webp_runs(len(delays), job_threads(WEBP_THREADS) if threads is None else threads)
    holds = [BlockHold(*plan.hold) if plan.hold else None for _ in runs]  # one per run
    settings = _Settings(plan.libwebp_quality, plan.method)
    with atomic_path(dest) as tmp:
        if len(runs) == 1:
            _encode_webp_run(
                frames, delays, tmp, settings, holds[0], lambda f: report(0.1 + 0.9 * f),
                loop=loop,
            )  # fmt: skip
        else:
            _encode_webp_runs(frames, delays, runs, tmp, settings, holds, report, loop_count)
    report(1.0)


def webp_runs(count: int, threads: int) -> list[slice]:
    """Cut ``count`` frames into at most ``threads`` runs of consecutive frames, each at least
    WEBP_MIN_RUN long (one run when there are too few), the longer runs first."""
    n = max(1, min(threads, count // WEBP_MIN_RUN))
    size, extra = divmod(count, n)
    bounds = [0]
    for k in range(n):
        bounds.append(bounds[-1] + size + (k < extra))
    return [slice(a, b) for a, b in itertools.pairwise(bounds)]


def _encode_webp_runs(
    frames: FrameSet,
    delays: Sequence[Delay],
    runs: Sequence[slice],
    dest: Path,
    settings: _Settings,
    holds: Sequence[BlockHold | None],
    report: Progress,
    loop_count: int,
) -> None:
    """Encode each run of ``delays`` on its own thread and join them into ``dest``, to play
    ``loop_count`` times; progress
    (0.1..1) is reported from this thread. After an error the other runs stop at their next
    frame and the first error is raised."""
    done = [0.0] * len(runs)
    stop = threading.Event()
    with (
        tempfile.TemporaryDirectory(prefix=".runs.", dir=dest.parent) as scratch,
        ThreadPoolExecutor(len(runs), "webp-run") as pool,
    ):
        parts = [Path(scratch) / f"{k}.webp" for k in range(len(runs))]
        pending = {
            pool.submit(
                _encode_webp_run, frames, delays[run], part, settings, hold,
                functools.partial(done.__setitem__, k), stop,
            )
            for k, (run, part, hold) in enumerate(zip(runs, parts, holds, strict=True))
        }  # fmt: skip
        try:
            while pending:
                finished, pending = wait(pending, 0.25, FIRST_EXCEPTION)
                for future in finished:
                    future.result()
                report(0.1 + 0.9 * sum(done) / len(runs))
        finally:
            stop.set()
        still_ms = [sum(d.delay for d in delays[run]) for run in runs]
        join_webps(parts, dest, still_ms, loop_count=loop_count)


def _encode_webp_run(
    frames: FrameSet,
    delays: Sequence[Delay],
    dest: Path,
    settings: _Settings,
    hold: BlockHold | None,
    progress: Progress,
    stop: threading.Event | None = None,
    loop: int = 0,
) -> None:
    """One libwebp animation of ``delays``' frames (a still picture for one frame), with the
    ANIM loop count ``loop``."""
    with frames.reader() as reader:
        frames_in = _LazyFrames(reader, [d.index for d in delays], hold, progress, stop)
        first = frames_in.first()
        first.save(
            dest,
            format="WEBP",
            save_all=True,
            append_images=cast(list[Image.Image], [frames_in]),
            duration=[d.delay for d in delays],
            loop=loop,
            quality=settings.quality,
            method=settings.method,
            lossless=False,
            **WEBP_ANIM_OPTIONS,
        )


class _Settings(NamedTuple):
    """libwebp's quality and effort (method 0..6: every sub-frame candidate of
    ``minimize_size`` is encoded at it) for every frame of one WebP (``quality.webp_plan``)."""

    quality: float
    method: int


class _Stopped(Exception):
    """Another run of the same WebP failed: this one stops too."""


class _LazyFrames:
    """The frames after the first, as a multi-frame image for Pillow's ``append_images``: each
    is read (and passed through the still-scene ``hold``, when given) on ``seek``, in order."""

    mode = "RGB"
    has_transparency_data = False

    def __init__(
        self,
        reader: FrameReader,
        indexes: Sequence[int],
        hold: BlockHold | None,
        progress: Progress,
        stop: threading.Event | None,
    ) -> None:
        self._reader = reader
        self._indexes = indexes
        self._hold = hold
        self._progress = progress
        self._stop = stop
        self._image: Image.Image | None = None
        self._at = -2  # the frame of ``_image``: -1 is the first (``first``), k the k-th after it
        self.n_frames = len(indexes) - 1

    def first(self) -> Image.Image:
        """The first frame (read before any ``seek``)."""
        self._load(-1)
        assert self._image is not None
        return self._image

    def seek(self, frame: int) -> None:
        """Load frame number ``frame`` of this sequence (frames after the first)."""
        self._load(frame)

    def getim(self) -> Any:
        """The core image of the current frame (what the WebP encoder consumes)."""
        if self._at < 0:
            self._load(0)
        assert self._image is not None
        return self._image.getim()

    def _load(self, frame: int) -> None:
        if frame == self._at:
            return
        if frame != self._at + 1:  # the hold needs the frames in order
            raise ValueError(f"frames are read in order: {frame} after {self._at}")
        if self._stop is not None and self._stop.is_set():
            raise _Stopped
        rgb = self._reader.frame(self._indexes[frame + 1])
        if self._hold is not None:
            rgb = self._hold.apply(rgb)[0]
        self._image = Image.fromarray(rgb, mode="RGB")
        self._at = frame
        self._progress(min(1.0, (frame + 2) / len(self._indexes)))
