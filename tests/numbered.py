"""A numbered clip for the end-to-end tests: source frame i shows i in binary, one black or
white stripe a bit, so every displayed frame of an output tells which source frame it shows
(black and white survive any palette and lossy video with stripes wide enough); and the job
helpers those tests share (one template a job, the outputs of a finished task)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image

from animgraph.producer import Client
from animgraph.shared.models import MediaAnimatedGraphicsItem, ProcedureTask

FPS_IN, FRAMES = 30, 90  # 3 s
BITS = 7


def picture(i: int, width: int, height: int, stripe: int) -> np.ndarray:
    """Source frame ``i``: stripe b (``stripe`` px wide) white where bit b of ``i`` is set."""
    rgb = np.zeros((height, width, 3), np.uint8)
    for b in range(BITS):
        if i >> b & 1:
            rgb[:, b * stripe : (b + 1) * stripe] = 255
    return rgb


def number(rgb: np.ndarray, stripe: int) -> int:
    """The source frame a displayed frame shows, from the middles of its stripes."""
    edge = stripe // 4
    return sum(
        1 << b
        for b in range(BITS)
        if rgb[:, b * stripe + edge : (b + 1) * stripe - edge].mean() > 128
    )


def write_numbered_clip(path: Path, width: int, height: int, stripe: int) -> Path:
    """3 s at 30 fps of ``picture(i)``, lossless H.264."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS_IN)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"qp": "0", "preset": "ultrafast", "g": "15", "bf": "0"}
        for i in range(FRAMES):
            frame = av.VideoFrame.from_ndarray(picture(i, width, height, stripe), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, FPS_IN)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def read_image(path: Path, stripe: int) -> tuple[list[int], list[int], int | None]:
    """An animated image read with Pillow: the source frame each displayed frame shows, the
    durations (ms) and Pillow's loop value (None where the file stores none)."""
    with Image.open(path) as im:
        shown, durations = [], []
        for k in range(im.n_frames):
            im.seek(k)
            im.load()
            shown.append(number(np.asarray(im.convert("RGB")), stripe))
            durations.append(int(im.info["duration"]))
        loop = im.info.get("loop")
        return shown, durations, None if loop is None else int(loop)


def run_jobs(
    client: Client,
    file_id: str,
    jobs: list[tuple[dict[str, Any], float, float]],
    defaults: dict[str, Any],
) -> ProcedureTask:
    """One template a job (``defaults`` updated with the job's fields) over (start, end), all
    in one task; waits for it to finish."""
    items = []
    for fields, start, end in jobs:
        template = client.create_template(**{**defaults, **fields})
        items.append(
            {"Definition": template.definition, "StartTimeOffset": start, "EndTimeOffset": end}
        )
    task_id = client.process_media(
        {"FileId": file_id, "MediaProcessTask": {"AnimatedGraphicTaskSet": items}}
    )
    return client.wait(task_id, timeout_s=240)


def outputs(task: ProcedureTask) -> list[MediaAnimatedGraphicsItem]:
    """The outputs of a task whose every subtask succeeded."""
    found = []
    for result in task.media_process_result_set:
        sub = result.animated_graphic_task
        assert sub.status == "SUCCESS", sub.message
        assert sub.output is not None
        found.append(sub.output)
    return found
