"""The GIF writer and its C loop (workers/media/gifwriter.py, _gifcore.c), decoded back by
Pillow and by PyAV's FFmpeg."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest
from PIL import Image

from animgraph.workers.media.gifwriter import TRANSPARENT, GifWriter

H, W = 37, 53


def _palette(seed: int = 0, count: int = 255) -> np.ndarray:
    """Distinct colours, each alone in its cell of the nearest-colour cache (7 bits a channel):
    even levels only, so a palette colour always maps to itself."""
    rng = np.random.default_rng(seed)
    cells = rng.choice(128**3, count, replace=False)
    return np.stack([cells // 128**2, cells // 128 % 128, cells % 128], 1).astype(np.uint8) * 2


def _index_frames(count: int = 30) -> list[np.ndarray]:
    """Index pictures with still stretches, partial changes, a flat frame and a small change."""
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 20, (H, W)).astype(np.uint8)
    out = []
    for k in range(count):
        frame = frame.copy()
        changed = rng.random((H, W)) < (0.5 if k % 3 else 0.0)
        frame[changed] = rng.integers(0, 255, int(changed.sum()))
        if k == 7:
            frame[:] = 3
        if k == 12:
            frame[5:9, 40:45] = 200  # a small change: a cropped frame
        out.append(frame)
    return out


def _write(
    rgbs: list[np.ndarray],
    palette: np.ndarray,
    threshold: int,
    redraw: bool = True,
    search: int = 0,
) -> tuple[bytes, list[np.ndarray]]:
    """Write frames, each redrawing where it differs from the frame before; the screens."""
    buf = io.BytesIO()
    height, width = rgbs[0].shape[:2]
    writer = GifWriter(buf, width, height, palette, threshold, search=search)
    screens, before = [], None
    for rgb in rgbs:
        mask = None if before is None or not redraw else (rgb != before).any(axis=2)
        writer.add(rgb, mask, 7)
        assert writer.screen is not None
        screens.append(writer.screen.copy())
        before = rgb
    writer.close()
    return buf.getvalue(), screens


def _decoded_pillow(data: bytes) -> list[np.ndarray]:
    image = Image.open(io.BytesIO(data))
    out = []
    for k in range(image.n_frames):
        image.seek(k)
        out.append(np.asarray(image.convert("RGB")))
    return out


def _decoded_pyav(data: bytes) -> list[np.ndarray]:
    with av.open(io.BytesIO(data)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def _table(palette: np.ndarray) -> np.ndarray:
    table = np.zeros((256, 3), np.uint8)
    table[: len(palette)] = palette
    return table


def _oklab(rgb: np.ndarray) -> np.ndarray:
    c = rgb.astype(np.float64) / 255
    c = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    lms = c @ np.array(
        [[0.4122214708, 0.5363325363, 0.0514459929],
         [0.2119034982, 0.6806995451, 0.1073969566],
         [0.0883024619, 0.2817188376, 0.6299787005]]
    ).T  # fmt: skip
    lms = np.cbrt(lms)
    return lms @ np.array(
        [[0.2104542553, 0.7936177850, -0.0040720468],
         [1.9779984951, -2.4285922050, 0.4505937099],
         [0.0259040371, 0.7827717662, -0.8086757660]]
    ).T  # fmt: skip


def test_palette_pictures_decode_to_exactly_themselves() -> None:
    """Frames made of palette colours need no dithering: lossless, every frame comes back
    exactly, through transparency, crops and a frame with nothing redrawn."""
    palette = _palette()
    frames = _index_frames()
    rgbs = [palette[f] for f in frames]
    rgbs.append(rgbs[-1].copy())  # nothing changed: a 1x1 transparent frame
    data, screens = _write(rgbs, palette, threshold=0)
    for screen, rgb in zip(screens, rgbs, strict=True):
        np.testing.assert_array_equal(palette[screen], rgb)
    for decoded in (_decoded_pillow(data), _decoded_pyav(data)):
        assert len(decoded) == len(rgbs)
        for got, rgb in zip(decoded, rgbs, strict=True):
            np.testing.assert_array_equal(got, rgb)
    image = Image.open(io.BytesIO(data))
    assert image.info["loop"] == 0 and image.info["duration"] == 70
    # Later frames are cut to what changed: the frame after the small change is small.
    assert len(data) < sum(f.nbytes for f in frames)


def test_large_noisy_frames_roll_the_code_table_over() -> None:
    """Noise fills the 4096-entry LZW table many times a frame: clear codes and code sizes
    from 9 to 12 bits must round-trip, lossless and lossy."""
    rng = np.random.default_rng(9)
    palette = _palette(3)
    frames = [rng.integers(0, 255, (200, 300)).astype(np.uint8) for _ in range(2)]
    frames.append(np.where(rng.random((200, 300)) < 0.3, frames[1], 17).astype(np.uint8))
    for threshold in (0, 400):
        data, screens = _write([palette[f] for f in frames], palette, threshold)
        for decoded in (_decoded_pillow(data), _decoded_pyav(data)):
            for got, screen in zip(decoded, screens, strict=True):
                np.testing.assert_array_equal(got, _table(palette)[screen])


def _smooth_palette() -> np.ndarray:
    """Neighbouring entries close to each other: lossy matches have somewhere to go."""
    ramp = np.linspace(0, 254, 255)
    return np.stack([ramp, ramp[::-1], np.full(255, 128)], 1).astype(np.uint8)


def _noisy_gradient(seed: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """A smooth palette and ten frames of a slowly moving noisy gradient over it."""
    palette = _smooth_palette()
    rng = np.random.default_rng(seed)
    frames = [
        np.clip(np.arange(W)[None, :] * 4 + rng.integers(-3, 4, (H, W)) + k, 0, 254).astype(
            np.uint8
        )
        for k in range(10)
    ]
    return palette, [palette[f] for f in frames]


def test_lossy_matches_stay_within_the_threshold_and_shrink_the_file() -> None:
    palette, rgbs = _noisy_gradient(5)
    sizes, errors = [], []
    for threshold in (0, 60, 400):
        data, screens = _write(rgbs, palette, threshold=threshold)
        for screen, got in zip(screens, _decoded_pyav(data), strict=True):
            np.testing.assert_array_equal(got, _table(palette)[screen])  # what a viewer sees
        sizes.append(len(data))
        # The dithering spreads the colour error of each lossy match to the neighbours: what
        # the eye averages (4x4 blocks) stays close to the source.
        shown = _blocks(palette[screens[0]])
        source = _blocks(rgbs[0])
        errors.append(float(np.abs(shown - source).mean()))
    assert sizes[1] < 0.8 * sizes[0] and sizes[2] < sizes[1]
    assert errors[0] < 0.5 and errors[1] < 1.0 and errors[2] < 2.0, errors


def test_the_match_search_finds_longer_codes_within_the_same_tolerance() -> None:
    """With a search budget each code is the longest match the string table offers within the
    tolerance (not the greedy cheapest step): fewer bytes, the frames still decode to exactly
    what the writer says is on screen, and the eye's average stays as close to the source."""
    palette, rgbs = _noisy_gradient(6)
    sizes, errors = [], []
    for search in (0, 64):
        data, screens = _write(rgbs, palette, threshold=60, search=search)
        for screen, got in zip(screens, _decoded_pyav(data), strict=True):
            np.testing.assert_array_equal(got, _table(palette)[screen])
        sizes.append(len(data))
        errors.append(float(np.abs(_blocks(palette[screens[0]]) - _blocks(rgbs[0])).mean()))
    assert sizes[1] < 0.95 * sizes[0], sizes
    assert errors[1] < 1.0, errors


def test_the_match_search_stays_lossless_without_tolerance() -> None:
    """At threshold 0 the search only chooses between entries that show the same (a held
    pixel's transparent index or the colour on screen): every frame comes back exactly."""
    palette = _palette()
    rgbs = [palette[f] for f in _index_frames()]
    greedy, _ = _write(rgbs, palette, threshold=0)
    data, _ = _write(rgbs, palette, threshold=0, search=64)
    for got, rgb in zip(_decoded_pyav(data), rgbs, strict=True):
        np.testing.assert_array_equal(got, rgb)
    assert len(data) <= len(greedy)


def test_two_coder_threads_write_the_same_bytes() -> None:
    """Two frames coded at once (the later a row behind the earlier, reading the screen the
    earlier leaves) give exactly the file one coder gives: held pixels, transparency, crops,
    lossy matches and the match search all read the screen."""
    rng = np.random.default_rng(8)
    palette = _smooth_palette()
    frames = [palette[f] for f in _index_frames(24)]
    frames = [np.clip(f.astype(int) + rng.integers(-6, 7, f.shape), 0, 255).astype(np.uint8)
              for f in frames]  # fmt: skip
    files = []
    for threads in (1, 2):
        buf = io.BytesIO()
        writer = GifWriter(buf, W, H, palette, 300, search=64, threads=threads)
        before = None
        for rgb in frames:
            mask = None if before is None else np.abs(rgb.astype(int) - before).max(axis=2) > 20
            writer.add(rgb, mask, 4)
            before = rgb.astype(int)
        writer.close()
        files.append(buf.getvalue())
    assert files[0] == files[1]
    assert len(_decoded_pyav(files[1])) == len(frames)


@pytest.mark.timeout(20)
def test_a_frame_the_coder_refuses_does_not_hang_the_next() -> None:
    palette = _palette()
    writer = GifWriter(io.BytesIO(), W, H, palette, threads=2)
    good = palette[_index_frames(1)[0]]
    writer.add(good, None, 4)
    with pytest.raises(ValueError, match="buffer sizes"):
        writer.add(good, np.ones((H, W), bool), 4, tolerance=np.ones((2, 2), np.uint8))
        writer.add(good, np.ones((H, W), bool), 4)
        writer.close()
    writer.abandon()


def _blocks(rgb: np.ndarray) -> np.ndarray:
    """Means of 4x4 blocks (the frame's whole blocks)."""
    h, w = rgb.shape[0] // 4 * 4, rgb.shape[1] // 4 * 4
    return rgb[:h, :w].astype(float).reshape(h // 4, 4, w // 4, 4, 3).mean(axis=(1, 3))


def test_held_pixels_keep_the_screen() -> None:
    palette = _palette(4)
    first = palette[np.full((H, W), 9, np.uint8)]
    second = palette[np.full((H, W), 30, np.uint8)]
    buf = io.BytesIO()
    writer = GifWriter(buf, W, H, palette)
    writer.add(first, None, 5)
    redraw = np.zeros((H, W), bool)
    redraw[10:20, 5:15] = True
    drawn = writer.add(second, redraw, 5)
    writer.close()
    np.testing.assert_array_equal(drawn, redraw)
    last = _decoded_pyav(buf.getvalue())[-1]
    np.testing.assert_array_equal(last[redraw], second[redraw])
    np.testing.assert_array_equal(last[~redraw], first[~redraw])


def test_dithering_keeps_the_mean_and_uses_only_the_given_colours() -> None:
    palette = np.array([[0, 0, 0], [254, 254, 254], [254, 0, 0], [0, 0, 254]], np.uint8)
    grey = np.full((40, 60, 3), 128, np.uint8)
    buf = io.BytesIO()
    writer = GifWriter(buf, 60, 40, palette, colours=2)
    writer.add(grey, None, 5)
    assert writer.screen is not None
    assert set(np.unique(writer.screen)) == {0, 1}
    assert TRANSPARENT not in writer.screen
    assert abs(palette[writer.screen].astype(float).mean() - 128) < 4


def test_writer_refuses_bad_input() -> None:
    writer = GifWriter(io.BytesIO(), W, H, _palette())
    with pytest.raises(ValueError, match="is not"):
        writer.add(np.zeros((H + 1, W, 3), np.uint8), None, 5)
    with pytest.raises(ValueError, match="delay"):
        writer.add(np.zeros((H, W, 3), np.uint8), None, -1)
    with pytest.raises(ValueError, match="threshold"):
        GifWriter(io.BytesIO(), W, H, _palette(), -1)
    with pytest.raises(ValueError, match="search"):
        GifWriter(io.BytesIO(), W, H, _palette(), search=-1)
    with pytest.raises(ValueError, match="threads"):
        GifWriter(io.BytesIO(), W, H, _palette(), threads=3)
    with pytest.raises(ValueError, match="colours"):
        GifWriter(io.BytesIO(), W, H, _palette()[:4], colours=5)


def test_exact_colours_are_drawn_with_their_own_entry() -> None:
    """The coder looks colours up by 7-bit cell at the cell's odd corner: black's cell is
    looked up as (1, 1, 1). A flat colour given as ``exact`` maps its cell to its own entry."""
    palette = np.array([[255, 255, 255], [1, 1, 1], [0, 0, 0], [128, 0, 0]], dtype=np.uint8)
    black = np.zeros((8, 8, 3), dtype=np.uint8)
    shown = []
    for exact in (None, np.array([[0, 0, 0], [1, 1, 1]], dtype=np.uint8)):
        out = io.BytesIO()
        writer = GifWriter(out, 8, 8, palette, exact=exact)
        writer.add(black, np.ones((8, 8), dtype=bool), 10, None)
        writer.close()
        out.seek(0)
        with Image.open(out) as image:
            shown.append(np.asarray(image.convert("RGB"))[0, 0].tolist())
    assert shown == [[1, 1, 1], [0, 0, 0]]  # the first exact colour of a cell keeps it
