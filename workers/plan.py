"""Resolve a procedure's subtasks once, when it starts: template, offsets, output size, the
loop fields and the seconds to decode.

Pure functions (no Celery, no Redis): the procedure task calls them and stores the result, so a
template changed later does not change a procedure already running.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from animgraph.shared.errors import InvalidInputError
from animgraph.shared.models import (
    AnimatedGraphicsTemplate,
    AnimatedGraphicTaskInput,
    MediaMetaData,
)
from animgraph.shared.state import SubtaskPlan
from animgraph.workers.media.encode import can_join
from animgraph.workers.media.geometry import template_size
from animgraph.workers.media.seam import CROSSFADE_S

__all__ = ["display_size", "loop_window", "plan_subtasks", "resolve_offsets", "slicing"]


def resolve_offsets(
    start: float | None, end: float | None, duration_s: float
) -> tuple[float, float]:
    """Absolute (start, end) seconds for request offsets (contract §5).

    Missing or 0: start / end of the video; negative: that many seconds before the end; an
    end past the duration is clamped to it. Raises ``InvalidInput.InvalidTimeOffset`` unless
    0 <= start < duration and start < end.
    """
    start_s = 0.0 if not start else (duration_s + start if start < 0 else start)
    end_s = duration_s if not end else (duration_s + end if end < 0 else end)
    end_s = min(end_s, duration_s)
    if not (0 <= start_s < duration_s) or not start_s < end_s:
        raise InvalidInputError(
            f"StartTimeOffset {start} and EndTimeOffset {end} resolve to "
            f"{start_s:.3f}..{end_s:.3f} s,"
            f" outside the video's {duration_s:.3f} s or empty",
            "InvalidInput.InvalidTimeOffset",
        )
    return round(start_s, 6), round(end_s, 6)


def display_size(meta: MediaMetaData) -> tuple[int, int]:
    """The source size as displayed: the coded size with the display rotation applied."""
    if meta.rotate % 180 == 90:
        return meta.height, meta.width
    return meta.width, meta.height


def slicing(
    start_s: float, end_s: float, fps: int, *, min_s: float, slice_s: float
) -> tuple[int, float]:
    """How many time slices a segment is encoded in, and their length: segments of at least
    ``min_s`` seconds are cut in slices of about ``slice_s`` (a whole number of output frames,
    so the frame grid runs on across slices); shorter ones stay whole."""
    length = end_s - start_s
    if length < min_s or length <= slice_s:
        return 1, 0.0
    frames = max(1, round(slice_s * fps))
    step = frames / fps
    return math.ceil(length / step - 1e-9), step


def loop_window(
    template: AnimatedGraphicsTemplate, start_s: float, end_s: float, duration_s: float
) -> tuple[float, float, float, float, float]:
    """Where a template's loop fields put the segment (contract §2.5), from the resolved
    offsets: ``(start_s, end_s, decode_start_s, decode_end_s, highlight_s)``.

    A highlight (``HighlightDuration`` shorter than [start_s, end_s)) is picked inside that
    range, so all of it is decoded; the segment is its first ``HighlightDuration`` seconds
    until the select step picks one. ``Seamless`` may move each end by up to ``SeamWindow``:
    the decode window is widened by that on both sides, clipped to the video. Otherwise the
    decode window is the segment itself.
    """
    highlight = template.highlight_duration
    if highlight and end_s - start_s > highlight:
        return start_s, round(start_s + highlight, 6), start_s, end_s, highlight
    if template.loop_mode == "Seamless":
        # The seam may move each end by SeamWindow; a cross-fade reads CROSSFADE_S beyond.
        window = template.seam_window + CROSSFADE_S
        return (
            start_s,
            end_s,
            round(max(0.0, start_s - window), 6),
            round(min(duration_s, end_s + window), 6),
            0.0,
        )
    return start_s, end_s, start_s, end_s, 0.0


def plan_subtasks(
    items: tuple[AnimatedGraphicTaskInput, ...],
    meta: MediaMetaData,
    get_template: Callable[[int], AnimatedGraphicsTemplate | None],
    *,
    split_min_s: float = math.inf,
    split_slice_s: float = 10.0,
) -> tuple[SubtaskPlan, ...]:
    """One plan per requested image; a plan that cannot run carries its error code instead.

    Only a ``Forward`` segment without a highlight is split in time slices: the other loop
    modes reorder or move frames across the whole segment, so they run in one piece. So does
    an output with a ``MaxSize`` (its budget is searched over the whole segment) and one whose
    format has no join (contract §2.6). Video formats get an even size.
    """
    duration_s = meta.video_duration or meta.duration
    src_w, src_h = display_size(meta)
    plans = []
    for index, item in enumerate(items):
        template = get_template(item.definition)
        if template is None:
            plans.append(
                SubtaskPlan(
                    index=index,
                    input=item,
                    error_code="InvalidInput.DefinitionNotExist",
                    error_message=f"Definition {item.definition} is not a known template",
                )
            )
            continue
        try:
            start_s, end_s = resolve_offsets(
                item.start_time_offset, item.end_time_offset, duration_s
            )
        except InvalidInputError as exc:
            plans.append(
                SubtaskPlan(
                    index=index,
                    input=item,
                    template=template,
                    error_code=exc.code,
                    error_message=exc.message,
                )
            )
            continue
        width, height = template_size(src_w, src_h, template)
        start_s, end_s, decode_start_s, decode_end_s, highlight_s = loop_window(
            template, start_s, end_s, duration_s
        )
        slices, slice_s = (1, 0.0)
        whole = template.max_size > 0 or not can_join(template.format)
        if template.loop_mode == "Forward" and not highlight_s and not whole:
            slices, slice_s = slicing(
                start_s, end_s, template.fps, min_s=split_min_s, slice_s=split_slice_s
            )
        plans.append(
            SubtaskPlan(
                index=index,
                input=item,
                template=template,
                start_s=start_s,
                end_s=end_s,
                width_px=width,
                height_px=height,
                slices=slices,
                slice_s=slice_s,
                loop_mode=template.loop_mode,
                loop_count=template.loop_count,
                seam_window_s=template.seam_window if template.loop_mode == "Seamless" else 0.0,
                highlight_s=highlight_s,
                decode_start_s=decode_start_s,
                decode_end_s=decode_end_s,
            )
        )
    return tuple(plans)
