"""The template Quality (1..100) mapped to each encoder setting it steers, one rule a function.

Every number here was chosen on the bench corpus: bench/README.md, "Where the encoder's settings
come from", has the measurements, one item per function and constant named as here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "APNG_DEFAULT_QUALITY",
    "AVIF_CRF_AT_DEFAULT",
    "GIF_LOSSY_AT_DEFAULT",
    "WEBP_DEFAULT_QUALITY",
    "WEBP_METHOD",
    "WEBP_PARTLY_STILL",
    "WEBP_QUALITY_AT_DEFAULT",
    "WEBP_STILL_METHOD",
    "WEBP_STILL_PEAK",
    "WEBP_STILL_SCENE",
    "WEBP_STILL_SHIFT",
    "X264_CRF_AT_DEFAULT",
    "WebpPlan",
    "apng_max_colors",
    "avif_crf",
    "gif_hold_boost",
    "gif_hold_levels",
    "gif_lossy",
    "gif_lossy_carry",
    "gif_max_colors",
    "hold_scale",
    "lossy_scale",
    "vp9_crf",
    "webp_hold",
    "webp_plan",
    "webp_quality",
    "webp_still_quality",
    "x264_crf",
]

GIF_LOSSY_AT_DEFAULT = 60  # lossy LZW tolerance at Quality 75 (``gif_lossy``)
HOLD_PER_QUALITY = 0.76 / 25  # hold levels a step of Quality below 100 (``gif_hold_levels``)
HOLD_MAX = 2.0  # the most hold levels, from Quality 34 down
LOSSY_CARRY_LOW_QUALITY = 50.0  # half of a lossy match's change diffused at and below this
HOLD_BOOST_MAX = 3.0  # ``gif_hold_boost``: at most this many times the hold ...
HOLD_STILL_FULL = 0.10  # ... on a scene with at most this share moving ...
HOLD_STILL_NONE = 0.25  # ... none from this share up ...
HOLD_WOBBLE_FULL = 0.25  # ... all of it from this much noise (levels) up ...
HOLD_NOISY = 2.0  # ... to a level below this, and none from this up
HOLD_TEXTURE_GAIN = 3.0  # ``hold_scale``: 1 + gain x texture ...
HOLD_TEXTURE_MAX = 12.0  # ... up to this
LOSSY_SMOOTH = 0.4  # ``lossy_scale``: smooth + gain x texture ...
LOSSY_TEXTURE_GAIN = 0.2
LOSSY_TEXTURE_MAX = 3.0  # ... up to this
WEBP_DEFAULT_QUALITY = 75  # the template Quality at which libwebp gets ...
WEBP_QUALITY_AT_DEFAULT = 60  # ... this (``webp_quality``)
WEBP_STILL_SHIFT = 2.0  # still-scene block hold at Quality 75: block mean change, levels
WEBP_STILL_PEAK = 40.0  # and any one pixel's change, levels (``webp_hold``)
WEBP_STILL_CLOSER = 0.45  # a still scene's libwebp quality goes this part of the way to 100
# The footage's still fraction (``stills.still_fraction``: blocks the hold would keep) decides
# how it is coded (``webp_plan``): from WEBP_STILL_SCENE up (a fixed camera, a screen) the hold
# and ``webp_still_quality``; from WEBP_PARTLY_STILL up (a still background with a large moving
# part) no hold but WEBP_PARTLY_CLOSER of the way to 100; both at WEBP_STILL_METHOD.
WEBP_STILL_SCENE = 0.87
WEBP_PARTLY_STILL = 0.6
WEBP_PARTLY_CLOSER = 0.125  # libwebp 60 -> 65 at the default
WEBP_METHOD = 2  # libwebp's effort 0..6 for moving footage ...
WEBP_STILL_METHOD = 4  # ... and for footage still from WEBP_PARTLY_STILL up
# The video and AVIF crf maps and the APNG palette (``video``, ``avif``, ``apng`` have the
# measurements, on cockatoo.mp4 at 480 px).
X264_CRF_AT_DEFAULT = 23  # libx264 crf at Quality 75 (``x264_crf``) ...
X264_CRF_PER_QUALITY = 0.24  # ... and its change a step of Quality: 17 at 100, 41 at 1
VP9_CRF_AT_DEFAULT = 32  # libvpx-vp9 crf at Quality 75 (``vp9_crf``) ...
VP9_CRF_PER_QUALITY = 0.3  # ... 24 at 100, 54 at 1
AVIF_CRF_AT_DEFAULT = 32  # SVT-AV1 crf at Quality 75 (``avif_crf``) ...
AVIF_CRF_PER_QUALITY = 0.4  # ... 22 at 100, 62 at 1
APNG_DEFAULT_QUALITY = 75  # the APNG palette keeps every colour from this Quality up
APNG_MIN_COLORS = 16  # ... and falls to this many at Quality 1 (``apng_max_colors``)


def gif_max_colors(quality: float) -> int:
    """Palette size: 256 from Quality 40 up, then down to 64 at Quality 1."""
    if quality >= 40:
        return 256
    return max(64, min(256, round(2 ** (6 + 2 * (max(quality, 1.0) - 1) / 39))))


def gif_hold_levels(quality: float) -> float:
    """Source change (0..255, largest channel) below which a smooth pixel keeps its shown index:
    0 at Quality 100, 0.76 at 75, 2 from 34 down (``hold_scale`` raises it on texture)."""
    return min(HOLD_PER_QUALITY * (100 - min(max(quality, 1.0), 100.0)), HOLD_MAX)


def gif_hold_boost(noise: float, moving: float) -> float:
    """How much a clip's hold goes beyond ``gif_hold_levels``, from what ``NoiseMeter``
    measured: up to HOLD_BOOST_MAX times for a still scene (at most HOLD_STILL_FULL of the
    picture moving, falling to 1 at HOLD_STILL_NONE) whose still parts wobble by a level or
    so (a clean camera's noise or a codec's drift: ``noise`` from 0 up to HOLD_WOBBLE_FULL,
    back down to none at HOLD_NOISY, where ``TemporalHold``'s own noise rule takes over: a
    boost on top of it held the low-light clip's real changes, FLIP 1.05x two-pass). A pixel
    of such a scene that moved a level or two is redrawn with another dither pattern each time: the
    fixed-camera clips flickered 2.6-6.4x gifski --fast's. Material whose still parts are
    exactly still (screens, animation: noise 0) keeps the plain hold, as does a moving camera,
    where a stronger hold smears (city.mpg: FLIP +6.6 % at 1.5x)."""
    still = min(max((HOLD_STILL_NONE - moving) / (HOLD_STILL_NONE - HOLD_STILL_FULL), 0.0), 1.0)
    wobble = min(max(noise / HOLD_WOBBLE_FULL, 0.0), 1.0, max(HOLD_NOISY - noise, 0.0))
    return 1.0 + (HOLD_BOOST_MAX - 1.0) * still * wobble


def hold_scale(busy: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Per-pixel multiplier of ``gif_hold_levels`` for a ``temporal.texture`` map: 1 on smooth
    areas, rising by HOLD_TEXTURE_GAIN a level of texture up to HOLD_TEXTURE_MAX."""
    return np.asarray(np.clip(1 + HOLD_TEXTURE_GAIN * busy, 1, HOLD_TEXTURE_MAX), dtype=np.float32)


def lossy_scale(busy: npt.NDArray[np.float32]) -> npt.NDArray[np.uint8]:
    """Per-pixel multiplier of ``gif_lossy`` in sixteenths for a ``temporal.texture`` map:
    LOSSY_SMOOTH on smooth areas, rising by LOSSY_TEXTURE_GAIN a level up to LOSSY_TEXTURE_MAX."""
    scale = np.clip(LOSSY_SMOOTH + LOSSY_TEXTURE_GAIN * busy, 0, LOSSY_TEXTURE_MAX)
    return np.asarray(np.rint(scale * 16), dtype=np.uint8)


def gif_lossy_carry(quality: float) -> int:
    """256ths of a lossy match's colour change diffused to the neighbours: all of it from
    Quality 75 up, falling linearly to half at LOSSY_CARRY_LOW_QUALITY and below."""
    q = min(max(quality, LOSSY_CARRY_LOW_QUALITY), 75.0)
    return round(128 + 128 * (q - LOSSY_CARRY_LOW_QUALITY) / (75 - LOSSY_CARRY_LOW_QUALITY))


def gif_lossy(quality: float) -> int:
    """Lossy LZW tolerance (see _gifcore.c): 0 at Quality 100, GIF_LOSSY_AT_DEFAULT at 75,
    with the cube of (100 - Quality)."""
    q = min(max(quality, 1.0), 100.0)
    return round(GIF_LOSSY_AT_DEFAULT * ((100 - q) / 25) ** 3)


def webp_quality(quality: float) -> float:
    """libwebp's 0..100 quality, piecewise linear: 0 -> 0, 75 -> 60, 100 -> 100."""
    q = min(max(quality, 0.0), 100.0)
    if q <= WEBP_DEFAULT_QUALITY:
        return q * WEBP_QUALITY_AT_DEFAULT / WEBP_DEFAULT_QUALITY
    rest = (q - WEBP_DEFAULT_QUALITY) / (100 - WEBP_DEFAULT_QUALITY)
    return WEBP_QUALITY_AT_DEFAULT + rest * (100 - WEBP_QUALITY_AT_DEFAULT)


def webp_hold(quality: float) -> tuple[float, float]:
    """The still-scene hold's (mean shift, peak) thresholds in levels: (WEBP_STILL_SHIFT,
    WEBP_STILL_PEAK) at Quality 75, scaled by (100 - Quality) / 25 up to twice; (0, 0) at 100."""
    q = min(max(quality, 1.0), 100.0)
    scale = min((100 - q) / 25, 2.0)
    return WEBP_STILL_SHIFT * scale, WEBP_STILL_PEAK * scale


def webp_still_quality(libwebp_quality: float) -> float:
    """The libwebp quality of a still scene's held frames: WEBP_STILL_CLOSER of the way to 100
    (60 -> 78 at the default)."""
    return libwebp_quality + (100 - libwebp_quality) * WEBP_STILL_CLOSER


@dataclass(frozen=True, slots=True)
class WebpPlan:
    """How a WebP is coded: libwebp's quality and effort (method), and the still-scene hold's
    (mean shift, peak) thresholds, or None for no hold."""

    libwebp_quality: float
    method: int
    hold: tuple[float, float] | None


def webp_plan(quality: float, still: float | None) -> WebpPlan:
    """The coding of footage whose still fraction (``stills.still_fraction``, 0..1) is ``still``
    at template ``quality``; ``still`` None (not measured: at Quality 100, where nothing is
    held) codes it as moving footage.

    - moving footage (still < WEBP_PARTLY_STILL): libwebp ``webp_quality`` at WEBP_METHOD;
    - a partly still scene (WEBP_PARTLY_STILL .. WEBP_STILL_SCENE: a fixed camera with a large
      moving part, flat animation): no hold, WEBP_PARTLY_CLOSER of the way to 100, at
      WEBP_STILL_METHOD;
    - a still scene (from WEBP_STILL_SCENE: a fixed camera, a screen recording): the hold
      (``webp_hold``) and ``webp_still_quality``, at WEBP_STILL_METHOD.

    The fraction is a property of the footage, not of the Quality, so bytes still grow with the
    Quality. bench/README.md ("Where the encoder's settings come from", ``webp_plan``) has the
    measurements: libwebp's effort 4 takes 4-12 % of the bytes off effort 2 at the same FLIP
    but costs about twice the CPU, which a scene that is mostly still repays (fewer blocks
    change); holding blocks helps only a scene that is nearly all still."""
    base = webp_quality(quality)
    if still is None or still < WEBP_PARTLY_STILL:
        return WebpPlan(base, WEBP_METHOD, None)
    if still < WEBP_STILL_SCENE:
        return WebpPlan(base + (100 - base) * WEBP_PARTLY_CLOSER, WEBP_STILL_METHOD, None)
    return WebpPlan(webp_still_quality(base), WEBP_STILL_METHOD, webp_hold(quality))


def _crf(quality: float, at_default: float, per_quality: float, top: int) -> int:
    """A crf falling linearly with Quality (1..100) through ``at_default`` at Quality 75,
    clamped to the encoder's 0..``top``."""
    q = min(max(quality, 1.0), 100.0)
    return min(max(round(at_default + per_quality * (75 - q)), 0), top)


def x264_crf(quality: float) -> float:
    """libx264's crf: X264_CRF_AT_DEFAULT (23) at Quality 75, X264_CRF_PER_QUALITY a step:
    17 at 100, 40.8 at 1. In tenths, not whole numbers: libx264 takes a fractional crf, and a
    whole step changes the size by 12-18 %, more than a byte budget's 10 % window
    (``budget``)."""
    q = min(max(quality, 1.0), 100.0)
    crf = X264_CRF_AT_DEFAULT + X264_CRF_PER_QUALITY * (75 - q)
    return min(max(round(crf, 1), 0.0), 51.0)


def vp9_crf(quality: float) -> int:
    """libvpx-vp9's crf: VP9_CRF_AT_DEFAULT (32) at Quality 75, VP9_CRF_PER_QUALITY a step:
    24 at 100, 54 at 1."""
    return _crf(quality, VP9_CRF_AT_DEFAULT, VP9_CRF_PER_QUALITY, 63)


def avif_crf(quality: float) -> int:
    """SVT-AV1's crf for AVIF: AVIF_CRF_AT_DEFAULT (32) at Quality 75, AVIF_CRF_PER_QUALITY a
    step: 22 at 100, 62 at 1."""
    return _crf(quality, AVIF_CRF_AT_DEFAULT, AVIF_CRF_PER_QUALITY, 63)


def apng_max_colors(quality: float) -> int:
    """The APNG palette's size (one entry more is the transparent one): 255 from
    APNG_DEFAULT_QUALITY up, then geometrically down to APNG_MIN_COLORS at Quality 1 (at 100
    the APNG is truecolour and has no palette)."""
    q = min(max(quality, 1.0), 100.0)
    if q >= APNG_DEFAULT_QUALITY:
        return 255
    ratio = (APNG_DEFAULT_QUALITY - q) / (APNG_DEFAULT_QUALITY - 1)
    return max(APNG_MIN_COLORS, round(255 * math.pow(APNG_MIN_COLORS / 255, ratio)))
