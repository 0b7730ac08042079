"""End to end through ``animgraph api``: the official Python SDK in every way it can sign and
send a call (POST and GET; TC3-HMAC-SHA256, HmacSHA256, HmacSHA1), replays of the older
signature refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from stack import Stack, StackFactory
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.http.request import RequestInternal
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.vod.v20180717 import models, vod_client

pytestmark = pytest.mark.e2e

SECRET_ID, SECRET_KEY = "AKIDsigningtest", "signing-secret-key"
MODES = [
    ("POST", "TC3-HMAC-SHA256"),
    ("GET", "TC3-HMAC-SHA256"),
    ("POST", "HmacSHA256"),
    ("GET", "HmacSHA256"),
    ("POST", "HmacSHA1"),
    ("GET", "HmacSHA1"),
]


@pytest.fixture(scope="module")
def stack(module_stack_factory: StackFactory) -> Stack:
    """Redis and ``animgraph api``; no worker: the calls are checked as they are accepted."""
    env = {"ANIMGRAPH_API_KEYS": f"{SECRET_ID}:{SECRET_KEY}"}
    return module_stack_factory.start("signing", workers=0, api=True, env=env)


@pytest.fixture(scope="module")
def file_id(stack: Stack, corpus_dir: Path) -> str:
    with stack.client() as client:
        return client.register_media(corpus_dir / "vtest.avi").file_id


def _sdk(
    endpoint: str,
    method: str = "POST",
    sign_method: str = "TC3-HMAC-SHA256",
    *,
    certification: str | None = None,
) -> Any:
    http = HttpProfile(endpoint=endpoint, reqMethod=method, certification=certification)
    http.scheme = "https" if certification else "http"
    profile = ClientProfile(signMethod=sign_method, httpProfile=http)
    return vod_client.VodClient(credential.Credential(SECRET_ID, SECRET_KEY), "", profile)


def _call(client: Any, action: str, params: dict[str, Any]) -> Any:
    request = getattr(models, f"{action}Request")()
    request.from_json_string(json.dumps(params))
    return getattr(client, action)(request)


@pytest.mark.parametrize(("method", "sign_method"), MODES)
def test_every_signing_mode_of_the_python_sdk(
    stack: Stack, file_id: str, method: str, sign_method: str
) -> None:
    sdk = _sdk(stack.host, method, sign_method)
    templates = _call(sdk, "DescribeAnimatedGraphicsTemplates", {"Definitions": [20000, 20001]})
    assert sorted(t.Definition for t in templates.AnimatedGraphicsTemplateSet) == [20000, 20001]
    task_id = _call(
        sdk,
        "ProcessMedia",
        {
            "FileId": file_id,
            "MediaProcessTask": {
                "AnimatedGraphicTaskSet": [
                    {"Definition": 20000, "StartTimeOffset": 2.5, "EndTimeOffset": 3},
                    {"Definition": 20001, "EndTimeOffset": 1},
                ]
            },
            "TasksPriority": -3,
            "SessionContext": f"{method} {sign_method}",
        },
    ).TaskId
    # Read back the default way: the flattened strings arrived as numbers, the list as a list.
    task = _call(_sdk(stack.host), "DescribeTaskDetail", {"TaskId": task_id}).ProcedureTask
    assert (task.TasksPriority, task.SessionContext) == (-3, f"{method} {sign_method}")
    inputs = [r.AnimatedGraphicTask.Input for r in task.MediaProcessResultSet]
    assert [(i.Definition, i.StartTimeOffset, i.EndTimeOffset) for i in inputs] == [
        (20000, 2.5, 3.0),
        (20001, None, 1.0),
    ]
    # A refusal reads back with the cloud's code whichever way it was signed.
    with pytest.raises(TencentCloudSDKException) as info:
        _call(sdk, "DescribeTaskDetail", {"TaskId": "animgraph-Procedure-0"})
    assert info.value.code == "InvalidParameterValue.TaskId"


def _old_signature_form(stack: Stack, method: str) -> RequestInternal:
    """A call signed with HmacSHA256 exactly as the SDK builds it, to send by hand."""
    sdk = _sdk(stack.host, method, "HmacSHA256")
    req = RequestInternal(stack.host, method, "/", header={})
    sdk._build_req_inter("DescribeAnimatedGraphicsTemplates", {"Definitions": [20000]}, req)
    return req


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_a_replayed_nonce_is_refused(stack: Stack, method: str) -> None:
    req = _old_signature_form(stack, method)

    def send() -> dict[str, Any]:
        if method == "GET":
            answer = httpx.get(f"{stack.endpoint}/?{req.data}")
        else:
            answer = httpx.post(f"{stack.endpoint}/", content=req.data, headers=req.header)
        assert answer.status_code == 200
        return dict(answer.json()["Response"])

    assert send()["TotalCount"] == 1
    replay = send()
    assert replay["Error"]["Code"] == "AuthFailure.SignatureFailure"
    assert "Nonce" in replay["Error"]["Message"]


def test_unsigned_and_unsupported_requests(stack: Stack) -> None:
    bare = httpx.get(f"{stack.endpoint}/?Action=DescribeTasks&Version=2018-07-17").json()
    assert bare["Response"]["Error"]["Code"] == "AuthFailure.InvalidAuthorization"
    form = "Action=DescribeTasks&Version=2018-07-17&Signature=x&SecretId=" + SECRET_ID
    missing = httpx.post(
        f"{stack.endpoint}/",
        content=form,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ).json()
    assert missing["Response"]["Error"]["Code"] == "MissingParameter"
