"""Timestamps as the API writes them: ISO 8601, UTC, whole seconds, ``Z`` suffix."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["now_iso"]


def now_iso() -> str:
    """The current time, e.g. ``2026-11-24T22:55:11Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
