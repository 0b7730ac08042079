"""End to end: the loop fields of a template (contract §2.5) through a real Redis and a real
worker: Reverse and PingPong frame order and delays, LoopCount read back with Pillow, the
output's LoopMode and offsets, the split of a Forward segment keeping its LoopCount while the
other modes run whole, and ``animgraph run --loop-mode``.

The clip is numbered: source frame i shows i in binary, one black or white stripe a bit, so
every displayed frame tells which source frame it shows (black and white survive any palette).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import numpy as np
import pytest
from loop_clips import BURST_S, PERIOD_S, burst_clip, circle_clip
from numbered import FPS_IN, outputs, read_image, run_jobs, write_numbered_clip
from PIL import Image
from stack import Stack, StackFactory

from animgraph.producer import Client
from animgraph.shared.models import MediaAnimatedGraphicsItem, ProcedureTask
from animgraph.workers.media.seam import CROSSFADE_S

pytestmark = pytest.mark.e2e

# Segments of at least 2 s are split in slices of 0.5 s: the 2.5 s Forward job below is split,
# the 1 s jobs are not.
SPLIT = {"ANIMGRAPH_SPLIT_MIN_S": "2", "ANIMGRAPH_SPLIT_SLICE_S": "0.5"}


@pytest.fixture(scope="module")
def stack(module_stack_factory: StackFactory) -> Stack:
    return module_stack_factory.start("loops", env=SPLIT)


WIDTH, HEIGHT, STRIPE = 64, 48, 8  # stripes of 8 px, bit b of the frame number in stripe b


@pytest.fixture(scope="module")
def numbered_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 s at 30 fps, 64x48, lossless H.264: frame i shows i (``numbered.picture``)."""
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


def _read(output: MediaAnimatedGraphicsItem) -> tuple[list[int], list[int], int | None]:
    """The source frame each displayed frame shows, the durations (ms), Pillow's loop value."""
    return read_image(Path(unquote(urlparse(output.url).path)), STRIPE)


def _run(
    client: Client, file_id: str, jobs: list[tuple[dict[str, Any], float, float]]
) -> ProcedureTask:
    return run_jobs(client, file_id, jobs, {"Fps": 10, "Quality": 100})


# 1.0..2.0 s at 10 fps shows the source frames on screen at each slot's middle: 31, 34 ... 58.
FORWARD = [31 + 3 * k for k in range(10)]


def test_reverse_and_ping_pong_frame_order_delays_and_loop_counts(
    client: Client, file_id: str
) -> None:
    task = _run(
        client,
        file_id,
        [
            ({"Format": "gif", "LoopMode": "PingPong", "LoopCount": 3}, 1, 2),
            ({"Format": "webp", "Width": 128, "LoopMode": "PingPong", "LoopCount": 1}, 1, 2),
            ({"Format": "gif", "LoopMode": "Reverse", "LoopCount": 1}, 1, 2),
            ({"Format": "webp", "Width": 128, "LoopMode": "Reverse"}, 1, 2),
        ],
    )
    gif_pp, webp_pp, gif_rev, webp_rev = outputs(task)
    ping_pong = [*FORWARD, *FORWARD[-2:0:-1]]  # the turnaround frames once each
    assert _read(gif_pp) == (ping_pong, [100] * 18, 2)  # 3 plays: NETSCAPE repeat count 2
    assert _read(webp_pp) == (ping_pong, [100] * 18, 1)  # WebP: the plays themselves
    assert _read(gif_rev) == (FORWARD[::-1], [100] * 10, None)  # 1 play: no NETSCAPE block
    assert _read(webp_rev) == (FORWARD[::-1], [100] * 10, 0)
    for output, mode in zip(
        (gif_pp, webp_pp, gif_rev, webp_rev), ("PingPong", "PingPong", "Reverse", "Reverse"),
        strict=True,
    ):  # fmt: skip
        assert (output.loop_mode, output.seam_score) == (mode, None)
        assert (output.start_time_offset, output.end_time_offset) == (1.0, 2.0)
    # the bitrate is over one cycle's display time: 1.8 s for the ping-pong
    assert gif_pp.bitrate == round(gif_pp.size * 8 / 1.8)
    assert gif_rev.bitrate == round(gif_rev.size * 8 / 1.0)
    # the event carries the extensions too; a SeamScore not measured is left out
    event = client.task_event(task.task_id)
    assert event is not None
    wire: Any = event.wire()
    [first, *_] = wire["ProcedureStateChangeEvent"]["MediaProcessResultSet"]
    out = first["AnimatedGraphicTask"]["Output"]
    assert out["LoopMode"] == "PingPong" and "SeamScore" not in out


def test_split_forward_keeps_its_loop_count_and_other_modes_run_whole(
    client: Client, file_id: str
) -> None:
    forward = [1 + 3 * k for k in range(25)]  # 0..2.5 s at 10 fps
    task = _run(
        client,
        file_id,
        [
            ({"Format": "gif", "LoopCount": 3}, 0, 2.5),
            ({"Format": "webp", "Width": 128, "LoopCount": 3}, 0, 2.5),
            ({"Format": "gif", "LoopMode": "Reverse", "LoopCount": 3}, 0, 2.5),
        ],
    )
    record = client.state.tasks.record(task.task_id)
    assert record is not None
    assert [p.slices for p in record.plans] == [5, 5, 1]  # Reverse is not split
    gif, webp, reverse = outputs(task)
    assert _read(gif) == (forward, [100] * 25, 2)
    assert _read(webp) == (forward, [100] * 25, 3)
    assert _read(reverse) == (forward[::-1], [100] * 25, 2)


def test_seamless_finds_the_period_of_a_circular_path(
    client: Client, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A disc going round every 2.0 s, a 2.4 s request with the default 1 s window: the loop
    the worker makes is one period long (within one output frame) and its jump scores like an
    ordinary frame step; Forward's jump on the same request does not."""
    clip = circle_clip(tmp_path_factory.mktemp("circle") / "circle.mp4")
    file_id = client.register_media(clip).file_id
    task = _run(
        client,
        file_id,
        [({"Format": "gif"}, 1.0, 3.4), ({"Format": "gif", "LoopMode": "Seamless"}, 1.0, 3.4)],
    )
    forward, seamless = outputs(task)
    assert (forward.loop_mode, seamless.loop_mode) == ("Forward", "Seamless")
    assert forward.seam_score is None  # measured for Seamless only (contract §6.2)
    length = seamless.end_time_offset - seamless.start_time_offset
    assert length == pytest.approx(PERIOD_S, abs=0.1 + 1e-6)  # one output frame at 10 fps
    assert abs(seamless.start_time_offset - 1.0) <= 1.0 and seamless.end_time_offset <= 4.4
    assert seamless.seam_score is not None and seamless.seam_score < 1.5
    with Image.open(Path(unquote(urlparse(seamless.url).path))) as im:
        assert im.n_frames == round(length * 10)


def test_seamless_without_a_seam_cross_fades_the_jump(client: Client, corpus_dir: Path) -> None:
    """cockatoo.mp4 has no loop within a second of this request: the offsets are kept and the
    last frames are dissolved into the frames before the start, so they differ from Forward's
    while the first frames do not, and the reported score is that of the faded loop."""
    file_id = client.register_media(corpus_dir / "cockatoo.mp4").file_id
    jobs = [({"Format": "gif", "Width": 320}, 2.0, 5.0)]
    jobs.append(({"Format": "gif", "Width": 320, "LoopMode": "Seamless"}, 2.0, 5.0))
    forward, seamless = outputs(_run(client, file_id, jobs))
    assert (seamless.start_time_offset, seamless.end_time_offset) == (2.0, 5.0)
    assert seamless.seam_score is not None and 0 < seamless.seam_score < 3
    plain, faded = _frames(forward), _frames(seamless)
    assert len(plain) == len(faded) == 30
    diff = [
        float(np.abs(a.astype(int) - b.astype(int)).mean())
        for a, b in zip(plain, faded, strict=True)
    ]
    # The frames before the fade differ by their palettes only (a GIF's palette is made for all
    # its frames); the last CROSSFADE_S (4 frames) dissolve, more and more, into the frames
    # before the start.
    fade = round(CROSSFADE_S * 10)
    before, faded_end = diff[:-fade], diff[-fade:]
    assert max(before) < 5.0
    assert min(faded_end) > 2 * max(before)
    assert faded_end == sorted(faded_end)


def _frames(output: MediaAnimatedGraphicsItem) -> list[np.ndarray]:
    with Image.open(Path(unquote(urlparse(output.url).path))) as im:
        found = []
        for k in range(im.n_frames):
            im.seek(k)
            found.append(np.asarray(im.convert("RGB")))
        return found


def test_highlight_picks_the_moment_with_motion(
    client: Client, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A clip still but for 2 s of motion, no offsets, HighlightDuration 2: those 2 s."""
    clip = burst_clip(tmp_path_factory.mktemp("burst") / "burst.mp4")
    file_id = client.register_media(clip).file_id
    [output] = outputs(_run(client, file_id, [({"Format": "gif", "HighlightDuration": 2}, 0, 0)]))
    assert output.start_time_offset == pytest.approx(BURST_S[0], abs=0.2)
    assert output.end_time_offset == pytest.approx(BURST_S[1], abs=0.2)


def test_highlight_reports_the_offsets_it_used(client: Client, file_id: str) -> None:
    task = _run(client, file_id, [({"Format": "gif", "HighlightDuration": 0.5}, 0, 0)])
    [output] = outputs(task)
    start, end = output.start_time_offset, output.end_time_offset
    assert start >= 0 and end <= 3.0 and end - start == pytest.approx(0.5)
    shown, durations, _ = _read(output)
    # the frames shown are those of the offsets reported: slot middles of [start, end)
    assert shown == [int((start + 0.05 + 0.1 * k) * FPS_IN + 1e-6) for k in range(5)]
    assert durations == [100] * 5


def test_cli_run_with_loop_options(stack: Stack, numbered_clip: Path, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "ANIMGRAPH_REDIS_URL": str(stack.settings.redis_url),
        "ANIMGRAPH_DATA_DIR": str(stack.settings.data_dir),
    }
    result = subprocess.run(
        [
            sys.executable, "-m", "animgraph.producer", "run", str(numbered_clip),
            "--fps", "10", "--quality", "100", "--start", "1", "--end", "2",
            "--loop-mode", "pingpong", "--loop-count", "2", "--output", str(tmp_path / "o.gif"),
        ],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    event = json.loads(result.stdout)
    [sub] = [
        r["AnimatedGraphicTask"]
        for r in event["ProcedureStateChangeEvent"]["MediaProcessResultSet"]
    ]
    assert sub["Status"] == "SUCCESS" and sub["Output"]["LoopMode"] == "PingPong"
    assert "PingPong" in result.stderr
    with Image.open(tmp_path / "o.gif") as im:
        assert im.n_frames == 18 and im.info["loop"] == 1  # 2 plays
