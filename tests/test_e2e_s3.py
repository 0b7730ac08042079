"""End to end on ``s3://``: two worker processes that share nothing on disk (each its own
data folder), one Redis and one S3-compatible server (moto, over HTTP). Sources, frames and
outputs travel only through the object store; outputs are fetched by their presigned URLs."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from animgraph.producer import Client
from animgraph.producer.api import create_app
from animgraph.shared.celeryconf import create_celery
from animgraph.shared.redis_server import RedisServer
from animgraph.shared.settings import Settings
from animgraph.workers.local import WorkerProcess

if TYPE_CHECKING:  # the type only: at run time another conftest.py may own the name
    from conftest import S3Server

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class S3Stack:
    settings: Settings
    prefix: str
    workers: tuple[WorkerProcess, ...]


def _wait_for(app_settings: Settings, redis_url: str, count: int, timeout_s: float = 60) -> None:
    app = create_celery(app_settings, redis_url, name="animgraph-ping")
    deadline = time.monotonic() + timeout_s
    try:
        while len(app.control.ping(timeout=0.5)) < count:
            assert time.monotonic() < deadline, f"{count} workers did not answer"
    finally:
        app.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, s3_server: S3Server) -> Iterator[S3Stack]:
    """Its own Redis (so no file:// worker of other tests takes these tasks), two workers
    configured through boto3's standard AWS_* variables, a client through the settings."""
    tmp = tmp_path_factory.mktemp("e2e-s3")
    prefix = f"e2e-{uuid.uuid4().hex[:8]}"
    url = f"s3://{s3_server.bucket}/{prefix}"
    with RedisServer(tmp / "redis") as redis_server:
        env = {"ANIMGRAPH_STORAGE_URL": url, **s3_server.env()}
        workers = tuple(
            WorkerProcess(redis_server.url, tmp / name, name=name, concurrency=1, env=env).start()
            for name in ("host-a", "host-b")
        )
        settings = Settings(
            redis_url=redis_server.url,
            data_dir=tmp / "producer",
            storage={
                "url": url,
                "s3": {
                    "endpoint_url": s3_server.endpoint_url,
                    "region": s3_server.region,
                    "access_key_id": s3_server.access_key_id,
                    "secret_access_key": s3_server.secret_access_key,
                },
            },
            api={"keys": "AKIDs3test:secret"},
        )
        try:
            _wait_for(settings, redis_server.url, len(workers))
            yield S3Stack(settings, prefix, workers)
        finally:
            for worker in workers:
                worker.stop()
                log = worker.log_path.read_text(errors="replace")
                if "Traceback" in log:
                    print(f"{worker.name} log tail:\n{log[-3000:]}")


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def test_two_hosts_through_the_object_store(
    stack: S3Stack, s3_server: S3Server, corpus_dir: Path, tmp_path: Path
) -> None:
    source = corpus_dir / "vtest.avi"
    with Client(stack.settings) as client:
        media = client.register_media(source)
        assert "X-Amz-Signature=" in media.file_url
        assert _md5(httpx.get(media.file_url).content) == _md5(source.read_bytes())
        task_id = client.process_media(
            {
                "FileId": media.file_id,
                "MediaProcessTask": {
                    "AnimatedGraphicTaskSet": [
                        {"Definition": 20000, "StartTimeOffset": 0, "EndTimeOffset": 3},
                        {"Definition": 20001, "StartTimeOffset": 2, "EndTimeOffset": 5},
                    ]
                },
            }
        )
        task = client.wait(task_id, timeout_s=180)

        assert task.status == "FINISH"
        subtasks = [r.animated_graphic_task for r in task.media_process_result_set]
        assert [s.status for s in subtasks] == ["SUCCESS", "SUCCESS"], [s.message for s in subtasks]
        for sub, fmt in zip(subtasks, ("GIF", "WEBP"), strict=True):
            out = sub.output
            assert out is not None and "X-Amz-Signature=" in out.url
            answer = httpx.get(out.url)
            assert answer.status_code == 200
            assert len(answer.content) == out.size and _md5(answer.content) == out.md5
            path = tmp_path / f"out.{fmt.lower()}"
            path.write_bytes(answer.content)
            with Image.open(path) as im:
                assert im.format == fmt and im.n_frames >= 2  # type: ignore[attr-defined]

        # The frames of the task go once it finishes: nothing is left below work/.
        deadline = time.monotonic() + 20
        while s3_server.keys(f"{stack.prefix}/work/{task_id}/"):
            assert time.monotonic() < deadline, "intermediates were not deleted"
            time.sleep(0.2)
        outputs = s3_server.keys(f"{stack.prefix}/outputs/{task_id}/")
        assert sorted(outputs) == [
            f"{stack.prefix}/outputs/{task_id}/0/v.f20000.gif",
            f"{stack.prefix}/outputs/{task_id}/1/v.f20001.webp",
        ]

        # The API's /files/<key> sends the client to the object store.
        with TestClient(create_app(stack.settings, client=client)) as api:
            answer = api.get(f"/files/outputs/{task_id}/0/v.f20000.gif", follow_redirects=False)
            assert answer.status_code == 307
            assert _md5(httpx.get(answer.headers["location"]).content) == subtasks[0].output.md5  # type: ignore[union-attr]

    # Both hosts took media steps, and each kept nothing on its own disk.
    for worker in stack.workers:
        assert "] succeeded" in worker.log_path.read_text(errors="replace"), worker.name
        assert not (worker.data_dir / "storage").exists()
        assert not [p for p in (worker.data_dir / "scratch").rglob("*") if p.is_file()]
