"""The server's signature checks against requests built by the Tencent Cloud Python SDK itself
(its ``_build_req_inter``, ``_format_sign_string``, ``Sign``), against the Node.js SDK's way of
signing TC3, and the unflattening of GET and form parameters."""

from __future__ import annotations

import hashlib
import time
from typing import Any
from urllib.parse import parse_qsl

import pytest
from pydantic import TypeAdapter
from tencentcloud.common import credential
from tencentcloud.common.http.request import RequestInternal
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.common.sign import Sign
from tencentcloud.vod.v20180717 import vod_client

from animgraph.producer.api_request import unflatten
from animgraph.shared.errors import ApiError
from animgraph.shared.models import DescribeMediaInfosRequest, ProcessMediaRequest
from animgraph.shared.signing import TC3_MAX_SKEW_S, host_variants, tc3_authorization, verify_tc3
from animgraph.shared.signing_v1 import v1_signature, v1_string_to_sign, verify_v1

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


# --- the older signature (HmacSHA1, HmacSHA256) ------------------------------------------------


def _form(req: RequestInternal) -> dict[str, str]:
    return dict(parse_qsl(req.data, keep_blank_values=True))


@pytest.mark.parametrize("sign_method", ["HmacSHA1", "HmacSHA256"])
@pytest.mark.parametrize("method", ["POST", "GET"])
def test_v1_as_the_python_sdk_signs_it(sign_method: str, method: str) -> None:
    req = sdk_request(TASK_SET, method=method, sign_method=sign_method)
    params = _form(req)
    assert params["SignatureMethod"] == sign_method
    # Our string to sign and signature are the SDK's own (its _format_sign_string, Sign.sign).
    client = vod_client.VodClient(
        credential.Credential("AKIDtest", "s3cret"),
        "",
        ClientProfile(
            signMethod=sign_method, httpProfile=HttpProfile(endpoint=HOST, reqMethod=method)
        ),
    )
    unsigned = {k: v for k, v in params.items() if k != "Signature"}
    text = v1_string_to_sign(method, HOST, "/", params)
    assert text == client._format_sign_string(unsigned)
    assert v1_signature("s3cret", text, sign_method) == Sign.sign("s3cret", text, sign_method)
    assert params["Signature"] == Sign.sign("s3cret", text, sign_method)
    signed = verify_v1(KEYS, method=method, host=HOST, path="/", params=params)
    assert (signed.secret_id, signed.nonce) == ("AKIDtest", params["Nonce"])
    assert 0 < signed.replay_ttl_s <= 2 * TC3_MAX_SKEW_S + 1


def test_v1_signed_for_the_host_without_its_port() -> None:
    params = {
        "Action": "DescribeAnimatedGraphicsTemplates",
        "Version": "2018-07-17",
        "Nonce": "7",
        "Timestamp": str(int(time.time())),
        "SecretId": "AKIDtest",
        "SignatureMethod": "HmacSHA256",
    }
    text = v1_string_to_sign("GET", "127.0.0.1", "/", params)
    params["Signature"] = Sign.sign("s3cret", text, "HmacSHA256")
    assert verify_v1(KEYS, method="GET", host=HOST, path="/", params=params).nonce == "7"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ("value", "AuthFailure.SignatureFailure"),
        ("key", "AuthFailure.SignatureFailure"),
        ("method", "AuthFailure.SignatureFailure"),
        ("id", "AuthFailure.SecretIdNotFound"),
        ("stale", "AuthFailure.SignatureExpire"),
        ("no-nonce", "MissingParameter"),
        ("no-timestamp", "MissingParameter"),
    ],
)
def test_v1_refusals(change: str, code: str) -> None:
    params = _form(sdk_request(TASK_SET, sign_method="HmacSHA256"))
    keys = {"AKIDtest": "wrong"} if change == "key" else KEYS
    now = time.time() + (3600 if change == "stale" else 0)
    method = "GET" if change == "method" else "POST"
    if change == "value":
        params["TasksPriority"] = "9"
    elif change == "id":
        params["SecretId"] = "AKIDother"
    elif change == "no-nonce":
        del params["Nonce"]
    elif change == "no-timestamp":
        del params["Timestamp"]
    with pytest.raises(ApiError) as info:
        verify_v1(keys, method=method, host=HOST, path="/", params=params, now=now)
    assert info.value.code == code


# --- flattened parameters ----------------------------------------------------------------------


def test_unflatten_undoes_the_sdks_flattening() -> None:
    req = sdk_request(TASK_SET, method="GET")
    params = unflatten(parse_qsl(req.data))
    assert params == {
        "FileId": "f1",
        "MediaProcessTask": {
            "AnimatedGraphicTaskSet": [
                {"Definition": "20000", "StartTimeOffset": "2.5", "EndTimeOffset": "4"},
                {"Definition": "20001"},
            ]
        },
        "TasksPriority": "-3",
    }
    # The action models' lax parsing gives the numbers back.
    model = ProcessMediaRequest.model_validate(params)
    assert model.tasks_priority == -3
    task = model.media_process_task.animated_graphic_task_set[0]
    assert (task.definition, task.start_time_offset, task.end_time_offset) == (20000, 2.5, 4.0)


def test_unflatten_lists_and_booleans() -> None:
    req = sdk_request({"FileIds": ["a", "b"], "Filters": ["basicInfo"]}, method="GET")
    params = unflatten(parse_qsl(req.data))
    assert params == {"FileIds": ["a", "b"], "Filters": ["basicInfo"]}
    assert DescribeMediaInfosRequest.model_validate(params).file_ids == ("a", "b")
    ordered = unflatten([("A.10", "k"), ("A.2", "c"), ("B.x", "True")])
    assert ordered == {"A": ["c", "k"], "B": {"x": "True"}}
    assert TypeAdapter(bool).validate_python(ordered["B"]["x"]) is True


@pytest.mark.parametrize(
    "pairs", [[("A", "1"), ("A.B", "2")], [("A.B", "2"), ("A", "1")], [("A..B", "1")], [("0", "x")]]
)
def test_unflatten_refuses_malformed_names(pairs: list[tuple[str, str]]) -> None:
    with pytest.raises(ApiError) as info:
        unflatten(pairs)
    assert info.value.code == "InvalidParameter"
