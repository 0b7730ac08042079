"""Storage of sources, intermediate frames and outputs, chosen by URL scheme.

Keys are relative POSIX paths (``outputs/<task>/0/v.f20000.gif``); a key can never leave the
storage root. Writes are atomic: a reader sees the whole object or none of it, so a task that
is delivered twice never reads half a file.

Backends (``_BACKENDS``): ``file:///var/lib/animgraph`` (one host or a shared volume),
``memory://name`` (process-local, for tests) and ``s3://bucket/prefix`` (any S3-compatible
store, for workers on several hosts).
"""

from __future__ import annotations

import mimetypes
import os
import secrets
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, ClassVar, Protocol
from urllib.parse import quote, unquote, urlparse

from animgraph.shared.errors import TransientError
from animgraph.shared.settings.groups import S3Options

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

__all__ = [
    "FileStorage",
    "MemoryStorage",
    "S3Options",
    "S3Storage",
    "Storage",
    "open_storage",
    "validate_key",
]


class Storage(Protocol):
    """The narrow storage interface every backend implements."""

    def put_file(self, key: str, src: Path, *, move: bool = False) -> None:
        """Store the local file ``src`` under ``key`` atomically (``move`` may consume it)."""

    def put_link(self, key: str, src: Path) -> bool:
        """Store ``src`` under ``key`` without copying its bytes where the backend can (a hard
        link on file storage on the same file system): True then, and the stored object is
        ``src``'s inode (see ``FileStorage.put_link``); False: its bytes were copied."""

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


def _api_url(public_url: str, key: str) -> str:
    return f"{public_url}/files/{quote(str(validate_key(key)))}"


def _cache_path(scratch: Path, key: str) -> Path:
    """Where a downloaded copy of ``key`` lives in ``scratch`` (one folder per key folder, so
    the objects of one key folder sit side by side, as a frame set needs)."""
    return scratch.joinpath(".objects", *validate_key(key).parts)


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

    def put_link(self, key: str, src: Path) -> bool:
        """A hard link to ``src`` (no bytes copied), or a copy where none can be made (another
        file system, links refused, e.g. ``fs.protected_hardlinks`` on another user's file).

        The link is the same inode as ``src``: deleting, renaming or replacing ``src`` (an
        editor's save to a new file, ``mv``) leaves the stored object as it was, but writing
        into ``src`` in place changes it too. The caller records the object's size and
        modification time (``MediaRecord.linked_stat``) so that such a change is noticed."""
        dest = self._path(key)
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(6)}")
            try:
                os.link(src, tmp)
            except OSError:
                self.put_file(key, src)
                return False
            os.replace(tmp, dest)
        except OSError as exc:
            raise TransientError(f"storage write of {key} failed: {exc.strerror}") from exc
        return True

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
            return _api_url(self.public_url, key)
        return self._path(key).as_uri()


class MemoryStorage:
    """Objects are bytes in this process's memory (``memory://name``), for tests.

    Every ``open_storage("memory://name")`` in one process gives the same store; another
    process (a Celery worker) has its own, so this backend cannot serve real workers.
    """

    _stores: ClassVar[dict[str, dict[str, bytes]]] = {}
    _lock = threading.Lock()

    def __init__(self, name: str = "", *, public_url: str | None = None) -> None:
        self.name = name
        self.public_url = public_url.rstrip("/") if public_url else None
        with self._lock:
            self._objects = self._stores.setdefault(name, {})

    def put_file(self, key: str, src: Path, *, move: bool = False) -> None:
        name = str(validate_key(key))
        data = src.read_bytes()
        self._objects[name] = data  # one assignment: readers see old or new bytes, never half
        if move:
            src.unlink()

    def put_link(self, key: str, src: Path) -> bool:
        self.put_file(key, src)
        return False

    def local_path(self, key: str, scratch: Path) -> Path:
        name = str(validate_key(key))
        try:
            data = self._objects[name]
        except KeyError:
            raise FileNotFoundError(key) from None
        path = _cache_path(scratch, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
        return path

    def exists(self, key: str) -> bool:
        return str(validate_key(key)) in self._objects

    def delete_prefix(self, prefix: str) -> None:
        folder = f"{validate_key(prefix.rstrip('/'))}/"
        for name in [n for n in list(self._objects) if n.startswith(folder)]:
            self._objects.pop(name, None)

    def url(self, key: str) -> str:
        if self.public_url:
            return _api_url(self.public_url, key)
        return f"memory://{self.name}/{quote(str(validate_key(key)))}"


_TRANSIENT_CODES = frozenset(
    {
        "RequestTimeout",
        "RequestTimeTooSkewed",
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "ServiceUnavailable",
        "InternalError",
        "OperationAborted",
    }
)
_MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
_MULTIPART_THRESHOLD = 8 << 20
"""Files from this size up are uploaded in parts (boto3's default threshold)."""


def _s3_error(exc: BaseException, action: str, key: str) -> Exception:
    """The animgraph error for a botocore error: transient ones (connection, 5xx, throttling)
    become ``TransientError`` so steps retry, a missing object ``FileNotFoundError``, the rest
    (access denied, no such bucket) a plain ``OSError`` that is not retried."""
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import ClientError

    if isinstance(exc, S3UploadFailedError):  # boto3 folds an upload's ClientError into it
        exc = exc.__cause__ or exc.__context__ or exc
    if not isinstance(exc, ClientError):  # connection refused or reset, timeouts, ...
        return TransientError(f"storage {action} of {key} failed: {type(exc).__name__}")
    code = str(exc.response.get("Error", {}).get("Code", ""))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    if code in _MISSING_CODES or (status == 404 and code != "NoSuchBucket"):
        return FileNotFoundError(key)
    if status >= 500 or status == 429 or code in _TRANSIENT_CODES:
        return TransientError(f"storage {action} of {key} failed: {code or status}")
    return OSError(f"storage {action} of {key} refused: {code or status}")


@contextmanager
def _s3_errors(action: str, key: str) -> Iterator[None]:
    """Wrap botocore errors at the seam (see ``_s3_error``)."""
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (ClientError, S3UploadFailedError, BotoCoreError) as exc:
        raise _s3_error(exc, action, key) from None


class S3Storage:
    """Objects live in an S3-compatible bucket below a prefix (``s3://bucket/prefix``).

    The boto3 client is built on first use in each process (a client made before a fork is
    not used after it). Uploads go through boto3's transfer manager (one PUT, or a multipart
    upload for large files): either way the object appears whole when the upload completes.
    """

    def __init__(self, bucket: str, prefix: str = "", options: S3Options | None = None) -> None:
        if not bucket:
            raise ValueError("an s3:// storage URL needs a bucket: s3://bucket/prefix")
        self.bucket = bucket
        self.prefix = f"{validate_key(prefix.strip('/'))}/" if prefix.strip("/") else ""
        self.options = options or S3Options()
        self._clients: dict[str, S3Client] = {}
        self._pid = -1
        self._lock = threading.Lock()

    def _client(self, role: str = "data") -> S3Client:
        """The process's client (``role`` ``"urls"``: the one signing users' URLs)."""
        if not self.options.public_endpoint_url:
            role = "data"
        with self._lock:
            if self._pid != os.getpid():
                self._clients, self._pid = {}, os.getpid()
            client = self._clients.get(role)
            if client is None:
                endpoint = self.options.endpoint_url
                if role == "urls":
                    endpoint = self.options.public_endpoint_url
                client = self._clients[role] = self._build_client(endpoint)
            return client

    def _build_client(self, endpoint_url: str | None) -> S3Client:
        import boto3
        from botocore.config import Config

        o = self.options
        secret = o.secret_access_key
        endpoint = endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or None
        endpoint = endpoint or os.environ.get("AWS_ENDPOINT_URL") or None
        config = Config(
            signature_version="s3v4",
            # Self-hosted stores (MinIO, Ceph, moto) answer path-style on any host name.
            s3={"addressing_style": "path" if endpoint else "auto"},
            retries={"mode": "standard", "max_attempts": 3},
            connect_timeout=10,
            read_timeout=60,
        )
        session = boto3.session.Session()
        return session.client(
            "s3",
            endpoint_url=endpoint,
            region_name=o.region,
            aws_access_key_id=o.access_key_id,
            aws_secret_access_key=secret.get_secret_value() if secret else None,
            config=config,
        )

    def _name(self, key: str) -> str:
        return f"{self.prefix}{validate_key(key)}"

    def put_file(self, key: str, src: Path, *, move: bool = False) -> None:
        name = self._name(key)
        extra: dict[str, Any] = {}
        content_type = mimetypes.guess_type(name)[0]
        if content_type:
            extra["ContentType"] = content_type
        with _s3_errors("write", key):
            if src.stat().st_size < _MULTIPART_THRESHOLD:  # one PUT, no transfer manager
                with open(src, "rb") as body:
                    self._client().put_object(Bucket=self.bucket, Key=name, Body=body, **extra)
            else:
                self._client().upload_file(str(src), self.bucket, name, ExtraArgs=extra)
        if move:
            src.unlink(missing_ok=True)

    def put_link(self, key: str, src: Path) -> bool:
        self.put_file(key, src)
        return False

    def local_path(self, key: str, scratch: Path) -> Path:
        path = _cache_path(scratch, key)
        if path.is_file():  # already fetched into this scratch folder
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "wb") as fh, _s3_errors("read", key):
                self._client().download_fileobj(self.bucket, self._name(key), fh)
            os.replace(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)
        return path

    def exists(self, key: str) -> bool:
        try:
            with _s3_errors("lookup", key):
                self._client().head_object(Bucket=self.bucket, Key=self._name(key))
        except FileNotFoundError:
            return False
        return True

    def delete_prefix(self, prefix: str) -> None:
        folder = f"{self._name(prefix.rstrip('/'))}/"
        client = self._client()
        with _s3_errors("delete", prefix):
            pages = client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=folder
            )
            for page in pages:
                objects: list[ObjectIdentifierTypeDef] = [
                    {"Key": o["Key"]} for o in page.get("Contents", ()) if "Key" in o
                ]
                if objects:  # a page holds at most 1000 keys, the most one delete takes
                    answer = client.delete_objects(
                        Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True}
                    )
                    if answer.get("Errors"):
                        first = answer["Errors"][0]
                        raise TransientError(
                            f"storage delete of {first.get('Key')} failed: {first.get('Code')}"
                        )

    def url(self, key: str) -> str:
        name = self._name(key)
        if self.options.url_mode == "public":
            base = self.options.public_base_url
            if not base:
                endpoint = self._client("urls").meta.endpoint_url
                base = f"{endpoint.rstrip('/')}/{self.bucket}"
            return f"{base.rstrip('/')}/{quote(name)}"
        with _s3_errors("signing", key):
            return self._client("urls").generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": name},
                ExpiresIn=self.options.url_expiry_s,
            )


def _file_storage(url: str, public_url: str | None, s3: S3Options | None) -> Storage:
    parsed = urlparse(url)
    return FileStorage(Path(unquote(parsed.path)), public_url=public_url)


def _memory_storage(url: str, public_url: str | None, s3: S3Options | None) -> Storage:
    parsed = urlparse(url)
    return MemoryStorage(parsed.netloc + parsed.path.rstrip("/"), public_url=public_url)


def _s3_storage(url: str, public_url: str | None, s3: S3Options | None) -> Storage:
    # URLs point at the store itself (presigned or public), not at the API.
    parsed = urlparse(url)
    return S3Storage(parsed.netloc, unquote(parsed.path), s3)


_BACKENDS: dict[str, Callable[[str, str | None, S3Options | None], Storage]] = {
    "file": _file_storage,
    "memory": _memory_storage,
    "s3": _s3_storage,
}
"""Storage backends by URL scheme."""


def open_storage(
    url: str, *, public_url: str | None = None, s3: S3Options | None = None
) -> Storage:
    """The storage backend for ``url``.

    With ``public_url``, file and memory URLs point at the HTTP API (``/files/<key>``); ``s3``
    holds the endpoint, credentials and URL mode of an ``s3://`` storage.
    """
    scheme = urlparse(url).scheme
    try:
        factory = _BACKENDS[scheme]
    except KeyError:
        known = ", ".join(f"{s}://" for s in _BACKENDS)
        raise ValueError(f"unsupported storage URL {url!r}: use one of {known}") from None
    return factory(url, public_url, s3)
