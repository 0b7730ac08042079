"""The clients over TLS served by ``animgraph api`` itself, on a stack of its own
(``ANIMGRAPH_API_TLS_CERT_FILE`` and ``_KEY_FILE``) with a certificate from a private CA: the
Python SDK trusts it through ``HttpProfile(certification=...)``, the Node.js SDK through
``NODE_EXTRA_CA_CERTS``. tccli cannot be given a CA (its SDK verifies against certifi's bundle
only), so its scenario is impossible here: the test shows that without a scheme it goes to
https, and refuses this certificate."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from stack import StackFactory, stop_process

from animgraph.shared.redis_server import free_port

from .certs import make_certificates
from .http_put import put_httpx
from .nodejs import run_scenario
from .python_sdk import SdkCaller
from .scenario import SECRET_ID, SECRET_KEY, Plan, check, run
from .tccli_client import TccliCaller

pytestmark = pytest.mark.e2e

TC3 = "TC3-HMAC-SHA256"  # the transport is what this module tests; the signing is elsewhere


@pytest.fixture(scope="module")
def tls_api(
    module_stack_factory: StackFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Plan]:
    """A stack of its own whose ``animgraph api`` serves https; yields the plan's common part
    (host, CA). Its workers get the https address too: they write the outputs' URLs."""
    folder = tmp_path_factory.mktemp("tls")
    ca, cert, key = make_certificates(folder)
    port = free_port()
    stack = module_stack_factory.start(
        "tls",
        env={
            "ANIMGRAPH_API_KEYS": f"{SECRET_ID}:{SECRET_KEY}",
            "ANIMGRAPH_PUBLIC_URL": f"https://127.0.0.1:{port}",
            "ANIMGRAPH_API_TLS_CERT_FILE": str(cert),
            "ANIMGRAPH_API_TLS_KEY_FILE": str(key),
        },
    )
    env = {**os.environ, **stack.env, **stack.worker_env}
    log_path = folder / "api-tls.log"
    # Stack.start_api waits on plain http: this API is started and awaited over https here.
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "animgraph.producer", "api", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    plan = Plan("", f"127.0.0.1:{port}", Path(), scheme="https", ca=ca)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{plan.endpoint}/openapi.json", verify=plan.verify, timeout=2)
                break
            except httpx.TransportError as error:
                assert proc.poll() is None, f"animgraph api exited: {log_path.read_text()}"
                assert time.monotonic() < deadline, f"no https on {port}: {error!r}"
                time.sleep(0.2)
        yield plan
    finally:
        stop_process(proc)


def _plan(tls_api: Plan, tag: str, clip: Path) -> Plan:
    return Plan(tag, tls_api.host, clip, scheme="https", ca=tls_api.ca)


def test_python_sdk_over_tls(tls_api: Plan, clip: Path) -> None:
    plan = _plan(tls_api, "py-tls", clip)
    put = functools.partial(put_httpx, verify=plan.verify)
    check(run(SdkCaller(plan, "POST", TC3), plan, put), plan)


def test_nodejs_sdk_over_tls(node_modules: Path, tls_api: Plan, clip: Path, tmp_path: Path) -> None:
    plan = _plan(tls_api, "node-tls", clip)
    env = {"NODE_EXTRA_CA_CERTS": str(plan.ca)}
    check(run_scenario(plan, "POST", TC3, node_modules, tmp_path, env), plan)


def test_tccli_goes_to_https_and_needs_a_public_certificate(tls_api: Plan, tmp_path: Path) -> None:
    # No scheme in the endpoint: tccli's SDK prepends https://, and verifies with certifi only.
    tccli = TccliCaller(tmp_path, tls_api.host)
    done = tccli.run("DescribeTasks", {})
    assert done.returncode != 0 and "CERTIFICATE_VERIFY_FAILED" in done.stderr, done.stderr
