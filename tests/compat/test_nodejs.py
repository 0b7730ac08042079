"""The official Node.js SDK (tencentcloud-sdk-nodejs-vod from npm), installed by the test when
Node.js and npm are on PATH, in each request method and signature it offers; scenario.mjs
runs the scenario and prints its transcript."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from stack import Stack

from .scenario import METHODS, SIGN_METHODS, Plan, check

pytestmark = pytest.mark.e2e

HERE = Path(__file__).parent
CACHE = HERE.parent / ".cache" / "nodejs"  # gitignored; kept between runs, refreshed each
PACKAGE = "tencentcloud-sdk-nodejs-vod"
NODE_MIN = 18  # global fetch


@pytest.fixture(scope="module")
def node_modules() -> Path:
    """The SDK installed from npm into CACHE; skips, saying why, without Node.js or npm."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        reason = "Node.js SDK tests skipped: node and npm are not both on PATH"
        print(reason)
        pytest.skip(reason)
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    if int(version.lstrip("v").split(".")[0]) < NODE_MIN:
        reason = f"Node.js SDK tests skipped: node {version} has no fetch (needs {NODE_MIN}+)"
        print(reason)
        pytest.skip(reason)
    CACHE.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--prefix", str(CACHE), f"{PACKAGE}@^4"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"npm install {PACKAGE}: {done.stderr}"
    modules = CACHE / "node_modules"
    sdk = json.loads((modules / PACKAGE / "package.json").read_text())["version"]
    common = json.loads((modules / "tencentcloud-sdk-nodejs-common" / "package.json").read_text())
    print(f"node {version}, {PACKAGE} {sdk}, tencentcloud-sdk-nodejs-common {common['version']}")
    return modules


@pytest.mark.parametrize("sign_method", list(SIGN_METHODS))
@pytest.mark.parametrize("method", METHODS)
def test_nodejs_sdk_scenario(
    compat_stack: Stack,
    clip: Path,
    node_modules: Path,
    tmp_path: Path,
    method: str,
    sign_method: str,
) -> None:
    plan = Plan.for_mode("node", method, sign_method, compat_stack.host, clip)
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(json.dumps(plan.wire(method, sign_method)))
    done = subprocess.run(
        ["node", str(HERE / "scenario.mjs"), str(plan_path), str(node_modules)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    check(json.loads(done.stdout), plan)
