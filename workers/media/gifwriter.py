"""A GIF89a writer for animations over one global palette, with lossy LZW.

Each frame after the first is cut to the rectangle that changed on screen, and its unchanged
pixels inside that rectangle are written as the transparent index (disposal "do not dispose"),
so they cost runs of one code. The LZW coder (``_gifcore.lzw``) may also let a code stand for a
run of colours within ``threshold`` (squared RGB distance) of the wanted ones, as
``gifsicle --lossy`` does: longer matches, fewer codes, a little colour error in return. Under a
transparent pixel it may equally write the colour on screen there (and the reverse), which
looks the same and often continues a longer match. The screen is tracked from the indexes the
coder actually wrote, so later frames see what a viewer sees.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from animgraph.workers.media import _gifcore

__all__ = ["TRANSPARENT", "Ditherer", "GifWriter", "dither"]

Indexes = npt.NDArray[np.uint8]
Rgb = npt.NDArray[np.uint8]

# The palette entry kept for transparency (palettegen's reserve_transparent puts it last).
TRANSPARENT = 255
_LZW_MIN_CODE_SIZE = 8


class Ditherer:
    """Sierra-2-4A error diffusion of RGB frames to the first ``colours`` palette entries.

    Holds the nearest-entry cache for its palette (512 KiB), so one instance serves one
    animation.
    """

    def __init__(self, palette: Rgb, colours: int) -> None:
        if not 1 <= colours <= min(len(palette), 256):
            raise ValueError(f"colours must be 1..{min(len(palette), 256)}, got {colours}")
        self._palette = np.ascontiguousarray(palette[:colours], dtype=np.uint8)
        self._colours = colours
        self._cache = np.full(1 << 21, -1, dtype=np.int16)

    def __call__(self, rgb: Rgb) -> Indexes:
        """The (H, W) palette indexes of an (H, W, 3) uint8 picture."""
        height, width = rgb.shape[:2]
        out = np.empty((height, width), dtype=np.uint8)
        _gifcore.dither(
            np.ascontiguousarray(rgb, dtype=np.uint8),
            width,
            height,
            self._palette,
            self._colours,
            out,
            self._cache,
        )
        return out


def dither(rgb: Rgb, palette: Rgb, colours: int | None = None) -> Indexes:
    """One picture dithered to ``palette`` (all of it unless ``colours``)."""
    return Ditherer(palette, len(palette) if colours is None else colours)(rgb)


class GifWriter:
    """Writes frames of palette indexes to ``out`` as a GIF that loops forever.

    ``palette`` is the global colour table (up to 256 RGB entries; entry ``TRANSPARENT`` is
    never drawn). ``threshold`` is the lossy LZW tolerance, 0 for exact colours.
    """

    def __init__(
        self, out: BinaryIO, width: int, height: int, palette: Rgb, threshold: int = 0
    ) -> None:
        if not (1 <= width <= 0xFFFF and 1 <= height <= 0xFFFF):
            raise ValueError(f"GIF size {width}x{height} out of range")
        if threshold < 0:
            raise ValueError(f"threshold must be >= 0, got {threshold}")
        table = np.zeros((256, 3), dtype=np.uint8)
        table[: len(palette)] = np.asarray(palette, dtype=np.uint8)[:256]
        self._out = out
        self._width, self._height = width, height
        self._palette = table
        self._threshold = threshold
        self._screen: Indexes | None = None
        out.write(b"GIF89a")
        # Logical screen: global table of 2^(7+1) entries, 8 bits a channel, background 0.
        out.write(struct.pack("<HHBBB", width, height, 0xF7, 0, 0))
        out.write(table.tobytes())
        # NETSCAPE2.0 application extension: loop count 0 (forever).
        out.write(b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00")

    @property
    def screen(self) -> Indexes | None:
        """The indexes on screen after the last frame (None before the first)."""
        return self._screen

    def add(self, indexes: Indexes, delay_cs: int) -> Indexes:
        """Append a frame shown for ``delay_cs`` hundredths of a second; returns the screen.

        ``indexes`` is the (H, W) picture wanted on screen (never ``TRANSPARENT``). The screen
        returned is what a viewer sees after this frame; with a lossy threshold it differs
        from ``indexes`` by colours within the threshold.
        """
        if indexes.shape != (self._height, self._width):
            raise ValueError(f"frame {indexes.shape} is not {self._height}x{self._width}")
        if not 0 <= delay_cs <= 0xFFFF:
            raise ValueError(f"delay {delay_cs} cs out of range")
        wanted = np.ascontiguousarray(indexes, dtype=np.uint8)
        if self._screen is None:
            box = (0, 0, self._width, self._height)
            pixels, under, transparent = wanted, np.empty(0, np.uint8), -1
        else:
            changed = wanted != self._screen
            box = _bounding_box(changed)
            x0, y0, x1, y1 = box
            pixels = np.where(changed[y0:y1, x0:x1], wanted[y0:y1, x0:x1], TRANSPARENT)
            under = self._screen[y0:y1, x0:x1]
            transparent = TRANSPARENT
        x0, y0, x1, y1 = box
        flat = np.ascontiguousarray(pixels, dtype=np.uint8).reshape(-1)
        chosen = np.empty_like(flat)
        data = _gifcore.lzw(
            flat,
            np.ascontiguousarray(under).reshape(-1),
            self._palette,
            transparent,
            self._threshold,
            chosen,
        )
        self._write_frame(box, transparent, delay_cs, data)
        written = chosen.reshape(y1 - y0, x1 - x0)
        if self._screen is None:
            self._screen = written.copy()
        else:
            region = self._screen[y0:y1, x0:x1]
            np.copyto(region, written, where=written != TRANSPARENT)
        return self._screen

    def close(self) -> None:
        """Write the trailer (the stream is left open)."""
        self._out.write(b"\x3b")

    def _write_frame(
        self, box: tuple[int, int, int, int], transparent: int, delay_cs: int, data: bytes
    ) -> None:
        x0, y0, x1, y1 = box
        # Graphic control extension: disposal 1 (leave in place), transparency flag, delay.
        flags = (1 << 2) | (1 if transparent >= 0 else 0)
        self._out.write(
            struct.pack("<BBBBHBB", 0x21, 0xF9, 4, flags, delay_cs, max(transparent, 0), 0)
        )
        self._out.write(struct.pack("<BHHHHB", 0x2C, x0, y0, x1 - x0, y1 - y0, 0))
        self._out.write(bytes((_LZW_MIN_CODE_SIZE,)))
        blocks = bytearray()
        for start in range(0, len(data), 255):
            chunk = data[start : start + 255]
            blocks.append(len(chunk))
            blocks += chunk
        blocks.append(0)
        self._out.write(blocks)


def _bounding_box(changed: npt.NDArray[np.bool_]) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the True pixels, or a 1x1 box at the origin when there are none."""
    rows = np.flatnonzero(changed.any(axis=1))
    if len(rows) == 0:
        return 0, 0, 1, 1
    cols = np.flatnonzero(changed[rows[0] : rows[-1] + 1].any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1
