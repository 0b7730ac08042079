"""End to end: custom templates, size rules on real sources, task flows, priorities and the
template snapshot, through a real Redis and real worker processes."""

from __future__ import annotations

import time
from fractions import Fraction
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import av
import pytest
import redis
from PIL import Image
from stack import Stack, StackFactory

from animgraph.producer import Client, RecordingSender
from animgraph.shared.models import MediaProcessTaskAnimatedGraphicResult, ProcedureTask
from animgraph.shared.settings import Settings
from animgraph.workers.local import WorkerProcess

pytestmark = pytest.mark.e2e


def _subtasks(task: ProcedureTask) -> list[MediaProcessTaskAnimatedGraphicResult]:
    return [r.animated_graphic_task for r in task.media_process_result_set]


def _image(url: str) -> tuple[str, tuple[int, int], int, int]:
    """Format, size, frame count and total duration (ms) of an output."""
    with Image.open(Path(unquote(urlparse(url).path))) as im:
        total = 0
        for k in range(im.n_frames):
            im.seek(k)
            im.load()
            total += int(im.info["duration"])
        return str(im.format), im.size, im.n_frames, total


def _reencode(src: Path, dest: Path, *, seconds: float, transpose: bool, rotate_ccw: int) -> Path:
    """A short H.264 copy of real footage at 640x360: transposed to portrait, or tagged with a
    display rotation (as phones do), so size rules meet portrait and rotated sources."""
    with av.open(str(src)) as source, av.open(str(dest), "w") as out:
        stream = out.add_stream("libx264", rate=20)
        stream.width, stream.height = (360, 640) if transpose else (640, 360)
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "23", "preset": "ultrafast"}
        if rotate_ccw:
            stream.set_display_rotation(rotate_ccw)
        for i, frame in enumerate(source.decode(video=0)):
            if i >= seconds * 20:
                break
            rgb = frame.to_ndarray(format="rgb24", width=640, height=360)
            if transpose:
                rgb = rgb.transpose(1, 0, 2).copy()
            picture = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            picture.pts, picture.time_base = i, Fraction(1, 20)
            for packet in stream.encode(picture):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return dest


@pytest.fixture(scope="module")
def sources(
    client_module: Client, corpus_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """FileIds of a landscape, a portrait and a rotated source."""
    tmp = tmp_path_factory.mktemp("sources")
    cockatoo = corpus_dir / "cockatoo.mp4"
    portrait = _reencode(cockatoo, tmp / "portrait.mp4", seconds=2, transpose=True, rotate_ccw=0)
    rotated = _reencode(cockatoo, tmp / "rotated.mp4", seconds=2, transpose=False, rotate_ccw=90)
    return {
        name: client_module.register_media(path).file_id
        for name, path in [("landscape", cockatoo), ("portrait", portrait), ("rotated", rotated)]
    }


@pytest.fixture(scope="module")
def client_module(shared_stack: Stack, worker: WorkerProcess) -> Any:
    with shared_stack.client() as c:
        yield c


# (source, template fields, expected output size): contract §2 on 1280x720, 360x640 and a 640x360
# picture displayed rotated (360x640).
SIZE_CASES = [
    ("landscape", {}, (1280, 720)),
    ("landscape", {"Width": 480}, (480, 270)),
    ("landscape", {"Height": 360}, (640, 360)),
    ("landscape", {"Width": 480, "Height": 480}, (480, 270)),
    ("landscape", {"Width": 320, "Height": 320, "ResolutionAdaptive": "close"}, (320, 180)),
    ("landscape", {"Width": 2000}, (1280, 720)),
    ("portrait", {"Width": 480}, (270, 480)),
    ("portrait", {"Width": 480, "ResolutionAdaptive": "close"}, (360, 640)),
    ("portrait", {"Height": 200, "ResolutionAdaptive": "close"}, (113, 200)),
    ("portrait", {}, (360, 640)),
    ("rotated", {}, (360, 640)),
    ("rotated", {"Width": 320}, (180, 320)),
    ("rotated", {"Width": 320, "ResolutionAdaptive": "close"}, (320, 569)),
    ("rotated", {"Width": 128, "Height": 128}, (72, 128)),
]


def test_size_rules_on_real_sources(client_module: Client, sources: dict[str, str]) -> None:
    """All cases run as subtasks of one procedure per source, as a user would batch them."""
    expected: dict[str, list[tuple[int, tuple[int, int]]]] = {}
    for source, fields, size in SIZE_CASES:
        template = client_module.create_template(Fps=4, Format="gif", **fields)
        expected.setdefault(source, []).append((template.definition, size))
    for source, cases in expected.items():
        items = [{"Definition": d, "StartTimeOffset": 0.5, "EndTimeOffset": 1.5} for d, _ in cases]
        task = client_module.wait(
            client_module.process_media(
                {"FileId": sources[source], "MediaProcessTask": {"AnimatedGraphicTaskSet": items}}
            ),
            timeout_s=300,
        )
        for sub, (definition, size) in zip(_subtasks(task), cases, strict=True):
            assert sub.status == "SUCCESS", sub.message
            assert sub.output is not None
            got = (sub.output.width, sub.output.height)
            assert got == size, f"{source} template {definition}: {got} != {size}"
            assert _image(sub.output.url)[1] == size


def test_custom_template_output_matches_its_spec(
    client_module: Client, sources: dict[str, str]
) -> None:
    webp = client_module.create_template(Format="webp", Fps=12, Width=480, Quality=80)
    gif = client_module.create_template(Format="gif", Fps=5, Height=200)
    task = client_module.wait(
        client_module.process_media(
            {
                "FileId": sources["landscape"],
                "MediaProcessTask": {
                    "AnimatedGraphicTaskSet": [
                        {"Definition": webp.definition, "StartTimeOffset": 1, "EndTimeOffset": 3},
                        {"Definition": gif.definition, "StartTimeOffset": 1, "EndTimeOffset": 3},
                    ]
                },
            }
        ),
        timeout_s=300,
    )
    (w, g) = _subtasks(task)
    assert w.output is not None and g.output is not None
    assert _image(w.output.url)[:2] == ("WEBP", (480, 270)) and w.output.container == "webp"
    assert abs(_image(w.output.url)[2] - 24) <= 1  # 12 fps x 2 s
    assert _image(g.output.url)[:2] == ("GIF", (356, 200)) and g.output.container == "gif"
    assert abs(_image(g.output.url)[2] - 10) <= 1  # 5 fps x 2 s
    assert abs(_image(g.output.url)[3] - 2000) <= 10


def test_webp_quality_changes_the_output(client_module: Client, sources: dict[str, str]) -> None:
    low, high = (
        client_module.create_template(Format="webp", Fps=10, Width=480, Quality=q) for q in (20, 95)
    )
    items = [
        {"Definition": t.definition, "StartTimeOffset": 2, "EndTimeOffset": 4} for t in (low, high)
    ]
    task = client_module.wait(
        client_module.process_media(
            {"FileId": sources["landscape"], "MediaProcessTask": {"AnimatedGraphicTaskSet": items}}
        ),
        timeout_s=300,
    )
    small, large = (s.output for s in _subtasks(task))
    assert small is not None and large is not None
    assert small.size * 1.5 < large.size, (small.size, large.size)


def test_task_flow_run(client_module: Client, sources: dict[str, str]) -> None:
    webp = client_module.create_template(Format="webp", Fps=8, Width=320)
    client_module.create_procedure_template(
        {
            "Name": "e2e-flow",
            "MediaProcessTask": {
                "AnimatedGraphicTaskSet": [
                    {"Definition": 20000, "StartTimeOffset": -2},
                    {"Definition": webp.definition, "StartTimeOffset": 1, "EndTimeOffset": 2},
                ]
            },
        }
    )
    task_id = client_module.process_media_by_procedure(
        {"FileId": sources["rotated"], "ProcedureName": "e2e-flow", "SessionContext": "flow-ctx"}
    )
    task = client_module.wait(task_id, timeout_s=300)
    last2, webp_sub = _subtasks(task)
    assert last2.status == webp_sub.status == "SUCCESS"
    assert last2.output is not None and webp_sub.output is not None
    assert last2.output.end_time_offset - last2.output.start_time_offset == pytest.approx(2.0)
    assert (webp_sub.output.width, webp_sub.output.height) == (180, 320)
    event = client_module.task_event(task_id)
    assert event is not None and event.procedure_state_change_event is not None
    assert event.procedure_state_change_event.session_context == "flow-ctx"


def test_a_running_procedure_keeps_its_templates(
    client_module: Client, sources: dict[str, str]
) -> None:
    template = client_module.create_template(Format="gif", Fps=10, Width=1280)
    task_id = client_module.process_media(
        {
            "FileId": sources["landscape"],
            "MediaProcessTask": {
                "AnimatedGraphicTaskSet": [
                    {"Definition": template.definition, "StartTimeOffset": 1, "EndTimeOffset": 4}
                ]
            },
        }
    )
    deadline = time.monotonic() + 60
    while client_module.describe_task_detail(task_id).status == "WAITING":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    client_module.modify_animated_graphics_template(
        {"Definition": template.definition, "Format": "webp", "Fps": 2, "Width": 320}
    )
    assert client_module.describe_task_detail(task_id).status == "PROCESSING", "changed too late"
    [sub] = _subtasks(client_module.wait(task_id, timeout_s=300))
    assert sub.output is not None
    fmt, size, frames, _ = _image(sub.output.url)
    assert (fmt, size, sub.output.container) == ("GIF", (1280, 720), "gif")
    assert abs(frames - 30) <= 1
    # A new procedure sees the change.
    [after] = _subtasks(
        client_module.wait(
            client_module.process_media(
                {
                    "FileId": sources["landscape"],
                    "MediaProcessTask": {
                        "AnimatedGraphicTaskSet": [
                            {"Definition": template.definition, "EndTimeOffset": 1}
                        ]
                    },
                }
            ),
            timeout_s=300,
        )
    )
    assert after.output is not None and after.output.container == "webp"


def test_priority_orders_queued_work(corpus_dir: Path, stack_factory: StackFactory) -> None:
    """A priority 10 procedure submitted behind a queue of priority 0 ones starts first,
    on a worker that starts after everything was queued (its own Redis, one process)."""
    stack = stack_factory.start("priority", workers=0)
    with stack.client() as client:
        file_id = client.register_media(corpus_dir / "vtest.avi").file_id
        # Created before any worker exists: workers read templates from Redis.
        template = client.create_template(Fps=2, Width=320)

        def submit(priority: int) -> str:
            return client.process_media(
                {
                    "FileId": file_id,
                    "TasksPriority": priority,
                    "MediaProcessTask": {
                        "AnimatedGraphicTaskSet": [
                            {
                                "Definition": template.definition,
                                "StartTimeOffset": 1,
                                "EndTimeOffset": 1.5,
                            }
                        ]
                    },
                }
            )

        normal = [submit(0) for _ in range(5)]
        urgent = submit(10)
        low = submit(-10)
        stack.start_worker("prio", concurrency=1)
        for task_id in [*normal, urgent, low]:
            [sub] = _subtasks(client.wait(task_id, timeout_s=120))
            assert sub.output is not None and sub.output.width == 320
        raw = redis.Redis.from_url(stack.settings.redis_url, decode_responses=True)
        started = {
            task_id: float(raw.hget(f"animgraph:task:{task_id}", "begin_ts"))  # type: ignore[arg-type]
            for task_id in [*normal, urgent, low]
        }
    order = sorted(started, key=started.__getitem__)
    assert order[0] == urgent, order
    assert order[-1] == low, order


def test_recording_sender_sees_the_priority(settings: Settings, corpus_dir: Path) -> None:
    recorder = RecordingSender()
    with Client(settings, sender=recorder) as client:
        file_id = client.register_media(corpus_dir / "vtest.avi").file_id
        for priority in (-10, 0, 10):
            client.process_media(
                {
                    "FileId": file_id,
                    "TasksPriority": priority,
                    "MediaProcessTask": {"AnimatedGraphicTaskSet": [{"Definition": 20000}]},
                }
            )
    assert [m.priority for m in recorder.sent] == [9, 4, 0]
