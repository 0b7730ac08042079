"""The loop options of ``run``'s ad-hoc template and of ``templates create/modify`` (contract
§2.5): ``--loop-mode``, ``--loop-count``, ``--seam-window`` and ``--highlight``."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

__all__ = [
    "HighlightOpt",
    "LoopCountOpt",
    "LoopModeChoice",
    "LoopModeOpt",
    "SeamWindowOpt",
    "loop_fields",
]


class LoopModeChoice(StrEnum):
    """``--loop-mode`` as typed (any case); ``wire`` is the template's ``LoopMode``."""

    forward = "forward"
    reverse = "reverse"
    pingpong = "pingpong"
    seamless = "seamless"

    @property
    def wire(self) -> str:
        return {"pingpong": "PingPong"}.get(self.value, self.value.title())


LoopModeOpt = Annotated[
    LoopModeChoice | None,
    typer.Option(
        case_sensitive=False,
        help="LoopMode: forward (as filmed), reverse, pingpong (forward then back) or seamless "
        "(the ends moved to the least visible jump)",
    ),
]
LoopCountOpt = Annotated[
    int | None, typer.Option(help="LoopCount: plays in total, 0 forever (default), up to 65535")
]
SeamWindowOpt = Annotated[
    float | None,
    typer.Option(help="SeamWindow: seconds seamless may move each end, over 0 up to 3 (1)"),
]
HighlightOpt = Annotated[
    float | None,
    typer.Option(
        help="HighlightDuration: pick the best moment of this many seconds (0.5..30) in the "
        "segment; 0 off (default)"
    ),
]


def loop_fields(
    loop_mode: LoopModeChoice | None,
    loop_count: int | None,
    seam_window: float | None,
    highlight: float | None,
) -> dict[str, object]:
    """The template fields of the loop options given, by wire name."""
    fields: dict[str, object] = {
        "LoopMode": loop_mode.wire if loop_mode else None,
        "LoopCount": loop_count,
        "SeamWindow": seam_window,
        "HighlightDuration": highlight,
    }
    return {name: value for name, value in fields.items() if value is not None}
