"""Every Redis key name animgraph uses, built here and nowhere else; this docstring is the key map.

All our keys start with ``animgraph:``. TTL "task" is ``ANIMGRAPH_TASK_TTL_S`` (7 days by
default), "events" is ``ANIMGRAPH_EVENT_RETENTION_S`` (4 days); "none" keys live until deleted.

=========================================  ======  ===========  =================================
key (below ``animgraph:``)                 type    TTL          written by
=========================================  ======  ===========  =================================
``media:<FileId>``                         string  none         register (JSON ``MediaRecord``)
``media``                                  zset    none         register/delete: FileIds by first
                                                                registration time (the listing)
``media:<FileId>:graphics``                hash    none         encode: Url -> {seq, item}, the
                                                                ``AnimatedGraphicsSet``
``media:<FileId>:gseq``                    string  none         encode: the counter of ``seq``
``media:<FileId>:outputs``                 set     none         encode: storage prefixes to
                                                                delete with the media
``migrated``                               set     none         the one-time migrations done
                                                                (``media-index``)
``template:<Definition>``                  string  none         CreateAnimatedGraphicsTemplate
``templates``                              zset    none         the custom Definitions
``template:next``                          string  none         the counter of Definitions given
``procedure:<Name>``                       string  none         CreateProcedureTemplate (JSON)
``procedures``                             zset    none         task flow names by creation time
``task:<TaskId>``                          hash    task         ProcessMedia, then every step:
                                                                ``record`` (JSON ``TaskRecord``),
                                                                ``status``, ``touched``,
                                                                ``sub:<i>``, ``begin``,
                                                                ``begin_ts``, ``finish``,
                                                                ``event``
``task:<TaskId>:finished``                 set     task         the steps: subtasks finished
``task:<TaskId>:notified``                 string  task         the notifier, once, with the
                                                                final event's writes (one Lua
                                                                step): its push seq, 0 if none
``task:<TaskId>:fault:<point>``            string  task         test hook: an injected fault
                                                                fired (once per task)
``task:<TaskId>:dispatched``               string  task         the procedure task: the canvas
                                                                is out (a redelivery stops)
``task:<TaskId>:parts:<i>``                string  task         encode: slices of subtask i done
``tasks``                                  zset    none         ProcessMedia: TaskIds by creation
                                                                time (pruned past the task TTL)
``tasks:open``                             zset    none         the same, unfinished tasks only
``tasks:file:<FileId>``                    zset    task         the same, tasks of one media file
``attempts:<TaskId>:<i>:<part>:<step>``    string  task         every step: deliveries counted
                                                                (``part`` is ``None`` unsplit)
``attempts:<TaskId>:<i>:<part>:<step>:handback``
                                           string  task         a worker told to stop: its
                                                                deliveries of the step it gave
                                                                back unfinished (not failures)
``reconciler``                             string  0.9 period   the reconciler lock (holder pid)
``replicated``                             string  60 s         a write to wait for replicas on
                                                                (``WAIT`` after it)
``worker:<holder>``                        string  lease        a worker's heartbeat (holder:
                                                                ``<nodename>/<random>``)
``leases``                                 hash    none         a worker on receiving a message:
                                                                delivery tag -> holder (pruned
                                                                once the tag is acknowledged)
``leases:sweep``                           string  0.9 period   the lease sweep's lock (holder)
``workers``                                zset    none         a worker's heartbeat: holders by
                                                                last beat (pruned past 3 leases)
``metrics:tasks``                          hash    none         ProcessMedia, the procedure, the
                                                                notifier: tasks by status reached
``metrics:subtasks``                       hash    none         a subtask's end, once:
                                                                ``<format>|<status>|<ErrCodeExt>``
``metrics:output_bytes``                   hash    none         a subtask's SUCCESS: bytes stored
                                                                by format
``metrics:steps``                          hash    none         every media step: its duration
                                                                bucket ``<step>|<format>|<le>``
                                                                counted, ``...|sum`` seconds
``metrics:events``                         hash    none         event delivery, pulls, confirms:
                                                                ``<mode>|<outcome>`` counted
``session:<SessionId>``                    string  7 days       ProcessMedia: SessionId dedup
``upload:<VodSessionKey>``                 string  upload       ApplyUpload, PUT, CommitUpload
``once:<name>``                            string  grant        one-time upload grants claimed
``nonce:<SecretId>:<Nonce>``               string  window       API calls with the older signature:
                                                                the Nonce claimed (``SET NX``)
``console:session:<sha256(token)>``        string  console      console sign-in (holds the user)
``console:fail:<address>``                 string  300 s        console failed sign-ins counted
``events``                                 stream  trimmed      every event (consumer group
                                                                ``pull``); entries older than
                                                                the event retention dropped
``eventconfig``                            string  none         ModifyEventConfig (JSON)
``push:<key>:seq``                         string  events       publish: push counter per key
                                                                (TaskId or FileId)
``push:<key>:<seq>``                       string  events       publish: one push record (JSON)
``push:<key>:done``                        string  events       deliver: last seq done
``push:<key>:<seq>:parked``                string  events       deliver: seq waits for seq - 1
=========================================  ======  ===========  =================================

One pub/sub channel, not a key (nothing is stored): ``task:<TaskId>:changes``, on which every
write to ``task:<TaskId>`` is announced (the part that changed: ``plans``, ``subtask``,
``finish``, ``event``), for ``Client.wait`` to follow a task without polling.

"lease" is ``ANIMGRAPH_WORKER_LEASE_S``, "upload" ``ANIMGRAPH_UPLOAD_TTL_S``, "grant" the
grant's own expiry, "console" ``ANIMGRAPH_CONSOLE_SESSION_TTL_S``, "window" until the
signature's timestamp leaves the 5-minute clock window (at most 10 minutes). ``media`` was
added after the other families: a Redis written before it gets it from one ``SCAN`` of
``media:*`` on the first listing (recorded in ``migrated``).

Celery and kombu keep keys of their own in the same Redis, without our prefix; they are listed
in ``CELERY_KEY_PATTERNS``, ours in ``KEY_PATTERNS`` (glob patterns, as Redis ``SCAN MATCH``).
"""

from __future__ import annotations

import bisect
import hashlib

from animgraph.shared.tasknames import QUEUES

__all__ = [
    "CELERY_KEY_PATTERNS",
    "EVENTS",
    "EVENT_CONFIG",
    "KEY_PATTERNS",
    "KOMBU_PRIORITY_STEPS",
    "KOMBU_SEP",
    "KOMBU_UNACKED",
    "KOMBU_UNACKED_INDEX",
    "LEASES",
    "LEASE_SWEEP",
    "MEDIA_INDEX",
    "METRICS_EVENTS",
    "METRICS_OUTPUT_BYTES",
    "METRICS_STEPS",
    "METRICS_SUBTASKS",
    "METRICS_TASKS",
    "MIGRATED",
    "OPEN_TASKS",
    "PREFIX",
    "PROCEDURES",
    "RECONCILER",
    "REPLICATED",
    "TASKS",
    "TEMPLATES",
    "TEMPLATE_NEXT",
    "WORKERS",
    "attempts",
    "console_failures",
    "console_session",
    "file_tasks",
    "handed_back",
    "kombu_queue",
    "media",
    "media_graphics",
    "media_gseq",
    "media_outputs",
    "nonce",
    "once",
    "procedure",
    "push_done",
    "push_parked",
    "push_record",
    "push_seq",
    "session",
    "task",
    "task_changes",
    "task_dispatched",
    "task_fault",
    "task_finished",
    "task_notified",
    "task_parts",
    "template",
    "upload",
    "worker",
]

PREFIX = "animgraph:"

# --- media -----------------------------------------------------------------------------------

MEDIA_INDEX = f"{PREFIX}media"
MIGRATED = f"{PREFIX}migrated"


def media(file_id: str) -> str:
    return f"{PREFIX}media:{file_id}"


def media_graphics(file_id: str) -> str:
    return f"{PREFIX}media:{file_id}:graphics"


def media_gseq(file_id: str) -> str:
    return f"{PREFIX}media:{file_id}:gseq"


def media_outputs(file_id: str) -> str:
    return f"{PREFIX}media:{file_id}:outputs"


# --- templates and task flows ------------------------------------------------------------------

TEMPLATES = f"{PREFIX}templates"
TEMPLATE_NEXT = f"{PREFIX}template:next"
PROCEDURES = f"{PREFIX}procedures"


def template(definition: int | str) -> str:
    return f"{PREFIX}template:{definition}"


def procedure(name: str) -> str:
    return f"{PREFIX}procedure:{name}"


# --- tasks -------------------------------------------------------------------------------------

TASKS = f"{PREFIX}tasks"
OPEN_TASKS = f"{PREFIX}tasks:open"
RECONCILER = f"{PREFIX}reconciler"
REPLICATED = f"{PREFIX}replicated"


def task(task_id: str) -> str:
    return f"{PREFIX}task:{task_id}"


def task_finished(task_id: str) -> str:
    return f"{PREFIX}task:{task_id}:finished"


def task_notified(task_id: str) -> str:
    return f"{PREFIX}task:{task_id}:notified"


def task_fault(task_id: str, point: str) -> str:
    return f"{PREFIX}task:{task_id}:fault:{point}"


def task_dispatched(task_id: str) -> str:
    return f"{PREFIX}task:{task_id}:dispatched"


def task_parts(task_id: str, index: int) -> str:
    return f"{PREFIX}task:{task_id}:parts:{index}"


def task_changes(task_id: str) -> str:
    """The pub/sub channel (not a key) on which every write to ``task:<TaskId>`` is announced."""
    return f"{PREFIX}task:{task_id}:changes"


def file_tasks(file_id: str) -> str:
    return f"{PREFIX}tasks:file:{file_id}"


def attempts(task_id: str, index: int, part: int | None, step: str) -> str:
    # ``part`` None is written "None": the name the keys have always had.
    return f"{PREFIX}attempts:{task_id}:{index}:{part}:{step}"


def handed_back(task_id: str, index: int, part: int | None, step: str) -> str:
    return f"{attempts(task_id, index, part, step)}:handback"


# --- worker leases -------------------------------------------------------------------------------

LEASES = f"{PREFIX}leases"
LEASE_SWEEP = f"{PREFIX}leases:sweep"
WORKERS = f"{PREFIX}workers"
# kombu's ack emulation (its Redis transport's default names, no ``global_keyprefix``): the
# messages taken and not yet acknowledged, and the time each was taken (or its lease renewed).
KOMBU_UNACKED = "unacked"
KOMBU_UNACKED_INDEX = "unacked_index"
# kombu's Redis transport keeps one list per priority step of a queue: the queue's own name for
# step 0, ``<queue><sep><step>`` for the others (``Channel._q_for_pri``). celeryconf sets both.
KOMBU_SEP = ":"
KOMBU_PRIORITY_STEPS: tuple[int, ...] = tuple(range(10))


def worker(holder: str) -> str:
    return f"{PREFIX}worker:{holder}"


def kombu_queue(queue: str, priority: int) -> str:
    """The list kombu keeps a queue's messages of ``priority`` in (its ``_q_for_pri``)."""
    step = KOMBU_PRIORITY_STEPS[bisect.bisect(KOMBU_PRIORITY_STEPS, priority) - 1]
    return f"{queue}{KOMBU_SEP}{step}" if step else queue


# --- metrics (counters the workers and the API add to; the API's /metrics reads them) ------------

METRICS_TASKS = f"{PREFIX}metrics:tasks"
METRICS_SUBTASKS = f"{PREFIX}metrics:subtasks"
METRICS_OUTPUT_BYTES = f"{PREFIX}metrics:output_bytes"
METRICS_STEPS = f"{PREFIX}metrics:steps"
METRICS_EVENTS = f"{PREFIX}metrics:events"


# --- sessions and uploads ----------------------------------------------------------------------


def session(session_id: str) -> str:
    return f"{PREFIX}session:{session_id}"


def upload(session_key: str) -> str:
    return f"{PREFIX}upload:{session_key}"


def once(name: str) -> str:
    return f"{PREFIX}once:{name}"


def nonce(secret_id: str, value: str) -> str:
    return f"{PREFIX}nonce:{secret_id}:{value}"


def console_session(token: str) -> str:
    """Only the token's hash is a key name: reading Redis does not give a usable cookie."""
    return f"{PREFIX}console:session:{hashlib.sha256(token.encode()).hexdigest()}"


def console_failures(address: str) -> str:
    return f"{PREFIX}console:fail:{address}"


# --- events ------------------------------------------------------------------------------------

EVENTS = f"{PREFIX}events"
EVENT_CONFIG = f"{PREFIX}eventconfig"


def push_seq(key: str) -> str:
    return f"{PREFIX}push:{key}:seq"


def push_record(key: str, seq: int) -> str:
    return f"{PREFIX}push:{key}:{seq}"


def push_done(key: str) -> str:
    return f"{PREFIX}push:{key}:done"


def push_parked(key: str, seq: int) -> str:
    return f"{PREFIX}push:{key}:{seq}:parked"


# --- the map as patterns -------------------------------------------------------------------------

# One glob per family of the table above, in its order.
KEY_PATTERNS: tuple[str, ...] = tuple(
    PREFIX + p
    for p in (
        "media:*",  # media:<FileId> and its :graphics, :gseq, :outputs
        "media",
        "migrated",
        "template:*",  # template:<Definition> and template:next
        "templates",
        "procedure:*",
        "procedures",
        "task:*",  # task:<TaskId> and its :finished, :notified, :fault:<p>, :dispatched, :parts:<i>
        "tasks",
        "tasks:open",
        "tasks:file:*",
        "attempts:*:*:*:*",  # and its :handback
        "reconciler",
        "replicated",
        "worker:*",
        "leases",
        "leases:sweep",
        "workers",
        "metrics:*",  # metrics:tasks, :subtasks, :output_bytes, :steps, :events
        "session:*",
        "upload:*",
        "once:*",
        "nonce:*:*",
        "console:session:*",
        "console:fail:*",
        "events",
        "eventconfig",
        "push:*",  # push:<key>:seq, :<seq>, :done, :<seq>:parked
    )
)

# Celery's and kombu's own keys (broker ``sep`` is ":", priorities 0-9): the queue lists (a
# priority n > 0 has its own list ``<queue>:<n>``), the exchange bindings, the unacked
# bookkeeping of the visibility timeout, and the result backend's task and chord entries.
CELERY_KEY_PATTERNS: tuple[str, ...] = (
    *QUEUES,
    *(kombu_queue(q, p) for q in QUEUES for p in KOMBU_PRIORITY_STEPS if p),
    "_kombu.binding*",  # .<exchange>, and kombu 5.7's _permanent.<queue>, _deadlines
    KOMBU_UNACKED,
    KOMBU_UNACKED_INDEX,
    "unacked_mutex",
    "celery-task-meta-*",
    "celery-taskset-meta-*",
    "*.reply.celery.pidbox",
)
