"""The benchmark's correctness checks, small and fast, on animgraph's outputs only (CI).

Jobs go through the queue to a real worker (the ``client`` fixture), like ``make bench`` does,
on short segments of the repo's clips and on synthetic BT.709 and full-range clips; the outputs
are read back with the bench's own reader and checked as the bench checks them: frame count
within one of duration x fps (fps capped at the source's), total duration within 10 ms, width, loops forever, and colours.
No reference tool and no timing.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pytest

from animgraph.producer.client import Client
from bench import colours, metrics

pytestmark = pytest.mark.e2e

DATA = Path(__file__).resolve().parents[1] / "data"


def run_job(
    client: Client, video: Path, fmt: str, fps: int, width: int, start: float, end: float, out: Path
) -> metrics.Animation:
    template = client.create_template(Format=fmt, Fps=fps, Width=width, Name="bench-ci")
    media = client.register_media(video)
    task_id = client.process_media(
        {
            "FileId": media.file_id,
            "MediaProcessTask": {
                "AnimatedGraphicTaskSet": [
                    {
                        "Definition": template.definition,
                        "StartTimeOffset": start,
                        "EndTimeOffset": end,
                    }
                ]
            },
        }
    )
    task = client.wait(task_id, timeout_s=60, poll_s=0.05)
    sub = task.media_process_result_set[0].animated_graphic_task
    assert sub.output is not None, f"{sub.err_code_ext}: {sub.message}"
    shutil.copyfile(unquote(urlparse(sub.output.url).path), out)
    return metrics.read_animation(out)


@pytest.mark.parametrize(
    ("clip", "fmt", "fps", "width", "start", "end"),
    [
        ("city.mpg", "gif", 10, 240, 1.0, 2.5),  # MPEG-PS starting at 0.54 s
        ("cockatoo.mp4", "gif", 15, 160, 2.0, 3.0),  # H.264 4:4:4, 720p
        ("vtest.avi", "gif", 24, 160, 1.0, 2.0),  # 10 fps source, 24 fps output
        ("cockatoo.mp4", "webp", 15, 160, 2.0, 3.0),
        ("vtest.avi", "webp", 10, 160, 2.0, 3.5),
    ],
)
def test_frames_duration_size_loop(
    client: Client,
    tmp_path: Path,
    clip: str,
    fmt: str,
    fps: int,
    width: int,
    start: float,
    end: float,
) -> None:
    anim = run_job(client, DATA / clip, fmt, fps, width, start, end, tmp_path / f"out.{fmt}")
    checks = metrics.checks(anim, end - start, fps, width, metrics.source_fps(DATA / clip))
    assert checks.ok, checks.failures()


@pytest.mark.parametrize("fmt", ["gif", "webp"])
@pytest.mark.parametrize(("kind", "suffix"), [("bt709", "mp4"), ("jpeg", "mkv")])
def test_colours_of_bt709_and_full_range_sources(
    client: Client, tmp_path: Path, fmt: str, kind: str, suffix: str
) -> None:
    video = colours.write_clip(tmp_path / f"{kind}.{suffix}", kind)
    anim = run_job(client, video, fmt, colours.FPS, colours.SIZE[0], 0, 1, tmp_path / f"o.{fmt}")
    errors = colours.patch_errors(anim)
    assert max(errors) <= colours.TOLERANCE, errors


def test_merged_repeats_pass_only_on_whole_slots() -> None:
    """15 fps for 1 s: 15 frames of 66.7 ms, or fewer when repeats merged into frames of whole
    slots (133, 200 ms...); a frame of a slot and a half is a timing error."""

    def check(durations: list[int]) -> metrics.Checks:
        frames = [np.zeros((2, 2, 3), dtype=np.uint8)] * len(durations)
        return metrics.checks(metrics.Animation(2, 2, durations, 0, frames), 1.0, 15, 2)

    assert check([67, 66, 67] * 5).ok
    merged = check([133, 67, 200] + [67, 66, 67] * 3)
    assert merged.frames == 12 and merged.ok
    skewed = check([100, 100, 133] + [67, 66, 67] * 3 + [67])
    assert skewed.duration_ok and not skewed.frames_ok
