"""Media files: their records, the index of FileIds, and the animated images made from each."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import cast

import redis

from animgraph.shared.models import MediaAnimatedGraphicsItem

from . import keys
from .records import MediaRecord

__all__ = ["MediaRepo"]

INDEX_MIGRATION = "media-index"


def _created_at(record: MediaRecord) -> float:
    """A record's CreateTime as epoch seconds (0 if unreadable), to score it in the index."""
    try:
        stamp = datetime.strptime(record.info.create_time, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return 0.0
    return stamp.replace(tzinfo=UTC).timestamp()


class MediaRepo:
    """``media:<FileId>`` records, the ``media`` index and each file's outputs."""

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def put(self, record: MediaRecord) -> None:
        file_id = record.info.file_id
        pipe = self._redis.pipeline()
        # ``linked_stat`` only when set: a record without it reads in a worker of an earlier
        # version (its model refuses unknown fields), as every record did before links.
        unset = {"linked_stat"} if not record.linked_stat else None
        pipe.set(keys.media(file_id), record.model_dump_json(exclude=unset))
        pipe.zadd(keys.MEDIA_INDEX, {file_id: time.time()}, nx=True)  # a re-put keeps its place
        pipe.execute()

    def get(self, file_id: str) -> MediaRecord | None:
        raw = self._redis.get(keys.media(file_id))
        return MediaRecord.model_validate_json(cast(str, raw)) if raw else None

    def get_many(self, file_ids: list[str]) -> list[MediaRecord | None]:
        """The records of ``file_ids`` in one round trip (None for an unknown FileId)."""
        if not file_ids:
            return []
        raws = cast(list[str | None], self._redis.mget([keys.media(f) for f in file_ids]))
        return [MediaRecord.model_validate_json(r) if r else None for r in raws]

    def delete(self, file_id: str) -> list[str]:
        """Forget a media file; returns the storage prefixes of its outputs to delete."""
        pipe = self._redis.pipeline()
        pipe.smembers(keys.media_outputs(file_id))
        pipe.delete(
            keys.media(file_id),
            keys.media_outputs(file_id),
            keys.media_graphics(file_id),
            keys.media_gseq(file_id),
        )
        pipe.zrem(keys.MEDIA_INDEX, file_id)
        prefixes, _, _ = pipe.execute()
        return sorted(cast(set[str], prefixes))

    # --- the index -----------------------------------------------------------------------------

    def file_ids(self, *, newest_first: bool = True, limit: int | None = None) -> list[str]:
        """Registered FileIds by registration time."""
        self._ensure_index()
        stop = -1 if limit is None else max(limit, 1) - 1
        return cast(list[str], self._redis.zrange(keys.MEDIA_INDEX, 0, stop, desc=newest_first))

    def newest(self, limit: int | None = None) -> list[MediaRecord]:
        """The records of the last ``limit`` files registered (every file if None), newest
        first; FileIds whose record has gone are dropped from the index on the way."""
        ids = self.file_ids(limit=limit)
        records = self.get_many(ids)
        gone = [file_id for file_id, r in zip(ids, records, strict=True) if r is None]
        if gone:
            self._redis.zrem(keys.MEDIA_INDEX, *gone)
        return [r for r in records if r is not None]

    def count(self) -> int:
        self._ensure_index()
        return int(cast(str, self._redis.zcard(keys.MEDIA_INDEX)))

    def _ensure_index(self) -> None:
        """Index the media of a Redis written before the index existed: one SCAN, once."""
        if self._redis.sismember(keys.MIGRATED, INDEX_MIGRATION):
            return
        prefix = keys.media("")
        batch: list[str] = []
        for key in self._redis.scan_iter(match=keys.media("*"), count=500):
            file_id = str(key)[len(prefix) :]
            if ":" not in file_id:  # not media:<FileId>:graphics and the like
                batch.append(file_id)
        for start in range(0, len(batch), 500):
            chunk = batch[start : start + 500]
            scores = {r.info.file_id: _created_at(r) for r in self.get_many(chunk) if r}
            if scores:
                self._redis.zadd(keys.MEDIA_INDEX, scores, nx=True)  # nx: put() got there first
        self._redis.sadd(keys.MIGRATED, INDEX_MIGRATION)

    # --- outputs -----------------------------------------------------------------------------

    def add_output(self, file_id: str, item: MediaAnimatedGraphicsItem, prefix: str = "") -> None:
        """Add an image to the media's ``AnimatedGraphicsSet`` (same Url replaced). Kept apart
        from the media record, so reading a media file does not grow with its outputs."""
        seq = int(cast(str, self._redis.incr(keys.media_gseq(file_id))))
        value = json.dumps({"seq": seq, "item": item.model_dump(mode="json")})
        pipe = self._redis.pipeline()
        pipe.hset(keys.media_graphics(file_id), item.url, value)
        if prefix:
            pipe.sadd(keys.media_outputs(file_id), prefix)
        pipe.execute()

    def outputs(self, file_id: str) -> tuple[MediaAnimatedGraphicsItem, ...]:
        """The animated images made from a media file, oldest first."""
        raws = cast(list[str], self._redis.hvals(keys.media_graphics(file_id)))
        entries = sorted((json.loads(raw) for raw in raws), key=lambda e: int(e["seq"]))
        return tuple(MediaAnimatedGraphicsItem.model_validate(e["item"]) for e in entries)

    def output_count(self, file_id: str) -> int:
        return int(cast(str, self._redis.hlen(keys.media_graphics(file_id))))
