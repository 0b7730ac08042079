"""Still-scene detection: how much of the footage stays still, told by the WebP block hold.

A still scene (from ``quality.WEBP_STILL_SCENE``) and a partly still one (from
``quality.WEBP_PARTLY_STILL``) are encoded differently (``quality.webp_plan``); bench/README.md,
"Where the encoder's settings come from", has the held fractions of the bench clips that the
thresholds sit between.
"""

from __future__ import annotations

from collections.abc import Sequence

from animgraph.workers.media.framestore import FrameReader, FrameSet
from animgraph.workers.media.quality import (
    WEBP_PARTLY_STILL,
    WEBP_STILL_PEAK,
    WEBP_STILL_SCENE,
    WEBP_STILL_SHIFT,
)
from animgraph.workers.media.temporal import BlockHold

__all__ = ["WEBP_PARTLY_STILL", "WEBP_STILL_SCENE", "scene_stillness", "still_fraction"]


def scene_stillness(frames: FrameSet, indexes: Sequence[int]) -> float:
    """The still fraction of the frames ``indexes`` of ``frames`` (a few ms a frame): exact from
    WEBP_PARTLY_STILL up, below it some value under WEBP_PARTLY_STILL (moving footage is told
    after about half its frames)."""
    with frames.reader() as reader:
        return still_fraction(reader, indexes, WEBP_PARTLY_STILL)


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
    probe.apply(reader.frame(indexes[0]))
    total, count = 0.0, len(indexes) - 1
    for k, index in enumerate(indexes[1:]):
        total += probe.apply(reader.frame(index))[1]
        if enough is not None and total + (count - k - 1) < enough * count:
            return total / (k + 1)
    return total / count
