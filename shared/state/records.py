"""The records animgraph keeps of its own in Redis (JSON), beside the API's wire models."""

from __future__ import annotations

from pydantic import Field

from animgraph.shared.models import (
    AnimatedGraphicsTemplate,
    AnimatedGraphicTaskInput,
    LoopMode,
    MediaInfo,
    ProcessMediaRequest,
    WireModel,
)

__all__ = ["MediaRecord", "SubtaskPlan", "TaskRecord"]


class MediaRecord(WireModel):
    """A registered media file and where its bytes are stored."""

    info: MediaInfo
    source_key: str
    start_time_s: float = 0.0
    source_context: str = ""
    probe_error_code: str = ""
    probe_error_message: str = ""
    # A source stored as a hard link to the user's file (``Storage.put_link``): its size and
    # modification time then, ``"<bytes>:<mtime_ns>"``; the decode step refuses a source
    # changed in place since. Empty: a copy of its own.
    linked_stat: str = ""


class SubtaskPlan(WireModel):
    """One subtask as the procedure resolved it when it started (templates resolved once).

    ``start_s``/``end_s`` are the segment the offsets give (with a highlight: its first
    ``highlight_s`` seconds, until the select step picks one). ``decode_start_s``/
    ``decode_end_s`` are the seconds the decode step reads, which hold the segment: the same
    segment, or widened by ``seam_window_s`` on both sides for ``Seamless``, or the whole
    range searched for a highlight; None (plans made before they existed) is the segment.
    The loop fields are the template's, resolved (``workers.plan``).
    """

    index: int
    input: AnimatedGraphicTaskInput
    template: AnimatedGraphicsTemplate | None = None
    start_s: float = 0.0
    end_s: float = 0.0
    width_px: int = 0
    height_px: int = 0
    slices: int = 1
    slice_s: float = 0.0
    loop_mode: LoopMode = "Forward"
    loop_count: int = 0
    seam_window_s: float = 0.0
    highlight_s: float = 0.0
    decode_start_s: float | None = None
    decode_end_s: float | None = None
    error_code: str = ""
    error_message: str = ""


class TaskRecord(WireModel):
    """What a task was asked to do; the parts that change live in their own hash fields."""

    task_id: str
    create_time: str
    request: ProcessMediaRequest
    plans: tuple[SubtaskPlan, ...] = Field(default=())
