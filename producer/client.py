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

``Client`` is a facade: each action is done by one of the services in ``producer/services/``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from animgraph.shared.models import (
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
    MediaInfo,
    ModifyAnimatedGraphicsTemplateRequest,
    ModifyEventConfigRequest,
    ProcedureTask,
    ProcedureTemplate,
    ProcessMediaByProcedureRequest,
    ProcessMediaRequest,
    PullEventsResponse,
    TaskDetail,
)
from animgraph.shared.settings import Settings
from animgraph.shared.state import State
from animgraph.shared.storage import Storage

from .sender import LazyCelerySender, RedisSender, Sender
from .services.events import EventService
from .services.flows import FlowService
from .services.media import MediaService, ProbeFn, default_probe
from .services.tasks import TaskService
from .services.templates import TemplateService

__all__ = ["Client"]


class Client:
    """Register media, manage templates and task flows, start procedures and follow them.

    Each action of the API is a method taking the request model (or a mapping with wire or
    Python names) and returning the response model; a refused request raises ``ApiError``.
    ``probe`` reads a video's metadata (default: the workers' PyAV probe, loaded on first use).
    ``direct_send``: on a Redis broker, send procedures by writing their message to it directly
    (``RedisSender``: Celery is never imported), for a process that sends one or two; otherwise
    through a Celery app built on the first send.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        redis_url: str | None = None,
        sender: Sender | None = None,
        storage: Storage | None = None,
        probe: ProbeFn = default_probe,
        direct_send: bool = False,
    ) -> None:
        self.settings = settings or Settings()
        url = redis_url or self.settings.redis_url
        if not url:
            raise ValueError("no Redis: set ANIMGRAPH_REDIS_URL or pass redis_url")
        self.redis_url = url
        self.state = State.from_url(
            url,
            sentinel_master=self.settings.redis_sentinel_master,
            task_ttl_s=self.settings.task_ttl_s,
            event_redelivery_s=self.settings.events.redelivery_s,
            event_retention_s=self.settings.events.retention_s,
        )
        self.storage = storage or self.settings.open_storage()
        self._celery: LazyCelerySender | None = None
        self._direct: RedisSender | None = None
        if sender is None and direct_send and not self.settings.broker_url:
            sentinel_master = self.settings.redis_sentinel_master
            self._direct = RedisSender.from_url(url, sentinel_master=sentinel_master)
            sender = self._direct
        if sender is None:
            self._celery = LazyCelerySender(self.settings, url, name="animgraph-producer")
            sender = self._celery
        self.sender = sender
        self.media = MediaService(self.settings, self.state, self.storage, probe)
        self.templates = TemplateService(self.settings, self.state)
        self.flows = FlowService(self.settings, self.state)
        self.tasks = TaskService(
            self.state,
            sender,
            self.flows,
            amqp=self.settings.broker_is_amqp,
            ack_replicas=self.settings.ack_replicas,
            ack_timeout_ms=self.settings.redis_ack_timeout_ms,
        )
        self.event_service = EventService(self.settings, self.state.events, sender)

    # --- media -------------------------------------------------------------------------------

    def register_media(self, path: Path, *, name: str | None = None) -> MediaInfo:
        """Store a local video (a hard link on file storage on the same file system, else a
        copy), probe it and return its ``FileId`` and ``MetaData`` (a file that does not probe
        is registered with the probe's error kept). A linked file may be deleted or replaced
        afterwards; written into in place, later procedures on it fail (see
        ``MediaService.register_media``)."""
        return self.media.register_media(path, name=name)

    def register_stored(
        self, file_id: str, key: str, local_path: Path, *, name: str, source_context: str = ""
    ) -> MediaInfo:
        """Register bytes already stored under ``key`` (``local_path`` is a copy to probe)."""
        return self.media.register_stored(
            file_id, key, local_path, name=name, source_context=source_context
        )

    def describe_media(self, file_id: str) -> MediaInfo:
        """A media file with its metadata and every animated image made from it."""
        return self.media.describe_media(file_id)

    def describe_media_infos(
        self, request: DescribeMediaInfosRequest | Mapping[str, Any]
    ) -> DescribeMediaInfosResponse:
        """DescribeMediaInfos: basic info, metadata and animated images of each FileId."""
        return self.media.describe_media_infos(request)

    def delete_media(self, file_id: str) -> None:
        """DeleteMedia: remove the source file and every animated image made from it."""
        self.media.delete_media(file_id)

    # --- animated graphics templates ---------------------------------------------------------

    def create_animated_graphics_template(
        self, request: CreateAnimatedGraphicsTemplateRequest | Mapping[str, Any]
    ) -> AnimatedGraphicsTemplate:
        """CreateAnimatedGraphicsTemplate: returns the template with its new ``Definition``."""
        return self.templates.create(request)

    def create_template(self, **fields: Any) -> AnimatedGraphicsTemplate:
        """Shorthand: ``create_template(Format="webp", Fps=12, Width=480)``."""
        return self.templates.create(fields)

    def modify_animated_graphics_template(
        self, request: ModifyAnimatedGraphicsTemplateRequest | Mapping[str, Any]
    ) -> AnimatedGraphicsTemplate:
        """ModifyAnimatedGraphicsTemplate: change the given fields only; returns the result."""
        return self.templates.modify(request)

    def delete_animated_graphics_template(self, definition: int) -> None:
        """DeleteAnimatedGraphicsTemplate."""
        self.templates.delete(definition)

    def describe_animated_graphics_templates(
        self, request: DescribeAnimatedGraphicsTemplatesRequest | Mapping[str, Any] | None = None
    ) -> DescribeAnimatedGraphicsTemplatesResponse:
        """DescribeAnimatedGraphicsTemplates: presets then custom ones, by Definition, paged."""
        return self.templates.describe(request)

    # --- task flows --------------------------------------------------------------------------

    def create_procedure_template(
        self, request: CreateProcedureTemplateRequest | Mapping[str, Any]
    ) -> ProcedureTemplate:
        """CreateProcedureTemplate: a named, saved ``AnimatedGraphicTaskSet``."""
        return self.flows.create(request)

    def reset_procedure_template(
        self, request: CreateProcedureTemplateRequest | Mapping[str, Any]
    ) -> ProcedureTemplate:
        """ResetProcedureTemplate: replace a task flow's content (keeps its CreateTime)."""
        return self.flows.reset(request)

    def delete_procedure_template(self, name: str) -> None:
        """DeleteProcedureTemplate."""
        self.flows.delete(name)

    def describe_procedure_templates(
        self, request: DescribeProcedureTemplatesRequest | Mapping[str, Any] | None = None
    ) -> DescribeProcedureTemplatesResponse:
        """DescribeProcedureTemplates: task flows by creation time, filtered and paged."""
        return self.flows.describe(request)

    def get_procedure_template(self, name: str) -> ProcedureTemplate:
        """One task flow by name."""
        return self.flows.get(name)

    # --- procedures --------------------------------------------------------------------------

    def process_media(self, request: ProcessMediaRequest | Mapping[str, Any]) -> str:
        """Validate and enqueue one procedure; returns its ``TaskId`` (a refused request
        enqueues nothing)."""
        return self.tasks.process_media(request)

    def process_media_by_procedure(
        self, request: ProcessMediaByProcedureRequest | Mapping[str, Any]
    ) -> str:
        """ProcessMediaByProcedure: run a saved task flow on a media file; returns ``TaskId``."""
        return self.tasks.process_media_by_procedure(request)

    def describe_task_detail(self, task_id: str) -> TaskDetail:
        """The task's state now: WAITING, PROCESSING (with each subtask's Progress) or FINISH."""
        return self.tasks.describe_task_detail(task_id)

    def describe_tasks(
        self, request: DescribeTasksRequest | Mapping[str, Any] | None = None
    ) -> DescribeTasksResponse:
        """DescribeTasks: tasks of the last days, filtered, newest first by default, with a
        ``ScrollToken`` to continue from."""
        return self.tasks.describe_tasks(request)

    def wait(
        self,
        task_id: str,
        *,
        timeout_s: float = 600.0,
        poll_s: float | None = None,
        on_update: Callable[[TaskDetail], None] | None = None,
        fallback_s: float = 5.0,
    ) -> ProcedureTask:
        """Wait until the task is FINISH and return its ``ProcedureTask``.

        The workers announce each change of the task on a Redis pub/sub channel: the task is
        read again when one comes (its progress only for ``on_update``), else every
        ``fallback_s``; ``poll_s`` reads it on that timer instead (the old polling)."""
        return self.tasks.wait(
            task_id, timeout_s=timeout_s, poll_s=poll_s, on_update=on_update, fallback_s=fallback_s
        )

    def task_event(self, task_id: str) -> EventContent | None:
        """The last ProcedureStateChanged event emitted for a task (None before it finishes)."""
        return self.tasks.task_event(task_id)

    # --- events ------------------------------------------------------------------------------

    def modify_event_config(
        self, request: ModifyEventConfigRequest | Mapping[str, Any]
    ) -> EventConfig:
        """ModifyEventConfig: PUSH to a NotificationUrl, or PULL; the given fields change."""
        return self.event_service.modify_config(request)

    def describe_event_config(self) -> EventConfig:
        """DescribeEventConfig."""
        return self.event_service.describe_config()

    def pull_events(self, *, wait_s: float = 5.0) -> PullEventsResponse:
        """PullEvents: up to 16 events with their EventHandles, waiting up to ``wait_s``."""
        return self.event_service.pull(wait_s=wait_s)

    def confirm_events(self, request: ConfirmEventsRequest | Mapping[str, Any]) -> None:
        """ConfirmEvents: acknowledge pulled events (late or unknown handles are refused)."""
        self.event_service.confirm(request)

    def publish(self, key: str, event: EventContent) -> None:
        """Record an event for pulling and, in PUSH mode, send it to the io queue."""
        self.event_service.publish(key, event)

    # --- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        self.state.close()
        if self._celery is not None:
            self._celery.close()
        if self._direct is not None:
            self._direct.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
