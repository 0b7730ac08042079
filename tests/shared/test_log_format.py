"""The JSON log format (``shared/logs.py``): one object a line, a step's fields on the lines
written while it is bound, exceptions and ``extra`` kept."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from animgraph.shared.logs import JsonFormatter, bind_step, current_step


@pytest.fixture()
def lines() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(lambda: {"celery_task_id": "c1"}))
    logger = logging.getLogger("animgraph.test.logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def _records(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_line_outside_a_step_has_the_standard_fields(
    lines: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = lines
    logger.info("hello %s", "world", extra={"queue": "media"})
    [record] = _records(stream)
    assert record["message"] == "hello world" and record["level"] == "INFO"
    assert record["logger"] == "animgraph.test.logs" and record["queue"] == "media"
    assert str(record["time"]).endswith("+00:00") and record["celery_task_id"] == "c1"
    assert "TaskId" not in record and "step" not in record


def test_a_steps_lines_name_it_and_its_duration(
    lines: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = lines
    with bind_step("T-1", 2, None, "encode", 1):
        logger.warning("slow")
        with bind_step("T-1", 2, 3, "decode", 2):  # nested binds restore the outer one
            logger.info("inner")
        assert current_step() is not None and current_step().step == "encode"  # type: ignore[union-attr]
    assert current_step() is None
    logger.info("after")
    outer, inner, after = _records(stream)
    assert {k: outer[k] for k in ("TaskId", "index", "step", "attempt")} == {
        "TaskId": "T-1", "index": 2, "step": "encode", "attempt": 1
    }  # fmt: skip
    assert "part" not in outer and isinstance(outer["duration_s"], float)
    assert (inner["step"], inner["part"], inner["attempt"]) == ("decode", 3, 2)
    assert "TaskId" not in after


def test_exceptions_stay_on_one_line(lines: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = lines
    try:
        raise ValueError("bad frame")
    except ValueError:
        logger.exception("decode failed")
    assert len(stream.getvalue().splitlines()) == 1
    [record] = _records(stream)
    assert "ValueError: bad frame" in str(record["exception"])
