"""Loop modes as pure functions (frame order and durations of Reverse and PingPong), the Loop
record, and the LoopCount of each format (contract §2.5)."""

from __future__ import annotations

import itertools

import pytest

from animgraph.workers.media.loop import (
    Loop,
    arrange,
    cycle_s,
    forward_cap,
    ping_pong,
    reverse,
)
from animgraph.workers.media.loopcount import gif_loop_extension, gif_repeats, webp_loop_count
from animgraph.workers.media.select import Selection, Shown, select_frames

# Five frames from 2.0 s, the second shown twice as long (a source frame held for two slots).
SELECTION: Selection = (
    Shown(10, 2.0, 0.1),
    Shown(11, 2.1, 0.2),
    Shown(13, 2.3, 0.1),
    Shown(14, 2.4, 0.1),
    Shown(15, 2.5, 0.1),
)


def _order(selection: Selection) -> list[tuple[int, float]]:
    return [(s.index, round(s.duration_s, 9)) for s in selection]


def _continuous(selection: Selection, start_s: float) -> bool:
    """One timeline from ``start_s``: every frame starts where the one before ends."""
    ends = [start_s] + [s.end_s for s in selection[:-1]]
    return all(abs(s.start_s - e) < 1e-9 for s, e in zip(selection, ends, strict=True))


def test_reverse_keeps_each_frames_duration() -> None:
    backwards = reverse(SELECTION)
    assert _order(backwards) == [(15, 0.1), (14, 0.1), (13, 0.1), (11, 0.2), (10, 0.1)]
    assert _continuous(backwards, 2.0)
    assert cycle_s(backwards) == pytest.approx(0.6)


def test_ping_pong_shows_no_turnaround_frame_twice() -> None:
    pp = ping_pong(SELECTION)
    # forwards, the turn (15) once, backwards down to the frame after the first; then 10 again
    assert _order(pp) == [
        (10, 0.1), (11, 0.2), (13, 0.1), (14, 0.1), (15, 0.1),
        (14, 0.1), (13, 0.1), (11, 0.2),
    ]  # fmt: skip
    assert _continuous(pp, 2.0)
    assert cycle_s(pp) == pytest.approx(0.6 + 0.4)
    # played in a loop, no frame follows itself: even steps across both turns
    looped = [s.index for s in pp] * 2
    assert all(a != b for a, b in itertools.pairwise(looped))


def test_ping_pong_on_a_regular_selection_has_even_steps() -> None:
    selection = select_frames([k / 10 for k in range(30)], start_s=1.0, end_s=2.0, fps=10)
    pp = ping_pong(selection)
    assert [s.index for s in pp] == [*range(10, 20), *range(18, 10, -1)]
    assert all(s.duration_s == pytest.approx(0.1) for s in pp)  # the turn too: one slot
    assert len(pp) == 2 * len(selection) - 2


@pytest.mark.parametrize(
    ("selection", "indexes"),
    [
        ((), []),
        ((Shown(4, 0.0, 1.0),), [4]),  # one frame: a still
        ((Shown(4, 0.0, 0.5), Shown(5, 0.5, 0.5)), [4, 5]),  # two: they alternate
    ],
)
def test_ping_pong_of_few_frames(selection: Selection, indexes: list[int]) -> None:
    assert [s.index for s in ping_pong(selection)] == indexes
    assert cycle_s(ping_pong(selection)) == pytest.approx(cycle_s(selection))


def test_arrange_by_mode() -> None:
    assert arrange(SELECTION, "Forward") == SELECTION
    assert arrange(SELECTION, "Seamless") == SELECTION  # moves the ends, not the frames
    assert arrange(SELECTION, "Reverse") == reverse(SELECTION)
    assert arrange(SELECTION, "PingPong") == ping_pong(SELECTION)


@pytest.mark.parametrize("max_frames", [1, 2, 3, 10, 11, 3000])
def test_forward_cap_keeps_the_ping_pong_within_the_frame_cap(max_frames: int) -> None:
    pts = [k / 30 for k in range(9000)]
    capped = select_frames(
        pts, start_s=0, end_s=300, fps=30, max_frames=forward_cap(max_frames, "PingPong")
    )
    assert len(ping_pong(capped)) <= max_frames
    assert len(ping_pong(capped)) >= max_frames - 1  # no more frames dropped than needed
    assert forward_cap(max_frames, "Reverse") == forward_cap(max_frames, "Forward") == max_frames


def test_loop_record_round_trips() -> None:
    loop = Loop(2.0, 4.5, "PingPong", seam_score=None, cycle_s=4.9)
    assert Loop.loads(loop.dumps()) == loop
    scored = Loop(1.25, 3.25, "Seamless", seam_score=1.07, cycle_s=2.0)
    assert Loop.loads(scored.dumps()) == scored
    with pytest.raises(ValueError, match="Boomerang"):
        Loop.loads('{"start_s": 0, "end_s": 1, "mode": "Boomerang"}')


@pytest.mark.parametrize(
    ("plays", "repeats", "anim"),
    [(0, 0, 0), (1, None, 1), (2, 1, 2), (3, 2, 3), (65535, 65534, 65535)],
)
def test_loop_count_per_format(plays: int, repeats: int | None, anim: int) -> None:
    assert gif_repeats(plays) == repeats
    assert webp_loop_count(plays) == anim
    block = gif_loop_extension(plays)
    if repeats is None:
        assert block == b""  # one play: no NETSCAPE2.0 extension at all
    else:
        assert block[:14] == b"\x21\xff\x0bNETSCAPE2.0"
        assert int.from_bytes(block[16:18], "little") == repeats and block[-1:] == b"\0"


@pytest.mark.parametrize("plays", [-1, 65536])
def test_loop_count_out_of_range(plays: int) -> None:
    with pytest.raises(ValueError, match="LoopCount"):
        gif_repeats(plays)
    with pytest.raises(ValueError, match="LoopCount"):
        webp_loop_count(plays)
