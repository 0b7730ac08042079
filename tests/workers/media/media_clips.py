"""Synthetic clips for the media-core tests: every frame tells its index by its pixels.

(Helpers only; the fixtures are in conftest.py.)

Frame ``i`` of a grey clip is a flat grey of level ``GREY0 + GREY_STEP * i`` (``frame_index``
reads it back); a white 8x8 marker in the coded top-left corner shows orientation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

GREY0 = 16
GREY_STEP = 3
MARK = 8


@dataclass(frozen=True)
class Clip:
    path: Path
    fps: int
    frames: int
    width: int
    height: int


ClipFactory = Callable[..., Clip]


def grey_level(index: int) -> int:
    """The grey level of frame ``index`` of a grey clip."""
    return GREY0 + GREY_STEP * index


def frame_index(rgb: npt.NDArray[np.uint8]) -> int:
    """The index of a grey-clip frame from its mean level away from the marker."""
    h, w = rgb.shape[:2]
    centre = rgb[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4].astype(float).mean()
    return round((centre - GREY0) / GREY_STEP)


def grey_frame(index: int, width: int, height: int) -> npt.NDArray[np.uint8]:
    """Frame ``index``: flat grey with a white marker in the top-left corner."""
    rgb = np.full((height, width, 3), grey_level(index), np.uint8)
    rgb[:MARK, :MARK] = 255
    return rgb


def write_clip(
    path: Path,
    *,
    frames: int = 60,
    fps: int = 30,
    width: int = 64,
    height: int = 48,
    gop: int = 10,
    rotation_ccw: int = 0,
    first_pts: int = 0,
    audio: bool = False,
    picture: Callable[[int, int, int], npt.NDArray[np.uint8]] = grey_frame,
) -> Clip:
    """Write a lossless H.264 clip (qp 0) whose frame i is ``picture(i, width, height)``."""
    with av.open(str(path), mode="w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"qp": "0", "preset": "ultrafast", "g": str(gop), "bf": "0"}
        if rotation_ccw:
            video.set_display_rotation(rotation_ccw)
        sound = container.add_stream("aac", rate=48000) if audio else None
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(picture(i, width, height), format="rgb24")
            frame.pts = first_pts + i
            frame.time_base = Fraction(1, fps)
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
        if sound is not None:
            _write_tone(container, sound, seconds=frames / fps)
    return Clip(path, fps, frames, width, height)


def write_audio_only(path: Path, seconds: float = 1.0) -> Path:
    """A WAV file with a tone and no video stream."""
    with av.open(str(path), mode="w") as container:
        _write_tone(container, container.add_stream("pcm_s16le", rate=48000), seconds=seconds)
    return path


def _write_tone(container: av.container.OutputContainer, stream: object, seconds: float) -> None:
    rate = 48000
    samples = np.sin(np.arange(int(rate * seconds)) * 2 * np.pi * 440 / rate)
    fmt = stream.codec_context.format.name  # type: ignore[attr-defined]
    layout_samples = stream.codec_context.frame_size or 1024  # type: ignore[attr-defined]
    for offset in range(0, len(samples), layout_samples):
        chunk = samples[offset : offset + layout_samples]
        if fmt == "s16":
            data = (chunk * 8000).astype(np.int16).reshape(1, -1)
        else:
            data = (chunk * 0.25).astype(np.float32).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(data, format=fmt, layout="mono")
        frame.sample_rate = rate
        frame.pts = offset
        frame.time_base = Fraction(1, rate)
        for packet in stream.encode(frame):  # type: ignore[attr-defined]
            container.mux(packet)
    for packet in stream.encode(None):  # type: ignore[attr-defined]
        container.mux(packet)
