"""The output formats a template's ``Format`` may name (contract §2.6): what each file is and
what it can carry, for the producer's checks, the planner and the file server.

The encoders themselves are the workers' (``animgraph.workers.media.encode``); this table is what
both sides need to know without importing a codec.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from typing import Literal, get_args

__all__ = ["FORMATS", "ImageFormat", "OutputFormat", "format_of"]

ImageFormat = Literal["gif", "webp", "avif", "apng", "mp4", "webm"]
"""A template's ``Format``: lower case, as the cloud API writes ``gif`` and ``webp``."""


@dataclass(frozen=True, slots=True)
class OutputFormat:
    """One output format: its file's media type and what the file can hold."""

    name: str
    media_type: str
    carries_loop_count: bool
    """The file stores how many times to play (GIF, WebP, APNG, AVIF); video leaves looping to
    the player (MP4, WebM: ``<video loop>``)."""
    even_size: bool
    """4:2:0 video needs even dimensions: the planner rounds the output size down to even."""
    video: bool
    """A video container, played with ``<video>``, not ``<img>``."""


FORMATS: dict[str, OutputFormat] = {
    "gif": OutputFormat("gif", "image/gif", True, False, False),
    "webp": OutputFormat("webp", "image/webp", True, False, False),
    "avif": OutputFormat("avif", "image/avif", True, False, False),
    "apng": OutputFormat("apng", "image/apng", True, False, False),
    "mp4": OutputFormat("mp4", "video/mp4", False, True, True),
    "webm": OutputFormat("webm", "video/webm", False, True, True),
}
assert set(FORMATS) == set(get_args(ImageFormat))


def format_of(name: str) -> OutputFormat:
    """The format of a template's ``Format`` (KeyError for an unknown one)."""
    return FORMATS[name]


# Python 3.11's table lacks some of these: the file server and the S3 upload guess from names.
for _format in FORMATS.values():
    mimetypes.add_type(_format.media_type, f".{_format.name}")
