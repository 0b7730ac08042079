"""Join animations encoded in time slices into one (a long segment split across workers).

GIF: the parts' blocks are concatenated under the first part's header; each later part's
global colour table becomes a local colour table on its frames, and only the first part's loop
extension is kept. WebP: the parts' ``ANMF`` frames are concatenated under the first part's
``VP8X``/``ANIM`` header; a part that libwebp wrote as a still picture becomes one frame.
Every part starts with a whole frame, so no frame depends on another part.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["join_gifs", "join_webps"]


# --- GIF -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Gif:
    header: bytes  # signature + logical screen descriptor
    global_table: bytes
    table_bits: int  # the size field of the global table (entries = 2 ** (bits + 1))
    blocks: list[bytes]


def _sub_blocks(data: bytes, pos: int) -> int:
    """The position after a chain of data sub-blocks starting at ``pos``."""
    while True:
        size = data[pos]
        pos += 1 + size
        if size == 0:
            return pos


def _parse_gif(data: bytes) -> _Gif:
    if data[:6] not in (b"GIF87a", b"GIF89a"):
        raise ValueError("not a GIF")
    packed = data[10]
    table_bits = packed & 0x07
    table_size = 3 * (2 ** (table_bits + 1)) if packed & 0x80 else 0
    header, pos = data[:13], 13
    global_table = data[pos : pos + table_size]
    pos += table_size
    blocks = []
    while pos < len(data):
        kind = data[pos]
        if kind == 0x3B:  # trailer
            break
        if kind == 0x21:  # extension: introducer, label, sub-blocks
            end = _sub_blocks(data, pos + 2)
        elif kind == 0x2C:  # image: descriptor, optional local table, LZW size, sub-blocks
            local = data[pos + 9]
            local_size = 3 * (2 ** ((local & 0x07) + 1)) if local & 0x80 else 0
            end = _sub_blocks(data, pos + 10 + local_size + 1)
        else:
            raise ValueError(f"unexpected GIF block 0x{kind:02x} at {pos}")
        blocks.append(data[pos:end])
        pos = end
    return _Gif(header, global_table, table_bits, blocks)


def _with_local_table(image: bytes, table: bytes, bits: int) -> bytes:
    """An image block that carries ``table`` as its local colour table (if it had none)."""
    packed = image[9]
    if packed & 0x80 or not table:
        return image
    return image[:9] + bytes([packed | 0x80 | bits]) + table + image[10:]


def join_gifs(parts: Sequence[Path], dest: Path) -> None:
    """Write the GIF made of ``parts`` played one after the other."""
    gifs = [_parse_gif(p.read_bytes()) for p in parts]
    first = gifs[0]
    out = bytearray(first.header + first.global_table)
    for n, gif in enumerate(gifs):
        for block in gif.blocks:
            if block[0] == 0x21 and block[1] == 0xFF and n > 0:
                continue  # application extensions (the loop count) once, from the first part
            if block[0] == 0x2C and n > 0:
                block = _with_local_table(block, gif.global_table, gif.table_bits)
            out += block
    out += b"\x3b"
    dest.write_bytes(bytes(out))


# --- WebP ----------------------------------------------------------------------------------


def _chunks(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ValueError("not a WebP")
    pos = 12
    while pos + 8 <= len(data):
        tag = data[pos : pos + 4]
        (size,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        yield tag, data[pos + 8 : pos + 8 + size]
        pos += 8 + size + (size & 1)


def _chunk(tag: bytes, payload: bytes) -> bytes:
    return tag + struct.pack("<I", len(payload)) + payload + (b"\0" if len(payload) & 1 else b"")


def _u24(value: int) -> bytes:
    return value.to_bytes(3, "little")


def _still_as_frame(chunks: list[tuple[bytes, bytes]], width: int, height: int, ms: int) -> bytes:
    """An ``ANMF`` frame from a still WebP's picture chunks (``ALPH`` and ``VP8``/``VP8L``)."""
    picture = b"".join(_chunk(t, p) for t, p in chunks if t in (b"ALPH", b"VP8 ", b"VP8L"))
    header = _u24(0) + _u24(0) + _u24(width - 1) + _u24(height - 1) + _u24(ms) + b"\x02"
    return _chunk(b"ANMF", header + picture)  # flags: no blending, no disposal


def join_webps(parts: Sequence[Path], dest: Path, still_ms: Sequence[int]) -> None:
    """Write the animated WebP made of ``parts`` played one after the other.

    ``still_ms[i]`` is the display time of part ``i`` if libwebp wrote it as a still picture.
    """
    vp8x = anim = b""
    frames = []
    width = height = 0
    for part, ms in zip(parts, still_ms, strict=True):
        chunks = list(_chunks(part.read_bytes()))
        tags = {t: p for t, p in chunks}
        if b"VP8X" in tags:
            payload = tags[b"VP8X"]
            width = int.from_bytes(payload[4:7], "little") + 1
            height = int.from_bytes(payload[7:10], "little") + 1
            vp8x = vp8x or payload
        if b"ANIM" in tags:
            anim = anim or tags[b"ANIM"]
            frames += [_chunk(b"ANMF", p) for t, p in chunks if t == b"ANMF"]
        else:
            if not width:
                width, height = _still_size(tags)
            frames.append(_still_as_frame(chunks, width, height, ms))
    if not vp8x:
        vp8x = b"\0\0\0\0" + _u24(width - 1) + _u24(height - 1)
    flags = vp8x[0] | 0x02  # the animation flag
    header = _chunk(b"VP8X", bytes([flags]) + vp8x[1:])
    anim = anim or (b"\0\0\0\0" + struct.pack("<H", 0))  # background, loop forever
    body = b"WEBP" + header + _chunk(b"ANIM", anim) + b"".join(frames)
    dest.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


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
