"""End to end through the HTTP API: the official tencentcloud-sdk-python-vod client, a real
``animgraph api`` process, a real Redis and a real worker."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from stack import Stack, StackFactory, wait_http
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.vod.v20180717 import models, vod_client

from animgraph.producer.http_client import ApiClient
from animgraph.shared.redis_server import free_port
from animgraph.shared.signing import client_upload_signature, tc3_authorization

pytestmark = pytest.mark.e2e

SECRET_ID, SECRET_KEY = "AKIDanimgraphtest", "test-secret-key"
UPLOAD_LIMIT = 3_000_000  # bytes: city.mpg (4.5 MB) is over it, the other clips are not


_wait_http = wait_http


@pytest.fixture(scope="module")
def stack(module_stack_factory: StackFactory) -> Stack:
    """Redis, a worker and ``animgraph api`` sharing one data folder, outputs served over HTTP."""
    env = {
        "ANIMGRAPH_API_KEYS": f"{SECRET_ID}:{SECRET_KEY}",
        "ANIMGRAPH_MAX_UPLOAD_BYTES": str(UPLOAD_LIMIT),
    }
    return module_stack_factory.start("api", api=True, env=env)


def _sdk(stack: Stack, secret_key: str = SECRET_KEY, secret_id: str = SECRET_ID) -> Any:
    profile = HttpProfile(endpoint=stack.host)
    profile.scheme = "http"
    return vod_client.VodClient(
        credential.Credential(secret_id, secret_key), "", ClientProfile(httpProfile=profile)
    )


def _call(client: Any, action: str, params: dict[str, Any]) -> Any:
    request = getattr(models, f"{action}Request")()
    request.from_json_string(json.dumps(params))
    return getattr(client, action)(request)


def _sdk_error(client: Any, action: str, params: dict[str, Any]) -> TencentCloudSDKException:
    with pytest.raises(TencentCloudSDKException) as info:
        _call(client, action, params)
    return info.value


def _wait_finish(client: Any, task_id: str, timeout_s: float = 180) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        detail = _call(client, "DescribeTaskDetail", {"TaskId": task_id})
        if detail.Status == "FINISH":
            return detail
        assert time.monotonic() < deadline, f"{task_id} is {detail.Status}"
        time.sleep(0.3)


def _upload(client: Any, path: Path, **apply: Any) -> str:
    applied = _call(client, "ApplyUpload", {"MediaType": path.suffix[1:], **apply})
    with open(path, "rb") as fh:
        put = httpx.put(
            f"{_base(client)}{applied.MediaStoragePath}",
            content=iter(lambda: fh.read(65536), b""),
            headers={"Authorization": f"Bearer {applied.TempCertificate.Token}"},
        )
    assert put.status_code == 200, put.text
    committed = _call(client, "CommitUpload", {"VodSessionKey": applied.VodSessionKey})
    assert committed.MediaUrl.startswith(_base(client))
    return str(committed.FileId)


def _base(client: Any) -> str:
    return f"http://{client.profile.httpProfile.endpoint}"


def test_template_crud_with_the_sdk(stack: Stack) -> None:
    sdk = _sdk(stack)
    created = _call(
        sdk,
        "CreateAnimatedGraphicsTemplate",
        {"Format": "webp", "Width": 480, "Fps": 12, "Quality": 80},
    )
    definition = created.Definition
    assert definition >= 100001 and created.RequestId
    _call(
        sdk, "ModifyAnimatedGraphicsTemplate", {"Definition": definition, "Fps": 15, "Name": "sdk"}
    )
    listed = _call(sdk, "DescribeAnimatedGraphicsTemplates", {"Definitions": [definition, 20000]})
    assert listed.TotalCount == 2
    mine = next(t for t in listed.AnimatedGraphicsTemplateSet if t.Definition == definition)
    assert (mine.Fps, mine.Name, mine.Format, mine.Width, mine.Type) == (
        15,
        "sdk",
        "webp",
        480,
        "Custom",
    )
    presets = _call(sdk, "DescribeAnimatedGraphicsTemplates", {"Type": "Preset"})
    assert [t.Definition for t in presets.AnimatedGraphicsTemplateSet] == [20000, 20001]
    assert (
        _sdk_error(sdk, "CreateAnimatedGraphicsTemplate", {"Fps": 61}).code
        == "InvalidParameterValue.Fps"
    )
    assert _sdk_error(sdk, "CreateAnimatedGraphicsTemplate", {"Fps": 5, "Format": "webp"}).code == (
        "InvalidParameterValue.FormatWebpWidthAndHeightBothZero"
    )
    error = _sdk_error(sdk, "ModifyAnimatedGraphicsTemplate", {"Definition": 20000, "Fps": 3})
    assert error.code == "InvalidParameterValue.Definition" and error.requestId
    _call(sdk, "DeleteAnimatedGraphicsTemplate", {"Definition": definition})
    gone = _sdk_error(sdk, "DeleteAnimatedGraphicsTemplate", {"Definition": definition})
    assert gone.code == "ResourceNotFound.TemplateNotExist"


def test_task_flow_crud_with_the_sdk(stack: Stack) -> None:
    sdk = _sdk(stack)
    tasks = {
        "AnimatedGraphicTaskSet": [{"Definition": 20000, "StartTimeOffset": 1, "EndTimeOffset": 2}]
    }
    _call(sdk, "CreateProcedureTemplate", {"Name": "sdk-flow", "MediaProcessTask": tasks})
    assert _sdk_error(sdk, "CreateProcedureTemplate", {"Name": "sdk-flow"}).code == (
        "InvalidParameter.ExistedProcedureName"
    )
    _call(
        sdk,
        "ResetProcedureTemplate",
        {"Name": "sdk-flow", "Comment": "reset", "MediaProcessTask": tasks},
    )
    listed = _call(sdk, "DescribeProcedureTemplates", {"Names": ["sdk-flow"]})
    assert listed.TotalCount == 1
    flow = listed.ProcedureTemplateSet[0]
    assert (
        flow.Comment == "reset"
        and flow.MediaProcessTask.AnimatedGraphicTaskSet[0].Definition == 20000
    )
    _call(sdk, "DeleteProcedureTemplate", {"Name": "sdk-flow"})
    assert _sdk_error(sdk, "DeleteProcedureTemplate", {"Name": "sdk-flow"}).code == (
        "InvalidParameterValue.ProcedureName"
    )


def test_upload_process_and_download(stack: Stack, corpus_dir: Path) -> None:
    sdk = _sdk(stack)
    file_id = _upload(sdk, corpus_dir / "cockatoo.mp4", MediaName="cockatoo")
    task_id = _call(
        sdk,
        "ProcessMedia",
        {
            "FileId": file_id,
            "MediaProcessTask": {
                "AnimatedGraphicTaskSet": [
                    {"Definition": 20000, "StartTimeOffset": 2, "EndTimeOffset": 4},
                    {"Definition": 20001, "StartTimeOffset": 2, "EndTimeOffset": 4},
                ]
            },
            "SessionContext": "sdk",
        },
    ).TaskId
    detail = _wait_finish(sdk, task_id)
    assert detail.TaskType == "Procedure" and detail.ProcedureTask.SessionContext == "sdk"
    for result, content_type in zip(
        detail.ProcedureTask.MediaProcessResultSet, ("image/gif", "image/webp"), strict=True
    ):
        task = result.AnimatedGraphicTask
        assert task.Status == "SUCCESS", task.Message
        output = task.Output
        assert output.Url.startswith(stack.endpoint + "/files/")
        whole = httpx.get(output.Url)
        assert whole.status_code == 200 and whole.headers["content-type"] == content_type
        assert len(whole.content) == output.Size
        assert hashlib.md5(whole.content).hexdigest() == output.Md5
        part = httpx.get(output.Url, headers={"Range": "bytes=10-109"})
        assert part.status_code == 206 and part.content == whole.content[10:110]
    infos = _call(sdk, "DescribeMediaInfos", {"FileIds": [file_id, "missing"]})
    assert infos.NotExistFileIdSet == ["missing"]
    [info] = infos.MediaInfoSet
    assert info.BasicInfo.Name == "cockatoo" and info.MetaData.Width == 1280
    assert len(info.AnimatedGraphicsInfo.AnimatedGraphicsSet) == 2
    source = httpx.get(info.BasicInfo.MediaUrl)
    assert source.content == (corpus_dir / "cockatoo.mp4").read_bytes()
    listed = _call(sdk, "DescribeTasks", {"FileId": file_id})
    assert [t.TaskId for t in listed.TaskSet] == [task_id] and listed.TaskSet[0].Status == "FINISH"
    _call(sdk, "DeleteMedia", {"FileId": file_id})
    assert httpx.get(output.Url).status_code == 404
    assert httpx.get(info.BasicInfo.MediaUrl).status_code == 404
    gone = _call(sdk, "DescribeMediaInfos", {"FileIds": [file_id]})
    assert gone.NotExistFileIdSet == [file_id]


def test_upload_with_a_procedure_starts_it(stack: Stack, corpus_dir: Path) -> None:
    sdk = _sdk(stack)
    tasks = {
        "AnimatedGraphicTaskSet": [{"Definition": 20001, "StartTimeOffset": 1, "EndTimeOffset": 2}]
    }
    _call(sdk, "CreateProcedureTemplate", {"Name": "on-upload", "MediaProcessTask": tasks})
    file_id = _upload(sdk, corpus_dir / "vtest.avi", Procedure="on-upload", SessionContext="up")
    [task] = _call(sdk, "DescribeTasks", {"FileId": file_id}).TaskSet
    detail = _wait_finish(sdk, task.TaskId)
    [result] = detail.ProcedureTask.MediaProcessResultSet
    assert result.AnimatedGraphicTask.Status == "SUCCESS"
    assert detail.ProcedureTask.SessionContext == "up"
    again = _call(
        sdk,
        "ProcessMediaByProcedure",
        {
            "FileId": file_id,
            "ProcedureName": "on-upload",
            "TasksPriority": 3,
            "SessionId": "by-procedure",
        },
    )
    rerun = _wait_finish(sdk, again.TaskId)
    assert (
        rerun.ProcedureTask.TasksPriority == 3 and rerun.ProcedureTask.SessionId == "by-procedure"
    )
    assert rerun.ProcedureTask.MediaProcessResultSet[0].AnimatedGraphicTask.Status == "SUCCESS"
    repeated = _sdk_error(
        sdk,
        "ProcessMediaByProcedure",
        {"FileId": file_id, "ProcedureName": "on-upload", "SessionId": "by-procedure"},
    )
    assert repeated.code == "InvalidParameterValue.SessionId"
    assert _sdk_error(sdk, "ApplyUpload", {"MediaType": "mp4", "Procedure": "nope"}).code == (
        "InvalidParameterValue.Procedure"
    )


def test_upload_refusals(stack: Stack, corpus_dir: Path) -> None:
    sdk = _sdk(stack)
    applied = _call(sdk, "ApplyUpload", {"MediaType": "mpg"})
    url = f"{stack.endpoint}{applied.MediaStoragePath}"
    wrong = httpx.put(url, content=b"x", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    big = httpx.put(
        url,
        content=(corpus_dir / "city.mpg").read_bytes(),
        headers={"Authorization": f"Bearer {applied.TempCertificate.Token}"},
    )
    assert (
        big.status_code == 413
        and big.json()["Response"]["Error"]["Code"] == "LimitExceeded.UploadSize"
    )
    early = _sdk_error(sdk, "CommitUpload", {"VodSessionKey": applied.VodSessionKey})
    assert early.code == "InvalidParameterValue.VodSessionKey"
    assert _sdk_error(sdk, "CommitUpload", {"VodSessionKey": "unknown"}).code == (
        "InvalidParameterValue.VodSessionKey"
    )


def _client_upload(stack: Stack, path: Path, signature: str) -> httpx.Response:
    with open(path, "rb") as fh:
        return httpx.post(
            f"{stack.endpoint}/client-upload",
            data={"signature": signature},
            files={"file": (path.name, fh, "video/x-msvideo")},
            timeout=60,
        )


def test_client_signature_uploads(stack: Stack, corpus_dir: Path) -> None:
    sdk = _sdk(stack)
    tasks = {
        "AnimatedGraphicTaskSet": [{"Definition": 20000, "StartTimeOffset": 1, "EndTimeOffset": 2}]
    }
    _call(sdk, "CreateProcedureTemplate", {"Name": "signed", "MediaProcessTask": tasks})
    now = int(time.time())
    clip = corpus_dir / "vtest.avi"

    def sign(secret: str = SECRET_KEY, **params: Any) -> str:
        base = {"currentTimeStamp": now, "expireTime": now + 600, "random": 7}
        return client_upload_signature(SECRET_ID, secret, **{**base, **params})

    once = sign(procedure="signed", oneTimeValid=1, sessionContext="browser")
    answer = _client_upload(stack, clip, once)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (
        body["FileId"] and body["MediaUrl"].startswith(stack.endpoint) and body["ProcedureTaskId"]
    )
    detail = _wait_finish(sdk, body["ProcedureTaskId"])
    assert detail.ProcedureTask.SessionContext == "browser"
    assert detail.ProcedureTask.MediaProcessResultSet[0].AnimatedGraphicTask.Status == "SUCCESS"
    assert httpx.get(body["MediaUrl"]).content == clip.read_bytes()

    cases = [
        (once, "AuthFailure.SignatureReused"),
        (sign(currentTimeStamp=now - 1000, expireTime=now - 10), "AuthFailure.SignatureExpire"),
        (sign(secret="tampered"), "AuthFailure.SignatureFailure"),
        (sign(expireTime=now + 91 * 24 * 3600), "AuthFailure.SignatureFailure"),
    ]
    for signature, code in cases:
        refused = _client_upload(stack, clip, signature)
        assert refused.status_code == 403, refused.text
        assert refused.json()["Response"]["Error"]["Code"] == code
    reusable = sign()
    assert _client_upload(stack, clip, reusable).status_code == 200
    assert _client_upload(stack, clip, reusable).json()["ProcedureTaskId"] == ""
    # The file part before the signature is refused before a byte is stored.
    with open(clip, "rb") as fh:
        out_of_order = httpx.post(
            f"{stack.endpoint}/client-upload",
            files=[("file", (clip.name, fh)), ("signature", (None, reusable))],
        )
    assert out_of_order.status_code == 403


def test_authentication_failures(stack: Stack) -> None:
    assert _sdk_error(_sdk(stack, secret_key="wrong"), "DescribeTasks", {}).code == (
        "AuthFailure.SignatureFailure"
    )
    assert _sdk_error(_sdk(stack, secret_id="AKIDunknown"), "DescribeTasks", {}).code == (
        "AuthFailure.SecretIdNotFound"
    )
    stale = int(time.time()) - 3600
    body = b"{}"
    headers = {
        "Content-Type": "application/json",
        "X-TC-Action": "DescribeTasks",
        "X-TC-Version": "2018-07-17",
        "X-TC-Timestamp": str(stale),
        "Authorization": tc3_authorization(
            SECRET_ID, SECRET_KEY, host=stack.host, body=body, timestamp=stale
        ),
    }
    answer = httpx.post(f"{stack.endpoint}/", content=body, headers=headers).json()
    assert answer["Response"]["Error"]["Code"] == "AuthFailure.SignatureExpire"
    anonymous = httpx.post(f"{stack.endpoint}/", json={}, headers={"X-TC-Action": "DescribeTasks"})
    assert anonymous.json()["Response"]["Error"]["Code"] == "AuthFailure.InvalidAuthorization"


def _signed_post(
    stack: Stack, action: str, body: bytes, version: str = "2018-07-17"
) -> dict[str, Any]:
    now = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "X-TC-Action": action,
        "X-TC-Version": version,
        "X-TC-Timestamp": str(now),
        "Authorization": tc3_authorization(
            SECRET_ID, SECRET_KEY, host=stack.host, body=body, timestamp=now
        ),
    }
    answer = httpx.post(f"{stack.endpoint}/", content=body, headers=headers)
    assert answer.status_code == 200
    return dict(answer.json()["Response"])


def test_malformed_requests(stack: Stack) -> None:
    assert _signed_post(stack, "Explode", b"{}")["Error"]["Code"] == "InvalidAction"
    assert _signed_post(stack, "DescribeTasks", b"{not json")["Error"]["Code"] == "InvalidParameter"
    assert _signed_post(stack, "DescribeTasks", b"[1, 2]")["Error"]["Code"] == "InvalidParameter"
    assert (
        _signed_post(stack, "DescribeTasks", b"{}", version="2017-01-01")["Error"]["Code"]
        == "NoSuchVersion"
    )
    wrong_type = _signed_post(stack, "CreateAnimatedGraphicsTemplate", b'{"Fps": "fast"}')
    assert wrong_type["Error"]["Code"] == "InvalidParameterValue.Fps"
    unknown = _signed_post(stack, "CreateAnimatedGraphicsTemplate", b'{"Fps": 5, "Colour": 1}')
    assert unknown["Error"]["Code"] == "UnknownParameter"
    missing = _signed_post(stack, "ProcessMedia", b'{"FileId": "nope", "MediaProcessTask": {}}')
    assert missing["Error"]["Code"] == "InvalidParameterValue.FileId" and missing["RequestId"]
    no_task = _signed_post(stack, "DescribeTaskDetail", b'{"TaskId": "animgraph-Procedure-0"}')
    assert no_task["Error"]["Code"] == "InvalidParameterValue.TaskId"


def test_session_fields_too_long_through_the_sdk(stack: Stack) -> None:
    """As a user of the official SDK sees them (contract §10): the cloud's ``...TooLong`` codes,
    not ``InvalidParameterValue.SessionContext`` / ``.SessionId`` (that one means a repeat)."""
    sdk = _sdk(stack)
    request = {
        "FileId": "nope",
        "MediaProcessTask": {"AnimatedGraphicTaskSet": [{"Definition": 20000}]},
    }
    context = _sdk_error(sdk, "ProcessMedia", {**request, "SessionContext": "x" * 1001})
    assert context.code == "InvalidParameterValue.SessionContextTooLong", context
    assert "SessionContext" in context.message and context.requestId
    session = _sdk_error(sdk, "ProcessMedia", {**request, "SessionId": "s" * 51})
    assert session.code == "InvalidParameterValue.SessionIdTooLong", session
    assert "SessionId" in session.message and session.requestId
    flow = {"FileId": "nope", "ProcedureName": "nope"}
    for field, value, code in [
        ("SessionContext", "x" * 1001, "InvalidParameterValue.SessionContextTooLong"),
        ("SessionId", "s" * 51, "InvalidParameterValue.SessionIdTooLong"),
    ]:
        assert _sdk_error(sdk, "ProcessMediaByProcedure", {**flow, field: value}).code == code


def test_openapi_document(stack: Stack) -> None:
    document = httpx.get(f"{stack.endpoint}/openapi.json").json()
    post = document["paths"]["/"]["post"]
    actions = post["parameters"][0]["schema"]["enum"]
    assert {"ProcessMedia", "ApplyUpload", "DescribeTaskDetail", "DeleteMedia"} <= set(actions)
    assert len(post["requestBody"]["content"]["application/json"]["schema"]["oneOf"]) == len(
        actions
    )
    assert "/client-upload" in document["paths"] and "/files/{key}" in document["paths"]


def test_python_client_over_http(stack: Stack, corpus_dir: Path, tmp_path: Path) -> None:
    with ApiClient(stack.endpoint, SECRET_ID, SECRET_KEY) as api:
        file_id = api.upload(corpus_dir / "vtest.avi")
        task_id = api.call(
            "ProcessMedia",
            {
                "FileId": file_id,
                "MediaProcessTask": {
                    "AnimatedGraphicTaskSet": [{"Definition": 20001, "StartTimeOffset": -2}]
                },
            },
        )["TaskId"]
        [result] = api.wait(task_id, timeout_s=120).media_process_result_set
        output = result.animated_graphic_task.output
        assert output is not None
        data = api.download(output.url, tmp_path / "out.webp").read_bytes()
        assert hashlib.md5(data).hexdigest() == output.md5


def test_up_starts_and_stops_the_whole_stack(tmp_path: Path, corpus_dir: Path) -> None:
    port, flower_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANIMGRAPH_")}
    env.update(ANIMGRAPH_DATA_DIR=str(tmp_path), ANIMGRAPH_API_KEYS=f"{SECRET_ID}:{SECRET_KEY}")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "animgraph.producer",
            "up",
            "--port",
            str(port),
            "--flower-port",
            str(flower_port),
        ],
        env=env,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        _wait_http(f"http://127.0.0.1:{port}/openapi.json", proc, timeout_s=90)
        with ApiClient(f"http://127.0.0.1:{port}", SECRET_ID, SECRET_KEY) as api:
            file_id = api.upload(corpus_dir / "vtest.avi")
            task_id = api.call(
                "ProcessMedia",
                {
                    "FileId": file_id,
                    "MediaProcessTask": {
                        "AnimatedGraphicTaskSet": [{"Definition": 20000, "EndTimeOffset": 1}]
                    },
                },
            )["TaskId"]
            [result] = api.wait(task_id, timeout_s=120).media_process_result_set
            assert result.animated_graphic_task.status == "SUCCESS"
        _wait_http(f"http://127.0.0.1:{flower_port}/healthcheck", proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode is not None
    text = stderr.decode()
    assert proc.returncode == 0, text
    assert f"http://127.0.0.1:{port}" in text and "Flower" in text
    for stopped in (port, flower_port):
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{stopped}/", timeout=2)


def test_events_through_the_sdk(stack: Stack, corpus_dir: Path) -> None:
    sdk = _sdk(stack)
    _call(sdk, "ModifyEventConfig", {"Mode": "PULL"})
    config = _call(sdk, "DescribeEventConfig", {})
    assert config.Mode == "PULL"
    bad = _sdk_error(
        sdk, "ModifyEventConfig", {"Mode": "PUSH", "NotificationUrl": "http://10.0.0.1/x"}
    )
    assert bad.code == "InvalidParameterValue.NotificationUrl"
    while pending := _call(sdk, "PullEvents", {}).EventSet:  # drain what earlier tests left
        _call(sdk, "ConfirmEvents", {"EventHandles": [e.EventHandle for e in pending]})
    file_id = _upload(sdk, corpus_dir / "vtest.avi", MediaName="evented")
    task_id = _call(
        sdk,
        "ProcessMedia",
        {
            "FileId": file_id,
            "MediaProcessTask": {
                "AnimatedGraphicTaskSet": [{"Definition": 20000, "EndTimeOffset": 0.5}]
            },
        },
    ).TaskId
    _wait_finish(sdk, task_id)
    seen: dict[str, Any] = {}
    deadline = time.monotonic() + 30
    while len(seen) < 2 and time.monotonic() < deadline:
        for event in _call(sdk, "PullEvents", {}).EventSet or []:
            seen[event.EventType] = event
            _call(sdk, "ConfirmEvents", {"EventHandles": [event.EventHandle]})
    upload = seen["NewFileUpload"].FileUploadEvent
    assert upload.FileId == file_id and upload.MediaBasicInfo.Name == "evented"
    changed = seen["ProcedureStateChanged"].ProcedureStateChangeEvent
    assert changed.TaskId == task_id and changed.Status == "FINISH"
    malformed = _sdk_error(sdk, "ConfirmEvents", {"EventHandles": ["not-a-handle"]})
    assert malformed.code == "InvalidParameterValue.EventHandles"


def test_an_upload_beyond_the_limit_is_refused_before_its_bytes(stack: Stack) -> None:
    """A client announcing 2 GB is answered 413 at once, without sending them."""
    import socket

    sdk = _sdk(stack)
    applied = _call(sdk, "ApplyUpload", {"MediaType": "mp4"})
    host, port = stack.host.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(
            (
                f"PUT {applied.MediaStoragePath} HTTP/1.1\r\nHost: {stack.host}\r\n"
                f"Authorization: Bearer {applied.TempCertificate.Token}\r\n"
                "Content-Length: 2147483648\r\nContent-Type: video/mp4\r\n\r\n"
            ).encode()
            + b"x" * 1024
        )
        answer = ""
        while "LimitExceeded" not in answer and (chunk := conn.recv(65536)):
            answer += chunk.decode()
    assert answer.startswith("HTTP/1.1 413") and "LimitExceeded.UploadSize" in answer


def test_secrets_never_reach_logs_or_events(stack: Stack) -> None:
    """Runs last in this module: nothing written by the API or the worker holds a secret."""
    sdk = _sdk(stack)
    applied = _call(sdk, "ApplyUpload", {"MediaType": "mp4"})
    secrets = [SECRET_KEY, applied.TempCertificate.Token]
    _sdk_error(_sdk(stack, secret_key="a-wrong-secret"), "DescribeTasks", {})
    texts = [path.read_text(errors="replace") for path in stack.logs if path.exists()]
    assert any(texts)  # the worker log at least (the API logs only warnings)
    assert stack.settings.redis_url
    with redis.Redis.from_url(stack.settings.redis_url, decode_responses=True) as raw:
        stream = raw.xrange("animgraph:events")
        texts += [json.dumps(entry) for entry in stream]
    for text in texts:
        for secret in [*secrets, "a-wrong-secret"]:
            assert secret not in text


def test_upload_session_keys_pass_as_command_line_arguments(stack: Stack) -> None:
    """tccli takes a VodSessionKey starting with "-" for an option (it once failed CI one run in
    64): every key is hex."""
    with ApiClient(stack.endpoint, SECRET_ID, SECRET_KEY) as api:
        keys = [api.call("ApplyUpload", {"MediaType": "mp4"})["VodSessionKey"] for _ in range(200)]
    assert all(re.fullmatch(r"[0-9a-f]{48}", key) for key in keys)
    assert len(set(keys)) == len(keys)
