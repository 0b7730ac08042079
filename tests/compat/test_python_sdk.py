"""The official Python SDK (tencentcloud-sdk-python-vod) in each request method and signing
mode it offers: POST and GET, TC3-HMAC-SHA256 (the default), HmacSHA256 and HmacSHA1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from stack import Stack
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.vod.v20180717 import models, vod_client

from .http_put import put_httpx
from .scenario import METHODS, SECRET_ID, SECRET_KEY, SIGN_METHODS, Plan, check, run

pytestmark = pytest.mark.e2e


class SdkCaller:
    """The SDK as its README configures it, with the endpoint, method and signature chosen."""

    def __init__(self, host: str, method: str, sign_method: str) -> None:
        http = HttpProfile(endpoint=host, reqMethod=method)
        http.scheme = "http"
        profile = ClientProfile(signMethod=sign_method, httpProfile=http)
        self.client = vod_client.VodClient(
            credential.Credential(SECRET_ID, SECRET_KEY), "", profile
        )

    def call(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        request = getattr(models, f"{action}Request")()
        request.from_json_string(json.dumps(params))
        answer: dict[str, Any] = json.loads(getattr(self.client, action)(request).to_json_string())
        return answer

    def refused(self, action: str, params: dict[str, Any]) -> str:
        with pytest.raises(TencentCloudSDKException) as info:
            self.call(action, params)
        assert info.value.requestId  # the API's envelope, not a transport error
        return str(info.value.code)


@pytest.mark.parametrize("sign_method", list(SIGN_METHODS))
@pytest.mark.parametrize("method", METHODS)
def test_python_sdk_scenario(
    compat_stack: Stack, clip: Path, method: str, sign_method: str
) -> None:
    plan = Plan.for_mode("py", method, sign_method, compat_stack.host, clip)
    check(run(SdkCaller(compat_stack.host, method, sign_method), plan, put_httpx), plan)
