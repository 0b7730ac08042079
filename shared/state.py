"""Task, media and template state in Redis keys of our own (not the Celery result backend).

Keys (all below ``animgraph:``):

- ``media:<FileId>``: JSON ``MediaRecord``
- ``template:<Definition>``: JSON custom template; ``templates`` their sorted set;
  ``template:next`` the counter of Definitions given
- ``procedure:<Name>``: JSON task flow; ``procedures`` their names by creation time
- ``task:<TaskId>``: hash with ``record`` (JSON ``TaskRecord``), ``status``, ``begin``, ``finish``,
  ``sub:<i>`` (JSON subtask result, written only by the chain working on subtask i), ``event``
- ``task:<TaskId>:notified``: set once by the notifier, so a task's final event goes out once
- ``tasks``: sorted set of TaskIds by creation time; ``tasks:open`` the same for the tasks not
  finished yet (what the reconciler and status filters walk, instead of every task);
  ``tasks:file:<FileId>`` the same for the tasks of one media file (the FileId filter)
- ``events``, ``push:*``, ``eventconfig``: see ``animgraph.shared.events``
"""

from __future__ import annotations

import json
import time
from typing import Any, TypeVar, cast

import redis
from pydantic import Field
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from animgraph.shared.clock import now_iso
from animgraph.shared.models import (
    AnimatedGraphicsTemplate,
    AnimatedGraphicTaskInput,
    EventContent,
    MediaAnimatedGraphicsItem,
    MediaInfo,
    MediaProcessTaskAnimatedGraphicResult,
    MediaProcessTaskResult,
    ProcedureTask,
    ProcedureTemplate,
    ProcessMediaRequest,
    TaskDetail,
    TaskStatus,
    WireModel,
)
from animgraph.shared.templates import FIRST_CUSTOM_DEFINITION, PRESETS

__all__ = ["MediaRecord", "State", "SubtaskPlan", "TaskRecord"]

M = TypeVar("M", bound=WireModel)

PREFIX = "animgraph:"
OPEN_TASKS = f"{PREFIX}tasks:open"


def _file_tasks_key(file_id: str) -> str:
    return f"{PREFIX}tasks:file:{file_id}"


class MediaRecord(WireModel):
    """A registered media file and where its bytes are stored."""

    info: MediaInfo
    source_key: str
    start_time_s: float = 0.0
    source_context: str = ""
    probe_error_code: str = ""
    probe_error_message: str = ""


class SubtaskPlan(WireModel):
    """One subtask as the procedure resolved it when it started (templates resolved once)."""

    index: int
    input: AnimatedGraphicTaskInput
    template: AnimatedGraphicsTemplate | None = None
    start_s: float = 0.0
    end_s: float = 0.0
    width_px: int = 0
    height_px: int = 0
    slices: int = 1
    slice_s: float = 0.0
    error_code: str = ""
    error_message: str = ""


class TaskRecord(WireModel):
    """What a task was asked to do; the parts that change live in their own hash fields."""

    task_id: str
    create_time: str
    request: ProcessMediaRequest
    plans: tuple[SubtaskPlan, ...] = Field(default=())


class State:
    """Typed access to animgraph's Redis keys."""

    def __init__(self, client: redis.Redis, *, task_ttl_s: int = 7 * 24 * 3600) -> None:
        self.redis = client
        self.task_ttl_s = task_ttl_s

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> State:
        # redis-py's default 5 s read timeout would cut PullEvents' 5 s blocking read short;
        # the retries ride out a Redis restart of some seconds.
        client = redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=30,
            socket_connect_timeout=5,
            retry=Retry(ExponentialBackoff(cap=2.0, base=0.1), retries=20),
            retry_on_error=[redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError],
        )
        return cls(client, **kwargs)

    # --- media -------------------------------------------------------------------------------

    def put_media(self, record: MediaRecord) -> None:
        self.redis.set(f"{PREFIX}media:{record.info.file_id}", record.model_dump_json())

    def get_media(self, file_id: str) -> MediaRecord | None:
        raw = self.redis.get(f"{PREFIX}media:{file_id}")
        return MediaRecord.model_validate_json(cast(str, raw)) if raw else None

    def delete_media(self, file_id: str) -> list[str]:
        """Forget a media file; returns the storage prefixes of its outputs to delete."""
        outputs = f"{PREFIX}media:{file_id}:outputs"
        pipe = self.redis.pipeline()
        pipe.smembers(outputs)
        pipe.delete(
            f"{PREFIX}media:{file_id}",
            outputs,
            f"{PREFIX}media:{file_id}:graphics",
            f"{PREFIX}media:{file_id}:gseq",
        )
        prefixes, _ = pipe.execute()
        return sorted(cast(set[str], prefixes))

    def add_media_output(
        self, file_id: str, item: MediaAnimatedGraphicsItem, prefix: str = ""
    ) -> None:
        """Add an image to the media's ``AnimatedGraphicsSet`` (same Url replaced). Kept apart
        from the media record, so reading a media file does not grow with its outputs."""
        seq = int(cast(str, self.redis.incr(f"{PREFIX}media:{file_id}:gseq")))
        value = json.dumps({"seq": seq, "item": item.model_dump(mode="json")})
        pipe = self.redis.pipeline()
        pipe.hset(f"{PREFIX}media:{file_id}:graphics", item.url, value)
        if prefix:
            pipe.sadd(f"{PREFIX}media:{file_id}:outputs", prefix)
        pipe.execute()

    def media_outputs(self, file_id: str) -> tuple[MediaAnimatedGraphicsItem, ...]:
        """The animated images made from a media file, oldest first."""
        raws = cast(list[str], self.redis.hvals(f"{PREFIX}media:{file_id}:graphics"))
        entries = sorted((json.loads(raw) for raw in raws), key=lambda e: int(e["seq"]))
        return tuple(MediaAnimatedGraphicsItem.model_validate(e["item"]) for e in entries)

    def media_output_count(self, file_id: str) -> int:
        return int(cast(str, self.redis.hlen(f"{PREFIX}media:{file_id}:graphics")))

    # --- templates ---------------------------------------------------------------------------

    def get_template(self, definition: int) -> AnimatedGraphicsTemplate | None:
        if definition in PRESETS:
            return PRESETS[definition]
        raw = self.redis.get(f"{PREFIX}template:{definition}")
        return AnimatedGraphicsTemplate.model_validate_json(cast(str, raw)) if raw else None

    def create_template(self, template: AnimatedGraphicsTemplate) -> AnimatedGraphicsTemplate:
        """Store a custom template under the next free Definition and return it."""
        next_id = int(cast(str, self.redis.incr(f"{PREFIX}template:next")))
        stamp = now_iso()
        stored = template.model_copy(
            update={
                "definition": next_id + FIRST_CUSTOM_DEFINITION - 1,
                "type": "Custom",
                "create_time": stamp,
                "update_time": stamp,
            }
        )
        self.put_template(stored)
        return stored

    def put_template(self, template: AnimatedGraphicsTemplate) -> None:
        pipe = self.redis.pipeline()
        pipe.set(f"{PREFIX}template:{template.definition}", template.model_dump_json())
        pipe.zadd(f"{PREFIX}templates", {str(template.definition): template.definition})
        pipe.execute()

    def delete_template(self, definition: int) -> bool:
        pipe = self.redis.pipeline()
        pipe.delete(f"{PREFIX}template:{definition}")
        pipe.zrem(f"{PREFIX}templates", str(definition))
        return bool(pipe.execute()[0])

    def custom_template_count(self) -> int:
        return int(cast(str, self.redis.zcard(f"{PREFIX}templates")))

    def custom_templates(self) -> list[AnimatedGraphicsTemplate]:
        """Every custom template, by Definition."""
        return self._indexed("templates", "template", AnimatedGraphicsTemplate)

    def _indexed(self, index: str, prefix: str, model: type[M]) -> list[M]:
        """The records ``<prefix>:<member>`` of every member of the sorted set ``index``."""
        members = cast(list[str], self.redis.zrange(f"{PREFIX}{index}", 0, -1))
        if not members:
            return []
        raws = cast(list[str | None], self.redis.mget([f"{PREFIX}{prefix}:{m}" for m in members]))
        return [model.model_validate_json(r) for r in raws if r]

    # --- task flows (procedure templates) ------------------------------------------------------

    def add_procedure_template(self, flow: ProcedureTemplate) -> bool:
        """Store a new task flow; False if the name is taken."""
        created = self.redis.set(f"{PREFIX}procedure:{flow.name}", flow.model_dump_json(), nx=True)
        if created:
            self.redis.zadd(f"{PREFIX}procedures", {flow.name: time.time()})
        return bool(created)

    def replace_procedure_template(self, flow: ProcedureTemplate) -> bool:
        """Replace an existing task flow's content; False if there is none by that name."""
        return bool(
            self.redis.set(f"{PREFIX}procedure:{flow.name}", flow.model_dump_json(), xx=True)
        )

    def get_procedure_template(self, name: str) -> ProcedureTemplate | None:
        raw = self.redis.get(f"{PREFIX}procedure:{name}")
        return ProcedureTemplate.model_validate_json(cast(str, raw)) if raw else None

    def delete_procedure_template(self, name: str) -> bool:
        pipe = self.redis.pipeline()
        pipe.delete(f"{PREFIX}procedure:{name}")
        pipe.zrem(f"{PREFIX}procedures", name)
        return bool(pipe.execute()[0])

    def procedure_templates(self) -> list[ProcedureTemplate]:
        """Every task flow, oldest first."""
        return self._indexed("procedures", "procedure", ProcedureTemplate)

    def procedure_template_count(self) -> int:
        return int(cast(str, self.redis.zcard(f"{PREFIX}procedures")))

    # --- tasks -------------------------------------------------------------------------------

    def _task_key(self, task_id: str) -> str:
        return f"{PREFIX}task:{task_id}"

    def create_task(self, record: TaskRecord) -> None:
        key = self._task_key(record.task_id)
        pipe = self.redis.pipeline()
        pipe.hset(
            key,
            mapping={
                "record": record.model_dump_json(),
                "status": "WAITING",
                "touched": repr(time.time()),
            },
        )
        for i, item in enumerate(record.request.media_process_task.animated_graphic_task_set):
            sub = MediaProcessTaskAnimatedGraphicResult(input=item)
            pipe.hset(key, f"sub:{i}", sub.model_dump_json())
        pipe.expire(key, self.task_ttl_s)
        now = time.time()
        pipe.zadd(f"{PREFIX}tasks", {record.task_id: now})
        pipe.zadd(OPEN_TASKS, {record.task_id: now})
        by_file = _file_tasks_key(record.request.file_id)
        pipe.zadd(by_file, {record.task_id: now})
        pipe.expire(by_file, self.task_ttl_s)
        pipe.execute()

    def task_ids(
        self, *, newest_first: bool = True, open_only: bool = False, file_id: str | None = None
    ) -> list[str]:
        """TaskIds by creation time, dropping those whose record has expired: every task, or
        only the tasks of ``file_id``, or (``open_only``) only those not finished yet. With
        both, the file's tasks (the caller filters their status)."""
        if file_id is not None:
            key = _file_tasks_key(file_id)
        else:
            key = OPEN_TASKS if open_only else f"{PREFIX}tasks"
        self.redis.zremrangebyscore(key, "-inf", time.time() - self.task_ttl_s)
        ids = cast(list[str], self.redis.zrange(key, 0, -1, desc=newest_first))
        return ids

    def get_record(self, task_id: str) -> TaskRecord | None:
        raw = self.redis.hget(self._task_key(task_id), "record")
        return TaskRecord.model_validate_json(cast(str, raw)) if raw else None

    def save_plans(self, task_id: str, plans: tuple[SubtaskPlan, ...]) -> TaskRecord:
        """Store the resolved plans and mark the task PROCESSING (once: a redelivery keeps them)."""
        key = self._task_key(task_id)
        record = self.get_record(task_id)
        if record is None:
            raise KeyError(task_id)
        if record.plans:
            return record
        record = record.model_copy(update={"plans": plans})
        pipe = self.redis.pipeline()
        pipe.hset(
            key,
            mapping={
                "record": record.model_dump_json(),
                "status": "PROCESSING",
                "touched": repr(time.time()),
            },
        )
        pipe.hsetnx(key, "begin", now_iso())
        pipe.hsetnx(key, "begin_ts", repr(time.time()))
        pipe.execute()
        return record

    def get_subtask(self, task_id: str, index: int) -> MediaProcessTaskAnimatedGraphicResult:
        raw = self.redis.hget(self._task_key(task_id), f"sub:{index}")
        if not raw:
            raise KeyError(f"{task_id} subtask {index}")
        return MediaProcessTaskAnimatedGraphicResult.model_validate_json(cast(str, raw))

    def put_subtask(
        self, task_id: str, index: int, result: MediaProcessTaskAnimatedGraphicResult
    ) -> None:
        self.redis.hset(self._task_key(task_id), f"sub:{index}", result.model_dump_json())

    def update_subtask(
        self, task_id: str, index: int, **changes: Any
    ) -> MediaProcessTaskAnimatedGraphicResult:
        """Change fields of one subtask's result (only its own chain writes it)."""
        current = self.get_subtask(task_id, index)
        if current.status != "PROCESSING":
            return current  # a finished subtask is final
        updated = MediaProcessTaskAnimatedGraphicResult.model_validate(
            {**current.model_dump(), **changes}
        )
        pipe = self.redis.pipeline()
        pipe.hset(self._task_key(task_id), f"sub:{index}", updated.model_dump_json())
        pipe.hset(self._task_key(task_id), "touched", repr(time.time()))
        pipe.execute()
        return updated

    def mark_finished(self, task_id: str, index: int) -> int | None:
        """Record that subtask ``index`` reached SUCCESS or FAIL; returns how many subtasks have
        finished now, or None if this one was recorded before (a redelivered step)."""
        key = f"{self._task_key(task_id)}:finished"
        pipe = self.redis.pipeline()
        pipe.sadd(key, index)
        pipe.scard(key)
        pipe.expire(key, self.task_ttl_s)
        added, count, _ = pipe.execute()
        return int(count) if added else None

    def claim_notify(self, task_id: str) -> bool:
        """True for the first caller only: a task's final event is published once."""
        return bool(
            self.redis.set(f"{self._task_key(task_id)}:notified", "1", nx=True, ex=self.task_ttl_s)
        )

    def activity(self, task_id: str) -> tuple[str, float] | None:
        """A task's status and the time anything last happened to it (None if unknown)."""
        status, touched = cast(
            list[str | None], self.redis.hmget(self._task_key(task_id), ["status", "touched"])
        )
        if status is None:
            return None
        return status, float(touched or 0)

    def finish_task(self, task_id: str) -> None:
        pipe = self.redis.pipeline()
        pipe.hset(self._task_key(task_id), "status", "FINISH")
        pipe.hsetnx(self._task_key(task_id), "finish", now_iso())  # a second finish keeps it
        pipe.zrem(OPEN_TASKS, task_id)
        pipe.execute()

    def procedure_task(self, task_id: str) -> ProcedureTask | None:
        """The ``ProcedureTask`` as it stands now (the event payload and the query view)."""
        key = self._task_key(task_id)
        fields = cast(dict[str, str], self.redis.hgetall(key))
        if "record" not in fields:
            return None
        record = TaskRecord.model_validate_json(fields["record"])
        media = self.get_media(record.request.file_id)
        subs = [
            MediaProcessTaskAnimatedGraphicResult.model_validate_json(fields[f"sub:{i}"])
            for i in range(len(record.request.media_process_task.animated_graphic_task_set))
        ]
        req = record.request
        return ProcedureTask(
            task_id=task_id,
            status="FINISH" if fields.get("status") == "FINISH" else "PROCESSING",
            file_id=req.file_id,
            file_name=media.info.file_name if media else "",
            file_url=media.info.file_url if media else "",
            meta_data=media.info.meta_data if media else None,
            media_process_result_set=tuple(
                MediaProcessTaskResult(animated_graphic_task=s) for s in subs
            ),
            tasks_priority=req.tasks_priority,
            tasks_notify_mode=req.tasks_notify_mode,
            session_context=req.session_context,
            session_id=req.session_id,
        )

    def task_detail(self, task_id: str) -> TaskDetail | None:
        """The DescribeTaskDetail view of a task, or None if unknown."""
        fields = cast(
            list[str | None],
            self.redis.hmget(self._task_key(task_id), ["record", "status", "begin", "finish"]),
        )
        raw, status, begin, finish = fields
        procedure = self.procedure_task(task_id)
        if raw is None or procedure is None:
            return None
        record = TaskRecord.model_validate_json(raw)
        return TaskDetail(
            status=cast(TaskStatus, status or "WAITING"),
            create_time=record.create_time,
            begin_process_time=begin or "",
            finish_time=finish or "",
            procedure_task=procedure,
        )

    # --- upload sessions ---------------------------------------------------------------------

    def put_upload(self, session_key: str, data: dict[str, Any], ttl_s: int) -> None:
        self.redis.set(f"{PREFIX}upload:{session_key}", json.dumps(data), ex=ttl_s)

    def get_upload(self, session_key: str) -> dict[str, Any] | None:
        raw = self.redis.get(f"{PREFIX}upload:{session_key}")
        return cast(dict[str, Any], json.loads(cast(str, raw))) if raw else None

    def update_upload(self, session_key: str, **changes: Any) -> None:
        key = f"{PREFIX}upload:{session_key}"
        raw = self.redis.get(key)
        if raw:
            ttl = int(cast(str, self.redis.ttl(key)))
            data = {**json.loads(cast(str, raw)), **changes}
            self.redis.set(key, json.dumps(data), ex=max(ttl, 1))

    def claim_once(self, name: str, ttl_s: int) -> bool:
        """True the first time ``name`` is claimed within ``ttl_s`` (one-time tokens)."""
        return bool(self.redis.set(f"{PREFIX}once:{name}", "1", nx=True, ex=max(ttl_s, 1)))

    # --- events ------------------------------------------------------------------------------

    def keep_event(self, task_id: str, event: EventContent) -> None:
        """Keep the final event of a task with it (``task_event``); delivery is ``EventBus``'s."""
        self.redis.hset(self._task_key(task_id), "event", json.dumps(event.wire()))

    def task_event(self, task_id: str) -> EventContent | None:
        """The last event emitted for a task."""
        raw = self.redis.hget(self._task_key(task_id), "event")
        return EventContent.model_validate_json(cast(str, raw)) if raw else None
