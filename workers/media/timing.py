"""Frame display timing: each shown frame's delay in whole units of its format.

Delays are whole units of each format (GIF 1/100 s, WebP 1/1000 s) and are rounded on the
cumulative timeline, ``delay_k = round(end_k * U) - round(start_k * U)``, so the rounding error
is carried forward and the total equals the segment length to the unit. Frames whose delay would
fall below what browsers honour (GIF 2 cs, WebP 11 ms; shorter ones are played as 100 ms) are
dropped and their time given to the frame before, which only happens above 50 fps or at the tail.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from animgraph.workers.media.select import Selection

__all__ = ["GIF_MIN_DELAY_CS", "WEBP_MIN_DELAY_MS", "Delay", "display_delays"]

GIF_MIN_DELAY_CS = 2
WEBP_MIN_DELAY_MS = 11


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


def _units(seconds: float, units_per_s: int) -> int:
    """Round seconds to whole units, half up (Python's round() would go to even)."""
    return math.floor(seconds * units_per_s + 0.5)
