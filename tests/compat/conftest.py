"""The suite's one stack (Redis, a worker, ``animgraph api`` with a key pair), shared by every
client's tests: each client names its template, flow and media after itself."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from stack import Stack, stack_factory_for

from . import nodejs
from .scenario import SECRET_ID, SECRET_KEY


@pytest.fixture(scope="package")
def compat_stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """One stack for the package: starting one per client would cost more than the scenarios."""
    with stack_factory_for(
        tmp_path_factory.mktemp("compat"),
        s3=lambda: request.getfixturevalue("s3_server"),
        failures=lambda: request.session.testsfailed,
    ) as factory:
        yield factory.start(
            "compat", api=True, env={"ANIMGRAPH_API_KEYS": f"{SECRET_ID}:{SECRET_KEY}"}
        )


@pytest.fixture(scope="package")
def clip(corpus_dir: Path) -> Path:
    return corpus_dir / "vtest.avi"


@pytest.fixture(scope="package")
def node_modules() -> Path:
    """The Node.js SDK, installed once for the package (skips without Node.js or npm)."""
    return nodejs.install()
