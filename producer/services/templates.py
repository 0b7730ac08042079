"""Animated graphics templates: the presets plus custom ones, created, changed and listed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from animgraph.shared.clock import now_iso
from animgraph.shared.errors import ApiError
from animgraph.shared.formats import format_of
from animgraph.shared.models import (
    AnimatedGraphicsTemplate,
    CreateAnimatedGraphicsTemplateRequest,
    DescribeAnimatedGraphicsTemplatesRequest,
    DescribeAnimatedGraphicsTemplatesResponse,
    ModifyAnimatedGraphicsTemplateRequest,
)
from animgraph.shared.settings import Settings
from animgraph.shared.state import State
from animgraph.shared.templates import PRESETS

from .listing import filter_and_page
from .validation import parse

__all__ = ["TemplateService"]


def _check_format(template: AnimatedGraphicsTemplate) -> None:
    """What the template's ``Format`` cannot do: a webp without a size (the cloud API's rule),
    a loop count in a file that cannot store one (contract §2.6)."""
    if template.format == "webp" and template.width == 0 and template.height == 0:
        raise ApiError(
            "a webp template needs Width or Height (both are 0)",
            "InvalidParameterValue.FormatWebpWidthAndHeightBothZero",
        )
    if template.loop_count and not format_of(template.format).carries_loop_count:
        raise ApiError(
            f"LoopCount {template.loop_count}: {template.format} cannot store a loop count "
            "(looping is the player's: <video loop>); use 0, or gif, webp, apng or avif",
            "InvalidParameterValue.LoopCount",
        )


class TemplateService:
    """Create, Modify, Delete and DescribeAnimatedGraphicsTemplates."""

    def __init__(self, settings: Settings, state: State) -> None:
        self.settings = settings
        self.state = state

    def create(
        self, request: CreateAnimatedGraphicsTemplateRequest | Mapping[str, Any]
    ) -> AnimatedGraphicsTemplate:
        """CreateAnimatedGraphicsTemplate: returns the template with its new ``Definition``."""
        req = parse(CreateAnimatedGraphicsTemplateRequest, request)
        template = AnimatedGraphicsTemplate(definition=0, **req.model_dump())
        _check_format(template)
        if self.state.templates.count() >= self.settings.limits.max_templates:
            raise ApiError(
                f"there are already {self.settings.limits.max_templates} custom templates",
                "LimitExceeded.TooMuchTemplate",
            )
        return self.state.templates.create(template)

    def modify(
        self, request: ModifyAnimatedGraphicsTemplateRequest | Mapping[str, Any]
    ) -> AnimatedGraphicsTemplate:
        """ModifyAnimatedGraphicsTemplate: change the given fields only; returns the result."""
        req = parse(ModifyAnimatedGraphicsTemplateRequest, request)
        current = self._custom(req.definition)
        changes = req.model_dump(exclude_none=True, exclude={"definition"})
        updated = AnimatedGraphicsTemplate.model_validate(
            {**current.model_dump(), **changes, "update_time": now_iso()}
        )
        _check_format(updated)
        self.state.templates.put(updated)
        return updated

    def delete(self, definition: int) -> None:
        """DeleteAnimatedGraphicsTemplate."""
        self._custom(definition)
        self.state.templates.delete(definition)

    def describe(
        self, request: DescribeAnimatedGraphicsTemplatesRequest | Mapping[str, Any] | None = None
    ) -> DescribeAnimatedGraphicsTemplatesResponse:
        """DescribeAnimatedGraphicsTemplates: presets then custom ones, by Definition, paged."""
        req = parse(DescribeAnimatedGraphicsTemplatesRequest, request or {})
        total, page = filter_and_page(
            [*PRESETS.values(), *self.state.templates.custom()],
            key=lambda t: t.definition,
            wanted=req.definitions,
            type_=req.type,
            offset=req.offset,
            limit=req.limit,
        )
        return DescribeAnimatedGraphicsTemplatesResponse(
            total_count=total, animated_graphics_template_set=page
        )

    def _custom(self, definition: int) -> AnimatedGraphicsTemplate:
        if definition in PRESETS:
            raise ApiError(
                f"Definition {definition} is a preset template: presets cannot be changed",
                "InvalidParameterValue.Definition",
            )
        template = self.state.templates.get(definition)
        if template is None:
            raise ApiError(
                f"Definition {definition}: no such animated graphics template",
                "ResourceNotFound.TemplateNotExist",
            )
        return template
