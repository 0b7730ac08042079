"""The official Node.js SDK (tencentcloud-sdk-nodejs-vod from npm, see nodejs.py) in each
request method and signature it offers, configured as its README shows."""

from __future__ import annotations

from pathlib import Path

import pytest
from stack import Stack

from .nodejs import run_scenario
from .scenario import METHODS, SIGN_METHODS, Plan, check

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("sign_method", list(SIGN_METHODS))
@pytest.mark.parametrize("method", METHODS)
def test_nodejs_sdk_scenario(
    node_modules: Path,  # first: a skip then starts nothing
    compat_stack: Stack,
    clip: Path,
    tmp_path: Path,
    method: str,
    sign_method: str,
) -> None:
    plan = Plan.for_mode("node", method, sign_method, compat_stack.host, clip)
    check(run_scenario(plan, method, sign_method, node_modules, tmp_path), plan)
