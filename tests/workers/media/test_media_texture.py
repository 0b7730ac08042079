"""The texture map that scales the GIF hold and lossy tolerance (temporal.texture, quality's
hold_scale / lossy_scale), and the C coder's per-pixel tolerance."""

from __future__ import annotations

import io

import numpy as np
import pytest

from animgraph.workers.media.gifwriter import GifWriter
from animgraph.workers.media.quality import hold_scale, lossy_scale
from animgraph.workers.media.temporal import texture


def _grey(luma: np.ndarray) -> np.ndarray:
    return np.repeat(np.clip(luma, 0, 255).astype(np.uint8)[..., None], 3, axis=2)


def test_flat_and_linear_areas_have_no_texture() -> None:
    y, x = np.mgrid[0:40, 0:64]
    assert np.abs(texture(_grey(np.full((40, 64), 90.0)))).max() < 1e-3
    ramp = texture(_grey(x * 2.0 + y * 1.0))
    assert np.abs(ramp[3:-3, 3:-3]).max() < 1e-3  # the border repeats pixels: not linear there


def test_fine_detail_has_more_texture_than_noise() -> None:
    rng = np.random.default_rng(3)
    noise = texture(_grey(100 + rng.integers(-1, 2, (40, 64)).astype(np.float64)))
    checks = texture(_grey(np.indices((40, 64)).sum(axis=0) % 2 * 60.0 + 80))
    assert 0 < noise.mean() < 1.5
    assert checks.mean() > 10 * noise.mean()


def test_window_grows_with_the_width() -> None:
    # One bright column: with a wider window the texture around it reaches further.
    narrow, wide = np.zeros((20, 320)), np.zeros((20, 1280))
    narrow[:, 160] = wide[:, 640] = 200
    reach_narrow = np.count_nonzero(texture(_grey(narrow))[10] > 0.01)
    reach_wide = np.count_nonzero(texture(_grey(wide))[10] > 0.01)
    assert reach_wide > reach_narrow


def test_scales_rise_with_texture_and_stay_bounded() -> None:
    busy = np.linspace(0, 100, 201, dtype=np.float32)
    hold, lossy = hold_scale(busy), lossy_scale(busy)
    assert hold[0] == 1 and np.all(np.diff(hold) >= 0) and hold[-1] < 100
    assert np.all(np.diff(lossy.astype(int)) >= 0) and lossy[0] < lossy[-1] <= 255


def test_zero_tolerance_everywhere_is_the_lossless_coder() -> None:
    rng = np.random.default_rng(5)
    palette = rng.integers(0, 256, (200, 3)).astype(np.uint8)
    frames = [rng.integers(0, 256, (30, 40, 3)).astype(np.uint8) for _ in range(3)]

    def write(threshold: int, tolerance: np.ndarray | None) -> bytes:
        buf = io.BytesIO()
        writer = GifWriter(buf, 40, 30, palette, threshold)
        for rgb in frames:
            writer.add(rgb, None, 5, tolerance)
        writer.close()
        return buf.getvalue()

    zero = np.zeros((30, 40), dtype=np.uint8)
    assert write(500, zero) == write(0, None)
    assert len(write(500, np.full((30, 40), 16, np.uint8))) < len(write(0, None))
    assert write(500, np.full((30, 40), 16, np.uint8)) == write(500, None)


def test_carrying_less_of_the_lossy_change_gives_a_different_coding() -> None:
    rng = np.random.default_rng(7)
    palette = rng.integers(0, 256, (200, 3)).astype(np.uint8)
    y, x = np.mgrid[0:30, 0:40]
    smooth = np.stack([x * 4 + 20, y * 5 + 30, (x + y) * 2 + 40], axis=2).astype(np.uint8)

    def write(carry: int) -> bytes:
        buf = io.BytesIO()
        writer = GifWriter(buf, 40, 30, palette, 400, carry=carry)
        writer.add(smooth, None, 5)
        writer.close()
        return buf.getvalue()

    assert write(256) == write(256)
    assert write(128) != write(256)
    with pytest.raises(ValueError, match="carry"):
        GifWriter(io.BytesIO(), 40, 30, palette, 400, carry=257)
