"""tccli (a dev dependency) runs the scenario: TC3-HMAC-SHA256 over POST, the only mode it
has, against the endpoint written with its scheme (``http://127.0.0.1:PORT``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from stack import Stack

from .http_put import put_curl
from .scenario import Plan, check, run
from .tccli_client import TccliCaller, tccli_version

pytestmark = pytest.mark.e2e


def test_tccli_scenario(compat_stack: Stack, clip: Path, tmp_path: Path) -> None:
    print(f"tccli {tccli_version()}")
    plan = Plan("tccli", compat_stack.host, clip)
    check(run(TccliCaller(tmp_path, compat_stack.endpoint), plan, put_curl), plan)
