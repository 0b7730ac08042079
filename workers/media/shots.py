"""Shot cuts in a sequence of frame thumbnails, and the cut-free stretches between them (issue 19).

``detect_cuts(thumbs, pts_s)`` returns the indexes ``i`` where frame ``i`` begins a new shot. It
follows PySceneDetect's ``AdaptiveDetector`` (a content detector with an adaptive threshold), on
our own thumbnails and with no OpenCV:

1. the content change of frame ``i`` is ``frame_distance(thumbs[i - 1], thumbs[i])``, the mean
   OkLab ΔE between the two (``thumbs``): a cut changes most of the picture at once;
2. its adaptive ratio is that change over the mean change of the ``WINDOW_FRAMES`` frames on each
   side of it: fast motion or a pan changes the picture a lot in every frame, so its ratio stays
   near 1, while a cut stands out from the frames around it;
3. the same is done for the change of the colour histogram (``histogram_change``: the share
   of thumbnail pixels that moved to another OkLab colour bin, 0..1): motion moves things but
   keeps their colours, a cut replaces them. On tests/data/cockatoo.mp4 a sudden jerk of the
   hand-held camera at 6.7 s changes the picture by 0.11 ΔE_OK with a ratio of 4.4, but its
   histogram by only 0.08 with a ratio of 2.5; city.mpg's one cut (4.64 s) is 0.17 ΔE_OK
   (ratio 27) and 0.50 of the histogram (ratio 43);
4. frame ``i`` is a cut when both ratios are at least ``RATIO`` (3, PySceneDetect's default), the
   content change is at least ``MIN_CHANGE`` (0.05 ΔE_OK; ordinary steps on the corpus reach 0.15
   on cockatoo.mp4's fast motion, 0.011 on the fixed camera of vtest.avi) and the histogram
   change at least ``MIN_HISTOGRAM_CHANGE`` (0.15; cockatoo.mp4's motion reaches 0.24, never
   together with both ratios). A cut between two shots of the same colours is missed: the price of
   ignoring fast motion;
5. cuts closer than ``MIN_SHOT_S`` (0.5 s, PySceneDetect's 15 frames at 30 fps) to a stronger
   cut are dropped: a flash or a one-frame glitch is two large changes in a row, not two shots.

Gradual transitions (dissolves, fades) are not detected: each of their steps is small. At the
ends of a run, where a frame has fewer than ``WINDOW_FRAMES`` neighbours on one side, the
``2 * WINDOW_FRAMES`` nearest frames of the run are its neighbours.

The thumbnails may be sampled (``analyse.analyse_source`` decodes runs of frames spread over a
long source): where the time between two frames is more than ``GAP_FACTOR`` times the usual
frame interval, they are not compared. ``stretches`` gives the index ranges that hold no cut
and no such gap: a seam or a highlight never spans two of them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from statistics import median

import numpy as np
import numpy.typing as npt

from animgraph.workers.media.thumbs import Thumb, frame_distance

__all__ = [
    "GAP_FACTOR",
    "MIN_CHANGE",
    "MIN_HISTOGRAM_CHANGE",
    "MIN_SHOT_S",
    "RATIO",
    "WINDOW_FRAMES",
    "changes",
    "colour_histogram",
    "detect_cuts",
    "histogram_change",
    "runs",
    "stretches",
]

RATIO = 3.0
MIN_CHANGE = 0.05
MIN_HISTOGRAM_CHANGE = 0.15
MIN_SHOT_S = 0.5
WINDOW_FRAMES = 2
GAP_FACTOR = 3.0

# OkLab colour bins of the histogram: lightness 0..1 in 8, a and b in -0.25..0.25 in 6 each.
_BINS = (8, 6, 6)
_AB_RANGE = 0.25


def runs(pts_s: Sequence[float]) -> list[tuple[int, int]]:
    """The contiguous runs of frames, as index ranges [begin, end): a new run starts where the
    time since the previous frame is more than ``GAP_FACTOR`` times the median interval."""
    n = len(pts_s)
    if n == 0:
        return []
    if n == 1:
        return [(0, 1)]
    intervals = [b - a for a, b in itertools.pairwise(pts_s)]
    limit = GAP_FACTOR * median(intervals)
    out: list[tuple[int, int]] = []
    begin = 0
    for i, step in enumerate(intervals, start=1):
        if step > limit:
            out.append((begin, i))
            begin = i
    out.append((begin, n))
    return out


def colour_histogram(thumb: Thumb) -> npt.NDArray[np.float64]:
    """The share of the thumbnail's pixels in each OkLab colour bin (sums to 1)."""
    lab = thumb.reshape(-1, 3)
    bins = np.asarray(_BINS)
    lo = np.array([0.0, -_AB_RANGE, -_AB_RANGE])
    span = np.array([1.0, 2 * _AB_RANGE, 2 * _AB_RANGE])
    cell = np.clip(((lab - lo) / span * bins).astype(np.int64), 0, bins - 1)
    flat = (cell[:, 0] * bins[1] + cell[:, 1]) * bins[2] + cell[:, 2]
    counts = np.bincount(flat, minlength=int(bins.prod())).astype(np.float64)
    return np.asarray(counts / counts.sum(), dtype=np.float64)


def histogram_change(a: Thumb, b: Thumb) -> float:
    """The share of pixels that changed colour bin between two thumbnails (total variation
    distance of their colour histograms, 0..1)."""
    return float(0.5 * np.abs(colour_histogram(a) - colour_histogram(b)).sum())


def changes(thumbs: Sequence[Thumb], pts_s: Sequence[float]) -> list[float]:
    """The content change of each frame from the one before (``frame_distance``); NaN for the
    first frame of each run, which has no predecessor to compare with."""
    if len(thumbs) != len(pts_s):
        raise ValueError(f"{len(thumbs)} thumbnails for {len(pts_s)} timestamps")
    out = [math.nan] * len(thumbs)
    for begin, end in runs(pts_s):
        for i in range(begin + 1, end):
            out[i] = frame_distance(thumbs[i - 1], thumbs[i])
    return out


def detect_cuts(thumbs: Sequence[Thumb], pts_s: Sequence[float]) -> list[int]:
    """Indexes ``i`` (increasing) where frame ``i`` begins a new shot (see the module doc)."""
    content = changes(thumbs, pts_s)
    candidates: list[tuple[float, int]] = []
    for begin, end in runs(pts_s):
        steps = list(range(begin + 1, end))  # frames with a predecessor in the run
        if not steps:
            continue
        hist = [colour_histogram(thumbs[i]) for i in range(begin, end)]
        colour = {
            i: float(0.5 * np.abs(hist[i - begin] - hist[i - 1 - begin]).sum()) for i in steps
        }
        for i in steps:
            if content[i] < MIN_CHANGE or colour[i] < MIN_HISTOGRAM_CHANGE:
                continue
            around = _neighbours(steps, i)
            if _ratio(content[i], [content[j] for j in around]) < RATIO:
                continue
            if _ratio(colour[i], [colour[j] for j in around]) < RATIO:
                continue
            candidates.append((content[i], i))
    kept: list[int] = []
    for _, i in sorted(candidates, reverse=True):  # strongest first
        if all(abs(pts_s[i] - pts_s[k]) >= MIN_SHOT_S for k in kept):
            kept.append(i)
    return sorted(kept)


def _neighbours(steps: Sequence[int], i: int) -> list[int]:
    """The ``2 * WINDOW_FRAMES`` steps of the run nearest to step ``i`` (``i`` excluded):
    ``WINDOW_FRAMES`` on each side, more from one side where the run ends on the other."""
    k = steps.index(i)
    lo = max(0, min(k - WINDOW_FRAMES, len(steps) - 1 - 2 * WINDOW_FRAMES))
    return [j for j in steps[lo : lo + 2 * WINDOW_FRAMES + 1] if j != i]


def _ratio(value: float, around: Sequence[float]) -> float:
    """``value`` over the mean of ``around``; with nothing around (a run of two frames) it is
    compared with the minimum a cut needs, so only a change far above it counts."""
    if not around:
        return math.inf if value >= 2 * MIN_CHANGE else 0.0
    return value / max(float(np.mean(around)), 1e-9)


def stretches(pts_s: Sequence[float], cuts: Sequence[int]) -> list[tuple[int, int]]:
    """The index ranges [begin, end) that hold no cut and no gap in time, in order."""
    out: list[tuple[int, int]] = []
    cut_set = sorted(set(cuts))
    for begin, end in runs(pts_s):
        edges = [begin, *(c for c in cut_set if begin < c < end), end]
        out.extend((a, b) for a, b in itertools.pairwise(edges) if b > a)
    return out
