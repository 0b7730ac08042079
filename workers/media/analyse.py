"""A fast, low-resolution decode of a whole source for the loop analysis (issue 19).

``analyse_source(path)`` returns ``(thumbs, pts_s)``: the ``thumbs.thumbnail`` of decoded frames
and their times (seconds on the video clock, 0 = the first instant of the video stream, as
everywhere in the media pipeline). It is what ``highlight.pick_highlight`` and ``shots`` work on
when no FrameSet of the segment exists yet (a highlight picks the segment).

Speed comes from never making a full-size picture: libswscale converts each decoded frame
straight to the thumbnail size (area averaging, the source's colour matrix and range), so the
cost is the decode itself plus ~1-3 ms a frame. Two regimes:

- a source of at most ``max_full_s`` seconds (``MAX_FULL_S``, 30 s) is decoded whole: every
  frame (or, with ``sample_fps``, at most that many a second);
- a longer one is sampled: ``max(2, max_full_s // run_s)`` runs of ``run_s`` seconds
  (``RUN_S``, 6 s: a 3 s highlight with a 1 s seam window on each side, and some slack) spread
  evenly from the start to the end of the video, so the decode never converts more than about
  ``max_full_s`` seconds of video, however long the source. Each run starts at its planned
  time: the seek lands on the keyframe before it and the frames up to it are decoded but not
  converted (a cost of up to one keyframe interval a run); runs never overlap. ``shots.runs``
  finds them again from the gaps in ``pts_s``; a highlight never spans two. ``run_s`` should be
  at least the highlight's duration plus twice the seam window, so a seam can be searched
  inside a run (the caller passes it; longer runs mean fewer of them).

Measured on this project's 2-core machine (bench/README.md, "Loops"): the 14 s 720p H.264
cockatoo.mp4 in 0.6 s (280 frames), a 10-minute 720p H.264 video (5 runs, 600 frames) in 1.7 s.

Display rotation is applied, so thumbnails have the orientation the output shows.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from av.video.reformatter import Interpolation, VideoReformatter

from animgraph.shared.errors import SourceFileError
from animgraph.workers.media.decode import decoded_frames, rgb_frame, seek_keyframe
from animgraph.workers.media.probe import (
    CONTENT_MALFORMED,
    clockwise_rotation,
    first_video_stream,
    open_source,
    probe,
    stream_origin_s,
)
from animgraph.workers.media.threads import decoder_threads
from animgraph.workers.media.thumbs import Thumb, thumbnail, thumbnail_size

__all__ = ["MAX_FULL_S", "RUN_S", "analyse_source"]

MAX_FULL_S = 30.0
RUN_S = 6.0
_EPS_S = 1e-6

Frame = Any  # av.VideoFrame: PyAV ships no type stubs


def analyse_source(
    path: Path,
    *,
    max_full_s: float = MAX_FULL_S,
    run_s: float = RUN_S,
    sample_fps: float | None = None,
) -> tuple[list[Thumb], list[float]]:
    """Thumbnails and times (s, video clock) of the frames of ``path`` (see the module doc).

    ``sample_fps`` keeps at most that many frames a second (None: every frame; a seam search
    needs every frame, since which frames an animation shows depends on all of them). Raises
    SourceFileError as ``probe`` and ``decode`` do for files that cannot be read.
    """
    if max_full_s <= 0 or run_s <= 0:
        raise ValueError(f"max_full_s and run_s must be positive, got {max_full_s}, {run_s}")
    duration = probe(path).meta.video_duration
    if duration <= max_full_s:
        plan = [(0.0, math.inf)]
    else:
        count = max(2, int(max_full_s // run_s))
        spacing = max(duration - run_s, 0.0) / (count - 1)
        plan = [(k * spacing, run_s) for k in range(count)]
    thumbs: list[Thumb] = []
    pts: list[float] = []
    min_step = 1 / sample_fps if sample_fps else 0.0
    with open_source(path) as container:
        stream = first_video_stream(container)
        stream.codec_context.thread_type = "AUTO"
        stream.codec_context.thread_count = decoder_threads()
        origin = stream_origin_s(stream, container)
        reformatter = VideoReformatter()
        for seek_s, length_s in plan:
            seek_keyframe(container, stream, origin, seek_s)
            run_start: float | None = None
            for frame in decoded_frames(container, stream, strict=False):
                if frame.pts is None or frame.time_base is None:
                    continue
                t = float(frame.pts * frame.time_base) - origin
                if t < seek_s - _EPS_S or (pts and t <= pts[-1] + max(min_step - _EPS_S, _EPS_S)):
                    continue  # before the run, in the previous one or thinned out by sample_fps
                if run_start is None:
                    run_start = t
                if t >= run_start + length_s - _EPS_S:
                    break
                thumbs.append(_thumb(frame, reformatter))
                pts.append(t)
    if not thumbs:
        raise SourceFileError(
            "The video stream of the source file holds no decodable frame.", CONTENT_MALFORMED
        )
    return thumbs, pts


def _thumb(frame: Frame, reformatter: VideoReformatter) -> Thumb:
    """The thumbnail of a decoded frame: libswscale shrinks it, numpy turns it upright."""
    rotate = clockwise_rotation(frame.rotation)
    swap = rotate in (90, 270)
    shown_w, shown_h = (frame.height, frame.width) if swap else (frame.width, frame.height)
    tw, th = thumbnail_size(shown_w, shown_h)
    rgb = rgb_frame(
        frame, reformatter, width=tw, height=th, rotate=rotate, interpolation=Interpolation.AREA
    )
    array = np.ascontiguousarray(rgb) if rotate else rgb
    return thumbnail(array)
