"""The loop analysis of issue 19 on real decoded frames: thumbnails, shot cuts, seams, highlights.

Synthetic clips with a known answer (``loop_clips``: a 2.0 s circular path, a hard cut, a still
picture with 2 s of motion) are encoded with libx264 into a session directory; the repository's
real clips (tests/data) check the cut detector on footage: city.mpg has one hard cut (4.64 s,
from a skyline to a tower), cockatoo.mp4 (fast hand-held motion, a sudden jerk at 6.7 s) and
vtest.avi (a fixed camera) have none.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from statistics import median

import numpy as np
import pytest
from loop_clips import BURST_S, CUT_S, FPS, PERIOD_S, burst_clip, circle_clip, cut_clip, decode_rgb
from media_clips import write_clip

from animgraph.workers.media.analyse import analyse_source
from animgraph.workers.media.highlight import pick_highlight
from animgraph.workers.media.seam import (
    CROSSFADE_ABOVE,
    crossfade,
    fade_plan,
    find_seam,
    seam_score,
)
from animgraph.workers.media.select import select_frames
from animgraph.workers.media.shots import detect_cuts, runs
from animgraph.workers.media.thumbs import (
    THUMB_SIZE,
    Thumb,
    blend,
    frame_distance,
    thumbnail,
)

DATA = Path(__file__).resolve().parents[2] / "data"
Analysis = tuple[list[Thumb], list[float]]


@pytest.fixture(scope="module")
def loop_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("loops")


@pytest.fixture(scope="module")
def circle(loop_dir: Path) -> Analysis:
    return analyse_source(circle_clip(loop_dir / "circle.mp4"))


@pytest.fixture(scope="module")
def cut_path(loop_dir: Path) -> Path:
    return cut_clip(loop_dir / "cut.mp4")


@pytest.fixture(scope="module")
def cut(cut_path: Path) -> Analysis:
    return analyse_source(cut_path)


@pytest.fixture(scope="module")
def burst(loop_dir: Path) -> Analysis:
    return analyse_source(burst_clip(loop_dir / "burst.mp4"))


# --- thumbnails -------------------------------------------------------------------------------


def test_thumbnail_is_small_oklab_of_the_frame() -> None:
    frames, _ = decode_rgb(DATA / "vtest.avi", 1)
    thumb = thumbnail(frames[0])
    assert thumb.dtype == np.float32
    assert thumb.shape == (48, THUMB_SIZE, 3)  # 768x576 is 4:3
    white = thumbnail(np.full((90, 160, 3), 255, np.uint8))
    black = thumbnail(np.zeros((90, 160, 3), np.uint8))
    assert white.shape == (36, 64, 3)
    np.testing.assert_allclose(white[..., 0], 1.0, atol=1e-3)  # OkLab L of white
    np.testing.assert_allclose(white[..., 1:], 0.0, atol=1e-3)
    np.testing.assert_allclose(black, 0.0, atol=1e-3)
    # Area averaging in linear light: a fine black/white checkerboard is the grey of half the
    # light (L = 0.5 ** (1/3) = 0.794), not the sRGB level 128 (L = 0.6).
    board = np.zeros((90, 160, 3), np.uint8)
    board[::2, ::2] = board[1::2, 1::2] = 255
    assert float(thumbnail(board)[..., 0].mean()) == pytest.approx(0.5 ** (1 / 3), abs=0.01)


def test_frame_distance_grows_with_the_change_between_real_frames() -> None:
    frames, _ = decode_rgb(DATA / "cockatoo.mp4", 101)
    a, b, far = (thumbnail(frames[i]) for i in (0, 1, 100))
    assert frame_distance(a, a) == 0.0
    assert frame_distance(a, b) == pytest.approx(frame_distance(b, a))
    assert 0 < frame_distance(a, b) < frame_distance(a, far)


def test_blend_is_the_thumbnail_of_the_crossfade() -> None:
    frames, _ = decode_rgb(DATA / "cockatoo.mp4", 151)
    a, b = frames[0], frames[150]
    for alpha in (0.0, 0.25, 0.8, 1.0):
        mixed = crossfade(a, b, alpha)
        assert mixed.dtype == np.uint8 and mixed.shape == a.shape
        expected = blend(thumbnail(a), thumbnail(b), alpha)
        assert frame_distance(thumbnail(mixed), expected) < 2e-3
    np.testing.assert_array_equal(crossfade(a, b, 0.0), a)
    np.testing.assert_array_equal(crossfade(a, b, 1.0), b)


# --- shot cuts --------------------------------------------------------------------------------


def test_the_hard_cut_is_found_to_the_frame(cut: Analysis) -> None:
    thumbs, pts = cut
    cuts = detect_cuts(thumbs, pts)
    assert len(cuts) == 1
    assert pts[cuts[0]] == pytest.approx(CUT_S, abs=1 / FPS + 1e-6)


def test_a_real_cut_is_found_and_fast_motion_is_no_cut() -> None:
    thumbs, pts = analyse_source(DATA / "city.mpg")
    assert [round(pts[c], 2) for c in detect_cuts(thumbs, pts)] == [4.64]
    for clip in ("cockatoo.mp4", "vtest.avi"):
        thumbs, pts = analyse_source(DATA / clip)
        assert detect_cuts(thumbs, pts) == [], clip


# --- seams ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("start", "fps"), [(0.5, 10), (1.3, 15)])
def test_seamless_finds_the_period_of_a_circular_path(
    circle: Analysis, start: float, fps: int
) -> None:
    thumbs, pts = circle
    seam = find_seam(thumbs, pts, start_s=start, end_s=start + 2.4, window_s=1.0, fps=fps, cuts=[])
    assert seam.end_s - seam.start_s == pytest.approx(PERIOD_S, abs=1 / fps + 1e-6)
    assert abs(seam.start_s - start) <= 1.0 + 1e-6 and abs(seam.end_s - start - 2.4) <= 1.0 + 1e-6
    assert seam.score < 1.5
    assert seam.crossfade_frames == 0
    # The request as given jumps visibly (the disc is 0.4 s along its path).
    plain = seam_score(thumbs, pts, start_s=start, end_s=start + 2.4, fps=fps)
    assert plain > 1.5 and plain > seam.score + 0.4
    # The score is that of the frames the encoder shows: the last and first of select_frames.
    shown = select_frames(pts, start_s=seam.start_s, end_s=seam.end_s, fps=fps)
    steps = [frame_distance(thumbs[a.index], thumbs[b.index]) for a, b in itertools.pairwise(shown)]
    jump = frame_distance(thumbs[shown[-1].index], thumbs[shown[0].index])
    assert seam.score == pytest.approx(jump / median(steps))
    # A window of 0 keeps a request that is already a loop as it is (the way to get the fade
    # decision for offsets chosen elsewhere, e.g. by a highlight).
    kept = find_seam(
        thumbs, pts, start_s=seam.start_s, end_s=seam.end_s, window_s=0.0, fps=fps, cuts=[]
    )
    assert (kept.start_s, kept.end_s, kept.crossfade_frames) == (seam.start_s, seam.end_s, 0)


def test_a_seam_never_crosses_the_cut(cut: Analysis) -> None:
    thumbs, pts = cut
    cuts = detect_cuts(thumbs, pts)
    before = find_seam(thumbs, pts, start_s=0.5, end_s=1.8, window_s=1.0, fps=10, cuts=cuts)
    shown = select_frames(pts, start_s=before.start_s, end_s=before.end_s, fps=10)
    assert max(s.index for s in shown) < cuts[0]
    after = find_seam(thumbs, pts, start_s=2.2, end_s=3.5, window_s=1.0, fps=10, cuts=cuts)
    shown = select_frames(pts, start_s=after.start_s, end_s=after.end_s, fps=10)
    assert min(s.index for s in shown) >= cuts[0]


def test_no_seam_is_cross_faded_and_the_fade_lowers_the_jump(cut_path: Path, cut: Analysis) -> None:
    """The disc only moves right: no loop exists. The request is kept, the jump cross-faded,
    and the score reported is that of the real faded frames."""
    thumbs, pts = cut
    cuts = detect_cuts(thumbs, pts)
    seam = find_seam(thumbs, pts, start_s=0.6, end_s=1.8, window_s=0.5, fps=10, cuts=cuts)
    assert (seam.start_s, seam.end_s) == (0.6, 1.8)
    assert seam.jump_score > CROSSFADE_ABOVE
    assert seam.crossfade_frames == 4  # 0.4 s at 10 fps
    assert seam.score < seam.jump_score / 2
    plan = fade_plan(pts, start_s=0.6, end_s=1.8, fps=10, frames=seam.crossfade_frames, cuts=cuts)
    shown = select_frames(pts, start_s=0.6, end_s=1.8, fps=10)
    # The last 4 frames dissolve into the 4 before the start (0.2 .. 0.6 s), ever more.
    assert [f.position for f in plan] == [8, 9, 10, 11]
    assert all(0.2 - 1e-6 <= pts[f.source_index] < 0.6 for f in plan)
    assert [f.alpha for f in plan] == sorted(f.alpha for f in plan)
    assert 0 < plan[0].alpha < plan[-1].alpha < 1
    # Apply it to the real frames and measure: the largest step of the fade and the jump.
    frames, _ = decode_rgb(cut_path)
    out = [frames[s.index] for s in shown]
    for f in plan:
        out[f.position] = crossfade(out[f.position], frames[f.source_index], f.alpha)
    small = [thumbnail(rgb) for rgb in out]
    loop_steps = [frame_distance(a, b) for a, b in zip(small, [*small[1:], small[0]], strict=True)]
    plain = [thumbnail(frames[s.index]) for s in shown]
    ordinary = median(frame_distance(a, b) for a, b in itertools.pairwise(plain))
    assert max(loop_steps[7:]) / ordinary == pytest.approx(seam.score, rel=0.1)


def test_a_loop_from_the_first_frame_fades_in_from_after_its_end(cut: Analysis) -> None:
    """With no frame before the start, the first frames are dissolved out of the frames that
    follow the end; with none on either side in the same shot, there is no fade."""
    thumbs, pts = cut
    cuts = detect_cuts(thumbs, pts)
    plan = fade_plan(pts, start_s=0.0, end_s=1.2, fps=10, frames=4, cuts=cuts)
    assert [f.position for f in plan] == [0, 1, 2, 3]
    assert all(1.2 - 1e-6 <= pts[f.source_index] < 1.6 for f in plan)
    assert [f.alpha for f in plan] == sorted((f.alpha for f in plan), reverse=True)
    whole_shot = fade_plan(pts, start_s=0.0, end_s=CUT_S, fps=10, frames=4, cuts=cuts)
    assert whole_shot == ()
    seam = find_seam(thumbs, pts, start_s=0.0, end_s=CUT_S, window_s=0.5, fps=10, cuts=cuts)
    assert seam.crossfade_frames == 0 and seam.end_s <= CUT_S + 1e-6


# --- highlights -------------------------------------------------------------------------------


def test_the_highlight_is_the_moment_of_motion(burst: Analysis) -> None:
    thumbs, pts = burst
    for seamless in (False, True):
        best = pick_highlight(
            thumbs, pts, duration_s=2.0, cuts=[], seamless=seamless, window_s=0.5, fps=10
        )
        assert best.start_s == pytest.approx(BURST_S[0], abs=0.2), seamless
        assert best.end_s == pytest.approx(BURST_S[1], abs=0.2), seamless
        assert (best.seam is not None) == seamless


def test_no_highlight_crosses_the_cut(cut: Analysis) -> None:
    thumbs, pts = cut
    cuts = detect_cuts(thumbs, pts)
    for seamless in (False, True):
        best = pick_highlight(
            thumbs, pts, duration_s=1.5, cuts=cuts, seamless=seamless, window_s=1.0, fps=10
        )
        assert best.end_s <= CUT_S + 1e-6 or best.start_s >= pts[cuts[0]] - 1e-6, best


def test_a_highlight_longer_than_every_shot_is_the_longest_shot(cut: Analysis) -> None:
    thumbs, pts = cut
    cuts = detect_cuts(thumbs, pts)
    for seamless in (False, True):
        best = pick_highlight(thumbs, pts, duration_s=3.0, cuts=cuts, seamless=seamless, fps=10)
        assert best.start_s == 0.0 and best.end_s == pytest.approx(CUT_S, abs=1e-6)
        assert (best.seam is not None) == seamless


def test_a_real_highlight_avoids_the_real_cut() -> None:
    thumbs, pts = analyse_source(DATA / "city.mpg")
    cuts = detect_cuts(thumbs, pts)
    best = pick_highlight(thumbs, pts, duration_s=3.0, cuts=cuts, seamless=True, fps=10)
    cut_s = pts[cuts[0]]
    assert best.end_s <= cut_s + 1e-6 or best.start_s >= cut_s - 1e-6
    assert best.end_s - best.start_s == pytest.approx(3.0, abs=1.0)


# --- the analysis decode ----------------------------------------------------------------------


def test_a_long_source_is_sampled_in_runs_spread_over_it() -> None:
    full_thumbs, full_pts = analyse_source(DATA / "cockatoo.mp4")  # 14 s
    thumbs, pts = analyse_source(DATA / "cockatoo.mp4", max_full_s=6.0, run_s=2.0)
    spans = [(pts[a], pts[b - 1]) for a, b in runs(pts)]
    assert len(spans) == 3
    assert spans[0][0] == 0.0 and spans[-1][1] > 11.0  # from the start to near the end
    assert all(b - a < 2.0 for a, b in spans)
    # The same frames as a full decode, the same thumbnails.
    index = {round(t, 6): i for i, t in enumerate(full_pts)}
    for thumb, t in zip(thumbs, pts, strict=True):
        np.testing.assert_allclose(thumb, full_thumbs[index[round(t, 6)]], atol=1e-5)
    assert len(full_pts) == 280 and full_pts == sorted(full_pts)


def test_thumbnails_are_upright(tmp_path: Path) -> None:
    """A clip coded 64x48 with a display matrix of 90 degrees is shown 48x64."""
    clip = write_clip(tmp_path / "rotated.mp4", frames=5, rotation_ccw=90)
    thumbs, pts = analyse_source(clip.path)
    assert len(thumbs) == 5 and pts[0] == 0.0
    assert thumbs[0].shape == (64, 48, 3)


def test_sample_fps_thins_the_frames() -> None:
    _, pts = analyse_source(DATA / "cockatoo.mp4", sample_fps=5)  # a 20 fps source
    steps = np.diff(pts)
    assert steps.min() >= 0.2 - 1e-6 and len(pts) == pytest.approx(14 * 5, abs=2)
