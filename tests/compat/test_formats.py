"""The official Python SDK asking for the new formats and reading outputs made under a byte
budget (contract §2.6): ``Format`` is a plain string in the SDK, so ``mp4`` passes through it
unchanged; ``MaxSize`` and the output's ``Fps``/``Quality``/``Encodes`` are dropped by it (with
its own warning) and the task still works."""

from __future__ import annotations

import time
from pathlib import Path

import av
import httpx
import pytest
from stack import Stack

from animgraph.producer.http_client import ApiClient

from .python_sdk import SdkCaller
from .scenario import FINISH_WAIT_S, SECRET_ID, SECRET_KEY, Plan

pytestmark = pytest.mark.e2e


def _finished(api: ApiClient, task_id: str) -> None:
    deadline = time.monotonic() + FINISH_WAIT_S
    while api.describe_task_detail(task_id).status != "FINISH":
        assert time.monotonic() < deadline, f"{task_id} is not finished"
        time.sleep(0.3)


def test_the_sdk_makes_an_mp4_and_reads_a_budgeted_output(
    compat_stack: Stack, clip: Path, tmp_path: Path
) -> None:
    plan = Plan("py-formats", compat_stack.host, clip)
    sdk = SdkCaller(plan, "POST", "TC3-HMAC-SHA256")
    with ApiClient(plan.endpoint, SECRET_ID, SECRET_KEY) as api:
        # the SDK creates an mp4 template: Format is a string it sends as given
        mp4 = sdk.call(
            "CreateAnimatedGraphicsTemplate", {"Format": "mp4", "Width": 320, "Fps": 10}
        )["Definition"]
        [seen] = sdk.call("DescribeAnimatedGraphicsTemplates", {"Definitions": [mp4]})[
            "AnimatedGraphicsTemplateSet"
        ]
        assert seen["Format"] == "mp4"
        # a budgeted GIF template made with animgraph's client; the SDK drops MaxSize
        budgeted = api.call(
            "CreateAnimatedGraphicsTemplate",
            {"Format": "gif", "Width": 320, "Fps": 10, "MaxSize": "40KB"},
        )["Definition"]
        with pytest.warns(UserWarning, match="MaxSize"):
            sdk.call("DescribeAnimatedGraphicsTemplates", {"Definitions": [budgeted]})

        file_id = api.upload(clip)
        items = [
            {"Definition": d, "StartTimeOffset": 1, "EndTimeOffset": 3} for d in (mp4, budgeted)
        ]
        task_id = sdk.call(
            "ProcessMedia",
            {"FileId": file_id, "MediaProcessTask": {"AnimatedGraphicTaskSet": items}},
        )["TaskId"]
        _finished(api, task_id)
        with pytest.warns(UserWarning, match="Encodes"):
            detail = sdk.call("DescribeTaskDetail", {"TaskId": task_id})
        video, gif = (
            r["AnimatedGraphicTask"] for r in detail["ProcedureTask"]["MediaProcessResultSet"]
        )
        assert video["Status"] == "SUCCESS", video["Message"]
        assert gif["Status"] == "SUCCESS", gif["Message"]

        # the mp4 as the SDK reports it, and as it plays
        output = video["Output"]
        assert output["Container"] == "mp4" and output["Url"].endswith(".mp4")
        assert (output["Width"], output["Height"]) == (320, 240)
        path = tmp_path / "out.mp4"
        path.write_bytes(httpx.get(output["Url"]).content)
        assert path.stat().st_size == output["Size"]
        with av.open(str(path)) as container:
            [stream] = container.streams
            assert stream.codec_context.name == "h264"
            assert sum(1 for _ in container.decode(stream)) == 20  # 2 s at 10 fps

        # the budget held; animgraph's own client sees what it used
        assert gif["Output"]["Size"] <= 40_000
        assert "Encodes" not in gif["Output"]  # dropped by the SDK
        ours = api.describe_task_detail(task_id).procedure_task.media_process_result_set
        used = ours[1].animated_graphic_task.output
        assert used is not None and used.encodes is not None and used.encodes >= 1
        assert used.fps is not None and 5 <= used.fps <= 10
