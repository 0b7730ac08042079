"""Push delivery: publish an event, and POST each one to its NotificationUrl in order, retrying
with back-off until the retry window has passed (the body of the ``deliver`` task)."""

from __future__ import annotations

import logging
import random
import time
from urllib.parse import urlparse

from celery import Task

from animgraph.shared.errors import ApiError
from animgraph.shared.events import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    PushRecord,
    check_callback_url,
    sign_callback,
)
from animgraph.shared.models import EventContent
from animgraph.shared.settings import Settings
from animgraph.shared.tasknames import DELIVER
from animgraph.workers.app import app
from animgraph.workers.runtime import Runtime, runtime

__all__ = ["deliver", "post_event", "publish", "schedule"]

log = logging.getLogger(__name__)


def publish(rt: Runtime, key: str, event: EventContent) -> None:
    """Record an event for pulling and, in PUSH mode, schedule its delivery."""
    seq = rt.state.events.publish(key, event)
    if seq is not None:
        schedule(key, seq)


def schedule(key: str, seq: int) -> None:
    """Send ``deliver(key, seq)``; sending it twice is harmless (it checks the seq done)."""
    # By its registered name, as the producer sends: this module is the task's body, below it.
    app.signature(DELIVER, args=(key, seq)).apply_async()


def deliver(task: Task, key: str, seq: int) -> str:
    """POST push ``seq`` of ``key`` to its NotificationUrl, after ``seq - 1``; retry with
    exponential back-off and jitter until ``ANIMGRAPH_PUSH_RETRY_WINDOW_S`` has passed."""
    rt = runtime()
    bus = rt.state.events
    record = bus.push_record(key, seq)
    done = bus.delivered_seq(key)
    if record is None or done >= seq:
        return "done"
    if done < seq - 1 and not bus.park_or_run(key, seq):
        return "parked"  # the deliverer of seq - 1 schedules this one
    settings = rt.settings
    problem = post_event(record, settings)
    if problem is None:
        outcome = "delivered"
    elif time.time() - record.created > settings.push.retry_window_s:
        log.error("push %s/%s to %s given up: %s", key, seq, record.url, problem)
        outcome = "given up"
    else:
        delay = min(
            settings.push.backoff_max_s, settings.push.backoff_base_s * 2**task.request.retries
        )
        log.warning(
            "push %s/%s to %s failed (%s); again in %.0f s", key, seq, record.url, problem, delay
        )
        rt.state.metrics.event("push", "retried")
        raise task.retry(countdown=delay * random.uniform(0.5, 1.0))
    if bus.mark_delivered(key, seq, outcome.replace(" ", "_")):
        schedule(key, seq + 1)
    return outcome


def post_event(record: PushRecord, settings: Settings) -> str | None:
    """POST the event; None when a 2xx answer took it, else what went wrong (to retry)."""
    # Imported on first use: ``import httpx`` also loads its command line (rich, pygments,
    # click: 4 MB), and every pool process would carry that whether it delivers events or not.
    import httpx

    try:
        # Checked again at delivery: the name may resolve elsewhere than when it was configured.
        check_callback_url(record.url, settings.push.allow_hosts, settings.push.allow_private)
    except ApiError as exc:
        return exc.message
    body = record.body.encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        EVENT_ID_HEADER: record.event_id,
        TIMESTAMP_HEADER: str(timestamp),
        "User-Agent": "animgraph-events/1",
    }
    if settings.push.sign_key:
        headers[SIGNATURE_HEADER] = sign_callback(settings.push.sign_key, timestamp, body)
    try:
        answer = httpx.post(
            record.url,
            content=body,
            headers=headers,
            timeout=settings.push.timeout_s,
            follow_redirects=False,
        )
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__} from {urlparse(record.url).netloc}"
    if 200 <= answer.status_code < 300:
        return None
    return f"HTTP {answer.status_code}"
