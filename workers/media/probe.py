"""Probe a source file: the contract §3 MetaData plus what decoding needs (start time, rotation).

Also holds the seam where PyAV meets the source file: ``open_source`` and ``first_video_stream``
turn library errors into ``SourceFileError`` codes with messages safe to show a user.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error

from animgraph.shared.errors import SourceFileError
from animgraph.shared.models import AudioStreamItem, MediaMetaData, VideoStreamItem

__all__ = [
    "CONTENT_MALFORMED",
    "CONTENT_UNSUPPORTED",
    "NO_VIDEO_MEDIA",
    "Probe",
    "clockwise_rotation",
    "first_video_stream",
    "open_source",
    "probe",
    "stream_origin_s",
]

NO_VIDEO_MEDIA = "SourceFileError.NoVideoMedia"
CONTENT_MALFORMED = "SourceFileError.ContentMalformed"
CONTENT_UNSUPPORTED = "SourceFileError.ContentUnsupported"

# Containers and streams are Cython objects without type stubs: they are ``Any`` here.
Container = Any
Stream = Any


@dataclass(frozen=True, slots=True)
class Probe:
    """What a probe tells: the wire MetaData and the decode-side facts of the video stream.

    ``start_time_s`` is when the video stream starts on the container clock (0.54 s for a typical
    MPEG-PS file); every other time here is relative to it. ``rotate`` is the clockwise display
    rotation (0/90/180/270) and ``display_width`` x ``display_height`` the size once it is applied.
    """

    meta: MediaMetaData
    start_time_s: float
    display_width: int
    display_height: int
    rotate: int


def probe(
    path: Path, *, max_pixels: int | None = None, max_duration_s: float | None = None
) -> Probe:
    """Probe ``path``; raise SourceFileError (NoVideoMedia, ContentMalformed) for a bad file,
    and ContentUnsupported for a frame over ``max_pixels`` or a video over ``max_duration_s``,
    both checked from the headers before any frame is decoded."""
    size = _file_size(path)
    with open_source(path) as container:
        video = first_video_stream(container)
        origin = stream_origin_s(video, container)
        width, height = _coded_size(video)
        if max_pixels is not None and width * height > max_pixels:
            raise SourceFileError(
                f"The source's frames are {width}x{height}, over the limit of {max_pixels} "
                "pixels a frame.",
                CONTENT_UNSUPPORTED,
            )
        end = _container_end_s(container)
        video_duration = _stream_duration_s(video) or max(end - origin, 0.0)
        if max_duration_s is not None and video_duration > max_duration_s:
            raise SourceFileError(
                f"The source lasts {video_duration:.0f} s, over the limit of "
                f"{max_duration_s:.0f} s.",
                CONTENT_UNSUPPORTED,
            )
        rotate = clockwise_rotation(_first_frame(container, video).rotation)
        audio = [s for s in container.streams if s.type == "audio"]
        meta = MediaMetaData(
            size=size,
            container=str(container.format.name),
            bitrate=int(container.bit_rate or 0),
            width=width,
            height=height,
            rotate=rotate,
            duration=round(max(end - origin, video_duration), 6),
            video_duration=round(video_duration, 6),
            audio_duration=round(max((_stream_duration_s(s) for s in audio), default=0.0), 6),
            video_stream_set=tuple(_video_item(s, container) for s in container.streams.video),
            audio_stream_set=tuple(_audio_item(s) for s in audio),
        )
    swap = rotate in (90, 270)
    return Probe(
        meta=meta,
        start_time_s=origin,
        display_width=height if swap else width,
        display_height=width if swap else height,
        rotate=rotate,
    )


@contextmanager
def open_source(path: Path) -> Iterator[Container]:
    """Open ``path`` for demuxing, mapping PyAV's refusal to SourceFileError.ContentMalformed."""
    try:
        container = av.open(str(path), mode="r")
    except av.error.FFmpegError as exc:
        raise SourceFileError(
            "The source file is not a readable video: its container could not be parsed "
            "(corrupt, truncated or not a media file).",
            CONTENT_MALFORMED,
        ) from exc
    try:
        yield container
    finally:
        container.close()


def first_video_stream(container: Container) -> Stream:
    """The first video stream (not a cover picture); SourceFileError.NoVideoMedia if none."""
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    raise SourceFileError("The source file has no video stream.", NO_VIDEO_MEDIA)


def stream_origin_s(stream: Stream, container: Container) -> float:
    """When the video stream starts on the container clock, in seconds (0 when unknown)."""
    if stream.start_time is not None and stream.time_base is not None:
        return float(stream.start_time * stream.time_base)
    if container.start_time is not None:
        return float(Fraction(container.start_time, av.time_base))
    return 0.0


def clockwise_rotation(ccw_degrees: float | None) -> int:
    """The clockwise display rotation (0/90/180/270) from a display matrix's CCW angle.

    FFmpeg's ``av_display_rotation_get`` (``VideoFrame.rotation`` in PyAV) gives the angle the
    matrix turns the picture counter-clockwise, in [-180, 180]; a portrait phone clip says -90.
    """
    if not ccw_degrees:
        return 0
    return (round(-ccw_degrees / 90) * 90) % 360


def _file_size(path: Path) -> int:
    """The size in bytes; an empty or unreadable file is ContentMalformed."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise SourceFileError("The source file could not be read.", CONTENT_MALFORMED) from exc
    if size == 0:
        raise SourceFileError("The source file is empty (0 bytes).", CONTENT_MALFORMED)
    return size


def _first_frame(container: Container, stream: Stream) -> Any:
    """Decode the first video frame: it proves the stream decodes and carries the rotation."""
    try:
        for packet in container.demux(stream):
            for frame in _decode_tolerant(packet):
                return frame
    except av.error.FFmpegError as exc:
        raise SourceFileError(
            "The video stream of the source file could not be decoded.", CONTENT_MALFORMED
        ) from exc
    raise SourceFileError(
        "The video stream of the source file holds no decodable frame.", CONTENT_MALFORMED
    )


def _decode_tolerant(packet: Any) -> list[Any]:
    """Decode one packet, treating a damaged packet as one that yields no frame."""
    try:
        return list(packet.decode())
    except av.error.InvalidDataError:
        return []


def _coded_size(stream: Stream) -> tuple[int, int]:
    """The coded width and height of a video stream.

    FFmpeg leaves the size at 0 when the header's size is beyond what it can allocate (such as
    16384x16384): that is reported as ContentUnsupported, before any frame is decoded.
    """
    width, height = int(stream.codec_context.width), int(stream.codec_context.height)
    if width < 1 or height < 1:
        raise SourceFileError(
            "The video stream's picture size is missing or beyond what the decoder supports.",
            CONTENT_UNSUPPORTED,
        )
    return width, height


def _container_end_s(container: Container) -> float:
    """The end of the container on its own clock, in seconds (0 when unknown)."""
    if container.duration is None:
        return 0.0
    return float(Fraction(container.duration + (container.start_time or 0), av.time_base))


def _stream_duration_s(stream: Stream) -> float:
    """A stream's own duration in seconds, or 0 when the container does not say."""
    if stream.duration is None or stream.time_base is None:
        return 0.0
    return float(stream.duration * stream.time_base)


def _video_item(stream: Stream, container: Container) -> VideoStreamItem:
    """The VideoStreamSet item of one video stream."""
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return VideoStreamItem(
        codec=str(stream.codec_context.codec.canonical_name),
        width=int(stream.codec_context.width),
        height=int(stream.codec_context.height),
        fps=round(float(rate)) if rate else 0,
        bitrate=int(stream.codec_context.bit_rate or 0) or _video_bitrate_guess(container),
    )


def _video_bitrate_guess(container: Container) -> int:
    """MPEG-PS and raw streams state no video bitrate: the container's minus the audio's."""
    audio = sum(int(s.codec_context.bit_rate or 0) for s in container.streams.audio)
    return max(int(container.bit_rate or 0) - audio, 0)


def _audio_item(stream: Stream) -> AudioStreamItem:
    """The AudioStreamSet item of one audio stream."""
    return AudioStreamItem(
        codec=str(stream.codec_context.codec.canonical_name),
        sampling_rate=int(stream.codec_context.sample_rate or 0),
        bitrate=int(stream.codec_context.bit_rate or 0),
    )
