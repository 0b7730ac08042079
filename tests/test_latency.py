"""What keeps a short job quick (issue 22): a local source is stored as a hard link, not copied,
and the client's wait returns on the workers' announcement of FINISH instead of polling."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
import redis
from stack import StackFactory

from animgraph.producer import Client
from animgraph.shared.state import keys

pytestmark = pytest.mark.e2e


def _job(client: Client, file_id: str, definition: int = 20000) -> str:
    return client.process_media(
        {
            "FileId": file_id,
            "MediaProcessTask": {
                "AnimatedGraphicTaskSet": [
                    {"Definition": definition, "StartTimeOffset": 1, "EndTimeOffset": 2}
                ]
            },
        }
    )


def _stored(client: Client, file_id: str) -> Path:
    record = client.state.media.get(file_id)
    assert record is not None
    return Path(unquote(urlparse(client.storage.url(record.source_key)).path))


def test_a_local_source_is_linked_not_copied_and_outlives_its_original(
    client: Client, corpus_dir: Path, tmp_path: Path
) -> None:
    clip = tmp_path / "clip.avi"
    shutil.copyfile(corpus_dir / "vtest.avi", clip)
    media = client.register_media(clip)
    stored = _stored(client, media.file_id)
    if stored.stat().st_dev != clip.stat().st_dev:
        pytest.skip("the storage is on another file system than the test's files")
    assert stored.stat().st_ino == clip.stat().st_ino  # the same inode: no byte copied
    assert clip.stat().st_nlink == 2
    clip.unlink()  # the user deletes (or moves, or replaces) the file afterwards
    assert stored.stat().st_nlink == 1
    task = client.wait(_job(client, media.file_id), timeout_s=120)
    [result] = task.media_process_result_set
    assert result.animated_graphic_task.status == "SUCCESS"


def test_a_linked_source_written_in_place_is_refused(
    client: Client, corpus_dir: Path, tmp_path: Path
) -> None:
    """Writing into the registered file changes the stored inode too: the decode step notices
    (its size and time) and fails the subtask rather than read other bytes than were probed."""
    clip = tmp_path / "clip.avi"
    shutil.copyfile(corpus_dir / "vtest.avi", clip)
    media = client.register_media(clip)
    if _stored(client, media.file_id).stat().st_ino != clip.stat().st_ino:
        pytest.skip("the storage is on another file system than the test's files")
    with open(clip, "r+b") as edit:  # in place, as `ffmpeg -y clip.avi` or a hex editor
        edit.seek(0, os.SEEK_END)
        edit.write(b"\0" * 1024)
    [result] = client.wait(_job(client, media.file_id), timeout_s=120).media_process_result_set
    sub = result.animated_graphic_task
    assert sub.status == "FAIL"
    assert sub.err_code_ext == "SourceFileError.DownloadNotAccessible"
    assert "changed in place" in sub.message


def test_wait_returns_on_the_announcement_without_polling(
    stack_factory: StackFactory, corpus_dir: Path
) -> None:
    """A job held 3 s in its decode step: the wait reads the task when it starts, at FINISH and
    at the event (never on a 0.2 s timer), and returns within moments of the event although its
    fallback re-read is 60 s away."""
    s = stack_factory.start("wait", workers=0)
    s.start_worker("slow", concurrency=1, ANIMGRAPH_FAULT_INJECTION="decode:sleep:3")
    heard: list[tuple[float, str]] = []
    listener = redis.Redis.from_url(s.redis.url, decode_responses=True).pubsub()
    listener.psubscribe(keys.task_changes("*"))
    stop = threading.Event()

    def listen() -> None:
        while not stop.is_set():
            message = listener.get_message(timeout=0.1)
            if message and message["type"] == "pmessage":
                heard.append((time.time(), message["data"]))

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    try:
        with s.client() as client:
            media = client.register_media(corpus_dir / "vtest.avi")
            reads = []
            read = client.tasks.describe_task_detail

            def counted(task_id: str):  # type: ignore[no-untyped-def]
                reads.append(time.time())
                return read(task_id)

            client.tasks.describe_task_detail = counted  # type: ignore[method-assign]
            started = time.monotonic()
            task_id = _job(client, media.file_id)
            task = client.wait(task_id, timeout_s=120, fallback_s=60)
            returned, elapsed = time.time(), time.monotonic() - started
    finally:
        stop.set()
        thread.join()
        listener.close()
    assert task.media_process_result_set[0].animated_graphic_task.status == "SUCCESS"
    assert elapsed >= 3.0  # the decode step's sleep
    assert elapsed < 30  # never waited for the 60 s fallback
    assert len(reads) <= 4, reads  # polling every 0.2 s would have read the task 15 times
    events = [at for at, what in heard if what == "event"]
    assert events, heard
    assert returned - events[0] < 1.0  # woken by the announcement, not a timer
