"""Decoding segments of synthetic clips whose frames tell their index by their grey level.

The rotation tests write real display matrices with PyAV (``VideoStream.set_display_rotation``),
so decode is checked end to end on MP4 files as a phone would write them.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from media_clips import MARK, Clip, frame_index, grey_frame, write_clip

from animgraph.shared.errors import InvalidInputError, SourceFileError
from animgraph.workers.media.decode import decode_segment
from animgraph.workers.media.framestore import FrameSet
from animgraph.workers.media.select import select_frames


def indexes(frames: FrameSet) -> list[int]:
    with frames.reader() as reader:
        return [frame_index(reader.frame(k)) for k in range(len(frames))]


def test_segment_frames_by_pixel_value(grey_clip: Clip, tmp_path: Path) -> None:
    frames = decode_segment(grey_clip.path, tmp_path, start_s=0.51, end_s=0.8, width=64, height=48)
    # frame 15 (0.5 s) is on screen at 0.51 s; frame 24 starts at 0.8 s and is not shown
    assert indexes(frames) == list(range(15, 24))
    assert frames.pts_s == pytest.approx([k / 30 for k in range(15, 24)])
    assert (frames.width, frames.height) == (64, 48)


def test_segment_after_seek_to_keyframe(grey_clip: Clip, tmp_path: Path) -> None:
    # keyframes every 10 frames: 1.55 s (frame 46.5) needs decoding from frame 40 at 1.33 s
    frames = decode_segment(grey_clip.path, tmp_path, start_s=1.55, end_s=2.0, width=64, height=48)
    assert indexes(frames) == list(range(46, 60))


def test_segment_starting_exactly_on_a_frame(grey_clip: Clip, tmp_path: Path) -> None:
    frames = decode_segment(grey_clip.path, tmp_path, start_s=1.0, end_s=1.1, width=64, height=48)
    assert indexes(frames) == [30, 31, 32]


def test_video_clock_starts_at_the_first_frame(clips: Path, tmp_path: Path) -> None:
    clip = write_clip(clips / "late.ts", frames=30, first_pts=15)  # container clock starts late
    frames = decode_segment(clip.path, tmp_path, start_s=0.5, end_s=0.6, width=64, height=48)
    assert indexes(frames) == [15, 16, 17]
    assert frames.pts_s == pytest.approx([0.5, 0.5 + 1 / 30, 0.5 + 2 / 30], abs=1e-3)


def test_scaling_and_progress(grey_clip: Clip, tmp_path: Path) -> None:
    seen: list[float] = []
    frames = decode_segment(
        grey_clip.path, tmp_path, start_s=0.0, end_s=1.0, width=32, height=24, progress=seen.append
    )
    assert (frames.width, frames.height, len(frames)) == (32, 24, 30)
    assert indexes(frames) == list(range(30))
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) >= 30


@pytest.mark.parametrize(
    ("ccw", "shape", "corner"),
    [
        (-90, (64, 48), (0, -1)),  # 90 clockwise: the coded top-left goes to the top-right
        (180, (48, 64), (-1, -1)),
        (90, (64, 48), (-1, 0)),  # 270 clockwise: to the bottom-left
    ],
)
def test_display_rotation_is_applied(
    clips: Path, tmp_path: Path, ccw: int, shape: tuple[int, int], corner: tuple[int, int]
) -> None:
    clip = write_clip(clips / f"turn{ccw}.mp4", frames=6, rotation_ccw=ccw)
    height, width = shape
    frames = decode_segment(clip.path, tmp_path, start_s=0.0, end_s=0.2, width=width, height=height)
    rgb = frames.read(2)
    assert rgb.shape == (height, width, 3)
    assert frame_index(rgb) == 2
    row, col = corner
    assert rgb[row, col].min() > 240  # the marker
    marked = (rgb.min(axis=2) > 240).sum()
    assert marked == pytest.approx(MARK * MARK, abs=8)


def _write_colour_clip(path: Path, rgb: np.ndarray, *, tag_709: bool) -> None:
    """An untagged (or BT.709-tagged) H.264 clip whose YUV was made with the BT.709 matrix."""
    yuv = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(
        format="yuv444p", dst_colorspace="ITU709", dst_color_range="MPEG"
    )
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = rgb.shape[1], rgb.shape[0], "yuv444p"
        stream.options = {"qp": "0", "preset": "ultrafast"}
        if tag_709:
            stream.codec_context.colorspace = 1
            stream.codec_context.color_range = 1
        for pts in range(2):
            frame = yuv.reformat()
            frame.pts, frame.time_base = pts, Fraction(1, 10)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


@pytest.mark.parametrize(("size", "tag_709"), [((1280, 720), False), ((64, 48), True)])
def test_bt709_sources_keep_their_colours(
    tmp_path: Path, size: tuple[int, int], tag_709: bool
) -> None:
    width, height = size
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[...] = (200, 30, 60)
    src = tmp_path / "colour.mp4"
    _write_colour_clip(src, rgb, tag_709=tag_709)
    frames = decode_segment(src, tmp_path / "out", start_s=0.0, end_s=0.2, width=64, height=36)
    # BT.601 decoding of BT.709 data would give about (208, 42, 62): off by 12 in green
    assert np.abs(frames.read(0).astype(int) - (200, 30, 60)).max() <= 3


def test_full_range_jpeg_source(tmp_path: Path) -> None:
    src = tmp_path / "mjpeg.mkv"
    with av.open(str(src), mode="w") as container:
        stream = container.add_stream("mjpeg", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuvj444p"
        stream.options = {"qmin": "1", "qmax": "1"}
        for pts, level in enumerate((8, 128, 247)):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), level, np.uint8), "rgb24")
            frame = frame.reformat(format="yuvj444p", dst_color_range="JPEG")
            frame.pts, frame.time_base = pts, Fraction(1, 10)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    frames = decode_segment(src, tmp_path / "out", start_s=0.0, end_s=0.3, width=64, height=48)
    with frames.reader() as reader:
        means = [float(reader.frame(k).mean()) for k in range(3)]
    # limited-range decoding would stretch 8 -> 0 and 247 -> 255
    assert means == pytest.approx([8, 128, 247], abs=2.5)


def test_start_past_the_last_frame(grey_clip: Clip, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError) as err:
        decode_segment(grey_clip.path, tmp_path, start_s=5.0, end_s=6.0, width=64, height=48)
    assert err.value.code == "InvalidInput.InvalidTimeOffset"
    assert not (tmp_path / "frames.json").exists()


def test_start_within_the_last_frame_shows_it(grey_clip: Clip, tmp_path: Path) -> None:
    frames = decode_segment(grey_clip.path, tmp_path, start_s=1.98, end_s=2.0, width=64, height=48)
    assert indexes(frames) == [59]


def test_frames_over_the_pixel_limit(grey_clip: Clip, tmp_path: Path) -> None:
    with pytest.raises(SourceFileError) as err:
        decode_segment(
            grey_clip.path, tmp_path, start_s=0, end_s=1, width=64, height=48, max_pixels=64 * 47
        )
    assert err.value.code == "SourceFileError.ContentUnsupported"
    assert "64x48" in err.value.message


def test_truncated_stream_decodes_what_is_there(clips: Path, tmp_path: Path) -> None:
    clip = write_clip(clips / "cut.ts", frames=60)  # MPEG-TS needs no index at the end
    data = clip.path.read_bytes()
    cut = tmp_path / "cut.ts"
    cut.write_bytes(data[: len(data) // 2])
    frames = decode_segment(cut, tmp_path / "a", start_s=0.0, end_s=0.3, width=64, height=48)
    assert indexes(frames) == list(range(9))
    with pytest.raises(InvalidInputError) as err:
        decode_segment(cut, tmp_path / "b", start_s=1.9, end_s=2.0, width=64, height=48)
    assert err.value.code == "InvalidInput.InvalidTimeOffset"


def test_garbage_after_a_valid_header(grey_clip: Clip, tmp_path: Path) -> None:
    data = bytearray(grey_clip.path.read_bytes())
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(bytes(data[:64]) + bytes(len(data) - 64))
    with pytest.raises(SourceFileError) as err:
        decode_segment(bad, tmp_path / "a", start_s=0.0, end_s=1.0, width=64, height=48)
    assert err.value.code == "SourceFileError.ContentMalformed"


def test_empty_segment_is_refused(grey_clip: Clip, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError) as err:
        decode_segment(grey_clip.path, tmp_path, start_s=1.0, end_s=1.0, width=64, height=48)
    assert err.value.code == "InvalidInput.InvalidTimeOffset"


def test_grey_frame_helper_round_trips() -> None:
    assert frame_index(grey_frame(41, 64, 48)) == 41


@pytest.mark.parametrize(
    ("fps", "start_s", "end_s"),
    [
        (10, 0.0, 2.0),
        (12, 0.51, 1.7),
        (7, 0.2, 1.0),
        (15, 1.55, 2.0),
        (30, 0.5, 0.8),
        (45, 0.1, 0.9),
    ],
)
def test_decoding_for_an_output_rate_keeps_just_the_frames_it_shows(
    grey_clip: Clip, tmp_path: Path, fps: int, start_s: float, end_s: float
) -> None:
    every = decode_segment(
        grey_clip.path, tmp_path / "every", start_s=start_s, end_s=end_s, width=64, height=48
    )
    shown = decode_segment(
        grey_clip.path, tmp_path / "shown", start_s=start_s, end_s=end_s, width=64, height=48,
        fps=fps,
    )  # fmt: skip

    def animation(frames: FrameSet) -> list[tuple[int, float, float]]:
        selection = select_frames(frames.pts_s, start_s=start_s, end_s=end_s, fps=fps)
        with frames.reader() as reader:
            return [
                (frame_index(reader.frame(s.index)), round(s.start_s, 9), round(s.duration_s, 9))
                for s in selection
            ]

    assert animation(shown) == animation(every)
    assert len(shown) == len(animation(every))  # no frame stored that is not shown
    if fps < grey_clip.fps:
        assert len(shown) < len(every)
