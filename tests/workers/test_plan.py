"""Unit tests of the procedure plan: offsets (contract §5), display size, per-subtask errors,
the loop fields and the decode window (contract §2.5)."""

from __future__ import annotations

import pytest

from animgraph.shared.errors import InvalidInputError
from animgraph.shared.models import (
    AnimatedGraphicsTemplate,
    AnimatedGraphicTaskInput,
    MediaMetaData,
)
from animgraph.shared.templates import PRESETS
from animgraph.workers.plan import (
    display_size,
    loop_window,
    plan_subtasks,
    resolve_offsets,
    slicing,
)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (None, None, (0.0, 10.0)),  # missing: the whole video
        (0, 0, (0.0, 10.0)),  # 0: start / end of the video
        (2, 5, (2.0, 5.0)),
        (2.5, None, (2.5, 10.0)),
        (-3, None, (7.0, 10.0)),  # negative: before the end
        (-3, -1, (7.0, 9.0)),
        (4, 25, (4.0, 10.0)),  # an end past the duration is clamped
        (0, -9.5, (0.0, 0.5)),
    ],
)
def test_offsets_resolve(
    start: float | None, end: float | None, expected: tuple[float, float]
) -> None:
    assert resolve_offsets(start, end, 10.0) == expected


@pytest.mark.parametrize(
    ("start", "end"),
    [(10, None), (12, 14), (5, 5), (6, 5), (-11, None), (0, -10), (0, -12), (3, -8)],
)
def test_offsets_refused(start: float, end: float | None) -> None:
    with pytest.raises(InvalidInputError) as info:
        resolve_offsets(start, end, 10.0)
    assert info.value.code == "InvalidInput.InvalidTimeOffset"
    assert "10.000 s" in info.value.message


@pytest.mark.parametrize(
    ("width", "height", "rotate", "expected"),
    [
        (1280, 720, 0, (1280, 720)),
        (1280, 720, 90, (720, 1280)),
        (1280, 720, 180, (1280, 720)),
        (1920, 1080, 270, (1080, 1920)),
    ],
)
def test_display_size_applies_rotation(
    width: int, height: int, rotate: int, expected: tuple[int, int]
) -> None:
    assert display_size(MediaMetaData(width=width, height=height, rotate=rotate)) == expected


def test_plan_keeps_each_subtask_error_to_itself() -> None:
    meta = MediaMetaData(width=1280, height=720, rotate=90, duration=8.0, video_duration=8.0)
    items = (
        AnimatedGraphicTaskInput(definition=20000, start_time_offset=1, end_time_offset=3),
        AnimatedGraphicTaskInput(definition=12345),
        AnimatedGraphicTaskInput(definition=20001, start_time_offset=9),
    )
    good, unknown, late = plan_subtasks(items, meta, PRESETS.get)
    assert (good.start_s, good.end_s, good.width_px, good.height_px) == (1.0, 3.0, 720, 1280)
    assert good.error_code == "" and good.template == PRESETS[20000]
    assert (
        unknown.error_code == "InvalidInput.DefinitionNotExist" and "12345" in unknown.error_message
    )
    assert late.error_code == "InvalidInput.InvalidTimeOffset" and late.template is not None
    assert [p.index for p in (good, unknown, late)] == [0, 1, 2]


@pytest.mark.parametrize(
    ("start", "end", "fps", "expected"),
    [
        (0, 20, 10, (1, 0.0)),  # shorter than the split threshold: whole
        (0, 60, 10, (6, 10.0)),
        (0, 61, 10, (7, 10.0)),
        (5, 65, 3, (6, 10.0)),
        (0, 40, 7, (4, 10.0)),  # 70 frames of 1/7 s
        (0, 40, 6, (4, 10.0)),
        (0, 35, 4, (4, 10.0)),
        (0, 30, 1, (3, 10.0)),
    ],
)
def test_slicing(start: float, end: float, fps: int, expected: tuple[int, float]) -> None:
    slices, step = slicing(start, end, fps, min_s=30, slice_s=10)
    assert (slices, round(step, 6)) == expected
    if slices > 1:
        assert abs(step * fps - round(step * fps)) < 1e-9  # whole output frames per slice
        assert (slices - 1) * step < end - start <= slices * step + 1e-9


def test_plan_splits_long_segments_only() -> None:
    meta = MediaMetaData(width=1920, height=1080, duration=90.0, video_duration=90.0)
    items = (
        AnimatedGraphicTaskInput(definition=20000, start_time_offset=0, end_time_offset=60),
        AnimatedGraphicTaskInput(definition=20000, start_time_offset=0, end_time_offset=10),
    )
    long, short = plan_subtasks(items, meta, PRESETS.get, split_min_s=30, split_slice_s=10)
    assert (long.slices, long.slice_s, short.slices) == (6, 10.0, 1)
    [whole] = plan_subtasks(items[:1], meta, PRESETS.get)
    assert whole.slices == 1


def _looping(**fields: object) -> AnimatedGraphicsTemplate:
    return AnimatedGraphicsTemplate(definition=100001, fps=10, **fields)


@pytest.mark.parametrize(
    ("fields", "segment", "expected"),
    [
        # Forward, Reverse, PingPong: the decode window is the segment
        ({}, (2, 5), (2, 5, 2, 5, 0)),
        ({"LoopMode": "PingPong"}, (2, 5), (2, 5, 2, 5, 0)),
        # Seamless: widened by SeamWindow and a cross-fade's 0.4 s on both sides, clipped to
        # the video's 10 s
        ({"LoopMode": "Seamless"}, (2, 5), (2, 5, 0.6, 6.4, 0)),
        ({"LoopMode": "Seamless", "SeamWindow": 3}, (2, 8.5), (2, 8.5, 0, 10, 0)),
        ({"LoopMode": "Seamless", "SeamWindow": 0.25}, (0, 10), (0, 10, 0, 10, 0)),
        # a highlight: searched in the whole range given, its first seconds until picked
        ({"HighlightDuration": 2}, (0, 10), (0, 2, 0, 10, 2)),
        ({"HighlightDuration": 2, "LoopMode": "Seamless"}, (3, 9), (3, 5, 3, 9, 2)),
        # a range no longer than the highlight is the segment itself
        ({"HighlightDuration": 4}, (2, 5), (2, 5, 2, 5, 0)),
        ({"HighlightDuration": 3, "LoopMode": "Seamless"}, (2, 5), (2, 5, 0.6, 6.4, 0)),
    ],
)
def test_loop_window(
    fields: dict[str, object],
    segment: tuple[float, float],
    expected: tuple[float, float, float, float, float],
) -> None:
    template = _looping(**fields)
    assert loop_window(template, *segment, duration_s=10.0) == expected


def test_plan_carries_the_loop_fields_and_splits_forward_only() -> None:
    meta = MediaMetaData(width=1920, height=1080, duration=90.0, video_duration=90.0)
    templates = {
        1: _looping(),
        2: _looping(loop_mode="Reverse", loop_count=3),
        3: _looping(loop_mode="PingPong"),
        4: _looping(loop_mode="Seamless", seam_window=2.5),
        5: _looping(highlight_duration=5),
    }
    items = tuple(
        AnimatedGraphicTaskInput(definition=d, start_time_offset=10, end_time_offset=70)
        for d in templates
    )
    plans = plan_subtasks(items, meta, templates.get, split_min_s=30, split_slice_s=10)
    assert [p.slices for p in plans] == [6, 1, 1, 1, 1]  # only Forward without a highlight
    forward, reverse, ping_pong, seamless, highlight = plans
    assert (forward.loop_mode, forward.loop_count, forward.seam_window_s) == ("Forward", 0, 0)
    assert (forward.decode_start_s, forward.decode_end_s) == (10, 70)
    assert (reverse.loop_mode, reverse.loop_count) == ("Reverse", 3)
    assert ping_pong.loop_mode == "PingPong" and ping_pong.highlight_s == 0
    assert seamless.seam_window_s == 2.5
    assert (seamless.decode_start_s, seamless.decode_end_s) == (7.1, 72.9)
    assert (highlight.start_s, highlight.end_s, highlight.highlight_s) == (10, 15, 5)
    assert (highlight.decode_start_s, highlight.decode_end_s) == (10, 70)
