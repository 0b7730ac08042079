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

import secrets
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from pydantic import ValidationError

from animgraph.shared.celeryconf import create_celery
from animgraph.shared.clock import now_iso
from animgraph.shared.errors import ApiError, SourceFileError
from animgraph.shared.models import (
    AnimatedGraphicsTemplate,
    EventContent,
    MediaInfo,
    MediaMetaData,
    ProcedureTask,
    ProcessMediaRequest,
    TaskDetail,
    WireModel,
)
from animgraph.shared.settings import Settings
from animgraph.shared.state import MediaRecord, State, TaskRecord
from animgraph.shared.storage import Storage, open_storage
from animgraph.shared.tasknames import CONTROL_QUEUE, PROCEDURE, redis_priority
from animgraph.workers.media.probe import probe

from .sender import CelerySender, Sender

__all__ = ["Client", "api_error_from_validation"]

SESSION_TTL_S = 7 * 24 * 3600


def api_error_from_validation(exc: ValidationError, model: type[WireModel]) -> ApiError:
    """An ``InvalidParameterValue.<Field>`` error naming the first bad field, its value and rule."""
    first = exc.errors()[0]
    loc = [str(part) for part in first["loc"] if not isinstance(part, int)]
    field = loc[-1] if loc else model.__name__
    where = ".".join(loc) or model.__name__
    return ApiError(
        f"{where}: {first['msg']} (got {first.get('input')!r})", f"InvalidParameterValue.{field}"
    )


class Client:
    """Register media, start procedures and follow them, against one Redis."""

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
        self.storage = storage or open_storage(self.settings.resolved_storage_url)
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
        error: SourceFileError | None = None
        start_time_s = 0.0
        try:
            probed = probe(path)
            meta, start_time_s = probed.meta, probed.start_time_s
        except SourceFileError as exc:
            error = exc
            meta = MediaMetaData(size=path.stat().st_size)
        file_name = name or path.stem
        key = f"sources/{file_id}/{path.name}"
        self.storage.put_file(key, path)
        info = MediaInfo(
            file_id=file_id,
            file_name=file_name,
            file_url=self.storage.url(key),
            create_time=now_iso(),
            meta_data=meta,
        )
        self.state.put_media(
            MediaRecord(
                info=info,
                source_key=key,
                start_time_s=start_time_s,
                probe_error_code=error.code if error else "",
                probe_error_message=error.message if error else "",
            )
        )
        return info

    def describe_media(self, file_id: str) -> MediaInfo:
        record = self.state.get_media(file_id)
        if record is None:
            raise ApiError(f"FileId {file_id!r} does not exist", "InvalidParameterValue.FileId")
        return record.info

    # --- templates ---------------------------------------------------------------------------

    def create_template(self, **fields: Any) -> AnimatedGraphicsTemplate:
        """Create a custom animated graphics template; returns it with its new ``Definition``."""
        try:
            template = AnimatedGraphicsTemplate.model_validate({"Definition": 0, **fields})
        except ValidationError as exc:
            raise api_error_from_validation(exc, AnimatedGraphicsTemplate) from None
        return self.state.create_template(template)

    # --- procedures --------------------------------------------------------------------------

    def process_media(self, request: ProcessMediaRequest | Mapping[str, Any]) -> str:
        """Validate and enqueue one procedure; returns its ``TaskId``.

        Refused at once with an ``ApiError`` (and nothing enqueued) when the request is
        malformed, the FileId unknown, no task given, or the SessionId already used.
        """
        if not isinstance(request, ProcessMediaRequest):
            try:
                request = ProcessMediaRequest.model_validate(request)
            except ValidationError as exc:
                raise api_error_from_validation(exc, ProcessMediaRequest) from None
        if self.state.get_media(request.file_id) is None:
            raise ApiError(
                f"FileId {request.file_id!r} does not exist", "InvalidParameterValue.FileId"
            )
        if not request.media_process_task.animated_graphic_task_set:
            raise ApiError(
                "MediaProcessTask.AnimatedGraphicTaskSet is empty: give at least one task",
                "InvalidParameterValue.MediaProcessTask",
            )
        if request.session_id and not self.state.redis.set(
            f"animgraph:session:{request.session_id}", "1", nx=True, ex=SESSION_TTL_S
        ):
            raise ApiError(
                f"SessionId {request.session_id!r} was used in the last 7 days",
                "InvalidParameterValue.SessionId",
            )
        task_id = f"animgraph-Procedure-{secrets.token_hex(12)}"
        self.state.create_task(TaskRecord(task_id=task_id, create_time=now_iso(), request=request))
        self.sender.send(
            PROCEDURE,
            [task_id],
            queue=CONTROL_QUEUE,
            priority=redis_priority(request.tasks_priority),
        )
        return task_id

    def describe_task_detail(self, task_id: str) -> TaskDetail:
        """The task's state now: WAITING, PROCESSING (with each subtask's Progress) or FINISH."""
        detail = self.state.task_detail(task_id)
        if detail is None:
            raise ApiError(f"TaskId {task_id!r} does not exist", "InvalidParameterValue.TaskId")
        return detail

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
