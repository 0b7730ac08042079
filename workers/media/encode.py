"""Encode selected FrameSet frames as a looping animated image: the encoder of each format.

The GIF encoder is in ``gif``, the WebP one in ``webp``; both take the same arguments
(``Encoder``), so a step picks one from ``ENCODERS`` by the template's format.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from animgraph.workers.media.framestore import FrameSet
from animgraph.workers.media.gif import encode_gif
from animgraph.workers.media.progress import Progress
from animgraph.workers.media.select import Selection
from animgraph.workers.media.webp import encode_webp

__all__ = ["ENCODERS", "Encoder", "can_join", "encode_gif", "encode_webp"]


class Encoder(Protocol):
    """Write ``selection`` of ``frames`` to ``dest`` (atomically) at a template ``quality``,
    to play ``loop_count`` times (0: forever)."""

    def __call__(
        self,
        frames: FrameSet,
        selection: Selection,
        dest: Path,
        *,
        quality: float,
        progress: Progress | None = None,
        loop_count: int = 0,
    ) -> None: ...


ENCODERS: Mapping[str, Encoder] = {"gif": encode_gif, "webp": encode_webp}


def can_join(fmt: str) -> bool:
    """Whether time slices of ``fmt`` can be joined into one file (the planner splits only
    those; kept by whoever rewrites this table: workers/plan.py imports it)."""
    return fmt in ("gif", "webp")
