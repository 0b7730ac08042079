"""The still-scene block hold of lossy WebP (temporal.BlockHold)."""

from __future__ import annotations

import numpy as np
import pytest

from animgraph.workers.media.temporal import BlockHold


def _scene(h: int = 40, w: int = 56, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(30, 220, (h, w, 3)).astype(np.uint8)


def _noisy(base: np.ndarray, rng: np.random.Generator, amp: int = 3) -> np.ndarray:
    noise = rng.integers(-amp, amp + 1, base.shape)
    return np.clip(base.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def test_first_frame_is_sent_whole() -> None:
    scene = _scene()
    out, held = BlockHold(2, 40).apply(scene)
    assert held == 0.0 and np.array_equal(out, scene)


def test_noise_on_a_still_scene_is_held_to_the_first_frame() -> None:
    rng = np.random.default_rng(2)
    scene = _scene()
    hold = BlockHold(2, 40)
    first, _ = hold.apply(_noisy(scene, rng))
    for _ in range(5):
        out, held = hold.apply(_noisy(scene, rng))
        assert held == 1.0
        assert np.array_equal(out, first)


def test_a_change_redraws_only_its_blocks() -> None:
    scene = _scene(48, 64)
    hold = BlockHold(2, 40)
    hold.apply(scene)
    moved = scene.copy()
    moved[20, 40] = 255 - moved[20, 40] // 4  # one pixel jumps (block row 1, column 2)
    moved[36:48, 0:16] = np.clip(scene[36:48, 0:16].astype(int) + 3, 0, 255)  # a 3-level shift
    out, held = hold.apply(moved)
    assert held == pytest.approx(1 - 2 / 12)
    assert np.array_equal(out[16:32, 32:48], moved[16:32, 32:48])
    assert np.array_equal(out[32:48, 0:16], moved[32:48, 0:16])
    untouched = np.ones((48, 64), dtype=bool)
    untouched[16:32, 32:48] = untouched[32:48, 0:16] = False
    assert np.array_equal(out[untouched], scene[untouched])


def test_a_slow_drift_is_redrawn_once_it_adds_up() -> None:
    # Compared with what was last sent, not the previous frame: +1 a frame is held twice, then
    # (3 levels from the sent frame) redrawn.
    scene = _scene().astype(np.int16)
    hold = BlockHold(2, 40)
    hold.apply(scene.astype(np.uint8))
    helds = [hold.apply(np.clip(scene + k, 0, 255).astype(np.uint8))[1] for k in (1, 2, 3)]
    assert helds == [1.0, 1.0, 0.0]


def test_edge_blocks_and_shapes() -> None:
    hold = BlockHold(2, 40)
    scene = _scene(21, 35)  # partial blocks on both edges
    hold.apply(scene)
    moved = scene.copy()
    moved[20, 34] = 255 - moved[20, 34]
    out, held = hold.apply(moved)
    assert out.shape == scene.shape and np.array_equal(out[16:, 32:], moved[16:, 32:])
    assert held == pytest.approx(1 - 1 / 6)
    with pytest.raises(ValueError):
        hold.apply(_scene(20, 35))
    with pytest.raises(ValueError):
        BlockHold(-1, 40)
