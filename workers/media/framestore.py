"""The claim check between decode and encode: decoded RGB24 frames in a directory.

On disk (``FORMAT_VERSION`` 1), inside one directory per (task, subtask)::

    frames.rgb    every frame as packed RGB24 rows, top row first, width*height*3 bytes each,
                  concatenated in display order: frame k starts at byte k*width*height*3
    frames.json   the manifest, written last: {"version": 1, "pixel_format": "rgb24",
                  "width": W, "height": H, "frame_bytes": W*H*3, "count": N,
                  "pts_s": [seconds of each frame on the video clock, 0 = video start]}

Both files are written under a unique temporary name and renamed into place (``os.replace``), the
data before the manifest, so a reader never sees half a file and a redelivered decode task simply
replaces the set. Writing and reading both go one frame at a time, so memory stays flat in the
number of frames.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import numpy as np
import numpy.typing as npt

from animgraph.workers.media.atomic import atomic_path

__all__ = [
    "DATA_NAME",
    "FORMAT_VERSION",
    "MANIFEST_NAME",
    "FrameReader",
    "FrameSet",
    "FrameWriter",
]

FORMAT_VERSION = 1
DATA_NAME = "frames.rgb"
MANIFEST_NAME = "frames.json"

RgbArray = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class FrameSet:
    """A complete set of decoded frames: ``width`` x ``height`` RGB24, one pts per frame."""

    directory: Path
    width: int
    height: int
    pts_s: tuple[float, ...]

    @property
    def frame_bytes(self) -> int:
        """Size in bytes of one frame."""
        return self.width * self.height * 3

    @property
    def data_path(self) -> Path:
        """The concatenated frame data."""
        return self.directory / DATA_NAME

    @property
    def manifest_path(self) -> Path:
        """The JSON manifest."""
        return self.directory / MANIFEST_NAME

    def __len__(self) -> int:
        return len(self.pts_s)

    @classmethod
    def load(cls, directory: Path) -> FrameSet:
        """Read the manifest in ``directory``; raise ValueError if it is missing or inconsistent."""
        try:
            manifest = json.loads((directory / MANIFEST_NAME).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"no readable frame set in {directory}: {exc}") from exc
        if manifest.get("version") != FORMAT_VERSION or manifest.get("pixel_format") != "rgb24":
            raise ValueError(f"unsupported frame set format in {directory}")
        frames = cls(
            directory,
            int(manifest["width"]),
            int(manifest["height"]),
            tuple(float(t) for t in manifest["pts_s"]),
        )
        expected = frames.frame_bytes * len(frames)
        actual = frames.data_path.stat().st_size if frames.data_path.exists() else -1
        if actual != expected:
            raise ValueError(f"frame data in {directory} has {actual} bytes, expected {expected}")
        return frames

    def save(self) -> None:
        """Write the manifest atomically (the data file must already be in place)."""
        manifest = {
            "version": FORMAT_VERSION,
            "pixel_format": "rgb24",
            "width": self.width,
            "height": self.height,
            "frame_bytes": self.frame_bytes,
            "count": len(self),
            "pts_s": list(self.pts_s),
        }
        with atomic_path(self.manifest_path) as tmp, tmp.open("wb") as out:
            out.write(json.dumps(manifest, separators=(",", ":")).encode("utf-8"))
            out.flush()
            os.fsync(out.fileno())

    @contextmanager
    def reader(self) -> Iterator[FrameReader]:
        """Open the data for random access by frame index; closed on exit."""
        reader = FrameReader(self)
        try:
            yield reader
        finally:
            reader.close()

    def read(self, index: int) -> RgbArray:
        """Return frame ``index`` as an (height, width, 3) array (opens the file each call)."""
        with self.reader() as reader:
            return reader.frame(index)


class FrameReader:
    """Random access to the frames of a FrameSet with positioned reads, one frame at a time.

    Plain reads rather than a memory map: mapped pages count as resident memory and would grow
    with the clip, while each read here is one frame that is freed when the caller drops it.
    """

    def __init__(self, frames: FrameSet) -> None:
        self._frames = frames
        self._file = frames.data_path.open("rb")

    def __len__(self) -> int:
        return len(self._frames)

    def frame(self, index: int) -> RgbArray:
        """Frame ``index`` as a new C-contiguous (height, width, 3) array."""
        if not 0 <= index < len(self._frames):
            raise IndexError(f"frame {index} out of range 0..{len(self._frames) - 1}")
        size = self._frames.frame_bytes
        data = os.pread(self._file.fileno(), size, index * size)
        if len(data) != size:
            raise ValueError(f"frame {index} of {self._frames.directory} is cut short")
        return np.frombuffer(data, dtype=np.uint8).reshape(
            self._frames.height, self._frames.width, 3
        )

    def close(self) -> None:
        """Close the data file."""
        self._file.close()


class FrameWriter:
    """Stream frames into a new FrameSet: ``append`` each frame, ``commit`` to publish it.

    Used as a context manager, it commits on a clean exit and discards the partial files on an
    exception, leaving any previously committed set in place.
    """

    def __init__(self, directory: Path, width: int, height: int) -> None:
        if width < 1 or height < 1:
            raise ValueError(f"frame size must be positive, got {width}x{height}")
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.width = width
        self.height = height
        self._pts: list[float] = []
        fd, tmp = tempfile.mkstemp(prefix=f".{DATA_NAME}.", suffix=".tmp", dir=directory)
        self._tmp = Path(tmp)
        self._out: IO[bytes] = os.fdopen(fd, "wb")

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()

    @property
    def count(self) -> int:
        """Frames appended so far."""
        return len(self._pts)

    def append(self, rgb: RgbArray | bytes, pts_s: float) -> None:
        """Append one RGB24 frame of the writer's size shown at ``pts_s`` (video clock)."""
        data = rgb if isinstance(rgb, bytes) else np.ascontiguousarray(rgb, dtype=np.uint8)
        size = len(data) if isinstance(data, bytes) else data.nbytes
        if size != self.width * self.height * 3:
            raise ValueError(f"frame has {size} bytes, expected {self.width}x{self.height}x3")
        self._out.write(data if isinstance(data, bytes) else data.data)
        self._pts.append(float(pts_s))

    def commit(self) -> FrameSet:
        """Flush, move the data into place, then write the manifest; return the FrameSet."""
        if self._out.closed:
            return FrameSet.load(self.directory)
        self._out.flush()
        os.fsync(self._out.fileno())
        self._out.close()
        frames = FrameSet(self.directory, self.width, self.height, tuple(self._pts))
        # The manifest of an older set must not describe the new data even for a moment.
        frames.manifest_path.unlink(missing_ok=True)
        os.replace(self._tmp, frames.data_path)
        frames.save()
        return frames

    def abort(self) -> None:
        """Drop what was written; an earlier committed set stays as it was."""
        if not self._out.closed:
            self._out.close()
        self._tmp.unlink(missing_ok=True)
