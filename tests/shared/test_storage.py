"""Storage contract on the file backend: atomic puts, no escape from the root, prefixes."""

from __future__ import annotations

from pathlib import Path

import pytest

from animgraph.shared.storage import open_storage, validate_key


@pytest.mark.parametrize("key", ["", "/etc/passwd", "../x", "a/../../x", "a/./.."])
def test_keys_cannot_escape_the_root(key: str) -> None:
    with pytest.raises(ValueError):
        validate_key(key)


def test_file_storage_round_trip(tmp_path: Path) -> None:
    storage = open_storage((tmp_path / "root").as_uri())
    src = tmp_path / "src.bin"
    src.write_bytes(b"abc")
    storage.put_file("work/t1/0/frames.rgb", src)
    assert src.exists() and storage.exists("work/t1/0/frames.rgb")
    storage.put_file("work/t1/0/frames.json", src, move=True)
    assert not src.exists()
    path = storage.local_path("work/t1/0/frames.rgb", tmp_path)
    assert path.read_bytes() == b"abc"
    assert storage.url("work/t1/0/frames.rgb") == path.as_uri()
    assert not list(path.parent.glob(".*")), "no temporary file is left behind"
    storage.delete_prefix("work/t1")
    assert not storage.exists("work/t1/0/frames.rgb")
    with pytest.raises(FileNotFoundError):
        storage.local_path("work/t1/0/frames.rgb", tmp_path)


def test_unknown_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="file://"):
        open_storage("ftp://host/x")
