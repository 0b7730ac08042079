"""Reproducible installs (issue 21, item 7): uv.lock is resolved from pyproject.toml as it is
now, and requirements/ (what make install and the Dockerfile install, hashes checked) is
uv.lock's export, every package pinned to one version with its hashes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def _key(requirement: Requirement, marker: str | None = None) -> tuple[str, ...]:
    return (
        canonicalize_name(requirement.name),
        ",".join(sorted(requirement.extras)),
        str(requirement.specifier),
        marker if marker is not None else str(requirement.marker or ""),
    )


def _locked(entry: dict[str, object]) -> tuple[str, ...]:
    extras = entry.get("extras") or []
    assert isinstance(extras, list)
    return (
        canonicalize_name(str(entry["name"])),
        ",".join(sorted(str(e) for e in extras)),
        str(Requirement(f"x{entry.get('specifier', '')}").specifier),
        str(entry.get("marker", "")),
    )


def test_the_lock_was_made_from_pyproject_as_it_is() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    [me] = [p for p in lock["package"] if p["name"] == "animgraph"]
    wanted = {_key(Requirement(r)) for r in project["project"]["dependencies"]}
    for extra, requirements in project["project"]["optional-dependencies"].items():
        wanted |= {_key(Requirement(r), f"extra == '{extra}'") for r in requirements}
    locked = {_locked(entry) for entry in me["metadata"]["requires-dist"]}
    stale = "uv.lock is older than pyproject.toml's dependencies: run `make lock`"
    assert locked == wanted, stale
    groups = {
        group: {_key(Requirement(r)) for r in requirements}
        for group, requirements in project["dependency-groups"].items()
    }
    locked_groups = {
        group: {_locked(entry) for entry in entries}
        for group, entries in me["metadata"]["requires-dev"].items()
    }
    assert locked_groups == groups, stale


def test_requirements_are_the_locks_export() -> None:
    uv = Path(sys.executable).with_name("uv")
    subprocess.run(
        ["bash", "scripts/lock.sh", "check"],
        cwd=ROOT,
        check=True,
        env={**os.environ, "UV": str(uv)},
    )


def test_every_requirement_is_pinned_with_hashes() -> None:
    for name in ("build", "app", "dev"):
        text = (ROOT / "requirements" / f"{name}.txt").read_text()
        entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2].strip())
        assert entries
        for entry in entries:
            first = entry.splitlines()[0]
            assert re.match(r"^[A-Za-z0-9._-]+(\[[^]]+\])?==[^ ;]+", first), first
            assert "--hash=sha256:" in entry, first
