"""TC3-HMAC-SHA256 and client-upload signatures: round trips and every refusal."""

from __future__ import annotations

import time

import pytest

from animgraph.shared.errors import ApiError
from animgraph.shared.signing import (
    client_upload_signature,
    parse_api_keys,
    tc3_authorization,
    verify_tc3,
    verify_upload_signature,
)

KEYS = {"AKIDtest": "s3cret"}
HOST = "127.0.0.1:8000"


def _headers(auth: str, timestamp: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "Host": HOST,
        "X-TC-Timestamp": str(timestamp),
        "Authorization": auth,
    }


def _verify(headers: dict[str, str], body: bytes, now: float | None = None) -> str:
    return verify_tc3(KEYS, method="POST", path="/", query="", headers=headers, body=body, now=now)


def test_tc3_round_trip() -> None:
    now = int(time.time())
    body = b'{"Fps": 10}'
    auth = tc3_authorization("AKIDtest", "s3cret", host=HOST, body=body, timestamp=now)
    assert _verify(_headers(auth, now), body) == "AKIDtest"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ("body", "AuthFailure.SignatureFailure"),
        ("key", "AuthFailure.SignatureFailure"),
        ("id", "AuthFailure.SecretIdNotFound"),
        ("stale", "AuthFailure.SignatureExpire"),
        ("host", "AuthFailure.SignatureFailure"),
        ("garbage", "AuthFailure.InvalidAuthorization"),
        ("none", "AuthFailure.InvalidAuthorization"),
    ],
)
def test_tc3_refusals(change: str, code: str) -> None:
    now = int(time.time())
    stamp = now - 3600 if change == "stale" else now
    body = b'{"Fps": 10}'
    secret_id = "AKIDother" if change == "id" else "AKIDtest"
    secret_key = "wrong" if change == "key" else "s3cret"
    auth = tc3_authorization(secret_id, secret_key, host=HOST, body=body, timestamp=stamp)
    headers = _headers(auth, stamp)
    if change == "body":
        body = b'{"Fps": 11}'
    elif change == "host":
        headers["Host"] = "evil.example:8000"
    elif change == "garbage":
        headers["Authorization"] = "Basic abc"
    elif change == "none":
        del headers["Authorization"]
    with pytest.raises(ApiError) as info:
        _verify(headers, body)
    assert info.value.code == code


def test_api_keys_parse() -> None:
    assert parse_api_keys("a:b, c:d:e") == {"a": "b", "c": "d:e"}
    assert parse_api_keys("") == {}
    with pytest.raises(ValueError):
        parse_api_keys("nocolon")


def _signature(**overrides: str | int) -> str:
    now = int(time.time())
    params: dict[str, str | int] = {
        "currentTimeStamp": now,
        "expireTime": now + 600,
        "random": 42,
        "procedure": "flow",
        "oneTimeValid": 1,
    }
    params.update(overrides)
    secret = str(params.pop("secret", "s3cret"))
    return client_upload_signature("AKIDtest", secret, **params)


def test_upload_signature_round_trip() -> None:
    grant = verify_upload_signature(KEYS, _signature(sessionContext="ctx", taskPriority=5))
    assert (grant.procedure, grant.one_time, grant.session_context, grant.task_priority) == (
        "flow", True, "ctx", 5,
    )  # fmt: skip
    assert len(grant.digest) == 40


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"expireTime": int(time.time()) - 1}, "AuthFailure.SignatureExpire"),
        ({"expireTime": int(time.time()) + 91 * 24 * 3600}, "AuthFailure.SignatureFailure"),
        ({"secret": "wrong"}, "AuthFailure.SignatureFailure"),
        ({"currentTimeStamp": "soon"}, "AuthFailure.SignatureFailure"),
    ],
)
def test_upload_signature_refusals(overrides: dict[str, str | int], code: str) -> None:
    with pytest.raises(ApiError) as info:
        verify_upload_signature(KEYS, _signature(**overrides))
    assert info.value.code == code


def test_tampered_upload_signature() -> None:
    import base64

    raw = base64.b64decode(_signature())
    tampered = base64.b64encode(raw.replace(b"procedure=flow", b"procedure=flaw")).decode()
    with pytest.raises(ApiError) as info:
        verify_upload_signature(KEYS, tampered)
    assert info.value.code == "AuthFailure.SignatureFailure"
    with pytest.raises(ApiError):
        verify_upload_signature(KEYS, "not base64!!")
