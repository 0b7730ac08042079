"""Task flows (procedure templates): named lists of subtasks to run on a media file."""

from __future__ import annotations

import time
from typing import cast

import redis

from animgraph.shared.models import ProcedureTemplate

from . import keys
from .connection import read_indexed

__all__ = ["FlowRepo"]


class FlowRepo:
    """``procedure:<Name>`` records and their ``procedures`` index."""

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def add(self, flow: ProcedureTemplate) -> bool:
        """Store a new task flow; False if the name is taken."""
        created = self._redis.set(keys.procedure(flow.name), flow.model_dump_json(), nx=True)
        if created:
            self._redis.zadd(keys.PROCEDURES, {flow.name: time.time()})
        return bool(created)

    def replace(self, flow: ProcedureTemplate) -> bool:
        """Replace an existing task flow's content; False if there is none by that name."""
        return bool(self._redis.set(keys.procedure(flow.name), flow.model_dump_json(), xx=True))

    def get(self, name: str) -> ProcedureTemplate | None:
        raw = self._redis.get(keys.procedure(name))
        return ProcedureTemplate.model_validate_json(cast(str, raw)) if raw else None

    def delete(self, name: str) -> bool:
        pipe = self._redis.pipeline()
        pipe.delete(keys.procedure(name))
        pipe.zrem(keys.PROCEDURES, name)
        return bool(pipe.execute()[0])

    def all(self) -> list[ProcedureTemplate]:
        """Every task flow, oldest first."""
        return read_indexed(self._redis, keys.PROCEDURES, keys.procedure, ProcedureTemplate)

    def count(self) -> int:
        return int(cast(str, self._redis.zcard(keys.PROCEDURES)))
