"""One storage contract that every backend passes: file://, memory:// and s3:// (the last
against a real S3 HTTP server, moto in server mode, started by the session fixture).

A new backend is done when it passes this suite: add it to ``BACKENDS`` and to ``_open``.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urlparse

import httpx
import pytest

from animgraph.shared.errors import TransientError
from animgraph.shared.redis_server import free_port
from animgraph.shared.settings import Settings
from animgraph.shared.storage import (
    FileStorage,
    MemoryStorage,
    S3Options,
    S3Storage,
    Storage,
    open_storage,
    validate_key,
)

if TYPE_CHECKING:  # the type only: at run time another conftest.py may own the name
    from conftest import S3Server

BACKENDS = ("file", "memory", "s3")
BAD_KEYS = ("", "/etc/passwd", "../x", "a/../../x", "a/./..")


def _open(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Storage:
    if backend == "file":
        return open_storage((tmp_path / "root").as_uri())
    if backend == "memory":
        return open_storage(f"memory://{uuid.uuid4().hex}")
    s3: S3Server = request.getfixturevalue("s3_server")
    return open_storage(f"s3://{s3.bucket}/t-{uuid.uuid4().hex}", s3=s3.options())


@pytest.fixture(params=BACKENDS)
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    yield _open(request.param, tmp_path, request)


def _file(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _read(storage: Storage, key: str, scratch: Path) -> bytes:
    return storage.local_path(key, scratch).read_bytes()


def test_round_trip(storage: Storage, tmp_path: Path) -> None:
    src = _file(tmp_path / "src.bin", b"abc")
    storage.put_file("work/t1/0/frames.rgb", src)
    assert src.exists() and storage.exists("work/t1/0/frames.rgb")
    storage.put_file("work/t1/0/frames.json", src, move=True)
    assert not src.exists(), "move consumes the source"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    rgb = storage.local_path("work/t1/0/frames.rgb", scratch)
    json_ = storage.local_path("work/t1/0/frames.json", scratch)
    assert rgb.read_bytes() == json_.read_bytes() == b"abc"
    assert rgb.parent == json_.parent, "objects of one key folder sit side by side"
    assert not list(rgb.parent.glob(".*")), "no temporary file is left behind"
    assert storage.local_path("work/t1/0/frames.rgb", scratch).read_bytes() == b"abc"


def test_large_object_round_trip(storage: Storage, tmp_path: Path) -> None:
    """12 MiB: above boto3's multipart threshold (8 MiB), so S3 takes a multipart upload."""
    data = bytes(range(256)) * (12 * 4096)
    storage.put_file("sources/big/clip.mp4", _file(tmp_path / "big", data), move=True)
    assert _read(storage, "sources/big/clip.mp4", tmp_path) == data


def test_missing_key(storage: Storage, tmp_path: Path) -> None:
    assert not storage.exists("work/none/0/frames.rgb")
    with pytest.raises(FileNotFoundError):
        storage.local_path("work/none/0/frames.rgb", tmp_path)
    assert not list((tmp_path).rglob("frames.rgb*")), "no partial download is left behind"


def test_overwrite_replaces_whole_objects(storage: Storage, tmp_path: Path) -> None:
    """Readers racing a writer see the old or the new bytes in full, never a mix or a part."""
    size = 1 << 20
    versions = [_file(tmp_path / f"v{b}", bytes([b]) * size) for b in range(4)]
    storage.put_file("outputs/t/0/v.gif", versions[0])
    seen: set[bytes] = set()
    errors: list[str] = []
    done = threading.Event()

    def reader(n: int) -> None:
        k = 0
        while not done.is_set():
            k += 1
            data = _read(storage, "outputs/t/0/v.gif", tmp_path / f"r{n}-{k}")
            if len(data) != size or data.count(data[:1]) != size:
                errors.append(f"torn read: {len(data)} bytes")
            seen.add(data[:1])

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    try:
        for round_ in range(3):
            for src in versions:
                storage.put_file("outputs/t/0/v.gif", src)
            assert round_ < 3
    finally:
        done.set()
        for t in threads:
            t.join()
    assert not errors
    assert _read(storage, "outputs/t/0/v.gif", tmp_path / "last") == bytes([3]) * size


def test_delete_prefix(storage: Storage, tmp_path: Path) -> None:
    src = _file(tmp_path / "x", b"x")
    keys = ["work/t1/0/a", "work/t1/1/b", "work/t10/0/a", "work/t2/0/a", "outputs/t1/0/v.gif"]
    for key in keys:
        storage.put_file(key, src)
    storage.delete_prefix("work/t1")
    assert [k for k in keys if storage.exists(k)] == keys[2:], "only the folder work/t1 goes"
    storage.delete_prefix("work/t2/")
    assert not storage.exists("work/t2/0/a")
    storage.delete_prefix("work/never-there")
    assert storage.exists("work/t10/0/a")


def test_delete_prefix_many_objects(storage: Storage, tmp_path: Path) -> None:
    """More than one listing page (1000 keys on S3) is deleted."""
    src = _file(tmp_path / "x", b"")
    for n in range(1005):
        storage.put_file(f"work/many/{n}", src)
    storage.delete_prefix("work/many")
    assert not storage.exists("work/many/0") and not storage.exists("work/many/1004")


@pytest.mark.parametrize("key", BAD_KEYS)
def test_keys_cannot_escape_the_root(key: str) -> None:
    with pytest.raises(ValueError):
        validate_key(key)


@pytest.mark.parametrize("key", ["../x", "/etc/passwd", "a/../../x", ""])
def test_every_method_refuses_escaping_keys(storage: Storage, tmp_path: Path, key: str) -> None:
    src = _file(tmp_path / "x", b"x")
    for call in (
        lambda: storage.put_file(key, src),
        lambda: storage.local_path(key, tmp_path),
        lambda: storage.exists(key),
        lambda: storage.url(key),
        lambda: storage.delete_prefix(key or "/"),
    ):
        with pytest.raises(ValueError):
            call()
    assert src.read_bytes() == b"x"


def test_url_gives_the_bytes(
    storage: Storage, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Each backend's URL: a file:// path, a memory:// name, or an HTTP(S) URL that serves
    the object (presigned by default on S3)."""
    key = "outputs/t 1/0/v.f20000.gif"
    storage.put_file(key, _file(tmp_path / "x", b"GIF89a..."))
    url = storage.url(key)
    if isinstance(storage, FileStorage):
        assert Path(unquote(urlparse(url).path)).read_bytes() == b"GIF89a..."
    elif isinstance(storage, MemoryStorage):
        assert url == f"memory://{storage.name}/{quote(key)}"
    else:
        assert isinstance(storage, S3Storage)
        assert "X-Amz-Signature=" in url and "X-Amz-Expires=604800" in url
        answer = httpx.get(url)
        assert answer.status_code == 200 and answer.content == b"GIF89a..."
        assert answer.headers["content-type"] == "image/gif"
        unsigned = url.split("?")[0]
        assert httpx.get(unsigned).status_code == 403, "the bucket itself is private"


@pytest.mark.parametrize("backend", ["file", "memory"])
def test_local_backends_point_urls_at_the_api(backend: str, tmp_path: Path) -> None:
    url = {"file": (tmp_path / "root").as_uri(), "memory": "memory://api"}[backend]
    storage = open_storage(url, public_url="http://api:8000/")
    assert storage.url("outputs/t 1/v.gif") == "http://api:8000/files/outputs/t%201/v.gif"


def test_memory_storage_is_shared_within_a_process(tmp_path: Path) -> None:
    a, b = open_storage("memory://shared-1"), open_storage("memory://shared-1")
    a.put_file("k/v", _file(tmp_path / "x", b"1"))
    assert b.exists("k/v") and not open_storage("memory://shared-2").exists("k/v")


def test_unknown_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match=r"file://, memory://, s3://"):
        open_storage("ftp://host/x")


# --- S3 specifics: URL modes, settings and environment, errors at the seam -----------------


def test_s3_public_urls(s3_server: S3Server, tmp_path: Path) -> None:
    prefix = f"pub-{uuid.uuid4().hex}"
    storage = open_storage(
        f"s3://{s3_server.bucket}/{prefix}", s3=s3_server.options(url_mode="public")
    )
    storage.put_file("outputs/t/v.webp", _file(tmp_path / "x", b"RIFF"))
    url = storage.url("outputs/t/v.webp")
    assert url == f"{s3_server.endpoint_url}/{s3_server.bucket}/{prefix}/outputs/t/v.webp"
    assert httpx.get(url).status_code == 403, "public mode needs a public-read policy"
    public_read = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{s3_server.bucket}/pub-*/outputs/*",
            }
        ],
    }
    s3_server.client().put_bucket_policy(Bucket=s3_server.bucket, Policy=json.dumps(public_read))
    assert httpx.get(url).content == b"RIFF"
    cdn = open_storage(
        f"s3://{s3_server.bucket}/{prefix}",
        s3=s3_server.options(url_mode="public", public_base_url="https://cdn.example.com/"),
    )
    assert cdn.url("outputs/t/v.webp") == f"https://cdn.example.com/{prefix}/outputs/t/v.webp"


def test_s3_presigned_urls_use_the_public_endpoint(s3_server: S3Server) -> None:
    storage = open_storage(
        f"s3://{s3_server.bucket}/p",
        s3=s3_server.options(public_endpoint_url="http://localhost:9000", url_expiry_s=600),
    )
    url = storage.url("outputs/v.gif")
    assert url.startswith(f"http://localhost:9000/{s3_server.bucket}/p/outputs/v.gif?")
    assert "X-Amz-Expires=600" in url


def test_s3_from_settings_and_from_aws_environment(
    s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"s3://{s3_server.bucket}/env-{uuid.uuid4().hex}"
    settings = Settings(
        storage={
            "url": url,
            "s3": {
                "endpoint_url": s3_server.endpoint_url,
                "region": s3_server.region,
                "access_key_id": s3_server.access_key_id,
                "secret_access_key": "not-checked-by-moto",
            },
        }
    )
    assert "not-checked" not in repr(settings), "the secret key is not shown"
    from_settings = settings.open_storage()
    from_settings.put_file("k/v", _file(tmp_path / "x", b"1"))
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    from_env = Settings(storage={"url": url}).open_storage()
    assert from_env.exists("k/v")
    monkeypatch.setenv("ANIMGRAPH_S3_URL_MODE", "public")
    monkeypatch.setenv("ANIMGRAPH_S3_PUBLIC_BASE_URL", "https://cdn.example.com")
    assert Settings(storage={"url": url}).open_storage().url("k/v").startswith("https://cdn.")


def test_s3_unreachable_is_transient(tmp_path: Path) -> None:
    """Connection refused is a fault worth retrying; Celery's autoretry sees TransientError."""
    dead = S3Options(
        endpoint_url=f"http://127.0.0.1:{free_port()}", access_key_id="a", secret_access_key="b"
    )
    storage = open_storage("s3://bucket/p", s3=dead)
    with pytest.raises(TransientError):
        storage.exists("k")
    with pytest.raises(TransientError):
        storage.put_file("k", _file(tmp_path / "x", b"1"))
    with pytest.raises(TransientError):
        storage.local_path("k", tmp_path)
    with pytest.raises(TransientError):
        storage.delete_prefix("k")


def test_s3_refusals_are_permanent(s3_server: S3Server, tmp_path: Path) -> None:
    """No such bucket is a configuration error: an OSError that is not retried."""
    storage = open_storage("s3://no-such-bucket/p", s3=s3_server.options())
    with pytest.raises(OSError) as info:
        storage.put_file("k", _file(tmp_path / "x", b"1"))
    assert not isinstance(info.value, TransientError | FileNotFoundError)
    assert "NoSuchBucket" in str(info.value)


def test_s3_client_is_rebuilt_after_fork(s3_server: S3Server) -> None:
    storage = open_storage(f"s3://{s3_server.bucket}/p", s3=s3_server.options())
    assert isinstance(storage, S3Storage)
    first = storage._client()
    assert storage._client() is first
    storage._pid = -1  # what a forked child sees: its pid differs from the builder's
    assert storage._client() is not first


def test_s3_url_needs_a_bucket() -> None:
    with pytest.raises(ValueError, match="bucket"):
        open_storage("s3:///prefix")
