"""The Quality mappings: each encoder setting monotonic in the template Quality, fixed points."""

from __future__ import annotations

import itertools

import pytest

from animgraph.workers.media import quality
from animgraph.workers.media.quality import (
    WEBP_METHOD,
    WEBP_PARTLY_STILL,
    WEBP_STILL_METHOD,
    WEBP_STILL_PEAK,
    WEBP_STILL_SCENE,
    WEBP_STILL_SHIFT,
    WebpPlan,
    gif_hold_boost,
    gif_hold_levels,
    gif_lossy_carry,
    gif_max_colors,
    webp_hold,
    webp_plan,
    webp_quality,
    webp_still_quality,
)


def test_gif_max_colors_falls_with_quality() -> None:
    colours = [gif_max_colors(q) for q in (1, 25, 39, 40, 75, 100)]
    assert colours == sorted(colours) and colours[0] == 64 and colours[-3:] == [256, 256, 256]


def test_gif_hold_levels_fall_as_quality_rises() -> None:
    levels = [gif_hold_levels(q) for q in (1, 25, 50, 75, 99, 100)]
    assert levels == sorted(levels, reverse=True) and levels[-1] == 0 and levels[0] <= 16


def test_lossy_carry_is_whole_from_the_default_up_and_half_at_the_low_end() -> None:
    carries = [gif_lossy_carry(q) for q in range(1, 101)]
    assert carries == sorted(carries)
    assert gif_lossy_carry(1) == gif_lossy_carry(50) == 128
    assert gif_lossy_carry(75) == gif_lossy_carry(100) == 256


def test_webp_quality_maps_the_template_scale_monotonically() -> None:
    mapped = [webp_quality(q) for q in range(1, 101)]
    assert mapped == sorted(mapped) and 0 <= mapped[0] < mapped[-1] == 100
    assert webp_quality(quality.WEBP_DEFAULT_QUALITY) == quality.WEBP_QUALITY_AT_DEFAULT


def test_webp_hold_scales_with_quality() -> None:
    assert webp_hold(75) == (WEBP_STILL_SHIFT, WEBP_STILL_PEAK)
    assert webp_hold(100) == (0.0, 0.0)
    shifts = [webp_hold(q)[0] for q in range(1, 101)]
    assert all(a >= b for a, b in itertools.pairwise(shifts))
    assert webp_hold(1) == webp_hold(40) == (2 * WEBP_STILL_SHIFT, 2 * WEBP_STILL_PEAK)


def test_gif_hold_boost_only_for_still_scenes_that_wobble() -> None:
    assert gif_hold_boost(0.0, 0.01) == 1.0  # exactly still parts: screens, animation
    assert gif_hold_boost(0.5, 0.02) == pytest.approx(3.0)  # a fixed camera, clean H.264
    assert gif_hold_boost(0.5, 0.45) == 1.0  # a pan: a stronger hold smears
    assert gif_hold_boost(3.6, 0.02) == 1.0  # noisy: TemporalHold's noise rule instead
    assert 1.0 < gif_hold_boost(0.5, 0.175) < 3.0  # between still and moving
    assert 1.0 < gif_hold_boost(1.5, 0.02) < 3.0  # between wobble and noise


def test_webp_plan_follows_the_still_fraction() -> None:
    moving, partly, still = (webp_plan(75, f) for f in (0.3, 0.7, 0.95))
    assert moving == WebpPlan(webp_quality(75), WEBP_METHOD, None)
    assert webp_plan(75, None) == moving
    assert partly.hold is None and partly.method == WEBP_STILL_METHOD
    assert webp_quality(75) < partly.libwebp_quality < still.libwebp_quality < 100
    assert still == WebpPlan(webp_still_quality(webp_quality(75)), WEBP_STILL_METHOD, webp_hold(75))
    assert webp_plan(75, WEBP_PARTLY_STILL) == partly
    assert webp_plan(75, WEBP_STILL_SCENE) == still
    assert webp_plan(100, 1.0).libwebp_quality == 100


def test_webp_plan_quality_rises_with_the_template_quality() -> None:
    for still in (None, 0.0, 0.7, 1.0):
        mapped = [webp_plan(q, still).libwebp_quality for q in range(1, 101)]
        assert mapped == sorted(mapped) and mapped[-1] == 100
