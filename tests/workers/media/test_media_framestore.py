"""The on-disk FrameSet: streaming write, atomic publish, random access by index."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from animgraph.workers.media.framestore import FrameSet, FrameWriter


def frame(level: int, width: int = 5, height: int = 3) -> np.ndarray:
    rgb = np.full((height, width, 3), level, np.uint8)
    rgb[0, 0] = (level, 255 - level, 7)
    return rgb


def test_round_trip_by_index(tmp_path: Path) -> None:
    with FrameWriter(tmp_path, 5, 3) as writer:
        for k in range(4):
            writer.append(frame(10 * k), pts_s=k / 25)
    frames = FrameSet.load(tmp_path)
    assert (frames.width, frames.height, len(frames)) == (5, 3, 4)
    assert frames.pts_s == (0.0, 0.04, 0.08, 0.12)
    with frames.reader() as reader:
        for k in (3, 0, 2):
            np.testing.assert_array_equal(reader.frame(k), frame(10 * k))
        with pytest.raises(IndexError):
            reader.frame(4)
    np.testing.assert_array_equal(frames.read(1), frame(10))


def test_manifest_and_data_layout(tmp_path: Path) -> None:
    writer = FrameWriter(tmp_path, 5, 3)
    writer.append(frame(1), 0.5)
    writer.append(frame(2).tobytes(), 0.6)
    frames = writer.commit()
    manifest = json.loads((tmp_path / "frames.json").read_text())
    assert manifest == {
        "version": 1,
        "pixel_format": "rgb24",
        "width": 5,
        "height": 3,
        "frame_bytes": 45,
        "count": 2,
        "pts_s": [0.5, 0.6],
    }
    assert (tmp_path / "frames.rgb").read_bytes() == frame(1).tobytes() + frame(2).tobytes()
    assert frames == FrameSet.load(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames.json", "frames.rgb"]


def test_failed_write_leaves_the_previous_set(tmp_path: Path) -> None:
    with FrameWriter(tmp_path, 5, 3) as writer:
        writer.append(frame(1), 0.0)
    with pytest.raises(RuntimeError), FrameWriter(tmp_path, 5, 3) as writer:
        writer.append(frame(2), 0.0)
        writer.append(frame(3), 0.1)
        raise RuntimeError("worker died")
    frames = FrameSet.load(tmp_path)
    assert len(frames) == 1
    np.testing.assert_array_equal(frames.read(0), frame(1))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames.json", "frames.rgb"]


def test_rewrite_replaces_the_set(tmp_path: Path) -> None:
    for levels in ([1, 2, 3], [9]):
        with FrameWriter(tmp_path, 5, 3) as writer:
            for k, level in enumerate(levels):
                writer.append(frame(level), k)
    frames = FrameSet.load(tmp_path)
    assert len(frames) == 1
    np.testing.assert_array_equal(frames.read(0), frame(9))


def test_wrong_frame_size_is_refused(tmp_path: Path) -> None:
    writer = FrameWriter(tmp_path, 5, 3)
    with pytest.raises(ValueError, match="expected 5x3x3"):
        writer.append(frame(1, width=4), 0.0)
    writer.abort()
    assert list(tmp_path.iterdir()) == []


def test_load_refuses_missing_or_inconsistent_sets(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no readable frame set"):
        FrameSet.load(tmp_path)
    with FrameWriter(tmp_path, 5, 3) as writer:
        writer.append(frame(1), 0.0)
    (tmp_path / "frames.rgb").write_bytes(b"short")
    with pytest.raises(ValueError, match="expected 45"):
        FrameSet.load(tmp_path)


def test_empty_set(tmp_path: Path) -> None:
    with FrameWriter(tmp_path, 5, 3):
        pass
    frames = FrameSet.load(tmp_path)
    assert len(frames) == 0
    with frames.reader() as reader, pytest.raises(IndexError):
        reader.frame(0)
