"""The official Python SDK (tencentcloud-sdk-python-vod) as a scenario client, configured as
its README shows, with the request method, signature and scheme chosen."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.vod.v20180717 import models, vod_client

from .scenario import SECRET_ID, SECRET_KEY, Plan


class SdkCaller:
    """The SDK as its README configures it, with the endpoint, method and signature chosen."""

    def __init__(self, plan: Plan, method: str, sign_method: str) -> None:
        ca = str(plan.ca) if plan.ca else None
        http = HttpProfile(endpoint=plan.host, reqMethod=method, certification=ca)
        http.scheme = plan.scheme
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
