"""Synthetic clips with a known answer for the loop analysis tests (issue 19).

Each is a few seconds of 160x120 H.264 (libx264, crf 18, a keyframe a second) over a textured
background with a little sensor noise, so frames are never bit-identical repeats:

- ``circle_clip``: a disc on a circular path of ``PERIOD_S`` (2.0 s): the clip loops seamlessly
  every 2 s and nowhere else;
- ``cut_clip``: a disc moving right across one scene, then a hard cut at ``CUT_S`` to another;
- ``burst_clip``: a still picture except for ``BURST_S`` (2.5 .. 4.5 s) of motion.

``decode_rgb`` reads a clip back as RGB frames and their times, to build thumbnails from real
decoded pictures.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

Rgb = npt.NDArray[np.uint8]

FPS = 30
WIDTH, HEIGHT = 160, 120
PERIOD_S = 2.0
CUT_S = 2.0
BURST_S = (2.5, 4.5)


def write_clip(
    path: Path, picture: Callable[[int], Rgb], seconds: float, lossless: bool = False
) -> Path:
    """Encode ``picture(i)`` for each frame i of ``seconds`` at FPS into an H.264 MP4 (crf 18,
    or qp 0 with ``lossless``: 4:2:0 chroma, but no coding differences between frames)."""
    with av.open(str(path), mode="w") as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        quality = {"qp": "0"} if lossless else {"crf": "18"}
        video.options = {**quality, "preset": "ultrafast", "g": str(FPS)}
        for i in range(round(seconds * FPS)):
            frame = av.VideoFrame.from_ndarray(picture(i), format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, FPS)
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
    return path


def decode_rgb(path: Path, count: int | None = None) -> tuple[list[Rgb], list[float]]:
    """The frames of ``path`` (the first ``count``, or all) as RGB24, with their times in
    seconds from the first frame."""
    frames: list[Rgb] = []
    times: list[float] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            if count is not None and len(frames) == count:
                break
            frames.append(frame.to_ndarray(format="rgb24"))
            times.append(float(frame.pts * stream.time_base))
    origin = times[0]
    return frames, [t - origin for t in times]


def texture(seed: int) -> Rgb:
    """A background of random 4x4 blocks of colour: detail everywhere, evenly."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(30, 200, (HEIGHT // 4, WIDTH // 4, 3))
    return np.asarray(np.kron(blocks, np.ones((4, 4, 1))), dtype=np.uint8)


def with_disc(background: Rgb, x: float, y: float, noise_seed: int, noise: int = 3) -> Rgb:
    """``background`` with a yellow disc of radius 12 at (x, y) and +-``noise`` levels of noise."""
    rows, cols = np.mgrid[0:HEIGHT, 0:WIDTH]
    picture = background.astype(np.int16)
    picture[(cols - x) ** 2 + (rows - y) ** 2 <= 144] = (250, 240, 30)
    if noise:
        rng = np.random.default_rng(noise_seed)
        picture += rng.integers(-noise, noise + 1, picture.shape, dtype=np.int16)
    return np.asarray(np.clip(picture, 0, 255), dtype=np.uint8)


def circle_clip(path: Path, seconds: float = 6.0, noise: int = 3, lossless: bool = False) -> Path:
    """A disc going round a circle every PERIOD_S over a still textured background."""
    background = texture(1)

    def picture(i: int) -> Rgb:
        angle = 2 * math.pi * (i / FPS) / PERIOD_S
        x, y = 80 + 45 * math.cos(angle), 60 + 35 * math.sin(angle)
        return with_disc(background, x, y, i, noise)

    return write_clip(path, picture, seconds, lossless)


def cut_clip(path: Path, seconds: float = 4.0) -> Path:
    """A disc moving right at 25 px/s; at CUT_S the background changes to another scene."""
    first, second = texture(2), 255 - texture(3)

    def picture(i: int) -> Rgb:
        t = i / FPS
        return with_disc(first if t < CUT_S else second, 30 + 25 * t, 60, i)

    return write_clip(path, picture, seconds)


def burst_clip(path: Path, seconds: float = 6.0) -> Path:
    """A still disc that moves only during BURST_S (left to right, bobbing)."""
    background = texture(4)
    begin, end = BURST_S

    def picture(i: int) -> Rgb:
        t = min(max(i / FPS, begin), end)
        x = 20 + 120 * (t - begin) / (end - begin)
        return with_disc(background, x, 60 + 30 * math.sin(3 * (t - begin)), i)

    return write_clip(path, picture, seconds)
