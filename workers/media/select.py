"""Which decoded frames an animated image shows, and for how long (contract §9, design "Select").

Times are seconds on the video clock (0 = the first instant of the video, as in the FrameSet);
``Shown.index`` is the 0-based index of a frame in the FrameSet. A selection is a pipeline of
small steps over timestamps, run in the order of ``STEPS``; each step maps a Selection to a
Selection and returns its input unchanged when it does not apply.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = [
    "STEPS",
    "SelectParams",
    "Selection",
    "Shown",
    "cap_frames",
    "merge_repeats",
    "resample_fps",
    "select_frames",
    "shown_during",
    "slot_middles",
    "slot_starts",
    "trim_to_segment",
]

# Boundaries closer than this (1 µs) are the same instant: it absorbs float noise such as
# 3 * (1 / 30) != 0.1 without ever merging real frames, which are at least 1/1000 s apart.
_EPS_S = 1e-6


@dataclass(frozen=True, slots=True)
class Shown:
    """One displayed frame: FrameSet ``index``, shown from ``start_s`` for ``duration_s``."""

    index: int
    start_s: float
    duration_s: float

    @property
    def end_s(self) -> float:
        """The instant this frame is replaced (start + duration)."""
        return self.start_s + self.duration_s


Selection = tuple[Shown, ...]


@dataclass(frozen=True, slots=True)
class SelectParams:
    """What the steps read: source timestamps, segment bounds, output fps and frame cap."""

    pts_s: Sequence[float]
    start_s: float
    end_s: float
    fps: int
    max_frames: int


Step = Callable[[Selection, SelectParams], Selection]


def trim_to_segment(selection: Selection, params: SelectParams) -> Selection:
    """Build the source timeline clipped to the segment: each frame shown until the next one.

    The frame on screen at ``start_s`` (the latest with pts <= start, else the first) starts the
    segment; frames at or after ``end_s`` are dropped. Ignores its input selection.
    """
    pts, start, end = params.pts_s, params.start_s, params.end_s
    if not pts or end - start <= _EPS_S:
        return ()
    first = max(bisect.bisect_right(pts, start + _EPS_S) - 1, 0)
    indexes = [i for i in range(first, len(pts)) if i == first or pts[i] < end - _EPS_S]
    starts = [start] + [pts[i] for i in indexes[1:]]
    return _timeline(indexes, starts, end)


def resample_fps(selection: Selection, params: SelectParams) -> Selection:
    """Resample to ``fps`` on the source clock: slot k runs from start + k/fps to the next slot
    (the last to the end) and shows the source frame on screen at the middle of the slot.

    The middle, not the start: an output frame stands for the whole slot, and the frame on
    screen at its middle is the one shown longest during it when source frames are evenly spaced
    (at the start it can be a frame that leaves the screen right after, e.g. 20 fps to 15 fps).
    """
    if not selection:
        return selection
    start, end = selection[0].start_s, selection[-1].end_s
    starts = slot_starts(start, end, params.fps)
    middles = slot_middles(start, end, params.fps)
    shown_starts = [s.start_s for s in selection]
    indexes = [selection[_covering(shown_starts, t)].index for t in middles]
    return _timeline(indexes, starts, end)


def slot_starts(start_s: float, end_s: float, fps: int) -> list[float]:
    """Where the output slots of [start_s, end_s) at ``fps`` begin."""
    # Round before ceil so that 3.0 s x 10 fps = 30.000000000000004 is 30 frames, not 31.
    count = max(1, math.ceil(round((end_s - start_s) * fps, 6)))
    return [start_s + k / fps for k in range(count)]


def slot_middles(start_s: float, end_s: float, fps: int) -> list[float]:
    """The middles of the output slots (the last slot ends at ``end_s``): the instants whose
    source frame on screen each output frame shows."""
    starts = slot_starts(start_s, end_s, fps)
    return [(a + b) / 2 for a, b in zip(starts, [*starts[1:], end_s], strict=True)]


def shown_during(middles: Sequence[float], begin_s: float, until_s: float) -> bool:
    """Whether a source frame on screen from ``begin_s`` until ``until_s`` is shown: a slot
    middle falls in that interval, with the same tolerance ``resample_fps`` uses. Decoding can
    drop every frame for which this is False and the selection stays the same."""
    k = bisect.bisect_left(middles, begin_s - _EPS_S)
    return k < len(middles) and middles[k] < until_s - _EPS_S


def merge_repeats(selection: Selection, params: SelectParams) -> Selection:
    """Merge consecutive frames that show the same source index; their durations add up."""
    merged: list[Shown] = []
    for shown in selection:
        if merged and merged[-1].index == shown.index:
            last = merged[-1]
            merged[-1] = Shown(last.index, last.start_s, shown.end_s - last.start_s)
        else:
            merged.append(shown)
    return tuple(merged)


def cap_frames(selection: Selection, params: SelectParams) -> Selection:
    """Keep at most ``max_frames`` evenly spaced frames, each shown until the next kept one."""
    count = len(selection)
    if count <= params.max_frames:
        return selection
    keep = [m * count // params.max_frames for m in range(params.max_frames)]
    indexes = [selection[k].index for k in keep]
    starts = [selection[k].start_s for k in keep]
    return _timeline(indexes, starts, selection[-1].end_s)


STEPS: tuple[Step, ...] = (trim_to_segment, resample_fps, merge_repeats, cap_frames)


def select_frames(
    pts_s: Sequence[float],
    *,
    start_s: float,
    end_s: float,
    fps: int,
    max_frames: int = 3000,
) -> Selection:
    """Choose the FrameSet frames shown for [start_s, end_s) at ``fps``, with display times."""
    if fps < 1:
        raise ValueError(f"fps must be at least 1, got {fps}")
    if max_frames < 1:
        raise ValueError(f"max_frames must be at least 1, got {max_frames}")
    params = SelectParams(tuple(pts_s), start_s, end_s, fps, max_frames)
    selection: Selection = ()
    for step in STEPS:
        selection = step(selection, params)
    return selection


def _covering(starts: Sequence[float], t: float) -> int:
    """Index of the last start <= t (tolerating float noise), or 0 when t is before all."""
    return max(bisect.bisect_right(starts, t + _EPS_S) - 1, 0)


def _timeline(indexes: Sequence[int], starts: Sequence[float], end_s: float) -> Selection:
    """Shown frames whose durations run from each start to the next, the last to ``end_s``."""
    ends = [*starts[1:], end_s]
    return tuple(
        Shown(index, start, stop - start)
        for index, start, stop in zip(indexes, starts, ends, strict=True)
        if stop - start > _EPS_S
    )
