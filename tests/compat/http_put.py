"""The upload's PUT as a client's users make it: the bytes streamed to ``MediaStoragePath``
with the temporary token (no API client has a call for it)."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path

import httpx


def put_httpx(url: str, token: str, path: Path, verify: ssl.SSLContext | bool = True) -> None:
    """From Python (the SDK's users)."""
    with open(path, "rb") as fh:
        answer = httpx.put(
            url,
            content=iter(lambda: fh.read(65536), b""),
            headers={"Authorization": f"Bearer {token}"},
            verify=verify,
        )
    assert answer.status_code == 200, answer.text


def put_curl(url: str, token: str, path: Path) -> None:
    """From a shell (tccli's users), with curl; httpx where curl is absent."""
    curl = shutil.which("curl")
    if curl is None:
        print("curl is not on PATH: the PUT goes through httpx instead")
        put_httpx(url, token, path)
        return
    argv = [curl, "-sS", "--fail-with-body", "-T", str(path), url]
    done = subprocess.run(
        [*argv, "-H", f"Authorization: Bearer {token}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
