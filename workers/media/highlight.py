"""The best moment of a source: one contiguous, cut-free segment of a given length (issue 19).

``pick_highlight(thumbs, pts_s, duration_s=..., ...)`` works on the thumbnails of the whole
source (``analyse.analyse_source``; sampled for long sources) and returns a ``Highlight``.

Candidates. Each cut-free, gap-free stretch of frames (``shots.stretches``) is sampled at the
output rate on its own grid, t_k = (stretch start) + k / fps, the frame on screen at t_k standing
for output frame k, as the encoder would show it. A candidate is ``round(duration_s * fps)``
consecutive grid frames inside one stretch, so it never spans a cut or a gap; its start is a grid
time (a resolution of one output frame).

Scoring. For each candidate:

- motion: the mean ``frame_distance`` of its consecutive grid frames, the change a viewer sees
  from one output frame to the next (0 for a still picture);
- detail: the mean ``thumbs.gradient_energy`` of its grid frames (edges and texture; 0 for a
  flat picture).

Both are divided by their median over all candidates of the source, so 1.0 is a typical moment
of this source, and ``score = motion * sqrt(detail)``: motion counts most (a still, detailed
picture is not an animation), detail breaks ties between equally lively moments and prefers a
sharp picture to a blurred or dark one.

With ``seamless``, the ``SEAM_CANDIDATES`` (5) best candidates that overlap each other by at most
half their length get a seam (``seam.find_seam`` with ``window_s``), and the score is divided by
the seam's SeamScore when that is above 1: the highlight is the best moment that also loops.
Its offsets are then the seam's.

A source whose every stretch is shorter than ``duration_s`` yields its longest stretch, whole
(score 1.0; with ``seamless``, its seam is that stretch as it is, cross-faded if need be).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import median

import numpy as np

from animgraph.workers.media.seam import Seam, find_seam
from animgraph.workers.media.shots import stretches
from animgraph.workers.media.thumbs import Thumb, frame_distance, gradient_energy

__all__ = ["SEAM_CANDIDATES", "Highlight", "pick_highlight"]

SEAM_CANDIDATES = 5
_EPS_S = 1e-6


@dataclass(frozen=True, slots=True)
class Highlight:
    """The chosen segment [start_s, end_s) (video clock), its score (module doc; 1.0 is a
    typical moment of the source) and, when seamless, the seam whose offsets these are."""

    start_s: float
    end_s: float
    score: float
    seam: Seam | None = None


@dataclass(frozen=True, slots=True)
class _Candidate:
    start_s: float
    end_s: float
    motion: float
    detail: float


def pick_highlight(
    thumbs: Sequence[Thumb],
    pts_s: Sequence[float],
    *,
    duration_s: float,
    cuts: Sequence[int] = (),
    seamless: bool = False,
    window_s: float = 1.0,
    fps: int = 10,
    max_frames: int = 3000,
) -> Highlight:
    """The contiguous, cut-free segment of ``duration_s`` that scores highest (module doc)."""
    if len(thumbs) != len(pts_s) or not pts_s:
        raise ValueError(f"need one thumbnail per timestamp, got {len(thumbs)} and {len(pts_s)}")
    if duration_s <= 0 or fps < 1:
        raise ValueError(f"bad highlight request: {duration_s} s at {fps} fps")
    count = max(2, round(duration_s * fps))
    interval = _interval(pts_s)
    candidates: list[_Candidate] = []
    longest: tuple[float, float] = (pts_s[0], pts_s[0] + interval)
    for begin, end in stretches(pts_s, cuts):
        span = (pts_s[begin], pts_s[end - 1] + interval)
        if span[1] - span[0] > longest[1] - longest[0]:
            longest = span
        candidates.extend(_stretch_candidates(thumbs, pts_s, begin, end, span, count, fps))
    if not candidates:
        if not seamless:
            return Highlight(longest[0], longest[1], 1.0, None)
        seam = find_seam(
            thumbs,
            pts_s,
            start_s=longest[0],
            end_s=longest[1],
            window_s=0.0,
            fps=fps,
            cuts=cuts,
            max_frames=max_frames,
        )
        return Highlight(seam.start_s, seam.end_s, 1.0, seam)
    motion_unit = max(median(c.motion for c in candidates), 1e-6)
    detail_unit = max(median(c.detail for c in candidates), 1e-6)
    scored = sorted(
        (((c.motion / motion_unit) * math.sqrt(c.detail / detail_unit), c) for c in candidates),
        key=lambda sc: (-sc[0], sc[1].start_s),
    )
    if not seamless:
        score, best = scored[0]
        return Highlight(best.start_s, best.end_s, score, None)
    picked: list[Highlight] = []
    for score, c in scored:
        if len(picked) == SEAM_CANDIDATES:
            break
        if any(_overlap(c.start_s, c.end_s, h.start_s, h.end_s) > duration_s / 2 for h in picked):
            continue
        seam = find_seam(
            thumbs,
            pts_s,
            start_s=c.start_s,
            end_s=c.end_s,
            window_s=window_s,
            fps=fps,
            cuts=cuts,
            max_frames=max_frames,
        )
        picked.append(Highlight(seam.start_s, seam.end_s, score / max(seam.score, 1.0), seam))
    return max(picked, key=lambda h: h.score)


def _stretch_candidates(
    thumbs: Sequence[Thumb],
    pts_s: Sequence[float],
    begin: int,
    end: int,
    span: tuple[float, float],
    count: int,
    fps: int,
) -> list[_Candidate]:
    """The candidates of ``count`` grid frames inside the stretch [begin, end)."""
    grid_count = math.floor(round((span[1] - span[0]) * fps, 6))
    if grid_count < count:
        return []
    times = [span[0] + k / fps for k in range(grid_count)]
    stretch_pts = pts_s[begin:end]
    indexes = [
        begin + max(int(np.searchsorted(stretch_pts, t + _EPS_S, "right")) - 1, 0) for t in times
    ]
    detail = np.array([gradient_energy(thumbs[i]) for i in indexes])
    steps = np.array([frame_distance(thumbs[a], thumbs[b]) for a, b in itertools.pairwise(indexes)])
    detail_sums = np.concatenate([[0.0], np.cumsum(detail)])
    step_sums = np.concatenate([[0.0], np.cumsum(steps)])
    out = []
    for k in range(grid_count - count + 1):
        motion = (step_sums[k + count - 1] - step_sums[k]) / (count - 1)
        mean_detail = (detail_sums[k + count] - detail_sums[k]) / count
        start = times[k]
        out.append(_Candidate(start, start + count / fps, float(motion), float(mean_detail)))
    return out


def _interval(pts_s: Sequence[float]) -> float:
    """The usual time between frames (the median; 0.1 s for a single frame)."""
    steps = [b - a for a, b in itertools.pairwise(pts_s)]
    return median(steps) if steps else 0.1


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))
