"""Joining GIF and WebP parts encoded in time slices gives one animation of all their frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from animgraph.workers.media.encode import encode_gif, encode_webp
from animgraph.workers.media.framestore import FrameSet, FrameWriter
from animgraph.workers.media.join import join_gifs, join_webps
from animgraph.workers.media.select import select_frames

COLOURS = [
    (220, 30, 30),
    (30, 200, 40),
    (40, 60, 230),
    (240, 240, 20),
    (200, 40, 200),
    (20, 220, 220),
]


def _frames(directory: Path, colours: list[tuple[int, int, int]], start_s: float) -> FrameSet:
    with FrameWriter(directory, 64, 48) as writer:
        for k, colour in enumerate(colours):
            picture = np.zeros((48, 64, 3), np.uint8)
            picture[:, :] = colour
            picture[8:24, 8 + 4 * k : 24 + 4 * k] = 255 - np.array(colour)  # a moving square
            writer.append(picture, start_s + k * 0.5)
    return FrameSet.load(directory)


def _decoded(path: Path) -> list[tuple[np.ndarray, int]]:
    with Image.open(path) as im:
        out = []
        for k in range(im.n_frames):
            im.seek(k)
            im.load()
            out.append((np.asarray(im.convert("RGB")).astype(int), int(im.info["duration"])))
        assert im.info.get("loop") == 0
        return out


@pytest.mark.parametrize("fmt", ["gif", "webp"])
def test_join_parts(tmp_path: Path, fmt: str) -> None:
    slices = [(0.0, 1.5, COLOURS[:3]), (1.5, 3.0, COLOURS[3:])]
    parts = []
    for n, (start, end, colours) in enumerate(slices):
        frames = _frames(tmp_path / f"f{n}", colours, start)
        selection = select_frames(frames.pts_s, start_s=start, end_s=end, fps=2)
        part = tmp_path / f"part{n}.{fmt}"
        if fmt == "gif":
            encode_gif(frames, selection, part, quality=90)
        else:
            encode_webp(frames, selection, part, quality=90)
        parts.append(part)
    joined = tmp_path / f"joined.{fmt}"
    if fmt == "gif":
        join_gifs(parts, joined, loop_count=0)
    else:
        join_webps(parts, joined, still_ms=[1500, 1500], loop_count=0)
    got = _decoded(joined)
    expected = [frame for part in parts for frame in _decoded(part)]
    assert len(got) == len(expected) == 6
    assert sum(ms for _, ms in got) == 3000
    for (picture, ms), (want, want_ms) in zip(got, expected, strict=True):
        assert ms == want_ms
        assert np.abs(picture - want).mean() < 2.0


def test_a_still_webp_part_becomes_one_frame(tmp_path: Path) -> None:
    moving = _frames(tmp_path / "a", COLOURS[:3], 0.0)
    still = _frames(tmp_path / "b", [COLOURS[3]], 1.5)
    first, second = tmp_path / "a.webp", tmp_path / "b.webp"
    encode_webp(moving, select_frames(moving.pts_s, start_s=0, end_s=1.5, fps=2), first, quality=90)
    encode_webp(
        still, select_frames(still.pts_s, start_s=1.5, end_s=2.5, fps=2), second, quality=90
    )
    joined = tmp_path / "joined.webp"
    join_webps([first, second], joined, still_ms=[1500, 1000], loop_count=0)
    got = _decoded(joined)
    assert len(got) == 4 and sum(ms for _, ms in got) == 2500
    assert np.abs(got[-1][0] - np.asarray(COLOURS[3])).mean() < 40


def test_alpha_in_any_webp_part_marks_the_whole_animation(tmp_path: Path) -> None:
    opaque = _frames(tmp_path / "a", COLOURS[:3], 0.0)
    first, second = tmp_path / "a.webp", tmp_path / "b.webp"
    encode_webp(opaque, select_frames(opaque.pts_s, start_s=0, end_s=1.5, fps=2), first, quality=90)
    rgba = np.zeros((48, 64, 4), np.uint8)
    rgba[:, :32] = (*COLOURS[3], 255)  # the right half transparent
    Image.fromarray(rgba, "RGBA").save(second, format="WEBP", quality=90)
    assert first.read_bytes()[20] & 0x10 == 0  # VP8X flags: the first part has no alpha
    joined = tmp_path / "joined.webp"
    join_webps([first, second], joined, still_ms=[1500, 500], loop_count=0)
    flags = joined.read_bytes()[20]
    assert flags & 0x02 and flags & 0x10  # animation, alpha
    with Image.open(joined) as image:
        image.seek(3)
        assert image.mode == "RGBA" and image.getpixel((60, 10))[3] == 0
