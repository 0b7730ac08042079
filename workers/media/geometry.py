"""Output size of an animated image from the displayed source size and a template (contract §2)."""

from __future__ import annotations

import math

from animgraph.shared.formats import format_of
from animgraph.shared.models import AnimatedGraphicsTemplate

__all__ = ["even_size", "output_size", "template_size"]


def output_size(
    src_w: int, src_h: int, *, width: int, height: int, adaptive: bool
) -> tuple[int, int]:
    """Return the (width, height) in px that contract §2 gives a source displayed at src_w x src_h.

    ``width``/``height`` are maximums, 0 follows the source. With ``adaptive`` (ResolutionAdaptive
    ``open``) ``width`` bounds the long side and ``height`` the short side; otherwise they bound
    width and height literally. The aspect ratio is kept, the source is never upscaled.
    """
    if src_w < 1 or src_h < 1:
        raise ValueError(f"source size must be positive, got {src_w}x{src_h}")
    max_w, max_h = _box(src_w, src_h, width=width, height=height, adaptive=adaptive)
    # One scale factor for both sides keeps the aspect ratio; starting at 1.0 forbids upscaling.
    scale = 1.0
    if max_w > 0:
        scale = min(scale, max_w / src_w)
    if max_h > 0:
        scale = min(scale, max_h / src_h)
    return _round_px(src_w * scale), _round_px(src_h * scale)


def _box(src_w: int, src_h: int, *, width: int, height: int, adaptive: bool) -> tuple[int, int]:
    """The literal (max width, max height) box, swapping the template sides for portrait sources."""
    if adaptive and src_h > src_w:
        return height, width
    return width, height


def _round_px(value: float) -> int:
    """Round half up (not to even) and keep at least one pixel."""
    return max(1, math.floor(value + 0.5))


def even_size(width: int, height: int) -> tuple[int, int]:
    """``width`` x ``height`` rounded down to even numbers (at least 2): what 4:2:0 video
    (MP4, WebM) needs. The aspect ratio moves by less than one pixel."""
    return max(2, width - width % 2), max(2, height - height % 2)


def template_size(src_w: int, src_h: int, template: AnimatedGraphicsTemplate) -> tuple[int, int]:
    """The output size a template gives a source displayed at ``src_w`` x ``src_h``: its
    Width/Height/ResolutionAdaptive (``output_size``), even for video formats."""
    width, height = output_size(
        src_w,
        src_h,
        width=template.width,
        height=template.height,
        adaptive=template.resolution_adaptive == "open",
    )
    if format_of(template.format).even_size:
        width, height = even_size(width, height)
    return width, height
