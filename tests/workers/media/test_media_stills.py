"""Still-scene detection: a fixed camera told from a moving one by the blocks held."""

from __future__ import annotations

import numpy as np
import pytest

from animgraph.workers.media.framestore import FrameSet, FrameWriter
from animgraph.workers.media.select import select_frames
from animgraph.workers.media.stills import WEBP_PARTLY_STILL, scene_stillness, still_fraction


@pytest.fixture(scope="module")
def panning_frames(tmp_path_factory: pytest.TempPathFactory) -> FrameSet:
    """30 frames at 30 fps, 96x64: a textured scene panning 2 px a frame (a moving camera)."""
    rng = np.random.default_rng(12)
    world = rng.integers(0, 256, (64, 160, 3)).astype(np.uint8)
    with FrameWriter(tmp_path_factory.mktemp("pan"), 96, 64) as writer:
        for i in range(30):
            writer.append(np.ascontiguousarray(world[:, 2 * i : 2 * i + 96]), i / 30)
    return FrameSet.load(writer.directory)


def test_still_scene_is_told_from_a_moving_camera(
    noisy_frames: FrameSet, camera_frames: FrameSet, panning_frames: FrameSet
) -> None:
    cases = ((noisy_frames, True), (camera_frames, True), (panning_frames, False))
    for frames, still in cases:
        selection = select_frames(frames.pts_s, start_s=0.0, end_s=1.0, fps=15)
        with frames.reader() as reader:
            indexes = [s.index for s in selection]
            fraction = still_fraction(reader, indexes)
            early = still_fraction(reader, indexes, WEBP_PARTLY_STILL)
        assert (fraction >= WEBP_PARTLY_STILL) is still, fraction
        assert (early >= WEBP_PARTLY_STILL) is still, early
        assert scene_stillness(frames, indexes) == (fraction if still else early)
    with noisy_frames.reader() as reader:
        assert still_fraction(reader, [0]) == 0.0
