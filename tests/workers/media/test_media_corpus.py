"""Real camera clips (tests/data via the ``corpus_dir`` fixture): probe, decode, encode 1 s."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from animgraph.workers.media.decode import decode_segment
from animgraph.workers.media.encode import encode_gif, encode_webp
from animgraph.workers.media.geometry import output_size
from animgraph.workers.media.probe import probe
from animgraph.workers.media.select import select_frames


@pytest.fixture()
def corpus(request: pytest.FixtureRequest) -> Path:
    """The real clips, or a skip when this checkout does not ship them."""
    try:
        directory = Path(request.getfixturevalue("corpus_dir"))
    except pytest.FixtureLookupError:
        pytest.skip("no corpus_dir fixture in tests/conftest.py: real clips not available")
    return directory


def clip(corpus: Path, name: str) -> Path:
    path = corpus / name
    if not path.exists():
        pytest.skip(f"{name} is not in {corpus}")
    return path


def test_city_mpg_seeks_inexactly_but_frames_are_on_time(corpus: Path, tmp_path: Path) -> None:
    src = clip(corpus, "city.mpg")
    info = probe(src)
    assert info.start_time_s == pytest.approx(0.54)
    assert info.meta.container == "mpeg"
    frames = decode_segment(src, tmp_path, start_s=2.0, end_s=3.0, width=360, height=202)
    assert len(frames) == 25
    assert min(frames.pts_s) >= 2.0 - 0.04 and max(frames.pts_s) <= 3.0
    assert frames.pts_s[0] == pytest.approx(2.0, abs=1e-6)


def test_cockatoo_444_h264_colours_and_outputs(corpus: Path, tmp_path: Path) -> None:
    src = clip(corpus, "cockatoo.mp4")
    info = probe(src)
    assert (info.meta.width, info.meta.height, info.meta.video_stream_set[0].fps) == (1280, 720, 20)
    assert info.meta.audio_stream_set[0].codec == "mp3"
    width, height = output_size(1280, 720, width=320, height=0, adaptive=True)
    frames = decode_segment(src, tmp_path / "f", start_s=3.0, end_s=4.0, width=width, height=height)
    assert len(frames) == 20
    assert frames.pts_s[0] == pytest.approx(3.0)
    rgb = frames.read(0).astype(float)
    # a natural picture: neither clipped nor tinted by a wrong matrix or range
    assert 40 < rgb.mean() < 200
    assert np.ptp(rgb.reshape(-1, 3).mean(axis=0)) < 40
    assert (rgb == 0).mean() < 0.05 and (rgb == 255).mean() < 0.05
    selection = select_frames(frames.pts_s, start_s=3.0, end_s=4.0, fps=10)
    encode_gif(frames, selection, tmp_path / "c.gif", quality=75)
    encode_webp(frames, selection, tmp_path / "c.webp", quality=75)
    for name in ("c.gif", "c.webp"):
        image = Image.open(tmp_path / name)
        assert (image.size, image.n_frames, image.info["loop"]) == ((320, 180), 10, 0)


def test_vtest_avi_msmpeg4(corpus: Path, tmp_path: Path) -> None:
    src = clip(corpus, "vtest.avi")
    info = probe(src)
    assert info.meta.video_stream_set[0].codec == "msmpeg4v3"
    start = min(2.0, info.meta.video_duration - 1.0)
    frames = decode_segment(src, tmp_path, start_s=start, end_s=start + 1.0, width=384, height=288)
    assert len(frames) == 10
    assert frames.pts_s[0] == pytest.approx(start)


def test_theora_screen_recording_with_repeat_packets_decodes(corpus: Path, tmp_path: Path) -> None:
    """game-screen.ogv (the first 160 kB of GNOME's five-or-more help video, a Theora screen
    recording) holds an empty packet for every frame the recorder dropped (116 of them in
    these 6 s): each repeats the previous frame, which stays on screen until the next one."""
    src = clip(corpus, "game-screen.ogv")
    info = probe(src)
    assert (info.meta.width, info.meta.height) == (320, 320)
    frames = decode_segment(src, tmp_path / "f", start_s=1.0, end_s=3.0, width=320, height=320)
    assert 20 <= len(frames) <= 100
    assert 0.5 < frames.pts_s[0] <= 1.0  # the frame on screen at the start: a repeat ran on
    assert max(frames.pts_s) < 3.0 and max(frames.pts_s) > 2.5
    selection = select_frames(frames.pts_s, start_s=1.0, end_s=3.0, fps=10)
    encode_gif(frames, selection, tmp_path / "a.gif", quality=75)
    with Image.open(tmp_path / "a.gif") as image:
        assert image.size == (320, 320)
        assert 10 <= image.n_frames <= 20  # a frame repeated over slots is stored once
        shown = 0
        for k in range(image.n_frames):
            image.seek(k)
            shown += image.info["duration"]
        assert shown == 2000
