"""Decoding after a seek gives the same picture as decoding from the start (real clip)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from animgraph.workers.media.decode import decode_segment


def test_old_x264_444_clip_decodes_the_same_after_a_seek(corpus_dir: Path, tmp_path: Path) -> None:
    """cockatoo.mp4 is 4:4:4 from x264 core 142: without the build hint a seek gives green."""
    clip = corpus_dir / "cockatoo.mp4"
    with av.open(str(clip)) as container:
        for frame in container.decode(video=0):
            if float(frame.time) >= 5.0 - 1e-6:
                reference = frame.to_ndarray(format="rgb24", width=320, height=180).astype(float)
                break
    frames = decode_segment(clip, tmp_path / "f", start_s=5.0, end_s=5.2, width=320, height=180)
    decoded = frames.read(0).astype(float)
    assert np.abs(decoded.mean(axis=(0, 1)) - reference.mean(axis=(0, 1))).max() < 6
    red, green, blue = decoded.mean(axis=(0, 1))
    assert green < red + 30 and green < blue + 30, "a green picture: the decoder missed the hint"
