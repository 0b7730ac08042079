"""Preset animated graphics templates (contract §2); custom ones live in Redis (``state``)."""

from __future__ import annotations

from animgraph.shared.models import AnimatedGraphicsTemplate

__all__ = ["FIRST_CUSTOM_DEFINITION", "PRESETS"]

FIRST_CUSTOM_DEFINITION = 100001

PRESETS: dict[int, AnimatedGraphicsTemplate] = {
    t.definition: t
    for t in (
        AnimatedGraphicsTemplate(
            definition=20000, type="Preset", name="GIF source size 2 fps", format="gif", fps=2
        ),
        AnimatedGraphicsTemplate(
            definition=20001, type="Preset", name="WebP source size 2 fps", format="webp", fps=2
        ),
    )
}
