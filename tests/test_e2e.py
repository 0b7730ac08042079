"""End to end: the client, a real Redis, a real Celery worker process and real clips."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import av
import httpx
import numpy as np
import pytest
from PIL import Image

from animgraph.producer import ApiError, Client, RecordingSender
from animgraph.shared.models import (
    MediaProcessTaskAnimatedGraphicResult,
    ProcedureTask,
)
from animgraph.shared.redis_server import free_port
from animgraph.shared.settings import Settings

pytestmark = pytest.mark.e2e

PROCEDURE_TASK_FIELDS = {
    "TaskId", "Status", "ErrCode", "Message", "FileId", "FileName", "FileUrl", "MetaData",
    "MediaProcessResultSet", "TasksPriority", "TasksNotifyMode", "SessionContext", "SessionId",
}  # fmt: skip
SUBTASK_FIELDS = {
    "Status", "ErrCodeExt", "ErrCode", "Message", "Input", "Output", "Progress",
    "BeginProcessTime", "FinishTime",
}  # fmt: skip
OUTPUT_FIELDS = {
    "Url", "Definition", "Container", "Width", "Height", "Bitrate", "Size", "Md5",
    "StartTimeOffset", "EndTimeOffset",
}  # fmt: skip


def _request(file_id: str, *items: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "FileId": file_id,
        "MediaProcessTask": {"AnimatedGraphicTaskSet": list(items)},
        **extra,
    }


def _local(url: str) -> Path:
    parsed = urlparse(url)
    assert parsed.scheme == "file", url
    return Path(unquote(parsed.path))


def _frames(path: Path) -> tuple[int, list[int], int | None, tuple[int, int]]:
    """Frame count, per-frame durations (ms), loop count and size of an animated image."""
    with Image.open(path) as im:
        durations = []
        for k in range(im.n_frames):
            im.seek(k)
            im.load()  # WebP fills info["duration"] on load
            durations.append(int(im.info["duration"]))
        return im.n_frames, durations, im.info.get("loop"), im.size


def _subtasks(task: ProcedureTask) -> list[MediaProcessTaskAnimatedGraphicResult]:
    return [r.animated_graphic_task for r in task.media_process_result_set]


def test_gif_and_webp_presets_from_a_real_clip(
    client: Client, settings: Settings, corpus_dir: Path
) -> None:
    media = client.register_media(corpus_dir / "cockatoo.mp4")
    assert media.meta_data.width == 1280 and media.meta_data.height == 720
    assert abs(media.meta_data.duration - 14.0) < 0.1
    task_id = client.process_media(
        _request(
            media.file_id,
            {"Definition": 20000, "StartTimeOffset": 2, "EndTimeOffset": 5},
            {"Definition": 20001, "StartTimeOffset": 2, "EndTimeOffset": 5},
            SessionContext="ctx-42",
        )
    )
    task = client.wait(task_id, timeout_s=240)
    assert task.status == "FINISH"
    assert task.session_context == "ctx-42"
    for sub, container in zip(_subtasks(task), ("gif", "webp"), strict=True):
        assert sub.status == "SUCCESS", sub.message
        assert sub.err_code == 0 and sub.err_code_ext == "" and sub.progress == 100
        assert sub.begin_process_time and sub.finish_time
        out = sub.output
        assert out is not None and out.container == container
        path = _local(out.url)
        data = path.read_bytes()
        assert out.size == len(data)
        assert out.md5 == hashlib.md5(data).hexdigest()
        assert (out.start_time_offset, out.end_time_offset) == (2.0, 5.0)
        assert out.bitrate == round(len(data) * 8 / 3.0)
        count, durations, loop, size = _frames(path)
        assert size == (1280, 720) == (out.width, out.height)
        assert abs(count - 3 * 2) <= 1  # preset: 2 fps over 3 s
        assert abs(sum(durations) - 3000) <= 10
        assert loop == 0
    # Intermediate frames are gone once the task finished.
    assert not (settings.data_dir / "storage" / "work" / task_id).exists()
    # The same file is listed on the media with both images.
    urls = {item.url for item in client.describe_media(media.file_id).animated_graphics_set}
    assert {s.output.url for s in _subtasks(task) if s.output} <= urls


def test_event_has_every_spec_field(client: Client, corpus_dir: Path) -> None:
    media = client.register_media(corpus_dir / "vtest.avi")
    task_id = client.process_media(
        _request(media.file_id, {"Definition": 20000, "StartTimeOffset": 1, "EndTimeOffset": 2})
    )
    client.wait(task_id, timeout_s=120)
    event = client.task_event(task_id)
    assert event is not None
    body = json.loads(json.dumps(event.wire()))
    assert body["EventType"] == "ProcedureStateChanged"
    procedure = body["ProcedureStateChangeEvent"]
    assert procedure.keys() >= PROCEDURE_TASK_FIELDS
    assert procedure["TaskId"] == task_id and procedure["Status"] == "FINISH"
    assert procedure["ErrCode"] == 0 and procedure["Message"] == ""
    assert procedure["MetaData"]["Width"] == 768 and procedure["MetaData"]["VideoStreamSet"]
    [result] = procedure["MediaProcessResultSet"]
    assert result["Type"] == "AnimatedGraphics"
    sub = result["AnimatedGraphicTask"]
    assert sub.keys() >= SUBTASK_FIELDS
    assert sub["Output"].keys() >= OUTPUT_FIELDS
    assert sub["Input"] == {"Definition": 20000, "StartTimeOffset": 1.0, "EndTimeOffset": 2.0}


def test_custom_template_on_a_clip_with_a_start_time(client: Client, corpus_dir: Path) -> None:
    """city.mpg starts at 0.54 s on its own clock: offsets count from the video's start."""
    template = client.create_template(Format="gif", Fps=10, Width=320, Quality=80)
    media = client.register_media(corpus_dir / "city.mpg")
    task_id = client.process_media(
        _request(media.file_id, {"Definition": template.definition, "StartTimeOffset": -3})
    )
    [sub] = _subtasks(client.wait(task_id, timeout_s=120))
    assert sub.status == "SUCCESS", sub.message
    assert sub.output is not None
    duration = media.meta_data.duration
    assert sub.output.end_time_offset == pytest.approx(duration, abs=1e-3)
    assert sub.output.start_time_offset == pytest.approx(duration - 3, abs=1e-3)
    count, durations, loop, size = _frames(_local(sub.output.url))
    assert size == (320, 180)
    assert abs(count - 30) <= 1
    assert abs(sum(durations) - 3000) <= 10 and loop == 0


def test_bad_subtasks_are_reported_and_the_good_one_finishes(
    client: Client, corpus_dir: Path
) -> None:
    media = client.register_media(corpus_dir / "vtest.avi")
    task_id = client.process_media(
        _request(
            media.file_id,
            {"Definition": 20001, "StartTimeOffset": 1, "EndTimeOffset": 2},
            {"Definition": 20000, "StartTimeOffset": 60, "EndTimeOffset": 65},
            {"Definition": 20000, "StartTimeOffset": 3, "EndTimeOffset": 2},
            {"Definition": 99999, "StartTimeOffset": 1, "EndTimeOffset": 2},
        )
    )
    task = client.wait(task_id, timeout_s=120)
    assert task.status == "FINISH"
    good, past_end, reversed_, unknown = _subtasks(task)
    assert good.status == "SUCCESS" and good.output is not None
    for bad in (past_end, reversed_):
        assert bad.status == "FAIL" and bad.output is None
        assert (bad.err_code_ext, bad.err_code) == ("InvalidInput.InvalidTimeOffset", 40000)
        assert "StartTimeOffset" in bad.message
    assert (unknown.err_code_ext, unknown.err_code) == ("InvalidInput.DefinitionNotExist", 40000)
    assert client.task_event(task_id) is not None


def _audio_only(path: Path) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=44100)
        samples = np.zeros((1, 1024), dtype=np.float32)
        for k in range(50):
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            frame.sample_rate = 44100
            frame.pts = k * 1024
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("text", "SourceFileError.ContentMalformed"),
        ("empty", "SourceFileError.ContentMalformed"),
        ("audio", "SourceFileError.NoVideoMedia"),
    ],
)
def test_bad_sources_fail_their_subtask_and_the_worker_lives_on(
    client: Client, corpus_dir: Path, tmp_path: Path, kind: str, code: str
) -> None:
    path = tmp_path / "bad.mp4"
    if kind == "text":
        path.write_text("this is not a video\n" * 100)
    elif kind == "empty":
        path.write_bytes(b"")
    else:
        _audio_only(tmp_path / "bad.m4a").rename(path)
    media = client.register_media(path)
    task = client.wait(
        client.process_media(_request(media.file_id, {"Definition": 20000})), timeout_s=60
    )
    [sub] = _subtasks(task)
    assert (sub.status, sub.err_code_ext, sub.err_code) == ("FAIL", code, 60000)
    assert sub.message
    # The worker is still there and still works.
    good = client.register_media(corpus_dir / "vtest.avi")
    again = client.wait(
        client.process_media(
            _request(
                good.file_id, {"Definition": 20000, "StartTimeOffset": 0.5, "EndTimeOffset": 1}
            )
        ),
        timeout_s=60,
    )
    assert _subtasks(again)[0].status == "SUCCESS"


def test_truncated_source_is_a_source_error(
    client: Client, corpus_dir: Path, tmp_path: Path
) -> None:
    data = (corpus_dir / "cockatoo.mp4").read_bytes()
    path = tmp_path / "truncated.mp4"
    path.write_bytes(data[: len(data) // 3])
    media = client.register_media(path)
    [sub] = _subtasks(
        client.wait(
            client.process_media(
                _request(
                    media.file_id, {"Definition": 20000, "StartTimeOffset": 1, "EndTimeOffset": 3}
                )
            ),
            timeout_s=60,
        )
    )
    assert sub.status == "FAIL" and sub.err_code_ext.startswith("SourceFileError"), sub


def test_task_detail_moves_from_waiting_to_finish(
    client: Client, settings: Settings, corpus_dir: Path
) -> None:
    media = client.register_media(corpus_dir / "cockatoo.mp4")
    # Not sent to any worker yet: the task waits.
    recorder = RecordingSender()
    with Client(settings, sender=recorder) as offline:
        waiting = offline.process_media(_request(media.file_id, {"Definition": 20000}))
        assert offline.describe_task_detail(waiting).status == "WAITING"
        assert [m.name for m in recorder.sent] == ["animgraph.procedure"]
    task_id = client.process_media(
        _request(media.file_id, {"Definition": 20000}, {"Definition": 20001})
    )
    seen: list[tuple[str, int]] = []
    task = client.wait(
        task_id,
        timeout_s=300,
        poll_s=0.05,
        on_update=lambda d: seen.extend(
            (d.status, r.animated_graphic_task.progress)
            for r in d.procedure_task.media_process_result_set
        ),
    )
    assert task.status == "FINISH"
    assert any(status == "PROCESSING" and 0 < p < 100 for status, p in seen), seen
    detail = client.describe_task_detail(task_id)
    assert detail.task_type == "Procedure" and detail.status == "FINISH"
    assert detail.create_time <= detail.begin_process_time <= detail.finish_time


def test_malformed_requests_are_refused_and_enqueue_nothing(
    settings: Settings, corpus_dir: Path
) -> None:
    recorder = RecordingSender()
    with Client(settings, sender=recorder) as client:
        media = client.register_media(corpus_dir / "vtest.avi")
        cases = [
            (_request("nope", {"Definition": 20000}), "InvalidParameterValue.FileId"),
            (_request(media.file_id), "InvalidParameterValue.MediaProcessTask"),
            (
                _request(media.file_id, {"Definition": 20000}, TasksPriority=11),
                "InvalidParameterValue.TasksPriority",
            ),
        ]
        for request, code in cases:
            with pytest.raises(ApiError) as info:
                client.process_media(request)
            assert info.value.code == code
        with pytest.raises(ApiError) as info:
            client.describe_task_detail("animgraph-Procedure-unknown")
        assert info.value.code == "InvalidParameterValue.TaskId"
        assert recorder.sent == []


def test_session_fields_too_long_or_repeated_are_refused(
    settings: Settings, corpus_dir: Path
) -> None:
    """Contract §5 and §10: a SessionContext over 1000 chars or a SessionId over 50 gets the
    cloud's ``...TooLong`` code; ``InvalidParameterValue.SessionId`` means a SessionId used again
    within 7 days. Nothing refused is enqueued."""
    recorder = RecordingSender()
    with Client(settings, sender=recorder) as client:
        media = client.register_media(corpus_dir / "vtest.avi")
        client.create_procedure_template(
            {
                "Name": "sessions",
                "MediaProcessTask": {"AnimatedGraphicTaskSet": [{"Definition": 20000}]},
            }
        )
        by_procedure = {"FileId": media.file_id, "ProcedureName": "sessions"}
        too_long = [
            ({"SessionContext": "x" * 1001}, "InvalidParameterValue.SessionContextTooLong"),
            ({"SessionId": "s" * 51}, "InvalidParameterValue.SessionIdTooLong"),
        ]
        for fields, code in too_long:
            with pytest.raises(ApiError) as info:
                client.process_media(_request(media.file_id, {"Definition": 20000}, **fields))
            assert info.value.code == code, fields
            with pytest.raises(ApiError) as info:
                client.process_media_by_procedure({**by_procedure, **fields})
            assert info.value.code == code, fields
        assert recorder.sent == []
        client.process_media(
            _request(
                media.file_id, {"Definition": 20000}, SessionId="s" * 50, SessionContext="c" * 1000
            )
        )
        with pytest.raises(ApiError) as info:
            client.process_media_by_procedure({**by_procedure, "SessionId": "s" * 50})
        assert info.value.code == "InvalidParameterValue.SessionId"
        assert len(recorder.sent) == 1


def _cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "animgraph.producer", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_run_through_the_shared_redis(
    settings: Settings, worker: object, corpus_dir: Path, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "ANIMGRAPH_REDIS_URL": str(settings.redis_url),
        "ANIMGRAPH_DATA_DIR": str(settings.data_dir),
    }
    result = _cli(
        [
            "run",
            str(corpus_dir / "vtest.avi"),
            "--format",
            "webp",
            "--fps",
            "5",
            "--width",
            "320",
            "--start",
            "1",
            "--end",
            "3",
            "--output",
            str(tmp_path / "o.webp"),
        ],
        env,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    event = json.loads(result.stdout)
    [sub] = [
        r["AnimatedGraphicTask"]
        for r in event["ProcedureStateChangeEvent"]["MediaProcessResultSet"]
    ]
    assert sub["Status"] == "SUCCESS"
    count, durations, _, size = _frames(tmp_path / "o.webp")
    assert size == (320, 240) and abs(count - 10) <= 1 and abs(sum(durations) - 2000) <= 10
    # The output is a hard link to the stored one (same file system here), not a copy.
    stored = Path(unquote(urlparse(sub["Output"]["Url"]).path))
    assert (tmp_path / "o.webp").stat().st_ino == stored.stat().st_ino


def test_cli_run_on_embedded_defaults(corpus_dir: Path, tmp_path: Path) -> None:
    """No ANIMGRAPH_REDIS_URL: the CLI starts its own Redis and worker, as `make demo` does."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANIMGRAPH_")}
    env["ANIMGRAPH_DATA_DIR"] = str(tmp_path / "var")
    result = _cli(
        [
            "run",
            str(corpus_dir / "vtest.avi"),
            "-d",
            "20000",
            "-d",
            "20001",
            "--start",
            "1",
            "--end",
            "2",
            "--output-dir",
            str(tmp_path / "out"),
        ],
        env,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["ProcedureStateChangeEvent"]["Status"] == "FINISH"
    assert _frames(tmp_path / "out" / "vtest.f20000.gif")[0] >= 2
    assert _frames(tmp_path / "out" / "vtest.f20001.webp")[0] >= 2


FLOWER = [sys.executable, "-m", "animgraph.producer", "flower"]


FLOWER = [sys.executable, "-m", "animgraph.producer", "flower"]


def test_flower_starts_against_the_same_redis(settings: Settings, tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "ANIMGRAPH_REDIS_URL": str(settings.redis_url)}
    proc = subprocess.Popen(
        [*FLOWER, "--port", str(port), "--basic-auth", "ops:secret"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthcheck", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, "flower exited"
                assert time.monotonic() < deadline, "flower did not answer"
                time.sleep(0.3)
        assert health.status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/api/workers", timeout=5).status_code == 401
        authed = httpx.get(
            f"http://127.0.0.1:{port}/api/workers", auth=("ops", "secret"), timeout=10
        )
        assert authed.status_code == 200
    finally:
        proc.terminate()
        proc.wait(10)
