"""Fixtures for the media-core tests: synthetic clips in a session directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from media_clips import Clip, write_clip


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A session directory for generated clips."""
    return tmp_path_factory.mktemp("clips")


@pytest.fixture(scope="session")
def grey_clip(clips: Path) -> Clip:
    """2 s at 30 fps, 64x48, keyframe every 10 frames, with an AAC audio track, in MP4."""
    return write_clip(clips / "grey.mp4", audio=True)
