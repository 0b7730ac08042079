"""Loop modes and loop counts through the real encoders, read back with Pillow: frame order
(each frame tells its index by its grey level), per-frame durations and ``info["loop"]``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from animations import frames_rgb, read_back

from animgraph.shared.models import LoopMode
from animgraph.workers.media.encode import ENCODERS
from animgraph.workers.media.framestore import FrameSet, FrameWriter
from animgraph.workers.media.join import join_gifs, join_webps
from animgraph.workers.media.loop import arrange
from animgraph.workers.media.select import select_frames
from animgraph.workers.media.webp import encode_webp

LEVEL0, STEP = 12, 14  # frame k is a flat grey of LEVEL0 + STEP * k


def _level(k: int) -> int:
    return LEVEL0 + STEP * k


@pytest.fixture(scope="module")
def numbered(tmp_path_factory: pytest.TempPathFactory) -> FrameSet:
    """16 frames at 10 fps, 64x48, frame k a flat grey of its own level."""
    with FrameWriter(tmp_path_factory.mktemp("numbered"), 64, 48) as writer:
        for k in range(16):
            writer.append(np.full((48, 64, 3), _level(k), np.uint8), k / 10)
    return FrameSet.load(writer.directory)


def _shown_indexes(path: Path) -> list[int]:
    """The frame index each displayed frame shows, from its mean grey level."""
    return [round((float(rgb.mean()) - LEVEL0) / STEP) for rgb in frames_rgb(path)]


def _expected_loop(fmt: str, plays: int) -> int | None:
    """What Pillow reads as ``info["loop"]``: GIF's repeat count (no extension for one play),
    WebP's number of plays."""
    if fmt == "webp":
        return plays
    return None if plays == 1 else max(0, plays - 1)


def _loop_read(path: Path) -> int | None:
    image, _ = read_back(path)
    with image:
        loop = image.info.get("loop")
        return None if loop is None else int(loop)


ORDERS: dict[LoopMode, list[int]] = {
    "Forward": list(range(2, 8)),
    "Reverse": list(range(7, 1, -1)),
    "PingPong": [*range(2, 8), *range(6, 2, -1)],
}


@pytest.mark.parametrize("plays", [0, 1, 3])
@pytest.mark.parametrize("mode", list(ORDERS))
@pytest.mark.parametrize("fmt", ["gif", "webp"])
def test_loop_mode_and_count_read_back(
    numbered: FrameSet, tmp_path: Path, fmt: str, mode: LoopMode, plays: int
) -> None:
    selection = arrange(select_frames(numbered.pts_s, start_s=0.2, end_s=0.8, fps=10), mode)
    out = tmp_path / f"loop.{fmt}"
    ENCODERS[fmt](numbered, selection, out, quality=90, loop_count=plays)
    image, durations = read_back(out)
    image.close()
    assert _shown_indexes(out) == ORDERS[mode]
    assert durations == [100] * len(ORDERS[mode])  # the turn frames too: one slot each
    assert _loop_read(out) == _expected_loop(fmt, plays)


def test_webp_runs_on_threads_keep_the_loop_count(numbered: FrameSet, tmp_path: Path) -> None:
    """A ping-pong of 16 frames is 30: two runs of frames encoded at once, then joined."""
    selection = arrange(select_frames(numbered.pts_s, start_s=0, end_s=1.6, fps=10), "PingPong")
    out = tmp_path / "threads.webp"
    encode_webp(numbered, selection, out, quality=90, threads=2, loop_count=3)
    assert _shown_indexes(out) == [*range(16), *range(14, 0, -1)]
    assert _loop_read(out) == 3


@pytest.mark.parametrize("plays", [0, 1, 3])
@pytest.mark.parametrize("fmt", ["gif", "webp"])
def test_joined_slices_keep_the_loop_count(
    numbered: FrameSet, tmp_path: Path, fmt: str, plays: int
) -> None:
    parts = []
    for n, (start, end) in enumerate([(0.0, 0.5), (0.5, 1.0)]):
        part = tmp_path / f"p{n}.{fmt}"
        selection = select_frames(numbered.pts_s, start_s=start, end_s=end, fps=10)
        ENCODERS[fmt](numbered, selection, part, quality=90, loop_count=plays)
        parts.append(part)
    joined = tmp_path / f"joined.{fmt}"
    if fmt == "gif":
        join_gifs(parts, joined, loop_count=plays)
        assert joined.read_bytes().count(b"NETSCAPE2.0") == (plays != 1)  # one block at most
    else:
        join_webps(parts, joined, [500, 500], loop_count=plays)
    assert _shown_indexes(joined) == list(range(10))
    assert _loop_read(joined) == _expected_loop(fmt, plays)
