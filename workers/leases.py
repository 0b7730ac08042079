"""This worker's leases: a heartbeat thread in its main process, a lease on every message it
takes, and giving its work up (its steps stopped, the worker restarted) once the lease is lost."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import redis

from animgraph.shared.state.leases import LeaseRepo
from animgraph.shared.tasknames import QUEUES
from animgraph.workers.media import threads
from animgraph.workers.runtime import runtime

__all__ = [
    "EXIT_LEASE_LOST",
    "Holder",
    "describe",
    "hold",
    "holder",
    "kill_pool",
    "needed",
    "start",
    "stop",
]

log = logging.getLogger(__name__)

# The exit code of a worker that gave its work up: not 0, so its supervisor starts it again.
EXIT_LEASE_LOST = 75


class Holder:
    """The lease holder of one worker main process: ``<nodename>/<random>`` (a restarted worker
    of the same name is a new holder: its predecessor's messages are not taken as its own)."""

    def __init__(self, nodename: str, repo: LeaseRepo, lease_s: float, info: str = "{}") -> None:
        self.name = f"{nodename}/{uuid.uuid4().hex[:8]}"
        self.lease_s = lease_s
        self.period_s = lease_s / 3
        self.info = info  # what the heartbeat says the worker is (JSON, for monitoring)
        self._repo = repo
        self._tags: set[str] = set()
        self._lock = threading.Lock()
        self._beating = threading.Lock()  # one heartbeat at a time, none after ``stop``
        self._stopped = False
        self._started = False
        self._first = True  # the next heartbeat starts the key (SET, not SET XX)
        self._last_ok = time.monotonic()

    def start(self) -> None:
        """Write the first heartbeat (before any lease names this holder) and keep it alive."""
        with self._lock:
            if self._started:
                return
            self._started = True
        try:
            self._beat()
        except redis.RedisError as exc:
            log.warning("first heartbeat of %s not written: %s", self.name, exc)
        threading.Thread(target=self._beat_forever, name="animgraph-heartbeat", daemon=True).start()

    def hold(self, tag: str) -> None:
        """Lease the message ``tag`` this worker has just taken."""
        self.start()
        with self._lock:
            self._tags.add(tag)
        # If this write fails, the next heartbeat writes the lease (the tag is held above).
        self._repo.hold(tag, self.name)

    def held(self) -> set[str]:
        with self._lock:
            return set(self._tags)

    def let_go(self) -> list[str]:
        """Hold nothing from now on: the tags held (acknowledged or not), their leases dropped
        (before the messages are given back: a message given back may be leased again at
        once, by its next worker)."""
        with self._lock:
            tags, self._tags = sorted(self._tags), set()
        self._repo.release([(tag, self.name) for tag in tags])
        return tags

    def _beat(self) -> bool:
        """One heartbeat; False if the lease had lapsed (another worker may have its steps)."""
        with self._beating:
            if self._stopped:
                return True
            sent_at = time.monotonic()
            tags = sorted(self.held())
            kept = self._repo.beat(
                self.name, tags, lease_s=self.lease_s, first=self._first, info=self.info
            )
            if kept is None:
                return False
            self._first = False
            self._last_ok = sent_at  # the key lives a lease from a moment after this
            with self._lock:
                self._tags -= set(tags) - set(kept)
            return True

    def stop(self) -> None:
        """The worker has shut down (every message acknowledged or given back): no heartbeat
        after this one's removal, so monitoring sees it gone at once."""
        with self._beating:
            self._stopped = True
            if self._started:
                try:
                    self._repo.end(self.name)
                except redis.RedisError as exc:
                    log.warning("heartbeat of %s not removed: %s", self.name, exc)

    def _beat_forever(self) -> None:
        while not self._stopped:
            time.sleep(self.period_s)
            if self._stopped:
                return
            # First of all after a freeze (SIGSTOP, a paused VM): lapsed by our own clock.
            lost = time.monotonic() - self._last_ok > self.lease_s
            if not lost:
                try:
                    lost = not self._beat()
                except redis.RedisError as exc:
                    log.warning("heartbeat of %s not written: %s", self.name, exc)
                    lost = time.monotonic() - self._last_ok > self.lease_s
            if lost and self.held():
                self._give_up()
            elif lost:
                self._first = True  # nothing was held: start afresh when Redis answers
                self._last_ok = time.monotonic()
                with contextlib.suppress(redis.RedisError):
                    self._beat()

    def _give_up(self) -> None:
        """Stop every step of this worker and exit, acknowledging nothing: other workers run
        them again (their late results would be fenced out), the supervisor restarts us."""
        log.error(
            "worker %s lost its lease (no heartbeat for %.0f s, lease %.0f s): stopping its %d "
            "messages' steps and exiting, so that they run elsewhere",
            self.name,
            time.monotonic() - self._last_ok,
            self.lease_s,
            len(self.held()),
        )
        kill_pool()
        os._exit(EXIT_LEASE_LOST)


def kill_pool() -> None:
    """SIGKILL this process's pool processes: their steps stop where they are, acknowledging
    nothing (every step may run again: its outputs are fenced and deterministic)."""
    for pid in _children():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _children() -> list[int]:
    """This process's children (its pool processes), from /proc."""
    pids: list[int] = []
    for task in Path("/proc/self/task").glob("*"):
        try:
            pids += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return pids


_holder: Holder | None = None
_holder_lock = threading.Lock()


def holder(nodename: str, info: str = "{}") -> Holder:
    """This process's holder (made on first use, by the worker's node name; ``info``: what
    its heartbeat says the worker is)."""
    global _holder
    with _holder_lock:
        if _holder is None:
            rt = runtime()
            lease_s = rt.settings.worker.lease_s
            repo = LeaseRepo.from_url(
                rt.settings.redis_url or "",
                timeout_s=lease_s / 3,
                sentinel_master=rt.settings.redis_sentinel_master,
            )
            _holder = Holder(nodename, repo, lease_s, info)
        return _holder


def describe(consumer: Any) -> str:
    """What a worker's heartbeat says it is (``animgraph status``, ``/metrics``): its host,
    main process, pool processes, queues and threads per job, from its consumer
    (``worker_ready``'s sender)."""
    info: dict[str, Any] = {"host": socket.gethostname(), "pid": os.getpid()}
    try:
        controller = consumer.controller
        info["processes"] = int(getattr(controller, "concurrency", 0) or 0)
        info["queues"] = sorted(consumer.app.amqp.queues.consume_from or QUEUES)
        info["threads_per_job"] = threads.current().threads
    except Exception:  # monitoring must not keep the heartbeat from starting
        log.warning("could not describe worker %s", consumer.hostname, exc_info=True)
    info["started"] = round(time.time(), 3)
    return json.dumps(info)


def needed() -> bool:
    """Leases stand in for what kombu's Redis transport lacks: a broker that notices a lost
    consumer. RabbitMQ does (the connection closes, or misses its heartbeats), and gives the
    consumer's unacknowledged messages back at once; its later deliveries fence the old one's
    writes as any redelivery does."""
    return not runtime().settings.broker_is_amqp


def start(nodename: str, info: str = "{}") -> Holder:
    """Start this worker's heartbeat (at ``worker_ready``)."""
    found = holder(nodename, info)
    found.start()
    return found


def stop() -> None:
    """Remove this worker's heartbeat (at ``worker_shutdown``)."""
    if _holder is not None:
        _holder.stop()


def hold(nodename: str, tag: str | None) -> None:
    """The main process took a message (``task_received``): lease it."""
    if tag:
        holder(nodename).hold(tag)
