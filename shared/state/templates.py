"""Animated-graphics templates: the presets, and the custom ones kept in Redis."""

from __future__ import annotations

from typing import cast

import redis

from animgraph.shared.clock import now_iso
from animgraph.shared.models import AnimatedGraphicsTemplate
from animgraph.shared.templates import FIRST_CUSTOM_DEFINITION, PRESETS

from . import keys
from .connection import read_indexed

__all__ = ["TemplateRepo"]


class TemplateRepo:
    """``template:<Definition>`` records, their ``templates`` index and ``template:next``."""

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def get(self, definition: int) -> AnimatedGraphicsTemplate | None:
        """A preset or a custom template, None if there is none by that Definition."""
        if definition in PRESETS:
            return PRESETS[definition]
        raw = self._redis.get(keys.template(definition))
        return AnimatedGraphicsTemplate.model_validate_json(cast(str, raw)) if raw else None

    def create(self, template: AnimatedGraphicsTemplate) -> AnimatedGraphicsTemplate:
        """Store a custom template under the next free Definition and return it."""
        next_id = int(cast(str, self._redis.incr(keys.TEMPLATE_NEXT)))
        stamp = now_iso()
        stored = template.model_copy(
            update={
                "definition": next_id + FIRST_CUSTOM_DEFINITION - 1,
                "type": "Custom",
                "create_time": stamp,
                "update_time": stamp,
            }
        )
        self.put(stored)
        return stored

    def put(self, template: AnimatedGraphicsTemplate) -> None:
        pipe = self._redis.pipeline()
        pipe.set(keys.template(template.definition), template.model_dump_json())
        pipe.zadd(keys.TEMPLATES, {str(template.definition): template.definition})
        pipe.execute()

    def delete(self, definition: int) -> bool:
        pipe = self._redis.pipeline()
        pipe.delete(keys.template(definition))
        pipe.zrem(keys.TEMPLATES, str(definition))
        return bool(pipe.execute()[0])

    def count(self) -> int:
        """How many custom templates there are."""
        return int(cast(str, self._redis.zcard(keys.TEMPLATES)))

    def custom(self) -> list[AnimatedGraphicsTemplate]:
        """Every custom template, by Definition."""
        return read_indexed(self._redis, keys.TEMPLATES, keys.template, AnimatedGraphicsTemplate)
