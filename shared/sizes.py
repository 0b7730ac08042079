"""Byte budgets: ``MaxSize`` as a number of bytes, a size with a unit, or the name of a place
that limits what it accepts (contract §2.6, where each number's source is cited).

``parse_size("2MB")`` is 2,000,000: ``KB``/``MB``/``GB`` are powers of 1000 and ``KiB``/
``MiB``/``GiB`` of 1024, as the places below write their limits. Where a place writes "MB"
without saying which, the smaller reading (1000) is taken, so an output that fits one reading
fits both.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

__all__ = [
    "MAX_SIZE_LIMIT",
    "MIN_SIZE",
    "SIZE_PRESETS",
    "SizePreset",
    "check_size",
    "format_size",
    "parse_size",
]

MIN_SIZE = 1000
"""The smallest budget accepted (bytes): below it not even a few frames of 128 px fit."""
MAX_SIZE_LIMIT = 1 << 32
"""The largest budget accepted (4 GiB)."""


@dataclass(frozen=True, slots=True)
class SizePreset:
    """A named budget: its bytes and where the limit is published."""

    size: int
    source: str


SIZE_PRESETS: dict[str, SizePreset] = {
    "github": SizePreset(10_000_000, "GitHub: an image or GIF attached to an issue or PR: 10 MB"),
    "x": SizePreset(15_000_000, "X API media upload: animated GIF up to 15 MB"),
    "discord": SizePreset(10 * 1024 * 1024, "Discord: uploads up to 10 MiB without Nitro"),
    "slack-emoji": SizePreset(128_000, "Slack: a custom emoji image under 128 KB"),
    "giphy-2mb": SizePreset(2_000_000, "GIPHY API: 'downsized' renditions under 2 MB"),
    "giphy-5mb": SizePreset(5_000_000, "GIPHY API: 'downsized_medium' renditions under 5 MB"),
    "giphy-8mb": SizePreset(8_000_000, "GIPHY API: 'downsized_large' renditions under 8 MB"),
}

_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*$", re.IGNORECASE)


def parse_size(value: str | int | float) -> int:
    """Bytes of a budget: an int, a preset name (``discord``) or a number with an optional unit
    (``2MB``, ``500 KB``, ``1.5MiB``: fractions of a byte are dropped). 0 is no budget.

    Raises ValueError naming what is accepted; the range is checked by ``check_size``.
    """
    if isinstance(value, bool):
        raise ValueError("must be a number of bytes, a size such as 2MB, or a preset name")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            raise ValueError("must be a whole number of bytes")
        return int(value)
    text = value.strip()
    preset = SIZE_PRESETS.get(text.lower())
    if preset is not None:
        return preset.size
    match = _SIZE.match(text)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _UNITS:
        names = ", ".join(SIZE_PRESETS)
        raise ValueError(
            f"{value!r} is not a size: give bytes, a number with KB, MB, GB, KiB, MiB or GiB, "
            f"or one of {names}"
        )
    return int(float(match.group(1)) * _UNITS[unit])


def check_size(size: int) -> int:
    """``size`` if it is 0 (no budget) or within MIN_SIZE..MAX_SIZE_LIMIT; else ValueError."""
    if size != 0 and not MIN_SIZE <= size <= MAX_SIZE_LIMIT:
        raise ValueError(
            f"must be 0 (no budget) or from {MIN_SIZE} bytes to {MAX_SIZE_LIMIT} bytes"
        )
    return size


def format_size(size: int) -> str:
    """A budget for people: ``2 MB``, ``128 KB``, ``10 MiB``, ``1234 bytes``."""
    for unit in ("GB", "GiB", "MB", "MiB", "KB", "KiB"):
        scale = _UNITS[unit.lower()]
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    for unit in ("GB", "MB", "KB"):
        scale = _UNITS[unit.lower()]
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} bytes"
