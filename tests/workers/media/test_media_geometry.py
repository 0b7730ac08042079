"""Contract §2 size rules, table-driven: (source as displayed, template) -> output size."""

from __future__ import annotations

import pytest

from animgraph.workers.media.geometry import output_size

CASES = [
    # src_w, src_h, width, height, adaptive, expected
    (1280, 720, 0, 0, True, (1280, 720)),  # both 0: source size
    (1280, 720, 0, 0, False, (1280, 720)),
    (1280, 720, 640, 0, True, (640, 360)),  # one side set: the other follows the aspect
    (1280, 720, 0, 360, False, (640, 360)),
    (1280, 720, 640, 640, False, (640, 360)),  # both set: fit inside the box
    (1280, 720, 640, 200, False, (356, 200)),  # height binds: 355.55 rounds to 356
    (1280, 720, 2000, 0, True, (1280, 720)),  # never upscale
    (1280, 720, 4096, 4096, False, (1280, 720)),
    (1280, 720, 2000, 360, False, (640, 360)),  # one side capped, the other still binds
    (720, 1280, 640, 360, True, (360, 640)),  # open: Width is the long side (portrait)
    (720, 1280, 640, 360, False, (203, 360)),  # close: literal width and height
    (720, 1280, 640, 0, True, (360, 640)),  # open, long side 640
    (720, 1280, 0, 360, True, (360, 640)),  # open, short side 360
    (720, 1280, 640, 0, False, (640, 1138)),  # close, width 640 (1137.78)
    (1280, 720, 640, 360, True, (640, 360)),  # open on landscape = close
    (500, 500, 300, 200, True, (200, 200)),  # square: the short bound binds
    (720, 405, 128, 0, True, (128, 72)),
    (10000, 1, 128, 0, True, (128, 1)),  # at least one pixel
    (405, 720, 0, 0, True, (405, 720)),
]


@pytest.mark.parametrize(("src_w", "src_h", "width", "height", "adaptive", "expected"), CASES)
def test_output_size(
    src_w: int, src_h: int, width: int, height: int, adaptive: bool, expected: tuple[int, int]
) -> None:
    assert output_size(src_w, src_h, width=width, height=height, adaptive=adaptive) == expected


def test_output_size_keeps_aspect_ratio_within_a_pixel() -> None:
    for src_w, src_h in [(1920, 1080), (720, 405), (768, 576), (1080, 1920)]:
        for width in (0, 128, 320, 640, 4096):
            for height in (0, 128, 240, 4096):
                w, h = output_size(src_w, src_h, width=width, height=height, adaptive=True)
                assert w <= src_w and h <= src_h
                assert abs(w * src_h / src_w - h) <= 1


def test_output_size_refuses_empty_source() -> None:
    with pytest.raises(ValueError, match="positive"):
        output_size(0, 10, width=0, height=0, adaptive=True)
