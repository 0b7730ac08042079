"""Frame selection on timestamps only: resampling, merging repeats, capping."""

from __future__ import annotations

import math

import pytest

from animgraph.workers.media.select import STEPS, Selection, select_frames


def source_pts(fps: float, seconds: float, origin: float = 0.0) -> list[float]:
    return [origin + k / fps for k in range(math.ceil(seconds * fps))]


def total(selection: Selection) -> float:
    return sum(s.duration_s for s in selection)


def test_steps_are_in_pipeline_order() -> None:
    assert [s.__name__ for s in STEPS] == [
        "trim_to_segment",
        "resample_fps",
        "merge_repeats",
        "cap_frames",
    ]


def overlap(a: float, b: float, c: float, d: float) -> float:
    return max(0.0, min(b, d) - max(a, c))


def test_resample_30_to_10_fps_takes_every_third_frame() -> None:
    selection = select_frames(source_pts(30, 5), start_s=1.0, end_s=2.0, fps=10)
    # slot k is [1 + k/10, 1 + (k+1)/10); its middle 1.05 + k/10 shows frame 31 + 3k
    assert [s.index for s in selection] == list(range(31, 60, 3))
    assert [round(s.start_s, 9) for s in selection] == [round(1.0 + k / 10, 9) for k in range(10)]
    assert all(s.duration_s == pytest.approx(0.1) for s in selection)
    assert total(selection) == pytest.approx(1.0, abs=1e-9)


def test_output_shows_the_frame_on_screen_at_the_middle_of_each_slot() -> None:
    pts = source_pts(30, 5)
    selection = select_frames(pts, start_s=1.01, end_s=1.52, fps=10)
    # slots start at 1.01, 1.11, ... 1.51; the last one is cut to 1.51..1.52 (middle 1.515);
    # the frame on screen at t is floor(t * 30)
    middles = [1.06 + k / 10 for k in range(5)] + [1.515]
    assert [s.index for s in selection] == [math.floor(t * 30) for t in middles]
    assert selection[0].start_s == pytest.approx(1.01)
    assert selection[-1].end_s == pytest.approx(1.52)
    assert selection[-1].duration_s == pytest.approx(0.01)


def test_first_source_frame_fills_the_start_when_none_is_earlier() -> None:
    selection = select_frames([0.25, 0.5, 0.75], start_s=0.0, end_s=1.0, fps=4)
    assert [(s.index, s.start_s) for s in selection] == [(0, 0.0), (1, 0.5), (2, 0.75)]
    assert selection[0].duration_s == pytest.approx(0.5)


def test_repeats_merge_when_output_fps_exceeds_source() -> None:
    selection = select_frames(source_pts(10, 2), start_s=0.0, end_s=1.0, fps=30)
    assert [s.index for s in selection] == list(range(10))
    assert all(s.duration_s == pytest.approx(0.1) for s in selection)
    assert total(selection) == pytest.approx(1.0)


def test_still_source_is_one_frame_for_the_whole_segment() -> None:
    selection = select_frames([0.0], start_s=0.0, end_s=3.0, fps=15)
    assert [(s.index, s.start_s, s.duration_s) for s in selection] == [(0, 0.0, 3.0)]


def test_variable_frame_rate_follows_the_source_clock() -> None:
    selection = select_frames([0.0, 0.05, 0.3, 0.31, 0.9], start_s=0.0, end_s=1.0, fps=10)
    # slot middles 0.05, 0.15, ... 0.95 show frames 1, 1, 1, 3, 3, 3, 3, 3, 3, 4 (0.05 <= 0.05
    # shows frame 1); frames 0 and 2 are on screen for less than half a slot and never shown
    assert [(s.index, round(s.start_s, 9), round(s.duration_s, 9)) for s in selection] == [
        (1, 0.0, 0.3),
        (3, 0.3, 0.6),
        (4, 0.9, 0.1),
    ]


@pytest.mark.parametrize(("source_fps", "fps"), [(20, 15), (25, 10), (25, 15), (29.97, 24)])
def test_each_slot_shows_the_source_frame_on_screen_longest_during_it(
    source_fps: float, fps: int
) -> None:
    pts = source_pts(source_fps, 8, origin=0.013)
    start, end = 2.0, 5.0
    selection = select_frames(pts, start_s=start, end_s=end, fps=fps)
    source_ends = [*pts[1:], math.inf]
    slots = [(start + k / fps, min(start + (k + 1) / fps, end)) for k in range(round(3 * fps))]
    shown_in = [  # the index shown over each slot, from the (merged) selection
        next(s.index for s in selection if s.start_s <= a + 1e-9 < s.end_s) for a, _ in slots
    ]
    for (a, b), index in zip(slots, shown_in, strict=True):
        longest = max(overlap(a, b, p, q) for p, q in zip(pts, source_ends, strict=True))
        assert overlap(a, b, pts[index], source_ends[index]) == pytest.approx(longest)


def test_slot_choice_keeps_frame_count_and_total_of_the_start_choice() -> None:
    # 20 fps to 15 fps, 3 s: one output frame per slot, 45 slots of 1/15 s each, no merging
    selection = select_frames(source_pts(20, 10), start_s=2.0, end_s=5.0, fps=15)
    assert len(selection) == 45
    assert [round(s.start_s, 9) for s in selection] == [round(2.0 + k / 15, 9) for k in range(45)]
    assert total(selection) == pytest.approx(3.0, abs=1e-9)
    # no source frame is skipped for a later one and then shown again
    indexes = [s.index for s in selection]
    assert indexes == sorted(set(indexes))


def test_cap_keeps_evenly_spaced_frames_and_the_total() -> None:
    selection = select_frames(source_pts(30, 10), start_s=0.0, end_s=10.0, fps=30, max_frames=50)
    assert len(selection) == 50
    assert [s.index for s in selection] == [k * 300 // 50 for k in range(50)]
    assert all(s.duration_s == pytest.approx(0.2) for s in selection)
    assert total(selection) == pytest.approx(10.0)


def test_total_is_the_segment_for_awkward_rates() -> None:
    for fps in (1, 7, 15, 24, 29, 60):
        selection = select_frames(
            source_pts(29.97, 12, origin=0.02), start_s=0.37, end_s=5.83, fps=fps
        )
        assert total(selection) == pytest.approx(5.83 - 0.37, abs=1e-9)
        assert len(selection) <= math.ceil((5.83 - 0.37) * fps)
        starts = [s.start_s for s in selection]
        assert starts == sorted(starts)


def test_frame_count_matches_duration_times_fps() -> None:
    selection = select_frames(source_pts(30, 10), start_s=0.0, end_s=3.0, fps=10)
    assert len(selection) == 30  # not 31 from float noise in 3.0 * 10


def test_frames_at_or_after_end_are_not_shown() -> None:
    selection = select_frames(source_pts(30, 2), start_s=0.0, end_s=0.5, fps=30)
    assert selection[-1].index == 14


def test_empty_inputs() -> None:
    assert select_frames([], start_s=0.0, end_s=1.0, fps=10) == ()
    assert select_frames([0.0], start_s=1.0, end_s=1.0, fps=10) == ()
    with pytest.raises(ValueError):
        select_frames([0.0], start_s=0.0, end_s=1.0, fps=0)
