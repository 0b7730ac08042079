"""Probing synthetic clips and bad inputs."""

from __future__ import annotations

from pathlib import Path

import pytest
from media_clips import Clip, write_audio_only, write_clip

from animgraph.shared.errors import SourceFileError
from animgraph.workers.media.probe import clockwise_rotation, probe


def test_probe_fields(grey_clip: Clip) -> None:
    result = probe(grey_clip.path)
    meta = result.meta
    assert meta.size == grey_clip.path.stat().st_size
    assert meta.container == "mov,mp4,m4a,3gp,3g2,mj2"
    assert (meta.width, meta.height, meta.rotate) == (64, 48, 0)
    assert meta.duration == pytest.approx(2.0, abs=0.05)
    assert meta.video_duration == pytest.approx(2.0, abs=0.001)
    assert meta.audio_duration == pytest.approx(2.0, abs=0.05)
    assert meta.bitrate > 0
    (video,) = meta.video_stream_set
    assert (video.codec, video.width, video.height, video.fps) == ("h264", 64, 48, 30)
    assert video.bitrate > 0
    (audio,) = meta.audio_stream_set
    assert (audio.codec, audio.sampling_rate) == ("aac", 48000)
    assert (result.start_time_s, result.display_width, result.display_height) == (0.0, 64, 48)
    assert meta.wire()["VideoStreamSet"] == [
        {"Codec": "h264", "Width": 64, "Height": 48, "Fps": 30, "Bitrate": video.bitrate}
    ]


def test_probe_start_time_and_durations_relative_to_video(clips: Path) -> None:
    clip = write_clip(clips / "late.ts", frames=30, first_pts=15)  # video starts 0.5 s in
    result = probe(clip.path)
    assert result.meta.container == "mpegts"
    # MPEG-TS adds its own 1.4 s mux delay: whatever the offset, it is the first frame's time
    assert result.start_time_s >= 0.5
    assert result.meta.duration == pytest.approx(1.0, abs=0.05)
    assert result.meta.video_duration == pytest.approx(1.0, abs=0.05)


@pytest.mark.parametrize(
    ("ccw", "clockwise", "display"),
    [(-90, 90, (48, 64)), (180, 180, (64, 48)), (90, 270, (48, 64))],
)
def test_probe_rotation(clips: Path, ccw: int, clockwise: int, display: tuple[int, int]) -> None:
    clip = write_clip(clips / f"rot{ccw}.mp4", frames=3, rotation_ccw=ccw)
    result = probe(clip.path)
    assert (result.meta.width, result.meta.height) == (64, 48)  # coded size
    assert result.rotate == result.meta.rotate == clockwise
    assert (result.display_width, result.display_height) == display


@pytest.mark.parametrize(
    ("ccw", "expected"),
    [
        (None, 0),
        (0, 0),
        (-90, 90),
        (-90.0000001, 90),
        (90, 270),
        (180, 180),
        (-180, 180),
        (-89.6, 90),
    ],
)
def test_clockwise_rotation_from_display_matrix_angle(ccw: float | None, expected: int) -> None:
    assert clockwise_rotation(ccw) == expected


def _text(path: Path) -> Path:
    path.write_text("this is a shopping list, not a video\n" * 20)
    return path


def _empty(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def _truncated(path: Path, source: Path) -> Path:
    data = source.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    return path


def test_text_file_renamed_mp4(tmp_path: Path) -> None:
    with pytest.raises(SourceFileError) as err:
        probe(_text(tmp_path / "list.mp4"))
    assert err.value.code == "SourceFileError.ContentMalformed"
    assert "not a readable video" in err.value.message


def test_zero_length_file(tmp_path: Path) -> None:
    with pytest.raises(SourceFileError) as err:
        probe(_empty(tmp_path / "empty.mp4"))
    assert err.value.code == "SourceFileError.ContentMalformed"
    assert "empty" in err.value.message


def test_truncated_mp4_without_index(tmp_path: Path, grey_clip: Clip) -> None:
    # the moov atom comes last in a PyAV-written MP4: a third of the file has no index
    with pytest.raises(SourceFileError) as err:
        probe(_truncated(tmp_path / "cut.mp4", grey_clip.path))
    assert err.value.code == "SourceFileError.ContentMalformed"


def test_audio_only_file(tmp_path: Path) -> None:
    with pytest.raises(SourceFileError) as err:
        probe(write_audio_only(tmp_path / "tone.wav"))
    assert err.value.code == "SourceFileError.NoVideoMedia"
    assert err.value.message == "The source file has no video stream."


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SourceFileError) as err:
        probe(tmp_path / "gone.mp4")
    assert err.value.code == "SourceFileError.ContentMalformed"
