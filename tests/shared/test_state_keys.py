"""The key map: every builder gives today's names, and the docstring, the patterns and the
builders agree."""

from __future__ import annotations

import hashlib
import re
from fnmatch import fnmatchcase

import pytest

from animgraph.shared.state import keys

# Each builder with the exact name the keys had before ``keys`` existed (data in a user's Redis).
NAMES = [
    (keys.media("f1"), "animgraph:media:f1"),
    (keys.media_graphics("f1"), "animgraph:media:f1:graphics"),
    (keys.media_gseq("f1"), "animgraph:media:f1:gseq"),
    (keys.media_outputs("f1"), "animgraph:media:f1:outputs"),
    (keys.MEDIA_INDEX, "animgraph:media"),
    (keys.MIGRATED, "animgraph:migrated"),
    (keys.template(20001), "animgraph:template:20001"),
    (keys.TEMPLATES, "animgraph:templates"),
    (keys.TEMPLATE_NEXT, "animgraph:template:next"),
    (keys.procedure("flow"), "animgraph:procedure:flow"),
    (keys.PROCEDURES, "animgraph:procedures"),
    (keys.task("T"), "animgraph:task:T"),
    (keys.task_finished("T"), "animgraph:task:T:finished"),
    (keys.task_notified("T"), "animgraph:task:T:notified"),
    (keys.task_dispatched("T"), "animgraph:task:T:dispatched"),
    (keys.task_parts("T", 2), "animgraph:task:T:parts:2"),
    (keys.TASKS, "animgraph:tasks"),
    (keys.OPEN_TASKS, "animgraph:tasks:open"),
    (keys.file_tasks("f1"), "animgraph:tasks:file:f1"),
    (keys.attempts("T", 0, None, "decode"), "animgraph:attempts:T:0:None:decode"),
    (keys.attempts("T", 1, 3, "encode"), "animgraph:attempts:T:1:3:encode"),
    (keys.handed_back("T", 1, None, "encode"), "animgraph:attempts:T:1:None:encode:handback"),
    (keys.RECONCILER, "animgraph:reconciler"),
    (keys.session("s"), "animgraph:session:s"),
    (keys.task_fault("T", "p"), "animgraph:task:T:fault:p"),
    (keys.nonce("AKID", "42"), "animgraph:nonce:AKID:42"),
    (keys.upload("k"), "animgraph:upload:k"),
    (keys.once("n"), "animgraph:once:n"),
    (
        keys.console_session("tok"),
        "animgraph:console:session:" + hashlib.sha256(b"tok").hexdigest(),
    ),
    (keys.console_failures("127.0.0.1"), "animgraph:console:fail:127.0.0.1"),
    (keys.EVENTS, "animgraph:events"),
    (keys.EVENT_CONFIG, "animgraph:eventconfig"),
    (keys.push_seq("T"), "animgraph:push:T:seq"),
    (keys.push_record("T", 4), "animgraph:push:T:4"),
    (keys.push_done("T"), "animgraph:push:T:done"),
    (keys.push_parked("T", 5), "animgraph:push:T:5:parked"),
]


@pytest.mark.parametrize(("built", "expected"), NAMES)
def test_builders_give_the_names_in_use(built: str, expected: str) -> None:
    assert built == expected


def test_every_name_matches_one_family_of_the_map() -> None:
    for built, _ in NAMES:
        assert any(fnmatchcase(built, p) for p in keys.KEY_PATTERNS), built
        assert not any(fnmatchcase(built, p) for p in keys.CELERY_KEY_PATTERNS), built


def _documented() -> list[str]:
    """The first column of the docstring's table, placeholders filled in (``task:x:parts:x``)."""
    table = (keys.__doc__ or "").split("\n=====")[2]  # between the header rule and the end
    rows = re.findall(r"^``([^`]+)``", table, re.MULTILINE)
    return [keys.PREFIX + re.sub(r"<[^>]+>", "x", row) for row in rows]


def test_the_docstring_table_and_the_patterns_agree() -> None:
    documented = _documented()
    assert len(documented) > 30
    for row in documented:
        assert any(fnmatchcase(row, p) for p in keys.KEY_PATTERNS), row
    for pattern in keys.KEY_PATTERNS:
        assert any(fnmatchcase(row, pattern) for row in documented), pattern


def test_celery_keys_are_not_ours() -> None:
    for name in ("_kombu.binding.media", "unacked", "media:3", "celery-task-meta-x", "io"):
        assert any(fnmatchcase(name, p) for p in keys.CELERY_KEY_PATTERNS), name
        assert not any(fnmatchcase(name, p) for p in keys.KEY_PATTERNS), name
