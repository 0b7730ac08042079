"""Media files: store a video (a hard link on file storage, else a copy), probe it, keep its
record; describe and delete it.

The probe (PyAV) is a parameter, imported only when a file is first probed, so that a producer
that never registers media never loads PyAV or NumPy.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Container, Mapping
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from animgraph.shared.clock import now_iso
from animgraph.shared.errors import ApiError, SourceFileError
from animgraph.shared.models import (
    AnimatedGraphicsInfo,
    DescribeMediaInfosRequest,
    DescribeMediaInfosResponse,
    MediaBasicInfo,
    MediaInfo,
    MediaInfoItem,
    MediaMetaData,
)
from animgraph.shared.settings import Settings
from animgraph.shared.state import MediaRecord, State
from animgraph.shared.storage import Storage

from .validation import parse

__all__ = [
    "MediaService",
    "ProbeFn",
    "Probed",
    "default_probe",
    "linked_stat",
    "safe_file_name",
]


class Probed(Protocol):
    """What registering needs of a probe's answer."""

    @property
    def meta(self) -> MediaMetaData: ...

    @property
    def start_time_s(self) -> float: ...


class ProbeFn(Protocol):
    """Read a video's metadata; raise ``SourceFileError`` for a file that is not one."""

    def __call__(self, path: Path, *, max_pixels: int, max_duration_s: float) -> Probed: ...


def default_probe(path: Path, *, max_pixels: int, max_duration_s: float) -> Probed:
    """The worker side's PyAV probe, imported on first use."""
    from animgraph.workers.media.probe import probe

    return probe(path, max_pixels=max_pixels, max_duration_s=max_duration_s)


def linked_stat(path: Path) -> str:
    """What ``MediaRecord.linked_stat`` keeps of a file: its size and modification time."""
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_file_name(name: str) -> str:
    """A file name that is safe as the last part of a storage key."""
    cleaned = _UNSAFE.sub("_", name).strip("._") or "media"
    return cleaned[-100:]


def no_such_file(file_id: str) -> ApiError:
    return ApiError(f"FileId {file_id!r} does not exist", "InvalidParameterValue.FileId")


class MediaService:
    """RegisterMedia (local files), DescribeMediaInfos and DeleteMedia."""

    def __init__(
        self, settings: Settings, state: State, storage: Storage, probe: ProbeFn = default_probe
    ) -> None:
        self.settings = settings
        self.state = state
        self.storage = storage
        self.probe = probe

    def register_media(self, path: Path, *, name: str | None = None) -> MediaInfo:
        """Store a local video, probe it and return its ``FileId`` and ``MetaData``.

        On file storage on the same file system the video is stored as a hard link (no bytes
        copied): deleting or replacing the file afterwards leaves the stored source intact;
        writing into it in place makes the procedures that read it later fail with
        ``SourceFileError.DownloadNotAccessible`` (its size and time are checked) rather than
        read other bytes than were probed. Elsewhere its bytes are copied.

        A file that does not probe as a video is still registered, with the probe's error kept:
        procedures on it then report that error (e.g. ``SourceFileError.NoVideoMedia``) per
        subtask, as the API specifies.
        """
        path = Path(path)
        if not path.is_file():
            raise ApiError(f"{path} is not a readable file", "InvalidParameterValue.MediaFile")
        file_id = secrets.token_hex(8)
        key = f"sources/{file_id}/{safe_file_name(path.name)}"
        linked = self.storage.put_link(key, path)
        stat = linked_stat(path) if linked else ""
        return self.register_stored(file_id, key, path, name=name or path.stem, linked_stat=stat)

    def register_stored(
        self,
        file_id: str,
        key: str,
        local_path: Path,
        *,
        name: str,
        source_context: str = "",
        linked_stat: str = "",
    ) -> MediaInfo:
        """Register bytes already stored under ``key`` (``local_path`` is a copy to probe)."""
        error: SourceFileError | None = None
        start_time_s = 0.0
        try:
            probed = self.probe(
                local_path,
                max_pixels=self.settings.limits.max_frame_pixels,
                max_duration_s=self.settings.limits.max_source_duration_s,
            )
            meta, start_time_s = probed.meta, probed.start_time_s
        except SourceFileError as exc:
            error = exc
            meta = MediaMetaData(size=local_path.stat().st_size)
        info = MediaInfo(
            file_id=file_id,
            file_name=name,
            file_url=self.storage.url(key),
            create_time=now_iso(),
            meta_data=meta,
        )
        self.state.media.put(
            MediaRecord(
                info=info,
                source_key=key,
                start_time_s=start_time_s,
                source_context=source_context,
                probe_error_code=error.code if error else "",
                probe_error_message=error.message if error else "",
                linked_stat=linked_stat,
            )
        )
        return info

    def describe_media(self, file_id: str) -> MediaInfo:
        """A media file with its metadata and every animated image made from it."""
        record = self.state.media.get(file_id)
        if record is None:
            raise no_such_file(file_id)
        return record.info.model_copy(
            update={"animated_graphics_set": self.state.media.outputs(file_id)}
        )

    def describe_media_infos(
        self, request: DescribeMediaInfosRequest | Mapping[str, Any]
    ) -> DescribeMediaInfosResponse:
        """DescribeMediaInfos: basic info, metadata and animated images of each FileId."""
        req = parse(DescribeMediaInfosRequest, request)
        parts = set(req.filters or ("basicInfo", "metaData", "animatedGraphicsInfo"))
        found, missing = [], []
        for file_id in req.file_ids:
            record = self.state.media.get(file_id)
            if record is None:
                missing.append(file_id)
                continue
            found.append(self._item(file_id, record, parts))
        return DescribeMediaInfosResponse(
            media_info_set=tuple(found), not_exist_file_id_set=tuple(missing)
        )

    def _item(self, file_id: str, record: MediaRecord, parts: Container[str]) -> MediaInfoItem:
        info = record.info
        basic = MediaBasicInfo(
            name=info.file_name,
            create_time=info.create_time,
            update_time=info.create_time,
            type=PurePosixPath(record.source_key).suffix.lstrip("."),
            media_url=info.file_url,
            source_info={"SourceContext": record.source_context} if record.source_context else {},
        )
        return MediaInfoItem(
            file_id=file_id,
            basic_info=basic if "basicInfo" in parts else None,
            meta_data=info.meta_data if "metaData" in parts else None,
            animated_graphics_info=AnimatedGraphicsInfo(
                animated_graphics_set=self.state.media.outputs(file_id)
            )
            if "animatedGraphicsInfo" in parts
            else None,
        )

    def delete_media(self, file_id: str) -> None:
        """DeleteMedia: remove the source file and every animated image made from it."""
        record = self.state.media.get(file_id)
        if record is None:
            raise ApiError(f"FileId {file_id!r} does not exist", "ResourceNotFound.FileNotExist")
        for prefix in self.state.media.delete(file_id):
            self.storage.delete_prefix(prefix)
        self.storage.delete_prefix(str(PurePosixPath(record.source_key).parent))
