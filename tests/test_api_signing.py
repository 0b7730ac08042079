"""End to end through ``animgraph api``: the official Python SDK in every way it can sign and
send a call (POST and GET; TC3-HMAC-SHA256, HmacSHA256, HmacSHA1), replays of the older
signature refused, and the API served over TLS by ``animgraph api`` itself."""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from stack import Stack, StackFactory, stop_process
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.http.request import RequestInternal
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.vod.v20180717 import models, vod_client

from animgraph.shared.redis_server import free_port

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


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: no certificate for the TLS test")
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def _api_process(
    stack: Stack, port: int, tls: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANIMGRAPH_")}
    env.update({k: v for k, v in stack.env.items() if k != "ANIMGRAPH_PUBLIC_URL"})
    env.update(tls)
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "animgraph.producer", "api", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def test_tls_served_by_animgraph_api(stack: Stack, tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    port = free_port()
    tls = {"ANIMGRAPH_API_TLS_CERT_FILE": str(cert), "ANIMGRAPH_API_TLS_KEY_FILE": str(key)}
    log = tmp_path / "api.log"
    proc = _api_process(stack, port, tls, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                context = ssl.create_default_context(cafile=str(cert))
                httpx.get(f"https://127.0.0.1:{port}/openapi.json", verify=context, timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "the TLS API did not answer"
                time.sleep(0.2)
        sdk = _sdk(f"127.0.0.1:{port}", certification=str(cert))
        templates = _call(sdk, "DescribeAnimatedGraphicsTemplates", {"Definitions": [20000]})
        assert templates.TotalCount == 1
        with pytest.raises(httpx.TransportError):  # plain HTTP is not served beside it
            httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=2)
    finally:
        # uvicorn waits for the SDK's idle keep-alive TLS connection to close (asyncio's 30 s
        # SSL shutdown timeout): nothing of the test depends on a graceful stop.
        stop_process(proc, grace_s=5)
    assert f"https://127.0.0.1:{port}" in log.read_text()


def test_tls_needs_both_files(stack: Stack, tmp_path: Path) -> None:
    tls = {"ANIMGRAPH_API_TLS_CERT_FILE": str(tmp_path / "cert.pem")}
    proc = _api_process(stack, free_port(), tls, tmp_path / "api.log")
    assert proc.wait(60) == 2
    text = (tmp_path / "api.log").read_text()
    assert "ANIMGRAPH_API_TLS_CERT_FILE" in text and "ANIMGRAPH_API_TLS_KEY_FILE" in text
