"""Decode a segment of a source video into a FrameSet at the output size (docs/design.md "Decode").

Times are seconds relative to the start of the video stream (its first instant is 0, whatever its
start time on the container clock). The frame on screen at ``start_s`` is kept even when it began
earlier, so the animation opens on the right picture; frames from ``end_s`` on are not decoded.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av.error
import numpy as np
from av.video.reformatter import ColorRange, Colorspace, Interpolation, VideoReformatter

from animgraph.shared.errors import InvalidInputError, SourceFileError
from animgraph.workers.media.framestore import FrameSet, FrameWriter, RgbArray
from animgraph.workers.media.probe import (
    CONTENT_MALFORMED,
    CONTENT_UNSUPPORTED,
    clockwise_rotation,
    first_video_stream,
    open_source,
    stream_origin_s,
)
from animgraph.workers.media.progress import Progress
from animgraph.workers.media.select import shown_during, slot_middles
from animgraph.workers.media.threads import decoder_threads

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "INVALID_TIME_OFFSET",
    "decode_segment",
    "decoded_frames",
    "rgb_frame",
    "seek_keyframe",
]

INVALID_TIME_OFFSET = "InvalidInput.InvalidTimeOffset"
DEFAULT_MAX_PIXELS = 16384 * 16384 // 4

# Seeks land on the keyframe before the target, but on MPEG-PS up to ~0.3 s *after* it: seek this
# much earlier, then widen (None = from the start) if the first decoded frame is still too late.
SEEK_MARGINS_S: tuple[float | None, ...] = (1.0, 6.0, None)
# A few damaged packets are skipped (the frames after them still decode); more is a broken file.
MAX_BAD_PACKETS = 32
# Lanczos matches the reference scaling of the quality benchmark; full chroma interpolation and
# accurate rounding keep 4:2:0 edges and flat areas clean at little cost.
INTERPOLATION = Interpolation.LANCZOS | Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INT
_EPS_S = 1e-6

# FFmpeg AVColorSpace values -> the matrices libswscale knows.
_COLORSPACES = {
    1: Colorspace.ITU709,
    4: Colorspace.FCC,
    5: Colorspace.ITU601,  # BT470BG
    6: Colorspace.ITU601,  # SMPTE170M
    7: Colorspace.SMPTE240M,
    9: Colorspace.BT2020,  # BT2020 NCL
    10: Colorspace.BT2020,  # BT2020 CL
}
_AVCOL_RANGE_JPEG = 2

Frame = Any  # av.VideoFrame: PyAV ships no type stubs


@dataclass(frozen=True, slots=True)
class _Window:
    """The requested segment and output geometry."""

    start_s: float
    end_s: float
    width: int
    height: int
    max_pixels: int
    middles: tuple[float, ...] | None = None
    """Slot middles of the output rate: only frames shown at one are kept (None: all)."""


def decode_segment(
    src: Path,
    dest_dir: Path,
    *,
    start_s: float,
    end_s: float,
    width: int,
    height: int,
    progress: Progress | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    fps: int | None = None,
) -> FrameSet:
    """Decode [start_s, end_s) of ``src`` to ``width`` x ``height`` RGB frames in ``dest_dir``.

    With ``fps``, only the frames an animation at that rate shows are converted and stored (those
    on screen at the middle of an output slot, see ``select.shown_during``): selecting from them
    gives the same frames and times as selecting from every frame, for less work and disk.

    Rotation from the display matrix is applied, colours are converted with the source's matrix
    and range. Memory stays flat: frames stream into the FrameSet writer one at a time.
    Raises SourceFileError (ContentMalformed, ContentUnsupported, NoVideoMedia) and
    InvalidInputError (InvalidTimeOffset when start_s is past the last frame).
    """
    if not 0 <= start_s < end_s:
        raise InvalidInputError(
            f"The segment {start_s:.3f}..{end_s:.3f} s is empty or negative.", INVALID_TIME_OFFSET
        )
    middles = None if fps is None else tuple(slot_middles(start_s, end_s, fps))
    window = _Window(start_s, end_s, width, height, max_pixels, middles)
    with open_source(src) as container:
        stream = first_video_stream(container)
        _refuse_oversized(stream.codec_context.width, stream.codec_context.height, max_pixels)
        _carry_encoder_hints(container, stream)
        stream.codec_context.thread_type = "AUTO"
        stream.codec_context.thread_count = decoder_threads()
        writer = FrameWriter(dest_dir, width, height)
        try:
            _decode_into(writer, container, stream, window, progress)
        except BaseException:
            writer.abort()
            raise
        frames = writer.commit()
    if progress is not None:
        progress(1.0)
    return frames


def rgb_frame(
    frame: Frame,
    reformatter: VideoReformatter,
    *,
    width: int,
    height: int,
    rotate: int,
    interpolation: Interpolation = INTERPOLATION,
) -> RgbArray:
    """Convert a decoded frame to displayed-orientation RGB24 at ``width`` x ``height``.

    libswscale scales to the pre-rotation size (height x width for 90/270) with the source colour
    matrix and range; numpy then turns the picture ``rotate`` degrees clockwise.
    """
    swap = rotate in (90, 270)
    rgb = reformatter.reformat(
        frame,
        width=height if swap else width,
        height=width if swap else height,
        format="rgb24",
        src_colorspace=source_colorspace(frame),
        src_color_range=source_color_range(frame),
        dst_color_range=ColorRange.JPEG,
        interpolation=interpolation,
    )
    array = np.asarray(rgb.to_ndarray(), dtype=np.uint8)
    # np.rot90 turns counter-clockwise for positive k.
    return np.rot90(array, k=-(rotate // 90)) if rotate else array


def source_colorspace(frame: Frame) -> Colorspace:
    """The YUV matrix of a frame; untagged video follows players: BT.709 from 720p, else BT.601."""
    tagged = _COLORSPACES.get(int(frame.colorspace))
    if tagged is not None:
        return tagged
    return Colorspace.ITU709 if frame.height >= 720 or frame.width >= 1280 else Colorspace.ITU601


def source_color_range(frame: Frame) -> ColorRange:
    """Full range for yuvj formats and frames tagged JPEG range, limited (MPEG) otherwise."""
    if int(frame.color_range) == _AVCOL_RANGE_JPEG or frame.format.name.startswith("yuvj"):
        return ColorRange.JPEG
    return ColorRange.MPEG


_X264_VERSION = re.compile(rb"x264 - core (\d+)")


def _carry_encoder_hints(container: Any, stream: Any) -> None:
    """Tell the decoder what only the first packet says, since a seek skips it.

    FFmpeg's H.264 decoder works around bugs of old x264 builds (4:4:4 chroma among them) when
    an SEI at the start names the build; decoding from a later keyframe never sees it and gives
    green pictures. The build is read here and handed to the decoder as ``x264_build``.
    """
    if stream.codec_context.name != "h264":
        return
    try:
        first = next(container.demux(stream), None)
    except av.error.FFmpegError:
        return
    match = _X264_VERSION.search(bytes(first)) if first is not None else None
    if match:
        stream.codec_context.options = {"x264_build": match.group(1).decode()}


def _decode_into(
    writer: FrameWriter,
    container: Any,
    stream: Any,
    window: _Window,
    progress: Progress | None,
) -> None:
    """Decode the window into ``writer``, widening the seek while it lands after start_s."""
    origin = stream_origin_s(stream, container)
    for margin in SEEK_MARGINS_S:
        seek_s = None if margin is None else window.start_s - margin
        timed = _timed_frames(container, stream, origin, seek_s)
        first = next(timed, None)
        if first is None and seek_s is None:
            raise SourceFileError(
                "The video stream of the source file holds no decodable frame.", CONTENT_MALFORMED
            )
        if first is None or (first[1] > window.start_s + _EPS_S and seek_s is not None):
            continue  # landed late (or past the end): seek earlier
        _write_segment(writer, _chain(first, timed), window, progress)
        return


def _write_segment(
    writer: FrameWriter,
    timed: Iterator[tuple[Frame, float]],
    window: _Window,
    progress: Progress | None,
) -> None:
    """Write the frames of the window, starting with the one on screen at start_s."""
    reformatter = VideoReformatter()
    span = window.end_s - window.start_s
    for frame, t in _shown_frames(_segment_frames(timed, window), window):
        _refuse_oversized(frame.width, frame.height, window.max_pixels)
        rotate = clockwise_rotation(frame.rotation)
        rgb = rgb_frame(frame, reformatter, width=window.width, height=window.height, rotate=rotate)
        writer.append(rgb, t)
        if progress is not None:
            progress(min(max((t - window.start_s) / span, 0.0), 1.0))
    if writer.count == 0:
        raise InvalidInputError(
            f"The start offset {window.start_s:.3f} s is past the last frame of the video.",
            INVALID_TIME_OFFSET,
        )


def _shown_frames(
    frames: Iterator[tuple[Frame, float]], window: _Window
) -> Iterator[tuple[Frame, float]]:
    """The frames of the segment an animation at the window's rate shows (all without one).

    A frame is on screen from its time (the first from start_s, as select counts it) until the
    next frame's; it is kept when an output slot's middle falls in that span, which needs one
    frame of look-ahead.
    """
    if window.middles is None:
        yield from frames
        return
    pending: tuple[Frame, float] | None = None
    begin = window.start_s  # the first frame is on screen from start_s, as select counts it
    for frame, t in frames:
        if pending is not None:
            if shown_during(window.middles, begin, t):
                yield pending
            begin = t
        pending = (frame, t)
    if pending is not None and shown_during(window.middles, begin, window.end_s):
        yield pending


def _segment_frames(
    timed: Iterator[tuple[Frame, float]], window: _Window
) -> Iterator[tuple[Frame, float]]:
    """Frames shown in the window: the last one at or before start_s, then those before end_s.

    The held frame is emitted at the end of the stream too, so a start_s within the last frame's
    display time still shows that frame; one ending earlier than that yields nothing.
    """
    held: tuple[Frame, float] | None = None
    for frame, t in timed:
        if t <= window.start_s + _EPS_S:
            held = (frame, t)
            continue
        if held is not None:
            yield held
            held = None
        if t >= window.end_s - _EPS_S:
            return
        yield frame, t
    if held is not None and window.start_s < held[1] + _frame_interval_s(held[0]) + _EPS_S:
        yield held


def _timed_frames(
    container: Any, stream: Any, origin: float, seek_s: float | None
) -> Iterator[tuple[Frame, float]]:
    """Decoded frames with strictly increasing times (s, relative to the stream start)."""
    seek_keyframe(container, stream, origin, seek_s)
    last_t = -math.inf
    for frame in decoded_frames(container, stream):
        t = _frame_time(frame, origin, last_t)
        if t <= last_t + _EPS_S:
            continue  # a repeated or backward timestamp would make a zero-length frame
        last_t = t
        yield frame, t


def seek_keyframe(container: Any, stream: Any, origin: float, seek_s: float | None) -> None:
    """Seek to the keyframe at or before ``seek_s``; None or <= 0 rewinds to the beginning."""
    if seek_s is None or seek_s <= 0:
        container.seek(0)
        return
    target = Fraction(origin + seek_s).limit_denominator(1_000_000) / stream.time_base
    container.seek(math.floor(target), stream=stream, backward=True, any_frame=False)


def decoded_frames(container: Any, stream: Any, *, strict: bool = True) -> Iterator[Frame]:
    """Decode the stream packet by packet, skipping a few damaged packets and a truncated tail.

    ``strict``: a stream with too many damaged packets, or one that cannot be decoded, raises
    ``SourceFileError``; otherwise it just ends there (the analysis decode, which only looks)."""
    bad = 0
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except av.error.FFmpegError:
            return  # a truncated or garbled tail ends the stream like EOF would
        if packet.size == 0 and packet.dts is not None:
            # An empty timed packet repeats the previous frame (Ogg Theora writes one per
            # dropped frame of a screen recording); the decoder refuses it (EINVAL). The frame
            # on screen simply lasts until the next one. The untimed empty packet at the end
            # is the flush, which the decoder needs.
            continue
        try:
            yield from packet.decode()
        except av.error.InvalidDataError as exc:
            bad += 1
            if bad > MAX_BAD_PACKETS:
                if not strict:
                    return
                raise SourceFileError(
                    "The video stream of the source file is damaged: too many undecodable frames.",
                    CONTENT_MALFORMED,
                ) from exc
        except av.error.FFmpegError as exc:
            if not strict:
                return
            raise SourceFileError(
                "The video stream of the source file could not be decoded.", CONTENT_MALFORMED
            ) from exc


def _frame_time(frame: Frame, origin: float, last_t: float) -> float:
    """The frame's time on the video clock; untimed frames follow the previous one."""
    pts = frame.pts if frame.pts is not None else frame.dts
    if pts is not None and frame.time_base is not None:
        return float(pts * frame.time_base) - origin
    return (last_t if last_t > -math.inf else -_frame_interval_s(frame)) + _frame_interval_s(frame)


def _frame_interval_s(frame: Frame) -> float:
    """How long one frame lasts: its own duration when known, else 1/10 s."""
    if frame.duration and frame.time_base is not None:
        return float(frame.duration * frame.time_base)
    return 0.1


def _chain(
    first: tuple[Frame, float], rest: Iterator[tuple[Frame, float]]
) -> Iterator[tuple[Frame, float]]:
    """Put back a frame taken off an iterator."""
    yield first
    yield from rest


def _refuse_oversized(width: int, height: int, max_pixels: int) -> None:
    """SourceFileError.ContentUnsupported when a frame has more than ``max_pixels`` pixels."""
    if width * height > max_pixels:
        raise SourceFileError(
            f"The video frames are {width}x{height} pixels, more than the {max_pixels} "
            "pixels this service decodes.",
            CONTENT_UNSUPPORTED,
        )
