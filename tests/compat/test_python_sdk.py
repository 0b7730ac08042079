"""The official Python SDK (tencentcloud-sdk-python-vod) in each request method and signing
mode it offers: POST and GET, TC3-HMAC-SHA256 (the default), HmacSHA256 and HmacSHA1."""

from __future__ import annotations

from pathlib import Path

import pytest
from stack import Stack

from .http_put import put_httpx
from .python_sdk import SdkCaller
from .scenario import METHODS, SIGN_METHODS, Plan, check, run

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("sign_method", list(SIGN_METHODS))
@pytest.mark.parametrize("method", METHODS)
def test_python_sdk_scenario(
    compat_stack: Stack, clip: Path, method: str, sign_method: str
) -> None:
    plan = Plan.for_mode("py", method, sign_method, compat_stack.host, clip)
    check(run(SdkCaller(plan, method, sign_method), plan, put_httpx), plan)
