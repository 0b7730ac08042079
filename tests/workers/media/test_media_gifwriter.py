"""The GIF writer and its C loops (workers/media/gifwriter.py, _gifcore.c), decoded back by
Pillow and by PyAV's FFmpeg."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest
from PIL import Image

from animgraph.workers.media.gifwriter import TRANSPARENT, Ditherer, GifWriter, dither

H, W = 37, 53


def _palette(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (255, 3)).astype(np.uint8)


def _frames(count: int = 30) -> list[np.ndarray]:
    """Index pictures with still stretches, partial changes, a flat frame and a repeat."""
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 20, (H, W)).astype(np.uint8)
    out = []
    for k in range(count):
        frame = frame.copy()
        changed = rng.random((H, W)) < (0.5 if k % 3 else 0.0)
        frame[changed] = rng.integers(0, 255, int(changed.sum()))
        if k == 7:
            frame[:] = 3
        if k == 12:
            frame[5:9, 40:45] = 200  # a small change: a cropped frame
        out.append(frame)
    return out


def _write(frames: list[np.ndarray], palette: np.ndarray, threshold: int) -> tuple[bytes, list]:
    buf = io.BytesIO()
    writer = GifWriter(buf, W, H, palette, threshold)
    screens = [writer.add(frame, 7).copy() for frame in frames]
    writer.close()
    return buf.getvalue(), screens


def _decoded_pillow(data: bytes) -> list[np.ndarray]:
    image = Image.open(io.BytesIO(data))
    out = []
    for k in range(image.n_frames):
        image.seek(k)
        out.append(np.asarray(image.convert("RGB")))
    return out


def _decoded_pyav(data: bytes) -> list[np.ndarray]:
    with av.open(io.BytesIO(data)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def _oklab(rgb: np.ndarray) -> np.ndarray:
    c = rgb.astype(np.float64) / 255
    c = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    lms = c @ np.array(
        [[0.4122214708, 0.5363325363, 0.0514459929],
         [0.2119034982, 0.6806995451, 0.1073969566],
         [0.0883024619, 0.2817188376, 0.6299787005]]
    ).T  # fmt: skip
    lms = np.cbrt(lms)
    return lms @ np.array(
        [[0.2104542553, 0.7936177850, -0.0040720468],
         [1.9779984951, -2.4285922050, 0.4505937099],
         [0.0259040371, 0.7827717662, -0.8086757660]]
    ).T  # fmt: skip


def test_lossless_frames_decode_to_exactly_the_wanted_pictures() -> None:
    palette = _palette()
    frames = _frames()
    data, screens = _write(frames, palette, threshold=0)
    table = np.vstack([palette, [[0, 0, 0]]]).astype(np.uint8)
    for screen, frame in zip(screens, frames, strict=True):
        np.testing.assert_array_equal(screen, frame)
    for decoded in (_decoded_pillow(data), _decoded_pyav(data)):
        assert len(decoded) == len(frames)
        for got, frame in zip(decoded, frames, strict=True):
            np.testing.assert_array_equal(got, table[frame])
    image = Image.open(io.BytesIO(data))
    assert image.info["loop"] == 0 and image.info["duration"] == 70


def test_lossy_frames_stay_within_the_threshold_and_shrink() -> None:
    # A smooth palette (neighbouring entries close) where lossy matches exist.
    ramp = np.linspace(0, 255, 255)
    palette = np.stack([ramp, ramp[::-1], np.full(255, 128)], 1).astype(np.uint8)
    rng = np.random.default_rng(5)
    frames = [
        np.clip(np.arange(W)[None, :] * 4 + rng.integers(-3, 4, (H, W)) + k, 0, 254).astype(
            np.uint8
        )
        for k in range(10)
    ]
    lossless, _ = _write(frames, palette, threshold=0)
    threshold = 60
    lossy, screens = _write(frames, palette, threshold=threshold)
    assert len(lossy) < 0.8 * len(lossless)
    lab = _oklab(palette)
    table = np.vstack([palette, [[0, 0, 0]]]).astype(np.uint8)
    for screen, frame, got in zip(screens, frames, _decoded_pyav(lossy), strict=True):
        error = ((lab[screen] - lab[frame]) ** 2).sum(axis=2) * 1e5
        assert error.max() <= threshold + 1
        np.testing.assert_array_equal(got, table[screen])  # the screen is what a viewer sees


def test_unchanged_frame_is_a_one_pixel_transparent_frame() -> None:
    palette = _palette()
    frame = np.full((H, W), 9, np.uint8)
    data, _ = _write([frame, frame.copy(), frame.copy()], palette, threshold=0)
    decoded = _decoded_pillow(data)
    assert len(decoded) == 3
    assert all((d == palette[9]).all() for d in decoded)


def test_writer_refuses_bad_frames() -> None:
    writer = GifWriter(io.BytesIO(), W, H, _palette())
    with pytest.raises(ValueError, match="is not"):
        writer.add(np.zeros((H + 1, W), np.uint8), 5)
    with pytest.raises(ValueError, match="delay"):
        writer.add(np.zeros((H, W), np.uint8), -1)
    with pytest.raises(ValueError, match="threshold"):
        GifWriter(io.BytesIO(), W, H, _palette(), -1)


def test_dither_keeps_palette_colours_and_the_mean() -> None:
    palette = np.array([[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 0, 255]], np.uint8)
    # A colour of the palette maps to its own entry everywhere, with no error to spread.
    flat = np.full((20, 30, 3), (255, 0, 0), np.uint8)
    assert (dither(flat, palette) == 2).all()
    # Mid grey from black and white: about half of each, and never an entry beyond `colours`.
    grey = np.full((40, 60, 3), 128, np.uint8)
    out = Ditherer(palette, 2)(grey)
    assert set(np.unique(out)) == {0, 1}
    assert abs(palette[out].astype(float).mean() - 128) < 4
    assert TRANSPARENT not in out


def test_dither_refuses_bad_sizes() -> None:
    with pytest.raises(ValueError, match="colours"):
        Ditherer(_palette(), 0)
    with pytest.raises(ValueError, match="colours"):
        Ditherer(_palette()[:4], 5)
