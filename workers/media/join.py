"""Join animations encoded in time slices into one (a long segment split across workers).

GIF: the parts' blocks are concatenated under the first part's header; each later part's
global colour table becomes a local colour table on its frames. WebP: the parts' ``ANMF``
frames are concatenated under the first part's ``VP8X``/``ANIM`` header; a part that libwebp
wrote as a still picture becomes one frame. Every part starts with a whole frame, so no frame
depends on another part. The joined animation plays ``loop_count`` times (``loopcount``): the
GIF gets its own loop extension (the parts' are dropped), the WebP's ANIM chunk that count.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO, Protocol

from animgraph.workers.media.loopcount import gif_loop_extension, webp_loop_count

__all__ = ["Joiner", "join_gif_parts", "join_gifs", "join_webp_parts", "join_webps"]


class Joiner(Protocol):
    """Write the animation made of ``parts`` (time slices of one encode, in order) played one
    after the other to ``dest``, playing ``loop_count`` times (0: forever) where the format
    stores it. ``part_ms`` is each part's display time in ms: only a WebP part that libwebp
    wrote as a still picture (a slice of one frame) needs it; the other joins ignore it."""

    def __call__(
        self,
        parts: Sequence[Path],
        dest: Path,
        *,
        loop_count: int,
        part_ms: Sequence[int] | None = None,
    ) -> None: ...


def join_gif_parts(
    parts: Sequence[Path], dest: Path, *, loop_count: int, part_ms: Sequence[int] | None = None
) -> None:
    """``join_gifs`` as a ``Joiner``."""
    join_gifs(parts, dest, loop_count=loop_count)


def join_webp_parts(
    parts: Sequence[Path], dest: Path, *, loop_count: int, part_ms: Sequence[int] | None = None
) -> None:
    """``join_webps`` as a ``Joiner``: ``part_ms`` gives a still part its display time; without
    it a still part is a ValueError (an animated part has its frames' own)."""
    if part_ms is None:
        if not all(_is_animated(part) for part in parts):
            raise ValueError("a still WebP part needs its display time (part_ms)")
        part_ms = [0] * len(parts)
    join_webps(parts, dest, part_ms, loop_count=loop_count)


# --- GIF -----------------------------------------------------------------------------------

_COPY = 1 << 20


def _read(stream: BinaryIO, size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise ValueError("truncated GIF")
    return data


def _copy_sub_blocks(src: BinaryIO, dest: BinaryIO) -> None:
    """Copy a chain of data sub-blocks (size byte, data) up to its terminator."""
    while True:
        size = _read(src, 1)
        dest.write(size)
        if size == b"\0":
            return
        dest.write(_read(src, size[0]))


def _gif_header(src: BinaryIO) -> tuple[bytes, bytes, int]:
    """The signature and logical screen descriptor, the global colour table and its size bits."""
    header = _read(src, 13)
    if header[:6] not in (b"GIF87a", b"GIF89a"):
        raise ValueError("not a GIF")
    packed = header[10]
    table = _read(src, 3 * (2 ** ((packed & 0x07) + 1))) if packed & 0x80 else b""
    return header, table, packed & 0x07


def _copy_gif_blocks(src: BinaryIO, dest: BinaryIO, table: bytes, bits: int, first: bool) -> None:
    """Copy a GIF's blocks but its loop extension; later parts carry their global table as
    each frame's local table. Streams: memory does not grow with the file."""
    while kind := src.read(1):
        if kind == b"\x3b":  # trailer
            return
        if kind == b"\x21":  # extension: label, then sub-blocks
            label = _read(src, 1)
            if label == b"\xff" and _is_loop_extension(src):
                _copy_sub_blocks(src, io.BytesIO())  # skip it: the joined GIF has its own
                continue
            dest.write(kind + label)
            _copy_sub_blocks(src, dest)
        elif kind == b"\x2c":  # image: descriptor, local table, LZW code size, sub-blocks
            descriptor = _read(src, 9)
            packed = descriptor[8]
            local = _read(src, 3 * (2 ** ((packed & 0x07) + 1))) if packed & 0x80 else b""
            if not local and not first and table:
                packed, local = packed | 0x80 | bits, table
            dest.write(kind + descriptor[:8] + bytes([packed]) + local + _read(src, 1))
            _copy_sub_blocks(src, dest)
        else:
            raise ValueError(f"unexpected GIF block 0x{kind[0]:02x}")


def _is_loop_extension(src: BinaryIO) -> bool:
    """Whether the application extension ``src`` is at (after its label) is NETSCAPE2.0's
    (or its alias ANIMEXTS1.0's); ``src`` is left where it was."""
    at = src.tell()
    head = src.read(12)
    src.seek(at)
    return head in (b"\x0bNETSCAPE2.0", b"\x0bANIMEXTS1.0")


def join_gifs(parts: Sequence[Path], dest: Path, *, loop_count: int) -> None:
    """Write the GIF made of ``parts`` played one after the other (streamed, part by part),
    playing ``loop_count`` times (0: forever)."""
    with open(dest, "wb") as out:
        for n, part in enumerate(parts):
            with open(part, "rb") as src:
                header, table, bits = _gif_header(src)
                if n == 0:
                    out.write(header + table + gif_loop_extension(loop_count))
                _copy_gif_blocks(src, out, table, bits, first=n == 0)
        out.write(b"\x3b")


# --- WebP ----------------------------------------------------------------------------------


def _chunk_heads(path: Path) -> list[tuple[bytes, int, int]]:
    """(tag, payload offset, payload size) of each chunk of a WebP file, read from headers."""
    heads = []
    with open(path, "rb") as src:
        riff = src.read(12)
        if riff[:4] != b"RIFF" or riff[8:12] != b"WEBP":
            raise ValueError("not a WebP")
        pos = 12
        while head := src.read(8):
            if len(head) < 8:
                break
            tag, (size,) = head[:4], struct.unpack("<I", head[4:])
            heads.append((tag, pos + 8, size))
            pos += 8 + size + (size & 1)
            src.seek(pos)
    return heads


def _is_animated(path: Path) -> bool:
    """Whether a WebP file has an ANIM chunk (libwebp writes a still picture without one)."""
    return any(tag == b"ANIM" for tag, _, _ in _chunk_heads(path))


def _payload(path: Path, offset: int, size: int) -> bytes:
    with open(path, "rb") as src:
        src.seek(offset)
        return src.read(size)


def _chunk(tag: bytes, payload: bytes) -> bytes:
    return tag + struct.pack("<I", len(payload)) + payload + (b"\0" if len(payload) & 1 else b"")


def _u24(value: int) -> bytes:
    return value.to_bytes(3, "little")


def join_webps(
    parts: Sequence[Path], dest: Path, still_ms: Sequence[int], *, loop_count: int
) -> None:
    """Write the animated WebP made of ``parts`` played one after the other, playing
    ``loop_count`` times (0: forever).

    ``still_ms[i]`` is the display time of part ``i`` if libwebp wrote it as a still picture.
    Animation frames are copied chunk by chunk; a still part (small) becomes one frame. The
    ANIM chunk keeps the first animated part's background colour.
    """
    loop = struct.pack("<H", webp_loop_count(loop_count))
    vp8x = anim = b""
    width = height = flags = 0  # flags: every part's VP8X flags (alpha in any part: alpha)
    pieces: list[bytes | tuple[Path, int, int]] = []  # built chunks, or chunks to copy
    for part, ms in zip(parts, still_ms, strict=True):
        heads = _chunk_heads(part)
        tags = {tag: (offset, size) for tag, offset, size in heads}
        if b"VP8X" in tags:
            payload = _payload(part, *tags[b"VP8X"])
            width = int.from_bytes(payload[4:7], "little") + 1
            height = int.from_bytes(payload[7:10], "little") + 1
            vp8x = vp8x or payload
            flags |= payload[0]
        if b"ANIM" in tags:
            anim = anim or _payload(part, *tags[b"ANIM"])
            pieces += [
                (part, offset - 8, 8 + size + (size & 1))
                for t, offset, size in heads
                if t == b"ANMF"
            ]
        else:
            picture = {
                t: _payload(part, o, n) for t, o, n in heads if t in (b"ALPH", b"VP8 ", b"VP8L")
            }
            if not width:
                width, height = _still_size(picture)
            if b"ALPH" in picture:
                flags |= 0x10
            pieces.append(_still_as_frame(picture, width, height, ms))
    if not vp8x:
        vp8x = b"\0\0\0\0" + _u24(width - 1) + _u24(height - 1)
    header = _chunk(b"VP8X", bytes([flags | 0x02]) + vp8x[1:])  # and the animation flag
    anim_chunk = _chunk(b"ANIM", (anim[:4] or b"\0\0\0\0") + loop)
    size = 4 + len(header) + len(anim_chunk)
    size += sum(len(p) if isinstance(p, bytes) else p[2] for p in pieces)
    with open(dest, "wb") as out:
        out.write(b"RIFF" + struct.pack("<I", size) + b"WEBP" + header + anim_chunk)
        for piece in pieces:
            if isinstance(piece, bytes):
                out.write(piece)
                continue
            path, offset, length = piece
            with open(path, "rb") as src:
                src.seek(offset)
                _copy_exactly(src, out, length)


def _copy_exactly(src: BinaryIO, dest: BinaryIO, length: int) -> None:
    while length > 0:
        chunk = src.read(min(length, _COPY))
        if not chunk:
            raise ValueError("truncated WebP")
        dest.write(chunk)
        length -= len(chunk)


def _still_as_frame(picture: dict[bytes, bytes], width: int, height: int, ms: int) -> bytes:
    """An ``ANMF`` frame from a still WebP's picture chunks (``ALPH`` and ``VP8``/``VP8L``)."""
    data = b"".join(_chunk(t, picture[t]) for t in (b"ALPH", b"VP8 ", b"VP8L") if t in picture)
    header = _u24(0) + _u24(0) + _u24(width - 1) + _u24(height - 1) + _u24(ms) + b"\x02"
    return _chunk(b"ANMF", header + data)  # flags: no blending, no disposal


def _still_size(tags: dict[bytes, bytes]) -> tuple[int, int]:
    if b"VP8 " in tags:
        data = tags[b"VP8 "]
        return (
            int.from_bytes(data[6:8], "little") & 0x3FFF,
            int.from_bytes(data[8:10], "little") & 0x3FFF,
        )
    data = tags[b"VP8L"]
    bits = int.from_bytes(data[1:5], "little")
    return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
