"""Tasks: the record and subtask results of each, the indexes that list them, and the markers
the steps leave so that a redelivered message does its work once."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, cast

import redis
from redis.typing import EncodableT, FieldT

from animgraph.shared.clock import now_iso
from animgraph.shared.metrics import SubtaskOutcome
from animgraph.shared.models import (
    EventContent,
    MediaProcessTaskAnimatedGraphicResult,
    MediaProcessTaskResult,
    ProcedureTask,
    TaskDetail,
    TaskStatus,
)

from . import keys
from .events import Claim
from .media import MediaRepo
from .metrics import MetricsRepo
from .records import SubtaskPlan, TaskRecord

__all__ = ["CHANGED_FINISH", "Attempt", "TaskRepo", "TaskWatch"]

DEFAULT_TTL_S = 7 * 24 * 3600
# What a message on a task's channel (``keys.task_changes``) says changed: the plans (status
# PROCESSING), a subtask (progress, status, output), FINISH, or the final event written.
CHANGED_PLANS, CHANGED_SUBTASK, CHANGED_FINISH, CHANGED_EVENT = (
    "plans",
    "subtask",
    "finish",
    "event",
)

# FINISH, and the time of the first finish; the first one is counted (``metrics:tasks``) and
# announced on the task's channel (ARGV[3]).
_FINISH = """
redis.call('HSET', KEYS[1], 'status', 'FINISH')
local first = redis.call('HSETNX', KEYS[1], 'finish', ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[2])
if first == 1 then redis.call('HINCRBY', KEYS[3], 'FINISH', 1) end
redis.call('PUBLISH', ARGV[3], 'finish')
return first
"""
# A subtask's end recorded once: its index in the finished set and, the first time only, its
# outcome counted (ARGV[3], a ``metrics:subtasks`` field, '' for none) with the bytes stored
# (ARGV[5]) by format (ARGV[4]). Answers {added, subtasks finished}.
_MARK_FINISHED = """
local added = redis.call('SADD', KEYS[1], ARGV[1])
local count = redis.call('SCARD', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
if added == 1 and ARGV[3] ~= '' then
  redis.call('HINCRBY', KEYS[2], ARGV[3], 1)
  if tonumber(ARGV[5]) > 0 then redis.call('HINCRBY', KEYS[3], ARGV[4], ARGV[5]) end
end
return {added, count}
"""
# The slice counter's fenced INCR: only while ARGV[1] is still the step's latest attempt.
_COUNT_PART_AS = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
local done = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return done
"""


@dataclass(frozen=True)
class Attempt:
    """One delivery of one step, numbered by ``count_attempt``: the fence of its writes."""

    task_id: str
    index: int
    part: int | None
    step: str
    number: int

    @property
    def key(self) -> str:
        return keys.attempts(self.task_id, self.index, self.part, self.step)


class TaskRepo:
    """``task:<TaskId>`` and its markers, ``tasks``, ``tasks:open``, ``tasks:file:<FileId>``
    and ``attempts:...``; every task key expires ``ttl_s`` after the task was created."""

    def __init__(
        self, client: redis.Redis, media: MediaRepo, *, ttl_s: int = DEFAULT_TTL_S
    ) -> None:
        self._redis = client
        self._media = media  # the file name and metadata of the task views
        self.ttl_s = ttl_s
        self._finish = client.register_script(_FINISH)
        self._mark_finished = client.register_script(_MARK_FINISHED)

    # --- the record --------------------------------------------------------------------------

    def create(self, record: TaskRecord) -> None:
        key = keys.task(record.task_id)
        pipe = self._redis.pipeline()
        pipe.hset(key, mapping=_record_fields(record, "WAITING"))
        for i, item in enumerate(record.request.media_process_task.animated_graphic_task_set):
            sub = MediaProcessTaskAnimatedGraphicResult(input=item)
            pipe.hset(key, f"sub:{i}", sub.model_dump_json())
        pipe.expire(key, self.ttl_s)
        now = time.time()
        pipe.zadd(keys.TASKS, {record.task_id: now})
        pipe.zadd(keys.OPEN_TASKS, {record.task_id: now})
        by_file = keys.file_tasks(record.request.file_id)
        pipe.zadd(by_file, {record.task_id: now})
        pipe.expire(by_file, self.ttl_s)
        MetricsRepo.count_task(pipe, "WAITING")
        pipe.execute()

    def ids(
        self, *, newest_first: bool = True, open_only: bool = False, file_id: str | None = None
    ) -> list[str]:
        """TaskIds by creation time, dropping those whose record has expired: every task, or
        only the tasks of ``file_id``, or (``open_only``) only those not finished yet. With
        both, the file's tasks (the caller filters their status)."""
        if file_id is not None:
            key = keys.file_tasks(file_id)
        else:
            key = keys.OPEN_TASKS if open_only else keys.TASKS
        self._redis.zremrangebyscore(key, "-inf", time.time() - self.ttl_s)
        return cast(list[str], self._redis.zrange(key, 0, -1, desc=newest_first))

    def record(self, task_id: str) -> TaskRecord | None:
        raw = self._redis.hget(keys.task(task_id), "record")
        return TaskRecord.model_validate_json(cast(str, raw)) if raw else None

    def save_plans(self, task_id: str, plans: tuple[SubtaskPlan, ...]) -> TaskRecord:
        """Store the resolved plans and mark the task PROCESSING (once: a redelivery keeps them)."""
        record = self.record(task_id)
        if record is None:
            raise KeyError(task_id)
        if record.plans:
            return record
        record = record.model_copy(update={"plans": plans})
        key = keys.task(task_id)
        pipe = self._redis.pipeline()
        pipe.hset(key, mapping=_record_fields(record, "PROCESSING"))
        pipe.hsetnx(key, "begin", now_iso())
        pipe.hsetnx(key, "begin_ts", repr(time.time()))
        MetricsRepo.count_task(pipe, "PROCESSING")
        pipe.publish(keys.task_changes(task_id), CHANGED_PLANS)
        pipe.execute()
        return record

    def activity(self, task_id: str) -> tuple[str, float] | None:
        """A task's status and the time anything last happened to it (None if unknown)."""
        status, touched = cast(
            list[str | None], self._redis.hmget(keys.task(task_id), ["status", "touched"])
        )
        if status is None:
            return None
        return status, float(touched or 0)

    def finish(self, task_id: str) -> bool:
        """Mark the task FINISH; True the first time (a second finish keeps the first's time
        and is not counted again)."""
        keys_ = [keys.task(task_id), keys.OPEN_TASKS, keys.METRICS_TASKS]
        args = [now_iso(), task_id, keys.task_changes(task_id)]
        return bool(self._finish(keys=keys_, args=args))

    def announce(self, task_id: str, what: str = CHANGED_EVENT) -> None:
        """Tell the task's watchers that ``what`` changed (the notifier, once the final event
        is written; the other writes of this repository announce themselves)."""
        self._redis.publish(keys.task_changes(task_id), what)

    def watch(self, task_id: str) -> TaskWatch:
        """A subscription to the task's changes, open once this returns: a change written
        after it is never missed (``TaskWatch.wait``)."""
        return TaskWatch(self._redis, task_id)

    # --- subtasks ----------------------------------------------------------------------------

    def subtask(self, task_id: str, index: int) -> MediaProcessTaskAnimatedGraphicResult:
        raw = self._redis.hget(keys.task(task_id), f"sub:{index}")
        if not raw:
            raise KeyError(f"{task_id} subtask {index}")
        return MediaProcessTaskAnimatedGraphicResult.model_validate_json(cast(str, raw))

    def update_subtask(
        self, task_id: str, index: int, *, unless_set: tuple[str, ...] = (), **changes: Any
    ) -> MediaProcessTaskAnimatedGraphicResult:
        """Change fields of one subtask's result (only its own chain writes it); the fields
        named in ``unless_set`` only where they are still empty. One read and one write (none
        when nothing changes): progress reports come through here."""
        current = self.subtask(task_id, index)
        if current.status != "PROCESSING":
            return current  # a finished subtask is final
        old = current.model_dump()
        changes = {k: v for k, v in changes.items() if k not in unless_set or not old.get(k)}
        if not changes:
            return current
        updated = MediaProcessTaskAnimatedGraphicResult.model_validate({**old, **changes})
        pipe = self._redis.pipeline(transaction=False)  # one round trip
        pipe.hset(
            keys.task(task_id),
            mapping={f"sub:{index}": updated.model_dump_json(), "touched": repr(time.time())},
        )
        pipe.publish(keys.task_changes(task_id), CHANGED_SUBTASK)
        pipe.execute()
        return updated

    # --- what the steps leave behind ---------------------------------------------------------

    def count_attempt(self, task_id: str, index: int, part: int | None, step: str) -> int:
        """Count one more delivery of a step; returns how many there have been."""
        key = keys.attempts(task_id, index, part, step)
        pipe = self._redis.pipeline()
        pipe.incr(key)
        pipe.expire(key, self.ttl_s)
        return int(pipe.execute()[0])

    def count_handback(self, task_id: str, index: int, part: int | None, step: str) -> None:
        """A worker told to stop gave a delivery of this step back unfinished: the delivery
        that follows is not a failure's (see ``handbacks``)."""
        key = keys.handed_back(task_id, index, part, step)
        pipe = self._redis.pipeline()
        pipe.incr(key)
        pipe.expire(key, self.ttl_s)
        pipe.execute()

    def handbacks(self, attempt: Attempt) -> int:
        """How many deliveries of ``attempt``'s step workers gave back when told to stop: not
        counted against ``ANIMGRAPH_MAX_ATTEMPTS`` (they are not a poison message's)."""
        key = keys.handed_back(attempt.task_id, attempt.index, attempt.part, attempt.step)
        return int(self._redis.get(key) or 0)

    # --- writes fenced by the attempt number (a late, superseded delivery writes nothing) ----

    def is_latest(self, attempt: Attempt) -> bool:
        """True while no later delivery of the step has started."""
        return self._redis.get(attempt.key) == str(attempt.number)

    def update_subtask_as(self, attempt: Attempt, **changes: Any) -> bool:
        """``update_subtask`` for ``attempt`` only while it is the step's latest (checked and
        written in one transaction); False if a later delivery superseded it."""
        key = keys.task(attempt.task_id)
        written = [False]

        def write(pipe: redis.client.Pipeline) -> None:
            written[0] = False
            if pipe.get(attempt.key) != str(attempt.number):
                return
            written[0] = True
            raw = pipe.hget(key, f"sub:{attempt.index}")
            if not raw:
                raise KeyError(f"{attempt.task_id} subtask {attempt.index}")
            current = MediaProcessTaskAnimatedGraphicResult.model_validate_json(cast(str, raw))
            if current.status != "PROCESSING":
                return  # a finished subtask is final (a redelivery after it finished)
            updated = current.model_validate({**current.model_dump(), **changes})
            pipe.multi()
            pipe.hset(key, f"sub:{attempt.index}", updated.model_dump_json())
            pipe.hset(key, "touched", repr(time.time()))
            pipe.publish(keys.task_changes(attempt.task_id), CHANGED_SUBTASK)

        self._redis.transaction(write, attempt.key)
        return written[0]

    def count_part_as(self, attempt: Attempt) -> int | None:
        """``count_part`` for ``attempt`` only while it is the step's latest; None if not."""
        script = self._redis.register_script(_COUNT_PART_AS)
        parts = keys.task_parts(attempt.task_id, attempt.index)
        done = int(script(keys=[attempt.key, parts], args=[attempt.number, self.ttl_s]))
        return None if done < 0 else done

    def is_dispatched(self, task_id: str) -> bool:
        """True once the procedure step has sent the task's canvas out."""
        return bool(self._redis.exists(keys.task_dispatched(task_id)))

    def mark_dispatched(self, task_id: str) -> None:
        self._redis.set(keys.task_dispatched(task_id), "1", ex=self.ttl_s)

    def count_part(self, task_id: str, index: int) -> int:
        """Count one more encoded slice of a split subtask; returns how many are done."""
        key = keys.task_parts(task_id, index)
        pipe = self._redis.pipeline()
        pipe.incr(key)
        pipe.expire(key, self.ttl_s)
        return int(pipe.execute()[0])

    def mark_finished(
        self, task_id: str, index: int, outcome: SubtaskOutcome | None = None
    ) -> int | None:
        """Record that subtask ``index`` reached SUCCESS or FAIL, and count its ``outcome``
        the first time; returns how many subtasks have finished now, or None if this one was
        recorded before (a redelivered step)."""
        keys_ = [keys.task_finished(task_id), keys.METRICS_SUBTASKS, keys.METRICS_OUTPUT_BYTES]
        args: list[str | int] = [index, self.ttl_s, "", "", 0]
        if outcome is not None:
            args[2:] = [outcome.field, outcome.format, outcome.output_bytes]
        added, count = cast(list[int], self._mark_finished(keys=keys_, args=args))
        return int(count) if added else None

    def claim_notify(self, task_id: str) -> bool:
        """True for the first caller only: a task finished without an event is finished once
        (one with an event takes ``final_event_claim`` in the publish's atomic step)."""
        return bool(self._redis.set(keys.task_notified(task_id), "0", nx=True, ex=self.ttl_s))

    def final_event_claim(self, task_id: str) -> Claim:
        """The once-only claim of a task's final event, for ``EventBus.publish_once``: taken in
        one step with the event's writes, it holds the push seq (0: none) and keeps the event
        in the task's ``event`` field."""
        return Claim(key=keys.task_notified(task_id), ttl_s=self.ttl_s, keep=keys.task(task_id))

    def first_fault(self, task_id: str, point: str) -> bool:
        """True the first time only: a fault injected at ``point`` of this task fires once,
        so that the redelivered step runs through (test hook)."""
        return bool(self._redis.set(keys.task_fault(task_id, point), "1", nx=True, ex=self.ttl_s))

    def event(self, task_id: str) -> EventContent | None:
        """The last event emitted for a task."""
        raw = self._redis.hget(keys.task(task_id), "event")
        return EventContent.model_validate_json(cast(str, raw)) if raw else None

    # --- the API's views -----------------------------------------------------------------------

    def procedure_task(self, task_id: str) -> ProcedureTask | None:
        """The ``ProcedureTask`` as it stands now (the event payload and the query view)."""
        fields = cast(dict[str, str], self._redis.hgetall(keys.task(task_id)))
        if "record" not in fields:
            return None
        record = TaskRecord.model_validate_json(fields["record"])
        req = record.request
        media = self._media.get(req.file_id)
        subs = [
            MediaProcessTaskAnimatedGraphicResult.model_validate_json(fields[f"sub:{i}"])
            for i in range(len(req.media_process_task.animated_graphic_task_set))
        ]
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

    def detail(self, task_id: str) -> TaskDetail | None:
        """The DescribeTaskDetail view of a task, or None if unknown."""
        fields = cast(
            list[str | None],
            self._redis.hmget(keys.task(task_id), ["record", "status", "begin", "finish"]),
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


def _record_fields(record: TaskRecord, status: str) -> dict[FieldT, EncodableT]:
    """The hash fields written with a task's record: it, its status, and when it was touched."""
    return {"record": record.model_dump_json(), "status": status, "touched": repr(time.time())}


class TaskWatch:
    """A task's change channel, subscribed (and the subscription confirmed by Redis) on
    creation, so that a write made after the caller's next read of the task is announced here.
    Pub/sub keeps nothing for a subscriber that is not listening, and a reconnection may drop a
    message: a caller re-reads the task when ``wait`` times out, whatever it answers."""

    def __init__(self, client: redis.Redis, task_id: str, *, confirm_s: float = 2.0) -> None:
        self._pubsub = client.pubsub()
        self.channel = keys.task_changes(task_id)
        self._pubsub.subscribe(self.channel)
        deadline = time.monotonic() + confirm_s
        while time.monotonic() < deadline:  # the confirmation: subscribed on the server now
            message = self._pubsub.get_message(timeout=max(0.0, deadline - time.monotonic()))
            if message and message.get("type") == "subscribe":
                break

    def wait(self, timeout_s: float) -> set[str]:
        """What changed (``CHANGED_*``) before ``timeout_s`` passed; empty on a time-out. Every
        message already waiting is taken, so that a burst of progress wakes the caller once."""
        changed: set[str] = set()
        message = self._pubsub.get_message(timeout=max(0.0, timeout_s))
        while message is not None:
            if message.get("type") == "message":
                data = message.get("data")
                changed.add(data.decode() if isinstance(data, bytes) else str(data))
            message = self._pubsub.get_message(timeout=0.0)
        return changed

    def close(self) -> None:
        self._pubsub.close()

    def __enter__(self) -> TaskWatch:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
