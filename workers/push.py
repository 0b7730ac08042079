"""POST one event to its NotificationUrl (the I/O of the ``deliver`` task, without Celery)."""

from __future__ import annotations

import time
from urllib.parse import urlparse

from animgraph.shared.errors import ApiError
from animgraph.shared.events import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    PushRecord,
    check_callback_url,
    sign_callback,
)
from animgraph.shared.settings import Settings

__all__ = ["post_event"]


def post_event(record: PushRecord, settings: Settings) -> str | None:
    """POST the event; None when a 2xx answer took it, else what went wrong (to retry)."""
    # Imported on first use: ``import httpx`` also loads its command line (rich, pygments,
    # click: 4 MB), and every pool process would carry that whether it delivers events or not.
    import httpx

    try:
        # Checked again at delivery: the name may resolve elsewhere than when it was configured.
        check_callback_url(
            record.url, settings.allowed_callback_hosts, settings.callback_allow_private
        )
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
    if settings.callback_sign_key:
        headers[SIGNATURE_HEADER] = sign_callback(settings.callback_sign_key, timestamp, body)
    try:
        answer = httpx.post(
            record.url,
            content=body,
            headers=headers,
            timeout=settings.push_timeout_s,
            follow_redirects=False,
        )
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__} from {urlparse(record.url).netloc}"
    if 200 <= answer.status_code < 300:
        return None
    return f"HTTP {answer.status_code}"
