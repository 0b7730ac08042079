"""Types of the C module ``_gifcore.c`` (GIF dithering and LZW loops)."""

from typing import Any

import numpy.typing as npt

_Bytes = bytes | bytearray | npt.NDArray[Any]

def encode(
    rgb: _Bytes,
    width: int,
    box: tuple[int, int, int, int],
    held: _Bytes,
    screen: npt.NDArray[Any],
    palette: _Bytes,
    colours: int,
    cache: npt.NDArray[Any],
    transparent: int,
    threshold: int,
    scale: _Bytes,
    carry: int,
    budget: int,
    after: _Bytes,
    done: npt.NDArray[Any],
) -> bytes: ...
