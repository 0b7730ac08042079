"""tccli, the cloud's command line, as a scenario client: set up as its users do, with
``tccli configure set`` into its own HOME, each call a process whose JSON output is read."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from .scenario import SECRET_ID, SECRET_KEY

# tccli's scripts sit next to the interpreter that runs the tests (the dev dependencies).
TCCLI = str(Path(sys.executable).parent / "tccli")


class TccliCaller:
    """One ``tccli vod <Action>`` per call. tccli has no scheme option: its SDK sends to the
    endpoint as given when it carries a scheme, else it prepends ``https://``, so the endpoint
    is set as ``http://HOST:PORT``."""

    def __init__(self, home: Path, endpoint: str) -> None:
        self.env = {**os.environ, "HOME": str(home)}
        for name in ("TENCENTCLOUD_SECRET_ID", "TENCENTCLOUD_SECRET_KEY", "TENCENTCLOUD_REGION"):
            self.env.pop(name, None)  # only the configuration below
        # The region is required by tccli and sent as X-TC-Region; animgraph ignores it.
        self._tccli(
            "configure", "set", "secretId", SECRET_ID, "secretKey", SECRET_KEY,
            "region", "ap-guangzhou", "output", "json", "vod.endpoint", endpoint,
        )  # fmt: skip

    def _tccli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [TCCLI, *args], env=self.env, capture_output=True, text=True, timeout=120
        )

    def run(self, action: str, params: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        """The finished process of ``tccli vod <action>`` with ``params``."""
        args: list[str] = []
        for name, value in params.items():
            # tccli's parameter syntax: strings as they are, anything else as JSON.
            args += [f"--{name}", value if isinstance(value, str) else json.dumps(value)]
        return self._tccli("vod", action, *args)

    def call(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        done = self.run(action, params)
        assert done.returncode == 0, f"tccli vod {action}: {done.stderr}{done.stdout}"
        answer: dict[str, Any] = json.loads(done.stdout)
        return answer

    def refused(self, action: str, params: dict[str, Any]) -> str:
        done = self.run(action, params)
        assert done.returncode != 0, done.stdout
        # tccli prints the SDK's exception: "[TencentCloudSDKException] code:... message:..."
        found = re.search(r"code:(\S+)", done.stderr)
        assert found, done.stderr
        return found.group(1)


def tccli_version() -> str:
    return subprocess.run([TCCLI, "--version"], capture_output=True, text=True).stdout.strip()
