"""Procedures: validate and enqueue one, follow it, and list tasks filtered and paged."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

import redis

from animgraph.shared.clock import now_iso
from animgraph.shared.errors import ApiError
from animgraph.shared.models import (
    DescribeTasksRequest,
    DescribeTasksResponse,
    EventContent,
    ProcedureTask,
    ProcessMediaByProcedureRequest,
    ProcessMediaRequest,
    TaskDetail,
    TaskSimpleInfo,
    TimeRange,
)
from animgraph.shared.state import State, TaskRecord
from animgraph.shared.state.tasks import CHANGED_EVENT, CHANGED_FINISH, TaskWatch
from animgraph.shared.tasknames import CONTROL_QUEUE, PROCEDURE, message_priority

from ..sender import Sender
from .flows import FlowService
from .media import no_such_file
from .validation import parse

log = logging.getLogger(__name__)

__all__ = ["TaskService"]


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


def _row(task_id: str, detail: TaskDetail) -> TaskSimpleInfo:
    return TaskSimpleInfo(
        task_id=task_id,
        status=detail.status,
        file_id=detail.procedure_task.file_id,
        create_time=detail.create_time,
        begin_process_time=detail.begin_process_time,
        finish_time=detail.finish_time,
        session_id=detail.procedure_task.session_id,
        session_context=detail.procedure_task.session_context,
    )


class TaskService:
    """ProcessMedia, ProcessMediaByProcedure, DescribeTaskDetail and DescribeTasks."""

    def __init__(
        self,
        state: State,
        sender: Sender,
        flows: FlowService,
        *,
        amqp: bool = False,
        ack_replicas: int = 0,
        ack_timeout_ms: int = 2000,
    ) -> None:
        self.state = state
        self.sender = sender
        self.flows = flows
        self.amqp = amqp  # RabbitMQ orders priorities the other way round
        self.ack_replicas = ack_replicas
        self.ack_timeout_ms = ack_timeout_ms

    def process_media(self, request: ProcessMediaRequest | Mapping[str, Any]) -> str:
        """Validate and enqueue one procedure; returns its ``TaskId``.

        Refused at once with an ``ApiError`` (and nothing enqueued) when the request is
        malformed, the FileId unknown, no task given, or the SessionId already used.
        """
        req = parse(ProcessMediaRequest, request)
        if self.state.media.get(req.file_id) is None:
            raise no_such_file(req.file_id)
        if not req.media_process_task.animated_graphic_task_set:
            raise ApiError(
                "MediaProcessTask.AnimatedGraphicTaskSet is empty: give at least one task",
                "InvalidParameterValue.MediaProcessTask",
            )
        if req.session_id and not self.state.sessions.claim(req.session_id):
            raise ApiError(
                f"SessionId {req.session_id!r} was used in the last 7 days",
                "InvalidParameterValue.SessionId",
            )
        task_id = f"animgraph-Procedure-{secrets.token_hex(12)}"
        try:
            self.state.tasks.create(TaskRecord(task_id=task_id, create_time=now_iso(), request=req))
            self.sender.send(
                PROCEDURE,
                [task_id],
                queue=CONTROL_QUEUE,
                priority=message_priority(req.tasks_priority, amqp=self.amqp),
            )
        except Exception:
            if req.session_id:
                self.state.sessions.release(req.session_id)  # nothing was enqueued: free again
            raise
        if self.ack_replicas:
            # The record and its message on a replica before the TaskId is given out, so that
            # a failover to that replica keeps the procedure (a message on a RabbitMQ broker is
            # its own: only the record is waited for).
            got = self.state.replicate(self.ack_replicas, self.ack_timeout_ms)
            if got < self.ack_replicas:
                log.warning(
                    "procedure %s accepted with %d of %d replicas acknowledging in %d ms: a "
                    "failover now could lose it",
                    task_id,
                    got,
                    self.ack_replicas,
                    self.ack_timeout_ms,
                )
        return task_id

    def process_media_by_procedure(
        self, request: ProcessMediaByProcedureRequest | Mapping[str, Any]
    ) -> str:
        """ProcessMediaByProcedure: run a saved task flow on a media file; returns ``TaskId``."""
        req = parse(ProcessMediaByProcedureRequest, request)
        flow = self.flows.get(req.procedure_name)
        options = req.model_dump(exclude={"procedure_name"})
        return self.process_media(
            ProcessMediaRequest(**options, media_process_task=flow.media_process_task)
        )

    def describe_task_detail(self, task_id: str) -> TaskDetail:
        """The task's state now: WAITING, PROCESSING (with each subtask's Progress) or FINISH."""
        detail = self.state.tasks.detail(task_id)
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
        ids = self.state.tasks.ids(
            newest_first=newest_first, open_only=open_only, file_id=req.file_id
        )
        for task_id in ids:
            detail = self.state.tasks.detail(task_id)
            if detail is None or not _task_matches(detail, req):
                continue
            rows.append(_row(task_id, detail))
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
        poll_s: float | None = None,
        on_update: Callable[[TaskDetail], None] | None = None,
        fallback_s: float = 5.0,
    ) -> ProcedureTask:
        """Wait until the task is FINISH, with its final event out (the notifier marks the task
        FINISH a moment before it writes the event), and return its ``ProcedureTask``.

        The task is read again when the workers announce a change on its channel (``TaskWatch``:
        Redis pub/sub), not on a timer: a subtask's progress (only with ``on_update``), FINISH
        and the final event. Without any announcement it is read again every ``fallback_s``
        (a message lost to a reconnection is not waited for longer). ``poll_s``: read every
        ``poll_s`` seconds instead, as before announcements existed.
        """
        deadline = time.monotonic() + timeout_s
        watch = None
        if poll_s is None:
            try:
                watch = self.state.tasks.watch(task_id)
            except redis.RedisError as exc:
                log.warning("no announcements for %s (%s): reading every %.1f s", task_id, exc,
                            fallback_s)  # fmt: skip
        try:
            while True:
                detail = self.describe_task_detail(task_id)
                if on_update:
                    on_update(detail)
                if detail.status == "FINISH" and (
                    detail.procedure_task.tasks_notify_mode == "None"
                    or self.state.tasks.event(task_id) is not None
                ):
                    return detail.procedure_task
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"task {task_id} still {detail.status} after {timeout_s:.0f} s"
                    )
                if watch is None:
                    time.sleep(min(left, poll_s if poll_s is not None else fallback_s))
                    continue
                watch = self._next_change(watch, task_id, min(left, fallback_s), on_update)
        finally:
            if watch is not None:
                watch.close()

    def _next_change(
        self,
        watch: TaskWatch,
        task_id: str,
        timeout_s: float,
        on_update: Callable[[TaskDetail], None] | None,
    ) -> TaskWatch | None:
        """Wait for a change worth reading the task again for (any, with ``on_update``; else
        FINISH or the event), at most ``timeout_s``; the watch, or None if it broke (the caller
        then reads on a timer)."""
        wanted = None if on_update else {CHANGED_FINISH, CHANGED_EVENT}
        deadline = time.monotonic() + timeout_s
        try:
            while True:
                changed = watch.wait(deadline - time.monotonic())
                if not changed or wanted is None or changed & wanted:
                    return watch
                if time.monotonic() >= deadline:
                    return watch
        except redis.RedisError as exc:
            log.warning("announcements of %s lost (%s): reading on a timer", task_id, exc)
            watch.close()
            return None

    def task_event(self, task_id: str) -> EventContent | None:
        """The last ProcedureStateChanged event emitted for a task (None before it finishes)."""
        return self.state.tasks.event(task_id)
