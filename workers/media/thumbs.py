"""Small perceptual thumbnails of frames, and the distance between two of them (issue 19).

The loop analysis (``shots``, ``seam``, ``highlight``) compares many frames with each other; it
does so on thumbnails, not on the frames themselves:

- ``thumbnail(rgb)`` shrinks an (H, W, 3) uint8 sRGB frame to ``THUMB_SIZE`` pixels on its long
  side (64: 64x36 for 16:9) by area averaging in linear light, then converts it to OkLab
  (Björn Ottosson's perceptual space: L is lightness 0..1, a and b are opponent colour axes,
  about -0.4..0.4). The result is a float32 (h, w, 3) array. At this size sensor noise and
  compression artefacts average out, while a moved object, a pan or a cut still change many
  thumbnail pixels, and the cost of a comparison is a few thousand numbers.
- ``frame_distance(a, b)`` is the mean over pixels of the Euclidean OkLab distance (ΔE_OK, on
  the 0..1 lightness scale: about 0.02 is a just visible colour difference of a flat patch). It is
  0 for identical thumbnails and grows with how much of the picture changed and by how much.
- ``blend(a, b, alpha)`` is the thumbnail of ``seam.crossfade`` of the two frames: the mix is
  done in linear light, like the area average, so it commutes with ``thumbnail`` (up to the
  rounding of the blended frame to 8 bits).

Thumbnails of one analysis must come from frames of one size and orientation (a seam search on
the decoded FrameSet, or ``analyse.analyse_source`` on the source); their sizes then match.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    "THUMB_SIZE",
    "Thumb",
    "blend",
    "frame_distance",
    "gradient_energy",
    "linear_from_oklab",
    "oklab_from_linear",
    "thumbnail",
    "thumbnail_size",
]

THUMB_SIZE = 64
"""Pixels on the long side of a thumbnail."""

Thumb = npt.NDArray[np.float32]
Rgb = npt.NDArray[np.uint8]

# Ottosson's OkLab: linear sRGB -> LMS, cube root, LMS' -> Lab (https://bottosson.github.io/).
_M1 = np.array(
    [
        [0.4122214708, 0.5363325363, 0.0514459929],
        [0.2119034982, 0.6806995451, 0.1073969566],
        [0.0883024619, 0.2817188376, 0.6299787005],
    ],
    dtype=np.float32,
)
_M2 = np.array(
    [
        [0.2104542553, 0.7936177850, -0.0040720468],
        [1.9779984951, -2.4285922050, 0.4505937099],
        [0.0259040371, 0.7827717662, -0.8086757660],
    ],
    dtype=np.float32,
)
_M1_INV = np.linalg.inv(_M1.astype(np.float64)).astype(np.float32)
_M2_INV = np.linalg.inv(_M2.astype(np.float64)).astype(np.float32)


def _srgb_to_linear_table() -> npt.NDArray[np.float32]:
    """The linear-light value of each 8-bit sRGB level (IEC 61966-2-1 transfer function)."""
    v = np.arange(256, dtype=np.float64) / 255
    lin = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)
    return lin.astype(np.float32)


LINEAR = _srgb_to_linear_table()
"""``LINEAR[level]``: linear light (0..1) of an 8-bit sRGB level."""


def thumbnail_size(width: int, height: int) -> tuple[int, int]:
    """(width, height) of the thumbnail of a ``width`` x ``height`` frame: ``THUMB_SIZE`` on the
    long side (never larger than the frame), the other side in proportion, at least 1."""
    if width < 1 or height < 1:
        raise ValueError(f"frame size must be positive, got {width}x{height}")
    scale = min(1.0, THUMB_SIZE / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def thumbnail(rgb: Rgb) -> Thumb:
    """The OkLab thumbnail (float32, (h, w, 3)) of an (H, W, 3) uint8 sRGB frame."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) frame, got shape {rgb.shape}")
    height, width = rgb.shape[:2]
    tw, th = thumbnail_size(width, height)
    linear = LINEAR[np.asarray(rgb, dtype=np.uint8)]
    if (tw, th) != (width, height):
        # Separable area average: rows first (the long axis is usually the width), then columns.
        linear = np.einsum("xw,hwc->hxc", _area_weights(tw, width), linear, optimize=True)
        linear = np.einsum("yh,hxc->yxc", _area_weights(th, height), linear, optimize=True)
    return oklab_from_linear(np.asarray(linear, dtype=np.float32))


def frame_distance(a: Thumb, b: Thumb) -> float:
    """Perceptual distance of two thumbnails: mean per-pixel ΔE_OK (0 when identical)."""
    if a.shape != b.shape:
        raise ValueError(f"thumbnail shapes differ: {a.shape} and {b.shape}")
    diff = a - b
    return float(np.sqrt(np.einsum("...c,...c->...", diff, diff)).mean())


def gradient_energy(thumb: Thumb) -> float:
    """Detail of a thumbnail: the mean magnitude of the lightness gradient between neighbouring
    pixels (0 for a flat picture; fine texture and many edges score high)."""
    lightness = thumb[..., 0]
    dx = np.abs(np.diff(lightness, axis=1)).mean() if lightness.shape[1] > 1 else 0.0
    dy = np.abs(np.diff(lightness, axis=0)).mean() if lightness.shape[0] > 1 else 0.0
    return float(dx + dy)


def blend(a: Thumb, b: Thumb, alpha: float) -> Thumb:
    """The thumbnail of ``(1 - alpha) * a + alpha * b`` mixed in linear light (as ``crossfade``)."""
    mix = (1 - alpha) * linear_from_oklab(a) + alpha * linear_from_oklab(b)
    return oklab_from_linear(np.asarray(mix, dtype=np.float32))


def oklab_from_linear(linear: npt.NDArray[np.float32]) -> Thumb:
    """OkLab of linear-light sRGB values (..., 3)."""
    lms = np.cbrt(np.maximum(linear @ _M1.T, 0.0))
    return np.asarray(lms @ _M2.T, dtype=np.float32)


def linear_from_oklab(lab: Thumb) -> npt.NDArray[np.float32]:
    """Linear-light sRGB of OkLab values (..., 3): the inverse of ``oklab_from_linear``."""
    lms = lab @ _M2_INV.T
    return np.asarray((lms * lms * lms) @ _M1_INV.T, dtype=np.float32)


def _area_weights(out_size: int, in_size: int) -> npt.NDArray[np.float32]:
    """(out_size, in_size) weights of an area-averaging resize along one axis: output pixel k
    averages the input over [k * in/out, (k + 1) * in/out), partial pixels weighted by overlap."""
    edges = np.arange(out_size + 1, dtype=np.float64) * (in_size / out_size)
    starts, ends = edges[:-1, None], edges[1:, None]
    pixels = np.arange(in_size, dtype=np.float64)[None, :]
    overlap = np.clip(np.minimum(ends, pixels + 1) - np.maximum(starts, pixels), 0.0, None)
    return np.asarray(overlap / overlap.sum(axis=1, keepdims=True), dtype=np.float32)
