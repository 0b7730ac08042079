"""Encoded animations (GIF, WebP, APNG, AVIF) read back with Pillow for the encoder tests (helpers only)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from animgraph.workers.media.select import Selection


def read_back(path: Path) -> tuple[Image.Image, list[int]]:
    """The opened animation (at its first frame) and every frame's duration in ms."""
    image = Image.open(path)
    durations = []
    for k in range(image.n_frames):
        image.seek(k)
        image.load()
        durations.append(image.info["duration"])
    image.seek(0)
    return image, durations


def check_animation(path: Path, selection: Selection, size: tuple[int, int]) -> Image.Image:
    """Assert the animation has ``size``, loops forever and shows ``selection`` in its time."""
    image, durations = read_back(path)
    assert image.size == size
    if path.suffix != ".avif":  # Pillow does not report an AVIF's plays (test_media_formats)
        assert image.info["loop"] == 0  # forever
    assert image.n_frames == len(selection)
    segment_ms = (selection[-1].end_s - selection[0].start_s) * 1000
    assert sum(durations) == pytest.approx(segment_ms, abs=10)
    return image


def frames_rgb(path: Path) -> list[np.ndarray]:
    """Every frame of the animation as shown, RGB in int16 (differences do not wrap)."""
    image = Image.open(path)
    out = []
    for k in range(image.n_frames):
        image.seek(k)
        out.append(np.asarray(image.convert("RGB"), dtype=np.int16))
    return out
