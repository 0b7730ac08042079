"""Fixtures for the media-core tests: synthetic clips and frame sets in session directories."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from media_clips import Clip, grey_frame, write_clip

from animgraph.workers.media.framestore import FrameSet, FrameWriter


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A session directory for generated clips."""
    return tmp_path_factory.mktemp("clips")


@pytest.fixture(scope="session")
def grey_clip(clips: Path) -> Clip:
    """2 s at 30 fps, 64x48, keyframe every 10 frames, with an AAC audio track, in MP4."""
    return write_clip(clips / "grey.mp4", audio=True)


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> FrameSet:
    """45 frames at 30 fps (1.5 s), 80x60, frame i a flat grey level with a moving square."""
    rng = np.random.default_rng(7)
    texture = rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)
    with FrameWriter(tmp_path_factory.mktemp("frames"), 80, 60) as writer:
        for i in range(45):
            rgb = grey_frame(i, 80, 60)
            rgb[30:50, i : i + 20] = texture  # detail so that WebP quality matters
            writer.append(rgb, i / 30)
    return FrameSet.load(writer.directory)


@pytest.fixture(scope="module")
def noisy_frames(tmp_path_factory: pytest.TempPathFactory) -> FrameSet:
    """30 frames at 30 fps, 96x64: a still textured background with sensor noise (+-1 level)
    and a square moving across it: what a fixed camera films."""
    rng = np.random.default_rng(11)
    y, x = np.mgrid[0:64, 0:96]
    background = np.stack([x * 2.5, y * 3.5, (x + y) * 1.5], axis=2) + 20
    square = rng.integers(0, 256, (16, 16, 3))
    with FrameWriter(tmp_path_factory.mktemp("noisy"), 96, 64) as writer:
        for i in range(30):
            rgb = background + rng.integers(-1, 2, background.shape)
            rgb[40:56, 2 * i : 2 * i + 16] = square
            writer.append(np.clip(rgb, 0, 255).astype(np.uint8), i / 30)
    return FrameSet.load(writer.directory)


@pytest.fixture(scope="module")
def camera_frames(tmp_path_factory: pytest.TempPathFactory) -> FrameSet:
    """30 frames at 30 fps, 96x64: a fixed camera with real sensor noise (+-5 levels) on a still
    background and a shaded square moving across it."""
    rng = np.random.default_rng(13)
    y, x = np.mgrid[0:64, 0:96]
    background = np.stack([x * 2.5, y * 3.5, (x + y) * 1.5], axis=2) + 20
    sy, sx = np.mgrid[0:16, 0:16]
    square = np.stack([200 - sx * 4, 60 + sy * 8, 120 + sx * sy // 2], axis=2)
    with FrameWriter(tmp_path_factory.mktemp("camera"), 96, 64) as writer:
        for i in range(30):
            rgb = background + rng.integers(-5, 6, background.shape)
            rgb[40:56, 2 * i : 2 * i + 16] = square + rng.integers(-5, 6, square.shape)
            writer.append(np.clip(rgb, 0, 255).astype(np.uint8), i / 30)
    return FrameSet.load(writer.directory)
