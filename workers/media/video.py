"""The video encoders: H.264 in MP4 and VP9 in WebM through PyAV, and their joins by remux.

Both write 4:2:0 frames converted from RGB with the BT.709 matrix in limited (TV) range and
tagged so (matrix, primaries, transfer: bt709; range: tv), so a player and the benchmark turn
them back into the same colours. Timing is variable: a 1/1000 s time base, each frame stamped
at its display start (``timing.display_delays`` in ms) and every packet given its duration, so
the last frame lasts its time too. No audio. A FrameSet of odd width or height loses its last
column or row (4:2:0 needs even sizes; the planner gives even ones).

A video does not store a play count: looping is the player's (``<video loop>``), so a
template's LoopCount is not carried (``shared/formats.py``: the producer refuses one).

Settings, measured on cockatoo.mp4 (480x270, 15 fps, 3 s: 45 frames) on 2 cores; PSNR against
the source frames (dB), wall time of the encode:

- H.264 (libx264): preset ``medium`` with its B-frames (x264's default 3, adaptive). At crf 23
  on cockatoo.mp4, medium 135 kB / 39.7 dB in 0.48 s, faster 133 kB / 39.5 dB in 0.30 s,
  veryfast 130 kB / 39.1 dB in 0.19 s. B-frames saved 1.3 % on that hand-held clip but 30 % on
  city.mpg (240 against 345 kB at Quality 75, 10 fps, 480 px, 3 s) and 8-11 % on the fixed
  camera of vtest.avi, for 0.1-0.3 s more: the first choice (faster, no B-frames), tuned on one
  clip, cost the MP4 target on the other two (bench/README.md, "Formats and budgets"). With
  reordering the muxer's edit list puts the first frame at 0 and every frame, the last
  included, still lasts its display time (tests/workers/media/test_media_formats.py).
- VP9 (libvpx-vp9): ``deadline good``, ``cpu-used 3``, ``row-mt 1``. At crf 34, cpu-used 1
  85 kB / 39.2 dB in 1.50 s, 2: 84 kB / 39.0 dB in 0.91 s, 3: 86 kB / 39.0 dB in 0.70 s, 4:
  88 kB / 38.9 dB in 0.78 s; realtime cpu-used 6 98 kB / 38.9 dB in 0.24 s (12 % more bytes).
- The Quality's crf (``quality.x264_crf``, ``quality.vp9_crf``) puts both near 39.5 dB at the
  default Quality 75.

Joins (``join_mp4s``, ``join_webms``): a long segment is encoded in time slices, each starting
with a key frame; the join copies every part's packets into one file, each part's timestamps
shifted by the display time of the parts before it. Nothing is decoded or re-encoded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from av.video.reformatter import (
    ColorPrimaries,
    ColorRange,
    Colorspace,
    ColorTrc,
    Interpolation,
    VideoReformatter,
)

from animgraph.workers.media.atomic import atomic_path
from animgraph.workers.media.framestore import FrameSet, RgbArray
from animgraph.workers.media.progress import Progress, ignore_progress
from animgraph.workers.media.quality import vp9_crf, x264_crf
from animgraph.workers.media.select import Selection
from animgraph.workers.media.threads import job_threads
from animgraph.workers.media.timing import Delay, display_delays

__all__ = [
    "MP4",
    "VIDEO_THREADS",
    "WEBM",
    "VideoCodec",
    "encode_mp4",
    "encode_video",
    "encode_webm",
    "even_crop",
    "join_mp4s",
    "join_videos",
    "join_webms",
]

VIDEO_TIME_BASE = Fraction(1, 1000)  # display_delays' unit: timestamps are milliseconds
# Encoder threads (libx264 frame threads, libvpx row-mt): at most two, as many as the job's
# threads (``threads``).
VIDEO_THREADS = 2
X264_PRESET = "medium"
VP9_CPU_USED = 3
# RGB -> 4:2:0 with accurate rounding and the chroma filtered from every RGB pixel.
TO_YUV = Interpolation.BICUBIC | Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INP


@dataclass(frozen=True, slots=True)
class VideoCodec:
    """One encoder in one container: the muxer, the encoder and its options for a template
    Quality, the muxer's options, whether 4:2:0 needs even sizes (cropped to them), the
    shortest frame in ms and the nominal frame rate the stream declares (None: PyAV's)."""

    container: str
    codec: str
    options: Callable[[float], dict[str, str]]
    container_options: Mapping[str, str] = field(default_factory=dict)
    even: bool = True
    min_delay_ms: int = 1
    frame_rate: Fraction | None = None


def _x264_options(quality: float) -> dict[str, str]:
    return {"crf": str(x264_crf(quality)), "preset": X264_PRESET}


def _vp9_options(quality: float) -> dict[str, str]:
    return {
        "crf": str(vp9_crf(quality)),
        "b": "0",  # constant quality: crf alone, no bitrate target
        "deadline": "good",
        "cpu-used": str(VP9_CPU_USED),
        "row-mt": "1",
    }


MP4 = VideoCodec(
    "mp4",
    "libx264",
    _x264_options,
    # The moov box before the data (a browser starts playing before the whole file is in) and
    # the track's clock in ms, the unit of the timestamps.
    {"movflags": "+faststart", "video_track_timescale": "1000"},
)
# Matroska writes a block's duration only when it differs from the track's DefaultDuration
# (1 / frame rate), and with no DefaultDuration only the timestamps: 1000 fps (1 ms) has every
# block carry its own, the last one's included.
WEBM = VideoCodec(
    "webm", "libvpx-vp9", _vp9_options, {"cues_to_front": "1"}, frame_rate=Fraction(1000)
)


def encode_mp4(
    frames: FrameSet,
    selection: Selection,
    dest: Path,
    *,
    quality: float,
    progress: Progress | None = None,
    loop_count: int = 0,
) -> None:
    """Write ``selection`` of ``frames`` to ``dest`` as an H.264 MP4 (yuv420p, BT.709, moov
    first, no audio). ``loop_count`` is not stored: a video loops in its player."""
    encode_video(frames, selection, dest, MP4, quality=quality, progress=progress)


def encode_webm(
    frames: FrameSet,
    selection: Selection,
    dest: Path,
    *,
    quality: float,
    progress: Progress | None = None,
    loop_count: int = 0,
) -> None:
    """Write ``selection`` of ``frames`` to ``dest`` as a VP9 WebM (yuv420p, BT.709,
    constant quality, no audio). ``loop_count`` is not stored: a video loops in its player."""
    encode_video(frames, selection, dest, WEBM, quality=quality, progress=progress)


def encode_video(
    frames: FrameSet,
    selection: Selection,
    dest: Path,
    codec: VideoCodec,
    *,
    quality: float,
    progress: Progress | None = None,
    container_options: Mapping[str, str] | None = None,
) -> None:
    """Encode ``selection`` of ``frames`` with ``codec`` into ``dest`` (atomically).

    Frames are read, converted and encoded one at a time: memory is flat in the frame count.
    ``container_options`` are added to the codec's own (AVIF's loop count).
    """
    delays = display_delays(selection, 1000, codec.min_delay_ms)
    report = progress or ignore_progress
    width, height = frames.width, frames.height
    if codec.even:
        width, height = even_crop(width, height)
    options = {**codec.container_options, **(container_options or {})}
    with (
        atomic_path(dest) as tmp,
        av.open(str(tmp), "w", format=codec.container, options=options) as out,
        frames.reader() as reader,
    ):
        stream = _video_stream(out, codec, quality, width, height)
        muxer = _Muxer(out, {d.start: d.delay for d in delays}, delays[-1].start + delays[-1].delay)
        to_yuv = VideoReformatter()
        for k, delay in enumerate(delays):
            picture = _yuv_frame(reader.frame(delay.index)[:height, :width], delay, to_yuv)
            muxer.mux(stream.encode(picture))
            report((k + 1) / len(delays))
        muxer.mux(stream.encode(None))
        muxer.close()
    report(1.0)


def even_crop(width: int, height: int) -> tuple[int, int]:
    """The largest even size within ``width`` x ``height`` (4:2:0 halves both)."""
    if width < 2 or height < 2:
        raise ValueError(f"a 4:2:0 video needs at least 2x2 pixels, got {width}x{height}")
    return width - width % 2, height - height % 2


def _video_stream(out: Any, codec: VideoCodec, quality: float, width: int, height: int) -> Any:
    """The output's video stream: ``codec`` at ``quality``, 4:2:0, ms clock, BT.709 tags."""
    stream = out.add_stream(codec.codec, rate=codec.frame_rate, options=codec.options(quality))
    stream.width, stream.height = width, height
    stream.pix_fmt = "yuv420p"
    stream.time_base = VIDEO_TIME_BASE
    context = stream.codec_context
    context.time_base = VIDEO_TIME_BASE
    context.thread_count = job_threads(VIDEO_THREADS)
    context.colorspace = Colorspace.ITU709
    context.color_range = ColorRange.MPEG
    context.color_primaries = ColorPrimaries.BT709
    context.color_trc = ColorTrc.BT709
    return stream


def _yuv_frame(rgb: RgbArray, delay: Delay, to_yuv: VideoReformatter) -> Any:
    """``rgb`` as a yuv420p BT.709 limited-range frame stamped at ``delay``'s start (ms)."""
    frame = to_yuv.reformat(
        av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24"),
        format="yuv420p",
        src_colorspace=Colorspace.ITU709,
        dst_colorspace=Colorspace.ITU709,
        src_color_range=ColorRange.JPEG,
        dst_color_range=ColorRange.MPEG,
        interpolation=TO_YUV,
    )
    frame.pts = delay.start
    frame.time_base = VIDEO_TIME_BASE
    return frame


class _Muxer:
    """Muxes encoded packets, each given its frame's display time (by its pts, in ms): the
    encoders guess a duration from a frame rate, the last frame's included.

    The MP4 muxer ends the presentation at the last packet *in decode order*: its pts plus its
    duration. With B-frames that packet is not the last frame shown, so it is held back and
    given the time to the end (``end_ms``); its own display time is the gap to the next frame
    shown, as for every frame (the durations of reordered samples never set display times).
    """

    def __init__(self, out: Any, durations: Mapping[int, int], end_ms: int) -> None:
        self._out = out
        self._durations = durations
        self._end_ms = end_ms
        self._held: Any = None

    def mux(self, packets: Sequence[Any]) -> None:
        for packet in packets:
            packet.duration = self._durations[packet.pts]
            if self._held is not None:
                self._out.mux(self._held)
            self._held = packet

    def close(self) -> None:
        if self._held is not None:
            self._held.duration = max(self._held.duration, self._end_ms - self._held.pts)
            self._out.mux(self._held)
            self._held = None


# --- Joins -----------------------------------------------------------------------------------


def join_mp4s(
    parts: Sequence[Path], dest: Path, *, loop_count: int, part_ms: Sequence[int] | None = None
) -> None:
    """Join MP4 parts (``encode_mp4``'s, in order) into one MP4, moov first. ``loop_count`` is
    not stored (a video loops in its player)."""
    join_videos(parts, dest, MP4, part_ms=part_ms)


def join_webms(
    parts: Sequence[Path], dest: Path, *, loop_count: int, part_ms: Sequence[int] | None = None
) -> None:
    """Join WebM parts (``encode_webm``'s, in order) into one WebM. ``loop_count`` is not
    stored (a video loops in its player)."""
    join_videos(parts, dest, WEBM, part_ms=part_ms)


def join_videos(
    parts: Sequence[Path],
    dest: Path,
    codec: VideoCodec,
    container_options: Mapping[str, str] | None = None,
    part_ms: Sequence[int] | None = None,
) -> None:
    """Write the video made of ``parts`` played one after the other into ``dest`` (``codec``'s
    muxer, its options and ``container_options``), by copying packets: part k's timestamps are
    shifted by the end of part k-1 (its last pts plus that packet's duration), so every frame
    keeps its display time. A frame with no duration (a one-frame AVIF is a still image, not a
    sequence) lasts until its part's end, ``part_ms[k]``.

    Each part must start with a key frame and have the first part's codec parameters (size,
    pixel format, the H.264 SPS/PPS in ``extradata``): the slices of one encode do. Raises
    ValueError otherwise.
    """
    if not parts:
        raise ValueError("nothing to join")
    options = {**codec.container_options, **(container_options or {})}
    with (
        atomic_path(dest) as tmp,
        av.open(str(tmp), "w", format=codec.container, options=options) as out,
    ):
        stream: Any = None
        reference: tuple[Any, ...] = ()
        offset_ms = 0
        for k, part in enumerate(parts):
            with av.open(str(part)) as src:
                source = _sequence_stream(src)
                params = _codec_parameters(source)
                if stream is None:
                    # opaque: the decoder's codec object (there may be no encoder by its name,
                    # AV1's libdav1d): only the codec parameters matter to the muxer.
                    stream = out.add_stream_from_template(source, opaque=True)
                    stream.time_base = VIDEO_TIME_BASE
                    if codec.frame_rate is not None:
                        stream.codec_context.framerate = codec.frame_rate
                    reference = params
                elif params != reference:
                    raise ValueError(f"{part.name} was not encoded like the first part")
                end_ms = None if part_ms is None else offset_ms + part_ms[k]
                offset_ms = _copy_packets(src, source, out, stream, offset_ms, end_ms, part.name)


def _sequence_stream(container: Any) -> Any:
    """The video stream with the most frames: an AVIF also shows its still image (the first
    frame again) as a stream of one."""
    streams = container.streams.video
    if not streams:
        raise ValueError(f"{container.name} has no video")
    return max(streams, key=lambda stream: stream.frames)


def _is_image(stream: Any) -> bool:
    """Whether ``stream`` is an image item (a one-frame AVIF's picture), not a track: FFmpeg
    gives it a 1 s clock and no duration, and its packet's duration means no display time."""
    return bool(stream.time_base == 1 and stream.duration is None)


def _codec_parameters(stream: Any) -> tuple[Any, ...]:
    """What must not change between the parts of one stream."""
    context = stream.codec_context
    return (context.name, context.width, context.height, context.pix_fmt, context.extradata)


def _copy_packets(
    src: Any,
    source: Any,
    out: Any,
    stream: Any,
    offset_ms: int,
    part_end_ms: int | None,
    name: str,
) -> int:
    """Mux the packets of ``source`` into ``stream`` ``offset_ms`` later; returns where the
    part ends (ms). A packet without a duration lasts until ``part_end_ms``."""
    end_ms = offset_ms
    first = True
    for packet in src.demux(source):
        if packet.size == 0:  # the demuxer's end-of-stream marker
            continue
        if first and not packet.is_keyframe:
            raise ValueError(f"{name} does not start with a key frame")
        first = False
        pts = offset_ms + _ms(packet.pts, source.time_base)
        duration = 0 if _is_image(source) else _ms(packet.duration, source.time_base)
        if duration <= 0:
            if part_end_ms is None:
                raise ValueError(f"{name}: a frame without a duration, and no part_ms")
            duration = part_end_ms - pts
        packet.dts = offset_ms + _ms(packet.dts, source.time_base)
        packet.pts = pts
        packet.duration = duration
        packet.time_base = VIDEO_TIME_BASE
        packet.stream = stream
        out.mux(packet)
        end_ms = max(end_ms, pts + duration)
    if first:
        raise ValueError(f"{name} has no video packets")
    return end_ms


def _ms(value: int | None, time_base: Fraction) -> int:
    """A timestamp or duration in ``time_base`` units as whole ms (None: 0)."""
    return 0 if value is None else round(value * time_base * 1000)
