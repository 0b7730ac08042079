"""Temporal hold for paletted animation frames: keep what the source did not change.

A GIF frame only needs the pixels that differ from what is already on screen; the others are
written transparent and the frame is cut to the rectangle of the rest (``gifwriter``). Video
sources are noisy and dithering turns a level or two of noise into a different palette index,
so redrawing every pixel makes most of them "change" and still areas shimmer.

``TemporalHold`` keeps the index on screen wherever the source pixel moved by at most
``levels`` (on 0..255, largest channel) since the pixel was last written; the comparison is with
the source at that write, not the previous frame, so slow drifts still update once they add up.
Held pixels cost almost nothing (runs of transparency) and cannot flicker.

How far a pixel may drift before it is redrawn depends on its neighbourhood (``texture``): in
a smooth area (a sky, a dark gradient) a held pixel that is a few levels off shows as a contour
against its redrawn neighbours, in busy texture the same error is masked. ``redraw`` takes a
per-pixel scale of ``levels`` for that. Measured on the bench corpus (``bench/README.md``), a
hold scaled by texture is what lets one setting keep the textured city.mpg pan small and steady
and the smooth cockatoo.mp4 close-up sharp.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["BlockHold", "NoiseMeter", "TemporalHold", "texture"]

Rgb = npt.NDArray[np.uint8]
Map = npt.NDArray[np.float32]

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
TEXTURE_WIDTH_PER_RADIUS = 320
# ``TemporalHold`` on a noisy source: a pixel is redrawn when its own change is over this many
# times the noise, or the mean change of its 3x3 neighbourhood over NOISE_AREA times it.
NOISE_PIXEL = 4.0
NOISE_AREA = 1.5
# ``NoiseMeter``: blocks of this size, the stillest NOISE_QUANTILE of them.
NOISE_BLOCK = 8
NOISE_QUANTILE = 0.1
MOVING_LEVELS = 8.0  # a luma change that is motion, not noise or a codec's wobble


def texture(rgb: Rgb) -> Map:
    """Local texture of an (H, W, 3) frame, in luma levels: the mean over a small window of
    each pixel's distance from the mean luma of that window (0 on flat or linear areas; about 1
    on a clean smooth close-up, 15 and more on fine detail). The window's radius is the width
    over TEXTURE_WIDTH_PER_RADIUS, rounded (3x3 at 320 px, 5x5 at 480, 9x9 at 1280), so a scene
    measures about the same at any output size. Edges repeat the border pixels."""
    y = np.asarray(rgb, dtype=np.float32) @ _LUMA
    radius = max(1, round(y.shape[1] / TEXTURE_WIDTH_PER_RADIUS))
    return _box(np.abs(y - _box(y, radius)), radius)


def _box(a: Map, radius: int) -> Map:
    """Mean over each pixel's (2 radius + 1)^2 neighbourhood (border pixels repeated).

    Separable sums of shifted slices in float32: exact enough for means of 0..255 over a few
    dozen pixels, and no float64 prefix sums of the whole frame (memory at 1280x720)."""
    k = 2 * radius + 1
    p = np.pad(a, radius, mode="edge")
    rows = p[: p.shape[0] - 2 * radius].copy()
    for d in range(1, k):
        rows += p[d : p.shape[0] - 2 * radius + d]
    out = rows[:, : rows.shape[1] - 2 * radius].copy()
    for d in range(1, k):
        out += rows[:, d : rows.shape[1] - 2 * radius + d]
    out *= np.float32(1 / (k * k))
    return out


class NoiseMeter:
    """How a clip changes from frame to frame, measured on consecutive frames as they go by:
    its temporal ``noise`` and the share of the picture that ``moving`` changes visibly.

    ``noise`` is in levels: the standard deviation of a still pixel's luma from frame to frame.
    Between two frames, the luma difference of each NOISE_BLOCK x NOISE_BLOCK block has a
    spread: noise alone in a still block, noise plus motion elsewhere. The NOISE_QUANTILE-th
    quantile of the blocks' spreads is the stillest part of the picture, whatever moves
    around it (a tenth of the picture still is enough); over sqrt(2) (a difference of two
    noisy frames), it is the noise. ``moving`` is the share of pixels whose luma changed by
    more than MOVING_LEVELS. Each is the median over the frame pairs. Measured on the bench
    corpus at 480 px (``bench/README.md``): noise 0 on screen recordings, animation and the
    MPEG-4 vtest.avi (their still parts are exactly still), 0.3-0.6 on clean H.264 camera
    footage, 1.6 on the MJPEG underwater clip, 3.6 on the low-light clip; moving 0.01-0.05 for
    a fixed camera, 0.4-0.6 for a pan or a hand-held camera.
    """

    def __init__(self) -> None:
        self._previous: npt.NDArray[np.float32] | None = None
        self._noise: list[float] = []
        self._moving: list[float] = []

    def add(self, rgb: Rgb) -> None:
        """The next frame (H, W, 3) of the clip (all frames at the same size)."""
        y = np.asarray(rgb, dtype=np.float32) @ _LUMA
        if self._previous is not None and self._previous.shape == y.shape:
            change = y - self._previous
            spread = _block_spread(change, NOISE_BLOCK)
            if spread.size:
                self._noise.append(float(np.quantile(spread, NOISE_QUANTILE)) / math.sqrt(2))
            self._moving.append(float(np.count_nonzero(np.abs(change) > MOVING_LEVELS)) / y.size)
        self._previous = y

    @property
    def noise(self) -> float:
        """The clip's noise in levels (0 before two frames)."""
        return float(np.median(self._noise)) if self._noise else 0.0

    @property
    def moving(self) -> float:
        """The share (0..1) of the picture that changes visibly a frame (0 before two)."""
        return float(np.median(self._moving)) if self._moving else 0.0


def _block_spread(a: Map, block: int) -> Map:
    """The standard deviation within each whole ``block`` x ``block`` block of ``a``."""
    h, w = a.shape[0] // block * block, a.shape[1] // block * block
    tiles = a[:h, :w].reshape(h // block, block, w // block, block).swapaxes(1, 2)
    return np.asarray(tiles.reshape(h // block, w // block, -1).std(axis=-1), dtype=np.float32)


class TemporalHold:
    """Per-pixel hold state across the frames of one animation."""

    def __init__(self, levels: float, noise: float = 0.0) -> None:
        if levels < 0 or noise < 0:
            raise ValueError(f"levels and noise must be >= 0, got {levels}, {noise}")
        self.levels = levels
        self.noise = noise
        # Source changes are whole levels: "moved by more than levels" is "more than floor(levels)".
        self._threshold = np.uint8(min(math.floor(levels), 255))
        self._source: Rgb | None = None

    def redraw(self, rgb: Rgb, scale: Map | None = None) -> npt.NDArray[np.bool_]:
        """Where ``rgb``, the next (H, W, 3) source frame, must be drawn anew: everywhere for
        the first frame, else where the source moved by more than ``levels`` (times ``scale``
        at that pixel, when given) since the pixel was last written. Call ``wrote`` once those
        pixels are written."""
        if self._source is None or self.levels <= 0:
            return np.ones(rgb.shape[:2], dtype=np.bool_)
        if rgb.shape != self._source.shape:
            raise ValueError(f"rgb {rgb.shape} does not match {self._source.shape}")
        # |source - last written| per channel in uint8 (max - min never wraps), then the largest
        # channel: no int16 copies and no reduction over a 3-wide axis (3x faster at 1280x720).
        moved = np.maximum(rgb, self._source)
        moved -= np.minimum(rgb, self._source)
        largest = np.maximum(np.maximum(moved[..., 0], moved[..., 1]), moved[..., 2])
        if self.noise > 0:
            return self._redraw_noisy(rgb, largest, scale)
        if scale is None:
            return largest > self._threshold
        return np.asarray(largest > np.floor(self.levels * scale), dtype=np.bool_)

    def _redraw_noisy(
        self, rgb: Rgb, largest: npt.NDArray[np.uint8], scale: Map | None
    ) -> npt.NDArray[np.bool_]:
        """On a noisy source a pixel's own change says little: redraw where it is beyond what
        the noise makes (NOISE_PIXEL x ``noise``), or where the change over its 3x3
        neighbourhood, in which noise averages out, is beyond ``levels`` (x ``scale``) or
        the noise left in such a mean."""
        assert self._source is not None
        limit = np.float32(self.levels) if scale is None else self.levels * scale
        pixel = np.maximum(limit, np.float32(NOISE_PIXEL * self.noise))
        change = rgb.astype(np.float32) - self._source
        mean = np.abs(np.stack([_box(change[..., c], 1) for c in range(3)], axis=-1)).max(axis=-1)
        area = np.maximum(limit, np.float32(NOISE_AREA * self.noise))
        small = largest > np.floor(limit)
        return np.asarray((largest > np.floor(pixel)) | (small & (mean > area)), dtype=np.bool_)

    def wrote(self, written: npt.NDArray[np.bool_], rgb: Rgb) -> None:
        """Record that the pixels of ``written`` now show ``rgb`` (the source they came from)."""
        if self.levels <= 0:
            return  # every pixel is redrawn every frame: no source to remember
        if self._source is None:
            self._source = np.array(rgb, dtype=np.uint8, copy=True)
        else:
            np.copyto(self._source, rgb, where=written[..., None])


class BlockHold:
    """Whole-block hold for block-coded (lossy WebP) frames of a still scene.

    A fixed camera's background changes only by sensor noise, and a lossy codec spends most of
    its bytes re-coding that noise in every frame. ``apply`` sends each ``block`` x ``block``
    block again only when it really changed since it was last sent: its mean change (largest
    channel) is above ``shift`` levels (a drift or a light change, which the eye sees even when
    small) or some pixel moved by more than ``peak`` (something entered the block). Otherwise the
    block is replaced by what was last sent, so the encoder sees it unchanged and codes nothing
    there. Whole blocks, not pixels: a held pixel between redrawn ones is a patchwork that costs
    a block coder more than the noise it saves (measured on the bench corpus)."""

    def __init__(self, shift: float, peak: float, block: int = 16) -> None:
        if shift < 0 or peak < 0 or block < 1:
            raise ValueError(f"need shift, peak >= 0 and block >= 1, got {shift}, {peak}, {block}")
        self.shift = shift
        self.peak = peak
        self.block = block
        self._sent: _Sent | None = None

    def apply(self, rgb: Rgb) -> tuple[Rgb, float]:
        """The frame to encode for source frame ``rgb`` (H, W, 3), and the fraction of its blocks
        held (0 for the first frame). Blocks at the right and bottom edges may be partial."""
        h, w = rgb.shape[:2]
        b = self.block
        # Zero padding to whole blocks: the same in every frame, so it never counts as a change.
        padded = np.pad(rgb, ((0, -h % b), (0, -w % b), (0, 0)))
        hb, wb = padded.shape[0] // b, padded.shape[1] // b
        # One axis at a time: numpy reduces over two strided axes at once 10x slower.
        sums = padded.reshape(hb, b, wb, b, 3).sum(axis=1, dtype=np.int32).sum(axis=2)
        sent = self._sent
        if sent is None:
            rows = np.minimum(b, h - b * np.arange(hb))
            cols = np.minimum(b, w - b * np.arange(wb))
            limit = np.floor(self.shift * np.outer(rows, cols)).astype(np.int32)
            self._sent = _Sent(padded, sums, limit, rgb.shape)
            return np.array(rgb, dtype=np.uint8, copy=True), 0.0
        if rgb.shape != sent.shape:
            raise ValueError(f"rgb {rgb.shape} does not match the first frame's {sent.shape}")
        # Largest |change| of a block in uint8 (max - min never wraps), mean change from the sums.
        moved = np.maximum(padded, sent.pixels)
        moved -= np.minimum(padded, sent.pixels)
        peak = moved.reshape(hb, b, wb, b * 3).max(axis=1).max(axis=2)
        shift = np.abs(sums - sent.sums).max(axis=-1)
        redraw = (peak > self.peak) | (shift > sent.limit)
        # Copy the redrawn blocks through an (H, W x 3) mask: no broadcast over the channels.
        mask = np.repeat(np.repeat(redraw, b, axis=0), b * 3, axis=1)
        rows_all = padded.shape[0]
        np.copyto(sent.pixels.reshape(rows_all, -1), padded.reshape(rows_all, -1), where=mask)
        sent.sums[redraw] = sums[redraw]
        return np.ascontiguousarray(sent.pixels[:h, :w]), 1.0 - float(redraw.mean())


@dataclass(frozen=True, slots=True)
class _Sent:
    """What a ``BlockHold`` last sent: the pixels padded to whole blocks, their block sums per
    channel, each block's mean-shift limit times its pixel count, and the frame shape."""

    pixels: Rgb
    sums: npt.NDArray[np.int32]
    limit: npt.NDArray[np.int32]
    shape: tuple[int, ...]
