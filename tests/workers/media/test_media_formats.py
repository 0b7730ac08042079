"""The AVIF, APNG, MP4 and WebM encoders and joins, read back as a browser or player would.

Real frames (cockatoo.mp4: hand-held motion, fine feathers) and the synthetic frame sets of
conftest.py. Images are decoded with Pillow (libavif/dav1d for AVIF), videos with PyAV; every
check reads the file, not the encoder's intentions: frame count, each frame's display time in
ms, size, play count, container layout, colours.
"""

from __future__ import annotations

import io
import itertools
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import pytest
from av.video.reformatter import ColorRange, Colorspace, Interpolation
from PIL import Image

from animgraph.shared.formats import FORMATS
from animgraph.workers.media.apng import delay_fraction, encode_apng, filter_rows, join_apngs
from animgraph.workers.media.decode import decode_segment
from animgraph.workers.media.encode import ENCODERS, MEDIA_FORMATS, can_join
from animgraph.workers.media.framestore import FrameSet, FrameWriter
from animgraph.workers.media.quality import apng_max_colors, avif_crf, vp9_crf, x264_crf
from animgraph.workers.media.select import Selection, select_frames
from animgraph.workers.media.timing import display_delays

DATA = Path(__file__).resolve().parents[2] / "data"
NEW = ["avif", "apng", "mp4", "webm"]
VIDEO = {"mp4", "webm"}
# The shortest frame each format is given (browsers play <= 10 ms as 100 ms in images).
MIN_DELAY_MS = {"avif": 11, "apng": 11, "mp4": 1, "webm": 1}
# Mean PSNR (dB) of the frames read back against the source frames at Quality 75 on the
# 320x180 cockatoo clip; measured 37.4 (avif), 41.3 (apng), 36.3 (mp4), 36.5 (webm).
MIN_PSNR = {"avif": 36.5, "apng": 40.0, "mp4": 35.5, "webm": 35.5}

Rgb = npt.NDArray[np.uint8]


# --- Fixtures and readers --------------------------------------------------------------------


@pytest.fixture(scope="module")
def cockatoo(tmp_path_factory: pytest.TempPathFactory) -> FrameSet:
    """2 s of cockatoo.mp4 (2..4 s) at 320x180, the frames a 15 fps animation shows."""
    return decode_segment(
        DATA / "cockatoo.mp4",
        tmp_path_factory.mktemp("cockatoo"),
        start_s=2.0,
        end_s=4.0,
        width=320,
        height=180,
        fps=15,
    )


@pytest.fixture(scope="module")
def odd_frames(tmp_path_factory: pytest.TempPathFactory) -> FrameSet:
    """6 frames at 10 fps, 81x61: a gradient with a square moving across it."""
    y, x = np.mgrid[0:61, 0:81]
    background = np.stack([x * 3, y * 4, (x + y) * 2], axis=2).astype(np.uint8)
    with FrameWriter(tmp_path_factory.mktemp("odd"), 81, 61) as writer:
        for i in range(6):
            rgb = background.copy()
            rgb[20:36, 8 * i : 8 * i + 16] = (250, 40, 40)
            writer.append(rgb, i / 10)
    return FrameSet.load(writer.directory)


def _selection(frames: FrameSet, start_s: float = 2.0, end_s: float = 4.0) -> Selection:
    return select_frames(frames.pts_s, start_s=start_s, end_s=end_s, fps=15)


def _whole(frames: FrameSet) -> Selection:
    return select_frames(
        frames.pts_s, start_s=frames.pts_s[0], end_s=frames.pts_s[-1] + 0.1, fps=10
    )


def read_back(path: Path, fmt: str) -> tuple[list[Rgb], list[int], tuple[int, int]]:
    """Every frame as shown (RGB), its display time in ms and the picture size."""
    return _read_video(path) if fmt in VIDEO else _read_image(path)


def _read_image(path: Path) -> tuple[list[Rgb], list[int], tuple[int, int]]:
    with Image.open(path) as image:
        pictures, durations = [], []
        for k in range(image.n_frames):
            image.seek(k)
            image.load()
            durations.append(round(image.info["duration"]))
            pictures.append(np.asarray(image.convert("RGB"), dtype=np.uint8).copy())
        return pictures, durations, image.size


def _read_video(path: Path) -> tuple[list[Rgb], list[int], tuple[int, int]]:
    """Frames converted as tagged (BT.709, limited range); durations from the presentation
    timestamps, the last one to the end of the presentation (the container's duration)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        pts = sorted(p.pts for p in container.demux(stream) if p.size)
        ms = [round(t * stream.time_base * 1000) for t in pts]
        end_ms = round((container.duration or 0) / 1000)  # av.time_base: microseconds
    with av.open(str(path)) as container:
        pictures = [
            frame.reformat(
                format="rgb24",
                src_colorspace=Colorspace.ITU709,
                src_color_range=ColorRange.MPEG,
                dst_color_range=ColorRange.JPEG,
                interpolation=Interpolation.BICUBIC | Interpolation.ACCURATE_RND,
            ).to_ndarray()
            for frame in container.decode(video=0)
        ]
    assert ms[0] == 0  # the first frame at the start, B-frame delay or not
    durations = [b - a for a, b in itertools.pairwise([*ms, end_ms])]
    return pictures, durations, (pictures[0].shape[1], pictures[0].shape[0])


def _psnr(a: Rgb, b: Rgb) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255**2 / max(mse, 1e-9))


def _boxes(data: bytes, start: int = 0, end: int | None = None) -> list[tuple[bytes, int, int]]:
    """(type, payload offset, payload end) of the ISO BMFF boxes in data[start:end]."""
    end = len(data) if end is None else end
    boxes = []
    while start + 8 <= end:
        size, kind = struct.unpack(">I4s", data[start : start + 8])
        header = 8
        if size == 1:
            (size,) = struct.unpack(">Q", data[start + 8 : start + 16])
            header = 16
        boxes.append((kind, start + header, start + size))
        start += size
    return boxes


def _box(data: bytes, path: Sequence[bytes]) -> bytes:
    """The payload of the first box at ``path`` (e.g. moov/trak/tkhd)."""
    start, end = 0, len(data)
    for kind in path:
        start, end = next((s, e) for k, s, e in _boxes(data, start, end) if k == kind)
    return data[start:end]


# --- The table -----------------------------------------------------------------------------


def test_every_format_has_an_encoder_and_a_join() -> None:
    assert set(MEDIA_FORMATS) == set(FORMATS) == set(ENCODERS)
    for name, media in MEDIA_FORMATS.items():
        assert ENCODERS[name] is media.encode
        assert can_join(name)
        assert (media.video, media.even_size) == (name in VIDEO, name in VIDEO)
        assert media.carries_loop_count == FORMATS[name].carries_loop_count
    assert not can_join("bmp")


def test_quality_maps_are_monotone() -> None:
    qualities = range(1, 101)
    for crf in (x264_crf, vp9_crf, avif_crf):
        values = [crf(q) for q in qualities]
        assert values == sorted(values, reverse=True)
    assert (x264_crf(75), vp9_crf(75), avif_crf(75)) == (23, 32, 32)
    colours = [apng_max_colors(q) for q in qualities]
    assert colours == sorted(colours) and colours[-1] == 255 and colours[0] >= 16


# --- Each format on real frames --------------------------------------------------------------


@pytest.mark.parametrize("fmt", NEW)
def test_frames_durations_size_and_pictures(cockatoo: FrameSet, tmp_path: Path, fmt: str) -> None:
    selection = _selection(cockatoo)
    dest = tmp_path / f"a.{fmt}"
    ENCODERS[fmt](cockatoo, selection, dest, quality=75)
    pictures, durations, size = read_back(dest, fmt)
    delays = display_delays(selection, 1000, MIN_DELAY_MS[fmt])
    assert size == (320, 180)
    assert len(pictures) == len(delays) == 30
    assert durations == [d.delay for d in delays]
    assert sum(durations) == 2000
    with cockatoo.reader() as reader:
        psnr = np.mean(
            [_psnr(p, reader.frame(d.index)) for p, d in zip(pictures, delays, strict=True)]
        )
    assert psnr > MIN_PSNR[fmt]


@pytest.mark.parametrize("fmt", NEW)
def test_quality_orders_the_bytes(cockatoo: FrameSet, tmp_path: Path, fmt: str) -> None:
    selection = _selection(cockatoo, 2.0, 3.0)
    sizes = []
    for quality in (40, 75, 100):
        dest = tmp_path / f"q{quality}.{fmt}"
        ENCODERS[fmt](cockatoo, selection, dest, quality=quality)
        sizes.append(dest.stat().st_size)
    assert sizes[0] < sizes[1] < sizes[2]


@pytest.mark.parametrize("fmt", NEW)
def test_one_frame(frames: FrameSet, tmp_path: Path, fmt: str) -> None:
    """A still segment: one frame for its time (an AVIF of one frame is a still image, with
    no time of its own, as a WebP of one frame)."""
    selection = select_frames(frames.pts_s, start_s=0.0, end_s=0.5, fps=1)
    dest = tmp_path / f"still.{fmt}"
    ENCODERS[fmt](frames, selection, dest, quality=75)
    pictures, durations, size = read_back(dest, fmt)
    assert (len(pictures), size) == (1, (80, 60))
    if fmt != "avif":
        assert durations == [500]


@pytest.mark.parametrize("fmt", NEW)
def test_odd_sizes(odd_frames: FrameSet, tmp_path: Path, fmt: str) -> None:
    """4:2:0 video loses the last row and column; the images keep their size."""
    selection = _whole(odd_frames)
    dest = tmp_path / f"odd.{fmt}"
    ENCODERS[fmt](odd_frames, selection, dest, quality=90)
    pictures, durations, size = read_back(dest, fmt)
    assert size == ((80, 60) if fmt in VIDEO else (81, 61))
    assert len(pictures) == 6 and sum(durations) == 600
    with odd_frames.reader() as reader:
        source = reader.frame(3)[: size[1], : size[0]]
    assert _psnr(pictures[3], source) > 26  # measured 27.3 (avif at 81x61) to 34.2 (apng)


# --- Video containers ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", sorted(VIDEO))
def test_video_streams_and_colour_tags(frames: FrameSet, tmp_path: Path, fmt: str) -> None:
    dest = tmp_path / f"v.{fmt}"
    ENCODERS[fmt](frames, _whole(frames), dest, quality=75, loop_count=3)  # not stored
    with av.open(str(dest)) as container:
        assert [s.type for s in container.streams] == ["video"]  # no audio
        context = container.streams.video[0].codec_context
        assert context.name == ("h264" if fmt == "mp4" else "vp9")
        assert context.pix_fmt == "yuv420p"
        # AVCOL_SPC_BT709, AVCOL_RANGE_MPEG, AVCOL_PRI_BT709, AVCOL_TRC_BT709
        tags = (context.colorspace, context.color_range, context.color_primaries, context.color_trc)
        assert tags == (1, 1, 1, 1)


def test_mp4_starts_with_its_index(frames: FrameSet, tmp_path: Path) -> None:
    """faststart: the moov box before the media data, so playback starts before the download
    ends; the edit list skips exactly the B-frame reordering delay, so the first frame is shown
    at 0 (``_read_video``)."""
    dest = tmp_path / "fast.mp4"
    ENCODERS["mp4"](frames, _whole(frames), dest, quality=75)
    data = dest.read_bytes()
    kinds = [kind for kind, _, _ in _boxes(data)]
    assert kinds.index(b"moov") < kinds.index(b"mdat")
    elst = _box(data, [b"moov", b"trak", b"edts", b"elst"])
    version = elst[0]
    (media_time,) = struct.unpack(
        ">q" if version else ">i", elst[16:24] if version else elst[12:16]
    )
    with av.open(str(dest)) as container:
        stream = container.streams.video[0]
        first_dts = min(p.dts for p in container.demux(stream) if p.size)
    assert media_time >= 0 and first_dts * stream.time_base * 1000 == -media_time


# --- Play counts ---------------------------------------------------------------------------


@pytest.mark.parametrize("plays", [0, 1, 3])
def test_apng_play_count(frames: FrameSet, tmp_path: Path, plays: int) -> None:
    dest = tmp_path / "loop.apng"
    encode_apng(frames, _whole(frames), dest, quality=75, loop_count=plays)
    with Image.open(dest) as image:
        assert image.info["loop"] == plays  # acTL num_plays: plays in total, 0 forever
        assert image.n_frames == len(_whole(frames))


@pytest.mark.parametrize("plays", [0, 1, 3])
def test_avif_play_count(frames: FrameSet, tmp_path: Path, plays: int) -> None:
    """The edit list as libavif reads it: repeated for 0 (an indefinite track) and 3 (the track
    three times the sequence), not repeated for one play."""
    dest = tmp_path / "loop.avif"
    ENCODERS["avif"](frames, _whole(frames), dest, quality=75, loop_count=plays)
    data = dest.read_bytes()
    elst = _box(data, [b"moov", b"trak", b"edts", b"elst"])
    repeated = struct.unpack(">I", elst[:4])[0] & 1
    segment = struct.unpack(">I", elst[8:12])[0]
    tkhd = _box(data, [b"moov", b"trak", b"tkhd"])
    # version 1: 8-byte times, track id, reserved, 8-byte duration; version 0: 4-byte fields
    track = struct.unpack(">Q", tkhd[28:36])[0] if tkhd[0] else struct.unpack(">I", tkhd[20:24])[0]
    if plays == 0:
        assert repeated and track // segment > 2**31
    else:
        assert (bool(repeated), track) == (plays > 1, plays * segment)


# --- Joins -----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", NEW)
def test_join_two_slices(cockatoo: FrameSet, tmp_path: Path, fmt: str) -> None:
    """A segment encoded in two time slices and joined plays the frames of the whole encode,
    each for its time."""
    join = MEDIA_FORMATS[fmt].join
    assert join is not None
    whole = tmp_path / f"whole.{fmt}"
    ENCODERS[fmt](cockatoo, _selection(cockatoo), whole, quality=75, loop_count=2)
    parts = []
    for k, (start, end) in enumerate([(2.0, 3.0), (3.0, 4.0)]):
        part = tmp_path / f"part{k}.{fmt}"
        ENCODERS[fmt](cockatoo, _selection(cockatoo, start, end), part, quality=75, loop_count=2)
        parts.append(part)
    joined = tmp_path / f"joined.{fmt}"
    join(parts, joined, loop_count=2, part_ms=[1000, 1000])
    got, durations, size = read_back(joined, fmt)
    want, want_durations, want_size = read_back(whole, fmt)
    part_durations = [ms for part in parts for ms in read_back(part, fmt)[1]]
    assert (len(got), size) == (len(want), want_size) == (30, (320, 180))
    assert durations == part_durations
    assert sum(durations) == sum(want_durations) == 2000
    for picture, reference in zip(got, want, strict=True):
        assert _psnr(picture, reference) > 33  # the same pictures, coded in other runs
    if fmt == "apng":
        with Image.open(joined) as image:
            assert image.info["loop"] == 2


def test_apng_join_keeps_a_shared_palette(tmp_path: Path) -> None:
    """Parts with the same colours keep their palette and data: the join only renumbers."""
    colours = [(200, 30, 30), (30, 200, 40), (40, 60, 230)]
    parts = []
    for k in range(2):
        with FrameWriter(tmp_path / f"f{k}", 48, 32) as writer:
            for i in range(3):
                picture = np.zeros((32, 48, 3), np.uint8)
                picture[:, :] = colours[(i + k) % 3]
                picture[8:16, 4 * i : 4 * i + 8] = colours[(i + k + 1) % 3]
                writer.append(picture, k + i / 3)
        frames = FrameSet.load(writer.directory)
        part = tmp_path / f"p{k}.apng"
        encode_apng(
            frames, select_frames(frames.pts_s, start_s=k, end_s=k + 1, fps=3), part, quality=75
        )
        parts.append(part)
    joined = tmp_path / "joined.apng"
    join_apngs(parts, joined, loop_count=0)
    palettes = [_png_chunk(p.read_bytes(), b"PLTE") for p in parts]
    assert palettes[0] == palettes[1] == _png_chunk(joined.read_bytes(), b"PLTE")
    got, durations, _ = _read_image(joined)
    want = [p for part in parts for p in _read_image(part)[0]]
    assert len(got) == 6 and sum(durations) == 2000
    assert all(np.array_equal(a, b) for a, b in zip(got, want, strict=True))


def test_apng_join_of_one_frame_parts(frames: FrameSet, tmp_path: Path) -> None:
    parts = []
    for k, start in enumerate([0.0, 0.5]):
        part = tmp_path / f"{k}.apng"
        encode_apng(
            frames,
            select_frames(frames.pts_s, start_s=start, end_s=start + 0.5, fps=1),
            part,
            quality=100,
        )
        parts.append(part)
    joined = tmp_path / "joined.apng"
    join_apngs(parts, joined, loop_count=1)
    got, durations, size = _read_image(joined)
    assert (len(got), durations, size) == (2, [500, 500], (80, 60))


def test_avif_join_of_a_still_part(frames: FrameSet, tmp_path: Path) -> None:
    """A one-frame slice is a still AVIF: the join gives it its part's time."""
    parts = [tmp_path / "a.avif", tmp_path / "b.avif"]
    ENCODERS["avif"](
        frames, select_frames(frames.pts_s, start_s=0.0, end_s=0.5, fps=1), parts[0], quality=75
    )
    ENCODERS["avif"](
        frames, select_frames(frames.pts_s, start_s=0.5, end_s=1.0, fps=4), parts[1], quality=75
    )
    join = MEDIA_FORMATS["avif"].join
    assert join is not None
    with pytest.raises(ValueError, match="part_ms"):
        join(parts, tmp_path / "refused.avif", loop_count=0)
    joined = tmp_path / "joined.avif"
    join(parts, joined, loop_count=0, part_ms=[500, 500])
    got, durations, _ = _read_image(joined)
    assert (len(got), durations) == (3, [500, 250, 250])
    assert _psnr(got[0], _read_image(parts[0])[0][0]) > 40


def test_video_join_refuses_other_encodes(frames: FrameSet, tmp_path: Path) -> None:
    """Parts of different sizes are not slices of one encode."""
    small = tmp_path / "small"
    with FrameWriter(small, 40, 30) as writer:
        for i in range(3):
            writer.append(np.full((30, 40, 3), 60 * i, np.uint8), i / 10)
    parts = [tmp_path / "a.mp4", tmp_path / "b.mp4"]
    ENCODERS["mp4"](frames, _whole(frames), parts[0], quality=75)
    little = FrameSet.load(small)
    ENCODERS["mp4"](little, _whole(little), parts[1], quality=75)
    join = MEDIA_FORMATS["mp4"].join
    assert join is not None
    with pytest.raises(ValueError, match="not encoded like the first part"):
        join(parts, tmp_path / "joined.mp4", loop_count=0)


# --- APNG pieces -----------------------------------------------------------------------------


def test_delay_fractions() -> None:
    assert delay_fraction(67) == (67, 1000)
    assert delay_fraction(500) == (1, 2)
    assert delay_fraction(65535) == (13107, 200)
    assert delay_fraction(100_000) == (100, 1)
    assert delay_fraction(123_457) == (123, 1)  # past 16 bits of ms: whole seconds


def test_filtered_rows_decode_back() -> None:
    """Whatever filter each row takes, a PNG decoder gets the pixels back."""
    rng = np.random.default_rng(3)
    pixels = np.cumsum(rng.integers(0, 3, (17, 23, 3)), axis=1).astype(np.uint8)
    header = struct.pack(">IIBBBBB", 23, 17, 8, 2, 0, 0, 0)
    png = (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(filter_rows(pixels)))
        + _chunk(b"IEND", b"")
    )
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png))), pixels)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_chunk(data: bytes, kind: bytes) -> bytes:
    """The payload of the first ``kind`` chunk of a PNG file's bytes."""
    at = data.index(kind) - 4
    (length,) = struct.unpack(">I", data[at : at + 4])
    return data[at + 8 : at + 8 + length]
