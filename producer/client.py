"""The typed Python client other services import to register videos and run procedures.

::

    from animgraph.producer import Client, ProcessMediaRequest

    with Client() as client:                      # settings from ANIMGRAPH_* variables
        media = client.register_media(Path("clip.mp4"))
        task_id = client.process_media(
            {"FileId": media.file_id,
             "MediaProcessTask": {"AnimatedGraphicTaskSet": [{"Definition": 20000,
                                  "StartTimeOffset": 2, "EndTimeOffset": 5}]}})
        task = client.wait(task_id)               # ProcedureTask, Status FINISH
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import Any, TypeVar

from pydantic import ValidationError

from animgraph.shared.celeryconf import create_celery
from animgraph.shared.clock import now_iso
from animgraph.shared.errors import ApiError, SourceFileError
from animgraph.shared.events import EventBus, check_callback_url
from animgraph.shared.models import (
    AnimatedGraphicsInfo,
    AnimatedGraphicsTemplate,
    ConfirmEventsRequest,
    CreateAnimatedGraphicsTemplateRequest,
    CreateProcedureTemplateRequest,
    DescribeAnimatedGraphicsTemplatesRequest,
    DescribeAnimatedGraphicsTemplatesResponse,
    DescribeMediaInfosRequest,
    DescribeMediaInfosResponse,
    DescribeProcedureTemplatesRequest,
    DescribeProcedureTemplatesResponse,
    DescribeTasksRequest,
    DescribeTasksResponse,
    EventConfig,
    EventContent,
    MediaBasicInfo,
    MediaInfo,
    MediaInfoItem,
    MediaMetaData,
    ModifyAnimatedGraphicsTemplateRequest,
    ModifyEventConfigRequest,
    ProcedureTask,
    ProcedureTemplate,
    ProcessMediaByProcedureRequest,
    ProcessMediaRequest,
    PullEventsResponse,
    TaskDetail,
    TaskSimpleInfo,
    TimeRange,
    WireModel,
)
from animgraph.shared.settings import Settings
from animgraph.shared.state import MediaRecord, State, TaskRecord
from animgraph.shared.storage import Storage
from animgraph.shared.tasknames import (
    CONTROL_QUEUE,
    DELIVER,
    IO_QUEUE,
    PROCEDURE,
    redis_priority,
)
from animgraph.shared.templates import PRESETS
from animgraph.workers.media.probe import probe

from .sender import CelerySender, Sender

__all__ = ["Client", "api_error_from_validation", "parse"]

SESSION_TTL_S = 7 * 24 * 3600


def api_error_from_validation(
    exc: ValidationError, model: type[WireModel], codes: Mapping[str, str] | None = None
) -> ApiError:
    """An ``InvalidParameterValue.<Field>`` error naming the first bad field, its value and rule.

    ``codes`` renames fields whose error code differs from their name (a task flow's ``Name``
    is refused as ``InvalidParameterValue.ProcedureName``).
    """
    first = exc.errors()[0]
    loc = [str(part) for part in first["loc"] if not isinstance(part, int)]
    field = loc[-1] if loc else model.__name__
    field = (codes or {}).get(field, field)
    where = ".".join(loc) or model.__name__
    if first["type"] == "missing":
        return ApiError(f"{where} is required", f"InvalidParameterValue.{field}")
    return ApiError(
        f"{where}: {first['msg']} (got {first.get('input')!r})", f"InvalidParameterValue.{field}"
    )


M = TypeVar("M", bound=WireModel)


def parse(model: type[M], data: M | Mapping[str, Any], codes: Mapping[str, str] | None = None) -> M:
    """``data`` as a ``model``: wire names or Python names, refused with the API's error codes."""
    if isinstance(data, model):
        return data
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise api_error_from_validation(exc, model, codes) from None


FLOW_CODES = {"Name": "ProcedureName"}


def _page(items: list[M], offset: int, limit: int) -> tuple[M, ...]:
    return tuple(items[offset : offset + limit])


def _in_range(value: str, window: TimeRange | None) -> bool:
    if window is None:
        return True
    if not value:
        return False
    return (not window.after or value >= window.after) and (
        not window.before or value < window.before
    )


def _task_matches(detail: TaskDetail, req: DescribeTasksRequest) -> bool:
    return (
        (req.status is None or detail.status == req.status)
        and (req.file_id is None or detail.procedure_task.file_id == req.file_id)
        and _in_range(detail.create_time, req.create_time)
        and _in_range(detail.finish_time, req.finish_time)
    )


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_file_name(name: str) -> str:
    """A file name that is safe as the last part of a storage key."""
    cleaned = _UNSAFE.sub("_", name).strip("._") or "media"
    return cleaned[-100:]


def _check_webp_size(template: AnimatedGraphicsTemplate) -> None:
    if template.format == "webp" and template.width == 0 and template.height == 0:
        raise ApiError(
            "a webp template needs Width or Height (both are 0)",
            "InvalidParameterValue.FormatWebpWidthAndHeightBothZero",
        )


class Client:
    """Register media, manage templates and task flows, start procedures and follow them.

    Each action of the API is a method taking the request model (or a mapping with wire or
    Python names) and returning the response model; a refused request raises ``ApiError``.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        redis_url: str | None = None,
        sender: Sender | None = None,
        storage: Storage | None = None,
    ) -> None:
        self.settings = settings or Settings()
        url = redis_url or self.settings.redis_url
        if not url:
            raise ValueError("no Redis: set ANIMGRAPH_REDIS_URL or pass redis_url")
        self.redis_url = url
        self.state = State.from_url(url, task_ttl_s=self.settings.task_ttl_s)
        self.storage = storage or self.settings.open_storage()
        self.events = EventBus(
            self.state.redis,
            redelivery_s=self.settings.event_redelivery_s,
            retention_s=self.settings.event_retention_s,
        )
        self._celery = None
        if sender is None:
            self._celery = create_celery(self.settings, url, name="animgraph-producer")
            sender = CelerySender(self._celery)
        self.sender = sender

    # --- media -------------------------------------------------------------------------------

    def register_media(self, path: Path, *, name: str | None = None) -> MediaInfo:
        """Copy a local video into storage, probe it and return its ``FileId`` and ``MetaData``.

        A file that does not probe as a video is still registered, with the probe's error kept:
        procedures on it then report that error (e.g. ``SourceFileError.NoVideoMedia``) per
        subtask, as the API specifies.
        """
        path = Path(path)
        if not path.is_file():
            raise ApiError(f"{path} is not a readable file", "InvalidParameterValue.MediaFile")
        file_id = secrets.token_hex(8)
        key = f"sources/{file_id}/{safe_file_name(path.name)}"
        self.storage.put_file(key, path)
        return self.register_stored(file_id, key, path, name=name or path.stem)

    def register_stored(
        self, file_id: str, key: str, local_path: Path, *, name: str, source_context: str = ""
    ) -> MediaInfo:
        """Register bytes already stored under ``key`` (``local_path`` is a copy to probe)."""
        error: SourceFileError | None = None
        start_time_s = 0.0
        try:
            probed = probe(
                local_path,
                max_pixels=self.settings.max_frame_pixels,
                max_duration_s=self.settings.max_source_duration_s,
            )
            meta, start_time_s = probed.meta, probed.start_time_s
        except SourceFileError as exc:
            error = exc
            meta = MediaMetaData(size=local_path.stat().st_size)
        info = MediaInfo(
            file_id=file_id,
            file_name=name,
            file_url=self.storage.url(key),
            create_time=now_iso(),
            meta_data=meta,
        )
        self.state.put_media(
            MediaRecord(
                info=info,
                source_key=key,
                start_time_s=start_time_s,
                source_context=source_context,
                probe_error_code=error.code if error else "",
                probe_error_message=error.message if error else "",
            )
        )
        return info

    def describe_media(self, file_id: str) -> MediaInfo:
        """A media file with its metadata and every animated image made from it."""
        record = self.state.get_media(file_id)
        if record is None:
            raise ApiError(f"FileId {file_id!r} does not exist", "InvalidParameterValue.FileId")
        return record.info.model_copy(
            update={"animated_graphics_set": self.state.media_outputs(file_id)}
        )

    def describe_media_infos(
        self, request: DescribeMediaInfosRequest | Mapping[str, Any]
    ) -> DescribeMediaInfosResponse:
        """DescribeMediaInfos: basic info, metadata and animated images of each FileId."""
        req = parse(DescribeMediaInfosRequest, request)
        parts = set(req.filters or ("basicInfo", "metaData", "animatedGraphicsInfo"))
        found, missing = [], []
        for file_id in req.file_ids:
            record = self.state.get_media(file_id)
            if record is None:
                missing.append(file_id)
                continue
            info = record.info
            basic = MediaBasicInfo(
                name=info.file_name,
                create_time=info.create_time,
                update_time=info.create_time,
                type=PurePosixPath(record.source_key).suffix.lstrip("."),
                media_url=info.file_url,
                source_info={"SourceContext": record.source_context}
                if record.source_context
                else {},
            )
            found.append(
                MediaInfoItem(
                    file_id=file_id,
                    basic_info=basic if "basicInfo" in parts else None,
                    meta_data=info.meta_data if "metaData" in parts else None,
                    animated_graphics_info=AnimatedGraphicsInfo(
                        animated_graphics_set=self.state.media_outputs(file_id)
                    )
                    if "animatedGraphicsInfo" in parts
                    else None,
                )
            )
        return DescribeMediaInfosResponse(
            media_info_set=tuple(found), not_exist_file_id_set=tuple(missing)
        )

    def delete_media(self, file_id: str) -> None:
        """DeleteMedia: remove the source file and every animated image made from it."""
        record = self.state.get_media(file_id)
        if record is None:
            raise ApiError(f"FileId {file_id!r} does not exist", "ResourceNotFound.FileNotExist")
        for prefix in self.state.delete_media(file_id):
            self.storage.delete_prefix(prefix)
        self.storage.delete_prefix(str(PurePosixPath(record.source_key).parent))

    # --- animated graphics templates ---------------------------------------------------------

    def create_animated_graphics_template(
        self, request: CreateAnimatedGraphicsTemplateRequest | Mapping[str, Any]
    ) -> AnimatedGraphicsTemplate:
        """CreateAnimatedGraphicsTemplate: returns the template with its new ``Definition``."""
        req = parse(CreateAnimatedGraphicsTemplateRequest, request)
        template = AnimatedGraphicsTemplate(definition=0, **req.model_dump())
        _check_webp_size(template)
        if self.state.custom_template_count() >= self.settings.max_templates:
            raise ApiError(
                f"there are already {self.settings.max_templates} custom templates",
                "LimitExceeded.TooMuchTemplate",
            )
        return self.state.create_template(template)

    def create_template(self, **fields: Any) -> AnimatedGraphicsTemplate:
        """Shorthand: ``create_template(Format="webp", Fps=12, Width=480)``."""
        return self.create_animated_graphics_template(fields)

    def modify_animated_graphics_template(
        self, request: ModifyAnimatedGraphicsTemplateRequest | Mapping[str, Any]
    ) -> AnimatedGraphicsTemplate:
        """ModifyAnimatedGraphicsTemplate: change the given fields only; returns the result."""
        req = parse(ModifyAnimatedGraphicsTemplateRequest, request)
        current = self._custom_template(req.definition)
        changes = req.model_dump(exclude_none=True, exclude={"definition"})
        updated = AnimatedGraphicsTemplate.model_validate(
            {**current.model_dump(), **changes, "update_time": now_iso()}
        )
        _check_webp_size(updated)
        self.state.put_template(updated)
        return updated

    def delete_animated_graphics_template(self, definition: int) -> None:
        """DeleteAnimatedGraphicsTemplate."""
        self._custom_template(definition)
        self.state.delete_template(definition)

    def describe_animated_graphics_templates(
        self, request: DescribeAnimatedGraphicsTemplatesRequest | Mapping[str, Any] | None = None
    ) -> DescribeAnimatedGraphicsTemplatesResponse:
        """DescribeAnimatedGraphicsTemplates: presets then custom ones, by Definition, paged."""
        req = parse(DescribeAnimatedGraphicsTemplatesRequest, request or {})
        found = [*PRESETS.values(), *self.state.custom_templates()]
        if req.definitions is not None:
            wanted = set(req.definitions)
            found = [t for t in found if t.definition in wanted]
        if req.type:
            found = [t for t in found if t.type == req.type]
        return DescribeAnimatedGraphicsTemplatesResponse(
            total_count=len(found),
            animated_graphics_template_set=_page(found, req.offset, req.limit),
        )

    def _custom_template(self, definition: int) -> AnimatedGraphicsTemplate:
        if definition in PRESETS:
            raise ApiError(
                f"Definition {definition} is a preset template: presets cannot be changed",
                "InvalidParameterValue.Definition",
            )
        template = self.state.get_template(definition)
        if template is None:
            raise ApiError(
                f"Definition {definition}: no such animated graphics template",
                "ResourceNotFound.TemplateNotExist",
            )
        return template

    # --- task flows --------------------------------------------------------------------------

    def create_procedure_template(
        self, request: CreateProcedureTemplateRequest | Mapping[str, Any]
    ) -> ProcedureTemplate:
        """CreateProcedureTemplate: a named, saved ``AnimatedGraphicTaskSet``."""
        req = parse(CreateProcedureTemplateRequest, request, FLOW_CODES)
        if self.state.procedure_template_count() >= self.settings.max_procedure_templates:
            raise ApiError(
                f"there are already {self.settings.max_procedure_templates} task flows",
                "LimitExceeded.TooMuchTemplate",
            )
        stamp = now_iso()
        flow = ProcedureTemplate(**req.model_dump(), create_time=stamp, update_time=stamp)
        if not self.state.add_procedure_template(flow):
            raise ApiError(
                f"a task flow named {req.name!r} already exists",
                "InvalidParameter.ExistedProcedureName",
            )
        return flow

    def reset_procedure_template(
        self, request: CreateProcedureTemplateRequest | Mapping[str, Any]
    ) -> ProcedureTemplate:
        """ResetProcedureTemplate: replace a task flow's content (keeps its CreateTime)."""
        req = parse(CreateProcedureTemplateRequest, request, FLOW_CODES)
        current = self.get_procedure_template(req.name)
        flow = ProcedureTemplate(
            **req.model_dump(), create_time=current.create_time, update_time=now_iso()
        )
        if not self.state.replace_procedure_template(flow):
            raise self._no_procedure(req.name)
        return flow

    def delete_procedure_template(self, name: str) -> None:
        """DeleteProcedureTemplate."""
        if not self.state.delete_procedure_template(name):
            raise self._no_procedure(name)

    def describe_procedure_templates(
        self, request: DescribeProcedureTemplatesRequest | Mapping[str, Any] | None = None
    ) -> DescribeProcedureTemplatesResponse:
        """DescribeProcedureTemplates: task flows by creation time, filtered and paged."""
        req = parse(DescribeProcedureTemplatesRequest, request or {})
        found = self.state.procedure_templates()
        if req.names is not None:
            wanted = set(req.names)
            found = [f for f in found if f.name in wanted]
        if req.type:
            found = [f for f in found if f.type == req.type]
        return DescribeProcedureTemplatesResponse(
            total_count=len(found), procedure_template_set=_page(found, req.offset, req.limit)
        )

    def get_procedure_template(self, name: str) -> ProcedureTemplate:
        flow = self.state.get_procedure_template(name)
        if flow is None:
            raise self._no_procedure(name)
        return flow

    @staticmethod
    def _no_procedure(name: str) -> ApiError:
        return ApiError(
            f"ProcedureName {name!r}: no such task flow", "InvalidParameterValue.ProcedureName"
        )

    # --- procedures --------------------------------------------------------------------------

    def process_media(self, request: ProcessMediaRequest | Mapping[str, Any]) -> str:
        """Validate and enqueue one procedure; returns its ``TaskId``.

        Refused at once with an ``ApiError`` (and nothing enqueued) when the request is
        malformed, the FileId unknown, no task given, or the SessionId already used.
        """
        req = parse(ProcessMediaRequest, request)
        if self.state.get_media(req.file_id) is None:
            raise ApiError(f"FileId {req.file_id!r} does not exist", "InvalidParameterValue.FileId")
        if not req.media_process_task.animated_graphic_task_set:
            raise ApiError(
                "MediaProcessTask.AnimatedGraphicTaskSet is empty: give at least one task",
                "InvalidParameterValue.MediaProcessTask",
            )
        session_key = f"animgraph:session:{req.session_id}"
        if req.session_id and not self.state.redis.set(session_key, "1", nx=True, ex=SESSION_TTL_S):
            raise ApiError(
                f"SessionId {req.session_id!r} was used in the last 7 days",
                "InvalidParameterValue.SessionId",
            )
        task_id = f"animgraph-Procedure-{secrets.token_hex(12)}"
        try:
            self.state.create_task(TaskRecord(task_id=task_id, create_time=now_iso(), request=req))
            self.sender.send(
                PROCEDURE,
                [task_id],
                queue=CONTROL_QUEUE,
                priority=redis_priority(req.tasks_priority),
            )
        except Exception:
            if req.session_id:
                self.state.redis.delete(session_key)  # nothing was enqueued: the id is free again
            raise
        return task_id

    def process_media_by_procedure(
        self, request: ProcessMediaByProcedureRequest | Mapping[str, Any]
    ) -> str:
        """ProcessMediaByProcedure: run a saved task flow on a media file; returns ``TaskId``."""
        req = parse(ProcessMediaByProcedureRequest, request)
        flow = self.get_procedure_template(req.procedure_name)
        options = req.model_dump(exclude={"procedure_name"})
        return self.process_media(
            ProcessMediaRequest(**options, media_process_task=flow.media_process_task)
        )

    def describe_task_detail(self, task_id: str) -> TaskDetail:
        """The task's state now: WAITING, PROCESSING (with each subtask's Progress) or FINISH."""
        detail = self.state.task_detail(task_id)
        if detail is None:
            raise ApiError(f"TaskId {task_id!r} does not exist", "InvalidParameterValue.TaskId")
        return detail

    def describe_tasks(
        self, request: DescribeTasksRequest | Mapping[str, Any] | None = None
    ) -> DescribeTasksResponse:
        """DescribeTasks: tasks of the last days, filtered, newest first by default, with a
        ``ScrollToken`` to continue from."""
        req = parse(DescribeTasksRequest, request or {})
        try:
            start = int(req.scroll_token or 0)
        except ValueError:
            raise ApiError(
                "ScrollToken is not one this API gave", "InvalidParameterValue.ScrollToken"
            ) from None
        by_creation = req.sort.field == "CreateTime"
        newest_first = req.sort.order == "Desc" if by_creation else True
        # Unfinished tasks, and the tasks of each media file, have indexes of their own: a
        # WAITING or PROCESSING filter, or a FileId, walks only those.
        open_only = req.status in ("WAITING", "PROCESSING")
        wanted = start + req.limit + 1  # one more than the page tells whether there is more
        rows: list[TaskSimpleInfo] = []
        ids = self.state.task_ids(
            newest_first=newest_first, open_only=open_only, file_id=req.file_id
        )
        for task_id in ids:
            detail = self.state.task_detail(task_id)
            if detail is None or not _task_matches(detail, req):
                continue
            rows.append(
                TaskSimpleInfo(
                    task_id=task_id,
                    status=detail.status,
                    file_id=detail.procedure_task.file_id,
                    create_time=detail.create_time,
                    begin_process_time=detail.begin_process_time,
                    finish_time=detail.finish_time,
                    session_id=detail.procedure_task.session_id,
                    session_context=detail.procedure_task.session_context,
                )
            )
            if by_creation and len(rows) >= wanted:
                break  # ids come in creation order: the page is complete
        if not by_creation:
            # Newest first by exact creation time; the stable sort keeps that order among tasks
            # that finished in the same second.
            rows.sort(key=lambda row: row.finish_time, reverse=req.sort.order == "Desc")
        page = rows[start : start + req.limit]
        more = start + req.limit < len(rows)
        return DescribeTasksResponse(
            task_set=tuple(page), scroll_token=str(start + req.limit) if more else ""
        )

    def wait(
        self,
        task_id: str,
        *,
        timeout_s: float = 600.0,
        poll_s: float = 0.2,
        on_update: Callable[[TaskDetail], None] | None = None,
    ) -> ProcedureTask:
        """Poll until the task is FINISH and return its ``ProcedureTask``."""
        deadline = time.monotonic() + timeout_s
        while True:
            detail = self.describe_task_detail(task_id)
            if on_update:
                on_update(detail)
            if detail.status == "FINISH":
                return detail.procedure_task
            if time.monotonic() > deadline:
                raise TimeoutError(f"task {task_id} still {detail.status} after {timeout_s:.0f} s")
            time.sleep(poll_s)

    def task_event(self, task_id: str) -> EventContent | None:
        """The last ProcedureStateChanged event emitted for a task (None before it finishes)."""
        return self.state.task_event(task_id)

    # --- events ------------------------------------------------------------------------------

    def modify_event_config(
        self, request: ModifyEventConfigRequest | Mapping[str, Any]
    ) -> EventConfig:
        """ModifyEventConfig: PUSH to a NotificationUrl, or PULL; the given fields change."""
        req = parse(ModifyEventConfigRequest, request)
        config = EventConfig.model_validate(
            {**self.events.config().model_dump(), **req.model_dump(exclude_none=True)}
        )
        if config.mode == "PUSH":
            if not config.notification_url:
                raise ApiError(
                    "PUSH mode needs a NotificationUrl", "InvalidParameterValue.NotificationUrl"
                )
            check_callback_url(
                config.notification_url,
                self.settings.allowed_callback_hosts,
                self.settings.callback_allow_private,
            )
        self.events.set_config(config)
        return config

    def describe_event_config(self) -> EventConfig:
        """DescribeEventConfig."""
        return self.events.config()

    def pull_events(self, *, wait_s: float = 5.0) -> PullEventsResponse:
        """PullEvents: up to 16 events with their EventHandles, waiting up to ``wait_s``."""
        return PullEventsResponse(event_set=tuple(self.events.pull(wait_s=wait_s)))

    def confirm_events(self, request: ConfirmEventsRequest | Mapping[str, Any]) -> None:
        """ConfirmEvents: acknowledge pulled events (late or unknown handles are refused)."""
        req = parse(ConfirmEventsRequest, request)
        refused = self.events.confirm(req.event_handles)
        if refused:
            raise ApiError(
                f"EventHandles {', '.join(refused)} were handed out again or are unknown; the "
                "others are confirmed",
                "InvalidParameterValue.EventHandles",
            )

    def publish(self, key: str, event: EventContent) -> None:
        """Record an event for pulling and, in PUSH mode, send it to the io queue."""
        seq = self.events.publish(key, event)
        if seq is not None:
            self.sender.send(DELIVER, [key, seq], queue=IO_QUEUE, priority=4)

    # --- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        self.state.redis.close()
        if self._celery is not None:
            self._celery.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
