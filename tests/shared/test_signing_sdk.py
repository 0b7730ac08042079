"""The server's signature checks against requests built by the Tencent Cloud Python SDK itself
(its ``_build_req_inter``), and against the Node.js SDK's way of signing TC3."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import pytest
from tencentcloud.common import credential
from tencentcloud.common.http.request import RequestInternal
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.common.sign import Sign
from tencentcloud.vod.v20180717 import vod_client

from animgraph.shared.errors import ApiError
from animgraph.shared.signing import host_variants, tc3_authorization, verify_tc3

KEYS = {"AKIDtest": "s3cret"}
HOST = "127.0.0.1:8000"
TASK_SET = {
    "FileId": "f1",
    "MediaProcessTask": {
        "AnimatedGraphicTaskSet": [
            {"Definition": 20000, "StartTimeOffset": 2.5, "EndTimeOffset": 4},
            {"Definition": 20001},
        ]
    },
    "TasksPriority": -3,
}


def sdk_request(
    params: dict[str, Any],
    *,
    method: str = "POST",
    sign_method: str = "TC3-HMAC-SHA256",
    action: str = "ProcessMedia",
) -> RequestInternal:
    """The request the Python SDK sends for ``action`` (headers, and the body or query)."""
    http = HttpProfile(endpoint=HOST, reqMethod=method)
    profile = ClientProfile(signMethod=sign_method, httpProfile=http)
    client = vod_client.VodClient(credential.Credential("AKIDtest", "s3cret"), "", profile)
    req = RequestInternal(client._get_endpoint(), method, client._requestPath, header={})
    client._build_req_inter(action, params, req)
    return req


def _verify_sdk_tc3(req: RequestInternal) -> str:
    get = req.method == "GET"
    return verify_tc3(
        KEYS,
        method=req.method,
        path="/",
        query=req.data if get else "",
        headers=req.header,
        body=b"" if get else req.data.encode(),
    )


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_tc3_as_the_python_sdk_signs_it(method: str) -> None:
    req = sdk_request(TASK_SET, method=method)
    assert req.header["Host"] == HOST
    assert _verify_sdk_tc3(req) == "AKIDtest"


def test_tc3_get_refuses_a_changed_query() -> None:
    req = sdk_request(TASK_SET, method="GET")
    req.data = req.data.replace("Definition=20000", "Definition=20002")
    with pytest.raises(ApiError) as info:
        _verify_sdk_tc3(req)
    assert info.value.code == "AuthFailure.SignatureFailure"


def _node_style_authorization(body: bytes, timestamp: int) -> str:
    """TC3 as the Node.js SDK's ``Sign.sign3`` makes it for ``http://127.0.0.1:8000``: the
    hostname without its port in the canonical headers, the scope's service "127"."""
    canonical = "\n".join(
        [
            "POST",
            "/",
            "",
            "content-type:application/json\nhost:127.0.0.1\n",
            "content-type;host",
            hashlib.sha256(body).hexdigest(),
        ]
    )
    date = time.strftime("%Y-%m-%d", time.gmtime(timestamp))
    scope = f"{date}/127/tc3_request"
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    signature = Sign.sign_tc3(
        "s3cret", date, "127", f"TC3-HMAC-SHA256\n{timestamp}\n{scope}\n{digest}"
    )
    return (
        f"TC3-HMAC-SHA256 Credential=AKIDtest/{scope}, SignedHeaders=content-type;host, "
        f"Signature={signature}"
    )


def test_tc3_signed_without_the_port_and_another_service() -> None:
    now = int(time.time())
    body = b'{"Fps": 10}'
    auth = _node_style_authorization(body, now)
    # Our own signer gives the same header for that host and service.
    assert auth == tc3_authorization(
        "AKIDtest", "s3cret", host="127.0.0.1", body=body, timestamp=now, service="127"
    )
    headers = {
        "Content-Type": "application/json",
        "Host": HOST,
        "X-TC-Timestamp": str(now),
        "Authorization": auth,
    }
    assert verify_tc3(KEYS, method="POST", path="/", query="", headers=headers, body=body)


def test_host_variants() -> None:
    assert host_variants("127.0.0.1:8000") == ["127.0.0.1:8000", "127.0.0.1"]
    assert host_variants("api.example") == ["api.example"]
    assert host_variants("[::1]:8000") == ["[::1]:8000", "[::1]"]
    assert host_variants("[::1]") == ["[::1]"]
