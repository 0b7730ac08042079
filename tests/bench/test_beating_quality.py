"""The bench's search for the Quality that beats a reference output (bench/run.py), on a
synthetic size/quality curve: a pure function, no worker."""

from __future__ import annotations

from bench.run import Result, beating_quality


def _result(q: int | None, size: int, flip: float) -> Result:
    return Result("job", "clip", f"q{q}", q, [], 0.0, size, flip=flip)


def _curve(q: int) -> Result:
    """Bytes grow and FLIP falls with Quality, as animgraph's do."""
    return _result(q, 1000 + 100 * q, 0.30 - 0.002 * q)


def test_a_point_the_sweep_already_beats_is_not_searched() -> None:
    measured = {q: _curve(q) for q in (10, 40, 75)}
    calls: list[int] = []

    def point(q: int) -> Result:
        calls.append(q)
        return _curve(q)

    ref = _result(None, 9000, 0.25)  # q40: 5000 bytes, FLIP 0.22
    assert beating_quality(ref, measured, point) == 40
    assert calls == []


def test_the_highest_quality_under_the_reference_bytes_is_found_by_bisection() -> None:
    measured = {q: _curve(q) for q in (10, 75)}
    calls: list[int] = []

    def point(q: int) -> Result:
        calls.append(q)
        measured[q] = _curve(q)
        return measured[q]

    # Under 6550 bytes: q55 (6500) is the highest; its FLIP 0.19 beats 0.20. q10 (FLIP 0.28)
    # and q75 (7500 bytes) do not.
    ref = _result(None, 6550, 0.20)
    assert beating_quality(ref, measured, point) == 55
    assert 55 in calls and len(calls) <= 7


def test_no_quality_when_none_under_the_bytes_is_sharper() -> None:
    measured = {q: _curve(q) for q in (10, 75)}

    def point(q: int) -> Result:
        measured[q] = _curve(q)
        return measured[q]

    ref = _result(None, 6550, 0.15)  # q55 is the best under 6550 bytes, FLIP 0.19
    assert beating_quality(ref, measured, point) is None
    tiny = _result(None, 500, 0.5)  # smaller than even Quality 1 (1100 bytes)
    assert beating_quality(tiny, measured, point) is None
