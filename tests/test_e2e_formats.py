"""End to end: the formats and the byte budget (contract §2.6) through a real Redis and a real
worker: every format's frames, durations, size and loop read back from the file; slices of
each new format joined; a MaxSize never exceeded and met within 10 %;
a budget no floor can meet failing its subtask with the smallest size reached while the other
outputs and the event go on; ``animgraph run --format mp4 --max-size``.

The clip is numbered, as in test_e2e_loops: source frame i shows i in binary, one black or
white stripe a bit (16 px wide here, so lossy video keeps them), so every displayed frame
tells which source frame it shows.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import av
import pytest
from numbered import number, outputs, read_image, run_jobs, write_numbered_clip
from stack import Stack, StackFactory

from animgraph.producer import Client
from animgraph.shared.models import MediaAnimatedGraphicsItem, ProcedureTask

pytestmark = pytest.mark.e2e

WIDTH, HEIGHT, STRIPE = 128, 96, 16
# Segments of at least 2 s are split in slices of 0.5 s.
SPLIT = {"ANIMGRAPH_SPLIT_MIN_S": "2", "ANIMGRAPH_SPLIT_SLICE_S": "0.5"}


@pytest.fixture(scope="module")
def stack(module_stack_factory: StackFactory) -> Stack:
    return module_stack_factory.start("formats", env=SPLIT)


@pytest.fixture(scope="module")
def numbered_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 s at 30 fps, 128x96, lossless H.264: frame i shows i (``numbered.picture``)."""
    return write_numbered_clip(
        tmp_path_factory.mktemp("clip") / "numbered.mp4", WIDTH, HEIGHT, STRIPE
    )


@pytest.fixture(scope="module")
def client(stack: Stack) -> Any:
    with stack.client() as c:
        yield c


@pytest.fixture(scope="module")
def file_id(client: Client, numbered_clip: Path) -> str:
    return client.register_media(numbered_clip).file_id


def _path(output: MediaAnimatedGraphicsItem) -> Path:
    return Path(unquote(urlparse(output.url).path))


def _read(output: MediaAnimatedGraphicsItem) -> tuple[list[int], list[int], int | None]:
    """The source frame each displayed frame shows, the durations (ms) and the stored loop
    value (None where the file has none): Pillow for images, PyAV for video."""
    path = _path(output)
    if output.container in ("mp4", "webm"):
        with av.open(str(path)) as container:
            [stream] = container.streams
            assert not container.streams.audio
            frames = list(container.decode(stream))
            assert all(f.format.name == "yuv420p" for f in frames)
            tb = stream.time_base
            starts = [round(float(f.pts * tb) * 1000) for f in frames]
            total = round(float(container.duration or 0) / 1000)  # av.time_base is µs
            ends = [*starts[1:], total]
            shown = [number(f.to_ndarray(format="rgb24"), STRIPE) for f in frames]
            return shown, [e - s for s, e in zip(starts, ends, strict=True)], None
    return read_image(path, STRIPE)


def _run(
    client: Client, file_id: str, jobs: list[tuple[dict[str, Any], float, float]]
) -> ProcedureTask:
    return run_jobs(client, file_id, jobs, {"Fps": 10, "Quality": 90})


# 1.0..2.0 s at 10 fps shows the source frames on screen at each slot's middle: 31, 34 ... 58.
FORWARD = [31 + 3 * k for k in range(10)]
NEW = ("avif", "apng", "mp4", "webm")


def test_every_format_plays_the_right_frames_for_the_right_time(
    client: Client, file_id: str
) -> None:
    task = _run(
        client,
        file_id,
        [({"Format": fmt}, 1, 2) for fmt in NEW]
        + [({"Format": "apng", "LoopCount": 3, "LoopMode": "PingPong"}, 1, 2)],
    )
    *plain, pingpong = outputs(task)
    for fmt, output in zip(NEW, plain, strict=True):
        path = _path(output)
        assert output.container == fmt and path.suffix == f".{fmt}"
        assert (output.width, output.height) == (WIDTH, HEIGHT)
        assert output.size == path.stat().st_size
        assert output.md5 == hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
        assert output.bitrate == round(output.size * 8 / 1.0)
        assert (output.fps, output.quality, output.encodes) == (None, None, None)  # no budget
        shown, durations, loop = _read(output)
        assert shown == FORWARD, fmt
        assert durations == [100] * 10, fmt
        # apng: forever (Pillow reads no play count from AVIF: test_media_formats.py does)
        assert loop == (0 if fmt == "apng" else None), fmt
    shown, durations, loop = _read(pingpong)
    assert shown == [*FORWARD, *FORWARD[-2:0:-1]] and durations == [100] * 18
    assert loop == 3  # acTL num_plays: plays in total, as LoopCount


def test_slices_of_each_new_format_are_joined(client: Client, file_id: str) -> None:
    forward = [1 + 3 * k for k in range(25)]  # 0..2.5 s at 10 fps
    formats = ("mp4", "webm", "apng", "avif")
    task = _run(client, file_id, [({"Format": fmt}, 0, 2.5) for fmt in formats])
    record = client.state.tasks.record(task.task_id)
    assert record is not None
    assert [p.slices for p in record.plans] == [5, 5, 5, 5]
    for fmt, output in zip(formats, outputs(task), strict=True):
        shown, durations, _ = _read(output)
        assert (shown, durations) == (forward, [100] * 25), fmt


def test_a_loop_count_the_format_cannot_store_is_refused(client: Client) -> None:
    from animgraph.shared.errors import ApiError

    for fmt in ("mp4", "webm"):
        with pytest.raises(ApiError) as refused:
            client.create_template(Fps=10, Format=fmt, LoopCount=2)
        assert refused.value.code == "InvalidParameterValue.LoopCount"
        assert fmt in refused.value.message


@pytest.fixture(scope="module")
def camera_file(client: Client, corpus_dir: Path) -> str:
    return client.register_media(corpus_dir / "cockatoo.mp4").file_id


def test_max_size_is_never_exceeded_and_met_within_ten_percent(
    client: Client, camera_file: str
) -> None:
    """Real footage, budgets that bind: each output at most MaxSize and at least 90 % of it,
    with what it used reported; a budget that does not bind changes nothing. (1.9 s: below
    this stack's split threshold, so the plain GIF is encoded whole, as a budgeted one is.)"""
    base = {"Width": 320, "Fps": 10, "Quality": 75}
    plain = outputs(_run(client, camera_file, [({**base, "Format": "gif"}, 2, 3.9)]))[0]
    budgets = [
        ("gif", plain.size // 2),
        ("gif", plain.size // 8),
        ("webp", 30_000),
        ("mp4", 20_000),
        ("gif", plain.size * 2),  # does not bind
    ]
    task = _run(
        client,
        camera_file,
        [({**base, "Format": fmt, "MaxSize": b}, 2, 3.9) for fmt, b in budgets],
    )
    made = outputs(task)
    for (fmt, budget), output in zip(budgets[:-1], made, strict=False):
        assert 0.9 * budget <= output.size <= budget, (fmt, budget, output)
        assert output.encodes is not None and 1 <= output.encodes <= 4
        assert output.fps is not None and 5 <= output.fps <= 10
        assert output.width >= 160 and output.quality is not None
    # the order of give-ups: a mild budget costs Quality only, a harsh one more
    mild, harsh = made[0], made[1]
    assert (mild.fps, mild.width) == (10, 320) and mild.quality is not None
    assert mild.quality < 75
    assert harsh.size < mild.size
    unbound = made[-1]
    assert unbound.md5 == plain.md5 and unbound.encodes == 1
    assert (unbound.quality, unbound.fps, unbound.width) == (75, 10, 320)


def test_a_budget_no_floor_can_meet_fails_its_subtask_only(
    client: Client, camera_file: str
) -> None:
    task = _run(
        client,
        camera_file,
        [
            ({"Format": "gif", "Width": 320, "MaxSize": 1000}, 0, 5),
            ({"Format": "gif", "Width": 128}, 0, 1),
        ],
    )
    failed, fine = (r.animated_graphic_task for r in task.media_process_result_set)
    assert failed.status == "FAIL" and failed.output is None
    assert failed.err_code_ext == "InvalidInput.ResultFileSizeTooLarge"
    assert failed.err_code == 40000
    assert "bytes" in failed.message and "1000" in failed.message
    assert fine.status == "SUCCESS"
    event = client.task_event(task.task_id)
    assert event is not None  # the event is delivered all the same


def test_cli_run_to_mp4_within_a_budget(stack: Stack, corpus_dir: Path, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "ANIMGRAPH_REDIS_URL": str(stack.settings.redis_url),
        "ANIMGRAPH_DATA_DIR": str(stack.settings.data_dir),
    }
    result = subprocess.run(
        [
            sys.executable, "-m", "animgraph.producer", "run", str(corpus_dir / "cockatoo.mp4"),
            "--fps", "10", "--width", "320", "--start", "2", "--end", "5",
            "--format", "MP4", "--max-size", "20KB", "--output", str(tmp_path / "o.mp4"),
        ],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    event = json.loads(result.stdout)
    [sub] = [
        r["AnimatedGraphicTask"]
        for r in event["ProcedureStateChangeEvent"]["MediaProcessResultSet"]
    ]
    assert sub["Status"] == "SUCCESS" and sub["Output"]["Container"] == "mp4"
    assert 18_000 <= (tmp_path / "o.mp4").stat().st_size <= 20_000
    assert "fitted to 20 KB" in result.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "animgraph.producer", "run", str(corpus_dir / "cockatoo.mp4"),
         "--max-size", "lots"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert bad.returncode == 2 and "InvalidParameterValue.MaxSize" in bad.stderr
