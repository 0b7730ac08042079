"""The official Python SDK against templates and outputs that carry animgraph's loop extensions
(contract §2.5, §6.2): it drops the fields it does not know (with its own warning) and works
unchanged; a Modify through it keeps them; the output plays as the extensions say."""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from stack import Stack

from animgraph.producer.http_client import ApiClient

from .python_sdk import SdkCaller
from .scenario import FINISH_WAIT_S, SECRET_ID, SECRET_KEY, Plan

pytestmark = pytest.mark.e2e

LOOP = {"LoopMode": "PingPong", "LoopCount": 3, "SeamWindow": 0.5, "HighlightDuration": 0}
SET = ("LoopMode", "LoopCount", "SeamWindow")  # the fields of LOOP away from their defaults


def _template(api: ApiClient, definition: int) -> dict[str, Any]:
    found = api.call("DescribeAnimatedGraphicsTemplates", {"Definitions": [definition]})
    [template] = found["AnimatedGraphicsTemplateSet"]
    return dict(template)


def test_the_sdk_works_unchanged_on_loop_extensions(
    compat_stack: Stack, clip: Path, tmp_path: Path
) -> None:
    plan = Plan("py-loop", compat_stack.host, clip)
    sdk = SdkCaller(plan, "POST", "TC3-HMAC-SHA256")
    with ApiClient(plan.endpoint, SECRET_ID, SECRET_KEY) as api:
        fields = {"Name": "compat loop", "Format": "gif", "Width": 128, "Fps": 5}
        definition = api.call("CreateAnimatedGraphicsTemplate", {**fields, **LOOP})["Definition"]

        # Describe: the SDK reads the template and drops the four fields it has no model for
        with pytest.warns(UserWarning, match="LoopMode") as caught:
            listed = sdk.call("DescribeAnimatedGraphicsTemplates", {"Definitions": [definition]})
        dropped = " ".join(str(w.message) for w in caught)
        assert all(name in dropped for name in SET)  # HighlightDuration 0 is not sent
        [seen] = listed["AnimatedGraphicsTemplateSet"]
        assert (seen["Definition"], seen["Fps"], seen["Width"]) == (definition, 5, 128)
        assert not set(LOOP) & set(seen)

        # Modify through the SDK changes what it sends and keeps the extensions
        sdk.call("ModifyAnimatedGraphicsTemplate", {"Definition": definition, "Fps": 10})
        kept = _template(api, definition)
        assert kept["Fps"] == 10 and {k: kept.get(k, 0) for k in LOOP} == LOOP

        # A template the SDK creates has the defaults (today's output), and its JSON is the
        # cloud API's: the extensions at their defaults are left out, the SDK warns of nothing
        plain = sdk.call("CreateAnimatedGraphicsTemplate", {"Format": "gif", "Fps": 5})
        assert not set(LOOP) & set(_template(api, plain["Definition"]))
        ours = api.call("DescribeAnimatedGraphicsTemplates", {"Definitions": [plain["Definition"]]})
        assert ours["TotalCount"] == 1
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a "fileds are useless" warning fails here
            again = sdk.call(
                "DescribeAnimatedGraphicsTemplates", {"Definitions": [plain["Definition"]]}
            )
        assert again["AnimatedGraphicsTemplateSet"][0]["Fps"] == 5

        # ProcessMedia and DescribeTaskDetail through the SDK, on the extended template
        file_id = api.upload(clip)
        tasks = {
            "AnimatedGraphicTaskSet": [
                {"Definition": definition, "StartTimeOffset": 1, "EndTimeOffset": 2}
            ]
        }
        task_id = sdk.call("ProcessMedia", {"FileId": file_id, "MediaProcessTask": tasks})["TaskId"]
        deadline = time.monotonic() + FINISH_WAIT_S
        while api.describe_task_detail(task_id).status != "FINISH":
            assert time.monotonic() < deadline, f"{task_id} is not finished"
            time.sleep(0.3)
        with pytest.warns(UserWarning, match="LoopMode") as caught:
            detail = sdk.call("DescribeTaskDetail", {"TaskId": task_id})
        # SeamScore is not measured for PingPong: null, left out like any default extension
        assert "SeamScore" not in " ".join(str(w.message) for w in caught)
        [result] = detail["ProcedureTask"]["MediaProcessResultSet"]
        sub = result["AnimatedGraphicTask"]
        assert sub["Status"] == "SUCCESS", sub["Message"]
        output = sub["Output"]
        assert "LoopMode" not in output and "SeamScore" not in output  # dropped by the SDK
        assert (output["StartTimeOffset"], output["EndTimeOffset"]) == (1, 2)

        # what animgraph's own client sees, and what the file plays
        ours = api.describe_task_detail(task_id).procedure_task.media_process_result_set
        assert ours[0].animated_graphic_task.output is not None
        assert ours[0].animated_graphic_task.output.loop_mode == "PingPong"
        gif = tmp_path / "out.gif"
        gif.write_bytes(httpx.get(output["Url"]).content)
        with Image.open(gif) as image:
            assert image.n_frames == 2 * 10 - 2  # 1 s at 10 fps, forwards then back
            assert image.info["loop"] == 2  # 3 plays: the NETSCAPE repeat count
