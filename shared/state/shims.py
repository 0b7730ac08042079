"""Merge shim: remove. ``State``'s methods as they were named before the repositories, kept
only until every call site says ``state.<repository>.<method>`` (the mapping is beside each)."""

from __future__ import annotations

from typing import Any

import redis

from animgraph.shared.models import (
    AnimatedGraphicsTemplate,
    EventContent,
    MediaAnimatedGraphicsItem,
    MediaProcessTaskAnimatedGraphicResult,
    ProcedureTask,
    ProcedureTemplate,
    TaskDetail,
)

from .flows import FlowRepo
from .media import MediaRepo
from .records import MediaRecord, SubtaskPlan, TaskRecord
from .tasks import TaskRepo
from .templates import TemplateRepo
from .uploads import UploadRepo

__all__ = ["MergeShims"]


class MergeShims:  # merge shim: remove
    """The old ``State`` API, delegating to the repositories of ``State``."""

    _redis: redis.Redis
    media: MediaRepo
    templates: TemplateRepo
    flows: FlowRepo
    tasks: TaskRepo
    uploads: UploadRepo

    @property
    def redis(self) -> redis.Redis:  # merge shim: remove
        return self._redis

    @property
    def task_ttl_s(self) -> int:  # merge shim: remove; -> state.tasks.ttl_s
        return self.tasks.ttl_s

    # --- media -> state.media ------------------------------------------------------------------

    def put_media(self, record: MediaRecord) -> None:  # merge shim: remove; -> media.put
        self.media.put(record)

    def get_media(self, file_id: str) -> MediaRecord | None:  # merge shim: remove; -> media.get
        return self.media.get(file_id)

    def delete_media(self, file_id: str) -> list[str]:  # merge shim: remove; -> media.delete
        return self.media.delete(file_id)

    def add_media_output(  # merge shim: remove; -> media.add_output
        self, file_id: str, item: MediaAnimatedGraphicsItem, prefix: str = ""
    ) -> None:
        self.media.add_output(file_id, item, prefix)

    def media_outputs(  # merge shim: remove; -> media.outputs
        self, file_id: str
    ) -> tuple[MediaAnimatedGraphicsItem, ...]:
        return self.media.outputs(file_id)

    def media_output_count(self, file_id: str) -> int:  # merge shim: remove; -> output_count
        return self.media.output_count(file_id)

    # --- templates -> state.templates --------------------------------------------------------

    def get_template(  # merge shim: remove; -> templates.get
        self, definition: int
    ) -> AnimatedGraphicsTemplate | None:
        return self.templates.get(definition)

    def create_template(  # merge shim: remove; -> templates.create
        self, template: AnimatedGraphicsTemplate
    ) -> AnimatedGraphicsTemplate:
        return self.templates.create(template)

    def put_template(self, template: AnimatedGraphicsTemplate) -> None:  # merge shim: remove
        self.templates.put(template)  # -> templates.put

    def delete_template(self, definition: int) -> bool:  # merge shim: remove; -> .delete
        return self.templates.delete(definition)

    def custom_template_count(self) -> int:  # merge shim: remove; -> templates.count
        return self.templates.count()

    def custom_templates(self) -> list[AnimatedGraphicsTemplate]:  # merge shim: remove
        return self.templates.custom()  # -> templates.custom

    # --- task flows -> state.flows -----------------------------------------------------------

    def add_procedure_template(self, flow: ProcedureTemplate) -> bool:  # merge shim: remove
        return self.flows.add(flow)  # -> flows.add

    def replace_procedure_template(self, flow: ProcedureTemplate) -> bool:  # merge shim: remove
        return self.flows.replace(flow)  # -> flows.replace

    def get_procedure_template(self, name: str) -> ProcedureTemplate | None:  # merge shim: remove
        return self.flows.get(name)  # -> flows.get

    def delete_procedure_template(self, name: str) -> bool:  # merge shim: remove
        return self.flows.delete(name)  # -> flows.delete

    def procedure_templates(self) -> list[ProcedureTemplate]:  # merge shim: remove
        return self.flows.all()  # -> flows.all

    def procedure_template_count(self) -> int:  # merge shim: remove; -> flows.count
        return self.flows.count()

    # --- tasks -> state.tasks ----------------------------------------------------------------

    def create_task(self, record: TaskRecord) -> None:  # merge shim: remove; -> tasks.create
        self.tasks.create(record)

    def task_ids(  # merge shim: remove; -> tasks.ids
        self, *, newest_first: bool = True, open_only: bool = False, file_id: str | None = None
    ) -> list[str]:
        return self.tasks.ids(newest_first=newest_first, open_only=open_only, file_id=file_id)

    def get_record(self, task_id: str) -> TaskRecord | None:  # merge shim: remove; -> .record
        return self.tasks.record(task_id)

    def save_plans(  # merge shim: remove; -> tasks.save_plans
        self, task_id: str, plans: tuple[SubtaskPlan, ...]
    ) -> TaskRecord:
        return self.tasks.save_plans(task_id, plans)

    def get_subtask(  # merge shim: remove; -> tasks.subtask
        self, task_id: str, index: int
    ) -> MediaProcessTaskAnimatedGraphicResult:
        return self.tasks.subtask(task_id, index)

    def put_subtask(  # merge shim: remove; -> tasks.put_subtask
        self, task_id: str, index: int, result: MediaProcessTaskAnimatedGraphicResult
    ) -> None:
        self.tasks.put_subtask(task_id, index, result)

    def update_subtask(  # merge shim: remove; -> tasks.update_subtask
        self, task_id: str, index: int, **changes: Any
    ) -> MediaProcessTaskAnimatedGraphicResult:
        return self.tasks.update_subtask(task_id, index, **changes)

    def mark_finished(self, task_id: str, index: int) -> int | None:  # merge shim: remove
        return self.tasks.mark_finished(task_id, index)  # -> tasks.mark_finished

    def claim_notify(self, task_id: str) -> bool:  # merge shim: remove; -> tasks.claim_notify
        return self.tasks.claim_notify(task_id)

    def activity(self, task_id: str) -> tuple[str, float] | None:  # merge shim: remove
        return self.tasks.activity(task_id)  # -> tasks.activity

    def finish_task(self, task_id: str) -> None:  # merge shim: remove; -> tasks.finish
        self.tasks.finish(task_id)

    def procedure_task(self, task_id: str) -> ProcedureTask | None:  # merge shim: remove
        return self.tasks.procedure_task(task_id)  # -> tasks.procedure_task

    def task_detail(self, task_id: str) -> TaskDetail | None:  # merge shim: remove
        return self.tasks.detail(task_id)  # -> tasks.detail

    def keep_event(self, task_id: str, event: EventContent) -> None:  # merge shim: remove
        self.tasks.keep_event(task_id, event)  # -> tasks.keep_event

    def task_event(self, task_id: str) -> EventContent | None:  # merge shim: remove
        return self.tasks.event(task_id)  # -> tasks.event

    # --- uploads -> state.uploads ------------------------------------------------------------

    def put_upload(  # merge shim: remove; -> uploads.put
        self, session_key: str, data: dict[str, Any], ttl_s: int
    ) -> None:
        self.uploads.put(session_key, data, ttl_s)

    def get_upload(self, session_key: str) -> dict[str, Any] | None:  # merge shim: remove
        return self.uploads.get(session_key)  # -> uploads.get

    def update_upload(self, session_key: str, **changes: Any) -> None:  # merge shim: remove
        self.uploads.update(session_key, **changes)  # -> uploads.update

    def claim_once(self, name: str, ttl_s: int) -> bool:  # merge shim: remove
        return self.uploads.claim_once(name, ttl_s)  # -> uploads.claim_once
