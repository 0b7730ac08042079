"""The GIF's temporal hold (temporal.TemporalHold): still pixels kept, real changes redrawn."""

from __future__ import annotations

import numpy as np
import pytest

from animgraph.workers.media.temporal import NoiseMeter, TemporalHold


def test_temporal_hold_keeps_still_pixels_and_redraws_changes() -> None:
    rng = np.random.default_rng(3)
    hold = TemporalHold(4)
    base = np.full((6, 8, 3), 100, np.uint8)
    first = hold.redraw(base)
    assert first.all()  # the first frame is drawn whole
    hold.wrote(first, base)
    noisy = base + rng.integers(0, 4, base.shape, dtype=np.uint8)  # sensor noise, 0..3 levels
    moved = noisy.copy()
    moved[2:4, 2:4] = 200  # a real change
    changed = np.zeros((6, 8), bool)
    changed[2:4, 2:4] = True
    np.testing.assert_array_equal(hold.redraw(moved), changed)  # noise is not redrawn


def test_temporal_hold_compares_with_the_source_at_the_last_write() -> None:
    hold = TemporalHold(4)
    start = np.full((1, 1, 3), 100, np.uint8)
    hold.wrote(hold.redraw(start), start)
    # a slow drift of 2 levels per frame redraws once it adds up past the tolerance
    redrawn = []
    for k in (1, 2, 3, 4):
        rgb = np.full((1, 1, 3), 100 + 2 * k, np.uint8)
        mask = hold.redraw(rgb)
        hold.wrote(mask, rgb)
        redrawn.append(bool(mask[0, 0]))
    assert redrawn == [False, False, True, False]


def test_temporal_hold_at_zero_levels_redraws_every_frame() -> None:
    hold = TemporalHold(0)
    rgb = np.zeros((2, 2, 3), np.uint8)
    hold.wrote(hold.redraw(rgb), rgb)
    assert hold.redraw(rgb).all()
    other = TemporalHold(3)
    other.wrote(other.redraw(rgb), rgb)
    with pytest.raises(ValueError, match="does not match"):
        other.redraw(np.zeros((3, 3, 3), np.uint8))


# --- noise: NoiseMeter and the hold's noise rule ------------------------------------------------


def _still_scene(noise: float, frames: int = 6, seed: int = 2) -> list[np.ndarray]:
    """A still textured scene filmed with ``noise`` levels of sensor noise per frame."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(40, 200, (64, 96, 3))
    return [
        np.clip(np.rint(base + rng.normal(0, noise, base.shape)), 0, 255).astype(np.uint8)
        for _ in range(frames)
    ]


def test_noise_meter_measures_the_noise_of_a_still_scene() -> None:
    for noise in (0.0, 1.0, 4.0):
        meter = NoiseMeter()
        for frame in _still_scene(noise):
            meter.add(frame)
        assert meter.noise == pytest.approx(
            noise * 0.8, abs=0.25 + 0.15 * noise
        )  # luma of RGB noise
        assert meter.moving < 0.05


def test_noise_meter_sees_motion_but_not_as_noise() -> None:
    """A scene a third of which moves: the still part still gives the noise."""
    meter = NoiseMeter()
    rng = np.random.default_rng(4)
    for k, frame in enumerate(_still_scene(1.0, frames=8)):
        moved = frame.copy()
        moved[:, :32] = rng.integers(0, 256, (64, 32, 3), dtype=np.uint8) if k else moved[:, :32]
        meter.add(moved)
    assert meter.noise == pytest.approx(0.8, abs=0.3)
    assert 0.25 < meter.moving < 0.4
    assert NoiseMeter().noise == 0.0 and NoiseMeter().moving == 0.0


def test_noisy_hold_keeps_noise_and_redraws_real_changes() -> None:
    frames = _still_scene(4.0, frames=3)
    plain, noisy = TemporalHold(0.76), TemporalHold(0.76, noise=4.0 * 0.8)
    first = frames[0]
    for hold in (plain, noisy):
        hold.wrote(hold.redraw(first), first)
    assert plain.redraw(frames[1]).mean() > 0.8  # noise redraws nearly everything
    assert noisy.redraw(frames[1]).mean() < 0.2
    changed = frames[1].copy()
    changed[10:30, 10:40] = np.clip(changed[10:30, 10:40].astype(int) + 12, 0, 255)  # a real change
    redraw = noisy.redraw(changed)
    assert redraw[12:28, 12:38].mean() > 0.9 and redraw[40:].mean() < 0.2
    with pytest.raises(ValueError):
        TemporalHold(1.0, noise=-1)
