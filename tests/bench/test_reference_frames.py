"""The benchmark's reference frames carry the source's own colours (no conversion bias).

Every quality figure of ``make bench`` is a distance to these frames, so a bias in them is a
bias in every ratio. swscale's fast 4:2:0 path (plain ``LANCZOS``) comes out 1-2 levels darker
than the exact conversion on the MPEG-1 and MPEG-4 clips; the reference must not.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import pytest
from av.video.reformatter import Colorspace

from bench import metrics

DATA = Path(__file__).resolve().parents[1] / "data"

_KR_KB = {Colorspace.ITU709: (0.2126, 0.0722), Colorspace.ITU601: (0.299, 0.114)}


def _exact_rgb(frame: av.VideoFrame) -> npt.NDArray[np.float64]:
    """Limited-range Y'CbCr 4:2:0 or 4:4:4 to R'G'B' in float, chroma by pixel repetition."""
    y, u, v = (
        np.frombuffer(bytes(p), np.uint8).reshape(p.height, p.line_size)[:, : p.width]
        for p in frame.planes
    )
    luma = (y.astype(np.float64) - 16) * 255 / 219
    fy, fx = -(-y.shape[0] // u.shape[0]), -(-y.shape[1] // u.shape[1])
    cb, cr = (
        ((c.astype(np.float64) - 128) * 255 / 224)
        .repeat(fy, 0)
        .repeat(fx, 1)[: y.shape[0], : y.shape[1]]
        for c in (u, v)
    )
    kr, kb = _KR_KB[metrics._colorspace(frame)]
    r = luma + 2 * (1 - kr) * cr
    b = luma + 2 * (1 - kb) * cb
    g = (luma - kr * r - kb * b) / (1 - kr - kb)
    return np.clip(np.stack([r, g, b], axis=-1), 0, 255)


@pytest.mark.parametrize("clip", ["city.mpg", "vtest.avi", "cockatoo.mp4"])
def test_reference_frames_have_the_exact_colours(clip: str) -> None:
    with av.open(str(DATA / clip)) as container:
        frame = next(container.decode(video=0))
        exact = _exact_rgb(frame)
        ours = metrics._rgb(frame, frame.width, frame.height).astype(np.float64)
    bias = (ours - exact).reshape(-1, 3).mean(axis=0)
    assert np.abs(bias).max() < 0.1, f"mean error per channel {bias.round(2)}"
