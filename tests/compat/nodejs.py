"""The Node.js SDK for the tests: installed from npm into tests/.cache (gitignored, refreshed
each session) when Node.js and npm are on PATH, and scenario.mjs run with it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .scenario import Plan, Transcript

HERE = Path(__file__).parent
CACHE = HERE.parent / ".cache" / "nodejs"
PACKAGE = "tencentcloud-sdk-nodejs-vod"
NODE_MIN = 18  # the global fetch the script's PUT uses


def _skip(reason: str) -> None:
    print(f"Node.js SDK tests skipped: {reason}")  # in the log as well as the summary
    pytest.skip(f"Node.js SDK tests skipped: {reason}")


def install() -> Path:
    """The SDK's node_modules folder; skips, saying why, without Node.js or npm."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _skip("node and npm are not both on PATH")
    assert node and npm
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    if int(version.lstrip("v").split(".")[0]) < NODE_MIN:
        _skip(f"node {version} is older than {NODE_MIN} (no global fetch)")
    CACHE.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--prefix", str(CACHE), f"{PACKAGE}@^4"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"npm install {PACKAGE}: {done.stderr}"
    modules = CACHE / "node_modules"
    versions = {
        name: json.loads((modules / name / "package.json").read_text())["version"]
        for name in (PACKAGE, "tencentcloud-sdk-nodejs-common")
    }
    print(f"node {version}, " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    return modules


def run_scenario(
    plan: Plan,
    method: str,
    sign_method: str,
    modules: Path,
    workdir: Path,
    env: dict[str, str] | None = None,
) -> Transcript:
    """scenario.mjs with the SDK configured for ``plan`` and that method and signature."""
    plan_path = workdir / "plan.json"
    plan_path.write_text(json.dumps(plan.wire(method, sign_method)))
    done = subprocess.run(
        ["node", str(HERE / "scenario.mjs"), str(plan_path), str(modules)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )
    assert done.returncode == 0, done.stderr
    transcript: Transcript = json.loads(done.stdout)
    return transcript
