"""The seam of a looping animation: where to cut a segment so its jump back is not seen (issue 19).

An animated image plays its frames and then jumps from the last frame shown back to the first.
``find_seam`` moves the end of a requested segment [start_s, end_s) (and its start, when that
helps more) by at most ``window_s`` so that this jump looks like an ordinary frame step.

Frames and times. ``thumbs[i]`` is the ``thumbs.thumbnail`` of the frame at ``pts_s[i]`` (seconds
on the video clock, increasing, every decoded frame of the region: the frames an animation shows
depend on all of them). An animation of [s, e) at ``fps`` shows ``select.select_frames(pts_s,
start_s=s, end_s=e, fps=fps)``: the frame on screen at the middle of each output slot.
Candidates are whole numbers of slots, e = s + n / fps, so every frame of the loop, the one
before the jump included, is shown for one slot.

Search cost (what is minimised): the Video Textures filtered distance (Schödl et al., 2000). Let
``at(t)`` be the frame on screen at t. A loop [s, e) is seamless when the frames the source
would show after the end, at e + (k + 1/2) / fps, are the frames the loop shows (or showed just
before) its start, at s + (k + 1/2) / fps. The cost is::

    sum over k in (-2, -1, 0, 1) of w_k * frame_distance(at(e + (k+1/2)/fps), at(s + (k+1/2)/fps))

with binomial weights w = (1, 3, 3, 1) / 8. k = -1 compares the last frame shown with the frame
before the first one, k = 0 the frame after the last one with the first one; two or more
matching pairs in a row mean the motion matches too (a frame that merely looks like the first
but moves the other way, or a pause, costs as much as a jump). Terms whose frames are not in
``thumbs`` or lie across a cut from the loop's end (or start) are left out and the weights
renormalised. The cost is divided by the median ordinary step of the requested segment, so it
is in "frame steps".

Choice: the end-only candidates (start kept) and all candidates are searched. Within each, the
candidates whose cost is within ``TOLERANCE_STEPS`` (0.1 frame step) or ``TOLERANCE_SHARE`` (10%)
of the best, whichever is more, are equally good and the one closest to the request wins (a
source without a seam, such as a pan, would otherwise drift to the shortest loop allowed, which
moves least). The start moves only when that lowers the cost by more than ``START_GAIN_STEPS``
(0.5 frame step) and ``START_GAIN_SHARE`` (25%). When even the best candidate costs more than
``NO_SEAM_STEPS`` (2 frame steps: the source has no seam near the request, as in a pan or a
walk across the picture), the requested offsets are kept and the jump is cross-faded: moving
would give up the user's offsets for a jump that still shows (the least costly loop of such a
source is merely the shortest one allowed). A loop keeps at least ``MIN_LOOP_FRAMES`` (3) slots
and half the requested length, ends within the frames given, and never spans a cut the requested
segment does not span (``cuts`` from ``shots.detect_cuts``; gaps in sampled times count as cuts).

SeamScore (what is reported, ``seam_score``): the jump's distance, last shown frame to first,
divided by the median distance of the ordinary steps of the shown sequence (consecutive shown
frames). 1.0: the jump looks like an ordinary frame step; the bench measures the same ratio with
FLIP. Both distances are floored at ``FLOOR`` (0.001 ΔE_OK, far below visibility), so a still
picture scores 1.0 and does not divide by zero.

Cross-fade: when the best seam still scores above ``CROSSFADE_ABOVE`` (2.0: the jump is twice an
ordinary step), ``crossfade_frames`` is ``round(CROSSFADE_S * fps)`` (0.4 s of frames, at least 2,
at most a third of the loop) and ``fade_plan`` says which shown frames to blend with which source
frame (``crossfade``, a mix in linear light). The last frames of the loop are dissolved into the
frames the source shows just before its start, so the loop arrives at its first frame by way of
its natural predecessor; where the source has no such frames (a loop that starts at the video's
first frame or right after a cut), the first frames of the loop are dissolved out of the frames
the source shows after its end instead. The loop keeps its offsets and length. The reported
score is then that of the faded loop: the largest step among the faded frames and the jump,
over the same median ordinary step; a fade is kept only when it lowers the score.

Wiring. The frames given must cover the whole search: decode [start_s - window_s - CROSSFADE_S,
end_s + window_s + CROSSFADE_S] (clipped to the video) with every frame kept (``decode_segment``
without ``fps``: a frame the request's own slots skip may be shown by a moved loop), thumbnail
each frame, ``shots.detect_cuts`` them, ``find_seam``, then ``select_frames`` over the same
FrameSet with the seam's offsets; with ``crossfade_frames`` > 0, ``fade_plan`` with the same
arguments and ``crossfade`` of the frames it names give the frames to encode.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import median

import numpy as np
import numpy.typing as npt

from animgraph.workers.media.select import Selection, select_frames
from animgraph.workers.media.shots import stretches
from animgraph.workers.media.thumbs import LINEAR, Thumb, blend, frame_distance

__all__ = [
    "CROSSFADE_ABOVE",
    "CROSSFADE_S",
    "FLOOR",
    "MIN_LOOP_FRAMES",
    "NO_SEAM_STEPS",
    "START_GAIN_SHARE",
    "START_GAIN_STEPS",
    "TOLERANCE_SHARE",
    "TOLERANCE_STEPS",
    "Fade",
    "Seam",
    "crossfade",
    "fade_plan",
    "find_seam",
    "seam_score",
]

TAPS = (-2, -1, 0, 1)
WEIGHTS = (1 / 8, 3 / 8, 3 / 8, 1 / 8)
TOLERANCE_STEPS = 0.1
TOLERANCE_SHARE = 0.1
START_GAIN_STEPS = 0.5
START_GAIN_SHARE = 0.25
MIN_LOOP_FRAMES = 3
FLOOR = 1e-3
CROSSFADE_ABOVE = 2.0
NO_SEAM_STEPS = 2.0
CROSSFADE_S = 0.4
_EPS_S = 1e-6


@dataclass(frozen=True, slots=True)
class Seam:
    """The loop to encode: [start_s, end_s) (video clock), its SeamScore as shown (after the
    fade when ``crossfade_frames`` > 0), the number of frames to cross-fade (0: none), the
    SeamScore of the plain jump before any fade, and the search cost of [start_s, end_s) in
    frame steps (NaN when it could not be computed)."""

    start_s: float
    end_s: float
    score: float
    crossfade_frames: int = 0
    jump_score: float = 1.0
    cost: float = 0.0


@dataclass(frozen=True, slots=True)
class Fade:
    """One blended output frame: shown frame ``position`` (an index into the selection) becomes
    ``crossfade(frame[selection[position].index], frame[source_index], alpha)``."""

    position: int
    source_index: int
    alpha: float


def crossfade(
    a_rgb: npt.NDArray[np.uint8], b_rgb: npt.NDArray[np.uint8], alpha: float
) -> npt.NDArray[np.uint8]:
    """``(1 - alpha) * a + alpha * b`` of two (H, W, 3) uint8 sRGB frames, mixed in linear
    light (a dissolve of two exposures; ``thumbs.blend`` is its thumbnail), rounded to uint8."""
    if a_rgb.shape != b_rgb.shape:
        raise ValueError(f"frame shapes differ: {a_rgb.shape} and {b_rgb.shape}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    mix = (1 - alpha) * LINEAR[a_rgb] + alpha * LINEAR[b_rgb]
    # Inverse of the sRGB transfer function, then to 8 bits.
    encoded = np.where(mix <= 0.0031308, mix * 12.92, 1.055 * np.power(mix, 1 / 2.4) - 0.055)
    return np.asarray(np.clip(np.rint(encoded * 255), 0, 255), dtype=np.uint8)


def seam_score(
    thumbs: Sequence[Thumb],
    pts_s: Sequence[float],
    *,
    start_s: float,
    end_s: float,
    fps: int,
    max_frames: int = 3000,
) -> float:
    """The SeamScore of the plain loop [start_s, end_s) (no fade): jump / median step."""
    shown = select_frames(pts_s, start_s=start_s, end_s=end_s, fps=fps, max_frames=max_frames)
    return _Distances(thumbs).score([s.index for s in shown])


def find_seam(
    thumbs: Sequence[Thumb],
    pts_s: Sequence[float],
    *,
    start_s: float,
    end_s: float,
    window_s: float,
    fps: int,
    cuts: Sequence[int] = (),
    max_frames: int = 3000,
) -> Seam:
    """The least visible loop within ``window_s`` of [start_s, end_s) (see the module doc)."""
    if len(thumbs) != len(pts_s) or not pts_s:
        raise ValueError(f"need one thumbnail per timestamp, got {len(thumbs)} and {len(pts_s)}")
    if fps < 1 or end_s <= start_s or window_s < 0:
        raise ValueError(f"bad request {start_s}..{end_s} s, window {window_s} s, {fps} fps")
    search = _Search(thumbs, pts_s, fps, cuts, max_frames)
    requested = search.shown(start_s, end_s)
    unit = max(search.dist.median_step(requested), FLOOR)
    candidates = search.candidates(start_s, end_s, window_s, requested)
    if not candidates:
        score = search.dist.score(requested)
        return Seam(start_s, end_s, score, 0, score, math.nan)
    costed = [(search.cost(s, e) / unit, s, e) for s, e in candidates]
    keep_start = [c for c in costed if abs(c[1] - start_s) < _EPS_S]
    best = _closest(costed, start_s, end_s)
    if keep_start:
        kept = _closest(keep_start, start_s, end_s)
        if kept[0] <= max(best[0] + START_GAIN_STEPS, best[0] / (1 - START_GAIN_SHARE)):
            best = kept
    cost, s, e = best
    if cost > NO_SEAM_STEPS:
        s, e = start_s, end_s
        cost = search.cost(s, e) / unit if search.has_ends(s, e) else math.nan
    return search.finish(s, e, cost)


def fade_plan(
    pts_s: Sequence[float],
    *,
    start_s: float,
    end_s: float,
    fps: int,
    frames: int,
    cuts: Sequence[int] = (),
    max_frames: int = 3000,
) -> tuple[Fade, ...]:
    """Which shown frames of the loop [start_s, end_s) to blend, with which source frame and how
    much, for a cross-fade of ``frames`` output frames (see the module doc); empty when the
    source has the frames on neither side."""
    if frames < 1:
        return ()
    shown = select_frames(pts_s, start_s=start_s, end_s=end_s, fps=fps, max_frames=max_frames)
    if not shown:
        return ()
    timeline = _Timeline(pts_s, cuts)
    length = end_s - start_s
    fade_s = frames / fps
    first, last = shown[0].index, shown[-1].index
    before: list[Fade] = []
    for position, item in enumerate(shown):
        middle = item.start_s + item.duration_s / 2
        if middle < end_s - fade_s:
            continue
        source = timeline.at(middle - length)
        if source is None or not timeline.same_stretch(source, first):
            before = []
            break
        alpha = (middle - (end_s - fade_s)) / fade_s
        before.append(Fade(position, source, _clip01(alpha)))
    if before:
        return tuple(before)
    after: list[Fade] = []
    for position, item in enumerate(shown):
        middle = item.start_s + item.duration_s / 2
        if middle >= start_s + fade_s:
            break
        source = timeline.at(middle + length)
        if source is None or not timeline.same_stretch(source, last):
            return ()
        alpha = 1 - (middle - start_s) / fade_s
        after.append(Fade(position, source, _clip01(alpha)))
    return tuple(after)


# --- the search ---------------------------------------------------------------------------------


class _Distances:
    """``frame_distance`` of thumbnail pairs, each computed once."""

    def __init__(self, thumbs: Sequence[Thumb]) -> None:
        self.thumbs = thumbs
        self._cache: dict[tuple[int, int], float] = {}

    def __call__(self, i: int, j: int) -> float:
        if i == j:
            return 0.0
        key = (i, j) if i < j else (j, i)
        value = self._cache.get(key)
        if value is None:
            value = self._cache[key] = frame_distance(self.thumbs[i], self.thumbs[j])
        return value

    def steps(self, indexes: Sequence[int]) -> list[float]:
        """Distances of consecutive shown frames (the ordinary steps, no jump)."""
        return [self(a, b) for a, b in itertools.pairwise(indexes)]

    def median_step(self, indexes: Sequence[int]) -> float:
        steps = self.steps(indexes)
        return median(steps) if steps else FLOOR

    def score(self, indexes: Sequence[int]) -> float:
        """SeamScore of a plain loop over the shown frame indexes."""
        if len(indexes) < 2:
            return 1.0
        jump = self(indexes[-1], indexes[0])
        return max(jump, FLOOR) / max(self.median_step(indexes), FLOOR)


class _Timeline:
    """Which frame is on screen when, and which cut-free stretch it belongs to."""

    def __init__(self, pts_s: Sequence[float], cuts: Sequence[int]) -> None:
        self.pts = list(pts_s)
        intervals = [b - a for a, b in itertools.pairwise(self.pts)]
        self.interval = median(intervals) if intervals else 0.1
        self.end_s = self.pts[-1] + self.interval
        self._stretch = [0] * len(self.pts)
        for number, (begin, end) in enumerate(stretches(self.pts, cuts)):
            for i in range(begin, end):
                self._stretch[i] = number

    def at(self, t: float) -> int | None:
        """The frame on screen at ``t`` (latest pts <= t, as ``select`` counts), or None when
        ``t`` is before the first frame or after the last one ends."""
        if t < self.pts[0] - _EPS_S or t >= self.end_s - _EPS_S:
            return None
        return max(bisect.bisect_right(self.pts, t + _EPS_S) - 1, 0)

    def same_stretch(self, i: int, j: int) -> bool:
        return self._stretch[i] == self._stretch[j]

    def stretch(self, i: int) -> int:
        return self._stretch[i]


class _Search:
    """Candidates and their costs for one seam search."""

    def __init__(
        self,
        thumbs: Sequence[Thumb],
        pts_s: Sequence[float],
        fps: int,
        cuts: Sequence[int],
        max_frames: int,
    ) -> None:
        self.pts = list(pts_s)
        self.fps = fps
        self.cuts = list(cuts)
        self.max_frames = max_frames
        self.dist = _Distances(thumbs)
        self.timeline = _Timeline(self.pts, self.cuts)

    def shown(self, s: float, e: float) -> list[int]:
        """FrameSet indexes the animation of [s, e) shows (``select.select_frames``)."""
        selection = self._select(s, e)
        return [item.index for item in selection]

    def _select(self, s: float, e: float) -> Selection:
        return select_frames(self.pts, start_s=s, end_s=e, fps=self.fps, max_frames=self.max_frames)

    def candidates(
        self, start_s: float, end_s: float, window_s: float, requested: Sequence[int]
    ) -> list[tuple[float, float]]:
        """(s, e) pairs to try: s the requested start or a frame time within the window, e a
        whole number of slots after s within the window of the requested end."""
        tl = self.timeline
        lo_s = max(start_s - window_s, self.pts[0])
        starts = {start_s} if start_s >= self.pts[0] - _EPS_S else set()
        starts.update(t for t in self.pts if lo_s - _EPS_S <= t <= start_s + window_s + _EPS_S)
        min_length = max(MIN_LOOP_FRAMES / self.fps, (end_s - start_s) / 2)
        allowed = self._stretches_of(requested)
        out: list[tuple[float, float]] = []
        for s in sorted(starts):
            first = tl.at(s + 0.5 / self.fps)
            if first is None:
                continue
            n_lo = math.ceil(round(max(end_s - window_s - s, min_length) * self.fps, 6))
            n_hi = math.floor(round((min(end_s + window_s, tl.end_s) - s) * self.fps, 6))
            for n in range(max(n_lo, 1), n_hi + 1):
                e = s + n / self.fps
                last = tl.at(e - 0.5 / self.fps)
                if last is None or not self._within(first, last, allowed):
                    continue
                out.append((s, e))
        return out

    def _stretches_of(self, indexes: Sequence[int]) -> set[int]:
        return {self.timeline.stretch(i) for i in indexes}

    def _within(self, first: int, last: int, allowed: set[int]) -> bool:
        """Whether the frames first..last lie in stretches the request already spans."""
        tl = self.timeline
        return tl.stretch(first) in allowed and tl.stretch(last) in allowed

    def has_ends(self, s: float, e: float) -> bool:
        """Whether the first and last slot of [s, e) show a frame of ``pts_s``."""
        tl = self.timeline
        return tl.at(s + 0.5 / self.fps) is not None and tl.at(e - 0.5 / self.fps) is not None

    def cost(self, s: float, e: float) -> float:
        """The filtered distance of the loop [s, e) (module doc), not yet in frame steps."""
        tl = self.timeline
        first, last = tl.at(s + 0.5 / self.fps), tl.at(e - 0.5 / self.fps)
        assert first is not None and last is not None
        total = weight = 0.0
        for k, w in zip(TAPS, WEIGHTS, strict=True):
            after = tl.at(e + (k + 0.5) / self.fps)
            before = tl.at(s + (k + 0.5) / self.fps)
            if after is None or before is None:
                continue
            if not (tl.same_stretch(after, last) and tl.same_stretch(before, first)):
                continue
            total += w * self.dist(after, before)
            weight += w
        if weight == 0.0:
            # No frame on either side of the loop: judge the jump alone, against a step.
            shown = self.shown(s, e)
            return abs(self.dist(last, first) - self.dist.median_step(shown))
        return total / weight

    def finish(self, s: float, e: float, cost: float) -> Seam:
        """The Seam for the chosen loop: its score, and a cross-fade when the jump shows."""
        shown = self.shown(s, e)
        jump = self.dist.score(shown)
        if jump <= CROSSFADE_ABOVE or len(shown) < 2:
            return Seam(s, e, jump, 0, jump, cost)
        frames = min(max(2, round(CROSSFADE_S * self.fps)), len(shown) // 3)
        plan = fade_plan(
            self.pts,
            start_s=s,
            end_s=e,
            fps=self.fps,
            frames=frames,
            cuts=self.cuts,
            max_frames=self.max_frames,
        )
        faded = self._faded_score(shown, plan) if plan else math.inf
        if faded < jump:
            return Seam(s, e, faded, frames, jump, cost)
        return Seam(s, e, jump, 0, jump, cost)

    def _faded_score(self, shown: Sequence[int], plan: Sequence[Fade]) -> float:
        """SeamScore of the loop once ``plan`` is applied: the largest step that involves a
        faded frame or the jump, over the median ordinary step of the plain loop."""
        thumbs = self.dist.thumbs
        frames = [thumbs[i] for i in shown]
        for fade in plan:
            frames[fade.position] = blend(
                frames[fade.position], thumbs[fade.source_index], fade.alpha
            )
        n = len(frames)
        touched = {f.position for f in plan}
        worst = 0.0
        for k in range(n):
            nxt = (k + 1) % n
            if k == n - 1 or k in touched or nxt in touched:
                worst = max(worst, frame_distance(frames[k], frames[nxt]))
        return max(worst, FLOOR) / max(self.dist.median_step(shown), FLOOR)


def _closest(
    costed: Sequence[tuple[float, float, float]], start_s: float, end_s: float
) -> tuple[float, float, float]:
    """Of the candidates within the tolerance of the least cost, the one closest to the
    requested offsets."""
    least = min(c[0] for c in costed)
    limit = least + max(TOLERANCE_STEPS, TOLERANCE_SHARE * least)
    near = [c for c in costed if c[0] <= limit]
    return min(near, key=lambda c: (abs(c[1] - start_s) + abs(c[2] - end_s), c[0]))


def _clip01(x: float) -> float:
    return min(max(x, 0.0), 1.0)
