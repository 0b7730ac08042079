"""A long segment split across workers: time slices encoded in parallel and joined into one
animation that matches the unsplit one (frame count, timing, pictures), through real workers."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import numpy as np
import pytest
from PIL import Image
from stack import StackFactory, until

from animgraph.producer import Client

pytestmark = pytest.mark.e2e


def _frames(url: str) -> list[tuple[np.ndarray, int]]:
    with Image.open(Path(unquote(urlparse(url).path))) as im:
        out = []
        for k in range(im.n_frames):
            im.seek(k)
            im.load()
            luma = np.asarray(im.convert("L"), dtype=float)
            # 2x2 means: two encodes dither (and lossy-code) the same picture differently; the
            # comparison is of what the eye averages, not of the dither pattern.
            h, w = luma.shape[0] // 2 * 2, luma.shape[1] // 2 * 2
            luma = luma[:h, :w].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
            out.append((luma, int(im.info["duration"])))
        assert im.info.get("loop") == 0
        return out


def _ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two luma pictures over 8x8 blocks."""
    h, w = (a.shape[0] // 8) * 8, (a.shape[1] // 8) * 8
    blocks = [
        x[:h, :w].reshape(h // 8, 8, w // 8, 8).swapaxes(1, 2).reshape(-1, 64) for x in (a, b)
    ]
    ma, mb = (x.mean(axis=1) for x in blocks)
    va, vb = (x.var(axis=1) for x in blocks)
    cov = ((blocks[0] - ma[:, None]) * (blocks[1] - mb[:, None])).mean(axis=1)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    return float(
        np.mean((2 * ma * mb + c1) * (2 * cov + c2) / ((ma**2 + mb**2 + c1) * (va + vb + c2)))
    )


def _run(stacks: StackFactory, name: str, corpus_dir: Path, env: dict[str, str]) -> list[str]:
    stack = stacks.start(name, env=env)
    with stack.client() as client:
        file_id = client.register_media(corpus_dir / "cockatoo.mp4").file_id
        gif = client.create_template(Format="gif", Fps=10, Width=320)
        webp = client.create_template(Format="webp", Fps=10, Width=320)
        items = [
            {"Definition": t.definition, "StartTimeOffset": 1, "EndTimeOffset": 8.5}
            for t in (gif, webp)
        ]
        task_id = client.process_media(
            {"FileId": file_id, "MediaProcessTask": {"AnimatedGraphicTaskSet": items}}
        )
        if "ANIMGRAPH_SPLIT_MIN_S" in env:
            until(lambda: bool(_plans(client, task_id)), 60, "the split plan")
            assert [p.slices for p in _plans(client, task_id)] == [4, 4]
        task = client.wait(task_id, timeout_s=180)
        urls = []
        for result in task.media_process_result_set:
            sub = result.animated_graphic_task
            assert sub.status == "SUCCESS", sub.message
            assert sub.output is not None and (sub.output.width, sub.output.height) == (
                320,
                180,
            )
            assert (sub.output.start_time_offset, sub.output.end_time_offset) == (1.0, 8.5)
            urls.append(sub.output.url)
        assert not (stack.root / "storage" / "work" / task_id).exists()
    stack.stop()  # before the next stack starts, so the two never share the cores
    return urls


def _plans(client: Client, task_id: str) -> list[Any]:
    record = client.state.tasks.record(task_id)
    return list(record.plans) if record is not None else []


def test_split_output_matches_the_unsplit_one(
    stack_factory: StackFactory, corpus_dir: Path
) -> None:
    whole = _run(stack_factory, "whole", corpus_dir, {})
    split = _run(
        stack_factory,
        "split",
        corpus_dir,
        {"ANIMGRAPH_SPLIT_MIN_S": "3", "ANIMGRAPH_SPLIT_SLICE_S": "2"},
    )
    for one, other in zip(whole, split, strict=True):
        a, b = _frames(one), _frames(other)
        assert len(a) == len(b) and abs(len(a) - 75) <= 1
        assert sum(ms for _, ms in a) == sum(ms for _, ms in b) == 7500
        assert [ms for _, ms in a] == [ms for _, ms in b]
        scores = [_ssim(x, y) for (x, _), (y, _) in zip(a, b, strict=True)]
        assert min(scores) > 0.8 and float(np.mean(scores)) > 0.9, (min(scores), np.mean(scores))
