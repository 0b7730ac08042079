"""Colour checks: synthetic clips whose decoded colours are known, in the tagged matrix and range.

``write_clip(path, kind)`` writes 1 s of flat colour patches as H.264 BT.709 limited range
(``"bt709"``, what HD cameras and phones make) or MJPEG full range (``"jpeg"``, yuvj420p, what
webcams and photo cameras make). ``patch_errors`` reads an output back and gives, per patch, the
largest channel error against the RGB that went in: a decoder that ignores the tags (BT.601
matrix, limited range) is off by 10 to 40 levels on these patches; a right one by a few.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import ColorRange, Colorspace

from bench.metrics import Animation, Rgb

# Saturated primaries show a wrong matrix; light and dark greys show a wrong range.
PATCHES: tuple[tuple[int, int, int], ...] = (
    (200, 40, 40),
    (40, 180, 60),
    (50, 70, 210),
    (230, 230, 230),
    (30, 30, 30),
    (210, 160, 120),
)
SIZE = (192, 128)  # 3 x 2 patches of 64 x 64
FPS = 10
TOLERANCE = 8  # levels: palette, dithering, chroma subsampling at patch edges (measured away)

KINDS = {
    "bt709": ("libx264", "yuv420p", Colorspace.ITU709, ColorRange.MPEG, 1, 1, {"qp": "0"}),
    "jpeg": ("mjpeg", "yuvj420p", Colorspace.ITU601, ColorRange.JPEG, 5, 2, {"q:v": "1"}),
}


def picture() -> Rgb:
    w, h = SIZE
    rgb = np.zeros((h, w, 3), np.uint8)
    for k, colour in enumerate(PATCHES):
        y, x = divmod(k, 3)
        rgb[y * 64 : (y + 1) * 64, x * 64 : (x + 1) * 64] = colour
    return rgb


def write_clip(path: Path, kind: str, seconds: float = 1.0) -> Path:
    codec, pix_fmt, matrix, colour_range, space_tag, range_tag, options = KINDS[kind]
    rgb = av.VideoFrame.from_ndarray(picture(), format="rgb24")
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=FPS)
        stream.width, stream.height, stream.pix_fmt = SIZE[0], SIZE[1], pix_fmt
        stream.codec_context.colorspace = space_tag
        stream.codec_context.color_range = range_tag
        stream.options = options
        for i in range(round(seconds * FPS)):
            frame = rgb.reformat(
                format=pix_fmt,
                dst_colorspace=matrix,
                dst_color_range=colour_range,
            )
            frame.colorspace, frame.color_range = space_tag, range_tag
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def patch_errors(anim: Animation) -> list[int]:
    """Largest channel error of each patch's median colour, on the output's middle frame."""
    frame = anim.frames[len(anim.frames) // 2].astype(int)
    h, w = frame.shape[:2]
    sy, sx = h / SIZE[1], w / SIZE[0]
    errors = []
    for k, colour in enumerate(PATCHES):
        y, x = divmod(k, 3)
        cy, cx = int((y * 64 + 32) * sy), int((x * 64 + 32) * sx)
        r = max(2, int(12 * sx))
        median = np.median(frame[cy - r : cy + r, cx - r : cx + r].reshape(-1, 3), axis=0)
        errors.append(int(np.abs(median - np.array(colour)).max()))
    return errors
