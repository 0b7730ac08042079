"""The media repository against a real Redis: records, the FileId index (and its migration from
a Redis written before it), and the outputs of each file."""

from __future__ import annotations

from collections.abc import Callable

import redis

from animgraph.shared.models import MediaAnimatedGraphicsItem
from animgraph.shared.state import MediaRecord, State


def _item(url: str, definition: int = 20000) -> MediaAnimatedGraphicsItem:
    return MediaAnimatedGraphicsItem(
        url=url,
        definition=definition,
        container="gif",
        width=320,
        height=180,
        bitrate=1000,
        size=125,
        md5="0" * 32,
        start_time_offset=0.0,
        end_time_offset=1.0,
    )


def test_a_record_is_stored_as_its_json_under_media_file_id(
    state: State, raw: redis.Redis, make_media: Callable[..., MediaRecord]
) -> None:
    record = make_media("f1")
    state.media.put(record)
    # ``linked_stat`` (a hard-linked source's size and time) only when set: the JSON of a copied
    # source is what workers of earlier versions read.
    assert raw.get("animgraph:media:f1") == record.model_dump_json(exclude={"linked_stat"})
    assert state.media.get("f1") == record
    linked = record.model_copy(update={"linked_stat": "1234:5678"})
    state.media.put(linked)
    assert raw.get("animgraph:media:f1") == linked.model_dump_json()
    assert state.media.get("f1") == linked
    state.media.put(record)
    assert state.media.get("nope") is None
    assert state.media.get_many(["f1", "nope"]) == [record, None]
    assert state.media.get_many([]) == []


def test_the_index_follows_put_and_delete(
    state: State, raw: redis.Redis, make_media: Callable[..., MediaRecord]
) -> None:
    for file_id in ("a", "b", "c"):
        state.media.put(make_media(file_id))
    state.media.put(make_media("a"))  # a re-put keeps its place
    assert raw.type("animgraph:media") == "zset"
    assert state.media.file_ids() == ["c", "b", "a"]
    assert state.media.file_ids(newest_first=False, limit=2) == ["a", "b"]
    assert [r.info.file_id for r in state.media.newest(limit=2)] == ["c", "b"]
    assert state.media.count() == 3
    state.media.delete("b")
    assert state.media.file_ids() == ["c", "a"]
    assert state.media.count() == 2


def test_a_record_gone_behind_the_index_is_dropped_from_it(
    state: State, raw: redis.Redis, make_media: Callable[..., MediaRecord]
) -> None:
    state.media.put(make_media("a"))
    state.media.put(make_media("b"))
    raw.delete("animgraph:media:a")
    assert [r.info.file_id for r in state.media.newest()] == ["b"]
    assert raw.zrange("animgraph:media", 0, -1) == ["b"]


def test_a_redis_without_the_index_gets_it_from_one_scan(
    state: State, raw: redis.Redis, make_media: Callable[..., MediaRecord]
) -> None:
    # As a Redis written before the index: records and outputs, no ``animgraph:media``.
    raw.set("animgraph:media:old", make_media("old", "2025-01-01T00:00:00Z").model_dump_json())
    raw.set("animgraph:media:new", make_media("new", "2025-06-01T00:00:00Z").model_dump_json())
    raw.sadd("animgraph:media:old:outputs", "outputs/t/0")
    assert state.media.file_ids() == ["new", "old"]  # by CreateTime
    assert raw.smembers("animgraph:migrated") == {"media-index"}
    state.media.put(make_media("newest"))
    raw.set("animgraph:media:late", make_media("late").model_dump_json())
    assert state.media.file_ids() == ["newest", "new", "old"]  # the SCAN ran once only


def test_delete_forgets_every_key_of_the_file_and_returns_its_output_prefixes(
    state: State, raw: redis.Redis, make_media: Callable[..., MediaRecord]
) -> None:
    state.media.put(make_media("f1"))
    state.media.add_output("f1", _item("u1"), "outputs/t1/0")
    state.media.add_output("f1", _item("u2"), "outputs/t1/1")
    state.media.put(make_media("f2"))
    assert state.media.delete("f1") == ["outputs/t1/0", "outputs/t1/1"]
    assert sorted(raw.keys("animgraph:media:*")) == ["animgraph:media:f2"]
    assert state.media.delete("f1") == []


def test_outputs_keep_their_order_and_a_same_url_replaces(
    state: State, raw: redis.Redis, make_media: Callable[..., MediaRecord]
) -> None:
    state.media.put(make_media("f1"))
    state.media.add_output("f1", _item("u1"))
    state.media.add_output("f1", _item("u2", 20001))
    state.media.add_output("f1", _item("u1", 20002))  # the same Url again: replaced, now last
    assert [(o.url, o.definition) for o in state.media.outputs("f1")] == [
        ("u2", 20001),
        ("u1", 20002),
    ]
    assert state.media.output_count("f1") == 2
    assert raw.get("animgraph:media:f1:gseq") == "3"
    assert raw.type("animgraph:media:f1:graphics") == "hash"
    assert not raw.exists("animgraph:media:f1:outputs")  # no prefix given
    assert state.media.outputs("nope") == ()
