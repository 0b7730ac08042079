"""The order a loop plays the selected frames in (contract §2.5), and the ``Loop`` the select
step records for the output.

``select`` chooses the frames of the segment in the order filmed; ``arrange`` lays them out for
the template's ``LoopMode``: ``Reverse`` backwards, ``PingPong`` forwards then backwards. Every
frame keeps the duration ``select`` gave it, and the result is one continuous timeline from the
segment's start (each frame starts where the one before ends), which is what the encoders'
``timing.display_delays`` quantises. ``Forward`` and ``Seamless`` keep the order filmed
(``Seamless`` moves the segment's ends before selection, not the frames after it).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import get_args

from animgraph.shared.models import LoopMode
from animgraph.workers.media.select import Selection, Shown

__all__ = ["LOOP_MODES", "Loop", "arrange", "cycle_s", "forward_cap", "ping_pong", "reverse"]

LOOP_MODES: tuple[LoopMode, ...] = get_args(LoopMode)


def reverse(selection: Selection) -> Selection:
    """The selection backwards: the last frame first, each frame shown for its own duration."""
    return _laid_out(selection, list(reversed(selection)))


def ping_pong(selection: Selection) -> Selection:
    """Forwards then backwards, ready to loop: f0 f1 ... f(n-1) f(n-2) ... f1, then f0 again.

    Neither turnaround frame is shown twice: the last frame (the turn) once, for its own
    duration, and the first only where the next cycle begins, so the frame steps are as even
    across the turns as along the way. Two frames alternate; one frame is a still.
    """
    return _laid_out(selection, [*selection, *reversed(selection[1:-1])])


def arrange(selection: Selection, mode: LoopMode) -> Selection:
    """The selection in the order ``mode`` plays it (``Forward``, ``Seamless``: as filmed)."""
    if mode == "Reverse":
        return reverse(selection)
    if mode == "PingPong":
        return ping_pong(selection)
    return selection


def forward_cap(max_frames: int, mode: LoopMode) -> int:
    """The most frames ``select`` may keep so that the arranged loop has at most
    ``max_frames``: a ping-pong of n frames shows 2n - 2."""
    return max(1, max_frames // 2 + 1) if mode == "PingPong" else max_frames


def cycle_s(selection: Selection) -> float:
    """The display time of one cycle of an arranged selection."""
    return sum(shown.duration_s for shown in selection)


def _laid_out(selection: Selection, order: Sequence[Shown]) -> Selection:
    """``order``'s frames and durations on one timeline from the selection's start."""
    if not selection:
        return ()
    laid: list[Shown] = []
    at = selection[0].start_s
    for shown in order:
        laid.append(Shown(shown.index, at, shown.duration_s))
        at += shown.duration_s
    return tuple(laid)


@dataclass(frozen=True, slots=True)
class Loop:
    """What the select step decided, for the output (contract §6.2): the segment of the source
    the frames came from (absolute seconds), the loop mode, the seam's score (None: not
    measured) and the display time of one cycle (for the bitrate). Written as ``loop.json``
    beside ``selection.json``; ``outcome.store_output`` reads it."""

    start_s: float
    end_s: float
    mode: LoopMode = "Forward"
    seam_score: float | None = None
    cycle_s: float = 0.0

    def dumps(self) -> str:
        """The JSON ``loop.json`` holds."""
        return json.dumps(asdict(self))

    @classmethod
    def loads(cls, text: str) -> Loop:
        """A Loop from ``loop.json``."""
        fields = json.loads(text)
        if fields.get("mode") not in LOOP_MODES:
            raise ValueError(f"loop.json has an unknown mode {fields.get('mode')!r}")
        return cls(**fields)
