"""What the console needs beyond the ``Client``: sign-in sessions, the media list, task
summaries and the template form's field rules.

Sessions are random ids kept in Redis (hashed) with a TTL; the browser holds the id only in an
HttpOnly cookie and never sees an API SecretKey.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from animgraph.shared.formats import FORMATS
from animgraph.shared.models import (
    MAX_HIGHLIGHT_S,
    MAX_LOOP_COUNT,
    MAX_SEAM_WINDOW_S,
    MIN_HIGHLIGHT_S,
    TaskDetail,
)
from animgraph.shared.signing import parse_api_keys
from animgraph.shared.sizes import SIZE_PRESETS, format_size, parse_size

from ..client import Client

__all__ = [
    "TEMPLATE_FIELDS",
    "VIDEO_FORMATS",
    "ConsoleService",
    "size_label",
    "size_labels",
    "task_summary",
]

MAX_FAILED_SIGN_INS = 20  # per client address and window
FAIL_WINDOW_S = 300
MAX_MEDIA = 500

# The template form: each field's kind and rule as the API states it (the browser only shows
# them; the API's own validation refuses bad values, with its messages).
TEMPLATE_FIELDS: list[dict[str, Any]] = [
    {"Field": "Name", "Kind": "text", "MaxLength": 64, "Help": "up to 64 characters"},
    {"Field": "Comment", "Kind": "text", "MaxLength": 256, "Help": "up to 256 characters"},
    {
        "Field": "Format",
        "Kind": "choice",
        "Choices": list(FORMATS),
        "Default": "gif",
        "Help": "images: gif, webp, avif, apng; videos: mp4 (H.264), webm (VP9)",
    },
    {
        "Field": "Width",
        "Kind": "number",
        "Min": 0,
        "Max": 4096,
        "Default": 0,
        "Help": "0 (follow the source) or 128 to 4096 px; the long side when adaptive",
    },
    {
        "Field": "Height",
        "Kind": "number",
        "Min": 0,
        "Max": 4096,
        "Default": 0,
        "Help": "0 (follow the source) or 128 to 4096 px; the short side when adaptive",
    },
    {
        "Field": "ResolutionAdaptive",
        "Kind": "choice",
        "Choices": ["open", "close"],
        "Default": "open",
        "Help": "open: Width/Height bound the long/short side; close: literal",
    },
    {"Field": "Fps", "Kind": "number", "Min": 1, "Max": 60, "Help": "1 to 60, required"},
    {
        "Field": "Quality",
        "Kind": "number",
        "Min": 1,
        "Max": 100,
        "Default": 75,
        "Step": "any",
        "Help": "1 to 100",
    },
    # The loop extensions (contract §2.5): animgraph's own, with defaults of today's output.
    {
        "Field": "LoopMode",
        "Label": "Loop mode",
        "Kind": "choice",
        "Choices": ["Forward", "Reverse", "PingPong", "Seamless"],
        "Default": "Forward",
        "Help": "Forward: as filmed; Reverse: backwards; PingPong: forwards then back; "
        "Seamless: the ends moved to the least visible jump",
    },
    {
        "Field": "LoopCount",
        "Label": "Loop count",
        "Kind": "number",
        "Min": 0,
        "Max": MAX_LOOP_COUNT,
        "Default": 0,
        "Help": f"plays in total: 0 forever, up to {MAX_LOOP_COUNT}; only 0 for "
        + ", ".join(f.name for f in FORMATS.values() if not f.carries_loop_count),
    },
    {
        "Field": "SeamWindow",
        "Label": "Seam window (s)",
        "Kind": "number",
        "Min": 0,
        "Max": MAX_SEAM_WINDOW_S,
        "Default": 1,
        "Step": "any",
        "Help": f"Seamless: how far each end may move, over 0 up to {MAX_SEAM_WINDOW_S:g} s",
    },
    {
        "Field": "HighlightDuration",
        "Label": "Highlight (s)",
        "Kind": "number",
        "Min": 0,
        "Max": MAX_HIGHLIGHT_S,
        "Default": 0,
        "Step": "any",
        "Help": f"0 off, or {MIN_HIGHLIGHT_S:g} to {MAX_HIGHLIGHT_S:g} s: the best moment of "
        "that length in the segment",
    },
    # The byte budget (contract §2.6): the API takes a preset name or a size, keeps bytes.
    {
        "Field": "MaxSize",
        "Label": "Size budget",
        "Kind": "size",
        "Default": 0,
        "Presets": [
            {"Name": name, "Bytes": p.size, "Text": format_size(p.size), "Source": p.source}
            for name, p in SIZE_PRESETS.items()
        ],
        "Help": "empty for none; a preset (" + ", ".join(SIZE_PRESETS) + ") or a size: "
        "2MB, 500KB, 1.5MiB, 131072 (bytes)",
    },
]

VIDEO_FORMATS = [f.name for f in FORMATS.values() if f.video]
"""The formats the console plays in ``<video>`` (the others in ``<img>``)."""


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


def size_label(size: int) -> dict[str, Any]:
    """A budget for the page: ``Text`` to read ("10 MB (10000000 bytes)") and ``Input``, what the
    form's field shows (``10 MB`` when that reads back as the same bytes, else the bytes)."""
    short = format_size(size)
    if short.endswith(" bytes"):
        return {"Bytes": size, "Short": short, "Text": short, "Input": str(size)}
    exact = parse_size(short) == size  # "1.23 MB" is not 1234567 bytes again
    return {
        "Bytes": size,
        "Short": short,
        "Text": f"{short} ({size} bytes)",
        "Input": short if exact else str(size),
    }


def size_labels(templates: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``size_label`` of each template's MaxSize (absent: none), keyed by the bytes as text."""
    sizes = {t.get("MaxSize") for t in templates}
    return {str(n): size_label(n) for n in sizes if isinstance(n, int) and n > 0}


def task_summary(detail: TaskDetail) -> dict[str, Any]:
    """A row of the live task list: status, subtask counts and overall progress."""
    results = [r.animated_graphic_task for r in detail.procedure_task.media_process_result_set]
    done = [r for r in results if r.status != "PROCESSING"]
    if detail.status == "FINISH" or not results:
        progress = 100 if detail.status == "FINISH" else 0
    else:
        progress = round(
            sum(100 if r.status != "PROCESSING" else r.progress for r in results) / len(results)
        )
    return {
        "TaskId": detail.procedure_task.task_id,
        "Status": detail.status,
        "FileId": detail.procedure_task.file_id,
        "FileName": detail.procedure_task.file_name,
        "CreateTime": detail.create_time,
        "FinishTime": detail.finish_time,
        "Subtasks": len(results),
        "Succeeded": sum(r.status == "SUCCESS" for r in results),
        "Failed": sum(r.status == "FAIL" for r in results),
        "Done": len(done),
        "Progress": progress,
    }


class ConsoleService:
    """Sessions and listings for the console, on the API's ``Client``."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.settings = client.settings
        self.sign_ins = client.state.console
        self._keys = parse_api_keys(self.settings.api.keys)

    # --- sign-in -----------------------------------------------------------------------------

    @property
    def password_enabled(self) -> bool:
        return bool(self.settings.console.password)

    def check_credentials(self, password: str, secret_id: str, secret_key: str) -> bool:
        """The console password, or a SecretId/SecretKey pair of ``ANIMGRAPH_API_KEYS``."""
        if password:
            expected = self.settings.console.password
            return bool(expected) and hmac.compare_digest(_digest(password), _digest(expected))
        if secret_id and secret_key:
            known = self._keys.get(secret_id)
            return known is not None and hmac.compare_digest(_digest(secret_key), _digest(known))
        return False

    def too_many_failures(self, address: str) -> bool:
        return self.sign_ins.failures(address) >= MAX_FAILED_SIGN_INS

    def record_failure(self, address: str) -> None:
        self.sign_ins.record_failure(address, FAIL_WINDOW_S)

    def open_session(self, who: str) -> str:
        """A new session id (the cookie's value); Redis keeps only its hash."""
        token = secrets.token_urlsafe(32)
        self.sign_ins.open_session(token, who, self.settings.console.session_ttl_s)
        return token

    def session_user(self, token: str) -> str | None:
        if not token or len(token) > 128:
            return None
        return self.sign_ins.session_user(token)

    def close_session(self, token: str) -> None:
        if token and len(token) <= 128:
            self.sign_ins.close_session(token)

    # --- listings ----------------------------------------------------------------------------

    def list_media(self) -> list[dict[str, Any]]:
        """Every registered media file, newest first (up to ``MAX_MEDIA``)."""
        records = self.client.state.media.newest(MAX_MEDIA)
        records.sort(key=lambda r: (r.info.create_time, r.info.file_id), reverse=True)
        return [
            {
                "FileId": r.info.file_id,
                "Name": r.info.file_name,
                "CreateTime": r.info.create_time,
                "MediaUrl": r.info.file_url,
                "Size": r.info.meta_data.size,
                "Duration": r.info.meta_data.duration,
                "Width": r.info.meta_data.width,
                "Height": r.info.meta_data.height,
                "Rotate": r.info.meta_data.rotate,
                "AnimatedGraphics": self.client.state.media.output_count(r.info.file_id),
                "ProbeError": r.probe_error_code,
            }
            for r in records[:MAX_MEDIA]
        ]

    def all_templates(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = self.client.describe_animated_graphics_templates(
                {"Offset": offset, "Limit": 100}
            )
            found.extend(t.wire() for t in page.animated_graphics_template_set)
            offset += 100
            if offset >= page.total_count:
                return found

    def budgets(self, detail: TaskDetail) -> dict[str, dict[str, Any]]:
        """``size_label`` of the MaxSize of each template a task's fitted outputs used, keyed by
        Definition: the template as it is now (an output names its template, not its budget)."""
        results = [r.animated_graphic_task for r in detail.procedure_task.media_process_result_set]
        wanted = sorted(
            {r.input.definition for r in results if r.output and r.output.encodes is not None}
        )
        if not wanted:
            return {}
        page = self.client.describe_animated_graphics_templates(
            {"Definitions": wanted, "Limit": 100}
        )
        return {
            str(t.definition): size_label(t.max_size)
            for t in page.animated_graphics_template_set
            if t.max_size
        }

    def all_flows(self) -> list[dict[str, object]]:
        found: list[dict[str, object]] = []
        offset = 0
        while True:
            page = self.client.describe_procedure_templates({"Offset": offset, "Limit": 100})
            found.extend(f.wire() for f in page.procedure_template_set)
            offset += 100
            if offset >= page.total_count:
                return found

    def task_rows(self, limit: int = 50) -> list[dict[str, Any]]:
        """The newest tasks with their progress."""
        rows = []
        for info in self.client.describe_tasks({"Limit": limit}).task_set:
            detail = self.client.state.tasks.detail(info.task_id)
            if detail is not None:
                rows.append(task_summary(detail))
        return rows
