"""The encoder entry: one encoder per output format, each writing its format's animation."""

from __future__ import annotations

from pathlib import Path

import pytest
from animations import check_animation

from animgraph.workers.media.encode import ENCODERS, encode_gif, encode_webp
from animgraph.workers.media.framestore import FrameSet
from animgraph.workers.media.select import select_frames

MAGIC = {"gif": b"GIF89a", "webp": b"RIFF"}


def test_encoders_by_format() -> None:
    assert dict(ENCODERS) == {"gif": encode_gif, "webp": encode_webp}


@pytest.mark.parametrize("fmt", sorted(ENCODERS))
def test_each_encoder_writes_its_format(frames: FrameSet, tmp_path: Path, fmt: str) -> None:
    selection = select_frames(frames.pts_s, start_s=0.0, end_s=1.0, fps=10)
    dest = tmp_path / f"a.{fmt}"
    ENCODERS[fmt](frames, selection, dest, quality=75)
    assert dest.read_bytes()[: len(MAGIC[fmt])] == MAGIC[fmt]
    check_animation(dest, selection, (frames.width, frames.height))
