"""The AVIF encoder: an AV1 image sequence (SVT-AV1 through PyAV's ``avif`` muxer).

Two routes were measured on cockatoo.mp4 (480x270, 15 fps, 3 s: 45 frames) on 2 cores, PSNR and
FLIP against the source frames, sizes for the same quality:

- Pillow 13's AVIF writer (libavif 1.4.2, whose only encoder here is libaom): speed 6 spends
  10-17 s; from speed 7 on libavif runs libaom in real-time mode: 0.65 s, and at quality 50
  69 kB, 37.8 dB, FLIP 0.071. Pillow collects every frame before writing (memory grows with
  the clip) and cannot set libavif's repetition count (always forever).
- SVT-AV1 (``libsvtav1``) through PyAV, preset 8: 0.4 s, crf 38 54 kB, 37.5 dB, FLIP 0.070 (the
  same FLIP in 22 % fewer bytes; 0.6-0.9 dB better at equal size from 50 to 80 kB); crf 32
  80 kB, 38.7 dB, FLIP 0.061, the FLIP of our WebP at Quality 75 (190 kB). Preset 6 saves 5 %
  more in twice the time, preset 10 costs 15 % more bytes. Frames stream through it one at a
  time (about 80 MB of encoder state at 480x270, 300 MB at 1280x720).

So SVT-AV1, preset ``AVIF_PRESET``, crf from the Quality (``quality.avif_crf``: 32 at 75), 4:2:0
converted and tagged BT.709 limited range as the videos (``video``), durations exact in ms
(the shortest ``AVIF_MIN_DELAY_MS``, as browsers play shorter ones at 100 ms), any size (AV1
codes odd sizes; nothing is cropped). Pillow (libavif with dav1d) decodes the result. A
selection of one frame gives a still AVIF (the muxer writes no sequence for one frame), as
WebP's: an image with no display time of its own.

The play count: FFmpeg's AVIF muxer stores ``loop`` in the track's edit list (repeated, the
track's duration that many times the sequence's, forever an indefinite one), which libavif
reads as its repetition count (plays - 1). ``shared/formats.py`` says AVIF does not carry
LoopCount, so the producer sends none (0: forever); a count given is written all the same.

Joins: the parts of a split encode are remuxed as the videos' (``video.join_videos``): each
part starts with a key frame carrying its sequence header, and the joined file has the first
frame as its still image, as a whole encode. A still part (a one-frame slice) is shown for its
``part_ms``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from animgraph.shared.models import MAX_LOOP_COUNT
from animgraph.workers.media.framestore import FrameSet
from animgraph.workers.media.progress import Progress
from animgraph.workers.media.quality import avif_crf
from animgraph.workers.media.select import Selection
from animgraph.workers.media.timing import WEBP_MIN_DELAY_MS
from animgraph.workers.media.video import VideoCodec, encode_video, join_videos

__all__ = ["AVIF", "AVIF_MIN_DELAY_MS", "AVIF_PRESET", "encode_avif", "join_avifs"]

AVIF_PRESET = 8
# Browsers play a frame of 10 ms or less for 100 ms, whatever the format (Blink's
# DeferredImageDecoder, as for GIF and WebP).
AVIF_MIN_DELAY_MS = WEBP_MIN_DELAY_MS
# SVT-AV1 prints its configuration on stderr at every encoder start unless told to log errors
# only (its SVT_LOG variable, read when an encoder starts).
SVT_LOG_ERRORS = "1"


def _svt_options(quality: float) -> dict[str, str]:
    return {"crf": str(avif_crf(quality)), "preset": str(AVIF_PRESET)}


AVIF = VideoCodec("avif", "libsvtav1", _svt_options, even=False, min_delay_ms=AVIF_MIN_DELAY_MS)


def encode_avif(
    frames: FrameSet,
    selection: Selection,
    dest: Path,
    *,
    quality: float,
    progress: Progress | None = None,
    loop_count: int = 0,
) -> None:
    """Write ``selection`` of ``frames`` to ``dest`` as an animated AVIF that plays
    ``loop_count`` times (0: forever), its first frame the still image."""
    os.environ.setdefault("SVT_LOG", SVT_LOG_ERRORS)
    encode_video(
        frames,
        selection,
        dest,
        AVIF,
        quality=quality,
        progress=progress,
        container_options=_loop_option(loop_count),
    )


def join_avifs(
    parts: Sequence[Path], dest: Path, *, loop_count: int, part_ms: Sequence[int] | None = None
) -> None:
    """Join AVIF parts (``encode_avif``'s, in order) into one AVIF playing ``loop_count``
    times (0: forever). A part of one frame is a still image, without a display time: it
    needs ``part_ms``."""
    join_videos(parts, dest, AVIF, _loop_option(loop_count), part_ms)


def _loop_option(plays: int) -> dict[str, str]:
    """The AVIF muxer's ``loop`` for ``plays`` plays: the same number, 0 forever."""
    if not 0 <= plays <= MAX_LOOP_COUNT:
        raise ValueError(f"LoopCount must be 0..{MAX_LOOP_COUNT}, got {plays}")
    return {"loop": str(plays)}
