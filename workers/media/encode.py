"""Encode selected FrameSet frames as an animation: the encoder and the join of each format.

``MEDIA_FORMATS`` is the table: for each output format, its encoder (``Encoder``: GIF in
``gif``, WebP in ``webp``, AVIF in ``avif``, APNG in ``apng``, MP4 and WebM in ``video``), its
join of time slices (``join.Joiner``; None: the planner keeps the output whole) and, from
``shared/formats.py``, whether its file carries LoopCount, needs an even size and is a video.
``ENCODERS`` is the encoders alone, by format.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from animgraph.shared.formats import FORMATS, format_of
from animgraph.workers.media.apng import encode_apng, join_apngs
from animgraph.workers.media.avif import encode_avif, join_avifs
from animgraph.workers.media.framestore import FrameSet
from animgraph.workers.media.gif import encode_gif
from animgraph.workers.media.join import Joiner, join_gif_parts, join_webp_parts
from animgraph.workers.media.progress import Progress
from animgraph.workers.media.select import Selection
from animgraph.workers.media.video import encode_mp4, encode_webm, join_mp4s, join_webms
from animgraph.workers.media.webp import encode_webp

__all__ = [
    "ENCODERS",
    "MEDIA_FORMATS",
    "Encoder",
    "Joiner",
    "MediaFormat",
    "can_join",
    "encode_apng",
    "encode_avif",
    "encode_gif",
    "encode_mp4",
    "encode_webm",
    "encode_webp",
]


class Encoder(Protocol):
    """Write ``selection`` of ``frames`` to ``dest`` (atomically) at a template ``quality``,
    to play ``loop_count`` times (0: forever) where the format stores it."""

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


@dataclass(frozen=True, slots=True)
class MediaFormat:
    """One output format's encoder and join (None: time slices cannot be joined)."""

    name: str
    encode: Encoder
    join: Joiner | None

    @property
    def carries_loop_count(self) -> bool:
        """The file stores how many times to play (``shared.formats.OutputFormat``)."""
        return format_of(self.name).carries_loop_count

    @property
    def even_size(self) -> bool:
        """4:2:0 video: the encoder crops an odd size to even (the planner gives even ones)."""
        return format_of(self.name).even_size

    @property
    def video(self) -> bool:
        """A video container, played with ``<video>``."""
        return format_of(self.name).video


MEDIA_FORMATS: Mapping[str, MediaFormat] = {
    fmt.name: fmt
    for fmt in (
        MediaFormat("gif", encode_gif, join_gif_parts),
        MediaFormat("webp", encode_webp, join_webp_parts),
        MediaFormat("avif", encode_avif, join_avifs),
        MediaFormat("apng", encode_apng, join_apngs),
        MediaFormat("mp4", encode_mp4, join_mp4s),
        MediaFormat("webm", encode_webm, join_webms),
    )
}
assert set(MEDIA_FORMATS) == set(FORMATS)

ENCODERS: Mapping[str, Encoder] = {name: fmt.encode for name, fmt in MEDIA_FORMATS.items()}


def can_join(fmt: str) -> bool:
    """Whether time slices of ``fmt`` can be joined into one file (the planner splits only
    those; workers/plan.py imports it)."""
    media = MEDIA_FORMATS.get(fmt)
    return media is not None and media.join is not None
