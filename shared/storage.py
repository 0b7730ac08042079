"""Storage of sources, intermediate frames and outputs, chosen by URL scheme.

Keys are relative POSIX paths (``outputs/<task>/0/v.f20000.gif``); a key can never leave the
storage root. Writes are atomic: a reader sees the whole object or none of it, so a task that
is delivered twice never reads half a file.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import Protocol
from urllib.parse import quote, unquote, urlparse

from animgraph.shared.errors import TransientError

__all__ = ["FileStorage", "Storage", "open_storage", "validate_key"]


class Storage(Protocol):
    """The narrow storage interface every backend implements."""

    def put_file(self, key: str, src: Path, *, move: bool = False) -> None:
        """Store the local file ``src`` under ``key`` atomically (``move`` may consume it)."""

    def local_path(self, key: str, scratch: Path) -> Path:
        """A local path holding the object's bytes (downloaded into ``scratch`` if needed)."""

    def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""

    def delete_prefix(self, prefix: str) -> None:
        """Delete every object whose key starts with the folder ``prefix``."""

    def url(self, key: str) -> str:
        """The URL a user is given for ``key``."""


def validate_key(key: str) -> PurePosixPath:
    """The key as a path, refusing absolute keys and ``..`` so no key escapes the root."""
    path = PurePosixPath(key)
    if not key or path.is_absolute() or any(part in ("..", "") for part in path.parts):
        raise ValueError(f"invalid storage key {key!r}")
    return path


class FileStorage:
    """Objects are files below one folder (``file:///var/lib/animgraph``)."""

    def __init__(self, root: Path, *, public_url: str | None = None) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.public_url = public_url.rstrip("/") if public_url else None

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*validate_key(key).parts)

    def put_file(self, key: str, src: Path, *, move: bool = False) -> None:
        dest = self._path(key)
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
            os.close(fd)
            if move:
                shutil.move(src, tmp)
            else:
                shutil.copyfile(src, tmp)
            os.replace(tmp, dest)
        except OSError as exc:
            raise TransientError(f"storage write of {key} failed: {exc.strerror}") from exc

    def local_path(self, key: str, scratch: Path) -> Path:
        path = self._path(key)
        if not path.is_file():
            raise FileNotFoundError(key)
        return path

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete_prefix(self, prefix: str) -> None:
        shutil.rmtree(self._path(prefix.rstrip("/")), ignore_errors=True)

    def url(self, key: str) -> str:
        if self.public_url:
            return f"{self.public_url}/files/{quote(str(validate_key(key)))}"
        return self._path(key).as_uri()


def _file_storage(url: str, public_url: str | None) -> Storage:
    parsed = urlparse(url)
    return FileStorage(Path(unquote(parsed.path)), public_url=public_url)


_BACKENDS = {"file": _file_storage}
"""Storage backends by URL scheme (s3:// arrives with the scale-out work)."""


def open_storage(url: str, *, public_url: str | None = None) -> Storage:
    """The storage backend for ``url``; with ``public_url``, URLs point at the HTTP API."""
    scheme = urlparse(url).scheme
    try:
        factory = _BACKENDS[scheme]
    except KeyError:
        known = ", ".join(f"{s}://" for s in _BACKENDS)
        raise ValueError(f"unsupported storage URL {url!r}: use one of {known}") from None
    return factory(url, public_url)
