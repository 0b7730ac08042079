"""The API's readiness: Redis answers and the storage takes a write (``GET /readyz``).

``GET /healthz`` needs nothing (the process serves). Each check runs with a deadline, so a
storage or Redis that hangs makes ``/readyz`` answer 503 in about ``timeout_s``, not when
the backend's own retries give up.
"""

from __future__ import annotations

import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path

from animgraph.shared.state.monitor import Monitor
from animgraph.shared.storage import Storage

__all__ = ["Check", "Readiness"]


@dataclass(frozen=True)
class Check:
    """One readiness check: its name, whether it passed, and what it found."""

    name: str
    ok: bool
    detail: str


class Readiness:
    """The checks of ``/readyz``: Redis (the state and a Redis broker) and storage."""

    def __init__(self, monitor: Monitor, storage: Storage, *, timeout_s: float = 3.0) -> None:
        self._monitor = monitor
        self._storage = storage
        self.timeout_s = timeout_s
        # Checks that hang keep their thread: a few workers bound how many pile up.
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="animgraph-readyz")

    def check(self) -> list[Check]:
        """Every check, run at once, each given ``timeout_s``."""
        futures = {
            "redis": self._pool.submit(self._redis),
            "storage": self._pool.submit(self._storage_write),
        }
        found = []
        for name, future in futures.items():
            try:
                found.append(Check(name, True, future.result(timeout=self.timeout_s)))
            except FutureTimeout:
                found.append(Check(name, False, f"no answer in {self.timeout_s:g} s"))
            except Exception as exc:
                found.append(Check(name, False, f"{type(exc).__name__}: {exc}"))
        return found

    def _redis(self) -> str:
        self._monitor.ping()
        return "answers"

    def _storage_write(self) -> str:
        """Write, find and delete an object of our own below ``health/``."""
        folder = f"health/{uuid.uuid4().hex}"
        with tempfile.TemporaryDirectory(prefix="animgraph-readyz-") as tmp:
            probe = Path(tmp) / "probe"
            probe.write_bytes(b"ok")
            self._storage.put_file(f"{folder}/probe", probe)
        try:
            if not self._storage.exists(f"{folder}/probe"):
                raise RuntimeError("an object written is not found")
        finally:
            self._storage.delete_prefix(folder)
        return "writable"

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
