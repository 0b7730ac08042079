"""The bad-input matrix (docs/design.md, "Reliability targets"): every bad file and every bad request gets
the error code of the contract (docs/contract.md §6, §10) and a message naming the problem; the
worker lives on."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from animgraph.producer import ApiError, Client
from animgraph.shared.settings import Settings

pytestmark = pytest.mark.e2e


def _truncated(tmp: Path, corpus: Path) -> Path:
    data = (corpus / "cockatoo.mp4").read_bytes()
    (tmp / "truncated.mp4").write_bytes(data[: len(data) // 3])
    return tmp / "truncated.mp4"


def _text(tmp: Path, corpus: Path) -> Path:
    (tmp / "notes.mp4").write_text("not a video at all\n" * 50)
    return tmp / "notes.mp4"


def _empty(tmp: Path, corpus: Path) -> Path:
    (tmp / "empty.mp4").write_bytes(b"")
    return tmp / "empty.mp4"


def _audio_only(tmp: Path, corpus: Path) -> Path:
    path = tmp / "voice.m4a"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=44100)
        for k in range(40):
            frame = av.AudioFrame.from_ndarray(
                np.zeros((1, 1024), np.float32), format="fltp", layout="mono"
            )
            frame.sample_rate, frame.pts = 44100, k * 1024
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def _claiming(side: int) -> Callable[[Path, Path], Path]:
    """A Matroska file of raw frames whose header claims ``side`` x ``side`` pixel frames."""

    def make(tmp: Path, corpus: Path) -> Path:
        base = tmp / "base.mkv"
        with av.open(str(base), "w") as out:
            stream = out.add_stream("rawvideo", rate=10)
            stream.width, stream.height, stream.pix_fmt = 256, 256, "yuv420p"
            for i in range(3):
                frame = av.VideoFrame.from_ndarray(
                    np.full((256, 256, 3), 40 * i, np.uint8), format="rgb24"
                )
                frame.pts, frame.time_base = i, Fraction(1, 10)
                for packet in stream.encode(frame.reformat(format="yuv420p")):
                    out.mux(packet)
            for packet in stream.encode(None):
                out.mux(packet)
        data = bytearray(base.read_bytes())
        for element in (b"\xb0\x82\x01\x00", b"\xba\x82\x01\x00"):  # PixelWidth, PixelHeight = 256
            at = data.index(element)
            data[at + 2 : at + 4] = side.to_bytes(2, "big")
        path = tmp / f"claims-{side}.mkv"
        path.write_bytes(bytes(data))
        return path

    return make


BAD_FILES = [
    ("truncated", _truncated, "SourceFileError", ""),
    ("text named .mp4", _text, "SourceFileError.ContentMalformed", "not a readable video"),
    ("zero bytes", _empty, "SourceFileError.ContentMalformed", ""),
    ("audio only", _audio_only, "SourceFileError.NoVideoMedia", "video"),
    ("16384x16384 header", _claiming(16384), "SourceFileError.ContentUnsupported", "picture size"),
    (
        "12000x12000 over the limit",
        _claiming(12000),
        "SourceFileError.ContentUnsupported",
        "12000x12000",
    ),
]


@pytest.mark.parametrize(("name", "make", "code", "says"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_files(
    client: Client, corpus_dir: Path, tmp_path: Path, name: str, make: Any, code: str, says: str
) -> None:
    media = client.register_media(make(tmp_path, corpus_dir))
    task_id = client.process_media(
        {
            "FileId": media.file_id,
            "MediaProcessTask": {
                "AnimatedGraphicTaskSet": [
                    {"Definition": 20000, "StartTimeOffset": 1, "EndTimeOffset": 3}
                ]
            },
        }
    )
    [result] = client.wait(task_id, timeout_s=60).media_process_result_set
    sub = result.animated_graphic_task
    assert sub.status == "FAIL" and sub.err_code_ext.startswith(code), sub
    assert sub.err_code == 60000 and says in sub.message and sub.message
    assert client.task_event(task_id) is not None
    _worker_lives_on(client, corpus_dir)


def _worker_lives_on(client: Client, corpus_dir: Path) -> None:
    good = client.register_media(corpus_dir / "vtest.avi")
    task_id = client.process_media(
        {
            "FileId": good.file_id,
            "MediaProcessTask": {
                "AnimatedGraphicTaskSet": [{"Definition": 20000, "EndTimeOffset": 0.5}]
            },
        }
    )
    assert (
        client.wait(task_id, timeout_s=60).media_process_result_set[0].animated_graphic_task.status
        == "SUCCESS"
    )


BAD_SUBTASKS = [
    ({"Definition": 20000, "StartTimeOffset": 100}, "InvalidInput.InvalidTimeOffset"),
    (
        {"Definition": 20000, "StartTimeOffset": 4, "EndTimeOffset": 4},
        "InvalidInput.InvalidTimeOffset",
    ),
    (
        {"Definition": 20000, "StartTimeOffset": 5, "EndTimeOffset": 2},
        "InvalidInput.InvalidTimeOffset",
    ),
    ({"Definition": 20000, "StartTimeOffset": -100}, "InvalidInput.InvalidTimeOffset"),
    ({"Definition": 424242}, "InvalidInput.DefinitionNotExist"),
]


def test_bad_subtasks(client: Client, corpus_dir: Path) -> None:
    media = client.register_media(corpus_dir / "vtest.avi")
    items = [item for item, _ in BAD_SUBTASKS]
    task = client.wait(
        client.process_media(
            {"FileId": media.file_id, "MediaProcessTask": {"AnimatedGraphicTaskSet": items}}
        ),
        timeout_s=60,
    )
    for result, (item, code) in zip(task.media_process_result_set, BAD_SUBTASKS, strict=True):
        sub = result.animated_graphic_task
        assert (sub.status, sub.err_code_ext, sub.err_code) == ("FAIL", code, 40000), item
        assert sub.message and sub.input.definition == item["Definition"]


def _request(file_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "FileId": file_id,
        "MediaProcessTask": {"AnimatedGraphicTaskSet": [{"Definition": 20000}]},
        **extra,
    }


BAD_REQUESTS: list[tuple[str, Callable[[Client, str], object], str]] = [
    (
        "fps 0",
        lambda c, f: c.create_animated_graphics_template({"Fps": 0}),
        "InvalidParameterValue.Fps",
    ),
    (
        "fps 61",
        lambda c, f: c.create_animated_graphics_template({"Fps": 61}),
        "InvalidParameterValue.Fps",
    ),
    (
        "width 127",
        lambda c, f: c.create_animated_graphics_template({"Fps": 5, "Width": 127}),
        "InvalidParameterValue.Resolution",
    ),
    (
        "width 4097",
        lambda c, f: c.create_animated_graphics_template({"Fps": 5, "Width": 4097}),
        "InvalidParameterValue.Resolution",
    ),
    (
        "NaN quality",
        lambda c, f: c.create_animated_graphics_template({"Fps": 5, "Quality": float("nan")}),
        "InvalidParameterValue.Quality",
    ),
    (
        "infinite offset",
        lambda c, f: c.process_media(
            {
                "FileId": f,
                "MediaProcessTask": {
                    "AnimatedGraphicTaskSet": [{"Definition": 20000, "EndTimeOffset": float("inf")}]
                },
            }
        ),
        "InvalidParameterValue.EndTimeOffset",
    ),
    (
        "wrong JSON type",
        lambda c, f: c.process_media(_request(f, TasksPriority="high")),
        "InvalidParameterValue.TasksPriority",
    ),
    (
        "unknown field",
        lambda c, f: c.process_media(_request(f, Colour="red")),
        "UnknownParameter",
    ),
    (
        "no FileIds",
        lambda c, f: c.describe_media_infos({"FileIds": []}),
        "InvalidParameterValue.FileIdsEmpty",
    ),
    (
        "21 FileIds",
        lambda c, f: c.describe_media_infos({"FileIds": [f] * 21}),
        "InvalidParameterValue.FileIdsOverLimit",
    ),
    (
        "unknown FileId",
        lambda c, f: c.process_media(_request("no-such-file")),
        "InvalidParameterValue.FileId",
    ),
    (
        "unknown ProcedureName",
        lambda c, f: c.process_media_by_procedure({"FileId": f, "ProcedureName": "nope"}),
        "InvalidParameterValue.ProcedureName",
    ),
    (
        "unknown TaskId",
        lambda c, f: c.describe_task_detail("animgraph-Procedure-nope"),
        "InvalidParameterValue.TaskId",
    ),
    (
        "oversized SessionContext",
        lambda c, f: c.process_media(_request(f, SessionContext="x" * 1001)),
        "InvalidParameterValue.SessionContextTooLong",
    ),
    (
        "SessionId over 50",
        lambda c, f: c.process_media(_request(f, SessionId="s" * 51)),
        "InvalidParameterValue.SessionIdTooLong",
    ),
]


def test_bad_requests_are_refused_and_enqueue_nothing(settings: Settings, corpus_dir: Path) -> None:
    with Client(settings) as client:
        file_id = client.register_media(corpus_dir / "vtest.avi").file_id
        before = len(client.state.tasks.ids())
        for name, call, code in BAD_REQUESTS:
            with pytest.raises(ApiError) as info:
                call(client, file_id)
            assert info.value.code == code, name
            assert info.value.message, name
        client.process_media(_request(file_id, SessionId="matrix-once"))
        with pytest.raises(ApiError) as info:
            client.process_media(_request(file_id, SessionId="matrix-once"))
        assert info.value.code == "InvalidParameterValue.SessionId"
        assert len(client.state.tasks.ids()) == before + 1
