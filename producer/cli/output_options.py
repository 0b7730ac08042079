"""The output options of ``run``'s ad-hoc template and of ``templates create/modify``
(contract §2.6): ``--format`` and ``--max-size``."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from animgraph.shared.models import MediaAnimatedGraphicsItem
from animgraph.shared.sizes import SIZE_PRESETS, format_size

__all__ = ["FormatChoice", "FormatOpt", "MaxSizeOpt", "fitted_summary", "output_fields"]


class FormatChoice(StrEnum):
    """``--format`` as typed (any case); its value is the template's ``Format``."""

    gif = "gif"
    webp = "webp"
    avif = "avif"
    apng = "apng"
    mp4 = "mp4"
    webm = "webm"


FormatOpt = Annotated[
    FormatChoice | None,
    typer.Option(
        "--format",
        case_sensitive=False,
        help="Format: gif (default), webp, avif, apng, mp4 (H.264) or webm (VP9)",
    ),
]
MaxSizeOpt = Annotated[
    str | None,
    typer.Option(
        "--max-size",
        help="MaxSize: the most bytes the output may have, as bytes, a size (500KB, 2MB, "
        f"1.5MiB) or a preset: {', '.join(SIZE_PRESETS)}; 0 none (default)",
    ),
]


def output_fields(fmt: FormatChoice | None, max_size: str | None) -> dict[str, object]:
    """The template fields of the output options given, by wire name (``MaxSize`` as typed:
    the API parses it and names it when refused)."""
    fields: dict[str, object] = {"Format": fmt.value if fmt else None, "MaxSize": max_size}
    return {name: value for name, value in fields.items() if value is not None}


def fitted_summary(output: MediaAnimatedGraphicsItem, max_size: int) -> str:
    """What an output fitted to ``max_size`` used, for people: ``fitted to 2 MB: Quality 41,
    7 fps, 320x180, 32 colours, 2 encodes``; empty for an output without a budget."""
    if output.encodes is None:
        return ""
    parts = [f"Quality {output.quality:g}", f"{output.fps} fps", f"{output.width}x{output.height}"]
    if output.colors is not None:
        parts.append(f"{output.colors} colours")
    parts.append(f"{output.encodes} encode{'s' if output.encodes != 1 else ''}")
    return f"fitted to {format_size(max_size)}: " + ", ".join(parts)
