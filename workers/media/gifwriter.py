"""A GIF89a writer for RGB animations over one global palette, with lossy LZW.

Each frame is dithered (Sierra-2-4A, nearest entries in OkLab) and LZW-coded in one pass by
``_gifcore.encode``. Frames after the first are cut to the rectangle of the pixels the caller
redraws; pixels it holds are written as the transparent index (disposal "do not dispose") or, when
that continues a longer match, as the colour on screen there, which looks the same. The coder may
also let a code stand for a run of entries within ``threshold`` (OkLab, see ``_gifcore.c``) of
the nearest ones, as ``gifsicle --lossy`` does: longer matches, fewer codes; the dithering spreads
the colour error of such a match to the neighbours like any other. The screen is tracked from
the indexes the coder actually wrote, so later frames see what a viewer sees.

With ``threads=2`` two frames are coded at once, the later one row by row behind the earlier
(a frame reads the screen only in the row it codes): the same bytes as one at a time, in
about 0.6x the time on two cores.
"""

from __future__ import annotations

import struct
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

from animgraph.workers.media import _gifcore
from animgraph.workers.media.loopcount import gif_loop_extension

__all__ = ["TRANSPARENT", "GifWriter"]

Indexes = npt.NDArray[np.uint8]
Rgb = npt.NDArray[np.uint8]

# The palette entry kept for transparency (palettegen's reserve_transparent puts it last).
TRANSPARENT = 255
_LZW_MIN_CODE_SIZE = 8


# Nearest-entry cache slots of the C dithering: 7 bits a channel (4 MiB of int16). 6 bits
# measured 1-3 % worse FLIP: the nearest entry of a cell's centre is not every colour's.
_CACHE_SLOTS = 1 << 21
# What a coder publishes when it is done (or failed): more rows than any frame has.
_ALL_ROWS = np.iinfo(np.int32).max


@dataclass
class _Frame:
    """A frame handed to the coder, written to the file once its codes are back."""

    box: tuple[int, int, int, int]
    transparent: int
    delay_cs: int
    done: npt.NDArray[np.int32]  # picture rows the coder has finished (see _gifcore.c)
    codes: Future[bytes] | None = None
    data: bytes = b""


def _code(args: tuple[Any, ...], done: npt.NDArray[np.int32]) -> bytes:
    try:
        return _gifcore.encode(*(*args, done))
    except BaseException:
        done[0] = _ALL_ROWS  # a call refused before it ran: the next frame must not wait
        raise


class GifWriter:
    """Writes RGB frames to ``out`` as a GIF that plays ``loop_count`` times (0: forever).

    ``palette`` is the global colour table (up to 255 RGB entries; entry ``TRANSPARENT`` is
    never drawn), of which frames are dithered to the first ``colours`` (all by default).
    ``threshold`` is the lossy LZW tolerance, 0 for the nearest colours only; ``carry``
    (0..256) is how much of the colour change of a lossy match is diffused to the neighbours,
    in 256ths.
    """

    def __init__(
        self,
        out: BinaryIO,
        width: int,
        height: int,
        palette: Rgb,
        threshold: int = 0,
        colours: int | None = None,
        carry: int = 256,
        search: int = 0,
        threads: int = 1,
        loop_count: int = 0,
        exact: Rgb | None = None,
    ) -> None:
        if not (1 <= width <= 0xFFFF and 1 <= height <= 0xFFFF):
            raise ValueError(f"GIF size {width}x{height} out of range")
        if threshold < 0:
            raise ValueError(f"threshold must be >= 0, got {threshold}")
        if search < 0:
            raise ValueError(f"search must be >= 0, got {search}")
        if threads not in (1, 2):
            raise ValueError(f"threads must be 1 or 2, got {threads}")
        if not 0 <= carry <= 256:
            raise ValueError(f"carry must be 0..256, got {carry}")
        loop_block = gif_loop_extension(loop_count)  # checks the count before anything is written
        table = np.zeros((256, 3), dtype=np.uint8)
        table[: min(len(palette), 256)] = np.asarray(palette, dtype=np.uint8)[:256]
        self._out = out
        self._width, self._height = width, height
        self._palette = table
        self._threshold = threshold
        self._carry = carry
        self._search = search
        # The indexes on screen, updated in place by the coder (all 0 before the first frame).
        self._screen: Indexes = np.zeros((height, width), dtype=np.uint8)
        self._started = False
        self._pending: deque[_Frame] = deque()
        self._threads = ThreadPoolExecutor(2, "gif-coder") if threads == 2 else None
        self._colours = min(len(palette), TRANSPARENT) if colours is None else colours
        if not 1 <= self._colours <= min(len(palette), TRANSPARENT):
            raise ValueError(f"colours must be 1..{min(len(palette), TRANSPARENT)}")
        # What the C coder keeps across frames: its nearest-entry cache (entry + 1, 0 for
        # unknown: np.zeros maps zero pages, resident only once written).
        self._cache = np.zeros(_CACHE_SLOTS, dtype=np.int16)
        if exact is not None:
            self._pin(np.asarray(exact, dtype=np.uint8).reshape(-1, 3))
        out.write(b"GIF89a")
        # Logical screen: global table of 2^(7+1) entries, 8 bits a channel, background 0.
        out.write(struct.pack("<HHBBB", width, height, 0xF7, 0, 0))
        out.write(table.tobytes())
        # NETSCAPE2.0 application extension: the repeat count (none at all for one play).
        out.write(loop_block)

    @property
    def screen(self) -> Indexes | None:
        """The indexes on screen after the last frame (None before the first)."""
        self._drain(0)
        return self._screen if self._started else None

    def _pin(self, exact: Rgb) -> None:
        """Map the cache cell of each ``exact`` colour (a flat colour the palette holds
        exactly) to its entry: the coder looks a cell up at its odd corner, which for black
        is (1, 1, 1), and would take an entry there instead of the exact one. Where two share
        a cell, the first (``FlatColours`` ranks the largest share first) keeps it."""
        table = self._palette[: self._colours].astype(np.int32)
        for r, g, b in exact.astype(np.int32).tolist():
            hits = np.flatnonzero((table == (r, g, b)).all(axis=1))
            cell = ((r >> 1) << 14) | ((g >> 1) << 7) | (b >> 1)
            if len(hits) and not self._cache[cell]:
                self._cache[cell] = hits[0] + 1

    def add(
        self,
        rgb: Rgb,
        redraw: npt.NDArray[np.bool_] | None,
        delay_cs: int,
        tolerance: npt.NDArray[np.uint8] | None = None,
    ) -> npt.NDArray[np.bool_]:
        """Append an RGB frame, dithered and coded in one pass; returns the pixels written.

        Pixels outside ``redraw`` keep what is on screen (all are drawn on the first frame or
        when ``redraw`` is None). The others are dithered (Sierra-2-4A, nearest colours in
        OkLab) to the first ``colours`` palette entries, and the lossy coder may write a
        nearby colour when that extends its match, the dithering spreading the difference to
        the neighbours. ``tolerance`` (H, W) scales the lossy threshold pixel by pixel, in
        sixteenths (16: as given; None: 16 everywhere). Returns the mask of pixels that were
        drawn anew (the caller's hold records their source).
        """
        height, width = rgb.shape[:2]
        if (height, width) != (self._height, self._width) or rgb.shape[2:] != (3,):
            raise ValueError(f"frame {rgb.shape} is not {self._height}x{self._width}x3")
        if not 0 <= delay_cs <= 0xFFFF:
            raise ValueError(f"delay {delay_cs} cs out of range")
        first = not self._started
        self._started = True
        if first or redraw is None:
            drawn = np.ones((height, width), dtype=np.bool_)
        else:
            drawn = np.asarray(redraw, dtype=np.bool_)
        box = (0, 0, width, height) if first else _bounding_box(drawn)
        transparent = -1 if first else TRANSPARENT
        held = b"" if first else np.ascontiguousarray(~drawn, dtype=np.uint8)
        # At most two frames with the coder: the one before the last must be done, so that
        # every row the last one has not coded yet is final.
        self._drain(1)
        before = self._pending[-1].done if self._pending else b""
        frame = _Frame(box, transparent, delay_cs, np.zeros(1, dtype=np.int32))
        args = (
            np.ascontiguousarray(rgb, dtype=np.uint8),
            width,
            box,
            held,
            self._screen,
            self._palette,
            self._colours,
            self._cache,
            transparent,
            self._threshold,
            b"" if tolerance is None else np.ascontiguousarray(tolerance, dtype=np.uint8),
            self._carry,
            self._search,
            before,
        )
        if self._threads is None:
            frame.data = _code(args, frame.done)
        else:
            frame.codes = self._threads.submit(_code, args, frame.done)
        self._pending.append(frame)
        if self._threads is None:
            self._drain(0)
        return drawn

    def _drain(self, keep: int) -> None:
        """Write the frames whose codes are back, oldest first, until at most ``keep`` are
        left with the coder (waiting for them)."""
        while len(self._pending) > keep:
            frame = self._pending.popleft()
            data = frame.data if frame.codes is None else frame.codes.result()
            self._write_frame(frame.box, frame.transparent, frame.delay_cs, data)

    def close(self) -> None:
        """Write the pending frames and the trailer (the stream is left open)."""
        try:
            self._drain(0)
            self._out.write(b"\x3b")
        finally:
            self.abandon()

    def abandon(self) -> None:
        """Stop without writing what is pending (after an error): wait for the coder threads."""
        if self._threads is not None:
            self._threads.shutdown(cancel_futures=True)
        self._pending.clear()

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
