"""Unit tests of the procedure plan: offsets (SPEC 5), display size, per-subtask errors."""

from __future__ import annotations

import pytest

from animgraph.shared.errors import InvalidInputError
from animgraph.shared.models import AnimatedGraphicTaskInput, MediaMetaData
from animgraph.shared.templates import PRESETS
from animgraph.workers.plan import display_size, plan_subtasks, resolve_offsets


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
