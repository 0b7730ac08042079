"""Frame display timing: delays in whole format units with the rounding error carried."""

from __future__ import annotations

from animgraph.workers.media.select import Shown
from animgraph.workers.media.timing import Delay, display_delays


def test_display_delays_carry_the_rounding_error() -> None:
    selection = tuple(Shown(k, k / 15, 1 / 15) for k in range(15))
    delays = display_delays(selection, 100, 2)
    assert [d.delay for d in delays] == [7, 6, 7] * 5  # not 6 * 15 = 90 (Pillow truncates)
    assert sum(d.delay for d in delays) == 100
    assert [d.start for d in delays[:4]] == [0, 7, 13, 20]


def test_display_delays_merge_too_short_frames() -> None:
    selection = (
        Shown(0, 5.0, 0.5),
        Shown(1, 5.5, 0.004),
        Shown(2, 5.504, 0.3),
        Shown(3, 5.804, 0.001),
    )
    assert display_delays(selection, 100, 2) == [Delay(0, 0, 50), Delay(2, 50, 31)]
    assert display_delays(selection, 1000, 11) == [Delay(0, 0, 504), Delay(2, 504, 301)]
