"""Encode selected FrameSet frames as a looping animated GIF or WebP (DESIGN "Encode").

Delays are whole units of each format (GIF 1/100 s, WebP 1/1000 s) and are rounded on the
cumulative timeline, ``delay_k = round(end_k * U) - round(start_k * U)``, so the rounding error
is carried forward and the total equals the segment length to the unit. Frames whose delay would
fall below what browsers honour (GIF 2 cs, WebP 11 ms; shorter ones are played as 100 ms) are
dropped and their time given to the frame before, which only happens above 50 fps or at the tail.
"""

from __future__ import annotations

import functools
import itertools
import math
import os
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import av
import av.error
import numpy as np
import numpy.typing as npt
from PIL import Image

from animgraph.workers.media.framestore import FrameReader, FrameSet
from animgraph.workers.media.gifwriter import TRANSPARENT, GifWriter
from animgraph.workers.media.join import join_webps
from animgraph.workers.media.palette import ColourHistogram, refine_palette
from animgraph.workers.media.select import Selection
from animgraph.workers.media.temporal import BlockHold, TemporalHold, texture

__all__ = [
    "GIF_MIN_DELAY_CS",
    "WEBP_MIN_DELAY_MS",
    "Delay",
    "display_delays",
    "encode_gif",
    "encode_webp",
    "gif_hold_levels",
    "gif_lossy",
    "gif_lossy_carry",
    "gif_max_colors",
    "still_fraction",
    "webp_hold",
    "webp_quality",
    "webp_runs",
]

GIF_MIN_DELAY_CS = 2
WEBP_MIN_DELAY_MS = 11
# palettegen counts every PALETTE_STEP-th pixel of every PALETTE_STEP-th row (point sampling keeps
# the frames' real colours). Measured on the bench corpus: step 2 takes a third off the GIF encode
# (the histogram and its median cut shrink 4x) with bytes within 0.3% and FLIP no worse.
PALETTE_STEP = 2
# Lloyd iterations on palettegen's median cut (workers/media/palette.py); converged by 10 on the
# bench corpus (25 changed FLIP by under 0.2 %).
PALETTE_ITERATIONS = 10
# palettegen keeps one 24-byte entry per distinct colour it is fed (libavfilter's colour hash),
# so its memory grows with the texture of the clip: 24 MB over 75 sampled frames of city.mpg at
# 320 px, the peak of a whole GIF job. It is fed 7 bits a channel (the bin's middle): half that
# memory, the same palette quality (FLIP and bytes within 0.5 % at Quality 75 on the bench
# corpus; 6 bits cost up to 2 % FLIP). The k-means that follows works on exact colour means.
PALETTE_MASK = np.uint8(0xFE)
PALETTE_MASK_MID = np.uint8(0x01)
# Lossy LZW tolerance at the default Quality 75 (the extra squared OkLab distance x 1e5 a lossy
# match may add over the nearest entry, see _gifcore.c), rising with the cube of (100 - Quality):
# 0 at 100, 4 at 90, 829 at 40, 3726 at 1, before the texture scale below. Chosen with the match
# search (GIF_SEARCH) on: at 100 (the greedy coder's value) the search's longer codes took
# 8-15 % of the bytes off but cost 1-3 % FLIP at Quality 75; at 60 every GIF job of the bench
# corpus is 1-4 % sharper than the greedy coder at 100 was, and smaller but on city.mpg (+1-3 %
# bytes); 70 was smaller everywhere but sharper by less (bench/README.md).
GIF_LOSSY_AT_DEFAULT = 60
# Alternatives the coder's match search may try for each LZW code, beyond the cheapest entry at
# each step (0: the greedy coder). Like gifsicle's lossy mode, each code is then the longest
# run the string table holds within the tolerance, not the run the cheapest step-by-step
# choice happens to reach. Measured on the bench corpus (320 px cockatoo.mp4, Quality 75): 16
# takes 8 % of the bytes off, 64 12 %, 256 no more than 64; 1280x720 frames encode ~40 ms slower
# each at 64.
GIF_SEARCH = 64
# Frames the GIF coder works on at once (``gifwriter``: the later one a row behind the earlier,
# the same bytes either way): two where there are two cores or more.
GIF_THREADS = 2 if (os.cpu_count() or 1) > 1 else 1
# WebP runs encoded at once (``webp_runs``): the selection is cut into runs of consecutive frames,
# each encoded by its own libwebp animation encoder on its own thread (Pillow lets go of the GIL
# in WebPAnimEncoderAdd) and the runs joined chunk by chunk (``join.join_webps``). A run starts
# with a key frame; with minimize_size libwebp sends many anyway on moving footage. Measured on
# the bench corpus (480 px, 15 fps, 3 s, Quality 75; 2 runs against 1): encode 0.50-0.53x the
# time; bytes +0.0 % on city.mpg and cockatoo.mp4, +5 % on the still vtest.avi (FLIP 3 % better
# there, the same elsewhere).
WEBP_THREADS = 2 if (os.cpu_count() or 1) > 1 else 1
# Frames a run has at least: a key frame costs a few ordinary frames' bytes.
WEBP_MIN_RUN = 12
# The temporal hold's levels on a smooth area: HOLD_PER_QUALITY a step of Quality below 100
# (0.76 at 75: only unchanged smooth pixels are held), at most HOLD_MAX (from Quality 34 down),
# where the lossy tolerance alone goes on growing: enough to hold the +-1 noise of a smooth
# area (tests/workers/media/test_media_encode.py), while held smooth pixels that drift further
# show as contours.
HOLD_PER_QUALITY = 0.76 / 25
HOLD_MAX = 2.0
# The Quality at and below which half of a lossy match's colour change is diffused (all of it
# from 75 up, see ``gif_lossy_carry``).
LOSSY_CARRY_LOW_QUALITY = 50.0
# Texture-scaled hold and lossy tolerance (``temporal.texture``, in luma levels): the hold's
# levels times 1 + HOLD_TEXTURE_GAIN x texture up to HOLD_TEXTURE_MAX; the lossy tolerance
# times LOSSY_SMOOTH + LOSSY_TEXTURE_GAIN x texture up to LOSSY_TEXTURE_MAX. A smooth area
# (texture ~0.5: cockatoo.mp4) is held only where it did not move and coded almost losslessly;
# fine detail (texture 15+: city.mpg) is held through 9 levels of change and coded with 3x the
# tolerance, where the eye (and FLIP) cannot tell. Chosen on the bench corpus at Quality 75
# against the targets of DESIGN.md (bench/README.md has the search and the numbers).
HOLD_TEXTURE_GAIN = 3.0
HOLD_TEXTURE_MAX = 12.0
LOSSY_SMOOTH = 0.4
LOSSY_TEXTURE_GAIN = 0.2
LOSSY_TEXTURE_MAX = 3.0
# libwebp effort 0..6. With minimize_size (below) every candidate sub-frame is encoded at this
# effort; measured on the bench corpus, 2 halves the encode time of 4 (city 1.11 -> 0.60 s) for
# 2-7% more bytes and FLIP within 1%; 3 is no faster than 4 here, 6 is 15x slower for 2% less.
WEBP_METHOD = 2
# libwebp's animation options (WebPAnimEncoderOptions). kmin = kmax = 0: no forced key frames,
# libwebp's own default and ffmpeg's (Pillow's default of a key frame every 3-5 frames made a fixed
# camera clip 1.4x the bytes of ffmpeg libwebp_anim). minimize_size: libwebp tries a key frame and
# each sub-frame candidate for every frame and keeps the smallest; measured without key frames it
# costs about half the encode time again and buys both bytes and FLIP (lossy sub-frames that skip
# near-equal pixels otherwise drift from the source).
WEBP_ANIM_OPTIONS: dict[str, Any] = {"kmin": 0, "kmax": 0, "minimize_size": True}
# Template Quality at which libwebp gets WEBP_QUALITY_AT_DEFAULT (piecewise linear, 0 and 100
# at the ends): on the bench corpus libwebp 60 with the options above is at least as sharp (FLIP)
# as ffmpeg libwebp_anim -q 75 on moving footage, at 0.8-0.9x its bytes.
WEBP_DEFAULT_QUALITY = 75
WEBP_QUALITY_AT_DEFAULT = 60
# Still scenes (``temporal.BlockHold``): at the default Quality a 16x16 block is sent again when
# its mean changed by more than WEBP_STILL_SHIFT levels or a pixel by more than WEBP_STILL_PEAK,
# both scaled by (100 - Quality) / 25 up to twice that (0 at 100). When at least WEBP_STILL_SCENE
# of the blocks are held over the animation at the default thresholds (a fixed camera: 0.93 on
# vtest.avi; 0.29 and 0.26 on city.mpg and cockatoo.mp4, at most 0.49 at any threshold scale),
# the held frames are encoded at a libwebp quality WEBP_STILL_CLOSER of the way nearer 100
# (60 -> 80 at the default): the bytes go to what moves. Measured on the bench corpus at Quality
# 75 against ffmpeg libwebp_anim q 75: vtest.avi 0.71x the bytes at FLIP 1.10x without, 0.74x
# at 0.90x with (Quality 60: 0.53x at 1.00x). On moving footage a hold saves about what it costs
# in FLIP (city.mpg held this way at libwebp 70: 0.75x at 1.04x, plain libwebp 65: 0.94x at
# 0.96x), so city.mpg and cockatoo.mp4 are encoded as before.
WEBP_STILL_SHIFT = 2.0
WEBP_STILL_PEAK = 40.0
WEBP_STILL_SCENE = 0.6
WEBP_STILL_CLOSER = 0.5

Progress = Callable[[float], None]


@dataclass(frozen=True, slots=True)
class Delay:
    """One output frame: FrameSet ``index`` shown from ``start`` for ``delay`` format units."""

    index: int
    start: int
    delay: int


def display_delays(selection: Selection, units_per_s: int, min_units: int = 1) -> list[Delay]:
    """Quantise a selection to whole units on the cumulative timeline (error carried forward).

    Times start at 0 for the first shown frame. A frame shorter than ``min_units`` once rounded
    is dropped and the frame before it (after it, for the first) fills its time.
    """
    if not selection:
        raise ValueError("cannot encode an empty selection")
    origin = selection[0].start_s
    bounds = [_units(s.start_s - origin, units_per_s) for s in selection]
    bounds.append(_units(selection[-1].end_s - origin, units_per_s))
    # A frame too short once rounded is dropped; the frame before it stays on screen longer.
    kept = [
        (shown.index, start)
        for shown, start, stop in zip(selection, bounds, bounds[1:], strict=False)
        if stop - start >= min_units
    ] or [(selection[0].index, 0)]
    starts = [0] + [start for _, start in kept[1:]]
    stops = [*starts[1:], max(bounds[-1], min_units)]
    return [
        Delay(index, start, stop - start)
        for (index, _), start, stop in zip(kept, starts, stops, strict=True)
    ]


def gif_max_colors(quality: float) -> int:
    """Palette size for a template Quality: 256 from 40 up, then down to 64 at Quality 1.

    Measured on the bench corpus, holding still pixels (``gif_hold_levels``) buys far more bytes
    per unit of FLIP than dropping colours, so colours only fall at the low end of the scale.
    """
    if quality >= 40:
        return 256
    return max(64, min(256, round(2 ** (6 + 2 * (max(quality, 1.0) - 1) / 39))))


def gif_hold_levels(quality: float) -> float:
    """Source change (0..255, largest channel) below which a smooth pixel keeps its shown index
    (``hold_scale`` raises it on texture).

    0 at Quality 100 (every change is redrawn), 0.76 at the default 75 (only unchanged smooth
    pixels are held), 2 from Quality 34 down: the higher, the fewer pixels each frame redraws,
    the smaller and steadier the GIF.
    """
    return min(HOLD_PER_QUALITY * (100 - min(max(quality, 1.0), 100.0)), HOLD_MAX)


def hold_scale(busy: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Per-pixel multiplier of ``gif_hold_levels`` for a ``texture`` map: 1 on smooth areas,
    rising by HOLD_TEXTURE_GAIN a level of texture up to HOLD_TEXTURE_MAX."""
    return np.asarray(np.clip(1 + HOLD_TEXTURE_GAIN * busy, 1, HOLD_TEXTURE_MAX), dtype=np.float32)


def lossy_scale(busy: npt.NDArray[np.float32]) -> npt.NDArray[np.uint8]:
    """Per-pixel multiplier of ``gif_lossy`` in sixteenths for a ``texture`` map: LOSSY_SMOOTH
    on smooth areas, rising by LOSSY_TEXTURE_GAIN a level of texture up to LOSSY_TEXTURE_MAX."""
    scale = np.clip(LOSSY_SMOOTH + LOSSY_TEXTURE_GAIN * busy, 0, LOSSY_TEXTURE_MAX)
    return np.asarray(np.rint(scale * 16), dtype=np.uint8)


def gif_lossy_carry(quality: float) -> int:
    """256ths of a lossy match's colour change diffused to the neighbours: all of it from the
    default Quality 75 up, falling linearly to half at LOSSY_CARRY_LOW_QUALITY and below.

    At low Quality the tolerances are large and diffusing all of their change turns into grain;
    measured on the bench corpus, half of it puts the curve lower (1280 px `cockatoo.mp4`: 0.30x
    the bytes of ffmpeg two-pass at FLIP 1.22x instead of 1.33x) and a quarter is no better.
    """
    q = min(max(quality, LOSSY_CARRY_LOW_QUALITY), 75.0)
    return round(128 + 128 * (q - LOSSY_CARRY_LOW_QUALITY) / (75 - LOSSY_CARRY_LOW_QUALITY))


def gif_lossy(quality: float) -> int:
    """Lossy LZW tolerance for a template Quality: 0 at 100, ``GIF_LOSSY_AT_DEFAULT`` at 75,
    with the cube of (100 - Quality)."""
    q = min(max(quality, 1.0), 100.0)
    return round(GIF_LOSSY_AT_DEFAULT * ((100 - q) / 25) ** 3)


def webp_quality(quality: float) -> float:
    """libwebp's 0..100 quality for a template Quality 1..100, monotonic: 0 -> 0, 75 -> 60,
    100 -> 100, linear in between."""
    q = min(max(quality, 0.0), 100.0)
    if q <= WEBP_DEFAULT_QUALITY:
        return q * WEBP_QUALITY_AT_DEFAULT / WEBP_DEFAULT_QUALITY
    rest = (q - WEBP_DEFAULT_QUALITY) / (100 - WEBP_DEFAULT_QUALITY)
    return WEBP_QUALITY_AT_DEFAULT + rest * (100 - WEBP_QUALITY_AT_DEFAULT)


def webp_hold(quality: float) -> tuple[float, float]:
    """The still-scene hold's (mean shift, peak) change thresholds in levels for a template
    Quality: (WEBP_STILL_SHIFT, WEBP_STILL_PEAK) at 75, scaled by (100 - Quality) / 25 up to
    twice that; (0, 0) at 100."""
    q = min(max(quality, 1.0), 100.0)
    scale = min((100 - q) / 25, 2.0)
    return WEBP_STILL_SHIFT * scale, WEBP_STILL_PEAK * scale


def encode_gif(
    frames: FrameSet,
    selection: Selection,
    dest: Path,
    *,
    quality: float,
    progress: Progress | None = None,
) -> None:
    """Write ``selection`` of ``frames`` to ``dest`` as a GIF that loops forever.

    One palette for the whole animation (libavfilter ``palettegen stats_mode=diff``, refined by
    k-means), Sierra-2-4A dithering with nearest colours in OkLab, a temporal hold (pixels whose
    source moved less than ``gif_hold_levels(quality)`` keep what is on screen: no shimmer,
    fewer bytes) and a GIF writer of our own (``gifwriter``) that writes only the changed
    rectangle of each frame, unchanged pixels transparent, with lossy LZW up to
    ``gif_lossy(quality)``. Memory is flat in the frame count: frames are read one at a time
    from the FrameSet, twice.
    """
    delays = display_delays(selection, 100, GIF_MIN_DELAY_CS)
    report = progress or _ignore
    hold = TemporalHold(gif_hold_levels(quality))
    with frames.reader() as reader:
        palette = _gif_palette(reader, delays, frames, gif_max_colors(quality), report)
        with _atomic_output(dest) as tmp:
            lossy, carry = gif_lossy(quality), gif_lossy_carry(quality)
            _write_gif(reader, delays, frames, palette, hold, lossy, carry, tmp, report)
    report(1.0)


def encode_webp(
    frames: FrameSet,
    selection: Selection,
    dest: Path,
    *,
    quality: float,
    progress: Progress | None = None,
    threads: int = WEBP_THREADS,
) -> None:
    """Write ``selection`` of ``frames`` to ``dest`` as a lossy WebP that loops forever.

    libwebp's animation encoder through Pillow, with exact millisecond timestamps (PyAV's
    ``libwebp_anim`` guesses the last frame's duration), no forced key frames and libwebp's
    smallest-candidate search (``WEBP_ANIM_OPTIONS``). ``quality`` is the template Quality,
    mapped to libwebp's by ``webp_quality``. A still scene (``still_fraction``: a fixed camera)
    has its unchanged blocks held (``webp_hold``) and the rest coded at a higher libwebp quality.
    With ``threads`` > 1 and frames enough (``webp_runs``), runs of consecutive frames are
    encoded at once, each by its own encoder on its own thread, and joined chunk by chunk.
    Frames are read lazily one at a time; libwebp itself keeps only the encoded frames and two
    canvases, so memory is flat in the frame count apart from the compressed output. A selection
    of one frame (a still segment) gives a still WebP: libwebp writes no animation for it.
    """
    delays = display_delays(selection, 1000, WEBP_MIN_DELAY_MS)
    report = progress or _ignore
    shift, peak = webp_hold(quality)
    libwebp_quality = webp_quality(quality)
    still = False
    if shift > 0:  # Pass 1: is it a still scene? (A few ms a frame.)
        with frames.reader() as reader:
            indexes = [d.index for d in delays]
            still = still_fraction(reader, indexes, WEBP_STILL_SCENE) >= WEBP_STILL_SCENE
    if still:
        libwebp_quality += (100 - libwebp_quality) * WEBP_STILL_CLOSER
    report(0.1)
    runs = webp_runs(len(delays), threads)
    holds = [BlockHold(shift, peak) if still else None for _ in runs]  # one per run
    with _atomic_output(dest) as tmp:
        if len(runs) == 1:
            _encode_webp_run(
                frames, delays, tmp, libwebp_quality, holds[0], lambda f: report(0.1 + 0.9 * f)
            )
        else:
            _encode_webp_runs(frames, delays, runs, tmp, libwebp_quality, holds, report)
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
    libwebp_quality: float,
    holds: Sequence[BlockHold | None],
    report: Progress,
) -> None:
    """Encode each run of ``delays`` on its own thread and join them into ``dest``; progress
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
                _encode_webp_run, frames, delays[run], part, libwebp_quality, hold,
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
        join_webps(parts, dest, [sum(d.delay for d in delays[run]) for run in runs])


def _encode_webp_run(
    frames: FrameSet,
    delays: Sequence[Delay],
    dest: Path,
    libwebp_quality: float,
    hold: BlockHold | None,
    progress: Progress,
    stop: threading.Event | None = None,
) -> None:
    """One libwebp animation of ``delays``' frames (a still picture for one frame)."""
    with frames.reader() as reader:
        frames_in = _LazyFrames(reader, [d.index for d in delays], hold, progress, stop)
        first = frames_in.first()
        first.save(
            dest,
            format="WEBP",
            save_all=True,
            append_images=cast(list[Image.Image], [frames_in]),
            duration=[d.delay for d in delays],
            loop=0,
            quality=libwebp_quality,
            method=WEBP_METHOD,
            lossless=False,
            **WEBP_ANIM_OPTIONS,
        )


def still_fraction(
    reader: FrameReader, indexes: Sequence[int], enough: float | None = None
) -> float:
    """The mean fraction of blocks ``BlockHold`` holds in the frames ``indexes`` after the first,
    at the default thresholds whatever the Quality: whether footage is a still scene is a
    property of the footage, so the size/quality curve stays monotonic. 0 for one frame.
    With ``enough``, stops as soon as the mean can no longer reach it (and returns the mean so
    far): moving footage is told after about half its frames."""
    if len(indexes) < 2:
        return 0.0
    probe = BlockHold(WEBP_STILL_SHIFT, WEBP_STILL_PEAK)
    probe.apply(_rgb_of(reader, indexes[0]))
    total, count = 0.0, len(indexes) - 1
    for k, index in enumerate(indexes[1:]):
        total += probe.apply(_rgb_of(reader, index))[1]
        if enough is not None and total + (count - k - 1) < enough * count:
            return total / (k + 1)
    return total / count


def _rgb_of(reader: FrameReader, index: int) -> npt.NDArray[np.uint8]:
    return np.ascontiguousarray(reader.frame(index))


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
        rgb = _rgb_of(self._reader, self._indexes[frame + 1])
        if self._hold is not None:
            rgb = self._hold.apply(rgb)[0]
        self._image = Image.fromarray(rgb, mode="RGB")
        self._at = frame
        self._progress(min(1.0, (frame + 2) / len(self._indexes)))


def _gif_palette(
    reader: FrameReader,
    delays: Sequence[Delay],
    frames: FrameSet,
    max_colors: int,
    progress: Progress,
) -> Any:
    """Pass 1: one palette for the animation from every shown frame, each point-sampled every
    ``PALETTE_STEP`` pixels: libavfilter's median cut (palettegen, diff stats), then
    ``PALETTE_ITERATIONS`` k-means steps over the same samples."""
    graph = av.filter.Graph()
    step = PALETTE_STEP
    source = _rgb_buffer(graph, -(-frames.width // step), -(-frames.height // step))
    palettegen = graph.add("palettegen", f"max_colors={max_colors}:stats_mode=diff")
    sink = graph.add("buffersink")
    source.link_to(palettegen)
    palettegen.link_to(sink)
    graph.configure()
    hist = ColourHistogram()
    for k, delay in enumerate(delays):
        sampled = np.ascontiguousarray(reader.frame(delay.index)[::step, ::step])
        hist.add(sampled)
        source.push(_rgb_frame(sampled & PALETTE_MASK | PALETTE_MASK_MID, delay))
        # A pull makes the graph consume the pushed frame now; without it libavfilter queues
        # every frame until EOF and memory grows with the clip.
        _drain(sink)
        progress(0.3 * (k + 1) / len(delays))
    source.push(None)
    return _refined(sink.pull(), hist, max_colors)


def _refined(palette: Any, hist: ColourHistogram, max_colors: int) -> npt.NDArray[np.uint8]:
    """palettegen's palette (16x16 BGRA) with its colours moved by k-means, as RGB entries.

    palettegen reserves the last entry for transparency and pads a palette of fewer than 256
    colours with copies of its last colour: only the first ``max_colors - 1`` entries are
    kept and refined.
    """
    if palette.format.name != "bgra":  # pragma: no cover - palettegen's documented output
        raise ValueError(f"unexpected palette format {palette.format.name}")
    entries = palette.to_ndarray().reshape(-1, 4)
    opaque = int(np.count_nonzero(entries[:, 3] == 255))
    count = max(1, min(max_colors - 1, opaque, TRANSPARENT))
    refined = refine_palette(hist, entries[:count, 2::-1].astype(np.float32), PALETTE_ITERATIONS)
    return np.clip(np.rint(refined), 0, 255).astype(np.uint8)


def _write_gif(
    reader: FrameReader,
    delays: Sequence[Delay],
    frames: FrameSet,
    palette: npt.NDArray[np.uint8],
    hold: TemporalHold,
    lossy: int,
    carry: int,
    dest: Path,
    progress: Progress,
) -> None:
    """Pass 2: every frame dithered and coded in one pass, still pixels held. ``palette`` is
    (N, 3) RGB, N < 256 (the last index is kept for transparency); ``lossy`` and ``carry`` are
    the lossy LZW tolerance and carry (``gif_lossy``, ``gif_lossy_carry``). The texture map is
    computed only when the hold or the tolerance uses it (not at Quality 100)."""
    scaled = hold.levels > 0 or lossy > 0
    with dest.open("wb") as out:
        writer = GifWriter(
            out,
            frames.width,
            frames.height,
            palette,
            lossy,
            carry=carry,
            search=GIF_SEARCH,
            threads=GIF_THREADS,
        )
        try:
            for k, delay in enumerate(delays):
                rgb = _rgb_of(reader, delay.index)
                busy = texture(rgb) if scaled else None
                redraw = hold.redraw(rgb, None if busy is None else hold_scale(busy))
                tolerance = None if busy is None else lossy_scale(busy)
                drawn = writer.add(rgb, redraw, delay.delay, tolerance)
                hold.wrote(drawn, rgb)
                progress(0.3 + 0.7 * (k + 1) / len(delays))
        except BaseException:
            writer.abandon()
            raise
        writer.close()


_CS = Fraction(1, 100)


def _rgb_buffer(graph: Any, width: int, height: int) -> Any:
    """A filter-graph input for RGB24 frames of ``width`` x ``height``, timed in centiseconds."""
    return graph.add_buffer(width=width, height=height, format="rgb24", time_base=_CS)


def _rgb_frame(rgb: Any, delay: Delay) -> Any:
    """A PyAV RGB24 frame of ``rgb`` stamped with the start of ``delay`` in centiseconds."""
    frame = av.VideoFrame.from_ndarray(rgb, "rgb24")
    frame.pts = delay.start
    frame.time_base = _CS
    return frame


def _drain(sink: Any) -> list[Any]:
    """Every frame a buffersink has ready now."""
    out: list[Any] = []
    while True:
        try:
            out.append(sink.pull())
        except (av.error.BlockingIOError, av.error.EOFError):
            return out


def _units(seconds: float, units_per_s: int) -> int:
    """Round seconds to whole units, half up (Python's round() would go to even)."""
    return math.floor(seconds * units_per_s + 0.5)


@contextmanager
def _atomic_output(dest: Path) -> Iterator[Path]:
    """A temporary path beside ``dest``, renamed onto it once the body succeeds."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, dest)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _ignore(fraction: float) -> None:
    """A progress callback that does nothing."""
