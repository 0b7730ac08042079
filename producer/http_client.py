"""A Python client of the HTTP API, for services that reach animgraph over the network rather
than through its Redis. Requests are signed with TC3-HMAC-SHA256 like the official SDKs.

::

    with ApiClient("http://127.0.0.1:8000", "AKID...", "secret") as api:
        file_id = api.upload(Path("clip.mp4"))
        task_id = api.call("ProcessMedia", {"FileId": file_id, "MediaProcessTask": {
            "AnimatedGraphicTaskSet": [{"Definition": 20000, "StartTimeOffset": 2}]}})["TaskId"]
        task = api.wait(task_id)
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlparse

import httpx

from animgraph.shared.errors import ApiError
from animgraph.shared.models import ProcedureTask, TaskDetail
from animgraph.shared.signing import tc3_authorization

from .apiversion import API_VERSION

__all__ = ["ApiClient"]


class ApiClient:
    """Call the animgraph HTTP API: ``call(action, params)`` plus upload and wait helpers."""

    def __init__(
        self,
        endpoint: str,
        secret_id: str,
        secret_key: str,
        *,
        timeout_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.host = urlparse(self.endpoint).netloc
        self.secret_id, self.secret_key = secret_id, secret_key
        self.http = httpx.Client(base_url=self.endpoint, timeout=timeout_s, transport=transport)

    def call(self, action: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run one action; returns its ``Response`` (with ``RequestId``) or raises ``ApiError``."""
        body = json.dumps(params or {}).encode()
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "Host": self.host,
            "X-TC-Action": action,
            "X-TC-Version": API_VERSION,
            "X-TC-Timestamp": str(timestamp),
            "Authorization": tc3_authorization(
                self.secret_id, self.secret_key, host=self.host, body=body, timestamp=timestamp
            ),
        }
        answer = self.http.post("/", content=body, headers=headers)
        answer.raise_for_status()
        response: dict[str, Any] = answer.json()["Response"]
        if "Error" in response:
            raise ApiError(response["Error"]["Message"], response["Error"]["Code"])
        return response

    def upload(self, path: Path, *, procedure: str = "") -> str:
        """ApplyUpload, PUT the file (streamed), CommitUpload; returns the ``FileId``."""
        path = Path(path)
        applied = self.call(
            "ApplyUpload",
            {
                "MediaType": path.suffix.lstrip(".") or "mp4",
                "MediaName": path.stem,
                **({"Procedure": procedure} if procedure else {}),
            },
        )
        token = applied["TempCertificate"]["Token"]
        with open(path, "rb") as fh:
            put = self.http.put(
                applied["MediaStoragePath"],
                content=iter(lambda: fh.read(1 << 20), b""),
                headers={"Authorization": f"Bearer {token}"},
            )
        if put.status_code != 200:
            error = put.json()["Response"]["Error"]
            raise ApiError(error["Message"], error["Code"])
        committed = self.call("CommitUpload", {"VodSessionKey": applied["VodSessionKey"]})
        return str(committed["FileId"])

    def describe_task_detail(self, task_id: str) -> TaskDetail:
        response = self.call("DescribeTaskDetail", {"TaskId": task_id})
        response.pop("RequestId", None)
        return TaskDetail.model_validate(response)

    def wait(self, task_id: str, *, timeout_s: float = 600, poll_s: float = 0.5) -> ProcedureTask:
        """Poll DescribeTaskDetail until FINISH; returns the ``ProcedureTask``."""
        deadline = time.monotonic() + timeout_s
        while True:
            detail = self.describe_task_detail(task_id)
            if detail.status == "FINISH":
                return detail.procedure_task
            if time.monotonic() > deadline:
                raise TimeoutError(f"task {task_id} still {detail.status} after {timeout_s:.0f} s")
            time.sleep(poll_s)

    def download(self, url: str, dest: Path) -> Path:
        """Stream an output or source URL to ``dest``."""
        with self.http.stream("GET", url) as answer:
            answer.raise_for_status()
            with open(dest, "wb") as out:
                for chunk in answer.iter_bytes():
                    out.write(chunk)
        return dest

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
