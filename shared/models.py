"""The wire models of the API contract (docs/contract.md): requests, results, metadata, events.

Python names are snake_case; the wire names (``FileId``, ``StartTimeOffset``...) are their
PascalCase aliases, so ``model.model_dump(by_alias=True)`` is the JSON the API speaks.
Every model is frozen: a changed value is a new model (``model_copy(update=...)``).
``refusal_code`` names the API error code of a request that fails these models (contract §10).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    model_serializer,
)
from pydantic.alias_generators import to_pascal

from animgraph.shared.formats import ImageFormat
from animgraph.shared.sizes import check_size, parse_size

__all__ = [
    "AnimatedGraphicTaskInput",
    "AnimatedGraphicsTemplate",
    "AudioStreamItem",
    "ConfirmEventsRequest",
    "CreateAnimatedGraphicsTemplateRequest",
    "CreateProcedureTemplateRequest",
    "DescribeAnimatedGraphicsTemplatesRequest",
    "DescribeAnimatedGraphicsTemplatesResponse",
    "DescribeProcedureTemplatesRequest",
    "DescribeProcedureTemplatesResponse",
    "EmptyRequest",
    "EventConfig",
    "EventContent",
    "FileUploadEvent",
    "ImageFormat",
    "LoopMode",
    "MediaAnimatedGraphicsItem",
    "MediaInfo",
    "MediaMetaData",
    "MediaProcessTaskAnimatedGraphicResult",
    "MediaProcessTaskInput",
    "MediaProcessTaskResult",
    "ModifyAnimatedGraphicsTemplateRequest",
    "ModifyEventConfigRequest",
    "ProcedureTask",
    "ProcedureTemplate",
    "ProcessMediaByProcedureRequest",
    "ProcessMediaRequest",
    "PullEventsResponse",
    "SubtaskStatus",
    "TaskDetail",
    "TaskStatus",
    "VideoStreamItem",
    "WireModel",
    "refusal_code",
]

TaskStatus = Literal["WAITING", "PROCESSING", "FINISH", "ABORTED"]
"""Status of a task in queries (DescribeTaskDetail)."""
FlowStatus = Literal["PROCESSING", "FINISH"]
"""Status of a task flow inside an event (ProcedureTask.Status)."""
SubtaskStatus = Literal["PROCESSING", "SUCCESS", "FAIL"]
"""Status of one animated-image subtask."""
NotifyMode = Literal["Finish", "Change", "None"]


class WireModel(BaseModel):
    """Base of every wire model: PascalCase aliases, frozen, unknown fields refused."""

    model_config = ConfigDict(
        alias_generator=to_pascal,
        populate_by_name=True,
        frozen=True,
        extra="forbid",
        allow_inf_nan=False,
    )

    def wire(self) -> dict[str, object]:
        """The JSON-ready dict with wire names."""
        return self.model_dump(mode="json", by_alias=True)


class ExtendedWireModel(WireModel):
    """A wire model with fields of animgraph's own (``EXTENSIONS``, contract §2.5): with wire
    names they are left out while at their defaults, so a client of the cloud API sees the JSON
    it always saw (the official SDKs warn about every field they have no model for)."""

    EXTENSIONS: ClassVar[tuple[str, ...]] = ()

    @model_serializer(mode="wrap")
    def _without_default_extensions(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> Any:
        data = handler(self)
        if info.by_alias and isinstance(data, dict):
            fields = type(self).model_fields
            for name in self.EXTENSIONS:
                if getattr(self, name) == fields[name].default:
                    data.pop(fields[name].alias or name, None)
        return data


# --- media files (contract §3) ---------------------------------------------------------------


class VideoStreamItem(WireModel):
    codec: str = ""
    width: int = 0
    height: int = 0
    fps: int = 0
    bitrate: int = 0


class AudioStreamItem(WireModel):
    codec: str = ""
    sampling_rate: int = 0
    bitrate: int = 0


class MediaMetaData(WireModel):
    """What probing a source file tells. ``Width``/``Height`` are the coded size of the
    largest video stream; ``Rotate`` is the display rotation in degrees (clockwise)."""

    size: int = 0
    container: str = ""
    bitrate: int = 0
    width: int = 0
    height: int = 0
    rotate: int = 0
    duration: float = 0.0
    video_duration: float = 0.0
    audio_duration: float = 0.0
    video_stream_set: tuple[VideoStreamItem, ...] = ()
    audio_stream_set: tuple[AudioStreamItem, ...] = ()


class MediaInfo(WireModel):
    """A registered media file with its metadata and the animated images made from it."""

    file_id: str
    file_name: str
    file_url: str
    create_time: str
    meta_data: MediaMetaData
    animated_graphics_set: tuple[MediaAnimatedGraphicsItem, ...] = ()


# --- templates (contract §2) -----------------------------------------------------------------


def _size_px(value: int) -> int:
    if value != 0 and not 128 <= value <= 4096:
        raise ValueError("must be 0 (follow the source) or from 128 to 4096 px")
    return value


SizePx = Annotated[int, AfterValidator(_size_px)]
"""A maximum width or height: 0 follows the source, else 128..4096 px."""
FpsHz = Annotated[int, Field(ge=1, le=60)]
QualityValue = Annotated[float, Field(ge=1, le=100)]
TemplateType = Literal["Preset", "Custom"]
Adaptive = Literal["open", "close"]

# --- the loop extensions of a template (contract §2.5): animgraph's own, not the cloud API's ---

LoopMode = Literal["Forward", "Reverse", "PingPong", "Seamless"]
"""How the segment is played in one cycle: as filmed, backwards, forwards then backwards, or
as filmed with its ends moved to the least visible jump (contract §2.5)."""
MAX_LOOP_COUNT = 65535
"""The most plays a LoopCount may ask for: the 16-bit loop field of WebP's ANIM chunk."""
MAX_SEAM_WINDOW_S = 3.0
MIN_HIGHLIGHT_S, MAX_HIGHLIGHT_S = 0.5, 30.0


def _highlight_s(value: float) -> float:
    if value != 0 and not MIN_HIGHLIGHT_S <= value <= MAX_HIGHLIGHT_S:
        raise ValueError(
            f"must be 0 (off) or from {MIN_HIGHLIGHT_S:g} to {MAX_HIGHLIGHT_S:g} seconds"
        )
    return value


LoopCount = Annotated[int, Field(ge=0, le=MAX_LOOP_COUNT)]
"""Plays in total: 0 forever, N exactly N times (contract §2.5)."""
SeamWindowS = Annotated[float, Field(gt=0, le=MAX_SEAM_WINDOW_S)]
"""How far (seconds) ``Seamless`` may move each end of the segment."""
HighlightS = Annotated[float, AfterValidator(_highlight_s)]
"""The length (seconds) of the moment picked when no offsets are given; 0 is off."""

# --- the byte budget of a template (contract §2.6): animgraph's own ----------------------------

MaxSizeBytes = Annotated[int, BeforeValidator(parse_size), AfterValidator(check_size)]
"""The most bytes an output may have: 0 no budget; given as bytes, a size with a unit
(``2MB``, ``1.5MiB``) or a preset name (``discord``), kept as bytes (``shared.sizes``)."""


class AnimatedGraphicsTemplate(ExtendedWireModel):
    """The target spec of an animated image. Width/Height are maximums; 0 follows the source."""

    EXTENSIONS = ("loop_mode", "loop_count", "seam_window", "highlight_duration", "max_size")

    definition: int
    type: TemplateType = "Custom"
    name: str = Field(default="", max_length=64)
    comment: str = Field(default="", max_length=256)
    format: ImageFormat = "gif"
    width: SizePx = 0
    height: SizePx = 0
    resolution_adaptive: Adaptive = "open"
    fps: FpsHz
    quality: QualityValue = 75.0
    loop_mode: LoopMode = "Forward"
    loop_count: LoopCount = 0
    seam_window: SeamWindowS = 1.0
    highlight_duration: HighlightS = 0.0
    max_size: MaxSizeBytes = 0
    create_time: str = ""
    update_time: str = ""


class CreateAnimatedGraphicsTemplateRequest(WireModel):
    """CreateAnimatedGraphicsTemplate: every field but ``Fps`` has a default."""

    fps: FpsHz
    name: str = Field(default="", max_length=64)
    comment: str = Field(default="", max_length=256)
    format: ImageFormat = "gif"
    width: SizePx = 0
    height: SizePx = 0
    resolution_adaptive: Adaptive = "open"
    quality: QualityValue = 75.0
    loop_mode: LoopMode = "Forward"
    loop_count: LoopCount = 0
    seam_window: SeamWindowS = 1.0
    highlight_duration: HighlightS = 0.0
    max_size: MaxSizeBytes = 0


class ModifyAnimatedGraphicsTemplateRequest(WireModel):
    """ModifyAnimatedGraphicsTemplate: a partial update; omitted fields stay as they are."""

    definition: int
    name: str | None = Field(default=None, max_length=64)
    comment: str | None = Field(default=None, max_length=256)
    format: ImageFormat | None = None
    width: SizePx | None = None
    height: SizePx | None = None
    resolution_adaptive: Adaptive | None = None
    fps: FpsHz | None = None
    quality: QualityValue | None = None
    loop_mode: LoopMode | None = None
    loop_count: LoopCount | None = None
    seam_window: SeamWindowS | None = None
    highlight_duration: HighlightS | None = None
    max_size: MaxSizeBytes | None = None


class DescribeAnimatedGraphicsTemplatesRequest(WireModel):
    definitions: tuple[int, ...] | None = Field(default=None, max_length=100)
    type: TemplateType | None = None
    offset: Annotated[int, Field(ge=0)] = 0
    limit: Annotated[int, Field(ge=1, le=100)] = 10


class DescribeAnimatedGraphicsTemplatesResponse(WireModel):
    total_count: int
    animated_graphics_template_set: tuple[AnimatedGraphicsTemplate, ...]


# --- ProcessMedia (contract §5) --------------------------------------------------------------


class AnimatedGraphicTaskInput(WireModel):
    """One requested animated image. Offsets in seconds: missing or 0 means the start / end
    of the video, negative counts back from the end."""

    definition: int
    start_time_offset: float | None = None
    end_time_offset: float | None = None


class MediaProcessTaskInput(WireModel):
    animated_graphic_task_set: tuple[AnimatedGraphicTaskInput, ...] = ()


class ProcessMediaRequest(WireModel):
    file_id: str = Field(min_length=1)
    media_process_task: MediaProcessTaskInput
    tasks_priority: Annotated[int, Field(ge=-10, le=10)] = 0
    tasks_notify_mode: NotifyMode = "Finish"
    session_context: Annotated[str, Field(max_length=1000)] = ""
    session_id: Annotated[str, Field(max_length=50)] = ""
    ext_info: str = ""


PROCEDURE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,20}$")


def _procedure_name(value: str) -> str:
    if not PROCEDURE_NAME.match(value):
        raise ValueError("must be 1 to 20 letters, digits, '-' or '_'")
    return value


ProcedureName = Annotated[str, AfterValidator(_procedure_name)]


class ProcedureTemplate(WireModel):
    """A named task flow: a saved ``MediaProcessTask`` run by ``ProcessMediaByProcedure``."""

    name: ProcedureName
    type: TemplateType = "Custom"
    comment: str = Field(default="", max_length=256)
    media_process_task: MediaProcessTaskInput = MediaProcessTaskInput()
    create_time: str = ""
    update_time: str = ""


class CreateProcedureTemplateRequest(WireModel):
    """CreateProcedureTemplate, and ResetProcedureTemplate (same fields, replaces the content)."""

    name: ProcedureName
    comment: str = Field(default="", max_length=256)
    media_process_task: MediaProcessTaskInput = MediaProcessTaskInput()


class DescribeProcedureTemplatesRequest(WireModel):
    names: tuple[str, ...] | None = Field(default=None, max_length=100)
    type: TemplateType | None = None
    offset: Annotated[int, Field(ge=0)] = 0
    limit: Annotated[int, Field(ge=1, le=100)] = 10


class DescribeProcedureTemplatesResponse(WireModel):
    total_count: int
    procedure_template_set: tuple[ProcedureTemplate, ...]


class ProcessMediaByProcedureRequest(WireModel):
    file_id: str = Field(min_length=1)
    procedure_name: str = Field(min_length=1)
    tasks_priority: Annotated[int, Field(ge=-10, le=10)] = 0
    tasks_notify_mode: NotifyMode = "Finish"
    session_context: Annotated[str, Field(max_length=1000)] = ""
    session_id: Annotated[str, Field(max_length=50)] = ""
    ext_info: str = ""


# --- results (contract §6) -------------------------------------------------------------------


class MediaAnimatedGraphicsItem(ExtendedWireModel):
    """One produced animated image. Offsets are the absolute seconds of the source the encoder
    used; ``LoopMode`` and ``SeamScore`` are animgraph extensions, and so are ``Fps``,
    ``Quality``, ``Colors`` and ``Encodes``: what an output fitted to a ``MaxSize`` used
    (contract §6.2)."""

    EXTENSIONS = ("loop_mode", "seam_score", "fps", "quality", "colors", "encodes")

    url: str
    definition: int
    container: ImageFormat
    width: int
    height: int
    bitrate: int
    size: int
    md5: str
    start_time_offset: float
    end_time_offset: float
    loop_mode: LoopMode = "Forward"
    seam_score: float | None = None
    fps: int | None = None
    quality: float | None = None
    colors: int | None = None
    encodes: int | None = None


class MediaProcessTaskAnimatedGraphicResult(WireModel):
    status: SubtaskStatus = "PROCESSING"
    err_code_ext: str = ""
    err_code: int = 0
    message: str = ""
    input: AnimatedGraphicTaskInput
    output: MediaAnimatedGraphicsItem | None = None
    progress: Annotated[int, Field(ge=0, le=100)] = 0
    begin_process_time: str = ""
    finish_time: str = ""


class MediaProcessTaskResult(WireModel):
    type: Literal["AnimatedGraphics"] = "AnimatedGraphics"
    animated_graphic_task: MediaProcessTaskAnimatedGraphicResult


class ProcedureTask(WireModel):
    task_id: str
    status: FlowStatus = "PROCESSING"
    err_code: int = 0
    message: str = ""
    file_id: str
    file_name: str = ""
    file_url: str = ""
    meta_data: MediaMetaData | None = None
    media_process_result_set: tuple[MediaProcessTaskResult, ...] = ()
    tasks_priority: int = 0
    tasks_notify_mode: NotifyMode = "Finish"
    session_context: str = ""
    session_id: str = ""


class TaskDetail(WireModel):
    """The DescribeTaskDetail response (without RequestId)."""

    task_type: Literal["Procedure"] = "Procedure"
    status: TaskStatus
    create_time: str
    begin_process_time: str = ""
    finish_time: str = ""
    procedure_task: ProcedureTask


# --- events (contract §7) --------------------------------------------------------------------


class FileUploadEvent(WireModel):
    """The payload of a ``NewFileUpload`` event."""

    file_id: str
    media_basic_info: MediaBasicInfo
    procedure_task_id: str = ""
    meta_data: MediaMetaData | None = None


class EventContent(WireModel):
    event_handle: str | None = None
    event_type: Literal["ProcedureStateChanged", "NewFileUpload"]
    procedure_state_change_event: ProcedureTask | None = None
    file_upload_event: FileUploadEvent | None = None

    def wire(self) -> dict[str, object]:
        """Event JSON: fields that are null are omitted, as the reference samples do."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


# --- uploads and media queries (contract §3, §6) ---------------------------------------------


class ApplyUploadRequest(WireModel):
    media_type: str = Field(min_length=1, max_length=16, pattern=r"^[A-Za-z0-9]+$")
    media_name: str = Field(default="", max_length=64)
    procedure: str = ""
    session_context: Annotated[str, Field(max_length=1000)] = ""
    source_context: Annotated[str, Field(max_length=250)] = ""
    cover_type: str = ""
    expire_time: str = ""
    storage_region: str = ""
    class_id: int = 0


class TempCertificate(WireModel):
    secret_id: str
    secret_key: str
    token: str
    expired_time: int


class ApplyUploadResponse(WireModel):
    storage_bucket: str
    storage_region: str
    vod_session_key: str
    media_storage_path: str
    cover_storage_path: str = ""
    temp_certificate: TempCertificate


class CommitUploadRequest(WireModel):
    vod_session_key: str = Field(min_length=1)


class CommitUploadResponse(WireModel):
    file_id: str
    media_url: str
    cover_url: str = ""
    procedure_task_id: str = ""


class TimeRange(WireModel):
    after: str = ""
    before: str = ""


class SortBy(WireModel):
    field: Literal["CreateTime", "FinishTime"] = "CreateTime"
    order: Literal["Asc", "Desc"] = "Desc"


class DescribeTasksRequest(WireModel):
    status: Literal["WAITING", "PROCESSING", "FINISH"] | None = None
    file_id: str | None = None
    create_time: TimeRange | None = None
    finish_time: TimeRange | None = None
    sort: SortBy = SortBy()
    limit: Annotated[int, Field(ge=1, le=100)] = 10
    scroll_token: str = ""


class TaskSimpleInfo(WireModel):
    task_id: str
    status: TaskStatus
    file_id: str
    task_type: Literal["Procedure"] = "Procedure"
    create_time: str
    begin_process_time: str = ""
    finish_time: str = ""
    session_id: str = ""
    session_context: str = ""


class DescribeTasksResponse(WireModel):
    task_set: tuple[TaskSimpleInfo, ...]
    scroll_token: str = ""


class DescribeMediaInfosRequest(WireModel):
    file_ids: Annotated[tuple[str, ...], Field(min_length=1, max_length=20)]
    filters: tuple[Literal["basicInfo", "metaData", "animatedGraphicsInfo"], ...] | None = None


class MediaBasicInfo(WireModel):
    name: str
    description: str = ""
    create_time: str
    update_time: str
    type: str = ""
    media_url: str
    source_info: dict[str, str] = Field(default_factory=dict)


class AnimatedGraphicsInfo(WireModel):
    animated_graphics_set: tuple[MediaAnimatedGraphicsItem, ...] = ()


class MediaInfoItem(WireModel):
    """One ``MediaInfoSet`` entry of DescribeMediaInfos."""

    file_id: str
    basic_info: MediaBasicInfo | None = None
    meta_data: MediaMetaData | None = None
    animated_graphics_info: AnimatedGraphicsInfo | None = None


class DescribeMediaInfosResponse(WireModel):
    media_info_set: tuple[MediaInfoItem, ...]
    not_exist_file_id_set: tuple[str, ...] = ()


class DefinitionRequest(WireModel):
    """DeleteAnimatedGraphicsTemplate."""

    definition: int


class ProcedureNameRequest(WireModel):
    """DeleteProcedureTemplate."""

    name: str = Field(min_length=1)


class TaskIdRequest(WireModel):
    """DescribeTaskDetail."""

    task_id: str = Field(min_length=1)


class FileIdRequest(WireModel):
    """DeleteMedia."""

    file_id: str = Field(min_length=1)


class EventConfig(WireModel):
    """How events leave animgraph: ``PULL`` (PullEvents/ConfirmEvents) or ``PUSH`` to a URL."""

    mode: Literal["PUSH", "PULL"] = "PULL"
    notification_url: str = Field(default="", max_length=1000)
    upload_media_complete_event_switch: Literal["ON", "OFF"] = "ON"
    delete_media_complete_event_switch: Literal["ON", "OFF"] = "OFF"


class ModifyEventConfigRequest(WireModel):
    mode: Literal["PUSH", "PULL"] | None = None
    notification_url: str | None = Field(default=None, max_length=1000)
    upload_media_complete_event_switch: Literal["ON", "OFF"] | None = None
    delete_media_complete_event_switch: Literal["ON", "OFF"] | None = None


class PullEventsResponse(WireModel):
    event_set: tuple[EventContent, ...] = ()

    def wire(self) -> dict[str, object]:
        return {"EventSet": [e.wire() for e in self.event_set]}


class EmptyRequest(WireModel):
    """Actions with no parameters (DescribeEventConfig, PullEvents)."""


class ConfirmEventsRequest(WireModel):
    event_handles: Annotated[tuple[str, ...], Field(min_length=1, max_length=16)]


# --- refusal codes (contract §10) ------------------------------------------------------------

# Where the cloud API names a refusal differently from ``InvalidParameterValue.<Field>``:
# (wire field, pydantic error type or "*" for any) -> code. From the error lists of
# ProcessMedia, ProcessMediaByProcedure, CreateAnimatedGraphicsTemplate and DescribeMediaInfos.
_CLOUD_CODES: dict[tuple[str, str], str] = {
    ("SessionContext", "string_too_long"): "InvalidParameterValue.SessionContextTooLong",
    ("SessionId", "string_too_long"): "InvalidParameterValue.SessionIdTooLong",
    ("Width", "*"): "InvalidParameterValue.Resolution",
    ("Height", "*"): "InvalidParameterValue.Resolution",
    ("FileIds", "too_short"): "InvalidParameterValue.FileIdsEmpty",
    ("FileIds", "too_long"): "InvalidParameterValue.FileIdsOverLimit",
}


def refusal_code(field: str, error_type: str) -> str:
    """The API error code for a request whose wire ``field`` failed validation with the pydantic
    error ``error_type``: ``InvalidParameterValue.<field>`` unless the cloud API names it
    otherwise (``InvalidParameterValue.SessionIdTooLong``, ``UnknownParameter``...)."""
    if error_type == "extra_forbidden":
        return "UnknownParameter"
    return (
        _CLOUD_CODES.get((field, error_type))
        or _CLOUD_CODES.get((field, "*"))
        or f"InvalidParameterValue.{field}"
    )


MediaInfo.model_rebuild()
EventContent.model_rebuild()
