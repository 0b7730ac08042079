"""Types of the C module ``_gifcore.c`` (GIF dithering and LZW loops)."""

from typing import Any

import numpy.typing as npt

_Bytes = bytes | bytearray | npt.NDArray[Any]

def dither(
    rgb: _Bytes,
    width: int,
    height: int,
    palette: _Bytes,
    colours: int,
    out: npt.NDArray[Any],
    cache: npt.NDArray[Any],
) -> None: ...
def lzw(
    pixels: _Bytes,
    screen: _Bytes,
    palette: _Bytes,
    transparent: int,
    threshold: int,
    chosen: npt.NDArray[Any],
) -> bytes: ...
