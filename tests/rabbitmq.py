"""A RabbitMQ for the tests (issue 18, item 4): the broker of ``tests/test_rabbitmq.py``.

Where it comes from, in this order:

1. ``ANIMGRAPH_TEST_AMQP_URL`` when set (any RabbitMQ; ``start`` forces the third way);
2. a RabbitMQ already answering on 127.0.0.1:5672 as guest/guest (a developer's machine);
3. else a ``rabbitmq-server`` node of our own (Debian's package, installed by
   ``scripts/install-test-deps.sh``): its own node name, AMQP, distribution and epmd ports, its
   database, logs and config below the test's tmp folder, no plugins; stopped at the end.

Isolation: the session gets a vhost of its own when ``rabbitmqctl`` can create one on that node
(deleted at the end); else the animgraph queues of the URL's vhost are deleted first. Either
way ``RabbitMQ.reset`` empties the queues before each test, so a test never sees another's
messages (``delete_queues`` only at the start: see ``reset``). Real RabbitMQ only: nothing
here fakes the broker.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import amqp.exceptions
from kombu.connection import Connection

from animgraph.shared.redis_server import free_port
from animgraph.shared.tasknames import QUEUES

__all__ = ["ENV", "RabbitMQ", "RabbitNode", "rabbitmq_for"]

ENV = "ANIMGRAPH_TEST_AMQP_URL"
START = "start"  # ANIMGRAPH_TEST_AMQP_URL=start: always start a node of our own
LOCAL_URL = "amqp://guest:guest@127.0.0.1:5672/"
# Debian's package: the real scripts (/usr/sbin's wrappers switch to the rabbitmq user and
# write to /var/log).
RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")
START_TIMEOUT_S = 120
CTL_TIMEOUT_S = 60


def _with_vhost(url: str, vhost: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + quote(vhost, safe=""), query=""))


def _vhost_of(url: str) -> str:
    path = urlsplit(url).path
    return unquote(path[1:]) if len(path) > 1 else "/"


def _user_of(url: str) -> str:
    return unquote(urlsplit(url).username or "guest")


def _is_loopback(url: str) -> bool:
    return (urlsplit(url).hostname or "") in ("127.0.0.1", "localhost", "::1")


def answers(url: str, timeout_s: float = 3.0) -> bool:
    """A RabbitMQ at ``url`` accepts a login to its vhost."""
    conn = Connection(url, connect_timeout=timeout_s)
    try:
        conn.connect()
        return True
    except (OSError, amqp.exceptions.AMQPError):
        return False
    finally:
        conn.release()


@dataclass
class Ctl:
    """``rabbitmqctl`` for one node (``argv`` includes ``-n node`` when it is ours)."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.argv, *args],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=CTL_TIMEOUT_S,
            check=check,
        )

    def works(self) -> bool:
        try:
            return self.run("list_vhosts", "-q", check=False).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False


def _system_ctl() -> Ctl | None:
    """The machine's own ``rabbitmqctl``, if this user may run it against the local node."""
    found = shutil.which("rabbitmqctl") or (
        "/usr/sbin/rabbitmqctl" if Path("/usr/sbin/rabbitmqctl").exists() else None
    )
    if found is None:
        return None
    ctl = Ctl([found])
    return ctl if ctl.works() else None


@dataclass
class RabbitMQ:
    """The tests' broker: ``url`` for ``ANIMGRAPH_BROKER_URL`` (its vhost included), how it was
    found (``origin``), and ``rabbitmqctl`` for its node when one could be run."""

    url: str
    origin: str
    ctl: Ctl | None = None
    own_vhost: bool = False
    started_in_s: float | None = None  # how long our own node took to start

    @property
    def vhost(self) -> str:
        return _vhost_of(self.url)

    def connection(self) -> Connection:
        return Connection(self.url, connect_timeout=5)

    def reset(self) -> None:
        """Empty the animgraph queues of the vhost (a previous test's messages). They are kept:
        kombu's connection pools remember what they declared, so a producer of this process
        would not declare a deleted queue again, and RabbitMQ drops a message with no queue."""
        with self.connection() as conn:
            for name in QUEUES:
                with contextlib.suppress(amqp.exceptions.NotFound):  # not declared yet
                    conn.channel().queue_purge(name)

    def delete_queues(self) -> None:
        """Delete the animgraph queues of the vhost (before this process declared any: a
        shared vhost may hold them with other arguments, from an older animgraph)."""
        with self.connection() as conn:
            channel = conn.channel()
            for name in QUEUES:
                channel.queue_delete(name)

    def declares_as(self, name: str, *, durable: bool, arguments: Mapping[str, Any]) -> bool:
        """Whether queue ``name`` exists with exactly these properties: RabbitMQ refuses a
        declaration whose ``durable`` or ``x-*`` arguments differ from the queue's (406)."""
        with self.connection() as conn:
            try:
                conn.channel().queue_declare(name, passive=True)
            except amqp.exceptions.NotFound:
                return False
            try:
                conn.channel().queue_declare(
                    name, durable=durable, auto_delete=False, arguments=dict(arguments)
                )
            except amqp.exceptions.PreconditionFailed:
                return False
            return True

    def queues(self) -> dict[str, dict[str, Any]] | None:
        """The vhost's queues as ``rabbitmqctl list_queues`` shows them (None without it):
        ``{name: {"durable": bool, "arguments": {key: value}, "messages": n, ...}}``."""
        if self.ctl is None:
            return None
        out = self.ctl.run(
            "list_queues", "-p", self.vhost, "-q", "--formatter", "json",
            "name", "durable", "arguments", "messages_ready", "messages_unacknowledged",
        ).stdout  # fmt: skip
        found: dict[str, dict[str, Any]] = {}
        for row in json.loads(out or "[]"):
            args = row.get("arguments") or []
            if isinstance(args, list):  # [[key, type, value], ...]
                args = {a[0]: a[-1] for a in args}
            found[row["name"]] = {**row, "arguments": args}
        return found

    def close(self) -> None:
        """Remove what the session left on the broker: its vhost, or the messages in the
        animgraph queues of a vhost it shares."""
        if self.own_vhost and self.ctl is not None:
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                self.ctl.run("delete_vhost", self.vhost, check=False)
        else:
            with contextlib.suppress(OSError, amqp.exceptions.AMQPError):
                self.reset()


def _own_vhost(ctl: Ctl, url: str) -> str | None:
    """A vhost of this session on the node ``ctl`` runs against, open to the URL's user, and
    proved reachable through ``url``'s host (``ctl`` might name another node); else None."""
    vhost = f"animgraph-test-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    try:
        ctl.run("add_vhost", vhost)
        ctl.run("set_permissions", "-p", vhost, _user_of(url), ".*", ".*", ".*")
    except (subprocess.SubprocessError, OSError):
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            ctl.run("delete_vhost", vhost, check=False)
        return None
    mine = _with_vhost(url, vhost)
    if answers(mine):
        return mine
    with contextlib.suppress(subprocess.SubprocessError, OSError):
        ctl.run("delete_vhost", vhost, check=False)
    return None


def _isolated(url: str, origin: str, ctl: Ctl | None) -> RabbitMQ:
    """The session's broker on ``url``'s node: a vhost of its own when ``ctl`` can make one,
    else ``url``'s vhost with the animgraph queues deleted first."""
    if ctl is not None:
        mine = _own_vhost(ctl, url)
        if mine is not None:
            return RabbitMQ(mine, origin, ctl, own_vhost=True)
    broker = RabbitMQ(url, origin, ctl)
    broker.delete_queues()
    return broker


def _wait_port(port: int, proc: subprocess.Popen[bytes], deadline: float, log: Path) -> None:
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        if proc.poll() is not None:
            raise RuntimeError(f"rabbitmq-server exited ({proc.returncode}):\n{_tail(log)}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"rabbitmq-server did not open port {port}:\n{_tail(log)}")
        time.sleep(0.2)


def _tail(path: Path, size: int = 3000) -> str:
    return path.read_text(errors="replace")[-size:] if path.exists() else "(no output)"


class RabbitNode:
    """A ``rabbitmq-server`` node of our own below ``root``: guest/guest on 127.0.0.1 at a free
    port, nothing shared with a RabbitMQ the machine may run (node name, ports, epmd, cookie,
    database, logs, config)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.name = f"animgraph-{os.getpid()}-{uuid.uuid4().hex[:6]}@localhost"
        self.port = free_port()
        self.dist_port = free_port()
        self.epmd_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.output = root / "server.out"

    @staticmethod
    def installed() -> bool:
        return (RABBITMQ_BIN / "rabbitmq-server").exists()

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def env(self) -> dict[str, str]:
        """What the server and ``rabbitmqctl`` share (the cookie is found through HOME)."""
        r = self.root
        return {
            "HOME": str(r / "home"),
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "ERL_EPMD_PORT": str(self.epmd_port),
            "RABBITMQ_CONF_ENV_FILE": str(r / "rabbitmq-env.conf"),  # not /etc/rabbitmq's
            "RABBITMQ_CONFIG_FILE": str(r / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(r / "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(r / "enabled_plugins"),
            "RABBITMQ_ENABLED_PLUGINS": "",
            "RABBITMQ_PLUGINS_EXPAND_DIR": str(r / "plugins-expand"),
            "RABBITMQ_MNESIA_BASE": str(r / "mnesia"),
            "RABBITMQ_LOG_BASE": str(r / "log"),
            "RABBITMQ_PID_FILE": str(r / "rabbitmq.pid"),
        }

    def ctl(self) -> Ctl:
        return Ctl([str(RABBITMQ_BIN / "rabbitmqctl"), "-n", self.name], self.env())

    def start(self) -> RabbitNode:
        if not self.installed():
            raise RuntimeError(
                "no RabbitMQ on 127.0.0.1:5672 and rabbitmq-server is not installed: run "
                "`make deps` (scripts/install-test-deps.sh), or set ANIMGRAPH_TEST_AMQP_URL"
            )
        r = self.root
        for sub in ("home", "mnesia", "log"):
            (r / sub).mkdir(parents=True, exist_ok=True)
        (r / "rabbitmq-env.conf").write_text("")
        (r / "enabled_plugins").write_text("[].\n")
        # The defaults a production node has (heartbeat 60 s, consumer_timeout 30 min): the
        # tests see what users get. Only the disk alarm is lowered for a small tmp disk.
        (r / "rabbitmq.conf").write_text("disk_free_limit.absolute = 10MB\n")
        deadline = time.monotonic() + START_TIMEOUT_S
        with open(self.output, "wb") as out:
            self.proc = subprocess.Popen(
                [str(RABBITMQ_BIN / "rabbitmq-server")],
                env={**os.environ, **self.env()},
                cwd=r,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            _wait_port(self.port, self.proc, deadline, self.output)
            ctl = self.ctl()
            ctl.run("await_startup", "--timeout", str(max(1, int(deadline - time.monotonic()))))
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the node (rabbitmqctl stop, else SIGTERM/SIGKILL of its process group) and the
        epmd it started on its private port."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                self.ctl().run("stop", check=False)
            for sig, wait_s in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 10.0)):
                try:
                    proc.wait(wait_s)
                    break
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, sig)
        epmd = shutil.which("epmd") or "/usr/lib/erlang/bin/epmd"
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(
                [epmd, "-port", str(self.epmd_port), "-kill"],
                env={**os.environ, "ERL_EPMD_PORT": str(self.epmd_port)},
                capture_output=True,
                timeout=10,
                check=False,
            )


@contextmanager
def rabbitmq_for(root: Path, environ: Mapping[str, str] = os.environ) -> Iterator[RabbitMQ]:
    """The session's RabbitMQ (see the module's docstring), cleaned up on exit."""
    wanted = environ.get(ENV, "").strip()
    node: RabbitNode | None = None
    if wanted and wanted != START:
        if not answers(wanted):
            raise RuntimeError(f"{ENV}={wanted!r}: no RabbitMQ accepts a login there")
        broker = _isolated(wanted, ENV, _system_ctl() if _is_loopback(wanted) else None)
    elif wanted != START and answers(LOCAL_URL):
        broker = _isolated(LOCAL_URL, "127.0.0.1:5672", _system_ctl())
    else:
        t0 = time.monotonic()
        node = RabbitNode(root).start()
        broker = _isolated(node.url, "started", node.ctl())
        broker.started_in_s = time.monotonic() - t0
    try:
        yield broker
    finally:
        try:
            broker.close()
        finally:
            if node is not None:
                node.stop()
