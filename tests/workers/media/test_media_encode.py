"""GIF and WebP encoding read back with Pillow: frames, delays, loop, size, pixels."""

from __future__ import annotations

import itertools
import struct
from pathlib import Path

import numpy as np
import pytest
from media_clips import GREY_STEP, grey_frame, grey_level
from PIL import Image

from animgraph.workers.media import encode as encode_module
from animgraph.workers.media.encode import (
    Delay,
    display_delays,
    encode_gif,
    encode_webp,
    gif_hold_levels,
    gif_max_colors,
    still_fraction,
    webp_quality,
    webp_runs,
)
from animgraph.workers.media.framestore import FrameSet, FrameWriter
from animgraph.workers.media.select import Selection, Shown, select_frames
from animgraph.workers.media.temporal import TemporalHold


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> FrameSet:
    """45 frames at 30 fps (1.5 s), 80x60, frame i a flat grey level with a moving square."""
    rng = np.random.default_rng(7)
    texture = rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)
    with FrameWriter(tmp_path_factory.mktemp("frames"), 80, 60) as writer:
        for i in range(45):
            rgb = grey_frame(i, 80, 60)
            rgb[30:50, i : i + 20] = texture  # detail so that WebP quality matters
            writer.append(rgb, i / 30)
    return FrameSet.load(writer.directory)


def read_back(path: Path) -> tuple[Image.Image, list[int]]:
    image = Image.open(path)
    durations = []
    for k in range(image.n_frames):
        image.seek(k)
        image.load()
        durations.append(image.info["duration"])
    image.seek(0)
    return image, durations


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


def test_gif_max_colors_falls_with_quality() -> None:
    colours = [gif_max_colors(q) for q in (1, 25, 39, 40, 75, 100)]
    assert colours == sorted(colours) and colours[0] == 64 and colours[-3:] == [256, 256, 256]


def test_gif_hold_levels_fall_as_quality_rises() -> None:
    levels = [gif_hold_levels(q) for q in (1, 25, 50, 75, 99, 100)]
    assert levels == sorted(levels, reverse=True) and levels[-1] == 0 and levels[0] <= 16


def test_temporal_hold_keeps_still_pixels_and_redraws_changes() -> None:
    rng = np.random.default_rng(3)
    hold = TemporalHold(4)
    base = np.full((6, 8, 3), 100, np.uint8)
    first = hold.redraw(base)
    assert first.all()  # the first frame is drawn whole
    hold.wrote(first, base)
    noisy = base + rng.integers(0, 4, base.shape, dtype=np.uint8)  # sensor noise, 0..3 levels
    moved = noisy.copy()
    moved[2:4, 2:4] = 200  # a real change
    changed = np.zeros((6, 8), bool)
    changed[2:4, 2:4] = True
    np.testing.assert_array_equal(hold.redraw(moved), changed)  # noise is not redrawn


def test_temporal_hold_compares_with_the_source_at_the_last_write() -> None:
    hold = TemporalHold(4)
    start = np.full((1, 1, 3), 100, np.uint8)
    hold.wrote(hold.redraw(start), start)
    # a slow drift of 2 levels per frame redraws once it adds up past the tolerance
    redrawn = []
    for k in (1, 2, 3, 4):
        rgb = np.full((1, 1, 3), 100 + 2 * k, np.uint8)
        mask = hold.redraw(rgb)
        hold.wrote(mask, rgb)
        redrawn.append(bool(mask[0, 0]))
    assert redrawn == [False, False, True, False]


def test_temporal_hold_at_zero_levels_redraws_every_frame() -> None:
    hold = TemporalHold(0)
    rgb = np.zeros((2, 2, 3), np.uint8)
    hold.wrote(hold.redraw(rgb), rgb)
    assert hold.redraw(rgb).all()
    other = TemporalHold(3)
    other.wrote(other.redraw(rgb), rgb)
    with pytest.raises(ValueError, match="does not match"):
        other.redraw(np.zeros((3, 3, 3), np.uint8))


def check_animation(path: Path, selection: Selection, size: tuple[int, int]) -> Image.Image:
    image, durations = read_back(path)
    assert image.size == size
    assert image.info["loop"] == 0  # forever
    assert image.n_frames == len(selection)
    segment_ms = (selection[-1].end_s - selection[0].start_s) * 1000
    assert sum(durations) == pytest.approx(segment_ms, abs=10)
    return image


@pytest.mark.parametrize("fps", [10, 15, 24])
def test_gif(frames: FrameSet, tmp_path: Path, fps: int) -> None:
    selection = select_frames(frames.pts_s, start_s=0.2, end_s=1.45, fps=fps)
    seen: list[float] = []
    encode_gif(frames, selection, tmp_path / "a.gif", quality=75, progress=seen.append)
    image = check_animation(tmp_path / "a.gif", selection, (80, 60))
    _, durations = read_back(tmp_path / "a.gif")
    assert sum(durations) == 1250  # exact to the centisecond
    assert seen == sorted(seen) and seen[-1] == 1.0
    assert [p.name for p in tmp_path.iterdir()] == ["a.gif"]  # no temporary left
    # flat grey areas keep their level; palette + dithering stay within a step, and the
    # temporal hold within its tolerance more
    for k in (0, len(selection) - 1):
        image.seek(k)
        rgb = np.asarray(image.convert("RGB"))
        error = abs(float(rgb[:20, 30:].mean()) - grey_level(selection[k].index))
        assert error < GREY_STEP + gif_hold_levels(75)


def test_gif_single_frame(frames: FrameSet, tmp_path: Path) -> None:
    selection = (Shown(3, 0.0, 2.0),)
    encode_gif(frames, selection, tmp_path / "one.gif", quality=75)
    image, durations = read_back(tmp_path / "one.gif")
    assert (image.n_frames, durations) == (1, [2000])


def test_gif_quality_steers_the_palette(frames: FrameSet, tmp_path: Path) -> None:
    # fewer colours is what makes real footage smaller (measured on cockatoo.mp4: 256 -> 32
    # colours is 1.15 MB -> 0.64 MB); on this synthetic noise it is the colour count to check
    selection = select_frames(frames.pts_s, start_s=0.0, end_s=1.5, fps=10)
    used = []
    for quality in (10, 100):
        encode_gif(frames, selection, tmp_path / f"{quality}.gif", quality=quality)
        image = Image.open(tmp_path / f"{quality}.gif")
        image.seek(5)
        used.append(len(np.unique(np.asarray(image.convert("RGB")).reshape(-1, 3), axis=0)))
    assert used[0] <= gif_max_colors(10) < used[1]


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


@pytest.fixture(scope="module")
def noisy_frames(tmp_path_factory: pytest.TempPathFactory) -> FrameSet:
    """30 frames at 30 fps, 96x64: a still textured background with sensor noise (+-1 level)
    and a square moving across it: what a fixed camera films."""
    rng = np.random.default_rng(11)
    y, x = np.mgrid[0:64, 0:96]
    background = np.stack([x * 2.5, y * 3.5, (x + y) * 1.5], axis=2) + 20
    square = rng.integers(0, 256, (16, 16, 3))
    with FrameWriter(tmp_path_factory.mktemp("noisy"), 96, 64) as writer:
        for i in range(30):
            rgb = background + rng.integers(-1, 2, background.shape)
            rgb[40:56, 2 * i : 2 * i + 16] = square
            writer.append(np.clip(rgb, 0, 255).astype(np.uint8), i / 30)
    return FrameSet.load(writer.directory)


def _frames_rgb(path: Path) -> list[np.ndarray]:
    image = Image.open(path)
    out = []
    for k in range(image.n_frames):
        image.seek(k)
        out.append(np.asarray(image.convert("RGB"), dtype=np.int16))
    return out


def test_gif_still_area_does_not_flicker(noisy_frames: FrameSet, tmp_path: Path) -> None:
    # At Quality 40 the hold covers the +-1 noise of a smooth area (levels 1.82, times the
    # texture scale of the noise). At the default 75 a smooth area is held only where it did
    # not change (levels 0.76): sharper smooth areas, chosen on the bench corpus, where the
    # flicker of every clip stays under gifski's (bench/README.md).
    selection = select_frames(noisy_frames.pts_s, start_s=0.0, end_s=1.0, fps=15)
    encode_gif(noisy_frames, selection, tmp_path / "a.gif", quality=40)
    frames = _frames_rgb(tmp_path / "a.gif")
    still = (slice(0, 36), slice(None))  # above the moving square
    changes = [np.abs(b[still] - a[still]).max() for a, b in itertools.pairwise(frames)]
    assert max(changes) == 0


def test_webp_quality_maps_the_template_scale_monotonically() -> None:
    mapped = [webp_quality(q) for q in range(1, 101)]
    assert mapped == sorted(mapped) and 0 <= mapped[0] < mapped[-1] == 100
    default = encode_module.WEBP_DEFAULT_QUALITY
    assert webp_quality(default) == encode_module.WEBP_QUALITY_AT_DEFAULT


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


def test_gif_quality_is_monotonic_in_bytes(noisy_frames: FrameSet, tmp_path: Path) -> None:
    selection = select_frames(noisy_frames.pts_s, start_s=0.0, end_s=1.0, fps=15)
    sizes = []
    for quality in (1, 25, 50, 75, 90, 100):
        encode_gif(noisy_frames, selection, tmp_path / f"{quality}.gif", quality=quality)
        sizes.append((tmp_path / f"{quality}.gif").stat().st_size)
    # Neighbouring settings that hold the same pixels (here 50 and 75 differ in 8 of 92k
    # pixels) may differ by a few bytes of LZW either way; beyond 1% the order must hold.
    assert all(b >= a * 0.99 for a, b in itertools.pairwise(sizes))
    assert sizes[0] < sizes[2] < sizes[-1]


@pytest.fixture(scope="module")
def panning_frames(tmp_path_factory: pytest.TempPathFactory) -> FrameSet:
    """30 frames at 30 fps, 96x64: a textured scene panning 2 px a frame (a moving camera)."""
    rng = np.random.default_rng(12)
    world = rng.integers(0, 256, (64, 160, 3)).astype(np.uint8)
    with FrameWriter(tmp_path_factory.mktemp("pan"), 96, 64) as writer:
        for i in range(30):
            writer.append(np.ascontiguousarray(world[:, 2 * i : 2 * i + 96]), i / 30)
    return FrameSet.load(writer.directory)


def test_still_scene_is_told_from_a_moving_camera(
    noisy_frames: FrameSet, camera_frames: FrameSet, panning_frames: FrameSet
) -> None:
    cases = ((noisy_frames, True), (camera_frames, True), (panning_frames, False))
    for frames, still in cases:
        selection = select_frames(frames.pts_s, start_s=0.0, end_s=1.0, fps=15)
        with frames.reader() as reader:
            indexes = [s.index for s in selection]
            fraction = still_fraction(reader, indexes)
            early = still_fraction(reader, indexes, encode_module.WEBP_STILL_SCENE)
        assert (fraction >= encode_module.WEBP_STILL_SCENE) is still, fraction
        assert (early >= encode_module.WEBP_STILL_SCENE) is still, early
    with noisy_frames.reader() as reader:
        assert still_fraction(reader, [0]) == 0.0


@pytest.fixture(scope="module")
def camera_frames(tmp_path_factory: pytest.TempPathFactory) -> FrameSet:
    """30 frames at 30 fps, 96x64: a fixed camera with real sensor noise (+-5 levels) on a still
    background and a shaded square moving across it."""
    rng = np.random.default_rng(13)
    y, x = np.mgrid[0:64, 0:96]
    background = np.stack([x * 2.5, y * 3.5, (x + y) * 1.5], axis=2) + 20
    sy, sx = np.mgrid[0:16, 0:16]
    square = np.stack([200 - sx * 4, 60 + sy * 8, 120 + sx * sy // 2], axis=2)
    with FrameWriter(tmp_path_factory.mktemp("camera"), 96, 64) as writer:
        for i in range(30):
            rgb = background + rng.integers(-5, 6, background.shape)
            rgb[40:56, 2 * i : 2 * i + 16] = square + rng.integers(-5, 6, square.shape)
            writer.append(np.clip(rgb, 0, 255).astype(np.uint8), i / 30)
    return FrameSet.load(writer.directory)


def test_webp_still_scene_keeps_the_background_still(
    camera_frames: FrameSet, tmp_path: Path
) -> None:
    """A fixed camera: the noisy background is sent once and stays as it was (no shimmer); the
    file is smaller than plain libwebp at the quality the still scene gets, and closer to the
    source than plain libwebp at the Quality's own."""
    selection = select_frames(camera_frames.pts_s, start_s=0.0, end_s=1.0, fps=15)
    encode_webp(camera_frames, selection, tmp_path / "a.webp", quality=75)
    with camera_frames.reader() as reader:
        sources = [np.asarray(reader.frame(s.index), dtype=np.int16) for s in selection]
    images = [Image.fromarray(rgb.astype(np.uint8), "RGB") for rgb in sources]
    plain = {}
    for libwebp_quality in (webp_quality(75), 80):
        path = tmp_path / f"plain{libwebp_quality:g}.webp"
        images[0].save(
            path,
            save_all=True,
            append_images=images[1:],
            quality=libwebp_quality,
            method=encode_module.WEBP_METHOD,
            **encode_module.WEBP_ANIM_OPTIONS,
        )
        plain[libwebp_quality] = path
    shown = _frames_rgb(tmp_path / "a.webp")
    background = np.ones((64, 96), dtype=bool)
    background[32:64] = False  # the square's rows (40..55) and their 16-pixel blocks
    for frame in shown[1:]:
        assert np.array_equal(frame[background], shown[0][background])

    def error(frames: list[np.ndarray]) -> float:
        return float(np.mean([np.abs(f - s).mean() for f, s in zip(frames, sources, strict=True)]))

    size = (tmp_path / "a.webp").stat().st_size
    assert size < plain[80].stat().st_size
    assert error(shown) < error(_frames_rgb(plain[webp_quality(75)]))
