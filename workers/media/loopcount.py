"""How each format stores a template's ``LoopCount`` (contract §2.5): plays in total, 0 forever.

GIF's NETSCAPE2.0 application extension holds a repeat count: browsers play the animation
that many times *after* the first, 0 is forever, and a GIF without the extension plays once
(Chromium's ``cc/paint/image_animation_count.h``). WebP's ANIM
chunk holds the number of plays itself, 0 forever (the container spec's "loop count";
Chromium's WebP decoder subtracts one to reach GIF's convention, and libwebp's gif2webp adds
one the other way). Pillow reports both raw values as ``info["loop"]``.
"""

from __future__ import annotations

import struct

from animgraph.shared.models import MAX_LOOP_COUNT

__all__ = ["gif_loop_extension", "gif_repeats", "webp_loop_count"]


def _check(plays: int) -> None:
    if not 0 <= plays <= MAX_LOOP_COUNT:
        raise ValueError(f"LoopCount must be 0..{MAX_LOOP_COUNT}, got {plays}")


def gif_repeats(plays: int) -> int | None:
    """The NETSCAPE2.0 repeat count for ``plays`` plays, or None for no extension (one play)."""
    _check(plays)
    if plays == 1:
        return None
    return 0 if plays == 0 else plays - 1


def gif_loop_extension(plays: int) -> bytes:
    """The NETSCAPE2.0 application extension block for ``plays`` plays (empty for one play)."""
    repeats = gif_repeats(plays)
    if repeats is None:
        return b""
    return b"\x21\xff\x0bNETSCAPE2.0\x03\x01" + struct.pack("<H", repeats) + b"\x00"


def webp_loop_count(plays: int) -> int:
    """The ANIM chunk's loop count for ``plays`` plays: the same number."""
    _check(plays)
    return plays
