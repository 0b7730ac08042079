"""The GIF's temporal hold (temporal.TemporalHold): still pixels kept, real changes redrawn."""

from __future__ import annotations

import numpy as np
import pytest

from animgraph.workers.media.temporal import TemporalHold


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
