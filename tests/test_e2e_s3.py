"""End to end on ``s3://``: two worker processes that share nothing on disk (each its own
data folder), one Redis and one S3-compatible server (moto, over HTTP). Sources, frames and
outputs travel only through the object store; outputs are fetched by their presigned URLs."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from stack import Stack, StackFactory

from animgraph.producer.api import create_app

if TYPE_CHECKING:  # the type only: at run time another conftest.py may own the name
    from conftest import S3Server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(module_stack_factory: StackFactory) -> Stack:
    """Its own Redis (so no file:// worker of other tests takes these tasks), two workers
    configured through boto3's standard AWS_* variables, a client through the settings."""
    s = module_stack_factory.start(
        "e2e-s3", workers=0, storage="s3", env={"ANIMGRAPH_API_KEYS": "AKIDs3test:secret"}
    )
    for name in ("host-a", "host-b"):
        s.start_worker(name, concurrency=1, wait=False)
    s.wait_for_workers()
    return s


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def test_two_hosts_through_the_object_store(
    stack: Stack, s3_server: S3Server, corpus_dir: Path, tmp_path: Path
) -> None:
    source = corpus_dir / "vtest.avi"
    with stack.client() as client:
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
        while s3_server.keys(f"{stack.s3_prefix}/work/{task_id}/"):
            assert time.monotonic() < deadline, "intermediates were not deleted"
            time.sleep(0.2)
        outputs = s3_server.keys(f"{stack.s3_prefix}/outputs/{task_id}/")
        assert sorted(outputs) == [
            f"{stack.s3_prefix}/outputs/{task_id}/0/v.f20000.gif",
            f"{stack.s3_prefix}/outputs/{task_id}/1/v.f20001.webp",
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
