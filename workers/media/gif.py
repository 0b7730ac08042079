"""The GIF encoder: one palette for the animation, then every frame dithered and coded once.

Pass 1 builds the palette (libavfilter's ``palettegen stats_mode=diff``, refined by k-means);
pass 2 drives the GIF writer (``gifwriter``) with the temporal hold and lossy LZW that the
Quality sets (``quality``). bench/README.md, "Where the encoder's settings come from", has the
measurements behind the settings below.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error
import numpy as np
import numpy.typing as npt

from animgraph.workers.media.atomic import atomic_path
from animgraph.workers.media.framestore import FrameReader, FrameSet
from animgraph.workers.media.gifwriter import TRANSPARENT, GifWriter
from animgraph.workers.media.palette import (
    ColourHistogram,
    FlatColours,
    pin_colours,
    refine_palette,
)
from animgraph.workers.media.progress import Progress, ignore_progress
from animgraph.workers.media.quality import (
    gif_hold_boost,
    gif_hold_levels,
    gif_lossy,
    gif_lossy_carry,
    gif_max_colors,
    hold_scale,
    lossy_scale,
)
from animgraph.workers.media.select import Selection
from animgraph.workers.media.temporal import NoiseMeter, TemporalHold, texture
from animgraph.workers.media.threads import job_threads
from animgraph.workers.media.timing import GIF_MIN_DELAY_CS, Delay, display_delays

__all__ = ["GIF_SEARCH", "GIF_THREADS", "PALETTE_ITERATIONS", "PALETTE_STEP", "encode_gif"]

# palettegen counts every PALETTE_STEP-th pixel of every PALETTE_STEP-th row: point sampling
# keeps the frames' real colours.
PALETTE_STEP = 2
# Lloyd iterations on palettegen's median cut (``palette.refine_palette``).
PALETTE_ITERATIONS = 10
# Exact colours covering at least this share of the sampled pixels are flat colours
# (``palette.FlatColours``): the palette holds them exactly, at most a FLAT_PALETTE_PART-th of
# its entries.
FLAT_MIN_SHARE = 0.002
FLAT_PALETTE_PART = 4
# palettegen keeps one entry per distinct colour it is fed, so it is fed 7 bits a channel (the
# bin's middle): half the memory; the k-means that follows works on exact colour means.
PALETTE_MASK = np.uint8(0xFE)
PALETTE_MASK_MID = np.uint8(0x01)
# Alternatives the coder's match search may try for each LZW code beyond the cheapest entry at
# each step (0: the greedy coder): each code is the longest run within the tolerance, as
# gifsicle's lossy mode searches.
GIF_SEARCH = 64
# Frames the GIF coder works on at once (``gifwriter``: the later one a row behind the earlier,
# the same bytes either way): at most two, as many as the job's threads (``threads``).
GIF_THREADS = 2

# The filter graph's clock: GIF delays are centiseconds.
_CS = Fraction(1, 100)


def encode_gif(
    frames: FrameSet,
    selection: Selection,
    dest: Path,
    *,
    quality: float,
    progress: Progress | None = None,
    loop_count: int = 0,
    max_colors: int | None = None,
) -> None:
    """Write ``selection`` of ``frames`` to ``dest`` as a GIF that plays ``loop_count`` times
    (0: forever; ``loopcount`` says how GIF stores it).

    One palette for the whole animation (libavfilter ``palettegen stats_mode=diff``, refined by
    k-means), Sierra-2-4A dithering with nearest colours in OkLab, a temporal hold (pixels whose
    source moved less than ``gif_hold_levels(quality)`` keep what is on screen: no shimmer,
    fewer bytes) and a GIF writer of our own (``gifwriter``) that writes only the changed
    rectangle of each frame, unchanged pixels transparent, with lossy LZW up to
    ``gif_lossy(quality)``. Memory is flat in the frame count: frames are read one at a time
    from the FrameSet, twice. ``max_colors`` (3..256, the transparent index one of them), when
    given, sizes the palette instead of ``gif_max_colors(quality)``: the byte budget
    (``budget``) gives up colours after Quality.
    """
    delays = display_delays(selection, 100, GIF_MIN_DELAY_CS)
    report = progress or ignore_progress
    meter = NoiseMeter()
    with frames.reader() as reader:
        colors = gif_max_colors(quality) if max_colors is None else max_colors
        palette, flat = _gif_palette(reader, delays, frames, colors, meter, report)
        levels = gif_hold_levels(quality) * gif_hold_boost(meter.noise, meter.moving)
        hold = TemporalHold(levels, noise=meter.noise)
        with atomic_path(dest) as tmp:
            lossy, carry = gif_lossy(quality), gif_lossy_carry(quality)
            _write_gif(
                reader, delays, frames, palette, flat, hold, lossy, carry, tmp, report, loop_count
            )
    report(1.0)


def _gif_palette(
    reader: FrameReader,
    delays: Sequence[Delay],
    frames: FrameSet,
    max_colors: int,
    meter: NoiseMeter,
    progress: Progress,
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
    """Pass 1: one palette for the animation from every shown frame, each point-sampled every
    ``PALETTE_STEP`` pixels: libavfilter's median cut (palettegen, diff stats), the flat
    colours (``palette.FlatColours``) put in exactly, then ``PALETTE_ITERATIONS`` k-means steps
    over the same samples that leave those in place. Returns the palette and the flat
    colours it holds."""
    graph = av.filter.Graph()
    step = PALETTE_STEP
    source = _rgb_buffer(graph, -(-frames.width // step), -(-frames.height // step))
    palettegen = graph.add("palettegen", f"max_colors={max_colors}:stats_mode=diff")
    sink = graph.add("buffersink")
    source.link_to(palettegen)
    palettegen.link_to(sink)
    graph.configure()
    hist = ColourHistogram()
    flat = FlatColours(FLAT_MIN_SHARE)
    for k, delay in enumerate(delays):
        rgb = reader.frame(delay.index)
        meter.add(rgb)
        sampled = np.ascontiguousarray(rgb[::step, ::step])
        hist.add(sampled)
        flat.add(sampled)
        source.push(_rgb_frame(sampled & PALETTE_MASK | PALETTE_MASK_MID, delay))
        # A pull makes the graph consume the pushed frame now; without it libavfilter queues
        # every frame until EOF and memory grows with the clip.
        _drain(sink)
        progress(0.3 * (k + 1) / len(delays))
    source.push(None)
    return _refined(sink.pull(), hist, flat, max_colors)


def _refined(
    palette: Any, hist: ColourHistogram, flat: FlatColours, max_colors: int
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
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
    exact = flat.colours(count // FLAT_PALETTE_PART)
    start, pinned = pin_colours(entries[:count, 2::-1].astype(np.float32), exact)
    refined = refine_palette(hist, start, PALETTE_ITERATIONS, pinned)
    return np.clip(np.rint(refined), 0, 255).astype(np.uint8), exact


def _write_gif(
    reader: FrameReader,
    delays: Sequence[Delay],
    frames: FrameSet,
    palette: npt.NDArray[np.uint8],
    flat: npt.NDArray[np.uint8],
    hold: TemporalHold,
    lossy: int,
    carry: int,
    dest: Path,
    progress: Progress,
    loop_count: int,
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
            threads=job_threads(GIF_THREADS),
            loop_count=loop_count,
            exact=flat,
        )
        try:
            for k, delay in enumerate(delays):
                rgb = reader.frame(delay.index)
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
