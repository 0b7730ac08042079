"""WebP encoding read back with Pillow: frames, delays, runs on threads, still scenes."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from animations import check_animation, frames_rgb, read_back
from media_clips import grey_level
from PIL import Image

from animgraph.workers.media.framestore import FrameSet, FrameWriter
from animgraph.workers.media.quality import (
    WEBP_STILL_METHOD,
    webp_plan,
    webp_quality,
    webp_still_quality,
)
from animgraph.workers.media.select import Shown, select_frames
from animgraph.workers.media.stills import WEBP_PARTLY_STILL, WEBP_STILL_SCENE, scene_stillness
from animgraph.workers.media.webp import WEBP_ANIM_OPTIONS, encode_webp, webp_runs


@pytest.mark.parametrize("fps", [10, 15, 24])
def test_webp(frames: FrameSet, tmp_path: Path, fps: int) -> None:
    selection = select_frames(frames.pts_s, start_s=0.2, end_s=1.45, fps=fps)
    seen: list[float] = []
    encode_webp(frames, selection, tmp_path / "a.webp", quality=75, progress=seen.append)
    check_animation(tmp_path / "a.webp", selection, (80, 60))
    _, durations = read_back(tmp_path / "a.webp")
    assert sum(durations) == 1250
    assert seen == sorted(seen) and seen[-1] == 1.0
    assert (tmp_path / "a.webp").read_bytes()[:4] == b"RIFF"
    assert [p.name for p in tmp_path.iterdir()] == ["a.webp"]


def test_webp_runs_cover_every_frame_once() -> None:
    for count in (1, 11, 23, 24, 25, 45, 301):
        for threads in (1, 2, 3):
            runs = webp_runs(count, threads)
            assert [i for run in runs for i in range(count)[run]] == list(range(count))
            assert len(runs) == max(1, min(threads, count // 12))
            assert len(runs) == 1 or min(run.stop - run.start for run in runs) >= 12
    assert webp_runs(25, 2) == [slice(0, 13), slice(13, 25)]


@pytest.fixture(scope="module")
def jumping_frames(tmp_path_factory: pytest.TempPathFactory) -> FrameSet:
    """36 frames at 30 fps, 80x60: a flat grey that jumps by 37 levels from frame to frame (too
    far for libwebp to keep the last frame's pixels, which it does for small changes) and a
    moving textured square."""
    rng = np.random.default_rng(5)
    texture = rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)
    with FrameWriter(tmp_path_factory.mktemp("jumping"), 80, 60) as writer:
        for i in range(36):
            rgb = np.full((60, 80, 3), 20 + (37 * i) % 200, np.uint8)
            rgb[30:50, i : i + 20] = texture
            writer.append(rgb, i / 30)
    return FrameSet.load(writer.directory)


def test_webp_runs_on_threads_make_the_same_animation(
    jumping_frames: FrameSet, tmp_path: Path
) -> None:
    # 36 frames: three runs of 12, each its own libwebp encoder, joined
    selection = select_frames(jumping_frames.pts_s, start_s=0.0, end_s=1.2, fps=30)
    made = {}
    for threads in (1, 3):
        seen: list[float] = []
        dest = tmp_path / f"{threads}.webp"
        encode_webp(
            jumping_frames, selection, dest, quality=90, threads=threads, progress=seen.append
        )
        assert seen == sorted(seen) and seen[-1] == 1.0
        check_animation(dest, selection, (80, 60))
        image, durations = read_back(dest)
        levels = []
        for k in range(image.n_frames):
            image.seek(k)
            levels.append(float(np.asarray(image.convert("RGB"))[:20, 30:].mean()))
        made[threads] = (durations, levels)
    assert made[1][0] == made[3][0]
    for k, shown in enumerate(selection):  # each frame shows its own source frame
        want = 20 + (37 * shown.index) % 200
        assert abs(made[1][1][k] - want) < 2.5
        assert abs(made[3][1][k] - want) < 2.5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1.webp", "3.webp"]


def test_webp_run_failure_stops_the_others_and_leaves_nothing(
    frames: FrameSet, tmp_path: Path
) -> None:
    # Quality 100: no still-scene pass, which would read the broken frame first. The first
    # frame of the second run (of 23 and 22) is missing while the first run goes on.
    selection = select_frames(frames.pts_s, start_s=0.0, end_s=1.5, fps=30)
    gone = Shown(999, selection[23].start_s, selection[23].duration_s)
    broken = (*selection[:23], gone, *selection[24:])
    with pytest.raises(IndexError, match="frame 999"):
        encode_webp(frames, broken, tmp_path / "a.webp", quality=100, threads=2)
    assert list(tmp_path.iterdir()) == []


def test_webp_colours(frames: FrameSet, tmp_path: Path) -> None:
    selection = select_frames(frames.pts_s, start_s=0.0, end_s=1.5, fps=10)
    encode_webp(frames, selection, tmp_path / "a.webp", quality=90)
    image = Image.open(tmp_path / "a.webp")
    image.seek(4)
    rgb = np.asarray(image.convert("RGB"))
    assert abs(float(rgb[:20, 30:].mean()) - grey_level(selection[4].index)) < 2.5


def test_webp_single_frame_is_a_still(frames: FrameSet, tmp_path: Path) -> None:
    encode_webp(frames, (Shown(3, 0.0, 2.0),), tmp_path / "one.webp", quality=75)
    image = Image.open(tmp_path / "one.webp")
    assert (image.format, image.n_frames, image.size) == ("WEBP", 1, (80, 60))


def test_webp_quality_changes_bytes(frames: FrameSet, tmp_path: Path) -> None:
    selection = select_frames(frames.pts_s, start_s=0.0, end_s=1.5, fps=10)
    sizes = []
    for quality in (20, 75, 100):
        encode_webp(frames, selection, tmp_path / f"{quality}.webp", quality=quality)
        sizes.append((tmp_path / f"{quality}.webp").stat().st_size)
    assert sizes[0] < sizes[1] < sizes[2]


def _webp_frame_rects(path: Path) -> list[tuple[int, int, int, int]]:
    """(x, y, width, height) of each ANMF frame of an animated WebP (RIFF chunks)."""
    data, pos, rects = path.read_bytes(), 12, []
    while pos + 8 <= len(data):
        tag, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        if tag == b"ANMF":
            x, y, w, h = (
                int.from_bytes(data[pos + 8 + k : pos + 11 + k], "little") for k in (0, 3, 6, 9)
            )
            rects.append((2 * x, 2 * y, w + 1, h + 1))
        pos += 8 + size + (size & 1)
    return rects


def test_webp_sends_a_still_background_once(noisy_frames: FrameSet, tmp_path: Path) -> None:
    """No forced key frames: after the first frame only the moving square's rows are sent."""
    selection = select_frames(noisy_frames.pts_s, start_s=0.0, end_s=1.0, fps=15)
    encode_webp(noisy_frames, selection, tmp_path / "a.webp", quality=75)
    rects = _webp_frame_rects(tmp_path / "a.webp")
    assert len(rects) == len(selection)
    assert rects[0] == (0, 0, noisy_frames.width, noisy_frames.height)
    assert all(y >= 38 and y + h <= 58 and w < noisy_frames.width for _, y, w, h in rects[1:])


@pytest.fixture(scope="module")
def fixed_camera_frames(tmp_path_factory: pytest.TempPathFactory) -> FrameSet:
    """30 frames at 30 fps, 192x128: ``camera_frames``' fixed camera (sensor noise of +-5 levels
    on a still background) with the same shaded square moving across a picture four times as
    large, so that nearly all of it stays still (as a surveillance camera's)."""
    rng = np.random.default_rng(13)
    y, x = np.mgrid[0:128, 0:192]
    background = np.stack([x * 1.25, y * 1.75, (x + y) * 0.75], axis=2) + 20
    sy, sx = np.mgrid[0:16, 0:16]
    square = np.stack([200 - sx * 4, 60 + sy * 8, 120 + sx * sy // 2], axis=2)
    with FrameWriter(tmp_path_factory.mktemp("fixed"), 192, 128) as writer:
        for i in range(30):
            rgb = background + rng.integers(-5, 6, background.shape)
            rgb[40:56, 2 * i : 2 * i + 16] = square + rng.integers(-5, 6, square.shape)
            writer.append(np.clip(rgb, 0, 255).astype(np.uint8), i / 30)
    return FrameSet.load(writer.directory)


def _plain_webp(sources: list[np.ndarray], path: Path, libwebp_quality: float, method: int) -> Path:
    """``sources`` coded by libwebp as they are (no hold) at ``libwebp_quality`` and ``method``."""
    images = [Image.fromarray(rgb.astype(np.uint8), "RGB") for rgb in sources]
    images[0].save(
        path,
        save_all=True,
        append_images=images[1:],
        duration=[67, 66, 67] * (len(images) // 3) + [67] * (len(images) % 3),
        quality=libwebp_quality,
        method=method,
        **WEBP_ANIM_OPTIONS,
    )
    return path


def test_webp_still_scene_keeps_the_background_still(
    fixed_camera_frames: FrameSet, tmp_path: Path
) -> None:
    """A fixed camera: the noisy background is sent once and stays as it was (no shimmer); the
    file is smaller than plain libwebp at the quality the still scene gets, and closer to the
    source than plain libwebp at the Quality's own."""
    frames = fixed_camera_frames
    selection = select_frames(frames.pts_s, start_s=0.0, end_s=1.0, fps=15)
    assert scene_stillness(frames, [s.index for s in selection]) >= WEBP_STILL_SCENE
    encode_webp(frames, selection, tmp_path / "a.webp", quality=75)
    with frames.reader() as reader:
        sources = [np.asarray(reader.frame(s.index), dtype=np.int16) for s in selection]
    plain = {
        q: _plain_webp(sources, tmp_path / f"plain{q:g}.webp", q, WEBP_STILL_METHOD)
        for q in (webp_quality(75), webp_still_quality(webp_quality(75)))
    }
    shown = frames_rgb(tmp_path / "a.webp")
    background = np.ones((128, 192), dtype=bool)
    background[32:64] = False  # the square's rows (40..55) and their 16-pixel blocks
    for frame in shown[1:]:
        assert np.array_equal(frame[background], shown[0][background])

    def error(frames: list[np.ndarray]) -> float:
        return float(np.mean([np.abs(f - s).mean() for f, s in zip(frames, sources, strict=True)]))

    size = (tmp_path / "a.webp").stat().st_size
    assert size < plain[webp_still_quality(webp_quality(75))].stat().st_size
    assert error(shown) < error(frames_rgb(plain[webp_quality(75)]))


def test_webp_partly_still_scene_is_coded_plainly_with_more_effort(
    camera_frames: FrameSet, fixed_camera_frames: FrameSet, tmp_path: Path
) -> None:
    """The same camera with the square a large part of the picture (still fraction between
    WEBP_PARTLY_STILL and WEBP_STILL_SCENE): nothing held, every frame as libwebp codes it at
    the partly still plan's quality and method; the fixed camera's plan differs."""
    selection = select_frames(camera_frames.pts_s, start_s=0.0, end_s=1.0, fps=15)
    indexes = [s.index for s in selection]
    still = scene_stillness(camera_frames, indexes)
    assert WEBP_PARTLY_STILL <= still < WEBP_STILL_SCENE
    plan = webp_plan(75, still)
    assert plan.hold is None and plan.method == WEBP_STILL_METHOD
    assert plan.libwebp_quality > webp_quality(75)
    encode_webp(camera_frames, selection, tmp_path / "a.webp", quality=75, threads=1)
    with camera_frames.reader() as reader:
        sources = [np.asarray(reader.frame(i), dtype=np.int16) for i in indexes]
    plain = _plain_webp(sources, tmp_path / "plain.webp", plan.libwebp_quality, plan.method)
    shown = frames_rgb(tmp_path / "a.webp")
    assert all(np.array_equal(a, b) for a, b in zip(shown, frames_rgb(plain), strict=True))
    moving = webp_plan(75, 0.0)
    assert not any(
        np.array_equal(a, b)
        for a, b in zip(
            shown[1:],
            frames_rgb(_plain_webp(sources, tmp_path / "m.webp", moving.libwebp_quality, 2))[1:],
            strict=True,
        )
    )
