"""The progress callback the media steps report through: a fraction of the step done, 0..1."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Progress", "ignore_progress"]

Progress = Callable[[float], None]


def ignore_progress(fraction: float) -> None:
    """A progress callback that does nothing."""
