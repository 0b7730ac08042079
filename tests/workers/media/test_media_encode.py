"""The encoder entry: one encoder per output format, each writing its format's animation."""

from __future__ import annotations

from pathlib import Path

import pytest
from animations import check_animation

from animgraph.shared.formats import FORMATS
from animgraph.workers.media.encode import ENCODERS, MEDIA_FORMATS, encode_gif, encode_webp
from animgraph.workers.media.framestore import FrameSet
from animgraph.workers.media.select import select_frames

# Each file's signature: (offset, bytes).
MAGIC = {
    "gif": (0, b"GIF89a"),
    "webp": (8, b"WEBP"),
    "avif": (4, b"ftypavis"),
    "apng": (0, b"\x89PNG"),
    "mp4": (4, b"ftyp"),
    "webm": (0, b"\x1aE\xdf\xa3"),
}


def test_encoders_by_format() -> None:
    assert set(ENCODERS) == set(FORMATS) == set(MAGIC)
    assert (ENCODERS["gif"], ENCODERS["webp"]) == (encode_gif, encode_webp)
    assert all(MEDIA_FORMATS[name].join is not None for name in FORMATS)


@pytest.mark.parametrize("fmt", sorted(ENCODERS))
def test_each_encoder_writes_its_format(frames: FrameSet, tmp_path: Path, fmt: str) -> None:
    selection = select_frames(frames.pts_s, start_s=0.0, end_s=1.0, fps=10)
    dest = tmp_path / f"a.{fmt}"
    ENCODERS[fmt](frames, selection, dest, quality=75)
    offset, magic = MAGIC[fmt]
    assert dest.read_bytes()[offset : offset + len(magic)] == magic
    if not FORMATS[fmt].video:  # the video formats are read back in test_media_formats.py
        check_animation(dest, selection, (frames.width, frames.height))
