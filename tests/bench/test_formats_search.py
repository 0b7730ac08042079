"""The formats benchmark's pure helpers (bench/formats.py): the search for the Quality that
brackets a reference FLIP and the bytes at that FLIP; and the bench's video reader
(bench/metrics.read_video) on a tagged BT.709 clip. No worker."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bench import colours, metrics
from bench.formats import Point, match, next_quality


def _curve(q: float) -> Point:
    """Bytes grow and FLIP falls with Quality, as our encoders' do."""
    return Point(q, round(1000 * math.exp(q / 25)), 0.30 - 0.002 * q)


def _search(target: float, max_points: int = 10) -> dict[float, Point]:
    points: dict[float, Point] = {}
    while len(points) < max_points:
        q = next_quality(points, target)
        if q is None:
            break
        assert q not in points
        points[q] = _curve(q)
    return points


def test_the_search_starts_at_75_and_walks_down_then_halves_the_bracket() -> None:
    # FLIP 0.21 is reached at q45: 75 and 50 are under it, 25 over, then 38 (over) leaves a
    # bracket of 12, within the tolerance (13).
    points = _search(0.21)
    assert list(points) == [75, 50, 25, 38]
    m = match(list(points.values()), 0.21)
    assert (m.between, m.measured) == (points[38], points[50])
    assert m.bytes == pytest.approx(_curve(45).bytes, rel=0.01)  # exact on this curve


def test_the_search_walks_up_when_75_is_not_sharp_enough() -> None:
    points = _search(0.12)  # q90
    assert list(points)[:2] == [75, 100]
    assert 88 in points


def test_the_search_stops_at_the_ends() -> None:
    assert list(_search(0.5)) == [75, 50, 25, 1]  # even Quality 1 is sharp enough
    assert list(_search(0.01)) == [75, 100]  # no Quality is


def test_match_interpolates_log_bytes_between_the_bracketing_outputs() -> None:
    low, high = Point(40, 1000, 0.20), Point(60, 4000, 0.10)
    m = match([Point(20, 500, 0.30), low, high, Point(80, 9000, 0.05)], 0.15)
    assert m.method == "interpolated"
    assert m.measured == high and m.between == low
    assert m.bytes == pytest.approx(2000)  # half way in FLIP: the geometric mean of the bytes
    assert "between q40 and q60" in m.describe()


def test_match_takes_a_measured_output_when_nothing_smaller_is_over_the_flip() -> None:
    exact = match([Point(40, 1000, 0.20), Point(60, 4000, 0.10)], 0.10)
    assert (exact.method, exact.bytes) == ("measured", 4000)
    floor = match([Point(1, 800, 0.12), Point(25, 1500, 0.08)], 0.15)
    assert (floor.method, floor.bytes, floor.measured) == ("measured", 800, Point(1, 800, 0.12))
    assert floor.describe() == "measured at q1"


def test_match_when_no_output_reaches_the_flip() -> None:
    m = match([Point(75, 1000, 0.2), Point(100, 2000, 0.15)], 0.1)
    assert m.method == "unreached" and math.isnan(m.bytes)


def test_match_uses_the_smallest_sharp_enough_output_when_flip_is_not_monotone() -> None:
    # q60 is smaller than q70 and sharp enough: the bracket is q50..q60.
    pts = [Point(50, 900, 0.2), Point(60, 1000, 0.09), Point(70, 1100, 0.095)]
    m = match(pts, 0.1)
    assert m.measured == pts[1] and m.between == pts[0]


def test_read_video_converts_with_the_tagged_matrix(tmp_path: Path) -> None:
    clip = colours.write_clip(tmp_path / "bt709.mp4", "bt709")
    anim = metrics.read_animation(clip)
    assert (anim.width, anim.height) == colours.SIZE
    assert anim.durations_ms == [100] * 10 and anim.loop == 0
    assert max(colours.patch_errors(anim)) <= colours.TOLERANCE


def _row(fmt: str, ratio: float, method: str = "interpolated") -> dict[str, object]:
    ref = {"quality": 75, "bytes": 1000, "flip": 0.1, "ssim": 0.9, "flicker": 1.0, "encode_s": 1}
    point = {**ref, "bytes": round(1000 * ratio) if math.isfinite(ratio) else 900, "flip": 0.11}
    return {
        "clip": "a.mp4",
        "fmt": fmt,
        "ref_fmt": "gif",
        "job": {"fmt": fmt, "fps": 10, "width": 480, "duration_s": 3.0},
        "ref": ref,
        "points": [point],
        "match": {"bytes": 1000 * ratio, "method": method, "describe": method},
        "ratio": ratio,
        "target": {"avif": 0.5, "mp4": 0.25}.get(fmt),
        "closest": point,
        "floor": 0.05,
    }


def test_the_section_says_which_targets_are_met() -> None:
    from bench.report import FORMATS_HEADING, formats_lines

    data = {
        "wall_s": 60.0,
        "quality": 75,
        "budget_job": {"fmt": "gif", "fps": 15, "width": 640, "duration_s": 6.0},
        "matches": [
            _row("avif", 0.4),
            _row("mp4", 0.3),
            _row("webm", math.nan, "unreached"),
        ],
        "apng": [],
        "budgets": [],
        "times": [],
    }
    text = "\n".join(formats_lines(data))
    assert text.startswith(FORMATS_HEADING)
    assert "| AVIF <= 0.5x our WebP's bytes at equal or lower FLIP | a.mp4 | 0.400x" in text
    assert "| MP4 <= 0.25x our GIF's bytes at equal or lower FLIP | a.mp4 | 0.300x" in text
    assert "| **not met** |" in text
    assert "unreached; closest: q75 1 KB (0.900x) at FLIP 0.1100 (1.100x)" in text
