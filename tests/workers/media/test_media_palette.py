"""Palette refinement (workers/media/palette.py): pure functions on synthetic colours."""

from __future__ import annotations

import itertools

import numpy as np

from animgraph.workers.media.palette import (
    ColourHistogram,
    FlatColours,
    pin_colours,
    refine_palette,
    weighted_error,
)


def _clusters(seed: int = 1) -> np.ndarray:
    """Pixels around four colours, with noise: what a median cut boxes badly."""
    rng = np.random.default_rng(seed)
    centres = np.array([[20, 30, 200], [200, 40, 40], [120, 220, 60], [250, 250, 250]])
    picks = rng.integers(0, len(centres), 20000)
    noisy = centres[picks] + rng.normal(0, 6, (20000, 3))
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8).reshape(100, 200, 3)


def test_histogram_counts_every_pixel_and_keeps_bin_means() -> None:
    hist = ColourHistogram()
    frame = _clusters()
    hist.add(frame)
    hist.add(frame[:10])
    means, weights = hist.points()
    assert hist.total == 20000 + 2000
    assert weights.sum() == hist.total
    # Each bin's mean is a mean of real pixels: the weighted mean of all bins is the pixel mean.
    everything = np.concatenate([frame.reshape(-1, 3), frame[:10].reshape(-1, 3)]).astype(float)
    np.testing.assert_allclose(
        (means * weights[:, None]).sum(0) / weights.sum(), everything.mean(0), rtol=1e-5
    )


def test_refinement_lowers_the_error_and_finds_the_clusters() -> None:
    hist = ColourHistogram()
    hist.add(_clusters())
    # A rough start, each entry 20-40 levels off one cluster (what a median cut's box means are).
    start = np.array([[40, 60, 170], [170, 60, 70], [90, 200, 90], [220, 220, 220]], np.float32)
    refined = refine_palette(hist, start, iterations=10)
    assert weighted_error(hist, refined) < weighted_error(hist, start) / 10
    found = sorted(tuple(int(v) for v in np.rint(c)) for c in refined)
    expected = [(20, 30, 200), (120, 220, 60), (200, 40, 40), (250, 250, 250)]
    for got, want in zip(found, expected, strict=True):
        assert max(abs(g - w) for g, w in zip(got, want, strict=True)) <= 2, (got, want)


def test_each_iteration_never_raises_the_error() -> None:
    hist = ColourHistogram()
    hist.add(_clusters(seed=7))
    palette = np.random.default_rng(3).uniform(0, 255, (16, 3)).astype(np.float32)
    errors = [weighted_error(hist, refine_palette(hist, palette, n)) for n in range(6)]
    assert all(b <= a + 1e-3 for a, b in itertools.pairwise(errors)), errors


def test_an_entry_no_colour_is_near_stays_put_and_empty_input_is_a_no_op() -> None:
    hist = ColourHistogram()
    hist.add(np.full((4, 4, 3), 10, np.uint8))
    palette = np.array([[12, 12, 12], [250, 0, 0]], np.float32)
    refined = refine_palette(hist, palette)
    np.testing.assert_allclose(refined[0], [10, 10, 10])
    np.testing.assert_allclose(refined[1], [250, 0, 0])
    np.testing.assert_array_equal(refine_palette(ColourHistogram(), palette), palette)


def _screen() -> np.ndarray:
    """A screen recording's frame: half pure black, a quarter one exact grey, the rest a
    noisy camera picture."""
    rng = np.random.default_rng(3)
    frame = np.zeros((100, 200, 3), dtype=np.uint8)
    frame[:, 100:150] = (187, 187, 187)
    frame[:, 150:] = np.clip(rng.normal(90, 20, (100, 50, 3)), 0, 255).astype(np.uint8)
    return frame


def test_flat_colours_are_the_exact_colours_of_large_areas() -> None:
    flat = FlatColours(min_share=0.002)
    for _ in range(3):
        flat.add(_screen())
    colours = flat.colours(8)
    assert colours[:2].tolist() == [[0, 0, 0], [187, 187, 187]]  # the largest area first
    assert len(colours) == 2  # no colour of the noisy picture covers 0.2 % of the frame
    assert flat.share() == 0.75
    assert flat.colours(1).tolist() == [[0, 0, 0]]
    assert FlatColours().colours(4).shape == (0, 3)  # nothing counted, nothing flat


def test_camera_footage_has_no_flat_colours() -> None:
    rng = np.random.default_rng(5)
    flat = FlatColours()
    flat.add(np.clip(rng.normal(128, 12, (100, 200, 3)), 0, 255).astype(np.uint8))
    assert len(flat.colours(64)) == 0 and flat.share() == 0.0


def test_pinned_colours_are_held_exactly_through_refinement() -> None:
    frame = _screen()
    hist = ColourHistogram()
    hist.add(frame)
    # a start palette near, not at, the flat colours: k-means alone pulls black's entry away
    start = np.array([[3, 4, 16], [180, 180, 180], [90, 90, 90], [60, 90, 120]], np.float32)
    pinned_start, pinned = pin_colours(start, np.array([[0, 0, 0], [187, 187, 187]], np.uint8))
    assert pinned.tolist() == [True, True, False, False]
    assert pinned_start[:2].tolist() == [[0, 0, 0], [187, 187, 187]]
    refined = refine_palette(hist, pinned_start, iterations=10, pinned=pinned)
    assert refined[:2].tolist() == [[0, 0, 0], [187, 187, 187]]
    assert not np.allclose(refined[2:], start[2:])  # the others still move
